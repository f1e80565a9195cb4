/* test_http_servers.c: the HTTP backend (core/net/http.c) against the servers people run, without any of them
 * installed: fake servers on raw sockets (127.0.0.1, ephemeral ports) that answer as each one does. Each fake is one
 * row of a table: what GET /v1/models says (owned_by), which probe it answers, and a handler that answers
 * POST /v1/completions as that server does. The behaviour of each comes from:
 * - llama-server: llama.cpp's tools/server (server-common.cpp oaicompat_completion_params_parse: echo refused;
 *   server-task.cpp to_json_oaicompat: finish_reason "stop" for a word and for EOS, no stop_reason, logprobs null
 *   unless n_probs > 0, usage.prompt_tokens_details.cached_tokens, timings.cache_n, __verbose with "verbose";
 *   server-context.cpp: the stop word cut from the text and its tokens from the log-probs), responses recorded
 *   from a build of it (the README's HTTP section has the commands), and issue 18's report of build c392e50
 *   (n > 1 answered with 500 "Only one completion choice is allowed", echo with 500 "Unsupported param: echo");
 * - vLLM: its OpenAI-compatible server docs (stop_reason: the matched stop string, null at EOS;
 *   include_stop_str_in_output; logprobs 0 gives the sampled token's log-prob; echo + logprobs gives prompt
 *   log-probs; max_tokens 0 refused: vllm-project/vllm#9336; prompt_tokens_details only with
 *   --enable-prompt-tokens-details: absent here);
 * - SGLang: python/sglang/srt/entrypoints/openai/protocol.py (CompletionResponseChoice.matched_stop: the stop
 *   string, or the EOS token id; no_stop_trim; "max_tokens must be positive");
 * - OpenAI: its API reference for legacy completions (unknown parameters refused with 400 "Unrecognized request
 *   argument supplied"; the stop sequence is never in the text; no top_k / min_p).
 * The fake model continues every prompt with the tokens "x" "+" "y" "\n" "z" (log-probs -0.5, -0.25, -0.125, -1,
 * -2), one token per character of the prompt plus BOS; echoed prompt tokens have log-prob -1 each. Every expected
 * number below is counted by hand from that. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "run.h"
#include "sys2.h"
#include "testutil.h"

/* ---- the fake server ---- */

typedef struct fake fake;
typedef void (*fake_post_fn)(fake *f, int c, json_t *body);

typedef struct server_row {
    const char *name;
    const char *owned_by;     /* GET /v1/models data[0].owned_by; NULL: /v1/models is 404 */
    const char *probe;        /* a GET path answered 200 with {probe_key: ...} (e.g. "/props"), or NULL */
    const char *probe_key;
    fake_post_fn post;
    fake_post_fn tokenize;    /* POST /tokenize; NULL: 404, as a server without the endpoint */
} server_row;

struct fake {
    int fd, port;
    pthread_t th;
    volatile int stop;
    const server_row *row;
    pthread_mutex_t mu;
    int gets, posts;          /* requests seen */
    char auth[128];
    char body[8192];          /* the last POST body */
    char prev[4096];          /* the last prompt: the fake's one-slot prompt cache */
    int stall_ms;             /* FAKE stall: wait this long before answering */
};

static void send_all(int c, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = send(c, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void reply(int c, int code, const char *ctype, const char *body, long claimed) {
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n", code,
                      ctype, claimed >= 0 ? claimed : (long)strlen(body));
    send_all(c, head, (size_t)hn);
    send_all(c, body, strlen(body));
}

static void reply_json(int c, int code, json_t *j) { /* steals j */
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    reply(c, code, "application/json", s ? s : "{}", -1);
    free(s);
}

static void reply_error(int c, int code, const char *msg) {
    reply_json(c, code, json_pack("{s:{s:i,s:s,s:s}}", "error", "code", code, "message", msg, "type", "server_error"));
}

static void *fake_main(void *arg) {
    fake *f = arg;
    while (!f->stop) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0) continue;
        static char req[65536];
        size_t n = 0;
        ssize_t r;
        char *end = NULL;
        long clen = 0;
        while (n < sizeof req - 1 && (r = recv(c, req + n, sizeof req - 1 - n, 0)) > 0) {
            n += (size_t)r;
            req[n] = '\0';
            if (end == NULL && (end = strstr(req, "\r\n\r\n")) != NULL) {
                char *cl = strcasestr(req, "Content-Length:");
                clen = cl ? strtol(cl + 15, NULL, 10) : 0;
                char *au = strcasestr(req, "Authorization: ");
                if (au) sscanf(au + 15, "%127[^\r]", f->auth);
            }
            if (end != NULL && n >= (size_t)(end + 4 - req) + (size_t)clen) break;
        }
        if (end == NULL) {
            close(c);
            continue;
        }
        char method[8] = {0}, path[256] = {0};
        sscanf(req, "%7s %255s", method, path);
        pthread_mutex_lock(&f->mu);
        if (strcmp(method, "POST") == 0) {
            f->posts++;
            snprintf(f->body, sizeof f->body, "%s", end + 4);
        } else {
            f->gets++;
        }
        pthread_mutex_unlock(&f->mu);
        if (f->stall_ms > 0) {
            struct timespec ts = {.tv_sec = f->stall_ms / 1000, .tv_nsec = (long)(f->stall_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        if (strcmp(method, "GET") == 0 && strcmp(path, "/v1/models") == 0 && f->row->owned_by != NULL) {
            reply_json(c, 200, json_pack("{s:s,s:[{s:s,s:s,s:i,s:s}]}", "object", "list", "data", "id", "m1", "object",
                                         "model", "created", 1, "owned_by", f->row->owned_by));
        } else if (strcmp(method, "GET") == 0 && f->row->probe != NULL && strcmp(path, f->row->probe) == 0) {
            reply_json(c, 200, json_pack("{s:s}", f->row->probe_key, "x"));
        } else if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/completions") == 0) {
            json_t *b = json_loads(end + 4, 0, NULL);
            f->row->post(f, c, b);
            json_decref(b);
        } else if (strcmp(method, "POST") == 0 && strcmp(path, "/tokenize") == 0 && f->row->tokenize != NULL) {
            json_t *b = json_loads(end + 4, 0, NULL);
            f->row->tokenize(f, c, b);
            json_decref(b);
        } else {
            reply_error(c, 404, "File Not Found");
        }
        close(c);
    }
    return NULL;
}

static void fake_start(fake *f, const server_row *row) {
    memset(f, 0, sizeof *f);
    f->row = row;
    pthread_mutex_init(&f->mu, NULL);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(f->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(f->fd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(f->fd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); /* accept wakes up to see stop */
    pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(fake *f) {
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->fd);
    pthread_mutex_destroy(&f->mu);
}

static s2_lm *fake_lm(fake *f, const char *server) {
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", f->port);
    s2_lm_open_params p = s2_lm_open_default_params();
    p.server = server;
    s2_lm *lm = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_lm_open(url, &p, &lm, &err) == S2_OK, "%s", err.msg);
    s2_lm_http_set_retries(lm, 4, 5);
    return lm;
}

/* ---- the fake model ---- */

static const char *const TOK[5] = {"x", "+", "y", "\n", "z"};
static const double LP[5] = {-0.5, -0.25, -0.125, -1.0, -2.0};

typedef struct gen {
    int n;                    /* tokens generated */
    int stop_at;              /* index of the token that completed a stop string, or -1 */
    const char *stop;         /* that stop string */
} gen;

/* What the fake model generates for a request: up to max_tokens of TOK, ending at a stop string of the request. */
static gen generate(json_t *b) {
    gen g = {.n = 0, .stop_at = -1, .stop = NULL};
    json_int_t max = json_integer_value(json_object_get(b, "max_tokens"));
    if (json_object_get(b, "max_tokens") == NULL) max = 16;
    json_t *stops = json_object_get(b, "stop");
    char text[16] = {0};
    for (int i = 0; i < 5 && i < max; i++) {
        strcat(text, TOK[i]);
        g.n = i + 1;
        size_t k;
        json_t *s;
        json_array_foreach(stops, k, s) {
            const char *ss = json_string_value(s);
            if (ss && strstr(text, ss) != NULL) {
                g.stop_at = i;
                g.stop = ss;
                return g;
            }
        }
    }
    return g;
}

static json_int_t prompt_tokens(json_t *b) { return (json_int_t)json_string_length(json_object_get(b, "prompt")) + 1; }

/* Tokens of this prompt the one-slot cache holds (the common prefix with the last request's prompt and generated
 * tokens, BOS included); the slot then holds this one's. */
static json_int_t cached_of(fake *f, json_t *b, const gen *g) {
    const char *p = json_string_value(json_object_get(b, "prompt"));
    size_t l = 0;
    while (p && p[l] && f->prev[l] == p[l]) l++;
    snprintf(f->prev, sizeof f->prev, "%s", p ? p : "");
    for (int i = 0; i < g->n; i++) strncat(f->prev, TOK[i], sizeof f->prev - strlen(f->prev) - 1);
    return l > 0 ? (json_int_t)l + 1 : 0;
}

static bool has_all_sampling(json_t *b) {
    return json_object_get(b, "temperature") && json_object_get(b, "top_p") && json_object_get(b, "top_k") &&
           json_object_get(b, "min_p");
}

/* The legacy completions log-probs (vLLM, SGLang, OpenAI): generated tokens from..n, after the echoed prompt. */
static json_t *legacy_logprobs(json_t *b, const gen *g, int from, bool echo) {
    json_t *toks = json_array(), *tlp = json_array(), *off = json_array(), *tops = json_array();
    const char *p = json_string_value(json_object_get(b, "prompt"));
    size_t pl = p ? strlen(p) : 0;
    if (echo) {
        json_array_append_new(toks, json_string("<s>"));
        json_array_append_new(tlp, json_null());
        json_array_append_new(off, json_integer(0));
        json_array_append_new(tops, json_null());
        for (size_t i = 0; i < pl; i++) {
            json_array_append_new(toks, json_stringn(p + i, 1));
            json_array_append_new(tlp, json_real(-1.0));
            json_array_append_new(off, json_integer((json_int_t)i));
            json_array_append_new(tops, json_null());
        }
    }
    size_t at = echo ? pl : 0;
    for (int i = from; i < g->n; i++) {
        json_array_append_new(toks, json_string(TOK[i]));
        json_array_append_new(tlp, json_real(LP[i]));
        json_array_append_new(off, json_integer((json_int_t)at++));
        json_array_append_new(tops, json_pack("{s:f}", TOK[i], LP[i]));
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "tokens", toks, "token_logprobs", tlp, "text_offset", off, "top_logprobs",
                     tops);
}

static char *gen_text(const gen *g, bool keep_stop) {
    static char t[32];
    t[0] = '\0';
    int upto = g->n;
    for (int i = 0; i < upto; i++) strcat(t, TOK[i]);
    if (g->stop && !keep_stop) t[strlen(t) - strlen(g->stop)] = '\0';
    return t;
}

/* ---- llama-server: one row per build ---- */

/* The build issue 18 reports (c392e50): n > 1 is a 500, echo a 500 "Unsupported param: echo". Both builds: the stop
 * word is cut from the text (include_stop_str_in_output is ignored) and its tokens from the log-probs; finish_reason
 * is "stop" for a stop word and for EOS alike; logprobs (n_probs) 0 gives null; top_k / top_p / min_p left out mean
 * 40 / 0.95 / 0.05 (the fake then answers something else); "verbose" adds __verbose with stop_type and
 * stopping_word; usage carries prompt_tokens_details.cached_tokens and timings.cache_n. */
static void llama_post(fake *f, int c, json_t *b) {
    if (prompt_tokens(b) > 64) { /* a 64-token slot; server-context.cpp's message and type */
        char m[160];
        snprintf(m, sizeof m, "request (%lld tokens) exceeds the available context size (64 tokens), try increasing it",
                 (long long)prompt_tokens(b));
        reply_json(c, 400, json_pack("{s:{s:i,s:s,s:s}}", "error", "code", 400, "message", m, "type",
                                     "exceed_context_size_error"));
        return;
    }
    if (json_integer_value(json_object_get(b, "n")) > 1) {
        reply_error(c, 500, "Only one completion choice is allowed");
        return;
    }
    if (json_is_true(json_object_get(b, "echo"))) {
        reply_error(c, 500, "Unsupported param: echo");
        return;
    }
    gen g = generate(b);
    json_int_t P = prompt_tokens(b), cached = cached_of(f, b, &g);
    const char *text = has_all_sampling(b) ? gen_text(&g, false) : "q"; /* another sampler chain, another text */
    json_t *jl = json_object_get(b, "n_probs");
    if (jl == NULL) jl = json_object_get(b, "logprobs");
    json_int_t n_probs = json_integer_value(jl);
    json_t *logprobs = json_null();
    if (n_probs > 0) {
        logprobs = json_array();
        int upto = g.stop_at >= 0 ? g.stop_at : g.n; /* the stop word's tokens are cut */
        for (int i = 0; i < upto; i++)
            json_array_append_new(logprobs, json_pack("{s:i,s:s,s:f,s:[{s:i,s:s,s:f}]}", "id", 10 + i, "token", TOK[i],
                                                      "logprob", LP[i], "top_logprobs", "id", 10 + i, "token", TOK[i],
                                                      "logprob", LP[i]));
        logprobs = json_pack("{s:o}", "content", logprobs);
    }
    bool stopped = g.stop_at >= 0;
    json_t *resp = json_pack("{s:[{s:s,s:i,s:o,s:s}],s:s,s:s,s:{s:I,s:I,s:I,s:{s:I}},s:{s:I,s:I,s:I}}", "choices", "text",
                             text, "index", 0, "logprobs", logprobs, "finish_reason", stopped ? "stop" : "length",
                             "model", "m1", "object", "text_completion", "usage", "completion_tokens", (json_int_t)g.n,
                             "prompt_tokens", P, "total_tokens", P + g.n, "prompt_tokens_details", "cached_tokens",
                             cached, "timings", "cache_n", cached, "prompt_n", P - cached, "predicted_n",
                             (json_int_t)g.n);
    if (json_is_true(json_object_get(b, "verbose")))
        json_object_set_new(resp, "__verbose",
                            json_pack("{s:s,s:s,s:I}", "stop_type", stopped ? "word" : "limit", "stopping_word",
                                      stopped ? g.stop : "", "tokens_cached", P + g.n));
    reply_json(c, 200, resp);
}

/* ---- vLLM ---- */

static void vllm_post(fake *f, int c, json_t *b) {
    (void)f;
    json_int_t max = json_integer_value(json_object_get(b, "max_tokens"));
    bool echo = json_is_true(json_object_get(b, "echo"));
    if (json_object_get(b, "max_tokens") != NULL && max < 1) { /* vllm-project/vllm#9336 */
        reply_json(c, 400, json_pack("{s:s,s:s,s:s,s:i}", "object", "error", "message",
                                     "max_tokens must be at least 1, got 0.", "type", "BadRequestError", "code", 400));
        return;
    }
    json_int_t n = json_object_get(b, "n") ? json_integer_value(json_object_get(b, "n")) : 1;
    gen g = generate(b);
    bool keep = json_is_true(json_object_get(b, "include_stop_str_in_output"));
    json_t *choices = json_array();
    for (json_int_t i = 0; i < n; i++)
        json_array_append_new(choices,
                              json_pack("{s:i,s:s,s:o,s:s,s:o}", "index", (int)i, "text", gen_text(&g, keep), "logprobs",
                                        legacy_logprobs(b, &g, 0, echo), "finish_reason",
                                        g.stop_at >= 0 ? "stop" : "length", "stop_reason",
                                        g.stop ? json_string(g.stop) : json_null()));
    json_int_t P = prompt_tokens(b);
    reply_json(c, 200, json_pack("{s:s,s:o,s:{s:I,s:I,s:I,s:n}}", "object", "text_completion", "choices", choices,
                                 "usage", "prompt_tokens", P, "completion_tokens", n * g.n, "total_tokens", P + n * g.n,
                                 "prompt_tokens_details"));
}

/* ---- SGLang ---- */

static void sglang_post(fake *f, int c, json_t *b) {
    if (json_integer_value(json_object_get(b, "max_tokens")) < 1) {
        reply_json(c, 400, json_pack("{s:s,s:s,s:i}", "object", "error", "message", "max_tokens must be positive",
                                     "code", 400));
        return;
    }
    json_int_t n = json_object_get(b, "n") ? json_integer_value(json_object_get(b, "n")) : 1;
    bool echo = json_is_true(json_object_get(b, "echo"));
    gen g = generate(b);
    bool keep = json_is_true(json_object_get(b, "no_stop_trim"));
    json_t *choices = json_array();
    for (json_int_t i = 0; i < n; i++)
        json_array_append_new(choices, json_pack("{s:i,s:s,s:o,s:s,s:o}", "index", (int)i, "text", gen_text(&g, keep),
                                                 "logprobs", legacy_logprobs(b, &g, 0, echo), "finish_reason",
                                                 g.stop_at >= 0 ? "stop" : "length", "matched_stop",
                                                 g.stop ? json_string(g.stop) : json_null()));
    json_int_t P = prompt_tokens(b), cached = cached_of(f, b, &g);
    reply_json(c, 200, json_pack("{s:s,s:o,s:{s:I,s:I,s:I,s:{s:I}}}", "object", "text_completion", "choices", choices,
                                 "usage", "prompt_tokens", P, "completion_tokens", n * g.n, "total_tokens", P + n * g.n,
                                 "prompt_tokens_details", "cached_tokens", cached));
}

/* ---- OpenAI ---- */

static void openai_post(fake *f, int c, json_t *b) {
    (void)f;
    static const char *const unknown[] = {"top_k", "min_p", "include_stop_str_in_output", "repetition_penalty",
                                          "no_stop_trim", "verbose"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        if (json_object_get(b, unknown[i])) {
            char m[128];
            snprintf(m, sizeof m, "Unrecognized request argument supplied: %s", unknown[i]);
            reply_json(c, 400, json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message", m, "type",
                                         "invalid_request_error", "param", "code"));
            return;
        }
    gen g = generate(b);
    json_int_t P = prompt_tokens(b);
    reply_json(c, 200, json_pack("{s:s,s:[{s:i,s:s,s:o,s:s}],s:{s:I,s:I,s:I}}", "object", "text_completion", "choices",
                                 "index", 0, "text", gen_text(&g, false), "logprobs", legacy_logprobs(b, &g, 0, false),
                                 "finish_reason", g.stop_at >= 0 ? "stop" : "length", "usage", "prompt_tokens", P,
                                 "completion_tokens", (json_int_t)g.n, "total_tokens", P + g.n));
}

/* ---- servers that misbehave ---- */

static void unsupported_echo_post(fake *f, int c, json_t *b) { /* a vLLM-like server without prompt log-probs */
    if (json_is_true(json_object_get(b, "echo"))) reply_error(c, 500, "Unsupported param: echo");
    else vllm_post(f, c, b);
}
static void status_400_post(fake *f, int c, json_t *b) { (void)f, (void)b, reply_error(c, 400, "bad"); }
static void status_408_post(fake *f, int c, json_t *b) { (void)f, (void)b, reply_error(c, 408, "request timeout"); }
static void no_logprobs_post(fake *f, int c, json_t *b) { /* answers without the log-probs it was asked for */
    (void)f;
    gen g = generate(b);
    reply_json(c, 200, json_pack("{s:[{s:i,s:s,s:n,s:s,s:o}],s:{s:I,s:I}}", "choices", "index", 0, "text",
                                 gen_text(&g, true), "logprobs", "finish_reason", "length", "stop_reason", json_null(),
                                 "usage", "prompt_tokens", prompt_tokens(b), "completion_tokens", (json_int_t)g.n));
}
static void no_usage_post(fake *f, int c, json_t *b) {
    (void)f;
    gen g = generate(b);
    reply_json(c, 200, json_pack("{s:[{s:i,s:s,s:o,s:s,s:n}]}", "choices", "index", 0, "text", gen_text(&g, true),
                                 "logprobs", legacy_logprobs(b, &g, 0, false), "finish_reason", "length",
                                 "stop_reason"));
}
static void no_finish_post(fake *f, int c, json_t *b) {
    (void)f;
    gen g = generate(b);
    reply_json(c, 200, json_pack("{s:[{s:i,s:s,s:o}],s:{s:I,s:I}}", "choices", "index", 0, "text", gen_text(&g, true),
                                 "logprobs", legacy_logprobs(b, &g, 0, false), "usage", "prompt_tokens",
                                 prompt_tokens(b), "completion_tokens", (json_int_t)g.n));
}
static void llama_no_verbose_post(fake *f, int c, json_t *b) { /* a llama-server that ignores "verbose" */
    json_object_del(b, "verbose");
    llama_post(f, c, b);
}

static void raw_post(fake *f, int c, json_t *b) { /* faults below the JSON: f->row->name says which */
    (void)b;
    const char *m = f->row->name;
    if (strcmp(m, "malformed") == 0) reply(c, 200, "application/json", "{\"choices\": [{\"text\": \"a\",", -1);
    else if (strcmp(m, "truncated") == 0) reply(c, 200, "application/json", "{\"choices\": [{\"text\": \"a\"}]", 500);
    else if (strcmp(m, "html") == 0) reply(c, 200, "text/html", "<html>hello</html>", -1);
    else reply_error(c, 500, "boom");
}
static void zero_refused_post(fake *f, int c, json_t *b) { /* an unknown server that refuses max_tokens 0 */
    if (json_integer_value(json_object_get(b, "max_tokens")) < 1) reply_error(c, 400, "max_tokens must be at least 1");
    else vllm_post(f, c, b);
}

/* ---- tokenize endpoints ----
 * The fake tokenizer: BOS is id 1, "<s>" is id 1 where special tokens are parsed, every other byte b is id b + 3.
 * llama-server's shape (tools/server/README.md "POST /tokenize"): {"content", "add_special" (default false),
 * "parse_special" (default true), "with_pieces"} -> {"tokens": ids, or [{"id", "piece"}] with a piece that is not
 * UTF-8 as the array of its bytes}. vLLM's (vllm/entrypoints/serve/tokenize/protocol.py): {"model", "prompt",
 * "add_special_tokens" (default true)} -> {"count", "max_model_len", "tokens"}, special tokens always parsed. */
static int fake_tokenize(const char *t, bool bos, bool special, int *ids) {
    int n = 0;
    if (bos) ids[n++] = 1;
    for (size_t i = 0; t[i] && n < 250;) {
        if (special && strncmp(t + i, "<s>", 3) == 0) {
            ids[n++] = 1;
            i += 3;
        } else {
            ids[n++] = (unsigned char)t[i++] + 3;
        }
    }
    return n;
}
static bool jbool(json_t *b, const char *k, bool dflt) {
    json_t *x = json_object_get(b, k);
    return x ? json_is_true(x) : dflt;
}
static void llama_tokenize_post(fake *f, int c, json_t *b) {
    (void)f;
    int ids[256];
    int n = fake_tokenize(json_string_value(json_object_get(b, "content")), jbool(b, "add_special", false),
                          jbool(b, "parse_special", true), ids);
    json_t *toks = json_array();
    for (int i = 0; i < n; i++) {
        if (!jbool(b, "with_pieces", false)) {
            json_array_append_new(toks, json_integer(ids[i]));
            continue;
        }
        char ch = (char)(ids[i] - 3);
        json_t *piece = ids[i] == 1 ? json_string("<s>") : (unsigned char)ch < 0x80 ? json_stringn(&ch, 1)
                                                                                 : json_pack("[i]", (unsigned char)ch);
        json_array_append_new(toks, json_pack("{s:i,s:o}", "id", ids[i], "piece", piece));
    }
    reply_json(c, 200, json_pack("{s:o}", "tokens", toks));
}
static void vllm_tokenize_post(fake *f, int c, json_t *b) {
    (void)f;
    int ids[256];
    int n = fake_tokenize(json_string_value(json_object_get(b, "prompt")), jbool(b, "add_special_tokens", true), true, ids);
    json_t *toks = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(toks, json_integer(ids[i]));
    reply_json(c, 200, json_pack("{s:i,s:i,s:o}", "count", n, "max_model_len", 64, "tokens", toks));
}
static void vllm_bad_count_post(fake *f, int c, json_t *b) { /* a count that is not the tokens' */
    (void)f, (void)b;
    reply_json(c, 200, json_pack("{s:i,s:i,s:[i,i]}", "count", 3, "max_model_len", 64, "tokens", 1, 2));
}

/* vLLM's echo with top log-probs for a prompt of token ids, asked with return_tokens_as_token_ids: each prompt
 * token's row {"token_id:<it>": -1, "token_id:7": -2} (the first null), then the one generated token's row
 * {"token_id:9": -0.5, "token_id:7": -1.5}. Other requests as vllm_post. */
static void vllm_echo_top_post(fake *f, int c, json_t *b) {
    json_t *prompt = json_object_get(b, "prompt");
    if (!json_is_array(prompt) || !json_is_true(json_object_get(b, "echo"))) {
        vllm_post(f, c, b);
        return;
    }
    bool as_ids = json_is_true(json_object_get(b, "return_tokens_as_token_ids"));
    json_t *toks = json_array(), *tlp = json_array(), *tops = json_array();
    size_t i;
    json_t *e;
    char key[32], other[32];
    snprintf(other, sizeof other, "%s", as_ids ? "token_id:7" : "q");
    json_array_foreach(prompt, i, e) {
        snprintf(key, sizeof key, as_ids ? "token_id:%lld" : "t%lld", (long long)json_integer_value(e));
        json_array_append_new(toks, json_string(key));
        json_array_append_new(tlp, i == 0 ? json_null() : json_real(-1.0));
        json_array_append_new(tops, i == 0 ? json_null() : json_pack("{s:f,s:f}", key, -1.0, other, -2.0));
    }
    json_array_append_new(toks, json_string(as_ids ? "token_id:9" : "g"));
    json_array_append_new(tlp, json_real(-0.5));
    json_array_append_new(tops, json_pack("{s:f,s:f}", as_ids ? "token_id:9" : "g", -0.5, other, -1.5));
    json_int_t P = (json_int_t)json_array_size(prompt);
    reply_json(c, 200, json_pack("{s:s,s:[{s:i,s:s,s:{s:o,s:o,s:o},s:s,s:n}],s:{s:I,s:I,s:I}}", "object",
                                 "text_completion", "choices", "index", 0, "text", "g", "logprobs", "tokens", toks,
                                 "token_logprobs", tlp, "top_logprobs", tops, "finish_reason", "length", "stop_reason",
                                 "usage", "prompt_tokens", P, "completion_tokens", (json_int_t)1, "total_tokens", P + 1));
}

static const server_row LLAMA = {"llama-server", "llamacpp", "/props", "default_generation_settings", llama_post,
                                 llama_tokenize_post};
static const server_row LLAMA_NO_TOKENIZE = {"llama-server without /tokenize", "llamacpp", NULL, NULL, llama_post, NULL};
static const server_row VLLM_TOK = {"vLLM", "vllm", NULL, NULL, vllm_echo_top_post, vllm_tokenize_post};
static const server_row VLLM_BAD_COUNT = {"vLLM bad count", "vllm", NULL, NULL, vllm_post, vllm_bad_count_post};
static const server_row LLAMA_NO_MODELS = {"llama-server (no owned_by)", NULL, "/props", "default_generation_settings",
                                           llama_post, NULL};
static const server_row VLLM = {"vLLM", "vllm", "/version", "version", vllm_post, NULL};
static const server_row SGLANG = {"SGLang", "sglang", "/get_server_info", "version", sglang_post, NULL};
static const server_row OPENAI = {"OpenAI", "system", NULL, NULL, openai_post, NULL};
static const server_row ACME_NO_ECHO = {"acme", "acme", NULL, NULL, unsupported_echo_post, NULL};
static const server_row ACME_400 = {"acme 400", "acme", NULL, NULL, status_400_post, NULL};
static const server_row ACME_408 = {"acme 408", "acme", NULL, NULL, status_408_post, NULL};
static const server_row NO_LOGPROBS = {"no logprobs", "vllm", NULL, NULL, no_logprobs_post, NULL};
static const server_row NO_USAGE = {"no usage", "vllm", NULL, NULL, no_usage_post, NULL};
static const server_row NO_FINISH = {"no finish", "vllm", NULL, NULL, no_finish_post, NULL};
static const server_row RAW_MALFORMED = {"malformed", NULL, NULL, NULL, raw_post, NULL};
static const server_row RAW_TRUNCATED = {"truncated", NULL, NULL, NULL, raw_post, NULL};
static const server_row RAW_HTML = {"html", NULL, NULL, NULL, raw_post, NULL};
static const server_row RAW_500 = {"500", NULL, NULL, NULL, raw_post, NULL};
static const server_row ACME_ZERO = {"acme zero", "acme", NULL, NULL, zero_refused_post, NULL};
static const server_row LLAMA_NO_VERBOSE = {"llama no verbose", "llamacpp", NULL, NULL, llama_no_verbose_post, NULL};

#define OK(call)                                                  \
    do {                                                          \
        s2_error e_ = {0};                                        \
        s2_error *err_ = &e_;                                     \
        (void)err_;                                               \
        s2_status st_ = (call);                                   \
        ck_assert_msg(st_ == S2_OK, "%s: %s", #call, e_.msg);     \
    } while (0)

static s2_lm_sample_params step_params(void) { /* as a search samples one step: stop at the newline */
    static const char *const nl[] = {"\n"};
    s2_lm_sample_params p = s2_lm_sample_default_params();
    p.max_tokens = 16;
    p.stops = nl;
    p.n_stops = 1;
    p.seed = 1;
    return p;
}

/* ---- the profile is found out before the first call ---- */

START_TEST(test_http_servers_profile_detected)
{
    static const struct { const server_row *row; const char *name; bool echo; } cases[] = {
        {&LLAMA, "llama-server", false},  {&LLAMA_NO_MODELS, "llama-server", false}, {&VLLM, "vLLM", true},
        {&SGLANG, "SGLang", true},        {&OPENAI, "OpenAI", true},                  {&ACME_400, "an unknown server", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake f;
        fake_start(&f, cases[i].row);
        s2_lm *lm = fake_lm(&f, NULL);
        s2_lm_caps caps;
        OK(s2_lm_caps_get(lm, &caps, err_));
        ck_assert_msg(strcmp(caps.server, cases[i].name) == 0, "%s: detected as %s", cases[i].row->name, caps.server);
        ck_assert_int_eq(caps.prompt_logprobs, cases[i].echo);
        ck_assert_int_eq(f.posts, 0); /* found out with GETs only */
        s2_lm_free(lm);
        fake_stop(&f);
    }
    /* --server overrides what the server says; an unknown kind is refused at open */
    fake f;
    fake_start(&f, &VLLM);
    s2_lm *lm = fake_lm(&f, "llama");
    s2_lm_caps caps;
    OK(s2_lm_caps_get(lm, &caps, err_));
    ck_assert_str_eq(caps.server, "llama-server");
    s2_lm_free(lm);
    s2_lm_open_params p = s2_lm_open_default_params();
    p.server = "tgi";
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_open("http://127.0.0.1:1/v1", &p, &lm, &err), S2_E_ARG);
    ck_assert_ptr_null(lm);
    ck_assert_msg(strstr(err.msg, "'tgi'") != NULL, "%s", err.msg);
    fake_stop(&f);
}
END_TEST

/* ---- llama-server: every defect issue 18 lists ---- */

START_TEST(test_http_servers_llama_chains)
{
    /* n > 1 is one request per chain from the start (no refused request first), the stop word is put back, the
     * log-probs are asked with logprobs >= 1 and read, every sampling parameter is sent */
    fake f;
    fake_start(&f, &LLAMA);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_seq root, kids[3];
    s2_lm_gen g[3];
    s2_lm_sample_params p = step_params();
    OK(s2_lm_seq_new(lm, "ab", &root, err_));
    OK(s2_lm_sample_n(lm, root, 3, &p, kids, g, err_));
    ck_assert_int_eq(f.posts, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(g[i].text, "x+y\n");
        ck_assert_str_eq(g[i].finish, "stop");
        ck_assert_int_eq(g[i].n_tokens, 3); /* llama-server cuts the stop word's token from the log-probs */
        ck_assert_double_eq_tol(g[i].logprob, -0.875, 1e-9);
        ck_assert_int_eq(g[i].tokens[0], 10); /* its token ids come along */
        s2_lm_gen_free(&g[i]);
    }
    json_t *b = json_loads(f.body, 0, NULL);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "n")), 1);
    ck_assert_int_ge(json_integer_value(json_object_get(b, "logprobs")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "top_k")), 0);
    ck_assert_double_eq(json_real_value(json_object_get(b, "top_p")), 1.0);
    ck_assert_double_eq(json_real_value(json_object_get(b, "min_p")), 0.0);
    ck_assert_double_eq(json_real_value(json_object_get(b, "repeat_penalty")), 1.0);
    ck_assert(json_is_true(json_object_get(b, "verbose")));
    json_decref(b);
    /* the step's text is the sequence's now: the next request continues it */
    OK(s2_lm_sample(lm, &kids[0], 1, &p, g, err_));
    ck_assert_str_eq(g[0].text, "x+y\n");
    b = json_loads(f.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(b, "prompt")), "abx+y\n");
    json_decref(b);
    s2_lm_gen_free(&g[0]);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

START_TEST(test_http_servers_llama_no_echo)
{
    /* llama-server has no prompt log-probs: scoring is refused before any request, naming the server and why */
    fake f;
    fake_start(&f, &LLAMA);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_seq s;
    OK(s2_lm_seq_new(lm, "ab", &s, err_));
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_score(lm, s, "c", NULL, 0, NULL, NULL, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "llama-server") && strstr(err.msg, "echo"), "%s", err.msg);
    double out[2];
    const char *labels[] = {"sure", "impossible"};
    ck_assert_int_eq(s2_lm_score_labels(lm, s, labels, 2, out, &err), S2_E_UNSUPPORTED);
    ck_assert_int_eq(f.posts, 0);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

START_TEST(test_http_servers_llama_context)
{
    /* a prompt past llama-server's slot is a context overflow, as the local engine says it (S2_E_BUDGET) */
    fake f;
    fake_start(&f, &LLAMA);
    s2_lm *lm = fake_lm(&f, NULL);
    char prompt[100];
    memset(prompt, 'a', sizeof prompt - 1);
    prompt[sizeof prompt - 1] = '\0';
    s2_lm_seq s;
    s2_lm_gen g;
    s2_lm_sample_params p = step_params();
    OK(s2_lm_seq_new(lm, prompt, &s, err_));
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_sample(lm, &s, 1, &p, &g, &err), S2_E_BUDGET);
    ck_assert_msg(strstr(err.msg, "exceeds the available context size") != NULL, "%s", err.msg);
    ck_assert_int_eq(f.posts, 1);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

START_TEST(test_http_servers_llama_stop_reason_required)
{
    /* a llama-server that does not say which stop ended a choice: an error naming the field, never a guess */
    fake f;
    fake_start(&f, &LLAMA_NO_VERBOSE);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_seq s;
    s2_lm_gen g;
    s2_lm_sample_params p = step_params();
    OK(s2_lm_seq_new(lm, "ab", &s, err_));
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_sample(lm, &s, 1, &p, &g, &err), S2_E_NET);
    ck_assert_msg(strstr(err.msg, "__verbose.stop_type") != NULL, "%s", err.msg);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

/* ---- vLLM, SGLang, OpenAI ---- */

START_TEST(test_http_servers_vllm_sglang)
{
    const server_row *rows[2] = {&VLLM, &SGLANG};
    for (int r = 0; r < 2; r++) {
        fake f;
        fake_start(&f, rows[r]);
        s2_lm *lm = fake_lm(&f, NULL);
        s2_lm_seq root, kids[3];
        s2_lm_gen g[3];
        s2_lm_sample_params p = step_params();
        OK(s2_lm_seq_new(lm, "ab", &root, err_));
        OK(s2_lm_sample_n(lm, root, 3, &p, kids, g, err_));
        ck_assert_int_eq(f.posts, 1); /* n = 3 in one request */
        for (int i = 0; i < 3; i++) {
            ck_assert_str_eq(g[i].text, "x+y\n"); /* kept by include_stop_str_in_output / no_stop_trim */
            ck_assert_str_eq(g[i].finish, "stop");
            ck_assert_int_eq(g[i].n_tokens, 4);
            ck_assert_double_eq_tol(g[i].logprob, -1.875, 1e-9);
            s2_lm_gen_free(&g[i]);
        }
        json_t *b = json_loads(f.body, 0, NULL);
        ck_assert_int_eq(json_integer_value(json_object_get(b, "top_k")), -1); /* "off" as these servers spell it */
        json_decref(b);
        /* scoring: echo + logprobs, with max_tokens 1 from the start (both refuse 0) */
        double sum = 0;
        int32_t n = 0;
        OK(s2_lm_score(lm, root, "cd", NULL, 0, &n, &sum, err_));
        ck_assert_int_eq(n, 2);
        ck_assert_double_eq_tol(sum, -2.0, 1e-9);
        ck_assert_int_eq(f.posts, 2);
        s2_lm_free(lm);
        fake_stop(&f);
    }
}
END_TEST

START_TEST(test_http_servers_openai)
{
    /* parameters OpenAI does not have are not sent; a non-neutral top_k is refused before any request; the stop
     * sequence, never in OpenAI's text, is put back from the request */
    fake f;
    fake_start(&f, &OPENAI);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_seq s;
    s2_lm_gen g;
    s2_lm_sample_params p = step_params();
    OK(s2_lm_seq_new(lm, "ab", &s, err_));
    OK(s2_lm_sample(lm, &s, 1, &p, &g, err_));
    ck_assert_str_eq(g.text, "x+y\n");
    ck_assert_str_eq(g.finish, "stop");
    s2_lm_gen_free(&g);
    p.sample.top_k = 5;
    s2_error err = {0};
    int before = f.posts;
    ck_assert_int_eq(s2_lm_sample(lm, &s, 1, &p, &g, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "top_k") != NULL, "%s", err.msg);
    ck_assert_int_eq(f.posts, before);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

/* ---- nothing silent ---- */

START_TEST(test_http_servers_missing_fields)
{
    static const struct { const server_row *row; const char *field; } cases[] = {
        {&NO_LOGPROBS, "logprobs"}, {&NO_USAGE, "usage"}, {&NO_FINISH, "finish_reason"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake f;
        fake_start(&f, cases[i].row);
        s2_lm *lm = fake_lm(&f, NULL);
        s2_lm_seq s;
        s2_lm_gen g;
        s2_lm_sample_params p = step_params();
        OK(s2_lm_seq_new(lm, "ab", &s, err_));
        s2_error err = {0};
        ck_assert_int_eq(s2_lm_sample(lm, &s, 1, &p, &g, &err), S2_E_NET);
        ck_assert_msg(strstr(err.msg, cases[i].field) != NULL, "%s: %s", cases[i].row->name, err.msg);
        s2_lm_free(lm);
        fake_stop(&f);
    }
}
END_TEST

/* ---- retries and timeouts ---- */

START_TEST(test_http_servers_retries)
{
    s2_error err = {0};
    /* a refusal naming an unsupported parameter: one request, S2_E_UNSUPPORTED, whatever the status (500 here) */
    fake f;
    fake_start(&f, &ACME_NO_ECHO);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_seq s;
    OK(s2_lm_seq_new(lm, "ab", &s, err_));
    ck_assert_int_eq(s2_lm_score(lm, s, "c", NULL, 0, NULL, NULL, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "Unsupported param: echo") && strstr(err.msg, "not retried"), "%s", err.msg);
    ck_assert_int_eq(f.posts, 1);
    s2_lm_free(lm);
    fake_stop(&f);
    /* a 400 is never retried; a 408 is */
    const server_row *rows[2] = {&ACME_400, &ACME_408};
    int want[2] = {1, 4};
    for (int r = 0; r < 2; r++) {
        fake_start(&f, rows[r]);
        lm = fake_lm(&f, NULL);
        s2_lm_gen g;
        s2_lm_sample_params p = step_params();
        OK(s2_lm_seq_new(lm, "ab", &s, err_));
        ck_assert_int_ne(s2_lm_sample(lm, &s, 1, &p, &g, &err), S2_OK);
        ck_assert_int_eq(f.posts, want[r]);
        s2_lm_free(lm);
        fake_stop(&f);
    }
    /* a stalled server fails at the timeout, once: a timeout is not retried */
    fake_start(&f, &VLLM);
    f.stall_ms = 1500;
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", f.port);
    s2_lm_open_params op = s2_lm_open_default_params();
    ck_assert(op.timeout_s > 0 && op.timeout_s <= 25); /* defaults fail a dead server within 30 s */
    op.timeout_s = 0.5;
    op.model_name = "m1";
    op.server = "vllm";
    OK(s2_lm_open(url, &op, &lm, err_));
    OK(s2_lm_seq_new(lm, "ab", &s, err_));
    s2_lm_gen g;
    s2_lm_sample_params p = step_params();
    ck_assert_int_eq(s2_lm_sample(lm, &s, 1, &p, &g, &err), S2_E_NET);
    ck_assert_msg(strstr(err.msg, "no answer within 0.5 s") != NULL, "%s", err.msg);
    ck_assert_int_eq(f.posts, 1);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

START_TEST(test_http_servers_faults)
{
    /* below the JSON: malformed, a body shorter than its Content-Length (a dropped connection: retried), not JSON,
     * HTTP 500 (retried); each a clear error */
    static const struct { const server_row *row; s2_status st; const char *says; int posts; } cases[] = {
        {&RAW_MALFORMED, S2_E_NET, "malformed JSON", 1},
        {&RAW_TRUNCATED, S2_E_NET, "after 4 tries", 4},
        {&RAW_HTML, S2_E_NET, "content type is 'text/html'", 1},
        {&RAW_500, S2_E_NET, "HTTP 500 after 4 tries: boom", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake f;
        fake_start(&f, cases[i].row);
        s2_lm *lm = fake_lm(&f, NULL);
        s2_lm_seq s;
        s2_lm_gen g;
        s2_lm_sample_params p = step_params();
        OK(s2_lm_seq_new(lm, "ab", &s, err_));
        s2_error err = {0};
        ck_assert_int_eq(s2_lm_sample(lm, &s, 1, &p, &g, &err), cases[i].st);
        ck_assert_msg(strstr(err.msg, cases[i].says) != NULL, "%s: %s", cases[i].row->name, err.msg);
        ck_assert_int_eq(f.posts, cases[i].posts);
        s2_lm_free(lm);
        fake_stop(&f);
    }
    /* an unknown server that refuses max_tokens 0 for scoring gets 1 the second time, and from then on */
    fake f;
    fake_start(&f, &ACME_ZERO);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_seq s;
    OK(s2_lm_seq_new(lm, "a", &s, err_));
    double sum = 0;
    OK(s2_lm_score(lm, s, "b", NULL, 0, NULL, &sum, err_));
    ck_assert_double_eq_tol(sum, -1.0, 1e-9); /* "b" after "a": one echoed token past the prefix */
    OK(s2_lm_score(lm, s, "b", NULL, 0, NULL, &sum, err_));
    ck_assert_int_eq(f.posts, 3);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

START_TEST(test_http_servers_api_key_and_refused)
{
    setenv("SYS2_API_KEY", "sk-test-123", 1);
    fake f;
    fake_start(&f, &VLLM);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_seq s;
    s2_lm_gen g;
    s2_lm_sample_params p = step_params();
    OK(s2_lm_seq_new(lm, "a", &s, err_));
    OK(s2_lm_sample(lm, &s, 1, &p, &g, err_));
    s2_lm_gen_free(&g);
    s2_lm_free(lm);
    fake_stop(&f);
    unsetenv("SYS2_API_KEY");
    ck_assert_str_eq(f.auth, "Bearer sk-test-123");
    ck_assert_msg(strstr(f.body, "\"model\":\"m1\"") != NULL, "%s", f.body); /* the name GET /v1/models gave */
    /* nothing listens: connection refused, retried, then a clear error */
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", f.port);
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_open(url, NULL, &lm, &err), S2_OK);
    s2_lm_http_set_retries(lm, 3, 5);
    ck_assert_int_eq(s2_lm_seq_new(lm, "a", &s, &err), S2_OK);
    ck_assert_int_eq(s2_lm_sample(lm, &s, 1, &p, &g, &err), S2_E_NET);
    ck_assert_msg(strstr(err.msg, "after 3 tries") != NULL, "%s", err.msg);
    s2_counters c;
    s2_lm_counters(lm, &c);
    ck_assert_int_eq(c.requests, 4); /* the GET /models try, then 3 */
    s2_lm_free(lm);
}
END_TEST

/* ---- accounting ---- */

START_TEST(test_http_servers_counts)
{
    /* Both count the tokens already sent on the sequence as cached, as the local engine keeps them in its KV cache.
     * Reported: SGLang's cached_tokens (the fake's one-slot cache: the common prefix with the last prompt) beyond
     * those go to server_cached_tokens. vLLM without --enable-prompt-tokens-details reports none (estimated). The
     * same calls, counted by hand. llama-server cuts the stop word's token from the log-probs but counts it in
     * completion_tokens, and holds it: the next prompt's 9 already-sent tokens include it. */
    const server_row *rows[3] = {&SGLANG, &VLLM, &LLAMA};
    for (int r = 0; r < 3; r++) {
        fake f;
        fake_start(&f, rows[r]);
        s2_lm *lm = fake_lm(&f, NULL);
        s2_lm_seq root, kid;
        s2_lm_gen g;
        s2_lm_sample_params p = step_params();
        OK(s2_lm_seq_new(lm, "abcd", &root, err_));
        OK(s2_lm_sample_n(lm, root, 1, &p, &kid, &g, err_)); /* prompt "abcd": 5 tokens, none cached; 4 generated */
        s2_lm_gen_free(&g);
        OK(s2_lm_append(lm, kid, "ef", err_));
        OK(s2_lm_sample(lm, &kid, 1, &p, &g, err_)); /* "abcdx+y\nef": 11 tokens, 9 already sent: 2 computed */
        s2_lm_gen_free(&g);
        s2_counters c;
        s2_lm_counters(lm, &c);
        ck_assert_int_eq(c.prompt_tokens, 5 + 2);
        ck_assert_int_eq(c.cached_tokens, 9);
        ck_assert_int_eq(c.gen_tokens, 8);
        ck_assert_int_eq(c.server_cached_tokens, 0);
        /* another item's sequence: the server's slot still holds "abc" (+ BOS) from the last one and reports those
         * 4 as cached; the search had sent nothing on it, so all 5 count as computed, as in a fresh local context,
         * and the 4 are the server's saving (reported ones only) */
        s2_lm_seq other, okid;
        OK(s2_lm_seq_new(lm, "abcq", &other, err_));
        OK(s2_lm_sample_n(lm, other, 1, &p, &okid, &g, err_));
        s2_lm_gen_free(&g);
        s2_lm_counters(lm, &c);
        ck_assert_int_eq(c.prompt_tokens, 5 + 2 + 5);
        ck_assert_int_eq(c.cached_tokens, 9);
        ck_assert_int_eq(c.server_cached_tokens, r != 1 ? 4 : 0);
        s2_lm_caps caps;
        OK(s2_lm_caps_get(lm, &caps, err_));
        ck_assert_int_eq(caps.counts_estimated, r == 1);
        s2_lm_free(lm);
        fake_stop(&f);
    }
    /* one request per chain (llama-server): the chains' shared prompt counts once, as with n > 1 and local forks */
    fake f;
    fake_start(&f, &LLAMA);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_seq root, kids[3];
    s2_lm_gen g[3];
    s2_lm_sample_params p = step_params();
    OK(s2_lm_seq_new(lm, "abcd", &root, err_));
    OK(s2_lm_sample_n(lm, root, 3, &p, kids, g, err_));
    for (int i = 0; i < 3; i++) s2_lm_gen_free(&g[i]);
    s2_counters c;
    s2_lm_counters(lm, &c);
    ck_assert_int_eq(c.prompt_tokens, 5);
    ck_assert_int_eq(c.cached_tokens, 10);
    ck_assert_int_eq(c.gen_tokens, 12);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

/* ---- the server's tokenizer and its log-probs at every prompt position ---- */

START_TEST(test_http_servers_tokenize)
{
    /* llama-server's shape: ids with pieces (a byte that is not UTF-8 comes as [byte]); the flags go as asked */
    fake f;
    fake_start(&f, &LLAMA);
    s2_lm *lm = fake_lm(&f, NULL);
    s2_lm_tokens t;
    const char *text = "a<s>\xc3\xa9"; /* "a<s>e-acute": its two bytes are two tokens, their pieces not UTF-8 */
    OK(s2_lm_tokenize(lm, text, strlen(text), true, false, &t, err_));
    static const int32_t plain[] = {1, 'a' + 3, '<' + 3, 's' + 3, '>' + 3, 0xc3 + 3, 0xa9 + 3};
    ck_assert_int_eq(t.n, 7);
    for (int i = 0; i < 7; i++) ck_assert_int_eq(t.ids[i], plain[i]);
    ck_assert_ptr_nonnull(t.bytes);
    ck_assert_int_eq(t.piece_off[5], 7); /* "<s>" "a" "<" "s" ">" then the bytes C3, A9 */
    ck_assert_int_eq(t.piece_off[7], 9);
    ck_assert(memcmp(t.bytes, "<s>a<s>\xc3\xa9", 9) == 0);
    json_t *b = json_loads(f.body, 0, NULL);
    ck_assert(json_is_true(json_object_get(b, "add_special")) && json_is_false(json_object_get(b, "parse_special")) &&
              json_is_true(json_object_get(b, "with_pieces")));
    ck_assert(memcmp(json_string_value(json_object_get(b, "content")), "a<s>", 4) == 0);
    json_decref(b);
    s2_lm_tokens_free(&t);
    OK(s2_lm_tokenize(lm, "a<s>", 4, false, true, &t, err_)); /* special tokens parsed, no BOS */
    ck_assert_int_eq(t.n, 2);
    ck_assert_int_eq(t.ids[0], 'a' + 3);
    ck_assert_int_eq(t.ids[1], 1);
    s2_lm_tokens_free(&t);
    s2_error err = {0}; /* text that is not UTF-8 cannot go in a JSON string to llama-server */
    ck_assert_int_eq(s2_lm_tokenize(lm, "a\xff", 2, true, true, &t, &err), S2_E_ARG);
    ck_assert_msg(strstr(err.msg, "not UTF-8"), "%s", err.msg);
    s2_lm_free(lm);
    fake_stop(&f);

    /* vLLM's shape: ids only; its tokenizer always parses special tokens, so asking it not to is refused before any
     * request; a count that is not the tokens' is an error */
    fake_start(&f, &VLLM_TOK);
    lm = fake_lm(&f, NULL);
    ck_assert_int_eq(s2_lm_tokenize(lm, "a<s>", 4, true, false, &t, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "vLLM") && strstr(err.msg, "--special"), "%s", err.msg);
    ck_assert_int_eq(f.posts, 0);
    OK(s2_lm_tokenize(lm, "a<s>", 4, true, true, &t, err_));
    ck_assert_int_eq(t.n, 3);
    ck_assert_int_eq(t.ids[0], 1);
    ck_assert_int_eq(t.ids[1], 'a' + 3);
    ck_assert_int_eq(t.ids[2], 1);
    ck_assert_ptr_null(t.bytes);
    b = json_loads(f.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(b, "prompt")), "a<s>");
    ck_assert_str_eq(json_string_value(json_object_get(b, "model")), "m1");
    ck_assert(json_is_true(json_object_get(b, "add_special_tokens")));
    json_decref(b);
    s2_lm_tokens_free(&t);
    s2_lm_free(lm);
    fake_stop(&f);
    fake_start(&f, &VLLM_BAD_COUNT);
    lm = fake_lm(&f, NULL);
    ck_assert_int_eq(s2_lm_tokenize(lm, "ab", 2, true, true, &t, &err), S2_E_NET);
    ck_assert_msg(strstr(err.msg, "\"count\" 3 but 2 tokens"), "%s", err.msg);
    s2_lm_free(lm);
    fake_stop(&f);

    /* a server without the endpoint: a clear error naming it; OpenAI has none: refused before any request */
    fake_start(&f, &LLAMA_NO_TOKENIZE);
    lm = fake_lm(&f, NULL);
    ck_assert_int_eq(s2_lm_tokenize(lm, "ab", 2, true, true, &t, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "/tokenize: HTTP 404: this llama-server has no /tokenize endpoint"), "%s", err.msg);
    s2_lm_free(lm);
    fake_stop(&f);
    fake_start(&f, &OPENAI);
    lm = fake_lm(&f, NULL);
    s2_lm_caps caps;
    OK(s2_lm_caps_get(lm, &caps, err_));
    ck_assert(!caps.tokenizer);
    ck_assert_int_eq(s2_lm_tokenize(lm, "ab", 2, true, true, &t, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "OpenAI has no tokenize endpoint"), "%s", err.msg);
    ck_assert_int_eq(f.posts, 0);
    s2_lm_free(lm);
    fake_stop(&f);
}
END_TEST

START_TEST(test_http_servers_prompt_logprobs)
{
    /* vLLM: echo + logprobs k + max_tokens 1 on token ids, tokens as "token_id:N"; row i is entry i + 1 (the last
     * the generated token's), sorted best first, ids read from the keys */
    fake f;
    fake_start(&f, &VLLM_TOK);
    s2_lm *lm = fake_lm(&f, NULL);
    static const int32_t ids[3] = {1, 40, 41};
    s2_lm_prompt_lp p;
    OK(s2_lm_prompt_logprobs(lm, ids, 3, NULL, 2, &p, err_));
    ck_assert_int_eq(p.n, 3);
    ck_assert_int_eq(p.k, 2);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(p.ids[i], ids[i]);
        ck_assert_int_eq(p.n_top[i], 2);
        const s2_lm_top *row = p.top + i * 2;
        ck_assert_int_eq(row[0].id, i < 2 ? ids[i + 1] : 9);
        ck_assert_double_eq_tol(row[0].logprob, i < 2 ? -1.0 : -0.5, 1e-9);
        ck_assert_int_eq(row[1].id, 7);
        ck_assert_double_eq_tol(row[1].logprob, i < 2 ? -2.0 : -1.5, 1e-9);
    }
    s2_lm_prompt_lp_free(&p);
    json_t *b = json_loads(f.body, 0, NULL);
    ck_assert(json_is_true(json_object_get(b, "echo")) && json_is_true(json_object_get(b, "return_tokens_as_token_ids")));
    ck_assert_int_eq(json_integer_value(json_object_get(b, "logprobs")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "max_tokens")), 1);
    ck_assert_int_eq((int)json_array_size(json_object_get(b, "prompt")), 3);
    json_decref(b);
    /* more than vLLM gives per position, or the full vocabulary: refused before any request */
    int before = f.posts;
    s2_error err = {0};
    ck_assert_int_eq(s2_lm_prompt_logprobs(lm, ids, 3, NULL, 21, &p, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "at most 20"), "%s", err.msg);
    ck_assert_int_eq(s2_lm_prompt_logprobs(lm, ids, 3, NULL, 0, &p, &err), S2_E_UNSUPPORTED);
    ck_assert_int_eq(f.posts, before);
    s2_lm_caps caps;
    OK(s2_lm_caps_get(lm, &caps, err_));
    ck_assert_int_eq(caps.max_top, 20);
    s2_lm_free(lm);
    fake_stop(&f);

    /* a server whose echo has no prompt rows (the vLLM fake for text prompts): an error naming the position */
    fake_start(&f, &VLLM);
    lm = fake_lm(&f, NULL);
    ck_assert_int_eq(s2_lm_prompt_logprobs(lm, NULL, 0, "ab", 2, &p, &err), S2_E_NET);
    ck_assert_msg(strstr(err.msg, "no top log-probs for prompt position 0"), "%s", err.msg);
    s2_lm_free(lm);
    fake_stop(&f);

    /* llama-server has no echo: refused before any request, by the library and by `sys2 logits` (exit 2) */
    fake_start(&f, &LLAMA);
    lm = fake_lm(&f, NULL);
    ck_assert_int_eq(s2_lm_prompt_logprobs(lm, ids, 3, NULL, 2, &p, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "llama-server gives no prompt log-probs"), "%s", err.msg);
    s2_lm_free(lm);
    char cmd[512], *txt = NULL;
    snprintf(cmd, sizeof cmd, "%s logits -m http://127.0.0.1:%d/v1 --ids '1 40 41' --top 2 2>&1", t_sys2_bin(), f.port);
    ck_assert_int_eq(t_run(cmd, &txt), 2);
    ck_assert_msg(strstr(txt, "gives no prompt log-probs") && strstr(txt, "llama-server"), "%s", txt);
    free(txt);
    snprintf(cmd, sizeof cmd, "%s tokenize -m http://127.0.0.1:%d/v1 --server openai 'ab' 2>&1", t_sys2_bin(), f.port);
    ck_assert_int_eq(t_run(cmd, &txt), 2);
    ck_assert_msg(strstr(txt, "OpenAI has no tokenize endpoint"), "%s", txt);
    free(txt);
    ck_assert_int_eq(f.posts, 0);
    fake_stop(&f);
}
END_TEST

/* ---- the runner refuses a scorer the server cannot serve before the first item ---- */

START_TEST(test_http_servers_run_refused_up_front)
{
    fake f;
    fake_start(&f, &LLAMA);
    char url[96], out[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", f.port);
    snprintf(out, sizeof out, "%s/refused.jsonl", t_tmpdir());
    s2_run_config c = {0};
    c.task = "game24";
    c.split = "tot";
    c.search = "tot-bfs";
    c.scorer = "selfeval";
    c.model = url;
    c.limit = 2;
    c.out = out;
    c.version = "test";
    s2_run_summary sum;
    s2_error err = {0};
    s2_status st = s2_run(&c, &sum, &err);
    ck_assert_int_eq(st, S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "selfeval") && strstr(err.msg, "llama-server") && strstr(err.msg, "before the first item"),
                  "%s", err.msg);
    ck_assert_int_eq(f.posts, 0);
    ck_assert_int_eq(sum.done, 0);
    fake_stop(&f);
}
END_TEST

Suite *http_servers_suite(void) {
    Suite *s = suite_create("http_servers");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_http_servers_profile_detected);
    tcase_add_test(tc, test_http_servers_llama_chains);
    tcase_add_test(tc, test_http_servers_llama_no_echo);
    tcase_add_test(tc, test_http_servers_llama_stop_reason_required);
    tcase_add_test(tc, test_http_servers_llama_context);
    tcase_add_test(tc, test_http_servers_vllm_sglang);
    tcase_add_test(tc, test_http_servers_openai);
    tcase_add_test(tc, test_http_servers_missing_fields);
    tcase_add_test(tc, test_http_servers_retries);
    tcase_add_test(tc, test_http_servers_faults);
    tcase_add_test(tc, test_http_servers_api_key_and_refused);
    tcase_add_test(tc, test_http_servers_counts);
    tcase_add_test(tc, test_http_servers_run_refused_up_front);
    tcase_add_test(tc, test_http_servers_tokenize);
    tcase_add_test(tc, test_http_servers_prompt_logprobs);
    suite_add_tcase(s, tc);
    return s;
}
