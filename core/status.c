/* status.c: status strings, the caller-owned error message, the logging hook and S2_ASSERT's handler.
 * The only global state in the library is the logging callback, set once by the program. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys2.h"

const char *s2_status_str(s2_status st) {
    switch (st) {
    case S2_OK: return "ok";
    case S2_E_IO: return "i/o error";
    case S2_E_FORMAT: return "format error";
    case S2_E_NOMEM: return "out of memory";
    case S2_E_ARG: return "bad argument";
    case S2_E_UNSUPPORTED: return "unsupported";
    case S2_E_BUDGET: return "budget exhausted";
    case S2_E_NET: return "network error";
    case S2_E_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

s2_status s2_error_set(s2_error *err, s2_status code, const char *fmt, ...) {
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Bytes in the valid UTF-8 sequence at s (at most n bytes), or 0: no overlongs, surrogates or code points past
 * U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    size_t k = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (k == 0 || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (k == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
    if (k == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
    return k;
}

char *s2_escape(char *dst, size_t cap, const char *src, size_t n) {
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0, i = 0;
    if (cap == 0) return dst;
    while (i < n) {
        char piece[8];
        size_t len, k = utf8_seq(s + i, n - i);
        if (s[i] == '\\') len = (size_t)snprintf(piece, sizeof piece, "\\\\"), k = 1;
        else if (k == 0 || s[i] < 0x20 || s[i] == 0x7f) len = (size_t)snprintf(piece, sizeof piece, "\\x%02x", s[i]), k = 1;
        else memcpy(piece, s + i, k), len = k;
        if (o + len + (i + k < n ? 3 : 0) > cap - 1) { /* no room for this piece and a "..." after it */
            if (o + 3 <= cap - 1) memcpy(dst + o, "...", 3), o += 3;
            break;
        }
        memcpy(dst + o, piece, len);
        o += len;
        i += k;
    }
    dst[o] = '\0';
    return dst;
}

s2_status s2_error_prefix(s2_error *err, const char *prefix) {
    if (err == NULL) return S2_E_ARG;
    char tmp[sizeof err->msg];
    size_t pl = strlen(prefix);
    if (pl > sizeof tmp - 3) pl = sizeof tmp - 3;
    memcpy(tmp, prefix, pl);
    memcpy(tmp + pl, ": ", 2);
    size_t ml = strnlen(err->msg, sizeof err->msg);
    if (ml > sizeof tmp - pl - 3) ml = sizeof tmp - pl - 3; /* a long message loses its tail */
    memcpy(tmp + pl + 2, err->msg, ml);
    tmp[pl + 2 + ml] = '\0';
    memcpy(err->msg, tmp, sizeof tmp);
    return err->code;
}

/* ---- logging ---- */

static s2_log_fn log_fn;
static void *log_user;

void s2_log_set(s2_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void s2_log(int level, const char *fmt, ...) {
    if (log_fn == NULL) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_fn(level, buf, log_user);
}

void s2_assert_fail(const char *expr, const char *file, int line) {
    /* A broken invariant of our own code: no caller can recover, so this one place may print and abort. */
    fprintf(stderr, "%s:%d: S2_ASSERT(%s) failed\n", file, line, expr);
    abort();
}
