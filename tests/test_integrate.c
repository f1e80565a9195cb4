/* integrate: the expression library (tasks/expr.c) and the integrate task. References are independent of the
 * code under test: derivatives against central finite differences, the simplifier against the evaluation of the
 * unsimplified tree, hand-written texts, and the sys2 binary's check-task. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "task_impl.h"
#include "testutil.h"

static const s2_expr *parse_ok(s2_expr_pool *p, const char *text) {
    const s2_expr *e = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_expr_parse(p, text, &e, &err) == S2_OK, "%s: %s", text, err.msg);
    return e;
}

static void expect_str(const char *text, const char *want) {
    s2_expr_pool *p = s2_expr_pool_new(0);
    char *s = s2_expr_str(parse_ok(p, text));
    ck_assert_msg(strcmp(s, want) == 0, "%s printed as %s, want %s", text, s, want);
    free(s);
    s2_expr_pool_free(p);
}

static double rand01(uint64_t *rng) { return (double)(s2_task_rng_next(rng) >> 11) / (double)(1ull << 53); }

/* ---- parsing and printing ---- */

START_TEST(test_integrate_print_canonical)
{
    expect_str("x^2 + 2*x + 1", "x**2 + 2*x + 1");
    expect_str("x*x", "x**2");
    expect_str("3 - 1", "2");
    expect_str("x + 0", "x");
    expect_str("x*1", "x");
    expect_str("x^1", "x");
    expect_str("2*x + 3*x", "5*x");
    expect_str("x/2 + x/3", "5*x/6");
    expect_str("1/x", "1/x");
    expect_str("sqrt(x)", "sqrt(x)");
    expect_str("1/sqrt(x)", "1/sqrt(x)");
    expect_str("-(x + 1)", "-x - 1");
    expect_str("exp(log(x))", "x");
    expect_str("sin(-x)", "-sin(x)");
    expect_str("cos(-2*x)", "cos(2*x)");
    expect_str("2^10", "1024");
    expect_str("(1/2)^-2", "4");
    expect_str("x**(1/3)", "x**(1/3)");
    expect_str("(-3)^x", "(-3)**x");
    expect_str("exp(x)*exp(2*x)", "exp(3*x)");
}
END_TEST

/* Printing then parsing gives the same tree, for many random expressions. */
START_TEST(test_integrate_print_roundtrip)
{
    s2_expr_pool *p = s2_expr_pool_new(0);
    uint64_t rng = 42;
    int n_done = 0;
    for (int k = 0; k < 3000; k++) {
        s2_expr_pool_reset(p);
        const s2_expr *e = s2_expr_random(p, &rng, 1 + k % 6);
        if (e == NULL) continue;
        char *s = s2_expr_str(e);
        const s2_expr *back = NULL;
        s2_error err = {0};
        ck_assert_msg(s2_expr_parse(p, s, &back, &err) == S2_OK, "%s: %s", s, err.msg);
        ck_assert_msg(s2_expr_cmp(e, back) == 0, "%s does not read back as itself", s);
        free(s);
        n_done++;
    }
    ck_assert_int_gt(n_done, 2000);
    s2_expr_pool_free(p);
}
END_TEST

/* ---- differentiation against finite differences ---- */

/* Central differences with step h and h/2; true and the estimate when they agree (the point is smooth there). */
static bool fd(const s2_expr *e, long double x, long double *out) {
    long double h = 1e-4L;
    long double a = (s2_expr_eval(e, x + h) - s2_expr_eval(e, x - h)) / (2 * h);
    long double b = (s2_expr_eval(e, x + h / 2) - s2_expr_eval(e, x - h / 2)) / h;
    if (!isfinite(a) || !isfinite(b)) return false;
    if (fabsl(a - b) > 1e-6L * (1 + fabsl(b))) return false;
    *out = (4 * b - a) / 3; /* Richardson: error O(h^4) */
    return true;
}

START_TEST(test_integrate_diff_every_function)
{
    /* each function of the table, sqrt and the operators, of an inner argument, at points inside the domain */
    const char *cases[] = {
        "exp(2*x + 1)", "log(x**2 + 1)", "sin(3*x)", "cos(x**2)", "tan(x/3)", "asin(x/4)", "acos(x/4)",
        "atan(2*x)", "sinh(x/2)", "cosh(x/2)", "tanh(x)", "sqrt(x**2 + 2)", "x**5", "x**(-3)", "(x + 5)**(3/2)",
        "x/(x**2 + 1)", "x*sin(x)*exp(x/5)", "(x**2 + 3)**x", "2**x", "x - 7", "3", "1/(x**2 + 1)**2",
    };
    s2_expr_pool *p = s2_expr_pool_new(0);
    uint64_t rng = 7;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const s2_expr *e = parse_ok(p, cases[c]), *d = s2_expr_diff(p, e);
        ck_assert_ptr_nonnull(d);
        int n_checked = 0;
        for (int k = 0; k < 200; k++) {
            long double x = 7.8L * ((long double)rand01(&rng) - 0.5L), want;
            long double got = s2_expr_eval(d, x);
            if (!fd(e, x, &want)) continue;
            ck_assert_msg(isfinite(got) && fabsl(got - want) <= 1e-6L * (1 + fabsl(want)),
                          "d/dx %s at %Lg: %Lg, finite differences %Lg", cases[c], x, got, want);
            n_checked++;
        }
        ck_assert_msg(n_checked >= 50, "%s: only %d points checked", cases[c], n_checked);
    }
    s2_expr_pool_free(p);
}
END_TEST

START_TEST(test_integrate_diff_random)
{
    s2_expr_pool *p = s2_expr_pool_new(0);
    uint64_t rng = 11;
    int64_t n_checked = 0;
    for (int k = 0; k < 3000; k++) {
        s2_expr_pool_reset(p);
        const s2_expr *e = s2_expr_random(p, &rng, 1 + k % 6);
        const s2_expr *d = e != NULL ? s2_expr_diff(p, e) : NULL;
        if (d == NULL) continue;
        for (int j = 0; j < 4; j++) {
            long double x = 6 * ((long double)rand01(&rng) - 0.5L), want;
            long double got = s2_expr_eval(d, x);
            if (!fd(e, x, &want) || fabsl(want) > 1e6L || fabsl(s2_expr_eval(e, x)) > 1e6L) continue;
            if (!isfinite(got)) continue; /* e.g. sqrt(x**2) at 0: e smooth, e' undefined at the point */
            char *s = s2_expr_str(e);
            ck_assert_msg(fabsl(got - want) <= 1e-5L * (1 + fabsl(want)), "d/dx %s at %Lg: %Lg, fd %Lg", s, x, got,
                          want);
            free(s);
            n_checked++;
        }
    }
    ck_assert_int_gt(n_checked, 5000);
    s2_expr_pool_free(p);
}
END_TEST

/* ---- the simplifier keeps values ---- */

/* A random tree built raw (no simplification at all), with the operators the parser knows. */
static const s2_expr *raw_tree(s2_expr_pool *p, uint64_t *rng, int n) {
    s2_rat z = s2_rat_int(0);
    if (n <= 0) {
        if (s2_task_rng_below(rng, 3) != 0) return s2_expr_raw(p, S2_EXPR_X, S2_FN_N, z, 0, NULL);
        return s2_expr_raw(p, S2_EXPR_NUM, S2_FN_N, s2_rat_int((int64_t)s2_task_rng_below(rng, 11) - 5), 0, NULL);
    }
    uint64_t pick = s2_task_rng_below(rng, 8);
    if (pick == 0) {
        const s2_expr *a = raw_tree(p, rng, n - 1);
        return s2_expr_raw(p, S2_EXPR_FN, (s2_expr_fn)s2_task_rng_below(rng, S2_FN_N), z, 1, &a);
    }
    if (pick == 1) {
        static const s2_rat ex[] = {{2, 1}, {3, 1}, {-1, 1}, {-2, 1}, {1, 2}, {-1, 2}, {3, 2}, {0, 1}, {1, 1}};
        const s2_expr *k[2] = {raw_tree(p, rng, n - 1), NULL};
        k[1] = s2_expr_raw(p, S2_EXPR_NUM, S2_FN_N, ex[s2_task_rng_below(rng, 9)], 0, NULL);
        return s2_expr_raw(p, S2_EXPR_POW, S2_FN_N, z, 2, k);
    }
    int l = (int)s2_task_rng_below(rng, (uint64_t)n);
    const s2_expr *k[2] = {raw_tree(p, rng, l), raw_tree(p, rng, n - 1 - l)};
    if (k[0] == NULL || k[1] == NULL) return NULL;
    if (pick == 2) { /* a - b as a + (-1)*b */
        const s2_expr *m[2] = {s2_expr_raw(p, S2_EXPR_NUM, S2_FN_N, s2_rat_int(-1), 0, NULL), k[1]};
        k[1] = s2_expr_raw(p, S2_EXPR_MUL, S2_FN_N, z, 2, m);
    }
    if (pick == 3) { /* a / b as a * b^-1 */
        const s2_expr *m[2] = {k[1], s2_expr_raw(p, S2_EXPR_NUM, S2_FN_N, s2_rat_int(-1), 0, NULL)};
        k[1] = s2_expr_raw(p, S2_EXPR_POW, S2_FN_N, z, 2, m);
    }
    return s2_expr_raw(p, pick <= 2 || pick >= 6 ? S2_EXPR_ADD : S2_EXPR_MUL, S2_FN_N, z, 2, k);
}

/* 100,000 random trees: wherever the raw tree is defined, the simplified one has the same value (or the
 * simplifier refused it with an error, e.g. a rational overflow: counted, and rare). The tolerance, 1e-7 of
 * 1 + |value|, allows for rounding the raw tree does and the simplified one does not (acos(x/x) is acos of
 * 1 - 1e-19, about 4e-10, and exactly 0 once simplified); a wrong rewrite is off by far more. */
START_TEST(test_integrate_simplify_keeps_value)
{
    s2_expr_pool *p = s2_expr_pool_new(0);
    uint64_t rng = 2026;
    int64_t n_points = 0, n_refused = 0;
    for (int k = 0; k < 100000; k++) {
        s2_expr_pool_reset(p);
        const s2_expr *e = raw_tree(p, &rng, 1 + k % 7);
        ck_assert_ptr_nonnull(e);
        const s2_expr *s = s2_expr_simplify(p, e);
        if (s == NULL) {
            /* refused: exactly undefined (x/(x/x - 1) is x/0, although x*(1/x) - 1 rounds to 1e-19 in long
             * double) is right; anything else (an overflow) counts where the raw tree has a value */
            const char *why = s2_expr_pool_error(p);
            if (strstr(why, "division by zero") != NULL || strstr(why, "undefined") != NULL) continue;
            for (int j = 0; j < 3; j++)
                if (isfinite(s2_expr_eval(e, 8 * ((long double)rand01(&rng) - 0.5L)))) {
                    n_refused++;
                    break;
                }
            continue;
        }
        for (int j = 0; j < 3; j++) {
            long double x = 8 * ((long double)rand01(&rng) - 0.5L);
            long double a = s2_expr_eval(e, x), b = s2_expr_eval(s, x);
            if (!isfinite(a) || fabsl(a) > 1e12L) continue;
            /* ill-conditioned points (sin of a huge number) amplify rounding: where a relative change of 1e-15
             * in x moves the raw value by more than the tolerance, rounding and not the simplifier decides */
            long double a2 = s2_expr_eval(e, x * (1 + 1e-15L));
            if (!isfinite(a2) || fabsl(a2 - a) > 1e-11L * (1 + fabsl(a))) continue;
            if (!(isfinite(b) && fabsl(a - b) <= 1e-7L * (1 + fabsl(a)))) {
                char *se = s2_expr_str(e), *ss = s2_expr_str(s);
                ck_abort_msg("simplify changed the value at %Lg: %s = %Lg, %s = %Lg", x, se, a, ss, b);
            }
            n_points++;
        }
    }
    ck_assert_int_gt(n_points, 100000);
    ck_assert_msg(n_refused < 100, "%lld of 100000 defined trees refused", (long long)n_refused);
    s2_expr_pool_free(p);
}
END_TEST

/* ---- equality ---- */

START_TEST(test_integrate_equal_near_misses)
{
    s2_expr_pool *p = s2_expr_pool_new(0);
    /* equal in another form: accepted */
    const char *same[][2] = {
        {"sin(x)**2 + cos(x)**2", "1"}, {"2*sin(x)*cos(x)", "sin(2*x)"}, {"(x + 1)**2", "x**2 + 2*x + 1"},
        {"exp(x + 1)", "exp(x)*exp(1)"}, {"log(x**2)", "2*log(x)"}, {"1/(x**2 - 1)", "1/(2*(x - 1)) - 1/(2*(x + 1))"},
    };
    for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
        s2_expr_eq r = s2_expr_equal(p, parse_ok(p, same[k][0]), parse_ok(p, same[k][1]));
        ck_assert_msg(s2_expr_eq_ok(r), "%s = %s not accepted (%d)", same[k][0], same[k][1], (int)r);
    }
    /* undefined almost everywhere: not verified */
    ck_assert_int_eq(s2_expr_equal(p, parse_ok(p, "sqrt(-x**2 - 1)"), parse_ok(p, "sqrt(-x**2 - 1)*2")),
                     S2_EXPR_UNVERIFIED);
    /* near misses of every integrand of the backward test set: none accepted */
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_task_create("integrate", NULL, &t, &err), S2_OK);
    const char *miss[] = {"2*(%s)", "-(%s)", "%s + x", "%s + 1", "(%s)*(1 + 1/1000)", "%s + sin(x)/1000"};
    int64_t n_pairs = 0;
    for (int32_t i = 0; i < s2_task_n_items(t); i++) {
        for (size_t m = 0; m < sizeof miss / sizeof miss[0]; m++) {
            s2_expr_pool_reset(p);
            char buf[256];
            snprintf(buf, sizeof buf, miss[m], s2_task_item_id(t, i));
            const s2_expr *f = parse_ok(p, s2_task_item_id(t, i)), *g = parse_ok(p, buf);
            s2_expr_eq r = s2_expr_equal(p, f, g);
            ck_assert_msg(!s2_expr_eq_ok(r), "%s accepted as equal to %s", buf, s2_task_item_id(t, i));
            n_pairs++;
        }
    }
    ck_assert_int_eq(n_pairs, 6 * 500);
    s2_task_free(t);
    s2_expr_pool_free(p);
}
END_TEST

/* ---- hostile input ---- */

static void expect_error(const char *text, s2_status want, const char *fragment) {
    s2_expr_pool *p = s2_expr_pool_new(0);
    const s2_expr *e = NULL;
    s2_error err = {0};
    s2_status st = s2_expr_parse(p, text, &e, &err);
    ck_assert_msg(st == want, "%.60s: status %d, want %d (%s)", text, (int)st, (int)want, err.msg);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, fragment) != NULL, "%.60s: '%s' lacks '%s'", text, err.msg, fragment);
    s2_expr_pool_free(p);
}

START_TEST(test_integrate_hostile_input)
{
    expect_error("", S2_E_FORMAT, "unexpected end");
    expect_error("x +", S2_E_FORMAT, "unexpected end");
    expect_error("sin x", S2_E_FORMAT, "expected '('");
    expect_error("foo(x)", S2_E_FORMAT, "unknown name");
    expect_error("x ** ** 2", S2_E_FORMAT, "unexpected character");
    expect_error("(x + 1", S2_E_FORMAT, "expected ')'");
    expect_error("x + 1)", S2_E_FORMAT, "unbalanced");
    expect_error("x \xff", S2_E_FORMAT, "unexpected character");
    expect_error("1/0", S2_E_ARG, "division by zero");
    expect_error("log(0)", S2_E_ARG, "log(0) is undefined");
    expect_error("asin(2)", S2_E_ARG, "asin(2) is undefined");
    expect_error("99999999999999999999999", S2_E_ARG, "number too large");
    expect_error("x**99999999999", S2_E_ARG, "exponent too large");
    /* deep nesting: refused at the depth limit, not by the stack */
    size_t n = 2000;
    char *deep = malloc(2 * n + 2);
    memset(deep, '(', n);
    deep[n] = 'x';
    memset(deep + n + 1, ')', n);
    deep[2 * n + 1] = '\0';
    expect_error(deep, S2_E_BUDGET, "nesting too deep");
    char *neg = malloc(n + 2);
    memset(neg, '-', n);
    neg[n] = 'x';
    neg[n + 1] = '\0';
    expect_error(neg, S2_E_BUDGET, "nesting too deep");
    /* 1 MB: refused by length before any work */
    char *big = malloc((1 << 20) + 1);
    for (size_t k = 0; k < (1 << 20); k++) big[k] = k % 2 ? '+' : 'x';
    big[(1 << 20) - 1] = 'x';
    big[1 << 20] = '\0';
    expect_error(big, S2_E_BUDGET, "longer than");
    free(deep);
    free(neg);
    free(big);
    /* within the limits but explosive: the node budget ends it with an error, or it completes */
    s2_expr_pool *p = s2_expr_pool_new(20000);
    const s2_expr *e = NULL;
    s2_error err = {0};
    s2_status st = s2_expr_parse(p, "x**x**x**x**x**x**x**x**x**x**x**x**x**x**x**x", &e, &err);
    ck_assert_int_eq(st, S2_OK);
    const s2_expr *d = s2_expr_diff(p, e);
    ck_assert(d != NULL || strstr(s2_expr_pool_error(p), "node budget") != NULL);
    s2_expr_pool_free(p);
    /* huge numeric powers stay unevaluated and evaluate to inf, never hang */
    p = s2_expr_pool_new(0);
    e = parse_ok(p, "9**9**9**9");
    ck_assert(!isfinite(s2_expr_eval(e, 0)));
    s2_expr_pool_free(p);
}
END_TEST

/* ---- the task ---- */

static s2_task *make(const char *split) {
    s2_task_params tp = s2_task_default_params();
    tp.split = split;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_task_create("integrate", &tp, &t, &err) == S2_OK, "%s", err.msg);
    return t;
}

/* Every x-free part of e is a real number (sqrt(-4) or asin(cosh(1)) are undefined at every real x). */
static bool all_consts_real(const s2_expr *e) {
    if (!s2_expr_has_x(e)) return isfinite((double)s2_expr_eval(e, 0.0L));
    for (int32_t i = 0; i < e->n; i++)
        if (!all_consts_real(e->kid[i])) return false;
    return true;
}

/* Both test sets: 500 items, every reference verified, every wrong answer rejected; prompts as documented; no
 * integrand holds a constant undefined in the reals (the forward generator once kept 7 such items of 500). */
START_TEST(test_integrate_check_task)
{
    s2_expr_pool *pool = s2_expr_pool_new(0);
    ck_assert(pool != NULL);
    const char *splits[] = {"test-bwd", "test-fwd"};
    for (int s = 0; s < 2; s++) {
        s2_task *t = make(splits[s]);
        ck_assert_int_eq(s2_task_n_items(t), 500);
        for (int32_t i = 0; i < s2_task_n_items(t); i++) {
            ck_assert_int_eq((int)(s2_hash_str(s2_task_item_id(t, i)) % 10), 0);
            const s2_expr *f = NULL;
            s2_error perr = {0};
            s2_expr_pool_reset(pool);
            ck_assert_msg(s2_expr_parse(pool, s2_task_item_id(t, i), &f, &perr) == S2_OK, "%s", perr.msg);
            ck_assert_msg(all_consts_real(f), "%s: %s holds a constant undefined in the reals", splits[s],
                          s2_task_item_id(t, i));
            char *pr = s2_task_prompt(t, i), want[128];
            snprintf(want, sizeof want, "Integrate: %s\n", s2_task_item_id(t, i));
            ck_assert_str_eq(pr, want);
            free(pr);
            char *ref = t->iface->reference(t, i);
            s2_verdict v = {0};
            s2_error err = {0};
            ck_assert_int_eq(s2_task_verify(t, i, ref, &v, &err), S2_OK);
            ck_assert_msg(v.correct, "%s: reference %s rejected: %s", s2_task_item_id(t, i), ref, v.reason);
            ck_assert(s2_task_is_terminal(t, i, ref));
            s2_verdict_clear(&v);
            free(ref);
            char *w[16];
            int32_t nw = t->iface->wrong_answers(t, i, w, 16);
            ck_assert_int_ge(nw, 8);
            for (int32_t k = 0; k < nw; k++) {
                ck_assert_int_eq(s2_task_verify(t, i, w[k], &v, &err), S2_OK);
                ck_assert_msg(!v.correct, "%s: wrong answer accepted: %s", s2_task_item_id(t, i), w[k]);
                s2_verdict_clear(&v);
                free(w[k]);
            }
        }
        s2_task_free(t);
    }
    s2_expr_pool_free(pool);
}
END_TEST

/* A hand-checked item: any constant, any form of F passes; a derivative or a near miss does not. */
START_TEST(test_integrate_verify_forms)
{
    s2_task *t = make("test-bwd");
    /* find an item with a known integrand: use the first one and its reference to build texts */
    const char *f = s2_task_item_id(t, 0);
    (void)f;
    char *ref = t->iface->reference(t, 0), txt[256];
    const char *F = ref + strlen("Answer: ");
    char Fs[128];
    snprintf(Fs, sizeof Fs, "%.*s", (int)(strlen(F) - 1), F);
    s2_verdict v = {0};
    s2_error err = {0};
    snprintf(txt, sizeof txt, "Answer: %s + 17/3\n", Fs);
    ck_assert_int_eq(s2_task_verify(t, 0, txt, &v, &err), S2_OK);
    ck_assert_msg(v.correct, "%s: %s", txt, v.reason);
    s2_verdict_clear(&v);
    snprintf(txt, sizeof txt, "Answer: (%s)*3/3 - 2\n", Fs);
    ck_assert_int_eq(s2_task_verify(t, 0, txt, &v, &err), S2_OK);
    ck_assert_msg(v.correct, "%s: %s", txt, v.reason);
    s2_verdict_clear(&v);
    ck_assert_int_eq(s2_task_verify(t, 0, "no answer here", &v, &err), S2_OK);
    ck_assert(!v.correct);
    ck_assert_str_eq(v.reason, "no answer");
    s2_verdict_clear(&v);
    /* sc's key: one answer in two forms and two constants is one key */
    char *k1 = t->iface->extract(t, 0, "Answer: x**2 + 3\n"), *k2 = t->iface->extract(t, 0, "Answer: -1 + x*x\n");
    ck_assert_str_eq(k1, "x**2");
    ck_assert_str_eq(k2, "x**2");
    free(k1);
    free(k2);
    k1 = t->iface->extract(t, 0, "Answer: sin(x) + 2*x + 5\n");
    ck_assert_str_eq(k1, "2*x + sin(x)");
    free(k1);
    free(ref);
    s2_task_free(t);
}
END_TEST

/* Training examples come from training items only, in the documented format; test sets are fixed. */
START_TEST(test_integrate_examples_held_out)
{
    s2_task *t = make("train");
    for (uint64_t seed = 0; seed < 300; seed++) {
        s2_example ex = {0};
        s2_error err = {0};
        ck_assert_int_eq(t->iface->gen_example(t, S2_ROLE_POLICY, seed, &ex, &err), S2_OK);
        ck_assert(strncmp(ex.prompt, "Integrate: ", 11) == 0);
        ck_assert(strncmp(ex.completion, "Answer: ", 8) == 0);
        char id[128];
        snprintf(id, sizeof id, "%.*s", (int)(strlen(ex.prompt) - 12), ex.prompt + 11);
        ck_assert_msg(s2_hash_str(id) % 10 >= 2, "training example %s is held out", id);
        s2_example_clear(&ex);
    }
    s2_example ex = {0};
    s2_error err = {0};
    ck_assert_int_eq(t->iface->gen_example(t, S2_ROLE_VALUE, 1, &ex, &err), S2_E_UNSUPPORTED);
    s2_task_free(t);
    s2_task *a = make("dev"), *b = make("dev");
    ck_assert_int_eq(s2_task_n_items(a), 200);
    for (int32_t i = 0; i < s2_task_n_items(a); i++) {
        ck_assert_str_eq(s2_task_item_id(a, i), s2_task_item_id(b, i));
        ck_assert_int_eq((int)(s2_hash_str(s2_task_item_id(a, i)) % 10), 1);
    }
    s2_task_free(a);
    s2_task_free(b);
    s2_task_params tp = s2_task_default_params();
    tp.split = "test";
    s2_task *bad = NULL;
    ck_assert_int_eq(s2_task_create("integrate", &tp, &bad, &err), S2_E_ARG);
    ck_assert(strstr(err.msg, "unknown split 'test'") != NULL);
}
END_TEST

/* The binary: `sys2 check-task integrate` on both test sets, and `sys2 task --show`. */
START_TEST(test_integrate_cli)
{
    char cmd[512], *out = NULL;
    const char *splits[] = {"test-bwd", "test-fwd"};
    for (int s = 0; s < 2; s++) {
        snprintf(cmd, sizeof cmd, "%s check-task integrate --split %s 2>&1", t_sys2_bin(), splits[s]);
        ck_assert_int_eq(t_run(cmd, &out), 0);
        ck_assert_msg(strstr(out, "4500 passed, 0 failed") != NULL, "%s", out);
        free(out);
    }
    snprintf(cmd, sizeof cmd, "%s task integrate --split test-fwd --show 2 2>&1", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert(strstr(out, "integrate: 500 items") != NULL);
    ck_assert(strstr(out, "Integrate: ") != NULL && strstr(out, "Answer: ") != NULL);
    free(out);
}
END_TEST

Suite *integrate_suite(void) {
    Suite *s = suite_create("integrate");
    TCase *tc = tcase_create("expr");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_integrate_print_canonical);
    tcase_add_test(tc, test_integrate_print_roundtrip);
    tcase_add_test(tc, test_integrate_diff_every_function);
    tcase_add_test(tc, test_integrate_diff_random);
    tcase_add_test(tc, test_integrate_simplify_keeps_value);
    tcase_add_test(tc, test_integrate_equal_near_misses);
    tcase_add_test(tc, test_integrate_hostile_input);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("task");
    tcase_set_timeout(tt, 300);
    tcase_add_test(tt, test_integrate_check_task);
    tcase_add_test(tt, test_integrate_verify_forms);
    tcase_add_test(tt, test_integrate_examples_held_out);
    tcase_add_test(tt, test_integrate_cli);
    suite_add_tcase(s, tt);
    return s;
}
