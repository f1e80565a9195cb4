/* cmd_gguf.c: `sys2 info` (what a GGUF file holds: version, every key, every tensor, totals; text or JSON) and
 * `sys2 quantize` (rewrite a GGUF with its 2-D weights in another type, through s2_gguf_quantize). */
#include <inttypes.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "quant.h"

int cmd_info(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

#define INFO_FIRST 5 /* array elements shown */

/* ---- info ---- */

static void info_usage(FILE *f) {
    fprintf(f,
            "usage: sys2 info -m MODEL [--json]\n"
            "       sys2 info -m MODEL.bin -z TOKENIZER.bin [--json]   (a llama2.c checkpoint: its header)\n"
            "\n"
            "Prints what a GGUF file holds: its version and alignment, every metadata key with its value (arrays as\n"
            "their element type, length and first %d elements), every tensor (name, type, shape, bytes), the\n"
            "parameter count (elements of all tensors) and the bytes of all tensors. A corrupt file is reported on\n"
            "stderr (exit status 1).\n"
            "\n"
            "options:\n"
            "  -m MODEL          a .gguf file\n"
            "  --json            one JSON object instead of text\n"
            "  -h, --help        this help\n"
            "\n"
            "example:\n"
            "  sys2 info -m stories260K.gguf\n",
            INFO_FIRST);
}

/* One scalar (or array element i) as text. */
static void print_scalar(s2_gguf_type t, const s2_gguf_kv *kv, uint64_t i) {
    const void *a = kv->type == S2_GGUF_ARRAY ? kv->arr : NULL;
    switch (t) {
    case S2_GGUF_UINT8: printf("%u", a ? ((const uint8_t *)a)[i] : (unsigned)kv->v.u); break;
    case S2_GGUF_INT8: printf("%d", a ? ((const int8_t *)a)[i] : (int)kv->v.i); break;
    case S2_GGUF_UINT16: printf("%u", a ? ((const uint16_t *)a)[i] : (unsigned)kv->v.u); break;
    case S2_GGUF_INT16: printf("%d", a ? ((const int16_t *)a)[i] : (int)kv->v.i); break;
    case S2_GGUF_UINT32: printf("%" PRIu32, a ? ((const uint32_t *)a)[i] : (uint32_t)kv->v.u); break;
    case S2_GGUF_INT32: printf("%" PRId32, a ? ((const int32_t *)a)[i] : (int32_t)kv->v.i); break;
    case S2_GGUF_UINT64: printf("%" PRIu64, a ? ((const uint64_t *)a)[i] : kv->v.u); break;
    case S2_GGUF_INT64: printf("%" PRId64, a ? ((const int64_t *)a)[i] : kv->v.i); break;
    case S2_GGUF_FLOAT32: printf("%.9g", a ? (double)((const float *)a)[i] : kv->v.f); break;
    case S2_GGUF_FLOAT64: printf("%.17g", a ? ((const double *)a)[i] : kv->v.f); break;
    case S2_GGUF_BOOL: printf("%s", (a ? ((const bool *)a)[i] : kv->v.b) ? "true" : "false"); break;
    default: break;
    }
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when s does not start one. */
static int utf8_len(const unsigned char *s) {
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 2 && s[0] < 0xc2) return 0; /* overlong */
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* A string quoted, with control characters and bytes that are not UTF-8 escaped, at most max bytes shown. */
static void print_quoted(const char *str, size_t max) {
    const unsigned char *s = (const unsigned char *)str;
    putchar('"');
    size_t shown = 0;
    while (*s && shown < max) {
        unsigned char c = *s;
        int n = utf8_len(s);
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f || n == 0) printf("\\x%02x", c);
        else {
            fwrite(s, 1, (size_t)n, stdout);
            s += n;
            shown += (size_t)n;
            continue;
        }
        s++;
        shown++;
    }
    putchar('"');
    if (*s) fputs("...", stdout);
}

/* Jansson refuses invalid UTF-8 and non-finite numbers (it returns NULL); a GGUF may hold both, so they come out
 * as a copy with each non-ASCII byte of an invalid string replaced by '?', and as the strings "nan", "inf". */
static char *ascii_copy(const char *s) {
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (c == NULL) return NULL;
    for (size_t i = 0; i <= n; i++) c[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    return c;
}

static json_t *jstr(const char *s) {
    json_t *j = json_string(s);
    if (j != NULL) return j;
    char *c = ascii_copy(s);
    j = c ? json_string(c) : json_null();
    free(c);
    return j;
}

static json_t *jreal(double f) {
    if (isfinite(f)) return json_real(f);
    return json_string(isnan(f) ? "nan" : f > 0 ? "inf" : "-inf");
}

static void jset(json_t *obj, const char *key, json_t *v) {
    if (json_object_set_new(obj, key, v) == 0) return;
    char *c = ascii_copy(key);
    if (c != NULL) json_object_set_new(obj, c, v);
    else json_decref(v);
    free(c);
}

static json_t *json_scalar(s2_gguf_type t, const s2_gguf_kv *kv, uint64_t i) {
    const void *a = kv->type == S2_GGUF_ARRAY ? kv->arr : NULL;
    switch (t) {
    case S2_GGUF_UINT8: return json_integer(a ? ((const uint8_t *)a)[i] : (json_int_t)kv->v.u);
    case S2_GGUF_INT8: return json_integer(a ? ((const int8_t *)a)[i] : kv->v.i);
    case S2_GGUF_UINT16: return json_integer(a ? ((const uint16_t *)a)[i] : (json_int_t)kv->v.u);
    case S2_GGUF_INT16: return json_integer(a ? ((const int16_t *)a)[i] : kv->v.i);
    case S2_GGUF_UINT32: return json_integer(a ? ((const uint32_t *)a)[i] : (json_int_t)kv->v.u);
    case S2_GGUF_INT32: return json_integer(a ? ((const int32_t *)a)[i] : kv->v.i);
    case S2_GGUF_INT64: return json_integer(a ? ((const int64_t *)a)[i] : kv->v.i);
    case S2_GGUF_UINT64: {
        uint64_t u = a ? ((const uint64_t *)a)[i] : kv->v.u;
        if (u <= (uint64_t)INT64_MAX) return json_integer((json_int_t)u);
        char buf[32]; /* beyond JSON's safe integers either way: a string keeps every digit */
        snprintf(buf, sizeof buf, "%" PRIu64, u);
        return json_string(buf);
    }
    case S2_GGUF_FLOAT32: return jreal(a ? ((const float *)a)[i] : kv->v.f);
    case S2_GGUF_FLOAT64: return jreal(a ? ((const double *)a)[i] : kv->v.f);
    case S2_GGUF_BOOL: return json_boolean(a ? ((const bool *)a)[i] : kv->v.b);
    case S2_GGUF_STRING: return jstr(kv->type == S2_GGUF_ARRAY ? kv->strs[i] : kv->str);
    default: return json_null();
    }
}

static int64_t tensor_elements(const s2_gguf_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

static const char *tensor_type_name(int32_t type) {
    const char *n = s2_type_name(type);
    return n ? n : "unknown";
}

static void info_text(const char *path, const s2_gguf *g) {
    printf("file: %s\n", path);
    printf("GGUF version %u, alignment %zu, %" PRId64 " keys, %" PRId64 " tensors\n", s2_gguf_version(g),
           s2_gguf_alignment(g), s2_gguf_n_kv(g), s2_gguf_n_tensors(g));
    printf("\nmetadata:\n");
    for (int64_t i = 0; i < s2_gguf_n_kv(g); i++) {
        const s2_gguf_kv *kv = s2_gguf_kv_at(g, i);
        printf("  %s = ", kv->key);
        if (kv->type == S2_GGUF_ARRAY) {
            printf("[%s x %" PRIu64 "]", s2_gguf_type_name(kv->arr_type), kv->n);
            for (uint64_t j = 0; j < kv->n && j < INFO_FIRST; j++) {
                fputs(j ? ", " : " ", stdout);
                if (kv->arr_type == S2_GGUF_STRING) print_quoted(kv->strs[j], 40);
                else print_scalar(kv->arr_type, kv, j);
            }
            if (kv->n > INFO_FIRST) fputs(", ...", stdout);
        } else if (kv->type == S2_GGUF_STRING) {
            print_quoted(kv->str, 200);
        } else {
            print_scalar(kv->type, kv, 0);
            printf(" (%s)", s2_gguf_type_name(kv->type));
        }
        putchar('\n');
    }
    printf("\ntensors:\n");
    int64_t n_params = 0, n_bytes = 0;
    for (int64_t i = 0; i < s2_gguf_n_tensors(g); i++) {
        const s2_gguf_tensor *t = s2_gguf_tensor_at(g, i);
        char shape[96];
        int len = snprintf(shape, sizeof shape, "[%" PRId64, t->ne[0]);
        for (int d = 1; d < t->n_dims; d++)
            len += snprintf(shape + len, sizeof shape - (size_t)len, ", %" PRId64, t->ne[d]);
        snprintf(shape + len, sizeof shape - (size_t)len, "]");
        printf("  %-32s %-6s %-22s %zu bytes\n", t->name, tensor_type_name(t->type), shape, t->nbytes);
        n_params += tensor_elements(t);
        n_bytes += (int64_t)t->nbytes;
    }
    printf("\nparameters: %" PRId64 "\ntensor bytes: %" PRId64 "\n", n_params, n_bytes);
}

static int info_json(const char *path, const s2_gguf *g) {
    json_t *root = json_object(), *meta = json_object(), *tensors = json_array();
    json_object_set_new(root, "file", jstr(path));
    json_object_set_new(root, "version", json_integer(s2_gguf_version(g)));
    json_object_set_new(root, "alignment", json_integer((json_int_t)s2_gguf_alignment(g)));
    for (int64_t i = 0; i < s2_gguf_n_kv(g); i++) {
        const s2_gguf_kv *kv = s2_gguf_kv_at(g, i);
        json_t *v;
        if (kv->type == S2_GGUF_ARRAY) {
            json_t *first = json_array();
            for (uint64_t j = 0; j < kv->n && j < INFO_FIRST; j++)
                json_array_append_new(first, json_scalar(kv->arr_type, kv, j));
            v = json_pack("{s:s, s:s, s:I, s:o}", "type", "array", "elem_type", s2_gguf_type_name(kv->arr_type),
                          "n", (json_int_t)kv->n, "first", first);
        } else {
            v = json_pack("{s:s, s:o}", "type", s2_gguf_type_name(kv->type), "value",
                          json_scalar(kv->type, kv, 0));
        }
        jset(meta, kv->key, v);
    }
    json_object_set_new(root, "metadata", meta);
    int64_t n_params = 0, n_bytes = 0;
    for (int64_t i = 0; i < s2_gguf_n_tensors(g); i++) {
        const s2_gguf_tensor *t = s2_gguf_tensor_at(g, i);
        json_t *shape = json_array();
        for (int d = 0; d < t->n_dims; d++) json_array_append_new(shape, json_integer(t->ne[d]));
        json_array_append_new(tensors, json_pack("{s:o, s:s, s:o, s:I, s:I}", "name", jstr(t->name), "type",
                                                 tensor_type_name(t->type), "shape", shape, "bytes",
                                                 (json_int_t)t->nbytes, "offset", (json_int_t)t->offset));
        n_params += tensor_elements(t);
        n_bytes += (int64_t)t->nbytes;
    }
    json_object_set_new(root, "tensors", tensors);
    json_object_set_new(root, "n_params", json_integer(n_params));
    json_object_set_new(root, "n_bytes", json_integer(n_bytes));
    int rc = json_dumpf(root, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER) == 0 ? 0 : 1;
    putchar('\n');
    json_decref(root);
    return rc;
}

/* A llama2.c checkpoint has no metadata to list: its header, as the loader reads it. */
static int info_llama2c(const char *model, const char *tokenizer, bool json) {
    s2_model_params mp = s2_model_default_params();
    mp.tokenizer = tokenizer;
    s2_model *m = NULL;
    s2_error err = {0};
    if (s2_model_load(model, &mp, &m, &err) != S2_OK) return cli_fail("info", &err);
    const s2_hparams *hp = s2_model_hparams(m);
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:I, s:I}", "file", model,
                              "format", "llama2.c", "arch", hp->arch, "n_vocab", hp->n_vocab, "n_ctx_train",
                              hp->n_ctx_train, "n_embd", hp->n_embd, "n_layer", hp->n_layer, "n_head", hp->n_head,
                              "n_head_kv", hp->n_head_kv, "n_ff", hp->n_ff, "tied_output", hp->tied_output,
                              "n_params", (json_int_t)s2_model_n_params(m), "n_bytes",
                              (json_int_t)s2_model_weight_bytes(m));
        json_dumpf(j, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(j);
    } else {
        printf("file: %s\nllama2.c checkpoint (F32), tokenizer %s\n", model, tokenizer);
        printf("  dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %d, seq_len %d, %s classifier\n",
               hp->n_embd, hp->n_ff, hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_vocab, hp->n_ctx_train,
               hp->tied_output ? "shared" : "separate");
        printf("parameters: %lld (%lld bytes)\n", (long long)s2_model_n_params(m), (long long)s2_model_weight_bytes(m));
    }
    s2_model_free(m);
    return 0;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *user) {
    char **buf = user;
    size_t n = size * nmemb, have = *buf ? strlen(*buf) : 0;
    if (have + n > (1u << 20)) return 0; /* a models list is small: refuse a flood */
    char *nb = realloc(*buf, have + n + 1);
    if (nb == NULL) return 0;
    memcpy(nb + have, data, n);
    nb[have + n] = '\0';
    *buf = nb;
    return n;
}

/* A server's info: what GET URL/models says (the models it serves), as text or the JSON itself. */
static int info_remote(const char *url, bool json) {
    char full[2048], *body = NULL, cerr[CURL_ERROR_SIZE] = "";
    snprintf(full, sizeof full, "%s%smodels", url, url[strlen(url) - 1] == '/' ? "" : "/");
    CURL *c = curl_easy_init();
    if (c == NULL) return 1;
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    const char *key = getenv("SYS2_API_KEY");
    struct curl_slist *h = NULL;
    char auth[1100];
    if (key != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    json_error_t je;
    json_t *j = cc == CURLE_OK && code == 200 && body ? json_loads(body, 0, &je) : NULL;
    json_t *data = json_object_get(j, "data");
    int rc = 0;
    if (!json_is_array(data)) {
        fprintf(stderr, "sys2 info: error: GET %s: %s\n", full,
                cc != CURLE_OK ? (cerr[0] ? cerr : curl_easy_strerror(cc)) : code != 200 ? "HTTP error" : "no model list");
        if (cc == CURLE_OK && code != 200) fprintf(stderr, "  (HTTP %ld)\n", code);
        rc = 1;
    } else if (json) {
        json_dumpf(j, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        printf("server: %s\nmodels (GET %s): %zu\n", url, full, json_array_size(data));
        size_t i;
        json_t *m;
        json_array_foreach(data, i, m) {
            const char *id = json_string_value(json_object_get(m, "id"));
            const char *owner = json_string_value(json_object_get(m, "owned_by"));
            printf("  %s%s%s\n", id ? id : "?", owner ? "  owned by " : "", owner ? owner : "");
        }
    }
    json_decref(j);
    free(body);
    return rc;
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            info_usage(stdout);
            return 0;
        } else if (cli_flag(argc, argv, &i, "-m", "--model", &v, &bad)) {
            if (bad) return 2;
            model = v;
        } else if (cli_flag(argc, argv, &i, "-z", "--tokenizer", &v, &bad)) {
            if (bad) return 2;
            tokenizer = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            return cli_usage("info", "unknown argument '%s'", argv[i]);
        }
    }
    if (model == NULL) return cli_usage("info", "-m MODEL is required");
    if (cli_is_url(model)) return info_remote(model, json);
    if (tokenizer != NULL) return info_llama2c(model, tokenizer, json);
    s2_gguf *g = NULL;
    s2_error err = {0};
    if (s2_gguf_open(model, &g, &err) != S2_OK) return cli_fail("info", &err);
    int rc = json ? info_json(model, g) : (info_text(model, g), 0);
    s2_gguf_free(g);
    return rc;
}

/* ---- quantize ---- */

static void quantize_usage(FILE *f) {
    fprintf(f,
            "usage: sys2 quantize IN.gguf OUT.gguf TYPE\n"
            "\n"
            "Writes OUT with every 2-D tensor of IN converted to TYPE (q8_0, q4_0, f16, bf16 or f32) where its row\n"
            "length is a multiple of TYPE's block (32 for q8_0 and q4_0); 1-D tensors such as norms, and tensors in\n"
            "types sys2 cannot read, are copied unchanged. Every metadata key is copied and general.file_type set\n"
            "(0 f32, 1 f16, 2 q4_0, 7 q8_0, 32 bf16). OUT is written to OUT.tmp and renamed, so it is never left\n"
            "half-written.\n"
            "\n"
            "options:\n"
            "  -h, --help        this help\n"
            "\n"
            "example:\n"
            "  sys2 quantize stories260K.gguf stories260K-q8_0.gguf q8_0\n");
}

int cmd_quantize(int argc, char **argv) {
    const char *pos[3];
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            quantize_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') return cli_usage("quantize", "unknown option '%s'", argv[i]);
        if (n_pos == 3) return cli_usage("quantize", "too many arguments");
        pos[n_pos++] = argv[i];
    }
    if (n_pos != 3) return cli_usage("quantize", "expected IN.gguf OUT.gguf TYPE");
    int32_t type = s2_type_from_name(pos[2]);
    if (type != S2_TYPE_Q8_0 && type != S2_TYPE_Q4_0 && type != S2_TYPE_F16 && type != S2_TYPE_BF16 &&
        type != S2_TYPE_F32)
        return cli_usage("quantize", "TYPE '%s' is not one of q8_0, q4_0, f16, bf16, f32", pos[2]);
    if (strcmp(pos[0], pos[1]) == 0) return cli_usage("quantize", "OUT must differ from IN");
    s2_error err = {0};
    if (s2_gguf_quantize(pos[0], pos[1], type, &err) != S2_OK) return cli_fail("quantize", &err);

    /* the summary, from the two files as they are now */
    s2_gguf *a = NULL, *b = NULL;
    if (s2_gguf_open(pos[0], &a, &err) != S2_OK || s2_gguf_open(pos[1], &b, &err) != S2_OK) {
        s2_gguf_free(a);
        return cli_fail("quantize", &err);
    }
    int64_t converted = 0, before = 0, after = 0;
    for (int64_t i = 0; i < s2_gguf_n_tensors(a); i++) {
        const s2_gguf_tensor *ta = s2_gguf_tensor_at(a, i), *tb = s2_gguf_tensor_at(b, i);
        before += (int64_t)ta->nbytes;
        after += (int64_t)tb->nbytes;
        converted += ta->type != tb->type;
    }
    printf("%s -> %s (%s): %" PRId64 " of %" PRId64 " tensors converted, tensor bytes %" PRId64 " -> %" PRId64
           " (%.1f%%)\n",
           pos[0], pos[1], s2_type_name(type), converted, s2_gguf_n_tensors(a), before, after,
           before > 0 ? 100.0 * (double)after / (double)before : 100.0);
    s2_gguf_free(a);
    s2_gguf_free(b);
    return 0;
}
