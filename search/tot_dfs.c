/* tot_dfs.c: Tree of Thoughts, depth first with backtracking (Yao et al. 2023, crosswords setting): at each state
 * k thoughts are sampled and evaluated, visited best first; a thought scored below `threshold` is pruned (ToT
 * prunes states judged impossible), and a dead end backtracks to the next sibling. The search stops at the first
 * finished state scoring at least the threshold, after max_visits expansions (ToT's 100 steps), or when the
 * budget runs out; without a finished state above the threshold the best finished one answers. */
#include <stdlib.h>

#include "search.h"

static int cmp_nodes(const void *a, const void *b) {
    const s2_node *x = *(s2_node *const *)a, *y = *(s2_node *const *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

typedef struct dfs {
    const s2_tot_dfs_params *p;
    s2_env *env;
    int32_t visits;
    s2_node *found, *best_final;
} dfs;

static s2_status visit(dfs *d, s2_node *node) {
    if (node->terminal) {
        if (d->best_final == NULL || cmp_nodes(&node, &d->best_final) < 0) d->best_final = node;
        if (node->score >= d->p->threshold) d->found = node;
        return S2_OK;
    }
    if (d->visits >= d->p->max_visits) return S2_OK;
    if (!s2_env_budget_left(d->env)) return S2_E_BUDGET;
    d->visits++;
    s2_node **kids = s2_env_alloc(d->env, (size_t)d->p->k * sizeof *kids);
    if (kids == NULL) return S2_E_NOMEM;
    int32_t n = s2_env_expand(d->env, node, d->p->k, kids);
    if (n < 0) return (s2_status)n;
    for (int32_t i = 0; i < n; i++) {
        s2_status st = s2_env_score(d->env, kids[i]);
        if (st != S2_OK) return st;
    }
    s2_env_release(d->env, node); /* the children hold its prefix now */
    qsort(kids, (size_t)n, sizeof *kids, cmp_nodes);
    s2_status st = S2_OK;
    for (int32_t i = 0; i < n; i++) {
        if (d->found != NULL || st != S2_OK || kids[i]->score < d->p->threshold) {
            kids[i]->pruned = !kids[i]->terminal || kids[i]->score < d->p->threshold;
            if (kids[i]->pruned) kids[i]->prune = kids[i]->score < d->p->threshold ? S2_PRUNE_LOW_SCORE : S2_PRUNE_EXTRA;
            if (kids[i]->terminal && (d->best_final == NULL || cmp_nodes(&kids[i], &d->best_final) < 0))
                d->best_final = kids[i];
            s2_env_release(d->env, kids[i]);
            continue;
        }
        st = visit(d, kids[i]);
        s2_env_release(d->env, kids[i]);
    }
    return st;
}

static s2_status tot_dfs_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    dfs d = {.p = s->ctx, .env = env};
    s2_status st = visit(&d, s2_env_root(env));
    out->best = d.found ? d.found : d.best_final;
    return st;
}

static const struct s2_strategy_i tot_dfs_iface = {.name = "tot-dfs", .run = tot_dfs_run};

s2_status s2_strategy_tot_dfs_init(const s2_tot_dfs_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_tot_dfs_params p = params ? *params : (s2_tot_dfs_params){.k = 5, .max_visits = 100, .threshold = 0.5};
    if (p.k < 1 || p.max_visits < 1) return s2_error_set(err, S2_E_ARG, "tot-dfs: k=%d, max_visits=%d must be >= 1", p.k, p.max_visits);
    s2_tot_dfs_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "tot-dfs: out of memory");
    *ctx = p;
    return s2_strategy_new(&tot_dfs_iface, ctx, out, err);
}
