/* The forward pass against a naive twin written here from the architecture's definition, in double precision,
 * reading the GGUF's tensors itself (no code of model.c or forward.c): llama (RoPE on adjacent pairs) and qwen2
 * (RoPE on halves, Q/K/V biases), grouped-query attention, tied and separate outputs, F32 and Q8_0 weights.
 * stories260K has references from llama2.c and llama.cpp; qwen2 has none in ../shared, so this twin is its
 * reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "init_model.h"
#include "quant.h"
#include "sys2.h"
#include "testutil.h"

/* A tensor of the file as doubles, row-major [ne1][ne0]. */
static double *tensor(const s2_gguf *g, const char *name, int64_t *n0, int64_t *n1) {
    const s2_gguf_tensor *t = s2_gguf_find_tensor(g, name);
    if (t == NULL) return NULL;
    int64_t a = t->ne[0], b = t->n_dims > 1 ? t->ne[1] : 1;
    float *row = malloc((size_t)a * sizeof(float));
    double *out = malloc((size_t)(a * b) * sizeof(double));
    size_t rb = s2_type_row_size(t->type, a);
    for (int64_t r = 0; r < b; r++) {
        s2_dequantize_row_naive(t->type, (const char *)t->data + (size_t)r * rb, row, a);
        for (int64_t i = 0; i < a; i++) out[r * a + i] = row[i];
    }
    free(row);
    if (n0) *n0 = a;
    if (n1) *n1 = b;
    return out;
}

static int64_t key_int(const s2_gguf *g, const char *arch, const char *k) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, k);
    int64_t v = 0;
    ck_assert_int_eq(s2_gguf_get_int(g, full, &v, NULL), S2_OK);
    return v;
}

static double key_float(const s2_gguf *g, const char *arch, const char *k) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, k);
    double v = 0;
    ck_assert_int_eq(s2_gguf_get_float(g, full, &v, NULL), S2_OK);
    return v;
}

/* y (n_out) = W (n_out, n_in) x */
static void mv(double *y, const double *W, const double *x, int64_t n_in, int64_t n_out) {
    for (int64_t o = 0; o < n_out; o++) {
        double s = 0;
        for (int64_t i = 0; i < n_in; i++) s += W[o * n_in + i] * x[i];
        y[o] = s;
    }
}

static void rmsnorm(double *y, const double *x, const double *w, int64_t n, double eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    double k = 1.0 / sqrt(ss / (double)n + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * k * w[i];
}

static void rope(double *v, int64_t hd, int64_t pos, double base, bool neox) {
    for (int64_t j = 0; j < hd / 2; j++) {
        double ang = (double)pos * pow(base, -2.0 * (double)j / (double)hd), c = cos(ang), s = sin(ang);
        int64_t a = neox ? j : 2 * j, b = neox ? j + hd / 2 : 2 * j + 1;
        double v0 = v[a], v1 = v[b];
        v[a] = v0 * c - v1 * s;
        v[b] = v0 * s + v1 * c;
    }
}

/* Logits (T, V) of tokens ids[0..T) by the definition. */
static double *naive_forward(const char *path, const int32_t *ids, int64_t T, int64_t *V_out) {
    s2_gguf *g = NULL;
    ck_assert_int_eq(s2_gguf_open(path, &g, NULL), S2_OK);
    const char *arch = NULL;
    ck_assert_int_eq(s2_gguf_get_str(g, "general.architecture", &arch, NULL), S2_OK);
    bool qwen = strcmp(arch, "qwen2") == 0;
    int64_t D = key_int(g, arch, "embedding_length"), L = key_int(g, arch, "block_count");
    int64_t H = key_int(g, arch, "attention.head_count"), HKV = key_int(g, arch, "attention.head_count_kv");
    int64_t F = key_int(g, arch, "feed_forward_length"), HD = D / H, V;
    double eps = key_float(g, arch, "attention.layer_norm_rms_epsilon"), base = key_float(g, arch, "rope.freq_base");
    double *emb = tensor(g, "token_embd.weight", NULL, &V), *outw = tensor(g, "output.weight", NULL, NULL);
    double *onorm = tensor(g, "output_norm.weight", NULL, NULL);
    if (outw == NULL) outw = emb; /* tied */
    double *x = calloc((size_t)(T * D), sizeof(double)), *xn = malloc((size_t)D * sizeof(double));
    double *q = malloc((size_t)(T * D) * sizeof(double)), *k = malloc((size_t)(T * HKV * HD) * sizeof(double));
    double *v = malloc((size_t)(T * HKV * HD) * sizeof(double)), *att = malloc((size_t)D * sizeof(double));
    double *tmp = malloc((size_t)(D > F ? D : F) * sizeof(double)), *g1 = malloc((size_t)F * sizeof(double));
    double *u = malloc((size_t)F * sizeof(double)), *sc = malloc((size_t)T * sizeof(double));
    for (int64_t t = 0; t < T; t++) memcpy(x + t * D, emb + (int64_t)ids[t] * D, (size_t)D * sizeof(double));
    char name[96];
    for (int64_t l = 0; l < L; l++) {
#define TS(fmt) (snprintf(name, sizeof name, fmt, (int)l), tensor(g, name, NULL, NULL))
        double *an = TS("blk.%d.attn_norm.weight"), *fn = TS("blk.%d.ffn_norm.weight");
        double *wq = TS("blk.%d.attn_q.weight"), *wk = TS("blk.%d.attn_k.weight"), *wv = TS("blk.%d.attn_v.weight");
        double *wo = TS("blk.%d.attn_output.weight"), *wg = TS("blk.%d.ffn_gate.weight");
        double *wu = TS("blk.%d.ffn_up.weight"), *wd = TS("blk.%d.ffn_down.weight");
        double *bq = qwen ? TS("blk.%d.attn_q.bias") : NULL, *bk = qwen ? TS("blk.%d.attn_k.bias") : NULL;
        double *bv = qwen ? TS("blk.%d.attn_v.bias") : NULL;
#undef TS
        for (int64_t t = 0; t < T; t++) {
            rmsnorm(xn, x + t * D, an, D, eps);
            mv(q + t * D, wq, xn, D, D);
            mv(k + t * HKV * HD, wk, xn, D, HKV * HD);
            mv(v + t * HKV * HD, wv, xn, D, HKV * HD);
            for (int64_t i = 0; qwen && i < D; i++) q[t * D + i] += bq[i];
            for (int64_t i = 0; qwen && i < HKV * HD; i++) k[t * HKV * HD + i] += bk[i], v[t * HKV * HD + i] += bv[i];
            for (int64_t h = 0; h < H; h++) rope(q + t * D + h * HD, HD, t, base, qwen);
            for (int64_t h = 0; h < HKV; h++) rope(k + t * HKV * HD + h * HD, HD, t, base, qwen);
        }
        for (int64_t t = 0; t < T; t++) {
            for (int64_t h = 0; h < H; h++) {
                int64_t kh = h / (H / HKV);
                double mx = -INFINITY, sum = 0;
                for (int64_t s = 0; s <= t; s++) {
                    double d = 0;
                    for (int64_t i = 0; i < HD; i++) d += q[t * D + h * HD + i] * k[s * HKV * HD + kh * HD + i];
                    sc[s] = d / sqrt((double)HD);
                    mx = sc[s] > mx ? sc[s] : mx;
                }
                for (int64_t s = 0; s <= t; s++) sum += (sc[s] = exp(sc[s] - mx));
                for (int64_t i = 0; i < HD; i++) {
                    double a = 0;
                    for (int64_t s = 0; s <= t; s++) a += sc[s] / sum * v[s * HKV * HD + kh * HD + i];
                    att[h * HD + i] = a;
                }
            }
            mv(tmp, wo, att, D, D);
            for (int64_t i = 0; i < D; i++) x[t * D + i] += tmp[i];
            rmsnorm(xn, x + t * D, fn, D, eps);
            mv(g1, wg, xn, D, F);
            mv(u, wu, xn, D, F);
            for (int64_t i = 0; i < F; i++) g1[i] = g1[i] / (1.0 + exp(-g1[i])) * u[i];
            mv(tmp, wd, g1, F, D);
            for (int64_t i = 0; i < D; i++) x[t * D + i] += tmp[i];
        }
        free(an), free(fn), free(wq), free(wk), free(wv), free(wo), free(wg), free(wu), free(wd);
        free(bq), free(bk), free(bv);
    }
    double *logits = malloc((size_t)(T * V) * sizeof(double));
    for (int64_t t = 0; t < T; t++) {
        rmsnorm(xn, x + t * D, onorm, D, eps);
        mv(logits + t * V, outw, xn, D, V);
    }
    if (outw != emb) free(outw);
    free(emb), free(onorm), free(x), free(xn), free(q), free(k), free(v), free(att), free(tmp), free(g1), free(u), free(sc);
    s2_gguf_free(g);
    *V_out = V;
    return logits;
}

/* pack: the model's pack_rows (packed weights take the dot path up to far longer batches: ops.c) */
static void compare_packed(const char *arch, int32_t type, bool tied, int32_t heads, int32_t kv_heads, double tol,
                           bool pack) {
    char path[512];
    snprintf(path, sizeof path, "%s/naive.gguf", t_tmpdir());
    s2_init_params ip = s2_init_default_params();
    ip.arch = arch;
    ip.type = type;
    ip.tied = tied;
    ip.n_embd = 64;
    ip.n_head = heads;
    ip.n_head_kv = kv_heads;
    ip.n_ff = 96;
    ip.n_layer = 2;
    ip.std = 0.15f; /* larger weights than the default: attention and RoPE matter in the logits */
    ip.seed = 99;
    s2_error err = {0};
    ck_assert_msg(s2_model_init_random(&ip, path, &err) == S2_OK, "%s", err.msg);
    const int64_t T = 20;
    int32_t ids[20];
    for (int i = 0; i < T; i++) ids[i] = 3 + (i * 41) % 90;
    int64_t V;
    double *ref = naive_forward(path, ids, T, &V);
    s2_model *m = NULL;
    s2_model_params mp = s2_model_default_params();
    mp.pack_rows = pack;
    ck_assert_int_eq(s2_model_load(path, &mp, &m, &err), S2_OK);
    ck_assert(pack || s2_model_packed_bytes(m) == 0);
    s2_ctx *ctx = NULL;
    ck_assert_int_eq(s2_ctx_init(m, NULL, &ctx, &err), S2_OK);
    s2_seq seq, seqs[20];
    bool want[20];
    ck_assert_int_eq(s2_seq_new(ctx, &seq, &err), S2_OK);
    for (int i = 0; i < T; i++) seqs[i] = seq, want[i] = true;
    ck_assert_int_eq(s2_ctx_decode(ctx, seqs, ids, want, (int32_t)T, &err), S2_OK);
    double maxd = 0, maxr = 0;
    for (int64_t t = 0; t < T; t++) {
        const float *lg = s2_ctx_logits(ctx, (int32_t)t);
        for (int64_t i = 0; i < V; i++) {
            double d = fabs(lg[i] - ref[t * V + i]);
            maxd = d > maxd ? d : maxd;
            maxr = fabs(ref[t * V + i]) > maxr ? fabs(ref[t * V + i]) : maxr;
        }
    }
    ck_assert_msg(maxr > 0.5, "%s: the logits are too small to test anything (max %g)", arch, maxr);
    ck_assert_msg(maxd < tol, "%s %s tied=%d heads %d/%d: max |engine - naive| = %g (logits up to %g)", arch,
                  s2_type_name(type), tied, heads, kv_heads, maxd, maxr);
    free(ref);
    s2_ctx_free(ctx);
    s2_model_free(m);
}

static void compare(const char *arch, int32_t type, bool tied, int32_t heads, int32_t kv_heads, double tol) {
    compare_packed(arch, type, tied, heads, kv_heads, tol, true);
}

START_TEST(test_forward_naive_llama)
{
    compare("llama", S2_TYPE_F32, true, 4, 4, 1e-4);
    compare("llama", S2_TYPE_F32, false, 8, 2, 1e-4); /* grouped-query: 4 query heads per KV head */
}
END_TEST

START_TEST(test_forward_naive_qwen2)
{
    compare("qwen2", S2_TYPE_F32, false, 4, 2, 1e-4);
    compare("qwen2", S2_TYPE_F32, true, 8, 1, 1e-4);
}
END_TEST

START_TEST(test_forward_naive_q8_0_batch_path)
{
    /* 20 rows: the tiled path dequantizes the blocks exactly, so only F32 rounding separates it from the twin
     * that dequantizes the same blocks (Q4_0 unpacked: packed, 20 rows take the dot path) */
    compare("qwen2", S2_TYPE_Q8_0, false, 4, 2, 1e-4);
    compare_packed("llama", S2_TYPE_Q4_0, true, 4, 4, 1e-4, false);
}
END_TEST

Suite *forward_naive_suite(void) {
    Suite *s = suite_create("forward_naive");
    TCase *tc = tcase_create("forward_naive");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_forward_naive_llama);
    tcase_add_test(tc, test_forward_naive_qwen2);
    tcase_add_test(tc, test_forward_naive_q8_0_batch_path);
    suite_add_tcase(s, tc);
    return s;
}
