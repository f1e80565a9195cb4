/* task.c: the task-independent parts of task.h (default params, verdict and example cleanup, the verify
 * wrapper, lookup by id, the id hash) and the helpers of task_impl.h (growable string, RNG, verdict setter).
 * Nothing here knows any particular task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_impl.h"

s2_task_params s2_task_default_params(void) {
    s2_task_params p;
    memset(&p, 0, sizeof p);
    p.data = NULL;
    p.split = NULL;
    p.seed = 0;
    p.n_items = 0;
    p.n_shot = -1;
    p.difficulty = 0;
    p.n_workers = 0;
    p.timeout_s = 0;
    return p;
}

void s2_verdict_clear(s2_verdict *v) {
    if (v == NULL) return;
    free(v->answer);
    memset(v, 0, sizeof *v);
}

void s2_example_clear(s2_example *e) {
    if (e == NULL) return;
    free(e->prompt);
    free(e->completion);
    e->prompt = NULL;
    e->completion = NULL;
}

s2_status s2_task_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    if (t == NULL || out == NULL) return s2_error_set(err, S2_E_ARG, "task verify: NULL task or verdict");
    memset(out, 0, sizeof *out);
    int32_t n = t->iface->n_items(t);
    if (i < 0 || i >= n)
        return s2_error_set(err, S2_E_ARG, "%s: item %d out of range [0,%d)", t->iface->name, (int)i, (int)n);
    s2_status st = t->iface->verify(t, i, text != NULL ? text : "", out, err);
    if (st == S2_OK && out->reason[0] == '\0') snprintf(out->reason, sizeof out->reason, "%s", out->correct ? "ok" : "wrong");
    return st;
}

int32_t s2_task_find(const s2_task *t, const char *id) {
    if (t == NULL || id == NULL) return -1;
    int32_t n = t->iface->n_items(t);
    for (int32_t i = 0; i < n; i++) {
        const char *s = t->iface->item_id(t, i);
        if (s != NULL && strcmp(s, id) == 0) return i;
    }
    return -1;
}

uint64_t s2_hash_str(const char *s) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a, 64-bit offset basis and prime */
    for (const unsigned char *p = (const unsigned char *)s; p != NULL && *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- making a task ---- */

s2_status s2_task_new(const struct s2_task_i *iface, void *ctx, s2_task **out, s2_error *err) {
    *out = NULL;
    s2_task *t = calloc(1, sizeof *t);
    if (t == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", iface->name);
    t->iface = iface;
    t->ctx = ctx;
    *out = t;
    return S2_OK;
}

const char *s2_task_shared_path(char *buf, size_t cap, const char *rel) {
    const char *root = getenv("SYS2_SHARED");
    if (root == NULL || root[0] == '\0') root = "../shared";
    snprintf(buf, cap, "%s/%s", root, rel);
    return buf;
}

/* ---- a growable string ---- */

static bool buf_reserve(s2_buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->n + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void s2_buf_append(s2_buf *b, const char *s, size_t n) {
    if (!buf_reserve(b, n)) return;
    if (n > 0) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void s2_buf_puts(s2_buf *b, const char *s) { s2_buf_append(b, s, strlen(s)); }

void s2_buf_printf(s2_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || !buf_reserve(b, (size_t)need)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

char *s2_buf_take(s2_buf *b) {
    if (b->oom) {
        s2_buf_free(b);
        return NULL;
    }
    char *s = b->p != NULL ? b->p : s2_strdup("");
    b->p = NULL;
    b->n = b->cap = 0;
    return s;
}

void s2_buf_free(s2_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- small helpers ---- */

char *s2_strdup(const char *s) { return s != NULL ? s2_strndup(s, strlen(s)) : NULL; }

char *s2_task_dataset_value_prompt(const char *problem, const char *heading, const char *text) {
    s2_buf b = {0};
    s2_buf_printf(&b, "%s\n%s\n%s\nIs this right so far (sure, likely or impossible)? Judgement: ", problem, heading,
                  text);
    return s2_buf_take(&b);
}

char *s2_strndup(const char *s, size_t n) {
    if (s == NULL) return NULL;
    char *d = malloc(n + 1);
    if (d == NULL) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

uint64_t s2_task_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t s2_task_rng_below(uint64_t *state, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the top sliver so every residue is equally likely */
    for (;;) {
        uint64_t r = s2_task_rng_next(state);
        if (r < limit) return r % n;
    }
}

void s2_verdict_set(s2_verdict *v, double reward, const char *fmt, ...) {
    v->reward = reward;
    v->correct = reward == 1.0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof v->reason, fmt, ap);
    va_end(ap);
}

const char *s2_find_line(const char *text, const char *prefix) {
    const char *found = NULL;
    size_t pl = strlen(prefix);
    for (const char *line = text; line != NULL && *line;) {
        const char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (strncmp(s, prefix, pl) == 0) found = line;
        const char *nl = strchr(line, '\n');
        line = nl != NULL ? nl + 1 : NULL;
    }
    return found;
}
