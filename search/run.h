/* run.h: the experiment runner as a library: one strategy x one task x one budget over the task's items, in
 * parallel threads, one JSON line per item written and flushed as soon as the item is done, resumable.
 *
 * The result file's first line is the configuration ({"sys2_run": {...}}): the task, data and split, strategy and
 * scorer with every parameter (defaults filled in), the shared env parameters, the budget, seed, limit and shard,
 * the model files with size, mtime and FNV-1a-64 of their bytes, and the sys2 version. Then one line per item:
 * id, index, answer, correct, reward, reason, status, the final text, the policy's counters and the value
 * model's (differenced over the item), their total, tokens and FLOPs in the budget's measures, cache-hit ratio
 * (cached / (cached + prompt computed)), wall time, time inside system 1 and outside it, tree statistics, and
 * with trace the whole tree.
 *
 * Each item gets fresh system-1 contexts on the shared, once-loaded model (so no item's prefix cache serves
 * another: the counters of an item do not depend on which thread ran what before) and a seed derived from
 * (seed, item id): the result lines do not depend on the thread count or order. A rerun with the same file skips
 * the items already in it (a torn last line is cut off first), so a killed run loses nothing it wrote. */
#ifndef S2_RUN_H
#define S2_RUN_H

#include <jansson.h>

#include "search.h"

typedef struct s2_run_progress {
    int32_t done, total;          /* items finished in this shard (those found in the file included), all of it */
    int32_t correct;              /* among done */
    int32_t skipped;              /* found in the file at the start */
    double tokens;                /* tokens spent by this run (budget measure, policy + value) */
    double elapsed_s;             /* since this run started */
    int32_t done_now;             /* items finished by this run */
    int32_t errors;               /* among done: items that errored (configuration, system 1, context) */
} s2_run_progress;

/* Makes one s2_lm for an item: value = false for the policy, true for the value model. */
typedef s2_status (*s2_run_lm_fn)(void *user, bool value, s2_lm **out, s2_error *err);

typedef struct s2_run_config {
    const char *task;             /* registry name (recorded; used to create the task unless task_obj) */
    const char *data, *split;     /* task params (NULL = defaults) */
    int32_t n_items;              /* generated tasks: how many (0 = default) */
    uint64_t task_seed;           /* generated tasks: the items' seed (0 = the task's default); not the run seed */
    const char *search;           /* strategy name */
    const char *scorer;           /* scorer name, NULL = "logprob" */
    /* --param key=value: "search.K", "scorer.K", "task.K" or "env.K" go to that owner; a bare K to the one owner
     * that has it (refused, naming the owners, when several have it) */
    const char *const *keys;
    const char *const *vals;
    int32_t n_params;
    const char *model;            /* policy: GGUF path (or .bin with tokenizer) */
    const char *tokenizer;
    const char *model_name;       /* HTTP: the served model's name (NULL: the server's first) */
    const char *server;           /* HTTP: the server's profile (NULL: asked from it), as s2_lm_open_params */
    double http_timeout_s;        /* HTTP: per request (0 = the default) */
    int32_t http_tries;           /* HTTP: tries in all for a retryable failure (0 = the default) */
    const char *value;            /* value model GGUF, NULL = none */
    int32_t n_ctx;                /* 0 = the model's */
    int64_t kv_mb;                /* KV memory per item context in MiB (0 = room for 64 full sequences) */
    s2_kv_type kv_type;           /* KV cache elements (zero: S2_KV_F32) */
    const char *budget;           /* "tokens=N", "flops=F", "calls=K", NULL/"none" */
    int32_t limit;                /* first N items (0 = all) */
    uint64_t seed;
    int32_t threads;              /* item threads (0 = 1) */
    int32_t shard_i, shard_n;     /* items with index % shard_n == shard_i (shard_n 0 = no sharding) */
    const char *out;              /* the JSONL file */
    bool trace;                   /* the whole tree in each line */
    int32_t chat;                 /* prompts through a chat template: 1 on (--chat), -1 off (--no-chat), 0 auto (on
                                   * when the model has a template and the task is a question-answer task) */
    const char *chat_template;    /* the template's source (--template-file's content); NULL: the model's */
    const char *chat_template_file; /* where it came from (recorded) */
    const char *system;           /* --system TEXT: a system message before the task's prompt (chat only) */
    bool check_only;              /* only check the configuration (names, parameters, budget, task): no model is
                                   * loaded, no file touched */
    const char *version;          /* recorded in the configuration */
    /* test hooks (NULL = the defaults) */
    s2_task *task_obj;            /* a task made by the caller (borrowed) */
    s2_run_lm_fn make_lm;         /* instead of loading model/value */
    void (*free_lm)(void *user, s2_lm *lm); /* instead of s2_lm_free, for lms from make_lm */
    void *lm_user;
    void (*progress)(void *user, const s2_run_progress *p); /* after each item, under the file lock */
    void *progress_user;
    volatile int *stop;           /* when nonzero, threads take no new item */
} s2_run_config;

typedef struct s2_run_summary {
    int32_t total, skipped, done, correct; /* correct: among every item now in the file for this shard */
    int32_t errors;               /* among every item now in the file for this shard: lines with "error": true */
    double reward_sum;
    double wall_s;
} s2_run_summary;

/* Runs cfg. S2_E_ARG for a bad configuration, one that would fail every item (the value scorer without a value
 * model, a scorer needing a value prompt the task lacks, every prompt longer than the context: refused before the
 * first item), or a result file that holds a different run; S2_E_IO when the file cannot be read or written,
 * and at once, before anything is read, when another process is writing cfg->out ("another sys2 run (pid N on
 * HOST) is writing OUT": an flock on "OUT.lock", which holds the writer's pid and host, for the whole run). Errors inside one item (out of KV memory, a prompt longer than the context) are written to its line
 * ("error": true, "status": "error" or "context") and the run goes on: out->errors counts them.
 * What defines the run is compared on resume: task, data, split, task parameters, strategy, scorer, every
 * parameter, budget, seed and the models' content hashes (not their paths); limit and shard only choose items. */
s2_status s2_run(const s2_run_config *cfg, s2_run_summary *out, s2_error *err);

/* The task parameters a run takes as --param task.K=V (n_shot, difficulty, timeout, workers), on s2_task_params
 * (the split size of generated tasks is n_items in s2_run_config). */
const s2_param_def *s2_run_task_param_defs(int32_t *n);

/* The canonical text of what defines a run (a result file's "sys2_run" object without version, limit, shard and
 * item counts, models by content hash), malloc'd, or NULL when out of memory: two files with the same key hold
 * items of one run (shards, or a run extended), which report joins into one row. */
char *s2_run_config_key(const json_t *sys2_run);

/* A per-item seed from the run seed and the item id (splitmix64 of seed ^ FNV-1a(id)). */
uint64_t s2_run_item_seed(uint64_t seed, const char *id);

/* o[key] = the text a model wrote, as a JSON string (s2_json_text: a byte that is not UTF-8 becomes U+FFFD, where
 * Jansson would refuse the string and the value go missing in silence); where it had to change, also
 * o[key "_hex"] = its bytes in hex, so that nothing is lost. */
void s2_json_set_text(json_t *o, const char *key, const char *s);

#endif
