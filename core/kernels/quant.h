/* quant.h: tensor element types (ggml numbering): sizes, dequantization, quantization, dot products, all read
 * from one table of type traits (quant.c), one row per type.
 *
 * Block layouts follow ggml (ggml-common.h): Q8_0 = {f16 d; int8 qs[32]} (34 bytes), value = d * q;
 * Q4_0 = {f16 d; uint8 qs[16]} (18 bytes), element j < 16 is the low nibble of qs[j], element j + 16 the high
 * nibble, value = d * (nibble - 8). F16 is IEEE half, BF16 the top 16 bits of an F32. The other types' layouts
 * are listed in kernels.h. Weights of F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q2_K..Q6_K/IQ4_NL/IQ4_XS can be
 * read (dequantized and dotted); the other ggml types (IQ1-IQ3, TQ, MXFP4) are known by name and refused. */
#ifndef S2_QUANT_H
#define S2_QUANT_H

#include "sys2.h"

enum {
    S2_TYPE_F32 = 0, S2_TYPE_F16 = 1, S2_TYPE_Q4_0 = 2, S2_TYPE_Q4_1 = 3, S2_TYPE_Q5_0 = 6, S2_TYPE_Q5_1 = 7,
    S2_TYPE_Q8_0 = 8, S2_TYPE_Q8_1 = 9, S2_TYPE_Q2_K = 10, S2_TYPE_Q3_K = 11, S2_TYPE_Q4_K = 12,
    S2_TYPE_Q5_K = 13, S2_TYPE_Q6_K = 14, S2_TYPE_Q8_K = 15, S2_TYPE_IQ4_NL = 20, S2_TYPE_IQ4_XS = 23, S2_TYPE_I8 = 24, S2_TYPE_I16 = 25,
    S2_TYPE_I32 = 26, S2_TYPE_I64 = 27, S2_TYPE_F64 = 28, S2_TYPE_BF16 = 30, S2_TYPE_COUNT = 40
};

/* SIMD levels of the kernels: [S2_SIMD_NAIVE] is the portable twin every other level is held to. */
typedef enum s2_simd { S2_SIMD_NAIVE = 0, S2_SIMD_AVX2 = 1, S2_SIMD_AVX512 = 2, S2_SIMD_N = 3 } s2_simd;

typedef void (*s2_to_f32_fn)(const void *src, float *dst, int64_t n);   /* n elements, a multiple of block */
typedef void (*s2_from_f32_fn)(const float *src, void *dst, int64_t n);
typedef float (*s2_dot_fn)(const void *row, const void *x, int64_t n); /* x in the row type's vec_dot_type */
/* y[i] = dot(rows + i * rs, x, n) for i = 0..3, bit for bit what the same level's s2_dot_fn gives each row */
typedef void (*s2_dot4_fn)(float *y, const void *rows, size_t rs, const void *x, int64_t n);
/* y[i] = row i . x for the S2_PACK_ROWS rows of one packed group (s2_pack_rows), bit for bit the naive s2_dot_fn */
typedef void (*s2_dot8_fn)(float *y, const void *group, const void *x, int64_t n);
typedef void (*s2_pack_fn)(void *group, const void *rows, size_t rs, int64_t n);     /* 8 rows -> a group */
typedef void (*s2_unpack_fn)(void *rows, size_t rs, const void *group, int64_t n);   /* a group -> 8 rows */

#define S2_PACK_ROWS 8 /* rows of a packed group */

typedef struct s2_type_traits {   /* one row per ggml type: everything the engine needs to know of it */
    const char *name;             /* "q4_k": the name in errors, `info`, `quantize` */
    int64_t block;                /* elements per block */
    size_t bytes;                 /* bytes per block */
    s2_to_f32_fn to_f32[S2_SIMD_N];     /* NULL at [NAIVE]: the type cannot be read */
    s2_from_f32_fn from_f32[S2_SIMD_N]; /* NULL at [NAIVE]: sys2 does not write the type */
    s2_dot_fn dot[S2_SIMD_N];           /* per SIMD level; NULL falls back to the level below */
    s2_dot4_fn dot4[S2_SIMD_N];         /* four rows at once (x read once for them); NULL: none at that level */
    /* A packed layout (rows interleaved S2_PACK_ROWS at a time, block by block, at load time; the same bytes in
     * another order) and its kernels; pack NULL: the type has none. dot8[NAIVE] is the layout's naive twin. */
    s2_pack_fn pack;
    s2_unpack_fn unpack;
    s2_dot8_fn dot8[S2_SIMD_N];
    int32_t vec_dot_type;         /* what activations are quantized to for dot (F32, Q8_0, Q8_1, Q8_K); -1 none */
} s2_type_traits;

/* The row of type, or NULL for ids ggml never defined (or removed). Borrowed, static. */
const s2_type_traits *s2_type_traits_get(int32_t type);

const char *s2_type_name(int32_t type);        /* "q8_0"; "type(N)" style NULL for ids never defined */
int32_t s2_type_from_name(const char *name);   /* -1 if unknown; case-insensitive */
bool s2_type_known(int32_t type);              /* ggml defines it: block size and bytes are known */
bool s2_type_supported(int32_t type);          /* a weight of it can be read: to_f32 and dot exist */
bool s2_type_writable(int32_t type);           /* a weight type s2_quantize_row writes (not Q8_1/Q8_K) */
int64_t s2_type_block(int32_t type);           /* elements per block (1 for F32/F16/BF16) */
size_t s2_type_block_bytes(int32_t type);      /* bytes per block */
/* Bytes of a row of n elements; 0 if n is not a multiple of the block or the type is unknown. */
size_t s2_type_row_size(int32_t type, int64_t n);

float s2_fp16_to_fp32(uint16_t h);
uint16_t s2_fp32_to_fp16(float f);             /* round to nearest even */
float s2_bf16_to_fp32(uint16_t h);
uint16_t s2_fp32_to_bf16(float f);             /* round to nearest even, NaN kept quiet */

/* n must be a multiple of the type's block (else S2_E_ARG). A type without to_f32 (dequantize) or without
 * from_f32 (quantize) returns S2_E_UNSUPPORTED. */
s2_status s2_dequantize_row(int32_t type, const void *src, float *dst, int64_t n);
s2_status s2_quantize_row(int32_t type, const float *src, void *dst, int64_t n);
/* Naive twins: one element at a time from the published block layout; the tests' reference. */
void s2_dequantize_row_naive(int32_t type, const void *src, float *dst, int64_t n);

/* Dot product of one stored row with an activation vector, for matrix-vector work.
 * F32/F16/BF16 rows: x is F32. Quantized rows: x is given already quantized to the row type's vec_dot_type
 * (s2_quantize_row): Q8_0 for Q8_0/Q4_0/Q5_0/IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for Q2_K..Q6_K and IQ4_XS, so the
 * products run on integer blocks (llama.cpp's scheme). x's int8 values are in [-127, 127], as s2_quantize_row
 * writes them (the AVX2 Q8_0 kernel takes |row| times x with the row's sign, which a -128 in x would overflow);
 * the row's may be anything, -128 included. NaN for a type that is not supported. */
float s2_vec_dot(int32_t type, const void *row, const void *x, int64_t n);
/* The kernel s2_vec_dot would call now (at the current SIMD level), for loops over many rows; NULL if none. */
s2_dot_fn s2_vec_dot_fn(int32_t type);
/* The four-row kernel of the level in use (equal, row by row, to s2_vec_dot_fn's), or NULL where there is none. */
s2_dot4_fn s2_vec_dot4_fn(int32_t type);
/* Packed rows (issue 12): whether the type has a packed layout, and packing n_out rows (a multiple of
 * S2_PACK_ROWS) of n elements at stride rs into dst (n_out * s2_type_row_size(type, n) bytes; group g holds rows
 * 8g..8g+7). S2_E_UNSUPPORTED for a type without a layout, S2_E_ARG for a shape that does not fit. s2_unpack_rows
 * is the inverse (tests). s2_vec_dot8_fn: the group kernel at the current level, NULL without a layout. */
bool s2_type_packable(int32_t type);
s2_status s2_pack_rows(int32_t type, const void *rows, size_t rs, int64_t n_out, int64_t n, void *dst);
s2_status s2_unpack_rows(int32_t type, const void *src, int64_t n_out, int64_t n, void *rows, size_t rs);
s2_dot8_fn s2_vec_dot8_fn(int32_t type);
/* The type x must be in for s2_vec_dot against rows of type; -1 for types that are not supported. */
int32_t s2_vec_dot_type(int32_t type);

/* The kernels in use: 0 portable scalar, 1 AVX2/FMA/F16C, 2 AVX-512 (F, BW, VL, VNNI); chosen from the CPU at
 * load time. Sets the level (at most what the CPU has; level < 0 = the best it has) and returns the level now in
 * use. Process-wide; meant for tests and benchmarks that compare the paths. */
int32_t s2_quant_set_simd(int32_t level);

#endif
