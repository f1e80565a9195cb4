/* GGUF reader, writer and corrupt-file handling. References: the shared stories260K files (the .gguf's tensors
 * are bit-identical to the llama2.c .bin, parsed here independently), llama.cpp's vocab files, and files this
 * suite writes and then damages byte by byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "testutil.h"

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

T_SUITE_DECL(gguf)
Suite *gguf_suite(void) {
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, test_gguf_reads_stories260k);
    tcase_add_test(tc, test_gguf_getters_report_missing_and_wrong_types);
    tcase_add_test(tc, test_gguf_reads_vocab_only_files);
    tcase_add_test(tc, test_gguf_open_missing_file_is_io_error);
    suite_add_tcase(s, tc);
    return s;
}
