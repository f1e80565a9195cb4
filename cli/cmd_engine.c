/* cmd_engine.c: the commands that run system 1 directly: generate, score, logits, perplexity.
 * (bench is in cmd_bench.c.) Each parses its flags, opens -m through s2_lm (cli_open_lm: a local file or an
 * http(s) server, the one way the CLI opens system 1), and prints text or JSON. generate samples through s2_lm
 * on either; on a local model score and perplexity run the engine's own routines on the lm's context (token
 * pieces, windows), on a server the same through s2_lm's calls. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "generate.h"
#include "http.h"
#include "run.h"

int cmd_generate(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);

/* ---- shared by the engine commands ---- */

int cli_open_lm(const char *cmd, const cli_model_opts *o, s2_lm **lm) {
    *lm = NULL;
    if (o->model == NULL) return cli_usage(cmd, "no model: give -m MODEL");
    s2_lm_open_params op = s2_lm_open_default_params();
    cli_lm_params(o, &op); /* tokenizer, model name, context, threads, --kv-type, --server, --http-timeout, --http-retries */
    s2_error err = {0};
    if (s2_lm_open(o->model, &op, lm, &err) != S2_OK) return cli_fail(cmd, &err);
    return 0;
}

bool cli_is_url(const char *spec) {
    return spec && (strncmp(spec, "http://", 7) == 0 || strncmp(spec, "https://", 8) == 0);
}

int cli_open_engine(const char *cmd, const cli_model_opts *o, int32_t n_seqs_hint, s2_model **m, s2_ctx **ctx) {
    if (ctx != NULL) *ctx = NULL;
    s2_error err = {0};
    *m = NULL;
    if (o->model == NULL) return cli_usage(cmd, "no model: give -m MODEL");
    if (cli_is_url(o->model))
        return cli_usage(cmd, "-m %s: %s needs the model's weights, which a server does not give: use a local file",
                         o->model, cmd);
    s2_model_params mp = s2_model_default_params();
    mp.tokenizer = o->tokenizer;
    s2_status st = s2_model_load(o->model, &mp, m, &err);
    if (st != S2_OK) return cli_fail(cmd, &err);
    if (ctx == NULL) return 0;
    s2_ctx_params cp = s2_ctx_default_params();
    cli_model_ctx_params(o, &cp);
    int32_t n_ctx = cp.n_ctx > 0 ? cp.n_ctx : s2_model_hparams(*m)->n_ctx_train;
    /* KV room for n_seqs_hint sequences of the full context */
    cp.kv_max_bytes = (int64_t)n_seqs_hint * ((n_ctx + 15) / 16) * 16 * s2_model_kv_bytes_per_token(*m, cp.kv_type);
    st = s2_ctx_init(*m, &cp, ctx, &err);
    if (st != S2_OK) {
        s2_model_free(*m);
        *m = NULL;
        return cli_fail(cmd, &err);
    }
    return 0;
}

char *cli_piece(const s2_vocab *v, int32_t id) {
    char buf[256];
    int32_t n = s2_token_to_piece(v, id, true, buf, (int32_t)sizeof buf - 1);
    if (n < 0) n = 0;
    buf[n] = '\0';
    return strdup(buf);
}

char *cli_read_all(FILE *f, size_t max, size_t *len) {
    size_t cap = max > 0 && max < (1 << 16) ? max : 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n < cap) continue;
        if (max > 0 && cap >= max) break;
        size_t nc = max > 0 && 2 * cap > max ? max : 2 * cap;
        char *nb = realloc(buf, nc + 1);
        if (nb == NULL) free(buf);
        buf = nb;
        cap = nc;
    }
    if (buf != NULL) buf[n] = '\0';
    if (len != NULL) *len = n;
    return buf;
}

/* Reads "1 403 407" into ids. */
static int32_t *parse_ids(const char *s, int32_t *n_out) {
    int32_t cap = 16, n = 0;
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    char *end;
    while (ids != NULL) {
        while (*s == ' ' || *s == ',' || *s == '\t' || *s == '\n') s++;
        if (*s == '\0') break;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > INT32_MAX) {
            free(ids);
            return NULL;
        }
        if (n == cap) {
            int32_t *ni = realloc(ids, (size_t)(cap *= 2) * sizeof(int32_t));
            if (ni == NULL) {
                free(ids);
                return NULL;
            }
            ids = ni;
        }
        ids[n++] = (int32_t)v;
        s = end;
    }
    *n_out = n;
    return ids;
}

/* The start of each command's argument loop: argv[*i] as one of the flags all four take (the model's, --help,
 * --json). Returns ARG_TAKEN (go on to the next argument), ARG_OTHER (the command reads it), or the exit
 * status (0 after --help, 2 for a bad model flag). */
enum { ARG_TAKEN = -1, ARG_OTHER = -2 };
static int shared_arg(cli_model_opts *mo, int argc, char **argv, int *i, const char *help, bool *json) {
    int mf = cli_model_flag(mo, argc, argv, i);
    if (mf < 0) return 2;
    if (mf > 0) return ARG_TAKEN;
    if (cli_is_help(argv[*i])) {
        fputs(help, stdout);
        return 0;
    }
    if (strcmp(argv[*i], "--json") != 0) return ARG_OTHER;
    *json = true;
    return ARG_TAKEN;
}

/* [{id, piece, logprob}] for n tokens. */
static json_t *tokens_json(const s2_vocab *vocab, const int32_t *ids, const float *logprobs, int32_t n) {
    json_t *toks = json_array();
    for (int32_t i = 0; i < n; i++) {
        char *piece = cli_piece(vocab, ids[i]);
        json_array_append_new(toks, json_pack("{s:i, s:s, s:f}", "id", ids[i], "piece", piece ? piece : "", "logprob",
                                              (double)logprobs[i]));
        free(piece);
    }
    return toks;
}

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s != NULL) puts(s);
    free(s);
    json_decref(j);
}

/* ---- generate ---- */

/* [{id, logprob}] of n generated or scored tokens through s2_lm (a server gives no pieces; id -1 where it gives
 * none). */
static json_t *lm_tokens_json(const int32_t *ids, const float *logprobs, int32_t n) {
    json_t *toks = json_array();
    for (int32_t i = 0; i < n; i++)
        json_array_append_new(toks, json_pack("{s:i, s:f}", "id", ids ? ids[i] : -1, "logprob", (double)logprobs[i]));
    return toks;
}

/* generate through s2_lm, local or remote alike (the same seeds give the same samples on both). */
static int generate_lm(s2_lm *lm, const char *prompt, const s2_lm_sample_params *sp, bool json) {
    s2_error err = {0};
    s2_lm_seq seq = -1;
    s2_lm_gen g = {0};
    s2_status st = s2_lm_seq_new(lm, prompt, &seq, &err);
    if (st == S2_OK) st = s2_lm_sample(lm, &seq, 1, sp, &g, &err);
    int rc = 0;
    if (st != S2_OK) {
        rc = cli_fail("generate", &err);
    } else if (json) {
        size_t pl = strlen(prompt), gl = strlen(g.text);
        char *text = malloc(pl + gl + 1);
        if (text != NULL) {
            memcpy(text, prompt, pl);
            memcpy(text + pl, g.text, gl + 1);
        }
        const s2_model *m = s2_lm_local_model(lm); /* pieces where the vocabulary is at hand */
        json_t *toks = m ? tokens_json(s2_model_vocab(m), g.tokens, g.logprobs, g.n_tokens)
                         : lm_tokens_json(g.tokens, g.logprobs, g.n_tokens);
        json_t *out = json_pack("{s:o, s:s}", "tokens", toks, "stop_reason", g.finish);
        if (out != NULL) s2_json_set_text(out, "text", text ? text : ""); /* a model's bytes need not be UTF-8 */
        print_json(out);
        free(text);
    } else {
        printf("%s%s\n", prompt, g.text);
    }
    s2_lm_gen_free(&g);
    if (seq >= 0) s2_lm_seq_free(lm, seq);
    return rc;
}

static const char *generate_help =
    "usage: sys2 generate -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed S]\n"
    "                     [--stop STRING]... [--json]\n"
    "Prints the prompt's text followed by N new tokens (temperature 0 = greedy). Stops early at end of text\n"
    "(EOS, or BOS: a new document) or after a stop string. With --json: {\"text\", \"tokens\": [{id, piece, logprob}]}.\n" CLI_MODEL_HELP;

int cmd_generate(int argc, char **argv) {
    cli_model_opts mo = {0};
    const char *prompt = "", *v = NULL;
    int64_t n_new = 64, seed = 42, top_k = 0;
    double temp = 0.0, top_p = 1.0, min_p = 0.0;
    bool json = false, bad = false;
    const char *stops[16];
    int n_stops = 0;
    for (int i = 1; i < argc; i++) {
        int r = shared_arg(&mo, argc, argv, &i, generate_help, &json);
        if (r == ARG_TAKEN) continue;
        if (r != ARG_OTHER) return r;
        if (cli_flag(argc, argv, &i, "-p", "--prompt", &v, &bad)) {
            prompt = v;
        } else if (cli_flag(argc, argv, &i, "-n", "--n-predict", &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &n_new) || n_new < 0)) return cli_usage("generate", "-n wants a count, got '%s'", v);
        } else if (cli_flag(argc, argv, &i, "--temp", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_f64(v, &temp) || temp < 0)) return cli_usage("generate", "--temp wants a number >= 0");
        } else if (cli_flag(argc, argv, &i, "--top-k", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &top_k) || top_k < 0)) return cli_usage("generate", "--top-k wants a count >= 0");
        } else if (cli_flag(argc, argv, &i, "--top-p", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_f64(v, &top_p) || top_p <= 0 || top_p > 1))
                return cli_usage("generate", "--top-p wants a number in (0, 1]");
        } else if (cli_flag(argc, argv, &i, "--min-p", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_f64(v, &min_p) || min_p < 0 || min_p > 1))
                return cli_usage("generate", "--min-p wants a number in [0, 1]");
        } else if (cli_flag(argc, argv, &i, "--seed", "-s", &v, &bad)) {
            if (!bad && !cli_parse_i64(v, &seed)) return cli_usage("generate", "--seed wants an integer");
        } else if (cli_flag(argc, argv, &i, "--stop", NULL, &v, &bad)) {
            if (n_stops == 16) return cli_usage("generate", "at most 16 stop strings");
            if (!bad) stops[n_stops++] = v;
        } else {
            return cli_usage("generate", "unknown argument '%s'", argv[i]);
        }
        if (bad) return 2;
    }
    s2_lm *lm;
    int rc = cli_open_lm("generate", &mo, &lm);
    if (rc != 0) return rc;
    s2_lm_sample_params sp = s2_lm_sample_default_params();
    sp.sample.temperature = (float)temp;
    sp.sample.top_k = (int32_t)top_k;
    sp.sample.top_p = (float)top_p;
    sp.sample.min_p = (float)min_p;
    sp.max_tokens = (int32_t)n_new;
    sp.seed = (uint64_t)seed;
    sp.stops = stops;
    sp.n_stops = n_stops;
    rc = generate_lm(lm, prompt, &sp, json);
    s2_lm_free(lm);
    return rc;
}

/* ---- score ---- */

static const char *score_help =
    "usage: sys2 score -m MODEL -p PREFIX -c CONTINUATION [--json]\n"
    "The log-probability of CONTINUATION after PREFIX (teacher forcing). The continuation's tokens are those that\n"
    "follow PREFIX's tokens in the tokenization of PREFIX+CONTINUATION. --json: {logprob, tokens: [{id, piece, logprob}]}.\n" CLI_MODEL_HELP;

int cmd_score(int argc, char **argv) {
    cli_model_opts mo = {0};
    const char *prefix = "", *cont = NULL, *v = NULL;
    bool json = false, bad = false;
    for (int i = 1; i < argc; i++) {
        int r = shared_arg(&mo, argc, argv, &i, score_help, &json);
        if (r == ARG_TAKEN) continue;
        if (r != ARG_OTHER) return r;
        if (cli_flag(argc, argv, &i, "-p", "--prefix", &v, &bad)) {
            prefix = v;
        } else if (cli_flag(argc, argv, &i, "-c", "--continuation", &v, &bad)) {
            cont = v;
        } else {
            return cli_usage("score", "unknown argument '%s'", argv[i]);
        }
        if (bad) return 2;
    }
    if (cont == NULL) return cli_usage("score", "no continuation: give -c TEXT");
    s2_lm *lm;
    int rc = cli_open_lm("score", &mo, &lm);
    if (rc != 0) return rc;
    s2_ctx *ctx = s2_lm_local_ctx(lm);
    s2_score_result res = {0};
    s2_error err = {0};
    s2_status st = S2_OK;
    if (ctx == NULL) { /* a server: the continuation's log-probs after the prefix, through s2_lm */
        s2_lm_seq seq = -1;
        int32_t cap = (int32_t)strlen(cont) + 16; /* a token holds at least one byte */
        res.logprobs = malloc((size_t)cap * sizeof *res.logprobs);
        st = res.logprobs ? s2_lm_seq_new(lm, prefix, &seq, &err) : s2_error_set(&err, S2_E_NOMEM, "out of memory");
        if (st == S2_OK) st = s2_lm_score(lm, seq, cont, res.logprobs, cap, &res.n, &res.sum, &err);
        if (seq >= 0) s2_lm_seq_free(lm, seq);
        if (res.n > cap) res.n = cap;
    } else {
        st = s2_score_text(ctx, prefix, cont, &res, &err);
    }
    if (st != S2_OK) {
        rc = cli_fail("score", &err);
    } else if (json) {
        json_t *toks = ctx ? tokens_json(s2_model_vocab(s2_lm_local_model(lm)), res.ids, res.logprobs, res.n)
                           : lm_tokens_json(NULL, res.logprobs, res.n);
        print_json(json_pack("{s:f, s:o}", "logprob", res.sum, "tokens", toks));
    } else {
        printf("%.6f\n", res.sum);
    }
    s2_score_result_free(&res);
    s2_lm_free(lm);
    return rc;
}

/* ---- logits ---- */

static const char *logits_help =
    "usage: sys2 logits -m MODEL|URL (-p PROMPT | --ids \"1 403 407\") [--top K] [--json]\n"
    "The logits at every input position. Text: one line per position, \"pos input_token argmax logsumexp\".\n"
    "--json: {prompt_token_ids, positions: [{pos, input_token, argmax, logsumexp, logits}]} with the full vector,\n"
    "or only the top K as {id, logit} with --top.\n"
    "\n"
    "With -m http://HOST:PORT/v1 (a server) it prints LOG-PROBS, not logits: no HTTP API returns logits, but a\n"
    "server that echoes the prompt with its top log-probs (completions with echo, logprobs K, max_tokens 1; --ids\n"
    "go as token ids) gives the log-softmax at every position. --top K per position; without --top the full\n"
    "vocabulary, which only sys2 serve gives (vLLM and SGLang give at most 20, OpenAI 5: then --top is needed).\n"
    "Text: \"pos input_token argmax logprob_of_argmax\"; --json: {kind: \"logprobs\", server, prompt_token_ids,\n"
    "positions: [{pos, input_token, argmax, logprobs: [{id, token, logprob}]}]} (id -1 where the server names\n"
    "none). A server without prompt log-probs (llama-server: no echo) is refused before any request (exit 2).\n"
    CLI_MODEL_HELP;

/* -m URL: the log-softmax at every position from the server (s2_lm_prompt_logprobs), never labelled logits. What
 * the server's profile cannot give is a usage error (exit 2) before any completion request. */
static int logits_remote(const cli_model_opts *mo, const char *prompt, const int32_t *ids, int32_t n, int64_t top,
                         bool json) {
    const char *cmd = "logits";
    s2_lm *lm = NULL;
    int rc = cli_open_lm(cmd, mo, &lm);
    if (rc != 0) return rc;
    s2_error err = {0};
    s2_lm_caps caps;
    s2_lm_prompt_lp plp = {0};
    if (s2_lm_caps_get(lm, &caps, &err) != S2_OK) {
        rc = cli_fail(cmd, &err);
    } else if (!caps.prompt_logprobs) {
        rc = cli_usage(cmd, "-m %s gives no prompt log-probs, so no log-softmax per position: %s", mo->model, caps.why);
    } else if (caps.max_top > 0 && (top == 0 || top > caps.max_top)) {
        rc = cli_usage(cmd, "-m %s: %s gives at most %d log-probs per position: give --top K with K <= %d", mo->model,
                       caps.server, caps.max_top, caps.max_top);
    } else if (top > INT32_MAX) {
        rc = cli_usage(cmd, "--top %lld is too large", (long long)top);
    } else if (s2_lm_prompt_logprobs(lm, ids, n, ids ? NULL : prompt, (int32_t)top, &plp, &err) != S2_OK) {
        rc = cli_fail(cmd, &err);
    } else {
        json_t *positions = json_array(), *pids = json_array();
        for (int32_t i = 0; i < plp.n; i++) {
            const s2_lm_top *row = plp.top + (size_t)i * (size_t)plp.k;
            json_array_append_new(pids, json_integer(plp.ids[i]));
            if (!json) {
                printf("%d\t%d\t%d\t%.6f\n", i, plp.ids[i], row[0].id, (double)row[0].logprob);
                continue;
            }
            json_t *arr = json_array();
            for (int32_t t = 0; t < plp.n_top[i]; t++)
                json_array_append_new(arr, json_pack("{s:i, s:o, s:f}", "id", row[t].id, "token",
                                                     s2_json_text(row[t].piece, strlen(row[t].piece), NULL), "logprob",
                                                     (double)row[t].logprob));
            json_array_append_new(positions, json_pack("{s:i, s:i, s:i, s:o}", "pos", i, "input_token", plp.ids[i],
                                                       "argmax", row[0].id, "logprobs", arr));
        }
        if (json)
            print_json(json_pack("{s:s, s:s, s:o, s:o}", "kind", "logprobs", "server", caps.server, "prompt_token_ids",
                                 pids, "positions", positions));
        else json_decref(positions), json_decref(pids);
    }
    s2_lm_prompt_lp_free(&plp);
    s2_lm_free(lm);
    return rc;
}

static int cmp_logit_desc(const void *a, const void *b, void *keys) {
    const float *l = keys;
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (l[i] != l[j]) return l[i] > l[j] ? -1 : 1;
    return (i > j) - (i < j);
}

int cmd_logits(int argc, char **argv) {
    cli_model_opts mo = {0};
    const char *prompt = NULL, *ids_s = NULL, *v = NULL;
    int64_t top = 0;
    bool json = false, bad = false;
    for (int i = 1; i < argc; i++) {
        int r = shared_arg(&mo, argc, argv, &i, logits_help, &json);
        if (r == ARG_TAKEN) continue;
        if (r != ARG_OTHER) return r;
        if (cli_flag(argc, argv, &i, "-p", "--prompt", &v, &bad)) {
            prompt = v;
        } else if (cli_flag(argc, argv, &i, "--ids", NULL, &v, &bad)) {
            ids_s = v;
        } else if (cli_flag(argc, argv, &i, "--top", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &top) || top < 1)) return cli_usage("logits", "--top wants a count >= 1");
        } else {
            return cli_usage("logits", "unknown argument '%s'", argv[i]);
        }
        if (bad) return 2;
    }
    if ((prompt == NULL) == (ids_s == NULL)) return cli_usage("logits", "give exactly one of -p PROMPT and --ids IDS");
    int32_t n = 0, *ids = NULL;
    if (ids_s != NULL && (ids = parse_ids(ids_s, &n)) == NULL) return cli_usage("logits", "--ids wants integers");
    if (ids_s != NULL && n == 0) {
        free(ids);
        return cli_usage("logits", "--ids gives no token ids");
    }
    if (cli_is_url(mo.model)) {
        int rr = logits_remote(&mo, prompt, ids, n, top, json);
        free(ids);
        return rr;
    }
    s2_model *m;
    s2_ctx *ctx;
    int rc = cli_open_engine("logits", &mo, 1, &m, &ctx);
    if (rc != 0) {
        free(ids);
        return rc;
    }
    const s2_vocab *vocab = s2_model_vocab(m);
    if (prompt != NULL) ids = s2_tokenize_alloc(vocab, prompt, strlen(prompt), true, false, &n);
    int32_t V = s2_model_hparams(m)->n_vocab;
    s2_error err = {0};
    s2_seq seq;
    bool *want = calloc((size_t)(n > 0 ? n : 1), sizeof(bool));
    s2_seq *seqs = calloc((size_t)(n > 0 ? n : 1), sizeof(s2_seq));
    s2_status st = ids && want && seqs ? s2_seq_new(ctx, &seq, &err) : s2_error_set(&err, S2_E_NOMEM, "out of memory");
    if (st == S2_OK && n == 0) st = s2_error_set(&err, S2_E_ARG, "no input tokens");
    for (int32_t i = 0; st == S2_OK && i < n; i++) want[i] = true, seqs[i] = seq;
    if (st == S2_OK) st = s2_ctx_decode(ctx, seqs, ids, want, n, &err);
    if (st != S2_OK) {
        rc = cli_fail("logits", &err);
    } else {
        json_t *positions = json_array(), *pids = json_array();
        int32_t *order = top > 0 ? malloc((size_t)V * sizeof(int32_t)) : NULL;
        for (int32_t i = 0; i < n; i++) {
            const float *lg = s2_ctx_logits(ctx, i);
            int32_t am = 0;
            for (int32_t t = 1; t < V; t++)
                if (lg[t] > lg[am]) am = t;
            float lse = s2_logsumexp(lg, V);
            json_array_append_new(pids, json_integer(ids[i]));
            if (!json) {
                printf("%d\t%d\t%d\t%.6f\n", i, ids[i], am, lse);
                continue;
            }
            json_t *arr = json_array();
            if (order != NULL) {
                for (int32_t t = 0; t < V; t++) order[t] = t;
                qsort_r(order, (size_t)V, sizeof(int32_t), cmp_logit_desc, (void *)lg);
                for (int32_t t = 0; t < top && t < V; t++)
                    json_array_append_new(arr, json_pack("{s:i, s:f}", "id", order[t], "logit", (double)lg[order[t]]));
            } else {
                for (int32_t t = 0; t < V; t++) json_array_append_new(arr, json_real(lg[t]));
            }
            json_array_append_new(positions, json_pack("{s:i, s:i, s:i, s:f, s:o}", "pos", i, "input_token", ids[i],
                                                       "argmax", am, "logsumexp", (double)lse, "logits", arr));
        }
        free(order);
        if (json) print_json(json_pack("{s:o, s:o}", "prompt_token_ids", pids, "positions", positions));
        else json_decref(positions), json_decref(pids);
    }
    free(want);
    free(seqs);
    free(ids);
    s2_ctx_free(ctx);
    s2_model_free(m);
    return rc;
}

/* ---- perplexity ---- */

static const char *perplexity_help =
    "usage: sys2 perplexity -m MODEL -f FILE [--ctx N] [--json]\n"
    "Perplexity of a text file and its bits per byte: the text is cut into windows of N-1 tokens, each read after\n"
    "BOS, and every token is scored given the ones before it in its window.\n" CLI_MODEL_HELP;

int cmd_perplexity(int argc, char **argv) {
    cli_model_opts mo = {0};
    const char *file = NULL, *v = NULL;
    bool json = false, bad = false;
    for (int i = 1; i < argc; i++) {
        int r = shared_arg(&mo, argc, argv, &i, perplexity_help, &json);
        if (r == ARG_TAKEN) continue;
        if (r != ARG_OTHER) return r;
        if (cli_flag(argc, argv, &i, "-f", "--file", &v, &bad)) {
            file = v;
        } else {
            return cli_usage("perplexity", "unknown argument '%s'", argv[i]);
        }
        if (bad) return 2;
    }
    if (file == NULL) return cli_usage("perplexity", "no text: give -f FILE");
    FILE *f = fopen(file, "rb");
    if (f == NULL) {
        s2_error e;
        s2_error_set(&e, S2_E_IO, "%s: cannot open", file);
        return cli_fail("perplexity", &e);
    }
    size_t len;
    char *text = cli_read_all(f, 0, &len);
    fclose(f);
    if (text == NULL) return 1;
    s2_lm *lm;
    int rc = cli_open_lm("perplexity", &mo, &lm);
    if (rc != 0) {
        free(text);
        return rc;
    }
    s2_ctx *ctx = s2_lm_local_ctx(lm);
    s2_ppl_result res = {0};
    s2_error err = {0};
    s2_status st = S2_OK;
    if (ctx == NULL) { /* a server: the whole text scored after BOS in one window (it must fit the context) */
        s2_lm_seq seq = -1;
        int32_t n = 0;
        double sum = 0;
        st = s2_lm_seq_new(lm, "", &seq, &err);
        if (st == S2_OK) st = s2_lm_score(lm, seq, text, NULL, 0, &n, &sum, &err);
        if (seq >= 0) s2_lm_seq_free(lm, seq);
        res.nll = -sum;
        res.n_tokens = n;
        res.n_bytes = (int64_t)len;
        res.n_windows = 1;
        res.ppl = n > 0 ? exp(res.nll / n) : 0;
        res.bits_per_byte = len > 0 ? res.nll / log(2.0) / (double)len : 0;
    } else {
        st = s2_perplexity(ctx, text, len, &res, &err);
    }
    if (st != S2_OK) {
        rc = cli_fail("perplexity", &err);
    } else if (json) {
        print_json(json_pack("{s:f, s:f, s:f, s:I, s:I, s:I}", "perplexity", res.ppl, "bits_per_byte", res.bits_per_byte,
                             "nll", res.nll, "tokens", (json_int_t)res.n_tokens, "bytes", (json_int_t)res.n_bytes,
                             "windows", (json_int_t)res.n_windows));
    } else {
        printf("perplexity %.4f  bits/byte %.4f  (%lld tokens, %lld bytes, %lld windows)\n", res.ppl,
               res.bits_per_byte, (long long)res.n_tokens, (long long)res.n_bytes, (long long)res.n_windows);
    }
    free(text);
    s2_lm_free(lm);
    return rc;
}
