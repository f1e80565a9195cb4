/* The report suite: scaling curves and paired comparisons from result files (search/report.c, `sys2 report
 * --curves` / `--compare`). References are independent of the code under test: pass@k against a direct
 * enumeration of every k-subset, McNemar's p-value against a binomial tail worked by hand, discordant pairs
 * counted by hand on hand-written files, and the curves of a real sc run (the shipped game24 policy) against
 * numbers the test computes from the file's own lines. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_lm.h"
#include "report.h"
#include "testutil.h"

/* ---- pass@k ---- */

/* The fraction of k-subsets of n samples (the first c correct) holding a correct one, by walking every subset. */
static double pass_enum(int n, int c, int k) {
    int idx[16], hit = 0, all = 0;
    for (int j = 0; j < k; j++) idx[j] = j;
    for (;;) {
        bool any = false;
        for (int j = 0; j < k; j++) any = any || idx[j] < c;
        hit += any;
        all++;
        int j = k - 1;
        while (j >= 0 && idx[j] == n - k + j) j--;
        if (j < 0) break;
        idx[j]++;
        for (int q = j + 1; q < k; q++) idx[q] = idx[q - 1] + 1;
    }
    return (double)hit / all;
}

START_TEST(test_report_pass_at_k_enumeration) {
    for (int n = 1; n <= 12; n++)
        for (int c = 0; c <= n; c++)
            for (int k = 1; k <= n; k++)
                ck_assert_msg(fabs(s2_pass_at_k(n, c, k) - pass_enum(n, c, k)) < 1e-12, "n=%d c=%d k=%d: %g vs %g", n,
                              c, k, s2_pass_at_k(n, c, k), pass_enum(n, c, k));
    ck_assert(s2_pass_at_k(4, 1, 8) == 1); /* more draws than samples: all of them */
    ck_assert(s2_pass_at_k(4, 0, 8) == 0);
    ck_assert(s2_pass_at_k(0, 0, 1) == 0);
}
END_TEST

/* ---- McNemar ---- */

START_TEST(test_report_mcnemar_by_hand) {
    /* b = 1, c = 7: P(X <= 1) for X ~ Bin(8, 1/2) = (1 + 8) / 256, two-sided 18/256 = 0.0703125 */
    ck_assert(fabs(s2_mcnemar_exact(1, 7) - 18.0 / 256) < 1e-12);
    ck_assert(fabs(s2_mcnemar_exact(7, 1) - 18.0 / 256) < 1e-12);
    /* b = 0, c = 5: 2 / 32 */
    ck_assert(fabs(s2_mcnemar_exact(0, 5) - 0.0625) < 1e-12);
    /* b = 3, c = 3: the tail passes one half, capped at 1 */
    ck_assert(s2_mcnemar_exact(3, 3) == 1);
    ck_assert(s2_mcnemar_exact(0, 0) == 1);
    /* b = 2, c = 10: (1 + 12 + 66) / 4096 * 2 = 158 / 4096 */
    ck_assert(fabs(s2_mcnemar_exact(2, 10) - 158.0 / 4096) < 1e-12);
}
END_TEST

/* ---- hand-written result files ---- */

static const char *write_lines(const char *name, const char *const *lines, int n) {
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", t_tmpdir(), name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", lines[i]);
    fclose(f);
    return p;
}

#define CFG "{\"sys2_run\":{\"task\":\"game24\",\"split\":\"tot\",\"search\":\"%s\",\"seed\":1}}"

static void item_line(char *buf, size_t cap, const char *id, bool ok, double tokens) {
    snprintf(buf, cap, "{\"id\":\"%s\",\"correct\":%s,\"reward\":%d,\"tokens\":%g,\"flops\":%g}", id,
             ok ? "true" : "false", ok, tokens, tokens * 1e6);
}

START_TEST(test_report_compare_hand_counted) {
    /* A solves a b c d e f g, B solves a b h i j k l m n: ids x (only in A) and y (only in B) are not paired.
     * Paired items a..n: both a b; only A c d e f g (5); only B h..n (7); neither: none. */
    const char *ids = "abcdefghijklmn";
    const char *a_ok = "abcdefg", *b_ok = "abhijklmn";
    char la[20][160], lb[20][160];
    const char *pa[20], *pb[20];
    snprintf(la[0], sizeof la[0], CFG, "sc");
    snprintf(lb[0], sizeof lb[0], CFG, "tot-bfs");
    int na = 1, nb = 1;
    for (const char *p = ids; *p; p++) {
        char id[2] = {*p, 0};
        item_line(la[na++], sizeof la[0], id, strchr(a_ok, *p) != NULL, 100);
        item_line(lb[nb++], sizeof lb[0], id, strchr(b_ok, *p) != NULL, 400);
    }
    item_line(la[na++], sizeof la[0], "x", true, 100);
    item_line(lb[nb++], sizeof lb[0], "y", true, 400);
    for (int i = 0; i < na; i++) pa[i] = la[i];
    for (int i = 0; i < nb; i++) pb[i] = lb[i];
    const char *fa = write_lines("a.jsonl", pa, na), *fb = write_lines("b.jsonl", pb, nb);
    s2_report_file *A = NULL, *B = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_report_load(fa, &A, &err) == S2_OK, "%s", err.msg);
    ck_assert_msg(s2_report_load(fb, &B, &err) == S2_OK, "%s", err.msg);
    s2_compare c;
    ck_assert_msg(s2_report_compare(A, B, NULL, &c, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(c.n, 14);
    ck_assert_int_eq(c.correct_a, 7);
    ck_assert_int_eq(c.correct_b, 9);
    ck_assert_int_eq(c.only_a, 5);
    ck_assert_int_eq(c.only_b, 7);
    char got[64] = "";
    for (int32_t i = 0; i < c.only_a; i++) strcat(got, c.ids_only_a[i]);
    ck_assert_str_eq(got, "cdefg");
    got[0] = '\0';
    for (int32_t i = 0; i < c.only_b; i++) strcat(got, c.ids_only_b[i]);
    ck_assert_str_eq(got, "hijklmn");
    /* by hand: P(X <= 5), X ~ Bin(12, 1/2) = (1 + 12 + 66 + 220 + 495 + 792) / 4096 = 1586 / 4096; two-sided x2 */
    ck_assert(fabs(c.p_mcnemar - 2 * 1586.0 / 4096) < 1e-12);
    ck_assert(fabs(c.acc_a - 0.5) < 1e-12 && fabs(c.acc_b - 9.0 / 14) < 1e-12);
    ck_assert(fabs(c.diff.mean - (0.5 - 9.0 / 14)) < 1e-12);
    ck_assert(c.diff.lo <= c.diff.mean && c.diff.mean <= c.diff.hi && c.diff.lo < c.diff.hi);
    ck_assert(fabs(c.tokens_a - 100) < 1e-9 && fabs(c.tokens_b - 400) < 1e-9);
    s2_compare_clear(&c);
    /* the CLI prints the same */
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s report --compare --json %s %s", t_sys2_bin(), fa, fb);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "only_a")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "only_b")), 7);
    ck_assert(fabs(json_real_value(json_object_get(j, "p_mcnemar")) - 2 * 1586.0 / 4096) < 1e-9);
    json_decref(j);
    free(out);
    s2_report_file_free(A);
    s2_report_file_free(B);
}
END_TEST

START_TEST(test_report_matched_compute) {
    /* log-linear interpolation: halfway in log between 100 and 400 is 200 */
    double x[3] = {400, 100, 1600}, y[3] = {0.6, 0.4, 0.9};
    ck_assert(fabs(s2_interp_logx(x, y, 3, 200) - 0.5) < 1e-12);
    ck_assert(fabs(s2_interp_logx(x, y, 3, 800) - 0.75) < 1e-12);
    ck_assert(fabs(s2_interp_logx(x, y, 3, 100) - 0.4) < 1e-12);
    ck_assert(isnan(s2_interp_logx(x, y, 3, 50)));
    ck_assert(isnan(s2_interp_logx(x, y, 3, 2000)));
}
END_TEST

START_TEST(test_report_bad_files) {
    const char *torn[] = {"{\"sys2_run\":{\"task\":\"t\"}}", "{\"id\":\"a\",\"correct\":true}", "{\"id\":\"b\",\"corr"};
    const char *p = write_lines("torn.jsonl", torn, 3);
    s2_report_file *f = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_report_load(p, &f, &err), S2_E_FORMAT); /* write_lines ends the torn line with \n */
    ck_assert_msg(strstr(err.msg, "torn.jsonl:3") != NULL, "%s", err.msg);
    ck_assert_ptr_null(f);
    const char *nocfg[] = {"{\"id\":\"a\"}"};
    p = write_lines("nocfg.jsonl", nocfg, 1);
    ck_assert_int_eq(s2_report_load(p, &f, &err), S2_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "not a sys2 result file") != NULL, "%s", err.msg);
    const char *badsamples[] = {"{\"sys2_run\":{}}",
                                "{\"id\":\"a\",\"samples\":{\"answer\":[\"1\",\"2\"],\"correct\":[1]}}"};
    p = write_lines("bads.jsonl", badsamples, 2);
    ck_assert_int_eq(s2_report_load(p, &f, &err), S2_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "bads.jsonl:2: samples") != NULL, "%s", err.msg);
    const char *nosamples[] = {"{\"sys2_run\":{}}", "{\"id\":\"a\",\"correct\":true}"};
    p = write_lines("nos.jsonl", nosamples, 2);
    ck_assert_int_eq(s2_report_load(p, &f, &err), S2_OK);
    s2_curve_point *pts = NULL;
    int32_t np = 0;
    ck_assert_int_eq(s2_report_curves(f, NULL, &pts, &np, &err), S2_E_ARG);
    ck_assert_msg(strstr(err.msg, "no item has samples") != NULL, "%s", err.msg);
    s2_report_file_free(f);
    ck_assert_int_eq(s2_report_load("/nonexistent/x.jsonl", &f, &err), S2_E_IO);
}
END_TEST

/* Majority and weighted votes on a hand-made item: answers a a b b b (first two correct), weights favour a. */
START_TEST(test_report_votes_by_hand) {
    const char *lines[] = {"{\"sys2_run\":{\"search\":\"sc\"}}",
                           "{\"id\":\"q\",\"correct\":false,\"tokens\":50,\"samples\":{\"answer\":[\"a\",\"a\",\"b\","
                           "\"b\",\"b\"],\"correct\":[1,1,0,0,0],\"score\":[0.9,0.8,0.1,0.1,0.1]}}"};
    const char *p = write_lines("votes.jsonl", lines, 2);
    s2_report_file *f = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_report_load(p, &f, &err) == S2_OK, "%s", err.msg);
    ck_assert(f->scored);
    s2_curve_point *pts = NULL;
    int32_t np = 0;
    ck_assert_msg(s2_report_curves(f, NULL, &pts, &np, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(np, 4); /* k = 1 2 4 5 */
    ck_assert_int_eq(pts[3].k, 5);
    ck_assert(fabs(pts[0].pass.mean - 0.4) < 1e-12); /* 2 of 5 */
    ck_assert(fabs(pts[0].maj.mean - 0.4) < 1e-12);
    ck_assert(pts[3].maj.mean == 0); /* b wins 3 to 2 */
    ck_assert(pts[3].wbon.mean == 1); /* a wins 1.7 to 0.3 */
    /* k = 2, every one of the 10 pairs: pass = 1 - C(3,2)/C(5,2) = 0.7; majority: {a,a} right; {a,b} a tie that
     * the earliest (a) wins: 6 pairs right; {b,b} 3 wrong -> 7/10 */
    ck_assert(fabs(pts[1].pass.mean - 0.7) < 1e-12);
    ck_assert(fabs(pts[1].maj.mean - 0.7) < 1e-12);
    /* k = 4 of 5 (5 subsets): drop an a -> a b b b wrong (2 subsets); drop a b -> a a b b tie, a earliest (3) */
    ck_assert(fabs(pts[2].maj.mean - 0.6) < 1e-12);
    ck_assert(fabs(pts[2].tokens - 40) < 1e-9); /* 4/5 of 50 */
    free(pts);
    s2_report_file_free(f);
}
END_TEST

/* ---- what --trace records for the viewer: pruning reasons (the scripted system 1) ---- */

/* tot-bfs b=2 k=3 on the fake with 2 letters: each state's thoughts are a b a, so the third is a duplicate; of the
 * 2 x 2 distinct candidates of a level, 2 are kept and 2 pruned for their score. With a budget, what is left open
 * is marked as cut by it. */
static void run_tot_bfs(const char *budget, s2_env **env_out, s2_lm **lm_out, s2_task **task_out, s2_result *res) {
    s2_error err = {0};
    fake_lm_params lp = fake_lm_default_params();
    lp.alphabet = 2;
    ck_assert_int_eq(fake_lm_init(&lp, lm_out, &err), S2_OK);
    fake_task_params tp = {.n_items = 2, .depth = 3};
    ck_assert_int_eq(fake_task_init(&tp, task_out, &err), S2_OK);
    const char *keys[] = {"b", "k"}, *vals[] = {"2", "3"};
    s2_strategy *st = NULL;
    ck_assert_msg(s2_strategy_create("tot-bfs", keys, vals, 2, NULL, &st, &err) == S2_OK, "%s", err.msg);
    s2_env_params ep = s2_env_default_params();
    ep.lm = *lm_out;
    ep.task = *task_out;
    ep.max_depth = 4;
    ck_assert_int_eq(s2_budget_parse(budget, &ep.budget, &err), S2_OK);
    ck_assert_msg(s2_env_init(&ep, env_out, &err) == S2_OK, "%s", err.msg);
    ck_assert_msg(s2_strategy_run(st, *env_out, res, &err) == S2_OK, "%s", err.msg);
    s2_strategy_free(st);
}

START_TEST(test_report_trace_prune_reasons) {
    s2_env *env = NULL;
    s2_lm *lm = NULL;
    s2_task *task = NULL;
    s2_result res;
    run_tot_bfs("none", &env, &lm, &task, &res);
    int32_t dup[8] = {0}, low[8] = {0};
    for (int32_t i = 1; i < s2_env_n_nodes(env); i++) {
        const s2_node *x = s2_env_node(env, i);
        if (x->pruned) ck_assert_msg(x->prune != S2_PRUNE_NONE, "node %d pruned without a reason", x->id);
        dup[x->depth] += x->prune == S2_PRUNE_DUPLICATE;
        low[x->depth] += x->prune == S2_PRUNE_LOW_SCORE;
        if (x->prune == S2_PRUNE_DUPLICATE) { /* equal to an earlier sibling's step */
            bool same = false;
            for (int32_t q = 0; q < x->parent->n_children && x->parent->children[q] != x; q++)
                same = same || strcmp(x->parent->children[q]->step, x->step) == 0;
            ck_assert_msg(same, "node %d is no duplicate", x->id);
        }
        ck_assert(x->spent >= 0);
        if (x->parent && x->parent->parent) ck_assert(x->spent > x->parent->spent); /* made later, after more tokens */
    }
    ck_assert_int_eq(dup[1], 1); /* the root's three thoughts: a b a */
    ck_assert_int_eq(low[1], 0); /* 2 distinct, both kept */
    for (int32_t d = 2; d <= 3; d++) {
        ck_assert_int_eq(dup[d], 2); /* one per kept parent */
        ck_assert_int_eq(low[d], 2); /* 4 candidates, 2 kept */
    }
    ck_assert_str_eq(s2_prune_name(S2_PRUNE_LOW_SCORE), "low_score");
    s2_env_free(env);
    s2_task_free(task);
    s2_lm_free(lm);
    /* a budget that stops it after the first level: the states it left open are cut by the budget */
    run_tot_bfs("tokens=12", &env, &lm, &task, &res);
    ck_assert(res.budget_hit);
    int32_t cut = 0;
    for (int32_t i = 1; i < s2_env_n_nodes(env); i++) cut += s2_env_node(env, i)->prune == S2_PRUNE_BUDGET;
    ck_assert_int_gt(cut, 0);
    s2_env_free(env);
    s2_task_free(task);
    s2_lm_free(lm);
}
END_TEST

/* ---- the done-when test: sc n = 16 on 20 game24 puzzles with the shipped policy ---- */

START_TEST(test_report_curves_sc16_game24) {
    char path[600], cmd[3000], *out = NULL;
    const char *dir = t_tmpdir(); /* a fresh folder per call */
    snprintf(path, sizeof path, "%s/sc16.jsonl", dir);
    snprintf(cmd, sizeof cmd,
             "%s run --task game24 --split tot --limit 20 --search sc --param n=16 -m "
             "models/game24-policy.gguf --seed 1 -q --out %s >/dev/null",
             t_sys2_bin(), path);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    /* the reference: straight from the lines */
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *line = NULL;
    size_t cap = 0;
    int items = 0, run_correct = 0, any_correct = 0, nmax = 0;
    double single = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(o);
        if (json_object_get(o, "sys2_run") == NULL) {
            json_t *cor = json_object_get(json_object_get(o, "samples"), "correct");
            ck_assert_msg(json_is_array(cor), "line without samples: %s", line);
            int n = (int)json_array_size(cor), c = 0;
            ck_assert_int_le(n, 16);
            for (int j = 0; j < n; j++) c += json_integer_value(json_array_get(cor, (size_t)j)) != 0;
            items++;
            run_correct += json_is_true(json_object_get(o, "correct"));
            any_correct += c > 0;
            single += n > 0 ? (double)c / n : 0;
            nmax = n > nmax ? n : nmax;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    ck_assert_int_eq(items, 20);
    ck_assert_int_eq(nmax, 16);
    ck_assert_int_ge(any_correct, run_correct);
    snprintf(cmd, sizeof cmd, "%s report --curves --json %s", t_sys2_bin(), path);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *pts = json_object_get(json_array_get(j, 0), "points");
    ck_assert_int_eq((int)json_array_size(pts), 5); /* k = 1 2 4 8 16 */
    json_t *p1 = json_array_get(pts, 0), *p16 = json_array_get(pts, 4);
    ck_assert_int_eq(json_integer_value(json_object_get(p16, "k")), 16);
    double pass1 = json_real_value(json_object_get(json_object_get(p1, "pass"), "mean"));
    double pass16 = json_real_value(json_object_get(json_object_get(p16, "pass"), "mean"));
    double maj16 = json_real_value(json_object_get(json_object_get(p16, "majority"), "mean"));
    ck_assert(single / items < (double)any_correct / items); /* the three differ here: the checks have teeth */
    ck_assert_msg(fabs(pass1 - single / items) < 1e-9, "pass@1 %g, mean single-sample accuracy %g", pass1,
                  single / items);
    ck_assert_msg(fabs(pass16 - (double)any_correct / items) < 1e-9, "pass@16 %g vs %g", pass16,
                  (double)any_correct / items);
    ck_assert_msg(fabs(maj16 - (double)run_correct / items) < 1e-9, "majority@16 %g, the run's accuracy %g", maj16,
                  (double)run_correct / items);
    json_t *ci = json_object_get(p16, "pass");
    ck_assert(json_real_value(json_object_get(ci, "lo")) <= pass16 &&
              pass16 <= json_real_value(json_object_get(ci, "hi")));
    json_decref(j);
    free(out);
    /* the plot: two figures, PNG and SVG */
    snprintf(cmd, sizeof cmd, "%s report --curves --plot %s/curves %s >/dev/null 2>&1", t_sys2_bin(), dir, path);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    const char *ext[] = {".png", ".svg", "_tokens.png", "_tokens.svg"};
    for (int e = 0; e < 4; e++) {
        char pp[700];
        size_t len = 0;
        snprintf(pp, sizeof pp, "%s/curves%s", dir, ext[e]);
        char *data = t_read_file(pp, &len);
        ck_assert_msg(data != NULL && len > 1000, "%s missing or empty", pp);
        free(data);
    }
}
END_TEST

/* Every wave of chains runs: one illegal first step (dropped by the rules check) must not end the sampling from
 * the root (it once marked the root terminal, and sc n=100 drew ~16 chains on a third of the ToT puzzles). */
START_TEST(test_report_sc_draws_every_wave) {
    char path[600], cmd[3000];
    snprintf(path, sizeof path, "%s/sc48.jsonl", t_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s run --task game24 --split tot --limit 6 --search sc --param n=48 -m "
             "models/game24-policy.gguf --seed 1 -q --out %s >/dev/null",
             t_sys2_bin(), path);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    s2_report_file *f = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_report_load(path, &f, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(f->n_items, 6);
    int illegal_somewhere = 0;
    for (int32_t i = 0; i < f->n_items; i++) {
        ck_assert_msg(f->items[i].n > 32 && f->items[i].n <= 48, "item %s: %d samples of 48", f->items[i].id,
                      f->items[i].n);
        illegal_somewhere += f->items[i].n < 48;
    }
    ck_assert_int_gt(illegal_somewhere, 0); /* the case the test is about did occur */
    s2_report_file_free(f);
}
END_TEST

Suite *report_suite(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_report_pass_at_k_enumeration);
    tcase_add_test(tc, test_report_mcnemar_by_hand);
    tcase_add_test(tc, test_report_compare_hand_counted);
    tcase_add_test(tc, test_report_matched_compute);
    tcase_add_test(tc, test_report_bad_files);
    tcase_add_test(tc, test_report_votes_by_hand);
    tcase_add_test(tc, test_report_trace_prune_reasons);
    suite_add_tcase(s, tc);
    TCase *slow = tcase_create("runs");
    tcase_set_timeout(slow, 300);
    tcase_add_test(slow, test_report_curves_sc16_game24);
    tcase_add_test(slow, test_report_sc_draws_every_wave);
    suite_add_tcase(s, slow);
    return s;
}
