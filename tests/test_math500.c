/* MATH-500: \boxed{} extraction, the LaTeX answer normaliser and its equivalence on the published formats,
 * hostile inputs, and the task on the shared file (each reference solution's boxed answer matches `answer`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "latex.h"
#include "task.h"
#include "testutil.h"

Suite *math500_suite(void);

static void boxed_is(const char *text, const char *want) {
    char *got = s2_latex_last_boxed(text);
    if (want == NULL) {
        ck_assert_msg(got == NULL, "\"%s\" -> \"%s\", want none", text, got);
        return;
    }
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "\"%s\" -> \"%s\", want \"%s\"", text,
                  got ? got : "(none)", want);
    free(got);
}

START_TEST(test_math500_boxed_extraction)
{
    boxed_is("so $\\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt{3}}{2}");
    boxed_is("\\boxed{1} then \\boxed{(1, 2)}", "(1, 2)");
    boxed_is("\\fbox{7}", "7");
    boxed_is("\\boxed{\\text{(C)}}", "\\text{(C)}");
    boxed_is("answer: \\boxed 5$", "5");
    boxed_is("\\boxed{\\{1,2\\}}", "\\{1,2\\}");          /* escaped braces do not close */
    boxed_is("\\boxed{\\frac{1}{2}", NULL);               /* not closed */
    boxed_is("no box here", NULL);
    boxed_is("\\boxedx{3}", NULL);                        /* another command */
    boxed_is("\\boxed{}", "");
}
END_TEST

static void eq(const char *a, const char *b) {
    ck_assert_msg(s2_latex_equiv(a, b), "\"%s\" should equal \"%s\"", a, b);
    ck_assert_msg(s2_latex_equiv(b, a), "\"%s\" should equal \"%s\"", b, a);
}

static void ne(const char *a, const char *b) {
    ck_assert_msg(!s2_latex_equiv(a, b), "\"%s\" should differ from \"%s\"", a, b);
    ck_assert_msg(!s2_latex_equiv(b, a), "\"%s\" should differ from \"%s\"", b, a);
}

START_TEST(test_math500_fractions_and_decimals)
{
    char *b = s2_latex_last_boxed("\\boxed{\\frac{1}{2}}");
    eq(b, "\\dfrac12");
    eq(b, "0.5");
    eq(b, "\\tfrac{1}{2}");
    eq(b, "1/2");
    eq(b, "\\frac{2}{4}");
    eq(b, ".5");
    eq(b, "0.50");
    ne(b, "0.51");
    ne(b, "\\frac{1}{3}");
    free(b);
    eq("\\frac 34", "0.75");
    eq("\\frac9{19}", "\\frac{9}{19}");
    eq("-\\frac{3}{8}", "\\frac{-3}{8}");
    eq("-\\frac{3}{8}", "-0.375");
    eq("137 \\frac{1}{2}", "137.5");      /* a mixed number */
    eq("1\\frac{4}{5}", "\\frac95");
    eq(".0000672", "\\frac{672}{10000000}");
    eq("5", "5.0");
    ne("5", "50");
    ne("1", "2");
    ne("\\frac{1}{2}", "\\frac{2}{1}");
}
END_TEST

START_TEST(test_math500_roots_pi_complex)
{
    char *b = s2_latex_last_boxed("\\boxed{\\frac{\\sqrt{3}}{2}}");
    eq(b, "\\frac{\\sqrt{3}}{2}");
    eq(b, "\\frac{\\sqrt{3}}{2} \\cdot 1");
    free(b);
    eq("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}");
    eq("\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2");
    eq("\\frac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}");
    eq("2\\sqrt{2}", "\\sqrt{8}");
    eq("11\\sqrt2", "11 \\sqrt{2}");
    eq("\\frac{1}{\\sqrt{3}}", "\\frac{\\sqrt{3}}{3}");
    eq("\\sqrt{\\frac{1}{2}}", "\\frac{\\sqrt2}{2}");
    ne("\\sqrt{2}", "\\sqrt{3}");
    ne("\\sqrt{2}", "1.414");
    eq("\\pi", "\\frac{2\\pi}{2}");
    eq("12\\pi", "12 \\pi");
    eq("-\\frac{\\pi}{6}", "-\\frac16\\pi");
    eq("\\frac{20000}{\\pi}", "20000/\\pi");
    ne("\\pi", "3.14");
    eq("\\pi r^2", "r^2\\pi");
    eq("\\frac ab", "\\frac{a}{b}");
    eq("2\\sqrt x", "2\\sqrt{x}");
    eq("1 - 12i", "-12i + 1");
    eq("-2 + 7i", "7i-2");
    ne("1+2i", "1-2i");
    eq("\\sqrt{-4}", "2i");
    eq("3 \\pm 2 \\sqrt{2}", "3 + 2\\sqrt2, 3 - 2\\sqrt{2}");
    eq("1 \\pm \\sqrt{19}", "1-\\sqrt{19},1+\\sqrt{19}");
    ne("1 \\pm \\sqrt{19}", "1+\\sqrt{19}");
}
END_TEST

START_TEST(test_math500_text_units_degrees)
{
    eq("\\text{(C)}", "C");
    eq("\\text{(C)}", "(C)");
    ne("\\text{(C)}", "\\text{(B)}");
    eq("10^\\circ", "10");
    eq("10^{\\circ}", "10");
    eq("106^\\circ", "106 degrees");
    eq("\\frac{270}7\\text{ degrees}", "\\frac{270}{7}");
    eq("15\\mbox{ cm}^2", "15");
    eq("864 \\mbox{ inches}^2", "864");
    eq("5.4 \\text{ cents}", "5.4");
    eq("\\$18.90", "18.9");
    eq("\\$32,\\!348", "32348");
    eq("10,\\!080", "10080");
    eq("11,\\! 111,\\! 111,\\! 100", "11111111100");
    eq("50\\%", "50");
    eq("\\text{Evelyn}", "Evelyn");
    eq("\\text{east}", "east");
    ne("east", "seat");                 /* words are not products of letters */
    ne("\\text{Evelyn}", "\\text{Navin}");
    eq("x = 5", "5");
    eq("x=5", "5");
    eq("y = 2x + 3", "2x+3");
    eq("x \\in [-2,7]", "[-2, 7]");
}
END_TEST

START_TEST(test_math500_tuples_intervals_sets)
{
    char *b = s2_latex_last_boxed("\\boxed{(1, 2)}");
    eq(b, "(1,2)");
    eq(b, "\\left( 1, 2 \\right)");
    ne(b, "(2,1)");                   /* ordered */
    ne(b, "[1,2]");                   /* brackets count */
    ne(b, "(1,2,3)");
    free(b);
    eq("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac\\pi2)");
    eq("(3,4]", "\\left(3, 4\\right]");
    ne("(3,4]", "(3,4)");
    eq("(-\\infty, 0]", "(-\\infty,0]");
    eq("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)");
    ne("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup[3,\\infty)");
    eq("-2,1", "1, -2");              /* a bare list is unordered */
    eq("\\{1\\pm\\sqrt{5},-2\\}", "-2, 1+\\sqrt5, 1-\\sqrt5");
    eq("3, 5, 7", "7,5,3");
    ne("3, 5, 7", "3, 5");
    eq("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}");
    ne("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix}-1&0\\\\0&1\\end{pmatrix}");
    eq("\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", "\\begin{pmatrix} \\frac15 \\\\ -3.6 \\end{pmatrix}");
    ne("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\end{pmatrix}"); /* shape */
}
END_TEST

START_TEST(test_math500_polynomials)
{
    eq("x^2+2x", "x(x+2)");
    eq("(a+5)(b+2)", "ab + 2a + 5b + 10");
    eq("x^3+3x-6", "3x + x^3 - 6");
    eq("\\frac{11+9a}{20}", "\\frac{11}{20} + \\frac{9a}{20}");
    eq("p - q", "-q+p");
    eq("2k+2", "2(k+1)");
    ne("2k+2", "2k+1");
    ne("3R^2", "3r^2");               /* case matters for variables */
    eq("204_5", "204_{5}");           /* a base subscript is kept as written */
    ne("204_5", "204");
    eq("\\cot x", "\\cot x");
    ne("\\cot x", "\\tan x");
}
END_TEST

START_TEST(test_math500_hostile_inputs)
{
    /* deep nesting, overflow, junk: no crash, and sensible answers */
    size_t n = 20000;
    char *deep = malloc(2 * n + 2);
    for (size_t i = 0; i < n; i++) deep[i] = '{';
    deep[n] = '1';
    for (size_t i = 0; i < n; i++) deep[n + 1 + i] = '}';
    deep[2 * n + 1] = '\0';
    ck_assert(s2_latex_equiv(deep, deep));
    ne(deep, "2");
    free(deep);
    eq("99999999999999999999999", "99999999999999999999999"); /* overflows: compared as strings */
    ne("99999999999999999999999", "99999999999999999999998");
    ne("2^{99}", "2^{98}");
    ne("\\frac{1}{0}", "0");
    eq("\\frac{1}{0}", "\\frac{1}{0}");
    char *k = s2_latex_key("\\frac{\\frac{\\frac{");
    ck_assert_ptr_nonnull(k);
    free(k);
    ck_assert(!s2_latex_equiv("", "0"));
    char *c = s2_latex_clean(NULL);
    ck_assert_str_eq(c, "");
    free(c);
}
END_TEST

/* Random texts from LaTeX-ish pieces through every extractor and normaliser: no crash (ASan checks memory), and a
 * key is a function of its answer. */
START_TEST(test_math500_random_texts_do_not_crash)
{
    static const char *const pieces[] = {"\\frac", "\\dfrac", "\\sqrt", "{", "}", "(", ")", "[", "]", "\\{", "\\}",
                                         "1", "23", ".5", "-", "+", "^", "_", ",", "\\pi", "x", "i", "\\text{",
                                         " cm", "\\boxed{", "\\fbox", "$", "\\!", "\\,", "\\left", "\\right",
                                         "\\pm", "\\cup", "\\infty", "^\\circ", "=", "\\begin{pmatrix}", "&",
                                         "\\\\", "\\end{pmatrix}", "#### ", "The answer is ", "%", "\\", " ", "\n",
                                         "```python\n", "```", "def f(", "    return 1\n", "99999999999999999999"};
    uint64_t state = 12345;
    char text[512];
    for (int it = 0; it < 3000; it++) {
        size_t n = 0;
        int k = 1 + (int)((state = state * 6364136223846793005ull + 1442695040888963407ull) >> 60);
        for (int j = 0; j < k * 3; j++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const char *p = pieces[(state >> 33) % (sizeof pieces / sizeof pieces[0])];
            size_t l = strlen(p);
            if (n + l >= sizeof text) break;
            memcpy(text + n, p, l);
            n += l;
        }
        text[n] = '\0';
        char *k1 = s2_latex_key(text), *k2 = s2_latex_key(text);
        ck_assert_ptr_nonnull(k1);
        ck_assert_str_eq(k1, k2);
        free(k1);
        free(k2);
        free(s2_latex_last_boxed(text));
        free(s2_math_extract(text));
        free(s2_gsm8k_extract(text));
        free(s2_code_extract(text));
        free(s2_code_cut_body(text));
        ck_assert(s2_latex_equiv(text, text));
    }
}
END_TEST

START_TEST(test_math500_extract_forms)
{
    char *a = s2_math_extract("so the area is $\\boxed{12\\pi}$ square units");
    ck_assert_str_eq(a, "12\\pi");
    free(a);
    a = s2_math_extract("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.");
    ck_assert_str_eq(a, "\\frac{1}{2}");
    free(a);
    a = s2_math_extract("The final answer is 7.\nMore text");
    ck_assert_str_eq(a, "7");
    free(a);
    ck_assert_ptr_null(s2_math_extract("I think it is 7"));
}
END_TEST

START_TEST(test_math500_task_on_the_dataset)
{
    if (t_shared("data/math500_test.jsonl", "test_math500_task_on_the_dataset") == NULL) return;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_task_create("math500", NULL, &t, &err) == S2_OK, "%s", err.msg);
    int32_t n = s2_task_n_items(t);
    ck_assert_int_eq(n, 500);
    ck_assert_str_eq(s2_task_item_id(t, 0), "test/precalculus/807.json");
    char *prompt = s2_task_prompt(t, 0);
    ck_assert(strncmp(prompt, "Problem: Convert the point", 26) == 0);
    ck_assert_ptr_nonnull(strstr(prompt, "\\boxed{}"));
    free(prompt);
    /* the reference solution's boxed answer matches `answer`; each wrong answer is rejected */
    int misses = 0, wrong = 0;
    for (int32_t i = 0; i < n; i++) {
        char *ref = t->iface->reference(t, i);
        s2_verdict v;
        ck_assert_int_eq(s2_task_verify(t, i, ref, &v, &err), S2_OK);
        if (!v.correct) {
            misses++;
            fprintf(stderr, "math500 miss %s: %s\n", s2_task_item_id(t, i), v.reason);
        }
        ck_assert(s2_task_is_terminal(t, i, ref));
        s2_verdict_clear(&v);
        free(ref);
        char *w[4];
        int32_t nw = t->iface->wrong_answers(t, i, w, 4);
        ck_assert_int_ge(nw, 1);
        for (int32_t k = 0; k < nw; k++) {
            ck_assert_int_eq(s2_task_verify(t, i, w[k], &v, &err), S2_OK);
            ck_assert_msg(!v.correct, "%s: wrong answer accepted: %s", s2_task_item_id(t, i), w[k]);
            s2_verdict_clear(&v);
            free(w[k]);
            wrong++;
        }
    }
    ck_assert_int_le(misses, 5); /* the Done-when: at least 495 of 500 (this file: all 500) */
    ck_assert_int_eq(misses, 0);
    ck_assert_int_ge(wrong, 1000);
    s2_verdict v;
    ck_assert_int_eq(s2_task_verify(t, 0, "so $\\boxed{\\left(3,\\dfrac\\pi2\\right)}$", &v, &err), S2_OK);
    ck_assert_msg(v.correct, "%s", v.reason);
    s2_verdict_clear(&v);
    /* extract gives keys: equivalent answers extract alike, for voting */
    char *k1 = t->iface->extract(t, 0, "so \\boxed{\\frac12}"), *k2 = t->iface->extract(t, 0, "it is $\\boxed{0.5}$.");
    ck_assert_str_eq(k1, k2);
    free(k1);
    free(k2);
    ck_assert_ptr_null(t->iface->extract(t, 0, "no answer yet"));
    ck_assert_int_eq(s2_task_verify(t, 0, "so $\\boxed{(3,\\pi)}$", &v, &err), S2_OK);
    ck_assert(!v.correct);
    ck_assert_str_eq(v.reason, "answer (3,\\pi), expected \\left( 3, \\frac{\\pi}{2} \\right)");
    s2_verdict_clear(&v);
    s2_task_free(t);
}
END_TEST

Suite *math500_suite(void) {
    Suite *s = suite_create("math500");
    TCase *tc = tcase_create("math500");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_math500_boxed_extraction);
    tcase_add_test(tc, test_math500_fractions_and_decimals);
    tcase_add_test(tc, test_math500_roots_pi_complex);
    tcase_add_test(tc, test_math500_text_units_degrees);
    tcase_add_test(tc, test_math500_tuples_intervals_sets);
    tcase_add_test(tc, test_math500_polynomials);
    tcase_add_test(tc, test_math500_hostile_inputs);
    tcase_add_test(tc, test_math500_random_texts_do_not_crash);
    tcase_add_test(tc, test_math500_extract_forms);
    tcase_add_test(tc, test_math500_task_on_the_dataset);
    suite_add_tcase(s, tc);
    return s;
}
