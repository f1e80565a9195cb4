/* cmd_curves.c: `sys2 report --curves` (pass@k, majority@k, weighted best-of-N@k from the samples of result
 * files, as a table and a plot) and `sys2 report --compare` (two runs paired on their items). The numbers come
 * from search/report.c; this file formats them. cmd_report (cmd_run.c) hands these two modes over here. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plot.h"
#include "report.h"

typedef struct curves_opts {
    int fmt; /* 0 text, 1 Markdown, 2 JSON */
    const char *plot;
    s2_curves_params cp;
    char **files;
    int n_files;
} curves_opts;

/* Flags shared by --curves and --compare; returns 0, or an exit status (usage errors printed). */
static int parse(const char *what, int argc, char **argv, curves_opts *o) {
    o->cp = s2_curves_default_params();
    o->files = calloc((size_t)argc, sizeof *o->files);
    if (o->files == NULL) return 1;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        int64_t x;
        if (strcmp(argv[i], what) == 0) continue;
        if (strcmp(argv[i], "--md") == 0)
            o->fmt = 1;
        else if (strcmp(argv[i], "--json") == 0)
            o->fmt = 2;
        else if (cli_flag(argc, argv, &i, "--plot", NULL, &v, &bad))
            o->plot = v;
        else if (cli_flag(argc, argv, &i, "--boot", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &x) || x < 0 || x > 1000000))
                return cli_usage("report", "--boot wants 0..1000000");
            o->cp.boot = (int32_t)x;
        } else if (cli_flag(argc, argv, &i, "--seed", NULL, &v, &bad)) {
            if (!bad && !cli_parse_i64(v, &x)) return cli_usage("report", "--seed wants an integer");
            o->cp.seed = (uint64_t)x;
        } else if (argv[i][0] == '-')
            return cli_usage("report", "unknown option '%s' with %s", argv[i], what);
        else
            o->files[o->n_files++] = argv[i];
        if (bad) return 2;
    }
    return 0;
}

static json_t *stat_json(const s2_stat *s) {
    return json_pack("{s:f, s:f, s:f}", "mean", s->mean, "lo", s->lo, "hi", s->hi);
}

/* ---- --curves ---- */

typedef struct curve_set {
    s2_report_file *f;
    s2_curve_point *pts;
    int32_t n;
} curve_set;

static void file_title(const s2_report_file *f, char *buf, size_t cap) {
    cli_plot_title(buf, cap, f->task, f->split, f->n_items, (long long)f->seed, f->model, f->value);
}

/* Two figures: PREFIX (against k, log2 x) and PREFIX_tokens (against mean tokens per item, log x). */
static int plot_curves(const curve_set *cs, int n, const char *prefix) {
    static const char *metric[3] = {"pass@k", "majority@k", "weighted BoN@k"};
    char dat[1024], gp[1024], px[1024];
    snprintf(dat, sizeof dat, "%s.dat", prefix);
    snprintf(gp, sizeof gp, "%s.gp", prefix);
    FILE *f = fopen(dat, "w");
    if (f == NULL) {
        perror(dat);
        return 1;
    }
    double ymin = 100, ymax = 0;
    for (int s = 0; s < n; s++) /* one block per file: k tokens then mean lo hi for each metric */
        for (int32_t q = 0; q < cs[s].n; q++) {
            const s2_curve_point *p = &cs[s].pts[q];
            const s2_stat *st[3] = {&p->pass, &p->maj, &p->wbon};
            fprintf(f, "%d %g", p->k, p->tokens > 0 ? p->tokens : 1);
            for (int m = 0; m < 3; m++) {
                fprintf(f, " %g %g %g", 100 * st[m]->mean, 100 * st[m]->lo, 100 * st[m]->hi);
                ymin = fmin(ymin, 100 * st[m]->lo);
                ymax = fmax(ymax, 100 * st[m]->hi);
            }
            fprintf(f, q + 1 == cs[s].n ? "\n\n\n" : "\n");
        }
    fclose(f);
    if ((f = fopen(gp, "w")) == NULL) {
        perror(gp);
        return 1;
    }
    char title[600], esc[700];
    if (n == 1)
        file_title(cs[0].f, title, sizeof title);
    else
        snprintf(title, sizeof title, "%s (%s), %d runs, seed %lld", cs[0].f->task, cs[0].f->split, n,
                 (long long)cs[0].f->seed);
    for (int fig = 0; fig < 2; fig++) {
        snprintf(px, sizeof px, "%s%s", prefix, fig ? "_tokens" : "");
        for (int t = 0; t < 2; t++) {
            cli_plot_begin(f, t, px, title);
            if (fig == 0)
                fprintf(f, "set logscale x 2\nset xlabel 'samples per item k (log scale)'\n");
            else
                fprintf(f, "set logscale x\nset xlabel 'mean tokens per item (log scale)'\n");
            fprintf(f, "set ylabel 'accuracy (%%), bands: 95%% bootstrap over items'\nset style fill transparent solid "
                       "0.15 noborder\n");
            cli_plot_yrange(f, ymin, ymax);
            fprintf(f, "plot ");
            int series = 0;
            for (int s = 0; s < n; s++)
                for (int m = 0; m < 3; m++, series++) {
                    int c = 3 + 3 * m, x = fig ? 2 : 1; /* columns: k tokens, then mean lo hi per metric */
                    const char *col = cli_plot_color(n == 1 ? m : series);
                    char lab[400];
                    if (n == 1)
                        snprintf(lab, sizeof lab, "%s", metric[m]);
                    else
                        snprintf(lab, sizeof lab, "%s %s", cli_plot_escape(cs[s].f->path, esc, sizeof esc), metric[m]);
                    fprintf(f,
                            "%s'%s' index %d using %d:%d:%d with filledcurves lc rgb '%s' notitle, "
                            "'%s' index %d using %d:%d with linespoints lw 2 pt %d ps 1.2 lc rgb '%s' title '%s'",
                            series ? ", " : "", dat, s, x, c + 1, c + 2, col, dat, s, x, c, cli_plot_point(series), col,
                            cli_plot_escape(lab, esc, sizeof esc));
                }
            fprintf(f, "\nunset logscale x\n");
        }
    }
    fclose(f);
    int rc = cli_plot_run("report", gp, prefix);
    if (rc == 0) fprintf(stderr, "wrote %s_tokens.png and %s_tokens.svg\n", prefix, prefix);
    return rc;
}

static int curves_main(int argc, char **argv) {
    curves_opts o = {0};
    int rc = parse("--curves", argc, argv, &o);
    if (rc == 0 && o.n_files == 0) rc = cli_usage("report", "--curves: no result files given");
    curve_set *cs = calloc((size_t)(o.n_files > 0 ? o.n_files : 1), sizeof *cs);
    if (rc == 0 && cs == NULL) rc = 1;
    for (int i = 0; rc == 0 && i < o.n_files; i++) {
        s2_error err = {0};
        s2_status st = s2_report_load(o.files[i], &cs[i].f, &err);
        if (st == S2_OK) st = s2_report_curves(cs[i].f, &o.cp, &cs[i].pts, &cs[i].n, &err);
        if (st != S2_OK) rc = cli_fail("report", &err);
    }
    if (rc == 0 && o.fmt == 2) {
        json_t *a = json_array();
        for (int i = 0; i < o.n_files; i++) {
            json_t *pts = json_array();
            for (int32_t q = 0; q < cs[i].n; q++) {
                const s2_curve_point *p = &cs[i].pts[q];
                json_array_append_new(pts, json_pack("{s:i, s:o, s:o, s:o, s:f, s:f, s:f}", "k", p->k, "pass",
                                                     stat_json(&p->pass), "majority", stat_json(&p->maj), "wbon",
                                                     stat_json(&p->wbon), "gap", p->pass.mean - p->maj.mean, "tokens",
                                                     p->tokens, "flops", p->flops));
            }
            json_array_append_new(a,
                                  json_pack("{s:s, s:s, s:s, s:i, s:s, s:o}", "file", cs[i].f->path, "task",
                                            cs[i].f->task, "search", cs[i].f->search, "items", cs[i].f->n_items,
                                            "weights", cs[i].f->scored ? "score" : "exp(mean logprob)", "points", pts));
        }
        char *s = json_dumps(a, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(a);
    } else if (rc == 0) {
        for (int i = 0; i < o.n_files; i++) {
            char title[600];
            file_title(cs[i].f, title, sizeof title);
            printf("%s%s%s: %s, %s; wbon weights: %s\n", o.fmt == 1 ? "**" : "", cs[i].f->path, o.fmt == 1 ? "**" : "",
                   cs[i].f->search, title, cs[i].f->scored ? "the scorer's scores" : "exp(mean token log-prob)");
            if (o.fmt == 1)
                printf("\n| k | pass@k | 95%% CI | majority@k | 95%% CI | weighted BoN@k | 95%% CI | pass - maj | "
                       "tokens/item | FLOPs/item |\n|---:|---:|---|---:|---|---:|---|---:|---:|---:|\n");
            else
                printf("%5s %7s %-13s %7s %-13s %7s %-13s %7s %11s %10s\n", "k", "pass@k", "95% CI", "maj@k", "95% CI",
                       "wbon@k", "95% CI", "gap", "tokens", "FLOPs");
            for (int32_t q = 0; q < cs[i].n; q++) {
                const s2_curve_point *p = &cs[i].pts[q];
                char c[3][32];
                const s2_stat *st[3] = {&p->pass, &p->maj, &p->wbon};
                for (int m = 0; m < 3; m++) snprintf(c[m], sizeof c[m], "%.1f-%.1f", 100 * st[m]->lo, 100 * st[m]->hi);
                if (o.fmt == 1)
                    printf("| %d | %.1f | %s | %.1f | %s | %.1f | %s | %.1f | %.0f | %.3g |\n", p->k,
                           100 * p->pass.mean, c[0], 100 * p->maj.mean, c[1], 100 * p->wbon.mean, c[2],
                           100 * (p->pass.mean - p->maj.mean), p->tokens, p->flops);
                else
                    printf("%5d %7.1f %-13s %7.1f %-13s %7.1f %-13s %7.1f %11.0f %10.3g\n", p->k, 100 * p->pass.mean,
                           c[0], 100 * p->maj.mean, c[1], 100 * p->wbon.mean, c[2], 100 * (p->pass.mean - p->maj.mean),
                           p->tokens, p->flops);
            }
            printf("\n");
        }
    }
    if (rc == 0 && o.plot) rc = plot_curves(cs, o.n_files, o.plot);
    for (int i = 0; cs && i < o.n_files; i++) {
        s2_report_file_free(cs[i].f);
        free(cs[i].pts);
    }
    free(cs);
    free(o.files);
    return rc;
}

/* ---- --compare ---- */

/* One side: a comma-separated list of files. Its (tokens, accuracy) points for matched compute: one per file,
 * or, for a single file with samples, its majority@k curve. */
typedef struct side {
    s2_report_file *f[32];
    int n;
    double x[64], y[64];
    int np;
} side;

static int load_side(char *list, side *s, const s2_curves_params *cp) {
    for (char *tok = strtok(list, ","); tok && s->n < 32; tok = strtok(NULL, ",")) {
        s2_error err = {0};
        if (s2_report_load(tok, &s->f[s->n], &err) != S2_OK) return cli_fail("report", &err);
        s->n++;
    }
    if (s->n == 0) return cli_usage("report", "--compare: an empty file list");
    for (int i = 0; i < s->n; i++) {
        int32_t c = 0;
        double t = 0;
        for (int32_t j = 0; j < s->f[i]->n_items; j++) {
            c += s->f[i]->items[j].correct;
            t += s->f[i]->items[j].tokens;
        }
        if (s->f[i]->n_items > 0 && s->np < 64) {
            s->x[s->np] = t / s->f[i]->n_items;
            s->y[s->np++] = (double)c / s->f[i]->n_items;
        }
    }
    s2_curve_point *pts = NULL;
    int32_t np = 0;
    s2_error err = {0};
    if (s->n == 1 && s2_report_curves(s->f[0], cp, &pts, &np, &err) == S2_OK) {
        s->np = 0;
        for (int32_t q = 0; q < np && s->np < 64; q++) {
            s->x[s->np] = pts[q].tokens;
            s->y[s->np++] = pts[q].maj.mean;
        }
        free(pts);
    }
    return 0;
}

static void print_ids(const char *label, char **ids, int32_t n, int fmt) {
    printf(fmt == 1 ? "- %s (%d):" : "%s (%d):", label, n);
    for (int32_t i = 0; i < n; i++) printf(" %s", ids[i]);
    printf("\n");
}

static int compare_main(int argc, char **argv) {
    curves_opts o = {0};
    int rc = parse("--compare", argc, argv, &o);
    if (rc == 0 && o.n_files != 2)
        rc = cli_usage("report", "--compare wants two result files (or two comma-separated lists), got %d", o.n_files);
    side a = {0}, b = {0};
    char *la = rc == 0 ? strdup(o.files[0]) : NULL, *lb = rc == 0 ? strdup(o.files[1]) : NULL;
    if (rc == 0) rc = load_side(la, &a, &o.cp);
    if (rc == 0) rc = load_side(lb, &b, &o.cp);
    s2_compare c = {0};
    s2_error err = {0};
    if (rc == 0 && s2_report_compare(a.f[0], b.f[0], &o.cp, &c, &err) != S2_OK) rc = cli_fail("report", &err);
    if (rc == 0) {
        /* matched compute: each side's accuracy at the other's mean tokens (paired files' own means) */
        double a_at_b = s2_interp_logx(a.x, a.y, a.np, c.tokens_b), b_at_a = s2_interp_logx(b.x, b.y, b.np, c.tokens_a);
        if (o.fmt == 2) {
            json_t *ia = json_array(), *ib = json_array();
            for (int32_t i = 0; i < c.only_a; i++) json_array_append_new(ia, json_string(c.ids_only_a[i]));
            for (int32_t i = 0; i < c.only_b; i++) json_array_append_new(ib, json_string(c.ids_only_b[i]));
            json_t *j =
                json_pack("{s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:o, s:f, s:i, s:i, s:o, s:o, s:f, s:f, s:f, s:f}", "a",
                          a.f[0]->path, "b", b.f[0]->path, "n", c.n, "correct_a", c.correct_a, "correct_b", c.correct_b,
                          "acc_a", c.acc_a, "acc_b", c.acc_b, "diff", stat_json(&c.diff), "p_mcnemar", c.p_mcnemar,
                          "only_a", c.only_a, "only_b", c.only_b, "ids_only_a", ia, "ids_only_b", ib, "tokens_a",
                          c.tokens_a, "tokens_b", c.tokens_b, "flops_a", c.flops_a, "flops_b", c.flops_b);
            json_object_set_new(j, "acc_a_at_tokens_b", isnan(a_at_b) ? json_null() : json_real(a_at_b));
            json_object_set_new(j, "acc_b_at_tokens_a", isnan(b_at_a) ? json_null() : json_real(b_at_a));
            char *s = json_dumps(j, JSON_INDENT(2));
            printf("%s\n", s);
            free(s);
            json_decref(j);
        } else {
            const char *bar = o.fmt == 1 ? "|" : "";
            printf("A = %s (%s)\nB = %s (%s)\n%d items in both\n\n", a.f[0]->path, a.f[0]->search, b.f[0]->path,
                   b.f[0]->search, c.n);
            if (o.fmt == 1) printf("| | A | B |\n|---|---:|---:|\n");
            printf("%s %-22s %s %9.1f%% %s %9.1f%% %s\n", bar, "accuracy", bar, 100 * c.acc_a, bar, 100 * c.acc_b, bar);
            printf("%s %-22s %s %10d %s %10d %s\n", bar, "correct", bar, c.correct_a, bar, c.correct_b, bar);
            printf("%s %-22s %s %10.0f %s %10.0f %s\n", bar, "tokens/item", bar, c.tokens_a, bar, c.tokens_b, bar);
            printf("%s %-22s %s %10.3g %s %10.3g %s\n", bar, "FLOPs/item", bar, c.flops_a, bar, c.flops_b, bar);
            printf("%s %-22s %s %10d %s %10d %s\n\n", bar, "solved by this one only", bar, c.only_a, bar, c.only_b,
                   bar);
            printf("%sA - B = %+.1f points, 95%% paired bootstrap %+.1f to %+.1f; McNemar exact p = %.4g (%d vs %d "
                   "discordant)\n",
                   o.fmt == 1 ? "- " : "", 100 * c.diff.mean, 100 * c.diff.lo, 100 * c.diff.hi, c.p_mcnemar, c.only_a,
                   c.only_b);
            print_ids("only A", c.ids_only_a, c.only_a, o.fmt);
            print_ids("only B", c.ids_only_b, c.only_b, o.fmt);
            if (isnan(a_at_b))
                printf("%sA at B's %.0f tokens: outside A's budgets\n", o.fmt == 1 ? "- " : "", c.tokens_b);
            else
                printf("%sA at B's %.0f tokens: %.1f%% (B: %.1f%%)\n", o.fmt == 1 ? "- " : "", c.tokens_b, 100 * a_at_b,
                       100 * c.acc_b);
            if (isnan(b_at_a))
                printf("%sB at A's %.0f tokens: outside B's budgets\n", o.fmt == 1 ? "- " : "", c.tokens_a);
            else
                printf("%sB at A's %.0f tokens: %.1f%% (A: %.1f%%)\n", o.fmt == 1 ? "- " : "", c.tokens_a, 100 * b_at_a,
                       100 * c.acc_a);
        }
    }
    s2_compare_clear(&c);
    for (int i = 0; i < a.n; i++) s2_report_file_free(a.f[i]);
    for (int i = 0; i < b.n; i++) s2_report_file_free(b.f[i]);
    free(la);
    free(lb);
    free(o.files);
    return rc;
}

int cli_report_mode(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--curves") == 0) return curves_main(argc, argv);
        if (strcmp(argv[i], "--compare") == 0) return compare_main(argc, argv);
    }
    return -1;
}
