/* tot_bfs.c: Tree of Thoughts, breadth first (Yao et al. 2023, Game of 24 setting): from each of the b states
 * kept, k thoughts are sampled (all states' thoughts decoded together), identical sibling thoughts are merged
 * (ToT dedupes its proposals; with retries > 0, a state left with fewer than k distinct legal thoughts is
 * sampled again, up to `retries` more rounds, as ToT's propose prompt lists distinct steps), every new state is
 * evaluated by the scorer, and the best b among the new states and the finished ones are kept, for `steps`
 * levels (0: until every kept state is finished or max_depth). */
#include <stdlib.h>
#include <string.h>

#include "search.h"

static int cmp_nodes(const void *a, const void *b) {
    const s2_node *x = *(s2_node *const *)a, *y = *(s2_node *const *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static s2_node *answer_of(s2_node **keep, int32_t n) {
    for (int32_t i = 0; i < n; i++) /* keep is sorted best first */
        if (keep[i]->terminal) return keep[i];
    return n > 0 ? keep[0] : NULL;
}

/* Adds the children in got[0..n) to parent i's distinct thoughts dist[i * K ..] (nd[i] of them): a NULL entry
 * (an illegal step) is skipped, a step equal to one already there, or one past K, is pruned and released. */
static void merge_thoughts(s2_env *env, s2_node **got, int32_t n, s2_node **dist, int32_t *nd, int32_t K) {
    for (int32_t a = 0; a < n; a++) {
        s2_node *x = got[a];
        if (x == NULL) continue;
        bool extra = *nd >= K, dup = false;
        for (int32_t b2 = 0; b2 < *nd && !extra && !dup; b2++) dup = strcmp(dist[b2]->step, x->step) == 0;
        if (dup || extra) {
            s2_env_prune(env, x, dup ? S2_PRUNE_DUPLICATE : S2_PRUNE_EXTRA);
        } else {
            dist[(*nd)++] = x;
        }
    }
}

static s2_status tot_bfs_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_tot_bfs_params *p = s->ctx;
    int32_t B = p->b, K = p->k;
    s2_node **keep = s2_env_alloc(env, (size_t)B * sizeof *keep), **par = s2_env_alloc(env, (size_t)B * sizeof *par);
    s2_node **qpar = s2_env_alloc(env, (size_t)B * sizeof *qpar);
    int32_t *ks = s2_env_alloc(env, (size_t)B * sizeof *ks), *nd = s2_env_alloc(env, (size_t)B * sizeof *nd);
    int32_t *qi = s2_env_alloc(env, (size_t)B * sizeof *qi);
    s2_node **kids = s2_env_alloc(env, (size_t)B * K * sizeof *kids);
    s2_node **dist = s2_env_alloc(env, (size_t)B * K * sizeof *dist);
    s2_node **cand = s2_env_alloc(env, (size_t)(B * K + B) * sizeof *cand);
    if (!keep || !par || !qpar || !ks || !nd || !qi || !kids || !dist || !cand) return S2_E_NOMEM;
    int32_t nk = 1;
    keep[0] = s2_env_root(env);
    for (int32_t step = 0; p->steps == 0 || step < p->steps; step++) {
        int32_t np = 0, nc = 0;
        for (int32_t i = 0; i < nk; i++) {
            if (keep[i]->terminal) cand[nc++] = keep[i];
            else {
                par[np] = keep[i];
                nd[np++] = 0;
            }
        }
        if (np == 0) break;
        if (!s2_env_budget_left(env)) return S2_E_BUDGET;
        /* k thoughts per state, identical siblings merged (ToT dedupes its proposals); then up to `retries`
         * rounds sample again for the states left with fewer than k distinct legal thoughts */
        for (int32_t round = 0; round <= p->retries; round++) {
            int32_t nq = 0;
            for (int32_t i = 0; i < np; i++)
                if (nd[i] < K && !par[i]->terminal) {
                    qpar[nq] = par[i];
                    qi[nq] = i;
                    ks[nq++] = K - nd[i];
                }
            if (nq == 0 || (round > 0 && !s2_env_budget_left(env))) break;
            int32_t got = s2_env_expand_many(env, qpar, ks, nq, NULL, kids);
            if (got < 0) return (s2_status)got;
            int32_t at = 0;
            for (int32_t q = 0; q < nq; q++) {
                merge_thoughts(env, kids + at, ks[q], dist + (size_t)qi[q] * K, &nd[qi[q]], K);
                at += ks[q];
            }
        }
        int32_t first_new = nc;
        for (int32_t i = 0; i < np; i++) {
            for (int32_t a = 0; a < nd[i]; a++) cand[nc++] = dist[(size_t)i * K + a];
            s2_env_release(env, par[i]);
        }
        s2_status sst = s2_env_score_many(env, cand + first_new, nc - first_new); /* the level's states together */
        if (sst != S2_OK) return sst;
        if (nc == 0) break;
        qsort(cand, (size_t)nc, sizeof *cand, cmp_nodes);
        nk = nc < B ? nc : B;
        for (int32_t i = 0; i < nk; i++) keep[i] = cand[i];
        for (int32_t i = nk; i < nc; i++) s2_env_prune(env, cand[i], S2_PRUNE_LOW_SCORE);
        out->best = answer_of(keep, nk);
    }
    out->best = answer_of(keep, nk);
    return S2_OK;
}

static const struct s2_strategy_i tot_bfs_iface = {.name = "tot-bfs", .run = tot_bfs_run};

s2_status s2_strategy_tot_bfs_init(const s2_tot_bfs_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_tot_bfs_params p = params ? *params : (s2_tot_bfs_params){.b = 5, .k = 16, .steps = 0, .retries = 0};
    if (p.b < 1 || p.k < 1 || p.steps < 0 || p.retries < 0)
        return s2_error_set(err, S2_E_ARG, "tot-bfs: b=%d, k=%d must be >= 1, retries=%d >= 0", p.b, p.k, p.retries);
    s2_tot_bfs_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "tot-bfs: out of memory");
    *ctx = p;
    return s2_strategy_new(&tot_bfs_iface, ctx, out, err);
}
