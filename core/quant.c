/* quant.c: tensor element types in ggml's numbering: block sizes, F16/BF16 conversions, dequantization,
 * quantization and dot products of stored rows.
 *
 * Block layouts are ggml's (ggml-common.h). The fast kernels pick AVX2/FMA or AVX-512 code at run time
 * (__builtin_cpu_supports), so the build needs no -march flag; each has a scalar fallback and a naive twin
 * written from the published layout alone, which the tests hold the fast paths to. Nothing here allocates,
 * prints, or knows about GGUF files. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "quant.h"

/* ---- type table ---- */

typedef struct type_info {
    const char *name;
    int64_t block;      /* elements per block */
    size_t block_bytes; /* bytes per block */
} type_info;

/* ggml's type_traits (ggml.c): ids 4, 5, 31-33 and 36-38 were removed from the format and stay unknown. */
static const type_info types[S2_TYPE_COUNT] = {
    [0] = {"f32", 1, 4},        [1] = {"f16", 1, 2},         [2] = {"q4_0", 32, 18},
    [3] = {"q4_1", 32, 20},     [6] = {"q5_0", 32, 22},      [7] = {"q5_1", 32, 24},
    [8] = {"q8_0", 32, 34},     [9] = {"q8_1", 32, 36},      [10] = {"q2_k", 256, 84},
    [11] = {"q3_k", 256, 110},  [12] = {"q4_k", 256, 144},   [13] = {"q5_k", 256, 176},
    [14] = {"q6_k", 256, 210},  [15] = {"q8_k", 256, 292},   [16] = {"iq2_xxs", 256, 66},
    [17] = {"iq2_xs", 256, 74}, [18] = {"iq3_xxs", 256, 98}, [19] = {"iq1_s", 256, 50},
    [20] = {"iq4_nl", 32, 18},  [21] = {"iq3_s", 256, 110},  [22] = {"iq2_s", 256, 82},
    [23] = {"iq4_xs", 256, 136}, [24] = {"i8", 1, 1},        [25] = {"i16", 1, 2},
    [26] = {"i32", 1, 4},       [27] = {"i64", 1, 8},        [28] = {"f64", 1, 8},
    [29] = {"iq1_m", 256, 56},  [30] = {"bf16", 1, 2},       [34] = {"tq1_0", 256, 54},
    [35] = {"tq2_0", 256, 66},  [39] = {"mxfp4", 32, 17},
};

bool s2_type_known(int32_t type) { return type >= 0 && type < S2_TYPE_COUNT && types[type].name != NULL; }

bool s2_type_supported(int32_t type) {
    return type == S2_TYPE_F32 || type == S2_TYPE_F16 || type == S2_TYPE_BF16 || type == S2_TYPE_Q8_0 ||
           type == S2_TYPE_Q4_0;
}

const char *s2_type_name(int32_t type) { return s2_type_known(type) ? types[type].name : NULL; }

int32_t s2_type_from_name(const char *name) {
    if (name == NULL) return -1;
    for (int32_t t = 0; t < S2_TYPE_COUNT; t++)
        if (types[t].name != NULL && strcasecmp(types[t].name, name) == 0) return t;
    return -1;
}

int64_t s2_type_block(int32_t type) { return s2_type_known(type) ? types[type].block : 0; }

size_t s2_type_block_bytes(int32_t type) { return s2_type_known(type) ? types[type].block_bytes : 0; }

size_t s2_type_row_size(int32_t type, int64_t n) {
    if (!s2_type_known(type) || n < 0 || n % types[type].block != 0) return 0;
    size_t bytes;
    if (__builtin_mul_overflow((uint64_t)(n / types[type].block), types[type].block_bytes, &bytes)) return 0;
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

float s2_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13)); /* inf, nan (payload kept) */
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
