/* latex.h: final answers of MATH-style problems: the last \boxed{} of a text, a normaliser for LaTeX answers,
 * and an equivalence test. Internal to tasks/ (and the tests).
 *
 * Equivalence, in order:
 *   1. both answers are cleaned as strings (\left \right, \! \, spaces, $, \dfrac/\tfrac, \frac12 and \sqrt2
 *      shorthand, \text{} unwrapped or dropped as a unit after a value, degrees, %, "x =" prefixes, thousands
 *      separators, "(C)" -> "C", a trailing period);
 *   2. the cleaned answer is split into its parts: ( ) / [ ] tuples and intervals (ordered, brackets must match),
 *      pmatrix/bmatrix matrices (ordered, same shape), \cup unions (ordered), \{ \} sets and bare comma lists
 *      (unordered); a part with one \pm stands for its two values;
 *   3. two parts are equal when both parse as exact values and the values are equal, else when their cleaned
 *      strings are equal. An exact value is a polynomial with rational coefficients over square roots of
 *      integers, \pi, i and one-letter variables (so 0.5 == \frac{1}{2} == \frac{\sqrt{2}}{\sqrt{8}},
 *      x^2+2x == x(x+2), 1+2i == 2i+1), with every operation checked for overflow; division only by a single
 *      term. Words (three letters in a row) never parse, so "east" is never "seat". */
#ifndef S2_LATEX_H
#define S2_LATEX_H

#include <stdbool.h>

/* The contents of the last \boxed{...} or \fbox{...} in text (braces nested to any depth; "\boxed 5" too), as a
 * malloc'd string, or NULL when there is none or it is not closed. */
char *s2_latex_last_boxed(const char *text);

/* The cleaned string of step 1 (malloc'd; NULL only without memory). */
char *s2_latex_clean(const char *answer);

/* A canonical key for an answer (malloc'd): two answers are equivalent exactly when their keys are equal, so
 * keys can be voted on. A part with an exact value is keyed by its canonical polynomial (starting with '#'),
 * any other part by its cleaned string. NULL only without memory. */
char *s2_latex_key(const char *answer);

/* True when the two answers are equivalent (see above): their keys are equal. */
bool s2_latex_equiv(const char *a, const char *b);

#endif
