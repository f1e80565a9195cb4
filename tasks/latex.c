/* latex.c: \boxed{} extraction, the cleaning of LaTeX answers and their exact values (see latex.h).
 * Everything here is pure string work on untrusted text: bounded recursion, checked arithmetic, no globals. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latex.h"
#include "rational.h"
#include "task_impl.h"

/* ---- small string helpers ---- */

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* p at '{': the matching '}', or NULL. */
static const char *match_brace(const char *p) {
    int depth = 0;
    for (; *p; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++; /* \{ and \} do not count */
            continue;
        }
        if (*p == '{') depth++;
        else if (*p == '}' && --depth == 0) return p;
    }
    return NULL;
}

/* A command name at s (s at '\'): its length including the backslash ("\frac" -> 5; "\!" -> 2). */
static size_t cmd_len(const char *s) {
    if (s[0] != '\\') return 0;
    if (!isalpha((unsigned char)s[1])) return s[1] ? 2 : 1;
    size_t n = 1;
    while (isalpha((unsigned char)s[n])) n++;
    return n;
}

static bool cmd_is(const char *s, const char *name) {
    size_t n = strlen(name);
    return strncmp(s, name, n) == 0 && cmd_len(s) == n;
}

char *s2_latex_last_boxed(const char *text) {
    if (text == NULL) return NULL;
    const char *last = NULL;
    for (const char *p = text; (p = strchr(p, '\\')) != NULL; p++)
        if (cmd_is(p, "\\boxed") || cmd_is(p, "\\fbox")) last = p;
    if (last == NULL) return NULL;
    const char *p = last + cmd_len(last);
    while (*p == ' ') p++;
    if (*p == '{') {
        const char *e = match_brace(p);
        return e != NULL ? s2_strndup(p + 1, (size_t)(e - p - 1)) : NULL;
    }
    /* "\boxed 5": up to a space, '$' or the end */
    const char *e = p;
    while (*e && *e != '$' && !isspace((unsigned char)*e)) e++;
    return e > p ? s2_strndup(p, (size_t)(e - p)) : NULL;
}

/* ---- cleaning ---- */

/* Text commands whose argument is text: unwrapped, or dropped when they are a unit after a value. */
static bool is_text_cmd(const char *p) {
    return cmd_is(p, "\\text") || cmd_is(p, "\\textbf") || cmd_is(p, "\\mbox") || cmd_is(p, "\\mathrm") ||
           cmd_is(p, "\\textrm") || cmd_is(p, "\\textit") || cmd_is(p, "\\mathbf") || cmd_is(p, "\\textnormal") ||
           cmd_is(p, "\\mathit") || cmd_is(p, "\\operatorname");
}

static bool unit_words(const char *s, size_t n) {
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        if (isalpha((unsigned char)s[i])) letter = true;
        else if (s[i] != ' ' && s[i] != '.' && s[i] != '~') return false;
    }
    return letter;
}

/* The last non-space character written so far, or 0. */
static char last_char(const s2_buf *b) {
    for (size_t i = b->n; i > 0; i--)
        if (!isspace((unsigned char)b->p[i - 1])) return b->p[i - 1];
    return 0;
}

/* Skips "^2", "^{2}", "^3" after a dropped unit. */
static const char *skip_unit_power(const char *p) {
    const char *q = p;
    while (*q == ' ') q++;
    if (q[0] == '^' && (q[1] == '2' || q[1] == '3')) return q + 2;
    if (starts(q, "^{2}") || starts(q, "^{3}")) return q + 4;
    return p;
}

/* Pass 1, on the raw answer: drop spacing commands, \left \right, $, %, degrees; rename \dfrac \tfrac; unwrap
 * text or drop it as a unit. Spaces are kept for pass 2's unit test and removed at the end. */
static void clean_pass1(const char *s, s2_buf *o, int depth) {
    for (const char *p = s; *p;) {
        if (*p == '$') { p++; continue; }
        if (*p == '%') { p++; continue; }
        if (*p == '~') { s2_buf_puts(o, " "); p++; continue; }
        if (starts(p, "\xc2\xb0")) { p += 2; continue; } /* the degree sign */
        if (starts(p, "^{\\circ}")) { p += 8; continue; }
        if (starts(p, "^\\circ") && !isalpha((unsigned char)p[6])) { p += 6; continue; }
        if (*p != '\\') {
            s2_buf_append(o, p, 1);
            p++;
            continue;
        }
        size_t n = cmd_len(p);
        if (n == 2 && strchr("!,;: $%", p[1]) != NULL) { /* \! \, \; \: \  \$ \% */
            if (p[1] == ' ' || p[1] == ',' || p[1] == ';' || p[1] == ':') s2_buf_puts(o, " ");
            p += 2;
            continue;
        }
        if (cmd_is(p, "\\left") || cmd_is(p, "\\right") || cmd_is(p, "\\displaystyle") || cmd_is(p, "\\big") ||
            cmd_is(p, "\\Big") || cmd_is(p, "\\bigl") || cmd_is(p, "\\bigr") || cmd_is(p, "\\Bigl") ||
            cmd_is(p, "\\Bigr")) {
            p += n;
            if (*p == '.') p++; /* \left. */
            continue;
        }
        if (cmd_is(p, "\\quad") || cmd_is(p, "\\qquad")) {
            s2_buf_puts(o, " ");
            p += n;
            continue;
        }
        if (cmd_is(p, "\\dfrac") || cmd_is(p, "\\tfrac")) {
            s2_buf_puts(o, "\\frac");
            p += n;
            continue;
        }
        if (cmd_is(p, "\\dbinom") || cmd_is(p, "\\tbinom")) {
            s2_buf_puts(o, "\\binom");
            p += n;
            continue;
        }
        if (cmd_is(p, "\\degree") || cmd_is(p, "\\circ")) {
            /* drop a dangling ^ before it (^\circ) */
            if (o->n > 0 && o->p[o->n - 1] == '^') o->p[--o->n] = '\0';
            p += n;
            continue;
        }
        if (is_text_cmd(p)) {
            const char *q = p + n;
            while (*q == ' ') q++;
            const char *e = *q == '{' ? match_brace(q) : NULL;
            if (e == NULL) { p += n; continue; }
            char lc = last_char(o);
            bool after_value = lc != 0 && strchr("([{,=", lc) == NULL;
            if (after_value && unit_words(q + 1, (size_t)(e - q - 1))) {
                p = skip_unit_power(e + 1);
                continue;
            }
            if (depth < 8) {
                char *inner = s2_strndup(q + 1, (size_t)(e - q - 1));
                if (inner != NULL) clean_pass1(inner, o, depth + 1);
                free(inner);
            }
            p = e + 1;
            continue;
        }
        s2_buf_append(o, p, n);
        p += n;
    }
}

/* "NUMBER words" (a bare unit such as "10 cm" or "5 square units"): the number alone. */
static void drop_bare_unit(char *s) {
    char *p = s;
    while (*p == ' ') p++;
    char *num = p;
    if (*p == '-' || *p == '+') p++;
    bool digit = false;
    while (isdigit((unsigned char)*p) || *p == ',' || *p == '.') digit |= isdigit((unsigned char)*p++) != 0;
    if (!digit || *p != ' ') return;
    char *rest = p;
    while (*rest == ' ') rest++;
    const char *after = skip_unit_power(rest + strcspn(rest, "^"));
    size_t wl = strcspn(rest, "^");
    if (wl == 0 || !unit_words(rest, wl) || *after != '\0') return;
    memmove(s, num, (size_t)(p - num));
    s[p - num] = '\0';
}

/* Pass 2, after the spaces are gone: \frac12 -> \frac{1}{2}, \sqrt2 -> \sqrt{2}, ^{2} -> ^2, _{5} -> _5. */
static void expand_shorthand(const char *s, s2_buf *o) {
    for (const char *p = s; *p;) {
        /* by prefix: with the spaces gone, "\frac ab" and "\sqrt x" read "\fracab" and "\sqrtx" */
        bool frac = starts(p, "\\frac"), sqrt = starts(p, "\\sqrt");
        if (frac || sqrt) {
            size_t n = 5;
            s2_buf_append(o, p, n);
            p += n;
            for (int arg = 0; arg < (frac ? 2 : 1); arg++) {
                if (*p == '{') {
                    const char *e = match_brace(p);
                    if (e == NULL) break;
                    s2_buf_puts(o, "{");
                    char *inner = s2_strndup(p + 1, (size_t)(e - p - 1));
                    if (inner != NULL) expand_shorthand(inner, o);
                    free(inner);
                    s2_buf_puts(o, "}");
                    p = e + 1;
                } else if (*p == '\\') {
                    size_t m = cmd_len(p); /* \frac\pi2 */
                    s2_buf_puts(o, "{");
                    s2_buf_append(o, p, m);
                    s2_buf_puts(o, "}");
                    p += m;
                } else if (*p != '\0' && *p != '[') {
                    s2_buf_puts(o, "{");
                    s2_buf_append(o, p, 1);
                    s2_buf_puts(o, "}");
                    p++;
                } else {
                    break;
                }
            }
            continue;
        }
        if ((*p == '^' || *p == '_') && p[1] == '{') {
            const char *e = match_brace(p + 1);
            if (e != NULL && e - p == 3) { /* one character in braces */
                s2_buf_append(o, p, 1);
                s2_buf_append(o, p + 2, 1);
                p = e + 1;
                continue;
            }
        }
        if (*p == '\\') {
            size_t n = cmd_len(p);
            s2_buf_append(o, p, n);
            p += n;
            continue;
        }
        s2_buf_append(o, p, 1);
        p++;
    }
}

/* True when s is -?d{1,3}(,ddd)+(.d+)? : a number with thousands separators. */
static bool thousands(const char *s) {
    const char *p = s;
    if (*p == '-') p++;
    int lead = 0;
    while (isdigit((unsigned char)*p)) p++, lead++;
    if (lead < 1 || lead > 3 || *p != ',') return false;
    while (*p == ',') {
        for (int k = 1; k <= 3; k++)
            if (!isdigit((unsigned char)p[k])) return false;
        p += 4;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return false;
        while (isdigit((unsigned char)*p)) p++;
    }
    return *p == '\0';
}

char *s2_latex_clean(const char *answer) {
    s2_buf b1 = {0};
    clean_pass1(answer != NULL ? answer : "", &b1, 0);
    char *s1 = s2_buf_take(&b1);
    if (s1 == NULL) return NULL;
    /* trim, and turn newlines into spaces */
    for (char *p = s1; *p; p++)
        if (isspace((unsigned char)*p)) *p = ' ';
    drop_bare_unit(s1);
    /* remove every space; a space between two letters of a command and a letter is kept as nothing, which
     * only makes "\cot x" read "\cotx": both sides of a comparison are cleaned alike */
    size_t w = 0;
    for (size_t r = 0; s1[r]; r++)
        if (s1[r] != ' ') s1[w++] = s1[r];
    s1[w] = '\0';
    s2_buf b2 = {0};
    expand_shorthand(s1, &b2);
    free(s1);
    char *s = s2_buf_take(&b2);
    if (s == NULL) return NULL;
    size_t n = strlen(s);
    /* trailing periods */
    while (n > 0 && s[n - 1] == '.') s[--n] = '\0';
    /* "x=" or "x\in" prefix: a one-letter variable (optionally with a subscript) */
    {
        const char *p = s;
        if (isalpha((unsigned char)*p)) {
            p++;
            if (*p == '_' && isalnum((unsigned char)p[1])) p += 2;
            const char *rest = NULL;
            if (*p == '=') rest = p + 1;
            else if (starts(p, "\\in") && !isalpha((unsigned char)p[3])) rest = p + 3;
            if (rest != NULL && *rest != '\0' && strchr(rest, '=') == NULL) memmove(s, rest, strlen(rest) + 1);
        }
    }
    n = strlen(s);
    if (thousands(s)) {
        size_t k = 0;
        for (size_t r = 0; s[r]; r++)
            if (s[r] != ',') s[k++] = s[r];
        s[k] = '\0';
    }
    /* a multiple-choice letter in parentheses: "(C)" -> "C" */
    if (n == 3 && s[0] == '(' && s[2] == ')' && isupper((unsigned char)s[1])) {
        s[0] = s[1];
        s[1] = '\0';
    }
    return s;
}

/* ---- exact values: polynomials over sqrt(n), pi, i and one-letter variables ---- */

#define N_SYM 54          /* a-z, A-Z, \pi (52), i (53, exponent 0 or 1) */
#define SYM_PI 52
#define SYM_I 53
#define MAX_TERMS 24
#define MAX_DEPTH 20  /* each level holds a few polys (about 2 KB each) on the stack */

typedef struct term {
    s2_rat c;
    int64_t rad;          /* square-free, >= 1: the term is c * sqrt(rad) * prod sym^e */
    int8_t e[N_SYM];
} term;

typedef struct poly {
    int n;
    term t[MAX_TERMS];
} poly;

typedef struct parser {
    const char *p;
    int depth;
    bool ok;
} parser;

static int sym_of(char ch) {
    if (ch >= 'a' && ch <= 'z') return ch == 'i' ? SYM_I : ch - 'a';
    if (ch >= 'A' && ch <= 'Z') return 26 + ch - 'A';
    return -1;
}

static int term_cmp(const term *a, const term *b) {
    int c = memcmp(a->e, b->e, sizeof a->e);
    if (c != 0) return c;
    return a->rad < b->rad ? -1 : a->rad > b->rad;
}

static int term_qcmp(const void *a, const void *b) { return term_cmp(a, b); }

/* Sorts, merges like terms, drops zeros. */
static bool poly_canon(poly *p) {
    qsort(p->t, (size_t)p->n, sizeof p->t[0], term_qcmp);
    int w = 0;
    for (int r = 0; r < p->n; r++) {
        if (w > 0 && term_cmp(&p->t[w - 1], &p->t[r]) == 0) {
            if (s2_rat_add(p->t[w - 1].c, p->t[r].c, &p->t[w - 1].c) != S2_RAT_OK) return false;
        } else {
            p->t[w++] = p->t[r];
        }
    }
    int k = 0;
    for (int r = 0; r < w; r++)
        if (p->t[r].c.num != 0) p->t[k++] = p->t[r];
    p->n = k;
    return true;
}

static void poly_const(poly *p, s2_rat c) {
    memset(p, 0, sizeof *p);
    p->n = 1;
    p->t[0].c = c;
    p->t[0].rad = 1;
}

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Multiplies two terms into *out. */
static bool term_mul(const term *a, const term *b, term *out) {
    term r;
    if (s2_rat_mul(a->c, b->c, &r.c) != S2_RAT_OK) return false;
    /* sqrt(a) sqrt(b) = g sqrt((a/g)(b/g)), g = gcd: both square-free, so the product stays square-free */
    int64_t g = gcd64(a->rad, b->rad), x = a->rad / g, y = b->rad / g;
    if (x != 0 && y > INT64_MAX / x) return false;
    r.rad = x * y;
    if (g > 1 && s2_rat_mul(r.c, s2_rat_int(g), &r.c) != S2_RAT_OK) return false;
    for (int k = 0; k < N_SYM; k++) {
        int v = a->e[k] + b->e[k];
        if (v > 60 || v < -60) return false;
        r.e[k] = (int8_t)v;
    }
    /* i^2 = -1 */
    int ie = ((r.e[SYM_I] % 4) + 4) % 4;
    r.e[SYM_I] = (int8_t)(ie & 1);
    if (ie >= 2) r.c.num = -r.c.num;
    *out = r;
    return true;
}

static bool poly_mul(const poly *a, const poly *b, poly *out) {
    poly r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < a->n; i++)
        for (int j = 0; j < b->n; j++) {
            if (r.n == MAX_TERMS) {
                if (!poly_canon(&r) || r.n == MAX_TERMS) return false;
            }
            if (!term_mul(&a->t[i], &b->t[j], &r.t[r.n++])) return false;
        }
    if (!poly_canon(&r)) return false;
    *out = r;
    return true;
}

static bool poly_add(poly *a, const poly *b, bool negate) {
    for (int j = 0; j < b->n; j++) {
        if (a->n == MAX_TERMS && (!poly_canon(a) || a->n == MAX_TERMS)) return false;
        a->t[a->n] = b->t[j];
        if (negate) a->t[a->n].c.num = -a->t[a->n].c.num;
        a->n++;
    }
    return poly_canon(a);
}

/* a / b, where b is a single term: multiply by its inverse 1/(c sqrt(r) s^e) = sqrt(r) / (c r) s^-e. */
static bool poly_div(const poly *a, const poly *b, poly *out) {
    if (b->n != 1) return false;
    const term *d = &b->t[0];
    term inv;
    memset(&inv, 0, sizeof inv);
    s2_rat cr;
    if (s2_rat_mul(d->c, s2_rat_int(d->rad), &cr) != S2_RAT_OK) return false;
    if (s2_rat_div(s2_rat_int(1), cr, &inv.c) != S2_RAT_OK) return false;
    inv.rad = d->rad;
    for (int k = 0; k < N_SYM; k++) inv.e[k] = (int8_t)-d->e[k];
    if (d->e[SYM_I]) { /* 1/i = -i */
        inv.e[SYM_I] = 1;
        inv.c.num = -inv.c.num;
    }
    poly pi;
    memset(&pi, 0, sizeof pi);
    pi.n = 1;
    pi.t[0] = inv;
    return poly_mul(a, &pi, out);
}

static bool is_const(const poly *p) {
    if (p->n == 0) return true;
    if (p->n != 1 || p->t[0].rad != 1) return false;
    for (int k = 0; k < N_SYM; k++)
        if (p->t[0].e[k] != 0) return false;
    return true;
}

static s2_rat const_of(const poly *p) { return p->n == 0 ? s2_rat_int(0) : p->t[0].c; }

/* sqrt of a rational constant: sqrt(p/q) = sqrt(p q) / q, with square factors pulled out. */
static bool poly_sqrt(const poly *a, poly *out) {
    if (!is_const(a)) return false;
    s2_rat v = const_of(a);
    bool neg = v.num < 0;
    int64_t num = neg ? -v.num : v.num;
    if (v.den != 0 && num > INT64_MAX / v.den) return false;
    int64_t n = num * v.den, outside = 1;
    if (n > ((int64_t)1 << 40)) return false; /* trial division stays cheap */
    for (int64_t f = 2; f * f <= n; f++)
        while (n % (f * f) == 0) {
            n /= f * f;
            outside *= f;
        }
    poly r;
    memset(&r, 0, sizeof r);
    if (n == 0) {
        *out = r;
        return true;
    }
    r.n = 1;
    if (s2_rat_make(outside, v.den, &r.t[0].c) != S2_RAT_OK) return false;
    r.t[0].rad = n;
    r.t[0].e[SYM_I] = neg ? 1 : 0;
    *out = r;
    return true;
}

static bool poly_pow(const poly *a, int64_t k, poly *out) {
    if (k < -8 || k > 16) return false;
    poly r;
    poly_const(&r, s2_rat_int(1));
    for (int64_t i = 0; i < (k < 0 ? -k : k); i++)
        if (!poly_mul(&r, a, &r)) return false;
    if (k < 0) {
        poly one;
        poly_const(&one, s2_rat_int(1));
        return poly_div(&one, &r, out);
    }
    *out = r;
    return true;
}

static bool parse_expr(parser *ps, poly *out);

/* digits [. digits] or . digits, exactly */
static bool parse_number(parser *ps, poly *out) {
    const char *p = ps->p;
    int64_t num = 0, den = 1;
    bool any = false;
    while (isdigit((unsigned char)*p)) {
        if (num > (INT64_MAX - 9) / 10) return false;
        num = num * 10 + (*p++ - '0');
        any = true;
    }
    if (*p == '.' && isdigit((unsigned char)p[1])) {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (num > (INT64_MAX - 9) / 10 || den > INT64_MAX / 10) return false;
            num = num * 10 + (*p++ - '0');
            den *= 10;
            any = true;
        }
    }
    if (!any) return false;
    s2_rat v;
    if (s2_rat_make(num, den, &v) != S2_RAT_OK) return false;
    poly_const(out, v);
    ps->p = p;
    return true;
}

/* A braced argument {expr}. */
static bool parse_group(parser *ps, poly *out) {
    if (*ps->p != '{') return false;
    ps->p++;
    if (!parse_expr(ps, out) || *ps->p != '}') return false;
    ps->p++;
    return true;
}

static bool parse_primary(parser *ps, poly *out) {
    const char *p = ps->p;
    if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
        if (!parse_number(ps, out)) return false;
        /* a mixed number: 1\frac{4}{5} is 1 + 4/5 when both parts are plain numbers */
        bool integer = memchr(p, '.', (size_t)(ps->p - p)) == NULL;
        if (integer && cmd_is(ps->p, "\\frac")) {
            parser sub = *ps;
            sub.p += 5;
            poly a, b, f;
            const char *num_start = sub.p + 1;
            if (parse_group(&sub, &a) && parse_group(&sub, &b) && is_const(&a) && is_const(&b) &&
                const_of(&a).den == 1 && const_of(&b).den == 1 && isdigit((unsigned char)*num_start) &&
                poly_div(&a, &b, &f)) {
                ps->p = sub.p;
                return poly_add(out, &f, false);
            }
        }
        return true;
    }
    if (*p == '(' || *p == '{') {
        char close = *p == '(' ? ')' : '}';
        ps->p++;
        if (!parse_expr(ps, out) || *ps->p != close) return false;
        ps->p++;
        return true;
    }
    if (cmd_is(p, "\\frac")) {
        ps->p += 5;
        poly a, b;
        return parse_group(ps, &a) && parse_group(ps, &b) && poly_div(&a, &b, out);
    }
    if (cmd_is(p, "\\sqrt")) {
        ps->p += 5;
        poly a;
        return parse_group(ps, &a) && poly_sqrt(&a, out);
    }
    if (starts(p, "\\pi") && !starts(p, "\\pitchfork")) { /* "\pi r^2" reads "\pir^2" without its space */
        ps->p += 3;
        poly_const(out, s2_rat_int(1));
        out->t[0].e[SYM_PI] = 1;
        return true;
    }
    int s = sym_of(*p);
    if (s >= 0) {
        /* three letters in a row are a word, not a product */
        if (isalpha((unsigned char)p[1]) && isalpha((unsigned char)p[2])) return false;
        ps->p++;
        poly_const(out, s2_rat_int(1));
        out->t[0].e[s] = 1;
        return true;
    }
    return false;
}

/* primary [^ exponent] */
static bool parse_power(parser *ps, poly *out) {
    if (!parse_primary(ps, out)) return false;
    while (*ps->p == '^') {
        ps->p++;
        int64_t k;
        if (isdigit((unsigned char)*ps->p)) {
            k = *ps->p++ - '0';
        } else if (*ps->p == '{') {
            poly e;
            if (!parse_group(ps, &e) || !is_const(&e) || const_of(&e).den != 1) return false;
            k = const_of(&e).num;
        } else {
            return false;
        }
        if (!poly_pow(out, k, out)) return false;
    }
    return true;
}

static bool starts_primary(const char *p) {
    return isdigit((unsigned char)*p) || *p == '.' || *p == '(' || *p == '{' || sym_of(*p) >= 0 ||
           cmd_is(p, "\\frac") || cmd_is(p, "\\sqrt") || cmd_is(p, "\\pi");
}

static bool parse_term(parser *ps, poly *out) {
    if (!parse_power(ps, out)) return false;
    for (;;) {
        bool div = false;
        if (*ps->p == '*') ps->p++;
        else if (cmd_is(ps->p, "\\cdot")) ps->p += 5;
        else if (cmd_is(ps->p, "\\times")) ps->p += 6;
        else if (*ps->p == '/') {
            ps->p++;
            div = true;
        } else if (!starts_primary(ps->p)) {
            return true;
        }
        poly f;
        if (!parse_power(ps, &f)) return false;
        if (!(div ? poly_div(out, &f, out) : poly_mul(out, &f, out))) return false;
    }
}

static bool parse_expr(parser *ps, poly *out) {
    if (++ps->depth > MAX_DEPTH) return false;
    memset(out, 0, sizeof *out);
    bool first = true;
    for (;;) {
        bool neg = false;
        if (*ps->p == '+' || *ps->p == '-') {
            neg = *ps->p == '-';
            ps->p++;
        } else if (!first) {
            break;
        }
        poly t;
        if (!parse_term(ps, &t) || !poly_add(out, &t, neg)) return false;
        first = false;
    }
    ps->depth--;
    return true;
}

/* The exact value of s (the whole string), or false. */
static bool parse_value(const char *s, poly *out) {
    parser ps = {s, 0, true};
    if (*s == '\0') return false;
    return parse_expr(&ps, out) && *ps.p == '\0';
}

static void poly_key(const poly *p, s2_buf *o) {
    s2_buf_puts(o, "#");
    if (p->n == 0) s2_buf_puts(o, "0");
    for (int i = 0; i < p->n; i++) {
        const term *t = &p->t[i];
        char buf[64];
        s2_buf_printf(o, "%s%s", i ? "+" : "", s2_rat_str(t->c, buf, sizeof buf));
        if (t->rad != 1) s2_buf_printf(o, "*r%lld", (long long)t->rad);
        for (int k = 0; k < N_SYM; k++)
            if (t->e[k]) {
                if (k == SYM_PI) s2_buf_puts(o, "*pi");
                else if (k == SYM_I) s2_buf_puts(o, "*i");
                else s2_buf_printf(o, "*%c", k < 26 ? 'a' + k : 'A' + k - 26);
                if (t->e[k] != 1) s2_buf_printf(o, "^%d", t->e[k]);
            }
    }
}

/* ---- structure: lists, tuples, intervals, matrices, sets ---- */

/* The key of one part: its value when it has one, else its cleaned string. */
static void part_key(const char *s, size_t n, s2_buf *o) {
    char *part = s2_strndup(s, n);
    if (part == NULL) {
        o->oom = true;
        return;
    }
    poly *v = malloc(sizeof *v);
    if (v != NULL && parse_value(part, v)) poly_key(v, o);
    else s2_buf_puts(o, part);
    free(v);
    free(part);
}

/* Splits s[0..n) at top-level separators (any char of seps, or "\\\\" when rows); returns the count, fills
 * starts/lens (at most cap). Brackets (), [], {} nest. */
static int split_top(const char *s, size_t n, const char *seps, bool rows, const char **st, size_t *len, int cap) {
    int count = 0, depth = 0;
    size_t begin = 0;
    for (size_t i = 0; i <= n; i++) {
        bool sep = false;
        size_t skip = 1;
        if (i == n) sep = true;
        else if (s[i] == '\\' && i + 1 < n) {
            if (rows && s[i + 1] == '\\' && depth == 0) {
                sep = true;
                skip = 2;
            } else {
                i++; /* an escaped character does not nest */
                continue;
            }
        } else if (strchr("([{", s[i]) != NULL) depth++;
        else if (strchr(")]}", s[i]) != NULL) depth--;
        else if (depth == 0 && strchr(seps, s[i]) != NULL) sep = true;
        if (!sep) continue;
        if (count == cap) return -1;
        st[count] = s + begin;
        len[count] = i - begin;
        count++;
        begin = i + skip;
        i += skip - 1;
    }
    return count;
}

static int key_qcmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

#define MAX_PARTS 64

/* Keys of the parts of a comma list, each with one \pm expanded, sorted when unordered, joined by ",". */
static void list_key(const char *s, size_t n, bool ordered, s2_buf *o) {
    const char *st[MAX_PARTS];
    size_t len[MAX_PARTS];
    int np = split_top(s, n, ",", false, st, len, MAX_PARTS);
    if (np < 0) {
        s2_buf_append(o, s, n);
        return;
    }
    char *keys[2 * MAX_PARTS];
    int nk = 0;
    for (int i = 0; i < np; i++) {
        char *part = s2_strndup(st[i], len[i]);
        if (part == NULL) break;
        char *pm = strstr(part, "\\pm");
        if (pm != NULL && strstr(pm + 3, "\\pm") == NULL && !ordered) {
            for (int sign = 0; sign < 2; sign++) {
                s2_buf alt = {0}, k = {0};
                s2_buf_append(&alt, part, (size_t)(pm - part));
                s2_buf_puts(&alt, sign ? "-" : "+");
                s2_buf_puts(&alt, pm + 3);
                if (!alt.oom) part_key(alt.p, alt.n, &k);
                s2_buf_free(&alt);
                keys[nk++] = s2_buf_take(&k);
            }
        } else {
            s2_buf k = {0};
            part_key(part, strlen(part), &k);
            keys[nk++] = s2_buf_take(&k);
        }
        free(part);
    }
    bool oom = false;
    for (int i = 0; i < nk; i++) oom |= keys[i] == NULL;
    if (!oom && !ordered) qsort(keys, (size_t)nk, sizeof keys[0], key_qcmp);
    for (int i = 0; i < nk; i++) {
        if (!oom) s2_buf_printf(o, "%s%s", i ? "," : "", keys[i]);
        free(keys[i]);
    }
    if (oom) o->oom = true;
}

/* One element that may be an interval/tuple "(a,b]" or a plain list. */
static void group_key(const char *s, size_t n, s2_buf *o) {
    if (n >= 2 && (s[0] == '(' || s[0] == '[') && (s[n - 1] == ')' || s[n - 1] == ']')) {
        /* the brackets must enclose the whole element: "(1)(2)" is a product */
        int depth = 0;
        bool whole = true;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '(' || s[i] == '[' || s[i] == '{') depth++;
            else if (s[i] == ')' || s[i] == ']' || s[i] == '}') depth--;
            if (depth == 0 && i + 1 < n) whole = false;
        }
        const char *st[2];
        size_t len[2];
        if (whole && split_top(s + 1, n - 2, ",", false, st, len, 2) != 1) {
            s2_buf_append(o, s, 1);
            list_key(s + 1, n - 2, true, o);
            s2_buf_append(o, s + n - 1, 1);
            return;
        }
    }
    list_key(s, n, false, o);
}

static void matrix_key(const char *body, size_t n, s2_buf *o) {
    const char *rows[MAX_PARTS];
    size_t rl[MAX_PARTS];
    int nr = split_top(body, n, "", true, rows, rl, MAX_PARTS);
    s2_buf_puts(o, "M[");
    for (int r = 0, out_r = 0; r < nr; r++) {
        if (rl[r] == 0) continue; /* a trailing \\ */
        s2_buf_puts(o, out_r++ ? ";" : "");
        const char *cells[MAX_PARTS];
        size_t cl[MAX_PARTS];
        int nc = split_top(rows[r], rl[r], "&", false, cells, cl, MAX_PARTS);
        for (int c = 0; c < nc; c++) {
            s2_buf_puts(o, c ? "," : "");
            part_key(cells[c], cl[c], o);
        }
    }
    s2_buf_puts(o, "]");
}

char *s2_latex_key(const char *answer) {
    char *s = s2_latex_clean(answer);
    if (s == NULL) return NULL;
    s2_buf o = {0};
    size_t n = strlen(s);
    const char *mb = NULL;
    const char *kinds[] = {"pmatrix", "bmatrix", "matrix"};
    for (int k = 0; k < 3 && mb == NULL; k++) {
        char open[32], close[32];
        snprintf(open, sizeof open, "\\begin{%s}", kinds[k]);
        snprintf(close, sizeof close, "\\end{%s}", kinds[k]);
        size_t ol = strlen(open), cl = strlen(close);
        if (n > ol + cl && starts(s, open) && strcmp(s + n - cl, close) == 0) {
            mb = s;
            matrix_key(s + ol, n - ol - cl, &o);
        }
    }
    if (mb == NULL && n >= 4 && starts(s, "\\{") && strcmp(s + n - 2, "\\}") == 0) {
        list_key(s + 2, n - 4, false, &o); /* a set is keyed like a bare list: \{1,2\} == 2,1 */
    } else if (mb == NULL && strstr(s, "\\cup") != NULL) {
        size_t begin = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n && !cmd_is(s + i, "\\cup")) continue;
            if (begin > 0) s2_buf_puts(&o, "U");
            group_key(s + begin, i - begin, &o);
            begin = i + 4;
            i += 3;
        }
    } else if (mb == NULL) {
        group_key(s, n, &o);
    }
    free(s);
    return s2_buf_take(&o);
}

bool s2_latex_equiv(const char *a, const char *b) {
    char *ka = s2_latex_key(a), *kb = s2_latex_key(b);
    bool eq = ka != NULL && kb != NULL && strcmp(ka, kb) == 0;
    free(ka);
    free(kb);
    return eq;
}
