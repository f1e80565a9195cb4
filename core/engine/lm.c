/* lm.c: the system-1 interface that search uses (s2_lm), its checked wrappers, and the local engine behind it.
 *
 * A local sequence is an engine sequence (paged KV, shared by forks) plus its text and the logits of its next
 * token, so that forks, label scoring and sampling never recompute a shared prefix. The counters are the
 * context's: prompt tokens computed and reused (prefix cache), tokens sampled, tokens scored, forward calls,
 * rows and FLOPs, and wall time inside system 1, plus one request per call of the interface. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "generate.h"
#include "lm_backend.h"
#include "text.h"

/* ---- wrappers ---- */

s2_lm_sample_params s2_lm_sample_default_params(void) {
    s2_lm_sample_params p = {.sample = s2_sample_default_params(), .max_tokens = 64, .stops = NULL, .n_stops = 0,
                             .seed = 0};
    return p;
}

void s2_lm_gen_free(s2_lm_gen *g) {
    if (g == NULL) return;
    free(g->text);
    free(g->tokens);
    free(g->logprobs);
    memset(g, 0, sizeof *g);
}

void s2_lm_free(s2_lm *lm) {
    if (lm == NULL) return;
    if (lm->iface->free) lm->iface->free(lm);
    else free(lm->ctx);
    free(lm);
}

s2_status s2_lm_seq_new(s2_lm *lm, const char *text, s2_lm_seq *out, s2_error *err) {
    if (text == NULL) return s2_error_set(err, S2_E_ARG, "lm: seq_new without text");
    return lm->iface->seq_new(lm, text, out, err);
}
s2_status s2_lm_fork(s2_lm *lm, s2_lm_seq src, s2_lm_seq *out, s2_error *err) { return lm->iface->fork(lm, src, out, err); }
s2_status s2_lm_append(s2_lm *lm, s2_lm_seq seq, const char *text, s2_error *err) {
    if (text == NULL) return s2_error_set(err, S2_E_ARG, "lm: append without text");
    return text[0] == '\0' ? S2_OK : lm->iface->append(lm, seq, text, err);
}
void s2_lm_seq_free(s2_lm *lm, s2_lm_seq seq) { lm->iface->seq_free(lm, seq); }
s2_status s2_lm_score(s2_lm *lm, s2_lm_seq seq, const char *cont, float *per_token, int32_t cap, int32_t *n,
                      double *sum, s2_error *err) {
    if (cont == NULL) return s2_error_set(err, S2_E_ARG, "lm: score without a continuation");
    return lm->iface->score(lm, seq, cont, per_token, cap, n, sum, err);
}
s2_status s2_lm_score_labels(s2_lm *lm, s2_lm_seq seq, const char *const *labels, int32_t n, double *out,
                             s2_error *err) {
    if (n < 1 || labels == NULL) return s2_error_set(err, S2_E_ARG, "lm: score_labels with %d labels", n);
    return lm->iface->score_labels(lm, seq, labels, n, out, err);
}
s2_status s2_lm_score_labels_many(s2_lm *lm, const char *const *texts, int32_t n, const char *const *labels,
                                  int32_t n_labels, double *out, s2_error *err) {
    if (n < 0 || n_labels < 1 || labels == NULL)
        return s2_error_set(err, S2_E_ARG, "lm: score_labels_many with %d texts and %d labels", n, n_labels);
    for (int32_t i = 0; i < n; i++)
        if (texts[i] == NULL) return s2_error_set(err, S2_E_ARG, "lm: score_labels_many: text %d is NULL", i);
    if (n == 0) return S2_OK;
    /* a text given twice is computed once (the same state reached by two paths gets one judgement, bit for bit) */
    int32_t *first = malloc((size_t)n * sizeof *first), nu = 0;
    const char **uniq = malloc((size_t)n * sizeof *uniq);
    double *uout = malloc((size_t)n * (size_t)n_labels * sizeof *uout);
    s2_status st = first && uniq && uout ? S2_OK : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    for (int32_t i = 0; st == S2_OK && i < n; i++) {
        first[i] = -1;
        for (int32_t u = 0; u < nu && first[i] < 0; u++)
            if (strcmp(uniq[u], texts[i]) == 0) first[i] = u;
        if (first[i] < 0) {
            first[i] = nu;
            uniq[nu++] = texts[i];
        }
    }
    if (st == S2_OK && lm->iface->score_labels_many != NULL) {
        st = lm->iface->score_labels_many(lm, uniq, nu, labels, n_labels, uout, err);
    } else {
        for (int32_t u = 0; st == S2_OK && u < nu; u++) { /* a backend without it: one sequence at a time */
            s2_lm_seq seq = -1;
            st = lm->iface->seq_new(lm, uniq[u], &seq, err);
            if (st == S2_OK) st = lm->iface->score_labels(lm, seq, labels, n_labels, uout + (size_t)u * n_labels, err);
            if (seq >= 0) lm->iface->seq_free(lm, seq);
        }
    }
    for (int32_t i = 0; st == S2_OK && i < n; i++)
        memcpy(out + (size_t)i * n_labels, uout + (size_t)first[i] * n_labels, (size_t)n_labels * sizeof *out);
    free(first);
    free(uniq);
    free(uout);
    return st;
}
int32_t s2_lm_top_k(s2_lm *lm, s2_lm_seq seq, int32_t k, s2_lm_top *out, s2_error *err) {
    if (k < 1) return s2_error_set(err, S2_E_ARG, "lm: top_k with k = %d", k);
    return lm->iface->top_k(lm, seq, k, out, err);
}
s2_status s2_lm_sample(s2_lm *lm, const s2_lm_seq *seqs, int32_t n, const s2_lm_sample_params *p, s2_lm_gen *out,
                       s2_error *err) {
    s2_lm_sample_params dp = s2_lm_sample_default_params();
    if (n < 0) return s2_error_set(err, S2_E_ARG, "lm: sample %d sequences", n);
    memset(out, 0, (size_t)n * sizeof *out);
    return n == 0 ? S2_OK : lm->iface->sample(lm, seqs, n, p ? p : &dp, out, err);
}
s2_status s2_lm_sample_n(s2_lm *lm, s2_lm_seq seq, int32_t n, const s2_lm_sample_params *p, s2_lm_seq *out_seqs,
                         s2_lm_gen *out, s2_error *err) {
    for (int32_t i = 0; i < n; i++) {
        s2_status st = s2_lm_fork(lm, seq, &out_seqs[i], err);
        if (st != S2_OK) {
            while (i-- > 0) s2_lm_seq_free(lm, out_seqs[i]);
            return st;
        }
    }
    s2_status st = s2_lm_sample(lm, out_seqs, n, p, out, err);
    if (st != S2_OK)
        for (int32_t i = 0; i < n; i++) s2_lm_seq_free(lm, out_seqs[i]);
    return st;
}
void s2_lm_counters(const s2_lm *lm, s2_counters *out) { lm->iface->counters(lm, out); }

void s2_lm_tokens_free(s2_lm_tokens *t) {
    if (t == NULL) return;
    free(t->ids);
    free(t->bytes);
    free(t->piece_off);
    memset(t, 0, sizeof *t);
}

void s2_lm_prompt_lp_free(s2_lm_prompt_lp *p) {
    if (p == NULL) return;
    free(p->ids);
    free(p->n_top);
    free(p->top);
    memset(p, 0, sizeof *p);
}

s2_status s2_lm_tokenize(s2_lm *lm, const char *text, size_t len, bool add_bos, bool parse_special, s2_lm_tokens *out,
                         s2_error *err) {
    memset(out, 0, sizeof *out);
    if (text == NULL) return s2_error_set(err, S2_E_ARG, "lm: tokenize without text");
    if (lm->iface->tokenize == NULL)
        return s2_error_set(err, S2_E_UNSUPPORTED, "lm: the %s backend has no tokenize call (use its model's vocabulary)",
                            lm->iface->name);
    s2_status st = lm->iface->tokenize(lm, text, len, add_bos, parse_special, out, err);
    if (st != S2_OK) s2_lm_tokens_free(out);
    return st;
}

s2_status s2_lm_prompt_logprobs(s2_lm *lm, const int32_t *ids, int32_t n_ids, const char *text, int32_t k,
                                s2_lm_prompt_lp *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    if ((ids == NULL) == (text == NULL) || (ids != NULL && n_ids < 1) || k < 0)
        return s2_error_set(err, S2_E_ARG, "lm: prompt_logprobs wants ids or text (not both) and k >= 0 (k %d, %d ids)",
                            k, n_ids);
    if (lm->iface->prompt_logprobs == NULL)
        return s2_error_set(err, S2_E_UNSUPPORTED, "lm: the %s backend has no prompt_logprobs call (use its logits)",
                            lm->iface->name);
    s2_status st = lm->iface->prompt_logprobs(lm, ids, n_ids, text, k, out, err);
    if (st != S2_OK) s2_lm_prompt_lp_free(out);
    return st;
}

s2_status s2_lm_caps_get(s2_lm *lm, s2_lm_caps *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    if (lm->iface->caps != NULL) return lm->iface->caps(lm, out, err);
    snprintf(out->server, sizeof out->server, "%s", strcmp(lm->iface->name, "local") == 0 ? "local" : lm->iface->name);
    out->prompt_logprobs = out->token_logprobs = out->tokenizer = true;
    return S2_OK;
}

/* ---- the local engine ---- */

typedef struct local_seq {
    bool live;
    s2_seq seq;            /* the engine's sequence */
    float *logits;         /* (V) next-token logits */
    char *text;            /* the text so far (prompt and everything appended or sampled) */
    size_t text_len, text_cap;
} local_seq;

typedef struct local_lm {
    s2_ctx *ctx;
    s2_model *owned_model;  /* set when s2_lm_open loaded it: freed with the lm */
    const s2_vocab *v;
    int32_t V;
    local_seq *seqs;
    int32_t n_seqs, cap_seqs;
    void *sample_scratch;
    bool special;           /* s2_lm_set_parse_special: control-token texts parsed, no BOS added */
} local_lm;

static local_lm *L(s2_lm *lm) { return lm->ctx; }

static local_seq *get_seq(local_lm *l, s2_lm_seq s, s2_error *err) {
    if (s < 0 || s >= l->n_seqs || !l->seqs[s].live) {
        s2_error_set(err, S2_E_ARG, "lm: sequence %d is not live", s);
        return NULL;
    }
    return &l->seqs[s];
}

static s2_status text_append(local_seq *q, const char *t, size_t n) {
    return s2_text_append(&q->text, &q->text_len, &q->text_cap, t, n);
}

/* A free slot with its logits buffer. */
static s2_status slot_new(local_lm *l, s2_lm_seq *out, s2_error *err) {
    int32_t s = 0;
    while (s < l->n_seqs && l->seqs[s].live) s++;
    if (s == l->n_seqs) {
        if (l->n_seqs == l->cap_seqs) {
            int32_t cap = l->cap_seqs ? 2 * l->cap_seqs : 16;
            local_seq *ns = realloc(l->seqs, (size_t)cap * sizeof *ns);
            if (ns == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory for sequences");
            l->seqs = ns;
            l->cap_seqs = cap;
        }
        memset(&l->seqs[l->n_seqs], 0, sizeof l->seqs[0]);
        l->seqs[l->n_seqs].logits = malloc((size_t)l->V * sizeof(float));
        if (l->seqs[l->n_seqs].logits == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory for logits");
        l->n_seqs++;
    }
    local_seq *q = &l->seqs[s];
    q->live = true;
    q->seq = -1;
    q->text_len = 0;
    if (q->text) q->text[0] = '\0';
    *out = s;
    return S2_OK;
}

static void local_seq_free(s2_lm *lm, s2_lm_seq s) {
    local_lm *l = L(lm);
    if (s < 0 || s >= l->n_seqs || !l->seqs[s].live) return;
    if (l->seqs[s].seq >= 0) s2_seq_free(l->ctx, l->seqs[s].seq);
    l->seqs[s].live = false;
}

static s2_status local_seq_new(s2_lm *lm, const char *text, s2_lm_seq *out, s2_error *err) {
    local_lm *l = L(lm);
    l->ctx->c.requests++;
    int32_t n = 0;
    int32_t *ids = s2_tokenize_alloc(l->v, text, strlen(text), !l->special, l->special, &n);
    if (ids == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    s2_lm_seq s;
    s2_status st = n > 0 ? slot_new(l, &s, err) : s2_error_set(err, S2_E_ARG, "lm: an empty prompt and no BOS token");
    if (st == S2_OK) {
        local_seq *q = &l->seqs[s];
        st = s2_seq_new(l->ctx, &q->seq, err);
        if (st == S2_OK) st = s2_seq_prefill(l->ctx, q->seq, ids, n, NULL, err);
        if (st == S2_OK) memcpy(q->logits, s2_ctx_logits(l->ctx, 0), (size_t)l->V * sizeof(float));
        if (st == S2_OK && text_append(q, text, strlen(text)) != S2_OK)
            st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
        if (st != S2_OK) local_seq_free(lm, s);
        else *out = s;
    }
    free(ids);
    return st;
}

static s2_status local_fork(s2_lm *lm, s2_lm_seq src, s2_lm_seq *out, s2_error *err) {
    local_lm *l = L(lm);
    l->ctx->c.requests++;
    if (get_seq(l, src, err) == NULL) return S2_E_ARG;
    s2_lm_seq s;
    s2_status st = slot_new(l, &s, err); /* may move l->seqs: look src up again after */
    if (st != S2_OK) return st;
    local_seq *a = &l->seqs[src], *b = &l->seqs[s];
    st = s2_seq_fork(l->ctx, a->seq, &b->seq, err);
    if (st == S2_OK && text_append(b, a->text, a->text_len) != S2_OK) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    if (st != S2_OK) {
        local_seq_free(lm, s);
        return st;
    }
    memcpy(b->logits, a->logits, (size_t)l->V * sizeof(float));
    *out = s;
    return S2_OK;
}

/* The tokens text adds after q: those that follow q's own tokens in the tokenization of q's text + text when q's
 * tokens are a prefix of it (so SentencePiece's space prefix and merges across the seam come out as they would in
 * one prompt); otherwise text's own tokens. */
static int32_t *append_tokens(local_lm *l, local_seq *q, const char *text, int32_t *n) {
    int32_t nq = s2_seq_len(l->ctx, q->seq), nw = 0;
    const int32_t *qt = s2_seq_tokens(l->ctx, q->seq);
    size_t tl = strlen(text);
    char *whole = malloc(q->text_len + tl + 1);
    if (whole == NULL) return NULL;
    memcpy(whole, q->text, q->text_len);
    memcpy(whole + q->text_len, text, tl + 1);
    int32_t *w = s2_tokenize_alloc(l->v, whole, q->text_len + tl, !l->special, l->special, &nw);
    free(whole);
    if (w != NULL && nw >= nq && memcmp(w, qt, (size_t)nq * sizeof(int32_t)) == 0) {
        memmove(w, w + nq, (size_t)(nw - nq) * sizeof(int32_t));
        *n = nw - nq;
        return w;
    }
    free(w);
    return s2_tokenize_alloc(l->v, text, tl, false, l->special, n);
}

static s2_status local_append(s2_lm *lm, s2_lm_seq s, const char *text, s2_error *err) {
    local_lm *l = L(lm);
    l->ctx->c.requests++;
    local_seq *q = get_seq(l, s, err);
    if (q == NULL) return S2_E_ARG;
    int32_t n = 0;
    int32_t *ids = append_tokens(l, q, text, &n);
    if (ids == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    s2_seq *seqs = malloc((size_t)(n > 0 ? n : 1) * sizeof(s2_seq));
    s2_status st = seqs ? S2_OK : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    for (int32_t i = 0; st == S2_OK && i < n; i++) seqs[i] = q->seq;
    if (st == S2_OK && n > 0) st = s2_ctx_decode(l->ctx, seqs, ids, NULL, n, err);
    if (st == S2_OK && n > 0) {
        memcpy(q->logits, s2_ctx_logits(l->ctx, 0), (size_t)l->V * sizeof(float));
        l->ctx->c.prompt_tokens += n;
    }
    if (st == S2_OK && text_append(q, text, strlen(text)) != S2_OK) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    free(seqs);
    free(ids);
    return st;
}

/* Teacher forcing of several continuations in one forward: continuation c follows sequence qs[c] (the same one
 * for all, or one each); its tokens are fed on a temporary fork, and token i's log-prob is read from the logits
 * before it. lp gets every token's log-prob, continuation after continuation. */
static s2_status force(local_lm *l, local_seq *const *qs, int32_t **toks, const int32_t *nt, int32_t nc, float *lp,
                       s2_error *err) {
    int32_t rows = 0, total = 0;
    for (int32_t c = 0; c < nc; c++) {
        rows += nt[c] > 1 ? nt[c] - 1 : 0;
        total += nt[c];
    }
    s2_seq *forks = calloc((size_t)nc, sizeof *forks), *seqs = malloc((size_t)(rows + 1) * sizeof *seqs);
    int32_t *ids = malloc((size_t)(rows + 1) * sizeof *ids);
    s2_status st = forks && seqs && ids ? S2_OK : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    int32_t made = 0, r = 0;
    for (int32_t c = 0; st == S2_OK && c < nc; c++) {
        if (nt[c] > 1) {
            st = s2_seq_fork(l->ctx, qs[c]->seq, &forks[c], err);
            if (st == S2_OK) made = c + 1;
            for (int32_t i = 0; st == S2_OK && i < nt[c] - 1; i++, r++) seqs[r] = forks[c], ids[r] = toks[c][i];
        } else {
            forks[c] = -1;
            made = c + 1;
        }
    }
    if (st == S2_OK && rows > 0) {
        bool *want = malloc((size_t)rows * sizeof(bool));
        if (want == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
        for (int32_t i = 0; st == S2_OK && i < rows; i++) want[i] = true;
        if (st == S2_OK) st = s2_ctx_decode(l->ctx, seqs, ids, want, rows, err);
        free(want);
    }
    for (int32_t c = 0, row = 0, k = 0; st == S2_OK && c < nc; c++) {
        for (int32_t i = 0; i < nt[c]; i++, k++) {
            if (i == 0) {
                lp[k] = qs[c]->logits[toks[c][0]] - s2_logsumexp(qs[c]->logits, l->V);
            } else {
                const float *lg = s2_ctx_logits(l->ctx, row++);
                lp[k] = lg[toks[c][i]] - s2_logsumexp(lg, l->V);
            }
        }
    }
    if (st == S2_OK) l->ctx->c.scored_tokens += total;
    for (int32_t c = 0; forks && c < made; c++)
        if (forks[c] >= 0) s2_seq_free(l->ctx, forks[c]);
    free(forks);
    free(seqs);
    free(ids);
    return st;
}

static s2_status local_score(s2_lm *lm, s2_lm_seq s, const char *cont, float *per_token, int32_t cap, int32_t *n,
                             double *sum, s2_error *err) {
    local_lm *l = L(lm);
    l->ctx->c.requests++;
    local_seq *q = get_seq(l, s, err);
    if (q == NULL) return S2_E_ARG;
    int32_t nt = 0;
    int32_t *ids = append_tokens(l, q, cont, &nt);
    float *lp = malloc((size_t)(nt > 0 ? nt : 1) * sizeof(float));
    s2_status st = ids && lp ? S2_OK : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    if (st == S2_OK) st = force(l, &q, &ids, &nt, 1, lp, err);
    double acc = 0;
    for (int32_t i = 0; st == S2_OK && i < nt; i++) {
        acc += lp[i];
        if (per_token != NULL && i < cap) per_token[i] = lp[i];
    }
    if (st == S2_OK) {
        if (n) *n = nt;
        if (sum) *sum = acc;
    }
    free(ids);
    free(lp);
    return st;
}

static s2_status local_score_labels(s2_lm *lm, s2_lm_seq s, const char *const *labels, int32_t n, double *out,
                                    s2_error *err) {
    local_lm *l = L(lm);
    l->ctx->c.requests++;
    local_seq *q = get_seq(l, s, err);
    if (q == NULL) return S2_E_ARG;
    int32_t **toks = calloc((size_t)n, sizeof *toks), *nt = calloc((size_t)n, sizeof *nt), total = 0;
    s2_status st = toks && nt ? S2_OK : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    for (int32_t c = 0; st == S2_OK && c < n; c++) {
        toks[c] = append_tokens(l, q, labels[c], &nt[c]);
        if (toks[c] == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
        else if (nt[c] == 0) st = s2_error_set(err, S2_E_ARG, "lm: label %d ('%s') has no tokens", c, labels[c]);
        total += toks[c] ? nt[c] : 0;
    }
    float *lp = st == S2_OK ? malloc((size_t)total * sizeof(float)) : NULL;
    local_seq **qs = st == S2_OK ? malloc((size_t)n * sizeof *qs) : NULL;
    if (st == S2_OK && (lp == NULL || qs == NULL)) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    for (int32_t c = 0; st == S2_OK && c < n; c++) qs[c] = q;
    if (st == S2_OK) st = force(l, qs, toks, nt, n, lp, err);
    for (int32_t c = 0, k = 0; st == S2_OK && c < n; c++) {
        out[c] = 0;
        for (int32_t i = 0; i < nt[c]; i++) out[c] += lp[k++];
    }
    for (int32_t c = 0; toks && c < n; c++) free(toks[c]);
    free(toks);
    free(nt);
    free(lp);
    free(qs);
    return st;
}

/* Labels after many new texts, in at most three forwards: (1) the full blocks that every text begins with and
 * the prefix cache lacks, computed once (so that (2) links them, as a second seq_new would); (2) every text's
 * remaining tokens, all texts in one forward of many rows; (3) every label's tokens after every text, teacher
 * forced in one forward. The counters come out as n seq_new + score_labels calls would make them when no two
 * texts share a full block beyond what all of them share; requests count one. */
static s2_status local_score_labels_many(s2_lm *lm, const char *const *texts, int32_t n, const char *const *labels,
                                         int32_t n_labels, double *out, s2_error *err) {
    local_lm *l = L(lm);
    s2_ctx *ctx = l->ctx;
    ctx->c.requests++;
    s2_kv_stats ks;
    s2_ctx_kv_stats(ctx, &ks);
    s2_lm_seq *ids = malloc((size_t)n * sizeof *ids);
    int32_t **pt = calloc((size_t)n, sizeof *pt), *pn = calloc((size_t)n, sizeof *pn);
    int32_t *linked = calloc((size_t)n, sizeof *linked);
    int32_t nc = n * n_labels, **toks = calloc((size_t)nc, sizeof *toks), *nt = calloc((size_t)nc, sizeof *nt);
    local_seq **qs = malloc((size_t)nc * sizeof *qs);
    s2_status st = ids && pt && pn && linked && toks && nt && qs ? S2_OK : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    int32_t made = 0;
    for (int32_t i = 0; st == S2_OK && i < n; i++) {
        pt[i] = s2_tokenize_alloc(l->v, texts[i], strlen(texts[i]), true, false, &pn[i]);
        if (pt[i] == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
        else if (pn[i] < 1) st = s2_error_set(err, S2_E_ARG, "lm: text %d is empty and there is no BOS token", i);
        else if (pn[i] > ctx->p.n_ctx)
            st = s2_error_set(err, S2_E_BUDGET, "prompt of %d tokens is longer than the context (%d tokens)", pn[i],
                              ctx->p.n_ctx);
        if (st == S2_OK) st = slot_new(l, &ids[i], err);
        if (st == S2_OK) {
            made = i + 1;
            st = s2_seq_new(ctx, &l->seqs[ids[i]].seq, err);
        }
        if (st == S2_OK && text_append(&l->seqs[ids[i]], texts[i], strlen(texts[i])) != S2_OK)
            st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    }
    /* (1) the shared full blocks, once */
    int32_t lcp = st == S2_OK && n > 1 ? pn[0] - 1 : 0;
    for (int32_t i = 1; st == S2_OK && i < n; i++) {
        int32_t m = 0, lim = pn[i] - 1 < lcp ? pn[i] - 1 : lcp; /* each text computes at least its last token */
        while (m < lim && pt[i][m] == pt[0][m]) m++;
        lcp = m;
    }
    lcp = ks.block_size > 0 ? lcp / ks.block_size * ks.block_size : 0;
    if (st == S2_OK && lcp > 0) {
        s2_seq s0 = -1;
        st = s2_seq_new(ctx, &s0, err);
        int32_t have = st == S2_OK ? s2_kv_prefix_link(ctx->kv, s0, pt[0], lcp, lcp) : 0;
        if (st == S2_OK && have < lcp) {
            s2_seq *rs = malloc((size_t)(lcp - have) * sizeof *rs);
            if (rs == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
            for (int32_t r = 0; st == S2_OK && r < lcp - have; r++) rs[r] = s0;
            if (st == S2_OK) st = s2_ctx_decode(ctx, rs, pt[0] + have, NULL, lcp - have, err);
            free(rs);
        }
        if (s0 >= 0) s2_seq_free(ctx, s0); /* its full blocks stay in the prefix cache for (2) */
    }
    /* (2) every text's own tokens, one forward */
    int32_t rows = 0;
    for (int32_t i = 0; st == S2_OK && i < n; i++) {
        linked[i] = s2_kv_prefix_link(ctx->kv, l->seqs[ids[i]].seq, pt[i], pn[i], pn[i] - 1);
        rows += pn[i] - linked[i];
    }
    if (st == S2_OK) {
        s2_seq *rs = malloc((size_t)rows * sizeof *rs);
        int32_t *rt = malloc((size_t)rows * sizeof *rt);
        bool *want = calloc((size_t)rows, sizeof *want);
        if (rs == NULL || rt == NULL || want == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
        for (int32_t i = 0, r = 0; st == S2_OK && i < n; i++)
            for (int32_t t = linked[i]; t < pn[i]; t++, r++) {
                rs[r] = l->seqs[ids[i]].seq;
                rt[r] = pt[i][t];
                want[r] = t == pn[i] - 1;
            }
        if (st == S2_OK) st = s2_ctx_decode(ctx, rs, rt, want, rows, err);
        for (int32_t i = 0; st == S2_OK && i < n; i++) {
            memcpy(l->seqs[ids[i]].logits, s2_ctx_logits(ctx, i), (size_t)l->V * sizeof(float));
            ctx->c.cached_tokens += linked[i];
            ctx->c.prompt_tokens += pn[i] - linked[i];
        }
        free(rs);
        free(rt);
        free(want);
    }
    /* (3) the labels after every text, one forward */
    int32_t total = 0;
    for (int32_t i = 0; st == S2_OK && i < n; i++)
        for (int32_t c = 0; st == S2_OK && c < n_labels; c++) {
            int32_t k = i * n_labels + c;
            qs[k] = &l->seqs[ids[i]];
            toks[k] = append_tokens(l, qs[k], labels[c], &nt[k]);
            if (toks[k] == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
            else if (nt[k] == 0) st = s2_error_set(err, S2_E_ARG, "lm: label %d ('%s') has no tokens", c, labels[c]);
            total += nt[k];
        }
    float *lp = st == S2_OK ? malloc((size_t)(total > 0 ? total : 1) * sizeof(float)) : NULL;
    if (st == S2_OK && lp == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    if (st == S2_OK) st = force(l, qs, toks, nt, nc, lp, err);
    for (int32_t k = 0, j = 0; st == S2_OK && k < nc; k++) {
        out[k] = 0;
        for (int32_t t = 0; t < nt[k]; t++) out[k] += lp[j++];
    }
    for (int32_t i = 0; i < made; i++) local_seq_free(lm, ids[i]);
    for (int32_t i = 0; pt && i < n; i++) free(pt[i]);
    for (int32_t k = 0; toks && k < nc; k++) free(toks[k]);
    free(ids);
    free(pt);
    free(pn);
    free(linked);
    free(toks);
    free(nt);
    free(qs);
    free(lp);
    return st;
}

int s2_lm_top_cmp(const void *a, const void *b) {
    const s2_lm_top *x = a, *y = b;
    if (x->logprob != y->logprob) return x->logprob > y->logprob ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int32_t s2_lm_top_of_logits(const s2_vocab *v, const float *logits, int32_t V, int32_t k, s2_lm_top *out) {
    if (k > V) k = V;
    float lse = s2_logsumexp(logits, V);
    int32_t m = 0;
    s2_lm_top *all = k > 64 ? malloc((size_t)V * sizeof *all) : NULL; /* many: one sort of the whole vocabulary */
    bool sorted = all != NULL;
    if (sorted) {
        for (int32_t t = 0; t < V; t++) all[t] = (s2_lm_top){.id = t, .logprob = logits[t] - lse};
        qsort(all, (size_t)V, sizeof *all, s2_lm_top_cmp);
        memcpy(out, all, (size_t)k * sizeof *out);
        free(all);
        m = k;
    }
    for (int32_t t = 0; !sorted && t < V; t++) { /* insertion into a sorted list of k: V k at worst, fine for small k */
        s2_lm_top e = {.id = t, .logprob = logits[t] - lse};
        if (m == k && s2_lm_top_cmp(&e, &out[k - 1]) >= 0) continue;
        int32_t i = m < k ? m++ : k - 1;
        while (i > 0 && s2_lm_top_cmp(&e, &out[i - 1]) < 0) {
            out[i] = out[i - 1];
            i--;
        }
        out[i] = e;
    }
    for (int32_t i = 0; i < m; i++) {
        int32_t len = s2_token_to_piece(v, out[i].id, true, out[i].piece, (int32_t)sizeof out[i].piece - 1);
        out[i].piece[len < 0 ? 0 : len] = '\0';
    }
    return m;
}

static int32_t local_top_k(s2_lm *lm, s2_lm_seq s, int32_t k, s2_lm_top *out, s2_error *err) {
    local_lm *l = L(lm);
    l->ctx->c.requests++;
    local_seq *q = get_seq(l, s, err);
    if (q == NULL) return S2_E_ARG;
    return s2_lm_top_of_logits(l->v, q->logits, l->V, k, out);
}

static uint64_t seed_mix(uint64_t seed, uint64_t i) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Appends a token's text to g (grows in chunks). */
static s2_status gen_push(s2_lm_gen *g, int32_t *cap, int32_t tok, float lp, const char *piece, int32_t plen,
                          size_t *tlen, size_t *tcap) {
    if (g->n_tokens == *cap) {
        int32_t nc = *cap ? 2 * *cap : 32;
        int32_t *nt = realloc(g->tokens, (size_t)nc * sizeof(int32_t));
        if (nt == NULL) return S2_E_NOMEM;
        g->tokens = nt;
        float *nl = realloc(g->logprobs, (size_t)nc * sizeof(float));
        if (nl == NULL) return S2_E_NOMEM;
        g->logprobs = nl;
        *cap = nc;
    }
    g->tokens[g->n_tokens] = tok;
    g->logprobs[g->n_tokens++] = lp;
    g->logprob += lp;
    if (*tlen + (size_t)plen + 1 > *tcap) {
        size_t nc = *tcap ? *tcap : 64;
        while (nc < *tlen + (size_t)plen + 1) nc *= 2;
        char *nt = realloc(g->text, nc);
        if (nt == NULL) return S2_E_NOMEM;
        g->text = nt;
        *tcap = nc;
    }
    memcpy(g->text + *tlen, piece, (size_t)plen);
    *tlen += (size_t)plen;
    g->text[*tlen] = '\0';
    return S2_OK;
}

static s2_status local_sample(s2_lm *lm, const s2_lm_seq *seqs, int32_t n, const s2_lm_sample_params *p,
                              s2_lm_gen *out, s2_error *err) {
    local_lm *l = L(lm);
    l->ctx->c.requests++;
    for (int32_t i = 0; i < n; i++) {
        if (get_seq(l, seqs[i], err) == NULL) return S2_E_ARG;
        for (int32_t j = 0; j < i; j++)
            if (seqs[j] == seqs[i]) return s2_error_set(err, S2_E_ARG, "lm: sequence %d given twice to sample", seqs[i]);
    }
    s2_rng *rng = malloc((size_t)n * sizeof *rng);
    int32_t *caps = calloc((size_t)n, sizeof *caps), *toks = malloc((size_t)n * sizeof *toks);
    int32_t *rowseq = malloc((size_t)n * sizeof *rowseq);
    size_t *tlen = calloc((size_t)n, sizeof *tlen), *tcap = calloc((size_t)n, sizeof *tcap), *scan = calloc((size_t)n, sizeof *scan);
    s2_seq *eseqs = malloc((size_t)n * sizeof *eseqs);
    bool *active = malloc((size_t)n * sizeof *active);
    s2_status st = rng && caps && toks && rowseq && tlen && tcap && scan && eseqs && active
                       ? S2_OK
                       : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    size_t max_stop = 0;
    for (int32_t k = 0; k < p->n_stops; k++)
        if (p->stops[k] && strlen(p->stops[k]) > max_stop) max_stop = strlen(p->stops[k]);
    int32_t n_active = 0;
    for (int32_t i = 0; st == S2_OK && i < n; i++) {
        s2_rng_seed(&rng[i], seed_mix(p->seed, (uint64_t)i));
        active[i] = p->max_tokens > 0;
        n_active += active[i];
        out[i].finish = "length";
        out[i].text = calloc(1, 1);
        if (out[i].text == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    }
    char piece[256];
    while (st == S2_OK && n_active > 0) {
        int32_t rows = 0;
        for (int32_t i = 0; st == S2_OK && i < n; i++) {
            if (!active[i]) continue;
            local_seq *q = &l->seqs[seqs[i]];
            float lp = 0;
            int32_t tok = s2_sample(q->logits, l->V, &p->sample, &rng[i], l->sample_scratch, &lp);
            l->ctx->c.gen_tokens++;
            int32_t plen = s2_token_to_piece(l->v, tok, false, piece, (int32_t)sizeof piece);
            if (plen < 0) plen = 0;
            if (gen_push(&out[i], &caps[i], tok, lp, piece, plen, &tlen[i], &tcap[i]) != S2_OK) {
                st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
                break;
            }
            if (s2_vocab_is_eog(l->v, tok) || tok == s2_vocab_bos(l->v)) {
                out[i].finish = "eos"; /* the end token is not fed: nothing follows it */
                active[i] = false;
                n_active--;
                continue;
            }
            /* a stop string: the text ends right after it; the token that completed it is fed like any other */
            size_t from = scan[i] > max_stop ? scan[i] - max_stop : 0;
            const char *hit = NULL;
            for (int32_t k = 0; k < p->n_stops; k++) {
                if (p->stops[k] == NULL || p->stops[k][0] == '\0') continue;
                const char *h = strstr(out[i].text + from, p->stops[k]);
                if (h != NULL && (hit == NULL || h + strlen(p->stops[k]) < hit)) hit = h + strlen(p->stops[k]);
            }
            scan[i] = tlen[i];
            bool done = false;
            if (hit != NULL) {
                tlen[i] = (size_t)(hit - out[i].text);
                out[i].text[tlen[i]] = '\0';
                out[i].finish = "stop";
                done = true;
            } else if (out[i].n_tokens >= p->max_tokens) {
                done = true;
            }
            toks[rows] = tok;
            eseqs[rows] = q->seq;
            rowseq[rows++] = i;
            if (done) {
                active[i] = false;
                n_active--;
            }
        }
        if (st != S2_OK || rows == 0) break;
        st = s2_ctx_decode(l->ctx, eseqs, toks, NULL, rows, err);
        for (int32_t r = 0; st == S2_OK && r < rows; r++) {
            local_seq *q = &l->seqs[seqs[rowseq[r]]];
            memcpy(q->logits, s2_ctx_logits(l->ctx, r), (size_t)l->V * sizeof(float));
        }
    }
    for (int32_t i = 0; st == S2_OK && i < n; i++) /* the sequences' texts: pieces as generated (to the stop) */
        if (text_append(&l->seqs[seqs[i]], out[i].text, tlen[i]) != S2_OK) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    if (st != S2_OK)
        for (int32_t i = 0; i < n; i++) s2_lm_gen_free(&out[i]);
    free(rng);
    free(caps);
    free(toks);
    free(rowseq);
    free(tlen);
    free(tcap);
    free(scan);
    free(eseqs);
    free(active);
    return st;
}

static void local_counters(const s2_lm *lm, s2_counters *out) { s2_ctx_counters(((local_lm *)lm->ctx)->ctx, out); }

static void local_free(s2_lm *lm) {
    local_lm *l = L(lm);
    for (int32_t s = 0; s < l->n_seqs; s++) {
        free(l->seqs[s].logits);
        free(l->seqs[s].text);
    }
    free(l->seqs);
    free(l->sample_scratch);
    const s2_model *m = l->ctx ? s2_ctx_model(l->ctx) : NULL;
    s2_ctx_free(l->ctx);
    if (l->owned_model != NULL && l->owned_model == m) s2_model_free(l->owned_model);
    free(l);
}

/* Time inside system 1: each call is timed whole (tokenizing, sampling and copying logits included), and the
 * forward passes it makes do not add their own time again (ctx->depth). */
static int64_t enter(s2_lm *lm) {
    L(lm)->ctx->depth++;
    return s2_now_ns();
}
static void leave(s2_lm *lm, int64_t t0) {
    s2_ctx *ctx = L(lm)->ctx;
    ctx->depth--;
    ctx->c.ns += s2_now_ns() - t0;
}
#define TIMED(ret, name, params, args)          \
    static ret timed_##name params {            \
        int64_t t0 = enter(lm);                 \
        ret r = local_##name args;              \
        leave(lm, t0);                          \
        return r;                               \
    }
TIMED(s2_status, seq_new, (s2_lm *lm, const char *text, s2_lm_seq *out, s2_error *err), (lm, text, out, err))
TIMED(s2_status, fork, (s2_lm *lm, s2_lm_seq src, s2_lm_seq *out, s2_error *err), (lm, src, out, err))
TIMED(s2_status, append, (s2_lm *lm, s2_lm_seq s, const char *text, s2_error *err), (lm, s, text, err))
TIMED(s2_status, score_labels_many,
      (s2_lm *lm, const char *const *texts, int32_t n, const char *const *labels, int32_t nl, double *out, s2_error *err),
      (lm, texts, n, labels, nl, out, err))
S2_LM_TIMED_CALLS(TIMED)
#undef TIMED

static const struct s2_lm_i local_iface = {
    .name = "local",
    .seq_new = timed_seq_new,
    .fork = timed_fork,
    .append = timed_append,
    .seq_free = local_seq_free,
    .score = timed_score,
    .score_labels = timed_score_labels,
    .score_labels_many = timed_score_labels_many,
    .top_k = timed_top_k,
    .sample = timed_sample,
    .counters = local_counters,
    .free = local_free,
};

s2_status s2_lm_local_init(const s2_model *m, const s2_ctx_params *cp, s2_lm **out, s2_error *err) {
    *out = NULL;
    s2_lm *lm = calloc(1, sizeof *lm);
    local_lm *l = calloc(1, sizeof *l);
    if (lm == NULL || l == NULL) {
        free(lm);
        free(l);
        return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    }
    lm->iface = &local_iface;
    lm->ctx = l;
    s2_status st = s2_ctx_init(m, cp, &l->ctx, err);
    if (st == S2_OK) {
        l->v = s2_model_vocab(m);
        l->V = s2_model_hparams(m)->n_vocab;
        l->sample_scratch = malloc(s2_sample_scratch_bytes(l->V));
        if (l->sample_scratch == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    }
    if (st != S2_OK) {
        s2_lm_free(lm);
        return st;
    }
    *out = lm;
    return S2_OK;
}

void s2_lm_set_parse_special(s2_lm *lm, bool on) {
    if (lm != NULL && lm->iface == &local_iface) L(lm)->special = on;
}

s2_ctx *s2_lm_local_ctx(s2_lm *lm) { return lm->iface == &local_iface ? L(lm)->ctx : NULL; }

const s2_model *s2_lm_local_model(s2_lm *lm) { return lm->iface == &local_iface ? s2_ctx_model(L(lm)->ctx) : NULL; }

s2_lm_open_params s2_lm_open_default_params(void) {
    s2_lm_open_params p = {.tokenizer = NULL, .model_name = NULL, .ctx = s2_ctx_default_params(),
                           .max_in_flight = 16, .timeout_s = 25, .retries = -1, .server = NULL};
    return p;
}

/* The HTTP backend (core/http.c) registers itself here; NULL until it exists. */
extern s2_status (*s2_lm_http_open_hook)(const char *url, const s2_lm_open_params *p, s2_lm **out, s2_error *err);

s2_status s2_lm_open(const char *spec, const s2_lm_open_params *params, s2_lm **out, s2_error *err) {
    s2_lm_open_params p = params ? *params : s2_lm_open_default_params();
    *out = NULL;
    if (spec == NULL) return s2_error_set(err, S2_E_ARG, "lm: no model given");
    if (strncmp(spec, "http://", 7) == 0 || strncmp(spec, "https://", 8) == 0) {
        if (s2_lm_http_open_hook == NULL) return s2_error_set(err, S2_E_UNSUPPORTED, "%s: the HTTP backend is not built", spec);
        return s2_lm_http_open_hook(spec, &p, out, err);
    }
    s2_model_params mp = s2_model_default_params();
    mp.tokenizer = p.tokenizer;
    s2_model *m = NULL;
    s2_status st = s2_model_load(spec, &mp, &m, err);
    if (st != S2_OK) return st;
    st = s2_lm_local_init(m, &p.ctx, out, err);
    if (st != S2_OK) {
        s2_model_free(m);
        return st;
    }
    L(*out)->owned_model = m;
    return S2_OK;
}
