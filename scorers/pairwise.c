/* pairwise.c: system 1 asked which of two candidates is better. The prompt shows the problem and the two
 * candidates and ends with "Better: "; the answer is read from the log-probs of the labels "A" and "B", asked in
 * both orders and averaged so that the position of a candidate does not decide. Strategies that find compare()
 * run a knock-out tournament (bon); alone, score() is the path's mean token log-prob. */
#include <math.h>
#include <stdlib.h>

#include "scorer.h"
#include <stdio.h>

static s2_status ask(s2_lm *lm, const char *prompt, const char *x, const char *y, double *p_x, s2_error *err) {
    char *text = NULL;
    if (asprintf(&text, "%s\nCandidate A:\n%s\nCandidate B:\n%s\nWhich candidate is right? Better: ", prompt, x, y) < 0)
        return s2_error_set(err, S2_E_NOMEM, "pairwise: out of memory");
    s2_lm_seq seq = -1;
    s2_status st = s2_lm_seq_new(lm, text, &seq, err);
    free(text);
    if (st != S2_OK) return st;
    const char *labels[2] = {"A", "B"};
    double lp[2] = {0, 0};
    st = s2_lm_score_labels(lm, seq, labels, 2, lp, err);
    s2_lm_seq_free(lm, seq);
    if (st != S2_OK) return st;
    double m = fmax(lp[0], lp[1]);
    *p_x = exp(lp[0] - m) / (exp(lp[0] - m) + exp(lp[1] - m));
    return S2_OK;
}

static s2_status pairwise_compare(s2_scorer *sc, const s2_score_in *a, const s2_score_in *b, double *p_a,
                                  s2_error *err) {
    (void)sc;
    double p1 = 0.5, p2 = 0.5;
    s2_status st = ask(a->lm, a->prompt, a->text, b->text, &p1, err);
    if (st == S2_OK) st = ask(a->lm, a->prompt, b->text, a->text, &p2, err);
    if (st == S2_OK) *p_a = 0.5 * (p1 + (1 - p2));
    return st;
}

static s2_status pairwise_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err) {
    (void)sc;
    (void)err;
    *out = in->path_tokens > 0 ? in->path_logprob / in->path_tokens : 0;
    return S2_OK;
}

static const struct s2_scorer_i pairwise_iface = {.name = "pairwise", .score = pairwise_score, .compare = pairwise_compare};

s2_status s2_scorer_pairwise_init(s2_scorer **out, s2_error *err) {
    int32_t *ctx = calloc(1, sizeof *ctx);
    *out = NULL;
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "pairwise: out of memory");
    return s2_scorer_new(&pairwise_iface, ctx, out, err);
}
