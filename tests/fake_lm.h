/* fake_lm.h: a scripted system 1 (an s2_lm) and a matching toy task, for search tests that need no model.
 *
 * Text is its own tokenization: one byte is one token, and a sequence's BOS counts as one more. A sample call
 * gives sequence i of the call one step: in letter mode the letter 'a' + (i % alphabet) (always 'a' at
 * temperature 0), in script mode the next entry of the script (cycled, in generation order); then the delimiter.
 * Log-probs hash (seed, the sequence's text so far, the token), so scores depend on the whole path. The counters
 * are kept as a real backend keeps them: prompt tokens computed (a prefix cache of earlier seq_new texts makes
 * repeats cached), generated, scored, forward calls and rows, FLOPs (1000 per row), ns (ns_per_row per row, so
 * that runs are reproducible), one request per call. */
#ifndef S2_FAKE_LM_H
#define S2_FAKE_LM_H

#include "sys2.h"
#include "task.h"

typedef struct fake_lm_params {
    uint64_t seed;                /* hashes the log-probs */
    int32_t alphabet;             /* letter mode: letters in use (default 4) */
    const char *const *script;    /* script mode when non-NULL: step texts (without the delimiter) */
    int32_t n_script;
    const char *delim;            /* appended to each step (default "\n") */
    int64_t ns_per_row;           /* default 100 */
    int32_t sleep_us;             /* real sleep per sample call (for kill tests) */
    bool fail_sample;             /* every sample call fails with S2_E_NET, as a backend whose server is gone */
} fake_lm_params;
fake_lm_params fake_lm_default_params(void);
s2_status fake_lm_init(const fake_lm_params *p, s2_lm **out, s2_error *err);
/* Live sequences right now (to check that search frees what it forks). */
int32_t fake_lm_live(const s2_lm *lm);
/* The text of the first seq_new on lm (NULL before any): which item an lm served. */
const char *fake_lm_first_prompt(const s2_lm *lm);

/* The toy task: n_items items, prompt "Q<i>:\n", steps end with "\n". A text is final when it has depth lines,
 * or a line "A: X" (the answer X). Without such a line the answer is the steps' letters joined ("abb"). Item i is
 * right when the answer is target(i): depth letters, letter j = 'a' + ((i + j) % 2) ("abab..."), unless a target
 * is given. value_prompt: "V:" + text. oracle: solvable while text is a prefix of target's steps. */
typedef struct fake_task_params {
    int32_t n_items, depth;
    const char *target;           /* NULL: per item as above */
} fake_task_params;
s2_status fake_task_init(const fake_task_params *p, s2_task **out, s2_error *err);

#endif
