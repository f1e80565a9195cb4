/* arith.c: multi-digit arithmetic with a written scratchpad, one partial result per line. Two kinds of item,
 * half each, generated from params.seed with difficulty = digits d (default 3, 1..9):
 *   long multiplication, a d-digit number times a (d-1)-digit one (1-digit when d <= 2):
 *     Input: 123 * 45
 *     123 * 5 = 615          one line per nonzero digit of the second factor, least significant first,
 *     123 * 40 = 4920        the digit times its place value
 *     615 + 4920 = 5535      then the partial products summed left to right
 *     Answer: 5535
 *   addition chains of three d-digit numbers:
 *     Input: 123 + 456 + 789
 *     123 + 456 = 579
 *     579 + 789 = 1368
 *     Answer: 1368
 * The verdict is the outcome: the Answer line must equal the true result exactly (compared as digit strings,
 * so no answer, however long, can overflow). The oracle is the process: SOLVABLE while every step line is a
 * correct equation (and the answer, when there is one, is right), DEAD otherwise. The value model reads
 * "Value: 123 * 45\n" followed by the steps so far, and answers "sure\n" or "impossible\n".
 * Ids are the problems ("123*45", "123+456+789"), held out when s2_hash_str(id) % 10 == 0: split "test" (the
 * default) holds those, "train" the others; gen_example never draws a held-out one. Results stay below 10^18,
 * so int64 holds every number the generator writes; a model's numbers are checked through __int128. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_impl.h"

#define AR_MAX_STEPS 24    /* a text with more step lines can hold nothing more */
#define AR_MAX_TERMS 3

typedef struct ar_item {
    bool mul;
    int n_terms;                  /* mul: 2; add: AR_MAX_TERMS */
    int64_t term[AR_MAX_TERMS];
    int64_t result;
    char id[80];
} ar_item;

typedef struct ar_ctx {
    ar_item *items;
    int32_t n_items;
    int digits;
    int32_t n_shot;
} ar_ctx;

static const ar_ctx *ctx_of(const s2_task *t) { return t->ctx; }

static int64_t pow10i(int k) {
    int64_t p = 1;
    while (k-- > 0) p *= 10;
    return p;
}

static int64_t rand_digits(uint64_t *rng, int d) {
    int64_t lo = d == 1 ? 1 : pow10i(d - 1);
    return lo + (int64_t)s2_task_rng_below(rng, (uint64_t)(pow10i(d) - lo));
}

static void gen_item(int d, uint64_t *rng, ar_item *it) {
    memset(it, 0, sizeof *it);
    it->mul = s2_task_rng_below(rng, 2) == 1;
    if (it->mul) {
        it->n_terms = 2;
        it->term[0] = rand_digits(rng, d);
        it->term[1] = rand_digits(rng, d <= 2 ? 1 : d - 1);
        it->result = it->term[0] * it->term[1];
        snprintf(it->id, sizeof it->id, "%lld*%lld", (long long)it->term[0], (long long)it->term[1]);
    } else {
        it->n_terms = AR_MAX_TERMS;
        size_t len = 0;
        for (int k = 0; k < it->n_terms; k++) {
            it->term[k] = rand_digits(rng, d);
            it->result += it->term[k];
            len += (size_t)snprintf(it->id + len, sizeof it->id - len, "%s%lld", k ? "+" : "", (long long)it->term[k]);
        }
    }
}

static bool heldout(const ar_item *it) { return s2_hash_str(it->id) % 10 == 0; }

static void write_problem(s2_buf *b, const ar_item *it) {
    for (int k = 0; k < it->n_terms; k++)
        s2_buf_printf(b, "%s%lld", k ? (it->mul ? " * " : " + ") : "", (long long)it->term[k]);
}

/* The scratchpad: nsteps (may be NULL) gets the step count; with answer, the Answer line too. */
static void write_steps(s2_buf *b, const ar_item *it, bool answer, int *nsteps) {
    int n = 0;
    if (it->mul) {
        int64_t part[20];
        int np = 0;
        int64_t a = it->term[0], rest = it->term[1], place = 1;
        for (; rest > 0; rest /= 10, place *= 10) {
            int64_t dgt = rest % 10;
            if (dgt == 0) continue;
            part[np] = a * dgt * place;
            s2_buf_printf(b, "%lld * %lld = %lld\n", (long long)a, (long long)(dgt * place), (long long)part[np]);
            np++;
            n++;
        }
        int64_t sum = part[0];
        for (int k = 1; k < np; k++) {
            s2_buf_printf(b, "%lld + %lld = %lld\n", (long long)sum, (long long)part[k], (long long)(sum + part[k]));
            sum += part[k];
            n++;
        }
    } else {
        int64_t sum = it->term[0];
        for (int k = 1; k < it->n_terms; k++) {
            s2_buf_printf(b, "%lld + %lld = %lld\n", (long long)sum, (long long)it->term[k],
                          (long long)(sum + it->term[k]));
            sum += it->term[k];
            n++;
        }
    }
    if (answer) s2_buf_printf(b, "Answer: %lld\n", (long long)it->result);
    if (nsteps != NULL) *nsteps = n;
}

/* ---- reading texts ---- */

/* Digits at *p (at most 30) into *v; false when there are none or too many. */
static bool read_int(const char **p, __int128 *v) {
    const char *s = *p;
    __int128 x = 0;
    int n = 0;
    while (*s >= '0' && *s <= '9') {
        if (++n > 30) return false;
        x = x * 10 + (*s++ - '0');
    }
    if (n == 0) return false;
    *v = x;
    *p = s;
    return true;
}

static const char *skip_sp(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    return s;
}

/* "A op B = C" (op + - * x), the whole line [s, end). 1 correct, 0 wrong arithmetic, -1 unreadable. */
static int check_step(const char *s, const char *end) {
    char line[256];
    size_t n = (size_t)(end - s);
    if (n >= sizeof line) return -1;
    memcpy(line, s, n);
    line[n] = '\0';
    const char *p = skip_sp(line);
    __int128 a, b, c, want;
    if (!read_int(&p, &a)) return -1;
    p = skip_sp(p);
    char op = *p;
    if (op != '+' && op != '-' && op != '*' && op != 'x') return -1;
    p = skip_sp(p + 1);
    if (!read_int(&p, &b)) return -1;
    p = skip_sp(p);
    if (*p != '=') return -1;
    p = skip_sp(p + 1);
    bool neg = *p == '-';
    if (neg) p++;
    if (!read_int(&p, &c)) return -1;
    if (neg) c = -c;
    if (*skip_sp(p) != '\0') return -1;
    want = op == '+' ? a + b : op == '-' ? a - b : a * b; /* each operand < 10^30: products fit in 128 bits */
    return want == c ? 1 : 0;
}

typedef struct ar_parsed {
    int n_steps;
    int first_bad;        /* 1-based step index of the first wrong or unreadable step, 0 if none */
    bool unreadable;      /* that step could not be read at all */
    bool has_answer;
    char answer[128];     /* the Answer line's content, trimmed (truncated) */
} ar_parsed;

static void parse_text(const char *text, ar_parsed *out) {
    memset(out, 0, sizeof *out);
    const char *line = text != NULL ? text : "";
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        const char *end = nl != NULL ? nl : line + strlen(line);
        const char *ls = skip_sp(line);
        line = nl != NULL ? nl + 1 : end;
        if (ls >= end) continue;
        if (strncmp(ls, "Answer:", 7) == 0) {
            const char *a = skip_sp(ls + 7), *e = end;
            while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
            size_t n = (size_t)(e - a);
            if (n >= sizeof out->answer) n = sizeof out->answer - 1;
            memcpy(out->answer, a, n);
            out->answer[n] = '\0';
            out->has_answer = true;
            return;
        }
        out->n_steps++;
        if (out->first_bad == 0) {
            int r = check_step(ls, end);
            if (r != 1) {
                out->first_bad = out->n_steps;
                out->unreadable = r < 0;
            }
        }
    }
}

/* "" when answer equals result (digits, leading zeros allowed), else the reason. */
static void check_answer(const char *ans, int64_t result, char *reason, size_t cap) {
    reason[0] = '\0';
    const char *p = ans;
    if (*p == '\0') {
        snprintf(reason, cap, "empty answer");
        return;
    }
    while (*p == '0' && p[1] >= '0' && p[1] <= '9') p++;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') {
            snprintf(reason, cap, "the answer '%.40s' is not a whole number", ans);
            return;
        }
    char want[32];
    snprintf(want, sizeof want, "%lld", (long long)result);
    if (strcmp(p, want) != 0) snprintf(reason, cap, "the answer is %s, not %.40s", want, ans);
}

/* ---- the interface ---- */

static int32_t ar_n_items(const s2_task *t) { return ctx_of(t)->n_items; }
static const char *ar_item_id(const s2_task *t, int32_t i) { return ctx_of(t)->items[i].id; }

static char *ar_prompt(const s2_task *t, int32_t i) {
    const ar_ctx *c = ctx_of(t);
    s2_buf b = {0};
    uint64_t rng = 0xa417a417ull; /* worked examples: fixed training items */
    for (int32_t k = 0; k < c->n_shot;) {
        ar_item ex;
        gen_item(c->digits, &rng, &ex);
        if (heldout(&ex)) continue;
        s2_buf_puts(&b, "Input: ");
        write_problem(&b, &ex);
        s2_buf_puts(&b, "\n");
        write_steps(&b, &ex, true, NULL);
        s2_buf_puts(&b, "\n");
        k++;
    }
    s2_buf_puts(&b, "Input: ");
    write_problem(&b, &c->items[i]);
    s2_buf_puts(&b, "\n");
    return s2_buf_take(&b);
}

static bool ar_is_terminal(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    ar_parsed ps;
    parse_text(text, &ps);
    return ps.has_answer || ps.n_steps >= AR_MAX_STEPS;
}

static char *ar_extract(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    ar_parsed ps;
    parse_text(text, &ps);
    return ps.has_answer ? s2_strdup(ps.answer) : NULL;
}

static s2_status ar_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    (void)err;
    const ar_item *it = &ctx_of(t)->items[i];
    ar_parsed ps;
    parse_text(text, &ps);
    if (!ps.has_answer) {
        s2_verdict_set(out, 0, "no answer");
        return S2_OK;
    }
    out->answer = s2_strdup(ps.answer);
    char reason[200];
    check_answer(ps.answer, it->result, reason, sizeof reason);
    if (reason[0] == '\0') s2_verdict_set(out, 1, "ok");
    else s2_verdict_set(out, 0, "%s", reason);
    return S2_OK;
}

static s2_oracle ar_oracle(const s2_task *t, int32_t i, const char *text) {
    const ar_item *it = &ctx_of(t)->items[i];
    ar_parsed ps;
    parse_text(text, &ps);
    if (ps.first_bad != 0) return S2_ORACLE_DEAD;
    if (ps.has_answer) {
        char reason[200];
        check_answer(ps.answer, it->result, reason, sizeof reason);
        return reason[0] == '\0' ? S2_ORACLE_SOLVABLE : S2_ORACLE_DEAD;
    }
    return ps.n_steps >= AR_MAX_STEPS ? S2_ORACLE_DEAD : S2_ORACLE_SOLVABLE;
}

static char *value_prompt_of(const ar_item *it, const char *text) {
    s2_buf b = {0};
    s2_buf_puts(&b, "Value: ");
    write_problem(&b, it);
    s2_buf_puts(&b, "\n");
    if (text != NULL) s2_buf_puts(&b, text);
    if (b.n > 0 && b.p[b.n - 1] != '\n') s2_buf_puts(&b, "\n");
    return s2_buf_take(&b);
}

static char *ar_value_prompt(const s2_task *t, int32_t i, const char *text) {
    return value_prompt_of(&ctx_of(t)->items[i], text);
}

/* Changes one digit of the result of step k (1-based) in the scratchpad lines. */
static void corrupt_step(char *steps, int k, uint64_t *rng) {
    char *line = steps;
    for (int j = 1; j < k && line != NULL; j++) {
        line = strchr(line, '\n');
        if (line != NULL) line++;
    }
    if (line == NULL) return;
    char *eq = strchr(line, '=');
    char *nl = strchr(line, '\n');
    if (eq == NULL || nl == NULL || eq > nl) return;
    char *d0 = eq + 2;
    int nd = (int)(nl - d0);
    if (nd <= 0) return;
    char *d = d0 + s2_task_rng_below(rng, (uint64_t)nd);
    int old = *d - '0';
    int nw = (old + 1 + (int)s2_task_rng_below(rng, 9)) % 10;
    if (nw == 0 && d == d0 && nd > 1) nw = old == 9 ? 8 : old + 1 == 10 ? 1 : old + 1; /* no leading zero */
    *d = (char)('0' + nw);
}

static s2_status ar_gen_example(const s2_task *t, s2_role role, uint64_t seed, s2_example *out, s2_error *err) {
    const ar_ctx *c = ctx_of(t);
    out->prompt = out->completion = NULL;
    uint64_t rng = seed ^ 0x3c6ef372fe94f82bull;
    ar_item it;
    do gen_item(c->digits, &rng, &it);
    while (heldout(&it));
    s2_buf pb = {0}, cb = {0};
    if (role == S2_ROLE_LEGAL) return s2_error_set(err, S2_E_UNSUPPORTED, "arith: no rules-only (legal play) examples");
    if (role == S2_ROLE_POLICY) {
        s2_buf_puts(&pb, "Input: ");
        write_problem(&pb, &it);
        s2_buf_puts(&pb, "\n");
        write_steps(&cb, &it, true, NULL);
    } else {
        bool want = s2_task_rng_below(&rng, 2) == 1;
        s2_buf steps = {0};
        int n;
        write_steps(&steps, &it, false, &n);
        /* a prefix of k steps; an impossible one has one of its steps' results changed */
        int k = want ? (int)s2_task_rng_below(&rng, (uint64_t)n + 1) : 1 + (int)s2_task_rng_below(&rng, (uint64_t)n);
        char *full = s2_buf_take(&steps);
        if (full == NULL) return s2_error_set(err, S2_E_NOMEM, "arith: out of memory");
        char *cut = full;
        for (int j = 0; j < k && cut != NULL; j++) {
            cut = strchr(cut, '\n');
            if (cut != NULL) cut++;
        }
        if (cut != NULL) *cut = '\0';
        if (!want) corrupt_step(full, 1 + (int)s2_task_rng_below(&rng, (uint64_t)k), &rng);
        char *vp = value_prompt_of(&it, full);
        ar_parsed ps;
        parse_text(full, &ps);
        S2_ASSERT((ps.first_bad == 0) == want); /* the label is the oracle's */
        free(full);
        if (vp != NULL) s2_buf_puts(&pb, vp);
        free(vp);
        s2_buf_printf(&cb, "%s\n", want ? S2_VALUE_SURE : S2_VALUE_IMPOSSIBLE);
    }
    out->prompt = s2_buf_take(&pb);
    out->completion = s2_buf_take(&cb);
    if (out->prompt == NULL || out->completion == NULL) {
        s2_example_clear(out);
        return s2_error_set(err, S2_E_NOMEM, "arith: out of memory");
    }
    return S2_OK;
}

static char *ar_reference(const s2_task *t, int32_t i) {
    s2_buf b = {0};
    write_steps(&b, &ctx_of(t)->items[i], true, NULL);
    return s2_buf_take(&b);
}

static int32_t ar_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    const ar_item *it = &ctx_of(t)->items[i];
    long long r = (long long)it->result;
    s2_buf steps = {0};
    write_steps(&steps, it, false, NULL);
    const char *st = steps.p != NULL ? steps.p : "";
    int32_t n = 0;
#define ADD(...)                                 \
    do {                                         \
        if (n < cap) {                           \
            s2_buf b_ = {0};                     \
            s2_buf_printf(&b_, __VA_ARGS__);     \
            char *s_ = s2_buf_take(&b_);         \
            if (s_ != NULL) out[n++] = s_;       \
        }                                        \
    } while (0)
    ADD("%sAnswer: %lld\n", st, r + 1);           /* off by one */
    ADD("%sAnswer: %lld\n", st, r + 10);          /* a wrong digit */
    ADD("%sAnswer: %lld\n", st, r * 10);          /* a digit too many */
    ADD("%sAnswer: -%lld\n", st, r);              /* a sign */
    ADD("%sAnswer: %lld.5\n", st, r);             /* not a whole number */
    ADD("%sAnswer: \n", st);                      /* empty */
    ADD("%s", st);                                /* no answer */
    ADD("Answer: 99999999999999999999999999999999999999\n"); /* would overflow any integer type */
#undef ADD
    s2_buf_free(&steps);
    return n;
}

static void ar_free(s2_task *t) {
    ar_ctx *c = t->ctx;
    if (c == NULL) return;
    free(c->items);
    free(c);
}

static const struct s2_task_i ar_iface = {
    .name = "arith",
    .summary = "multi-digit addition chains and long multiplication with a written scratchpad",
    .step_delim = "\n",
    .n_items = ar_n_items,
    .item_id = ar_item_id,
    .prompt = ar_prompt,
    .is_terminal = ar_is_terminal,
    .extract = ar_extract,
    .verify = ar_verify,
    .oracle = ar_oracle,
    .value_prompt = ar_value_prompt,
    .gen_example = ar_gen_example,
    .reference = ar_reference,
    .wrong_answers = ar_wrong_answers,
    .free = ar_free,
};

s2_status s2_task_arith_init(const s2_task_params *params, s2_task **out, s2_error *err) {
    *out = NULL;
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    const char *split = p.split != NULL ? p.split : "test";
    bool test = strcmp(split, "test") == 0;
    if (!test && strcmp(split, "train") != 0)
        return s2_error_set(err, S2_E_ARG, "arith: unknown split '%s' (test, train)", split);
    if (p.data != NULL) return s2_error_set(err, S2_E_ARG, "arith: items are generated; it takes no --data");
    int d = p.difficulty > 0 ? p.difficulty : 3;
    if (d > 9) return s2_error_set(err, S2_E_ARG, "arith: difficulty %d not in [1,9] digits", d);
    int32_t want = p.n_items > 0 ? p.n_items : test ? 100 : 1000;
    if (want > 100000) return s2_error_set(err, S2_E_ARG, "arith: n_items %d > 100000", (int)want);
    if (p.n_shot > 8) return s2_error_set(err, S2_E_ARG, "arith: n_shot %d > 8", (int)p.n_shot);
    ar_ctx *c = calloc(1, sizeof *c);
    if (c != NULL) c->items = malloc((size_t)want * sizeof *c->items);
    if (c == NULL || c->items == NULL) {
        free(c);
        return s2_error_set(err, S2_E_NOMEM, "arith: out of memory");
    }
    c->digits = d;
    c->n_shot = p.n_shot < 0 ? 0 : p.n_shot;
    uint64_t rng = p.seed ^ 0x510e527fade682d1ull;
    for (int64_t tries = 0; c->n_items < want && tries < (int64_t)want * 1000; tries++) {
        ar_item it;
        gen_item(d, &rng, &it);
        if (heldout(&it) != test) continue;
        bool dup = false;
        for (int32_t k = 0; k < c->n_items && !dup; k++) dup = strcmp(c->items[k].id, it.id) == 0;
        if (!dup) c->items[c->n_items++] = it;
    }
    s2_status st = c->n_items > 0 ? S2_OK : s2_error_set(err, S2_E_ARG, "arith: no items generated");
    if (st == S2_OK) st = s2_task_new(&ar_iface, c, out, err);
    if (st != S2_OK) {
        s2_task tmp = {.iface = &ar_iface, .ctx = c};
        ar_free(&tmp);
    }
    return st;
}
