/* report.c: result files read back, scaling curves from their samples, paired comparisons (see report.h). Never
 * prints; every number comes from the file alone. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* ---- reading ---- */

static char *dup_str(const char *s) { return strdup(s ? s : ""); }

static void item_clear(s2_report_item *it) {
    free(it->id);
    for (int32_t j = 0; it->answer && j < it->n; j++) free(it->answer[j]);
    free(it->answer);
    free(it->ok);
    free(it->weight);
    free(it->spent);
}

void s2_report_file_free(s2_report_file *f) {
    if (f == NULL) return;
    for (int32_t i = 0; i < f->n_items; i++) item_clear(&f->items[i]);
    free(f->items);
    free(f->path);
    free(f->task);
    free(f->split);
    free(f->search);
    free(f->scorer);
    free(f->budget);
    free(f->model);
    free(f->value);
    free(f);
}

static const char *model_path(json_t *m) {
    const char *p = json_string_value(json_object_get(m, "path"));
    return p ? p : json_string_value(json_object_get(m, "url"));
}

/* The samples columns of one line into it; *all_scored is cleared when a sample has no score. */
static s2_status read_samples(json_t *s, s2_report_item *it, bool *all_scored, const char *where, s2_error *err) {
    json_t *ans = json_object_get(s, "answer"), *cor = json_object_get(s, "correct"),
           *sco = json_object_get(s, "score"), *lp = json_object_get(s, "lp"), *tok = json_object_get(s, "tokens");
    size_t n = json_array_size(ans);
    if (!json_is_array(ans) || !json_is_array(cor) || json_array_size(cor) != n || (sco && json_array_size(sco) != n) ||
        (lp && json_array_size(lp) != n) || (tok && json_array_size(tok) != n) || n > (size_t)INT32_MAX)
        return s2_error_set(err, S2_E_FORMAT, "%s: samples: answer and correct must be arrays of one length", where);
    it->n = (int32_t)n;
    size_t m = n > 0 ? n : 1;
    it->answer = calloc(m, sizeof *it->answer);
    it->ok = calloc(m, sizeof *it->ok);
    it->weight = calloc(m, sizeof *it->weight);
    it->spent = calloc(m, sizeof *it->spent);
    if (!it->answer || !it->ok || !it->weight || !it->spent)
        return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", where);
    for (size_t j = 0; j < n; j++) {
        json_t *a = json_array_get(ans, j), *sc = sco ? json_array_get(sco, j) : NULL;
        if (!json_is_string(a) && !json_is_null(a))
            return s2_error_set(err, S2_E_FORMAT, "%s: samples.answer[%zu] is neither a string nor null", where, j);
        if (json_is_string(a) && (it->answer[j] = strdup(json_string_value(a))) == NULL)
            return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", where);
        json_t *c = json_array_get(cor, j);
        it->ok[j] = json_is_true(c) || (json_is_integer(c) && json_integer_value(c) != 0);
        if (json_is_number(sc)) {
            it->weight[j] = json_number_value(sc);
        } else {
            *all_scored = false;
            it->weight[j] = lp ? exp(json_number_value(json_array_get(lp, j))) : 1;
        }
        it->spent[j] = tok ? json_number_value(json_array_get(tok, j)) : 0;
    }
    return S2_OK;
}

s2_status s2_report_load(const char *path, s2_report_file **out, s2_error *err) {
    *out = NULL;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
    s2_report_file *f = calloc(1, sizeof *f);
    s2_status st = f ? S2_OK : s2_error_set(err, S2_E_NOMEM, "%s: out of memory", path);
    if (st == S2_OK) f->path = strdup(path);
    char *line = NULL, where[600];
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    int32_t cap_items = 0;
    bool all_scored = true, any_samples = false;
    while (st == S2_OK && (len = getline(&line, &cap, fp)) > 0) {
        lineno++;
        snprintf(where, sizeof where, "%s:%lld", path, (long long)lineno);
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (o == NULL) {
            if (line[len - 1] != '\n') break; /* a torn last line of a running or killed run */
            st = s2_error_set(err, S2_E_FORMAT, "%s: %s", where, je.text);
            break;
        }
        if (lineno == 1) {
            json_t *c = json_object_get(o, "sys2_run");
            if (!json_is_object(c)) {
                st = s2_error_set(err, S2_E_FORMAT, "%s: not a sys2 result file (no sys2_run line)", where);
            } else {
                f->task = dup_str(json_string_value(json_object_get(c, "task")));
                f->split = dup_str(json_string_value(json_object_get(c, "split")));
                f->search = dup_str(json_string_value(json_object_get(c, "search")));
                f->scorer = dup_str(json_string_value(json_object_get(c, "scorer")));
                f->budget = dup_str(json_string_value(json_object_get(c, "budget")));
                f->model = dup_str(model_path(json_object_get(c, "model")));
                f->value = dup_str(model_path(json_object_get(c, "value")));
                f->seed = json_integer_value(json_object_get(c, "seed"));
                const char *tie = json_string_value(json_object_get(json_object_get(c, "params"), "tie"));
                f->tie = tie && strcmp(tie, "lowest") == 0 ? S2_TIE_LOWEST : S2_TIE_EARLIEST;
            }
        } else {
            const char *id = json_string_value(json_object_get(o, "id"));
            if (id == NULL) st = s2_error_set(err, S2_E_FORMAT, "%s: the line has no \"id\"", where);
            if (st == S2_OK && f->n_items == cap_items) {
                cap_items = cap_items ? 2 * cap_items : 64;
                s2_report_item *ni = realloc(f->items, (size_t)cap_items * sizeof *ni);
                if (ni == NULL)
                    st = s2_error_set(err, S2_E_NOMEM, "%s: out of memory", where);
                else
                    f->items = ni;
            }
            if (st == S2_OK) {
                s2_report_item *it = &f->items[f->n_items++];
                memset(it, 0, sizeof *it);
                it->id = strdup(id);
                it->correct = json_is_true(json_object_get(o, "correct"));
                it->reward = json_number_value(json_object_get(o, "reward"));
                it->tokens = json_number_value(json_object_get(o, "tokens"));
                it->flops = json_number_value(json_object_get(o, "flops"));
                json_t *s = json_object_get(o, "samples");
                if (s != NULL) {
                    any_samples = true;
                    st = json_is_object(s) ? read_samples(s, it, &all_scored, where, err)
                                           : s2_error_set(err, S2_E_FORMAT, "%s: \"samples\" is not an object", where);
                }
            }
        }
        json_decref(o);
    }
    free(line);
    fclose(fp);
    if (st == S2_OK && lineno == 0) st = s2_error_set(err, S2_E_FORMAT, "%s: empty", path);
    if (st != S2_OK) {
        s2_report_file_free(f);
        return st;
    }
    f->scored = any_samples && all_scored;
    *out = f;
    return S2_OK;
}

/* ---- curves ---- */

double s2_pass_at_k(int32_t n, int32_t c, int32_t k) {
    if (n <= 0 || c <= 0) return 0;
    if (k >= n || n - c < k) return 1;
    double q = 1; /* C(n-c, k) / C(n, k) = prod_{j=0}^{k-1} (n-c-j) / (n-j) */
    for (int32_t j = 0; j < k; j++) q *= (double)(n - c - j) / (double)(n - j);
    return 1 - q;
}

s2_curves_params s2_curves_default_params(void) { return (s2_curves_params){.boot = 1000, .subsets = 200, .seed = 1}; }

/* Whether the vote of samples idx[0..k) (in that order) picks a correct one; weights NULL = majority. As sc: the
 * winner is the first sample of the winning answer; no answer at all falls back to the first sample. */
static bool vote_ok(const s2_report_item *it, const int32_t *idx, int32_t k, bool weighted, s2_tie tie,
                    const char **keys, double *w) {
    for (int32_t j = 0; j < k; j++) {
        keys[j] = it->answer[idx[j]];
        w[j] = weighted ? it->weight[idx[j]] : 1;
    }
    int32_t win = s2_vote(keys, w, k, tie, NULL);
    return it->ok[idx[win >= 0 ? win : 0]];
}

static double binom(int32_t n, int32_t k) {
    double r = 1;
    for (int32_t j = 1; j <= k; j++) r = r * (n - k + j) / j;
    return r;
}

/* Mean of vote_ok over the item's subsets of size k (all of them, or `subsets` random ones). */
static double vote_at_k(const s2_report_item *it, int32_t k, bool weighted, s2_tie tie, int32_t subsets, s2_rng *rng,
                        int32_t *idx, const char **keys, double *w) {
    int32_t n = it->n;
    if (n == 0) return 0;
    if (k > n) k = n;
    double total = binom(n, k);
    int32_t acc = 0, m = 0;
    if (total <= subsets) { /* every subset: idx walks the combinations in lexicographic order */
        for (int32_t j = 0; j < k; j++) idx[j] = j;
        for (;;) {
            acc += vote_ok(it, idx, k, weighted, tie, keys, w);
            m++;
            int32_t j = k - 1;
            while (j >= 0 && idx[j] == n - k + j) j--;
            if (j < 0) break;
            idx[j]++;
            for (int32_t q = j + 1; q < k; q++) idx[q] = idx[q - 1] + 1;
        }
    } else { /* random subsets: Floyd's choice of k of n, then sorted back into generation order */
        bool *in = calloc((size_t)n, sizeof *in);
        if (in == NULL) return NAN;
        for (m = 0; m < subsets; m++) {
            memset(in, 0, (size_t)n * sizeof *in);
            for (int32_t j = n - k; j < n; j++) {
                int32_t t = (int32_t)(s2_rng_uniform(rng) * (j + 1));
                if (in[t]) t = j;
                in[t] = true;
            }
            int32_t q = 0;
            for (int32_t j = 0; j < n; j++)
                if (in[j]) idx[q++] = j;
            acc += vote_ok(it, idx, k, weighted, tie, keys, w);
        }
        free(in);
    }
    return (double)acc / m;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean of v over items and its bootstrap interval (boot resamples of the items). */
static s2_stat boot_mean(const double *v, int32_t n, int32_t boot, s2_rng *rng, double *scratch) {
    s2_stat s = {0};
    for (int32_t i = 0; i < n; i++) s.mean += v[i];
    s.mean /= n;
    for (int32_t b = 0; b < boot; b++) {
        double m = 0;
        for (int32_t i = 0; i < n; i++) m += v[(int32_t)(s2_rng_uniform(rng) * n)];
        scratch[b] = m / n;
    }
    s.lo = s.hi = s.mean;
    if (boot > 0) {
        qsort(scratch, (size_t)boot, sizeof *scratch, cmp_double);
        s.lo = scratch[(int32_t)floor(0.025 * (boot - 1))];
        s.hi = scratch[(int32_t)ceil(0.975 * (boot - 1))];
    }
    return s;
}

s2_status s2_report_curves(const s2_report_file *f, const s2_curves_params *params, s2_curve_point **out,
                           int32_t *n_out, s2_error *err) {
    *out = NULL;
    *n_out = 0;
    s2_curves_params p = params ? *params : s2_curves_default_params();
    if (p.boot < 0 || p.subsets < 1)
        return s2_error_set(err, S2_E_ARG, "curves: boot=%d, subsets=%d", p.boot, p.subsets);
    int32_t nmax = 0, ni = f->n_items;
    for (int32_t i = 0; i < ni; i++) nmax = f->items[i].n > nmax ? f->items[i].n : nmax;
    if (nmax == 0)
        return s2_error_set(err, S2_E_ARG,
                            "%s: no item has samples (a run of sc, bon or another "
                            "strategy that records its finished answers is needed)",
                            f->path);
    int32_t nk = 0;
    for (int32_t k = 1; k < nmax; k *= 2) nk++;
    nk++; /* nmax itself */
    s2_curve_point *pts = calloc((size_t)nk, sizeof *pts);
    double *vp = malloc((size_t)ni * sizeof *vp), *vm = malloc((size_t)ni * sizeof *vm),
           *vw = malloc((size_t)ni * sizeof *vw), *scratch = malloc((size_t)(p.boot + 1) * sizeof *scratch),
           *w = malloc((size_t)nmax * sizeof *w);
    int32_t *idx = malloc((size_t)nmax * sizeof *idx);
    const char **keys = malloc((size_t)nmax * sizeof *keys);
    s2_status st = pts && vp && vm && vw && scratch && w && idx && keys
                       ? S2_OK
                       : s2_error_set(err, S2_E_NOMEM, "curves: out of memory");
    s2_rng rng;
    s2_rng_seed(&rng, p.seed);
    for (int32_t q = 0; st == S2_OK && q < nk; q++) {
        int32_t k = q == nk - 1 ? nmax : 1 << q;
        s2_curve_point *pt = &pts[q];
        pt->k = k;
        for (int32_t i = 0; i < ni; i++) {
            const s2_report_item *it = &f->items[i];
            int32_t c = 0;
            for (int32_t j = 0; j < it->n; j++) c += it->ok[j];
            vp[i] = s2_pass_at_k(it->n, c, k);
            vm[i] = vote_at_k(it, k, false, (s2_tie)f->tie, p.subsets, &rng, idx, keys, w);
            vw[i] = vote_at_k(it, k, true, S2_TIE_EARLIEST, p.subsets, &rng, idx, keys, w);
            if (isnan(vm[i]) || isnan(vw[i])) st = s2_error_set(err, S2_E_NOMEM, "curves: out of memory");
            double share = it->n > 0 ? (double)(k < it->n ? k : it->n) / it->n : 1;
            pt->tokens += share * it->tokens / ni;
            pt->flops += share * it->flops / ni;
        }
        pt->pass = boot_mean(vp, ni, p.boot, &rng, scratch);
        pt->maj = boot_mean(vm, ni, p.boot, &rng, scratch);
        pt->wbon = boot_mean(vw, ni, p.boot, &rng, scratch);
    }
    free(vp);
    free(vm);
    free(vw);
    free(scratch);
    free(w);
    free(idx);
    free(keys);
    if (st != S2_OK) {
        free(pts);
        return st;
    }
    *out = pts;
    *n_out = nk;
    return S2_OK;
}

/* ---- paired comparison ---- */

double s2_mcnemar_exact(int32_t b, int32_t c) {
    int32_t n = b + c, m = b < c ? b : c;
    if (n == 0) return 1;
    double tail = 0; /* P(X <= m), X ~ Bin(n, 1/2), summed in logs so that n in the thousands stays finite */
    for (int32_t x = 0; x <= m; x++)
        tail += exp(lgamma(n + 1.0) - lgamma(x + 1.0) - lgamma(n - x + 1.0) - n * log(2.0));
    double p = 2 * tail;
    return p > 1 ? 1 : p;
}

static int cmp_item_id(const void *a, const void *b) {
    return strcmp(((const s2_report_item *const *)a)[0]->id, ((const s2_report_item *const *)b)[0]->id);
}

void s2_compare_clear(s2_compare *c) {
    free(c->ids_only_a);
    free(c->ids_only_b);
    memset(c, 0, sizeof *c);
}

s2_status s2_report_compare(const s2_report_file *a, const s2_report_file *b, const s2_curves_params *params,
                            s2_compare *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    s2_curves_params p = params ? *params : s2_curves_default_params();
    size_t na = (size_t)a->n_items, nb = (size_t)b->n_items;
    const s2_report_item **sb = malloc((nb > 0 ? nb : 1) * sizeof *sb);
    const s2_report_item **pa = malloc((na > 0 ? na : 1) * sizeof *pa), **pb = malloc((na > 0 ? na : 1) * sizeof *pb);
    out->ids_only_a = malloc((na > 0 ? na : 1) * sizeof *out->ids_only_a);
    out->ids_only_b = malloc((na > 0 ? na : 1) * sizeof *out->ids_only_b);
    double *d = malloc((na > 0 ? na : 1) * sizeof *d), *scratch = malloc((size_t)(p.boot + 1) * sizeof *scratch);
    s2_status st = sb && pa && pb && out->ids_only_a && out->ids_only_b && d && scratch
                       ? S2_OK
                       : s2_error_set(err, S2_E_NOMEM, "compare: out of memory");
    int32_t n = 0;
    if (st == S2_OK) {
        for (size_t i = 0; i < nb; i++) sb[i] = &b->items[i];
        qsort(sb, nb, sizeof *sb, cmp_item_id);
        for (size_t i = 0; i < na; i++) { /* A's order; an id twice in A (shards joined twice) counts once */
            const s2_report_item *key = &a->items[i], **hit = bsearch(&key, sb, nb, sizeof *sb, cmp_item_id);
            bool again = false;
            for (int32_t q = 0; q < n && !again; q++) again = strcmp(pa[q]->id, key->id) == 0;
            if (hit == NULL || again) continue;
            pa[n] = key;
            pb[n++] = *hit;
        }
        if (n == 0) st = s2_error_set(err, S2_E_ARG, "compare: %s and %s share no item id", a->path, b->path);
    }
    if (st == S2_OK) {
        out->n = n;
        for (int32_t i = 0; i < n; i++) {
            bool x = pa[i]->correct, y = pb[i]->correct;
            out->correct_a += x;
            out->correct_b += y;
            if (x && !y) out->ids_only_a[out->only_a++] = pa[i]->id;
            if (y && !x) out->ids_only_b[out->only_b++] = pb[i]->id;
            d[i] = (double)x - (double)y;
            out->tokens_a += pa[i]->tokens / n;
            out->tokens_b += pb[i]->tokens / n;
            out->flops_a += pa[i]->flops / n;
            out->flops_b += pb[i]->flops / n;
        }
        out->acc_a = (double)out->correct_a / n;
        out->acc_b = (double)out->correct_b / n;
        s2_rng rng;
        s2_rng_seed(&rng, p.seed);
        out->diff = boot_mean(d, n, p.boot, &rng, scratch); /* resampling items keeps each pair together */
        out->p_mcnemar = s2_mcnemar_exact(out->only_a, out->only_b);
    }
    free(sb);
    free(pa);
    free(pb);
    free(d);
    free(scratch);
    if (st != S2_OK) s2_compare_clear(out);
    return st;
}

double s2_interp_logx(const double *x, const double *y, int32_t n, double x0) {
    int32_t lo = -1, hi = -1; /* the nearest points at or below and at or above x0 */
    for (int32_t i = 0; i < n; i++) {
        if (!(x[i] > 0)) continue;
        if (x[i] <= x0 && (lo < 0 || x[i] > x[lo])) lo = i;
        if (x[i] >= x0 && (hi < 0 || x[i] < x[hi])) hi = i;
    }
    if (lo < 0 || hi < 0 || !(x0 > 0)) return NAN;
    if (x[lo] == x[hi]) return y[lo];
    double t = (log(x0) - log(x[lo])) / (log(x[hi]) - log(x[lo]));
    return y[lo] + t * (y[hi] - y[lo]);
}
