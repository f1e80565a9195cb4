/* math500.c: MATH-500 (the 500-problem test split of Lightman et al.'s PRM800K, drawn from Hendrycks et al.'s
 * MATH), from a JSONL file ({"problem", "solution", "answer", "subject", "level", "unique_id"}). The prompt asks
 * for the final answer in \boxed{}; steps are lines; the answer is the last \boxed{} (or "final answer is ...")
 * and is judged against the dataset's `answer` by latex.h's equivalence; extract() gives its canonical key, so
 * that votes count equivalent answers together. With n_shot = k the first k problems,
 * with their solutions, are worked examples in every prompt and are left out of the evaluation. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "jsonl.h"
#include "latex.h"
#include "task_impl.h"

#define MATH500_FILE "data/math500_test.jsonl"
#define MATH500_MAX_SHOT 4

char *s2_math_extract(const char *text) {
    if (text == NULL) return NULL;
    char *b = s2_latex_last_boxed(text);
    if (b != NULL) return b;
    const char *m = NULL;
    for (const char *p = text; *p; p++)
        if (strncasecmp(p, "final answer is", 15) == 0) m = p + 15;
    if (m == NULL) return NULL;
    const char *e = m + strcspn(m, "\n");
    const char *hope = strstr(m, ". I hope");
    if (hope != NULL && hope < e) e = hope;
    while (m < e && (isspace((unsigned char)*m) || *m == '$' || *m == ':')) m++;
    while (e > m && (isspace((unsigned char)e[-1]) || e[-1] == '$' || e[-1] == '.')) e--;
    return e > m ? s2_strndup(m, (size_t)(e - m)) : NULL;
}

typedef struct math_item {
    const char *id, *problem, *solution, *answer; /* borrowed from the rows */
} math_item;

typedef struct math_ctx {
    s2_jsonl rows;
    math_item *all;
    int32_t n_all, n_shot;
    char *shots;
} math_ctx;

static math_ctx *ctx_of(const s2_task *t) { return t->ctx; }
static const math_item *item_of(const s2_task *t, int32_t i) { return &ctx_of(t)->all[ctx_of(t)->n_shot + i]; }

static int32_t math_n_items(const s2_task *t) { return ctx_of(t)->n_all - ctx_of(t)->n_shot; }
static const char *math_item_id(const s2_task *t, int32_t i) { return item_of(t, i)->id; }

#define MATH_INSTRUCTION "Solve the problem step by step, and put the final answer in \\boxed{}."

static char *math_prompt(const s2_task *t, int32_t i) {
    s2_buf b = {0};
    s2_buf_puts(&b, ctx_of(t)->shots);
    s2_buf_printf(&b, "Problem: %s\n" MATH_INSTRUCTION "\nSolution:", item_of(t, i)->problem);
    return s2_buf_take(&b);
}

static bool math_is_terminal(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    char *a = s2_math_extract(text);
    bool done = a != NULL;
    free(a);
    return done;
}

/* The canonical key of the answer (latex.h), not the answer as written: self-consistency votes on extract(),
 * and "\frac12", "0.5" and "\dfrac{1}{2}" must count as one answer. The verdict's answer keeps the text. */
static char *math_extract(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    char *a = s2_math_extract(text);
    if (a == NULL) return NULL;
    char *k = s2_latex_key(a);
    free(a);
    return k;
}

static s2_status math_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    (void)err;
    const math_item *it = item_of(t, i);
    out->answer = s2_math_extract(text);
    if (out->answer == NULL) s2_verdict_set(out, 0, "no \\boxed{} answer");
    else if (s2_latex_equiv(out->answer, it->answer)) s2_verdict_set(out, 1, "ok");
    else s2_verdict_set(out, 0, "answer %.100s, expected %.100s", out->answer, it->answer);
    return S2_OK;
}

static char *math_reference(const s2_task *t, int32_t i) { return s2_strdup(item_of(t, i)->solution); }

static char *boxed_text(const char *answer) {
    s2_buf b = {0};
    s2_buf_printf(&b, "The final answer is $\\boxed{%s}$.", answer);
    return s2_buf_take(&b);
}

/* The answer with its first digit changed, then "0", then "1": each kept only when it is not equivalent to
 * the answer. */
static int32_t math_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    const char *ans = item_of(t, i)->answer;
    int32_t n = 0;
    char *alt[3] = {s2_strdup(ans), s2_strdup("0"), s2_strdup("1")};
    if (alt[0] != NULL) {
        char *d = alt[0];
        while (*d && !isdigit((unsigned char)*d)) d++;
        if (*d) *d = (char)('0' + (*d - '0' + 1) % 10);
        else alt[0][0] = '\0';
    }
    for (int k = 0; k < 3; k++) {
        if (alt[k] != NULL && alt[k][0] != '\0' && n < cap && !s2_latex_equiv(alt[k], ans)) {
            char *s = boxed_text(alt[k]);
            if (s != NULL) out[n++] = s;
        }
        free(alt[k]);
    }
    return n;
}

static void math_free(s2_task *t) {
    math_ctx *c = ctx_of(t);
    if (c == NULL) return;
    free(c->all);
    free(c->shots);
    s2_jsonl_free(&c->rows);
    free(c);
}

static const struct s2_task_i math_iface = {
    .name = "math500",
    .summary = "MATH-500 competition problems (PRM800K split, 500 items), \\boxed{} answer, LaTeX-aware equivalence",
    .step_delim = "\n",
    .qa = true,
    .n_items = math_n_items,
    .item_id = math_item_id,
    .prompt = math_prompt,
    .is_terminal = math_is_terminal,
    .extract = math_extract,
    .verify = math_verify,
    .reference = math_reference,
    .wrong_answers = math_wrong_answers,
    .free = math_free,
};

static s2_status math_load(math_ctx *c, const char *path, s2_error *err) {
    s2_status st = s2_jsonl_read(path, &c->rows, err);
    if (st != S2_OK) return st;
    if (c->rows.n == 0) return s2_error_set(err, S2_E_FORMAT, "%s: no items", path);
    c->all = calloc((size_t)c->rows.n, sizeof *c->all);
    if (c->all == NULL) return s2_error_set(err, S2_E_NOMEM, "math500: out of memory");
    c->n_all = c->rows.n;
    for (int32_t i = 0; i < c->rows.n && st == S2_OK; i++) {
        math_item *it = &c->all[i];
        st = s2_jsonl_str(&c->rows, i, "problem", &it->problem, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "solution", &it->solution, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "answer", &it->answer, err);
        if (st == S2_OK) st = s2_jsonl_str(&c->rows, i, "unique_id", &it->id, err);
    }
    return st;
}

s2_status s2_task_math500_init(const s2_task_params *params, s2_task **out, s2_error *err) {
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    *out = NULL;
    if (p.split != NULL && strcmp(p.split, "test") != 0 && strcmp(p.split, "all") != 0)
        return s2_error_set(err, S2_E_ARG, "math500: unknown split '%s' (test, all)", p.split);
    if (p.n_shot > MATH500_MAX_SHOT)
        return s2_error_set(err, S2_E_ARG, "math500: n_shot %d > %d", (int)p.n_shot, MATH500_MAX_SHOT);
    math_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) return s2_error_set(err, S2_E_NOMEM, "math500: out of memory");
    char path[4096];
    const char *file = p.data != NULL ? p.data : s2_task_shared_path(path, sizeof path, MATH500_FILE);
    s2_status st = math_load(c, file, err);
    c->n_shot = p.n_shot < 0 ? 0 : p.n_shot;
    if (st == S2_OK && c->n_shot >= c->n_all)
        st = s2_error_set(err, S2_E_ARG, "math500: n_shot %d leaves no items", (int)c->n_shot);
    if (st == S2_OK) {
        s2_buf b = {0};
        s2_buf_puts(&b, "");
        for (int32_t k = 0; k < c->n_shot; k++)
            s2_buf_printf(&b, "Problem: %s\n" MATH_INSTRUCTION "\nSolution: %s\n\n", c->all[k].problem,
                          c->all[k].solution);
        c->shots = s2_buf_take(&b);
        if (c->shots == NULL) st = s2_error_set(err, S2_E_NOMEM, "math500: out of memory");
    }
    if (st == S2_OK) st = s2_task_new(&math_iface, c, out, err);
    if (st != S2_OK) {
        s2_task tmp = {&math_iface, c};
        math_free(&tmp);
    }
    return st;
}
