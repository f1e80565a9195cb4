/* registry.c: scorer name -> constructor, from key=value parameters with documented defaults. */
#include <stddef.h>
#include <string.h>

#include "scorer.h"

static const s2_param_def logprob_defs[] = {
    {"mode", S2_PARAM_ENUM, offsetof(s2_logprob_params, mode), S2_LOGPROB_MEAN, 0, 0, "sum|mean|norm",
     "sum of token log-probs, per-token mean (default), or GNMT length-normalised sum"},
    {"alpha", S2_PARAM_FLOAT, offsetof(s2_logprob_params, alpha), 0.6, 0, 10, NULL,
     "norm: sum / ((5 + len) / 6)^alpha; 0.6 from Wu et al. 2016 (GNMT)"},
};
static const s2_param_def selfeval_defs[] = {
    {"w_sure", S2_PARAM_FLOAT, offsetof(s2_selfeval_params, w_sure), 20, -1e9, 1e9, NULL, "value of 'sure' (ToT: 20)"},
    {"w_likely", S2_PARAM_FLOAT, offsetof(s2_selfeval_params, w_likely), 1, -1e9, 1e9, NULL, "value of 'likely' (ToT: 1)"},
    {"w_impossible", S2_PARAM_FLOAT, offsetof(s2_selfeval_params, w_impossible), 0.001, -1e9, 1e9, NULL,
     "value of 'impossible' (ToT: 0.001)"},
};

typedef struct entry {
    const char *name, *summary;
    const s2_param_def *defs;
    int32_t n_defs;
    size_t size;
} entry;

static const entry entries[] = {
    {"logprob", "system 1's own log-prob of the path (sum, mean, length-normalised); free", logprob_defs, 2,
     sizeof(s2_logprob_params)},
    {"verify", "the task's exact check of a final answer (0 for unfinished states)", NULL, 0, sizeof(int32_t)},
    {"oracle", "the task's exact partial-state oracle: an upper bound for ablations, never a default", NULL, 0,
     sizeof(int32_t)},
    {"value", "a learned value model (--value FILE): P(sure) after the task's value prompt", NULL, 0,
     sizeof(s2_value_params)},
    {"selfeval", "system 1 judges the state: ToT's sure/likely/impossible = 20/1/0.001 by label log-probs",
     selfeval_defs, 3, sizeof(s2_selfeval_params)},
    {"pairwise", "system 1 asked which of two candidates is better (tournament in bon)", NULL, 0, sizeof(int32_t)},
};
#define N_ENTRIES ((int32_t)(sizeof entries / sizeof entries[0]))

/* The index of name in entries, or -1. */
static int32_t find(const char *name) {
    for (int32_t i = 0; i < N_ENTRIES; i++)
        if (strcmp(entries[i].name, name) == 0) return i;
    return -1;
}

int32_t s2_scorer_count(void) { return N_ENTRIES; }
const char *s2_scorer_name_at(int32_t i) { return i >= 0 && i < N_ENTRIES ? entries[i].name : NULL; }
const char *s2_scorer_summary_at(int32_t i) { return i >= 0 && i < N_ENTRIES ? entries[i].summary : NULL; }
const s2_param_def *s2_scorer_params_at(int32_t i, int32_t *n) {
    *n = i >= 0 && i < N_ENTRIES ? entries[i].n_defs : 0;
    return i >= 0 && i < N_ENTRIES ? entries[i].defs : NULL;
}

const void *s2_scorer_params(const s2_scorer *sc, const s2_param_def **defs, int32_t *n) {
    *defs = s2_scorer_params_at(find(sc->iface->name), n);
    return sc->ctx;
}

s2_status s2_scorer_create(const char *name, const char *const *keys, const char *const *vals, int32_t n,
                           bool *used, s2_scorer **out, s2_error *err) {
    *out = NULL;
    int32_t e = find(name);
    if (e < 0) return s2_error_set(err, S2_E_ARG, "unknown scorer '%s' (see sys2 strategies)", name);
    union {
        s2_logprob_params lp;
        s2_selfeval_params se;
        s2_value_params v;
    } p;
    s2_status st = s2_params_parse(entries[e].defs, entries[e].n_defs, &p, sizeof p, "scorer", name, keys, vals, n,
                                   used, err);
    if (st != S2_OK) return st;
    switch (e) {
    case 0: return s2_scorer_logprob_init(&p.lp, out, err);
    case 1: return s2_scorer_verify_init(out, err);
    case 2: return s2_scorer_oracle_init(out, err);
    case 3: return s2_scorer_value_init(&p.v, out, err);
    case 4: return s2_scorer_selfeval_init(&p.se, out, err);
    default: return s2_scorer_pairwise_init(out, err);
    }
}
