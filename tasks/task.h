/* task.h: the task interface. A task turns an item into a prompt, names its step delimiter, says when a text is
 * final, extracts and verifies the answer, and, where it can, judges a partial state exactly (the oracle, for
 * ablations and for training labels). Synthetic tasks also generate training examples from a seed; evaluation
 * items are held out by a hash and never appear in training data.
 *
 * Tasks know nothing of models: prompts and answers are text. "text" below is always what a model generated
 * after the prompt (the steps so far, each ending with the step delimiter, then perhaps a final answer line).
 * Every call is reentrant for distinct tasks; one task may be read by several threads at once once loaded
 * (all callbacks take const s2_task *), except where a comment says otherwise. */
#ifndef S2_TASK_H
#define S2_TASK_H

#include "sys2.h"

typedef struct s2_task s2_task;

typedef struct s2_task_params {
    const char *data;     /* --data FILE; NULL: the task's default (generated, or its file under SYS2_SHARED) */
    const char *split;    /* --split: task-specific ("tot", "all", "heldout", "train", "test"); NULL = default */
    uint64_t seed;        /* generated items */
    int32_t n_items;      /* generated tasks: how many items (0 = the task's default) */
    int32_t n_shot;       /* worked examples in the prompt (-1 = the task's default) */
    int32_t difficulty;   /* countdown: how many numbers; arith: digits; listprog: most stages; game24: the
                           * largest starting number of value training examples (0 = the task's default) */
    int32_t n_workers;    /* code tasks: sandbox workers (0 = 2) */
    double timeout_s;     /* code tasks: wall-clock limit per candidate (0 = default) */
} s2_task_params;
s2_task_params s2_task_default_params(void);

typedef struct s2_verdict {
    double reward;        /* 1 or 0, or the fraction of tests passed */
    bool correct;         /* the answer is right (reward == 1) */
    char *answer;         /* the extracted answer (malloc'd), NULL when none was found */
    char reason[256];     /* why: "ok", "uses 4 twice", "step 2: 13 - 9 is 4, not 5", "timeout after 5 s" */
} s2_verdict;
void s2_verdict_clear(s2_verdict *v); /* frees answer, zeroes the rest */

/* The exact judgement of a partial state, where the task has one. */
typedef enum s2_oracle {
    S2_ORACLE_UNKNOWN = -1,  /* the task cannot tell */
    S2_ORACLE_DEAD = 0,      /* no continuation of this state reaches a correct answer (or a step is invalid) */
    S2_ORACLE_SOLVABLE = 1   /* some continuation does */
} s2_oracle;

/* POLICY: solutions as the task's solver writes them; VALUE: states labelled sure/impossible; LEGAL: a policy
 * example of random legal play (rules only: no solver, no oracle), for the rules-only start of `sys2 improve`. */
typedef enum s2_role { S2_ROLE_POLICY = 0, S2_ROLE_VALUE = 1, S2_ROLE_LEGAL = 2 } s2_role;

/* A training example: the model reads prompt and learns completion (loss on completion tokens only). */
typedef struct s2_example {
    char *prompt;         /* malloc'd */
    char *completion;     /* malloc'd */
} s2_example;
void s2_example_clear(s2_example *e);

/* The value model's labels: a value example's completion is one of these, then "\n". The value scorer reads
 * P(sure) from the log-probs of the two labels after value_prompt(). */
#define S2_VALUE_SURE "sure"
#define S2_VALUE_IMPOSSIBLE "impossible"

struct s2_task_i {
    const char *name;                                        /* required: "game24" */
    const char *summary;                                     /* required: one line for `sys2 tasks` */
    const char *step_delim;                                  /* required: what ends a step, e.g. "\n" */
    bool qa;                                                 /* a question for an assistant (gsm8k, math500,
                                                              * humaneval, mbpp): `run` puts the prompt through
                                                              * the model's chat template by default */
    int32_t (*n_items)(const s2_task *t);                    /* required */
    const char *(*item_id)(const s2_task *t, int32_t i);     /* required; borrowed; unique within the task */
    /* required: the prompt for item i (malloc'd), ending where the model's first step begins */
    char *(*prompt)(const s2_task *t, int32_t i);
    /* required: true when text holds a final answer (or can hold nothing more: the state is finished) */
    bool (*is_terminal)(const s2_task *t, int32_t i, const char *text);
    /* required: the answer in text (malloc'd), or NULL when there is none */
    char *(*extract)(const s2_task *t, int32_t i, const char *text);
    /* required: verifies text for item i into *out (the caller clears it). S2_OK with a verdict for any text,
     * however malformed; an error status only when the verifier itself could not run (sandbox failure). */
    s2_status (*verify)(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err);
    /* may be NULL: the exact judgement of the partial state text */
    s2_oracle (*oracle)(const s2_task *t, int32_t i, const char *text);
    /* may be NULL: whether the steps of text follow the task's rules (each step's arithmetic and bookkeeping:
     * the legal-move check of a game, as AlphaZero knows the rules), never a judgement of whether the state can
     * still succeed (that is the oracle's). Search drops illegal expansions unless --param legal=0. */
    bool (*legal)(const s2_task *t, int32_t i, const char *text);
    /* may be NULL: the value model's prompt for the partial state text (malloc'd); its completion is a label */
    char *(*value_prompt)(const s2_task *t, int32_t i, const char *text);
    /* may be NULL (datasets): a training example for role, drawn from seed, from training items only */
    s2_status (*gen_example)(const s2_task *t, s2_role role, uint64_t seed, s2_example *out, s2_error *err);
    /* may be NULL: a reference answer text for item i (malloc'd), as a model would write it; check-task uses it */
    char *(*reference)(const s2_task *t, int32_t i);
    /* may be NULL: wrong answer texts for item i (each malloc'd, at most cap), for check-task; returns the count */
    int32_t (*wrong_answers)(const s2_task *t, int32_t i, char **out, int32_t cap);
    void (*free)(s2_task *t);                                /* may be NULL: ctx is free()d */
};

struct s2_task {
    const struct s2_task_i *iface;
    void *ctx;
};

/* ---- the registry (tasks/registry.c) ---- */

/* Creates task name with params (NULL = defaults). S2_E_ARG for an unknown name; S2_E_IO / S2_E_FORMAT for a
 * dataset that cannot be read, with the file and line. *out is owned by the caller: s2_task_free(). */
s2_status s2_task_create(const char *name, const s2_task_params *params, s2_task **out, s2_error *err);
void s2_task_free(s2_task *t); /* NULL is a no-op */
int32_t s2_task_count(void);                     /* tasks in the registry */
const char *s2_task_name_at(int32_t i);          /* NULL out of range */
const char *s2_task_summary_at(int32_t i);

/* Wrappers that check the required slots and skip the optional ones. */
static inline int32_t s2_task_n_items(const s2_task *t) { return t->iface->n_items(t); }
static inline const char *s2_task_item_id(const s2_task *t, int32_t i) { return t->iface->item_id(t, i); }
static inline char *s2_task_prompt(const s2_task *t, int32_t i) { return t->iface->prompt(t, i); }
static inline bool s2_task_is_terminal(const s2_task *t, int32_t i, const char *text) {
    return t->iface->is_terminal(t, i, text);
}
static inline s2_oracle s2_task_oracle(const s2_task *t, int32_t i, const char *text) {
    return t->iface->oracle ? t->iface->oracle(t, i, text) : S2_ORACLE_UNKNOWN;
}
static inline bool s2_task_legal(const s2_task *t, int32_t i, const char *text) {
    return t->iface->legal ? t->iface->legal(t, i, text) : true;
}
s2_status s2_task_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err);
/* The index of the item with id, or -1. */
int32_t s2_task_find(const s2_task *t, const char *id);
/* A stable 64-bit hash of a string (FNV-1a), used to hold items out by id. */
uint64_t s2_hash_str(const char *s);

#endif
