/* text.c: the growable text of text.h. */
#include <stdlib.h>
#include <string.h>

#include "text.h"

s2_status s2_text_append(char **buf, size_t *len, size_t *cap, const char *t, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1) c *= 2;
        char *nt = realloc(*buf, c);
        if (nt == NULL) return S2_E_NOMEM;
        *buf = nt;
        *cap = c;
    }
    memcpy(*buf + *len, t, n);
    *len += n;
    (*buf)[*len] = '\0';
    return S2_OK;
}
