/* The bench suite: the parts of `sys2 bench --against` (core/bench/bench.c) and its table. Medians against hand
 * values; the interleaving order on scripted runners; the probe's arithmetic on a fake clock; the parsers on
 * outputs recorded from llama-bench, llama-batched-bench and llama2.c (tests/data/README.md says how); running a
 * program; and the whole command against tests/fake_engine.sh, which prints those recordings, so that the table's
 * "other" column and ratios are known in advance. No speed is asserted (speed lives in benchmarks). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "testutil.h"

#define DATA "tests/data/"

/* ---- medians and interleaving ---- */

START_TEST(test_bench_median) {
    double odd[5] = {5, 1, 4, 2, 3}, even[4] = {10, 40, 20, 30}, one[1] = {7};
    ck_assert_double_eq(s2_bench_median(odd, 5), 3);
    ck_assert_double_eq(s2_bench_median(even, 4), 25); /* (20 + 30) / 2 */
    ck_assert_double_eq(s2_bench_median(one, 1), 7);
    ck_assert(isnan(s2_bench_median(one, 0)));
    ck_assert_double_eq(odd[0], 5); /* left as it was */
    ck_assert_double_eq(odd[4], 3);
}
END_TEST

typedef struct script {
    char *log;     /* the order of calls, one letter each */
    char letter;
    double base;   /* values: base + 10 * call + j */
    int calls, fail_at;
} script;

static s2_status script_run(void *user, double *v, s2_error *err) {
    script *s = user;
    size_t n = strlen(s->log);
    s->log[n] = s->letter;
    s->log[n + 1] = '\0';
    if (s->calls == s->fail_at) return s2_error_set(err, S2_E_IO, "runner %c failed on call %d", s->letter, s->calls);
    double call = s->calls++;
    v[0] = s->base + 10 * call;
    if (s->letter == 'B') v[1] = s->base + 10 * call + 1;
    return S2_OK;
}

START_TEST(test_bench_interleave_order_and_medians) {
    char log[64] = "";
    script a = {.log = log, .letter = 'A', .base = 100, .fail_at = -1};
    script b = {.log = log, .letter = 'B', .base = 200, .fail_at = -1};
    s2_bench_runner rs[2] = {{.run = script_run, .user = &a, .n_values = 1},
                             {.run = script_run, .user = &b, .n_values = 2}};
    ck_assert_int_eq(s2_bench_n_values(rs, 2), 3);
    double samples[9], med[3];
    s2_error err = {0};
    ck_assert_int_eq(s2_bench_interleave(rs, 2, 3, samples, med, &err), S2_OK);
    ck_assert_str_eq(log, "ABABAB");
    /* figure j of round r at samples[j * 3 + r]: A's calls 0,1,2; B's first and second figures */
    double want[9] = {100, 110, 120, 200, 210, 220, 201, 211, 221};
    for (int i = 0; i < 9; i++) ck_assert_double_eq(samples[i], want[i]);
    ck_assert_double_eq(med[0], 110);
    ck_assert_double_eq(med[1], 210);
    ck_assert_double_eq(med[2], 211);
    /* a failure stops the rounds at once and comes back with its message */
    log[0] = '\0';
    a.calls = b.calls = 0;
    b.fail_at = 1;
    ck_assert_int_eq(s2_bench_interleave(rs, 2, 5, NULL, med, &err), S2_E_IO);
    ck_assert_str_eq(log, "ABAB");
    ck_assert_str_eq(err.msg, "runner B failed on call 1");
    ck_assert_int_eq(s2_bench_interleave(rs, 2, 0, NULL, med, &err), S2_E_ARG);
    rs[1].n_values = 0;
    ck_assert_int_eq(s2_bench_interleave(rs, 2, 1, NULL, med, &err), S2_E_ARG);
}
END_TEST

/* ---- the probe ---- */

typedef struct fake_clock {
    const double *t;
    int i;
} fake_clock;

static double fake_now(void *user) {
    fake_clock *c = user;
    return c->t[c->i++];
}

START_TEST(test_bench_probe_arithmetic) {
    /* three passes of 2 s, 0.5 s and 1 s on the fake clock: the fastest counts */
    const double times[6] = {0, 2, 10, 10.5, 20, 21};
    for (int nt = 1; nt <= 2; nt++) {
        fake_clock c = {.t = times};
        s2_bench_probe_params p = s2_bench_probe_default_params();
        ck_assert_uint_eq(p.bytes, 1u << 30);
        ck_assert_int_eq(p.repeat, 3);
        p.bytes = (1 << 20) + 63; /* rounded down to whole 64-byte lines */
        p.n_threads = nt;
        p.clock = fake_now;
        p.clock_user = &c;
        double g = 0;
        s2_error err = {0};
        ck_assert_int_eq(s2_bench_probe(&p, &g, &err), S2_OK);
        ck_assert_int_eq(c.i, 6);
        ck_assert_double_eq_tol(g, 1048576.0 / 0.5 / 1e9, 1e-12);
    }
    /* a clock that stands still is an error, not an infinite bandwidth */
    const double still[2] = {5, 5};
    fake_clock c = {.t = still};
    s2_bench_probe_params p = {.bytes = 4096, .n_threads = 1, .repeat = 1, .clock = fake_now, .clock_user = &c};
    double g = 0;
    s2_error err = {0};
    ck_assert_int_eq(s2_bench_probe(&p, &g, &err), S2_E_ARG);
    p.bytes = 63;
    ck_assert_int_eq(s2_bench_probe(&p, &g, &err), S2_E_ARG);
    /* the real clock on a small buffer: a finite positive figure */
    p = (s2_bench_probe_params){.bytes = 8 << 20, .n_threads = 2, .repeat = 2};
    ck_assert_int_eq(s2_bench_probe(&p, &g, &err), S2_OK);
    ck_assert(g > 0 && isfinite(g));
    /* the decode bound: 40 GB/s over 400 MB of weights per token */
    ck_assert_double_eq_tol(s2_bench_decode_bound(40, 400000000), 100, 1e-9);
    ck_assert_double_eq(s2_bench_decode_bound(40, 0), 0);
}
END_TEST

/* ---- parsers, on recorded outputs ---- */

static char *data(const char *name) {
    char *s = t_read_file(name, NULL);
    ck_assert_msg(s != NULL, "%s is missing", name);
    return s;
}

START_TEST(test_bench_parse_llama_bench) {
    const char *files[2] = {DATA "llama_bench_stories260K.json", DATA "llama_bench_stories260K.jsonl"};
    const double pp[2] = {11855.132870, 12151.775678}, tg[2] = {1292.429632, 2515.392136};
    for (int f = 0; f < 2; f++) {
        char *s = data(files[f]);
        s2_bench_llama_bench_row rows[4];
        int32_t n = 0;
        s2_error err = {0};
        ck_assert_int_eq(s2_bench_parse_llama_bench(s, rows, 4, &n, &err), S2_OK);
        ck_assert_int_eq(n, 2);
        ck_assert_int_eq(rows[0].n_prompt, 128);
        ck_assert_int_eq(rows[0].n_gen, 0);
        ck_assert_int_eq(rows[0].n_threads, 1);
        ck_assert_double_eq_tol(rows[0].avg_ts, pp[f], 1e-6);
        ck_assert_int_eq(rows[1].n_prompt, 0);
        ck_assert_int_eq(rows[1].n_gen, 64);
        ck_assert_double_eq_tol(rows[1].avg_ts, tg[f], 1e-6);
        /* cap 1: the count found, one row written */
        ck_assert_int_eq(s2_bench_parse_llama_bench(s, rows, 1, &n, &err), S2_OK);
        ck_assert_int_eq(n, 2);
        free(s);
    }
    s2_bench_llama_bench_row r[2];
    int32_t n = 0;
    s2_error err = {0};
    ck_assert_int_eq(s2_bench_parse_llama_bench("[{\"n_prompt\": 1,", r, 2, &n, &err), S2_E_FORMAT);
    ck_assert_int_eq(s2_bench_parse_llama_bench("[{\"n_prompt\": 1, \"n_gen\": 0, \"n_threads\": 1}]", r, 2, &n, &err),
                     S2_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "test 1") != NULL, "%s", err.msg);
    ck_assert_int_eq(s2_bench_parse_llama_bench("| model | size |\n", r, 2, &n, &err), S2_E_FORMAT);
    ck_assert_int_eq(s2_bench_parse_llama_bench("", r, 2, &n, &err), S2_E_FORMAT);
}
END_TEST

START_TEST(test_bench_parse_batched_bench) {
    const char *files[2] = {DATA "batched_bench_stories260K.jsonl", DATA "batched_bench_stories260K.md"};
    /* jsonl: speed_tg 361.547180 and 933.145264; the Markdown table: S_TG 1021.58 and 977.32 */
    const double tg1[2] = {361.547180, 1021.58}, tg16[2] = {933.145264, 977.32}, pp16[2] = {18025.630859, 18642.59};
    for (int f = 0; f < 2; f++) {
        char *s = data(files[f]);
        s2_bench_batched_row rows[4];
        int32_t n = 0;
        s2_error err = {0};
        ck_assert_int_eq(s2_bench_parse_batched_bench(s, rows, 4, &n, &err), S2_OK);
        ck_assert_int_eq(n, 2);
        for (int i = 0; i < 2; i++) {
            ck_assert_int_eq(rows[i].pp, 128);
            ck_assert_int_eq(rows[i].tg, 64);
            ck_assert(rows[i].pp_shared);
            ck_assert_int_eq(rows[i].n_threads, 1);
        }
        ck_assert_int_eq(rows[0].pl, 1);
        ck_assert_int_eq(rows[1].pl, 16);
        ck_assert_double_eq_tol(rows[0].speed_tg, tg1[f], 1e-6);
        ck_assert_double_eq_tol(rows[1].speed_tg, tg16[f], 1e-6);
        ck_assert_double_eq_tol(rows[1].speed_pp, pp16[f], 1e-6);
        free(s);
    }
    s2_bench_batched_row r[2];
    int32_t n = 0;
    s2_error err = {0};
    ck_assert_int_eq(s2_bench_parse_batched_bench("log line\n|   128 |     64 |    1 |\n", r, 2, &n, &err), S2_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "line 2") != NULL, "%s", err.msg);
    ck_assert_int_eq(s2_bench_parse_batched_bench("{\"pp\": 128, \"tg\": 64}\n", r, 2, &n, &err), S2_E_FORMAT);
    ck_assert_int_eq(s2_bench_parse_batched_bench("{\"pp\": 1", r, 2, &n, &err), S2_E_FORMAT);
    /* a table without the header line: unshared, threads unknown */
    ck_assert_int_eq(s2_bench_parse_batched_bench("|  8 |  4 |  2 |  16 | 0.1 | 80.0 | 0.2 | 40.0 | 0.3 | 53.3 |", r, 2,
                                                  &n, &err), S2_OK);
    ck_assert_int_eq(n, 1);
    ck_assert(!r[0].pp_shared);
    ck_assert_int_eq(r[0].n_threads, -1);
    ck_assert_double_eq(r[0].speed_tg, 40.0);
    ck_assert_int_eq(s2_bench_parse_batched_bench("", r, 2, &n, &err), S2_OK);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(test_bench_parse_llama2c) {
    const char *files[2] = {DATA "llama2c_stories260K_n64.txt", DATA "llama2c_stories260K_n256.txt"};
    const double want[2] = {15750.0, 5543.478261};
    for (int f = 0; f < 2; f++) {
        char *s = data(files[f]);
        double v = 0;
        s2_error err = {0};
        ck_assert_int_eq(s2_bench_parse_llama2c(s, &v, &err), S2_OK);
        ck_assert_double_eq_tol(v, want[f], 1e-6);
        free(s);
    }
    double v = 0;
    s2_error err = {0};
    ck_assert_int_eq(s2_bench_parse_llama2c("Once upon a time\n", &v, &err), S2_E_FORMAT);
    ck_assert_int_eq(s2_bench_parse_llama2c("achieved tok/s: inf\n", &v, &err), S2_E_FORMAT);
    ck_assert_int_eq(s2_bench_parse_llama2c("achieved tok/s: \n", &v, &err), S2_E_FORMAT);
}
END_TEST

START_TEST(test_bench_exec) {
    char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    char *out = NULL, *errs = NULL;
    int code = -1;
    s2_error err = {0};
    ck_assert_int_eq(s2_bench_exec(argv, &out, &errs, &code, &err), S2_OK);
    ck_assert_str_eq(out, "out\n");
    ck_assert_str_eq(errs, "err\n");
    ck_assert_int_eq(code, 3);
    free(out);
    free(errs);
    /* more than a pipe holds on both streams at once, and a signal */
    char *big[] = {"sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo 0123456789abcdef0123456789abcdef; "
                   "echo 0123456789abcdef0123456789abcdef >&2; i=$((i+1)); done; kill -9 $$", NULL};
    ck_assert_int_eq(s2_bench_exec(big, &out, NULL, &code, &err), S2_OK);
    ck_assert_uint_eq(strlen(out), 3000 * 33);
    ck_assert_int_eq(code, 128 + 9);
    free(out);
    char *none[] = {"/nonexistent/engine", NULL};
    ck_assert_int_eq(s2_bench_exec(none, &out, &errs, &code, &err), S2_E_IO);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err.msg, "/nonexistent/engine") != NULL, "%s", err.msg);
}
END_TEST

/* ---- the command and its table, against the fake engine ---- */

static json_t *row_named(json_t *rows, const char *cell) {
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        if (strcmp(json_string_value(json_object_get(r, "cell")), cell) == 0) return r;
    }
    ck_abort_msg("no row '%s'", cell);
    return NULL;
}

static double num(json_t *r, const char *key) {
    json_t *v = json_object_get(r, key);
    ck_assert_msg(json_is_number(v), "no number %s", key);
    return json_number_value(v);
}

/* other, and sys2 / other, as recorded; the bound is bound_mult x the row's probe GB/s / the model's weight bytes
 * per token (*per_gbps: bound / GB/s / bound_mult, the same for every row of one model, set by the first), and its
 * columns agree with it */
static void check_row(json_t *rows, const char *cell, double other, double bound_mult, double *per_gbps) {
    json_t *r = row_named(rows, cell);
    ck_assert_double_eq_tol(num(r, "other"), other, 1e-6 * other);
    double s = num(r, "sys2");
    ck_assert(s > 0 && isfinite(s));
    ck_assert_double_eq_tol(num(r, "ratio"), s / other, 1e-9 * s / other);
    if (bound_mult == 0) {
        ck_assert_ptr_null(json_object_get(r, "bound_tokens_per_s"));
        return;
    }
    double b = num(r, "bound_tokens_per_s"), g = num(r, "probe_gbps");
    ck_assert(g > 0 && isfinite(g));
    if (*per_gbps == 0) *per_gbps = b / g / bound_mult;
    ck_assert_double_eq_tol(b, bound_mult * g * *per_gbps, 1e-9 * b);
    ck_assert_double_eq_tol(num(r, "sys2_pct_bound"), 100 * s / b, 1e-9 * s / b);
    ck_assert_double_eq_tol(num(r, "other_pct_bound"), 100 * other / b, 1e-9 * other / b);
}

/* `sys2 bench --json` reports the load's packed copy: on a Q4_0 model (untied, so the output is packed too) every
 * matrix of the forward pass, 18 bytes per 32 weights, counted here from the shape; 0 with --no-pack. */
START_TEST(test_bench_packed_bytes) {
    const char *dir = t_tmpdir();
    char model[600], cmd[2000], *out = NULL;
    snprintf(model, sizeof model, "%s/q4.gguf", dir);
    snprintf(cmd, sizeof cmd, "%s init-model -o %s --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --vocab 512 "
             "--ctx 64 --type q4_0 --untied >/dev/null 2>&1", t_sys2_bin(), model);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    /* per layer q (64x64), k and v (64x32 each), o (64x64), gate and up (64x128 each), down (128x64); the output */
    long long weights = 2 * (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 128) + 64 * 512;
    for (int pack = 1; pack >= 0; pack--) {
        snprintf(cmd, sizeof cmd, "%s bench -m %s --prompt 4 --gen 4 --repeat 1 --threads 1 --json%s", t_sys2_bin(),
                 model, pack ? "" : " --no-pack");
        ck_assert_int_eq(t_run(cmd, &out), 0);
        json_error_t je;
        json_t *j = json_loads(out, 0, &je);
        ck_assert_msg(j != NULL, "not JSON: %s", out);
        free(out);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "packed_bytes")), pack ? weights / 32 * 18 : 0);
        ck_assert(json_real_value(json_object_get(j, "load_s")) > 0);
        json_decref(j);
    }
}
END_TEST

START_TEST(test_bench_against_fake_engine) {
    const char *ckpt = t_shared("models/stories260K.bin", "test_bench_against_fake_engine");
    if (ckpt == NULL) return;
    char tok[4096];
    snprintf(tok, sizeof tok, "%.*s/tok512.bin", (int)(strrchr(ckpt, '/') - ckpt), ckpt);
    const char *dir = t_tmpdir();
    char model[600], log[600], cmd[8000], *out = NULL;
    snprintf(model, sizeof model, "%s/tiny.gguf", dir);
    snprintf(log, sizeof log, "%s/calls.log", dir);
    snprintf(cmd, sizeof cmd, "%s init-model -o %s --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --vocab 512 "
             "--ctx 256 >/dev/null 2>&1", t_sys2_bin(), model);
    ck_assert_int_eq(t_run(cmd, NULL), 0);
    const char *base = "FAKE_ENGINE_DATA=tests/data FAKE_ENGINE_LOG=%s %s bench --against llama-bench=tests/fake_engine.sh "
                       "--against llama-batched-bench=tests/fake_engine.sh --against llama2c=tests/fake_engine.sh "
                       "--models %s --ckpt %s -z %s --threads-list 1,2 --repeat 3 --probe-mb 8";
    char args[6000];
    snprintf(args, sizeof args, base, log, t_sys2_bin(), model, ckpt, tok);
    snprintf(cmd, sizeof cmd, "%s --json", args);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s", out);
    free(out);
    json_t *probe = json_object_get(j, "probe"), *rows = json_object_get(j, "rows");
    ck_assert_int_eq(json_array_size(probe), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "repeats")), 3);
    ck_assert(json_is_true(json_object_get(j, "complete")));
    ck_assert_int_eq(json_array_size(rows), 2 * 2 + 2 * 3 + 2);
    for (int t = 1; t <= 2; t++) {
        char c[200];
        double bound = 0; /* one model: one bound per GB/s, 16 branches 16x it */
        snprintf(c, sizeof c, "tiny decode tg64, %dt", t);
        check_row(rows, c, 1292.429632, 1, &bound);
        snprintf(c, sizeof c, "tiny prefill pp128, %dt", t);
        check_row(rows, c, 11855.132870, 0, &bound);
        snprintf(c, sizeof c, "tiny 1 branch after 128, tg64, %dt", t);
        check_row(rows, c, 361.547180, 1, &bound);
        snprintf(c, sizeof c, "tiny 16 branches from 128 shared, tg64, %dt", t);
        check_row(rows, c, 933.145264, 16, &bound);
        snprintf(c, sizeof c, "tiny 16 branches / 1 (x), %dt", t);
        check_row(rows, c, 933.145264 / 361.547180, 0, &bound);
    }
    double bound = 0;
    check_row(rows, "stories260K decode 64 positions, 1t", 15750.0, 1, &bound);
    check_row(rows, "stories260K decode 256 positions, 1t", 5543.478261, 1, &bound);
    json_decref(j);
    /* interleaved: each engine called once a round, with the arguments the help promises */
    char *calls = t_read_file(log, NULL);
    ck_assert_ptr_nonnull(calls);
    int n_lb = 0, n_bb = 0, n_l2 = 0;
    for (char *l = strtok(calls, "\n"); l; l = strtok(NULL, "\n")) {
        if (strstr(l, "-npp 128 -ntg 64 -npl 1,16 -pps")) n_bb++;
        else if (strstr(l, " -z ") && strstr(l, "-t 0 -n ")) n_l2++;
        else if (strstr(l, "-p 128 -n 64 -t ") && strstr(l, "-r 1 -o json -ctk f16 -ctv f16")) n_lb++;
        else ck_abort_msg("an unexpected call: %s", l);
    }
    free(calls);
    ck_assert_int_eq(n_lb, 2 * 3); /* two thread counts, three rounds */
    ck_assert_int_eq(n_bb, 2 * 3);
    ck_assert_int_eq(n_l2, 2 * 3); /* two position counts, three rounds */
    /* the table as text: the probe line and a row with its ratio; --out writes the JSON object as well */
    char outf[700];
    snprintf(outf, sizeof outf, "%s/table.json", dir);
    snprintf(cmd, sizeof cmd, "%s --threads-list 1 --out %s", args, outf);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    char *saved = t_read_file(outf, NULL);
    ck_assert_ptr_nonnull(saved);
    j = json_loads(saved, 0, &je);
    free(saved);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_true(json_object_get(j, "complete")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "rows")), 2 + 3 + 2);
    json_decref(j);
    ck_assert_msg(strstr(out, "bandwidth probe (streaming read of 8 MiB") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "tiny decode tg64, 1t") != NULL && strstr(out, "1292.4") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "llama2.c run") != NULL && strstr(out, "15750.0") != NULL, "%s", out);
    free(out);
    /* an engine that fails: its message, status 1 */
    snprintf(cmd, sizeof cmd, "FAKE_ENGINE_FAIL=1 %s --threads-list 1 2>&1", args);
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_msg(strstr(out, "exited with status 1: main: error: failed to load model") != NULL, "%s", out);
    free(out);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "%s bench --against vllm=x --models %s 2>&1", t_sys2_bin(), model);
    ck_assert_int_eq(t_run(cmd, &out), 2);
    ck_assert_msg(strstr(out, "KIND llama-bench, llama-batched-bench or llama2c") != NULL, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s bench --against llama2c=x 2>&1", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 2);
}
END_TEST

Suite *bench_suite(void) {
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bench_median);
    tcase_add_test(tc, test_bench_interleave_order_and_medians);
    tcase_add_test(tc, test_bench_probe_arithmetic);
    tcase_add_test(tc, test_bench_parse_llama_bench);
    tcase_add_test(tc, test_bench_parse_batched_bench);
    tcase_add_test(tc, test_bench_parse_llama2c);
    tcase_add_test(tc, test_bench_exec);
    tcase_add_test(tc, test_bench_packed_bytes);
    suite_add_tcase(s, tc);
    /* the whole command three times (a tiny model, stories260K's 64 and 256 positions): slow under ASan */
    TCase *slow = tcase_create("against");
    tcase_set_timeout(slow, 900);
    tcase_add_test(slow, test_bench_against_fake_engine);
    suite_add_tcase(s, slow);
    return s;
}
