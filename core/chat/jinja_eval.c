/* jinja_eval.c: renders a parsed template (jinja.h) with Python's semantics as jinja2 gives them.
 *
 * Values are Python's (None, bool, int, float, str, list/tuple, dict, namespace) plus jinja2's Undefined: it
 * prints as "", is false, iterates as empty and has length 0, and anything else done with it is an error, as with
 * jinja2's default Undefined. The environment is transformers' (an ImmutableSandboxedEnvironment): lists and dicts
 * cannot be modified (append, update, pop... are refused), range() is capped at 100,000 items, and tojson is
 * json.dumps(ensure_ascii=False). Hostile templates are bounded: output bytes, evaluation steps, macro recursion
 * and arena memory each have a cap, reported as S2_E_BUDGET with the line and column. Errors never leave a partial
 * string behind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chat.h"
#include "jinja.h"
#include "unicode.h"

/* ---- growing byte buffers (malloc'd: the output and captured blocks) ---- */

typedef struct sb {
    char *p;
    size_t n, cap, max;
    bool over, nomem; /* went past max; realloc failed */
} sb;

static bool sb_put(sb *b, const char *s, size_t n) {
    if (b->over) return false;
    if (b->max > 0 && n > b->max - b->n) {
        b->over = true;
        return false;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->over = b->nomem = true;
            return false;
        }
        b->p = np, b->cap = cap;
    }
    if (n > 0) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}
static bool sb_puts(sb *b, const char *s) { return sb_put(b, s, strlen(s)); }

/* ---- evaluator state ---- */

typedef struct frame {
    struct frame *parent;
    const char **names;
    jv *vals;
    size_t n, cap;
} frame;

typedef enum fkind { FK_GLOBAL, FK_METHOD, FK_MACRO, FK_CYCLE } fkind;
struct jv_func {
    fkind k;
    const char *name; /* the global's or method's name */
    jv self;          /* a method's object */
    const jnode *macro;
    frame *closure;
    jv_loop *loop;    /* FK_CYCLE */
};

struct jv_loop {
    const jv_list *items;
    int64_t index0, depth0;
};

typedef enum flow { FLOW_NEXT, FLOW_BREAK, FLOW_CONTINUE } flow;

typedef struct ev {
    ja_arena *a;
    s2_error *err;
    sb *out;
    size_t max_output;
    int64_t steps, max_steps;
    int32_t calls, loops; /* macro call depth, loop nesting */
    flow flow;
    const jnode *at;         /* the node being evaluated, for messages */
} ev;

#define MAX_CALL_DEPTH 50
#define MAX_RANGE 100000 /* jinja2's sandbox refuses longer ranges (sandbox.MAX_RANGE) */

static s2_status fail(ev *E, s2_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static s2_status fail(ev *E, s2_status st, const char *fmt, ...) {
    char raw[200], what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* names and strings from the template or the messages (raise_exception's text) reach a terminal: control
     * bytes and invalid UTF-8 are written \xNN */
    size_t o = 0, n = strlen(raw);
    for (size_t i = 0; i < n && o + 5 < sizeof what;) {
        uint32_t cp;
        int len = s2_utf8_decode(raw + i, n - i, &cp);
        if (len > 0 && cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0)) {
            if (o + (size_t)len >= sizeof what) break;
            memcpy(what + o, raw + i, (size_t)len), o += (size_t)len, i += (size_t)len;
        } else {
            o += (size_t)snprintf(what + o, sizeof what - o, "\\x%02x", (unsigned char)raw[i]);
            i++;
        }
    }
    what[o] = '\0';
    if (E->at != NULL) return s2_error_set(E->err, st, "chat template line %d col %d: %s", E->at->line, E->at->col, what);
    return s2_error_set(E->err, st, "chat template: %s", what);
}
static s2_status oom(ev *E) {
    if (E->a->capped)
        return fail(E, S2_E_BUDGET, "the template used more than %zu bytes of memory", E->a->cap);
    return fail(E, S2_E_NOMEM, "out of memory");
}

static const jv UNDEF = {.k = JV_UNDEF};
static jv v_bool(bool b) { return (jv){.k = JV_BOOL, .u.b = b}; }
static jv v_int(int64_t i) { return (jv){.k = JV_INT, .u.i = i}; }
static jv v_float(double f) { return (jv){.k = JV_FLOAT, .u.f = f}; }
static jv v_strn(const char *p, size_t n) { return (jv){.k = JV_STR, .u.s = {p, n}}; }
static jv v_undef(const char *name) { return (jv){.k = JV_UNDEF, .u.undef = name}; }

static s2_status new_str(ev *E, const char *p, size_t n, jv *out) {
    char *s = ja_strndup(E->a, p, n);
    if (s == NULL) return oom(E);
    *out = v_strn(s, n);
    return S2_OK;
}

static s2_status new_list(ev *E, size_t n, jv *out) {
    jv_list *l = ja_alloc(E->a, sizeof *l);
    if (l == NULL || (n > 0 && (l->v = ja_alloc(E->a, n * sizeof *l->v)) == NULL)) return oom(E);
    l->n = n;
    *out = (jv){.k = JV_LIST, .u.l = l};
    return S2_OK;
}

static s2_status new_dict(ev *E, bool ns, jv *out) {
    jv_dict *d = ja_alloc(E->a, sizeof *d);
    if (d == NULL) return oom(E);
    d->ns = ns;
    *out = (jv){.k = JV_DICT, .u.d = d};
    return S2_OK;
}

static bool str_eq(jv a, const char *s) { return a.k == JV_STR && a.u.s.n == strlen(s) && memcmp(a.u.s.p, s, a.u.s.n) == 0; }

static bool py_eq(jv a, jv b);

static jv *dict_find(const jv_dict *d, jv key) {
    for (size_t i = 0; i < d->n; i++)
        if (py_eq(d->keys[i], key)) return &d->vals[i];
    return NULL;
}

static s2_status dict_set(ev *E, jv_dict *d, jv key, jv val) {
    jv *slot = dict_find(d, key);
    if (slot != NULL) {
        *slot = val;
        return S2_OK;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 8;
        jv *nk = ja_alloc(E->a, cap * sizeof *nk), *nv = ja_alloc(E->a, cap * sizeof *nv);
        if (nk == NULL || nv == NULL) return oom(E);
        if (d->n) memcpy(nk, d->keys, d->n * sizeof *nk), memcpy(nv, d->vals, d->n * sizeof *nv);
        d->keys = nk, d->vals = nv, d->cap = cap;
    }
    d->keys[d->n] = key, d->vals[d->n] = val, d->n++;
    return S2_OK;
}

/* ---- frames ---- */

static jv *frame_find(frame *f, const char *name) {
    for (; f != NULL; f = f->parent)
        for (size_t i = f->n; i-- > 0;)
            if (strcmp(f->names[i], name) == 0) return &f->vals[i];
    return NULL;
}

static s2_status frame_set(ev *E, frame *f, const char *name, jv v) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) {
            f->vals[i] = v;
            return S2_OK;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        const char **nn = ja_alloc(E->a, cap * sizeof *nn);
        jv *nv = ja_alloc(E->a, cap * sizeof *nv);
        if (nn == NULL || nv == NULL) return oom(E);
        if (f->n) memcpy(nn, f->names, f->n * sizeof *nn), memcpy(nv, f->vals, f->n * sizeof *nv);
        f->names = nn, f->vals = nv, f->cap = cap;
    }
    f->names[f->n] = name, f->vals[f->n] = v, f->n++;
    return S2_OK;
}

/* ---- Python semantics: types, truth, equality, order ---- */

static const char *type_name(jv v) {
    switch (v.k) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return "list";
    case JV_DICT: return v.u.d->ns ? "Namespace" : "dict";
    case JV_FUNC: return "function";
    case JV_LOOP: return "LoopContext";
    }
    return "?";
}

static bool truthy(jv v) {
    switch (v.k) {
    case JV_UNDEF: case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s.n > 0;
    case JV_LIST: return v.u.l->n > 0;
    case JV_DICT: return v.u.d->ns || v.u.d->n > 0;
    default: return true;
    }
}

static bool is_num(jv v) { return v.k == JV_BOOL || v.k == JV_INT || v.k == JV_FLOAT; }
static bool is_intlike(jv v) { return v.k == JV_BOOL || v.k == JV_INT; }
static int64_t as_int(jv v) { return v.k == JV_BOOL ? (int64_t)v.u.b : v.u.i; }
static double as_float(jv v) { return v.k == JV_FLOAT ? v.u.f : (double)as_int(v); }

static bool py_eq(jv a, jv b) {
    if (is_num(a) && is_num(b)) {
        if (is_intlike(a) && is_intlike(b)) return as_int(a) == as_int(b);
        return as_float(a) == as_float(b);
    }
    if (a.k != b.k) return false;
    switch (a.k) {
    case JV_UNDEF: case JV_NONE: return true;
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case JV_LIST:
        if (a.u.l->n != b.u.l->n || (a.u.l->kind == JV_SEQ_TUPLE) != (b.u.l->kind == JV_SEQ_TUPLE)) return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!py_eq(a.u.l->v[i], b.u.l->v[i])) return false;
        return true;
    case JV_DICT:
        if (a.u.d == b.u.d) return true;
        if (a.u.d->ns || b.u.d->ns || a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv *o = dict_find(b.u.d, a.u.d->keys[i]);
            if (o == NULL || !py_eq(a.u.d->vals[i], *o)) return false;
        }
        return true;
    default: return a.u.fn == b.u.fn;
    }
}

/* -1, 0, 1 into *r; an error for types Python does not order. */
static s2_status py_cmp(ev *E, jv a, jv b, int *r) {
    if (is_num(a) && is_num(b)) {
        if (is_intlike(a) && is_intlike(b)) *r = (as_int(a) > as_int(b)) - (as_int(a) < as_int(b));
        else *r = (as_float(a) > as_float(b)) - (as_float(a) < as_float(b));
        return S2_OK;
    }
    if (a.k == JV_STR && b.k == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int c = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0; /* UTF-8 byte order is code point order */
        *r = c != 0 ? (c > 0) - (c < 0) : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
        return S2_OK;
    }
    if (a.k == JV_LIST && b.k == JV_LIST) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++) {
            if (py_eq(a.u.l->v[i], b.u.l->v[i])) continue;
            return py_cmp(E, a.u.l->v[i], b.u.l->v[i], r);
        }
        *r = (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
        return S2_OK;
    }
    if (a.k == JV_UNDEF || b.k == JV_UNDEF)
        return fail(E, S2_E_ARG, "'%s' is undefined", (a.k == JV_UNDEF ? a : b).u.undef ? (a.k == JV_UNDEF ? a : b).u.undef : "value");
    return fail(E, S2_E_ARG, "ordering not supported between '%s' and '%s'", type_name(a), type_name(b));
}

/* ---- UTF-8 ---- */

/* The offset after the character at i: a well-formed sequence, or one byte (standing for itself) of a broken one,
 * as Python's surrogateescape would count it. */
static size_t u8_next(const char *s, size_t n, size_t i, uint32_t *cp) {
    uint32_t v;
    int len = s2_utf8_decode(s + i, n - i, &v);
    if (len == 0) len = 1, v = (unsigned char)s[i];
    if (cp) *cp = v;
    return i + (size_t)len;
}

static size_t u8_len(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i = u8_next(s, n, i, NULL)) k++;
    return k;
}

/* Byte offset of code point index k (clamped to n). */
static size_t u8_offset(const char *s, size_t n, int64_t k) {
    size_t i = 0;
    for (; k > 0 && i < n; k--) i = u8_next(s, n, i, NULL);
    return i;
}

static bool py_space(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 28 && c <= 32) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static bool cp_in(uint32_t c, const jv *chars) {
    if (chars == NULL) return py_space(c);
    for (size_t i = 0; i < chars->u.s.n;) {
        uint32_t d;
        i = u8_next(chars->u.s.p, chars->u.s.n, i, &d);
        if (c == d) return true;
    }
    return false;
}

/* Python's str.strip / lstrip / rstrip: chars NULL strips whitespace. */
static jv strip(jv s, const jv *chars, bool left, bool right) {
    const char *p = s.u.s.p;
    size_t a = 0, b = s.u.s.n;
    while (left && a < b) {
        uint32_t c;
        size_t nx = u8_next(p, b, a, &c);
        if (!cp_in(c, chars)) break;
        a = nx;
    }
    while (right && b > a) {
        size_t q = b - 1;
        while (q > a && ((unsigned char)p[q] & 0xC0) == 0x80) q--;
        uint32_t c;
        u8_next(p, b, q, &c);
        if (!cp_in(c, chars)) break;
        b = q;
    }
    return v_strn(p + a, b - a);
}

/* ---- str() and repr() ---- */

/* Python's repr of a float: the shortest digits that read back to x, fixed notation for exponents -4..15. */
static void fmt_float(double x, char *out, size_t cap) {
    if (isnan(x)) { snprintf(out, cap, "nan"); return; }
    if (isinf(x)) { snprintf(out, cap, x < 0 ? "-inf" : "inf"); return; }
    char buf[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
        if (strtod(buf, NULL) == x) break;
    }
    /* buf: [-]d[.ddd]e[+-]XX */
    char digits[24];
    int nd = 0, exp10 = 0;
    bool neg = buf[0] == '-';
    const char *p = buf + neg;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    if (*p == 'e') exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    size_t o = 0;
    if (neg) out[o++] = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            out[o++] = '0', out[o++] = '.';
            for (int k = -1; k > exp10; k--) out[o++] = '0';
            for (int k = 0; k < nd; k++) out[o++] = digits[k];
        } else {
            for (int k = 0; k <= exp10; k++) out[o++] = k < nd ? digits[k] : '0';
            out[o++] = '.';
            if (nd > exp10 + 1) for (int k = exp10 + 1; k < nd; k++) out[o++] = digits[k];
            else out[o++] = '0';
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int k = 1; k < nd; k++) out[o++] = digits[k];
        }
        snprintf(out + o, cap - o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
}

static bool put_repr_str(sb *b, jv s) {
    bool sq = memchr(s.u.s.p, '\'', s.u.s.n) == NULL || memchr(s.u.s.p, '"', s.u.s.n) != NULL;
    char q = sq ? '\'' : '"';
    bool ok = sb_put(b, &q, 1);
    for (size_t i = 0; ok && i < s.u.s.n; i++) {
        unsigned char c = (unsigned char)s.u.s.p[i];
        char esc[8];
        if (c == '\\' || c == (unsigned char)q) esc[0] = '\\', esc[1] = (char)c, ok = sb_put(b, esc, 2);
        else if (c == '\n') ok = sb_puts(b, "\\n");
        else if (c == '\r') ok = sb_puts(b, "\\r");
        else if (c == '\t') ok = sb_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f) snprintf(esc, sizeof esc, "\\x%02x", c), ok = sb_puts(b, esc);
        else ok = sb_put(b, (const char *)&c, 1);
    }
    return ok && sb_put(b, &q, 1);
}

static bool put_value(sb *b, jv v, bool repr) {
    char num[48];
    switch (v.k) {
    case JV_UNDEF: return repr ? sb_puts(b, "Undefined") : true; /* jinja2's Undefined: "" as str, its repr in lists */
    case JV_NONE: return sb_puts(b, "None");
    case JV_BOOL: return sb_puts(b, v.u.b ? "True" : "False");
    case JV_INT: snprintf(num, sizeof num, "%lld", (long long)v.u.i); return sb_puts(b, num);
    case JV_FLOAT: fmt_float(v.u.f, num, sizeof num); return sb_puts(b, num);
    case JV_STR: return repr ? put_repr_str(b, v) : sb_put(b, v.u.s.p, v.u.s.n);
    case JV_LIST: {
        static const char *const open_[] = {"[", "(", "dict_keys([", "dict_values([", "dict_items(["};
        static const char *const close_[] = {"]", ")", "])", "])", "])"};
        jv_seq k = v.u.l->kind;
        bool ok = sb_puts(b, open_[k]);
        for (size_t i = 0; ok && i < v.u.l->n; i++) ok = (i == 0 || sb_puts(b, ", ")) && put_value(b, v.u.l->v[i], true);
        if (k == JV_SEQ_TUPLE && v.u.l->n == 1) ok = ok && sb_puts(b, ",");
        return ok && sb_puts(b, close_[k]);
    }
    case JV_DICT: {
        if (v.u.d->ns) return sb_puts(b, "<Namespace>");
        bool ok = sb_puts(b, "{");
        for (size_t i = 0; ok && i < v.u.d->n; i++)
            ok = (i == 0 || sb_puts(b, ", ")) && put_value(b, v.u.d->keys[i], true) && sb_puts(b, ": ") &&
                 put_value(b, v.u.d->vals[i], true);
        return ok && sb_puts(b, "}");
    }
    case JV_FUNC: return sb_puts(b, "<function>");
    case JV_LOOP: return sb_puts(b, "<LoopContext>");
    }
    return true;
}

static s2_status sb_fail(ev *E, const sb *b) {
    return b->nomem ? fail(E, S2_E_NOMEM, "out of memory") : fail(E, S2_E_BUDGET, "output longer than %zu bytes", b->max);
}

/* A malloc'd builder's content as an arena string; frees the builder. */
static s2_status sb_finish(ev *E, sb *b, jv *out) {
    s2_status st = b->over ? sb_fail(E, b) : new_str(E, b->p ? b->p : "", b->n, out);
    free(b->p);
    return st;
}

static s2_status to_str(ev *E, jv v, jv *out) {
    if (v.k == JV_STR) {
        *out = v;
        return S2_OK;
    }
    sb b = {.max = E->max_output};
    put_value(&b, v, false);
    return sb_finish(E, &b, out);
}

/* ---- JSON, as Python's json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...) ---- */

typedef struct jsonfmt {
    int indent; /* < 0: none */
    jv item_sep, key_sep;
    bool sort_keys;
} jsonfmt;

static s2_status put_json(ev *E, sb *b, jv v, const jsonfmt *f, int level);

static bool put_json_str(sb *b, jv s) {
    bool ok = sb_puts(b, "\"");
    for (size_t i = 0; ok && i < s.u.s.n; i++) {
        unsigned char c = (unsigned char)s.u.s.p[i];
        char esc[8];
        if (c == '"') ok = sb_puts(b, "\\\"");
        else if (c == '\\') ok = sb_puts(b, "\\\\");
        else if (c == '\n') ok = sb_puts(b, "\\n");
        else if (c == '\r') ok = sb_puts(b, "\\r");
        else if (c == '\t') ok = sb_puts(b, "\\t");
        else if (c == '\b') ok = sb_puts(b, "\\b");
        else if (c == '\f') ok = sb_puts(b, "\\f");
        else if (c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", c), ok = sb_puts(b, esc);
        else ok = sb_put(b, (const char *)&c, 1);
    }
    return ok && sb_puts(b, "\"");
}

static bool put_newline_indent(sb *b, const jsonfmt *f, int level) {
    bool ok = sb_puts(b, "\n");
    for (int i = 0; ok && i < f->indent * level; i++) ok = sb_puts(b, " ");
    return ok;
}

static s2_status put_json(ev *E, sb *b, jv v, const jsonfmt *f, int level) {
    char num[48];
    if (++E->steps > E->max_steps) return fail(E, S2_E_BUDGET, "the template ran over %lld steps", (long long)E->max_steps);
    if (level > 100) return fail(E, S2_E_BUDGET, "tojson: value nested deeper than 100 levels");
    switch (v.k) {
    case JV_NONE: sb_puts(b, "null"); return S2_OK;
    case JV_BOOL: sb_puts(b, v.u.b ? "true" : "false"); return S2_OK;
    case JV_INT: snprintf(num, sizeof num, "%lld", (long long)v.u.i); sb_puts(b, num); return S2_OK;
    case JV_FLOAT:
        if (isnan(v.u.f)) sb_puts(b, "NaN");
        else if (isinf(v.u.f)) sb_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else fmt_float(v.u.f, num, sizeof num), sb_puts(b, num);
        return S2_OK;
    case JV_STR: put_json_str(b, v); return S2_OK;
    case JV_LIST: case JV_DICT: {
        bool list = v.k == JV_LIST;
        if (!list && v.u.d->ns) return fail(E, S2_E_ARG, "tojson: a Namespace is not JSON serializable");
        size_t n = list ? v.u.l->n : v.u.d->n;
        sb_puts(b, list ? "[" : "{");
        if (n == 0) {
            sb_puts(b, list ? "]" : "}");
            return S2_OK;
        }
        size_t *order = NULL;
        if (!list && f->sort_keys) {
            order = malloc(n * sizeof *order);
            if (order == NULL) return oom(E);
            for (size_t i = 0; i < n; i++) order[i] = i;
            for (size_t i = 1; i < n; i++) /* insertion sort: stable, and dicts in templates are small */
                for (size_t j = i; j > 0; j--) {
                    int r = 0;
                    s2_status st = py_cmp(E, v.u.d->keys[order[j - 1]], v.u.d->keys[order[j]], &r);
                    if (st != S2_OK) { free(order); return st; }
                    if (r <= 0) break;
                    size_t t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
                }
        }
        s2_status st = S2_OK;
        for (size_t k = 0; st == S2_OK && k < n; k++) {
            size_t i = order ? order[k] : k;
            if (k > 0) sb_put(b, f->item_sep.u.s.p, f->item_sep.u.s.n);
            if (f->indent >= 0) put_newline_indent(b, f, level + 1);
            if (list) {
                st = put_json(E, b, v.u.l->v[i], f, level + 1);
                continue;
            }
            jv key = v.u.d->keys[i];
            if (key.k == JV_STR) put_json_str(b, key);
            else if (key.k == JV_INT || key.k == JV_BOOL || key.k == JV_FLOAT || key.k == JV_NONE) {
                sb kb = {0};
                if (key.k == JV_BOOL) sb_puts(&kb, key.u.b ? "true" : "false");
                else if (key.k == JV_NONE) sb_puts(&kb, "null");
                else put_value(&kb, key, false);
                put_json_str(b, v_strn(kb.p ? kb.p : "", kb.n));
                free(kb.p);
            } else {
                st = fail(E, S2_E_ARG, "tojson: keys must be str, int, float, bool or None, not %s", type_name(key));
                break;
            }
            sb_put(b, f->key_sep.u.s.p, f->key_sep.u.s.n);
            st = put_json(E, b, v.u.d->vals[i], f, level + 1);
        }
        free(order);
        if (st != S2_OK) return st;
        if (f->indent >= 0) put_newline_indent(b, f, level);
        sb_puts(b, list ? "]" : "}");
        return S2_OK;
    }
    default: return fail(E, S2_E_ARG, "tojson: object of type %s is not JSON serializable", type_name(v));
    }
}

/* ---- arguments ---- */

typedef struct args {
    const jv *pos;
    int32_t npos;
    const char *const *kwn;
    const jv *kwv;
    int32_t nkw;
} args;

/* Binds a's arguments to the parameters names[0..np) into out (JV_UNDEF where not given). */
static s2_status bind(ev *E, const char *what, const args *a, const char *const *names, int32_t np, jv *out) {
    for (int32_t i = 0; i < np; i++) out[i] = UNDEF;
    if (a->npos > np) return fail(E, S2_E_ARG, "%s takes at most %d arguments (%d given)", what, np, a->npos);
    for (int32_t i = 0; i < a->npos; i++) out[i] = a->pos[i];
    for (int32_t k = 0; k < a->nkw; k++) {
        int32_t i = 0;
        while (i < np && strcmp(names[i], a->kwn[k]) != 0) i++;
        if (i == np) return fail(E, S2_E_ARG, "%s got an unexpected keyword argument '%s'", what, a->kwn[k]);
        if (i < a->npos) return fail(E, S2_E_ARG, "%s got multiple values for argument '%s'", what, a->kwn[k]);
        out[i] = a->kwv[k];
    }
    return S2_OK;
}

static s2_status need_str(ev *E, const char *what, jv v) {
    if (v.k == JV_STR) return S2_OK;
    if (v.k == JV_UNDEF) return fail(E, S2_E_ARG, "%s: '%s' is undefined", what, v.u.undef ? v.u.undef : "value");
    return fail(E, S2_E_ARG, "%s: expected a string, got %s", what, type_name(v));
}

static s2_status undefined_error(ev *E, jv v) {
    return fail(E, S2_E_ARG, "'%s' is undefined", v.u.undef ? v.u.undef : "value");
}

/* ---- attribute and item access ---- */

static const char *const STR_METHODS[] = {"startswith", "endswith", "strip", "lstrip", "rstrip", "split", "rsplit",
    "replace", "upper", "lower", "title", "capitalize", "find", "rfind", "count", "join", "splitlines", "isdigit",
    "isalpha", "isspace", "isupper", "islower", NULL};
static const char *const DICT_METHODS[] = {"items", "keys", "values", "get", NULL};
static const char *const UNSAFE_METHODS[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort",
    "clear", "update", "setdefault", "popitem", "add", "discard", NULL};

static bool in_list(const char *s, const char *const *l) {
    for (; *l; l++)
        if (strcmp(s, *l) == 0) return true;
    return false;
}

static s2_status method(ev *E, jv self, const char *name, jv *out) {
    jv_func *f = ja_alloc(E->a, sizeof *f);
    if (f == NULL) return oom(E);
    f->k = FK_METHOD, f->name = name, f->self = self;
    *out = (jv){.k = JV_FUNC, .u.fn = f};
    return S2_OK;
}

static s2_status get_item(ev *E, jv obj, jv key, jv *out);

/* obj.name as jinja2's sandbox does it: the Python attribute first (methods), then obj[name]. */
static s2_status get_attr(ev *E, jv obj, const char *name, jv *out) {
    *out = v_undef(name);
    switch (obj.k) {
    case JV_UNDEF: return fail(E, S2_E_ARG, "'%s' is undefined (reading its attribute '%s')", obj.u.undef ? obj.u.undef : "value", name);
    case JV_STR:
        if (in_list(name, STR_METHODS)) return method(E, obj, name, out);
        return S2_OK;
    case JV_LIST:
        if (in_list(name, UNSAFE_METHODS))
            return fail(E, S2_E_ARG, "access to attribute '%s' of 'list' object is unsafe (templates may not modify lists)", name);
        if (!strcmp(name, "count") || !strcmp(name, "index")) return method(E, obj, name, out);
        return S2_OK;
    case JV_DICT:
        if (!obj.u.d->ns) {
            if (in_list(name, DICT_METHODS)) return method(E, obj, name, out);
            if (in_list(name, UNSAFE_METHODS))
                return fail(E, S2_E_ARG, "access to attribute '%s' of 'dict' object is unsafe (templates may not modify dicts)", name);
        }
        return get_item(E, obj, v_strn(name, strlen(name)), out);
    case JV_LOOP: {
        const jv_loop *l = obj.u.loop;
        int64_t n = (int64_t)l->items->n, i = l->index0;
        if (!strcmp(name, "index")) *out = v_int(i + 1);
        else if (!strcmp(name, "index0")) *out = v_int(i);
        else if (!strcmp(name, "revindex")) *out = v_int(n - i);
        else if (!strcmp(name, "revindex0")) *out = v_int(n - i - 1);
        else if (!strcmp(name, "first")) *out = v_bool(i == 0);
        else if (!strcmp(name, "last")) *out = v_bool(i == n - 1);
        else if (!strcmp(name, "length")) *out = v_int(n);
        else if (!strcmp(name, "depth")) *out = v_int(l->depth0 + 1);
        else if (!strcmp(name, "depth0")) *out = v_int(l->depth0);
        else if (!strcmp(name, "previtem")) *out = i > 0 ? l->items->v[i - 1] : v_undef("previtem");
        else if (!strcmp(name, "nextitem")) *out = i + 1 < n ? l->items->v[i + 1] : v_undef("nextitem");
        else if (!strcmp(name, "cycle")) {
            jv_func *f = ja_alloc(E->a, sizeof *f);
            if (f == NULL) return oom(E);
            f->k = FK_CYCLE, f->name = "loop.cycle", f->loop = obj.u.loop;
            *out = (jv){.k = JV_FUNC, .u.fn = f};
        } else return fail(E, S2_E_UNSUPPORTED, "unsupported loop attribute 'loop.%s'", name);
        return S2_OK;
    }
    default: return S2_OK;
    }
}

static s2_status slice_bounds(ev *E, int64_t n, const jv *lo, const jv *hi, const jv *step, int64_t *a, int64_t *b,
                              int64_t *s) {
    *s = 1;
    if (step != NULL && step->k != JV_NONE) {
        if (!is_intlike(*step)) return fail(E, S2_E_ARG, "slice step must be an integer, not %s", type_name(*step));
        *s = as_int(*step);
        if (*s == 0) return fail(E, S2_E_ARG, "slice step cannot be zero");
    }
    const jv *ends[2] = {lo, hi};
    int64_t v[2];
    for (int k = 0; k < 2; k++) {
        if (ends[k] == NULL || ends[k]->k == JV_NONE) {
            v[k] = *s > 0 ? (k == 0 ? 0 : n) : (k == 0 ? n - 1 : -1);
            continue;
        }
        if (!is_intlike(*ends[k])) return fail(E, S2_E_ARG, "slice indices must be integers, not %s", type_name(*ends[k]));
        int64_t x = as_int(*ends[k]);
        if (x < 0) x += n;
        if (*s > 0) x = x < 0 ? 0 : x > n ? n : x;
        else x = x < -1 ? -1 : x > n - 1 ? n - 1 : x;
        v[k] = x;
    }
    *a = v[0], *b = v[1];
    return S2_OK;
}

static s2_status do_slice(ev *E, jv obj, const jv *lo, const jv *hi, const jv *step, jv *out) {
    if (obj.k == JV_UNDEF) return undefined_error(E, obj);
    /* jinja2 compiles a slice to Python's own subscript (not its lenient getitem): other types are an error */
    if (obj.k != JV_LIST && obj.k != JV_STR) return fail(E, S2_E_ARG, "'%s' object is not subscriptable", type_name(obj));
    bool str = obj.k == JV_STR;
    int64_t n = str ? (int64_t)u8_len(obj.u.s.p, obj.u.s.n) : (int64_t)obj.u.l->n, a = 0, b = 0, s = 1;
    s2_status st = slice_bounds(E, n, lo, hi, step, &a, &b, &s);
    if (st != S2_OK) return st;
    int64_t count = s > 0 ? (b > a ? (b - a + s - 1) / s : 0) : (a > b ? (a - b - s - 1) / -s : 0);
    if (!str) {
        if ((st = new_list(E, (size_t)count, out)) != S2_OK) return st;
        for (int64_t k = 0; k < count; k++) out->u.l->v[k] = obj.u.l->v[a + k * s];
        if (obj.u.l->kind == JV_SEQ_TUPLE) out->u.l->kind = JV_SEQ_TUPLE; /* a tuple's slice is a tuple */
        return S2_OK;
    }
    if (s == 1) { /* the common case: one span of bytes */
        size_t pa = u8_offset(obj.u.s.p, obj.u.s.n, a);
        size_t pb = u8_offset(obj.u.s.p, obj.u.s.n, b > a ? b : a);
        *out = v_strn(obj.u.s.p + pa, pb - pa);
        return S2_OK;
    }
    sb bld = {.max = E->max_output};
    for (int64_t k = 0; k < count; k++) {
        size_t p = u8_offset(obj.u.s.p, obj.u.s.n, a + k * s), q = u8_next(obj.u.s.p, obj.u.s.n, p, NULL);
        sb_put(&bld, obj.u.s.p + p, q - p);
    }
    return sb_finish(E, &bld, out);
}

static s2_status get_item(ev *E, jv obj, jv key, jv *out) {
    *out = v_undef("item");
    switch (obj.k) {
    case JV_UNDEF: return fail(E, S2_E_ARG, "'%s' is undefined (reading an item of it)", obj.u.undef ? obj.u.undef : "value");
    case JV_DICT: {
        jv *v = dict_find(obj.u.d, key);
        if (v != NULL) *out = *v;
        else if (key.k == JV_STR) *out = v_undef(ja_strndup(E->a, key.u.s.p, key.u.s.n));
        return S2_OK;
    }
    case JV_LIST: case JV_STR: {
        if (key.k == JV_STR) return obj.k == JV_STR ? get_attr(E, obj, ja_strndup(E->a, key.u.s.p, key.u.s.n), out) : S2_OK;
        if (!is_intlike(key)) return fail(E, S2_E_ARG, "indices must be integers, not %s", type_name(key));
        int64_t n = obj.k == JV_LIST ? (int64_t)obj.u.l->n : (int64_t)u8_len(obj.u.s.p, obj.u.s.n), i = as_int(key);
        if (i < 0) i += n;
        if (i < 0 || i >= n) return S2_OK; /* jinja2: an index out of range is undefined */
        if (obj.k == JV_LIST) *out = obj.u.l->v[i];
        else {
            size_t p = u8_offset(obj.u.s.p, obj.u.s.n, i);
            *out = v_strn(obj.u.s.p + p, u8_next(obj.u.s.p, obj.u.s.n, p, NULL) - p);
        }
        return S2_OK;
    }
    case JV_LOOP:
        if (key.k == JV_STR) return get_attr(E, obj, ja_strndup(E->a, key.u.s.p, key.u.s.n), out);
        return S2_OK;
    default: return S2_OK;
    }
}

/* ---- iteration ---- */

/* The items a for loop or a filter walks: a list's items, a dict's keys, a string's characters. */
static s2_status iter_items(ev *E, jv v, jv *out) {
    s2_status st;
    switch (v.k) {
    case JV_UNDEF: return new_list(E, 0, out);
    case JV_LIST: *out = v; return S2_OK;
    case JV_DICT:
        if (v.u.d->ns) return fail(E, S2_E_ARG, "'Namespace' object is not iterable");
        if ((st = new_list(E, v.u.d->n, out)) != S2_OK) return st;
        for (size_t i = 0; i < v.u.d->n; i++) out->u.l->v[i] = v.u.d->keys[i];
        return S2_OK;
    case JV_STR: {
        size_t n = u8_len(v.u.s.p, v.u.s.n), k = 0;
        if ((st = new_list(E, n, out)) != S2_OK) return st;
        for (size_t i = 0; i < v.u.s.n; k++) {
            size_t nx = u8_next(v.u.s.p, v.u.s.n, i, NULL);
            out->u.l->v[k] = v_strn(v.u.s.p + i, nx - i);
            i = nx;
        }
        return S2_OK;
    }
    default: return fail(E, S2_E_ARG, "'%s' object is not iterable", type_name(v));
    }
}

static s2_status dict_items(ev *E, jv d, jv *out) {
    s2_status st = new_list(E, d.u.d->n, out);
    for (size_t i = 0; st == S2_OK && i < d.u.d->n; i++) {
        jv pair;
        st = new_list(E, 2, &pair);
        if (st == S2_OK) pair.u.l->v[0] = d.u.d->keys[i], pair.u.l->v[1] = d.u.d->vals[i], out->u.l->v[i] = pair;
        if (st == S2_OK) pair.u.l->kind = JV_SEQ_TUPLE;
    }
    return st;
}

static s2_status length_of(ev *E, jv v, int64_t *n) {
    switch (v.k) {
    case JV_UNDEF: *n = 0; return S2_OK;
    case JV_STR: *n = (int64_t)u8_len(v.u.s.p, v.u.s.n); return S2_OK;
    case JV_LIST: *n = (int64_t)v.u.l->n; return S2_OK;
    case JV_DICT: if (!v.u.d->ns) { *n = (int64_t)v.u.d->n; return S2_OK; } break;
    default: break;
    }
    return fail(E, S2_E_ARG, "object of type '%s' has no len()", type_name(v));
}

/* ---- string methods ---- */

static s2_status str_split(ev *E, jv s, jv sep, int64_t maxsplit, bool from_right, jv *out) {
    size_t cap = 8, n = 0;
    jv *v = malloc(cap * sizeof *v);
    if (v == NULL) return oom(E);
    const char *p = s.u.s.p;
    size_t len = s.u.s.n;
    s2_status st = S2_OK;
#define PUSH(x)                                                      \
    do {                                                             \
        if (n == cap) {                                              \
            jv *nv = realloc(v, 2 * cap * sizeof *v);                \
            if (nv == NULL) { st = oom(E); goto done; }              \
            v = nv, cap *= 2;                                        \
        }                                                            \
        v[n++] = (x);                                                \
    } while (0)
    if (sep.k == JV_NONE || sep.k == JV_UNDEF) { /* runs of whitespace, no empty strings */
        if (from_right) { /* rsplit(None, k): split from the right */
            size_t b = len;
            while (b > 0) {
                while (b > 0 && py_space((unsigned char)p[b - 1])) b--;
                if (b == 0) break;
                size_t a = b;
                if (maxsplit >= 0 && (int64_t)n == maxsplit) {
                    PUSH(v_strn(p, b)); /* the rest as it is, leading whitespace included */
                    break;
                }
                while (a > 0 && !py_space((unsigned char)p[a - 1])) a--;
                PUSH(v_strn(p + a, b - a));
                b = a;
            }
            for (size_t i = 0; i < n / 2; i++) { jv t = v[i]; v[i] = v[n - 1 - i]; v[n - 1 - i] = t; }
        } else {
            size_t i = 0;
            while (i < len) {
                uint32_t c;
                size_t nx;
                while (i < len && (nx = u8_next(p, len, i, &c), py_space(c))) i = nx;
                if (i >= len) break;
                if (maxsplit >= 0 && (int64_t)n == maxsplit) {
                    PUSH(v_strn(p + i, len - i)); /* the rest as it is, trailing whitespace included */
                    break;
                }
                size_t a = i;
                while (i < len && (nx = u8_next(p, len, i, &c), !py_space(c))) i = nx;
                PUSH(v_strn(p + a, i - a));
            }
        }
    } else {
        if ((st = need_str(E, "split", sep)) != S2_OK) goto done;
        if (sep.u.s.n == 0) { st = fail(E, S2_E_ARG, "split: empty separator"); goto done; }
        const char *q = sep.u.s.p;
        size_t m = sep.u.s.n;
        if (!from_right) {
            size_t a = 0;
            for (size_t i = 0; i + m <= len;) {
                if ((maxsplit < 0 || (int64_t)n < maxsplit) && memcmp(p + i, q, m) == 0) {
                    PUSH(v_strn(p + a, i - a));
                    i += m, a = i;
                } else i++;
            }
            PUSH(v_strn(p + a, len - a));
        } else {
            size_t b = len;
            for (size_t i = len; i >= m;) {
                if ((maxsplit < 0 || (int64_t)n < maxsplit) && memcmp(p + i - m, q, m) == 0) {
                    PUSH(v_strn(p + i, b - i));
                    i -= m, b = i;
                } else i--;
            }
            PUSH(v_strn(p, b));
            for (size_t i = 0; i < n / 2; i++) { jv t = v[i]; v[i] = v[n - 1 - i]; v[n - 1 - i] = t; }
        }
    }
#undef PUSH
    if ((st = new_list(E, n, out)) == S2_OK && n > 0) memcpy(out->u.l->v, v, n * sizeof *v);
done:
    free(v);
    return st;
}

static s2_status str_replace(ev *E, jv s, jv old, jv new_, int64_t count, jv *out) {
    s2_status st;
    if ((st = need_str(E, "replace", old)) != S2_OK || (st = need_str(E, "replace", new_)) != S2_OK) return st;
    sb b = {.max = E->max_output};
    const char *p = s.u.s.p;
    size_t len = s.u.s.n, m = old.u.s.n;
    int64_t done = 0;
    if (m == 0) { /* Python inserts new between every character and at both ends */
        for (size_t i = 0;; ) {
            if (count < 0 || done < count) sb_put(&b, new_.u.s.p, new_.u.s.n), done++;
            if (i >= len) break;
            size_t nx = u8_next(p, len, i, NULL);
            sb_put(&b, p + i, nx - i);
            i = nx;
        }
    } else {
        size_t i = 0;
        while (i < len) {
            if (i + m <= len && (count < 0 || done < count) && memcmp(p + i, old.u.s.p, m) == 0) {
                sb_put(&b, new_.u.s.p, new_.u.s.n);
                i += m, done++;
            } else sb_put(&b, p + i++, 1);
        }
    }
    return sb_finish(E, &b, out);
}

static s2_status case_map(ev *E, jv s, int mode, jv *out) { /* 0 upper, 1 lower, 2 title, 3 capitalize: ASCII letters */
    char *o = ja_strndup(E->a, s.u.s.p, s.u.s.n);
    if (o == NULL) return oom(E);
    bool start = true;
    for (size_t i = 0; i < s.u.s.n; i++) {
        char c = o[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool up = mode == 0 || (mode == 2 && start) || (mode == 3 && i == 0);
        if (alpha) o[i] = up ? (char)(c & ~0x20) : (char)(c | 0x20);
        else if (mode == 0 || mode == 1) o[i] = c;
        start = !alpha && !((unsigned char)c >= 0x80);
    }
    *out = v_strn(o, s.u.s.n);
    return S2_OK;
}

static s2_status call_str_method(ev *E, jv s, const char *name, const args *a, jv *out) {
    jv p[3];
    s2_status st = S2_OK;
    char what[64];
    snprintf(what, sizeof what, "str.%s", name);
    if (!strcmp(name, "startswith") || !strcmp(name, "endswith")) {
        static const char *const nm[] = {"prefix", "start", "end"};
        if ((st = bind(E, what, a, nm, 3, p)) != S2_OK) return st;
        if (p[1].k != JV_UNDEF || p[2].k != JV_UNDEF) return fail(E, S2_E_UNSUPPORTED, "%s: start/end arguments are not supported", what);
        bool ends = name[0] == 'e', hit = false;
        size_t nalt = p[0].k == JV_LIST ? p[0].u.l->n : 1;
        for (size_t k = 0; k < nalt && !hit; k++) {
            jv x = p[0].k == JV_LIST ? p[0].u.l->v[k] : p[0];
            if ((st = need_str(E, what, x)) != S2_OK) return st;
            hit = x.u.s.n <= s.u.s.n &&
                  memcmp(s.u.s.p + (ends ? s.u.s.n - x.u.s.n : 0), x.u.s.p, x.u.s.n) == 0;
        }
        *out = v_bool(hit);
    } else if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
        static const char *const nm[] = {"chars"};
        if ((st = bind(E, what, a, nm, 1, p)) != S2_OK) return st;
        bool has = p[0].k != JV_UNDEF && p[0].k != JV_NONE;
        if (has && (st = need_str(E, what, p[0])) != S2_OK) return st;
        *out = strip(s, has ? &p[0] : NULL, name[0] != 'r', name[0] != 'l');
    } else if (!strcmp(name, "split") || !strcmp(name, "rsplit")) {
        static const char *const nm[] = {"sep", "maxsplit"};
        if ((st = bind(E, what, a, nm, 2, p)) != S2_OK) return st;
        if (p[1].k != JV_UNDEF && !is_intlike(p[1])) return fail(E, S2_E_ARG, "%s: maxsplit must be an integer", what);
        st = str_split(E, s, p[0], p[1].k == JV_UNDEF ? -1 : as_int(p[1]), name[0] == 'r', out);
    } else if (!strcmp(name, "replace")) {
        static const char *const nm[] = {"old", "new", "count"};
        if ((st = bind(E, what, a, nm, 3, p)) != S2_OK) return st;
        if (p[2].k != JV_UNDEF && !is_intlike(p[2])) return fail(E, S2_E_ARG, "%s: count must be an integer", what);
        st = str_replace(E, s, p[0], p[1], p[2].k == JV_UNDEF ? -1 : as_int(p[2]), out);
    } else if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "title") || !strcmp(name, "capitalize")) {
        if ((st = bind(E, what, a, NULL, 0, p)) != S2_OK) return st;
        st = case_map(E, s, name[0] == 'u' ? 0 : name[0] == 'l' ? 1 : name[0] == 't' ? 2 : 3, out);
    } else if (!strcmp(name, "find") || !strcmp(name, "rfind") || !strcmp(name, "count")) {
        static const char *const nm[] = {"sub"};
        if ((st = bind(E, what, a, nm, 1, p)) != S2_OK || (st = need_str(E, what, p[0])) != S2_OK) return st;
        int64_t found = -1, count = 0;
        size_t m = p[0].u.s.n;
        for (size_t i = 0; i + m <= s.u.s.n;) {
            if (memcmp(s.u.s.p + i, p[0].u.s.p, m) == 0) {
                if (found < 0 || name[0] == 'r') found = (int64_t)u8_len(s.u.s.p, i);
                count++;
                if (name[0] == 'f') break;
                i += m > 0 ? m : 1;
            } else i++;
        }
        *out = v_int(name[0] == 'c' ? count : found);
    } else if (!strcmp(name, "join")) {
        static const char *const nm[] = {"iterable"};
        jv items;
        if ((st = bind(E, what, a, nm, 1, p)) != S2_OK || (st = iter_items(E, p[0], &items)) != S2_OK) return st;
        sb b = {.max = E->max_output};
        for (size_t i = 0; i < items.u.l->n; i++) {
            if (items.u.l->v[i].k != JV_STR) {
                free(b.p);
                return fail(E, S2_E_ARG, "str.join: item %zu is %s, not a string", i, type_name(items.u.l->v[i]));
            }
            if (i > 0) sb_put(&b, s.u.s.p, s.u.s.n);
            sb_put(&b, items.u.l->v[i].u.s.p, items.u.l->v[i].u.s.n);
        }
        st = sb_finish(E, &b, out);
    } else if (!strcmp(name, "splitlines")) {
        if ((st = bind(E, what, a, NULL, 0, p)) != S2_OK) return st;
        jv parts;
        if ((st = str_split(E, s, v_strn("\n", 1), -1, false, &parts)) != S2_OK) return st;
        if (parts.u.l->n > 0 && parts.u.l->v[parts.u.l->n - 1].u.s.n == 0) parts.u.l->n--;
        for (size_t i = 0; i < parts.u.l->n; i++) { /* \r\n: drop the \r */
            jv *x = &parts.u.l->v[i];
            if (x->u.s.n > 0 && x->u.s.p[x->u.s.n - 1] == '\r') x->u.s.n--;
        }
        *out = parts;
    } else { /* isdigit isalpha isspace isupper islower, ASCII */
        if ((st = bind(E, what, a, NULL, 0, p)) != S2_OK) return st;
        bool ok = s.u.s.n > 0, any_cased = false;
        for (size_t i = 0; i < s.u.s.n; i++) {
            unsigned char c = (unsigned char)s.u.s.p[i];
            bool lo = c >= 'a' && c <= 'z', up = c >= 'A' && c <= 'Z';
            any_cased |= lo || up;
            if (!strcmp(name, "isdigit")) ok &= c >= '0' && c <= '9';
            else if (!strcmp(name, "isalpha")) ok &= lo || up;
            else if (!strcmp(name, "isspace")) ok &= py_space(c);
            else if (!strcmp(name, "isupper")) ok &= !lo;
            else ok &= !up;
        }
        if (!strcmp(name, "isupper") || !strcmp(name, "islower")) ok = ok && any_cased;
        *out = v_bool(ok);
    }
    return st;
}

static s2_status call_dict_method(ev *E, jv d, const char *name, const args *a, jv *out) {
    jv p[2];
    s2_status st;
    char what[64];
    snprintf(what, sizeof what, "dict.%s", name);
    if (!strcmp(name, "get")) {
        static const char *const nm[] = {"key", "default"};
        if ((st = bind(E, what, a, nm, 2, p)) != S2_OK) return st;
        jv *v = dict_find(d.u.d, p[0]);
        *out = v != NULL ? *v : p[1].k == JV_UNDEF ? (jv){.k = JV_NONE} : p[1];
        return S2_OK;
    }
    if ((st = bind(E, what, a, NULL, 0, p)) != S2_OK) return st;
    if (!strcmp(name, "items")) {
        if ((st = dict_items(E, d, out)) == S2_OK) out->u.l->kind = JV_SEQ_ITEMS;
        return st;
    }
    if ((st = new_list(E, d.u.d->n, out)) != S2_OK) return st;
    out->u.l->kind = name[0] == 'k' ? JV_SEQ_KEYS : JV_SEQ_VALUES;
    for (size_t i = 0; i < d.u.d->n; i++) out->u.l->v[i] = name[0] == 'k' ? d.u.d->keys[i] : d.u.d->vals[i];
    return S2_OK;
}

/* ---- tests ("x is defined") ---- */

static const char *const TESTS[] = {"defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
    "number", "string", "mapping", "iterable", "sequence", "callable", "even", "odd", "divisibleby", "eq", "equalto",
    "ne", "lt", "le", "gt", "ge", "lessthan", "greaterthan", "in", "sameas", "lower", "upper", NULL};

bool s2_jinja_test_known(const char *name) { return in_list(name, TESTS); }

static s2_status run_test(ev *E, const char *name, jv v, const args *a, bool *out) {
    static const char *const nm[] = {"other"};
    jv p[1];
    s2_status st = bind(E, name, a, nm, 1, p);
    if (st != S2_OK) return st;
    bool needs_arg = !strcmp(name, "divisibleby") || !strcmp(name, "eq") || !strcmp(name, "equalto") ||
                     !strcmp(name, "ne") || !strcmp(name, "lt") || !strcmp(name, "le") || !strcmp(name, "gt") ||
                     !strcmp(name, "ge") || !strcmp(name, "lessthan") || !strcmp(name, "greaterthan") ||
                     !strcmp(name, "in") || !strcmp(name, "sameas");
    if (needs_arg && a->npos + a->nkw == 0) return fail(E, S2_E_ARG, "test '%s' needs an argument", name);
    if (!needs_arg && a->npos + a->nkw > 0) return fail(E, S2_E_ARG, "test '%s' takes no argument", name);
    int r = 0;
    if (!strcmp(name, "defined")) *out = v.k != JV_UNDEF;
    else if (!strcmp(name, "undefined")) *out = v.k == JV_UNDEF;
    else if (!strcmp(name, "none")) *out = v.k == JV_NONE;
    else if (!strcmp(name, "boolean")) *out = v.k == JV_BOOL;
    else if (!strcmp(name, "true")) *out = v.k == JV_BOOL && v.u.b;
    else if (!strcmp(name, "false")) *out = v.k == JV_BOOL && !v.u.b;
    else if (!strcmp(name, "integer")) *out = v.k == JV_INT;
    else if (!strcmp(name, "float")) *out = v.k == JV_FLOAT;
    else if (!strcmp(name, "number")) *out = is_num(v);
    else if (!strcmp(name, "string")) *out = v.k == JV_STR;
    else if (!strcmp(name, "mapping")) *out = v.k == JV_DICT && !v.u.d->ns;
    else if (!strcmp(name, "iterable")) *out = v.k == JV_STR || v.k == JV_LIST || (v.k == JV_DICT && !v.u.d->ns) || v.k == JV_UNDEF;
    else if (!strcmp(name, "sequence")) *out = v.k == JV_STR || v.k == JV_LIST || (v.k == JV_DICT && !v.u.d->ns) || v.k == JV_UNDEF;
    else if (!strcmp(name, "callable")) *out = v.k == JV_FUNC || v.k == JV_UNDEF; /* Undefined has __call__ */
    else if (!strcmp(name, "even") || !strcmp(name, "odd")) {
        if (!is_intlike(v)) return fail(E, S2_E_ARG, "test '%s' needs an integer, not %s", name, type_name(v));
        *out = (as_int(v) % 2 == 0) == (name[0] == 'e');
    } else if (!strcmp(name, "divisibleby")) {
        if (!is_intlike(v) || !is_intlike(p[0]) || as_int(p[0]) == 0)
            return fail(E, S2_E_ARG, "test 'divisibleby' needs integers and a nonzero divisor");
        *out = as_int(v) % as_int(p[0]) == 0;
    } else if (!strcmp(name, "eq") || !strcmp(name, "equalto")) *out = py_eq(v, p[0]);
    else if (!strcmp(name, "ne")) *out = !py_eq(v, p[0]);
    else if (!strcmp(name, "sameas")) *out = (v.k == p[0].k && (v.k == JV_NONE || v.k == JV_UNDEF || (v.k == JV_BOOL && v.u.b == p[0].u.b))) ||
                                           (v.k == p[0].k && v.k >= JV_LIST && v.u.l == p[0].u.l);
    else if (!strcmp(name, "in")) {
        jv items;
        if (p[0].k == JV_STR) {
            if ((st = need_str(E, "in", v)) != S2_OK) return st;
            *out = v.u.s.n == 0 || memmem(p[0].u.s.p, p[0].u.s.n, v.u.s.p, v.u.s.n) != NULL;
            return S2_OK;
        }
        if ((st = iter_items(E, p[0], &items)) != S2_OK) return st;
        *out = false;
        for (size_t i = 0; i < items.u.l->n && !*out; i++) *out = py_eq(items.u.l->v[i], v);
    } else if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        if ((st = need_str(E, name, v)) != S2_OK) return st;
        bool lo = true, up = true;
        for (size_t i = 0; i < v.u.s.n; i++) {
            char c = v.u.s.p[i];
            if (c >= 'A' && c <= 'Z') lo = false;
            if (c >= 'a' && c <= 'z') up = false;
        }
        *out = name[0] == 'l' ? lo : up;
    } else { /* lt le gt ge lessthan greaterthan */
        if ((st = py_cmp(E, v, p[0], &r)) != S2_OK) return st;
        bool lt = !strcmp(name, "lt") || !strcmp(name, "lessthan"), gt = !strcmp(name, "gt") || !strcmp(name, "greaterthan");
        *out = lt ? r < 0 : gt ? r > 0 : !strcmp(name, "le") ? r <= 0 : r >= 0;
    }
    return S2_OK;
}

/* ---- filters ("x | trim") ---- */

static const char *const FILTERS[] = {"trim", "length", "count", "tojson", "items", "list", "first", "last", "join",
    "default", "d", "upper", "lower", "capitalize", "title", "replace", "string", "int", "float", "abs", "reverse",
    "selectattr", "rejectattr", "select", "reject", "map", "safe", "indent", "round", "sum", "unique", "dictsort",
    "wordcount", NULL};

bool s2_jinja_filter_known(const char *name) { return in_list(name, FILTERS); }

static s2_status apply_filter(ev *E, const char *name, jv v, const args *a, jv *out);

/* select/reject/selectattr/rejectattr: keep the items whose (attribute's) test passes (or fails). */
static s2_status filter_select(ev *E, const char *name, jv v, const args *a, jv *out) {
    bool attr = strstr(name, "attr") != NULL, keep = name[0] == 's';
    int32_t skip = attr ? 1 : 0;
    if (!truthy(v)) return new_list(E, 0, out); /* jinja2 walks the sequence only "if seq" */
    if (a->npos < skip) return fail(E, S2_E_ARG, "%s needs an attribute name", name);
    if (a->nkw > 0) return fail(E, S2_E_ARG, "%s takes no keyword arguments", name);
    jv items;
    s2_status st = iter_items(E, v, &items);
    if (st != S2_OK) return st;
    if (attr && (st = need_str(E, name, a->pos[0])) != S2_OK) return st;
    const char *test = NULL;
    if (a->npos > skip) {
        if ((st = need_str(E, name, a->pos[skip])) != S2_OK) return st;
        test = ja_strndup(E->a, a->pos[skip].u.s.p, a->pos[skip].u.s.n);
        if (test == NULL) return oom(E);
        if (!s2_jinja_test_known(test)) return fail(E, S2_E_UNSUPPORTED, "%s: unsupported test '%s'", name, test);
    }
    if ((st = new_list(E, items.u.l->n, out)) != S2_OK) return st;
    size_t k = 0;
    args targs = {.pos = a->pos + skip + 1, .npos = a->npos > skip + 1 ? a->npos - skip - 1 : 0};
    for (size_t i = 0; i < items.u.l->n; i++) {
        jv x = items.u.l->v[i];
        if (attr) {
            const char *an = ja_strndup(E->a, a->pos[0].u.s.p, a->pos[0].u.s.n);
            if (an == NULL) return oom(E);
            if (x.k == JV_UNDEF) x = v_undef(an);
            else if ((st = get_attr(E, x, an, &x)) != S2_OK) return st;
        }
        bool pass = truthy(x);
        if (test != NULL && (st = run_test(E, test, x, &targs, &pass)) != S2_OK) return st;
        if (pass == keep) out->u.l->v[k++] = items.u.l->v[i];
    }
    out->u.l->n = k;
    return S2_OK;
}

static s2_status apply_filter(ev *E, const char *name, jv v, const args *a, jv *out) {
    jv p[4];
    s2_status st = S2_OK;
    if (!strcmp(name, "trim")) {
        static const char *const nm[] = {"chars"};
        jv s;
        if ((st = bind(E, name, a, nm, 1, p)) != S2_OK || (st = to_str(E, v, &s)) != S2_OK) return st;
        bool has = p[0].k != JV_UNDEF && p[0].k != JV_NONE;
        if (has && (st = need_str(E, "trim", p[0])) != S2_OK) return st;
        *out = strip(s, has ? &p[0] : NULL, true, true);
    } else if (!strcmp(name, "length") || !strcmp(name, "count")) {
        int64_t n = 0;
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK || (st = length_of(E, v, &n)) != S2_OK) return st;
        *out = v_int(n);
    } else if (!strcmp(name, "tojson")) {
        static const char *const nm[] = {"indent", "separators", "sort_keys", "ensure_ascii"};
        if ((st = bind(E, name, a, nm, 4, p)) != S2_OK) return st;
        if (v.k == JV_UNDEF) return fail(E, S2_E_ARG, "tojson: '%s' is undefined", v.u.undef ? v.u.undef : "value");
        jsonfmt f = {.indent = -1, .item_sep = v_strn(", ", 2), .key_sep = v_strn(": ", 2), .sort_keys = truthy(p[2])};
        if (p[0].k != JV_UNDEF && p[0].k != JV_NONE) {
            if (!is_intlike(p[0]) || as_int(p[0]) < 0 || as_int(p[0]) > 64)
                return fail(E, S2_E_UNSUPPORTED, "tojson: indent must be an integer in [0, 64]");
            f.indent = (int)as_int(p[0]);
            f.item_sep = v_strn(",", 1);
        }
        if (p[1].k == JV_LIST && p[1].u.l->n == 2 && p[1].u.l->v[0].k == JV_STR && p[1].u.l->v[1].k == JV_STR)
            f.item_sep = p[1].u.l->v[0], f.key_sep = p[1].u.l->v[1];
        else if (p[1].k != JV_UNDEF && p[1].k != JV_NONE) return fail(E, S2_E_ARG, "tojson: separators must be two strings");
        if (p[3].k != JV_UNDEF && truthy(p[3])) return fail(E, S2_E_UNSUPPORTED, "tojson: ensure_ascii=true is not supported");
        sb b = {.max = E->max_output};
        st = put_json(E, &b, v, &f, 0);
        if (st != S2_OK) { free(b.p); return st; }
        st = sb_finish(E, &b, out);
    } else if (!strcmp(name, "items")) {
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK) return st;
        if (v.k == JV_UNDEF) return new_list(E, 0, out);
        if (v.k != JV_DICT || v.u.d->ns) return fail(E, S2_E_ARG, "items: expected a mapping, got %s", type_name(v));
        st = dict_items(E, v, out);
    } else if (!strcmp(name, "list")) {
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK || (st = iter_items(E, v, &p[0])) != S2_OK) return st;
        if ((st = new_list(E, p[0].u.l->n, out)) == S2_OK && p[0].u.l->n > 0)
            memcpy(out->u.l->v, p[0].u.l->v, p[0].u.l->n * sizeof(jv));
    } else if (!strcmp(name, "first") || !strcmp(name, "last")) {
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK || (st = iter_items(E, v, &p[0])) != S2_OK) return st;
        size_t n = p[0].u.l->n;
        *out = n == 0 ? v_undef(name) : p[0].u.l->v[name[0] == 'f' ? 0 : n - 1];
    } else if (!strcmp(name, "join")) {
        static const char *const nm[] = {"d", "attribute"};
        jv items, sep = v_strn("", 0);
        if ((st = bind(E, name, a, nm, 2, p)) != S2_OK || (st = iter_items(E, v, &items)) != S2_OK) return st;
        if (p[0].k != JV_UNDEF && (st = to_str(E, p[0], &sep)) != S2_OK) return st;
        const char *attr = NULL;
        if (p[1].k != JV_UNDEF) {
            if ((st = need_str(E, "join", p[1])) != S2_OK) return st;
            if ((attr = ja_strndup(E->a, p[1].u.s.p, p[1].u.s.n)) == NULL) return oom(E);
        }
        sb b = {.max = E->max_output};
        for (size_t i = 0; st == S2_OK && i < items.u.l->n; i++) {
            jv x = items.u.l->v[i];
            if (attr != NULL) st = get_attr(E, x, attr, &x);
            if (st == S2_OK && i > 0) sb_put(&b, sep.u.s.p, sep.u.s.n);
            if (st == S2_OK) put_value(&b, x, false);
        }
        if (st != S2_OK) { free(b.p); return st; }
        st = sb_finish(E, &b, out);
    } else if (!strcmp(name, "default") || !strcmp(name, "d")) {
        static const char *const nm[] = {"default_value", "boolean"};
        if ((st = bind(E, name, a, nm, 2, p)) != S2_OK) return st;
        bool use = v.k == JV_UNDEF || (truthy(p[1]) && !truthy(v));
        *out = use ? (p[0].k == JV_UNDEF ? v_strn("", 0) : p[0]) : v;
    } else if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "capitalize") || !strcmp(name, "title")) {
        jv s;
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK || (st = to_str(E, v, &s)) != S2_OK) return st;
        st = case_map(E, s, name[0] == 'u' ? 0 : name[0] == 'l' ? 1 : name[0] == 't' ? 2 : 3, out);
        if (st == S2_OK && name[0] == 'c') { /* capitalize: the rest lower case */
            char *o = (char *)out->u.s.p;
            for (size_t i = 1; i < out->u.s.n; i++) if (o[i] >= 'A' && o[i] <= 'Z') o[i] = (char)(o[i] | 0x20);
        }
    } else if (!strcmp(name, "replace")) {
        static const char *const nm[] = {"old", "new", "count"};
        jv s;
        if ((st = bind(E, name, a, nm, 3, p)) != S2_OK || (st = to_str(E, v, &s)) != S2_OK) return st;
        st = str_replace(E, s, p[0], p[1], p[2].k == JV_UNDEF || p[2].k == JV_NONE ? -1 : as_int(p[2]), out);
    } else if (!strcmp(name, "string") || !strcmp(name, "safe")) {
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK) return st;
        st = name[0] == 's' && name[1] == 'a' ? (*out = v, S2_OK) : to_str(E, v, out);
    } else if (!strcmp(name, "int") || !strcmp(name, "float")) {
        static const char *const nm[] = {"default"};
        if ((st = bind(E, name, a, nm, 1, p)) != S2_OK) return st;
        bool is_i = name[0] == 'i';
        if (v.k == JV_UNDEF) return undefined_error(E, v); /* int(Undefined) raises in jinja2 */
        jv dflt = p[0].k == JV_UNDEF ? (is_i ? v_int(0) : v_float(0.0)) : p[0];
        if (is_num(v)) *out = is_i ? v_int(v.k == JV_FLOAT ? (int64_t)v.u.f : as_int(v)) : v_float(as_float(v));
        else if (v.k == JV_STR) {
            char buf[64];
            jv s = strip(v, NULL, true, true);
            if (s.u.s.n == 0 || s.u.s.n >= sizeof buf) { *out = dflt; return S2_OK; }
            memcpy(buf, s.u.s.p, s.u.s.n), buf[s.u.s.n] = '\0';
            char *end;
            if (is_i) { long long x = strtoll(buf, &end, 10); *out = *end ? dflt : v_int(x); }
            else { double x = strtod(buf, &end); *out = *end ? dflt : v_float(x); }
        } else *out = dflt;
    } else if (!strcmp(name, "abs")) {
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK) return st;
        if (!is_num(v)) return fail(E, S2_E_ARG, "abs: bad operand type %s", type_name(v));
        *out = v.k == JV_FLOAT ? v_float(fabs(v.u.f)) : v_int(as_int(v) < 0 ? -as_int(v) : as_int(v));
    } else if (!strcmp(name, "reverse")) {
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK) return st;
        if (v.k == JV_STR) {
            jv step = v_int(-1);
            return do_slice(E, v, NULL, NULL, &step, out);
        }
        if ((st = iter_items(E, v, &p[0])) != S2_OK || (st = new_list(E, p[0].u.l->n, out)) != S2_OK) return st;
        for (size_t i = 0, n = p[0].u.l->n; i < n; i++) out->u.l->v[i] = p[0].u.l->v[n - 1 - i];
    } else if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr") || !strcmp(name, "select") || !strcmp(name, "reject")) {
        st = filter_select(E, name, v, a, out);
    } else if (!strcmp(name, "map")) {
        jv items;
        if (!truthy(v)) return new_list(E, 0, out); /* as select: jinja2 walks the sequence only "if seq" */
        if ((st = iter_items(E, v, &items)) != S2_OK || (st = new_list(E, items.u.l->n, out)) != S2_OK) return st;
        if (a->nkw > 0) { /* map(attribute='x', default=...) */
            static const char *const nm[] = {"attribute", "default"};
            if (a->npos > 0) return fail(E, S2_E_ARG, "map: attribute= and a filter name together");
            if ((st = bind(E, name, a, nm, 2, p)) != S2_OK || (st = need_str(E, "map", p[0])) != S2_OK) return st;
            const char *an = ja_strndup(E->a, p[0].u.s.p, p[0].u.s.n);
            if (an == NULL) return oom(E);
            for (size_t i = 0; st == S2_OK && i < items.u.l->n; i++) {
                st = get_attr(E, items.u.l->v[i], an, &out->u.l->v[i]);
                if (st == S2_OK && out->u.l->v[i].k == JV_UNDEF && p[1].k != JV_UNDEF) out->u.l->v[i] = p[1];
            }
        } else { /* map('filter', args...) */
            if (a->npos < 1 || (st = need_str(E, "map", a->pos[0])) != S2_OK)
                return st != S2_OK ? st : fail(E, S2_E_ARG, "map needs a filter name or attribute=");
            const char *fn = ja_strndup(E->a, a->pos[0].u.s.p, a->pos[0].u.s.n);
            if (fn == NULL) return oom(E);
            if (!s2_jinja_filter_known(fn)) return fail(E, S2_E_UNSUPPORTED, "map: unsupported filter '%s'", fn);
            args fa = {.pos = a->pos + 1, .npos = a->npos - 1};
            for (size_t i = 0; st == S2_OK && i < items.u.l->n; i++) st = apply_filter(E, fn, items.u.l->v[i], &fa, &out->u.l->v[i]);
        }
    } else if (!strcmp(name, "indent")) {
        static const char *const nm[] = {"width", "first", "blank"};
        jv s;
        if (v.k == JV_UNDEF) return undefined_error(E, v); /* jinja2's indent appends to it: Undefined refuses */
        if ((st = bind(E, name, a, nm, 3, p)) != S2_OK || (st = to_str(E, v, &s)) != S2_OK) return st;
        sb pad = {0}, b = {.max = E->max_output};
        if (p[0].k == JV_STR) sb_put(&pad, p[0].u.s.p, p[0].u.s.n);
        else for (int64_t i = 0, w = p[0].k == JV_UNDEF ? 4 : as_int(p[0]); i < w && i < 256; i++) sb_puts(&pad, " ");
        bool first = truthy(p[1]), blank = truthy(p[2]);
        jv lines;
        if ((st = str_split(E, s, v_strn("\n", 1), -1, false, &lines)) != S2_OK) { free(pad.p); return st; }
        for (size_t i = 0; i < lines.u.l->n; i++) {
            jv ln = lines.u.l->v[i];
            if (i > 0) sb_puts(&b, "\n");
            if ((i > 0 || first) && (blank || ln.u.s.n > 0)) sb_put(&b, pad.p ? pad.p : "", pad.n);
            sb_put(&b, ln.u.s.p, ln.u.s.n);
        }
        free(pad.p);
        st = sb_finish(E, &b, out);
    } else if (!strcmp(name, "round")) {
        static const char *const nm[] = {"precision", "method"};
        if ((st = bind(E, name, a, nm, 2, p)) != S2_OK) return st;
        if (!is_num(v)) return fail(E, S2_E_ARG, "round: expected a number, got %s", type_name(v));
        if (is_intlike(v) && (p[0].k == JV_UNDEF || (is_intlike(p[0]) && as_int(p[0]) >= 0))) {
            *out = v_int(as_int(v)); /* Python's round() of an int (or bool) is that int */
            return S2_OK;
        }
        if (p[1].k != JV_UNDEF && !str_eq(p[1], "common")) return fail(E, S2_E_UNSUPPORTED, "round: only method='common'");
        /* Python's round(): the exact binary value to the nearest, ties to even, which is what printf does */
        int64_t prec = p[0].k == JV_UNDEF ? 0 : as_int(p[0]);
        if (!is_intlike(p[0]) && p[0].k != JV_UNDEF) return fail(E, S2_E_ARG, "round: precision must be an integer");
        if (prec < 0 || prec > 300) return fail(E, S2_E_UNSUPPORTED, "round: precision %lld", (long long)prec);
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", (int)prec, as_float(v));
        *out = v_float(strtod(buf, NULL));
    } else if (!strcmp(name, "sum")) {
        jv items;
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK || (st = iter_items(E, v, &items)) != S2_OK) return st;
        jv acc = v_int(0);
        for (size_t i = 0; i < items.u.l->n; i++) {
            jv x = items.u.l->v[i];
            if (!is_num(x)) return fail(E, S2_E_ARG, "sum: item %zu is %s, not a number", i, type_name(x));
            acc = acc.k == JV_FLOAT || x.k == JV_FLOAT ? v_float(as_float(acc) + as_float(x)) : v_int(as_int(acc) + as_int(x));
        }
        *out = acc;
    } else if (!strcmp(name, "unique")) {
        jv items;
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK || (st = iter_items(E, v, &items)) != S2_OK ||
            (st = new_list(E, items.u.l->n, out)) != S2_OK) return st;
        size_t k = 0;
        for (size_t i = 0; i < items.u.l->n; i++) {
            bool seen = false;
            for (size_t j = 0; j < k && !seen; j++) seen = py_eq(out->u.l->v[j], items.u.l->v[i]);
            if (!seen) out->u.l->v[k++] = items.u.l->v[i];
        }
        out->u.l->n = k;
    } else if (!strcmp(name, "dictsort")) {
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK) return st;
        if (v.k != JV_DICT || v.u.d->ns) return fail(E, S2_E_ARG, "dictsort: expected a mapping, got %s", type_name(v));
        if ((st = dict_items(E, v, out)) != S2_OK) return st;
        jv *it = out->u.l->v;
        for (size_t i = 1; i < out->u.l->n; i++)
            for (size_t j = i; j > 0; j--) {
                int r = 0;
                jv ka = it[j - 1].u.l->v[0], kb = it[j].u.l->v[0];
                if (ka.k == JV_STR && kb.k == JV_STR) { /* case-insensitive, as jinja2's default */
                    size_t n = ka.u.s.n < kb.u.s.n ? ka.u.s.n : kb.u.s.n;
                    r = n ? strncasecmp(ka.u.s.p, kb.u.s.p, n) : 0;
                    if (r == 0) r = (ka.u.s.n > kb.u.s.n) - (ka.u.s.n < kb.u.s.n);
                } else if ((st = py_cmp(E, ka, kb, &r)) != S2_OK) return st;
                if (r <= 0) break;
                jv t = it[j]; it[j] = it[j - 1]; it[j - 1] = t;
            }
    } else { /* wordcount */
        jv s, words;
        if ((st = bind(E, name, a, NULL, 0, p)) != S2_OK || (st = to_str(E, v, &s)) != S2_OK ||
            (st = str_split(E, s, (jv){.k = JV_NONE}, -1, false, &words)) != S2_OK) return st;
        *out = v_int((int64_t)words.u.l->n);
    }
    return st;
}

/* ---- evaluation ---- */

static s2_status eval(ev *E, frame *f, const jnode *n, jv *out);
static s2_status exec(ev *E, frame *f, const jnode *n);

static s2_status step(ev *E, const jnode *n) {
    E->at = n;
    if (++E->steps > E->max_steps) return fail(E, S2_E_BUDGET, "the template ran over %lld steps", (long long)E->max_steps);
    return S2_OK;
}

static s2_status eval_args(ev *E, frame *f, const jnode *n, args *a) {
    int32_t np = n->n_kids, nk = n->n_kids2;
    jv *pv = ja_alloc(E->a, (size_t)(np + nk + 1) * sizeof *pv);
    if (pv == NULL) return oom(E);
    s2_status st = S2_OK;
    for (int32_t i = 0; st == S2_OK && i < np; i++) st = eval(E, f, n->kids[i], &pv[i]);
    for (int32_t i = 0; st == S2_OK && i < nk; i++) st = eval(E, f, n->kids2[i], &pv[np + i]);
    *a = (args){.pos = pv, .npos = np, .kwn = n->names, .kwv = pv + np, .nkw = nk};
    return st;
}

static s2_status call_macro(ev *E, const jv_func *fn, const args *a, jv *out) {
    const jnode *m = fn->macro;
    if (E->calls >= MAX_CALL_DEPTH) return fail(E, S2_E_BUDGET, "macro calls nested deeper than %d", MAX_CALL_DEPTH);
    jv *vals = ja_alloc(E->a, (size_t)(m->n_names + 1) * sizeof *vals);
    frame *mf = ja_alloc(E->a, sizeof *mf);
    if (vals == NULL || mf == NULL) return oom(E);
    s2_status st = bind(E, m->s, a, m->names, m->n_names, vals);
    mf->parent = fn->closure;
    for (int32_t i = 0; st == S2_OK && i < m->n_names; i++) {
        if (vals[i].k == JV_UNDEF && m->kids[i] != NULL) st = eval(E, fn->closure, m->kids[i], &vals[i]);
        if (st == S2_OK) st = frame_set(E, mf, m->names[i], vals[i]);
    }
    if (st != S2_OK) return st;
    sb *saved = E->out, cap = {.max = E->max_output};
    E->out = &cap;
    E->calls++;
    st = exec(E, mf, m->b);
    E->calls--;
    E->out = saved;
    E->flow = FLOW_NEXT;
    if (st != S2_OK) {
        free(cap.p);
        return st;
    }
    return sb_finish(E, &cap, out);
}

static s2_status call_global(ev *E, const char *name, const args *a, jv *out) {
    jv p[3];
    s2_status st;
    if (!strcmp(name, "range")) {
        static const char *const nm[] = {"a", "b", "c"};
        if ((st = bind(E, "range", a, nm, 3, p)) != S2_OK) return st;
        if (a->npos < 1) return fail(E, S2_E_ARG, "range expected at least 1 argument");
        for (int i = 0; i < a->npos; i++)
            if (!is_intlike(p[i])) return fail(E, S2_E_ARG, "range: '%s' object cannot be interpreted as an integer", type_name(p[i]));
        int64_t lo = a->npos == 1 ? 0 : as_int(p[0]), hi = a->npos == 1 ? as_int(p[0]) : as_int(p[1]);
        int64_t sp = a->npos == 3 ? as_int(p[2]) : 1;
        if (sp == 0) return fail(E, S2_E_ARG, "range() arg 3 must not be zero");
        double cnt = sp > 0 ? (hi > lo ? ceil(((double)hi - (double)lo) / (double)sp) : 0)
                            : (lo > hi ? ceil(((double)lo - (double)hi) / (double)-sp) : 0);
        if (cnt > MAX_RANGE) return fail(E, S2_E_BUDGET, "range of %.0f items (the sandbox allows %d)", cnt, MAX_RANGE);
        if ((st = new_list(E, (size_t)cnt, out)) != S2_OK) return st;
        for (size_t i = 0; i < (size_t)cnt; i++) out->u.l->v[i] = v_int(lo + (int64_t)i * sp);
        return S2_OK;
    }
    if (!strcmp(name, "namespace") || !strcmp(name, "dict")) {
        if ((st = new_dict(E, name[0] == 'n', out)) != S2_OK) return st;
        if (a->npos > 1) return fail(E, S2_E_ARG, "%s takes at most one positional argument", name);
        if (a->npos == 1) {
            if (a->pos[0].k != JV_DICT || a->pos[0].u.d->ns) return fail(E, S2_E_ARG, "%s: the positional argument must be a mapping", name);
            for (size_t i = 0; i < a->pos[0].u.d->n; i++)
                if ((st = dict_set(E, out->u.d, a->pos[0].u.d->keys[i], a->pos[0].u.d->vals[i])) != S2_OK) return st;
        }
        for (int32_t k = 0; k < a->nkw; k++)
            if ((st = dict_set(E, out->u.d, v_strn(a->kwn[k], strlen(a->kwn[k])), a->kwv[k])) != S2_OK) return st;
        return S2_OK;
    }
    if (!strcmp(name, "raise_exception")) {
        jv msg = v_strn("", 0);
        if (a->npos > 0 && (st = to_str(E, a->pos[0], &msg)) != S2_OK) return st;
        /* the template refused its input (a conversation it does not accept) */
        return fail(E, S2_E_ARG, "the template raised an exception: %.*s", (int)(msg.u.s.n > 160 ? 160 : msg.u.s.n), msg.u.s.p);
    }
    if (!strcmp(name, "strftime_now")) {
        static const char *const nm[] = {"format"};
        if ((st = bind(E, name, a, nm, 1, p)) != S2_OK || (st = need_str(E, name, p[0])) != S2_OK) return st;
        char fmtbuf[128], buf[256];
        if (p[0].u.s.n >= sizeof fmtbuf) return fail(E, S2_E_ARG, "strftime_now: format too long");
        memcpy(fmtbuf, p[0].u.s.p, p[0].u.s.n), fmtbuf[p[0].u.s.n] = '\0';
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        size_t n = strftime(buf, sizeof buf, fmtbuf, &tm);
        return new_str(E, buf, n, out);
    }
    return fail(E, S2_E_UNSUPPORTED, "unsupported function '%s'", name);
}

static s2_status call_value(ev *E, jv callee, const args *a, jv *out) {
    if (callee.k == JV_UNDEF) return fail(E, S2_E_ARG, "'%s' is undefined (called as a function)", callee.u.undef ? callee.u.undef : "value");
    if (callee.k != JV_FUNC) return fail(E, S2_E_ARG, "'%s' object is not callable", type_name(callee));
    const jv_func *fn = callee.u.fn;
    switch (fn->k) {
    case FK_GLOBAL: return call_global(E, fn->name, a, out);
    case FK_MACRO: return call_macro(E, fn, a, out);
    case FK_CYCLE:
        if (a->npos == 0 || a->nkw > 0) return fail(E, S2_E_ARG, "loop.cycle needs positional arguments");
        *out = a->pos[fn->loop->index0 % a->npos];
        return S2_OK;
    case FK_METHOD:
        if (fn->self.k == JV_STR) return call_str_method(E, fn->self, fn->name, a, out);
        if (fn->self.k == JV_LIST) { /* list.count(x), list.index(x) */
            static const char *const nm[] = {"value"};
            jv p[1];
            s2_status st = bind(E, fn->name, a, nm, 1, p);
            if (st != S2_OK) return st;
            int64_t count = 0, first = -1;
            for (size_t i = 0; i < fn->self.u.l->n; i++)
                if (py_eq(fn->self.u.l->v[i], p[0])) count++, first = first < 0 ? (int64_t)i : first;
            if (fn->name[0] == 'i' && first < 0) return fail(E, S2_E_ARG, "list.index(x): x not in list");
            *out = v_int(fn->name[0] == 'c' ? count : first);
            return S2_OK;
        }
        return call_dict_method(E, fn->self, fn->name, a, out);
    }
    return S2_OK;
}

static s2_status arith(ev *E, int op, jv x, jv y, jv *out) {
    if (op == JOP_CONCAT) {
        jv a, b;
        s2_status st = to_str(E, x, &a);
        if (st == S2_OK) st = to_str(E, y, &b);
        if (st != S2_OK) return st;
        sb s = {.max = E->max_output};
        sb_put(&s, a.u.s.p, a.u.s.n), sb_put(&s, b.u.s.p, b.u.s.n);
        return sb_finish(E, &s, out);
    }
    if (x.k == JV_UNDEF || y.k == JV_UNDEF) return undefined_error(E, x.k == JV_UNDEF ? x : y);
    static const char *const sym[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    if (is_num(x) && is_num(y)) {
        bool ints = is_intlike(x) && is_intlike(y);
        int64_t a = as_int(x), b = as_int(y), r = 0;
        double fa = as_float(x), fb = as_float(y);
        switch (op) {
        case JOP_ADD:
            if (!ints) { *out = v_float(fa + fb); return S2_OK; }
            if (__builtin_add_overflow(a, b, &r)) break;
            *out = v_int(r); return S2_OK;
        case JOP_SUB:
            if (!ints) { *out = v_float(fa - fb); return S2_OK; }
            if (__builtin_sub_overflow(a, b, &r)) break;
            *out = v_int(r); return S2_OK;
        case JOP_MUL:
            if (!ints) { *out = v_float(fa * fb); return S2_OK; }
            if (__builtin_mul_overflow(a, b, &r)) break;
            *out = v_int(r); return S2_OK;
        case JOP_DIV:
            if (fb == 0.0) return fail(E, S2_E_ARG, "division by zero");
            *out = v_float(fa / fb); return S2_OK;
        case JOP_FLOORDIV: case JOP_MOD:
            if (fb == 0.0) return fail(E, S2_E_ARG, "integer division or modulo by zero");
            if (ints) {
                if (a == INT64_MIN && b == -1) break;
                int64_t q = a / b, m = a % b;
                if (m != 0 && ((m < 0) != (b < 0))) q--, m += b;
                *out = v_int(op == JOP_FLOORDIV ? q : m);
            } else {
                double q = floor(fa / fb), m = fa - q * fb;
                *out = v_float(op == JOP_FLOORDIV ? q : m);
            }
            return S2_OK;
        case JOP_POW:
            if (ints && b >= 0) {
                int64_t acc = 1;
                bool ovf = false;
                for (int64_t k = 0; k < b && !ovf; k++) ovf = __builtin_mul_overflow(acc, a, &acc), ovf |= k > 64 && (a < -1 || a > 1);
                if (ovf) break;
                *out = v_int(acc);
            } else *out = v_float(pow(fa, fb));
            return S2_OK;
        }
        return fail(E, S2_E_UNSUPPORTED, "integer overflow in '%s'", sym[op]);
    }
    if (op == JOP_ADD && x.k == JV_STR && y.k == JV_STR) {
        sb s = {.max = E->max_output};
        sb_put(&s, x.u.s.p, x.u.s.n), sb_put(&s, y.u.s.p, y.u.s.n);
        return sb_finish(E, &s, out);
    }
    if (op == JOP_ADD && x.k == JV_LIST && y.k == JV_LIST) {
        s2_status st = new_list(E, x.u.l->n + y.u.l->n, out);
        if (st != S2_OK) return st;
        if (x.u.l->n) memcpy(out->u.l->v, x.u.l->v, x.u.l->n * sizeof(jv));
        if (y.u.l->n) memcpy(out->u.l->v + x.u.l->n, y.u.l->v, y.u.l->n * sizeof(jv));
        return S2_OK;
    }
    if (op == JOP_MUL && (x.k == JV_STR || x.k == JV_LIST) && is_intlike(y)) {
        int64_t k = as_int(y) < 0 ? 0 : as_int(y);
        size_t unit = x.k == JV_STR ? x.u.s.n : x.u.l->n;
        if (unit > 0 && (uint64_t)k > E->max_output / unit) return fail(E, S2_E_BUDGET, "a repetition longer than %zu", E->max_output);
        if (x.k == JV_STR) {
            sb s = {.max = E->max_output};
            for (int64_t i = 0; i < k; i++) sb_put(&s, x.u.s.p, x.u.s.n);
            return sb_finish(E, &s, out);
        }
        s2_status st = new_list(E, unit * (size_t)k, out);
        for (int64_t i = 0; st == S2_OK && i < k; i++) memcpy(out->u.l->v + (size_t)i * unit, x.u.l->v, unit * sizeof(jv));
        return st;
    }
    if (op == JOP_MOD && x.k == JV_STR) return fail(E, S2_E_UNSUPPORTED, "unsupported construct: '%%' string formatting");
    return fail(E, S2_E_ARG, "unsupported operand types for %s: '%s' and '%s'", sym[op], type_name(x), type_name(y));
}

static s2_status contains(ev *E, jv needle, jv hay, bool *out) {
    if (hay.k == JV_STR) {
        if (needle.k != JV_STR) return fail(E, S2_E_ARG, "'in <string>' requires a string as left operand, not %s", type_name(needle));
        *out = needle.u.s.n == 0 || memmem(hay.u.s.p, hay.u.s.n, needle.u.s.p, needle.u.s.n) != NULL;
        return S2_OK;
    }
    if (hay.k == JV_DICT && !hay.u.d->ns) {
        *out = dict_find(hay.u.d, needle) != NULL;
        return S2_OK;
    }
    if (hay.k == JV_LIST || hay.k == JV_UNDEF) {
        *out = false;
        for (size_t i = 0; hay.k == JV_LIST && i < hay.u.l->n && !*out; i++) *out = py_eq(hay.u.l->v[i], needle);
        return S2_OK;
    }
    return fail(E, S2_E_ARG, "argument of type '%s' is not iterable", type_name(hay));
}

static s2_status eval(ev *E, frame *f, const jnode *n, jv *out) {
    s2_status st = step(E, n);
    if (st != S2_OK) return st;
    jv a, b;
    switch (n->k) {
    case JN_LIT: *out = n->lit; return S2_OK;
    case JN_NAME: {
        jv *v = frame_find(f, n->s);
        *out = v != NULL ? *v : v_undef(n->s);
        return S2_OK;
    }
    case JN_ATTR:
        if ((st = eval(E, f, n->a, &a)) != S2_OK) return st;
        E->at = n;
        return get_attr(E, a, n->s, out);
    case JN_ITEM:
        if ((st = eval(E, f, n->a, &a)) != S2_OK || (st = eval(E, f, n->b, &b)) != S2_OK) return st;
        E->at = n;
        return get_item(E, a, b, out);
    case JN_SLICE: {
        jv lo, hi, sp;
        if ((st = eval(E, f, n->a, &a)) != S2_OK) return st;
        if (n->b && (st = eval(E, f, n->b, &lo)) != S2_OK) return st;
        if (n->c && (st = eval(E, f, n->c, &hi)) != S2_OK) return st;
        if (n->d && (st = eval(E, f, n->d, &sp)) != S2_OK) return st;
        E->at = n;
        return do_slice(E, a, n->b ? &lo : NULL, n->c ? &hi : NULL, n->d ? &sp : NULL, out);
    }
    case JN_CALL: {
        args ar;
        if ((st = eval(E, f, n->a, &a)) != S2_OK || (st = eval_args(E, f, n, &ar)) != S2_OK) return st;
        E->at = n;
        return call_value(E, a, &ar, out);
    }
    case JN_FILTER: {
        args ar;
        if ((st = eval(E, f, n->a, &a)) != S2_OK || (st = eval_args(E, f, n, &ar)) != S2_OK) return st;
        E->at = n;
        return apply_filter(E, n->s, a, &ar, out);
    }
    case JN_TEST: {
        args ar;
        bool r = false;
        if ((st = eval(E, f, n->a, &a)) != S2_OK || (st = eval_args(E, f, n, &ar)) != S2_OK) return st;
        E->at = n;
        if ((st = run_test(E, n->s, a, &ar, &r)) != S2_OK) return st;
        *out = v_bool(n->op ? !r : r);
        return S2_OK;
    }
    case JN_NEG: case JN_POS:
        if ((st = eval(E, f, n->a, &a)) != S2_OK) return st;
        E->at = n;
        if (!is_num(a)) return fail(E, S2_E_ARG, "bad operand type for unary %c: '%s'", n->k == JN_NEG ? '-' : '+', type_name(a));
        if (n->k == JN_POS) *out = a.k == JV_BOOL ? v_int(as_int(a)) : a;
        else if (a.k == JV_FLOAT) *out = v_float(-a.u.f);
        else if (as_int(a) == INT64_MIN) return fail(E, S2_E_UNSUPPORTED, "integer overflow in unary -");
        else *out = v_int(-as_int(a));
        return S2_OK;
    case JN_NOT:
        if ((st = eval(E, f, n->a, &a)) != S2_OK) return st;
        *out = v_bool(!truthy(a));
        return S2_OK;
    case JN_AND: case JN_OR: /* Python's: the deciding operand itself */
        if ((st = eval(E, f, n->a, &a)) != S2_OK) return st;
        if (truthy(a) == (n->k == JN_OR)) { *out = a; return S2_OK; }
        return eval(E, f, n->b, out);
    case JN_BINOP:
        if ((st = eval(E, f, n->a, &a)) != S2_OK || (st = eval(E, f, n->b, &b)) != S2_OK) return st;
        E->at = n;
        return arith(E, n->op, a, b, out);
    case JN_COMPARE: {
        if ((st = eval(E, f, n->a, &a)) != S2_OK) return st;
        for (int32_t i = 0; i < n->n_kids; i++) {
            if ((st = eval(E, f, n->kids[i], &b)) != S2_OK) return st;
            E->at = n;
            bool r = false;
            int c = 0, op = n->ops[i];
            if (op == JOP_EQ) r = py_eq(a, b);
            else if (op == JOP_NE) r = !py_eq(a, b);
            else if (op == JOP_IN || op == JOP_NOTIN) {
                if ((st = contains(E, a, b, &r)) != S2_OK) return st;
                if (op == JOP_NOTIN) r = !r;
            } else {
                if ((st = py_cmp(E, a, b, &c)) != S2_OK) return st;
                r = op == JOP_LT ? c < 0 : op == JOP_LE ? c <= 0 : op == JOP_GT ? c > 0 : c >= 0;
            }
            if (!r) { *out = v_bool(false); return S2_OK; }
            a = b;
        }
        *out = v_bool(true);
        return S2_OK;
    }
    case JN_COND:
        if ((st = eval(E, f, n->a, &a)) != S2_OK) return st;
        if (truthy(a)) return eval(E, f, n->b, out);
        if (n->c == NULL) { *out = v_undef("conditional expression"); return S2_OK; }
        return eval(E, f, n->c, out);
    case JN_LIST: case JN_TUPLE:
        if ((st = new_list(E, (size_t)n->n_kids, out)) != S2_OK) return st;
        if (n->k == JN_TUPLE) out->u.l->kind = JV_SEQ_TUPLE;
        for (int32_t i = 0; i < n->n_kids; i++)
            if ((st = eval(E, f, n->kids[i], &out->u.l->v[i])) != S2_OK) return st;
        return S2_OK;
    case JN_DICT:
        if ((st = new_dict(E, false, out)) != S2_OK) return st;
        for (int32_t i = 0; i < n->n_kids; i++) {
            if ((st = eval(E, f, n->kids[i], &a)) != S2_OK || (st = eval(E, f, n->kids2[i], &b)) != S2_OK) return st;
            if (a.k == JV_LIST || a.k == JV_DICT) return fail(E, S2_E_ARG, "unhashable type: '%s'", type_name(a));
            if ((st = dict_set(E, out->u.d, a, b)) != S2_OK) return st;
        }
        return S2_OK;
    default: return fail(E, S2_E_ARG, "internal: statement evaluated as an expression");
    }
}

static s2_status emit(ev *E, jv v) {
    bool ok = v.k == JV_STR ? sb_put(E->out, v.u.s.p, v.u.s.n) : put_value(E->out, v, false);
    return ok ? S2_OK : sb_fail(E, E->out);
}

static s2_status assign(ev *E, frame *f, const jnode *n, jv v) {
    if (n->n_names == 1) return frame_set(E, f, n->names[0], v);
    if (v.k != JV_LIST) {
        jv items;
        s2_status st = iter_items(E, v, &items);
        if (st != S2_OK) return st;
        v = items;
    }
    if ((int32_t)v.u.l->n != n->n_names)
        return fail(E, S2_E_ARG, "%s values to unpack (expected %d, got %zu)", (int32_t)v.u.l->n > n->n_names ? "too many" : "not enough",
                    n->n_names, v.u.l->n);
    for (int32_t i = 0; i < n->n_names; i++) {
        s2_status st = frame_set(E, f, n->names[i], v.u.l->v[i]);
        if (st != S2_OK) return st;
    }
    return S2_OK;
}

static s2_status exec_for(ev *E, frame *f, const jnode *n) {
    jv it, items;
    s2_status st = eval(E, f, n->a, &it);
    if (st == S2_OK) { E->at = n; st = iter_items(E, it, &items); }
    if (st != S2_OK) return st;
    if (n->d != NULL) { /* "for x in xs if cond": filter first, so that loop.length and loop.last see the result */
        jv kept;
        if ((st = new_list(E, items.u.l->n, &kept)) != S2_OK) return st;
        size_t k = 0;
        frame tf = {.parent = f};
        for (size_t i = 0; i < items.u.l->n; i++) {
            jv c;
            tf.n = 0;
            if ((st = assign(E, &tf, n, items.u.l->v[i])) != S2_OK || (st = eval(E, &tf, n->d, &c)) != S2_OK) return st;
            if (truthy(c)) kept.u.l->v[k++] = items.u.l->v[i];
        }
        kept.u.l->n = k;
        items = kept;
    }
    if (items.u.l->n == 0) return n->c != NULL ? exec(E, f, n->c) : S2_OK;
    jv_loop *lp = ja_alloc(E->a, sizeof *lp);
    frame *lf = ja_alloc(E->a, sizeof *lf);
    if (lp == NULL || lf == NULL) return oom(E);
    const jv *outer = frame_find(f, "loop");
    lp->items = items.u.l, lp->depth0 = outer != NULL && outer->k == JV_LOOP ? outer->u.loop->depth0 + 1 : 0;
    lf->parent = f;
    for (size_t i = 0; i < items.u.l->n; i++) {
        lp->index0 = (int64_t)i;
        lf->n = 0; /* each iteration starts with a fresh scope, as in jinja2 */
        if ((st = frame_set(E, lf, "loop", (jv){.k = JV_LOOP, .u.loop = lp})) != S2_OK) return st;
        if ((st = assign(E, lf, n, items.u.l->v[i])) != S2_OK) return st;
        if ((st = exec(E, lf, n->b)) != S2_OK) return st;
        flow fl = E->flow;
        E->flow = FLOW_NEXT;
        if (fl == FLOW_BREAK) break;
    }
    return S2_OK;
}

static s2_status exec(ev *E, frame *f, const jnode *n) {
    s2_status st = step(E, n);
    if (st != S2_OK) return st;
    switch (n->k) {
    case JN_BODY:
        for (int32_t i = 0; i < n->n_kids && st == S2_OK && E->flow == FLOW_NEXT; i++) st = exec(E, f, n->kids[i]);
        return st;
    case JN_TEXT:
        return sb_put(E->out, n->s, n->s_len) ? S2_OK : sb_fail(E, E->out);
    case JN_OUTPUT: {
        jv v;
        if ((st = eval(E, f, n->a, &v)) != S2_OK) return st;
        E->at = n;
        return emit(E, v);
    }
    case JN_IF: {
        jv c;
        if ((st = eval(E, f, n->a, &c)) != S2_OK) return st;
        if (truthy(c)) return exec(E, f, n->b);
        return n->c != NULL ? exec(E, f, n->c) : S2_OK;
    }
    case JN_FOR:
        if (E->loops >= 100) return fail(E, S2_E_BUDGET, "loops nested deeper than 100");
        E->loops++;
        st = exec_for(E, f, n);
        E->loops--;
        return st;
    case JN_SET: {
        jv v;
        if (n->a != NULL) st = eval(E, f, n->a, &v);
        else { /* {% set x %}...{% endset %} */
            sb *saved = E->out, cap = {.max = E->max_output};
            E->out = &cap;
            st = exec(E, f, n->b);
            E->out = saved;
            if (st != S2_OK) { free(cap.p); return st; }
            st = sb_finish(E, &cap, &v);
        }
        if (st != S2_OK) return st;
        E->at = n;
        if (n->op == 1) { /* ns.attr = v */
            jv *ns = frame_find(f, n->names[0]);
            if (ns == NULL || ns->k != JV_DICT || !ns->u.d->ns)
                return fail(E, S2_E_ARG, "cannot assign attribute '%s' on '%s': not a namespace", n->names[1], n->names[0]);
            return dict_set(E, ns->u.d, v_strn(n->names[1], strlen(n->names[1])), v);
        }
        return assign(E, f, n, v);
    }
    case JN_MACRO: {
        jv_func *fn = ja_alloc(E->a, sizeof *fn);
        if (fn == NULL) return oom(E);
        fn->k = FK_MACRO, fn->name = n->s, fn->macro = n, fn->closure = f;
        return frame_set(E, f, n->s, (jv){.k = JV_FUNC, .u.fn = fn});
    }
    case JN_BREAK: case JN_CONTINUE:
        if (E->loops == 0) return fail(E, S2_E_FORMAT, "'%s' outside a loop", n->k == JN_BREAK ? "break" : "continue");
        E->flow = n->k == JN_BREAK ? FLOW_BREAK : FLOW_CONTINUE;
        return S2_OK;
    default: return fail(E, S2_E_ARG, "internal: expression executed as a statement");
    }
}

/* ---- JSON values in, and the entry point ---- */

static s2_status from_json(ev *E, const json_t *j, int depth, jv *out) {
    if (depth > 64) return fail(E, S2_E_BUDGET, "template variables nested deeper than 64 levels");
    s2_status st = S2_OK;
    switch (json_typeof(j)) {
    case JSON_NULL: *out = (jv){.k = JV_NONE}; return S2_OK;
    case JSON_TRUE: *out = v_bool(true); return S2_OK;
    case JSON_FALSE: *out = v_bool(false); return S2_OK;
    case JSON_INTEGER: *out = v_int((int64_t)json_integer_value(j)); return S2_OK;
    case JSON_REAL: *out = v_float(json_real_value(j)); return S2_OK;
    case JSON_STRING: return new_str(E, json_string_value(j), json_string_length(j), out);
    case JSON_ARRAY:
        if ((st = new_list(E, json_array_size(j), out)) != S2_OK) return st;
        for (size_t i = 0; st == S2_OK && i < json_array_size(j); i++) st = from_json(E, json_array_get(j, i), depth + 1, &out->u.l->v[i]);
        return st;
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        if ((st = new_dict(E, false, out)) != S2_OK) return st;
        json_object_foreach((json_t *)j, key, val) {
            jv k, v;
            if ((st = new_str(E, key, strlen(key), &k)) != S2_OK || (st = from_json(E, val, depth + 1, &v)) != S2_OK ||
                (st = dict_set(E, out->u.d, k, v)) != S2_OK)
                return st;
        }
        return S2_OK;
    }
    }
    return S2_OK;
}

s2_status s2_jinja_render(const jnode *root, const json_t *vars, const s2_chat_limits *lim, char **out, size_t *len,
                          s2_error *err) {
    s2_chat_limits L = lim ? *lim : s2_chat_default_limits();
    ja_arena a = {.cap = L.max_memory};
    sb o = {.max = L.max_output};
    ev E = {.a = &a, .err = err, .out = &o, .max_output = L.max_output, .max_steps = L.max_steps};
    frame *g = ja_alloc(&a, sizeof *g);
    s2_status st = g != NULL ? S2_OK : oom(&E);
    static const char *const globals[] = {"range", "namespace", "raise_exception", "strftime_now", "dict"};
    for (size_t i = 0; st == S2_OK && i < sizeof globals / sizeof globals[0]; i++) {
        jv_func *fn = ja_alloc(&a, sizeof *fn);
        if (fn == NULL) { st = oom(&E); break; }
        fn->k = FK_GLOBAL, fn->name = globals[i];
        st = frame_set(&E, g, globals[i], (jv){.k = JV_FUNC, .u.fn = fn});
    }
    frame *top = ja_alloc(&a, sizeof *top);
    if (st == S2_OK && top == NULL) st = oom(&E);
    if (st == S2_OK) top->parent = g;
    if (st == S2_OK && vars != NULL) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)vars, key, val) {
            jv v;
            char *k = ja_strndup(&a, key, strlen(key));
            if (k == NULL) { st = oom(&E); break; }
            if ((st = from_json(&E, val, 0, &v)) != S2_OK || (st = frame_set(&E, top, k, v)) != S2_OK) break;
        }
    }
    if (st == S2_OK) st = exec(&E, top, root);
    ja_free_all(&a);
    if (st != S2_OK) {
        free(o.p);
        return st;
    }
    if (o.p == NULL && (o.p = calloc(1, 1)) == NULL) return s2_error_set(err, S2_E_NOMEM, "chat template: out of memory");
    *out = o.p;
    if (len != NULL) *len = o.n;
    return S2_OK;
}
