/* task_impl.h: what the task implementations share, and the list of tasks the registry knows. Internal to
 * tasks/ (and the tests): nothing outside tasks/ and tests/ includes it.
 *
 * To add a task: write tasks/NAME.c with
 *     s2_status s2_task_NAME_init(const s2_task_params *p, s2_task **out, s2_error *err);
 * and add one line X(NAME, "one-line summary") to S2_TASK_LIST below. The registry (tasks/registry.c) declares
 * the constructor and builds its name -> constructor table from this list, in this order. An iface->free, when
 * given, releases ctx and what it owns; s2_task_free frees the s2_task itself. */
#ifndef S2_TASK_IMPL_H
#define S2_TASK_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "task.h"

/* X(name, summary): name is the C identifier and the registry name. */
#define S2_TASK_LIST(X) \
    X(game24, "Game of 24: make 24 from four numbers with + - * / (ToT 24.csv, or generated)")                 \
    X(countdown, "Countdown (Stream of Search): reach a target from N numbers, positive integers only")        \
    X(arith, "multi-digit addition chains and long multiplication with a written scratchpad")                 \
    X(listprog, "write a list-function pipeline (map/filter/sort/...) from input/output examples")             \
    X(gsm8k, "GSM8K grade-school math word problems (1,319 test items), exact numeric answer")                 \
    X(math500, "MATH-500 competition problems (500 items), \\boxed{} answer, LaTeX-aware equivalence")       \
    X(humaneval, "HumanEval (164 Python functions), the completion runs with its unit tests in a sandbox")    \
    X(mbpp, "MBPP Python problems (test split: ids 11-510), the code runs with its asserts in a sandbox")       \
    X(integrate, "symbolic integration (Lample & Charton): Integrate: f, Answer: F, verified by d/dx F = f")

#define S2_TASK_DECLARE_INIT(name, summary) \
    s2_status s2_task_##name##_init(const s2_task_params *p, s2_task **out, s2_error *err);
S2_TASK_LIST(S2_TASK_DECLARE_INIT)

/* ---- making a task ---- */

/* Wraps iface and ctx into a new task (*out, owned by the caller). On failure ctx is left to the caller. */
s2_status s2_task_new(const struct s2_task_i *iface, void *ctx, s2_task **out, s2_error *err);

/* SYS2_SHARED (default "../shared") joined with rel into buf (cap bytes); returns buf. */
const char *s2_task_shared_path(char *buf, size_t cap, const char *rel);

/* ---- a growable string ---- */

/* A NUL-terminated string that grows; zero-initialise it ({0}). After an allocation failure it stays failed
 * (oom) and s2_buf_take returns NULL, so callers check once at the end. */
typedef struct s2_buf {
    char *p;      /* NUL-terminated when n > 0 or after any append; NULL before the first append */
    size_t n;     /* length, without the NUL */
    size_t cap;   /* bytes allocated */
    bool oom;     /* an allocation failed */
} s2_buf;
void s2_buf_append(s2_buf *b, const char *s, size_t n);
void s2_buf_puts(s2_buf *b, const char *s);
void s2_buf_printf(s2_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string (malloc'd, "" when empty) and the buffer emptied; NULL after an allocation failure. */
char *s2_buf_take(s2_buf *b);
void s2_buf_free(s2_buf *b);

/* ---- small helpers ---- */

char *s2_strdup(const char *s);                          /* NULL for NULL or no memory */
char *s2_strndup(const char *s, size_t n);
/* splitmix64: the state advances; the same seed gives the same sequence on every platform. */
uint64_t s2_task_rng_next(uint64_t *state);
uint64_t s2_task_rng_below(uint64_t *state, uint64_t n);      /* uniform in [0, n), n > 0 (no modulo bias) */
/* Sets the verdict's reward, correct (reward == 1) and reason (printf-style). */
void s2_verdict_set(s2_verdict *v, double reward, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The start of the last line of text that begins with prefix (after optional spaces), or NULL. */
const char *s2_find_line(const char *text, const char *prefix);

/* ---- game24 (tasks/game24.c), exposed for the tests ---- */

/* True when the multiset of four numbers (any order) is held out of training: one of ToT's test puzzles (ranks
 * 901-1000 of 24.csv, a fixed table compiled in) or, for other multisets, s2_hash_str(id) % 10 == 0 where id is
 * the sorted numbers joined by dashes ("1-1-4-6"). */
bool s2_game24_heldout(const int *four);
/* Exhaustive exact solver: can the n numbers (n <= 8, rationals num[i]/den[i]) make 24? */
bool s2_game24_solvable(const int64_t *num, const int64_t *den, int n);

/* ---- listprog (tasks/listprog.c), exposed for the tests and for filtering by public tests ---- */

/* Runs a listprog program (the pipeline syntax of listprog.c) on in[0..n_in) with fuel: true and the value
 * ("[1,2]" or "7") in out, or false and the failure ("out of fuel", "overflow", "parse error: ...") in reason. */
bool s2_listprog_run(const char *program, const int64_t *in, int n_in, int64_t fuel, char *out, size_t cap,
                     char *reason, size_t rcap);
/* The fraction of item i's public examples (those in the prompt) that the program in text passes. */
double s2_listprog_public_pass(const s2_task *t, int32_t i, const char *text);

#endif
