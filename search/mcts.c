/* mcts.c: Monte Carlo tree search with PUCT (Silver et al. 2017; MuZero's c = 1.25), priors from system 1's
 * log-probs, and progressive widening (Couetoux et al. 2011).
 *
 * One iteration: from the root, descend by PUCT  Q(c) + c_puct * P(c) * sqrt(N(parent)) / (1 + N(c))  while the
 * node is expanded and widening allows no new child; expand (first `expand` children, then one more each time
 * ceil(pw_c * N^pw_alpha) exceeds the count), take the new child with the highest prior as the leaf, evaluate it
 * (the scorer's judgement, or the score of a sampled rollout to a final state), and back the value up the path:
 * every node on it gets one visit, so the root's visits equal the iterations. P is the softmax of each child's
 * per-token log-prob / prior_temp over its siblings. The answer is the most visited path's final state, the
 * final state of best mean value, or a vote over every final state of the tree weighted by visits.
 *
 * root=gumbel (Gumbel MuZero, Danihelka et al. 2022): the root is expanded into m sampled actions, each gets
 * Gumbel noise g plus its log prior, and sequential halving spends the iterations on them: ceil(log2 m) phases,
 * each giving every remaining action floor(n / (phases * remaining)) simulations (from that action down, by
 * PUCT) and keeping the better half by g + logit + (c_visit + max N) * c_scale * Q. The answer descends from the
 * last one standing (answer=visits), as the paper acts with the halving's winner. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

static bool in_tree(const s2_node *c) { return !c->pruned; }

static void set_priors(s2_node *node, double temp) {
    double m = -INFINITY, z = 0;
    for (int32_t i = 0; i < node->n_children; i++) {
        s2_node *c = node->children[i];
        if (!in_tree(c)) continue;
        double x = (c->step_tokens > 0 ? c->step_logprob / c->step_tokens : 0) / temp;
        if (x > m) m = x;
    }
    for (int32_t i = 0; i < node->n_children; i++) {
        s2_node *c = node->children[i];
        if (!in_tree(c)) continue;
        c->prior = exp((c->step_tokens > 0 ? c->step_logprob / c->step_tokens : 0) / temp - m);
        z += c->prior;
    }
    for (int32_t i = 0; i < node->n_children; i++)
        if (in_tree(node->children[i])) node->children[i]->prior /= z;
}

static int32_t n_tree_children(const s2_node *node) {
    int32_t n = 0;
    for (int32_t i = 0; i < node->n_children; i++) n += in_tree(node->children[i]);
    return n;
}

static double q_of(const s2_node *c) { return c->visits > 0 ? c->value_sum / c->visits : 0; }

static s2_node *select_child(const s2_mcts_params *p, const s2_node *node) {
    s2_node *best = NULL;
    double best_u = -INFINITY, sq = sqrt((double)node->visits);
    for (int32_t i = 0; i < node->n_children; i++) {
        s2_node *c = node->children[i];
        if (!in_tree(c)) continue;
        double u = q_of(c) + p->c_puct * c->prior * sq / (1.0 + c->visits);
        if (u > best_u) { /* strict: the earlier child (lower id) wins ties */
            best_u = u;
            best = c;
        }
    }
    return best;
}

/* One iteration, descending from start (the root, or a root action under Gumbel's halving); the value is backed
 * up to the root. */
static s2_status iterate(const s2_mcts_params *p, s2_env *env, s2_node *start) {
    s2_node *node = start, *leaf = NULL;
    s2_node **kids = s2_env_alloc(env, (size_t)p->expand * sizeof *kids);
    if (kids == NULL) return S2_E_NOMEM;
    while (leaf == NULL) {
        if (node->terminal || node->seq < 0) {
            leaf = node;
            break;
        }
        int32_t have = n_tree_children(node);
        int32_t allowed = (int32_t)ceil(p->pw_c * pow((double)node->visits, p->pw_alpha));
        if (have == 0 || (p->pw_c > 0 && have < allowed)) {
            int32_t want = have == 0 ? p->expand : 1;
            int32_t n = s2_env_expand(env, node, want, kids);
            if (n < 0) return (s2_status)n;
            if (n == 0) {
                if (have == 0) {
                    leaf = node;
                    break;
                }
            } else {
                set_priors(node, p->prior_temp);
                leaf = kids[0];
                for (int32_t i = 1; i < n; i++)
                    if (kids[i]->prior > leaf->prior) leaf = kids[i];
                break;
            }
        }
        node = select_child(p, node);
        if (node == NULL) return S2_E_ARG; /* unreachable: have > 0 here */
    }
    double v = 0;
    s2_status st = S2_OK;
    if (p->eval == S2_MCTS_EVAL_ROLLOUT && !leaf->terminal) {
        s2_node *end = leaf;
        st = s2_env_rollout(env, &end, 1, s2_env_params_of(env)->temperature, true);
        if (st != S2_OK && st != S2_E_BUDGET) return st;
        for (s2_node *x = end; x != leaf; x = x->parent) { /* rollout steps stay out of the tree */
            x->pruned = true;
            x->prune = S2_PRUNE_ROLLOUT;
        }
        if (end != leaf) s2_env_release(env, end);
        s2_status st2 = s2_env_score(env, end);
        if (st2 != S2_OK) return st2;
        v = end->score;
    } else {
        if (!leaf->scored && (st = s2_env_score(env, leaf)) != S2_OK) return st;
        v = leaf->score;
    }
    for (s2_node *x = leaf; x != NULL; x = x->parent) {
        x->visits++;
        x->value_sum += v;
    }
    return st;
}

static int cmp_value(const s2_node *x, const s2_node *y) { /* < 0 when x is better */
    double a = q_of(x), b = q_of(y);
    if (a != b) return a > b ? -1 : 1;
    if (x->visits != y->visits) return x->visits > y->visits ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static s2_node *answer(const s2_mcts_params *p, s2_env *env, s2_node *chosen, double *votes) {
    int32_t n = s2_env_n_nodes(env);
    s2_node *best_val = NULL;
    for (int32_t i = 0; i < n; i++) {
        s2_node *x = s2_env_node(env, i);
        if (x->terminal && in_tree(x) && x->visits > 0 && (best_val == NULL || cmp_value(x, best_val) < 0)) best_val = x;
    }
    if (p->answer == S2_MCTS_ANSWER_VISITS) {
        s2_node *x = s2_env_root(env);
        if (p->root == S2_MCTS_ROOT_GUMBEL && chosen != NULL) x = chosen; /* halving's winner, not the most visited */
        while (x->n_children > 0) {
            s2_node *b = NULL;
            for (int32_t i = 0; i < x->n_children; i++) {
                s2_node *c = x->children[i];
                if (in_tree(c) && c->visits > 0 && (b == NULL || c->visits > b->visits)) b = c;
            }
            if (b == NULL) break;
            x = b;
        }
        if (x->terminal) return x;
        return best_val ? best_val : x;
    }
    if (p->answer == S2_MCTS_ANSWER_VOTE) {
        const char **ans = s2_env_alloc(env, (size_t)n * sizeof *ans);
        double *w = s2_env_alloc(env, (size_t)n * sizeof *w);
        s2_node **who = s2_env_alloc(env, (size_t)n * sizeof *who);
        if (ans && w && who) {
            int32_t m = 0;
            for (int32_t i = 0; i < n; i++) {
                s2_node *x = s2_env_node(env, i);
                if (!x->terminal || !in_tree(x) || x->visits == 0) continue;
                ans[m] = s2_env_answer(env, x);
                w[m] = x->visits;
                who[m++] = x;
            }
            int32_t win = s2_vote(ans, w, m, S2_TIE_EARLIEST, votes);
            if (win >= 0) return who[win];
        }
    }
    return best_val;
}

int32_t s2_gumbel_schedule(int32_t n, int32_t m, int32_t *visits, int32_t *remain) {
    int32_t phases = 1;
    while (phases < 31 && (1 << phases) < m) phases++;
    for (int32_t i = 0, r = m > 1 ? m : 1; i < phases; i++, r = (r + 1) / 2) {
        remain[i] = r;
        visits[i] = n / (phases * r) > 1 ? n / (phases * r) : 1;
    }
    return phases;
}

typedef struct gumbel_arm {
    s2_node *node;
    double g_logit; /* Gumbel noise + log prior */
} gumbel_arm;

/* Halving's ranking: g + logit + sigma(q), sigma(q) = (c_visit + max visits) * c_scale * q (Danihelka et al.). */
static double arm_key(const s2_mcts_params *p, const gumbel_arm *a, int32_t max_visits) {
    return a->g_logit + (p->c_visit + max_visits) * p->c_scale * q_of(a->node);
}

/* Gumbel root (Danihelka et al. 2022): the root's m sampled actions, ranked by Gumbel-top-k on their log priors,
 * then sequential halving of the iterations over them; below the root, PUCT as usual. *chosen gets the winner. */
static s2_status gumbel_run(const s2_mcts_params *p, s2_env *env, s2_node **chosen) {
    s2_node *root = s2_env_root(env);
    *chosen = NULL;
    if (root->terminal) return S2_OK;
    if (!s2_env_budget_left(env)) return S2_E_BUDGET;
    s2_node **kids = s2_env_alloc(env, (size_t)p->m * sizeof *kids);
    gumbel_arm *arm = s2_env_alloc(env, (size_t)p->m * sizeof *arm);
    if (kids == NULL || arm == NULL) return S2_E_NOMEM;
    int32_t n = s2_env_expand(env, root, p->m, kids);
    if (n <= 0) return n < 0 ? (s2_status)n : S2_OK;
    set_priors(root, p->prior_temp);
    for (int32_t i = 0; i < n; i++) {
        double u = s2_rng_uniform(s2_env_rng(env));
        if (u <= 0) u = 1e-300;
        arm[i] = (gumbel_arm){.node = kids[i], .g_logit = -log(-log(u)) + log(kids[i]->prior > 0 ? kids[i]->prior : 1e-300)};
    }
    int32_t visits[32], remain[32], phases = s2_gumbel_schedule(p->iters, n, visits, remain);
    s2_status st = S2_OK;
    for (int32_t ph = 0; ph < phases && st == S2_OK; ph++) {
        int32_t maxv = 0;
        for (int32_t i = 0; i < n; i++) maxv = arm[i].node->visits > maxv ? arm[i].node->visits : maxv;
        for (int32_t a = 0; a < remain[ph]; a++) { /* the arms still in, best first */
            int32_t b = a;
            for (int32_t c = a + 1; c < n; c++)
                if (arm_key(p, &arm[c], maxv) > arm_key(p, &arm[b], maxv)) b = c;
            gumbel_arm t = arm[a];
            arm[a] = arm[b];
            arm[b] = t;
        }
        for (int32_t a = 0; a < remain[ph] && st == S2_OK; a++)
            for (int32_t v = 0; v < visits[ph] && st == S2_OK; v++) {
                if (!s2_env_budget_left(env)) st = S2_E_BUDGET;
                else st = iterate(p, env, arm[a].node);
            }
        if (st != S2_OK && st != S2_E_BUDGET) return st;
        /* rank this phase's arms for the next (the best ceil(half) go on) */
        maxv = 0;
        for (int32_t i = 0; i < n; i++) maxv = arm[i].node->visits > maxv ? arm[i].node->visits : maxv;
        for (int32_t a = 0; a < remain[ph]; a++) {
            int32_t b = a;
            for (int32_t c = a + 1; c < remain[ph]; c++)
                if (arm_key(p, &arm[c], maxv) > arm_key(p, &arm[b], maxv)) b = c;
            gumbel_arm t = arm[a];
            arm[a] = arm[b];
            arm[b] = t;
        }
    }
    *chosen = arm[0].node;
    return st;
}

static s2_status mcts_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_mcts_params *p = s->ctx;
    s2_status st = S2_OK;
    if (p->root == S2_MCTS_ROOT_GUMBEL) {
        s2_node *chosen = NULL;
        st = gumbel_run(p, env, &chosen);
        if (st != S2_OK && st != S2_E_BUDGET) return st;
        out->best = answer(p, env, chosen, &out->votes);
        return st;
    }
    for (int32_t it = 0; it < p->iters; it++) {
        if (!s2_env_budget_left(env)) {
            st = S2_E_BUDGET;
            break;
        }
        int32_t before = s2_env_root(env)->visits;
        st = iterate(p, env, s2_env_root(env));
        if (st != S2_OK && st != S2_E_BUDGET) return st;
        if (s2_env_root(env)->visits == before) break; /* nothing left to search */
        if (st == S2_E_BUDGET) break;
        if (s2_env_root(env)->terminal) break;
    }
    out->best = answer(p, env, NULL, &out->votes);
    return st;
}

static const struct s2_strategy_i mcts_iface = {.name = "mcts", .run = mcts_run};

s2_status s2_strategy_mcts_init(const s2_mcts_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_mcts_params p = params ? *params
                              : (s2_mcts_params){.iters = 32, .expand = 4, .c_puct = 1.25, .pw_c = 1.0, .pw_alpha = 0.5,
                                                 .prior_temp = 1.0, .m = 16, .c_visit = 50, .c_scale = 1.0};
    if (p.iters < 1 || p.expand < 1 || p.m < 1 || !(p.prior_temp > 0) || p.c_puct < 0)
        return s2_error_set(err, S2_E_ARG, "mcts: iters=%d, expand=%d must be >= 1, prior_temp > 0, c_puct >= 0", p.iters,
                            p.expand);
    s2_mcts_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "mcts: out of memory");
    *ctx = p;
    return s2_strategy_new(&mcts_iface, ctx, out, err);
}
