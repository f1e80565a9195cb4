/* train_ops.c: the forward and backward kernels of training (see train.h for the letters of shape comments).
 *
 * Every matrix product goes through OpenBLAS sgemm and keeps a *_naive twin, the tests' reference. Other loops
 * are OpenMP over independent rows or columns, never over a shared accumulator, so every sum has one fixed
 * order: results are bit-identical for a given thread count. Backward kernels accumulate (+=).
 * These kernels know nothing of models, files or tasks. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "train.h"

/* ---- embedding ---- */

void s2_tr_embed_forward(float *out, const int32_t *tokens, const float *E, int64_t N, int32_t D) {
    /* out (N, D) = E (V, D) [tokens (N)] */
    for (int64_t n = 0; n < N; n++) memcpy(out + n * D, E + (int64_t)tokens[n] * D, (size_t)D * sizeof(float));
}

/* Column blocks: threads own disjoint columns and walk the rows in order, so every column's sum keeps the
 * same order for any thread count, and reads stay contiguous. */
enum { COL_BLOCK = 64 };

void s2_tr_embed_backward(float *dE, const float *dout, const int32_t *tokens, int64_t N, int32_t D) {
    /* dE (V, D) += dout (N, D) scattered by tokens */
    const int32_t nb = (D + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (N * D >= S2_TR_PAR_MIN)
    for (int32_t blk = 0; blk < nb; blk++) {
        const int32_t i0 = blk * COL_BLOCK, i1 = i0 + COL_BLOCK < D ? i0 + COL_BLOCK : D;
        for (int64_t n = 0; n < N; n++) {
            float *row = dE + (int64_t)tokens[n] * D;
            const float *g = dout + n * D;
            for (int32_t i = i0; i < i1; i++) row[i] += g[i];
        }
    }
}

/* ---- RMSNorm ---- */

void s2_tr_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int64_t N, int32_t D,
                           float eps) {
    /* out (N, D) = x (N, D) * w (D) * rstd (N), rstd = 1 / sqrt(mean(x^2) + eps) */
#pragma omp parallel for schedule(static) if (N * D >= S2_TR_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * D;
        float ss = 0.0f;
        for (int32_t i = 0; i < D; i++) ss += xr[i] * xr[i];
        float r = 1.0f / sqrtf(ss / (float)D + eps);
        rstd[n] = r;
        for (int32_t i = 0; i < D; i++) out[n * D + i] = xr[i] * r * w[i];
    }
}

void s2_tr_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                            const float *rstd, int64_t N, int32_t D) {
    /* y_i = w_i x_i r: dx_j = r (w_j g_j - x_j r^2 mean_i(w_i g_i x_i)), dw_i = sum_n g_i x_i r */
#pragma omp parallel for schedule(static) if (N * D >= S2_TR_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * D, *g = dout + n * D;
        float r = rstd[n], dot = 0.0f;
        for (int32_t i = 0; i < D; i++) dot += w[i] * g[i] * xr[i];
        float c = dot * r * r / (float)D;
        for (int32_t i = 0; i < D; i++) dx[n * D + i] += r * (w[i] * g[i] - xr[i] * c);
    }
    const int32_t nb = (D + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (N * D >= S2_TR_PAR_MIN)
    for (int32_t blk = 0; blk < nb; blk++) {
        const int32_t i0 = blk * COL_BLOCK, i1 = i0 + COL_BLOCK < D ? i0 + COL_BLOCK : D;
        float acc[COL_BLOCK] = {0};
        for (int64_t n = 0; n < N; n++) {
            const float *g = dout + n * D, *xr = x + n * D;
            const float r = rstd[n];
            for (int32_t i = i0; i < i1; i++) acc[i - i0] += g[i] * xr[i] * r;
        }
        for (int32_t i = i0; i < i1; i++) dw[i] += acc[i - i0];
    }
}

/* ---- matmul ---- */

void s2_tr_matmul_forward(float *out, const float *x, const float *W, int64_t N, int32_t n_in, int32_t n_out) {
    /* out (N, n_out) = x (N, n_in) . W^T, W (n_out, n_in) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, n_out, n_in, 1.0f, x, n_in, W, n_in, 0.0f, out, n_out);
}

void s2_tr_matmul_forward_naive(float *out, const float *x, const float *W, int64_t N, int32_t n_in, int32_t n_out) {
    for (int64_t n = 0; n < N; n++)
        for (int32_t o = 0; o < n_out; o++) {
            double s = 0.0;
            for (int32_t i = 0; i < n_in; i++) s += (double)x[n * n_in + i] * W[(int64_t)o * n_in + i];
            out[n * n_out + o] = (float)s;
        }
}

void s2_tr_matmul_backward(float *dx, float *dW, const float *dout, const float *x, const float *W, int64_t N,
                           int32_t n_in, int32_t n_out) {
    /* dx (N, n_in) += dout (N, n_out) . W (n_out, n_in) */
    if (dx != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, n_in, n_out, 1.0f, dout, n_out, W, n_in, 1.0f,
                    dx, n_in);
    /* dW (n_out, n_in) += dout^T (n_out, N) . x (N, n_in) */
    if (dW != NULL)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, (int)N, 1.0f, dout, n_out, x, n_in, 1.0f,
                    dW, n_in);
}

void s2_tr_matmul_backward_naive(float *dx, float *dW, const float *dout, const float *x, const float *W, int64_t N,
                                 int32_t n_in, int32_t n_out) {
    if (dx != NULL)
        for (int64_t n = 0; n < N; n++)
            for (int32_t i = 0; i < n_in; i++) {
                double s = 0.0;
                for (int32_t o = 0; o < n_out; o++) s += (double)dout[n * n_out + o] * W[(int64_t)o * n_in + i];
                dx[n * n_in + i] += (float)s;
            }
    if (dW != NULL)
        for (int32_t o = 0; o < n_out; o++)
            for (int32_t i = 0; i < n_in; i++) {
                double s = 0.0;
                for (int64_t n = 0; n < N; n++) s += (double)dout[n * n_out + o] * x[n * n_in + i];
                dW[(int64_t)o * n_in + i] += (float)s;
            }
}

/* ---- RoPE ---- */

void s2_tr_rope_table(float *cs, int32_t T, int32_t hd, float base) {
    /* cs (T, hd/2, 2): the angle in double, so the table does not depend on float pow/cos rounding */
    for (int32_t t = 0; t < T; t++)
        for (int32_t j = 0; j < hd / 2; j++) {
            double ang = (double)t * pow((double)base, -2.0 * j / (double)hd);
            cs[((int64_t)t * (hd / 2) + j) * 2] = (float)cos(ang);
            cs[((int64_t)t * (hd / 2) + j) * 2 + 1] = (float)sin(ang);
        }
}

static void rope_rotate(float *x, const float *cs, int32_t B, int32_t T, int32_t nh, int32_t hd, float sign) {
    /* x (B*T, nh*hd): pairs (2j, 2j+1) of each head rotate by sign * angle(pos, j) */
    int64_t N = (int64_t)B * T;
#pragma omp parallel for schedule(static) if (N * nh * hd >= S2_TR_PAR_MIN)
    for (int64_t r = 0; r < N; r++) {
        const float *c = cs + (r % T) * hd;
        for (int32_t h = 0; h < nh; h++) {
            float *xh = x + r * nh * hd + (int64_t)h * hd;
            for (int32_t j = 0; j < hd / 2; j++) {
                float co = c[2 * j], si = sign * c[2 * j + 1];
                float a = xh[2 * j], b = xh[2 * j + 1];
                xh[2 * j] = a * co - b * si;
                xh[2 * j + 1] = a * si + b * co;
            }
        }
    }
}

void s2_tr_rope_forward(float *x, const float *cs, int32_t B, int32_t T, int32_t nh, int32_t hd) {
    rope_rotate(x, cs, B, T, nh, hd, 1.0f);
}

void s2_tr_rope_backward(float *dx, const float *cs, int32_t B, int32_t T, int32_t nh, int32_t hd) {
    rope_rotate(dx, cs, B, T, nh, hd, -1.0f); /* R^T = R(-angle) */
}

/* ---- attention ---- */

/* Row t of S (T, T) in place: causal softmax over s <= t, zero above the diagonal. */
static void causal_softmax_row(float *row, int32_t t, int32_t T) {
    float mx = row[0];
    for (int32_t s = 1; s <= t; s++) mx = row[s] > mx ? row[s] : mx;
    float sum = 0.0f;
    for (int32_t s = 0; s <= t; s++) {
        row[s] = expf(row[s] - mx);
        sum += row[s];
    }
    float inv = 1.0f / sum;
    for (int32_t s = 0; s <= t; s++) row[s] *= inv;
    for (int32_t s = t + 1; s < T; s++) row[s] = 0.0f;
}

void s2_tr_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int32_t B,
                             int32_t T, int32_t H, int32_t Hkv, int32_t hd) {
    const int32_t D = H * hd, KV = Hkv * hd, grp = H / Hkv;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int32_t b = 0; b < B; b++)
        for (int32_t h = 0; h < H; h++) {
            const float *qb = q + (int64_t)b * T * D + h * hd;              /* (T, hd), ld D */
            const float *kb = k + (int64_t)b * T * KV + (h / grp) * hd;     /* (T, hd), ld KV */
            const float *vb = v + (int64_t)b * T * KV + (h / grp) * hd;     /* (T, hd), ld KV */
            float *P = att + ((int64_t)b * H + h) * T * T;                   /* (T, T) */
            /* S (T, T) = scale * Q . K^T: the full square; the upper triangle is discarded */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, qb, D, kb, KV, 0.0f, P, T);
#pragma omp parallel for schedule(static) if ((int64_t)T * T >= S2_TR_PAR_MIN)
            for (int32_t t = 0; t < T; t++) causal_softmax_row(P + (int64_t)t * T, t, T);
            /* O (T, hd), ld D = P (T, T) . V (T, hd) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, vb, KV, 0.0f,
                        out + (int64_t)b * T * D + h * hd, D);
        }
}

void s2_tr_attention_forward_naive(float *out, float *att, const float *q, const float *k, const float *v, int32_t B,
                                   int32_t T, int32_t H, int32_t Hkv, int32_t hd) {
    const int32_t D = H * hd, KV = Hkv * hd, grp = H / Hkv;
    const double scale = 1.0 / sqrt((double)hd);
    for (int32_t b = 0; b < B; b++)
        for (int32_t h = 0; h < H; h++)
            for (int32_t t = 0; t < T; t++) {
                const float *qt = q + ((int64_t)b * T + t) * D + h * hd;
                float *P = att + (((int64_t)b * H + h) * T + t) * T;
                double mx = -INFINITY; /* raw scores go to P first, then become probabilities */
                for (int32_t s = 0; s <= t; s++) {
                    const float *ks = k + ((int64_t)b * T + s) * KV + (h / grp) * hd;
                    double d = 0.0;
                    for (int32_t i = 0; i < hd; i++) d += (double)qt[i] * ks[i];
                    P[s] = (float)(d * scale);
                    if (d * scale > mx) mx = d * scale;
                }
                double sum = 0.0;
                for (int32_t s = 0; s <= t; s++) sum += exp((double)P[s] - mx);
                for (int32_t s = 0; s <= t; s++) P[s] = (float)(exp((double)P[s] - mx) / sum);
                for (int32_t s = t + 1; s < T; s++) P[s] = 0.0f;
                float *ot = out + ((int64_t)b * T + t) * D + h * hd;
                for (int32_t i = 0; i < hd; i++) {
                    double o = 0.0;
                    for (int32_t s = 0; s <= t; s++)
                        o += (double)P[s] * v[((int64_t)b * T + s) * KV + (h / grp) * hd + i];
                    ot[i] = (float)o;
                }
            }
}

void s2_tr_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *att,
                              const float *q, const float *k, const float *v, int32_t B, int32_t T, int32_t H,
                              int32_t Hkv, int32_t hd) {
    const int32_t D = H * hd, KV = Hkv * hd, grp = H / Hkv;
    const float scale = 1.0f / sqrtf((float)hd);
    /* Heads are visited in order, so the heads of a group add into their shared dk, dv in a fixed order. */
    for (int32_t b = 0; b < B; b++)
        for (int32_t h = 0; h < H; h++) {
            const int64_t qo = (int64_t)b * T * D + h * hd, ko = (int64_t)b * T * KV + (h / grp) * hd;
            const float *P = att + ((int64_t)b * H + h) * T * T; /* (T, T) */
            float *dS = scratch;                                 /* (T, T) */
            /* dP (T, T) = dO (T, hd; ld D) . V^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dout + qo, D, v + ko, KV, 0.0f, dS,
                        T);
            /* dV (T, hd; ld KV) += P^T . dO */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, dout + qo, D, 1.0f, dv + ko,
                        KV);
            /* dS = P * (dP - sum_s P dP) on s <= t (softmax backward), zero above the diagonal */
#pragma omp parallel for schedule(static) if ((int64_t)T * T >= S2_TR_PAR_MIN)
            for (int32_t t = 0; t < T; t++) {
                const float *pr = P + (int64_t)t * T;
                float *dr = dS + (int64_t)t * T;
                float dot = 0.0f;
                for (int32_t s = 0; s <= t; s++) dot += pr[s] * dr[s];
                for (int32_t s = 0; s <= t; s++) dr[s] = pr[s] * (dr[s] - dot);
                for (int32_t s = t + 1; s < T; s++) dr[s] = 0.0f;
            }
            /* dQ (T, hd; ld D) += scale * dS . K;  dK (T, hd; ld KV) += scale * dS^T . Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, dS, T, k + ko, KV, 1.0f, dq + qo,
                        D);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, dS, T, q + qo, D, 1.0f, dk + ko,
                        KV);
        }
}

void s2_tr_attention_backward_naive(float *dq, float *dk, float *dv, const float *dout, const float *att,
                                    const float *q, const float *k, const float *v, int32_t B, int32_t T, int32_t H,
                                    int32_t Hkv, int32_t hd) {
    const int32_t D = H * hd, KV = Hkv * hd, grp = H / Hkv;
    const double scale = 1.0 / sqrt((double)hd);
    for (int32_t b = 0; b < B; b++)
        for (int32_t h = 0; h < H; h++)
            for (int32_t t = 0; t < T; t++) {
                const float *P = att + (((int64_t)b * H + h) * T + t) * T;
                const float *go = dout + ((int64_t)b * T + t) * D + h * hd;
                const float *qt = q + ((int64_t)b * T + t) * D + h * hd;
                /* dP_s = dO_t . V_s; dS_s = P_s (dP_s - sum P dP) */
                double dot = 0.0;
                for (int32_t s = 0; s <= t; s++) {
                    const float *vs = v + ((int64_t)b * T + s) * KV + (h / grp) * hd;
                    double dp = 0.0;
                    for (int32_t i = 0; i < hd; i++) dp += (double)go[i] * vs[i];
                    dot += P[s] * dp;
                }
                for (int32_t s = 0; s <= t; s++) {
                    const int64_t so = ((int64_t)b * T + s) * KV + (h / grp) * hd;
                    double dp = 0.0;
                    for (int32_t i = 0; i < hd; i++) dp += (double)go[i] * v[so + i];
                    double ds = P[s] * (dp - dot) * scale;
                    for (int32_t i = 0; i < hd; i++) {
                        dv[so + i] += (float)(P[s] * go[i]);
                        dq[((int64_t)b * T + t) * D + h * hd + i] += (float)(ds * k[so + i]);
                        dk[so + i] += (float)(ds * qt[i]);
                    }
                }
            }
}

/* ---- SwiGLU ---- */

void s2_tr_swiglu_forward(float *out, float *sig, const float *gate, const float *up, int64_t n) {
    /* out (n) = silu(gate) * up, silu(g) = g * sig(g); sig (n, may be NULL) keeps sig(g) for the backward */
#pragma omp parallel for schedule(static) if (n >= S2_TR_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float sg = 1.0f / (1.0f + expf(-gate[i]));
        if (sig != NULL) sig[i] = sg;
        out[i] = gate[i] * sg * up[i];
    }
}

void s2_tr_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                           const float *sig, int64_t n) {
    /* silu'(g) = sig(g) (1 + g (1 - sig(g))); sig from the forward */
#pragma omp parallel for schedule(static) if (n >= S2_TR_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i], sg = sig[i];
        dgate[i] += dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
        dup[i] += dout[i] * g * sg;
    }
}

/* ---- softmax cross-entropy ---- */

int64_t s2_tr_xent_forward(float *losses, const float *logits, const int32_t *targets, const float *mask, int64_t N,
                           int32_t V) {
    /* losses (N) = logsumexp(logits[n]) - logits[n][target] on masked rows */
    int64_t count = 0;
    for (int64_t n = 0; n < N; n++) count += mask[n] != 0.0f;
#pragma omp parallel for schedule(static) if (N * V >= S2_TR_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        if (mask[n] == 0.0f) {
            losses[n] = 0.0f;
            continue;
        }
        const float *l = logits + n * V;
        float mx = l[0];
        for (int32_t i = 1; i < V; i++) mx = l[i] > mx ? l[i] : mx;
        double s = 0.0;
        for (int32_t i = 0; i < V; i++) s += exp((double)(l[i] - mx));
        losses[n] = (float)(log(s) + mx - l[targets[n]]);
    }
    return count;
}

void s2_tr_xent_backward(float *dlogits, const float *logits, const int32_t *targets, const float *mask, float scale,
                         int64_t N, int32_t V) {
#pragma omp parallel for schedule(static) if (N * V >= S2_TR_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        if (mask[n] == 0.0f) continue;
        const float *l = logits + n * V;
        float *d = dlogits + n * V;
        float mx = l[0];
        for (int32_t i = 1; i < V; i++) mx = l[i] > mx ? l[i] : mx;
        float s = 0.0f;
        for (int32_t i = 0; i < V; i++) s += expf(l[i] - mx);
        float inv = 1.0f / s;
        for (int32_t i = 0; i < V; i++) d[i] += scale * expf(l[i] - mx) * inv;
        d[targets[n]] -= scale;
    }
}
