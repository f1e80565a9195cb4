/* tasks: the registry and task.c helpers; countdown, arith and listprog (verifiers on hand-written right and
 * wrong answers, oracles against naive twins, the listprog interpreter on hand-computed programs and fuel,
 * deterministic generators, held-out items never in training examples); and the task commands of the binary. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numgame.h"
#include "task_impl.h"
#include "testutil.h"

static s2_task *make(const char *name, const char *split, uint64_t seed, int32_t difficulty, int32_t n_items) {
    s2_task_params p = s2_task_default_params();
    p.split = split;
    p.seed = seed;
    p.difficulty = difficulty;
    p.n_items = n_items;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_task_create(name, &p, &t, &err) == S2_OK, "%s: %s", name, err.msg);
    return t;
}

static void verdict_of(const s2_task *t, int32_t i, const char *text, s2_verdict *v) {
    s2_error err = {0};
    ck_assert_int_eq(s2_task_verify(t, i, text, v, &err), S2_OK);
}

/* Every item: the reference is accepted (reward 1) and each wrong answer rejected (reward < 1). */
static void check_all_items(const s2_task *t) {
    for (int32_t i = 0; i < s2_task_n_items(t); i++) {
        char *ref = t->iface->reference(t, i);
        ck_assert_ptr_nonnull(ref);
        s2_verdict v;
        verdict_of(t, i, ref, &v);
        ck_assert_msg(v.correct && v.reward == 1.0, "%s %s: reference rejected (%s)\n%s", t->iface->name,
                      s2_task_item_id(t, i), v.reason, ref);
        s2_verdict_clear(&v);
        ck_assert(s2_task_is_terminal(t, i, ref));
        ck_assert_int_eq(s2_task_oracle(t, i, ref), S2_ORACLE_SOLVABLE);
        free(ref);
        char *w[32];
        int32_t nw = t->iface->wrong_answers(t, i, w, 32);
        ck_assert_int_ge(nw, 5);
        for (int32_t k = 0; k < nw; k++) {
            verdict_of(t, i, w[k], &v);
            ck_assert_msg(!v.correct && v.reward < 1.0, "%s %s: wrong answer accepted:\n%s", t->iface->name,
                          s2_task_item_id(t, i), w[k]);
            s2_verdict_clear(&v);
            free(w[k]);
        }
    }
}

/* ---- registry and helpers ---- */

START_TEST(test_tasks_registry)
{
    const char *mine[] = {"game24", "countdown", "arith", "listprog"};
    ck_assert_int_ge(s2_task_count(), 4);
    for (size_t k = 0; k < 4; k++) {
        bool found = false;
        for (int32_t i = 0; i < s2_task_count(); i++)
            if (strcmp(s2_task_name_at(i), mine[k]) == 0) {
                found = true;
                ck_assert_ptr_nonnull(s2_task_summary_at(i));
            }
        ck_assert_msg(found, "%s not registered", mine[k]);
    }
    ck_assert_ptr_null(s2_task_name_at(-1));
    ck_assert_ptr_null(s2_task_name_at(s2_task_count()));
    ck_assert_ptr_null(s2_task_summary_at(s2_task_count()));
    s2_task *t = (s2_task *)1;
    s2_error err = {0};
    ck_assert_int_eq(s2_task_create("nope", NULL, &t, &err), S2_E_ARG);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown task 'nope' (known: game24, countdown"));
    s2_task_free(NULL);
    /* the verify wrapper checks the index and treats NULL text as empty */
    t = make("arith", NULL, 0, 0, 5);
    s2_verdict v;
    ck_assert_int_eq(s2_task_verify(t, 5, "x", &v, &err), S2_E_ARG);
    ck_assert_int_eq(s2_task_verify(t, -1, "x", &v, &err), S2_E_ARG);
    ck_assert_int_eq(s2_task_verify(t, 0, NULL, &v, &err), S2_OK);
    ck_assert(!v.correct);
    ck_assert_str_eq(v.reason, "no answer");
    s2_verdict_clear(&v);
    ck_assert_int_eq(s2_task_find(t, s2_task_item_id(t, 3)), 3);
    ck_assert_int_eq(s2_task_find(t, "no such id"), -1);
    s2_task_free(t);
    s2_task_params d = s2_task_default_params();
    ck_assert_int_eq(d.n_shot, -1);
    ck_assert_ptr_null(d.data);
}
END_TEST

START_TEST(test_tasks_hash_and_buffer)
{
    /* FNV-1a 64-bit test vectors (Fowler, Noll, Vo) */
    ck_assert_uint_eq(s2_hash_str(""), 0xcbf29ce484222325ull);
    ck_assert_uint_eq(s2_hash_str("a"), 0xaf63dc4c8601ec8cull);
    ck_assert_uint_eq(s2_hash_str("foobar"), 0x85944171f73967e8ull);
    s2_buf b = {0};
    for (int k = 0; k < 1000; k++) s2_buf_printf(&b, "%d,", k);
    ck_assert_uint_eq(b.n, strlen(b.p));
    ck_assert(strncmp(b.p, "0,1,2,", 6) == 0);
    char *s = s2_buf_take(&b);
    ck_assert_ptr_null(b.p);
    ck_assert_uint_eq(strlen(s), 3890);
    free(s);
    s = s2_buf_take(&b); /* empty: "" */
    ck_assert_str_eq(s, "");
    free(s);
    uint64_t r1 = 7, r2 = 7;
    for (int k = 0; k < 100; k++) ck_assert_uint_eq(s2_task_rng_below(&r1, 13), s2_task_rng_below(&r2, 13));
    int hist[3] = {0};
    for (int k = 0; k < 3000; k++) hist[s2_task_rng_below(&r1, 3)]++;
    for (int k = 0; k < 3; k++) ck_assert(hist[k] > 850 && hist[k] < 1150);
}
END_TEST

/* ---- countdown ---- */

/* A naive twin of the countdown solver: long long integers, every ordered pair, positive integers only. */
static bool naive_cd(const long long *v, int n, long long target) {
    if (n == 1) return v[0] == target;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            long long r[8];
            int m = 0;
            for (int k = 0; k < n; k++)
                if (k != i && k != j) r[m++] = v[k];
            long long a = v[i], b = v[j], c[4] = {a + b, a - b, a * b, b != 0 && a % b == 0 ? a / b : -1};
            for (int o = 0; o < 4; o++) {
                if (c[o] <= 0) continue;
                r[m] = c[o];
                if (naive_cd(r, m + 1, target)) return true;
            }
        }
    return false;
}

START_TEST(test_tasks_countdown_hand_cases)
{
    s2_ng_rules r = {.target = {63, 1}, .pos_int = true};
    s2_ng_state s;
    int64_t v[4] = {25, 4, 9, 6};
    s2_ng_state_ints(&s, v, 4);
    static const struct { const char *text, *reason; bool ok; } cases[] = {
        {"25 - 4 = 21 (left: 6 9 21)\n9 - 6 = 3 (left: 3 21)\n21 * 3 = 63 (left: 63)\n"
         "Answer: (25 - 4) * (9 - 6) = 63\n", "ok", true},
        {"25 - 4 = 21 (left: 6 9 21)\n9 - 6 = 3 (left: 3 21)\n21 * 3 = 63 (left: 63)\n", "ok (from the steps)", true},
        {"4 - 25 = -21 (left: -21 6 9)\n", "step 1: 4 - 25 = -21 is not a positive integer", false},
        {"9 / 6 = 1.5 (left: 1.5 4 25)\n", "step 1: 9 / 6 = 3/2 is not a positive integer", false},
        {"9 / 6 = 1 (left: 1 4 25)\n", "step 1: 9 / 6 is 3/2, not 1", false},
        {"Answer: (4 - 25) * (6 - 9) = 63\n", "4 - 25 = -21 is not a positive integer", false},
        {"Answer: (25 - 4) * (9 - 6)\n", "ok", true},
        {"Answer: (25 - 4) * 9 / 6 = 63\n", "21 * 9 = 189 ... ", false}, /* 189 / 6 is not an integer */
        {"Answer: 25 + 4 + 9 + 6 = 63\n", "the expression equals 44, not 63", false},
        {"Answer: (25 - 4) * (9 - 6) = 64\n", "claims 64, the target is 63", false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        s2_verdict vd = {0};
        s2_ng_verify(&r, &s, cases[k].text, &vd);
        ck_assert_msg(vd.correct == cases[k].ok, "case %zu -> %s", k, vd.reason);
        if (k == 7) ck_assert_str_eq(vd.reason, "189 / 6 = 63/2 is not a positive integer");
        else ck_assert_msg(strcmp(vd.reason, cases[k].reason) == 0, "case %zu: '%s'", k, vd.reason);
        s2_verdict_clear(&vd);
    }
    /* the rational rules would allow what countdown forbids: 8 / (3 - 8/3) */
    s2_ng_rules r24 = {.target = {24, 1}, .pos_int = true};
    int64_t w[4] = {3, 3, 8, 8};
    s2_ng_state_ints(&s, w, 4);
    ck_assert(!s2_ng_solvable(&r24, &s));
    r24.pos_int = false;
    ck_assert(s2_ng_solvable(&r24, &s));
}
END_TEST

START_TEST(test_tasks_countdown_items)
{
    for (int d = 2; d <= 5; d++) {
        s2_task *t = make("countdown", NULL, 1, d, d == 5 ? 20 : 50);
        ck_assert_int_gt(s2_task_n_items(t), 0);
        for (int32_t i = 0; i < s2_task_n_items(t); i++) {
            const char *id = s2_task_item_id(t, i);
            ck_assert_uint_eq(s2_hash_str(id) % 10, 0); /* the test split is held out */
            /* the prompt matches the id, the numbers and target are in range, and the item is solvable */
            char *p = s2_task_prompt(t, i);
            long long nums[8], target;
            int n = 0;
            const char *q = p + strlen("Input: ");
            char *end;
            while (*q >= '0' && *q <= '9') {
                nums[n++] = strtoll(q, &end, 10);
                q = end + 1;
            }
            ck_assert_int_eq(n, d);
            ck_assert_int_eq(sscanf(q, "Target: %lld", &target), 1);
            ck_assert(target >= 10 && target <= 100);
            for (int k = 0; k < n; k++) ck_assert(nums[k] >= 1 && nums[k] <= 50);
            ck_assert(naive_cd(nums, n, target));
            ck_assert_int_eq(s2_task_oracle(t, i, ""), S2_ORACLE_SOLVABLE);
            free(p);
        }
        if (d >= 3) check_all_items(t);
        s2_task_free(t);
    }
    /* deterministic for a seed, different for another */
    s2_task *a = make("countdown", NULL, 5, 0, 20), *b = make("countdown", NULL, 5, 0, 20),
            *c = make("countdown", NULL, 6, 0, 20);
    int same = 0;
    for (int32_t i = 0; i < 20; i++) {
        ck_assert_str_eq(s2_task_item_id(a, i), s2_task_item_id(b, i));
        same += strcmp(s2_task_item_id(a, i), s2_task_item_id(c, i)) == 0;
    }
    ck_assert_int_lt(same, 3);
    s2_task_free(a);
    s2_task_free(b);
    s2_task_free(c);
    s2_task_params p = s2_task_default_params();
    p.difficulty = 7;
    s2_error err = {0};
    s2_task *t = NULL;
    ck_assert_int_eq(s2_task_create("countdown", &p, &t, &err), S2_E_ARG);
}
END_TEST

START_TEST(test_tasks_countdown_oracle_and_examples)
{
    s2_task *t = make("countdown", "train", 3, 4, 200);
    uint64_t rng = 99;
    int dead = 0, live = 0;
    for (int32_t i = 0; i < s2_task_n_items(t); i++) {
        ck_assert_uint_ne(s2_hash_str(s2_task_item_id(t, i)) % 10, 0);
        char *p = s2_task_prompt(t, i);
        long long target;
        int64_t nums[4];
        ck_assert_int_eq(sscanf(p, "Input: %ld %ld %ld %ld Target: %lld", &nums[0], &nums[1], &nums[2], &nums[3],
                                &target), 5);
        free(p);
        s2_ng_rules r = {.target = {target, 1}, .pos_int = true};
        s2_ng_state s, end;
        s2_ng_state_ints(&s, nums, 4);
        s2_ng_path path;
        s2_ng_random_steps(&r, &s, 1 + (int)s2_task_rng_below(&rng, 2), &rng, &path);
        s2_buf b = {0};
        s2_ng_write_path(&b, &r, &s, &path, false, &end);
        long long left[4];
        for (int k = 0; k < end.n; k++) left[k] = end.v[k].num;
        bool want = naive_cd(left, end.n, target);
        ck_assert_int_eq(s2_task_oracle(t, i, b.p), want ? S2_ORACLE_SOLVABLE : S2_ORACLE_DEAD);
        want ? live++ : dead++;
        s2_buf_free(&b);
    }
    ck_assert_int_gt(dead, 10);
    ck_assert_int_gt(live, 10);
    /* 10,000 examples of each role: never a held-out item; value labels are the naive twin's, balanced */
    s2_error err = {0};
    int sure = 0;
    for (int role = 0; role < 2; role++)
        for (uint64_t seed = 0; seed < 10000; seed++) {
            s2_example e = {0};
            ck_assert_int_eq(t->iface->gen_example(t, (s2_role)role, seed, &e, &err), S2_OK);
            long long v[4], target;
            int got = sscanf(e.prompt, role == 0 ? "Input: %lld %lld %lld %lld Target: %lld"
                                                 : "Value: %lld %lld %lld %lld Target: %lld",
                             &v[0], &v[1], &v[2], &v[3], &target);
            if (role == 0) ck_assert_int_eq(got, 5);
            if (got == 5) {
                char id[96];
                snprintf(id, sizeof id, "%lld-%lld-%lld-%lld=%lld", v[0], v[1], v[2], v[3], target);
                ck_assert_msg(s2_hash_str(id) % 10 != 0, "held-out %s in training", id);
            }
            if (role == 1) {
                sure += strcmp(e.completion, "sure\n") == 0;
                if (seed < 300) { /* the label against the naive twin */
                    long long nums[4];
                    int n = 0;
                    const char *q = e.prompt + strlen("Value: ");
                    char *end;
                    while (*q >= '0' && *q <= '9') {
                        nums[n++] = strtoll(q, &end, 10);
                        q = end + 1;
                    }
                    ck_assert_int_eq(sscanf(q, "Target: %lld", &target), 1);
                    ck_assert_str_eq(e.completion, naive_cd(nums, n, target) ? "sure\n" : "impossible\n");
                }
            } else if (seed < 300) { /* the completion solves the prompt's item */
                s2_ng_rules r = {.target = {target, 1}, .pos_int = true};
                s2_ng_state s;
                int64_t nv[4] = {v[0], v[1], v[2], v[3]};
                s2_ng_state_ints(&s, nv, 4);
                s2_verdict vd = {0};
                s2_ng_verify(&r, &s, e.completion, &vd);
                ck_assert_msg(vd.correct && strcmp(vd.reason, "ok") == 0, "%s%s", e.prompt, e.completion);
                s2_verdict_clear(&vd);
            }
            s2_example_clear(&e);
        }
    ck_assert(sure > 4700 && sure < 5300);
    s2_task_free(t);
}
END_TEST

/* ---- arith ---- */

/* The scratchpad of a * b, written independently of arith.c: partial products by place, then running sums. */
static void naive_mul_pad(long long a, long long b, char *out, size_t cap) {
    long long parts[20];
    int np = 0;
    size_t len = 0;
    long long place = 1;
    for (long long r = b; r > 0; r /= 10, place *= 10)
        if (r % 10 != 0) {
            parts[np] = a * (r % 10) * place;
            len += (size_t)snprintf(out + len, cap - len, "%lld * %lld = %lld\n", a, (r % 10) * place, parts[np]);
            np++;
        }
    long long s = parts[0];
    for (int k = 1; k < np; k++) {
        len += (size_t)snprintf(out + len, cap - len, "%lld + %lld = %lld\n", s, parts[k], s + parts[k]);
        s += parts[k];
    }
    snprintf(out + len, cap - len, "Answer: %lld\n", a * b);
}

START_TEST(test_tasks_arith)
{
    s2_task *t = make("arith", NULL, 0, 3, 0);
    ck_assert_int_eq(s2_task_n_items(t), 100);
    int n_mul = 0, n_add = 0;
    for (int32_t i = 0; i < s2_task_n_items(t); i++) {
        char *p = s2_task_prompt(t, i), *ref = t->iface->reference(t, i);
        long long a, b, c;
        char want[1400], text[600];
        s2_verdict v;
        if (sscanf(p, "Input: %lld * %lld", &a, &b) == 2) {
            n_mul++;
            ck_assert(a >= 100 && a <= 999 && b >= 10 && b <= 99);
            naive_mul_pad(a, b, want, sizeof want);
            ck_assert_str_eq(ref, want);
            c = a * b;
        } else {
            ck_assert_int_eq(sscanf(p, "Input: %lld + %lld + %lld", &a, &b, &c), 3);
            n_add++;
            snprintf(want, sizeof want, "%lld + %lld = %lld\n%lld + %lld = %lld\nAnswer: %lld\n", a, b, a + b, a + b, c,
                     a + b + c, a + b + c);
            ck_assert_str_eq(ref, want);
            c = a + b + c;
        }
        /* hand-made answers */
        snprintf(text, sizeof text, "Answer: %lld\n", c);
        verdict_of(t, i, text, &v);
        ck_assert(v.correct);
        s2_verdict_clear(&v);
        snprintf(text, sizeof text, "Answer: 000%lld", c); /* leading zeros are the same number */
        verdict_of(t, i, text, &v);
        ck_assert(v.correct);
        s2_verdict_clear(&v);
        snprintf(text, sizeof text, "Answer: %lld\n", c + 1);
        verdict_of(t, i, text, &v);
        ck_assert(!v.correct);
        char r[128];
        snprintf(r, sizeof r, "the answer is %lld, not %lld", c, c + 1);
        ck_assert_str_eq(v.reason, r);
        s2_verdict_clear(&v);
        snprintf(text, sizeof text, "Answer: %lld.0\n", c);
        verdict_of(t, i, text, &v);
        ck_assert(!v.correct);
        ck_assert_ptr_nonnull(strstr(v.reason, "not a whole number"));
        s2_verdict_clear(&v);
        /* the oracle: right steps so far are SOLVABLE, a wrong one DEAD */
        char *nl = strchr(ref, '\n');
        ck_assert_int_eq(s2_task_oracle(t, i, ""), S2_ORACLE_SOLVABLE);
        *nl = '\0';
        snprintf(text, sizeof text, "%s\n", ref);
        ck_assert_int_eq(s2_task_oracle(t, i, text), S2_ORACLE_SOLVABLE);
        ck_assert(!s2_task_is_terminal(t, i, text));
        char *vp = t->iface->value_prompt(t, i, text);
        snprintf(want, sizeof want, "Value: %s%s", p + strlen("Input: "), text);
        ck_assert_str_eq(vp, want);
        free(vp);
        snprintf(text, sizeof text, "%s1\n", ref); /* the first result with a digit appended: wrong */
        ck_assert_int_eq(s2_task_oracle(t, i, text), S2_ORACLE_DEAD);
        ck_assert_int_eq(s2_task_oracle(t, i, "2 + 2 = 4\nseven\n"), S2_ORACLE_DEAD);
        free(p);
        free(ref);
    }
    ck_assert_int_gt(n_mul, 25);
    ck_assert_int_gt(n_add, 25);
    check_all_items(t);
    ck_assert_ptr_nonnull(strstr(s2_task_item_id(t, 0), s2_task_item_id(t, 0)));
    s2_task_free(t);
    /* nine digits: products up to 10^17 stay exact */
    t = make("arith", NULL, 4, 9, 20);
    check_all_items(t);
    s2_task_free(t);
}
END_TEST

START_TEST(test_tasks_arith_examples)
{
    s2_task *t = make("arith", "train", 0, 0, 0);
    s2_error err = {0};
    int sure = 0;
    for (int role = 0; role < 2; role++)
        for (uint64_t seed = 0; seed < 10000; seed++) {
            s2_example e = {0}, e2 = {0};
            ck_assert_int_eq(t->iface->gen_example(t, (s2_role)role, seed, &e, &err), S2_OK);
            if (seed < 50) {
                ck_assert_int_eq(t->iface->gen_example(t, (s2_role)role, seed, &e2, &err), S2_OK);
                ck_assert_str_eq(e.prompt, e2.prompt);
                ck_assert_str_eq(e.completion, e2.completion);
                s2_example_clear(&e2);
            }
            /* the problem line, as an id: never held out */
            const char *q = e.prompt + strlen(role == 0 ? "Input: " : "Value: ");
            char id[96];
            size_t n = 0;
            for (; *q != '\n' && n + 1 < sizeof id; q++)
                if (*q != ' ') id[n++] = *q;
            id[n] = '\0';
            ck_assert_msg(s2_hash_str(id) % 10 != 0, "held-out %s in training", id);
            if (role == 1) sure += strcmp(e.completion, "sure\n") == 0;
            s2_example_clear(&e);
        }
    ck_assert(sure > 4700 && sure < 5300);
    s2_task_free(t);
}
END_TEST

/* ---- listprog ---- */

static void expect_run(const char *prog, const int64_t *in, int n, const char *want) {
    char out[512], why[160];
    bool ok = s2_listprog_run(prog, in, n, 100000, out, sizeof out, why, sizeof why);
    ck_assert_msg(ok, "%s: %s", prog, why);
    ck_assert_msg(strcmp(out, want) == 0, "%s: got %s, want %s", prog, out, want);
}

static void expect_fail(const char *prog, const int64_t *in, int n, int64_t fuel, const char *reason) {
    char out[512], why[160];
    ck_assert_msg(!s2_listprog_run(prog, in, n, fuel, out, sizeof out, why, sizeof why), "%s ran: %s", prog, out);
    ck_assert_msg(strstr(why, reason) != NULL, "%s: '%s' lacks '%s'", prog, why, reason);
}

START_TEST(test_tasks_listprog_interpreter)
{
    int64_t a[] = {5, 1, 4, 2, 3}, b[] = {1, 2, 3}, c[] = {1, 2, 3, 4}, neg[] = {-3, -4, 7}, big[] = {100000};
    expect_run("filter (x>2) | map (x*3) | sort", a, 5, "[9,12,15]");
    expect_run("scan", b, 3, "[1,3,6]");
    expect_run("sum", b, 3, "6");
    expect_run("reverse", a, 5, "[3,2,4,1,5]");
    expect_run("take 2 | reverse", a, 5, "[1,5]");
    expect_run("drop 3", a, 5, "[2,3]");
    expect_run("drop 9", b, 3, "[]");
    expect_run("take 9", b, 3, "[1,2,3]");
    expect_run("count (x%2==0)", c, 4, "2");
    expect_run("max", a, 5, "5");
    expect_run("min", a, 5, "1");
    expect_run("map (x+2*3)", b, 1, "[7]");            /* precedence */
    expect_run("map ((x+2)*3)", b, 1, "[9]");
    expect_run("map (10-x-1)", b, 1, "[8]");           /* left associative */
    expect_run("map (-x+10/3)", b, 1, "[2]");
    expect_run("map (x/2) | map (x)", neg, 3, "[-1,-2,3]"); /* truncation toward zero, as in C */
    expect_run("map (x%3)", neg, 3, "[0,-1,1]");
    expect_run("map (x>=2)", b, 3, "[0,1,1]");
    expect_run("filter (x!=2) | map (x<3)", b, 3, "[1,0]");
    expect_run(" sort|reverse |take 1 ", a, 5, "[5]"); /* spaces are free */
    expect_run("filter (x>9) | sum", a, 5, "0");
    expect_run("reverse", a, 0, "[]");
    expect_fail("filter (x>9) | max", a, 5, 1000, "max of an empty list");
    expect_fail("sum | sort", a, 5, 1000, "sort needs a list, got a number");
    expect_fail("map x*2", a, 5, 1000, "parse error: expected '('");
    expect_fail("frobnicate", a, 5, 1000, "parse error: unknown stage 'frobnicate'");
    expect_fail("map (x*)", a, 5, 1000, "parse error");
    expect_fail("", a, 5, 1000, "parse error: empty program");
    expect_fail("take -1", a, 5, 1000, "parse error: expected a count");
    expect_fail("sort extra", a, 5, 1000, "parse error: unexpected text");
    expect_fail("map (1/(x-x))", a, 5, 1000, "division by zero");
    expect_fail("map (x%0)", a, 5, 1000, "division by zero");
    expect_fail("map (x*x) | map (x*x) | map (x*x)", big, 1, 1000, "overflow");
    int64_t huge[] = {INT64_MAX, 1};
    expect_fail("scan", huge, 2, 1000, "overflow");
    expect_fail("sum", huge, 2, 1000, "overflow");
    expect_fail("map (-x)", (int64_t[]){INT64_MIN}, 1, 1000, "overflow");
    expect_fail("map (((((((((((((((((((x)))))))))))))))))))", a, 5, 1000, "nested too deeply");
    expect_fail("sort|sort|sort|sort|sort|sort|sort|sort|sort|sort|sort|sort|sort|sort|sort|sort|sort", a, 5, 1000,
                "more than 16 stages");
    /* fuel: one unit per element per stage and per expression node */
    expect_fail("map (x+1)", c, 4, 3, "out of fuel");
    char out[64], why[64];
    ck_assert(s2_listprog_run("map (x+1)", c, 4, 4 + 4 * 3, out, sizeof out, why, sizeof why)); /* 4 + 4*3 nodes */
    ck_assert(!s2_listprog_run("map (x+1)", c, 4, 4 + 4 * 3 - 1, out, sizeof out, why, sizeof why));
    static int64_t ones[1024];
    for (int k = 0; k < 1024; k++) ones[k] = 1;
    /* six stages of 1024 elements and 19 nodes each: about 123,000 units */
    const char *heavy = "map (x+x+x+x+x+x+x+x+x+x) | map (x+x+x+x+x+x+x+x+x+x) | map (x+x+x+x+x+x+x+x+x+x) | "
                        "map (x+x+x+x+x+x+x+x+x+x) | map (x+x+x+x+x+x+x+x+x+x) | map (x+x+x+x+x+x+x+x+x+x)";
    expect_fail(heavy, ones, 1024, 100000, "out of fuel");
    expect_fail("sort", ones, 1025, 100000, "input longer than 1024");
}
END_TEST

START_TEST(test_tasks_listprog_task)
{
    s2_task *t = make("listprog", NULL, 0, 0, 0);
    ck_assert_int_eq(s2_task_n_items(t), 100);
    int partial = 0;
    for (int32_t i = 0; i < s2_task_n_items(t); i++) {
        const char *id = s2_task_item_id(t, i);
        ck_assert_uint_eq(s2_hash_str(id) % 10, 0);
        char *ref = t->iface->reference(t, i), *p = s2_task_prompt(t, i);
        /* the prompt: four "[...] -> ..." lines, each true of the generating program, then "Program:" */
        int lines = 0;
        for (const char *q = p; *q;) {
            const char *nl = strchr(q, '\n');
            if (strncmp(q, "Program:", 8) == 0) break;
            int64_t in[16];
            int n = 0;
            const char *s = q + 1;
            char *end;
            while (*s != ']') {
                in[n++] = strtoll(s, &end, 10);
                s = *end == ',' ? end + 1 : end;
            }
            const char *arrow = strstr(q, "] -> ");
            char got[256], why[128], want[256];
            snprintf(want, sizeof want, "%.*s", (int)(nl - arrow - 5), arrow + 5);
            ck_assert(s2_listprog_run(id, in, n, 100000, got, sizeof got, why, sizeof why));
            ck_assert_str_eq(got, want);
            lines++;
            q = nl + 1;
        }
        ck_assert_int_eq(lines, 4);
        ck_assert(s2_listprog_public_pass(t, i, ref) == 1.0);
        ck_assert(s2_listprog_public_pass(t, i, "Answer: frobnicate\n") == 0.0);
        /* the oracle: a prefix of the program's stages is SOLVABLE, an unreadable stage DEAD */
        char *nl = strchr(ref, '\n');
        char first[200];
        snprintf(first, sizeof first, "%.*s", (int)(nl + 1 - ref), ref);
        ck_assert_int_eq(s2_task_oracle(t, i, first), S2_ORACLE_SOLVABLE);
        ck_assert_int_eq(s2_task_oracle(t, i, "frob\n"), S2_ORACLE_DEAD);
        ck_assert(!s2_task_is_terminal(t, i, first));
        /* without an Answer line the stage lines are the program */
        char *steps = s2_strndup(ref, (size_t)(strstr(ref, "Answer:") - ref));
        s2_verdict v;
        verdict_of(t, i, steps, &v);
        ck_assert(v.correct);
        ck_assert_str_eq(v.answer, id);
        s2_verdict_clear(&v);
        char *w[32];
        int32_t nw = t->iface->wrong_answers(t, i, w, 32);
        for (int32_t k = 0; k < nw; k++) {
            verdict_of(t, i, w[k], &v);
            double six = v.reward * 6;
            ck_assert(six == (double)(int)six && v.reward >= 0 && v.reward < 1); /* a fraction of 6 tests */
            if (v.reward > 0) partial++;
            s2_verdict_clear(&v);
            free(w[k]);
        }
        free(steps);
        free(ref);
        free(p);
    }
    ck_assert_int_gt(partial, 10);
    check_all_items(t);
    s2_task_free(t);
}
END_TEST

START_TEST(test_tasks_listprog_examples)
{
    s2_task *t = make("listprog", "train", 0, 0, 50);
    for (int32_t i = 0; i < s2_task_n_items(t); i++) ck_assert_uint_ne(s2_hash_str(s2_task_item_id(t, i)) % 10, 0);
    s2_error err = {0};
    int sure = 0;
    for (int role = 0; role < 2; role++)
        for (uint64_t seed = 0; seed < 10000; seed++) {
            s2_example e = {0};
            ck_assert_int_eq(t->iface->gen_example(t, (s2_role)role, seed, &e, &err), S2_OK);
            if (role == 0) { /* the program of the Answer line: never a held-out one */
                const char *a = strstr(e.completion, "Answer: ");
                ck_assert_ptr_nonnull(a);
                char *prog = s2_strndup(a + 8, strlen(a + 8) - 1);
                ck_assert_msg(s2_hash_str(prog) % 10 != 0, "held-out program %s", prog);
                free(prog);
            } else {
                ck_assert(strncmp(e.prompt, "Value:\n", 7) == 0);
                sure += strcmp(e.completion, "sure\n") == 0;
            }
            s2_example_clear(&e);
        }
    ck_assert(sure > 4700 && sure < 5300);
    s2_task_free(t);
}
END_TEST

/* ---- hostile text: every callback of every synthetic task on random junk, never a crash ---- */

START_TEST(test_tasks_random_text_never_crashes)
{
    static const char alphabet[] = "0123456789 +-*/=()\n.:left:Answer:mapfiltersortxx%<>|[],";
    const char *names[] = {"game24", "countdown", "arith", "listprog"};
    uint64_t rng = 2024;
    for (size_t k = 0; k < 4; k++) {
        s2_task_params p = s2_task_default_params();
        p.split = strcmp(names[k], "game24") == 0 ? "heldout" : NULL;
        p.n_items = 5;
        s2_task *t = NULL;
        s2_error err = {0};
        ck_assert_int_eq(s2_task_create(names[k], &p, &t, &err), S2_OK);
        for (int n = 0; n < 3000; n++) {
            char text[200];
            int len = (int)s2_task_rng_below(&rng, sizeof text);
            for (int j = 0; j < len; j++) text[j] = alphabet[s2_task_rng_below(&rng, sizeof alphabet - 1)];
            text[len] = '\0';
            if (n % 3 == 0) memcpy(text, "Answer: ", len >= 8 ? 8 : 0); /* often an answer line */
            int32_t i = (int32_t)(n % s2_task_n_items(t));
            s2_verdict v;
            ck_assert_int_eq(s2_task_verify(t, i, text, &v, &err), S2_OK);
            ck_assert(v.reward >= 0 && v.reward <= 1 && v.reason[0] != '\0');
            s2_verdict_clear(&v);
            (void)s2_task_is_terminal(t, i, text);
            (void)s2_task_oracle(t, i, text);
            free(t->iface->extract(t, i, text));
            free(t->iface->value_prompt(t, i, text));
        }
        s2_task_free(t);
    }
}
END_TEST

START_TEST(test_tasks_generators_deterministic)
{
    const char *names[] = {"arith", "listprog", "countdown"};
    for (size_t k = 0; k < 3; k++) {
        s2_task *a = make(names[k], "train", 11, 0, 30), *b = make(names[k], "train", 11, 0, 30),
                *c = make(names[k], "train", 12, 0, 30);
        int same = 0;
        for (int32_t i = 0; i < 30; i++) {
            ck_assert_str_eq(s2_task_item_id(a, i), s2_task_item_id(b, i));
            char *pa = s2_task_prompt(a, i), *pb = s2_task_prompt(b, i);
            ck_assert_str_eq(pa, pb);
            free(pa);
            free(pb);
            same += strcmp(s2_task_item_id(a, i), s2_task_item_id(c, i)) == 0;
        }
        ck_assert_int_lt(same, 10);
        s2_task_free(a);
        s2_task_free(b);
        s2_task_free(c);
    }
}
END_TEST

/* ---- the binary ---- */

static int run_cmd(char **out, const char *fmt, const char *a, const char *b) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, t_sys2_bin(), a, b);
    return t_run(cmd, out);
}

START_TEST(test_tasks_cli_check_task_game24_all)
{
    const char *csv = t_shared("data/game24.csv", "test_tasks_cli_check_task_game24_all");
    if (csv == NULL) return;
    char *out = NULL;
    int rc = run_cmd(&out, "%s check-task game24 --data %s --split all --workers 2 2>/dev/null", csv, "");
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    const char *last = out + strlen(out) - 1;
    while (last > out && last[-1] != '\n') last--;
    long long passed = 0, failed = -1;
    ck_assert_int_eq(sscanf(last, "%lld passed, %lld failed", &passed, &failed), 2);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_ge(passed, 1362 * 10); /* each puzzle's reference and at least 9 wrong answers */
    free(out);
}
END_TEST

START_TEST(test_tasks_cli_commands)
{
    char *out = NULL;
    ck_assert_int_eq(run_cmd(&out, "%s tasks%s%s", "", ""), 0);
    ck_assert_ptr_nonnull(strstr(out, "listprog"));
    free(out);
    ck_assert_int_eq(run_cmd(&out, "%s tasks --json%s%s", "", ""), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_array(j) && json_array_size(j) >= 4);
    json_decref(j);
    free(out);
    ck_assert_int_eq(run_cmd(&out, "%s task arith --show 2 --split train --seed 3%s%s", "", ""), 0);
    ck_assert_ptr_nonnull(strstr(out, "arith: 1000 items"));
    ck_assert_ptr_nonnull(strstr(out, "-- reference --"));
    free(out);
    ck_assert_int_eq(run_cmd(&out, "%s task nope%s%s 2>/dev/null", "", ""), 2);
    free(out);
    ck_assert_int_eq(run_cmd(&out, "%s check-task --help%s%s", "", ""), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: sys2 check-task"));
    free(out);
    ck_assert_int_eq(run_cmd(&out, "%s check-task countdown --json --limit 20%s%s", "", ""), 0);
    j = json_loads(out, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "items")), 20);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "failed")), 0);
    ck_assert_int_gt(json_integer_value(json_object_get(j, "passed")), 100);
    json_decref(j);
    free(out);
    /* verify: 0 accepted, 1 rejected, 2 an error */
    const char *dir = t_tmpdir();
    char good[600], bad[600];
    snprintf(good, sizeof good, "%s/good.txt", dir);
    snprintf(bad, sizeof bad, "%s/bad.txt", dir);
    const char *g = "13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n4 * 6 = 24 (left: 24)\n"
                    "Answer: (13 - 9) * (10 - 4) = 24\n";
    const char *b = "Answer: (13 - 9) * (13 - 4) = 24\n";
    ck_assert(t_write_file(good, g, strlen(g)));
    ck_assert(t_write_file(bad, b, strlen(b)));
    ck_assert_int_eq(run_cmd(&out, "%s verify game24 --split gen --item 4-9-10-13 %s%s", good, ""), 0);
    ck_assert_ptr_nonnull(strstr(out, "accepted\nreward: 1\nreason: ok\n"));
    free(out);
    ck_assert_int_eq(run_cmd(&out, "%s verify game24 --split gen --item 4-9-10-13 --json - < %s%s", bad, ""), 1);
    j = json_loads(out, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_false(json_object_get(j, "correct")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), "uses 13 more often than it is given");
    json_decref(j);
    free(out);
    ck_assert_int_eq(run_cmd(&out, "%s verify game24 --split gen --item 9-9-9-9 %s%s 2>/dev/null", good, ""), 2);
    free(out);
    ck_assert_int_eq(run_cmd(&out, "%s verify game24 --split gen --item 4-9-10-13 %s/absent%s 2>/dev/null", dir, ""), 2);
    free(out);
}
END_TEST

T_SUITE_DECL(tasks)
Suite *tasks_suite(void) {
    Suite *s = suite_create("tasks");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_tasks_registry);
    tcase_add_test(tc, test_tasks_hash_and_buffer);
    tcase_add_test(tc, test_tasks_countdown_hand_cases);
    tcase_add_test(tc, test_tasks_countdown_items);
    tcase_add_test(tc, test_tasks_countdown_oracle_and_examples);
    tcase_add_test(tc, test_tasks_arith);
    tcase_add_test(tc, test_tasks_arith_examples);
    tcase_add_test(tc, test_tasks_listprog_interpreter);
    tcase_add_test(tc, test_tasks_listprog_task);
    tcase_add_test(tc, test_tasks_listprog_examples);
    tcase_add_test(tc, test_tasks_random_text_never_crashes);
    tcase_add_test(tc, test_tasks_generators_deterministic);
    tcase_add_test(tc, test_tasks_cli_check_task_game24_all);
    tcase_add_test(tc, test_tasks_cli_commands);
    suite_add_tcase(s, tc);
    return s;
}
