/* Scorers: each against a hand computation or a second path through system 1 (score() instead of
 * score_labels()), the step aggregations, the registry, and the value scorer on a real GGUF (stories260K). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_lm.h"
#include "search.h"
#include "testutil.h"

static s2_scorer *make(const char *name, const char *k, const char *v) {
    s2_scorer *sc = NULL;
    s2_error err = {0};
    const char *keys[1] = {k}, *vals[1] = {v};
    ck_assert_msg(s2_scorer_create(name, keys, vals, k ? 1 : 0, NULL, &sc, &err) == S2_OK, "%s", err.msg);
    return sc;
}

START_TEST(test_scorers_logprob_modes)
{
    s2_score_in in = {.path_logprob = -6.0, .path_tokens = 3, .text = "", .step = ""};
    double v = 0;
    s2_error err = {0};
    s2_scorer *sc = make("logprob", "mode", "sum");
    ck_assert_int_eq(s2_scorer_score(sc, &in, &v, &err), S2_OK);
    ck_assert_double_eq(v, -6.0);
    s2_scorer_free(sc);
    sc = make("logprob", NULL, NULL); /* default: mean */
    ck_assert_int_eq(s2_scorer_score(sc, &in, &v, &err), S2_OK);
    ck_assert_double_eq(v, -2.0);
    s2_scorer_free(sc);
    sc = make("logprob", "mode", "norm");
    ck_assert_int_eq(s2_scorer_score(sc, &in, &v, &err), S2_OK);
    ck_assert_double_eq_tol(v, -6.0 / 1.18840164, 1e-6); /* (8/6)^0.6 = 1.18840164 by hand */
    s2_scorer_free(sc);
}
END_TEST

START_TEST(test_scorers_verify_and_oracle_on_the_toy_task)
{
    s2_error err = {0};
    s2_task *t = NULL;
    fake_task_params tp = {.n_items = 2, .depth = 3};
    ck_assert_int_eq(fake_task_init(&tp, &t, &err), S2_OK);
    s2_scorer *ver = make("verify", NULL, NULL), *orc = make("oracle", NULL, NULL);
    struct {
        const char *text;
        bool terminal;
        double verify, oracle;
    } cases[] = {
        {"a\nb\na\n", true, 1, 1},  /* item 0's target is "aba" */
        {"a\nb\nb\n", true, 0, 0},
        {"a\nb\n", false, 0, 1},    /* unfinished: verify says nothing, the oracle says solvable */
        {"b\n", false, 0, 0},       /* a dead prefix */
        {"A: aba\n", true, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s2_score_in in = {.task = t, .item = 0, .text = cases[i].text, .step = "", .terminal = cases[i].terminal};
        double v = -1;
        ck_assert_int_eq(s2_scorer_score(ver, &in, &v, &err), S2_OK);
        ck_assert_msg(v == cases[i].verify, "verify '%s' = %g", cases[i].text, v);
        ck_assert_int_eq(s2_scorer_score(orc, &in, &v, &err), S2_OK);
        ck_assert_msg(v == cases[i].oracle, "oracle '%s' = %g", cases[i].text, v);
    }
    s2_scorer_free(ver);
    s2_scorer_free(orc);
    s2_task_free(t);
}
END_TEST

/* The summed log-prob of cont after text on lm, through score() (not score_labels()). */
static double lp_after(s2_lm *lm, const char *text, const char *cont) {
    s2_lm_seq s;
    s2_error err = {0};
    double sum = 0;
    ck_assert_int_eq(s2_lm_seq_new(lm, text, &s, &err), S2_OK);
    ck_assert_int_eq(s2_lm_score(lm, s, cont, NULL, 0, NULL, &sum, &err), S2_OK);
    s2_lm_seq_free(lm, s);
    return sum;
}

START_TEST(test_scorers_value_selfeval_pairwise_on_the_fake)
{
    s2_error err = {0};
    s2_task *t = NULL;
    fake_task_params tp = {.n_items = 2, .depth = 3};
    ck_assert_int_eq(fake_task_init(&tp, &t, &err), S2_OK);
    s2_lm *lm = NULL, *vlm = NULL;
    fake_lm_params p = fake_lm_default_params();
    ck_assert_int_eq(fake_lm_init(&p, &lm, &err), S2_OK);
    p.seed = 77;
    ck_assert_int_eq(fake_lm_init(&p, &vlm, &err), S2_OK);
    s2_score_in in = {.lm = lm, .value_lm = vlm, .task = t, .item = 1, .prompt = "Q1:\n", .text = "a\nb\n", .step = "b\n"};
    /* value: P(sure) renormalised over the two labels, on the value model */
    s2_scorer *val = make("value", NULL, NULL);
    double v = 0;
    ck_assert_int_eq(s2_scorer_score(val, &in, &v, &err), S2_OK);
    double a = lp_after(vlm, "V1:a\nb\n", "sure"), b = lp_after(vlm, "V1:a\nb\n", "impossible");
    ck_assert_double_eq_tol(v, exp(a) / (exp(a) + exp(b)), 1e-9);
    in.value_lm = NULL;
    ck_assert_int_eq(s2_scorer_score(val, &in, &v, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "value: no value model (give --value FILE)");
    s2_scorer_free(val);
    /* selfeval: ToT's 20/1/0.001 weighted by the policy's label probabilities */
    s2_scorer *se = make("selfeval", NULL, NULL);
    ck_assert_int_eq(s2_scorer_score(se, &in, &v, &err), S2_OK);
    double ls = lp_after(lm, "V1:a\nb\n", "sure"), ll = lp_after(lm, "V1:a\nb\n", "likely"),
           li = lp_after(lm, "V1:a\nb\n", "impossible");
    double want = (20 * exp(ls) + exp(ll) + 0.001 * exp(li)) / (exp(ls) + exp(ll) + exp(li));
    ck_assert_double_eq_tol(v, want, 1e-9);
    s2_scorer_free(se);
    /* pairwise: asked both ways, so p(a over b) + p(b over a) = 1 */
    s2_scorer *pw = make("pairwise", NULL, NULL);
    s2_score_in x = in, y = in;
    y.text = "b\nb\n";
    double pab = 0, pba = 0;
    ck_assert_int_eq(s2_scorer_compare(pw, &x, &y, &pab, &err), S2_OK);
    ck_assert_int_eq(s2_scorer_compare(pw, &y, &x, &pba, &err), S2_OK);
    ck_assert_double_eq_tol(pab + pba, 1.0, 1e-12);
    ck_assert(pab > 0 && pab < 1);
    s2_scorer_free(pw);
    ck_assert_int_eq(fake_lm_live(lm), 0);
    ck_assert_int_eq(fake_lm_live(vlm), 0);
    s2_lm_free(lm);
    s2_lm_free(vlm);
    s2_task_free(t);
}
END_TEST

START_TEST(test_scorers_step_aggregation)
{
    ck_assert_double_eq(s2_agg_step(S2_AGG_MIN, 0.3, 0.9, 2), 0.3);
    ck_assert_double_eq(s2_agg_step(S2_AGG_MIN, 0.3, 0.1, 2), 0.1);
    ck_assert_double_eq_tol(s2_agg_step(S2_AGG_PRODUCT, 0.5, 0.4, 3), 0.2, 1e-15);
    ck_assert_double_eq_tol(s2_agg_step(S2_AGG_MEAN, 0.5, 0.8, 3), 0.6, 1e-15); /* (0.5 * 2 + 0.8) / 3 */
    ck_assert_double_eq(s2_agg_step(S2_AGG_LAST, 0.5, 0.8, 3), 0.8);
    ck_assert_double_eq(s2_agg_step(S2_AGG_PRODUCT, 0.5, 0.8, 1), 0.8); /* the first step has no parent */
    /* through the env: a chain scored with agg=min keeps the path's minimum */
    s2_error err = {0};
    s2_lm *lm = NULL;
    s2_task *t = NULL;
    ck_assert_int_eq(fake_lm_init(NULL, &lm, &err), S2_OK);
    fake_task_params tp = {.n_items = 1, .depth = 6};
    ck_assert_int_eq(fake_task_init(&tp, &t, &err), S2_OK);
    s2_scorer *sc = make("logprob", "mode", "sum"); /* own scores: the path log-prob, falling with depth */
    s2_env_params ep = s2_env_default_params();
    ep.lm = lm;
    ep.task = t;
    ep.scorer = sc;
    ep.agg = S2_AGG_MEAN;
    s2_env *env = NULL;
    ck_assert_int_eq(s2_env_init(&ep, &env, &err), S2_OK);
    s2_node *x = s2_env_root(env), *kid;
    double own_sum = 0;
    for (int d = 1; d <= 4; d++) {
        ck_assert_int_eq(s2_env_expand(env, x, 1, &kid), 1);
        ck_assert_int_eq(s2_env_score(env, kid), S2_OK);
        own_sum += kid->path_logprob;
        ck_assert_double_eq_tol(kid->score, own_sum / d, 1e-12);
        x = kid;
    }
    s2_env_free(env);
    s2_scorer_free(sc);
    s2_task_free(t);
    s2_lm_free(lm);
}
END_TEST

START_TEST(test_scorers_registry)
{
    s2_scorer *sc = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_scorer_create("prm", NULL, NULL, 0, NULL, &sc, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "unknown scorer 'prm' (see sys2 strategies)");
    const char *k[] = {"mode"}, *v[] = {"median"};
    ck_assert_int_eq(s2_scorer_create("logprob", k, v, 1, NULL, &sc, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "logprob: mode=median: not one of sum|mean|norm");
    const char *k2[] = {"w_sure"}, *v2[] = {"abc"};
    ck_assert_int_eq(s2_scorer_create("selfeval", k2, v2, 1, NULL, &sc, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "selfeval: w_sure=abc: not a number");
    const char *k3[] = {"w_likely"}, *v3[] = {"2"};
    ck_assert_int_eq(s2_scorer_create("selfeval", k3, v3, 1, NULL, &sc, &err), S2_OK);
    const s2_param_def *defs;
    int32_t n;
    const s2_selfeval_params *p = s2_scorer_params(sc, &defs, &n);
    ck_assert_int_eq(n, 3);
    ck_assert_double_eq(p->w_sure, 20);
    ck_assert_double_eq(p->w_likely, 2);
    ck_assert_double_eq(p->w_impossible, 0.001);
    s2_scorer_free(sc);
    ck_assert_int_eq(s2_scorer_count(), 6);
}
END_TEST

START_TEST(test_scorers_value_on_a_real_gguf)
{
    const char *path = t_shared("models/stories260K.gguf", "test_scorers_value_on_a_real_gguf");
    if (path == NULL) return;
    s2_error err = {0};
    s2_lm *vlm = NULL;
    s2_lm_open_params op = s2_lm_open_default_params();
    op.ctx.n_ctx = 512;
    ck_assert_msg(s2_lm_open(path, &op, &vlm, &err) == S2_OK, "%s", err.msg);
    s2_task *t = NULL;
    ck_assert_int_eq(s2_task_create("game24", NULL, &t, &err), S2_OK);
    const char *text = "5 * 4 = 20 (left: 6 10 20)\n";
    double p = 0;
    ck_assert_msg(s2_value_p_sure(vlm, t, 0, text, &p, &err) == S2_OK, "%s", err.msg);
    char *vp = t->iface->value_prompt(t, 0, text);
    double a = lp_after(vlm, vp, S2_VALUE_SURE), b = lp_after(vlm, vp, S2_VALUE_IMPOSSIBLE);
    free(vp);
    ck_assert_double_eq_tol(p, 1.0 / (1.0 + exp(b - a)), 1e-6);
    ck_assert(p > 0 && p < 1);
    s2_task_free(t);
    s2_lm_free(vlm);
}
END_TEST

Suite *scorers_suite(void) {
    Suite *s = suite_create("scorers");
    TCase *tc = tcase_create("scorers");
    tcase_add_test(tc, test_scorers_logprob_modes);
    tcase_add_test(tc, test_scorers_verify_and_oracle_on_the_toy_task);
    tcase_add_test(tc, test_scorers_value_selfeval_pairwise_on_the_fake);
    tcase_add_test(tc, test_scorers_step_aggregation);
    tcase_add_test(tc, test_scorers_registry);
    tcase_add_test(tc, test_scorers_value_on_a_real_gguf);
    suite_add_tcase(s, tc);
    return s;
}
