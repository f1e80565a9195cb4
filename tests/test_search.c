/* Strategies on the scripted system 1 (tests/fake_lm.c): the invariants of each strategy (beam width and
 * expansions, MCTS visits, votes and their tie-breaks), budgets, determinism, and that every forked sequence is
 * released. Expected numbers are worked out by hand from the fake's rules (one byte = one token, a step is a
 * letter and "\n"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_lm.h"
#include "search.h"
#include "testutil.h"

typedef struct fixture {
    s2_lm *lm;
    s2_task *task;
    s2_scorer *scorer;
    s2_strategy *strat;
    s2_env *env;
    s2_result res;
} fixture;

/* Builds lm, task (depth), scorer and strategy (name + "k=v" pairs), and the env for item 0. */
static void setup(fixture *f, const fake_lm_params *lp, int32_t depth, const char *scorer, const char *strategy,
                  const char *const *kv, int32_t n_kv, const char *budget, uint64_t seed) {
    memset(f, 0, sizeof *f);
    s2_error err = {0};
    fake_lm_params p = lp ? *lp : fake_lm_default_params();
    ck_assert_int_eq(fake_lm_init(&p, &f->lm, &err), S2_OK);
    fake_task_params tp = {.n_items = 4, .depth = depth};
    ck_assert_int_eq(fake_task_init(&tp, &f->task, &err), S2_OK);
    if (scorer) ck_assert_msg(s2_scorer_create(scorer, NULL, NULL, 0, NULL, &f->scorer, &err) == S2_OK, "%s", err.msg);
    const char *keys[16], *vals[16];
    char buf[16][64];
    for (int32_t i = 0; i < n_kv; i++) {
        snprintf(buf[i], sizeof buf[i], "%s", kv[i]);
        char *eq = strchr(buf[i], '=');
        *eq = '\0';
        keys[i] = buf[i];
        vals[i] = eq + 1;
    }
    ck_assert_msg(s2_strategy_create(strategy, keys, vals, n_kv, NULL, &f->strat, &err) == S2_OK, "%s", err.msg);
    s2_env_params ep = s2_env_default_params();
    ep.lm = f->lm;
    ep.task = f->task;
    ep.item = 0;
    ep.scorer = f->scorer;
    ep.seed = seed;
    ep.max_depth = depth + 1; /* the task decides when a path ends */
    ck_assert_int_eq(s2_budget_parse(budget, &ep.budget, &err), S2_OK);
    ck_assert_msg(s2_env_init(&ep, &f->env, &err) == S2_OK, "%s", err.msg);
}

static void run(fixture *f) {
    s2_error err = {0};
    ck_assert_msg(s2_strategy_run(f->strat, f->env, &f->res, &err) == S2_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(f->res.best);
}

static void teardown(fixture *f) {
    s2_env_free(f->env);
    ck_assert_int_eq(fake_lm_live(f->lm), 0); /* every sequence the search forked was released */
    s2_strategy_free(f->strat);
    s2_scorer_free(f->scorer);
    s2_task_free(f->task);
    s2_lm_free(f->lm);
}

START_TEST(test_search_io_is_greedy_chain)
{
    fixture f;
    setup(&f, NULL, 3, NULL, "io", NULL, 0, "none", 1);
    run(&f);
    ck_assert_str_eq(f.res.best->text, "a\na\na\n"); /* greedy is always 'a' */
    ck_assert(f.res.best->terminal);
    ck_assert_int_eq(f.res.best->depth, 3);
    s2_counters c;
    s2_env_counters(f.env, &c, NULL);
    ck_assert_int_eq(c.prompt_tokens, 5); /* BOS + "Q0:\n" */
    ck_assert_int_eq(c.gen_tokens, 6);    /* three steps of two bytes */
    ck_assert_int_eq(c.cached_tokens, 0);
    teardown(&f);
}
END_TEST

/* The result's samples are distinct finished nodes in creation order, the answer among them. */
static void check_samples(const s2_result *res) {
    ck_assert_int_gt(res->n_samples, 0);
    bool has_best = false;
    for (int32_t i = 0; i < res->n_samples; i++) {
        ck_assert(res->samples[i].leaf->terminal);
        if (i > 0) ck_assert_int_gt(res->samples[i].leaf->id, res->samples[i - 1].leaf->id);
        has_best |= res->samples[i].leaf == res->best;
    }
    ck_assert(has_best);
}

/* A tree search's samples are its finished states that it kept (s2_strategy_run records them). */
static void check_tree_samples(s2_env *env, const s2_result *res) {
    int32_t kept = 0;
    for (int32_t i = 1; i < s2_env_n_nodes(env); i++) {
        const s2_node *x = s2_env_node(env, i);
        kept += x->terminal && !x->pruned;
    }
    ck_assert_int_eq(res->n_samples, kept);
    check_samples(res);
}

START_TEST(test_search_beam_width_and_expansions_hold)
{
    fixture f;
    const char *kv[] = {"width=3", "expand=2"};
    setup(&f, NULL, 4, "logprob", "beam", kv, 2, "none", 7);
    run(&f);
    /* by hand: depth 1: the root's 2 children; then min(width, n) beams of 2 children each: 4, 6, 6 */
    int32_t per_depth[8] = {0};
    for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) {
        s2_node *x = s2_env_node(f.env, i);
        per_depth[x->depth]++;
        ck_assert(x->n_children == 0 || x->n_children == 2); /* every expanded beam got exactly `expand` */
    }
    ck_assert_int_eq(per_depth[1], 2);
    ck_assert_int_eq(per_depth[2], 4);
    ck_assert_int_eq(per_depth[3], 6);
    ck_assert_int_eq(per_depth[4], 6);
    check_tree_samples(f.env, &f.res);
    for (int32_t d = 1; d <= 3; d++) { /* at most `width` states per level were expanded */
        int32_t expanded = 0;
        for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) {
            s2_node *x = s2_env_node(f.env, i);
            expanded += x->depth == d && x->n_children > 0;
        }
        ck_assert_int_eq(expanded, d == 1 ? 2 : 3);
    }
    ck_assert(f.res.best->terminal);
    ck_assert_int_eq(f.res.best->depth, 4);
    /* the answer is the best of the last level's kept beams by score */
    for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) {
        s2_node *x = s2_env_node(f.env, i);
        if (x->depth == 4 && !x->pruned) ck_assert(x->score <= f.res.best->score);
    }
    teardown(&f);
}
END_TEST

START_TEST(test_search_beam_token_level)
{
    fixture f;
    const char *kv[] = {"mode=token", "width=2", "expand=3", "max_tokens=5"};
    setup(&f, NULL, 3, NULL, "beam", kv, 4, "none", 3);
    run(&f);
    ck_assert(f.res.best->path_tokens <= 5);
    for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) {
        s2_node *x = s2_env_node(f.env, i);
        ck_assert_int_eq((int)strlen(x->step), x->depth > 0 ? 1 : 0); /* one token per node */
    }
    int32_t per_depth[8] = {0};
    for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) per_depth[s2_env_node(f.env, i)->depth]++;
    for (int32_t d = 1; d < 8; d++) ck_assert(per_depth[d] <= 2); /* width holds */
    /* the chosen beam's score is its length-normalised log-prob */
    s2_node *b = f.res.best;
    ck_assert_double_eq_tol(b->score, b->path_logprob / pow((5.0 + b->path_tokens) / 6.0, 0.6), 1e-9);
    teardown(&f);
}
END_TEST

START_TEST(test_search_mcts_visits_equal_iterations)
{
    fixture f;
    const char *kv[] = {"iters=25", "expand=3"};
    setup(&f, NULL, 5, "logprob", "mcts", kv, 2, "none", 11);
    run(&f);
    s2_node *root = s2_env_root(f.env);
    ck_assert_int_eq(root->visits, 25);
    int32_t sum = 0;
    for (int32_t i = 0; i < root->n_children; i++) sum += root->children[i]->visits;
    ck_assert_int_eq(sum, 25); /* every iteration ends below the root */
    /* everywhere: a node's visits = its children's visits + the iterations that ended at it */
    for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) {
        s2_node *x = s2_env_node(f.env, i);
        int32_t below = 0;
        for (int32_t c = 0; c < x->n_children; c++) below += x->children[c]->visits;
        ck_assert(below <= x->visits);
        ck_assert(x->visits - below <= (x->terminal ? x->visits : 1)); /* a non-final node ends one iteration at most */
        double prior_sum = 0;
        for (int32_t c = 0; c < x->n_children; c++) prior_sum += x->children[c]->prior;
        if (x->n_children > 0) ck_assert_double_eq_tol(prior_sum, 1.0, 1e-9);
    }
    teardown(&f);
}
END_TEST

START_TEST(test_search_mcts_progressive_widening)
{
    fixture f;
    const char *kv[] = {"iters=40", "expand=1", "pw_c=1", "pw_alpha=0.5"};
    setup(&f, NULL, 3, "logprob", "mcts", kv, 4, "none", 5);
    run(&f);
    /* the root's children grow as ceil(sqrt(N)): after 40 iterations at most ceil(sqrt(39)) + 1 = 8 */
    s2_node *root = s2_env_root(f.env);
    ck_assert(root->n_children >= 2);
    ck_assert(root->n_children <= 8);
    ck_assert_int_eq(root->visits, 40);
    teardown(&f);
}
END_TEST

START_TEST(test_search_mcts_rollouts_stay_out_of_the_tree)
{
    fixture f;
    const char *kv[] = {"iters=20", "eval=rollout"};
    setup(&f, NULL, 5, "selfeval", "mcts", kv, 2, "none", 12);
    run(&f);
    ck_assert_int_eq(s2_env_root(f.env)->visits, 20);
    int32_t rollout_nodes = 0;
    for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) {
        s2_node *x = s2_env_node(f.env, i);
        if (x->pruned) {
            rollout_nodes++;
            ck_assert_int_eq(x->seq, -1);
            ck_assert_int_eq(x->visits, 0);
        } else if (!x->terminal) {
            ck_assert_msg(x->seq >= 0, "tree node %d lost its sequence", x->id); /* it may still be expanded */
        }
    }
    ck_assert(rollout_nodes > 0);
    teardown(&f);
}
END_TEST

START_TEST(test_search_vote_tie_breaks)
{
    const char *a[] = {"2", "1", NULL, "1", "2"};
    double v = 0;
    ck_assert_int_eq(s2_vote(a, NULL, 5, S2_TIE_EARLIEST, &v), 0); /* 2 vs 2: "2" came first */
    ck_assert_double_eq(v, 2);
    ck_assert_int_eq(s2_vote(a, NULL, 5, S2_TIE_LOWEST, &v), 1); /* "1" < "2" */
    const double w[] = {0.1, 0.5, 9, 0.4, 0.2};
    ck_assert_int_eq(s2_vote(a, w, 5, S2_TIE_EARLIEST, &v), 1); /* weights: "1" 0.9, "2" 0.3; NULL abstains */
    ck_assert_double_eq_tol(v, 0.9, 1e-12);
    const char *none[] = {NULL, NULL};
    ck_assert_int_eq(s2_vote(none, NULL, 2, S2_TIE_EARLIEST, &v), -1);
    const char *maj[] = {"x", "y", "y"};
    ck_assert_int_eq(s2_vote(maj, NULL, 3, S2_TIE_EARLIEST, NULL), 1);
}
END_TEST

START_TEST(test_search_sc_votes_with_tie_breaks)
{
    const char *script[] = {"A: 7", "A: 3", "A: 3", "A: 7", "A: 5"};
    fake_lm_params lp = fake_lm_default_params();
    lp.script = script;
    lp.n_script = 5;
    fixture f;
    const char *kv[] = {"n=5"};
    setup(&f, &lp, 3, NULL, "sc", kv, 1, "none", 1);
    run(&f);
    ck_assert_str_eq(s2_env_answer(f.env, f.res.best), "7"); /* 7 and 3 have two votes; 7 was sampled first */
    ck_assert_double_eq(f.res.votes, 2);
    teardown(&f);
    const char *kv2[] = {"n=5", "tie=lowest"};
    setup(&f, &lp, 3, NULL, "sc", kv2, 2, "none", 1);
    run(&f);
    ck_assert_str_eq(s2_env_answer(f.env, f.res.best), "3");
    teardown(&f);
    const char *kv3[] = {"n=4"}; /* 7 3 3 7 -> tie; n=3 would be 7 3 3 -> 3 */
    setup(&f, &lp, 3, NULL, "sc", (const char *const[]){"n=3"}, 1, "none", 1);
    (void)kv3;
    run(&f);
    ck_assert_str_eq(s2_env_answer(f.env, f.res.best), "3");
    teardown(&f);
}
END_TEST

START_TEST(test_search_sc_weighted_vote)
{
    /* "x" has the majority, but weighted by the oracle (verify's reward on final states) the right "aba" wins */
    const char *script[] = {"A: x", "A: aba", "A: x"};
    fake_lm_params lp = fake_lm_default_params();
    lp.script = script;
    lp.n_script = 3;
    fixture f;
    setup(&f, &lp, 3, "oracle", "sc", (const char *const[]){"n=3"}, 1, "none", 1);
    run(&f);
    ck_assert_str_eq(s2_env_answer(f.env, f.res.best), "x");
    teardown(&f);
    setup(&f, &lp, 3, "oracle", "sc", (const char *const[]){"n=3", "vote=weighted"}, 2, "none", 1);
    run(&f);
    ck_assert_str_eq(s2_env_answer(f.env, f.res.best), "aba");
    ck_assert_double_eq(f.res.votes, 1);
    teardown(&f);
}
END_TEST

START_TEST(test_search_bon_pairwise_tournament)
{
    fixture f;
    setup(&f, NULL, 2, "pairwise", "bon", (const char *const[]){"n=5"}, 1, "none", 4);
    run(&f);
    ck_assert(f.res.best->terminal);
    s2_counters c;
    s2_env_counters(f.env, &c, NULL);
    /* by hand: the prompt (1 request), two steps of 5 forks + 1 sample call (12), then a knock-out over 5
     * candidates: 4 matches, each asked both ways, each way a seq_new and a score_labels (16) */
    ck_assert_int_eq(c.requests, 1 + 12 + 16);
    teardown(&f);
}
END_TEST

START_TEST(test_search_bon_picks_best_score)
{
    fixture f;
    const char *kv[] = {"n=6"};
    setup(&f, NULL, 2, "logprob", "bon", kv, 1, "none", 4);
    run(&f);
    int32_t finals = 0;
    for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) {
        s2_node *x = s2_env_node(f.env, i);
        if (!x->terminal) continue;
        finals++;
        ck_assert(x->scored);
        ck_assert(x->score <= f.res.best->score);
        ck_assert_double_eq_tol(x->score, x->path_logprob / x->path_tokens, 1e-12); /* logprob default: mean */
    }
    ck_assert_int_eq(finals, 6);
    teardown(&f);
}
END_TEST

START_TEST(test_search_oracle_guided_strategies_find_the_target)
{
    /* the fake oracle says solvable while the path is a prefix of item 0's target "abab" (alphabet a, b) */
    fake_lm_params lp = fake_lm_default_params();
    lp.alphabet = 2;
    struct {
        const char *name;
        const char *kv[2];
        int32_t n;
    } cases[] = {
        {"tot-bfs", {"b=1", "k=2"}, 2},
        {"tot-dfs", {"k=2", "threshold=0.5"}, 2},
        {"best-first", {"k=2"}, 1},
        {"beam", {"width=1", "expand=2"}, 2},
        {"mcts", {"iters=60", "expand=2"}, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fixture f;
        setup(&f, &lp, 4, "oracle", cases[c].name, cases[c].kv, cases[c].n, "none", 9);
        run(&f);
        ck_assert_msg(strcmp(f.res.best->text, "a\nb\na\nb\n") == 0, "%s answered %s", cases[c].name, f.res.best->text);
        teardown(&f);
    }
}
END_TEST

START_TEST(test_search_tot_dfs_backtracks)
{
    /* alphabet a, b: at each state child 'a' comes first in order of sampling; the oracle prunes wrong letters,
     * so DFS visits exactly the 4 states on the target path (root, a, ab, aba) */
    fake_lm_params lp = fake_lm_default_params();
    lp.alphabet = 2;
    fixture f;
    const char *kv[] = {"k=2"};
    setup(&f, &lp, 4, "oracle", "tot-dfs", kv, 1, "none", 2);
    run(&f);
    s2_tree_stats ts;
    s2_env_tree_stats(f.env, &ts);
    ck_assert_int_eq(ts.expansions, 4);
    ck_assert_int_eq(ts.nodes, 9);
    teardown(&f);
}
END_TEST

START_TEST(test_search_tot_bfs_keeps_b_and_releases_pruned)
{
    fixture f;
    const char *kv[] = {"b=2", "k=3"};
    setup(&f, NULL, 4, "logprob", "tot-bfs", kv, 2, "none", 8);
    run(&f);
    int32_t per_depth[8] = {0}, expanded[8] = {0};
    for (int32_t i = 0; i < s2_env_n_nodes(f.env); i++) {
        s2_node *x = s2_env_node(f.env, i);
        per_depth[x->depth]++;
        expanded[x->depth] += x->n_children > 0;
        if (x->pruned) ck_assert_int_eq(x->seq, -1);
    }
    ck_assert_int_eq(per_depth[1], 3);
    for (int32_t d = 2; d <= 4; d++) ck_assert_int_eq(per_depth[d], 6); /* b * k; the fake's siblings differ */
    for (int32_t d = 1; d <= 3; d++) ck_assert_int_eq(expanded[d], 2);
    ck_assert(fake_lm_live(f.lm) <= 3); /* root and at most b kept states hold sequences */
    teardown(&f);
}
END_TEST

/* retries: a state left with fewer than k distinct thoughts is sampled again for the shortfall (by hand: the
 * script gives a a b a, so 2 distinct; one more round asks for 2 and gets c d) */
START_TEST(test_search_tot_bfs_retries_fill_k_distinct_thoughts)
{
    const char *script[] = {"a", "a", "b", "a", "c", "d", "e", "f"};
    for (int retries = 0; retries <= 1; retries++) {
        fake_lm_params lp = fake_lm_default_params();
        lp.script = script;
        lp.n_script = 8;
        fixture f;
        char r[32];
        snprintf(r, sizeof r, "retries=%d", retries);
        const char *kv[] = {"b=1", "k=4", r};
        setup(&f, &lp, 1, "logprob", "tot-bfs", kv, 3, "none", 1);
        run(&f);
        s2_node *root = s2_env_node(f.env, 0);
        ck_assert_int_eq(root->n_children, retries == 0 ? 4 : 6);
        int32_t distinct = 0, scored = 0;
        for (int32_t i = 1; i < s2_env_n_nodes(f.env); i++) {
            s2_node *x = s2_env_node(f.env, i);
            bool first = true;
            for (int32_t j = 1; j < i; j++) first &= strcmp(s2_env_node(f.env, j)->step, x->step) != 0;
            distinct += first;
        }
        s2_tree_stats ts;
        s2_env_tree_stats(f.env, &ts);
        scored = ts.scored;
        ck_assert_int_eq(distinct, retries == 0 ? 2 : 4);
        ck_assert_int_eq(scored, distinct); /* duplicates are never scored */
        ck_assert_int_eq(ts.sample_calls, retries + 1);
        teardown(&f);
    }
}
END_TEST

START_TEST(test_search_budgets_cap)
{
    struct {
        const char *name;
        const char *kv[2];
        int32_t n;
        int32_t step_cost; /* by hand: the most tokens one step can take (children x 2 bytes) */
    } cases[] = {
        {"io", {0}, 0, 2},
        {"cot", {0}, 0, 2},
        {"sc", {"n=40"}, 1, 16 * 2},
        {"bon", {"n=40"}, 1, 16 * 2},
        {"beam", {"width=3", "expand=3"}, 2, 9 * 2},
        {"tot-bfs", {"b=3", "k=4"}, 2, 12 * 2},
        {"tot-dfs", {"k=3", "threshold=-100"}, 2, 3 * 2},
        {"mcts", {"iters=1000", "expand=3"}, 2, 3 * 2},
        {"best-first", {"k=3", "max_expansions=10000"}, 2, 3 * 2},
        {"dvts", {"n=4", "width=2"}, 2, 0},
        {"particle", {"n=6"}, 1, 0},
        {"rebase", {"n=6"}, 1, 0},
        {"mcts", {"root=gumbel", "iters=1000"}, 2, 0},
        {"bon", {"n=40", "select=weighted"}, 2, 0},
    };
    const char *budgets[] = {"tokens=7", "tokens=40", "tokens=100"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t b = 0; b < 3; b++) {
            fixture f;
            setup(&f, NULL, 60, "logprob", cases[c].name, cases[c].kv, cases[c].n, budgets[b], 3);
            f.env ? (void)0 : (void)0;
            run(&f);
            double used = s2_env_budget_used(f.env), limit = s2_env_params_of(f.env)->budget.limit;
            ck_assert_msg(used <= limit, "%s %s used %g", cases[c].name, budgets[b], used); /* a hard cap */
            (void)cases[c].step_cost;
            ck_assert_msg(used >= limit, "%s %s stopped early at %g", cases[c].name, budgets[b], used);
            ck_assert(f.res.budget_hit);
            teardown(&f);
        }
}
END_TEST

START_TEST(test_search_budget_spent_by_the_prompt_still_answers)
{
    const char *names[] = {"io", "cot", "sc", "bon", "beam", "tot-bfs", "tot-dfs", "mcts", "best-first"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        fixture f;
        setup(&f, NULL, 4, "logprob", names[i], NULL, 0, "tokens=1", 3); /* the prompt alone costs 5 */
        run(&f);
        ck_assert_ptr_eq(f.res.best, s2_env_root(f.env)); /* nothing was expanded: the root answers */
        ck_assert(f.res.budget_hit);
        ck_assert_int_eq(s2_env_n_nodes(f.env), 1);
        teardown(&f);
    }
}
END_TEST

START_TEST(test_search_calls_and_flops_budgets)
{
    fixture f;
    const char *kv[] = {"iters=1000"};
    setup(&f, NULL, 30, "logprob", "mcts", kv, 1, "calls=30", 3);
    run(&f);
    s2_counters c;
    s2_env_counters(f.env, &c, NULL);
    ck_assert(c.requests >= 30);
    ck_assert(c.requests <= 30 + 4 + 1); /* one expansion: 4 forks and one sample call */
    teardown(&f);
    setup(&f, NULL, 30, "logprob", "tot-bfs", (const char *const[]){"b=2", "k=2"}, 2, "flops=20000", 3);
    run(&f);
    s2_env_counters(f.env, &c, NULL);
    ck_assert(c.flops >= 20000 && c.flops <= 20000 + 4 * 2 * 1000);
    teardown(&f);
}
END_TEST

START_TEST(test_search_same_seed_same_result)
{
    const char *names[] = {"cot", "sc", "bon", "beam", "tot-bfs", "tot-dfs", "mcts", "best-first"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char text[2][256];
        int32_t nodes[2];
        s2_counters c[2];
        for (int r = 0; r < 2; r++) {
            fixture f;
            const char *kv[] = {"k=3"};
            bool has_k = strcmp(names[i], "tot-bfs") == 0 || strcmp(names[i], "tot-dfs") == 0 ||
                         strcmp(names[i], "best-first") == 0;
            setup(&f, NULL, 4, "selfeval", names[i], kv, has_k ? 1 : 0, "tokens=400", 42);
            run(&f);
            snprintf(text[r], sizeof text[r], "%s", f.res.best->text);
            nodes[r] = s2_env_n_nodes(f.env);
            s2_env_counters(f.env, &c[r], NULL);
            teardown(&f);
        }
        ck_assert_str_eq(text[0], text[1]);
        ck_assert_int_eq(nodes[0], nodes[1]);
        ck_assert_int_eq(memcmp(&c[0], &c[1], sizeof c[0]), 0);
    }
}
END_TEST

START_TEST(test_search_registry_rejects_bad_params)
{
    s2_strategy *s = NULL;
    s2_error err = {0};
    const char *k1[] = {"widht"}, *v1[] = {"3"};
    ck_assert_int_eq(s2_strategy_create("beam", k1, v1, 1, NULL, &s, &err), S2_E_ARG);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(err.msg, "strategy beam has no parameter 'widht'");
    const char *k2[] = {"width"}, *v2[] = {"0"};
    ck_assert_int_eq(s2_strategy_create("beam", k2, v2, 1, NULL, &s, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "beam: width=0: not in [1, 4096]");
    const char *k3[] = {"vote"}, *v3[] = {"most"};
    ck_assert_int_eq(s2_strategy_create("sc", k3, v3, 1, NULL, &s, &err), S2_E_ARG);
    ck_assert_str_eq(err.msg, "sc: vote=most: not one of majority|weighted");
    ck_assert_int_eq(s2_strategy_create("nope", NULL, NULL, 0, NULL, &s, &err), S2_E_ARG);
    bool used[2] = {false, false};
    const char *k4[] = {"n", "temperature_x"}, *v4[] = {"7", "1"};
    ck_assert_int_eq(s2_strategy_create("sc", k4, v4, 2, used, &s, &err), S2_OK);
    ck_assert(used[0] && !used[1]);
    const s2_param_def *defs;
    int32_t n;
    const s2_sc_params *p = s2_strategy_params(s, &defs, &n);
    ck_assert_int_eq(p->n, 7);
    ck_assert_double_eq(p->temperature, 0.7);
    s2_strategy_free(s);
    s2_budget b;
    ck_assert_int_eq(s2_budget_parse("tokens=1e3", &b, &err), S2_OK);
    ck_assert_int_eq(b.kind, S2_BUDGET_TOKENS);
    ck_assert_double_eq(b.limit, 1000);
    ck_assert_int_eq(s2_budget_parse("time=5", &b, &err), S2_E_ARG);
    ck_assert_int_eq(s2_budget_parse("tokens=-1", &b, &err), S2_E_ARG);
}
END_TEST


/* ---- the strategies of issue 15 (hand-computed cases) ---- */

START_TEST(test_search_particle_weights_and_resampling)
{
    double r[3] = {0, log(2.0), log(3.0)}, w[3];
    double ess = s2_particle_weights(r, NULL, 3, 1.0, w); /* softmax: 1/6, 2/6, 3/6 */
    ck_assert_double_eq_tol(w[0], 1.0 / 6, 1e-12);
    ck_assert_double_eq_tol(w[1], 2.0 / 6, 1e-12);
    ck_assert_double_eq_tol(w[2], 3.0 / 6, 1e-12);
    ck_assert_double_eq_tol(ess, 36.0 / 14, 1e-12); /* 1 / (1 + 4 + 9) / 36 */
    double r2[3] = {0, 0.2 * log(2.0), 0.2 * log(3.0)}, w2[3];
    s2_particle_weights(r2, NULL, 3, 0.2, w2); /* the temperature divides the rewards */
    for (int i = 0; i < 3; i++) ck_assert_double_eq_tol(w2[i], w[i], 1e-12);
    bool alive[3] = {true, false, true};
    s2_particle_weights(r, alive, 3, 1.0, w2); /* a dead particle has no weight: 1/4, 0, 3/4 */
    ck_assert_double_eq_tol(w2[0], 0.25, 1e-12);
    ck_assert(w2[1] == 0);
    ck_assert_double_eq_tol(w2[2], 0.75, 1e-12);
    /* cumulative 1/6, 1/2, 1: systematic positions (u + j) / 3 */
    int32_t idx[3];
    s2_particle_resample(w, 3, S2_RESAMPLE_SYSTEMATIC, (double[]){0.1}, idx); /* 0.033, 0.367, 0.7 */
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[1], 1);
    ck_assert_int_eq(idx[2], 2);
    s2_particle_resample(w, 3, S2_RESAMPLE_SYSTEMATIC, (double[]){0.9}, idx); /* 0.3, 0.633, 0.967 */
    ck_assert_int_eq(idx[0], 1);
    ck_assert_int_eq(idx[1], 2);
    ck_assert_int_eq(idx[2], 2);
    s2_particle_resample(w, 3, S2_RESAMPLE_MULTINOMIAL, (double[]){0.99, 0.0, 0.4}, idx);
    ck_assert_int_eq(idx[0], 2);
    ck_assert_int_eq(idx[1], 0);
    ck_assert_int_eq(idx[2], 1);
    s2_particle_resample(w2, 3, S2_RESAMPLE_MULTINOMIAL, (double[]){0.2, 0.25, 0.5}, idx); /* never the dead one */
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[1], 2);
    ck_assert_int_eq(idx[2], 2);
}
END_TEST

START_TEST(test_search_particle_runs_and_votes)
{
    const char *kv[] = {"n=6", "resample=systematic"};
    fixture f;
    setup(&f, NULL, 3, "logprob", "particle", kv, 2, "none", 5);
    run(&f);
    ck_assert(f.res.best->terminal);
    ck_assert(f.res.votes > 0 && f.res.votes <= 1 + 1e-9); /* weights are a distribution */
    check_samples(&f.res);
    s2_tree_stats ts;
    s2_env_tree_stats(f.env, &ts);
    ck_assert_int_eq(ts.max_depth, 3);
    ck_assert_int_le(ts.nodes - 1, 6 * 3); /* one step per particle per level at most */
    teardown(&f);
}
END_TEST

START_TEST(test_search_rebase_allocation_is_the_softmax)
{
    int32_t w[3];
    s2_rebase_allocate((double[]){0, log(3.0)}, 2, 1.0, 8, w); /* softmax 1/4, 3/4 of 8 */
    ck_assert_int_eq(w[0], 2);
    ck_assert_int_eq(w[1], 6);
    s2_rebase_allocate((double[]){0, 0.2 * log(3.0)}, 2, 0.2, 8, w);
    ck_assert_int_eq(w[0], 2);
    ck_assert_int_eq(w[1], 6);
    s2_rebase_allocate((double[]){0, 0, 0}, 3, 1.0, 4, w); /* 4/3 each: floors 1, the remainder to the first */
    ck_assert_int_eq(w[0], 2);
    ck_assert_int_eq(w[1], 1);
    ck_assert_int_eq(w[2], 1);
    s2_rebase_allocate((double[]){0, log(2.0), log(7.0)}, 3, 1.0, 5, w); /* 0.5, 1, 3.5: remainders .5 .0 .5 */
    ck_assert_int_eq(w[0] + w[1] + w[2], 5);
    ck_assert_int_eq(w[0], 1);
    ck_assert_int_eq(w[1], 1);
    ck_assert_int_eq(w[2], 3);
}
END_TEST

START_TEST(test_search_rebase_expands_by_reward)
{
    /* one level by hand: the root's 8 children, then each unfinished child gets round(8 * softmax) children */
    const char *kv[] = {"n=8", "temp=0.5"};
    fixture f;
    setup(&f, NULL, 3, "logprob", "rebase", kv, 2, "none", 7);
    run(&f);
    s2_node *root = s2_env_root(f.env);
    ck_assert_int_eq(root->n_children, 8);
    double r[8];
    int32_t w[8], got[8];
    for (int32_t i = 0; i < 8; i++) {
        r[i] = root->children[i]->score;
        got[i] = root->children[i]->n_children;
    }
    s2_rebase_allocate(r, 8, 0.5, 8, w);
    for (int32_t i = 0; i < 8; i++) ck_assert_int_eq(got[i], w[i]);
    ck_assert(f.res.best->terminal);
    check_samples(&f.res);
    teardown(&f);
}
END_TEST

START_TEST(test_search_gumbel_halving_visits_the_plan)
{
    int32_t v[32], rem[32];
    ck_assert_int_eq(s2_gumbel_schedule(32, 4, v, rem), 2); /* 2 phases: 4 arms x 4, then 2 arms x 8 */
    ck_assert_int_eq(rem[0], 4);
    ck_assert_int_eq(v[0], 4);
    ck_assert_int_eq(rem[1], 2);
    ck_assert_int_eq(v[1], 8);
    ck_assert_int_eq(s2_gumbel_schedule(10, 5, v, rem), 3); /* 5 -> 3 -> 2 arms; floor(10 / 15) -> 1 */
    ck_assert_int_eq(v[0], 1);
    ck_assert_int_eq(rem[1], 3);
    ck_assert_int_eq(v[1], 1);
    ck_assert_int_eq(rem[2], 2);
    ck_assert_int_eq(v[2], 1);
    const char *kv[] = {"root=gumbel", "iters=32", "m=4"};
    fixture f;
    setup(&f, NULL, 60, "logprob", "mcts", kv, 3, "none", 3);
    run(&f);
    s2_node *root = s2_env_root(f.env);
    ck_assert_int_eq(root->n_children, 4);
    int32_t n12 = 0, n4 = 0;
    for (int32_t i = 0; i < 4; i++) {
        n12 += root->children[i]->visits == 12; /* survivors: 4 + 8 */
        n4 += root->children[i]->visits == 4;
    }
    ck_assert_int_eq(n12, 2);
    ck_assert_int_eq(n4, 2);
    ck_assert_int_eq(root->visits, 32);
    teardown(&f);
}
END_TEST

START_TEST(test_search_dvts_subtrees_are_independent_and_of_width)
{
    const char *kv[] = {"n=8", "width=2", "expand=2"};
    fixture f;
    int32_t depth = 4;
    setup(&f, NULL, depth, "logprob", "dvts", kv, 3, "none", 11);
    run(&f);
    s2_node *root = s2_env_root(f.env);
    ck_assert_int_eq(root->n_children, 8);
    /* kept (not pruned) states per subtree and depth: exactly width, whatever the other subtrees score */
    int32_t kept[4][8] = {{0}};
    for (int32_t id = 1; id < s2_env_n_nodes(f.env); id++) {
        s2_node *x = s2_env_node(f.env, id), *a = x;
        while (a->parent != root) a = a->parent;
        int32_t first = 0;
        while (root->children[first] != a) first++;
        int32_t t = first / 2; /* the root's children are dealt to subtrees in order */
        if (x->pruned) continue;
        bool beam = x->depth == 1 || !x->parent->pruned;
        ck_assert(beam);
        kept[t][x->depth]++;
    }
    for (int32_t t = 0; t < 4; t++)
        for (int32_t d = 1; d <= depth; d++) ck_assert_int_eq(kept[t][d], 2);
    ck_assert(f.res.best->terminal);
    teardown(&f);
}
END_TEST

START_TEST(test_search_bon_weighted_sums_scores_per_answer)
{
    /* the winner is the answer whose chains' exp(mean log-prob) sum highest, recomputed here from the tree */
    const char *kv[] = {"n=12", "select=weighted"};
    fixture f;
    setup(&f, NULL, 2, "logprob", "bon", kv, 2, "none", 4);
    run(&f);
    const char *win = s2_env_answer(f.env, f.res.best);
    /* recompute by hand: sum exp(score) per answer over the finished chains */
    double best = -1;
    const char *best_a = NULL;
    int32_t n = s2_env_n_nodes(f.env);
    for (int32_t i = 1; i < n; i++) {
        s2_node *x = s2_env_node(f.env, i);
        if (!x->terminal || !x->scored) continue;
        const char *a = s2_env_answer(f.env, x);
        double sum = 0;
        for (int32_t j = 1; j < n; j++) {
            s2_node *y = s2_env_node(f.env, j);
            if (y->terminal && y->scored && strcmp(s2_env_answer(f.env, y), a) == 0) sum += exp(y->score);
        }
        if (sum > best) best = sum, best_a = a;
    }
    ck_assert_ptr_nonnull(best_a);
    ck_assert_str_eq(win, best_a);
    ck_assert_double_eq_tol(f.res.votes, best, 1e-9);
    teardown(&f);
}
END_TEST

Suite *search_suite(void) {
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("strategies");
    tcase_add_test(tc, test_search_io_is_greedy_chain);
    tcase_add_test(tc, test_search_beam_width_and_expansions_hold);
    tcase_add_test(tc, test_search_beam_token_level);
    tcase_add_test(tc, test_search_mcts_visits_equal_iterations);
    tcase_add_test(tc, test_search_mcts_progressive_widening);
    tcase_add_test(tc, test_search_mcts_rollouts_stay_out_of_the_tree);
    tcase_add_test(tc, test_search_vote_tie_breaks);
    tcase_add_test(tc, test_search_sc_votes_with_tie_breaks);
    tcase_add_test(tc, test_search_sc_weighted_vote);
    tcase_add_test(tc, test_search_bon_pairwise_tournament);
    tcase_add_test(tc, test_search_bon_picks_best_score);
    tcase_add_test(tc, test_search_oracle_guided_strategies_find_the_target);
    tcase_add_test(tc, test_search_tot_dfs_backtracks);
    tcase_add_test(tc, test_search_tot_bfs_keeps_b_and_releases_pruned);
    tcase_add_test(tc, test_search_tot_bfs_retries_fill_k_distinct_thoughts);
    tcase_add_test(tc, test_search_budgets_cap);
    tcase_add_test(tc, test_search_budget_spent_by_the_prompt_still_answers);
    tcase_add_test(tc, test_search_calls_and_flops_budgets);
    tcase_add_test(tc, test_search_same_seed_same_result);
    tcase_add_test(tc, test_search_registry_rejects_bad_params);
    tcase_add_test(tc, test_search_particle_weights_and_resampling);
    tcase_add_test(tc, test_search_particle_runs_and_votes);
    tcase_add_test(tc, test_search_rebase_allocation_is_the_softmax);
    tcase_add_test(tc, test_search_rebase_expands_by_reward);
    tcase_add_test(tc, test_search_gumbel_halving_visits_the_plan);
    tcase_add_test(tc, test_search_dvts_subtrees_are_independent_and_of_width);
    tcase_add_test(tc, test_search_bon_weighted_sums_scores_per_answer);
    suite_add_tcase(s, tc);
    return s;
}

/* The task's rules in the expansion: a step whose arithmetic is wrong is no child (legal=1, the default), and is
 * one with legal=0. */
START_TEST(test_search_illegal_steps_are_dropped)
{
    s2_error err = {0};
    s2_task_params tp = s2_task_default_params();
    tp.split = "gen";
    s2_task *task = NULL;
    ck_assert_msg(s2_task_create("game24", &tp, &task, &err) == S2_OK, "%s", err.msg);
    int32_t item = s2_task_find(task, "4-9-10-13");
    ck_assert_int_ge(item, 0);
    const char *script[] = {"13 - 9 = 4 (left: 4 4 10)", "13 - 9 = 5 (left: 4 5 10)", "10 - 4 = 6 (left: 6 9 13)"};
    for (int legal = 0; legal <= 1; legal++) {
        fake_lm_params lp = fake_lm_default_params();
        lp.script = script;
        lp.n_script = 3;
        s2_lm *lm = NULL;
        ck_assert_int_eq(fake_lm_init(&lp, &lm, &err), S2_OK);
        s2_env_params ep = s2_env_default_params();
        ep.lm = lm;
        ep.task = task;
        ep.item = item;
        ep.legal = legal;
        s2_env *env = NULL;
        ck_assert_msg(s2_env_init(&ep, &env, &err) == S2_OK, "%s", err.msg);
        s2_node *kids[3];
        int32_t n = s2_env_expand(env, s2_env_root(env), 3, kids);
        s2_tree_stats ts;
        s2_env_tree_stats(env, &ts);
        if (legal) {
            ck_assert_int_eq(n, 2); /* 13 - 9 = 5 is not a move */
            ck_assert_int_eq(ts.illegal, 1);
            for (int32_t i = 0; i < n; i++) ck_assert_ptr_null(strstr(kids[i]->text, "= 5"));
        } else {
            ck_assert_int_eq(n, 3);
            ck_assert_int_eq(ts.illegal, 0);
        }
        s2_env_free(env);
        ck_assert_int_eq(fake_lm_live(lm), 0);
        s2_lm_free(lm);
    }
    s2_task_free(task);
}
END_TEST

Suite *search_rules_suite(void);
Suite *search_rules_suite(void) {
    Suite *s = suite_create("search_rules");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_search_illegal_steps_are_dropped);
    suite_add_tcase(s, tc);
    return s;
}
