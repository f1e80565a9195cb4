/* code.c: HumanEval (Chen et al. 2021) and MBPP (Austin et al. 2021): the answer is Python code, verified by
 * running it with the dataset's tests in the sandbox (sandbox.h). Reward 1 when every test passes, else 0.
 *
 * The answer a model writes may be a fenced block (```python ... ```) or raw code; inside, for HumanEval, either
 * the function body only (the completion of the prompt, cut where the body ends: at the first non-empty line in
 * column 0) or a whole program that defines the entry point (then it runs after the prompt, replacing the
 * prompt's stub). Programs:
 *   HumanEval: prompt + completion + "\n" + test + "\ncheck(entry_point)\n"   (a whole function: prompt + "\n" + code)
 *   MBPP:      code + "\n" + test_setup_code + "\n" + the test_list asserts
 *              (the setup code builds objects with the code's classes, so it must come after the code)
 * and then a line printing a random marker: a program that exits early with status 0 (sys.exit(0) before the
 * tests) is a failure, "exited before the tests finished". verify is thread-safe; at most n_workers programs
 * run at once per task (the others wait). */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "datasets.h"
#include "jsonl.h"
#include "sandbox.h"
#include "task_impl.h"

#define HUMANEVAL_FILE "data/HumanEval.jsonl.gz"
#define MBPP_FILE "data/mbpp.jsonl"
#define CODE_TIMEOUT_S 10.0 /* MBPP 123's reference takes 3 s alone; twice that on a busy 2-core machine */

/* ---- extraction ---- */

/* The start of the first line of text that starts with "```", or NULL. */
static const char *find_fence(const char *text) {
    for (const char *line = text; line != NULL && *line;) {
        if (strncmp(line, "```", 3) == 0) return line;
        const char *nl = strchr(line, '\n');
        line = nl != NULL ? nl + 1 : NULL;
    }
    return NULL;
}

static bool blank_span(const char *s, const char *e) {
    for (; s < e; s++)
        if (!isspace((unsigned char)*s)) return false;
    return true;
}

/* True when a line of s[0..e) starts like Python code (def, class, import, from, @, return, if). */
static bool looks_like_code(const char *s, const char *e) {
    static const char *const starts[] = {"def ", "class ", "import ", "from ", "@", "async def "};
    for (const char *line = s; line < e;) {
        const char *q = line;
        while (q < e && (*q == ' ' || *q == '\t')) q++;
        for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++)
            if ((size_t)(e - q) >= strlen(starts[k]) && strncmp(q, starts[k], strlen(starts[k])) == 0) return true;
        const char *nl = memchr(line, '\n', (size_t)(e - line));
        line = nl != NULL ? nl + 1 : e;
    }
    return false;
}

/* True when the fence f (the first in text) closes a block that the prompt opened (MBPP's prompt ends with
 * one): a bare fence after something, when no fence follows or what precedes looks like code. A fence with a
 * language tag, or a bare one after prose and followed by another, opens a block. */
static bool closes_prompt_block(const char *text, const char *f) {
    if (blank_span(text, f)) return false;
    const char *tag = f + 3;
    while (*tag == ' ' || *tag == '\t' || *tag == '\r') tag++;
    if (*tag != '\n' && *tag != '\0') return false;
    const char *nl = strchr(f, '\n');
    return nl == NULL || find_fence(nl + 1) == NULL || looks_like_code(text, f);
}

char *s2_code_extract(const char *text) {
    if (text == NULL) return s2_strdup("");
    const char *f = find_fence(text);
    if (f == NULL) return s2_strdup(text);
    if (closes_prompt_block(text, f)) return s2_strndup(text, (size_t)(f - text));
    const char *body = strchr(f, '\n');
    if (body == NULL) return s2_strdup("");
    body++;
    const char *end = find_fence(body);
    return end != NULL ? s2_strndup(body, (size_t)(end - body)) : s2_strdup(body);
}

bool s2_code_defines(const char *code, const char *entry_point) {
    size_t n = strlen(entry_point);
    for (const char *line = code; line != NULL && *line;) {
        const char *p = line;
        if (strncmp(p, "async ", 6) == 0) p += 6;
        if (strncmp(p, "def ", 4) == 0) {
            p += 4;
            while (*p == ' ') p++;
            if (strncmp(p, entry_point, n) == 0) {
                p += n;
                while (*p == ' ') p++;
                if (*p == '(') return true;
            }
        }
        const char *nl = strchr(line, '\n');
        line = nl != NULL ? nl + 1 : NULL;
    }
    return false;
}

char *s2_code_cut_body(const char *text) {
    for (const char *line = text; line != NULL && *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl != NULL ? nl : line + strlen(line);
        if (!blank_span(line, end) && !isspace((unsigned char)line[0]) && line != text)
            return s2_strndup(text, (size_t)(line - text));
        if (!blank_span(line, end) && !isspace((unsigned char)line[0]) && line == text) {
            /* a first line in column 0 is not a body line: nothing of a body is there */
            return s2_strdup("");
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    return s2_strdup(text);
}

/* ---- the tasks ---- */

typedef struct code_item {
    char id[32];
    const char *task_id;      /* HumanEval's "HumanEval/0" (borrowed) */
    const char *text;         /* HumanEval: prompt; MBPP: the task description (borrowed) */
    const char *entry_point;  /* HumanEval */
    const char *solution;     /* canonical_solution / code (borrowed) */
    const char *test;         /* HumanEval: test (borrowed) */
    const char *setup;        /* MBPP: test_setup_code (borrowed) */
    char *asserts;            /* MBPP: test_list, one per line (malloc'd) */
} code_item;

typedef struct code_ctx {
    bool mbpp;
    s2_jsonl rows;
    code_item *items;
    int32_t n;
    s2_sandbox_limits lim;
    int32_t max_running, running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sync_ok;             /* mu and cv were initialised */
} code_ctx;

static code_ctx *ctx_of(const s2_task *t) { return t->ctx; }

static int32_t code_n_items(const s2_task *t) { return ctx_of(t)->n; }
static const char *code_item_id(const s2_task *t, int32_t i) { return ctx_of(t)->items[i].id; }

static char *code_prompt(const s2_task *t, int32_t i) {
    const code_ctx *c = ctx_of(t);
    const code_item *it = &c->items[i];
    if (!c->mbpp) return s2_strdup(it->text);
    s2_buf b = {0};
    s2_buf_printf(&b,
                  "You are an expert Python programmer, and here is your task: %s Your code should pass these "
                  "tests:\n\n%s\n```python\n",
                  it->text, it->asserts);
    return s2_buf_take(&b);
}

/* True when a line in column 0 that is not code follows the code: the answer has ended. */
static bool code_is_terminal(const s2_task *t, int32_t i, const char *text) {
    const code_ctx *c = ctx_of(t);
    const char *f = find_fence(text);
    if (f != NULL) {
        if (closes_prompt_block(text, f)) return true;
        const char *nl = strchr(f, '\n');
        if (nl != NULL && find_fence(nl + 1) != NULL) return true; /* a closed block */
        return false;
    }
    if (c->mbpp) return strstr(text, "[DONE]") != NULL;
    if (s2_code_defines(text, c->items[i].entry_point)) return false;
    char *body = s2_code_cut_body(text);
    bool done = body != NULL && strlen(body) < strlen(text) && body[0] != '\0';
    free(body);
    return done;
}

/* The code to run for text: MBPP's whole program; HumanEval's completion or whole function (*whole). */
static char *code_of(const code_ctx *c, const code_item *it, const char *text, bool *whole) {
    char *code = s2_code_extract(text);
    if (code == NULL) return NULL;
    *whole = true;
    if (c->mbpp) {
        char *done = strstr(code, "[DONE]");
        if (done != NULL) *done = '\0';
        return code;
    }
    if (s2_code_defines(code, it->entry_point)) return code;
    *whole = false;
    char *body = s2_code_cut_body(code);
    free(code);
    return body;
}

static char *code_extract(const s2_task *t, int32_t i, const char *text) {
    bool whole;
    return code_of(ctx_of(t), &ctx_of(t)->items[i], text, &whole);
}

/* The last non-empty line of s (at most cap-1 bytes) into buf. */
static void last_line(const char *s, char *buf, size_t cap) {
    const char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) end--;
    const char *start = end;
    while (start > s && start[-1] != '\n') start--;
    size_t n = (size_t)(end - start);
    if (n >= cap) n = cap - 1;
    memcpy(buf, start, n);
    buf[n] = '\0';
}

/* " at line N: SOURCE" for the innermost frame of the program in a Python traceback, or "". */
static void failing_line(const char *err, char *buf, size_t cap) {
    buf[0] = '\0';
    const char *key = "File \"/dev/fd/4\", line ", *last = NULL;
    for (const char *p = err; (p = strstr(p, key)) != NULL; p++) last = p;
    if (last == NULL) return;
    long n = strtol(last + strlen(key), NULL, 10);
    const char *src = strchr(last, '\n');
    if (src == NULL) return;
    src++;
    while (*src == ' ') src++;
    size_t len = strcspn(src, "\n");
    if (len > 80) len = 80;
    snprintf(buf, cap, " at line %ld: %.*s", n, (int)len, src);
}

static void acquire(code_ctx *c) {
    pthread_mutex_lock(&c->mu);
    while (c->running >= c->max_running) pthread_cond_wait(&c->cv, &c->mu);
    c->running++;
    pthread_mutex_unlock(&c->mu);
}

static void release(code_ctx *c) {
    pthread_mutex_lock(&c->mu);
    c->running--;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static s2_status code_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    code_ctx *c = ctx_of(t);
    const code_item *it = &c->items[i];
    bool whole;
    out->answer = code_of(c, it, text, &whole);
    if (out->answer == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", t->iface->name);
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) {
        static atomic_uint_fast64_t counter;
        nonce = s2_hash_str(it->id) ^ (uint64_t)time(NULL) ^ (atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull);
    }
    char marker[48];
    snprintf(marker, sizeof marker, "s2-tests-done-%016llx", (unsigned long long)nonce);
    s2_buf prog = {0};
    if (c->mbpp) {
        s2_buf_printf(&prog, "%s\n%s\n%s\n", out->answer, it->setup, it->asserts);
    } else {
        s2_buf_puts(&prog, it->text);
        if (whole) s2_buf_puts(&prog, "\n");
        s2_buf_printf(&prog, "%s\n%s\ncheck(%s)\n", out->answer, it->test, it->entry_point);
    }
    /* the marker is printed from pieces, so that the program's text never holds it whole */
    s2_buf_printf(&prog, "print('s2-tests-done-' + '%016llx', flush=True)\n", (unsigned long long)nonce);
    char *program = s2_buf_take(&prog);
    if (program == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", t->iface->name);
    s2_sandbox_result r;
    acquire(c);
    s2_status st = s2_sandbox_run_python(program, &c->lim, &r, err);
    release(c);
    free(program);
    if (st != S2_OK) {
        s2_sandbox_result_clear(&r);
        return s2_error_prefix(err, it->id);
    }
    char line[160];
    if (r.timed_out) {
        s2_verdict_set(out, 0, "timeout after %g s", c->lim.wall_s);
    } else if (r.output_killed) {
        s2_verdict_set(out, 0, "killed: more than %lld bytes of output", (long long)c->lim.out_kill);
    } else if (r.term_signal != 0) {
        s2_verdict_set(out, 0, "killed by signal %d%s", r.term_signal,
                       r.term_signal == 24 ? " (CPU time limit)" : "");
    } else if (r.exit_code != 0) {
        last_line(r.err, line, sizeof line);
        char where[120];
        failing_line(r.err, where, sizeof where);
        s2_verdict_set(out, 0, "tests failed (exit %d): %s%s", r.exit_code, line[0] ? line : "no message", where);
    } else if (strstr(r.out_tail, marker) == NULL) {
        s2_verdict_set(out, 0, "exited before the tests finished");
    } else {
        s2_verdict_set(out, 1, "ok");
    }
    s2_sandbox_result_clear(&r);
    return S2_OK;
}

static char *code_reference(const s2_task *t, int32_t i) { return s2_strdup(ctx_of(t)->items[i].solution); }

/* Wrong answers: a body of `pass` (HumanEval) or every top-level function returning None (MBPP), and a syntax
 * error. */
static int32_t code_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    const code_ctx *c = ctx_of(t);
    const code_item *it = &c->items[i];
    int32_t n = 0;
    if (n < cap) {
        s2_buf b = {0};
        if (!c->mbpp) {
            s2_buf_puts(&b, "    pass\n");
        } else {
            s2_buf_printf(&b, "%s\n", it->solution);
            for (const char *line = it->solution; line != NULL && *line;) {
                if (strncmp(line, "def ", 4) == 0) {
                    const char *name = line + 4, *e = name;
                    while (isalnum((unsigned char)*e) || *e == '_') e++;
                    s2_buf_printf(&b, "def %.*s(*args, **kwargs):\n    return None\n", (int)(e - name), name);
                }
                const char *nl = strchr(line, '\n');
                line = nl != NULL ? nl + 1 : NULL;
            }
        }
        char *s = s2_buf_take(&b);
        if (s != NULL) out[n++] = s;
    }
    if (n < cap) {
        char *s = s2_strdup(c->mbpp ? "def broken(:\n    return 1\n" : "    return (1 +\n");
        if (s != NULL) out[n++] = s;
    }
    return n;
}

static void code_free(s2_task *t) {
    code_ctx *c = ctx_of(t);
    if (c == NULL) return;
    for (int32_t i = 0; i < c->n; i++) free(c->items[i].asserts);
    free(c->items);
    s2_jsonl_free(&c->rows);
    if (c->sync_ok) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    free(c);
}

static const struct s2_task_i humaneval_iface = {
    .name = "humaneval",
    .summary = "HumanEval (164 Python functions): the completion runs with the unit tests in a sandbox",
    .step_delim = "\n",
    .qa = true,
    .n_items = code_n_items,
    .item_id = code_item_id,
    .prompt = code_prompt,
    .is_terminal = code_is_terminal,
    .extract = code_extract,
    .verify = code_verify,
    .reference = code_reference,
    .wrong_answers = code_wrong_answers,
    .free = code_free,
};

static const struct s2_task_i mbpp_iface = {
    .name = "mbpp",
    .summary = "MBPP (Python problems; test split 11-510): the program runs with its asserts in a sandbox",
    .step_delim = "\n",
    .qa = true,
    .n_items = code_n_items,
    .item_id = code_item_id,
    .prompt = code_prompt,
    .is_terminal = code_is_terminal,
    .extract = code_extract,
    .verify = code_verify,
    .reference = code_reference,
    .wrong_answers = code_wrong_answers,
    .free = code_free,
};

static s2_status load_humaneval(code_ctx *c, s2_error *err) {
    s2_status st = S2_OK;
    for (int32_t i = 0; i < c->rows.n && st == S2_OK; i++) {
        code_item *it = &c->items[c->n];
        st = s2_jsonl_str(&c->rows, i, "task_id", &it->task_id, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "prompt", &it->text, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "entry_point", &it->entry_point, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "canonical_solution", &it->solution, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "test", &it->test, err);
        if (st == S2_OK) {
            snprintf(it->id, sizeof it->id, "%s", it->task_id);
            c->n++;
        }
    }
    return st;
}

/* MBPP splits by task id (Austin et al.): prompt 1-10, test 11-510, validation 511-600, train 601-974. */
static bool mbpp_in_split(const char *split, int64_t id) {
    if (strcmp(split, "test") == 0) return id >= 11 && id <= 510;
    if (strcmp(split, "prompt") == 0) return id >= 1 && id <= 10;
    if (strcmp(split, "validation") == 0) return id >= 511 && id <= 600;
    if (strcmp(split, "train") == 0) return id >= 601;
    return true; /* all */
}

static s2_status load_mbpp(code_ctx *c, const char *split, s2_error *err) {
    s2_status st = S2_OK;
    for (int32_t i = 0; i < c->rows.n && st == S2_OK; i++) {
        code_item *it = &c->items[c->n];
        int64_t id;
        st = s2_jsonl_int(&c->rows, i, "task_id", &id, err);
        if (st != S2_OK || !mbpp_in_split(split, id)) continue;
        st = s2_jsonl_str(&c->rows, i, "text", &it->text, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "code", &it->solution, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "test_setup_code", &it->setup, err);
        if (st != S2_OK) break;
        json_t *list = json_object_get(c->rows.rows[i], "test_list");
        if (!json_is_array(list) || json_array_size(list) == 0)
            return s2_error_set(err, S2_E_FORMAT, "%s:%d: no test_list", c->rows.path, (int)c->rows.line[i]);
        s2_buf b = {0};
        for (size_t k = 0; k < json_array_size(list); k++) {
            json_t *a = json_array_get(list, k);
            if (!json_is_string(a)) {
                s2_buf_free(&b);
                return s2_error_set(err, S2_E_FORMAT, "%s:%d: test_list[%zu] is not a string", c->rows.path,
                                    (int)c->rows.line[i], k);
            }
            s2_buf_printf(&b, "%s\n", json_string_value(a));
        }
        it->asserts = s2_buf_take(&b);
        if (it->asserts == NULL) return s2_error_set(err, S2_E_NOMEM, "mbpp: out of memory");
        snprintf(it->id, sizeof it->id, "mbpp/%lld", (long long)id);
        c->n++;
    }
    return st;
}

static s2_status code_init(bool mbpp, const s2_task_params *params, s2_task **out, s2_error *err) {
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    const char *name = mbpp ? "mbpp" : "humaneval";
    *out = NULL;
    const char *split = p.split != NULL ? p.split : mbpp ? "test" : "test";
    if (!mbpp && strcmp(split, "test") != 0 && strcmp(split, "all") != 0)
        return s2_error_set(err, S2_E_ARG, "humaneval: unknown split '%s' (test, all)", split);
    if (mbpp && strcmp(split, "test") != 0 && strcmp(split, "all") != 0 && strcmp(split, "train") != 0 &&
        strcmp(split, "validation") != 0 && strcmp(split, "prompt") != 0)
        return s2_error_set(err, S2_E_ARG, "mbpp: unknown split '%s' (test, validation, train, prompt, all)", split);
    if (p.n_workers < 0 || p.n_workers > 256)
        return s2_error_set(err, S2_E_ARG, "%s: n_workers %d not in [0,256]", name, (int)p.n_workers);
    if (p.timeout_s < 0 || p.timeout_s > 3600)
        return s2_error_set(err, S2_E_ARG, "%s: timeout %g s not in [0,3600]", name, p.timeout_s);
    code_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", name);
    c->mbpp = mbpp;
    c->lim = s2_sandbox_default_limits();
    c->lim.wall_s = p.timeout_s > 0 ? p.timeout_s : CODE_TIMEOUT_S;
    c->max_running = p.n_workers > 0 ? p.n_workers : 2;
    s2_status st = S2_OK;
    if (pthread_mutex_init(&c->mu, NULL) != 0) st = s2_error_set(err, S2_E_NOMEM, "%s: mutex", name);
    else if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        st = s2_error_set(err, S2_E_NOMEM, "%s: condition variable", name);
    } else {
        c->sync_ok = true;
    }
    char path[4096];
    const char *file = p.data != NULL ? p.data : s2_task_shared_path(path, sizeof path, mbpp ? MBPP_FILE : HUMANEVAL_FILE);
    if (st == S2_OK) st = s2_jsonl_read(file, &c->rows, err);
    if (st == S2_OK && (c->items = calloc((size_t)c->rows.n + 1, sizeof *c->items)) == NULL)
        st = s2_error_set(err, S2_E_NOMEM, "%s: out of memory", name);
    if (st == S2_OK) st = mbpp ? load_mbpp(c, split, err) : load_humaneval(c, err);
    if (st == S2_OK && c->n == 0) st = s2_error_set(err, S2_E_FORMAT, "%s: no items in split '%s'", file, split);
    const struct s2_task_i *iface = mbpp ? &mbpp_iface : &humaneval_iface;
    if (st == S2_OK) st = s2_task_new(iface, c, out, err);
    if (st != S2_OK) {
        s2_task tmp = {iface, c};
        code_free(&tmp);
    }
    return st;
}

s2_status s2_task_humaneval_init(const s2_task_params *p, s2_task **out, s2_error *err) {
    return code_init(false, p, out, err);
}

s2_status s2_task_mbpp_init(const s2_task_params *p, s2_task **out, s2_error *err) {
    return code_init(true, p, out, err);
}
