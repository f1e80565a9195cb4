/* report.h: what a result file says after the run, computed from the file alone: scaling curves from the samples
 * of each item (pass@k, majority@k, weighted best-of-N@k with bootstrap intervals), and paired comparisons of two
 * runs on the items both ran (accuracy difference with a paired bootstrap interval, McNemar's exact test, the
 * discordant ids, accuracy at matched compute). Library code: nothing here prints; `sys2 report --curves` and
 * `--compare` (cli/cmd_curves.c) format what it returns.
 *
 * Estimators:
 *   pass@k      Chen et al. 2021, unbiased: 1 - C(n-c, k) / C(n, k) per item (n samples, c correct), averaged.
 *   majority@k  the answer most of k samples reach wins (s2_vote with the run's tie rule, abstentions skipped);
 *               per item the mean over subsets of k of its n samples (generation order kept inside a subset):
 *               every subset when there are at most `subsets` of them, else `subsets` random ones; k = n is the
 *               run's own vote.
 *   wbon@k      weighted best-of-N (search-and-learn): the same vote with each sample weighted by its score, or
 *               exp(mean token log-prob) when the run did not score its samples.
 *   tokens@k    k / n of the item's tokens (samples are drawn alike), averaged over items; flops the same.
 *   intervals   95% percentile bootstrap over items (the per-item values resampled with replacement). */
#ifndef S2_REPORT_H
#define S2_REPORT_H

#include "search.h"

/* ---- result files ---- */

typedef struct s2_report_item {
    char *id;
    bool correct;
    double reward, tokens, flops;
    int32_t n;                    /* samples (0: the line has none) */
    char **answer;                /* (n) vote keys, NULL = no answer */
    bool *ok;                     /* (n) the sample is correct */
    double *weight;               /* (n) score, or exp(lp) when the sample was not scored */
    double *spent;                /* (n) the item's tokens when the sample was finished */
} s2_report_item;

typedef struct s2_report_file {
    char *path;
    char *task, *split, *search, *scorer, *budget, *model, *value; /* from the configuration line ("" if absent) */
    int64_t seed;
    int32_t tie;                  /* s2_tie of the run's vote (sc's "tie"; earliest otherwise) */
    bool scored;                  /* every sample carries a score (wbon weights are scores, not exp(lp)) */
    s2_report_item *items;
    int32_t n_items;
} s2_report_file;

/* Reads a result file (its configuration line, then one line per item; a torn last line is ignored). A
 * malformed line is S2_E_FORMAT naming path:line. *out owns everything: s2_report_file_free. */
s2_status s2_report_load(const char *path, s2_report_file **out, s2_error *err);
void s2_report_file_free(s2_report_file *f); /* NULL is a no-op */

/* ---- curves ---- */

/* The unbiased pass@k of one item with n samples of which c are correct (k > n: all n samples, so c > 0). */
double s2_pass_at_k(int32_t n, int32_t c, int32_t k);

typedef struct s2_curves_params {
    int32_t boot;                 /* bootstrap resamples (default 1000) */
    int32_t subsets;              /* subsets of k per item for majority@k and wbon@k (default 200) */
    uint64_t seed;                /* of the subsets and the bootstrap (default 1) */
} s2_curves_params;
s2_curves_params s2_curves_default_params(void);

typedef struct s2_stat { double mean, lo, hi; } s2_stat; /* a mean over items and its 95% interval */

typedef struct s2_curve_point {
    int32_t k;
    s2_stat pass, maj, wbon;
    double tokens, flops;         /* mean per item at k samples */
} s2_curve_point;

/* Points at k = 1, 2, 4, ... and the largest n of any item. *out (malloc'd, *n_out points) is the caller's to
 * free(). S2_E_ARG when no item has samples. params may be NULL (defaults). */
s2_status s2_report_curves(const s2_report_file *f, const s2_curves_params *params, s2_curve_point **out,
                           int32_t *n_out, s2_error *err);

/* ---- paired comparison ---- */

/* Two-sided exact McNemar p-value for b and c discordant pairs: min(1, 2 P(X <= min(b, c))), X ~ Bin(b + c, 1/2). */
double s2_mcnemar_exact(int32_t b, int32_t c);

typedef struct s2_compare {
    int32_t n;                    /* items both ran (paired by id) */
    int32_t correct_a, correct_b;
    int32_t only_a, only_b;       /* discordant pairs: solved by A only, by B only */
    char **ids_only_a, **ids_only_b; /* their ids (borrowed from the files: valid while they are) */
    double acc_a, acc_b;
    s2_stat diff;                 /* acc_a - acc_b, paired bootstrap interval */
    double p_mcnemar;
    double tokens_a, tokens_b, flops_a, flops_b; /* means over the paired items */
} s2_compare;

/* Pairs a and b on their item ids. S2_E_ARG when they share no item. params: boot and seed are used (NULL:
 * defaults). Free with s2_compare_clear. */
s2_status s2_report_compare(const s2_report_file *a, const s2_report_file *b, const s2_curves_params *params,
                            s2_compare *out, s2_error *err);
void s2_compare_clear(s2_compare *c);

/* Linear interpolation of y over log(x) between the two points of (x, y) that bracket x0 (xs need not be
 * sorted); NAN when x0 is outside [min x, max x]. The matched-compute accuracy of `--compare`. */
double s2_interp_logx(const double *x, const double *y, int32_t n, double x0);

#endif
