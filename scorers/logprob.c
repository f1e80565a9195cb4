/* logprob.c: scores a state by the log-probability system 1 gave its own path (sum, per-token mean, or GNMT's
 * length-normalised sum). The log-probs come with the sampled tokens, so this scorer costs no compute at all. */
#include <math.h>
#include <stdlib.h>

#include "scorer.h"

static s2_status logprob_score(s2_scorer *sc, const s2_score_in *in, double *out, s2_error *err) {
    (void)err;
    const s2_logprob_params *p = sc->ctx;
    double lp = in->path_logprob;
    int32_t n = in->path_tokens;
    switch ((s2_logprob_mode)p->mode) {
    case S2_LOGPROB_MEAN: *out = n > 0 ? lp / n : 0; break;
    case S2_LOGPROB_NORM: *out = lp / pow((5.0 + n) / 6.0, p->alpha); break;
    case S2_LOGPROB_SUM:
    default: *out = lp; break;
    }
    return S2_OK;
}

static const struct s2_scorer_i logprob_iface = {.name = "logprob", .score = logprob_score};

s2_status s2_scorer_logprob_init(const s2_logprob_params *params, s2_scorer **out, s2_error *err) {
    *out = NULL;
    s2_logprob_params p = params ? *params : (s2_logprob_params){.mode = S2_LOGPROB_MEAN, .alpha = 0.6};
    if (p.mode < 0 || p.mode > S2_LOGPROB_NORM) return s2_error_set(err, S2_E_ARG, "logprob: mode %d unknown", p.mode);
    s2_logprob_params *ctx = malloc(sizeof *ctx);
    if (ctx == NULL) return s2_error_set(err, S2_E_NOMEM, "logprob: out of memory");
    *ctx = p;
    return s2_scorer_new(&logprob_iface, ctx, out, err);
}
