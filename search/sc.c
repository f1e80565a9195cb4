/* sc.c: self-consistency (Wang et al. 2022): n chains of thought sampled independently, and the answer most of
 * them reach wins, by count (majority) or by the sum of the scorer's judgements of the chains that reach it
 * (weighted; a logprob scorer's mean log-prob counts as its exponential, a probability). Ties go to the answer
 * seen first (chain order is the sampling order, fixed by the seed) or to the lowest string. Chains that do not
 * finish, or that finish without an answer, abstain. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample_chains.h"

#define SC_BATCH 16 /* chains decoded together */

static s2_status sc_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_sc_params *p = s->ctx;
    s2_node **leaves = NULL;
    int32_t done = 0;
    s2_status st = s2_sample_chains(env, p->n, SC_BATCH, p->temperature, p->vote == S2_VOTE_WEIGHTED, out, &leaves, &done);
    if (st != S2_OK && st != S2_E_BUDGET) return st;
    s2_status run_st = st;
    const char **answers = s2_env_alloc(env, (size_t)(done + 1) * sizeof *answers);
    double *w = s2_env_alloc(env, (size_t)(done + 1) * sizeof *w);
    if (answers == NULL || w == NULL) return S2_E_NOMEM;
    for (int32_t i = 0; i < done; i++) {
        answers[i] = out->samples[i].answer; /* s2_sample_chains recorded leaves[i] as sample i */
        w[i] = 1;
        if (p->vote == S2_VOTE_WEIGHTED && answers[i] != NULL) /* scored as sampled; unscored (budget): no vote */
            w[i] = s2_env_vote_weight(env, leaves[i]);
    }
    int32_t win = s2_vote(answers, w, done, (s2_tie)p->tie, &out->votes);
    out->best = win >= 0 ? leaves[win] : done > 0 ? leaves[0] : NULL;
    return run_st;
}

static const struct s2_strategy_i sc_iface = {.name = "sc", .run = sc_run};

s2_status s2_strategy_sc_init(const s2_sc_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_sc_params p = params ? *params : (s2_sc_params){.n = 100, .temperature = 0.7};
    if (p.n < 1) return s2_error_set(err, S2_E_ARG, "sc: n=%d < 1", p.n);
    s2_sc_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "sc: out of memory");
    *ctx = p;
    return s2_strategy_new(&sc_iface, ctx, out, err);
}
