/* scorer.h: the scorer interface, the step-score aggregations, the votes over final answers, and the small
 * key=value parameter tables that scorers and strategies share.
 *
 * A scorer maps one search state (a node, as search/ sees it) to a number: higher is better. It sees the state
 * through s2_score_in, a plain struct, so that scorers stay below search/ (core <- tasks, scorers <- search):
 * the text after the prompt, the last step, the node's sequence on system 1, the path's log-probs, and the two
 * language models (the policy, and the value model when one was given). Scorers hold only their parameters: one
 * scorer may be used by several threads at once, each with its own lms. */
#ifndef S2_SCORER_H
#define S2_SCORER_H

#include <stddef.h>

#include "sys2.h"
#include "task.h"

/* ---- key=value parameters (scorers and strategies) ---- */

typedef enum s2_param_type { S2_PARAM_INT, S2_PARAM_FLOAT, S2_PARAM_ENUM } s2_param_type;

/* One parameter of a params struct: name, type, where it lives, its default and its documentation. For
 * S2_PARAM_ENUM the field is an int32_t index into choices ("a|b|c"), and dflt is the default's index. */
typedef struct s2_param_def {
    const char *key;
    s2_param_type type;
    size_t offset;          /* offsetof(params struct, field): int32_t for INT and ENUM, double for FLOAT */
    double dflt;
    double lo, hi;          /* accepted range (inclusive) for INT and FLOAT */
    const char *choices;    /* ENUM: "majority|weighted" */
    const char *doc;        /* one line; says where the default comes from */
} s2_param_def;

/* Fills base with every default of defs (n entries). */
void s2_params_defaults(const s2_param_def *defs, int32_t n, void *base);
/* Sets key to value in base when defs has key: S2_OK; S2_E_ARG with the reason for a bad value; returns 1 (not
 * a status) when defs has no such key, so that a caller can try the next table. */
int s2_params_set(const s2_param_def *defs, int32_t n, void *base, const char *key, const char *value,
                  s2_error *err);
/* The value of key in base as text (the enum's name, %g for numbers) into buf. */
void s2_params_format(const s2_param_def *def, const void *base, char *buf, size_t cap);
/* What the registries' create functions share: zeroes base (size bytes), fills in every default of defs, then
 * sets each keys[i] = vals[i] (n pairs) that defs has. A bad value is S2_E_ARG as "<name>: <reason>". A key defs
 * lacks is S2_E_ARG "<what> <name> has no parameter '<key>'" when used is NULL; with used, used[i] is set for
 * each key taken and the others are left for the caller. what is "strategy" or "scorer". */
s2_status s2_params_parse(const s2_param_def *defs, int32_t n_defs, void *base, size_t size, const char *what,
                          const char *name, const char *const *keys, const char *const *vals, int32_t n, bool *used,
                          s2_error *err);

/* ---- the scorer interface ---- */

typedef struct s2_score_in {
    s2_lm *lm;                  /* system 1 (the policy) */
    s2_lm *value_lm;            /* the value model, NULL when none was given */
    const s2_task *task;
    int32_t item;
    const char *prompt;         /* the item's prompt */
    const char *text;           /* everything generated after the prompt on this path */
    const char *step;           /* the last step (a suffix of text); "" at the root */
    s2_lm_seq seq;              /* the node's sequence on lm (prompt + text), or -1 once released */
    double path_logprob;        /* sum of the generated tokens' log-probs along the path */
    int32_t path_tokens;
    double step_logprob;        /* the same for the last step */
    int32_t step_tokens;
    int32_t depth;              /* steps from the root */
    bool terminal;              /* the task says text is final */
} s2_score_in;

typedef struct s2_scorer s2_scorer;
struct s2_scorer_i {
    const char *name;                                                                       /* required */
    /* *out = the state's score, higher is better */
    s2_status (*score)(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err); /* required */
    /* may be NULL (then score is called n times): out[i] = state in[i]'s score, all n judged together (one
     * batch of system-1 work for a whole tree level) and equal to what score would give each */
    s2_status (*score_many)(s2_scorer *sc, const s2_score_in *in, int32_t n, double *out, s2_error *err);
    /* may be NULL: *p_a = the probability that a is better than b */
    s2_status (*compare)(s2_scorer *sc, const s2_score_in *a, const s2_score_in *b, double *p_a, s2_error *err);
    void (*free)(s2_scorer *sc);                                                            /* NULL: free(ctx) */
};
struct s2_scorer {
    const struct s2_scorer_i *iface;
    void *ctx;
};

/* Wraps iface + ctx (ctx is owned by the scorer from then on, also on failure). */
s2_status s2_scorer_new(const struct s2_scorer_i *iface, void *ctx, s2_scorer **out, s2_error *err);
void s2_scorer_free(s2_scorer *sc); /* NULL is a no-op */
s2_status s2_scorer_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err);
/* n states at once (score_many, or score for each in turn). */
s2_status s2_scorer_score_many(s2_scorer *sc, const s2_score_in *in, int32_t n, double *out, s2_error *err);
bool s2_scorer_can_compare(const s2_scorer *sc);
s2_status s2_scorer_compare(s2_scorer *sc, const s2_score_in *a, const s2_score_in *b, double *p_a, s2_error *err);

/* ---- the registry (scorers/registry.c) ---- */

/* Creates scorer name from key=value pairs (keys[i] = vals[i], n pairs; NULL with n = 0 for defaults). A key the
 * scorer does not know is S2_E_ARG naming it, unless used (non-NULL) is given: then used[i] is set for each key
 * taken and the others are left for the caller (the runner passes one list to strategy, scorer and env). */
s2_status s2_scorer_create(const char *name, const char *const *keys, const char *const *vals, int32_t n,
                           bool *used, s2_scorer **out, s2_error *err);
int32_t s2_scorer_count(void);
const char *s2_scorer_name_at(int32_t i);    /* NULL out of range */
const char *s2_scorer_summary_at(int32_t i);
/* The parameter table of scorer i (*n entries). */
const s2_param_def *s2_scorer_params_at(int32_t i, int32_t *n);
/* The scorer's params struct as created (borrowed from sc) and its table, for the result file's config. */
const void *s2_scorer_params(const s2_scorer *sc, const s2_param_def **defs, int32_t *n);

/* ---- the scorers (one file each) ---- */

typedef enum s2_logprob_mode { S2_LOGPROB_SUM = 0, S2_LOGPROB_MEAN = 1, S2_LOGPROB_NORM = 2 } s2_logprob_mode;
typedef struct s2_logprob_params {
    int32_t mode;      /* s2_logprob_mode */
    double alpha;      /* NORM: sum / ((5 + len) / 6)^alpha (Wu et al. 2016, GNMT), default 0.6 */
} s2_logprob_params;

typedef struct s2_value_params {
    int32_t dummy;     /* none yet: P(sure) needs no knob */
} s2_value_params;

typedef struct s2_selfeval_params {
    double w_sure, w_likely, w_impossible; /* ToT: 20 / 1 / 0.001 */
} s2_selfeval_params;

/* The scorers' constructors (params NULL = defaults). */
s2_status s2_scorer_logprob_init(const s2_logprob_params *p, s2_scorer **out, s2_error *err);
s2_status s2_scorer_verify_init(s2_scorer **out, s2_error *err);
s2_status s2_scorer_oracle_init(s2_scorer **out, s2_error *err);
s2_status s2_scorer_value_init(const s2_value_params *p, s2_scorer **out, s2_error *err);
s2_status s2_scorer_selfeval_init(const s2_selfeval_params *p, s2_scorer **out, s2_error *err);
s2_status s2_scorer_pairwise_init(s2_scorer **out, s2_error *err);

/* The value model's judgement: P(sure) = e^a / (e^a + e^b), where a and b are the summed log-probs of the labels
 * S2_VALUE_SURE and S2_VALUE_IMPOSSIBLE right after task->value_prompt(text) on lm (the value model). A task
 * without value_prompt is S2_E_UNSUPPORTED. Exposed for the tests. */
s2_status s2_value_p_sure(s2_lm *lm, const s2_task *task, int32_t item, const char *text, double *p, s2_error *err);
/* What the value and selfeval scorers share: the task's value prompt for each of n states (in[i].text), and the
 * summed log-prob of each of n_labels labels after each, all through one s2_lm_score_labels_many on lm, into
 * lp[i * n_labels + c]. who names the scorer in errors. */
s2_status s2_value_labels_many(s2_lm *lm, const s2_score_in *in, int32_t n, const char *const *labels,
                               int32_t n_labels, double *lp, const char *who, s2_error *err);

/* ---- step-score aggregation ---- */

typedef enum s2_agg {
    S2_AGG_LAST = 0,    /* the state's own score (the default) */
    S2_AGG_MIN = 1,     /* the weakest step (PRM min, Lightman et al. 2023) */
    S2_AGG_PRODUCT = 2, /* product of step scores (probabilities that each step is right) */
    S2_AGG_MEAN = 3     /* mean over the steps */
} s2_agg;
#define S2_AGG_CHOICES "last|min|product|mean"
/* The aggregate at depth (>= 1) from the parent's aggregate (ignored at depth 1) and the state's own score. */
double s2_agg_step(s2_agg agg, double parent_agg, double own, int32_t depth);

/* ---- votes over final answers ---- */

typedef enum s2_tie { S2_TIE_EARLIEST = 0, S2_TIE_LOWEST = 1 } s2_tie;
#define S2_TIE_CHOICES "earliest|lowest"
/* The winning answer among n (NULL answers abstain): the one with the largest total weight (weights NULL: one
 * vote each). Ties go to the answer seen first (EARLIEST) or to the lowest string by strcmp (LOWEST). Returns
 * the index of the winner's first occurrence, or -1 when every answer is NULL; *votes (may be NULL) gets its
 * total weight. */
int32_t s2_vote(const char *const *answers, const double *weights, int32_t n, s2_tie tie, double *votes);

#endif
