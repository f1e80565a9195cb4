/* jsonl.c: JSON Lines through zlib (gzopen reads gzip'd and plain files alike) and Jansson. Lines may be any
 * length; each non-blank line must be one JSON object. Errors name the file and line. Never prints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "jsonl.h"
#include "task_impl.h"

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
    return true;
}

/* Appends one parsed line to j, growing its arrays. */
static s2_status push_row(s2_jsonl *j, json_t *row, int32_t line, int32_t *cap, s2_error *err) {
    if (j->n == *cap) {
        int32_t nc = *cap ? 2 * *cap : 256;
        json_t **r = realloc(j->rows, (size_t)nc * sizeof *r);
        if (r == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", j->path);
        j->rows = r;
        int32_t *l = realloc(j->line, (size_t)nc * sizeof *l);
        if (l == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", j->path);
        j->line = l;
        *cap = nc;
    }
    j->rows[j->n] = row;
    j->line[j->n] = line;
    j->n++;
    return S2_OK;
}

static s2_status parse_line(s2_jsonl *j, const char *s, size_t n, int32_t line, int32_t *cap, s2_error *err) {
    if (blank(s, n)) return S2_OK;
    json_error_t je;
    json_t *row = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    if (row == NULL) return s2_error_set(err, S2_E_FORMAT, "%s:%d: %s", j->path, (int)line, je.text);
    if (!json_is_object(row)) {
        json_decref(row);
        return s2_error_set(err, S2_E_FORMAT, "%s:%d: not a JSON object", j->path, (int)line);
    }
    s2_status st = push_row(j, row, line, cap, err);
    if (st != S2_OK) json_decref(row);
    return st;
}

s2_status s2_jsonl_read(const char *path, s2_jsonl *out, s2_error *err) {
    memset(out, 0, sizeof *out);
    if (path == NULL) return s2_error_set(err, S2_E_ARG, "jsonl: NULL path");
    out->path = s2_strdup(path);
    if (out->path == NULL) return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", path);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        return s2_error_set(err, S2_E_IO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gzbuffer(f, 1 << 16);
    s2_buf line = {0};
    char chunk[1 << 14];
    int32_t lineno = 1, cap = 0;
    s2_status st = S2_OK;
    for (;;) {
        if (gzgets(f, chunk, (int)sizeof chunk) == NULL) {
            int zerr = 0;
            const char *zmsg = gzerror(f, &zerr);
            if (zerr == Z_BUF_ERROR) { /* zlib's word for a stream cut short */
                st = s2_error_set(err, S2_E_FORMAT, "%s:%d: truncated gzip stream", path, (int)lineno);
                break;
            }
            if (zerr != Z_OK) {
                st = s2_error_set(err, zerr == Z_ERRNO ? S2_E_IO : S2_E_FORMAT, "%s:%d: %s", path, (int)lineno,
                                  zerr == Z_ERRNO ? strerror(errno) : zmsg);
                break;
            }
            if (!gzeof(f)) {
                st = s2_error_set(err, S2_E_FORMAT, "%s:%d: %s", path, (int)lineno, zmsg);
                break;
            }
            /* the last line, without a newline */
            if (line.n > 0) st = parse_line(out, line.p, line.n, lineno, &cap, err);
            break;
        }
        size_t len = strlen(chunk);
        if (len + 1 < sizeof chunk && len > 0 && chunk[len - 1] != '\n' && !gzeof(f)) {
            /* gzgets stopped early without a newline: a NUL byte inside the line */
            st = s2_error_set(err, S2_E_FORMAT, "%s:%d: NUL byte in line", path, (int)lineno);
            break;
        }
        s2_buf_append(&line, chunk, len);
        if (line.oom) {
            st = s2_error_set(err, S2_E_NOMEM, "%s:%d: out of memory", path, (int)lineno);
            break;
        }
        if (len > 0 && chunk[len - 1] == '\n') {
            st = parse_line(out, line.p, line.n, lineno, &cap, err);
            if (st != S2_OK) break;
            line.n = 0;
            lineno++;
        }
    }
    s2_buf_free(&line);
    int zc = gzclose(f);
    if (st == S2_OK && zc != Z_OK) st = s2_error_set(err, S2_E_FORMAT, "%s: corrupt gzip stream", path);
    return st;
}

void s2_jsonl_free(s2_jsonl *j) {
    if (j == NULL) return;
    for (int32_t i = 0; i < j->n; i++) json_decref(j->rows[i]);
    free(j->rows);
    free(j->line);
    free(j->path);
    memset(j, 0, sizeof *j);
}

s2_status s2_jsonl_str(const s2_jsonl *j, int32_t i, const char *key, const char **out, s2_error *err) {
    json_t *v = json_object_get(j->rows[i], key);
    if (!json_is_string(v))
        return s2_error_set(err, S2_E_FORMAT, "%s:%d: no string field \"%s\"", j->path, (int)j->line[i], key);
    *out = json_string_value(v);
    return S2_OK;
}

s2_status s2_jsonl_int(const s2_jsonl *j, int32_t i, const char *key, int64_t *out, s2_error *err) {
    json_t *v = json_object_get(j->rows[i], key);
    if (!json_is_integer(v))
        return s2_error_set(err, S2_E_FORMAT, "%s:%d: no integer field \"%s\"", j->path, (int)j->line[i], key);
    *out = (int64_t)json_integer_value(v);
    return S2_OK;
}
