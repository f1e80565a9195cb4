/* quantize.c: rewriting a GGUF file with its weights in other tensor types, as `sys2 quantize` does: either
 * every 2-D tensor in one type (llama-quantize --pure), or a mix that gives each tensor the type llama-quantize's
 * rules give it (llama_tensor_get_type in llama.cpp's llama-quant.cpp, restated here as rows of one table).
 * Metadata is copied unchanged apart from general.file_type and general.quantization_version. Knows tensor names,
 * not architectures; never prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gguf.h"
#include "quant.h"

/* ---- the mixes ---- */

typedef struct quant_mix {
    const char *name;     /* what `sys2 quantize` takes */
    int32_t base;         /* every quantizable weight unless a rule below says otherwise */
    int32_t ftype;        /* llama.cpp's LLAMA_FTYPE_MOSTLY_* (general.file_type) */
    bool rules;           /* llama-quantize's per-tensor rules apply (the quantized mixes; not F32/F16/BF16) */
    int32_t more_bits;    /* attn_v and ffn_down of the layers use_more_bits picks get this type (the _M mixes) */
    int32_t v_first4;     /* attn_v of layers 0-3 get this type (Q4_K_S) */
    int32_t down_first8;  /* ffn_down of the first n_layer / 8 layers get this type (Q4_K_S) */
    int32_t qkv;          /* a fused attn_qkv gets this type (the _M mixes) */
} quant_mix;

static const quant_mix mixes[] = {
    {"f32", S2_TYPE_F32, 0, false, 0, 0, 0, 0},
    {"f16", S2_TYPE_F16, 1, false, 0, 0, 0, 0},
    {"bf16", S2_TYPE_BF16, 32, false, 0, 0, 0, 0},
    {"q8_0", S2_TYPE_Q8_0, 7, true, 0, 0, 0, 0},
    {"q4_0", S2_TYPE_Q4_0, 2, true, 0, 0, 0, 0},
    {"q4_1", S2_TYPE_Q4_1, 3, true, 0, 0, 0, 0},
    {"q5_0", S2_TYPE_Q5_0, 8, true, 0, 0, 0, 0},
    {"q5_1", S2_TYPE_Q5_1, 9, true, 0, 0, 0, 0},
    {"q4_k_s", S2_TYPE_Q4_K, 14, true, 0, S2_TYPE_Q5_K, S2_TYPE_Q5_K, 0},
    {"q4_k_m", S2_TYPE_Q4_K, 15, true, S2_TYPE_Q6_K, 0, 0, S2_TYPE_Q5_K},
    {"q4_k", S2_TYPE_Q4_K, 15, true, S2_TYPE_Q6_K, 0, 0, S2_TYPE_Q5_K}, /* llama-quantize's alias of Q4_K_M */
    {"q5_k_s", S2_TYPE_Q5_K, 16, true, 0, 0, 0, 0},
    {"q5_k_m", S2_TYPE_Q5_K, 17, true, S2_TYPE_Q6_K, 0, 0, S2_TYPE_Q6_K},
    {"q5_k", S2_TYPE_Q5_K, 17, true, S2_TYPE_Q6_K, 0, 0, S2_TYPE_Q6_K}, /* alias of Q5_K_M */
    {"q6_k", S2_TYPE_Q6_K, 18, true, 0, 0, 0, 0},
};
#define N_MIXES (int)(sizeof mixes / sizeof mixes[0])

const char *s2_quant_mix_names(void) {
    return "f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k_s q4_k_m q4_k q5_k_s q5_k_m q5_k q6_k";
}

static const quant_mix *find_mix(const char *name) {
    for (int i = 0; name != NULL && i < N_MIXES; i++)
        if (strcasecmp(mixes[i].name, name) == 0) return &mixes[i];
    return NULL;
}

int32_t s2_quant_ftype(int32_t type) {
    for (int i = 0; i < N_MIXES; i++)
        if (mixes[i].base == type) return mixes[i].ftype;
    return -1;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The tensors llama-quantize quantizes: weights of 2 or more dimensions, but not norms or an MoE router. */
static bool quantizable(const char *name, int32_t n_dims) {
    return n_dims >= 2 && ends_with(name, "weight") && strstr(name, "_norm.weight") == NULL &&
           strstr(name, "ffn_gate_inp.weight") == NULL && strstr(name, "rope_freqs") == NULL;
}

/* blk.N. -> N, or -1 */
static int32_t layer_of(const char *name) {
    int l = -1;
    return sscanf(name, "blk.%d.", &l) == 1 ? l : -1;
}

/* llama-quantize's use_more_bits: the first and last eighth of the layers, and every third between. */
static bool use_more_bits(int32_t i, int32_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* A K-quant (256-element blocks) on rows 256 does not divide falls back as llama-quantize does. */
static int32_t fallback(int32_t type, int64_t ne0) {
    if (ne0 % s2_type_block(type) == 0) return type;
    switch (type) {
    case S2_TYPE_Q4_K: type = S2_TYPE_Q5_0; break;
    case S2_TYPE_Q5_K: type = S2_TYPE_Q5_1; break;
    case S2_TYPE_Q6_K: type = S2_TYPE_Q8_0; break;
    default: break;
    }
    return ne0 % s2_type_block(type) == 0 ? type : S2_TYPE_F16;
}

static int32_t mix_type(const quant_mix *mx, const char *name, int32_t cur, int32_t n_dims, int64_t ne0,
                        int32_t n_layer, bool has_output) {
    if (!quantizable(name, n_dims)) return cur;
    int32_t t = mx->base, layer = layer_of(name);
    if (mx->rules) {
        if (strcmp(name, "output.weight") == 0 || (!has_output && strcmp(name, "token_embd.weight") == 0))
            t = ne0 % 256 != 0 ? S2_TYPE_Q8_0 : mx->base == S2_TYPE_Q8_0 ? S2_TYPE_Q8_0 : S2_TYPE_Q6_K;
        else if (ends_with(name, "attn_v.weight")) {
            if (mx->more_bits && use_more_bits(layer, n_layer)) t = mx->more_bits;
            if (mx->v_first4 && layer < 4) t = mx->v_first4;
        } else if (ends_with(name, "ffn_down.weight")) {
            if (mx->more_bits && use_more_bits(layer, n_layer)) t = mx->more_bits;
            if (mx->down_first8 && layer < n_layer / 8) t = mx->down_first8;
        } else if (ends_with(name, "attn_qkv.weight") && mx->qkv) {
            t = mx->qkv;
        }
    }
    return fallback(t, ne0);
}

int32_t s2_quant_mix_tensor_type(const char *mix, const char *name, int32_t cur_type, int32_t n_dims, int64_t ne0,
                                 int32_t n_layer, bool has_output) {
    const quant_mix *mx = find_mix(mix);
    return mx == NULL ? -1 : mix_type(mx, name, cur_type, n_dims, ne0, n_layer, has_output);
}

/* ---- conversion ---- */

/* Converts tensor t to type into a malloc'd buffer (*out), rows in parallel. */
static s2_status convert_tensor(const s2_gguf_tensor *t, int32_t type, void **out, s2_error *err) {
    int64_t n = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
    size_t in_row = s2_type_row_size(t->type, n), out_row = s2_type_row_size(type, n), bytes;
    if (__builtin_mul_overflow(out_row, (size_t)rows, &bytes) || (uint64_t)n > SIZE_MAX / sizeof(float))
        return s2_error_set(err, S2_E_NOMEM, "tensor '%s': too large to convert", t->name);
    uint8_t *buf = malloc(bytes ? bytes : 1);
    if (buf == NULL) return s2_error_set(err, S2_E_NOMEM, "tensor '%s': out of memory (%zu bytes)", t->name, bytes);
    int failed = 0; /* a status; the rows are independent, so a failure only needs to be seen once */
#pragma omp parallel reduction(| : failed) if (rows * n >= (1 << 18))
    {
        float *tmp = malloc((size_t)n * sizeof(float) + 1);
        if (tmp == NULL) failed |= 1;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (tmp == NULL) continue;
            if (s2_dequantize_row(t->type, (const uint8_t *)t->data + (size_t)r * in_row, tmp, n) != S2_OK ||
                s2_quantize_row(type, tmp, buf + (size_t)r * out_row, n) != S2_OK)
                failed |= 2;
        }
        free(tmp);
    }
    if (failed) {
        free(buf);
        if (failed & 1) return s2_error_set(err, S2_E_NOMEM, "tensor '%s': out of memory", t->name);
        return s2_error_set(err, S2_E_UNSUPPORTED, "tensor '%s': cannot convert %s to %s", t->name,
                            s2_type_name(t->type), s2_type_name(type));
    }
    *out = buf;
    return S2_OK;
}

/* The type tensor t gets (its own to keep it as it is): pure (mx NULL: every 2-D tensor in type) or a mix. */
static int32_t target_type(const quant_mix *mx, int32_t type, const s2_gguf_tensor *t, int32_t n_layer,
                           bool has_output) {
    if (!s2_type_supported(t->type)) return t->type; /* copied as it is */
    if (mx == NULL) return t->n_dims == 2 && t->ne[0] % s2_type_block(type) == 0 ? type : t->type;
    return mix_type(mx, t->name, t->type, t->n_dims, t->ne[0], n_layer, has_output);
}

static s2_status quantize_file(const char *in, const char *out, const quant_mix *mx, int32_t type, int32_t ftype,
                               const s2_quantize_params *params, s2_error *err) {
    s2_gguf *g = NULL;
    s2_gguf_writer *w = NULL;
    void **bufs = NULL; /* converted data, alive until the write */
    s2_status st = s2_gguf_open(in, &g, err);
    if (st == S2_OK) st = s2_gguf_writer_init(&w, err);
    if (st == S2_OK && (bufs = calloc((size_t)s2_gguf_n_tensors(g) + 1, sizeof *bufs)) == NULL)
        st = s2_error_set(err, S2_E_NOMEM, "quantize: out of memory");
    int32_t n_layer = 0;
    bool has_output = st == S2_OK && s2_gguf_find_tensor(g, "output.weight") != NULL;
    for (int64_t i = 0; st == S2_OK && i < s2_gguf_n_tensors(g); i++) {
        int32_t l = layer_of(s2_gguf_tensor_at(g, i)->name);
        if (l >= n_layer) n_layer = l + 1;
    }
    for (int64_t i = 0; st == S2_OK && i < s2_gguf_n_kv(g); i++)
        if ((st = s2_gguf_set_kv(w, s2_gguf_kv_at(g, i))) != S2_OK)
            s2_error_set(err, st, "quantize: cannot copy key %s", s2_gguf_kv_at(g, i)->key);
    if (st == S2_OK && (st = s2_gguf_set_u32(w, "general.file_type", (uint32_t)ftype)) != S2_OK)
        s2_error_set(err, st, "quantize: cannot set general.file_type");
    if (st == S2_OK && ftype != 0 && ftype != 1 && ftype != 32 &&
        (st = s2_gguf_set_u32(w, "general.quantization_version", 2)) != S2_OK)
        s2_error_set(err, st, "quantize: cannot set general.quantization_version");
    for (int64_t i = 0; st == S2_OK && i < s2_gguf_n_tensors(g); i++) {
        const s2_gguf_tensor *t = s2_gguf_tensor_at(g, i);
        int32_t to = target_type(mx, type, t, n_layer, has_output);
        bool convert = to != t->type;
        if (convert) st = convert_tensor(t, to, &bufs[i], err);
        if (st == S2_OK) st = s2_gguf_add_tensor(w, t->name, to, t->n_dims, t->ne, convert ? bufs[i] : t->data, err);
        if (st == S2_OK && params != NULL && params->progress != NULL)
            params->progress(params->user, i + 1, s2_gguf_n_tensors(g), t->name);
    }
    if (st == S2_OK) st = s2_gguf_write(w, out, err);
    if (bufs != NULL)
        for (int64_t i = 0; i < s2_gguf_n_tensors(g); i++) free(bufs[i]);
    free(bufs);
    s2_gguf_writer_free(w);
    s2_gguf_free(g);
    return st;
}

s2_status s2_gguf_quantize(const char *in, const char *out, int32_t type, s2_error *err) {
    int32_t ftype = s2_type_writable(type) ? s2_quant_ftype(type) : -1;
    if (ftype < 0)
        return s2_error_set(err, S2_E_ARG, "quantize: type %d (%s) is not one sys2 writes (%s)", type,
                            s2_type_name(type) ? s2_type_name(type) : "unknown",
                            "f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k");
    return quantize_file(in, out, NULL, type, ftype, NULL, err);
}

s2_status s2_gguf_quantize_mix(const char *in, const char *out, const char *mix, const s2_quantize_params *params,
                               s2_error *err) {
    const quant_mix *mx = find_mix(mix);
    if (mx == NULL)
        return s2_error_set(err, S2_E_ARG, "quantize: unknown type or mix (one of %s)", s2_quant_mix_names());
    return quantize_file(in, out, mx, mx->base, mx->ftype, params, err);
}
