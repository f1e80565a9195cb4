/* text.h: a growable NUL-terminated text (internal), shared by the s2_lm backends for their sequences' texts. */
#ifndef S2_TEXT_H
#define S2_TEXT_H

#include "sys2.h"

/* Appends n bytes of t to *buf (length *len, capacity *cap, growing by doubling from 256), keeping a NUL after
 * them. S2_E_NOMEM leaves the text as it was. */
s2_status s2_text_append(char **buf, size_t *len, size_t *cap, const char *t, size_t n);

#endif
