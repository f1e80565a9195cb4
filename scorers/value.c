/* value.c: a learned value model. A second s2_lm (any GGUF whose vocabulary can spell the labels) reads
 * task->value_prompt(state) and the score is P(sure) from the log-probs of the two labels "sure" and
 * "impossible" that follow it, renormalised over the two. The value model's compute lands on its own lm's
 * counters, which the runner adds to the item's account and reports separately. */
#include <math.h>
#include <stdlib.h>

#include "scorer.h"

/* P(sure) from the two labels' summed log-probs, renormalised over the two. */
static double p_sure(double lp_sure, double lp_impossible) {
    double m = lp_sure > lp_impossible ? lp_sure : lp_impossible;
    double a = exp(lp_sure - m), b = exp(lp_impossible - m);
    return a / (a + b);
}

s2_status s2_value_p_sure(s2_lm *lm, const s2_task *task, int32_t item, const char *text, double *p, s2_error *err) {
    if (task->iface->value_prompt == NULL)
        return s2_error_set(err, S2_E_UNSUPPORTED, "value: task %s has no value prompt", task->iface->name);
    char *prompt = task->iface->value_prompt(task, item, text);
    if (prompt == NULL) return s2_error_set(err, S2_E_NOMEM, "value: out of memory for the value prompt");
    s2_lm_seq seq = -1;
    s2_status st = s2_lm_seq_new(lm, prompt, &seq, err);
    free(prompt);
    if (st != S2_OK) return st;
    const char *labels[2] = {S2_VALUE_SURE, S2_VALUE_IMPOSSIBLE};
    double lp[2] = {0, 0};
    st = s2_lm_score_labels(lm, seq, labels, 2, lp, err);
    s2_lm_seq_free(lm, seq);
    if (st != S2_OK) return st;
    *p = p_sure(lp[0], lp[1]);
    return S2_OK;
}

s2_status s2_value_labels_many(s2_lm *lm, const s2_score_in *in, int32_t n, const char *const *labels,
                               int32_t n_labels, double *lp, const char *who, s2_error *err) {
    if (n == 0) return S2_OK;
    const s2_task *t = in[0].task;
    if (t->iface->value_prompt == NULL)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: task %s has no value prompt", who, t->iface->name);
    char **prompts = calloc((size_t)n, sizeof *prompts);
    s2_status st = prompts ? S2_OK : s2_error_set(err, S2_E_NOMEM, "%s: out of memory", who);
    for (int32_t i = 0; st == S2_OK && i < n; i++) {
        prompts[i] = t->iface->value_prompt(t, in[i].item, in[i].text);
        if (prompts[i] == NULL) st = s2_error_set(err, S2_E_NOMEM, "%s: out of memory for the value prompt", who);
    }
    if (st == S2_OK) st = s2_lm_score_labels_many(lm, (const char *const *)prompts, n, labels, n_labels, lp, err);
    for (int32_t i = 0; prompts && i < n; i++) free(prompts[i]);
    free(prompts);
    return st;
}

static s2_status value_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err) {
    (void)sc;
    if (in->value_lm == NULL)
        return s2_error_set(err, S2_E_ARG, "value: no value model (give --value FILE)");
    return s2_value_p_sure(in->value_lm, in->task, in->item, in->text, out, err);
}

static s2_status value_score_many(s2_scorer *sc, const s2_score_in *in, int32_t n, double *out, s2_error *err) {
    (void)sc;
    if (n > 0 && in[0].value_lm == NULL)
        return s2_error_set(err, S2_E_ARG, "value: no value model (give --value FILE)");
    const char *labels[2] = {S2_VALUE_SURE, S2_VALUE_IMPOSSIBLE};
    double *lp = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *lp);
    if (lp == NULL) return s2_error_set(err, S2_E_NOMEM, "value: out of memory");
    s2_status st = s2_value_labels_many(in[0].value_lm, in, n, labels, 2, lp, "value", err);
    for (int32_t i = 0; st == S2_OK && i < n; i++) out[i] = p_sure(lp[2 * i], lp[2 * i + 1]);
    free(lp);
    return st;
}

static const struct s2_scorer_i value_iface = {.name = "value", .score = value_score, .score_many = value_score_many};

s2_status s2_scorer_value_init(const s2_value_params *p, s2_scorer **out, s2_error *err) {
    *out = NULL;
    s2_value_params *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "value: out of memory");
    if (p) *ctx = *p;
    return s2_scorer_new(&value_iface, ctx, out, err);
}
