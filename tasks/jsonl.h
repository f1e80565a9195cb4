/* jsonl.h: a JSON Lines reader for the dataset tasks (one JSON object per line, Jansson), plain or gzip'd
 * (zlib reads both: a file without the gzip magic is read as it is). Blank lines are skipped; any other line
 * that is not one JSON object is S2_E_FORMAT "FILE:LINE: reason". Internal to tasks/ (and the tests). */
#ifndef S2_JSONL_H
#define S2_JSONL_H

#include <jansson.h>

#include "sys2.h"

typedef struct s2_jsonl {
    json_t **rows;   /* (n) objects, owned (one reference each) */
    int32_t *line;   /* (n) the 1-based line number of each row in the file */
    int32_t n;
    char *path;      /* the file read (malloc'd), for messages */
} s2_jsonl;

/* Reads every line of path into *out (zeroed first; free it with s2_jsonl_free, also after a failure).
 * S2_E_IO when the file cannot be opened or read, S2_E_FORMAT for a malformed line or a corrupt gzip stream,
 * S2_E_NOMEM. */
s2_status s2_jsonl_read(const char *path, s2_jsonl *out, s2_error *err);
void s2_jsonl_free(s2_jsonl *j);

/* The string field key of row i (borrowed, valid while j lives). S2_E_FORMAT "FILE:LINE: no string field
 * \"key\"" when it is absent or not a string. */
s2_status s2_jsonl_str(const s2_jsonl *j, int32_t i, const char *key, const char **out, s2_error *err);
/* The integer field key of row i; S2_E_FORMAT like s2_jsonl_str. */
s2_status s2_jsonl_int(const s2_jsonl *j, int32_t i, const char *key, int64_t *out, s2_error *err);

#endif
