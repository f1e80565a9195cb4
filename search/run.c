/* run.c: the experiment runner (see run.h). Loads the models once, gives each item fresh contexts on them, runs
 * the strategy, verifies the answer, and appends one flushed and fsync'd JSON line per item. Never prints:
 * progress goes to the caller's callback. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t s2_run_item_seed(uint64_t seed, const char *id) {
    uint64_t z = seed ^ fnv1a(0xcbf29ce484222325ULL, id, strlen(id));
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* {"path", "size", "mtime", "fnv1a64"} of a model file: the hash covers every byte. */
static json_t *file_id(const char *path, s2_error *err) {
    if (path == NULL) return json_null();
    if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0) return json_pack("{s:s}", "url", path);
    struct stat sb;
    FILE *f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &sb) != 0) {
        if (f) fclose(f);
        s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    char *buf = malloc(1 << 20);
    size_t n;
    while (buf != NULL && (n = fread(buf, 1, 1 << 20, f)) > 0) h = fnv1a(h, buf, n);
    free(buf);
    fclose(f);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    return json_pack("{s:s, s:I, s:I, s:s}", "path", path, "size", (json_int_t)sb.st_size, "mtime",
                     (json_int_t)sb.st_mtime, "fnv1a64", hex);
}

static json_t *params_json(const s2_param_def *defs, int32_t n, const void *base) {
    json_t *o = json_object();
    for (int32_t i = 0; i < n; i++) {
        char buf[64];
        s2_params_format(&defs[i], base, buf, sizeof buf);
        if (defs[i].type == S2_PARAM_ENUM) json_object_set_new(o, defs[i].key, json_string(buf));
        else if (defs[i].type == S2_PARAM_INT) json_object_set_new(o, defs[i].key, json_integer(atoll(buf)));
        else json_object_set_new(o, defs[i].key, json_real(strtod(buf, NULL)));
    }
    return o;
}

static json_t *counters_json(const s2_counters *c) {
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I}", "prompt_tokens", (json_int_t)c->prompt_tokens,
                     "cached_tokens", (json_int_t)c->cached_tokens, "gen_tokens", (json_int_t)c->gen_tokens,
                     "scored_tokens", (json_int_t)c->scored_tokens, "forward_calls", (json_int_t)c->forward_calls,
                     "forward_rows", (json_int_t)c->forward_rows, "flops", c->flops, "ns", (json_int_t)c->ns,
                     "requests", (json_int_t)c->requests);
}

/* ---- the shared state of one run ---- */

typedef struct runner {
    const s2_run_config *cfg;
    const s2_task *task;
    s2_strategy *strat;
    s2_scorer *scorer;
    s2_env_params ep;             /* lm, value_lm, item, seed filled per item */
    s2_model *model, *value_model;
    s2_ctx_params cp, vcp;
    int32_t *todo, n_todo, next;
    FILE *f;
    pthread_mutex_t mu;
    s2_run_progress prog;
    double t0;
    s2_status fatal;
    s2_error fatal_err;
} runner;

static bool is_url(const char *s) { return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0); }

static s2_status make_lm(runner *r, bool value, s2_lm **out, s2_error *err) {
    *out = NULL;
    if (r->cfg->make_lm) return r->cfg->make_lm(r->cfg->lm_user, value, out, err);
    const char *spec = value ? r->cfg->value : r->cfg->model;
    if (is_url(spec)) { /* a remote system 1: one connection per item, as one context per item locally */
        s2_lm_open_params op = s2_lm_open_default_params();
        op.model_name = value ? NULL : r->cfg->model_name;
        return s2_lm_open(spec, &op, out, err);
    }
    if (value && r->value_model == NULL) return S2_OK;
    return s2_lm_local_init(value ? r->value_model : r->model, value ? &r->vcp : &r->cp, out, err);
}

static void free_lm(runner *r, s2_lm *lm) {
    if (lm == NULL) return;
    if (r->cfg->make_lm && r->cfg->free_lm) r->cfg->free_lm(r->cfg->lm_user, lm);
    else s2_lm_free(lm);
}

/* The samples of a result as columns (answer, correct, reward, score, lp = mean token log-prob, tokens), each
 * verified by the task; NULL when there are none. Identical texts are verified once. */
static json_t *samples_json(const s2_task *task, int32_t item, const s2_result *res, s2_error *err) {
    if (res->n_samples == 0) return NULL;
    json_t *ans = json_array(), *cor = json_array(), *rew = json_array(), *sco = json_array(), *lp = json_array(),
           *tok = json_array();
    for (int32_t j = 0; j < res->n_samples; j++) {
        const s2_node *x = res->samples[j].leaf;
        int32_t same = -1;
        for (int32_t q = 0; q < j && same < 0; q++)
            if (strcmp(res->samples[q].leaf->text, x->text) == 0) same = q;
        if (same >= 0) {
            json_array_append(cor, json_array_get(cor, (size_t)same));
            json_array_append(rew, json_array_get(rew, (size_t)same));
        } else {
            s2_verdict v = {0};
            s2_status st = s2_task_verify(task, item, x->text, &v, err);
            json_array_append_new(cor, json_integer(st == S2_OK && v.correct));
            json_array_append_new(rew, json_real(st == S2_OK ? v.reward : 0));
            s2_verdict_clear(&v);
        }
        const char *a = res->samples[j].answer;
        json_array_append_new(ans, a ? json_string(a) : json_null());
        json_array_append_new(sco, x->scored ? json_real(x->score) : json_null());
        json_array_append_new(lp, json_real(x->path_tokens > 0 ? x->path_logprob / x->path_tokens : 0));
        json_array_append_new(tok, json_real(res->samples[j].tokens));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "answer", ans, "correct", cor, "reward", rew, "score", sco,
                     "lp", lp, "tokens", tok);
}

/* Every node for `sys2 view`; terminal nodes verified ("correct"), the chosen path marked ("chosen"). */
static json_t *trace_json(s2_env *env, const s2_task *task, int32_t item, const s2_node *best) {
    json_t *a = json_array();
    for (int32_t i = 0; i < s2_env_n_nodes(env); i++) {
        const s2_node *x = s2_env_node(env, i);
        json_t *o = json_pack("{s:i, s:i, s:i, s:s, s:b, s:b, s:i, s:f, s:f}", "id", x->id, "parent",
                              x->parent ? x->parent->id : -1, "depth", x->depth, "step", x->step, "terminal",
                              x->terminal, "pruned", x->pruned, "tokens", x->step_tokens, "logprob", x->step_logprob,
                              "spent", x->spent);
        if (x->prune != S2_PRUNE_NONE) json_object_set_new(o, "prune", json_string(s2_prune_name(x->prune)));
        if (x->terminal && x->prune != S2_PRUNE_ILLEGAL && x->parent != NULL) {
            s2_verdict v = {0};
            s2_error e = {0};
            if (s2_task_verify(task, item, x->text, &v, &e) == S2_OK) {
                json_object_set_new(o, "correct", json_boolean(v.correct));
                if (v.answer) json_object_set_new(o, "answer", json_string(v.answer));
            }
            s2_verdict_clear(&v);
        }
        if (x->scored) {
            json_object_set_new(o, "score", json_real(x->score));
            json_object_set_new(o, "own_score", json_real(x->own_score));
        }
        if (x->visits > 0) {
            json_object_set_new(o, "visits", json_integer(x->visits));
            json_object_set_new(o, "value", json_real(x->value_sum / x->visits));
            json_object_set_new(o, "prior", json_real(x->prior));
        }
        json_array_append_new(a, o);
    }
    for (const s2_node *x = best; x != NULL; x = x->parent)
        json_object_set_new(json_array_get(a, (size_t)x->id), "chosen", json_true());
    return a;
}

/* Runs item i and returns its line (owned), or NULL when out of memory. */
static json_t *run_item(runner *r, int32_t i, bool *correct) {
    const s2_run_config *cfg = r->cfg;
    const char *id = s2_task_item_id(r->task, i);
    double t0 = now_s();
    s2_error err = {0};
    s2_lm *lm = NULL, *vlm = NULL;
    s2_env *env = NULL;
    s2_result res = {0};
    s2_verdict v = {0};
    s2_env_params ep = r->ep;
    ep.item = i;
    ep.seed = s2_run_item_seed(cfg->seed, id);
    s2_status st = make_lm(r, false, &lm, &err);
    if (st == S2_OK && (cfg->value != NULL || cfg->make_lm)) st = make_lm(r, true, &vlm, &err);
    double setup = now_s() - t0; /* making the item's contexts: system 1's setup, counted apart */
    ep.lm = lm;
    ep.value_lm = vlm;
    if (st == S2_OK) st = s2_env_init(&ep, &env, &err);
    if (st == S2_OK) st = s2_strategy_run(r->strat, env, &res, &err);
    if (st == S2_OK) st = s2_task_verify(r->task, i, res.best ? res.best->text : "", &v, &err);
    if (st == S2_E_NET || st == S2_E_IO || st == S2_E_INTERRUPTED) {
        /* system 1 itself failed (a server gone after its retries, a file unreadable): this item gets no line,
         * so that rerunning the same command resumes it; the run stops with the reason */
        pthread_mutex_lock(&r->mu);
        if (r->fatal == S2_OK)
            r->fatal = s2_error_set(&r->fatal_err, st, "item %s: %s (finished lines are kept: run the same command "
                                    "again to resume)", id, err.msg);
        pthread_mutex_unlock(&r->mu);
        s2_verdict_clear(&v);
        s2_env_free(env);
        free_lm(r, lm);
        free_lm(r, vlm);
        return NULL;
    }
    s2_counters pc = {0}, vc = {0}, tc = {0};
    if (env) s2_env_counters(env, &pc, &vc);
    else if (lm) s2_lm_counters(lm, &pc); /* the prompt failed: whatever it cost */
    tc = pc;
    s2_counters_add(&tc, &vc);
    double wall = now_s() - t0;
    double lm_s = (double)(pc.ns + vc.ns) * 1e-9;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "index", json_integer(i));
    json_object_set_new(o, "answer", v.answer ? json_string(v.answer) : json_null());
    json_object_set_new(o, "correct", json_boolean(st == S2_OK && v.correct));
    json_object_set_new(o, "reward", json_real(st == S2_OK ? v.reward : 0));
    json_object_set_new(o, "reason", json_string(st == S2_OK ? v.reason : err.msg));
    json_object_set_new(o, "status", json_string(st != S2_OK ? "error" : res.budget_hit ? "budget" : "ok"));
    json_object_set_new(o, "text", json_string(res.best ? res.best->text : ""));
    json_object_set_new(o, "seed", json_integer((json_int_t)(ep.seed & 0x7fffffffffffffffULL)));
    json_object_set_new(o, "counters", counters_json(&pc));
    json_object_set_new(o, "value_counters", counters_json(&vc));
    json_object_set_new(o, "total_counters", counters_json(&tc));
    json_object_set_new(o, "tokens", json_real(s2_budget_measure(S2_BUDGET_TOKENS, &tc)));
    json_object_set_new(o, "flops", json_real(tc.flops));
    json_object_set_new(o, "calls", json_integer((json_int_t)tc.requests));
    double hit_den = (double)(tc.cached_tokens + tc.prompt_tokens);
    json_object_set_new(o, "cache_hit", json_real(hit_den > 0 ? (double)tc.cached_tokens / hit_den : 0));
    json_object_set_new(o, "budget_hit", json_boolean(res.budget_hit));
    json_object_set_new(o, "wall_s", json_real(wall));
    json_object_set_new(o, "lm_s", json_real(lm_s));
    double outside = wall - lm_s - setup > 0 ? wall - lm_s - setup : 0;
    json_object_set_new(o, "setup_s", json_real(setup));
    json_object_set_new(o, "outside_s", json_real(outside));
    json_object_set_new(o, "outside_frac", json_real(wall > 0 ? outside / wall : 0));
    if (env) {
        s2_tree_stats ts;
        s2_env_tree_stats(env, &ts);
        json_object_set_new(o, "tree",
                            json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "nodes", ts.nodes, "expansions",
                                      ts.expansions, "sample_calls", ts.sample_calls, "scored", ts.scored,
                                      "terminal", ts.terminal, "pruned", ts.pruned, "illegal", ts.illegal,
                                      "max_depth", ts.max_depth));
        if (res.votes > 0) json_object_set_new(o, "votes", json_real(res.votes));
        json_t *samples = st == S2_OK ? samples_json(r->task, i, &res, &err) : NULL;
        if (samples) json_object_set_new(o, "samples", samples);
        if (cfg->trace) json_object_set_new(o, "trace", trace_json(env, r->task, i, res.best));
    }
    *correct = st == S2_OK && v.correct;
    s2_verdict_clear(&v);
    s2_env_free(env);
    free_lm(r, lm);
    free_lm(r, vlm);
    return o;
}

static void *worker(void *arg) {
    runner *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bool stop = r->fatal != S2_OK || r->next >= r->n_todo || (r->cfg->stop && *r->cfg->stop);
        int32_t i = stop ? -1 : r->todo[r->next++];
        pthread_mutex_unlock(&r->mu);
        if (i < 0) break;
        bool correct = false;
        json_t *o = run_item(r, i, &correct);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        double tokens = o ? json_real_value(json_object_get(o, "tokens")) : 0;
        json_decref(o);
        pthread_mutex_lock(&r->mu);
        if (o == NULL && r->fatal != S2_OK) {
            /* run_item stopped the run: nothing to write */
        } else if (line == NULL) {
            r->fatal = s2_error_set(&r->fatal_err, S2_E_NOMEM, "run: out of memory writing item %d", i);
        } else if (fprintf(r->f, "%s\n", line) < 0 || fflush(r->f) != 0 || fsync(fileno(r->f)) != 0) {
            r->fatal = s2_error_set(&r->fatal_err, S2_E_IO, "%s: %s", r->cfg->out, strerror(errno));
        } else {
            r->prog.done++;
            r->prog.done_now++;
            r->prog.correct += correct;
            r->prog.tokens += tokens;
            r->prog.elapsed_s = now_s() - r->t0;
            if (r->cfg->progress) r->cfg->progress(r->cfg->progress_user, &r->prog);
        }
        pthread_mutex_unlock(&r->mu);
        free(line);
    }
    return NULL;
}

/* ---- the configuration line, and resuming ---- */

static json_t *config_json(runner *r, s2_error *err) {
    const s2_run_config *c = r->cfg;
    json_t *model = c->make_lm ? json_string("(caller's lm)") : file_id(c->model, err);
    if (model == NULL) return NULL;
    json_t *value = c->make_lm ? json_null() : file_id(c->value, err);
    if (value == NULL) {
        json_decref(model);
        return NULL;
    }
    const s2_param_def *defs;
    int32_t n;
    const void *sp = s2_strategy_params(r->strat, &defs, &n);
    json_t *strat_p = params_json(defs, n, sp);
    sp = s2_scorer_params(r->scorer, &defs, &n);
    json_t *scorer_p = params_json(defs, n, sp);
    defs = s2_env_param_defs(&n);
    json_t *env_p = params_json(defs, n, &r->ep);
    char budget[64], shard[32];
    s2_budget_format(&r->ep.budget, budget, sizeof budget);
    snprintf(shard, sizeof shard, "%d/%d", c->shard_n > 0 ? c->shard_i : 0, c->shard_n > 0 ? c->shard_n : 1);
    json_t *cfg = json_pack("{s:s, s:s?, s:s?, s:i, s:I, s:i, s:s, s:o, s:s, s:o, s:o, s:s, s:I, s:i, s:s, s:o, s:o, "
                            "s:i, s:s?, s:i, s:b, s:s?}",
                            "task", c->task, "data", c->data, "split", c->split, "n_items", c->n_items, "task_seed",
                            (json_int_t)(c->task_seed & 0x7fffffffffffffffULL), "items",
                            s2_task_n_items(r->task), "search", r->strat->iface->name, "params", strat_p, "scorer",
                            r->scorer->iface->name, "scorer_params", scorer_p, "env", env_p, "budget", budget, "seed",
                            (json_int_t)(c->seed & 0x7fffffffffffffffULL), "limit", c->limit, "shard", shard, "model",
                            model, "value", value, "n_ctx", c->n_ctx, "tokenizer", c->tokenizer, "kv_mb",
                            (int)c->kv_mb, "trace", c->trace, "version", c->version);
    if (cfg == NULL) s2_error_set(err, S2_E_NOMEM, "run: out of memory for the configuration");
    return cfg ? json_pack("{s:o}", "sys2_run", cfg) : NULL;
}

/* The first key whose value differs between two configurations ("version" is not compared), or NULL. */
static const char *config_diff(json_t *a, json_t *b) {
    json_t *x = json_object_get(a, "sys2_run"), *y = json_object_get(b, "sys2_run");
    if (!json_is_object(x) || !json_is_object(y)) return "sys2_run";
    const char *key;
    json_t *val;
    json_object_foreach(x, key, val) {
        if (strcmp(key, "version") == 0) continue;
        if (!json_equal(val, json_object_get(y, key))) return key;
    }
    json_object_foreach(y, key, val) if (json_object_get(x, key) == NULL) return key;
    return NULL;
}

/* Reads an existing result file: checks its configuration against cfg, marks the items present in done[],
 * counts them, and cuts off a torn last line. *fresh = true when the file is absent or empty. */
static s2_status read_existing(runner *r, json_t *cfg, bool *done, s2_error *err) {
    const char *path = r->cfg->out;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return errno == ENOENT ? S2_OK : s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long good_end = 0;
    int64_t lineno = 0;
    s2_status st = S2_OK;
    while (st == S2_OK && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n') break; /* torn: the run died mid-write */
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (o == NULL) {
            if (lineno == 1) st = s2_error_set(err, S2_E_FORMAT, "%s:1: not a sys2 result file (%s)", path, je.text);
            break; /* a damaged line: cut from here */
        }
        if (lineno == 1) {
            const char *k = config_diff(o, cfg);
            if (k != NULL)
                st = s2_error_set(err, S2_E_ARG, "%s holds a different run ('%s' differs); give another --out", path, k);
        } else {
            const char *id = json_string_value(json_object_get(o, "id"));
            int32_t i = id ? s2_task_find(r->task, id) : -1;
            if (i >= 0 && !done[i]) {
                done[i] = true;
                r->prog.skipped++;
                r->prog.correct += json_is_true(json_object_get(o, "correct"));
            }
        }
        json_decref(o);
        if (st == S2_OK) good_end = ftell(f);
    }
    free(line);
    fclose(f);
    if (st == S2_OK && truncate(path, good_end) != 0)
        st = s2_error_set(err, S2_E_IO, "%s: cannot cut a torn line: %s", path, strerror(errno));
    return st;
}

/* ---- s2_run ---- */

static s2_status setup(runner *r, s2_error *err) {
    const s2_run_config *c = r->cfg;
    if (c->search == NULL || c->out == NULL || (c->task == NULL && c->task_obj == NULL))
        return s2_error_set(err, S2_E_ARG, "run: task, search and out are required");
    if (c->make_lm == NULL && c->model == NULL) return s2_error_set(err, S2_E_ARG, "run: a model (-m) is required");
    if (c->shard_n < 0 || (c->shard_n > 0 && (c->shard_i < 0 || c->shard_i >= c->shard_n)))
        return s2_error_set(err, S2_E_ARG, "run: shard %d/%d is not i/n with 0 <= i < n", c->shard_i, c->shard_n);
    int32_t n = c->n_params;
    bool *used = calloc((size_t)(n > 0 ? n : 1), sizeof *used);
    if (used == NULL) return s2_error_set(err, S2_E_NOMEM, "run: out of memory");
    r->ep = s2_env_default_params();
    int32_t nd;
    const s2_param_def *ed = s2_env_param_defs(&nd);
    s2_status st = S2_OK;
    for (int32_t k = 0; k < n && st == S2_OK; k++) {
        int rr = s2_params_set(ed, nd, &r->ep, c->keys[k], c->vals[k], err);
        if (rr < 0) st = (s2_status)rr;
        else if (rr == 0) used[k] = true;
    }
    if (st == S2_OK) st = s2_strategy_create(c->search, c->keys, c->vals, n, used, &r->strat, err);
    if (st == S2_OK) st = s2_scorer_create(c->scorer ? c->scorer : "logprob", c->keys, c->vals, n, used, &r->scorer, err);
    for (int32_t k = 0; k < n && st == S2_OK; k++)
        if (!used[k])
            st = s2_error_set(err, S2_E_ARG, "--param %s: neither strategy %s, scorer %s nor the env has it", c->keys[k],
                              c->search, c->scorer ? c->scorer : "logprob");
    free(used);
    if (st == S2_OK) st = s2_budget_parse(c->budget, &r->ep.budget, err);
    r->ep.scorer = r->scorer;
    if (st != S2_OK) return st;
    if (c->task_obj) {
        r->task = c->task_obj;
    } else {
        s2_task_params tp = s2_task_default_params();
        tp.data = c->data;
        tp.split = c->split;
        tp.seed = c->task_seed;
        tp.n_items = c->n_items;
        s2_task *t = NULL;
        st = s2_task_create(c->task, &tp, &t, err);
        if (st != S2_OK) return st;
        r->task = t;
    }
    r->ep.task = r->task;
    if (c->make_lm == NULL) {
        s2_model_params mp = s2_model_default_params();
        mp.tokenizer = c->tokenizer;
        if (!is_url(c->model)) st = s2_model_load(c->model, &mp, &r->model, err);
        if (st == S2_OK && c->value && !is_url(c->value)) st = s2_model_load(c->value, NULL, &r->value_model, err);
        if (st != S2_OK) return st;
        for (int v = 0; v < 2; v++) {
            const s2_model *m = v ? r->value_model : r->model;
            if (m == NULL) continue;
            s2_ctx_params *cp = v ? &r->vcp : &r->cp;
            *cp = s2_ctx_default_params();
            const s2_hparams *hp = s2_model_hparams(m);
            cp->n_ctx = c->n_ctx > 0 ? c->n_ctx : 0;
            int32_t nctx = cp->n_ctx > 0 ? cp->n_ctx : hp->n_ctx_train;
            int64_t per_tok = (int64_t)hp->n_layer * hp->n_head_kv * hp->head_dim * 2 * (int64_t)sizeof(float);
            cp->kv_max_bytes = c->kv_mb > 0 ? c->kv_mb << 20 : per_tok * nctx * 64;
            cp->n_threads = c->threads > 1 ? 1 : 0; /* parallel items: one thread each */
        }
    }
    return S2_OK;
}

s2_status s2_run(const s2_run_config *cfg, s2_run_summary *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    runner r = {.cfg = cfg, .fatal = S2_OK};
    r.t0 = now_s();
    pthread_mutex_init(&r.mu, NULL);
    json_t *cj = NULL;
    bool *done = NULL;
    s2_status st = setup(&r, err);
    if (st == S2_OK) {
        cj = config_json(&r, err);
        if (cj == NULL) st = err && err->code != S2_OK ? err->code : S2_E_NOMEM;
    }
    int32_t n_items = st == S2_OK ? s2_task_n_items(r.task) : 0;
    if (st == S2_OK) {
        done = calloc((size_t)(n_items > 0 ? n_items : 1), sizeof *done);
        r.todo = malloc((size_t)(n_items > 0 ? n_items : 1) * sizeof *r.todo);
        if (done == NULL || r.todo == NULL) st = s2_error_set(err, S2_E_NOMEM, "run: out of memory");
    }
    if (st == S2_OK) st = read_existing(&r, cj, done, err);
    if (st == S2_OK) {
        int32_t lim = cfg->limit > 0 && cfg->limit < n_items ? cfg->limit : n_items;
        for (int32_t i = 0; i < lim; i++) {
            if (cfg->shard_n > 0 && i % cfg->shard_n != cfg->shard_i) continue;
            r.prog.total++;
            if (!done[i]) r.todo[r.n_todo++] = i;
        }
        r.prog.done = r.prog.skipped;
        r.f = fopen(cfg->out, "ab");
        if (r.f == NULL) st = s2_error_set(err, S2_E_IO, "%s: %s", cfg->out, strerror(errno));
    }
    if (st == S2_OK && ftell(r.f) == 0) { /* a new file: the configuration first */
        char *s = json_dumps(cj, JSON_COMPACT);
        if (s == NULL || fprintf(r.f, "%s\n", s) < 0 || fflush(r.f) != 0 || fsync(fileno(r.f)) != 0)
            st = s2_error_set(err, S2_E_IO, "%s: cannot write: %s", cfg->out, strerror(errno));
        free(s);
    }
    if (st == S2_OK) {
        int32_t nt = cfg->threads > 1 ? cfg->threads : 1;
        if (nt > r.n_todo) nt = r.n_todo > 0 ? r.n_todo : 1;
        pthread_t *th = calloc((size_t)nt, sizeof *th);
        int32_t started = 0;
        if (th == NULL) st = s2_error_set(err, S2_E_NOMEM, "run: out of memory");
        for (int32_t t = 1; st == S2_OK && t < nt; t++)
            if (pthread_create(&th[t], NULL, worker, &r) == 0) started = t;
        if (st == S2_OK) worker(&r);
        for (int32_t t = 1; t <= started; t++) pthread_join(th[t], NULL);
        free(th);
        if (st == S2_OK && r.fatal != S2_OK) {
            st = r.fatal;
            if (err) *err = r.fatal_err;
        }
    }
    if (r.f) fclose(r.f);
    out->total = r.prog.total;
    out->skipped = r.prog.skipped;
    out->done = r.prog.done_now;
    out->correct = r.prog.correct;
    out->wall_s = now_s() - r.t0;
    json_decref(cj);
    free(done);
    free(r.todo);
    s2_strategy_free(r.strat);
    s2_scorer_free(r.scorer);
    if (cfg->task_obj == NULL) s2_task_free((s2_task *)r.task);
    s2_model_free(r.model);
    s2_model_free(r.value_model);
    pthread_mutex_destroy(&r.mu);
    return st;
}
