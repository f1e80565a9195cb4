/* improve.c: the expert-iteration loop of improve.h. It drives the runner (s2_run) for search and evaluation and
 * the trainer (s2_trainer) for fine-tuning; it adds the data extraction from search trees, the oracle counter,
 * the per-round files and the compute accounting. It never prints and never touches the task's oracle outside
 * the evaluation. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "improve.h"
#include "run.h"
#include "text.h"
#include "task_wrap.h"
#include "train.h"

/* ---- a task wrapper: a window of items, and a counter on the oracle ---- */

typedef struct wtask {
    s2_task_wrap w;               /* first: the forwarders of task_wrap.c find the window here */
    s2_task t;                    /* t.ctx = this */
    struct s2_task_i iface;
    int64_t oracle_calls;         /* touched by the search threads: atomically */
} wtask;

static s2_oracle w_oracle(const s2_task *t, int32_t i, const char *text) {
    wtask *w = t->ctx;
    __atomic_add_fetch(&w->oracle_calls, 1, __ATOMIC_RELAXED);
    return w->w.base->iface->oracle(w->w.base, s2_task_wrap_item(t, i), text);
}

/* The window [off, off + n) of inner (modulo its count), every callback forwarded, the oracle counted. Training
 * examples, references and wrong answers are not offered: the loop makes its own data. */
static void wtask_init(wtask *w, const s2_task *inner, int32_t off, int32_t n) {
    memset(w, 0, sizeof *w);
    w->w = (s2_task_wrap){.base = inner, .off = off, .n = n};
    s2_task_wrap_iface(&w->iface, inner);
    w->iface.qa = false;
    if (w->iface.oracle != NULL) w->iface.oracle = w_oracle;
    w->iface.gen_example = NULL, w->iface.reference = NULL, w->iface.wrong_answers = NULL;
    w->t.iface = &w->iface;
    w->t.ctx = w;
}

/* ---- small helpers ---- */

#define PATH_CAP 4096

/* dir + "/" + file into out (PATH_CAP bytes); s2_improve checks that the directory's name leaves room. */
static char *join(char *out, const char *dir, const char *file) {
    int n = snprintf(out, PATH_CAP, "%s/%s", dir, file);
    if (n < 0 || n >= PATH_CAP) out[0] = '\0'; /* not reached: names are checked; an empty path fails loudly */
    return out;
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static s2_status make_dir(const char *path, s2_error *err) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return S2_OK;
    return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
}

/* Writes text to path whole: a temporary file, then rename, so a reader sees the old file or the new one. */
static s2_status write_atomic(const char *path, const char *text, s2_error *err) {
    char tmp[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) return s2_error_set(err, S2_E_IO, "%s: %s", tmp, strerror(errno));
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return s2_error_set(err, S2_E_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    return S2_OK;
}

static s2_status write_json(const char *path, json_t *o, s2_error *err) {
    char *s = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (s == NULL) return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t == NULL) {
        free(s);
        return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    s2_status st = write_atomic(path, t, err);
    free(t);
    return st;
}

/* Every line of a JSONL file after the first (the runner's configuration), or from the first when all = true.
 * A missing file is an empty array. */
static s2_status read_jsonl(const char *path, bool all, json_t **out, s2_error *err) {
    *out = json_array();
    if (*out == NULL) return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    FILE *f = fopen(path, "rb");
    if (f == NULL) return errno == ENOENT ? S2_OK : s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    s2_status st = S2_OK;
    while (st == S2_OK && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (lineno == 1 && !all) continue;
        if (line[len - 1] != '\n') break; /* torn last line: the runner cuts it on resume */
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (o == NULL) st = s2_error_set(err, S2_E_FORMAT, "%s:%lld: %s", path, (long long)lineno, je.text);
        else json_array_append_new(*out, o);
    }
    free(line);
    fclose(f);
    return st;
}

static int by_index(const void *a, const void *b) {
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "index"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "index"));
    return (x > y) - (x < y);
}

/* The lines of a runner file in item order (the runner writes them in the order the threads finish). */
static s2_status read_run_sorted(const char *path, json_t ***lines, size_t *n, json_t **holder, s2_error *err) {
    s2_status st = read_jsonl(path, false, holder, err);
    *lines = NULL;
    *n = 0;
    if (st != S2_OK) return st;
    size_t k = json_array_size(*holder);
    *lines = calloc(k > 0 ? k : 1, sizeof **lines);
    if (*lines == NULL) return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    for (size_t i = 0; i < k; i++) (*lines)[i] = json_array_get(*holder, i);
    qsort(*lines, k, sizeof **lines, by_index);
    *n = k;
    return S2_OK;
}

static s2_status app(char **buf, size_t *len, size_t *cap, const char *t, s2_error *err) {
    if (s2_text_append(buf, len, cap, t, strlen(t)) == S2_OK) return S2_OK;
    return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
}

static char *str_cat(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s == NULL) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

/* ---- examples ---- */

typedef struct example {
    char *item, *prompt, *completion;
    int32_t depth;                /* value: the state's depth; policy: steps in the completion's prefix */
    int32_t label;                /* value: 1 sure, 0 impossible; policy: -1 */
} example;

typedef struct examples {
    example *v;
    size_t n, cap;
} examples;

static void examples_free(examples *e) {
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].item);
        free(e->v[i].prompt);
        free(e->v[i].completion);
    }
    free(e->v);
    memset(e, 0, sizeof *e);
}

/* Takes prompt and completion (malloc'd; freed on failure). */
static s2_status examples_add(examples *e, const char *item, char *prompt, char *completion, int32_t depth,
                              int32_t label, s2_error *err) {
    char *id = item ? strdup(item) : NULL;
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        example *v = realloc(e->v, cap * sizeof *v);
        if (v != NULL) {
            e->v = v;
            e->cap = cap;
        }
    }
    if (id == NULL || prompt == NULL || completion == NULL || e->n == e->cap) {
        free(id);
        free(prompt);
        free(completion);
        return s2_error_set(err, S2_E_NOMEM, "improve: out of memory for examples");
    }
    e->v[e->n++] = (example){id, prompt, completion, depth, label};
    return S2_OK;
}

static s2_status examples_write(const examples *e, const char *path, s2_error *err) {
    size_t len = 0, cap = 0;
    char *buf = NULL;
    s2_status st = app(&buf, &len, &cap, "", err);
    for (size_t i = 0; st == S2_OK && i < e->n; i++) {
        const example *x = &e->v[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "item", x->item, "prompt", x->prompt, "completion",
                              x->completion, "depth", x->depth);
        if (o != NULL && x->label >= 0) json_object_set_new(o, "label", json_string(x->label ? "sure" : "impossible"));
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        if (s == NULL) st = s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
        if (st == S2_OK) st = app(&buf, &len, &cap, s, err);
        if (st == S2_OK) st = app(&buf, &len, &cap, "\n", err);
        free(s);
    }
    if (st == S2_OK) st = write_atomic(path, buf, err);
    free(buf);
    return st;
}

static s2_status examples_read(const char *path, examples *e, s2_error *err) {
    json_t *a = NULL;
    s2_status st = read_jsonl(path, true, &a, err);
    for (size_t i = 0; st == S2_OK && i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        const char *item = json_string_value(json_object_get(o, "item"));
        const char *p = json_string_value(json_object_get(o, "prompt"));
        const char *c = json_string_value(json_object_get(o, "completion"));
        const char *l = json_string_value(json_object_get(o, "label"));
        if (item == NULL || p == NULL || c == NULL) {
            st = s2_error_set(err, S2_E_FORMAT, "%s:%zu: an example needs item, prompt and completion", path, i + 1);
            break;
        }
        st = examples_add(e, item, strdup(p), strdup(c), (int32_t)json_integer_value(json_object_get(o, "depth")),
                          l == NULL ? -1 : strcmp(l, "sure") == 0, err);
    }
    json_decref(a);
    return st;
}

/* ---- data from one search tree ---- */

typedef struct tree {
    int32_t n;
    char **text;                  /* (n) everything after the prompt down to the node */
    int32_t *parent, *depth;
    bool *terminal, *correct, *sure, *impossible;
    int32_t *n_kids, *n_imp_kids;
} tree;

static void tree_free(tree *t) {
    for (int32_t i = 0; i < t->n && t->text; i++) free(t->text[i]);
    free(t->text);
    free(t->parent);
    free(t->depth);
    free(t->terminal);
    free(t->correct);
    free(t->sure);
    free(t->impossible);
    free(t->n_kids);
    free(t->n_imp_kids);
    memset(t, 0, sizeof *t);
}

/* Rebuilds the tree of a runner line's trace, verifies its final texts with the task's verifier and labels each
 * state by what was found below it. */
static s2_status tree_build(const s2_task *task, int32_t item, json_t *trace, const char *where, tree *t,
                            s2_error *err) {
    memset(t, 0, sizeof *t);
    int32_t n = (int32_t)json_array_size(trace);
    if (n == 0) return s2_error_set(err, S2_E_FORMAT, "%s: no trace (the search must run with trace)", where);
    t->n = n;
    t->text = calloc((size_t)n, sizeof *t->text);
    t->parent = calloc((size_t)n, sizeof *t->parent);
    t->depth = calloc((size_t)n, sizeof *t->depth);
    t->n_kids = calloc((size_t)n, sizeof *t->n_kids);
    t->n_imp_kids = calloc((size_t)n, sizeof *t->n_imp_kids);
    t->terminal = calloc((size_t)n, sizeof(bool));
    t->correct = calloc((size_t)n, sizeof(bool));
    t->sure = calloc((size_t)n, sizeof(bool));
    t->impossible = calloc((size_t)n, sizeof(bool));
    if (!t->text || !t->parent || !t->depth || !t->n_kids || !t->n_imp_kids || !t->terminal || !t->correct ||
        !t->sure || !t->impossible)
        return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    for (int32_t k = 0; k < n; k++) {
        json_t *o = json_array_get(trace, (size_t)k);
        int32_t id = (int32_t)json_integer_value(json_object_get(o, "id"));
        int32_t par = (int32_t)json_integer_value(json_object_get(o, "parent"));
        const char *step = json_string_value(json_object_get(o, "step"));
        if (id != k || par >= k || (k > 0 && par < 0) || (k == 0 && par != -1) || step == NULL)
            return s2_error_set(err, S2_E_FORMAT, "%s: trace node %d is malformed", where, (int)k);
        t->parent[k] = par;
        t->depth[k] = (int32_t)json_integer_value(json_object_get(o, "depth"));
        t->terminal[k] = json_is_true(json_object_get(o, "terminal"));
        t->text[k] = par < 0 ? strdup(step) : str_cat(t->text[par], step);
        if (t->text[k] == NULL) return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
        if (par >= 0) t->n_kids[par]++;
        if (t->terminal[k]) {
            s2_verdict v = {0};
            s2_status st = s2_task_verify(task, item, t->text[k], &v, err);
            t->correct[k] = st == S2_OK && v.correct;
            s2_verdict_clear(&v);
            if (st != S2_OK) return st;
        }
    }
    /* children have larger ids than their parents: one pass from the last node settles every label */
    for (int32_t k = n - 1; k >= 0; k--) {
        if (t->correct[k]) t->sure[k] = true;
        t->impossible[k] = !t->sure[k] && ((t->terminal[k] && !t->correct[k]) ||
                                           (t->n_kids[k] > 0 && t->n_imp_kids[k] == t->n_kids[k]));
        int32_t p = t->parent[k];
        if (p >= 0) {
            if (t->sure[k]) t->sure[p] = true;
            if (t->impossible[k]) t->n_imp_kids[p]++;
        }
    }
    return S2_OK;
}

/* The steps of node k's path, root first (each a suffix of text between ancestors). */
static int32_t path_nodes(const tree *t, int32_t k, int32_t *out, int32_t cap) {
    int32_t n = 0;
    for (int32_t x = k; x > 0 && n < cap; x = t->parent[x]) out[n++] = x;
    for (int32_t i = 0; i < n / 2; i++) {
        int32_t s = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = s;
    }
    return n;
}

static bool seen_pair(const examples *e, size_t from, const char *p, const char *c) {
    for (size_t i = from; i < e->n; i++)
        if (strcmp(e->v[i].prompt, p) == 0 && strcmp(e->v[i].completion, c) == 0) return true;
    return false;
}

/* Policy examples of one item from its tree. */
static s2_status policy_from_tree(const s2_task *task, int32_t item, const tree *t, s2_improve_paths mode,
                                  examples *pol, s2_error *err) {
    const char *id = s2_task_item_id(task, item);
    char *prompt = s2_task_prompt(task, item);
    if (prompt == NULL) return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    size_t from = pol->n;
    int32_t best = -1;
    s2_status st = S2_OK;
    for (int32_t k = 1; k < t->n && st == S2_OK; k++) {
        if (!t->correct[k]) continue;
        if (mode == S2_IMPROVE_PATHS_SHORTEST) {
            if (best < 0 || t->depth[k] < t->depth[best] ||
                (t->depth[k] == t->depth[best] && strlen(t->text[k]) < strlen(t->text[best])))
                best = k;
            continue;
        }
        if (mode == S2_IMPROVE_PATHS_ALL) {
            if (!seen_pair(pol, from, prompt, t->text[k]))
                st = examples_add(pol, id, strdup(prompt), strdup(t->text[k]), 0, -1, err);
            continue;
        }
        int32_t nodes[64];
        int32_t n = path_nodes(t, k, nodes, 64);
        for (int32_t j = 0; j < n && st == S2_OK; j++) {
            const char *done = j > 0 ? t->text[nodes[j - 1]] : "";
            char *p = str_cat(prompt, done);
            const char *rest = t->text[k] + strlen(done);
            if (p != NULL && seen_pair(pol, from, p, rest)) {
                free(p);
                continue;
            }
            st = examples_add(pol, id, p, strdup(rest), j, -1, err);
        }
    }
    if (st == S2_OK && best >= 0) st = examples_add(pol, id, strdup(prompt), strdup(t->text[best]), 0, -1, err);
    free(prompt);
    return st;
}

/* Value examples of one item: one per distinct state prompt (a sure label wins over a conflicting one). */
static s2_status value_from_tree(const s2_task *task, int32_t item, const tree *t, examples *val, s2_error *err) {
    if (task->iface->value_prompt == NULL) return S2_OK;
    const char *id = s2_task_item_id(task, item);
    size_t from = val->n;
    s2_status st = S2_OK;
    for (int32_t k = 0; k < t->n && st == S2_OK; k++) {
        if (!t->sure[k] && !t->impossible[k]) continue;
        char *p = task->iface->value_prompt(task, item, t->text[k]);
        if (p == NULL) return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
        size_t dup = SIZE_MAX;
        for (size_t i = from; i < val->n && dup == SIZE_MAX; i++)
            if (strcmp(val->v[i].prompt, p) == 0) dup = i;
        if (dup != SIZE_MAX) {
            if (t->sure[k] && val->v[dup].label == 0) {
                val->v[dup].label = 1;
                free(val->v[dup].completion);
                val->v[dup].completion = strdup(S2_VALUE_SURE "\n");
                if (val->v[dup].completion == NULL) st = s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
            }
            free(p);
            continue;
        }
        st = examples_add(val, id, p, strdup(t->sure[k] ? S2_VALUE_SURE "\n" : S2_VALUE_IMPOSSIBLE "\n"),
                          t->depth[k], t->sure[k], err);
    }
    return st;
}

/* ---- training on a pool of examples ---- */

#define MAX_DEPTH 32

typedef struct pool {
    const examples *cur, *old;    /* this round's, and every earlier round's */
    double replay;
    bool balanced;                /* value: depth uniformly among those present, then the label by a coin */
} pool;

static const example *draw(const examples *e, bool balanced, s2_rng *rng) {
    if (!balanced) return &e->v[s2_rng_next(rng) % e->n];
    /* the depths present, and at each the count of each label */
    int32_t cnt[MAX_DEPTH][2] = {{0}}, depths[MAX_DEPTH], nd = 0;
    for (size_t i = 0; i < e->n; i++) {
        int32_t d = e->v[i].depth < MAX_DEPTH ? e->v[i].depth : MAX_DEPTH - 1;
        if (cnt[d][0] + cnt[d][1] == 0) depths[nd++] = d;
        cnt[d][e->v[i].label > 0]++;
    }
    int32_t d = depths[s2_rng_next(rng) % (uint64_t)nd];
    int32_t lab = (int32_t)(s2_rng_next(rng) & 1);
    if (cnt[d][lab] == 0) lab = 1 - lab;
    int64_t pick = (int64_t)(s2_rng_next(rng) % (uint64_t)cnt[d][lab]);
    for (size_t i = 0; i < e->n; i++) {
        int32_t di = e->v[i].depth < MAX_DEPTH ? e->v[i].depth : MAX_DEPTH - 1;
        if (di == d && (e->v[i].label > 0) == lab && pick-- == 0) return &e->v[i];
    }
    return &e->v[0]; /* not reached */
}

static s2_status pool_example(void *user, uint64_t seed, char **prompt, char **completion, s2_error *err) {
    const pool *p = user;
    s2_rng rng;
    s2_rng_seed(&rng, seed ^ 0x5851f42d4c957f2dULL);
    const examples *e = p->cur;
    if (p->old->n > 0 && (p->cur->n == 0 || s2_rng_uniform(&rng) < p->replay)) e = p->old;
    const example *x = draw(e, p->balanced, &rng);
    *prompt = strdup(x->prompt);
    *completion = strdup(x->completion);
    if (*prompt == NULL || *completion == NULL) {
        free(*prompt);
        free(*completion);
        *prompt = *completion = NULL;
        return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    }
    return S2_OK;
}

typedef struct train_job {
    const char *init;             /* the model to fine-tune, or NULL for random weights of shape */
    s2_train_config shape;        /* used when init is NULL */
    const char *out, *log, *name;
    int32_t steps, batch, every;
    double lr;
    uint64_t seed;
} train_job;

/* Fine-tunes (or trains) on the pool into job->out, resuming from its checkpoint; *flops gets the FLOPs of every
 * step of the run (from the step log, which is cut back to the checkpoint on resume). */
static s2_status train_pool(const s2_improve_config *cfg, int32_t round, const char *phase, const train_job *job,
                            pool *data, double *flops, s2_error *err) {
    *flops = 0;
    s2_train_params p = s2_train_default_params();
    char opt[PATH_CAP];
    snprintf(opt, sizeof opt, "%s.opt", job->out);
    p.resume = file_exists(job->out) && file_exists(opt);
    if (job->init != NULL) {
        s2_tmodel *m = NULL;
        s2_status st = s2_tmodel_load_gguf(job->init, &m, NULL, err);
        if (st != S2_OK) return st;
        p.model = m->cfg;
        s2_tmodel_free(m);
        p.init = p.resume ? NULL : job->init;
    } else {
        p.model = job->shape;
    }
    p.opt.lr = (float)job->lr;
    p.opt.steps = job->steps;
    p.opt.warmup = job->steps / 10 > 0 ? job->steps / 10 : 1;
    p.batch = job->batch;
    p.seed = job->seed;
    p.n_heldout = 1;
    p.n_threads = 1;
    p.out = job->out;
    p.name = job->name;
    s2_train_data td = {.example = pool_example, .user = data};
    s2_trainer *tr = NULL;
    s2_status st = s2_trainer_init(&p, &td, &tr, err);
    if (st != S2_OK) return st;
    int64_t done = s2_trainer_steps_done(tr);
    /* the step log up to the checkpoint, byte for byte: lines past it were logged by a run that died before its
     * next checkpoint, and the steps they describe are taken again */
    size_t len = 0, cap = 0;
    char *buf = NULL, *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    st = app(&buf, &len, &cap, "", err);
    FILE *old = fopen(job->log, "rb");
    while (st == S2_OK && old != NULL && (ll = getline(&line, &lcap, old)) > 0 && line[ll - 1] == '\n') {
        json_t *o = json_loads(line, 0, NULL);
        bool keep = o != NULL && json_integer_value(json_object_get(o, "step")) <= done;
        if (keep) *flops += json_number_value(json_object_get(o, "flops"));
        json_decref(o);
        if (!keep) break;
        st = app(&buf, &len, &cap, line, err);
    }
    free(line);
    if (old) fclose(old);
    if (st == S2_OK) st = write_atomic(job->log, buf, err);
    free(buf);
    FILE *lf = st == S2_OK ? fopen(job->log, "ab") : NULL;
    if (st == S2_OK && lf == NULL) st = s2_error_set(err, S2_E_IO, "%s: %s", job->log, strerror(errno));
    while (st == S2_OK && done < job->steps) {
        if (cfg->stop && *cfg->stop) {
            st = s2_error_set(err, S2_E_INTERRUPTED, "improve: stopped in round %d (%s, step %lld): run again to "
                              "resume", (int)round, phase, (long long)done);
            break;
        }
        s2_train_step_stats ss;
        st = s2_trainer_step(tr, &ss, err);
        if (st != S2_OK) break;
        done = ss.step;
        *flops += ss.flops;
        if (fprintf(lf, "{\"T\":%d,\"flops\":%.17g,\"loss\":%.9g,\"loss_tokens\":%lld,\"step\":%lld,\"tokens\":%lld}\n",
                    (int)ss.T, ss.flops, ss.loss, (long long)ss.loss_tokens, (long long)ss.step,
                    (long long)ss.tokens) < 0 ||
            fflush(lf) != 0)
            st = s2_error_set(err, S2_E_IO, "%s: %s", job->log, strerror(errno));
        if (st == S2_OK && (done % job->every == 0 || done == job->steps)) st = s2_trainer_save(tr, err);
        if (st == S2_OK && cfg->progress) {
            s2_improve_progress pr = {round, cfg->rounds, phase, (int32_t)done, job->steps};
            cfg->progress(cfg->progress_user, &pr);
        }
    }
    if (lf) fclose(lf);
    s2_trainer_free(tr);
    return st;
}

/* ---- one round ---- */

typedef struct loop {
    const s2_improve_config *cfg;
    s2_task *train_task, *eval_task;
    char policy[PATH_CAP], value[PATH_CAP]; /* the current models ("" = none) */
    double cumulative;
} loop;

typedef struct run_ctx {
    const s2_improve_config *cfg;
    int32_t round;
    const char *phase;
} run_ctx;

static void run_progress(void *user, const s2_run_progress *p) {
    const run_ctx *rc = user;
    if (rc->cfg->progress == NULL) return;
    s2_improve_progress pr = {rc->round, rc->cfg->rounds, rc->phase, p->done, p->total};
    rc->cfg->progress(rc->cfg->progress_user, &pr);
}

/* One runner pass over task (borrowed) into out. */
static s2_status search_pass(loop *L, int32_t round, const char *phase, const s2_task *task, const char *search,
                             const char *budget, bool trace, const char *out, s2_error *err) {
    const s2_improve_config *c = L->cfg;
    bool has_value = L->value[0] != '\0';
    bool io = strcmp(search, "io") == 0;
    run_ctx rc = {c, round, phase};
    s2_run_config rcfg = {.task = c->task, .search = search,
                          .scorer = io ? NULL : has_value ? (c->scorer ? c->scorer : "value")
                                                          : (c->scorer0 ? c->scorer0 : "logprob"),
                          .keys = io ? NULL : c->keys, .vals = io ? NULL : c->vals, .n_params = io ? 0 : c->n_params,
                          .model = L->policy, .value = has_value && !io ? L->value : NULL, .budget = budget,
                          .seed = c->seed, .threads = c->threads, .out = out, .trace = trace, .version = c->version,
                          .task_obj = (s2_task *)task, .progress = run_progress, .progress_user = &rc,
                          .stop = c->stop};
    s2_run_summary sum;
    s2_status st = s2_run(&rcfg, &sum, err);
    if (st == S2_OK && c->stop && *c->stop)
        st = s2_error_set(err, S2_E_INTERRUPTED, "improve: stopped in round %d (%s): run again to resume",
                          (int)round, phase);
    return st;
}

static double sum_field(json_t **lines, size_t n, const char *key) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += json_number_value(json_object_get(lines[i], key));
    return s;
}

/* The held-out numbers of a round: greedy solve and valid-step rates, the search's accuracy, the value model's
 * balanced accuracy against the oracle on the states the evaluation search visited. */
static s2_status evaluate(loop *L, int32_t round, const char *rdir, s2_improve_round *r, s2_error *err) {
    const s2_improve_config *c = L->cfg;
    int32_t n_eval = c->eval_items > 0 ? c->eval_items : 100;
    if (n_eval > s2_task_n_items(L->eval_task)) n_eval = s2_task_n_items(L->eval_task);
    wtask ev;
    wtask_init(&ev, L->eval_task, 0, n_eval);
    char greedy[PATH_CAP], search[4200];
    join(greedy, rdir, "eval-greedy.jsonl");
    join(search, rdir, "eval-search.jsonl");
    s2_status st = search_pass(L, round, "eval", &ev.t, "io", NULL, false, greedy, err);
    if (st == S2_OK) st = search_pass(L, round, "eval", &ev.t, c->search, c->budget, true, search, err);
    json_t *hg = NULL, *hs = NULL, **g = NULL, **s = NULL;
    size_t ng = 0, ns = 0;
    if (st == S2_OK) st = read_run_sorted(greedy, &g, &ng, &hg, err);
    if (st == S2_OK) st = read_run_sorted(search, &s, &ns, &hs, err);
    if (st == S2_OK) {
        int64_t steps = 0, valid = 0;
        const char *delim = ev.t.iface->step_delim;
        for (size_t k = 0; k < ng && ev.t.iface->legal; k++) {
            int32_t i = (int32_t)json_integer_value(json_object_get(g[k], "index"));
            const char *text = json_string_value(json_object_get(g[k], "text"));
            if (text == NULL) continue;
            /* each non-blank step line up to the first illegal one; the Answer line is the verifier's */
            for (const char *p = text; *p != '\0';) {
                const char *e = strstr(p, delim);
                const char *end = e ? e + strlen(delim) : p + strlen(p);
                const char *q = p;
                while (q < end && (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r')) q++;
                bool skip = q == end || strncmp(q, "Answer:", 7) == 0;
                if (!skip) {
                    char *prefix = strndup(text, (size_t)(end - text));
                    if (prefix == NULL) return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
                    bool ok = s2_task_legal(&ev.t, i, prefix);
                    free(prefix);
                    steps++;
                    valid += ok;
                    if (!ok) break;
                }
                p = end;
            }
        }
        int32_t ok = 0;
        for (size_t k = 0; k < ng; k++) ok += json_is_true(json_object_get(g[k], "correct"));
        r->eval_greedy = ng ? (double)ok / (double)ng : 0;
        r->eval_valid_steps = steps > 0 ? (double)valid / (double)steps : NAN;
        ok = 0;
        for (size_t k = 0; k < ns; k++) ok += json_is_true(json_object_get(s[k], "correct"));
        r->eval_search = ns ? (double)ok / (double)ns : 0;
        r->eval_search_tokens = ns ? sum_field(s, ns, "tokens") / (double)ns : 0;
        r->eval_search_flops = ns ? sum_field(s, ns, "flops") / (double)ns : 0;
    }
    /* the value model against the oracle (measurement: the oracle's calls are counted apart) */
    r->eval_value_balanced = NAN;
    if (st == S2_OK && L->value[0] != '\0' && ev.t.iface->oracle != NULL && ev.t.iface->value_prompt != NULL) {
        s2_model *vm = NULL;
        s2_lm *vlm = NULL;
        st = s2_model_load(L->value, NULL, &vm, err);
        if (st == S2_OK) st = s2_lm_local_init(vm, NULL, &vlm, err);
        int64_t n[2] = {0, 0}, right[2] = {0, 0};
        for (size_t k = 0; st == S2_OK && k < ns; k++) {
            int32_t i = (int32_t)json_integer_value(json_object_get(s[k], "index"));
            tree t;
            st = tree_build(&ev.t, i, json_object_get(s[k], "trace"), search, &t, err);
            for (int32_t x = 0; st == S2_OK && x < t.n; x++) {
                bool dup = false;
                for (int32_t y = 0; y < x && !dup; y++) dup = strcmp(t.text[x], t.text[y]) == 0;
                if (dup) continue;
                /* only the states a search asks the value model about: an illegal step is pruned by the rules
                 * before any scoring (and the oracle calls such a text dead while its value prompt shows numbers
                 * that may well be solvable), so counting those measured nothing the value model does */
                if (ev.t.iface->legal != NULL && !s2_task_legal(&ev.t, i, t.text[x])) continue;
                s2_oracle o = s2_task_oracle(&ev.t, i, t.text[x]);
                if (o == S2_ORACLE_UNKNOWN) continue;
                double p = 0;
                st = s2_value_p_sure(vlm, &ev.t, i, t.text[x], &p, err);
                int lab = o == S2_ORACLE_SOLVABLE;
                n[lab]++;
                right[lab] += (p > 0.5) == lab;
            }
            tree_free(&t);
        }
        if (st == S2_OK && n[0] > 0 && n[1] > 0)
            r->eval_value_balanced = 0.5 * ((double)right[0] / (double)n[0] + (double)right[1] / (double)n[1]);
        s2_lm_free(vlm);
        s2_model_free(vm);
    }
    r->oracle_calls_eval = ev.oracle_calls;
    free(g);
    free(s);
    json_decref(hg);
    json_decref(hs);
    return st;
}

static json_t *round_json(const s2_improve_round *r, const char *policy, const char *value) {
    json_t *o = json_object();
#define NUM(f) json_object_set_new(o, #f, isfinite((double)r->f) ? json_real((double)r->f) : json_null())
#define INT(f) json_object_set_new(o, #f, json_integer((json_int_t)r->f))
    INT(round); INT(items); INT(solved); INT(policy_examples); INT(value_sure); INT(value_impossible);
    NUM(search_flops); NUM(policy_flops); NUM(value_flops); NUM(round_flops); NUM(cumulative_flops);
    NUM(search_tokens); NUM(eval_greedy); NUM(eval_valid_steps); NUM(eval_search); NUM(eval_search_tokens);
    NUM(eval_search_flops); NUM(eval_value_balanced); INT(oracle_calls_loop); INT(oracle_calls_eval);
#undef NUM
#undef INT
    json_object_set_new(o, "policy", json_string(policy));
    json_object_set_new(o, "value", value[0] ? json_string(value) : json_null());
    return o;
}

static double jnum(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void round_from_json(json_t *o, s2_improve_round *r) {
#define NUM(f) r->f = jnum(o, #f)
#define INT(f) r->f = (int32_t)json_integer_value(json_object_get(o, #f))
    INT(round); INT(items); INT(solved); INT(policy_examples); INT(value_sure); INT(value_impossible);
    NUM(search_flops); NUM(policy_flops); NUM(value_flops); NUM(round_flops); NUM(cumulative_flops);
    NUM(search_tokens); NUM(eval_greedy); NUM(eval_valid_steps); NUM(eval_search); NUM(eval_search_tokens);
    NUM(eval_search_flops); NUM(eval_value_balanced);
#undef NUM
#undef INT
    r->oracle_calls_loop = (int64_t)json_integer_value(json_object_get(o, "oracle_calls_loop"));
    r->oracle_calls_eval = (int64_t)json_integer_value(json_object_get(o, "oracle_calls_eval"));
}

/* Every earlier round's examples of one kind (policy or value). */
static s2_status read_old(const s2_improve_config *c, int32_t round, const char *file, examples *old,
                          s2_error *err) {
    s2_status st = S2_OK;
    for (int32_t q = 0; q < round && st == S2_OK; q++) {
        char path[PATH_CAP];
        snprintf(path, sizeof path, "%s/round-%02d/%s", c->dir, (int)q, file);
        st = examples_read(path, old, err);
    }
    return st;
}

static s2_status do_round(loop *L, int32_t round, s2_improve_round *r, s2_error *err) {
    const s2_improve_config *c = L->cfg;
    char rdir[PATH_CAP], path[4300];
    snprintf(rdir, sizeof rdir, "%s/round-%02d", c->dir, (int)round);
    s2_status st = make_dir(rdir, err);
    if (st != S2_OK) return st;
    memset(r, 0, sizeof *r);
    r->round = round;

    /* 1. search on fresh training items */
    wtask tw;
    wtask_init(&tw, L->train_task, round * c->items, c->items);
    join(path, rdir, "search.jsonl");
    st = search_pass(L, round, "search", &tw.t, c->search, c->budget, true, path, err);
    json_t *hold = NULL, **lines = NULL;
    size_t n = 0;
    if (st == S2_OK) st = read_run_sorted(path, &lines, &n, &hold, err);

    /* 2. data from the trees */
    examples pol = {0}, val = {0}, old_pol = {0}, old_val = {0};
    for (size_t k = 0; st == S2_OK && k < n; k++) {
        int32_t i = (int32_t)json_integer_value(json_object_get(lines[k], "index"));
        char where[PATH_CAP];
        int wn = snprintf(where, sizeof where, "%s: item %d", path, (int)i);
        if (wn < 0 || wn >= (int)sizeof where) where[0] = '\0';
        tree t;
        st = tree_build(&tw.t, i, json_object_get(lines[k], "trace"), where, &t, err);
        if (st == S2_OK) {
            r->solved += t.sure[0];
            st = policy_from_tree(&tw.t, i, &t, c->paths, &pol, err);
        }
        if (st == S2_OK) st = value_from_tree(&tw.t, i, &t, &val, err);
        tree_free(&t);
    }
    if (st == S2_OK) {
        r->items = (int32_t)n;
        r->search_flops = sum_field(lines, n, "flops");
        r->search_tokens = n ? sum_field(lines, n, "tokens") / (double)n : 0;
        r->policy_examples = (int32_t)pol.n;
        for (size_t i = 0; i < val.n; i++) {
            if (val.v[i].label) r->value_sure++;
            else r->value_impossible++;
        }
        join(path, rdir, "policy-data.jsonl");
        st = examples_write(&pol, path, err);
    }
    if (st == S2_OK) {
        join(path, rdir, "value-data.jsonl");
        st = examples_write(&val, path, err);
    }
    free(lines);
    json_decref(hold);
    if (st == S2_OK) st = read_old(c, round, "policy-data.jsonl", &old_pol, err);
    if (st == S2_OK) st = read_old(c, round, "value-data.jsonl", &old_val, err);
    r->oracle_calls_loop = tw.oracle_calls;

    /* 3. fine-tune the policy on verified paths, the value model on labelled states */
    double replay = c->replay > 0 ? c->replay : 0.5;
    char name[256];
    if (st == S2_OK && pol.n + old_pol.n > 0) {
        char out[PATH_CAP], log[4300];
        join(out, rdir, "policy.gguf");
        join(log, rdir, "train-policy.jsonl");
        snprintf(name, sizeof name, "sys2-improve-%s-policy-r%d", c->task, (int)round);
        train_job job = {.init = L->policy, .out = out, .log = log, .name = name,
                         .steps = c->policy_steps > 0 ? c->policy_steps : 200, .batch = c->batch > 0 ? c->batch : 16,
                         .every = c->checkpoint_every > 0 ? c->checkpoint_every : 50,
                         .lr = c->policy_lr > 0 ? c->policy_lr : 5e-4, .seed = c->seed * 1000003u + (uint64_t)round * 2};
        pool pp = {.cur = &pol, .old = &old_pol, .replay = replay, .balanced = false};
        st = train_pool(c, round, "train-policy", &job, &pp, &r->policy_flops, err);
        if (st == S2_OK) snprintf(L->policy, sizeof L->policy, "%s", out);
    }
    if (st == S2_OK && val.n + old_val.n > 0) {
        char out[PATH_CAP], log[4300];
        join(out, rdir, "value.gguf");
        join(log, rdir, "train-value.jsonl");
        snprintf(name, sizeof name, "sys2-improve-%s-value-r%d", c->task, (int)round);
        s2_train_config shape = s2_train_default_config();
        if (c->value_dim > 0) shape.n_embd = c->value_dim;
        if (c->value_layers > 0) shape.n_layer = c->value_layers;
        if (c->value_heads > 0) shape.n_head = shape.n_head_kv = c->value_heads;
        if (c->value_ff > 0) shape.n_ff = c->value_ff;
        train_job job = {.init = L->value[0] ? L->value : NULL, .shape = shape, .out = out, .log = log, .name = name,
                         .steps = c->value_steps > 0 ? c->value_steps : 200, .batch = c->batch > 0 ? c->batch : 16,
                         .every = c->checkpoint_every > 0 ? c->checkpoint_every : 50,
                         .lr = c->value_lr > 0 ? c->value_lr : 1e-3, .seed = c->seed * 1000003u + (uint64_t)round * 2 + 1};
        pool vp = {.cur = &val, .old = &old_val, .replay = replay, .balanced = true};
        st = train_pool(c, round, "train-value", &job, &vp, &r->value_flops, err);
        if (st == S2_OK) snprintf(L->value, sizeof L->value, "%s", out);
    }
    examples_free(&pol);
    examples_free(&val);
    examples_free(&old_pol);
    examples_free(&old_val);
    if (st != S2_OK) return st;
    r->round_flops = r->search_flops + r->policy_flops + r->value_flops;
    L->cumulative += r->round_flops;
    r->cumulative_flops = L->cumulative;

    /* 4. evaluate on held-out items, then mark the round done */
    st = evaluate(L, round, rdir, r, err);
    if (st != S2_OK) return st;
    json_t *o = round_json(r, L->policy, L->value);
    join(path, rdir, "round.json");
    st = o ? write_json(path, o, err) : s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    json_decref(o);
    return st;
}

/* ---- the loop ---- */

static json_t *config_json(const s2_improve_config *c) {
    json_t *params = json_object();
    for (int32_t i = 0; i < c->n_params; i++) json_object_set_new(params, c->keys[i], json_string(c->vals[i]));
    return json_pack("{s:s, s:i, s:s?, s:s?, s:i, s:s, s:s?, s:s, s:o, s:s?, s:s?, s:s?, s:i, s:i, s:i, s:f, "
                     "s:i, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:i, s:i, s:I}",
                     "task", c->task, "difficulty", c->difficulty, "train_split", c->train_split, "eval_split",
                     c->eval_split, "n_train_items", c->n_train_items, "policy0", c->policy0, "value0", c->value0,
                     "search", c->search, "params", params, "scorer", c->scorer, "scorer0", c->scorer0, "budget",
                     c->budget, "items", c->items, "eval_items", c->eval_items, "paths", (int)c->paths, "replay",
                     c->replay, "policy_steps", c->policy_steps, "value_steps", c->value_steps, "batch", c->batch,
                     "policy_lr", c->policy_lr, "value_lr", c->value_lr, "value_dim", c->value_dim, "value_layers",
                     c->value_layers, "value_heads", c->value_heads, "value_ff", c->value_ff, "checkpoint_every",
                     c->checkpoint_every, "seed", (json_int_t)(c->seed & 0x7fffffffffffffffULL));
}

void s2_improve_summary_free(s2_improve_summary *s) {
    if (s == NULL) return;
    free(s->rounds);
    memset(s, 0, sizeof *s);
}

static s2_status make_tasks(loop *L, s2_error *err) {
    const s2_improve_config *c = L->cfg;
    s2_task_params tp = s2_task_default_params();
    tp.n_shot = 0; /* the trained models see bare prompts, as the trainer's examples */
    tp.difficulty = c->difficulty;
    tp.split = c->train_split ? c->train_split : "train";
    tp.n_items = c->n_train_items > 0 ? c->n_train_items : c->rounds * c->items;
    s2_status st = s2_task_create(c->task, &tp, &L->train_task, err);
    if (st != S2_OK) return st;
    tp.split = c->eval_split;
    tp.n_items = c->eval_items > 0 ? c->eval_items : 0;
    st = s2_task_create(c->task, &tp, &L->eval_task, err);
    if (st != S2_OK) return st;
    /* the held-out items must not be among the training items (a task whose train split is its test split would
     * make the loop learn the answers it is measured on) */
    for (int32_t i = 0; i < s2_task_n_items(L->eval_task); i++)
        if (s2_task_find(L->train_task, s2_task_item_id(L->eval_task, i)) >= 0)
            return s2_error_set(err, S2_E_ARG, "improve: held-out item %s is also a training item (splits %s and %s)",
                                s2_task_item_id(L->eval_task, i), c->train_split ? c->train_split : "train",
                                c->eval_split ? c->eval_split : "(default)");
    return S2_OK;
}

s2_status s2_improve(const s2_improve_config *c, s2_improve_summary *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    if (c->task == NULL || c->policy0 == NULL || c->search == NULL || c->dir == NULL)
        return s2_error_set(err, S2_E_ARG, "improve: task, policy0, search and dir are required");
    if (c->rounds < 1 || c->items < 1)
        return s2_error_set(err, S2_E_ARG, "improve: rounds %d and items %d must be >= 1", (int)c->rounds,
                            (int)c->items);
    if ((c->scorer && strcmp(c->scorer, "oracle") == 0) || (c->scorer0 && strcmp(c->scorer0, "oracle") == 0))
        return s2_error_set(err, S2_E_ARG, "improve: the oracle scorer is not allowed in the loop (the oracle only "
                            "measures)");
    if (strlen(c->dir) > 3000 || strlen(c->policy0) > 3000 || (c->value0 && strlen(c->value0) > 3000))
        return s2_error_set(err, S2_E_ARG, "improve: a path of over 3000 bytes");
    s2_status st = make_dir(c->dir, err);
    if (st != S2_OK) return st;
    /* the directory's configuration: a rerun must be the same loop (more rounds may be asked for) */
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/config.json", c->dir);
    json_t *cj = config_json(c);
    if (cj == NULL) return s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    if (file_exists(path)) {
        json_error_t je;
        json_t *old = json_load_file(path, 0, &je);
        const char *key = old == NULL ? "(unreadable)" : NULL, *k;
        json_t *v;
        if (old != NULL) json_object_foreach(cj, k, v) if (key == NULL && !json_equal(v, json_object_get(old, k))) key = k;
        json_decref(old);
        if (key != NULL) {
            st = s2_error_set(err, S2_E_ARG, "%s holds a different loop ('%s' differs); give another --dir", path, key);
            json_decref(cj); /* key points into cj */
            return st;
        }
    } else {
        st = write_json(path, cj, err);
    }
    json_decref(cj);
    if (st != S2_OK) return st;

    loop L = {.cfg = c};
    snprintf(L.policy, sizeof L.policy, "%s", c->policy0);
    snprintf(L.value, sizeof L.value, "%s", c->value0 ? c->value0 : "");
    st = make_tasks(&L, err);
    out->rounds = calloc((size_t)c->rounds, sizeof *out->rounds);
    if (st == S2_OK && out->rounds == NULL) st = s2_error_set(err, S2_E_NOMEM, "improve: out of memory");
    for (int32_t q = 0; q < c->rounds && st == S2_OK; q++) {
        snprintf(path, sizeof path, "%s/round-%02d/round.json", c->dir, (int)q);
        s2_improve_round *r = &out->rounds[q];
        if (file_exists(path)) { /* done before: its models are the next round's start */
            json_error_t je;
            json_t *o = json_load_file(path, 0, &je);
            if (o == NULL) {
                st = s2_error_set(err, S2_E_FORMAT, "%s:%d: %s", path, je.line, je.text);
                break;
            }
            round_from_json(o, r);
            const char *p = json_string_value(json_object_get(o, "policy"));
            const char *v = json_string_value(json_object_get(o, "value"));
            if (p) snprintf(L.policy, sizeof L.policy, "%s", p);
            if (v) snprintf(L.value, sizeof L.value, "%s", v);
            L.cumulative = r->cumulative_flops;
            json_decref(o);
        } else {
            st = do_round(&L, q, r, err);
        }
        if (st == S2_OK) out->n_rounds = q + 1;
    }
    s2_task_free(L.train_task);
    s2_task_free(L.eval_task);
    return st;
}
