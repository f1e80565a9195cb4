/* The engine against its references: llama2.c's and llama.cpp's logits and greedy texts on stories260K (from
 * ../shared/reference), batch against token by token, the .bin and .gguf loads against each other, quantized
 * against F32, sampling against the softmax it samples from, and bad input. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "gguf.h"
#include "init_model.h"
#include "quant.h"
#include "sys2.h"
#include "testutil.h"

/* ---- fixtures ---- */

static s2_model *load_bin(void) {
    const char *bin = t_shared("models/stories260K.bin", "engine");
    if (bin == NULL) return NULL;
    char binp[4096];
    snprintf(binp, sizeof binp, "%s", bin);
    const char *tok = t_shared("models/tok512.bin", "engine");
    if (tok == NULL) return NULL;
    s2_model_params mp = s2_model_default_params();
    mp.tokenizer = tok;
    s2_model *m = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_model_load(binp, &mp, &m, &err) == S2_OK, "%s", err.msg);
    return m;
}

static s2_model *load_gguf_path(const char *path) {
    s2_model *m = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_model_load(path, NULL, &m, &err) == S2_OK, "%s: %s", path, err.msg);
    return m;
}

static s2_model *load_gguf(void) {
    const char *p = t_shared("models/stories260K.gguf", "engine");
    return p ? load_gguf_path(p) : NULL;
}

static s2_ctx *new_ctx(const s2_model *m, int32_t n_ctx, int32_t n_batch) {
    s2_ctx_params cp = s2_ctx_default_params();
    cp.n_ctx = n_ctx;
    if (n_batch > 0) cp.n_batch = n_batch;
    s2_ctx *ctx = NULL;
    s2_error err = {0};
    ck_assert_msg(s2_ctx_init(m, &cp, &ctx, &err) == S2_OK, "%s", err.msg);
    return ctx;
}

/* The reference's input tokens and logits (n positions x V). */
typedef struct ref_logits {
    int32_t n, V, ids[512], argmax[512];
    float *logits;
} ref_logits;

static bool load_ref(const char *rel, ref_logits *r) {
    const char *path = t_shared(rel, "engine");
    if (path == NULL) return false;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", path, je.text);
    json_t *pos = json_object_get(j, "positions");
    r->n = (int32_t)json_array_size(pos);
    r->V = (int32_t)json_array_size(json_object_get(json_array_get(pos, 0), "logits"));
    r->logits = malloc((size_t)r->n * r->V * sizeof(float));
    for (int32_t i = 0; i < r->n; i++) {
        json_t *p = json_array_get(pos, i);
        r->ids[i] = (int32_t)json_integer_value(json_object_get(p, "input_token"));
        r->argmax[i] = (int32_t)json_integer_value(json_object_get(p, "argmax"));
        json_t *lg = json_object_get(p, "logits");
        for (int32_t t = 0; t < r->V; t++) r->logits[(size_t)i * r->V + t] = (float)json_number_value(json_array_get(lg, t));
    }
    json_decref(j);
    return true;
}

/* Decodes ids on a fresh sequence, rows at a time (rows = n: one batch; 1: token by token), into out (n x V). */
static void decode_all(s2_ctx *ctx, const int32_t *ids, int32_t n, int32_t rows, int32_t V, float *out) {
    s2_seq seq;
    s2_error err = {0};
    ck_assert_int_eq(s2_seq_new(ctx, &seq, &err), S2_OK);
    s2_seq seqs[512];
    bool want[512];
    for (int32_t i = 0; i < n; i++) seqs[i] = seq, want[i] = true;
    for (int32_t i0 = 0; i0 < n; i0 += rows) {
        int32_t k = n - i0 < rows ? n - i0 : rows;
        ck_assert_msg(s2_ctx_decode(ctx, seqs, ids + i0, want, k, &err) == S2_OK, "%s", err.msg);
        ck_assert_int_eq(s2_ctx_n_logits(ctx), k);
        for (int32_t r = 0; r < k; r++) memcpy(out + (size_t)(i0 + r) * V, s2_ctx_logits(ctx, r), (size_t)V * sizeof(float));
    }
    s2_seq_free(ctx, seq);
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN makes it NaN-large */
    }
    return m;
}

static int32_t argmax_of(const float *x, int32_t n) {
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* ---- logits against the references ---- */

static void check_against(s2_model *m, const char *ref_rel, int32_t rows) {
    ref_logits r;
    if (!load_ref(ref_rel, &r)) return;
    ck_assert_int_eq(r.V, s2_model_hparams(m)->n_vocab);
    s2_ctx *ctx = new_ctx(m, 512, 0);
    float *got = malloc((size_t)r.n * r.V * sizeof(float));
    decode_all(ctx, r.ids, r.n, rows, r.V, got);
    double d = max_abs_diff(got, r.logits, (size_t)r.n * r.V);
    ck_assert_msg(d < 1e-4, "%s: max |logit - reference| = %g over %d positions", ref_rel, d, r.n);
    for (int32_t i = 0; i < r.n; i++) ck_assert_int_eq(argmax_of(got + (size_t)i * r.V, r.V), r.argmax[i]);
    free(got);
    free(r.logits);
    s2_ctx_free(ctx);
}

START_TEST(test_engine_bin_logits_match_llama2c)
{
    s2_model *m = load_bin();
    if (m == NULL) return;
    check_against(m, "reference/stories260K/logits_once_upon_a_time_64pos.llama2c.json", 64); /* one batch */
    check_against(m, "reference/stories260K/logits_once_upon_a_time_64pos.llama2c.json", 1);  /* token by token */
    s2_model_free(m);
}
END_TEST

START_TEST(test_engine_gguf_logits_match_llamacpp_and_llama2c)
{
    s2_model *m = load_gguf();
    if (m == NULL) return;
    check_against(m, "reference/stories260K/logits_once_upon_a_time.llamacpp_kvf32.json", 64);
    check_against(m, "reference/stories260K/logits_once_upon_a_time_64pos.llama2c.json", 7);
    s2_model_free(m);
}
END_TEST

START_TEST(test_engine_bin_and_gguf_agree)
{
    s2_model *a = load_bin(), *b = load_gguf();
    if (a == NULL || b == NULL) {
        s2_model_free(a);
        s2_model_free(b);
        return;
    }
    const s2_hparams *ha = s2_model_hparams(a), *hb = s2_model_hparams(b);
    ck_assert_int_eq(ha->n_embd, hb->n_embd);
    ck_assert_int_eq(ha->n_layer, hb->n_layer);
    ck_assert_int_eq(ha->n_head_kv, hb->n_head_kv);
    /* llama.cpp's converter stores the shared classifier again as output.weight: one more V x D matrix */
    ck_assert_int_eq(s2_model_n_params(a) + (int64_t)ha->n_vocab * ha->n_embd * (ha->tied_output && !hb->tied_output),
                     s2_model_n_params(b));
    int32_t ids[40];
    for (int32_t i = 0; i < 40; i++) ids[i] = i == 0 ? 1 : (i * 37 + 11) % 512;
    s2_ctx *ca = new_ctx(a, 128, 0), *cb = new_ctx(b, 128, 0);
    float *la = malloc(40 * 512 * sizeof(float)), *lb = malloc(40 * 512 * sizeof(float));
    decode_all(ca, ids, 40, 40, 512, la);
    decode_all(cb, ids, 40, 40, 512, lb);
    ck_assert_msg(max_abs_diff(la, lb, 40 * 512) < 1e-6, "bin vs gguf: %g", max_abs_diff(la, lb, 40 * 512));
    free(la);
    free(lb);
    s2_ctx_free(ca);
    s2_ctx_free(cb);
    s2_model_free(a);
    s2_model_free(b);
}
END_TEST

/* ---- greedy texts ---- */

static void check_text(s2_model *m, const char *prompt, int32_t n, const char *ref_rel) {
    const char *path = t_shared(ref_rel, "engine");
    if (path == NULL) return;
    char *ref = t_read_file(path, NULL);
    ck_assert_ptr_nonnull(ref);
    s2_ctx *ctx = new_ctx(m, 512, 0);
    s2_gen_params gp = s2_gen_default_params();
    gp.sample.temperature = 0;
    gp.max_tokens = n;
    s2_gen_result res;
    s2_error err = {0};
    ck_assert_msg(s2_generate(ctx, prompt, &gp, &res, &err) == S2_OK, "%s", err.msg);
    size_t len = strlen(res.text);
    /* llama2.c's run prints the text, then a newline */
    ck_assert_msg(strlen(ref) == len + 1 && memcmp(ref, res.text, len) == 0 && ref[len] == '\n',
                  "%s: got\n%s\nwant\n%s", ref_rel, res.text, ref);
    ck_assert_int_eq(res.n_gen, n);
    s2_gen_result_free(&res);
    s2_ctx_free(ctx);
    free(ref);
}

START_TEST(test_engine_greedy_texts_match_llama2c)
{
    s2_model *m = load_bin(), *g = load_gguf();
    if (m == NULL || g == NULL) {
        s2_model_free(m);
        s2_model_free(g);
        return;
    }
    /* llama2.c's -n counts positions: BOS + 4 prompt tokens + 60 new tokens print 64 pieces */
    check_text(m, "Once upon a time", 60, "reference/stories260K/greedy_once_upon_a_time_n64.llama2c.txt");
    check_text(m, "Once upon a time", 252, "reference/stories260K/greedy_once_upon_a_time_n256.llama2c.txt");
    check_text(m, "", 256, "reference/stories260K/greedy_noprompt_n256.llama2c.txt");
    check_text(g, "Once upon a time", 252, "reference/stories260K/greedy_once_upon_a_time_n256.llama2c.txt");
    s2_model_free(m);
    s2_model_free(g);
}
END_TEST

START_TEST(test_engine_cli_generate_byte_for_byte)
{
    const char *gguf = t_shared("models/stories260K.gguf", "engine");
    if (gguf == NULL) return;
    char model[4096];
    snprintf(model, sizeof model, "%s", gguf);
    const char *refp = t_shared("reference/stories260K/greedy_once_upon_a_time_n64.llama2c.txt", "engine");
    if (refp == NULL) return;
    char *ref = t_read_file(refp, NULL), cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s generate -m %s -p 'Once upon a time' -n 60", t_sys2_bin(), model);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    ck_assert_str_eq(out, ref);
    free(out);
    snprintf(cmd, sizeof cmd, "%s generate -m %s -p 'Once upon a time' -n 3 --json", t_sys2_bin(), model);
    ck_assert_int_eq(t_run(cmd, &out), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "text")), "Once upon a time, there was");
    json_t *toks = json_object_get(j, "tokens");
    ck_assert_int_eq(json_array_size(toks), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(toks, 0), "id")), 432);
    ck_assert(json_real_value(json_object_get(json_array_get(toks, 0), "logprob")) < 0);
    json_decref(j);
    free(out);
    snprintf(cmd, sizeof cmd, "%s generate -m /nonexistent.gguf -p x 2>/dev/null", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 1);
    snprintf(cmd, sizeof cmd, "%s generate --bogus 2>/dev/null", t_sys2_bin());
    ck_assert_int_eq(t_run(cmd, NULL), 2);
    free(ref);
}
END_TEST

/* ---- perplexity and scoring against the reference logits ---- */

START_TEST(test_engine_perplexity_matches_reference_logits)
{
    s2_model *m = load_bin();
    ref_logits r;
    if (m == NULL || !load_ref("reference/stories260K/logits_once_upon_a_time_64pos.llama2c.json", &r)) {
        s2_model_free(m);
        return;
    }
    /* the NLL of input tokens 1..63 under the reference's own logits */
    double nll = 0;
    for (int32_t i = 0; i + 1 < r.n; i++) {
        const float *lg = r.logits + (size_t)i * r.V;
        double mx = lg[0], s = 0;
        for (int32_t t = 1; t < r.V; t++) mx = lg[t] > mx ? lg[t] : mx;
        for (int32_t t = 0; t < r.V; t++) s += exp(lg[t] - mx);
        nll -= lg[r.ids[i + 1]] - (mx + log(s));
    }
    /* the same tokens as text */
    char text[4096];
    int32_t len = s2_detokenize(s2_model_vocab(m), r.ids, r.n, false, text, (int32_t)sizeof text - 1);
    ck_assert(len > 0);
    int32_t back[512];
    int32_t nb = s2_tokenize(s2_model_vocab(m), text, (size_t)len, false, false, back, 512);
    ck_assert_int_eq(nb, r.n - 1);
    ck_assert_mem_eq(back, r.ids + 1, (size_t)nb * sizeof(int32_t));
    s2_ctx *ctx = new_ctx(m, 512, 0);
    s2_ppl_result pr;
    s2_error err = {0};
    ck_assert_msg(s2_perplexity(ctx, text, (size_t)len, &pr, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(pr.n_tokens, r.n - 1);
    ck_assert_msg(fabs(pr.nll - nll) < 1e-3, "nll %f vs reference %f", pr.nll, nll);
    ck_assert(fabs(pr.ppl - exp(nll / (r.n - 1))) < 1e-3 * pr.ppl);
    ck_assert(fabs(pr.bits_per_byte - nll / log(2.0) / len) < 1e-4);
    /* scoring the same text after BOS is the same sum */
    s2_score_result sr;
    ck_assert_msg(s2_score_text(ctx, "", text, &sr, &err) == S2_OK, "%s", err.msg);
    ck_assert_int_eq(sr.n, r.n - 1);
    ck_assert_msg(fabs(-sr.sum - nll) < 1e-3, "score %f vs nll %f", -sr.sum, nll);
    s2_score_result_free(&sr);
    s2_ctx_free(ctx);
    free(r.logits);
    s2_model_free(m);
}
END_TEST

/* ---- random models: quantized against F32, qwen2, batch splits ---- */

static char *random_model(const char *name, const char *arch, int32_t type, uint64_t seed) {
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", t_tmpdir(), name);
    s2_init_params ip = s2_init_default_params();
    ip.arch = arch;
    ip.type = type;
    ip.seed = seed;
    ip.n_embd = 64;
    ip.n_ff = 96;
    ip.n_ctx = 256;
    ip.tied = false;
    s2_error err = {0};
    ck_assert_msg(s2_model_init_random(&ip, p, &err) == S2_OK, "%s", err.msg);
    return p;
}

static double rel_rms(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)a[i] * a[i];
    }
    return sqrt(num / den);
}

START_TEST(test_engine_quantized_logits_close_to_f32)
{
    char *f32 = random_model("f32.gguf", "llama", S2_TYPE_F32, 7);
    int32_t types[] = {S2_TYPE_F16, S2_TYPE_BF16, S2_TYPE_Q8_0, S2_TYPE_Q4_0};
    /* bounds on the relative RMS error of the logits, a few times what was measured (README) */
    double bound[] = {1e-3, 2e-2, 2e-2, 2e-1};
    s2_model *m0 = load_gguf_path(f32);
    int32_t V = s2_model_hparams(m0)->n_vocab, n = 24, ids[24];
    for (int32_t i = 0; i < n; i++) ids[i] = (i * 53 + 5) % V;
    s2_ctx *c0 = new_ctx(m0, 64, 0);
    float *l0 = malloc((size_t)n * V * sizeof(float)), *l1 = malloc((size_t)n * V * sizeof(float));
    decode_all(c0, ids, n, n, V, l0);
    for (int t = 0; t < 4; t++) {
        char *q = random_model(s2_type_name(types[t]), "llama", types[t], 7);
        s2_model *m1 = load_gguf_path(q);
        s2_ctx *c1 = new_ctx(m1, 64, 0);
        decode_all(c1, ids, n, n, V, l1);
        double e = rel_rms(l0, l1, (size_t)n * V);
        ck_assert_msg(e < bound[t] && e > 0, "%s: relative RMS logit error %g", s2_type_name(types[t]), e);
        /* token by token (the int8 dot-product path, activations quantized to Q8_0 as llama.cpp does) stays as
         * close to F32 as the batch (dequantized tiles, F32 activations) */
        decode_all(c1, ids, n, 1, V, l1);
        e = rel_rms(l0, l1, (size_t)n * V);
        ck_assert_msg(e < bound[t], "%s single rows: relative RMS logit error %g", s2_type_name(types[t]), e);
        s2_ctx_free(c1);
        s2_model_free(m1);
    }
    free(l0);
    free(l1);
    s2_ctx_free(c0);
    s2_model_free(m0);
}
END_TEST

START_TEST(test_engine_batch_split_and_single_agree_on_random_models)
{
    const char *archs[] = {"llama", "qwen2"};
    int32_t types[] = {S2_TYPE_F32, S2_TYPE_F16};
    for (int a = 0; a < 2; a++)
        for (int t = 0; t < 2; t++) {
            char *p = random_model("r.gguf", archs[a], types[t], 11 + (uint64_t)a);
            s2_model *m = load_gguf_path(p);
            ck_assert_str_eq(s2_model_hparams(m)->arch, archs[a]);
            ck_assert(s2_model_hparams(m)->qkv_bias == (a == 1));
            int32_t V = s2_model_hparams(m)->n_vocab, n = 40, ids[40];
            for (int32_t i = 0; i < n; i++) ids[i] = (i * 31 + 3) % V;
            s2_ctx *c1 = new_ctx(m, 64, 0), *c2 = new_ctx(m, 64, 9); /* n_batch 9: the batch is split */
            float *x = malloc((size_t)n * V * sizeof(float)), *y = malloc((size_t)n * V * sizeof(float));
            float *z = malloc((size_t)n * V * sizeof(float));
            decode_all(c1, ids, n, n, V, x);
            decode_all(c1, ids, n, 1, V, y);
            decode_all(c2, ids, n, n, V, z);
            double dxy = max_abs_diff(x, y, (size_t)n * V), dxz = max_abs_diff(x, z, (size_t)n * V);
            ck_assert_msg(dxy < 1e-4 && dxz < 1e-4, "%s/%s: batch vs single %g, vs split %g", archs[a],
                          s2_type_name(types[t]), dxy, dxz);
            free(x);
            free(y);
            free(z);
            s2_ctx_free(c1);
            s2_ctx_free(c2);
            s2_model_free(m);
        }
}
END_TEST

/* ---- sampling ---- */

START_TEST(test_engine_sampling_follows_softmax_and_seed)
{
    float logits[5] = {1.0f, 2.0f, 0.5f, -1.0f, 2.0f};
    char scratch[256];
    s2_rng rng;
    s2_rng_seed(&rng, 123);
    s2_sample_params p = s2_sample_default_params();
    int counts[5] = {0};
    const int N = 200000;
    for (int i = 0; i < N; i++) counts[s2_sample(logits, 5, &p, &rng, scratch, NULL)]++;
    double z = 0;
    for (int i = 0; i < 5; i++) z += exp(logits[i]);
    for (int i = 0; i < 5; i++) {
        double pi = exp(logits[i]) / z, se = sqrt(pi * (1 - pi) / N);
        ck_assert_msg(fabs((double)counts[i] / N - pi) < 5 * se, "token %d: %f vs %f", i, (double)counts[i] / N, pi);
    }
    /* greedy: the lowest id wins the tie between 1 and 4; its log-prob is the softmax's */
    p.temperature = 0;
    float lp;
    ck_assert_int_eq(s2_sample(logits, 5, &p, &rng, scratch, &lp), 1);
    ck_assert(fabs(lp - (2.0 - log(z))) < 1e-6);
    /* top-k 2 keeps ids 1 and 4 only; top-p tiny keeps the best; min-p 0.5 drops those below half the best */
    p = s2_sample_default_params();
    p.top_k = 2;
    for (int i = 0; i < 2000; i++) {
        int32_t t = s2_sample(logits, 5, &p, &rng, scratch, NULL);
        ck_assert(t == 1 || t == 4);
    }
    p = s2_sample_default_params();
    p.top_p = 0.01f;
    for (int i = 0; i < 100; i++) ck_assert_int_eq(s2_sample(logits, 5, &p, &rng, scratch, NULL), 1);
    p = s2_sample_default_params();
    p.min_p = 0.5f; /* e^(1-2) = 0.37 < 0.5: only ids 1 and 4 stay */
    for (int i = 0; i < 2000; i++) {
        int32_t t = s2_sample(logits, 5, &p, &rng, scratch, NULL);
        ck_assert(t == 1 || t == 4);
    }
    /* the same seed gives the same draws */
    s2_rng a, b;
    s2_rng_seed(&a, 99);
    s2_rng_seed(&b, 99);
    p = s2_sample_default_params();
    p.temperature = 0.8f;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(s2_sample(logits, 5, &p, &a, scratch, NULL), s2_sample(logits, 5, &p, &b, scratch, NULL));
}
END_TEST

START_TEST(test_engine_generate_seeded_is_reproducible_and_stops)
{
    s2_model *m = load_gguf();
    if (m == NULL) return;
    s2_ctx *ctx = new_ctx(m, 256, 0);
    s2_gen_params gp = s2_gen_default_params();
    gp.sample.temperature = 0.9f;
    gp.seed = 5;
    gp.max_tokens = 80;
    s2_gen_result a, b;
    s2_error err = {0};
    ck_assert_int_eq(s2_generate(ctx, "Once upon a time", &gp, &a, &err), S2_OK);
    ck_assert_int_eq(s2_generate(ctx, "Once upon a time", &gp, &b, &err), S2_OK);
    ck_assert_str_eq(a.text, b.text);
    ck_assert_int_eq(a.n_gen, b.n_gen);
    for (int32_t i = 0; i < a.n_gen; i++) ck_assert(a.logprobs[i] <= 0 && a.logprobs[i] == b.logprobs[i]);
    s2_gen_result_free(&b);
    /* a stop string cuts the text before it */
    const char *stops[] = {"."};
    gp.stops = stops;
    gp.n_stops = 1;
    ck_assert_int_eq(s2_generate(ctx, "Once upon a time", &gp, &b, &err), S2_OK);
    ck_assert_str_eq(b.stop_reason, "stop");
    ck_assert_ptr_null(strchr(b.text, '.'));
    ck_assert(strncmp(a.text, b.text, strlen(b.text)) == 0);
    s2_gen_result_free(&a);
    s2_gen_result_free(&b);
    s2_ctx_free(ctx);
    s2_model_free(m);
}
END_TEST

/* ---- bad input ---- */

START_TEST(test_engine_prompt_longer_than_context_is_an_error)
{
    s2_model *m = load_gguf();
    if (m == NULL) return;
    s2_ctx *ctx = new_ctx(m, 16, 0);
    s2_gen_result res;
    s2_error err = {0};
    s2_gen_params gp = s2_gen_default_params();
    const char *longp = "Once upon a time there was a little girl named Lily who loved to play in the park every day";
    ck_assert_int_eq(s2_generate(ctx, longp, &gp, &res, &err), S2_E_BUDGET);
    ck_assert_msg(strstr(err.msg, "longer than the context") != NULL, "%s", err.msg);
    /* decode rows past the context: an error, and nothing changes */
    s2_seq seq;
    ck_assert_int_eq(s2_seq_new(ctx, &seq, &err), S2_OK);
    int32_t ids[20];
    s2_seq seqs[20];
    for (int i = 0; i < 20; i++) ids[i] = 1 + i, seqs[i] = seq;
    ck_assert_int_eq(s2_ctx_decode(ctx, seqs, ids, NULL, 20, &err), S2_E_BUDGET);
    ck_assert_int_eq(s2_seq_len(ctx, seq), 0);
    ids[0] = 100000;
    ck_assert_int_eq(s2_ctx_decode(ctx, seqs, ids, NULL, 1, &err), S2_E_ARG);
    ck_assert_msg(strstr(err.msg, "outside the vocabulary") != NULL, "%s", err.msg);
    s2_ctx_free(ctx);
    s2_model_free(m);
}
END_TEST

START_TEST(test_engine_bad_model_files_are_clear_errors)
{
    s2_model *m = NULL;
    s2_error err = {0};
    ck_assert_int_eq(s2_model_load("/nonexistent/model.gguf", NULL, &m, &err), S2_E_IO);
    ck_assert_ptr_null(m);
    const char *dir = t_tmpdir();
    char path[512];
    /* a truncated llama2.c checkpoint */
    const char *bin = t_shared("models/stories260K.bin", "engine");
    const char *tok = bin ? t_shared("models/tok512.bin", "engine") : NULL;
    if (bin != NULL && tok != NULL) {
        char tokp[4096];
        snprintf(tokp, sizeof tokp, "%s", tok);
        bin = t_shared("models/stories260K.bin", "engine");
        size_t len;
        char *data = t_read_file(bin, &len);
        snprintf(path, sizeof path, "%s/trunc.bin", dir);
        ck_assert(t_write_file(path, data, len / 2));
        s2_model_params mp = s2_model_default_params();
        mp.tokenizer = tokp;
        ck_assert_int_eq(s2_model_load(path, &mp, &m, &err), S2_E_FORMAT);
        ck_assert_msg(strstr(err.msg, "bytes") != NULL, "%s", err.msg);
        /* a header of nonsense */
        int32_t h[7] = {64, -3, 5, 8, 4, 512, 512};
        memcpy(data, h, sizeof h);
        ck_assert(t_write_file(path, data, len));
        ck_assert_int_eq(s2_model_load(path, &mp, &m, &err), S2_E_FORMAT);
        ck_assert_msg(strstr(err.msg, "not a llama2.c checkpoint") != NULL, "%s", err.msg);
        free(data);
    }
    /* an architecture we do not run, and a missing tensor */
    s2_gguf_writer *w;
    ck_assert_int_eq(s2_gguf_writer_init(&w, &err), S2_OK);
    const char *toks[] = {"<unk>", "<s>", "</s>", "a"};
    float scores[] = {0, 0, 0, 0};
    int32_t types[] = {2, 3, 3, 1};
    s2_gguf_set_str(w, "general.architecture", "mamba");
    s2_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    s2_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
    s2_gguf_set_arr(w, "tokenizer.ggml.scores", S2_GGUF_FLOAT32, scores, 4);
    s2_gguf_set_arr(w, "tokenizer.ggml.token_type", S2_GGUF_INT32, types, 4);
    snprintf(path, sizeof path, "%s/mamba.gguf", dir);
    ck_assert_int_eq(s2_gguf_write(w, path, &err), S2_OK);
    ck_assert_int_eq(s2_model_load(path, NULL, &m, &err), S2_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "mamba") != NULL, "%s", err.msg);
    s2_gguf_set_str(w, "general.architecture", "llama");
    s2_gguf_set_u32(w, "llama.context_length", 32);
    s2_gguf_set_u32(w, "llama.embedding_length", 8);
    s2_gguf_set_u32(w, "llama.block_count", 1);
    s2_gguf_set_u32(w, "llama.feed_forward_length", 8);
    s2_gguf_set_u32(w, "llama.attention.head_count", 2);
    s2_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    ck_assert_int_eq(s2_gguf_write(w, path, &err), S2_OK);
    ck_assert_int_eq(s2_model_load(path, NULL, &m, &err), S2_E_FORMAT);
    ck_assert_msg(strstr(err.msg, "missing tensor token_embd.weight") != NULL, "%s", err.msg);
    s2_gguf_writer_free(w);
    ck_assert_ptr_null(m);
}
END_TEST

Suite *engine_suite(void) {
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_engine_bin_logits_match_llama2c);
    tcase_add_test(tc, test_engine_gguf_logits_match_llamacpp_and_llama2c);
    tcase_add_test(tc, test_engine_bin_and_gguf_agree);
    tcase_add_test(tc, test_engine_greedy_texts_match_llama2c);
    tcase_add_test(tc, test_engine_cli_generate_byte_for_byte);
    tcase_add_test(tc, test_engine_perplexity_matches_reference_logits);
    tcase_add_test(tc, test_engine_quantized_logits_close_to_f32);
    tcase_add_test(tc, test_engine_batch_split_and_single_agree_on_random_models);
    tcase_add_test(tc, test_engine_sampling_follows_softmax_and_seed);
    tcase_add_test(tc, test_engine_generate_seeded_is_reproducible_and_stops);
    tcase_add_test(tc, test_engine_prompt_longer_than_context_is_an_error);
    tcase_add_test(tc, test_engine_bad_model_files_are_clear_errors);
    suite_add_tcase(s, tc);
    return s;
}
