/* listprog.c: program synthesis from examples in a small language of list functions (a coding task with
 * exact, fast tests and no sandbox). A program is a pipeline of stages over one list of integers:
 *
 *     program := stage ( "|" stage )*
 *     stage   := "map" "(" expr ")"      each x becomes expr
 *              | "filter" "(" expr ")"   keeps the x where expr is not 0
 *              | "count" "(" expr ")"    how many x have expr not 0 (a number)
 *              | "sort" | "reverse"      ascending order; reversed order
 *              | "take" INT | "drop" INT the first INT elements; all but the first INT
 *              | "scan"                  running sums: [1,2,3] -> [1,3,6]
 *              | "sum" | "max" | "min"   a number (max/min of an empty list fail)
 *     expr    := cmp ; cmp := add [("=="|"!="|"<"|">"|"<="|">=") add] (1 or 0)
 *     add     := mul (("+"|"-") mul)* ; mul := unary (("*"|"/"|"%") unary)* ; unary := "-" unary | atom
 *     atom    := "x" | INT | "(" expr ")"        / and % truncate toward zero, as in C
 * Stages after one that gives a number fail ("sort needs a list"). The interpreter spends fuel (one unit per
 * expression node evaluated and per element moved; a sort costs n * ceil(log2 n)); running out of fuel,
 * int64 overflow, division by zero, a list longer than 1024, or a parse error is a failure with a reason,
 * never a crash or a hang. Values print as "[3,1,4]" or "7".
 *
 * An item is a random program (1 to difficulty stages, default 3) with 4 public examples in the prompt and
 * 6 hidden tests for the reward (the fraction passed; correct when all pass):
 *     [3,8,1,6] -> [24,18]
 *     ... (four lines)
 *     Program:
 * then the model writes one stage per line and the whole pipeline on the Answer line:
 *     filter (x>2)
 *     map (x*3)
 *     sort
 *     Answer: filter (x>2) | map (x*3) | sort
 * Without an Answer line the stage lines themselves are the program. The value model reads "Value:\n" + the
 * example lines + "Program:\n" + the stage lines so far, and answers "sure\n" or "impossible\n".
 * Ids are the programs' texts; a program is held out when s2_hash_str(id) % 10 == 0 (split "test", the
 * default, holds those; "train" the others; gen_example never draws a held-out program). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_impl.h"

#define LP_MAX_LIST 1024
#define LP_MAX_NODES 64
#define LP_MAX_STAGES 16
#define LP_FUEL 100000
#define LP_N_PUBLIC 4
#define LP_N_HIDDEN 6
#define LP_N_TESTS (LP_N_PUBLIC + LP_N_HIDDEN)
#define LP_MAX_IN 10

/* ---- programs ---- */

typedef enum lp_op { LP_MAP, LP_FILTER, LP_COUNT, LP_SORT, LP_REVERSE, LP_TAKE, LP_DROP, LP_SCAN, LP_SUM, LP_MAX,
                     LP_MIN } lp_op;
static const char *const lp_names[] = {"map", "filter", "count", "sort", "reverse", "take", "drop", "scan",
                                       "sum", "max", "min"};

typedef struct lp_node {
    char kind;          /* 'x', 'n' (number), 'u' (negation), or the operator: + - * / % = ! < > l (<=) g (>=) */
    int64_t v;          /* 'n' */
    int a, b;           /* children (node indices) */
} lp_node;

typedef struct lp_stage {
    lp_op op;
    int64_t n;                  /* take / drop */
    lp_node node[LP_MAX_NODES];  /* map / filter / count: the expression, root at node[root] */
    int n_nodes, root;
} lp_stage;

typedef struct lp_prog {
    lp_stage stage[LP_MAX_STAGES];
    int n;
} lp_prog;

typedef struct lp_parser {
    const char *p, *end;
    lp_stage *st;
    int depth;
    char *reason;
    size_t rcap;
} lp_parser;

static void lp_sp(lp_parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')) ps->p++;
}

static int lp_fail(lp_parser *ps, const char *what) {
    size_t n = (size_t)(ps->end - ps->p);
    snprintf(ps->reason, ps->rcap, "parse error: %s at '%.*s'", what, (int)(n > 20 ? 20 : n), ps->p);
    return -1;
}

static int lp_new(lp_parser *ps, char kind, int64_t v, int a, int b) {
    if (ps->st->n_nodes >= LP_MAX_NODES) return lp_fail(ps, "expression too long");
    lp_node *nd = &ps->st->node[ps->st->n_nodes];
    nd->kind = kind;
    nd->v = v;
    nd->a = a;
    nd->b = b;
    return ps->st->n_nodes++;
}

static bool lp_int(lp_parser *ps, int64_t *v) {
    lp_sp(ps);
    const char *s = ps->p;
    int64_t x = 0;
    int n = 0;
    while (s < ps->end && *s >= '0' && *s <= '9') {
        if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *s - '0', &x)) return false;
        s++;
        n++;
    }
    if (n == 0) return false;
    ps->p = s;
    *v = x;
    return true;
}

static int lp_expr(lp_parser *ps);

static int lp_atom(lp_parser *ps) {
    lp_sp(ps);
    if (ps->p >= ps->end) return lp_fail(ps, "expected x, a number or '('");
    if (*ps->p == 'x') {
        ps->p++;
        return lp_new(ps, 'x', 0, -1, -1);
    }
    if (*ps->p == '(') {
        if (++ps->depth > 16) return lp_fail(ps, "nested too deeply");
        ps->p++;
        int e = lp_expr(ps);
        if (e < 0) return e;
        lp_sp(ps);
        if (ps->p >= ps->end || *ps->p != ')') return lp_fail(ps, "expected ')'");
        ps->p++;
        ps->depth--;
        return e;
    }
    if (*ps->p == '-') {
        if (++ps->depth > 16) return lp_fail(ps, "nested too deeply");
        ps->p++;
        int a = lp_atom(ps);
        ps->depth--;
        return a < 0 ? a : lp_new(ps, 'u', 0, a, -1);
    }
    int64_t v;
    if (!lp_int(ps, &v)) return lp_fail(ps, "expected x, a number or '('");
    return lp_new(ps, 'n', v, -1, -1);
}

static int lp_mul(lp_parser *ps) {
    int a = lp_atom(ps);
    for (;;) {
        if (a < 0) return a;
        lp_sp(ps);
        if (ps->p >= ps->end || (*ps->p != '*' && *ps->p != '/' && *ps->p != '%')) return a;
        char op = *ps->p++;
        int b = lp_atom(ps);
        if (b < 0) return b;
        a = lp_new(ps, op, 0, a, b);
    }
}

static int lp_add(lp_parser *ps) {
    int a = lp_mul(ps);
    for (;;) {
        if (a < 0) return a;
        lp_sp(ps);
        if (ps->p >= ps->end || (*ps->p != '+' && *ps->p != '-')) return a;
        char op = *ps->p++;
        int b = lp_mul(ps);
        if (b < 0) return b;
        a = lp_new(ps, op, 0, a, b);
    }
}

static int lp_expr(lp_parser *ps) {
    int a = lp_add(ps);
    if (a < 0) return a;
    lp_sp(ps);
    size_t left = (size_t)(ps->end - ps->p);
    char kind = 0;
    int len = 0;
    if (left >= 2 && strncmp(ps->p, "==", 2) == 0) kind = '=', len = 2;
    else if (left >= 2 && strncmp(ps->p, "!=", 2) == 0) kind = '!', len = 2;
    else if (left >= 2 && strncmp(ps->p, "<=", 2) == 0) kind = 'l', len = 2;
    else if (left >= 2 && strncmp(ps->p, ">=", 2) == 0) kind = 'g', len = 2;
    else if (left >= 1 && *ps->p == '<') kind = '<', len = 1;
    else if (left >= 1 && *ps->p == '>') kind = '>', len = 1;
    if (kind == 0) return a;
    ps->p += len;
    int b = lp_add(ps);
    return b < 0 ? b : lp_new(ps, kind, 0, a, b);
}

/* Parses one stage from [s, end) (the whole range). */
static bool lp_parse_stage(const char *s, const char *end, lp_stage *st, char *reason, size_t rcap) {
    lp_parser ps = {.p = s, .end = end, .st = st, .reason = reason, .rcap = rcap};
    memset(st, 0, sizeof *st);
    lp_sp(&ps);
    const char *w = ps.p;
    while (ps.p < end && *ps.p >= 'a' && *ps.p <= 'z') ps.p++;
    size_t wl = (size_t)(ps.p - w);
    int op = -1;
    for (int k = 0; k < (int)(sizeof lp_names / sizeof lp_names[0]); k++)
        if (strlen(lp_names[k]) == wl && strncmp(w, lp_names[k], wl) == 0) op = k;
    if (op < 0) {
        snprintf(reason, rcap, "parse error: unknown stage '%.*s'", (int)(wl > 20 ? 20 : wl), w);
        return false;
    }
    st->op = (lp_op)op;
    if (op == LP_MAP || op == LP_FILTER || op == LP_COUNT) {
        lp_sp(&ps);
        if (ps.p >= end || *ps.p != '(') return lp_fail(&ps, "expected '('") >= 0;
        ps.p++;
        st->root = lp_expr(&ps);
        if (st->root < 0) return false;
        lp_sp(&ps);
        if (ps.p >= end || *ps.p != ')') return lp_fail(&ps, "expected ')'") >= 0;
        ps.p++;
    } else if (op == LP_TAKE || op == LP_DROP) {
        if (!lp_int(&ps, &st->n)) return lp_fail(&ps, "expected a count") >= 0;
    }
    lp_sp(&ps);
    if (ps.p != end) return lp_fail(&ps, "unexpected text") >= 0;
    return true;
}

static bool lp_parse(const char *s, lp_prog *prog, char *reason, size_t rcap) {
    prog->n = 0;
    const char *end = s + strlen(s);
    if (s == end) {
        snprintf(reason, rcap, "parse error: empty program");
        return false;
    }
    while (s <= end) {
        const char *bar = memchr(s, '|', (size_t)(end - s));
        const char *e = bar != NULL ? bar : end;
        if (prog->n >= LP_MAX_STAGES) {
            snprintf(reason, rcap, "parse error: more than %d stages", LP_MAX_STAGES);
            return false;
        }
        if (!lp_parse_stage(s, e, &prog->stage[prog->n], reason, rcap)) return false;
        prog->n++;
        if (bar == NULL) break;
        s = bar + 1;
    }
    return true;
}

/* ---- the interpreter ---- */

typedef struct lp_val {
    bool is_list;
    int64_t n;                  /* a number, or the list's length */
    int64_t v[LP_MAX_LIST];
} lp_val;

typedef struct lp_run {
    int64_t fuel;
    char *reason;
    size_t rcap;
} lp_run;

static bool run_fail(lp_run *r, const char *msg) {
    snprintf(r->reason, r->rcap, "%s", msg);
    return false;
}

static bool lp_eval(const lp_stage *st, int k, int64_t x, lp_run *r, int64_t *out) {
    if (--r->fuel < 0) return run_fail(r, "out of fuel");
    const lp_node *nd = &st->node[k];
    int64_t a, b;
    switch (nd->kind) {
    case 'x': *out = x; return true;
    case 'n': *out = nd->v; return true;
    case 'u':
        if (!lp_eval(st, nd->a, x, r, &a)) return false;
        if (a == INT64_MIN) return run_fail(r, "overflow");
        *out = -a;
        return true;
    default: break;
    }
    if (!lp_eval(st, nd->a, x, r, &a) || !lp_eval(st, nd->b, x, r, &b)) return false;
    switch (nd->kind) {
    case '+': if (__builtin_add_overflow(a, b, out)) return run_fail(r, "overflow"); return true;
    case '-': if (__builtin_sub_overflow(a, b, out)) return run_fail(r, "overflow"); return true;
    case '*': if (__builtin_mul_overflow(a, b, out)) return run_fail(r, "overflow"); return true;
    case '/':
    case '%':
        if (b == 0) return run_fail(r, "division by zero");
        if (a == INT64_MIN && b == -1) return run_fail(r, "overflow");
        *out = nd->kind == '/' ? a / b : a % b;
        return true;
    case '=': *out = a == b; return true;
    case '!': *out = a != b; return true;
    case '<': *out = a < b; return true;
    case '>': *out = a > b; return true;
    case 'l': *out = a <= b; return true;
    case 'g': *out = a >= b; return true;
    default: return run_fail(r, "bad expression");
    }
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool lp_apply(const lp_stage *st, lp_val *v, lp_run *r) {
    if (!v->is_list) {
        snprintf(r->reason, r->rcap, "%s needs a list, got a number", lp_names[st->op]);
        return false;
    }
    int64_t n = v->n, m = 0, acc = 0;
    r->fuel -= n;
    if (r->fuel < 0) return run_fail(r, "out of fuel");
    switch (st->op) {
    case LP_MAP:
        for (int64_t k = 0; k < n; k++)
            if (!lp_eval(st, st->root, v->v[k], r, &v->v[k])) return false;
        return true;
    case LP_FILTER:
    case LP_COUNT:
        for (int64_t k = 0; k < n; k++) {
            int64_t keep;
            if (!lp_eval(st, st->root, v->v[k], r, &keep)) return false;
            if (keep != 0) v->v[m++] = v->v[k];
        }
        v->n = m;
        if (st->op == LP_COUNT) v->is_list = false;
        return true;
    case LP_SORT: {
        int64_t lg = 1;
        while ((1ll << lg) < n) lg++;
        r->fuel -= n * lg;
        if (r->fuel < 0) return run_fail(r, "out of fuel");
        qsort(v->v, (size_t)n, sizeof v->v[0], cmp_i64);
        return true;
    }
    case LP_REVERSE:
        for (int64_t k = 0; k < n / 2; k++) {
            int64_t t = v->v[k];
            v->v[k] = v->v[n - 1 - k];
            v->v[n - 1 - k] = t;
        }
        return true;
    case LP_TAKE:
        if (st->n < n) v->n = st->n;
        return true;
    case LP_DROP:
        if (st->n >= n) v->n = 0;
        else {
            memmove(v->v, v->v + st->n, (size_t)(n - st->n) * sizeof v->v[0]);
            v->n = n - st->n;
        }
        return true;
    case LP_SCAN:
        for (int64_t k = 0; k < n; k++) {
            if (__builtin_add_overflow(acc, v->v[k], &acc)) return run_fail(r, "overflow");
            v->v[k] = acc;
        }
        return true;
    case LP_SUM:
        for (int64_t k = 0; k < n; k++)
            if (__builtin_add_overflow(acc, v->v[k], &acc)) return run_fail(r, "overflow");
        v->is_list = false;
        v->n = acc;
        return true;
    case LP_MAX:
    case LP_MIN:
        if (n == 0) {
            snprintf(r->reason, r->rcap, "%s of an empty list", lp_names[st->op]);
            return false;
        }
        acc = v->v[0];
        for (int64_t k = 1; k < n; k++)
            if (st->op == LP_MAX ? v->v[k] > acc : v->v[k] < acc) acc = v->v[k];
        v->is_list = false;
        v->n = acc;
        return true;
    }
    return run_fail(r, "bad stage");
}

static void lp_format(const lp_val *v, char *out, size_t cap) {
    if (!v->is_list) {
        snprintf(out, cap, "%lld", (long long)v->n);
        return;
    }
    size_t len = 0;
    len += (size_t)snprintf(out, cap, "[");
    for (int64_t k = 0; k < v->n && len < cap; k++)
        len += (size_t)snprintf(out + len, cap - len, "%s%lld", k ? "," : "", (long long)v->v[k]);
    if (len < cap) snprintf(out + len, cap - len, "]");
}

/* Runs a parsed program on in[0..n_in). */
static bool lp_exec(const lp_prog *prog, const int64_t *in, int n_in, int64_t fuel, char *out, size_t cap,
                    char *reason, size_t rcap) {
    lp_val *v = malloc(sizeof *v);
    if (v == NULL) {
        snprintf(reason, rcap, "out of memory");
        return false;
    }
    v->is_list = true;
    v->n = n_in;
    memcpy(v->v, in, (size_t)n_in * sizeof in[0]);
    lp_run r = {.fuel = fuel, .reason = reason, .rcap = rcap};
    bool ok = true;
    for (int k = 0; k < prog->n && ok; k++) ok = lp_apply(&prog->stage[k], v, &r);
    if (ok) lp_format(v, out, cap);
    free(v);
    return ok;
}

bool s2_listprog_run(const char *program, const int64_t *in, int n_in, int64_t fuel, char *out, size_t cap,
                     char *reason, size_t rcap) {
    if (n_in < 0 || n_in > LP_MAX_LIST) {
        snprintf(reason, rcap, "input longer than %d", LP_MAX_LIST);
        return false;
    }
    lp_prog *prog = malloc(sizeof *prog);
    if (prog == NULL) {
        snprintf(reason, rcap, "out of memory");
        return false;
    }
    bool ok = lp_parse(program, prog, reason, rcap) && lp_exec(prog, in, n_in, fuel, out, cap, reason, rcap);
    free(prog);
    return ok;
}

/* ---- items ---- */

typedef struct lp_item {
    char prog[160];
    int n_in[LP_N_TESTS];
    int64_t in[LP_N_TESTS][LP_MAX_IN];
    char want[LP_N_TESTS][96];
    char *id;                       /* = prog */
} lp_item;

typedef struct lp_ctx {
    lp_item *items;
    int32_t n_items;
    int max_stages;
    int32_t n_shot;
} lp_ctx;

static const lp_ctx *ctx_of(const s2_task *t) { return t->ctx; }

static const char *const maps[] = {"x+1", "x+2", "x+3", "x-1", "x*2", "x*3", "x*x", "x%3", "x/2", "x%10", "10-x"};
static const char *const preds[] = {"x>2", "x>5", "x<5", "x%2==0", "x%2==1", "x%3==0", "x!=0", "x<=4"};

static void rand_stage(uint64_t *rng, bool last, char *out, size_t cap) {
    int kinds = last ? 12 : 8;
    switch (s2_task_rng_below(rng, (uint64_t)kinds)) {
    case 0:
    case 1: snprintf(out, cap, "map (%s)", maps[s2_task_rng_below(rng, sizeof maps / sizeof maps[0])]); break;
    case 2:
    case 3: snprintf(out, cap, "filter (%s)", preds[s2_task_rng_below(rng, sizeof preds / sizeof preds[0])]); break;
    case 4: snprintf(out, cap, "%s", s2_task_rng_below(rng, 2) ? "sort" : "reverse"); break;
    case 5: snprintf(out, cap, "take %d", 2 + (int)s2_task_rng_below(rng, 3)); break;
    case 6: snprintf(out, cap, "drop %d", 1 + (int)s2_task_rng_below(rng, 2)); break;
    case 7: snprintf(out, cap, "scan"); break;
    case 8: snprintf(out, cap, "sum"); break;
    case 9: snprintf(out, cap, "%s", s2_task_rng_below(rng, 2) ? "max" : "min"); break;
    default: snprintf(out, cap, "count (%s)", preds[s2_task_rng_below(rng, sizeof preds / sizeof preds[0])]); break;
    }
}

/* A random program whose tests all run, with at least three distinct public outputs, two of which differ from
 * their inputs (so that the examples say something). */
static void gen_item(int max_stages, uint64_t *rng, lp_item *it) {
    for (;;) {
        memset(it, 0, sizeof *it);
        int ns = 1 + (int)s2_task_rng_below(rng, (uint64_t)max_stages);
        size_t len = 0;
        for (int k = 0; k < ns; k++) {
            char st[48];
            rand_stage(rng, k == ns - 1, st, sizeof st);
            len += (size_t)snprintf(it->prog + len, sizeof it->prog - len, "%s%s", k ? " | " : "", st);
        }
        bool ok = true;
        int changed = 0;
        for (int tc = 0; tc < LP_N_TESTS && ok; tc++) {
            it->n_in[tc] = 3 + (int)s2_task_rng_below(rng, 6);
            for (int k = 0; k < it->n_in[tc]; k++) it->in[tc][k] = (int64_t)s2_task_rng_below(rng, 10);
            char reason[128], in_s[96];
            ok = s2_listprog_run(it->prog, it->in[tc], it->n_in[tc], LP_FUEL, it->want[tc], sizeof it->want[tc],
                                 reason, sizeof reason);
            lp_val tmp = {.is_list = true, .n = it->n_in[tc]};
            memcpy(tmp.v, it->in[tc], (size_t)it->n_in[tc] * sizeof tmp.v[0]);
            lp_format(&tmp, in_s, sizeof in_s);
            if (ok && tc < LP_N_PUBLIC && strcmp(in_s, it->want[tc]) != 0) changed++;
        }
        int distinct = 0;
        for (int a = 0; a < LP_N_PUBLIC; a++) {
            bool seen = false;
            for (int b = 0; b < a && !seen; b++) seen = strcmp(it->want[a], it->want[b]) == 0;
            distinct += !seen;
        }
        if (ok && changed >= 2 && distinct >= 3) return;
    }
}

static bool heldout_prog(const char *prog) { return s2_hash_str(prog) % 10 == 0; }

static void write_examples(s2_buf *b, const lp_item *it) {
    for (int tc = 0; tc < LP_N_PUBLIC; tc++) {
        s2_buf_puts(b, "[");
        for (int k = 0; k < it->n_in[tc]; k++) s2_buf_printf(b, "%s%lld", k ? "," : "", (long long)it->in[tc][k]);
        s2_buf_printf(b, "] -> %s\n", it->want[tc]);
    }
    s2_buf_puts(b, "Program:\n");
}

/* One stage per line, then (answer) the Answer line. */
static void write_solution(s2_buf *b, const char *prog, bool answer) {
    for (const char *s = prog; *s;) {
        const char *bar = strchr(s, '|');
        const char *e = bar != NULL ? bar : s + strlen(s);
        while (*s == ' ') s++;
        const char *t = e;
        while (t > s && t[-1] == ' ') t--;
        s2_buf_append(b, s, (size_t)(t - s));
        s2_buf_puts(b, "\n");
        s = bar != NULL ? bar + 1 : e;
    }
    if (answer) s2_buf_printf(b, "Answer: %s\n", prog);
}

typedef struct lp_text {
    int n_steps;
    bool has_answer;
    char program[512];   /* the Answer line, or the stage lines joined by " | " */
    bool too_long;
    int first_bad;       /* 1-based stage line that does not parse, 0 if none */
    char reason[160];
} lp_text;

static void parse_text(const char *text, lp_text *out) {
    memset(out, 0, sizeof *out);
    s2_buf joined = {0};
    const char *line = text != NULL ? text : "";
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        const char *end = nl != NULL ? nl : line + strlen(line);
        const char *ls = line;
        line = nl != NULL ? nl + 1 : end;
        while (ls < end && (*ls == ' ' || *ls == '\t')) ls++;
        const char *le = end;
        while (le > ls && (le[-1] == ' ' || le[-1] == '\r' || le[-1] == '\t')) le--;
        if (ls == le) continue;
        if ((size_t)(le - ls) >= 7 && strncmp(ls, "Answer:", 7) == 0) {
            const char *a = ls + 7;
            while (a < le && *a == ' ') a++;
            size_t n = (size_t)(le - a);
            if (n >= sizeof out->program) {
                out->too_long = true;
                n = sizeof out->program - 1;
            }
            memcpy(out->program, a, n);
            out->program[n] = '\0';
            out->has_answer = true;
            s2_buf_free(&joined);
            return;
        }
        out->n_steps++;
        if (out->first_bad == 0) {
            lp_stage *st = malloc(sizeof *st);
            char why[128];
            if (st == NULL || !lp_parse_stage(ls, le, st, why, sizeof why)) {
                out->first_bad = out->n_steps;
                snprintf(out->reason, sizeof out->reason, "stage %d: %s", out->n_steps, st ? why : "out of memory");
            }
            free(st);
        }
        if (joined.n > 0) s2_buf_puts(&joined, " | ");
        s2_buf_append(&joined, ls, (size_t)(le - ls));
    }
    if (joined.p != NULL) {
        if (joined.n >= sizeof out->program) out->too_long = true;
        snprintf(out->program, sizeof out->program, "%s", joined.p);
    }
    s2_buf_free(&joined);
}

/* Runs program on tests [from, to) of it: how many pass; the first failure's reason into reason. */
static int run_tests(const lp_item *it, const char *program, int from, int to, char *reason, size_t rcap) {
    lp_prog *prog = malloc(sizeof *prog);
    if (prog == NULL) {
        snprintf(reason, rcap, "out of memory");
        return 0;
    }
    int pass = 0;
    reason[0] = '\0';
    if (!lp_parse(program, prog, reason, rcap)) {
        free(prog);
        return 0;
    }
    for (int tc = from; tc < to; tc++) {
        char got[4096], why[128];
        if (!lp_exec(prog, it->in[tc], it->n_in[tc], LP_FUEL, got, sizeof got, why, sizeof why)) {
            if (reason[0] == '\0') snprintf(reason, rcap, "test %d: %s", tc - from + 1, why);
        } else if (strcmp(got, it->want[tc]) != 0) {
            if (reason[0] == '\0')
                snprintf(reason, rcap, "test %d: got %.60s, want %.60s", tc - from + 1, got, it->want[tc]);
        } else pass++;
    }
    free(prog);
    return pass;
}

double s2_listprog_public_pass(const s2_task *t, int32_t i, const char *text) {
    const lp_ctx *c = ctx_of(t);
    if (i < 0 || i >= c->n_items) return 0;
    lp_text tx;
    parse_text(text, &tx);
    if (tx.program[0] == '\0' || tx.too_long) return 0;
    char reason[200];
    return run_tests(&c->items[i], tx.program, 0, LP_N_PUBLIC, reason, sizeof reason) / (double)LP_N_PUBLIC;
}

/* ---- the interface ---- */

static int32_t lp_n_items(const s2_task *t) { return ctx_of(t)->n_items; }
static const char *lp_item_id(const s2_task *t, int32_t i) { return ctx_of(t)->items[i].prog; }

static char *lp_prompt(const s2_task *t, int32_t i) {
    const lp_ctx *c = ctx_of(t);
    s2_buf b = {0};
    uint64_t rng = 0x11570001ull; /* worked examples: fixed training programs */
    for (int32_t k = 0; k < c->n_shot;) {
        lp_item ex;
        gen_item(c->max_stages, &rng, &ex);
        if (heldout_prog(ex.prog)) continue;
        write_examples(&b, &ex);
        write_solution(&b, ex.prog, true);
        s2_buf_puts(&b, "\n");
        k++;
    }
    write_examples(&b, &c->items[i]);
    return s2_buf_take(&b);
}

static bool lp_is_terminal(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    lp_text tx;
    parse_text(text, &tx);
    return tx.has_answer || tx.n_steps >= LP_MAX_STAGES;
}

static char *lp_extract(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    lp_text tx;
    parse_text(text, &tx);
    return tx.program[0] != '\0' ? s2_strdup(tx.program) : NULL;
}

static s2_status lp_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    (void)err;
    const lp_item *it = &ctx_of(t)->items[i];
    lp_text tx;
    parse_text(text, &tx);
    if (tx.program[0] == '\0') {
        s2_verdict_set(out, 0, "no program");
        return S2_OK;
    }
    out->answer = s2_strdup(tx.program);
    if (tx.too_long) {
        s2_verdict_set(out, 0, "program longer than %d characters", (int)sizeof tx.program - 1);
        return S2_OK;
    }
    char reason[200];
    int pass = run_tests(it, tx.program, LP_N_PUBLIC, LP_N_TESTS, reason, sizeof reason);
    if (pass == LP_N_HIDDEN) s2_verdict_set(out, 1, "ok (%d/%d hidden tests)", pass, LP_N_HIDDEN);
    else s2_verdict_set(out, (double)pass / LP_N_HIDDEN, "%d/%d hidden tests: %s", pass, LP_N_HIDDEN, reason);
    return S2_OK;
}

static s2_oracle lp_oracle(const s2_task *t, int32_t i, const char *text) {
    const lp_item *it = &ctx_of(t)->items[i];
    lp_text tx;
    parse_text(text, &tx);
    if (tx.first_bad != 0 && !tx.has_answer) return S2_ORACLE_DEAD;
    if (tx.has_answer) {
        char reason[200];
        if (tx.too_long) return S2_ORACLE_DEAD;
        return run_tests(it, tx.program, LP_N_PUBLIC, LP_N_TESTS, reason, sizeof reason) == LP_N_HIDDEN
                   ? S2_ORACLE_SOLVABLE
                   : S2_ORACLE_DEAD;
    }
    /* stage lines that begin the generating program can be finished correctly; other prefixes may or may not */
    size_t n = strlen(tx.program);
    if (n == 0) return S2_ORACLE_SOLVABLE;
    if (strncmp(it->prog, tx.program, n) == 0 && (it->prog[n] == '\0' || it->prog[n] == ' '))
        return S2_ORACLE_SOLVABLE;
    return S2_ORACLE_UNKNOWN;
}

static char *value_prompt_of(const lp_item *it, const char *text) {
    s2_buf b = {0};
    s2_buf_puts(&b, "Value:\n");
    write_examples(&b, it);
    lp_text tx;
    parse_text(text, &tx);
    if (text != NULL && tx.n_steps > 0) {
        s2_buf_puts(&b, text);
        if (b.n > 0 && b.p[b.n - 1] != '\n') s2_buf_puts(&b, "\n");
    }
    return s2_buf_take(&b);
}

static char *lp_value_prompt(const s2_task *t, int32_t i, const char *text) {
    return value_prompt_of(&ctx_of(t)->items[i], text);
}

static s2_status lp_gen_example(const s2_task *t, s2_role role, uint64_t seed, s2_example *out, s2_error *err) {
    const lp_ctx *c = ctx_of(t);
    out->prompt = out->completion = NULL;
    uint64_t rng = seed ^ 0x9b05688c2b3e6c1full;
    lp_item *it = malloc(sizeof *it);
    if (it == NULL) return s2_error_set(err, S2_E_NOMEM, "listprog: out of memory");
    do gen_item(c->max_stages, &rng, it);
    while (heldout_prog(it->prog));
    s2_buf pb = {0}, cb = {0};
    if (role == S2_ROLE_LEGAL) return s2_error_set(err, S2_E_UNSUPPORTED, "listprog: no rules-only (legal play) examples");
    if (role == S2_ROLE_POLICY) {
        write_examples(&pb, it);
        write_solution(&cb, it->prog, true);
    } else {
        /* sure: a prefix of the generating program's stages (the oracle says SOLVABLE); impossible: a whole
         * program with one stage replaced that fails a hidden test (the oracle says DEAD) */
        bool want = s2_task_rng_below(&rng, 2) == 1;
        s2_buf steps = {0};
        if (want) {
            write_solution(&steps, it->prog, false);
            int n = 0;
            for (size_t k = 0; k < steps.n; k++) n += steps.p[k] == '\n';
            int keep = (int)s2_task_rng_below(&rng, (uint64_t)n + 1);
            if (keep == n) { /* the whole program, with its Answer line */
                s2_buf_free(&steps);
                write_solution(&steps, it->prog, true);
            } else {
                size_t cut = 0;
                for (int j = 0; j < keep; j++) cut = (size_t)(strchr(steps.p + cut, '\n') - steps.p) + 1;
                steps.p[cut] = '\0';
                steps.n = cut;
            }
        } else {
            for (;;) {
                char stages[LP_MAX_STAGES][64], prog[sizeof it->prog];
                int ns = 0;
                for (const char *s = it->prog; *s && ns < LP_MAX_STAGES;) {
                    const char *bar = strchr(s, '|');
                    size_t len = bar != NULL ? (size_t)(bar - s) : strlen(s);
                    while (len > 0 && s[len - 1] == ' ') len--;
                    while (*s == ' ') s++, len--;
                    snprintf(stages[ns++], sizeof stages[0], "%.*s", (int)len, s);
                    s = bar != NULL ? bar + 1 : s + strlen(s);
                }
                int k = (int)s2_task_rng_below(&rng, (uint64_t)ns);
                rand_stage(&rng, k == ns - 1, stages[k], sizeof stages[k]);
                size_t len = 0;
                for (int j = 0; j < ns; j++)
                    len += (size_t)snprintf(prog + len, sizeof prog - len, "%s%s", j ? " | " : "", stages[j]);
                char why[200];
                if (run_tests(it, prog, LP_N_PUBLIC, LP_N_TESTS, why, sizeof why) == LP_N_HIDDEN) continue;
                write_solution(&steps, prog, true);
                break;
            }
        }
        char *vp = value_prompt_of(it, steps.p != NULL ? steps.p : "");
        S2_ASSERT(want || lp_oracle(&(s2_task){.ctx = &(lp_ctx){.items = it, .n_items = 1}}, 0, steps.p) ==
                              S2_ORACLE_DEAD);
        s2_buf_free(&steps);
        if (vp != NULL) s2_buf_puts(&pb, vp);
        free(vp);
        s2_buf_printf(&cb, "%s\n", want ? S2_VALUE_SURE : S2_VALUE_IMPOSSIBLE);
    }
    free(it);
    out->prompt = s2_buf_take(&pb);
    out->completion = s2_buf_take(&cb);
    if (out->prompt == NULL || out->completion == NULL) {
        s2_example_clear(out);
        return s2_error_set(err, S2_E_NOMEM, "listprog: out of memory");
    }
    return S2_OK;
}

static char *lp_reference(const s2_task *t, int32_t i) {
    s2_buf b = {0};
    write_solution(&b, ctx_of(t)->items[i].prog, true);
    return s2_buf_take(&b);
}

static int32_t lp_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    const lp_item *it = &ctx_of(t)->items[i];
    int32_t n = 0;
    const char *cands[] = {"sort | reverse", "map (x+1)", "sum", "reverse", "filter (x>100)", "scan | scan"};
    char why[200];
    /* programs that fail at least one hidden test (checked here, since one might happen to be right) */
    for (size_t k = 0; k < sizeof cands / sizeof cands[0] && n < cap; k++) {
        char prog[400];
        snprintf(prog, sizeof prog, "%s | %s", it->prog, cands[k]);
        if (run_tests(it, prog, LP_N_PUBLIC, LP_N_TESTS, why, sizeof why) == LP_N_HIDDEN) continue;
        s2_buf b = {0};
        s2_buf_printf(&b, "Answer: %s\n", prog);
        if ((out[n] = s2_buf_take(&b)) != NULL) n++;
    }
    const char *bad[] = {"Answer: map (x+\n", "Answer: frobnicate\n", "Answer: \n", "", "Answer: map (x/0)\n",
                         "Answer: map (x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x)\n"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0] && n < cap; k++) {
        if (run_tests(it, bad[k][0] ? bad[k] + 8 : "", LP_N_PUBLIC, LP_N_TESTS, why, sizeof why) == LP_N_HIDDEN)
            continue;
        if ((out[n] = s2_strdup(bad[k])) != NULL) n++;
    }
    return n;
}

static void lp_free(s2_task *t) {
    lp_ctx *c = t->ctx;
    if (c == NULL) return;
    free(c->items);
    free(c);
}

static const struct s2_task_i lp_iface = {
    .name = "listprog",
    .summary = "write a list-function pipeline (map/filter/sort/...) from input/output examples",
    .step_delim = "\n",
    .n_items = lp_n_items,
    .item_id = lp_item_id,
    .prompt = lp_prompt,
    .is_terminal = lp_is_terminal,
    .extract = lp_extract,
    .verify = lp_verify,
    .oracle = lp_oracle,
    .value_prompt = lp_value_prompt,
    .gen_example = lp_gen_example,
    .reference = lp_reference,
    .wrong_answers = lp_wrong_answers,
    .free = lp_free,
};

s2_status s2_task_listprog_init(const s2_task_params *params, s2_task **out, s2_error *err) {
    *out = NULL;
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    const char *split = p.split != NULL ? p.split : "test";
    bool test = strcmp(split, "test") == 0;
    if (!test && strcmp(split, "train") != 0)
        return s2_error_set(err, S2_E_ARG, "listprog: unknown split '%s' (test, train)", split);
    if (p.data != NULL) return s2_error_set(err, S2_E_ARG, "listprog: items are generated; it takes no --data");
    int d = p.difficulty > 0 ? p.difficulty : 3;
    if (d > 6) return s2_error_set(err, S2_E_ARG, "listprog: difficulty %d not in [1,6] stages", d);
    int32_t want = p.n_items > 0 ? p.n_items : test ? 100 : 1000;
    if (want > 20000) return s2_error_set(err, S2_E_ARG, "listprog: n_items %d > 20000", (int)want);
    if (p.n_shot > 4) return s2_error_set(err, S2_E_ARG, "listprog: n_shot %d > 4", (int)p.n_shot);
    lp_ctx *c = calloc(1, sizeof *c);
    if (c != NULL) c->items = malloc((size_t)want * sizeof *c->items);
    if (c == NULL || c->items == NULL) {
        free(c);
        return s2_error_set(err, S2_E_NOMEM, "listprog: out of memory");
    }
    c->max_stages = d;
    c->n_shot = p.n_shot < 0 ? 0 : p.n_shot;
    uint64_t rng = p.seed ^ 0x1f83d9abfb41bd6bull;
    for (int64_t tries = 0; c->n_items < want && tries < (int64_t)want * 200; tries++) {
        lp_item *it = &c->items[c->n_items];
        gen_item(d, &rng, it);
        if (heldout_prog(it->prog) != test) continue;
        bool dup = false;
        for (int32_t k = 0; k < c->n_items && !dup; k++) dup = strcmp(c->items[k].prog, it->prog) == 0;
        if (!dup) c->n_items++;
    }
    s2_status st = c->n_items > 0 ? S2_OK : s2_error_set(err, S2_E_ARG, "listprog: no items generated");
    if (st == S2_OK) st = s2_task_new(&lp_iface, c, out, err);
    if (st != S2_OK) {
        s2_task tmp = {.iface = &lp_iface, .ctx = c};
        lp_free(&tmp);
    }
    return st;
}
