/* serve.h: sys2's engine behind an OpenAI-compatible HTTP API (libmicrohttpd), as a library, so that tests start
 * a server in-process on an ephemeral port and `sys2 serve` is a thin wrapper.
 *
 * Endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models, GET /health, POST /tokenize and
 * /detokenize (also under /v1; llama-server's request/response shape and vLLM's, see serve.c). One engine thread owns
 * the context (paged KV cache with its prefix cache) and decodes every running request's sequences together, one
 * token each per forward; request threads parse, tokenize, enqueue and wait. Past max_queue waiting requests the
 * answer is 503; a body over max_body is 413; errors use OpenAI's {"error": {"message", "type", "code"}}.
 *
 * Sampling is the local engine's (core/lm.c), token for token: choice i of a request with seed S draws from an
 * RNG seeded as s2_lm_sample seeds sequence i of a call with seed S, and log-probs are at temperature 1. */
#ifndef S2_SERVE_H
#define S2_SERVE_H

#include "sys2.h"

typedef struct s2_server s2_server;

typedef struct s2_server_params {
    const char *host;        /* address to bind (default "127.0.0.1": loopback only) */
    int32_t port;            /* 0 = an ephemeral port (read it with s2_server_port) */
    int32_t parallel;        /* sequences decoded together at most (default 16) */
    int32_t max_queue;       /* requests waiting for the engine at most; past it 503 (default 64) */
    int64_t max_body;        /* request body bytes at most; past it 413 (default 1 MiB) */
    int32_t max_conn;        /* connections at most (default 512) */
    const char *model_name;  /* the id /v1/models reports (default "sys2") */
    s2_ctx_params ctx;       /* the engine's context; kv_max_bytes 0 = room for parallel + 4 full sequences */
} s2_server_params;
s2_server_params s2_server_default_params(void);

/* Starts serving m (which must outlive the server). On success *out owns the server (stop it with
 * s2_server_free). S2_E_IO when the address cannot be bound. */
s2_status s2_server_start(const s2_model *m, const s2_server_params *p, s2_server **out, s2_error *err);
int32_t s2_server_port(const s2_server *s);

typedef struct s2_server_stats {
    int64_t requests;        /* HTTP requests answered (any status) */
    int64_t rejected_busy;   /* 503: queue full */
    int64_t rejected_large;  /* 413 */
    int64_t completions;     /* completion jobs run by the engine */
    int64_t batches;         /* forward calls of the decode loop */
    int64_t batch_rows;      /* rows in them (rows / batches = the mean batch) */
    s2_counters engine;      /* the engine context's counters */
} s2_server_stats;
void s2_server_stats_get(s2_server *s, s2_server_stats *out);

/* Stops accepting, finishes or fails what is running, joins the threads, frees everything. NULL is a no-op. */
void s2_server_free(s2_server *s);

#endif
