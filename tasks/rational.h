/* rational.h: exact rational arithmetic over int64 for the number games (game24, countdown). Every value is
 * kept reduced with a positive denominator; every operation reports overflow or division by zero instead of
 * wrapping, so a hostile "Answer: 99999999999 * 99999999999" is a rejected answer, never undefined behaviour.
 * No floating point anywhere. */
#ifndef S2_RATIONAL_H
#define S2_RATIONAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct s2_rat {
    int64_t num, den; /* reduced, den > 0 */
} s2_rat;

typedef enum s2_rat_status { S2_RAT_OK = 0, S2_RAT_DIV0 = 1, S2_RAT_OVERFLOW = 2 } s2_rat_status;

static inline s2_rat s2_rat_int(int64_t v) { s2_rat r = {v, 1}; return r; }
/* num/den reduced; S2_RAT_DIV0 when den == 0. */
s2_rat_status s2_rat_make(int64_t num, int64_t den, s2_rat *out);
s2_rat_status s2_rat_add(s2_rat a, s2_rat b, s2_rat *out);
s2_rat_status s2_rat_sub(s2_rat a, s2_rat b, s2_rat *out);
s2_rat_status s2_rat_mul(s2_rat a, s2_rat b, s2_rat *out);
s2_rat_status s2_rat_div(s2_rat a, s2_rat b, s2_rat *out);
/* op is one of + - * /; S2_RAT_DIV0 for another op too (callers check op first). */
s2_rat_status s2_rat_apply(char op, s2_rat a, s2_rat b, s2_rat *out);
static inline bool s2_rat_eq(s2_rat a, s2_rat b) { return a.num == b.num && a.den == b.den; }
int s2_rat_cmp(s2_rat a, s2_rat b); /* -1, 0, 1 (exact, through 128-bit products) */
static inline bool s2_rat_is_int(s2_rat a) { return a.den == 1; }
/* Writes "7", "-2" or "8/3" into buf (cap >= 48 always suffices); returns buf. */
char *s2_rat_str(s2_rat a, char *buf, size_t cap);
/* Like s2_rat_str, but a value whose denominator divides a power of ten is written as a decimal ("0.001"), the
 * way a model would have written it. */
char *s2_rat_str_dec(s2_rat a, char *buf, size_t cap);
/* Parses a number at *s: an optional '-' (when allow_neg), digits, and then optionally ".digits" (a decimal,
 * exact: 23.999 = 23999/1000) or, when allow_frac, "/digits" ("8/3"). Advances *s past it. false (and *s
 * unchanged) when there is no number there, or it overflows (*overflow set, when not NULL). */
bool s2_rat_parse(const char **s, bool allow_neg, bool allow_frac, s2_rat *out, bool *overflow);

#endif
