/* ops.c: the kernels of the forward pass. Matrix products go through OpenBLAS for F32 weights and through the
 * quantized dot products of quant.c for the other types; nothing here knows about sequences or the cache.
 *
 * Letters: R = rows in the batch, n_in / n_out = a weight's input and output widths. */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "pool.h"
#include "quant.h"

void *s2_scratch_get(s2_scratch *s, size_t bytes) {
    if (bytes <= s->cap) return s->buf;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < bytes) cap *= 2;
    void *nb = NULL;
    if (posix_memalign(&nb, 64, cap) != 0) return NULL;
    free(s->buf);
    s->buf = nb;
    s->cap = cap;
    return nb;
}

void s2_scratch_free(s2_scratch *s) {
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

/* ---- matrix products ---- */

/* Rows up to dot_max_rows(w) run as dot products over the stored (quantized) weight rows (activations
 * quantized once per row, int8 products); above, 4 MiB tiles are dequantized and multiplied in F32 (small_f32 up
 * to SMALL_MAX_ROWS rows, sgemm above), which reuses each dequantized weight across many rows. The thresholds are
 * measured, not guessed (issue 12 point 2): time of the dot path over the tile path, one thread, AVX2 host (AMD
 * EPYC, OpenBLAS Zen kernel), best of 15 runs each, shapes 768x768 / 768x2048 / 896x4864 / 4864x896 (n_in x
 * n_out; the K-quants on the three whose n_in is a multiple of 256), a /tmp-built harness over s2_matmul_path,
 * quiet machine (this session, after the tiles moved from sgemm to small_f32 for small batches):
 *
 *   type         R=4        R=8        R=12       R=16       R=24       R=32       -> dot up to
 *   q8_0         .51-.58    .81-.89    .94-1.08   .98-1.10   1.12-1.28  1.23-1.33  8
 *   q4_0         .78-.94    1.23-1.31  1.39-1.59  1.44-1.66  1.55-1.86  1.57-1.89  4
 *   q4_k         .64-.67    .95-.97    1.18-1.22  1.27-1.31  1.41-1.48  1.47-1.55  8
 *   q5_k         .50-.58    .83-.91    1.07-1.20  1.16-1.36  1.37-1.58  1.50-1.69  8
 *   q6_k         .10-.14    .18-.31    .25-.35    .32-.44    .45-.63    .55-.82    32
 *
 * (Q6_K's tiles pay for its slow dequantization.) Types not measured take 8.
 *
 * Packed weights (Q4_0, Q5_0: model.c packs them at load time) run their group kernel, which reads x once for 8
 * rows and wins for far longer batches; the same measure with the packed copy:
 *
 *   type         R=8        R=16       R=32       R=48       R=64       R=96-128   -> dot up to
 *   q4_0 packed  .54-.61    .66-.75    .76-.84    .72-.81    .74-.86    .75-1.01   128
 *   q5_0 packed  .26-.32    .52-.54    .76-.86    .90-.98    1.04-1.13  1.12-1.41  48
 */
static int64_t dot_max_rows(const s2_weight *w) {
    if (w->packed != NULL && s2_vec_dot8_fn(w->type) != NULL) return w->type == S2_TYPE_Q4_0 ? 128 : 48;
    switch (w->type) {
    case S2_TYPE_Q8_0: return 8;
    case S2_TYPE_Q4_0: return 4;
    case S2_TYPE_Q4_K: return 8;
    case S2_TYPE_Q5_K: return 8;
    case S2_TYPE_Q6_K: return 32;
    default: return 8;
    }
}
/* Tiles of 4 MiB of F32 weights: against 1 MiB, prefill pp128 at 2 threads 87-100 -> 115-124 tokens/s on the
 * 0.5B Q8_0 file and 294-330 -> 387-406 on the 110M Q4_K_M one (fewer sgemm calls, each with its threads'
 * start-up), 1 thread the same or better; 8 MiB was worse on three of the six cells (this session, two runs
 * each). The thresholds above were measured with 1 MiB tiles, so they lean to the dot path slightly. */
#define TILE_BYTES (4u << 20)

/* Splitting a product across the pool: chunks of about CHUNK_BYTES of weights (a few microseconds each, so a
 * descheduled thread holds back little), at least CHUNKS_PER_THREAD per thread; below PAR_MIN_BYTES of weights
 * the pool's hand-off (~1-3 us) costs more than the second core saves, and the product runs inline. */
#define CHUNK_BYTES (64u << 10)
#define CHUNKS_PER_THREAD 4
#define PAR_MIN_BYTES (192u << 10)

/* Output rows per chunk for a product over n_out rows of row_bytes each (times R activation rows), a multiple
 * of align; n_out itself (one chunk: inline) when the pool has one thread or the product is small. */
static int64_t rows_per_chunk(const s2_pool *pool, int64_t n_out, size_t row_bytes, int64_t R, int64_t align) {
    int32_t nt = s2_pool_n_threads(pool);
    double bytes = (double)n_out * (double)row_bytes * (double)(R < 4 ? 1 : R / 4);
    if (nt <= 1 || bytes < PAR_MIN_BYTES || n_out < 2 * align) return n_out;
    int64_t rows = (int64_t)(CHUNK_BYTES / (row_bytes > 0 ? row_bytes : 1));
    int64_t most = n_out / ((int64_t)nt * CHUNKS_PER_THREAD);
    if (rows > most) rows = most;
    if (rows < 1) rows = 1;
    if ((n_out + rows - 1) / rows > S2_POOL_MAX_CHUNKS) rows = (n_out + S2_POOL_MAX_CHUNKS - 1) / S2_POOL_MAX_CHUNKS;
    return (rows + align - 1) / align * align;
}

typedef struct dot_job {
    float *y;
    const char *W, *xq;
    size_t row_bytes, xrow;
    int64_t n_out, n_in, R, rows;
    s2_dot_fn dot;
    s2_dot4_fn dot4;         /* four rows at once where the type has it (the same bits as dot) */
    s2_dot8_fn dot8;         /* the packed groups' kernel, with W the packed copy; NULL: W holds plain rows */
} dot_job;

/* y[r][o] for the chunk's output rows o, every r: each weight row read once for all R rows */
static void dot_chunk(void *arg, int64_t c0, int64_t c1, int32_t tid) {
    const dot_job *j = arg;
    (void)tid;
    int64_t o1 = c1 * j->rows < j->n_out ? c1 * j->rows : j->n_out, o = c0 * j->rows;
    if (j->dot8 != NULL) { /* chunks are whole groups: rows is a multiple of S2_PACK_ROWS */
        for (; o < o1; o += S2_PACK_ROWS)
            for (int64_t r = 0; r < j->R; r++) {
                float t[S2_PACK_ROWS];
                j->dot8(t, j->W + (size_t)o * j->row_bytes, j->xq + (size_t)r * j->xrow, j->n_in);
                memcpy(j->y + r * j->n_out + o, t, sizeof t);
            }
        return;
    }
    if (j->dot4 != NULL)
        for (; o + 4 <= o1; o += 4)
            for (int64_t r = 0; r < j->R; r++) {
                float t[4];
                j->dot4(t, j->W + (size_t)o * j->row_bytes, j->row_bytes, j->xq + (size_t)r * j->xrow, j->n_in);
                for (int i = 0; i < 4; i++) j->y[r * j->n_out + o + i] = t[i];
            }
    for (; o < o1; o++) {
        const void *row = j->W + (size_t)o * j->row_bytes;
        for (int64_t r = 0; r < j->R; r++) j->y[r * j->n_out + o] = j->dot(row, j->xq + (size_t)r * j->xrow, j->n_in);
    }
}

static s2_status matmul_dot(float *y, const float *x, const s2_weight *w, int64_t R, s2_scratch *scratch,
                            s2_pool *pool) {
    int32_t xt = s2_vec_dot_type(w->type);
    size_t xrow = s2_type_row_size(xt, w->n_in);
    const void *xq = x;
    if (xt != S2_TYPE_F32) {
        char *buf = s2_scratch_get(scratch, xrow * (size_t)R);
        if (buf == NULL) return S2_E_NOMEM;
        for (int64_t r = 0; r < R; r++) s2_quantize_row(xt, x + r * w->n_in, buf + (size_t)r * xrow, w->n_in);
        xq = buf;
    }
    s2_dot_fn dot = s2_vec_dot_fn(w->type); /* the type table's kernel for this SIMD level, looked up once */
    if (dot == NULL) return S2_E_UNSUPPORTED;
    /* Packed weights go through their group kernel. Plain rows: one activation row streams fastest one weight
     * row after another (measured on the AVX2 host: ~11 GB/s of Q8_0 rows against ~6.5 for four rows at once,
     * whose four short interleaved streams the prefetcher follows badly); batches take the four-row kernel,
     * which reads x once for four rows. */
    dot_job j = {.y = y, .W = w->data, .xq = xq, .row_bytes = w->row_bytes, .xrow = xrow, .n_out = w->n_out,
                 .n_in = w->n_in, .R = R, .dot = dot, .dot4 = R > 1 ? s2_vec_dot4_fn(w->type) : NULL};
    if (w->packed != NULL && (j.dot8 = s2_vec_dot8_fn(w->type)) != NULL) j.W = w->packed, j.dot4 = NULL;
    j.rows = rows_per_chunk(pool, w->n_out, w->row_bytes, R, j.dot8 != NULL ? S2_PACK_ROWS : j.dot4 != NULL ? 4 : 1);
    s2_pool_for(pool, (w->n_out + j.rows - 1) / j.rows, dot_chunk, &j);
    return S2_OK;
}

typedef struct deq_job {
    float *wt;
    const char *W;
    size_t row_bytes;
    int64_t n_in, nt, rows;
    int32_t type;
} deq_job;

static void deq_chunk(void *arg, int64_t c0, int64_t c1, int32_t tid) {
    const deq_job *j = arg;
    (void)tid;
    int64_t o1 = c1 * j->rows < j->nt ? c1 * j->rows : j->nt;
    for (int64_t o = c0 * j->rows; o < o1; o++)
        s2_dequantize_row(j->type, j->W + (size_t)o * j->row_bytes, j->wt + o * j->n_in, j->n_in);
}

static void small_f32(float *y, const float *x, const float *W, int64_t R, int64_t K, int64_t N, int64_t ldy,
                      bool avx512, s2_pool *pool);
static bool small_f32_fits(int64_t R, int64_t K, int64_t N);
static bool have_avx512(void);

static s2_status matmul_tiles(float *y, const float *x, const s2_weight *w, int64_t R, s2_scratch *scratch,
                              s2_pool *pool) {
    int64_t n_in = w->n_in, n_out = w->n_out;
    int64_t tile = (int64_t)(TILE_BYTES / (sizeof(float) * (size_t)n_in));
    tile -= tile % 4; /* whole groups of 4 rows, as small_f32 takes them */
    if (tile < 16) tile = 16;
    if (tile > n_out) tile = n_out;
    float *wt = s2_scratch_get(scratch, (size_t)tile * (size_t)n_in * sizeof(float));
    if (wt == NULL) return S2_E_NOMEM;
    for (int64_t o0 = 0; o0 < n_out; o0 += tile) {
        int64_t nt = n_out - o0 < tile ? n_out - o0 : tile;
        deq_job j = {.wt = wt, .W = (const char *)w->data + (size_t)o0 * w->row_bytes, .row_bytes = w->row_bytes,
                     .n_in = n_in, .nt = nt, .type = w->type};
        j.rows = rows_per_chunk(pool, nt, (size_t)n_in * sizeof(float), 1, 1); /* by the floats written */
        s2_pool_for(pool, (nt + j.rows - 1) / j.rows, deq_chunk, &j);
        /* y[:, o0:o0+nt] (R, nt) = x (R, n_in) · wtᵀ (n_in, nt): small batches as the F32 weights' */
        if (small_f32_fits(R, n_in, nt)) {
            small_f32(y + o0, x, wt, R, n_in, nt, n_out, have_avx512(), pool);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)nt, (int)n_in, 1.0f, x, (int)n_in, wt,
                    (int)n_in, 0.0f, y + o0, (int)n_out);
    }
    return S2_OK;
}

/* ---- small batches of F32 rows: each weight row read once for all of them ----
 * OpenBLAS packs the whole weight matrix on every sgemm call, which for a few rows costs as much as the product
 * (MACHINE.md: sgemm M=16 runs at 71-91 GFLOP/s on one core). Here 4 weight rows x up to 4 activation rows are
 * held in 16 AVX-512 accumulators; the 4 weight rows stay in L1 while every block of activation rows passes.
 * The AVX-512 code is compiled for every x86 build but runs only where the CPU has AVX-512 (untested on the
 * AVX2-only host of issue 12). */
#define SMALL_MAX_ROWS 32

#define AVX512F __attribute__((target("avx512f,fma"), optimize("O3", "unroll-loops")))
AVX512F static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

/* One body for both widths: y[r][o..o+NW-1] for r in [r0, r0 + RB), NW weight rows held while RB activation rows
 * pass (VEC / LOAD / FMA / ZERO / HSUM: the width's type and intrinsics, L its lanes). */
#define SMALL_KERNEL(NAME, ATTR, VEC, L, LOAD, FMA, ZERO, HSUM, NW, RB)                                      \
    ATTR static void NAME(float *y, const float *x, const float *W, int64_t K, int64_t N, int64_t o,         \
                          int64_t r0) {                                                                      \
        VEC acc[NW][RB];                                                                                     \
        for (int i = 0; i < NW; i++)                                                                         \
            for (int j = 0; j < RB; j++) acc[i][j] = ZERO();                                                 \
        int64_t k = 0;                                                                                       \
        for (; k + L <= K; k += L) {                                                                         \
            VEC xv[RB];                                                                                      \
            for (int j = 0; j < RB; j++) xv[j] = LOAD(x + (r0 + j) * K + k);                                 \
            for (int i = 0; i < NW; i++) {                                                                   \
                VEC wv = LOAD(W + (o + i) * K + k);                                                          \
                for (int j = 0; j < RB; j++) acc[i][j] = FMA(wv, xv[j], acc[i][j]);                          \
            }                                                                                                \
        }                                                                                                    \
        for (int i = 0; i < NW; i++)                                                                         \
            for (int j = 0; j < RB; j++) {                                                                   \
                float t = HSUM(acc[i][j]);                                                                   \
                for (int64_t kk = k; kk < K; kk++) t += W[(o + i) * K + kk] * x[(r0 + j) * K + kk];          \
                y[(r0 + j) * N + o + i] = t;                                                                 \
            }                                                                                                \
    }
/* AVX-512: 4 weight rows x RB = 1..4 activation rows, chosen by a switch in f32_chunk */
#define SMALL512(RB) SMALL_KERNEL(small_f32_##RB, AVX512F, __m512, 16, _mm512_loadu_ps, _mm512_fmadd_ps, \
                                  _mm512_setzero_ps, hsum512, 4, RB)
SMALL512(1)
SMALL512(2)
SMALL512(3)
SMALL512(4)
#undef SMALL512

static bool have_avx512(void) {
    static int cached = -1; /* benign race: every thread computes the same value */
    if (cached < 0) cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    return cached;
}

static bool have_avx2(void) {
    static int cached = -1; /* benign race: every thread computes the same value */
    if (cached < 0) cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return cached;
}

/* One activation row (single-stream decode): 8 weight rows at a time, each with its own accumulator, so that eight
 * independent FMA chains and eight read streams keep more loads in flight than the 4-row kernel below (measured
 * on a 110M F32 model: ~20 GB/s of weights with 4 rows, ~23 with 8; decode 31-35 -> 36-41 tokens/s on one core).
 * y[o] for o in [o, o + 8). */
AVX512F static void gemv_f32_8(float *y, const float *x, const float *W, int64_t K, int64_t o) {
    __m512 acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 xv = _mm512_loadu_ps(x + k);
        for (int i = 0; i < 8; i++) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(W + (o + i) * K + k), xv, acc[i]);
    }
    for (int i = 0; i < 8; i++) {
        float t = hsum512(acc[i]);
        for (int64_t kk = k; kk < K; kk++) t += W[(o + i) * K + kk] * x[kk];
        y[o + i] = t;
    }
}

/* The same for AVX2 (8 lanes): 4 weight rows x 2 accumulators each, 16 floats of every row per step; the
 * pool's own threads split the rows (OpenBLAS's sgemv would bring its own threads, which spin against ours).
 * y[o] for o in [o, o + 4). */
#define AVX2F __attribute__((target("avx2,fma"), optimize("O3", "unroll-loops")))
AVX2F static inline float hsum256_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2F static void gemv_f32_4_avx2(float *y, const float *x, const float *W, int64_t K, int64_t o) {
    __m256 a[4][2];
    for (int i = 0; i < 4; i++) a[i][0] = a[i][1] = _mm256_setzero_ps();
    const float *w0 = W + o * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
        a[0][0] = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), x0, a[0][0]);
        a[0][1] = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k + 8), x1, a[0][1]);
        a[1][0] = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k), x0, a[1][0]);
        a[1][1] = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k + 8), x1, a[1][1]);
        a[2][0] = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k), x0, a[2][0]);
        a[2][1] = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k + 8), x1, a[2][1]);
        a[3][0] = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k), x0, a[3][0]);
        a[3][1] = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k + 8), x1, a[3][1]);
    }
    for (int i = 0; i < 4; i++) {
        float t = hsum256_ps(_mm256_add_ps(a[i][0], a[i][1]));
        for (int64_t kk = k; kk < K; kk++) t += W[(o + i) * K + kk] * x[kk];
        y[o + i] = t;
    }
}

/* Small batches on AVX2 (no AVX-512): 4 weight rows x up to 3 activation rows in 12 accumulators; the 4 weight rows
 * stay in L1 while every block of 3 activation rows passes. Against OpenBLAS's sgemm (which packs the whole matrix
 * per call), time ratio on the shapes 768x768 / 768x2048 / 896x4864 / 4864x896, one thread, best of 11 (this
 * session's /tmp harness): R=2 .24-.38, R=8 .52-.57, R=16 .69-.77, R=32 .94-1.00, R=48 .88-1.04, R=64 .99-1.17;
 * so up to SMALL_MAX_ROWS (32) here too (2 weight rows x 4 activation rows measured 0.84-1.00 at R=16).
 * y[r][o..o+3] for r in [r0, r0 + RB). */
#define SMALL256(RB) SMALL_KERNEL(small4_f32_##RB, AVX2F, __m256, 8, _mm256_loadu_ps, _mm256_fmadd_ps, \
                                  _mm256_setzero_ps, hsum256_ps, 4, RB)
SMALL256(1)
SMALL256(2)
SMALL256(3)
#undef SMALL256
#undef SMALL_KERNEL

typedef struct f32_job {
    float *y;
    const float *x, *W;
    int64_t R, K, N, ldy, rows; /* ldy: y's row stride (N, or the whole product's width for a tile) */
    bool avx512;
} f32_job;

/* Output rows [c0 rows, c1 rows) of y (R, N) = x (R, K) · Wᵀ; rows is a multiple of 8 (gemv) or 4 */
static void f32_chunk(void *arg, int64_t c0, int64_t c1, int32_t tid) {
    const f32_job *j = arg;
    (void)tid;
    int64_t o1 = c1 * j->rows < j->N ? c1 * j->rows : j->N;
    if (j->R == 1 && !j->avx512) {
        for (int64_t o = c0 * j->rows; o < o1; o += 4) gemv_f32_4_avx2(j->y, j->x, j->W, j->K, o);
        return;
    }
    if (j->R == 1 && j->N % 8 == 0) {
        for (int64_t o = c0 * j->rows; o < o1; o += 8) gemv_f32_8(j->y, j->x, j->W, j->K, o);
        return;
    }
    if (!j->avx512) {
        for (int64_t o = c0 * j->rows; o < o1; o += 4)
            for (int64_t r0 = 0; r0 < j->R; r0 += 3) {
                switch (j->R - r0 >= 3 ? 3 : j->R - r0) {
                case 1: small4_f32_1(j->y, j->x, j->W, j->K, j->ldy, o, r0); break;
                case 2: small4_f32_2(j->y, j->x, j->W, j->K, j->ldy, o, r0); break;
                default: small4_f32_3(j->y, j->x, j->W, j->K, j->ldy, o, r0); break;
                }
            }
        return;
    }
    for (int64_t o = c0 * j->rows; o < o1; o += 4)
        for (int64_t r0 = 0; r0 < j->R; r0 += 4) {
            switch (j->R - r0 >= 4 ? 4 : j->R - r0) {
            case 1: small_f32_1(j->y, j->x, j->W, j->K, j->ldy, o, r0); break;
            case 2: small_f32_2(j->y, j->x, j->W, j->K, j->ldy, o, r0); break;
            case 3: small_f32_3(j->y, j->x, j->W, j->K, j->ldy, o, r0); break;
            default: small_f32_4(j->y, j->x, j->W, j->K, j->ldy, o, r0); break;
            }
        }
}

/* y (R, N) = x (R, K) · Wᵀ, W (N, K) row-major F32, N a multiple of 4, 1 <= R <= SMALL_MAX_ROWS: AVX-512 where
 * the CPU has it, else AVX2 (gemv for R = 1) */
static void small_f32(float *y, const float *x, const float *W, int64_t R, int64_t K, int64_t N, int64_t ldy,
                      bool avx512, s2_pool *pool) {
    f32_job j = {.y = y, .x = x, .W = W, .R = R, .K = K, .N = N, .ldy = ldy, .avx512 = avx512};
    j.rows = rows_per_chunk(pool, N, (size_t)K * sizeof(float), R, R == 1 && avx512 && N % 8 == 0 ? 8 : 4);
    s2_pool_for(pool, (N + j.rows - 1) / j.rows, f32_chunk, &j);
}

s2_status s2_matmul_path(float *y, const float *x, const s2_weight *w, int64_t R, s2_scratch *scratch,
                         s2_pool *pool, s2_matmul_way way) {
    if (w->type == S2_TYPE_F32 || way == S2_MATMUL_AUTO) return s2_matmul(y, x, w, R, scratch, pool);
    return way == S2_MATMUL_DOT ? matmul_dot(y, x, w, R, scratch, pool) : matmul_tiles(y, x, w, R, scratch, pool);
}

/* Whether (R, K) x (N, K)ᵀ goes through small_f32 rather than sgemm. */
static bool small_f32_fits(int64_t R, int64_t K, int64_t N) {
    return R >= 1 && R <= SMALL_MAX_ROWS && N % 4 == 0 && K >= 64 && (have_avx512() || have_avx2());
}

s2_status s2_matmul(float *y, const float *x, const s2_weight *w, int64_t R, s2_scratch *scratch, s2_pool *pool) {
    if (w->type == S2_TYPE_F32 && small_f32_fits(R, w->n_in, w->n_out)) {
        small_f32(y, x, w->data, R, w->n_in, w->n_out, w->n_out, have_avx512(), pool);
        return S2_OK;
    }
    if (w->type == S2_TYPE_F32) {
        const float *W = w->data;
        if (R == 1) /* never sgemm with M = 1: MACHINE.md measured it 6-9x slower than sgemv */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)w->n_out, (int)w->n_in, 1.0f, W, (int)w->n_in, x, 1, 0.0f,
                        y, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)w->n_out, (int)w->n_in, 1.0f, x,
                        (int)w->n_in, W, (int)w->n_in, 0.0f, y, (int)w->n_out);
        return S2_OK;
    }
    return R <= dot_max_rows(w) ? matmul_dot(y, x, w, R, scratch, pool)
                                      : matmul_tiles(y, x, w, R, scratch, pool);
}

void s2_matmul_naive(float *y, const float *x, const s2_weight *w, int64_t R) {
    float *row = malloc((size_t)w->n_in * sizeof(float));
    S2_ASSERT(row != NULL);
    for (int64_t o = 0; o < w->n_out; o++) {
        s2_dequantize_row_naive(w->type, (const char *)w->data + (size_t)o * w->row_bytes, row, w->n_in);
        for (int64_t r = 0; r < R; r++) {
            double acc = 0;
            for (int64_t i = 0; i < w->n_in; i++) acc += (double)row[i] * (double)x[r * w->n_in + i];
            y[r * w->n_out + o] = (float)acc;
        }
    }
    free(row);
}

/* ---- softmax's exponentials ----
 * The attention of a small model (stories260K: head_dim 8) spends a third of its instructions in scalar expf, one
 * call per (head, position). Here 8 at a time: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two parts so that
 * n ln2 is exact), e^r by Cephes' degree-6 polynomial (~1 ulp), times 2^n built in the exponent bits; x below
 * -87.3 (where e^x is no longer a normal float) gives 0, a nan stays a nan. */
#define AVX2E __attribute__((target("avx2,fma"), optimize("O3")))
AVX2E static inline __m256 exp8_avx2(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(lo, x); /* a nan x stays (max_ps returns its second operand when either is nan) */
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

AVX2E static float exp_sum_avx2(float *s, int64_t n, float mx) {
    __m256 vm = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + i), vm));
        _mm256_storeu_ps(s + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum256_ps(acc);
    for (; i < n; i++) {
        s[i] = expf(s[i] - mx);
        sum += s[i];
    }
    return sum;
}

float s2_exp_sum(float *s, int64_t n, float mx) {
    if (have_avx2()) return exp_sum_avx2(s, n, mx);
    return s2_exp_sum_naive(s, n, mx);
}

float s2_exp_sum_naive(float *s, int64_t n, float mx) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        s[i] = expf(s[i] - mx);
        sum += s[i];
    }
    return sum;
}

/* ---- element-wise ---- */

void s2_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    ss /= (float)n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int64_t i = 0; i < n; i++) out[i] = w[i] * (ss * x[i]);
}

void s2_rope(float *v, int32_t hd, const float *cos_sin, s2_rope_kind kind) {
    int32_t half = hd / 2;
    for (int32_t j = 0; j < half; j++) {
        float c = cos_sin[2 * j], s = cos_sin[2 * j + 1];
        int32_t a = kind == S2_ROPE_PAIRS ? 2 * j : j;
        int32_t b = kind == S2_ROPE_PAIRS ? 2 * j + 1 : j + half;
        float v0 = v[a], v1 = v[b];
        v[a] = v0 * c - v1 * s;
        v[b] = v0 * s + v1 * c;
    }
}

void s2_swiglu(float *h, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void s2_geglu_tanh(float *h, const float *g, const float *u, int64_t n) {
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = 0; i < n; i++) {
        float x = g[i];
        h[i] = 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x))) * u[i];
    }
}
