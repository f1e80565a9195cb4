/* rational.c: exact int64 rationals with overflow checks (see rational.h). Products that could overflow go
 * through __builtin_*_overflow; comparisons use 128-bit products. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "rational.h"

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b != 0) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

s2_rat_status s2_rat_make(int64_t num, int64_t den, s2_rat *out) {
    if (den == 0) return S2_RAT_DIV0;
    if (num == INT64_MIN || den == INT64_MIN) return S2_RAT_OVERFLOW; /* cannot negate */
    if (den < 0) {
        num = -num;
        den = -den;
    }
    int64_t g = gcd64(num, den);
    if (g > 1) {
        num /= g;
        den /= g;
    }
    out->num = num;
    out->den = den;
    return S2_RAT_OK;
}

/* a/b + sign * c/d = (a*(l/b) + sign*c*(l/d)) / l with l = lcm(b, d) */
static s2_rat_status add_signed(s2_rat a, s2_rat b, int sign, s2_rat *out) {
    int64_t g = gcd64(a.den, b.den), l, x, y, n;
    if (__builtin_mul_overflow(a.den / g, b.den, &l)) return S2_RAT_OVERFLOW;
    if (__builtin_mul_overflow(a.num, l / a.den, &x)) return S2_RAT_OVERFLOW;
    if (__builtin_mul_overflow(b.num, l / b.den, &y)) return S2_RAT_OVERFLOW;
    if (sign > 0 ? __builtin_add_overflow(x, y, &n) : __builtin_sub_overflow(x, y, &n)) return S2_RAT_OVERFLOW;
    return s2_rat_make(n, l, out);
}

s2_rat_status s2_rat_add(s2_rat a, s2_rat b, s2_rat *out) { return add_signed(a, b, 1, out); }
s2_rat_status s2_rat_sub(s2_rat a, s2_rat b, s2_rat *out) { return add_signed(a, b, -1, out); }

s2_rat_status s2_rat_mul(s2_rat a, s2_rat b, s2_rat *out) {
    /* cross-reduce first so that products stay small */
    int64_t g1 = gcd64(a.num, b.den), g2 = gcd64(b.num, a.den), n, d;
    if (g1 == 0) g1 = 1;
    if (g2 == 0) g2 = 1;
    if (__builtin_mul_overflow(a.num / g1, b.num / g2, &n)) return S2_RAT_OVERFLOW;
    if (__builtin_mul_overflow(a.den / g2, b.den / g1, &d)) return S2_RAT_OVERFLOW;
    return s2_rat_make(n, d, out);
}

s2_rat_status s2_rat_div(s2_rat a, s2_rat b, s2_rat *out) {
    if (b.num == 0) return S2_RAT_DIV0;
    s2_rat inv;
    s2_rat_status st = s2_rat_make(b.den, b.num, &inv);
    if (st != S2_RAT_OK) return st;
    return s2_rat_mul(a, inv, out);
}

s2_rat_status s2_rat_apply(char op, s2_rat a, s2_rat b, s2_rat *out) {
    switch (op) {
    case '+': return s2_rat_add(a, b, out);
    case '-': return s2_rat_sub(a, b, out);
    case '*': return s2_rat_mul(a, b, out);
    case '/': return s2_rat_div(a, b, out);
    default: return S2_RAT_DIV0;
    }
}

int s2_rat_cmp(s2_rat a, s2_rat b) {
    __int128 l = (__int128)a.num * b.den, r = (__int128)b.num * a.den; /* dens are positive */
    return l < r ? -1 : l > r ? 1 : 0;
}

char *s2_rat_str(s2_rat a, char *buf, size_t cap) {
    if (a.den == 1) snprintf(buf, cap, "%" PRId64, a.num);
    else snprintf(buf, cap, "%" PRId64 "/%" PRId64, a.num, a.den);
    return buf;
}

char *s2_rat_str_dec(s2_rat a, char *buf, size_t cap) {
    int64_t d = a.den, scale = 1;
    int places = 0;
    while (d % 10 == 0) { d /= 10; scale *= 10; places++; }
    while (d % 2 == 0 || d % 5 == 0) {
        if (places >= 18) return s2_rat_str(a, buf, cap);
        d /= d % 2 == 0 ? 2 : 5;
        places++;
        scale *= 10;
    }
    if (d != 1 || places == 0) return s2_rat_str(a, buf, cap);
    /* a = num/den = (num * (scale/den)) / scale */
    int64_t m;
    if (__builtin_mul_overflow(a.num < 0 ? -a.num : a.num, scale / a.den, &m)) return s2_rat_str(a, buf, cap);
    char frac[24];
    int64_t f = m % scale;
    for (int k = places - 1; k >= 0; k--, f /= 10) frac[k] = (char)('0' + f % 10);
    frac[places] = '\0';
    snprintf(buf, cap, "%s%" PRId64 ".%s", a.num < 0 ? "-" : "", m / scale, frac);
    return buf;
}

/* Digits at *p into *v; false on overflow or no digits. *ndig gets how many. */
static bool parse_digits(const char **p, int64_t *v, int *ndig, bool *overflow) {
    int64_t x = 0;
    int n = 0;
    const char *s = *p;
    while (*s >= '0' && *s <= '9') {
        if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *s - '0', &x)) {
            if (overflow != NULL) *overflow = true;
            return false;
        }
        s++;
        n++;
    }
    if (n == 0) return false;
    *p = s;
    *v = x;
    *ndig = n;
    return true;
}

bool s2_rat_parse(const char **s, bool allow_neg, bool allow_frac, s2_rat *out, bool *overflow) {
    const char *p = *s;
    bool neg = false;
    if (allow_neg && *p == '-') {
        neg = true;
        p++;
    }
    int64_t ip, fp = 0, scale = 1;
    int nd;
    if (!parse_digits(&p, &ip, &nd, overflow)) return false;
    s2_rat r = s2_rat_int(ip);
    if (p[0] == '.' && p[1] >= '0' && p[1] <= '9') {
        p++;
        if (!parse_digits(&p, &fp, &nd, overflow)) return false;
        for (int i = 0; i < nd; i++)
            if (__builtin_mul_overflow(scale, 10, &scale)) {
                if (overflow != NULL) *overflow = true;
                return false;
            }
        s2_rat f;
        if (s2_rat_make(fp, scale, &f) != S2_RAT_OK || s2_rat_add(r, f, &r) != S2_RAT_OK) {
            if (overflow != NULL) *overflow = true;
            return false;
        }
    } else if (allow_frac && p[0] == '/' && p[1] >= '0' && p[1] <= '9') {
        p++;
        int64_t d;
        if (!parse_digits(&p, &d, &nd, overflow)) return false;
        if (d == 0) return false;
        s2_rat f;
        if (s2_rat_make(ip, d, &f) != S2_RAT_OK) return false;
        r = f;
    }
    if (neg) r.num = -r.num;
    *out = r;
    *s = p;
    return true;
}
