/* run.c: the experiment runner (see run.h). Loads the models once, gives each item fresh contexts on them, runs
 * the strategy, verifies the answer, and appends one flushed and fsync'd JSON line per item. Never prints:
 * progress goes to the caller's callback. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "http.h"
#include "run.h"
#include "task_chat.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Model text (or a verifier's words quoting it) as a JSON string; NULL gives null (s2_json_text: U+FFFD for bytes
 * that are not UTF-8, which Jansson would refuse: the value would then go missing in silence). */
static json_t *jtext(const char *s) { return s ? s2_json_text(s, strlen(s), NULL) : json_null(); }

void s2_json_set_text(json_t *o, const char *key, const char *s) {
    bool lossy = false;
    json_object_set_new(o, key, s2_json_text(s, strlen(s), &lossy));
    if (!lossy) return;
    size_t n = strlen(s);
    char *hx = malloc(2 * n + 1), k[64];
    if (hx == NULL) return;
    for (size_t i = 0; i < n; i++) snprintf(hx + 2 * i, 3, "%02x", (unsigned char)s[i]);
    snprintf(k, sizeof k, "%s_hex", key);
    json_object_set_new(o, k, json_string(hx));
    free(hx);
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

/* ---- task parameters (--param task.K=V) ---- */

static const s2_param_def task_defs[] = {
    {"n_shot", S2_PARAM_INT, offsetof(s2_task_params, n_shot), -1, -1, 64, NULL,
     "worked examples in the prompt (-1 = the task's default: gsm8k 0)"},
    {"difficulty", S2_PARAM_INT, offsetof(s2_task_params, difficulty), 0, 0, 1000, NULL,
     "countdown: numbers; arith: digits; listprog: stages (0 = the task's default)"},
    {"timeout", S2_PARAM_FLOAT, offsetof(s2_task_params, timeout_s), 0, 0, 3600, NULL,
     "code tasks: seconds per candidate (0 = the task's default)"},
    {"workers", S2_PARAM_INT, offsetof(s2_task_params, n_workers), 0, 0, 256, NULL,
     "code tasks: sandbox workers (0 = 2)"},
};

const s2_param_def *s2_run_task_param_defs(int32_t *n) {
    *n = (int32_t)(sizeof task_defs / sizeof task_defs[0]);
    return task_defs;
}

static json_t *counters_json(const s2_counters *c) {
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I}", "prompt_tokens", (json_int_t)c->prompt_tokens,
                     "cached_tokens", (json_int_t)c->cached_tokens, "gen_tokens", (json_int_t)c->gen_tokens,
                     "scored_tokens", (json_int_t)c->scored_tokens, "forward_calls", (json_int_t)c->forward_calls,
                     "forward_rows", (json_int_t)c->forward_rows, "flops", c->flops, "ns", (json_int_t)c->ns,
                     "requests", (json_int_t)c->requests);
    if (o != NULL && c->server_cached_tokens != 0) /* remote runs only: local lines stay as they were */
        json_object_set_new(o, "server_cached_tokens", json_integer((json_int_t)c->server_cached_tokens));
    return o;
}

/* ---- the shared state of one run ---- */

typedef struct runner {
    const s2_run_config *cfg;
    const s2_task *task;
    s2_strategy *strat;
    s2_scorer *scorer;
    s2_env_params ep;             /* lm, value_lm, item, seed filled per item */
    s2_task_params tp;            /* as given (defaults, flags, --param task.K) */
    int lock_fd;                  /* the flock on OUT.lock, -1 when not held */
    s2_model *model, *value_model;
    s2_ctx_params cp, vcp;
    int32_t *todo, n_todo, next;
    FILE *f;
    pthread_mutex_t mu;
    s2_run_progress prog;
    double t0;
    s2_status fatal;
    s2_error fatal_err;
    bool chat;                    /* prompts go through a chat template (resolved from cfg->chat) */
    s2_lm_caps remote[2];         /* policy, value: what a remote system 1 said it can do (server "" when local) */
} runner;

static bool is_url(const char *s) { return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0); }

static s2_status make_lm(runner *r, bool value, s2_lm **out, s2_error *err) {
    *out = NULL;
    if (r->cfg->make_lm) {
        s2_status st = r->cfg->make_lm(r->cfg->lm_user, value, out, err);
        if (st == S2_OK && !value && r->chat) s2_lm_set_parse_special(*out, true);
        return st;
    }
    const char *spec = value ? r->cfg->value : r->cfg->model;
    if (is_url(spec)) { /* a remote system 1: one connection per item, as one context per item locally */
        s2_lm_open_params op = s2_lm_open_default_params();
        op.model_name = value ? NULL : r->cfg->model_name;
        op.server = r->cfg->server;
        if (r->cfg->http_timeout_s > 0) op.timeout_s = r->cfg->http_timeout_s;
        op.retries = r->cfg->http_tries > 0 ? r->cfg->http_tries - 1 : -1;
        return s2_lm_open(spec, &op, out, err);
    }
    if (value && r->value_model == NULL) return S2_OK;
    s2_status st = s2_lm_local_init(value ? r->value_model : r->model, value ? &r->vcp : &r->cp, out, err);
    if (st == S2_OK && !value && r->chat) s2_lm_set_parse_special(*out, true); /* the template's special tokens */
    return st;
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
        json_array_append_new(ans, jtext(a));
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
        json_t *o = json_pack("{s:i, s:i, s:i, s:b, s:b, s:i, s:f, s:f}", "id", x->id, "parent",
                              x->parent ? x->parent->id : -1, "depth", x->depth, "terminal", x->terminal, "pruned",
                              x->pruned, "tokens", x->step_tokens, "logprob", x->step_logprob, "spent", x->spent);
        s2_json_set_text(o, "step", x->step);
        if (x->prune != S2_PRUNE_NONE) json_object_set_new(o, "prune", json_string(s2_prune_name(x->prune)));
        if (x->terminal && x->prune != S2_PRUNE_ILLEGAL && x->parent != NULL) {
            s2_verdict v = {0};
            s2_error e = {0};
            if (s2_task_verify(task, item, x->text, &v, &e) == S2_OK) {
                json_object_set_new(o, "correct", json_boolean(v.correct));
                if (v.answer) json_object_set_new(o, "answer", jtext(v.answer));
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
static json_t *run_item(runner *r, int32_t i, bool *correct, bool *errored) {
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
    json_object_set_new(o, "answer", jtext(v.answer));
    json_object_set_new(o, "correct", json_boolean(st == S2_OK && v.correct));
    json_object_set_new(o, "reward", json_real(st == S2_OK ? v.reward : 0));
    json_object_set_new(o, "reason", jtext(st == S2_OK ? v.reason : err.msg));
    /* S2_E_BUDGET before the search: the prompt is longer than the context (an error); a search stopped with
     * budget left ran out of context (or of nodes), which is not the budget */
    bool context_cut = st == S2_OK && res.budget_hit && env != NULL && s2_env_budget_left(env);
    const char *status = st == S2_E_BUDGET ? "context" : st != S2_OK ? "error" : context_cut ? "context"
                         : res.budget_hit ? "budget" : "ok";
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "error", json_boolean(st != S2_OK));
    s2_json_set_text(o, "text", res.best ? res.best->text : "");
    json_object_set_new(o, "seed", json_integer((json_int_t)(ep.seed & 0x7fffffffffffffffULL)));
    json_object_set_new(o, "counters", counters_json(&pc));
    json_object_set_new(o, "value_counters", counters_json(&vc));
    json_object_set_new(o, "total_counters", counters_json(&tc));
    json_object_set_new(o, "tokens", json_real(s2_budget_measure(S2_BUDGET_TOKENS, &tc)));
    json_object_set_new(o, "flops", json_real(tc.flops));
    json_object_set_new(o, "calls", json_integer((json_int_t)tc.requests));
    double hit_den = (double)(tc.cached_tokens + tc.prompt_tokens);
    json_object_set_new(o, "cache_hit", json_real(hit_den > 0 ? (double)tc.cached_tokens / hit_den : 0));
    json_object_set_new(o, "budget_hit", json_boolean(res.budget_hit && !context_cut));
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
    *errored = st != S2_OK;
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
        bool correct = false, errored = false;
        json_t *o = run_item(r, i, &correct, &errored);
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
            r->prog.errors += errored;
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
    int32_t nt;
    const s2_param_def *td = s2_run_task_param_defs(&nt);
    json_t *task_p = params_json(td, nt, &r->tp);
    char budget[64], shard[32];
    s2_budget_format(&r->ep.budget, budget, sizeof budget);
    snprintf(shard, sizeof shard, "%d/%d", c->shard_n > 0 ? c->shard_i : 0, c->shard_n > 0 ? c->shard_n : 1);
    /* limit is not recorded: it only chooses items, so a larger one extends the same run */
    json_t *cfg = json_pack("{s:s, s:s?, s:s?, s:i, s:I, s:i, s:o, s:s, s:o, s:s, s:o, s:o, s:s, s:I, s:s, s:o, s:o, "
                            "s:i, s:s?, s:i, s:b, s:s?}",
                            "task", c->task, "data", c->data, "split", c->split, "n_items", r->tp.n_items, "task_seed",
                            (json_int_t)(c->task_seed & 0x7fffffffffffffffULL), "items",
                            s2_task_n_items(r->task), "task_params", task_p, "search", r->strat->iface->name, "params",
                            strat_p, "scorer", r->scorer->iface->name, "scorer_params", scorer_p, "env", env_p, "budget",
                            budget, "seed", (json_int_t)(c->seed & 0x7fffffffffffffffULL), "shard", shard, "model",
                            model, "value", value, "n_ctx", c->n_ctx, "tokenizer", c->tokenizer, "kv_mb",
                            (int)c->kv_mb, "trace", c->trace, "version", c->version);
    if (cfg != NULL && r->chat) /* recorded only when on, so that the lines of runs without chat stay as they were */
        json_object_set_new(cfg, "chat", json_pack("{s:s, s:s?}", "template", c->chat_template_file ? c->chat_template_file
                                                   : "model", "system", c->system));
    if (cfg == NULL) s2_error_set(err, S2_E_NOMEM, "run: out of memory for the configuration");
    for (int v = 0; cfg && v < 2; v++) /* a remote system 1: what served it and how its tokens were counted */
        if (r->remote[v].server[0])
            json_object_set_new(cfg, v ? "value_server" : "server",
                                json_pack("{s:s,s:s}", "name", r->remote[v].server, "counts",
                                          r->remote[v].counts_estimated
                                              ? "the search's: each sequence's own sent prefix counts as cached, as "
                                                "locally (the server reports no cache)"
                                              : "the search's: each sequence's own sent prefix counts as cached, as "
                                                "locally; the server's further reuse is server_cached_tokens"));
    return cfg ? json_pack("{s:o}", "sys2_run", cfg) : NULL;
}

/* What identifies a model file in a configuration: its content hash (or its URL), never the path's spelling. */
static json_t *model_key(json_t *m) {
    json_t *h = json_object_get(m, "fnv1a64");
    return h ? h : json_is_object(m) && json_object_get(m, "url") ? json_object_get(m, "url") : m;
}

/* What only chooses which items run (a run can be extended by them) or does not define it at all. */
static const char *const not_defining[] = {"version", "limit", "shard", "items", "n_items"};

static bool is_defining(const char *key) {
    for (size_t i = 0; i < sizeof not_defining / sizeof not_defining[0]; i++)
        if (strcmp(key, not_defining[i]) == 0) return false;
    return true;
}

/* The first key that defines the run whose value differs between two configurations, or NULL. Model and value
 * files are compared by their content hash alone. */
static const char *config_diff(json_t *a, json_t *b) {
    json_t *x = json_object_get(a, "sys2_run"), *y = json_object_get(b, "sys2_run");
    if (!json_is_object(x) || !json_is_object(y)) return "sys2_run";
    for (int pass = 0; pass < 2; pass++) {
        const char *key;
        json_t *val;
        json_object_foreach(pass ? y : x, key, val) {
            if (!is_defining(key)) continue;
            json_t *other = json_object_get(pass ? x : y, key);
            if (other == NULL && strcmp(key, "task_params") == 0) { /* a file from before task parameters existed */
                s2_task_params tp = s2_task_default_params();
                int32_t nt;
                const s2_param_def *td = s2_run_task_param_defs(&nt);
                json_t *dflt = params_json(td, nt, &tp);
                bool same = json_equal(val, dflt);
                json_decref(dflt);
                if (same) continue;
            }
            if (other == NULL) return key;
            bool model = strcmp(key, "model") == 0 || strcmp(key, "value") == 0;
            if (!json_equal(model ? model_key(val) : val, model ? model_key(other) : other)) return key;
        }
    }
    return NULL;
}

char *s2_run_config_key(const json_t *sys2_run) {
    json_t *k = json_object();
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)sys2_run, key, val) {
        if (!is_defining(key)) continue;
        bool model = strcmp(key, "model") == 0 || strcmp(key, "value") == 0;
        json_object_set(k, key, model ? model_key(val) : val);
    }
    char *s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(k);
    return s;
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
                const char *status = json_string_value(json_object_get(o, "status"));
                r->prog.errors += json_is_true(json_object_get(o, "error")) || (status && strcmp(status, "error") == 0);
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

/* --chat / --no-chat / auto: wraps the task so that its prompts go through the chat template (tasks/task_chat.h). */
static s2_status setup_chat(runner *r, s2_error *err) {
    const s2_run_config *c = r->cfg;
    const char *tmpl = c->chat_template ? c->chat_template : s2_model_chat_template(r->model);
    if (c->chat < 0 || (c->chat == 0 && (tmpl == NULL || !s2_task_is_qa(r->task)))) {
        if (c->system != NULL)
            return s2_error_set(err, S2_E_ARG, "--system needs a chat template (the model has none, or task %s is not a "
                                "question-answer task: add --chat and --template-file FILE)", r->task->iface->name);
        return S2_OK;
    }
    if (tmpl == NULL)
        return s2_error_set(err, S2_E_ARG, "--chat: %s has no tokenizer.chat_template (give --template-file FILE)",
                            c->model ? c->model : "the model");
    s2_task_chat_params p = {.template_src = tmpl, .system = c->system, .bos_token = s2_model_bos_text(r->model),
                             .eos_token = s2_model_eos_text(r->model)};
    s2_task *wrapped = NULL;
    s2_status st = s2_task_chat_wrap((s2_task *)r->task, c->task_obj == NULL, &p, &wrapped, err);
    if (st != S2_OK) return st;
    r->task = wrapped;
    r->ep.task = wrapped;
    r->chat = true;
    return S2_OK;
}

/* Scorers that read teacher-forced log-probs (s2_lm_score / score_labels), and from which system 1. */
static const struct { const char *scorer; bool value_lm; } needs_prompt_logprobs[] = {
    {"value", true}, {"selfeval", false}, {"pairwise", false},
};

/* A remote system 1 is asked what it is and can do before the first item: a scorer that needs prompt log-probs it
 * cannot give is refused here, with the server's name and reason, instead of failing on every item. */
static s2_status check_remote(runner *r, s2_error *err) {
    const s2_run_config *c = r->cfg;
    const char *scorer = c->scorer ? c->scorer : "logprob";
    for (int v = 0; v < 2; v++) {
        if (!is_url(v ? c->value : c->model)) continue;
        s2_lm *lm = NULL;
        s2_status st = make_lm(r, v == 1, &lm, err);
        if (st == S2_OK) st = s2_lm_caps_get(lm, &r->remote[v], err);
        s2_lm_free(lm);
        if (st != S2_OK) return st;
        for (size_t k = 0; k < sizeof needs_prompt_logprobs / sizeof needs_prompt_logprobs[0]; k++)
            if (strcmp(scorer, needs_prompt_logprobs[k].scorer) == 0 && needs_prompt_logprobs[k].value_lm == (v == 1) &&
                !r->remote[v].prompt_logprobs)
                return s2_error_set(err, S2_E_UNSUPPORTED,
                                    "run: scorer %s needs prompt log-probs from the %s, which %s; refused before the "
                                    "first item", scorer, v ? "value model" : "policy", r->remote[v].why);
    }
    return S2_OK;
}

/* ---- parameters: each --param goes to one owner ---- */

enum { OWN_SEARCH, OWN_SCORER, OWN_TASK, OWN_ENV, OWN_N };
static const char *const own_ns[OWN_N] = {"search", "scorer", "task", "env"};

/* The parameter table of a strategy or scorer by name (*n = 0 for an unknown name: creating it says so). */
static const s2_param_def *named_defs(bool scorer, const char *name, int32_t *n) {
    int32_t count = scorer ? s2_scorer_count() : s2_strategy_count();
    for (int32_t i = 0; i < count; i++)
        if (strcmp(scorer ? s2_scorer_name_at(i) : s2_strategy_name_at(i), name) == 0)
            return scorer ? s2_scorer_params_at(i, n) : s2_strategy_params_at(i, n);
    *n = 0;
    return NULL;
}

static bool has_key(const s2_param_def *defs, int32_t n, const char *key) {
    for (int32_t i = 0; i < n; i++)
        if (strcmp(defs[i].key, key) == 0) return true;
    return false;
}

/* owner[k] and bare[k] (the key without its namespace) for every --param: "search.K" and the like go where they
 * say; a bare K to the one table that has it. */
static s2_status route_params(const s2_run_config *c, const char *scorer, int32_t *owner, const char **bare,
                              s2_error *err) {
    const s2_param_def *defs[OWN_N];
    int32_t nd[OWN_N];
    defs[OWN_SEARCH] = named_defs(false, c->search, &nd[OWN_SEARCH]);
    defs[OWN_SCORER] = named_defs(true, scorer, &nd[OWN_SCORER]);
    defs[OWN_TASK] = s2_run_task_param_defs(&nd[OWN_TASK]);
    defs[OWN_ENV] = s2_env_param_defs(&nd[OWN_ENV]);
    const char *who[OWN_N] = {c->search, scorer, "", ""};
    const char *what[OWN_N] = {"strategy ", "scorer ", "the task", "the env"};
    for (int32_t k = 0; k < c->n_params; k++) {
        const char *key = c->keys[k], *dot = strchr(key, '.');
        owner[k] = -1;
        bare[k] = key;
        if (dot != NULL) {
            for (int32_t o = 0; o < OWN_N; o++)
                if (strlen(own_ns[o]) == (size_t)(dot - key) && strncmp(own_ns[o], key, (size_t)(dot - key)) == 0)
                    owner[k] = o;
            if (owner[k] < 0)
                return s2_error_set(err, S2_E_ARG, "--param %s: '%.*s.' is not one of search., scorer., task., env.",
                                    key, (int)(dot - key), key);
            bare[k] = dot + 1;
            continue;
        }
        char owners[256] = "", fix[256] = "";
        int32_t found = 0;
        for (int32_t o = 0; o < OWN_N; o++) {
            if (!has_key(defs[o], nd[o], key)) continue;
            size_t l = strlen(owners), f = strlen(fix);
            snprintf(owners + l, sizeof owners - l, "%s%s%s", found ? " and " : "", what[o], who[o]);
            snprintf(fix + f, sizeof fix - f, "%s%s.%s=%s", found ? " or " : "", own_ns[o], key, c->vals[k]);
            owner[k] = o;
            found++;
        }
        if (found == 0)
            return s2_error_set(err, S2_E_ARG, "--param %s: neither strategy %s, scorer %s, the task nor the env has it",
                                key, c->search, scorer);
        if (found > 1)
            return s2_error_set(err, S2_E_ARG, "--param %s is ambiguous: %s both have it; write %s", key, owners, fix);
    }
    return S2_OK;
}

/* Sets every routed parameter: env and task here, strategy and scorer through their registries. */
static s2_status apply_params(runner *r, const char *scorer, s2_error *err) {
    const s2_run_config *c = r->cfg;
    int32_t n = c->n_params > 0 ? c->n_params : 1;
    int32_t *owner = calloc((size_t)n, sizeof *owner);
    const char **bare = calloc((size_t)n, sizeof *bare), **ks = calloc((size_t)n, sizeof *ks),
               **vs = calloc((size_t)n, sizeof *vs);
    s2_status st = owner && bare && ks && vs ? route_params(c, scorer, owner, bare, err)
                                             : s2_error_set(err, S2_E_NOMEM, "run: out of memory");
    int32_t ne, nt;
    const s2_param_def *ed = s2_env_param_defs(&ne), *td = s2_run_task_param_defs(&nt);
    for (int32_t k = 0; k < c->n_params && st == S2_OK; k++) {
        if (owner[k] != OWN_ENV && owner[k] != OWN_TASK) continue;
        bool env = owner[k] == OWN_ENV;
        int rr = s2_params_set(env ? ed : td, env ? ne : nt, env ? (void *)&r->ep : (void *)&r->tp, bare[k], c->vals[k],
                               err);
        if (rr < 0) st = (s2_status)rr;
        else if (rr == 1) st = s2_error_set(err, S2_E_ARG, "--param %s: %s has no parameter '%s'", c->keys[k],
                                             env ? "the env" : "the task", bare[k]);
    }
    for (int32_t o = OWN_SEARCH; o <= OWN_SCORER && st == S2_OK; o++) {
        int32_t m = 0;
        for (int32_t k = 0; k < c->n_params; k++)
            if (owner[k] == o) ks[m] = bare[k], vs[m++] = c->vals[k];
        if (o == OWN_SEARCH) st = s2_strategy_create(c->search, ks, vs, m, NULL, &r->strat, err);
        else st = s2_scorer_create(scorer, ks, vs, m, NULL, &r->scorer, err);
    }
    free(owner);
    free(bare);
    free(ks);
    free(vs);
    return st;
}

static s2_status setup(runner *r, s2_error *err) {
    const s2_run_config *c = r->cfg;
    if (c->search == NULL || c->out == NULL || (c->task == NULL && c->task_obj == NULL))
        return s2_error_set(err, S2_E_ARG, "run: task, search and out are required");
    if (c->make_lm == NULL && c->model == NULL) return s2_error_set(err, S2_E_ARG, "run: a model (-m) is required");
    if (c->shard_n < 0 || (c->shard_n > 0 && (c->shard_i < 0 || c->shard_i >= c->shard_n)))
        return s2_error_set(err, S2_E_ARG, "run: shard %d/%d is not i/n with 0 <= i < n", c->shard_i, c->shard_n);
    r->ep = s2_env_default_params();
    r->tp = s2_task_default_params();
    r->tp.data = c->data;
    r->tp.split = c->split;
    r->tp.seed = c->task_seed;
    r->tp.n_items = c->n_items;
    s2_status st = apply_params(r, c->scorer ? c->scorer : "logprob", err); /* n_items stays --n-items': it only
                                                                              * chooses items (see config_diff) */
    if (st == S2_OK) st = s2_budget_parse(c->budget, &r->ep.budget, err);
    r->ep.scorer = r->scorer;
    if (st != S2_OK) return st;
    if (c->task_obj) {
        r->task = c->task_obj;
    } else {
        s2_task *t = NULL;
        st = s2_task_create(c->task, &r->tp, &t, err);
        if (st != S2_OK) return st;
        r->task = t;
    }
    r->ep.task = r->task;
    if (c->check_only) return S2_OK;
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
            cp->kv_type = c->kv_type;
            int64_t per_tok = s2_model_kv_bytes_per_token(m, cp->kv_type);
            cp->kv_max_bytes = c->kv_mb > 0 ? c->kv_mb << 20 : per_tok * nctx * 64;
            cp->n_threads = c->threads > 1 ? 1 : 0; /* parallel items: one thread each */
        }
        st = check_remote(r, err);
    }
    return st == S2_OK ? setup_chat(r, err) : st;
}

/* ---- one writer per result file ---- */

/* Takes the exclusive lock of path for the whole run: an flock on "path.lock", which then holds "pid host". A
 * second writer is refused at once, naming the first. */
static s2_status lock_out(const char *path, int *fd_out, s2_error *err) {
    *fd_out = -1;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return s2_error_set(err, S2_E_ARG, "%s is a directory: the result file (--out) must be a file", path);
    char lp[4096];
    if (snprintf(lp, sizeof lp, "%s.lock", path) >= (int)sizeof lp)
        return s2_error_set(err, S2_E_ARG, "%s: path too long", path);
    for (int tries = 0; tries < 8; tries++) {
        int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return s2_error_set(err, S2_E_IO, "%s: %s", lp, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char who[300] = "";
            ssize_t n = 0;
            for (int w = 0; w < 20 && n <= 0; w++) { /* the holder may not have written its name yet */
                n = pread(fd, who, sizeof who - 1, 0);
                if (n <= 0) usleep(5000);
            }
            close(fd);
            if (e != EWOULDBLOCK) return s2_error_set(err, S2_E_IO, "%s: cannot lock: %s", lp, strerror(e));
            long pid = 0;
            char host[256] = "?";
            if (n > 0) {
                who[n] = '\0';
                sscanf(who, "%ld %255s", &pid, host);
            }
            return s2_error_set(err, S2_E_IO, "another sys2 run (pid %ld on %s) is writing %s", pid, host, path);
        }
        struct stat a, b; /* a writer that just finished unlinks its lock file: hold the one on disk */
        if (fstat(fd, &a) == 0 && stat(lp, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            char host[256] = "?", buf[300];
            gethostname(host, sizeof host);
            host[sizeof host - 1] = '\0';
            int len = snprintf(buf, sizeof buf, "%ld %s\n", (long)getpid(), host);
            if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
                close(fd);
                return s2_error_set(err, S2_E_IO, "%s: %s", lp, strerror(errno));
            }
            *fd_out = fd;
            return S2_OK;
        }
        close(fd);
    }
    return s2_error_set(err, S2_E_IO, "%s: the lock file keeps being replaced", lp);
}

static void unlock_out(const char *path, int fd) {
    if (fd < 0) return;
    char lp[4096];
    snprintf(lp, sizeof lp, "%s.lock", path);
    unlink(lp); /* while still holding it: a process that opened this inode sees it is gone and retries */
    close(fd);
}

/* ---- configurations that would fail every item, refused before the first ---- */

static const struct {
    const char *scorer;
    bool value_model, value_prompt; /* what it needs */
} scorer_needs[] = {
    {"value", true, true},
    {"selfeval", false, true},
};
static const char *const scorerless[] = {"io", "cot"}; /* strategies that never consult the scorer */

static s2_status preflight(runner *r, s2_error *err) {
    const s2_run_config *c = r->cfg;
    bool scored = true;
    for (size_t i = 0; i < sizeof scorerless / sizeof scorerless[0]; i++)
        scored &= strcmp(r->strat->iface->name, scorerless[i]) != 0;
    const char *sn = r->scorer->iface->name;
    for (size_t i = 0; scored && i < sizeof scorer_needs / sizeof scorer_needs[0]; i++) {
        if (strcmp(sn, scorer_needs[i].scorer) != 0) continue;
        if (scorer_needs[i].value_model && c->value == NULL && c->make_lm == NULL)
            return s2_error_set(err, S2_E_ARG, "scorer %s needs a value model: give --value FILE (every item would "
                                "fail without one)", sn);
        if (scorer_needs[i].value_prompt && r->task->iface->value_prompt == NULL)
            return s2_error_set(err, S2_E_ARG, "scorer %s needs the task's value prompt, and task %s has none (every "
                                "item would fail)", sn, r->task->iface->name);
    }
    if (r->model == NULL || r->n_todo == 0) return S2_OK;
    int32_t nctx = r->cp.n_ctx > 0 ? r->cp.n_ctx : s2_model_hparams(r->model)->n_ctx_train, shortest = INT32_MAX;
    const s2_vocab *vocab = s2_model_vocab(r->model);
    for (int32_t k = 0; k < r->n_todo; k++) {
        char *prompt = s2_task_prompt(r->task, r->todo[k]);
        if (prompt == NULL) return s2_error_set(err, S2_E_NOMEM, "run: out of memory for a prompt");
        int32_t np = s2_tokenize(vocab, prompt, strlen(prompt), true, false, NULL, 0);
        free(prompt);
        np = np < 0 ? -np : np;
        if (np < shortest) shortest = np;
        if (np < nctx) return S2_OK;
    }
    return s2_error_set(err, S2_E_ARG, "every prompt fills the context: the shortest of the %d items has %d tokens, "
                        "the context %d (give --ctx N)", r->n_todo, shortest, nctx);
}

/* ---- s2_run ---- */

s2_status s2_run(const s2_run_config *cfg, s2_run_summary *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    runner r = {.cfg = cfg, .fatal = S2_OK, .lock_fd = -1};
    r.t0 = now_s();
    pthread_mutex_init(&r.mu, NULL);
    json_t *cj = NULL;
    bool *done = NULL;
    s2_status st = cfg->out && !cfg->check_only ? lock_out(cfg->out, &r.lock_fd, err) : S2_OK;
    if (st == S2_OK) st = setup(&r, err);
    if (st == S2_OK && cfg->check_only) { /* the scorer's needs only: no model, no items chosen */
        st = preflight(&r, err);
        goto done;
    }
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
        st = preflight(&r, err);
    }
    if (st == S2_OK) {
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
done:
    if (r.f) fclose(r.f);
    unlock_out(cfg->out, r.lock_fd);
    out->total = r.prog.total;
    out->skipped = r.prog.skipped;
    out->done = r.prog.done_now;
    out->correct = r.prog.correct;
    out->errors = r.prog.errors;
    out->wall_s = now_s() - r.t0;
    json_decref(cj);
    free(done);
    free(r.todo);
    s2_strategy_free(r.strat);
    s2_scorer_free(r.scorer);
    if (cfg->task_obj == NULL || r.task != cfg->task_obj) s2_task_free((s2_task *)r.task); /* a chat wrapper too */
    s2_model_free(r.model);
    s2_model_free(r.value_model);
    pthread_mutex_destroy(&r.mu);
    return st;
}
