/* bench.h: the parts of a side-by-side speed comparison that are not sys2's own forward pass (issue 12 point 5):
 * medians, interleaved repeats (A B A B ...), a streaming-read bandwidth probe and the decode bound it gives, running
 * another engine's benchmark program and parsing what llama-bench, llama-batched-bench and llama2.c's `run` print.
 * Nothing here prints or exits; `sys2 bench --against` (cli/cmd_bench.c) makes the table. */
#ifndef S2_BENCH_H
#define S2_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sys2.h"

/* ---- medians and interleaving ---- */

/* The median of v[0..n) (v is left as it is; the mean of the two middle values when n is even); NaN when n < 1. */
double s2_bench_median(const double *v, int32_t n);

/* One contender of an interleaved comparison: run() makes one measurement and writes n_values figures to values
 * (say prefill and decode tokens/s from one pass). */
typedef struct s2_bench_runner {
    s2_status (*run)(void *user, double *values, s2_error *err); /* required */
    void *user;
    int32_t n_values; /* >= 1 */
} s2_bench_runner;

/* Total figures of runners[0..n): the length of medians, and of samples divided by repeat. */
int32_t s2_bench_n_values(const s2_bench_runner *runners, int32_t n);

/* Runs repeat rounds, each calling runners 0, 1, ..., n-1 once in that order (A B A B ...: a slow phase of the
 * machine hits all of them alike). samples (may be NULL) receives figure j of round r at samples[j * repeat + r],
 * j counting the figures of all runners in order; medians[j] is the median of figure j over the rounds. Stops at
 * the first failing run and returns its status. */
s2_status s2_bench_interleave(const s2_bench_runner *runners, int32_t n, int32_t repeat, double *samples,
                              double *medians, s2_error *err);

/* ---- bandwidth probe ---- */

typedef struct s2_bench_probe_params {
    size_t bytes;      /* buffer read per pass (default 1 GiB: far past any L3); rounded down to 64 bytes */
    int32_t n_threads; /* threads reading disjoint slices of it (default 1) */
    int32_t repeat;    /* passes; the fastest counts (default 3) */
    /* seconds of a monotonic clock; NULL: CLOCK_MONOTONIC. Tests give a fake to check the arithmetic. */
    double (*clock)(void *user);
    void *clock_user;
} s2_bench_probe_params;
s2_bench_probe_params s2_bench_probe_default_params(void);

/* Fills a buffer of params->bytes (first touched by the threads that read it), then reads it whole repeat times
 * with n_threads threads; *gbps = bytes / fastest pass / 1e9. params may be NULL for defaults. */
s2_status s2_bench_probe(const s2_bench_probe_params *params, double *gbps, s2_error *err);

/* The single-stream decode bound, tokens/s: every weight byte is read once per token, at gbps (1e9 bytes/s).
 * 0 when bytes_per_token <= 0. */
double s2_bench_decode_bound(double gbps, int64_t bytes_per_token);

/* ---- another engine's program ---- */

/* Runs argv[0] (searched on PATH when it has no '/') with argv, no shell, stdin from /dev/null; on S2_OK *out and
 * *errout (each may be NULL: discarded) own its stdout and stderr (NUL-terminated, malloc'd) and *exit_code is its
 * exit status, or 128 + the signal that ended it. S2_E_IO when it cannot be started. */
s2_status s2_bench_exec(char *const *argv, char **out, char **errout, int *exit_code, s2_error *err);

/* One test of llama-bench's `-o json` (or `-o jsonl`) output. */
typedef struct s2_bench_llama_bench_row {
    int32_t n_prompt, n_gen, n_threads;
    double avg_ts; /* tokens/s, the mean over its repetitions */
} s2_bench_llama_bench_row;

/* Parses llama-bench's JSON array (or JSON lines); writes at most cap rows and sets *n to the count found.
 * S2_E_FORMAT (with where) on text that is neither, or a test without the fields above. */
s2_status s2_bench_parse_llama_bench(const char *text, s2_bench_llama_bench_row *rows, int32_t cap, int32_t *n,
                                     s2_error *err);

/* One row of llama-batched-bench: pp prompt tokens (shared by the pl sequences with -pps), then tg tokens on each. */
typedef struct s2_bench_batched_row {
    int32_t pp, tg, pl, n_threads; /* n_threads: -1 when the output does not say */
    bool pp_shared;
    double speed_pp, speed_tg, speed; /* tokens/s: prompt, generation (pl * tg / its time), all */
} s2_bench_batched_row;

/* Parses llama-batched-bench's `--output-format jsonl` lines or its default Markdown table (with the header line
 * "... is_pp_shared = 1, ... n_threads = 2 ..." it prints above it); other lines are ignored. Writes at most cap
 * rows, *n = rows found. S2_E_FORMAT on a malformed row (with its line number). */
s2_status s2_bench_parse_batched_bench(const char *text, s2_bench_batched_row *rows, int32_t cap, int32_t *n,
                                       s2_error *err);

/* The figure of llama2.c's `run` ("achieved tok/s: F", on stderr). S2_E_FORMAT when the line is absent. */
s2_status s2_bench_parse_llama2c(const char *text, double *tok_s, s2_error *err);

#endif
