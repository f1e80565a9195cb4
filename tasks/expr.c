/* expr.c: the expression library of expr.h. Trees are immutable and live in a pool (chunks freed at once, a node
 * budget). Simplification is bottom-up canonicalisation: flatten sums and products, fold rational constants,
 * collect like terms (c1*t + c2*t) and like factors (b^e1 * b^e2), drop x*1, x+0, x^1, x^0, and a few function
 * identities (log(exp(u)) = u, exp(log(u)) = u, odd and even functions of -u). Each rewrite keeps the value at
 * every x where the input is defined (some widen the domain: x/x = 1), which the property test checks.
 * Nothing here prints or allocates outside the pool, except s2_expr_str's result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "task_impl.h"

/* ---- the pool ---- */

#define CHUNK_BYTES (64 * 1024)

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

struct s2_expr_pool {
    chunk *head;
    int64_t nodes, max_nodes;
    bool failed;
    char why[160];
};

s2_expr_pool *s2_expr_pool_new(int64_t max_nodes) {
    s2_expr_pool *p = calloc(1, sizeof *p);
    if (p != NULL) p->max_nodes = max_nodes > 0 ? max_nodes : 200000;
    return p;
}

void s2_expr_pool_reset(s2_expr_pool *p) {
    if (p == NULL) return;
    for (chunk *c = p->head, *nx; c != NULL; c = nx) {
        nx = c->next;
        free(c);
    }
    p->head = NULL;
    p->nodes = 0;
    p->failed = false;
    p->why[0] = '\0';
}

void s2_expr_pool_free(s2_expr_pool *p) {
    s2_expr_pool_reset(p);
    free(p);
}

const char *s2_expr_pool_error(const s2_expr_pool *p) { return p->failed ? p->why : NULL; }

static void *fail(s2_expr_pool *p, const char *why) {
    if (!p->failed) {
        p->failed = true;
        snprintf(p->why, sizeof p->why, "%s", why);
    }
    return NULL;
}

static void *pool_alloc(s2_expr_pool *p, size_t n) {
    if (p->failed) return NULL;
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (p->head == NULL || p->head->cap - p->head->used < n) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        chunk *c = malloc(sizeof *c + cap);
        if (c == NULL) return fail(p, "out of memory");
        c->next = p->head;
        c->used = 0;
        c->cap = cap;
        p->head = c;
    }
    void *r = (char *)p->head->data + p->head->used;
    p->head->used += n;
    return r;
}

static s2_expr *node_new(s2_expr_pool *p, s2_expr_kind kind, int32_t n) {
    if (p->failed) return NULL;
    if (++p->nodes > p->max_nodes) return fail(p, "expression too large (node budget exhausted)");
    s2_expr *e = pool_alloc(p, sizeof *e);
    if (e == NULL) return NULL;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->n = n;
    e->depth = 1;
    if (n > 0) {
        e->kid = pool_alloc(p, (size_t)n * sizeof *e->kid);
        if (e->kid == NULL) return NULL;
    }
    return e;
}

static void set_depth(s2_expr *e) {
    int32_t d = 0;
    for (int32_t i = 0; i < e->n; i++)
        if (e->kid[i]->depth > d) d = e->kid[i]->depth;
    e->depth = d + 1;
}

/* ---- the function table ---- */

static long double eval_fn(s2_expr_fn fn, long double u) {
    switch (fn) {
    case S2_FN_EXP: return expl(u);
    case S2_FN_LOG: return u > 0 ? logl(u) : NAN;
    case S2_FN_SIN: return sinl(u);
    case S2_FN_COS: return cosl(u);
    case S2_FN_TAN: return tanl(u);
    case S2_FN_ASIN: return u >= -1 && u <= 1 ? asinl(u) : NAN;
    case S2_FN_ACOS: return u >= -1 && u <= 1 ? acosl(u) : NAN;
    case S2_FN_ATAN: return atanl(u);
    case S2_FN_SINH: return sinhl(u);
    case S2_FN_COSH: return coshl(u);
    case S2_FN_TANH: return tanhl(u);
    case S2_FN_N: break;
    }
    return NAN;
}

static const struct {
    const char *name;
    int parity; /* 1 odd, 0 even, 2 neither */
} fn_row[] = {
#define S2_EXPR_FN_ROW(id, nm, odd) {nm, odd},
    S2_EXPR_FNS(S2_EXPR_FN_ROW)
#undef S2_EXPR_FN_ROW
};

const char *s2_expr_fn_name(s2_expr_fn fn) { return fn < S2_FN_N ? fn_row[fn].name : "?"; }

/* ---- order and inspection ---- */

int s2_expr_cmp(const s2_expr *a, const s2_expr *b) {
    if (a == b) return 0;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    switch (a->kind) {
    case S2_EXPR_NUM: return s2_rat_cmp(a->num, b->num);
    case S2_EXPR_X: return 0;
    case S2_EXPR_FN:
        if (a->fn != b->fn) return a->fn < b->fn ? -1 : 1;
        break;
    default: break;
    }
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (int32_t i = 0; i < a->n; i++) {
        int c = s2_expr_cmp(a->kid[i], b->kid[i]);
        if (c != 0) return c;
    }
    return 0;
}

bool s2_expr_has_x(const s2_expr *e) {
    if (e->kind == S2_EXPR_X) return true;
    for (int32_t i = 0; i < e->n; i++)
        if (s2_expr_has_x(e->kid[i])) return true;
    return false;
}

int64_t s2_expr_size(const s2_expr *e) {
    int64_t s = 1;
    for (int32_t i = 0; i < e->n; i++) s += s2_expr_size(e->kid[i]);
    return s;
}

static bool is_num(const s2_expr *e, int64_t num, int64_t den) {
    return e->kind == S2_EXPR_NUM && e->num.num == num && e->num.den == den;
}

/* ---- builders ---- */

const s2_expr *s2_expr_num(s2_expr_pool *p, s2_rat v) {
    s2_expr *e = node_new(p, S2_EXPR_NUM, 0);
    if (e != NULL) e->num = v;
    return e;
}

const s2_expr *s2_expr_int(s2_expr_pool *p, int64_t v) { return s2_expr_num(p, s2_rat_int(v)); }

const s2_expr *s2_expr_x(s2_expr_pool *p) { return node_new(p, S2_EXPR_X, 0); }

const s2_expr *s2_expr_raw(s2_expr_pool *p, s2_expr_kind kind, s2_expr_fn fn, s2_rat num, int32_t n,
                           const s2_expr *const *kid) {
    for (int32_t i = 0; i < n; i++)
        if (kid[i] == NULL) return NULL;
    s2_expr *e = node_new(p, kind, n);
    if (e == NULL) return NULL;
    e->fn = fn;
    e->num = num;
    for (int32_t i = 0; i < n; i++) e->kid[i] = kid[i];
    set_depth(e);
    return e;
}

static const s2_expr *mk(s2_expr_pool *p, s2_expr_kind kind, int32_t n, const s2_expr *const *kid) {
    return s2_expr_raw(p, kind, S2_FN_N, s2_rat_int(0), n, kid);
}

static bool rat_ok(s2_expr_pool *p, s2_rat_status st) {
    if (st == S2_RAT_OK) return true;
    fail(p, st == S2_RAT_DIV0 ? "division by zero" : "number too large (rational overflow)");
    return false;
}

/* A temporary array of expression pointers that grows (malloc'd; freed by the caller). */
typedef struct vec {
    const s2_expr **v;
    int32_t n, cap;
} vec;

static bool vec_push(s2_expr_pool *p, vec *a, const s2_expr *e) {
    if (e == NULL) return false;
    if (a->n == a->cap) {
        int32_t cap = a->cap ? a->cap * 2 : 8;
        const s2_expr **nv = realloc(a->v, (size_t)cap * sizeof *nv);
        if (nv == NULL) {
            fail(p, "out of memory");
            return false;
        }
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = e;
    return true;
}

static int cmp_ptr(const void *a, const void *b) {
    return s2_expr_cmp(*(const s2_expr *const *)a, *(const s2_expr *const *)b);
}

/* c * t for canonical t (c != 0): a product with c as its number */
static const s2_expr *scale(s2_expr_pool *p, s2_rat c, const s2_expr *t);
static const s2_expr *add_list(s2_expr_pool *p, const s2_expr *const *t, int32_t n);
static const s2_expr *mul_list(s2_expr_pool *p, const s2_expr *const *f, int32_t n);

/* Splits a canonical term into coefficient and the rest (NULL rest: the term is a number). */
static const s2_expr *split_coef(s2_expr_pool *p, const s2_expr *t, s2_rat *c) {
    if (t->kind == S2_EXPR_NUM) {
        *c = t->num;
        return NULL;
    }
    if (t->kind == S2_EXPR_MUL && t->kid[0]->kind == S2_EXPR_NUM) {
        *c = t->kid[0]->num;
        if (t->n == 2) return t->kid[1];
        return mk(p, S2_EXPR_MUL, t->n - 1, t->kid + 1);
    }
    *c = s2_rat_int(1);
    return t;
}

static const s2_expr *scale(s2_expr_pool *p, s2_rat c, const s2_expr *t) {
    if (t == NULL) return NULL;
    if (c.num == 0) return s2_expr_int(p, 0);
    if (t->kind == S2_EXPR_NUM) {
        s2_rat r;
        if (!rat_ok(p, s2_rat_mul(c, t->num, &r))) return NULL;
        return s2_expr_num(p, r);
    }
    if (c.num == 1 && c.den == 1) return t;
    if (t->kind == S2_EXPR_ADD) { /* c*(a + b) = c*a + c*b, as SymPy does for a number */
        vec k = {0};
        for (int32_t i = 0; i < t->n; i++)
            if (!vec_push(p, &k, scale(p, c, t->kid[i]))) break;
        const s2_expr *r = p->failed ? NULL : add_list(p, k.v, k.n);
        free(k.v);
        return r;
    }
    if (t->kind == S2_EXPR_MUL) {
        s2_rat c0;
        const s2_expr *rest = split_coef(p, t, &c0);
        if (rest == NULL) return NULL;
        s2_rat r;
        if (!rat_ok(p, s2_rat_mul(c, c0, &r))) return NULL;
        if (r.num == 1 && r.den == 1) return rest;
        int32_t n = rest->kind == S2_EXPR_MUL ? rest->n : 1;
        for (int32_t i = 0; i < n && rest->kind == S2_EXPR_MUL; i++)
            if (rest->kid[i]->kind == S2_EXPR_ADD) { /* into the (first) sum, as mul_list does */
                vec f = {0};
                for (int32_t j = 0; j < n; j++)
                    if (!vec_push(p, &f, j == i ? scale(p, r, rest->kid[j]) : rest->kid[j])) break;
                const s2_expr *res = p->failed ? NULL : mul_list(p, f.v, f.n);
                free(f.v);
                return res;
            }
        s2_expr *e = node_new(p, S2_EXPR_MUL, n + 1);
        if (e == NULL) return NULL;
        e->kid[0] = s2_expr_num(p, r);
        if (e->kid[0] == NULL) return NULL;
        for (int32_t i = 0; i < n; i++) e->kid[i + 1] = rest->kind == S2_EXPR_MUL ? rest->kid[i] : rest;
        set_depth(e);
        return e;
    }
    const s2_expr *k[2] = {s2_expr_num(p, c), t};
    return mk(p, S2_EXPR_MUL, 2, k);
}

/* Sum of canonical terms (any order, nested sums allowed). */
static const s2_expr *add_list(s2_expr_pool *p, const s2_expr *const *t, int32_t n) {
    vec flat = {0}, out = {0};
    const s2_expr *res = NULL;
    s2_rat k = s2_rat_int(0);
    for (int32_t i = 0; i < n && !p->failed; i++) {
        if (t[i] == NULL) goto done;
        if (t[i]->kind == S2_EXPR_ADD) {
            for (int32_t j = 0; j < t[i]->n; j++)
                if (!vec_push(p, &flat, t[i]->kid[j])) goto done;
        } else if (!vec_push(p, &flat, t[i])) goto done;
    }
    if (p->failed) goto done;
    /* split each into (coef, rest), sort by rest, merge */
    typedef struct {
        s2_rat c;
        const s2_expr *r;
    } term;
    term *tt = malloc(((size_t)flat.n + 1) * sizeof *tt);
    if (tt == NULL) {
        fail(p, "out of memory");
        goto done;
    }
    int32_t m = 0;
    for (int32_t i = 0; i < flat.n; i++) {
        s2_rat c;
        const s2_expr *r = split_coef(p, flat.v[i], &c);
        if (p->failed) break;
        if (r == NULL) {
            if (!rat_ok(p, s2_rat_add(k, c, &k))) break;
            continue;
        }
        /* insertion into sorted position (n is small) */
        int32_t j = m;
        while (j > 0 && s2_expr_cmp(tt[j - 1].r, r) > 0) {
            tt[j] = tt[j - 1];
            j--;
        }
        tt[j].c = c;
        tt[j].r = r;
        m++;
    }
    if (!p->failed) {
        for (int32_t i = 0; i < m && !p->failed;) {
            s2_rat c = tt[i].c;
            int32_t j = i + 1;
            while (j < m && s2_expr_cmp(tt[j].r, tt[i].r) == 0) {
                if (!rat_ok(p, s2_rat_add(c, tt[j].c, &c))) break;
                j++;
            }
            if (c.num != 0 && !vec_push(p, &out, scale(p, c, tt[i].r))) break;
            i = j;
        }
    }
    free(tt);
    if (p->failed) goto done;
    if (k.num != 0 && !vec_push(p, &out, s2_expr_num(p, k))) goto done;
    if (out.n == 0) res = s2_expr_int(p, 0);
    else if (out.n == 1) res = out.v[0];
    else {
        qsort(out.v, (size_t)out.n, sizeof *out.v, cmp_ptr);
        res = mk(p, S2_EXPR_ADD, out.n, out.v);
    }
done:
    free(flat.v);
    free(out.v);
    return p->failed ? NULL : res;
}

static const s2_expr *pow_c(s2_expr_pool *p, const s2_expr *b, const s2_expr *e);
static const s2_expr *call_c(s2_expr_pool *p, s2_expr_fn fn, const s2_expr *a);

/* Product of canonical factors (any order, nested products allowed). */
static const s2_expr *mul_list(s2_expr_pool *p, const s2_expr *const *f, int32_t n) {
    vec flat = {0}, out = {0}, exps = {0};
    const s2_expr *res = NULL;
    s2_rat k = s2_rat_int(1);
    for (int32_t i = 0; i < n && !p->failed; i++) {
        if (f[i] == NULL) goto done;
        if (f[i]->kind == S2_EXPR_MUL) {
            for (int32_t j = 0; j < f[i]->n; j++)
                if (!vec_push(p, &flat, f[i]->kid[j])) goto done;
        } else if (!vec_push(p, &flat, f[i])) goto done;
    }
    if (p->failed) goto done;
    typedef struct {
        const s2_expr *b, *e;
    } fac;
    fac *ff = malloc(((size_t)flat.n + 1) * sizeof *ff);
    if (ff == NULL) {
        fail(p, "out of memory");
        goto done;
    }
    int32_t m = 0;
    bool zero = false;
    for (int32_t i = 0; i < flat.n && !p->failed; i++) {
        const s2_expr *x = flat.v[i];
        if (x->kind == S2_EXPR_NUM) {
            if (x->num.num == 0) zero = true;
            else rat_ok(p, s2_rat_mul(k, x->num, &k));
            continue;
        }
        if (x->kind == S2_EXPR_FN && x->fn == S2_FN_EXP) { /* exp(u) * exp(v) = exp(u + v) */
            if (!vec_push(p, &exps, x->kid[0])) break;
            continue;
        }
        const s2_expr *b = x, *e = NULL;
        if (x->kind == S2_EXPR_POW) {
            b = x->kid[0];
            e = x->kid[1];
        } else e = s2_expr_int(p, 1);
        if (e == NULL) break;
        int32_t j = m;
        while (j > 0 && s2_expr_cmp(ff[j - 1].b, b) > 0) {
            ff[j] = ff[j - 1];
            j--;
        }
        ff[j].b = b;
        ff[j].e = e;
        m++;
    }
    if (exps.n > 0 && !p->failed) {
        const s2_expr *ex = call_c(p, S2_FN_EXP, add_list(p, exps.v, exps.n));
        if (ex != NULL && ex->kind == S2_EXPR_NUM) rat_ok(p, s2_rat_mul(k, ex->num, &k));
        else if (ex != NULL) {
            int32_t j = m;
            while (j > 0 && s2_expr_cmp(ff[j - 1].b, ex) > 0) {
                ff[j] = ff[j - 1];
                j--;
            }
            ff[j].b = ex;
            ff[j].e = s2_expr_int(p, 1);
            m++;
        }
    }
    if (zero && !p->failed) {
        free(ff);
        res = s2_expr_int(p, 0);
        goto done;
    }
    for (int32_t i = 0; i < m && !p->failed;) {
        const s2_expr *e = ff[i].e;
        int32_t j = i + 1;
        while (j < m && s2_expr_cmp(ff[j].b, ff[i].b) == 0) {
            const s2_expr *two[2] = {e, ff[j].e};
            e = add_list(p, two, 2);
            if (e == NULL) break;
            j++;
        }
        if (e == NULL) break;
        const s2_expr *pw = pow_c(p, ff[i].b, e);
        if (pw == NULL) break;
        if (pw->kind == S2_EXPR_NUM) {
            if (pw->num.num == 0) zero = true;
            else rat_ok(p, s2_rat_mul(k, pw->num, &k));
        } else if (pw->kind == S2_EXPR_MUL) { /* a power that split, e.g. (2*x)^2: its number joins k */
            for (int32_t q = 0; q < pw->n; q++) {
                if (pw->kid[q]->kind == S2_EXPR_NUM) rat_ok(p, s2_rat_mul(k, pw->kid[q]->num, &k));
                else if (!vec_push(p, &out, pw->kid[q])) break;
            }
        } else if (!vec_push(p, &out, pw)) break;
        i = j;
    }
    free(ff);
    if (p->failed) goto done;
    if (zero || k.num == 0) {
        res = s2_expr_int(p, 0);
        goto done;
    }
    if (out.n == 0) {
        res = s2_expr_num(p, k);
        goto done;
    }
    qsort(out.v, (size_t)out.n, sizeof *out.v, cmp_ptr);
    /* a number times a product with a sum in it goes into the (first) sum: -(a + b)/c is (-a - b)/c, as the
     * parser reads the printed text back (unary minus binds tighter than / and *) */
    if (!(k.num == 1 && k.den == 1) && out.n > 1)
        for (int32_t i = 0; i < out.n; i++)
            if (out.v[i]->kind == S2_EXPR_ADD) {
                out.v[i] = scale(p, k, out.v[i]);
                if (out.v[i] == NULL) goto done;
                k = s2_rat_int(1);
                qsort(out.v, (size_t)out.n, sizeof *out.v, cmp_ptr);
                break;
            }
    /* a power that split can bring back a base already present: merge once more */
    for (int32_t i = 0; i + 1 < out.n; i++) {
        const s2_expr *b1 = out.v[i]->kind == S2_EXPR_POW ? out.v[i]->kid[0] : out.v[i];
        const s2_expr *b2 = out.v[i + 1]->kind == S2_EXPR_POW ? out.v[i + 1]->kid[0] : out.v[i + 1];
        if (s2_expr_cmp(b1, b2) == 0) {
            const s2_expr *again = mul_list(p, out.v, out.n);
            res = again != NULL ? scale(p, k, again) : NULL;
            goto done;
        }
    }
    if (out.n == 1) res = scale(p, k, out.v[0]);
    else {
        const s2_expr *prod = mk(p, S2_EXPR_MUL, out.n, out.v);
        res = scale(p, k, prod);
    }
done:
    free(flat.v);
    free(out.v);
    free(exps.v);
    return p->failed ? NULL : res;
}

/* b^n for a rational b and an integer n, exactly; false (no failure) when it would overflow or |n| > 64 */
static bool rat_pow(s2_rat b, int64_t n, s2_rat *out) {
    if (n > 64 || n < -64) return false;
    if (b.num == 0 && n < 0) return false;
    s2_rat r = s2_rat_int(1);
    int64_t m = n < 0 ? -n : n;
    for (int64_t i = 0; i < m; i++)
        if (s2_rat_mul(r, b, &r) != S2_RAT_OK) return false;
    if (n < 0 && s2_rat_div(s2_rat_int(1), r, &r) != S2_RAT_OK) return false;
    *out = r;
    return true;
}

/* b^e for canonical b and e */
static const s2_expr *pow_c(s2_expr_pool *p, const s2_expr *b, const s2_expr *e) {
    if (b == NULL || e == NULL) return NULL;
    if (is_num(e, 0, 1)) return s2_expr_int(p, 1);
    if (is_num(e, 1, 1)) return b;
    if (is_num(b, 1, 1)) return b;
    bool e_int = e->kind == S2_EXPR_NUM && e->num.den == 1;
    if (b->kind == S2_EXPR_NUM && b->num.num == 0) {
        if (e->kind == S2_EXPR_NUM && e->num.num < 0) return fail(p, "division by zero");
        if (e->kind == S2_EXPR_NUM) return b;
    }
    if (b->kind == S2_EXPR_NUM && e_int) {
        s2_rat r;
        if (rat_pow(b->num, e->num.num, &r)) return s2_expr_num(p, r);
    }
    if (b->kind == S2_EXPR_POW && e_int) { /* (u^a)^n = u^(a*n) for integer n */
        const s2_expr *two[2] = {b->kid[1], e};
        return pow_c(p, b->kid[0], mul_list(p, two, 2));
    }
    if (b->kind == S2_EXPR_POW && b->kid[1]->kind == S2_EXPR_NUM && b->kid[1]->num.den != 1 &&
        e->kind == S2_EXPR_NUM) { /* u^a with a fractional is defined for u >= 0 only, where (u^a)^e = u^(a*e) */
        const s2_expr *two[2] = {b->kid[1], e};
        return pow_c(p, b->kid[0], mul_list(p, two, 2));
    }
    if (b->kind == S2_EXPR_MUL && e_int) { /* (u*v)^n = u^n * v^n */
        vec f = {0};
        for (int32_t i = 0; i < b->n; i++)
            if (!vec_push(p, &f, pow_c(p, b->kid[i], e))) break;
        const s2_expr *r = p->failed ? NULL : mul_list(p, f.v, f.n);
        free(f.v);
        return r;
    }
    if (b->kind == S2_EXPR_FN && b->fn == S2_FN_EXP) { /* exp(u)^e = exp(u*e) */
        const s2_expr *two[2] = {b->kid[0], e};
        return call_c(p, S2_FN_EXP, mul_list(p, two, 2));
    }
    const s2_expr *k[2] = {b, e};
    return mk(p, S2_EXPR_POW, 2, k);
}

/* fn(a) for canonical a */
static const s2_expr *call_c(s2_expr_pool *p, s2_expr_fn fn, const s2_expr *a) {
    if (a == NULL) return NULL;
    if (a->kind == S2_EXPR_NUM) {
        long double v = eval_fn(fn, (long double)a->num.num / (long double)a->num.den);
        if (!isfinite(v)) {
            char why[96], nb[48];
            snprintf(why, sizeof why, "%s(%s) is undefined", fn_row[fn].name, s2_rat_str(a->num, nb, sizeof nb));
            return fail(p, why);
        }
        if (a->num.num == 0 && (fn == S2_FN_EXP || fn == S2_FN_COS || fn == S2_FN_COSH)) return s2_expr_int(p, 1);
        if (a->num.num == 0 && fn != S2_FN_ACOS && fn != S2_FN_LOG) return s2_expr_int(p, 0);
        if (is_num(a, 1, 1) && (fn == S2_FN_LOG || fn == S2_FN_ACOS)) return s2_expr_int(p, 0);
    }
    if (fn == S2_FN_LOG && a->kind == S2_EXPR_FN && a->fn == S2_FN_EXP) return a->kid[0];
    if (fn == S2_FN_EXP && a->kind == S2_EXPR_FN && a->fn == S2_FN_LOG) return a->kid[0];
    /* f(-u): odd functions give -f(u), even ones f(u) */
    bool neg = (a->kind == S2_EXPR_MUL && a->kid[0]->kind == S2_EXPR_NUM && a->kid[0]->num.num < 0) ||
               (a->kind == S2_EXPR_NUM && a->num.num < 0);
    if (neg && fn_row[fn].parity != 2) {
        const s2_expr *inner = call_c(p, fn, scale(p, s2_rat_int(-1), a));
        return fn_row[fn].parity == 1 ? scale(p, s2_rat_int(-1), inner) : inner;
    }
    s2_expr *e = node_new(p, S2_EXPR_FN, 1);
    if (e == NULL) return NULL;
    e->fn = fn;
    e->kid[0] = a;
    set_depth(e);
    return e;
}

const s2_expr *s2_expr_add(s2_expr_pool *p, const s2_expr *a, const s2_expr *b) {
    const s2_expr *k[2] = {a, b};
    return add_list(p, k, 2);
}
const s2_expr *s2_expr_mul(s2_expr_pool *p, const s2_expr *a, const s2_expr *b) {
    const s2_expr *k[2] = {a, b};
    return mul_list(p, k, 2);
}
const s2_expr *s2_expr_sub(s2_expr_pool *p, const s2_expr *a, const s2_expr *b) {
    return s2_expr_add(p, a, scale(p, s2_rat_int(-1), b));
}
const s2_expr *s2_expr_pow(s2_expr_pool *p, const s2_expr *a, const s2_expr *b) { return pow_c(p, a, b); }
const s2_expr *s2_expr_div(s2_expr_pool *p, const s2_expr *a, const s2_expr *b) {
    return s2_expr_mul(p, a, pow_c(p, b, s2_expr_int(p, -1)));
}
const s2_expr *s2_expr_call(s2_expr_pool *p, s2_expr_fn fn, const s2_expr *a) { return call_c(p, fn, a); }

const s2_expr *s2_expr_simplify(s2_expr_pool *p, const s2_expr *e) {
    if (e == NULL || p->failed) return NULL;
    switch (e->kind) {
    case S2_EXPR_NUM:
    case S2_EXPR_X: return e;
    case S2_EXPR_FN: return call_c(p, e->fn, s2_expr_simplify(p, e->kid[0]));
    case S2_EXPR_POW: return pow_c(p, s2_expr_simplify(p, e->kid[0]), s2_expr_simplify(p, e->kid[1]));
    case S2_EXPR_ADD:
    case S2_EXPR_MUL: {
        vec k = {0};
        for (int32_t i = 0; i < e->n; i++)
            if (!vec_push(p, &k, s2_expr_simplify(p, e->kid[i]))) break;
        const s2_expr *r = NULL;
        if (!p->failed) r = e->kind == S2_EXPR_ADD ? add_list(p, k.v, k.n) : mul_list(p, k.v, k.n);
        free(k.v);
        return r;
    }
    }
    return NULL;
}

/* ---- evaluation ---- */

long double s2_expr_eval(const s2_expr *e, long double x) {
    switch (e->kind) {
    case S2_EXPR_NUM: return (long double)e->num.num / (long double)e->num.den;
    case S2_EXPR_X: return x;
    case S2_EXPR_FN: return eval_fn(e->fn, s2_expr_eval(e->kid[0], x));
    case S2_EXPR_ADD: {
        long double s = 0;
        for (int32_t i = 0; i < e->n; i++) s += s2_expr_eval(e->kid[i], x);
        return s;
    }
    case S2_EXPR_MUL: {
        long double s = 1;
        for (int32_t i = 0; i < e->n; i++) s *= s2_expr_eval(e->kid[i], x);
        return s;
    }
    case S2_EXPR_POW: {
        long double b = s2_expr_eval(e->kid[0], x);
        const s2_expr *ex = e->kid[1];
        if (ex->kind == S2_EXPR_NUM && ex->num.den != 1) {
            /* b^(p/q): a real root for odd q as SymPy's real_root would not; sqrt-like (even q) needs b >= 0.
             * For odd q and b < 0 we say undefined, as SymPy's principal branch is complex there. */
            if (b < 0) return NAN;
            return powl(b, (long double)ex->num.num / (long double)ex->num.den);
        }
        long double v = ex->kind == S2_EXPR_NUM ? (long double)ex->num.num : s2_expr_eval(ex, x);
        if (b == 0 && v < 0) return NAN;
        if (ex->kind != S2_EXPR_NUM && b < 0) return NAN; /* x^f(x) is defined for x > 0 only */
        return powl(b, v);
    }
    }
    return NAN;
}

/* ---- differentiation ---- */

/* f'(u) for the function's table row (without the chain factor u') */
static const s2_expr *dfn(s2_expr_pool *p, s2_expr_fn fn, const s2_expr *u) {
    const s2_expr *one = s2_expr_int(p, 1), *m1 = s2_expr_int(p, -1), *half = s2_expr_num(p, (s2_rat){-1, 2});
    const s2_expr *u2 = pow_c(p, u, s2_expr_int(p, 2));
    switch (fn) {
    case S2_FN_EXP: return call_c(p, S2_FN_EXP, u);
    case S2_FN_LOG: return pow_c(p, u, m1);
    case S2_FN_SIN: return call_c(p, S2_FN_COS, u);
    case S2_FN_COS: return scale(p, s2_rat_int(-1), call_c(p, S2_FN_SIN, u));
    case S2_FN_TAN: return s2_expr_add(p, one, pow_c(p, call_c(p, S2_FN_TAN, u), s2_expr_int(p, 2)));
    case S2_FN_ASIN: return pow_c(p, s2_expr_sub(p, one, u2), half);
    case S2_FN_ACOS: return scale(p, s2_rat_int(-1), pow_c(p, s2_expr_sub(p, one, u2), half));
    case S2_FN_ATAN: return pow_c(p, s2_expr_add(p, one, u2), m1);
    case S2_FN_SINH: return call_c(p, S2_FN_COSH, u);
    case S2_FN_COSH: return call_c(p, S2_FN_SINH, u);
    case S2_FN_TANH: return s2_expr_sub(p, one, pow_c(p, call_c(p, S2_FN_TANH, u), s2_expr_int(p, 2)));
    case S2_FN_N: break;
    }
    return fail(p, "unknown function");
}

const s2_expr *s2_expr_diff(s2_expr_pool *p, const s2_expr *e) {
    if (e == NULL || p->failed) return NULL;
    switch (e->kind) {
    case S2_EXPR_NUM: return s2_expr_int(p, 0);
    case S2_EXPR_X: return s2_expr_int(p, 1);
    case S2_EXPR_ADD: {
        vec d = {0};
        for (int32_t i = 0; i < e->n; i++)
            if (!vec_push(p, &d, s2_expr_diff(p, e->kid[i]))) break;
        const s2_expr *r = p->failed ? NULL : add_list(p, d.v, d.n);
        free(d.v);
        return r;
    }
    case S2_EXPR_MUL: { /* sum over i of (product with factor i differentiated) */
        vec terms = {0}, f = {0};
        for (int32_t i = 0; i < e->n && !p->failed; i++) {
            if (!s2_expr_has_x(e->kid[i])) continue;
            f.n = 0;
            for (int32_t j = 0; j < e->n; j++)
                if (!vec_push(p, &f, j == i ? s2_expr_diff(p, e->kid[j]) : e->kid[j])) break;
            if (!p->failed) vec_push(p, &terms, mul_list(p, f.v, f.n));
        }
        const s2_expr *r = p->failed ? NULL : add_list(p, terms.v, terms.n);
        free(terms.v);
        free(f.v);
        return r;
    }
    case S2_EXPR_POW: {
        const s2_expr *u = e->kid[0], *v = e->kid[1];
        if (!s2_expr_has_x(v)) { /* v * u^(v-1) * u' */
            const s2_expr *f[3] = {v, pow_c(p, u, s2_expr_sub(p, v, s2_expr_int(p, 1))), s2_expr_diff(p, u)};
            return mul_list(p, f, 3);
        }
        /* u^v * (v' log u + v u'/u) */
        const s2_expr *a = s2_expr_mul(p, s2_expr_diff(p, v), call_c(p, S2_FN_LOG, u));
        const s2_expr *b3[3] = {v, s2_expr_diff(p, u), pow_c(p, u, s2_expr_int(p, -1))};
        return s2_expr_mul(p, e, s2_expr_add(p, a, mul_list(p, b3, 3)));
    }
    case S2_EXPR_FN: return s2_expr_mul(p, dfn(p, e->fn, e->kid[0]), s2_expr_diff(p, e->kid[0]));
    }
    return NULL;
}

/* ---- printing ---- */

enum { PREC_ADD = 1, PREC_MUL = 2, PREC_NEG = 2, PREC_POW = 3, PREC_ATOM = 4 };

static void print_e(s2_buf *b, const s2_expr *e, int ctx);

static void print_rat(s2_buf *b, s2_rat r, int ctx) {
    bool paren = (r.num < 0 && ctx > PREC_ADD) || (r.den != 1 && ctx > PREC_MUL);
    if (paren) s2_buf_puts(b, "(");
    if (r.den == 1) s2_buf_printf(b, "%lld", (long long)r.num);
    else s2_buf_printf(b, "%lld/%lld", (long long)r.num, (long long)r.den);
    if (paren) s2_buf_puts(b, ")");
}

/* a factor with a negative rational exponent goes below the line */
static bool is_denominator(const s2_expr *f) {
    return f->kind == S2_EXPR_POW && f->kid[1]->kind == S2_EXPR_NUM && f->kid[1]->num.num < 0;
}

static void print_pow_pos(s2_buf *b, const s2_expr *base, s2_rat ex) {
    if (ex.num == 1 && ex.den == 1) {
        print_e(b, base, PREC_MUL + 1);
        return;
    }
    if (ex.num == 1 && ex.den == 2) {
        s2_buf_puts(b, "sqrt(");
        print_e(b, base, 0);
        s2_buf_puts(b, ")");
        return;
    }
    print_e(b, base, PREC_ATOM);
    s2_buf_puts(b, "**");
    print_rat(b, ex, PREC_ATOM);
}

/* a product, coefficient c (sign already taken out: c > 0) and factors kid[from..n) */
static void print_mul(s2_buf *b, s2_rat c, const s2_expr *const *kid, int32_t n) {
    int32_t n_num = 0, n_den = 0;
    for (int32_t i = 0; i < n; i++) {
        if (is_denominator(kid[i])) n_den++;
        else n_num++;
    }
    bool first = true;
    if (c.den != 1 && n_den > 0) { /* (5/4)*x/(x + 1): 5*x/(4*(x + 1)) would read back as 5*x/(4*x + 4) */
        s2_buf_printf(b, "(%lld/%lld)", (long long)c.num, (long long)c.den);
        c = s2_rat_int(1);
        first = false;
    } else if (c.num != 1 || n_num == 0) {
        s2_buf_printf(b, "%lld", (long long)c.num);
        first = false;
    }
    for (int32_t i = 0; i < n; i++) {
        if (is_denominator(kid[i])) continue;
        if (!first) s2_buf_puts(b, "*");
        first = false;
        if (kid[i]->kind == S2_EXPR_POW && kid[i]->kid[1]->kind == S2_EXPR_NUM)
            print_pow_pos(b, kid[i]->kid[0], kid[i]->kid[1]->num);
        else print_e(b, kid[i], PREC_MUL + 1);
    }
    int32_t below = n_den + (c.den != 1);
    if (below == 0) return;
    s2_buf_puts(b, "/");
    if (below > 1) s2_buf_puts(b, "(");
    first = true;
    if (c.den != 1) {
        s2_buf_printf(b, "%lld", (long long)c.den);
        first = false;
    }
    for (int32_t i = 0; i < n; i++) {
        if (!is_denominator(kid[i])) continue;
        if (!first) s2_buf_puts(b, "*");
        first = false;
        s2_rat ex = kid[i]->kid[1]->num;
        ex.num = -ex.num;
        /* alone below the line a power needs no parentheses, but x/y**2 reads as intended too */
        if (below == 1 && !(ex.num == 1 && ex.den == 1) && !(ex.num == 1 && ex.den == 2)) {
            print_e(b, kid[i]->kid[0], PREC_ATOM);
            s2_buf_puts(b, "**");
            print_rat(b, ex, PREC_ATOM);
        } else if (below == 1 && ex.num == 1 && ex.den == 1) print_e(b, kid[i]->kid[0], PREC_ATOM);
        else print_pow_pos(b, kid[i]->kid[0], ex);
    }
    if (below > 1) s2_buf_puts(b, ")");
}

/* the sign of a term: true when it prints with a leading minus */
static bool term_negative(const s2_expr *t) {
    if (t->kind == S2_EXPR_NUM) return t->num.num < 0;
    return t->kind == S2_EXPR_MUL && t->kid[0]->kind == S2_EXPR_NUM && t->kid[0]->num.num < 0;
}

/* t without its sign, as a product or atom */
static void print_abs_term(s2_buf *b, const s2_expr *t, int ctx) {
    if (t->kind == S2_EXPR_NUM) {
        s2_rat r = t->num;
        if (r.num < 0) r.num = -r.num;
        print_rat(b, r, ctx);
        return;
    }
    if (t->kind == S2_EXPR_MUL || is_denominator(t)) {
        s2_rat c = s2_rat_int(1);
        const s2_expr *const *k = t->kind == S2_EXPR_MUL ? t->kid : &t;
        int32_t n = t->kind == S2_EXPR_MUL ? t->n : 1;
        if (t->kind == S2_EXPR_MUL && k[0]->kind == S2_EXPR_NUM) {
            c = k[0]->num;
            k++;
            n--;
        }
        if (c.num < 0) c.num = -c.num;
        bool paren = ctx > PREC_MUL;
        if (paren) s2_buf_puts(b, "(");
        print_mul(b, c, k, n);
        if (paren) s2_buf_puts(b, ")");
        return;
    }
    print_e(b, t, ctx);
}

static void print_e(s2_buf *b, const s2_expr *e, int ctx) {
    switch (e->kind) {
    case S2_EXPR_NUM: print_rat(b, e->num, ctx); return;
    case S2_EXPR_X: s2_buf_puts(b, "x"); return;
    case S2_EXPR_FN:
        s2_buf_printf(b, "%s(", fn_row[e->fn].name);
        print_e(b, e->kid[0], 0);
        s2_buf_puts(b, ")");
        return;
    case S2_EXPR_ADD: {
        bool paren = ctx > PREC_ADD;
        if (paren) s2_buf_puts(b, "(");
        /* SymPy's order puts numbers last; ours sorts them first: print them last so the text reads as usual */
        for (int32_t pass = 0, first = 1; pass < 2; pass++)
            for (int32_t i = 0; i < e->n; i++) {
                const s2_expr *t = e->kid[i];
                if ((t->kind == S2_EXPR_NUM) != (pass == 1)) continue;
                bool neg = term_negative(t);
                if (first) s2_buf_puts(b, neg ? "-" : "");
                else s2_buf_puts(b, neg ? " - " : " + ");
                first = 0;
                print_abs_term(b, t, PREC_MUL);
            }
        if (paren) s2_buf_puts(b, ")");
        return;
    }
    case S2_EXPR_MUL:
    case S2_EXPR_POW: {
        if (e->kind == S2_EXPR_POW && !is_denominator(e)) {
            bool paren = ctx > PREC_POW;
            if (e->kid[1]->kind == S2_EXPR_NUM && e->kid[1]->num.num == 1 && e->kid[1]->num.den == 2) paren = false;
            if (paren) s2_buf_puts(b, "(");
            if (e->kid[1]->kind == S2_EXPR_NUM) print_pow_pos(b, e->kid[0], e->kid[1]->num);
            else {
                print_e(b, e->kid[0], PREC_ATOM);
                s2_buf_puts(b, "**");
                print_e(b, e->kid[1], PREC_ATOM);
            }
            if (paren) s2_buf_puts(b, ")");
            return;
        }
        bool neg = term_negative(e);
        bool paren = ctx > (neg ? PREC_ADD : PREC_MUL);
        if (paren) s2_buf_puts(b, "(");
        if (neg) s2_buf_puts(b, "-");
        print_abs_term(b, e, PREC_MUL);
        if (paren) s2_buf_puts(b, ")");
        return;
    }
    }
}

char *s2_expr_str(const s2_expr *e) {
    s2_buf b = {0};
    print_e(&b, e, 0);
    return s2_buf_take(&b);
}

/* ---- parsing ---- */

typedef struct parser {
    s2_expr_pool *p;
    const char *s, *start;
    int depth;
    s2_status st;
    s2_error *err;
} parser;

static const s2_expr *perr(parser *ps, s2_status st, const char *what) {
    if (ps->st == S2_OK) {
        ps->st = st;
        s2_error_set(ps->err, st, "expression: %s at column %d", what, (int)(ps->s - ps->start) + 1);
    }
    return NULL;
}

static void skip_ws(parser *ps) {
    while (*ps->s == ' ' || *ps->s == '\t') ps->s++;
}

static const s2_expr *parse_sum(parser *ps);

static const s2_expr *check_pool(parser *ps, const s2_expr *e) {
    if (e == NULL && ps->st == S2_OK) {
        const char *why = s2_expr_pool_error(ps->p);
        bool budget = why != NULL && strstr(why, "budget") != NULL;
        return perr(ps, budget ? S2_E_BUDGET : S2_E_ARG, why != NULL ? why : "out of memory");
    }
    return e;
}

static const s2_expr *parse_atom(parser *ps) {
    skip_ws(ps);
    const char *s = ps->s;
    if (*s >= '0' && *s <= '9') {
        s2_rat v;
        bool ovf = false;
        if (!s2_rat_parse(&ps->s, false, false, &v, &ovf))
            return perr(ps, ovf ? S2_E_ARG : S2_E_FORMAT, ovf ? "number too large" : "bad number");
        return check_pool(ps, s2_expr_num(ps->p, v));
    }
    if (*s == '(') {
        ps->s++;
        const s2_expr *e = parse_sum(ps);
        if (e == NULL) return NULL;
        skip_ws(ps);
        if (*ps->s != ')') return perr(ps, S2_E_FORMAT, "expected ')'");
        ps->s++;
        return e;
    }
    if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
        size_t n = 0;
        while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')) n++;
        if (n == 1 && *s == 'x') {
            ps->s++;
            return check_pool(ps, s2_expr_x(ps->p));
        }
        int fn = -1;
        bool is_sqrt = n == 4 && strncmp(s, "sqrt", 4) == 0;
        for (int f = 0; f < S2_FN_N && !is_sqrt; f++)
            if (strlen(fn_row[f].name) == n && strncmp(s, fn_row[f].name, n) == 0) fn = f;
        if (fn < 0 && !is_sqrt) return perr(ps, S2_E_FORMAT, "unknown name");
        ps->s += n;
        skip_ws(ps);
        if (*ps->s != '(') return perr(ps, S2_E_FORMAT, "expected '(' after a function name");
        ps->s++;
        const s2_expr *a = parse_sum(ps);
        if (a == NULL) return NULL;
        skip_ws(ps);
        if (*ps->s != ')') return perr(ps, S2_E_FORMAT, "expected ')'");
        ps->s++;
        if (is_sqrt) return check_pool(ps, pow_c(ps->p, a, s2_expr_num(ps->p, (s2_rat){1, 2})));
        return check_pool(ps, call_c(ps->p, (s2_expr_fn)fn, a));
    }
    return perr(ps, S2_E_FORMAT, *s == '\0' ? "unexpected end" : "unexpected character");
}

static const s2_expr *parse_unary(parser *ps);

static const s2_expr *parse_power(parser *ps) {
    const s2_expr *b = parse_atom(ps);
    if (b == NULL) return NULL;
    skip_ws(ps);
    bool star2 = ps->s[0] == '*' && ps->s[1] == '*';
    if (!star2 && ps->s[0] != '^') return b;
    ps->s += star2 ? 2 : 1;
    const s2_expr *e = parse_unary(ps); /* right-associative: 2**3**2 = 2**9; 2**-1 allowed */
    if (e == NULL) return NULL;
    if (e->kind == S2_EXPR_NUM && (e->num.num > 1000000 || e->num.num < -1000000) && s2_expr_has_x(b))
        return perr(ps, S2_E_ARG, "exponent too large");
    return check_pool(ps, pow_c(ps->p, b, e));
}

static const s2_expr *parse_unary(parser *ps) {
    skip_ws(ps);
    if (++ps->depth > S2_EXPR_MAX_DEPTH) return perr(ps, S2_E_BUDGET, "nesting too deep");
    const s2_expr *r;
    if (*ps->s == '-' || *ps->s == '+') {
        bool neg = *ps->s == '-';
        ps->s++;
        r = parse_unary(ps);
        if (r != NULL && neg) r = check_pool(ps, scale(ps->p, s2_rat_int(-1), r));
    } else r = parse_power(ps);
    ps->depth--;
    return r;
}

static const s2_expr *parse_product(parser *ps) {
    const s2_expr *a = parse_unary(ps);
    for (;;) {
        if (a == NULL) return NULL;
        skip_ws(ps);
        char c = *ps->s;
        if (!((c == '*' && ps->s[1] != '*') || c == '/')) return a;
        ps->s++;
        const s2_expr *b = parse_unary(ps);
        if (b == NULL) return NULL;
        a = check_pool(ps, c == '*' ? s2_expr_mul(ps->p, a, b) : s2_expr_div(ps->p, a, b));
    }
}

static const s2_expr *parse_sum(parser *ps) {
    if (++ps->depth > S2_EXPR_MAX_DEPTH) return perr(ps, S2_E_BUDGET, "nesting too deep");
    const s2_expr *a = parse_product(ps);
    for (;;) {
        if (a == NULL) break;
        skip_ws(ps);
        char c = *ps->s;
        if (c != '+' && c != '-') break;
        ps->s++;
        const s2_expr *b = parse_product(ps);
        if (b == NULL) {
            a = NULL;
            break;
        }
        a = check_pool(ps, c == '+' ? s2_expr_add(ps->p, a, b) : s2_expr_sub(ps->p, a, b));
    }
    ps->depth--;
    return a;
}

s2_status s2_expr_parse(s2_expr_pool *p, const char *text, const s2_expr **out, s2_error *err) {
    *out = NULL;
    if (text == NULL) return s2_error_set(err, S2_E_ARG, "expression: NULL text");
    size_t len = strnlen(text, S2_EXPR_MAX_LEN + 1);
    if (len > S2_EXPR_MAX_LEN)
        return s2_error_set(err, S2_E_BUDGET, "expression: longer than %d characters", S2_EXPR_MAX_LEN);
    if (p->failed) return s2_error_set(err, S2_E_ARG, "expression: pool failed earlier: %s", p->why);
    parser ps = {.p = p, .s = text, .start = text, .err = err, .st = S2_OK};
    const s2_expr *e = parse_sum(&ps);
    if (e != NULL) {
        skip_ws(&ps);
        if (*ps.s != '\0') e = perr(&ps, S2_E_FORMAT, *ps.s == ')' ? "unbalanced ')'" : "unexpected character");
    }
    if (e == NULL) return ps.st != S2_OK ? ps.st : s2_error_set(err, S2_E_ARG, "expression: invalid");
    *out = e;
    return S2_OK;
}

/* ---- equality ---- */

s2_expr_eq s2_expr_equal(s2_expr_pool *p, const s2_expr *a, const s2_expr *b) {
    if (a == NULL || b == NULL) return S2_EXPR_UNVERIFIED;
    const s2_expr *d = s2_expr_sub(p, a, b);
    if (d != NULL && is_num(d, 0, 1)) return S2_EXPR_EQ_SYMBOLIC;
    if (d != NULL && d->kind == S2_EXPR_NUM) return S2_EXPR_NE;
    uint64_t rng = 0x9e3779b97f4a7c15ull; /* fixed points: the same pair always gets the same answer */
    int valid = 0;
    for (int k = 0; k < S2_EXPR_EQ_POINTS; k++) {
        /* a third each in [-1, 1] (the domain of asin, acos), [-3, 3] and [-10, 10] */
        long double r = (long double)(s2_task_rng_next(&rng) >> 11) / (long double)(1ull << 53);
        long double x = (k % 3 == 0 ? 2 : k % 3 == 1 ? 6 : 20) * (r - 0.5L);
        long double va = s2_expr_eval(a, x), vb = s2_expr_eval(b, x);
        if (!isfinite(va) || !isfinite(vb)) continue;
        long double scale_ = fmaxl(1, fmaxl(fabsl(va), fabsl(vb)));
        if (fabsl(va - vb) > 1e-12L * scale_) return S2_EXPR_NE;
        valid++;
    }
    return valid >= S2_EXPR_EQ_MIN_VALID ? S2_EXPR_EQ_NUMERIC : S2_EXPR_UNVERIFIED;
}

/* ---- random expressions ---- */

static const s2_expr *random_tree(s2_expr_pool *p, uint64_t *rng, int n) {
    if (n <= 0) {
        if (s2_task_rng_below(rng, 4) != 0) return s2_expr_x(p);
        int64_t v = 1 + (int64_t)s2_task_rng_below(rng, 5);
        return s2_expr_int(p, s2_task_rng_below(rng, 4) == 0 ? -v : v);
    }
    uint64_t pick = s2_task_rng_below(rng, 10);
    if (pick < 3) { /* unary: a function or sqrt */
        uint64_t f = s2_task_rng_below(rng, S2_FN_N + 1);
        const s2_expr *a = random_tree(p, rng, n - 1);
        if (f == S2_FN_N) return pow_c(p, a, s2_expr_num(p, (s2_rat){1, 2}));
        return call_c(p, (s2_expr_fn)f, a);
    }
    if (pick == 3) { /* a small integer power */
        int64_t e = 2 + (int64_t)s2_task_rng_below(rng, 3);
        if (s2_task_rng_below(rng, 4) == 0) e = -1;
        return pow_c(p, random_tree(p, rng, n - 1), s2_expr_int(p, e));
    }
    int l = (int)s2_task_rng_below(rng, (uint64_t)n);
    const s2_expr *a = random_tree(p, rng, l), *b = random_tree(p, rng, n - 1 - l);
    switch (pick) {
    case 4:
    case 5: return s2_expr_add(p, a, b);
    case 6: return s2_expr_sub(p, a, b);
    case 7:
    case 8: return s2_expr_mul(p, a, b);
    default: return s2_expr_div(p, a, b);
    }
}

const s2_expr *s2_expr_random(s2_expr_pool *p, uint64_t *rng, int n_ops) { return random_tree(p, rng, n_ops); }

/* ---- a small integrator ---- */

/* G(u) with G' = g, for the table's functions, or NULL */
static const s2_expr *antider_fn(s2_expr_pool *p, s2_expr_fn fn, const s2_expr *u) {
    const s2_expr *two = s2_expr_int(p, 2);
    switch (fn) {
    case S2_FN_EXP: return call_c(p, S2_FN_EXP, u);
    case S2_FN_SIN: return scale(p, s2_rat_int(-1), call_c(p, S2_FN_COS, u));
    case S2_FN_COS: return call_c(p, S2_FN_SIN, u);
    case S2_FN_SINH: return call_c(p, S2_FN_COSH, u);
    case S2_FN_COSH: return call_c(p, S2_FN_SINH, u);
    case S2_FN_TAN: return scale(p, s2_rat_int(-1), call_c(p, S2_FN_LOG, call_c(p, S2_FN_COS, u)));
    case S2_FN_TANH: return call_c(p, S2_FN_LOG, call_c(p, S2_FN_COSH, u));
    case S2_FN_LOG: return s2_expr_sub(p, s2_expr_mul(p, u, call_c(p, S2_FN_LOG, u)), u);
    case S2_FN_ATAN:
        return s2_expr_sub(p, s2_expr_mul(p, u, call_c(p, S2_FN_ATAN, u)),
                           scale(p, (s2_rat){1, 2}, call_c(p, S2_FN_LOG, s2_expr_add(p, pow_c(p, u, two),
                                                                                      s2_expr_int(p, 1)))));
    default: return NULL;
    }
}

/* G(u) with G' = u^e */
static const s2_expr *antider_pow(s2_expr_pool *p, const s2_expr *u, s2_rat e) {
    if (e.num == -1 && e.den == 1) return call_c(p, S2_FN_LOG, u);
    s2_rat e1;
    if (!rat_ok(p, s2_rat_add(e, s2_rat_int(1), &e1))) return NULL;
    s2_rat inv;
    if (!rat_ok(p, s2_rat_div(s2_rat_int(1), e1, &inv))) return NULL;
    return scale(p, inv, pow_c(p, u, s2_expr_num(p, e1)));
}

/* g(u) for a factor that is a function or a numeric power of an inner u: its antiderivative G(u) */
static const s2_expr *outer_antider(s2_expr_pool *p, const s2_expr *fac, const s2_expr **u) {
    if (fac->kind == S2_EXPR_FN) {
        *u = fac->kid[0];
        return antider_fn(p, fac->fn, fac->kid[0]);
    }
    if (fac->kind == S2_EXPR_POW && fac->kid[1]->kind == S2_EXPR_NUM) {
        *u = fac->kid[0];
        return antider_pow(p, fac->kid[0], fac->kid[1]->num);
    }
    if (fac->kind == S2_EXPR_X) {
        *u = fac;
        return antider_pow(p, fac, s2_rat_int(1));
    }
    return NULL;
}

static const s2_expr *integ(s2_expr_pool *p, const s2_expr *f, int depth) {
    if (f == NULL || p->failed || depth > 8) return NULL;
    if (!s2_expr_has_x(f)) return s2_expr_mul(p, f, s2_expr_x(p));
    if (f->kind == S2_EXPR_ADD) {
        vec parts = {0};
        for (int32_t i = 0; i < f->n; i++) {
            const s2_expr *t = integ(p, f->kid[i], depth + 1);
            if (t == NULL || !vec_push(p, &parts, t)) {
                free(parts.v);
                return NULL;
            }
        }
        const s2_expr *r = add_list(p, parts.v, parts.n);
        free(parts.v);
        return r;
    }
    s2_rat c;
    const s2_expr *rest = split_coef(p, f, &c);
    if (rest == NULL) return NULL;
    if (!(c.num == 1 && c.den == 1)) return scale(p, c, integ(p, rest, depth + 1));
    /* substitution: f = k * u' * g(u) for one factor g(u) of f (the whole of f when it is not a product) */
    int32_t n = f->kind == S2_EXPR_MUL ? f->n : 1;
    for (int32_t i = 0; i < n && !p->failed; i++) {
        const s2_expr *fac = f->kind == S2_EXPR_MUL ? f->kid[i] : f;
        for (int as_u = 0; as_u < 2; as_u++) { /* g(u) = the factor's outer function, or u = the factor */
            const s2_expr *u = NULL, *G = NULL;
            if (as_u == 0) G = outer_antider(p, fac, &u);
            else if (f->kind == S2_EXPR_MUL) {
                u = fac;
                G = scale(p, (s2_rat){1, 2}, pow_c(p, u, s2_expr_int(p, 2)));
            }
            if (G == NULL || u == NULL || !s2_expr_has_x(u)) continue;
            const s2_expr *du = s2_expr_diff(p, u);
            if (du == NULL || is_num(du, 0, 1)) continue;
            /* k = f / (g(u) * u') must be free of x */
            const s2_expr *k = s2_expr_div(p, s2_expr_div(p, f, fac), du);
            if (k == NULL) return NULL;
            if (s2_expr_has_x(k)) continue;
            return s2_expr_mul(p, k, G);
        }
    }
    return NULL;
}

const s2_expr *s2_expr_integrate(s2_expr_pool *p, const s2_expr *f) {
    const s2_expr *F = integ(p, f, 0);
    if (F == NULL || p->failed) return NULL;
    const s2_expr *d = s2_expr_diff(p, F);
    if (!s2_expr_eq_ok(s2_expr_equal(p, d, f))) return NULL; /* a rule misapplied: no answer rather than a wrong one */
    return F;
}
