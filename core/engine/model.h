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
} s2_weight;

typedef struct s2_layer {
    float *attn_norm;                 /* (D) dequantized copy */
    float *ffn_norm;                  /* (D) */
    float *bq, *bk, *bv;              /* (Q), (KV), (KV): qwen2 biases, else NULL */
    s2_weight wq, wk, wv, wo;         /* (Q, D) (KV, D) (KV, D) (D, Q) */
    s2_weight w_gate, w_up, w_down;   /* (F, D) (F, D) (D, F) */
} s2_layer;

typedef enum s2_rope_kind {
    S2_ROPE_PAIRS = 0,  /* adjacent pairs (2j, 2j+1): llama2.c, GGUF llama */
    S2_ROPE_NEOX = 1    /* halves (j, j + HD/2): qwen2 */
} s2_rope_kind;

struct s2_model {
    s2_hparams hp;
    s2_rope_kind rope;
    s2_vocab *vocab;                  /* owned */
    s2_gguf *gguf;                    /* owned; NULL for llama2.c checkpoints */
    void *map;                        /* llama2.c: the mapped .bin */
    size_t map_size;
    s2_weight tok_embd;               /* (V, D) */
    s2_weight output;                 /* (V, D): tok_embd when tied */
    float *output_norm;               /* (D) */
    s2_layer *layers;                 /* (L) */
    float *owned;                     /* one block holding every dequantized norm and bias */
    int64_t n_params, weight_bytes;
};

#endif
