/* best_first.c: best-first search on the scorer (greedy best-first / A* without a cost term, as in LLM tree
 * search baselines such as Koh et al. 2024): a priority queue of open states ordered by score (ties to the lower
 * id); the best is popped and expanded into k scored children, until a finished state is popped, max_expansions
 * states were expanded, or the budget runs out (then the best finished state so far, else the best open one). */
#include <stdlib.h>

#include "search.h"

static bool better(const s2_node *x, const s2_node *y) {
    return x->score > y->score || (x->score == y->score && x->id < y->id);
}

/* A binary max-heap of nodes. */
typedef struct heap {
    s2_node **a;
    int32_t n, cap;
} heap;

static bool heap_push(heap *h, s2_node *x) {
    if (h->n == h->cap) {
        int32_t cap = h->cap ? 2 * h->cap : 64;
        s2_node **na = realloc(h->a, (size_t)cap * sizeof *na);
        if (na == NULL) return false;
        h->a = na;
        h->cap = cap;
    }
    int32_t i = h->n++;
    h->a[i] = x;
    while (i > 0 && better(h->a[i], h->a[(i - 1) / 2])) {
        s2_node *t = h->a[i];
        h->a[i] = h->a[(i - 1) / 2];
        h->a[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return true;
}

static s2_node *heap_pop(heap *h) {
    if (h->n == 0) return NULL;
    s2_node *top = h->a[0];
    h->a[0] = h->a[--h->n];
    for (int32_t i = 0;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && better(h->a[l], h->a[m])) m = l;
        if (r < h->n && better(h->a[r], h->a[m])) m = r;
        if (m == i) break;
        s2_node *t = h->a[i];
        h->a[i] = h->a[m];
        h->a[m] = t;
        i = m;
    }
    return top;
}

static s2_status best_first_run(const s2_strategy *s, s2_env *env, s2_result *out) {
    const s2_best_first_params *p = s->ctx;
    heap h = {0};
    s2_node **kids = s2_env_alloc(env, (size_t)p->k * sizeof *kids);
    if (kids == NULL || !heap_push(&h, s2_env_root(env))) {
        free(h.a);
        return S2_E_NOMEM;
    }
    s2_status st = S2_OK;
    s2_node *best_open = NULL, *best_final = NULL;
    for (int32_t done = 0; done < p->max_expansions;) {
        s2_node *x = heap_pop(&h);
        if (x == NULL) break;
        if (x->terminal) {
            best_final = x;
            break;
        }
        if (!s2_env_budget_left(env)) {
            st = S2_E_BUDGET;
            heap_push(&h, x);
            break;
        }
        int32_t n = s2_env_expand(env, x, p->k, kids);
        done++;
        if (n < 0) {
            st = (s2_status)n;
            break;
        }
        s2_env_release(env, x);
        for (int32_t i = 0; i < n && st == S2_OK; i++) {
            st = s2_env_score(env, kids[i]);
            if (st == S2_OK && !heap_push(&h, kids[i])) st = S2_E_NOMEM;
            if (st == S2_OK && kids[i]->terminal && (best_final == NULL || better(kids[i], best_final)))
                best_final = kids[i];
        }
        if (st != S2_OK) break;
    }
    if (best_final == NULL)
        for (int32_t i = 0; i < h.n; i++)
            if (best_open == NULL || better(h.a[i], best_open)) best_open = h.a[i];
    free(h.a);
    if (st != S2_OK && st != S2_E_BUDGET) return st;
    out->best = best_final ? best_final : best_open;
    return st;
}

static const struct s2_strategy_i best_first_iface = {.name = "best-first", .run = best_first_run};

s2_status s2_strategy_best_first_init(const s2_best_first_params *params, s2_strategy **out, s2_error *err) {
    *out = NULL;
    s2_best_first_params p = params ? *params : (s2_best_first_params){.k = 4, .max_expansions = 64};
    if (p.k < 1 || p.max_expansions < 1)
        return s2_error_set(err, S2_E_ARG, "best-first: k=%d, max_expansions=%d must be >= 1", p.k, p.max_expansions);
    s2_best_first_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "best-first: out of memory");
    *ctx = p;
    return s2_strategy_new(&best_first_iface, ctx, out, err);
}
