/* Tensor types: the type table, F16/BF16 conversions (special values, ties, an exhaustive round trip), fast
 * dequantization against the naive twins bit for bit at every SIMD level, quantization error bounds and
 * hand-computed blocks, and vec_dot against a double-precision dot of the naive dequantization. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "testutil.h"

static uint64_t rng_state;

static uint32_t rnd(void) { /* xorshift64*, fixed seed per test */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static float rnd_unit(void) { return (float)rnd() / 4294967296.0f * 2.0f - 1.0f; } /* [-1, 1) */

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- type table ---- */

START_TEST(test_quant_type_table)
{
    ck_assert_int_eq(s2_type_block(S2_TYPE_Q8_0), 32);
    ck_assert_uint_eq(s2_type_block_bytes(S2_TYPE_Q8_0), 34);
    ck_assert_uint_eq(s2_type_block_bytes(S2_TYPE_Q4_0), 18);
    ck_assert_uint_eq(s2_type_block_bytes(S2_TYPE_Q6_K), 210);
    ck_assert_int_eq(s2_type_block(S2_TYPE_Q4_K), 256);
    ck_assert_uint_eq(s2_type_row_size(S2_TYPE_Q8_0, 4096), 128 * 34);
    ck_assert_uint_eq(s2_type_row_size(S2_TYPE_Q8_0, 33), 0);
    ck_assert_uint_eq(s2_type_row_size(S2_TYPE_F16, 7), 14);
    ck_assert_uint_eq(s2_type_row_size(S2_TYPE_BF16, 3), 6);
    ck_assert_uint_eq(s2_type_row_size(4, 32), 0);
    ck_assert_uint_eq(s2_type_row_size(S2_TYPE_F32, INT64_MAX), 0); /* overflows size_t */
    ck_assert(!s2_type_known(4) && !s2_type_known(5) && !s2_type_known(31) && !s2_type_known(-1));
    ck_assert(!s2_type_known(S2_TYPE_COUNT) && s2_type_known(S2_TYPE_BF16) && s2_type_known(S2_TYPE_I8));
    ck_assert(s2_type_supported(S2_TYPE_Q4_0) && s2_type_supported(S2_TYPE_Q4_K) && s2_type_supported(S2_TYPE_IQ4_XS));
    ck_assert(!s2_type_supported(16) && !s2_type_supported(S2_TYPE_Q8_K) && !s2_type_supported(39)); /* iq2_xxs, mxfp4 */
    ck_assert(s2_type_writable(S2_TYPE_Q5_K) && !s2_type_writable(S2_TYPE_Q2_K) && !s2_type_writable(S2_TYPE_Q8_K));
    ck_assert_int_eq(s2_vec_dot_type(S2_TYPE_Q4_1), S2_TYPE_Q8_1);
    ck_assert_int_eq(s2_vec_dot_type(S2_TYPE_Q6_K), S2_TYPE_Q8_K);
    ck_assert_int_eq(s2_vec_dot_type(S2_TYPE_IQ4_NL), S2_TYPE_Q8_0);
    ck_assert_int_eq(s2_vec_dot_type(16), -1);
    ck_assert_str_eq(s2_type_name(S2_TYPE_Q8_0), "q8_0");
    ck_assert_ptr_null(s2_type_name(4));
    ck_assert_int_eq(s2_type_from_name("Q4_0"), S2_TYPE_Q4_0);
    ck_assert_int_eq(s2_type_from_name("bf16"), S2_TYPE_BF16);
    ck_assert_int_eq(s2_type_from_name("q9_9"), -1);
    ck_assert_int_eq(s2_vec_dot_type(S2_TYPE_Q4_0), S2_TYPE_Q8_0);
    ck_assert_int_eq(s2_vec_dot_type(S2_TYPE_BF16), S2_TYPE_F32);
}
END_TEST

/* ---- F16 / BF16 ---- */

START_TEST(test_quant_fp16_special_values)
{
    ck_assert_uint_eq(s2_fp32_to_fp16(0.0f), 0x0000);
    ck_assert_uint_eq(s2_fp32_to_fp16(-0.0f), 0x8000);
    ck_assert_uint_eq(s2_fp32_to_fp16(1.0f), 0x3c00);
    ck_assert_uint_eq(s2_fp32_to_fp16(-2.0f), 0xc000);
    ck_assert_uint_eq(s2_fp32_to_fp16(INFINITY), 0x7c00);
    ck_assert_uint_eq(s2_fp32_to_fp16(-INFINITY), 0xfc00);
    uint16_t hn = s2_fp32_to_fp16(NAN);
    ck_assert_uint_eq(hn & 0x7c00, 0x7c00);
    ck_assert_uint_ne(hn & 0x03ff, 0);
    ck_assert_uint_ne(s2_fp32_to_fp16(bitsf(0x7f800001u)) & 0x3ff, 0); /* a signalling nan stays a nan */
    ck_assert_uint_eq(s2_fp32_to_fp16(65504.0f), 0x7bff);              /* largest half */
    ck_assert_uint_eq(s2_fp32_to_fp16(65519.99f), 0x7bff);
    ck_assert_uint_eq(s2_fp32_to_fp16(65520.0f), 0x7c00); /* the tie above 65504 goes to the even: inf */
    ck_assert_uint_eq(s2_fp32_to_fp16(1e10f), 0x7c00);
    /* ties to even among normals: 1 + 2^-11 lies halfway between 0x3c00 and 0x3c01 */
    ck_assert_uint_eq(s2_fp32_to_fp16(1.0f + ldexpf(1, -11)), 0x3c00);
    ck_assert_uint_eq(s2_fp32_to_fp16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
    ck_assert_uint_eq(s2_fp32_to_fp16(nextafterf(1.0f + ldexpf(1, -11), 2.0f)), 0x3c01);
    /* subnormals: unit 2^-24 */
    ck_assert_uint_eq(s2_fp32_to_fp16(ldexpf(1, -24)), 0x0001);
    ck_assert_uint_eq(s2_fp32_to_fp16(ldexpf(1, -25)), 0x0000); /* tie between 0 and 2^-24: even */
    ck_assert_uint_eq(s2_fp32_to_fp16(nextafterf(ldexpf(1, -25), 1.0f)), 0x0001);
    ck_assert_uint_eq(s2_fp32_to_fp16(3 * ldexpf(1, -25)), 0x0002); /* tie between 1 and 2 units */
    ck_assert_uint_eq(s2_fp32_to_fp16(-5 * ldexpf(1, -25)), 0x8002);
    ck_assert_uint_eq(s2_fp32_to_fp16(ldexpf(1023, -24)), 0x03ff);
    ck_assert_uint_eq(s2_fp32_to_fp16(ldexpf(2047, -25)), 0x0400); /* rounds up into the smallest normal */
    ck_assert_uint_eq(s2_fp32_to_fp16(ldexpf(1, -14)), 0x0400);
    ck_assert_uint_eq(s2_fp32_to_fp16(1e-30f), 0x0000);

    ck_assert(s2_fp16_to_fp32(0x0001) == ldexpf(1, -24));
    ck_assert(s2_fp16_to_fp32(0x03ff) == ldexpf(1023, -24));
    ck_assert(s2_fp16_to_fp32(0x0400) == ldexpf(1, -14));
    ck_assert(s2_fp16_to_fp32(0x7bff) == 65504.0f);
    ck_assert(s2_fp16_to_fp32(0xc000) == -2.0f);
    ck_assert_uint_eq(fbits(s2_fp16_to_fp32(0x8000)), 0x80000000u);
    ck_assert(isinf(s2_fp16_to_fp32(0x7c00)) && s2_fp16_to_fp32(0xfc00) < 0);
    ck_assert(isnan(s2_fp16_to_fp32(0x7c01)) && isnan(s2_fp16_to_fp32(0xfe00)));
}
END_TEST

/* Every half converts to a float and back to itself (nans stay nans). */
START_TEST(test_quant_fp16_exhaustive_round_trip)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = s2_fp16_to_fp32((uint16_t)h);
        uint16_t back = s2_fp32_to_fp16(f);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) {
            ck_assert(isnan(f));
            ck_assert_uint_eq(back & 0x7c00, 0x7c00);
            ck_assert_uint_ne(back & 0x3ff, 0);
        } else {
            ck_assert_msg(back == h, "half %04x -> %a -> %04x", h, (double)f, back);
        }
    }
}
END_TEST

/* Random floats in the half range round to the nearest half, ties to even: checked against both neighbours in
 * double precision. */
START_TEST(test_quant_fp16_rounds_to_nearest)
{
    rng_state = 12345;
    for (int i = 0; i < 200000; i++) {
        float f = ldexpf(rnd_unit(), (int)(rnd() % 42) - 26); /* from below 2^-24 up to 2^15 */
        uint16_t h = s2_fp32_to_fp16(f);
        double v = s2_fp16_to_fp32(h), err = fabs((double)f - v);
        uint16_t mag = h & 0x7fff;
        for (int dlt = -1; dlt <= 1; dlt += 2) {
            if ((mag == 0 && dlt < 0) || mag + dlt >= 0x7c00) continue;
            uint16_t nb = (uint16_t)((h & 0x8000) | (mag + dlt));
            double e2 = fabs((double)f - (double)s2_fp16_to_fp32(nb));
            ck_assert_msg(err <= e2, "%a -> %04x, but %04x is nearer", (double)f, h, nb);
            if (err == e2) ck_assert_msg((mag & 1) == 0, "%a: tie not to even (%04x)", (double)f, h);
        }
    }
}
END_TEST

START_TEST(test_quant_bf16_values)
{
    ck_assert_uint_eq(s2_fp32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(s2_fp32_to_bf16(-0.0f), 0x8000);
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0x3f808000u)), 0x3f80); /* tie: to even */
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0x3f818000u)), 0x3f82); /* tie: to even (up) */
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0x3f808001u)), 0x3f81);
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0x3f807fffu)), 0x3f80);
    ck_assert_uint_eq(s2_fp32_to_bf16(INFINITY), 0x7f80);
    ck_assert_uint_eq(s2_fp32_to_bf16(-INFINITY), 0xff80);
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0x7f7fffffu)), 0x7f80); /* FLT_MAX rounds to inf */
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0x7f800001u)), 0x7fc0); /* signalling nan: quiet, not inf */
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0xffc00000u)), 0xffc0);
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0x00000001u)), 0x0000); /* float subnormals round like the rest */
    ck_assert_uint_eq(s2_fp32_to_bf16(bitsf(0x00018000u)), 0x0002);
    ck_assert(s2_bf16_to_fp32(0x3f80) == 1.0f);
    ck_assert(s2_bf16_to_fp32(0xc040) == -3.0f);
    ck_assert(isnan(s2_bf16_to_fp32(0x7fc0)));
}
END_TEST

/* ---- dequantization: fast paths against the naive twins, bit for bit ---- */

static const int32_t supported[] = {S2_TYPE_F32, S2_TYPE_F16, S2_TYPE_BF16, S2_TYPE_Q8_0, S2_TYPE_Q4_0};
#define N_SUPPORTED (int)(sizeof supported / sizeof supported[0])

START_TEST(test_quant_dequantize_matches_naive)
{
    int32_t best = s2_quant_set_simd(-1);
    rng_state = 99;
    const int64_t n = 32 * 37; /* also leaves a tail for the 8- and 16-wide loops of the float types */
    for (int32_t level = 0; level <= best; level++) {
        ck_assert_int_eq(s2_quant_set_simd(level), level);
        for (int ti = 0; ti < N_SUPPORTED; ti++) {
            int32_t type = supported[ti];
            size_t bytes = s2_type_row_size(type, n);
            uint8_t *src = malloc(bytes);
            float *fast = malloc((size_t)n * 4), *ref = malloc((size_t)n * 4);
            for (int rep = 0; rep < 20; rep++) {
                for (size_t i = 0; i < bytes; i++) src[i] = (uint8_t)rnd(); /* every bit pattern: nans too */
                for (int64_t off = 0; off <= 1; off++) { /* the whole row, and one block less */
                    int64_t m = n - off * s2_type_block(type) * 3;
                    ck_assert_int_eq(s2_dequantize_row(type, src, fast, m), S2_OK);
                    s2_dequantize_row_naive(type, src, ref, m);
                    for (int64_t i = 0; i < m; i++)
                        ck_assert_msg(fbits(fast[i]) == fbits(ref[i]), "%s level %d elem %lld: %08x vs %08x",
                                      s2_type_name(type), level, (long long)i, fbits(fast[i]), fbits(ref[i]));
                }
            }
            free(src);
            free(fast);
            free(ref);
        }
    }
    s2_quant_set_simd(-1);
    float out[32];
    uint8_t blk[64] = {0};
    ck_assert_int_eq(s2_dequantize_row(16, blk, out, 256), S2_E_UNSUPPORTED); /* iq2_xxs */
    ck_assert_int_eq(s2_dequantize_row(S2_TYPE_Q8_0, blk, out, 31), S2_E_ARG);
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q2_K, out, blk, 256), S2_E_UNSUPPORTED); /* read, not written */
}
END_TEST

/* ---- quantization ---- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

START_TEST(test_quant_quantize_hand_computed_blocks)
{
    float x[32] = {1.0f, -1.0f, 0.5f}; /* the rest 0 */
    uint8_t q8[34], q4[18];
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_0, x, q8, 32), S2_OK);
    /* d = 1/127 = 2^-7 * 1.00787..., mantissa 0.00787 * 1024 = 8.06 -> 8: half 0x2008 */
    ck_assert_uint_eq(rd16(q8), 0x2008);
    ck_assert_int_eq((int8_t)q8[2], 127);
    ck_assert_int_eq((int8_t)q8[3], -127);
    ck_assert_int_eq((int8_t)q8[4], 64); /* 63.5 rounds away from zero */
    for (int j = 3; j < 32; j++) ck_assert_int_eq(q8[2 + j], 0);

    float y[32] = {1.0f, -2.0f, 0.5f}; /* signed max -2: d = 0.25, id = 4 */
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q4_0, y, q4, 32), S2_OK);
    ck_assert_uint_eq(rd16(q4), 0x3400);
    ck_assert_uint_eq(q4[2], 0x8c); /* element 0: 1*4 + 8.5 -> 12; element 16: 0 -> 8 */
    ck_assert_uint_eq(q4[3], 0x80); /* -2*4 + 8.5 = 0.5 -> 0 */
    ck_assert_uint_eq(q4[4], 0x8a); /* 0.5*4 + 8.5 -> 10 */
    for (int j = 3; j < 16; j++) ck_assert_uint_eq(q4[2 + j], 0x88);
    /* the positive extreme clamps at 15: x = {-1 (the max), +1} gives d = 1/8, +1 -> 16.5 -> 15 */
    float z[32] = {-1.0f, 1.0f};
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q4_0, z, q4, 32), S2_OK);
    ck_assert_uint_eq(q4[2] & 15, 0);
    ck_assert_uint_eq(q4[3] & 15, 15);
    /* all zeros: d = 0 and every quant at its zero point */
    float zero[32] = {0};
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_0, zero, q8, 32), S2_OK);
    for (int j = 0; j < 34; j++) ck_assert_uint_eq(q8[j], 0);
    /* inf and nan inputs give some block, never a crash or UB */
    float bad[32] = {INFINITY, NAN, -INFINITY, 1.0f};
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_0, bad, q8, 32), S2_OK);
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q4_0, bad, q4, 32), S2_OK);
}
END_TEST

START_TEST(test_quant_quantize_error_bounds)
{
    rng_state = 7;
    const int64_t n = 32 * 64;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    uint8_t *q = malloc(n * 4);
    for (int ti = 0; ti < N_SUPPORTED; ti++) {
        int32_t type = supported[ti];
        for (int rep = 0; rep < 10; rep++) {
            float scale = ldexpf(1.0f, (int)(rnd() % 20) - 10);
            for (int64_t i = 0; i < n; i++) x[i] = rnd_unit() * scale * (i % 7 == 0 ? 3.0f : 1.0f);
            ck_assert_int_eq(s2_quantize_row(type, x, q, n), S2_OK);
            s2_dequantize_row_naive(type, q, y, n);
            for (int64_t b = 0; b < n / 32; b++) {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
                for (int j = 0; j < 32; j++) {
                    int64_t i = b * 32 + j;
                    double err = fabs((double)x[i] - y[i]), bound;
                    switch (type) {
                    case S2_TYPE_F32: bound = 0; break;
                    case S2_TYPE_F16: bound = fabs(x[i]) * ldexp(1, -11) + ldexp(1, -25); break;
                    case S2_TYPE_BF16: bound = fabs(x[i]) * ldexp(1, -8); break;
                    /* half a step, plus the scale's own F16 rounding times the largest quant */
                    case S2_TYPE_Q8_0: bound = amax / 127.0 * (0.5 + 127 * ldexp(1, -11)) + 1e-30; break;
                    /* a full step at the clamped end (+8 -> 7), plus the scale's F16 rounding */
                    default: bound = amax / 8.0 * (1.0 + 8 * ldexp(1, -11)) + 1e-30; break;
                    }
                    ck_assert_msg(err <= bound, "%s: x=%g y=%g err=%g bound=%g", s2_type_name(type), (double)x[i],
                                  (double)y[i], err, bound);
                }
            }
        }
    }
    free(x);
    free(y);
    free(q);
}
END_TEST

/* The SIMD quantizers write the same bytes as the scalar ones (level 0), specials included. */
START_TEST(test_quant_quantize_fast_matches_scalar)
{
    int32_t best = s2_quant_set_simd(-1);
    rng_state = 31337;
    const int64_t n = 32 * 50 + 0;
    float *x = malloc(n * 4);
    uint8_t *ref = malloc(n * 4), *got = malloc(n * 4);
    const int32_t types[] = {S2_TYPE_Q8_0, S2_TYPE_Q4_0, S2_TYPE_F16, S2_TYPE_BF16};
    for (int rep = 0; rep < 40; rep++) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t r = rnd();
            x[i] = ldexpf(rnd_unit(), (int)(r % 30) - 15);
            if (rep % 4 == 3 && r % 97 == 0) x[i] = bitsf(rnd()); /* any bit pattern: nan, inf, subnormal */
            if (rep % 4 == 2) /* amax 127 makes id = 1, so the halves are exact rounding ties */
                x[i] = i % 32 == 0 ? 127.0f : (float)((int)(r % 255) - 127) * 0.5f;
        }
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            size_t bytes = s2_type_row_size(types[t], n);
            s2_quant_set_simd(0);
            ck_assert_int_eq(s2_quantize_row(types[t], x, ref, n), S2_OK);
            for (int32_t level = 1; level <= best; level++) {
                s2_quant_set_simd(level);
                memset(got, 0xaa, bytes);
                ck_assert_int_eq(s2_quantize_row(types[t], x, got, n), S2_OK);
                for (size_t i = 0; i < bytes; i++)
                    ck_assert_msg(got[i] == ref[i], "%s level %d rep %d byte %zu: %02x vs %02x", s2_type_name(types[t]),
                                  level, rep, i, got[i], ref[i]);
            }
        }
    }
    s2_quant_set_simd(-1);
    free(x);
    free(ref);
    free(got);
}
END_TEST

/* ---- dot products ---- */

START_TEST(test_quant_vec_dot_matches_double_reference)
{
    int32_t best = s2_quant_set_simd(-1);
    rng_state = 2024;
    const int64_t sizes[] = {32, 96, 4096, 32 * 77};
    for (int32_t level = 0; level <= best; level++) {
        s2_quant_set_simd(level);
        for (int ti = 0; ti < N_SUPPORTED; ti++) {
            int32_t type = supported[ti];
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                int64_t n = sizes[si];
                if (s2_type_block(type) == 1 && si == 1) n = 1000 + 7; /* a tail for the float kernels */
                float *w = malloc(n * 4), *xf = malloc(n * 4), *wd = malloc(n * 4), *xd = malloc(n * 4);
                uint8_t *row = malloc(n * 4), *xq = malloc(n * 4);
                for (int64_t i = 0; i < n; i++) {
                    w[i] = rnd_unit() * 0.1f;
                    xf[i] = rnd_unit() * 3.0f;
                }
                ck_assert_int_eq(s2_quantize_row(type, w, row, n), S2_OK);
                s2_dequantize_row_naive(type, row, wd, n);
                const void *x = xf;
                if (s2_vec_dot_type(type) == S2_TYPE_Q8_0) {
                    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_0, xf, xq, n), S2_OK);
                    s2_dequantize_row_naive(S2_TYPE_Q8_0, xq, xd, n);
                    x = xq;
                } else {
                    memcpy(xd, xf, n * 4);
                }
                double ref = 0, mag = 0;
                for (int64_t i = 0; i < n; i++) {
                    ref += (double)wd[i] * xd[i];
                    mag += fabs((double)wd[i] * xd[i]);
                }
                float got = s2_vec_dot(type, row, x, n);
                ck_assert_msg(fabs(got - ref) <= 2e-6 * mag + 1e-30, "%s level %d n %lld: %.9g vs %.9g (mag %g)",
                              s2_type_name(type), level, (long long)n, (double)got, ref, mag);
                free(w);
                free(xf);
                free(wd);
                free(xd);
                free(row);
                free(xq);
            }
        }
    }
    s2_quant_set_simd(-1);
}
END_TEST

/* Stored blocks may hold -128, which our quantizer never writes: the integer sums must still be exact. */
START_TEST(test_quant_vec_dot_extreme_int8)
{
    int32_t best = s2_quant_set_simd(-1);
    uint8_t a[34 * 4], x[34 * 4], a4[18 * 4];
    for (int b = 0; b < 4; b++) {
        a[b * 34] = 0x00, a[b * 34 + 1] = 0x3c; /* d = 1 */
        x[b * 34] = 0x00, x[b * 34 + 1] = 0x3c;
        a4[b * 18] = 0x00, a4[b * 18 + 1] = 0x3c;
        for (int j = 0; j < 32; j++) {
            a[b * 34 + 2 + j] = 0x80; /* -128 */
            x[b * 34 + 2 + j] = (uint8_t)(j % 2 ? 0x80 : 0x7f);
        }
        for (int j = 0; j < 16; j++) a4[b * 18 + 2 + j] = 0x0f; /* low nibbles 15 (+7), high 0 (-8) */
    }
    /* per block: 16 * (-128 * -128) + 16 * (-128 * 127) = 16 * 128 = 2048 */
    /* q4: elements 0..15 are +7 against x[0..15], 16..31 are -8 against x[16..31]; x alternates 127, -128 */
    double want4 = 4 * (7.0 * (8 * 127 - 8 * 128) + -8.0 * (8 * 127 - 8 * 128));
    for (int32_t level = 0; level <= best; level++) {
        s2_quant_set_simd(level);
        ck_assert_float_eq(s2_vec_dot(S2_TYPE_Q8_0, a, x, 128), 4 * 2048.0f);
        ck_assert_float_eq(s2_vec_dot(S2_TYPE_Q8_0, a, a, 128), 4 * 32 * 16384.0f);
        ck_assert_float_eq(s2_vec_dot(S2_TYPE_Q4_0, a4, x, 128), (float)want4);
    }
    s2_quant_set_simd(-1);
}
END_TEST

T_SUITE_DECL(quant)
Suite *quant_suite(void) {
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_quant_type_table);
    tcase_add_test(tc, test_quant_fp16_special_values);
    tcase_add_test(tc, test_quant_fp16_exhaustive_round_trip);
    tcase_add_test(tc, test_quant_fp16_rounds_to_nearest);
    tcase_add_test(tc, test_quant_bf16_values);
    tcase_add_test(tc, test_quant_dequantize_matches_naive);
    tcase_add_test(tc, test_quant_quantize_hand_computed_blocks);
    tcase_add_test(tc, test_quant_quantize_error_bounds);
    tcase_add_test(tc, test_quant_quantize_fast_matches_scalar);
    tcase_add_test(tc, test_quant_vec_dot_matches_double_reference);
    tcase_add_test(tc, test_quant_vec_dot_extreme_int8);
    suite_add_tcase(s, tc);
    return s;
}
