/* oracle.c: the task's exact partial-state oracle as a score (1 solvable, 0 dead, 0.5 when the task cannot
 * tell), and the verifier's reward for final answers. An upper bound for ablations: it reads the ground truth,
 * so it is never a default and never what a headline number may use. */
#include <stdlib.h>

#include "scorer.h"

static s2_status oracle_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err) {
    (void)sc;
    if (in->terminal) {
        s2_verdict v = {0};
        s2_status st = s2_task_verify(in->task, in->item, in->text, &v, err);
        *out = st == S2_OK ? v.reward : 0;
        s2_verdict_clear(&v);
        return st;
    }
    s2_oracle o = s2_task_oracle(in->task, in->item, in->text);
    *out = o == S2_ORACLE_SOLVABLE ? 1.0 : o == S2_ORACLE_DEAD ? 0.0 : 0.5;
    return S2_OK;
}

static const struct s2_scorer_i oracle_iface = {.name = "oracle", .score = oracle_score};

s2_status s2_scorer_oracle_init(s2_scorer **out, s2_error *err) {
    int32_t *ctx = calloc(1, sizeof *ctx);
    *out = NULL;
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "oracle: out of memory");
    return s2_scorer_new(&oracle_iface, ctx, out, err);
}
