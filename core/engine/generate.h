/* generate.h: whole jobs on one sequence, built on the context API of sys2.h: generate text, score a
 * continuation, measure perplexity. The CLI's generate/score/perplexity are thin wrappers over these. */
#ifndef S2_GENERATE_H
#define S2_GENERATE_H

#include "sys2.h"

typedef struct s2_gen_params {
    s2_sample_params sample;
    int32_t max_tokens;        /* new tokens at most */
    uint64_t seed;
    const char *const *stops;  /* stop strings (borrowed); the text ends before the first one found */
    int32_t n_stops;
    bool add_bos;              /* prepend BOS where the vocabulary says to (default true) */
    /* called with each piece of new text as soon as it cannot be part of a stop string; may be NULL */
    void (*on_text)(const char *text, size_t len, void *user);
    void *user;
} s2_gen_params;
s2_gen_params s2_gen_default_params(void);

typedef struct s2_gen_result {
    int32_t *tokens;           /* (n_prompt + n_gen): the prompt's tokens then the generated ones */
    int32_t n_prompt, n_gen;
    float *logprobs;           /* (n_gen): each generated token's log-probability (temperature 1) */
    char *text;                /* the prompt's text followed by the continuation, cut at a stop string */
    size_t prompt_len;         /* bytes of text that are the prompt's */
    const char *stop_reason;   /* "length", "eos" or "stop" (static) */
} s2_gen_result;
void s2_gen_result_free(s2_gen_result *r);

/* Generates from prompt on a fresh sequence of ctx (freed afterwards). A prompt longer than the context is
 * S2_E_BUDGET; generation stops early when the context is full (stop_reason "length"). */
s2_status s2_generate(s2_ctx *ctx, const char *prompt, const s2_gen_params *p, s2_gen_result *out, s2_error *err);

typedef struct s2_score_result {
    int32_t *ids;              /* (n) the continuation's tokens */
    float *logprobs;           /* (n) */
    int32_t n;
    double sum;
} s2_score_result;
void s2_score_result_free(s2_score_result *r);

/* Splits prefix + continuation into the prefix's tokens (with BOS) and the continuation's: the tokens of the
 * whole text after the longest run it shares with the prefix's own tokenization. *n_prefix gets that split.
 * Returns the malloc'd ids (count in *n), or NULL when out of memory. */
int32_t *s2_tokenize_pair(const s2_vocab *v, const char *prefix, const char *cont, bool add_bos, int32_t *n,
                          int32_t *n_prefix);
/* The log-probability of cont after prefix (teacher forcing) on a fresh sequence. */
s2_status s2_score_text(s2_ctx *ctx, const char *prefix, const char *cont, s2_score_result *out, s2_error *err);

typedef struct s2_ppl_result {
    double nll;                /* summed negative log-likelihood, nats */
    double ppl;                /* exp(nll / n_tokens) */
    double bits_per_byte;      /* nll / ln 2 / n_bytes */
    int64_t n_tokens, n_bytes, n_windows;
} s2_ppl_result;
s2_status s2_perplexity(s2_ctx *ctx, const char *text, size_t len, s2_ppl_result *out, s2_error *err);

#endif
