/* generate.c: whole jobs on one sequence (generate, score a continuation, perplexity) over the context API.
 * Text is produced by detokenizing the whole sequence, so a piece that completes a UTF-8 character or drops a
 * leading space is always rendered as s2_detokenize renders the full text. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "generate.h"

s2_gen_params s2_gen_default_params(void) {
    s2_gen_params p = {.sample = s2_sample_default_params(), .max_tokens = 64, .seed = 42, .add_bos = true};
    return p;
}

void s2_gen_result_free(s2_gen_result *r) {
    free(r->tokens);
    free(r->logprobs);
    free(r->text);
    memset(r, 0, sizeof *r);
}

void s2_score_result_free(s2_score_result *r) {
    free(r->ids);
    free(r->logprobs);
    memset(r, 0, sizeof *r);
}

static char *detokenize_alloc(const s2_vocab *v, const int32_t *ids, int32_t n, size_t *len) {
    int32_t need = s2_detokenize(v, ids, n, false, NULL, 0);
    if (need < 0) need = -need;
    char *buf = malloc((size_t)need + 1);
    if (buf == NULL) return NULL;
    int32_t got = s2_detokenize(v, ids, n, false, buf, need + 1);
    if (got < 0) got = 0;
    buf[got] = '\0';
    if (len) *len = (size_t)got;
    return buf;
}

int32_t *s2_tokenize_pair(const s2_vocab *v, const char *prefix, const char *cont, bool add_bos, int32_t *n,
                          int32_t *n_prefix) {
    size_t lp = strlen(prefix), lc = strlen(cont);
    char *whole = malloc(lp + lc + 1);
    if (whole == NULL) return NULL;
    memcpy(whole, prefix, lp);
    memcpy(whole + lp, cont, lc + 1);
    int32_t nw = 0, np = 0;
    int32_t *w = s2_tokenize_alloc(v, whole, lp + lc, add_bos, false, &nw);
    int32_t *p = s2_tokenize_alloc(v, prefix, lp, add_bos, false, &np);
    free(whole);
    if (w == NULL || p == NULL) {
        free(w);
        free(p);
        return NULL;
    }
    int32_t common = 0;
    while (common < np && common < nw && p[common] == w[common]) common++;
    free(p);
    *n = nw;
    *n_prefix = common;
    return w;
}

/* ---- generate ---- */

/* Replaces *text with the detokenized prompt + generated tokens; false when out of memory (*text is then NULL). */
static bool redetokenize(const s2_vocab *v, const s2_gen_result *out, char **text, size_t *len) {
    char *next = detokenize_alloc(v, out->tokens, out->n_prompt + out->n_gen, len);
    if (next == NULL) return false;
    free(*text);
    *text = next;
    return true;
}

/* GCC 12's -Wuse-after-free reports the text swapped by redetokenize() as used after free inside the inlined
 * strstr of find_stop; every path reads only the new buffer (ASan runs these tests). */
#if defined(__GNUC__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

static const char *find_stop(const char *text, size_t from, const s2_gen_params *p, size_t *at) {
    const char *best = NULL;
    for (int32_t i = 0; i < p->n_stops; i++) {
        if (p->stops[i] == NULL || p->stops[i][0] == '\0') continue;
        const char *hit = strstr(text + from, p->stops[i]);
        if (hit != NULL && (best == NULL || hit < best)) best = hit;
    }
    if (best != NULL) *at = (size_t)(best - text);
    return best;
}

s2_status s2_generate(s2_ctx *ctx, const char *prompt, const s2_gen_params *params, s2_gen_result *out,
                      s2_error *err) {
    s2_gen_params p = params ? *params : s2_gen_default_params();
    memset(out, 0, sizeof *out);
    const s2_vocab *v = ctx->m->vocab;
    int32_t V = ctx->m->hp.n_vocab, np = 0;
    int32_t *ptoks = s2_tokenize_alloc(v, prompt, strlen(prompt), p.add_bos, false, &np);
    if (ptoks == NULL) return s2_error_set(err, S2_E_NOMEM, "generate: out of memory");
    if (np == 0) {
        free(ptoks);
        return s2_error_set(err, S2_E_ARG, "generate: an empty prompt and no BOS token to start from");
    }
    int32_t cap = np + (p.max_tokens > 0 ? p.max_tokens : 0);
    out->tokens = malloc((size_t)cap * sizeof(int32_t));
    out->logprobs = malloc((size_t)(p.max_tokens > 0 ? p.max_tokens : 1) * sizeof(float));
    void *scratch = malloc(s2_sample_scratch_bytes(V));
    s2_seq seq = -1;
    s2_status st = (out->tokens && out->logprobs && scratch) ? s2_seq_new(ctx, &seq, err)
                                                             : s2_error_set(err, S2_E_NOMEM, "generate: out of memory");
    if (st == S2_OK) {
        memcpy(out->tokens, ptoks, (size_t)np * sizeof(int32_t));
        out->n_prompt = np;
        st = s2_seq_prefill(ctx, seq, ptoks, np, NULL, err);
    }
    free(ptoks);
    size_t max_stop = 0;
    for (int32_t i = 0; i < p.n_stops; i++)
        if (p.stops[i] != NULL && strlen(p.stops[i]) > max_stop) max_stop = strlen(p.stops[i]);
    char *text = st == S2_OK ? detokenize_alloc(v, out->tokens, np, &out->prompt_len) : NULL;
    if (st == S2_OK && text == NULL) st = s2_error_set(err, S2_E_NOMEM, "generate: out of memory");
    size_t emitted = 0, text_len = out->prompt_len, cut = (size_t)-1;
    if (st == S2_OK && p.on_text != NULL && out->prompt_len > 0) p.on_text(text, out->prompt_len, p.user);
    emitted = out->prompt_len;
    s2_rng rng;
    s2_rng_seed(&rng, p.seed);
    out->stop_reason = "length";
    while (st == S2_OK && out->n_gen < p.max_tokens) {
        float lp = 0;
        int32_t tok = s2_sample(s2_ctx_logits(ctx, 0), V, &p.sample, &rng, scratch, &lp);
        ctx->c.gen_tokens++;
        out->tokens[np + out->n_gen] = tok;
        out->logprobs[out->n_gen++] = lp;
        if (s2_vocab_is_eog(v, tok) || tok == s2_vocab_bos(v)) { /* BOS mid-stream starts a new document */
            out->stop_reason = "eos";
            break;
        }
        if (!redetokenize(v, out, &text, &text_len)) {
            st = s2_error_set(err, S2_E_NOMEM, "generate: out of memory");
            break;
        }
        size_t from = text_len - out->prompt_len > max_stop + 8 ? text_len - max_stop - 8 : out->prompt_len;
        size_t at;
        if (find_stop(text, from, &p, &at) != NULL) {
            cut = at;
            out->stop_reason = "stop";
            break;
        }
        size_t safe = text_len - (max_stop > 0 ? max_stop - 1 : 0);
        if (p.on_text != NULL && safe > emitted && safe <= text_len) {
            p.on_text(text + emitted, safe - emitted, p.user);
            emitted = safe;
        }
        if (out->n_gen == p.max_tokens) break;
        s2_error e2 = {0};
        s2_status ds = s2_ctx_decode(ctx, &seq, &tok, NULL, 1, &e2);
        if (ds == S2_E_BUDGET) break; /* the context is full: stop, as at the length limit */
        if (ds != S2_OK) {
            st = ds;
            if (err) *err = e2;
        }
    }
    if (st == S2_OK) {
        if (!redetokenize(v, out, &text, &text_len)) st = s2_error_set(err, S2_E_NOMEM, "generate: out of memory");
    }
    if (st == S2_OK) {
        if (cut != (size_t)-1 && cut < text_len) text[text_len = cut] = '\0';
        if (p.on_text != NULL && text_len > emitted) p.on_text(text + emitted, text_len - emitted, p.user);
        out->text = text;
        text = NULL;
    }
    free(text);
    free(scratch);
    if (seq >= 0) s2_seq_free(ctx, seq);
    if (st != S2_OK) s2_gen_result_free(out);
    return st;
}

/* ---- score ---- */

s2_status s2_score_text(s2_ctx *ctx, const char *prefix, const char *cont, s2_score_result *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    const s2_vocab *v = ctx->m->vocab;
    int32_t V = ctx->m->hp.n_vocab, n = 0, np = 0;
    int32_t *ids = s2_tokenize_pair(v, prefix, cont, true, &n, &np);
    if (ids == NULL) return s2_error_set(err, S2_E_NOMEM, "score: out of memory");
    if (np == 0) {
        free(ids);
        return s2_error_set(err, S2_E_ARG, "score: nothing to condition on (an empty prefix and no BOS token)");
    }
    int32_t nc = n - np;
    out->n = nc;
    out->ids = malloc((size_t)(nc > 0 ? nc : 1) * sizeof(int32_t));
    out->logprobs = malloc((size_t)(nc > 0 ? nc : 1) * sizeof(float));
    float *first = malloc((size_t)V * sizeof(float));
    bool *want = malloc((size_t)(nc > 0 ? nc : 1) * sizeof(bool));
    s2_seq *seqs = malloc((size_t)(nc > 0 ? nc : 1) * sizeof(s2_seq));
    s2_seq seq = -1;
    s2_status st = (out->ids && out->logprobs && first && want && seqs)
                       ? s2_seq_new(ctx, &seq, err)
                       : s2_error_set(err, S2_E_NOMEM, "score: out of memory");
    if (st == S2_OK) st = s2_seq_prefill(ctx, seq, ids, np, NULL, err);
    if (st == S2_OK && nc > 0) {
        memcpy(out->ids, ids + np, (size_t)nc * sizeof(int32_t));
        memcpy(first, s2_ctx_logits(ctx, 0), (size_t)V * sizeof(float));
        out->logprobs[0] = first[out->ids[0]] - s2_logsumexp(first, V);
        for (int32_t i = 0; i < nc - 1; i++) want[i] = true, seqs[i] = seq;
        if (nc > 1) st = s2_ctx_decode(ctx, seqs, out->ids, want, nc - 1, err);
        for (int32_t i = 1; st == S2_OK && i < nc; i++) {
            const float *lg = s2_ctx_logits(ctx, i - 1);
            out->logprobs[i] = lg[out->ids[i]] - s2_logsumexp(lg, V);
        }
        if (st == S2_OK) ctx->c.scored_tokens += nc;
    }
    for (int32_t i = 0; st == S2_OK && i < nc; i++) out->sum += out->logprobs[i];
    if (seq >= 0) s2_seq_free(ctx, seq);
    free(ids);
    free(first);
    free(want);
    free(seqs);
    if (st != S2_OK) s2_score_result_free(out);
    return st;
}

/* ---- perplexity ---- */

s2_status s2_perplexity(s2_ctx *ctx, const char *text, size_t len, s2_ppl_result *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    const s2_vocab *v = ctx->m->vocab;
    int32_t V = ctx->m->hp.n_vocab, n = 0, bos = s2_vocab_bos(v);
    int32_t *ids = s2_tokenize_alloc(v, text, len, false, false, &n);
    if (ids == NULL) return s2_error_set(err, S2_E_NOMEM, "perplexity: out of memory");
    if (n < 2) {
        free(ids);
        return s2_error_set(err, S2_E_ARG, "perplexity: the text has %d tokens; at least 2 are needed", n);
    }
    const int32_t chunk = 64;
    int32_t W = ctx->p.n_ctx - (bos >= 0 ? 1 : 0); /* tokens scored per window */
    if (W < 2) W = 2;
    s2_seq seqs[64];
    bool want[64];
    int32_t toks[64];
    s2_status st = S2_OK;
    for (int32_t w0 = 0; st == S2_OK && w0 < n; w0 += W) {
        int32_t wn = n - w0 < W ? n - w0 : W;
        s2_seq seq;
        st = s2_seq_new(ctx, &seq, err);
        if (st != S2_OK) break;
        /* the rows: BOS then the window's tokens; row j's logits predict the window's token j (or j+1 without BOS) */
        int32_t rows = wn + (bos >= 0 ? 1 : 0) - 1, scored_base = bos >= 0 ? 0 : 1;
        for (int32_t r0 = 0; st == S2_OK && r0 < rows; r0 += chunk) {
            int32_t rn = rows - r0 < chunk ? rows - r0 : chunk;
            for (int32_t r = 0; r < rn; r++) {
                int32_t row = r0 + r;
                toks[r] = bos >= 0 ? (row == 0 ? bos : ids[w0 + row - 1]) : ids[w0 + row];
                seqs[r] = seq;
                want[r] = true;
            }
            st = s2_ctx_decode(ctx, seqs, toks, want, rn, err);
            for (int32_t r = 0; st == S2_OK && r < rn; r++) {
                const float *lg = s2_ctx_logits(ctx, r);
                int32_t target = ids[w0 + r0 + r + scored_base];
                out->nll -= (double)(lg[target] - s2_logsumexp(lg, V));
                out->n_tokens++;
            }
        }
        s2_seq_free(ctx, seq);
        out->n_windows++;
    }
    free(ids);
    if (st != S2_OK) return st;
    ctx->c.scored_tokens += out->n_tokens;
    out->n_bytes = (int64_t)len;
    out->ppl = exp(out->nll / (double)out->n_tokens);
    out->bits_per_byte = out->nll / log(2.0) / (double)len;
    return S2_OK;
}
