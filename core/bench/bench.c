/* bench.c: medians, interleaved repeats, the streaming-read probe, running another engine's benchmark and parsing
 * its output (see bench.h). It knows nothing of sys2's forward pass (the CLI times that) and never prints. */
#include "bench.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- medians and interleaving ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double s2_bench_median(const double *v, int32_t n) {
    if (n < 1) return NAN;
    double *c = malloc((size_t)n * sizeof *c);
    if (c == NULL) return NAN;
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}

int32_t s2_bench_n_values(const s2_bench_runner *runners, int32_t n) {
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) k += runners[i].n_values;
    return k;
}

s2_status s2_bench_interleave(const s2_bench_runner *runners, int32_t n, int32_t repeat, double *samples,
                              double *medians, s2_error *err) {
    if (n < 1 || repeat < 1) return s2_error_set(err, S2_E_ARG, "bench: %d runners, %d repeats", (int)n, (int)repeat);
    for (int32_t i = 0; i < n; i++)
        if (runners[i].run == NULL || runners[i].n_values < 1)
            return s2_error_set(err, S2_E_ARG, "bench: runner %d has no run() or no values", (int)i);
    int32_t nv = s2_bench_n_values(runners, n), maxv = 0;
    for (int32_t i = 0; i < n; i++) maxv = runners[i].n_values > maxv ? runners[i].n_values : maxv;
    double *all = malloc((size_t)nv * (size_t)repeat * sizeof *all), *one = malloc((size_t)maxv * sizeof *one);
    s2_status st = all && one ? S2_OK : s2_error_set(err, S2_E_NOMEM, "bench: out of memory");
    for (int32_t r = 0; st == S2_OK && r < repeat; r++)
        for (int32_t i = 0, j0 = 0; st == S2_OK && i < n; j0 += runners[i].n_values, i++) {
            st = runners[i].run(runners[i].user, one, err);
            for (int32_t j = 0; st == S2_OK && j < runners[i].n_values; j++) all[(size_t)(j0 + j) * repeat + r] = one[j];
        }
    for (int32_t j = 0; st == S2_OK && j < nv; j++) medians[j] = s2_bench_median(all + (size_t)j * repeat, repeat);
    if (st == S2_OK && samples != NULL) memcpy(samples, all, (size_t)nv * (size_t)repeat * sizeof *all);
    free(all);
    free(one);
    return st;
}

/* ---- bandwidth probe ---- */

s2_bench_probe_params s2_bench_probe_default_params(void) {
    return (s2_bench_probe_params){.bytes = (size_t)1 << 30, .n_threads = 1, .repeat = 3};
}

static double monotonic_s(void *user) {
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sums words[0..n) with 8 independent accumulators, so that the loads, not an add chain, set the pace; the sum is
 * returned so that the reads cannot be optimized away. */
static uint64_t read_words(const uint64_t *w, size_t n) {
    uint64_t a[8] = {0};
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += w[i + k];
    return a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5] ^ a[6] ^ a[7];
}

s2_status s2_bench_probe(const s2_bench_probe_params *params, double *gbps, s2_error *err) {
    s2_bench_probe_params p = params ? *params : s2_bench_probe_default_params();
    double (*clk)(void *) = p.clock ? p.clock : monotonic_s;
    size_t n_words = p.bytes / 64 * 8;
    if (n_words == 0 || p.n_threads < 1 || p.repeat < 1)
        return s2_error_set(err, S2_E_ARG, "bench probe: %zu bytes, %d threads, %d passes", p.bytes,
                            (int)p.n_threads, (int)p.repeat);
    uint64_t *w = NULL;
    if (posix_memalign((void **)&w, 64, n_words * sizeof *w) != 0)
        return s2_error_set(err, S2_E_NOMEM, "bench probe: no memory for %zu bytes", n_words * sizeof *w);
    int nt = (int)p.n_threads;
    /* slice t of nt: whole 64-byte lines, the same slice at fill time and at read time (first touch) */
#define SLICE(t) ((n_words / 8) * (size_t)(t) / (size_t)nt * 8)
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        if (k == nt)
            for (size_t i = SLICE(t); i < SLICE(t + 1); i++) w[i] = i * 0x9e3779b97f4a7c15ull;
        else if (t == 0) /* fewer threads than asked: fill it all here */
            for (size_t i = 0; i < n_words; i++) w[i] = i * 0x9e3779b97f4a7c15ull;
    }
    double best = INFINITY;
    volatile uint64_t sink = 0;
    for (int32_t r = 0; r < p.repeat; r++) {
        uint64_t acc = 0;
        double t0 = clk(p.clock_user);
#pragma omp parallel num_threads(nt) reduction(^ : acc)
        {
            int t = omp_get_thread_num(), k = omp_get_num_threads();
            size_t lo = (n_words / 8) * (size_t)t / (size_t)k * 8, hi = (n_words / 8) * (size_t)(t + 1) / (size_t)k * 8;
            acc ^= read_words(w + lo, hi - lo);
        }
        double dt = clk(p.clock_user) - t0;
        sink ^= acc;
        if (dt < best) best = dt;
    }
#undef SLICE
    (void)sink;
    free(w);
    if (!(best > 0)) return s2_error_set(err, S2_E_ARG, "bench probe: the clock did not advance over a pass");
    *gbps = (double)(n_words * sizeof(uint64_t)) / best / 1e9;
    return S2_OK;
}

double s2_bench_decode_bound(double gbps, int64_t bytes_per_token) {
    return bytes_per_token > 0 ? gbps * 1e9 / (double)bytes_per_token : 0;
}

/* ---- another engine's program ---- */

/* the child's output so far (s2_text_append keeps it NUL-terminated) */
typedef struct sink_buf {
    char *s;
    size_t n, cap;
} sink_buf;

static bool buf_add(sink_buf *b, const char *data, size_t n) {
    return s2_text_append(&b->s, &b->n, &b->cap, data, n) == S2_OK;
}

s2_status s2_bench_exec(char *const *argv, char **out, char **errout, int *exit_code, s2_error *err) {
    if (out) *out = NULL;
    if (errout) *errout = NULL;
    if (argv == NULL || argv[0] == NULL) return s2_error_set(err, S2_E_ARG, "bench: no program to run");
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe(po) != 0 || pipe(pe) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0) close(po[i]);
            if (pe[i] >= 0) close(pe[i]);
        }
        return s2_error_set(err, S2_E_IO, "bench: pipe for %s: %s", argv[0], strerror(e));
    }
    int ps[2]; /* close-on-exec: a failed exec writes its errno here, a successful one closes it */
    if (pipe2(ps, O_CLOEXEC) != 0) {
        int e = errno;
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        return s2_error_set(err, S2_E_IO, "bench: pipe for %s: %s", argv[0], strerror(e));
    }
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]), close(ps[0]);
        execvp(argv[0], argv);
        int e = errno;
        ssize_t wr = write(ps[1], &e, sizeof e);
        (void)wr;
        _exit(127);
    }
    close(po[1]), close(pe[1]), close(ps[1]);
    if (pid < 0) {
        int e = errno;
        close(po[0]), close(pe[0]), close(ps[0]);
        return s2_error_set(err, S2_E_IO, "bench: fork for %s: %s", argv[0], strerror(e));
    }
    sink_buf bo = {0}, be = {0};
    bool ok = buf_add(&bo, "", 0) && buf_add(&be, "", 0);
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    char chunk[65536];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else if (ok) {
                ok = buf_add(i == 0 ? &bo : &be, chunk, (size_t)got);
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    int exec_errno = 0;
    ssize_t got = read(ps[0], &exec_errno, sizeof exec_errno);
    close(ps[0]);
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {}
    s2_status st = S2_OK;
    if (got == (ssize_t)sizeof exec_errno)
        st = s2_error_set(err, S2_E_IO, "bench: cannot run %s: %s", argv[0], strerror(exec_errno));
    else if (!ok)
        st = s2_error_set(err, S2_E_NOMEM, "bench: out of memory reading the output of %s", argv[0]);
    if (st == S2_OK) {
        if (exit_code) *exit_code = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + (WIFSIGNALED(wst) ? WTERMSIG(wst) : 0);
        if (out) *out = bo.s, bo.s = NULL;
        if (errout) *errout = be.s, be.s = NULL;
    }
    free(bo.s);
    free(be.s);
    return st;
}

/* ---- parsers ---- */

static bool json_int_field(json_t *o, const char *key, int32_t *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) return false;
    *out = (int32_t)json_integer_value(v);
    return true;
}

static bool json_num_field(json_t *o, const char *key, double *out) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) return false;
    *out = json_number_value(v);
    return true;
}

static s2_status lb_row(json_t *o, int32_t k, s2_bench_llama_bench_row *rows, int32_t cap, s2_error *err) {
    s2_bench_llama_bench_row r;
    if (!json_is_object(o) || !json_int_field(o, "n_prompt", &r.n_prompt) || !json_int_field(o, "n_gen", &r.n_gen) ||
        !json_int_field(o, "n_threads", &r.n_threads) || !json_num_field(o, "avg_ts", &r.avg_ts))
        return s2_error_set(err, S2_E_FORMAT, "llama-bench output: test %d lacks n_prompt, n_gen, n_threads or avg_ts",
                            (int)k + 1);
    if (k < cap) rows[k] = r;
    return S2_OK;
}

s2_status s2_bench_parse_llama_bench(const char *text, s2_bench_llama_bench_row *rows, int32_t cap, int32_t *n,
                                     s2_error *err) {
    *n = 0;
    const char *s = text;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    json_error_t je;
    if (*s == '[') { /* -o json: one array */
        json_t *a = json_loads(s, 0, &je);
        if (!json_is_array(a)) {
            json_decref(a);
            return s2_error_set(err, S2_E_FORMAT, "llama-bench output: not a JSON array (line %d: %s)", je.line, je.text);
        }
        s2_status st = S2_OK;
        for (size_t i = 0; st == S2_OK && i < json_array_size(a); i++)
            st = lb_row(json_array_get(a, i), (int32_t)i, rows, cap, err);
        if (st == S2_OK) *n = (int32_t)json_array_size(a);
        json_decref(a);
        return st;
    }
    /* -o jsonl: one object a line */
    int32_t k = 0, line = 0;
    for (const char *p = s; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        line++;
        if (len > 0 && p[0] == '{') {
            json_t *o = json_loadb(p, len, 0, &je);
            if (o == NULL) return s2_error_set(err, S2_E_FORMAT, "llama-bench output: line %d: %s", (int)line, je.text);
            s2_status st = lb_row(o, k, rows, cap, err);
            json_decref(o);
            if (st != S2_OK) return st;
            k++;
        }
        p += len + (e ? 1 : 0);
    }
    if (k == 0) return s2_error_set(err, S2_E_FORMAT, "llama-bench output: no test (expected -o json or jsonl)");
    *n = k;
    return S2_OK;
}

/* "key = value" in llama-batched-bench's header line; -1 when absent */
static int32_t header_int(const char *line, size_t len, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 3 <= len; i++)
        if (strncmp(line + i, key, kl) == 0 && (i == 0 || line[i - 1] == ' ') && strncmp(line + i + kl, " = ", 3) == 0)
            return (int32_t)strtol(line + i + kl + 3, NULL, 10);
    return -1;
}

s2_status s2_bench_parse_batched_bench(const char *text, s2_bench_batched_row *rows, int32_t cap, int32_t *n,
                                       s2_error *err) {
    *n = 0;
    int32_t k = 0, line = 0, md_threads = -1, md_shared = -1;
    json_error_t je;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        line++;
        s2_bench_batched_row r = {.n_threads = -1};
        bool row = false;
        if (len > 0 && p[0] == '{') {
            json_t *o = json_loadb(p, len, 0, &je);
            int32_t shared = 0;
            bool ok = o != NULL && json_int_field(o, "pp", &r.pp) && json_int_field(o, "tg", &r.tg) &&
                      json_int_field(o, "pl", &r.pl) && json_int_field(o, "is_pp_shared", &shared) &&
                      json_num_field(o, "speed_pp", &r.speed_pp) && json_num_field(o, "speed_tg", &r.speed_tg) &&
                      json_num_field(o, "speed", &r.speed);
            if (ok && !json_int_field(o, "n_threads", &r.n_threads)) r.n_threads = -1;
            json_decref(o);
            if (!ok)
                return s2_error_set(err, S2_E_FORMAT, "llama-batched-bench output: line %d: not a JSON row with pp, tg, "
                                    "pl, is_pp_shared, speed_pp, speed_tg, speed", (int)line);
            r.pp_shared = shared != 0;
            row = true;
        } else if (len > 0 && memmem(p, len, "is_pp_shared = ", 15) != NULL) {
            md_shared = header_int(p, len, "is_pp_shared");
            md_threads = header_int(p, len, "n_threads");
        } else if (len > 1 && p[0] == '|' && memchr("0123456789", p[strspn(p + 1, " ") + 1], 10) != NULL) {
            /* | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s | */
            int32_t n_kv;
            double t_pp, t_tg, t;
            int used = 0;
            char tmp[512];
            size_t l = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
            memcpy(tmp, p, l);
            tmp[l] = '\0';
            if (sscanf(tmp, " | %d | %d | %d | %d | %lf | %lf | %lf | %lf | %lf | %lf |%n", &r.pp, &r.tg, &r.pl, &n_kv,
                       &t_pp, &r.speed_pp, &t_tg, &r.speed_tg, &t, &r.speed, &used) != 10 || used == 0)
                return s2_error_set(err, S2_E_FORMAT, "llama-batched-bench output: line %d: a table row without the 10 "
                                    "columns PP TG B N_KV T_PP S_PP T_TG S_TG T S", (int)line);
            r.pp_shared = md_shared == 1;
            r.n_threads = md_threads;
            row = true;
        }
        if (row) {
            if (k < cap) rows[k] = r;
            k++;
        }
        p += len + (e ? 1 : 0);
    }
    *n = k;
    return S2_OK;
}

s2_status s2_bench_parse_llama2c(const char *text, double *tok_s, s2_error *err) {
    const char *key = "achieved tok/s: ", *p = text, *last = NULL;
    while ((p = strstr(p, key)) != NULL) last = p, p += strlen(key);
    if (last == NULL) return s2_error_set(err, S2_E_FORMAT, "llama2.c output: no \"achieved tok/s:\" line");
    char *end;
    double v = strtod(last + strlen(key), &end);
    if (end == last + strlen(key) || !(v >= 0) || isinf(v))
        return s2_error_set(err, S2_E_FORMAT, "llama2.c output: \"achieved tok/s:\" is not followed by a number");
    *tok_s = v;
    return S2_OK;
}
