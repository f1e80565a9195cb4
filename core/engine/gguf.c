/* gguf.c: GGUF v2/v3 reader and writer (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
 *
 * Layout (little-endian): "GGUF", uint32 version, uint64 n_tensors, uint64 n_kv, then n_kv key/value pairs
 * (string key, uint32 type, value), then n_tensors tensor infos (string name, uint32 n_dims, uint64 ne[n_dims],
 * uint32 type, uint64 offset), padding to general.alignment (default 32), and the data section, where each
 * tensor's offset is a multiple of the alignment. Strings are uint64 length + bytes without a NUL.
 *
 * The reader treats every file as hostile: each count is bounded by the bytes left before anything is allocated,
 * every size is computed with checked arithmetic, and a problem is S2_E_FORMAT naming the byte offset, key or
 * tensor. Metadata is copied out; tensor data stays in the map (or the caller's buffer). This file knows nothing
 * about Llama and never prints. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"

#define GGUF_MAGIC 0x46554747u           /* "GGUF" read as a little-endian uint32 */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_STRING (1ull << 30)      /* longer strings are rejected as corrupt */
#define GGUF_MAX_DIMS 4

struct s2_gguf {
    uint32_t version;
    size_t alignment;
    int64_t n_kv, n_tensors;
    s2_gguf_kv *kv;            /* (n_kv) */
    s2_gguf_tensor *tensors;   /* (n_tensors) */
    int64_t *kv_sorted;        /* (n_kv) indices ordered by key, for lookups and the duplicate check */
    int64_t *tensor_sorted;    /* (n_tensors) indices ordered by name */
    const uint8_t *base;       /* the whole file */
    size_t size;
    size_t data_offset;        /* start of the data section */
    void *map;                 /* owned mmap, or NULL for a caller's buffer */
    size_t map_size;
};

/* ---- value types ---- */

static const char *const gguf_type_names[S2_GGUF_N_TYPES] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array",
    "uint64", "int64", "float64",
};

const char *s2_gguf_type_name(s2_gguf_type t) {
    return (t >= 0 && t < S2_GGUF_N_TYPES) ? gguf_type_names[t] : "invalid";
}

/* Bytes of one element of a fixed-size type; 0 for STRING and ARRAY. */
static size_t gguf_type_size(s2_gguf_type t) {
    switch (t) {
    case S2_GGUF_UINT8: case S2_GGUF_INT8: case S2_GGUF_BOOL: return 1;
    case S2_GGUF_UINT16: case S2_GGUF_INT16: return 2;
    case S2_GGUF_UINT32: case S2_GGUF_INT32: case S2_GGUF_FLOAT32: return 4;
    case S2_GGUF_UINT64: case S2_GGUF_INT64: case S2_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static bool gguf_type_is_int(s2_gguf_type t) {
    return t == S2_GGUF_UINT8 || t == S2_GGUF_INT8 || t == S2_GGUF_UINT16 || t == S2_GGUF_INT16 ||
           t == S2_GGUF_UINT32 || t == S2_GGUF_INT32 || t == S2_GGUF_UINT64 || t == S2_GGUF_INT64;
}

static bool gguf_type_is_signed(s2_gguf_type t) {
    return t == S2_GGUF_INT8 || t == S2_GGUF_INT16 || t == S2_GGUF_INT32 || t == S2_GGUF_INT64;
}

/* Decodes one little-endian scalar of fixed-size type t at p into the widened union. */
static void scalar_decode(s2_gguf_kv *kv, s2_gguf_type t, const uint8_t *p) {
    kv->v.u = 0;
    switch (t) {
    case S2_GGUF_UINT8: kv->v.u = p[0]; break;
    case S2_GGUF_INT8: kv->v.i = (int8_t)p[0]; break;
    case S2_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); kv->v.u = x; break; }
    case S2_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); kv->v.i = x; break; }
    case S2_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); kv->v.u = x; break; }
    case S2_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); kv->v.i = x; break; }
    case S2_GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); kv->v.u = x; break; }
    case S2_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); kv->v.i = x; break; }
    case S2_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); kv->v.f = x; break; }
    case S2_GGUF_FLOAT64: { double x; memcpy(&x, p, 8); kv->v.f = x; break; }
    case S2_GGUF_BOOL: kv->v.b = p[0] != 0; break;
    default: break;
    }
}

/* ---- name lookup: indices sorted by name ----
 * Sorting (O(n log n) comparisons whatever the names) rather than hashing, so that a hostile file full
 * of colliding names cannot make the duplicate check quadratic. */

typedef struct name_table {
    const void *arr;
    const char *(*name_of)(const void *arr, int64_t i);
} name_table;

static const char *kv_name(const void *arr, int64_t i) { return ((const s2_gguf_kv *)arr)[i].key; }
static const char *tensor_name(const void *arr, int64_t i) { return ((const s2_gguf_tensor *)arr)[i].name; }

static int cmp_index(const void *x, const void *y, void *ctx) {
    const name_table *t = ctx;
    int64_t i = *(const int64_t *)x, j = *(const int64_t *)y;
    int c = strcmp(t->name_of(t->arr, i), t->name_of(t->arr, j));
    return c != 0 ? c : (i > j) - (i < j); /* equal names: file order */
}

/* Sorts the n indices of t into *out; returns the index of the first name seen twice (its second occurrence in
 * *dup_first's pair), or -1. NULL *out on allocation failure. */
static int64_t sort_names(const name_table *t, int64_t n, int64_t **out, int64_t *dup_first) {
    int64_t *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    *out = idx;
    if (idx == NULL) return -1;
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    qsort_r(idx, (size_t)n, sizeof *idx, cmp_index, (void *)t);
    for (int64_t k = 1; k < n; k++)
        if (strcmp(t->name_of(t->arr, idx[k - 1]), t->name_of(t->arr, idx[k])) == 0) {
            *dup_first = idx[k - 1];
            return idx[k];
        }
    return -1;
}

static int64_t find_name(const name_table *t, const int64_t *sorted, int64_t n, const char *name) {
    int64_t lo = 0, hi = n; /* first position whose name is >= name */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->name_of(t->arr, sorted[mid]), name) < 0) lo = mid + 1;
        else hi = mid;
    }
    return (lo < n && strcmp(t->name_of(t->arr, sorted[lo]), name) == 0) ? sorted[lo] : -1;
}

/* ---- reader ---- */

typedef struct reader {
    const uint8_t *p;
    size_t size, pos;
    const char *name; /* for messages */
    s2_error *err;
    char esc[128];    /* a key or tensor name from the file, escaped for one message (ESC) */
} reader;

/* Names read from the file go into messages escaped (s2_escape): a hostile file must not write to a terminal. */
#define ESC(r, s) s2_escape((r)->esc, sizeof (r)->esc, (s), strlen(s))

static s2_status rd_need(reader *r, size_t n, const char *what) {
    if (n > r->size - r->pos)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: truncated at byte %zu: %s needs %zu bytes, %zu left",
                            r->name, r->pos, what, n, r->size - r->pos);
    return S2_OK;
}

static s2_status rd_bytes(reader *r, void *out, size_t n, const char *what) {
    s2_status st = rd_need(r, n, what);
    if (st != S2_OK) return st;
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return S2_OK;
}

static s2_status rd_u32(reader *r, uint32_t *out, const char *what) { return rd_bytes(r, out, 4, what); }
static s2_status rd_u64(reader *r, uint64_t *out, const char *what) { return rd_bytes(r, out, 8, what); }

/* Reads a GGUF string into a malloc'd NUL-terminated copy. */
static s2_status rd_string(reader *r, char **out, const char *what) {
    *out = NULL;
    size_t at = r->pos;
    uint64_t len;
    s2_status st = rd_u64(r, &len, what);
    if (st != S2_OK) return st;
    if (len > GGUF_MAX_STRING)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: %s at byte %zu: string length %llu exceeds the 1 GiB limit",
                            r->name, what, at, (unsigned long long)len);
    if (len > r->size - r->pos)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: %s at byte %zu: string length %llu past end of file (%zu left)",
                            r->name, what, at, (unsigned long long)len, r->size - r->pos);
    if (memchr(r->p + r->pos, 0, (size_t)len) != NULL)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: %s at byte %zu: string holds a NUL byte", r->name, what, at);
    char *s = malloc((size_t)len + 1);
    if (s == NULL) return s2_error_set(r->err, S2_E_NOMEM, "%s: out of memory (string of %llu bytes)", r->name,
                                       (unsigned long long)len);
    memcpy(s, r->p + r->pos, (size_t)len);
    s[len] = '\0';
    r->pos += (size_t)len;
    *out = s;
    return S2_OK;
}

static void kv_clear(s2_gguf_kv *kv) {
    free(kv->key);
    free(kv->str);
    free(kv->arr);
    if (kv->strs != NULL)
        for (uint64_t j = 0; j < kv->n; j++) free(kv->strs[j]);
    free(kv->strs);
    memset(kv, 0, sizeof *kv);
}

static s2_status rd_value_type(reader *r, uint32_t *t, const char *key, const char *what) {
    size_t at = r->pos;
    s2_status st = rd_u32(r, t, what);
    if (st != S2_OK) return st;
    if (*t >= S2_GGUF_N_TYPES)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: key '%s' at byte %zu: invalid %s %u", r->name, ESC(r, key), at, what,
                            *t);
    return S2_OK;
}

/* Reads the value of kv (whose key is already set). */
static s2_status rd_value(reader *r, s2_gguf_kv *kv) {
    uint32_t t;
    s2_status st = rd_value_type(r, &t, kv->key, "value type");
    if (st != S2_OK) return st;
    kv->type = (s2_gguf_type)t;
    kv->n = 1;
    if (t == S2_GGUF_STRING) return rd_string(r, &kv->str, "string value");
    if (t != S2_GGUF_ARRAY) {
        size_t sz = gguf_type_size(kv->type);
        if ((st = rd_need(r, sz, "value")) != S2_OK) return st;
        scalar_decode(kv, kv->type, r->p + r->pos);
        r->pos += sz;
        return S2_OK;
    }
    uint32_t et;
    if ((st = rd_value_type(r, &et, kv->key, "array element type")) != S2_OK) return st;
    if (et == S2_GGUF_ARRAY)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: key '%s' at byte %zu: nested arrays are not supported", r->name,
                            ESC(r, kv->key), r->pos - 4);
    kv->arr_type = (s2_gguf_type)et;
    size_t at = r->pos;
    uint64_t n;
    if ((st = rd_u64(r, &n, "array length")) != S2_OK) return st;
    size_t left = r->size - r->pos;
    if (et == S2_GGUF_STRING) {
        /* each string takes at least its 8-byte length */
        if (n > left / 8)
            return s2_error_set(r->err, S2_E_FORMAT,
                                "%s: key '%s' at byte %zu: array length %llu past end of file (%zu bytes left)",
                                r->name, ESC(r, kv->key), at, (unsigned long long)n, left);
        kv->strs = calloc(n ? (size_t)n : 1, sizeof *kv->strs);
        if (kv->strs == NULL) return s2_error_set(r->err, S2_E_NOMEM, "%s: key '%s': out of memory", r->name, ESC(r, kv->key));
        kv->n = n;
        for (uint64_t j = 0; j < n; j++)
            if ((st = rd_string(r, &kv->strs[j], "array string")) != S2_OK) return s2_error_prefix(r->err, ESC(r, kv->key));
        return S2_OK;
    }
    size_t es = gguf_type_size(kv->arr_type), bytes;
    if (__builtin_mul_overflow(n, es, &bytes) || bytes > left)
        return s2_error_set(r->err, S2_E_FORMAT,
                            "%s: key '%s' at byte %zu: array length %llu x %zu bytes past end of file (%zu left)",
                            r->name, ESC(r, kv->key), at, (unsigned long long)n, es, left);
    kv->arr = malloc(bytes ? bytes : 1);
    if (kv->arr == NULL) return s2_error_set(r->err, S2_E_NOMEM, "%s: key '%s': out of memory", r->name, ESC(r, kv->key));
    memcpy(kv->arr, r->p + r->pos, bytes);
    if (et == S2_GGUF_BOOL) /* a C bool must hold 0 or 1 */
        for (size_t j = 0; j < bytes; j++) ((uint8_t *)kv->arr)[j] = ((uint8_t *)kv->arr)[j] != 0;
    kv->n = n;
    r->pos += bytes;
    return S2_OK;
}


/* Makes room for element index n in *arr (capacity *cap elements), doubling; zero-fills new elements. */
static bool grow(void **arr, size_t *cap, size_t elem, size_t n) {
    if (n < *cap) return true;
    size_t nc = *cap ? 2 * *cap : 16, bytes;
    if (__builtin_mul_overflow(nc, elem, &bytes)) return false;
    void *na = realloc(*arr, bytes);
    if (na == NULL) return false;
    memset((char *)na + *cap * elem, 0, (nc - *cap) * elem);
    *arr = na;
    *cap = nc;
    return true;
}

/* Smallest encodings: a kv is an 8-byte key length, a 4-byte type and a 1-byte value; a tensor info is an 8-byte
 * name length, 4-byte n_dims, one 8-byte ne, 4-byte type and 8-byte offset. Counts beyond what the bytes left could
 * hold are corrupt, and saying so early keeps a hostile count from driving the allocation. */
#define GGUF_MIN_KV_BYTES 13
#define GGUF_MIN_TENSOR_BYTES 32

static s2_status read_kvs(s2_gguf *g, reader *r, uint64_t n_kv) {
    size_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (!grow((void **)&g->kv, &cap, sizeof *g->kv, (size_t)i))
            return s2_error_set(r->err, S2_E_NOMEM, "%s: out of memory (kv %llu)", r->name, (unsigned long long)i);
        s2_gguf_kv *kv = &g->kv[i];
        g->n_kv = (int64_t)i + 1; /* counted before reading, so that free releases a half-read entry */
        s2_status st = rd_string(r, &kv->key, "key");
        if (st == S2_OK) st = rd_value(r, kv);
        if (st != S2_OK) return st;
    }
    return S2_OK;
}

/* The data-section alignment: general.alignment when present (an integer, a nonzero power of two). */
static s2_status read_alignment(s2_gguf *g, reader *r) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const s2_gguf_kv *kv = s2_gguf_find(g, "general.alignment");
    if (kv == NULL) return S2_OK;
    if (!gguf_type_is_int(kv->type))
        return s2_error_set(r->err, S2_E_FORMAT, "%s: general.alignment: expected an integer, found %s", r->name,
                            s2_gguf_type_name(kv->type));
    if (gguf_type_is_signed(kv->type) && kv->v.i < 0)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: general.alignment %lld is negative", r->name,
                            (long long)kv->v.i);
    uint64_t a = kv->v.u;
    if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 30))
        return s2_error_set(r->err, S2_E_FORMAT, "%s: general.alignment %llu is not a power of two in [1, 2^30]",
                            r->name, (unsigned long long)a);
    g->alignment = (size_t)a;
    return S2_OK;
}

static s2_status read_tensor_info(reader *r, s2_gguf_tensor *t, int64_t i) {
    size_t at = r->pos;
    s2_status st = rd_string(r, &t->name, "tensor name");
    if (st != S2_OK) return st;
    uint32_t n_dims;
    if ((st = rd_u32(r, &n_dims, "tensor n_dims")) != S2_OK) return st;
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: tensor %lld '%s' at byte %zu: n_dims %u not in [1, %d]",
                            r->name, (long long)i, ESC(r, t->name), at, n_dims, GGUF_MAX_DIMS);
    t->n_dims = (int32_t)n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    int64_t nel = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        if ((st = rd_u64(r, &ne, "tensor ne")) != S2_OK) return st;
        if (ne > (uint64_t)INT64_MAX)
            return s2_error_set(r->err, S2_E_FORMAT, "%s: tensor '%s': ne[%u] = %llu exceeds INT64_MAX", r->name,
                                ESC(r, t->name), d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        if (__builtin_mul_overflow(nel, t->ne[d], &nel))
            return s2_error_set(r->err, S2_E_FORMAT, "%s: tensor '%s': element count overflows int64 at ne[%u]",
                                r->name, ESC(r, t->name), d);
    }
    uint32_t type;
    if ((st = rd_u32(r, &type, "tensor type")) != S2_OK) return st;
    if (!s2_type_known((int32_t)type) || type > INT32_MAX)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: tensor '%s': unknown tensor type %u", r->name, ESC(r, t->name), type);
    t->type = (int32_t)type;
    int64_t block = s2_type_block(t->type);
    if (t->ne[0] % block != 0)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: tensor '%s': ne[0] = %lld is not a multiple of %s's block %lld",
                            r->name, ESC(r, t->name), (long long)t->ne[0], s2_type_name(t->type), (long long)block);
    size_t row = s2_type_row_size(t->type, t->ne[0]);
    uint64_t rows = t->ne[0] > 0 ? (uint64_t)(nel / t->ne[0]) : 0; /* an empty tensor has no bytes */
    if (__builtin_mul_overflow(row, rows, &t->nbytes))
        return s2_error_set(r->err, S2_E_FORMAT, "%s: tensor '%s': byte size overflows", r->name, ESC(r, t->name));
    return rd_u64(r, &t->offset, "tensor offset");
}

static s2_status read_tensors(s2_gguf *g, reader *r, uint64_t n_tensors) {
    size_t cap = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (!grow((void **)&g->tensors, &cap, sizeof *g->tensors, (size_t)i))
            return s2_error_set(r->err, S2_E_NOMEM, "%s: out of memory (tensor %llu)", r->name, (unsigned long long)i);
        g->n_tensors = (int64_t)i + 1;
        s2_status st = read_tensor_info(r, &g->tensors[i], (int64_t)i);
        if (st != S2_OK) return st;
    }
    return S2_OK;
}

/* Name tables; a second entry under one name is a corrupt file. */
static s2_status build_name_tables(s2_gguf *g, reader *r) {
    name_table kt = {g->kv, kv_name}, tt = {g->tensors, tensor_name};
    int64_t first = -1, dup = sort_names(&kt, g->n_kv, &g->kv_sorted, &first);
    if (g->kv_sorted == NULL) return s2_error_set(r->err, S2_E_NOMEM, "%s: out of memory (key table)", r->name);
    if (dup >= 0)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: duplicate key '%s' (kv %lld and %lld)", r->name,
                            ESC(r, g->kv[dup].key), (long long)first, (long long)dup);
    dup = sort_names(&tt, g->n_tensors, &g->tensor_sorted, &first);
    if (g->tensor_sorted == NULL) return s2_error_set(r->err, S2_E_NOMEM, "%s: out of memory (tensor table)", r->name);
    if (dup >= 0)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: duplicate tensor name '%s' (tensors %lld and %lld)", r->name,
                            ESC(r, g->tensors[dup].name), (long long)first, (long long)dup);
    return S2_OK;
}

/* Places the data section and checks every tensor's offset and size against it. */
static s2_status place_data(s2_gguf *g, reader *r) {
    size_t a = g->alignment, off = r->pos;
    if (off % a != 0) off += a - off % a; /* off <= size < SIZE_MAX - 2^30: no overflow */
    g->data_offset = off;
    if (g->n_tensors == 0) return S2_OK; /* a vocab-only file may end right after its metadata */
    if (off > r->size)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: data section at byte %zu starts past end of file (%zu bytes)",
                            r->name, off, r->size);
    size_t data_size = r->size - off;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        s2_gguf_tensor *t = &g->tensors[i];
        if (t->offset % a != 0)
            return s2_error_set(r->err, S2_E_FORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %zu",
                                r->name, ESC(r, t->name), (unsigned long long)t->offset, a);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return s2_error_set(r->err, S2_E_FORMAT,
                                "%s: tensor '%s': data [%llu, +%zu) past end of file (data section holds %zu bytes)",
                                r->name, ESC(r, t->name), (unsigned long long)t->offset, t->nbytes, data_size);
        t->data = r->p + off + t->offset;
    }
    return S2_OK;
}

static s2_status parse(s2_gguf *g, reader *r) {
    uint32_t magic, version;
    uint64_t n_tensors, n_kv;
    s2_status st = rd_u32(r, &magic, "magic");
    if (st != S2_OK) return st;
    if (magic != GGUF_MAGIC)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: bad magic %02x %02x %02x %02x (not a GGUF file)", r->name,
                            r->p[0], r->p[1], r->p[2], r->p[3]);
    if ((st = rd_u32(r, &version, "version")) != S2_OK) return st;
    if (version != 2 && version != 3) {
        if (version == 1)
            return s2_error_set(r->err, S2_E_FORMAT, "%s: GGUF version 1 is not supported (only 2 and 3)", r->name);
        if ((version & 0xffff) == 0)
            return s2_error_set(r->err, S2_E_FORMAT, "%s: bad version %u (a big-endian file? only little-endian "
                                "GGUF v2/v3 is supported)", r->name, version);
        return s2_error_set(r->err, S2_E_FORMAT, "%s: bad version %u (only 2 and 3 are supported)", r->name, version);
    }
    g->version = version;
    if ((st = rd_u64(r, &n_tensors, "tensor count")) != S2_OK) return st;
    if ((st = rd_u64(r, &n_kv, "kv count")) != S2_OK) return st;
    size_t left = r->size - r->pos;
    if (n_kv > left / GGUF_MIN_KV_BYTES)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: kv count %llu too large for the %zu bytes left", r->name,
                            (unsigned long long)n_kv, left);
    if (n_tensors > left / GGUF_MIN_TENSOR_BYTES)
        return s2_error_set(r->err, S2_E_FORMAT, "%s: tensor count %llu too large for the %zu bytes left", r->name,
                            (unsigned long long)n_tensors, left);
    if ((st = read_kvs(g, r, n_kv)) != S2_OK) return st;
    if ((st = read_tensors(g, r, n_tensors)) != S2_OK) return st;
    if ((st = build_name_tables(g, r)) != S2_OK) return st;
    if ((st = read_alignment(g, r)) != S2_OK) return st;
    return place_data(g, r);
}

s2_status s2_gguf_open_buffer(const void *data, size_t size, const char *name, s2_gguf **out, s2_error *err) {
    *out = NULL;
    if (name == NULL) name = "buffer";
    if (data == NULL && size != 0) return s2_error_set(err, S2_E_ARG, "%s: NULL data", name);
    s2_gguf *g = calloc(1, sizeof *g);
    if (g == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", name);
    g->base = data;
    g->size = size;
    reader r = {.p = data, .size = size, .pos = 0, .name = name, .err = err};
    s2_status st = parse(g, &r);
    if (st != S2_OK) {
        s2_gguf_free(g);
        return st;
    }
    *out = g;
    return S2_OK;
}

s2_status s2_gguf_open(const char *path, s2_gguf **out, s2_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return s2_error_set(err, S2_E_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 24) { /* magic, version and the two counts */
        close(fd);
        return s2_error_set(err, S2_E_FORMAT, "%s: file of %zu bytes is too small for a GGUF header", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return s2_error_set(err, S2_E_IO, "%s: mmap: %s", path, strerror(e));
    s2_status st = s2_gguf_open_buffer(map, size, path, out, err);
    if (st != S2_OK) {
        munmap(map, size);
        return st;
    }
    (*out)->map = map;
    (*out)->map_size = size;
    return S2_OK;
}

void s2_gguf_free(s2_gguf *g) {
    if (g == NULL) return;
    for (int64_t i = 0; i < g->n_kv; i++) kv_clear(&g->kv[i]);
    for (int64_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g->kv_sorted);
    free(g->tensor_sorted);
    if (g->map != NULL) munmap(g->map, g->map_size);
    free(g);
}

/* ---- accessors ---- */

uint32_t s2_gguf_version(const s2_gguf *g) { return g->version; }
size_t s2_gguf_alignment(const s2_gguf *g) { return g->alignment; }
int64_t s2_gguf_n_kv(const s2_gguf *g) { return g->n_kv; }
int64_t s2_gguf_n_tensors(const s2_gguf *g) { return g->n_tensors; }

const s2_gguf_kv *s2_gguf_kv_at(const s2_gguf *g, int64_t i) {
    return (i >= 0 && i < g->n_kv) ? &g->kv[i] : NULL;
}

const s2_gguf_tensor *s2_gguf_tensor_at(const s2_gguf *g, int64_t i) {
    return (i >= 0 && i < g->n_tensors) ? &g->tensors[i] : NULL;
}

const s2_gguf_kv *s2_gguf_find(const s2_gguf *g, const char *key) {
    if (key == NULL) return NULL;
    name_table t = {g->kv, kv_name};
    int64_t i = g->kv_sorted ? find_name(&t, g->kv_sorted, g->n_kv, key) : -1;
    return i >= 0 ? &g->kv[i] : NULL;
}

const s2_gguf_tensor *s2_gguf_find_tensor(const s2_gguf *g, const char *name) {
    if (name == NULL) return NULL;
    name_table t = {g->tensors, tensor_name};
    int64_t i = g->tensor_sorted ? find_name(&t, g->tensor_sorted, g->n_tensors, name) : -1;
    return i >= 0 ? &g->tensors[i] : NULL;
}

static s2_status missing(s2_error *err, const char *key) {
    return s2_error_set(err, S2_E_FORMAT, "missing key %s", key);
}

static s2_status wrong_type(s2_error *err, const char *key, const char *expected, const s2_gguf_kv *kv) {
    if (kv->type == S2_GGUF_ARRAY)
        return s2_error_set(err, S2_E_FORMAT, "key %s: expected %s, found array of %s", key, expected,
                            s2_gguf_type_name(kv->arr_type));
    return s2_error_set(err, S2_E_FORMAT, "key %s: expected %s, found %s", key, expected,
                        s2_gguf_type_name(kv->type));
}

s2_status s2_gguf_get_int_or(const s2_gguf *g, const char *key, int64_t dflt, int64_t *out, s2_error *err) {
    const s2_gguf_kv *kv = s2_gguf_find(g, key);
    if (kv == NULL) {
        *out = dflt;
        return S2_OK;
    }
    if (!gguf_type_is_int(kv->type)) return wrong_type(err, key, "integer", kv);
    if (!gguf_type_is_signed(kv->type) && kv->v.u > (uint64_t)INT64_MAX)
        return s2_error_set(err, S2_E_FORMAT, "key %s: value %llu does not fit int64", key,
                            (unsigned long long)kv->v.u);
    *out = kv->v.i;
    return S2_OK;
}

s2_status s2_gguf_get_int(const s2_gguf *g, const char *key, int64_t *out, s2_error *err) {
    if (s2_gguf_find(g, key) == NULL) return missing(err, key);
    return s2_gguf_get_int_or(g, key, 0, out, err);
}

s2_status s2_gguf_get_float_or(const s2_gguf *g, const char *key, double dflt, double *out, s2_error *err) {
    const s2_gguf_kv *kv = s2_gguf_find(g, key);
    if (kv == NULL) {
        *out = dflt;
        return S2_OK;
    }
    if (kv->type != S2_GGUF_FLOAT32 && kv->type != S2_GGUF_FLOAT64) return wrong_type(err, key, "float", kv);
    *out = kv->v.f;
    return S2_OK;
}

s2_status s2_gguf_get_float(const s2_gguf *g, const char *key, double *out, s2_error *err) {
    if (s2_gguf_find(g, key) == NULL) return missing(err, key);
    return s2_gguf_get_float_or(g, key, 0.0, out, err);
}

s2_status s2_gguf_get_bool_or(const s2_gguf *g, const char *key, bool dflt, bool *out, s2_error *err) {
    const s2_gguf_kv *kv = s2_gguf_find(g, key);
    if (kv == NULL) {
        *out = dflt;
        return S2_OK;
    }
    if (kv->type != S2_GGUF_BOOL) return wrong_type(err, key, "bool", kv);
    *out = kv->v.b;
    return S2_OK;
}

s2_status s2_gguf_get_str(const s2_gguf *g, const char *key, const char **out, s2_error *err) {
    const s2_gguf_kv *kv = s2_gguf_find(g, key);
    if (kv == NULL) return missing(err, key);
    if (kv->type != S2_GGUF_STRING) return wrong_type(err, key, "string", kv);
    *out = kv->str;
    return S2_OK;
}

s2_status s2_gguf_get_arr(const s2_gguf *g, const char *key, s2_gguf_type elem, const s2_gguf_kv **out,
                          s2_error *err) {
    const s2_gguf_kv *kv = s2_gguf_find(g, key);
    if (kv == NULL) return missing(err, key);
    if (kv->type != S2_GGUF_ARRAY || (elem != S2_GGUF_N_TYPES && kv->arr_type != elem)) {
        char expected[32];
        snprintf(expected, sizeof expected, "array of %s",
                 elem == S2_GGUF_N_TYPES ? "any type" : s2_gguf_type_name(elem));
        return wrong_type(err, key, expected, kv);
    }
    *out = kv;
    return S2_OK;
}

/* ---- writer ---- */

#define GGUF_MAX_NAME 64 /* ggml's GGML_MAX_NAME: llama.cpp rejects longer tensor names */

typedef struct wtensor {
    char *name;
    int32_t type, n_dims;
    int64_t ne[4];
    const void *data; /* borrowed until s2_gguf_write returns */
    size_t nbytes;
} wtensor;

struct s2_gguf_writer {
    s2_gguf_kv *kv;   /* (n_kv), each entry owned */
    size_t n_kv, cap_kv;
    wtensor *t;       /* (n_t) */
    size_t n_t, cap_t;
};

s2_status s2_gguf_writer_init(s2_gguf_writer **out, s2_error *err) {
    *out = calloc(1, sizeof **out);
    if (*out == NULL) return s2_error_set(err, S2_E_NOMEM, "gguf writer: out of memory");
    return S2_OK;
}

void s2_gguf_writer_free(s2_gguf_writer *w) {
    if (w == NULL) return;
    for (size_t i = 0; i < w->n_kv; i++) kv_clear(&w->kv[i]);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) memcpy(d, s, n);
    return d;
}

/* Stores *kv (whose allocations the writer takes over) under its key, replacing an earlier value in place. On
 * failure kv's allocations are freed. */
static s2_status put_kv(s2_gguf_writer *w, s2_gguf_kv *kv) {
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, kv->key) == 0) {
            kv_clear(&w->kv[i]);
            w->kv[i] = *kv;
            return S2_OK;
        }
    }
    if (!grow((void **)&w->kv, &w->cap_kv, sizeof *w->kv, w->n_kv)) {
        kv_clear(kv);
        return S2_E_NOMEM;
    }
    w->kv[w->n_kv++] = *kv;
    return S2_OK;
}

/* Takes over val's allocations (val.str), freeing them on failure too. */
static s2_status set_scalar(s2_gguf_writer *w, const char *key, s2_gguf_type t, s2_gguf_kv val) {
    if (w == NULL || key == NULL) {
        kv_clear(&val);
        return S2_E_ARG;
    }
    val.key = dup_str(key);
    if (val.key == NULL) {
        kv_clear(&val);
        return S2_E_NOMEM;
    }
    val.type = t;
    val.n = 1;
    return put_kv(w, &val);
}

s2_status s2_gguf_set_u32(s2_gguf_writer *w, const char *key, uint32_t v) {
    return set_scalar(w, key, S2_GGUF_UINT32, (s2_gguf_kv){.v.u = v});
}
s2_status s2_gguf_set_i32(s2_gguf_writer *w, const char *key, int32_t v) {
    return set_scalar(w, key, S2_GGUF_INT32, (s2_gguf_kv){.v.i = v});
}
s2_status s2_gguf_set_u64(s2_gguf_writer *w, const char *key, uint64_t v) {
    return set_scalar(w, key, S2_GGUF_UINT64, (s2_gguf_kv){.v.u = v});
}
s2_status s2_gguf_set_f32(s2_gguf_writer *w, const char *key, float v) {
    return set_scalar(w, key, S2_GGUF_FLOAT32, (s2_gguf_kv){.v.f = v});
}
s2_status s2_gguf_set_bool(s2_gguf_writer *w, const char *key, bool v) {
    return set_scalar(w, key, S2_GGUF_BOOL, (s2_gguf_kv){.v.b = v});
}

s2_status s2_gguf_set_str(s2_gguf_writer *w, const char *key, const char *v) {
    if (v == NULL) return S2_E_ARG;
    s2_gguf_kv kv = {.str = dup_str(v)};
    if (kv.str == NULL) return S2_E_NOMEM;
    return set_scalar(w, key, S2_GGUF_STRING, kv);
}

/* Fills kv (already holding its key) with a copy of n elements of elem. */
static s2_status copy_arr(s2_gguf_kv *kv, s2_gguf_type elem, const void *data, const char *const *strs, uint64_t n) {
    kv->type = S2_GGUF_ARRAY;
    kv->arr_type = elem;
    kv->n = n;
    if (elem == S2_GGUF_STRING) {
        if (n > SIZE_MAX / sizeof(char *)) return S2_E_NOMEM;
        kv->strs = calloc(n ? (size_t)n : 1, sizeof(char *));
        if (kv->strs == NULL) return S2_E_NOMEM;
        for (uint64_t j = 0; j < n; j++) {
            if (strs[j] == NULL) return S2_E_ARG;
            if ((kv->strs[j] = dup_str(strs[j])) == NULL) return S2_E_NOMEM;
        }
        return S2_OK;
    }
    size_t es = gguf_type_size(elem), bytes;
    if (es == 0) return S2_E_ARG; /* ARRAY or an invalid type */
    if (__builtin_mul_overflow(n, es, &bytes)) return S2_E_NOMEM;
    if (bytes > 0 && data == NULL) return S2_E_ARG;
    kv->arr = malloc(bytes ? bytes : 1);
    if (kv->arr == NULL) return S2_E_NOMEM;
    if (bytes > 0) memcpy(kv->arr, data, bytes);
    if (elem == S2_GGUF_BOOL)
        for (size_t j = 0; j < bytes; j++) ((uint8_t *)kv->arr)[j] = ((const uint8_t *)kv->arr)[j] != 0;
    return S2_OK;
}

static s2_status set_array(s2_gguf_writer *w, const char *key, s2_gguf_type elem, const void *data,
                           const char *const *strs, uint64_t n) {
    if (w == NULL || key == NULL || (unsigned)elem >= S2_GGUF_N_TYPES || elem == S2_GGUF_ARRAY) return S2_E_ARG;
    s2_gguf_kv kv = {.key = dup_str(key)};
    if (kv.key == NULL) return S2_E_NOMEM;
    s2_status st = copy_arr(&kv, elem, data, strs, n);
    if (st != S2_OK) {
        kv_clear(&kv);
        return st;
    }
    return put_kv(w, &kv);
}

s2_status s2_gguf_set_arr(s2_gguf_writer *w, const char *key, s2_gguf_type elem, const void *data, uint64_t n) {
    if (elem == S2_GGUF_STRING) return S2_E_ARG; /* strings go through s2_gguf_set_arr_str */
    return set_array(w, key, elem, data, NULL, n);
}

s2_status s2_gguf_set_arr_str(s2_gguf_writer *w, const char *key, const char *const *v, uint64_t n) {
    if (v == NULL && n > 0) return S2_E_ARG;
    return set_array(w, key, S2_GGUF_STRING, NULL, v, n);
}

s2_status s2_gguf_set_kv(s2_gguf_writer *w, const s2_gguf_kv *kv) {
    if (kv == NULL || kv->key == NULL) return S2_E_ARG;
    if (kv->type == S2_GGUF_ARRAY)
        return set_array(w, kv->key, kv->arr_type, kv->arr, (const char *const *)kv->strs, kv->n);
    if (kv->type == S2_GGUF_STRING) return s2_gguf_set_str(w, kv->key, kv->str);
    if (gguf_type_size(kv->type) == 0) return S2_E_ARG;
    return set_scalar(w, kv->key, kv->type, (s2_gguf_kv){.v = kv->v});
}

s2_status s2_gguf_add_tensor(s2_gguf_writer *w, const char *name, int32_t type, int32_t n_dims, const int64_t *ne,
                             const void *data, s2_error *err) {
    if (w == NULL || name == NULL || ne == NULL) return s2_error_set(err, S2_E_ARG, "gguf writer: NULL argument");
    size_t nl = strlen(name);
    if (nl == 0 || nl >= GGUF_MAX_NAME)
        return s2_error_set(err, S2_E_ARG, "gguf writer: tensor name '%s' must have 1 to %d bytes", name,
                            GGUF_MAX_NAME - 1);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return s2_error_set(err, S2_E_ARG, "gguf writer: tensor '%s': n_dims %d not in [1, %d]", name, n_dims,
                            GGUF_MAX_DIMS);
    if (!s2_type_known(type))
        return s2_error_set(err, S2_E_ARG, "gguf writer: tensor '%s': unknown type %d", name, type);
    int64_t nel = 1;
    for (int32_t d = 0; d < n_dims; d++)
        if (ne[d] < 0 || __builtin_mul_overflow(nel, ne[d], &nel))
            return s2_error_set(err, S2_E_ARG, "gguf writer: tensor '%s': bad shape at ne[%d] = %lld", name, d,
                                (long long)ne[d]);
    if (ne[0] % s2_type_block(type) != 0)
        return s2_error_set(err, S2_E_ARG, "gguf writer: tensor '%s': ne[0] = %lld is not a multiple of %s's block %lld",
                            name, (long long)ne[0], s2_type_name(type), (long long)s2_type_block(type));
    size_t nbytes = 0;
    if (ne[0] > 0 &&
        __builtin_mul_overflow(s2_type_row_size(type, ne[0]), (uint64_t)(nel / ne[0]), &nbytes))
        return s2_error_set(err, S2_E_ARG, "gguf writer: tensor '%s': byte size overflows", name);
    if (nbytes > 0 && data == NULL) return s2_error_set(err, S2_E_ARG, "gguf writer: tensor '%s': NULL data", name);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return s2_error_set(err, S2_E_ARG, "gguf writer: duplicate tensor name '%s'", name);
    if (!grow((void **)&w->t, &w->cap_t, sizeof *w->t, w->n_t))
        return s2_error_set(err, S2_E_NOMEM, "gguf writer: out of memory");
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if ((t->name = dup_str(name)) == NULL) return s2_error_set(err, S2_E_NOMEM, "gguf writer: out of memory");
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->nbytes = nbytes;
    w->n_t++;
    return S2_OK;
}

/* The writer's alignment: general.alignment when set to a usable integer, else 32. */
static size_t writer_alignment(const s2_gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) {
        const s2_gguf_kv *kv = &w->kv[i];
        if (strcmp(kv->key, "general.alignment") != 0) continue;
        if (!gguf_type_is_int(kv->type) || (gguf_type_is_signed(kv->type) && kv->v.i < 0)) break;
        uint64_t a = kv->v.u;
        if (a != 0 && (a & (a - 1)) == 0 && a <= (1u << 30)) return (size_t)a;
    }
    return GGUF_DEFAULT_ALIGNMENT;
}

typedef struct wfile {
    FILE *f;
    bool ok;
    uint64_t pos;
} wfile;

static void w_bytes(wfile *o, const void *p, size_t n) {
    if (o->ok && n > 0 && fwrite(p, 1, n, o->f) != n) o->ok = false;
    o->pos += n;
}
static void w_u32(wfile *o, uint32_t v) { w_bytes(o, &v, 4); }
static void w_u64(wfile *o, uint64_t v) { w_bytes(o, &v, 8); }
static void w_str(wfile *o, const char *s) {
    size_t n = strlen(s);
    w_u64(o, n);
    w_bytes(o, s, n);
}
static void w_pad(wfile *o, size_t align) {
    static const uint8_t zeros[256];
    while (o->pos % align != 0) {
        size_t n = align - o->pos % align;
        w_bytes(o, zeros, n < sizeof zeros ? n : sizeof zeros);
    }
}

/* One scalar in the file's width (the union holds it widened). */
static void w_scalar(wfile *o, s2_gguf_type t, const s2_gguf_kv *kv) {
    switch (t) {
    case S2_GGUF_UINT8: case S2_GGUF_INT8: { uint8_t x = (uint8_t)kv->v.u; w_bytes(o, &x, 1); break; }
    case S2_GGUF_BOOL: { uint8_t x = kv->v.b ? 1 : 0; w_bytes(o, &x, 1); break; }
    case S2_GGUF_UINT16: case S2_GGUF_INT16: { uint16_t x = (uint16_t)kv->v.u; w_bytes(o, &x, 2); break; }
    case S2_GGUF_UINT32: case S2_GGUF_INT32: { uint32_t x = (uint32_t)kv->v.u; w_bytes(o, &x, 4); break; }
    case S2_GGUF_UINT64: case S2_GGUF_INT64: w_u64(o, kv->v.u); break;
    case S2_GGUF_FLOAT32: { float x = (float)kv->v.f; w_bytes(o, &x, 4); break; }
    case S2_GGUF_FLOAT64: { double x = kv->v.f; w_bytes(o, &x, 8); break; }
    default: o->ok = false; break;
    }
}

static void w_kv(wfile *o, const s2_gguf_kv *kv) {
    w_str(o, kv->key);
    w_u32(o, (uint32_t)kv->type);
    if (kv->type == S2_GGUF_STRING) {
        w_str(o, kv->str);
    } else if (kv->type == S2_GGUF_ARRAY) {
        w_u32(o, (uint32_t)kv->arr_type);
        w_u64(o, kv->n);
        if (kv->arr_type == S2_GGUF_STRING)
            for (uint64_t j = 0; j < kv->n; j++) w_str(o, kv->strs[j]);
        else
            w_bytes(o, kv->arr, (size_t)kv->n * gguf_type_size(kv->arr_type));
    } else {
        w_scalar(o, kv->type, kv);
    }
}

s2_status s2_gguf_write(const s2_gguf_writer *w, const char *path, s2_error *err) {
    if (w == NULL || path == NULL) return s2_error_set(err, S2_E_ARG, "gguf writer: NULL argument");
    size_t align = writer_alignment(w), pl = strlen(path);
    char *tmp = malloc(pl + 5);
    if (tmp == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    wfile o = {.f = fopen(tmp, "wb"), .ok = true};
    if (o.f == NULL) {
        s2_status st = s2_error_set(err, S2_E_IO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    w_u32(&o, GGUF_MAGIC);
    w_u32(&o, 3);
    w_u64(&o, w->n_t);
    w_u64(&o, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) w_kv(&o, &w->kv[i]);
    uint64_t off = 0; /* each tensor starts at a multiple of align within the data section */
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        w_str(&o, t->name);
        w_u32(&o, (uint32_t)t->n_dims);
        for (int32_t d = 0; d < t->n_dims; d++) w_u64(&o, (uint64_t)t->ne[d]);
        w_u32(&o, (uint32_t)t->type);
        w_u64(&o, off);
        off += t->nbytes;
        off += (align - off % align) % align;
    }
    if (w->n_t > 0) w_pad(&o, align); /* a file without tensors ends after its metadata, like ggml's */
    for (size_t i = 0; i < w->n_t; i++) {
        w_bytes(&o, w->t[i].data, w->t[i].nbytes);
        w_pad(&o, align);
    }
    int e = 0;
    if (!o.ok || fflush(o.f) != 0 || fsync(fileno(o.f)) != 0) e = errno ? errno : EIO;
    if (fclose(o.f) != 0 && e == 0) e = errno ? errno : EIO;
    if (e == 0 && rename(tmp, path) != 0) e = errno;
    if (e != 0) {
        unlink(tmp);
        s2_status st = s2_error_set(err, S2_E_IO, "%s: write failed: %s", path, strerror(e));
        free(tmp);
        return st;
    }
    free(tmp);
    /* make the rename itself durable: fsync the directory (best effort; some filesystems refuse) */
    char *slash = strrchr(path, '/');
    char dir[4096];
    if (slash == NULL) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path ? slash - path : 1), path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return S2_OK;
}
