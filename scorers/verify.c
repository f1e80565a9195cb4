/* verify.c: the task's exact check of a final answer as a score: the verifier's reward for a terminal state,
 * 0 for a state that has no answer yet. An outcome check, never a judge of partial states. */
#include <stdlib.h>

#include "scorer.h"

static s2_status verify_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err) {
    (void)sc;
    *out = 0;
    if (!in->terminal) return S2_OK;
    s2_verdict v = {0};
    s2_status st = s2_task_verify(in->task, in->item, in->text, &v, err);
    if (st == S2_OK) *out = v.reward;
    s2_verdict_clear(&v);
    return st;
}

static const struct s2_scorer_i verify_iface = {.name = "verify", .score = verify_score};

s2_status s2_scorer_verify_init(s2_scorer **out, s2_error *err) {
    int32_t *ctx = calloc(1, sizeof *ctx);
    *out = NULL;
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "verify: out of memory");
    return s2_scorer_new(&verify_iface, ctx, out, err);
}
