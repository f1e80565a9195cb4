/* test_improve.c: the rules-only examples (S2_ROLE_LEGAL) and the expert-iteration loop (search/improve.h).
 * References are independent of the code under test: legality and wins are judged by the number-game parser
 * (numgame.c's own test suite holds it to a naive solver), FLOPs are re-added from the files the loop wrote, the
 * training formula is recomputed from the model's shape, held-out membership is asked of the task's own splits,
 * and an interrupted loop is compared with one that was never interrupted. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "improve.h"
#include "numgame.h"
#include "scorer.h"
#include "task_impl.h"
#include "testutil.h"
#include "testutil_ng.h"
#include "train.h"

/* ---- rules-only examples ---- */

static void check_legal_examples(const char *task_name, bool pos_int) {
    s2_task *t = NULL;
    s2_error err = {0};
    s2_task_params tp = s2_task_default_params();
    tp.n_shot = 0;
    ck_assert_int_eq(s2_task_create(task_name, &tp, &t, &err), S2_OK);
    int wins = 0, n = 300;
    for (int k = 0; k < n; k++) {
        s2_example ex = {0};
        ck_assert_int_eq(t->iface->gen_example(t, S2_ROLE_LEGAL, (uint64_t)k, &ex, &err), S2_OK);
        s2_ng_state s;
        s2_ng_rules r;
        t_ng_input(ex.prompt, pos_int, &r, &s);
        if (!pos_int) { /* game24: never a held-out puzzle */
            int v[4];
            for (int j = 0; j < 4; j++) v[j] = (int)s.v[j].num;
            ck_assert(!s2_game24_heldout(v));
        }
        ck_assert_msg(s2_ng_legal(&r, &s, ex.completion), "%s: illegal: %s%s", task_name, ex.prompt, ex.completion);
        s2_ng_parsed ps;
        s2_ng_parse(&r, &s, ex.completion, &ps);
        bool won = ps.state.n == 1 && s2_rat_cmp(ps.state.v[0], r.target) == 0;
        ck_assert_int_eq(ps.n_steps, s.n - 1); /* played to the end */
        ck_assert_msg(ps.has_answer == won, "%s: the Answer line must come exactly when the play wins: %s%s",
                      task_name, ex.prompt, ex.completion);
        if (won) {
            s2_verdict v = {0};
            s2_ng_verify(&r, &s, ex.completion, &v);
            ck_assert_msg(v.correct, "%s: a winning example must verify: %s", task_name, v.reason);
            s2_verdict_clear(&v);
        }
        wins += won;
        s2_example_clear(&ex);
    }
    /* random play rarely wins: an example stream made of solutions would win every time */
    ck_assert_int_lt(wins, n / 2);
    s2_task_free(t);
}

START_TEST(test_improve_legal_examples_countdown) { check_legal_examples("countdown", true); }
END_TEST

START_TEST(test_improve_legal_examples_game24) { check_legal_examples("game24", false); }
END_TEST

START_TEST(test_improve_legal_refused_elsewhere)
{
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_task_create("arith", NULL, &t, &err), S2_OK);
    s2_example ex = {0};
    ck_assert_int_eq(t->iface->gen_example(t, S2_ROLE_LEGAL, 1, &ex, &err), S2_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "no rules-only"));
    s2_task_free(t);
}
END_TEST

/* ---- the loop ---- */

static s2_improve_config tiny_config(const char *dir) {
    static const char *keys[] = {"b", "k"}, *vals[] = {"2", "4"};
    return (s2_improve_config){.task = "countdown", .policy0 = "models/countdown-policy.gguf", .search = "tot-bfs",
                               .keys = keys, .vals = vals, .n_params = 2, .budget = "tokens=1500", .rounds = 2,
                               .items = 6, .eval_items = 4, .policy_steps = 6, .value_steps = 3, .batch = 4,
                               .value_dim = 32, .value_layers = 1, .value_heads = 2, .value_ff = 64,
                               .checkpoint_every = 2, .seed = 7, .threads = 1, .dir = dir, .version = "test"};
}

static json_t *load_jsonl(const char *path, bool skip_first) {
    json_t *a = json_array();
    FILE *f = fopen(path, "rb");
    if (f == NULL) return a;
    char *line = NULL;
    size_t cap = 0;
    for (int k = 0; getline(&line, &cap, f) > 0; k++) {
        if (k == 0 && skip_first) continue;
        json_t *o = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(o);
        json_array_append_new(a, o);
    }
    free(line);
    fclose(f);
    return a;
}

static double sum_key(json_t *a, const char *key) {
    double s = 0;
    for (size_t i = 0; i < json_array_size(a); i++) s += json_number_value(json_object_get(json_array_get(a, i), key));
    return s;
}

/* Every example's item is a training item, never a held-out one. */
static void check_items(const char *path, const s2_task *train, const s2_task *eval) {
    json_t *a = load_jsonl(path, false);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(a, i), "item"));
        ck_assert_ptr_nonnull(id);
        ck_assert_msg(s2_task_find(train, id) >= 0, "%s: %s is not a training item", path, id);
        ck_assert_msg(s2_task_find(eval, id) < 0, "%s: %s is a held-out item", path, id);
    }
    json_decref(a);
}

/* The training log's FLOPs: each step's by the formula 6 P tokens + 12 L D T tokens, from the model's shape. */
static double check_train_log(const char *log, const char *model) {
    json_t *a = load_jsonl(log, false);
    if (json_array_size(a) == 0) {
        json_decref(a);
        return 0;
    }
    s2_tmodel *m = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_tmodel_load_gguf(model, &m, NULL, &err), S2_OK);
    double P = (double)s2_tmodel_matmul_params(m), L = m->cfg.n_layer, D = m->cfg.n_embd;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        double tok = json_number_value(json_object_get(o, "tokens")), T = json_number_value(json_object_get(o, "T"));
        ck_assert_int_eq(json_integer_value(json_object_get(o, "step")), (json_int_t)i + 1);
        ck_assert_double_eq_tol(json_number_value(json_object_get(o, "flops")), 6 * P * tok + 12 * L * D * T * tok,
                                1e-6 * (6 * P * tok));
    }
    s2_tmodel_free(m);
    double s = sum_key(a, "flops");
    json_decref(a);
    return s;
}

static void path_of(char *buf, size_t cap, const char *dir, int round, const char *file) {
    int n = snprintf(buf, cap, "%s/round-%02d/%s", dir, round, file);
    ck_assert(n > 0 && (size_t)n < cap);
}

/* The files of two loop directories are the same, but for timings and the directory's own name. */
static void check_same(const char *a, const char *b) {
    const char *exact[] = {"policy.gguf", "value.gguf", "policy-data.jsonl", "value-data.jsonl",
                           "train-policy.jsonl", "train-value.jsonl"};
    for (int r = 0; r < 2; r++) {
        char pa[512], pb[512];
        for (size_t k = 0; k < sizeof exact / sizeof exact[0]; k++) {
            path_of(pa, sizeof pa, a, r, exact[k]);
            path_of(pb, sizeof pb, b, r, exact[k]);
            size_t na = 0, nb = 0;
            char *x = t_read_file(pa, &na), *y = t_read_file(pb, &nb);
            ck_assert_msg((x == NULL) == (y == NULL), "round %d %s: present in one run only", r, exact[k]);
            if (x && (na != nb || memcmp(x, y, na) != 0) && strstr(exact[k], ".jsonl"))
                ck_abort_msg("round %d %s differs after the resume:\n%.2000s\n----\n%.2000s", r, exact[k], x, y);
            if (x) ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "round %d %s differs after the resume", r, exact[k]);
            free(x);
            free(y);
        }
        /* search and evaluation lines: everything but the wall-clock fields */
        const char *runs[] = {"search.jsonl", "eval-search.jsonl", "eval-greedy.jsonl"};
        const char *timing[] = {"wall_s", "lm_s", "setup_s", "outside_s", "outside_frac"};
        for (size_t k = 0; k < 3; k++) {
            path_of(pa, sizeof pa, a, r, runs[k]);
            path_of(pb, sizeof pb, b, r, runs[k]);
            json_t *x = load_jsonl(pa, true), *y = load_jsonl(pb, true);
            ck_assert_int_eq(json_array_size(x), json_array_size(y));
            for (size_t i = 0; i < json_array_size(x); i++) {
                json_t *ox = json_array_get(x, i), *oy = NULL;
                for (size_t j = 0; j < json_array_size(y) && oy == NULL; j++)
                    if (json_equal(json_object_get(ox, "id"), json_object_get(json_array_get(y, j), "id")))
                        oy = json_array_get(y, j);
                ck_assert_ptr_nonnull(oy);
                for (size_t t = 0; t < 5; t++) {
                    json_object_del(ox, timing[t]);
                    json_object_del(oy, timing[t]);
                }
                const char *counters[] = {"counters", "value_counters", "total_counters"};
                for (size_t t = 0; t < 3; t++) {
                    json_object_del(json_object_get(ox, counters[t]), "ns");
                    json_object_del(json_object_get(oy, counters[t]), "ns");
                }
                ck_assert_msg(json_equal(ox, oy), "round %d %s: item %s differs after the resume", r, runs[k],
                              json_string_value(json_object_get(ox, "id")));
            }
            json_decref(x);
            json_decref(y);
        }
        path_of(pa, sizeof pa, a, r, "round.json");
        path_of(pb, sizeof pb, b, r, "round.json");
        json_t *x = json_load_file(pa, 0, NULL), *y = json_load_file(pb, 0, NULL);
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_nonnull(y);
        json_object_del(x, "policy");
        json_object_del(x, "value");
        json_object_del(y, "policy");
        json_object_del(y, "value");
        ck_assert_msg(json_equal(x, y), "round %d: round.json differs after the resume", r);
        json_decref(x);
        json_decref(y);
    }
}

/* The value model's balanced accuracy on the states of a round's evaluation trees, recomputed here: the distinct
 * legal states (the number-game parser's rules: a search prunes the others before scoring), labelled by the
 * number-game solver, P(sure) > 0.5 read through the value scorer's own function. */
static double check_value_balanced(const char *dir, int round, const s2_task *eval) {
    char p[512];
    path_of(p, sizeof p, dir, round, "value.gguf");
    s2_model *vm = NULL;
    s2_lm *vlm = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_model_load(p, NULL, &vm, &err), S2_OK);
    ck_assert_int_eq(s2_lm_local_init(vm, NULL, &vlm, &err), S2_OK);
    path_of(p, sizeof p, dir, round, "eval-search.jsonl");
    json_t *lines = load_jsonl(p, true);
    int64_t n[2] = {0, 0}, right[2] = {0, 0}, illegal = 0;
    for (size_t k = 0; k < json_array_size(lines); k++) {
        json_t *line = json_array_get(lines, k), *tr = json_object_get(line, "trace");
        int32_t item = (int32_t)json_integer_value(json_object_get(line, "index"));
        char *prompt = s2_task_prompt(eval, item);
        s2_ng_rules r;
        s2_ng_state start;
        t_ng_input(prompt, true, &r, &start);
        free(prompt);
        size_t nn = json_array_size(tr);
        char **text = calloc(nn, sizeof *text);
        for (size_t x = 0; x < nn; x++) {
            json_t *o = json_array_get(tr, x);
            json_int_t par = json_integer_value(json_object_get(o, "parent"));
            const char *step = json_string_value(json_object_get(o, "step"));
            ck_assert(par < (json_int_t)x && step != NULL);
            const char *base = par >= 0 ? text[par] : "";
            text[x] = malloc(strlen(base) + strlen(step) + 1);
            strcpy(text[x], base);
            strcat(text[x], step);
            bool dup = false;
            for (size_t y = 0; y < x && !dup; y++) dup = strcmp(text[x], text[y]) == 0;
            if (dup) continue;
            if (!s2_ng_legal(&r, &start, text[x])) {
                illegal++;
                continue;
            }
            s2_ng_parsed ps;
            s2_ng_parse(&r, &start, text[x], &ps);
            int lab;
            if (ps.has_answer) {
                s2_verdict v = {0};
                s2_ng_verify(&r, &start, text[x], &v);
                lab = v.correct;
                s2_verdict_clear(&v);
            } else {
                lab = s2_ng_solvable(&r, &ps.state);
            }
            double ps_ = 0;
            ck_assert_int_eq(s2_value_p_sure(vlm, eval, item, text[x], &ps_, &err), S2_OK);
            n[lab]++;
            right[lab] += (ps_ > 0.5) == lab;
        }
        for (size_t x = 0; x < nn; x++) free(text[x]);
        free(text);
    }
    json_decref(lines);
    s2_lm_free(vlm);
    s2_model_free(vm);
    ck_assert_int_gt(illegal, 0); /* the trees do hold illegal states, which the measure must leave out */
    return n[0] > 0 && n[1] > 0 ? 0.5 * ((double)right[0] / (double)n[0] + (double)right[1] / (double)n[1]) : NAN;
}

START_TEST(test_improve_two_rounds)
{
    char dir_b[512], dir_a[512];
    snprintf(dir_b, sizeof dir_b, "%s/loop-b", t_tmpdir());
    snprintf(dir_a, sizeof dir_a, "%s/loop-a", t_tmpdir());
    s2_error err = {0};

    /* B: two rounds, never interrupted */
    s2_improve_config c = tiny_config(dir_b);
    s2_improve_summary sum;
    s2_status st = s2_improve(&c, &sum, &err);
    ck_assert_msg(st == S2_OK, "%s", err.msg);
    ck_assert_int_eq(sum.n_rounds, 2);

    s2_task *train = NULL, *eval = NULL;
    s2_task_params tp = s2_task_default_params();
    tp.split = "train";
    tp.n_items = c.rounds * c.items;
    ck_assert_int_eq(s2_task_create("countdown", &tp, &train, &err), S2_OK);
    tp.split = NULL;
    tp.n_items = 0;
    ck_assert_int_eq(s2_task_create("countdown", &tp, &eval, &err), S2_OK);
    double cumulative = 0;
    int64_t examples = 0;
    for (int r = 0; r < 2; r++) {
        const s2_improve_round *R = &sum.rounds[r];
        ck_assert_int_eq(R->oracle_calls_loop, 0);  /* the oracle never ran inside the loop */
        ck_assert_int_gt(R->oracle_calls_eval, 0);  /* ...but the counter does count: evaluation used it */
        ck_assert_int_eq(R->items, c.items);
        char p[512], m[512];
        path_of(p, sizeof p, dir_b, r, "policy-data.jsonl");
        check_items(p, train, eval);
        path_of(p, sizeof p, dir_b, r, "value-data.jsonl");
        check_items(p, train, eval);
        path_of(p, sizeof p, dir_b, r, "search.jsonl");
        json_t *lines = load_jsonl(p, true);
        ck_assert_int_eq(json_array_size(lines), c.items);
        /* the round's FLOPs are the sum of the counters in its files */
        double search = sum_key(lines, "flops");
        json_decref(lines);
        path_of(p, sizeof p, dir_b, r, "train-policy.jsonl");
        path_of(m, sizeof m, dir_b, r, "policy.gguf");
        double pol = check_train_log(p, m);
        path_of(p, sizeof p, dir_b, r, "train-value.jsonl");
        path_of(m, sizeof m, dir_b, r, "value.gguf");
        double val = check_train_log(p, m);
        ck_assert_double_eq_tol(R->search_flops, search, 1e-9 * search);
        ck_assert_double_eq_tol(R->policy_flops, pol, 1e-9 * (pol + 1));
        ck_assert_double_eq_tol(R->value_flops, val, 1e-9 * (val + 1));
        ck_assert_double_eq_tol(R->round_flops, search + pol + val, 1e-9 * R->round_flops);
        cumulative += search + pol + val;
        ck_assert_double_eq_tol(R->cumulative_flops, cumulative, 1e-9 * cumulative);
        examples += R->policy_examples;
        ck_assert_int_gt(R->value_sure + R->value_impossible, 0);
        double vb = check_value_balanced(dir_b, r, eval);
        ck_assert_msg(isnan(vb) ? isnan(R->eval_value_balanced) : fabs(vb - R->eval_value_balanced) < 1e-12,
                      "round %d: value balanced accuracy %g, recomputed on the legal states %g", r,
                      R->eval_value_balanced, vb);
    }
    ck_assert_int_gt(examples, 0); /* search found verified paths, so the policy really was fine-tuned */
    s2_improve_summary_free(&sum);
    s2_task_free(train);
    s2_task_free(eval);

    /* A: the same loop, killed with SIGKILL in the middle of round 0's policy training, then run again */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        s2_improve_config ca = tiny_config(dir_a);
        s2_improve_summary sa;
        s2_error e = {0};
        _exit(s2_improve(&ca, &sa, &e) == S2_OK ? 0 : 1);
    }
    char log[512];
    path_of(log, sizeof log, dir_a, 0, "train-policy.jsonl");
    for (int spin = 0; spin < 600000; spin++) {
        size_t n = 0;
        char *s = t_read_file(log, &n);
        int lines = 0;
        for (size_t i = 0; s && i < n; i++) lines += s[i] == '\n';
        free(s);
        if (lines >= 3) break; /* step 3: past the checkpoint at step 2, before the one at step 4 */
        usleep(200);
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFSIGNALED(status), "the loop finished before it could be killed");
    c = tiny_config(dir_a);
    st = s2_improve(&c, &sum, &err);
    ck_assert_msg(st == S2_OK, "resume: %s", err.msg);
    ck_assert_int_eq(sum.n_rounds, 2);
    s2_improve_summary_free(&sum);
    check_same(dir_a, dir_b);

    /* the same directory with another loop is refused, naming what differs */
    c = tiny_config(dir_a);
    c.items = 5;
    ck_assert_int_eq(s2_improve(&c, &sum, &err), S2_E_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "'items' differs"));
    s2_improve_summary_free(&sum);
}
END_TEST

START_TEST(test_improve_refuses_oracle)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/loop-oracle", t_tmpdir());
    s2_improve_config c = tiny_config(dir);
    c.scorer0 = "oracle";
    s2_improve_summary sum;
    s2_error err = {0};
    ck_assert_int_eq(s2_improve(&c, &sum, &err), S2_E_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "oracle"));
    s2_improve_summary_free(&sum);
}
END_TEST

Suite *improve_suite(void) {
    Suite *s = suite_create("improve");
    TCase *tc = tcase_create("legal");
    tcase_add_test(tc, test_improve_legal_examples_countdown);
    tcase_add_test(tc, test_improve_legal_examples_game24);
    tcase_add_test(tc, test_improve_legal_refused_elsewhere);
    suite_add_tcase(s, tc);
    tc = tcase_create("loop");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_improve_two_rounds);
    tcase_add_test(tc, test_improve_refuses_oracle);
    suite_add_tcase(s, tc);
    return s;
}
