/* dvts.c: diverse verifier tree search (Beeching et al. 2024, Hugging Face search-and-learn's `dvts`): the root is
 * expanded into n first steps, split in order into n / width subtrees of `width` beams each, and every subtree is
 * then a step-level beam search of its own: each of its beams gets `expand` sampled steps, and the best `width`
 * of the subtree's new states and finished beams survive. Subtrees never compete with each other, which keeps the
 * n beams diverse where one beam search collapses onto one prefix. All subtrees are expanded together (one batch)
 * and scored together (s2_env_score_many). The answer is the best finished state over all subtrees. */
#include <stdlib.h>

#include "search.h"

/* Best first: score, then the lower id. */
static int cmp_nodes(const void *a, const void *b) {
    const s2_node *x = *(s2_node *const *)a, *y = *(s2_node *const *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static s2_node *best_of(s2_node **beams, int32_t n, bool finished_only) {
    s2_node *best = NULL;
    for (int32_t i = 0; i < n; i++)
        if ((!finished_only || beams[i]->terminal) && (best == NULL || cmp_nodes(&beams[i], &best) < 0)) best = beams[i];
    return best;
}

static s2_status dvts_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_dvts_params *p = s->ctx;
    int32_t W = p->width, T = p->n / p->width, E = p->expand, N = T * W;
    s2_node **beams = s2_env_alloc(env, (size_t)N * sizeof *beams); /* subtree t: beams[t * W ..], nb[t] of them */
    int32_t *nb = s2_env_alloc(env, (size_t)T * sizeof *nb), *ks = s2_env_alloc(env, (size_t)N * sizeof *ks);
    s2_node **par = s2_env_alloc(env, (size_t)N * sizeof *par), **kids = s2_env_alloc(env, (size_t)N * E * sizeof *kids);
    s2_node **cand = s2_env_alloc(env, (size_t)(W * E + W) * sizeof *cand);
    int32_t *owner = s2_env_alloc(env, (size_t)N * sizeof *owner);
    if (!beams || !nb || !ks || !par || !kids || !cand || !owner) return S2_E_NOMEM;
    s2_node *root = s2_env_root(env);
    if (root->terminal) return S2_OK;
    if (!s2_env_budget_left(env)) return S2_E_BUDGET;
    /* the first level: n steps from the root, dealt out to the subtrees in order */
    int32_t got = s2_env_expand_many(env, &root, &N, 1, NULL, kids);
    if (got < 0) return (s2_status)got;
    s2_status st = s2_env_score_many(env, kids, N);
    if (st != S2_OK) return st;
    for (int32_t t = 0; t < T; t++) {
        nb[t] = 0;
        for (int32_t j = t * W; j < (t + 1) * W; j++)
            if (kids[j] != NULL) beams[t * W + nb[t]++] = kids[j];
    }
    for (;;) {
        out->best = NULL;
        for (int32_t t = 0; t < T; t++) {
            s2_node *b = best_of(beams + t * W, nb[t], true);
            if (b != NULL && (out->best == NULL || cmp_nodes(&b, &out->best) < 0)) out->best = b;
        }
        int32_t np = 0;
        for (int32_t t = 0; t < T; t++)
            for (int32_t i = 0; i < nb[t]; i++)
                if (!beams[t * W + i]->terminal) {
                    owner[np] = t;
                    ks[np] = E;
                    par[np++] = beams[t * W + i];
                }
        if (np == 0) break;
        if (!s2_env_budget_left(env)) return S2_E_BUDGET;
        got = s2_env_expand_many(env, par, ks, np, NULL, kids);
        if (got < 0) return (s2_status)got;
        if ((st = s2_env_score_many(env, kids, np * E)) != S2_OK) return st;
        for (int32_t t = 0; t < T; t++) { /* each subtree keeps the best W of its own candidates */
            int32_t nc = 0;
            for (int32_t i = 0; i < nb[t]; i++)
                if (beams[t * W + i]->terminal) cand[nc++] = beams[t * W + i];
            for (int32_t j = 0; j < np; j++)
                if (owner[j] == t)
                    for (int32_t c = 0; c < E; c++)
                        if (kids[j * E + c] != NULL) cand[nc++] = kids[j * E + c];
            if (nc == 0) continue; /* a subtree whose beams all failed keeps them: they are finished or dead */
            qsort(cand, (size_t)nc, sizeof *cand, cmp_nodes);
            nb[t] = nc < W ? nc : W;
            for (int32_t i = 0; i < nb[t]; i++) beams[t * W + i] = cand[i];
            for (int32_t i = nb[t]; i < nc; i++) {
                cand[i]->pruned = true;
                s2_env_release(env, cand[i]);
            }
        }
        for (int32_t j = 0; j < np; j++) s2_env_release(env, par[j]);
        for (int32_t t = 0; t < T; t++) /* a subtree left with only dead (released, unfinished) beams stops */
            for (int32_t i = 0; i < nb[t]; i++)
                if (!beams[t * W + i]->terminal && beams[t * W + i]->seq < 0) beams[t * W + i]->terminal = true;
    }
    if (out->best == NULL)
        for (int32_t t = 0; t < T; t++) {
            s2_node *b = best_of(beams + t * W, nb[t], false);
            if (b != NULL && (out->best == NULL || cmp_nodes(&b, &out->best) < 0)) out->best = b;
        }
    return S2_OK;
}

static const struct s2_strategy_i dvts_iface = {.name = "dvts", .run = dvts_run};

s2_status s2_strategy_dvts_init(const s2_dvts_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_dvts_params p = params ? *params : (s2_dvts_params){.n = 16, .width = 4, .expand = 4};
    if (p.width < 1 || p.expand < 1 || p.n < p.width || p.n % p.width != 0)
        return s2_error_set(err, S2_E_ARG, "dvts: n=%d must be a positive multiple of width=%d, expand=%d >= 1", p.n,
                            p.width, p.expand);
    s2_dvts_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "dvts: out of memory");
    *ctx = p;
    return s2_strategy_new(&dvts_iface, ctx, out, err);
}
