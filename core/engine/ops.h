/* ops.h: the forward pass's kernels (internal): matrix products over any supported weight type, RMSNorm,
 * RoPE, SwiGLU. Each BLAS-backed kernel has a *_naive twin, the tests' reference. */
#ifndef S2_OPS_H
#define S2_OPS_H

#include "model.h"
#include "pool.h"

/* Scratch that grows on demand; one per context (kernels are called by one thread, parallel inside). */
typedef struct s2_scratch {
    void *buf;
    size_t cap;
} s2_scratch;
void *s2_scratch_get(s2_scratch *s, size_t bytes); /* NULL on allocation failure */
void s2_scratch_free(s2_scratch *s);

/* y (R, n_out) = x (R, n_in) · Wᵀ for a weight of any supported type. F32: sgemv for R = 1, sgemm above.
 * Quantized and half types: R up to a measured threshold per type (8-24, ops.c) runs dot products on the stored
 * rows (x quantized to the weight's dot type),
 * reading each weight row once for all R rows; larger R dequantizes tiles of rows and calls sgemm. The output
 * rows are split into chunks that pool's threads take one by one (inline for small products or a NULL pool);
 * every output element is computed by one thread in a fixed order, so the result does not depend on threads.
 * Returns S2_E_NOMEM if scratch cannot grow. */
s2_status s2_matmul(float *y, const float *x, const s2_weight *w, int64_t R, s2_scratch *scratch, s2_pool *pool);
/* The same product through a path chosen by the caller (benchmarks and tests compare them; F32 ignores it). */
typedef enum s2_matmul_way { S2_MATMUL_AUTO = 0, S2_MATMUL_DOT = 1, S2_MATMUL_TILES = 2 } s2_matmul_way;
s2_status s2_matmul_path(float *y, const float *x, const s2_weight *w, int64_t R, s2_scratch *scratch,
                         s2_pool *pool, s2_matmul_way way);
void s2_matmul_naive(float *y, const float *x, const s2_weight *w, int64_t R); /* double accumulation */

/* s[i] = exp(s[i] - mx) for i < n; returns their sum. AVX2: a polynomial within ~2 ulp of expf (the naive twin
 * calls expf), 0 below -87.3, summed in 8 lanes. */
float s2_exp_sum(float *s, int64_t n, float mx);
float s2_exp_sum_naive(float *s, int64_t n, float mx);

/* out (n) = x (n) * w (n) / sqrt(mean(x²) + eps), llama2.c's order of operations. out may alias x. */
void s2_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
/* Rotates one head vector (hd) at position pos. cos_sin holds (hd/2) pairs (cos, sin) for that position. */
void s2_rope(float *v, int32_t hd, const float *cos_sin, s2_rope_kind kind);
/* h (n) = silu(g) * u */
void s2_swiglu(float *h, const float *g, const float *u, int64_t n);
/* h (n) = gelu(g) * u, GELU's tanh approximation 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g³))) (gemma) */
void s2_geglu_tanh(float *h, const float *g, const float *u, int64_t n);

#endif
