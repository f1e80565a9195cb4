/* init_model.c: writes random-weight Llama/Qwen2 GGUF files with the project's GGUF writer. Weights are
 * uniform with a given standard deviation from a seeded RNG, so a (shape, seed) pair always makes the same
 * file; norms are 1 plus a little noise, so that tests see non-trivial RMSNorm weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "init_model.h"
#include "quant.h"
#include "tokenizer.h"

s2_init_params s2_init_default_params(void) {
    s2_init_params p = {.arch = "llama", .n_embd = 64, .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_ff = 128,
                        .n_ctx = 256, .n_vocab = 0, .type = S2_TYPE_F32, .tied = true, .seed = 1, .std = 0.05f,
                        .rope_base = 10000.0f, .tokenizer_from = NULL};
    return p;
}

/* The tensors' data, kept until the file is written (the writer holds pointers into them). */
typedef struct tensor_buf {
    void *data;
    struct tensor_buf *next;
} tensor_buf;

/* A new buffer of bytes on *bufs, or NULL. */
static void *new_buf(tensor_buf **bufs, size_t bytes) {
    tensor_buf *b = calloc(1, sizeof *b);
    if (b == NULL || (b->data = malloc(bytes)) == NULL) {
        free(b);
        return NULL;
    }
    b->next = *bufs;
    *bufs = b;
    return b->data;
}

/* general.* and the architecture's keys for a model of shape hp whose 2-D weights are in type (both writers). */
static s2_status write_hparams(s2_gguf_writer *w, const s2_hparams *hp, const char *name, int32_t type) {
    const char *arch = hp->arch;
    char key[128];
#define SETU32(k, v) (snprintf(key, sizeof key, "%s." k, arch), s2_gguf_set_u32(w, key, (uint32_t)(v)))
#define SETF32(k, v) (snprintf(key, sizeof key, "%s." k, arch), s2_gguf_set_f32(w, key, (float)(v)))
    s2_status st = s2_gguf_set_str(w, "general.architecture", arch);
    if (st == S2_OK) st = s2_gguf_set_str(w, "general.name", name);
    if (st == S2_OK) st = s2_gguf_set_u32(w, "general.file_type", (uint32_t)s2_quant_ftype(type));
    if (st == S2_OK) st = SETU32("context_length", hp->n_ctx_train);
    if (st == S2_OK) st = SETU32("embedding_length", hp->n_embd);
    if (st == S2_OK) st = SETU32("block_count", hp->n_layer);
    if (st == S2_OK) st = SETU32("feed_forward_length", hp->n_ff);
    if (st == S2_OK) st = SETU32("attention.head_count", hp->n_head);
    if (st == S2_OK) st = SETU32("attention.head_count_kv", hp->n_head_kv);
    if (st == S2_OK) st = SETU32("rope.dimension_count", hp->head_dim);
    if (st == S2_OK) st = SETU32("vocab_size", hp->n_vocab);
    if (st == S2_OK) st = SETF32("attention.layer_norm_rms_epsilon", hp->rms_eps);
    if (st == S2_OK) st = SETF32("rope.freq_base", hp->rope_base);
#undef SETU32
#undef SETF32
    return st;
}

/* Writes the file when st is S2_OK, then frees the buffers and the writer; returns the first failure. */
static s2_status finish(s2_gguf_writer *w, tensor_buf *bufs, s2_status st, const char *path, s2_error *err) {
    if (st == S2_OK) st = s2_gguf_write(w, path, err);
    while (bufs != NULL) {
        tensor_buf *next = bufs->next;
        free(bufs->data);
        free(bufs);
        bufs = next;
    }
    s2_gguf_writer_free(w);
    return st;
}

/* Adds one random tensor (n_in, n_out) in type; buffers are kept on *bufs until the file is written. */
static s2_status add_random(s2_gguf_writer *w, tensor_buf **bufs, s2_rng *rng, const char *name, int32_t type,
                            int64_t n_in, int64_t n_out, float std, float mean, s2_error *err) {
    bool vec = n_out == 1;
    if (vec) type = S2_TYPE_F32;
    size_t row = s2_type_row_size(type, n_in);
    if (row == 0)
        return s2_error_set(err, S2_E_ARG, "init-model: %s has rows of %lld, not a multiple of %s's block of %lld",
                            name, (long long)n_in, s2_type_name(type), (long long)s2_type_block(type));
    float *tmp = malloc((size_t)n_in * sizeof(float));
    char *data = tmp ? new_buf(bufs, row * (size_t)n_out) : NULL;
    if (data == NULL) {
        free(tmp);
        return s2_error_set(err, S2_E_NOMEM, "init-model: out of memory for %s", name);
    }
    float a = std * sqrtf(3.0f); /* uniform(-a, a) has standard deviation a / sqrt(3) */
    for (int64_t o = 0; o < n_out; o++) {
        for (int64_t i = 0; i < n_in; i++) tmp[i] = mean + a * (float)(2.0 * s2_rng_uniform(rng) - 1.0);
        s2_quantize_row(type, tmp, data + (size_t)o * row, n_in);
    }
    free(tmp);
    int64_t ne[2] = {n_in, n_out};
    return s2_gguf_add_tensor(w, name, type, vec ? 1 : 2, ne, data, err);
}

static s2_status write_vocab(s2_gguf_writer *w, const s2_init_params *p, int32_t *n_vocab, s2_error *err) {
    if (p->tokenizer_from == NULL) {
        s2_vocab *v = NULL;
        s2_status st = s2_vocab_char_init(&v, err);
        if (st == S2_OK) st = s2_vocab_write_gguf(v, w, err);
        if (st == S2_OK) *n_vocab = s2_vocab_n_tokens(v);
        if (st == S2_OK && p->n_vocab > *n_vocab) { /* pad with unused tokens: a realistic embedding size */
            int32_t n0 = *n_vocab, n = p->n_vocab;
            char **texts = calloc((size_t)n, sizeof *texts);
            float *scores = calloc((size_t)n, sizeof *scores);
            int32_t *types = calloc((size_t)n, sizeof *types);
            if (texts == NULL || scores == NULL || types == NULL) st = s2_error_set(err, S2_E_NOMEM, "init-model: out of memory");
            for (int32_t i = 0; st == S2_OK && i < n; i++) {
                char buf[32];
                snprintf(buf, sizeof buf, "<unused%d>", i - n0);
                texts[i] = strdup(i < n0 ? s2_vocab_text(v, i) : buf);
                types[i] = i < n0 ? (int32_t)s2_vocab_type(v, i) : S2_TOKEN_UNUSED;
                if (texts[i] == NULL) st = s2_error_set(err, S2_E_NOMEM, "init-model: out of memory");
            }
            if (st == S2_OK) st = s2_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)texts, (uint64_t)n);
            if (st == S2_OK) st = s2_gguf_set_arr(w, "tokenizer.ggml.scores", S2_GGUF_FLOAT32, scores, (uint64_t)n);
            if (st == S2_OK) st = s2_gguf_set_arr(w, "tokenizer.ggml.token_type", S2_GGUF_INT32, types, (uint64_t)n);
            for (int32_t i = 0; texts && i < n; i++) free(texts[i]);
            free(texts);
            free(scores);
            free(types);
            if (st == S2_OK) *n_vocab = n;
        }
        s2_vocab_free(v);
        return st;
    }
    s2_gguf *src = NULL;
    s2_status st = s2_gguf_open(p->tokenizer_from, &src, err);
    if (st != S2_OK) return st;
    const s2_gguf_kv *toks = NULL;
    st = s2_gguf_get_arr(src, "tokenizer.ggml.tokens", S2_GGUF_STRING, &toks, err);
    for (int64_t i = 0; st == S2_OK && i < s2_gguf_n_kv(src); i++) {
        const s2_gguf_kv *kv = s2_gguf_kv_at(src, i);
        if (strncmp(kv->key, "tokenizer.", 10) == 0) st = s2_gguf_set_kv(w, kv);
    }
    if (st == S2_OK) *n_vocab = (int32_t)toks->n;
    s2_gguf_free(src);
    return st;
}

s2_status s2_model_init_random(const s2_init_params *params, const char *path, s2_error *err) {
    s2_init_params p = params ? *params : s2_init_default_params();
    bool qwen2 = p.arch != NULL && strcmp(p.arch, "qwen2") == 0;
    if (p.arch == NULL || (!qwen2 && strcmp(p.arch, "llama") != 0))
        return s2_error_set(err, S2_E_ARG, "init-model: architecture '%s' (llama or qwen2)", p.arch ? p.arch : "");
    if (p.n_embd < 2 || p.n_layer < 1 || p.n_head < 1 || p.n_head_kv < 1 || p.n_ff < 1 || p.n_ctx < 1 ||
        p.n_embd % p.n_head != 0 || p.n_head % p.n_head_kv != 0 || (p.n_embd / p.n_head) % 2 != 0)
        return s2_error_set(err, S2_E_ARG,
                            "init-model: bad shape dim %d, layers %d, heads %d, kv-heads %d, ff %d, ctx %d (heads must "
                            "divide dim into even head sizes, kv-heads must divide heads)",
                            p.n_embd, p.n_layer, p.n_head, p.n_head_kv, p.n_ff, p.n_ctx);
    if (!s2_type_writable(p.type)) return s2_error_set(err, S2_E_ARG, "init-model: unsupported weight type %d", p.type);
    s2_gguf_writer *w = NULL;
    s2_status st = s2_gguf_writer_init(&w, err);
    if (st != S2_OK) return st;
    int32_t V = 0, D = p.n_embd, HD = p.n_embd / p.n_head, KV = p.n_head_kv * HD;
    st = write_vocab(w, &p, &V, err);
    s2_hparams hp = {.n_vocab = V, .n_ctx_train = p.n_ctx, .n_embd = D, .n_layer = p.n_layer, .n_head = p.n_head,
                     .n_head_kv = p.n_head_kv, .n_ff = p.n_ff, .head_dim = HD, .rms_eps = qwen2 ? 1e-6f : 1e-5f,
                     .rope_base = p.rope_base > 0 ? p.rope_base : 10000.0f};
    snprintf(hp.arch, sizeof hp.arch, "%s", p.arch); /* "llama" or "qwen2", checked above */
    if (st == S2_OK) st = write_hparams(w, &hp, "sys2 random model", p.type);
    tensor_buf *bufs = NULL;
    s2_rng rng;
    s2_rng_seed(&rng, p.seed);
    char name[96];
    if (st == S2_OK) st = add_random(w, &bufs, &rng, "token_embd.weight", p.type, D, V, p.std, 0, err);
    for (int32_t l = 0; st == S2_OK && l < p.n_layer; l++) {
#define T(fmt, nin, nout, std, mean) \
    if (st == S2_OK) snprintf(name, sizeof name, fmt, l), st = add_random(w, &bufs, &rng, name, p.type, nin, nout, std, mean, err)
        T("blk.%d.attn_norm.weight", D, 1, 0.1f, 1.0f);
        T("blk.%d.attn_q.weight", D, D, p.std, 0);
        T("blk.%d.attn_k.weight", D, KV, p.std, 0);
        T("blk.%d.attn_v.weight", D, KV, p.std, 0);
        T("blk.%d.attn_output.weight", D, D, p.std, 0);
        T("blk.%d.ffn_norm.weight", D, 1, 0.1f, 1.0f);
        T("blk.%d.ffn_gate.weight", D, p.n_ff, p.std, 0);
        T("blk.%d.ffn_up.weight", D, p.n_ff, p.std, 0);
        T("blk.%d.ffn_down.weight", p.n_ff, D, p.std, 0);
        if (qwen2) {
            T("blk.%d.attn_q.bias", D, 1, 0.1f, 0);
            T("blk.%d.attn_k.bias", KV, 1, 0.1f, 0);
            T("blk.%d.attn_v.bias", KV, 1, 0.1f, 0);
        }
#undef T
    }
    if (st == S2_OK) st = add_random(w, &bufs, &rng, "output_norm.weight", p.type, D, 1, 0.1f, 1.0f, err);
    if (st == S2_OK && !p.tied) st = add_random(w, &bufs, &rng, "output.weight", p.type, D, V, p.std, 0, err);
    return finish(w, bufs, st, path, err);
}

/* ---- saving a loaded model ---- */

#include "model.h"

/* Converts weight w to type (rows dequantized, then quantized) into a new buffer on *bufs, and adds it. */
static s2_status add_weight(s2_gguf_writer *w, tensor_buf **bufs, const char *name, const s2_weight *wt, int32_t type,
                            s2_error *err) {
    if (s2_type_row_size(type, wt->n_in) == 0) type = S2_TYPE_F32; /* rows the block does not divide stay F32 */
    size_t row = s2_type_row_size(type, wt->n_in);
    float *tmp = malloc((size_t)wt->n_in * sizeof(float));
    char *data = tmp ? new_buf(bufs, row * (size_t)wt->n_out) : NULL;
    if (data == NULL) {
        free(tmp);
        return s2_error_set(err, S2_E_NOMEM, "save: out of memory for %s", name);
    }
    for (int64_t o = 0; o < wt->n_out; o++) {
        s2_dequantize_row(wt->type, (const char *)wt->data + (size_t)o * wt->row_bytes, tmp, wt->n_in);
        s2_quantize_row(type, tmp, data + (size_t)o * row, wt->n_in);
    }
    free(tmp);
    int64_t ne[2] = {wt->n_in, wt->n_out};
    return s2_gguf_add_tensor(w, name, type, 2, ne, data, err);
}

static s2_status add_vector(s2_gguf_writer *w, const char *name, const float *x, int64_t n, s2_error *err) {
    int64_t ne[1] = {n};
    return s2_gguf_add_tensor(w, name, S2_TYPE_F32, 1, ne, x, err);
}

s2_status s2_model_save_gguf(const s2_model *m, const char *path, int32_t type, s2_error *err) {
    if (!s2_type_writable(type)) return s2_error_set(err, S2_E_ARG, "save: unsupported weight type %d", type);
    if (m->layers == NULL) return s2_error_set(err, S2_E_ARG, "save: the model has no weights (vocab only)");
    const s2_hparams *hp = &m->hp;
    s2_gguf_writer *w = NULL;
    s2_status st = s2_gguf_writer_init(&w, err);
    if (st != S2_OK) return st;
    st = s2_vocab_write_gguf(m->vocab, w, err);
    if (st == S2_OK) st = write_hparams(w, hp, "converted by sys2", type);
    tensor_buf *bufs = NULL;
    char name[96];
    if (st == S2_OK) st = add_weight(w, &bufs, "token_embd.weight", &m->tok_embd, type, err);
    if (st == S2_OK && !hp->tied_output) st = add_weight(w, &bufs, "output.weight", &m->output, type, err);
    if (st == S2_OK) st = add_vector(w, "output_norm.weight", m->output_norm, hp->n_embd, err);
    int64_t Q = (int64_t)hp->n_head * hp->head_dim, KV = (int64_t)hp->n_head_kv * hp->head_dim;
    for (int32_t l = 0; st == S2_OK && l < hp->n_layer; l++) {
        const s2_layer *ly = &m->layers[l];
#define W(fmt, field) if (st == S2_OK) snprintf(name, sizeof name, fmt, l), st = add_weight(w, &bufs, name, &ly->field, type, err)
#define N(fmt, field, n) if (st == S2_OK && ly->field) snprintf(name, sizeof name, fmt, l), st = add_vector(w, name, ly->field, n, err)
        N("blk.%d.attn_norm.weight", attn_norm, hp->n_embd);
        N("blk.%d.ffn_norm.weight", ffn_norm, hp->n_embd);
        W("blk.%d.attn_q.weight", wq);
        W("blk.%d.attn_k.weight", wk);
        W("blk.%d.attn_v.weight", wv);
        W("blk.%d.attn_output.weight", wo);
        W("blk.%d.ffn_gate.weight", w_gate);
        W("blk.%d.ffn_up.weight", w_up);
        W("blk.%d.ffn_down.weight", w_down);
        N("blk.%d.attn_q.bias", bq, Q);
        N("blk.%d.attn_k.bias", bk, KV);
        N("blk.%d.attn_v.bias", bv, KV);
#undef W
#undef N
    }
    return finish(w, bufs, st, path, err);
}
