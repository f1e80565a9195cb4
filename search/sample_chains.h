/* sample_chains.h: what sc.c and bon.c share (internal to search/): n independent chains sampled from the
 * root in waves of at most `batch` chains decoded together, stopping cleanly when the budget runs out. */
#ifndef S2_SAMPLE_CHAINS_H
#define S2_SAMPLE_CHAINS_H

#include "search.h"

/* Samples up to n chains into leaves (arena-owned array of n), *done gets how many finished (terminal). Chains
 * cut by the budget are not returned. With score, each wave's finished chains are scored before the next wave
 * (so that the budget plans waves with the scoring's cost; a chain the budget cannot score stays unscored). Each
 * finished chain is recorded in out's samples (s2_result_add_sample), in sampling order.
 * Returns S2_OK or S2_E_BUDGET (the chains so far stand), or an error. */
s2_status s2_sample_chains(s2_env *env, int32_t n, int32_t batch, double temperature, bool score, s2_result *out,
                           s2_node ***leaves, int32_t *done);

#endif
