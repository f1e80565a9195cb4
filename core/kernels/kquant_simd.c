/* kquant_simd.c: AVX2 and AVX-512 VNNI dot products of Q4_K, Q5_K and Q6_K rows with Q8_K activations (and AVX2
 * ones of Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS), on the
 * stored blocks (the weights are read once, nothing is dequantized to floats).
 *
 * Each is held bit for bit to its naive twin in kquant.c: the integer sum of a super-block (scale * sum(q * y)
 * over its groups) is exact in int32 whichever order the lanes add it in, and the float step per super-block is
 * the twin's, in the twin's order. The two levels share one body per type (a macro over the 32-byte unsigned x
 * signed dot: maddubs + madd for AVX2, vpdpbusd for VNNI). Nothing here allocates or prints. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* an F16 through F16C: the same bits as s2_fp16_to_fp32, nans included (quant.c says why) */
AVX2 static inline float h2f(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline float q8k_d(const uint8_t *y) {
    float d;
    memcpy(&d, y, 4);
    return d;
}

/* sc * sum(u * s) per int32 lane (u unsigned 0..63, s signed, 4 byte pairs per lane), exact: AVX2 takes maddubs
 * (pairs, which cannot saturate: 63 * 128 * 2 < 32767) and madd by the 16-bit scale; VNNI takes vpdpbusd and
 * one multiply. sc16 / sc32 hold the scale of each lane in 16 / 32 bits. */
AVX2 static inline __m256i dot32s_avx2(__m256i u, __m256i s, __m256i sc16, __m256i sc32) {
    (void)sc32;
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), sc16);
}

VNNI static inline __m256i dot32s_vnni(__m256i u, __m256i s, __m256i sc16, __m256i sc32) {
    (void)sc16;
    return _mm256_mullo_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s), sc32);
}

AVX2 static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* The 6-bit scales and mins of a Q4_K / Q5_K super-block (as kquant.c's scale_min_k4, all eight at once). */
static inline void scales_mins_k4(const uint8_t *q, int sc[8], int m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 0xf) | ((q[j] >> 6) << 4);
        m[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
}

/* Q4_K (HAS_QH 0) and Q5_K (HAS_QH 1): for each pair of groups (2k, 2k + 1), 32 bytes of qs hold group 2k in
 * their low nibbles and 2k + 1 in their high ones; Q5_K's fifth bits are bits 2k and 2k + 1 of qh[0..31]. */
#define K4_DOT(NAME, ATTR, DOT32, HAS_QH, BYTES, QS_OFF)                                                    \
    ATTR float NAME(const void *row, const void *x, int64_t n) {                                             \
        const uint8_t *a = row, *y = x;                                                                      \
        const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);                                \
        float s = 0.0f;                                                                                      \
        for (int64_t i = 0; i < n / 256; i++, a += (BYTES), y += 292) {                                      \
            int sc[8], mn[8];                                                                                \
            scales_mins_k4(a + 4, sc, mn);                                                                   \
            __m256i acc = _mm256_setzero_si256();                                                            \
            __m256i qh = HAS_QH ? _mm256_loadu_si256((const __m256i *)(a + 16)) : _mm256_setzero_si256();   \
            for (int k = 0; k < 4; k++) {                                                                    \
                __m256i raw = _mm256_loadu_si256((const __m256i *)(a + (QS_OFF) + 32 * k));                 \
                __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4); \
                if (HAS_QH) {                                                                                \
                    __m256i b0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), one);                      \
                    __m256i b1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k + 1), one);                  \
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(b0, 4));                                     \
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(b1, 4));                                     \
                }                                                                                            \
                __m256i y0 = _mm256_loadu_si256((const __m256i *)(y + 4 + 64 * k));                         \
                __m256i y1 = _mm256_loadu_si256((const __m256i *)(y + 4 + 64 * k + 32));                    \
                int s0 = sc[2 * k], s1 = sc[2 * k + 1];                                                     \
                acc = _mm256_add_epi32(acc, DOT32(lo, y0, _mm256_set1_epi16((short)s0), _mm256_set1_epi32(s0))); \
                acc = _mm256_add_epi32(acc, DOT32(hi, y1, _mm256_set1_epi16((short)s1), _mm256_set1_epi32(s1))); \
            }                                                                                                \
            /* sum over groups of min * (the group's two bsums), as pairs of int16 products */              \
            __m256i m16 = _mm256_setr_epi16(mn[0], mn[0], mn[1], mn[1], mn[2], mn[2], mn[3], mn[3], mn[4],   \
                                            mn[4], mn[5], mn[5], mn[6], mn[6], mn[7], mn[7]);               \
            __m256i bs = _mm256_loadu_si256((const __m256i *)(y + 260));                                     \
            int32_t sumi = hsum_i32(acc), summ = hsum_i32(_mm256_madd_epi16(bs, m16));                       \
            float yd = q8k_d(y);                                                                             \
            s += (yd * h2f(a)) * (float)sumi - (yd * h2f(a + 2)) * (float)summ;                              \
        }                                                                                                    \
        return s;                                                                                            \
    }

K4_DOT(s2_kq_dot_q4_k_avx512, VNNI, dot32s_vnni, 0, 144, 16)
K4_DOT(s2_kq_dot_q5_k_avx512, VNNI, dot32s_vnni, 1, 176, 48)

/* ---- AVX2 K-quant kernels with the scales kept in vectors (issue 12: the scalar scale handling above cost
 * ~170 cycles a super-block; these take ~30-40). The same integer sums and the same float step as the twins. */

/* The eight 6-bit scales (bytes 0-7) and mins (8-15) of a Q4_K / Q5_K super-block, four at a time from the three
 * 32-bit words of the 12 packed bytes: scale j < 4 is the low 6 bits of byte j, scale j + 4 the low nibble of
 * byte j + 8 with byte j's top 2 bits above it; the mins likewise from bytes 4-7 and the high nibbles. */
AVX2 static inline __m128i k4_scales_mins(const uint8_t *q) {
    uint32_t w[3], o[4];
    memcpy(w, q, 12);
    o[0] = w[0] & 0x3f3f3f3fu;
    o[1] = (w[2] & 0x0f0f0f0fu) | ((w[0] >> 6) & 0x03030303u) << 4;
    o[2] = w[1] & 0x3f3f3f3fu;
    o[3] = ((w[2] >> 4) & 0x0f0f0f0fu) | ((w[1] >> 6) & 0x03030303u) << 4;
    return _mm_loadu_si128((const __m128i *)o);
}

/* pshufb pattern that broadcasts int16 lane j of each 128-bit half */
#define BCAST16(j) _mm256_set1_epi16((short)((2 * (j) + 1) << 8 | 2 * (j)))

/* (sum of a's 8 int32 lanes, sum of b's 4) with two horizontal adds */
AVX2 static inline void hsum_pair(__m256i a, __m128i b, int32_t *sa, int32_t *sb) {
    __m128i h = _mm_hadd_epi32(_mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)), b);
    h = _mm_hadd_epi32(h, h);
    *sa = _mm_cvtsi128_si32(h);
    *sb = _mm_extract_epi32(h, 1);
}

#define K4_DOT_AVX2(NAME, HAS_QH, BYTES, QS_OFF)                                                             \
    AVX2 float NAME(const void *row, const void *x, int64_t n) {                                             \
        const uint8_t *a = row, *y = x;                                                                      \
        const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);                                \
        float s = 0.0f;                                                                                      \
        for (int64_t i = 0; i < n / 256; i++, a += (BYTES), y += 292) {                                      \
            __m128i sm = k4_scales_mins(a + 4);                                                              \
            __m256i scv = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));                                \
            __m256i acc = _mm256_setzero_si256();                                                            \
            __m256i qh = HAS_QH ? _mm256_loadu_si256((const __m256i *)(a + 16)) : _mm256_setzero_si256();   \
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) { /* unrolled: the patterns are constants */  \
                __m256i raw = _mm256_loadu_si256((const __m256i *)(a + (QS_OFF) + 32 * k));                 \
                __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4); \
                if (HAS_QH) {                                                                                \
                    __m256i b0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), one);                      \
                    __m256i b1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k + 1), one);                  \
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(b0, 4));                                     \
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(b1, 4));                                     \
                }                                                                                            \
                __m256i y0 = _mm256_loadu_si256((const __m256i *)(y + 4 + 64 * k));                         \
                __m256i y1 = _mm256_loadu_si256((const __m256i *)(y + 4 + 64 * k + 32));                    \
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), _mm256_shuffle_epi8(scv, BCAST16(2 * k))); \
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), _mm256_shuffle_epi8(scv, BCAST16(2 * k + 1))); \
                acc = _mm256_add_epi32(acc, _mm256_add_epi32(p0, p1));                                       \
            }                                                                                                \
            /* min g times its two bsums: the pairs' sums (each within int16: 2 x 16 x 128) times the mins */ \
            __m256i bs = _mm256_loadu_si256((const __m256i *)(y + 260));                                     \
            __m128i bsp = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));       \
            __m128i mp = _mm_madd_epi16(bsp, _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)));                      \
            int32_t sumi, summ;                                                                              \
            hsum_pair(acc, mp, &sumi, &summ);                                                                \
            float yd = q8k_d(y);                                                                             \
            s += (yd * h2f(a)) * (float)sumi - (yd * h2f(a + 2)) * (float)summ;                              \
        }                                                                                                    \
        return s;                                                                                            \
    }

K4_DOT_AVX2(s2_kq_dot_q4_k_avx2, 0, 144, 16)
K4_DOT_AVX2(s2_kq_dot_q5_k_avx2, 1, 176, 48)

/* Q6_K on AVX2: the 16 int8 scales widened once; slot sl of half h needs scale 8h + 2sl in its low 128 bits
 * and 8h + 2sl + 1 in its high ones, one pshufb of the half's eight scales. */
AVX2 float s2_kq_dot_q6_k_avx2(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    float s = 0.0f;
    for (int64_t i = 0; i < n / 256; i++, a += 210, y += 292) {
        __m128i sc8 = _mm_loadu_si128((const __m128i *)(a + 192));
        __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i scv = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(a + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(a + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(a + 128 + 32 * h));
            __m256i nib[4] = {_mm256_and_si256(l0, m4), _mm256_and_si256(l1, m4),
                              _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                              _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4)};
#pragma GCC unroll 4
            for (int sl = 0; sl < 4; sl++) { /* unrolled: the shift counts and patterns are constants */
                __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * sl), m2);
                __m256i q = _mm256_or_si256(nib[sl], _mm256_slli_epi16(hb, 4));
                __m256i yv = _mm256_loadu_si256((const __m256i *)(y + 4 + 128 * h + 32 * sl));
                const char e0 = (char)(4 * sl), e1 = (char)(4 * sl + 1), e2 = (char)(4 * sl + 2), e3 = (char)(4 * sl + 3);
                __m256i pat = _mm256_setr_epi8(e0, e1, e0, e1, e0, e1, e0, e1, e0, e1, e0, e1, e0, e1, e0, e1,
                                               e2, e3, e2, e3, e2, e3, e2, e3, e2, e3, e2, e3, e2, e3, e2, e3);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q, yv), _mm256_shuffle_epi8(scv, pat)));
            }
        }
        __m256i bm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(y + 260)), sc16);
        int32_t sq, sb;
        hsum_pair(acc, _mm_add_epi32(_mm256_castsi256_si128(bm), _mm256_extracti128_si256(bm, 1)), &sq, &sb);
        s += (h2f(a + 208) * q8k_d(y)) * (float)(sq - 32 * sb);
    }
    return s;
}

/* Q6_K: in each half h (128 elements) slot s (32 elements) takes its low 4 bits from the nibbles of 32 bytes of
 * ql (bytes 64h + 32 (s & 1), low nibbles for s < 2) and its high 2 bits from bits 2s..2s+1 of qh[32h..]; the
 * levels are q - 32 with q unsigned 0..63, so sum((q - 32) y) = sum(q y) - 32 sum(y), the latter from bsums.
 * A slot's 32 bytes are two groups of 16: lanes 0-3 of the 8 int32 sums belong to the first, 4-7 to the second. */
#define Q6_DOT(NAME, ATTR, DOT32)                                                                            \
    ATTR float NAME(const void *row, const void *x, int64_t n) {                                             \
        const uint8_t *a = row, *y = x;                                                                      \
        const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);                                 \
        float s = 0.0f;                                                                                      \
        for (int64_t i = 0; i < n / 256; i++, a += 210, y += 292) {                                          \
            const int8_t *sc = (const int8_t *)(a + 192);                                                    \
            __m256i acc = _mm256_setzero_si256();                                                            \
            for (int h = 0; h < 2; h++) {                                                                    \
                __m256i l0 = _mm256_loadu_si256((const __m256i *)(a + 64 * h));                             \
                __m256i l1 = _mm256_loadu_si256((const __m256i *)(a + 64 * h + 32));                        \
                __m256i qh = _mm256_loadu_si256((const __m256i *)(a + 128 + 32 * h));                       \
                __m256i nib[4] = {_mm256_and_si256(l0, m4), _mm256_and_si256(l1, m4),                        \
                                  _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),                            \
                                  _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4)};                           \
                for (int sl = 0; sl < 4; sl++) {                                                             \
                    __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * sl), m2);                       \
                    __m256i q = _mm256_or_si256(nib[sl], _mm256_slli_epi16(hb, 4));                         \
                    __m256i yv = _mm256_loadu_si256((const __m256i *)(y + 4 + 128 * h + 32 * sl));          \
                    int g = 8 * h + 2 * sl;                                                                  \
                    __m256i sc16 = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));      \
                    __m256i sc32 = _mm256_set_m128i(_mm_set1_epi32(sc[g + 1]), _mm_set1_epi32(sc[g]));      \
                    acc = _mm256_add_epi32(acc, DOT32(q, yv, sc16, sc32));                                   \
                }                                                                                            \
            }                                                                                                \
            __m256i bs = _mm256_loadu_si256((const __m256i *)(y + 260));                                     \
            __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));                      \
            int32_t sumi = hsum_i32(acc) - 32 * hsum_i32(_mm256_madd_epi16(bs, sc16));                       \
            s += (h2f(a + 208) * q8k_d(y)) * (float)sumi;                                                    \
        }                                                                                                    \
        return s;                                                                                            \
    }

Q6_DOT(s2_kq_dot_q6_k_avx512, VNNI, dot32s_vnni)

/* ---- Q8_K activations (the K-quants' and IQ4_XS's dot type), once per row of every product ----
 * The same bytes as kquant.c's s2_kq_from_f32_q8_k (the tests compare them): the same signed extreme (the first
 * element of largest magnitude), the same iscale = -127 / max and the same float products, rounded with the
 * twin's magic-number trick (add 1.5 * 2^23, keep the low mantissa bits), which is exact for |v| <= 2^22; a block
 * holding a nan or an infinity goes through the twin, whose rules for them are not worth a vector path. */
AVX2 void s2_kq_from_f32_q8_k_avx2(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst;
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < n / 256; i++, b += 292, src += 256) {
        __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
        const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(INFINITY);
        for (int j = 0; j < 256; j += 8) {
            __m256 v = _mm256_andnot_ps(sign, _mm256_loadu_ps(src + j));
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, inf, _CMP_NLT_UQ)); /* nan or inf */
            m = _mm256_max_ps(m, v);
        }
        if (_mm256_movemask_ps(bad) != 0) {
            s2_kq_from_f32_q8_k(src, b, 256);
            continue;
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4), max = 0.0f, d = 0.0f;
        int8_t q[256];
        if (amax != 0.0f) {
            int j = 0;
            while (j < 255 && (src[j] < 0 ? -src[j] : src[j]) != amax) j++; /* the first of largest magnitude */
            max = src[j];
            float iscale = -127.0f / max;
            const __m256 vs = _mm256_set1_ps(iscale), magic = _mm256_set1_ps(12582912.0f);
            const __m256i mant = _mm256_set1_epi32(0x007fffff), off = _mm256_set1_epi32(0x00400000);
            for (int k = 0; k < 256; k += 32) {
                __m256i w[4];
                for (int t = 0; t < 4; t++) {
                    __m256 v = _mm256_add_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(src + k + 8 * t)), magic);
                    w[t] = _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(v), mant), off);
                }
                /* saturating packs clamp to [-128, 127] as the twin does */
                __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(w[0], w[1]), _mm256_packs_epi32(w[2], w[3]));
                _mm256_storeu_si256((__m256i *)(q + k), _mm256_permutevar8x32_epi32(bytes, perm));
            }
            d = 1.0f / iscale;
        } else {
            memset(q, 0, sizeof q);
        }
        memcpy(b, &d, 4);
        memcpy(b + 4, q, 256);
        for (int g = 0; g < 16; g++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * g));
            __m128i s16 = _mm_add_epi16(_mm_cvtepi8_epi16(v), _mm_cvtepi8_epi16(_mm_srli_si128(v, 8)));
            s16 = _mm_add_epi16(s16, _mm_srli_si128(s16, 8));
            s16 = _mm_add_epi16(s16, _mm_srli_si128(s16, 4));
            s16 = _mm_add_epi16(s16, _mm_srli_si128(s16, 2));
            int16_t sum = (int16_t)_mm_extract_epi16(s16, 0);
            memcpy(b + 260 + 2 * g, &sum, 2);
        }
    }
}

/* ---- the 32-element types: per block an exact int32 sum in vector, then the twin's float step ---- */

static const int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* A block's 16 bytes of nibbles as 32 bytes in element order: low nibbles (elements 0-15), then high (16-31). */
AVX2 static inline __m256i nibbles32(const uint8_t *qs) {
    __m128i raw = _mm_loadu_si128((const __m128i *)qs), m4 = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), _mm_and_si128(raw, m4));
}

/* 0x10 in byte j where bit j of the little-endian word at p is set (the Q5 fifth bits). */
AVX2 static inline __m256i fifth_bits(const uint8_t *p) {
    uint32_t qh;
    memcpy(&qh, p, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                          3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf), bit);
    return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), _mm256_set1_epi8(0x10));
}

/* sum(u * y) - c * sum(y) over 32 bytes (u unsigned <= 31, y signed), exact */
AVX2 static inline int32_t dot_u_minus_c(__m256i u, __m256i y, int c) {
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, y), _mm256_maddubs_epi16(_mm256_set1_epi8((char)c), y));
    return hsum_i32(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* sum(v * y) over 32 signed bytes each, exact (through int16) */
AVX2 static inline int32_t dot_i8(__m256i v, __m256i y) {
    __m256i lo = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)),
                                   _mm256_cvtepi8_epi16(_mm256_castsi256_si128(y)));
    __m256i hi = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1)),
                                   _mm256_cvtepi8_epi16(_mm256_extracti128_si256(y, 1)));
    return hsum_i32(_mm256_add_epi32(lo, hi));
}

AVX2 float s2_kq_dot_q5_0_avx2(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / 32; i++, a += 22, y += 34) {
        __m256i q = _mm256_or_si256(nibbles32(a + 6), fifth_bits(a + 2));
        int32_t acc = dot_u_minus_c(q, _mm256_loadu_si256((const __m256i *)(y + 2)), 16);
        s += (float)acc * (h2f(a) * h2f(y));
    }
    return s;
}

AVX2 float s2_kq_dot_q4_1_avx2(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / 32; i++, a += 20, y += 36) {
        int32_t acc = dot_u_minus_c(nibbles32(a + 4), _mm256_loadu_si256((const __m256i *)(y + 4)), 0);
        s += (h2f(a) * h2f(y)) * (float)acc + h2f(a + 2) * h2f(y + 2);
    }
    return s;
}

AVX2 float s2_kq_dot_q5_1_avx2(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / 32; i++, a += 24, y += 36) {
        __m256i q = _mm256_or_si256(nibbles32(a + 8), fifth_bits(a + 4));
        int32_t acc = dot_u_minus_c(q, _mm256_loadu_si256((const __m256i *)(y + 4)), 0);
        s += (h2f(a) * h2f(y)) * (float)acc + h2f(a + 2) * h2f(y + 2);
    }
    return s;
}

/* IQ4 values: the nibbles looked up in the 16-entry table (one pshufb per 128-bit lane) */
AVX2 static inline __m256i iq4_values(const uint8_t *qs) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kvalues_iq4nl));
    return _mm256_shuffle_epi8(table, nibbles32(qs));
}

AVX2 float s2_kq_dot_iq4_nl_avx2(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / 32; i++, a += 18, y += 34) {
        int32_t acc = dot_i8(iq4_values(a + 2), _mm256_loadu_si256((const __m256i *)(y + 2)));
        s += (float)acc * (h2f(a) * h2f(y));
    }
    return s;
}

AVX2 float s2_kq_dot_iq4_xs_avx2(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / 256; i++, a += 136, y += 292) {
        uint16_t sh = (uint16_t)(a[2] | a[3] << 8);
        int32_t sumi = 0;
        for (int g = 0; g < 8; g++) {
            int ls = (((a[4 + g / 2] >> (4 * (g % 2))) & 0xf) | ((sh >> (2 * g)) & 3) << 4) - 32;
            sumi += ls * dot_i8(iq4_values(a + 8 + 16 * g), _mm256_loadu_si256((const __m256i *)(y + 4 + 32 * g)));
        }
        s += (h2f(a) * q8k_d(y)) * (float)sumi;
    }
    return s;
}

/* Q2_K and Q3_K: in half h, slot s the 32 elements take bits 2s..2s+1 of qs[32h..32h+31] (Q3_K: plus bit 4h + s
 * of hmask[0..31], clear meaning -4, taken as u = q2 + 4 * bit and then - 4 * sum(y) through bsums); the slot's
 * 32 bytes are two groups of 16 with their own scales (lanes 0-3 / 4-7 of the int32 sums). */
AVX2 static inline __m256i pair_scales16(int a, int b) { return _mm256_set_m128i(_mm_set1_epi16((short)b), _mm_set1_epi16((short)a)); }

AVX2 float s2_kq_dot_q2_k_avx2(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    const __m256i m2 = _mm256_set1_epi8(3);
    float s = 0.0f;
    for (int64_t i = 0; i < n / 256; i++, a += 84, y += 292) {
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(a + 16 + 32 * h));
            for (int sl = 0; sl < 4; sl++) {
                int g = 8 * h + 2 * sl;
                __m256i u = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * sl), m2);
                __m256i yv = _mm256_loadu_si256((const __m256i *)(y + 4 + 128 * h + 32 * sl));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, yv),
                                                              pair_scales16(a[g] & 0xf, a[g + 1] & 0xf)));
            }
        }
        __m128i sc = _mm_loadu_si128((const __m128i *)a);
        __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0x0f)));
        __m256i bs = _mm256_loadu_si256((const __m256i *)(y + 260));
        int32_t sumi = hsum_i32(acc), summ = hsum_i32(_mm256_madd_epi16(bs, mins));
        float yd = q8k_d(y);
        s += (yd * h2f(a + 80)) * (float)sumi - (yd * h2f(a + 82)) * (float)summ;
    }
    return s;
}

AVX2 float s2_kq_dot_q3_k_avx2(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    float s = 0.0f;
    for (int64_t i = 0; i < n / 256; i++, a += 110, y += 292) {
        int16_t sc[16];
        const uint8_t *sb = a + 96;
        for (int g = 0; g < 16; g++) /* as kquant.c's scales_q3_k */
            sc[g] = (int16_t)((((g < 8 ? sb[g] : sb[g - 8] >> 4) & 0xf) | ((sb[8 + g % 4] >> (2 * (g / 4))) & 3) << 4) - 32);
        __m256i hm = _mm256_loadu_si256((const __m256i *)a), acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(a + 32 + 32 * h));
            for (int sl = 0; sl < 4; sl++) {
                int g = 8 * h + 2 * sl;
                __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + sl), one);
                __m256i u = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs, 2 * sl), m2), _mm256_slli_epi16(hb, 2));
                __m256i yv = _mm256_loadu_si256((const __m256i *)(y + 4 + 128 * h + 32 * sl));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, yv), pair_scales16(sc[g], sc[g + 1])));
            }
        }
        __m256i bs = _mm256_loadu_si256((const __m256i *)(y + 260)), scv = _mm256_loadu_si256((const __m256i *)sc);
        int32_t sumi = hsum_i32(acc) - 4 * hsum_i32(_mm256_madd_epi16(bs, scv));
        s += (h2f(a + 108) * q8k_d(y)) * (float)sumi;
    }
    return s;
}

/* ---- dequantization (prefill's tiles): ggml's loop order, which the compiler vectorizes; every element is the
 * twin's expression (d * sc) * q - dmin * m, so the results are the same bits ---- */

#define VEC __attribute__((target("avx2,fma,f16c"), optimize("O3")))

VEC void s2_kq_to_f32_q4_k_avx2(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 144, y += 256) {
        float d = h2f(b), dmin = h2f(b + 2);
        int sc[8], mn[8];
        scales_mins_k4(b + 4, sc, mn);
        for (int k = 0; k < 4; k++) {
            const uint8_t *q = b + 16 + 32 * k;
            float d1 = d * (float)sc[2 * k], m1 = dmin * (float)mn[2 * k];
            float d2 = d * (float)sc[2 * k + 1], m2 = dmin * (float)mn[2 * k + 1];
            for (int l = 0; l < 32; l++) y[64 * k + l] = d1 * (float)(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++) y[64 * k + 32 + l] = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

VEC void s2_kq_to_f32_q5_k_avx2(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 176, y += 256) {
        float d = h2f(b), dmin = h2f(b + 2);
        int sc[8], mn[8];
        scales_mins_k4(b + 4, sc, mn);
        const uint8_t *qh = b + 16;
        for (int k = 0; k < 4; k++) {
            const uint8_t *q = b + 48 + 32 * k;
            float d1 = d * (float)sc[2 * k], m1 = dmin * (float)mn[2 * k];
            float d2 = d * (float)sc[2 * k + 1], m2 = dmin * (float)mn[2 * k + 1];
            for (int l = 0; l < 32; l++)
                y[64 * k + l] = d1 * (float)((q[l] & 0xf) | ((qh[l] >> (2 * k)) & 1) << 4) - m1;
            for (int l = 0; l < 32; l++)
                y[64 * k + 32 + l] = d2 * (float)((q[l] >> 4) | ((qh[l] >> (2 * k + 1)) & 1) << 4) - m2;
        }
    }
}

VEC void s2_kq_to_f32_q6_k_avx2(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 210, y += 256) {
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = h2f(b + 208);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
            float *o = y + 128 * h;
            for (int l = 0; l < 32; l++) {
                int g = 8 * h + l / 16;
                int q1 = ((ql[l] & 0xf) | ((qh[l] >> 0) & 3) << 4) - 32;
                int q2 = ((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                o[l] = d * (float)sc[g] * (float)q1;
                o[l + 32] = d * (float)sc[g + 2] * (float)q2;
                o[l + 64] = d * (float)sc[g + 4] * (float)q3;
                o[l + 96] = d * (float)sc[g + 6] * (float)q4;
            }
        }
    }
}

#endif
