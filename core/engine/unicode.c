/* unicode.c: UTF-8 decoding/encoding and GPT-2's byte-level map for tokenizer.c. Pure functions: no state, no
 * allocation, no printing. */
#include "unicode.h"

int s2_utf8_lead_len(uint8_t b) {
    if (b < 0xc0) return 1; /* ASCII, or a stray continuation byte */
    if (b < 0xe0) return 2;
    if (b < 0xf0) return 3;
    if (b < 0xf8) return 4;
    return 1;
}

int s2_utf8_decode(const char *s, size_t n, uint32_t *cp) {
    const uint8_t *u = (const uint8_t *)s;
    if (n == 0) return 0;
    uint8_t b = u[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    int len;
    uint32_t c, min;
    if (b >= 0xc2 && b < 0xe0) len = 2, c = b & 0x1f, min = 0x80;
    else if (b >= 0xe0 && b < 0xf0) len = 3, c = b & 0x0f, min = 0x800;
    else if (b >= 0xf0 && b < 0xf5) len = 4, c = b & 0x07, min = 0x10000;
    else return 0; /* continuation byte, overlong 0xc0/0xc1, or 0xf5.. */
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (u[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

int s2_utf8_encode(uint32_t cp, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) return 0;
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (cp > 0x10ffff) return 0;
    o[0] = (uint8_t)(0xf0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Bytes that GPT-2 keeps as themselves: the printable Latin-1 characters except the soft hyphen. */
static int byte_is_printable(uint8_t b) {
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
}

/* The 68 others, in increasing order, are 0x00..0x20 (33 bytes), 0x7f..0xa0 (34) and 0xad (1). */
uint32_t s2_byte_to_cp(uint8_t b) {
    if (byte_is_printable(b)) return b;
    if (b <= 0x20) return 0x100u + b;
    if (b <= 0xa0) return 0x100u + 33 + (uint32_t)(b - 0x7f);
    return 0x100u + 67; /* 0xad */
}

int s2_cp_to_byte(uint32_t cp) {
    if (cp < 0x100) return byte_is_printable((uint8_t)cp) ? (int)cp : -1;
    uint32_t n = cp - 0x100;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7f + n - 33);
    if (n == 67) return 0xad;
    return -1;
}
