/* model.h: the model's insides, shared by model.c (loading) and forward.c (computing). Not public.
 *
 * Letters in shape comments: D = n_embd, H = n_head, HKV = n_head_kv, HD = head_dim, Q = H * HD (query width),
 * KV = HKV * HD, F = n_ff, V = n_vocab, L = n_layer. A weight is row-major [n_out][n_in] as GGUF stores a 2-D
 * tensor with ne = {n_in, n_out}, so y = W x. */
#ifndef S2_MODEL_H
#define S2_MODEL_H

#include "gguf.h"
#include "sys2.h"

typedef struct s2_weight {
    const void *data;   /* into the map, or model-owned */
    int32_t type;       /* ggml type id */
    int64_t n_in, n_out;
    size_t row_bytes;   /* bytes of one output row */
    const void *packed; /* the same rows in the type's packed layout (s2_pack_rows, model-owned), or NULL */
} s2_weight;

typedef enum s2_rope_kind {
    S2_ROPE_PAIRS = 0,  /* adjacent pairs (2j, 2j+1): llama2.c, GGUF llama */
    S2_ROPE_NEOX = 1    /* halves (j, j + HD/2): qwen2, qwen3, phi3, gemma */
} s2_rope_kind;

typedef enum s2_act {   /* the gated FFN: down(act(gate(x)) * up(x)) */
    S2_ACT_SILU = 0,    /* SwiGLU: llama, qwen, phi3 */
    S2_ACT_GELU_TANH = 1 /* GeGLU with the tanh approximation: gemma */
} s2_act;

/* One row per architecture: what the forward loop does differently, and every metadata key it reads. The loop
 * branches on these fields (never on the name); the loader refuses any "<arch>." key that is not listed and any
 * tensor it did not bind, so nothing that changes the computation is ignored silently (issue 11). */
typedef struct s2_arch {
    const char *name;         /* general.architecture */
    s2_rope_kind rope;
    s2_act act;
    bool qkv_bias;            /* blk.N.attn_{q,k,v}.bias, required */
    bool qk_norm;             /* blk.N.attn_{q,k}_norm (HD): per-head RMSNorm of q and k before RoPE */
    bool post_norms;          /* blk.N.post_attention_norm, post_ffw_norm: RMSNorm of each block's output */
    bool fused_qkv;           /* blk.N.attn_qkv (D -> Q + 2 KV) instead of attn_q/k/v */
    bool fused_gate_up;       /* blk.N.ffn_up (D -> 2F, gate then up) instead of ffn_gate + ffn_up */
    bool embed_scale;         /* embedding rows x sqrt(D) (also with a tied output, whose matrix is unscaled) */
    bool rope_freqs;          /* may carry rope_freqs.weight (HD/2): Llama 3.1/3.2 per-frequency divisors */
    float attn_softcap, final_softcap; /* defaults of the *_logit_softcapping keys when read; 0 = no capping */
    int32_t swa_period;       /* 0: no sliding window; 1: every layer; p > 1: layer l is global when (l+1) % p == 0 */
    float local_rope_base;    /* > 0: sliding-window layers use this base, unscaled (gemma3's 10000: no key) */
    int32_t qpas_n_layer;     /* layer count of the size whose query scale is 1/sqrt(D/H), not 1/sqrt(HD) (27B) */
    const char *const *keys;  /* keys read besides the common ones (without the "<arch>." prefix), NULL-ended */
} s2_arch;

/* The table (arch.c): the row named name, or NULL. */
const s2_arch *s2_arch_find(const char *name);
int32_t s2_arch_count(void);
const s2_arch *s2_arch_at(int32_t i);
/* The keys every architecture reads ("context_length", ...), NULL-ended. */
extern const char *const s2_arch_common_keys[];

typedef struct s2_layer {
    float *attn_norm;                 /* (D) dequantized copy */
    float *ffn_norm;                  /* (D) */
    float *bq, *bk, *bv;              /* (Q), (KV), (KV): qkv_bias, else NULL */
    float *q_norm, *k_norm;           /* (HD), (HD): qk_norm, else NULL */
    float *post_attn_norm, *post_ffn_norm; /* (D), (D): post_norms, else NULL */
    s2_weight wq, wk, wv, wo;         /* (Q, D) (KV, D) (KV, D) (D, Q); fused_qkv: row ranges of attn_qkv */
    s2_weight w_gate, w_up, w_down;   /* (F, D) (F, D) (D, F); fused_gate_up: halves of ffn_up */
    int32_t rope_set;                 /* which RoPE table: 0 = global, 1 = local (local_rope_base) */
    int32_t window;                   /* sliding window in positions (keys in (pos - window, pos]); 0 = none */
} s2_layer;

/* How one RoPE table turns positions into angles: pos * base^(-2j/HD) / (scale * factors[j]). */
typedef struct s2_rope_set {
    float base, scale;
    const float *factors;             /* (HD/2) rope_freqs, or NULL */
} s2_rope_set;

struct s2_model {
    s2_hparams hp;
    const s2_arch *arch;              /* the row; llama2.c checkpoints use llama's */
    s2_rope_kind rope;
    s2_rope_set rope_sets[2];         /* [0] global layers, [1] sliding-window layers (as [0] unless gemma3) */
    float attn_scale;                 /* multiplies q·k: 1/sqrt(HD), or 1/sqrt(D/H) (qpas_n_layer) */
    float attn_softcap, final_softcap; /* 0 = none */
    float embed_scale;                /* 1, or sqrt(D) */
    float *rope_freqs;                /* (HD/2) owned copy of rope_freqs.weight, or NULL */
    int32_t n_swa;                    /* attention.sliding_window (0 = none); the row says which layers */
    bool *bound;                      /* (tensors of the file) while loading: which ones a binding read */
    s2_vocab *vocab;                  /* owned */
    s2_gguf *gguf;                    /* owned; NULL for llama2.c checkpoints */
    void *map;                        /* llama2.c: the mapped .bin */
    size_t map_size;
    s2_weight tok_embd;               /* (V, D) */
    s2_weight output;                 /* (V, D): tok_embd when tied */
    float *output_norm;               /* (D) */
    s2_layer *layers;                 /* (L) */
    float *owned;                     /* one block holding every dequantized norm and bias */
    void *packed;                     /* one block holding every weight's packed copy (pack_rows), or NULL */
    int64_t n_params, weight_bytes, packed_bytes;
};

#endif
