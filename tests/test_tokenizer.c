/* Tokenizers: every test vector of the shared vocab files (ids from Hugging Face's encode, no BOS, no special
 * parsing) and of stories260K (through its GGUF and through llama2.c's tok512.bin), decoding back to the exact text,
 * a naive byte-level BPE twin, the character vocabulary by hand, GGUF round trips, bad input, and the CLI. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "testutil.h"
#include "tokenizer.h"
#include "unicode.h"

/* ---- helpers ---- */

/* The vocabulary of a GGUF under the shared folder, or NULL (skipped) when absent. */
static s2_vocab *load_gguf_vocab(const char *rel, const char *test) {
    const char *path = t_shared(rel, test);
    if (path == NULL) return NULL;
    s2_gguf *g = NULL;
    s2_vocab *v = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_gguf_open(path, &g, &err) == S2_OK, "%s: %s", rel, err.msg);
    ck_assert_msg(s2_vocab_from_gguf(g, &v, &err) == S2_OK, "%s: %s", rel, err.msg);
    s2_gguf_free(g);
    return v;
}

static s2_vocab *load_tok512(const char *test) {
    const char *path = t_shared("models/tok512.bin", test);
    if (path == NULL) return NULL;
    s2_vocab *v = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_vocab_from_llama2c(path, 512, &v, &err) == S2_OK, "%s", err.msg);
    return v;
}

/* The test strings of NAME.inp (each followed by "\n__ggml_vocab_test__\n") and the id lines of NAME.out. */
typedef struct vectors {
    char *inp, *out;
    int n;
    const char *text[64];
    size_t len[64];
    int32_t n_ids[64];
    int32_t ids[64][512];
} vectors;

static vectors *load_vectors(const char *rel_inp, const char *test) {
    char rel_out[256];
    snprintf(rel_out, sizeof rel_out, "%.*s.out", (int)(strlen(rel_inp) - 4), rel_inp);
    const char *p = t_shared(rel_inp, test);
    if (p == NULL) return NULL;
    vectors *vs = calloc(1, sizeof *vs);
    ck_assert_ptr_nonnull(vs);
    vs->inp = t_read_file(p, NULL);
    p = t_shared(rel_out, test);
    ck_assert_ptr_nonnull(p);
    vs->out = t_read_file(p, NULL);
    ck_assert(vs->inp != NULL && vs->out != NULL);
    const char *sep = "\n__ggml_vocab_test__\n";
    char *s = vs->inp, *o = vs->out;
    for (char *e; (e = strstr(s, sep)) != NULL; s = e + strlen(sep)) {
        ck_assert_int_lt(vs->n, 64);
        char *nl = strchr(o, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        vs->text[vs->n] = s;
        vs->len[vs->n] = (size_t)(e - s);
        for (char *q = o, *end; *q != '\0'; q = end) {
            long id = strtol(q, &end, 10);
            ck_assert_ptr_ne(end, q);
            ck_assert_int_lt(vs->n_ids[vs->n], 512);
            vs->ids[vs->n][vs->n_ids[vs->n]++] = (int32_t)id;
        }
        vs->n++;
        o = nl + 1;
    }
    ck_assert_int_ge(vs->n, 40);
    return vs;
}

static void free_vectors(vectors *vs) {
    if (vs == NULL) return;
    free(vs->inp);
    free(vs->out);
    free(vs);
}

/* Encodes every vector (no BOS, no special parsing) and decodes every expected id list back to its text. */
static void check_vectors(const s2_vocab *v, const vectors *vs, const char *name) {
    int32_t ids[1024];
    char text[4096];
    for (int i = 0; i < vs->n; i++) {
        int32_t n = s2_tokenize(v, vs->text[i], vs->len[i], false, false, ids, 1024);
        ck_assert_msg(n == vs->n_ids[i], "%s vector %d ('%.30s'): %d ids, expected %d", name, i, vs->text[i], n,
                      vs->n_ids[i]);
        for (int32_t k = 0; k < n; k++)
            ck_assert_msg(ids[k] == vs->ids[i][k], "%s vector %d ('%.30s'): id %d is %d, expected %d", name, i,
                          vs->text[i], k, ids[k], vs->ids[i][k]);
        int32_t m = s2_detokenize(v, vs->ids[i], vs->n_ids[i], false, text, (int32_t)sizeof text - 1);
        ck_assert_msg(m == (int32_t)vs->len[i] && memcmp(text, vs->text[i], vs->len[i]) == 0,
                      "%s vector %d: decodes to '%s' (%d bytes), not '%.*s'", name, i, text, m, (int)vs->len[i],
                      vs->text[i]);
    }
}

/* ---- UTF-8 and GPT-2's byte map ---- */

START_TEST(test_tokenizer_unicode_helpers)
{
    uint32_t cp = 0;
    ck_assert_int_eq(s2_utf8_decode("\xe2\x96\x81", 3, &cp), 3);
    ck_assert_uint_eq(cp, 0x2581);
    ck_assert_int_eq(s2_utf8_decode("\xf0\x9f\xa6\x99", 4, &cp), 4);
    ck_assert_uint_eq(cp, 0x1f999);
    ck_assert_int_eq(s2_utf8_decode("\xc0\xaf", 2, &cp), 0);         /* overlong '/' */
    ck_assert_int_eq(s2_utf8_decode("\xed\xa0\x80", 3, &cp), 0);     /* surrogate */
    ck_assert_int_eq(s2_utf8_decode("\xf4\x90\x80\x80", 4, &cp), 0); /* above U+10FFFF */
    ck_assert_int_eq(s2_utf8_decode("\xe2\x96", 2, &cp), 0);         /* truncated */
    ck_assert_int_eq(s2_utf8_decode("\x96", 1, &cp), 0);             /* stray continuation */
    char buf[4];
    for (uint32_t c = 0; c < 0x110000; c += (c < 0x1000 ? 1 : 97)) {
        int n = s2_utf8_encode(c, buf);
        if (c >= 0xd800 && c <= 0xdfff) {
            ck_assert_int_eq(n, 0);
            continue;
        }
        ck_assert_int_eq(s2_utf8_decode(buf, (size_t)n, &cp), n);
        ck_assert_uint_eq(cp, c);
    }
    /* GPT-2's bytes_to_unicode(): printable Latin-1 maps to itself, the rest to U+0100.. in byte order */
    ck_assert_uint_eq(s2_byte_to_cp(0x00), 0x100);
    ck_assert_uint_eq(s2_byte_to_cp(' '), 0x120);  /* the familiar 'Ġ' */
    ck_assert_uint_eq(s2_byte_to_cp('\n'), 0x10a); /* 'Ċ' */
    ck_assert_uint_eq(s2_byte_to_cp(0x7f), 0x121);
    ck_assert_uint_eq(s2_byte_to_cp(0xad), 0x143);
    ck_assert_uint_eq(s2_byte_to_cp('A'), 'A');
    ck_assert_uint_eq(s2_byte_to_cp(0xe9), 0xe9);
    for (int b = 0; b < 256; b++) ck_assert_int_eq(s2_cp_to_byte(s2_byte_to_cp((uint8_t)b)), b);
    ck_assert_int_eq(s2_cp_to_byte(0x144), -1);
    ck_assert_int_eq(s2_cp_to_byte(' '), -1);
}
END_TEST

/* ---- the shared test vectors ---- */

static const char *const vocab_names[] = {
    "llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder",
    "falcon", "mpt", "starcoder", "refact",
};

START_TEST(test_tokenizer_vocab_vectors)
{
    char rel[128], inp[160];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", vocab_names[_i]);
    snprintf(inp, sizeof inp, "%s.inp", rel);
    s2_vocab *v = load_gguf_vocab(rel, "test_tokenizer_vocab_vectors");
    if (v == NULL) return;
    vectors *vs = load_vectors(inp, "test_tokenizer_vocab_vectors");
    ck_assert_ptr_nonnull(vs);
    check_vectors(v, vs, vocab_names[_i]);
    free_vectors(vs);
    s2_vocab_free(v);
}
END_TEST

START_TEST(test_tokenizer_stories260k_gguf_vectors)
{
    s2_vocab *v = load_gguf_vocab("models/stories260K.gguf", "test_tokenizer_stories260k_gguf_vectors");
    if (v == NULL) return;
    ck_assert_int_eq(s2_vocab_kind_of(v), S2_VOCAB_SPM);
    ck_assert_int_eq(s2_vocab_n_tokens(v), 512);
    vectors *vs = load_vectors("models/stories260K.gguf.inp", "test_tokenizer_stories260k_gguf_vectors");
    check_vectors(v, vs, "stories260K.gguf");
    free_vectors(vs);
    s2_vocab_free(v);
}
END_TEST

START_TEST(test_tokenizer_tok512_vectors)
{
    s2_vocab *v = load_tok512("test_tokenizer_tok512_vectors");
    if (v == NULL) return;
    vectors *vs = load_vectors("models/stories260K.gguf.inp", "test_tokenizer_tok512_vectors");
    check_vectors(v, vs, "tok512.bin");
    free_vectors(vs);
    s2_vocab_free(v);
}
END_TEST

/* llama2.c's export writes U+2581 as ' ' and BOS/EOS as "\n<s>\n": read back, tok512.bin is the vocabulary that
 * llama.cpp's converter put into stories260K.gguf (texts and types). */
START_TEST(test_tokenizer_tok512_matches_converted_gguf)
{
    s2_vocab *a = load_tok512("test_tokenizer_tok512_matches_converted_gguf");
    if (a == NULL) return;
    s2_vocab *b = load_gguf_vocab("models/stories260K.gguf", "test_tokenizer_tok512_matches_converted_gguf");
    if (b == NULL) {
        s2_vocab_free(a);
        return;
    }
    for (int32_t i = 0; i < 512; i++) {
        ck_assert_msg(strcmp(s2_vocab_text(a, i), s2_vocab_text(b, i)) == 0, "token %d: '%s' vs '%s'", i,
                      s2_vocab_text(a, i), s2_vocab_text(b, i));
        ck_assert_msg(s2_vocab_type(a, i) == s2_vocab_type(b, i), "token %d: type %d vs %d", i, s2_vocab_type(a, i),
                      s2_vocab_type(b, i));
    }
    ck_assert_int_eq(s2_vocab_bos(a), s2_vocab_bos(b));
    ck_assert_int_eq(s2_vocab_eos(a), s2_vocab_eos(b));
    ck_assert_ptr_null(s2_vocab_text(a, 512));
    ck_assert_ptr_null(s2_vocab_text(a, -1));
    s2_vocab_free(a);
    s2_vocab_free(b);
}
END_TEST

/* The reference prompt of shared/reference/stories260K: "Once upon a time" with BOS is 1 403 407 261 378, and
 * decoding drops the space SentencePiece prefixed (run.c's output starts "Once upon"). */
START_TEST(test_tokenizer_once_upon_a_time)
{
    s2_vocab *v = load_tok512("test_tokenizer_once_upon_a_time");
    if (v == NULL) return;
    const char *text = "Once upon a time";
    int32_t ids[16], want[] = {1, 403, 407, 261, 378};
    ck_assert_int_eq(s2_tokenize(v, text, strlen(text), true, false, ids, 16), 5);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(ids[i], want[i]);
    char buf[64];
    ck_assert_int_eq(s2_detokenize(v, ids, 5, false, buf, sizeof buf - 1), (int32_t)strlen(text));
    ck_assert_str_eq(buf, text);
    ck_assert_int_eq(s2_detokenize(v, ids, 5, true, buf, sizeof buf - 1), (int32_t)strlen(text) + 3);
    ck_assert_str_eq(buf, "<s>Once upon a time");
    ck_assert_int_eq(s2_token_to_piece(v, 403, false, buf, sizeof buf), 5);
    ck_assert_int_eq(memcmp(buf, " Once", 5), 0);
    ck_assert_int_eq(s2_token_to_piece(v, 1, false, buf, sizeof buf), 0);
    ck_assert_int_eq(s2_token_to_piece(v, 1, true, buf, sizeof buf), 3);
    ck_assert_int_eq(s2_token_to_piece(v, 3 + '\n', false, buf, sizeof buf), 1); /* <0x0A> */
    ck_assert_int_eq(buf[0], '\n');
    ck_assert(s2_vocab_is_eog(v, 2));
    ck_assert(!s2_vocab_is_eog(v, 1));
    ck_assert_int_eq(s2_vocab_type(v, 1), S2_TOKEN_CONTROL);
    ck_assert_int_eq(s2_vocab_type(v, 3), S2_TOKEN_BYTE);
    s2_vocab_free(v);
}
END_TEST

START_TEST(test_tokenizer_buffer_too_small_returns_needed)
{
    s2_vocab *v = load_tok512("test_tokenizer_buffer_too_small_returns_needed");
    if (v == NULL) return;
    const char *text = "Once upon a time";
    int32_t ids[2] = {-7, -7};
    ck_assert_int_eq(s2_tokenize(v, text, strlen(text), true, false, ids, 2), -5);
    ck_assert_int_eq(ids[0], 1); /* the prefix that fits */
    ck_assert_int_eq(ids[1], 403);
    ck_assert_int_eq(s2_tokenize(v, text, strlen(text), true, false, NULL, 0), -5);
    char buf[10];
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(s2_token_to_piece(v, 403, false, buf, 3), -5);
    ck_assert_int_eq(buf[3], 'x'); /* nothing past cap */
    int32_t all[] = {1, 403, 407, 261, 378};
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(s2_detokenize(v, all, 5, false, buf, 8), -16);
    ck_assert_str_eq(buf, "Once upo"); /* cap bytes, then the NUL */
    ck_assert_int_eq(buf[9], 'x');
    ck_assert_int_eq(s2_detokenize(v, all, 5, false, NULL, 0), -16);
    char fit[17];
    ck_assert_int_eq(s2_detokenize(v, all, 5, false, fit, 16), 16);
    ck_assert_str_eq(fit, "Once upon a time");
    s2_vocab_free(v);
}
END_TEST

START_TEST(test_tokenizer_empty_text)
{
    s2_vocab *v = load_tok512("test_tokenizer_empty_text");
    if (v == NULL) return;
    int32_t ids[4];
    ck_assert_int_eq(s2_tokenize(v, "", 0, false, false, ids, 4), 0);
    ck_assert_int_eq(s2_tokenize(v, NULL, 0, false, false, ids, 4), 0);
    ck_assert_int_eq(s2_tokenize(v, "", 0, true, false, ids, 4), 1);
    ck_assert_int_eq(ids[0], 1);
    char buf[4] = "zzz";
    ck_assert_int_eq(s2_detokenize(v, ids, 0, false, buf, sizeof buf - 1), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(s2_detokenize(v, ids, 1, false, buf, sizeof buf - 1), 0); /* BOS alone: nothing shown */
    s2_vocab_free(v);
}
END_TEST

/* Invalid UTF-8 is encoded losslessly: SentencePiece through its byte tokens, byte-level BPE byte by byte. */
START_TEST(test_tokenizer_invalid_utf8_round_trips)
{
    static const char text[] = "ok \xff\xfe ab\xc3\x28 \xe2\x82 z\xed\xa0\x80 \xf4\x90\x80\x80 end\xc3";
    size_t len = sizeof text - 1;
    s2_vocab *vs[3] = {
        load_tok512("test_tokenizer_invalid_utf8_round_trips"),
        load_gguf_vocab("vocab/ggml-vocab-gpt-2.gguf", "test_tokenizer_invalid_utf8_round_trips"),
        load_gguf_vocab("vocab/ggml-vocab-qwen2.gguf", "test_tokenizer_invalid_utf8_round_trips"),
    };
    for (int k = 0; k < 3; k++) {
        if (vs[k] == NULL) continue;
        int32_t ids[256];
        char out[256];
        int32_t n = s2_tokenize(vs[k], text, len, false, false, ids, 256);
        ck_assert_int_gt(n, 0);
        for (int32_t i = 0; i < n; i++) ck_assert(ids[i] >= 0 && ids[i] < s2_vocab_n_tokens(vs[k]));
        int32_t m = s2_detokenize(vs[k], ids, n, false, out, sizeof out - 1);
        ck_assert_msg(m == (int32_t)len && memcmp(out, text, len) == 0, "vocab %d: %d bytes back", k, m);
        s2_vocab_free(vs[k]);
    }
}
END_TEST

/* Control tokens are text unless parse_special; USER_DEFINED ones (here deepseek-coder's "ü") always match, as in
 * Hugging Face (vector "Führer" gives 37 32009 71 6247). Ids checked against Qwen2's published vocabulary. */
START_TEST(test_tokenizer_special_tokens)
{
    s2_vocab *v = load_gguf_vocab("vocab/ggml-vocab-qwen2.gguf", "test_tokenizer_special_tokens");
    if (v == NULL) return;
    const char *text = "<|im_start|>user\nhi<|im_end|>";
    int32_t ids[64];
    int32_t n = s2_tokenize(v, text, strlen(text), true, true, ids, 64);
    ck_assert_int_ge(n, 4);
    ck_assert_int_eq(ids[0], 151644); /* add_bos_token is false for Qwen2: no BOS */
    ck_assert_int_eq(ids[n - 1], 151645);
    ck_assert_str_eq(s2_vocab_text(v, 151644), "<|im_start|>");
    char buf[128];
    ck_assert_int_eq(s2_detokenize(v, ids, n, true, buf, sizeof buf - 1), (int32_t)strlen(text));
    ck_assert_str_eq(buf, text);
    ck_assert_int_eq(s2_detokenize(v, ids, n, false, buf, sizeof buf - 1), 7);
    ck_assert_str_eq(buf, "user\nhi");
    int32_t m = s2_tokenize(v, text, strlen(text), false, false, ids, 64);
    ck_assert_int_gt(m, n);
    for (int32_t i = 0; i < m; i++) ck_assert_int_lt(ids[i], 151643);
    ck_assert(s2_vocab_is_eog(v, 151645)); /* <|im_end|>, the EOS */
    ck_assert(s2_vocab_is_eog(v, 151643)); /* <|endoftext|> */
    ck_assert(!s2_vocab_is_eog(v, 151644));
    ck_assert_int_eq(s2_vocab_eos(v), 151645);
    s2_vocab_free(v);

    v = load_gguf_vocab("vocab/ggml-vocab-deepseek-coder.gguf", "test_tokenizer_special_tokens");
    if (v == NULL) return;
    n = s2_tokenize(v, "F\xc3\xbchrer", 7, false, false, ids, 64);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(ids[1], 32009);
    ck_assert_int_eq(s2_vocab_type(v, 32009), S2_TOKEN_USER_DEFINED);
    n = s2_tokenize(v, "x", 1, true, false, ids, 64);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], s2_vocab_bos(v));
    ck_assert_int_eq(ids[0], 32013);
    s2_vocab_free(v);
}
END_TEST

/* ---- byte-level BPE against a naive twin ---- */

typedef struct merge_ref { const char *s; long rank; } merge_ref;

static int cmp_merge(const void *a, const void *b) {
    const merge_ref *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c != 0 ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

/* Rank of merge "l r" (its first index in the GGUF's list), or -1; sorted is ordered by (string, rank). */
static long naive_rank(const merge_ref *sorted, size_t n, const char *l, const char *r) {
    char key[256];
    snprintf(key, sizeof key, "%s %s", l, r);
    size_t lo = 0, hi = n; /* the first entry >= (key, -inf) */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(sorted[mid].s, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return (lo < n && strcmp(sorted[lo].s, key) == 0) ? sorted[lo].rank : -1;
}

/* One word of lowercase letters (with a leading space sometimes: a single regex match for GPT-2's " ?\p{L}+"),
 * merged the slow way: repeatedly the lowest-rank adjacent pair, leftmost first. */
START_TEST(test_tokenizer_bpe_matches_naive_twin)
{
    const char *path = t_shared("vocab/ggml-vocab-gpt-2.gguf", "test_tokenizer_bpe_matches_naive_twin");
    if (path == NULL) return;
    s2_gguf *g = NULL;
    s2_vocab *v = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_open(path, &g, &err), S2_OK);
    ck_assert_int_eq(s2_vocab_from_gguf(g, &v, &err), S2_OK);
    const s2_gguf_kv *mk = s2_gguf_find(g, "tokenizer.ggml.merges");
    ck_assert_ptr_nonnull(mk);
    size_t nm = (size_t)mk->n;
    merge_ref *sorted = malloc(nm * sizeof *sorted);
    ck_assert_ptr_nonnull(sorted);
    for (size_t i = 0; i < nm; i++) sorted[i] = (merge_ref){mk->strs[i], (long)i};
    qsort(sorted, nm, sizeof *sorted, cmp_merge);
    uint64_t seed = 12345;
    for (int trial = 0; trial < 60; trial++) {
        char word[48];
        size_t len = 0;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if ((seed >> 40) & 1) word[len++] = ' ';
        size_t nl = 1 + (size_t)((seed >> 33) % 20);
        for (size_t i = 0; i < nl; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            word[len++] = (char)('a' + (seed >> 33) % ((trial % 3 == 0) ? 4 : 26)); /* few letters: more merges */
        }
        word[len] = '\0';
        char syms[48][64];
        int ns = 0;
        for (size_t i = 0; i < len; i++) strcpy(syms[ns++], word[i] == ' ' ? "\xc4\xa0" : (char[]){word[i], 0});
        for (;;) {
            long best = -1;
            int at = -1;
            for (int i = 0; i + 1 < ns; i++) {
                long r = naive_rank(sorted, nm, syms[i], syms[i + 1]);
                if (r >= 0 && (best < 0 || r < best)) best = r, at = i;
            }
            if (at < 0) break;
            size_t la = strlen(syms[at]), lb = strlen(syms[at + 1]);
            ck_assert_uint_lt(la + lb, sizeof syms[0]);
            memcpy(syms[at] + la, syms[at + 1], lb + 1);
            memmove(syms[at + 1], syms[at + 2], (size_t)(ns - at - 2) * sizeof syms[0]);
            ns--;
        }
        int32_t ids[64];
        int32_t n = s2_tokenize(v, word, len, false, false, ids, 64);
        ck_assert_msg(n == ns, "'%s': %d tokens, naive %d", word, n, ns);
        for (int i = 0; i < ns; i++)
            ck_assert_msg(strcmp(s2_vocab_text(v, ids[i]), syms[i]) == 0, "'%s': token %d is '%s', naive '%s'", word,
                          i, s2_vocab_text(v, ids[i]), syms[i]);
    }
    free(sorted);
    s2_vocab_free(v);
    s2_gguf_free(g);
}
END_TEST

/* ---- the character vocabulary, by hand ---- */

START_TEST(test_tokenizer_char_vocab_by_hand)
{
    s2_vocab *v = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_vocab_char_init(&v, &err), S2_OK);
    ck_assert_int_eq(s2_vocab_n_tokens(v), 3 + 256 + 1 + 94);
    ck_assert_int_eq(s2_vocab_kind_of(v), S2_VOCAB_SPM);
    ck_assert_str_eq(s2_vocab_text(v, 0), "<unk>");
    ck_assert_str_eq(s2_vocab_text(v, 3 + 0x41), "<0x41>");
    ck_assert_str_eq(s2_vocab_text(v, 259), "\xe2\x96\x81");
    ck_assert_str_eq(s2_vocab_text(v, 260), "!");
    ck_assert_str_eq(s2_vocab_text(v, 353), "~");
    /* printable c is 260 + (c - 0x21); the space is 259; other bytes b are 3 + b; no space prefix */
    const char *text = "Hi there!\n";
    int32_t want[] = {1, 260 + 'H' - 0x21, 260 + 'i' - 0x21, 259, 260 + 't' - 0x21, 260 + 'h' - 0x21,
                      260 + 'e' - 0x21, 260 + 'r' - 0x21, 260 + 'e' - 0x21, 260, 3 + '\n'};
    int32_t ids[32];
    ck_assert_int_eq(s2_tokenize(v, text, strlen(text), true, false, ids, 32), 11);
    for (int i = 0; i < 11; i++) ck_assert_int_eq(ids[i], want[i]);
    const char *utf = " h\xc3\xa9llo  w\xc3\xb6rld\t~";
    int32_t n = s2_tokenize(v, utf, strlen(utf), false, false, ids, 32);
    ck_assert_int_eq(n, (int32_t)strlen(utf));
    ck_assert_int_eq(ids[0], 259);
    ck_assert_int_eq(ids[2], 3 + 0xc3);
    char buf[64];
    ck_assert_int_eq(s2_detokenize(v, ids, n, false, buf, sizeof buf - 1), (int32_t)strlen(utf));
    ck_assert_str_eq(buf, utf); /* the leading space survives: nothing was prefixed */
    s2_vocab_free(v);
    s2_vocab_free(NULL);
}
END_TEST

/* ---- GGUF round trips ---- */

static s2_vocab *round_trip(const s2_vocab *v, const char *name) {
    s2_gguf_writer *w = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_writer_init(&w, &err), S2_OK);
    ck_assert_msg(s2_vocab_write_gguf(v, w, &err) == S2_OK, "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", t_tmpdir(), name);
    ck_assert_msg(s2_gguf_write(w, path, &err) == S2_OK, "%s", err.msg);
    s2_gguf_writer_free(w);
    s2_gguf *g = NULL;
    s2_vocab *back = NULL;
    ck_assert_msg(s2_gguf_open(path, &g, &err) == S2_OK, "%s", err.msg);
    ck_assert_msg(s2_vocab_from_gguf(g, &back, &err) == S2_OK, "%s", err.msg);
    s2_gguf_free(g);
    ck_assert_int_eq(s2_vocab_n_tokens(back), s2_vocab_n_tokens(v));
    ck_assert_int_eq(s2_vocab_kind_of(back), s2_vocab_kind_of(v));
    ck_assert_int_eq(s2_vocab_bos(back), s2_vocab_bos(v));
    ck_assert_int_eq(s2_vocab_eos(back), s2_vocab_eos(v));
    for (int32_t i = 0; i < s2_vocab_n_tokens(v); i++) {
        ck_assert_str_eq(s2_vocab_text(back, i), s2_vocab_text(v, i));
        ck_assert_int_eq(s2_vocab_type(back, i), s2_vocab_type(v, i));
        ck_assert_int_eq(s2_vocab_is_eog(back, i), s2_vocab_is_eog(v, i));
    }
    return back;
}

static void same_encoding(const s2_vocab *a, const s2_vocab *b, const vectors *vs) {
    int32_t x[1024], y[1024];
    for (int i = 0; i < vs->n; i++) {
        int32_t n = s2_tokenize(a, vs->text[i], vs->len[i], true, false, x, 1024);
        ck_assert_int_eq(s2_tokenize(b, vs->text[i], vs->len[i], true, false, y, 1024), n);
        ck_assert_int_eq(memcmp(x, y, (size_t)n * sizeof *x), 0);
    }
}

START_TEST(test_tokenizer_gguf_round_trip)
{
    s2_vocab *c = NULL, *back;
    s2_error err = {0};
    ck_assert_int_eq(s2_vocab_char_init(&c, &err), S2_OK);
    back = round_trip(c, "char");
    int32_t x[64], y[64];
    const char *text = "Round trip: caf\xc3\xa9 <s> 42";
    int32_t n = s2_tokenize(c, text, strlen(text), true, true, x, 64);
    ck_assert_int_eq(s2_tokenize(back, text, strlen(text), true, true, y, 64), n);
    ck_assert_int_eq(memcmp(x, y, (size_t)n * sizeof *x), 0);
    s2_vocab_free(back);
    s2_vocab_free(c);

    vectors *vs = load_vectors("vocab/ggml-vocab-gpt-2.gguf.inp", "test_tokenizer_gguf_round_trip");
    const char *rels[] = {"vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-llama-spm.gguf"};
    for (int k = 0; k < 2 && vs != NULL; k++) {
        s2_vocab *v = load_gguf_vocab(rels[k], "test_tokenizer_gguf_round_trip");
        if (v == NULL) continue;
        back = round_trip(v, k == 0 ? "gpt2" : "spm");
        same_encoding(v, back, vs);
        s2_vocab_free(back);
        s2_vocab_free(v);
    }
    s2_vocab *t = load_tok512("test_tokenizer_gguf_round_trip");
    if (t != NULL && vs != NULL) {
        back = round_trip(t, "tok512");
        same_encoding(t, back, vs);
        s2_vocab_free(back);
    }
    s2_vocab_free(t);
    free_vectors(vs);
}
END_TEST

/* ---- bad input ---- */

static s2_status vocab_from_writer(s2_gguf_writer *w, const char *name, s2_vocab **v, s2_error *err) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", t_tmpdir(), name);
    ck_assert_int_eq(s2_gguf_write(w, path, err), S2_OK);
    s2_gguf_writer_free(w);
    s2_gguf *g = NULL;
    ck_assert_int_eq(s2_gguf_open(path, &g, err), S2_OK);
    s2_status st = s2_vocab_from_gguf(g, v, err);
    s2_gguf_free(g);
    return st;
}

static s2_gguf_writer *tiny_writer(const char *model, const char *pre) {
    static const char *const toks[] = {"a", "b", "ab"};
    static const char *const merges[] = {"a b"};
    s2_gguf_writer *w = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_writer_init(&w, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_set_str(w, "tokenizer.ggml.model", model), S2_OK);
    if (pre != NULL) ck_assert_int_eq(s2_gguf_set_str(w, "tokenizer.ggml.pre", pre), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, 1), S2_OK);
    return w;
}

START_TEST(test_tokenizer_rejects_bad_vocabularies)
{
    s2_vocab *v = NULL;
    s2_error err = {0};
    ck_assert_int_eq(vocab_from_writer(tiny_writer("bert", NULL), "bert", &v, &err), S2_E_UNSUPPORTED);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(strstr(err.msg, "'bert'"));
    ck_assert_int_eq(vocab_from_writer(tiny_writer("gpt2", "no-such-pre"), "pre", &v, &err), S2_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "'no-such-pre'"));

    s2_gguf_writer *w = tiny_writer("gpt2", "gpt-2");
    int32_t types[2] = {1, 1};
    ck_assert_int_eq(s2_gguf_set_arr(w, "tokenizer.ggml.token_type", S2_GGUF_INT32, types, 2), S2_OK);
    ck_assert_int_eq(vocab_from_writer(w, "types", &v, &err), S2_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "2 token types for 3 tokens"));

    w = tiny_writer("gpt2", "gpt-2");
    ck_assert_int_eq(s2_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 9), S2_OK);
    ck_assert_int_eq(vocab_from_writer(w, "bos", &v, &err), S2_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "bos_token_id = 9"));

    /* a tiny but valid BPE: "a b" merges, "b a" does not; no BOS id, so add_bos adds nothing */
    ck_assert_int_eq(vocab_from_writer(tiny_writer("gpt2", "gpt-2"), "ok", &v, &err), S2_OK);
    int32_t ids[8];
    ck_assert_int_eq(s2_tokenize(v, "abba", 4, true, false, ids, 8), 3);
    ck_assert_int_eq(ids[0], 2);
    ck_assert_int_eq(ids[1], 1);
    ck_assert_int_eq(ids[2], 0);
    ck_assert_int_eq(s2_vocab_bos(v), -1);
    s2_vocab_free(v);
}
END_TEST

/* Every pre-tokenizer name of the table compiles its regexes (most have no shared vectors) and runs. */
START_TEST(test_tokenizer_every_pre_tokenizer_compiles)
{
    static const char *const names[] = {
        "default", "llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe", "chatglm-bpe", "deepseek-llm",
        "deepseek-coder", "deepseek-v3", "falcon", "gpt-2", "phi-2", "mpt", "olmo", "jais", "starcoder", "refact",
        "command-r", "smollm", "qwen2", "deepseek-r1-qwen", "stablelm2", "grok-2", "poro-chat", "bloom", "viking",
        "tekken", "gpt-4o", "llama4", "seed-coder", "bailingmoe",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        s2_vocab *v = NULL;
        s2_error err = {0};
        ck_assert_msg(vocab_from_writer(tiny_writer("gpt2", names[i]), "pre", &v, &err) == S2_OK, "%s: %s",
                      names[i], err.msg);
        int32_t ids[32];
        const char *text = "ab ba\n\t12 345 ab's, \xe4\xb8\x80\xe4\xb8\x80!";
        int32_t n = s2_tokenize(v, text, strlen(text), false, false, ids, 32);
        ck_assert_msg(n >= 4, "%s: %d tokens", names[i], n);
        ck_assert_int_eq(ids[0], 2); /* "ab" */
        s2_vocab_free(v);
    }
}
END_TEST

START_TEST(test_tokenizer_rejects_bad_llama2c_files)
{
    s2_vocab *v = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_vocab_from_llama2c("/nonexistent/tok.bin", 512, &v, &err), S2_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/tok.bin"));
    const char *src = t_shared("models/tok512.bin", "test_tokenizer_rejects_bad_llama2c_files");
    if (src == NULL) return;
    ck_assert_int_eq(s2_vocab_from_llama2c(src, 0, &v, &err), S2_E_ARG);
    ck_assert_int_eq(s2_vocab_from_llama2c(src, 513, &v, &err), S2_E_FORMAT); /* more tokens than the file has */
    ck_assert_ptr_nonnull(strstr(err.msg, "token 512"));
    size_t n = 0;
    char *bytes = t_read_file(src, &n);
    ck_assert_ptr_nonnull(bytes);
    char path[512];
    snprintf(path, sizeof path, "%s/cut.bin", t_tmpdir());
    ck_assert(t_write_file(path, bytes, n / 2));
    ck_assert_int_eq(s2_vocab_from_llama2c(path, 512, &v, &err), S2_E_FORMAT);
    int32_t huge = 1 << 30; /* token 0's length field */
    memcpy(bytes + 8, &huge, 4);
    ck_assert(t_write_file(path, bytes, n));
    ck_assert_int_eq(s2_vocab_from_llama2c(path, 512, &v, &err), S2_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "token 0 has length"));
    ck_assert_ptr_null(v);
    free(bytes);
}
END_TEST

/* ---- the CLI ---- */

START_TEST(test_tokenizer_cli_prints_ids)
{
    const char *spm = t_shared("vocab/ggml-vocab-llama-spm.gguf", "test_tokenizer_cli_prints_ids");
    if (spm == NULL) return;
    char cmd[2048];
    char *out = NULL;
    /* vector "Hello world" of llama-spm: 15043 3186; BOS 1 in front unless --no-bos */
    snprintf(cmd, sizeof cmd, "%s tokenize -m '%s' --no-bos --ids 'Hello world'", t_sys2_bin(), spm);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_str_eq(out, "15043 3186\n");
    free(out);
    snprintf(cmd, sizeof cmd, "%s tokenize -m '%s' 'Hello world'", t_sys2_bin(), spm);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_str_eq(out, "1\t<s>\n15043\t Hello\n3186\t world\n");
    free(out);
    char binp[1024] = "", tokp[1024] = ""; /* t_shared's buffer is reused by the next call */
    const char *bin = t_shared("models/stories260K.bin", "test_tokenizer_cli_prints_ids");
    if (bin != NULL) snprintf(binp, sizeof binp, "%s", bin);
    const char *tok = t_shared("models/tok512.bin", "test_tokenizer_cli_prints_ids");
    if (tok != NULL) snprintf(tokp, sizeof tokp, "%s", tok);
    if (bin != NULL && tok != NULL) {
        bin = binp;
        snprintf(cmd, sizeof cmd, "%s tokenize -m '%s' -z '%s' --ids 'Once upon a time'", t_sys2_bin(), bin, tokp);
        ck_assert_int_eq(t_run(cmd, &out), 0);
        ck_assert_str_eq(out, "1 403 407 261 378\n");
        free(out);
        snprintf(cmd, sizeof cmd, "%s tokenize -m '%s' x 2>/dev/null", t_sys2_bin(), bin); /* no -z */
        ck_assert_int_eq(t_run(cmd, NULL), 2);
    }
    snprintf(cmd, sizeof cmd, "%s tokenize --ids x 2>/dev/null", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s tokenize -m /nonexistent.gguf x 2>/dev/null", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 1);
    snprintf(cmd, sizeof cmd, "%s tokenize --help", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: sys2 tokenize"));
    free(out);
}
END_TEST

T_SUITE_DECL(tokenizer)
Suite *tokenizer_suite(void) {
    Suite *s = suite_create("tokenizer");
    TCase *tv = tcase_create("vectors");
    tcase_set_timeout(tv, 60); /* the 128k/151k vocabularies under ASan */
    tcase_add_loop_test(tv, test_tokenizer_vocab_vectors, 0, (int)(sizeof vocab_names / sizeof vocab_names[0]));
    tcase_add_test(tv, test_tokenizer_stories260k_gguf_vectors);
    tcase_add_test(tv, test_tokenizer_tok512_vectors);
    tcase_add_test(tv, test_tokenizer_tok512_matches_converted_gguf);
    suite_add_tcase(s, tv);
    TCase *tc = tcase_create("behaviour");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tokenizer_unicode_helpers);
    tcase_add_test(tc, test_tokenizer_once_upon_a_time);
    tcase_add_test(tc, test_tokenizer_buffer_too_small_returns_needed);
    tcase_add_test(tc, test_tokenizer_empty_text);
    tcase_add_test(tc, test_tokenizer_invalid_utf8_round_trips);
    tcase_add_test(tc, test_tokenizer_special_tokens);
    tcase_add_test(tc, test_tokenizer_bpe_matches_naive_twin);
    tcase_add_test(tc, test_tokenizer_char_vocab_by_hand);
    tcase_add_test(tc, test_tokenizer_gguf_round_trip);
    tcase_add_test(tc, test_tokenizer_rejects_bad_vocabularies);
    tcase_add_test(tc, test_tokenizer_every_pre_tokenizer_compiles);
    tcase_add_test(tc, test_tokenizer_rejects_bad_llama2c_files);
    tcase_add_test(tc, test_tokenizer_cli_prints_ids);
    suite_add_tcase(s, tc);
    return s;
}
