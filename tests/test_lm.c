/* The system-1 interface (s2_lm) over the local engine: log-probs that do not depend on how a sequence was made
 * (alone, forked, in a batch of 16, through the prefix cache), fork memory read from the cache's block counts,
 * exact accounting for a scripted series of calls, and clear errors at the KV and context limits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "init_model.h"
#include "quant.h"
#include "sys2.h"
#include "testutil.h"

static s2_model *random_model(int32_t n_ctx, uint64_t seed) {
    char path[512];
    snprintf(path, sizeof path, "%s/lm.gguf", t_tmpdir());
    s2_init_params ip = s2_init_default_params();
    ip.n_ctx = n_ctx;
    ip.seed = seed;
    s2_error err = {0};
    ck_assert_msg(s2_model_init_random(&ip, path, &err) == S2_OK, "%s", err.msg);
    s2_model *m = NULL;
    ck_assert_msg(s2_model_load(path, NULL, &m, &err) == S2_OK, "%s", err.msg);
    return m;
}

static s2_lm *new_lm(const s2_model *m, int32_t n_ctx, int32_t block, int64_t kv_bytes) {
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.block_size = block;
    cp.kv_max_bytes = kv_bytes;
    s2_lm *lm = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_lm_local_init(m, &cp, &lm, &err) == S2_OK, "%s", err.msg);
    return lm;
}

/* ---- log-probs do not depend on how the sequence was made ---- */

static void check_invariance(const s2_model *m, const char *prefix, const char *cont) {
    s2_error err = {0};
    /* from scratch, through the one-sequence scorer (generate.c), on its own context */
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = 512;
    s2_ctx *ctx = NULL;
    ck_assert_int_eq(s2_ctx_init(m, &cp, &ctx, &err), S2_OK);
    s2_score_result ref;
    ck_assert_msg(s2_score_text(ctx, prefix, cont, &ref, &err) == S2_OK, "%s", err.msg);
    ck_assert(ref.n > 1);
    s2_ctx_free(ctx);

    s2_lm *lm = new_lm(m, 512, 16, 0);
    float per[256];
    int32_t n = 0;
    double sum = 0;
    s2_lm_seq a, f;
    /* alone */
    ck_assert_int_eq(s2_lm_seq_new(lm, prefix, &a, &err), S2_OK);
    ck_assert_int_eq(s2_lm_score(lm, a, cont, per, 256, &n, &sum, &err), S2_OK);
    ck_assert_int_eq(n, ref.n);
    for (int32_t i = 0; i < n; i++) ck_assert_msg(fabsf(per[i] - ref.logprobs[i]) < 1e-5, "alone, token %d", i);
    /* after a fork */
    ck_assert_int_eq(s2_lm_fork(lm, a, &f, &err), S2_OK);
    ck_assert_int_eq(s2_lm_score(lm, f, cont, per, 256, &n, &sum, &err), S2_OK);
    ck_assert_msg(fabs(sum - ref.sum) < 1e-5, "fork: %f vs %f", sum, ref.sum);
    /* inside a batch of 16 branches: 16 candidate continuations forced together, ours among them */
    const char *labels[16];
    char other[16][64];
    for (int i = 0; i < 16; i++) {
        snprintf(other[i], sizeof other[i], " and then %d more", i * 7);
        labels[i] = other[i];
    }
    labels[9] = cont;
    double out[16];
    ck_assert_int_eq(s2_lm_score_labels(lm, f, labels, 16, out, &err), S2_OK);
    ck_assert_msg(fabs(out[9] - ref.sum) < 1e-5, "batch of 16: %f vs %f", out[9], ref.sum);
    /* through the prefix cache: the same prompt again reuses its full blocks */
    s2_counters c0, c1;
    s2_lm_counters(lm, &c0);
    s2_lm_seq b;
    ck_assert_int_eq(s2_lm_seq_new(lm, prefix, &b, &err), S2_OK);
    s2_lm_counters(lm, &c1);
    ck_assert_msg(c1.cached_tokens - c0.cached_tokens >= 16, "the prefix cache reused %lld tokens",
                  (long long)(c1.cached_tokens - c0.cached_tokens));
    ck_assert_int_eq(s2_lm_score(lm, b, cont, per, 256, &n, &sum, &err), S2_OK);
    ck_assert_msg(fabs(sum - ref.sum) < 1e-5, "prefix cache: %f vs %f", sum, ref.sum);
    /* 16 branches sampled together, then scored: each equals its own score from scratch */
    s2_lm_seq br[16];
    s2_lm_gen gens[16];
    s2_lm_sample_params sp = s2_lm_sample_default_params();
    sp.max_tokens = 6;
    sp.seed = 3;
    ck_assert_int_eq(s2_lm_sample_n(lm, a, 16, &sp, br, gens, &err), S2_OK);
    for (int i = 0; i < 16; i++) {
        char *whole = malloc(strlen(prefix) + strlen(gens[i].text) + 1);
        strcpy(whole, prefix);
        strcat(whole, gens[i].text);
        ck_assert_int_eq(s2_lm_score(lm, br[i], cont, per, 256, &n, &sum, &err), S2_OK);
        ctx = NULL;
        ck_assert_int_eq(s2_ctx_init(m, &cp, &ctx, &err), S2_OK);
        s2_score_result r2;
        ck_assert_int_eq(s2_score_text(ctx, whole, cont, &r2, &err), S2_OK);
        /* the same tokens were fed either way when the sampled text re-tokenizes to the sampled tokens */
        int32_t nw = 0, np = 0;
        int32_t *w = s2_tokenize_pair(s2_model_vocab(m), prefix, gens[i].text, true, &nw, &np);
        if (r2.n == n && nw - np == gens[i].n_tokens &&
            memcmp(w + np, gens[i].tokens, (size_t)gens[i].n_tokens * sizeof(int32_t)) == 0)
            ck_assert_msg(fabs(sum - r2.sum) < 1e-4, "branch %d: %f vs %f", i, sum, r2.sum);
        free(w);
        s2_score_result_free(&r2);
        s2_ctx_free(ctx);
        free(whole);
        s2_lm_gen_free(&gens[i]);
        s2_lm_seq_free(lm, br[i]);
    }
    s2_score_result_free(&ref);
    s2_lm_free(lm);
}

START_TEST(test_lm_logprobs_same_alone_fork_batch_cache_stories)
{
    const char *p = t_shared("models/stories260K.gguf", "lm");
    if (p == NULL) return;
    s2_model *m = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_model_load(p, NULL, &m, &err), S2_OK);
    check_invariance(m, "Once upon a time, there was a little girl named Lily. She loved to play",
                     " outside in the park with her friends.");
    s2_model_free(m);
}
END_TEST

START_TEST(test_lm_logprobs_same_alone_fork_batch_cache_random)
{
    s2_model *m = random_model(512, 21);
    check_invariance(m, "Input: 4 9 10 13\n13 - 9 = 4 (left: 4 4 10)\n", "10 - 4 = 6 (left: 4 6)\n");
    s2_model_free(m);
}
END_TEST

/* ---- fork memory ---- */

START_TEST(test_lm_fork_64_shares_a_1000_token_prefix)
{
    s2_model *m = random_model(2048, 5);
    s2_lm *lm = new_lm(m, 2048, 16, 0);
    s2_ctx *ctx = s2_lm_local_ctx(lm);
    char text[1001];
    for (int i = 0; i < 1000; i++) text[i] = (char)('a' + (i * 7) % 26);
    text[1000] = '\0';
    s2_error err = {0};
    s2_lm_seq root, forks[64];
    ck_assert_int_eq(s2_lm_seq_new(lm, text, &root, &err), S2_OK);
    s2_kv_stats k0, k1, k2, k3;
    s2_ctx_kv_stats(ctx, &k0);
    /* BOS + 1000 characters: 1001 tokens in 63 blocks of 16, the last holding 9 */
    ck_assert_int_eq(k0.blocks_used, 63);
    for (int i = 0; i < 64; i++) ck_assert_int_eq(s2_lm_fork(lm, root, &forks[i], &err), S2_OK);
    s2_ctx_kv_stats(ctx, &k1);
    ck_assert_int_eq(k1.blocks_used, k0.blocks_used); /* a fork copies a block table, no block */
    for (int i = 0; i < 64; i++) {
        char step[8];
        snprintf(step, sizeof step, "%c%c%c", 'a' + i % 26, 'b' + i % 20, 'c');
        ck_assert_int_eq(s2_lm_append(lm, forks[i], step, &err), S2_OK);
    }
    s2_ctx_kv_stats(ctx, &k2);
    /* each fork wrote 3 tokens into its copy of the shared partial block (9 + 3 <= 16): one block each */
    ck_assert_int_eq(k2.blocks_used, k0.blocks_used + 64);
    for (int i = 0; i < 64; i++) s2_lm_seq_free(lm, forks[i]);
    s2_ctx_kv_stats(ctx, &k3);
    ck_assert_int_eq(k3.blocks_used, k0.blocks_used); /* exactly those blocks came back */
    s2_lm_seq_free(lm, root);
    s2_lm_free(lm);
    s2_model_free(m);
}
END_TEST

/* ---- accounting ---- */

START_TEST(test_lm_counters_are_exact_for_a_scripted_series)
{
    s2_model *m = random_model(128, 9);
    const s2_hparams *hp = s2_model_hparams(m);
    s2_lm *lm = new_lm(m, 128, 4, 0);
    double D = hp->n_embd, Q = hp->n_head * hp->head_dim, KV = hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    double V = hp->n_vocab, L = hp->n_layer, H = hp->n_head, HD = hp->head_dim;
    double row = 2 * L * (2 * D * Q + 2 * D * KV + 3 * D * F), out_row = 2 * D * V, att = 4 * L * H * HD;
    s2_counters c0, c;
    s2_error err = {0};
    s2_lm_counters(lm, &c0);
    ck_assert_int_eq(c0.forward_calls, 0);
    /* a prompt of BOS + 8 characters: 9 rows in one forward, logits for the last; attention over 1+2+...+9 */
    s2_lm_seq a;
    ck_assert_int_eq(s2_lm_seq_new(lm, "abcdefgh", &a, &err), S2_OK);
    s2_lm_counters(lm, &c);
    ck_assert_int_eq(c.prompt_tokens, 9);
    ck_assert_int_eq(c.cached_tokens, 0);
    ck_assert_int_eq(c.forward_calls, 1);
    ck_assert_int_eq(c.forward_rows, 9);
    ck_assert_int_eq(c.requests, 1);
    ck_assert_msg(fabs(c.flops - (9 * row + out_row + att * 45)) < 1e-6 * c.flops, "flops %g", c.flops);
    ck_assert(c.ns > 0);
    /* the same prompt again: two full blocks of 4 come from the cache, the last token is computed */
    s2_lm_seq b;
    ck_assert_int_eq(s2_lm_seq_new(lm, "abcdefgh", &b, &err), S2_OK);
    s2_lm_counters(lm, &c);
    ck_assert_int_eq(c.cached_tokens, 8);
    ck_assert_int_eq(c.prompt_tokens, 10);
    ck_assert_int_eq(c.forward_rows, 10);
    /* a fork computes nothing */
    s2_lm_seq f;
    ck_assert_int_eq(s2_lm_fork(lm, b, &f, &err), S2_OK);
    s2_lm_counters(lm, &c);
    ck_assert_int_eq(c.forward_rows, 10);
    ck_assert_int_eq(c.forward_calls, 2);
    /* appending 2 characters: 2 prompt tokens in one forward */
    ck_assert_int_eq(s2_lm_append(lm, f, "xy", &err), S2_OK);
    s2_lm_counters(lm, &c);
    ck_assert_int_eq(c.prompt_tokens, 12);
    ck_assert_int_eq(c.forward_rows, 12);
    ck_assert_int_eq(c.forward_calls, 3);
    /* scoring 2 tokens: 2 scored, 1 row (the first log-prob is already known) */
    int32_t n;
    double sum;
    ck_assert_int_eq(s2_lm_score(lm, f, "pq", NULL, 0, &n, &sum, &err), S2_OK);
    s2_lm_counters(lm, &c);
    ck_assert_int_eq(c.scored_tokens, 2);
    ck_assert_int_eq(c.forward_rows, 13);
    ck_assert_int_eq(c.forward_calls, 4);
    /* two labels of 4 and 2 tokens in one forward: 6 scored, 3 + 1 rows */
    const char *labels[] = {"sure", "no"};
    double lp[2];
    ck_assert_int_eq(s2_lm_score_labels(lm, f, labels, 2, lp, &err), S2_OK);
    s2_lm_counters(lm, &c);
    ck_assert_int_eq(c.scored_tokens, 8);
    ck_assert_int_eq(c.forward_rows, 17);
    ck_assert_int_eq(c.forward_calls, 5);
    ck_assert_int_eq(c.prompt_tokens, 12);
    /* sampling two sequences until "\n" or 5 tokens: every sampled token counted, every one but an end token fed */
    const char *stops[] = {"\n"};
    s2_lm_sample_params sp = s2_lm_sample_default_params();
    sp.max_tokens = 5;
    sp.stops = stops;
    sp.n_stops = 1;
    sp.seed = 77;
    s2_lm_seq seqs[2] = {a, f};
    s2_lm_gen g[2];
    s2_counters before;
    s2_lm_counters(lm, &before);
    ck_assert_int_eq(s2_lm_sample(lm, seqs, 2, &sp, g, &err), S2_OK);
    s2_lm_counters(lm, &c);
    int64_t gen = g[0].n_tokens + g[1].n_tokens, fed0 = g[0].n_tokens - (strcmp(g[0].finish, "eos") == 0);
    int64_t fed1 = g[1].n_tokens - (strcmp(g[1].finish, "eos") == 0);
    ck_assert_int_eq(c.gen_tokens - before.gen_tokens, gen);
    ck_assert_int_eq(c.forward_rows - before.forward_rows, fed0 + fed1);
    ck_assert_int_eq(c.forward_calls - before.forward_calls, fed0 > fed1 ? fed0 : fed1);
    ck_assert_int_eq(c.prompt_tokens, 12);
    ck_assert_int_eq(c.requests, 7);
    for (int i = 0; i < 2; i++) {
        ck_assert(g[i].n_tokens >= 1 && g[i].n_tokens <= 5);
        if (strcmp(g[i].finish, "stop") == 0) ck_assert(g[i].text[strlen(g[i].text) - 1] == '\n');
        s2_lm_gen_free(&g[i]);
    }
    /* counters difference */
    s2_counters d;
    s2_counters_sub(&d, &c, &c0);
    ck_assert_int_eq(d.forward_rows, c.forward_rows);
    s2_lm_free(lm);
    s2_model_free(m);
}
END_TEST

/* ---- sampling ---- */

START_TEST(test_lm_sample_is_seeded_and_stops)
{
    s2_model *m = random_model(256, 4);
    s2_error err = {0};
    char texts[2][8][128];
    for (int run = 0; run < 2; run++) {
        s2_lm *lm = new_lm(m, 256, 16, 0);
        s2_lm_seq root, br[8];
        s2_lm_gen g[8];
        ck_assert_int_eq(s2_lm_seq_new(lm, "Input: 1 2 3 4\n", &root, &err), S2_OK);
        s2_lm_sample_params sp = s2_lm_sample_default_params();
        sp.max_tokens = 20;
        sp.seed = 1234;
        const char *stops[] = {"a", "b"};
        sp.stops = stops;
        sp.n_stops = 2;
        ck_assert_int_eq(s2_lm_sample_n(lm, root, 8, &sp, br, g, &err), S2_OK);
        int distinct = 0;
        for (int i = 0; i < 8; i++) {
            snprintf(texts[run][i], 128, "%s", g[i].text);
            if (i > 0 && strcmp(texts[run][i], texts[run][0]) != 0) distinct++;
            double s = 0;
            for (int32_t t = 0; t < g[i].n_tokens; t++) s += g[i].logprobs[t];
            ck_assert(fabs(s - g[i].logprob) < 1e-9);
            if (strcmp(g[i].finish, "stop") == 0) {
                char last = g[i].text[strlen(g[i].text) - 1];
                ck_assert(last == 'a' || last == 'b');
                ck_assert(strchr(g[i].text, 'a') == g[i].text + strlen(g[i].text) - 1 ||
                          strchr(g[i].text, 'b') == g[i].text + strlen(g[i].text) - 1);
            } else {
                ck_assert_str_eq(g[i].finish, g[i].n_tokens == 20 ? "length" : "eos");
            }
            s2_lm_gen_free(&g[i]);
        }
        ck_assert_msg(distinct > 0, "8 samples at temperature 1 were all the same");
        s2_lm_free(lm);
    }
    for (int i = 0; i < 8; i++) ck_assert_str_eq(texts[0][i], texts[1][i]);
    s2_model_free(m);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_lm_kv_limit_and_context_are_clear_errors)
{
    s2_model *m = random_model(64, 8);
    const s2_hparams *hp = s2_model_hparams(m);
    int64_t block_bytes = (int64_t)hp->n_layer * 16 * hp->n_head_kv * hp->head_dim * 2 * 4;
    s2_lm *lm = new_lm(m, 64, 16, 3 * block_bytes); /* 3 blocks of 16 tokens */
    s2_error err = {0};
    s2_lm_seq a, b, c;
    ck_assert_int_eq(s2_lm_seq_new(lm, "0123456789abcdefghijklmnopqrst", &a, &err), S2_OK); /* 31 tokens: 2 blocks */
    ck_assert_int_eq(s2_lm_seq_new(lm, "zyxwvutsrqponmlkjihgf", &b, &err), S2_E_NOMEM);
    ck_assert_msg(strstr(err.msg, "KV cache full") != NULL, "%s", err.msg);
    /* the failed prompt left nothing behind: a small one still fits in the last block */
    ck_assert_int_eq(s2_lm_seq_new(lm, "zy", &c, &err), S2_OK);
    s2_lm_seq_free(lm, c);
    /* the context: 64 tokens */
    char longp[80];
    memset(longp, 'q', 70);
    longp[70] = '\0';
    ck_assert_int_eq(s2_lm_seq_new(lm, longp, &b, &err), S2_E_BUDGET);
    ck_assert_msg(strstr(err.msg, "context") != NULL, "%s", err.msg);
    ck_assert_int_eq(s2_lm_append(lm, a, longp, &err), S2_E_BUDGET);
    ck_assert_int_eq(s2_lm_fork(lm, 99, &b, &err), S2_E_ARG);
    s2_lm_free(lm);
    /* the prefix cache: freed prompts stay cached until their blocks are needed, then the oldest go */
    lm = new_lm(m, 64, 16, 3 * block_bytes);
    s2_counters c0, c1;
    ck_assert_int_eq(s2_lm_seq_new(lm, "0123456789abcdefghijklmnopqrst", &a, &err), S2_OK);
    s2_lm_seq_free(lm, a);
    s2_kv_stats ks;
    s2_ctx_kv_stats(s2_lm_local_ctx(lm), &ks);
    ck_assert_int_eq(ks.blocks_used, 0);
    ck_assert_int_eq(ks.blocks_cached, 1); /* the one full block of 16 */
    ck_assert_int_eq(s2_lm_seq_new(lm, "ABCDEFGHIJKLMNOPQRSTUVWXYZ!@#$%^&*()_+", &b, &err), S2_OK); /* 3 blocks: evicts */
    s2_lm_seq_free(lm, b);
    s2_lm_counters(lm, &c0);
    ck_assert_int_eq(s2_lm_seq_new(lm, "0123456789abcdefghijklmnopqrst", &a, &err), S2_OK);
    s2_lm_counters(lm, &c1);
    ck_assert_int_eq(c1.cached_tokens - c0.cached_tokens, 0); /* it was evicted: computed again */
    s2_lm_free(lm);
    s2_model_free(m);
}
END_TEST

Suite *lm_suite(void) {
    Suite *s = suite_create("lm");
    TCase *tc = tcase_create("lm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_lm_logprobs_same_alone_fork_batch_cache_stories);
    tcase_add_test(tc, test_lm_logprobs_same_alone_fork_batch_cache_random);
    tcase_add_test(tc, test_lm_fork_64_shares_a_1000_token_prefix);
    tcase_add_test(tc, test_lm_counters_are_exact_for_a_scripted_series);
    tcase_add_test(tc, test_lm_sample_is_seeded_and_stops);
    tcase_add_test(tc, test_lm_kv_limit_and_context_are_clear_errors);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- the README's example ---- */

START_TEST(test_lm_readme_example_runs_and_is_the_readme_s)
{
    const char *model = t_shared("models/stories260K.gguf", "lm");
    if (model == NULL) return;
    const char *bin = getenv("SYS2_EXAMPLE");
    if (bin == NULL) bin = "build/example_fork";
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s", bin, model);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    int branches = 0;
    for (const char *p = out; (p = strstr(p, "branch ")) != NULL; p++) branches++;
    ck_assert_int_eq(branches, 4);
    ck_assert_ptr_nonnull(strstr(out, "prompt tokens 5, generated"));
    /* the README shows this very program and this very output */
    char *readme = t_read_file("README.md", NULL), *src = t_read_file("tests/examples/fork.c", NULL);
    ck_assert_ptr_nonnull(readme);
    ck_assert_ptr_nonnull(src);
    src[strlen(src) - 1] = '\0'; /* the file's last newline */
    ck_assert_msg(strstr(readme, src) != NULL, "README.md does not show tests/examples/fork.c as it is");
    out[strlen(out) - 1] = '\0';
    ck_assert_msg(strstr(readme, out) != NULL, "README.md does not show the example's output:\n%s", out);
    free(readme);
    free(src);
    free(out);
}
END_TEST

Suite *lm_examples_suite(void);
Suite *lm_examples_suite(void) {
    Suite *s = suite_create("lm_examples");
    TCase *tc = tcase_create("examples");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lm_readme_example_runs_and_is_the_readme_s);
    suite_add_tcase(s, tc);
    return s;
}
