/* GGUF reader, writer and corrupt-file handling. References: the shared stories260K files (the .gguf's tensors
 * are bit-identical to the llama2.c .bin, parsed here independently), llama.cpp's vocab files, and files this
 * suite writes and then damages byte by byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "gguf.h"
#include "quant.h"
#include "sys2.h"
#include "testutil.h"

/* Removes a file a test wrote and, when it is then empty, its t_tmpdir() directory (forked tests never reach
 * the runner's cleanup, so whatever they write stays in /tmp). */
static void rm_tmp(const char *path) {
    unlink(path);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        rmdir(dir); /* fails harmlessly while other files remain; the runner's root must stay */
    }
}

/* ---- reading real files ---- */

START_TEST(test_gguf_reads_stories260k)
{
    const char *path = t_shared("models/stories260K.gguf", "test_gguf_reads_stories260k");
    if (path == NULL) return;
    s2_gguf *g = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_open(path, &g, &err), S2_OK);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(s2_gguf_version(g), 3);
    ck_assert_uint_eq(s2_gguf_alignment(g), 32);
    ck_assert_int_eq(s2_gguf_n_kv(g), 19);
    ck_assert_int_eq(s2_gguf_n_tensors(g), 48);

    const char *arch = NULL;
    ck_assert_int_eq(s2_gguf_get_str(g, "general.architecture", &arch, &err), S2_OK);
    ck_assert_str_eq(arch, "llama");
    int64_t v = 0;
    ck_assert_int_eq(s2_gguf_get_int(g, "llama.embedding_length", &v, &err), S2_OK);
    ck_assert_int_eq(v, 64);
    ck_assert_int_eq(s2_gguf_get_int(g, "llama.feed_forward_length", &v, &err), S2_OK);
    ck_assert_int_eq(v, 172);
    ck_assert_int_eq(s2_gguf_get_int(g, "tokenizer.ggml.seperator_token_id", &v, &err), S2_OK);
    ck_assert_int_eq(v, 4294967295LL); /* uint32 widened, not sign-extended */
    double eps = 0;
    ck_assert_int_eq(s2_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &eps, &err), S2_OK);
    ck_assert_double_eq((float)eps, 1e-5f);

    const s2_gguf_kv *tok = NULL;
    ck_assert_int_eq(s2_gguf_get_arr(g, "tokenizer.ggml.tokens", S2_GGUF_STRING, &tok, &err), S2_OK);
    ck_assert_uint_eq(tok->n, 512);
    ck_assert_str_eq(tok->strs[0], "<unk>");
    ck_assert_str_eq(tok->strs[1], "<s>");
    ck_assert_str_eq(tok->strs[2], "</s>");
    const s2_gguf_kv *tt = NULL;
    ck_assert_int_eq(s2_gguf_get_arr(g, "tokenizer.ggml.token_type", S2_GGUF_INT32, &tt, &err), S2_OK);
    ck_assert_int_eq(((const int32_t *)tt->arr)[0], 2);
    ck_assert_int_eq(((const int32_t *)tt->arr)[1], 3);

    const s2_gguf_tensor *t = s2_gguf_find_tensor(g, "token_embd.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->type, S2_TYPE_F32);
    ck_assert_int_eq(t->n_dims, 2);
    ck_assert_int_eq(t->ne[0], 64);
    ck_assert_int_eq(t->ne[1], 512);
    ck_assert_int_eq(t->ne[2], 1);
    ck_assert_uint_eq(t->nbytes, 64 * 512 * 4);
    ck_assert_ptr_eq(t, s2_gguf_tensor_at(g, 0));
    const s2_gguf_tensor *last = s2_gguf_tensor_at(g, 47);
    ck_assert_str_eq(last->name, "blk.4.ffn_norm.weight");
    ck_assert_uint_eq(last->offset, 1170944);
    ck_assert_ptr_null(s2_gguf_tensor_at(g, 48));
    ck_assert_ptr_null(s2_gguf_find_tensor(g, "nope"));
    for (int64_t i = 0; i < s2_gguf_n_tensors(g); i++)
        ck_assert_uint_eq((uintptr_t)s2_gguf_tensor_at(g, i)->data % 32, 0);

    /* llama2.c's .bin: 7 int32 of config, then the token embedding (vocab x dim floats) */
    const char *bin = t_shared("models/stories260K.bin", "test_gguf_reads_stories260k");
    if (bin != NULL) {
        size_t len = 0;
        char *b = t_read_file(bin, &len);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_ge(len, 28 + t->nbytes);
        int32_t cfg[7];
        memcpy(cfg, b, sizeof cfg);
        ck_assert_int_eq(cfg[0], 64);
        ck_assert_int_eq(abs(cfg[5]), 512);
        ck_assert_int_eq(memcmp(b + 28, t->data, t->nbytes), 0);
        free(b);
    }
    s2_gguf_free(g);
}
END_TEST

START_TEST(test_gguf_getters_report_missing_and_wrong_types)
{
    const char *path = t_shared("models/stories260K.gguf", "test_gguf_getters_report_missing_and_wrong_types");
    if (path == NULL) return;
    s2_gguf *g = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_open(path, &g, &err), S2_OK);
    int64_t v = 0;
    ck_assert_int_eq(s2_gguf_get_int(g, "llama.nope", &v, &err), S2_E_FORMAT);
    ck_assert_str_eq(err.msg, "missing key llama.nope");
    ck_assert_int_eq(s2_gguf_get_int_or(g, "llama.nope", 7, &v, &err), S2_OK);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(s2_gguf_get_int(g, "general.architecture", &v, &err), S2_E_FORMAT);
    ck_assert_str_eq(err.msg, "key general.architecture: expected integer, found string");
    const char *s = NULL;
    ck_assert_int_eq(s2_gguf_get_str(g, "llama.block_count", &s, &err), S2_E_FORMAT);
    ck_assert_str_eq(err.msg, "key llama.block_count: expected string, found uint32");
    double f = 0;
    ck_assert_int_eq(s2_gguf_get_float(g, "llama.block_count", &f, &err), S2_E_FORMAT);
    ck_assert_int_eq(s2_gguf_get_float_or(g, "x.y", 2.5, &f, &err), S2_OK);
    ck_assert_double_eq(f, 2.5);
    bool b = false;
    ck_assert_int_eq(s2_gguf_get_bool_or(g, "x.y", true, &b, &err), S2_OK);
    ck_assert(b);
    ck_assert_int_eq(s2_gguf_get_bool_or(g, "llama.block_count", true, &b, &err), S2_E_FORMAT);
    const s2_gguf_kv *kv = NULL;
    ck_assert_int_eq(s2_gguf_get_arr(g, "tokenizer.ggml.scores", S2_GGUF_INT32, &kv, &err), S2_E_FORMAT);
    ck_assert_str_eq(err.msg, "key tokenizer.ggml.scores: expected array of int32, found array of float32");
    ck_assert_int_eq(s2_gguf_get_arr(g, "tokenizer.ggml.scores", S2_GGUF_N_TYPES, &kv, &err), S2_OK);
    ck_assert_int_eq(kv->arr_type, S2_GGUF_FLOAT32);
    ck_assert_int_eq(s2_gguf_get_arr(g, "general.name", S2_GGUF_N_TYPES, &kv, &err), S2_E_FORMAT);
    ck_assert_ptr_null(s2_gguf_kv_at(g, -1));
    ck_assert_ptr_null(s2_gguf_kv_at(g, 19));
    ck_assert_str_eq(s2_gguf_kv_at(g, 0)->key, "tokenizer.ggml.tokens");
    s2_gguf_free(g);
    s2_gguf_free(NULL);
}
END_TEST

START_TEST(test_gguf_reads_vocab_only_files)
{
    static const char *const names[] = {"deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "llama-bpe",
                                        "llama-spm", "mpt", "phi-3", "qwen2", "refact", "starcoder"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", names[i]);
        const char *path = t_shared(rel, "test_gguf_reads_vocab_only_files");
        if (path == NULL) continue;
        s2_gguf *g = NULL;
        s2_error err = {0};
        ck_assert_msg(s2_gguf_open(path, &g, &err) == S2_OK, "%s: %s", rel, err.msg);
        ck_assert_int_eq(s2_gguf_n_tensors(g), 0);
        const char *model = NULL;
        ck_assert_int_eq(s2_gguf_get_str(g, "tokenizer.ggml.model", &model, &err), S2_OK);
        const s2_gguf_kv *tok = NULL;
        ck_assert_int_eq(s2_gguf_get_arr(g, "tokenizer.ggml.tokens", S2_GGUF_STRING, &tok, &err), S2_OK);
        ck_assert_uint_gt(tok->n, 1000);
        if (strcmp(names[i], "gpt-2") == 0) {
            ck_assert_str_eq(model, "gpt2");
            ck_assert_uint_eq(tok->n, 50257);
            ck_assert_str_eq(tok->strs[0], "!");
            const s2_gguf_kv *m = NULL;
            ck_assert_int_eq(s2_gguf_get_arr(g, "tokenizer.ggml.merges", S2_GGUF_STRING, &m, &err), S2_OK);
            ck_assert_uint_eq(m->n, 50000);
            ck_assert_str_eq(m->strs[2], "h e");
        }
        if (strcmp(names[i], "llama-spm") == 0) {
            ck_assert_uint_eq(tok->n, 32000);
            bool add_bos = false, add_eos = true;
            ck_assert_int_eq(s2_gguf_get_bool_or(g, "tokenizer.ggml.add_bos_token", false, &add_bos, &err), S2_OK);
            ck_assert_int_eq(s2_gguf_get_bool_or(g, "tokenizer.ggml.add_eos_token", true, &add_eos, &err), S2_OK);
            ck_assert(add_bos && !add_eos);
        }
        s2_gguf_free(g);
    }
}
END_TEST

START_TEST(test_gguf_open_missing_file_is_io_error)
{
    s2_gguf *g = (s2_gguf *)&g;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_open("/nonexistent/x.gguf", &g, &err), S2_E_IO);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.gguf"));
}
END_TEST

/* ---- a handcrafted file (independent of the writer) with the offsets of its fields ---- */

typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

static void bb_put(bb *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void bb_u32(bb *b, uint32_t v) { bb_put(b, &v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_put(b, &v, 8); }
static void bb_str(bb *b, const char *s) {
    bb_u64(b, strlen(s));
    bb_put(b, s, strlen(s));
}
static void bb_pad(bb *b) {
    static const uint8_t z[32];
    bb_put(b, z, (32 - b->n % 32) % 32);
}

/* Byte offsets of the fields the corruption tests damage. */
typedef struct sample_offsets {
    size_t version, n_tensors, n_kv;
    size_t kv0_keylen, kv1_value, kv2_type, kv2_key, kv3_key, kv3_elem_type, kv3_len, kv4_len, kv4_str1_len;
    size_t t0_name, t0_ndims, t0_ne0, t0_ne1, t0_type, t0_offset, t1_name, t1_offset;
    size_t data; /* start of the data section */
} sample_offsets;

static const float sample_ta[8] = {1.0f, -2.0f, 0.5f, 3.25f, -0.125f, 8.0f, 1e-3f, -7.5f};
static uint8_t sample_tb[34];

/* GGUF v3: five keys, a 4x2 F32 tensor t.a and a 32-element Q8_0 tensor t.b. */
static bb sample_file(sample_offsets *o) {
    for (int i = 0; i < 34; i++) sample_tb[i] = (uint8_t)(i * 37 + 11);
    bb b = {0};
    bb_put(&b, "GGUF", 4);
    o->version = b.n;
    bb_u32(&b, 3);
    o->n_tensors = b.n;
    bb_u64(&b, 2);
    o->n_kv = b.n;
    bb_u64(&b, 5);
    o->kv0_keylen = b.n;
    bb_str(&b, "general.architecture");
    bb_u32(&b, 8);
    bb_str(&b, "test");
    bb_str(&b, "general.alignment");
    bb_u32(&b, 4);
    o->kv1_value = b.n;
    bb_u32(&b, 32);
    o->kv2_key = b.n;
    bb_str(&b, "k.a");
    o->kv2_type = b.n;
    bb_u32(&b, 4);
    bb_u32(&b, 7);
    o->kv3_key = b.n;
    bb_str(&b, "k.b");
    bb_u32(&b, 9);
    o->kv3_elem_type = b.n;
    bb_u32(&b, 5);
    o->kv3_len = b.n;
    bb_u64(&b, 3);
    for (int32_t v = 1; v <= 3; v++) bb_put(&b, &v, 4);
    bb_str(&b, "k.c");
    bb_u32(&b, 9);
    bb_u32(&b, 8);
    o->kv4_len = b.n;
    bb_u64(&b, 2);
    bb_str(&b, "x");
    o->kv4_str1_len = b.n;
    bb_str(&b, "yz");
    o->t0_name = b.n;
    bb_str(&b, "t.a");
    o->t0_ndims = b.n;
    bb_u32(&b, 2);
    o->t0_ne0 = b.n;
    bb_u64(&b, 4);
    o->t0_ne1 = b.n;
    bb_u64(&b, 2);
    o->t0_type = b.n;
    bb_u32(&b, S2_TYPE_F32);
    o->t0_offset = b.n;
    bb_u64(&b, 0);
    o->t1_name = b.n;
    bb_str(&b, "t.b");
    bb_u32(&b, 1);
    bb_u64(&b, 32);
    bb_u32(&b, S2_TYPE_Q8_0);
    o->t1_offset = b.n;
    bb_u64(&b, 32);
    bb_pad(&b);
    o->data = b.n;
    bb_put(&b, sample_ta, sizeof sample_ta);
    bb_put(&b, sample_tb, sizeof sample_tb);
    bb_pad(&b);
    return b;
}

/* The same content through the writer. */
static s2_gguf_writer *sample_writer(void) {
    s2_gguf_writer *w = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_writer_init(&w, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_set_str(w, "general.architecture", "replaced below"), S2_OK);
    ck_assert_int_eq(s2_gguf_set_u32(w, "general.alignment", 32), S2_OK);
    ck_assert_int_eq(s2_gguf_set_u32(w, "k.a", 7), S2_OK);
    ck_assert_int_eq(s2_gguf_set_str(w, "general.architecture", "test"), S2_OK); /* replaces, keeps its place */
    const int32_t arr[3] = {1, 2, 3};
    ck_assert_int_eq(s2_gguf_set_arr(w, "k.b", S2_GGUF_INT32, arr, 3), S2_OK);
    const char *const strs[2] = {"x", "yz"};
    ck_assert_int_eq(s2_gguf_set_arr_str(w, "k.c", strs, 2), S2_OK);
    const int64_t ne_a[2] = {4, 2}, ne_b[1] = {32};
    ck_assert_int_eq(s2_gguf_add_tensor(w, "t.a", S2_TYPE_F32, 2, ne_a, sample_ta, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_add_tensor(w, "t.b", S2_TYPE_Q8_0, 1, ne_b, sample_tb, &err), S2_OK);
    return w;
}

START_TEST(test_gguf_writer_matches_handcrafted_bytes)
{
    sample_offsets o;
    bb want = sample_file(&o);
    s2_gguf_writer *w = sample_writer();
    char path[600];
    snprintf(path, sizeof path, "%s/sample.gguf", t_tmpdir());
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_write(w, path, &err), S2_OK);
    s2_gguf_writer_free(w);
    size_t len = 0;
    char *got = t_read_file(path, &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, want.n);
    ck_assert_int_eq(memcmp(got, want.p, len), 0);
    char tmp[620];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_ptr_null(t_read_file(tmp, &len)); /* renamed away */
    free(got);
    rm_tmp(path);

    s2_gguf *g = NULL;
    ck_assert_int_eq(s2_gguf_open_buffer(want.p, want.n, "sample", &g, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_n_kv(g), 5);
    const s2_gguf_tensor *tb = s2_gguf_find_tensor(g, "t.b");
    ck_assert_ptr_nonnull(tb);
    ck_assert_uint_eq(tb->offset, 32);
    ck_assert_uint_eq(tb->nbytes, 34);
    ck_assert_ptr_eq(tb->data, want.p + o.data + 32);
    const s2_gguf_kv *c = NULL;
    ck_assert_int_eq(s2_gguf_get_arr(g, "k.c", S2_GGUF_STRING, &c, &err), S2_OK);
    ck_assert_str_eq(c->strs[1], "yz");
    s2_gguf_free(g);
    free(want.p);
}
END_TEST

/* Every value type, arrays of each, string arrays, empty arrays and tensors of several types and ranks. */
START_TEST(test_gguf_round_trip_every_type)
{
    s2_gguf_writer *w = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_writer_init(&w, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_set_u32(w, "v.u32", 4000000000u), S2_OK);
    ck_assert_int_eq(s2_gguf_set_i32(w, "v.i32", -123456), S2_OK);
    ck_assert_int_eq(s2_gguf_set_u64(w, "v.u64", 0xfedcba9876543210ull), S2_OK);
    ck_assert_int_eq(s2_gguf_set_f32(w, "v.f32", 0.1f), S2_OK);
    ck_assert_int_eq(s2_gguf_set_bool(w, "v.bool", true), S2_OK);
    ck_assert_int_eq(s2_gguf_set_str(w, "v.str", "h\xc3\xa9llo"), S2_OK);
    /* the types without a setter go through s2_gguf_set_kv */
    s2_gguf_kv kv = {.key = "v.u8", .type = S2_GGUF_UINT8, .n = 1, .v.u = 250};
    ck_assert_int_eq(s2_gguf_set_kv(w, &kv), S2_OK);
    kv = (s2_gguf_kv){.key = "v.i8", .type = S2_GGUF_INT8, .n = 1, .v.i = -100};
    ck_assert_int_eq(s2_gguf_set_kv(w, &kv), S2_OK);
    kv = (s2_gguf_kv){.key = "v.u16", .type = S2_GGUF_UINT16, .n = 1, .v.u = 65000};
    ck_assert_int_eq(s2_gguf_set_kv(w, &kv), S2_OK);
    kv = (s2_gguf_kv){.key = "v.i16", .type = S2_GGUF_INT16, .n = 1, .v.i = -32000};
    ck_assert_int_eq(s2_gguf_set_kv(w, &kv), S2_OK);
    kv = (s2_gguf_kv){.key = "v.i64", .type = S2_GGUF_INT64, .n = 1, .v.i = INT64_MIN + 5};
    ck_assert_int_eq(s2_gguf_set_kv(w, &kv), S2_OK);
    kv = (s2_gguf_kv){.key = "v.f64", .type = S2_GGUF_FLOAT64, .n = 1, .v.f = -1.0 / 3.0};
    ck_assert_int_eq(s2_gguf_set_kv(w, &kv), S2_OK);

    const uint8_t a_u8[3] = {0, 128, 255};
    const int8_t a_i8[2] = {-128, 127};
    const uint16_t a_u16[2] = {1, 65535};
    const int16_t a_i16[2] = {-32768, 5};
    const uint32_t a_u32[2] = {0, 4294967295u};
    const int32_t a_i32[4] = {-1, 0, 1, INT32_MIN};
    const float a_f32[3] = {1.5f, -0.0f, 1e30f};
    const bool a_bool[3] = {true, false, true};
    const uint64_t a_u64[1] = {UINT64_MAX};
    const int64_t a_i64[2] = {INT64_MIN, INT64_MAX};
    const double a_f64[2] = {3.141592653589793, -2.5e-300};
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.u8", S2_GGUF_UINT8, a_u8, 3), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.i8", S2_GGUF_INT8, a_i8, 2), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.u16", S2_GGUF_UINT16, a_u16, 2), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.i16", S2_GGUF_INT16, a_i16, 2), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.u32", S2_GGUF_UINT32, a_u32, 2), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.i32", S2_GGUF_INT32, a_i32, 4), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.f32", S2_GGUF_FLOAT32, a_f32, 3), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.bool", S2_GGUF_BOOL, a_bool, 3), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.u64", S2_GGUF_UINT64, a_u64, 1), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.i64", S2_GGUF_INT64, a_i64, 2), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.f64", S2_GGUF_FLOAT64, a_f64, 2), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.empty", S2_GGUF_INT32, NULL, 0), S2_OK);
    const char *const strs[4] = {"", "one", "two words", "\xe2\x96\x81x"};
    ck_assert_int_eq(s2_gguf_set_arr_str(w, "a.str", strs, 4), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr_str(w, "a.str_empty", NULL, 0), S2_OK);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.nested", S2_GGUF_ARRAY, a_u8, 1), S2_E_ARG);
    ck_assert_int_eq(s2_gguf_set_arr(w, "a.bad", (s2_gguf_type)13, a_u8, 1), S2_E_ARG);

    /* tensors: sizes that leave padding, ranks 1 to 4 */
    static float f32[3 * 5 * 2];
    static uint16_t f16[64 * 3];
    static uint8_t q8[34 * 2 * 2 * 2], q4[18 * 3];
    for (size_t i = 0; i < sizeof f32 / sizeof f32[0]; i++) f32[i] = (float)i * 0.25f - 3.0f;
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++) f16[i] = (uint16_t)(i * 977);
    for (size_t i = 0; i < sizeof q8; i++) q8[i] = (uint8_t)(i * 31 + 7);
    for (size_t i = 0; i < sizeof q4; i++) q4[i] = (uint8_t)(i * 13 + 1);
    const int64_t ne_f32[3] = {3, 5, 2}, ne_f16[2] = {64, 3}, ne_q8[4] = {64, 2, 1, 2}, ne_q4[2] = {32, 3};
    ck_assert_int_eq(s2_gguf_add_tensor(w, "w.f32", S2_TYPE_F32, 3, ne_f32, f32, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_add_tensor(w, "w.f16", S2_TYPE_F16, 2, ne_f16, f16, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_add_tensor(w, "w.q8", S2_TYPE_Q8_0, 4, ne_q8, q8, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_add_tensor(w, "w.q4", S2_TYPE_Q4_0, 2, ne_q4, q4, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_add_tensor(w, "w.q4", S2_TYPE_Q4_0, 2, ne_q4, q4, &err), S2_E_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate tensor name 'w.q4'"));
    const int64_t bad_ne[1] = {33};
    ck_assert_int_eq(s2_gguf_add_tensor(w, "w.bad", S2_TYPE_Q8_0, 1, bad_ne, q8, &err), S2_E_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a multiple"));
    ck_assert_int_eq(s2_gguf_add_tensor(w, "w.bad", S2_TYPE_F32, 5, bad_ne, q8, &err), S2_E_ARG);
    ck_assert_int_eq(s2_gguf_add_tensor(w, "w.bad", 4, 1, bad_ne, q8, &err), S2_E_ARG);

    char path[600];
    snprintf(path, sizeof path, "%s/all.gguf", t_tmpdir());
    ck_assert_int_eq(s2_gguf_write(w, path, &err), S2_OK);
    s2_gguf_writer_free(w);

    s2_gguf *g = NULL;
    ck_assert_msg(s2_gguf_open(path, &g, &err) == S2_OK, "%s", err.msg);
    ck_assert_uint_eq(s2_gguf_version(g), 3);
    ck_assert_int_eq(s2_gguf_n_kv(g), 12 + 14);
    ck_assert_str_eq(s2_gguf_kv_at(g, 0)->key, "v.u32"); /* insertion order */
    const s2_gguf_kv *k;
    ck_assert_int_eq((k = s2_gguf_find(g, "v.u32"))->type, S2_GGUF_UINT32);
    ck_assert_uint_eq(k->v.u, 4000000000u);
    ck_assert_int_eq((k = s2_gguf_find(g, "v.i32"))->type, S2_GGUF_INT32);
    ck_assert_int_eq(k->v.i, -123456);
    ck_assert_uint_eq(s2_gguf_find(g, "v.u64")->v.u, 0xfedcba9876543210ull);
    ck_assert_int_eq((k = s2_gguf_find(g, "v.f32"))->type, S2_GGUF_FLOAT32);
    ck_assert(k->v.f == (double)0.1f);
    ck_assert(s2_gguf_find(g, "v.bool")->v.b);
    ck_assert_str_eq(s2_gguf_find(g, "v.str")->str, "h\xc3\xa9llo");
    ck_assert_int_eq((k = s2_gguf_find(g, "v.u8"))->type, S2_GGUF_UINT8);
    ck_assert_uint_eq(k->v.u, 250);
    ck_assert_int_eq((k = s2_gguf_find(g, "v.i8"))->type, S2_GGUF_INT8);
    ck_assert_int_eq(k->v.i, -100);
    ck_assert_uint_eq(s2_gguf_find(g, "v.u16")->v.u, 65000);
    ck_assert_int_eq(s2_gguf_find(g, "v.i16")->v.i, -32000);
    ck_assert_int_eq(s2_gguf_find(g, "v.i64")->v.i, INT64_MIN + 5);
    ck_assert(s2_gguf_find(g, "v.f64")->v.f == -1.0 / 3.0);
    int64_t iv = 0;
    ck_assert_int_eq(s2_gguf_get_int(g, "v.i8", &iv, &err), S2_OK);
    ck_assert_int_eq(iv, -100);
    ck_assert_int_eq(s2_gguf_get_int(g, "v.u64", &iv, &err), S2_E_FORMAT); /* does not fit int64 */
    ck_assert_ptr_nonnull(strstr(err.msg, "does not fit"));

    struct { const char *key; s2_gguf_type t; const void *data; uint64_t n; size_t es; } arrs[] = {
        {"a.u8", S2_GGUF_UINT8, a_u8, 3, 1},      {"a.i8", S2_GGUF_INT8, a_i8, 2, 1},
        {"a.u16", S2_GGUF_UINT16, a_u16, 2, 2},   {"a.i16", S2_GGUF_INT16, a_i16, 2, 2},
        {"a.u32", S2_GGUF_UINT32, a_u32, 2, 4},   {"a.i32", S2_GGUF_INT32, a_i32, 4, 4},
        {"a.f32", S2_GGUF_FLOAT32, a_f32, 3, 4},  {"a.bool", S2_GGUF_BOOL, a_bool, 3, 1},
        {"a.u64", S2_GGUF_UINT64, a_u64, 1, 8},   {"a.i64", S2_GGUF_INT64, a_i64, 2, 8},
        {"a.f64", S2_GGUF_FLOAT64, a_f64, 2, 8},  {"a.empty", S2_GGUF_INT32, NULL, 0, 4},
    };
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        const s2_gguf_kv *a = NULL;
        ck_assert_msg(s2_gguf_get_arr(g, arrs[i].key, arrs[i].t, &a, &err) == S2_OK, "%s", err.msg);
        ck_assert_uint_eq(a->n, arrs[i].n);
        if (arrs[i].n > 0) ck_assert_int_eq(memcmp(a->arr, arrs[i].data, arrs[i].n * arrs[i].es), 0);
    }
    const s2_gguf_kv *sa = NULL;
    ck_assert_int_eq(s2_gguf_get_arr(g, "a.str", S2_GGUF_STRING, &sa, &err), S2_OK);
    ck_assert_uint_eq(sa->n, 4);
    for (int i = 0; i < 4; i++) ck_assert_str_eq(sa->strs[i], strs[i]);
    ck_assert_int_eq(s2_gguf_get_arr(g, "a.str_empty", S2_GGUF_STRING, &sa, &err), S2_OK);
    ck_assert_uint_eq(sa->n, 0);

    struct { const char *name; int32_t type, n_dims; const int64_t *ne; const void *data; size_t nbytes; } ts[] = {
        {"w.f32", S2_TYPE_F32, 3, ne_f32, f32, sizeof f32},  {"w.f16", S2_TYPE_F16, 2, ne_f16, f16, sizeof f16},
        {"w.q8", S2_TYPE_Q8_0, 4, ne_q8, q8, sizeof q8},     {"w.q4", S2_TYPE_Q4_0, 2, ne_q4, q4, sizeof q4},
    };
    ck_assert_int_eq(s2_gguf_n_tensors(g), 4);
    for (int i = 0; i < 4; i++) {
        const s2_gguf_tensor *t = s2_gguf_tensor_at(g, i);
        ck_assert_str_eq(t->name, ts[i].name);
        ck_assert_int_eq(t->type, ts[i].type);
        ck_assert_int_eq(t->n_dims, ts[i].n_dims);
        for (int d = 0; d < 4; d++) ck_assert_int_eq(t->ne[d], d < ts[i].n_dims ? ts[i].ne[d] : 1);
        ck_assert_uint_eq(t->nbytes, ts[i].nbytes);
        ck_assert_uint_eq(t->offset % 32, 0);
        ck_assert_uint_eq((uintptr_t)t->data % 32, 0);
        ck_assert_int_eq(memcmp(t->data, ts[i].data, ts[i].nbytes), 0);
    }

    /* copying every entry of the reader into a new writer reproduces the file byte for byte */
    s2_gguf_writer *w2 = NULL;
    ck_assert_int_eq(s2_gguf_writer_init(&w2, &err), S2_OK);
    for (int64_t i = 0; i < s2_gguf_n_kv(g); i++) ck_assert_int_eq(s2_gguf_set_kv(w2, s2_gguf_kv_at(g, i)), S2_OK);
    for (int64_t i = 0; i < s2_gguf_n_tensors(g); i++) {
        const s2_gguf_tensor *t = s2_gguf_tensor_at(g, i);
        ck_assert_int_eq(s2_gguf_add_tensor(w2, t->name, t->type, t->n_dims, t->ne, t->data, &err), S2_OK);
    }
    char path2[600];
    snprintf(path2, sizeof path2, "%s/copy.gguf", t_tmpdir());
    ck_assert_int_eq(s2_gguf_write(w2, path2, &err), S2_OK);
    s2_gguf_writer_free(w2);
    s2_gguf_free(g);
    size_t n1 = 0, n2 = 0;
    char *b1 = t_read_file(path, &n1), *b2 = t_read_file(path2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_eq(n1 % 32, 0);
    ck_assert_int_eq(memcmp(b1, b2, n1), 0);
    free(b1);
    free(b2);
    rm_tmp(path);
    rm_tmp(path2);
}
END_TEST

START_TEST(test_gguf_write_to_missing_dir_is_io_error)
{
    s2_gguf_writer *w = sample_writer();
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_write(w, "/nonexistent-dir/x.gguf", &err), S2_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/x.gguf.tmp"));
    s2_gguf_writer_free(w);
    s2_gguf_writer_free(NULL);
}
END_TEST

/* ---- corrupt files: each damage is S2_E_FORMAT naming the problem, through both entry points ---- */

/* Opens buf[0..n) as a buffer and as a file under t_tmpdir(); both must fail with S2_E_FORMAT and a message
 * holding one of the '|'-separated fragments. */
static void expect_corrupt(const uint8_t *buf, size_t n, const char *frags, const char *what) {
    for (int via_file = 0; via_file <= 1; via_file++) {
        s2_gguf *g = (s2_gguf *)&g;
        s2_error err = {0};
        s2_status st;
        if (via_file) {
            char path[600];
            snprintf(path, sizeof path, "%s/corrupt.gguf", t_tmpdir());
            ck_assert(t_write_file(path, buf, n));
            st = s2_gguf_open(path, &g, &err);
            rm_tmp(path); /* hundreds of these per run: leave nothing behind */
        } else {
            uint8_t *copy = malloc(n ? n : 1); /* an exact-size heap copy, so ASan sees any overread */
            memcpy(copy, buf, n);
            st = s2_gguf_open_buffer(copy, n, "corrupt", &g, &err);
            free(copy);
        }
        ck_assert_msg(st == S2_E_FORMAT, "%s (%s): status %d, msg '%s'", what, via_file ? "file" : "buffer", st,
                      err.msg);
        ck_assert_ptr_null(g);
        ck_assert_int_eq(err.code, S2_E_FORMAT);
        bool found = false;
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", frags);
        for (char *save = NULL, *f = strtok_r(tmp, "|", &save); f != NULL; f = strtok_r(NULL, "|", &save))
            found = found || strstr(err.msg, f) != NULL;
        ck_assert_msg(found, "%s (%s): message '%s' lacks '%s'", what, via_file ? "file" : "buffer", err.msg, frags);
    }
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* The sample with one patch applied, checked, and restored. */
#define PATCH32(at, val, frag) do { uint8_t s_[4]; memcpy(s_, b.p + (at), 4); put32(b.p + (at), (val)); \
    expect_corrupt(b.p, b.n, frag, #at " = " #val); memcpy(b.p + (at), s_, 4); } while (0)
#define PATCH64(at, val, frag) do { uint8_t s_[8]; memcpy(s_, b.p + (at), 8); put64(b.p + (at), (val)); \
    expect_corrupt(b.p, b.n, frag, #at " = " #val); memcpy(b.p + (at), s_, 8); } while (0)

START_TEST(test_gguf_sample_is_valid)
{
    sample_offsets o;
    bb b = sample_file(&o);
    s2_gguf *g = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_gguf_open_buffer(b.p, b.n, "sample", &g, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(s2_gguf_n_tensors(g), 2);
    ck_assert_uint_eq(s2_gguf_version(g), 3);
    s2_gguf_free(g);
    put32(b.p + o.version, 2); /* v2 has the same layout */
    ck_assert_msg(s2_gguf_open_buffer(b.p, b.n, "sample", &g, &err) == S2_OK, "%s", err.msg);
    ck_assert_uint_eq(s2_gguf_version(g), 2);
    s2_gguf_free(g);
    free(b.p);
}
END_TEST

START_TEST(test_gguf_rejects_bad_header)
{
    sample_offsets o;
    bb b = sample_file(&o);
    b.p[0] = 'X';
    expect_corrupt(b.p, b.n, "bad magic", "magic");
    b.p[0] = 'G';
    PATCH32(o.version, 1, "version 1 is not supported");
    PATCH32(o.version, 4, "bad version 4");
    PATCH32(o.version, 0, "bad version 0");
    PATCH32(o.version, 0x03000000u, "big-endian");
    PATCH64(o.n_kv, UINT64_MAX, "kv count 18446744073709551615 too large");
    PATCH64(o.n_kv, 1ull << 62, "kv count");
    PATCH64(o.n_kv, 1000, "kv count 1000 too large");
    PATCH64(o.n_tensors, UINT64_MAX, "tensor count 18446744073709551615 too large");
    PATCH64(o.n_tensors, 1ull << 40, "tensor count");
    PATCH64(o.n_kv, 6, "exceeds the 1 GiB limit|truncated|past end"); /* a sixth kv would start inside the tensor infos */
    expect_corrupt(b.p, 0, "too small|truncated", "empty file");
    free(b.p);
}
END_TEST

START_TEST(test_gguf_rejects_bad_kv)
{
    sample_offsets o;
    bb b = sample_file(&o);
    PATCH64(o.kv0_keylen, 1000000, "past end of file");
    PATCH64(o.kv0_keylen, 1ull << 40, "exceeds the 1 GiB limit");
    PATCH64(o.kv0_keylen, UINT64_MAX, "exceeds the 1 GiB limit");
    PATCH64(o.kv4_str1_len, 1000, "past end of file");
    PATCH32(o.kv2_type, 13, "invalid value type 13");
    PATCH32(o.kv2_type, 99, "invalid value type 99");
    PATCH32(o.kv2_type, UINT32_MAX, "invalid value type");
    PATCH32(o.kv3_elem_type, 9, "nested arrays");
    PATCH32(o.kv3_elem_type, 13, "invalid array element type 13");
    PATCH64(o.kv3_len, 1ull << 62, "array length"); /* 2^62 x 4 bytes overflows size_t */
    PATCH64(o.kv3_len, UINT64_MAX, "array length");
    PATCH64(o.kv3_len, 1ull << 61, "past end of file");
    PATCH64(o.kv3_len, 1000, "past end of file");
    PATCH64(o.kv4_len, 1ull << 62, "past end of file");
    PATCH64(o.kv4_len, UINT64_MAX, "past end of file");
    PATCH64(o.kv4_len, 3, "exceeds the 1 GiB limit|past end|truncated");   /* the tensor name read as a third string */
    PATCH32(o.kv1_value, 24, "general.alignment 24 is not a power of two");
    PATCH32(o.kv1_value, 0, "general.alignment 0 is not a power of two");
    PATCH32(o.kv1_value, 64, "not a multiple of the alignment 64"); /* valid, but t.b at 32 is then misaligned */
    PATCH32(o.kv1_value + 0 - 4, S2_GGUF_FLOAT32, "general.alignment: expected an integer");
    /* duplicate key: "k.b" renamed "k.a" */
    b.p[o.kv3_key + 8 + 2] = 'a';
    expect_corrupt(b.p, b.n, "duplicate key 'k.a'", "duplicate key");
    b.p[o.kv3_key + 8 + 2] = 'b';
    /* a NUL inside a string */
    b.p[o.kv4_str1_len + 8 + 1] = 0;
    expect_corrupt(b.p, b.n, "NUL byte", "NUL in string");
    b.p[o.kv4_str1_len + 8 + 1] = 'z';
    s2_gguf *g = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_open_buffer(b.p, b.n, "restored", &g, &err), S2_OK);
    s2_gguf_free(g);
    free(b.p);
}
END_TEST

START_TEST(test_gguf_rejects_bad_tensor_info)
{
    sample_offsets o;
    bb b = sample_file(&o);
    PATCH32(o.t0_ndims, 0, "n_dims 0 not in [1, 4]");
    PATCH32(o.t0_ndims, 5, "n_dims 5 not in [1, 4]");
    PATCH32(o.t0_ndims, UINT32_MAX, "n_dims");
    /* ne products that overflow int64 */
    uint8_t save[16];
    memcpy(save, b.p + o.t0_ne0, 16);
    put64(b.p + o.t0_ne0, 1ull << 40);
    put64(b.p + o.t0_ne1, 1ull << 40);
    expect_corrupt(b.p, b.n, "element count overflows int64", "ne overflow");
    memcpy(b.p + o.t0_ne0, save, 16);
    PATCH64(o.t0_ne0, (1ull << 63) + 4, "exceeds INT64_MAX");
    PATCH64(o.t0_ne0, 1ull << 61, "byte size overflows|past end"); /* 2^62 elements x 4 bytes */
    PATCH64(o.t0_ne0, 1ull << 60, "past end of file");
    PATCH32(o.t0_type, 4, "unknown tensor type 4");
    PATCH32(o.t0_type, 1000, "unknown tensor type 1000");
    PATCH32(o.t0_type, UINT32_MAX, "unknown tensor type");
    PATCH32(o.t0_type, S2_TYPE_Q8_0, "not a multiple of q8_0's block"); /* ne[0] = 4 */
    PATCH64(o.t1_offset, 40, "offset 40 is not a multiple of the alignment 32");
    PATCH64(o.t1_offset, 1, "not a multiple of the alignment");
    PATCH64(o.t1_offset, 32 * 100, "past end of file");
    PATCH64(o.t1_offset, UINT64_MAX - 31, "past end of file");
    PATCH64(o.t0_offset, 96, "past end of file"); /* t.a's 32 bytes at 96: the data section holds 96 */
    /* duplicate tensor name: "t.b" renamed "t.a" */
    b.p[o.t1_name + 8 + 2] = 'a';
    expect_corrupt(b.p, b.n, "duplicate tensor name 't.a'", "duplicate tensor");
    b.p[o.t1_name + 8 + 2] = 'b';
    free(b.p);
}
END_TEST

/* Every cut before t.b's last byte is corrupt; every cut after it is a valid file (trailing padding is
 * optional). */
START_TEST(test_gguf_rejects_truncation_at_every_offset)
{
    sample_offsets o;
    bb b = sample_file(&o);
    size_t needed = o.data + 32 + 34;
    for (size_t cut = 0; cut < needed; cut++) {
        char what[64];
        snprintf(what, sizeof what, "cut at %zu of %zu", cut, b.n);
        expect_corrupt(b.p, cut, "truncated|past end|too small|too large", what);
    }
    for (size_t cut = needed; cut <= b.n; cut++) {
        s2_gguf *g = NULL;
        s2_error err = {0};
        ck_assert_msg(s2_gguf_open_buffer(b.p, cut, "cut", &g, &err) == S2_OK, "cut %zu: %s", cut, err.msg);
        s2_gguf_free(g);
    }
    free(b.p);
}
END_TEST

/* 20000 tensors: lookups by name work, and a duplicate of the first name at the very end is found. */
START_TEST(test_gguf_many_tensors)
{
    const int n = 20000;
    bb b = {0};
    bb_put(&b, "GGUF", 4);
    bb_u32(&b, 3);
    bb_u64(&b, (uint64_t)n);
    bb_u64(&b, 0);
    size_t last_name = 0;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%05d", (i * 7919) % n); /* names out of order */
        if (i == n - 1) last_name = b.n;
        bb_str(&b, name);
        bb_u32(&b, 1);
        bb_u64(&b, 1);
        bb_u32(&b, S2_TYPE_F32);
        bb_u64(&b, (uint64_t)i * 32);
    }
    bb_pad(&b);
    for (int i = 0; i < n; i++) {
        float v = (float)((i * 7919) % n);
        bb_put(&b, &v, 4);
        bb_pad(&b);
    }
    s2_gguf *g = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_gguf_open_buffer(b.p, b.n, "many", &g, &err) == S2_OK, "%s", err.msg);
    for (int k = 0; k < n; k += 997) {
        char name[32];
        snprintf(name, sizeof name, "t%05d", k);
        const s2_gguf_tensor *t = s2_gguf_find_tensor(g, name);
        ck_assert_ptr_nonnull(t);
        ck_assert_float_eq(*(const float *)t->data, (float)k);
    }
    ck_assert_ptr_null(s2_gguf_find_tensor(g, "t20000"));
    ck_assert_ptr_null(s2_gguf_find_tensor(g, ""));
    ck_assert_ptr_null(s2_gguf_find(g, "general.alignment"));
    s2_gguf_free(g);
    memcpy(b.p + last_name + 8, "t00000", 6); /* the last tensor renamed after the first */
    expect_corrupt(b.p, b.n, "duplicate tensor name 't00000' (tensors 0 and 19999)", "late duplicate");
    free(b.p);
}
END_TEST

/* Random byte damage anywhere in the header must never crash or leak: any status is fine, S2_OK included. */
START_TEST(test_gguf_survives_random_damage)
{
    sample_offsets o;
    bb b = sample_file(&o);
    uint64_t r = 42;
    for (int i = 0; i < 3000; i++) {
        uint8_t *copy = malloc(b.n);
        memcpy(copy, b.p, b.n);
        for (int k = 0; k < 1 + i % 4; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            copy[(r >> 33) % o.data] = (uint8_t)(r >> 20);
        }
        s2_gguf *g = NULL;
        s2_error err = {0};
        s2_status st = s2_gguf_open_buffer(copy, b.n, "fuzz", &g, &err);
        if (st == S2_OK) {
            for (int64_t t = 0; t < s2_gguf_n_tensors(g); t++) {
                const s2_gguf_tensor *tt = s2_gguf_tensor_at(g, t);
                ck_assert((const uint8_t *)tt->data + tt->nbytes <= copy + b.n);
            }
            s2_gguf_free(g);
        } else {
            ck_assert_ptr_null(g);
            ck_assert(st == S2_E_FORMAT || st == S2_E_NOMEM);
            ck_assert(err.msg[0] != '\0');
        }
        free(copy);
    }
    free(b.p);
}
END_TEST

/* ---- quantize: the library function and the CLI ---- */

/* out's tensors must be in's, each eligible 2-D one converted row by row as quantize(dequantize(row)). */
static void check_quantized(const char *in_path, const char *out_path, int32_t type, int32_t ftype) {
    s2_gguf *a = NULL, *b = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_open(in_path, &a, &err), S2_OK);
    ck_assert_msg(s2_gguf_open(out_path, &b, &err) == S2_OK, "%s", err.msg);
    for (int64_t i = 0; i < s2_gguf_n_kv(a); i++) {
        const s2_gguf_kv *ka = s2_gguf_kv_at(a, i), *kb = s2_gguf_find(b, ka->key);
        ck_assert_ptr_nonnull(kb);
        if (strcmp(ka->key, "general.file_type") == 0) continue;
        ck_assert_int_eq(kb->type, ka->type);
        ck_assert_uint_eq(kb->n, ka->n);
    }
    int64_t ft = -1;
    ck_assert_int_eq(s2_gguf_get_int(b, "general.file_type", &ft, &err), S2_OK);
    ck_assert_int_eq(ft, ftype);
    ck_assert_int_eq(s2_gguf_n_tensors(b), s2_gguf_n_tensors(a));
    int converted = 0;
    for (int64_t i = 0; i < s2_gguf_n_tensors(a); i++) {
        const s2_gguf_tensor *ta = s2_gguf_tensor_at(a, i), *tb = s2_gguf_tensor_at(b, i);
        ck_assert_str_eq(ta->name, tb->name);
        ck_assert_int_eq(ta->n_dims, tb->n_dims);
        for (int d = 0; d < 4; d++) ck_assert_int_eq(ta->ne[d], tb->ne[d]);
        bool eligible = ta->n_dims == 2 && ta->ne[0] % s2_type_block(type) == 0 && ta->type != type;
        if (!eligible) {
            ck_assert_int_eq(tb->type, ta->type);
            ck_assert_uint_eq(tb->nbytes, ta->nbytes);
            ck_assert_int_eq(memcmp(ta->data, tb->data, ta->nbytes), 0);
            continue;
        }
        converted++;
        ck_assert_int_eq(tb->type, type);
        int64_t n = ta->ne[0], rows = ta->ne[1];
        size_t ra = s2_type_row_size(ta->type, n), rb = s2_type_row_size(type, n);
        ck_assert_uint_eq(tb->nbytes, rb * (size_t)rows);
        float *tmp = malloc((size_t)n * sizeof(float));
        uint8_t *want = malloc(rb);
        for (int64_t r = 0; r < rows; r++) {
            s2_dequantize_row_naive(ta->type, (const uint8_t *)ta->data + r * ra, tmp, n);
            ck_assert_int_eq(s2_quantize_row(type, tmp, want, n), S2_OK);
            ck_assert_msg(memcmp(want, (const uint8_t *)tb->data + r * rb, rb) == 0, "%s row %lld", ta->name,
                          (long long)r);
        }
        free(tmp);
        free(want);
    }
    ck_assert_int_gt(converted, 0);
    s2_gguf_free(a);
    s2_gguf_free(b);
}

static void count_progress(void *user, int64_t done, int64_t total, const char *name) {
    int64_t *c = user;
    ck_assert_int_eq(done, c[0] + 1);
    ck_assert(name != NULL && done <= total);
    c[0] = done;
    c[1] = total;
}

START_TEST(test_gguf_quantize_converts_row_by_row)
{
    const char *src = t_shared("models/stories260K.gguf", "test_gguf_quantize_converts_row_by_row");
    if (src == NULL) return;
    char in[600], out[600], out2[600];
    snprintf(in, sizeof in, "%s", src);
    const char *dir = t_tmpdir();
    snprintf(out, sizeof out, "%s/q.gguf", dir);
    snprintf(out2, sizeof out2, "%s/q2.gguf", dir);
    static const struct { int32_t type, ftype; } cases[] = {
        {S2_TYPE_Q8_0, 7}, {S2_TYPE_Q4_0, 2}, {S2_TYPE_F16, 1}, {S2_TYPE_BF16, 32}, {S2_TYPE_F32, 0}};
    s2_error err = {0};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ck_assert_msg(s2_gguf_quantize(in, out, cases[c].type, &err) == S2_OK, "%s", err.msg);
        if (cases[c].type != S2_TYPE_F32) check_quantized(in, out, cases[c].type, cases[c].ftype);
        /* from a converted file onwards: q8_0 -> q4_0, f16 -> q8_0, ... and back to f32 */
        int32_t next = cases[(c + 1) % 5].type;
        ck_assert_msg(s2_gguf_quantize(out, out2, next, &err) == S2_OK, "%s", err.msg);
        if (cases[c].type != S2_TYPE_F32) check_quantized(out, out2, next, cases[(c + 1) % 5].ftype);
    }
    /* ffn_down (ne[0] = 172) is no multiple of 32: it stays F32 in q8_0, and becomes F16 in f16 */
    ck_assert_int_eq(s2_gguf_quantize(in, out, S2_TYPE_Q8_0, &err), S2_OK);
    s2_gguf *g = NULL;
    ck_assert_int_eq(s2_gguf_open(out, &g, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_find_tensor(g, "blk.0.ffn_down.weight")->type, S2_TYPE_F32);
    ck_assert_int_eq(s2_gguf_find_tensor(g, "blk.0.ffn_up.weight")->type, S2_TYPE_Q8_0);
    ck_assert_int_eq(s2_gguf_find_tensor(g, "output_norm.weight")->type, S2_TYPE_F32);
    s2_gguf_free(g);

    ck_assert_int_eq(s2_gguf_quantize(in, out, S2_TYPE_Q2_K, &err), S2_E_ARG); /* read, never written */
    ck_assert_int_eq(s2_gguf_quantize_mix(in, out, "q3_k_m", NULL, &err), S2_E_ARG);
    int64_t calls[2] = {0, -1};
    s2_quantize_params qp = {.progress = count_progress, .user = calls};
    ck_assert_int_eq(s2_gguf_quantize_mix(in, out, "q8_0", &qp, &err), S2_OK);
    ck_assert_int_eq(calls[0], 48); /* once per tensor of stories260K */
    ck_assert_int_eq(calls[1], 48);
    ck_assert_int_eq(s2_gguf_quantize("/nonexistent.gguf", out, S2_TYPE_Q8_0, &err), S2_E_IO);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.gguf", dir);
    ck_assert(t_write_file(bad, "GGUF\x01\0\0\0 and then some junk bytes", 32));
    ck_assert_int_eq(s2_gguf_quantize(bad, out, S2_TYPE_Q8_0, &err), S2_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "version 1"));
    rm_tmp(bad);
    rm_tmp(out2);
    rm_tmp(out);
}
END_TEST

/* llama2.c's config gives the parameter count independently: dim 64, hidden 172, 5 layers, 8 heads of 8, 4 KV
 * heads, vocab 512, and a separate output matrix in the GGUF. */
#define STORIES_PARAMS (2 * 512 * 64 + 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 172))

START_TEST(test_gguf_cli_info)
{
    const char *src = t_shared("models/stories260K.gguf", "test_gguf_cli_info");
    if (src == NULL) return;
    char cmd[1400], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s info -m %s", t_sys2_bin(), src);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "GGUF version 3, alignment 32, 19 keys, 48 tensors"));
    ck_assert_ptr_nonnull(strstr(out, "general.architecture = \"llama\""));
    ck_assert_ptr_nonnull(strstr(out, "llama.block_count = 5 (uint32)"));
    ck_assert_ptr_nonnull(strstr(out, "tokenizer.ggml.tokens = [string x 512] \"<unk>\", \"<s>\", \"</s>\""));
    ck_assert_ptr_nonnull(strstr(out, "token_embd.weight"));
    char want[64];
    snprintf(want, sizeof want, "parameters: %d\n", STORIES_PARAMS);
    ck_assert_msg(strstr(out, want) != NULL, "no '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "tensor bytes: %d\n", 4 * STORIES_PARAMS);
    ck_assert_ptr_nonnull(strstr(out, want));
    free(out);

    snprintf(cmd, sizeof cmd, "%s info -m %s --json", t_sys2_bin(), src);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    ck_assert_msg(j != NULL, "bad JSON: %s", jerr.text);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n_params")), STORIES_PARAMS);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "version")), 3);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "tensors")), 48);
    json_t *arch = json_object_get(json_object_get(j, "metadata"), "general.architecture");
    ck_assert_str_eq(json_string_value(json_object_get(arch, "value")), "llama");
    json_t *toks = json_object_get(json_object_get(j, "metadata"), "tokenizer.ggml.tokens");
    ck_assert_int_eq(json_integer_value(json_object_get(toks, "n")), 512);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(toks, "first"), 1)), "<s>");
    json_t *t0 = json_array_get(json_object_get(j, "tensors"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "type")), "f32");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(t0, "shape"), 1)), 512);
    json_decref(j);
    free(out);

    /* a corrupt file: exit 1 and the reason on stderr */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.gguf", t_tmpdir());
    ck_assert(t_write_file(bad, "GGUF\x04\0\0\0 and then some junk bytes", 32));
    snprintf(cmd, sizeof cmd, "%s info -m %s 2>&1 >/dev/null", t_sys2_bin(), bad);
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "bad version 4"));
    free(out);
    rm_tmp(bad);
    snprintf(cmd, sizeof cmd, "%s info 2>/dev/null", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s info --help", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: sys2 info"));
    free(out);
}
END_TEST

/* Values JSON cannot hold as they are (invalid UTF-8, nan, inf) still come out as valid JSON. */
START_TEST(test_gguf_cli_info_odd_values)
{
    s2_gguf_writer *w = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_writer_init(&w, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_set_str(w, "odd.str", "a\xff\xfe" "b"), S2_OK);
    ck_assert_int_eq(s2_gguf_set_f32(w, "odd.nan", NAN), S2_OK);
    const double inf[2] = {INFINITY, -INFINITY};
    ck_assert_int_eq(s2_gguf_set_arr(w, "odd.inf", S2_GGUF_FLOAT64, inf, 2), S2_OK);
    const char *const strs[2] = {"ok", "\xc3"};
    ck_assert_int_eq(s2_gguf_set_arr_str(w, "odd.strs", strs, 2), S2_OK);
    char path[600], cmd[1400], *out = NULL;
    snprintf(path, sizeof path, "%s/odd.gguf", t_tmpdir());
    ck_assert_int_eq(s2_gguf_write(w, path, &err), S2_OK);
    s2_gguf_writer_free(w);
    snprintf(cmd, sizeof cmd, "%s info -m %s --json", t_sys2_bin(), path);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    ck_assert_msg(j != NULL, "bad JSON: %s\n%s", jerr.text, out);
    json_t *meta = json_object_get(j, "metadata");
    ck_assert_uint_eq(json_object_size(meta), 4);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(meta, "odd.str"), "value")), "a??b");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(meta, "odd.nan"), "value")), "nan");
    json_t *first = json_object_get(json_object_get(meta, "odd.inf"), "first");
    ck_assert_str_eq(json_string_value(json_array_get(first, 0)), "inf");
    ck_assert_str_eq(json_string_value(json_array_get(first, 1)), "-inf");
    first = json_object_get(json_object_get(meta, "odd.strs"), "first");
    ck_assert_str_eq(json_string_value(json_array_get(first, 1)), "?");
    json_decref(j);
    free(out);
    snprintf(cmd, sizeof cmd, "%s info -m %s", t_sys2_bin(), path);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "odd.str = \"a\\xff\\xfeb\""));
    ck_assert_ptr_nonnull(strstr(out, "odd.nan = nan (float32)"));
    free(out);
    rm_tmp(path);
}
END_TEST

START_TEST(test_gguf_cli_quantize)
{
    const char *src = t_shared("models/stories260K.gguf", "test_gguf_cli_quantize");
    if (src == NULL) return;
    const char *dir = t_tmpdir();
    char cmd[1400], *out = NULL, dst[600];
    snprintf(dst, sizeof dst, "%s/q4.gguf", dir);
    snprintf(cmd, sizeof cmd, "%s quantize --pure %s %s q4_0", t_sys2_bin(), src, dst);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    /* 5 layers x 6 matrices with ne[0] = 64, plus token_embd and output, are converted; ffn_down stays */
    ck_assert_msg(strstr(out, "32 of 48 tensors converted") != NULL, "%s", out);
    char want[96];
    snprintf(want, sizeof want, "tensor bytes %d ->", 4 * STORIES_PARAMS);
    ck_assert_ptr_nonnull(strstr(out, want));
    free(out);
    check_quantized(src, dst, S2_TYPE_Q4_0, 2);
    snprintf(cmd, sizeof cmd, "%s quantize %s %s q2_k 2>/dev/null", t_sys2_bin(), src, dst);
    ck_assert_int_eq(t_run(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s quantize %s 2>/dev/null", t_sys2_bin(), src);
    ck_assert_int_eq(t_run(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s quantize /nonexistent.gguf %s q8_0 2>&1", t_sys2_bin(), dst);
    ck_assert_int_eq(t_run(cmd, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "/nonexistent.gguf"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s quantize --help", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: sys2 quantize"));
    free(out);
    rm_tmp(dst);
}
END_TEST

/* ---- corrupt quantized tensors: every type sys2 reads ---- */

/* The n_dims field of tensor name's info in a GGUF image (found by its length-prefixed name), or NULL. */
static uint8_t *tensor_info(uint8_t *file, size_t len, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i + 8 + n + 4 <= len; i++) {
        uint64_t l;
        memcpy(&l, file + i, 8);
        if (l == n && memcmp(file + i + 8, name, n) == 0) return file + i + 8 + n;
    }
    return NULL;
}

/* Writes one tensor of type (2 rows of ne0) with data to path through the writer. */
static void write_one(const char *path, const char *name, int32_t type, int64_t ne0, const void *data) {
    s2_gguf_writer *w = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_writer_init(&w, &err), S2_OK);
    const int64_t ne[2] = {ne0, 2};
    ck_assert_msg(s2_gguf_add_tensor(w, name, type, 2, ne, data, &err) == S2_OK, "%s", err.msg);
    ck_assert_msg(s2_gguf_write(w, path, &err) == S2_OK, "%s", err.msg);
    s2_gguf_writer_free(w);
}

/* Truncated blocks, rows the block does not divide (with a hostile name, which comes back escaped), and NaN,
 * Inf and absurd F16 scales: a clear error or defined values, never a crash (the suite runs under ASan). */
START_TEST(test_gguf_corrupt_quant_blocks)
{
    static const struct { int32_t type; int d_off[2]; } types[] = {
        {S2_TYPE_Q4_1, {0, 2}}, {S2_TYPE_Q5_0, {0, -1}},  {S2_TYPE_Q5_1, {0, 2}},   {S2_TYPE_Q2_K, {80, 82}},
        {S2_TYPE_Q3_K, {108, -1}}, {S2_TYPE_Q4_K, {0, 2}}, {S2_TYPE_Q5_K, {0, 2}}, {S2_TYPE_Q6_K, {208, -1}},
        {S2_TYPE_IQ4_NL, {0, -1}}, {S2_TYPE_IQ4_XS, {0, -1}}, {S2_TYPE_Q8_0, {0, -1}}, {S2_TYPE_Q4_0, {0, -1}},
    };
    char path[600];
    snprintf(path, sizeof path, "%s/qblk.gguf", t_tmpdir());
    uint64_t rng = 77;
    for (size_t c = 0; c < sizeof types / sizeof types[0]; c++) {
        int32_t type = types[c].type;
        int64_t blk = s2_type_block(type), ne0 = blk == 256 ? 512 : 64;
        size_t row = s2_type_row_size(type, ne0), bytes = 2 * row;
        uint8_t *data = malloc(bytes);
        for (size_t i = 0; i < bytes; i++) data[i] = (uint8_t)((rng = rng * 6364136223846793005ull + 1) >> 56);
        s2_error err = {0};
        s2_gguf *g = NULL;
        const char *evil = "blk.0.\x1b[2Jevil\xff.weight";

        /* 1. truncated: the last block's bytes are missing */
        write_one(path, evil, type, ne0, data);
        size_t len = 0;
        uint8_t *file = (uint8_t *)t_read_file(path, &len);
        ck_assert(t_write_file(path, file, len - 33)); /* past any padding after the data */
        ck_assert_int_eq(s2_gguf_open(path, &g, &err), S2_E_FORMAT);
        ck_assert_msg(strstr(err.msg, "past end of file") != NULL, "%s", err.msg);
        ck_assert_msg(strstr(err.msg, "\\x1b[2Jevil\\xff.weight") != NULL && strchr(err.msg, 0x1b) == NULL, "%s",
                      err.msg);

        /* 2. rows the block does not divide: ne[0] patched to half a block */
        uint8_t *info = tensor_info(file, len, evil);
        ck_assert_ptr_nonnull(info);
        uint64_t bad_ne0 = (uint64_t)blk / 2 * 3; /* 1.5 blocks: 384 or 48 */
        memcpy(info + 4, &bad_ne0, 8);
        ck_assert(t_write_file(path, file, len));
        ck_assert_int_eq(s2_gguf_open(path, &g, &err), S2_E_FORMAT);
        char want[96];
        snprintf(want, sizeof want, "is not a multiple of %s's block %lld", s2_type_name(type), (long long)blk);
        ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
        ck_assert_ptr_null(strchr(err.msg, 0x1b));
        free(file);

        /* 3. scales: NaN, Inf and the largest half in every block's d (and dmin) */
        static const uint16_t scales[3] = {0x7e00, 0x7c00, 0x7bff};
        int32_t xt = s2_vec_dot_type(type);
        float *xf = malloc((size_t)ne0 * sizeof(float)), *y = malloc((size_t)ne0 * sizeof(float));
        uint8_t *xq = malloc(s2_type_row_size(xt, ne0));
        for (int64_t i = 0; i < ne0; i++) xf[i] = (float)((i * 37) % 19) - 9.0f;
        ck_assert_int_eq(s2_quantize_row(xt, xf, xq, ne0), S2_OK);
        for (int k = 0; k < 3; k++) {
            for (size_t b = 0; b < bytes / s2_type_block_bytes(type); b++)
                for (int o = 0; o < 2; o++)
                    if (types[c].d_off[o] >= 0) memcpy(data + b * s2_type_block_bytes(type) + types[c].d_off[o], &scales[k], 2);
            write_one(path, "w", type, ne0, data);
            ck_assert_msg(s2_gguf_open(path, &g, &err) == S2_OK, "%s", err.msg);
            const s2_gguf_tensor *t = s2_gguf_find_tensor(g, "w");
            int non_finite = 0;
            for (int32_t level = 0; level <= s2_quant_set_simd(-1); level++) {
                s2_quant_set_simd(level);
                ck_assert_int_eq(s2_dequantize_row(type, t->data, y, ne0), S2_OK);
                for (int64_t i = 0; i < ne0; i++) non_finite += !isfinite(y[i]);
                float dot = s2_vec_dot(type, t->data, xq, ne0);
                if (k < 2) ck_assert_msg(!isfinite(dot), "%s scale %04x: dot %g", s2_type_name(type), scales[k], (double)dot);
            }
            s2_quant_set_simd(-1);
            if (k < 2) ck_assert_int_gt(non_finite, 0);
            s2_gguf_free(g);
            g = NULL;
        }
        free(xf);
        free(y);
        free(xq);
        free(data);
    }
    rm_tmp(path);
}
END_TEST

/* `sys2 info` prints tensor names and keys from a hostile file escaped: no raw escape byte reaches the terminal. */
START_TEST(test_gguf_cli_info_escapes_names)
{
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/evil.gguf", t_tmpdir());
    s2_gguf_writer *w = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_gguf_writer_init(&w, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_set_u32(w, "evil.\x1b]0;pwned\x07key", 1), S2_OK);
    float data[64] = {0};
    const int64_t ne[2] = {32, 2};
    ck_assert_int_eq(s2_gguf_add_tensor(w, "t\x1b[2J\xfe", S2_TYPE_F32, 2, ne, data, &err), S2_OK);
    ck_assert_int_eq(s2_gguf_write(w, path, &err), S2_OK);
    s2_gguf_writer_free(w);
    snprintf(cmd, sizeof cmd, "%s info -m %s", t_sys2_bin(), path);
    char *out = NULL;
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_ptr_null(strchr(out, 0x1b));
    ck_assert_ptr_null(strchr(out, 0x07));
    ck_assert_msg(strstr(out, "t\\x1b[2J\\xfe") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "evil.\\x1b]0;pwned\\x07key") != NULL, "%s", out);
    free(out);
    rm_tmp(path);
}
END_TEST

/* A model whose weight has a type sys2 does not read (iq2_xxs, patched into tiny-q4_0) is refused by name. */
START_TEST(test_gguf_model_refuses_unread_type_by_name)
{
    const char *src = t_shared("models/quant/tiny-q4_0.gguf", "test_gguf_model_refuses_unread_type_by_name");
    if (src == NULL) return;
    size_t len = 0;
    uint8_t *file = (uint8_t *)t_read_file(src, &len);
    ck_assert_ptr_nonnull(file);
    uint8_t *info = tensor_info(file, len, "blk.0.attn_q.weight");
    ck_assert_ptr_nonnull(info);
    uint32_t n_dims, iq2_xxs = 16;
    memcpy(&n_dims, info, 4);
    memcpy(info + 4 + 8 * n_dims, &iq2_xxs, 4); /* its 256-wide rows: 66 bytes instead of q4_0's 144, still inside */
    char path[600];
    snprintf(path, sizeof path, "%s/iq2.gguf", t_tmpdir());
    ck_assert(t_write_file(path, file, len));
    free(file);
    s2_model *m = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_model_load(path, NULL, &m, &err), S2_E_UNSUPPORTED);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, "blk.0.attn_q.weight has type iq2_xxs") != NULL, "%s", err.msg);
    rm_tmp(path);
}
END_TEST

T_SUITE_DECL(gguf)
Suite *gguf_suite(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, test_gguf_reads_stories260k);
    tcase_add_test(tc, test_gguf_getters_report_missing_and_wrong_types);
    tcase_add_test(tc, test_gguf_reads_vocab_only_files);
    tcase_add_test(tc, test_gguf_open_missing_file_is_io_error);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("write");
    tcase_add_test(tw, test_gguf_writer_matches_handcrafted_bytes);
    tcase_add_test(tw, test_gguf_round_trip_every_type);
    tcase_add_test(tw, test_gguf_write_to_missing_dir_is_io_error);
    suite_add_tcase(s, tw);
    TCase *tcor = tcase_create("corrupt");
    tcase_set_timeout(tcor, 30);
    tcase_add_test(tcor, test_gguf_sample_is_valid);
    tcase_add_test(tcor, test_gguf_rejects_bad_header);
    tcase_add_test(tcor, test_gguf_rejects_bad_kv);
    tcase_add_test(tcor, test_gguf_rejects_bad_tensor_info);
    tcase_add_test(tcor, test_gguf_rejects_truncation_at_every_offset);
    tcase_add_test(tcor, test_gguf_survives_random_damage);
    tcase_add_test(tcor, test_gguf_many_tensors);
    tcase_add_test(tcor, test_gguf_corrupt_quant_blocks);
    tcase_add_test(tcor, test_gguf_model_refuses_unread_type_by_name);
    suite_add_tcase(s, tcor);
    TCase *tq = tcase_create("quantize");
    tcase_set_timeout(tq, 30);
    tcase_add_test(tq, test_gguf_quantize_converts_row_by_row);
    tcase_add_test(tq, test_gguf_cli_info);
    tcase_add_test(tq, test_gguf_cli_info_odd_values);
    tcase_add_test(tq, test_gguf_cli_quantize);
    tcase_add_test(tq, test_gguf_cli_info_escapes_names);
    suite_add_tcase(s, tq);
    return s;
}
