/* countdown.c: Countdown as in Stream of Search (Gandhi et al., 2024): reach a target from N numbers with
 * + - * /, using every number exactly once, where every intermediate result must be a positive integer (so
 * a - b needs a > b and a / b needs b to divide a). Items are generated from params.seed and are solvable by
 * construction: N numbers in 1..50 (N = difficulty, default 4, 2..6) are combined by random valid steps, and the
 * result becomes the target when it lies in 10..100. The format (numgame.h), for "Input: 3 7 25 44 Target: 50\n":
 *     44 + 25 = 69 (left: 3 7 69)
 *     7 * 3 = 21 (left: 21 69)
 *     69 - 21 = 48 ...
 *     Answer: 44 + 25 - 7 * 3 = 48
 * The value model reads "Value: 3 7 69 Target: 50\n" and answers "sure\n" or "impossible\n".
 * An item's id is its content ("3-7-25-44=50"); it is held out when s2_hash_str(id) % 10 == 0, whatever the
 * seed: split "test" (the default) holds those, "train" the others, and gen_example never draws a held-out one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numgame.h"

#define CD_MAXN 6
#define CD_NUM_MAX 50
#define CD_TARGET_MIN 10
#define CD_TARGET_MAX 100

typedef struct cd_item {
    s2_ng_state start;   /* ascending integers */
    s2_ng_rules rules;   /* the target, pos_int */
    char id[64];
} cd_item;

typedef struct cd_ctx {
    cd_item *items;
    int32_t n_items;
    int n_numbers;
    int32_t n_shot;
} cd_ctx;

static const cd_ctx *ctx_of(const s2_task *t) { return t->ctx; }

/* The id: the numbers ascending and the target, "3-7-25-44=50". */
static void cd_set_id(cd_item *it) {
    size_t len = 0;
    for (int k = 0; k < it->start.n; k++)
        len += (size_t)snprintf(it->id + len, sizeof it->id - len, "%s%lld", k ? "-" : "",
                                (long long)it->start.v[k].num);
    snprintf(it->id + len, sizeof it->id - len, "=%lld", (long long)it->rules.target.num);
}

/* A solvable item from rng. */
static void gen_item(int n, uint64_t *rng, cd_item *it) {
    for (;;) {
        int64_t v[CD_MAXN];
        for (int k = 0; k < n; k++) v[k] = 1 + (int64_t)s2_task_rng_below(rng, CD_NUM_MAX);
        s2_ng_state s;
        s2_ng_state_ints(&s, v, n);
        s2_ng_rules r = {.target = s2_rat_int(0), .pos_int = true};
        s2_ng_path p;
        s2_ng_random_steps(&r, &s, n - 1, rng, &p);
        if (p.n != n - 1) continue;
        s2_rat t = p.s[p.n - 1].c;
        if (t.den != 1 || t.num < CD_TARGET_MIN || t.num > CD_TARGET_MAX) continue;
        it->start = s;
        it->rules = (s2_ng_rules){.target = t, .pos_int = true};
        cd_set_id(it);
        return;
    }
}

static bool heldout(const cd_item *it) { return s2_hash_str(it->id) % 10 == 0; }

static void write_input(s2_buf *b, const cd_item *it) {
    s2_buf_puts(b, "Input: ");
    s2_ng_write_numbers(b, &it->start);
    s2_buf_printf(b, " Target: %lld\n", (long long)it->rules.target.num);
}

static int32_t cd_n_items(const s2_task *t) { return ctx_of(t)->n_items; }
static const char *cd_item_id(const s2_task *t, int32_t i) { return ctx_of(t)->items[i].id; }

static void write_solution(s2_buf *b, const cd_item *it) {
    s2_ng_path p;
    if (s2_ng_first_path(&it->rules, &it->start, &p)) s2_ng_write_path(b, &it->rules, &it->start, &p, true, NULL);
}

static char *cd_prompt(const s2_task *t, int32_t i) {
    const cd_ctx *c = ctx_of(t);
    s2_buf b = {0};
    /* worked examples: training items drawn from a fixed seed */
    uint64_t rng = 0x5eed5eedull;
    for (int32_t k = 0; k < c->n_shot;) {
        cd_item ex;
        gen_item(c->n_numbers, &rng, &ex);
        if (heldout(&ex)) continue;
        write_input(&b, &ex);
        write_solution(&b, &ex);
        s2_buf_puts(&b, "\n");
        k++;
    }
    write_input(&b, &c->items[i]);
    return s2_buf_take(&b);
}

static bool cd_is_terminal(const s2_task *t, int32_t i, const char *text) {
    const cd_item *it = &ctx_of(t)->items[i];
    return s2_ng_is_terminal(&it->rules, &it->start, text);
}

static char *cd_extract(const s2_task *t, int32_t i, const char *text) {
    const cd_item *it = &ctx_of(t)->items[i];
    return s2_ng_extract(&it->rules, &it->start, text);
}

static s2_status cd_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    (void)err;
    const cd_item *it = &ctx_of(t)->items[i];
    s2_ng_verify(&it->rules, &it->start, text, out);
    return S2_OK;
}

static s2_oracle cd_oracle(const s2_task *t, int32_t i, const char *text) {
    const cd_item *it = &ctx_of(t)->items[i];
    return s2_ng_oracle(&it->rules, &it->start, text);
}

static bool cd_legal(const s2_task *t, int32_t i, const char *text) {
    const cd_item *it = &ctx_of(t)->items[i];
    return s2_ng_legal(&it->rules, &it->start, text);
}

static char *cd_value_prompt(const s2_task *t, int32_t i, const char *text) {
    const cd_item *it = &ctx_of(t)->items[i];
    char suffix[64];
    snprintf(suffix, sizeof suffix, " Target: %lld", (long long)it->rules.target.num);
    return s2_ng_value_prompt(&it->rules, &it->start, text, suffix);
}

static s2_status cd_gen_example(const s2_task *t, s2_role role, uint64_t seed, s2_example *out, s2_error *err) {
    const cd_ctx *c = ctx_of(t);
    out->prompt = out->completion = NULL;
    uint64_t rng = seed ^ 0xbb67ae8584caa73bull;
    s2_buf pb = {0}, cb = {0};
    bool want = role == S2_ROLE_VALUE && s2_task_rng_below(&rng, 2) == 1;
    int k = -1;
    for (int tries = 0;; tries++) {
        if (tries == 100000) return s2_error_set(err, S2_E_ARG, "countdown: no example found");
        cd_item it;
        gen_item(c->n_numbers, &rng, &it);
        if (heldout(&it)) continue;
        if (role == S2_ROLE_LEGAL) { /* rules only: random legal play on a training item */
            write_input(&pb, &it);
            s2_ng_legal_example(&it.rules, &it.start, &rng, &cb);
            break;
        }
        if (role == S2_ROLE_POLICY) {
            s2_ng_path p;
            bool ok = c->n_numbers <= 4 ? s2_ng_random_path(&it.rules, &it.start, &rng, &p)
                                        : s2_ng_random_descent(&it.rules, &it.start, &rng, &p);
            S2_ASSERT(ok); /* solvable by construction */
            write_input(&pb, &it);
            s2_ng_write_path(&cb, &it.rules, &it.start, &p, true, NULL);
            break;
        }
        /* value: the depth k (0 to n-1 steps) is drawn once, like the label, so that each label is 50/50 at
         * every depth; depth 0 also takes unsolvable starts (random numbers and target, not constructed) */
        if (k < 0) k = (int)s2_task_rng_below(&rng, (uint64_t)c->n_numbers);
        s2_ng_state end;
        if (k == 0 && s2_task_rng_below(&rng, 2) == 0) {
            int64_t v[CD_MAXN];
            for (int j = 0; j < c->n_numbers; j++) v[j] = 1 + (int64_t)s2_task_rng_below(&rng, CD_NUM_MAX);
            s2_ng_state_ints(&it.start, v, c->n_numbers);
            it.rules.target = s2_rat_int(CD_TARGET_MIN + (int64_t)s2_task_rng_below(&rng, CD_TARGET_MAX - CD_TARGET_MIN + 1));
            cd_set_id(&it);
            if (heldout(&it)) continue;
        }
        if (k == c->n_numbers - 1 && want) { /* one number left and solvable: it is the target */
            end.n = 1;
            end.v[0] = it.rules.target;
        } else {
            s2_ng_path p;
            s2_ng_random_steps(&it.rules, &it.start, k, &rng, &p);
            s2_buf steps = {0};
            s2_ng_write_path(&steps, &it.rules, &it.start, &p, false, &end);
            s2_buf_free(&steps);
            if (s2_ng_solvable(&it.rules, &end) != want) continue;
        }
        s2_buf_puts(&pb, "Value: ");
        s2_ng_write_numbers(&pb, &end);
        s2_buf_printf(&pb, " Target: %lld\n", (long long)it.rules.target.num);
        s2_buf_printf(&cb, "%s\n", want ? S2_VALUE_SURE : S2_VALUE_IMPOSSIBLE);
        break;
    }
    out->prompt = s2_buf_take(&pb);
    out->completion = s2_buf_take(&cb);
    if (out->prompt == NULL || out->completion == NULL) {
        s2_example_clear(out);
        return s2_error_set(err, S2_E_NOMEM, "countdown: out of memory");
    }
    return S2_OK;
}

static char *cd_reference(const s2_task *t, int32_t i) {
    s2_buf b = {0};
    write_solution(&b, &ctx_of(t)->items[i]);
    if (b.n == 0) {
        s2_buf_free(&b);
        return NULL;
    }
    return s2_buf_take(&b);
}

static int32_t cd_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    const cd_item *it = &ctx_of(t)->items[i];
    return s2_ng_wrong_answers(&it->rules, &it->start, out, cap);
}

static void cd_free(s2_task *t) {
    cd_ctx *c = t->ctx;
    if (c == NULL) return;
    free(c->items);
    free(c);
}

static const struct s2_task_i cd_iface = {
    .name = "countdown",
    .summary = "Countdown (Stream of Search): reach a target from N numbers, positive integers only",
    .step_delim = "\n",
    .n_items = cd_n_items,
    .item_id = cd_item_id,
    .prompt = cd_prompt,
    .is_terminal = cd_is_terminal,
    .extract = cd_extract,
    .verify = cd_verify,
    .oracle = cd_oracle,
    .legal = cd_legal,
    .value_prompt = cd_value_prompt,
    .gen_example = cd_gen_example,
    .reference = cd_reference,
    .wrong_answers = cd_wrong_answers,
    .free = cd_free,
};

s2_status s2_task_countdown_init(const s2_task_params *params, s2_task **out, s2_error *err) {
    *out = NULL;
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    const char *split = p.split != NULL ? p.split : "test";
    bool test = strcmp(split, "test") == 0;
    if (!test && strcmp(split, "train") != 0)
        return s2_error_set(err, S2_E_ARG, "countdown: unknown split '%s' (test, train)", split);
    if (p.data != NULL) return s2_error_set(err, S2_E_ARG, "countdown: items are generated; it takes no --data");
    int n = p.difficulty > 0 ? p.difficulty : 4;
    if (n < 2 || n > CD_MAXN) return s2_error_set(err, S2_E_ARG, "countdown: difficulty %d not in [2,%d]", n, CD_MAXN);
    int32_t want = p.n_items > 0 ? p.n_items : test ? 100 : 1000;
    if (want > 100000) return s2_error_set(err, S2_E_ARG, "countdown: n_items %d > 100000", (int)want);
    if (p.n_shot > 8) return s2_error_set(err, S2_E_ARG, "countdown: n_shot %d > 8", (int)p.n_shot);
    cd_ctx *c = calloc(1, sizeof *c);
    if (c != NULL) c->items = malloc((size_t)want * sizeof *c->items);
    if (c == NULL || c->items == NULL) {
        free(c);
        return s2_error_set(err, S2_E_NOMEM, "countdown: out of memory");
    }
    c->n_numbers = n;
    c->n_shot = p.n_shot < 0 ? 0 : p.n_shot;
    uint64_t rng = p.seed ^ 0x3c6ef372fe94f82bull;
    for (int64_t tries = 0; c->n_items < want; tries++) {
        if (tries > (int64_t)want * 1000) break; /* small difficulties have few distinct items */
        cd_item it;
        gen_item(n, &rng, &it);
        if (heldout(&it) != test) continue;
        bool dup = false;
        for (int32_t k = 0; k < c->n_items && !dup; k++) dup = strcmp(c->items[k].id, it.id) == 0;
        if (!dup) c->items[c->n_items++] = it;
    }
    s2_status st = c->n_items > 0 ? S2_OK : s2_error_set(err, S2_E_ARG, "countdown: no items generated");
    if (st == S2_OK) st = s2_task_new(&cd_iface, c, out, err);
    if (st != S2_OK) {
        s2_task tmp = {.iface = &cd_iface, .ctx = c};
        cd_free(&tmp);
    }
    return st;
}
