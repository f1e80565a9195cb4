/* serve.c: the OpenAI-compatible HTTP server over the local engine (see serve.h).
 *
 * Threads: libmicrohttpd runs one thread per connection; a request thread reads the body (at most max_body bytes),
 * parses it with Jansson, tokenizes the prompt (the vocabulary is read-only), queues a job and waits on the job's
 * condition variable. One engine thread owns the s2_ctx: it admits queued jobs while the running ones leave room
 * (parallel sequences), prefills each prompt through the prefix cache, scores echoed prompts by teacher forcing, and
 * then decodes every running choice of every job together, one token per choice per forward.
 *
 * The sampling step is core/lm.c's local_sample, token for token: the same s2_sample call on the same logits with
 * an RNG seeded the same way, the same end-of-generation rule, and the same stop-string rule (the text ends right
 * after the earliest-ending stop string). This file must not print: errors go back to the client as JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "ctx.h"
#include "http.h"
#include "lm_backend.h"
#include "serve.h"

#define MAX_STOPS 16
#define MAX_TOP 20      /* logprobs / top_logprobs at most */
#define MAX_N 64        /* choices per request at most */
#define MAX_ECHO_TOP 1000000 /* echo: prompt tokens x logprobs at most (each a JSON entry or two) */

/* ---- jobs ---- */

typedef struct sse {              /* server-sent events written and not yet read */
    char *buf;
    size_t len, cap, read;
    bool oom;
} sse;

typedef struct choice {
    s2_seq seq;
    float *logits;                /* (V) next-token logits */
    s2_rng rng;
    bool active;
    char *text;                   /* generated text (pieces, cut after a stop string) */
    size_t tlen, tcap, scan;
    int32_t *toks, n, cap;
    float *lps;                   /* (n) */
    s2_lm_top *tops;              /* (n * k) when logprobs k > 0 */
    const char *finish;           /* "stop", "eos", "length", "context" (the context is full) */
    int32_t stop_idx;             /* which stop string ended it, or -1 */
} choice;

typedef struct job {
    /* request */
    bool chat;
    int32_t *prompt;              /* (n_prompt) tokens */
    int32_t n_prompt, split;      /* echo: prompt tokens before split get no log-prob (and may come from the cache) */
    char *prompt_text;            /* the prompt as text (for echo), NULL when given as tokens */
    size_t prompt_len;            /* its bytes (it may hold NULs) */
    int32_t n;
    s2_sample_params sp;
    int32_t max_tokens;
    char *stops[MAX_STOPS];
    int32_t n_stops;
    uint64_t seed;
    int32_t logprobs;             /* -1: none; else top-k per token (0: only the chosen token's) */
    bool echo, include_stop;
    bool stream, stream_usage;    /* stream: true (server-sent events); stream_options.include_usage */
    bool max_unset;               /* chat without max_tokens: as many as the context holds (OpenAI's default) */
    /* stream: the events (mu), what of each choice's text they carry, and who frees the job */
    sse out;
    size_t *sent;                 /* (n) bytes of each choice's text in the events */
    bool began, out_final;        /* the first events; the last ([DONE] or an error) */
    bool abandoned;               /* the response is gone (client done or away): the engine frees the job when done */
    char sid[48];
    /* result */
    float *echo_lp;               /* (n_prompt): NAN where none */
    s2_lm_top *echo_top;          /* (n_prompt * logprobs) with echo and logprobs > 0: row t is the distribution of
                                   * prompt token t (id -1 rows where none: row 0, rows before split) */
    int32_t n_cached;
    choice *ch;                   /* (n) */
    int http;                     /* 0 ok, else the HTTP status of the failure */
    char msg[256];
    bool done;
    pthread_cond_t cv;
    struct job *next;
} job;

struct s2_server {
    s2_server_params p;
    char host[64], name[128];
    const s2_model *m;
    const s2_vocab *v;
    int32_t V, n_ctx;
    s2_ctx *ctx;
    void *scratch;
    struct MHD_Daemon *d;
    int32_t port;
    pthread_t engine;
    bool engine_started;
    pthread_mutex_t mu;
    pthread_cond_t work;
    job *q_head, *q_tail;         /* waiting jobs (mu) */
    int32_t n_waiting;
    job **run;                    /* running jobs (engine thread only) */
    int32_t n_run, cap_run, n_active_seqs;
    bool stop;
    uint64_t seed_ctr;
    int64_t next_id;
    s2_server_stats st;           /* (mu) */
};

static uint64_t seed_mix(uint64_t seed, uint64_t i) { /* must stay equal to core/lm.c's */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void choice_release(s2_server *s, choice *c) {
    if (c->seq >= 0 && s->ctx != NULL) s2_seq_free(s->ctx, c->seq);
    c->seq = -1;
    c->active = false;
}

static void job_free(job *j) {
    if (j == NULL) return;
    free(j->prompt);
    free(j->prompt_text);
    for (int32_t i = 0; i < j->n_stops; i++) free(j->stops[i]);
    free(j->echo_lp);
    free(j->echo_top);
    for (int32_t i = 0; j->ch && i < j->n; i++) {
        free(j->ch[i].logits);
        free(j->ch[i].text);
        free(j->ch[i].toks);
        free(j->ch[i].lps);
        free(j->ch[i].tops);
    }
    free(j->ch);
    free(j->sent);
    free(j->out.buf);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static int32_t *tokenize(const s2_vocab *v, const char *text, size_t len, bool bos, bool special, int32_t *n) {
    int32_t cap = (int32_t)(len < 1 << 28 ? len : 1 << 28) + 8;
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    if (ids == NULL) return NULL;
    int32_t got = s2_tokenize(v, text, len, bos, special, ids, cap);
    if (got < 0) {
        int32_t *more = realloc(ids, (size_t)(-got) * sizeof(int32_t));
        if (more == NULL) {
            free(ids);
            return NULL;
        }
        ids = more;
        got = s2_tokenize(v, text, len, bos, special, ids, -got);
    }
    *n = got;
    return ids;
}

/* ---- the engine thread ---- */

static void fail_job(job *j, int http, const char *msg) {
    j->http = http;
    snprintf(j->msg, sizeof j->msg, "%s", msg);
}

static int http_of(s2_status st) {
    return st == S2_E_NOMEM ? 503 : st == S2_E_BUDGET || st == S2_E_ARG ? 400 : 500;
}

/* The k most likely tokens of logits, best first (ties: lower id first), as lm.c's top_k; padded to k. */
static void top_of(const s2_server *s, const float *logits, int32_t k, s2_lm_top *out) {
    int32_t m = s2_lm_top_of_logits(s->v, logits, s->V, k, out);
    for (int32_t i = m; i < k; i++) out[i] = (s2_lm_top){.id = -1, .logprob = -INFINITY};
}

/* Prefill (and echo) a job's prompt, then set up its choices. Leaves j->http set on failure; frees what it made. */
static void job_start(s2_server *s, job *j) {
    s2_error err = {0};
    if (j->n_prompt + (j->max_tokens > 0 ? 1 : 0) > s->n_ctx) {
        char m[160];
        snprintf(m, sizeof m, "the prompt has %d tokens; the context holds %d (context_length_exceeded)", j->n_prompt,
                 s->n_ctx);
        fail_job(j, 400, m);
        return;
    }
    if (j->max_unset) j->max_tokens = s->n_ctx - j->n_prompt; /* ends with "length" where the context does */
    s2_seq s0 = -1;
    s2_status st = s2_seq_new(s->ctx, &s0, &err);
    int32_t pre = j->echo ? j->split : j->n_prompt;
    if (pre < 1) pre = 1;
    float *next = malloc((size_t)s->V * sizeof(float));
    if (st == S2_OK && next == NULL) st = s2_error_set(&err, S2_E_NOMEM, "serve: out of memory");
    if (st == S2_OK) st = s2_seq_prefill(s->ctx, s0, j->prompt, pre, &j->n_cached, &err);
    if (st == S2_OK) memcpy(next, s2_ctx_logits(s->ctx, 0), (size_t)s->V * sizeof(float));
    if (st == S2_OK && j->echo) {
        for (int32_t i = 0; i < j->n_prompt; i++) j->echo_lp[i] = NAN;
        int32_t rest = j->n_prompt - pre;
        if (rest > 0) {
            j->echo_lp[pre] = next[j->prompt[pre]] - s2_logsumexp(next, s->V);
            if (j->echo_top) top_of(s, next, j->logprobs, j->echo_top + (size_t)pre * (size_t)j->logprobs);
            s2_seq *seqs = malloc((size_t)rest * sizeof *seqs);
            bool *want = malloc((size_t)rest * sizeof *want);
            if (seqs == NULL || want == NULL) st = s2_error_set(&err, S2_E_NOMEM, "serve: out of memory");
            for (int32_t r = 0; st == S2_OK && r < rest; r++) seqs[r] = s0, want[r] = true;
            if (st == S2_OK) st = s2_ctx_decode(s->ctx, seqs, j->prompt + pre, want, rest, &err);
            for (int32_t r = 0; st == S2_OK && r < rest; r++) {
                const float *lg = s2_ctx_logits(s->ctx, r);
                if (pre + r + 1 < j->n_prompt) {
                    j->echo_lp[pre + r + 1] = lg[j->prompt[pre + r + 1]] - s2_logsumexp(lg, s->V);
                    if (j->echo_top)
                        top_of(s, lg, j->logprobs, j->echo_top + (size_t)(pre + r + 1) * (size_t)j->logprobs);
                } else {
                    memcpy(next, lg, (size_t)s->V * sizeof(float));
                }
            }
            if (st == S2_OK) {
                s->ctx->c.prompt_tokens += rest;
                s->ctx->c.scored_tokens += rest;
            }
            free(seqs);
            free(want);
        }
    }
    for (int32_t i = 0; st == S2_OK && i < j->n; i++) {
        choice *c = &j->ch[i];
        c->finish = "length";
        c->stop_idx = -1;
        c->text = calloc(1, 1);
        c->logits = malloc((size_t)s->V * sizeof(float));
        if (c->text == NULL || c->logits == NULL) {
            st = s2_error_set(&err, S2_E_NOMEM, "serve: out of memory");
            break;
        }
        c->tcap = 1;
        s2_rng_seed(&c->rng, seed_mix(j->seed, (uint64_t)i));
        if (j->max_tokens == 0) continue;
        if (i == 0) c->seq = s0, s0 = -1;
        else st = s2_seq_fork(s->ctx, j->ch[0].seq, &c->seq, &err);
        if (st == S2_OK) {
            memcpy(c->logits, next, (size_t)s->V * sizeof(float));
            c->active = true;
        }
    }
    if (s0 >= 0) s2_seq_free(s->ctx, s0);
    free(next);
    if (st != S2_OK) {
        for (int32_t i = 0; i < j->n; i++) choice_release(s, &j->ch[i]);
        fail_job(j, http_of(st), err.msg);
    }
}

static bool push_token(choice *c, int32_t k, int32_t tok, float lp, const char *piece, int32_t plen) {
    if (c->n == c->cap) {
        int32_t nc = c->cap ? 2 * c->cap : k > MAX_TOP ? 1 : 32; /* k > 20: one token (echo, max_tokens 1) */
        int32_t *nt = realloc(c->toks, (size_t)nc * sizeof *nt);
        if (nt == NULL) return false;
        c->toks = nt;
        float *nl = realloc(c->lps, (size_t)nc * sizeof *nl);
        if (nl == NULL) return false;
        c->lps = nl;
        if (k > 0) {
            s2_lm_top *tp = realloc(c->tops, (size_t)nc * (size_t)k * sizeof *tp);
            if (tp == NULL) return false;
            c->tops = tp;
        }
        c->cap = nc;
    }
    c->toks[c->n] = tok;
    c->lps[c->n++] = lp;
    if (c->tlen + (size_t)plen + 1 > c->tcap) {
        size_t nc = c->tcap ? c->tcap : 64;
        while (nc < c->tlen + (size_t)plen + 1) nc *= 2;
        char *nt = realloc(c->text, nc);
        if (nt == NULL) return false;
        c->text = nt;
        c->tcap = nc;
    }
    memcpy(c->text + c->tlen, piece, (size_t)plen);
    c->tlen += (size_t)plen;
    c->text[c->tlen] = '\0';
    return true;
}

/* One token for every running choice, then one forward over all of them. */
static s2_status engine_step(s2_server *s, s2_error *err) {
    int32_t rows_cap = s->n_active_seqs > 0 ? s->n_active_seqs : 1;
    s2_seq *seqs = malloc((size_t)rows_cap * sizeof *seqs);
    int32_t *toks = malloc((size_t)rows_cap * sizeof *toks);
    choice **who = malloc((size_t)rows_cap * sizeof *who);
    if (seqs == NULL || toks == NULL || who == NULL) {
        free(seqs), free(toks), free(who);
        return s2_error_set(err, S2_E_NOMEM, "serve: out of memory");
    }
    int32_t rows = 0;
    char piece[256];
    s2_status st = S2_OK;
    for (int32_t r = 0; r < s->n_run && st == S2_OK; r++) {
        job *j = s->run[r];
        size_t max_stop = 0;
        for (int32_t k = 0; k < j->n_stops; k++)
            if (strlen(j->stops[k]) > max_stop) max_stop = strlen(j->stops[k]);
        int32_t k_top = j->logprobs > 0 ? j->logprobs : 0;
        for (int32_t i = 0; i < j->n; i++) {
            choice *c = &j->ch[i];
            if (!c->active) continue;
            float lp = 0;
            int32_t tok = s2_sample(c->logits, s->V, &j->sp, &c->rng, s->scratch, &lp);
            s->ctx->c.gen_tokens++;
            int32_t plen = s2_token_to_piece(s->v, tok, false, piece, (int32_t)sizeof piece);
            if (plen < 0) plen = 0;
            if (!push_token(c, k_top, tok, lp, piece, plen)) {
                st = s2_error_set(err, S2_E_NOMEM, "serve: out of memory");
                break;
            }
            if (k_top > 0) top_of(s, c->logits, k_top, c->tops + (size_t)(c->n - 1) * (size_t)k_top);
            if (s2_vocab_is_eog(s->v, tok) || tok == s2_vocab_bos(s->v)) {
                c->finish = "eos";
                choice_release(s, c);
                continue;
            }
            if (s2_seq_len(s->ctx, c->seq) + 1 > s->n_ctx) {
                /* the token cannot be fed: where the local engine's sample call fails with S2_E_BUDGET, this choice
                 * ends with sys2_finish "context" (finish_reason "length"), and the HTTP backend fails the same way */
                for (int32_t i2 = 0; i2 < j->n; i2++) /* the client fails the whole call: stop its siblings too */
                    if (j->ch[i2].active || i2 == i) {
                        j->ch[i2].finish = "context";
                        choice_release(s, &j->ch[i2]);
                    }
                continue;
            }
            size_t from = c->scan > max_stop ? c->scan - max_stop : 0;
            const char *hit = NULL;
            int32_t hit_k = -1;
            for (int32_t k = 0; k < j->n_stops; k++) {
                const char *h = strstr(c->text + from, j->stops[k]);
                if (h != NULL && (hit == NULL || h + strlen(j->stops[k]) < hit)) {
                    hit = h + strlen(j->stops[k]);
                    hit_k = k;
                }
            }
            c->scan = c->tlen;
            if (hit != NULL) {
                c->tlen = (size_t)(hit - c->text);
                c->text[c->tlen] = '\0';
                c->finish = "stop";
                c->stop_idx = hit_k;
                choice_release(s, c);
            } else if (c->n >= j->max_tokens) {
                choice_release(s, c);
            } else {
                seqs[rows] = c->seq;
                toks[rows] = tok;
                who[rows++] = c;
            }
        }
    }
    if (st == S2_OK && rows > 0) {
        st = s2_ctx_decode(s->ctx, seqs, toks, NULL, rows, err);
        for (int32_t r = 0; st == S2_OK && r < rows; r++)
            memcpy(who[r]->logits, s2_ctx_logits(s->ctx, r), (size_t)s->V * sizeof(float));
        pthread_mutex_lock(&s->mu);
        s->st.batches++;
        s->st.batch_rows += rows;
        pthread_mutex_unlock(&s->mu);
    }
    free(seqs);
    free(toks);
    free(who);
    return st;
}

static bool job_running(const job *j) {
    for (int32_t i = 0; i < j->n; i++)
        if (j->ch[i].active) return true;
    return false;
}

static void stream_publish(s2_server *s, job *j, bool final);

/* (mu held) A stream gets its last events; a job whose stream response is gone is freed here. */
static void job_done(s2_server *s, job *j) {
    j->done = true;
    if (j->stream) stream_publish(s, j, true);
    if (j->abandoned) job_free(j);
    else pthread_cond_broadcast(&j->cv);
}

static void *engine_main(void *arg) {
    s2_server *s = arg;
    s2_error err = {0};
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && s->q_head == NULL && s->n_run == 0) pthread_cond_wait(&s->work, &s->mu);
        if (s->stop) break;
        /* admit waiting jobs while the running ones leave room (one job always runs, however many choices) */
        while (s->q_head != NULL && (s->n_active_seqs == 0 || s->n_active_seqs + s->q_head->n <= s->p.parallel)) {
            job *j = s->q_head;
            s->q_head = j->next;
            if (s->q_head == NULL) s->q_tail = NULL;
            s->n_waiting--;
            if (s->n_run == s->cap_run) {
                int32_t nc = s->cap_run ? 2 * s->cap_run : 16;
                job **nr = realloc(s->run, (size_t)nc * sizeof *nr);
                if (nr == NULL) {
                    fail_job(j, 503, "serve: out of memory");
                    job_done(s, j);
                    continue;
                }
                s->run = nr;
                s->cap_run = nc;
            }
            pthread_mutex_unlock(&s->mu);
            job_start(s, j);
            pthread_mutex_lock(&s->mu);
            s->st.completions++;
            if (j->http != 0 || !job_running(j)) {
                job_done(s, j);
            } else {
                s->run[s->n_run++] = j;
                s->n_active_seqs += j->n;
            }
        }
        if (s->n_run == 0) continue;
        pthread_mutex_unlock(&s->mu);
        s2_status st = engine_step(s, &err);
        pthread_mutex_lock(&s->mu);
        for (int32_t r = 0; r < s->n_run;) {
            job *j = s->run[r];
            if (st != S2_OK) {
                for (int32_t i = 0; i < j->n; i++) choice_release(s, &j->ch[i]);
                fail_job(j, http_of(st), err.msg);
            }
            if (job_running(j)) {
                if (j->stream) stream_publish(s, j, false);
                r++;
                continue;
            }
            s->n_active_seqs -= j->n;
            s->run[r] = s->run[--s->n_run];
            job_done(s, j);
        }
    }
    /* stopping: fail what runs and what waits */
    for (int32_t r = 0; r < s->n_run; r++) {
        for (int32_t i = 0; i < s->run[r]->n; i++) choice_release(s, &s->run[r]->ch[i]);
        fail_job(s->run[r], 503, "the server is shutting down");
        job_done(s, s->run[r]);
    }
    s->n_run = 0;
    for (job *j = s->q_head, *next; j != NULL; j = next) {
        next = j->next;
        fail_job(j, 503, "the server is shutting down");
        job_done(s, j);
    }
    s->q_head = s->q_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- JSON helpers ---- */

static json_t *jstr(const char *t, size_t n, bool *lossy) { return s2_json_text(t, n, lossy); }

static json_t *jhex(const char *t, size_t n) {
    static const char hx[] = "0123456789abcdef";
    char *o = malloc(2 * n + 1);
    if (o == NULL) return json_null();
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = hx[(unsigned char)t[i] >> 4];
        o[2 * i + 1] = hx[(unsigned char)t[i] & 15];
    }
    json_t *js = json_stringn(o, 2 * n);
    free(o);
    return js;
}

static json_t *jlp(double x) { return json_real(isfinite(x) ? x : -1e30); }

static json_t *jpiece(const s2_server *s, int32_t id) {
    char piece[256];
    int32_t len = s2_token_to_piece(s->v, id, true, piece, (int32_t)sizeof piece);
    if (len < 0) len = 0;
    return jstr(piece, (size_t)len, NULL);
}

/* One sys2_top entry list (k entries) and the OpenAI top_logprobs dict for the same. */
static void add_tops(const s2_lm_top *t, int32_t k, json_t *list, json_t *dict) {
    for (int32_t i = 0; i < k && t[i].id >= 0; i++) {
        json_t *e = json_object();
        size_t plen = strlen(t[i].piece);
        bool lossy = false;
        json_t *tok = jstr(t[i].piece, plen, &lossy);
        json_object_set_new(e, "id", json_integer(t[i].id));
        json_object_set(e, "token", tok);
        json_object_set_new(e, "logprob", jlp(t[i].logprob));
        if (lossy) json_object_set_new(e, "hex", jhex(t[i].piece, plen));
        json_array_append_new(list, e);
        if (json_object_get(dict, json_string_value(tok)) == NULL)
            json_object_set_new(dict, json_string_value(tok), jlp(t[i].logprob));
        json_decref(tok);
    }
}

static json_t *err_json(const char *msg, const char *type, const char *code) {
    return json_pack("{s:{s:s,s:s,s:s?,s:n}}", "error", "message", msg, "type", type, "code", code, "param");
}

/* ---- request parsing ---- */

static void job_id(s2_server *s, const job *j, char *sid, size_t cap) {
    pthread_mutex_lock(&s->mu);
    int64_t id = s->next_id++;
    pthread_mutex_unlock(&s->mu);
    snprintf(sid, cap, "%s-%lld", j->chat ? "chatcmpl" : "cmpl", (long long)id);
}


typedef struct parse_ctx {
    s2_server *s;
    char msg[256];
} parse_ctx;

static bool bad(parse_ctx *pc, const char *fmt, const char *what) {
    snprintf(pc->msg, sizeof pc->msg, fmt, what);
    return false;
}

static bool get_num(parse_ctx *pc, json_t *o, const char *key, double lo, double hi, double *out) {
    json_t *x = json_object_get(o, key);
    if (x == NULL || json_is_null(x)) return true;
    if (!json_is_number(x)) return bad(pc, "'%s' must be a number", key);
    double v = json_number_value(x);
    if (!(v >= lo && v <= hi)) {
        snprintf(pc->msg, sizeof pc->msg, "'%s' = %g is not in [%g, %g]", key, v, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

/* The sampling fields both endpoints share. */
static bool parse_common(parse_ctx *pc, json_t *o, job *j) {
    double n = 1, temp = 1, top_p = 1, top_k = 0, min_p = 0, max_tokens = -1;
    if (!get_num(pc, o, "n", 1, MAX_N, &n) || !get_num(pc, o, "temperature", 0, 100, &temp) ||
        !get_num(pc, o, "top_p", 0, 1, &top_p) || !get_num(pc, o, "top_k", -1, 1e9, &top_k) ||
        !get_num(pc, o, "min_p", 0, 1, &min_p) || !get_num(pc, o, "max_tokens", 0, 1e7, &max_tokens) ||
        !get_num(pc, o, "max_completion_tokens", 0, 1e7, &max_tokens))
        return false;
    if (n != floor(n) || top_k != floor(top_k) || max_tokens != floor(max_tokens))
        return bad(pc, "%s must be whole numbers", "n, top_k and max_tokens");
    if (top_p <= 0) return bad(pc, "'%s' must be > 0", "top_p");
    j->n = (int32_t)n;
    j->sp = s2_sample_default_params();
    j->sp.temperature = (float)temp;
    j->sp.top_p = (float)top_p;
    j->sp.top_k = top_k > 0 ? (int32_t)top_k : 0;
    j->sp.min_p = (float)min_p;
    /* OpenAI's defaults: 16 for completions; for chat, as many as the context holds (set once the prompt is known) */
    j->max_unset = max_tokens < 0 && j->chat;
    j->max_tokens = max_tokens < 0 ? 16 : (int32_t)max_tokens;
    json_t *stop = json_object_get(o, "stop");
    if (json_is_string(stop)) {
        if (json_string_length(stop) > 0) j->stops[j->n_stops++] = strdup(json_string_value(stop));
    } else if (json_is_array(stop)) {
        if (json_array_size(stop) > MAX_STOPS) return bad(pc, "'stop' has more than %s strings", "16");
        size_t i;
        json_t *e;
        json_array_foreach(stop, i, e) {
            if (!json_is_string(e)) return bad(pc, "'%s' must be a string or an array of strings", "stop");
            if (json_string_length(e) > 0) j->stops[j->n_stops++] = strdup(json_string_value(e));
        }
    } else if (stop != NULL && !json_is_null(stop)) {
        return bad(pc, "'%s' must be a string or an array of strings", "stop");
    }
    for (int32_t i = 0; i < j->n_stops; i++)
        if (j->stops[i] == NULL) return bad(pc, "%s", "out of memory");
    json_t *seed = json_object_get(o, "seed");
    if (json_is_integer(seed)) {
        j->seed = (uint64_t)json_integer_value(seed);
    } else if (seed == NULL || json_is_null(seed)) {
        pthread_mutex_lock(&pc->s->mu);
        j->seed = seed_mix((uint64_t)time(NULL), pc->s->seed_ctr++);
        pthread_mutex_unlock(&pc->s->mu);
    } else {
        return bad(pc, "'%s' must be an integer", "seed");
    }
    json_t *stream = json_object_get(o, "stream");
    if (stream != NULL && !json_is_boolean(stream) && !json_is_null(stream)) return bad(pc, "'%s' must be a boolean", "stream");
    j->stream = json_is_true(stream);
    j->stream_usage = j->stream && json_is_true(json_object_get(json_object_get(o, "stream_options"), "include_usage"));
    json_t *inc = json_object_get(o, "include_stop_str_in_output");
    j->include_stop = json_is_true(inc);
    return true;
}

/* A message's content as text: a string; an array of parts, whose "text" parts are joined (OpenAI's content parts;
 * other kinds are refused); null (an assistant message with tool calls): empty. NULL with pc->msg when refused;
 * *owned set when the result is malloc'd. */
static const char *content_text(parse_ctx *pc, json_t *content, size_t *len, bool *owned) {
    *owned = false;
    if (json_is_string(content)) {
        *len = json_string_length(content);
        return json_string_value(content);
    }
    if (json_is_null(content)) {
        *len = 0;
        return "";
    }
    if (!json_is_array(content)) {
        bad(pc, "each message needs a '%s' that is a string, an array of text parts or null", "content");
        return NULL;
    }
    size_t total = 0, i;
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *type = json_string_value(json_object_get(part, "type"));
        json_t *text = json_object_get(part, "text");
        if (type == NULL || strcmp(type, "text") != 0 || !json_is_string(text)) {
            snprintf(pc->msg, sizeof pc->msg, "content part %zu is not {\"type\": \"text\", \"text\": string} (type '%.40s'): "
                     "only text parts are supported", i, type ? type : "(none)");
            return NULL;
        }
        total += json_string_length(text);
    }
    char *out = malloc(total + 1);
    if (out == NULL) {
        bad(pc, "%s", "out of memory");
        return NULL;
    }
    size_t at = 0;
    json_array_foreach(content, i, part) {
        json_t *text = json_object_get(part, "text");
        memcpy(out + at, json_string_value(text), json_string_length(text));
        at += json_string_length(text);
    }
    out[at] = '\0';
    *len = at;
    *owned = true;
    return out;
}

/* The model's chat template (core/chat) rendered with add_generation_prompt (*templated set: its special tokens
 * are then parsed and no BOS is added) over the messages with their content as text (content_text); without a
 * template, "role: content\n" per message, then "assistant:". */
static char *chat_prompt(parse_ctx *pc, json_t *msgs, bool *templated) {
    *templated = false;
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        bad(pc, "'%s' must be a non-empty array", "messages");
        return NULL;
    }
    const char *tmpl_src = s2_model_chat_template(pc->s->m);
    if (tmpl_src != NULL) {
        s2_chat_template *t = NULL;
        s2_error err = {0};
        char *text = NULL;
        s2_chat_params p = s2_chat_default_params();
        p.add_generation_prompt = true;
        p.bos_token = s2_model_bos_text(pc->s->m), p.eos_token = s2_model_eos_text(pc->s->m);
        /* the template sees each content as text, as Hugging Face's apply_chat_template does for text parts */
        json_t *norm = json_array(), *e;
        size_t i;
        bool ok = norm != NULL;
        json_array_foreach(msgs, i, e) {
            if (!ok) break;
            size_t cl = 0;
            bool owned = false;
            const char *content = content_text(pc, json_object_get(e, "content"), &cl, &owned);
            json_t *m = content ? json_copy(e) : NULL;
            if (m != NULL) json_object_set_new(m, "content", json_stringn(content, cl));
            if (owned) free((char *)content);
            ok = m != NULL && json_array_append_new(norm, m) == 0;
        }
        if (!ok) {
            json_decref(norm);
            if (pc->msg[0] == '\0') bad(pc, "%s", "out of memory");
            return NULL;
        }
        if (s2_chat_template_parse(tmpl_src, &t, &err) == S2_OK) s2_chat_apply(t, norm, &p, &text, &err);
        s2_chat_template_free(t);
        json_decref(norm);
        if (text == NULL) bad(pc, "the model's chat template: %.200s", err.msg);
        *templated = text != NULL;
        return text;
    }
    size_t cap = 64, len = 0, i;
    char *out = malloc(cap);
    json_t *e;
    if (out == NULL) return NULL;
    json_array_foreach(msgs, i, e) {
        const char *role = json_string_value(json_object_get(e, "role"));
        if (role == NULL) {
            free(out);
            bad(pc, "each message needs a string '%s'", "role");
            return NULL;
        }
        size_t cl = 0;
        bool owned = false;
        const char *content = content_text(pc, json_object_get(e, "content"), &cl, &owned);
        if (content == NULL) {
            free(out);
            return NULL;
        }
        size_t need = len + strlen(role) + cl + 16;
        if (need > cap) {
            while (cap < need) cap *= 2;
            char *no = realloc(out, cap);
            if (no == NULL) {
                free(out);
                if (owned) free((char *)content);
                return NULL;
            }
            out = no;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s: %.*s\n", role, (int)cl, content);
        if (owned) free((char *)content);
    }
    char *no = realloc(out, len + 16);
    if (no == NULL) {
        free(out);
        return NULL;
    }
    memcpy(no + len, "assistant:", 11);
    return no;
}

/* Builds a job from a request body (the request thread). NULL with pc->msg on a bad request. */
static job *parse_job(parse_ctx *pc, json_t *o, bool chat) {
    s2_server *s = pc->s;
    job *j = calloc(1, sizeof *j);
    if (j == NULL) return bad(pc, "%s", "out of memory"), NULL;
    pthread_cond_init(&j->cv, NULL);
    j->chat = chat;
    j->logprobs = -1;
    bool ok = json_is_object(o) ? parse_common(pc, o, j) : bad(pc, "%s", "the body must be a JSON object");
    json_t *lp = json_object_get(o, chat ? "top_logprobs" : "logprobs");
    if (ok && chat) {
        json_t *want = json_object_get(o, "logprobs");
        if (want != NULL && !json_is_boolean(want) && !json_is_null(want)) ok = bad(pc, "'%s' must be a boolean", "logprobs");
        else if (json_is_true(want)) j->logprobs = 0;
    }
    /* completions with echo and at most one new token may ask for more than 20 (up to the vocabulary; -1: all of
     * it), for the log-softmax at every prompt position (`sys2 logits -m URL`) */
    bool wide = !chat && json_is_true(json_object_get(o, "echo")) && j->max_tokens <= 1;
    if (ok && lp != NULL && !json_is_null(lp)) {
        json_int_t v = json_is_integer(lp) ? json_integer_value(lp) : -2;
        if (wide && v == -1) v = s->V;
        if (v < 0 || v > (wide ? s->V : MAX_TOP)) {
            char m[200];
            snprintf(m, sizeof m, "'%s' must be an integer in [0, 20]%s", chat ? "top_logprobs" : "logprobs",
                     wide ? " (with echo and max_tokens <= 1: up to the vocabulary's size, or -1 for all of it)" : "");
            ok = bad(pc, "%s", m);
        } else if (!chat || j->logprobs == 0) {
            j->logprobs = (int32_t)v;
        }
    }
    if (ok && !chat) {
        json_t *echo = json_object_get(o, "echo");
        j->echo = json_is_true(echo);
        json_t *p = json_object_get(o, "prompt");
        if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0))) p = json_array_get(p, 0);
        /* sys2_prompt_hex: the prompt's exact bytes, for text that is not UTF-8 (JSON strings cannot carry it) */
        const char *hx = json_string_value(json_object_get(o, "sys2_prompt_hex"));
        char *raw = NULL;
        size_t raw_len = 0;
        if (hx != NULL && json_is_string(p)) {
            raw_len = strlen(hx) / 2;
            raw = malloc(raw_len + 1);
            for (size_t b = 0; raw != NULL && b < raw_len; b++) {
                unsigned v = 0;
                if (sscanf(hx + 2 * b, "%2x", &v) != 1) {
                    free(raw);
                    raw = NULL;
                    ok = bad(pc, "'%s' is not a hex string", "sys2_prompt_hex");
                    break;
                }
                raw[b] = (char)v;
            }
            if (raw != NULL) raw[raw_len] = '\0';
        }
        if (ok && json_is_string(p)) {
            size_t len = raw ? raw_len : json_string_length(p);
            const char *t = raw ? raw : json_string_value(p);
            j->prompt_text = malloc(len + 1);
            if (j->prompt_text) memcpy(j->prompt_text, t, len + 1);
            j->prompt_len = len;
            j->prompt = tokenize(s->v, t, len, true, false, &j->n_prompt);
            j->split = 1;
            json_t *from = json_object_get(o, "sys2_logprobs_from");
            if (j->prompt != NULL && j->echo && json_is_integer(from) && json_integer_value(from) > 0) {
                /* the continuation's tokens as core/lm.c's append_tokens finds them: the whole text's tokens after
                 * the prefix's own, when those are a prefix of them; else the continuation tokenized alone */
                size_t f = (size_t)json_integer_value(from) < len ? (size_t)json_integer_value(from) : len;
                int32_t nq = 0;
                int32_t *q = tokenize(s->v, t, f, true, false, &nq);
                if (q != NULL && nq >= 1 && nq <= j->n_prompt && memcmp(q, j->prompt, (size_t)nq * sizeof *q) == 0) {
                    j->split = nq;
                } else if (q != NULL && nq >= 1) {
                    int32_t nc = 0;
                    int32_t *c = tokenize(s->v, t + f, len - f, false, false, &nc);
                    int32_t *both = c ? realloc(q, (size_t)(nq + nc + 1) * sizeof *both) : NULL;
                    if (both != NULL) {
                        memcpy(both + nq, c, (size_t)nc * sizeof *c);
                        free(j->prompt);
                        j->prompt = both;
                        j->n_prompt = nq + nc;
                        j->split = nq;
                        q = NULL;
                    }
                    free(c);
                }
                free(q);
            }
            free(raw);
        } else if (ok && json_is_array(p) && json_array_size(p) > 0) {
            size_t i;
            json_t *e;
            j->n_prompt = (int32_t)json_array_size(p);
            j->prompt = malloc((size_t)j->n_prompt * sizeof *j->prompt);
            j->split = 1;
            json_array_foreach(p, i, e) {
                if (!ok || j->prompt == NULL) break;
                if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= s->V)
                    ok = bad(pc, "'prompt' must be a string or an array of token ids in [0, n_vocab)%s", "");
                else j->prompt[i] = (int32_t)json_integer_value(e);
            }
        } else if (ok) {
            ok = bad(pc, "'%s' must be a string or a non-empty array of token ids", "prompt");
        }
    } else if (ok) {
        bool templated = false;
        j->prompt_text = chat_prompt(pc, json_object_get(o, "messages"), &templated);
        if (j->prompt_text == NULL) ok = false;
        else j->prompt_len = strlen(j->prompt_text);
        if (ok) j->prompt = tokenize(s->v, j->prompt_text, j->prompt_len, !templated, templated, &j->n_prompt);
    }
    if (ok && (j->prompt == NULL || (j->prompt_text == NULL && !chat && json_is_string(json_object_get(o, "prompt")))))
        ok = bad(pc, "%s", "out of memory");
    if (ok && j->n_prompt < 1) ok = bad(pc, "%s", "the prompt has no tokens (and the vocabulary no BOS)");
    if (ok && j->echo) {
        j->echo_lp = malloc((size_t)j->n_prompt * sizeof *j->echo_lp);
        if (j->echo_lp == NULL) ok = bad(pc, "%s", "out of memory");
    }
    if (ok && j->echo && j->logprobs > 0) {
        if ((int64_t)j->n_prompt * j->logprobs > MAX_ECHO_TOP) {
            char m[160];
            snprintf(m, sizeof m, "echo with logprobs %d over %d prompt tokens: more than %d log-probs in all",
                     j->logprobs, j->n_prompt, MAX_ECHO_TOP);
            ok = bad(pc, "%s", m);
        } else {
            j->echo_top = malloc((size_t)j->n_prompt * (size_t)j->logprobs * sizeof *j->echo_top);
            if (j->echo_top == NULL) ok = bad(pc, "%s", "out of memory");
            for (int64_t t = 0; ok && t < (int64_t)j->n_prompt * j->logprobs; t++)
                j->echo_top[t] = (s2_lm_top){.id = -1, .logprob = -INFINITY};
        }
    }
    if (ok && j->stream) {
        j->sent = calloc((size_t)j->n, sizeof *j->sent);
        if (j->sent == NULL) ok = bad(pc, "%s", "out of memory");
        job_id(s, j, j->sid, sizeof j->sid);
    }
    if (ok) {
        j->ch = calloc((size_t)j->n, sizeof *j->ch);
        if (j->ch == NULL) ok = bad(pc, "%s", "out of memory");
        for (int32_t i = 0; ok && i < j->n; i++) j->ch[i].seq = -1;
    }
    if (!ok) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* ---- responses ---- */

/* text_offset of each of n tokens: the length of the text before it (the first piece's added space removed). */
static void offsets(const s2_server *s, const int32_t *t, int32_t n, int64_t base, int64_t *out) {
    int64_t cum = 0;
    char piece[256];
    for (int32_t i = 0; i < n; i++) {
        out[i] = base + cum;
        int32_t l = s2_token_to_piece(s->v, t[i], false, piece, (int32_t)sizeof piece);
        cum += l > 0 ? l : 0;
    }
    int32_t d = s2_detokenize(s->v, t, n, false, NULL, 0);
    int64_t strip = cum - (d < 0 ? -d : d);
    for (int32_t i = 0; strip > 0 && i < n; i++) out[i] = out[i] - strip < base ? base : out[i] - strip;
}

static json_t *choice_json(s2_server *s, job *j, int32_t i) {
    choice *c = &j->ch[i];
    json_t *ch = json_object();
    json_object_set_new(ch, "index", json_integer(i));
    size_t plen = j->echo && j->prompt_text ? j->prompt_len : 0;
    size_t tlen = plen + c->tlen;
    char *full = malloc(tlen + 1);
    if (full == NULL) return ch;
    if (plen) memcpy(full, j->prompt_text, plen);
    memcpy(full + plen, c->text, c->tlen + 1);
    if (c->stop_idx >= 0 && !j->include_stop) tlen -= strlen(j->stops[c->stop_idx]); /* OpenAI leaves it out */
    bool lossy = false;
    json_t *text = jstr(full, tlen, &lossy);
    if (j->chat) {
        json_object_set_new(ch, "message", json_pack("{s:s,s:o}", "role", "assistant", "content", text));
    } else {
        json_object_set_new(ch, "text", text);
    }
    if (lossy) json_object_set_new(ch, "sys2_text_hex", jhex(full, tlen));
    free(full);
    bool stopped = strcmp(c->finish, "stop") == 0 || strcmp(c->finish, "eos") == 0;
    json_object_set_new(ch, "finish_reason", json_string(stopped ? "stop" : "length"));
    json_object_set_new(ch, "stop_reason", c->stop_idx >= 0 ? json_string(j->stops[c->stop_idx]) : json_null());
    json_object_set_new(ch, "sys2_finish", json_string(c->finish));
    if (j->logprobs < 0 && !j->echo) {
        json_object_set_new(ch, "logprobs", json_null());
        return ch;
    }
    int32_t k = j->logprobs > 0 ? j->logprobs : 0;
    int32_t np = j->echo ? j->n_prompt : 0, nt = np + c->n;
    int32_t *ids = malloc((size_t)(nt > 0 ? nt : 1) * sizeof *ids);
    int64_t *off = malloc((size_t)(nt > 0 ? nt : 1) * sizeof *off);
    if (ids == NULL || off == NULL) {
        free(ids);
        free(off);
        return ch;
    }
    if (np) memcpy(ids, j->prompt, (size_t)np * sizeof *ids);
    if (c->n) memcpy(ids + np, c->toks, (size_t)c->n * sizeof *ids);
    if (np) {
        offsets(s, ids, np, 0, off);
        /* with sys2_logprobs_from the split is where the client's continuation starts */
        for (int32_t t = 0; t < np; t++) if (off[t] > (int64_t)plen) off[t] = (int64_t)plen;
    }
    offsets(s, ids + np, c->n, (int64_t)plen, off + np);
    if (j->chat) {
        json_t *content = json_array();
        for (int32_t t = 0; t < c->n; t++) {
            json_t *e = json_object(), *tops = json_array(), *dict = json_object();
            json_object_set_new(e, "token", jpiece(s, c->toks[t]));
            json_object_set_new(e, "logprob", jlp(c->lps[t]));
            json_object_set_new(e, "sys2_id", json_integer(c->toks[t]));
            if (k > 0) add_tops(c->tops + (size_t)t * (size_t)k, k, tops, dict);
            size_t n_e;
            json_t *x;
            json_array_foreach(tops, n_e, x) json_object_del(x, "id");
            json_object_set_new(e, "top_logprobs", tops);
            json_decref(dict);
            json_array_append_new(content, e);
        }
        json_object_set_new(ch, "logprobs", json_pack("{s:o}", "content", content));
    } else {
        json_t *tokens = json_array(), *tlp = json_array(), *tops = json_array(), *offs = json_array();
        json_t *jid = json_array(), *stop = json_array();
        for (int32_t t = 0; t < nt; t++) {
            json_array_append_new(tokens, jpiece(s, ids[t]));
            json_array_append_new(jid, json_integer(ids[t]));
            json_array_append_new(offs, json_integer(off[t]));
            if (t < np) {
                json_array_append_new(tlp, isnan(j->echo_lp[t]) ? json_null() : jlp(j->echo_lp[t]));
                const s2_lm_top *row = j->echo_top ? j->echo_top + (size_t)t * (size_t)k : NULL;
                if (row != NULL && row[0].id >= 0) { /* the distribution this prompt token was drawn from */
                    json_t *list = json_array(), *dict = json_object();
                    add_tops(row, k, list, dict);
                    json_array_append_new(tops, dict);
                    json_array_append_new(stop, list);
                } else {
                    json_array_append_new(tops, json_null());
                    json_array_append_new(stop, json_null());
                }
            } else {
                json_array_append_new(tlp, jlp(c->lps[t - np]));
                json_t *list = json_array(), *dict = json_object();
                if (k > 0) add_tops(c->tops + (size_t)(t - np) * (size_t)k, k, list, dict);
                json_array_append_new(tops, k > 0 ? dict : json_null());
                json_array_append_new(stop, k > 0 ? list : json_null());
                if (k == 0) json_decref(dict);
                if (k == 0) json_decref(list);
            }
        }
        json_object_set_new(ch, "logprobs",
                            json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "tokens", tokens, "token_logprobs", tlp,
                                      "top_logprobs", tops, "text_offset", offs, "sys2_token_ids", jid, "sys2_top",
                                      stop));
    }
    free(ids);
    free(off);
    return ch;
}

static json_t *usage_json(const job *j) {
    int64_t gen = 0;
    for (int32_t i = 0; i < j->n; i++) gen += j->ch[i].n;
    return json_pack("{s:I,s:I,s:I,s:{s:I}}", "prompt_tokens", (json_int_t)j->n_prompt, "completion_tokens",
                     (json_int_t)gen, "total_tokens", (json_int_t)(j->n_prompt + gen), "prompt_tokens_details",
                     "cached_tokens", (json_int_t)j->n_cached);
}

static json_t *job_json(s2_server *s, job *j) {
    json_t *choices = json_array();
    for (int32_t i = 0; i < j->n; i++) json_array_append_new(choices, choice_json(s, j, i));
    char sid[48];
    job_id(s, j, sid, sizeof sid);
    return json_pack("{s:s,s:s,s:I,s:s,s:o,s:o}", "id", sid, "object", j->chat ? "chat.completion" : "text_completion",
                     "created", (json_int_t)time(NULL), "model", s->name, "choices", choices, "usage", usage_json(j));
}

/* ---- streaming: server-sent events as OpenAI sends them ---- */

static void sse_event(sse *o, json_t *js) { /* "data: JSON\n\n"; steals js */
    char *t = js ? json_dumps(js, JSON_COMPACT) : NULL;
    json_decref(js);
    size_t n = t ? strlen(t) : 0;
    if (t == NULL || o->len + n + 9 > o->cap) {
        size_t nc = o->cap ? o->cap : 4096;
        while (nc < o->len + n + 9) nc *= 2;
        char *nb = t ? realloc(o->buf, nc) : NULL;
        if (nb == NULL) {
            o->oom = true;
            free(t);
            return;
        }
        o->buf = nb;
        o->cap = nc;
    }
    o->len += (size_t)snprintf(o->buf + o->len, o->cap - o->len, "data: %s\n\n", t);
    free(t);
}

/* One chunk: choice i's delta (a completions "text" or a chat "delta"), its finish_reason (NULL: null). */
static json_t *chunk(s2_server *s, const job *j, int32_t i, json_t *delta, const char *finish) {
    json_t *ch = json_pack("{s:i,s:o,s:n}", "index", i, j->chat ? "delta" : "text", delta, "logprobs");
    json_object_set_new(ch, "finish_reason", finish ? json_string(finish) : json_null());
    return json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", j->sid, "object", j->chat ? "chat.completion.chunk" : "text_completion",
                     "created", (json_int_t)time(NULL), "model", s->name, "choices", ch);
}

/* (mu held, the engine thread: it alone writes the choices' text) New events for a stream: for each choice (chat: a
 * first delta with the role) the text no stop string can still cut; at the end the rest, a chunk with the
 * finish_reason per choice, with stream_options.include_usage a chunk with the usage and no choices, then
 * "data: [DONE]"; a failed job ends with an error event. Wakes the connection thread that reads them. */
static void stream_publish(s2_server *s, job *j, bool final) {
    if (j->out_final) return;
    if (j->http != 0) {
        sse_event(&j->out, err_json(j->msg, j->http == 400 ? "invalid_request_error" : "server_error", NULL));
        j->out_final = true;
        pthread_cond_broadcast(&j->cv);
        return;
    }
    if (!j->began) {
        for (int32_t i = 0; i < j->n; i++) {
            if (j->chat) sse_event(&j->out, chunk(s, j, i, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL));
            else if (j->echo && j->prompt_text) sse_event(&j->out, chunk(s, j, i, jstr(j->prompt_text, j->prompt_len, NULL), NULL));
        }
        j->began = true;
    }
    size_t hold = 0; /* a stop string completed by a later token cuts at most this far back */
    for (int32_t k = 0; k < j->n_stops; k++)
        if (strlen(j->stops[k]) > hold) hold = strlen(j->stops[k]);
    for (int32_t i = 0; i < j->n; i++) {
        const choice *c = &j->ch[i];
        size_t end = c->tlen;
        if (!c->active || final) {
            if (c->stop_idx >= 0 && !j->include_stop) end -= strlen(j->stops[c->stop_idx]); /* as choice_json */
        } else {
            end = end > hold ? end - hold : 0;
            while (end > j->sent[i] && ((unsigned char)c->text[end] & 0xC0) == 0x80) end--; /* whole characters */
        }
        if (end <= j->sent[i] || c->text == NULL) continue;
        json_t *text = jstr(c->text + j->sent[i], end - j->sent[i], NULL);
        sse_event(&j->out, chunk(s, j, i, j->chat ? json_pack("{s:o}", "content", text) : text, NULL));
        j->sent[i] = end;
    }
    if (final) {
        for (int32_t i = 0; i < j->n; i++) {
            const choice *c = &j->ch[i];
            bool stopped = c->finish && (strcmp(c->finish, "stop") == 0 || strcmp(c->finish, "eos") == 0);
            sse_event(&j->out, chunk(s, j, i, j->chat ? json_object() : json_string(""), stopped ? "stop" : "length"));
        }
        if (j->stream_usage)
            sse_event(&j->out, json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", j->sid, "object",
                                         j->chat ? "chat.completion.chunk" : "text_completion", "created",
                                         (json_int_t)time(NULL), "model", s->name, "choices", "usage", usage_json(j)));
        static const char done[] = "data: [DONE]\n\n";
        if (!j->out.oom && j->out.len + sizeof done > j->out.cap) {
            char *nb = realloc(j->out.buf, j->out.len + sizeof done);
            if (nb == NULL) j->out.oom = true;
            else j->out.buf = nb, j->out.cap = j->out.len + sizeof done;
        }
        if (!j->out.oom) {
            memcpy(j->out.buf + j->out.len, done, sizeof done - 1);
            j->out.len += sizeof done - 1;
        }
        j->out_final = true;
    }
    pthread_cond_broadcast(&j->cv);
}

typedef struct stream_ctx {
    s2_server *s;
    job *j;
} stream_ctx;

/* libmicrohttpd's reader (the connection thread; it may block in thread-per-connection mode): the events written
 * since the last call, waiting for more until the last. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_ctx *x = cls;
    job *j = x->j;
    pthread_mutex_lock(&x->s->mu);
    while (j->out.read == j->out.len && !j->out_final && !j->out.oom) pthread_cond_wait(&j->cv, &x->s->mu);
    size_t n = j->out.len - j->out.read;
    if (n > max) n = max;
    if (n > 0) memcpy(buf, j->out.buf + j->out.read, n);
    j->out.read += n;
    bool end = n == 0; /* out_final (or out of memory) and everything read */
    pthread_mutex_unlock(&x->s->mu);
    return end ? (ssize_t)MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls) { /* the response is done or the client gone */
    stream_ctx *x = cls;
    pthread_mutex_lock(&x->s->mu);
    bool done = x->j->done;
    x->j->abandoned = true;
    pthread_mutex_unlock(&x->s->mu);
    if (done) job_free(x->j); /* else the engine frees it when it is done */
    free(x);
}

/* ---- HTTP ---- */

typedef struct req {
    char *body;
    size_t len, cap;
    bool too_large, answered;
} req;

static enum MHD_Result send_json(s2_server *s, struct MHD_Connection *conn, unsigned code, json_t *js) {
    char *txt = js ? json_dumps(js, JSON_COMPACT) : NULL;
    json_decref(js);
    if (txt == NULL) txt = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":null}}");
    if (txt == NULL) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(txt), txt, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(txt);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    pthread_mutex_lock(&s->mu);
    s->st.requests++;
    if (code == 503) s->st.rejected_busy++;
    if (code == 413) s->st.rejected_large++;
    pthread_mutex_unlock(&s->mu);
    return ret;
}

/* A stream's response: its events as the engine writes them (Content-Type text/event-stream). Takes j. */
static enum MHD_Result send_stream(s2_server *s, struct MHD_Connection *conn, job *j) {
    stream_ctx *x = malloc(sizeof *x);
    struct MHD_Response *r = x ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, x, stream_free) : NULL;
    if (r == NULL) {
        free(x);
        pthread_mutex_lock(&s->mu);
        bool done = j->done;
        j->abandoned = true;
        pthread_mutex_unlock(&s->mu);
        if (done) job_free(j);
        return MHD_NO;
    }
    x->s = s;
    x->j = j;
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    pthread_mutex_lock(&s->mu);
    s->st.requests++;
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static enum MHD_Result send_error(s2_server *s, struct MHD_Connection *conn, unsigned code, const char *msg) {
    const char *type = code == 400 || code == 404 || code == 405 || code == 413 ? "invalid_request_error" : "server_error";
    const char *ecode = code == 413 ? "request_too_large" : code == 503 ? "server_busy" : code == 404 ? "not_found"
                        : strstr(msg, "(context_length_exceeded)") ? "context_length_exceeded" : NULL;
    return send_json(s, conn, code, err_json(msg, type, ecode));
}

static enum MHD_Result run_completion(s2_server *s, struct MHD_Connection *conn, req *r, bool chat) {
    json_error_t jerr;
    json_t *o = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (o == NULL) {
        char m[256];
        snprintf(m, sizeof m, "the body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return send_error(s, conn, 400, m);
    }
    parse_ctx pc = {.s = s};
    job *j = parse_job(&pc, o, chat);
    json_decref(o);
    if (j == NULL) return send_error(s, conn, 400, pc.msg);
    pthread_mutex_lock(&s->mu);
    if (s->stop || s->n_waiting >= s->p.max_queue) {
        bool stopping = s->stop;
        pthread_mutex_unlock(&s->mu);
        job_free(j);
        return send_error(s, conn, 503, stopping ? "the server is shutting down" : "the server is busy: too many requests are waiting; retry later");
    }
    if (s->q_tail) s->q_tail->next = j;
    else s->q_head = j;
    s->q_tail = j;
    s->n_waiting++;
    pthread_cond_signal(&s->work);
    /* a stream answers once its first events are written (so that a request refused at the start still gets its
     * HTTP status), everything else once it is done */
    while (!j->done && !(j->stream && j->out.len > 0)) pthread_cond_wait(&j->cv, &s->mu);
    bool failed = j->done && j->http != 0;
    pthread_mutex_unlock(&s->mu);
    if (j->stream && !failed) return send_stream(s, conn, j);
    enum MHD_Result ret = failed ? send_error(s, conn, (unsigned)j->http, j->msg) : send_json(s, conn, 200, job_json(s, j));
    job_free(j);
    return ret;
}

/* ---- the tokenizer endpoints: llama-server's shape and vLLM's, one handler ----
 * POST /tokenize (also /v1/tokenize, where SGLang answers too):
 * - llama-server's (tools/server/README.md "POST /tokenize"): {"content", "add_special" (BOS where the vocabulary
 *   adds it; default false), "parse_special" (default true), "with_pieces" (default false)} -> {"tokens": [id...]},
 *   with pieces [{"id", "piece"}] where a piece that is not UTF-8 is the array of its bytes;
 * - vLLM's (vllm/entrypoints/serve/tokenize/protocol.py TokenizeCompletionRequest / TokenizeResponse): {"model",
 *   "prompt", "add_special_tokens" (default true), "return_token_strs"} -> {"tokens", "count", "max_model_len"}
 *   (+ "token_strs"); special tokens' text is parsed, as Hugging Face's tokenizer does.
 * POST /detokenize {"tokens": [id...]} -> {"content"} (llama-server) and "prompt" (vLLM) and "text" (SGLang), all
 * three the same text. sys2's own field "sys2_content_hex" carries text that is not UTF-8, both ways. */

static bool get_bool(json_t *o, const char *key, bool dflt, bool *out) {
    json_t *x = json_object_get(o, key);
    if (x == NULL || json_is_null(x)) *out = dflt;
    else if (json_is_boolean(x)) *out = json_is_true(x);
    else return false;
    return true;
}

static json_t *body_object(s2_server *s, struct MHD_Connection *conn, req *r, enum MHD_Result *ret) {
    json_error_t jerr;
    json_t *o = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (json_is_object(o)) return o;
    char m[256];
    if (o == NULL) snprintf(m, sizeof m, "the body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
    else snprintf(m, sizeof m, "the body must be a JSON object");
    json_decref(o);
    *ret = send_error(s, conn, 400, m);
    return NULL;
}

static enum MHD_Result run_tokenize(s2_server *s, struct MHD_Connection *conn, req *r) {
    enum MHD_Result ret = MHD_NO;
    json_t *o = body_object(s, conn, r, &ret);
    if (o == NULL) return ret;
    json_t *content = json_object_get(o, "content"), *prompt = json_object_get(o, "prompt");
    bool llama = content != NULL, add = false, special = true, pieces = false, strs = false;
    json_t *text = llama ? content : prompt;
    const char *why = NULL;
    if (!json_is_string(text)) why = "the body needs \"content\" (llama-server's shape) or \"prompt\" (vLLM's) as a string";
    else if (llama && (!get_bool(o, "add_special", false, &add) || !get_bool(o, "parse_special", true, &special) ||
                       !get_bool(o, "with_pieces", false, &pieces)))
        why = "'add_special', 'parse_special' and 'with_pieces' must be booleans";
    else if (!llama && (!get_bool(o, "add_special_tokens", true, &add) || !get_bool(o, "return_token_strs", false, &strs)))
        why = "'add_special_tokens' and 'return_token_strs' must be booleans";
    const char *hx = json_string_value(json_object_get(o, "sys2_content_hex"));
    size_t len = why ? 0 : hx ? strlen(hx) / 2 : json_string_length(text);
    char *raw = why == NULL && hx ? malloc(len + 1) : NULL;
    for (size_t b = 0; raw != NULL && b < len; b++) {
        unsigned v = 0;
        if (sscanf(hx + 2 * b, "%2x", &v) != 1) why = "'sys2_content_hex' is not a hex string";
        raw[b] = (char)v;
    }
    if (why != NULL) {
        free(raw);
        json_decref(o);
        return send_error(s, conn, 400, why);
    }
    int32_t n = 0;
    int32_t *ids = tokenize(s->v, raw ? raw : json_string_value(text), len, add, special, &n);
    free(raw);
    json_decref(o);
    if (ids == NULL) return send_error(s, conn, 503, "out of memory");
    json_t *toks = json_array(), *names = strs ? json_array() : NULL;
    char piece[256];
    for (int32_t i = 0; i < n; i++) {
        if (!pieces && !strs) {
            json_array_append_new(toks, json_integer(ids[i]));
            continue;
        }
        int32_t pl = s2_token_to_piece(s->v, ids[i], true, piece, (int32_t)sizeof piece);
        if (pl < 0) pl = 0;
        json_t *ps = json_stringn(piece, (size_t)pl);
        if (strs) {
            json_array_append_new(toks, json_integer(ids[i]));
            json_array_append_new(names, ps ? ps : jstr(piece, (size_t)pl, NULL));
            continue;
        }
        if (ps == NULL) { /* not UTF-8: its bytes, as llama-server writes them */
            ps = json_array();
            for (int32_t b = 0; b < pl; b++) json_array_append_new(ps, json_integer((unsigned char)piece[b]));
        }
        json_array_append_new(toks, json_pack("{s:i,s:o}", "id", ids[i], "piece", ps));
    }
    free(ids);
    json_t *res = json_pack("{s:o}", "tokens", toks);
    if (!llama) {
        json_object_set_new(res, "count", json_integer(n));
        json_object_set_new(res, "max_model_len", json_integer(s->n_ctx));
        if (names) json_object_set_new(res, "token_strs", names);
    }
    return send_json(s, conn, 200, res);
}

static enum MHD_Result run_detokenize(s2_server *s, struct MHD_Connection *conn, req *r) {
    enum MHD_Result ret = MHD_NO;
    json_t *o = body_object(s, conn, r, &ret);
    if (o == NULL) return ret;
    json_t *toks = json_object_get(o, "tokens");
    size_t n = json_array_size(toks), i;
    int32_t *ids = malloc((n > 0 ? n : 1) * sizeof *ids);
    json_t *e;
    const char *why = json_is_array(toks) ? NULL : "the body needs \"tokens\": an array of token ids";
    json_array_foreach(toks, i, e) {
        if (why != NULL || ids == NULL) break;
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= s->V)
            why = "'tokens' must be token ids in [0, n_vocab)";
        else ids[i] = (int32_t)json_integer_value(e);
    }
    json_decref(o);
    if (why != NULL || ids == NULL) {
        free(ids);
        return why ? send_error(s, conn, 400, why) : send_error(s, conn, 503, "out of memory");
    }
    int32_t need = s2_detokenize(s->v, ids, (int32_t)n, false, NULL, 0);
    size_t cap = (size_t)(need < 0 ? -need : need) + 1;
    char *text = malloc(cap);
    int32_t got = text ? s2_detokenize(s->v, ids, (int32_t)n, false, text, (int32_t)cap) : 0;
    free(ids);
    if (text == NULL || got < 0) {
        free(text);
        return send_error(s, conn, 503, "out of memory");
    }
    bool lossy = false;
    json_t *t = jstr(text, (size_t)got, &lossy);
    json_t *res = json_pack("{s:O,s:O,s:o}", "content", t, "prompt", t, "text", t);
    if (lossy) json_object_set_new(res, "sys2_content_hex", jhex(text, (size_t)got));
    free(text);
    return send_json(s, conn, 200, res);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    s2_server *s = cls;
    req *r = *con_cls;
    bool post = strcmp(method, "POST") == 0;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL) return MHD_NO;
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        long long claimed = post && cl != NULL ? strtoll(cl, NULL, 10) : 0;
        if (claimed > s->p.max_body) r->too_large = true; /* read and discarded, then 413: a client that is still
                                                            * sending when the answer comes sees a broken pipe */
        if (claimed > s->p.max_body + ((long long)64 << 20)) { /* beyond any honest mistake: answer and close */
            r->answered = true;
            char m[128];
            snprintf(m, sizeof m, "the request body (%s bytes) is larger than the limit (%lld bytes)", cl,
                     (long long)s->p.max_body);
            return send_error(s, conn, 413, m);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!r->too_large && r->len + *upload_size > (size_t)s->p.max_body) {
            r->too_large = true;
            free(r->body);
            r->body = NULL;
        }
        if (!r->too_large) {
            if (r->len + *upload_size + 1 > r->cap) {
                size_t nc = r->cap ? r->cap : 4096;
                while (nc < r->len + *upload_size + 1) nc *= 2;
                char *nb = realloc(r->body, nc);
                if (nb == NULL) return MHD_NO;
                r->body = nb;
                r->cap = nc;
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->answered) return MHD_YES;
    r->answered = true;
    if (r->too_large) {
        char m[96];
        snprintf(m, sizeof m, "the request body is larger than the limit (%lld bytes)", (long long)s->p.max_body);
        return send_error(s, conn, 413, m);
    }
    bool comp = strcmp(url, "/v1/completions") == 0, chat = strcmp(url, "/v1/chat/completions") == 0;
    if (comp || chat) {
        if (!post) return send_error(s, conn, 405, "use POST");
        return run_completion(s, conn, r, chat);
    }
    bool tok = strcmp(url, "/tokenize") == 0 || strcmp(url, "/v1/tokenize") == 0;
    if (tok || strcmp(url, "/detokenize") == 0 || strcmp(url, "/v1/detokenize") == 0) {
        if (!post) return send_error(s, conn, 405, "use POST");
        return tok ? run_tokenize(s, conn, r) : run_detokenize(s, conn, r);
    }
    if (strcmp(url, "/health") == 0) return send_json(s, conn, 200, json_pack("{s:s}", "status", "ok"));
    if (strcmp(url, "/v1/models") == 0)
        return send_json(s, conn, 200,
                         json_pack("{s:s,s:[{s:s,s:s,s:i,s:s,s:i}]}", "object", "list", "data", "id", s->name, "object",
                                   "model", "created", 0, "owned_by", "sys2", "max_model_len", s->n_ctx));
    char m[160];
    snprintf(m, sizeof m, "no route %s %.100s", method, url);
    return send_error(s, conn, 404, m);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)conn, (void)toe;
    req *r = *con_cls;
    if (r == NULL) return;
    free(r->body);
    free(r);
    *con_cls = NULL;
}

/* ---- lifecycle ---- */

s2_server_params s2_server_default_params(void) {
    s2_server_params p = {.host = "127.0.0.1", .port = 0, .parallel = 16, .max_queue = 64, .max_body = 1 << 20,
                          .max_conn = 512, .model_name = "sys2", .ctx = s2_ctx_default_params()};
    return p;
}

s2_status s2_server_start(const s2_model *m, const s2_server_params *params, s2_server **out, s2_error *err) {
    *out = NULL;
    s2_server_params p = params ? *params : s2_server_default_params();
    if (p.parallel < 1 || p.max_queue < 0 || p.max_body < 1 || p.port < 0 || p.port > 65535 || p.max_conn < 1)
        return s2_error_set(err, S2_E_ARG, "serve: bad parameters (parallel %d, max_queue %d, max_body %lld, port %d)",
                            p.parallel, p.max_queue, (long long)p.max_body, p.port);
    s2_server *s = calloc(1, sizeof *s);
    if (s == NULL) return s2_error_set(err, S2_E_NOMEM, "serve: out of memory");
    snprintf(s->host, sizeof s->host, "%s", p.host ? p.host : "127.0.0.1");
    snprintf(s->name, sizeof s->name, "%s", p.model_name ? p.model_name : "sys2");
    p.host = s->host;
    p.model_name = s->name;
    s->p = p;
    s->m = m;
    s->v = s2_model_vocab(m);
    const s2_hparams *hp = s2_model_hparams(m);
    s->V = hp->n_vocab;
    s->n_ctx = p.ctx.n_ctx > 0 ? p.ctx.n_ctx : hp->n_ctx_train;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    s2_ctx_params cp = p.ctx;
    if (cp.kv_max_bytes == 0)
        cp.kv_max_bytes = (int64_t)(p.parallel + 4) * ((s->n_ctx + 15) / 16) * 16 * hp->n_layer * hp->n_head_kv *
                          hp->head_dim * 2 * 4;
    s2_status st = s2_ctx_init(m, &cp, &s->ctx, err);
    if (st == S2_OK) {
        s->scratch = malloc(s2_sample_scratch_bytes(s->V));
        if (s->scratch == NULL) st = s2_error_set(err, S2_E_NOMEM, "serve: out of memory");
    }
    if (st == S2_OK) {
        if (pthread_create(&s->engine, NULL, engine_main, s) != 0)
            st = s2_error_set(err, S2_E_NOMEM, "serve: cannot start the engine thread");
        else s->engine_started = true;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)p.port);
    if (st == S2_OK && inet_pton(AF_INET, s->host, &addr.sin_addr) != 1)
        st = s2_error_set(err, S2_E_ARG, "serve: '%s' is not an IPv4 address", s->host);
    /* the listening socket is made here, without SO_REUSEPORT, so that a second server on a port in use fails with
     * the reason instead of sharing the port and splitting the requests with the first */
    int fd = -1;
    if (st == S2_OK) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0) st = s2_error_set(err, S2_E_IO, "serve: socket: %s", strerror(errno));
        else setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* TIME_WAIT only; not a shared port */
    }
    if (st == S2_OK && (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 128) != 0))
        st = s2_error_set(err, S2_E_IO, "serve: cannot listen on %s:%d: %s", s->host, p.port,
                          errno == EADDRINUSE ? "address in use (another server listens there)" : strerror(errno));
    if (st == S2_OK) {
        struct sockaddr_in bound;
        socklen_t bl = sizeof bound;
        s->port = getsockname(fd, (struct sockaddr *)&bound, &bl) == 0 ? ntohs(bound.sin_port) : p.port;
        s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)p.port,
                                NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
                                on_done, s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)p.max_conn,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_END);
        if (s->d == NULL) st = s2_error_set(err, S2_E_IO, "serve: cannot listen on %s:%d", s->host, p.port);
        else fd = -1; /* the daemon's now */
    }
    if (fd >= 0) close(fd);
    if (st != S2_OK) {
        s2_server_free(s);
        return st;
    }
    *out = s;
    return S2_OK;
}

int32_t s2_server_port(const s2_server *s) { return s->port; }

void s2_server_stats_get(s2_server *s, s2_server_stats *out) {
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
    s2_ctx_counters(s->ctx, &out->engine); /* read racily while the engine runs: a snapshot for reports */
}

void s2_server_free(s2_server *s) {
    if (s == NULL) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    if (s->engine_started) pthread_join(s->engine, NULL); /* fails running and waiting jobs: their threads answer */
    if (s->d) MHD_stop_daemon(s->d);                     /* joins the connection threads */
    free(s->run);
    free(s->scratch);
    s2_ctx_free(s->ctx);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
