/* cmd_bench.c: sys2 bench: prefill tokens/s and single-stream decode tokens/s, medians over repeats, with the
 * OpenBLAS kernel that ran and the weight bytes read per token (so the figure can be set against memory
 * bandwidth). With -m URL: timed requests to the server through s2_lm (tokens per call, seconds per call). */
#include <cblas.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"

int cmd_bench(int argc, char **argv);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double median(const double *v, int n) { return s2_bench_median(v, (int32_t)n); }

/* A deterministic token stream for prompts: BOS, then ids spread over the vocabulary. */
static void fill_prompt(int32_t *ids, int32_t n, int32_t V, int32_t bos) {
    for (int32_t i = 0; i < n; i++) ids[i] = (int32_t)(((int64_t)i * 7919 + 13) % V);
    if (bos >= 0) ids[0] = bos;
}

/* Decodes gen tokens greedily, one row per forward, from the one-token prompt first; returns the seconds of all gen
 * forwards, or with skip_first of the gen - 1 after the first (llama2.c's timer starts there). */
static double time_decode(s2_ctx *ctx, int32_t first, int32_t gen, int32_t V, bool skip_first, s2_error *err,
                          s2_status *st) {
    s2_seq seq;
    *st = s2_seq_new(ctx, &seq, err);
    if (*st != S2_OK) return 0;
    double t0 = now_s();
    int32_t tok = first;
    *st = s2_ctx_decode(ctx, &seq, &tok, NULL, 1, err);
    if (skip_first) t0 = now_s();
    for (int32_t i = 0; *st == S2_OK && i < gen - 1; i++) {
        const float *lg = s2_ctx_logits(ctx, 0);
        int32_t best = 0;
        for (int32_t t = 1; t < V; t++)
            if (lg[t] > lg[best]) best = t;
        tok = best;
        *st = s2_ctx_decode(ctx, &seq, &tok, NULL, 1, err);
    }
    double dt = now_s() - t0;
    s2_seq_free(ctx, seq);
    return dt;
}

/* ---- branches: B sequences decoded together after a shared N-token prefix ---- */

typedef struct branch_run {
    double wall_s, decode_s;
    int64_t kv_bytes;
} branch_run;

/* One run: the prefix computed once and forked B times (shared), or computed for each of B sequences (not
 * shared); then M greedy tokens on every branch, one forward of B rows per step. */
static s2_status run_branches(s2_ctx *ctx, const int32_t *prefix, int32_t N, int32_t B, int32_t M, bool shared,
                              int32_t V, branch_run *out, s2_error *err) {
    s2_seq *seqs = malloc((size_t)B * sizeof *seqs);
    int32_t *toks = malloc((size_t)B * sizeof *toks);
    int32_t made = 0;
    s2_status st = seqs && toks ? S2_OK : s2_error_set(err, S2_E_NOMEM, "bench: out of memory");
    double t0 = now_s();
    for (int32_t b = 0; st == S2_OK && b < B; b++) {
        if (shared && b > 0) {
            st = s2_seq_fork(ctx, seqs[0], &seqs[b], err);
        } else {
            st = s2_seq_new(ctx, &seqs[b], err);
            if (st == S2_OK) st = s2_seq_prefill(ctx, seqs[b], prefix, N, NULL, err);
        }
        if (st == S2_OK) made = b + 1;
        if (st == S2_OK) { /* each branch starts from the prefix's greedy next token */
            const float *lg = s2_ctx_logits(ctx, 0);
            int32_t best = 0;
            for (int32_t t = 1; t < V; t++)
                if (lg[t] > lg[best]) best = t;
            toks[b] = shared && b > 0 ? toks[0] : best;
        }
    }
    double t1 = now_s();
    s2_kv_stats ks;
    int64_t peak = 0;
    for (int32_t step = 0; st == S2_OK && step < M; step++) {
        st = s2_ctx_decode(ctx, seqs, toks, NULL, B, err);
        for (int32_t b = 0; st == S2_OK && b < B; b++) {
            const float *lg = s2_ctx_logits(ctx, b);
            int32_t best = 0;
            for (int32_t t = 1; t < V; t++)
                if (lg[t] > lg[best]) best = t;
            toks[b] = best;
        }
    }
    s2_ctx_kv_stats(ctx, &ks);
    peak = ks.blocks_used * ks.bytes_per_block;
    double t2 = now_s();
    for (int32_t b = 0; b < made; b++) s2_seq_free(ctx, seqs[b]);
    out->wall_s = t2 - t0;
    out->decode_s = t2 - t1;
    out->kv_bytes = peak;
    free(seqs);
    free(toks);
    return st;
}

/* A context for up to maxb branches of N + M tokens each, every one unshared (kv: NULL = the default type). */
static s2_ctx_params branches_ctx_params(const s2_model *m, int64_t N, int64_t M, int64_t maxb, int64_t n_threads,
                                         const s2_kv_type *kv) {
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = (int32_t)(N + M + 1);
    cp.n_threads = (int32_t)n_threads;
    if (kv != NULL) cp.kv_type = *kv;
    cp.n_batch = (int32_t)(maxb > 512 ? maxb : 512);
    cp.prefix_cache = false; /* sharing comes from forks alone; the unshared run computes every prefix */
    int64_t block_bytes = 16 * s2_model_kv_bytes_per_token(m, cp.kv_type);
    cp.kv_max_bytes = maxb * ((N + M + 1) / 16 + 2) * block_bytes; /* room for every branch unshared */
    return cp;
}

static int bench_branches(const cli_model_opts *mo, const char *branches_s, int64_t N, int64_t M, int64_t repeat,
                          bool json) {
    int64_t bs[16];
    int nb = 0;
    for (const char *s = branches_s; *s && nb < 16;) {
        char *end;
        long b = strtol(s, &end, 10);
        if (end == s || b < 1 || b > 4096) return cli_usage("bench", "--branches wants counts like 1,4,16,64");
        bs[nb++] = b;
        s = *end == ',' ? end + 1 : end;
    }
    int64_t maxb = 0;
    for (int i = 0; i < nb; i++) maxb = bs[i] > maxb ? bs[i] : maxb;
    s2_error err = {0};
    s2_model *m = NULL;
    s2_model_params mp = s2_model_default_params();
    mp.tokenizer = mo->tokenizer;
    if (s2_model_load(mo->model, &mp, &m, &err) != S2_OK) return cli_fail("bench", &err);
    const s2_hparams *hp = s2_model_hparams(m);
    s2_ctx_params cp = branches_ctx_params(m, N, M, maxb, mo->n_threads, mo->kv_type_set ? &mo->kv_type : NULL);
    s2_ctx *ctx = NULL;
    if (s2_ctx_init(m, &cp, &ctx, &err) != S2_OK) {
        s2_model_free(m);
        return cli_fail("bench", &err);
    }
    int32_t *prefix = malloc((size_t)N * sizeof(int32_t));
    fill_prompt(prefix, (int32_t)N, hp->n_vocab, s2_vocab_bos(s2_model_vocab(m)));
    double *w = malloc((size_t)repeat * sizeof(double)), *d = malloc((size_t)repeat * sizeof(double));
    json_t *arr = json_array();
    int rc = 0;
    if (!json)
        printf("model %s: %lld parameters, OpenBLAS %s, %d thread(s); prefix %lld, %lld tokens per branch, medians of %lld; "
               "KV %s\n"
               "branches  shared  tokens/s  with prefix/s   KV MB  x single\n",
               mo->model, (long long)s2_model_n_params(m), openblas_get_corename(),
               (int)(mo->n_threads > 0 ? mo->n_threads : openblas_get_num_threads()), (long long)N, (long long)M,
               (long long)repeat, s2_kv_type_name(cp.kv_type));
    double single = 0;
    for (int i = 0; i < nb && rc == 0; i++)
        for (int sh = 1; sh >= 0 && rc == 0; sh--) {
            if (bs[i] == 1 && sh == 0) continue; /* one branch: nothing to share */
            branch_run r = {0};
            for (int64_t k = 0; k < repeat && rc == 0; k++) {
                if (run_branches(ctx, prefix, (int32_t)N, (int32_t)bs[i], (int32_t)M, sh, hp->n_vocab, &r, &err) != S2_OK)
                    rc = cli_fail("bench", &err);
                w[k] = r.wall_s;
                d[k] = r.decode_s;
            }
            if (rc != 0) break;
            /* tokens_per_s: the decoding (B*M tokens over the decode steps); wall: the prefix work included */
            double wtps = (double)(bs[i] * M) / median(w, (int)repeat), tps = (double)(bs[i] * M) / median(d, (int)repeat);
            if (bs[i] == 1) single = tps;
            if (json)
                json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:b, s:f, s:f, s:I, s:s, s:f}", "branches",
                                                     (json_int_t)bs[i], "prefix", (json_int_t)N, "gen", (json_int_t)M,
                                                     "shared", sh, "tokens_per_s", tps, "wall_tokens_per_s", wtps,
                                                     "kv_bytes", (json_int_t)r.kv_bytes, "kv_type",
                                                     s2_kv_type_name(cp.kv_type), "speedup_vs_single",
                                                     single > 0 ? tps / single : 0.0));
            else
                printf("%8lld  %-6s  %8.1f  %13.1f  %6.1f  %8.2f\n", (long long)bs[i], sh ? "yes" : "no", tps, wtps,
                       (double)r.kv_bytes / 1e6, single > 0 ? tps / single : 0.0);
        }
    if (json && rc == 0) {
        char *s = json_dumps(arr, JSON_COMPACT);
        puts(s);
        free(s);
    }
    json_decref(arr);
    free(prefix);
    free(w);
    free(d);
    s2_ctx_free(ctx);
    s2_model_free(m);
    return rc;
}

static const char *bench_help =
    "usage: sys2 bench -m MODEL [--prompt N] [--gen 64,256] [--repeat R] [--no-pack] [--json]\n"
    "Prefill tokens/s (one N-token prompt, default 128 or the context) and single-stream decode tokens/s (from BOS,\n"
    "each of --gen's counts of positions, as llama2.c's -n counts them), medians over R repeats (default 5), and the\n"
    "load time with the packed copy of the Q4_0/Q5_0 weights (--no-pack: the weights as stored, no copy).\n"
    "       sys2 bench -m MODEL --branches 1,4,16,64 [--prefix N] [--gen M] [--repeat R] [--json]\n"
    "M tokens on each of B branches forked from one N-token prefix (default 128, 64), decoded together (one forward\n"
    "of B rows per step), against the same run with every prefix computed for itself (shared: no). tokens/s counts\n"
    "the B*M decoded tokens over the decoding; 'with prefix' over the whole run, the prefix's computation included\n"
    "(once when shared, B times when not); KV MB is the cache in use at the end. --json: one object each.\n"
    "       sys2 bench --against KIND=PATH ... : side by side with llama-bench, llama-batched-bench or llama2.c's\n"
    "run, interleaved, with a bandwidth probe (sys2 bench --against llama-bench=x --help says more).\n"
    CLI_MODEL_HELP;

/* ---- a server: timed requests through s2_lm ---- */

/* For each entry of counts: repeat requests of B branches (counts[k], forked from one prompt and sampled in one
 * call: the backend sends them together) of gen tokens each, or of one sequence and counts[k] tokens; prints the
 * median wall time per call and the tokens per second it gives. */
static int bench_remote(const cli_model_opts *mo, const int64_t *counts, int n_counts, bool branches, int64_t gen,
                        int64_t repeat, bool json) {
    s2_lm *lm;
    int rc = cli_open_lm("bench", mo, &lm);
    if (rc != 0) return rc;
    const char *prompt = "Once upon a time";
    double *t = malloc((size_t)repeat * sizeof *t);
    int64_t *toks = calloc((size_t)repeat, sizeof *toks);
    json_t *rows = json_array();
    s2_error err = {0};
    s2_status st = t && toks ? S2_OK : s2_error_set(&err, S2_E_NOMEM, "bench: out of memory");
    if (!json && st == S2_OK)
        printf("server %s: %s from \"%s\" at temperature 0, medians of %lld calls (each timed whole)\n", mo->model,
               branches ? "branches sampled together" : "one sequence per call", prompt, (long long)repeat);
    for (int k = 0; st == S2_OK && k < n_counts; k++) {
        int32_t B = branches ? (int32_t)counts[k] : 1, M = (int32_t)(branches ? gen : counts[k]);
        s2_lm_sample_params sp = s2_lm_sample_default_params();
        sp.sample.temperature = 0;
        sp.max_tokens = M;
        for (int64_t r = 0; st == S2_OK && r < repeat; r++) {
            s2_lm_seq root = -1, *seqs = calloc((size_t)B, sizeof *seqs);
            s2_lm_gen *g = calloc((size_t)B, sizeof *g);
            if (seqs == NULL || g == NULL) st = s2_error_set(&err, S2_E_NOMEM, "bench: out of memory");
            double t0 = now_s();
            if (st == S2_OK) st = s2_lm_seq_new(lm, prompt, &root, &err);
            if (st == S2_OK) st = s2_lm_sample_n(lm, root, B, &sp, seqs, g, &err);
            t[r] = now_s() - t0;
            toks[r] = 0;
            for (int32_t b = 0; st == S2_OK && b < B; b++) {
                toks[r] += g[b].n_tokens;
                s2_lm_gen_free(&g[b]);
                s2_lm_seq_free(lm, seqs[b]);
            }
            if (root >= 0) s2_lm_seq_free(lm, root);
            free(seqs);
            free(g);
        }
        if (st != S2_OK) break;
        double sum_tok = 0;
        for (int64_t r = 0; r < repeat; r++) sum_tok += (double)toks[r];
        double med = median(t, (int)repeat), per_call = sum_tok / (double)repeat;
        if (json)
            json_array_append_new(rows, json_pack("{s:i, s:i, s:f, s:f, s:f}", "branches", B, "max_tokens", M,
                                                  "tokens_per_call", per_call, "call_s", med, "tokens_per_s",
                                                  med > 0 ? per_call / med : 0));
        else
            printf("branches %3d  max_tokens %5d  %8.1f tokens/call  %8.3f s/call  %10.1f tokens/s\n", B, M, per_call,
                   med, med > 0 ? per_call / med : 0);
    }
    if (st != S2_OK) {
        rc = cli_fail("bench", &err);
    } else if (json) {
        s2_counters c;
        s2_lm_counters(lm, &c);
        json_t *j = json_pack("{s:s, s:o, s:I, s:I}", "server", mo->model, "calls", rows, "requests",
                              (json_int_t)c.requests, "repeats", (json_int_t)repeat);
        rows = NULL;
        char *js = json_dumps(j, JSON_COMPACT);
        puts(js);
        free(js);
        json_decref(j);
    }
    json_decref(rows);
    free(t);
    free(toks);
    s2_lm_free(lm);
    return rc;
}

/* "1,4,16" into counts (at most 16), each >= min; false on a bad list. */
static bool parse_counts(const char *s, int64_t min, int64_t *counts, int *n) {
    *n = 0;
    while (*s && *n < 16) {
        char *end;
        long g = strtol(s, &end, 10);
        if (end == s || g < min) return false;
        counts[(*n)++] = g;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0') return false;
    }
    return *n > 0;
}

/* ---- --against: sys2 and another engine side by side ---- */

/* The other engines, one row each: the name given before '=' in --against KIND=PATH. */
enum { AG_LLAMA_BENCH, AG_BATCHED, AG_LLAMA2C, AG_N };
static const char *const ag_kinds[AG_N] = {"llama-bench", "llama-batched-bench", "llama2c"};

typedef struct ag_opts {
    const char *path[AG_N];            /* the other engines' programs (NULL: not compared) */
    const char *models, *branch_models; /* comma lists of GGUF files */
    const char *ckpt, *tokenizer;      /* the llama2.c checkpoint and its tokenizer */
    int64_t threads[16], positions[16];
    int n_threads, n_positions;
    int64_t prompt, gen, prefix, branches, repeat, probe_mb;
    s2_kv_type kv_type;
    bool json;
    const char *out; /* --out FILE: the JSON object written there too */
} ag_opts;

typedef struct ag_row {
    char cell[160];
    const char *engine;
    int threads;
    double sys2, other; /* medians, tokens/s (for the "x single" rows: the ratio of two medians) */
    double bound;       /* tokens/s at the probe's bandwidth; 0: none (prefill and ratio rows) */
    double gbps;        /* the probe's median over the cell's rounds */
} ag_row;

typedef struct ag_table {
    ag_row *rows;
    int n, cap;
    bool print; /* each row printed as it is measured (a run cut short keeps what it measured) */
    const struct ag_opts *o;
    const double *probe_gbps; /* the probe at the start, at each of n_probe thread counts */
    const int64_t *probe_threads;
    int n_probe;
} ag_table;

static bool ag_save(const ag_table *t, bool complete);

static void ag_print_row(const ag_row *r) {
    char bs[16] = "-", bo[16] = "-";
    if (r->bound > 0) {
        snprintf(bs, sizeof bs, "%.0f%%", 100 * r->sys2 / r->bound);
        snprintf(bo, sizeof bo, "%.0f%%", 100 * r->other / r->bound);
    }
    printf("%-52s %10.*f %10.*f  %-19s %6.2f %7s %7s %6.1f\n", r->cell, r->sys2 < 100 ? 2 : 1, r->sys2,
           r->other < 100 ? 2 : 1, r->other, r->engine, r->sys2 / r->other, bs, bo, r->gbps);
    fflush(stdout);
}

static ag_row *ag_add(ag_table *t, const char *engine, int threads, double sys2, double other, double gbps,
                      int64_t bytes, int tokens_per_read, const char *fmt, ...) __attribute__((format(printf, 9, 10)));
/* bytes: weight bytes read per step (0: a row without a bound), giving tokens_per_read tokens (the branches) */
static ag_row *ag_add(ag_table *t, const char *engine, int threads, double sys2, double other, double gbps,
                      int64_t bytes, int tokens_per_read, const char *fmt, ...) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        ag_row *r = realloc(t->rows, (size_t)cap * sizeof *r);
        if (r == NULL) return NULL;
        t->rows = r;
        t->cap = cap;
    }
    ag_row *r = &t->rows[t->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->cell, sizeof r->cell, fmt, ap);
    va_end(ap);
    r->engine = engine;
    r->threads = threads;
    r->sys2 = sys2;
    r->other = other;
    r->bound = bytes > 0 ? tokens_per_read * s2_bench_decode_bound(gbps, bytes) : 0;
    r->gbps = gbps;
    if (t->print) ag_print_row(r);
    if (t->o->out) ag_save(t, false); /* a failure to write is reported at the end */
    return r;
}

/* progress on stderr when it is a terminal */
static void ag_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ag_progress(const char *fmt, ...) {
    if (!isatty(2)) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The file name without folders and ".gguf"/".bin" (the cell's name). */
static void ag_base(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, cap, "%s", b);
    size_t n = strlen(out);
    if (n > 5 && strcmp(out + n - 5, ".gguf") == 0) out[n - 5] = '\0';
    else if (n > 4 && strcmp(out + n - 4, ".bin") == 0) out[n - 4] = '\0';
}

/* The last line of text (at most cap - 1 bytes of it) into buf. */
static void ag_last_line(const char *text, char *buf, size_t cap) {
    size_t n = text ? strlen(text) : 0;
    while (n > 0 && text[n - 1] == '\n') n--;
    size_t b = n;
    while (b > 0 && text[b - 1] != '\n') b--;
    snprintf(buf, cap, "%.*s", (int)(n - b), text ? text + b : "");
}

/* Runs argv; its stdout (or with use_err its stderr) in *text, owned by the caller, and the last line of the other
 * stream in tail (for messages). A nonzero exit is an error that quotes the last line of its stderr. */
static s2_status ag_exec(char **argv, bool use_err, char **text, char *tail, size_t tail_cap, s2_error *err) {
    char *out = NULL, *errs = NULL;
    int code = 0;
    s2_status st = s2_bench_exec(argv, &out, &errs, &code, err);
    if (st == S2_OK && code != 0) {
        size_t n = strlen(errs);
        while (n > 0 && errs[n - 1] == '\n') errs[--n] = '\0';
        const char *last = strrchr(errs, '\n');
        st = s2_error_set(err, S2_E_IO, "%s exited with status %d: %.160s", argv[0], code, last ? last + 1 : errs);
    }
    if (st == S2_OK) {
        ag_last_line(use_err ? out : errs, tail, tail_cap);
        *text = use_err ? errs : out;
        if (use_err) errs = NULL; else out = NULL;
    }
    free(out);
    free(errs);
    return st;
}

/* sys2 single stream: [prefill tokens/s of the prompt, decode tokens/s of gen positions from BOS] */
typedef struct ag_sys2_single {
    s2_ctx *ctx;
    const int32_t *prompt;
    int32_t n_prompt, gen, V, bos;
} ag_sys2_single;

static s2_status ag_run_sys2_single(void *user, double *v, s2_error *err) {
    ag_sys2_single *u = user;
    s2_seq seq;
    s2_status st = s2_seq_new(u->ctx, &seq, err);
    if (st != S2_OK) return st;
    double t0 = now_s();
    st = s2_seq_prefill(u->ctx, seq, u->prompt, u->n_prompt, NULL, err);
    v[0] = (double)u->n_prompt / (now_s() - t0);
    s2_seq_free(u->ctx, seq);
    if (st == S2_OK) v[1] = (double)u->gen / time_decode(u->ctx, u->bos, u->gen, u->V, false, err, &st);
    return st;
}

/* llama-bench: [pp tokens/s, tg tokens/s] of one `-r 1` call */
typedef struct ag_llama_bench {
    char **argv;
    int32_t n_prompt, n_gen;
} ag_llama_bench;

static s2_status ag_run_llama_bench(void *user, double *v, s2_error *err) {
    ag_llama_bench *u = user;
    char *text = NULL;
    char tail[200];
    s2_status st = ag_exec(u->argv, false, &text, tail, sizeof tail, err);
    s2_bench_llama_bench_row rows[8];
    int32_t n = 0;
    if (st == S2_OK) st = s2_bench_parse_llama_bench(text, rows, 8, &n, err);
    free(text);
    bool pp = false, tg = false;
    for (int32_t i = 0; st == S2_OK && i < n && i < 8; i++) {
        if (rows[i].n_prompt == u->n_prompt && rows[i].n_gen == 0) v[0] = rows[i].avg_ts, pp = true;
        if (rows[i].n_prompt == 0 && rows[i].n_gen == u->n_gen) v[1] = rows[i].avg_ts, tg = true;
    }
    if (st == S2_OK && (!pp || !tg))
        st = s2_error_set(err, S2_E_FORMAT, "llama-bench printed no pp%d or no tg%d test (its stderr ends: %s)",
                          (int)u->n_prompt, (int)u->n_gen, tail);
    return st;
}

/* sys2 branches: [decode tokens/s of 1 branch, of B branches forked from one prefix] */
typedef struct ag_sys2_branches {
    s2_ctx *ctx;
    const int32_t *prefix;
    int32_t N, M, B, V;
} ag_sys2_branches;

static s2_status ag_run_sys2_branches(void *user, double *v, s2_error *err) {
    ag_sys2_branches *u = user;
    branch_run r = {0};
    s2_status st = run_branches(u->ctx, u->prefix, u->N, 1, u->M, true, u->V, &r, err);
    if (st == S2_OK) v[0] = (double)u->M / r.decode_s;
    if (st == S2_OK) st = run_branches(u->ctx, u->prefix, u->N, u->B, u->M, true, u->V, &r, err);
    if (st == S2_OK) v[1] = (double)u->B * (double)u->M / r.decode_s;
    return st;
}

/* llama-batched-bench -pps -npl 1,B: [generation tokens/s at 1, at B] */
typedef struct ag_batched {
    char **argv;
    int32_t B;
} ag_batched;

static s2_status ag_run_batched(void *user, double *v, s2_error *err) {
    ag_batched *u = user;
    char *text = NULL;
    char tail[200];
    s2_status st = ag_exec(u->argv, false, &text, tail, sizeof tail, err);
    s2_bench_batched_row rows[8];
    int32_t n = 0;
    if (st == S2_OK) st = s2_bench_parse_batched_bench(text, rows, 8, &n, err);
    free(text);
    bool one = false, many = false;
    for (int32_t i = 0; st == S2_OK && i < n && i < 8; i++) {
        if (rows[i].pl == 1) v[0] = rows[i].speed_tg, one = true;
        if (rows[i].pl == u->B) v[1] = rows[i].speed_tg, many = true;
    }
    if (st == S2_OK && (!one || !many))
        st = s2_error_set(err, S2_E_FORMAT, "llama-batched-bench printed no row for 1 or %d sequences (its stderr "
                          "ends: %s)", (int)u->B, tail);
    return st;
}

/* sys2 as llama2.c times it: for each position count N, (N - 1) / the time of forwards 2..N */
typedef struct ag_sys2_positions {
    s2_ctx *ctx;
    const int64_t *positions;
    int n, V, bos;
} ag_sys2_positions;

static s2_status ag_run_sys2_positions(void *user, double *v, s2_error *err) {
    ag_sys2_positions *u = user;
    s2_status st = S2_OK;
    for (int i = 0; st == S2_OK && i < u->n; i++) {
        double dt = time_decode(u->ctx, u->bos, (int32_t)u->positions[i], u->V, true, err, &st);
        v[i] = (double)(u->positions[i] - 1) / dt;
    }
    return st;
}

/* llama2.c run: one call per position count (argv[n_index] is -n's value) */
typedef struct ag_llama2c {
    char **argv;
    int n_index;
    const int64_t *positions;
    int n;
} ag_llama2c;

static s2_status ag_run_llama2c(void *user, double *v, s2_error *err) {
    ag_llama2c *u = user;
    s2_status st = S2_OK;
    char nbuf[32];
    u->argv[u->n_index] = nbuf;
    for (int i = 0; st == S2_OK && i < u->n; i++) {
        snprintf(nbuf, sizeof nbuf, "%lld", (long long)u->positions[i]);
        char *text = NULL;
        char tail[8];
        st = ag_exec(u->argv, true, &text, tail, sizeof tail, err);
        if (st == S2_OK) st = s2_bench_parse_llama2c(text, &v[i], err);
        free(text);
    }
    return st;
}

/* the probe as a contender of each cell, so that its bound is measured in the same rounds: [GB/s, best of 3] */
typedef struct ag_probe {
    size_t bytes;
    int32_t n_threads;
} ag_probe;

static s2_status ag_run_probe(void *user, double *v, s2_error *err) {
    ag_probe *u = user;
    s2_bench_probe_params p = s2_bench_probe_default_params();
    p.bytes = u->bytes;
    p.n_threads = u->n_threads;
    return s2_bench_probe(&p, v, err);
}

/* The next name of a comma list into buf; false at its end. */
static bool ag_next(const char **list, char *buf, size_t cap) {
    const char *s = *list;
    if (s == NULL || *s == '\0') return false;
    const char *e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    snprintf(buf, cap, "%.*s", (int)n, s);
    *list = e ? e + 1 : s + n;
    return true;
}

static int ag_fail_model(s2_model *m, s2_ctx *ctx, s2_error *err) {
    s2_ctx_free(ctx);
    s2_model_free(m);
    return cli_fail("bench", err);
}

/* Decode and prefill of each model file at each thread count, against llama-bench. */
static int ag_single(const ag_opts *o, ag_table *t) {
    char path[4096], name[256], tbuf[16], pbuf[16], nbuf[16];
    for (const char *list = o->models; ag_next(&list, path, sizeof path);) {
        ag_base(path, name, sizeof name);
        s2_error err = {0};
        s2_model *m = NULL;
        if (s2_model_load(path, NULL, &m, &err) != S2_OK) return cli_fail("bench", &err);
        const s2_hparams *hp = s2_model_hparams(m);
        int32_t n_prompt = (int32_t)o->prompt, *prompt = malloc((size_t)n_prompt * sizeof *prompt);
        int32_t bos = s2_vocab_bos(s2_model_vocab(m));
        if (prompt == NULL) return s2_model_free(m), cli_usage("bench", "out of memory");
        fill_prompt(prompt, n_prompt, hp->n_vocab, bos);
        for (int k = 0; k < o->n_threads; k++) {
            s2_ctx_params cp = s2_ctx_default_params();
            cp.n_ctx = (int32_t)(o->prompt > o->gen ? o->prompt : o->gen) + 1;
            cp.n_threads = (int32_t)o->threads[k];
            cp.kv_type = o->kv_type;
            cp.prefix_cache = false;
            s2_ctx *ctx = NULL;
            if (s2_ctx_init(m, &cp, &ctx, &err) != S2_OK) return free(prompt), ag_fail_model(m, NULL, &err);
            ag_sys2_single us = {.ctx = ctx, .prompt = prompt, .n_prompt = n_prompt, .gen = (int32_t)o->gen,
                                 .V = hp->n_vocab, .bos = bos >= 0 ? bos : 0};
            double warm[2];
            s2_status st = ag_run_sys2_single(&us, warm, &err); /* the mmap'd weights paged in, not timed */
            snprintf(tbuf, sizeof tbuf, "%lld", (long long)o->threads[k]);
            snprintf(pbuf, sizeof pbuf, "%lld", (long long)o->prompt);
            snprintf(nbuf, sizeof nbuf, "%lld", (long long)o->gen);
            char *argv[] = {(char *)o->path[AG_LLAMA_BENCH], "-m", path, "-p", pbuf, "-n", nbuf, "-t", tbuf, "-r", "1",
                            "-o", "json", o->kv_type == S2_KV_F16 ? "-ctk" : NULL, "f16", "-ctv", "f16", NULL};
            ag_llama_bench ul = {.argv = argv, .n_prompt = n_prompt, .n_gen = (int32_t)o->gen};
            ag_probe up = {.bytes = (size_t)o->probe_mb << 20, .n_threads = (int32_t)o->threads[k]};
            s2_bench_runner rs[3] = {{.run = ag_run_sys2_single, .user = &us, .n_values = 2},
                                     {.run = ag_run_llama_bench, .user = &ul, .n_values = 2},
                                     {.run = ag_run_probe, .user = &up, .n_values = 1}};
            double med[5];
            ag_progress("%s, %s thread(s): sys2 and llama-bench, %lld rounds", name, tbuf, (long long)o->repeat);
            if (st == S2_OK) st = s2_bench_interleave(rs, 3, (int32_t)o->repeat, NULL, med, &err);
            if (st != S2_OK) return free(prompt), ag_fail_model(m, ctx, &err);
            int64_t bytes = s2_model_weight_bytes(m);
            int th = (int)o->threads[k];
            ag_add(t, "llama-bench", th, med[1], med[3], med[4], bytes, 1, "%s decode tg%lld, %dt", name, (long long)o->gen, th);
            ag_add(t, "llama-bench", th, med[0], med[2], med[4], 0, 1, "%s prefill pp%lld, %dt", name, (long long)o->prompt, th);
            s2_ctx_free(ctx);
        }
        free(prompt);
        s2_model_free(m);
    }
    return 0;
}

/* B branches forked from one N-token prefix, M tokens each, against llama-batched-bench -pps. */
static int ag_branches(const ag_opts *o, ag_table *t) {
    char path[4096], name[256], tbuf[16], nbuf[16], mbuf[16], plbuf[32], cbuf[16], kv[8];
    snprintf(kv, sizeof kv, "%s", s2_kv_type_name(o->kv_type));
    int32_t N = (int32_t)o->prefix, M = (int32_t)o->gen, B = (int32_t)o->branches;
    for (const char *list = o->branch_models; ag_next(&list, path, sizeof path);) {
        ag_base(path, name, sizeof name);
        s2_error err = {0};
        s2_model *m = NULL;
        if (s2_model_load(path, NULL, &m, &err) != S2_OK) return cli_fail("bench", &err);
        const s2_hparams *hp = s2_model_hparams(m);
        int32_t *prefix = malloc((size_t)N * sizeof *prefix);
        if (prefix == NULL) return s2_model_free(m), cli_usage("bench", "out of memory");
        fill_prompt(prefix, N, hp->n_vocab, s2_vocab_bos(s2_model_vocab(m)));
        for (int k = 0; k < o->n_threads; k++) {
            s2_ctx_params cp = branches_ctx_params(m, N, M, B, o->threads[k], &o->kv_type);
            s2_ctx *ctx = NULL;
            if (s2_ctx_init(m, &cp, &ctx, &err) != S2_OK) return free(prefix), ag_fail_model(m, NULL, &err);
            ag_sys2_branches us = {.ctx = ctx, .prefix = prefix, .N = N, .M = M, .B = B, .V = hp->n_vocab};
            branch_run warm;
            s2_status st = run_branches(ctx, prefix, N, 1, 1, true, hp->n_vocab, &warm, &err); /* paged in */
            snprintf(tbuf, sizeof tbuf, "%lld", (long long)o->threads[k]);
            snprintf(nbuf, sizeof nbuf, "%d", (int)N);
            snprintf(mbuf, sizeof mbuf, "%d", (int)M);
            snprintf(plbuf, sizeof plbuf, "1,%d", (int)B);
            /* its cache holds B unshared sequences of N + M (it skips a row unless pl * (pp + tg) <= n_ctx), with
             * room to spare: it rounds n_ctx to its sequences */
            snprintf(cbuf, sizeof cbuf, "%d", (int)(((int64_t)B * (N + M) + 1024 + 255) / 256 * 256));
            char *argv[] = {(char *)o->path[AG_BATCHED], "-m", path, "-c", cbuf, "-npp", nbuf, "-ntg", mbuf, "-npl",
                            plbuf, "-pps", "-t", tbuf, "-tb", tbuf, "-ctk", kv, "-ctv", kv, "--output-format", "jsonl",
                            NULL};
            ag_batched ub = {.argv = argv, .B = B};
            ag_probe up = {.bytes = (size_t)o->probe_mb << 20, .n_threads = (int32_t)o->threads[k]};
            s2_bench_runner rs[3] = {{.run = ag_run_sys2_branches, .user = &us, .n_values = 2},
                                     {.run = ag_run_batched, .user = &ub, .n_values = 2},
                                     {.run = ag_run_probe, .user = &up, .n_values = 1}};
            double med[5];
            ag_progress("%s, %s thread(s): sys2 and llama-batched-bench, %d branches, %lld rounds", name, tbuf, (int)B,
                        (long long)o->repeat);
            if (st == S2_OK) st = s2_bench_interleave(rs, 3, (int32_t)o->repeat, NULL, med, &err);
            if (st != S2_OK) return free(prefix), ag_fail_model(m, ctx, &err);
            int64_t bytes = s2_model_weight_bytes(m);
            int th = (int)o->threads[k];
            ag_add(t, "llama-batched-bench", th, med[0], med[2], med[4], bytes, 1, "%s 1 branch after %d, tg%d, %dt", name,
                   (int)N, (int)M, th);
            /* B branches read the weights once a step for B tokens: a bound B times the single stream's */
            ag_add(t, "llama-batched-bench", th, med[1], med[3], med[4], bytes, B,
                   "%s %d branches from %d shared, tg%d, %dt", name, (int)B, (int)N, (int)M, th);
            ag_add(t, "llama-batched-bench", th, med[1] / med[0], med[3] / med[2], med[4], 0, 1,
                   "%s %d branches / 1 (x), %dt", name, (int)B, th);
            s2_ctx_free(ctx);
        }
        free(prefix);
        s2_model_free(m);
    }
    return 0;
}

/* A llama2.c checkpoint decoded from BOS for each position count, one thread, against llama2.c's run. */
static int ag_llama2c_cells(const ag_opts *o, ag_table *t) {
    char name[256];
    ag_base(o->ckpt, name, sizeof name);
    s2_error err = {0};
    s2_model *m = NULL;
    s2_model_params mp = s2_model_default_params();
    mp.tokenizer = o->tokenizer;
    if (s2_model_load(o->ckpt, &mp, &m, &err) != S2_OK) return cli_fail("bench", &err);
    int64_t maxn = 0;
    for (int i = 0; i < o->n_positions; i++) maxn = o->positions[i] > maxn ? o->positions[i] : maxn;
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = (int32_t)maxn + 1;
    cp.n_threads = 1;
    cp.kv_type = o->kv_type;
    cp.prefix_cache = false;
    s2_ctx *ctx = NULL;
    if (s2_ctx_init(m, &cp, &ctx, &err) != S2_OK) return ag_fail_model(m, NULL, &err);
    int32_t bos = s2_vocab_bos(s2_model_vocab(m));
    ag_sys2_positions us = {.ctx = ctx, .positions = o->positions, .n = o->n_positions,
                            .V = s2_model_hparams(m)->n_vocab, .bos = bos >= 0 ? bos : 0};
    char *argv[] = {(char *)o->path[AG_LLAMA2C], (char *)o->ckpt, "-z", (char *)o->tokenizer, "-t", "0", "-n", NULL,
                    NULL};
    ag_llama2c ul = {.argv = argv, .n_index = 7, .positions = o->positions, .n = o->n_positions};
    ag_probe up = {.bytes = (size_t)o->probe_mb << 20, .n_threads = 1};
    s2_bench_runner rs[3] = {{.run = ag_run_sys2_positions, .user = &us, .n_values = o->n_positions},
                             {.run = ag_run_llama2c, .user = &ul, .n_values = o->n_positions},
                             {.run = ag_run_probe, .user = &up, .n_values = 1}};
    double med[33], warm[16];
    ag_progress("%s: sys2 and llama2.c, %lld rounds", name, (long long)o->repeat);
    s2_status st = ag_run_sys2_positions(&us, warm, &err);
    if (st == S2_OK) st = s2_bench_interleave(rs, 3, (int32_t)o->repeat, NULL, med, &err);
    if (st != S2_OK) return ag_fail_model(m, ctx, &err);
    for (int i = 0; i < o->n_positions; i++)
        ag_add(t, "llama2.c run", 1, med[i], med[o->n_positions + i], med[2 * o->n_positions],
               s2_model_weight_bytes(m), 1, "%s decode %lld positions, 1t", name, (long long)o->positions[i]);
    s2_ctx_free(ctx);
    s2_model_free(m);
    return 0;
}

static void ag_cpu_name(char *out, size_t cap) {
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            const char *v = strchr(line, ':') + 1;
            while (*v == ' ') v++;
            snprintf(out, cap, "%s", v);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    fclose(f);
}

/* The table's head (text), before any cell is measured. */
static void ag_print_head(const ag_opts *o, const double *gbps, const int64_t *probe_threads, int n_probe) {
    char cpu[256];
    ag_cpu_name(cpu, sizeof cpu);
    printf("host: %s, %ld CPUs; OpenBLAS %s; KV cache %s; medians of %lld interleaved rounds (sys2, then the other)\n",
           cpu, sysconf(_SC_NPROCESSORS_ONLN), openblas_get_corename(), s2_kv_type_name(o->kv_type),
           (long long)o->repeat);
    printf("bandwidth probe (streaming read of %lld MiB, best of 3 passes) at the start:", (long long)o->probe_mb);
    for (int k = 0; k < n_probe; k++) printf("%s %lld thread(s) %.1f GB/s", k ? "," : "", (long long)probe_threads[k], gbps[k]);
    printf("\n%-52s %10s %10s  %-19s %6s %7s %7s %6s\n", "cell (tokens/s)", "sys2", "other", "other engine", "ratio",
           "sys2 %b", "other %b", "GB/s");
    fflush(stdout);
}

/* The end: the JSON object (--json, --out), or the text table's footnote. */
/* The table as one JSON object (malloc'd); complete: false while cells remain. */
static char *ag_json(const ag_table *t, bool complete) {
    const ag_opts *o = t->o;
    char cpu[256];
    ag_cpu_name(cpu, sizeof cpu);
    json_t *probe = json_array(), *rows = json_array();
    for (int k = 0; k < t->n_probe; k++)
        json_array_append_new(probe, json_pack("{s:I, s:f}", "threads", (json_int_t)t->probe_threads[k], "gbps",
                                               t->probe_gbps[k]));
    for (int i = 0; i < t->n; i++) {
        const ag_row *r = &t->rows[i];
        json_t *j = json_pack("{s:s, s:s, s:i, s:f, s:f, s:f, s:f}", "cell", r->cell, "engine", r->engine, "threads",
                              r->threads, "sys2", r->sys2, "other", r->other, "ratio", r->sys2 / r->other, "probe_gbps",
                              r->gbps);
        if (r->bound > 0) {
            json_object_set_new(j, "bound_tokens_per_s", json_real(r->bound));
            json_object_set_new(j, "sys2_pct_bound", json_real(100 * r->sys2 / r->bound));
            json_object_set_new(j, "other_pct_bound", json_real(100 * r->other / r->bound));
        }
        json_array_append_new(rows, j);
    }
    json_t *j = json_pack("{s:s, s:i, s:s, s:I, s:I, s:s, s:b, s:o, s:o}", "cpu", cpu, "cpus",
                          (int)sysconf(_SC_NPROCESSORS_ONLN), "openblas_core", openblas_get_corename(), "repeats",
                          (json_int_t)o->repeat, "probe_mib", (json_int_t)o->probe_mb, "kv_type",
                          s2_kv_type_name(o->kv_type), "complete", complete, "probe", probe, "rows", rows);
    char *str = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return str;
}

/* --out: the object so far, rewritten after every row (a run cut short keeps its rows there too) */
static bool ag_save(const ag_table *t, bool complete) {
    char *str = ag_json(t, complete);
    FILE *f = str ? fopen(t->o->out, "w") : NULL;
    bool ok = f != NULL && fprintf(f, "%s\n", str) > 0;
    if (f != NULL && fclose(f) != 0) ok = false;
    free(str);
    return ok;
}

/* The end: the JSON object (--json, --out), or the text table's footnote. */
static int ag_print(const ag_table *t) {
    if (t->o->json) {
        char *str = ag_json(t, true);
        if (str) puts(str);
        free(str);
    } else {
        printf("%%b: %% of the bandwidth bound, GB/s / weight bytes per token (x branches), GB/s: the probe's median "
               "over the cell's rounds; prefill and ratio rows have none\n");
    }
    if (t->o->out && !ag_save(t, true)) {
        s2_error err;
        s2_error_set(&err, S2_E_IO, "%s: cannot write", t->o->out);
        return cli_fail("bench", &err);
    }
    return 0;
}

static const char *against_help =
    "usage: sys2 bench --against KIND=PATH [--against KIND=PATH ...] [options]\n"
    "Runs sys2's benchmark and another engine's on the same files, interleaved (sys2, other, sys2, other, ...;\n"
    "--repeat R rounds each), and prints one table of medians: cell, sys2, the other engine, sys2 / other, and each\n"
    "row's %% of the bandwidth bound: a streaming read of --probe-mb MiB (best of 3 passes) is a third contender in\n"
    "every cell's rounds, at its thread count, and a decode row's bound is the median GB/s / weight bytes per token\n"
    "(a row of B branches: B times that). The probe runs once more at the start for the table's head.\n"
    "KIND:\n"
    "  llama-bench          decode tg(--gen) and prefill pp(--prompt) of each of --models, at each --threads-list\n"
    "                       count: PATH -m F -p P -n G -t T -r 1 -ctk KV -ctv KV -o json\n"
    "  llama-batched-bench  1 and --branches B sequences from one shared --prefix N prompt, --gen tokens each, of\n"
    "                       each of --branch-models (default --models): PATH -npp N -ntg G -npl 1,B -pps\n"
    "                       --output-format jsonl (tokens/s: B x G over the generation, sys2's branch figure)\n"
    "  llama2c              llama2.c's run on --ckpt with -z TOKENIZER, one thread, for each --positions count N:\n"
    "                       PATH CKPT -z TOK -t 0 -n N ('achieved tok/s', timed after the first token, as sys2 here)\n"
    "options:\n"
    "  --models A,B,...        GGUF files for llama-bench (and llama-batched-bench)\n"
    "  --branch-models A,...   GGUF files for llama-batched-bench (default: --models)\n"
    "  --ckpt FILE -z TOK      a llama2.c checkpoint and tokenizer for llama2c\n"
    "  --threads-list 1,2      thread counts (default 1,2; llama2c runs one thread)\n"
    "  --prompt P --gen G      prefill and decode lengths (default 128, 64)\n"
    "  --prefix N --branches B shared prefix and branch count (default 128, 16)\n"
    "  --positions 64,256      llama2c's position counts (default 64,256)\n"
    "  --repeat R              rounds (default 5)      --probe-mb MB  probe buffer (default 1024)\n"
    "  --kv-type f16|f32       the KV cache of sys2 and llama-batched-bench (default f16, llama.cpp's default;\n"
    "                          llama-bench takes no f32: with f32 its rows keep f16)\n"
    "  --json                  the table as one JSON object    --out FILE  that object written to FILE as well\n"
    "The other engines run with OMP_WAIT_POLICY unset (sys2 sets it to PASSIVE for itself): their own default.\n";

static int bench_against(int argc, char **argv) {
    ag_opts o = {.prompt = 128, .gen = 64, .prefix = 128, .branches = 16, .repeat = 5, .probe_mb = 1024,
                 .kv_type = S2_KV_F16};
    const char *v = NULL, *threads_s = "1,2", *positions_s = "64,256";
    bool bad = false;
    for (int i = 1; i < argc; i++) {
        int64_t *num = NULL;
        if (cli_is_help(argv[i])) {
            fputs(against_help, stdout);
            return 0;
        } else if (cli_flag(argc, argv, &i, "--against", NULL, &v, &bad)) {
            if (bad) return 2;
            const char *eq = strchr(v, '=');
            int k = 0;
            while (eq && k < AG_N && !(strlen(ag_kinds[k]) == (size_t)(eq - v) && strncmp(v, ag_kinds[k], (size_t)(eq - v)) == 0)) k++;
            if (eq == NULL || k == AG_N || eq[1] == '\0')
                return cli_usage("bench", "--against wants KIND=PATH with KIND llama-bench, llama-batched-bench or "
                                 "llama2c, not '%s'", v);
            o.path[k] = eq + 1;
        } else if (cli_flag(argc, argv, &i, "--models", NULL, &v, &bad)) {
            o.models = v;
        } else if (cli_flag(argc, argv, &i, "--branch-models", NULL, &v, &bad)) {
            o.branch_models = v;
        } else if (cli_flag(argc, argv, &i, "--ckpt", NULL, &v, &bad)) {
            o.ckpt = v;
        } else if (cli_flag(argc, argv, &i, "-z", "--tokenizer", &v, &bad)) {
            o.tokenizer = v;
        } else if (cli_flag(argc, argv, &i, "--threads-list", NULL, &v, &bad)) {
            threads_s = v;
        } else if (cli_flag(argc, argv, &i, "--positions", NULL, &v, &bad)) {
            positions_s = v;
        } else if (cli_flag(argc, argv, &i, "--kv-type", NULL, &v, &bad)) {
            if (!bad && !s2_kv_type_parse(v, &o.kv_type)) return cli_usage("bench", "--kv-type wants f32 or f16");
        } else if (strcmp(argv[i], "--json") == 0) {
            o.json = true;
        } else if (cli_flag(argc, argv, &i, "--out", NULL, &v, &bad)) {
            o.out = v;
        } else if (cli_flag(argc, argv, &i, "--prompt", NULL, &v, &bad)) {
            num = &o.prompt;
        } else if (cli_flag(argc, argv, &i, "--gen", NULL, &v, &bad)) {
            num = &o.gen;
        } else if (cli_flag(argc, argv, &i, "--prefix", NULL, &v, &bad)) {
            num = &o.prefix;
        } else if (cli_flag(argc, argv, &i, "--branches", NULL, &v, &bad)) {
            num = &o.branches;
        } else if (cli_flag(argc, argv, &i, "--repeat", NULL, &v, &bad)) {
            num = &o.repeat;
        } else if (cli_flag(argc, argv, &i, "--probe-mb", NULL, &v, &bad)) {
            num = &o.probe_mb;
        } else {
            return cli_usage("bench", "--against: unknown argument '%s'", argv[i]);
        }
        if (bad) return 2;
        if (num != NULL && (!cli_parse_i64(v, num) || *num < 1 || *num > 1000000))
            return cli_usage("bench", "%s wants a count >= 1, not '%s'", argv[i - 1], v);
    }
    if (o.gen < 2 || o.branches < 2 || o.repeat > 1000 || o.branches > 4096)
        return cli_usage("bench", "--gen and --branches want at least 2 (--branches at most 4096), --repeat at most 1000");
    if (!parse_counts(threads_s, 1, o.threads, &o.n_threads) || !parse_counts(positions_s, 2, o.positions, &o.n_positions))
        return cli_usage("bench", "--threads-list and --positions want counts like 1,2 and 64,256");
    if (o.branch_models == NULL) o.branch_models = o.models;
    if (o.path[AG_LLAMA_BENCH] && o.models == NULL) return cli_usage("bench", "llama-bench wants --models");
    if (o.path[AG_BATCHED] && o.branch_models == NULL) return cli_usage("bench", "llama-batched-bench wants --branch-models");
    if (o.path[AG_LLAMA2C] && (o.ckpt == NULL || o.tokenizer == NULL))
        return cli_usage("bench", "llama2c wants --ckpt CHECKPOINT and -z TOKENIZER");
    if (!o.path[0] && !o.path[1] && !o.path[2]) return cli_usage("bench", "--against: no engine given");
    unsetenv("OMP_WAIT_POLICY"); /* the children's own default; sys2's threads read it at startup */

    /* the probe at each thread count (1 is always measured: the llama2c rows' bound) */
    int64_t pt[17];
    int np = 0;
    pt[np++] = 1;
    for (int k = 0; k < o.n_threads; k++)
        if (o.threads[k] != 1) pt[np++] = o.threads[k];
    double pg[17];
    for (int k = 0; k < np; k++) {
        s2_bench_probe_params pp = s2_bench_probe_default_params();
        pp.bytes = (size_t)o.probe_mb << 20;
        pp.n_threads = (int32_t)pt[k];
        s2_error err = {0};
        ag_progress("probe: %lld MiB, %lld thread(s)", (long long)o.probe_mb, (long long)pt[k]);
        if (s2_bench_probe(&pp, &pg[k], &err) != S2_OK) return cli_fail("bench", &err);
    }
    ag_table t = {.print = !o.json, .o = &o, .probe_gbps = pg, .probe_threads = pt, .n_probe = np};
    if (t.print) ag_print_head(&o, pg, pt, np);
    int rc = 0;
    if (o.path[AG_LLAMA_BENCH]) rc = ag_single(&o, &t);
    if (rc == 0 && o.path[AG_BATCHED]) rc = ag_branches(&o, &t);
    if (rc == 0 && o.path[AG_LLAMA2C]) rc = ag_llama2c_cells(&o, &t);
    if (rc == 0) rc = ag_print(&t);
    free(t.rows);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    cli_model_opts mo = {0};
    const char *v = NULL, *gen_s = NULL, *branches_s = NULL;
    int64_t prefix_n = 128;
    int64_t prompt_n = 128, repeat = 5;
    bool json = false, bad = false, pack = true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--against") == 0) return bench_against(argc, argv);
    for (int i = 1; i < argc; i++) {
        int mf = cli_model_flag(&mo, argc, argv, &i);
        if (mf < 0) return 2;
        if (mf > 0) continue;
        if (cli_is_help(argv[i])) {
            fputs(bench_help, stdout);
            return 0;
        } else if (cli_flag(argc, argv, &i, "--prompt", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &prompt_n) || prompt_n < 1)) return cli_usage("bench", "--prompt wants a count");
        } else if (cli_flag(argc, argv, &i, "--gen", NULL, &v, &bad)) {
            gen_s = v;
        } else if (cli_flag(argc, argv, &i, "--branches", NULL, &v, &bad)) {
            branches_s = v;
        } else if (cli_flag(argc, argv, &i, "--prefix", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &prefix_n) || prefix_n < 1)) return cli_usage("bench", "--prefix wants a count");
        } else if (cli_flag(argc, argv, &i, "--repeat", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &repeat) || repeat < 1 || repeat > 1000)) return cli_usage("bench", "--repeat wants 1..1000");
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--no-pack") == 0) {
            pack = false;
        } else {
            return cli_usage("bench", "unknown argument '%s'", argv[i]);
        }
        if (bad) return 2;
    }
    if (mo.model == NULL) return cli_usage("bench", "no model: give -m MODEL");
    if (cli_is_url(mo.model)) {
        int64_t counts[16], M = 64;
        int nc = 0;
        if (branches_s != NULL && gen_s != NULL && (!cli_parse_i64(gen_s, &M) || M < 1))
            return cli_usage("bench", "--gen wants one count with --branches");
        if (!parse_counts(branches_s ? branches_s : gen_s ? gen_s : "64", 1, counts, &nc))
            return cli_usage("bench", "--%s wants counts like 1,4,16", branches_s ? "branches" : "gen");
        return bench_remote(&mo, counts, nc, branches_s != NULL, M, repeat, json);
    }
    if (branches_s != NULL) {
        int64_t M = 64;
        if (gen_s != NULL && (!cli_parse_i64(gen_s, &M) || M < 1)) return cli_usage("bench", "--gen wants one count with --branches");
        return bench_branches(&mo, branches_s, prefix_n, M, repeat, json);
    }
    if (gen_s == NULL) gen_s = "64,256";
    int64_t gens[16];
    int n_gens = 0;
    for (char *s = (char *)gen_s; *s && n_gens < 16;) {
        char *end;
        long g = strtol(s, &end, 10);
        if (end == s || g < 2) return cli_usage("bench", "--gen wants counts >= 2 like 64,256");
        gens[n_gens++] = g;
        s = *end == ',' ? end + 1 : end;
    }
    if (mo.model == NULL) return cli_usage("bench", "no model: give -m MODEL");
    s2_error err = {0};
    s2_model *m = NULL;
    s2_model_params mp = s2_model_default_params();
    mp.tokenizer = mo.tokenizer;
    mp.pack_rows = pack;
    double load_t0 = now_s();
    if (s2_model_load(mo.model, &mp, &m, &err) != S2_OK) return cli_fail("bench", &err);
    double load_s = now_s() - load_t0;
    const s2_hparams *hp = s2_model_hparams(m);
    int64_t need = prompt_n;
    for (int i = 0; i < n_gens; i++) need = gens[i] > need ? gens[i] : need;
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = (int32_t)(mo.n_ctx > 0 ? mo.n_ctx : (need > hp->n_ctx_train ? need : hp->n_ctx_train));
    cp.n_threads = (int32_t)mo.n_threads;
    if (mo.kv_type_set) cp.kv_type = mo.kv_type;
    cp.prefix_cache = false; /* every repeat computes its prompt */
    s2_ctx *ctx = NULL;
    if (s2_ctx_init(m, &cp, &ctx, &err) != S2_OK) {
        s2_model_free(m);
        return cli_fail("bench", &err);
    }
    if (prompt_n > cp.n_ctx) prompt_n = cp.n_ctx;
    int32_t V = hp->n_vocab, bos = s2_vocab_bos(s2_model_vocab(m));
    int32_t *ids = malloc((size_t)prompt_n * sizeof(int32_t));
    double *t = malloc((size_t)repeat * sizeof(double));
    fill_prompt(ids, (int32_t)prompt_n, V, bos);
    s2_status st = S2_OK;
    for (int64_t r = 0; st == S2_OK && r < repeat; r++) {
        s2_seq seq;
        st = s2_seq_new(ctx, &seq, &err);
        double t0 = now_s();
        if (st == S2_OK) st = s2_seq_prefill(ctx, seq, ids, (int32_t)prompt_n, NULL, &err);
        t[r] = now_s() - t0;
        s2_seq_free(ctx, seq);
    }
    double prefill_tps = st == S2_OK ? (double)prompt_n / median(t, (int)repeat) : 0;
    double decode_tps[16] = {0};
    for (int g = 0; st == S2_OK && g < n_gens; g++) {
        /* positions include the first token, as llama2.c's -n: gens[g] forwards */
        for (int64_t r = 0; st == S2_OK && r < repeat; r++)
            t[r] = time_decode(ctx, bos >= 0 ? bos : 0, (int32_t)gens[g], V, false, &err, &st);
        if (st == S2_OK) decode_tps[g] = (double)gens[g] / median(t, (int)repeat);
    }
    int rc = 0;
    if (st != S2_OK) {
        rc = cli_fail("bench", &err);
    } else if (json) {
        json_t *dec = json_array();
        for (int g = 0; g < n_gens; g++)
            json_array_append_new(dec, json_pack("{s:I, s:f}", "positions", (json_int_t)gens[g], "tokens_per_s", decode_tps[g]));
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:f, s:i, s:s, s:I, s:f, s:o, s:I}", "model", mo.model, "params",
                              (json_int_t)s2_model_n_params(m), "weight_bytes", (json_int_t)s2_model_weight_bytes(m),
                              "packed_bytes", (json_int_t)s2_model_packed_bytes(m), "load_s", load_s,
                              "threads", (int)(mo.n_threads > 0 ? mo.n_threads : openblas_get_num_threads()),
                              "openblas_core", openblas_get_corename(), "prefill_tokens", (json_int_t)prompt_n,
                              "prefill_tokens_per_s", prefill_tps, "decode", dec, "repeats", (json_int_t)repeat);
        char *s = json_dumps(j, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(j);
    } else {
        printf("model %s: %lld parameters, %.2f MB of weights; OpenBLAS %s kernel, %d thread(s); medians of %lld\n",
               mo.model, (long long)s2_model_n_params(m), (double)s2_model_weight_bytes(m) / 1e6,
               openblas_get_corename(), (int)(mo.n_threads > 0 ? mo.n_threads : openblas_get_num_threads()),
               (long long)repeat);
        printf("load     %.0f ms, %.2f MB of packed weights%s\n", load_s * 1e3,
               (double)s2_model_packed_bytes(m) / 1e6, pack ? "" : " (--no-pack)");
        printf("prefill  %5lld tokens   %10.1f tokens/s\n", (long long)prompt_n, prefill_tps);
        for (int g = 0; g < n_gens; g++)
            printf("decode   %5lld positions %9.1f tokens/s   (%.2f GB/s of weights)\n", (long long)gens[g],
                   decode_tps[g], decode_tps[g] * (double)s2_model_weight_bytes(m) / 1e9);
    }
    free(ids);
    free(t);
    s2_ctx_free(ctx);
    s2_model_free(m);
    return rc;
}
