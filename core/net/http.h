/* http.h: system 1 behind an OpenAI-compatible HTTP server (vLLM, SGLang, llama-server, OpenAI, `sys2 serve`) as an
 * s2_lm.
 *
 * A remote sequence is its text: forks copy it, appends extend it, and every call sends the whole text (the
 * server's prefix cache does the sharing). Before the first call the backend finds out which server it talks to
 * (GET /models owned_by, the Server header, /props, /version, /get_server_info; s2_lm_open_params.server
 * overrides) and from that profile decides how n > 1 is done, how stop strings and log-probs come back, which
 * sampling parameters are sent (all of them, neutral values too) and whether prompt log-probs exist (s2_lm_caps_get).
 * Sampling is POST /completions; teacher-forced scoring and label scoring are echo + logprobs with max_tokens 0 (1
 * where 0 is refused); top-k is logprobs k on one generated token; the log-softmax at every prompt position
 * (s2_lm_prompt_logprobs) is echo + logprobs k + max_tokens 1 (the profile says how many per position); the server's
 * tokenizer (s2_lm_tokenize) is POST /tokenize at the server's root, in llama-server's or vLLM's shape as the
 * profile says (OpenAI's API has none). A response without what was asked (log-probs,
 * finish_reason, the stop that ended it, usage) is an error naming the field. The counters count as the local
 * engine does: prompt tokens the server reports as cached (or, where it reports none, those already sent on the
 * sequence) are cached, scored continuation tokens are scored, the rest computed. */
#ifndef S2_HTTP_H
#define S2_HTTP_H

#include "sys2.h"

/* Opens the backend for url: a base ending in /v1 (requests go to url + "/completions"), or a URL ending in
 * "/completions" or "/chat/completions" (the latter: chat mode, which can sample and give top-k but not score).
 * p (NULL = defaults) gives model_name (NULL: the first id GET .../models lists, asked once before the first
 * request), server (the profile; NULL or "auto": found out; another name than llama, vllm, sglang, openai, sys2 is
 * S2_E_ARG), max_in_flight, timeout_s (a request that takes longer fails, not retried) and retries; the environment
 * variable SYS2_API_KEY, when set, is sent as "Authorization: Bearer KEY". Nothing is sent until the first call
 * that needs the server. */
s2_status s2_lm_http_open(const char *url, const s2_lm_open_params *p, s2_lm **out, s2_error *err);

/* Retries: a request that fails to connect, drops its connection, or gets 408, 429 or 5xx (but not a refusal that
 * names an unsupported parameter) is tried again after 100 ms, 200 ms, 400 ms ... up to tries attempts in all
 * (default 4: p->retries + 1). For tests and impatient callers. */
void s2_lm_http_set_retries(s2_lm *lm, int32_t tries, int32_t first_backoff_ms);

/* A Jansson string of n bytes of text (a new reference): the bytes themselves when they are UTF-8, else with every
 * invalid byte replaced by U+FFFD and *lossy (may be NULL) set. Shared with core/serve.c. */
struct json_t;
struct json_t *s2_json_text(const char *t, size_t n, bool *lossy);

#endif
