/* expr.h: expressions in one variable x for the integrate task (tasks/integrate.c): parse, print, simplify,
 * differentiate, evaluate, compare, generate at random, and integrate by a few rules.
 *
 * An expression is an immutable tree in canonical form once simplified: sums and products are n-ary and flat,
 * their operands sorted (s2_expr_cmp), numbers are exact rationals (tasks/rational.c) folded into one
 * coefficient, a - b is a + (-1)*b, a / b is a * b^-1 and sqrt(u) is u^(1/2). Nodes live in a pool that is freed
 * in one call; the pool has a node budget, so hostile input (deep nesting, a huge derivative) ends in an error
 * instead of exhausting memory. Every function that builds returns NULL once the pool has failed, and the pool
 * says why (s2_expr_pool_error): an overflowing rational, a division by zero, the node budget, the input.
 * Printing uses a syntax SymPy's sympify reads (x**2, exp(x), log(x), sqrt(x)); the parser reads it back, and
 * also ^ for powers. No floating point except in evaluation (long double). */
#ifndef S2_EXPR_H
#define S2_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rational.h"
#include "sys2.h"

/* X(id, name, odd): the functions, one row each; odd: f(-u) = -f(u) (even: 0 = cos, cosh; 2 = neither) */
#define S2_EXPR_FNS(X) \
    X(EXP, "exp", 2) X(LOG, "log", 2) X(SIN, "sin", 1) X(COS, "cos", 0) X(TAN, "tan", 1) X(ASIN, "asin", 1) \
    X(ACOS, "acos", 2) X(ATAN, "atan", 1) X(SINH, "sinh", 1) X(COSH, "cosh", 0) X(TANH, "tanh", 1)

typedef enum s2_expr_fn {
#define S2_EXPR_FN_ENUM(id, name, odd) S2_FN_##id,
    S2_EXPR_FNS(S2_EXPR_FN_ENUM)
#undef S2_EXPR_FN_ENUM
    S2_FN_N
} s2_expr_fn;

typedef enum s2_expr_kind {
    S2_EXPR_NUM = 0, /* a rational */
    S2_EXPR_X,       /* the variable */
    S2_EXPR_POW,     /* kid[0] ** kid[1] */
    S2_EXPR_MUL,     /* product of n >= 2 kids; a number, when there is one, is kid[0] */
    S2_EXPR_FN,      /* fn(kid[0]) */
    S2_EXPR_ADD      /* sum of n >= 2 kids */
} s2_expr_kind;

typedef struct s2_expr {
    s2_expr_kind kind;
    s2_expr_fn fn;                /* FN only */
    s2_rat num;                   /* NUM only */
    int32_t n;                    /* kids */
    int32_t depth;                /* 1 for a leaf */
    const struct s2_expr **kid;   /* n kids, pool-owned */
} s2_expr;

typedef struct s2_expr_pool s2_expr_pool;

/* A pool of at most max_nodes nodes (0 = 200000); NULL when out of memory. Free with s2_expr_pool_free. */
s2_expr_pool *s2_expr_pool_new(int64_t max_nodes);
void s2_expr_pool_free(s2_expr_pool *p); /* NULL is a no-op */
/* Frees every node and clears the error: the pool is as new (its expressions are gone). */
void s2_expr_pool_reset(s2_expr_pool *p);
/* NULL while nothing has failed, else why (borrowed, valid until the next reset). */
const char *s2_expr_pool_error(const s2_expr_pool *p);

#define S2_EXPR_MAX_LEN 4096  /* longest text the parser reads */
#define S2_EXPR_MAX_DEPTH 100 /* deepest nesting the parser reads */

/* Parses text (the whole of it, spaces allowed) into *out, simplified. S2_E_FORMAT with the position and what
 * was expected; S2_E_BUDGET for text over S2_EXPR_MAX_LEN, nesting over S2_EXPR_MAX_DEPTH or the pool's budget;
 * S2_E_ARG for numbers that overflow or values that are undefined (1/0, log(0)). */
s2_status s2_expr_parse(s2_expr_pool *p, const char *text, const s2_expr **out, s2_error *err);

/* Canonical text (malloc'd), or NULL when out of memory. */
char *s2_expr_str(const s2_expr *e);
/* Total order on canonical trees: <0, 0, >0; 0 exactly when the trees are equal. */
int s2_expr_cmp(const s2_expr *a, const s2_expr *b);
bool s2_expr_has_x(const s2_expr *e);
int64_t s2_expr_size(const s2_expr *e); /* nodes */

/* Builders: each simplifies its result. NULL once the pool failed. */
const s2_expr *s2_expr_num(s2_expr_pool *p, s2_rat v);
const s2_expr *s2_expr_int(s2_expr_pool *p, int64_t v);
const s2_expr *s2_expr_x(s2_expr_pool *p);
const s2_expr *s2_expr_add(s2_expr_pool *p, const s2_expr *a, const s2_expr *b);
const s2_expr *s2_expr_sub(s2_expr_pool *p, const s2_expr *a, const s2_expr *b);
const s2_expr *s2_expr_mul(s2_expr_pool *p, const s2_expr *a, const s2_expr *b);
const s2_expr *s2_expr_div(s2_expr_pool *p, const s2_expr *a, const s2_expr *b);
const s2_expr *s2_expr_pow(s2_expr_pool *p, const s2_expr *a, const s2_expr *b);
const s2_expr *s2_expr_call(s2_expr_pool *p, s2_expr_fn fn, const s2_expr *a);

/* Simplifies any tree (one built raw by s2_expr_raw, or from elsewhere) into canonical form. */
const s2_expr *s2_expr_simplify(s2_expr_pool *p, const s2_expr *e);
/* An unsimplified node (kind, fn, num, kids copied): for tests of the simplifier. */
const s2_expr *s2_expr_raw(s2_expr_pool *p, s2_expr_kind kind, s2_expr_fn fn, s2_rat num, int32_t n,
                           const s2_expr *const *kid);

/* d/dx e, simplified. */
const s2_expr *s2_expr_diff(s2_expr_pool *p, const s2_expr *e);
/* The value at x, NaN where e is undefined (log of a negative, division by zero, overflow). */
long double s2_expr_eval(const s2_expr *e, long double x);
const char *s2_expr_fn_name(s2_expr_fn fn);

/* How s2_expr_equal decided. */
typedef enum s2_expr_eq {
    S2_EXPR_EQ_SYMBOLIC = 0,  /* a - b simplified to 0 */
    S2_EXPR_EQ_NUMERIC,       /* a - b is 0 within tolerance at every valid random point */
    S2_EXPR_NE,               /* they differ at some point (or as constants) */
    S2_EXPR_UNVERIFIED        /* too few points where both are defined, or the pool failed */
} s2_expr_eq;
#define S2_EXPR_EQ_POINTS 60     /* random points tried */
#define S2_EXPR_EQ_MIN_VALID 20  /* fewer valid points: not verified */
/* Equality as functions of x: a - b simplifies to 0, or else is 0 within a tight relative tolerance (1e-12 of
 * max(1, |a|, |b|)) at S2_EXPR_EQ_POINTS fixed pseudo-random points (a third each in [-1, 1], [-3, 3] and
 * [-10, 10]) where both are defined. */
s2_expr_eq s2_expr_equal(s2_expr_pool *p, const s2_expr *a, const s2_expr *b);
static inline bool s2_expr_eq_ok(s2_expr_eq e) { return e == S2_EXPR_EQ_SYMBOLIC || e == S2_EXPR_EQ_NUMERIC; }

/* A random expression (Lample & Charton 2019): a random tree of n_ops operators (unary functions and sqrt;
 * + - * /, and ** with a small integer exponent) over leaves x and small integers, simplified. The rng state
 * advances (splitmix64, tasks/task_impl.h). */
const s2_expr *s2_expr_random(s2_expr_pool *p, uint64_t *rng, int n_ops);

/* An antiderivative by a few rules (linearity, powers, the table's functions of a linear argument, the
 * substitution c * u' * g(u)), checked by differentiation; NULL (and the pool not failed) when no rule applies. */
const s2_expr *s2_expr_integrate(s2_expr_pool *p, const s2_expr *f);

#endif
