/* cmd_bench.c: sys2 bench: prefill tokens/s and single-stream decode tokens/s, medians over repeats, with the
 * OpenBLAS kernel that ran and the weight bytes read per token (so the figure can be set against memory
 * bandwidth). With -m URL: timed requests to the server through s2_lm (tokens per call, seconds per call). */
#include <cblas.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cmd_bench(int argc, char **argv);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A deterministic token stream for prompts: BOS, then ids spread over the vocabulary. */
static void fill_prompt(int32_t *ids, int32_t n, int32_t V, int32_t bos) {
    for (int32_t i = 0; i < n; i++) ids[i] = (int32_t)(((int64_t)i * 7919 + 13) % V);
    if (bos >= 0) ids[0] = bos;
}

/* Decodes gen tokens greedily, one row per forward, after a one-token prompt; returns seconds. */
static double time_decode(s2_ctx *ctx, int32_t first, int32_t gen, int32_t V, s2_error *err, s2_status *st) {
    s2_seq seq;
    *st = s2_seq_new(ctx, &seq, err);
    if (*st != S2_OK) return 0;
    double t0 = now_s();
    int32_t tok = first;
    *st = s2_ctx_decode(ctx, &seq, &tok, NULL, 1, err);
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
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = (int32_t)(N + M + 1);
    cp.n_threads = (int32_t)mo->n_threads;
    cp.n_batch = (int32_t)(maxb > 512 ? maxb : 512);
    cp.prefix_cache = false; /* sharing comes from forks alone; the unshared run computes every prefix */
    int64_t block_bytes = (int64_t)hp->n_layer * 16 * hp->n_head_kv * hp->head_dim * 2 * 4;
    cp.kv_max_bytes = maxb * ((N + M + 1) / 16 + 2) * block_bytes; /* room for every branch unshared */
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
        printf("model %s: %lld parameters, OpenBLAS %s, %d thread(s); prefix %lld, %lld tokens per branch, medians of %lld\n"
               "branches  shared  tokens/s  with prefix/s   KV MB  x single\n",
               mo->model, (long long)s2_model_n_params(m), openblas_get_corename(),
               (int)(mo->n_threads > 0 ? mo->n_threads : openblas_get_num_threads()), (long long)N, (long long)M,
               (long long)repeat);
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
                json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:b, s:f, s:f, s:I, s:f}", "branches",
                                                     (json_int_t)bs[i], "prefix", (json_int_t)N, "gen", (json_int_t)M,
                                                     "shared", sh, "tokens_per_s", tps, "wall_tokens_per_s", wtps,
                                                     "kv_bytes", (json_int_t)r.kv_bytes, "speedup_vs_single",
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
    "usage: sys2 bench -m MODEL [--prompt N] [--gen 64,256] [--repeat R] [--json]\n"
    "Prefill tokens/s (one N-token prompt, default 128 or the context) and single-stream decode tokens/s (from BOS,\n"
    "each of --gen's counts of positions, as llama2.c's -n counts them), medians over R repeats (default 5).\n"
    "       sys2 bench -m MODEL --branches 1,4,16,64 [--prefix N] [--gen M] [--repeat R] [--json]\n"
    "M tokens on each of B branches forked from one N-token prefix (default 128, 64), decoded together (one forward\n"
    "of B rows per step), against the same run with every prefix computed for itself (shared: no). tokens/s counts\n"
    "the B*M decoded tokens over the decoding; 'with prefix' over the whole run, the prefix's computation included\n"
    "(once when shared, B times when not); KV MB is the cache in use at the end. --json: one object each.\n"
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

int cmd_bench(int argc, char **argv) {
    cli_model_opts mo = {0};
    const char *v = NULL, *gen_s = NULL, *branches_s = NULL;
    int64_t prefix_n = 128;
    int64_t prompt_n = 128, repeat = 5;
    bool json = false, bad = false;
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
    if (s2_model_load(mo.model, &mp, &m, &err) != S2_OK) return cli_fail("bench", &err);
    const s2_hparams *hp = s2_model_hparams(m);
    int64_t need = prompt_n;
    for (int i = 0; i < n_gens; i++) need = gens[i] > need ? gens[i] : need;
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = (int32_t)(mo.n_ctx > 0 ? mo.n_ctx : (need > hp->n_ctx_train ? need : hp->n_ctx_train));
    cp.n_threads = (int32_t)mo.n_threads;
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
            t[r] = time_decode(ctx, bos >= 0 ? bos : 0, (int32_t)gens[g], V, &err, &st);
        if (st == S2_OK) decode_tps[g] = (double)gens[g] / median(t, (int)repeat);
    }
    int rc = 0;
    if (st != S2_OK) {
        rc = cli_fail("bench", &err);
    } else if (json) {
        json_t *dec = json_array();
        for (int g = 0; g < n_gens; g++)
            json_array_append_new(dec, json_pack("{s:I, s:f}", "positions", (json_int_t)gens[g], "tokens_per_s", decode_tps[g]));
        json_t *j = json_pack("{s:s, s:I, s:I, s:i, s:s, s:I, s:f, s:o, s:I}", "model", mo.model, "params",
                              (json_int_t)s2_model_n_params(m), "weight_bytes", (json_int_t)s2_model_weight_bytes(m),
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
