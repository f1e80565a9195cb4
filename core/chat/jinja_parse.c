/* jinja_parse.c: the arena, the lexer and the parser of the Jinja subset that chat templates use.
 *
 * The lexer follows jinja2's rules as transformers configures them (trim_blocks, lstrip_blocks): "{%-", "-%}",
 * "{{-", "-}}", "{#-", "-#}" strip the whitespace beside them; a block or comment tag alone on its line loses the
 * spaces before it, and the first newline after "%}" or "#}" is dropped; "{%+" and "+%}" turn that off. Inside a
 * tag, brackets are balanced before an end marker counts, so "{{ {'a': {'b': 1}} }}" lexes as jinja2 lexes it.
 * The parser builds the tree of jinja.h with jinja2's precedences (conditional < or < and < not < comparisons <
 * + - < ~ < * / // % < ** < unary < filters, tests and postfix). Anything it does not know (a tag, a filter, a
 * test, a character) is refused with its line and column; nothing here evaluates. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"
#include "unicode.h"

/* ---- arena ---- */

struct ja_chunk {
    ja_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void *ja_alloc(ja_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (a->cap > 0 && (a->used > a->cap || n > a->cap - a->used)) {
        a->capped = true;
        return NULL;
    }
    ja_chunk *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > 60000 ? n : 60000;
        c = malloc(sizeof *c + size);
        if (c == NULL) return NULL;
        c->size = size, c->used = 0, c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *ja_strndup(ja_arena *a, const char *s, size_t n) {
    char *p = ja_alloc(a, n + 1);
    if (p != NULL) {
        if (n > 0) memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void ja_free_all(ja_arena *a) {
    for (ja_chunk *c = a->head, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
    a->used = 0;
}

/* ---- lexer ---- */

typedef enum tk {
    TK_EOF, TK_TEXT, TK_VAR_BEGIN, TK_VAR_END, TK_BLOCK_BEGIN, TK_BLOCK_END,
    TK_NAME, TK_INT, TK_FLOAT, TK_STRING, TK_OP
} tk;

typedef struct tok {
    tk k;
    int32_t line, col;
    const char *s; /* TEXT, NAME, STRING (decoded), OP: arena-owned, NUL-terminated */
    size_t n;
    int64_t i;
    double f;
} tok;

#define MAX_DEPTH 100 /* brackets in a tag, nested blocks, nested expressions */

typedef struct lexer {
    ja_arena *a;
    const char *src;
    size_t pos, len;
    int32_t line, col;
    tok *toks;
    size_t n, cap;
    s2_error *err;
} lexer;

static s2_status lex_fail(lexer *L, s2_status st, int32_t line, int32_t col, const char *what) {
    return s2_error_set(L->err, st, "chat template line %d col %d: %s", line, col, what);
}

static void adv(lexer *L, size_t n) {
    for (size_t i = 0; i < n && L->pos < L->len; i++, L->pos++) {
        unsigned char c = (unsigned char)L->src[L->pos];
        if (c == '\n') L->line++, L->col = 1;
        else if ((c & 0xC0) != 0x80) L->col++; /* columns count characters, not UTF-8 continuation bytes */
    }
}

static s2_status push(lexer *L, tok t) {
    if (L->n == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 256;
        tok *nt = ja_alloc(L->a, cap * sizeof *nt);
        if (nt == NULL) return s2_error_set(L->err, S2_E_NOMEM, "chat template: out of memory (tokens)");
        if (L->n) memcpy(nt, L->toks, L->n * sizeof *nt);
        L->toks = nt, L->cap = cap;
    }
    L->toks[L->n++] = t;
    return S2_OK;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool at(const lexer *L, size_t p, const char *s) {
    size_t n = strlen(s);
    return p + n <= L->len && memcmp(L->src + p, s, n) == 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string literal at L->pos, decoded with Python's escapes (jinja2 runs "unicode-escape" over it). */
static s2_status lex_string(lexer *L, tok *t) {
    char q = L->src[L->pos];
    size_t p = L->pos + 1;
    while (p < L->len && L->src[p] != q) p += (L->src[p] == '\\' && p + 1 < L->len) ? 2 : 1;
    if (p >= L->len) return lex_fail(L, S2_E_FORMAT, t->line, t->col, "unterminated string");
    const char *s = L->src + L->pos + 1;
    size_t n = p - L->pos - 1, o = 0;
    char *out = ja_alloc(L->a, n + 1);
    if (out == NULL) return s2_error_set(L->err, S2_E_NOMEM, "chat template: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) { out[o++] = s[i]; continue; }
        char e = s[++i];
        int nhex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        switch (e) {
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'v': out[o++] = '\v'; break;
        case 'a': out[o++] = '\a'; break;
        case '\\': out[o++] = '\\'; break;
        case '\'': out[o++] = '\''; break;
        case '"': out[o++] = '"'; break;
        case '\n': break; /* a backslash-newline joins lines */
        case 'N': return lex_fail(L, S2_E_UNSUPPORTED, t->line, t->col, "unsupported escape \\N{...} in a string");
        default:
            if (nhex > 0) {
                uint32_t cp = 0;
                if (i + (size_t)nhex >= n)
                    return lex_fail(L, S2_E_FORMAT, t->line, t->col, "truncated \\x, \\u or \\U escape");
                for (int k = 1; k <= nhex; k++) {
                    int h = hexval(s[i + (size_t)k]);
                    if (h < 0) return lex_fail(L, S2_E_FORMAT, t->line, t->col, "bad \\x, \\u or \\U escape");
                    cp = cp * 16 + (uint32_t)h;
                }
                if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    return lex_fail(L, S2_E_UNSUPPORTED, t->line, t->col, "escape is not a Unicode scalar value");
                i += (size_t)nhex;
                o += (size_t)s2_utf8_encode(cp, out + o); /* at most 4 bytes for at least 4 source bytes */
            } else if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                    cp = cp * 8 + (uint32_t)(s[++i] - '0');
                o += (size_t)s2_utf8_encode(cp, out + o); /* < 0x200: 2 bytes for 2-4 source bytes */
            } else {
                out[o++] = '\\'; /* Python keeps an unknown escape as it is */
                out[o++] = e;
            }
        }
    }
    out[o] = '\0';
    t->k = TK_STRING, t->s = out, t->n = o;
    adv(L, p + 1 - L->pos);
    return S2_OK;
}

/* Tokens inside a tag, up to and including its end marker. block: "%}" ends it, else "}}". */
static s2_status lex_tag(lexer *L, bool block, bool *strip_after) {
    char stack[MAX_DEPTH];
    int depth = 0;
    for (;;) {
        while (L->pos < L->len && is_ws(L->src[L->pos])) adv(L, 1);
        tok t = {.line = L->line, .col = L->col};
        if (L->pos >= L->len)
            return lex_fail(L, S2_E_FORMAT, t.line, t.col, block ? "missing '%}'" : "missing '}}'");
        const char *end = block ? "%}" : "}}";
        if (depth == 0) {
            bool minus = L->src[L->pos] == '-' && at(L, L->pos + 1, end);
            bool plus = block && L->src[L->pos] == '+' && at(L, L->pos + 1, end);
            if (minus || plus || at(L, L->pos, end)) {
                adv(L, (minus || plus) ? 3 : 2);
                *strip_after = minus;
                if (block && !minus && !plus && L->pos < L->len && L->src[L->pos] == '\n') adv(L, 1); /* trim_blocks */
                t.k = block ? TK_BLOCK_END : TK_VAR_END;
                return push(L, t);
            }
        }
        char c = L->src[L->pos];
        s2_status st = S2_OK;
        if (isalpha((unsigned char)c) || c == '_') {
            size_t p = L->pos;
            while (p < L->len && (isalnum((unsigned char)L->src[p]) || L->src[p] == '_')) p++;
            t.k = TK_NAME, t.n = p - L->pos, t.s = ja_strndup(L->a, L->src + L->pos, t.n);
            if (t.s == NULL) return s2_error_set(L->err, S2_E_NOMEM, "chat template: out of memory");
            adv(L, t.n);
        } else if (isdigit((unsigned char)c)) {
            size_t p = L->pos;
            bool is_float = false;
            char buf[64];
            size_t bn = 0;
            while (p < L->len && (isdigit((unsigned char)L->src[p]) || L->src[p] == '_')) {
                if (L->src[p] != '_' && bn < sizeof buf - 1) buf[bn++] = L->src[p];
                p++;
            }
            if (p + 1 < L->len && L->src[p] == '.' && isdigit((unsigned char)L->src[p + 1])) {
                is_float = true;
                for (buf[bn++] = L->src[p++]; p < L->len && (isdigit((unsigned char)L->src[p]) || L->src[p] == '_'); p++)
                    if (L->src[p] != '_' && bn < sizeof buf - 1) buf[bn++] = L->src[p];
            }
            if (p < L->len && (L->src[p] == 'e' || L->src[p] == 'E')) {
                size_t q = p + 1;
                if (q < L->len && (L->src[q] == '+' || L->src[q] == '-')) q++;
                if (q < L->len && isdigit((unsigned char)L->src[q])) {
                    is_float = true;
                    for (; p < q; p++) if (bn < sizeof buf - 1) buf[bn++] = L->src[p];
                    for (; p < L->len && isdigit((unsigned char)L->src[p]); p++)
                        if (bn < sizeof buf - 1) buf[bn++] = L->src[p];
                }
            }
            buf[bn] = '\0';
            errno = 0;
            if (is_float) t.k = TK_FLOAT, t.f = strtod(buf, NULL);
            else t.k = TK_INT, t.i = strtoll(buf, NULL, 10);
            if (errno == ERANGE) return lex_fail(L, S2_E_UNSUPPORTED, t.line, t.col, "number out of range");
            adv(L, p - L->pos);
        } else if (c == '\'' || c == '"') {
            st = lex_string(L, &t);
        } else {
            static const char *const ops[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
                                              "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"};
            size_t k = 0, nops = sizeof ops / sizeof ops[0];
            while (k < nops && !at(L, L->pos, ops[k])) k++;
            if (k == nops) {
                char what[64];
                snprintf(what, sizeof what, (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f
                                                ? "unexpected character '%c'" : "unexpected byte 0x%02x",
                         (unsigned char)c);
                return lex_fail(L, S2_E_FORMAT, t.line, t.col, what);
            }
            t.k = TK_OP, t.s = ops[k], t.n = strlen(ops[k]);
            if (t.n == 1 && strchr("([{", c)) {
                if (depth == MAX_DEPTH) return lex_fail(L, S2_E_BUDGET, t.line, t.col, "brackets nested too deep");
                stack[depth++] = c == '(' ? ')' : c == '[' ? ']' : '}';
            } else if (t.n == 1 && strchr(")]}", c)) {
                if (depth == 0 || stack[depth - 1] != c) return lex_fail(L, S2_E_FORMAT, t.line, t.col, "unbalanced bracket");
                depth--;
            }
            adv(L, t.n);
        }
        if (st == S2_OK) st = push(L, t);
        if (st != S2_OK) return st;
    }
}

static s2_status lex(lexer *L) {
    bool strip_next = false; /* the previous tag ended with '-' */
    for (;;) {
        if (strip_next) while (L->pos < L->len && is_ws(L->src[L->pos])) adv(L, 1);
        size_t start = L->pos, p = start;
        int32_t line = L->line, col = L->col;
        while (p + 1 < L->len && !(L->src[p] == '{' && strchr("{%#", L->src[p + 1]) != NULL)) p++;
        if (p + 1 >= L->len) p = L->len;
        size_t end = p;
        char kind = p < L->len ? L->src[p + 1] : 0;
        char flag = p + 2 < L->len ? L->src[p + 2] : 0;
        if (kind != 0 && flag == '-') {
            while (end > start && is_ws(L->src[end - 1])) end--;
        } else if ((kind == '%' || kind == '#') && flag != '+') { /* lstrip_blocks */
            size_t q = end;
            while (q > start && (L->src[q - 1] == ' ' || L->src[q - 1] == '\t')) q--;
            if ((q > start && L->src[q - 1] == '\n') || (q == start && (start == 0 || L->src[start - 1] == '\n')))
                end = q;
        }
        if (end > start) {
            tok t = {.k = TK_TEXT, .line = line, .col = col, .n = end - start};
            t.s = ja_strndup(L->a, L->src + start, t.n);
            if (t.s == NULL) return s2_error_set(L->err, S2_E_NOMEM, "chat template: out of memory");
            s2_status st = push(L, t);
            if (st != S2_OK) return st;
        }
        adv(L, p - L->pos);
        if (kind == 0) return push(L, (tok){.k = TK_EOF, .line = L->line, .col = L->col});
        tok t = {.line = L->line, .col = L->col};
        adv(L, (flag == '-' || flag == '+') ? 3 : 2);
        strip_next = false;
        s2_status st = S2_OK;
        if (kind == '#') {
            size_t q = L->pos;
            while (q + 1 < L->len && !(L->src[q] == '#' && L->src[q + 1] == '}')) q++;
            if (q + 1 >= L->len) return lex_fail(L, S2_E_FORMAT, t.line, t.col, "unterminated comment '{#'");
            strip_next = q > L->pos && L->src[q - 1] == '-';
            bool plus = q > L->pos && L->src[q - 1] == '+';
            adv(L, q + 2 - L->pos);
            if (!strip_next && !plus && L->pos < L->len && L->src[L->pos] == '\n') adv(L, 1);
            continue;
        }
        t.k = kind == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN;
        st = push(L, t);
        if (st == S2_OK) st = lex_tag(L, kind == '%', &strip_next);
        if (st != S2_OK) return st;
    }
}

/* ---- parser ---- */

typedef struct parser {
    ja_arena *a;
    tok *t;
    size_t i, n;
    int depth;
    s2_error *err;
} parser;

static const tok *cur(const parser *P) { return &P->t[P->i]; }

static s2_status fail_at(parser *P, const tok *t, s2_status st, const char *fmt, const char *arg) {
    char what[200];
    snprintf(what, sizeof what, fmt, arg);
    return s2_error_set(P->err, st, "chat template line %d col %d: %s", t->line, t->col, what);
}

static const char *tok_desc(const tok *t) {
    switch (t->k) {
    case TK_EOF: return "the end of the template";
    case TK_TEXT: return "text";
    case TK_VAR_BEGIN: return "'{{'";
    case TK_VAR_END: return "'}}'";
    case TK_BLOCK_BEGIN: return "'{%'";
    case TK_BLOCK_END: return "'%}'";
    case TK_INT: case TK_FLOAT: return "a number";
    case TK_STRING: return "a string";
    case TK_NAME: case TK_OP: return t->s;
    }
    return "?";
}

static bool is_op(const parser *P, const char *op) { return cur(P)->k == TK_OP && strcmp(cur(P)->s, op) == 0; }
static bool is_name(const parser *P, const char *name) {
    return cur(P)->k == TK_NAME && strcmp(cur(P)->s, name) == 0;
}

static s2_status expect_op(parser *P, const char *op) {
    if (!is_op(P, op)) {
        char what[120];
        snprintf(what, sizeof what, "expected '%s', found %s", op, tok_desc(cur(P)));
        return fail_at(P, cur(P), S2_E_FORMAT, "%s", what);
    }
    P->i++;
    return S2_OK;
}

static jnode *node(parser *P, jn_kind k, const tok *t) {
    jnode *n = ja_alloc(P->a, sizeof *n);
    if (n == NULL) {
        s2_error_set(P->err, S2_E_NOMEM, "chat template: out of memory (syntax tree)");
        return NULL;
    }
    n->k = k, n->line = t->line, n->col = t->col;
    return n;
}

/* A growing array of node pointers in the arena. */
typedef struct nvec { jnode **v; int32_t n, cap; } nvec;
static s2_status nvec_push(parser *P, nvec *v, jnode *x) {
    if (v->n == v->cap) {
        int32_t cap = v->cap ? 2 * v->cap : 8;
        jnode **nv = ja_alloc(P->a, (size_t)cap * sizeof *nv);
        if (nv == NULL) return s2_error_set(P->err, S2_E_NOMEM, "chat template: out of memory (syntax tree)");
        if (v->n) memcpy(nv, v->v, (size_t)v->n * sizeof *nv);
        v->v = nv, v->cap = cap;
    }
    v->v[v->n++] = x;
    return S2_OK;
}

static s2_status parse_expr(parser *P, jnode **out);
static s2_status parse_unary(parser *P, bool with_filter, jnode **out);
static s2_status parse_math1(parser *P, jnode **out);

static s2_status enter(parser *P) {
    if (++P->depth > MAX_DEPTH) return fail_at(P, cur(P), S2_E_BUDGET, "nesting deeper than %s levels", "100");
    return S2_OK;
}

/* Arguments of a call, filter or test: positional, then name=value. At '(' on entry. */
static s2_status parse_args(parser *P, jnode *n) {
    nvec pos = {0}, kw = {0};
    const char **names = NULL;
    int32_t names_cap = 0;
    s2_status st = expect_op(P, "(");
    while (st == S2_OK && !is_op(P, ")")) {
        if (pos.n + kw.n > 0) {
            st = expect_op(P, ",");
            if (st != S2_OK || is_op(P, ")")) break;
        }
        jnode *e = NULL;
        if (cur(P)->k == TK_NAME && P->t[P->i + 1].k == TK_OP && strcmp(P->t[P->i + 1].s, "=") == 0) {
            const char *name = cur(P)->s;
            P->i += 2;
            st = parse_expr(P, &e);
            if (st != S2_OK) break;
            if (kw.n == names_cap) {
                names_cap = names_cap ? 2 * names_cap : 4;
                const char **nn = ja_alloc(P->a, (size_t)names_cap * sizeof *nn);
                if (nn == NULL) return s2_error_set(P->err, S2_E_NOMEM, "chat template: out of memory");
                if (kw.n) memcpy(nn, names, (size_t)kw.n * sizeof *nn);
                names = nn;
            }
            names[kw.n] = name;
            st = nvec_push(P, &kw, e);
        } else {
            if (kw.n > 0) return fail_at(P, cur(P), S2_E_FORMAT, "%s", "a positional argument after a keyword argument");
            st = parse_expr(P, &e);
            if (st == S2_OK) st = nvec_push(P, &pos, e);
        }
    }
    if (st == S2_OK) st = expect_op(P, ")");
    n->kids = pos.v, n->n_kids = pos.n, n->kids2 = kw.v, n->n_kids2 = kw.n, n->names = names, n->n_names = kw.n;
    return st;
}

static s2_status parse_primary(parser *P, jnode **out) {
    const tok *t = cur(P);
    s2_status st = enter(P);
    if (st != S2_OK) return st;
    jnode *n = NULL;
    if (t->k == TK_NAME) {
        const char *s = t->s;
        P->i++;
        n = node(P, JN_LIT, t);
        if (n == NULL) return S2_E_NOMEM;
        if (!strcmp(s, "true") || !strcmp(s, "True")) n->lit = (jv){.k = JV_BOOL, .u.b = true};
        else if (!strcmp(s, "false") || !strcmp(s, "False")) n->lit = (jv){.k = JV_BOOL, .u.b = false};
        else if (!strcmp(s, "none") || !strcmp(s, "None")) n->lit = (jv){.k = JV_NONE};
        else n->k = JN_NAME, n->s = s;
    } else if (t->k == TK_STRING) {
        /* adjacent literals are one string, as in Python */
        size_t len = 0, j = P->i;
        for (; P->t[j].k == TK_STRING; j++) len += P->t[j].n;
        char *s = ja_alloc(P->a, len + 1);
        if (s == NULL || (n = node(P, JN_LIT, t)) == NULL)
            return s2_error_set(P->err, S2_E_NOMEM, "chat template: out of memory");
        for (len = 0; P->i < j; P->i++) memcpy(s + len, P->t[P->i].s, P->t[P->i].n), len += P->t[P->i].n;
        n->lit = (jv){.k = JV_STR, .u.s = {s, len}};
    } else if (t->k == TK_INT || t->k == TK_FLOAT) {
        if ((n = node(P, JN_LIT, t)) == NULL) return S2_E_NOMEM;
        n->lit = t->k == TK_INT ? (jv){.k = JV_INT, .u.i = t->i} : (jv){.k = JV_FLOAT, .u.f = t->f};
        P->i++;
    } else if (t->k == TK_OP && (!strcmp(t->s, "(") || !strcmp(t->s, "["))) {
        bool paren = t->s[0] == '(';
        P->i++;
        nvec items = {0};
        bool comma = false;
        while (st == S2_OK && !is_op(P, paren ? ")" : "]")) {
            if (items.n > 0) {
                if ((st = expect_op(P, ",")) != S2_OK) break;
                comma = true;
                if (is_op(P, paren ? ")" : "]")) break;
            }
            jnode *e = NULL;
            st = parse_expr(P, &e);
            if (st == S2_OK) st = nvec_push(P, &items, e);
        }
        if (st == S2_OK) st = expect_op(P, paren ? ")" : "]");
        if (st != S2_OK) return st;
        if (paren && items.n == 1 && !comma) n = items.v[0]; /* (x) is x; (x,) is a tuple */
        else {
            if ((n = node(P, paren ? JN_TUPLE : JN_LIST, t)) == NULL) return S2_E_NOMEM;
            n->kids = items.v, n->n_kids = items.n;
        }
    } else if (t->k == TK_OP && !strcmp(t->s, "{")) {
        P->i++;
        nvec keys = {0}, vals = {0};
        while (st == S2_OK && !is_op(P, "}")) {
            if (keys.n > 0) {
                if ((st = expect_op(P, ",")) != S2_OK || is_op(P, "}")) break;
            }
            jnode *k = NULL, *v = NULL;
            st = parse_expr(P, &k);
            if (st == S2_OK) st = expect_op(P, ":");
            if (st == S2_OK) st = parse_expr(P, &v);
            if (st == S2_OK) st = nvec_push(P, &keys, k);
            if (st == S2_OK) st = nvec_push(P, &vals, v);
        }
        if (st == S2_OK) st = expect_op(P, "}");
        if (st != S2_OK) return st;
        if ((n = node(P, JN_DICT, t)) == NULL) return S2_E_NOMEM;
        n->kids = keys.v, n->n_kids = keys.n, n->kids2 = vals.v, n->n_kids2 = vals.n;
    } else {
        return fail_at(P, t, S2_E_FORMAT, "unexpected %s in an expression", tok_desc(t));
    }
    P->depth--;
    *out = n;
    return S2_OK;
}

static s2_status parse_postfix(parser *P, jnode **io) {
    s2_status st = S2_OK;
    for (;;) {
        const tok *t = cur(P);
        if (is_op(P, ".")) {
            P->i++;
            const tok *nt = cur(P);
            jnode *n = NULL;
            if (nt->k == TK_NAME) {
                if ((n = node(P, JN_ATTR, t)) == NULL) return S2_E_NOMEM;
                n->s = nt->s;
            } else if (nt->k == TK_INT) { /* x.0 is x[0] */
                if ((n = node(P, JN_ITEM, t)) == NULL || (n->b = node(P, JN_LIT, nt)) == NULL) return S2_E_NOMEM;
                n->b->lit = (jv){.k = JV_INT, .u.i = nt->i};
            } else {
                return fail_at(P, nt, S2_E_FORMAT, "expected a name after '.', found %s", tok_desc(nt));
            }
            P->i++;
            n->a = *io;
            *io = n;
        } else if (is_op(P, "[")) {
            P->i++;
            jnode *parts[3] = {NULL, NULL, NULL};
            int np = 0;
            bool slice = false;
            for (;;) {
                if (is_op(P, ":")) {
                    if (np == 2) return fail_at(P, cur(P), S2_E_FORMAT, "%s", "a slice has at most three parts");
                    slice = true, np++, P->i++;
                    continue;
                }
                if (is_op(P, "]")) break;
                if (parts[np] != NULL) return fail_at(P, cur(P), S2_E_FORMAT, "expected ']', found %s", tok_desc(cur(P)));
                if ((st = parse_expr(P, &parts[np])) != S2_OK) return st;
            }
            P->i++;
            jnode *n = node(P, slice ? JN_SLICE : JN_ITEM, t);
            if (n == NULL) return S2_E_NOMEM;
            if (!slice && parts[0] == NULL) return fail_at(P, t, S2_E_FORMAT, "%s", "empty subscript '[]'");
            n->a = *io, n->b = parts[0], n->c = parts[1], n->d = parts[2];
            *io = n;
        } else if (is_op(P, "(")) {
            jnode *n = node(P, JN_CALL, t);
            if (n == NULL) return S2_E_NOMEM;
            n->a = *io;
            if ((st = parse_args(P, n)) != S2_OK) return st;
            *io = n;
        } else {
            return S2_OK;
        }
    }
}

static s2_status parse_filter_expr(parser *P, jnode **io) {
    s2_status st = S2_OK;
    for (;;) {
        const tok *t = cur(P);
        if (is_op(P, "|")) {
            P->i++;
            const tok *nt = cur(P);
            if (nt->k != TK_NAME) return fail_at(P, nt, S2_E_FORMAT, "expected a filter name, found %s", tok_desc(nt));
            if (!s2_jinja_filter_known(nt->s)) return fail_at(P, nt, S2_E_UNSUPPORTED, "unsupported filter '%s'", nt->s);
            jnode *n = node(P, JN_FILTER, nt);
            if (n == NULL) return S2_E_NOMEM;
            n->s = nt->s, n->a = *io;
            P->i++;
            if (is_op(P, "(") && (st = parse_args(P, n)) != S2_OK) return st;
            *io = n;
        } else if (is_name(P, "is")) {
            P->i++;
            bool neg = is_name(P, "not");
            if (neg) P->i++;
            const tok *nt = cur(P);
            if (nt->k != TK_NAME) return fail_at(P, nt, S2_E_FORMAT, "expected a test name, found %s", tok_desc(nt));
            if (!s2_jinja_test_known(nt->s)) return fail_at(P, nt, S2_E_UNSUPPORTED, "unsupported test '%s'", nt->s);
            jnode *n = node(P, JN_TEST, t);
            if (n == NULL) return S2_E_NOMEM;
            n->s = nt->s, n->a = *io, n->op = neg;
            P->i++;
            const tok *at_ = cur(P);
            if (is_op(P, "(")) {
                if ((st = parse_args(P, n)) != S2_OK) return st;
            } else if ((at_->k == TK_NAME || at_->k == TK_STRING || at_->k == TK_INT || at_->k == TK_FLOAT ||
                        is_op(P, "[") || is_op(P, "{")) &&
                       !is_name(P, "else") && !is_name(P, "or") && !is_name(P, "and")) {
                jnode *arg = NULL; /* "x is sameas false": one argument without parentheses */
                if ((st = parse_primary(P, &arg)) != S2_OK || (st = parse_postfix(P, &arg)) != S2_OK) return st;
                n->kids = ja_alloc(P->a, sizeof *n->kids);
                if (n->kids == NULL) return s2_error_set(P->err, S2_E_NOMEM, "chat template: out of memory");
                n->kids[0] = arg, n->n_kids = 1;
            }
            *io = n;
        } else if (is_op(P, "(")) {
            jnode *n = node(P, JN_CALL, t);
            if (n == NULL) return S2_E_NOMEM;
            n->a = *io;
            if ((st = parse_args(P, n)) != S2_OK) return st;
            *io = n;
        } else {
            return S2_OK;
        }
    }
}

static s2_status parse_unary(parser *P, bool with_filter, jnode **out) {
    const tok *t = cur(P);
    s2_status st = enter(P);
    if (st != S2_OK) return st;
    jnode *n = NULL;
    if (is_op(P, "-") || is_op(P, "+")) {
        P->i++;
        if ((n = node(P, t->s[0] == '-' ? JN_NEG : JN_POS, t)) == NULL) return S2_E_NOMEM;
        st = parse_unary(P, false, &n->a);
    } else {
        st = parse_primary(P, &n);
    }
    if (st == S2_OK) st = parse_postfix(P, &n);
    if (st == S2_OK && with_filter) st = parse_filter_expr(P, &n);
    P->depth--;
    *out = n;
    return st;
}

static s2_status binop(parser *P, const tok *t, int op, jnode *a, jnode *b, jnode **out) {
    jnode *n = node(P, JN_BINOP, t);
    if (n == NULL) return S2_E_NOMEM;
    n->op = op, n->a = a, n->b = b;
    *out = n;
    return S2_OK;
}

static s2_status parse_pow(parser *P, jnode **out) {
    s2_status st = parse_unary(P, true, out);
    while (st == S2_OK && is_op(P, "**")) {
        const tok *t = cur(P);
        P->i++;
        jnode *r = NULL;
        st = parse_unary(P, true, &r);
        if (st == S2_OK) st = binop(P, t, JOP_POW, *out, r, out);
    }
    return st;
}

static s2_status parse_math2(parser *P, jnode **out) {
    s2_status st = parse_pow(P, out);
    for (;;) {
        int op = is_op(P, "*") ? JOP_MUL : is_op(P, "/") ? JOP_DIV : is_op(P, "//") ? JOP_FLOORDIV
               : is_op(P, "%") ? JOP_MOD : 0;
        if (st != S2_OK || op == 0) return st;
        const tok *t = cur(P);
        P->i++;
        jnode *r = NULL;
        st = parse_pow(P, &r);
        if (st == S2_OK) st = binop(P, t, op, *out, r, out);
    }
}

static s2_status parse_concat(parser *P, jnode **out) {
    s2_status st = parse_math2(P, out);
    while (st == S2_OK && is_op(P, "~")) {
        const tok *t = cur(P);
        P->i++;
        jnode *r = NULL;
        st = parse_math2(P, &r);
        if (st == S2_OK) st = binop(P, t, JOP_CONCAT, *out, r, out);
    }
    return st;
}

static s2_status parse_math1(parser *P, jnode **out) {
    s2_status st = parse_concat(P, out);
    for (;;) {
        int op = is_op(P, "+") ? JOP_ADD : is_op(P, "-") ? JOP_SUB : 0;
        if (st != S2_OK || op == 0) return st;
        const tok *t = cur(P);
        P->i++;
        jnode *r = NULL;
        st = parse_concat(P, &r);
        if (st == S2_OK) st = binop(P, t, op, *out, r, out);
    }
}

static s2_status parse_compare(parser *P, jnode **out) {
    const tok *t0 = cur(P);
    jnode *first = NULL;
    s2_status st = parse_math1(P, &first);
    nvec kids = {0};
    int32_t ops[64];
    for (;;) {
        int op = is_op(P, "==") ? JOP_EQ : is_op(P, "!=") ? JOP_NE : is_op(P, "<") ? JOP_LT : is_op(P, "<=") ? JOP_LE
               : is_op(P, ">") ? JOP_GT : is_op(P, ">=") ? JOP_GE : is_name(P, "in") ? JOP_IN : 0;
        if (op == 0 && is_name(P, "not") && P->t[P->i + 1].k == TK_NAME && !strcmp(P->t[P->i + 1].s, "in")) {
            op = JOP_NOTIN;
            P->i++;
        }
        if (st != S2_OK || op == 0) break;
        if (kids.n == 64) return fail_at(P, cur(P), S2_E_BUDGET, "%s", "more than 64 chained comparisons");
        P->i++;
        jnode *r = NULL;
        st = parse_math1(P, &r);
        if (st == S2_OK) st = nvec_push(P, &kids, r);
        if (st == S2_OK) ops[kids.n - 1] = op;
    }
    if (st != S2_OK) return st;
    if (kids.n == 0) {
        *out = first;
        return S2_OK;
    }
    jnode *n = node(P, JN_COMPARE, t0);
    if (n == NULL || (n->ops = ja_alloc(P->a, (size_t)kids.n * sizeof *n->ops)) == NULL) return S2_E_NOMEM;
    memcpy(n->ops, ops, (size_t)kids.n * sizeof *ops);
    n->a = first, n->kids = kids.v, n->n_kids = kids.n;
    *out = n;
    return S2_OK;
}

static s2_status parse_not(parser *P, jnode **out) {
    if (is_name(P, "not")) {
        const tok *t = cur(P);
        s2_status st = enter(P);
        if (st != S2_OK) return st;
        P->i++;
        jnode *n = node(P, JN_NOT, t);
        if (n == NULL) return S2_E_NOMEM;
        st = parse_not(P, &n->a);
        P->depth--;
        *out = n;
        return st;
    }
    return parse_compare(P, out);
}

/* A left-associative chain "x WORD y WORD z ..." of nodes of kind over operands parsed by next. */
static s2_status parse_chain(parser *P, jnode **out, const char *word, jn_kind kind,
                             s2_status (*next)(parser *, jnode **)) {
    s2_status st = next(P, out);
    while (st == S2_OK && is_name(P, word)) {
        jnode *n = node(P, kind, cur(P));
        if (n == NULL) return S2_E_NOMEM;
        P->i++;
        n->a = *out;
        st = next(P, &n->b);
        *out = n;
    }
    return st;
}

static s2_status parse_and(parser *P, jnode **out) { return parse_chain(P, out, "and", JN_AND, parse_not); }
static s2_status parse_or(parser *P, jnode **out) { return parse_chain(P, out, "or", JN_OR, parse_and); }

/* expr: or-expression, optionally "X if COND [else Y]" (Y missing: undefined). */
static s2_status parse_expr(parser *P, jnode **out) {
    s2_status st = enter(P);
    if (st == S2_OK) st = parse_or(P, out);
    while (st == S2_OK && is_name(P, "if")) {
        jnode *n = node(P, JN_COND, cur(P));
        if (n == NULL) return S2_E_NOMEM;
        P->i++;
        n->b = *out;
        st = parse_or(P, &n->a);
        if (st == S2_OK && is_name(P, "else")) {
            P->i++;
            st = parse_expr(P, &n->c);
        }
        *out = n;
    }
    P->depth--;
    return st;
}

/* Targets of for / set: NAME or NAME, NAME ... (optionally in parentheses). */
static s2_status parse_targets(parser *P, jnode *n) {
    bool paren = is_op(P, "(");
    if (paren) P->i++;
    const char *names[16];
    int32_t k = 0;
    for (;;) {
        if (cur(P)->k != TK_NAME) return fail_at(P, cur(P), S2_E_FORMAT, "expected a name, found %s", tok_desc(cur(P)));
        if (k == 16) return fail_at(P, cur(P), S2_E_UNSUPPORTED, "%s", "more than 16 names to unpack");
        names[k++] = cur(P)->s;
        P->i++;
        if (!is_op(P, ",")) break;
        P->i++;
    }
    if (paren) {
        s2_status st = expect_op(P, ")");
        if (st != S2_OK) return st;
    }
    n->names = ja_alloc(P->a, (size_t)k * sizeof *n->names);
    if (n->names == NULL) return s2_error_set(P->err, S2_E_NOMEM, "chat template: out of memory");
    memcpy(n->names, names, (size_t)k * sizeof *names);
    n->n_names = k;
    return S2_OK;
}

static s2_status expect_block_end(parser *P) {
    if (cur(P)->k != TK_BLOCK_END)
        return fail_at(P, cur(P), S2_E_FORMAT, "expected '%%}', found %s", tok_desc(cur(P)));
    P->i++;
    return S2_OK;
}

/* Statements until a block tag whose name is one of ends (NULL-terminated list; NULL: until the end of the
 * template). On return P is at that name (just after its '{%'). */
static s2_status parse_body(parser *P, const char *const *ends, jnode **out);

static bool name_in(const char *s, const char *const *list) {
    for (; list != NULL && *list != NULL; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static s2_status parse_if(parser *P, const tok *t, jnode **out) {
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    static const char *const end_only[] = {"endif", NULL};
    jnode *n = node(P, JN_IF, t);
    if (n == NULL) return S2_E_NOMEM;
    s2_status st = parse_expr(P, &n->a);
    if (st == S2_OK) st = expect_block_end(P);
    if (st == S2_OK) st = parse_body(P, ends, &n->b);
    if (st != S2_OK) return st;
    const tok *et = cur(P);
    P->i++;
    if (!strcmp(et->s, "elif")) {
        st = parse_if(P, et, &n->c);
    } else if (!strcmp(et->s, "else")) {
        st = expect_block_end(P);
        if (st == S2_OK) st = parse_body(P, end_only, &n->c);
        if (st == S2_OK) P->i++;
        if (st == S2_OK) st = expect_block_end(P);
    } else {
        st = expect_block_end(P);
    }
    *out = n;
    return st;
}

static s2_status parse_for(parser *P, const tok *t, jnode **out) {
    static const char *const ends[] = {"else", "endfor", NULL};
    static const char *const end_only[] = {"endfor", NULL};
    jnode *n = node(P, JN_FOR, t);
    if (n == NULL) return S2_E_NOMEM;
    s2_status st = parse_targets(P, n);
    if (st == S2_OK && !is_name(P, "in")) st = fail_at(P, cur(P), S2_E_FORMAT, "expected 'in', found %s", tok_desc(cur(P)));
    if (st != S2_OK) return st;
    P->i++;
    st = parse_or(P, &n->a); /* "for x in xs if cond": the condition is a filter, not a conditional expression */
    if (st == S2_OK && is_name(P, "if")) {
        P->i++;
        st = parse_expr(P, &n->d);
    }
    if (st == S2_OK && is_name(P, "recursive"))
        st = fail_at(P, cur(P), S2_E_UNSUPPORTED, "unsupported construct '%s' (recursive loops)", "recursive");
    if (st == S2_OK) st = expect_block_end(P);
    if (st == S2_OK) st = parse_body(P, ends, &n->b);
    if (st != S2_OK) return st;
    if (is_name(P, "else")) {
        P->i++;
        st = expect_block_end(P);
        if (st == S2_OK) st = parse_body(P, end_only, &n->c);
        if (st != S2_OK) return st;
    }
    P->i++;
    *out = n;
    return expect_block_end(P);
}

static s2_status parse_set(parser *P, const tok *t, jnode **out) {
    static const char *const ends[] = {"endset", NULL};
    jnode *n = node(P, JN_SET, t);
    if (n == NULL) return S2_E_NOMEM;
    s2_status st;
    if (cur(P)->k == TK_NAME && P->t[P->i + 1].k == TK_OP && !strcmp(P->t[P->i + 1].s, ".")) {
        const tok *at_ = &P->t[P->i + 2];
        if (at_->k != TK_NAME) return fail_at(P, at_, S2_E_FORMAT, "expected an attribute name, found %s", tok_desc(at_));
        n->names = ja_alloc(P->a, 2 * sizeof *n->names);
        if (n->names == NULL) return s2_error_set(P->err, S2_E_NOMEM, "chat template: out of memory");
        n->names[0] = cur(P)->s, n->names[1] = at_->s, n->n_names = 1, n->op = 1; /* op 1: ns.attr */
        P->i += 3;
        st = S2_OK;
    } else {
        st = parse_targets(P, n);
    }
    if (st != S2_OK) return st;
    if (is_op(P, "=")) {
        P->i++;
        st = parse_expr(P, &n->a);
        if (st == S2_OK && is_op(P, ",")) { /* set a, b = x, y: the value is a tuple */
            jnode *tup = node(P, JN_TUPLE, cur(P));
            nvec items = {0};
            if (tup == NULL) return S2_E_NOMEM;
            st = nvec_push(P, &items, n->a);
            while (st == S2_OK && is_op(P, ",")) {
                P->i++;
                jnode *e = NULL;
                st = parse_expr(P, &e);
                if (st == S2_OK) st = nvec_push(P, &items, e);
            }
            tup->kids = items.v, tup->n_kids = items.n;
            n->a = tup;
        }
        if (st == S2_OK) st = expect_block_end(P);
    } else {
        if (n->n_names != 1 || n->op == 1)
            return fail_at(P, cur(P), S2_E_FORMAT, "expected '=', found %s", tok_desc(cur(P)));
        if (is_op(P, "|")) return fail_at(P, cur(P), S2_E_UNSUPPORTED, "%s", "unsupported construct: a filtered block set");
        st = expect_block_end(P);
        if (st == S2_OK) st = parse_body(P, ends, &n->b);
        if (st == S2_OK) P->i++;
        if (st == S2_OK) st = expect_block_end(P);
    }
    *out = n;
    return st;
}

static s2_status parse_macro(parser *P, const tok *t, jnode **out) {
    static const char *const ends[] = {"endmacro", NULL};
    jnode *n = node(P, JN_MACRO, t);
    if (n == NULL) return S2_E_NOMEM;
    if (cur(P)->k != TK_NAME) return fail_at(P, cur(P), S2_E_FORMAT, "expected a macro name, found %s", tok_desc(cur(P)));
    n->s = cur(P)->s;
    P->i++;
    jnode *sig = node(P, JN_CALL, t);
    if (sig == NULL) return S2_E_NOMEM;
    s2_status st = parse_args(P, sig);
    if (st != S2_OK) return st;
    /* parameters: positional ones must be bare names; name=default gives a default */
    int32_t np = sig->n_kids + sig->n_kids2;
    n->names = ja_alloc(P->a, (size_t)(np > 0 ? np : 1) * sizeof *n->names);
    n->kids = ja_alloc(P->a, (size_t)(np > 0 ? np : 1) * sizeof *n->kids);
    if (n->names == NULL || n->kids == NULL) return s2_error_set(P->err, S2_E_NOMEM, "chat template: out of memory");
    for (int32_t i = 0; i < sig->n_kids; i++) {
        if (sig->kids[i]->k != JN_NAME) return fail_at(P, t, S2_E_FORMAT, "macro '%s': a parameter is not a name", n->s);
        n->names[i] = sig->kids[i]->s;
    }
    for (int32_t i = 0; i < sig->n_kids2; i++) n->names[sig->n_kids + i] = sig->names[i], n->kids[sig->n_kids + i] = sig->kids2[i];
    n->n_names = n->n_kids = np;
    st = expect_block_end(P);
    if (st == S2_OK) st = parse_body(P, ends, &n->b);
    if (st == S2_OK) P->i++;
    if (st == S2_OK) st = expect_block_end(P);
    *out = n;
    return st;
}

static s2_status parse_body(parser *P, const char *const *ends, jnode **out) {
    const tok *t0 = cur(P);
    jnode *body = node(P, JN_BODY, t0);
    if (body == NULL) return S2_E_NOMEM;
    s2_status st = enter(P);
    nvec kids = {0};
    while (st == S2_OK) {
        const tok *t = cur(P);
        jnode *n = NULL;
        if (t->k == TK_EOF) {
            if (ends != NULL) {
                const char *const *last = ends;
                while (last[1] != NULL) last++;
                st = fail_at(P, t, S2_E_FORMAT, "unexpected end of template, expected '{%% %s %%}'", *last);
            }
            break;
        } else if (t->k == TK_TEXT) {
            if ((n = node(P, JN_TEXT, t)) == NULL) return S2_E_NOMEM;
            n->s = t->s, n->s_len = t->n;
            P->i++;
        } else if (t->k == TK_VAR_BEGIN) {
            if ((n = node(P, JN_OUTPUT, t)) == NULL) return S2_E_NOMEM;
            P->i++;
            st = parse_expr(P, &n->a);
            if (st == S2_OK && cur(P)->k != TK_VAR_END)
                st = fail_at(P, cur(P), S2_E_FORMAT, "expected '}}', found %s", tok_desc(cur(P)));
            P->i++;
        } else if (t->k == TK_BLOCK_BEGIN) {
            P->i++;
            const tok *nt = cur(P);
            if (nt->k != TK_NAME) {
                st = fail_at(P, nt, S2_E_FORMAT, "expected a tag name after '{%%', found %s", tok_desc(nt));
                break;
            }
            if (name_in(nt->s, ends)) break;
            P->i++;
            if (!strcmp(nt->s, "if")) st = parse_if(P, nt, &n);
            else if (!strcmp(nt->s, "for")) st = parse_for(P, nt, &n);
            else if (!strcmp(nt->s, "set")) st = parse_set(P, nt, &n);
            else if (!strcmp(nt->s, "macro")) st = parse_macro(P, nt, &n);
            else if (!strcmp(nt->s, "generation")) { /* transformers' AssistantTracker: the body renders as it is */
                static const char *const gen_end[] = {"endgeneration", NULL};
                st = expect_block_end(P);
                if (st == S2_OK) st = parse_body(P, gen_end, &n);
                if (st == S2_OK) P->i++;
                if (st == S2_OK) st = expect_block_end(P);
            } else if (!strcmp(nt->s, "break") || !strcmp(nt->s, "continue")) {
                if ((n = node(P, nt->s[0] == 'b' ? JN_BREAK : JN_CONTINUE, nt)) == NULL) return S2_E_NOMEM;
                st = expect_block_end(P);
            } else {
                static const char *const known[] = {"raw", "filter", "call", "include", "import", "from", "extends",
                                                    "block", "with", "autoescape", "do", "trans", NULL};
                static const char *const closers[] = {"elif", "else", "endif", "endfor", "endset", "endmacro",
                                                      "endgeneration", NULL};
                if (name_in(nt->s, known)) st = fail_at(P, nt, S2_E_UNSUPPORTED, "unsupported construct '{%% %s %%}'", nt->s);
                else if (name_in(nt->s, closers)) st = fail_at(P, nt, S2_E_FORMAT, "unexpected '{%% %s %%}'", nt->s);
                else st = fail_at(P, nt, S2_E_FORMAT, "unknown tag '%s'", nt->s);
            }
        } else {
            st = fail_at(P, t, S2_E_FORMAT, "unexpected %s", tok_desc(t));
        }
        if (st == S2_OK) st = nvec_push(P, &kids, n);
    }
    P->depth--;
    body->kids = kids.v, body->n_kids = kids.n;
    *out = body;
    return st;
}

s2_status s2_jinja_parse(ja_arena *a, const char *src, jnode **out, s2_error *err) {
    *out = NULL;
    /* as jinja2's lexer: \r\n and \r become \n, and one trailing newline is dropped (keep_trailing_newline off) */
    size_t n = strlen(src), k = 0;
    char *norm = ja_alloc(a, n + 1);
    if (norm == NULL) return s2_error_set(err, S2_E_NOMEM, "chat template: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            norm[k++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n') i++;
        } else norm[k++] = src[i];
    }
    if (k > 0 && norm[k - 1] == '\n') k--;
    norm[k] = '\0';
    lexer L = {.a = a, .src = norm, .len = k, .line = 1, .col = 1, .err = err};
    s2_status st = lex(&L);
    if (st != S2_OK) return st;
    parser P = {.a = a, .t = L.toks, .n = L.n, .err = err};
    return parse_body(&P, NULL, out);
}
