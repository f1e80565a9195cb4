/* The shipped models (models/NAME.gguf): each loads, has the shape its model card states, and still does its job on
 * a quick held-out evaluation. The labels come from the tasks' exact oracles and the step checker of numgame.c,
 * not from the models: the game24 value model classifies 200 held-out states (held-out puzzles after 0-3 random
 * valid steps) with a balanced accuracy above a floor; a policy's greedy attempts on 20 held-out items make valid
 * steps at a rate above a floor (number games) and solve a floor of them. The floors sit a little under what the
 * model card measured on many more items, so that CI proves the shipped files still work. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numgame.h"
#include "scorer.h"
#include "task.h"
#include "testutil.h"
#include "testutil_ng.h"

/* Floors of the quick checks, a little under the model card's numbers (measured on many more items). */
/* The bars (value >= 0.90 balanced, policy >= 0.95 valid steps) are what models/README.md measured on 2000
 * states and 200 items (90.9%, 96.6%); these quick checks see 200 states and 20 items, hence the margin. */
#define VALUE_GAME24_MIN_BAL 0.85
#define POLICY_GAME24_MIN_VALID 0.9
#define POLICY_GAME24_MIN_SOLVED 2
#define POLICY_COUNTDOWN_MIN_VALID 0.2
#define POLICY_ARITH_MIN_SOLVED 1
#define POLICY_LISTPROG_MIN_SOLVED 0
#define POLICY_INTEGRATE_MIN_SOLVED 6 /* greedy: 59.2% of test-bwd, 9 of its first 20 */

static s2_lm *open_model(const char *path) {
    s2_lm_open_params p = s2_lm_open_default_params();
    p.ctx.n_threads = 1;
    p.ctx.kv_max_bytes = (int64_t)1 << 27;
    s2_lm *lm = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_lm_open(path, &p, &lm, &err) == S2_OK, "%s: %s", path, err.msg);
    return lm;
}

static void check_shape(s2_lm *lm, const char *path, int32_t n_embd, int32_t n_layer) {
    const s2_model *m = s2_lm_local_model(lm);
    ck_assert_ptr_nonnull(m);
    const s2_hparams *hp = s2_model_hparams(m);
    ck_assert_msg(strcmp(hp->arch, "llama") == 0, "%s: arch %s", path, hp->arch);
    ck_assert_msg(hp->n_embd == n_embd && hp->n_layer == n_layer, "%s: dim %d layers %d, expected %d %d", path,
                  hp->n_embd, hp->n_layer, n_embd, n_layer);
    /* the character vocabulary spells the value labels and the digits */
    int32_t ids[32];
    ck_assert_int_gt(s2_tokenize(s2_model_vocab(m), "impossible\n24", 13, false, false, ids, 32), 0);
    ck_assert_int_lt(s2_model_weight_bytes(m), 12 << 20);
}

static s2_task *make_task(const char *name, const char *split) {
    s2_task_params tp = s2_task_default_params();
    tp.split = split;
    s2_task *t = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_task_create(name, &tp, &t, &err) == S2_OK, "%s", err.msg);
    return t;
}

/* Item i's state and rules from its prompt (game24: any rational, target 24; countdown: positive integers only). */
static void ng_start(const s2_task *t, int32_t i, s2_ng_rules *r, s2_ng_state *s) {
    char *prompt = s2_task_prompt(t, i);
    t_ng_input(prompt, strcmp(t->iface->name, "countdown") == 0, r, s);
    free(prompt);
}

START_TEST(test_models_game24_value)
{
    const char *path = "models/game24-value.gguf";
    s2_lm *lm = open_model(path);
    check_shape(lm, path, 128, 4);
    s2_task *t = make_task("game24", "heldout");
    s2_ng_rules r = {.target = s2_rat_int(24), .pos_int = false};
    uint64_t rng = 12345;
    int n[2] = {0, 0}, ok[2] = {0, 0};
    for (int k = 0; k < 200; k++) {
        int32_t i = (int32_t)s2_task_rng_below(&rng, (uint64_t)s2_task_n_items(t));
        s2_ng_state s;
        ng_start(t, i, &r, &s);
        int v4[4] = {(int)s.v[0].num, (int)s.v[1].num, (int)s.v[2].num, (int)s.v[3].num};
        ck_assert(s2_game24_heldout(v4)); /* only held-out puzzles */
        s2_ng_path p;
        s2_ng_random_steps(&r, &s, (int)s2_task_rng_below(&rng, 4), &rng, &p);
        s2_buf b = {0};
        s2_ng_state end;
        s2_ng_write_path(&b, &r, &s, &p, false, &end);
        char *text = s2_buf_take(&b);
        /* the label from the exhaustive solver on the numbers left, checked against the task's oracle */
        int64_t num[S2_NG_MAX], den[S2_NG_MAX];
        for (int j = 0; j < end.n; j++) num[j] = end.v[j].num, den[j] = end.v[j].den;
        bool sure = s2_game24_solvable(num, den, end.n);
        ck_assert_int_eq(s2_task_oracle(t, i, text), sure ? S2_ORACLE_SOLVABLE : S2_ORACLE_DEAD);
        double ps = 0;
        s2_error err = {0};
        ck_assert_msg(s2_value_p_sure(lm, t, i, text, &ps, &err) == S2_OK, "%s", err.msg);
        ck_assert(ps >= 0 && ps <= 1);
        n[sure]++;
        ok[sure] += (ps > 0.5) == sure;
        free(text);
    }
    ck_assert_int_gt(n[0], 20);
    ck_assert_int_gt(n[1], 20);
    double bal = 0.5 * ((double)ok[0] / n[0] + (double)ok[1] / n[1]);
    fprintf(stderr, "models: %s: balanced accuracy %.3f on 200 held-out states (%d/%d unsolvable, %d/%d solvable)\n",
            path, bal, ok[0], n[0], ok[1], n[1]);
    ck_assert_msg(bal >= VALUE_GAME24_MIN_BAL, "balanced accuracy %.3f < %.2f", bal, VALUE_GAME24_MIN_BAL);
    s2_task_free(t);
    s2_lm_free(lm);
}
END_TEST

/* Greedy attempts, step by step, on the first n items spread over the split: valid steps and solved items. */
static void greedy_eval(s2_lm *lm, const s2_task *t, int n, int *steps, int *valid, int *solved) {
    *steps = *valid = *solved = 0;
    int32_t total = s2_task_n_items(t);
    bool ng = strcmp(t->iface->name, "game24") == 0 || strcmp(t->iface->name, "countdown") == 0;
    const char *stops[1] = {t->iface->step_delim};
    for (int k = 0; k < n; k++) {
        int32_t i = (int32_t)((int64_t)k * total / n);
        char *prompt = s2_task_prompt(t, i);
        s2_lm_seq seq;
        s2_error err = {0};
        ck_assert_msg(s2_lm_seq_new(lm, prompt, &seq, &err) == S2_OK, "%s", err.msg);
        free(prompt);
        s2_buf text = {0};
        s2_buf_puts(&text, "");
        for (int st = 0; st < 12; st++) {
            s2_lm_sample_params sp = s2_lm_sample_default_params();
            sp.sample.temperature = 0;
            sp.max_tokens = 200;
            sp.stops = stops;
            sp.n_stops = 1;
            s2_lm_gen g = {0};
            ck_assert_msg(s2_lm_sample(lm, &seq, 1, &sp, &g, &err) == S2_OK, "%s", err.msg);
            s2_buf_puts(&text, g.text);
            bool stop = strcmp(g.finish, "stop") != 0;
            s2_lm_gen_free(&g);
            if (stop || s2_task_is_terminal(t, i, text.p)) break;
        }
        s2_lm_seq_free(lm, seq);
        if (ng) { /* each step line judged on the text up to it */
            s2_ng_rules r;
            s2_ng_state s;
            ng_start(t, i, &r, &s);
            for (char *nl = strchr(text.p, '\n'); nl != NULL; nl = strchr(nl + 1, '\n')) {
                char *line = nl;
                while (line > text.p && line[-1] != '\n') line--;
                if (strncmp(line, "Answer:", 7) == 0 || line == nl) continue;
                char save = nl[1];
                nl[1] = '\0';
                s2_ng_parsed ps;
                s2_ng_parse(&r, &s, text.p, &ps);
                nl[1] = save;
                (*steps)++;
                if (ps.bad) break;
                (*valid)++;
            }
        }
        s2_verdict vd = {0};
        s2_error err2 = {0};
        ck_assert(s2_task_verify(t, i, text.p, &vd, &err2) == S2_OK);
        *solved += vd.correct;
        s2_verdict_clear(&vd);
        s2_buf_free(&text);
    }
}

/* The shipped policies, their shapes and the floors of the quick check (a little under what the model card
 * measured on more items, so that the check proves the file still works without being flaky). */
typedef struct shipped_policy {
    const char *path, *task, *split;
    int32_t n_embd, n_layer;
    double min_valid;   /* number games: valid-step rate on 20 items */
    int min_solved;     /* items solved out of 20 */
} shipped_policy;

static const shipped_policy policies[] = {
    {"models/game24-policy.gguf", "game24", "heldout", 128, 4, POLICY_GAME24_MIN_VALID, POLICY_GAME24_MIN_SOLVED},
    {"models/countdown-policy.gguf", "countdown", NULL, 128, 4, POLICY_COUNTDOWN_MIN_VALID, 0},
    {"models/arith-policy.gguf", "arith", NULL, 128, 4, 0, POLICY_ARITH_MIN_SOLVED},
    {"models/listprog-policy.gguf", "listprog", NULL, 128, 4, 0, POLICY_LISTPROG_MIN_SOLVED},
    {"models/integrate-policy.gguf", "integrate", NULL, 192, 4, 0, POLICY_INTEGRATE_MIN_SOLVED},
};

START_TEST(test_models_policy)
{
    const shipped_policy *sp = &policies[_i];
    s2_lm *lm = open_model(sp->path);
    check_shape(lm, sp->path, sp->n_embd, sp->n_layer);
    s2_task *t = make_task(sp->task, sp->split);
    int steps, valid, solved;
    greedy_eval(lm, t, 20, &steps, &valid, &solved);
    fprintf(stderr, "models: %s: %d/%d valid steps, %d/20 solved\n", sp->path, valid, steps, solved);
    if (sp->min_valid > 0) {
        ck_assert_int_ge(steps, 20);
        ck_assert_msg(valid >= sp->min_valid * steps, "%s: valid-step rate %d/%d < %.2f", sp->path, valid, steps,
                      sp->min_valid);
    }
    ck_assert_msg(solved >= sp->min_solved, "%s: %d/20 solved < %d", sp->path, solved, sp->min_solved);
    s2_task_free(t);
    s2_lm_free(lm);
}
END_TEST

Suite *models_suite(void);
Suite *models_suite(void) {
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("shipped");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_models_game24_value);
    tcase_add_loop_test(tc, test_models_policy, 0, (int)(sizeof policies / sizeof policies[0]));
    suite_add_tcase(s, tc);
    return s;
}
