/* cmd_train.c: sys2 train: trains a small Llama-family model on a task's generated examples (core/train/train.c),
 * with held-out loss and greedy held-out accuracy every K steps, GGUF checkpoints (+ optimizer state) at each
 * evaluation and at the end, a progress line on stderr and a JSON log.
 *
 * Data: each training example is the task's gen_example(role, seed), encoded as BOS + prompt + completion + EOS
 * with the character vocabulary, loss on completion + EOS only; sequences are padded (not packed) to the
 * longest in the batch. Held-out loss uses gen_example with a seed stream distinct from training's; held-out
 * accuracy generates greedily for items of the task's default (evaluation) split, which gen_example never
 * draws from, and verifies them with the task. */
#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "task.h"
#include "train.h"

int cmd_train(int argc, char **argv);

static const char *train_help =
    "usage: sys2 train --task T --role policy|value --out FILE.gguf [options]\n"
    "Trains a small Llama-family model (character vocabulary, F32) on task T's generated training examples.\n"
    "Checkpoints: FILE.gguf (an ordinary GGUF model) and FILE.gguf.opt (optimizer state for --resume), written\n"
    "atomically at every evaluation and at the end.\n"
    "\n"
    "model:\n"
    "  --dim N           embedding size (default 128)\n"
    "  --layers N        transformer blocks (default 4)\n"
    "  --heads N         query heads (default 4)\n"
    "  --kv-heads N      key/value heads (default: --heads)\n"
    "  --ff N            feed-forward size (default 384)\n"
    "  --ctx N           longest sequence in tokens (default 256); longer examples are redrawn\n"
    "  --untied          a separate output matrix (default: tied to the token embedding)\n"
    "optimizer:\n"
    "  --steps N         optimizer steps (required)\n"
    "  --batch B         sequences per step (default 16)\n"
    "  --lr LR           peak learning rate (default 1e-3)\n"
    "  --warmup W        linear warm-up steps (default min(100, steps/10))\n"
    "  --min-lr-frac F   cosine decays to F * lr (default 0.1)\n"
    "  --wd WD           decoupled weight decay on matrices (default 0.1)\n"
    "  --clip C          global gradient-norm clip, 0 = off (default 1.0)\n"
    "  --seed S          weights and example stream (default 1)\n"
    "run:\n"
    "  --resume          continue from --out and --out.opt (same model flags and seed; the same --steps, --lr and\n"
    "                    --warmup keep the schedule, so a resumed run equals an uninterrupted one bit for bit)\n"
    "  --init FILE.gguf  start from this model's weights (same shape) with a fresh optimizer: fine-tuning; a\n"
    "                    later --resume of the run continues from --out as usual\n"
    "  --stop-at K       stop after step K (checkpoint written) as if interrupted; --resume goes on from there\n"
    "  --eval-every K    held-out loss, accuracy and a checkpoint every K steps (default: at the end only)\n"
    "  --heldout N       held-out examples for the loss (default 64)\n"
    "  --eval-items N    held-out items for greedy accuracy (default 32; 0 = skip)\n"
    "  --difficulty N    the task's difficulty for training examples (countdown: numbers; arith: digits;\n"
    "                    game24: half the value examples' 4-number states drawn from 1..N, not 1..13)\n"
    "  --examples KIND   policy examples: solutions (default: the task's solver writes them) or legal (random\n"
    "                    legal play, the Answer line only when it happens to win: the rules-only start of\n"
    "                    `sys2 improve`; no solver, no oracle)\n"
    "  --split NAME      the task's split for accuracy items (default: the task's own, its test split)\n"
    "  --log FILE.json   JSON log: config, every evaluation, final numbers, wall time\n"
    "  --name NAME       general.name in the GGUF (default sys2-TASK-ROLE)\n"
    "  --threads N       threads for OpenMP and OpenBLAS (default: as the environment says)\n"
    "\n"
    "GFLOP/s counts 6 * P * tokens + 12 * L * D * T * tokens per step, P the parameters in matrix products\n"
    "(with the output matrix, tied or not), tokens = B * T padded positions, T the padded length.\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process (all threads): on a shared machine, work per CPU-second is what the code
 * achieves, where work per wall-second also measures the neighbours. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- data from a task ---- */

typedef struct task_data {
    const s2_task *task;
    s2_role role;
} task_data;

static s2_status task_example(void *user, uint64_t seed, char **prompt, char **completion, s2_error *err) {
    task_data *d = user;
    s2_example ex = {0};
    s2_status st = d->task->iface->gen_example(d->task, d->role, seed, &ex, err);
    if (st != S2_OK) {
        s2_example_clear(&ex);
        return st;
    }
    *prompt = ex.prompt;
    *completion = ex.completion;
    return S2_OK;
}

/* ---- greedy held-out accuracy ---- */

/* The first k steps of text (each ending with delim), malloc'd; NULL when text has fewer. */
static char *first_steps(const char *text, const char *delim, int k) {
    const char *p = text;
    size_t dl = strlen(delim);
    for (int i = 0; i < k; i++) {
        const char *q = strstr(p, delim);
        if (q == NULL) return NULL;
        p = q + dl;
    }
    size_t n = (size_t)(p - text);
    char *s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, text, n);
        s[n] = '\0';
    }
    return s;
}

static void trim_right(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r')) s[--n] = '\0';
}

typedef struct eval_result {
    int32_t n, correct;
} eval_result;

/* Greedy completions of n prompts (BOS + prompt) with the engine on the checkpoint just written (KV cache:
 * linear in the length, where the trainer's own s2_tmodel_greedy recomputes every prefix); four sequences
 * decode together. Stops at an end-of-generation token, max_new tokens or the context. outs[i] malloc'd. */
static s2_status greedy_engine(const char *path, const char *const *prompts, int32_t n, int32_t max_new,
                               char **outs, s2_error *err) {
    s2_model *m = NULL;
    s2_ctx *ctx = NULL;
    for (int32_t i = 0; i < n; i++) outs[i] = NULL;
    s2_status st = s2_model_load(path, NULL, &m, err);
    if (st == S2_OK) st = s2_ctx_init(m, NULL, &ctx, err);
    if (st != S2_OK) {
        s2_model_free(m);
        return st;
    }
    const s2_vocab *v = s2_model_vocab(m);
    const int32_t V = s2_model_hparams(m)->n_vocab, C = s2_model_hparams(m)->n_ctx_train, G = 4;
    int32_t *ids = malloc((size_t)G * (size_t)(C + 1) * sizeof(int32_t)), len[4], start[4], next[4];
    s2_seq seqs[4], rows[4];
    bool live[4];
    if (ids == NULL) st = s2_error_set(err, S2_E_NOMEM, "eval: no memory");
    for (int32_t g0 = 0; st == S2_OK && g0 < n; g0 += G) {
        int32_t ng = n - g0 < G ? n - g0 : G;
        for (int32_t j = 0; j < ng; j++) {
            int32_t *row = ids + (int64_t)j * (C + 1), k = 0, bos = s2_vocab_bos(v);
            if (bos >= 0) row[k++] = bos;
            const char *pr = prompts[g0 + j];
            int32_t got = s2_tokenize(v, pr, strlen(pr), false, false, row + k, C - k);
            live[j] = false;
            seqs[j] = -1;
            if (got < 0 || k + got >= C) continue; /* no room to answer: counts as wrong */
            len[j] = start[j] = k + got;
            if (st == S2_OK) st = s2_seq_new(ctx, &seqs[j], err);
            if (st == S2_OK) st = s2_seq_prefill(ctx, seqs[j], row, len[j], NULL, err);
            if (st != S2_OK) break;
            const float *lg = s2_ctx_logits(ctx, 0);
            int32_t best = 0;
            for (int32_t t = 1; t < V; t++)
                if (lg[t] > lg[best]) best = t;
            next[j] = best;
            live[j] = true;
        }
        for (int32_t step = 0; st == S2_OK && step < max_new; step++) {
            int32_t nr = 0, toks[4], who[4];
            for (int32_t j = 0; j < ng; j++) {
                if (!live[j]) continue;
                if (s2_vocab_is_eog(v, next[j]) || len[j] >= C) {
                    live[j] = false;
                    continue;
                }
                ids[(int64_t)j * (C + 1) + len[j]++] = next[j];
                if (len[j] >= C || step + 1 == max_new) {
                    live[j] = false;
                    continue;
                }
                rows[nr] = seqs[j];
                toks[nr] = next[j];
                who[nr++] = j;
            }
            if (nr == 0) break;
            st = s2_ctx_decode(ctx, rows, toks, NULL, nr, err);
            for (int32_t r = 0; st == S2_OK && r < nr; r++) {
                const float *lg = s2_ctx_logits(ctx, r);
                int32_t best = 0;
                for (int32_t t = 1; t < V; t++)
                    if (lg[t] > lg[best]) best = t;
                next[who[r]] = best;
            }
        }
        for (int32_t j = 0; j < ng; j++) {
            if (seqs[j] >= 0) s2_seq_free(ctx, seqs[j]);
            if (st != S2_OK) continue;
            const int32_t *gen = ids + (int64_t)j * (C + 1) + (seqs[j] >= 0 ? start[j] : 0);
            int32_t ngen = seqs[j] >= 0 ? len[j] - start[j] : 0, cap = 8 * ngen + 16, got = -1;
            while (st == S2_OK && got < 0) {
                free(outs[g0 + j]);
                outs[g0 + j] = malloc((size_t)cap + 1);
                if (outs[g0 + j] == NULL) st = s2_error_set(err, S2_E_NOMEM, "eval: no memory");
                else if ((got = s2_detokenize(v, gen, ngen, false, outs[g0 + j], cap)) < 0) cap = -got;
            }
        }
    }
    free(ids);
    s2_ctx_free(ctx);
    s2_model_free(m);
    return st;
}

/* Policy: greedy completion of each evaluation item's prompt, verified by the task. */
static s2_status eval_policy(const char *path, const s2_task *t, int32_t n_items, eval_result *r,
                             s2_error *err) {
    int32_t total = s2_task_n_items(t), n = n_items < total ? n_items : total;
    r->n = r->correct = 0;
    char **prompts = calloc((size_t)n + 1, sizeof(char *)), **outs = calloc((size_t)n + 1, sizeof(char *));
    int32_t *idx = calloc((size_t)n + 1, sizeof(int32_t));
    s2_status st = (prompts && outs && idx) ? S2_OK : s2_error_set(err, S2_E_NOMEM, "eval: no memory");
    for (int32_t k = 0; st == S2_OK && k < n; k++) {
        idx[k] = (int32_t)((int64_t)k * total / n); /* spread over the split */
        prompts[k] = s2_task_prompt(t, idx[k]);
        if (prompts[k] == NULL) st = s2_error_set(err, S2_E_NOMEM, "eval: no prompt for item %d", idx[k]);
    }
    if (st == S2_OK) st = greedy_engine(path, (const char *const *)prompts, n, 1 << 20, outs, err);
    for (int32_t k = 0; st == S2_OK && k < n; k++) {
        s2_verdict vd = {0};
        st = s2_task_verify(t, idx[k], outs[k], &vd, err);
        if (st == S2_OK && vd.correct) r->correct++;
        s2_verdict_clear(&vd);
        r->n++;
    }
    for (int32_t k = 0; k < n; k++) {
        if (prompts) free(prompts[k]);
        if (outs) free(outs[k]);
    }
    free(prompts);
    free(outs);
    free(idx);
    return st;
}

/* Value: partial states of evaluation items (the empty state, the reference's first step, the first one or two
 * steps of wrong answers), labelled by the task's oracle and balanced between the labels; the greedy
 * completion must be the label. */
static s2_status eval_value(const char *path, const s2_task *t, int32_t n_want, eval_result *r,
                            s2_error *err) {
    r->n = r->correct = 0;
    if (t->iface->value_prompt == NULL || t->iface->oracle == NULL)
        return s2_error_set(err, S2_E_UNSUPPORTED, "eval: task %s has no value prompt or oracle", t->iface->name);
    int32_t total = s2_task_n_items(t), cap = n_want > 0 ? n_want : 1, n = 0, n_sure = 0, n_imp = 0;
    char **prompts = calloc((size_t)cap, sizeof(char *)), **outs = calloc((size_t)cap, sizeof(char *));
    bool *label = calloc((size_t)cap, sizeof(bool));
    s2_status st = (prompts && outs && label) ? S2_OK : s2_error_set(err, S2_E_NOMEM, "eval: no memory");
    const char *delim = t->iface->step_delim;
    for (int32_t i = 0; st == S2_OK && i < total && n < n_want; i++) {
        char *texts[6] = {0};
        int32_t nt = 0;
        texts[nt++] = strdup("");
        char *ref = t->iface->reference ? t->iface->reference(t, i) : NULL;
        if (ref != NULL) texts[nt++] = first_steps(ref, delim, 1);
        char *wrong[2] = {0};
        int32_t nw = t->iface->wrong_answers ? t->iface->wrong_answers(t, i, wrong, 2) : 0;
        for (int32_t w = 0; w < nw; w++) {
            texts[nt++] = first_steps(wrong[w], delim, 1);
            if (w == 0) texts[nt++] = first_steps(wrong[w], delim, 2);
        }
        for (int32_t k = 0; k < nt && n < n_want; k++) {
            if (texts[k] == NULL) continue;
            s2_oracle o = s2_task_oracle(t, i, texts[k]);
            if (o == S2_ORACLE_UNKNOWN) continue;
            bool sure = o == S2_ORACLE_SOLVABLE;
            if ((sure ? n_sure : n_imp) >= (n_want + 1) / 2) continue; /* keep the labels balanced */
            prompts[n] = t->iface->value_prompt(t, i, texts[k]);
            if (prompts[n] == NULL) continue;
            label[n++] = sure;
            if (sure) n_sure++;
            else n_imp++;
        }
        for (int32_t k = 0; k < nt; k++) free(texts[k]);
        for (int32_t w = 0; w < nw; w++) free(wrong[w]);
        free(ref);
    }
    if (st == S2_OK) st = greedy_engine(path, (const char *const *)prompts, n, 16, outs, err);
    for (int32_t k = 0; st == S2_OK && k < n; k++) {
        trim_right(outs[k]);
        if (strcmp(outs[k], label[k] ? S2_VALUE_SURE : S2_VALUE_IMPOSSIBLE) == 0) r->correct++;
        r->n++;
    }
    for (int32_t k = 0; k < cap; k++) {
        if (prompts) free(prompts[k]);
        if (outs) free(outs[k]);
    }
    free(prompts);
    free(outs);
    free(label);
    return st;
}

/* ---- the command ---- */

/* A JSON number, or null for NaN and infinities (which JSON cannot hold). */
static json_t *jnum(double x) { return isfinite(x) ? json_real(x) : json_null(); }


typedef struct train_opts {
    const char *task, *role, *out, *log, *name, *split, *init, *examples;
    int64_t dim, layers, heads, kv_heads, ff, ctx, steps, batch, warmup, seed, eval_every, heldout, eval_items,
        threads, stop_at, difficulty;
    double lr, wd, clip, min_lr_frac;
    bool resume, untied;
} train_opts;

static void fmt_eta(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 1e7) snprintf(buf, cap, "?");
    else if (s >= 3600) snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, cap, "%.0fs", s);
}

static int parse_opts(int argc, char **argv, train_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        bool bad = false;
        struct { const char *name; int64_t *dst; int64_t lo; } ints[] = {
            {"--dim", &o->dim, 2},         {"--layers", &o->layers, 1},   {"--heads", &o->heads, 1},
            {"--kv-heads", &o->kv_heads, 1}, {"--ff", &o->ff, 1},         {"--ctx", &o->ctx, 2},
            {"--steps", &o->steps, 1},     {"--batch", &o->batch, 1},     {"--warmup", &o->warmup, 0},
            {"--seed", &o->seed, 0},       {"--eval-every", &o->eval_every, 0}, {"--heldout", &o->heldout, 0},
            {"--eval-items", &o->eval_items, 0}, {"--threads", &o->threads, 1}, {"--stop-at", &o->stop_at, 1},
            {"--difficulty", &o->difficulty, 0},
        };
        struct { const char *name; double *dst; double lo; } dbls[] = {
            {"--lr", &o->lr, 0}, {"--wd", &o->wd, 0}, {"--clip", &o->clip, 0}, {"--min-lr-frac", &o->min_lr_frac, 0},
        };
        struct { const char *name; const char **dst; } strs[] = {
            {"--task", &o->task}, {"--role", &o->role}, {"--out", &o->out}, {"--log", &o->log}, {"--name", &o->name},
            {"--split", &o->split}, {"--init", &o->init}, {"--examples", &o->examples},
        };
        bool done = false;
        if (strcmp(a, "--resume") == 0) o->resume = done = true;
        else if (strcmp(a, "--untied") == 0) o->untied = done = true;
        for (size_t k = 0; !done && k < sizeof ints / sizeof ints[0]; k++)
            if (cli_flag(argc, argv, &i, ints[k].name, NULL, &v, &bad)) {
                done = true;
                if (bad) return 2;
                if (!cli_parse_i64(v, ints[k].dst) || *ints[k].dst < ints[k].lo)
                    return cli_usage("train", "%s wants an integer >= %lld, got '%s'", ints[k].name,
                                     (long long)ints[k].lo, v);
            }
        for (size_t k = 0; !done && k < sizeof dbls / sizeof dbls[0]; k++)
            if (cli_flag(argc, argv, &i, dbls[k].name, NULL, &v, &bad)) {
                done = true;
                if (bad) return 2;
                if (!cli_parse_f64(v, dbls[k].dst) || !(*dbls[k].dst >= dbls[k].lo) || !isfinite(*dbls[k].dst))
                    return cli_usage("train", "%s wants a number >= %g, got '%s'", dbls[k].name, dbls[k].lo, v);
            }
        for (size_t k = 0; !done && k < sizeof strs / sizeof strs[0]; k++)
            if (cli_flag(argc, argv, &i, strs[k].name, NULL, &v, &bad)) {
                done = true;
                if (bad) return 2;
                *strs[k].dst = v;
            }
        if (!done) return cli_usage("train", "unknown argument '%s'", a);
    }
    if (o->task == NULL) return cli_usage("train", "--task is required");
    if (o->out == NULL) return cli_usage("train", "--out is required");
    if (o->steps <= 0) return cli_usage("train", "--steps is required");
    if (o->role == NULL || (strcmp(o->role, "policy") != 0 && strcmp(o->role, "value") != 0))
        return cli_usage("train", "--role wants policy or value");
    if (!(o->lr > 0)) return cli_usage("train", "--lr must be > 0");
    if (o->examples != NULL && strcmp(o->examples, "solutions") != 0 && strcmp(o->examples, "legal") != 0)
        return cli_usage("train", "--examples wants solutions or legal, got '%s'", o->examples);
    if (o->examples != NULL && strcmp(o->examples, "legal") == 0 && strcmp(o->role, "policy") != 0)
        return cli_usage("train", "--examples legal is for --role policy");
    return 0;
}

int cmd_train(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i])) {
            fputs(train_help, stdout);
            return 0;
        }
    train_opts o = {.dim = 128, .layers = 4, .heads = 4, .kv_heads = -1, .ff = 384, .ctx = 256, .batch = 16,
                    .warmup = -1, .seed = 1, .heldout = 64, .eval_items = 32, .lr = 1e-3, .wd = 0.1, .clip = 1.0,
                    .min_lr_frac = 0.1};
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0) return rc;
    if (o.kv_heads < 0) o.kv_heads = o.heads;
    if (o.warmup < 0) o.warmup = o.steps / 10 < 100 ? o.steps / 10 : 100;
    s2_role role = strcmp(o.role, "value") == 0 ? S2_ROLE_VALUE : S2_ROLE_POLICY;
    if (o.examples != NULL && strcmp(o.examples, "legal") == 0) role = S2_ROLE_LEGAL;

    s2_error err = {0};
    s2_task *task = NULL;
    s2_task_params tp = s2_task_default_params();
    tp.n_shot = 0; /* the trained models see bare prompts, as gen_example writes them */
    tp.split = o.split;
    tp.difficulty = (int32_t)o.difficulty;
    s2_status st = s2_task_create(o.task, &tp, &task, &err);
    if (st != S2_OK) return cli_fail("train", &err);
    if (task->iface->gen_example == NULL) {
        fprintf(stderr, "sys2 train: error: task %s has no generated training examples\n", o.task);
        s2_task_free(task);
        return 1;
    }

    char name[256];
    snprintf(name, sizeof name, "sys2-%s-%s", o.task, o.role);
    s2_train_params p = s2_train_default_params();
    p.model.n_embd = (int32_t)o.dim;
    p.model.n_layer = (int32_t)o.layers;
    p.model.n_head = (int32_t)o.heads;
    p.model.n_head_kv = (int32_t)o.kv_heads;
    p.model.n_ff = (int32_t)o.ff;
    p.model.n_ctx = (int32_t)o.ctx;
    p.model.tied_output = !o.untied;
    p.opt.lr = (float)o.lr;
    p.opt.warmup = o.warmup;
    p.opt.steps = o.steps;
    p.opt.weight_decay = (float)o.wd;
    p.opt.clip = (float)o.clip;
    p.opt.min_lr_frac = (float)o.min_lr_frac;
    p.batch = (int32_t)o.batch;
    p.seed = (uint64_t)o.seed;
    p.n_heldout = (int32_t)o.heldout;
    p.n_threads = (int32_t)o.threads;
    p.out = o.out;
    p.name = o.name != NULL ? o.name : name;
    p.resume = o.resume;
    p.init = o.init;
    task_data td = {.task = task, .role = role};
    s2_train_data data = {.example = task_example, .user = &td};
    s2_trainer *tr = NULL;
    st = s2_trainer_init(&p, &data, &tr, &err);
    if (st != S2_OK) {
        s2_task_free(task);
        return cli_fail("train", &err);
    }
    s2_tmodel *m = s2_trainer_model(tr);
    const bool tty = isatty(fileno(stderr));
    int64_t start_step = s2_trainer_steps_done(tr);

    json_t *log = json_object(), *evals = json_array();
    json_object_set_new(log, "command", json_string("train"));
    json_object_set_new(log, "config", json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:f, "
                                                 "s:I, s:f, s:f, s:f, s:I, s:s, s:I, s:I, s:b, s:I, s:s, s:I}",
                                                 "task", o.task, "role", o.role, "dim", (json_int_t)o.dim, "layers",
                                                 (json_int_t)o.layers, "heads", (json_int_t)o.heads, "kv_heads",
                                                 (json_int_t)o.kv_heads, "ff", (json_int_t)o.ff, "ctx",
                                                 (json_int_t)o.ctx, "vocab", (json_int_t)m->cfg.n_vocab, "tied",
                                                 !o.untied, "steps", (json_int_t)o.steps, "batch",
                                                 (json_int_t)o.batch, "lr", o.lr, "warmup", (json_int_t)o.warmup,
                                                 "wd", o.wd, "clip", o.clip, "min_lr_frac", o.min_lr_frac, "seed",
                                                 (json_int_t)o.seed, "out", o.out, "heldout", (json_int_t)o.heldout,
                                                 "eval_items", (json_int_t)o.eval_items, "resume", o.resume,
                                                 "threads", (json_int_t)o.threads, "openblas_core",
                                                 openblas_get_corename(), "params", (json_int_t)m->n_params));
    json_object_set_new(json_object_get(log, "config"), "examples", json_string(o.examples ? o.examples : "solutions"));
    json_object_set_new(log, "matmul_params", json_integer(s2_tmodel_matmul_params(m)));
    if (o.init != NULL) json_object_set_new(json_object_get(log, "config"), "init", json_string(o.init));
    if (o.difficulty != 0)
        json_object_set_new(json_object_get(log, "config"), "difficulty", json_integer((json_int_t)o.difficulty));
    json_object_set_new(log, "resumed_at_step", json_integer(start_step));
    json_object_set_new(log, "evals", evals);
    fprintf(stderr, "train: %s %s, %lld parameters (dim %lld, %lld layers, %lld/%lld heads, ff %lld, ctx %lld, "
                "vocab %d), steps %lld..%lld, batch %lld, lr %g, OpenBLAS %s\n", o.task, o.role,
                (long long)m->n_params, (long long)o.dim, (long long)o.layers, (long long)o.heads,
                (long long)o.kv_heads, (long long)o.ff, (long long)o.ctx, m->cfg.n_vocab, (long long)start_step,
                (long long)o.steps, (long long)o.batch, o.lr, openblas_get_corename());

    double t_start = now_s(), train_s = 0, train_cpu_s = 0, flops = 0, heldout = NAN, last_loss = NAN, acc = NAN;
    int64_t tokens = 0, real_tokens = 0, loss_tokens = 0, skipped = 0;
    int exit_code = 0;
    int64_t end_step = o.stop_at > 0 && o.stop_at < o.steps ? o.stop_at : o.steps;
    if (start_step >= end_step) {
        fprintf(stderr, "sys2 train: nothing to do: %s is at step %lld of %lld\n", o.out, (long long)start_step,
                (long long)end_step);
        json_decref(log);
        s2_trainer_free(tr);
        s2_task_free(task);
        return 0;
    }
    for (int64_t step = start_step; step < end_step; step++) {
        s2_train_step_stats ss;
        double t0 = now_s(), c0 = cpu_s();
        st = s2_trainer_step(tr, &ss, &err);
        train_s += now_s() - t0;
        train_cpu_s += cpu_s() - c0;
        if (st != S2_OK) break;
        tokens += ss.tokens;
        real_tokens += ss.real_tokens;
        loss_tokens += ss.loss_tokens;
        flops += ss.flops;
        skipped += ss.skipped;
        last_loss = ss.loss;
        bool last = step + 1 == o.steps || step + 1 == o.stop_at;
        bool do_eval = last || (o.eval_every > 0 && (step + 1) % o.eval_every == 0);
        double tps = tokens / (train_s > 0 ? train_s : 1e-9), gfs = flops / (train_s > 0 ? train_s : 1e-9) * 1e-9;
        char eta[32];
        fmt_eta(eta, sizeof eta, train_s / (double)(step + 1 - start_step) * (double)(end_step - step - 1));
        if (tty)
            fprintf(stderr, "\rstep %lld/%lld  loss %.4f  held-out %.4f  %.0f tok/s  %.1f GFLOP/s  ETA %s   ",
                    (long long)(step + 1), (long long)o.steps, ss.loss, heldout, tps, gfs, eta);
        if (!do_eval) continue;
        st = s2_trainer_heldout_loss(tr, &heldout, &err);
        if (st == S2_OK) st = s2_trainer_save(tr, &err);
        eval_result er = {0};
        if (st == S2_OK && o.eval_items > 0) /* greedy with the engine on the checkpoint just written */
            st = role != S2_ROLE_VALUE ? eval_policy(o.out, task, (int32_t)o.eval_items, &er, &err)
                                        : eval_value(o.out, task, (int32_t)o.eval_items, &er, &err);
        if (st != S2_OK) break;
        acc = er.n > 0 ? (double)er.correct / er.n : NAN;
        json_t *e = json_object();
        json_object_set_new(e, "step", json_integer(step + 1));
        json_object_set_new(e, "loss", jnum(ss.loss));
        json_object_set_new(e, "heldout_loss", jnum(heldout));
        json_object_set_new(e, "lr", jnum(ss.lr));
        json_object_set_new(e, "grad_norm", jnum(ss.grad_norm));
        json_object_set_new(e, "tokens_per_s", jnum(tps));
        json_object_set_new(e, "gflops", jnum(gfs));
        json_object_set_new(e, "accuracy", jnum(acc));
        json_object_set_new(e, "eval_n", json_integer(er.n));
        json_object_set_new(e, "eval_correct", json_integer(er.correct));
        json_object_set_new(e, "wall_s", json_real(now_s() - t_start));
        json_array_append_new(evals, e);
        fprintf(stderr, "%sstep %lld/%lld  loss %.4f  held-out %.4f  acc %d/%d  %.0f tok/s  %.1f GFLOP/s  ETA %s%s\n",
                tty ? "\r" : "", (long long)(step + 1), (long long)o.steps, ss.loss, heldout, er.correct, er.n, tps,
                gfs, eta, tty ? "   " : "");
    }
    double wall = now_s() - t_start;
    if (st != S2_OK) {
        if (tty) fputc('\n', stderr);
        fprintf(stderr, "sys2 train: error: %s\nsys2 train: the last good checkpoint (if any) is %s, left as it was\n",
                err.msg, o.out);
        json_object_set_new(log, "error", json_string(err.msg));
        exit_code = 1;
    }
    double tps = tokens / (train_s > 0 ? train_s : 1e-9), gfs = flops / (train_s > 0 ? train_s : 1e-9) * 1e-9;
    json_t *fin = json_object();
    json_object_set_new(fin, "steps", json_integer(s2_trainer_steps_done(tr)));
    json_object_set_new(fin, "loss", jnum(last_loss));
    json_object_set_new(fin, "heldout_loss", jnum(heldout));
    json_object_set_new(fin, "accuracy", jnum(acc));
    json_object_set_new(fin, "tokens_per_s", jnum(tps));
    json_object_set_new(fin, "gflops", jnum(gfs));
    json_object_set_new(fin, "tokens", json_integer(tokens));
    json_object_set_new(fin, "real_tokens", json_integer(real_tokens)); /* tokens minus padding */
    json_object_set_new(fin, "loss_tokens", json_integer(loss_tokens));
    json_object_set_new(fin, "redrawn_examples", json_integer(skipped));
    json_object_set_new(fin, "train_s", jnum(train_s));
    json_object_set_new(fin, "train_cpu_s", jnum(train_cpu_s));
    json_object_set_new(fin, "gflops_per_cpu_s", jnum(flops / (train_cpu_s > 0 ? train_cpu_s : 1e-9) * 1e-9));
    json_object_set_new(fin, "wall_s", jnum(wall));
    json_object_set_new(log, "final", fin);
    if (o.log != NULL && json_dump_file(log, o.log, JSON_INDENT(1)) != 0) {
        fprintf(stderr, "sys2 train: error: cannot write %s\n", o.log);
        exit_code = 1;
    }
    if (st == S2_OK)
        fprintf(stderr, "done: %lld steps in %.1f s (%.1f s training), loss %.4f, held-out loss %.4f, accuracy %s%.3f, "
                "%.0f tokens/s (%.0f%% of them padding), %.1f GFLOP/s; wrote %s (+ .opt)\n",
                (long long)s2_trainer_steps_done(tr), wall, train_s, last_loss, heldout, isnan(acc) ? "n/a " : "",
                isnan(acc) ? 0.0 : acc, tps, tokens > 0 ? 100.0 * (double)(tokens - real_tokens) / (double)tokens : 0.0,
                gfs, o.out);
    json_decref(log);
    s2_trainer_free(tr);
    s2_task_free(task);
    return exit_code;
}
