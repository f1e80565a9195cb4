/* game24: exact rationals, the answer parser, the verifier's reasons, the solver against a naive twin, the
 * ToT CSV (all 1,362 puzzles solved and verified), the generated set, held-out items and training examples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numgame.h"
#include "rational.h"
#include "task_impl.h"
#include "testutil.h"

/* ---- a naive twin of the solver: unreduced long long fractions, every ordered pair and op ---- */

static bool naive_solve(const long long *num, const long long *den, int n) {
    if (n == 1) return den[0] != 0 && num[0] == 24 * den[0];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            long long rn[4], rd[4];
            int m = 0;
            for (int k = 0; k < n; k++)
                if (k != i && k != j) {
                    rn[m] = num[k];
                    rd[m++] = den[k];
                }
            for (int op = 0; op < 4; op++) {
                long long a = num[i], b = den[i], c = num[j], d = den[j], x, y;
                if (op == 0) { x = a * d + c * b; y = b * d; }
                else if (op == 1) { x = a * d - c * b; y = b * d; }
                else if (op == 2) { x = a * c; y = b * d; }
                else { if (c == 0) continue; x = a * d; y = b * c; }
                if (y < 0) { x = -x; y = -y; }
                rn[m] = x;
                rd[m] = y;
                if (naive_solve(rn, rd, m + 1)) return true;
            }
        }
    return false;
}

static bool naive_solve4(const int *v) {
    long long n[4] = {v[0], v[1], v[2], v[3]}, d[4] = {1, 1, 1, 1};
    return naive_solve(n, d, 4);
}

static s2_task *make(const char *split, const char *data) {
    s2_task_params p = s2_task_default_params();
    p.split = split;
    p.data = data;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_task_create("game24", &p, &t, &err) == S2_OK, "game24 %s: %s", split, err.msg);
    return t;
}

static void verdict_of(const s2_task *t, int32_t i, const char *text, s2_verdict *v) {
    s2_error err = {0};
    ck_assert_int_eq(s2_task_verify(t, i, text, v, &err), S2_OK);
}

/* ---- rationals ---- */

START_TEST(test_game24_rational_exact)
{
    s2_rat e, f, g;
    /* 8 / (3 - 8/3) = 24, which floating point gets as 23.999999999999996 */
    ck_assert_int_eq(s2_rat_make(8, 3, &e), S2_RAT_OK);
    ck_assert_int_eq(s2_rat_sub(s2_rat_int(3), e, &f), S2_RAT_OK);
    ck_assert(f.num == 1 && f.den == 3);
    ck_assert_int_eq(s2_rat_div(s2_rat_int(8), f, &g), S2_RAT_OK);
    ck_assert(g.num == 24 && g.den == 1);
    ck_assert_int_eq(s2_rat_make(6, -4, &e), S2_RAT_OK);
    ck_assert(e.num == -3 && e.den == 2);
    ck_assert_int_eq(s2_rat_div(s2_rat_int(1), s2_rat_int(0), &e), S2_RAT_DIV0);
    ck_assert_int_eq(s2_rat_mul(s2_rat_int(INT64_MAX / 2), s2_rat_int(3), &e), S2_RAT_OVERFLOW);
    ck_assert_int_eq(s2_rat_add(s2_rat_int(INT64_MAX), s2_rat_int(1), &e), S2_RAT_OVERFLOW);
    const char *s = "23.999 rest";
    ck_assert(s2_rat_parse(&s, false, false, &e, NULL));
    ck_assert(e.num == 23999 && e.den == 1000);
    ck_assert_str_eq(s, " rest");
    s = "-8/3";
    ck_assert(s2_rat_parse(&s, true, true, &e, NULL));
    ck_assert(e.num == -8 && e.den == 3);
    bool of = false;
    s = "99999999999999999999999";
    ck_assert(!s2_rat_parse(&s, false, false, &e, &of));
    ck_assert(of);
    ck_assert_int_eq(s2_rat_cmp(e = (s2_rat){2, 3}, (s2_rat){3, 4}), -1);
}
END_TEST

START_TEST(test_game24_eval_expression)
{
    s2_rat v, leaves[8], rhs;
    int nl = 0;
    bool hr = false;
    char why[128];
    const char *e = "8 / (3 - 8 / 3) = 24";
    ck_assert(s2_ng_eval(e, strlen(e), false, &v, leaves, &nl, 8, &rhs, &hr, why, sizeof why));
    ck_assert(v.num == 24 && v.den == 1 && hr && rhs.num == 24);
    ck_assert_int_eq(nl, 4);
    e = "2 * 3 + 4 * 5 - 6 / 3";  /* precedence and left associativity: 6 + 20 - 2 */
    ck_assert(s2_ng_eval(e, strlen(e), false, &v, leaves, &nl, 8, &rhs, &hr, why, sizeof why));
    ck_assert(v.num == 24 && !hr);
    e = "10 - 4 - 3";
    ck_assert(s2_ng_eval(e, strlen(e), false, &v, leaves, &nl, 8, &rhs, &hr, why, sizeof why));
    ck_assert(v.num == 3);
    e = "4 / (2 - 2)";
    ck_assert(!s2_ng_eval(e, strlen(e), false, &v, leaves, &nl, 8, &rhs, &hr, why, sizeof why));
    ck_assert_str_eq(why, "division by zero");
    e = "4 + * 2";
    ck_assert(!s2_ng_eval(e, strlen(e), false, &v, leaves, &nl, 8, &rhs, &hr, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "bad syntax"));
    e = "2 - 5 + 27"; /* fine for rationals, but under the positive-integer rule 2 - 5 is not allowed */
    ck_assert(s2_ng_eval(e, strlen(e), false, &v, leaves, &nl, 8, &rhs, &hr, why, sizeof why));
    ck_assert(!s2_ng_eval(e, strlen(e), true, &v, leaves, &nl, 8, &rhs, &hr, why, sizeof why));
    ck_assert_str_eq(why, "2 - 5 = -3 is not a positive integer");
    char deep[200];
    memset(deep, '(', 100);
    strcpy(deep + 100, "1");
    ck_assert(!s2_ng_eval(deep, strlen(deep), false, &v, leaves, &nl, 8, &rhs, &hr, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "nested too deeply"));
}
END_TEST

/* ---- the verifier's reasons, on 4 9 10 13 (ToT rank 1000) ---- */

START_TEST(test_game24_wrong_answer_reasons)
{
    s2_task *t = make("gen", NULL);
    int32_t i = s2_task_find(t, "4-9-10-13");
    ck_assert_int_ge(i, 0);
    char *prompt = s2_task_prompt(t, i);
    ck_assert_str_eq(prompt, "Input: 4 9 10 13\n");
    free(prompt);
    static const struct { const char *text, *reason; bool ok; } cases[] = {
        {"13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n4 * 6 = 24 (left: 24)\n"
         "Answer: (13 - 9) * (10 - 4) = 24\n", "ok", true},
        {"Answer: (13 - 9) * (10 - 4) = 24", "ok", true},
        {"13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n4 * 6 = 24 (left: 24)\n", "ok (from the steps)", true},
        {"Answer: (13 - 9) * (13 - 4) = 24\n", "uses 13 more often than it is given", false},
        {"Answer: 13 + 9 + 10 = 24\n", "does not use 4", false},
        {"Answer: 13 + 9 + 10 + 4 = 24\n", "the expression equals 36, not 24", false},
        {"Answer: (13 - 9) * (10 - 4) - 0.001 = 24\n", "uses 0.001, which is not an input number", false},
        {"Answer: (13 - 9) * (10 - 4) = 23.999\n", "claims 23.999, the target is 24", false},
        {"Answer: (10 + 13 * 4) / 9 = 24\n", "the expression equals 62/9, not 24", false},
        {"Answer: 4 / (13 - 9 - 4) + 10 = 24\n", "division by zero", false},
        {"Answer: (13 - 9 * (10 - 4) = 24\n", "bad syntax: expected ')' at '= 24'", false},
        {"Answer: 13 - 9 x 10 = 24\n", "bad syntax: unexpected 'x 10 = 24'", false},
        {"13 - 9 = 5 (left: 4 5 10)\nAnswer: (13 - 9) * (10 - 4) = 24\n", "step 1: 13 - 9 is 4, not 5", false},
        {"13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 7 (left: 4 7)\n", "step 2: 10 - 4 is 6, not 7", false},
        {"13 - 9 = 4 (left: 4 10)\n", "step 1: the numbers left are 4 4 10, not 4 10", false},
        {"13 - 8 = 5 (left: 4 5 10)\n", "step 1: 8 is not among the numbers left (4 9 10 13)", false},
        {"13 - 9 = 4 (left: 4 4 10)\n4 * 4 = 16 (left: 10 16)\n16 - 4 = 12 (left: 10 12)\n",
         "step 3: 4 is not among the numbers left (10 16)", false},
        {"let me think\n", "step 1: cannot read 'let me think'", false},
        {"13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n4 + 6 = 10 (left: 10)\n",
         "the steps end in 10, not 24", false},
        {"", "no answer", false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        s2_verdict v;
        verdict_of(t, i, cases[k].text, &v);
        ck_assert_msg(v.correct == cases[k].ok, "case %zu: %s -> %s", k, cases[k].text, v.reason);
        ck_assert_msg(strcmp(v.reason, cases[k].reason) == 0, "case %zu: reason '%s', want '%s'", k, v.reason,
                      cases[k].reason);
        ck_assert(v.reward == (cases[k].ok ? 1.0 : 0.0));
        s2_verdict_clear(&v);
    }
    s2_task_free(t);
}
END_TEST

START_TEST(test_game24_terminal_extract_value_prompt)
{
    s2_task *t = make("gen", NULL);
    int32_t i = s2_task_find(t, "4-9-10-13");
    const char *two = "13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n";
    const char *three = "13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n4 * 6 = 24 (left: 24)\n";
    ck_assert(!s2_task_is_terminal(t, i, ""));
    ck_assert(!s2_task_is_terminal(t, i, two));
    ck_assert(s2_task_is_terminal(t, i, three));
    ck_assert(s2_task_is_terminal(t, i, "Answer: 1 + 2 = 24\n"));
    char *a = t->iface->extract(t, i, three);
    ck_assert_str_eq(a, "(13 - 9) * (10 - 4) = 24");
    free(a);
    a = t->iface->extract(t, i, "13 - 9 = 4 (left: 4 4 10)\nAnswer: (13 - 9) * (10 - 4) = 24  \n");
    ck_assert_str_eq(a, "(13 - 9) * (10 - 4) = 24");
    free(a);
    ck_assert_ptr_null(t->iface->extract(t, i, two));
    /* steps that end beside the target: no answer (issue 13: it read "... = 24" beside "the steps end in 10") */
    const char *ten = "13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n4 + 6 = 10 (left: 10)\n";
    ck_assert_ptr_null(t->iface->extract(t, i, ten));
    s2_verdict v;
    verdict_of(t, i, ten, &v);
    ck_assert_ptr_null(v.answer);
    ck_assert_str_eq(v.reason, "the steps end in 10, not 24");
    s2_verdict_clear(&v);
    verdict_of(t, i, three, &v);
    ck_assert_str_eq(v.answer, "(13 - 9) * (10 - 4) = 24"); /* what the steps computed */
    s2_verdict_clear(&v);
    char *vp = t->iface->value_prompt(t, i, "13 - 9 = 4 (left: 4 4 10)\n");
    ck_assert_str_eq(vp, "Value: 4 4 10\n");
    free(vp);
    vp = t->iface->value_prompt(t, i, "");
    ck_assert_str_eq(vp, "Value: 4 9 10 13\n");
    free(vp);
    vp = t->iface->value_prompt(t, i, "13 - 9 = 5 (left: 4 5 10)\n"); /* a wrong step: what the model claims */
    ck_assert_str_eq(vp, "Value: 4 5 10\n");
    free(vp);
    ck_assert_int_eq(s2_task_oracle(t, i, ""), S2_ORACLE_SOLVABLE);
    ck_assert_int_eq(s2_task_oracle(t, i, two), S2_ORACLE_SOLVABLE);
    ck_assert_int_eq(s2_task_oracle(t, i, "13 - 9 = 5 (left: 4 5 10)\n"), S2_ORACLE_DEAD);
    ck_assert_int_eq(s2_task_oracle(t, i, "13 + 9 = 22 (left: 4 10 22)\n"), S2_ORACLE_DEAD); /* 4 10 22 can't */
    ck_assert_int_eq(s2_task_oracle(t, i, "Answer: 13 + 9 + 10 + 4 = 24\n"), S2_ORACLE_DEAD);
    s2_task_free(t);
}
END_TEST

/* ---- the solver and the oracle against the naive twin ---- */

START_TEST(test_game24_solver_matches_naive)
{
    /* every multiset of 1..13: the exact solver agrees with the naive twin, and 1362 can make 24 */
    int count = 0;
    for (int a = 1; a <= 13; a++)
        for (int b = a; b <= 13; b++)
            for (int c = b; c <= 13; c++)
                for (int d = c; d <= 13; d++) {
                    int v[4] = {a, b, c, d};
                    int64_t num[4] = {a, b, c, d}, den[4] = {1, 1, 1, 1};
                    bool s = s2_game24_solvable(num, den, 4);
                    if (s) count++;
                    if ((a * 7 + b * 3 + c + d) % 5 == 0) /* the naive twin is slow: a fifth of them */
                        ck_assert_msg(s == naive_solve4(v), "%d %d %d %d", a, b, c, d);
                }
    ck_assert_int_eq(count, 1362);
    int64_t n1[4] = {3, 3, 8, 8}, d1[4] = {1, 1, 1, 1}; /* 8 / (3 - 8/3): needs fractions */
    ck_assert(s2_game24_solvable(n1, d1, 4));
    int64_t n2[4] = {1, 1, 1, 1};
    ck_assert(!s2_game24_solvable(n2, d1, 4));
    int64_t n3[2] = {1, 8}, d3[2] = {3, 1}; /* 8 / (1/3) */
    ck_assert(s2_game24_solvable(n3, d3, 2));
}
END_TEST

START_TEST(test_game24_oracle_matches_naive_on_states)
{
    s2_task *t = make("gen", NULL);
    uint64_t rng = 12345;
    s2_ng_rules r = {.target = {24, 1}};
    int dead = 0, live = 0;
    for (int k = 0; k < 600; k++) {
        int32_t i = (int32_t)s2_task_rng_below(&rng, (uint64_t)s2_task_n_items(t));
        const char *id = s2_task_item_id(t, i);
        int v[4];
        ck_assert_int_eq(sscanf(id, "%d-%d-%d-%d", &v[0], &v[1], &v[2], &v[3]), 4);
        s2_ng_state s, end;
        int64_t iv[4] = {v[0], v[1], v[2], v[3]};
        s2_ng_state_ints(&s, iv, 4);
        s2_ng_path p;
        s2_ng_random_steps(&r, &s, 1 + (int)s2_task_rng_below(&rng, 3), &rng, &p);
        s2_buf b = {0};
        s2_ng_write_path(&b, &r, &s, &p, false, &end);
        long long num[4], den[4];
        for (int j = 0; j < end.n; j++) {
            num[j] = end.v[j].num;
            den[j] = end.v[j].den;
        }
        bool want = naive_solve(num, den, end.n);
        s2_oracle o = s2_task_oracle(t, i, b.p);
        ck_assert_msg(o == (want ? S2_ORACLE_SOLVABLE : S2_ORACLE_DEAD), "%s: %s", id, b.p);
        if (want) live++;
        else dead++;
        s2_buf_free(&b);
    }
    ck_assert_int_gt(dead, 50);
    ck_assert_int_gt(live, 20);
    s2_task_free(t);
}
END_TEST

/* ---- the ToT CSV ---- */

static int cmp4(const void *a, const void *b) { return memcmp(a, b, 4 * sizeof(int)); }

START_TEST(test_game24_csv_all_solved_and_verified)
{
    const char *csv = t_shared("data/game24.csv", "test_game24_csv_all_solved_and_verified");
    if (csv == NULL) return;
    s2_task *t = make("all", csv);
    int32_t n = s2_task_n_items(t);
    ck_assert_int_eq(n, 1362);
    int wrong_total = 0;
    for (int32_t i = 0; i < n; i++) {
        char *ref = t->iface->reference(t, i);
        ck_assert_msg(ref != NULL, "item %s: no solution", s2_task_item_id(t, i));
        s2_verdict v;
        verdict_of(t, i, ref, &v);
        ck_assert_msg(v.correct, "item %s: reference rejected (%s):\n%s", s2_task_item_id(t, i), v.reason, ref);
        s2_verdict_clear(&v);
        ck_assert_int_eq(s2_task_oracle(t, i, ""), S2_ORACLE_SOLVABLE);
        free(ref);
        char *w[16];
        int32_t nw = t->iface->wrong_answers(t, i, w, 16);
        ck_assert_int_ge(nw, 9);
        for (int32_t k = 0; k < nw; k++) {
            verdict_of(t, i, w[k], &v);
            ck_assert_msg(!v.correct, "item %s: wrong answer accepted:\n%s", s2_task_item_id(t, i), w[k]);
            ck_assert_str_ne(v.reason, "ok");
            s2_verdict_clear(&v);
            free(w[k]);
        }
        wrong_total += nw;
    }
    ck_assert_int_ge(wrong_total, 9 * 1362);
    s2_task_free(t);
}
END_TEST

START_TEST(test_game24_generated_equals_csv)
{
    const char *csv = t_shared("data/game24.csv", "test_game24_generated_equals_csv");
    if (csv == NULL) return;
    s2_task *all = make("all", csv), *gen = make("gen", NULL);
    int32_t n = s2_task_n_items(all);
    ck_assert_int_eq(s2_task_n_items(gen), n);
    int (*a)[4] = malloc((size_t)n * sizeof *a), (*g)[4] = malloc((size_t)n * sizeof *g);
    for (int32_t i = 0; i < n; i++) {
        char *p = s2_task_prompt(all, i);
        ck_assert_int_eq(sscanf(p, "Input: %d %d %d %d", &a[i][0], &a[i][1], &a[i][2], &a[i][3]), 4);
        free(p);
        ck_assert_int_eq(sscanf(s2_task_item_id(gen, i), "%d-%d-%d-%d", &g[i][0], &g[i][1], &g[i][2], &g[i][3]), 4);
    }
    qsort(a, (size_t)n, sizeof *a, cmp4);
    qsort(g, (size_t)n, sizeof *g, cmp4);
    for (int32_t i = 0; i < n; i++) ck_assert_msg(memcmp(a[i], g[i], sizeof a[i]) == 0, "multiset %d differs", i);
    free(a);
    free(g);
    s2_task_free(all);
    s2_task_free(gen);
}
END_TEST

START_TEST(test_game24_csv_splits_and_errors)
{
    const char *csv = t_shared("data/game24.csv", "test_game24_csv_splits_and_errors");
    if (csv == NULL) return;
    s2_task *t = make(NULL, csv); /* the default split: ToT's ranks 901-1000 */
    ck_assert_int_eq(s2_task_n_items(t), 100);
    ck_assert_str_eq(s2_task_item_id(t, 0), "901");
    ck_assert_str_eq(s2_task_item_id(t, 99), "1000");
    char *p = s2_task_prompt(t, 99);
    ck_assert_str_eq(p, "Input: 4 9 10 13\n");
    free(p);
    for (int32_t i = 0; i < 100; i++) { /* every ToT test puzzle is held out */
        char *q = s2_task_prompt(t, i);
        int v[4];
        ck_assert_int_eq(sscanf(q, "Input: %d %d %d %d", &v[0], &v[1], &v[2], &v[3]), 4);
        ck_assert(s2_game24_heldout(v));
        free(q);
    }
    s2_task_free(t);

    const char *dir = t_tmpdir();
    char path[600];
    s2_error err = {0};
    s2_task_params pp = s2_task_default_params();
    pp.data = path;
    snprintf(path, sizeof path, "%s/bad_header.csv", dir);
    ck_assert(t_write_file(path, "Id,Numbers\n1,1 1 4 6\n", 21));
    ck_assert_int_eq(s2_task_create("game24", &pp, &t, &err), S2_E_FORMAT);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad_header.csv:1: expected the header"));
    snprintf(path, sizeof path, "%s/bad_row.csv", dir);
    const char *rows = "Rank,Puzzles,AMT (s)\n1,1 1 4 6,4.4\n2,1 1 x 11,4.4\n";
    ck_assert(t_write_file(path, rows, strlen(rows)));
    pp.split = "all";
    ck_assert_int_eq(s2_task_create("game24", &pp, &t, &err), S2_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad_row.csv:3:"));
    snprintf(path, sizeof path, "%s/absent.csv", dir);
    ck_assert_int_eq(s2_task_create("game24", &pp, &t, &err), S2_E_IO);
    pp.split = "nonsense";
    ck_assert_int_eq(s2_task_create("game24", &pp, &t, &err), S2_E_ARG);
    pp.split = "gen"; /* generated splits take no file */
    ck_assert_int_eq(s2_task_create("game24", &pp, &t, &err), S2_E_ARG);
}
END_TEST

/* ---- held-out items and training examples ---- */

START_TEST(test_game24_heldout_never_in_training)
{
    s2_task *t = make("gen", NULL), *h = make("heldout", NULL), *tr = make("train", NULL);
    int32_t nh = s2_task_n_items(h), nt = s2_task_n_items(tr);
    ck_assert_int_eq(nh + nt, 1362);
    ck_assert_int_ge(nh, 100); /* ToT's 100 and about a tenth of the rest */
    ck_assert_int_le(nh, 100 + 1362 / 5);
    /* dev: the held-out puzzles that are not ToT's test set */
    s2_task *dv = make("dev", NULL), *tot = make("tot", NULL);
    ck_assert_int_eq(s2_task_n_items(dv), nh - 100);
    for (int32_t i = 0; i < s2_task_n_items(dv); i++) {
        const char *id = s2_task_item_id(dv, i);
        ck_assert_int_ge(s2_task_find(h, id), 0);
        int v[4];
        ck_assert_int_eq(sscanf(id, "%d-%d-%d-%d", &v[0], &v[1], &v[2], &v[3]), 4);
        for (int32_t j = 0; j < 100; j++) {
            char *pr = s2_task_prompt(tot, j);
            int w[4];
            ck_assert_int_eq(sscanf(pr, "Input: %d %d %d %d", &w[0], &w[1], &w[2], &w[3]), 4);
            ck_assert_msg(memcmp(v, w, sizeof v) != 0, "dev holds ToT's %s", id);
            free(pr);
        }
    }
    s2_task_free(dv);
    s2_task_free(tot);
    /* ranked: the CSV's rows whose multiset is held out, every one of them (24.csv lists every solvable multiset),
     * with its rank as the id, spread over the ranks */
    s2_task *rk = make("ranked", NULL);
    ck_assert_int_eq(s2_task_n_items(rk), nh);
    int lo = 100000, hi = 0, prev = 0;
    for (int32_t i = 0; i < s2_task_n_items(rk); i++) {
        int rank = atoi(s2_task_item_id(rk, i)), v[4];
        ck_assert_int_gt(rank, prev); /* in the file's order, each once */
        prev = rank;
        lo = rank < lo ? rank : lo;
        hi = rank > hi ? rank : hi;
        char *pr = s2_task_prompt(rk, i);
        ck_assert_int_eq(sscanf(pr, "Input: %d %d %d %d", &v[0], &v[1], &v[2], &v[3]), 4);
        free(pr);
        char id[48];
        snprintf(id, sizeof id, "%d-%d-%d-%d", v[0], v[1], v[2], v[3]);
        ck_assert_msg(s2_task_find(h, id) >= 0, "ranked %d (%s) is not held out", rank, id);
    }
    ck_assert_int_lt(lo, 100);
    ck_assert_int_gt(hi, 1300);
    s2_task_free(rk);
    s2_error err = {0};
    for (int role = 0; role < 2; role++) {
        int sure = 0, full = 0, by_depth[4][2] = {{0}};
        for (uint64_t seed = 0; seed < 10000; seed++) {
            s2_example e = {0};
            ck_assert_int_eq(t->iface->gen_example(t, (s2_role)role, seed, &e, &err), S2_OK);
            int v[4], got;
            if (role == 0) {
                got = sscanf(e.prompt, "Input: %d %d %d %d", &v[0], &v[1], &v[2], &v[3]);
                ck_assert_int_eq(got, 4);
            } else {
                got = sscanf(e.prompt, "Value: %d %d %d %d", &v[0], &v[1], &v[2], &v[3]);
                int left = 1;
                for (const char *q = e.prompt + 7; *q != '\n'; q++) left += *q == ' ';
                ck_assert(left >= 1 && left <= 4);
                if (strcmp(e.completion, "sure\n") == 0) {
                    sure++;
                    by_depth[left - 1][1]++;
                } else {
                    ck_assert_str_eq(e.completion, "impossible\n");
                    by_depth[left - 1][0]++;
                }
            }
            if (got == 4) { /* a starting state shows its puzzle: never a held-out one */
                full++;
                ck_assert_msg(!s2_game24_heldout(v), "seed %llu: held-out %d %d %d %d", (unsigned long long)seed,
                              v[0], v[1], v[2], v[3]);
                char id[32];
                snprintf(id, sizeof id, "%d-%d-%d-%d", v[0], v[1], v[2], v[3]);
                ck_assert_int_lt(s2_task_find(h, id), 0);
                /* a puzzle of the training split, or (value examples only) a multiset that cannot make 24 */
                if (role == 0 || strcmp(e.completion, "sure\n") == 0) ck_assert_int_ge(s2_task_find(tr, id), 0);
                else ck_assert_int_lt(s2_task_find(t, id), 0);
            }
            s2_example_clear(&e);
        }
        if (role == 1) {
            ck_assert_int_gt(sure, 4700); /* balanced by rejection */
            ck_assert_int_lt(sure, 5300);
            for (int d = 0; d < 4; d++) { /* and at every depth: the count of numbers says nothing */
                int all = by_depth[d][0] + by_depth[d][1];
                ck_assert_msg(all > 2000 && by_depth[d][1] > all * 4 / 10 && by_depth[d][1] < all * 6 / 10,
                              "%d numbers left: %d sure of %d", d + 1, by_depth[d][1], all);
            }
        }
        ck_assert_int_gt(full, 100);
    }
    s2_task_free(t);
    s2_task_free(h);
    s2_task_free(tr);
}
END_TEST

START_TEST(test_game24_examples_deterministic_and_valid)
{
    s2_task *t = make("gen", NULL);
    s2_error err = {0};
    int n_pre[3] = {0}, n_solved = 0;
    for (uint64_t seed = 0; seed < 300; seed++) {
        s2_example a = {0}, b = {0};
        ck_assert_int_eq(t->iface->gen_example(t, S2_ROLE_POLICY, seed, &a, &err), S2_OK);
        ck_assert_int_eq(t->iface->gen_example(t, S2_ROLE_POLICY, seed, &b, &err), S2_OK);
        ck_assert_str_eq(a.prompt, b.prompt);
        ck_assert_str_eq(a.completion, b.completion);
        /* the prompt's steps and the completion are valid steps of the puzzle to the end; when the state after
         * the prompt can still make 24 (by the naive twin), the completion solves it with a correct answer, else
         * it plays valid steps to the end without an answer line */
        int v[4];
        ck_assert_int_eq(sscanf(a.prompt, "Input: %d %d %d %d", &v[0], &v[1], &v[2], &v[3]), 4);
        char id[32];
        snprintf(id, sizeof id, "%d-%d-%d-%d", v[0], v[1], v[2], v[3]);
        int32_t i = s2_task_find(t, id);
        ck_assert_int_ge(i, 0);
        const char *steps = strchr(a.prompt, '\n') + 1;
        int pre = 0;
        for (const char *c = steps; *c; c++) pre += *c == '\n';
        ck_assert_int_le(pre, 2);
        n_pre[pre]++;
        char text[512];
        snprintf(text, sizeof text, "%s%s", steps, a.completion);
        int lines = 0;
        for (const char *c = text; *c; c++) lines += *c == '\n';
        long long num[4], den[4];
        int n = 0;
        const char *p = pre == 0 ? a.prompt + strlen("Input: ") : strrchr(steps, ':') + 1;
        while (*p == ' ') p++;
        while (*p != '\n' && *p != ')') {
            s2_rat r;
            ck_assert(s2_rat_parse(&p, true, true, &r, NULL));
            num[n] = r.num;
            den[n++] = r.den;
            while (*p == ' ') p++;
        }
        ck_assert_int_eq(n, 4 - pre);
        s2_verdict vd;
        verdict_of(t, i, text, &vd);
        if (naive_solve(num, den, n)) {
            ck_assert_msg(vd.correct && strcmp(vd.reason, "ok") == 0, "%s%s-> %s", a.prompt, a.completion, vd.reason);
            ck_assert_int_eq(lines, 4);
            n_solved++;
        } else {
            ck_assert_msg(!vd.correct && strstr(a.completion, "Answer:") == NULL, "%s%s", a.prompt, a.completion);
            ck_assert_int_eq(lines, 3);
        }
        s2_verdict_clear(&vd);
        ck_assert_msg(s2_task_legal(t, i, text), "%s%s", a.prompt, a.completion);
        /* value examples: the label is the naive twin's verdict on the numbers shown */
        s2_example_clear(&a);
        s2_example_clear(&b);
        ck_assert_int_eq(t->iface->gen_example(t, S2_ROLE_VALUE, seed, &a, &err), S2_OK);
        n = 0;
        p = a.prompt + strlen("Value: ");
        while (*p != '\n') {
            s2_rat r;
            ck_assert(s2_rat_parse(&p, true, true, &r, NULL));
            num[n] = r.num;
            den[n++] = r.den;
            while (*p == ' ') p++;
        }
        bool want = naive_solve(num, den, n);
        ck_assert_str_eq(a.completion, want ? "sure\n" : "impossible\n");
        s2_example_clear(&a);
    }
    /* half the examples start at the puzzle, the rest after 1 or 2 random steps; most of those are dead */
    ck_assert_int_gt(n_pre[0], 120);
    ck_assert_int_lt(n_pre[0], 180);
    ck_assert_int_gt(n_pre[1], 40);
    ck_assert_int_gt(n_pre[2], 40);
    ck_assert_int_gt(n_solved, n_pre[0]);
    ck_assert_int_lt(n_solved, 300 - 40);
    s2_example a = {0}, b = {0};
    t->iface->gen_example(t, S2_ROLE_POLICY, 1, &a, &err);
    t->iface->gen_example(t, S2_ROLE_POLICY, 2, &b, &err);
    ck_assert(strcmp(a.prompt, b.prompt) != 0 || strcmp(a.completion, b.completion) != 0);
    s2_example_clear(&a);
    s2_example_clear(&b);
    s2_task_free(t);
}
END_TEST

/* difficulty D widens the 4-number value states to 1..D half the time; labels stay the naive twin's, held-out
 * multisets never appear, and the default (1..13 only) is untouched; D outside 13..99 is refused */
START_TEST(test_game24_value_difficulty_widens_starting_numbers)
{
    s2_task_params p = s2_task_default_params();
    p.split = "gen";
    s2_error err = {0};
    s2_task *t = NULL;
    p.difficulty = 12;
    ck_assert_int_eq(s2_task_create("game24", &p, &t, &err), S2_E_ARG);
    ck_assert_msg(strstr(err.msg, "difficulty 12") != NULL, "%s", err.msg);
    p.difficulty = 24;
    ck_assert_msg(s2_task_create("game24", &p, &t, &err) == S2_OK, "%s", err.msg);
    s2_task *plain = make("gen", NULL);
    int four = 0, wide = 0, wide_plain = 0, sure_wide = 0;
    for (uint64_t seed = 0; seed < 4000; seed++) {
        s2_example e = {0}, f = {0};
        ck_assert_int_eq(t->iface->gen_example(t, S2_ROLE_VALUE, seed, &e, &err), S2_OK);
        ck_assert_int_eq(plain->iface->gen_example(plain, S2_ROLE_VALUE, seed, &f, &err), S2_OK);
        int v[4];
        if (sscanf(f.prompt, "Value: %d %d %d %d\n", &v[0], &v[1], &v[2], &v[3]) == 4 && strchr(f.prompt, '/') == NULL)
            for (int j = 0; j < 4; j++) wide_plain += v[j] > 13;
        if (sscanf(e.prompt, "Value: %d %d %d %d\n", &v[0], &v[1], &v[2], &v[3]) == 4 &&
            strchr(e.prompt, '/') == NULL && strchr(e.prompt, '-') == NULL) {
            four++;
            bool big = false;
            long long num[4], den[4] = {1, 1, 1, 1};
            for (int j = 0; j < 4; j++) {
                ck_assert(v[j] >= 1 && v[j] <= 24);
                big |= v[j] > 13;
                num[j] = v[j];
            }
            ck_assert(!s2_game24_heldout(v));
            bool sure = strcmp(e.completion, "sure\n") == 0;
            ck_assert_int_eq(sure, naive_solve(num, den, 4));
            wide += big;
            sure_wide += big && sure;
        }
        s2_example_clear(&e);
        s2_example_clear(&f);
    }
    ck_assert_int_eq(wide_plain, 0);
    ck_assert_int_gt(four, 600);
    ck_assert_int_gt(wide, four / 4); /* half drawn from 1..24, most of those with a number over 13 */
    ck_assert_int_lt(wide, four * 3 / 4);
    ck_assert_int_gt(sure_wide, wide / 4);
    s2_task_free(t);
    s2_task_free(plain);
}
END_TEST

START_TEST(test_game24_few_shot_prompt)
{
    s2_task_params p = s2_task_default_params();
    p.split = "heldout";
    p.n_shot = 2;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_task_create("game24", &p, &t, &err), S2_OK);
    char *pr = s2_task_prompt(t, 0);
    /* two solved examples, each ending with a blank line, then the item */
    int inputs = 0, answers = 0;
    for (const char *s = pr; (s = strstr(s, "Input: ")) != NULL; s++) inputs++;
    for (const char *s = pr; (s = strstr(s, "Answer: ")) != NULL; s++) answers++;
    ck_assert_int_eq(inputs, 3);
    ck_assert_int_eq(answers, 2);
    char *zero = NULL;
    s2_task_free(t);
    p.n_shot = 0;
    ck_assert_int_eq(s2_task_create("game24", &p, &t, &err), S2_OK);
    zero = s2_task_prompt(t, 0);
    ck_assert(strlen(pr) > strlen(zero));
    ck_assert_str_eq(pr + strlen(pr) - strlen(zero), zero);
    free(pr);
    free(zero);
    s2_task_free(t);
}
END_TEST

T_SUITE_DECL(game24)
Suite *game24_suite(void) {
    Suite *s = suite_create("game24");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_game24_rational_exact);
    tcase_add_test(tc, test_game24_eval_expression);
    tcase_add_test(tc, test_game24_wrong_answer_reasons);
    tcase_add_test(tc, test_game24_terminal_extract_value_prompt);
    tcase_add_test(tc, test_game24_solver_matches_naive);
    tcase_add_test(tc, test_game24_oracle_matches_naive_on_states);
    tcase_add_test(tc, test_game24_csv_all_solved_and_verified);
    tcase_add_test(tc, test_game24_generated_equals_csv);
    tcase_add_test(tc, test_game24_csv_splits_and_errors);
    tcase_add_test(tc, test_game24_heldout_never_in_training);
    tcase_add_test(tc, test_game24_examples_deterministic_and_valid);
    tcase_add_test(tc, test_game24_value_difficulty_widens_starting_numbers);
    tcase_add_test(tc, test_game24_few_shot_prompt);
    suite_add_tcase(s, tc);
    return s;
}
