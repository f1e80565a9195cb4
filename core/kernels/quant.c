/* quant.c: tensor element types in ggml's numbering: the one table of type traits (at the end of the file: a type
 * is one row), F16/BF16 conversions, the F32/F16/BF16/Q8_0/Q4_0 kernels, the packed layout of the nibble types
 * (Q4_0, Q5_0: rows interleaved eight at a time) with its kernels, and the dispatch that picks a row's kernel for
 * the SIMD level in use (the other types' kernels are in kquant.c and kquant_simd.c).
 *
 * Block layouts are ggml's (ggml-common.h). The fast kernels pick AVX2/FMA or AVX-512 code at run time
 * (__builtin_cpu_supports), so the build needs no -march flag; each has a scalar fallback and a naive twin
 * written from the published layout alone, which the tests hold the fast paths to. Nothing here allocates,
 * prints, or knows about GGUF files. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "kernels.h"
#include "quant.h"

/* ---- type table (the rows are at the end of this file, after the kernels they point to) ---- */

static const s2_type_traits traits[S2_TYPE_COUNT];

const s2_type_traits *s2_type_traits_get(int32_t type) {
    return type >= 0 && type < S2_TYPE_COUNT && traits[type].name != NULL ? &traits[type] : NULL;
}

bool s2_type_known(int32_t type) { return s2_type_traits_get(type) != NULL; }

bool s2_type_supported(int32_t type) {
    const s2_type_traits *t = s2_type_traits_get(type);
    return t != NULL && t->to_f32[S2_SIMD_NAIVE] != NULL && t->dot[S2_SIMD_NAIVE] != NULL;
}

const char *s2_type_name(int32_t type) { return s2_type_known(type) ? traits[type].name : NULL; }

int32_t s2_type_from_name(const char *name) {
    if (name == NULL) return -1;
    for (int32_t t = 0; t < S2_TYPE_COUNT; t++)
        if (traits[t].name != NULL && strcasecmp(traits[t].name, name) == 0) return t;
    return -1;
}

int64_t s2_type_block(int32_t type) { return s2_type_known(type) ? traits[type].block : 0; }

size_t s2_type_block_bytes(int32_t type) { return s2_type_known(type) ? traits[type].bytes : 0; }

size_t s2_type_row_size(int32_t type, int64_t n) {
    if (!s2_type_known(type) || n < 0 || n % traits[type].block != 0) return 0;
    size_t bytes;
    if (__builtin_mul_overflow((uint64_t)(n / traits[type].block), traits[type].bytes, &bytes)) return 0;
    return bytes;
}

/* ---- F16 and BF16 ---- */

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) /* inf; nan comes back quiet with its payload, as F16C's vcvtph2ps does */
        return bits_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
    if (exp != 0) return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0) return bits_f32(sign);
    /* subnormal: mant * 2^-24; normalise so the leading 1 lands on bit 10 */
    int e = -1;
    do {
        mant <<= 1;
        e++;
    } while ((mant & 0x400) == 0);
    return bits_f32(sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ff) << 13));
}

float s2_fp16_to_fp32(uint16_t h) { return fp16_to_fp32(h); }

uint16_t s2_fp32_to_fp16(float f) {
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | (a >> 13 & 0x1ff)); /* nan stays a quiet nan */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* >= 65520 rounds to inf (and inf) */
    if (a >= 0x38800000u) { /* normal half: >= 2^-14 */
        uint32_t h = (a >> 13) - (112u << 10), rem = a & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* a carry into the exponent is still right */
        return (uint16_t)(sign | h);
    }
    if (a <= 0x33000000u) return (uint16_t)sign; /* <= 2^-25: the tie at 2^-25 goes to the even zero */
    uint32_t mant = (a & 0x7fffff) | 0x800000, shift = 126 - (a >> 23); /* 14..24 */
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float s2_bf16_to_fp32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t s2_fp32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/* ---- kernel selection ---- */

/* 0 scalar, 1 AVX2 + FMA + F16C, 2 AVX-512 (F, BW, VL, VNNI). Chosen once at load time from the CPU; tests
 * lower it with s2_quant_set_simd to hold every path to the naive twins. */
static int simd_best, simd_level;

__attribute__((constructor)) static void simd_init(void) {
    __builtin_cpu_init();
    simd_best = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        simd_best = 1;
    if (simd_best == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
        simd_best = 2;
    simd_level = simd_best;
}

int32_t s2_quant_set_simd(int32_t level) {
    simd_level = (level < 0 || level > simd_best) ? simd_best : level;
    return simd_level;
}

/* ---- block layouts (ggml-common.h) ---- */

#define QK 32 /* elements per Q8_0 / Q4_0 block */

typedef struct blk_q8_0 {
    uint16_t d;      /* F16 scale */
    int8_t qs[QK];   /* value = d * qs[j] */
} blk_q8_0;

typedef struct blk_q4_0 {
    uint16_t d;          /* F16 scale */
    uint8_t qs[QK / 2];  /* element j: low nibble of qs[j]; element j + 16: high nibble; value = d * (q - 8) */
} blk_q4_0;

_Static_assert(sizeof(blk_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(blk_q4_0) == 18, "Q4_0 block is 18 bytes");

/* Block scales are read with memcpy: rows need not be 2-byte aligned. */
static inline float blk_d(const void *blk) {
    uint16_t h;
    memcpy(&h, blk, 2);
    return fp16_to_fp32(h);
}

/* ---- float rows (F32, F16, BF16) ---- */

/* The kernels for the three float types differ only in how a row's elements become floats, so each is written
 * once over this enum and inlined with a constant elem (always_inline), one specialised copy per type. */
typedef enum elem { ELEM_F32, ELEM_F16, ELEM_BF16 } elem;

#define INLINE static inline __attribute__((always_inline))

/* Element i of a row of e, as a float. */
INLINE float elem_at(const void *row, int64_t i, elem e) {
    if (e == ELEM_F16) return fp16_to_fp32(((const uint16_t *)row)[i]);
    if (e == ELEM_BF16) return s2_bf16_to_fp32(((const uint16_t *)row)[i]);
    return ((const float *)row)[i];
}

/* ---- dequantization ---- */

static void dequant_f16_scalar(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = elem_at(src, i, ELEM_F16);
}

static void dequant_bf16_scalar(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = elem_at(src, i, ELEM_BF16);
}

static void dequant_q8_0_scalar(const blk_q8_0 *src, float *dst, int64_t n) {
    for (int64_t b = 0; b < n / QK; b++) {
        float d = blk_d(&src[b]);
        for (int j = 0; j < QK; j++) dst[b * QK + j] = d * (float)src[b].qs[j];
    }
}

static void dequant_q4_0_scalar(const blk_q4_0 *src, float *dst, int64_t n) {
    for (int64_t b = 0; b < n / QK; b++) {
        float d = blk_d(&src[b]);
        for (int j = 0; j < QK / 2; j++) {
            dst[b * QK + j] = d * (float)((src[b].qs[j] & 0x0f) - 8);
            dst[b * QK + j + QK / 2] = d * (float)((src[b].qs[j] >> 4) - 8);
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define S2_X86 1
#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* A block's F16 scale through F16C (vcvtph2ps gives the same bits as s2_fp16_to_fp32, nans included). */
AVX2 static inline float blk_d_f16c(const void *blk) {
    uint16_t h;
    memcpy(&h, blk, 2);
    return _cvtsh_ss(h);
}

/* Elements i..i+7 of a row of e as floats (BF16 is the top half of an F32). */
AVX2 INLINE __m256 load8_avx2(const void *row, int64_t i, elem e) {
    if (e == ELEM_F32) return _mm256_loadu_ps((const float *)row + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + i));
    if (e == ELEM_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

AVX2 INLINE void dequant_float_avx2(const void *src, float *dst, int64_t n, elem e) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8_avx2(src, i, e));
    for (; i < n; i++) dst[i] = elem_at(src, i, e);
}

AVX2 static void dequant_f16_avx2(const uint16_t *src, float *dst, int64_t n) {
    dequant_float_avx2(src, dst, n, ELEM_F16);
}

AVX2 static void dequant_bf16_avx2(const uint16_t *src, float *dst, int64_t n) {
    dequant_float_avx2(src, dst, n, ELEM_BF16);
}

AVX2 static void dequant_q8_0_avx2(const blk_q8_0 *src, float *dst, int64_t n) {
    for (int64_t b = 0; b < n / QK; b++) {
        __m256 d = _mm256_set1_ps(blk_d_f16c(&src[b]));
        for (int j = 0; j < QK; j += 8) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(src[b].qs + j)));
            _mm256_storeu_ps(dst + b * QK + j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
        }
    }
}

AVX2 static void dequant_q4_0_avx2(const blk_q4_0 *src, float *dst, int64_t n) {
    const __m128i lo_mask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t b = 0; b < n / QK; b++) {
        __m256 d = _mm256_set1_ps(blk_d_f16c(&src[b]));
        __m128i raw = _mm_loadu_si128((const __m128i *)src[b].qs);
        __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, lo_mask), eight);                      /* elements 0..15 */
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), lo_mask), eight);  /* 16..31 */
        float *o = dst + b * QK;
        _mm256_storeu_ps(o + 0, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
        _mm256_storeu_ps(o + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
        _mm256_storeu_ps(o + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
        _mm256_storeu_ps(o + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
    }
}
#endif


/* ---- naive twins: bytes in, one element at a time, from the published layout only ---- */

/* IEEE binary16 by its definition: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m. */
static float half_naive(uint8_t lo, uint8_t hi) {
    unsigned bits = (unsigned)lo | (unsigned)hi << 8, s = bits >> 15, e = (bits >> 10) & 31, m = bits & 1023;
    if (e == 31) {
        uint32_t u = (uint32_t)s << 31 | 0x7f800000u;
        if (m != 0) u |= 0x400000u | (uint32_t)m << 13; /* quiet nan, payload kept */
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    float mag = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(1024 + m), (int)e - 25);
    return s ? -mag : mag;
}

void s2_dequantize_row_naive(int32_t type, const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        switch (type) {
        case S2_TYPE_F32: {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                         (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &u, 4);
            break;
        }
        case S2_TYPE_F16: dst[i] = half_naive(p[2 * i], p[2 * i + 1]); break;
        case S2_TYPE_BF16: {
            uint32_t u = ((uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &u, 4);
            break;
        }
        case S2_TYPE_Q8_0: {
            const uint8_t *blk = p + (i / 32) * 34;
            dst[i] = half_naive(blk[0], blk[1]) * (float)(int8_t)blk[2 + i % 32];
            break;
        }
        case S2_TYPE_Q4_0: {
            const uint8_t *blk = p + (i / 32) * 18;
            int64_t j = i % 32;
            int q = j < 16 ? (blk[2 + j] & 15) : (blk[2 + j - 16] >> 4);
            dst[i] = half_naive(blk[0], blk[1]) * (float)(q - 8);
            break;
        }
        default: /* the other types' naive twins are their table rows (kquant.c), written the same way */
            if (s2_type_known(type) && traits[type].to_f32[S2_SIMD_NAIVE] != NULL) {
                traits[type].to_f32[S2_SIMD_NAIVE](src, dst, n);
                return;
            }
            dst[i] = NAN;
            break;
        }
    }
}

/* ---- quantization (ggml's reference rules, so files match llama.cpp's quantize) ---- */

static void quant_q8_0(const float *src, blk_q8_0 *dst, int64_t n) {
    for (int64_t b = 0; b < n / QK; b++) {
        const float *x = src + b * QK;
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = s2_fp32_to_fp16(d);
        memcpy(&dst[b].d, &h, 2);
        for (int j = 0; j < QK; j++) {
            float v = roundf(x[j] * id);
            /* finite inputs land in [-127, 127]; the clamp keeps inf/nan inputs from undefined conversions */
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : 0.0f;
            dst[b].qs[j] = (int8_t)v;
        }
    }
}

static void quant_q4_0(const float *src, blk_q4_0 *dst, int64_t n) {
    for (int64_t b = 0; b < n / QK; b++) {
        const float *x = src + b * QK;
        float amax = 0.0f, max = 0.0f; /* max: the signed value of largest magnitude (first one wins) */
        for (int j = 0; j < QK; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = s2_fp32_to_fp16(d);
        memcpy(&dst[b].d, &h, 2);
        for (int j = 0; j < QK / 2; j++) {
            float v0 = x[j] * id + 8.5f, v1 = x[j + QK / 2] * id + 8.5f;
            v0 = v0 >= 0.0f ? (v0 < 15.0f ? v0 : 15.0f) : 0.0f; /* = min(15, (int8)v) for finite x; nan -> 0 */
            v1 = v1 >= 0.0f ? (v1 < 15.0f ? v1 : 15.0f) : 0.0f;
            dst[b].qs[j] = (uint8_t)((int)v0 | (int)v1 << 4);
        }
    }
}

#ifdef S2_X86
/* The same bytes as quant_q8_0 (the tests compare them): the scale from the same float max and division, each
 * x * id rounded half away from zero as roundf does (truncate, then step out where the fraction is >= 0.5), and
 * the same clamp and nan rule. */
AVX2 static void quant_q8_0_avx2(const float *src, blk_q8_0 *dst, int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 lim = _mm256_set1_ps(127.0f), nlim = _mm256_set1_ps(-127.0f);
    for (int64_t b = 0; b < n / QK; b++) {
        const float *x = src + b * QK;
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            m = _mm256_max_ps(_mm256_andnot_ps(sign, v[k]), m); /* a nan |x| yields m, as fmaxf ignores it */
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = s2_fp32_to_fp16(d);
        memcpy(&dst[b].d, &h, 2);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 y = _mm256_mul_ps(v[k], _mm256_set1_ps(id));
            __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(y, t)), half, _CMP_GE_OQ);
            __m256 r = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(one, _mm256_and_ps(sign, y))));
            r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q)); /* nan -> 0 */
            r = _mm256_min_ps(_mm256_max_ps(r, nlim), lim);
            q[k] = _mm256_cvttps_epi32(r);
        }
        /* 32 int32 -> 32 int8 in order: packs work within 128-bit lanes, so undo their interleave */
        __m256i w01 = _mm256_packs_epi32(q[0], q[1]), w23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i bytes = _mm256_packs_epi16(w01, w23);
        bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)dst[b].qs, bytes);
    }
}

AVX2 static void quant_f16_avx2(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = s2_fp32_to_fp16(src[i]);
}
#endif


/* ---- dot products: scalar ---- */

static float dot_f32_scalar(const float *a, const float *x, int64_t n) {
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += a[i + k] * x[i + k];
    for (; i < n; i++) s[0] += a[i] * x[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* F16 and BF16: four partial sums (F32 above keeps eight). */
INLINE float dot_half_scalar(const uint16_t *a, const float *x, int64_t n, elem e) {
    float s[4] = {0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) s[k] += elem_at(a, i + k, e) * x[i + k];
    for (; i < n; i++) s[0] += elem_at(a, i, e) * x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static float dot_f16_scalar(const uint16_t *a, const float *x, int64_t n) { return dot_half_scalar(a, x, n, ELEM_F16); }

static float dot_bf16_scalar(const uint16_t *a, const float *x, int64_t n) {
    return dot_half_scalar(a, x, n, ELEM_BF16);
}

static float dot_q8_0_scalar(const blk_q8_0 *a, const blk_q8_0 *x, int64_t n) {
    float s = 0.0f;
    for (int64_t b = 0; b < n / QK; b++) {
        int32_t acc = 0;
        for (int j = 0; j < QK; j++) acc += (int32_t)a[b].qs[j] * x[b].qs[j];
        s += (float)acc * (blk_d(&a[b]) * blk_d(&x[b]));
    }
    return s;
}

static float dot_q4_0_scalar(const blk_q4_0 *a, const blk_q8_0 *x, int64_t n) {
    float s = 0.0f;
    for (int64_t b = 0; b < n / QK; b++) {
        int32_t acc = 0;
        for (int j = 0; j < QK / 2; j++)
            acc += ((a[b].qs[j] & 0x0f) - 8) * x[b].qs[j] + ((a[b].qs[j] >> 4) - 8) * x[b].qs[j + QK / 2];
        s += (float)acc * (blk_d(&a[b]) * blk_d(&x[b]));
    }
    return s;
}

/* ---- rows packed eight at a time (issue 12: a layout that one activation row streams at the memory's rate) ----
 *
 * For the 32-element nibble types: Q4_0 {d, qs[16]} and Q5_0 {d, qh[4], qs[16]} (value = d * (q - 8), d * (q - 16)
 * with q the nibble, and for Q5_0 the bit of qh above it). A group is 8 consecutive rows; for each block column it
 * holds 8 blocks' bytes: the 8 F16 scales (16 bytes, row 0 first); Q5_0's 8 qh words (32 bytes, for c = 0..3 the
 * pair row c, row c + 4); then four chunks of 32 bytes, chunk c = row c's 16 bytes of nibbles followed by row
 * c + 4's. A 256-bit register then holds two rows' block (low nibbles: elements 0-15, high: 16-31), and the eight
 * rows' sums come out of three horizontal adds in row order. Each row's sum is the naive twin's, in its order:
 * the block's exact integer sum, (float)sum * (d * dx), added in block order, no FMA. */

#define PACK_ROWS S2_PACK_ROWS

typedef struct nib_layout {
    size_t bytes, qh_off, qh, qs_off; /* a block's size, where its qh word is (qh bytes: 0 or 4), its nibbles */
} nib_layout;
static const nib_layout NIB_Q4_0 = {18, 2, 0, 2}, NIB_Q5_0 = {22, 2, 4, 6};

/* Where row r's pieces sit in a block column: its scale at 2r, its qh at 16 + qh * (2 (r % 4) + r / 4), its
 * nibbles in chunk r % 4, half r / 4. */
static inline size_t col_qh(const nib_layout *L, int r) { return 16 + L->qh * (size_t)(2 * (r % 4) + r / 4); }
static inline size_t col_qs(const nib_layout *L, int r) { return 16 + 8 * L->qh + 32 * (size_t)(r % 4) + 16 * (size_t)(r / 4); }

static void pack8_nib(const nib_layout *L, void *dst, const void *rows, size_t rs, int64_t n) {
    uint8_t *c = dst;
    for (int64_t b = 0; b < n / QK; b++, c += PACK_ROWS * L->bytes)
        for (int r = 0; r < PACK_ROWS; r++) {
            const uint8_t *a = (const uint8_t *)rows + (size_t)r * rs + (size_t)b * L->bytes;
            memcpy(c + 2 * r, a, 2);
            memcpy(c + col_qh(L, r), a + L->qh_off, L->qh);
            memcpy(c + col_qs(L, r), a + L->qs_off, QK / 2);
        }
}

static void unpack_block_nib(const nib_layout *L, const uint8_t *group, int r, int64_t b, uint8_t *a) {
    const uint8_t *c = group + (size_t)b * PACK_ROWS * L->bytes;
    memcpy(a, c + 2 * r, 2);
    memcpy(a + L->qh_off, c + col_qh(L, r), L->qh);
    memcpy(a + L->qs_off, c + col_qs(L, r), QK / 2);
}

static void unpack8_nib(const nib_layout *L, void *rows, size_t rs, const void *group, int64_t n) {
    for (int r = 0; r < PACK_ROWS; r++)
        for (int64_t b = 0; b < n / QK; b++)
            unpack_block_nib(L, group, r, b, (uint8_t *)rows + (size_t)r * rs + (size_t)b * L->bytes);
}

/* The naive twin on the packed layout: each row block by block through the type's naive dot on that one block
 * (which returns exactly its (float)sum * (d * dx)), added in block order as the twin adds them. */
static void dot8_nib_naive(const nib_layout *L, s2_dot_fn dot, float *y, const void *group, const void *x, int64_t n) {
    for (int r = 0; r < PACK_ROWS; r++) {
        float s = 0.0f;
        for (int64_t b = 0; b < n / QK; b++) {
            uint8_t a[32];
            unpack_block_nib(L, group, r, b, a);
            s += dot(a, (const blk_q8_0 *)x + b, QK);
        }
        y[r] = s;
    }
}

#ifdef S2_X86
/* ---- dot products: AVX2 + FMA ---- */

AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Four 8-lane accumulators, then a scalar tail. */
AVX2 INLINE float dot_float_avx2(const void *a, const float *x, int64_t n, elem e) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(load8_avx2(a, i, e), _mm256_loadu_ps(x + i), s0);
        s1 = _mm256_fmadd_ps(load8_avx2(a, i + 8, e), _mm256_loadu_ps(x + i + 8), s1);
        s2 = _mm256_fmadd_ps(load8_avx2(a, i + 16, e), _mm256_loadu_ps(x + i + 16), s2);
        s3 = _mm256_fmadd_ps(load8_avx2(a, i + 24, e), _mm256_loadu_ps(x + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load8_avx2(a, i, e), _mm256_loadu_ps(x + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += elem_at(a, i, e) * x[i];
    return s;
}

AVX2 static float dot_f32_avx2(const float *a, const float *x, int64_t n) { return dot_float_avx2(a, x, n, ELEM_F32); }

AVX2 static float dot_f16_avx2(const uint16_t *a, const float *x, int64_t n) {
    return dot_float_avx2(a, x, n, ELEM_F16);
}

AVX2 static float dot_bf16_avx2(const uint16_t *a, const float *x, int64_t n) {
    return dot_float_avx2(a, x, n, ELEM_BF16);
}

/* sum(a * x) over one block's 32 int8 pairs as 8 int32 lanes, exactly, for x in [-127, 127] (what quant_q8_0
 * writes: the activations): maddubs takes |a| (unsigned, up to 128) times x with a's sign, and a pair of such
 * products, at most 2 * 128 * 127 = 32512, cannot saturate int16. (A -128 in x could: x is never a weight.) */
AVX2 static inline __m256i dot_q8_i32_avx2(__m256i a, __m256i x) {
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(x, a));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* One accumulator, blocks in order: the order the four-row kernels below keep for each of their rows, so that a
 * row gives the same bits alone or in a group of four (the FMA chain's latency, ~4 cycles a block, is below the
 * memory's rate for these block sizes; the four-row kernels hide it with their four chains). */
AVX2 static float dot_q8_0_avx2(const blk_q8_0 *a, const blk_q8_0 *x, int64_t n) {
    __m256 s = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i p = dot_q8_i32_avx2(_mm256_loadu_si256((const __m256i *)a[b].qs),
                                    _mm256_loadu_si256((const __m256i *)x[b].qs));
        s = _mm256_fmadd_ps(_mm256_set1_ps(blk_d_f16c(&a[b]) * blk_d_f16c(&x[b])), _mm256_cvtepi32_ps(p), s);
    }
    return hsum256(s);
}

/* y[i] = row i . x for the 4 rows at rows + i * rs, a batch's kernel (one activation row streams faster through
 * dot_q8_0_avx2: ops.c says why): x's block and scale are loaded once for the four rows. Each row's sums are
 * dot_q8_0_avx2's, lane for lane, in its order. */
AVX2 static void dot4_q8_0_avx2(float *y, const void *rows, size_t rs, const void *xv, int64_t n) {
    const blk_q8_0 *x = xv, *a[4];
    for (int i = 0; i < 4; i++) a[i] = (const blk_q8_0 *)((const char *)rows + (size_t)i * rs);
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i xq = _mm256_loadu_si256((const __m256i *)x[b].qs);
        float dx = blk_d_f16c(&x[b]);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) { /* unrolled: the accumulators stay in registers */
            __m256i p = dot_q8_i32_avx2(_mm256_loadu_si256((const __m256i *)a[i][b].qs), xq);
            s[i] = _mm256_fmadd_ps(_mm256_set1_ps(blk_d_f16c(&a[i][b]) * dx), _mm256_cvtepi32_ps(p), s[i]);
        }
    }
    for (int i = 0; i < 4; i++) y[i] = hsum256(s[i]);
}

/* Q4_0 nibbles (0..15, unsigned) times x (signed) with maddubs cannot saturate (15 * 128 * 2 < 32767); the -8
 * offset is taken off as 8 * sum(x), also through maddubs, so the int16 difference is exact. */
AVX2 static inline __m256i q4_0_nibbles_avx2(const blk_q4_0 *a) {
    const __m128i lo_mask = _mm_set1_epi8(0x0f);
    __m128i raw = _mm_loadu_si128((const __m128i *)a->qs);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), lo_mask), _mm_and_si128(raw, lo_mask));
}

AVX2 static float dot_q4_0_avx2(const blk_q4_0 *a, const blk_q8_0 *x, int64_t n) {
    const __m256i eights = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
    __m256 s = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)x[b].qs);
        __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q4_0_nibbles_avx2(&a[b]), xv),
                                       _mm256_maddubs_epi16(eights, xv));
        s = _mm256_fmadd_ps(_mm256_set1_ps(blk_d_f16c(&a[b]) * blk_d_f16c(&x[b])),
                            _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones)), s);
    }
    return hsum256(s);
}

/* Four rows against one x, as dot4_q8_0_avx2: x's 8 * sum(x) and scale once for all four. */
AVX2 static void dot4_q4_0_avx2(float *y, const void *rows, size_t rs, const void *xv_, int64_t n) {
    const __m256i eights = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
    const blk_q8_0 *x = xv_;
    const blk_q4_0 *a[4];
    for (int i = 0; i < 4; i++) a[i] = (const blk_q4_0 *)((const char *)rows + (size_t)i * rs);
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < n / QK; b++) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)x[b].qs), x8 = _mm256_maddubs_epi16(eights, xv);
        float dx = blk_d_f16c(&x[b]);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) { /* unrolled: the accumulators stay in registers */
            __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q4_0_nibbles_avx2(&a[i][b]), xv), x8);
            s[i] = _mm256_fmadd_ps(_mm256_set1_ps(blk_d_f16c(&a[i][b]) * dx),
                                   _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones)), s[i]);
        }
    }
    for (int i = 0; i < 4; i++) y[i] = hsum256(s[i]);
}

/* 0x10 in byte j of each 128-bit half where bit j (lo: elements 0-15) or bit 16 + j (hi: 16-31) of that half's
 * row's qh word is set; w holds the chunk's two words (row c, row c + 4). */
AVX2 INLINE void fifth_bits_2rows(const uint8_t *w, __m256i *lo, __m256i *hi) {
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL), b5 = _mm256_set1_epi8(0x10);
    const __m256i s_lo = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m256i s_hi = _mm256_add_epi8(s_lo, _mm256_set1_epi8(2));
    __m256i v = _mm256_permutevar8x32_epi32(_mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)w)),
                                            _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
    __m256i l = _mm256_and_si256(_mm256_shuffle_epi8(v, s_lo), bit), h = _mm256_and_si256(_mm256_shuffle_epi8(v, s_hi), bit);
    *lo = _mm256_and_si256(_mm256_cmpeq_epi8(l, bit), b5);
    *hi = _mm256_and_si256(_mm256_cmpeq_epi8(h, bit), b5);
}

/* Eight packed rows of a nibble type against one x (the layout above): per block column, four 32-byte chunks of
 * two rows' nibbles (Q5_0: with their fifth bits); low nibbles meet x[0..15] and high ones x[16..31] in both
 * 128-bit halves; the offset (8 or 16) times sum(x) comes off in int16 (at most 2 * 2 * 31 * 127 + 4 * 16 * 127 in
 * size, within int16); three hadds leave rows 0-7 in order, and the scale step is the twin's: (float)sum *
 * (d * dx), then added. Bit for bit the naive twin. */
AVX2 INLINE void dot8_nib_avx2(const nib_layout *L, float *y, const void *group, const void *xv, int64_t n) {
    const blk_q8_0 *x = xv;
    const uint8_t *g = group;
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    const __m256i off = _mm256_set1_epi8(L->qh ? 16 : 8);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK; b++, g += PACK_ROWS * L->bytes) {
        __m256i xlo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)x[b].qs));
        __m256i xhi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x[b].qs + 16)));
        __m256i xo = _mm256_add_epi16(_mm256_maddubs_epi16(off, xlo), _mm256_maddubs_epi16(off, xhi));
        __m256i v[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i raw = _mm256_loadu_si256((const __m256i *)(g + 16 + 8 * L->qh + 32 * c));
            __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            if (L->qh) {
                __m256i blo, bhi;
                fifth_bits_2rows(g + 16 + 2 * L->qh * c, &blo, &bhi);
                lo = _mm256_or_si256(lo, blo), hi = _mm256_or_si256(hi, bhi);
            }
            __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xlo), _mm256_maddubs_epi16(hi, xhi));
            v[c] = _mm256_madd_epi16(_mm256_sub_epi16(p16, xo), ones);
        }
        __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g)), _mm256_set1_ps(blk_d_f16c(&x[b])));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(h), d));
    }
    _mm256_storeu_ps(y, acc);
}

AVX2 static void dot8_q4_0_avx2(float *y, const void *g, const void *x, int64_t n) { dot8_nib_avx2(&NIB_Q4_0, y, g, x, n); }
AVX2 static void dot8_q5_0_avx2(float *y, const void *g, const void *x, int64_t n) { dot8_nib_avx2(&NIB_Q5_0, y, g, x, n); }

/* ---- dot products: AVX-512 (F32/F16/BF16 in 16 lanes; int8 blocks through VNNI) ---- */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Elements i..i+15 of a row of e as floats. */
AVX512 INLINE __m512 load16_avx512(const void *row, int64_t i, elem e) {
    if (e == ELEM_F32) return _mm512_loadu_ps((const float *)row + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i));
    if (e == ELEM_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Four 16-lane accumulators; F32 ends with a masked tail, F16 and BF16 with a scalar one. */
AVX512 INLINE float dot_float_avx512(const void *a, const float *x, int64_t n, elem e) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(load16_avx512(a, i, e), _mm512_loadu_ps(x + i), s0);
        s1 = _mm512_fmadd_ps(load16_avx512(a, i + 16, e), _mm512_loadu_ps(x + i + 16), s1);
        s2 = _mm512_fmadd_ps(load16_avx512(a, i + 32, e), _mm512_loadu_ps(x + i + 32), s2);
        s3 = _mm512_fmadd_ps(load16_avx512(a, i + 48, e), _mm512_loadu_ps(x + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(load16_avx512(a, i, e), _mm512_loadu_ps(x + i), s0);
    if (e == ELEM_F32 && i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, (const float *)a + i), _mm512_maskz_loadu_ps(m, x + i), s1);
        i = n;
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    for (; i < n; i++) s += elem_at(a, i, e) * x[i];
    return s;
}

AVX512 static float dot_f32_avx512(const float *a, const float *x, int64_t n) {
    return dot_float_avx512(a, x, n, ELEM_F32);
}

AVX512 static float dot_f16_avx512(const uint16_t *a, const float *x, int64_t n) {
    return dot_float_avx512(a, x, n, ELEM_F16);
}

AVX512 static float dot_bf16_avx512(const uint16_t *a, const float *x, int64_t n) {
    return dot_float_avx512(a, x, n, ELEM_BF16);
}

/* sum(a * b) over 32 int8 pairs as 8 int32 lanes, exactly: vpdpbusd wants one unsigned operand, so it takes
 * (a + 128) * b and then subtracts 128 * b. */
AVX512 static inline __m256i dot_i8x32_vnni(__m256i a, __m256i b) {
    const __m256i bias = _mm256_set1_epi8((char)0x80);
    __m256i t = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_xor_si256(a, bias), b);
    return _mm256_sub_epi32(t, _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, b));
}

/* Two blocks side by side in one 512-bit register: lanes 0-7 hold block b's partial sums, 8-15 block b+1's. */
AVX512 static inline __m512i load_2x32(const int8_t *lo, const int8_t *hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
                              _mm256_loadu_si256((const __m256i *)hi), 1);
}

/* The scales of two blocks side by side (a0's times x[0]'s in lanes 0-7, a1's times x[1]'s in 8-15). */
AVX512 static inline __m512 scale_2(const void *a0, const void *a1, const blk_q8_0 *x) {
    return _mm512_mask_blend_ps((__mmask16)0xff00, _mm512_set1_ps(blk_d_f16c(a0) * blk_d_f16c(&x[0])),
                                _mm512_set1_ps(blk_d_f16c(a1) * blk_d_f16c(&x[1])));
}

/* sum(u * x) - sum(c * x) per group of 4 bytes, exact in int32: vpdpbusd takes u and c unsigned, x signed. */
AVX512 static inline __m512i dot_u8_minus_c(__m512i u, __m512i c, __m512i x) {
    return _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, x),
                            _mm512_dpbusd_epi32(_mm512_setzero_si512(), c, x));
}

AVX512 static float dot_q8_0_avx512(const blk_q8_0 *a, const blk_q8_0 *x, int64_t n) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t nb = n / QK, b = 0;
    for (; b + 4 <= nb; b += 4) {
        __m512i a0 = load_2x32(a[b].qs, a[b + 1].qs), x0 = load_2x32(x[b].qs, x[b + 1].qs);
        __m512i a1 = load_2x32(a[b + 2].qs, a[b + 3].qs), x1 = load_2x32(x[b + 2].qs, x[b + 3].qs);
        /* (a + 128) * x - 128 * x */
        __m512i p0 = dot_u8_minus_c(_mm512_xor_si512(a0, bias), bias, x0);
        __m512i p1 = dot_u8_minus_c(_mm512_xor_si512(a1, bias), bias, x1);
        s0 = _mm512_fmadd_ps(scale_2(&a[b], &a[b + 1], x + b), _mm512_cvtepi32_ps(p0), s0);
        s1 = _mm512_fmadd_ps(scale_2(&a[b + 2], &a[b + 3], x + b + 2), _mm512_cvtepi32_ps(p1), s1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; b < nb; b++) {
        __m256i p0 = dot_i8x32_vnni(_mm256_loadu_si256((const __m256i *)a[b].qs),
                                    _mm256_loadu_si256((const __m256i *)x[b].qs));
        s += hsum256(_mm256_mul_ps(_mm256_set1_ps(blk_d_f16c(&a[b]) * blk_d_f16c(&x[b])), _mm256_cvtepi32_ps(p0)));
    }
    return s;
}

/* Two Q4_0 blocks' nibbles as [lo(b), hi(b), lo(b+1), hi(b+1)]: unsigned 0..15 in x's element order. */
AVX512 static inline __m512i load_q4_2x32(const blk_q4_0 *a) {
    const __m256i lo_mask = _mm256_set1_epi8(0x0f);
    __m256i raw = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)a[1].qs), _mm_loadu_si128((const __m128i *)a[0].qs));
    __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(raw, lo_mask)),
                                   _mm256_and_si256(_mm256_srli_epi16(raw, 4), lo_mask), 1);
    return _mm512_shuffle_i64x2(q, q, _MM_SHUFFLE(3, 1, 2, 0));
}

AVX512 static float dot_q4_0_avx512(const blk_q4_0 *a, const blk_q8_0 *x, int64_t n) {
    const __m512i eights = _mm512_set1_epi8(8);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t nb = n / QK, b = 0;
    for (; b + 4 <= nb; b += 4) {
        __m512i q0 = load_q4_2x32(a + b), q1 = load_q4_2x32(a + b + 2);
        __m512i x0 = load_2x32(x[b].qs, x[b + 1].qs), x1 = load_2x32(x[b + 2].qs, x[b + 3].qs);
        /* q is unsigned: sum(q * x) - 8 * sum(x) */
        __m512i p0 = dot_u8_minus_c(q0, eights, x0), p1 = dot_u8_minus_c(q1, eights, x1);
        s0 = _mm512_fmadd_ps(scale_2(&a[b], &a[b + 1], x + b), _mm512_cvtepi32_ps(p0), s0);
        s1 = _mm512_fmadd_ps(scale_2(&a[b + 2], &a[b + 3], x + b + 2), _mm512_cvtepi32_ps(p1), s1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    if (b < nb) s += dot_q4_0_avx2(a + b, x + b, n - b * QK);
    return s;
}
#endif


/* ---- the table's signatures: (void *) adapters over the typed kernels above ---- */

#define TO_F32(f) static void f##_v(const void *src, float *dst, int64_t n) { f(src, dst, n); }
#define FROM_F32(f) static void f##_v(const float *src, void *dst, int64_t n) { f(src, dst, n); }
#define DOT(f) static float f##_v(const void *a, const void *x, int64_t n) { return f(a, x, n); }

static void copy_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
static void copy_from_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
static void quant_f16_scalar(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = s2_fp32_to_fp16(src[i]);
}
static void quant_bf16_scalar(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = s2_fp32_to_bf16(src[i]);
}

TO_F32(dequant_f16_scalar) TO_F32(dequant_bf16_scalar) TO_F32(dequant_q8_0_scalar) TO_F32(dequant_q4_0_scalar)
FROM_F32(quant_q8_0) FROM_F32(quant_q4_0)
DOT(dot_f32_scalar) DOT(dot_f16_scalar) DOT(dot_bf16_scalar) DOT(dot_q8_0_scalar) DOT(dot_q4_0_scalar)
#ifdef S2_X86
TO_F32(dequant_f16_avx2) TO_F32(dequant_bf16_avx2) TO_F32(dequant_q8_0_avx2) TO_F32(dequant_q4_0_avx2)
FROM_F32(quant_q8_0_avx2) FROM_F32(quant_f16_avx2)
DOT(dot_f32_avx2) DOT(dot_f16_avx2) DOT(dot_bf16_avx2) DOT(dot_q8_0_avx2) DOT(dot_q4_0_avx2)
DOT(dot_f32_avx512) DOT(dot_f16_avx512) DOT(dot_bf16_avx512) DOT(dot_q8_0_avx512) DOT(dot_q4_0_avx512)
#define X86(f) f
#else
#define X86(f) NULL
#endif
#undef TO_F32
#undef FROM_F32
#undef DOT

/* the packed layouts' table entries, per type */
#define NIB(t, L)                                                                                             \
    static void pack8_##t(void *g, const void *rows, size_t rs, int64_t n) { pack8_nib(&L, g, rows, rs, n); } \
    static void unpack8_##t(void *rows, size_t rs, const void *g, int64_t n) { unpack8_nib(&L, rows, rs, g, n); } \
    static void dot8_##t##_scalar(float *y, const void *g, const void *x, int64_t n) {                      \
        dot8_nib_naive(&L, traits[S2_TYPE_##t].dot[S2_SIMD_NAIVE], y, g, x, n);                                \
    }
NIB(Q4_0, NIB_Q4_0)
NIB(Q5_0, NIB_Q5_0)
#undef NIB

/* ---- the type table: one row per ggml type (ggml's numbering; ids 4, 5, 31-33 and 36-38 were removed from the
 * format and stay unknown). A row with no to_f32 is known by name and size only and refused where used; an
 * entry left NULL at a SIMD level falls back to the level below, down to [S2_SIMD_NAIVE]. ---- */

#define KQ(t) .to_f32 = {s2_kq_to_f32_##t}
static const s2_type_traits traits[S2_TYPE_COUNT] = {
    [S2_TYPE_F32] = {"f32", 1, 4, .to_f32 = {copy_f32}, .from_f32 = {copy_from_f32},
                     .dot = {dot_f32_scalar_v, X86(dot_f32_avx2_v), X86(dot_f32_avx512_v)}, .vec_dot_type = S2_TYPE_F32},
    [S2_TYPE_F16] = {"f16", 1, 2, .to_f32 = {dequant_f16_scalar_v, X86(dequant_f16_avx2_v)},
                     .from_f32 = {quant_f16_scalar, X86(quant_f16_avx2_v)},
                     .dot = {dot_f16_scalar_v, X86(dot_f16_avx2_v), X86(dot_f16_avx512_v)}, .vec_dot_type = S2_TYPE_F32},
    [S2_TYPE_BF16] = {"bf16", 1, 2, .to_f32 = {dequant_bf16_scalar_v, X86(dequant_bf16_avx2_v)},
                      .from_f32 = {quant_bf16_scalar},
                      .dot = {dot_bf16_scalar_v, X86(dot_bf16_avx2_v), X86(dot_bf16_avx512_v)}, .vec_dot_type = S2_TYPE_F32},
    [S2_TYPE_Q8_0] = {"q8_0", 32, 34, .to_f32 = {dequant_q8_0_scalar_v, X86(dequant_q8_0_avx2_v)},
                      .from_f32 = {quant_q8_0_v, X86(quant_q8_0_avx2_v)},
                      .dot = {dot_q8_0_scalar_v, X86(dot_q8_0_avx2_v), X86(dot_q8_0_avx512_v)},
                      .dot4 = {NULL, X86(dot4_q8_0_avx2)}, .vec_dot_type = S2_TYPE_Q8_0},
    [S2_TYPE_Q4_0] = {"q4_0", 32, 18, .to_f32 = {dequant_q4_0_scalar_v, X86(dequant_q4_0_avx2_v)},
                      .from_f32 = {quant_q4_0_v},
                      .dot = {dot_q4_0_scalar_v, X86(dot_q4_0_avx2_v), X86(dot_q4_0_avx512_v)},
                      .dot4 = {NULL, X86(dot4_q4_0_avx2)}, .pack = pack8_Q4_0, .unpack = unpack8_Q4_0,
                      .dot8 = {dot8_Q4_0_scalar, X86(dot8_q4_0_avx2)}, .vec_dot_type = S2_TYPE_Q8_0},
    [S2_TYPE_Q4_1] = {"q4_1", 32, 20, KQ(q4_1), .from_f32 = {s2_kq_from_f32_q4_1}, .dot = {s2_kq_dot_q4_1, X86(s2_kq_dot_q4_1_avx2)},
                      .vec_dot_type = S2_TYPE_Q8_1},
    [S2_TYPE_Q5_0] = {"q5_0", 32, 22, KQ(q5_0), .from_f32 = {s2_kq_from_f32_q5_0}, .dot = {s2_kq_dot_q5_0, X86(s2_kq_dot_q5_0_avx2)},
                      .pack = pack8_Q5_0, .unpack = unpack8_Q5_0, .dot8 = {dot8_Q5_0_scalar, X86(dot8_q5_0_avx2)},
                      .vec_dot_type = S2_TYPE_Q8_0},
    [S2_TYPE_Q5_1] = {"q5_1", 32, 24, KQ(q5_1), .from_f32 = {s2_kq_from_f32_q5_1}, .dot = {s2_kq_dot_q5_1, X86(s2_kq_dot_q5_1_avx2)},
                      .vec_dot_type = S2_TYPE_Q8_1},
    [S2_TYPE_Q8_1] = {"q8_1", 32, 36, KQ(q8_1), .from_f32 = {s2_kq_from_f32_q8_1}, .vec_dot_type = -1},
    [S2_TYPE_Q2_K] = {"q2_k", 256, 84, KQ(q2_k), .dot = {s2_kq_dot_q2_k, X86(s2_kq_dot_q2_k_avx2)}, .vec_dot_type = S2_TYPE_Q8_K},
    [S2_TYPE_Q3_K] = {"q3_k", 256, 110, KQ(q3_k), .dot = {s2_kq_dot_q3_k, X86(s2_kq_dot_q3_k_avx2)}, .vec_dot_type = S2_TYPE_Q8_K},
    [S2_TYPE_Q4_K] = {"q4_k", 256, 144, .to_f32 = {s2_kq_to_f32_q4_k, X86(s2_kq_to_f32_q4_k_avx2)}, .from_f32 = {s2_kq_from_f32_q4_k},
                      .dot = {s2_kq_dot_q4_k, X86(s2_kq_dot_q4_k_avx2), X86(s2_kq_dot_q4_k_avx512)},
                      .vec_dot_type = S2_TYPE_Q8_K},
    [S2_TYPE_Q5_K] = {"q5_k", 256, 176, .to_f32 = {s2_kq_to_f32_q5_k, X86(s2_kq_to_f32_q5_k_avx2)}, .from_f32 = {s2_kq_from_f32_q5_k},
                      .dot = {s2_kq_dot_q5_k, X86(s2_kq_dot_q5_k_avx2), X86(s2_kq_dot_q5_k_avx512)},
                      .vec_dot_type = S2_TYPE_Q8_K},
    [S2_TYPE_Q6_K] = {"q6_k", 256, 210, .to_f32 = {s2_kq_to_f32_q6_k, X86(s2_kq_to_f32_q6_k_avx2)}, .from_f32 = {s2_kq_from_f32_q6_k},
                      .dot = {s2_kq_dot_q6_k, X86(s2_kq_dot_q6_k_avx2), X86(s2_kq_dot_q6_k_avx512)},
                      .vec_dot_type = S2_TYPE_Q8_K},
    [S2_TYPE_Q8_K] = {"q8_k", 256, 292, KQ(q8_k), .from_f32 = {s2_kq_from_f32_q8_k, X86(s2_kq_from_f32_q8_k_avx2)},
                      .vec_dot_type = -1},
    [16] = {"iq2_xxs", 256, 66, .vec_dot_type = -1},
    [17] = {"iq2_xs", 256, 74, .vec_dot_type = -1},
    [18] = {"iq3_xxs", 256, 98, .vec_dot_type = -1},
    [19] = {"iq1_s", 256, 50, .vec_dot_type = -1},
    [S2_TYPE_IQ4_NL] = {"iq4_nl", 32, 18, KQ(iq4_nl), .dot = {s2_kq_dot_iq4_nl, X86(s2_kq_dot_iq4_nl_avx2)}, .vec_dot_type = S2_TYPE_Q8_0},
    [21] = {"iq3_s", 256, 110, .vec_dot_type = -1},
    [22] = {"iq2_s", 256, 82, .vec_dot_type = -1},
    [S2_TYPE_IQ4_XS] = {"iq4_xs", 256, 136, KQ(iq4_xs), .dot = {s2_kq_dot_iq4_xs, X86(s2_kq_dot_iq4_xs_avx2)}, .vec_dot_type = S2_TYPE_Q8_K},
    [24] = {"i8", 1, 1, .vec_dot_type = -1},
    [25] = {"i16", 1, 2, .vec_dot_type = -1},
    [26] = {"i32", 1, 4, .vec_dot_type = -1},
    [27] = {"i64", 1, 8, .vec_dot_type = -1},
    [28] = {"f64", 1, 8, .vec_dot_type = -1},
    [29] = {"iq1_m", 256, 56, .vec_dot_type = -1},
    [34] = {"tq1_0", 256, 54, .vec_dot_type = -1},
    [35] = {"tq2_0", 256, 66, .vec_dot_type = -1},
    [39] = {"mxfp4", 32, 17, .vec_dot_type = -1},
};
#undef KQ

/* ---- dispatch: the best entry at or below the level in use ---- */

#define PICK(type, field)                                                                                     \
    do {                                                                                                       \
        for (int lv = simd_level; lv >= 0; lv--)                                                              \
            if (traits[type].field[lv] != NULL) return traits[type].field[lv];                               \
        return NULL;                                                                                           \
    } while (0)

static s2_to_f32_fn pick_to_f32(int32_t type) { PICK(type, to_f32); }
static s2_from_f32_fn pick_from_f32(int32_t type) { PICK(type, from_f32); }
static s2_dot_fn pick_dot(int32_t type) { PICK(type, dot); }
static s2_dot8_fn pick_dot8(int32_t type) { PICK(type, dot8); }
#undef PICK

s2_status s2_dequantize_row(int32_t type, const void *src, float *dst, int64_t n) {
    if (!s2_type_known(type) || traits[type].to_f32[S2_SIMD_NAIVE] == NULL) return S2_E_UNSUPPORTED;
    if (n < 0 || n % traits[type].block != 0) return S2_E_ARG;
    pick_to_f32(type)(src, dst, n);
    return S2_OK;
}

s2_status s2_quantize_row(int32_t type, const float *src, void *dst, int64_t n) {
    if (!s2_type_known(type) || traits[type].from_f32[S2_SIMD_NAIVE] == NULL) return S2_E_UNSUPPORTED;
    if (n < 0 || n % traits[type].block != 0) return S2_E_ARG;
    pick_from_f32(type)(src, dst, n);
    return S2_OK;
}

bool s2_type_writable(int32_t type) { return s2_type_supported(type) && traits[type].from_f32[S2_SIMD_NAIVE] != NULL; }

int32_t s2_vec_dot_type(int32_t type) { return s2_type_supported(type) ? traits[type].vec_dot_type : -1; }

float s2_vec_dot(int32_t type, const void *row, const void *x, int64_t n) {
    if (!s2_type_supported(type)) return NAN;
    return pick_dot(type)(row, x, n);
}

s2_dot_fn s2_vec_dot_fn(int32_t type) { return s2_type_supported(type) ? pick_dot(type) : NULL; }

s2_dot4_fn s2_vec_dot4_fn(int32_t type) {
    /* only the level in use: a four-row kernel agrees with its own level's dot, not with the ones below */
    return s2_type_supported(type) && pick_dot(type) == traits[type].dot[simd_level] ? traits[type].dot4[simd_level]
                                                                                     : NULL;
}

bool s2_type_packable(int32_t type) { return s2_type_supported(type) && traits[type].pack != NULL; }

static s2_status pack_shape(int32_t type, int64_t n_out, int64_t n) {
    if (!s2_type_packable(type)) return S2_E_UNSUPPORTED;
    if (n_out < 0 || n_out % PACK_ROWS != 0 || n <= 0 || n % traits[type].block != 0) return S2_E_ARG;
    return S2_OK;
}

s2_status s2_pack_rows(int32_t type, const void *rows, size_t rs, int64_t n_out, int64_t n, void *dst) {
    s2_status st = pack_shape(type, n_out, n);
    if (st != S2_OK) return st;
    size_t group = PACK_ROWS * s2_type_row_size(type, n);
    for (int64_t g = 0; g < n_out / PACK_ROWS; g++)
        traits[type].pack((char *)dst + (size_t)g * group, (const char *)rows + (size_t)g * PACK_ROWS * rs, rs, n);
    return S2_OK;
}

s2_status s2_unpack_rows(int32_t type, const void *src, int64_t n_out, int64_t n, void *rows, size_t rs) {
    s2_status st = pack_shape(type, n_out, n);
    if (st != S2_OK) return st;
    size_t group = PACK_ROWS * s2_type_row_size(type, n);
    for (int64_t g = 0; g < n_out / PACK_ROWS; g++)
        traits[type].unpack((char *)rows + (size_t)g * PACK_ROWS * rs, rs, (const char *)src + (size_t)g * group, n);
    return S2_OK;
}

s2_dot8_fn s2_vec_dot8_fn(int32_t type) { return s2_type_packable(type) ? pick_dot8(type) : NULL; }
