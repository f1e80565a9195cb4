/* kquant.c: the tensor types beyond F32/F16/BF16/Q8_0/Q4_0, written plainly from ggml's block layouts
 * (kernels.h lists them): dequantization, the quantizers `sys2 quantize` uses, and dot products of stored rows
 * with activations quantized as llama.cpp quantizes them (Q8_0, Q8_1 or Q8_K). These are the naive twins: every
 * SIMD kernel in kquant_simd.c is held to them bit for bit. Nothing here allocates, prints or knows GGUF.
 *
 * The quantizers follow ggml's reference rules (quantize_row_*_ref, no importance matrix) so that a file we
 * write is the file llama-quantize writes; the rules are described here in our own words. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#define QK 32
#define QK_K 256

static inline float h2f(const uint8_t *p) { /* an F16 at any alignment */
    uint16_t h;
    memcpy(&h, p, 2);
    return s2_fp16_to_fp32(h);
}

static inline void f2h(uint8_t *p, float f) {
    uint16_t h = s2_fp32_to_fp16(f);
    memcpy(p, &h, 2);
}

/* Round to nearest, ties to even, as ggml's nearest_int (the 1.5 * 2^23 trick) does for |x| < 2^22; beyond
 * that, and for nan, a defined saturation instead of garbage. */
static inline int nearest_int(float f) {
    if (!(fabsf(f) <= 4194303.0f)) return f > 0 ? 4194303 : f < 0 ? -4194303 : 0;
    float v = f + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static const int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* ---- block offsets (bytes) ---- */
enum {
    Q4_1_BYTES = 20, Q5_0_BYTES = 22, Q5_1_BYTES = 24, Q8_0_BYTES = 34, Q8_1_BYTES = 36, IQ4_NL_BYTES = 18,
    Q2_K_BYTES = 84, Q3_K_BYTES = 110, Q4_K_BYTES = 144, Q5_K_BYTES = 176, Q6_K_BYTES = 210, Q8_K_BYTES = 292,
    IQ4_XS_BYTES = 136,
};

/* The 6-bit scale and min of group j (0..7) of a Q4_K / Q5_K super-block from its 12 packed bytes: groups 0-3
 * keep theirs in the low 6 bits of bytes j and j + 4; groups 4-7 in the nibbles of byte j + 4, with the top two
 * bits in the spare bits 6-7 of bytes j - 4 and j. */
static inline void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* The sixteen 6-bit Q3_K scales (minus 32) from their 12 bytes: low nibbles of bytes 0-7 for groups 0-7, high
 * nibbles for 8-15, and the top two bits of group g in bits 2*(g/4)..+1 of byte 8 + g % 4. */
static inline void scales_q3_k(const uint8_t *s, int8_t out[16]) {
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? (s[g] & 0xf) : (s[g - 8] >> 4);
        int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
        out[g] = (int8_t)((lo | hi << 4) - 32);
    }
}

/* ---- dequantization ---- */

void s2_kq_to_f32_q4_1(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += Q4_1_BYTES, y += QK) {
        float d = h2f(b), m = h2f(b + 2);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(b[4 + j] & 0xf) * d + m;
            y[j + 16] = (float)(b[4 + j] >> 4) * d + m;
        }
    }
}

/* bit j of a Q5 block's qh word (little endian) is the fifth bit of element j */
static inline uint32_t qh_word(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

void s2_kq_to_f32_q5_0(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += Q5_0_BYTES, y += QK) {
        float d = h2f(b);
        uint32_t qh = qh_word(b + 2);
        for (int j = 0; j < 16; j++) {
            int q0 = (b[6 + j] & 0xf) | ((qh >> j) & 1) << 4, q1 = (b[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(q0 - 16) * d;
            y[j + 16] = (float)(q1 - 16) * d;
        }
    }
}

void s2_kq_to_f32_q5_1(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += Q5_1_BYTES, y += QK) {
        float d = h2f(b), m = h2f(b + 2);
        uint32_t qh = qh_word(b + 4);
        for (int j = 0; j < 16; j++) {
            int q0 = (b[8 + j] & 0xf) | ((qh >> j) & 1) << 4, q1 = (b[8 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)q0 * d + m;
            y[j + 16] = (float)q1 * d + m;
        }
    }
}

void s2_kq_to_f32_q8_1(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += Q8_1_BYTES, y += QK) {
        float d = h2f(b);
        for (int j = 0; j < QK; j++) y[j] = (float)(int8_t)b[4 + j] * d;
    }
}

void s2_kq_to_f32_iq4_nl(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += IQ4_NL_BYTES, y += QK) {
        float d = h2f(b);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)kvalues_iq4nl[b[2 + j] & 0xf];
            y[j + 16] = d * (float)kvalues_iq4nl[b[2 + j] >> 4];
        }
    }
}

/* Q2_K: element e = 128 * h + 32 * s + l (h half, s 2-bit slot, l < 32) is bits 2s..2s+1 of qs[32h + l]; its
 * group (scale byte) is 8h + 2s + l / 16. */
void s2_kq_to_f32_q2_k(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += Q2_K_BYTES, y += QK_K) {
        const uint8_t *sc = b, *qs = b + 16;
        float d = h2f(b + 80), dmin = h2f(b + 82);
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, s = (e / 32) % 4, l = e % 32, g = 8 * h + 2 * s + l / 16;
            float dl = d * (float)(sc[g] & 0xf), ml = dmin * (float)(sc[g] >> 4);
            y[e] = dl * (float)((qs[32 * h + l] >> (2 * s)) & 3) - ml;
        }
    }
}

/* Q3_K: as Q2_K's 2-bit layout, plus bit 4h + s of hmask[l]; a clear bit subtracts 4. */
void s2_kq_to_f32_q3_k(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += Q3_K_BYTES, y += QK_K) {
        const uint8_t *hm = b, *qs = b + 32;
        int8_t sc[16];
        scales_q3_k(b + 96, sc);
        float d = h2f(b + 108);
        for (int e = 0; e < QK_K; e++) {
            int h = e / 128, s = (e / 32) % 4, l = e % 32, g = 8 * h + 2 * s + l / 16;
            int q = ((qs[32 * h + l] >> (2 * s)) & 3) - ((hm[l] >> (4 * h + s)) & 1 ? 0 : 4);
            float dl = d * (float)sc[g];
            y[e] = dl * (float)q;
        }
    }
}

/* Q4_K: group g (32 elements) of a super-block: bytes qs[32 * (g / 2)..], low nibbles for even g, high for odd. */
static inline int q4_k_at(const uint8_t *qs, int e) {
    int g = e / 32, l = e % 32;
    return g % 2 ? qs[32 * (g / 2) + l] >> 4 : qs[32 * (g / 2) + l] & 0xf;
}

void s2_kq_to_f32_q4_k(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += Q4_K_BYTES, y += QK_K) {
        float d = h2f(b), dmin = h2f(b + 2);
        for (int g = 0; g < 8; g++) {
            int sc, m;
            scale_min_k4(g, b + 4, &sc, &m);
            float dl = d * (float)sc, ml = dmin * (float)m;
            for (int l = 0; l < 32; l++) y[32 * g + l] = dl * (float)q4_k_at(b + 16, 32 * g + l) - ml;
        }
    }
}

/* Q5_K: as Q4_K, with the fifth bit of element e = 32g + l in bit g of qh[l]. */
static inline int q5_k_at(const uint8_t *qh, const uint8_t *qs, int e) {
    return q4_k_at(qs, e) | ((qh[e % 32] >> (e / 32)) & 1) << 4;
}

void s2_kq_to_f32_q5_k(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += Q5_K_BYTES, y += QK_K) {
        float d = h2f(b), dmin = h2f(b + 2);
        for (int g = 0; g < 8; g++) {
            int sc, m;
            scale_min_k4(g, b + 4, &sc, &m);
            float dl = d * (float)sc, ml = dmin * (float)m;
            for (int l = 0; l < 32; l++) y[32 * g + l] = dl * (float)q5_k_at(b + 16, b + 48, 32 * g + l) - ml;
        }
    }
}

/* Q6_K: element e = 128 h + 32 s + l: low 4 bits from ql[64h + 32 (s & 1) + l] (low nibble for s < 2, high for
 * s >= 2), high 2 bits from bits 2s..2s+1 of qh[32h + l]; its scale is scales[8h + 2s + l / 16]. */
static inline int q6_k_at(const uint8_t *ql, const uint8_t *qh, int e) {
    int h = e / 128, s = (e / 32) % 4, l = e % 32;
    uint8_t lo = ql[64 * h + 32 * (s & 1) + l];
    int q = (s < 2 ? lo & 0xf : lo >> 4) | ((qh[32 * h + l] >> (2 * s)) & 3) << 4;
    return q - 32;
}

void s2_kq_to_f32_q6_k(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += Q6_K_BYTES, y += QK_K) {
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = h2f(b + 208);
        for (int e = 0; e < QK_K; e++) {
            int g = 8 * (e / 128) + 2 * ((e / 32) % 4) + (e % 32) / 16;
            y[e] = d * (float)sc[g] * (float)q6_k_at(b, b + 128, e);
        }
    }
}

void s2_kq_to_f32_q8_k(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += Q8_K_BYTES, y += QK_K) {
        float d;
        memcpy(&d, b, 4);
        for (int j = 0; j < QK_K; j++) y[j] = d * (float)(int8_t)b[4 + j];
    }
}

/* IQ4_XS: group g's scale is (4 bits of scales_l[g / 2], low for even g) | (bits 2g..2g+1 of scales_h) << 4,
 * minus 32; its 32 values as IQ4_NL's, nibbles of qs[16 g..16 g + 15]. */
static inline int iq4_xs_scale(const uint8_t *b, int g) {
    uint16_t sh = (uint16_t)(b[2] | b[3] << 8);
    return (((b[4 + g / 2] >> (4 * (g % 2))) & 0xf) | ((sh >> (2 * g)) & 3) << 4) - 32;
}

void s2_kq_to_f32_iq4_xs(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, b += IQ4_XS_BYTES, y += QK_K) {
        float d = h2f(b);
        for (int g = 0; g < 8; g++) {
            float dl = d * (float)iq4_xs_scale(b, g);
            const uint8_t *qs = b + 8 + 16 * g;
            for (int j = 0; j < 16; j++) {
                y[32 * g + j] = dl * (float)kvalues_iq4nl[qs[j] & 0xf];
                y[32 * g + j + 16] = dl * (float)kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}

/* ---- quantization: the legacy 32-blocks ---- */

/* min and max of 32 values (nan ignored as fminf/fmaxf do) */
static void min_max(const float *x, int n, float *mn, float *mx) {
    float lo = INFINITY, hi = -INFINITY;
    for (int j = 0; j < n; j++) {
        lo = fminf(lo, x[j]);
        hi = fmaxf(hi, x[j]);
    }
    if (lo > hi) lo = hi = 0.0f; /* all nan */
    *mn = lo;
    *mx = hi;
}

/* a float code v truncated into [0, top] (nan -> 0): the (int8/uint8) casts of ggml, made defined */
static inline int clamp_trunc(float v, int top) { return v >= 0.0f ? (v < (float)top ? (int)v : top) : 0; }

/* Q4_1: d = (max - min) / 15, m = min, q = trunc((x - min) / d + 0.5) capped at 15. */
void s2_kq_from_f32_q4_1(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += Q4_1_BYTES, src += QK) {
        float mn, mx;
        min_max(src, QK, &mn, &mx);
        float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        f2h(b, d);
        f2h(b + 2, mn);
        for (int j = 0; j < 16; j++) {
            int q0 = clamp_trunc((src[j] - mn) * id + 0.5f, 15), q1 = clamp_trunc((src[j + 16] - mn) * id + 0.5f, 15);
            b[4 + j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* the signed value of largest magnitude (the first one wins ties) */
static float signed_amax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void put_qh(uint8_t *p, uint32_t qh) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(qh >> (8 * k));
}

/* Q5_0: d = max / -16 with max the signed extreme, q = trunc(x / d + 16.5) capped at 31. */
void s2_kq_from_f32_q5_0(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += Q5_0_BYTES, src += QK) {
        float d = signed_amax(src, QK) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        f2h(b, d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = clamp_trunc(src[j] * id + 16.5f, 31), q1 = clamp_trunc(src[j + 16] * id + 16.5f, 31);
            b[6 + j] = (uint8_t)((q0 & 0xf) | (q1 & 0xf) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
        }
        put_qh(b + 2, qh);
    }
}

/* Q5_1: d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5) (capped at 31: ggml does not cap, but
 * finite inputs never exceed it). */
void s2_kq_from_f32_q5_1(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += Q5_1_BYTES, src += QK) {
        float mn, mx;
        min_max(src, QK, &mn, &mx);
        float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        f2h(b, d);
        f2h(b + 2, mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = clamp_trunc((src[j] - mn) * id + 0.5f, 31), q1 = clamp_trunc((src[j + 16] - mn) * id + 0.5f, 31);
            b[8 + j] = (uint8_t)((q0 & 0xf) | (q1 & 0xf) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
        }
        put_qh(b + 4, qh);
    }
}

/* Q8_1 (activations): as Q8_0 (d = amax / 127, q = round(x / d)), plus s = d * sum(q) in F16. */
void s2_kq_from_f32_q8_1(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += Q8_1_BYTES, src += QK) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(src[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK; j++) {
            float v = roundf(src[j] * id);
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : 0.0f;
            b[4 + j] = (uint8_t)(int8_t)v;
            sum += (int)v;
        }
        f2h(b, d);
        f2h(b + 2, (float)sum * d);
    }
}

/* Q8_K (activations): scale from the signed extreme, q = nearest(x * -127 / max) capped at 127 (so -128 may
 * appear), d = 1 / that factor as a float, and the sums of each 16 q's. */
void s2_kq_from_f32_q8_k(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b += Q8_K_BYTES, src += QK_K) {
        float max = signed_amax(src, QK_K), d = 0.0f;
        int8_t q[QK_K] = {0};
        if (max != 0.0f) {
            float iscale = -127.0f / max;
            for (int j = 0; j < QK_K; j++) {
                int v = nearest_int(iscale * src[j]);
                q[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
            }
            d = 1.0f / iscale;
        }
        memcpy(b, &d, 4);
        memcpy(b + 4, q, QK_K);
        for (int g = 0; g < 16; g++) {
            int16_t s = 0;
            for (int j = 0; j < 16; j++) s = (int16_t)(s + q[16 * g + j]);
            memcpy(b + 260 + 2 * g, &s, 2);
        }
    }
}

/* ---- quantization: the K-quants ---- */

#define GROUP_MAX_EPS 1e-15f

/* Symmetric levels in [-nmax, nmax) for n values (Q6_K's groups of 16): the scale -nmax / max is tried with
 * 18 neighbours (nmax +- 0.1 k); the one with the best weighted least-squares fit (weights x^2) wins. Returns the
 * scale, L gets level + nmax. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -(float)nmax / max, sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * x[i]);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Asymmetric levels 0..nmax with a minimum (Q4_K / Q5_K groups of 32): start from the min/max grid, then try
 * nstep grids of (rmin + rdelta k + nmax) / (max - min) steps, each refitted by weighted least squares for
 * scale and min (min kept <= 0); the smallest weighted squared error wins. Returns the scale, *the_min = -min. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min,
                              uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float mn = x[0], mx = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0) mn = 0;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *the_min = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn), scale = 1.0f / iscale, best_mad = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * (x[i] - mn));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        float diff = scale * (float)L[i] + mn - x[i];
        best_mad += w[i] * diff * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - mn));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float mad = 0.0f;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                mad += w[i] * diff * diff;
            }
            if (mad < best_mad) {
                memcpy(L, Laux, (size_t)n);
                best_mad = mad;
                scale = this_scale;
                mn = this_min;
            }
        }
    }
    *the_min = -mn;
    return scale;
}

/* Packs the 8 (scale, min) 6-bit pairs of a Q4_K / Q5_K super-block (the inverse of scale_min_k4). */
static void pack_scale_min_k4(uint8_t *q, const int ls[8], const int lm[8]) {
    memset(q, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            q[j] = (uint8_t)ls[j];
            q[j + 4] = (uint8_t)lm[j];
        } else {
            q[j + 4] = (uint8_t)((ls[j] & 0xf) | (lm[j] & 0xf) << 4);
            q[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            q[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Q4_K (nmax 15) and Q5_K (nmax 31): per group of 32 a scale and a min by make_qkx2_quants with weights
 * sqrt(mean x^2) + |x|; both sets quantized to 6 bits against the super-block's largest (d = max / 63 in F16);
 * then every element requantized against its group's stored scale and min. L gets the final levels. */
static void quant_k_super(const float *x, int nmax, float rmin, int nstep, uint8_t *b, uint8_t L[QK_K]) {
    float scales[8], mins[8], weights[32], max_scale = 0.0f, max_min = 0.0f;
    uint8_t Laux[32];
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    int ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = nearest_int(inv_scale * scales[j]);
        lm[j] = nearest_int(inv_min * mins[j]);
        ls[j] = ls[j] > 63 ? 63 : ls[j] < 0 ? 0 : ls[j];
        lm[j] = lm[j] > 63 ? 63 : lm[j] < 0 ? 0 : lm[j];
    }
    f2h(b, max_scale / 63.0f);
    f2h(b + 2, max_min / 63.0f);
    pack_scale_min_k4(b + 4, ls, lm);
    float d_all = h2f(b), dmin_all = h2f(b + 2);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        scale_min_k4(j, b + 4, &sc, &m);
        float d = d_all * (float)sc;
        if (d == 0.0f) continue;
        float dm = dmin_all * (float)m;
        for (int l = 0; l < 32; l++) {
            int q = nearest_int((x[32 * j + l] + dm) / d);
            L[32 * j + l] = (uint8_t)(q < 0 ? 0 : q > nmax ? nmax : q);
        }
    }
}

void s2_kq_from_f32_q4_k(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst, L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, b += Q4_K_BYTES, src += QK_K) {
        quant_k_super(src, 15, -1.0f, 20, b, L);
        uint8_t *qs = b + 16;
        for (int e = 0; e < QK_K; e += 64)
            for (int l = 0; l < 32; l++) qs[e / 2 + l] = (uint8_t)(L[e + l] | L[e + 32 + l] << 4);
    }
}

void s2_kq_from_f32_q5_k(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst, L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, b += Q5_K_BYTES, src += QK_K) {
        quant_k_super(src, 31, -0.5f, 15, b, L);
        uint8_t *qh = b + 16, *qs = b + 48;
        memset(qh, 0, 32);
        for (int e = 0; e < QK_K; e += 64)
            for (int l = 0; l < 32; l++) {
                int l1 = L[e + l], l2 = L[e + 32 + l];
                qh[l] |= (uint8_t)((l1 >> 4) << (e / 32) | (l2 >> 4) << (e / 32 + 1));
                qs[e / 2 + l] = (uint8_t)((l1 & 0xf) | (l2 & 0xf) << 4);
            }
    }
}

/* Q6_K: 16 groups of 16 by make_qx_quants (levels -32..31), the group scales as int8 against the largest
 * (d = 1 / (-128 / max) in F16), then every element requantized against its group's stored scale. */
void s2_kq_from_f32_q6_k(const float *src, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, b += Q6_K_BYTES, src += QK_K) {
        int8_t L[QK_K];
        float scales[16], max_scale = 0.0f, max_abs = 0.0f;
        for (int g = 0; g < 16; g++) {
            scales[g] = make_qx_quants(16, 32, src + 16 * g, L + 16 * g);
            if (fabsf(scales[g]) > max_abs) {
                max_abs = fabsf(scales[g]);
                max_scale = scales[g];
            }
        }
        memset(b, 0, Q6_K_BYTES);
        if (max_abs < GROUP_MAX_EPS) continue;
        float iscale = -128.0f / max_scale;
        f2h(b + 208, 1.0f / iscale);
        int8_t *sc = (int8_t *)(b + 192);
        for (int g = 0; g < 16; g++) {
            int v = nearest_int(iscale * scales[g]);
            sc[g] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
        }
        float d_all = h2f(b + 208);
        for (int g = 0; g < 16; g++) {
            float d = d_all * (float)sc[g];
            if (d == 0.0f) continue;
            for (int l = 0; l < 16; l++) {
                int q = nearest_int(src[16 * g + l] / d);
                L[16 * g + l] = (int8_t)((q < -32 ? -32 : q > 31 ? 31 : q) + 32);
            }
        }
        uint8_t *ql = b, *qh = b + 128;
        for (int e = 0; e < QK_K; e++) { /* the inverse of q6_k_at */
            int h = e / 128, s = (e / 32) % 4, l = e % 32, q = L[e];
            ql[64 * h + 32 * (s & 1) + l] |= (uint8_t)(s < 2 ? q & 0xf : (q & 0xf) << 4);
            qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * s));
        }
    }
}

/* ---- dot products (naive twins) ---- */

static inline float q8k_d(const uint8_t *y) {
    float d;
    memcpy(&d, y, 4);
    return d;
}

static inline int16_t q8k_bsum(const uint8_t *y, int g) {
    int16_t s;
    memcpy(&s, y + 260 + 2 * g, 2);
    return s;
}

float s2_kq_dot_q4_1(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK; i++, a += Q4_1_BYTES, y += Q8_1_BYTES) {
        int32_t acc = 0;
        for (int j = 0; j < 16; j++)
            acc += (a[4 + j] & 0xf) * (int8_t)y[4 + j] + (a[4 + j] >> 4) * (int8_t)y[4 + j + 16];
        s += (h2f(a) * h2f(y)) * (float)acc + h2f(a + 2) * h2f(y + 2);
    }
    return s;
}

float s2_kq_dot_q5_0(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK; i++, a += Q5_0_BYTES, y += Q8_0_BYTES) {
        uint32_t qh = qh_word(a + 2);
        int32_t acc = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = ((a[6 + j] & 0xf) | ((qh >> j) & 1) << 4) - 16, q1 = ((a[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16;
            acc += q0 * (int8_t)y[2 + j] + q1 * (int8_t)y[2 + j + 16];
        }
        s += (float)acc * (h2f(a) * h2f(y));
    }
    return s;
}

float s2_kq_dot_q5_1(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK; i++, a += Q5_1_BYTES, y += Q8_1_BYTES) {
        uint32_t qh = qh_word(a + 4);
        int32_t acc = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (a[8 + j] & 0xf) | ((qh >> j) & 1) << 4, q1 = (a[8 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            acc += q0 * (int8_t)y[4 + j] + q1 * (int8_t)y[4 + j + 16];
        }
        s += (h2f(a) * h2f(y)) * (float)acc + h2f(a + 2) * h2f(y + 2);
    }
    return s;
}

float s2_kq_dot_iq4_nl(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK; i++, a += IQ4_NL_BYTES, y += Q8_0_BYTES) {
        int32_t acc = 0;
        for (int j = 0; j < 16; j++)
            acc += kvalues_iq4nl[a[2 + j] & 0xf] * (int8_t)y[2 + j] + kvalues_iq4nl[a[2 + j] >> 4] * (int8_t)y[2 + j + 16];
        s += (float)acc * (h2f(a) * h2f(y));
    }
    return s;
}

/* The K-quant dots: per super-block an exact int32 sum of scale * sum(q * y) over its groups and, for the types
 * with a min, of min * (sum of y over the group, from Q8_K's bsums); then s += d * sum - dmin * summ. */
float s2_kq_dot_q2_k(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, a += Q2_K_BYTES, y += Q8_K_BYTES) {
        int32_t sumi = 0, summ = 0;
        for (int g = 0; g < 16; g++) {
            int32_t acc = 0;
            for (int k = 0; k < 16; k++) {
                int e = 16 * g + k, h = e / 128, sl = (e / 32) % 4, l = e % 32;
                acc += ((a[16 + 32 * h + l] >> (2 * sl)) & 3) * (int8_t)y[4 + e];
            }
            /* group g covers e = 16g..16g+15, whose scale byte is 8h + 2s + l/16 = g */
            sumi += (a[g] & 0xf) * acc;
            summ += (a[g] >> 4) * q8k_bsum(y, g);
        }
        float yd = q8k_d(y);
        s += (yd * h2f(a + 80)) * (float)sumi - (yd * h2f(a + 82)) * (float)summ;
    }
    return s;
}

float s2_kq_dot_q3_k(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, a += Q3_K_BYTES, y += Q8_K_BYTES) {
        int8_t sc[16];
        scales_q3_k(a + 96, sc);
        int32_t sumi = 0;
        for (int g = 0; g < 16; g++) {
            int32_t acc = 0;
            for (int k = 0; k < 16; k++) {
                int e = 16 * g + k, h = e / 128, sl = (e / 32) % 4, l = e % 32;
                int q = ((a[32 + 32 * h + l] >> (2 * sl)) & 3) - ((a[l] >> (4 * h + sl)) & 1 ? 0 : 4);
                acc += q * (int8_t)y[4 + e];
            }
            sumi += sc[g] * acc;
        }
        s += (h2f(a + 108) * q8k_d(y)) * (float)sumi;
    }
    return s;
}

float s2_kq_dot_q4_k(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, a += Q4_K_BYTES, y += Q8_K_BYTES) {
        int32_t sumi = 0, summ = 0;
        for (int g = 0; g < 8; g++) {
            int sc, m;
            scale_min_k4(g, a + 4, &sc, &m);
            int32_t acc = 0;
            for (int l = 0; l < 32; l++) acc += q4_k_at(a + 16, 32 * g + l) * (int8_t)y[4 + 32 * g + l];
            sumi += sc * acc;
            summ += m * (q8k_bsum(y, 2 * g) + q8k_bsum(y, 2 * g + 1));
        }
        float yd = q8k_d(y);
        s += (yd * h2f(a)) * (float)sumi - (yd * h2f(a + 2)) * (float)summ;
    }
    return s;
}

float s2_kq_dot_q5_k(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, a += Q5_K_BYTES, y += Q8_K_BYTES) {
        int32_t sumi = 0, summ = 0;
        for (int g = 0; g < 8; g++) {
            int sc, m;
            scale_min_k4(g, a + 4, &sc, &m);
            int32_t acc = 0;
            for (int l = 0; l < 32; l++) acc += q5_k_at(a + 16, a + 48, 32 * g + l) * (int8_t)y[4 + 32 * g + l];
            sumi += sc * acc;
            summ += m * (q8k_bsum(y, 2 * g) + q8k_bsum(y, 2 * g + 1));
        }
        float yd = q8k_d(y);
        s += (yd * h2f(a)) * (float)sumi - (yd * h2f(a + 2)) * (float)summ;
    }
    return s;
}

float s2_kq_dot_q6_k(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, a += Q6_K_BYTES, y += Q8_K_BYTES) {
        const int8_t *sc = (const int8_t *)(a + 192);
        int32_t sumi = 0;
        for (int g = 0; g < 16; g++) {
            int32_t acc = 0;
            for (int k = 0; k < 16; k++) acc += q6_k_at(a, a + 128, 16 * g + k) * (int8_t)y[4 + 16 * g + k];
            sumi += sc[g] * acc; /* group g of 16: e = 16g.., and 8h + 2s + l/16 = g */
        }
        s += (h2f(a + 208) * q8k_d(y)) * (float)sumi;
    }
    return s;
}

float s2_kq_dot_iq4_xs(const void *row, const void *x, int64_t n) {
    const uint8_t *a = row, *y = x;
    float s = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++, a += IQ4_XS_BYTES, y += Q8_K_BYTES) {
        int32_t sumi = 0;
        for (int g = 0; g < 8; g++) {
            const uint8_t *qs = a + 8 + 16 * g;
            const int8_t *q8 = (const int8_t *)y + 4 + 32 * g;
            int32_t acc = 0;
            for (int j = 0; j < 16; j++) acc += kvalues_iq4nl[qs[j] & 0xf] * q8[j] + kvalues_iq4nl[qs[j] >> 4] * q8[j + 16];
            sumi += iq4_xs_scale(a, g) * acc;
        }
        s += (h2f(a) * q8k_d(y)) * (float)sumi;
    }
    return s;
}
