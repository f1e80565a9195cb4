/* ctx.h: the context's insides (internal), shared by forward.c, sample.c and lm.c. */
#ifndef S2_CTX_H
#define S2_CTX_H

#include "kv.h"
#include "model.h"
#include "ops.h"

struct s2_ctx {
    const s2_model *m;
    s2_ctx_params p;
    s2_kv *kv;
    s2_counters c;
    double flops_per_row;     /* 2 x the weight-product parameters (output matrix included) */
    float *rope_cs[2];        /* (T, HD/2, 2) cos, sin per RoPE set of the model; [1] == [0] when they agree */
    float *act;               /* activations for n_batch rows */
    float *scores;            /* (threads, T) attention scores, one row per pool thread */
    int32_t n_scores;
    int32_t *pos;             /* (n_batch) positions of the rows in the current chunk */
    float *logits;            /* (n_logits, V) */
    size_t logits_cap;        /* floats */
    int32_t n_logits;
    int32_t depth;            /* > 0 inside an s2_lm call, which times itself */
    s2_scratch scratch;
    s2_pool *pool;            /* the context's threads (n_threads; 1: no workers) */
};

int64_t s2_now_ns(void);      /* CLOCK_MONOTONIC */
int32_t s2_ctx_n_ctx(const s2_ctx *ctx);
const s2_model *s2_ctx_model(const s2_ctx *ctx);

#endif
