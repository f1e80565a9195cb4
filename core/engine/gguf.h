/* gguf.h: GGUF v2/v3 reader and writer. Knows nothing about Llama: keys, values and tensors only.
 *
 * The reader treats the file as untrusted (like ggml's gguf.cpp): every count, string length, array length,
 * n_dims (<= 4), element count (no overflow), tensor type, alignment (general.alignment, default 32) and
 * offset + size is checked against the file size before anything is allocated or pointed into. A bad file is
 * S2_E_FORMAT with a message naming what is wrong and where (byte offset, key or tensor name).
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md */
#ifndef S2_GGUF_H
#define S2_GGUF_H

#include "sys2.h"

/* Value types, as numbered in the file. */
typedef enum s2_gguf_type {
    S2_GGUF_UINT8 = 0, S2_GGUF_INT8 = 1, S2_GGUF_UINT16 = 2, S2_GGUF_INT16 = 3, S2_GGUF_UINT32 = 4,
    S2_GGUF_INT32 = 5, S2_GGUF_FLOAT32 = 6, S2_GGUF_BOOL = 7, S2_GGUF_STRING = 8, S2_GGUF_ARRAY = 9,
    S2_GGUF_UINT64 = 10, S2_GGUF_INT64 = 11, S2_GGUF_FLOAT64 = 12, S2_GGUF_N_TYPES = 13
} s2_gguf_type;

/* One key/value pair, owned by the s2_gguf (copied out of the file: nothing here points into the map). */
typedef struct s2_gguf_kv {
    char *key;                /* NUL-terminated */
    s2_gguf_type type;        /* the value's type; S2_GGUF_ARRAY for arrays */
    s2_gguf_type arr_type;    /* arrays: element type (never ARRAY: nested arrays are rejected) */
    uint64_t n;               /* arrays: element count; 1 otherwise */
    union { uint64_t u; int64_t i; double f; bool b; } v; /* scalars, widened; v.i/v.u both set for ints */
    char *str;                /* STRING: NUL-terminated copy (a string holding NUL bytes is rejected) */
    void *arr;                /* numeric/bool arrays: n elements in the native layout of arr_type */
    char **strs;              /* string arrays: n NUL-terminated copies */
} s2_gguf_kv;

typedef struct s2_gguf_tensor {
    char *name;
    int32_t type;             /* ggml type id (see quant.h) */
    int32_t n_dims;           /* 1..4 */
    int64_t ne[4];            /* elements per dimension, ne[0] fastest; unused dims are 1 */
    uint64_t offset;          /* from the start of the data section */
    const void *data;         /* into the file's map (or buffer); aligned as the file says */
    size_t nbytes;
} s2_gguf_tensor;

typedef struct s2_gguf s2_gguf;

/* Opens and validates path (mmap, read-only). On success *out owns it (s2_gguf_free); tensor data stays mapped
 * until then. On failure *out is NULL and err says why. */
s2_status s2_gguf_open(const char *path, s2_gguf **out, s2_error *err);
/* The same over a caller's buffer (borrowed: it must outlive the s2_gguf). name is used in messages. */
s2_status s2_gguf_open_buffer(const void *data, size_t size, const char *name, s2_gguf **out, s2_error *err);
void s2_gguf_free(s2_gguf *g); /* NULL is a no-op */

uint32_t s2_gguf_version(const s2_gguf *g);
size_t s2_gguf_alignment(const s2_gguf *g);
int64_t s2_gguf_n_kv(const s2_gguf *g);
const s2_gguf_kv *s2_gguf_kv_at(const s2_gguf *g, int64_t i);         /* borrowed; NULL out of range */
const s2_gguf_kv *s2_gguf_find(const s2_gguf *g, const char *key);    /* borrowed; NULL if absent */
int64_t s2_gguf_n_tensors(const s2_gguf *g);
const s2_gguf_tensor *s2_gguf_tensor_at(const s2_gguf *g, int64_t i); /* borrowed; NULL out of range */
const s2_gguf_tensor *s2_gguf_find_tensor(const s2_gguf *g, const char *name);
const char *s2_gguf_type_name(s2_gguf_type t);

/* Typed getters. Missing key: S2_E_FORMAT "missing key K" unless a default applies (the *_or forms return S2_OK
 * and *out = dflt when absent). Wrong type: S2_E_FORMAT "key K: expected T, found U". Integer getters accept any
 * integer type whose value fits; float getters accept FLOAT32/FLOAT64. */
s2_status s2_gguf_get_int(const s2_gguf *g, const char *key, int64_t *out, s2_error *err);
s2_status s2_gguf_get_int_or(const s2_gguf *g, const char *key, int64_t dflt, int64_t *out, s2_error *err);
s2_status s2_gguf_get_float(const s2_gguf *g, const char *key, double *out, s2_error *err);
s2_status s2_gguf_get_float_or(const s2_gguf *g, const char *key, double dflt, double *out, s2_error *err);
s2_status s2_gguf_get_bool_or(const s2_gguf *g, const char *key, bool dflt, bool *out, s2_error *err);
s2_status s2_gguf_get_str(const s2_gguf *g, const char *key, const char **out, s2_error *err);
/* Arrays: *kv is the borrowed entry, checked to be an array of elem (S2_GGUF_N_TYPES: any element type). */
s2_status s2_gguf_get_arr(const s2_gguf *g, const char *key, s2_gguf_type elem, const s2_gguf_kv **kv,
                          s2_error *err);

/* ---- writer ---- */

typedef struct s2_gguf_writer s2_gguf_writer;

s2_status s2_gguf_writer_init(s2_gguf_writer **out, s2_error *err);
void s2_gguf_writer_free(s2_gguf_writer *w); /* NULL is a no-op */
/* Setters replace an earlier value of the same key (a file never holds a key twice). Values are copied. */
s2_status s2_gguf_set_u32(s2_gguf_writer *w, const char *key, uint32_t v);
s2_status s2_gguf_set_i32(s2_gguf_writer *w, const char *key, int32_t v);
s2_status s2_gguf_set_u64(s2_gguf_writer *w, const char *key, uint64_t v);
s2_status s2_gguf_set_f32(s2_gguf_writer *w, const char *key, float v);
s2_status s2_gguf_set_bool(s2_gguf_writer *w, const char *key, bool v);
s2_status s2_gguf_set_str(s2_gguf_writer *w, const char *key, const char *v);
s2_status s2_gguf_set_arr(s2_gguf_writer *w, const char *key, s2_gguf_type elem, const void *data, uint64_t n);
s2_status s2_gguf_set_arr_str(s2_gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* Copies one entry of a reader (any type), e.g. every tokenizer.ggml.* key of another model. */
s2_status s2_gguf_set_kv(s2_gguf_writer *w, const s2_gguf_kv *kv);
/* Adds a tensor; data (s2_type_row_size(type, ne[0]) * rows bytes) is borrowed until write returns.
 * S2_E_ARG for a duplicate name, a bad shape, or ne[0] not a multiple of the type's block. */
s2_status s2_gguf_add_tensor(s2_gguf_writer *w, const char *name, int32_t type, int32_t n_dims,
                             const int64_t *ne, const void *data, s2_error *err);
/* Writes a GGUF v3 file: to path.tmp, fsync, then rename, so a crash never leaves a half-written path. */
s2_status s2_gguf_write(const s2_gguf_writer *w, const char *path, s2_error *err);

/* ---- conversion (quantize.c) ---- */

/* Rewrites the GGUF file in as out with every 2-D tensor in type (any type s2_type_writable accepts): every
 * metadata key is copied, general.file_type is set to llama.cpp's file type for type, and each 2-D tensor whose
 * type we can dequantize and whose ne[0] is a multiple of type's block is converted row by row (s2_quantize_row
 * of s2_dequantize_row); every other tensor (norms, odd widths, types we cannot read) is copied unchanged. This
 * is llama-quantize --pure. out is written atomically (s2_gguf_write). S2_E_ARG for a type sys2 cannot write. */
s2_status s2_gguf_quantize(const char *in, const char *out, int32_t type, s2_error *err);

/* As llama-quantize IN OUT MIX makes a file: mix is one of s2_quant_mix_names() ("q4_k_m", "q8_0", "f16", ...);
 * each weight gets the type llama-quantize's rules give it (output.weight Q6_K, more bits for some layers'
 * attn_v and ffn_down in the _M mixes, and a fallback where 256 does not divide a K-quant's rows: Q4_K -> Q5_0,
 * Q5_K -> Q5_1, Q6_K -> Q8_0, then F16 if the block still does not divide). S2_E_ARG for an unknown mix. */
typedef struct s2_quantize_params {
    /* called after each tensor (done of total, its name borrowed for the call); NULL: silent */
    void (*progress)(void *user, int64_t done, int64_t total, const char *name);
    void *user;
} s2_quantize_params;
s2_status s2_gguf_quantize_mix(const char *in, const char *out, const char *mix, const s2_quantize_params *params,
                               s2_error *err);
/* llama.cpp's general.file_type for a file whose weights are all in type (the first mix of that base type:
 * 14 for Q4_K, 16 for Q5_K); -1 for a type sys2 does not write. */
int32_t s2_quant_ftype(int32_t type);
/* The mixes, space-separated, for usage lines ("f32 f16 bf16 q8_0 ..."). Static. */
const char *s2_quant_mix_names(void);
/* The type the mix gives tensor name (ne0 x rows, n_dims, layer counts from the file), or its own type when it
 * stays; exposed for the tests that hold the rules to llama-quantize's files. n_layer: the file's layer count. */
int32_t s2_quant_mix_tensor_type(const char *mix, const char *name, int32_t cur_type, int32_t n_dims, int64_t ne0,
                                 int32_t n_layer, bool has_output);

#endif
