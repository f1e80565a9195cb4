/* train.h: training small Llama-family models on the CPU: forward and backward over a batch, masked
 * cross-entropy, AdamW with warm-up and cosine decay, global-norm clipping, and checkpoints as GGUF ("llama",
 * F32) that core/model.c loads like any other model.
 *
 * The architecture is exactly the engine's: token embedding E (V, D); per layer
 *   x += Wo . attn(RoPE(Wq h), RoPE(Wk h), Wv h),  h = RMSNorm(x; attn_norm)
 *   x += W_down . (silu(W_gate h) * (W_up h)),      h = RMSNorm(x; ffn_norm)
 * then RMSNorm(x; output_norm) and logits = W_out x, W_out being output.weight or, when tied, E.
 * RoPE rotates adjacent pairs (2j, 2j+1) by pos * base^(-2j/hd) (llama2.c, GGUF "llama"); attention is causal
 * and grouped-query (query head h reads kv head h / (H / H_kv)), scaled by 1/sqrt(hd).
 *
 * Letters in shape comments: B sequences of T positions, N = B*T rows, V vocabulary, D n_embd, H n_head,
 * Hkv n_head_kv, hd = D/H, KV = Hkv*hd, F n_ff, L n_layer.
 *
 * core/ knows nothing of tasks: training text comes through a callback (s2_train_data); cli/cmd_train.c
 * wires a task's gen_example into it. Library code never prints: progress is returned, not shown. */
#ifndef S2_TRAIN_H
#define S2_TRAIN_H

#include "gguf.h"
#include "sys2.h"

/* ---- configuration ---- */

typedef struct s2_train_config {
    int32_t n_vocab;    /* V */
    int32_t n_ctx;      /* longest sequence T (llama.context_length) */
    int32_t n_embd;     /* D */
    int32_t n_layer;    /* L */
    int32_t n_head;     /* H */
    int32_t n_head_kv;  /* Hkv; divides H */
    int32_t n_ff;       /* F */
    float rms_eps;      /* llama.attention.layer_norm_rms_epsilon */
    float rope_base;    /* llama.rope.freq_base */
    bool tied_output;   /* logits use token_embd (no output.weight) */
} s2_train_config;

/* dim 128, 4 layers, 4 heads, 4 kv heads, ff 384, ctx 256, eps 1e-5, base 10000, tied; n_vocab 0 (set it). */
s2_train_config s2_train_default_config(void);
/* S2_E_ARG naming the first bad field (a non-positive size, H not dividing D, odd hd, Hkv not dividing H). */
s2_status s2_train_config_check(const s2_train_config *c, s2_error *err);

/* Every parameter tensor: X(field, GGUF name, per_layer, n_dims, ne0, ne1). ne0 = n_in (fastest), ne1 = n_out
 * (row-major [ne1][ne0]); per-layer tensors are stacked L times in the block. The letters D, KV, F, V, VO (V, or
 * 0 when tied) must be in scope where the table is expanded. A tensor with ne0 * ne1 == 0 is absent. */
#define S2_TRAIN_TENSORS(X)                                  \
    X(token_embd, "token_embd.weight", 0, 2, D, V)           \
    X(attn_norm, "blk.%d.attn_norm.weight", 1, 1, D, 1)      \
    X(wq, "blk.%d.attn_q.weight", 1, 2, D, D)                \
    X(wk, "blk.%d.attn_k.weight", 1, 2, D, KV)               \
    X(wv, "blk.%d.attn_v.weight", 1, 2, D, KV)               \
    X(wo, "blk.%d.attn_output.weight", 1, 2, D, D)           \
    X(ffn_norm, "blk.%d.ffn_norm.weight", 1, 1, D, 1)        \
    X(w_gate, "blk.%d.ffn_gate.weight", 1, 2, D, F)          \
    X(w_up, "blk.%d.ffn_up.weight", 1, 2, D, F)              \
    X(w_down, "blk.%d.ffn_down.weight", 1, 2, F, D)          \
    X(output_norm, "output_norm.weight", 0, 1, D, 1)         \
    X(output, "output.weight", 0, 2, D, VO)

/* Pointers into one block of n_params floats (llm.c layout). */
typedef struct s2_train_tensors {
    float *token_embd;   /* (V, D) */
    float *attn_norm;    /* (L, D) */
    float *wq;           /* (L, D, D) */
    float *wk;           /* (L, KV, D) */
    float *wv;           /* (L, KV, D) */
    float *wo;           /* (L, D, D) */
    float *ffn_norm;     /* (L, D) */
    float *w_gate;       /* (L, F, D) */
    float *w_up;         /* (L, F, D) */
    float *w_down;       /* (L, D, F) */
    float *output_norm;  /* (D) */
    float *output;       /* (V, D), or NULL when tied */
} s2_train_tensors;

/* ---- the model being trained ---- */

typedef struct s2_tmodel_acts s2_tmodel_acts; /* activations, private to train.c */

typedef struct s2_tmodel {
    s2_train_config cfg;
    int64_t n_params;            /* floats in each block below */
    float *params;               /* (n_params) */
    float *grads;                /* (n_params), set by s2_tmodel_backward */
    float *adam_m, *adam_v;      /* (n_params) AdamW moments */
    s2_train_tensors w, g;       /* views of params and grads */
    s2_tmodel_acts *acts;        /* sized by the largest forward so far */
    int32_t B, T;                /* shape of the last forward */
    double loss;                 /* mean masked cross-entropy of the last forward (0 without targets) */
    int64_t n_loss_tokens;       /* masked positions in the last forward */
} s2_tmodel;

/* A model with all parameters zero (use s2_tmodel_init_weights). *out owned by the caller (s2_tmodel_free). */
s2_status s2_tmodel_init(const s2_train_config *cfg, s2_tmodel **out, s2_error *err);
void s2_tmodel_free(s2_tmodel *m); /* NULL is a no-op */
/* Normal(0, 0.02) weights (output projections wo, w_down scaled by 1/sqrt(2L)), norms 1, from seed. */
void s2_tmodel_init_weights(s2_tmodel *m, uint64_t seed);
/* Parameters that take part in matrix products (every 2-D tensor, and E once more as W_out when tied):
 * the P of the FLOP formula. */
int64_t s2_tmodel_matmul_params(const s2_tmodel *m);

/* Forward over B sequences of T tokens (tokens (B, T), row-major; positions 0..T-1 in each row). With targets
 * (B, T) and mask (B, T; nonzero = this position's prediction counts), m->loss is the mean cross-entropy over the
 * masked positions (0 when none). targets and mask may be NULL (logits only). S2_E_ARG for a token or target
 * outside [0, V) or T > n_ctx; S2_E_NOMEM when the activations cannot grow. */
s2_status s2_tmodel_forward(s2_tmodel *m, const int32_t *tokens, const int32_t *targets, const float *mask,
                            int32_t B, int32_t T, s2_error *err);
/* Logits of the last forward, (B, T, V), borrowed until the next forward. */
const float *s2_tmodel_logits(const s2_tmodel *m);
/* Gradients of m->loss with respect to every parameter, into m->grads (overwritten). Needs a forward with
 * targets just before. */
void s2_tmodel_backward(s2_tmodel *m);

/* ---- optimizer ---- */

typedef struct s2_adamw_params {
    float lr;             /* peak learning rate */
    float min_lr_frac;    /* cosine decays to lr * min_lr_frac (default 0.1) */
    int64_t warmup;       /* linear warm-up steps (from lr/warmup to lr) */
    int64_t steps;        /* total steps: the cosine reaches its floor here */
    float beta1, beta2, eps;
    float weight_decay;   /* decoupled; applied to 2-D tensors only (never to norms) */
    float clip;           /* global gradient norm limit; 0 = off */
} s2_adamw_params;
s2_adamw_params s2_adamw_default_params(void); /* lr 1e-3, warm-up 100, 1000 steps, betas 0.9/0.95, eps 1e-8,
                                                  wd 0.1, clip 1 */
/* The learning rate at step (0-based): linear warm-up, then cosine decay to min_lr_frac * lr. */
float s2_lr_at(const s2_adamw_params *p, int64_t step);
/* The global L2 norm of m->grads, summed in double in a fixed order. */
double s2_tmodel_grad_norm(const s2_tmodel *m);
/* One AdamW update at step (0-based; bias correction uses step + 1) with the scheduled rate and clipping.
 * *grad_norm (may be NULL) gets the norm before clipping. */
void s2_tmodel_adamw_step(s2_tmodel *m, const s2_adamw_params *p, int64_t step, double *grad_norm);

/* ---- checkpoints ---- */

/* Writes the model as GGUF (llama, F32) with vocab's tokenizer keys; atomic (temp file + rename). */
s2_status s2_tmodel_save_gguf(const s2_tmodel *m, const s2_vocab *vocab, const char *name, const char *path,
                              s2_error *err);
/* Reads a checkpoint written by s2_tmodel_save_gguf (config from metadata, every tensor checked by name,
 * type F32 and shape). *vocab (may be NULL) gets its vocabulary. */
s2_status s2_tmodel_load_gguf(const char *path, s2_tmodel **out, s2_vocab **vocab, s2_error *err);
/* FNV-1a 64 over the parameter bytes: ties an optimizer state file to the weights it was saved with. */
uint64_t s2_tmodel_params_hash(const s2_tmodel *m);

/* ---- training driver ---- */

/* Where training text comes from: example(user, seed, ...) sets *prompt and *completion (malloc'd, owned by
 * the caller) for the example numbered by seed; the same seed must give the same example. */
typedef struct s2_train_data {
    s2_status (*example)(void *user, uint64_t seed, char **prompt, char **completion, s2_error *err);
    void *user;
} s2_train_data;

typedef struct s2_train_params {
    s2_train_config model;   /* n_vocab is set from the vocabulary */
    s2_adamw_params opt;
    int32_t batch;           /* B sequences per step (default 16) */
    uint64_t seed;           /* weights and the example stream */
    int32_t n_heldout;       /* held-out examples for s2_trainer_heldout_loss (default 64) */
    int32_t n_threads;       /* 0 = leave OpenMP and OpenBLAS as they are */
    const char *out;         /* checkpoint path (FILE.gguf; optimizer state in FILE.gguf.opt) */
    const char *name;        /* general.name (default "sys2-trained") */
    bool resume;             /* continue from out and out.opt */
    const char *init;        /* not resuming: start from this model's weights (same shape and vocabulary) with a
                              * fresh optimizer at step 0, i.e. fine-tune it; NULL = random weights from seed */
} s2_train_params;
s2_train_params s2_train_default_params(void);

typedef struct s2_trainer s2_trainer;

/* Builds the character vocabulary and a fresh model (or init's weights), or (resume) reads out and out.opt: a missing, truncated
 * or corrupt state file, a checksum mismatch, a model or vocabulary that differs from the state's or from
 * params is S2_E_FORMAT / S2_E_ARG naming what differs. data is borrowed for the trainer's lifetime. */
s2_status s2_trainer_init(const s2_train_params *params, const s2_train_data *data, s2_trainer **out,
                          s2_error *err);
void s2_trainer_free(s2_trainer *t); /* NULL is a no-op */

typedef struct s2_train_step_stats {
    int64_t step;            /* the step just taken (1-based count of steps done) */
    double loss;             /* mean masked cross-entropy of the batch */
    double grad_norm;        /* before clipping */
    float lr;
    int32_t T;               /* positions per sequence this batch (the longest example, padded to) */
    int64_t tokens;          /* B * T positions computed */
    int64_t real_tokens;     /* positions holding an example's token (tokens minus padding) */
    int64_t loss_tokens;     /* completion + EOS positions */
    double flops;            /* 6 * P * tokens + 12 * L * D * T * tokens (P: s2_tmodel_matmul_params) */
    int32_t skipped;         /* examples longer than n_ctx + 1 tokens that were redrawn */
} s2_train_step_stats;

/* One optimizer step on a fresh batch. A non-finite loss or gradient is S2_E_INTERRUPTED ("diverged") and
 * leaves the weights as they were. */
s2_status s2_trainer_step(s2_trainer *t, s2_train_step_stats *st, s2_error *err);
/* Mean masked loss over params->n_heldout examples from a seed stream distinct from training's. */
s2_status s2_trainer_heldout_loss(s2_trainer *t, double *loss, s2_error *err);
/* Writes out (GGUF) and out.opt (step, moments, config, weight hash, checksum): both are written in full
 * beside the old pair (out.new, out.opt.tmp), then renamed into place, so a failed save leaves the last pair
 * resumable. Weights that are not all finite are S2_E_INTERRUPTED and leave both files as they were. */
s2_status s2_trainer_save(s2_trainer *t, s2_error *err);
int64_t s2_trainer_steps_done(const s2_trainer *t);
s2_tmodel *s2_trainer_model(s2_trainer *t);      /* borrowed, valid as long as t */
const s2_vocab *s2_trainer_vocab(const s2_trainer *t); /* borrowed, valid as long as t */

/* Greedy completions of n prompts with the trainer's own forward (no KV cache: the whole prefix is recomputed
 * per token, all prompts in one batch). Each prompt is BOS + text; generation stops at EOS or after max_new
 * tokens. outs[i] gets the completion text (malloc'd, EOS not included). */
s2_status s2_tmodel_greedy(s2_tmodel *m, const s2_vocab *vocab, const char *const *prompts, int32_t n,
                           int32_t max_new, char **outs, s2_error *err);

/* Encodes one example for training: BOS + prompt + completion + EOS into ids (cap entries); *n_prompt gets
 * the count of BOS + prompt tokens. Returns the total count, or -(count needed) when cap is too small. */
int32_t s2_train_encode(const s2_vocab *v, const char *prompt, const char *completion, int32_t *ids, int32_t cap,
                        int32_t *n_prompt);

/* ---- kernels (core/train_ops.c), exposed for the tests ---- */

/* Loops over fewer elements than this run on one thread: a parallel region costs more than the work. */
#define S2_TR_PAR_MIN 32768

/* ----
 * Forward kernels overwrite their outputs; backward kernels accumulate (+=) into d-prefixed outputs. */

/* out (N, D) = E[tokens] */
void s2_tr_embed_forward(float *out, const int32_t *tokens, const float *E, int64_t N, int32_t D);
/* dE (V, D) += scatter of dout (N, D) */
void s2_tr_embed_backward(float *dE, const float *dout, const int32_t *tokens, int64_t N, int32_t D);
/* out (N, D) = x * w / sqrt(mean(x^2) + eps); rstd (N) keeps 1/sqrt(...) for the backward */
void s2_tr_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int64_t N, int32_t D, float eps);
/* dx (N, D), dw (D) += from dout (N, D) */
void s2_tr_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, const float *rstd,
                            int64_t N, int32_t D);
/* out (N, n_out) = x (N, n_in) . W^T, W (n_out, n_in) row-major: BLAS and naive */
void s2_tr_matmul_forward(float *out, const float *x, const float *W, int64_t N, int32_t n_in, int32_t n_out);
void s2_tr_matmul_forward_naive(float *out, const float *x, const float *W, int64_t N, int32_t n_in, int32_t n_out);
/* dx (N, n_in) += dout . W; dW (n_out, n_in) += dout^T . x (either may be NULL to skip) */
void s2_tr_matmul_backward(float *dx, float *dW, const float *dout, const float *x, const float *W, int64_t N,
                           int32_t n_in, int32_t n_out);
void s2_tr_matmul_backward_naive(float *dx, float *dW, const float *dout, const float *x, const float *W, int64_t N,
                                 int32_t n_in, int32_t n_out);
/* RoPE table for positions 0..T-1: cs (T, hd/2, 2) = cos, sin of pos * base^(-2j/hd) */
void s2_tr_rope_table(float *cs, int32_t T, int32_t hd, float base);
/* x (B*T, nh*hd) rotated in place, row r at position r % T */
void s2_tr_rope_forward(float *x, const float *cs, int32_t B, int32_t T, int32_t nh, int32_t hd);
/* dx (B*T, nh*hd): the transpose rotation, in place (RoPE is linear and orthogonal) */
void s2_tr_rope_backward(float *dx, const float *cs, int32_t B, int32_t T, int32_t nh, int32_t hd);
/* Causal grouped-query attention. q (B*T, H*hd), k, v (B*T, Hkv*hd); out (B*T, H*hd); att (B, H, T, T) keeps
 * the probabilities (zero above the diagonal). BLAS and naive. */
void s2_tr_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int32_t B,
                             int32_t T, int32_t H, int32_t Hkv, int32_t hd);
void s2_tr_attention_forward_naive(float *out, float *att, const float *q, const float *k, const float *v, int32_t B,
                                   int32_t T, int32_t H, int32_t Hkv, int32_t hd);
/* dq, dk, dv += from dout (B*T, H*hd); scratch holds T*T floats */
void s2_tr_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *att,
                              const float *q, const float *k, const float *v, int32_t B, int32_t T, int32_t H,
                              int32_t Hkv, int32_t hd);
void s2_tr_attention_backward_naive(float *dq, float *dk, float *dv, const float *dout, const float *att,
                                    const float *q, const float *k, const float *v, int32_t B, int32_t T, int32_t H,
                                    int32_t Hkv, int32_t hd);
/* out (n) = silu(gate) * up; sig (n, may be NULL) gets sigmoid(gate) for the backward */
void s2_tr_swiglu_forward(float *out, float *sig, const float *gate, const float *up, int64_t n);
/* dgate, dup (n) += from dout (n); sig (n) from the forward */
void s2_tr_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                           const float *sig, int64_t n);
/* losses (N) = -log softmax(logits)[target] where mask != 0, else 0. Returns the masked count. */
int64_t s2_tr_xent_forward(float *losses, const float *logits, const int32_t *targets, const float *mask, int64_t N,
                           int32_t V);
/* dlogits (N, V) += scale * (softmax(logits) - onehot(target)) on masked rows */
void s2_tr_xent_backward(float *dlogits, const float *logits, const int32_t *targets, const float *mask, float scale,
                         int64_t N, int32_t V);

#endif
