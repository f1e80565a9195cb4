/* improve.h: system 2 teaches system 1: expert iteration (Anthony et al. 2017; STaR, Zelikman et al. 2022; ReST-EM,
 * Singh et al. 2023) as a library loop over the task, search and trainer interfaces. Each round:
 *   1. search solves fresh training items (never held-out ones) with the current models, the whole tree kept;
 *   2. policy data: the verified solution paths (the task's verifier checks final answers; it is not the oracle),
 *      mixed in training with a replay of earlier rounds' data;
 *      value data: the states the trees visited, labelled by what search found below them: a verified solution
 *      below = sure; a wrong final answer, or a node every child of which was explored to such ends = impossible;
 *      the rest left out; drawn balanced per depth and label in training;
 *   3. both models fine-tuned from the previous round's (the value model of round 0 starts from random weights when
 *      no value model is given);
 *   4. evaluation on the held-out split: greedy solve rate, valid-step rate, the search's accuracy at the budget,
 *      and the value model's balanced accuracy against the oracle's labels (the oracle only measures, here);
 *   5. compute: FLOPs of the data-generating search and of training, per round and cumulative.
 * The task seen by steps 1-3 is wrapped so that every oracle call is counted: the count must stay 0 (the
 * scorer "oracle" is refused). Files of round r live in DIR/round-RR/; round.json is written last and marks the
 * round done. Every step is resumable: search files resume as `sys2 run` does, data files are rewritten whole,
 * training resumes from its last checkpoint (bit for bit, as `sys2 train --resume`), so a run killed anywhere
 * and restarted with the same configuration writes the same files as one that was never killed (timings apart).
 * Library code: never prints; progress goes through a callback. */
#ifndef S2_IMPROVE_H
#define S2_IMPROVE_H

#include "search.h"

typedef enum s2_improve_paths {
    S2_IMPROVE_PATHS_ALL = 0,      /* every distinct verified path of an item: prompt -> the whole solution */
    S2_IMPROVE_PATHS_SHORTEST = 1, /* one per item: the verified path with the fewest steps (then bytes) */
    S2_IMPROVE_PATHS_STEPS = 2     /* every step of every verified path: prompt + steps so far -> the rest */
} s2_improve_paths;

typedef struct s2_improve_progress {
    int32_t round, rounds;
    const char *phase;            /* "search", "data", "train-policy", "train-value", "eval" */
    int32_t done, total;          /* items or steps of the phase */
} s2_improve_progress;

typedef struct s2_improve_config {
    const char *task;             /* registry name (number games: game24, countdown; any task with a verifier) */
    int32_t difficulty;           /* task difficulty (0 = default) */
    const char *train_split;      /* items the search solves (default "train") */
    const char *eval_split;       /* held-out items for evaluation (default: the task's default split) */
    int32_t n_train_items;        /* generated tasks: items in the train split (0 = rounds * items) */
    const char *policy0;          /* the round-0 policy (GGUF, trained by this project's trainer); required */
    const char *value0;           /* the round-0 value model, NULL = none */
    const char *search;           /* strategy name; required */
    const char *const *keys;      /* --param key=value for strategy, scorer and env, as s2_run */
    const char *const *vals;
    int32_t n_params;
    const char *scorer;           /* with a value model (default "value") */
    const char *scorer0;          /* rounds without a value model (default "logprob") */
    const char *budget;           /* "tokens=N"..., NULL = none */
    int32_t rounds, items;        /* rounds; fresh training items per round */
    int32_t eval_items;           /* held-out items evaluated per round (0 = 100) */
    s2_improve_paths paths;
    double replay;                /* fraction of policy/value examples drawn from earlier rounds (default 0.5) */
    int32_t policy_steps, value_steps; /* optimizer steps per round (0 = 200) */
    int32_t batch;                /* sequences per step (0 = 16) */
    double policy_lr, value_lr;   /* peak learning rates (0 = 5e-4, 1e-3) */
    int32_t value_dim, value_layers, value_heads, value_ff; /* a value model from scratch (0 = 128, 4, 4, 384) */
    int32_t checkpoint_every;     /* training checkpoints every K steps (0 = 50) */
    uint64_t seed;
    int32_t threads;              /* search item threads (0 = 1); training uses one thread */
    const char *dir;              /* required */
    const char *version;          /* recorded */
    void (*progress)(void *user, const s2_improve_progress *p);
    void *progress_user;
    volatile int *stop;           /* nonzero: stop at the next item or step (S2_E_INTERRUPTED; rerun resumes) */
} s2_improve_config;

typedef struct s2_improve_round {
    int32_t round;
    int32_t items, solved;        /* training items searched, and solved (a verified answer anywhere in the tree) */
    int32_t policy_examples, value_sure, value_impossible;
    double search_flops, policy_flops, value_flops, round_flops, cumulative_flops;
    double search_tokens;         /* mean tokens per training item */
    double eval_greedy;           /* held-out greedy solve rate */
    double eval_valid_steps;      /* held-out valid-step rate of the greedy answers (NAN without a legal rule) */
    double eval_search;           /* held-out accuracy of the search at the budget */
    double eval_search_tokens;    /* its mean tokens per item */
    double eval_search_flops;     /* its mean FLOPs per item */
    double eval_value_balanced;   /* the value model's balanced accuracy against the oracle (NAN: no value model) */
    int64_t oracle_calls_loop;    /* oracle calls in steps 1-3 of the round: 0 */
    int64_t oracle_calls_eval;    /* oracle calls of the evaluation (measurement only) */
} s2_improve_round;

typedef struct s2_improve_summary {
    int32_t n_rounds;             /* rounds done (all of them now in DIR) */
    s2_improve_round *rounds;     /* malloc'd (n_rounds): free with s2_improve_summary_free */
} s2_improve_summary;
void s2_improve_summary_free(s2_improve_summary *s);

/* Runs (or resumes) the loop in cfg->dir. S2_E_ARG for a bad configuration, or a directory that holds a different
 * one; errors of search, training or files as they come (finished files stay: rerun to resume). */
s2_status s2_improve(const s2_improve_config *cfg, s2_improve_summary *out, s2_error *err);

#endif
