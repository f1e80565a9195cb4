/* Tensor types: the type table, F16/BF16 conversions (special values, ties, an exhaustive round trip), fast
 * dequantization against the naive twins bit for bit at every SIMD level, quantization error bounds and
 * hand-computed blocks, and vec_dot against a double-precision dot of the naive dequantization. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"
#include "sys2.h"
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
/* the types with SIMD dequantization; from Q4_K on a nan may come back with another payload */
static const int32_t deq_types[] = {S2_TYPE_F32,  S2_TYPE_F16,  S2_TYPE_BF16, S2_TYPE_Q8_0,
                                    S2_TYPE_Q4_0, S2_TYPE_Q4_K, S2_TYPE_Q5_K, S2_TYPE_Q6_K};
#define N_SUPPORTED (int)(sizeof supported / sizeof supported[0])

START_TEST(test_quant_dequantize_matches_naive)
{
    int32_t best = s2_quant_set_simd(-1);
    rng_state = 99;
    const int64_t n = 256 * 5; /* also leaves a tail for the 8- and 16-wide loops of the float types */
    for (int32_t level = 0; level <= best; level++) {
        ck_assert_int_eq(s2_quant_set_simd(level), level);
        for (int ti = 0; ti < (int)(sizeof deq_types / sizeof deq_types[0]); ti++) {
            int32_t type = deq_types[ti];
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
                        ck_assert_msg(fbits(fast[i]) == fbits(ref[i]) || (isnan(fast[i]) && isnan(ref[i]) && ti >= 5), "%s level %d elem %lld: %08x vs %08x",
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
    const int64_t n = 256 * 7; /* a multiple of every block, Q8_K's 256 included */
    float *x = malloc(n * 4);
    uint8_t *ref = malloc(n * 4), *got = malloc(n * 4);
    const int32_t types[] = {S2_TYPE_Q8_0, S2_TYPE_Q4_0, S2_TYPE_F16, S2_TYPE_BF16, S2_TYPE_Q8_K};
    for (int rep = 0; rep < 40; rep++) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t r = rnd();
            x[i] = ldexpf(rnd_unit(), (int)(r % 30) - 15);
            if (rep % 4 == 3 && r % 97 == 0) x[i] = bitsf(rnd()); /* any bit pattern: nan, inf, subnormal */
            if (rep % 4 == 2) /* amax 127 makes id = 1, so the halves are exact rounding ties */
                x[i] = i % 32 == 0 ? 127.0f : (float)((int)(r % 255) - 127) * 0.5f;
            if (rep % 8 == 5) /* ties in magnitude between +3 and -3: the first one sets Q8_K's sign */
                x[i] = i % 64 == 7 ? (i % 128 == 7 ? -3.0f : 3.0f) : (float)((int)(r % 61) - 30) * 0.1f;
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

/* Stored weight blocks may hold -128, which our quantizer never writes: the integer sums must still be exact.
 * Activations are s2_quantize_row's, in [-127, 127] (quant.h), so x takes the extremes +-127. */
START_TEST(test_quant_vec_dot_extreme_int8)
{
    int32_t best = s2_quant_set_simd(-1);
    uint8_t a[34 * 4], x[34 * 4], a4[18 * 4];
    int8_t xv[32];
    for (int j = 0; j < 32; j++) xv[j] = (int8_t)(j % 3 == 0 ? -127 : 127);
    for (int b = 0; b < 4; b++) {
        a[b * 34] = 0x00, a[b * 34 + 1] = 0x3c; /* d = 1 */
        x[b * 34] = 0x00, x[b * 34 + 1] = 0x3c;
        a4[b * 18] = 0x00, a4[b * 18 + 1] = 0x3c;
        for (int j = 0; j < 32; j++) {
            a[b * 34 + 2 + j] = 0x80; /* -128 */
            x[b * 34 + 2 + j] = (uint8_t)xv[j];
        }
        for (int j = 0; j < 16; j++) a4[b * 18 + 2 + j] = 0x0f; /* low nibbles 15 (+7), high 0 (-8) */
    }
    /* the sums in plain integer arithmetic: a = -128 everywhere; q4 elements 0..15 are +7, 16..31 are -8 */
    long want8 = 0, want4 = 0;
    for (int j = 0; j < 32; j++) {
        want8 += -128L * xv[j];
        want4 += (j < 16 ? 7L : -8L) * xv[j];
    }
    for (int32_t level = 0; level <= best; level++) {
        s2_quant_set_simd(level);
        ck_assert_float_eq(s2_vec_dot(S2_TYPE_Q8_0, a, x, 128), (float)(4 * want8));
        ck_assert_float_eq(s2_vec_dot(S2_TYPE_Q4_0, a4, x, 128), (float)(4 * want4));
        /* -128 * 127 in every pair: the largest pair sum maddubs meets (2 * 128 * 127 < 32767) */
        uint8_t xp[34 * 4];
        memcpy(xp, x, sizeof xp);
        for (int b = 0; b < 4; b++)
            for (int j = 0; j < 32; j++) xp[b * 34 + 2 + j] = 0x81; /* -127 */
        ck_assert_float_eq(s2_vec_dot(S2_TYPE_Q8_0, a, xp, 128), 4 * 32 * 16256.0f);
    }
    s2_quant_set_simd(-1);
}
END_TEST

/* ---- the types beyond Q8_0/Q4_0 ---- */

/* Every type sys2 reads but does not write, with the byte offsets of its F16 scales in a block. */
static const struct { int32_t type; int d_off[2]; } read_only[] = {
    {S2_TYPE_Q2_K, {80, 82}}, {S2_TYPE_Q3_K, {108, -1}}, {S2_TYPE_IQ4_NL, {0, -1}}, {S2_TYPE_IQ4_XS, {0, -1}}};
static const int32_t kq_all[] = {S2_TYPE_Q4_1, S2_TYPE_Q5_0, S2_TYPE_Q5_1, S2_TYPE_Q2_K, S2_TYPE_Q3_K, S2_TYPE_Q4_K,
                                 S2_TYPE_Q5_K, S2_TYPE_Q6_K, S2_TYPE_IQ4_NL, S2_TYPE_IQ4_XS};
#define N_KQ (int)(sizeof kq_all / sizeof kq_all[0])

/* A row of n elements of type: quantized from random floats where sys2 writes the type, otherwise random bytes
 * with finite random F16 scales. */
static void random_row(int32_t type, uint8_t *row, int64_t n) {
    size_t bytes = s2_type_row_size(type, n);
    if (s2_type_writable(type)) {
        float *w = malloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) w[i] = rnd_unit() * 0.1f * (i % 13 == 0 ? 4.0f : 1.0f);
        ck_assert_int_eq(s2_quantize_row(type, w, row, n), S2_OK);
        free(w);
        return;
    }
    for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)rnd();
    for (size_t k = 0; k < sizeof read_only / sizeof read_only[0]; k++) {
        if (read_only[k].type != type) continue;
        size_t bb = s2_type_block_bytes(type);
        for (size_t b = 0; b < bytes / bb; b++)
            for (int o = 0; o < 2; o++)
                if (read_only[k].d_off[o] >= 0) {
                    uint16_t h = s2_fp32_to_fp16(rnd_unit() * 0.01f);
                    memcpy(row + b * bb + read_only[k].d_off[o], &h, 2);
                }
    }
}

/* Each new type's dot product (at every SIMD level) against a double-precision dot of the naive dequantization
 * of both operands; the SIMD levels bit for bit equal to the naive twin. */
START_TEST(test_quant_kquant_dot_matches_naive_and_double)
{
    int32_t best = s2_quant_set_simd(-1);
    rng_state = 4242;
    for (int ti = 0; ti < N_KQ; ti++) {
        int32_t type = kq_all[ti], xt = s2_vec_dot_type(type);
        for (int64_t nb = 1; nb <= 12; nb += 5) {
            int64_t n = nb * 256;
            uint8_t *row = malloc(s2_type_row_size(type, n)), *xq = malloc(s2_type_row_size(xt, n));
            float *xf = malloc((size_t)n * 4), *wd = malloc((size_t)n * 4), *xd = malloc((size_t)n * 4);
            for (int rep = 0; rep < 8; rep++) {
                random_row(type, row, n);
                for (int64_t i = 0; i < n; i++) xf[i] = rnd_unit() * (rep % 2 ? 30.0f : 1.0f);
                if (rep == 7) xf[n / 2] = -40.0f * 127.0f; /* a lone extreme: Q8_K's -128 */
                ck_assert_int_eq(s2_quantize_row(xt, xf, xq, n), S2_OK);
                s2_dequantize_row_naive(type, row, wd, n);
                ck_assert_int_eq(s2_dequantize_row(xt, xq, xd, n), S2_OK);
                double ref = 0, mag = 0;
                for (int64_t i = 0; i < n; i++) {
                    ref += (double)wd[i] * xd[i];
                    mag += fabs((double)wd[i] * xd[i]);
                }
                /* Q8_1's s is d * sum(q) rounded to F16: the weight's min multiplies that rounding (llama.cpp's
                 * scheme), up to half an F16 step of s per block */
                double extra = 0;
                if (xt == S2_TYPE_Q8_1)
                    for (int64_t b = 0; b < n / 32; b++) {
                        uint16_t hm, hs;
                        memcpy(&hm, row + b * s2_type_block_bytes(type) + 2, 2);
                        memcpy(&hs, xq + b * 36 + 2, 2);
                        extra += fabs((double)s2_fp16_to_fp32(hm) * s2_fp16_to_fp32(hs)) * ldexp(1, -11);
                    }
                s2_quant_set_simd(0);
                float naive = s2_vec_dot(type, row, xq, n);
                ck_assert_msg(fabs(naive - ref) <= 1e-5 * mag + extra + 1e-30, "%s n %lld: %.9g vs %.9g (mag %g)",
                              s2_type_name(type), (long long)n, (double)naive, ref, mag);
                for (int32_t level = 1; level <= best; level++) {
                    s2_quant_set_simd(level);
                    float got = s2_vec_dot(type, row, xq, n);
                    ck_assert_msg(fbits(got) == fbits(naive), "%s level %d n %lld: %a vs naive %a", s2_type_name(type),
                                  level, (long long)n, (double)got, (double)naive);
                }
            }
            free(row);
            free(xq);
            free(xf);
            free(wd);
            free(xd);
        }
    }
    s2_quant_set_simd(-1);
}
END_TEST

/* The four-row kernels give each row the bits of the same level's one-row dot (and the level falls back to none
 * where it has no four-row kernel). */
START_TEST(test_quant_dot4_matches_dot)
{
    int32_t best = s2_quant_set_simd(-1);
    rng_state = 777;
    const int64_t n = 32 * 37, most = 256 * 5;
    const int32_t types[] = {S2_TYPE_Q8_0, S2_TYPE_Q4_0, S2_TYPE_Q4_K, S2_TYPE_Q6_K};
    float *xf = malloc((size_t)most * 4), *wf = malloc((size_t)most * 4 * 4);
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        int64_t nn = s2_type_block(types[t]) == 256 ? most : n;
        int32_t xt = s2_vec_dot_type(types[t]);
        size_t rs = s2_type_row_size(types[t], nn) + 6; /* rows at a stride that is not the row size */
        uint8_t *rows = calloc(4, rs), *xq = malloc(s2_type_row_size(xt, nn));
        for (int rep = 0; rep < 6; rep++) {
            for (int64_t i = 0; i < nn; i++) xf[i] = rnd_unit() * (rep % 2 ? 40.0f : 1.0f);
            for (int64_t i = 0; i < 4 * nn; i++) wf[i] = rnd_unit();
            for (int i = 0; i < 4; i++) ck_assert_int_eq(s2_quantize_row(types[t], wf + i * nn, rows + i * rs, nn), S2_OK);
            if (rep == 5) rows[rs + 2] = 0x80; /* a -128 weight */
            ck_assert_int_eq(s2_quantize_row(xt, xf, xq, nn), S2_OK);
            for (int32_t level = 0; level <= best; level++) {
                s2_quant_set_simd(level);
                s2_dot4_fn d4 = s2_vec_dot4_fn(types[t]);
                if (d4 == NULL) continue;
                float y[4];
                d4(y, rows, rs, xq, nn);
                for (int i = 0; i < 4; i++) {
                    float one = s2_vec_dot(types[t], rows + i * rs, xq, nn);
                    ck_assert_msg(fbits(y[i]) == fbits(one), "%s level %d row %d: %a vs %a", s2_type_name(types[t]),
                                  level, i, (double)y[i], (double)one);
                }
            }
            s2_quant_set_simd(-1);
        }
        free(rows);
        free(xq);
    }
    /* the AVX2 level has them for Q8_0 and Q4_0; the naive level never does */
    s2_quant_set_simd(0);
    ck_assert_ptr_null(s2_vec_dot4_fn(S2_TYPE_Q8_0));
    s2_quant_set_simd(-1);
    if (best >= 1) {
        s2_quant_set_simd(1);
        ck_assert_ptr_nonnull(s2_vec_dot4_fn(S2_TYPE_Q8_0));
        ck_assert_ptr_nonnull(s2_vec_dot4_fn(S2_TYPE_Q4_0));
        s2_quant_set_simd(-1);
    }
    free(xf);
    free(wf);
}
END_TEST

/* Packed rows (issue 12), Q4_0 and Q5_0: the layout holds the same bytes (unpack(pack(rows)) == rows), and the
 * group kernel of every level gives each row the naive twin's bits on the plain rows (s2_vec_dot at the naive
 * level), for quantized rows and for rows of random bytes (every nibble and fifth bit); shapes that do not fit and
 * types without a layout are refused. */
START_TEST(test_quant_packed_rows_match_naive)
{
    int32_t best = s2_quant_set_simd(-1);
    rng_state = 4242;
    const int32_t types[] = {S2_TYPE_Q4_0, S2_TYPE_Q5_0};
    const int64_t ns[] = {32, 96, 32 * 37}; /* one block, an odd count, many */
    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
            int32_t type = types[t];
            int64_t n = ns[k], n_out = 24;
            size_t rs = s2_type_row_size(type, n), bs = s2_type_block_bytes(type);
            float *wf = malloc((size_t)n * sizeof(float)), *xf = malloc((size_t)n * sizeof(float));
            uint8_t *rows = malloc(rs * (size_t)n_out), *packed = malloc(rs * (size_t)n_out);
            uint8_t *back = malloc(rs * (size_t)n_out), *xq = malloc(s2_type_row_size(S2_TYPE_Q8_0, n));
            for (int rep = 0; rep < 4; rep++) {
                for (int64_t o = 0; o < n_out; o++) {
                    for (int64_t i = 0; i < n; i++) wf[i] = rnd_unit() * (float)(1 + o % 5) * (rep == 3 ? 1e4f : 1.0f);
                    ck_assert_int_eq(s2_quantize_row(type, wf, rows + (size_t)o * rs, n), S2_OK);
                }
                if (rep == 2) /* random bytes after each block's scale */
                    for (size_t i = 0; i < rs * (size_t)n_out; i++)
                        if (i % bs >= 2) rows[i] = (uint8_t)(rnd_unit() * 128.0f + 128.0f);
                for (int64_t i = 0; i < n; i++) xf[i] = rnd_unit() * (rep % 2 ? 50.0f : 1.0f);
                ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_0, xf, xq, n), S2_OK);
                ck_assert_int_eq(s2_pack_rows(type, rows, rs, n_out, n, packed), S2_OK);
                ck_assert_int_eq(s2_unpack_rows(type, packed, n_out, n, back, rs), S2_OK);
                ck_assert(memcmp(rows, back, rs * (size_t)n_out) == 0);
                float naive[24];
                s2_quant_set_simd(0);
                for (int64_t o = 0; o < n_out; o++) naive[o] = s2_vec_dot(type, rows + (size_t)o * rs, xq, n);
                for (int32_t level = 0; level <= best; level++) {
                    s2_quant_set_simd(level);
                    s2_dot8_fn d8 = s2_vec_dot8_fn(type);
                    ck_assert_ptr_nonnull(d8);
                    for (int64_t g = 0; g < n_out / S2_PACK_ROWS; g++) {
                        float y[S2_PACK_ROWS];
                        d8(y, packed + (size_t)g * S2_PACK_ROWS * rs, xq, n);
                        for (int i = 0; i < S2_PACK_ROWS; i++)
                            ck_assert_msg(fbits(y[i]) == fbits(naive[g * S2_PACK_ROWS + i]),
                                          "%s n=%lld rep %d level %d row %lld: %a vs naive %a", s2_type_name(type),
                                          (long long)n, rep, level, (long long)(g * S2_PACK_ROWS + i), (double)y[i],
                                          (double)naive[g * S2_PACK_ROWS + i]);
                    }
                }
                s2_quant_set_simd(-1);
            }
            free(wf);
            free(xf);
            free(rows);
            free(packed);
            free(back);
            free(xq);
        }
    uint8_t buf[22 * 8 * 2];
    ck_assert_int_eq(s2_pack_rows(S2_TYPE_Q4_0, buf, 18, 12, 32, buf), S2_E_ARG); /* 12 rows: not whole groups */
    ck_assert_int_eq(s2_pack_rows(S2_TYPE_Q5_0, buf, 22, 8, 40, buf), S2_E_ARG);  /* not whole blocks */
    ck_assert_int_eq(s2_pack_rows(S2_TYPE_Q8_0, buf, 34, 8, 32, buf), S2_E_UNSUPPORTED);
    ck_assert(s2_type_packable(S2_TYPE_Q4_0) && s2_type_packable(S2_TYPE_Q5_0));
    ck_assert(!s2_type_packable(S2_TYPE_Q8_0));
    ck_assert_ptr_null(s2_vec_dot8_fn(S2_TYPE_Q6_K));
}
END_TEST

/* The activation types: Q8_K keeps the sums of each 16 q's and rounds ties to even; Q8_1's s = d * sum(q). */
START_TEST(test_quant_activation_types)
{
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = (float)(i % 16) - 7.5f; /* amax 7.5 at i = 0: -127 / -7.5 scale */
    x[0] = -7.5f;
    uint8_t q[292];
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_K, x, q, 256), S2_OK);
    float d;
    memcpy(&d, q, 4);
    ck_assert_float_eq_tol(d, 7.5f / 127.0f, 1e-9);
    ck_assert_int_eq((int8_t)q[4], -127);
    for (int g = 0; g < 16; g++) {
        int16_t bs, want = 0;
        memcpy(&bs, q + 260 + 2 * g, 2);
        for (int j = 0; j < 16; j++) want = (int16_t)(want + (int8_t)q[4 + 16 * g + j]);
        ck_assert_int_eq(bs, want);
    }
    /* x = -0.5 * 7.5 / 127 * k ... a value of exactly half a step rounds to the even level */
    float y[256] = {0};
    y[0] = 127.0f;
    y[1] = 2.5f; /* scale -1: -2.5 -> -2 (even) */
    y[2] = 3.5f; /* -> -4 */
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_K, y, q, 256), S2_OK);
    ck_assert_int_eq((int8_t)q[4 + 1], -2);
    ck_assert_int_eq((int8_t)q[4 + 2], -4);
    float z[32];
    for (int i = 0; i < 32; i++) z[i] = (float)i * 0.25f;
    uint8_t q1[36];
    ck_assert_int_eq(s2_quantize_row(S2_TYPE_Q8_1, z, q1, 32), S2_OK);
    int sum = 0;
    for (int i = 0; i < 32; i++) sum += (int8_t)q1[4 + i];
    uint16_t hd, hs;
    memcpy(&hd, q1, 2);
    memcpy(&hs, q1 + 2, 2);
    ck_assert_uint_eq(hs, s2_fp32_to_fp16((float)sum * (7.75f / 127.0f)));
    ck_assert_uint_eq(hd, s2_fp32_to_fp16(7.75f / 127.0f));
}
END_TEST

/* Hand-made blocks whose values follow from the layout alone: one Q4_K, Q6_K and Q5_0 block each. */
START_TEST(test_quant_hand_computed_new_blocks)
{
    /* Q4_K: d = 1, dmin = 0.5; group 0 scale 2 min 3 (low 6 bits of bytes 0 and 4); group 5 scale 17 = 0x11
     * (low nibble 1 in byte 9, high bits 01 in bits 6-7 of byte 1), min 33 = 0x21 (nibble 1 in byte 9's top,
     * bits 10 in byte 5's bits 6-7) */
    uint8_t k4[144] = {0};
    uint16_t one = 0x3c00, half = 0x3800;
    memcpy(k4, &one, 2);
    memcpy(k4 + 2, &half, 2);
    k4[4 + 0] = 2;
    k4[4 + 4] = 3;
    k4[4 + 9] = 0x11;
    k4[4 + 1] = 1 << 6;
    k4[4 + 5] = 2 << 6;
    k4[16 + 0] = 0x57;  /* element 0 (group 0): 7; element 32 (group 1, scale 0... byte 1's low bits = 0) */
    k4[16 + 64 + 3] = 0xa0; /* qs[64 + 3] is pair (4, 5): element 4*32+3 low nibble 0, element 5*32+3 high nibble 10 */
    float y[256];
    ck_assert_int_eq(s2_dequantize_row(S2_TYPE_Q4_K, k4, y, 256), S2_OK);
    ck_assert_float_eq(y[0], 2.0f * 7 - 0.5f * 3);
    ck_assert_float_eq(y[1], -1.5f);
    ck_assert_float_eq(y[5 * 32 + 3], 17.0f * 10 - 0.5f * 33);
    ck_assert_float_eq(y[5 * 32 + 4], -0.5f * 33);
    /* Q6_K: d = 1, scale of group 0 = -3, element 0: low nibble 5 (ql[0]), high bits 2 (qh[0] bits 0-1): q = 37
     * -> 5; element 64 (slot 2, group 4, scale 7): high nibble of ql[0] = 0xc, qh[0] bits 4-5 = 1: q = 28 -> -4 */
    uint8_t k6[210] = {0};
    k6[0] = 0xc5;
    k6[128] = 0x02 | 0x10;
    k6[192] = (uint8_t)-3;
    k6[192 + 4] = 7;
    memcpy(k6 + 208, &one, 2);
    ck_assert_int_eq(s2_dequantize_row(S2_TYPE_Q6_K, k6, y, 256), S2_OK);
    ck_assert_float_eq(y[0], -3.0f * 5);
    ck_assert_float_eq(y[64], 7.0f * -4);
    ck_assert_float_eq(y[1], -3.0f * -32);
    /* Q5_0: d = 1; element 3 low nibble 9 with qh bit 3 set: 25 - 16 = 9; element 19: high nibble 2, bit 19
     * clear: 2 - 16 = -14 */
    uint8_t q5[22] = {0};
    memcpy(q5, &one, 2);
    uint32_t qh = 1u << 3;
    memcpy(q5 + 2, &qh, 4);
    q5[6 + 3] = 0x29;
    ck_assert_int_eq(s2_dequantize_row(S2_TYPE_Q5_0, q5, y, 32), S2_OK);
    ck_assert_float_eq(y[3], 9.0f);
    ck_assert_float_eq(y[19], -14.0f);
    ck_assert_float_eq(y[0], -16.0f);
}
END_TEST

/* The quantizers of the new types take inf, nan and zero rows without a crash or undefined behaviour (UBSan in
 * `make asan`), and a zero row dequantizes to zeros. */
START_TEST(test_quant_new_quantizers_take_specials)
{
    const int32_t types[] = {S2_TYPE_Q4_1, S2_TYPE_Q5_0, S2_TYPE_Q5_1, S2_TYPE_Q4_K, S2_TYPE_Q5_K, S2_TYPE_Q6_K,
                             S2_TYPE_Q8_1, S2_TYPE_Q8_K};
    float x[512], y[512];
    uint8_t q[1024];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (int i = 0; i < 512; i++) x[i] = i % 5 == 0 ? INFINITY : i % 7 == 0 ? NAN : i % 3 == 0 ? -INFINITY : 1.0f;
        ck_assert_int_eq(s2_quantize_row(types[t], x, q, 512), S2_OK);
        ck_assert_int_eq(s2_dequantize_row(types[t], q, y, 512), S2_OK);
        for (int i = 0; i < 512; i++) x[i] = 0.0f;
        ck_assert_int_eq(s2_quantize_row(types[t], x, q, 512), S2_OK);
        ck_assert_int_eq(s2_dequantize_row(types[t], q, y, 512), S2_OK);
        for (int i = 0; i < 512; i++) ck_assert_msg(y[i] == 0.0f, "%s: zero row gives %g", s2_type_name(types[t]), (double)y[i]);
        for (int i = 0; i < 512; i++) x[i] = 1e30f * (i % 2 ? 1.0f : -1.0f); /* scales past F16: inf, no crash */
        ck_assert_int_eq(s2_quantize_row(types[t], x, q, 512), S2_OK);
    }
}
END_TEST

/* ---- llama.cpp's files and references (../shared/models/quant, ../shared/reference/quant) ---- */

/* Every file llama-quantize made, with the max |logit - llama.cpp| the reference README recommends. */
static const struct { const char *name; double tol; } shared_files[] = {
    {"f32", 1e-4},    {"f16", 3e-3},    {"bf16", 0.03},   {"q8_0", 0.12},   {"q4_0", 0.12},  {"q4_1", 0.12},
    {"q5_0", 0.12},   {"q5_1", 0.12},   {"q2_k", 0.15},   {"q3_k_m", 0.15}, {"q4_k_s", 0.15}, {"q4_k_m", 0.15},
    {"q5_k_s", 0.15}, {"q5_k_m", 0.15}, {"q6_k", 0.15},   {"iq4_nl", 0.12}, {"iq4_xs", 0.15},
};
#define N_SHARED (int)(sizeof shared_files / sizeof shared_files[0])

static json_t *load_json(const char *rel, const char *test) {
    const char *path = t_shared(rel, test);
    if (path == NULL) return NULL;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", path, je.text);
    return j;
}

static int32_t ids_of(json_t *arr, int32_t *ids, int32_t cap) {
    int32_t n = (int32_t)json_array_size(arr);
    ck_assert(n <= cap);
    for (int32_t i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    return n;
}

/* The dequantized rows equal gguf-py's (== on float32), and the whole tensor's sum its checksum to 1e-6. */
START_TEST(test_quant_shared_dequant_matches_gguf_py)
{
    for (int f = 1; f < N_SHARED; f++) { /* f32 has no dequant file */
        char rel[256];
        snprintf(rel, sizeof rel, "reference/quant/tiny-%s.dequant.json", shared_files[f].name);
        json_t *j = load_json(rel, "quant_shared_dequant");
        if (j == NULL) return;
        snprintf(rel, sizeof rel, "models/quant/tiny-%s.gguf", shared_files[f].name);
        const char *path = t_shared(rel, "quant_shared_dequant");
        ck_assert_ptr_nonnull(path);
        s2_gguf *g = NULL;
        s2_error err = {0};
        ck_assert_msg(s2_gguf_open(path, &g, &err) == S2_OK, "%s", err.msg);
        json_t *ts = json_object_get(j, "tensors");
        ck_assert_int_eq(json_array_size(ts), 4);
        for (size_t k = 0; k < json_array_size(ts); k++) {
            json_t *t = json_array_get(ts, k);
            const char *name = json_string_value(json_object_get(t, "name"));
            const s2_gguf_tensor *gt = s2_gguf_find_tensor(g, name);
            ck_assert_ptr_nonnull(gt);
            ck_assert_int_eq(gt->type, s2_type_from_name(json_string_value(json_object_get(t, "type"))));
            int64_t n = gt->ne[0], rows = gt->nbytes / s2_type_row_size(gt->type, n);
            float *y = malloc((size_t)n * sizeof(float));
            json_t *rws = json_object_get(t, "rows");
            double sum = 0;
            for (int64_t r = 0; r < rows; r++) {
                const uint8_t *src = (const uint8_t *)gt->data + (size_t)r * s2_type_row_size(gt->type, n);
                ck_assert_int_eq(s2_dequantize_row(gt->type, src, y, n), S2_OK);
                for (int64_t i = 0; i < n; i++) sum += y[i];
                if (r < (int64_t)json_array_size(rws)) {
                    json_t *want = json_array_get(rws, (size_t)r);
                    ck_assert_int_eq(json_array_size(want), n);
                    for (int64_t i = 0; i < n; i++) {
                        float w = (float)json_number_value(json_array_get(want, (size_t)i));
                        ck_assert_msg(y[i] == w, "%s %s row %lld elem %lld: %.9g vs %.9g", shared_files[f].name, name,
                                      (long long)r, (long long)i, (double)y[i], (double)w);
                    }
                    /* the naive twin gives the same bits */
                    float *z = malloc((size_t)n * sizeof(float));
                    s2_dequantize_row_naive(gt->type, src, z, n);
                    ck_assert_mem_eq(z, y, (size_t)n * sizeof(float));
                    free(z);
                }
            }
            double want_sum = json_number_value(json_object_get(t, "sum"));
            ck_assert_msg(fabs(sum - want_sum) <= 1e-6 * fabs(want_sum), "%s %s: sum %.12g vs %.12g",
                          shared_files[f].name, name, sum, want_sum);
            free(y);
        }
        s2_gguf_free(g);
        json_decref(j);
    }
}
END_TEST

/* Compares n x V logits with the reference's: max abs within tol, and rel RMS <= 0.03 for quantized files. */
static void check_logits(const char *what, const float *got, json_t *ref, int32_t n, int32_t V, double tol, bool quantized) {
    double mx = 0, num = 0, den = 0;
    for (int32_t p = 0; p < n; p++) {
        json_t *row = json_array_get(ref, (size_t)p);
        ck_assert_int_eq(json_array_size(row), V);
        for (int32_t t = 0; t < V; t++) {
            double w = json_number_value(json_array_get(row, (size_t)t)), d = fabs(got[(size_t)p * V + t] - w);
            if (!(d <= mx)) mx = d;
            num += d * d;
            den += w * w;
        }
    }
    if (getenv("SYS2_TEST_VERBOSE")) /* the README's figures */
        fprintf(stderr, "quant: %-34s max abs %.2g  rel RMS %.2g (tolerance %g)\n", what, mx, sqrt(num / den), tol);
    ck_assert_msg(mx <= tol, "%s: max |logit - llama.cpp| = %g > %g", what, mx, tol);
    if (quantized) ck_assert_msg(sqrt(num / den) <= 0.03, "%s: rel RMS %g > 0.03", what, sqrt(num / den));
}

/* `sys2 logits --ids ... --json` (one batch of 32: dequantized tiles through sgemm) and the library decoding in
 * chunks of 4 rows (the quantized dot products on stored blocks, activations as Q8_0 / Q8_1 / Q8_K) both match
 * llama.cpp's logits at every position. */
START_TEST(test_quant_shared_logits_match_llama_cpp)
{
    for (int f = 0; f < N_SHARED; f++) {
        char rel[256], cmd[8192];
        snprintf(rel, sizeof rel, "reference/quant/tiny-%s.logits.json", shared_files[f].name);
        json_t *ref = load_json(rel, "quant_shared_logits");
        if (ref == NULL) return;
        snprintf(rel, sizeof rel, "models/quant/tiny-%s.gguf", shared_files[f].name);
        char model[4096];
        snprintf(model, sizeof model, "%s", t_shared(rel, "quant_shared_logits"));
        int32_t ids[64];
        int32_t n = ids_of(json_object_get(ref, "tokens"), ids, 64);
        ck_assert_int_eq(n, 32);
        int len = snprintf(cmd, sizeof cmd, "%s logits -m %s --threads 1 --json --ids '", t_sys2_bin(), model);
        for (int32_t i = 0; i < n; i++) len += snprintf(cmd + len, sizeof cmd - (size_t)len, "%s%d", i ? " " : "", ids[i]);
        snprintf(cmd + len, sizeof cmd - (size_t)len, "'");
        char *out = NULL;
        ck_assert_int_eq(t_run(cmd, &out), 0);
        json_error_t je;
        json_t *j = json_loads(out, 0, &je);
        ck_assert_msg(j != NULL, "%s: %s", shared_files[f].name, je.text);
        json_t *pos = json_object_get(j, "positions");
        ck_assert_int_eq(json_array_size(pos), n);
        const int32_t V = 512;
        float *got = malloc((size_t)n * V * sizeof(float));
        for (int32_t p = 0; p < n; p++) {
            json_t *lg = json_object_get(json_array_get(pos, (size_t)p), "logits");
            ck_assert_int_eq(json_array_size(lg), V);
            for (int32_t t = 0; t < V; t++) got[(size_t)p * V + t] = (float)json_number_value(json_array_get(lg, (size_t)t));
        }
        bool quantized = f >= 3;
        char what[128];
        snprintf(what, sizeof what, "%s (sys2 logits)", shared_files[f].name);
        check_logits(what, got, json_object_get(ref, "logits"), n, V, shared_files[f].tol, quantized);
        json_decref(j);
        free(out);

        s2_model *m = NULL;
        s2_error err = {0};
        ck_assert_msg(s2_model_load(model, NULL, &m, &err) == S2_OK, "%s", err.msg);
        s2_ctx_params cp = s2_ctx_default_params();
        cp.n_ctx = 128;
        cp.n_threads = 1;
        s2_ctx *ctx = NULL;
        ck_assert_msg(s2_ctx_init(m, &cp, &ctx, &err) == S2_OK, "%s", err.msg);
        s2_seq seq, seqs[4] = {0};
        bool want[4] = {true, true, true, true};
        ck_assert_int_eq(s2_seq_new(ctx, &seq, &err), S2_OK);
        for (int i = 0; i < 4; i++) seqs[i] = seq;
        for (int32_t i0 = 0; i0 < n; i0 += 4) {
            ck_assert_msg(s2_ctx_decode(ctx, seqs, ids + i0, want, 4, &err) == S2_OK, "%s", err.msg);
            for (int r = 0; r < 4; r++) memcpy(got + (size_t)(i0 + r) * V, s2_ctx_logits(ctx, r), V * sizeof(float));
        }
        snprintf(what, sizeof what, "%s (rows of 4, quantized dots)", shared_files[f].name);
        check_logits(what, got, json_object_get(ref, "logits"), n, V, shared_files[f].tol, quantized);
        s2_seq_free(ctx, seq);

        /* greedy: exact for F32/F16/BF16; for quantized files, a step where we part from llama.cpp must be a
         * near-tie (our own margin for our token over llama.cpp's within 2x the tolerance), and the paths end
         * there since their contexts differ from then on */
        int32_t prompt[16], want_toks[64];
        int32_t np = ids_of(json_object_get(ref, "greedy_prompt"), prompt, 16);
        int32_t ng = ids_of(json_object_get(ref, "greedy_tokens"), want_toks, 64);
        ck_assert_int_eq(ng, 24);
        ck_assert_int_eq(s2_seq_new(ctx, &seq, &err), S2_OK);
        s2_seq ps[16];
        for (int i = 0; i < np; i++) ps[i] = seq;
        ck_assert_msg(s2_ctx_decode(ctx, ps, prompt, NULL, np, &err) == S2_OK, "%s", err.msg);
        int32_t same = 0;
        for (int32_t k = 0; k < ng; k++) {
            const float *lg = s2_ctx_logits(ctx, 0);
            int32_t best = 0;
            for (int32_t t = 1; t < V; t++)
                if (lg[t] > lg[best]) best = t;
            if (best != want_toks[k]) {
                ck_assert_msg(quantized, "%s: greedy token %d is %d, llama.cpp's %d", shared_files[f].name, k, best,
                              want_toks[k]);
                double margin = lg[best] - lg[want_toks[k]];
                ck_assert_msg(margin <= 2 * shared_files[f].tol, "%s: greedy token %d is %d, llama.cpp's %d, margin %g",
                              shared_files[f].name, k, best, want_toks[k], margin);
                break;
            }
            same++;
            ck_assert_msg(s2_ctx_decode(ctx, &seq, &best, NULL, 1, &err) == S2_OK, "%s", err.msg);
        }
        if (!quantized) ck_assert_int_eq(same, ng);
        s2_ctx_free(ctx);
        s2_model_free(m);
        free(got);
        json_decref(ref);
    }
}
END_TEST

/* Logits of model for the 32 tokens, decoded in rows of 4 (the quantized dot products), into out (32 x 512). */
static void logits_rows4(const char *model, const int32_t *ids, int32_t n, float *out) {
    s2_model *m = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_model_load(model, NULL, &m, &err) == S2_OK, "%s", err.msg);
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = 128;
    cp.n_threads = 1;
    s2_ctx *ctx = NULL;
    ck_assert_msg(s2_ctx_init(m, &cp, &ctx, &err) == S2_OK, "%s", err.msg);
    s2_seq seq, seqs[4];
    bool want[4] = {true, true, true, true};
    ck_assert_int_eq(s2_seq_new(ctx, &seq, &err), S2_OK);
    for (int i = 0; i < 4; i++) seqs[i] = seq;
    for (int32_t i0 = 0; i0 + 4 <= n; i0 += 4) {
        ck_assert_msg(s2_ctx_decode(ctx, seqs, ids + i0, want, 4, &err) == S2_OK, "%s", err.msg);
        for (int r = 0; r < 4; r++) memcpy(out + (size_t)(i0 + r) * 512, s2_ctx_logits(ctx, r), 512 * sizeof(float));
    }
    s2_ctx_free(ctx);
    s2_model_free(m);
}

/* `sys2 quantize` of tiny-f32 gives every tensor the type llama-quantize gave it in the same mix, writes the
 * very bytes llama-quantize wrote (the same rules, in the same float order), every key it wrote, and its logits error against F32 (relative
 * RMS over 32 x 512 logits) is no worse than 1.1x llama.cpp's on llama-quantize's file (reference README). */
START_TEST(test_quant_quantize_matches_llama_quantize)
{
    static const struct { const char *mix, *file; double llama_err; } cases[] = {
        {"q8_0", "q8_0", 0.0218},     {"q4_0", "q4_0", 0.2398},     {"q4_1", "q4_1", 0.2148},
        {"q5_0", "q5_0", 0.1187},     {"q5_1", "q5_1", 0.1100},     {"q4_k_s", "q4_k_s", 0.1954},
        {"q4_k_m", "q4_k_m", 0.1942}, {"q4_k", "q4_k_m", 0.1942},   {"q5_k_s", "q5_k_s", 0.1039},
        {"q5_k_m", "q5_k_m", 0.1020}, {"q5_k", "q5_k_m", 0.1020},   {"q6_k", "q6_k", 0.0572},
    };
    json_t *ref = load_json("reference/quant/tiny-f32.logits.json", "quant_quantize");
    if (ref == NULL) return;
    char in[4096], mine[600], theirs[4096];
    snprintf(in, sizeof in, "%s", t_shared("models/quant/tiny-f32.gguf", "quant_quantize"));
    snprintf(mine, sizeof mine, "%s/q.gguf", t_tmpdir());
    int32_t ids[64];
    int32_t n = ids_of(json_object_get(ref, "tokens"), ids, 64);
    float *got = malloc((size_t)n * 512 * sizeof(float));
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/quant/tiny-%s.gguf", cases[c].file);
        snprintf(theirs, sizeof theirs, "%s", t_shared(rel, "quant_quantize"));
        s2_error err = {0};
        ck_assert_msg(s2_gguf_quantize_mix(in, mine, cases[c].mix, NULL, &err) == S2_OK, "%s", err.msg);
        s2_gguf *a = NULL, *b = NULL;
        ck_assert_int_eq(s2_gguf_open(mine, &a, &err), S2_OK);
        ck_assert_int_eq(s2_gguf_open(theirs, &b, &err), S2_OK);
        ck_assert_int_eq(s2_gguf_n_tensors(a), s2_gguf_n_tensors(b));
        int64_t ft_a = -1, ft_b = -2;
        ck_assert_int_eq(s2_gguf_get_int(a, "general.file_type", &ft_a, &err), S2_OK);
        ck_assert_int_eq(s2_gguf_get_int(b, "general.file_type", &ft_b, &err), S2_OK);
        ck_assert_int_eq(ft_a, ft_b);
        size_t same = 0, total = 0;
        for (int64_t i = 0; i < s2_gguf_n_tensors(b); i++) {
            const s2_gguf_tensor *tb = s2_gguf_tensor_at(b, i), *ta = s2_gguf_find_tensor(a, tb->name);
            ck_assert_ptr_nonnull(ta);
            ck_assert_msg(ta->type == tb->type, "%s %s: %s, llama-quantize %s", cases[c].mix, tb->name,
                          s2_type_name(ta->type), s2_type_name(tb->type));
            ck_assert_uint_eq(ta->nbytes, tb->nbytes);
            for (size_t k = 0; k < tb->nbytes; k++) same += ((const uint8_t *)ta->data)[k] == ((const uint8_t *)tb->data)[k];
            total += tb->nbytes;
        }
        ck_assert_msg(same == total, "%s: %zu of %zu bytes as llama-quantize's", cases[c].mix, same, total);
        /* and the metadata llama.cpp reads: every key of llama-quantize's file, with its type and length */
        for (int64_t i = 0; i < s2_gguf_n_kv(b); i++) {
            const s2_gguf_kv *kb = s2_gguf_kv_at(b, i), *ka = s2_gguf_find(a, kb->key);
            ck_assert_msg(ka != NULL, "%s: key %s missing", cases[c].mix, kb->key);
            ck_assert_int_eq(ka->type, kb->type);
            ck_assert_uint_eq(ka->n, kb->n);
        }
        s2_gguf_free(a);
        s2_gguf_free(b);
        logits_rows4(mine, ids, n, got);
        double num = 0, den = 0;
        json_t *lg = json_object_get(ref, "logits");
        for (int32_t p = 0; p < n; p++)
            for (int32_t t = 0; t < 512; t++) {
                double w = json_number_value(json_array_get(json_array_get(lg, (size_t)p), (size_t)t));
                num += (got[(size_t)p * 512 + t] - w) * (got[(size_t)p * 512 + t] - w);
                den += w * w;
            }
        double e = sqrt(num / den);
        if (getenv("SYS2_TEST_VERBOSE"))
            fprintf(stderr, "quant: sys2 quantize %-7s rel RMS vs F32 %.4f, llama-quantize %.4f (%.3fx); bytes equal %zu/%zu\n",
                    cases[c].mix, e, cases[c].llama_err, e / cases[c].llama_err, same, total);
        ck_assert_msg(e <= 1.1 * cases[c].llama_err, "%s: rel RMS %g vs llama-quantize's %g", cases[c].mix, e,
                      cases[c].llama_err);
        ck_assert_msg(e > 0.0, "%s: the quantized file equals F32?", cases[c].mix);
    }
    unlink(mine);
    free(got);
    json_decref(ref);
}
END_TEST

/* llama-quantize's rules on shapes the tiny files do not have: Qwen2.5-0.5B's 896-wide rows (256 does not divide
 * them: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0), rows no block divides (F16), 24 layers' use_more_bits, a tied
 * embedding (it takes the output rule), a fused QKV, norms and 1-D tensors kept. */
START_TEST(test_quant_mix_rules)
{
#define MIX(mix, name, ne0, nl, out) s2_quant_mix_tensor_type(mix, name, S2_TYPE_F32, 2, ne0, nl, out)
    ck_assert_int_eq(MIX("q4_k_m", "blk.0.attn_q.weight", 896, 24, true), S2_TYPE_Q5_0);
    ck_assert_int_eq(MIX("q5_k_m", "blk.0.attn_q.weight", 896, 24, true), S2_TYPE_Q5_1);
    ck_assert_int_eq(MIX("q4_k_m", "blk.0.attn_v.weight", 896, 24, true), S2_TYPE_Q8_0); /* Q6_K, then fallback */
    ck_assert_int_eq(MIX("q4_k_m", "blk.1.ffn_down.weight", 4864, 24, true), S2_TYPE_Q6_K); /* 4864 = 19 * 256 */
    ck_assert_int_eq(MIX("q4_k_m", "output.weight", 896, 24, true), S2_TYPE_Q8_0);
    ck_assert_int_eq(MIX("q4_k_m", "blk.0.attn_q.weight", 100, 24, true), S2_TYPE_F16);
    /* use_more_bits(i, 24): i < 3, i >= 21, and (i - 3) % 3 == 2 */
    const int more[] = {0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23};
    for (int i = 0, k = 0; i < 24; i++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", i);
        bool want = k < 12 && more[k] == i;
        k += want;
        ck_assert_int_eq(MIX("q4_k_m", name, 1024, 24, true), want ? S2_TYPE_Q6_K : S2_TYPE_Q4_K);
        ck_assert_int_eq(MIX("q4_k_s", name, 1024, 24, true), i < 4 ? S2_TYPE_Q5_K : S2_TYPE_Q4_K);
    }
    ck_assert_int_eq(MIX("q4_k_s", "blk.2.ffn_down.weight", 1024, 24, true), S2_TYPE_Q5_K); /* i < 24 / 8 */
    ck_assert_int_eq(MIX("q4_k_s", "blk.3.ffn_down.weight", 1024, 24, true), S2_TYPE_Q4_K);
    ck_assert_int_eq(MIX("q4_0", "token_embd.weight", 1024, 24, false), S2_TYPE_Q6_K); /* tied: the output */
    ck_assert_int_eq(MIX("q4_0", "token_embd.weight", 1024, 24, true), S2_TYPE_Q4_0);
    ck_assert_int_eq(MIX("q8_0", "output.weight", 1024, 24, true), S2_TYPE_Q8_0);
    ck_assert_int_eq(MIX("q4_k_m", "blk.0.attn_qkv.weight", 1024, 24, true), S2_TYPE_Q5_K);
    ck_assert_int_eq(MIX("q5_k_m", "blk.0.attn_qkv.weight", 1024, 24, true), S2_TYPE_Q6_K);
    ck_assert_int_eq(MIX("f16", "output.weight", 100, 24, true), S2_TYPE_F16);
    ck_assert_int_eq(s2_quant_mix_tensor_type("q4_k_m", "blk.0.attn_norm.weight", S2_TYPE_F32, 1, 1024, 24, true),
                     S2_TYPE_F32);
    ck_assert_int_eq(MIX("q4_k_m", "blk.0.ffn_gate_inp.weight", 1024, 24, true), S2_TYPE_F32);
    ck_assert_int_eq(MIX("q3_k_m", "output.weight", 1024, 24, true), -1); /* a mix sys2 does not write */
#undef MIX
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
    tcase_add_test(tc, test_quant_kquant_dot_matches_naive_and_double);
    tcase_add_test(tc, test_quant_activation_types);
    tcase_add_test(tc, test_quant_dot4_matches_dot);
    tcase_add_test(tc, test_quant_packed_rows_match_naive);
    tcase_add_test(tc, test_quant_hand_computed_new_blocks);
    tcase_add_test(tc, test_quant_new_quantizers_take_specials);
    tcase_add_test(tc, test_quant_mix_rules);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("shared");
    tcase_set_timeout(ts, 300);
    tcase_add_test(ts, test_quant_shared_dequant_matches_gguf_py);
    tcase_add_test(ts, test_quant_shared_logits_match_llama_cpp);
    tcase_add_test(ts, test_quant_quantize_matches_llama_quantize);
    suite_add_tcase(s, ts);
    return s;
}
