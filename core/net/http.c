/* http.c: the HTTP backend of s2_lm (see http.h): libcurl's multi interface for parallel requests with a limit on
 * requests in flight, Jansson for every JSON body.
 *
 * What is exact and what is not: text and log-probs are what the server returns. Token ids are unknown remotely
 * (-1) unless the server adds them (sys2 serve's "sys2_token_ids"). The server tokenizes the whole text of a
 * sequence on every call, whereas the local engine keeps the tokens it sampled; the two agree whenever the sampled
 * tokens are the text's own tokenization (the usual case, and the case the tests check).
 *
 * Seeds: the local engine seeds sequence i of a sample call with splitmix(seed + G (i + 1)), G the golden-ratio
 * constant; a server that seeds choice j of a request the same way (sys2 serve does) reproduces it when sequence i
 * is sent with seed + G i. This file must not print: failures are s2_status + err->msg. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "lm_backend.h"
#include "text.h"

#define GOLDEN 0x9e3779b97f4a7c15ULL
#define MAX_TOP 20
#define MAX_RESPONSE (256u << 20)

typedef struct http_seq {
    bool live;
    char *text;
    size_t len, cap;
    int64_t known;             /* tokens of a prefix of text the server has already been sent (its cache may hold
                                * them): the local engine's computed tokens, for estimated counts */
} http_seq;

/* ---- server profiles: one row per kind of server, everything this file does differently for it ----
 * Sources, per row: llama-server from llama.cpp's tools/server (server-common.cpp, server-task.cpp, server-schema.cpp)
 * and responses recorded from a build of it (tests/test_http.c); vLLM from its OpenAI-compatible server docs
 * (stop_reason, include_stop_str_in_output; max_tokens 0 refused: vllm-project/vllm#9336; top_k -1 = off in
 * SamplingParams before 0.8); SGLang from python/sglang/srt/entrypoints/openai/protocol.py (matched_stop, no_stop_trim,
 * "max_tokens must be positive"); OpenAI from its API reference (legacy completions: echo, logprobs <= 5; top_k and
 * min_p are not parameters there). */
typedef enum { PROF_SYS2, PROF_LLAMA, PROF_VLLM, PROF_SGLANG, PROF_OPENAI, PROF_UNKNOWN, PROF_N } prof_id;

typedef enum {
    STOP_FROM_STOP_REASON,     /* choices[].stop_reason: the stop string, null for EOS (vLLM, sys2 serve) */
    STOP_FROM_MATCHED_STOP,    /* choices[].matched_stop: the stop string, or the EOS token id (SGLang) */
    STOP_FROM_VERBOSE,         /* __verbose.stop_type / stopping_word, asked with "verbose": true (llama-server) */
    STOP_FROM_REQUEST,         /* nothing says which: the request's only stop string (OpenAI) */
} stop_source;

/* The tokenize endpoints, POST at the server's root (not under /v1):
 * - llama-server (tools/server/README.md, "POST /tokenize"; server-context.cpp post_tokenize): {"content",
 *   "add_special" (BOS; default false), "parse_special" (default true), "with_pieces"} -> {"tokens": [id, ...]}, or
 *   with pieces [{"id", "piece"}] where a piece is a string, or an array of its bytes when it is not UTF-8; POST
 *   /detokenize {"tokens"} -> {"content"}. sys2 serve answers this shape too.
 * - vLLM (vllm/entrypoints/serve/tokenize/protocol.py: TokenizeCompletionRequest, TokenizeResponse): {"model",
 *   "prompt", "add_special_tokens" (default true)} -> {"count", "max_model_len", "tokens"}; the Hugging Face
 *   tokenizer always parses the text of special tokens; no pieces. SGLang (entrypoints/openai/serving_tokenize.py,
 *   routed at /tokenize and /v1/tokenize) takes and answers the same fields.
 * - OpenAI's API has no tokenizer endpoint. */
typedef enum { TOK_NONE, TOK_LLAMA, TOK_VLLM } tok_shape;

typedef struct http_profile {
    const char *flag, *name;   /* --server FLAG; the name in messages */
    bool n_native;             /* n > 1 choices in one request; else one request per chain, decided before any call */
    const char *keep_stop;     /* the request field that keeps the matched stop string in the text, or NULL */
    stop_source stop_from;
    int32_t sample_logprobs;   /* the "logprobs" value that returns each sampled token's log-prob (llama: n_probs) */
    bool echo;                 /* prompt log-probs through echo + logprobs */
    const char *no_echo;       /* why not */
    bool score_max_tokens_1;   /* max_tokens 0 is refused: score with 1 */
    bool top_k_min_p;          /* top_k and min_p are parameters */
    int32_t top_k_off;         /* the top_k that means no truncation */
    bool llama_samplers;       /* send llama.cpp's other samplers as off (its defaults are not) */
    tok_shape tok;             /* the tokenize endpoint's request and response (POST root + "/tokenize") */
    bool tok_special_field;    /* it takes "parse_special" (else the text of special tokens is always parsed) */
    int32_t max_top;           /* echo: top log-probs per prompt position at most; 0 = the full vocabulary (-1) */
    bool ids_as_tokens;        /* "return_tokens_as_token_ids": token strings are "token_id:N" (vLLM) */
} http_profile;

static const http_profile profiles[PROF_N] = {
    [PROF_SYS2] = {.flag = "sys2", .name = "sys2 serve", .n_native = true, .keep_stop = "include_stop_str_in_output",
                   .stop_from = STOP_FROM_STOP_REASON, .sample_logprobs = 0, .echo = true, .top_k_min_p = true,
                   .tok = TOK_LLAMA, .tok_special_field = true, .max_top = 0},
    [PROF_LLAMA] = {.flag = "llama", .name = "llama-server", .n_native = false, .keep_stop = NULL,
                    .stop_from = STOP_FROM_VERBOSE, .sample_logprobs = 1, .echo = false,
                    .no_echo = "its /v1/completions refuses echo (\"Only no echo is supported\"), so it gives no "
                               "prompt log-probs",
                    .top_k_min_p = true, .top_k_off = 0, .llama_samplers = true, .tok = TOK_LLAMA,
                    .tok_special_field = true},
    [PROF_VLLM] = {.flag = "vllm", .name = "vLLM", .n_native = true, .keep_stop = "include_stop_str_in_output",
                   .stop_from = STOP_FROM_STOP_REASON, .sample_logprobs = 0, .echo = true, .score_max_tokens_1 = true,
                   .top_k_min_p = true, .top_k_off = -1, .tok = TOK_VLLM,
                   .max_top = 20 /* --max-logprobs' default */, .ids_as_tokens = true},
    [PROF_SGLANG] = {.flag = "sglang", .name = "SGLang", .n_native = true, .keep_stop = "no_stop_trim",
                     .stop_from = STOP_FROM_MATCHED_STOP, .sample_logprobs = 0, .echo = true,
                     .score_max_tokens_1 = true, .top_k_min_p = true, .top_k_off = -1, .tok = TOK_VLLM,
                     .max_top = 20 /* as vLLM's default: SGLang documents no limit */},
    [PROF_OPENAI] = {.flag = "openai", .name = "OpenAI", .n_native = true, .keep_stop = NULL,
                     .stop_from = STOP_FROM_REQUEST, .sample_logprobs = 0, .echo = true, .top_k_min_p = false,
                     .max_top = 5 /* legacy completions: logprobs <= 5 */},
    [PROF_UNKNOWN] = {.flag = "unknown", .name = "an unknown server", .n_native = false,
                      .keep_stop = "include_stop_str_in_output", .stop_from = STOP_FROM_STOP_REASON,
                      .sample_logprobs = 1, .echo = true, .top_k_min_p = true, .top_k_off = 0, .max_top = 5},
};

typedef struct http_lm {
    char *url;                 /* POST target: .../completions or .../chat/completions */
    char *model;               /* NULL: no "model" field */
    char *auth;                /* "Authorization: Bearer ..." or NULL */
    bool chat;
    bool no_zero_tokens;       /* the server refused max_tokens 0 (or its profile says so): score with 1 */
    bool asked;                /* the profile (and the model name) were found out */
    bool forced;               /* --server gave the profile */
    bool estimated;            /* some request's cached tokens were estimated (the server reported none) */
    bool counted;              /* some response's usage was counted */
    const http_profile *prof;
    int32_t max_in_flight, tries, backoff_ms;
    long timeout_ms;
    CURLM *multi;              /* keeps the connections alive between calls */
    http_seq *seqs;
    int32_t n_seqs, cap_seqs;
    s2_counters c;
} http_lm;

static http_lm *H(s2_lm *lm) { return lm->ctx; }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- parallel requests ---- */

typedef struct xfer {
    char *body;                /* request JSON (owned) */
    const char *url;           /* NULL: h->url (the completions endpoint); else borrowed */
    bool any_json;             /* the answer is any JSON object, not a completion with "choices" */
    CURL *h;
    struct curl_slist *hdrs;
    char *resp;                /* response body (owned, NUL-terminated) */
    size_t len, cap;
    bool too_big;
    long code;
    CURLcode cres;
    int32_t tries;
    int64_t due_ns;            /* not before (backoff) */
    bool active, done;
    json_t *json;              /* parsed response (owned) when done and ok */
} xfer;

static size_t on_write(char *data, size_t size, size_t nmemb, void *user) {
    xfer *x = user;
    size_t n = size * nmemb;
    if (x->len + n + 1 > MAX_RESPONSE) {
        x->too_big = true;
        return 0;
    }
    if (x->len + n + 1 > x->cap) {
        size_t nc = x->cap ? x->cap : 16384;
        while (nc < x->len + n + 1) nc *= 2;
        char *nr = realloc(x->resp, nc);
        if (nr == NULL) return 0;
        x->resp = nr;
        x->cap = nc;
    }
    memcpy(x->resp + x->len, data, n);
    x->len += n;
    x->resp[x->len] = '\0';
    return n;
}

static s2_status xfer_start(http_lm *h, xfer *x, s2_error *err) {
    x->h = curl_easy_init();
    if (x->h == NULL) return s2_error_set(err, S2_E_NOMEM, "http: curl_easy_init failed");
    x->len = 0;
    x->too_big = false;
    x->code = 0;
    x->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (h->auth) x->hdrs = curl_slist_append(x->hdrs, h->auth);
    curl_easy_setopt(x->h, CURLOPT_URL, x->url ? x->url : h->url);
    curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms < 5000 ? h->timeout_ms : 5000L);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(h->multi, x->h) != CURLM_OK) return s2_error_set(err, S2_E_NET, "http: curl_multi_add_handle failed");
    x->active = true;
    x->tries++;
    h->c.requests++;
    return S2_OK;
}

static void xfer_end(http_lm *h, xfer *x) {
    if (x->h) {
        curl_multi_remove_handle(h->multi, x->h);
        curl_easy_cleanup(x->h);
    }
    curl_slist_free_all(x->hdrs);
    x->h = NULL;
    x->hdrs = NULL;
    x->active = false;
}

static void xfers_free(xfer *x, int32_t n) {
    for (int32_t i = 0; x && i < n; i++) {
        free(x[i].body);
        free(x[i].resp);
        json_decref(x[i].json);
    }
    free(x);
}

/* A refusal that names a parameter the server does not take: never retried, whatever its status (llama-server
 * answers echo with 500 "Unsupported param: echo" in some builds, "Only no echo is supported" in others; OpenAI
 * answers 400 "Unrecognized request argument supplied: X"). */
static bool refuses_param(const xfer *x) {
    static const char *const says[] = {"Unsupported param", "unsupported param", "Only no echo", "not supported",
                                       "Unrecognized request argument", "unrecognized request argument",
                                       "Unknown parameter", "unknown parameter"};
    if (x->cres != CURLE_OK || x->code < 400 || x->resp == NULL) return false;
    for (size_t i = 0; i < sizeof says / sizeof says[0]; i++)
        if (strstr(x->resp, says[i]) != NULL) return true;
    return false;
}

/* Retried: a connection refused or dropped (the server restarting), 408, 429 and 5xx. Not retried: a timeout (a
 * stalled server stays stalled: the default timeout alone fails it within 30 s), any other 4xx, and a refusal that
 * names an unsupported parameter. */
static bool retryable(const xfer *x) {
    if (x->cres != CURLE_OK)
        return x->cres == CURLE_COULDNT_CONNECT || x->cres == CURLE_RECV_ERROR || x->cres == CURLE_SEND_ERROR ||
               x->cres == CURLE_GOT_NOTHING || x->cres == CURLE_PARTIAL_FILE;
    if (refuses_param(x)) return false;
    return x->code == 408 || x->code == 429 || x->code >= 500;
}

/* The "error.message" of an OpenAI-style error body, or the start of the body. */
static void server_says(const xfer *x, char *out, size_t cap) {
    json_t *j = x->resp ? json_loads(x->resp, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (m == NULL) m = json_string_value(json_object_get(j, "error"));
    if (m == NULL) m = json_string_value(json_object_get(j, "message"));
    snprintf(out, cap, "%.160s", m ? m : x->resp ? x->resp : "(no body)");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    json_decref(j);
}

/* A 400 that says the prompt (plus max_tokens) is longer than the context: sys2 serve's and OpenAI's code
 * "context_length_exceeded", vLLM's "maximum context length" message, llama-server's type
 * "exceed_context_size_error" ("request (N tokens) exceeds the available context size"). */
static bool context_exceeded(const xfer *x) {
    json_t *j = x->resp ? json_loads(x->resp, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (msg == NULL) msg = json_string_value(json_object_get(j, "message"));
    const char *type = json_string_value(json_object_get(e, "type"));
    bool yes = (code && strcmp(code, "context_length_exceeded") == 0) || (msg && strstr(msg, "maximum context length")) ||
               (type && strcmp(type, "exceed_context_size_error") == 0) || /* llama-server */
               (msg && strstr(msg, "exceeds the available context size"));
    json_decref(j);
    return yes;
}

/* A finished transfer to its parsed JSON, or a clear error. */
static s2_status xfer_result(http_lm *h, xfer *x, s2_error *err) {
    char said[192];
    const char *url = x->url ? x->url : h->url;
    if (x->cres != CURLE_OK) {
        if (x->too_big) return s2_error_set(err, S2_E_NET, "%s: the response is larger than %u bytes", url, MAX_RESPONSE);
        if (x->cres == CURLE_OPERATION_TIMEDOUT)
            return s2_error_set(err, S2_E_NET, "%s: no answer within %.3g s (--http-timeout), not retried", url,
                                (double)h->timeout_ms / 1000);
        return s2_error_set(err, S2_E_NET, "%s: %s (after %d tries)", url, curl_easy_strerror(x->cres), x->tries);
    }
    if (x->code < 200 || x->code > 299) {
        server_says(x, said, sizeof said);
        if (x->code == 400 && context_exceeded(x)) /* as the local engine says of a sequence past its context */
            return s2_error_set(err, S2_E_BUDGET, "%s: past the model's context: %s", url, said);
        if (refuses_param(x))
            return s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s refuses a parameter sys2 sends (HTTP %ld, not retried): %s",
                                url, h->prof ? h->prof->name : "the server", x->code, said);
        s2_status st = x->code == 400 || x->code == 413 || x->code == 422 ? S2_E_ARG
                       : x->code == 404                                    ? S2_E_UNSUPPORTED
                                                                           : S2_E_NET;
        if (x->code == 408 || x->code == 429 || x->code >= 500)
            return s2_error_set(err, st, "%s: HTTP %ld after %d tries: %s", url, x->code, x->tries, said);
        return s2_error_set(err, st, "%s: HTTP %ld: %s", url, x->code, said);
    }
    const char *ct = NULL;
    curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
    if (ct == NULL || strstr(ct, "json") == NULL)
        return s2_error_set(err, S2_E_NET, "%s: the response's content type is '%s', not application/json", url,
                            ct ? ct : "(none)");
    json_error_t je;
    x->json = json_loadb(x->resp ? x->resp : "", x->len, JSON_ALLOW_NUL, &je);
    if (x->json == NULL)
        return s2_error_set(err, S2_E_NET, "%s: malformed JSON in the response (%s, line %d column %d, %zu bytes)",
                            url, je.text, je.line, je.column, x->len);
    if (!json_is_object(x->json) || (!x->any_json && !json_is_array(json_object_get(x->json, "choices"))))
        return s2_error_set(err, S2_E_NET, "%s: the response has %s", url,
                            x->any_json ? "no JSON object" : "no \"choices\" array");
    return S2_OK;
}

/* Runs n requests (bodies in x[i].body) with at most max_in_flight at once, retrying as http.h says. On S2_OK every
 * x[i].json holds its response; otherwise err names the first failure. */
static s2_status run_all(http_lm *h, xfer *x, int32_t n, s2_error *err) {
    int32_t active = 0, done = 0;
    s2_status st = S2_OK;
    while (st == S2_OK && done < n) {
        int64_t now = now_ns(), next_due = INT64_MAX;
        for (int32_t i = 0; st == S2_OK && i < n && active < h->max_in_flight; i++) {
            if (x[i].done || x[i].active) continue;
            if (x[i].due_ns > now) {
                if (x[i].due_ns < next_due) next_due = x[i].due_ns;
                continue;
            }
            st = xfer_start(h, &x[i], err);
            if (st == S2_OK) active++;
        }
        if (st != S2_OK) break;
        int running = 0;
        curl_multi_perform(h->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            xfer *t = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            t->cres = msg->data.result;
            curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->code);
            active--;
            if (retryable(t) && t->tries < h->tries) {
                xfer_end(h, t);
                t->due_ns = now_ns() + (int64_t)h->backoff_ms * 1000000 * ((int64_t)1 << (t->tries - 1));
                continue;
            }
            t->done = true;
            done++;
            s2_status r = xfer_result(h, t, err);
            xfer_end(h, t);
            if (r != S2_OK) {
                st = r;
                break;
            }
        }
        if (st != S2_OK || done == n) break;
        int wait_ms = 100;
        if (active == 0 && next_due != INT64_MAX) {
            int64_t d = (next_due - now_ns()) / 1000000;
            wait_ms = d < 0 ? 0 : d > 1000 ? 1000 : (int)d + 1;
        }
        if (active > 0) curl_multi_poll(h->multi, NULL, 0, wait_ms, NULL);
        else if (wait_ms > 0) {
            struct timespec ts = {.tv_sec = wait_ms / 1000, .tv_nsec = (long)(wait_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    for (int32_t i = 0; i < n; i++)
        if (x[i].active) xfer_end(h, &x[i]);
    return st;
}

/* ---- requests ---- */

json_t *s2_json_text(const char *t, size_t n, bool *lossy) {
    json_t *js = json_stringn(t, n);
    if (js != NULL) return js;
    if (lossy) *lossy = true;
    char *o = malloc(3 * n + 1);
    if (o == NULL) return json_string("");
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)t[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t b = 1; ok && b < len; b++) ok = ((unsigned char)t[i + b] >> 6) == 2;
        if (ok && len > 1) { /* overlong forms and surrogates: let Jansson's own check decide */
            json_t *one = json_stringn(t + i, len);
            ok = one != NULL;
            json_decref(one);
        }
        if (ok) {
            memcpy(o + k, t + i, len);
            k += len;
            i += len;
        } else {
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    js = json_stringn(o, k);
    free(o);
    return js ? js : json_string("");
}

static json_t *hex_of(const char *t, size_t n) {
    static const char hx[] = "0123456789abcdef";
    char *o = malloc(2 * n + 1);
    if (o == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = hx[(unsigned char)t[i] >> 4];
        o[2 * i + 1] = hx[(unsigned char)t[i] & 15];
    }
    json_t *js = json_stringn(o, 2 * n);
    free(o);
    return js;
}

/* ---- what the server is ---- */

typedef struct get_reply {
    xfer x;                    /* the body */
    char server[64];           /* the Server header */
} get_reply;

static size_t on_header(char *data, size_t size, size_t nmemb, void *user) {
    get_reply *g = user;
    size_t n = size * nmemb;
    if (n > 8 && strncasecmp(data, "Server:", 7) == 0) {
        size_t k = n - 7;
        const char *v = data + 7;
        while (k > 0 && (*v == ' ' || *v == '\t')) v++, k--;
        while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n')) k--;
        snprintf(g->server, sizeof g->server, "%.*s", (int)(k < 63 ? k : 63), v);
    }
    return n;
}

/* GET url: the parsed JSON of a 200 answer (a new reference) or NULL; *refused set when nothing answered. */
static json_t *get_json(http_lm *h, const char *url, get_reply *g, bool *refused) {
    memset(g, 0, sizeof *g);
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = h->auth ? curl_slist_append(NULL, h->auth) : NULL;
    json_t *j = NULL;
    if (c != NULL) {
        long t = h->timeout_ms < 5000 ? h->timeout_ms : 5000L;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &g->x);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t);
        long code = 0;
        CURLcode r = curl_easy_perform(c);
        if (refused) *refused = r != CURLE_OK;
        if (r == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
            j = json_loadb(g->x.resp ? g->x.resp : "", g->x.len, 0, NULL);
        h->c.requests++;
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(hdrs);
    free(g->x.resp);
    g->x.resp = NULL;
    return j;
}

static const http_profile *profile_by_flag(const char *flag) {
    for (int32_t i = 0; i < PROF_N; i++)
        if (strcmp(profiles[i].flag, flag) == 0) return &profiles[i];
    return NULL;
}

/* Once, before the first request: GET .../models (the model name when none was given, and its owned_by: "llamacpp",
 * "vllm", "sglang", "sys2", "openai" / "system"), then, while the profile is still unknown, the Server header and
 * GET /props (llama-server), /version (vLLM), /get_server_info (SGLang). A server that lists no models gets
 * requests without "model"; one that answers none of these is "unknown" (one request per chain, estimated counts). */
static void find_profile(http_lm *h) {
    h->asked = true;
    if (h->forced && h->model != NULL) return;
    size_t n = strlen(h->url);
    const char *suffix = h->chat ? "/chat/completions" : "/completions";
    size_t base = n - strlen(suffix);
    char *url = malloc(n + 32);
    if (url == NULL) {
        if (h->prof == NULL) h->prof = &profiles[PROF_UNKNOWN];
        return;
    }
    memcpy(url, h->url, base);
    strcpy(url + base, "/models");
    get_reply g;
    bool refused = false;
    json_t *j = get_json(h, url, &g, &refused);
    json_t *m0 = json_array_get(json_object_get(j, "data"), 0);
    const char *id = json_string_value(json_object_get(m0, "id"));
    const char *owner = json_string_value(json_object_get(m0, "owned_by"));
    if (h->model == NULL && id != NULL) h->model = strdup(id);
    const http_profile *p = h->prof;
    if (p == NULL && owner != NULL) {
        if (strcmp(owner, "llamacpp") == 0) p = &profiles[PROF_LLAMA];
        else if (strcmp(owner, "vllm") == 0) p = &profiles[PROF_VLLM];
        else if (strcmp(owner, "sglang") == 0) p = &profiles[PROF_SGLANG];
        else if (strcmp(owner, "sys2") == 0) p = &profiles[PROF_SYS2];
        else if (strcmp(owner, "openai") == 0 || strcmp(owner, "system") == 0 || strncmp(owner, "openai-", 7) == 0)
            p = &profiles[PROF_OPENAI];
    }
    if (p == NULL && strstr(g.server, "llama.cpp") != NULL) p = &profiles[PROF_LLAMA];
    json_decref(j);
    /* the server's root: the base without its trailing /v1 */
    size_t root = base >= 3 && memcmp(h->url + base - 3, "/v1", 3) == 0 ? base - 3 : base;
    static const struct { const char *path, *key; prof_id id; } probes[] = {
        {"/props", "default_generation_settings", PROF_LLAMA},
        {"/version", "version", PROF_VLLM},
        {"/get_server_info", "version", PROF_SGLANG},
    };
    for (size_t i = 0; p == NULL && !refused && i < sizeof probes / sizeof probes[0]; i++) {
        memcpy(url, h->url, root);
        strcpy(url + root, probes[i].path);
        j = get_json(h, url, &g, NULL);
        if (json_object_get(j, probes[i].key) != NULL) p = &profiles[probes[i].id];
        json_decref(j);
    }
    h->prof = p ? p : &profiles[PROF_UNKNOWN];
    if (h->prof->score_max_tokens_1) h->no_zero_tokens = true;
    free(url);
}

/* A request body with the fields every request shares; the prompt or messages from text. Text that is not UTF-8
 * goes as its U+FFFD-replaced string plus its exact bytes in "sys2_prompt_hex" (which sys2 serve reads). */
static json_t *base_body(http_lm *h, const char *text, size_t len, s2_error *err) {
    if (!h->asked) find_profile(h);
    bool lossy = false;
    json_t *p = s2_json_text(text, len, &lossy);
    json_t *b = json_object();
    if (p == NULL || b == NULL) {
        json_decref(p);
        json_decref(b);
        s2_error_set(err, S2_E_NOMEM, "http: out of memory");
        return NULL;
    }
    if (h->model) json_object_set_new(b, "model", json_string(h->model));
    if (h->chat) json_object_set_new(b, "messages", json_pack("[{s:s,s:o}]", "role", "user", "content", p));
    else json_object_set_new(b, "prompt", p);
    if (lossy && !h->chat) json_object_set_new(b, "sys2_prompt_hex", hex_of(text, len));
    return b;
}

static s2_status add_body(xfer *x, json_t *b, s2_error *err) {
    x->body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    return x->body ? S2_OK : s2_error_set(err, S2_E_NOMEM, "http: out of memory");
}

/* Counts one response's usage as the local engine counts the same work. The server's prompt_tokens P are split into
 * cached (the `known` tokens already sent on this sequence, as the local engine keeps a sequence's KV), scored
 * (teacher-forced continuation tokens, counted apart as locally) and computed (the rest). What the server reports as
 * cached (usage.prompt_tokens_details.cached_tokens, as vLLM, SGLang, OpenAI and newer llama-servers send; else
 * llama-server's timings.cache_n) beyond `known` was reused from other requests, other items' among them (a
 * llama-server slot keeps the last prompt, so the next item's shared opening is free): that is the server's saving,
 * which depends on the order requests arrive in, and goes to server_cached_tokens, not into the search's counts;
 * where the server reports nothing, the counts are the same and the header says they were not checked against it. shared: a further request of siblings sent together on the same prefix (one
 * request per chain, or one per label), whose first `known` tokens the first request counted: they count as cached
 * at least, as n > 1 and the local engine's forks share them. Generated tokens count when
 * sampled. *seen gets the tokens the server now has of the sequence. A response without usage is an error. */
static s2_status count_usage(http_lm *h, json_t *resp, int64_t known, int64_t scored, bool shared, bool sampled,
                             int64_t *seen, s2_error *err) {
    json_t *u = json_object_get(resp, "usage");
    json_t *jp = json_object_get(u, "prompt_tokens"), *jc = json_object_get(u, "completion_tokens");
    if (!json_is_integer(jp) || (sampled && !json_is_integer(jc)))
        return s2_error_set(err, S2_E_NET, "%s: %s's response has no usage.%s: sys2 cannot count what it cost", h->url,
                            h->prof->name, json_is_integer(jp) ? "completion_tokens" : "prompt_tokens");
    int64_t P = json_integer_value(jp), C = sampled ? json_integer_value(jc) : 0;
    h->counted = true;
    json_t *rc = json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
    json_t *tc = json_object_get(json_object_get(resp, "timings"), "cache_n");
    int64_t reported = -1;
    if (json_is_integer(rc)) reported = json_integer_value(rc);
    else if (json_is_integer(tc)) reported = json_integer_value(tc);
    else h->estimated = true;
    /* what the server already holds of this sequence counts as cached even where it computed it again (sys2 serve
     * caches whole 16-token blocks only, llama-server's slots move on), and nothing more: the count is the search's,
     * as the local engine, which keeps each sequence's KV, spends it; what the server adds or saves is the server's */
    (void)shared;
    int64_t cached = known;
    if (cached > P - scored) cached = P - scored;
    if (cached < 0) cached = 0;
    if (reported > P - scored) reported = P - scored;
    if (reported > cached) h->c.server_cached_tokens += reported - cached;
    int64_t computed = P - cached - scored;
    h->c.prompt_tokens += computed > 0 ? computed : 0;
    h->c.cached_tokens += cached;
    h->c.gen_tokens += C;
    if (seen) *seen = P;
    return S2_OK;
}

static json_t *choice0(json_t *resp) { return json_array_get(json_object_get(resp, "choices"), 0); }

/* ---- sequences ---- */

static http_seq *get_seq(http_lm *h, s2_lm_seq s, s2_error *err) {
    if (s < 0 || s >= h->n_seqs || !h->seqs[s].live) {
        s2_error_set(err, S2_E_ARG, "lm: sequence %d is not live", s);
        return NULL;
    }
    return &h->seqs[s];
}

static s2_status text_append(http_seq *q, const char *t, size_t n) {
    return s2_text_append(&q->text, &q->len, &q->cap, t, n);
}

static s2_status slot_new(http_lm *h, const char *t, size_t n, s2_lm_seq *out, s2_error *err) {
    int32_t s = 0;
    while (s < h->n_seqs && h->seqs[s].live) s++;
    if (s == h->n_seqs) {
        if (h->n_seqs == h->cap_seqs) {
            int32_t cap = h->cap_seqs ? 2 * h->cap_seqs : 16;
            http_seq *ns = realloc(h->seqs, (size_t)cap * sizeof *ns);
            if (ns == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory for sequences");
            h->seqs = ns;
            h->cap_seqs = cap;
        }
        memset(&h->seqs[h->n_seqs++], 0, sizeof h->seqs[0]);
    }
    http_seq *q = &h->seqs[s];
    q->len = 0;
    q->known = 0;
    if (text_append(q, t, n) != S2_OK) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    q->live = true;
    *out = s;
    return S2_OK;
}

static s2_status http_seq_new(s2_lm *lm, const char *text, s2_lm_seq *out, s2_error *err) {
    return slot_new(H(lm), text, strlen(text), out, err);
}

static s2_status http_fork(s2_lm *lm, s2_lm_seq src, s2_lm_seq *out, s2_error *err) {
    http_lm *h = H(lm);
    if (get_seq(h, src, err) == NULL) return S2_E_ARG;
    s2_lm_seq s;
    s2_status st = slot_new(h, "", 0, &s, err); /* may move h->seqs */
    if (st != S2_OK) return st;
    if (text_append(&h->seqs[s], h->seqs[src].text, h->seqs[src].len) != S2_OK) {
        h->seqs[s].live = false;
        return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    }
    h->seqs[s].known = h->seqs[src].known; /* the server has what the source's requests sent */
    *out = s;
    return S2_OK;
}

static s2_status http_append(s2_lm *lm, s2_lm_seq s, const char *text, s2_error *err) {
    http_seq *q = get_seq(H(lm), s, err);
    if (q == NULL) return S2_E_ARG;
    return text_append(q, text, strlen(text)) == S2_OK ? S2_OK : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
}

static void http_seq_free(s2_lm *lm, s2_lm_seq s) {
    http_lm *h = H(lm);
    if (s >= 0 && s < h->n_seqs) h->seqs[s].live = false;
}

/* ---- scoring: echo + logprobs ---- */

static s2_status score_bodies(http_lm *h, const http_seq *q, const char *const *conts, int32_t n, xfer *x,
                              s2_error *err) {
    for (int32_t i = 0; i < n; i++) {
        size_t cl = strlen(conts[i]);
        char *whole = malloc(q->len + cl + 1);
        if (whole == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
        memcpy(whole, q->text, q->len);
        memcpy(whole + q->len, conts[i], cl + 1);
        json_t *b = base_body(h, whole, q->len + cl, err);
        free(whole);
        if (b == NULL) return err ? err->code : S2_E_ARG;
        json_object_set_new(b, "max_tokens", json_integer(h->no_zero_tokens ? 1 : 0));
        json_object_set_new(b, "echo", json_true());
        json_object_set_new(b, "logprobs", json_integer(1));
        json_object_set_new(b, "temperature", json_real(0));
        json_object_set_new(b, "sys2_logprobs_from", json_integer((json_int_t)q->len));
        s2_status st = add_body(&x[i], b, err);
        if (st != S2_OK) return st;
    }
    return S2_OK;
}

/* The continuation's log-probs in an echo response: the prompt tokens (after the first) whose text ends after the
 * prefix (prefix_len bytes) or starts at or after it. lp (cap, may be NULL) gets them; returns the count or -status. */
static int32_t cont_logprobs(http_lm *h, json_t *resp, size_t prefix_len, size_t total_len, float *lp, int32_t cap,
                             double *sum, s2_error *err) {
    json_t *l = json_object_get(choice0(resp), "logprobs");
    json_t *tlp = json_object_get(l, "token_logprobs"), *off = json_object_get(l, "text_offset");
    if (!json_is_array(tlp) || !json_is_array(off) || json_array_size(off) != json_array_size(tlp))
        return s2_error_set(err, S2_E_UNSUPPORTED,
                            "%s: %s returned no prompt log-probs (echo + logprobs: no choices[0].logprobs.%s): it "
                            "cannot score text (vLLM, SGLang and sys2 serve can; llama-server cannot)", h->url,
                            h->prof->name, json_is_array(tlp) ? "text_offset" : "token_logprobs");
    int32_t nt = (int32_t)json_array_size(tlp);
    json_t *u = json_object_get(json_object_get(resp, "usage"), "prompt_tokens");
    int32_t np = json_is_integer(u) && json_integer_value(u) <= nt ? (int32_t)json_integer_value(u)
                                                                    : nt - (h->no_zero_tokens ? 1 : 0);
    int32_t n = 0;
    double acc = 0;
    for (int32_t i = 1; i < np; i++) {
        json_int_t start = json_integer_value(json_array_get(off, (size_t)i));
        json_int_t end = i + 1 < np ? json_integer_value(json_array_get(off, (size_t)i + 1)) : (json_int_t)total_len;
        if (!(end > (json_int_t)prefix_len || start >= (json_int_t)prefix_len)) continue;
        json_t *v = json_array_get(tlp, (size_t)i);
        if (!json_is_number(v))
            return s2_error_set(err, S2_E_UNSUPPORTED,
                                "%s: prompt token %d has no log-prob in the echo: the server cannot score text", h->url, i);
        double x = json_number_value(v);
        if (lp != NULL && n < cap) lp[n] = (float)x;
        acc += x;
        n++;
    }
    h->c.scored_tokens += n;
    *sum = acc;
    return n;
}

/* Sends the score requests; once more with max_tokens 1 when the server refuses 0 (HTTP 400). */
static s2_status run_scores(http_lm *h, const http_seq *q, const char *const *conts, int32_t n, xfer **out,
                            s2_error *err) {
    if (h->chat)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: a chat endpoint cannot score text (no echo); use the /v1 base",
                            h->url);
    if (!h->asked) find_profile(h);
    if (!h->prof->echo)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s cannot score text: %s", h->url, h->prof->name,
                            h->prof->no_echo);
    for (int pass = 0; pass < 2; pass++) {
        xfer *x = calloc((size_t)n, sizeof *x);
        if (x == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
        s2_status st = score_bodies(h, q, conts, n, x, err);
        if (st == S2_OK) st = run_all(h, x, n, err);
        bool refused = st == S2_E_ARG && !h->no_zero_tokens;
        for (int32_t i = 0; refused && i < n; i++)
            refused = x[i].code == 400 || x[i].code == 422 || !x[i].done;
        if (st == S2_OK) {
            *out = x;
            return S2_OK;
        }
        xfers_free(x, n);
        if (!refused || pass == 1) return st;
        h->no_zero_tokens = true; /* e.g. "max_tokens must be at least 1" */
    }
    return S2_OK;
}

static s2_status http_score(s2_lm *lm, s2_lm_seq s, const char *cont, float *per_token, int32_t cap, int32_t *n,
                            double *sum, s2_error *err) {
    http_lm *h = H(lm);
    http_seq *q = get_seq(h, s, err);
    if (q == NULL) return S2_E_ARG;
    xfer *x = NULL;
    s2_status st = run_scores(h, q, &cont, 1, &x, err);
    if (st != S2_OK) return st;
    double acc = 0;
    int32_t got = cont_logprobs(h, x[0].json, q->len, q->len + strlen(cont), per_token, cap, &acc, err);
    int64_t seen = 0;
    if (got >= 0 && (st = count_usage(h, x[0].json, q->known, got, false, false, &seen, err)) != S2_OK) got = st;
    if (got >= 0 && seen - got > q->known) q->known = seen - got;
    xfers_free(x, 1);
    if (got < 0) return (s2_status)got;
    if (n) *n = got;
    if (sum) *sum = acc;
    return S2_OK;
}

static s2_status http_score_labels(s2_lm *lm, s2_lm_seq s, const char *const *labels, int32_t n, double *out,
                                   s2_error *err) {
    http_lm *h = H(lm);
    http_seq *q = get_seq(h, s, err);
    if (q == NULL) return S2_E_ARG;
    xfer *x = NULL;
    s2_status st = run_scores(h, q, labels, n, &x, err);
    for (int32_t c = 0; st == S2_OK && c < n; c++) {
        int32_t got = cont_logprobs(h, x[c].json, q->len, q->len + strlen(labels[c]), NULL, 0, &out[c], err);
        if (got < 0) st = (s2_status)got;
        else if (got == 0) st = s2_error_set(err, S2_E_ARG, "lm: label %d ('%s') has no tokens", c, labels[c]);
        else {
            int64_t seen = 0;
            st = count_usage(h, x[c].json, q->known, got, c > 0, false, &seen, err);
            if (st == S2_OK && seen - got > q->known) q->known = seen - got; /* the labels' prefix, counted once */
        }
    }
    xfers_free(x, n);
    return st;
}

/* ---- top-k: logprobs k on one generated token ---- */

static bool unhex(const char *hx, char *out, size_t cap) {
    size_t n = strlen(hx) / 2;
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(hx + 2 * i, "%2x", &v) != 1) return false;
        out[i] = (char)v;
    }
    out[n] = '\0';
    return true;
}

static void set_piece(s2_lm_top *t, const char *s) { snprintf(t->piece, sizeof t->piece, "%s", s ? s : ""); }

static int32_t http_top_k(s2_lm *lm, s2_lm_seq s, int32_t k, s2_lm_top *out, s2_error *err) {
    http_lm *h = H(lm);
    http_seq *q = get_seq(h, s, err);
    if (q == NULL) return S2_E_ARG;
    if (k > MAX_TOP) k = MAX_TOP;
    xfer *x = calloc(1, sizeof *x);
    if (x == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    json_t *b = base_body(h, q->text, q->len, err);
    s2_status st = b ? S2_OK : err ? err->code : S2_E_ARG;
    if (st == S2_OK) {
        json_object_set_new(b, "max_tokens", json_integer(1));
        json_object_set_new(b, "temperature", json_real(0));
        json_object_set_new(b, "seed", json_integer(0));
        if (h->chat) {
            json_object_set_new(b, "logprobs", json_true());
            json_object_set_new(b, "top_logprobs", json_integer(k));
        } else {
            json_object_set_new(b, "logprobs", json_integer(k));
        }
        st = add_body(x, b, err);
    }
    if (st == S2_OK) st = run_all(h, x, 1, err);
    int32_t m = 0;
    if (st == S2_OK) {
        json_t *l = json_object_get(choice0(x->json), "logprobs");
        json_t *ours = json_array_get(json_object_get(l, "sys2_top"), 0);
        /* sys2 serve's sys2_top, or the chat format's content[0].top_logprobs (chat endpoints, llama-server) */
        json_t *list = ours ? ours : json_object_get(json_array_get(json_object_get(l, "content"), 0), "top_logprobs");
        json_t *dict = h->chat ? NULL : json_array_get(json_object_get(l, "top_logprobs"), 0);
        size_t i;
        json_t *e;
        const char *key;
        if (json_is_array(list)) {
            json_array_foreach(list, i, e) {
                if (m == k) break;
                json_t *lpv = json_object_get(e, "logprob");
                if (!json_is_number(lpv)) continue;
                json_t *id = json_object_get(e, "id");
                out[m].id = json_is_integer(id) ? (int32_t)json_integer_value(id) : -1;
                out[m].logprob = (float)json_number_value(lpv);
                const char *hx = json_string_value(json_object_get(e, "hex"));
                if (hx == NULL || !unhex(hx, out[m].piece, sizeof out[m].piece))
                    set_piece(&out[m], json_string_value(json_object_get(e, "token")));
                m++;
            }
        } else if (json_is_object(dict)) {
            json_object_foreach(dict, key, e) {
                if (m == k) break;
                if (!json_is_number(e)) continue;
                out[m].id = -1;
                out[m].logprob = (float)json_number_value(e);
                set_piece(&out[m], key);
                m++;
            }
        } else {
            st = s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s returned no top log-probs (logprobs = %d): no "
                              "choices[0].logprobs.top_logprobs", h->url, h->prof->name, k);
        }
        int64_t seen = 0;
        if (st == S2_OK) st = count_usage(h, x->json, q->known, 0, false, false, &seen, err);
        if (st == S2_OK) {
            qsort(out, (size_t)m, sizeof *out, s2_lm_top_cmp);
            if (seen > q->known) q->known = seen;
        }
    }
    xfers_free(x, 1);
    return st == S2_OK ? m : (int32_t)st;
}

/* ---- sampling ---- */

/* The stop string that ended a choice the server reports as finished with "stop", as its profile says it tells:
 * *stop_str = the string (NULL: it ended on EOS). False when the response does not say (an error names the field). */
static bool matched_stop(http_lm *h, json_t *ch, json_t *resp, const s2_lm_sample_params *p, const char **stop_str,
                         const char **field) {
    *stop_str = NULL;
    switch (h->prof->stop_from) {
    case STOP_FROM_STOP_REASON: {
        json_t *sr = json_object_get(ch, "stop_reason");
        *field = "choices[].stop_reason";
        if (sr == NULL) break;
        *stop_str = json_string_value(sr); /* null: EOS; an integer: a stop token (EOS for sys2) */
        return true;
    }
    case STOP_FROM_MATCHED_STOP: {
        json_t *ms = json_object_get(ch, "matched_stop");
        *field = "choices[].matched_stop";
        if (ms == NULL) break;
        *stop_str = json_string_value(ms); /* an integer: the EOS token id that ended it */
        return true;
    }
    case STOP_FROM_VERBOSE: {
        json_t *v = json_object_get(resp, "__verbose");
        const char *type = json_string_value(json_object_get(v, "stop_type"));
        *field = "__verbose.stop_type (asked with \"verbose\": true)";
        if (type == NULL) break;
        if (strcmp(type, "word") == 0) {
            *stop_str = json_string_value(json_object_get(v, "stopping_word"));
            *field = "__verbose.stopping_word";
            return *stop_str != NULL;
        }
        return true; /* "eos" (or "limit", which finish_reason already says is "length") */
    }
    case STOP_FROM_REQUEST:
        *field = "choices[].stop_reason";
        break;
    }
    /* nothing says which: the request's only stop string, if it has one (the text never keeps it there) */
    if (p->n_stops == 0) return true;
    if (p->n_stops == 1 && h->prof->stop_from == STOP_FROM_REQUEST) {
        *stop_str = p->stops[0];
        return true;
    }
    return false;
}

static s2_status parse_gen(http_lm *h, json_t *ch, json_t *resp, const s2_lm_sample_params *p, s2_lm_gen *g,
                           size_t *len, s2_error *err) {
    const char *text = NULL;
    size_t tl = 0;
    char *raw = NULL;
    const char *hx = json_string_value(json_object_get(ch, "sys2_text_hex"));
    json_t *jt = h->chat ? json_object_get(json_object_get(ch, "message"), "content") : json_object_get(ch, "text");
    if (hx != NULL) {
        tl = strlen(hx) / 2;
        raw = malloc(tl + 1);
        if (raw == NULL || !unhex(hx, raw, tl + 1)) {
            free(raw);
            return s2_error_set(err, S2_E_NET, "%s: bad sys2_text_hex in the response", h->url);
        }
        text = raw;
    } else if (json_is_string(jt)) {
        text = json_string_value(jt);
        tl = json_string_length(jt);
    } else {
        return s2_error_set(err, S2_E_NET, "%s: a choice without %s", h->url, h->chat ? "message.content" : "text");
    }
    const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
    const char *ours = json_string_value(json_object_get(ch, "sys2_finish"));
    const char *stop_str = NULL;
    if (ours != NULL && strcmp(ours, "context") == 0) {
        free(raw);
        return s2_error_set(err, S2_E_BUDGET, "lm: a sequence would pass the server's context");
    }
    if (fin == NULL && ours == NULL) {
        free(raw);
        return s2_error_set(err, S2_E_NET, "%s: %s's choice has no finish_reason: sys2 cannot tell how it ended", h->url,
                            h->prof->name);
    }
    g->finish = "length";
    if (ours != NULL) {
        g->finish = strcmp(ours, "stop") == 0 ? "stop" : strcmp(ours, "eos") == 0 ? "eos" : "length";
        if (strcmp(g->finish, "stop") == 0) stop_str = json_string_value(json_object_get(ch, "stop_reason"));
    } else if (strcmp(fin, "stop") == 0) {
        const char *field = NULL;
        if (!matched_stop(h, ch, resp, p, &stop_str, &field)) {
            free(raw);
            return s2_error_set(err, S2_E_NET, "%s: %s's choice ended with \"stop\" without %s: sys2 cannot tell which "
                                "stop string (or EOS) ended it", h->url, h->prof->name, field);
        }
        g->finish = stop_str != NULL ? "stop" : "eos";
    }
    /* a server that leaves the stop string out of the text (OpenAI's rule, llama-server) gets it put back, as the
     * local engine keeps it */
    size_t extra = 0;
    if (strcmp(g->finish, "stop") == 0 && stop_str != NULL) {
        size_t sl = strlen(stop_str);
        if (!(tl >= sl && memcmp(text + tl - sl, stop_str, sl) == 0)) extra = sl;
    }
    g->text = malloc(tl + extra + 1);
    if (g->text == NULL) {
        free(raw);
        return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    }
    memcpy(g->text, text, tl);
    if (extra) memcpy(g->text + tl, stop_str, extra);
    g->text[tl + extra] = '\0';
    *len = tl + extra; /* the text may hold NULs, as the local engine's may */
    free(raw);
    json_t *l = json_object_get(ch, "logprobs");
    /* the completions format (token_logprobs), or the chat format (content[].logprob), which chat endpoints and
     * llama-server's completions use */
    json_t *tlp = json_object_get(l, "token_logprobs");
    bool listed = !json_is_array(tlp);
    if (listed) tlp = json_object_get(l, "content");
    json_t *ids = json_object_get(l, "sys2_token_ids");
    if (!json_is_array(tlp) && tl > 0) /* log-probs were asked for: never read a missing one as 0 */
        return s2_error_set(err, S2_E_NET, "%s: %s's choice has no log-probs for its sampled tokens (no "
                            "choices[].logprobs.%s)", h->url, h->prof->name, h->chat || listed ? "content" : "token_logprobs");
    int32_t n = json_is_array(tlp) ? (int32_t)json_array_size(tlp) : 0;
    if (n > 0) {
        g->tokens = malloc((size_t)n * sizeof *g->tokens);
        g->logprobs = malloc((size_t)n * sizeof *g->logprobs);
        if (g->tokens == NULL || g->logprobs == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    }
    g->n_tokens = n;
    g->logprob = 0;
    for (int32_t i = 0; i < n; i++) {
        json_t *e = json_array_get(tlp, (size_t)i);
        json_t *id = listed ? json_object_get(e, "sys2_id") : json_array_get(ids, (size_t)i);
        if (listed && id == NULL) id = json_object_get(e, "id"); /* llama-server names the token id */
        if (listed) e = json_object_get(e, "logprob");
        if (!json_is_number(e))
            return s2_error_set(err, S2_E_NET, "%s: sampled token %d has no log-prob in the response", h->url, i);
        g->logprobs[i] = (float)json_number_value(e);
        g->tokens[i] = json_is_integer(id) ? (int32_t)json_integer_value(id) : -1;
        g->logprob += g->logprobs[i];
    }
    return S2_OK;
}

/* Sends every sampling parameter sys2 uses, neutral values too, so that no server default applies (llama-server's
 * top_k 40, top_p 0.95, min_p 0.05 otherwise would); refuses before any request what the profile cannot take. */
static s2_status sampling_fields(http_lm *h, json_t *b, const s2_lm_sample_params *p, s2_error *err) {
    const http_profile *pr = h->prof;
    const s2_sample_params *sp = &p->sample;
    if (!pr->top_k_min_p && (sp->top_k > 0 || sp->min_p > 0))
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s takes no %s parameter (top_k %d, min_p %g asked)", h->url,
                            pr->name, sp->top_k > 0 ? "top_k" : "min_p", sp->top_k, sp->min_p);
    json_object_set_new(b, "temperature", json_real(sp->temperature));
    json_object_set_new(b, "top_p", json_real(sp->top_p));
    if (pr->top_k_min_p) {
        json_object_set_new(b, "top_k", json_integer(sp->top_k > 0 ? sp->top_k : pr->top_k_off));
        json_object_set_new(b, "min_p", json_real(sp->min_p));
    }
    json_object_set_new(b, "presence_penalty", json_real(0));
    json_object_set_new(b, "frequency_penalty", json_real(0));
    if (pr->top_k_min_p) json_object_set_new(b, "repetition_penalty", json_real(1));
    if (pr->llama_samplers) { /* llama.cpp's samplers sys2 does not have, each off */
        json_object_set_new(b, "repeat_penalty", json_real(1));
        json_object_set_new(b, "typical_p", json_real(1));
        json_object_set_new(b, "mirostat", json_integer(0));
        json_object_set_new(b, "dry_multiplier", json_real(0));
        json_object_set_new(b, "xtc_probability", json_real(0));
        json_object_set_new(b, "top_n_sigma", json_real(-1));
        json_object_set_new(b, "dynatemp_range", json_real(0));
        json_object_set_new(b, "verbose", json_true()); /* __verbose.stop_type / stopping_word: which stop ended it */
        json_object_set_new(b, "n_probs", json_integer(pr->sample_logprobs)); /* builds that do not read "logprobs" */
        json_object_set_new(b, "post_sampling_probs", json_false()); /* the model's log-probs, not the sampler's */
    }
    if (pr->keep_stop) json_object_set_new(b, pr->keep_stop, json_true());
    json_object_set_new(b, "logprobs", h->chat ? json_true() : json_integer(pr->sample_logprobs));
    if (p->n_stops > 0) {
        json_t *stops = json_array();
        for (int32_t k = 0; k < p->n_stops; k++)
            if (p->stops[k] && p->stops[k][0]) json_array_append_new(stops, json_string(p->stops[k]));
        if (json_array_size(stops) > 0) json_object_set_new(b, "stop", stops);
        else json_decref(stops);
    }
    return S2_OK;
}

static s2_status http_sample(s2_lm *lm, const s2_lm_seq *seqs, int32_t n, const s2_lm_sample_params *p,
                             s2_lm_gen *out, s2_error *err) {
    http_lm *h = H(lm);
    if (n <= 0) return S2_OK;
    for (int32_t i = 0; i < n; i++) {
        if (get_seq(h, seqs[i], err) == NULL) return S2_E_ARG;
        for (int32_t j = 0; j < i; j++)
            if (seqs[j] == seqs[i]) return s2_error_set(err, S2_E_ARG, "lm: sequence %d given twice to sample", seqs[i]);
    }
    if (p->max_tokens <= 0) {
        for (int32_t i = 0; i < n; i++) {
            out[i].finish = "length";
            out[i].text = calloc(1, 1);
            if (out[i].text == NULL) return s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
        }
        return S2_OK;
    }
    if (!h->asked) find_profile(h);
    /* runs of sequences with the same text: one request with n choices where the profile allows (choice j =
     * sequence first + j), else one request each, decided here, before any request */
    int32_t max_group = h->prof->n_native ? 64 : 1;
    int32_t *first = malloc((size_t)n * sizeof *first), *group = malloc((size_t)n * sizeof *group), n_req = 0;
    size_t *lens = calloc((size_t)n, sizeof *lens);
    xfer *x = calloc((size_t)n, sizeof *x);
    s2_status st = first && group && x && lens ? S2_OK : s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    int32_t lead = 0; /* the first request of the current run of equal texts */
    for (int32_t i = 0; st == S2_OK && i < n;) {
        const http_seq *q = &h->seqs[seqs[i]];
        int32_t m = 1;
        while (i + m < n && m < max_group && h->seqs[seqs[i + m]].len == q->len &&
               memcmp(h->seqs[seqs[i + m]].text, q->text, q->len) == 0)
            m++;
        bool same = n_req > 0 && h->seqs[seqs[first[lead]]].len == q->len &&
                    memcmp(h->seqs[seqs[first[lead]]].text, q->text, q->len) == 0;
        if (!same) lead = n_req;
        group[n_req] = lead;
        json_t *b = base_body(h, q->text, q->len, err);
        if (b == NULL) {
            st = err ? err->code : S2_E_ARG;
            break;
        }
        json_object_set_new(b, "n", json_integer(m));
        json_object_set_new(b, "max_tokens", json_integer(p->max_tokens));
        uint64_t seed = p->seed + GOLDEN * (uint64_t)i;
        if (h->prof->llama_samplers) seed &= 0x7fffffff; /* llama.cpp's seed is a uint32, 0xFFFFFFFF meaning random */
        json_object_set_new(b, "seed", json_integer((json_int_t)seed));
        st = sampling_fields(h, b, p, err);
        first[n_req] = i;
        if (st == S2_OK) st = add_body(&x[n_req++], b, err);
        else json_decref(b);
        i += m;
    }
    if (st == S2_OK) st = run_all(h, x, n_req, err);
    /* spent even if a choice fails: counted before the choices are read */
    int64_t *seen = calloc((size_t)(n_req > 0 ? n_req : 1), sizeof *seen);
    if (st == S2_OK && seen == NULL) st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    for (int32_t r = 0; st == S2_OK && r < n_req; r++) {
        const http_seq *q = &h->seqs[seqs[first[r]]];
        bool sibling = group[r] != r;
        st = count_usage(h, x[r].json, sibling ? seen[group[r]] : q->known, 0, sibling, true, &seen[r], err);
    }
    for (int32_t r = 0; st == S2_OK && r < n_req; r++) {
        int32_t end = r + 1 < n_req ? first[r + 1] : n;
        json_t *choices = json_object_get(x[r].json, "choices");
        if ((int32_t)json_array_size(choices) != end - first[r]) {
            st = s2_error_set(err, S2_E_NET, "%s: asked %s for %d choices, got %zu (use --server to say what it is)",
                              h->url, h->prof->name, end - first[r], json_array_size(choices));
            break;
        }
        for (int32_t i = first[r]; st == S2_OK && i < end; i++) {
            json_t *ch = json_array_get(choices, (size_t)(i - first[r]));
            json_t *idx = json_object_get(ch, "index"); /* choices may come in any order */
            if (json_is_integer(idx) && json_integer_value(idx) >= 0 && json_integer_value(idx) < end - first[r]) {
                size_t k;
                json_t *e;
                json_array_foreach(choices, k, e)
                    if (json_integer_value(json_object_get(e, "index")) == i - first[r]) ch = e;
            }
            st = parse_gen(h, ch, x[r].json, p, &out[i], &lens[i], err);
            /* the server now holds the prompt and this choice's tokens, the stop string's too. A request of one choice
             * says how many in completion_tokens; the log-probs may not (llama-server cuts the stop word's), and a
             * token missed here would count again as computed prompt on the next step, where the local engine,
             * which counted it generated, has it in the KV cache */
            int64_t got = out[i].n_tokens;
            json_t *jc = json_object_get(json_object_get(x[r].json, "usage"), "completion_tokens");
            if (end - first[r] == 1 && json_is_integer(jc) && json_integer_value(jc) > got) got = json_integer_value(jc);
            if (st == S2_OK) h->seqs[seqs[i]].known = seen[r] + got;
        }
    }
    for (int32_t i = 0; st == S2_OK && i < n; i++)
        if (text_append(&h->seqs[seqs[i]], out[i].text, lens[i]) != S2_OK)
            st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory");
    if (st != S2_OK)
        for (int32_t i = 0; i < n; i++) s2_lm_gen_free(&out[i]);
    xfers_free(x, n);
    free(first);
    free(group);
    free(lens);
    free(seen);
    return st;
}

/* ---- the server's tokenizer: its tokenize endpoint, as the profile says ---- */

/* The server's root (the base without its /v1) followed by path; malloc'd, or NULL when out of memory. */
static char *root_url(const http_lm *h, const char *path) {
    size_t n = strlen(h->url);
    const char *suffix = h->chat ? "/chat/completions" : "/completions";
    size_t base = n - strlen(suffix);
    size_t root = base >= 3 && memcmp(h->url + base - 3, "/v1", 3) == 0 ? base - 3 : base;
    char *u = malloc(root + strlen(path) + 1);
    if (u == NULL) return NULL;
    memcpy(u, h->url, root);
    strcpy(u + root, path);
    return u;
}

/* One POST of b (stolen) to the server's root + path, answered with any JSON object: *out owns the transfer. */
static s2_status post_root(http_lm *h, const char *path, json_t *b, char **url, xfer **out, s2_error *err) {
    *out = NULL;
    *url = root_url(h, path);
    xfer *x = calloc(1, sizeof *x);
    s2_status st = *url && x ? add_body(x, b, err) : (json_decref(b), s2_error_set(err, S2_E_NOMEM, "http: out of memory"));
    if (st == S2_OK) {
        x->url = *url;
        x->any_json = true;
        st = run_all(h, x, 1, err);
    }
    if (st != S2_OK && x != NULL && x->code == 404) /* say what is missing, not only that a page is */
        s2_error_set(err, S2_E_UNSUPPORTED, "%s: HTTP 404: this %s has no %s endpoint", *url, h->prof->name, path);
    if (st != S2_OK) {
        xfers_free(x, x ? 1 : 0);
        return st;
    }
    *out = x;
    return S2_OK;
}

/* A piece as llama-server writes it: a string, or an array of its bytes (not UTF-8). False when neither. */
static bool piece_bytes(json_t *p, s2_lm_tokens *t, int32_t i, size_t *cap) {
    size_t n = json_is_string(p) ? json_string_length(p) : json_is_array(p) ? json_array_size(p) : 0;
    if (!json_is_string(p) && !json_is_array(p)) return false;
    size_t at = (size_t)t->piece_off[i];
    if (at + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < at + n + 1) nc *= 2;
        char *nb = realloc(t->bytes, nc);
        if (nb == NULL) return false;
        t->bytes = nb;
        *cap = nc;
    }
    if (json_is_string(p)) memcpy(t->bytes + at, json_string_value(p), n);
    for (size_t b = 0; json_is_array(p) && b < n; b++) {
        json_t *v = json_array_get(p, b);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255) return false;
        t->bytes[at + b] = (char)json_integer_value(v);
    }
    t->piece_off[i + 1] = (int32_t)(at + n);
    return true;
}

static s2_status http_tokenize(s2_lm *lm, const char *text, size_t len, bool add_bos, bool parse_special,
                               s2_lm_tokens *out, s2_error *err) {
    http_lm *h = H(lm);
    if (!h->asked) find_profile(h);
    const http_profile *pr = h->prof;
    if (pr->tok == TOK_NONE)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s has no tokenize endpoint (%s): give the model or vocabulary "
                            "file, or --server if it is another kind", h->url, pr->name,
                            pr == &profiles[PROF_OPENAI] ? "the OpenAI API gives no tokenizer" : "sys2 knows of none");
    if (!parse_special && !pr->tok_special_field)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s's /tokenize always turns the text of special tokens into "
                            "their ids (Hugging Face's tokenizer): ask for that (--special)", h->url, pr->name);
    bool lossy = false;
    json_t *jt = s2_json_text(text, len, &lossy);
    if (lossy && pr != &profiles[PROF_SYS2]) {
        json_decref(jt);
        return s2_error_set(err, S2_E_ARG, "%s: the text is not UTF-8, which a JSON request to %s cannot carry", h->url,
                            pr->name);
    }
    json_t *b = json_object();
    if (pr->tok == TOK_LLAMA) {
        json_object_set_new(b, "content", jt);
        json_object_set_new(b, "add_special", json_boolean(add_bos));
        json_object_set_new(b, "parse_special", json_boolean(parse_special));
        json_object_set_new(b, "with_pieces", json_true());
        if (lossy) json_object_set_new(b, "sys2_content_hex", hex_of(text, len));
    } else {
        if (h->model) json_object_set_new(b, "model", json_string(h->model));
        json_object_set_new(b, "prompt", jt);
        json_object_set_new(b, "add_special_tokens", json_boolean(add_bos));
    }
    char *url = NULL;
    xfer *x = NULL;
    s2_status st = post_root(h, "/tokenize", b, &url, &x, err);
    json_t *toks = st == S2_OK ? json_object_get(x->json, "tokens") : NULL;
    if (st == S2_OK && !json_is_array(toks))
        st = s2_error_set(err, S2_E_NET, "%s: %s's answer has no \"tokens\" array", url, pr->name);
    json_t *count = st == S2_OK ? json_object_get(x->json, "count") : NULL;
    if (st == S2_OK && json_is_integer(count) && json_integer_value(count) != (json_int_t)json_array_size(toks))
        st = s2_error_set(err, S2_E_NET, "%s: \"count\" %lld but %zu tokens", url, (long long)json_integer_value(count),
                          json_array_size(toks));
    int32_t n = st == S2_OK ? (int32_t)json_array_size(toks) : 0;
    /* pieces come as objects; asked for in llama-server's shape, so an empty answer has (no) pieces too */
    bool with_pieces = n > 0 ? json_is_object(json_array_get(toks, 0)) : pr->tok == TOK_LLAMA;
    if (st == S2_OK) {
        out->ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *out->ids);
        if (with_pieces) out->piece_off = calloc((size_t)n + 1, sizeof *out->piece_off);
        if (out->ids == NULL || (with_pieces && out->piece_off == NULL))
            st = s2_error_set(err, S2_E_NOMEM, "http: out of memory");
    }
    size_t cap = 0;
    for (int32_t i = 0; st == S2_OK && i < n; i++) {
        json_t *e = json_array_get(toks, (size_t)i);
        json_t *id = with_pieces ? json_object_get(e, "id") : e;
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > INT32_MAX ||
            (with_pieces && !piece_bytes(json_object_get(e, "piece"), out, i, &cap)))
            st = s2_error_set(err, S2_E_NET, "%s: token %d of the answer is not %s", url, i,
                              with_pieces ? "{\"id\": id, \"piece\": string or bytes}" : "an id");
        else out->ids[i] = (int32_t)json_integer_value(id);
    }
    if (st == S2_OK && with_pieces && out->bytes == NULL) out->bytes = calloc(1, 1); /* only empty pieces */
    if (st == S2_OK && with_pieces && out->bytes == NULL) st = s2_error_set(err, S2_E_NOMEM, "http: out of memory");
    if (st == S2_OK) out->n = n;
    xfers_free(x, x ? 1 : 0);
    free(url);
    return st;
}

/* ---- log-probs at every prompt position: echo + top logprobs, one token generated ---- */

/* The entries of one top_logprobs row: sys2 serve's sys2_top list [{id, token, logprob, hex?}], or the completions
 * format's {token: logprob} dict (a "token_id:N" key names the id, as vLLM writes it when asked). Into row (cap
 * entries), sorted best first; returns the count, or -1 when the row is not one of these. */
static int32_t parse_top_row(json_t *list, json_t *dict, s2_lm_top *row, int32_t cap) {
    int32_t m = 0;
    size_t i;
    json_t *e;
    const char *key;
    if (json_is_array(list)) {
        json_array_foreach(list, i, e) {
            json_t *lpv = json_object_get(e, "logprob"), *id = json_object_get(e, "id");
            if (!json_is_number(lpv)) return -1;
            if (m == cap) continue;
            row[m].id = json_is_integer(id) ? (int32_t)json_integer_value(id) : -1;
            row[m].logprob = (float)json_number_value(lpv);
            const char *hx = json_string_value(json_object_get(e, "hex"));
            if (hx == NULL || !unhex(hx, row[m].piece, sizeof row[m].piece))
                set_piece(&row[m], json_string_value(json_object_get(e, "token")));
            m++;
        }
    } else if (json_is_object(dict)) {
        json_object_foreach(dict, key, e) {
            if (!json_is_number(e)) return -1;
            if (m == cap) continue;
            long long v = -1;
            int used = 0;
            bool as_id = strncmp(key, "token_id:", 9) == 0 && sscanf(key + 9, "%lld%n", &v, &used) == 1 &&
                         key[9 + used] == '\0' && v >= 0 && v <= INT32_MAX;
            row[m].id = as_id ? (int32_t)v : -1;
            row[m].logprob = (float)json_number_value(e);
            set_piece(&row[m], as_id ? "" : key);
            m++;
        }
    } else {
        return -1;
    }
    qsort(row, (size_t)m, sizeof *row, s2_lm_top_cmp);
    return m;
}

static s2_status http_prompt_logprobs(s2_lm *lm, const int32_t *ids, int32_t n_ids, const char *text, int32_t k,
                                      s2_lm_prompt_lp *out, s2_error *err) {
    http_lm *h = H(lm);
    if (h->chat)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: a chat endpoint gives no prompt log-probs (no echo); use the "
                            "/v1 base", h->url);
    if (!h->asked) find_profile(h);
    const http_profile *pr = h->prof;
    if (!pr->echo)
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s gives no prompt log-probs: %s", h->url, pr->name, pr->no_echo);
    if (pr->max_top > 0 && (k == 0 || k > pr->max_top))
        return s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s gives at most %d log-probs per position (asked for %s)",
                            h->url, pr->name, pr->max_top, k == 0 ? "the full vocabulary" : "more");
    json_t *b = NULL;
    if (ids != NULL) {
        b = json_object();
        json_t *arr = json_array();
        for (int32_t i = 0; i < n_ids; i++) json_array_append_new(arr, json_integer(ids[i]));
        if (h->model) json_object_set_new(b, "model", json_string(h->model));
        json_object_set_new(b, "prompt", arr);
    } else {
        b = base_body(h, text, strlen(text), err);
        if (b == NULL) return err ? err->code : S2_E_NOMEM;
    }
    json_object_set_new(b, "max_tokens", json_integer(1)); /* the last position's row is the generated token's */
    json_object_set_new(b, "echo", json_true());
    json_object_set_new(b, "logprobs", json_integer(k > 0 ? k : -1));
    json_object_set_new(b, "temperature", json_real(0));
    json_object_set_new(b, "seed", json_integer(0));
    if (pr->ids_as_tokens) json_object_set_new(b, "return_tokens_as_token_ids", json_true());
    xfer *x = calloc(1, sizeof *x);
    s2_status st = x ? add_body(x, b, err) : (json_decref(b), s2_error_set(err, S2_E_NOMEM, "lm: out of memory"));
    if (st == S2_OK) st = run_all(h, x, 1, err);
    json_t *l = st == S2_OK ? json_object_get(choice0(x->json), "logprobs") : NULL;
    json_t *tops = json_object_get(l, "top_logprobs"), *ours = json_object_get(l, "sys2_top");
    json_t *jp = st == S2_OK ? json_object_get(json_object_get(x->json, "usage"), "prompt_tokens") : NULL;
    int64_t P = json_is_integer(jp) ? json_integer_value(jp) : -1;
    if (st == S2_OK && P < 1)
        st = s2_error_set(err, S2_E_NET, "%s: %s's answer has no usage.prompt_tokens: sys2 cannot tell the prompt's "
                          "positions from the generated token's", h->url, pr->name);
    if (st == S2_OK && (!json_is_array(tops) || (int64_t)json_array_size(tops) < P + 1))
        st = s2_error_set(err, S2_E_UNSUPPORTED, "%s: %s returned %s for a prompt of %lld tokens: no prompt log-probs "
                          "(echo + logprobs)", h->url, pr->name, json_is_array(tops) ? "too few top_logprobs rows" :
                          "no choices[0].logprobs.top_logprobs", (long long)P);
    if (st == S2_OK && ids != NULL && P != n_ids)
        st = s2_error_set(err, S2_E_NET, "%s: sent %d token ids, the server counts %lld prompt tokens", h->url, n_ids,
                          (long long)P);
    int32_t kk = k;
    for (int64_t i = 1; st == S2_OK && kk == 0 && i <= P; i++) { /* the full vocabulary: as many as the rows hold */
        json_t *r = json_array_get(ours, (size_t)i), *d = json_array_get(tops, (size_t)i);
        size_t m = json_is_array(r) ? json_array_size(r) : json_object_size(d);
        if ((int64_t)m > kk) kk = (int32_t)m;
    }
    if (st == S2_OK && kk < 1) st = s2_error_set(err, S2_E_NET, "%s: every top_logprobs row is empty", h->url);
    if (st == S2_OK) {
        out->n = (int32_t)P;
        out->k = kk;
        out->ids = malloc((size_t)P * sizeof *out->ids);
        out->n_top = calloc((size_t)P, sizeof *out->n_top);
        out->top = calloc((size_t)P * (size_t)kk, sizeof *out->top);
        if (out->ids == NULL || out->n_top == NULL || out->top == NULL)
            st = s2_error_set(err, S2_E_NOMEM, "lm: out of memory for %lld x %d log-probs", (long long)P, kk);
    }
    json_t *our_ids = json_object_get(l, "sys2_token_ids"), *strs = json_object_get(l, "tokens");
    for (int32_t i = 0; st == S2_OK && i < out->n; i++) {
        json_t *id = json_array_get(our_ids, (size_t)i);
        const char *tok = json_string_value(json_array_get(strs, (size_t)i));
        long long v = -1;
        if (json_is_integer(id)) v = json_integer_value(id);
        else if (ids != NULL) v = ids[i];
        else if (pr->ids_as_tokens && tok && sscanf(tok, "token_id:%lld", &v) != 1) v = -1;
        out->ids[i] = v >= 0 && v <= INT32_MAX ? (int32_t)v : -1;
        /* row i: the distribution of token i + 1, which the echo lists at entry i + 1 (entry P: the generated one) */
        int32_t m = parse_top_row(json_array_get(ours, (size_t)i + 1), json_array_get(tops, (size_t)i + 1),
                                  out->top + (size_t)i * (size_t)kk, kk);
        if (m < 1)
            st = s2_error_set(err, S2_E_NET, "%s: %s gave no top log-probs for prompt position %d (top_logprobs[%d])",
                              h->url, pr->name, i, i + 1);
        else out->n_top[i] = m;
    }
    if (st == S2_OK) st = count_usage(h, x->json, 0, P - 1, false, true, NULL, err);
    if (st == S2_OK) h->c.scored_tokens += P - 1;
    xfers_free(x, x ? 1 : 0);
    return st;
}

/* ---- the vtable ---- */

static void http_counters(const s2_lm *lm, s2_counters *out) { *out = ((const http_lm *)lm->ctx)->c; }

static s2_status http_caps(s2_lm *lm, s2_lm_caps *out, s2_error *err) {
    (void)err;
    http_lm *h = H(lm);
    if (!h->asked) find_profile(h);
    const http_profile *p = h->prof;
    snprintf(out->server, sizeof out->server, "%s", p->name);
    out->token_logprobs = true;
    out->prompt_logprobs = p->echo && !h->chat;
    /* once responses came: whether any was estimated. Before: servers that report cached tokens are sys2 serve,
     * llama-server and OpenAI; vLLM and SGLang only when started with --enable-prompt-tokens-details /
     * --enable-cache-report, so they count as estimated until a response says otherwise */
    out->counts_estimated = h->counted ? h->estimated
                                       : p != &profiles[PROF_SYS2] && p != &profiles[PROF_LLAMA] &&
                                             p != &profiles[PROF_OPENAI];
    out->tokenizer = p->tok != TOK_NONE;
    out->max_top = p->max_top;
    if (!out->prompt_logprobs)
        snprintf(out->why, sizeof out->why, "%s at %s: %s", p->name, h->url,
                 h->chat ? "a chat endpoint has no echo" : p->no_echo);
    return S2_OK;
}

static void http_free(s2_lm *lm) {
    http_lm *h = H(lm);
    if (h == NULL) return;
    for (int32_t s = 0; s < h->n_seqs; s++) free(h->seqs[s].text);
    free(h->seqs);
    if (h->multi) curl_multi_cleanup(h->multi);
    free(h->url);
    free(h->model);
    free(h->auth);
    free(h);
}

#define TIMED(ret, name, params, args)    \
    static ret timed_##name params {      \
        int64_t t0 = now_ns();            \
        ret r = http_##name args;         \
        H(lm)->c.ns += now_ns() - t0;     \
        return r;                         \
    }
S2_LM_TIMED_CALLS(TIMED)
#undef TIMED

static const struct s2_lm_i http_iface = {
    .name = "http",
    .seq_new = http_seq_new,
    .fork = http_fork,
    .append = http_append,
    .seq_free = http_seq_free,
    .score = timed_score,
    .score_labels = timed_score_labels,
    .top_k = timed_top_k,
    .sample = timed_sample,
    .counters = http_counters,
    .free = http_free,
    .caps = http_caps,
    .tokenize = http_tokenize,
    .prompt_logprobs = http_prompt_logprobs,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static bool ends_with(const char *s, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n >= k && memcmp(s + n - k, suf, k) == 0;
}

s2_status s2_lm_http_open(const char *url, const s2_lm_open_params *params, s2_lm **out, s2_error *err) {
    s2_lm_open_params p = params ? *params : s2_lm_open_default_params();
    *out = NULL;
    if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return s2_error_set(err, S2_E_ARG, "http: '%s' is not an http:// or https:// URL", url ? url : "(null)");
    pthread_once(&curl_once, curl_init_once);
    s2_lm *lm = calloc(1, sizeof *lm);
    http_lm *h = calloc(1, sizeof *h);
    if (lm == NULL || h == NULL) {
        free(lm);
        free(h);
        return s2_error_set(err, S2_E_NOMEM, "http: out of memory");
    }
    lm->iface = &http_iface;
    lm->ctx = h;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    h->url = malloc(n + 32);
    if (h->url != NULL) {
        memcpy(h->url, url, n);
        h->url[n] = '\0';
        if (ends_with(url, n, "/chat/completions")) h->chat = true;
        else if (!ends_with(url, n, "/completions")) strcat(h->url, "/completions");
    }
    h->model = p.model_name ? strdup(p.model_name) : NULL;
    if (p.server != NULL && strcmp(p.server, "auto") != 0) {
        h->prof = profile_by_flag(p.server);
        if (h->prof == NULL || h->prof == &profiles[PROF_UNKNOWN]) {
            s2_lm_free(lm);
            return s2_error_set(err, S2_E_ARG, "http: --server '%s' is not one of llama, vllm, sglang, openai, sys2, auto",
                                p.server);
        }
        h->forced = true;
        if (h->prof->score_max_tokens_1) h->no_zero_tokens = true;
    }
    const char *key = getenv("SYS2_API_KEY");
    if (key != NULL && key[0] != '\0') {
        h->auth = malloc(strlen(key) + 32);
        if (h->auth) snprintf(h->auth, strlen(key) + 32, "Authorization: Bearer %s", key);
    }
    h->max_in_flight = p.max_in_flight > 0 ? p.max_in_flight : 16;
    h->timeout_ms = (long)((p.timeout_s > 0 ? p.timeout_s : 25) * 1000);
    h->tries = 1 + (p.retries >= 0 ? p.retries : 3);
    h->backoff_ms = 100;
    h->multi = curl_multi_init();
    if (h->url == NULL || h->multi == NULL || (p.model_name && h->model == NULL) || (key && key[0] && h->auth == NULL)) {
        s2_lm_free(lm);
        return s2_error_set(err, S2_E_NOMEM, "http: out of memory");
    }
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->max_in_flight);
    *out = lm;
    return S2_OK;
}

void s2_lm_http_set_retries(s2_lm *lm, int32_t tries, int32_t first_backoff_ms) {
    if (lm == NULL || lm->iface != &http_iface) return;
    H(lm)->tries = tries < 1 ? 1 : tries;
    H(lm)->backoff_ms = first_backoff_ms < 0 ? 0 : first_backoff_ms;
}

s2_status (*s2_lm_http_open_hook)(const char *url, const s2_lm_open_params *p, s2_lm **out, s2_error *err) =
    s2_lm_http_open;
