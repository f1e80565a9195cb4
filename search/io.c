/* io.c: input-output prompting (ToT's "IO" baseline): one greedy answer, decoded step by step from the prompt
 * until the task says it is final. No scorer is consulted. */
#include <stdlib.h>

#include "search.h"

static s2_status io_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    (void)s;
    s2_node *leaf = s2_env_root(env);
    s2_status st = s2_env_rollout(env, &leaf, 1, 0.0, false);
    out->best = leaf;
    return st;
}

static const struct s2_strategy_i io_iface = {.name = "io", .run = io_run};

s2_status s2_strategy_io_init(const s2_io_params *p, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_io_params *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "io: out of memory");
    if (p) *ctx = *p;
    return s2_strategy_new(&io_iface, ctx, out, err);
}
