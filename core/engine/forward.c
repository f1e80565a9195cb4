/* forward.c: the context (paged KV cache + activations + counters) and the batched forward pass.
 *
 * Every forward runs over rows (sequence, position, token): a prompt's prefill is many rows of one sequence,
 * branch decoding one row of each of many sequences. Weight products are matrix-matrix over all rows (weights
 * read once per step for every branch); attention runs per row and head over that row's own blocks.
 * Counters are bumped here, by the code that does the work; nothing above core/ counts compute.
 * One loop serves every architecture: what differs comes from the model's s2_arch row and is read in a few
 * named places (embedding scale, q/k norms, RoPE set and window per layer, soft-caps, post norms, activation),
 * never from the architecture's name. K and V are stored as the context's kv_type (F32 or F16).
 *
 * Letters: R = rows, D = n_embd, H = n_head, HKV = n_head_kv, HD = head_dim, Q = H*HD, KV = HKV*HD, F = n_ff,
 * V = n_vocab, L = n_layer, T = positions attended. */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctx.h"
#include "quant.h"

s2_ctx_params s2_ctx_default_params(void) {
    s2_ctx_params p = {.n_ctx = 0, .n_threads = 0, .n_batch = 512, .block_size = 16, .kv_max_bytes = 0,
                       .prefix_cache = true, .kv_type = S2_KV_F32};
    return p;
}

const char *s2_kv_type_name(s2_kv_type t) { return t == S2_KV_F32 ? "f32" : t == S2_KV_F16 ? "f16" : NULL; }

bool s2_kv_type_parse(const char *name, s2_kv_type *out) {
    if (name != NULL && strcmp(name, "f32") == 0) return *out = S2_KV_F32, true;
    if (name != NULL && strcmp(name, "f16") == 0) return *out = S2_KV_F16, true;
    return false;
}

int64_t s2_model_kv_bytes_per_token(const s2_model *m, s2_kv_type t) {
    const s2_hparams *hp = &m->hp;
    return (int64_t)hp->n_layer * hp->n_head_kv * hp->head_dim * 2 * (int64_t)s2_kv_type_bytes(t);
}

int64_t s2_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void s2_ctx_free(s2_ctx *ctx) {
    if (ctx == NULL) return;
    s2_kv_free(ctx->kv);
    if (ctx->rope_cs[1] != ctx->rope_cs[0]) free(ctx->rope_cs[1]);
    free(ctx->rope_cs[0]);
    free(ctx->act);
    free(ctx->scores);
    free(ctx->pos);
    free(ctx->logits);
    s2_scratch_free(&ctx->scratch);
    s2_pool_free(ctx->pool);
    free(ctx);
}

s2_status s2_ctx_init(const s2_model *m, const s2_ctx_params *params, s2_ctx **out, s2_error *err) {
    s2_ctx_params p = params ? *params : s2_ctx_default_params();
    *out = NULL;
    if (m == NULL || m->layers == NULL) return s2_error_set(err, S2_E_ARG, "context: the model has no weights (vocab only?)");
    const s2_hparams *hp = &m->hp;
    if (p.n_ctx <= 0) p.n_ctx = hp->n_ctx_train;
    if (p.n_batch <= 0) p.n_batch = 512;
    if (p.block_size <= 0) p.block_size = 16;
    if (p.n_ctx > (1 << 22) || p.n_batch > (1 << 16) || p.block_size > 4096)
        return s2_error_set(err, S2_E_ARG, "context: n_ctx %d, n_batch %d or block_size %d too large", p.n_ctx,
                            p.n_batch, p.block_size);
    if (s2_kv_type_name(p.kv_type) == NULL)
        return s2_error_set(err, S2_E_ARG, "context: KV type %d is neither f32 nor f16", (int)p.kv_type);
    if (p.n_threads > 0) {
        openblas_set_num_threads(p.n_threads);
        omp_set_num_threads(p.n_threads);
    }
    s2_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "context: out of memory");
    ctx->m = m;
    ctx->p = p;
    int64_t KV = (int64_t)hp->n_head_kv * hp->head_dim;
    int64_t bytes_per_block = s2_model_kv_bytes_per_token(m, p.kv_type) * p.block_size;
    int64_t blocks_per_seq = (p.n_ctx + p.block_size - 1) / p.block_size;
    int64_t n_blocks = p.kv_max_bytes > 0 ? p.kv_max_bytes / bytes_per_block : 4 * blocks_per_seq;
    if (n_blocks < 1) {
        free(ctx);
        return s2_error_set(err, S2_E_ARG, "context: a KV limit of %lld bytes holds no block of %lld bytes",
                            (long long)p.kv_max_bytes, (long long)bytes_per_block);
    }
    s2_kv_params kp = {.n_layer = hp->n_layer, .kv_dim = (int32_t)KV, .block_size = p.block_size, .n_ctx = p.n_ctx,
                       .n_blocks = n_blocks, .prefix_cache = p.prefix_cache, .kv_type = p.kv_type};
    s2_status st = s2_kv_init(&kp, &ctx->kv, err);
    if (st != S2_OK) {
        free(ctx);
        return st;
    }
    /* RoPE tables (T, HD/2, 2), one per distinct set (gemma3's sliding layers have their own) */
    int32_t half = hp->head_dim / 2;
    const s2_rope_set *rs = m->rope_sets;
    bool two = rs[1].base != rs[0].base || rs[1].scale != rs[0].scale || rs[1].factors != rs[0].factors;
    ctx->rope_cs[0] = malloc((size_t)p.n_ctx * (size_t)half * 2 * sizeof(float));
    ctx->rope_cs[1] = two ? malloc((size_t)p.n_ctx * (size_t)half * 2 * sizeof(float)) : ctx->rope_cs[0];
    int64_t D = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim, F = hp->n_ff, B = p.n_batch;
    int64_t wide = F > Q ? F : Q;
    /* activations per row: x (D), xn (D), q (Q), k (KV), v (KV), att (Q), g (F or Q), u (F), t (D) */
    ctx->act = malloc((size_t)B * (size_t)(3 * D + 2 * Q + 2 * KV + wide + F) * sizeof(float));
    /* the pool: n_threads, or OpenMP's default (OMP_NUM_THREADS, else the cores) */
    st = s2_pool_init(p.n_threads > 0 ? p.n_threads : omp_get_max_threads(), &ctx->pool, err);
    if (st != S2_OK) {
        s2_ctx_free(ctx);
        return st;
    }
    ctx->n_scores = s2_pool_n_threads(ctx->pool);
    ctx->scores = malloc((size_t)ctx->n_scores * (size_t)p.n_ctx * sizeof(float));
    ctx->pos = malloc((size_t)B * sizeof(int32_t));
    if (ctx->rope_cs[0] == NULL || ctx->rope_cs[1] == NULL || ctx->act == NULL || ctx->scores == NULL ||
        ctx->pos == NULL) {
        s2_ctx_free(ctx);
        return s2_error_set(err, S2_E_NOMEM, "context: out of memory for activations");
    }
    /* angle = (pos / scale) * base^(-2j/HD) / factors[j], as llama2.c computes it in float (factors: rope_freqs) */
    for (int32_t set = 0; set < (two ? 2 : 1); set++)
        for (int32_t t = 0; t < p.n_ctx; t++)
            for (int32_t j = 0; j < half; j++) {
                float freq = 1.0f / powf(rs[set].base, (float)(2 * j) / (float)hp->head_dim);
                if (rs[set].factors != NULL) freq /= rs[set].factors[j];
                float val = ((float)t / rs[set].scale) * freq;
                ctx->rope_cs[set][((size_t)t * half + j) * 2] = cosf(val);
                ctx->rope_cs[set][((size_t)t * half + j) * 2 + 1] = sinf(val);
            }
    /* FLOPs per row of the weight products: 2 per multiply-add of every matrix except the embedding lookup */
    int64_t per_layer = 2 * D * Q + 2 * D * KV + 3 * D * F;
    ctx->flops_per_row = 2.0 * (double)(hp->n_layer * per_layer + D * (int64_t)hp->n_vocab);
    *out = ctx;
    return S2_OK;
}

/* ---- counters ---- */

void s2_ctx_counters(const s2_ctx *ctx, s2_counters *out) { *out = ctx->c; }

void s2_counters_sub(s2_counters *out, const s2_counters *a, const s2_counters *b) {
    out->prompt_tokens = a->prompt_tokens - b->prompt_tokens;
    out->cached_tokens = a->cached_tokens - b->cached_tokens;
    out->gen_tokens = a->gen_tokens - b->gen_tokens;
    out->scored_tokens = a->scored_tokens - b->scored_tokens;
    out->forward_calls = a->forward_calls - b->forward_calls;
    out->forward_rows = a->forward_rows - b->forward_rows;
    out->flops = a->flops - b->flops;
    out->ns = a->ns - b->ns;
    out->requests = a->requests - b->requests;
    out->server_cached_tokens = a->server_cached_tokens - b->server_cached_tokens;
}

void s2_counters_add(s2_counters *acc, const s2_counters *x) {
    acc->prompt_tokens += x->prompt_tokens;
    acc->cached_tokens += x->cached_tokens;
    acc->gen_tokens += x->gen_tokens;
    acc->scored_tokens += x->scored_tokens;
    acc->forward_calls += x->forward_calls;
    acc->forward_rows += x->forward_rows;
    acc->flops += x->flops;
    acc->ns += x->ns;
    acc->requests += x->requests;
    acc->server_cached_tokens += x->server_cached_tokens;
}

/* ---- sequences ---- */

s2_status s2_seq_new(s2_ctx *ctx, s2_seq *out, s2_error *err) { return s2_kv_seq_new(ctx->kv, out, err); }
s2_status s2_seq_fork(s2_ctx *ctx, s2_seq src, s2_seq *out, s2_error *err) {
    return s2_kv_seq_fork(ctx->kv, src, out, err);
}
void s2_seq_free(s2_ctx *ctx, s2_seq seq) { s2_kv_seq_free(ctx->kv, seq); }
int32_t s2_seq_len(const s2_ctx *ctx, s2_seq seq) { return s2_kv_seq_len(ctx->kv, seq); }
const int32_t *s2_seq_tokens(const s2_ctx *ctx, s2_seq seq) { return s2_kv_seq_tokens(ctx->kv, seq); }
void s2_ctx_kv_stats(const s2_ctx *ctx, s2_kv_stats *out) { s2_kv_stats_get(ctx->kv, out); }
int32_t s2_ctx_n_ctx(const s2_ctx *ctx) { return ctx->p.n_ctx; }
const s2_model *s2_ctx_model(const s2_ctx *ctx) { return ctx->m; }

const float *s2_ctx_logits(const s2_ctx *ctx, int32_t i) {
    if (i < 0 || i >= ctx->n_logits) return NULL;
    return ctx->logits + (size_t)i * (size_t)ctx->m->hp.n_vocab;
}
int32_t s2_ctx_n_logits(const s2_ctx *ctx) { return ctx->n_logits; }

/* ---- the forward pass ---- */

/* ---- F16 elements: hardware conversion (F16C) where the CPU has it ---- */

#define F16C __attribute__((target("avx2,f16c,fma"), optimize("O3")))

static bool have_f16c(void) {
    static int cached = -1; /* benign race: every thread computes the same value */
    if (cached < 0)
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
    return cached;
}

/* q (n) · k (n), 8 lanes at a time */
F16C static inline float dot_f16c(const float *q, const _Float16 *k, int32_t n) {
    __m256 acc = _mm256_setzero_ps();
    int32_t i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i))), acc);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_hadd_ps(h, h);
    h = _mm_hadd_ps(h, h);
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++) s += q[i] * (float)k[i];
    return s;
}

/* out (n) += a v (n) */
F16C static inline void axpy_f16c(float *out, float a, const _Float16 *v, int32_t n) {
    __m256 av = _mm256_set1_ps(a);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i))),
                                                  _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += a * (float)v[i];
}

F16C static void store_f16c(_Float16 *h, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) {
        uint16_t b = s2_fp32_to_fp16(x[i]);
        memcpy(h + i, &b, sizeof b);
    }
}

/* Writes one row of n floats into the cache as its element type (F16: round to nearest even). */
static void kv_store(void *dst, const float *src, int64_t n, s2_kv_type t) {
    if (t == S2_KV_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
    } else if (have_f16c()) {
        store_f16c(dst, src, n);
    } else {
        for (int64_t i = 0; i < n; i++) {
            uint16_t b = s2_fp32_to_fp16(src[i]);
            memcpy((char *)dst + 2 * i, &b, sizeof b);
        }
    }
}

/* ---- attention ---- */

/* The inner products over HD: the loops the compiler vectorizes, or the F16C kernels above. */
#define DOT_LOOP(s, q, k, n) for (int32_t i_ = 0; i_ < (n); i_++) (s) += (q)[i_] * (float)(k)[i_]
#define AXPY_LOOP(out, a, v, n) for (int32_t i_ = 0; i_ < (n); i_++) (out)[i_] += (a) * (float)(v)[i_]
/* q (n) · k (n) and out (n) += a v (n) for F32 K/V, 8 lanes at a time: for a small head (stories260K's 8) one
 * multiply and a horizontal sum, where the generic loop spent ~30 instructions a position. */
F16C static inline float dot_f32_avx2(const float *q, const float *k, int32_t n) {
    __m256 acc = _mm256_setzero_ps();
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), acc);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++) s += q[i] * k[i];
    return s;
}

F16C static inline void axpy_f32_avx2(float *out, float a, const float *v, int32_t n) {
    __m256 av = _mm256_set1_ps(a);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(v + i), _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += a * v[i];
}

#define DOT_AVX2(s, q, k, n) (s) = dot_f32_avx2((q), (k), (n))
#define AXPY_AVX2(out, a, v, n) axpy_f32_avx2((out), (a), (v), (n))
#define DOT_F16C(s, q, k, n) (s) = dot_f16c((q), (k), (n))
#define AXPY_F16C(out, a, v, n) axpy_f16c((out), (a), (v), (n))

/* Attention of one row and one head over positions lo..pos of its sequence (causal; lo > 0 with a sliding
 * window), reading K/V of element type T through the block table one block at a time.
 * out (HD) = softmax(cap(scale q·Kᵀ)) V, cap(s) = softcap tanh(s / softcap) when softcap > 0 (gemma2).
 * Compiled at -O3 so that the products over HD vectorize; the F16 twins convert K and V as they read them. */
#define ATTEND(NAME, T, ATTR, DOT, AXPY, EXPSUM)                                                                 \
    ATTR static void NAME(float *out, const float *q, const T *Kl, const T *Vl, const int32_t *blocks,           \
                          int32_t lo, int32_t pos, int32_t bs, int32_t kvh, int32_t HD, int32_t KV, float scale,   \
                          float softcap, float *score) {                                                        \
        float mx = -INFINITY;                                                                                    \
        for (int32_t t0 = lo / bs * bs; t0 <= pos; t0 += bs) {                                                   \
            const T *kb = Kl + (size_t)blocks[t0 / bs] * bs * KV + (size_t)kvh * HD;                             \
            int32_t nt = pos + 1 - t0 < bs ? pos + 1 - t0 : bs;                                                  \
            for (int32_t j = t0 < lo ? lo - t0 : 0; j < nt; j++) {                                               \
                const T *k = kb + (size_t)j * KV;                                                                \
                float s = 0.0f;                                                                                  \
                DOT(s, q, k, HD);                                                                                \
                s *= scale;                                                                                      \
                score[t0 + j] = s;                                                                               \
                if (s > mx) mx = s;                                                                              \
            }                                                                                                    \
        }                                                                                                        \
        if (softcap > 0) { /* apart, to keep the loop above branch-free; the cap is monotonic, so mx follows */  \
            for (int32_t t = lo; t <= pos; t++) score[t] = softcap * tanhf(score[t] / softcap);                  \
            mx = softcap * tanhf(mx / softcap);                                                                  \
        }                                                                                                        \
        float sum = EXPSUM(score + lo, pos + 1 - lo, mx);                                                        \
        for (int32_t i = 0; i < HD; i++) out[i] = 0.0f;                                                          \
        float inv = 1.0f / sum;                                                                                  \
        for (int32_t t0 = lo / bs * bs; t0 <= pos; t0 += bs) {                                                   \
            const T *vb = Vl + (size_t)blocks[t0 / bs] * bs * KV + (size_t)kvh * HD;                             \
            int32_t nt = pos + 1 - t0 < bs ? pos + 1 - t0 : bs;                                                  \
            for (int32_t j = t0 < lo ? lo - t0 : 0; j < nt; j++) {                                               \
                const T *v = vb + (size_t)j * KV;                                                                \
                float a = score[t0 + j] * inv;                                                                   \
                AXPY(out, a, v, HD);                                                                             \
            }                                                                                                    \
        }                                                                                                        \
    }
ATTEND(attend_f32, float, __attribute__((optimize("O3"))), DOT_LOOP, AXPY_LOOP, s2_exp_sum_naive)
ATTEND(attend_f16, _Float16, __attribute__((optimize("O3"))), DOT_LOOP, AXPY_LOOP, s2_exp_sum_naive) /* no F16C */
ATTEND(attend_f16_f16c, _Float16, F16C, DOT_F16C, AXPY_F16C, s2_exp_sum_naive)
ATTEND(attend_f32_avx2, float, F16C, DOT_AVX2, AXPY_AVX2, s2_exp_sum) /* AVX2 hosts (issue 12 point 4) */
#undef ATTEND

/* out (n) = h (n) * w (n) / sqrt(mean(h²) + eps) for n_vec vectors of n: qk_norm's per-head RMSNorm. */
static void rmsnorm_each(float *h, const float *w, int64_t n_vec, int64_t n, float eps) {
    for (int64_t i = 0; i < n_vec; i++) s2_rmsnorm(h + i * n, h + i * n, w, n, eps);
}

/* Attention of the (row, head) pairs of chunks [c0, c1) (pairs flattened r * H + h, per to a chunk), each into
 * its slice of att; score is the thread's own row of ctx->scores. */
typedef struct attn_job {
    s2_ctx *ctx;
    const s2_seq *seqs;
    const int32_t *pos;
    const float *q;          /* (R, Q) */
    float *att;              /* (R, Q) */
    const void *Kl, *Vl;     /* the layer's cache */
    int32_t win, H, HD, KV, group, bs;
    int64_t n, per;          /* R * H (row, head) pairs, per chunk */
    s2_kv_type kt;
    bool f16c;
} attn_job;

static void attn_chunk(void *arg, int64_t c0, int64_t c1, int32_t tid) {
    const attn_job *j = arg;
    const s2_ctx *ctx = j->ctx;
    const s2_model *m = ctx->m;
    float *score = ctx->scores + (size_t)tid * (size_t)ctx->p.n_ctx;
    int64_t rh1 = c1 * j->per < j->n ? c1 * j->per : j->n;
    for (int64_t rh = c0 * j->per; rh < rh1; rh++) {
        int32_t r = (int32_t)(rh / j->H), h = (int32_t)(rh % j->H);
        const int32_t *blocks = s2_kv_block_table(ctx->kv, j->seqs[r]);
        int32_t pos = j->pos[r], lo = j->win > 0 && pos + 1 > j->win ? pos + 1 - j->win : 0; /* (pos - window, pos] */
        float *o = j->att + (int64_t)r * j->H * j->HD + (int64_t)h * j->HD;
        const float *qh = j->q + (int64_t)r * j->H * j->HD + (int64_t)h * j->HD;
        int32_t kvh = h / j->group;
        if (j->kt == S2_KV_F32 && j->f16c)
            attend_f32_avx2(o, qh, j->Kl, j->Vl, blocks, lo, pos, j->bs, kvh, j->HD, j->KV, m->attn_scale,
                            m->attn_softcap, score);
        else if (j->kt == S2_KV_F32)
            attend_f32(o, qh, j->Kl, j->Vl, blocks, lo, pos, j->bs, kvh, j->HD, j->KV, m->attn_scale, m->attn_softcap,
                       score);
        else if (j->f16c)
            attend_f16_f16c(o, qh, j->Kl, j->Vl, blocks, lo, pos, j->bs, kvh, j->HD, j->KV, m->attn_scale,
                            m->attn_softcap, score);
        else
            attend_f16(o, qh, j->Kl, j->Vl, blocks, lo, pos, j->bs, kvh, j->HD, j->KV, m->attn_scale, m->attn_softcap,
                       score);
    }
}

static s2_status chunk_forward(s2_ctx *ctx, const s2_seq *seqs, const int32_t *tokens, const int32_t *pos,
                               const bool *want, int32_t R, float *logits_out, s2_error *err) {
    const s2_model *m = ctx->m;
    const s2_hparams *hp = &m->hp;
    int64_t D = hp->n_embd, HD = hp->head_dim, H = hp->n_head, HKV = hp->n_head_kv;
    int64_t Q = H * HD, KV = HKV * HD, F = hp->n_ff, V = hp->n_vocab;
    int64_t wide = F > Q ? F : Q;
    float *x = ctx->act, *xn = x + R * D, *q = xn + R * D, *k = q + R * Q, *v = k + R * KV, *att = v + R * KV;
    float *g = att + R * Q, *u = g + R * wide, *t = u + R * F;
    int32_t bs = s2_kv_block_size(ctx->kv), half = (int32_t)HD / 2;
    s2_status st = S2_OK;
#define MATMUL(y, xin, w)                                                            \
    do {                                                                             \
        st = s2_matmul((y), (xin), (w), R, &ctx->scratch, ctx->pool);                           \
        if (st != S2_OK) return s2_error_set(err, st, "forward: out of memory");     \
    } while (0)

    for (int32_t r = 0; r < R; r++) /* x (R, D) = embedding rows, x sqrt(D) for gemma */
        s2_dequantize_row(m->tok_embd.type, (const char *)m->tok_embd.data + (size_t)tokens[r] * m->tok_embd.row_bytes,
                          x + r * D, D);
    if (m->embed_scale != 1.0f)
        for (int64_t i = 0; i < R * D; i++) x[i] *= m->embed_scale;
    s2_kv_type kt = ctx->p.kv_type;
    bool f16c = have_f16c(); /* AVX2 + F16C + FMA: the vector attention, for either element type */
    double att_flops = 0;
    for (int32_t l = 0; l < hp->n_layer; l++) {
        const s2_layer *ly = &m->layers[l];
        for (int32_t r = 0; r < R; r++) s2_rmsnorm(xn + r * D, x + r * D, ly->attn_norm, D, hp->rms_eps);
        MATMUL(q, xn, &ly->wq);
        MATMUL(k, xn, &ly->wk);
        MATMUL(v, xn, &ly->wv);
        const float *rope_cs = ctx->rope_cs[ly->rope_set];
        for (int32_t r = 0; r < R; r++) {
            if (ly->bq != NULL)
                for (int64_t i = 0; i < Q; i++) q[r * Q + i] += ly->bq[i];
            if (ly->bk != NULL)
                for (int64_t i = 0; i < KV; i++) k[r * KV + i] += ly->bk[i];
            if (ly->bv != NULL)
                for (int64_t i = 0; i < KV; i++) v[r * KV + i] += ly->bv[i];
            if (ly->q_norm != NULL) { /* qk_norm: each head's q and k RMS-normalized before RoPE */
                rmsnorm_each(q + r * Q, ly->q_norm, H, HD, hp->rms_eps);
                rmsnorm_each(k + r * KV, ly->k_norm, HKV, HD, hp->rms_eps);
            }
            const float *cs = rope_cs + (size_t)pos[r] * half * 2;
            for (int64_t h = 0; h < H; h++) s2_rope(q + r * Q + h * HD, (int32_t)HD, cs, m->rope);
            for (int64_t h = 0; h < HKV; h++) s2_rope(k + r * KV + h * HD, (int32_t)HD, cs, m->rope);
            kv_store(s2_kv_k(ctx->kv, l, seqs[r], pos[r]), k + r * KV, KV, kt);
            kv_store(s2_kv_v(ctx->kv, l, seqs[r], pos[r]), v + r * KV, KV, kt);
        }
        const void *Kl = s2_kv_layer_k(ctx->kv, l), *Vl = s2_kv_layer_v(ctx->kv, l);
        int32_t win = ly->window;
        int64_t work = 0;
        for (int32_t r = 0; r < R; r++) work += (int64_t)(win > 0 && pos[r] + 1 > win ? win : pos[r] + 1);
        att_flops += 4.0 * (double)work * (double)(H * HD);
        attn_job aj = {.ctx = ctx, .seqs = seqs, .pos = pos, .q = q, .att = att, .Kl = Kl, .Vl = Vl, .win = win,
                       .H = (int32_t)H, .HD = (int32_t)HD, .KV = (int32_t)KV, .group = (int32_t)(H / HKV), .bs = bs,
                       .n = (int64_t)R * H, .per = ((int64_t)R * H + S2_POOL_MAX_CHUNKS - 1) / S2_POOL_MAX_CHUNKS,
                       .kt = kt, .f16c = f16c};
        /* a chunk per (row, head) pair; inline below ~256 K multiply-adds, where the hand-off costs more */
        if (work * H * HD >= (1 << 18)) s2_pool_for(ctx->pool, (aj.n + aj.per - 1) / aj.per, attn_chunk, &aj);
        else attn_chunk(&aj, 0, (aj.n + aj.per - 1) / aj.per, 0);
        MATMUL(t, att, &ly->wo);
        if (ly->post_attn_norm != NULL) /* post_norms: the block's output is normalized before the residual */
            for (int32_t r = 0; r < R; r++) s2_rmsnorm(t + r * D, t + r * D, ly->post_attn_norm, D, hp->rms_eps);
        for (int64_t i = 0; i < R * D; i++) x[i] += t[i];
        for (int32_t r = 0; r < R; r++) s2_rmsnorm(xn + r * D, x + r * D, ly->ffn_norm, D, hp->rms_eps);
        MATMUL(g, xn, &ly->w_gate);
        MATMUL(u, xn, &ly->w_up);
        if (m->arch->act == S2_ACT_GELU_TANH) s2_geglu_tanh(g, g, u, R * F);
        else s2_swiglu(g, g, u, R * F);
        MATMUL(t, g, &ly->w_down);
        if (ly->post_ffn_norm != NULL)
            for (int32_t r = 0; r < R; r++) s2_rmsnorm(t + r * D, t + r * D, ly->post_ffn_norm, D, hp->rms_eps);
        for (int64_t i = 0; i < R * D; i++) x[i] += t[i];
    }
    /* final norm and logits for the wanted rows only, packed */
    int32_t nw = 0;
    for (int32_t r = 0; r < R; r++)
        if (want[r]) s2_rmsnorm(xn + (int64_t)nw++ * D, x + r * D, m->output_norm, D, hp->rms_eps);
    if (nw > 0) {
        int32_t saveR = R;
        R = nw;
        MATMUL(logits_out, xn, &m->output);
        R = saveR;
        if (m->final_softcap > 0) /* gemma2: logits = cap tanh(logits / cap) */
            for (int64_t i = 0; i < (int64_t)nw * V; i++)
                logits_out[i] = m->final_softcap * tanhf(logits_out[i] / m->final_softcap);
    }
#undef MATMUL
    ctx->c.forward_calls++;
    ctx->c.forward_rows += R;
    /* FLOPs: the weight products of every row (the output matrix only for rows that want logits) + attention */
    ctx->c.flops += (ctx->flops_per_row - 2.0 * (double)(D * V)) * R + 2.0 * (double)(D * V) * nw + att_flops;
    return S2_OK;
}

s2_status s2_ctx_decode(s2_ctx *ctx, const s2_seq *seqs, const int32_t *tokens, const bool *want, int32_t n,
                        s2_error *err) {
    int64_t t0 = s2_now_ns();
    ctx->n_logits = 0;
    if (n <= 0) return n == 0 ? S2_OK : s2_error_set(err, S2_E_ARG, "decode: %d rows", n);
    int32_t V = ctx->m->hp.n_vocab;
    for (int32_t r = 0; r < n; r++)
        if (tokens[r] < 0 || tokens[r] >= V)
            return s2_error_set(err, S2_E_ARG, "decode: row %d has token %d, outside the vocabulary [0, %d)", r,
                                tokens[r], V);
    /* which rows want logits: given, or each sequence's last row */
    bool *w = malloc((size_t)n * sizeof(bool));
    if (w == NULL) return s2_error_set(err, S2_E_NOMEM, "decode: out of memory");
    int32_t n_want = 0;
    for (int32_t r = 0; r < n; r++) {
        if (want != NULL) {
            w[r] = want[r];
        } else {
            w[r] = true;
            for (int32_t r2 = r + 1; r2 < n && w[r]; r2++)
                if (seqs[r2] == seqs[r]) w[r] = false;
        }
        n_want += w[r];
    }
    s2_status st = s2_kv_reserve(ctx->kv, seqs, n, err); /* all rows at once: on error nothing changed */
    if (st == S2_OK && (size_t)n_want * (size_t)V > ctx->logits_cap) {
        float *nl = realloc(ctx->logits, (size_t)n_want * (size_t)V * sizeof(float));
        if (nl == NULL) st = s2_error_set(err, S2_E_NOMEM, "decode: out of memory for %d rows of logits", n_want);
        else ctx->logits = nl, ctx->logits_cap = (size_t)n_want * (size_t)V;
    }
    /* the rows' positions: each sequence's length plus the earlier rows of it in this call */
    int32_t B = ctx->p.n_batch, done_want = 0;
    for (int32_t c0 = 0; st == S2_OK && c0 < n; c0 += B) {
        int32_t R = n - c0 < B ? n - c0 : B;
        for (int32_t r = 0; r < R; r++) {
            int32_t p = s2_kv_seq_len(ctx->kv, seqs[c0 + r]);
            for (int32_t r2 = 0; r2 < r; r2++) p += seqs[c0 + r2] == seqs[c0 + r];
            ctx->pos[r] = p;
        }
        st = chunk_forward(ctx, seqs + c0, tokens + c0, ctx->pos, w + c0, R,
                           ctx->logits + (size_t)done_want * (size_t)V, err);
        if (st != S2_OK) break;
        s2_kv_commit(ctx->kv, seqs + c0, tokens + c0, R);
        for (int32_t r = 0; r < R; r++) done_want += w[c0 + r];
    }
    free(w);
    if (st == S2_OK) ctx->n_logits = n_want;
    if (ctx->depth == 0) ctx->c.ns += s2_now_ns() - t0;
    return st;
}

s2_status s2_seq_prefill(s2_ctx *ctx, s2_seq seq, const int32_t *tokens, int32_t n, int32_t *n_cached,
                         s2_error *err) {
    if (n_cached) *n_cached = 0;
    if (s2_seq_len(ctx, seq) != 0) return s2_error_set(err, S2_E_ARG, "prefill: sequence %d is not empty", seq);
    if (n < 1) return s2_error_set(err, S2_E_ARG, "prefill: an empty prompt");
    if (n > ctx->p.n_ctx)
        return s2_error_set(err, S2_E_BUDGET, "prompt of %d tokens is longer than the context (%d tokens)", n,
                            ctx->p.n_ctx);
    int64_t t0 = s2_now_ns();
    /* at least the last token is computed: its logits are the point of a prefill */
    int32_t linked = s2_kv_prefix_link(ctx->kv, seq, tokens, n, n - 1);
    if (ctx->depth == 0) ctx->c.ns += s2_now_ns() - t0;
    int32_t rest = n - linked;
    s2_seq *seqs = malloc((size_t)rest * sizeof(s2_seq));
    if (seqs == NULL) return s2_error_set(err, S2_E_NOMEM, "prefill: out of memory");
    for (int32_t i = 0; i < rest; i++) seqs[i] = seq;
    s2_status st = s2_ctx_decode(ctx, seqs, tokens + linked, NULL, rest, err);
    free(seqs);
    if (st != S2_OK) {
        s2_kv_seq_clear(ctx->kv, seq); /* give back the linked blocks: the sequence is empty again */
        return st;
    }
    ctx->c.cached_tokens += linked;
    ctx->c.prompt_tokens += rest;
    if (n_cached) *n_cached = linked;
    return S2_OK;
}
