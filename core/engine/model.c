/* model.c: loading a model: hyperparameters from GGUF metadata (the architectures of arch.c's table),
 * tensors by name with their shapes checked, or a llama2.c checkpoint (.bin + tok*.bin).
 *
 * Weights stay in the file's map (read-only); only the small 1-D tensors (norms, biases) are dequantized into one
 * owned block. Nothing here computes: forward.c does. Bad files are S2_E_FORMAT naming the key or tensor. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "quant.h"
#include "tokenizer.h"

s2_model_params s2_model_default_params(void) {
    s2_model_params p = {.use_mmap = true, .vocab_only = false, .tokenizer = NULL, .pack_rows = true};
    return p;
}

void s2_model_free(s2_model *m) {
    if (m == NULL) return;
    s2_vocab_free(m->vocab);
    s2_gguf_free(m->gguf);
    if (m->map != NULL) munmap(m->map, m->map_size);
    free(m->layers);
    free(m->owned);
    free(m->packed);
    free(m->bound);
    free(m);
}

const s2_hparams *s2_model_hparams(const s2_model *m) { return &m->hp; }
const s2_vocab *s2_model_vocab(const s2_model *m) { return m->vocab; }
int64_t s2_model_n_params(const s2_model *m) { return m->n_params; }
int64_t s2_model_weight_bytes(const s2_model *m) { return m->weight_bytes; }
int64_t s2_model_packed_bytes(const s2_model *m) { return m->packed_bytes; }

/* ---- GGUF ---- */

static s2_status get_hp_int(const s2_gguf *g, const char *arch, const char *key, int64_t dflt, bool required,
                            int32_t lo, int32_t hi, int32_t *out, s2_error *err) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    int64_t v = 0;
    s2_status st = required ? s2_gguf_get_int(g, full, &v, err) : s2_gguf_get_int_or(g, full, dflt, &v, err);
    if (st != S2_OK) return st;
    if (v < lo || v > hi) return s2_error_set(err, S2_E_FORMAT, "%s = %lld is not in [%d, %d]", full, (long long)v, lo, hi);
    *out = (int32_t)v;
    return S2_OK;
}

static s2_status get_hp_float(const s2_gguf *g, const char *arch, const char *key, double dflt, float *out,
                              s2_error *err) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    double v = 0;
    s2_status st = s2_gguf_get_float_or(g, full, dflt, &v, err);
    if (st != S2_OK) return st;
    if (!(v > 0 && v < 1e30)) return s2_error_set(err, S2_E_FORMAT, "%s = %g is not a positive number", full, v);
    *out = (float)v;
    return S2_OK;
}

/* A name taken from the file, made safe to print (s2_escape: control bytes and invalid UTF-8 as \xNN). */
static const char *esc(const char *s, char *buf, size_t cap) { return s2_escape(buf, cap, s, strlen(s)); }

static bool in_list(const char *const *list, const char *s) {
    for (int32_t i = 0; list != NULL && list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

/* Every "<arch>." key must be one the row reads: a key that would change the computation in llama.cpp
 * (expert_count, rope.scaling.yarn_*, a soft-cap where the row has none) is refused by name, never ignored. */
static s2_status check_keys(const s2_gguf *g, const s2_arch *a, s2_error *err) {
    size_t plen = strlen(a->name);
    for (int64_t i = 0; i < s2_gguf_n_kv(g); i++) {
        const char *key = s2_gguf_kv_at(g, i)->key;
        if (strncmp(key, a->name, plen) != 0 || key[plen] != '.') continue;
        if (in_list(s2_arch_common_keys, key + plen + 1) || in_list(a->keys, key + plen + 1)) continue;
        char e[160];
        return s2_error_set(err, S2_E_UNSUPPORTED, "key %s is not supported for architecture %s", esc(key, e, sizeof e),
                            a->name);
    }
    return S2_OK;
}

static s2_status unsupported_arch(const char *arch, s2_error *err) {
    char names[160] = "", e[96];
    size_t n = 0;
    for (int32_t i = 0; i < s2_arch_count() && n < sizeof names; i++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? " " : "", s2_arch_at(i)->name);
    return s2_error_set(err, S2_E_UNSUPPORTED, "architecture '%s' is not supported (supported: %s)",
                        esc(arch, e, sizeof e), names);
}

/* RoPE scaling: none, linear (positions divided by the factor), llama3 (factors in rope_freqs.weight); anything
 * else (yarn, longrope, ...) is refused by name. *needs_freqs: the llama3 type, whose tensor must be there. */
static s2_status read_rope_scaling(const s2_gguf *g, const char *arch, float *scale, bool *needs_freqs,
                                   s2_error *err) {
    char key[128];
    *scale = 1.0f;
    *needs_freqs = false;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const s2_gguf_kv *kv = s2_gguf_find(g, key);
    if (kv != NULL) {
        if (kv->type != S2_GGUF_STRING) return s2_error_set(err, S2_E_FORMAT, "key %s is not a string", key);
        char e[96];
        if (strcmp(kv->str, "llama3") == 0) *needs_freqs = true;
        else if (strcmp(kv->str, "linear") == 0) return get_hp_float(g, arch, "rope.scaling.factor", 1.0, scale, err);
        else if (strcmp(kv->str, "none") != 0)
            return s2_error_set(err, S2_E_UNSUPPORTED, "%s = '%s' is not supported (none, linear, llama3 are)", key,
                                esc(kv->str, e, sizeof e));
        return S2_OK;
    }
    snprintf(key, sizeof key, "%s.rope.scale_linear", arch); /* the older key */
    if (s2_gguf_find(g, key) != NULL) return get_hp_float(g, arch, "rope.scale_linear", 1.0, scale, err);
    return S2_OK;
}

static s2_status read_hparams(s2_model *m, bool *needs_freqs, s2_error *err) {
    const s2_gguf *g = m->gguf;
    s2_hparams *hp = &m->hp;
    const char *arch = NULL;
    s2_status st = s2_gguf_get_str(g, "general.architecture", &arch, err);
    if (st != S2_OK) return st;
    const s2_arch *a = s2_arch_find(arch);
    if (a == NULL) return unsupported_arch(arch, err);
    m->arch = a;
    st = check_keys(g, a, err);
    if (st != S2_OK) return st;
    snprintf(hp->arch, sizeof hp->arch, "%s", arch);
    m->rope = a->rope;
    hp->qkv_bias = a->qkv_bias;
    const int32_t big = 1 << 24;
    if (st == S2_OK) st = get_hp_int(g, arch, "context_length", 0, true, 1, big, &hp->n_ctx_train, err);
    if (st == S2_OK) st = get_hp_int(g, arch, "embedding_length", 0, true, 1, big, &hp->n_embd, err);
    if (st == S2_OK) st = get_hp_int(g, arch, "block_count", 0, true, 1, 4096, &hp->n_layer, err);
    if (st == S2_OK) st = get_hp_int(g, arch, "feed_forward_length", 0, true, 1, big, &hp->n_ff, err);
    if (st == S2_OK) st = get_hp_int(g, arch, "attention.head_count", 0, true, 1, 4096, &hp->n_head, err);
    if (st == S2_OK)
        st = get_hp_int(g, arch, "attention.head_count_kv", hp->n_head, false, 1, 4096, &hp->n_head_kv, err);
    if (st != S2_OK) return st;
    if (hp->n_head % hp->n_head_kv != 0)
        return s2_error_set(err, S2_E_FORMAT, "%s.attention.head_count %d is not a multiple of head_count_kv %d",
                            arch, hp->n_head, hp->n_head_kv);
    char key[128];
    snprintf(key, sizeof key, "%s.attention.key_length", arch);
    if (s2_gguf_find(g, key) == NULL && hp->n_embd % hp->n_head != 0)
        return s2_error_set(err, S2_E_FORMAT, "%s.embedding_length %d is not a multiple of head_count %d", arch,
                            hp->n_embd, hp->n_head);
    st = get_hp_int(g, arch, "attention.key_length", hp->n_embd / hp->n_head, false, 2, 65536, &hp->head_dim, err);
    if (st != S2_OK) return st;
    if (hp->head_dim % 2 != 0) return s2_error_set(err, S2_E_FORMAT, "head dimension %d is odd", hp->head_dim);
    int32_t v_dim = 0, rope_dim = 0;
    st = get_hp_int(g, arch, "attention.value_length", hp->head_dim, false, 1, 65536, &v_dim, err);
    if (st != S2_OK) return st;
    if (v_dim != hp->head_dim)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s.attention.value_length %d != key_length %d", arch, v_dim,
                            hp->head_dim);
    st = get_hp_int(g, arch, "rope.dimension_count", hp->head_dim, false, 0, 65536, &rope_dim, err);
    if (st != S2_OK) return st;
    if (rope_dim != hp->head_dim)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s.rope.dimension_count %d != head dimension %d (partial RoPE)",
                            arch, rope_dim, hp->head_dim);
    st = get_hp_float(g, arch, "attention.layer_norm_rms_epsilon", 0, &hp->rms_eps, err);
    if (st != S2_OK) {
        snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
        if (s2_gguf_find(g, key) == NULL)
            return s2_error_set(err, S2_E_FORMAT, "missing key %s (the RMSNorm epsilon)", key);
        return st;
    }
    st = get_hp_float(g, arch, "rope.freq_base", 10000.0, &hp->rope_base, err);
    if (st == S2_OK) st = read_rope_scaling(g, arch, &hp->rope_scale, needs_freqs, err);
    if (st == S2_OK && *needs_freqs && !a->rope_freqs)
        st = s2_error_set(err, S2_E_UNSUPPORTED, "%s.rope.scaling.type llama3 is not supported for %s", arch, arch);
    m->attn_softcap = m->final_softcap = 0.0f;
    if (st == S2_OK && a->attn_softcap > 0)
        st = get_hp_float(g, arch, "attn_logit_softcapping", a->attn_softcap, &m->attn_softcap, err);
    if (st == S2_OK && a->final_softcap > 0)
        st = get_hp_float(g, arch, "final_logit_softcapping", a->final_softcap, &m->final_softcap, err);
    if (st == S2_OK && a->swa_period > 0)
        st = get_hp_int(g, arch, "attention.sliding_window", 0, false, 0, big, &m->n_swa, err);
    if (st != S2_OK) return st;
    /* the query scale: query_pre_attn_scalar^-0.5, which GGUF has no key for; llama.cpp's rule is head_dim,
     * except for the one size (27B) that uses n_embd / n_head */
    bool qpas_d_over_h = a->qpas_n_layer > 0 && hp->n_layer == a->qpas_n_layer;
    m->attn_scale = 1.0f / sqrtf((float)(qpas_d_over_h ? hp->n_embd / hp->n_head : hp->head_dim));
    m->embed_scale = a->embed_scale ? sqrtf((float)hp->n_embd) : 1.0f;
    /* RoPE tables: [0] the file's base and scaling (rope_freqs bound later), [1] the sliding layers' */
    m->rope_sets[0] = (s2_rope_set){.base = hp->rope_base, .scale = hp->rope_scale, .factors = NULL};
    m->rope_sets[1] = a->local_rope_base > 0 ? (s2_rope_set){.base = a->local_rope_base, .scale = 1.0f, .factors = NULL}
                                             : m->rope_sets[0];
    return S2_OK;
}

static void mark_bound(s2_model *m, const s2_gguf_tensor *t) {
    if (m->bound != NULL) m->bound[t - s2_gguf_tensor_at(m->gguf, 0)] = true;
}

/* Binds a 2-D weight (n_in, n_out) by name, checking shape and type. */
static s2_status bind_weight(s2_model *m, const char *name, int64_t n_in, int64_t n_out, bool optional,
                             s2_weight *w, s2_error *err) {
    const s2_gguf_tensor *t = s2_gguf_find_tensor(m->gguf, name);
    if (t == NULL) {
        if (optional) return S2_OK;
        return s2_error_set(err, S2_E_FORMAT, "missing tensor %s", name);
    }
    if (t->n_dims != 2 || t->ne[0] != n_in || t->ne[1] != n_out)
        return s2_error_set(err, S2_E_FORMAT, "tensor %s has shape [%lld, %lld, %lld], expected [%lld, %lld]", name,
                            (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)n_in,
                            (long long)n_out);
    if (!s2_type_supported(t->type))
        return s2_error_set(err, S2_E_UNSUPPORTED, "tensor %s has type %s (supported: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs)", name,
                            s2_type_name(t->type) ? s2_type_name(t->type) : "unknown");
    w->data = t->data;
    w->type = t->type;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_bytes = s2_type_row_size(t->type, n_in);
    m->n_params += n_in * n_out;
    m->weight_bytes += (int64_t)t->nbytes;
    mark_bound(m, t);
    return S2_OK;
}

/* Output rows [o0, o0 + n) of a bound weight, as a weight of its own (fused tensors: attn_qkv, ffn_up of phi3). */
static s2_weight weight_rows(const s2_weight *w, int64_t o0, int64_t n) {
    s2_weight r = *w;
    r.data = (const char *)w->data + (size_t)o0 * w->row_bytes;
    r.n_out = n;
    return r;
}

/* Binds a 1-D tensor of n elements, dequantized into dst. */
static s2_status bind_vector(s2_model *m, const char *name, int64_t n, bool optional, float *dst, bool *found,
                             s2_error *err) {
    const s2_gguf_tensor *t = s2_gguf_find_tensor(m->gguf, name);
    if (found) *found = t != NULL;
    if (t == NULL) return optional ? S2_OK : s2_error_set(err, S2_E_FORMAT, "missing tensor %s", name);
    if (t->n_dims != 1 || t->ne[0] != n)
        return s2_error_set(err, S2_E_FORMAT, "tensor %s has %d dims and %lld elements, expected 1 and %lld", name,
                            t->n_dims, (long long)t->ne[0], (long long)n);
    if (s2_dequantize_row(t->type, t->data, dst, n) != S2_OK)
        return s2_error_set(err, S2_E_UNSUPPORTED, "tensor %s has type %s, not supported for a vector", name,
                            s2_type_name(t->type) ? s2_type_name(t->type) : "unknown");
    m->n_params += n;
    m->weight_bytes += (int64_t)t->nbytes;
    mark_bound(m, t);
    return S2_OK;
}

/* Whether layer l is a sliding-window layer of the row (swa_period: 1 all, p > 1 all but every p-th). */
static bool layer_is_local(const s2_arch *a, int32_t l) {
    return a->swa_period == 1 || (a->swa_period > 1 && (l + 1) % a->swa_period != 0);
}

/* The owned block: per layer the norms (D each; post norms D each, q/k norms HD each) and the biases (Q + 2 KV)
 * where the row has them, output_norm (D), rope_freqs (HD/2). Also each layer's window and RoPE table. */
static s2_status alloc_owned(s2_model *m, s2_error *err) {
    const s2_hparams *hp = &m->hp;
    const s2_arch *a = m->arch;
    int64_t D = hp->n_embd, HD = hp->head_dim, Q = (int64_t)hp->n_head * HD, KV = (int64_t)hp->n_head_kv * HD;
    int64_t per_layer = 2 * D + (a->qkv_bias ? Q + 2 * KV : 0) + (a->qk_norm ? 2 * HD : 0) + (a->post_norms ? 2 * D : 0);
    m->owned = calloc((size_t)(per_layer * hp->n_layer + D + HD / 2), sizeof(float));
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (m->owned == NULL || m->layers == NULL) return s2_error_set(err, S2_E_NOMEM, "model: out of memory");
    float *p = m->owned;
    for (int32_t l = 0; l < hp->n_layer; l++) {
        s2_layer *ly = &m->layers[l];
        ly->attn_norm = p, p += D;
        ly->ffn_norm = p, p += D;
        if (a->qkv_bias) ly->bq = p, p += Q, ly->bk = p, p += KV, ly->bv = p, p += KV;
        if (a->qk_norm) ly->q_norm = p, p += HD, ly->k_norm = p, p += HD;
        if (a->post_norms) ly->post_attn_norm = p, p += D, ly->post_ffn_norm = p, p += D;
        bool local = layer_is_local(a, l);
        ly->window = local ? m->n_swa : 0;
        ly->rope_set = local && a->local_rope_base > 0 ? 1 : 0;
    }
    m->output_norm = p, p += D;
    m->rope_freqs = p;
    return S2_OK;
}

/* rope_freqs.weight (HD/2): optional for a row that reads it, required by rope.scaling.type llama3; the
 * factors divide the global RoPE table's frequencies. */
static s2_status bind_rope_freqs(s2_model *m, bool required, s2_error *err) {
    int64_t half = m->hp.head_dim / 2;
    bool found = false;
    s2_status st = S2_OK;
    if (m->arch->rope_freqs) st = bind_vector(m, "rope_freqs.weight", half, true, m->rope_freqs, &found, err);
    if (st != S2_OK) return st;
    if (!found && required)
        return s2_error_set(err, S2_E_FORMAT, "missing tensor rope_freqs.weight (%s.rope.scaling.type is llama3)",
                            m->hp.arch);
    for (int64_t j = 0; found && j < half; j++)
        if (!(m->rope_freqs[j] > 0 && m->rope_freqs[j] < 1e30f))
            return s2_error_set(err, S2_E_FORMAT, "rope_freqs.weight[%lld] = %g is not a positive number", (long long)j,
                                (double)m->rope_freqs[j]);
    m->rope_sets[0].factors = found ? m->rope_freqs : NULL;
    if (m->arch->local_rope_base <= 0) m->rope_sets[1] = m->rope_sets[0];
    return S2_OK;
}

/* Every tensor of the file must be one a binding read: an unknown one (rope_factors_long, an expert, a bias of an
 * architecture without biases) would change the computation, so it is refused by name. */
static s2_status check_all_bound(s2_model *m, s2_error *err) {
    for (int64_t i = 0; i < s2_gguf_n_tensors(m->gguf); i++) {
        if (m->bound[i]) continue;
        char e[160];
        return s2_error_set(err, S2_E_UNSUPPORTED, "tensor %s is not used by architecture %s: not supported",
                            esc(s2_gguf_tensor_at(m->gguf, i)->name, e, sizeof e), m->hp.arch);
    }
    return S2_OK;
}

static s2_status bind_tensors(s2_model *m, bool needs_freqs, s2_error *err) {
    s2_hparams *hp = &m->hp;
    const s2_arch *a = m->arch;
    m->bound = calloc((size_t)s2_gguf_n_tensors(m->gguf) + 1, sizeof(bool));
    if (m->bound == NULL) return s2_error_set(err, S2_E_NOMEM, "model: out of memory");
    const s2_gguf_tensor *emb = s2_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (emb == NULL) return s2_error_set(err, S2_E_FORMAT, "missing tensor token_embd.weight");
    if (emb->n_dims != 2) return s2_error_set(err, S2_E_FORMAT, "tensor token_embd.weight is not 2-D");
    hp->n_vocab = (int32_t)emb->ne[1];
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return s2_error_set(err, S2_E_FORMAT, "token_embd.weight has %lld rows", (long long)emb->ne[1]);
    if (hp->n_vocab != s2_vocab_n_tokens(m->vocab))
        return s2_error_set(err, S2_E_FORMAT, "token_embd.weight has %d rows but the vocabulary %d tokens",
                            hp->n_vocab, s2_vocab_n_tokens(m->vocab));
    int64_t D = hp->n_embd, HD = hp->head_dim, Q = (int64_t)hp->n_head * HD, KV = (int64_t)hp->n_head_kv * HD;
    int64_t F = hp->n_ff, V = hp->n_vocab;
    s2_status st = alloc_owned(m, err);
    if (st == S2_OK) st = bind_weight(m, "token_embd.weight", D, V, false, &m->tok_embd, err);
    if (st == S2_OK) st = bind_weight(m, "output.weight", D, V, true, &m->output, err);
    if (st != S2_OK) return st;
    hp->tied_output = m->output.data == NULL;
    if (hp->tied_output) m->output = m->tok_embd;
    st = bind_vector(m, "output_norm.weight", D, false, m->output_norm, NULL, err);
    if (st == S2_OK) st = bind_rope_freqs(m, needs_freqs, err);
    char name[96];
    s2_weight fused;
#define W(field, fmt, nin, nout) \
    if (st == S2_OK) { snprintf(name, sizeof name, fmt, l); st = bind_weight(m, name, nin, nout, false, &ly->field, err); }
#define N(field, fmt, n) \
    if (st == S2_OK) { snprintf(name, sizeof name, fmt, l); st = bind_vector(m, name, n, false, ly->field, NULL, err); }
    for (int32_t l = 0; l < hp->n_layer && st == S2_OK; l++) {
        s2_layer *ly = &m->layers[l];
        N(attn_norm, "blk.%d.attn_norm.weight", D)
        N(ffn_norm, "blk.%d.ffn_norm.weight", D)
        if (a->fused_qkv) { /* rows q, then k, then v */
            snprintf(name, sizeof name, "blk.%d.attn_qkv.weight", l);
            if (st == S2_OK) st = bind_weight(m, name, D, Q + 2 * KV, false, &fused, err);
            if (st == S2_OK)
                ly->wq = weight_rows(&fused, 0, Q), ly->wk = weight_rows(&fused, Q, KV),
                ly->wv = weight_rows(&fused, Q + KV, KV);
        } else {
            W(wq, "blk.%d.attn_q.weight", D, Q)
            W(wk, "blk.%d.attn_k.weight", D, KV)
            W(wv, "blk.%d.attn_v.weight", D, KV)
        }
        W(wo, "blk.%d.attn_output.weight", Q, D)
        if (a->fused_gate_up) { /* rows gate, then up */
            snprintf(name, sizeof name, "blk.%d.ffn_up.weight", l);
            if (st == S2_OK) st = bind_weight(m, name, D, 2 * F, false, &fused, err);
            if (st == S2_OK) ly->w_gate = weight_rows(&fused, 0, F), ly->w_up = weight_rows(&fused, F, F);
        } else {
            W(w_gate, "blk.%d.ffn_gate.weight", D, F)
            W(w_up, "blk.%d.ffn_up.weight", D, F)
        }
        W(w_down, "blk.%d.ffn_down.weight", F, D)
        if (a->qkv_bias) {
            N(bq, "blk.%d.attn_q.bias", Q)
            N(bk, "blk.%d.attn_k.bias", KV)
            N(bv, "blk.%d.attn_v.bias", KV)
        }
        if (a->qk_norm) {
            N(q_norm, "blk.%d.attn_q_norm.weight", HD)
            N(k_norm, "blk.%d.attn_k_norm.weight", HD)
        }
        if (a->post_norms) {
            N(post_attn_norm, "blk.%d.post_attention_norm.weight", D)
            N(post_ffn_norm, "blk.%d.post_ffw_norm.weight", D)
        }
    }
#undef W
#undef N
    if (st == S2_OK) st = check_all_bound(m, err);
    free(m->bound);
    m->bound = NULL;
    return st;
}

/* The matrices of the forward pass, for pack_weights (tok_embd is read by rows: never packed). */
static int32_t model_matrices(s2_model *m, s2_weight **out, int32_t cap) {
    int32_t n = 0;
    if (n < cap) out[n++] = &m->output;
    for (int32_t l = 0; l < m->hp.n_layer; l++) {
        s2_layer *ly = &m->layers[l];
        s2_weight *ws[] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (n < cap) out[n++] = ws[i];
    }
    return n;
}

static bool packable(const s2_weight *w) {
    return w->data != NULL && s2_type_packable(w->type) && w->n_out % S2_PACK_ROWS == 0;
}

/* Issue 12: the weights of a type with a packed layout get a copy in it (rows interleaved eight at a time, so
 * that one activation row streams them at the memory's rate); the mapped file stays as it was, and the paths that
 * read rows (embeddings, dequantized tiles for long batches) still read it. One block for all of them. */
static s2_status pack_weights(s2_model *m, s2_error *err) {
    int32_t cap = 1 + 7 * m->hp.n_layer;
    s2_weight **ws = malloc((size_t)cap * sizeof *ws);
    if (ws == NULL) return s2_error_set(err, S2_E_NOMEM, "model: out of memory");
    int32_t n = model_matrices(m, ws, cap);
    size_t total = 0;
    for (int32_t i = 0; i < n; i++)
        if (packable(ws[i])) total += (size_t)ws[i]->n_out * ws[i]->row_bytes;
    s2_status st = S2_OK;
    if (total > 0 && posix_memalign(&m->packed, 64, total) != 0) {
        m->packed = NULL;
        st = s2_error_set(err, S2_E_NOMEM, "model: out of memory for %.1f MB of packed weights", (double)total / 1e6);
    }
    size_t off = 0;
    for (int32_t i = 0; i < n && st == S2_OK && total > 0; i++) {
        s2_weight *w = ws[i];
        if (!packable(w)) continue;
        char *dst = (char *)m->packed + off;
        st = s2_pack_rows(w->type, w->data, w->row_bytes, w->n_out, w->n_in, dst);
        if (st != S2_OK) {
            st = s2_error_set(err, st, "model: packing a %s weight (%lld x %lld) failed", s2_type_name(w->type),
                              (long long)w->n_in, (long long)w->n_out);
            break;
        }
        w->packed = dst;
        off += (size_t)w->n_out * w->row_bytes;
    }
    m->packed_bytes = (int64_t)off;
    free(ws);
    return st;
}

static s2_status load_gguf(s2_model *m, const char *path, const s2_model_params *p, s2_error *err) {
    s2_status st = s2_gguf_open(path, &m->gguf, err);
    if (st == S2_OK) st = s2_vocab_from_gguf(m->gguf, &m->vocab, err);
    if (st != S2_OK || p->vocab_only) return st;
    bool needs_freqs = false;
    st = read_hparams(m, &needs_freqs, err);
    if (st == S2_OK) st = bind_tensors(m, needs_freqs, err);
    if (st == S2_OK && p->pack_rows) st = pack_weights(m, err);
    return st;
}

/* ---- llama2.c checkpoints ---- */

/* run.c's layout: int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: separate
 * classifier), seq_len; then F32 arrays token_embedding (V,D), rms_att (L,D), wq (L,D,D), wk (L,KV,D),
 * wv (L,KV,D), wo (L,D,D), rms_ffn (L,D), w1 (L,F,D), w2 (L,D,F), w3 (L,F,D), rms_final (D),
 * freq_cis_real and _imag (T, HD/2 each, unused: RoPE is recomputed), wcls (V,D) when unshared. */
static s2_status load_llama2c(s2_model *m, const char *path, const s2_model_params *p, s2_error *err) {
    if (p->tokenizer == NULL)
        return s2_error_set(err, S2_E_ARG, "%s: a llama2.c checkpoint needs its tokenizer (-z tok*.bin)", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
    }
    size_t size = (size_t)sb.st_size;
    if (size < 28) {
        close(fd);
        return s2_error_set(err, S2_E_FORMAT, "%s: %zu bytes is too short for a llama2.c header", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return s2_error_set(err, S2_E_IO, "%s: mmap: %s", path, strerror(errno));
    m->map = map;
    m->map_size = size;
    int32_t h[7];
    memcpy(h, map, sizeof h);
    bool shared = h[5] > 0;
    int32_t V = h[5] < 0 ? -h[5] : h[5];
    s2_hparams *hp = &m->hp;
    if (h[0] <= 0 || h[1] <= 0 || h[2] <= 0 || h[3] <= 0 || h[4] <= 0 || V <= 0 || h[6] <= 0 || h[0] % h[3] != 0 ||
        h[3] % h[4] != 0 || (h[0] / h[3]) % 2 != 0 || h[0] > (1 << 16) || h[1] > (1 << 18) || h[2] > 1024 ||
        V > (1 << 22) || h[6] > (1 << 22))
        return s2_error_set(err, S2_E_FORMAT,
                            "%s: not a llama2.c checkpoint (header dim=%d hidden=%d layers=%d heads=%d kv_heads=%d "
                            "vocab=%d seq_len=%d)", path, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
    snprintf(hp->arch, sizeof hp->arch, "llama");
    hp->n_embd = h[0], hp->n_ff = h[1], hp->n_layer = h[2], hp->n_head = h[3], hp->n_head_kv = h[4];
    hp->n_vocab = V, hp->n_ctx_train = h[6];
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->rms_eps = 1e-5f;      /* run.c's rmsnorm constant: the format stores none */
    hp->rope_base = 10000.0f; /* run.c's RoPE base */
    hp->rope_scale = 1.0f;
    hp->tied_output = shared;
    m->arch = s2_arch_find("llama");
    m->rope = S2_ROPE_PAIRS;
    m->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    m->embed_scale = 1.0f;
    m->rope_sets[0] = m->rope_sets[1] = (s2_rope_set){.base = hp->rope_base, .scale = 1.0f, .factors = NULL};
    s2_status st = s2_vocab_from_llama2c(p->tokenizer, V, &m->vocab, err);
    if (st != S2_OK || p->vocab_only) return st;
    int64_t D = hp->n_embd, KV = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff, L = hp->n_layer;
    int64_t T = hp->n_ctx_train, HD = hp->head_dim;
    int64_t need = V * D + L * D + L * D * D + 2 * L * KV * D + L * D * D + L * D + 3 * L * F * D + D + T * HD +
                   (shared ? 0 : V * D);
    if ((int64_t)(size - 28) / 4 < need)
        return s2_error_set(err, S2_E_FORMAT, "%s: %zu bytes, but the header needs %lld floats after it", path, size,
                            (long long)need);
    st = alloc_owned(m, err);
    if (st != S2_OK) return st;
    const float *f = (const float *)((const char *)map + 28);
    const float *emb = f, *rms_att = emb + V * D, *wq = rms_att + L * D, *wk = wq + L * D * D, *wv = wk + L * KV * D;
    const float *wo = wv + L * KV * D, *rms_ffn = wo + L * D * D, *w1 = rms_ffn + L * D, *w2 = w1 + L * F * D;
    const float *w3 = w2 + L * D * F, *rms_final = w3 + L * F * D, *wcls = rms_final + D + T * HD;
#define F32W(w, ptr, nin, nout) \
    (w).data = (ptr), (w).type = S2_TYPE_F32, (w).n_in = (nin), (w).n_out = (nout), (w).row_bytes = (size_t)(nin) * 4
    F32W(m->tok_embd, emb, D, V);
    if (shared) m->output = m->tok_embd;
    else F32W(m->output, wcls, D, V);
    memcpy(m->output_norm, rms_final, (size_t)D * sizeof(float));
    for (int64_t l = 0; l < L; l++) {
        s2_layer *ly = &m->layers[l];
        memcpy(ly->attn_norm, rms_att + l * D, (size_t)D * sizeof(float));
        memcpy(ly->ffn_norm, rms_ffn + l * D, (size_t)D * sizeof(float));
        F32W(ly->wq, wq + l * D * D, D, D);
        F32W(ly->wk, wk + l * KV * D, D, KV);
        F32W(ly->wv, wv + l * KV * D, D, KV);
        F32W(ly->wo, wo + l * D * D, D, D);
        F32W(ly->w_gate, w1 + l * F * D, D, F);
        F32W(ly->w_down, w2 + l * D * F, F, D);
        F32W(ly->w_up, w3 + l * F * D, D, F);
    }
#undef F32W
    m->n_params = V * D * (shared ? 1 : 2) + L * (2 * D + 2 * D * D + 2 * KV * D + 3 * F * D) + D;
    m->weight_bytes = m->n_params * 4;
    return S2_OK;
}

static bool is_gguf_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return false;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

s2_status s2_model_load(const char *path, const s2_model_params *params, s2_model **out, s2_error *err) {
    s2_model_params p = params ? *params : s2_model_default_params();
    *out = NULL;
    if (path == NULL) return s2_error_set(err, S2_E_ARG, "model: no path given");
    if (access(path, R_OK) != 0) return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
    s2_model *m = calloc(1, sizeof *m);
    if (m == NULL) return s2_error_set(err, S2_E_NOMEM, "model: out of memory");
    /* A GGUF starts with its magic; anything else with a tokenizer beside it is taken as llama2.c's format. */
    bool gguf = is_gguf_file(path);
    s2_status st;
    if (!gguf && p.tokenizer == NULL)
        st = s2_error_set(err, S2_E_FORMAT, "%s: not a GGUF file (a llama2.c checkpoint needs its tokenizer: -z tok*.bin)",
                          path);
    else
        st = gguf ? load_gguf(m, path, &p, err) : load_llama2c(m, path, &p, err);
    if (st != S2_OK) {
        s2_model_free(m);
        return st;
    }
    *out = m;
    return S2_OK;
}
