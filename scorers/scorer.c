/* scorer.c: the scorer wrappers, key=value parameter tables, step-score aggregation and votes over answers.
 * Nothing here touches a model: the scorers that do live in their own files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorer.h"

/* ---- parameters ---- */

static int32_t *int_at(void *base, const s2_param_def *d) { return (int32_t *)((char *)base + d->offset); }
static double *dbl_at(void *base, const s2_param_def *d) { return (double *)((char *)base + d->offset); }

void s2_params_defaults(const s2_param_def *defs, int32_t n, void *base) {
    for (int32_t i = 0; i < n; i++) {
        if (defs[i].type == S2_PARAM_FLOAT) *dbl_at(base, &defs[i]) = defs[i].dflt;
        else *int_at(base, &defs[i]) = (int32_t)defs[i].dflt;
    }
}

/* The index of word in "a|b|c", or -1. */
static int32_t choice_index(const char *choices, const char *word) {
    size_t wl = strlen(word);
    int32_t idx = 0;
    for (const char *p = choices; p != NULL; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == wl && strncmp(p, word, wl) == 0) return idx;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

int s2_params_set(const s2_param_def *defs, int32_t n, void *base, const char *key, const char *value,
                  s2_error *err) {
    for (int32_t i = 0; i < n; i++) {
        const s2_param_def *d = &defs[i];
        if (strcmp(d->key, key) != 0) continue;
        char *end = NULL;
        if (d->type == S2_PARAM_ENUM) {
            int32_t k = choice_index(d->choices, value);
            if (k < 0) return s2_error_set(err, S2_E_ARG, "%s=%s: not one of %s", key, value, d->choices);
            *int_at(base, d) = k;
            return S2_OK;
        }
        double v = strtod(value, &end);
        if (value[0] == '\0' || *end != '\0' || !isfinite(v))
            return s2_error_set(err, S2_E_ARG, "%s=%s: not a number", key, value);
        if (d->type == S2_PARAM_INT && v != floor(v))
            return s2_error_set(err, S2_E_ARG, "%s=%s: not a whole number", key, value);
        if (v < d->lo || v > d->hi)
            return s2_error_set(err, S2_E_ARG, "%s=%s: not in [%g, %g]", key, value, d->lo, d->hi);
        if (d->type == S2_PARAM_INT) *int_at(base, d) = (int32_t)v;
        else *dbl_at(base, d) = v;
        return S2_OK;
    }
    return 1;
}

void s2_params_format(const s2_param_def *d, const void *base, char *buf, size_t cap) {
    void *b = (void *)(uintptr_t)base;
    if (d->type == S2_PARAM_FLOAT) {
        snprintf(buf, cap, "%g", *dbl_at(b, d));
    } else if (d->type == S2_PARAM_INT) {
        snprintf(buf, cap, "%d", *int_at(b, d));
    } else {
        int32_t k = *int_at(b, d);
        const char *p = d->choices;
        for (int32_t i = 0; i < k && p != NULL; i++) {
            p = strchr(p, '|');
            if (p) p++;
        }
        const char *bar = p ? strchr(p, '|') : NULL;
        size_t len = p == NULL ? 0 : bar ? (size_t)(bar - p) : strlen(p);
        snprintf(buf, cap, "%.*s", (int)len, p ? p : "");
    }
}

s2_status s2_params_parse(const s2_param_def *defs, int32_t n_defs, void *base, size_t size, const char *what,
                          const char *name, const char *const *keys, const char *const *vals, int32_t n, bool *used,
                          s2_error *err) {
    memset(base, 0, size);
    s2_params_defaults(defs, n_defs, base);
    for (int32_t k = 0; k < n; k++) {
        int r = s2_params_set(defs, n_defs, base, keys[k], vals[k], err);
        if (r < 0) return s2_error_prefix(err, name);
        if (r == 0 && used) used[k] = true;
        if (r == 1 && used == NULL) return s2_error_set(err, S2_E_ARG, "%s %s has no parameter '%s'", what, name, keys[k]);
    }
    return S2_OK;
}

/* ---- the wrappers ---- */

s2_status s2_scorer_new(const struct s2_scorer_i *iface, void *ctx, s2_scorer **out, s2_error *err) {
    *out = NULL;
    S2_ASSERT(iface != NULL && iface->name != NULL && iface->score != NULL);
    s2_scorer *sc = malloc(sizeof *sc);
    if (sc == NULL) {
        if (iface->free == NULL) free(ctx);
        return s2_error_set(err, S2_E_NOMEM, "scorer %s: out of memory", iface->name);
    }
    sc->iface = iface;
    sc->ctx = ctx;
    *out = sc;
    return S2_OK;
}

void s2_scorer_free(s2_scorer *sc) {
    if (sc == NULL) return;
    if (sc->iface->free) sc->iface->free(sc);
    else free(sc->ctx);
    free(sc);
}

s2_status s2_scorer_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err) {
    return sc->iface->score(sc, in, out, err);
}

s2_status s2_scorer_score_many(s2_scorer *sc, const s2_score_in *in, int32_t n, double *out, s2_error *err) {
    if (sc->iface->score_many != NULL && n > 1) return sc->iface->score_many(sc, in, n, out, err);
    for (int32_t i = 0; i < n; i++) {
        s2_status st = sc->iface->score(sc, &in[i], &out[i], err);
        if (st != S2_OK) return st;
    }
    return S2_OK;
}

bool s2_scorer_can_compare(const s2_scorer *sc) { return sc->iface->compare != NULL; }

s2_status s2_scorer_compare(s2_scorer *sc, const s2_score_in *a, const s2_score_in *b, double *p_a, s2_error *err) {
    if (sc->iface->compare == NULL)
        return s2_error_set(err, S2_E_UNSUPPORTED, "scorer %s cannot compare two candidates", sc->iface->name);
    return sc->iface->compare(sc, a, b, p_a, err);
}

/* ---- step-score aggregation ---- */

double s2_agg_step(s2_agg agg, double parent_agg, double own, int32_t depth) {
    if (depth <= 1) return own;
    switch (agg) {
    case S2_AGG_MIN: return own < parent_agg ? own : parent_agg;
    case S2_AGG_PRODUCT: return own * parent_agg;
    case S2_AGG_MEAN: return (parent_agg * (depth - 1) + own) / depth;
    case S2_AGG_LAST:
    default: return own;
    }
}

/* ---- votes ---- */

int32_t s2_vote(const char *const *answers, const double *weights, int32_t n, s2_tie tie, double *votes) {
    int32_t best = -1;
    double best_w = 0;
    for (int32_t i = 0; i < n; i++) {
        if (answers[i] == NULL) continue;
        bool seen = false; /* count each distinct answer once, at its first occurrence */
        for (int32_t j = 0; j < i && !seen; j++) seen = answers[j] != NULL && strcmp(answers[j], answers[i]) == 0;
        if (seen) continue;
        double w = 0;
        for (int32_t j = i; j < n; j++)
            if (answers[j] != NULL && strcmp(answers[j], answers[i]) == 0) w += weights ? weights[j] : 1.0;
        bool wins = best < 0 || w > best_w;
        if (!wins && w == best_w && tie == S2_TIE_LOWEST) wins = strcmp(answers[i], answers[best]) < 0;
        if (wins) {
            best = i;
            best_w = w;
        }
    }
    if (votes) *votes = best < 0 ? 0 : best_w;
    return best;
}
