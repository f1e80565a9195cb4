/* train.c: the model being trained (one block of parameters, llm.c layout), its forward and backward over a
 * batch, AdamW, GGUF checkpoints with an optimizer state file beside them, and the training driver that turns
 * text examples (from a caller's callback) into padded batches.
 *
 * Must not: know about tasks (text arrives through s2_train_data), print, or exit. Every reduction runs in a
 * fixed order, so two runs with the same seed and thread count are bit-identical. Shape letters: train.h. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "quant.h"
#include "tokenizer.h"
#include "train.h"

/* ---- configuration ---- */

s2_train_config s2_train_default_config(void) {
    return (s2_train_config){.n_vocab = 0, .n_ctx = 256, .n_embd = 128, .n_layer = 4, .n_head = 4,
                             .n_head_kv = 4, .n_ff = 384, .rms_eps = 1e-5f, .rope_base = 10000.0f,
                             .tied_output = true};
}

s2_status s2_train_config_check(const s2_train_config *c, s2_error *err) {
    const struct { const char *name; int32_t v; int32_t max; } f[] = {
        {"n_vocab", c->n_vocab, 1 << 20}, {"n_ctx", c->n_ctx, 1 << 16},  {"n_embd", c->n_embd, 1 << 14},
        {"n_layer", c->n_layer, 256},     {"n_head", c->n_head, 1024},   {"n_head_kv", c->n_head_kv, 1024},
        {"n_ff", c->n_ff, 1 << 16},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < 1 || f[i].v > f[i].max)
            return s2_error_set(err, S2_E_ARG, "train config: %s=%d not in [1, %d]", f[i].name, f[i].v, f[i].max);
    if (c->n_embd % c->n_head != 0)
        return s2_error_set(err, S2_E_ARG, "train config: n_head=%d does not divide n_embd=%d", c->n_head, c->n_embd);
    if ((c->n_embd / c->n_head) % 2 != 0)
        return s2_error_set(err, S2_E_ARG, "train config: head size %d is odd (RoPE rotates pairs)",
                            c->n_embd / c->n_head);
    if (c->n_head % c->n_head_kv != 0)
        return s2_error_set(err, S2_E_ARG, "train config: n_head_kv=%d does not divide n_head=%d", c->n_head_kv,
                            c->n_head);
    if (!(c->rms_eps > 0.0f) || !(c->rope_base > 1.0f))
        return s2_error_set(err, S2_E_ARG, "train config: rms_eps=%g and rope_base=%g must be > 0 and > 1",
                            (double)c->rms_eps, (double)c->rope_base);
    return S2_OK;
}

/* The letters of S2_TRAIN_TENSORS, from a config. */
#define TENSOR_DIMS(c)                                                                          \
    const int64_t D = (c)->n_embd, KV = (int64_t)(c)->n_head_kv * ((c)->n_embd / (c)->n_head), \
                  F = (c)->n_ff, V = (c)->n_vocab, VO = (c)->tied_output ? 0 : V;               \
    (void)D; (void)KV; (void)F; (void)V; (void)VO

/* Points t's fields into block in table order; returns the floats used. */
static int64_t layout_tensors(const s2_train_config *c, float *block, s2_train_tensors *t) {
    TENSOR_DIMS(c);
    int64_t off = 0;
#define X(field, gname, per_layer, nd, ne0, ne1)                                   \
    {                                                                              \
        int64_t cnt = (int64_t)(ne0) * (ne1) * ((per_layer) ? c->n_layer : 1);     \
        if (t != NULL) t->field = (cnt > 0 && block != NULL) ? block + off : NULL; \
        off += cnt;                                                                \
    }
    S2_TRAIN_TENSORS(X)
#undef X
    return off;
}

/* ---- activations ---- */

/* Every activation buffer: X(field, floats). N rows, BTT = B*T*T, TT = T*T at capacity. */
#define S2_TRAIN_ACTS(X)                                                         \
    X(resid, (L + 1) * N * D) /* (L+1, N, D) residual stream entering layer l */ \
    X(xn1, L * N * D)         /* (L, N, D) attention RMSNorm output */           \
    X(rstd1, L * N)           /* (L, N) */                                       \
    X(q, L * N * D)           /* (L, N, D) queries after RoPE */                 \
    X(k, L * N * KV)          /* (L, N, KV) keys after RoPE */                   \
    X(v, L * N * KV)          /* (L, N, KV) */                                   \
    X(att, L * H * BTT)       /* (L, B, H, T, T) attention probabilities */     \
    X(atty, L * N * D)        /* (L, N, D) attention output before Wo */         \
    X(resid_mid, L * N * D)   /* (L, N, D) residual after attention */           \
    X(xn2, L * N * D)         /* (L, N, D) FFN RMSNorm output */                 \
    X(rstd2, L * N)           /* (L, N) */                                       \
    X(gate, L * N * F)        /* (L, N, F) W_gate h */                           \
    X(up, L * N * F)          /* (L, N, F) W_up h */                             \
    X(hmid, L * N * F)        /* (L, N, F) silu(gate) * up */                    \
    X(sig, L * N * F)         /* (L, N, F) sigmoid(gate) */                      \
    X(xf, N * D)              /* (N, D) final RMSNorm output */                  \
    X(rstdf, N)               /* (N) */                                          \
    X(logits, N * V)          /* (N, V) */                                       \
    X(losses, N)              /* (N) per-position cross-entropy */              \
    X(mask, N)                /* (N) copy of the loss mask */                    \
    X(dres, N * D)            /* (N, D) gradient of the residual stream */       \
    X(dtmp, N * D)            /* (N, D) */                                       \
    X(dxn, N * D)             /* (N, D) */                                       \
    X(dq, N * D)              /* (N, D) */                                       \
    X(dk, N * KV)             /* (N, KV) */                                      \
    X(dv, N * KV)             /* (N, KV) */                                      \
    X(dh, N * F)              /* (N, F) */                                       \
    X(dgate, N * F)           /* (N, F) */                                       \
    X(dup, N * F)             /* (N, F) */                                       \
    X(dlogits, N * V)         /* (N, V) */                                       \
    X(dS, TT)                 /* (T, T) attention backward scratch */            \
    X(rope, TT)               /* (T, hd/2, 2) cos and sin; T*T >= T*hd when T >= hd */

struct s2_tmodel_acts {
    int64_t cap_N, cap_BTT;
    int32_t cap_T;
    int32_t *tokens, *targets;   /* (N) copies */
#define X(field, count) float *field;
    S2_TRAIN_ACTS(X)
#undef X
};

static void acts_free(s2_tmodel_acts *a) {
    if (a == NULL) return;
#define X(field, count) free(a->field);
    S2_TRAIN_ACTS(X)
#undef X
    free(a->tokens);
    free(a->targets);
    free(a);
}

/* Activations for B x T, reusing the current ones when they are big enough. */
static s2_status acts_reserve(s2_tmodel *m, int32_t B, int32_t T, s2_error *err) {
    const s2_train_config *c = &m->cfg;
    int64_t N = (int64_t)B * T, BTT = N * T;
    s2_tmodel_acts *a = m->acts;
    if (a != NULL && N <= a->cap_N && BTT <= a->cap_BTT && T <= a->cap_T) return S2_OK;
    if (a != NULL) { /* grow to cover both the old and the new shape */
        N = N > a->cap_N ? N : a->cap_N;
        BTT = BTT > a->cap_BTT ? BTT : a->cap_BTT;
        T = T > a->cap_T ? T : a->cap_T;
    }
    acts_free(a);
    m->acts = NULL;
    a = calloc(1, sizeof *a);
    if (a == NULL) return s2_error_set(err, S2_E_NOMEM, "train: out of memory for activations");
    const int64_t L = c->n_layer, D = c->n_embd, H = c->n_head, hd = D / H, KV = c->n_head_kv * hd, F = c->n_ff,
                  V = c->n_vocab;
    int64_t TT = (int64_t)T * (T > hd ? T : hd);
    bool ok = true;
#define X(field, count) ok = ok && (a->field = malloc((size_t)(count) * sizeof(float))) != NULL;
    S2_TRAIN_ACTS(X)
#undef X
    ok = ok && (a->tokens = malloc((size_t)N * sizeof(int32_t))) != NULL;
    ok = ok && (a->targets = malloc((size_t)N * sizeof(int32_t))) != NULL;
    if (!ok) {
        acts_free(a);
        return s2_error_set(err, S2_E_NOMEM, "train: out of memory for activations of %lld x %d positions",
                            (long long)B, T);
    }
    a->cap_N = N;
    a->cap_BTT = BTT;
    a->cap_T = T;
    m->acts = a;
    return S2_OK;
}

/* ---- model ---- */

s2_status s2_tmodel_init(const s2_train_config *cfg, s2_tmodel **out, s2_error *err) {
    *out = NULL;
    s2_status st = s2_train_config_check(cfg, err);
    if (st != S2_OK) return st;
    s2_tmodel *m = calloc(1, sizeof *m);
    if (m == NULL) return s2_error_set(err, S2_E_NOMEM, "train: out of memory");
    m->cfg = *cfg;
    m->n_params = layout_tensors(cfg, NULL, NULL);
    size_t bytes = (size_t)m->n_params * sizeof(float);
    m->params = calloc(1, bytes);
    m->grads = calloc(1, bytes);
    m->adam_m = calloc(1, bytes);
    m->adam_v = calloc(1, bytes);
    if (m->params == NULL || m->grads == NULL || m->adam_m == NULL || m->adam_v == NULL) {
        s2_tmodel_free(m);
        return s2_error_set(err, S2_E_NOMEM, "train: out of memory for %lld parameters", (long long)m->n_params);
    }
    layout_tensors(cfg, m->params, &m->w);
    layout_tensors(cfg, m->grads, &m->g);
    *out = m;
    return S2_OK;
}

void s2_tmodel_free(s2_tmodel *m) {
    if (m == NULL) return;
    acts_free(m->acts);
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m);
}

/* splitmix64: a seeded stream for weight init and example seeds, identical on every platform */
static uint64_t mix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rand_normal(uint64_t *s) { /* Box-Muller on two 53-bit uniforms */
    double u1 = ((mix64(s) >> 11) + 1.0) / 9007199254740993.0, u2 = (mix64(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void s2_tmodel_init_weights(s2_tmodel *m, uint64_t seed) {
    const s2_train_config *c = &m->cfg;
    TENSOR_DIMS(c);
    uint64_t s = seed ^ 0x5157a1e5eedULL;
    const double proj = 0.02 / sqrt(2.0 * c->n_layer);
#define X(field, gname, per_layer, nd, ne0, ne1)                                                      \
    {                                                                                                 \
        int64_t cnt = (int64_t)(ne0) * (ne1) * ((per_layer) ? c->n_layer : 1);                        \
        float *p = m->w.field;                                                                        \
        double sd = (strcmp(#field, "wo") == 0 || strcmp(#field, "w_down") == 0) ? proj : 0.02;       \
        for (int64_t i = 0; i < cnt; i++) p[i] = (nd) == 1 ? 1.0f : (float)(sd * rand_normal(&s));     \
    }
    S2_TRAIN_TENSORS(X)
#undef X
}

int64_t s2_tmodel_matmul_params(const s2_tmodel *m) {
    const s2_train_config *c = &m->cfg;
    TENSOR_DIMS(c);
    int64_t p = 0;
#define X(field, gname, per_layer, nd, ne0, ne1) \
    if ((nd) == 2 && strcmp(#field, "token_embd") != 0) p += (int64_t)(ne0) * (ne1) * ((per_layer) ? c->n_layer : 1);
    S2_TRAIN_TENSORS(X)
#undef X
    if (c->tied_output) p += V * D; /* the output product reads E */
    return p;
}

const float *s2_tmodel_logits(const s2_tmodel *m) { return m->acts != NULL ? m->acts->logits : NULL; }

s2_status s2_tmodel_forward(s2_tmodel *m, const int32_t *tokens, const int32_t *targets, const float *mask,
                            int32_t B, int32_t T, s2_error *err) {
    const s2_train_config *c = &m->cfg;
    if (B < 1 || T < 1 || T > c->n_ctx)
        return s2_error_set(err, S2_E_ARG, "train forward: B=%d, T=%d (n_ctx %d)", B, T, c->n_ctx);
    const int64_t N = (int64_t)B * T;
    for (int64_t n = 0; n < N; n++) {
        if (tokens[n] < 0 || tokens[n] >= c->n_vocab)
            return s2_error_set(err, S2_E_ARG, "train forward: token %d at %lld not in [0, %d)", tokens[n],
                                (long long)n, c->n_vocab);
        if (targets != NULL && (targets[n] < 0 || targets[n] >= c->n_vocab))
            return s2_error_set(err, S2_E_ARG, "train forward: target %d at %lld not in [0, %d)", targets[n],
                                (long long)n, c->n_vocab);
    }
    s2_status st = acts_reserve(m, B, T, err);
    if (st != S2_OK) return st;
    s2_tmodel_acts *a = m->acts;
    const int32_t L = c->n_layer, D = c->n_embd, H = c->n_head, Hkv = c->n_head_kv, hd = D / H, KV = Hkv * hd,
                  F = c->n_ff, V = c->n_vocab;
    m->B = B;
    m->T = T;
    memcpy(a->tokens, tokens, (size_t)N * sizeof(int32_t));
    s2_tr_rope_table(a->rope, T, hd, c->rope_base);

    s2_tr_embed_forward(a->resid, tokens, m->w.token_embd, N, D);
    for (int32_t l = 0; l < L; l++) {
        const int64_t nd = N * D, nkv = N * KV, nf = N * F;
        float *x = a->resid + l * nd, *xn1 = a->xn1 + l * nd, *q = a->q + l * nd, *k = a->k + l * nkv,
              *v = a->v + l * nkv, *atty = a->atty + l * nd, *mid = a->resid_mid + l * nd, *xn2 = a->xn2 + l * nd,
              *gate = a->gate + l * nf, *up = a->up + l * nf, *hmid = a->hmid + l * nf, *xo = x + nd;
        s2_tr_rmsnorm_forward(xn1, a->rstd1 + l * N, x, m->w.attn_norm + (int64_t)l * D, N, D, c->rms_eps);
        s2_tr_matmul_forward(q, xn1, m->w.wq + (int64_t)l * D * D, N, D, D);
        s2_tr_matmul_forward(k, xn1, m->w.wk + (int64_t)l * KV * D, N, D, KV);
        s2_tr_matmul_forward(v, xn1, m->w.wv + (int64_t)l * KV * D, N, D, KV);
        s2_tr_rope_forward(q, a->rope, B, T, H, hd);
        s2_tr_rope_forward(k, a->rope, B, T, Hkv, hd);
        s2_tr_attention_forward(atty, a->att + (int64_t)l * H * N * T, q, k, v, B, T, H, Hkv, hd);
        s2_tr_matmul_forward(mid, atty, m->w.wo + (int64_t)l * D * D, N, D, D);
#pragma omp parallel for schedule(static) if (nd >= S2_TR_PAR_MIN)
        for (int64_t i = 0; i < nd; i++) mid[i] += x[i];
        s2_tr_rmsnorm_forward(xn2, a->rstd2 + l * N, mid, m->w.ffn_norm + (int64_t)l * D, N, D, c->rms_eps);
        s2_tr_matmul_forward(gate, xn2, m->w.w_gate + (int64_t)l * F * D, N, D, F);
        s2_tr_matmul_forward(up, xn2, m->w.w_up + (int64_t)l * F * D, N, D, F);
        s2_tr_swiglu_forward(hmid, a->sig + l * nf, gate, up, nf);
        s2_tr_matmul_forward(xo, hmid, m->w.w_down + (int64_t)l * D * F, N, F, D);
#pragma omp parallel for schedule(static) if (nd >= S2_TR_PAR_MIN)
        for (int64_t i = 0; i < nd; i++) xo[i] += mid[i];
    }
    s2_tr_rmsnorm_forward(a->xf, a->rstdf, a->resid + (int64_t)L * N * D, m->w.output_norm, N, D, c->rms_eps);
    const float *wout = c->tied_output ? m->w.token_embd : m->w.output;
    s2_tr_matmul_forward(a->logits, a->xf, wout, N, D, V);

    m->loss = 0.0;
    m->n_loss_tokens = 0;
    if (targets != NULL) {
        memcpy(a->targets, targets, (size_t)N * sizeof(int32_t));
        for (int64_t n = 0; n < N; n++) a->mask[n] = (mask == NULL || mask[n] != 0.0f) ? 1.0f : 0.0f;
        int64_t cnt = s2_tr_xent_forward(a->losses, a->logits, targets, a->mask, N, V);
        double sum = 0.0;
        for (int64_t n = 0; n < N; n++) sum += a->losses[n]; /* in order: deterministic */
        m->n_loss_tokens = cnt;
        m->loss = cnt > 0 ? sum / (double)cnt : 0.0;
    }
    return S2_OK;
}

void s2_tmodel_backward(s2_tmodel *m) {
    const s2_train_config *c = &m->cfg;
    s2_tmodel_acts *a = m->acts;
    S2_ASSERT(a != NULL);
    const int32_t B = m->B, T = m->T, L = c->n_layer, D = c->n_embd, H = c->n_head, Hkv = c->n_head_kv,
                  hd = D / H, KV = Hkv * hd, F = c->n_ff, V = c->n_vocab;
    const int64_t N = (int64_t)B * T, nd = N * D, nkv = N * KV, nf = N * F;
    memset(m->grads, 0, (size_t)m->n_params * sizeof(float));
    if (m->n_loss_tokens == 0) return;

    memset(a->dlogits, 0, (size_t)(N * V) * sizeof(float));
    s2_tr_xent_backward(a->dlogits, a->logits, a->targets, a->mask, 1.0f / (float)m->n_loss_tokens, N, V);
    const float *wout = c->tied_output ? m->w.token_embd : m->w.output;
    float *dwout = c->tied_output ? m->g.token_embd : m->g.output;
    memset(a->dtmp, 0, (size_t)nd * sizeof(float));
    s2_tr_matmul_backward(a->dtmp, dwout, a->dlogits, a->xf, wout, N, D, V);
    memset(a->dres, 0, (size_t)nd * sizeof(float));
    s2_tr_rmsnorm_backward(a->dres, m->g.output_norm, a->dtmp, a->resid + (int64_t)L * nd, m->w.output_norm,
                           a->rstdf, N, D);

    for (int32_t l = L - 1; l >= 0; l--) {
        /* dres holds d loss / d resid[l+1]; the residual connections pass it through unchanged */
        const float *x = a->resid + l * nd, *xn1 = a->xn1 + l * nd, *q = a->q + l * nd, *k = a->k + l * nkv,
                    *v = a->v + l * nkv, *atty = a->atty + l * nd, *mid = a->resid_mid + l * nd,
                    *xn2 = a->xn2 + l * nd, *gate = a->gate + l * nf, *up = a->up + l * nf,
                    *hmid = a->hmid + l * nf;
        /* FFN */
        memset(a->dh, 0, (size_t)nf * sizeof(float));
        s2_tr_matmul_backward(a->dh, m->g.w_down + (int64_t)l * D * F, a->dres, hmid, m->w.w_down + (int64_t)l * D * F,
                              N, F, D);
        memset(a->dgate, 0, (size_t)nf * sizeof(float));
        memset(a->dup, 0, (size_t)nf * sizeof(float));
        s2_tr_swiglu_backward(a->dgate, a->dup, a->dh, gate, up, a->sig + l * nf, nf);
        memset(a->dxn, 0, (size_t)nd * sizeof(float));
        s2_tr_matmul_backward(a->dxn, m->g.w_gate + (int64_t)l * F * D, a->dgate, xn2,
                              m->w.w_gate + (int64_t)l * F * D, N, D, F);
        s2_tr_matmul_backward(a->dxn, m->g.w_up + (int64_t)l * F * D, a->dup, xn2, m->w.w_up + (int64_t)l * F * D,
                              N, D, F);
        s2_tr_rmsnorm_backward(a->dres, m->g.ffn_norm + (int64_t)l * D, a->dxn, mid, m->w.ffn_norm + (int64_t)l * D,
                               a->rstd2 + l * N, N, D);
        /* attention: dres now holds d loss / d resid_mid */
        memset(a->dtmp, 0, (size_t)nd * sizeof(float));
        s2_tr_matmul_backward(a->dtmp, m->g.wo + (int64_t)l * D * D, a->dres, atty, m->w.wo + (int64_t)l * D * D, N, D,
                              D);
        memset(a->dq, 0, (size_t)nd * sizeof(float));
        memset(a->dk, 0, (size_t)nkv * sizeof(float));
        memset(a->dv, 0, (size_t)nkv * sizeof(float));
        s2_tr_attention_backward(a->dq, a->dk, a->dv, a->dS, a->dtmp, a->att + (int64_t)l * H * N * T, q, k, v, B, T,
                                 H, Hkv, hd);
        s2_tr_rope_backward(a->dq, a->rope, B, T, H, hd);
        s2_tr_rope_backward(a->dk, a->rope, B, T, Hkv, hd);
        memset(a->dxn, 0, (size_t)nd * sizeof(float));
        s2_tr_matmul_backward(a->dxn, m->g.wq + (int64_t)l * D * D, a->dq, xn1, m->w.wq + (int64_t)l * D * D, N, D, D);
        s2_tr_matmul_backward(a->dxn, m->g.wk + (int64_t)l * KV * D, a->dk, xn1, m->w.wk + (int64_t)l * KV * D, N, D,
                              KV);
        s2_tr_matmul_backward(a->dxn, m->g.wv + (int64_t)l * KV * D, a->dv, xn1, m->w.wv + (int64_t)l * KV * D, N, D,
                              KV);
        s2_tr_rmsnorm_backward(a->dres, m->g.attn_norm + (int64_t)l * D, a->dxn, x, m->w.attn_norm + (int64_t)l * D,
                               a->rstd1 + l * N, N, D);
    }
    s2_tr_embed_backward(m->g.token_embd, a->dres, a->tokens, N, D);
}

/* ---- optimizer ---- */

s2_adamw_params s2_adamw_default_params(void) {
    return (s2_adamw_params){.lr = 1e-3f, .min_lr_frac = 0.1f, .warmup = 100, .steps = 1000, .beta1 = 0.9f,
                             .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .clip = 1.0f};
}

float s2_lr_at(const s2_adamw_params *p, int64_t step) {
    if (step < p->warmup) return p->lr * (float)(step + 1) / (float)p->warmup;
    double span = (double)(p->steps - p->warmup), prog = span > 0 ? (double)(step - p->warmup) / span : 1.0;
    if (prog > 1.0) prog = 1.0;
    double lo = p->lr * (double)p->min_lr_frac;
    return (float)(lo + 0.5 * (p->lr - lo) * (1.0 + cos(M_PI * prog)));
}

double s2_tmodel_grad_norm(const s2_tmodel *m) {
    /* fixed chunks summed in order: the same result for any thread count */
    enum { CHUNK = 1 << 14 };
    int64_t n = m->n_params, nc = (n + CHUNK - 1) / CHUNK;
    double *part = malloc((size_t)nc * sizeof(double)), total = 0.0;
    if (part == NULL) { /* no memory for the partial sums: one serial pass gives the same kind of answer */
        for (int64_t i = 0; i < n; i++) total += (double)m->grads[i] * m->grads[i];
        return sqrt(total);
    }
#pragma omp parallel for schedule(static) if (n >= S2_TR_PAR_MIN)
    for (int64_t ci = 0; ci < nc; ci++) {
        double s = 0.0;
        int64_t end = (ci + 1) * CHUNK < n ? (ci + 1) * CHUNK : n;
        for (int64_t i = ci * CHUNK; i < end; i++) s += (double)m->grads[i] * m->grads[i];
        part[ci] = s;
    }
    for (int64_t ci = 0; ci < nc; ci++) total += part[ci];
    free(part);
    return sqrt(total);
}

/* AdamW on params[base, base + cnt) with gradients scaled by gscale (clipping) and decay wd. */
static void adamw_range(s2_tmodel *m, int64_t base, int64_t cnt, float gscale, float lr, float wd,
                        const s2_adamw_params *p, float b1c, float b2c) {
    const float b1 = p->beta1, b2 = p->beta2, eps = p->eps;
    float *w = m->params + base, *mm = m->adam_m + base, *vv = m->adam_v + base;
    const float *g = m->grads + base;
#pragma omp parallel for schedule(static) if (cnt >= S2_TR_PAR_MIN)
    for (int64_t i = 0; i < cnt; i++) {
        float gi = g[i] * gscale;
        mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
        vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
        float mh = mm[i] / b1c, vh = vv[i] / b2c;
        w[i] -= lr * (mh / (sqrtf(vh) + eps) + wd * w[i]);
    }
}

void s2_tmodel_adamw_step(s2_tmodel *m, const s2_adamw_params *p, int64_t step, double *grad_norm) {
    const s2_train_config *c = &m->cfg;
    TENSOR_DIMS(c);
    double norm = s2_tmodel_grad_norm(m);
    if (grad_norm != NULL) *grad_norm = norm;
    const float gscale = (p->clip > 0.0f && norm > p->clip) ? (float)(p->clip / norm) : 1.0f;
    const float lr = s2_lr_at(p, step);
    const float b1c = (float)(1.0 - pow(p->beta1, (double)(step + 1)));
    const float b2c = (float)(1.0 - pow(p->beta2, (double)(step + 1)));
    /* decoupled weight decay on matrices only: norms (1-D) keep their scale */
#define X(field, gname, per_layer, nd, ne0, ne1)                                                       \
    if (m->w.field != NULL)                                                                            \
        adamw_range(m, (int64_t)(m->w.field - m->params),                                              \
                    (int64_t)(ne0) * (ne1) * ((per_layer) ? c->n_layer : 1), gscale, lr,               \
                    (nd) == 2 ? p->weight_decay : 0.0f, p, b1c, b2c);
    S2_TRAIN_TENSORS(X)
#undef X
}

/* ---- checkpoints ---- */

uint64_t s2_tmodel_params_hash(const s2_tmodel *m) {
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *p = (const unsigned char *)m->params;
    for (size_t i = 0; i < (size_t)m->n_params * sizeof(float); i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* The GGUF name of layer l's tensor (gname has a %d for per-layer tensors, none otherwise). */
static void tensor_name(char *buf, size_t cap, const char *gname, int32_t l) {
    if (strstr(gname, "%d") != NULL) snprintf(buf, cap, gname, l);
    else snprintf(buf, cap, "%s", gname);
}

s2_status s2_tmodel_save_gguf(const s2_tmodel *m, const s2_vocab *vocab, const char *name, const char *path,
                              s2_error *err) {
    const s2_train_config *c = &m->cfg;
    TENSOR_DIMS(c);
    s2_gguf_writer *w = NULL;
    s2_status st = s2_gguf_writer_init(&w, err);
    if (st != S2_OK) return st;
    const int32_t hd = c->n_embd / c->n_head;
    st = s2_gguf_set_str(w, "general.architecture", "llama");
    if (st == S2_OK) st = s2_gguf_set_str(w, "general.name", name != NULL ? name : "sys2-trained");
    if (st == S2_OK) st = s2_gguf_set_u32(w, "general.file_type", 0);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "llama.context_length", (uint32_t)c->n_ctx);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "llama.embedding_length", (uint32_t)c->n_embd);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "llama.block_count", (uint32_t)c->n_layer);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)c->n_ff);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_head);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_head_kv);
    if (st == S2_OK) st = s2_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->rms_eps);
    if (st == S2_OK) st = s2_gguf_set_f32(w, "llama.rope.freq_base", c->rope_base);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)hd);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "llama.vocab_size", (uint32_t)c->n_vocab);
    if (st != S2_OK) {
        s2_gguf_writer_free(w);
        return s2_error_set(err, st, "%s: cannot set metadata (%s)", path, s2_status_str(st));
    }
    if (vocab != NULL) st = s2_vocab_write_gguf(vocab, w, err);
    char tname[96];
#define X(field, gname, per_layer, nd, ne0, ne1)                                                        \
    for (int32_t l = 0; st == S2_OK && (int64_t)(ne0) * (ne1) > 0 && l < ((per_layer) ? c->n_layer : 1); \
         l++) {                                                                                         \
        int64_t ne[2] = {(ne0), (ne1)};                                                                 \
        tensor_name(tname, sizeof tname, gname, l);                                                        \
        st = s2_gguf_add_tensor(w, tname, S2_TYPE_F32, (nd), ne, m->w.field + (int64_t)l * ne[0] * ne[1], err); \
    }
    S2_TRAIN_TENSORS(X)
#undef X
    if (st == S2_OK) st = s2_gguf_write(w, path, err);
    s2_gguf_writer_free(w);
    return st;
}

static s2_status get_i32(const s2_gguf *g, const char *key, int32_t *out, s2_error *err) {
    int64_t v;
    s2_status st = s2_gguf_get_int(g, key, &v, err);
    if (st != S2_OK) return st;
    if (v < 1 || v > INT32_MAX) return s2_error_set(err, S2_E_FORMAT, "key %s: %lld out of range", key, (long long)v);
    *out = (int32_t)v;
    return S2_OK;
}

s2_status s2_tmodel_load_gguf(const char *path, s2_tmodel **out, s2_vocab **vocab, s2_error *err) {
    *out = NULL;
    if (vocab != NULL) *vocab = NULL;
    s2_gguf *g = NULL;
    s2_status st = s2_gguf_open(path, &g, err);
    if (st != S2_OK) return st;
    s2_train_config c = s2_train_default_config();
    const char *arch = NULL;
    double eps = 0, base = 0;
    st = s2_gguf_get_str(g, "general.architecture", &arch, err);
    if (st == S2_OK && strcmp(arch, "llama") != 0)
        st = s2_error_set(err, S2_E_UNSUPPORTED, "architecture '%s' (the trainer writes llama)", arch);
    if (st == S2_OK) st = get_i32(g, "llama.context_length", &c.n_ctx, err);
    if (st == S2_OK) st = get_i32(g, "llama.embedding_length", &c.n_embd, err);
    if (st == S2_OK) st = get_i32(g, "llama.block_count", &c.n_layer, err);
    if (st == S2_OK) st = get_i32(g, "llama.feed_forward_length", &c.n_ff, err);
    if (st == S2_OK) st = get_i32(g, "llama.attention.head_count", &c.n_head, err);
    if (st == S2_OK) st = get_i32(g, "llama.attention.head_count_kv", &c.n_head_kv, err);
    if (st == S2_OK) st = s2_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &eps, err);
    if (st == S2_OK) st = s2_gguf_get_float_or(g, "llama.rope.freq_base", 10000.0, &base, err);
    if (st == S2_OK) st = get_i32(g, "llama.vocab_size", &c.n_vocab, err);
    c.rms_eps = (float)eps;
    c.rope_base = (float)base;
    c.tied_output = s2_gguf_find_tensor(g, "output.weight") == NULL;
    s2_tmodel *m = NULL;
    if (st == S2_OK) st = s2_tmodel_init(&c, &m, err);
    if (st == S2_OK) {
        TENSOR_DIMS(&c);
        char tname[96];
#define X(field, gname, per_layer, nd, ne0, ne1)                                                                \
    for (int32_t l = 0; st == S2_OK && (int64_t)(ne0) * (ne1) > 0 && l < ((per_layer) ? c.n_layer : 1); l++) { \
        tensor_name(tname, sizeof tname, gname, l);                                                                \
        const s2_gguf_tensor *t = s2_gguf_find_tensor(g, tname);                                                \
        int64_t e0 = (ne0), e1 = (ne1);                                                                         \
        if (t == NULL)                                                                                          \
            st = s2_error_set(err, S2_E_FORMAT, "%s: missing tensor %s", path, tname);                          \
        else if (t->type != S2_TYPE_F32 || t->ne[0] != e0 || t->ne[1] != e1 || t->ne[2] != 1 || t->ne[3] != 1)  \
            st = s2_error_set(err, S2_E_FORMAT,                                                                 \
                              "%s: tensor %s is %s [%lld, %lld], expected f32 [%lld, %lld]", path, tname,       \
                              s2_type_name(t->type) ? s2_type_name(t->type) : "?", (long long)t->ne[0],        \
                              (long long)t->ne[1], (long long)e0, (long long)e1);                               \
        else                                                                                                    \
            memcpy(m->w.field + (int64_t)l * e0 * e1, t->data, (size_t)(e0 * e1) * sizeof(float));             \
    }
        S2_TRAIN_TENSORS(X)
#undef X
    }
    if (st == S2_OK && vocab != NULL) st = s2_vocab_from_gguf(g, vocab, err);
    s2_gguf_free(g);
    if (st != S2_OK) {
        s2_tmodel_free(m);
        return st;
    }
    *out = m;
    return S2_OK;
}

/* ---- optimizer state file ----
 * FILE.gguf.opt, little-endian as the machine writes it:
 *   "S2TRNOPT" u32 version=1 | config: i32 x7 (vocab ctx embd layer head head_kv ff), f32 eps, f32 base,
 *   u32 tied | i64 step | u64 seed | u64 data_cursor | i64 n_params | u64 params_hash |
 *   f32 adam_m[n_params] | f32 adam_v[n_params] | u64 FNV-1a of every byte before it */

#define OPT_MAGIC "S2TRNOPT"
#define OPT_VERSION 1u

typedef struct opt_header {
    char magic[8];
    uint32_t version;
    int32_t cfg_i[7];
    float eps, base;
    uint32_t tied;
    int64_t step;
    uint64_t seed, cursor;
    int64_t n_params;
    uint64_t params_hash;
} opt_header;

static uint64_t fnv_update(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void cfg_to_header(const s2_train_config *c, opt_header *h) {
    int32_t v[7] = {c->n_vocab, c->n_ctx, c->n_embd, c->n_layer, c->n_head, c->n_head_kv, c->n_ff};
    memcpy(h->cfg_i, v, sizeof v);
    h->eps = c->rms_eps;
    h->base = c->rope_base;
    h->tied = c->tied_output;
}

/* Writes the state to path itself (the caller renames it into place). */
static s2_status opt_write(const s2_tmodel *m, int64_t step, uint64_t seed, const char *path, s2_error *err) {
    opt_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, OPT_MAGIC, 8);
    h.version = OPT_VERSION;
    cfg_to_header(&m->cfg, &h);
    h.step = step;
    h.seed = seed;
    h.cursor = (uint64_t)step; /* the example stream is a pure function of (seed, step): see example_seed */
    h.n_params = m->n_params;
    h.params_hash = s2_tmodel_params_hash(m);
    size_t nb = (size_t)m->n_params * sizeof(float);
    uint64_t sum = 0xcbf29ce484222325ULL;
    sum = fnv_update(sum, &h, sizeof h);
    sum = fnv_update(sum, m->adam_m, nb);
    sum = fnv_update(sum, m->adam_v, nb);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
    bool ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(m->adam_m, 1, nb, f) == nb &&
              fwrite(m->adam_v, 1, nb, f) == nb && fwrite(&sum, sizeof sum, 1, f) == 1 && fflush(f) == 0 &&
              fsync(fileno(f)) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        unlink(path);
        return s2_error_set(err, S2_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    return S2_OK;
}

/* Reads path into m's moments after checking it against m (config, weights hash). */
static s2_status opt_read(s2_tmodel *m, const char *path, int64_t *step, uint64_t *seed, s2_error *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return s2_error_set(err, S2_E_IO, "%s: %s (optimizer state needed by --resume)", path,
                                       strerror(errno));
    opt_header h;
    size_t nb = (size_t)m->n_params * sizeof(float);
    s2_status st = S2_OK;
    if (fread(&h, sizeof h, 1, f) != 1) st = s2_error_set(err, S2_E_FORMAT, "%s: truncated header", path);
    else if (memcmp(h.magic, OPT_MAGIC, 8) != 0) st = s2_error_set(err, S2_E_FORMAT, "%s: bad magic", path);
    else if (h.version != OPT_VERSION)
        st = s2_error_set(err, S2_E_FORMAT, "%s: version %u (expected %u)", path, h.version, OPT_VERSION);
    if (st == S2_OK) {
        opt_header want;
        memset(&want, 0, sizeof want);
        cfg_to_header(&m->cfg, &want);
        if (memcmp(h.cfg_i, want.cfg_i, sizeof want.cfg_i) != 0 || h.eps != want.eps || h.base != want.base ||
            h.tied != want.tied || h.n_params != m->n_params)
            st = s2_error_set(err, S2_E_FORMAT, "%s: model mismatch: state for %lld parameters (vocab %d, dim %d, "
                              "%d layers), checkpoint has %lld (vocab %d, dim %d, %d layers)", path,
                              (long long)h.n_params, h.cfg_i[0], h.cfg_i[2], h.cfg_i[3], (long long)m->n_params,
                              m->cfg.n_vocab, m->cfg.n_embd, m->cfg.n_layer);
        else if (h.params_hash != s2_tmodel_params_hash(m))
            st = s2_error_set(err, S2_E_FORMAT, "%s: model mismatch: the state was saved with other weights than "
                              "the checkpoint's", path);
        else if (h.step < 0)
            st = s2_error_set(err, S2_E_FORMAT, "%s: negative step %lld", path, (long long)h.step);
    }
    float *mm = NULL, *vv = NULL;
    if (st == S2_OK) {
        mm = malloc(nb);
        vv = malloc(nb);
        if (mm == NULL || vv == NULL) st = s2_error_set(err, S2_E_NOMEM, "%s: out of memory", path);
    }
    uint64_t sum = 0, want_sum = 0xcbf29ce484222325ULL;
    if (st == S2_OK && (fread(mm, 1, nb, f) != nb || fread(vv, 1, nb, f) != nb || fread(&sum, sizeof sum, 1, f) != 1))
        st = s2_error_set(err, S2_E_FORMAT, "%s: truncated (expected %zu bytes)", path,
                          sizeof h + 2 * nb + sizeof sum);
    if (st == S2_OK && fgetc(f) != EOF) st = s2_error_set(err, S2_E_FORMAT, "%s: trailing bytes", path);
    if (st == S2_OK) {
        want_sum = fnv_update(want_sum, &h, sizeof h);
        want_sum = fnv_update(want_sum, mm, nb);
        want_sum = fnv_update(want_sum, vv, nb);
        if (sum != want_sum) st = s2_error_set(err, S2_E_FORMAT, "%s: checksum mismatch (corrupt file)", path);
    }
    fclose(f);
    if (st == S2_OK) {
        memcpy(m->adam_m, mm, nb);
        memcpy(m->adam_v, vv, nb);
        *step = h.step;
        *seed = h.seed;
    }
    free(mm);
    free(vv);
    return st;
}

/* ---- data ---- */

int32_t s2_train_encode(const s2_vocab *v, const char *prompt, const char *completion, int32_t *ids, int32_t cap,
                        int32_t *n_prompt) {
    int32_t bos = s2_vocab_bos(v), eos = s2_vocab_eos(v), n = 0;
    if (bos >= 0) {
        if (n < cap) ids[n] = bos;
        n++;
    }
    int32_t k = s2_tokenize(v, prompt, strlen(prompt), false, false, ids + (n < cap ? n : cap),
                            n < cap ? cap - n : 0);
    n += k < 0 ? -k : k;
    if (n_prompt != NULL) *n_prompt = n;
    k = s2_tokenize(v, completion, strlen(completion), false, false, ids + (n < cap ? n : cap), n < cap ? cap - n : 0);
    n += k < 0 ? -k : k;
    if (eos >= 0) {
        if (n < cap) ids[n] = eos;
        n++;
    }
    return n <= cap ? n : -n;
}

struct s2_trainer {
    s2_train_params p;
    char *out, *opt_path, *name;
    s2_train_data data;
    s2_vocab *vocab;
    s2_tmodel *m;
    int64_t step;
    int32_t *ids;       /* (B, n_ctx + 1) encoded examples */
    int32_t *lens;      /* (B) their lengths */
    int32_t *np;        /* (B) BOS + prompt lengths */
    int32_t *tokens, *targets; /* (B, n_ctx) */
    float *mask;        /* (B, n_ctx) */
};

enum { STREAM_TRAIN = 1, STREAM_HELDOUT = 2, MAX_REDRAWS = 64 };

/* The seed of example (stream, index, attempt): a hash, so any example can be drawn again without a cursor. */
static uint64_t example_seed(uint64_t seed, uint64_t stream, uint64_t index, uint64_t attempt) {
    uint64_t s = seed;
    uint64_t h = mix64(&s);
    s = h ^ (stream * 0xd1b54a32d192ed03ULL);
    h = mix64(&s);
    s = h ^ index;
    h = mix64(&s);
    s = h ^ (attempt * 0x8cb92ba72f3d8dd7ULL);
    return mix64(&s);
}

/* Fills rows 0..B-1 of the batch buffers with examples first_index.. of stream; *T gets the padded length. */
static s2_status build_batch(s2_trainer *t, uint64_t stream, uint64_t first_index, int32_t B, int32_t *T_out,
                             int32_t *skipped, s2_error *err) {
    const int32_t cap = t->m->cfg.n_ctx + 1;
    int32_t T = 1, eos = s2_vocab_eos(t->vocab);
    *skipped = 0;
    for (int32_t b = 0; b < B; b++) {
        int32_t n = -1;
        for (uint64_t attempt = 0; n < 0; attempt++) {
            if (attempt == MAX_REDRAWS)
                return s2_error_set(err, S2_E_ARG, "train data: %d examples in a row are longer than n_ctx + 1 = %d "
                                    "tokens (raise --ctx)", MAX_REDRAWS, cap);
            char *prompt = NULL, *completion = NULL;
            s2_status st = t->data.example(t->data.user, example_seed(t->p.seed, stream, first_index + (uint64_t)b,
                                                                      attempt), &prompt, &completion, err);
            if (st == S2_OK && (prompt == NULL || completion == NULL))
                st = s2_error_set(err, S2_E_ARG, "train data: the example callback gave no text");
            if (st == S2_OK) n = s2_train_encode(t->vocab, prompt, completion, t->ids + (int64_t)b * cap, cap,
                                                 &t->np[b]);
            free(prompt);
            free(completion);
            if (st != S2_OK) return st;
            if (n < 0) ++*skipped;
        }
        t->lens[b] = n;
        if (n - 1 > T) T = n - 1;
    }
    /* right-padded with EOS, mask 0: causal attention keeps padding from changing any real position */
    for (int32_t b = 0; b < B; b++) {
        const int32_t *ids = t->ids + (int64_t)b * cap;
        for (int32_t i = 0; i < T; i++) {
            int64_t r = (int64_t)b * T + i;
            bool real = i + 1 < t->lens[b];
            t->tokens[r] = i < t->lens[b] ? ids[i] : eos;
            t->targets[r] = real ? ids[i + 1] : eos;
            t->mask[r] = (real && i + 1 >= t->np[b]) ? 1.0f : 0.0f;
        }
    }
    *T_out = T;
    return S2_OK;
}

/* ---- driver ---- */

s2_train_params s2_train_default_params(void) {
    return (s2_train_params){.model = s2_train_default_config(), .opt = s2_adamw_default_params(), .batch = 16,
                             .seed = 1, .n_heldout = 64, .n_threads = 0, .out = NULL, .name = "sys2-trained",
                             .resume = false};
}

static char *dup_str(const char *s) {
    if (s == NULL) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) memcpy(d, s, n);
    return d;
}

/* Same vocabulary: same size, same special tokens, same texts. */
static s2_status vocab_same(const s2_vocab *a, const s2_vocab *b, const char *path, s2_error *err) {
    int32_t n = s2_vocab_n_tokens(a);
    if (n != s2_vocab_n_tokens(b) || s2_vocab_bos(a) != s2_vocab_bos(b) || s2_vocab_eos(a) != s2_vocab_eos(b))
        return s2_error_set(err, S2_E_FORMAT, "%s: vocabulary mismatch: %d tokens, the trainer's has %d", path,
                            s2_vocab_n_tokens(b), n);
    for (int32_t i = 0; i < n; i++) {
        const char *x = s2_vocab_text(a, i), *y = s2_vocab_text(b, i);
        if (x == NULL || y == NULL || strcmp(x, y) != 0)
            return s2_error_set(err, S2_E_FORMAT, "%s: vocabulary mismatch at token %d", path, i);
    }
    return S2_OK;
}

/* Reads the model at path and checks that its vocabulary and shape are the run's. */
static s2_status load_checked(s2_trainer *t, const char *path, const char *what, s2_tmodel **out, s2_error *err) {
    *out = NULL;
    s2_tmodel *m = NULL;
    s2_vocab *v = NULL;
    s2_status st = s2_tmodel_load_gguf(path, &m, &v, err);
    if (st != S2_OK) return s2_error_prefix(err, what);
    st = vocab_same(t->vocab, v, path, err);
    s2_vocab_free(v);
    s2_train_config want = t->p.model, have = m->cfg;
    if (st == S2_OK && (want.n_ctx != have.n_ctx || want.n_embd != have.n_embd || want.n_layer != have.n_layer ||
                        want.n_head != have.n_head || want.n_head_kv != have.n_head_kv || want.n_ff != have.n_ff ||
                        want.tied_output != have.tied_output || want.rms_eps != have.rms_eps ||
                        want.rope_base != have.rope_base))
        st = s2_error_set(err, S2_E_ARG, "%s: model mismatch: the file holds dim %d, %d layers, %d/%d heads, "
                          "ff %d, ctx %d%s; asked for dim %d, %d layers, %d/%d heads, ff %d, ctx %d%s", path,
                          have.n_embd, have.n_layer, have.n_head, have.n_head_kv, have.n_ff, have.n_ctx,
                          have.tied_output ? ", tied" : "", want.n_embd, want.n_layer, want.n_head, want.n_head_kv,
                          want.n_ff, want.n_ctx, want.tied_output ? ", tied" : "");
    if (st != S2_OK) {
        s2_tmodel_free(m);
        return st;
    }
    *out = m;
    return S2_OK;
}

static s2_status trainer_resume(s2_trainer *t, s2_error *err) {
    s2_tmodel *m = NULL;
    s2_status st = load_checked(t, t->out, "resume", &m, err);
    if (st != S2_OK) return st;
    int64_t step = 0;
    uint64_t seed = 0;
    if (st == S2_OK) st = opt_read(m, t->opt_path, &step, &seed, err);
    if (st == S2_OK && seed != t->p.seed)
        st = s2_error_set(err, S2_E_ARG, "%s: seed %llu differs from the run's %llu (resume with --seed %llu)",
                          t->opt_path, (unsigned long long)t->p.seed, (unsigned long long)seed,
                          (unsigned long long)seed);
    if (st != S2_OK) {
        s2_tmodel_free(m);
        return st;
    }
    s2_tmodel_free(t->m);
    t->m = m;
    t->step = step;
    return S2_OK;
}

s2_status s2_trainer_init(const s2_train_params *params, const s2_train_data *data, s2_trainer **out,
                          s2_error *err) {
    *out = NULL;
    if (params == NULL || data == NULL || data->example == NULL)
        return s2_error_set(err, S2_E_ARG, "trainer: params and a data callback are required");
    if (params->batch < 1 || params->n_heldout < 0 || params->opt.steps < 1 || params->opt.warmup < 0 ||
        !(params->opt.lr > 0.0f) || params->opt.weight_decay < 0.0f || params->opt.clip < 0.0f)
        return s2_error_set(err, S2_E_ARG, "trainer: batch=%d, steps=%lld, warmup=%lld, lr=%g, wd=%g, clip=%g: "
                            "need batch >= 1, steps >= 1, warmup >= 0, lr > 0, wd >= 0, clip >= 0", params->batch,
                            (long long)params->opt.steps, (long long)params->opt.warmup, (double)params->opt.lr,
                            (double)params->opt.weight_decay, (double)params->opt.clip);
    if (params->out == NULL) return s2_error_set(err, S2_E_ARG, "trainer: an output path is required");
    s2_trainer *t = calloc(1, sizeof *t);
    if (t == NULL) return s2_error_set(err, S2_E_NOMEM, "trainer: out of memory");
    t->p = *params;
    t->data = *data;
    t->out = dup_str(params->out);
    t->name = dup_str(params->name != NULL ? params->name : "sys2-trained");
    t->opt_path = malloc(strlen(params->out) + 5);
    s2_status st = (t->out && t->name && t->opt_path) ? S2_OK : s2_error_set(err, S2_E_NOMEM, "trainer: no memory");
    if (st == S2_OK) {
        memcpy(t->opt_path, params->out, strlen(params->out));
        memcpy(t->opt_path + strlen(params->out), ".opt", 5);
        t->p.out = t->out;
        t->p.name = t->name;
    }
#ifdef _OPENMP
    if (params->n_threads > 0) omp_set_num_threads(params->n_threads);
#endif
    if (params->n_threads > 0) openblas_set_num_threads(params->n_threads);
    if (st == S2_OK) st = s2_vocab_char_init(&t->vocab, err);
    if (st == S2_OK) {
        t->p.model.n_vocab = s2_vocab_n_tokens(t->vocab);
        st = s2_tmodel_init(&t->p.model, &t->m, err);
    }
    if (st == S2_OK) {
        s2_tmodel_init_weights(t->m, t->p.seed);
        if (params->resume) {
            st = trainer_resume(t, err);
        } else if (params->init != NULL) { /* fine-tuning: the weights of another run, a fresh optimizer */
            s2_tmodel *m = NULL;
            st = load_checked(t, params->init, "init", &m, err);
            if (st == S2_OK) {
                s2_tmodel_free(t->m);
                t->m = m;
            }
        }
    }
    if (st == S2_OK) {
        int64_t B = params->batch, C = t->p.model.n_ctx;
        t->ids = malloc((size_t)(B * (C + 1)) * sizeof(int32_t));
        t->lens = malloc((size_t)B * sizeof(int32_t));
        t->np = malloc((size_t)B * sizeof(int32_t));
        t->tokens = malloc((size_t)(B * C) * sizeof(int32_t));
        t->targets = malloc((size_t)(B * C) * sizeof(int32_t));
        t->mask = malloc((size_t)(B * C) * sizeof(float));
        if (!t->ids || !t->lens || !t->np || !t->tokens || !t->targets || !t->mask)
            st = s2_error_set(err, S2_E_NOMEM, "trainer: out of memory for the batch");
    }
    if (st != S2_OK) {
        s2_trainer_free(t);
        return st;
    }
    *out = t;
    return S2_OK;
}

void s2_trainer_free(s2_trainer *t) {
    if (t == NULL) return;
    s2_tmodel_free(t->m);
    s2_vocab_free(t->vocab);
    free(t->out);
    free(t->opt_path);
    free(t->name);
    free(t->ids);
    free(t->lens);
    free(t->np);
    free(t->tokens);
    free(t->targets);
    free(t->mask);
    free(t);
}

int64_t s2_trainer_steps_done(const s2_trainer *t) { return t->step; }
s2_tmodel *s2_trainer_model(s2_trainer *t) { return t->m; }
const s2_vocab *s2_trainer_vocab(const s2_trainer *t) { return t->vocab; }

s2_status s2_trainer_step(s2_trainer *t, s2_train_step_stats *out, s2_error *err) {
    s2_tmodel *m = t->m;
    int32_t T = 0, skipped = 0, B = t->p.batch;
    s2_status st = build_batch(t, STREAM_TRAIN, (uint64_t)t->step * (uint64_t)B, B, &T, &skipped, err);
    if (st == S2_OK) st = s2_tmodel_forward(m, t->tokens, t->targets, t->mask, B, T, err);
    if (st != S2_OK) return st;
    if (!isfinite(m->loss))
        return s2_error_set(err, S2_E_INTERRUPTED, "step %lld: loss is %g (diverged: lower --lr); the weights "
                            "were not updated", (long long)t->step + 1, m->loss);
    s2_tmodel_backward(m);
    double norm = s2_tmodel_grad_norm(m);
    if (!isfinite(norm))
        return s2_error_set(err, S2_E_INTERRUPTED, "step %lld: gradient norm is %g (diverged: lower --lr); the "
                            "weights were not updated", (long long)t->step + 1, norm);
    s2_tmodel_adamw_step(m, &t->p.opt, t->step, &norm);
    t->step++;
    if (out != NULL) {
        const s2_train_config *c = &m->cfg;
        out->step = t->step;
        out->loss = m->loss;
        out->grad_norm = norm;
        out->lr = s2_lr_at(&t->p.opt, t->step - 1);
        out->T = T;
        out->tokens = (int64_t)B * T;
        out->real_tokens = 0;
        for (int32_t b = 0; b < B; b++) out->real_tokens += t->lens[b] - 1;
        out->loss_tokens = m->n_loss_tokens;
        out->flops = 6.0 * (double)s2_tmodel_matmul_params(m) * (double)out->tokens +
                     12.0 * c->n_layer * (double)c->n_embd * T * (double)out->tokens;
        out->skipped = skipped;
    }
    return S2_OK;
}

s2_status s2_trainer_heldout_loss(s2_trainer *t, double *loss, s2_error *err) {
    double sum = 0.0;
    int64_t count = 0;
    for (int32_t i = 0; i < t->p.n_heldout; i += t->p.batch) {
        int32_t B = t->p.n_heldout - i < t->p.batch ? t->p.n_heldout - i : t->p.batch, T = 0, skipped = 0;
        s2_status st = build_batch(t, STREAM_HELDOUT, (uint64_t)i, B, &T, &skipped, err);
        if (st == S2_OK) st = s2_tmodel_forward(t->m, t->tokens, t->targets, t->mask, B, T, err);
        if (st != S2_OK) return st;
        sum += t->m->loss * (double)t->m->n_loss_tokens;
        count += t->m->n_loss_tokens;
    }
    *loss = count > 0 ? sum / (double)count : 0.0;
    return S2_OK;
}

static char *path_with(const char *path, const char *suffix) {
    size_t a = strlen(path), b = strlen(suffix);
    char *p = malloc(a + b + 1);
    if (p != NULL) {
        memcpy(p, path, a);
        memcpy(p + a, suffix, b + 1);
    }
    return p;
}

s2_status s2_trainer_save(s2_trainer *t, s2_error *err) {
    for (int64_t i = 0; i < t->m->n_params; i++)
        if (!isfinite(t->m->params[i]))
            return s2_error_set(err, S2_E_INTERRUPTED, "step %lld: parameter %lld is %g (diverged: lower --lr); "
                                "%s was not overwritten", (long long)t->step, (long long)i,
                                (double)t->m->params[i], t->out);
    /* Both files are written in full beside the old ones, then renamed into place one after the other: a
     * failed write leaves the last pair as it was, and a crash between the two renames leaves a state whose
     * weight hash does not match the GGUF, which --resume reports. */
    char *opt_tmp = path_with(t->opt_path, ".tmp"), *gguf_new = path_with(t->out, ".new");
    s2_status st = (opt_tmp && gguf_new) ? S2_OK : s2_error_set(err, S2_E_NOMEM, "save: out of memory");
    if (st == S2_OK) st = opt_write(t->m, t->step, t->p.seed, opt_tmp, err);
    if (st == S2_OK) st = s2_tmodel_save_gguf(t->m, t->vocab, t->name, gguf_new, err);
    if (st == S2_OK && rename(gguf_new, t->out) != 0)
        st = s2_error_set(err, S2_E_IO, "%s: rename from %s: %s", t->out, gguf_new, strerror(errno));
    if (st == S2_OK && rename(opt_tmp, t->opt_path) != 0)
        st = s2_error_set(err, S2_E_IO, "%s: rename from %s: %s", t->opt_path, opt_tmp, strerror(errno));
    if (st != S2_OK) {
        if (opt_tmp) unlink(opt_tmp);
        if (gguf_new) unlink(gguf_new);
    }
    free(opt_tmp);
    free(gguf_new);
    return st;
}

/* ---- greedy generation ---- */

s2_status s2_tmodel_greedy(s2_tmodel *m, const s2_vocab *vocab, const char *const *prompts, int32_t n,
                           int32_t max_new, char **outs, s2_error *err) {
    const int32_t C = m->cfg.n_ctx, V = m->cfg.n_vocab, bos = s2_vocab_bos(vocab), eos = s2_vocab_eos(vocab);
    for (int32_t i = 0; i < n; i++) outs[i] = NULL;
    int32_t *ids = malloc((size_t)n * (size_t)C * sizeof(int32_t)), *len = calloc((size_t)n, sizeof(int32_t)),
            *start = calloc((size_t)n, sizeof(int32_t)), *tok = malloc((size_t)n * (size_t)C * sizeof(int32_t));
    bool *done = calloc((size_t)n, sizeof(bool));
    s2_status st = (ids && len && start && tok && done) ? S2_OK : s2_error_set(err, S2_E_NOMEM, "greedy: no memory");
    for (int32_t i = 0; st == S2_OK && i < n; i++) {
        int32_t *row = ids + (int64_t)i * C, k = 0;
        if (bos >= 0) row[k++] = bos;
        int32_t got = s2_tokenize(vocab, prompts[i], strlen(prompts[i]), false, false, row + k, C - k);
        if (got < 0 || k + got >= C)
            st = s2_error_set(err, S2_E_BUDGET, "greedy: prompt %d needs %d tokens, the context holds %d", i,
                              k + (got < 0 ? -got : got), C);
        else
            len[i] = start[i] = k + got;
    }
    for (int32_t step = 0; st == S2_OK && step < max_new; step++) {
        int32_t T = 0, live = 0;
        for (int32_t i = 0; i < n; i++)
            if (!done[i]) {
                live++;
                if (len[i] > T) T = len[i];
            }
        if (live == 0) break;
        /* only unfinished rows go through the forward, packed together */
        int32_t r = 0;
        for (int32_t i = 0; i < n; i++) {
            if (done[i]) continue;
            for (int32_t j = 0; j < T; j++) tok[(int64_t)r * T + j] = j < len[i] ? ids[(int64_t)i * C + j] : 0;
            r++;
        }
        st = s2_tmodel_forward(m, tok, NULL, NULL, live, T, err);
        const float *lg = s2_tmodel_logits(m);
        r = 0;
        for (int32_t i = 0; st == S2_OK && i < n; i++) {
            if (done[i]) continue;
            const float *l = lg + ((int64_t)r * T + len[i] - 1) * V;
            int32_t best = 0;
            for (int32_t v = 1; v < V; v++)
                if (l[v] > l[best]) best = v; /* lowest id wins ties */
            if (best == eos || s2_vocab_is_eog(vocab, best)) done[i] = true;
            else {
                ids[(int64_t)i * C + len[i]++] = best;
                if (len[i] >= C) done[i] = true;
            }
            r++;
        }
    }
    for (int32_t i = 0; st == S2_OK && i < n; i++) {
        const int32_t *gen = ids + (int64_t)i * C + start[i], ng = len[i] - start[i];
        int32_t cap = 8 * ng + 16, got = -1;
        while (st == S2_OK && got < 0) {
            free(outs[i]);
            outs[i] = malloc((size_t)cap + 1);
            if (outs[i] == NULL) st = s2_error_set(err, S2_E_NOMEM, "greedy: no memory");
            else if ((got = s2_detokenize(vocab, gen, ng, false, outs[i], cap)) < 0) cap = -got;
        }
    }
    if (st != S2_OK)
        for (int32_t i = 0; i < n; i++) {
            free(outs[i]);
            outs[i] = NULL;
        }
    free(ids);
    free(len);
    free(start);
    free(tok);
    free(done);
    return st;
}
