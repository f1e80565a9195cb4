/* The worker pool (core/kernels/pool.c) and the products it splits: every chunk runs exactly once for any number
 * of threads and chunks, workers do take chunks, bad arguments are refused, and s2_matmul gives the same bits
 * with 1, 2 or 3 threads (each output element is one thread's dot product, in a fixed order) on every path
 * (F32 gemv, dot products on quantized rows, dequantized tiles), and each path agrees with its double-precision
 * naive twin; the attention's vector exponentials against expf. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "pool.h"
#include "quant.h"
#include "sys2.h"
#include "testutil.h"

typedef struct count_job {
    _Atomic int32_t *hits;
    _Atomic int32_t bad_tid;
    int32_t n_threads;
    int spin; /* busy iterations per chunk, so that workers get a share */
} count_job;

static void count_chunk(void *arg, int64_t c0, int64_t c1, int32_t tid) {
    count_job *j = arg;
    if (tid < 0 || tid >= j->n_threads) atomic_store(&j->bad_tid, 1);
    volatile int sink = 0;
    for (int i = 0; i < j->spin; i++) sink += i;
    for (int64_t c = c0; c < c1; c++) atomic_fetch_add(&j->hits[c], 1);
}

START_TEST(test_pool_runs_every_chunk_once)
{
    const int32_t threads[] = {1, 2, 3, 8};
    const int64_t chunks[] = {0, 1, 2, 7, 1000, S2_POOL_MAX_CHUNKS};
    for (size_t ti = 0; ti < sizeof threads / sizeof *threads; ti++) {
        s2_pool *p = NULL;
        s2_error err = {0};
        ck_assert_int_eq(s2_pool_init(threads[ti], &p, &err), S2_OK);
        ck_assert_int_eq(s2_pool_n_threads(p), threads[ti]);
        for (size_t ci = 0; ci < sizeof chunks / sizeof *chunks; ci++)
            for (int rep = 0; rep < 3; rep++) { /* back-to-back loops reuse the job and the ticket */
                int64_t n = chunks[ci];
                _Atomic int32_t *hits = calloc((size_t)n + 1, sizeof *hits);
                ck_assert_ptr_nonnull(hits);
                count_job j = {.hits = hits, .n_threads = threads[ti], .spin = 10};
                atomic_init(&j.bad_tid, 0);
                s2_pool_for(p, n, count_chunk, &j);
                for (int64_t c = 0; c < n; c++) ck_assert_msg(atomic_load(&hits[c]) == 1, "threads %d chunks %lld: "
                                                              "chunk %lld ran %d times", threads[ti], (long long)n,
                                                              (long long)c, (int)atomic_load(&hits[c]));
                ck_assert_int_eq(atomic_load(&hits[n]), 0);
                ck_assert_int_eq(atomic_load(&j.bad_tid), 0);
                free(hits);
            }
        s2_pool_free(p);
    }
    s2_pool_for(NULL, 3, count_chunk, &(count_job){.hits = (_Atomic int32_t[3]){0}, .n_threads = 1});
    s2_pool_free(NULL);
    ck_assert_int_eq(s2_pool_n_threads(NULL), 1);
}
END_TEST

START_TEST(test_pool_workers_take_chunks)
{
    s2_pool *p = NULL;
    ck_assert_int_eq(s2_pool_init(2, &p, NULL), S2_OK);
    _Atomic int32_t hits[64];
    s2_pool_stats st = {0};
    /* chunks of a few microseconds each: within a few hundred loops the worker (awake, spinning, or woken from its
     * futex) takes some, however loaded the machine */
    for (int loop = 0; loop < 2000 && st.worker_chunks == 0; loop++) {
        for (int i = 0; i < 64; i++) atomic_init(&hits[i], 0);
        count_job j = {.hits = hits, .n_threads = 2, .spin = 20000};
        atomic_init(&j.bad_tid, 0);
        s2_pool_for(p, 64, count_chunk, &j);
        for (int i = 0; i < 64; i++) ck_assert_int_eq(atomic_load(&hits[i]), 1);
        s2_pool_stats_get(p, &st);
    }
    ck_assert_int_gt(st.worker_chunks, 0);
    ck_assert_int_gt(st.loops, 0);
    s2_pool_free(p);
}
END_TEST

START_TEST(test_pool_rejects_bad_thread_counts)
{
    s2_pool *p = (s2_pool *)1;
    s2_error err = {0};
    ck_assert_int_eq(s2_pool_init(0, &p, &err), S2_E_ARG);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err.msg, "pool: 0 threads not in [1,256]");
    ck_assert_int_eq(s2_pool_init(257, &p, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "pool: 257 threads not in [1,256]");
}
END_TEST

/* ---- products split across threads ---- */

static uint64_t rng_state;
static float rnd_unit(void) { /* xorshift64*, [-1, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((uint32_t)((rng_state * 2685821657736338717ull) >> 32)) / 4294967296.0f * 2.0f - 1.0f;
}

START_TEST(test_pool_matmul_same_bits_for_any_threads)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    /* n_in 512 (a multiple of every block), n_out 1028 (not a multiple of a chunk); large enough to be split */
    const int64_t n_in = 512, n_out = 1028;
    const int32_t types[] = {S2_TYPE_F32, S2_TYPE_F16, S2_TYPE_Q8_0, S2_TYPE_Q4_0, S2_TYPE_Q4_K, S2_TYPE_Q6_K};
    const int64_t rows[] = {1, 3, 8, 17};
    float *wf = malloc((size_t)(n_in * n_out) * sizeof(float));
    float *x = malloc((size_t)(n_in * 17) * sizeof(float));
    float *y[3], *ref = malloc((size_t)(n_out * 17) * sizeof(float));
    ck_assert_ptr_nonnull(wf);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(ref);
    for (int64_t i = 0; i < n_in * n_out; i++) wf[i] = rnd_unit();
    for (int64_t i = 0; i < n_in * 17; i++) x[i] = rnd_unit();
    s2_pool *pools[3] = {NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(s2_pool_init(k + 1, &pools[k], NULL), S2_OK);
        y[k] = malloc((size_t)(n_out * 17) * sizeof(float));
        ck_assert_ptr_nonnull(y[k]);
    }
    s2_scratch scratch = {0};
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        size_t rb = s2_type_row_size(types[ti], n_in);
        char *wq = malloc(rb * (size_t)n_out);
        ck_assert_ptr_nonnull(wq);
        for (int64_t o = 0; o < n_out; o++)
            ck_assert_int_eq(s2_quantize_row(types[ti], wf + o * n_in, wq + (size_t)o * rb, n_in), S2_OK);
        s2_weight w = {.data = wq, .type = types[ti], .n_in = n_in, .n_out = n_out, .row_bytes = rb};
        for (size_t ri = 0; ri < sizeof rows / sizeof *rows; ri++) {
            int64_t R = rows[ri];
            for (int k = 0; k < 3; k++) {
                memset(y[k], 0xff, (size_t)(n_out * R) * sizeof(float));
                ck_assert_int_eq(s2_matmul(y[k], x, &w, R, &scratch, pools[k]), S2_OK);
            }
            ck_assert_msg(memcmp(y[0], y[1], (size_t)(n_out * R) * sizeof(float)) == 0 &&
                              memcmp(y[0], y[2], (size_t)(n_out * R) * sizeof(float)) == 0,
                          "%s R=%lld: threads change the result", s2_type_name(types[ti]), (long long)R);
            /* each path against the double-precision twin: the dot path quantizes the activations (Q8_0 / Q8_K,
             * relative 1/254 per element), which bounds its difference; the tiles keep F32 activations, so only
             * the float sums' rounding remains */
            s2_matmul_naive(ref, x, &w, R);
            for (int way = S2_MATMUL_DOT; way <= S2_MATMUL_TILES; way++) {
                bool exact_x = types[ti] == S2_TYPE_F32 || types[ti] == S2_TYPE_F16 || way == S2_MATMUL_TILES;
                double tol = exact_x ? 2e-3 : 0.25;
                ck_assert_int_eq(s2_matmul_path(y[0], x, &w, R, &scratch, pools[1], (s2_matmul_way)way), S2_OK);
                for (int64_t i = 0; i < n_out * R; i++)
                    ck_assert_msg(fabs((double)y[0][i] - (double)ref[i]) <= tol, "%s R=%lld way %d [%lld]: %g vs "
                                  "naive %g", s2_type_name(types[ti]), (long long)R, way, (long long)i, y[0][i],
                                  ref[i]);
            }
        }
        free(wq);
    }
    s2_scratch_free(&scratch);
    for (int k = 0; k < 3; k++) {
        s2_pool_free(pools[k]);
        free(y[k]);
    }
    free(wf);
    free(x);
    free(ref);
}
END_TEST

/* Packed weights (Q4_0, Q5_0) through s2_matmul: the same bits for 1, 2 and 3 threads and for every batch the dot
 * path takes (both types' thresholds are above 40), and each output the naive twin's dot on the plain rows
 * (s2_vec_dot at the naive level), bit for bit. */
START_TEST(test_pool_matmul_packed_matches_naive_dot)
{
    rng_state = 0x243f6a8885a308d3ull;
    const int32_t types[] = {S2_TYPE_Q4_0, S2_TYPE_Q5_0};
    const int64_t n_in = 512, n_out = 1032, rows[] = {1, 3, 8, 12, 40};
    size_t xb = s2_type_row_size(S2_TYPE_Q8_0, n_in);
    float *wf = malloc((size_t)n_in * sizeof(float)), *x = malloc((size_t)(n_in * 40) * sizeof(float));
    float *y = malloc((size_t)(n_out * 40) * sizeof(float)), *y1 = malloc((size_t)(n_out * 40) * sizeof(float));
    char *xq = malloc(xb);
    for (int64_t i = 0; i < n_in * 40; i++) x[i] = rnd_unit();
    s2_scratch scratch = {0};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        size_t rb = s2_type_row_size(types[t], n_in);
        char *wq = malloc(rb * (size_t)n_out), *packed = malloc(rb * (size_t)n_out);
        for (int64_t o = 0; o < n_out; o++) {
            for (int64_t i = 0; i < n_in; i++) wf[i] = rnd_unit();
            ck_assert_int_eq(s2_quantize_row(types[t], wf, wq + (size_t)o * rb, n_in), S2_OK);
        }
        ck_assert_int_eq(s2_pack_rows(types[t], wq, rb, n_out, n_in, packed), S2_OK);
        s2_weight w = {.data = wq, .type = types[t], .n_in = n_in, .n_out = n_out, .row_bytes = rb, .packed = packed};
        for (int nt = 1; nt <= 3; nt++) {
            s2_pool *pool = NULL;
            ck_assert_int_eq(s2_pool_init(nt, &pool, NULL), S2_OK);
            for (size_t ri = 0; ri < sizeof rows / sizeof *rows; ri++) {
                int64_t R = rows[ri];
                ck_assert_int_eq(s2_matmul(y, x, &w, R, &scratch, pool), S2_OK);
                if (nt == 1 && ri == 0) memcpy(y1, y, (size_t)n_out * sizeof(float));
                ck_assert(memcmp(y, y1, (size_t)n_out * sizeof(float)) == 0); /* row 0 whatever R and threads */
                s2_quant_set_simd(0);
                for (int64_t r = 0; r < R; r++) {
                    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_0, x + r * n_in, xq, n_in), S2_OK);
                    for (int64_t o = 0; o < n_out; o++) {
                        float want = s2_vec_dot(types[t], wq + (size_t)o * rb, xq, n_in);
                        ck_assert_msg(memcmp(&want, &y[r * n_out + o], sizeof want) == 0,
                                      "%s threads %d R=%lld [%lld][%lld]: %a vs naive %a", s2_type_name(types[t]), nt,
                                      (long long)R, (long long)r, (long long)o, (double)y[r * n_out + o], (double)want);
                    }
                }
                s2_quant_set_simd(-1);
            }
            s2_pool_free(pool);
        }
        free(wq);
        free(packed);
    }
    s2_scratch_free(&scratch);
    free(wf);
    free(x);
    free(y);
    free(y1);
    free(xq);
}
END_TEST

/* The softmax exponentials: within 3 ulp of expf over the range attention uses (x - max <= 0), exactly 1 at the
 * maximum, 0 where e^x is no longer a normal float, and the sum within float rounding of the naive twin's. */
START_TEST(test_pool_exp_sum_matches_expf)
{
    rng_state = 12345;
    enum { N = 1003 };
    static float a[N], b[N];
    for (int rep = 0; rep < 20; rep++) {
        float mx = rnd_unit() * 10.0f;
        for (int i = 0; i < N; i++) a[i] = b[i] = mx - fabsf(rnd_unit()) * (rep < 10 ? 20.0f : 100.0f);
        a[7] = b[7] = mx;
        a[8] = b[8] = mx - 200.0f; /* underflows in both */
        float sa = s2_exp_sum(a, N, mx), sb = s2_exp_sum_naive(b, N, mx);
        ck_assert_float_eq(a[7], 1.0f);
        ck_assert_float_eq(a[8], 0.0f);
        for (int i = 0; i < N; i++) {
            double tol = 3 * (double)nextafterf(b[i], INFINITY) - 3 * (double)b[i]; /* 3 ulp of the reference */
            if (b[i] < 1.2e-38f) tol = 1.2e-38; /* below the normal range: both are 0 or tiny */
            ck_assert_msg(fabs((double)a[i] - (double)b[i]) <= tol, "rep %d [%d]: x %g: %a vs expf %a", rep, i,
                          (double)(b[i] == 0 ? 0 : logf(b[i])), (double)a[i], (double)b[i]);
        }
        ck_assert_msg(fabs((double)sa - (double)sb) <= 1e-5 * (double)sb, "sum %g vs %g", (double)sa, (double)sb);
    }
}
END_TEST

Suite *pool_suite(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pool_runs_every_chunk_once);
    tcase_add_test(tc, test_pool_workers_take_chunks);
    tcase_add_test(tc, test_pool_rejects_bad_thread_counts);
    tcase_add_test(tc, test_pool_matmul_same_bits_for_any_threads);
    tcase_add_test(tc, test_pool_matmul_packed_matches_naive_dot);
    tcase_add_test(tc, test_pool_exp_sum_matches_expf);
    suite_add_tcase(s, tc);
    return s;
}
