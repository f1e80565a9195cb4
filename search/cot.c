/* cot.c: chain of thought (Wei et al. 2022; ToT's "CoT" baseline): one sampled chain, step by step, at the
 * strategy's temperature. No scorer is consulted. */
#include <stdlib.h>

#include "search.h"

static s2_status cot_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_cot_params *p = s->ctx;
    s2_node *leaf = s2_env_root(env);
    s2_status st = s2_env_rollout(env, &leaf, 1, p->temperature, false);
    out->best = leaf;
    return st;
}

static const struct s2_strategy_i cot_iface = {.name = "cot", .run = cot_run};

s2_status s2_strategy_cot_init(const s2_cot_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_cot_params p = params ? *params : (s2_cot_params){.temperature = 0.7};
    if (p.temperature < 0) return s2_error_set(err, S2_E_ARG, "cot: temperature %g < 0", p.temperature);
    s2_cot_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "cot: out of memory");
    *ctx = p;
    return s2_strategy_new(&cot_iface, ctx, out, err);
}
