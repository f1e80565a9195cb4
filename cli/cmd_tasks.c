/* cmd_tasks.c: the task commands. `tasks` lists the registry; `task` shows items (prompt and reference);
 * `check-task` runs a task's verifier over every item's reference answer (must be accepted) and its wrong
 * answers (must be rejected), in worker threads; `verify` judges one answer text. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "task.h"

int cmd_tasks(int argc, char **argv);
int cmd_task(int argc, char **argv);
int cmd_check_task(int argc, char **argv);
int cmd_verify(int argc, char **argv);

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s != NULL) puts(s);
    free(s);
    json_decref(j);
}

/* ---- the flags the task commands share ---- */

typedef struct task_opts {
    s2_task_params p;
    bool json;
    int64_t show, limit, workers;
    const char *item;
    const char *file;   /* verify: FILE or - */
} task_opts;

#define TASK_FLAGS_HELP \
    "  --data FILE       the task's data file (default: the task's own, under $SYS2_SHARED)\n" \
    "  --split S         task-specific: game24 tot|all|gen|train|heldout|dev; countdown/arith/listprog test|train\n" \
    "  --seed N          seed of generated items (default 0)\n" \
    "  --n-items N       generated tasks: how many items\n" \
    "  --n-shot K        worked examples in the prompt (default: the task's, 0 for synthetic tasks)\n" \
    "  --difficulty D    countdown: numbers; arith: digits; listprog: most stages\n" \
    "  --timeout S       code tasks: seconds per candidate\n" \
    "  --json            JSON output\n"

/* Consumes argv[*i] when it is a shared flag: 1 consumed, 0 not one, -1 a bad value (reported). */
static int task_flag(const char *cmd, task_opts *o, int argc, char **argv, int *i) {
    const char *v = NULL;
    bool bad = false;
    int64_t n;
    double d;
    if (strcmp(argv[*i], "--json") == 0) {
        o->json = true;
        return 1;
    }
    if (cli_flag(argc, argv, i, "--data", NULL, &v, &bad)) {
        o->p.data = v;
    } else if (cli_flag(argc, argv, i, "--split", NULL, &v, &bad)) {
        o->p.split = v;
    } else if (cli_flag(argc, argv, i, "--seed", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &n) || n < 0)) return cli_usage(cmd, "--seed wants an integer >= 0, got '%s'", v), -1;
        o->p.seed = (uint64_t)n;
    } else if (cli_flag(argc, argv, i, "--n-items", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &n) || n < 1 || n > 1000000))
            return cli_usage(cmd, "--n-items wants an integer in [1, 1000000], got '%s'", v), -1;
        o->p.n_items = (int32_t)n;
    } else if (cli_flag(argc, argv, i, "--n-shot", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &n) || n < 0 || n > 64))
            return cli_usage(cmd, "--n-shot wants an integer in [0, 64], got '%s'", v), -1;
        o->p.n_shot = (int32_t)n;
    } else if (cli_flag(argc, argv, i, "--difficulty", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &n) || n < 1 || n > 100))
            return cli_usage(cmd, "--difficulty wants an integer in [1, 100], got '%s'", v), -1;
        o->p.difficulty = (int32_t)n;
    } else if (cli_flag(argc, argv, i, "--timeout", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_f64(v, &d) || !(d > 0) || d > 3600))
            return cli_usage(cmd, "--timeout wants seconds in (0, 3600], got '%s'", v), -1;
        o->p.timeout_s = d;
    } else if (cli_flag(argc, argv, i, "--workers", NULL, &v, &bad)) {
        if (!bad && (!cli_parse_i64(v, &n) || n < 1 || n > 256))
            return cli_usage(cmd, "--workers wants an integer in [1, 256], got '%s'", v), -1;
        o->workers = n;
        o->p.n_workers = (int32_t)n;
    } else {
        return 0;
    }
    if (bad) return cli_usage(cmd, "%s needs a value", argv[*i]), -1;
    return 1;
}

static int make_task(const char *cmd, const char *name, const task_opts *o, s2_task **t) {
    s2_error err = {0};
    s2_status st = s2_task_create(name, &o->p, t, &err);
    if (st == S2_E_ARG) return cli_usage(cmd, "%s", err.msg);
    if (st != S2_OK) return cli_fail(cmd, &err);
    return 0;
}

/* ---- sys2 tasks ---- */

int cmd_tasks(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: sys2 tasks [--json]\n\nLists the tasks with a one-line summary each.\n");
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) json = true;
        else return cli_usage("tasks", "unknown argument '%s'", argv[i]);
    }
    json_t *arr = json ? json_array() : NULL;
    for (int32_t i = 0; i < s2_task_count(); i++) {
        if (json) json_array_append_new(arr, json_pack("{s:s, s:s}", "name", s2_task_name_at(i), "summary",
                                                       s2_task_summary_at(i)));
        else printf("%-12s %s\n", s2_task_name_at(i), s2_task_summary_at(i));
    }
    if (json) print_json(arr);
    return 0;
}

/* ---- sys2 task ---- */

static const char task_help[] =
    "usage: sys2 task NAME [--data FILE] [--split S] [--seed N] [--show K] [--json]\n\n"
    "Prints the number of items, then K items (default 3) with their ids, prompts and reference answers.\n"
    "With --json, one object per item: {\"id\", \"prompt\", \"reference\"} (reference null when the task has none).\n\n"
    "  --show K          how many items (default 3; 0 = only the count)\n" TASK_FLAGS_HELP;

int cmd_task(int argc, char **argv) {
    task_opts o = {.p = s2_task_default_params(), .show = 3};
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            fputs(task_help, stdout);
            return 0;
        }
        int r = task_flag("task", &o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_flag(argc, argv, &i, "--show", NULL, &v, &bad)) {
            if (bad || !cli_parse_i64(v, &o.show) || o.show < 0)
                return cli_usage("task", "--show wants an integer >= 0");
        } else if (argv[i][0] == '-') {
            return cli_usage("task", "unknown flag '%s'", argv[i]);
        } else if (name == NULL) {
            name = argv[i];
        } else {
            return cli_usage("task", "unexpected argument '%s'", argv[i]);
        }
    }
    if (name == NULL) return cli_usage("task", "which task? (sys2 tasks lists them)");
    s2_task *t = NULL;
    int rc = make_task("task", name, &o, &t);
    if (rc != 0) return rc;
    int32_t n = s2_task_n_items(t);
    if (!o.json) printf("%s: %d items\n", name, (int)n);
    for (int32_t i = 0; i < n && i < o.show; i++) {
        char *prompt = s2_task_prompt(t, i);
        char *ref = t->iface->reference != NULL ? t->iface->reference(t, i) : NULL;
        if (o.json) {
            json_t *j = json_pack("{s:s, s:s}", "id", s2_task_item_id(t, i), "prompt", prompt ? prompt : "");
            json_object_set_new(j, "reference", ref != NULL ? json_string(ref) : json_null());
            print_json(j);
        } else {
            printf("\n== %s ==\n%s", s2_task_item_id(t, i), prompt ? prompt : "");
            if (ref != NULL) printf("-- reference --\n%s", ref);
        }
        free(prompt);
        free(ref);
    }
    s2_task_free(t);
    return 0;
}

/* ---- sys2 check-task ---- */

typedef struct check_item {
    int32_t passed, failed;
    char *report;                 /* the disagreements (text), or NULL */
    json_t *bad;                  /* the disagreements (JSON array), or NULL */
} check_item;

typedef struct check_job {
    const s2_task *t;
    int32_t n;
    atomic_int next, done;
    check_item *res;
    bool json;
} check_job;

#define MAX_WRONG 32

static void disagree(check_job *job, check_item *r, int32_t i, const char *kind, const char *text,
                     const s2_verdict *v, const char *error) {
    r->failed++;
    const char *id = s2_task_item_id(job->t, i);
    if (job->json) {
        if (r->bad == NULL) r->bad = json_array();
        json_t *j = json_pack("{s:s, s:s, s:s}", "id", id, "kind", kind, "text", text);
        if (error != NULL) json_object_set_new(j, "error", json_string(error));
        else json_object_set_new(j, "reason", json_string(v->reason));
        json_array_append_new(r->bad, j);
        return;
    }
    size_t old = r->report != NULL ? strlen(r->report) : 0;
    int need = snprintf(NULL, 0, "FAIL %s: %s %s (%s)\n%s%s", id, kind,
                        error != NULL ? "could not be verified" : strcmp(kind, "reference") == 0 ? "rejected" : "accepted",
                        error != NULL ? error : v->reason, text, text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n");
    char *rep = realloc(r->report, old + (size_t)need + 1);
    if (rep == NULL) return;
    snprintf(rep + old, (size_t)need + 1, "FAIL %s: %s %s (%s)\n%s%s", id, kind,
             error != NULL ? "could not be verified" : strcmp(kind, "reference") == 0 ? "rejected" : "accepted",
             error != NULL ? error : v->reason, text, text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n");
    r->report = rep;
}

static void check_one(check_job *job, int32_t i) {
    const s2_task *t = job->t;
    check_item *r = &job->res[i];
    s2_verdict v;
    s2_error err = {0};
    char *ref = t->iface->reference != NULL ? t->iface->reference(t, i) : NULL;
    if (ref != NULL) {
        s2_status st = s2_task_verify(t, i, ref, &v, &err);
        if (st != S2_OK) disagree(job, r, i, "reference", ref, &v, err.msg);
        else if (!v.correct) disagree(job, r, i, "reference", ref, &v, NULL);
        else r->passed++;
        s2_verdict_clear(&v);
        free(ref);
    }
    if (t->iface->wrong_answers != NULL) {
        char *w[MAX_WRONG];
        int32_t nw = t->iface->wrong_answers(t, i, w, MAX_WRONG);
        for (int32_t k = 0; k < nw; k++) {
            s2_status st = s2_task_verify(t, i, w[k], &v, &err);
            if (st != S2_OK) disagree(job, r, i, "wrong answer", w[k], &v, err.msg);
            else if (v.correct) disagree(job, r, i, "wrong answer", w[k], &v, NULL);
            else r->passed++;
            s2_verdict_clear(&v);
            free(w[k]);
        }
    }
}

static void *check_worker(void *arg) {
    check_job *job = arg;
    for (;;) {
        int32_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->n) break;
        check_one(job, i);
        atomic_fetch_add(&job->done, 1);
    }
    return NULL;
}

static const char check_help[] =
    "usage: sys2 check-task NAME [--data FILE] [--split S] [--workers N] [--limit N] [--json]\n\n"
    "Verifies every item's reference answer (it must be accepted) and the task's wrong answers for it (each\n"
    "must be rejected) in N worker threads (default 2), prints each disagreement, and ends with the line\n"
    "'N passed, M failed' (a pass is a verdict that agrees with the truth). Exit status 0 when M is 0, else 1.\n"
    "With --json: one object {\"task\", \"items\", \"passed\", \"failed\", \"disagreements\": [...]}.\n\n"
    "  --workers N       threads, and the sandbox workers of code tasks (default 2)\n"
    "  --limit N         only the first N items\n" TASK_FLAGS_HELP;

int cmd_check_task(int argc, char **argv) {
    task_opts o = {.p = s2_task_default_params(), .workers = 2};
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            fputs(check_help, stdout);
            return 0;
        }
        int r = task_flag("check-task", &o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_flag(argc, argv, &i, "--limit", NULL, &v, &bad)) {
            if (bad || !cli_parse_i64(v, &o.limit) || o.limit < 1)
                return cli_usage("check-task", "--limit wants an integer >= 1");
        } else if (argv[i][0] == '-') {
            return cli_usage("check-task", "unknown flag '%s'", argv[i]);
        } else if (name == NULL) {
            name = argv[i];
        } else {
            return cli_usage("check-task", "unexpected argument '%s'", argv[i]);
        }
    }
    if (name == NULL) return cli_usage("check-task", "which task? (sys2 tasks lists them)");
    if (o.p.n_workers == 0) o.p.n_workers = (int32_t)o.workers;
    s2_task *t = NULL;
    int rc = make_task("check-task", name, &o, &t);
    if (rc != 0) return rc;
    int32_t n = s2_task_n_items(t);
    if (o.limit > 0 && o.limit < n) n = (int32_t)o.limit;
    check_job job = {.t = t, .n = n, .json = o.json};
    atomic_init(&job.next, 0);
    atomic_init(&job.done, 0);
    job.res = calloc((size_t)(n > 0 ? n : 1), sizeof *job.res);
    int nw = (int)(o.workers < n ? o.workers : (n > 0 ? n : 1));
    pthread_t *th = calloc((size_t)nw, sizeof *th);
    if (job.res == NULL || th == NULL) {
        free(job.res);
        free(th);
        s2_task_free(t);
        s2_error err = {S2_E_NOMEM, "out of memory"};
        return cli_fail("check-task", &err);
    }
    int started = 0;
    for (; started < nw; started++)
        if (pthread_create(&th[started], NULL, check_worker, &job) != 0) break;
    if (started == 0) check_worker(&job); /* no thread could start: do it here */
    bool tty = isatty(STDERR_FILENO);
    if (tty) {
        while (atomic_load(&job.done) < n) {
            fprintf(stderr, "\rcheck-task %s: %d/%d items", name, atomic_load(&job.done), (int)n);
            usleep(200000);
        }
        fprintf(stderr, "\rcheck-task %s: %d/%d items\n", name, (int)n, (int)n);
    }
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    int64_t passed = 0, failed = 0;
    json_t *bad = o.json ? json_array() : NULL;
    for (int32_t i = 0; i < n; i++) {
        check_item *r = &job.res[i];
        passed += r->passed;
        failed += r->failed;
        if (r->report != NULL) fputs(r->report, stdout);
        if (r->bad != NULL) json_array_extend(bad, r->bad);
        free(r->report);
        json_decref(r->bad);
    }
    if (o.json)
        print_json(json_pack("{s:s, s:i, s:I, s:I, s:o}", "task", name, "items", (int)n, "passed", (json_int_t)passed,
                             "failed", (json_int_t)failed, "disagreements", bad));
    else printf("%lld passed, %lld failed\n", (long long)passed, (long long)failed);
    free(job.res);
    free(th);
    s2_task_free(t);
    return failed == 0 ? 0 : 1;
}

/* ---- sys2 verify ---- */

static const char verify_help[] =
    "usage: sys2 verify NAME [--data FILE] [--split S] --item ID FILE|- [--json]\n\n"
    "Verifies one answer text (what a model wrote after the prompt: steps and a final answer) for item ID,\n"
    "read from FILE or from stdin (-). Prints the verdict, the reward and the reason.\n"
    "Exit status: 0 accepted, 1 rejected, 2 an error (unknown item, unreadable file, verifier failure).\n\n"
    "  --item ID         the item's id (as `sys2 task NAME` prints it)\n" TASK_FLAGS_HELP;

int cmd_verify(int argc, char **argv) {
    task_opts o = {.p = s2_task_default_params()};
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            fputs(verify_help, stdout);
            return 0;
        }
        int r = task_flag("verify", &o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_flag(argc, argv, &i, "--item", NULL, &v, &bad)) {
            if (bad) return 2;
            o.item = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage("verify", "unknown flag '%s'", argv[i]);
        } else if (name == NULL) {
            name = argv[i];
        } else if (o.file == NULL) {
            o.file = argv[i];
        } else {
            return cli_usage("verify", "unexpected argument '%s'", argv[i]);
        }
    }
    if (name == NULL) return cli_usage("verify", "which task? (sys2 tasks lists them)");
    if (o.item == NULL) return cli_usage("verify", "--item ID is required");
    if (o.file == NULL) return cli_usage("verify", "give the answer FILE, or - for stdin");
    s2_task *t = NULL;
    if (make_task("verify", name, &o, &t) != 0) return 2;
    int32_t i = s2_task_find(t, o.item);
    if (i < 0) {
        fprintf(stderr, "sys2 verify: %s has no item '%s' (sys2 task %s lists ids)\n", name, o.item, name);
        s2_task_free(t);
        return 2;
    }
    FILE *f = strcmp(o.file, "-") == 0 ? stdin : fopen(o.file, "rb");
    struct stat sb;
    if (f != NULL && f != stdin && fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        fprintf(stderr, "sys2 verify: %s is a directory, not an answer file\n", o.file);
        s2_task_free(t);
        return 2;
    }
    if (f == NULL) {
        fprintf(stderr, "sys2 verify: cannot open %s\n", o.file);
        s2_task_free(t);
        return 2;
    }
    char *text = cli_read_all(f, (size_t)64 << 20, NULL); /* 64 MiB of answer is plenty */
    if (f != stdin) fclose(f);
    if (text == NULL) {
        fprintf(stderr, "sys2 verify: cannot read %s\n", o.file);
        s2_task_free(t);
        return 2;
    }
    s2_verdict v;
    s2_error err = {0};
    s2_status st = s2_task_verify(t, i, text, &v, &err);
    free(text);
    int rc;
    if (st != S2_OK) {
        cli_fail("verify", &err);
        rc = 2;
    } else {
        if (o.json) {
            json_t *j = json_pack("{s:s, s:s, s:b, s:f, s:s}", "task", name, "id", o.item, "correct", v.correct,
                                  "reward", v.reward, "reason", v.reason);
            json_object_set_new(j, "answer", v.answer != NULL ? json_string(v.answer) : json_null());
            print_json(j);
        } else {
            printf("%s\nreward: %g\nreason: %s\n", v.correct ? "accepted" : "rejected", v.reward, v.reason);
            if (v.answer != NULL) printf("answer: %s\n", v.answer);
        }
        rc = v.correct ? 0 : 1;
    }
    s2_verdict_clear(&v);
    s2_task_free(t);
    return rc;
}
