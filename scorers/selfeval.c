/* selfeval.c: system 1 judges a state itself (Tree of Thoughts' value prompt). The policy reads the task's value
 * prompt for the state, and the score is the expectation of ToT's label values (sure 20, likely 1, impossible
 * 0.001) under the policy's probabilities of the three labels, renormalised over them. ToT samples the judgement
 * three times and sums; the expectation is the same estimate without the sampling noise. */
#include <math.h>
#include <stdlib.h>

#include "scorer.h"

static const char *const selfeval_labels[3] = {S2_VALUE_SURE, "likely", S2_VALUE_IMPOSSIBLE};

/* The expectation of the label values under the labels' probabilities, renormalised over the three. */
static double expect(const s2_selfeval_params *p, const double *lp) {
    double w[3] = {p->w_sure, p->w_likely, p->w_impossible};
    double m = fmax(lp[0], fmax(lp[1], lp[2])), z = 0, v = 0;
    for (int i = 0; i < 3; i++) {
        double e = exp(lp[i] - m);
        z += e;
        v += e * w[i];
    }
    return v / z;
}

static s2_status selfeval_score_many(s2_scorer *sc, const s2_score_in *in, int32_t n, double *out, s2_error *err) {
    double *lp = malloc((size_t)(n > 0 ? n : 1) * 3 * sizeof *lp);
    if (lp == NULL) return s2_error_set(err, S2_E_NOMEM, "selfeval: out of memory");
    s2_status st = n > 0 ? s2_value_labels_many(in[0].lm, in, n, selfeval_labels, 3, lp, "selfeval", err) : S2_OK;
    for (int32_t i = 0; st == S2_OK && i < n; i++) out[i] = expect(sc->ctx, lp + 3 * i);
    free(lp);
    return st;
}

static s2_status selfeval_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err) {
    const s2_selfeval_params *p = sc->ctx;
    const s2_task *t = in->task;
    if (t->iface->value_prompt == NULL)
        return s2_error_set(err, S2_E_UNSUPPORTED, "selfeval: task %s has no value prompt", t->iface->name);
    char *prompt = t->iface->value_prompt(t, in->item, in->text);
    if (prompt == NULL) return s2_error_set(err, S2_E_NOMEM, "selfeval: out of memory");
    s2_lm_seq seq = -1;
    s2_status st = s2_lm_seq_new(in->lm, prompt, &seq, err);
    free(prompt);
    if (st != S2_OK) return st;
    double lp[3] = {0, 0, 0};
    st = s2_lm_score_labels(in->lm, seq, selfeval_labels, 3, lp, err);
    s2_lm_seq_free(in->lm, seq);
    if (st != S2_OK) return st;
    *out = expect(p, lp);
    return S2_OK;
}

static const struct s2_scorer_i selfeval_iface = {.name = "selfeval", .score = selfeval_score,
                                                  .score_many = selfeval_score_many};

s2_status s2_scorer_selfeval_init(const s2_selfeval_params *params, s2_scorer **out, s2_error *err) {
    *out = NULL;
    s2_selfeval_params p = params ? *params : (s2_selfeval_params){.w_sure = 20, .w_likely = 1, .w_impossible = 0.001};
    s2_selfeval_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "selfeval: out of memory");
    *ctx = p;
    return s2_scorer_new(&selfeval_iface, ctx, out, err);
}
