/* HumanEval and MBPP: code extraction (fenced or raw, body or whole function), and verification in the sandbox
 * against the datasets' own tests: the canonical solutions pass, `pass` bodies and syntax errors fail, early
 * exits and endless loops fail with their reason, and verify is safe to call from several threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets.h"
#include "sandbox.h"
#include "task.h"
#include "testutil.h"

Suite *code_suite(void);

static void str_is(char *got, const char *want) {
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(strcmp(got, want) == 0, "got \"%s\", want \"%s\"", got, want);
    free(got);
}

START_TEST(test_code_extract_forms)
{
    str_is(s2_code_extract("Here you go:\n```python\ndef f():\n    return 1\n```\nDone."), "def f():\n    return 1\n");
    str_is(s2_code_extract("```\nx = 1\n```"), "x = 1\n");
    str_is(s2_code_extract("```python\nx = 1\n"), "x = 1\n");                 /* never closed */
    str_is(s2_code_extract("def f():\n    return 1\n```\nmore"), "def f():\n    return 1\n"); /* closes the prompt's */
    str_is(s2_code_extract("    return 1\n"), "    return 1\n");             /* raw */
    str_is(s2_code_extract("a ``` b"), "a ``` b");                           /* not at a line start */
    str_is(s2_code_extract("Code:\n```\nx = 2\n```\n"), "x = 2\n");            /* a bare fence after prose opens */
    str_is(s2_code_extract("x = 1\n```\n"), "x = 1\n");                     /* nothing follows: it closes */
    ck_assert(s2_code_defines("import math\ndef  f (x):\n    pass\n", "f"));
    ck_assert(s2_code_defines("async def f(x):\n    pass\n", "f"));
    ck_assert(!s2_code_defines("    def f(x):\n", "f"));
    ck_assert(!s2_code_defines("def ff(x):\n", "f"));
    str_is(s2_code_cut_body("    x = 1\n\n    return x\n\nprint(f(2))\n"), "    x = 1\n\n    return x\n\n");
    str_is(s2_code_cut_body("    return 1\ndef g():\n    pass\n"), "    return 1\n");
    str_is(s2_code_cut_body("    return 1"), "    return 1");
    str_is(s2_code_cut_body("print(1)\n"), "");
}
END_TEST

static s2_task *make(const char *name, const char *file, double timeout_s) {
    if (t_shared(file, name) == NULL) return NULL;
    s2_task_params p = s2_task_default_params();
    p.timeout_s = timeout_s;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_task_create(name, &p, &t, &err) == S2_OK, "%s", err.msg);
    return t;
}

/* Verifies text for item i; returns the verdict's correctness and copies its reason. */
static bool verify(s2_task *t, int32_t i, const char *text, char *reason, size_t cap) {
    s2_verdict v;
    s2_error err = {0};
    ck_assert_msg(s2_task_verify(t, i, text, &v, &err) == S2_OK, "%s", err.msg);
    bool ok = v.correct;
    ck_assert(ok == (v.reward == 1.0));
    if (reason != NULL) snprintf(reason, cap, "%s", v.reason);
    s2_verdict_clear(&v);
    return ok;
}

START_TEST(test_code_humaneval_answers)
{
    s2_task *t = make("humaneval", "data/HumanEval.jsonl.gz", 3);
    if (t == NULL) return;
    ck_assert_int_eq(s2_task_n_items(t), 164);
    ck_assert_str_eq(s2_task_item_id(t, 0), "HumanEval/0");
    ck_assert_int_eq(s2_task_find(t, "HumanEval/163"), 163);
    char *prompt = s2_task_prompt(t, 0);
    const char *head = "from typing import List\n\n\ndef has_close_elements(";
    ck_assert(strncmp(prompt, head, strlen(head)) == 0);
    free(prompt);
    char reason[256];
    char *ref = t->iface->reference(t, 0);
    ck_assert(verify(t, 0, ref, reason, sizeof reason));
    ck_assert_str_eq(reason, "ok");
    /* the same body in a fence, and followed by other top-level code */
    char buf[4096];
    snprintf(buf, sizeof buf, "```python\n%s```\nThis works because ...", ref);
    ck_assert_msg(verify(t, 0, buf, reason, sizeof reason), "%s", reason);
    snprintf(buf, sizeof buf, "%s\nprint(has_close_elements([1.0], 0.5))\n", ref);
    ck_assert_msg(verify(t, 0, buf, reason, sizeof reason), "%s", reason);
    ck_assert(s2_task_is_terminal(t, 0, buf));
    ck_assert(!s2_task_is_terminal(t, 0, ref));
    free(ref);
    /* a whole function, with its own import */
    const char *whole = "Sure:\n```python\nimport itertools\n\ndef has_close_elements(numbers, threshold):\n"
                        "    return any(abs(a - b) < threshold for a, b in itertools.combinations(numbers, 2))\n```";
    ck_assert_msg(verify(t, 0, whole, reason, sizeof reason), "%s", reason);
    char *code = t->iface->extract(t, 0, whole);
    ck_assert(strncmp(code, "import itertools\n", 17) == 0);
    free(code);
    /* wrong: the wrong answers, a wrong algorithm, an early exit, a loop */
    char *w[4];
    int32_t nw = t->iface->wrong_answers(t, 0, w, 4);
    ck_assert_int_eq(nw, 2);
    ck_assert(!verify(t, 0, w[0], reason, sizeof reason));
    ck_assert_msg(strstr(reason, "AssertionError") != NULL, "%s", reason);
    ck_assert(!verify(t, 0, w[1], reason, sizeof reason));
    ck_assert_msg(strstr(reason, "SyntaxError") != NULL, "%s", reason);
    for (int32_t k = 0; k < nw; k++) free(w[k]);
    ck_assert(!verify(t, 0, "    return False\n", reason, sizeof reason));
    ck_assert_msg(strstr(reason, "AssertionError at line ") != NULL && strstr(reason, ": assert candidate(") != NULL,
                  "%s", reason);
    ck_assert(!verify(t, 0, "    import sys\n    sys.exit(0)\nimport sys\nsys.exit(0)\n", reason, sizeof reason));
    ck_assert(!verify(t, 0, "    import os\n    os._exit(0)\n", reason, sizeof reason));
    ck_assert_str_eq(reason, "exited before the tests finished");
    ck_assert(!verify(t, 0, "    while True:\n        pass\n", reason, sizeof reason));
    ck_assert_str_eq(reason, "timeout after 3 s");
    ck_assert(!verify(t, 0, "", reason, sizeof reason));
    s2_task_free(t);
}
END_TEST

/* ---- all 164 canonical solutions, and all 164 `pass` bodies, from two threads ---- */

typedef struct sweep {
    s2_task *t;
    int wrong;            /* 0: the references; 1: the first wrong answer */
    int next, passed, errors;
    pthread_mutex_t mu;
} sweep;

static void *sweep_worker(void *p) {
    sweep *s = p;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int i = s->next++;
        pthread_mutex_unlock(&s->mu);
        if (i >= s2_task_n_items(s->t)) return NULL;
        char *w[4] = {0};
        int32_t nw = 0;
        char *text = s->wrong ? (nw = s->t->iface->wrong_answers(s->t, i, w, 4), w[0]) : s->t->iface->reference(s->t, i);
        s2_verdict v;
        s2_error err = {0};
        s2_status st = s2_task_verify(s->t, i, text, &v, &err);
        pthread_mutex_lock(&s->mu);
        if (st != S2_OK) s->errors++;
        else if (v.correct) s->passed++;
        else if (!s->wrong) fprintf(stderr, "%s: reference failed: %s\n", s2_task_item_id(s->t, i), v.reason);
        pthread_mutex_unlock(&s->mu);
        s2_verdict_clear(&v);
        if (!s->wrong) free(text);
        for (int32_t k = 0; k < nw; k++) free(w[k]);
    }
}

static void run_sweep(s2_task *t, int wrong, int *passed, int *errors) {
    sweep s = {.t = t, .wrong = wrong, .mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[2];
    for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_create(&th[k], NULL, sweep_worker, &s), 0);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    *passed = s.passed;
    *errors = s.errors;
}

START_TEST(test_code_humaneval_all_canonical_pass_all_stubs_fail)
{
    s2_task *t = make("humaneval", "data/HumanEval.jsonl.gz", 0);
    if (t == NULL) return;
    int passed, errors;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_sweep(t, 0, &passed, &errors);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    fprintf(stderr, "humaneval: 164 canonical solutions verified in %.2f s (%.1f candidates/s, 2 workers)\n", s,
            164 / s);
    ck_assert_int_eq(errors, 0);
    ck_assert_int_eq(passed, 164);
    run_sweep(t, 1, &passed, &errors);
    ck_assert_int_eq(errors, 0);
    ck_assert_int_eq(passed, 0);
    char iso[160];
    s2_sandbox_isolation(iso, sizeof iso);
    ck_assert_ptr_nonnull(strstr(iso, "seccomp"));
    s2_task_free(t);
}
END_TEST

START_TEST(test_code_mbpp_answers)
{
    s2_task *t = make("mbpp", "data/mbpp.jsonl", 0);
    if (t == NULL) return;
    ck_assert_int_eq(s2_task_n_items(t), 500);
    ck_assert_str_eq(s2_task_item_id(t, 0), "mbpp/11");
    ck_assert_str_eq(s2_task_item_id(t, 499), "mbpp/510");
    char *prompt = s2_task_prompt(t, 0);
    ck_assert(strncmp(prompt, "You are an expert Python programmer, and here is your task: ", 60) == 0);
    ck_assert_ptr_nonnull(strstr(prompt, "assert remove_Occ(\"hello\",\"l\") == \"heo\""));
    ck_assert(strcmp(prompt + strlen(prompt) - 10, "```python\n") == 0);
    free(prompt);
    char reason[256];
    /* every 10th reference passes, its wrong answers fail (the full 500 run is in the README's numbers) */
    for (int32_t i = 0; i < 500; i += 10) {
        char *ref = t->iface->reference(t, i);
        ck_assert_msg(verify(t, i, ref, reason, sizeof reason), "%s: %s", s2_task_item_id(t, i), reason);
        free(ref);
        char *w[4];
        int32_t nw = t->iface->wrong_answers(t, i, w, 4);
        ck_assert_int_eq(nw, 2);
        for (int32_t k = 0; k < nw; k++) {
            ck_assert_msg(!verify(t, i, w[k], reason, sizeof reason), "%s: %s", s2_task_item_id(t, i), w[k]);
            free(w[k]);
        }
    }
    /* test_setup_code runs after the code (mbpp/367 builds trees of the code's Node class) */
    int32_t i367 = s2_task_find(t, "mbpp/367");
    ck_assert_int_ge(i367, 0);
    char *ref = t->iface->reference(t, i367);
    ck_assert_msg(verify(t, i367, ref, reason, sizeof reason), "%s", reason);
    /* the answer as a model writes it after the prompt's open fence */
    char buf[8192];
    snprintf(buf, sizeof buf, "%s\n```\n\nExplanation: ...", ref);
    ck_assert_msg(verify(t, i367, buf, reason, sizeof reason), "%s", reason);
    ck_assert(s2_task_is_terminal(t, i367, buf));
    ck_assert(!s2_task_is_terminal(t, i367, ref));
    snprintf(buf, sizeof buf, "%s\n[DONE]", ref);
    ck_assert_msg(verify(t, i367, buf, reason, sizeof reason), "%s", reason);
    free(ref);
    s2_task_free(t);
    /* the other splits */
    s2_task_params p = s2_task_default_params();
    p.split = "all";
    s2_error err = {0};
    ck_assert_int_eq(s2_task_create("mbpp", &p, &t, &err), S2_OK);
    ck_assert_int_eq(s2_task_n_items(t), 974);
    s2_task_free(t);
    p.split = "validation";
    ck_assert_int_eq(s2_task_create("mbpp", &p, &t, &err), S2_OK);
    ck_assert_int_eq(s2_task_n_items(t), 90);
    s2_task_free(t);
    p.split = "nope";
    ck_assert_int_eq(s2_task_create("mbpp", &p, &t, &err), S2_E_ARG);
}
END_TEST

/* ---- verify from several threads at once: each verdict is its own ---- */

typedef struct par {
    s2_task *t;
    const char *text;
    bool want;
    bool got;
} par;

static void *par_verify(void *p) {
    par *a = p;
    s2_verdict v;
    s2_error err = {0};
    if (s2_task_verify(a->t, 0, a->text, &v, &err) == S2_OK) a->got = v.correct;
    else a->got = !a->want;
    s2_verdict_clear(&v);
    return NULL;
}

START_TEST(test_code_verify_is_thread_safe)
{
    s2_task *t = make("humaneval", "data/HumanEval.jsonl.gz", 2);
    if (t == NULL) return;
    char *ref = t->iface->reference(t, 0);
    const char *texts[4] = {ref, "    pass\n", "    while True: pass\n", "    import os\n    os.fork()\n"};
    par a[8];
    pthread_t th[8];
    for (int k = 0; k < 8; k++) {
        a[k] = (par){t, texts[k % 4], k % 4 == 0, false};
        ck_assert_int_eq(pthread_create(&th[k], NULL, par_verify, &a[k]), 0);
    }
    for (int k = 0; k < 8; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 8; k++) ck_assert_msg(a[k].got == a[k].want, "thread %d", k);
    free(ref);
    s2_task_free(t);
}
END_TEST

Suite *code_suite(void) {
    Suite *s = suite_create("code");
    TCase *tc = tcase_create("code");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_code_extract_forms);
    tcase_add_test(tc, test_code_humaneval_answers);
    tcase_add_test(tc, test_code_humaneval_all_canonical_pass_all_stubs_fail);
    tcase_add_test(tc, test_code_mbpp_answers);
    tcase_add_test(tc, test_code_verify_is_thread_safe);
    suite_add_tcase(s, tc);
    return s;
}
