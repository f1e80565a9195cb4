/* search.h: system 2. The node tree, the environment a strategy runs in, the budget, the strategy interface and
 * its registry.
 *
 * A node is one step of text on top of its parent's sequence. It holds its system-1 sequence (s2_lm_seq) so that
 * its children fork from it: the prompt and every step above are computed once and shared by the whole subtree.
 * Nodes live in the environment's arena and go away with it after the item; strategies never free nodes, they
 * release a node's sequence when they prune it (s2_env_release).
 *
 * The environment binds system 1 (and the value model, if any), one task item, a scorer, a budget and a seeded
 * RNG. A strategy sees only the environment, so tests can run every strategy on a scripted system 1.
 *
 * Budgets are read from the lm counters differenced since the environment was made, policy and value model
 * together:
 *   tokens = prompt_tokens + gen_tokens + scored_tokens  (every token system 1 computed: prompt and appended text
 *            run through the forward pass, sampled tokens, teacher-forced tokens; prefix-cache hits are free)
 *   flops  = flops (the engine's formula: 2 * matmul params per row + attention)
 *   calls  = requests (calls into system 1: seq_new, fork, append, score, score_labels, top_k, sample)
 * A budget is a hard limit, not a check between steps. An expansion the rest of the budget cannot pay for
 * shrinks (fewer children, given out round-robin over the parents in the order the strategy lists them), and its
 * sampling stops where the budget ends (each sequence's max_tokens is cut to its share of what is left); the cost
 * of a step and of a scoring are planned from what this item has measured so far. A scoring the rest cannot pay
 * for is not begun (S2_E_BUDGET). A strategy stopped by the budget returns its best answer so far, with
 * budget_hit. */
#ifndef S2_SEARCH_H
#define S2_SEARCH_H

#include "scorer.h"
#include "sys2.h"
#include "task.h"

/* ---- budget ---- */

typedef enum s2_budget_kind { S2_BUDGET_NONE = 0, S2_BUDGET_TOKENS, S2_BUDGET_FLOPS, S2_BUDGET_CALLS } s2_budget_kind;
typedef struct s2_budget {
    s2_budget_kind kind;
    double limit;
} s2_budget;
/* "tokens=N", "flops=F" (1e12 or 2.5e9 accepted), "calls=K", or "none". S2_E_ARG otherwise. */
s2_status s2_budget_parse(const char *s, s2_budget *out, s2_error *err);
/* The budget's measure of counters c (tokens, flops or calls as above; 0 for NONE). */
double s2_budget_measure(s2_budget_kind kind, const s2_counters *c);
/* "tokens=1000" into buf. */
void s2_budget_format(const s2_budget *b, char *buf, size_t cap);

/* ---- nodes ---- */

/* Why a node was pruned (set through s2_env_prune by the strategies, or by the env): what `sys2 view` shows. */
typedef enum s2_prune {
    S2_PRUNE_NONE = 0,            /* not pruned: expanded, terminal, or still open when the search ended */
    S2_PRUNE_DUPLICATE,           /* a step equal to a sibling's */
    S2_PRUNE_ILLEGAL,             /* broke the task's rules (legal=1): dropped by the env */
    S2_PRUNE_LOW_SCORE,           /* not among the best the strategy keeps (beam, tot-bfs, tot-dfs threshold) */
    S2_PRUNE_BUDGET,              /* left open when the budget ran out */
    S2_PRUNE_EXTRA,               /* past the number of children the strategy keeps (tot-bfs's k distinct) */
    S2_PRUNE_ROLLOUT,             /* an MCTS rollout step, kept out of the tree */
} s2_prune;
/* "duplicate", "illegal", "low_score", "budget", "extra", "rollout"; "" for NONE. */
const char *s2_prune_name(s2_prune p);

typedef struct s2_node {
    struct s2_node *parent;       /* NULL for the root (the prompt) */
    struct s2_node **children;    /* arena-owned (n_children) */
    int32_t n_children, cap_children;
    const char *step;             /* this step's text, arena-owned ("" at the root) */
    const char *text;             /* everything after the prompt down to here, arena-owned */
    int32_t id, depth;            /* id = creation order (0 = root), the tie-breaker everywhere */
    s2_lm_seq seq;                /* system 1's sequence for prompt + text; -1 once released */
    double step_logprob;          /* the step's summed token log-probs */
    int32_t step_tokens;
    double path_logprob;          /* summed over the path from the root */
    int32_t path_tokens;
    double own_score;             /* the scorer's judgement of this state */
    double score;                 /* own_score aggregated over the path's steps (s2_env_params.agg) */
    bool scored;
    double prior;                 /* MCTS: prior from system 1's log-probs */
    double value_sum;             /* MCTS: backed-up values */
    int32_t visits;               /* MCTS */
    bool terminal;                /* the task says the text is final, or it can hold nothing more */
    bool pruned;                  /* released by the strategy */
    const char *finish;           /* how the step's generation ended: "stop", "eos", "length"; "" at the root */
    s2_prune prune;               /* why it was pruned (NONE while it is not) */
    double spent;                 /* the item's tokens (budget measure) spent when the node was made */
} s2_node;

/* ---- environment ---- */

typedef struct s2_env s2_env;

typedef struct s2_env_params {
    s2_lm *lm;                    /* system 1; required */
    s2_lm *value_lm;              /* the value model (may be NULL) */
    const s2_task *task;          /* required */
    int32_t item;
    s2_scorer *scorer;            /* may be NULL: s2_env_score is then the node's mean token log-prob */
    s2_budget budget;
    uint64_t seed;                /* the item's seed: every sample call draws its seed from this RNG */
    double temperature;           /* sampling temperature of expansions (0.7, ToT) */
    double top_p;                 /* 1 = off */
    int32_t max_step_tokens;      /* tokens per step at most (default 96) */
    int32_t max_depth;            /* steps per path at most: deeper states are terminal (default 12) */
    int32_t agg;                  /* s2_agg: how step scores combine along a path (default last) */
    int32_t max_nodes;            /* nodes at most (default 100000): S2_E_BUDGET past it */
    int32_t legal;                /* 1: drop expansions that break the task's rules (s2_task_i.legal); 0: keep */
    int32_t batch_score;          /* 1: s2_env_score_many judges a level's nodes together; 0: one at a time */
} s2_env_params;
s2_env_params s2_env_default_params(void);

/* The key=value parameters every run shares (temperature, top_p, max_step_tokens, max_depth, agg), on
 * s2_env_params; used by the runner and `sys2 strategies`. */
const s2_param_def *s2_env_param_defs(int32_t *n);

/* Makes the environment and its root: the prompt becomes a sequence (seq_new) on lm. The counters are read
 * here, so everything the item costs, the prompt included, counts. *out owns the arena: s2_env_free. */
s2_status s2_env_init(const s2_env_params *p, s2_env **out, s2_error *err);
void s2_env_free(s2_env *env); /* releases every live sequence and the arena; NULL is a no-op */

s2_node *s2_env_root(s2_env *env);
const s2_env_params *s2_env_params_of(const s2_env *env);
const char *s2_env_prompt(const s2_env *env);
/* The env's RNG (seeded from the params): strategies draw their random choices here. */
s2_rng *s2_env_rng(s2_env *env);
/* Counters since s2_env_init: the policy's (*policy) and the value model's (*value); either may be NULL. */
void s2_env_counters(const s2_env *env, s2_counters *policy, s2_counters *value);
/* The budget spent so far in its own measure, and whether any is left (always true without a budget). */
double s2_env_budget_used(const s2_env *env);
bool s2_env_budget_left(const s2_env *env);
/* Marks the budget spent: the env or a strategy found that what is left cannot pay for any more work (the runner
 * then tells a budget stop from a context one). s2_env_budget_left is false from then on. */
void s2_env_budget_stop(s2_env *env);
/* The budget left in its own measure (INFINITY without a budget; <= 0 once spent). */
double s2_env_budget_remaining(const s2_env *env);
/* Tokens per sampled step and budget units per scoring, as measured in this item so far (0 before any). */
double s2_env_step_tokens(const s2_env *env);
double s2_env_score_cost(const s2_env *env);
/* How many of n units the rest of the budget pays for, each costing `tokens` generated tokens, one fork and one
 * scoring (priced as measured so far); n without a budget, 0 when nothing is left. */
int32_t s2_env_afford(const s2_env *env, int32_t n, double tokens);
/* Whether slot of the last s2_env_expand_many's out[] stayed NULL because the budget could not pay for it. */
bool s2_env_cut(const s2_env *env, int32_t slot);

/* Options of one expansion. */
typedef struct s2_expand_opts {
    double temperature;           /* < 0: the env's temperature; 0: greedy */
    bool full;                    /* generate to the end (EOS or max_tokens) instead of one step */
    int32_t max_tokens;           /* 0: the env's max_step_tokens (full: max_step_tokens * max_depth) */
    bool unscored;                /* the children will not be judged: a budget keeps no room for their scoring */
} s2_expand_opts;

/* Expands n parents at once: parent i gets k[i] new children, all of them decoded together in one batch (forks
 * of the parents' sequences, sampled until the task's step delimiter). Children are appended to each parent's
 * children and written to out (sum k entries, parent by parent). opts may be NULL (one step, env temperature).
 * Identical sibling steps are kept (they are legitimately sampled twice); strategies dedupe if they want to.
 * Terminal parents get no children. A parent whose sequence would pass the context is marked terminal. Under a
 * budget the expansion shrinks to what the rest pays for (the slots dropped are NULL and s2_env_cut says which).
 * Returns the number of children made, or a (negative) s2_status: S2_E_BUDGET when max_nodes is reached or the
 * budget is spent. */
int32_t s2_env_expand_many(s2_env *env, s2_node *const *parents, const int32_t *k, int32_t n,
                           const s2_expand_opts *opts, s2_node **out);
/* A child of parent whose step is text, given rather than sampled (token-level beam): the parent's sequence is
 * forked and text appended (system 1 computes its tokens). logprob and n_tokens are the step's as the caller
 * read them. The child is terminal when the task says so or it has max_tokens path tokens (0: no such limit);
 * max_depth does not apply. NULL on failure (*st says why). */
s2_node *s2_env_add_child(s2_env *env, s2_node *parent, const char *text, double logprob, int32_t n_tokens,
                          int32_t max_tokens, s2_status *st);
/* One parent, k children: s2_env_expand_many with n = 1. */
int32_t s2_env_expand(s2_env *env, s2_node *parent, int32_t k, s2_node **children);
/* Scores node with the scorer (once: a scored node keeps its score) and aggregates along the path. */
s2_status s2_env_score(s2_env *env, s2_node *node);
/* Scores every unscored node of nodes (n, NULL entries skipped) as s2_env_score would, all together: the
 * scorer's score_many (the value and selfeval scorers make every value prompt a sequence in one forward and read
 * every label in one more). Under a budget the first scoring of an item is done alone (to price a scoring), and
 * only as many as the rest of the budget pays for are scored, in order; then S2_E_BUDGET. batch_score=0 scores
 * them one at a time. */
s2_status s2_env_score_many(s2_env *env, s2_node *const *nodes, int32_t n);
/* The scorer's verdict on two nodes (S2_E_UNSUPPORTED when it cannot compare). */
s2_status s2_env_compare(s2_env *env, s2_node *a, s2_node *b, double *p_a);
/* Fills in as the scorers see node. */
void s2_env_score_in(s2_env *env, const s2_node *node, s2_score_in *in);
/* Releases node's sequence (pruned: no more children from it). Idempotent; the root is never released. */
void s2_env_release(s2_env *env, s2_node *node);
/* Prunes node: marks it pruned with the reason (shown by `sys2 view`) and releases its sequence. */
void s2_env_prune(s2_env *env, s2_node *node, s2_prune why);
/* The answer the task extracts from node's text (arena-owned), or NULL. */
const char *s2_env_answer(s2_env *env, s2_node *node);
/* Arena scratch of bytes (zeroed), freed with the env; NULL when out of memory. */
void *s2_env_alloc(s2_env *env, size_t bytes);
/* The last error of the env (a failed expand returns its negative status; the message is here). */
const s2_error *s2_env_error(const s2_env *env);

/* Nodes in creation order (id = index). */
int32_t s2_env_n_nodes(const s2_env *env);
s2_node *s2_env_node(s2_env *env, int32_t id);

typedef struct s2_tree_stats {
    int32_t nodes;                /* nodes made, the root included */
    int32_t expansions;           /* parents expanded (one per parent per expand call) */
    int32_t sample_calls;         /* batched sample calls */
    int32_t scored;               /* nodes scored */
    int32_t terminal;             /* terminal nodes */
    int32_t pruned;               /* nodes released by the strategy */
    int32_t illegal;              /* expansions dropped for breaking the task's rules (legal=1) */
    int32_t max_depth;
} s2_tree_stats;
void s2_env_tree_stats(const s2_env *env, s2_tree_stats *out);

/* ---- strategies ---- */

/* One finished answer of a strategy that makes several (sc, bon, and any that finishes several paths). The
 * runner verifies each one and writes them all in the item's line ("samples"), so that pass@k, majority@k and
 * weighted best-of-N@k can be computed after the run (`sys2 report --curves`). */
typedef struct s2_answer_sample {
    s2_node *leaf;                /* the finished node (arena-owned) */
    const char *answer;           /* the task's extracted answer (the vote key; arena-owned), NULL: none */
    double tokens;                /* the item's tokens spent when it was finished (leaf->spent) */
} s2_answer_sample;

typedef struct s2_result {
    s2_node *best;                /* the node whose text is the answer (NULL: nothing to answer) */
    double votes;                 /* voting strategies: the winner's total weight */
    bool budget_hit;              /* stopped because the budget ran out */
    s2_answer_sample *samples;           /* every finished answer, in generation order (arena-owned): s2_result_add_sample */
    int32_t n_samples, cap_samples;
} s2_result;

/* Records leaf as one of out's samples (in call order: call it in generation order). The answer is extracted
 * here. Any strategy that produces several finished answers calls it for each (sc and bon do, through
 * s2_sample_chains); its score is read when the line is written, so a strategy may score after recording.
 * S2_E_NOMEM when the arena is full. */
s2_status s2_result_add_sample(s2_env *env, s2_result *out, s2_node *leaf);

typedef struct s2_strategy s2_strategy;
struct s2_strategy_i {
    const char *name;                                                          /* required */
    /* required: searches env and fills out. Must not write s->ctx: one strategy serves many threads. */
    s2_status (*run)(const s2_strategy *s, s2_env *env, s2_result *out);
    void (*free)(s2_strategy *s);                                              /* NULL: free(ctx) */
};
struct s2_strategy {
    const struct s2_strategy_i *iface;
    void *ctx;                    /* the strategy's params struct */
};

s2_status s2_strategy_new(const struct s2_strategy_i *iface, void *ctx, s2_strategy **out, s2_error *err);
void s2_strategy_free(s2_strategy *s); /* NULL is a no-op */
/* Runs s on env: out is cleared first; on S2_E_BUDGET from a strategy the result so far stands and S2_OK comes
 * back with out->budget_hit. */
s2_status s2_strategy_run(const s2_strategy *s, s2_env *env, s2_result *out, s2_error *err);

/* ---- the registry (search/registry.c) ---- */

/* Creates strategy name from key=value pairs; same conventions as s2_scorer_create (used may be NULL). */
s2_status s2_strategy_create(const char *name, const char *const *keys, const char *const *vals, int32_t n,
                             bool *used, s2_strategy **out, s2_error *err);
int32_t s2_strategy_count(void);
const char *s2_strategy_name_at(int32_t i);       /* NULL out of range */
const char *s2_strategy_summary_at(int32_t i);
const char *s2_strategy_source_at(int32_t i);     /* the paper the defaults come from */
const s2_param_def *s2_strategy_params_at(int32_t i, int32_t *n);
/* The strategy's params as created (borrowed) and its table. */
const void *s2_strategy_params(const s2_strategy *s, const s2_param_def **defs, int32_t *n);

/* ---- the strategies' params (defaults in search/registry.c, with their sources) ---- */

typedef struct s2_io_params { int32_t dummy; } s2_io_params;
typedef struct s2_cot_params { double temperature; } s2_cot_params;
typedef enum s2_vote_kind { S2_VOTE_MAJORITY = 0, S2_VOTE_WEIGHTED = 1 } s2_vote_kind;
typedef struct s2_sc_params { int32_t n, vote, tie; double temperature; } s2_sc_params;
typedef enum s2_bon_select { S2_BON_BEST = 0, S2_BON_WEIGHTED = 1 } s2_bon_select;
typedef struct s2_bon_params { int32_t n, select; double temperature; } s2_bon_params;
typedef enum s2_beam_mode { S2_BEAM_STEP = 0, S2_BEAM_TOKEN = 1 } s2_beam_mode;
typedef struct s2_beam_params { int32_t width, expand, mode, max_tokens; double alpha; } s2_beam_params;
typedef struct s2_tot_bfs_params { int32_t b, k, steps, retries; } s2_tot_bfs_params;
typedef struct s2_tot_dfs_params { int32_t k, max_visits; double threshold; } s2_tot_dfs_params;
typedef enum s2_mcts_eval { S2_MCTS_EVAL_SCORER = 0, S2_MCTS_EVAL_ROLLOUT = 1 } s2_mcts_eval;
typedef enum s2_mcts_answer { S2_MCTS_ANSWER_VISITS = 0, S2_MCTS_ANSWER_VALUE = 1, S2_MCTS_ANSWER_VOTE = 2 } s2_mcts_answer;
typedef enum s2_mcts_root { S2_MCTS_ROOT_PUCT = 0, S2_MCTS_ROOT_GUMBEL = 1 } s2_mcts_root;
typedef struct s2_mcts_params {
    int32_t iters, expand, eval, answer;
    double c_puct, pw_c, pw_alpha, prior_temp;
    int32_t root, m;              /* root=gumbel: m actions considered at the root */
    double c_visit, c_scale;      /* Gumbel's sigma(q) = (c_visit + max N) * c_scale * q */
} s2_mcts_params;
typedef struct s2_best_first_params { int32_t k, max_expansions; } s2_best_first_params;
typedef struct s2_dvts_params { int32_t n, width, expand; } s2_dvts_params;
typedef enum s2_resample_kind { S2_RESAMPLE_MULTINOMIAL = 0, S2_RESAMPLE_SYSTEMATIC = 1 } s2_resample_kind;
typedef struct s2_particle_params { int32_t n, resample; double temp, ess; } s2_particle_params;
typedef struct s2_rebase_params { int32_t n; double temp; } s2_rebase_params;

/* The constructors (params NULL = defaults). */
s2_status s2_strategy_io_init(const s2_io_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_cot_init(const s2_cot_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_sc_init(const s2_sc_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_bon_init(const s2_bon_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_beam_init(const s2_beam_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_tot_bfs_init(const s2_tot_bfs_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_tot_dfs_init(const s2_tot_dfs_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_mcts_init(const s2_mcts_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_best_first_init(const s2_best_first_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_dvts_init(const s2_dvts_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_particle_init(const s2_particle_params *p, s2_strategy **out, s2_error *err);
s2_status s2_strategy_rebase_init(const s2_rebase_params *p, s2_strategy **out, s2_error *err);

/* ---- the strategies' arithmetic, exposed for the tests ---- */

/* Particle weights: w = softmax over the particles of r / temp, 0 where alive[i] is false (alive may be NULL);
 * returns the effective sample size 1 / sum w^2 (0 when no particle is alive). */
double s2_particle_weights(const double *r, const bool *alive, int32_t n, double temp, double *w);
/* n indices drawn in proportion to w: multinomial (idx[j] = F^-1(u[j]), n uniforms) or systematic
 * (idx[j] = F^-1((u[0] + j) / n), one uniform), F the cumulative weights. */
void s2_particle_resample(const double *w, int32_t n, int32_t kind, const double *u, int32_t *idx);
/* REBASE: budget expansions over n frontier states, in proportion to softmax(r / temp), floors then the largest
 * remainders (ties to the lower index), summing to budget exactly. */
void s2_rebase_allocate(const double *r, int32_t n, double temp, int32_t budget, int32_t *w);
/* Gumbel MCTS's sequential halving (Danihelka et al. 2022): with n simulations over m considered root actions,
 * phase i (of ceil(log2 m), at least 1) gives each of its remaining actions max(1, floor(n / (phases * remaining)))
 * visits, then keeps the better half (ceil). visits[i] (capacity 32) gets phase i's per-action visits, remain[i]
 * the actions in phase i; returns the number of phases. */
int32_t s2_gumbel_schedule(int32_t n, int32_t m, int32_t *visits, int32_t *remain);

/* ---- helpers the strategies share (search/env.c) ---- */

/* Extends each of n chains by one step at a time (all chains decoded together) until each is terminal, the
 * budget runs out, or an error. leaves[i] starts as chain i's start node and ends as its last node. temperature
 * as s2_expand_opts; scored: the chains' ends will be judged (a budget keeps room for that). Returns S2_OK,
 * S2_E_BUDGET when the budget stopped it, or an error. */
s2_status s2_env_rollout(s2_env *env, s2_node **leaves, int32_t n, double temperature, bool scored);
/* A node's weight in a vote: 0 unscored; exp(score) for the logprob scorer (or none: a mean log-prob counts as a
 * probability); the score itself otherwise. */
double s2_env_vote_weight(const s2_env *env, const s2_node *node);
/* The best of n nodes by score (scored ones first, ties to the lowest id); NULL for n = 0. */
s2_node *s2_env_best(s2_node *const *nodes, int32_t n);

#endif
