/* cmd_tokenize.c: `sys2 tokenize`: text to token ids with the vocabulary of a GGUF file (vocab-only files work: no
 * tensors are touched), of a llama2.c checkpoint and its tok*.bin, or of a server (-m URL: its tokenize endpoint,
 * through s2_lm_tokenize). Prints ids, or one "id<TAB>piece" line per token with control characters escaped. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "tokenizer.h"
#include "unicode.h"

int cmd_tokenize(int argc, char **argv);

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: sys2 tokenize -m MODEL|URL [-z TOK.bin] [--no-bos] [--ids] [--special] TEXT\n"
            "\n"
            "Prints the tokens of TEXT (TEXT '-' reads standard input): one line per token, \"id<TAB>piece\", with\n"
            "\\n, \\t, \\r, \\\\ and \\xNN for control characters and bytes that are not UTF-8; or, with --ids, the ids\n"
            "on one line separated by spaces.\n"
            "With -m http://HOST:PORT/v1 the server's own tokenizer answers (POST /tokenize: sys2 serve, llama-server,\n"
            "vLLM, SGLang; an OpenAI server has none); vLLM and SGLang always turn special tokens' text into their ids\n"
            "(give --special) and give no pieces (ids only).\n"
            "\n"
            "options:\n"
            "  -m MODEL          a .gguf file (a vocab-only one is enough), a llama2.c .bin checkpoint (with -z), or a\n"
            "                    server http://HOST:PORT/v1 (--server KIND as for every command)\n"
            "  -z TOKENIZER      llama2.c tokenizer (tok*.bin) for a .bin model; its size comes from the .bin header\n"
            "  --no-bos          do not prepend BOS (it is prepended where the vocabulary says to add it)\n"
            "  --ids             print only the ids\n"
            "  --special         turn the text of control tokens (\"<s>\", \"<|im_end|>\") into their ids\n"
            "  -h, --help        this help\n"
            "\n"
            "examples:\n"
            "  sys2 tokenize -m ggml-vocab-qwen2.gguf --ids 'Hello world'\n"
            "  sys2 tokenize -m stories260K.bin -z tok512.bin 'Once upon a time'\n");
}

/* The vocabulary of path: a GGUF's tokenizer.ggml.* keys, or (any other file, with tok) llama2.c's tokenizer sized
 * by the checkpoint's header. *usage is set when the flags, not the files, are wrong. */
static s2_status load_vocab(const char *path, const char *tok, s2_vocab **out, bool *usage, s2_error *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return s2_error_set(err, S2_E_IO, "%s: cannot open", path);
    int32_t h[7] = {0};
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got >= 4 && memcmp(h, "GGUF", 4) == 0) {
        s2_gguf *g = NULL;
        s2_status st = s2_gguf_open(path, &g, err);
        if (st == S2_OK) st = s2_vocab_from_gguf(g, out, err);
        s2_gguf_free(g);
        if (st != S2_OK) s2_error_prefix(err, path);
        return st;
    }
    if (tok == NULL) {
        *usage = true;
        return s2_error_set(err, S2_E_ARG, "%s is not a GGUF file; a llama2.c checkpoint needs -z TOKENIZER", path);
    }
    if (got < sizeof h) return s2_error_set(err, S2_E_FORMAT, "%s: too short for a llama2.c header", path);
    int64_t n_vocab = h[5] < 0 ? -(int64_t)h[5] : h[5]; /* negative: an unshared classifier */
    if (n_vocab <= 0 || n_vocab > INT32_MAX)
        return s2_error_set(err, S2_E_FORMAT, "%s: header says vocab_size %d", path, h[5]);
    return s2_vocab_from_llama2c(tok, (int32_t)n_vocab, out, err);
}

static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        int len = c >= 0x80 ? s2_utf8_decode(s + i, n - i, &cp) : 1;
        if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7f || len == 0) printf("\\x%02x", c);
        else {
            fwrite(s + i, 1, (size_t)len, stdout);
            i += (size_t)len;
            continue;
        }
        i++;
    }
}

/* Prints n tokens: ids on one line, or "id<TAB>piece" lines (piece i of bytes at off[i] .. off[i + 1]; pieces NULL:
 * the id alone). */
static void print_tokens(const int32_t *ids, int32_t n, const char *bytes, const int32_t *off, bool ids_only) {
    for (int32_t i = 0; i < n; i++) {
        if (ids_only) {
            printf(i ? " %d" : "%d", ids[i]);
            continue;
        }
        printf(bytes ? "%d\t" : "%d", ids[i]);
        if (bytes) print_escaped(bytes + off[i], (size_t)(off[i + 1] - off[i]));
        putchar('\n');
    }
    if (ids_only) putchar('\n');
}

/* -m URL: the server's tokenizer, through s2_lm. A server kind without one is a usage error (exit 2) naming it. */
static int tokenize_remote(const cli_model_opts *o, const char *text, size_t len, bool bos, bool special,
                           bool ids_only) {
    const char *cmd = "tokenize";
    s2_lm *lm = NULL;
    int rc = cli_open_lm(cmd, o, &lm);
    if (rc != 0) return rc;
    s2_error err = {0};
    s2_lm_caps caps;
    s2_lm_tokens t = {0};
    if (s2_lm_caps_get(lm, &caps, &err) != S2_OK) {
        rc = cli_fail(cmd, &err);
    } else if (!caps.tokenizer) {
        rc = cli_usage(cmd, "-m %s: %s has no tokenize endpoint (the OpenAI API gives no tokenizer); give the model or "
                       "vocabulary file", o->model, caps.server);
    } else if (s2_lm_tokenize(lm, text, len, bos, special, &t, &err) != S2_OK) {
        rc = cli_fail(cmd, &err);
    } else {
        if (t.bytes == NULL && !ids_only)
            fprintf(stderr, "sys2 tokenize: %s gives no pieces: ids only\n", caps.server);
        print_tokens(t.ids, t.n, t.bytes, t.piece_off, ids_only);
        rc = fflush(stdout) == 0 ? 0 : 1;
    }
    s2_lm_tokens_free(&t);
    s2_lm_free(lm);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *cmd = "tokenize";
    cli_model_opts o = {0};
    bool no_bos = false, ids_only = false, special = false;
    const char *text = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            tokenize_usage(stdout);
            return 0;
        }
        int r = cli_model_flag(&o, argc, argv, &i);
        if (r < 0) return cli_usage(cmd, "bad value for %s", a);
        if (r > 0) continue;
        if (strcmp(a, "--no-bos") == 0) no_bos = true;
        else if (strcmp(a, "--ids") == 0) ids_only = true;
        else if (strcmp(a, "--special") == 0) special = true;
        else if (a[0] == '-' && a[1] != '\0' && strcmp(a, "--") != 0) return cli_usage(cmd, "unknown option %s", a);
        else if (strcmp(a, "--") == 0 && i + 1 < argc && text == NULL) text = argv[++i];
        else if (text == NULL) text = a;
        else return cli_usage(cmd, "one TEXT only (quote it): '%s' follows '%s'", a, text);
    }
    if (o.model == NULL) return cli_usage(cmd, "-m MODEL is required");
    if (text == NULL) return cli_usage(cmd, "no TEXT given");

    s2_error err = {0};
    size_t len = 0;
    char *owned = NULL;
    if (strcmp(text, "-") == 0) {
        owned = cli_read_all(stdin, 0, &len);
        if (owned == NULL) {
            s2_error_set(&err, S2_E_NOMEM, "reading standard input: out of memory");
            return cli_fail(cmd, &err);
        }
        text = owned;
    } else {
        len = strlen(text);
    }
    if (cli_is_url(o.model)) {
        int rc = tokenize_remote(&o, text, len, !no_bos, special, ids_only);
        free(owned);
        return rc;
    }
    s2_vocab *v = NULL;
    bool usage = false;
    if (load_vocab(o.model, o.tokenizer, &v, &usage, &err) != S2_OK) {
        free(owned);
        return usage ? cli_usage(cmd, "%s", err.msg) : cli_fail(cmd, &err);
    }
    int32_t cap = (int32_t)(len < (size_t)INT32_MAX - 16 ? len + 16 : INT32_MAX);
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    int32_t n = ids ? s2_tokenize(v, text, len, !no_bos, special, ids, cap) : 0;
    if (ids != NULL && n < 0) { /* cannot happen with len + 16, but the API allows it */
        cap = -n;
        int32_t *nids = realloc(ids, (size_t)cap * sizeof *ids);
        if (nids == NULL) free(ids);
        ids = nids;
        n = ids ? s2_tokenize(v, text, len, !no_bos, special, ids, cap) : 0;
    }
    if (ids == NULL) {
        free(owned);
        s2_vocab_free(v);
        s2_error_set(&err, S2_E_NOMEM, "out of memory for %zu bytes of text", len);
        return cli_fail(cmd, &err);
    }
    char piece[256];
    for (int32_t i = 0; i < n; i++) {
        if (ids_only) {
            printf(i ? " %d" : "%d", ids[i]);
            continue;
        }
        int32_t m = s2_token_to_piece(v, ids[i], true, piece, (int32_t)sizeof piece);
        printf("%d\t", ids[i]);
        if (m >= 0) {
            print_escaped(piece, (size_t)m);
        } else {
            char *big = malloc((size_t)-m);
            if (big != NULL && s2_token_to_piece(v, ids[i], true, big, -m) == -m) print_escaped(big, (size_t)-m);
            free(big);
        }
        putchar('\n');
    }
    if (ids_only) putchar('\n');
    free(ids);
    free(owned);
    s2_vocab_free(v);
    return fflush(stdout) == 0 ? 0 : 1;
}
