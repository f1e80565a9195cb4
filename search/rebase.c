/* rebase.c: REBASE, reward-balanced search (Wu et al. 2024, "Inference scaling laws"): a tree grown level by
 * level under a width budget of n. Every unfinished state of the frontier gets expansions in proportion to the
 * softmax of its reward / temp over the frontier, W_j = B * softmax_j rounded by largest remainder so that they sum
 * to B exactly, where B is n less the solutions finished so far. All expansions of a level are decoded together
 * and scored together. The answer is the weighted vote of the finished solutions (weights: their scores). */
#include <math.h>
#include <stdlib.h>

#include "search.h"

void s2_rebase_allocate(const double *r, int32_t n, double temp, int32_t budget, int32_t *w) {
    if (n <= 0) return;
    double m = -INFINITY, z = 0;
    double *q = malloc((size_t)n * sizeof *q);
    for (int32_t i = 0; i < n; i++)
        if (r[i] / temp > m) m = r[i] / temp;
    for (int32_t i = 0; i < n; i++) z += exp(r[i] / temp - m);
    int32_t given = 0;
    for (int32_t i = 0; i < n; i++) {
        double share = budget * exp(r[i] / temp - m) / z;
        w[i] = (int32_t)floor(share);
        given += w[i];
        if (q) q[i] = share - w[i];
    }
    while (given < budget) { /* the largest remainders, ties to the lower index */
        int32_t b = 0;
        for (int32_t i = 1; q && i < n; i++)
            if (q[i] > q[b]) b = i;
        w[b]++;
        given++;
        if (q) q[b] = -1;
    }
    free(q);
}

/* Best first: score, then the lower id. */
static int cmp_nodes(const void *a, const void *b) {
    const s2_node *x = *(s2_node *const *)a, *y = *(s2_node *const *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static s2_status rebase_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_rebase_params *p = s->ctx;
    int32_t n = p->n;
    s2_node **front = s2_env_alloc(env, (size_t)n * sizeof *front), **done = s2_env_alloc(env, (size_t)n * sizeof *done);
    s2_node **kids = s2_env_alloc(env, (size_t)n * sizeof *kids), **next = s2_env_alloc(env, (size_t)n * sizeof *next);
    int32_t *w = s2_env_alloc(env, (size_t)n * sizeof *w);
    double *r = s2_env_alloc(env, (size_t)n * sizeof *r), *vw = s2_env_alloc(env, (size_t)n * sizeof *vw);
    const char **ans = s2_env_alloc(env, (size_t)n * sizeof *ans);
    if (!front || !done || !kids || !next || !w || !r || !vw || !ans) return S2_E_NOMEM;
    int32_t nf = 1, nd = 0, left = n;
    front[0] = s2_env_root(env);
    s2_status st = S2_OK;
    while (nf > 0 && left > 0 && !front[0]->terminal) {
        if (!s2_env_budget_left(env)) {
            st = S2_E_BUDGET;
            break;
        }
        for (int32_t j = 0; j < nf; j++) r[j] = front[j]->scored ? front[j]->score : 0;
        s2_rebase_allocate(r, nf, p->temp, left, w);
        int32_t got = s2_env_expand_many(env, front, w, nf, NULL, kids);
        if (got < 0) {
            st = (s2_status)got;
            break;
        }
        st = s2_env_score_many(env, kids, left);
        if (st != S2_OK && st != S2_E_BUDGET) return st;
        int32_t nn = 0;
        for (int32_t c = 0; c < left; c++) {
            s2_node *x = kids[c];
            if (x == NULL || !x->scored) continue;
            if (x->terminal) done[nd++] = x;
            else next[nn++] = x;
        }
        for (int32_t j = 0; j < nf; j++) {
            if (w[j] == 0) front[j]->pruned = true; /* the allocation gave it nothing */
            s2_env_release(env, front[j]);
        }
        left = n - nd;
        if (nn > left) { /* keep the best `left` states (the budget can expand no more) */
            qsort(next, (size_t)nn, sizeof *next, cmp_nodes);
            for (int32_t a = left; a < nn; a++) {
                next[a]->pruned = true;
                s2_env_release(env, next[a]);
            }
            nn = left;
        }
        for (int32_t j = 0; j < nn; j++) front[j] = next[j];
        nf = nn;
        if (st == S2_E_BUDGET) break;
    }
    for (int32_t i = 0; i < nd; i++) { /* each finished state is a sample, in the order they finished */
        s2_status sst = s2_result_add_sample(env, out, done[i]);
        if (sst != S2_OK) return sst;
        ans[i] = s2_env_answer(env, done[i]);
        vw[i] = s2_env_vote_weight(env, done[i]);
    }
    int32_t win = s2_vote(ans, vw, nd, S2_TIE_EARLIEST, &out->votes);
    out->best = win >= 0 ? done[win] : s2_env_best(done, nd);
    if (out->best == NULL) out->best = s2_env_best(front, nf);
    return st;
}

static const struct s2_strategy_i rebase_iface = {.name = "rebase", .run = rebase_run};

s2_status s2_strategy_rebase_init(const s2_rebase_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_rebase_params p = params ? *params : (s2_rebase_params){.n = 16, .temp = 0.2};
    if (p.n < 1 || !(p.temp > 0))
        return s2_error_set(err, S2_E_ARG, "rebase: n=%d must be >= 1 and temp=%g > 0", p.n, p.temp);
    s2_rebase_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "rebase: out of memory");
    *ctx = p;
    return s2_strategy_new(&rebase_iface, ctx, out, err);
}
