/* sample_chains.c: independent chains from the root, in waves decoded together (sc.c, bon.c). */
#include <stdlib.h>

#include "sample_chains.h"

s2_status s2_sample_chains(s2_env *env, int32_t n, int32_t batch, double temperature, bool score, s2_result *out,
                           s2_node ***leaves, int32_t *done) {
    *done = 0;
    *leaves = s2_env_alloc(env, (size_t)(n > 0 ? n : 1) * sizeof **leaves);
    if (*leaves == NULL) return S2_E_NOMEM;
    s2_node *root = s2_env_root(env);
    s2_status st = S2_OK;
    double chain_tokens = 0; /* tokens of the chains finished so far: what a wave plans with */
    for (int32_t start = 0; start < n && st == S2_OK; start += batch) {
        if (!s2_env_budget_left(env)) return S2_E_BUDGET;
        int32_t m = n - start < batch ? n - start : batch;
        if (*done > 0) { /* as many chains as the rest of the budget pays for, whole */
            int32_t fit = s2_env_afford(env, m, chain_tokens / *done);
            if (fit < 1) {
                s2_env_budget_stop(env); /* not even one more whole chain */
                return S2_E_BUDGET;
            }
            m = fit;
        }
        s2_node **wave = *leaves + *done;
        for (int32_t i = 0; i < m; i++) wave[i] = root;
        st = s2_env_rollout(env, wave, m, temperature, score);
        int32_t kept = 0; /* keep the finished chains, in order */
        for (int32_t i = 0; i < m; i++)
            if (wave[i] != root && wave[i]->terminal) {
                chain_tokens += wave[i]->path_tokens;
                wave[kept++] = wave[i];
            }
        for (int32_t i = 0; i < kept; i++) {
            s2_status sst = s2_result_add_sample(env, out, wave[i]);
            if (sst != S2_OK) return sst;
        }
        *done += kept;
        /* scored wave by wave: the next wave is planned with what a scoring costs */
        if (score && kept > 0 && (st == S2_OK || st == S2_E_BUDGET)) {
            s2_status sst = s2_env_score_many(env, wave, kept);
            if (sst != S2_OK && sst != S2_E_BUDGET) return sst;
            if (sst == S2_E_BUDGET) st = S2_E_BUDGET;
        }
    }
    return st;
}
