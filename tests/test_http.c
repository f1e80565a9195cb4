/* test_http.c: the HTTP backend (core/net/http.c) against `sys2 serve` (core/net/serve.c), and both against the local
 * engine. The reference for every number is the local engine (core/engine/lm.c), an independent path through the same
 * model: the same operations must give the same text and log-probs (1e-4) through HTTP. A `sys2 serve` child is
 * killed mid-run; the fake servers of other kinds (llama-server, vLLM, SGLang, OpenAI, faulty ones) are in
 * test_http_servers.c. Everything listens on 127.0.0.1 with ephemeral ports. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "init_model.h"
#include "run.h"
#include "serve.h"
#include "sys2.h"
#include "testutil.h"

/* ---- fixture: a model, a server on it, a local and a remote lm ---- */

typedef struct fix {
    s2_model *m;
    s2_server *srv;
    s2_lm *local, *remote;
    char url[96];
} fix;

static s2_model *load_model(const char *test) {
    s2_error err = {0};
    s2_model *m = NULL;
    const char *path = t_shared("models/stories260K.gguf", test);
    char tmp[600];
    if (path == NULL) { /* a random model with the character vocabulary: same checks, no shared file */
        snprintf(tmp, sizeof tmp, "%s/rand.gguf", t_tmpdir());
        s2_init_params ip = s2_init_default_params();
        ck_assert_msg(s2_model_init_random(&ip, tmp, &err) == S2_OK, "%s", err.msg);
        path = tmp;
    }
    ck_assert_msg(s2_model_load(path, NULL, &m, &err) == S2_OK, "%s", err.msg);
    return m;
}

static void fix_open(fix *f, const char *test, const s2_server_params *sp) {
    memset(f, 0, sizeof *f);
    s2_error err = {0};
    f->m = load_model(test);
    s2_server_params p = sp ? *sp : s2_server_default_params();
    p.port = 0;
    ck_assert_msg(s2_server_start(f->m, &p, &f->srv, &err) == S2_OK, "%s", err.msg);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/v1", s2_server_port(f->srv));
    s2_ctx_params cp = s2_ctx_default_params();
    cp.kv_max_bytes = 64ll << 20;
    ck_assert_msg(s2_lm_local_init(f->m, &cp, &f->local, &err) == S2_OK, "%s", err.msg);
    ck_assert_msg(s2_lm_open(f->url, NULL, &f->remote, &err) == S2_OK, "%s", err.msg);
    ck_assert_str_eq(f->remote->iface->name, "http");
}

static void fix_close(fix *f) {
    s2_lm_free(f->remote);
    s2_lm_free(f->local);
    s2_server_free(f->srv);
    s2_model_free(f->m);
}

#define OK(call)                                          \
    do {                                                  \
        s2_error e_ = {0};                                \
        s2_error *err_ = &e_;                             \
        (void)err_;                                       \
        s2_status st_ = (call);                           \
        ck_assert_msg(st_ == S2_OK, "%s: %s", #call, e_.msg); \
    } while (0)

/* ---- the same operations, locally and over HTTP ---- */

static void compare_samples(fix *f, const char *prompt, const s2_lm_sample_params *p, int32_t n) {
    s2_lm *lms[2] = {f->local, f->remote};
    s2_lm_gen g[2][8];
    s2_lm_seq seqs[2][8];
    for (int k = 0; k < 2; k++) {
        s2_lm_seq root;
        OK(s2_lm_seq_new(lms[k], prompt, &root, err_));
        OK(s2_lm_sample_n(lms[k], root, n, p, seqs[k], g[k], err_));
    }
    for (int32_t i = 0; i < n; i++) {
        ck_assert_msg(strcmp(g[0][i].text, g[1][i].text) == 0, "choice %d: local '%.60s' vs http '%.60s'", i,
                      g[0][i].text, g[1][i].text);
        ck_assert_str_eq(g[0][i].finish, g[1][i].finish);
        ck_assert_int_eq(g[0][i].n_tokens, g[1][i].n_tokens);
        for (int32_t t = 0; t < g[0][i].n_tokens; t++) {
            ck_assert_int_eq(g[0][i].tokens[t], g[1][i].tokens[t]);
            ck_assert_float_eq_tol(g[0][i].logprobs[t], g[1][i].logprobs[t], 1e-4);
        }
        ck_assert_double_eq_tol(g[0][i].logprob, g[1][i].logprob, 1e-3);
        s2_lm_gen_free(&g[0][i]);
        s2_lm_gen_free(&g[1][i]);
    }
}


/* The same search through the local engine and through `sys2 serve`: tot-bfs on 8 game24 puzzles, fixed seed,
 * the whole tree traced; answers, texts and trees equal, scores within 1e-4. */
static json_t *result_lines(const char *path) {
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    json_t *a = json_array();
    char *line = NULL;
    size_t cap = 0;
    for (int n = 0; getline(&line, &cap, fp) > 0; n++)
        if (n > 0) json_array_append_new(a, json_loads(line, 0, NULL));
    free(line);
    fclose(fp);
    return a;
}

START_TEST(test_http_tot_bfs_run_matches_local)
{
    s2_error err = {0};
    const char *shared = t_shared("models/stories260K.gguf", "http_search");
    char path[600];
    if (shared != NULL) {
        snprintf(path, sizeof path, "%s", shared);
    } else {
        snprintf(path, sizeof path, "%s/rand.gguf", t_tmpdir());
        s2_init_params ip = s2_init_default_params();
        ip.n_ctx = 512;
        ck_assert_msg(s2_model_init_random(&ip, path, &err) == S2_OK, "%s", err.msg);
    }
    s2_model *m = NULL;
    ck_assert_int_eq(s2_model_load(path, NULL, &m, &err), S2_OK);
    s2_server_params sp = s2_server_default_params();
    sp.port = 0;
    sp.ctx.n_ctx = 512;
    s2_server *srv = NULL;
    ck_assert_msg(s2_server_start(m, &sp, &srv, &err) == S2_OK, "%s", err.msg);
    char url[96], out[2][600];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", s2_server_port(srv));
    const char *keys[] = {"max_step_tokens", "max_depth", "k"}, *vals[] = {"24", "3", "4"};
    const char *dir = t_tmpdir();
    for (int k = 0; k < 2; k++) {
        s2_run_config c = {0};
        c.task = "game24";
        c.split = "tot";
        c.search = "tot-bfs";
        c.scorer = "logprob";
        c.keys = keys;
        c.vals = vals;
        c.n_params = 3;
        c.model = k == 0 ? path : url;
        c.n_ctx = 512;
        c.limit = 8;
        c.seed = 1;
        c.threads = 1;
        c.trace = true;
        c.version = "test";
        snprintf(out[k], sizeof out[k], "%s/%s.jsonl", dir, k == 0 ? "local" : "http");
        c.out = out[k];
        s2_run_summary sum;
        ck_assert_msg(s2_run(&c, &sum, &err) == S2_OK, "%s", err.msg);
        ck_assert_int_eq(sum.done, 8);
    }
    json_t *a = result_lines(out[0]), *b = result_lines(out[1]);
    ck_assert_int_eq(json_array_size(a), 8);
    ck_assert_int_eq(json_array_size(b), 8);
    double tok[2] = {0, 0};
    for (size_t i = 0; i < 8; i++) {
        json_t *x = json_array_get(a, i), *y = json_array_get(b, i);
        /* the same tokens per item (issue 18: within 5%): the server's cached prompt tokens count as cached, as the
         * local prefix sharing counts them */
        double tx_ = json_number_value(json_object_get(x, "tokens")), ty_ = json_number_value(json_object_get(y, "tokens"));
        ck_assert_msg(tx_ > 0 && fabs(ty_ - tx_) <= 0.05 * tx_, "item %zu: %g tokens locally, %g over HTTP", i, tx_, ty_);
        tok[0] += tx_, tok[1] += ty_;
        ck_assert_str_eq(json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(y, "id")));
        ck_assert_str_eq(json_string_value(json_object_get(x, "text")), json_string_value(json_object_get(y, "text")));
        json_t *tx = json_object_get(x, "trace"), *ty = json_object_get(y, "trace");
        ck_assert_int_eq(json_array_size(tx), json_array_size(ty));
        ck_assert_int_gt(json_array_size(tx), 4);
        for (size_t j = 0; j < json_array_size(tx); j++) {
            json_t *nx = json_array_get(tx, j), *ny = json_array_get(ty, j);
            const char *fx = json_string_value(json_object_get(nx, "step"));
            const char *fy = json_string_value(json_object_get(ny, "step"));
            ck_assert_msg(fx && fy && strcmp(fx, fy) == 0, "item %zu node %zu: '%s' vs '%s'", i, j, fx, fy);
            json_t *sx = json_object_get(nx, "score"), *sy = json_object_get(ny, "score");
            ck_assert(json_is_number(sx) == json_is_number(sy));
            double lx = json_number_value(json_object_get(nx, "logprob")), ly = json_number_value(json_object_get(ny, "logprob"));
            ck_assert_msg(fabs(lx - ly) < 1e-4, "item %zu node %zu: logprob %g vs %g", i, j, lx, ly);
            if (json_is_number(sx) && json_is_number(sy))
                ck_assert_msg(fabs(json_number_value(sx) - json_number_value(sy)) < 1e-4, "item %zu node %zu: score %g vs %g",
                              i, j, json_number_value(sx), json_number_value(sy));
        }
    }
    fprintf(stderr, "http tot-bfs, 8 items: %.1f tokens per item locally, %.1f through sys2 serve\n", tok[0] / 8, tok[1] / 8);
    json_decref(a);
    json_decref(b);
    s2_server_free(srv);
    s2_model_free(m);
}
END_TEST

START_TEST(test_http_sample_matches_local)
{
    fix f;
    fix_open(&f, "test_http_sample_matches_local", NULL);
    s2_lm_sample_params p = s2_lm_sample_default_params();
    p.max_tokens = 24;
    p.seed = 7;
    compare_samples(&f, "Once upon a time", &p, 4); /* temperature 1, no stop */
    const char *stops[] = {".", " and"};
    p.stops = stops;
    p.n_stops = 2;
    p.seed = 12345678901234567ull;
    p.sample.top_k = 20;
    p.sample.top_p = 0.9f;
    p.sample.min_p = 0.02f;
    compare_samples(&f, "Lily saw a big", &p, 5);
    p.sample.temperature = 0; /* greedy */
    compare_samples(&f, "The cat", &p, 2);
    /* the texts grew by what was sampled, on both sides */
    fix_close(&f);
}
END_TEST

START_TEST(test_http_sample_distinct_sequences)
{
    /* sequences with different texts in one call: one request each, seeds by position, like the local engine */
    fix f;
    fix_open(&f, "test_http_sample_distinct_sequences", NULL);
    s2_lm *lms[2] = {f.local, f.remote};
    s2_lm_gen g[2][3];
    char *after[2][3];
    s2_lm_sample_params p = s2_lm_sample_default_params();
    p.max_tokens = 12;
    p.seed = 99;
    for (int k = 0; k < 2; k++) {
        s2_lm_seq a, b, c;
        OK(s2_lm_seq_new(lms[k], "Once upon a time", &a, err_));
        OK(s2_lm_fork(lms[k], a, &b, err_));
        OK(s2_lm_append(lms[k], b, " there was", err_));
        OK(s2_lm_seq_new(lms[k], "Tom had a red ball.", &c, err_));
        s2_lm_seq seqs[3] = {a, b, c};
        OK(s2_lm_sample(lms[k], seqs, 3, &p, g[k], err_));
        /* a second round continues each sequence from its grown text */
        s2_lm_gen g2[3];
        OK(s2_lm_sample(lms[k], seqs, 3, &p, g2, err_));
        for (int i = 0; i < 3; i++) {
            size_t l1 = strlen(g[k][i].text), l2 = strlen(g2[i].text);
            after[k][i] = malloc(l1 + l2 + 1);
            memcpy(after[k][i], g[k][i].text, l1);
            memcpy(after[k][i] + l1, g2[i].text, l2 + 1);
            s2_lm_gen_free(&g2[i]);
        }
    }
    for (int i = 0; i < 3; i++) {
        ck_assert(strcmp(g[0][i].text, g[1][i].text) == 0);
        for (int32_t t = 0; t < g[0][i].n_tokens; t++)
            ck_assert_float_eq_tol(g[0][i].logprobs[t], g[1][i].logprobs[t], 1e-4);
        /* the second round continues from the text, which the server tokenizes afresh: it matches the local
         * engine's kept tokens when those are the text's own tokenization (a trained model's printable text; not the
         * random bytes of a random model) */
        bool printable = true;
        for (const char *c = g[0][i].text; *c; c++) printable = printable && *c >= 32 && *c < 127;
        if (printable) ck_assert_msg(strcmp(after[0][i], after[1][i]) == 0, "'%.80s' vs '%.80s'", after[0][i], after[1][i]);
        s2_lm_gen_free(&g[0][i]);
        s2_lm_gen_free(&g[1][i]);
        free(after[0][i]);
        free(after[1][i]);
    }
    fix_close(&f);
}
END_TEST

START_TEST(test_http_score_matches_local)
{
    fix f;
    fix_open(&f, "test_http_score_matches_local", NULL);
    s2_lm *lms[2] = {f.local, f.remote};
    float lp[2][64];
    int32_t n[2];
    double sum[2];
    const char *conts[] = {" there was a little girl named Lily.", " the dog", "!", " Tom and Sue went to the park"};
    for (size_t c = 0; c < sizeof conts / sizeof *conts; c++) {
        for (int k = 0; k < 2; k++) {
            s2_lm_seq s;
            OK(s2_lm_seq_new(lms[k], "Once upon a time", &s, err_));
            if (c % 2 == 1) OK(s2_lm_append(lms[k], s, ", in a small town,", err_));
            OK(s2_lm_score(lms[k], s, conts[c], lp[k], 64, &n[k], &sum[k], err_));
            s2_lm_seq_free(lms[k], s);
        }
        ck_assert_int_eq(n[0], n[1]);
        ck_assert_int_gt(n[0], 0);
        for (int32_t i = 0; i < n[0]; i++) ck_assert_float_eq_tol(lp[0][i], lp[1][i], 1e-4);
        ck_assert_double_eq_tol(sum[0], sum[1], 1e-3);
        ck_assert(sum[0] < 0);
    }
    /* the counters: the tokens scored match; the server's usage is recorded (prompt + cached = the prompt) */
    s2_counters lc, rc;
    s2_lm_counters(f.local, &lc);
    s2_lm_counters(f.remote, &rc);
    ck_assert_int_eq(lc.scored_tokens, rc.scored_tokens);
    ck_assert_int_eq(rc.requests, 5); /* GET /v1/models (no model name given), then the 4 scores */
    ck_assert_int_gt(rc.prompt_tokens + rc.cached_tokens, rc.scored_tokens);
    ck_assert_int_gt(rc.ns, 0);
    /* the same prefix again: the server's prefix cache serves it, and the client records that */
    s2_lm_seq s;
    OK(s2_lm_seq_new(f.remote, "Once upon a time, in a small town, there lived a very old man", &s, err_));
    OK(s2_lm_score(f.remote, s, " who", NULL, 0, &n[1], &sum[1], err_));
    OK(s2_lm_score(f.remote, s, " who", NULL, 0, &n[1], &sum[1], err_));
    s2_counters rc2;
    s2_lm_counters(f.remote, &rc2);
    ck_assert_int_gt(rc2.cached_tokens, rc.cached_tokens);
    fix_close(&f);
}
END_TEST

START_TEST(test_http_labels_and_top_k_match_local)
{
    fix f;
    fix_open(&f, "test_http_labels_and_top_k_match_local", NULL);
    s2_lm *lms[2] = {f.local, f.remote};
    const char *labels[] = {" cat", " dog", " girl named Lily", " big red ball"};
    double out[2][4];
    s2_lm_top top[2][8];
    int32_t nt[2];
    for (int k = 0; k < 2; k++) {
        s2_lm_seq s;
        OK(s2_lm_seq_new(lms[k], "Once upon a time there was a", &s, err_));
        OK(s2_lm_score_labels(lms[k], s, labels, 4, out[k], err_));
        s2_error err = {0};
        nt[k] = s2_lm_top_k(lms[k], s, 8, top[k], &err);
        ck_assert_msg(nt[k] == 8, "%d: %s", nt[k], err.msg);
    }
    for (int c = 0; c < 4; c++) ck_assert_double_eq_tol(out[0][c], out[1][c], 1e-4);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(top[0][i].id, top[1][i].id);
        ck_assert_float_eq_tol(top[0][i].logprob, top[1][i].logprob, 1e-4);
        ck_assert_str_eq(top[0][i].piece, top[1][i].piece);
        if (i > 0) ck_assert(top[1][i].logprob <= top[1][i - 1].logprob);
    }
    fix_close(&f);
}
END_TEST

START_TEST(test_http_context_budget_matches_local)
{
    /* a sequence that would pass the context: the local engine's sample call fails with S2_E_BUDGET, and so does the
     * HTTP backend's (sys2_finish "context"); a prompt longer than the context is S2_E_BUDGET remotely too */
    s2_server_params sp = s2_server_default_params();
    sp.ctx.n_ctx = 24;
    fix f;
    fix_open(&f, "test_http_context_budget_matches_local", &sp);
    s2_lm_free(f.local);
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = 24;
    OK(s2_lm_local_init(f.m, &cp, &f.local, err_));
    s2_lm *lms[2] = {f.local, f.remote};
    for (int k = 0; k < 2; k++) {
        s2_lm_seq s;
        OK(s2_lm_seq_new(lms[k], "Once upon a time", &s, err_));
        s2_lm_sample_params p = s2_lm_sample_default_params();
        p.max_tokens = 40;
        p.seed = 1;
        s2_lm_gen g;
        s2_error err = {0};
        ck_assert_msg(s2_lm_sample(lms[k], &s, 1, &p, &g, &err) == S2_E_BUDGET, "%s: %s", lms[k]->iface->name, err.msg);
        p.max_tokens = 4; /* room enough: fine on both (a fresh sequence: the failed call may leave the local one full) */
        s2_lm_seq s2;
        OK(s2_lm_seq_new(lms[k], "Once upon a time", &s2, err_));
        OK(s2_lm_sample(lms[k], &s2, 1, &p, &g, err_));
        s2_lm_gen_free(&g);
    }
    s2_lm_seq s;
    OK(s2_lm_seq_new(f.remote, "Once upon a time there was a little girl named Lily who liked to play in the park "
                               "with her friends every day", &s, err_));
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_score(f.remote, s, " and", NULL, 0, NULL, NULL, &err), S2_E_BUDGET);
    ck_assert_msg(strstr(err.msg, "context") != NULL, "%s", err.msg);
    fix_close(&f);
}
END_TEST

/* ---- raw requests with libcurl ---- */

#include <curl/curl.h>

typedef struct buf {
    char *d;
    size_t n;
} buf;
static size_t buf_write(char *p, size_t s, size_t m, void *u) {
    buf *b = u;
    char *nd = realloc(b->d, b->n + s * m + 1);
    if (nd == NULL) return 0;
    b->d = nd;
    memcpy(b->d + b->n, p, s * m);
    b->n += s * m;
    b->d[b->n] = '\0';
    return s * m;
}

/* POSTs body (GET when NULL) to url; returns the status; *out (malloc'd) gets the body. */
static long raw(const char *url, const char *body, size_t len, char **out) {
    CURL *c = curl_easy_init();
    buf b = {0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    long code = 0;
    CURLcode r = curl_easy_perform(c);
    if (r == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (out) *out = b.d;
    else free(b.d);
    return r == CURLE_OK ? code : -(long)r;
}

START_TEST(test_http_server_api)
{
    s2_server_params sp = s2_server_default_params();
    sp.max_body = 4096;
    fix f;
    fix_open(&f, "test_http_server_api", &sp);
    char url[160], *out = NULL;
    int port = s2_server_port(f.srv);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", port);
    ck_assert_int_eq(raw(url, NULL, 0, &out), 200);
    ck_assert_ptr_nonnull(strstr(out, "\"ok\""));
    free(out);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/models", port);
    ck_assert_int_eq(raw(url, NULL, 0, &out), 200);
    ck_assert_ptr_nonnull(strstr(out, "\"object\":\"list\""));
    free(out);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/nothing", port);
    ck_assert_int_eq(raw(url, "{}", 2, &out), 404);
    free(out);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/completions", port);
    /* malformed JSON and bad fields: 400 in OpenAI's error format */
    ck_assert_int_eq(raw(url, "{\"prompt\": \"Once", 16, &out), 400);
    ck_assert_ptr_nonnull(strstr(out, "\"error\":{"));
    ck_assert_ptr_nonnull(strstr(out, "invalid_request_error"));
    free(out);
    const char *bads[] = {"[1,2]", "{\"prompt\":3}", "{\"prompt\":\"a\",\"n\":0}", "{\"prompt\":\"a\",\"temperature\":-1}",
                          "{\"prompt\":\"a\",\"stop\":7}", "{\"prompt\":[1,99999999]}", "{\"prompt\":\"a\",\"logprobs\":99}",
                          "{\"prompt\":\"a\",\"seed\":\"x\"}", "{\"prompt\":\"a\",\"stream\":\"yes\"}",
                          "{\"prompt\":[\"a\",\"b\"]}"};
    for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
        ck_assert_msg(raw(url, bads[i], strlen(bads[i]), &out) == 400, "%s -> %s", bads[i], out);
        ck_assert_ptr_nonnull(strstr(out, "\"message\""));
        free(out);
    }
    /* 413 past max_body */
    char *big = malloc(8192);
    memset(big, ' ', 8192);
    memcpy(big, "{\"prompt\":\"a\"}", 14);
    ck_assert_int_eq(raw(url, big, 8192, &out), 413);
    ck_assert_ptr_nonnull(strstr(out, "request_too_large"));
    free(out);
    free(big);
    /* the same request with the same seed gives the same output; stop strings and usage */
    const char *req = "{\"prompt\":\"Once upon a time\",\"max_tokens\":20,\"seed\":5,\"n\":3,\"stop\":[\".\"],\"logprobs\":2}";
    char *a = NULL, *b = NULL;
    ck_assert_int_eq(raw(url, req, strlen(req), &a), 200);
    ck_assert_int_eq(raw(url, req, strlen(req), &b), 200);
    ck_assert_ptr_nonnull(strstr(a, "\"usage\""));
    ck_assert_ptr_nonnull(strstr(a, "\"cached_tokens\""));
    /* texts equal; log-probs equal up to float rounding (the second request's prompt comes from the prefix cache,
     * so its last row is computed in a batch of one rather than with the whole prompt) */
    json_t *ja = json_loads(a, JSON_ALLOW_NUL, NULL), *jb = json_loads(b, JSON_ALLOW_NUL, NULL);
    ck_assert_ptr_nonnull(ja);
    ck_assert_ptr_nonnull(jb);
    json_t *ca = json_object_get(ja, "choices"), *cb = json_object_get(jb, "choices");
    ck_assert_int_eq(json_array_size(ca), 3);
    ck_assert_int_eq(json_array_size(cb), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_array_get(ca, i), *y = json_array_get(cb, i);
        ck_assert(json_equal(json_object_get(x, "text"), json_object_get(y, "text")));
        ck_assert(json_equal(json_object_get(x, "finish_reason"), json_object_get(y, "finish_reason")));
        json_t *lx = json_object_get(json_object_get(x, "logprobs"), "token_logprobs");
        json_t *ly = json_object_get(json_object_get(y, "logprobs"), "token_logprobs");
        ck_assert_int_eq(json_array_size(lx), json_array_size(ly));
        ck_assert_int_gt(json_array_size(lx), 0);
        for (size_t t = 0; t < json_array_size(lx); t++)
            ck_assert_double_eq_tol(json_real_value(json_array_get(lx, t)), json_real_value(json_array_get(ly, t)), 1e-5);
    }
    json_decref(ja);
    json_decref(jb);
    free(a);
    free(b);
    /* token-array prompts and echo */
    const char *tok = "{\"prompt\":[1,5,6],\"max_tokens\":0,\"echo\":true,\"logprobs\":0}";
    ck_assert_int_eq(raw(url, tok, strlen(tok), &out), 200);
    ck_assert_ptr_nonnull(strstr(out, "\"token_logprobs\":[null,"));
    free(out);
    /* chat */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
    const char *chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":4,\"seed\":1,\"logprobs\":true,\"top_logprobs\":2}";
    ck_assert_int_eq(raw(url, chat, strlen(chat), &out), 200);
    ck_assert_ptr_nonnull(strstr(out, "\"chat.completion\""));
    ck_assert_ptr_nonnull(strstr(out, "\"role\":\"assistant\""));
    free(out);
    fix_close(&f);
}
END_TEST

/* The text of an SSE stream: every event's choices[0].text (completions) or delta.content (chat) joined; *done
 * set when it ends with [DONE]; *finish gets the last finish_reason. */
static char *sse_text(const char *body, bool chat, bool *done, char *finish, size_t fcap) {
    size_t cap = strlen(body) + 1, n = 0;
    char *out = calloc(1, cap);
    *done = false;
    for (const char *p = body; (p = strstr(p, "data: ")) != NULL;) {
        p += 6;
        const char *e = strstr(p, "\n\n");
        ck_assert_ptr_nonnull(e); /* every event ends with a blank line */
        if (strncmp(p, "[DONE]", 6) == 0) {
            *done = e[2] == '\0';
            break;
        }
        json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL);
        ck_assert_msg(j != NULL, "an event that is not JSON: %.80s", p);
        ck_assert_str_eq(json_string_value(json_object_get(j, "object")), chat ? "chat.completion.chunk" : "text_completion");
        json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
        const char *t = chat ? json_string_value(json_object_get(json_object_get(c0, "delta"), "content"))
                             : json_string_value(json_object_get(c0, "text"));
        if (t) {
            memcpy(out + n, t, strlen(t));
            n += strlen(t);
        }
        const char *fr = json_string_value(json_object_get(c0, "finish_reason"));
        if (fr) snprintf(finish, fcap, "%s", fr);
        json_decref(j);
        p = e;
    }
    return out;
}

static char *field_of(const char *body, const char *path0, const char *key) { /* choices[0].path0.key or .key */
    json_t *j = json_loads(body, 0, NULL);
    json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    json_t *v = path0 ? json_object_get(json_object_get(c0, path0), key) : json_object_get(c0, key);
    char *s = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
    json_decref(j);
    return s;
}

/* sys2 serve's tokenizer endpoints answer llama-server's shape and vLLM's (the request/response fields cited in
 * core/net/serve.c); the ids are llama2.c's for "Once upon a time" (1 403 407 261 378: ../shared's reference logits
 * file) and, for a character stories260K lacks, its UTF-8 bytes + 3 (byte fallback: "✓" is E2 9C 93, as llama-server's
 * README shows for "á" on stories260k). Echo with more than 20 log-probs per token: only with max_tokens <= 1. */
START_TEST(test_http_serve_tokenize_endpoints)
{
    if (t_shared("models/stories260K.gguf", "test_http_serve_tokenize_endpoints") == NULL) return;
    fix f;
    fix_open(&f, "test_http_serve_tokenize_endpoints", NULL);
    int port = s2_server_port(f.srv);
    char url[160], *out = NULL;
    static const struct { const char *path, *body, *want; } cases[] = {
        {"/tokenize", "{\"content\": \"Once upon a time\"}", "{\"tokens\":[403,407,261,378]}"},
        {"/tokenize", "{\"content\": \"Once upon a time\", \"add_special\": true}", "{\"tokens\":[1,403,407,261,378]}"},
        {"/tokenize", "{\"content\": \"<s>Once\", \"parse_special\": false}", NULL}, /* the local tokenizer's */
        {"/tokenize", "{\"content\": \"<s>Once\"}", "{\"tokens\":[1,403]}"},
        {"/tokenize", "{\"content\": \"\\u2713\", \"with_pieces\": true}",
         "{\"tokens\":[{\"id\":410,\"piece\":\" \"},{\"id\":229,\"piece\":[226]},{\"id\":159,\"piece\":[156]},"
         "{\"id\":150,\"piece\":[147]}]}"},
        {"/tokenize", "{\"model\": \"sys2\", \"prompt\": \"Once upon a time\"}",
         "{\"tokens\":[1,403,407,261,378],\"count\":5,\"max_model_len\":128}"},
        {"/v1/tokenize", "{\"prompt\": \"Once upon\", \"add_special_tokens\": false, \"return_token_strs\": true}",
         "{\"tokens\":[403,407],\"count\":2,\"max_model_len\":128,\"token_strs\":[\" Once\",\" upon\"]}"},
        {"/detokenize", "{\"tokens\": [1, 403, 407, 261, 378]}",
         "{\"content\":\"Once upon a time\",\"prompt\":\"Once upon a time\",\"text\":\"Once upon a time\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, cases[i].path);
        ck_assert_int_eq(raw(url, cases[i].body, strlen(cases[i].body), &out), 200);
        json_t *got = json_loads(out, 0, NULL), *want = cases[i].want ? json_loads(cases[i].want, 0, NULL) : NULL;
        if (cases[i].want == NULL) { /* "<s>" as text: what the tokenizer (held to llama.cpp's vectors) gives */
            int32_t ids[32];
            int32_t n = s2_tokenize(s2_model_vocab(f.m), "<s>Once", 7, false, false, ids, 32);
            ck_assert_int_gt(n, 4);
            want = json_pack("{s:[]}", "tokens");
            for (int32_t k = 0; k < n; k++) json_array_append_new(json_object_get(want, "tokens"), json_integer(ids[k]));
            ck_assert_int_ne(ids[0], 1); /* no control token in it */
        }
        ck_assert_msg(want != NULL && json_equal(got, want), "%s %s -> %s", cases[i].path, cases[i].body, out);
        json_decref(got);
        json_decref(want);
        free(out);
    }
    static const struct { const char *path, *body; } bads[] = {
        {"/tokenize", "{\"content\": 3}"},          {"/tokenize", "{}"},
        {"/tokenize", "{\"content\": \"a\", \"with_pieces\": 1}"}, {"/detokenize", "{\"tokens\": \"x\"}"},
        {"/detokenize", "{\"tokens\": [99999]}"}, {"/tokenize", "[1]"},
        {"/v1/completions", "{\"prompt\": \"a\", \"logprobs\": 30}"}, /* no echo: 20 at most */
        {"/v1/completions", "{\"prompt\": \"a\", \"echo\": true, \"logprobs\": 30, \"max_tokens\": 2}"},
        {"/v1/completions", "{\"prompt\": \"a\", \"echo\": true, \"logprobs\": 513, \"max_tokens\": 1}"},
    };
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, bads[i].path);
        ck_assert_msg(raw(url, bads[i].body, strlen(bads[i].body), &out) == 400, "%s -> %s", bads[i].body, out);
        ck_assert_ptr_nonnull(strstr(out, "\"message\""));
        free(out);
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/tokenize", port);
    ck_assert_int_eq(raw(url, NULL, 0, &out), 405);
    free(out);
    /* echo with logprobs -1: every prompt position after the first, and the generated token, get all 512 */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/completions", port);
    const char *body = "{\"prompt\": [1, 403, 407], \"echo\": true, \"logprobs\": -1, \"max_tokens\": 1, \"temperature\": 0}";
    ck_assert_int_eq(raw(url, body, strlen(body), &out), 200);
    json_t *j = json_loads(out, 0, NULL);
    json_t *tops = json_object_get(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "logprobs"), "sys2_top");
    ck_assert_int_eq((int)json_array_size(tops), 4);
    ck_assert(json_is_null(json_array_get(tops, 0)));
    for (size_t i = 1; i < 4; i++) ck_assert_int_eq((int)json_array_size(json_array_get(tops, i)), 512);
    json_decref(j);
    free(out);
    fix_close(&f);
}
END_TEST

START_TEST(test_http_serve_openai_features)
{
    fix f;
    fix_open(&f, "test_http_serve_openai_features", NULL);
    int port = s2_server_port(f.srv);
    char url[160], *out = NULL, *ref = NULL;
    /* a 2 MB body past the 1 MiB limit: read to its end, then 413 (not a broken pipe while the client sends) */
    size_t big_n = 2u << 20;
    char *big = malloc(big_n);
    memset(big, ' ', big_n);
    memcpy(big, "{\"prompt\":\"a\"}", 14);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/completions", port);
    ck_assert_int_eq(raw(url, big, big_n, &out), 413);
    ck_assert_ptr_nonnull(strstr(out, "request_too_large"));
    free(out);
    free(big);
    /* stream: the events' text is the text of the same request without stream */
    const char *plain = "{\"prompt\":\"Once upon a time\",\"max_tokens\":24,\"seed\":3,\"stop\":[\".\"]}";
    const char *streamed = "{\"prompt\":\"Once upon a time\",\"max_tokens\":24,\"seed\":3,\"stop\":[\".\"],\"stream\":true,"
                           "\"stream_options\":{\"include_usage\":true}}";
    ck_assert_int_eq(raw(url, plain, strlen(plain), &ref), 200);
    ck_assert_int_eq(raw(url, streamed, strlen(streamed), &out), 200);
    bool done = false;
    char finish[16] = "";
    char *text = sse_text(out, false, &done, finish, sizeof finish);
    char *want = field_of(ref, NULL, "text"), *want_fin = field_of(ref, NULL, "finish_reason");
    ck_assert_ptr_nonnull(want);
    ck_assert_str_eq(text, want);
    ck_assert_str_eq(finish, want_fin);
    ck_assert(done);
    ck_assert_ptr_nonnull(strstr(out, "\"usage\":{")); /* stream_options.include_usage */
    free(text), free(want), free(want_fin), free(out), free(ref);
    /* chat: content as a string, as text parts, and null content in an earlier message; streamed the same */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
    const char *as_string = "{\"messages\":[{\"role\":\"assistant\",\"content\":\"\"},{\"role\":\"user\",\"content\":"
                            "\"Once upon a time\"}],\"max_tokens\":12,\"seed\":2}";
    const char *as_parts = "{\"messages\":[{\"role\":\"assistant\",\"content\":null},{\"role\":\"user\",\"content\":"
                           "[{\"type\":\"text\",\"text\":\"Once upon\"},{\"type\":\"text\",\"text\":\" a time\"}]}],"
                           "\"max_tokens\":12,\"seed\":2}";
    const char *chat_stream = "{\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                              "\"max_tokens\":12,\"seed\":2,\"stream\":true}";
    const char *single = "{\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":12,\"seed\":2}";
    ck_assert_int_eq(raw(url, as_string, strlen(as_string), &ref), 200);
    ck_assert_int_eq(raw(url, as_parts, strlen(as_parts), &out), 200);
    char *a = field_of(ref, "message", "content"), *b = field_of(out, "message", "content");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(a, b);
    free(a), free(b), free(out), free(ref);
    ck_assert_int_eq(raw(url, single, strlen(single), &ref), 200);
    ck_assert_int_eq(raw(url, chat_stream, strlen(chat_stream), &out), 200);
    text = sse_text(out, true, &done, finish, sizeof finish);
    want = field_of(ref, "message", "content");
    ck_assert_str_eq(text, want);
    ck_assert(done);
    free(text), free(want), free(out), free(ref);
    const char *image = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]}";
    ck_assert_int_eq(raw(url, image, strlen(image), &out), 400);
    ck_assert_ptr_nonnull(strstr(out, "only text parts"));
    free(out);
    /* chat without max_tokens: OpenAI's default, as many tokens as the context holds (not 16) */
    const char *nomax = "{\"messages\":[{\"role\":\"user\",\"content\":\"Once\"}],\"seed\":4,\"temperature\":0}";
    ck_assert_int_eq(raw(url, nomax, strlen(nomax), &out), 200);
    json_t *j = json_loads(out, 0, NULL);
    json_int_t ct = json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens"));
    const char *fr = json_string_value(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "finish_reason"));
    ck_assert_msg(ct > 16 || strcmp(fr, "stop") == 0, "%lld tokens, finish %s", (long long)ct, fr);
    json_decref(j);
    free(out);
    /* a second server on the same port: "address in use" */
    s2_server_params sp = s2_server_default_params();
    sp.port = port;
    s2_server *second = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_server_start(f.m, &sp, &second, &err), S2_E_IO);
    ck_assert_ptr_null(second);
    ck_assert_msg(strstr(err.msg, "address in use") != NULL, "%s", err.msg);
    fix_close(&f);
}
END_TEST

START_TEST(test_http_chat_backend)
{
    fix f;
    fix_open(&f, "test_http_chat_backend", NULL);
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", s2_server_port(f.srv));
    s2_lm *chat = NULL;
    OK(s2_lm_open(url, NULL, &chat, err_));
    s2_lm_seq s;
    OK(s2_lm_seq_new(chat, "Tell me a story.", &s, err_));
    s2_lm_sample_params p = s2_lm_sample_default_params();
    p.max_tokens = 8;
    p.seed = 3;
    s2_lm_gen g;
    OK(s2_lm_sample(chat, &s, 1, &p, &g, err_));
    ck_assert_int_eq(g.n_tokens, 8);
    ck_assert(g.logprob < 0);
    s2_lm_gen_free(&g);
    s2_lm_top top[3];
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_top_k(chat, s, 3, top, &err), 3);
    ck_assert_int_eq(s2_lm_score(chat, s, " Once", NULL, 0, NULL, NULL, &err), S2_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot score"));
    s2_lm_free(chat);
    fix_close(&f);
}
END_TEST

/* ---- a sys2 serve child killed in the middle of a run ---- */

/* Starts `sys2 serve -m MODEL --port PORT [--model-name NAME]` as a child (model: stories260K, or a random model);
 * url gets its base from the line it prints once it listens. Returns the pid. */
static pid_t serve_child(const char *test, int port, const char *name, char *url, size_t cap, FILE **fr) {
    const char *model = t_shared("models/stories260K.gguf", test);
    static char tmp[600];
    if (model == NULL) {
        snprintf(tmp, sizeof tmp, "%s/rand.gguf", t_tmpdir());
        s2_init_params ip = s2_init_default_params();
        s2_error e = {0};
        ck_assert_int_eq(s2_model_init_random(&ip, tmp, &e), S2_OK);
        model = tmp;
    }
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        if (name) execl(t_sys2_bin(), "sys2", "serve", "-m", model, "--port", ports, "--model-name", name, (char *)NULL);
        else execl(t_sys2_bin(), "sys2", "serve", "-m", model, "--port", ports, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    *fr = fdopen(pfd[0], "r");
    char line[512] = {0};
    ck_assert_ptr_nonnull(fgets(line, sizeof line, *fr)); /* "sys2 serve: listening on http://127.0.0.1:PORT/v1 ..." */
    char *u = strstr(line, "http://");
    ck_assert_ptr_nonnull(u);
    char fmt[16];
    snprintf(fmt, sizeof fmt, "%%%zus", cap - 1);
    ck_assert_int_eq(sscanf(u, fmt, url), 1);
    return pid;
}

START_TEST(test_http_server_killed)
{
    char url[128];
    FILE *fr = NULL;
    pid_t pid = serve_child("test_http_server_killed", 0, NULL, url, sizeof url, &fr);
    s2_lm *lm = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_open(url, NULL, &lm, &err), S2_OK);
    s2_lm_http_set_retries(lm, 4, 20);
    s2_lm_seq s;
    ck_assert_int_eq(s2_lm_seq_new(lm, "Once upon a time", &s, &err), S2_OK);
    s2_lm_sample_params p = s2_lm_sample_default_params();
    p.max_tokens = 8;
    int ok = 0;
    s2_status st = S2_OK;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 400 && st == S2_OK; i++) {
        s2_lm_seq ks[4];
        s2_lm_gen g[4];
        p.seed = (uint64_t)i;
        st = s2_lm_sample_n(lm, s, 4, &p, ks, g, &err);
        if (st == S2_OK) {
            ok++;
            for (int k = 0; k < 4; k++) {
                s2_lm_gen_free(&g[k]);
                s2_lm_seq_free(lm, ks[k]);
            }
        }
        if (i == 20) kill(pid, SIGKILL); /* while the client keeps going */
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int status = 0;
    waitpid(pid, &status, 0);
    fclose(fr);
    ck_assert_int_ge(ok, 20);
    ck_assert_int_eq(st, S2_E_NET);
    ck_assert_msg(strstr(err.msg, "after 4 tries") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "127.0.0.1") != NULL, "%s", err.msg);
    ck_assert_msg((t1.tv_sec - t0.tv_sec) < 10, "the client gave up in bounded time");
    s2_lm_free(lm);
}
END_TEST

/* ---- 64 concurrent clients ---- */

typedef struct client_arg {
    const char *url;
    int id;
    double until;
    int answered, busy, lost;
    char last_err[256];
} client_arg;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *client_main(void *arg) {
    client_arg *a = arg;
    s2_lm *lm = NULL;
    s2_error err = {0};
    if (s2_lm_open(a->url, NULL, &lm, &err) != S2_OK) {
        a->lost++;
        return NULL;
    }
    s2_lm_http_set_retries(lm, 1, 0); /* a 503 comes back at once: count it */
    s2_lm_seq s;
    s2_lm_seq_new(lm, a->id % 2 ? "Once upon a time" : "Lily and Tom", &s, &err);
    for (int i = 0; now_s() < a->until; i++) {
        s2_status st;
        memset(&err, 0, sizeof err);
        if (i % 3 == 0) {
            s2_lm_sample_params p = s2_lm_sample_default_params();
            p.max_tokens = 6;
            p.seed = (uint64_t)i;
            s2_lm_seq f;
            s2_lm_fork(lm, s, &f, &err);
            s2_lm_gen g;
            st = s2_lm_sample(lm, &f, 1, &p, &g, &err);
            if (st == S2_OK) s2_lm_gen_free(&g);
            s2_lm_seq_free(lm, f);
        } else if (i % 3 == 1) {
            st = s2_lm_score(lm, s, " there was a dog", NULL, 0, NULL, NULL, &err);
        } else {
            s2_lm_top t[4];
            int32_t n = s2_lm_top_k(lm, s, 4, t, &err);
            st = n == 4 ? S2_OK : n < 0 ? (s2_status)n : S2_E_NET;
        }
        if (st == S2_OK) a->answered++;
        else if (strstr(err.msg, "HTTP 503") != NULL) {
            a->busy++;
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000}; /* as a polite client would */
            nanosleep(&ts, NULL);
        } else {
            a->lost++;
            snprintf(a->last_err, sizeof a->last_err, "%s", err.msg);
        }
    }
    s2_lm_free(lm);
    return NULL;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static void run_clients(const char *url, int n, double secs, int *answered, int *busy) {
    pthread_t th[64];
    client_arg a[64];
    double until = now_s() + secs;
    for (int i = 0; i < n; i++) {
        a[i] = (client_arg){.url = url, .id = i, .until = until};
        ck_assert_int_eq(pthread_create(&th[i], NULL, client_main, &a[i]), 0);
    }
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(a[i].lost == 0, "client %d lost %d requests: %s", i, a[i].lost, a[i].last_err);
        *answered += a[i].answered;
        *busy += a[i].busy;
    }
}

START_TEST(test_http_64_concurrent_clients)
{
    s2_server_params sp = s2_server_default_params();
    sp.max_queue = 8; /* 64 clients against a queue of 8: some must be refused */
    sp.parallel = 16;
    fix f;
    fix_open(&f, "test_http_64_concurrent_clients", &sp);
    int answered = 0, busy = 0;
    run_clients(f.url, 64, 1.0, &answered, &busy); /* warm-up: threads, arenas, KV blocks */
    long before = rss_kb();
    answered = busy = 0;
    run_clients(f.url, 64, 2.0, &answered, &busy);
    long after = rss_kb();
    s2_server_stats st;
    s2_server_stats_get(f.srv, &st);
    fprintf(stderr, "http 64 clients, 2 s: %d answered, %d refused with 503; RSS %ld -> %ld kB; mean batch %.2f rows\n",
            answered, busy, before, after, st.batches ? (double)st.batch_rows / (double)st.batches : 0.0);
    ck_assert_int_gt(answered, 0); /* how many depends on the machine's load: no throughput floor (no timed tests) */
    ck_assert_int_gt(busy, 0);
    ck_assert_int_eq(st.rejected_busy >= busy, 1);
#ifndef __SANITIZE_ADDRESS__ /* ASan's quarantine keeps freed memory (hundreds of MB); LeakSanitizer checks leaks there */
    ck_assert_msg(after - before < 32 * 1024, "RSS grew by %ld kB", after - before);
#endif
    ck_assert(st.batch_rows > st.batches); /* requests were decoded together */
    fix_close(&f);
}
END_TEST

/* ---- overhead of the HTTP path (SYS2_HTTP_BENCH=1 prints numbers; otherwise a quick sanity run) ---- */

START_TEST(test_http_overhead)
{
    fix f;
    fix_open(&f, "test_http_overhead", NULL);
    int iters = getenv("SYS2_HTTP_BENCH") ? 200 : 10;
    s2_lm *lms[2] = {f.local, f.remote};
    double per[2][3];
    s2_lm_sample_params p = s2_lm_sample_default_params();
    static const char *const suffix[16] = {" a", " b", " c", " d", " e", " f", " g", " h",
                                           " i", " j", " k", " l", " m", " n", " o", " p"};
    for (int k = 0; k < 2; k++) {
        s2_lm_seq root;
        OK(s2_lm_seq_new(lms[k], "Once upon a time", &root, err_));
        for (int mode = 0; mode < 3; mode++) {
            /* 0: one sequence, 1 token; 1: one sequence, 32 tokens; 2: 16 distinct sequences, 16 tokens each */
            int32_t nseq = mode == 2 ? 16 : 1;
            p.max_tokens = mode == 0 ? 1 : mode == 1 ? 32 : 16;
            int it = mode == 2 ? (iters + 3) / 4 : iters;
            double t0 = now_s();
            for (int i = 0; i < it; i++) {
                s2_lm_seq s[16];
                s2_lm_gen g[16];
                p.seed = (uint64_t)i;
                for (int32_t q = 0; q < nseq; q++) {
                    OK(s2_lm_fork(lms[k], root, &s[q], err_));
                    if (nseq > 1) OK(s2_lm_append(lms[k], s[q], suffix[q], err_));
                }
                OK(s2_lm_sample(lms[k], s, nseq, &p, g, err_));
                for (int32_t q = 0; q < nseq; q++) {
                    s2_lm_gen_free(&g[q]);
                    s2_lm_seq_free(lms[k], s[q]);
                }
            }
            per[k][mode] = (now_s() - t0) / it;
        }
    }
    if (getenv("SYS2_HTTP_BENCH"))
        fprintf(stderr,
                "overhead per sample call: 1 seq x 1 token: local %.3f ms, http %.3f ms (+%.3f ms; %.0f calls/s); "
                "1 seq x 32 tokens: local %.3f ms, http %.3f ms (+%.3f ms); 16 distinct seqs x 16 tokens: local %.2f ms, "
                "http %.2f ms (+%.2f ms)\n",
                1e3 * per[0][0], 1e3 * per[1][0], 1e3 * (per[1][0] - per[0][0]), 1.0 / per[1][0], 1e3 * per[0][1],
                1e3 * per[1][1], 1e3 * (per[1][1] - per[0][1]), 1e3 * per[0][2], 1e3 * per[1][2],
                1e3 * (per[1][2] - per[0][2]));
    ck_assert(per[1][0] > 0);
    fix_close(&f);
}
END_TEST

START_TEST(test_http_serve_cli)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "%s serve --help", t_sys2_bin());
    char *out = NULL;
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--max-queue"));
    /* each option once in the list of options */
    static const char *const flags[] = {"-m MODEL", "--ctx", "--threads", "--host", "--port", "--parallel",
                                        "--max-queue", "--max-body", "--model-name", "-h, --help"};
    const char *opts = strstr(out, "options:");
    ck_assert_ptr_nonnull(opts);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        int seen = 0;
        char pat[48];
        snprintf(pat, sizeof pat, "  %s", flags[i]);
        for (const char *p = opts; (p = strstr(p, pat)) != NULL; p++) seen++;
        ck_assert_msg(seen == 1, "%s listed %d times", flags[i], seen);
    }
    free(out);
    snprintf(cmd, sizeof cmd, "%s serve 2>/dev/null", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s serve -m x.gguf --port abc 2>/dev/null", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s serve -m /nonexistent.gguf --port 0 2>/dev/null", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 1);
    /* --model-name names the model in /v1/models and in every response */
    char url[128], u2[200];
    FILE *fr = NULL;
    pid_t pid = serve_child("test_http_serve_cli", 0, "my-policy", url, sizeof url, &fr);
    snprintf(u2, sizeof u2, "%s/models", url);
    ck_assert_int_eq(raw(u2, NULL, 0, &out), 200);
    ck_assert_msg(strstr(out, "\"id\":\"my-policy\"") != NULL, "%s", out);
    free(out);
    snprintf(u2, sizeof u2, "%s/completions", url);
    const char *one = "{\"prompt\":\"a\",\"max_tokens\":2}";
    ck_assert_int_eq(raw(u2, one, strlen(one), &out), 200);
    ck_assert_msg(strstr(out, "\"model\":\"my-policy\"") != NULL, "%s", out);
    free(out);
    /* a second serve on its port: "address in use", exit 1 */
    int port = 0;
    ck_assert_int_eq(sscanf(url, "http://127.0.0.1:%d", &port), 1);
    const char *model = t_shared("models/stories260K.gguf", "test_http_serve_cli");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/rand.gguf", t_tmpdir());
    snprintf(cmd, sizeof cmd, "%s serve -m %s --port %d 2>&1", t_sys2_bin(), model ? model : tmp, port);
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_msg(strstr(out, "address in use") != NULL, "%s", out);
    free(out);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    fclose(fr);
}
END_TEST

/* `sys2 serve` through the official OpenAI Node SDK (make test installs it in build/node: SYS2_NODE_MODULES):
 * completions, chat with content parts, both streamed, a 413 seen as a 413, a 400, 20 concurrent requests. */
START_TEST(test_http_serve_node_sdk)
{
    const char *mods = getenv("SYS2_NODE_MODULES") ? getenv("SYS2_NODE_MODULES") : "build/node/node_modules";
    char probe[700];
    snprintf(probe, sizeof probe, "%s/openai/package.json", mods);
    if (access(probe, R_OK) != 0 || t_run("node --version >/dev/null 2>&1", NULL) != 0) {
        fprintf(stderr, "SKIP test_http_serve_node_sdk: no node or no %s (make test installs them)\n", probe);
        ck_assert_msg(getenv("CI") == NULL, "under CI the OpenAI Node SDK must be installed (%s)", probe);
        return;
    }
    char url[128];
    FILE *fr = NULL;
    pid_t pid = serve_child("test_http_serve_node_sdk", 0, "sdk-model", url, sizeof url, &fr);
    char cmd[1200], *out = NULL;
    snprintf(cmd, sizeof cmd, "node tests/node/serve_openai.cjs %s sdk-model %s 2>&1", url, mods);
    int rc = t_run(cmd, &out);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    fclose(fr);
    ck_assert_msg(rc == 0 && strstr(out, "8 passed, 0 failed") != NULL, "exit %d:\n%s", rc, out);
    free(out);
}
END_TEST

Suite *http_suite(void) {
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_http_sample_matches_local);
    tcase_add_test(tc, test_http_tot_bfs_run_matches_local);
    tcase_add_test(tc, test_http_sample_distinct_sequences);
    tcase_add_test(tc, test_http_score_matches_local);
    tcase_add_test(tc, test_http_labels_and_top_k_match_local);
    tcase_add_test(tc, test_http_context_budget_matches_local);
    tcase_add_test(tc, test_http_server_api);
    tcase_add_test(tc, test_http_chat_backend);
    tcase_add_test(tc, test_http_serve_openai_features);
    tcase_add_test(tc, test_http_serve_tokenize_endpoints);
    tcase_add_test(tc, test_http_server_killed);
    tcase_add_test(tc, test_http_64_concurrent_clients);
    tcase_add_test(tc, test_http_overhead);
    tcase_add_test(tc, test_http_serve_cli);
    tcase_add_test(tc, test_http_serve_node_sdk);
    suite_add_tcase(s, tc);
    return s;
}
