/* integrate.c: symbolic integration, the easy direction reversed (Lample & Charton 2019). An item is a function
 * f of x; the prompt is "Integrate: <f>\n" and the model answers "Answer: <F>\n"; the answer is right when
 * d/dx F equals f (tasks/expr.c: symbolically, or at many random points), so any constant of integration passes.
 *
 * Items come from three generators over random expression trees (s2_expr_random, difficulty = the largest number
 * of operators, each item drawing 1..difficulty):
 *   backward: a random F, f = simplify(F');
 *   forward:  a random f, F = the library's small rule-based integrator (items it cannot do are skipped);
 *   parts:    random F and G, and f = F*G' when the integrator finds H = the integral of F'*G: then F*G - H.
 * An item is kept only when its texts fit the model (f at most IG_MAX_F characters, F at most IG_MAX_ANS), its
 * reference verifies and its perturbations (wrong_fmt: 2*F, -F, F + x, F*x, F + x**2/1000) do not. Ids are f's canonical text; an item is
 * held out when s2_hash_str(id) % 10 is 0 (the test splits) or 1 (the dev splits); training examples (policy:
 * backward 80%, parts 20%, never forward, so that the forward test set measures the distribution shift L&C report)
 * come from the other classes only. Splits: test-bwd (default, 500), test-fwd (500), dev (backward, 200), dev-fwd
 * (200), train (backward, 1000). The answer a search votes on (extract) is F in canonical form with its constant
 * terms dropped, so that answers differing in form or in the constant of integration count as one. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "task_impl.h"

#define IG_MAX_F 64      /* longest integrand text */
#define IG_MAX_ANS 48    /* longest reference answer text */
#define IG_MAX_LINES 4   /* a text with this many lines and no answer can hold nothing more */
#define IG_POOL_NODES 200000

typedef enum ig_gen { IG_BWD = 0, IG_FWD = 1, IG_PARTS = 2 } ig_gen;

typedef struct ig_item {
    char f[IG_MAX_F + 1];
    char F[IG_MAX_ANS + 1];
} ig_item;

typedef struct ig_ctx {
    ig_item *items;
    int32_t n_items;
    int difficulty;
} ig_ctx;

static const ig_ctx *ctx_of(const s2_task *t) { return t->ctx; }

static int heldout_class(const char *id) { return (int)(s2_hash_str(id) % 10); }

/* ---- checking an answer ---- */

/* Whether F (text) is an antiderivative of f (text): 1 yes, 0 no, with the reason in why. */
static int check_antiderivative(s2_expr_pool *p, const char *f_text, const char *F_text, char *why, size_t cap) {
    s2_error err = {0};
    const s2_expr *F = NULL, *f = NULL;
    if (s2_expr_parse(p, F_text, &F, &err) != S2_OK) {
        snprintf(why, cap, "cannot read the answer: %.200s", err.msg);
        return 0;
    }
    if (s2_expr_parse(p, f_text, &f, &err) != S2_OK) {
        snprintf(why, cap, "cannot read the integrand: %.200s", err.msg);
        return 0;
    }
    const s2_expr *d = s2_expr_diff(p, F);
    if (d == NULL) {
        snprintf(why, cap, "cannot differentiate the answer: %s", s2_expr_pool_error(p));
        return 0;
    }
    s2_expr_eq eq = s2_expr_equal(p, d, f);
    if (s2_expr_eq_ok(eq)) {
        snprintf(why, cap, "ok (%s)", eq == S2_EXPR_EQ_SYMBOLIC ? "symbolic" : "numeric");
        return 1;
    }
    char *ds = s2_expr_str(d);
    if (eq == S2_EXPR_UNVERIFIED) snprintf(why, cap, "not verified: too few points where both are defined");
    else snprintf(why, cap, "d/dx of the answer is %.120s, not the integrand", ds != NULL ? ds : "?");
    free(ds);
    return 0;
}

/* ---- generating items ---- */

/* Near misses of a reference answer F, for check-task; items whose perturbations the verifier cannot tell from
 * F (a huge constant that drowns a small term) are not kept. */
#define IG_N_WRONG 8
static const char *const wrong_fmt[IG_N_WRONG] = {
    "Answer: 2*(%s)\n",         /* a constant factor */
    "Answer: -(%s)\n",          /* the sign */
    "Answer: %s + x\n",         /* a term too many */
    "Answer: (%s)*x\n",         /* a factor too many */
    "Answer: %s + x**2/1000\n", /* a small term */
    "Answer: (%s\n",            /* unbalanced */
    "Answer: %.0s\n",           /* empty */
    "Integrate: %s\n",          /* no answer */
};

static bool text_of(const s2_expr *e, char *buf, size_t cap) {
    if (e == NULL) return false;
    char *s = s2_expr_str(e);
    bool ok = s != NULL && strlen(s) < cap;
    if (ok) memcpy(buf, s, strlen(s) + 1);
    free(s);
    return ok;
}

/* Whether every x-free part of e is a real number: sqrt(-4), log(-2) or asin(3) are undefined at every real x,
 * so an integrand holding one has no real antiderivative to verify (the forward generator drew such constants). */
static bool consts_real(const s2_expr *e) {
    if (!s2_expr_has_x(e)) return isfinite((double)s2_expr_eval(e, 0.0L));
    for (int32_t i = 0; i < e->n; i++)
        if (!consts_real(e->kid[i])) return false;
    return true;
}

/* One item from gen with n_ops operators into *it; false when this draw is skipped. */
static bool gen_item(ig_gen gen, int n_ops, uint64_t *rng, ig_item *it) {
    s2_expr_pool *p = s2_expr_pool_new(IG_POOL_NODES);
    if (p == NULL) return false;
    const s2_expr *f = NULL, *F = NULL;
    if (gen == IG_BWD) {
        F = s2_expr_random(p, rng, n_ops);
        if (F != NULL && s2_expr_has_x(F)) f = s2_expr_diff(p, F);
    } else if (gen == IG_FWD) {
        f = s2_expr_random(p, rng, n_ops);
        if (f != NULL && s2_expr_has_x(f)) F = s2_expr_integrate(p, f);
    } else {
        int a = 1 + (int)s2_task_rng_below(rng, (uint64_t)(n_ops > 1 ? n_ops - 1 : 1));
        const s2_expr *u = s2_expr_random(p, rng, a), *v = s2_expr_random(p, rng, n_ops - a > 0 ? n_ops - a : 1);
        if (u != NULL && v != NULL && s2_expr_has_x(u) && s2_expr_has_x(v)) {
            const s2_expr *H = s2_expr_integrate(p, s2_expr_mul(p, s2_expr_diff(p, u), v));
            if (H != NULL) {
                f = s2_expr_mul(p, u, s2_expr_diff(p, v));
                F = s2_expr_sub(p, s2_expr_mul(p, u, v), H);
            }
        }
    }
    bool ok = f != NULL && F != NULL && s2_expr_has_x(f) && consts_real(f) && consts_real(F) &&
              text_of(f, it->f, sizeof it->f) &&
              text_of(F, it->F, sizeof it->F);
    char why[256];
    /* the reference must verify and its perturbations must not */
    if (ok) {
        s2_expr_pool_reset(p);
        ok = check_antiderivative(p, it->f, it->F, why, sizeof why) == 1;
    }
    for (int k = 0; k < 5 && ok; k++) { /* the five that parse */
        char wrong[IG_MAX_ANS + 32];
        snprintf(wrong, sizeof wrong, wrong_fmt[k] + 8, it->F); /* without "Answer: " */
        char *nl = strchr(wrong, '\n');
        if (nl != NULL) *nl = '\0';
        s2_expr_pool_reset(p);
        ok = check_antiderivative(p, it->f, wrong, why, sizeof why) == 0;
    }
    s2_expr_pool_free(p);
    return ok;
}

static int draw_ops(uint64_t *rng, int difficulty) { return 1 + (int)s2_task_rng_below(rng, (uint64_t)difficulty); }

/* ---- the interface ---- */

static int32_t ig_n_items(const s2_task *t) { return ctx_of(t)->n_items; }
static const char *ig_item_id(const s2_task *t, int32_t i) { return ctx_of(t)->items[i].f; }

static char *prompt_of(const char *f) {
    s2_buf b = {0};
    s2_buf_printf(&b, "Integrate: %s\n", f);
    return s2_buf_take(&b);
}

static char *ig_prompt(const s2_task *t, int32_t i) { return prompt_of(ctx_of(t)->items[i].f); }

/* The Answer line's content (malloc'd, trimmed), or NULL */
static char *answer_of(const char *text) {
    const char *a = s2_find_line(text != NULL ? text : "", "Answer:");
    if (a == NULL) return NULL;
    a = strstr(a, "Answer:") + 7;
    while (*a == ' ' || *a == '\t') a++;
    const char *e = strchr(a, '\n');
    if (e == NULL) e = a + strlen(a);
    while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
    return s2_strndup(a, (size_t)(e - a));
}

static bool ig_is_terminal(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    if (text == NULL) return false;
    if (s2_find_line(text, "Answer:") != NULL) return true;
    int lines = 0;
    for (const char *s = text; *s; s++) lines += *s == '\n';
    return lines >= IG_MAX_LINES;
}

/* The answer in canonical form without its constant terms: the key that votes count. */
static char *ig_extract(const s2_task *t, int32_t i, const char *text) {
    (void)t;
    (void)i;
    char *a = answer_of(text);
    if (a == NULL) return NULL;
    s2_expr_pool *p = s2_expr_pool_new(IG_POOL_NODES);
    const s2_expr *e = NULL;
    s2_error err = {0};
    if (p == NULL || s2_expr_parse(p, a, &e, &err) != S2_OK) {
        s2_expr_pool_free(p);
        return a; /* unreadable: the text itself (it will not verify) */
    }
    if (e->kind == S2_EXPR_NUM) e = s2_expr_int(p, 0);
    else if (e->kind == S2_EXPR_ADD && e->kid[0]->kind == S2_EXPR_NUM) {
        /* a sum's number is its first operand: drop it */
        e = e->n == 2 ? e->kid[1] : s2_expr_raw(p, S2_EXPR_ADD, S2_FN_N, s2_rat_int(0), e->n - 1, e->kid + 1);
    }
    char *s = e != NULL ? s2_expr_str(e) : NULL;
    s2_expr_pool_free(p);
    if (s == NULL) return a;
    free(a);
    return s;
}

static s2_status ig_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    const ig_item *it = &ctx_of(t)->items[i];
    char *a = answer_of(text);
    if (a == NULL) {
        s2_verdict_set(out, 0, "no answer");
        return S2_OK;
    }
    out->answer = a;
    if (a[0] == '\0') {
        s2_verdict_set(out, 0, "empty answer");
        return S2_OK;
    }
    s2_expr_pool *p = s2_expr_pool_new(IG_POOL_NODES);
    if (p == NULL) return s2_error_set(err, S2_E_NOMEM, "integrate: out of memory");
    char why[256];
    int ok = check_antiderivative(p, it->f, a, why, sizeof why);
    s2_expr_pool_free(p);
    s2_verdict_set(out, ok, "%s", why);
    return S2_OK;
}

static s2_status ig_gen_example(const s2_task *t, s2_role role, uint64_t seed, s2_example *out, s2_error *err) {
    const ig_ctx *c = ctx_of(t);
    out->prompt = out->completion = NULL;
    if (role != S2_ROLE_POLICY)
        return s2_error_set(err, S2_E_UNSUPPORTED, "integrate: only policy examples (the answer is one line)");
    uint64_t rng = seed ^ 0x7b1d4c3a9e2f6051ull;
    ig_item it;
    for (int tries = 0;; tries++) {
        if (tries > 100000) return s2_error_set(err, S2_E_ARG, "integrate: no training example after 100000 draws");
        ig_gen gen = s2_task_rng_below(&rng, 5) == 0 ? IG_PARTS : IG_BWD;
        if (gen_item(gen, draw_ops(&rng, c->difficulty), &rng, &it) && heldout_class(it.f) >= 2) break;
    }
    s2_buf cb = {0};
    s2_buf_printf(&cb, "Answer: %s\n", it.F);
    out->prompt = prompt_of(it.f);
    out->completion = s2_buf_take(&cb);
    if (out->prompt == NULL || out->completion == NULL) {
        s2_example_clear(out);
        return s2_error_set(err, S2_E_NOMEM, "integrate: out of memory");
    }
    return S2_OK;
}

static char *ig_reference(const s2_task *t, int32_t i) {
    s2_buf b = {0};
    s2_buf_printf(&b, "Answer: %s\n", ctx_of(t)->items[i].F);
    return s2_buf_take(&b);
}

static int32_t ig_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    const char *F = ctx_of(t)->items[i].F;
        int32_t n = 0;
    for (int k = 0; k < IG_N_WRONG && n < cap; k++) {
        s2_buf b = {0};
        s2_buf_printf(&b, wrong_fmt[k], F);
        char *s = s2_buf_take(&b);
        if (s != NULL) out[n++] = s;
    }
    return n;
}

static void ig_free(s2_task *t) {
    ig_ctx *c = t->ctx;
    if (c == NULL) return;
    free(c->items);
    free(c);
}

static const struct s2_task_i ig_iface = {
    .name = "integrate",
    .summary = "symbolic integration (Lample & Charton): Integrate: f, Answer: F, verified by d/dx F = f",
    .step_delim = "\n",
    .n_items = ig_n_items,
    .item_id = ig_item_id,
    .prompt = ig_prompt,
    .is_terminal = ig_is_terminal,
    .extract = ig_extract,
    .verify = ig_verify,
    .gen_example = ig_gen_example,
    .reference = ig_reference,
    .wrong_answers = ig_wrong_answers,
    .free = ig_free,
};

static const struct {
    const char *name;
    ig_gen gen;
    int cls;          /* held-out class: 0 test, 1 dev, -1 training (any class >= 2) */
    int32_t n;        /* default item count */
    uint64_t seed;    /* fixed: a split is the same set on every run */
} ig_splits[] = {
    {"test-bwd", IG_BWD, 0, 500, 0x1b0d},
    {"test-fwd", IG_FWD, 0, 500, 0x1f0d},
    {"dev", IG_BWD, 1, 200, 0xdeb0},
    {"dev-fwd", IG_FWD, 1, 200, 0xdef0},
    {"train", IG_BWD, -1, 1000, 0x7a17},
};

s2_status s2_task_integrate_init(const s2_task_params *params, s2_task **out, s2_error *err) {
    *out = NULL;
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    const char *split = p.split != NULL ? p.split : "test-bwd";
    int si = -1;
    for (int k = 0; k < (int)(sizeof ig_splits / sizeof ig_splits[0]); k++)
        if (strcmp(ig_splits[k].name, split) == 0) si = k;
    if (si < 0)
        return s2_error_set(err, S2_E_ARG, "integrate: unknown split '%s' (test-bwd, test-fwd, dev, dev-fwd, train)",
                            split);
    if (p.data != NULL) return s2_error_set(err, S2_E_ARG, "integrate: items are generated; it takes no --data");
    if (p.n_shot > 0) return s2_error_set(err, S2_E_ARG, "integrate: n_shot %d: the prompts are bare", (int)p.n_shot);
    int d = p.difficulty > 0 ? p.difficulty : 4;
    if (d > 12) return s2_error_set(err, S2_E_ARG, "integrate: difficulty %d not in [1,12] operators", d);
    int32_t want = p.n_items > 0 ? p.n_items : ig_splits[si].n;
    if (want > 20000) return s2_error_set(err, S2_E_ARG, "integrate: n_items %d > 20000", (int)want);
    ig_ctx *c = calloc(1, sizeof *c);
    if (c != NULL) c->items = malloc((size_t)want * sizeof *c->items);
    if (c == NULL || c->items == NULL) {
        free(c);
        return s2_error_set(err, S2_E_NOMEM, "integrate: out of memory");
    }
    c->difficulty = d;
    /* the test and dev sets are fixed by their split's seed; --seed moves only the training split */
    uint64_t rng = ig_splits[si].seed ^ (ig_splits[si].cls < 0 ? p.seed : 0) ^ ((uint64_t)d << 40);
    for (int64_t tries = 0; c->n_items < want && tries < (int64_t)want * 2000; tries++) {
        ig_item it;
        if (!gen_item(ig_splits[si].gen, draw_ops(&rng, d), &rng, &it)) continue;
        int cls = heldout_class(it.f);
        if (ig_splits[si].cls >= 0 ? cls != ig_splits[si].cls : cls < 2) continue;
        bool dup = false;
        for (int32_t k = 0; k < c->n_items && !dup; k++) dup = strcmp(c->items[k].f, it.f) == 0;
        if (!dup) c->items[c->n_items++] = it;
    }
    s2_status st = c->n_items > 0 ? S2_OK : s2_error_set(err, S2_E_ARG, "integrate: no items generated");
    if (st == S2_OK) st = s2_task_new(&ig_iface, c, out, err);
    if (st != S2_OK) {
        s2_task tmp = {.iface = &ig_iface, .ctx = c};
        ig_free(&tmp);
    }
    return st;
}
