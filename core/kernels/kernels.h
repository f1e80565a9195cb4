/* kernels.h: what the kernel files of core/kernels/ export to quant.c's type table, and nothing else: the
 * per-type functions of the types beyond F32/F16/BF16/Q8_0/Q4_0 (kquant.c: the naive twins, written from ggml's
 * published block layouts; kquant_simd.c: AVX2 and AVX-512 VNNI kernels held to them) and the row-quantizers
 * that `sys2 quantize` uses. Not a public header: callers go through quant.h.
 *
 * Block layouts (ggml-common.h; "d" and "m" are F16 unless said, QK_K = 256 elements per super-block):
 *   Q4_1   {d, m, qs[16]}                     20 B  x = d * q + m, q a nibble (element j low, j + 16 high)
 *   Q5_0   {d, qh[4], qs[16]}                 22 B  x = d * (q - 16), q = nibble | bit j of qh << 4
 *   Q5_1   {d, m, qh[4], qs[16]}              24 B  x = d * q + m
 *   Q8_1   {d, s, qs[32]}                     36 B  x = d * q, s = d * sum(q) (activations for Q4_1/Q5_1)
 *   IQ4_NL {d, qs[16]}                        18 B  x = d * kvalues[nibble]
 *   Q2_K   {scales[16], qs[64], d, dmin}      84 B  16 groups of 16: x = d * (sc & 15) * q - dmin * (sc >> 4)
 *   Q3_K   {hmask[32], qs[64], scales[12], d} 110 B 16 groups: 6-bit scales - 32, q = 2 bits - 4 * !hmask bit
 *   Q4_K   {d, dmin, scales[12], qs[128]}     144 B 8 groups of 32, 6-bit scale and min each
 *   Q5_K   {d, dmin, scales[12], qh[32], qs[128]} 176 B as Q4_K with a fifth bit from qh
 *   Q6_K   {ql[128], qh[64], scales[16] int8, d} 210 B 16 groups: x = d * sc * (q - 32), q 6 bits
 *   IQ4_XS {d, scales_h u16, scales_l[4], qs[128]} 136 B 8 groups of 32: 6-bit scale - 32, values as IQ4_NL
 *   Q8_K   {d float, qs[256], bsums[16] int16} 292 B activations for the K-quants and IQ4_XS */
#ifndef S2_KERNELS_H
#define S2_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* n elements (a multiple of the type's block) */
#define S2_KQ_TYPES(X) X(q4_1) X(q5_0) X(q5_1) X(q8_1) X(q2_k) X(q3_k) X(q4_k) X(q5_k) X(q6_k) X(q8_k) X(iq4_nl) X(iq4_xs)
#define S2_KQ_DECL_DEQ(t) void s2_kq_to_f32_##t(const void *src, float *dst, int64_t n);
S2_KQ_TYPES(S2_KQ_DECL_DEQ)
#undef S2_KQ_DECL_DEQ

/* Quantizers (ggml's reference rules, no importance matrix): the weight types sys2 writes, and Q8_1 / Q8_K for
 * activations. */
void s2_kq_from_f32_q4_1(const float *src, void *dst, int64_t n);
void s2_kq_from_f32_q5_0(const float *src, void *dst, int64_t n);
void s2_kq_from_f32_q5_1(const float *src, void *dst, int64_t n);
void s2_kq_from_f32_q8_1(const float *src, void *dst, int64_t n);
void s2_kq_from_f32_q4_k(const float *src, void *dst, int64_t n);
void s2_kq_from_f32_q5_k(const float *src, void *dst, int64_t n);
void s2_kq_from_f32_q6_k(const float *src, void *dst, int64_t n);
void s2_kq_from_f32_q8_k(const float *src, void *dst, int64_t n);

/* Naive dot products: row (stored type) . x (its vec_dot type); the integer sums exact, then one float step per
 * block in a fixed order that every SIMD twin repeats (so they agree bit for bit). */
float s2_kq_dot_q4_1(const void *row, const void *x, int64_t n);   /* x: Q8_1 */
float s2_kq_dot_q5_0(const void *row, const void *x, int64_t n);   /* x: Q8_0 */
float s2_kq_dot_q5_1(const void *row, const void *x, int64_t n);   /* x: Q8_1 */
float s2_kq_dot_iq4_nl(const void *row, const void *x, int64_t n); /* x: Q8_0 */
float s2_kq_dot_q2_k(const void *row, const void *x, int64_t n);   /* x: Q8_K from here on */
float s2_kq_dot_q3_k(const void *row, const void *x, int64_t n);
float s2_kq_dot_q4_k(const void *row, const void *x, int64_t n);
float s2_kq_dot_q5_k(const void *row, const void *x, int64_t n);
float s2_kq_dot_q6_k(const void *row, const void *x, int64_t n);
float s2_kq_dot_iq4_xs(const void *row, const void *x, int64_t n);

/* SIMD twins (kquant_simd.c; x86 only, NULL elsewhere through the table) */
float s2_kq_dot_q4_k_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_q5_k_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_q6_k_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_q4_k_avx512(const void *row, const void *x, int64_t n);
float s2_kq_dot_q5_k_avx512(const void *row, const void *x, int64_t n);
float s2_kq_dot_q6_k_avx512(const void *row, const void *x, int64_t n);
float s2_kq_dot_q2_k_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_q3_k_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_q4_1_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_q5_0_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_q5_1_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_iq4_nl_avx2(const void *row, const void *x, int64_t n);
float s2_kq_dot_iq4_xs_avx2(const void *row, const void *x, int64_t n);
void s2_kq_from_f32_q8_k_avx2(const float *src, void *dst, int64_t n); /* the same bytes as the twin */
void s2_kq_to_f32_q4_k_avx2(const void *src, float *dst, int64_t n);
void s2_kq_to_f32_q5_k_avx2(const void *src, float *dst, int64_t n);
void s2_kq_to_f32_q6_k_avx2(const void *src, float *dst, int64_t n);

#endif
