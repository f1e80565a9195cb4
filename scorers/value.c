/* value.c: a learned value model. A second s2_lm (any GGUF whose vocabulary can spell the labels) reads
 * task->value_prompt(state) and the score is P(sure) from the log-probs of the two labels "sure" and
 * "impossible" that follow it, renormalised over the two. The value model's compute lands on its own lm's
 * counters, which the runner adds to the item's account and reports separately. */
#include <math.h>
#include <stdlib.h>

#include "scorer.h"

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
    double m = lp[0] > lp[1] ? lp[0] : lp[1];
    double a = exp(lp[0] - m), b = exp(lp[1] - m);
    *p = a / (a + b);
    return S2_OK;
}

static s2_status value_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err) {
    (void)sc;
    if (in->value_lm == NULL)
        return s2_error_set(err, S2_E_ARG, "value: no value model (give --value FILE)");
    return s2_value_p_sure(in->value_lm, in->task, in->item, in->text, out, err);
}

static const struct s2_scorer_i value_iface = {.name = "value", .score = value_score};

s2_status s2_scorer_value_init(const s2_value_params *p, s2_scorer **out, s2_error *err) {
    *out = NULL;
    s2_value_params *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "value: out of memory");
    if (p) *ctx = *p;
    return s2_scorer_new(&value_iface, ctx, out, err);
}
