/* datasets.h: what the dataset tasks (gsm8k.c, math500.c, code.c) expose to the tests besides their
 * constructors (declared in task_impl.h): the answer extractors and normalisers, so that each can be tested on
 * its own. Internal to tasks/ (and the tests). */
#ifndef S2_DATASETS_H
#define S2_DATASETS_H

#include <stdbool.h>
#include <stddef.h>

/* ---- gsm8k ---- */

/* Normalises the number at the start of s ("$1,234.00" -> "1234", "-0.50" -> "-0.5", "50%" -> "50",
 * "€3" -> "3", "7." -> "7") into out (cap bytes): an optional '-', the integer digits without leading zeros,
 * and a fraction without trailing zeros. *end (may be NULL) gets the first byte after the number. false when
 * s does not start with a number or it does not fit. */
bool s2_gsm8k_number(const char *s, const char **end, char *out, size_t cap);

/* The final answer of a GSM8K-style text as a normalised number (malloc'd), or NULL. Looks, in order, for
 * "#### N", "The answer is N" (any case), \boxed{N}, and otherwise takes the last number in the text; the
 * first three take the first number after the marker (the last marker when there are several). */
char *s2_gsm8k_extract(const char *text);

/* ---- math500 ---- */

/* The final answer of a MATH-style text (malloc'd, as written: compare it with s2_latex_equiv), or NULL:
 * the last \boxed{} or \fbox{}, else what follows the last "final answer is" on its line (Minerva's
 * "Final Answer: The final answer is $X$. I hope it is correct."). */
char *s2_math_extract(const char *text);

/* ---- humaneval / mbpp ---- */

/* The code in a model's answer (malloc'd): the first ```python (or ```) fenced block when there is one (up to
 * its closing fence, or the end), else the raw text. NULL without memory. */
char *s2_code_extract(const char *text);

/* True when code defines `def entry_point(` at the start of a line (a whole function, not only a body). */
bool s2_code_defines(const char *code, const char *entry_point);

/* A HumanEval completion cut where the function body ends: at the first non-empty line that starts in column 0
 * (the next top-level statement), or a closing fence. Malloc'd; NULL without memory. */
char *s2_code_cut_body(const char *text);

#endif
