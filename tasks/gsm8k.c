/* gsm8k.c: GSM8K (Cobbe et al. 2021), the test set from a JSONL file ({"question", "answer" ending "#### N"}).
 * The prompt is "Question: ...\nAnswer:" (zero-shot by default); with n_shot = k the first k items of the file
 * are worked examples in every prompt and are left out of the evaluation. Steps are lines. The answer is
 * exact: numbers are compared as normalised decimal strings (commas, currency, %, a trailing '.', 5.0 == 5),
 * never as floats. Reference answers are the dataset's solutions without the <<calculator>> annotations. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "jsonl.h"
#include "latex.h"
#include "rational.h"
#include "task_impl.h"

#define GSM8K_FILE "data/gsm8k_test.jsonl"
#define GSM8K_MAX_SHOT 8
#define NUM_CAP 64

/* ---- numbers ---- */

/* Skips a currency sign at p: $ \$ € £ ¥ ₹. */
static const char *skip_currency(const char *p) {
    if (*p == '$') return p + 1;
    if (p[0] == '\\' && p[1] == '$') return p + 2;
    if (strncmp(p, "\xe2\x82\xac", 3) == 0 || strncmp(p, "\xe2\x82\xb9", 3) == 0) return p + 3;
    if (strncmp(p, "\xc2\xa3", 2) == 0 || strncmp(p, "\xc2\xa5", 2) == 0) return p + 2;
    return p;
}

/* Skips a minus sign at p ('-' or U+2212); sets *neg. */
static const char *skip_minus(const char *p, bool *neg) {
    if (*p == '-') { *neg = true; return p + 1; }
    if (strncmp(p, "\xe2\x88\x92", 3) == 0) { *neg = true; return p + 3; }
    return p;
}

bool s2_gsm8k_number(const char *s, const char **end, char *out, size_t cap) {
    const char *p = s;
    bool neg = false;
    p = skip_minus(p, &neg);
    p = skip_currency(p);
    if (!neg) p = skip_minus(p, &neg); /* "$-5" */
    char digits[NUM_CAP];
    size_t nd = 0;
    const char *q = p;
    if (!isdigit((unsigned char)*q) && !(*q == '.' && isdigit((unsigned char)q[1]))) return false;
    /* integer part, with thousands separators only in groups of three */
    size_t lead = 0;
    while (isdigit((unsigned char)*q)) {
        if (nd + 1 >= sizeof digits) return false;
        digits[nd++] = *q++;
        lead++;
    }
    while (*q == ',' && lead >= 1 && isdigit((unsigned char)q[1]) && isdigit((unsigned char)q[2]) &&
           isdigit((unsigned char)q[3]) && !isdigit((unsigned char)q[4])) {
        if (nd + 4 >= sizeof digits) return false;
        memcpy(digits + nd, q + 1, 3);
        nd += 3;
        q += 4;
    }
    size_t int_len = nd;
    if (*q == '.' && isdigit((unsigned char)q[1])) {
        q++;
        while (isdigit((unsigned char)*q)) {
            if (nd + 1 >= sizeof digits) return false;
            digits[nd++] = *q++;
        }
    }
    if (*q == '%') q++;
    /* canonical: no leading zeros in the integer part, no trailing zeros in the fraction */
    size_t i0 = 0;
    while (i0 + 1 < int_len && digits[i0] == '0') i0++;
    size_t f1 = nd;
    while (f1 > int_len && digits[f1 - 1] == '0') f1--;
    char buf[NUM_CAP + 4];
    size_t n = 0;
    bool zero = true;
    for (size_t i = 0; i < f1; i++) zero &= digits[i] == '0';
    if (neg && !zero) buf[n++] = '-';
    if (int_len == 0) buf[n++] = '0';
    for (size_t i = i0; i < int_len; i++) buf[n++] = digits[i];
    if (f1 > int_len) {
        buf[n++] = '.';
        for (size_t i = int_len; i < f1; i++) buf[n++] = digits[i];
    }
    buf[n] = '\0';
    if (n + 1 > cap) return false;
    memcpy(out, buf, n + 1);
    if (end != NULL) *end = q;
    return true;
}

/* The first (or, when last, the last) number in s, normalised into out. A '-' right after a letter, digit or
 * ')' is an operator, not a sign. */
static bool find_number(const char *s, bool last, char *out, size_t cap) {
    bool found = false;
    for (const char *p = s; *p;) {
        bool op = (*p == '-' || strncmp(p, "\xe2\x88\x92", 3) == 0) && p > s &&
                  (isalnum((unsigned char)p[-1]) || p[-1] == ')');
        const char *end;
        char tmp[NUM_CAP];
        if (!op && (p == s || !isdigit((unsigned char)p[-1])) && s2_gsm8k_number(p, &end, tmp, sizeof tmp)) {
            if (strlen(tmp) + 1 <= cap) {
                strcpy(out, tmp);
                found = true;
            }
            if (!last) return found;
            p = end;
            continue;
        }
        p++;
    }
    return found;
}

/* The start of the last case-insensitive occurrence of needle in s, or NULL. */
static const char *last_ci(const char *s, const char *needle) {
    const char *found = NULL;
    size_t n = strlen(needle);
    for (const char *p = s; *p; p++)
        if (strncasecmp(p, needle, n) == 0) found = p;
    return found;
}

/* The answer after a marker, or false. */
static bool marked_answer(const char *text, char *out, size_t cap) {
    const char *m = last_ci(text, "####");
    if (m != NULL && find_number(m + 4, false, out, cap)) return true;
    m = last_ci(text, "the answer is");
    if (m != NULL && find_number(m + 13, false, out, cap)) return true;
    char *boxed = s2_latex_last_boxed(text);
    bool ok = boxed != NULL && find_number(boxed, false, out, cap);
    free(boxed);
    return ok;
}

char *s2_gsm8k_extract(const char *text) {
    if (text == NULL) return NULL;
    char num[NUM_CAP];
    if (marked_answer(text, num, sizeof num) || find_number(text, true, num, sizeof num)) return s2_strdup(num);
    return NULL;
}

/* ---- the task ---- */

typedef struct gsm_item {
    char id[32];
    const char *question;   /* borrowed from the JSONL rows */
    char *solution;         /* the answer text without <<...>> annotations (malloc'd) */
    char gold[NUM_CAP];     /* the normalised final number */
} gsm_item;

typedef struct gsm_ctx {
    s2_jsonl rows;
    gsm_item *all;          /* every item of the file */
    int32_t n_all;
    int32_t n_shot;         /* all[0 .. n_shot) are the worked examples */
    char *shots;            /* the examples' text, prepended to each prompt (malloc'd, "" for zero-shot) */
} gsm_ctx;

static gsm_ctx *ctx_of(const s2_task *t) { return t->ctx; }
static const gsm_item *item_of(const s2_task *t, int32_t i) {
    gsm_ctx *c = ctx_of(t);
    return &c->all[c->n_shot + i];
}

/* "16 - 3 - 4 = <<16-3-4=9>>9" -> "16 - 3 - 4 = 9" */
static char *strip_annotations(const char *s) {
    s2_buf b = {0};
    for (const char *p = s; *p;) {
        if (p[0] == '<' && p[1] == '<') {
            const char *e = strstr(p, ">>");
            if (e != NULL) {
                p = e + 2;
                continue;
            }
        }
        s2_buf_append(&b, p, 1);
        p++;
    }
    return s2_buf_take(&b);
}

static int32_t gsm_n_items(const s2_task *t) { return ctx_of(t)->n_all - ctx_of(t)->n_shot; }
static const char *gsm_item_id(const s2_task *t, int32_t i) { return item_of(t, i)->id; }

static char *gsm_prompt(const s2_task *t, int32_t i) {
    s2_buf b = {0};
    s2_buf_puts(&b, ctx_of(t)->shots);
    s2_buf_printf(&b, "Question: %s\nAnswer:", item_of(t, i)->question);
    return s2_buf_take(&b);
}

static bool gsm_is_terminal(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    char num[NUM_CAP];
    return marked_answer(text, num, sizeof num);
}

static char *gsm_extract(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    return s2_gsm8k_extract(text);
}

static s2_status gsm_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    (void)err;
    const gsm_item *it = item_of(t, i);
    out->answer = s2_gsm8k_extract(text);
    if (out->answer == NULL) s2_verdict_set(out, 0, "no number in the answer");
    else if (strcmp(out->answer, it->gold) == 0) s2_verdict_set(out, 1, "ok");
    else s2_verdict_set(out, 0, "answer %s, expected %s", out->answer, it->gold);
    return S2_OK;
}

static char *gsm_reference(const s2_task *t, int32_t i) { return s2_strdup(item_of(t, i)->solution); }

/* The solution with its final "#### N" replaced by N + delta (exact, through rationals). */
static char *shifted_solution(const gsm_item *it, int delta) {
    const char *m = last_ci(it->solution, "####");
    if (m == NULL) return NULL;
    const char *g = it->gold;
    s2_rat v, d;
    if (!s2_rat_parse(&g, true, false, &v, NULL) || *g != '\0') return NULL;
    if (s2_rat_add(v, s2_rat_int(delta), &d) != S2_RAT_OK) return NULL;
    char num[64];
    s2_buf b = {0};
    s2_buf_append(&b, it->solution, (size_t)(m - it->solution));
    s2_buf_printf(&b, "#### %s", s2_rat_str_dec(d, num, sizeof num));
    return s2_buf_take(&b);
}

static int32_t gsm_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    const gsm_item *it = item_of(t, i);
    int32_t n = 0;
    for (int delta = 1; delta >= -1 && n < cap; delta -= 2) {
        char *s = shifted_solution(it, delta);
        if (s != NULL) out[n++] = s;
    }
    return n;
}

static void gsm_free(s2_task *t) {
    gsm_ctx *c = ctx_of(t);
    if (c == NULL) return;
    for (int32_t i = 0; i < c->n_all; i++) free(c->all[i].solution);
    free(c->all);
    free(c->shots);
    s2_jsonl_free(&c->rows);
    free(c);
}

static const struct s2_task_i gsm_iface = {
    .name = "gsm8k",
    .summary = "GSM8K grade-school math word problems (1,319 test items), exact numeric answer after ####",
    .step_delim = "\n",
    .qa = true,
    .n_items = gsm_n_items,
    .item_id = gsm_item_id,
    .prompt = gsm_prompt,
    .is_terminal = gsm_is_terminal,
    .extract = gsm_extract,
    .verify = gsm_verify,
    .reference = gsm_reference,
    .wrong_answers = gsm_wrong_answers,
    .free = gsm_free,
};

static s2_status gsm_load(gsm_ctx *c, const char *path, s2_error *err) {
    s2_status st = s2_jsonl_read(path, &c->rows, err);
    if (st != S2_OK) return st;
    if (c->rows.n == 0) return s2_error_set(err, S2_E_FORMAT, "%s: no items", path);
    c->all = calloc((size_t)c->rows.n, sizeof *c->all);
    if (c->all == NULL) return s2_error_set(err, S2_E_NOMEM, "gsm8k: out of memory");
    for (int32_t i = 0; i < c->rows.n; i++) {
        gsm_item *it = &c->all[i];
        c->n_all = i + 1;
        const char *answer;
        if ((st = s2_jsonl_str(&c->rows, i, "question", &it->question, err)) != S2_OK) return st;
        if ((st = s2_jsonl_str(&c->rows, i, "answer", &answer, err)) != S2_OK) return st;
        snprintf(it->id, sizeof it->id, "gsm8k/%d", (int)i);
        it->solution = strip_annotations(answer);
        if (it->solution == NULL) return s2_error_set(err, S2_E_NOMEM, "gsm8k: out of memory");
        const char *m = last_ci(answer, "####");
        if (m == NULL || !find_number(m + 4, false, it->gold, sizeof it->gold))
            return s2_error_set(err, S2_E_FORMAT, "%s:%d: the answer does not end with \"#### N\"", path,
                                (int)c->rows.line[i]);
    }
    return S2_OK;
}

s2_status s2_task_gsm8k_init(const s2_task_params *params, s2_task **out, s2_error *err) {
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    *out = NULL;
    if (p.split != NULL && strcmp(p.split, "test") != 0 && strcmp(p.split, "all") != 0)
        return s2_error_set(err, S2_E_ARG, "gsm8k: unknown split '%s' (test, all)", p.split);
    if (p.n_shot > GSM8K_MAX_SHOT)
        return s2_error_set(err, S2_E_ARG, "gsm8k: n_shot %d > %d", (int)p.n_shot, GSM8K_MAX_SHOT);
    gsm_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) return s2_error_set(err, S2_E_NOMEM, "gsm8k: out of memory");
    char path[4096];
    const char *file = p.data != NULL ? p.data : s2_task_shared_path(path, sizeof path, GSM8K_FILE);
    s2_status st = gsm_load(c, file, err);
    c->n_shot = p.n_shot < 0 ? 0 : p.n_shot;
    if (st == S2_OK && c->n_shot >= c->n_all)
        st = s2_error_set(err, S2_E_ARG, "gsm8k: n_shot %d leaves no items", (int)c->n_shot);
    if (st == S2_OK) {
        s2_buf b = {0};
        s2_buf_puts(&b, "");
        for (int32_t k = 0; k < c->n_shot; k++)
            s2_buf_printf(&b, "Question: %s\nAnswer: %s\n\n", c->all[k].question, c->all[k].solution);
        c->shots = s2_buf_take(&b);
        if (c->shots == NULL) st = s2_error_set(err, S2_E_NOMEM, "gsm8k: out of memory");
    }
    if (st == S2_OK) st = s2_task_new(&gsm_iface, c, out, err);
    if (st != S2_OK) {
        s2_task tmp = {&gsm_iface, c};
        gsm_free(&tmp);
    }
    return st;
}
