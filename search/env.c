/* env.c: the search environment: the node arena, expansion through system 1, scoring, the budget, and the
 * strategy wrappers. A strategy sees only this. Nothing here prints; counting is left to system 1's counters
 * (read and differenced, never incremented here). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

/* ---- budget ---- */

s2_status s2_budget_parse(const char *s, s2_budget *out, s2_error *err) {
    out->kind = S2_BUDGET_NONE;
    out->limit = 0;
    if (s == NULL || strcmp(s, "none") == 0 || s[0] == '\0') return S2_OK;
    const char *eq = strchr(s, '=');
    if (eq == NULL) return s2_error_set(err, S2_E_ARG, "budget '%s': expected tokens=N, flops=F or calls=K", s);
    size_t kl = (size_t)(eq - s);
    s2_budget_kind kind = S2_BUDGET_NONE;
    if (kl == 6 && strncmp(s, "tokens", 6) == 0) kind = S2_BUDGET_TOKENS;
    else if (kl == 5 && strncmp(s, "flops", 5) == 0) kind = S2_BUDGET_FLOPS;
    else if (kl == 5 && strncmp(s, "calls", 5) == 0) kind = S2_BUDGET_CALLS;
    else return s2_error_set(err, S2_E_ARG, "budget '%s': the kind is tokens, flops or calls", s);
    char *end = NULL;
    double v = strtod(eq + 1, &end);
    if (eq[1] == '\0' || *end != '\0' || !(v > 0) || !isfinite(v))
        return s2_error_set(err, S2_E_ARG, "budget '%s': the limit must be a positive number", s);
    out->kind = kind;
    out->limit = v;
    return S2_OK;
}

double s2_budget_measure(s2_budget_kind kind, const s2_counters *c) {
    switch (kind) {
    case S2_BUDGET_TOKENS: return (double)(c->prompt_tokens + c->gen_tokens + c->scored_tokens);
    case S2_BUDGET_FLOPS: return c->flops;
    case S2_BUDGET_CALLS: return (double)c->requests;
    default: return 0;
    }
}

void s2_budget_format(const s2_budget *b, char *buf, size_t cap) {
    static const char *names[] = {"none", "tokens", "flops", "calls"};
    if (b->kind == S2_BUDGET_NONE) snprintf(buf, cap, "none");
    else snprintf(buf, cap, "%s=%.15g", names[b->kind], b->limit);
}

/* ---- the arena: chunks of bump-allocated, zeroed memory ---- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[]; /* aligned for anything */
} chunk;

struct s2_env {
    s2_env_params p;
    chunk *chunks;
    s2_node **nodes;
    int32_t n_nodes, cap_nodes;
    char *prompt;
    s2_counters base, vbase;
    s2_rng rng;
    s2_tree_stats stats;
    s2_error err;
};

void *s2_env_alloc(s2_env *env, size_t bytes) {
    bytes = (bytes + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    chunk *c = env->chunks;
    if (c == NULL || c->cap - c->used < bytes) {
        size_t cap = bytes > 65536 ? bytes : 65536;
        c = malloc(sizeof *c + cap);
        if (c == NULL) return NULL;
        c->next = env->chunks;
        c->used = 0;
        c->cap = cap;
        env->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += bytes;
    memset(p, 0, bytes);
    return p;
}

static char *arena_strcat(s2_env *env, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = s2_env_alloc(env, la + lb + 1);
    if (s == NULL) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* ---- parameters ---- */

s2_env_params s2_env_default_params(void) {
    s2_env_params p = {0};
    p.temperature = 0.7;
    p.top_p = 1.0;
    p.max_step_tokens = 96;
    p.max_depth = 12;
    p.agg = S2_AGG_LAST;
    p.max_nodes = 100000;
    p.legal = 1;
    return p;
}

static const s2_param_def env_defs[] = {
    {"temperature", S2_PARAM_FLOAT, offsetof(s2_env_params, temperature), 0.7, 0, 10, NULL,
     "sampling temperature of expansions (0.7: ToT's GPT-4 sampling, Wang et al.'s self-consistency)"},
    {"top_p", S2_PARAM_FLOAT, offsetof(s2_env_params, top_p), 1.0, 0, 1, NULL, "nucleus sampling; 1 = off"},
    {"max_step_tokens", S2_PARAM_INT, offsetof(s2_env_params, max_step_tokens), 96, 1, 1e6, NULL,
     "tokens per step at most"},
    {"max_depth", S2_PARAM_INT, offsetof(s2_env_params, max_depth), 12, 1, 10000, NULL,
     "steps per path at most; deeper states are terminal"},
    {"agg", S2_PARAM_ENUM, offsetof(s2_env_params, agg), S2_AGG_LAST, 0, 0, S2_AGG_CHOICES,
     "how step scores combine along a path (min, product: PRM aggregation, Lightman et al. 2023)"},
    {"max_nodes", S2_PARAM_INT, offsetof(s2_env_params, max_nodes), 100000, 2, 1e8, NULL,
     "nodes per item at most (a memory guard)"},
    {"legal", S2_PARAM_INT, offsetof(s2_env_params, legal), 1, 0, 1, NULL,
     "1: expansions that break the task's rules (a step's arithmetic and bookkeeping, as a game's legal moves) are "
     "dropped; 0: kept for the scorer to judge"},
};

const s2_param_def *s2_env_param_defs(int32_t *n) {
    *n = (int32_t)(sizeof env_defs / sizeof env_defs[0]);
    return env_defs;
}

/* ---- nodes ---- */

static s2_node *node_new(s2_env *env, s2_node *parent) {
    if (env->n_nodes >= env->p.max_nodes) return NULL;
    if (env->n_nodes == env->cap_nodes) {
        int32_t cap = env->cap_nodes ? 2 * env->cap_nodes : 256;
        s2_node **nn = realloc(env->nodes, (size_t)cap * sizeof *nn);
        if (nn == NULL) return NULL;
        env->nodes = nn;
        env->cap_nodes = cap;
    }
    s2_node *n = s2_env_alloc(env, sizeof *n);
    if (n == NULL) return NULL;
    n->parent = parent;
    n->id = env->n_nodes;
    n->depth = parent ? parent->depth + 1 : 0;
    n->seq = -1;
    n->step = "";
    n->text = "";
    n->finish = "";
    env->nodes[env->n_nodes++] = n;
    env->stats.nodes++;
    if (n->depth > env->stats.max_depth) env->stats.max_depth = n->depth;
    if (parent != NULL) {
        if (parent->n_children == parent->cap_children) {
            int32_t cap = parent->cap_children ? 2 * parent->cap_children : 4;
            s2_node **kids = s2_env_alloc(env, (size_t)cap * sizeof *kids);
            if (kids == NULL) return NULL;
            if (parent->n_children) memcpy(kids, parent->children, (size_t)parent->n_children * sizeof *kids);
            parent->children = kids; /* the old array stays in the arena until the item ends */
            parent->cap_children = cap;
        }
        parent->children[parent->n_children++] = n;
    }
    return n;
}

/* ---- environment ---- */

s2_status s2_env_init(const s2_env_params *p, s2_env **out, s2_error *err) {
    *out = NULL;
    if (p == NULL || p->lm == NULL || p->task == NULL) return s2_error_set(err, S2_E_ARG, "env: lm and task are required");
    if (p->item < 0 || p->item >= s2_task_n_items(p->task))
        return s2_error_set(err, S2_E_ARG, "env: item %d not in [0, %d)", p->item, s2_task_n_items(p->task));
    if (p->max_step_tokens < 1 || p->max_depth < 1 || p->max_nodes < 2)
        return s2_error_set(err, S2_E_ARG, "env: max_step_tokens, max_depth and max_nodes must be positive");
    s2_env *env = calloc(1, sizeof *env);
    if (env == NULL) return s2_error_set(err, S2_E_NOMEM, "env: out of memory");
    env->p = *p;
    s2_rng_seed(&env->rng, p->seed);
    s2_lm_counters(p->lm, &env->base);
    if (p->value_lm) s2_lm_counters(p->value_lm, &env->vbase);
    env->prompt = s2_task_prompt(p->task, p->item);
    s2_node *root = env->prompt ? node_new(env, NULL) : NULL;
    s2_status st = root ? S2_OK : s2_error_set(err, S2_E_NOMEM, "env: out of memory");
    if (st == S2_OK) st = s2_lm_seq_new(p->lm, env->prompt, &root->seq, err);
    if (st == S2_OK) root->terminal = s2_task_is_terminal(p->task, p->item, "");
    if (st != S2_OK) {
        s2_env_free(env);
        return st;
    }
    *out = env;
    return S2_OK;
}

void s2_env_free(s2_env *env) {
    if (env == NULL) return;
    for (int32_t i = 0; i < env->n_nodes; i++)
        if (env->nodes[i]->seq >= 0) s2_lm_seq_free(env->p.lm, env->nodes[i]->seq);
    free(env->nodes);
    free(env->prompt);
    for (chunk *c = env->chunks, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(env);
}

s2_node *s2_env_root(s2_env *env) { return env->nodes[0]; }
const s2_env_params *s2_env_params_of(const s2_env *env) { return &env->p; }
const char *s2_env_prompt(const s2_env *env) { return env->prompt; }
s2_rng *s2_env_rng(s2_env *env) { return &env->rng; }
const s2_error *s2_env_error(const s2_env *env) { return &env->err; }
int32_t s2_env_n_nodes(const s2_env *env) { return env->n_nodes; }
s2_node *s2_env_node(s2_env *env, int32_t id) { return id >= 0 && id < env->n_nodes ? env->nodes[id] : NULL; }

void s2_env_counters(const s2_env *env, s2_counters *policy, s2_counters *value) {
    s2_counters now;
    if (policy) {
        s2_lm_counters(env->p.lm, &now);
        s2_counters_sub(policy, &now, &env->base);
    }
    if (value) {
        memset(value, 0, sizeof *value);
        if (env->p.value_lm) {
            s2_lm_counters(env->p.value_lm, &now);
            s2_counters_sub(value, &now, &env->vbase);
        }
    }
}

double s2_env_budget_used(const s2_env *env) {
    if (env->p.budget.kind == S2_BUDGET_NONE) return 0;
    s2_counters a, b;
    s2_env_counters(env, &a, &b);
    return s2_budget_measure(env->p.budget.kind, &a) + s2_budget_measure(env->p.budget.kind, &b);
}

bool s2_env_budget_left(const s2_env *env) {
    return env->p.budget.kind == S2_BUDGET_NONE || s2_env_budget_used(env) < env->p.budget.limit;
}

void s2_env_tree_stats(const s2_env *env, s2_tree_stats *out) {
    *out = env->stats;
    out->terminal = out->pruned = 0;
    for (int32_t i = 0; i < env->n_nodes; i++) {
        out->terminal += env->nodes[i]->terminal;
        out->pruned += env->nodes[i]->pruned;
    }
}

void s2_env_release(s2_env *env, s2_node *node) {
    if (node == NULL || node->parent == NULL || node->seq < 0) return;
    s2_lm_seq_free(env->p.lm, node->seq);
    node->seq = -1;
}

const char *s2_prune_name(s2_prune p) {
    static const char *names[] = {"", "duplicate", "illegal", "low_score", "budget", "extra", "rollout"};
    return (int)p >= 0 && (size_t)p < sizeof names / sizeof *names ? names[p] : "?";
}

void s2_env_prune(s2_env *env, s2_node *node, s2_prune why) {
    if (node == NULL || node->parent == NULL) return;
    node->pruned = true;
    node->prune = why;
    s2_env_release(env, node);
}

/* The item's tokens so far (policy and value model), whatever the budget's kind: what s2_node.spent holds. */
static double tokens_spent(const s2_env *env) {
    s2_counters pc, vc;
    s2_env_counters(env, &pc, &vc);
    return s2_budget_measure(S2_BUDGET_TOKENS, &pc) + s2_budget_measure(S2_BUDGET_TOKENS, &vc);
}

/* ---- samples ---- */

s2_status s2_result_add_sample(s2_env *env, s2_result *out, s2_node *leaf) {
    if (out->n_samples == out->cap_samples) { /* the arena has no realloc: a twice larger copy, the old one stays */
        int32_t cap = out->cap_samples ? 2 * out->cap_samples : 16;
        s2_answer_sample *a = s2_env_alloc(env, (size_t)cap * sizeof *a);
        if (a == NULL) return s2_error_set(&env->err, S2_E_NOMEM, "samples: out of memory");
        if (out->n_samples) memcpy(a, out->samples, (size_t)out->n_samples * sizeof *a);
        out->samples = a;
        out->cap_samples = cap;
    }
    s2_answer_sample *x = &out->samples[out->n_samples++];
    x->leaf = leaf;
    x->answer = s2_env_answer(env, leaf);
    x->tokens = leaf->spent;
    return S2_OK;
}

/* ---- expansion ---- */

int32_t s2_env_expand_many(s2_env *env, s2_node *const *parents, const int32_t *k, int32_t n,
                           const s2_expand_opts *opts, s2_node **out) {
    const s2_env_params *p = &env->p;
    s2_expand_opts o = opts ? *opts : (s2_expand_opts){.temperature = -1};
    int32_t total = 0, live = 0;
    for (int32_t i = 0; i < n; i++) {
        if (k[i] < 0) return s2_error_set(&env->err, S2_E_ARG, "expand: k=%d", k[i]);
        total += k[i];
    }
    for (int32_t j = 0; j < total; j++) out[j] = NULL;
    if (total == 0) return 0;
    s2_lm_seq *seqs = malloc((size_t)total * sizeof *seqs);
    int32_t *from = malloc((size_t)total * sizeof *from); /* the slot of out[] each live fork fills */
    s2_lm_gen *gens = calloc((size_t)total, sizeof *gens);
    s2_status st = seqs && from && gens ? S2_OK : s2_error_set(&env->err, S2_E_NOMEM, "expand: out of memory");
    for (int32_t i = 0, slot = 0; st == S2_OK && i < n; slot += k[i], i++) {
        const s2_node *par = parents[i];
        if (par->terminal || par->seq < 0) continue; /* nothing grows from here: its slots stay NULL */
        for (int32_t c = 0; st == S2_OK && c < k[i]; c++) {
            st = s2_lm_fork(p->lm, par->seq, &seqs[live], &env->err);
            if (st == S2_OK) from[live++] = slot + c;
        }
    }
    int32_t made = 0;
    if (st == S2_OK && live > 0) {
        s2_lm_sample_params sp = s2_lm_sample_default_params();
        sp.sample.temperature = (float)(o.temperature >= 0 ? o.temperature : p->temperature);
        sp.sample.top_p = (float)p->top_p;
        sp.max_tokens = o.max_tokens > 0 ? o.max_tokens : o.full ? p->max_step_tokens * p->max_depth : p->max_step_tokens;
        const char *stops[1] = {p->task->iface->step_delim};
        sp.stops = o.full ? NULL : stops;
        sp.n_stops = o.full || stops[0] == NULL || stops[0][0] == '\0' ? 0 : 1;
        sp.seed = s2_rng_next(&env->rng);
        st = s2_lm_sample(p->lm, seqs, live, &sp, gens, &env->err);
        env->stats.sample_calls++;
        if (st == S2_E_BUDGET) { /* a sequence would pass the context: these parents can hold nothing more */
            for (int32_t i = 0; i < n; i++) parents[i]->terminal = true;
            for (int32_t j = 0; j < live; j++) s2_lm_seq_free(p->lm, seqs[j]);
            live = 0;
            st = S2_OK;
        }
        for (int32_t i = 0, slot = 0; st == S2_OK && i < n; slot += k[i], i++) {
            bool any = false;
            for (int32_t j = 0; j < live; j++) any = any || (from[j] >= slot && from[j] < slot + k[i]);
            env->stats.expansions += any;
        }
        double spent = tokens_spent(env);
        int32_t j = 0;
        for (; st == S2_OK && j < live; j++) {
            int32_t slot = from[j], i = 0;
            for (int32_t acc = 0; acc + k[i] <= slot; acc += k[i], i++) {}
            s2_node *par = parents[i], *c = node_new(env, par);
            if (c == NULL) {
                st = env->n_nodes >= p->max_nodes
                         ? s2_error_set(&env->err, S2_E_BUDGET, "expand: the node limit (%d) is reached", p->max_nodes)
                         : s2_error_set(&env->err, S2_E_NOMEM, "expand: out of memory");
                break;
            }
            const char *step = gens[j].text ? gens[j].text : "";
            c->step = arena_strcat(env, "", step);
            c->text = arena_strcat(env, par->text, step);
            if (c->step == NULL || c->text == NULL) {
                st = s2_error_set(&env->err, S2_E_NOMEM, "expand: out of memory");
                break;
            }
            c->seq = seqs[j];
            c->spent = spent;
            if (p->legal && !s2_task_legal(p->task, p->item, c->text)) {
                /* an illegal move: not a child (its node stays in the arena, pruned, for the tree statistics) */
                env->stats.illegal++;
                c->terminal = true;
                s2_env_prune(env, c, S2_PRUNE_ILLEGAL);
                out[slot] = NULL;
                continue;
            }
            c->step_logprob = gens[j].logprob;
            c->step_tokens = gens[j].n_tokens;
            c->path_logprob = par->path_logprob + gens[j].logprob;
            c->path_tokens = par->path_tokens + gens[j].n_tokens;
            c->finish = gens[j].finish ? gens[j].finish : "length";
            c->terminal = o.full || gens[j].n_tokens == 0 || strcmp(c->finish, "eos") == 0 ||
                          c->depth >= p->max_depth || s2_task_is_terminal(p->task, p->item, c->text);
            if (c->terminal) s2_env_release(env, c); /* no child will ever fork from it */
            out[slot] = c;
            made++;
        }
        for (; j < live; j++) s2_lm_seq_free(p->lm, seqs[j]); /* forks no node took */
    } else {
        for (int32_t j = 0; j < live; j++) s2_lm_seq_free(p->lm, seqs[j]);
    }
    for (int32_t j = 0; gens && j < total; j++) s2_lm_gen_free(&gens[j]);
    free(seqs);
    free(from);
    free(gens);
    return st == S2_OK ? made : (int32_t)st; /* statuses are negative */
}

s2_node *s2_env_add_child(s2_env *env, s2_node *parent, const char *text, double logprob, int32_t n_tokens,
                          int32_t max_tokens, s2_status *st) {
    const s2_env_params *p = &env->p;
    if (parent->seq < 0 || parent->terminal) {
        *st = s2_error_set(&env->err, S2_E_ARG, "add_child: node %d cannot grow", parent->id);
        return NULL;
    }
    s2_lm_seq seq = -1;
    *st = s2_lm_fork(p->lm, parent->seq, &seq, &env->err);
    if (*st == S2_OK) *st = s2_lm_append(p->lm, seq, text, &env->err);
    if (*st == S2_E_BUDGET) { /* the context is full: the parent can hold nothing more */
        parent->terminal = true;
        s2_lm_seq_free(p->lm, seq);
        return NULL;
    }
    if (*st != S2_OK) {
        if (seq >= 0) s2_lm_seq_free(p->lm, seq);
        return NULL;
    }
    s2_node *c = node_new(env, parent);
    if (c != NULL) {
        c->step = arena_strcat(env, "", text);
        c->text = arena_strcat(env, parent->text, text);
    }
    if (c == NULL || c->step == NULL || c->text == NULL) {
        s2_lm_seq_free(p->lm, seq);
        *st = env->n_nodes >= p->max_nodes
                  ? s2_error_set(&env->err, S2_E_BUDGET, "add_child: the node limit (%d) is reached", p->max_nodes)
                  : s2_error_set(&env->err, S2_E_NOMEM, "add_child: out of memory");
        if (c != NULL) c->terminal = true;
        return NULL;
    }
    c->seq = seq;
    c->spent = tokens_spent(env);
    c->step_logprob = logprob;
    c->step_tokens = n_tokens;
    c->path_logprob = parent->path_logprob + logprob;
    c->path_tokens = parent->path_tokens + n_tokens;
    c->finish = "stop";
    /* the task judges whole steps: mid-step ("...(left: 6 90)\n9") a partial line would read as a finished,
     * broken step, so it is asked only where the text ends with the step delimiter (issue 13) */
    const char *delim = p->task->iface->step_delim;
    size_t tl = strlen(c->text), dl = delim ? strlen(delim) : 0;
    bool boundary = dl == 0 || (tl >= dl && memcmp(c->text + tl - dl, delim, dl) == 0);
    c->terminal = text[0] == '\0' || (max_tokens > 0 && c->path_tokens >= max_tokens) ||
                  (boundary && s2_task_is_terminal(p->task, p->item, c->text));
    if (c->terminal) s2_env_release(env, c);
    return c;
}

int32_t s2_env_expand(s2_env *env, s2_node *parent, int32_t k, s2_node **children) {
    int32_t n = s2_env_expand_many(env, &parent, &k, 1, NULL, children);
    if (n <= 0) return n;
    int32_t m = 0; /* compact: the made children first, in order */
    for (int32_t j = 0; j < k; j++)
        if (children[j] != NULL) children[m++] = children[j];
    return m;
}

/* ---- scoring ---- */

void s2_env_score_in(s2_env *env, const s2_node *node, s2_score_in *in) {
    memset(in, 0, sizeof *in);
    in->lm = env->p.lm;
    in->value_lm = env->p.value_lm;
    in->task = env->p.task;
    in->item = env->p.item;
    in->prompt = env->prompt;
    in->text = node->text;
    in->step = node->step;
    in->seq = node->seq;
    in->path_logprob = node->path_logprob;
    in->path_tokens = node->path_tokens;
    in->step_logprob = node->step_logprob;
    in->step_tokens = node->step_tokens;
    in->depth = node->depth;
    in->terminal = node->terminal;
}

s2_status s2_env_score(s2_env *env, s2_node *node) {
    if (node->scored) return S2_OK;
    double v = 0;
    if (env->p.scorer == NULL) {
        v = node->path_tokens > 0 ? node->path_logprob / node->path_tokens : 0;
    } else {
        s2_score_in in;
        s2_env_score_in(env, node, &in);
        s2_status st = s2_scorer_score(env->p.scorer, &in, &v, &env->err);
        if (st != S2_OK) return st;
    }
    node->own_score = v;
    node->score = node->parent && node->parent->scored
                      ? s2_agg_step((s2_agg)env->p.agg, node->parent->score, v, node->depth)
                      : v;
    node->scored = true;
    env->stats.scored++;
    return S2_OK;
}

s2_status s2_env_compare(s2_env *env, s2_node *a, s2_node *b, double *p_a) {
    if (env->p.scorer == NULL || !s2_scorer_can_compare(env->p.scorer))
        return s2_error_set(&env->err, S2_E_UNSUPPORTED, "compare: the scorer cannot compare two candidates");
    s2_score_in ia, ib;
    s2_env_score_in(env, a, &ia);
    s2_env_score_in(env, b, &ib);
    return s2_scorer_compare(env->p.scorer, &ia, &ib, p_a, &env->err);
}

const char *s2_env_answer(s2_env *env, s2_node *node) {
    if (node == NULL) return NULL;
    char *a = env->p.task->iface->extract(env->p.task, env->p.item, node->text);
    if (a == NULL) return NULL;
    char *copy = arena_strcat(env, "", a);
    free(a);
    return copy;
}

/* ---- helpers for strategies ---- */

s2_status s2_env_rollout(s2_env *env, s2_node **leaves, int32_t n, double temperature) {
    s2_node **par = malloc((size_t)(n > 0 ? n : 1) * sizeof *par), **kids = malloc((size_t)(n > 0 ? n : 1) * sizeof *kids);
    int32_t *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx), *ones = malloc((size_t)(n > 0 ? n : 1) * sizeof *ones);
    s2_node **start = malloc((size_t)(n > 0 ? n : 1) * sizeof *start);
    bool *dead = calloc((size_t)(n > 0 ? n : 1), sizeof *dead); /* chains whose step was dropped at a start node */
    s2_status st = par && kids && idx && ones && start && dead ? S2_OK
                                                              : s2_error_set(&env->err, S2_E_NOMEM, "rollout: out of memory");
    for (int32_t i = 0; start && i < n; i++) start[i] = leaves[i];
    s2_expand_opts o = {.temperature = temperature};
    while (st == S2_OK) {
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++)
            if (!dead[i] && !leaves[i]->terminal && leaves[i]->seq >= 0) {
                par[m] = leaves[i];
                ones[m] = 1;
                idx[m++] = i;
            }
        if (m == 0) break;
        if (!s2_env_budget_left(env)) {
            st = S2_E_BUDGET;
            break;
        }
        int32_t got = s2_env_expand_many(env, par, ones, m, &o, kids);
        if (got < 0) {
            st = (s2_status)got;
            break;
        }
        for (int32_t j = 0; j < m; j++) {
            if (kids[j] == NULL) {
                /* no child: the context is full (expand marked the parent terminal) or the step broke the rules
                 * and was dropped. The chain ends there; a start node (the root, shared by every chain) is not
                 * made terminal for it, or one illegal first step would stop all later chains from the root */
                bool shared = par[j]->parent == NULL;
                for (int32_t q = 0; q < n && !shared; q++) shared = start[q] == par[j];
                if (shared) dead[idx[j]] = true;
                else leaves[idx[j]]->terminal = true;
                continue;
            }
            bool keep = par[j]->parent == NULL; /* the root and the start nodes stay: the caller's tree */
            for (int32_t q = 0; q < n && !keep; q++) keep = start[q] == par[j];
            for (int32_t q = 0; q < m && !keep; q++) keep = q != j && par[q] == par[j];
            if (!keep) s2_env_release(env, par[j]); /* a chain's inner step: its child holds the prefix */
            leaves[idx[j]] = kids[j];
        }
    }
    free(par);
    free(kids);
    free(idx);
    free(ones);
    free(start);
    free(dead);
    return st;
}

s2_node *s2_env_best(s2_node *const *nodes, int32_t n) {
    s2_node *best = NULL;
    for (int32_t i = 0; i < n; i++) {
        s2_node *x = nodes[i];
        if (x == NULL) continue;
        if (best == NULL) {
            best = x;
            continue;
        }
        if (x->scored != best->scored) {
            if (x->scored) best = x;
            continue;
        }
        if (x->score > best->score || (x->score == best->score && x->id < best->id)) best = x;
    }
    return best;
}

/* ---- strategy wrappers ---- */

s2_status s2_strategy_new(const struct s2_strategy_i *iface, void *ctx, s2_strategy **out, s2_error *err) {
    *out = NULL;
    S2_ASSERT(iface != NULL && iface->name != NULL && iface->run != NULL);
    s2_strategy *s = malloc(sizeof *s);
    if (s == NULL) {
        if (iface->free == NULL) free(ctx);
        return s2_error_set(err, S2_E_NOMEM, "strategy %s: out of memory", iface->name);
    }
    s->iface = iface;
    s->ctx = ctx;
    *out = s;
    return S2_OK;
}

void s2_strategy_free(s2_strategy *s) {
    if (s == NULL) return;
    if (s->iface->free) s->iface->free(s);
    else free(s->ctx);
    free(s);
}

s2_status s2_strategy_run(const s2_strategy *s, s2_env *env, s2_result *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    env->err.code = S2_OK;
    env->err.msg[0] = '\0';
    s2_status st = s->iface->run(s, env, out);
    if (st == S2_E_BUDGET) {
        out->budget_hit = true;
        st = S2_OK;
    } else if (st != S2_OK) {
        if (err) {
            *err = env->err;
            if (err->code == S2_OK) s2_error_set(err, st, "strategy %s: %s", s->iface->name, s2_status_str(st));
        }
        return st;
    }
    if (!s2_env_budget_left(env)) out->budget_hit = true;
    if (out->budget_hit) /* what was still open when the budget ran out was cut by it */
        for (int32_t i = 1; i < env->n_nodes; i++) {
            s2_node *x = env->nodes[i];
            if (!x->terminal && !x->pruned && x->n_children == 0) x->prune = S2_PRUNE_BUDGET;
        }
    if (out->best == NULL) { /* never empty-handed: the best finished state, else the best scored, else the root */
        for (int32_t pass = 0; pass < 2 && out->best == NULL; pass++)
            for (int32_t i = 1; i < env->n_nodes; i++) {
                s2_node *x = env->nodes[i];
                if (pass == 0 && !x->terminal) continue;
                if (out->best == NULL || (x->scored && (!out->best->scored || x->score > out->best->score)))
                    out->best = x;
            }
        if (out->best == NULL) out->best = env->nodes[0];
    }
    return S2_OK;
}
