/* cli.h: what the commands share. cli/ is the only place that prints or exits. */
#ifndef S2_CLI_H
#define S2_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sys2.h"

#define S2_VERSION "0.1.0"

/* Prints "sys2 CMD: message" and a hint to --help on stderr; returns 2 (usage error). */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "sys2 CMD: error: err->msg" on stderr; returns 1 (a failure explained on stderr). */
int cli_fail(const char *cmd, const s2_error *err);
/* True when argv[*i] is a flag (with its value in argv[*i+1]) named name or alt (alt may be NULL); on a match
 * advances *i past the value and sets *val. A missing value is a usage error reported through *bad. */
bool cli_flag(int argc, char **argv, int *i, const char *name, const char *alt, const char **val, bool *bad);
bool cli_parse_i64(const char *s, int64_t *out);   /* whole string, base 10 */
bool cli_parse_f64(const char *s, double *out);    /* whole string */
bool cli_is_help(const char *arg);                 /* -h or --help */

/* The flags every model-using command takes: -m MODEL, -z TOKENIZER, --ctx N, --threads N. */
typedef struct cli_model_opts {
    const char *model, *tokenizer;
    const char *model_name;       /* HTTP backends: the served model's name (default: the first of /v1/models) */
    int64_t n_ctx, n_threads;
    const char *server;           /* HTTP backends: --server llama|vllm|sglang|openai|sys2|auto (NULL = auto) */
    double http_timeout_s;        /* HTTP backends: --http-timeout S (0 = the default, 25) */
    int64_t http_retries;         /* HTTP backends: --http-retries N, when http_retries_set (else the default, 3) */
    bool http_retries_set;
    s2_kv_type kv_type;           /* --kv-type, when kv_type_set (else the library default, f32) */
    bool kv_type_set;
} cli_model_opts;
/* Copies the context flags given (--ctx, --threads, --kv-type) into cp; the others keep cp's values. */
void cli_model_ctx_params(const cli_model_opts *o, s2_ctx_params *cp);
/* Consumes argv[*i] (and its value) when it is one of the model flags: 1 consumed, 0 not one, -1 bad value. */
int cli_model_flag(cli_model_opts *o, int argc, char **argv, int *i);
#define CLI_MODEL_HELP \
    "  -m MODEL          a .gguf file, or a llama2.c .bin checkpoint (with -z)\n" \
    "  -z TOKENIZER      llama2.c tokenizer (tok*.bin) for a .bin model\n" \
    "  --ctx N           context length (default: the model's)\n" \
    "  --threads N       threads (default: all cores)\n" \
    "  --kv-type T       KV cache elements: f32 (default) or f16 (half the memory)\n" \
    "  --model-name NAME with -m http://HOST:PORT/v1: the served model (default: the first of GET /v1/models)\n" \
    "  --server KIND     with -m URL: llama, vllm, sglang, openai, sys2 or auto (default: asked from the server)\n" \
    "  --http-timeout S  with -m URL: seconds per request before it fails (default 25; not retried)\n" \
    "  --http-retries N  with -m URL: tries after the first on a refused or dropped connection, 408, 429, 5xx\n" \
    "                    (default 3; other 4xx and refusals of a parameter are never retried)\n"

/* The s2_lm_open parameters the model flags give (tokenizer, model name, context, threads, HTTP settings). */
void cli_lm_params(const cli_model_opts *o, s2_lm_open_params *lp);

/* Opens -m (with -z, --model-name, --ctx, --threads) through s2_lm_open: a local GGUF or llama2.c .bin, or an
 * http(s)://.../v1 server. Returns 0 with *lm owned by the caller (s2_lm_free), or the exit status after printing
 * why. */
int cli_open_lm(const char *cmd, const cli_model_opts *o, s2_lm **lm);
bool cli_is_url(const char *spec);
/* For the commands that need the weights themselves (convert, serve, and logits on a local file; logits -m URL
 * goes through s2_lm_prompt_logprobs instead): a URL is refused with a message saying so. Loads -m/-z and makes a
 * context with KV room for n_seqs sequences of the full context (ctx may be NULL: the model alone). Returns 0, or
 * the exit status after printing why. */
int cli_open_engine(const char *cmd, const cli_model_opts *o, int32_t n_seqs, s2_model **m, s2_ctx **ctx);
char *cli_piece(const s2_vocab *v, int32_t id);                                        /* malloc'd */
/* All of f (to EOF, or its first max bytes when max > 0), NUL-terminated and malloc'd, its length in *len (may be
 * NULL); NULL when out of memory. */
char *cli_read_all(FILE *f, size_t max, size_t *len);

/* `sys2 report --curves` / `--compare` (cmd_curves.c): the exit status, or -1 when argv has neither flag. */
int cli_report_mode(int argc, char **argv);
/* s, or dflt when s is NULL (a JSON string that may be absent). */
static inline const char *cli_or(const char *s, const char *dflt) { return s ? s : dflt; }

#endif
