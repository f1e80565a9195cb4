/* game24.c: the Game of 24 (Tree of Thoughts' setting). Items come from ToT's 24.csv (split "tot" = ranks
 * 901-1000, ToT's test set, the default; "all" = every row; "ranked" = the rows whose multiset is held out, at
 * every rank, so that results can be read against human difficulty), or are generated (split "gen" = every multiset of
 * four numbers in 1..13 that can make 24, "train" = those not held out, "heldout" = those held out, "dev" = the
 * held-out ones that are not ToT's test puzzles, for choosing settings), found by the exact solver of numgame.c.
 * The format (numgame.h), for a prompt "Input: 4 9 10 13\n":
 *     13 - 9 = 4 (left: 4 4 10)
 *     10 - 4 = 6 (left: 4 6)
 *     4 * 6 = 24 (left: 24)
 *     Answer: (13 - 9) * (10 - 4) = 24
 * The value model reads "Value: 4 4 10\n" (the numbers left) and answers "sure\n" or "impossible\n".
 * Held out: ToT's test puzzles (ranks 901-1000, by multiset, compiled in below) and every multiset whose id
 * ("4-9-10-13") hashes to 0 mod 10. gen_example draws only from the other generated multisets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numgame.h"

#define G24_MAXV 13                    /* generated numbers are 1..13 */
#define G24_KEY(a, b, c, d) ((((a) * 14 + (b)) * 14 + (c)) * 14 + (d))

/* ToT's test puzzles: rows 901-1000 of 24.csv, sorted ascending as in the file. */
static const int tot_test[100][4] = {
    {4,5,6,10},{1,2,4,7},{2,5,8,11},{3,4,4,13},{6,7,8,9},{1,11,11,13},{1,8,10,11},{2,3,6,9},{1,3,5,9},{3,3,7,12},
    {4,5,7,9},{1,2,8,13},{4,6,6,9},{1,4,4,8},{1,5,10,11},{3,4,6,11},{2,4,8,9},{1,4,5,13},{2,2,7,12},{3,3,6,7},
    {1,5,9,13},{5,6,7,13},{5,5,8,10},{2,4,6,12},{6,7,8,11},{7,9,9,13},{3,6,9,12},{6,9,12,13},{4,7,9,13},{5,6,8,12},
    {2,4,6,7},{2,5,10,10},{6,6,7,12},{6,9,9,11},{5,8,11,12},{5,6,8,10},{6,11,12,13},{2,2,8,8},{2,7,12,13},{2,6,8,12},
    {3,4,9,13},{4,5,10,12},{1,2,7,11},{4,5,6,8},{6,10,12,13},{1,3,9,9},{1,4,4,11},{2,3,9,10},{1,2,3,13},{1,6,6,6},
    {1,2,2,9},{1,3,6,11},{5,10,12,13},{2,3,6,6},{6,7,10,12},{7,8,8,12},{3,4,6,8},{1,7,9,11},{2,3,6,13},{2,2,5,12},
    {2,6,8,13},{8,8,10,12},{1,3,8,13},{4,4,7,10},{1,7,10,13},{1,9,10,13},{3,3,4,11},{2,5,7,7},{3,9,10,13},{2,3,4,7},
    {4,4,8,12},{1,2,6,10},{1,5,12,12},{5,6,6,8},{7,7,8,11},{1,3,7,10},{3,3,9,12},{3,5,7,10},{4,10,12,13},{2,3,10,12},
    {3,4,6,6},{5,8,8,8},{6,8,8,12},{2,3,4,9},{2,6,7,11},{5,9,12,12},{1,2,7,12},{2,4,5,6},{5,5,8,13},{2,3,3,10},
    {3,4,8,12},{2,4,6,11},{2,2,8,9},{1,5,6,7},{5,8,10,11},{4,4,9,12},{2,5,6,6},{2,4,9,12},{4,8,11,13},{4,9,10,13},
};

typedef struct g24_item {
    int v[4];          /* ascending */
    char id[24];       /* CSV: the rank ("901"); generated: "4-9-10-13" */
} g24_item;

typedef struct g24_ctx {
    g24_item *items;   /* the loaded split */
    int32_t n_items;
    g24_item *train;   /* generated multisets that are not held out: gen_example's pool */
    int32_t n_train;
    int32_t n_shot;
    int32_t max_start; /* value examples of depth 0: half drawn from 1..max_start when it exceeds 13 */
    bool solvable[G24_KEY(13, 13, 13, 13) + 1]; /* memo of the solver over sorted multisets of 1..13 */
} g24_ctx;

static const s2_ng_rules g24_rules = {.target = {24, 1}, .pos_int = false};

static void sort4(int *v) {
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static void gen_id(const int *v, char *buf, size_t cap) { snprintf(buf, cap, "%d-%d-%d-%d", v[0], v[1], v[2], v[3]); }

/* One of ToT's 100 test puzzles (four numbers, ascending). */
static bool is_tot(const int *sorted4) {
    for (int i = 0; i < 100; i++)
        if (memcmp(sorted4, tot_test[i], 4 * sizeof(int)) == 0) return true;
    return false;
}

bool s2_game24_heldout(const int *four) {
    int v[4] = {four[0], four[1], four[2], four[3]};
    sort4(v);
    if (is_tot(v)) return true;
    char id[48];
    gen_id(v, id, sizeof id);
    return s2_hash_str(id) % 10 == 0;
}

bool s2_game24_solvable(const int64_t *num, const int64_t *den, int n) {
    if (n < 1 || n > S2_NG_MAX) return false;
    s2_ng_state s = {.n = n};
    for (int i = 0; i < n; i++)
        if (s2_rat_make(num[i], den[i], &s.v[i]) != S2_RAT_OK) return false;
    return s2_ng_solvable(&g24_rules, &s);
}

static void item_state(const g24_item *it, s2_ng_state *s) {
    int64_t v[4] = {it->v[0], it->v[1], it->v[2], it->v[3]};
    s2_ng_state_ints(s, v, 4);
}

/* The memo for four integers in 1..13, else the solver. */
static bool ctx_solvable(const g24_ctx *c, const s2_ng_state *s) {
    if (s->n == 4) {
        int v[4];
        bool small = true;
        for (int i = 0; i < 4 && small; i++) {
            small = s->v[i].den == 1 && s->v[i].num >= 1 && s->v[i].num <= G24_MAXV;
            v[i] = small ? (int)s->v[i].num : 0;
        }
        if (small) {
            sort4(v);
            return c->solvable[G24_KEY(v[0], v[1], v[2], v[3])];
        }
    }
    return s2_ng_solvable(&g24_rules, s);
}

/* ---- loading ---- */

/* keep: 0 every row, 1 ToT's test ranks (901-1000), 2 the rows whose multiset is held out (ToT's 100 and the
 * hash-held-out ones, at every rank: a spread of human difficulty no model of ours was trained on) */
static s2_status load_csv(g24_ctx *c, const char *path, int keep, s2_error *err) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return s2_error_set(err, S2_E_IO, "game24: cannot open %s (set SYS2_SHARED or --data)", path);
    char line[1024];
    int lineno = 0;
    s2_status st = S2_OK;
    int32_t cap = 0;
    while (st == S2_OK && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            st = s2_error_set(err, S2_E_FORMAT, "game24: %s:%d: line too long", path, lineno);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (lineno == 1) {
            if (strncmp(line, "Rank,Puzzles", 12) != 0)
                st = s2_error_set(err, S2_E_FORMAT, "game24: %s:1: expected the header 'Rank,Puzzles,...'", path);
            continue;
        }
        if (len == 0) continue;
        int rank, v[4], used = 0;
        if (sscanf(line, "%d,%d %d %d %d%n", &rank, &v[0], &v[1], &v[2], &v[3], &used) != 5 ||
            (line[used] != ',' && line[used] != '\0')) {
            st = s2_error_set(err, S2_E_FORMAT, "game24: %s:%d: expected 'rank,a b c d,...', got '%.40s'", path,
                              lineno, line);
            break;
        }
        bool ok = rank >= 1;
        for (int i = 0; i < 4; i++) ok = ok && v[i] >= 1 && v[i] <= 1000;
        if (!ok) {
            st = s2_error_set(err, S2_E_FORMAT, "game24: %s:%d: rank or number out of range", path, lineno);
            break;
        }
        if (keep == 1 && (rank < 901 || rank > 1000)) continue;
        if (keep == 2 && !s2_game24_heldout(v)) continue;
        if (c->n_items == cap) {
            cap = cap ? 2 * cap : 256;
            g24_item *ni = realloc(c->items, (size_t)cap * sizeof *ni);
            if (ni == NULL) {
                st = s2_error_set(err, S2_E_NOMEM, "game24: out of memory");
                break;
            }
            c->items = ni;
        }
        g24_item *it = &c->items[c->n_items++];
        memcpy(it->v, v, sizeof v);
        sort4(it->v);
        snprintf(it->id, sizeof it->id, "%d", rank);
    }
    if (st == S2_OK && ferror(f)) st = s2_error_set(err, S2_E_IO, "game24: error reading %s", path);
    fclose(f);
    if (st == S2_OK && c->n_items == 0) st = s2_error_set(err, S2_E_FORMAT, "game24: %s has no puzzles", path);
    return st;
}

/* Every multiset of 1..13 with its solvability memo; keeps the ones of the split (which: 0 all, 1 train,
 * 2 held out) in *out when out is not NULL. */
static s2_status build_generated(g24_ctx *c, s2_error *err) {
    int32_t cap = 1820; /* C(16, 4) multisets */
    c->train = malloc((size_t)cap * sizeof *c->train);
    if (c->train == NULL) return s2_error_set(err, S2_E_NOMEM, "game24: out of memory");
    for (int a = 1; a <= G24_MAXV; a++)
        for (int b = a; b <= G24_MAXV; b++)
            for (int d3 = b; d3 <= G24_MAXV; d3++)
                for (int d = d3; d <= G24_MAXV; d++) {
                    s2_ng_state s;
                    int64_t v[4] = {a, b, d3, d};
                    s2_ng_state_ints(&s, v, 4);
                    bool ok = s2_ng_solvable(&g24_rules, &s);
                    c->solvable[G24_KEY(a, b, d3, d)] = ok;
                    int iv[4] = {a, b, d3, d};
                    if (ok && !s2_game24_heldout(iv)) {
                        g24_item *it = &c->train[c->n_train++];
                        memcpy(it->v, iv, sizeof iv);
                        gen_id(iv, it->id, sizeof it->id);
                    }
                }
    return S2_OK;
}

/* which: 0 every solvable multiset, 1 the training ones, 2 the held-out ones, 3 the held-out ones that are not
 * ToT's test puzzles (a development set: choose settings there, report on ToT's 100) */
static s2_status select_generated(g24_ctx *c, int which, int32_t limit, s2_error *err) {
    c->items = malloc(1820 * sizeof *c->items);
    if (c->items == NULL) return s2_error_set(err, S2_E_NOMEM, "game24: out of memory");
    for (int a = 1; a <= G24_MAXV; a++)
        for (int b = a; b <= G24_MAXV; b++)
            for (int d3 = b; d3 <= G24_MAXV; d3++)
                for (int d = d3; d <= G24_MAXV; d++) {
                    int iv[4] = {a, b, d3, d};
                    if (!c->solvable[G24_KEY(a, b, d3, d)]) continue;
                    bool h = s2_game24_heldout(iv);
                    if ((which == 1 && h) || (which == 2 && !h) || (which == 3 && (!h || is_tot(iv)))) continue;
                    if (limit > 0 && c->n_items >= limit) continue;
                    g24_item *it = &c->items[c->n_items++];
                    memcpy(it->v, iv, sizeof iv);
                    gen_id(iv, it->id, sizeof it->id);
                }
    return S2_OK;
}

/* ---- the interface ---- */

static const g24_ctx *ctx_of(const s2_task *t) { return t->ctx; }

static int32_t g24_n_items(const s2_task *t) { return ctx_of(t)->n_items; }

static const char *g24_item_id(const s2_task *t, int32_t i) { return ctx_of(t)->items[i].id; }

static void write_solution(s2_buf *b, const g24_item *it) {
    s2_ng_state s;
    s2_ng_path p;
    item_state(it, &s);
    if (s2_ng_first_path(&g24_rules, &s, &p)) s2_ng_write_path(b, &g24_rules, &s, &p, true, NULL);
}

static char *g24_prompt(const s2_task *t, int32_t i) {
    const g24_ctx *c = ctx_of(t);
    s2_buf b = {0};
    /* worked examples: fixed training puzzles spread over the pool, never the item itself */
    for (int32_t k = 0; k < c->n_shot && c->n_train > 0; k++) {
        const g24_item *ex = &c->train[((int64_t)(k + 1) * 997) % c->n_train];
        s2_buf_printf(&b, "Input: %d %d %d %d\n", ex->v[0], ex->v[1], ex->v[2], ex->v[3]);
        write_solution(&b, ex);
        s2_buf_puts(&b, "\n");
    }
    const g24_item *it = &c->items[i];
    s2_buf_printf(&b, "Input: %d %d %d %d\n", it->v[0], it->v[1], it->v[2], it->v[3]);
    return s2_buf_take(&b);
}

static bool g24_is_terminal(const s2_task *t, int32_t i, const char *text) {
    s2_ng_state s;
    item_state(&ctx_of(t)->items[i], &s);
    return s2_ng_is_terminal(&g24_rules, &s, text);
}

static char *g24_extract(const s2_task *t, int32_t i, const char *text) {
    s2_ng_state s;
    item_state(&ctx_of(t)->items[i], &s);
    return s2_ng_extract(&g24_rules, &s, text);
}

static s2_status g24_verify(const s2_task *t, int32_t i, const char *text, s2_verdict *out, s2_error *err) {
    (void)err;
    s2_ng_state s;
    item_state(&ctx_of(t)->items[i], &s);
    s2_ng_verify(&g24_rules, &s, text, out);
    return S2_OK;
}

static s2_oracle g24_oracle(const s2_task *t, int32_t i, const char *text) {
    const g24_ctx *c = ctx_of(t);
    s2_ng_state s;
    item_state(&c->items[i], &s);
    if (text == NULL || text[0] == '\0') return ctx_solvable(c, &s) ? S2_ORACLE_SOLVABLE : S2_ORACLE_DEAD;
    return s2_ng_oracle(&g24_rules, &s, text);
}

static bool g24_legal(const s2_task *t, int32_t i, const char *text) {
    s2_ng_state s;
    item_state(&ctx_of(t)->items[i], &s);
    return s2_ng_legal(&g24_rules, &s, text);
}

static char *g24_value_prompt(const s2_task *t, int32_t i, const char *text) {
    s2_ng_state s;
    item_state(&ctx_of(t)->items[i], &s);
    return s2_ng_value_prompt(&g24_rules, &s, text, "");
}

static s2_status g24_gen_example(const s2_task *t, s2_role role, uint64_t seed, s2_example *out, s2_error *err) {
    const g24_ctx *c = ctx_of(t);
    out->prompt = out->completion = NULL;
    if (c->n_train == 0) return s2_error_set(err, S2_E_ARG, "game24: no training puzzles");
    uint64_t rng = seed ^ 0x6a09e667f3bcc908ull;
    s2_buf pb = {0}, cb = {0};
    if (role == S2_ROLE_LEGAL) {
        /* rules only: any multiset of 1..13 that is not held out, solvable or not (the training pool holds
         * solvable puzzles only, which the solver chose), then random legal play */
        int v[4];
        do {
            for (int j = 0; j < 4; j++) v[j] = 1 + (int)s2_task_rng_below(&rng, G24_MAXV);
        } while (s2_game24_heldout(v));
        int64_t iv[4] = {v[0], v[1], v[2], v[3]};
        s2_ng_state s;
        s2_ng_state_ints(&s, iv, 4);
        s2_buf_puts(&pb, "Input: ");
        s2_ng_write_numbers(&pb, &s);
        s2_buf_puts(&pb, "\n");
        s2_ng_legal_example(&g24_rules, &s, &rng, &cb);
    } else if (role == S2_ROLE_POLICY) {
        const g24_item *it = &c->train[s2_task_rng_below(&rng, (uint64_t)c->n_train)];
        s2_ng_state s;
        item_state(it, &s); /* the pool holds solvable puzzles only */
        s2_buf_printf(&pb, "Input: %d %d %d %d\n", it->v[0], it->v[1], it->v[2], it->v[3]);
        s2_ng_policy_example(&g24_rules, &s, &rng, &pb, &cb);
    } else {
        /* A coin picks the label and a die the depth k (0-3 steps); states of that depth are drawn until one
         * has the label. So each label is 50/50 at every depth, and the count of numbers left says nothing.
         * Depth 0 draws from every multiset of 1..13 that is not held out (solvable or not: the training
         * puzzles are all solvable), or with difficulty D > 13, half the time from 1..D (more distinct
         * 4-number states than the 1,600 of 1..13, which a model can memorise); deeper states are k random
         * valid steps from a training puzzle. */
        bool want = s2_task_rng_below(&rng, 2) == 1;
        int k = (int)s2_task_rng_below(&rng, 4);
        for (int tries = 0;; tries++) {
            if (tries == 1000000) return s2_error_set(err, S2_E_ARG, "game24: no value example found");
            s2_ng_state s, end;
            if (k == 3 && want) { /* one number left and solvable: it is 24, whatever the path */
                end.n = 1;
                end.v[0] = s2_rat_int(24);
            } else if (k == 0) {
                int v[4], hi = G24_MAXV;
                if (c->max_start > G24_MAXV && s2_task_rng_below(&rng, 2) == 1) hi = c->max_start;
                for (int j = 0; j < 4; j++) v[j] = 1 + (int)s2_task_rng_below(&rng, (uint64_t)hi);
                if (s2_game24_heldout(v)) continue;
                int64_t iv[4] = {v[0], v[1], v[2], v[3]};
                s2_ng_state_ints(&end, iv, 4);
            } else {
                const g24_item *it = &c->train[s2_task_rng_below(&rng, (uint64_t)c->n_train)];
                s2_ng_path p;
                item_state(it, &s);
                s2_ng_random_steps(&g24_rules, &s, k, &rng, &p);
                s2_buf steps = {0};
                s2_ng_write_path(&steps, &g24_rules, &s, &p, false, &end);
                s2_buf_free(&steps);
            }
            if (ctx_solvable(c, &end) != want) continue;
            s2_buf_puts(&pb, "Value: ");
            s2_ng_write_numbers(&pb, &end);
            s2_buf_puts(&pb, "\n");
            s2_buf_printf(&cb, "%s\n", want ? S2_VALUE_SURE : S2_VALUE_IMPOSSIBLE);
            break;
        }
    }
    out->prompt = s2_buf_take(&pb);
    out->completion = s2_buf_take(&cb);
    if (out->prompt == NULL || out->completion == NULL) {
        s2_example_clear(out);
        return s2_error_set(err, S2_E_NOMEM, "game24: out of memory");
    }
    return S2_OK;
}

static char *g24_reference(const s2_task *t, int32_t i) {
    s2_buf b = {0};
    write_solution(&b, &ctx_of(t)->items[i]);
    if (b.n == 0) {
        s2_buf_free(&b);
        return NULL; /* unsolvable: no reference */
    }
    return s2_buf_take(&b);
}

static int32_t g24_wrong_answers(const s2_task *t, int32_t i, char **out, int32_t cap) {
    s2_ng_state s;
    item_state(&ctx_of(t)->items[i], &s);
    return s2_ng_wrong_answers(&g24_rules, &s, out, cap);
}

static void g24_free(s2_task *t) {
    g24_ctx *c = t->ctx;
    if (c == NULL) return;
    free(c->items);
    free(c->train);
    free(c);
}

static const struct s2_task_i g24_iface = {
    .name = "game24",
    .summary = "Game of 24: make 24 from four numbers with + - * / (ToT 24.csv, or generated)",
    .step_delim = "\n",
    .n_items = g24_n_items,
    .item_id = g24_item_id,
    .prompt = g24_prompt,
    .is_terminal = g24_is_terminal,
    .extract = g24_extract,
    .verify = g24_verify,
    .oracle = g24_oracle,
    .legal = g24_legal,
    .value_prompt = g24_value_prompt,
    .gen_example = g24_gen_example,
    .reference = g24_reference,
    .wrong_answers = g24_wrong_answers,
    .free = g24_free,
};

s2_status s2_task_game24_init(const s2_task_params *params, s2_task **out, s2_error *err) {
    *out = NULL;
    s2_task_params p = params != NULL ? *params : s2_task_default_params();
    const char *split = p.split != NULL ? p.split : "tot";
    int which = -1; /* generated: 0 all, 1 train, 2 held out; -1 the CSV */
    if (strcmp(split, "gen") == 0) which = 0;
    else if (strcmp(split, "train") == 0) which = 1;
    else if (strcmp(split, "heldout") == 0) which = 2;
    else if (strcmp(split, "dev") == 0) which = 3;
    else if (strcmp(split, "tot") != 0 && strcmp(split, "all") != 0 && strcmp(split, "ranked") != 0)
        return s2_error_set(err, S2_E_ARG, "game24: unknown split '%s' (tot, all, ranked, gen, train, heldout, dev)",
                            split);
    if (which >= 0 && p.data != NULL)
        return s2_error_set(err, S2_E_ARG, "game24: split '%s' is generated and takes no --data", split);
    if (p.n_shot > 8) return s2_error_set(err, S2_E_ARG, "game24: n_shot %d > 8", (int)p.n_shot);
    if (p.difficulty != 0 && (p.difficulty < G24_MAXV || p.difficulty > 99))
        return s2_error_set(err, S2_E_ARG, "game24: difficulty %d: the largest starting number of value training "
                            "examples, 13 to 99 (0 = 13)", (int)p.difficulty);
    g24_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) return s2_error_set(err, S2_E_NOMEM, "game24: out of memory");
    c->n_shot = p.n_shot < 0 ? 0 : p.n_shot;
    c->max_start = p.difficulty == 0 ? G24_MAXV : p.difficulty;
    s2_task tmp = {.iface = &g24_iface, .ctx = c};
    s2_status st = build_generated(c, err);
    if (st == S2_OK) {
        if (which >= 0) st = select_generated(c, which, p.n_items, err);
        else {
            char path[4096];
            const char *file = p.data != NULL ? p.data : s2_task_shared_path(path, sizeof path, "data/game24.csv");
            st = load_csv(c, file, strcmp(split, "tot") == 0 ? 1 : strcmp(split, "ranked") == 0 ? 2 : 0, err);
        }
    }
    if (st == S2_OK) st = s2_task_new(&g24_iface, c, out, err);
    if (st != S2_OK) g24_free(&tmp);
    return st;
}
