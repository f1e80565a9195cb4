/* cmd_evalmodel.c: measuring trained models on held-out items.
 *
 * `eval-value`: held-out states (items of a held-out split only, each reached by 0..3 random valid steps),
 * labelled by the task's exact oracle; the value model's P(sure) comes from the log-probs of the two labels after
 * task->value_prompt(state), exactly as the search's value scorer reads it (s2_value_p_sure), and P(sure) > 0.5
 * means "solvable". Prints the accuracy on solvable and on unsolvable states and their mean (balanced accuracy).
 *
 * `eval-policy`: one greedy attempt per held-out item, generated step by step (each step stops at the task's step
 * delimiter) until the task says the text is terminal; prints the fraction of steps that are valid and the
 * fraction of items solved (the task's verifier). For the number games (game24, countdown) a step is valid when
 * its arithmetic and its "left" list are right for the state it follows (numgame's step checker: a valid step
 * into a state that cannot reach the target is still valid); for the other tasks with an oracle, a step counts
 * as valid while the oracle does not call the text so far dead. Steps after the first invalid one are not
 * counted (they follow no state). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "numgame.h"
#include "scorer.h"
#include "task.h"

int cmd_eval_value(int argc, char **argv);
int cmd_eval_policy(int argc, char **argv);

#define EVAL_SEQS 16 /* sequences decoded together by eval-policy */

typedef struct eval_opts {
    cli_model_opts mo;
    const char *task, *split;
    int64_t n, seed, max_steps;
    bool json, split_given;
} eval_opts;

#define EVAL_HELP_COMMON \
    "  --task T          the task (required): game24, countdown, arith, listprog\n" \
    "  --split S         held-out split (default: game24 heldout, i.e. ToT ranks 901-1000 and the generated\n" \
    "                    multisets held out by hash; the other tasks their test split); game24 tot = ranks 901-1000\n" \
    "  --n N             how many (default 1000 states / 100 items)\n" \
    "  --seed S          seed of the random steps and of generated items (default 1)\n" \
    "  --json            one JSON object\n"

/* Parses the flags; returns -1 to go on, else the exit status (help printed or usage error). */
static int eval_parse(const char *cmd, const char *help, int argc, char **argv, eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->max_steps = 12;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            fputs(help, stdout);
            return 0;
        }
        int mf = cli_model_flag(&o->mo, argc, argv, &i);
        if (mf < 0) return 2;
        if (mf > 0) continue;
        if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
        } else if (cli_flag(argc, argv, &i, "--task", NULL, &v, &bad)) {
            o->task = v;
        } else if (cli_flag(argc, argv, &i, "--split", NULL, &v, &bad)) {
            o->split = v;
            o->split_given = true;
        } else if (cli_flag(argc, argv, &i, "--n", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &o->n) || o->n < 1 || o->n > 10000000))
                return cli_usage(cmd, "--n wants an integer in [1, 10000000], got '%s'", v);
        } else if (cli_flag(argc, argv, &i, "--seed", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &o->seed) || o->seed < 0))
                return cli_usage(cmd, "--seed wants an integer >= 0, got '%s'", v);
        } else if (cli_flag(argc, argv, &i, "--max-steps", NULL, &v, &bad)) {
            if (!bad && (!cli_parse_i64(v, &o->max_steps) || o->max_steps < 1 || o->max_steps > 1000))
                return cli_usage(cmd, "--max-steps wants an integer in [1, 1000], got '%s'", v);
        } else {
            return cli_usage(cmd, "unknown argument '%s'", argv[i]);
        }
        if (bad) return cli_usage(cmd, "%s wants a value", argv[i]);
    }
    if (o->task == NULL) return cli_usage(cmd, "--task is required");
    if (o->mo.model == NULL) return cli_usage(cmd, "-m MODEL is required");
    if (!o->split_given && strcmp(o->task, "game24") == 0) o->split = "heldout";
    return -1;
}

static s2_status eval_open(const eval_opts *o, s2_task **task, s2_lm **lm, s2_error *err) {
    s2_task_params tp = s2_task_default_params();
    tp.split = o->split;
    tp.seed = (uint64_t)o->seed;
    s2_status st = s2_task_create(o->task, &tp, task, err);
    if (st != S2_OK) return st;
    if (s2_task_n_items(*task) < 1) return s2_error_set(err, S2_E_ARG, "task %s has no items", o->task);
    s2_lm_open_params lp = s2_lm_open_default_params();
    lp.tokenizer = o->mo.tokenizer;
    lp.ctx.n_ctx = (int32_t)o->mo.n_ctx;
    lp.ctx.n_threads = (int32_t)(o->mo.n_threads > 0 ? o->mo.n_threads : 1);
    lp.ctx.kv_max_bytes = (int64_t)1 << 29; /* room for EVAL_SEQS sequences of a small model's context */
    lp.model_name = o->mo.model_name;
    return s2_lm_open(o->mo.model, &lp, lm, err);
}

/* ---- the number games: the start state and rules from the item's prompt ---- */

/* The state and rules of item i of a number game (game24, countdown), read from the last "Input:" line of its
 * prompt ("Input: 4 9 10 13", "Input: 3 7 25 44 Target: 50"). false for other tasks or an unreadable prompt. */
static bool numgame_item(const s2_task *t, int32_t i, s2_ng_rules *r, s2_ng_state *s) {
    bool g24 = strcmp(t->iface->name, "game24") == 0, cd = strcmp(t->iface->name, "countdown") == 0;
    if (!g24 && !cd) return false;
    char *prompt = s2_task_prompt(t, i);
    if (prompt == NULL) return false;
    const char *line = NULL;
    for (const char *p = prompt; (p = strstr(p, "Input:")) != NULL; p += 6) line = p;
    bool ok = line != NULL;
    int64_t v[S2_NG_MAX];
    int n = 0;
    long long target = 24;
    const char *p = ok ? line + 6 : "";
    while (ok && *p != '\0' && *p != '\n') {
        while (*p == ' ') p++;
        if (*p == '\n' || *p == '\0') break;
        if (strncmp(p, "Target:", 7) == 0) {
            char *e;
            target = strtoll(p + 7, &e, 10);
            ok = e != p + 7;
            break;
        }
        char *e;
        long long x = strtoll(p, &e, 10);
        if (e == p || n == S2_NG_MAX) ok = false;
        else v[n++] = x;
        p = e;
    }
    free(prompt);
    if (!ok || n < 1) return false;
    s2_ng_state_ints(s, v, n);
    r->target = s2_rat_int(target);
    r->pos_int = cd;
    return true;
}

/* ---- eval-value ---- */

static const char *value_help =
    "usage: sys2 eval-value --task T -m VALUE.gguf [--split S] [--n N] [--seed S] [--json]\n"
    "Balanced accuracy of a value model on held-out states: items of the held-out split only, each reached by\n"
    "0..3 random valid steps (uniform depth), labelled solvable or not by the task's exact oracle. The model's\n"
    "P(sure) is read from the log-probs of \"" S2_VALUE_SURE "\" and \"" S2_VALUE_IMPOSSIBLE "\" after the task's value\n"
    "prompt (as the value scorer reads it); P(sure) > 0.5 counts as \"solvable\". Number games only (game24,\n"
    "countdown): their random valid steps come from numgame's generator.\n\n" EVAL_HELP_COMMON CLI_MODEL_HELP;

int cmd_eval_value(int argc, char **argv) {
    const char *cmd = "eval-value";
    eval_opts o;
    int rc = eval_parse(cmd, value_help, argc, argv, &o);
    if (rc >= 0) return rc;
    if (o.n == 0) o.n = 1000;
    s2_error err = {0};
    s2_task *task = NULL;
    s2_lm *lm = NULL;
    s2_status st = eval_open(&o, &task, &lm, &err);
    if (st == S2_OK && (task->iface->oracle == NULL || task->iface->value_prompt == NULL))
        st = s2_error_set(&err, S2_E_UNSUPPORTED, "task %s has no oracle or no value prompt", o.task);
    int64_t n_pos = 0, n_neg = 0, ok_pos = 0, ok_neg = 0, by_depth[4][2] = {{0}}, ok_depth[4][2] = {{0}};
    double brier = 0;
    uint64_t rng = (uint64_t)o.seed * 0x9e3779b97f4a7c15ull + 0x1234567ull;
    int32_t n_items = st == S2_OK ? s2_task_n_items(task) : 0;
    for (int64_t k = 0; st == S2_OK && k < o.n; k++) {
        int32_t i = (int32_t)(s2_task_rng_below(&rng, (uint64_t)n_items));
        int depth = (int)s2_task_rng_below(&rng, 4);
        s2_ng_rules r;
        s2_ng_state s;
        if (!numgame_item(task, i, &r, &s)) {
            st = s2_error_set(&err, S2_E_UNSUPPORTED, "eval-value: task %s: only the number games (game24, "
                              "countdown) have random valid steps; cannot read item %d's numbers", o.task, i);
            break;
        }
        s2_ng_path path;
        s2_ng_random_steps(&r, &s, depth, &rng, &path);
        s2_buf b = {0};
        s2_ng_write_path(&b, &r, &s, &path, false, NULL);
        char *text = s2_buf_take(&b);
        if (text == NULL) {
            st = s2_error_set(&err, S2_E_NOMEM, "eval-value: out of memory");
            break;
        }
        s2_oracle orc = s2_task_oracle(task, i, text);
        double p = 0;
        if (orc != S2_ORACLE_UNKNOWN) st = s2_value_p_sure(lm, task, i, text, &p, &err);
        free(text);
        if (st != S2_OK || orc == S2_ORACLE_UNKNOWN) continue;
        bool sure = orc == S2_ORACLE_SOLVABLE, said = p > 0.5;
        int d = path.n < 4 ? path.n : 3;
        by_depth[d][sure]++;
        if (said == sure) ok_depth[d][sure]++;
        if (sure) {
            n_pos++;
            ok_pos += said;
        } else {
            n_neg++;
            ok_neg += !said;
        }
        brier += (p - (sure ? 1 : 0)) * (p - (sure ? 1 : 0));
    }
    if (st != S2_OK) {
        s2_lm_free(lm);
        s2_task_free(task);
        return cli_fail(cmd, &err);
    }
    double acc_pos = n_pos ? (double)ok_pos / n_pos : NAN, acc_neg = n_neg ? (double)ok_neg / n_neg : NAN;
    double bal = (acc_pos + acc_neg) / 2, acc = (double)(ok_pos + ok_neg) / (double)(n_pos + n_neg);
    double br = brier / (double)(n_pos + n_neg > 0 ? n_pos + n_neg : 1);
    if (o.json) {
        json_t *j = json_object();
        json_object_set_new(j, "task", json_string(o.task));
        json_object_set_new(j, "split", o.split ? json_string(o.split) : json_null());
        json_object_set_new(j, "model", json_string(o.mo.model));
        json_object_set_new(j, "n", json_integer(n_pos + n_neg));
        json_object_set_new(j, "n_solvable", json_integer(n_pos));
        json_object_set_new(j, "n_unsolvable", json_integer(n_neg));
        json_object_set_new(j, "acc_solvable", isfinite(acc_pos) ? json_real(acc_pos) : json_null());
        json_object_set_new(j, "acc_unsolvable", isfinite(acc_neg) ? json_real(acc_neg) : json_null());
        json_object_set_new(j, "balanced_accuracy", isfinite(bal) ? json_real(bal) : json_null());
        json_object_set_new(j, "accuracy", json_real(acc));
        json_object_set_new(j, "brier", json_real(br));
        json_t *dj = json_array();
        for (int d = 0; d < 4; d++)
            json_array_append_new(dj, json_pack("{s:i, s:I, s:I, s:I, s:I}", "steps", d, "n_solvable",
                                                (json_int_t)by_depth[d][1], "ok_solvable", (json_int_t)ok_depth[d][1],
                                                "n_unsolvable", (json_int_t)by_depth[d][0], "ok_unsolvable",
                                                (json_int_t)ok_depth[d][0]));
        json_object_set_new(j, "by_depth", dj);
        char *s = json_dumps(j, JSON_COMPACT);
        if (s) puts(s);
        free(s);
        json_decref(j);
    } else {
        printf("%s on %s (split %s): %lld states\n", o.mo.model, o.task, o.split ? o.split : "default",
               (long long)(n_pos + n_neg));
        char pa[32] = "n/a", na[32] = "n/a", ba[64] = "n/a (needs states of both kinds: a larger --n)";
        if (isfinite(acc_pos)) snprintf(pa, sizeof pa, "%.1f%%", 100 * acc_pos);
        if (isfinite(acc_neg)) snprintf(na, sizeof na, "%.1f%%", 100 * acc_neg);
        if (isfinite(bal)) snprintf(ba, sizeof ba, "%.1f%%", 100 * bal);
        printf("  solvable:    %lld/%lld correct (%s)\n", (long long)ok_pos, (long long)n_pos, pa);
        printf("  unsolvable:  %lld/%lld correct (%s)\n", (long long)ok_neg, (long long)n_neg, na);
        printf("  balanced accuracy %s, accuracy %.1f%%, Brier score %.4f\n", ba, 100 * acc, br);
        for (int d = 0; d < 4; d++)
            printf("  after %d steps: solvable %lld/%lld, unsolvable %lld/%lld\n", d, (long long)ok_depth[d][1],
                   (long long)by_depth[d][1], (long long)ok_depth[d][0], (long long)by_depth[d][0]);
    }
    s2_lm_free(lm);
    s2_task_free(task);
    return 0;
}

/* ---- eval-policy ---- */

static const char *policy_help =
    "usage: sys2 eval-policy --task T -m POLICY.gguf [--split S] [--n N] [--max-steps K] [--json]\n"
    "One greedy attempt (temperature 0) per held-out item, step by step (each step stops at the task's delimiter)\n"
    "until the text is terminal or K steps (default 12). Prints the fraction of valid steps and of items solved.\n"
    "Number games: a step is valid when its arithmetic and its \"left\" list are right for the state it follows\n"
    "(whether or not the target can still be reached); other tasks: while the task's oracle does not call the\n"
    "text so far dead (no oracle: steps are not judged). Steps after the first invalid one are not counted.\n\n"
    EVAL_HELP_COMMON "  --max-steps K     most steps per attempt (default 12)\n" CLI_MODEL_HELP;

#define EVAL_BY_STEP 8 /* valid-step counts by step index, the last bucket for all later steps */

/* Judges the steps of text for item i: *n_steps counted (up to and including the first invalid one), *n_valid;
 * by_step[k][0] / [1] count the steps judged / valid at index k (0-based). */
static void judge_steps(const s2_task *t, int32_t i, const char *text, int64_t *n_steps, int64_t *n_valid,
                        int64_t by_step[EVAL_BY_STEP][2]) {
    s2_ng_rules r;
    s2_ng_state s;
    bool ng = numgame_item(t, i, &r, &s);
    if (!ng && t->iface->oracle == NULL) return;
    size_t len = strlen(text);
    char *prefix = malloc(len + 1);
    if (prefix == NULL) return;
    const char *delim = t->iface->step_delim;
    size_t dl = strlen(delim);
    const char *p = text;
    while (*p != '\0') {
        const char *e = strstr(p, delim);
        const char *end = e != NULL ? e + dl : text + len;
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        bool blank = q == end, answer = strncmp(q, "Answer:", 7) == 0;
        size_t n = (size_t)(end - text);
        memcpy(prefix, text, n);
        prefix[n] = '\0';
        p = end;
        if (blank || (ng && answer)) continue; /* the answer line is judged by the verifier, not as a step */
        bool valid;
        if (ng) {
            s2_ng_parsed ps;
            s2_ng_parse(&r, &s, prefix, &ps);
            valid = !ps.bad;
        } else {
            valid = s2_task_oracle(t, i, prefix) != S2_ORACLE_DEAD;
        }
        int k = (int)(*n_steps < EVAL_BY_STEP - 1 ? *n_steps : EVAL_BY_STEP - 1);
        by_step[k][0]++;
        (*n_steps)++;
        if (!valid) break;
        by_step[k][1]++;
        (*n_valid)++;
    }
    free(prefix);
}

int cmd_eval_policy(int argc, char **argv) {
    const char *cmd = "eval-policy";
    eval_opts o;
    int rc = eval_parse(cmd, policy_help, argc, argv, &o);
    if (rc >= 0) return rc;
    if (o.n == 0) o.n = 100;
    s2_error err = {0};
    s2_task *task = NULL;
    s2_lm *lm = NULL;
    s2_status st = eval_open(&o, &task, &lm, &err);
    int32_t total = st == S2_OK ? s2_task_n_items(task) : 0, n = (int32_t)(o.n < total ? o.n : total);
    int64_t n_steps = 0, n_valid = 0, n_solved = 0, n_done = 0, n_all_valid = 0, by_step[EVAL_BY_STEP][2] = {{0}};
    json_t *items = json_array();
    const char *stops[1] = {st == S2_OK ? task->iface->step_delim : "\n"};
    for (int32_t g0 = 0; st == S2_OK && g0 < n; g0 += EVAL_SEQS) {
        int32_t ng = n - g0 < EVAL_SEQS ? n - g0 : EVAL_SEQS, idx[EVAL_SEQS];
        s2_lm_seq seqs[EVAL_SEQS];
        s2_buf text[EVAL_SEQS];
        bool live[EVAL_SEQS];
        memset(text, 0, sizeof text);
        for (int32_t j = 0; j < ng; j++) seqs[j] = -1;
        for (int32_t j = 0; st == S2_OK && j < ng; j++) {
            idx[j] = (int32_t)((int64_t)(g0 + j) * total / n); /* spread over the split */
            char *prompt = s2_task_prompt(task, idx[j]);
            if (prompt == NULL) st = s2_error_set(&err, S2_E_NOMEM, "eval-policy: no prompt for item %d", idx[j]);
            else st = s2_lm_seq_new(lm, prompt, &seqs[j], &err);
            free(prompt);
            live[j] = true;
            s2_buf_puts(&text[j], "");
        }
        for (int64_t step = 0; st == S2_OK && step < o.max_steps; step++) {
            s2_lm_seq run[EVAL_SEQS];
            int32_t who[EVAL_SEQS], nr = 0;
            for (int32_t j = 0; j < ng; j++)
                if (live[j]) {
                    who[nr] = j;
                    run[nr++] = seqs[j];
                }
            if (nr == 0) break;
            s2_lm_sample_params sp = s2_lm_sample_default_params();
            sp.sample.temperature = 0;
            sp.max_tokens = 160;
            sp.stops = stops;
            sp.n_stops = 1;
            sp.seed = (uint64_t)o.seed;
            s2_lm_gen gen[EVAL_SEQS];
            memset(gen, 0, sizeof gen);
            st = s2_lm_sample(lm, run, nr, &sp, gen, &err);
            for (int32_t r = 0; st == S2_OK && r < nr; r++) {
                int32_t j = who[r];
                s2_buf_puts(&text[j], gen[r].text ? gen[r].text : "");
                if (strcmp(gen[r].finish, "stop") != 0 || s2_task_is_terminal(task, idx[j], text[j].p))
                    live[j] = false;
            }
            for (int32_t r = 0; r < nr; r++) s2_lm_gen_free(&gen[r]);
        }
        for (int32_t j = 0; j < ng; j++) {
            if (seqs[j] >= 0) s2_lm_seq_free(lm, seqs[j]);
            if (st == S2_OK && text[j].oom) st = s2_error_set(&err, S2_E_NOMEM, "eval-policy: out of memory");
            if (st != S2_OK) {
                s2_buf_free(&text[j]);
                continue;
            }
            int64_t ns = 0, nv = 0;
            judge_steps(task, idx[j], text[j].p, &ns, &nv, by_step);
            s2_verdict vd = {0};
            st = s2_task_verify(task, idx[j], text[j].p, &vd, &err);
            n_steps += ns;
            n_valid += nv;
            n_all_valid += ns == nv;
            n_solved += vd.correct;
            n_done++;
            if (o.json)
                json_array_append_new(items, json_pack("{s:s, s:s, s:b, s:I, s:I, s:s}", "id",
                                                       s2_task_item_id(task, idx[j]), "text", text[j].p, "correct",
                                                       (int)vd.correct, "steps", (json_int_t)ns, "valid_steps",
                                                       (json_int_t)nv, "reason", vd.reason));
            s2_verdict_clear(&vd);
            s2_buf_free(&text[j]);
        }
    }
    s2_lm_free(lm);
    s2_task_free(task);
    if (st != S2_OK) {
        json_decref(items);
        return cli_fail(cmd, &err);
    }
    double valid = n_steps ? (double)n_valid / (double)n_steps : NAN, solved = n_done ? (double)n_solved / n_done : NAN;
    if (o.json) {
        json_t *j = json_object();
        json_object_set_new(j, "task", json_string(o.task));
        json_object_set_new(j, "split", o.split ? json_string(o.split) : json_null());
        json_object_set_new(j, "model", json_string(o.mo.model));
        json_object_set_new(j, "n", json_integer(n_done));
        json_object_set_new(j, "solved", json_integer(n_solved));
        json_object_set_new(j, "solve_rate", isfinite(solved) ? json_real(solved) : json_null());
        json_object_set_new(j, "steps", json_integer(n_steps));
        json_object_set_new(j, "valid_steps", json_integer(n_valid));
        json_object_set_new(j, "valid_step_rate", isfinite(valid) ? json_real(valid) : json_null());
        json_object_set_new(j, "items_all_steps_valid", json_integer(n_all_valid));
        json_t *bj = json_array();
        for (int k = 0; k < EVAL_BY_STEP && by_step[k][0] > 0; k++)
            json_array_append_new(bj, json_pack("{s:i, s:I, s:I}", "step", k + 1, "judged", (json_int_t)by_step[k][0],
                                                "valid", (json_int_t)by_step[k][1]));
        json_object_set_new(j, "by_step", bj);
        json_object_set_new(j, "items", items);
        char *s = json_dumps(j, JSON_COMPACT);
        if (s) puts(s);
        free(s);
        json_decref(j);
    } else {
        json_decref(items);
        printf("%s on %s (split %s): %lld items, greedy\n", o.mo.model, o.task, o.split ? o.split : "default",
               (long long)n_done);
        printf("  valid steps: %lld/%lld (%.1f%%); items with only valid steps: %lld\n", (long long)n_valid,
               (long long)n_steps, 100 * valid, (long long)n_all_valid);
        printf("  solved:      %lld/%lld (%.1f%%)\n", (long long)n_solved, (long long)n_done, 100 * solved);
        for (int k = 0; k < EVAL_BY_STEP && by_step[k][0] > 0; k++)
            printf("  step %d%s: %lld/%lld valid\n", k + 1, k == EVAL_BY_STEP - 1 ? "+" : "", (long long)by_step[k][1],
                   (long long)by_step[k][0]);
    }
    return 0;
}
