/* beam.c: beam search, at the level of steps or of tokens.
 *
 * Step level (Xie et al. 2023, Snell et al. 2024): each of `width` beams is expanded into `expand` sampled steps
 * (all decoded together), every new state is scored, and the best `width` states among the new ones and the
 * finished beams are kept. Beams whose children were generated are released (their steps live on in the
 * children's shared prefix); states not kept are pruned.
 *
 * Token level: each beam proposes its `expand` most likely next tokens (top_k); a candidate's score is its path
 * log-prob divided by GNMT's length penalty ((5 + len) / 6)^alpha (Wu et al. 2016); the best `width` survive.
 * The scorer is not consulted: this is decoding, not search over judged states. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

/* Sorts nodes best first (score, then lower id). */
static int cmp_nodes(const void *a, const void *b) {
    const s2_node *x = *(s2_node *const *)a, *y = *(s2_node *const *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static s2_node *best_finished(s2_node **beams, int32_t n) {
    s2_node *best = NULL;
    for (int32_t i = 0; i < n; i++)
        if (beams[i]->terminal && (best == NULL || cmp_nodes(&beams[i], &best) < 0)) best = beams[i];
    return best ? best : n > 0 ? beams[0] : NULL;
}

static s2_status beam_step_run(const s2_beam_params *p, s2_env *env, s2_result *out) {
    int32_t W = p->width, E = p->expand;
    s2_node **beams = s2_env_alloc(env, (size_t)W * sizeof *beams);
    s2_node **par = s2_env_alloc(env, (size_t)W * sizeof *par);
    int32_t *ks = s2_env_alloc(env, (size_t)W * sizeof *ks);
    s2_node **kids = s2_env_alloc(env, (size_t)W * E * sizeof *kids);
    s2_node **cand = s2_env_alloc(env, (size_t)(W * E + W) * sizeof *cand);
    if (!beams || !par || !ks || !kids || !cand) return S2_E_NOMEM;
    int32_t nb = 1;
    beams[0] = s2_env_root(env);
    s2_status st = S2_OK;
    for (;;) {
        out->best = best_finished(beams, nb);
        int32_t np = 0, nc = 0;
        for (int32_t i = 0; i < nb; i++)
            if (!beams[i]->terminal) {
                par[np] = beams[i];
                ks[np++] = E;
            } else {
                cand[nc++] = beams[i];
            }
        if (np == 0) break;
        if (!s2_env_budget_left(env)) return S2_E_BUDGET;
        int32_t got = s2_env_expand_many(env, par, ks, np, NULL, kids);
        if (got < 0) return (s2_status)got;
        if ((st = s2_env_score_many(env, kids, np * E)) != S2_OK) return st; /* the level's states together */
        for (int32_t j = 0; j < np * E; j++)
            if (kids[j] != NULL) cand[nc++] = kids[j];
        for (int32_t i = 0; i < np; i++) s2_env_release(env, par[i]);
        if (nc == 0) break;
        qsort(cand, (size_t)nc, sizeof *cand, cmp_nodes);
        nb = nc < W ? nc : W;
        for (int32_t i = 0; i < nb; i++) beams[i] = cand[i];
        for (int32_t i = nb; i < nc; i++) s2_env_prune(env, cand[i], S2_PRUNE_LOW_SCORE);
        out->best = best_finished(beams, nb);
    }
    return st;
}

typedef struct tok_cand {
    s2_node *beam;
    s2_lm_top top;
    double score;
} tok_cand;

static int cmp_cand(const void *a, const void *b) {
    const tok_cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->beam->id != y->beam->id) return (x->beam->id > y->beam->id) - (x->beam->id < y->beam->id);
    return (x->top.id > y->top.id) - (x->top.id < y->top.id);
}

static double length_norm(double lp, int32_t len, double alpha) { return lp / pow((5.0 + len) / 6.0, alpha); }

static s2_status beam_token_run(const s2_beam_params *p, s2_env *env, s2_result *out) {
    int32_t W = p->width, E = p->expand;
    s2_node **beams = s2_env_alloc(env, (size_t)W * sizeof *beams);
    s2_node **next = s2_env_alloc(env, (size_t)W * sizeof *next);
    tok_cand *cand = s2_env_alloc(env, (size_t)(W * E + W) * sizeof *cand);
    s2_lm_top *top = s2_env_alloc(env, (size_t)E * sizeof *top);
    if (!beams || !next || !cand || !top) return S2_E_NOMEM;
    const s2_env_params *ep = s2_env_params_of(env);
    int32_t nb = 1;
    beams[0] = s2_env_root(env);
    s2_error err = {0};
    for (;;) {
        for (int32_t i = 0; i < nb; i++) beams[i]->score = length_norm(beams[i]->path_logprob, beams[i]->path_tokens, p->alpha);
        out->best = best_finished(beams, nb);
        int32_t nc = 0, live = 0;
        for (int32_t i = 0; i < nb; i++) {
            if (beams[i]->terminal) {
                cand[nc++] = (tok_cand){.beam = beams[i], .top = {.id = -1}, .score = beams[i]->score};
                continue;
            }
            live++;
        }
        if (live == 0) break;
        if (!s2_env_budget_left(env)) return S2_E_BUDGET;
        for (int32_t i = 0; i < nb; i++) {
            if (beams[i]->terminal) continue;
            int32_t m = s2_lm_top_k(ep->lm, beams[i]->seq, E, top, &err);
            if (m < 0) return (s2_status)m;
            for (int32_t j = 0; j < m; j++) {
                /* end-of-text tokens ("</s>", "<|im_end|>") are not text to append: they end the beam ("") */
                size_t pl = strlen(top[j].piece);
                if (pl == 0 || (pl > 2 && top[j].piece[0] == '<' && top[j].piece[pl - 1] == '>')) top[j].piece[0] = '\0';
                cand[nc++] = (tok_cand){.beam = beams[i], .top = top[j],
                                        .score = length_norm(beams[i]->path_logprob + top[j].logprob,
                                                             beams[i]->path_tokens + 1, p->alpha)};
            }
        }
        qsort(cand, (size_t)nc, sizeof *cand, cmp_cand);
        int32_t nn = 0, room = s2_env_afford(env, W, 1), added = 0; /* fewer beams where the budget ends */
        for (int32_t j = 0; j < nc && nn < W; j++) {
            if (cand[j].top.id < 0) { /* a finished beam stays */
                next[nn++] = cand[j].beam;
                continue;
            }
            if (added >= room && added > 0) continue;
            added++;
            s2_status st = S2_OK;
            s2_node *c = s2_env_add_child(env, cand[j].beam, cand[j].top.piece, cand[j].top.logprob, 1, p->max_tokens, &st);
            if (c == NULL && st != S2_OK) return st;
            if (c != NULL) next[nn++] = c;
        }
        for (int32_t i = 0; i < nb; i++) s2_env_release(env, beams[i]);
        if (nn == 0) break;
        for (int32_t i = 0; i < nn; i++) beams[i] = next[i];
        nb = nn;
    }
    for (int32_t i = 0; i < nb; i++) beams[i]->scored = true;
    out->best = best_finished(beams, nb);
    return S2_OK;
}

static s2_status beam_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_beam_params *p = s->ctx;
    return p->mode == S2_BEAM_TOKEN ? beam_token_run(p, env, out) : beam_step_run(p, env, out);
}

static const struct s2_strategy_i beam_iface = {.name = "beam", .run = beam_run};

s2_status s2_strategy_beam_init(const s2_beam_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_beam_params p = params ? *params : (s2_beam_params){.width = 4, .expand = 4, .max_tokens = 256, .alpha = 0.6};
    if (p.width < 1 || p.expand < 1) return s2_error_set(err, S2_E_ARG, "beam: width=%d, expand=%d must be >= 1", p.width, p.expand);
    if (p.mode != S2_BEAM_STEP && p.mode != S2_BEAM_TOKEN) return s2_error_set(err, S2_E_ARG, "beam: mode %d unknown", p.mode);
    s2_beam_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "beam: out of memory");
    *ctx = p;
    return s2_strategy_new(&beam_iface, ctx, out, err);
}
