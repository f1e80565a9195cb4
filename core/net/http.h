/* http.h: system 1 behind an OpenAI-compatible HTTP server (vLLM, SGLang, llama-server, `sys2 serve`) as an s2_lm.
 *
 * A remote sequence is its text: forks copy it, appends extend it, and every call sends the whole text (the
 * server's prefix cache does the sharing). Sampling is POST /completions (n, temperature, top_p, top_k, min_p,
 * max_tokens, stop, seed, logprobs); teacher-forced scoring and label scoring are echo + logprobs with max_tokens 0
 * (1 where 0 is refused); top-k is logprobs k on one generated token. The counters are the server's reported usage
 * (prompt, cached and completion tokens), the tokens scored, the HTTP requests made and the wall time. */
#ifndef S2_HTTP_H
#define S2_HTTP_H

#include "sys2.h"

/* Opens the backend for url: a base ending in /v1 (requests go to url + "/completions"), or a URL ending in
 * "/completions" or "/chat/completions" (the latter: chat mode, which can sample and give top-k but not score).
 * p (NULL = defaults) gives model_name (NULL: the first id GET .../models lists, asked once before the first
 * request), max_in_flight and timeout_s; the environment variable SYS2_API_KEY, when
 * set, is sent as "Authorization: Bearer KEY". Nothing is sent until the first call that needs the server. */
s2_status s2_lm_http_open(const char *url, const s2_lm_open_params *p, s2_lm **out, s2_error *err);

/* Retries: a request that fails to connect, drops its connection, times out, or gets 429 or 5xx is tried again
 * after 100 ms, 200 ms, 400 ms ... up to tries attempts in all (default 4). For tests and impatient callers. */
void s2_lm_http_set_retries(s2_lm *lm, int32_t tries, int32_t first_backoff_ms);

/* A Jansson string of n bytes of text (a new reference): the bytes themselves when they are UTF-8, else with every
 * invalid byte replaced by U+FFFD and *lossy (may be NULL) set. Shared with core/serve.c. */
struct json_t;
struct json_t *s2_json_text(const char *t, size_t n, bool *lossy);

#endif
