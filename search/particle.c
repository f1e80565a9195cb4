/* particle.c: particle filtering over reasoning steps (Puri et al. 2025, "A probabilistic inference approach to
 * inference-time scaling of LLMs using particle-based Monte Carlo methods"; its_hub). n particles start at the
 * root; each step every unfinished particle is extended by one sampled step (particles on the same node share one
 * expansion of k children), the new states are scored together, and each particle's weight is the softmax over
 * the particles of its latest step reward / temp. When the effective sample size 1 / sum w^2 falls below
 * ess * n, n particles are drawn again in proportion to the weights (multinomial or systematic resampling,
 * Doucet & Johansen 2009). Finished particles are frozen: never extended, still weighted and resampled. An
 * illegal step leaves its particle with no weight. The answer is the weighted vote of the finished particles'
 * answers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

double s2_particle_weights(const double *r, const bool *alive, int32_t n, double temp, double *w) {
    double m = -INFINITY, z = 0, s2 = 0;
    for (int32_t i = 0; i < n; i++)
        if ((alive == NULL || alive[i]) && r[i] / temp > m) m = r[i] / temp;
    for (int32_t i = 0; i < n; i++) {
        w[i] = (alive == NULL || alive[i]) && m > -INFINITY ? exp(r[i] / temp - m) : 0;
        z += w[i];
    }
    for (int32_t i = 0; i < n; i++) {
        w[i] = z > 0 ? w[i] / z : 0;
        s2 += w[i] * w[i];
    }
    return s2 > 0 ? 1.0 / s2 : 0;
}

/* The index of the first cumulative weight above x (the last with weight, for x at the top). */
static int32_t inverse_cdf(const double *w, int32_t n, double x) {
    double c = 0;
    int32_t last = 0;
    for (int32_t i = 0; i < n; i++) {
        if (w[i] <= 0) continue;
        c += w[i];
        last = i;
        if (x < c) return i;
    }
    return last;
}

void s2_particle_resample(const double *w, int32_t n, int32_t kind, const double *u, int32_t *idx) {
    for (int32_t j = 0; j < n; j++)
        idx[j] = inverse_cdf(w, n, kind == S2_RESAMPLE_SYSTEMATIC ? (u[0] + j) / n : u[j]);
}

static s2_status particle_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_particle_params *p = s->ctx;
    int32_t n = p->n;
    s2_node **part = s2_env_alloc(env, (size_t)n * sizeof *part), **next = s2_env_alloc(env, (size_t)n * sizeof *next);
    s2_node **par = s2_env_alloc(env, (size_t)n * sizeof *par), **kids = s2_env_alloc(env, (size_t)n * sizeof *kids);
    int32_t *ks = s2_env_alloc(env, (size_t)n * sizeof *ks), *idx = s2_env_alloc(env, (size_t)n * sizeof *idx);
    double *r = s2_env_alloc(env, (size_t)n * sizeof *r), *w = s2_env_alloc(env, (size_t)n * sizeof *w);
    double *nr = s2_env_alloc(env, (size_t)n * sizeof *nr), *u = s2_env_alloc(env, (size_t)n * sizeof *u);
    bool *alive = s2_env_alloc(env, (size_t)n * sizeof *alive), *nalive = s2_env_alloc(env, (size_t)n * sizeof *nalive);
    const char **ans = s2_env_alloc(env, (size_t)n * sizeof *ans);
    if (!part || !next || !par || !kids || !ks || !idx || !r || !w || !nr || !u || !alive || !nalive || !ans)
        return S2_E_NOMEM;
    s2_node *root = s2_env_root(env);
    for (int32_t i = 0; i < n; i++) part[i] = root, alive[i] = true, r[i] = 0;
    s2_status st = S2_OK;
    for (;;) {
        int32_t np = 0; /* the distinct unfinished nodes the live particles sit on, each with its multiplicity */
        for (int32_t i = 0; i < n; i++) {
            if (!alive[i] || part[i]->terminal || part[i]->seq < 0) continue;
            int32_t j = 0;
            while (j < np && par[j] != part[i]) j++;
            if (j == np) par[np] = part[i], ks[np++] = 0;
            ks[j]++;
        }
        if (np == 0) break;
        if (!s2_env_budget_left(env)) {
            st = S2_E_BUDGET;
            break;
        }
        int32_t got = s2_env_expand_many(env, par, ks, np, NULL, kids);
        if (got < 0) {
            if (got != S2_E_BUDGET) return (s2_status)got;
            st = S2_E_BUDGET;
            break;
        }
        int32_t total = 0; /* kids has one slot per extended particle */
        for (int32_t j = 0; j < np; j++) total += ks[j];
        s2_status sst = s2_env_score_many(env, kids, total);
        if (sst != S2_OK && sst != S2_E_BUDGET) return sst;
        /* each particle takes the next unused child of its node */
        int32_t *used = idx; /* scratch: children handed out per node */
        for (int32_t j = 0; j < np; j++) used[j] = 0;
        for (int32_t i = 0; i < n; i++) {
            if (!alive[i] || part[i]->terminal || part[i]->seq < 0) continue;
            int32_t j = 0, at = 0;
            while (par[j] != part[i]) at += ks[j++];
            s2_node *c = kids[at + used[j]++];
            if (c == NULL || !c->scored) { /* illegal, cut by the budget or not scored: no weight */
                alive[i] = false;
                continue;
            }
            part[i] = c;
            r[i] = c->score;
        }
        for (int32_t j = 0; j < np; j++) s2_env_release(env, par[j]);
        if (sst == S2_E_BUDGET) {
            st = S2_E_BUDGET;
            break;
        }
        double ess = s2_particle_weights(r, alive, n, p->temp, w);
        if (ess <= 0) break; /* every particle died */
        if (ess < p->ess * n) {
            if (p->resample == S2_RESAMPLE_SYSTEMATIC) u[0] = s2_rng_uniform(s2_env_rng(env));
            else
                for (int32_t j = 0; j < n; j++) u[j] = s2_rng_uniform(s2_env_rng(env));
            s2_particle_resample(w, n, p->resample, u, idx);
            for (int32_t j = 0; j < n; j++) next[j] = part[idx[j]], nr[j] = r[idx[j]], nalive[j] = alive[idx[j]];
            memcpy(part, next, (size_t)n * sizeof *part);
            memcpy(r, nr, (size_t)n * sizeof *r);
            memcpy(alive, nalive, (size_t)n * sizeof *alive);
        }
    }
    /* the weighted vote of the finished particles (weights of the last step's rewards) */
    s2_particle_weights(r, alive, n, p->temp, w);
    for (int32_t i = 0; i < n; i++) ans[i] = alive[i] && part[i]->terminal ? s2_env_answer(env, part[i]) : NULL;
    /* every distinct finished state is a sample, in creation order (resampling copies a particle, not a draw) */
    for (int32_t last = -1;;) {
        int32_t id = -1; /* the next finished particle's node after last */
        for (int32_t i = 0; i < n; i++)
            if (alive[i] && part[i]->terminal && part[i]->id > last && (id < 0 || part[i]->id < id)) id = part[i]->id;
        if (id < 0) break;
        s2_status sst = s2_result_add_sample(env, out, s2_env_node(env, id));
        if (sst != S2_OK) return sst;
        last = id;
    }
    int32_t win = s2_vote(ans, w, n, S2_TIE_EARLIEST, &out->votes);
    if (win >= 0) out->best = part[win];
    else { /* nothing finished: the heaviest particle */
        int32_t b = -1;
        for (int32_t i = 0; i < n; i++)
            if (alive[i] && (b < 0 || w[i] > w[b])) b = i;
        if (b >= 0) out->best = part[b];
    }
    return st;
}

static const struct s2_strategy_i particle_iface = {.name = "particle", .run = particle_run};

s2_status s2_strategy_particle_init(const s2_particle_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_particle_params p = params ? *params
                                  : (s2_particle_params){.n = 16, .resample = S2_RESAMPLE_MULTINOMIAL, .temp = 1.0, .ess = 1.0};
    if (p.n < 1 || !(p.temp > 0) || p.ess < 0 || p.ess > 1)
        return s2_error_set(err, S2_E_ARG, "particle: n=%d >= 1, temp=%g > 0 and ess=%g in [0, 1] required", p.n, p.temp,
                            p.ess);
    s2_particle_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "particle: out of memory");
    *ctx = p;
    return s2_strategy_new(&particle_iface, ctx, out, err);
}
