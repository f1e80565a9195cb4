/* cmd_run.c: sys2 run (one strategy x one task x one budget into a JSONL file, resumable), sys2 sweep (a grid of
 * runs into one folder, then the report), sys2 report (a table of result files as text, Markdown or JSON, and
 * accuracy against compute plotted with gnuplot), sys2 strategies (every strategy and scorer with its
 * parameters, defaults and sources). The runner itself is search/run.c. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "plot.h"
#include "run.h"

int cmd_run(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_strategies(int argc, char **argv);

static volatile int g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

/* ---- shared flag handling for run and sweep ---- */

typedef struct run_opts {
    s2_run_config c;
    cli_model_opts mo;
    const char *keys[64], *vals[64];
    char *kv_store[64];
    int32_t n_params;
    bool quiet;
    struct sweep_prog *sweep;     /* sweep: the grid's progress (NULL for run) */
    char *chat_template; /* --template-file's content */
    int errored_items;            /* items that errored, over every do_run */
} run_opts;

/* A sweep's progress over its whole grid, beside the current run's. */
typedef struct sweep_prog {
    int run, runs;                /* the current run (1-based) of how many */
    int64_t items_new;            /* items finished by the earlier runs of this sweep */
    double t0;                    /* sweep start */
} sweep_prog;

static int add_param(run_opts *o, const char *cmd, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv) return cli_usage(cmd, "--param wants key=value, got '%s'", kv);
    if (o->n_params == 64) return cli_usage(cmd, "too many --param (64 at most)");
    char *k = strdup(kv); /* key and value both owned: kv may be a caller's scratch buffer */
    if (k == NULL) return cli_usage(cmd, "out of memory");
    k[eq - kv] = '\0';
    o->kv_store[o->n_params] = k;
    o->keys[o->n_params] = k;
    o->vals[o->n_params++] = k + (eq - kv) + 1;
    return 0;
}

static void free_params(run_opts *o) {
    for (int32_t i = 0; i < o->n_params; i++) free(o->kv_store[i]);
    o->n_params = 0;
    free(o->chat_template);
    o->chat_template = NULL;
}

/* Consumes one flag common to run and sweep: 1 taken, 0 not one of them, 2 a usage error (already printed). */
static int common_flag(run_opts *o, const char *cmd, int argc, char **argv, int *i) {
    const char *v = NULL;
    bool bad = false;
    int64_t x;
    int mf = cli_model_flag(&o->mo, argc, argv, i);
    if (mf == 1) return 1;
    if (mf < 0) return 2;
    if (cli_flag(argc, argv, i, "--task", NULL, &v, &bad)) o->c.task = v;
    else if (cli_flag(argc, argv, i, "--data", NULL, &v, &bad)) o->c.data = v;
    else if (cli_flag(argc, argv, i, "--split", NULL, &v, &bad)) o->c.split = v;
    else if (cli_flag(argc, argv, i, "--value", NULL, &v, &bad)) o->c.value = v;
    else if (cli_flag(argc, argv, i, "--param", "-p", &v, &bad)) {
        if (!bad && add_param(o, cmd, v) != 0) return 2;
    } else if (cli_flag(argc, argv, i, "--limit", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &x) || x < 0 || x > INT32_MAX)) return cli_usage(cmd, "--limit wants N >= 0");
        o->c.limit = (int32_t)x;
    } else if (cli_flag(argc, argv, i, "--n-items", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &x) || x < 0 || x > INT32_MAX)) return cli_usage(cmd, "--n-items wants N >= 0");
        o->c.n_items = (int32_t)x;
    } else if (cli_flag(argc, argv, i, "--task-seed", NULL, &v, &bad)) {
        if (!bad && !cli_parse_i64(v, &x)) return cli_usage(cmd, "--task-seed wants an integer");
        o->c.task_seed = (uint64_t)x;
    } else if (cli_flag(argc, argv, i, "--seed", NULL, &v, &bad)) {
        if (!bad && !cli_parse_i64(v, &x)) return cli_usage(cmd, "--seed wants an integer");
        o->c.seed = (uint64_t)x;
    } else if (cli_flag(argc, argv, i, "--kv-mb", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &x) || x < 1)) return cli_usage(cmd, "--kv-mb wants a positive integer");
        o->c.kv_mb = x;
    } else if (cli_flag(argc, argv, i, "--shard", NULL, &v, &bad)) {
        int a = -1, b = -1, nc = 0;
        if (!bad && (sscanf(v, "%d/%d%n", &a, &b, &nc) != 2 || v[nc] != '\0' || b < 1 || a < 0 || a >= b))
            return cli_usage(cmd, "--shard wants i/n with 0 <= i < n, got '%s'", v);
        o->c.shard_i = a;
        o->c.shard_n = b;
    } else if (strcmp(argv[*i], "--trace") == 0) {
        o->c.trace = true;
    } else if (strcmp(argv[*i], "--chat") == 0 || strcmp(argv[*i], "--no-chat") == 0) {
        o->c.chat = argv[*i][2] == 'c' ? 1 : -1;
    } else if (cli_flag(argc, argv, i, "--system", NULL, &v, &bad)) {
        o->c.system = v;
    } else if (cli_flag(argc, argv, i, "--template-file", NULL, &v, &bad)) {
        FILE *f = bad ? NULL : fopen(v, "rb");
        if (!bad && f == NULL) return cli_usage(cmd, "--template-file %s: %s", v, strerror(errno));
        if (f != NULL) {
            free(o->chat_template);
            o->chat_template = cli_read_all(f, 0, NULL);
            fclose(f);
            if (o->chat_template == NULL) return cli_usage(cmd, "--template-file %s: out of memory", v);
            o->c.chat_template = o->chat_template;
            o->c.chat_template_file = v;
        }
    } else if (strcmp(argv[*i], "--quiet") == 0 || strcmp(argv[*i], "-q") == 0) {
        o->quiet = true;
    } else {
        return 0;
    }
    return bad ? 2 : 1;
}

static void fmt_dur(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e7) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* sweep: run i of n, this run's items, and the grid's ETA at the rate of the items done so far (each later run
 * is taken to hold as many items as this one). */
static void sweep_progress(void *user, const s2_run_progress *p) {
    const sweep_prog *s = user;
    double el = mono_s() - s->t0, rate = el > 0 ? (s->items_new + p->done_now) / el : 0;
    double left = (double)(p->total - p->done) + (double)(s->runs - s->run) * p->total;
    char eta[32];
    fmt_dur(rate > 0 ? left / rate : -1, eta, sizeof eta);
    fprintf(stderr, "\r\033[K[sweep] run %d/%d  items %d/%d  acc %.1f%%  grid ETA %s", s->run, s->runs, p->done,
            p->total, p->done > 0 ? 100.0 * p->correct / p->done : 0.0, eta);
    fflush(stderr);
}

static void progress(void *user, const s2_run_progress *p) {
    (void)user;
    char eta[32];
    double rate = p->elapsed_s > 0 ? p->done_now / p->elapsed_s : 0;
    fmt_dur(rate > 0 ? (p->total - p->done) / rate : -1, eta, sizeof eta);
    int32_t ran = p->done - p->errors;
    fprintf(stderr, "\r\033[K[run] %d/%d items  acc %.1f%%  %d errors  %.0f tok/s  ETA %s", p->done, p->total,
            ran > 0 ? 100.0 * p->correct / ran : 0.0, p->errors, p->elapsed_s > 0 ? p->tokens / p->elapsed_s : 0.0, eta);
    fflush(stderr);
}

/* Runs o->c with the model flags; prints the summary to sum (stdout for run; stderr for sweep, whose stdout is
 * the report). Returns the exit status. */
static int do_run(run_opts *o, const char *cmd, FILE *sum) {
    o->c.model = o->mo.model;
    o->c.tokenizer = o->mo.tokenizer;
    o->c.model_name = o->mo.model_name;
    o->c.server = o->mo.server; /* HTTP: --server, --http-timeout, --http-retries */
    o->c.http_timeout_s = o->mo.http_timeout_s;
    o->c.http_tries = o->mo.http_retries_set ? (int32_t)o->mo.http_retries + 1 : 0;
    o->c.n_ctx = (int32_t)o->mo.n_ctx;
    if (o->mo.kv_type_set) o->c.kv_type = o->mo.kv_type;
    o->c.threads = (int32_t)(o->mo.n_threads > 0 ? o->mo.n_threads : 1);
    o->c.keys = o->keys;
    o->c.vals = o->vals;
    o->c.n_params = o->n_params;
    o->c.version = S2_VERSION;
    o->c.stop = &g_stop;
    bool tty = isatty(STDERR_FILENO) && !o->quiet;
    o->c.progress = tty ? (o->sweep ? sweep_progress : progress) : NULL;
    o->c.progress_user = o->sweep;
    s2_run_summary s;
    s2_error err = {0};
    if (o->c.check_only) o->c.progress = NULL;
    s2_status st = s2_run(&o->c, &s, &err);
    if (tty && !o->c.check_only) fprintf(stderr, "\n");
    if (o->sweep) o->sweep->items_new += s.done;
    if (st != S2_OK) {
        int rc = cli_fail(cmd, &err);
        return st == S2_E_ARG ? 2 : rc; /* a configuration refused before the first item */
    }
    if (o->c.check_only) return 0;
    int32_t in_file = s.skipped + s.done, ran = in_file - s.errors;
    fprintf(sum, "%s: %d items (%d new, %d already in the file), %d correct (%.1f%% of the %d that ran), %d errors, "
            "%.1f s\n", o->c.out, in_file, s.done, s.skipped, s.correct, ran > 0 ? 100.0 * s.correct / ran : 0.0, ran,
            s.errors, s.wall_s);
    if (g_stop) {
        fprintf(stderr, "sys2 %s: interrupted; run the same command again to resume\n", cmd);
        return 1;
    }
    if (s.errors > 0) {
        o->errored_items += s.errors;
        fprintf(stderr, "sys2 %s: error: %d of %d items errored (their lines say why: \"error\": true)\n", cmd,
                s.errors, in_file);
        return 1;
    }
    return 0;
}

#define RUN_FLAGS_HELP                                                                                            \
    "  --task T          task name (sys2 tasks)\n"                                                                \
    "  --data F          dataset file (default: the task's own)\n"                                                \
    "  --split S         task split (tot, all, heldout, test, ...)\n"                                             \
    "  --n-items N       generated tasks: how many items\n"                                                       \
    "  --task-seed S     generated tasks: the items' seed (default: the task's)\n"                                                       \
    "  --value FILE      value model GGUF (for --scorer value)\n"                                                 \
    "  --param K=V       a strategy, scorer, task or env parameter (repeatable; see sys2 strategies):\n"        \
    "                    search.K, scorer.K, task.K, env.K, or a bare K when only one of them has it\n"       \
    "  --limit N         the first N items only\n"                                                                \
    "  --seed S          run seed (per-item seeds derive from it and the item id; default 0)\n"                   \
    "  --shard i/n       only items with index %% n == i\n"                                                       \
    "  --kv-mb N         KV memory per item context (default: room for 64 full sequences)\n"                    \
    "  --trace           write the whole search tree in each line\n"                                             \
    "  --chat            the task's prompt as a user message through the chat template (default: on when the\n"   \
    "                    model has one and the task is a question-answer task: gsm8k, math500, humaneval, mbpp)\n" \
    "  --no-chat         the task's prompt as it is\n"                                                            \
    "  --system TEXT     with chat: a system message first\n"                                                     \
    "  --template-file F with chat: this Jinja template instead of the model's tokenizer.chat_template\n"         \
    "  -q, --quiet       no progress line\n"                                                                      \
    "  -m MODEL          the policy: a .gguf file, a llama2.c .bin (with -z), or an http(s)://.../v1 server\n"   \
    "  -z TOKENIZER      llama2.c tokenizer (tok*.bin) for a .bin model\n"                                        \
    "  --model-name NAME with an http(s) -m: the served model (default: the first of GET /v1/models)\n"         \
    "  --ctx N           context length (default: the model's)\n"                                                 \
    "  --threads N       items run in parallel (default 1, the engine on all cores; N > 1: one core each)\n"

int cmd_run(int argc, char **argv) {
    run_opts o;
    memset(&o, 0, sizeof o);
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            printf("usage: sys2 run --task T --search S [--scorer C] -m POLICY [--budget tokens=N|flops=F|calls=K]\n"
                   "                --out FILE.jsonl [options]\n"
                   "Runs a search strategy over a task's items; one JSON line per item, flushed as it is done.\n"
                   "The same command again resumes: items already in FILE are skipped (a larger --limit, or\n"
                   "another --shard, extends the run). One writer per FILE (a second is refused). Exit status:\n"
                   "0 every item ran, 1 some item errored (counted apart) or a failure, 2 a configuration\n"
                   "refused before the first item (one that would fail every item, too).\n\n"
                   "  --search S        strategy (sys2 strategies)\n"
                   "  --scorer C        scorer (default logprob)\n"
                   "  --budget B        tokens=N, flops=F or calls=K per item (default none)\n"
                   "  --out FILE        the result file (JSONL; first line: the configuration)\n" RUN_FLAGS_HELP);
            free_params(&o);
            return 0;
        }
        int c = common_flag(&o, "run", argc, argv, &i);
        if (c == 1) continue;
        if (c == 2) rc = 2;
        else if (cli_flag(argc, argv, &i, "--search", "-s", &v, &bad)) o.c.search = v;
        else if (cli_flag(argc, argv, &i, "--scorer", NULL, &v, &bad)) o.c.scorer = v;
        else if (cli_flag(argc, argv, &i, "--budget", "-b", &v, &bad)) o.c.budget = v;
        else if (cli_flag(argc, argv, &i, "--out", "-o", &v, &bad)) o.c.out = v;
        else rc = cli_usage("run", "unknown option '%s'", argv[i]);
        if (bad) rc = 2;
    }
    if (rc == 0 && (o.c.task == NULL || o.c.search == NULL || o.mo.model == NULL || o.c.out == NULL))
        rc = cli_usage("run", "--task, --search, -m and --out are required");
    if (rc == 0) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        rc = do_run(&o, "run", stdout);
    }
    free_params(&o);
    return rc;
}

/* ---- sweep ---- */

/* Splits a comma-separated list in place into at most cap parts. */
static int split_list(char *s, char **parts, int cap) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < cap; tok = strtok(NULL, ",")) parts[n++] = tok;
    return n;
}

static void sanitize(char *s) {
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
            *s = '_';
}

static int report_files(char **files, int n, int fmt, const char *plot, bool dedupe);
static const s2_param_def *strategy_defs(const char *name, int32_t *n);

int cmd_sweep(int argc, char **argv) {
    run_opts o;
    memset(&o, 0, sizeof o);
    const char *searches = NULL, *scorers = "logprob", *budgets = "none", *dir = NULL, *plot = NULL;
    bool md = false;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            printf("usage: sys2 sweep --task T -m POLICY --searches S1,S2 [--scorers C1,C2] [--budgets B1,B2]\n"
                   "                  --dir DIR [--md] [--plot PREFIX] [options]\n"
                   "Runs every strategy x scorer x budget into DIR (one resumable JSONL file each), then prints\n"
                   "the report. A strategy may carry its own parameters: tot-bfs:b=1:k=8. io and cot ignore the\n"
                   "scorer and run once per budget. The whole grid is checked before any run starts; items that\n"
                   "error do not stop the grid, and the sweep then exits 1 saying how many.\n\n"
                   "  --searches LIST   strategies, comma-separated, each NAME[:K=V...]\n"
                   "  --scorers LIST    scorers (default logprob)\n"
                   "  --budgets LIST    budgets (default none)\n"
                   "  --dir DIR         where the result files go (created)\n"
                   "  --md              the report as Markdown\n"
                   "  --plot PREFIX     also PREFIX.png and PREFIX.svg (accuracy against tokens)\n" RUN_FLAGS_HELP);
            return 0;
        }
        int c = common_flag(&o, "sweep", argc, argv, &i);
        if (c == 1) continue;
        if (c == 2) rc = 2;
        else if (cli_flag(argc, argv, &i, "--searches", NULL, &v, &bad)) searches = v;
        else if (cli_flag(argc, argv, &i, "--scorers", NULL, &v, &bad)) scorers = v;
        else if (cli_flag(argc, argv, &i, "--budgets", NULL, &v, &bad)) budgets = v;
        else if (cli_flag(argc, argv, &i, "--dir", NULL, &v, &bad)) dir = v;
        else if (cli_flag(argc, argv, &i, "--plot", NULL, &v, &bad)) plot = v;
        else if (strcmp(argv[i], "--md") == 0) md = true;
        else rc = cli_usage("sweep", "unknown option '%s'", argv[i]);
        if (bad) rc = 2;
    }
    if (rc == 0 && (o.c.task == NULL || searches == NULL || o.mo.model == NULL || dir == NULL))
        rc = cli_usage("sweep", "--task, --searches, -m and --dir are required");
    if (rc != 0) {
        free_params(&o);
        return rc;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "sys2 sweep: error: %s: %s\n", dir, strerror(errno));
        free_params(&o);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char *sb = strdup(searches), *cb = strdup(scorers), *bb = strdup(budgets);
    char *sl[64], *cl[16], *bl[32];
    int ns = split_list(sb, sl, 64), nc = split_list(cb, cl, 16), nb = split_list(bb, bl, 32);
    if (ns == 0 || nc == 0 || nb == 0)
        rc = cli_usage("sweep", "--searches, --scorers and --budgets each want at least one entry");
    char **files = calloc((size_t)(ns * nc * nb > 0 ? ns * nc * nb : 1), sizeof *files);
    int nf = 0, errored = 0;
    int32_t common = o.n_params;
    sweep_prog sp = {.t0 = mono_s()};
    for (int si = 0; si < ns; si++) {
        bool io_cot = strncmp(sl[si], "io", 2) == 0 && (sl[si][2] == '\0' || sl[si][2] == ':');
        io_cot = io_cot || (strncmp(sl[si], "cot", 3) == 0 && (sl[si][3] == '\0' || sl[si][3] == ':'));
        sp.runs += (io_cot ? 1 : nc) * nb;
    }
    o.sweep = &sp;
    /* pass 0 checks every run of the grid (names, parameters, budgets, the task) before pass 1 runs any */
    for (int pass = 0; pass < 2 && rc == 0; pass++)
        for (int si = 0; si < ns && rc == 0 && !g_stop; si++) {
            char spec[256];
            snprintf(spec, sizeof spec, "%s", sl[si]);
            char *name = strtok(spec, ":");
            bool no_scorer = strcmp(name, "io") == 0 || strcmp(name, "cot") == 0;
            for (int ci = 0; ci < (no_scorer ? 1 : nc) && rc == 0 && !g_stop; ci++)
                for (int bi = 0; bi < nb && rc == 0 && !g_stop; bi++) {
                    o.n_params = common;
                    char spec2[256];
                    snprintf(spec2, sizeof spec2, "%s", sl[si]);
                    strtok(spec2, ":");
                    for (char *kv = strtok(NULL, ":"); kv && rc == 0; kv = strtok(NULL, ":")) {
                        /* a key of the strategy's own table is the strategy's (beam:mode=token is search.mode);
                         * any other goes as written */
                        char nkv[300], key[128];
                        snprintf(key, sizeof key, "%.*s", (int)strcspn(kv, "="), kv);
                        int32_t nd;
                        const s2_param_def *defs = strategy_defs(name, &nd);
                        bool own = false;
                        for (int32_t k = 0; k < nd; k++) own |= strcmp(defs[k].key, key) == 0;
                        snprintf(nkv, sizeof nkv, "%s%s", own ? "search." : "", kv);
                        rc = add_param(&o, "sweep", nkv);
                    }
                    char base[512], path[1024];
                    snprintf(base, sizeof base, "%s__%s__%s", sl[si], no_scorer ? "none" : cl[ci], bl[bi]);
                    sanitize(base);
                    snprintf(path, sizeof path, "%s/%s.jsonl", dir, base);
                    o.c.search = name;
                    o.c.scorer = no_scorer ? "logprob" : cl[ci];
                    o.c.budget = bl[bi];
                    o.c.out = path;
                    o.c.check_only = pass == 0;
                    if (rc == 0 && pass == 0) {
                        rc = do_run(&o, "sweep", stderr);
                    } else if (rc == 0) {
                        files[nf++] = strdup(path);
                        sp.run++;
                        if (!o.quiet) fprintf(stderr, "[sweep] run %d/%d: %s\n", sp.run, sp.runs, path);
                        int before = o.errored_items;
                        rc = do_run(&o, "sweep", stderr);
                        if (rc == 1 && o.errored_items > before && !g_stop) { /* items errored: go on, fail at the end */
                            errored += o.errored_items - before;
                            rc = 0;
                        }
                    }
                    for (int32_t k = common; k < o.n_params; k++) free(o.kv_store[k]);
                    o.n_params = common;
                }
        }
    if (rc == 0 && nf > 0) rc = report_files(files, nf, md ? 1 : 0, plot, false);
    for (int i = 0; i < nf; i++) free(files[i]);
    free(files);
    if (rc == 0 && errored > 0) {
        fprintf(stderr, "sys2 sweep: error: %d items errored in the grid's runs (see the errors column)\n", errored);
        rc = 1;
    }
    free(sb);
    free(cb);
    free(bb);
    free_params(&o);
    return rc;
}

/* ---- report: reading result files into rows (the plots below only read rows) ---- */

typedef struct row {
    char file[512], label[256], scorer[128], budget[64], task[64], split[64];
    char model[256], value[256];  /* for the plot's title */
    long long seed;
    char search_name[32], scorer_name[32]; /* for the defaults listed under the table */
    char *key;                    /* what defines the run (s2_run_config_key): shards of one run share a row */
    json_t *ids;                  /* the item ids seen (a set), over every file of the row */
    double cached, prompt, outside_sum;
    int32_t n, correct, errors, budget_hits, context_hits; /* n: items that ran (errors not among them) */
    double acc, lo, hi, tokens, flops, wall, wall_total, cache_hit, outside, reward;
} row;

static void wilson(int32_t k, int32_t n, double *lo, double *hi) {
    if (n == 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    double z = 1.959963984540054, p = (double)k / n, z2n = z * z / n;
    double center = (p + z2n / 2) / (1 + z2n);
    double half = z * sqrt(p * (1 - p) / n + z2n / (4.0 * n)) / (1 + z2n);
    *lo = k == 0 || center - half < 0 ? 0 : center - half; /* exact ends: rounding leaves 1e-17 there */
    *hi = k == n || center + half > 1 ? 1 : center + half;
}

/* A params struct of any strategy, scorer or the env, for formatting defaults. */
typedef union any_params {
    s2_sc_params a;
    s2_mcts_params b;
    s2_beam_params c;
    s2_env_params d;
    char pad[1024];
} any_params;

/* Appends " key=value" to buf for each parameter of defs whose value in params (a result file's object)
 * differs from its default; with all, every parameter (the defaults themselves when params is NULL). */
static void append_params(const s2_param_def *defs, int32_t n, json_t *params, bool all, char *buf, size_t cap) {
    any_params tmp;
    memset(&tmp, 0, sizeof tmp);
    s2_params_defaults(defs, n, &tmp);
    for (int32_t k = 0; k < n; k++) {
        char dflt[64], val[64] = "";
        s2_params_format(&defs[k], &tmp, dflt, sizeof dflt);
        json_t *v = json_object_get(params, defs[k].key);
        if (json_is_string(v)) snprintf(val, sizeof val, "%s", json_string_value(v));
        else if (json_is_number(v)) snprintf(val, sizeof val, "%g", json_number_value(v));
        else snprintf(val, sizeof val, "%s", dflt);
        if (!all && strcmp(val, dflt) == 0) continue;
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, " %s=%s", defs[k].key, val);
    }
}

static const s2_param_def *strategy_defs(const char *name, int32_t *n) {
    for (int32_t s = 0; name && s < s2_strategy_count(); s++)
        if (strcmp(s2_strategy_name_at(s), name) == 0) return s2_strategy_params_at(s, n);
    *n = 0;
    return NULL;
}

static const s2_param_def *scorer_defs(const char *name, int32_t *n) {
    for (int32_t s = 0; name && s < s2_scorer_count(); s++)
        if (strcmp(s2_scorer_name_at(s), name) == 0) return s2_scorer_params_at(s, n);
    *n = 0;
    return NULL;
}

/* io and cot never consult a scorer: their rows show none */
static bool scorerless(const char *search) {
    return search && (strcmp(search, "io") == 0 || strcmp(search, "cot") == 0);
}

/* The row's labels from a configuration: "tot-bfs b=1" (the parameters that differ from the strategy's
 * defaults), "value" or "logprob mode=sum" (likewise; "-" for io and cot), task, split, budget. */
static void label_row(json_t *cfg, row *r) {
    const char *search = json_string_value(json_object_get(cfg, "search"));
    const char *scorer = json_string_value(json_object_get(cfg, "scorer"));
    const char *split = json_string_value(json_object_get(cfg, "split"));
    const char *task = json_string_value(json_object_get(cfg, "task"));
    int32_t n;
    snprintf(r->label, sizeof r->label, "%s", search ? search : "?");
    const s2_param_def *defs = strategy_defs(search, &n);
    append_params(defs, n, json_object_get(cfg, "params"), false, r->label, sizeof r->label);
    defs = s2_env_param_defs(&n); /* the shared ones too (max_step_tokens=16, temperature=0.5) */
    append_params(defs, n, json_object_get(cfg, "env"), false, r->label, sizeof r->label);
    snprintf(r->search_name, sizeof r->search_name, "%s", search ? search : "?");
    if (scorerless(search)) {
        snprintf(r->scorer, sizeof r->scorer, "-");
        r->scorer_name[0] = '\0';
    } else {
        snprintf(r->scorer, sizeof r->scorer, "%s", scorer ? scorer : "?");
        defs = scorer_defs(scorer, &n);
        append_params(defs, n, json_object_get(cfg, "scorer_params"), false, r->scorer, sizeof r->scorer);
        snprintf(r->scorer_name, sizeof r->scorer_name, "%s", scorer ? scorer : "");
    }
    snprintf(r->task, sizeof r->task, "%s", task ? task : "?");
    snprintf(r->split, sizeof r->split, "%s", split ? split : "default");
    snprintf(r->budget, sizeof r->budget, "%s", json_string_value(json_object_get(cfg, "budget")));
    json_t *mp = json_object_get(json_object_get(cfg, "model"), "path"); /* the plot's title */
    json_t *vp = json_object_get(json_object_get(cfg, "value"), "path");
    snprintf(r->model, sizeof r->model, "%s", cli_or(json_string_value(mp), ""));
    snprintf(r->value, sizeof r->value, "%s", cli_or(json_string_value(vp), ""));
    r->seed = json_integer_value(json_object_get(cfg, "seed"));
}

static bool line_errored(json_t *o) {
    const char *status = json_string_value(json_object_get(o, "status"));
    json_t *e = json_object_get(o, "error");
    return e ? json_is_true(e) : status && strcmp(status, "error") == 0; /* older files: status only */
}

/* Reads path into r: a fresh row (r->key NULL), or one whose key the file must match (-1 when it does not: the
 * caller tries the next row). An item seen twice is refused naming it, unless dedupe (the first is kept). */
static int read_result(const char *path, row *r, bool dedupe) {
    FILE *f = fopen(path, "r");
    struct stat sb;
    if (f == NULL || fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "sys2 report: error: %s: %s\n", path, f ? "is a directory, not a result file" : strerror(errno));
        if (f) fclose(f);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    double cached = 0, prompt = 0, outside = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (o == NULL) {
            if (line[len - 1] != '\n') break; /* a torn last line of a running or killed run */
            fprintf(stderr, "sys2 report: error: %s:%d: %s\n", path, lineno, je.text);
            rc = 1;
        } else if (lineno == 1) {
            json_t *cfg = json_object_get(o, "sys2_run");
            char *key = cfg ? s2_run_config_key(cfg) : NULL;
            if (key == NULL) {
                fprintf(stderr, "sys2 report: error: %s: not a sys2 result file\n", path);
                rc = 1;
            } else if (r->key != NULL && strcmp(key, r->key) != 0) { /* not a shard of this row's run */
                free(key);
                rc = -1;
            } else {
                if (r->key == NULL) {
                    r->key = key;
                    r->ids = json_object();
                    snprintf(r->file, sizeof r->file, "%s", path);
                    label_row(cfg, r);
                } else {
                    free(key);
                }
            }
        } else {
            const char *id = json_string_value(json_object_get(o, "id"));
            bool dup = id && json_object_get(r->ids, id) != NULL;
            if (id == NULL) {
                fprintf(stderr, "sys2 report: error: %s:%d: a line without an item id%s\n", path, lineno,
                        json_object_get(o, "sys2_run") ? " (a second configuration line: files joined by hand?)" : "");
                rc = 1;
            } else if (dup && !dedupe) {
                fprintf(stderr, "sys2 report: error: %s:%d: item %s is in the run twice (two writers, or files "
                        "given twice); --dedupe keeps the first\n", path, lineno, id);
                rc = 1;
            } else if (!dup) {
                json_object_set_new(r->ids, id, json_true());
                if (line_errored(o)) {
                    r->errors++;
                } else {
                    const char *status = json_string_value(json_object_get(o, "status"));
                    r->n++;
                    r->correct += json_is_true(json_object_get(o, "correct"));
                    r->reward += json_number_value(json_object_get(o, "reward"));
                    r->budget_hits += status && strcmp(status, "budget") == 0;
                    r->context_hits += status && strcmp(status, "context") == 0;
                    r->tokens += json_number_value(json_object_get(o, "tokens"));
                    r->flops += json_number_value(json_object_get(o, "flops"));
                    r->wall_total += json_number_value(json_object_get(o, "wall_s"));
                    outside += json_number_value(json_object_get(o, "outside_s"));
                    json_t *tc = json_object_get(o, "total_counters");
                    cached += json_number_value(json_object_get(tc, "cached_tokens"));
                    prompt += json_number_value(json_object_get(tc, "prompt_tokens"));
                }
            }
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    if (rc == 0 && lineno == 0) {
        fprintf(stderr, "sys2 report: error: %s: empty\n", path);
        rc = 1;
    }
    if (rc != 0) return rc;
    r->cached += cached;
    r->prompt += prompt;
    r->outside_sum += outside;
    return 0;
}

/* Means and the interval from the sums read_result gathered, over the items that ran. */
static void finish_row(row *r) {
    int32_t n = r->n > 0 ? r->n : 1;
    r->acc = (double)r->correct / n;
    wilson(r->correct, r->n, &r->lo, &r->hi);
    r->tokens /= n;
    r->flops /= n;
    r->reward /= n;
    r->wall = r->wall_total / n;
    r->cache_hit = r->cached + r->prompt > 0 ? r->cached / (r->cached + r->prompt) : 0;
    r->outside = r->wall_total > 0 ? r->outside_sum / r->wall_total : 0;
}

/* A budget's place on its strategy's line: its limit, "none" (unlimited) last. */
static double budget_order(const char *b) {
    const char *eq = strchr(b, '=');
    return eq ? strtod(eq + 1, NULL) : HUGE_VAL;
}

/* Accuracy against mean tokens (PREFIX) and against mean FLOPs (PREFIX_flops) per item, log x, PNG and SVG: one
 * series per strategy and scorer, its budget points joined in budget order and labelled, 95% Wilson intervals as
 * error bars; the conventions of plot.h. */
static int plot(const row *rows, int n, const char *prefix) {
    char dat[1024], gp[1024], px[1100];
    snprintf(dat, sizeof dat, "%s.dat", prefix);
    snprintf(gp, sizeof gp, "%s.gp", prefix);
    FILE *f = fopen(dat, "w");
    if (f == NULL) {
        fprintf(stderr, "sys2 report: error: %s: %s\n", dat, strerror(errno));
        return 1;
    }
    /* one block per series: tokens flops acc lo hi "budget", rows in budget order */
    int blocks = 0, multi[64] = {0};
    char labels[64][300];
    double ymin = 100, ymax = 0;
    for (int i = 0; i < n; i++) {
        char lab[300];
        snprintf(lab, sizeof lab, "%s [%s]", rows[i].label, rows[i].scorer);
        bool seen = false;
        for (int b = 0; b < blocks && !seen; b++) seen = strcmp(labels[b], lab) == 0;
        if (seen || blocks == 64) continue;
        snprintf(labels[blocks], sizeof labels[0], "%s", lab);
        int idx[256], m = 0;
        for (int j = i; j < n && m < 256; j++) {
            char lj[300];
            snprintf(lj, sizeof lj, "%s [%s]", rows[j].label, rows[j].scorer);
            if (strcmp(lj, lab) != 0) continue;
            int q = m++; /* insertion by budget */
            while (q > 0 && budget_order(rows[idx[q - 1]].budget) > budget_order(rows[j].budget)) {
                idx[q] = idx[q - 1];
                q--;
            }
            idx[q] = j;
        }
        multi[blocks] = m > 1;
        fprintf(f, "# %s\n", lab);
        for (int q = 0; q < m; q++) {
            const row *r = &rows[idx[q]];
            /* the label: a token budget's limit alone (the axis says what it counts), other budgets in full */
            const char *eq = strncmp(r->budget, "tokens=", 7) == 0 ? r->budget + 6 : NULL;
            if (eq == NULL && strcmp(r->budget, "none") != 0) eq = r->budget - 1;
            fprintf(f, "%g %g %g %g %g \"%s\"\n", r->tokens > 0 ? r->tokens : 1, r->flops > 0 ? r->flops : 1, 100 * r->acc,
                    100 * r->lo, 100 * r->hi, eq ? eq + 1 : "no budget");
            ymin = fmin(ymin, 100 * r->lo);
            ymax = fmax(ymax, 100 * r->hi);
        }
        fprintf(f, "\n\n");
        blocks++;
    }
    fclose(f);
    f = fopen(gp, "w");
    if (f == NULL) {
        fprintf(stderr, "sys2 report: error: %s: %s\n", gp, strerror(errno));
        return 1;
    }
    char title[800], esc[700];
    cli_plot_title(title, sizeof title, rows[0].task, rows[0].split, rows[0].n, rows[0].seed, rows[0].model, rows[0].value);
    for (int fig = 0; fig < 2; fig++) {
        snprintf(px, sizeof px, "%s%s", prefix, fig ? "_flops" : "");
        for (int t = 0; t < 2; t++) {
            cli_plot_begin(f, t, px, title);
            fprintf(f, "set logscale x\nset xlabel 'mean %s per item (log scale)'\n"
                       "set ylabel 'accuracy (%%), error bars: 95%% Wilson interval'\n", fig ? "FLOPs" : "tokens");
            if (fig) fprintf(f, "set format x '%%.0e'\n");
            cli_plot_yrange(f, ymin, ymax);
            fprintf(f, "plot ");
            for (int b = 0; b < blocks; b++) {
                const char *col = cli_plot_color(b);
                fprintf(f, "%s'%s' index %d using %d:3:4:5 with yerrorlines lw 2 pt %d ps 1.3 lc rgb '%s' title '%s'",
                        b ? ", " : "", dat, b, fig + 1, cli_plot_point(b), col, cli_plot_escape(labels[b], esc, sizeof esc));
                if (multi[b]) /* budget points: each labelled with its budget */
                    fprintf(f, ", '%s' index %d using %d:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '%s' notitle",
                            dat, b, fig + 1, col);
            }
            fprintf(f, "\nunset logscale x\nunset format x\n");
        }
    }
    fclose(f);
    int rc = cli_plot_run("report", gp, prefix);
    if (rc == 0) fprintf(stderr, "wrote %s_flops.png and %s_flops.svg\n", prefix, prefix);
    return rc;
}

/* The defaults of every strategy and scorer in the rows, once each, under the table. */
static void print_defaults(const row *rows, int n, bool md) {
    char seen[64][32];
    int ns = 0;
    printf("%sdefaults (the labels above show only what differs):\n", md ? "\n" : "\n");
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const char *name = pass ? rows[i].scorer_name : rows[i].search_name;
            bool dup = name[0] == '\0';
            for (int k = 0; k < ns && !dup; k++) dup = strcmp(seen[k], name) == 0;
            if (dup || ns == 64) continue;
            snprintf(seen[ns++], sizeof seen[0], "%s", name);
            int32_t nd;
            const s2_param_def *defs = pass ? scorer_defs(name, &nd) : strategy_defs(name, &nd);
            char buf[1024] = "";
            append_params(defs, nd, NULL, true, buf, sizeof buf);
            printf("%s%s %s:%s\n", md ? "- " : "  ", pass ? "scorer" : "strategy", name, nd > 0 ? buf : " (none)");
        }
    int32_t ne;
    const s2_param_def *ed = s2_env_param_defs(&ne);
    char buf[1024] = "";
    append_params(ed, ne, NULL, true, buf, sizeof buf);
    printf("%severy run:%s\n", md ? "- " : "  ", buf);
    printf("%sn = the items that ran; errors (configuration, system 1, a prompt longer than the context) are not in n,\n"
           "%sacc %% or its 95%% Wilson interval.\n", md ? "\n" : "", md ? "" : "");
}

/* fmt: 0 text, 1 Markdown, 2 JSON */
static int report_files(char **files, int n, int fmt, const char *plot_prefix, bool dedupe) {
    row *rows = calloc((size_t)(n > 0 ? n : 1), sizeof *rows);
    if (rows == NULL) return 1;
    int nr = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) { /* files of one run (shards, or a run extended) join one row */
        rc = -1;
        for (int j = 0; j < nr && rc < 0; j++) {
            rc = read_result(files[i], &rows[j], dedupe);
            if (rc == 0) {
                size_t l = strlen(rows[j].file);
                snprintf(rows[j].file + l, sizeof rows[j].file - l, "+");
            }
        }
        if (rc < 0) rc = read_result(files[i], &rows[nr++], dedupe);
    }
    n = nr;
    for (int i = 0; i < n && rc == 0; i++) finish_row(&rows[i]);
    if (rc != 0) {
        /* nothing printed */
    } else if (fmt == 2) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++) {
            const row *r = &rows[i];
            json_array_append_new(
                a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
                             "s:f, s:f, s:i, s:i, s:s}",
                             "file", r->file, "task", r->task, "split", r->split, "label", r->label, "scorer", r->scorer,
                             "budget", r->budget, "n", r->n, "errors", r->errors, "correct", r->correct, "accuracy",
                             r->acc, "ci_lo", r->lo, "ci_hi", r->hi, "reward", r->reward, "tokens", r->tokens, "flops",
                             r->flops, "wall_s", r->wall, "wall_total_s", r->wall_total, "cache_hit", r->cache_hit,
                             "outside_frac", r->outside, "budget_hits", r->budget_hits, "context_hits",
                             r->context_hits, "over", "n: the items that ran, errors excluded"));
        }
        char *s = json_dumps(a, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(a);
    } else {
        int wl = 28, ws = 9; /* the label columns as wide as their longest entry */
        for (int i = 0; i < n; i++) {
            if ((int)strlen(rows[i].label) > wl) wl = (int)strlen(rows[i].label);
            if ((int)strlen(rows[i].scorer) > ws) ws = (int)strlen(rows[i].scorer);
        }
        const char *hdr[] = {"task", "split", "strategy", "scorer", "budget", "n", "errors", "acc %", "95% CI",
                             "tokens/item", "FLOPs/item", "wall s/item", "cache hit", "outside S1"};
        if (fmt == 1) {
            printf("|");
            for (int h = 0; h < 14; h++) printf(" %s |", hdr[h]);
            printf("\n|---|---|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
        } else {
            printf("%-10s %-8s %-*s %-*s %-14s %5s %6s %6s %-13s %11s %10s %11s %9s %10s\n", hdr[0], hdr[1], wl, hdr[2],
                   ws, hdr[3], hdr[4], hdr[5], hdr[6], hdr[7], hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13]);
        }
        for (int i = 0; i < n; i++) {
            const row *r = &rows[i];
            char ci[32];
            snprintf(ci, sizeof ci, "%.1f-%.1f", 100 * r->lo, 100 * r->hi);
            if (fmt == 1)
                printf("| %s | %s | %s | %s | %s | %d | %d | %.1f | %s | %.0f | %.3g | %.3f | %.1f%% | %.1f%% |\n",
                       r->task, r->split, r->label, r->scorer, r->budget, r->n, r->errors, 100 * r->acc, ci, r->tokens,
                       r->flops, r->wall, 100 * r->cache_hit, 100 * r->outside);
            else
                printf("%-10s %-8s %-*s %-*s %-14s %5d %6d %6.1f %-13s %11.0f %10.3g %11.3f %8.1f%% %9.1f%%\n",
                       r->task, r->split, wl, r->label, ws, r->scorer, r->budget, r->n, r->errors, 100 * r->acc, ci, r->tokens,
                       r->flops, r->wall, 100 * r->cache_hit, 100 * r->outside);
        }
        print_defaults(rows, n, fmt == 1);
    }
    if (rc == 0 && plot_prefix) rc = plot(rows, n, plot_prefix);
    for (int i = 0; i < nr; i++) {
        free(rows[i].key);
        json_decref(rows[i].ids);
    }
    free(rows);
    return rc;
}

int cmd_report(int argc, char **argv) {
    int mode = cli_report_mode(argc, argv); /* --curves, --compare: cmd_curves.c */
    if (mode >= 0) return mode;
    int fmt = 0;
    bool dedupe = false;
    const char *plot_prefix = NULL;
    char **files = calloc((size_t)argc, sizeof *files);
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            printf("usage: sys2 report [--md | --json] [--dedupe] [--plot PREFIX] FILE.jsonl...\n"
                   "A table of result files, one row per run (the files of one run's shards join one row): task,\n"
                   "split, strategy and scorer with the parameters that differ from their defaults (the defaults\n"
                   "listed under the table), n = the items that ran and the errors apart, accuracy with a 95%%\n"
                   "Wilson interval over the items that ran, mean tokens and FLOPs per item, wall time per item,\n"
                   "cache-hit ratio (cached / (cached + computed prompt tokens)) and the share of wall time spent\n"
                   "outside system 1. An item found twice in a run is refused, naming it.\n\n"
                   "  --md              Markdown table\n"
                   "  --json            JSON array\n"
                   "  --dedupe          keep the first line of an item found twice\n"
                   "  --plot PREFIX     accuracy against mean tokens and FLOPs (log x): PREFIX.png/.svg, PREFIX_flops.png/.svg\n\n"
                   "sys2 report --curves [--md | --json] [--plot PREFIX] [--boot N] [--seed S] FILE.jsonl...\n"
                   "  pass@k (unbiased), majority@k and weighted best-of-N@k for k = 1, 2, 4, ... n from the samples\n"
                   "  of each item (sc, bon), 95%% bootstrap intervals over items, against k and mean tokens;\n"
                   "  --plot: PREFIX.png/.svg (against k) and PREFIX_tokens.png/.svg\n"
                   "sys2 report --compare [--md | --json] A.jsonl[,A2.jsonl...] B.jsonl[,B2.jsonl...]\n"
                   "  the items both ran, paired: accuracy of each, the difference with a paired bootstrap interval,\n"
                   "  McNemar's exact p, the ids only one solves, tokens and FLOPs; each side's accuracy at the\n"
                   "  other's mean tokens (interpolated over log tokens between its files' budgets, or along its\n"
                   "  majority@k curve for a single file with samples)\n");
            free(files);
            return 0;
        }
        if (strcmp(argv[i], "--md") == 0) fmt = 1;
        else if (strcmp(argv[i], "--json") == 0) fmt = 2;
        else if (strcmp(argv[i], "--dedupe") == 0) dedupe = true;
        else if (cli_flag(argc, argv, &i, "--plot", NULL, &v, &bad)) {
            if (bad) {
                free(files);
                return 2;
            }
            plot_prefix = v;
        } else if (argv[i][0] == '-') {
            free(files);
            return cli_usage("report", "unknown option '%s'", argv[i]);
        } else {
            files[nf++] = argv[i];
        }
    }
    if (nf == 0) {
        free(files);
        return cli_usage("report", "no result files given");
    }
    int rc = report_files(files, nf, fmt, plot_prefix, dedupe);
    free(files);
    return rc;
}

/* ---- strategies ---- */

static void print_defs(const s2_param_def *defs, int32_t n) {
    for (int32_t k = 0; k < n; k++) {
        char d[64];
        union {
            s2_sc_params a;
            s2_mcts_params b;
            s2_env_params c;
            char pad[512];
        } tmp;
        memset(&tmp, 0, sizeof tmp);
        s2_params_defaults(defs, n, &tmp);
        s2_params_format(&defs[k], &tmp, d, sizeof d);
        char kd[96];
        snprintf(kd, sizeof kd, "%s=%s", defs[k].key, d);
        printf("    %-24s %s%s%s\n", kd, defs[k].doc, defs[k].choices ? "; one of " : "",
               defs[k].choices ? defs[k].choices : "");
    }
}

int cmd_strategies(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: sys2 strategies\nEvery search strategy and scorer with its parameters (--param K=V), their\n"
                   "defaults and the papers the defaults come from; then the parameters every run shares.\n");
            return 0;
        }
        return cli_usage("strategies", "unknown option '%s'", argv[i]);
    }
    printf("strategies (--search):\n");
    for (int32_t s = 0; s < s2_strategy_count(); s++) {
        int32_t n;
        const s2_param_def *defs = s2_strategy_params_at(s, &n);
        printf("  %-11s %s  [%s]\n", s2_strategy_name_at(s), s2_strategy_summary_at(s), s2_strategy_source_at(s));
        print_defs(defs, n);
    }
    printf("\nscorers (--scorer):\n");
    for (int32_t s = 0; s < s2_scorer_count(); s++) {
        int32_t n;
        const s2_param_def *defs = s2_scorer_params_at(s, &n);
        printf("  %-11s %s\n", s2_scorer_name_at(s), s2_scorer_summary_at(s));
        print_defs(defs, n);
    }
    int32_t n;
    const s2_param_def *defs = s2_env_param_defs(&n);
    printf("\nevery run (--param, or env.K):\n");
    print_defs(defs, n);
    defs = s2_run_task_param_defs(&n);
    printf("\nthe task (--param task.K):\n");
    print_defs(defs, n);
    printf("\n--param K=V goes to the one of strategy, scorer, task and env that has K; a K that several have is\n"
           "refused: name its owner (search.mode=token, scorer.mode=sum, task.n_shot=2, env.temperature=0.5).\n");
    printf("\nbudgets (--budget): tokens=N (prompt computed + generated + scored, policy and value model),\n"
           "  flops=F (the engine's count), calls=K (calls into system 1); checked before every step.\n");
    return 0;
}
