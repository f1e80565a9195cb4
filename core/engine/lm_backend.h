/* lm_backend.h: what the s2_lm backends (lm.c, http.c) and the server (serve.c) share; internal, not part of the
 * public API. Implemented in lm.c. */
#ifndef S2_LM_BACKEND_H
#define S2_LM_BACKEND_H

#include "sys2.h"

/* qsort order of s2_lm_top: higher log-prob first, ties broken by the lower id. */
int s2_lm_top_cmp(const void *a, const void *b);

/* The min(k, V) most likely tokens of logits (V entries) into out, in s2_lm_top_cmp order, with their log-probs
 * (logits minus their logsumexp) and pieces from v; returns the count. */
int32_t s2_lm_top_of_logits(const s2_vocab *v, const float *logits, int32_t V, int32_t k, s2_lm_top *out);

/* The s2_lm_i calls both backends time, as X(return type, name, (parameters), (arguments)): each backend defines X
 * to wrap its own <backend>_<name> in a static timed_<name>. One list, so the wrappers follow struct s2_lm_i. */
#define S2_LM_TIMED_CALLS(X)                                                                                      \
    X(s2_status, score,                                                                                           \
      (s2_lm *lm, s2_lm_seq s, const char *c, float *pt, int32_t cap, int32_t *n, double *sum, s2_error *err),    \
      (lm, s, c, pt, cap, n, sum, err))                                                                           \
    X(s2_status, score_labels,                                                                                    \
      (s2_lm *lm, s2_lm_seq s, const char *const *labels, int32_t n, double *out, s2_error *err),                 \
      (lm, s, labels, n, out, err))                                                                               \
    X(int32_t, top_k, (s2_lm *lm, s2_lm_seq s, int32_t k, s2_lm_top *out, s2_error *err), (lm, s, k, out, err))   \
    X(s2_status, sample,                                                                                          \
      (s2_lm *lm, const s2_lm_seq *seqs, int32_t n, const s2_lm_sample_params *p, s2_lm_gen *out, s2_error *err), \
      (lm, seqs, n, p, out, err))

#endif
