/* cmd_improve.c: `sys2 improve`: the expert-iteration loop of search/improve.h (search teaches the policy and
 * the value model, round after round), a thin wrapper: flags in, the round table out. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "commands.h"
#include "improve.h"

int cmd_improve(int argc, char **argv);

static const char *improve_help =
    "usage: sys2 improve --task T --policy P0.gguf [--value V0.gguf] --search S [--param K=V]... [--budget B]\n"
    "                    --rounds R --items N --dir DIR [options]\n"
    "Expert iteration: each round the search solves N fresh training items with the current models (tree kept),\n"
    "the verified solution paths fine-tune the policy and the states the trees visited, labelled by what search\n"
    "found below them (never the oracle), fine-tune the value model; then both are measured on held-out items.\n"
    "Every round is resumable: kill it anywhere and run the same command again. DIR/round-RR/round.json holds each\n"
    "round's numbers; the oracle only measures (its calls inside the loop are counted and must stay 0).\n"
    "\n"
    "loop:\n"
    "  --task T            a task with a verifier (game24, countdown)\n"
    "  --difficulty N      the task's difficulty (countdown: how many numbers)\n"
    "  --policy FILE       the round-0 policy (e.g. from `sys2 train --examples legal`)\n"
    "  --value FILE        the round-0 value model (default: none; one is trained from round 0's trees)\n"
    "  --search S          the strategy; --param K=V its, the scorer's and the env's parameters\n"
    "  --scorer NAME       with a value model (default value); --scorer0 NAME without one (default logprob)\n"
    "  --budget B          per item: tokens=N, flops=F, calls=K (default none)\n"
    "  --rounds R          rounds (a rerun with more rounds goes on)\n"
    "  --items N           fresh training items per round\n"
    "  --eval-items N      held-out items evaluated per round (default 100)\n"
    "  --train-split S     (default train); --eval-split S (default: the task's test split)\n"
    "  --paths KIND        policy data: all (every verified path, default), shortest (one per item), steps\n"
    "                      (every step of every verified path as its own example)\n"
    "  --replay F          fraction of examples drawn from earlier rounds (default 0.5)\n"
    "training (one thread):\n"
    "  --policy-steps N    (default 200); --value-steps N (default 200); --batch B (default 16)\n"
    "  --policy-lr X       (default 5e-4); --value-lr X (default 1e-3)\n"
    "  --value-dim N, --value-layers N, --value-heads N, --value-ff N   a value model from scratch (128, 4, 4, 384)\n"
    "  --checkpoint-every K  (default 50)\n"
    "run:\n"
    "  --seed S            (default 1); --threads N   search item threads (default 1)\n"
    "  --json              the rounds as JSON on stdout\n";

static void progress(void *user, const s2_improve_progress *p) {
    (void)user;
    fprintf(stderr, "\r\033[K[improve] round %d/%d  %s %d/%d", p->round + 1, p->rounds, p->phase, p->done, p->total);
    fflush(stderr);
}

static volatile int g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void pct(char *buf, size_t cap, double x) {
    if (isfinite(x)) snprintf(buf, cap, "%5.1f%%", 100 * x);
    else snprintf(buf, cap, "    - ");
}

int cmd_improve(int argc, char **argv) {
    s2_improve_config c = {.seed = 1, .version = S2_VERSION};
    const char *keys[64], *vals[64];
    char *store[64];
    int32_t np = 0;
    bool json = false;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v = NULL;
        bool bad = false;
        if (cli_is_help(a)) {
            fputs(improve_help, stdout);
            return 0;
        }
        struct { const char *name; const char **dst; } strs[] = {
            {"--task", &c.task}, {"--policy", &c.policy0}, {"--value", &c.value0}, {"--search", &c.search},
            {"--scorer", &c.scorer}, {"--scorer0", &c.scorer0}, {"--budget", &c.budget}, {"--dir", &c.dir},
            {"--train-split", &c.train_split}, {"--eval-split", &c.eval_split},
        };
        struct { const char *name; int32_t *dst; int64_t lo; } ints[] = {
            {"--rounds", &c.rounds, 1}, {"--items", &c.items, 1}, {"--eval-items", &c.eval_items, 1},
            {"--difficulty", &c.difficulty, 0}, {"--policy-steps", &c.policy_steps, 1},
            {"--value-steps", &c.value_steps, 1}, {"--batch", &c.batch, 1}, {"--value-dim", &c.value_dim, 1},
            {"--value-layers", &c.value_layers, 1}, {"--value-heads", &c.value_heads, 1},
            {"--value-ff", &c.value_ff, 1}, {"--checkpoint-every", &c.checkpoint_every, 1},
            {"--threads", &c.threads, 1},
        };
        struct { const char *name; double *dst; } dbls[] = {
            {"--replay", &c.replay}, {"--policy-lr", &c.policy_lr}, {"--value-lr", &c.value_lr},
        };
        bool done = false;
        if (strcmp(a, "--json") == 0) json = done = true;
        for (size_t k = 0; !done && k < sizeof strs / sizeof strs[0]; k++)
            if (cli_flag(argc, argv, &i, strs[k].name, NULL, &v, &bad)) {
                done = true;
                if (bad) rc = 2;
                else *strs[k].dst = v;
            }
        for (size_t k = 0; !done && k < sizeof ints / sizeof ints[0]; k++)
            if (cli_flag(argc, argv, &i, ints[k].name, NULL, &v, &bad)) {
                int64_t x;
                done = true;
                if (bad) rc = 2;
                else if (!cli_parse_i64(v, &x) || x < ints[k].lo || x > 1000000000)
                    rc = cli_usage("improve", "%s wants an integer >= %lld, got '%s'", ints[k].name,
                                   (long long)ints[k].lo, v);
                else *ints[k].dst = (int32_t)x;
            }
        for (size_t k = 0; !done && k < sizeof dbls / sizeof dbls[0]; k++)
            if (cli_flag(argc, argv, &i, dbls[k].name, NULL, &v, &bad)) {
                done = true;
                if (bad) rc = 2;
                else if (!cli_parse_f64(v, dbls[k].dst) || !(*dbls[k].dst >= 0) || !isfinite(*dbls[k].dst))
                    rc = cli_usage("improve", "%s wants a number >= 0, got '%s'", dbls[k].name, v);
            }
        if (!done && cli_flag(argc, argv, &i, "--seed", NULL, &v, &bad)) {
            int64_t x;
            done = true;
            if (bad) rc = 2;
            else if (!cli_parse_i64(v, &x) || x < 0) rc = cli_usage("improve", "--seed wants an integer >= 0");
            else c.seed = (uint64_t)x;
        }
        if (!done && cli_flag(argc, argv, &i, "--paths", NULL, &v, &bad)) {
            done = true;
            if (bad) rc = 2;
            else if (strcmp(v, "all") == 0) c.paths = S2_IMPROVE_PATHS_ALL;
            else if (strcmp(v, "shortest") == 0) c.paths = S2_IMPROVE_PATHS_SHORTEST;
            else if (strcmp(v, "steps") == 0) c.paths = S2_IMPROVE_PATHS_STEPS;
            else rc = cli_usage("improve", "--paths wants all, shortest or steps, got '%s'", v);
        }
        if (!done && cli_flag(argc, argv, &i, "--param", NULL, &v, &bad)) {
            done = true;
            const char *eq = bad ? NULL : strchr(v, '=');
            if (bad) rc = 2;
            else if (eq == NULL || eq == v) rc = cli_usage("improve", "--param wants KEY=VALUE, got '%s'", v);
            else if (np == 64) rc = cli_usage("improve", "too many --param (64 at most)");
            else {
                store[np] = strdup(v);
                if (store[np] == NULL) return cli_usage("improve", "out of memory");
                store[np][eq - v] = '\0';
                keys[np] = store[np];
                vals[np] = store[np] + (eq - v) + 1;
                np++;
            }
        }
        if (!done && rc == 0) rc = cli_usage("improve", "unknown argument '%s'", a);
    }
    if (rc == 0 && (c.task == NULL || c.policy0 == NULL || c.search == NULL || c.dir == NULL || c.rounds == 0 ||
                    c.items == 0))
        rc = cli_usage("improve", "--task, --policy, --search, --rounds, --items and --dir are required");
    if (rc != 0) {
        for (int32_t k = 0; k < np; k++) free(store[k]);
        return rc;
    }
    c.keys = keys;
    c.vals = vals;
    c.n_params = np;
    if (isatty(2)) c.progress = progress;
    c.stop = &g_stop;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    s2_improve_summary sum;
    s2_error err = {0};
    s2_status st = s2_improve(&c, &sum, &err);
    if (c.progress) fputs("\r\033[K", stderr);
    if (json) {
        json_t *a = json_array();
        for (int32_t q = 0; q < sum.n_rounds; q++) {
            const s2_improve_round *r = &sum.rounds[q];
            json_array_append_new(a, json_pack("{s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:I}", "round", r->round,
                                               "items", r->items, "solved", r->solved, "eval_greedy", r->eval_greedy,
                                               "eval_search", r->eval_search, "round_flops", r->round_flops,
                                               "cumulative_flops", r->cumulative_flops, "oracle_calls_loop",
                                               (json_int_t)r->oracle_calls_loop));
        }
        char *s = json_dumps(a, JSON_INDENT(1));
        if (s) puts(s);
        free(s);
        json_decref(a);
    } else {
        printf("round  solved/items  policy ex  value sure/imp  greedy  valid steps  search  tokens  value bal.  "
               "train+search FLOPs (cumul.)  oracle in loop\n");
        for (int32_t q = 0; q < sum.n_rounds; q++) {
            const s2_improve_round *r = &sum.rounds[q];
            char g[16], vs[16], se[16], vb[16];
            pct(g, sizeof g, r->eval_greedy);
            pct(vs, sizeof vs, r->eval_valid_steps);
            pct(se, sizeof se, r->eval_search);
            pct(vb, sizeof vb, r->eval_value_balanced);
            printf("%5d  %6d/%-5d  %9d  %6d/%-7d  %s  %11s  %s  %6.0f  %10s  %9.3g (%9.3g)         %lld\n",
                   r->round, r->solved, r->items, r->policy_examples, r->value_sure, r->value_impossible, g, vs, se,
                   r->eval_search_tokens, vb, r->round_flops, r->cumulative_flops, (long long)r->oracle_calls_loop);
        }
    }
    s2_improve_summary_free(&sum);
    for (int32_t k = 0; k < np; k++) free(store[k]);
    if (st != S2_OK) return cli_fail("improve", &err);
    return 0;
}
