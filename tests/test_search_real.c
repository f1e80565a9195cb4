/* Search on the real engine (issue 15): budgets that cap on the shipped game24 models, scoring in batches (two
 * value-model forwards per tree level, the same answers as one node at a time), the new strategies end to end,
 * and selfeval on gsm8k and math500 with stories260K. Runs go through `sys2 run` (SYS2_BIN); the expected
 * numbers are the bounds or the one-at-a-time run's own results, never constants read off a run. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "testutil.h"

/* The item lines of a result file (the first line, the configuration, left out). */
static json_t *items_of(const char *path) {
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "%s", path);
    json_t *a = json_array();
    char *line = NULL;
    size_t cap = 0;
    for (int n = 0; getline(&line, &cap, fp) > 0; n++) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        ck_assert_msg(o != NULL, "%s line %d: %s", path, n + 1, je.text);
        if (n == 0) json_decref(o);
        else json_array_append_new(a, o);
    }
    free(line);
    fclose(fp);
    return a;
}

static double num(json_t *o, const char *group, const char *key) {
    json_t *g = group ? json_object_get(o, group) : o;
    return json_number_value(json_object_get(g, key));
}

/* Runs `sys2 run` with args into dir/name.jsonl and returns its items. */
static json_t *run_items(const char *dir, const char *name, const char *args) {
    char cmd[2048], out[512];
    snprintf(out, sizeof out, "%s/%s.jsonl", dir, name);
    snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 %s run -q %s --out %s >/dev/null 2>%s.err", t_sys2_bin(), args, out,
             out);
    int rc = t_run(cmd, NULL);
    if (rc != 0) {
        char *e = t_read_file((snprintf(cmd, sizeof cmd, "%s.err", out), cmd), NULL);
        ck_abort_msg("%s failed (%d): %s", name, rc, e ? e : "");
    }
    return items_of(out);
}

static bool have_game24(const char *test) {
    return t_shared("data/game24.csv", test) != NULL;
}

#define G24 "--task game24 --split tot -m models/game24-policy.gguf --value models/game24-value.gguf --scorer value --seed 1"

START_TEST(test_search_real_budgets_cap_every_strategy)
{
    if (!have_game24("test_search_real_budgets_cap_every_strategy")) return;
    /* the make-test subset (2 puzzles, tokens=500); results/budget_cap.sh runs the 20 x {500, 1000, 2000} */
    const char *strategies[] = {"io", "cot", "sc --param n=16", "bon", "bon --param select=weighted", "beam",
                                "tot-bfs", "tot-dfs", "mcts", "mcts --param root=gumbel", "best-first", "dvts",
                                "particle", "rebase"};
    const double budget = 500;
    for (size_t s = 0; s < sizeof strategies / sizeof strategies[0]; s++) {
        char args[512], name[64];
        snprintf(args, sizeof args, G24 " --limit 2 --budget tokens=%g --search %s", budget, strategies[s]);
        snprintf(name, sizeof name, "cap%zu", s);
        json_t *a = run_items(t_tmpdir(), name, args);
        ck_assert_int_eq(json_array_size(a), 2);
        double sum = 0;
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *o = json_array_get(a, i);
            double t = num(o, NULL, "tokens");
            sum += t;
            ck_assert_msg(t <= 1.25 * budget, "%s item %zu: %g tokens", strategies[s], i, t);
            const char *status = json_string_value(json_object_get(o, "status"));
            ck_assert_msg(strcmp(status, "ok") == 0 || strcmp(status, "budget") == 0, "%s: %s", strategies[s], status);
        }
        ck_assert_msg(sum / 2 <= 1.05 * budget, "%s: mean %g tokens", strategies[s], sum / 2);
        json_decref(a);
    }
}
END_TEST

START_TEST(test_search_real_batched_value_scoring)
{
    if (!have_game24("test_search_real_batched_value_scoring")) return;
    const char *common = G24 " --limit 2 --search tot-bfs --param b=5 --param k=4";
    char args[512];
    snprintf(args, sizeof args, "%s --param batch_score=0", common);
    json_t *one = run_items(t_tmpdir(), "one", args);
    snprintf(args, sizeof args, "%s --param batch_score=1", common);
    json_t *many = run_items(t_tmpdir(), "many", args);
    ck_assert_int_eq(json_array_size(one), json_array_size(many));
    const char *policy_keys[] = {"prompt_tokens", "gen_tokens", "scored_tokens", "cached_tokens", "forward_calls",
                                 "forward_rows"};
    for (size_t i = 0; i < json_array_size(one); i++) {
        json_t *a = json_array_get(one, i), *b = json_array_get(many, i);
        json_t *aa = json_object_get(a, "answer"), *ba = json_object_get(b, "answer");
        ck_assert(json_equal(aa, ba)); /* the same search, judged the same */
        for (size_t k = 0; k < sizeof policy_keys / sizeof policy_keys[0]; k++)
            ck_assert_msg(num(a, "counters", policy_keys[k]) == num(b, "counters", policy_keys[k]), "item %zu %s", i,
                          policy_keys[k]);
        double levels = num(b, "tree", "max_depth");
        ck_assert(levels >= 1);
        /* at most two value-model forwards per level (one for the prompts, one for the labels) */
        ck_assert_msg(num(b, "value_counters", "forward_calls") <= 2 * levels, "item %zu: %g forwards, %g levels", i,
                      num(b, "value_counters", "forward_calls"), levels);
        ck_assert(num(a, "value_counters", "forward_calls") > 2 * levels); /* one at a time: two per node */
        /* the value tokens: the same, less the states reached twice in a level, which the batch computes once */
        ck_assert(num(b, "value_counters", "prompt_tokens") <= num(a, "value_counters", "prompt_tokens"));
        ck_assert(num(b, "value_counters", "scored_tokens") <= num(a, "value_counters", "scored_tokens"));
    }
    json_decref(one);
    json_decref(many);
}
END_TEST

START_TEST(test_search_real_new_strategies_end_to_end)
{
    if (!have_game24("test_search_real_new_strategies_end_to_end")) return;
    const char *strategies[] = {"dvts --param n=8 --param width=2", "particle --param n=8", "rebase --param n=8",
                                "mcts --param root=gumbel --param iters=16 --param m=4", "bon --param n=8 --param select=weighted"};
    for (size_t s = 0; s < sizeof strategies / sizeof strategies[0]; s++) {
        char args[512], name[64];
        snprintf(args, sizeof args, G24 " --limit 2 --search %s", strategies[s]);
        snprintf(name, sizeof name, "new%zu", s);
        json_t *a = run_items(t_tmpdir(), name, args);
        ck_assert_int_eq(json_array_size(a), 2);
        int answered = 0;
        for (size_t i = 0; i < 2; i++) {
            json_t *o = json_array_get(a, i);
            ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "ok");
            answered += json_is_string(json_object_get(o, "answer"));
            ck_assert(num(o, "tree", "scored") > 0);
        }
        ck_assert_msg(answered > 0, "%s answered nothing", strategies[s]);
        json_decref(a);
    }
}
END_TEST

START_TEST(test_search_real_selfeval_on_gsm8k_and_math500)
{
    const char *model = t_shared("models/stories260K.gguf", "test_search_real_selfeval_on_gsm8k_and_math500");
    if (model == NULL) return;
    const char *tasks[] = {"gsm8k", "math500"};
    for (int t = 0; t < 2; t++) {
        char args[1024], name[64];
        snprintf(args, sizeof args,
                 "--task %s -m %s --ctx 512 --limit 2 --search tot-bfs --param b=2 --param k=2 --scorer selfeval "
                 "--param max_depth=2 --param max_step_tokens=24 --seed 1",
                 tasks[t], model);
        snprintf(name, sizeof name, "self%d", t);
        json_t *a = run_items(t_tmpdir(), name, args);
        ck_assert_int_eq(json_array_size(a), 2);
        for (size_t i = 0; i < 2; i++) {
            json_t *o = json_array_get(a, i);
            ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "ok");
            ck_assert(num(o, "tree", "scored") >= 2); /* selfeval judged the states */
            ck_assert(num(o, "counters", "scored_tokens") > 0); /* the labels, read by the policy itself */
        }
        json_decref(a);
    }
}
END_TEST

START_TEST(test_search_real_dataset_value_prompts)
{
    if (t_shared("data/gsm8k_test.jsonl", "test_search_real_dataset_value_prompts") == NULL ||
        t_shared("data/math500_test.jsonl", "test_search_real_dataset_value_prompts") == NULL ||
        t_shared("data/mbpp.jsonl", "test_search_real_dataset_value_prompts") == NULL)
        return;
    struct {
        const char *task, *head, *delim;
    } cases[] = {{"gsm8k", "Question: Janet", "\n\n"}, {"math500", "Problem: ", "\n\n"}, {"mbpp", "You are an expert", "\n"}};
    for (int c = 0; c < 3; c++) {
        s2_error err = {0};
        s2_task *t = NULL;
        ck_assert_msg(s2_task_create(cases[c].task, NULL, &t, &err) == S2_OK, "%s", err.msg);
        ck_assert_ptr_nonnull(t->iface->value_prompt);
        ck_assert_str_eq(t->iface->step_delim, cases[c].delim);
        char *v = t->iface->value_prompt(t, 0, "step one\n\nstep two");
        ck_assert_msg(strncmp(v, cases[c].head, strlen(cases[c].head)) == 0, "%s: %s", cases[c].task, v);
        ck_assert_ptr_nonnull(strstr(v, "so far:\nstep one\n\nstep two\n")); /* the steps so far, whole */
        const char *tail = "(sure, likely or impossible)? Judgement: ";
        ck_assert_str_eq(v + strlen(v) - strlen(tail), tail); /* the labels follow */
        free(v);
        s2_task_free(t);
    }
}
END_TEST

Suite *search_real_suite(void) {
    Suite *s = suite_create("search_real");
    TCase *tc = tcase_create("real");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_search_real_budgets_cap_every_strategy);
    tcase_add_test(tc, test_search_real_batched_value_scoring);
    tcase_add_test(tc, test_search_real_new_strategies_end_to_end);
    tcase_add_test(tc, test_search_real_selfeval_on_gsm8k_and_math500);
    tcase_add_test(tc, test_search_real_dataset_value_prompts);
    suite_add_tcase(s, tc);
    return s;
}
