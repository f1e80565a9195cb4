/* bon.c: best-of-N (Cobbe et al. 2021, verifier reranking): n chains sampled independently, each finished chain
 * judged by the scorer, the best one kept (ties to the earliest). With a scorer that compares two candidates
 * (pairwise), a knock-out tournament in sampling order picks the winner instead. select=weighted sums the
 * scores of the chains per extracted answer and answers with the heaviest (weighted best-of-N,
 * as in Hugging Face's search-and-learn). Chains are scored wave by wave, so a budget plans with the scoring. */
#include <stdlib.h>

#include "sample_chains.h"

#define BON_BATCH 16

static s2_status bon_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_bon_params *p = s->ctx;
    s2_node **leaves = NULL;
    int32_t done = 0;
    const s2_scorer *sc = s2_env_params_of(env)->scorer;
    bool tournament = sc != NULL && s2_scorer_can_compare(sc);
    s2_status st = s2_sample_chains(env, p->n, BON_BATCH, p->temperature, !tournament, out, &leaves, &done);
    if (st != S2_OK && st != S2_E_BUDGET) return st;
    s2_status run_st = st;
    if (sc != NULL && s2_scorer_can_compare(sc) && done > 1) {
        int32_t m = done; /* each round: pairs (0,1), (2,3), ...; an odd one out goes through */
        while (m > 1) {
            int32_t w = 0;
            for (int32_t i = 0; i < m; i += 2) {
                if (i + 1 == m) {
                    leaves[w++] = leaves[i];
                    continue;
                }
                double pa = 0.5;
                st = s2_env_compare(env, leaves[i], leaves[i + 1], &pa);
                if (st != S2_OK) return st;
                leaves[w++] = pa >= 0.5 ? leaves[i] : leaves[i + 1];
            }
            m = w;
        }
        out->best = leaves[0];
        return run_st;
    }
    if (p->select == S2_BON_WEIGHTED) { /* the answer whose chains' scores sum highest; a logprob score counts as
                                           * its exponential (a probability), as in sc's weighted vote */
        const char **answers = s2_env_alloc(env, (size_t)(done + 1) * sizeof *answers);
        double *w = s2_env_alloc(env, (size_t)(done + 1) * sizeof *w);
        if (answers == NULL || w == NULL) return S2_E_NOMEM;
        for (int32_t i = 0; i < done; i++) {
            answers[i] = leaves[i]->scored ? s2_env_answer(env, leaves[i]) : NULL;
            w[i] = s2_env_vote_weight(env, leaves[i]);
        }
        int32_t win = s2_vote(answers, w, done, S2_TIE_EARLIEST, &out->votes);
        if (win >= 0) {
            out->best = leaves[win];
            return run_st;
        }
    }
    out->best = s2_env_best(leaves, done); /* scored chains first: one the budget could not score ranks below */
    return run_st;
}

static const struct s2_strategy_i bon_iface = {.name = "bon", .run = bon_run};

s2_status s2_strategy_bon_init(const s2_bon_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_bon_params p = params ? *params : (s2_bon_params){.n = 100, .select = S2_BON_BEST, .temperature = 0.7};
    if (p.n < 1) return s2_error_set(err, S2_E_ARG, "bon: n=%d < 1", p.n);
    s2_bon_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "bon: out of memory");
    *ctx = p;
    return s2_strategy_new(&bon_iface, ctx, out, err);
}
