/* numgame.c: the number-game engine of numgame.h (steps, answers, exact solver, solution paths). Every value is
 * an exact rational (rational.h); a malformed or hostile text gives a reason, never a crash. No global state. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numgame.h"

/* ---- states ---- */

static int rat_cmp_qsort(const void *a, const void *b) { return s2_rat_cmp(*(const s2_rat *)a, *(const s2_rat *)b); }

void s2_ng_state_sort(s2_ng_state *s) { qsort(s->v, (size_t)s->n, sizeof s->v[0], rat_cmp_qsort); }

void s2_ng_state_ints(s2_ng_state *s, const int64_t *v, int n) {
    s->n = n;
    for (int i = 0; i < n; i++) s->v[i] = s2_rat_int(v[i]);
    s2_ng_state_sort(s);
}

void s2_ng_write_numbers(s2_buf *b, const s2_ng_state *s) {
    s2_ng_state t = *s;
    s2_ng_state_sort(&t);
    char num[64];
    for (int i = 0; i < t.n; i++) s2_buf_printf(b, "%s%s", i ? " " : "", s2_rat_str(t.v[i], num, sizeof num));
}

static void numbers_str(const s2_ng_state *s, char *buf, size_t cap) {
    s2_buf b = {0};
    s2_ng_write_numbers(&b, s);
    snprintf(buf, cap, "%s", b.p != NULL ? b.p : "");
    s2_buf_free(&b);
}

/* Index of value x in s, or -1. */
static int state_find(const s2_ng_state *s, s2_rat x) {
    for (int i = 0; i < s->n; i++)
        if (s2_rat_eq(s->v[i], x)) return i;
    return -1;
}

static void state_remove(s2_ng_state *s, int i) {
    for (int j = i; j + 1 < s->n; j++) s->v[j] = s->v[j + 1];
    s->n--;
}

static bool multiset_eq(const s2_rat *a, int na, const s2_rat *b, int nb) {
    if (na != nb || na > S2_NG_MAX * 2) return false;
    bool used[S2_NG_MAX * 2] = {0};
    for (int i = 0; i < na; i++) {
        int j = 0;
        while (j < nb && (used[j] || !s2_rat_eq(a[i], b[j]))) j++;
        if (j == nb) return false;
        used[j] = true;
    }
    return true;
}

/* A result allowed under r (pos_int: a positive integer). */
static bool result_ok(const s2_ng_rules *r, s2_rat c) { return !r->pos_int || (c.den == 1 && c.num > 0); }

/* snprintf through a wrapper: a reason may be truncated, and that is fine. */
static void reasonf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reasonf(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* ---- expressions of the numbers left ---- */

static int op_prec(char op) { return op == '+' || op == '-' ? 1 : 2; }

/* out = a op b with the parentheses the precedences need (a right operand of equal precedence keeps them). */
static void expr_combine(char *out, size_t cap, const char *a, int pa, char op, const char *b, int pb) {
    int p = op_prec(op);
    bool la = pa < p, rb = pb <= p;
    snprintf(out, cap, "%s%s%s %c %s%s%s", la ? "(" : "", a, la ? ")" : "", op, rb ? "(" : "", b, rb ? ")" : "");
}

/* ---- parsing steps ---- */

static const char *skip_sp(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
    return s;
}

/* A number within [*p, end): operands and results may be negative or fractions. */
static bool read_num(const char **p, const char *end, s2_rat *out) {
    char tmp[64];
    size_t n = (size_t)(end - *p);
    if (n >= sizeof tmp) n = sizeof tmp - 1;
    memcpy(tmp, *p, n);
    tmp[n] = '\0';
    const char *q = tmp;
    if (!s2_rat_parse(&q, true, true, out, NULL)) return false;
    *p += q - tmp;
    return true;
}

static bool is_op(char c) { return c == '+' || c == '-' || c == '*' || c == '/'; }

/* "A op B = C" then optionally "(left: x y ...)". *has_left says whether the list was there. */
static bool parse_step_line(const char *s, const char *end, s2_ng_step *st, s2_rat *left, int *n_left,
                            bool *has_left) {
    const char *p = skip_sp(s, end);
    if (!read_num(&p, end, &st->a)) return false;
    p = skip_sp(p, end);
    if (p >= end || !is_op(*p)) return false;
    st->op = *p++;
    p = skip_sp(p, end);
    if (!read_num(&p, end, &st->b)) return false;
    p = skip_sp(p, end);
    if (p >= end || *p != '=') return false;
    p = skip_sp(p + 1, end);
    if (!read_num(&p, end, &st->c)) return false;
    p = skip_sp(p, end);
    *n_left = 0;
    *has_left = false;
    if (p < end && *p == '(') {
        p = skip_sp(p + 1, end);
        if ((size_t)(end - p) < 5 || strncmp(p, "left:", 5) != 0) return false;
        p = skip_sp(p + 5, end);
        while (p < end && *p != ')') {
            if (*n_left >= S2_NG_MAX * 2 || !read_num(&p, end, &left[*n_left])) return false;
            (*n_left)++;
            p = skip_sp(p, end);
            if (p < end && *p == ',') p = skip_sp(p + 1, end);
        }
        if (p >= end) return false;
        p = skip_sp(p + 1, end);
        *has_left = true;
    }
    return p == end;
}

static const char *answer_start(const char *line, const char *end) {
    const char *p = skip_sp(line, end);
    if ((size_t)(end - p) >= 7 && strncmp(p, "Answer:", 7) == 0) return p + 7;
    return NULL;
}

/* Applies a checked step to the parsed state (numbers and expressions). Returns false with out->reason set. */
static bool apply_step(const s2_ng_rules *r, s2_ng_parsed *out, int k, const s2_ng_step *st, const s2_rat *left,
                       int n_left, bool has_left) {
    char sa[64], sb[64], sc[64], want[64], nums[400];
    s2_ng_state *s = &out->state;
    s2_rat_str(st->a, sa, sizeof sa);
    s2_rat_str(st->b, sb, sizeof sb);
    s2_rat_str(st->c, sc, sizeof sc);
    numbers_str(s, nums, sizeof nums);
    int ia = state_find(s, st->a);
    if (ia < 0) {
        reasonf(out->reason, sizeof out->reason, "step %d: %s is not among the numbers left (%s)", k, sa, nums);
        return false;
    }
    s2_ng_state rest = *s;
    state_remove(&rest, ia);
    int ib = state_find(&rest, st->b);
    if (ib < 0) {
        reasonf(out->reason, sizeof out->reason, "step %d: %s is not among the numbers left (%s)%s", k, sb, nums,
                 s2_rat_eq(st->a, st->b) ? " (used twice)" : "");
        return false;
    }
    int ib_full = ib >= ia ? ib + 1 : ib; /* index of b in the state before removing a */
    state_remove(&rest, ib);
    s2_rat c;
    s2_rat_status rs = s2_rat_apply(st->op, st->a, st->b, &c);
    if (rs == S2_RAT_DIV0) {
        reasonf(out->reason, sizeof out->reason, "step %d: %s / %s divides by zero", k, sa, sb);
        return false;
    }
    if (rs != S2_RAT_OK) {
        reasonf(out->reason, sizeof out->reason, "step %d: %s %c %s overflows", k, sa, st->op, sb);
        return false;
    }
    if (!s2_rat_eq(c, st->c)) {
        reasonf(out->reason, sizeof out->reason, "step %d: %s %c %s is %s, not %s", k, sa, st->op, sb,
                 s2_rat_str(c, want, sizeof want), sc);
        return false;
    }
    if (!result_ok(r, c)) {
        reasonf(out->reason, sizeof out->reason, "step %d: %s %c %s = %s is not a positive integer", k, sa, st->op,
                 sb, sc);
        return false;
    }
    rest.v[rest.n++] = c;
    if (has_left && !multiset_eq(left, n_left, rest.v, rest.n)) {
        char got[400] = "";
        size_t len = 0;
        for (int i = 0; i < n_left && len < sizeof got; i++)
            len += (size_t)snprintf(got + len, sizeof got - len, "%s%s", i ? " " : "", s2_rat_str(left[i], want, sizeof want));
        numbers_str(&rest, nums, sizeof nums);
        reasonf(out->reason, sizeof out->reason, "step %d: the numbers left are %s, not %s", k, nums, got);
        return false;
    }
    /* expressions: remove a and b (by their indices in the old state), append the combination */
    char e[S2_NG_EXPR];
    expr_combine(e, sizeof e, out->expr[ia], out->prec[ia], st->op, out->expr[ib_full], out->prec[ib_full]);
    int pe = op_prec(st->op);
    char keep[S2_NG_MAX][S2_NG_EXPR];
    int kprec[S2_NG_MAX], nk = 0;
    for (int i = 0; i < s->n; i++) {
        if (i == ia || i == ib_full) continue;
        memcpy(keep[nk], out->expr[i], S2_NG_EXPR);
        kprec[nk++] = out->prec[i];
    }
    memcpy(keep[nk], e, S2_NG_EXPR);
    kprec[nk++] = pe;
    for (int i = 0; i < nk; i++) {
        memcpy(out->expr[i], keep[i], S2_NG_EXPR);
        out->prec[i] = kprec[i];
    }
    *s = rest; /* rest keeps the order of the expressions (others in order, then c) */
    return true;
}

void s2_ng_parse(const s2_ng_rules *r, const s2_ng_state *start, const char *text, s2_ng_parsed *out) {
    memset(out, 0, sizeof *out);
    out->state = *start;
    char num[64];
    for (int i = 0; i < start->n; i++) {
        snprintf(out->expr[i], S2_NG_EXPR, "%s", s2_rat_str(start->v[i], num, sizeof num));
        out->prec[i] = 3;
    }
    const char *line = text != NULL ? text : "";
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        const char *end = nl != NULL ? nl : line + strlen(line);
        const char *ls = line;
        line = nl != NULL ? nl + 1 : end;
        const char *ans = answer_start(ls, end);
        if (ans != NULL) {
            out->has_answer = true;
            ans = skip_sp(ans, end);
            const char *e = end;
            while (e > ans && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
            size_t n = (size_t)(e - ans);
            if (n >= sizeof out->answer) n = sizeof out->answer - 1;
            memcpy(out->answer, ans, n);
            out->answer[n] = '\0';
            return;
        }
        if (skip_sp(ls, end) == end) continue; /* a blank line */
        int k = ++out->n_steps;
        if (out->bad) continue; /* only the first bad step is judged; the others are counted */
        s2_ng_step st;
        s2_rat left[S2_NG_MAX * 2];
        int n_left = 0;
        bool has_left = false;
        if (!parse_step_line(ls, end, &st, left, &n_left, &has_left)) {
            int n = (int)(end - ls);
            reasonf(out->reason, sizeof out->reason, "step %d: cannot read '%.*s'", k, n > 60 ? 60 : n, ls);
            out->bad = true;
            continue;
        }
        if (!apply_step(r, out, k, &st, left, n_left, has_left)) out->bad = true;
    }
}

/* ---- answer expressions ---- */

typedef struct eval_ctx {
    const char *p, *end;
    bool pos_int;
    s2_rat *leaves;
    int n_leaves, cap, depth;
    char *reason;
    size_t rcap;
    bool failed;
} eval_ctx;

static bool eval_fail(eval_ctx *c, const char *fmt, const char *arg) {
    if (!c->failed) snprintf(c->reason, c->rcap, fmt, arg);
    c->failed = true;
    return false;
}

static void ev_sp(eval_ctx *c) { c->p = skip_sp(c->p, c->end); }

/* The operator at c->p (ASCII, or UTF-8 × and ÷), advancing past it; 0 when none. */
static char ev_op(eval_ctx *c, bool mul) {
    ev_sp(c);
    if (c->p >= c->end) return 0;
    char ch = *c->p;
    if (mul && (ch == '*' || ch == '/')) { c->p++; return ch; }
    if (!mul && (ch == '+' || ch == '-')) { c->p++; return ch; }
    if (mul && c->end - c->p >= 2 && (unsigned char)c->p[0] == 0xC3 &&
        ((unsigned char)c->p[1] == 0x97 || (unsigned char)c->p[1] == 0xB7)) {
        ch = (unsigned char)c->p[1] == 0x97 ? '*' : '/';
        c->p += 2;
        return ch;
    }
    return 0;
}

static bool ev_expr(eval_ctx *c, s2_rat *out);

static const char *ev_here(eval_ctx *c, char *buf, size_t cap) {
    size_t n = (size_t)(c->end - c->p);
    if (n == 0) return "the end";
    if (n > 20) n = 20;
    snprintf(buf, cap, "'%.*s'", (int)n, c->p);
    return buf;
}

static bool ev_combine(eval_ctx *c, char op, s2_rat a, s2_rat b, s2_rat *out) {
    s2_rat_status st = s2_rat_apply(op, a, b, out);
    if (st == S2_RAT_DIV0) return eval_fail(c, "division by zero%s", "");
    if (st != S2_RAT_OK) return eval_fail(c, "number too large%s", "");
    if (c->pos_int && !(out->den == 1 && out->num > 0)) {
        char sa[64], sb[64], so[64], msg[200];
        snprintf(msg, sizeof msg, "%s %c %s = %s is not a positive integer", s2_rat_str(a, sa, sizeof sa), op,
                 s2_rat_str(b, sb, sizeof sb), s2_rat_str(*out, so, sizeof so));
        return eval_fail(c, "%s", msg);
    }
    return true;
}

static bool ev_factor(eval_ctx *c, s2_rat *out) {
    char here[40];
    ev_sp(c);
    if (c->p >= c->end) return eval_fail(c, "bad syntax: expected a number at %s", "the end");
    if (*c->p == '(') {
        if (++c->depth > 32) return eval_fail(c, "bad syntax: nested too deeply%s", "");
        c->p++;
        if (!ev_expr(c, out)) return false;
        ev_sp(c);
        if (c->p >= c->end || *c->p != ')') return eval_fail(c, "bad syntax: expected ')' at %s", ev_here(c, here, sizeof here));
        c->p++;
        c->depth--;
        return true;
    }
    char tmp[64];
    size_t n = (size_t)(c->end - c->p);
    if (n >= sizeof tmp) n = sizeof tmp - 1;
    memcpy(tmp, c->p, n);
    tmp[n] = '\0';
    const char *q = tmp;
    bool overflow = false;
    if (!s2_rat_parse(&q, false, false, out, &overflow)) {
        if (overflow) return eval_fail(c, "number too large%s", "");
        return eval_fail(c, "bad syntax: expected a number at %s", ev_here(c, here, sizeof here));
    }
    c->p += q - tmp;
    if (c->n_leaves >= c->cap) return eval_fail(c, "too many numbers%s", "");
    c->leaves[c->n_leaves++] = *out;
    return true;
}

static bool ev_term(eval_ctx *c, s2_rat *out) {
    if (!ev_factor(c, out)) return false;
    for (char op; (op = ev_op(c, true)) != 0;) {
        s2_rat b;
        if (!ev_factor(c, &b) || !ev_combine(c, op, *out, b, out)) return false;
    }
    return true;
}

static bool ev_expr(eval_ctx *c, s2_rat *out) {
    if (!ev_term(c, out)) return false;
    for (char op; (op = ev_op(c, false)) != 0;) {
        s2_rat b;
        if (!ev_term(c, &b) || !ev_combine(c, op, *out, b, out)) return false;
    }
    return true;
}

bool s2_ng_eval(const char *s, size_t len, bool pos_int, s2_rat *value, s2_rat *leaves, int *n_leaves, int cap,
                s2_rat *rhs, bool *has_rhs, char *reason, size_t rcap) {
    eval_ctx c = {.p = s, .end = s + len, .pos_int = pos_int, .leaves = leaves, .cap = cap, .reason = reason,
                  .rcap = rcap};
    *has_rhs = false;
    *n_leaves = 0;
    char here[40];
    bool ok = ev_expr(&c, value);
    if (ok) {
        ev_sp(&c);
        if (c.p < c.end && *c.p == '=') {
            c.p++;
            ev_sp(&c);
            char tmp[64];
            size_t n = (size_t)(c.end - c.p);
            if (n >= sizeof tmp) n = sizeof tmp - 1;
            memcpy(tmp, c.p, n);
            tmp[n] = '\0';
            const char *q = tmp;
            if (!s2_rat_parse(&q, true, true, rhs, NULL)) ok = eval_fail(&c, "bad syntax: expected a number after '='%s", "");
            else {
                c.p += q - tmp;
                *has_rhs = true;
            }
        }
        ev_sp(&c);
        if (ok && c.p < c.end) ok = eval_fail(&c, "bad syntax: unexpected %s", ev_here(&c, here, sizeof here));
    }
    *n_leaves = c.n_leaves;
    return ok;
}

/* ---- verdicts ---- */

/* Checks an answer expression against the inputs and the target: "" when right, else the reason. */
static void check_answer(const s2_ng_rules *r, const s2_ng_state *start, const char *ans, char *reason, size_t rcap) {
    s2_rat value, rhs, leaves[16];
    int nl = 0;
    bool has_rhs = false;
    reason[0] = '\0';
    if (!s2_ng_eval(ans, strlen(ans), r->pos_int, &value, leaves, &nl, 16, &rhs, &has_rhs, reason, rcap)) return;
    char a[64], b[64];
    /* each leaf must be an input, used no more often than it appears */
    s2_ng_state avail = *start;
    for (int i = 0; i < nl; i++) {
        int j = state_find(&avail, leaves[i]);
        if (j >= 0) {
            state_remove(&avail, j);
            continue;
        }
        s2_rat_str_dec(leaves[i], a, sizeof a);
        if (state_find(start, leaves[i]) >= 0) snprintf(reason, rcap, "uses %s more often than it is given", a);
        else snprintf(reason, rcap, "uses %s, which is not an input number", a);
        return;
    }
    if (avail.n > 0) {
        snprintf(reason, rcap, "does not use %s", s2_rat_str_dec(avail.v[0], a, sizeof a));
        return;
    }
    if (!s2_rat_eq(value, r->target)) {
        snprintf(reason, rcap, "the expression equals %s, not %s", s2_rat_str_dec(value, a, sizeof a),
                 s2_rat_str_dec(r->target, b, sizeof b));
        return;
    }
    if (has_rhs && !s2_rat_eq(rhs, r->target)) {
        snprintf(reason, rcap, "claims %s, the target is %s", s2_rat_str_dec(rhs, a, sizeof a),
                 s2_rat_str_dec(r->target, b, sizeof b));
        return;
    }
}

void s2_ng_verify(const s2_ng_rules *r, const s2_ng_state *start, const char *text, s2_verdict *out) {
    s2_ng_parsed *ps = malloc(sizeof *ps);
    if (ps == NULL) {
        s2_verdict_set(out, 0, "out of memory");
        return;
    }
    s2_ng_parse(r, start, text, ps);
    char tg[64], reason[256];
    s2_rat_str(r->target, tg, sizeof tg);
    if (ps->has_answer) {
        out->answer = s2_strdup(ps->answer);
        if (ps->bad) s2_verdict_set(out, 0, "%s", ps->reason);
        else {
            check_answer(r, start, ps->answer, reason, sizeof reason);
            if (reason[0] == '\0') s2_verdict_set(out, 1, "ok");
            else s2_verdict_set(out, 0, "%s", reason);
        }
    } else if (ps->bad) {
        s2_verdict_set(out, 0, "%s", ps->reason);
    } else if (ps->state.n == 1) {
        /* the answer is what the steps computed: none when they end beside the target (writing "= 24" after
         * steps that made 25 would put a claim in the answer that nobody made) */
        if (s2_rat_eq(ps->state.v[0], r->target)) {
            char ans[S2_NG_EXPR + 80];
            snprintf(ans, sizeof ans, "%s = %s", ps->expr[0], tg);
            out->answer = s2_strdup(ans);
            s2_verdict_set(out, 1, "ok (from the steps)");
        } else {
            s2_verdict_set(out, 0, "the steps end in %s, not %s", s2_rat_str(ps->state.v[0], reason, 64), tg);
        }
    } else {
        s2_verdict_set(out, 0, "no answer");
    }
    free(ps);
}

s2_oracle s2_ng_oracle(const s2_ng_rules *r, const s2_ng_state *start, const char *text) {
    s2_ng_parsed *ps = malloc(sizeof *ps);
    if (ps == NULL) return S2_ORACLE_UNKNOWN;
    s2_ng_parse(r, start, text, ps);
    s2_oracle o;
    if (ps->bad) o = S2_ORACLE_DEAD;
    else if (ps->has_answer) {
        char reason[256];
        check_answer(r, start, ps->answer, reason, sizeof reason);
        o = reason[0] == '\0' ? S2_ORACLE_SOLVABLE : S2_ORACLE_DEAD;
    } else o = s2_ng_solvable(r, &ps->state) ? S2_ORACLE_SOLVABLE : S2_ORACLE_DEAD;
    free(ps);
    return o;
}

/* ---- the solver and solution paths ---- */

/* The distinct moves from s: (i, j) index pairs with an op and the written operand order. Pairs of equal
 * values seen before are skipped, and so are results the rules forbid. Returns the count. */
typedef struct move {
    int i, j;        /* indices in s; the step is s[i] op s[j] */
    char op;
    s2_rat c;
} move;

static int list_moves(const s2_ng_rules *r, const s2_ng_state *s, move *mv, int cap) {
    int n = 0;
    for (int i = 0; i < s->n; i++)
        for (int j = i + 1; j < s->n; j++) {
            bool seen = false;
            for (int pi = 0; pi < i && !seen; pi++)
                for (int pj = pi + 1; pj < s->n && !seen; pj++)
                    seen = s2_rat_eq(s->v[pi], s->v[i]) && s2_rat_eq(s->v[pj], s->v[j]);
            for (int pj = i + 1; pj < j && !seen; pj++) seen = s2_rat_eq(s->v[pj], s->v[j]);
            if (seen) continue;
            /* written larger first for + and *, and both orders for - and / */
            int hi = s2_rat_cmp(s->v[i], s->v[j]) >= 0 ? i : j, lo = hi == i ? j : i;
            struct { int a, b; char op; } cand[6] = {
                {hi, lo, '+'}, {hi, lo, '*'}, {hi, lo, '-'}, {lo, hi, '-'}, {hi, lo, '/'}, {lo, hi, '/'}};
            bool same = s2_rat_eq(s->v[i], s->v[j]);
            for (int k = 0; k < 6; k++) {
                if (same && (k == 3 || k == 5)) continue; /* a - a twice, a / a twice */
                s2_rat c;
                if (s2_rat_apply(cand[k].op, s->v[cand[k].a], s->v[cand[k].b], &c) != S2_RAT_OK) continue;
                if (!result_ok(r, c)) continue;
                if (n < cap) mv[n] = (move){cand[k].a, cand[k].b, cand[k].op, c};
                n++;
            }
        }
    return n < cap ? n : cap;
}

#define MAX_MOVES (S2_NG_MAX * (S2_NG_MAX - 1) / 2 * 6)

static void state_after(const s2_ng_state *s, const move *m, s2_ng_state *out) {
    out->n = 0;
    for (int k = 0; k < s->n; k++)
        if (k != m->i && k != m->j) out->v[out->n++] = s->v[k];
    out->v[out->n++] = m->c;
    s2_ng_state_sort(out);
}

/* A cache of judged states (sorted), for searches from five numbers or more, where the same multiset is
 * reached by many orders of the same steps. Exact: an entry matches only its own state. */
#define MEMO_SIZE (1 << 14)
typedef struct memo_entry {
    bool used, val;
    s2_ng_state s;
} memo_entry;

static uint64_t state_hash(const s2_ng_state *s) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)s->n;
    for (int i = 0; i < s->n; i++) {
        h = (h ^ (uint64_t)s->v[i].num) * 1099511628211ull;
        h = (h ^ (uint64_t)s->v[i].den) * 1099511628211ull;
    }
    return h;
}

static bool state_eq(const s2_ng_state *a, const s2_ng_state *b) {
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (!s2_rat_eq(a->v[i], b->v[i])) return false;
    return true;
}

/* s is sorted. */
static bool solve_rec(const s2_ng_rules *r, const s2_ng_state *s, memo_entry *memo) {
    if (s->n == 1) return s2_rat_eq(s->v[0], r->target);
    memo_entry *e = NULL;
    if (memo != NULL && s->n >= 3) {
        e = &memo[state_hash(s) & (MEMO_SIZE - 1)];
        if (e->used && state_eq(&e->s, s)) return e->val;
    }
    move mv[MAX_MOVES];
    int n = list_moves(r, s, mv, MAX_MOVES);
    bool ok = false;
    for (int k = 0; k < n && !ok; k++) {
        s2_ng_state next;
        state_after(s, &mv[k], &next);
        ok = solve_rec(r, &next, memo);
    }
    if (e != NULL) { /* replaces whatever was there: a cache, not a table */
        e->used = true;
        e->val = ok;
        e->s = *s;
    }
    return ok;
}

bool s2_ng_solvable(const s2_ng_rules *r, const s2_ng_state *s) {
    if (s->n <= 0 || s->n > S2_NG_MAX) return false;
    s2_ng_state t = *s;
    s2_ng_state_sort(&t);
    memo_entry *memo = t.n >= 5 ? calloc(MEMO_SIZE, sizeof *memo) : NULL; /* without memory: no cache */
    bool ok = solve_rec(r, &t, memo);
    free(memo);
    return ok;
}

typedef struct walk {
    const s2_ng_rules *r;
    s2_ng_path cur;
    uint64_t *rng;       /* reservoir sampling when set */
    int64_t seen;        /* solution paths met */
    bool want_nice;      /* first_path: only paths whose results are non-negative integers */
    bool stop;
    s2_ng_path best;
} walk;

static void walk_paths(walk *w, const s2_ng_state *s) {
    if (w->stop) return;
    if (s->n == 1) {
        if (!s2_rat_eq(s->v[0], w->r->target)) return;
        w->seen++;
        if (w->rng != NULL) {
            if (s2_task_rng_below(w->rng, (uint64_t)w->seen) == 0) w->best = w->cur;
        } else {
            w->best = w->cur;
            w->stop = true;
        }
        return;
    }
    move mv[MAX_MOVES];
    int n = list_moves(w->r, s, mv, MAX_MOVES);
    for (int k = 0; k < n && !w->stop; k++) {
        if (w->want_nice && !(mv[k].c.den == 1 && mv[k].c.num >= 0)) continue;
        s2_ng_state next;
        state_after(s, &mv[k], &next);
        if (next.n > 1 && !s2_ng_solvable(w->r, &next)) continue; /* prune dead branches early */
        w->cur.s[w->cur.n++] = (s2_ng_step){s->v[mv[k].i], s->v[mv[k].j], mv[k].c, mv[k].op};
        walk_paths(w, &next);
        w->cur.n--;
    }
}

bool s2_ng_random_path(const s2_ng_rules *r, const s2_ng_state *start, uint64_t *rng, s2_ng_path *out) {
    walk w = {.r = r, .rng = rng};
    s2_ng_state s = *start;
    s2_ng_state_sort(&s);
    walk_paths(&w, &s);
    if (w.seen == 0) return false;
    *out = w.best;
    return true;
}

bool s2_ng_first_path(const s2_ng_rules *r, const s2_ng_state *start, s2_ng_path *out) {
    s2_ng_state s = *start;
    s2_ng_state_sort(&s);
    for (int pass = 0; pass < 2; pass++) {
        walk w = {.r = r, .want_nice = pass == 0};
        walk_paths(&w, &s);
        if (w.seen > 0) {
            *out = w.best;
            return true;
        }
    }
    return false;
}

bool s2_ng_random_descent(const s2_ng_rules *r, const s2_ng_state *start, uint64_t *rng, s2_ng_path *out) {
    s2_ng_state s = *start;
    s2_ng_state_sort(&s);
    out->n = 0;
    if (!s2_ng_solvable(r, &s)) return false;
    while (s.n > 1) {
        move mv[MAX_MOVES];
        int n = list_moves(r, &s, mv, MAX_MOVES);
        for (int k = n - 1; k > 0; k--) { /* Fisher-Yates */
            int j = (int)s2_task_rng_below(rng, (uint64_t)k + 1);
            move tmp = mv[k];
            mv[k] = mv[j];
            mv[j] = tmp;
        }
        bool moved = false;
        for (int k = 0; k < n && !moved; k++) {
            s2_ng_state next;
            state_after(&s, &mv[k], &next);
            if (!s2_ng_solvable(r, &next)) continue;
            out->s[out->n++] = (s2_ng_step){s.v[mv[k].i], s.v[mv[k].j], mv[k].c, mv[k].op};
            s = next;
            moved = true;
        }
        S2_ASSERT(moved); /* a solvable state has a solvable child */
    }
    return true;
}

void s2_ng_random_steps(const s2_ng_rules *r, const s2_ng_state *start, int k, uint64_t *rng, s2_ng_path *out) {
    s2_ng_state s = *start;
    s2_ng_state_sort(&s);
    out->n = 0;
    for (int step = 0; step < k && s.n > 1; step++) {
        /* a uniformly random ordered pair and op among the valid ones */
        move mv[S2_NG_MAX * S2_NG_MAX * 4];
        int n = 0;
        for (int i = 0; i < s.n; i++)
            for (int j = 0; j < s.n; j++) {
                if (i == j) continue;
                const char ops[4] = {'+', '-', '*', '/'};
                for (int o = 0; o < 4; o++) {
                    if ((ops[o] == '+' || ops[o] == '*') && s2_rat_cmp(s.v[i], s.v[j]) < 0) continue;
                    s2_rat c;
                    if (s2_rat_apply(ops[o], s.v[i], s.v[j], &c) != S2_RAT_OK || !result_ok(r, c)) continue;
                    mv[n++] = (move){i, j, ops[o], c};
                }
            }
        if (n == 0) break;
        const move *m = &mv[s2_task_rng_below(rng, (uint64_t)n)];
        out->s[out->n++] = (s2_ng_step){s.v[m->i], s.v[m->j], m->c, m->op};
        s2_ng_state next;
        state_after(&s, m, &next);
        s = next;
    }
}

void s2_ng_write_path(s2_buf *b, const s2_ng_rules *r, const s2_ng_state *start, const s2_ng_path *p, bool answer,
                      s2_ng_state *end) {
    s2_ng_state s = *start;
    char sa[64], sb[64], sc[64];
    for (int k = 0; k < p->n; k++) {
        const s2_ng_step *st = &p->s[k];
        int ia = state_find(&s, st->a);
        S2_ASSERT(ia >= 0);
        state_remove(&s, ia);
        int ib = state_find(&s, st->b);
        S2_ASSERT(ib >= 0);
        state_remove(&s, ib);
        s.v[s.n++] = st->c;
        s2_ng_state_sort(&s);
        s2_buf_printf(b, "%s %c %s = %s (left: ", s2_rat_str(st->a, sa, sizeof sa), st->op,
                      s2_rat_str(st->b, sb, sizeof sb), s2_rat_str(st->c, sc, sizeof sc));
        s2_ng_write_numbers(b, &s);
        s2_buf_puts(b, ")\n");
    }
    if (answer && s.n == 1) {
        char e[S2_NG_EXPR];
        s2_ng_path_expr(start, p, e, sizeof e);
        s2_buf_printf(b, "Answer: %s = %s\n", e, s2_rat_str(r->target, sa, sizeof sa));
    }
    if (end != NULL) *end = s;
}

void s2_ng_path_expr(const s2_ng_state *start, const s2_ng_path *p, char *buf, size_t cap) {
    /* replay the path through the parser's bookkeeping, which tracks each number's expression */
    s2_buf t = {0};
    s2_ng_rules any = {.target = s2_rat_int(0), .pos_int = false};
    s2_ng_write_path(&t, &any, start, p, false, NULL);
    s2_ng_parsed *ps = malloc(sizeof *ps);
    buf[0] = '\0';
    if (ps != NULL && t.p != NULL) {
        s2_ng_parse(&any, start, t.p, ps);
        if (!ps->bad && ps->state.n >= 1) snprintf(buf, cap, "%s", ps->expr[ps->state.n - 1]);
    }
    free(ps);
    s2_buf_free(&t);
}

/* ---- what the tasks share ---- */

bool s2_ng_is_terminal(const s2_ng_rules *r, const s2_ng_state *start, const char *text) {
    s2_ng_parsed *ps = malloc(sizeof *ps);
    if (ps == NULL) return true;
    s2_ng_parse(r, start, text, ps);
    bool term = ps->has_answer || ps->n_steps >= start->n - 1;
    free(ps);
    return term;
}

char *s2_ng_extract(const s2_ng_rules *r, const s2_ng_state *start, const char *text) {
    s2_ng_parsed *ps = malloc(sizeof *ps);
    if (ps == NULL) return NULL;
    s2_ng_parse(r, start, text, ps);
    char *ans = NULL;
    if (ps->has_answer) ans = s2_strdup(ps->answer);
    else if (!ps->bad && ps->state.n == 1 && s2_rat_eq(ps->state.v[0], r->target)) { /* as s2_ng_verify */
        char tg[64];
        s2_buf b = {0};
        s2_buf_printf(&b, "%s = %s", ps->expr[0], s2_rat_str(r->target, tg, sizeof tg));
        ans = s2_buf_take(&b);
    }
    free(ps);
    return ans;
}

/* "Value: 4 4 10\n": the numbers left after the valid steps; after an invalid step, the numbers the last
 * step claims are left (as a model wrote them), so that the value model judges what the policy believes. */
bool s2_ng_legal(const s2_ng_rules *r, const s2_ng_state *start, const char *text) {
    s2_ng_parsed *ps = malloc(sizeof *ps);
    if (ps == NULL) return false;
    s2_ng_parse(r, start, text, ps);
    bool ok = !ps->bad;
    free(ps);
    return ok;
}

char *s2_ng_value_prompt(const s2_ng_rules *r, const s2_ng_state *start, const char *text, const char *suffix) {
    s2_ng_parsed *ps = malloc(sizeof *ps);
    if (ps == NULL) return NULL;
    s2_ng_parse(r, start, text, ps);
    s2_buf b = {0};
    s2_buf_puts(&b, "Value: ");
    bool done = false;
    if (ps->bad && text != NULL) {
        const char *l = strstr(text, "(left:"), *last = NULL;
        for (; l != NULL; l = strstr(l + 1, "(left:")) last = l;
        if (last != NULL) {
            const char *p = last + 6, *e = strchr(p, ')');
            while (*p == ' ') p++;
            if (e != NULL && e > p && e - p < 80 && memchr(p, '\n', (size_t)(e - p)) == NULL) {
                s2_buf_append(&b, p, (size_t)(e - p));
                done = true;
            }
        }
    }
    if (!done) s2_ng_write_numbers(&b, &ps->state);
    s2_buf_printf(&b, "%s\n", suffix);
    free(ps);
    return s2_buf_take(&b);
}

/* The expression with its k-th operator (counting from 0) replaced by op, or false when there is none. */
static bool replace_op(const char *e, int k, char op, char *out, size_t cap) {
    snprintf(out, cap, "%s", e);
    for (char *p = out; *p; p++)
        if ((*p == '+' || *p == '-' || *p == '*' || *p == '/') && p > out && p[-1] == ' ' && k-- == 0) {
            *p = op;
            return true;
        }
    return false;
}

int32_t s2_ng_wrong_answers(const s2_ng_rules *r, const s2_ng_state *start, char **out, int32_t cap) {
    s2_ng_state s = *start;
    s2_ng_path p;
    s2_ng_state_sort(&s);
    if (s.n < 3 || !s2_ng_first_path(r, &s, &p)) return 0;
    char e[S2_NG_EXPR], tmp[S2_NG_EXPR + 64], tg[64];
    s2_ng_path_expr(&s, &p, e, sizeof e);
    s2_rat_str(r->target, tg, sizeof tg);
    char v[S2_NG_MAX][64];
    for (int k = 0; k < s.n; k++) s2_rat_str(s.v[k], v[k], sizeof v[k]);
    int32_t n = 0;
#define ADD(...)                                                                 \
    do {                                                                         \
        if (n < cap) {                                                           \
            s2_buf b_ = {0};                                                     \
            s2_buf_printf(&b_, __VA_ARGS__);                                     \
            char *s_ = s2_buf_take(&b_);                                         \
            if (s_ != NULL) out[n++] = s_;                                       \
        }                                                                        \
    } while (0)
    /* a number used twice (and so another missing): the first number of the expression replaced by one that
     * differs from it */
    {
        size_t pre = strspn(e, "("), len = strspn(e + pre, "0123456789");
        int other = -1;
        for (int k = 0; k < s.n; k++)
            if (strlen(v[k]) != len || strncmp(v[k], e + pre, len) != 0) other = k;
        if (other >= 0) ADD("Answer: %.*s%s%s = %s\n", (int)pre, e, v[other], e + pre + len, tg);
    }
    ADD("Answer: %s * %s * %s = %s\n", v[0], v[1], v[2], tg);  /* a number missing */
    ADD("Answer: %s - 0.001 = %s\n", e, tg);                   /* target - 0.001: a number not in the input */
    ADD("Answer: %s = %s.001\n", e, tg);                       /* a claim that is not the target */
    /* the expression with one operator changed, so that it no longer equals 24 */
    bool found = false;
    for (int k = 0; k < s.n - 1 && !found; k++)
        for (int o = 0; o < 4 && !found; o++) {
            if (!replace_op(e, k, "+-*/"[o], tmp, sizeof tmp)) continue;
            s2_rat val, leaves[8], rhs;
            int nl;
            bool hr;
            char why[128];
            if (s2_ng_eval(tmp, strlen(tmp), r->pos_int, &val, leaves, &nl, 8, &rhs, &hr, why, sizeof why) &&
                !s2_rat_eq(val, r->target)) {
                ADD("Answer: %s = %s\n", tmp, tg);
                found = true;
            }
        }
    ADD("Answer: %s / (%s - %s) + %s = %s\n", v[0], v[1], v[1], v[2], tg); /* division by zero */
    ADD("Answer: (%s = %s\n", e, tg);                                        /* bad syntax */
    /* a wrong step: step 1's result off by one (the rest of the reference unchanged) */
    {
        s2_buf ref = {0};
        s2_ng_write_path(&ref, r, &s, &p, true, NULL);
        const char *nl = ref.p != NULL ? strchr(ref.p, '\n') : NULL;
        if (nl != NULL) {
            char a[64], b[64], c1[64];
            s2_rat c = p.s[0].c, wrong;
            if (s2_rat_add(c, s2_rat_int(1), &wrong) == S2_RAT_OK) {
                s2_ng_state rest = s;
                s2_ng_path first = {.n = 1, .s = {p.s[0]}};
                s2_buf tmpb = {0};
                s2_ng_write_path(&tmpb, r, &s, &first, false, &rest);
                s2_buf_free(&tmpb);
                for (int k = 0; k < rest.n; k++)
                    if (s2_rat_eq(rest.v[k], c)) {
                        rest.v[k] = wrong;
                        break;
                    }
                s2_buf lb = {0};
                s2_ng_write_numbers(&lb, &rest);
                ADD("%s %c %s = %s (left: %s)%s", s2_rat_str(p.s[0].a, a, sizeof a), p.s[0].op,
                    s2_rat_str(p.s[0].b, b, sizeof b), s2_rat_str(wrong, c1, sizeof c1), lb.p ? lb.p : "", nl);
                s2_buf_free(&lb);
            }
            /* a wrong "left" list: the first step with its left list missing a number */
            const char *lp = strstr(ref.p, "(left: ");
            if (lp != NULL && lp < nl) {
                const char *sp = strchr(lp + 7, ' ');
                if (sp != NULL && sp < nl)
                    ADD("%.*s%s", (int)(lp + 7 - ref.p), ref.p, sp + 1); /* drops the first number left */
            }
            ADD("%.*s", (int)(nl + 1 - ref.p), ref.p); /* one step and no answer */
        }
        s2_buf_free(&ref);
    }
#undef ADD
    return n;
}


void s2_ng_policy_example(const s2_ng_rules *r, const s2_ng_state *start, uint64_t *rng, s2_buf *prompt,
                          s2_buf *completion) {
    int j = 0;
    if (start->n > 2 && s2_task_rng_below(rng, 2) == 1) j = 1 + (int)s2_task_rng_below(rng, (uint64_t)start->n - 2);
    s2_ng_path pre, rest;
    s2_ng_random_steps(r, start, j, rng, &pre);
    s2_ng_state mid;
    size_t at = prompt->n;
    s2_ng_write_path(prompt, r, start, &pre, false, &mid);
    size_t pre_len = prompt->n - at;
    if (s2_ng_random_path(r, &mid, rng, &rest)) {
        /* the Answer line is an expression over the inputs: write the whole path and keep what follows the prefix */
        s2_ng_path full = pre;
        for (int k = 0; k < rest.n; k++) full.s[full.n++] = rest.s[k];
        s2_buf all = {0};
        s2_ng_write_path(&all, r, start, &full, true, NULL);
        if (all.p != NULL) s2_buf_puts(completion, all.p + pre_len);
        else completion->oom = true;
        s2_buf_free(&all);
    } else {
        s2_ng_random_steps(r, &mid, mid.n - 1, rng, &rest);
        s2_ng_write_path(completion, r, &mid, &rest, false, NULL);
    }
}

void s2_ng_legal_example(const s2_ng_rules *r, const s2_ng_state *start, uint64_t *rng, s2_buf *completion) {
    s2_ng_path p;
    s2_ng_random_steps(r, start, start->n - 1, rng, &p);
    s2_ng_state end;
    s2_buf scratch = {0};
    s2_ng_write_path(&scratch, r, start, &p, false, &end);
    s2_buf_free(&scratch);
    bool won = end.n == 1 && s2_rat_cmp(end.v[0], r->target) == 0;
    s2_ng_write_path(completion, r, start, &p, won, NULL);
}
