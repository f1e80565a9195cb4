/* init_model.h: random-weight GGUF models of any shape, for tests and for benchmarks at realistic sizes
 * (`sys2 init-model`). The files are ordinary GGUF models: the engine (and llama.cpp) load them like any other. */
#ifndef S2_INIT_MODEL_H
#define S2_INIT_MODEL_H

#include "sys2.h"

typedef struct s2_init_params {
    const char *arch;          /* "llama" or "qwen2" (Q/K/V biases) */
    int32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    int32_t n_vocab;           /* ignored with tokenizer_from or the character vocabulary: theirs is used */
    int32_t type;              /* 2-D weights: S2_TYPE_F32, F16, BF16, Q8_0, Q4_0 (1-D tensors stay F32) */
    bool tied;                 /* no output.weight: logits from the token embedding */
    uint64_t seed;
    float std;                 /* weights ~ uniform with this standard deviation (default 0.02 ... 0.08) */
    float rope_base;           /* default 10000 */
    const char *tokenizer_from; /* copy every tokenizer.* key of this GGUF; NULL: the character vocabulary */
} s2_init_params;
s2_init_params s2_init_default_params(void);

/* Writes a random model to path (atomically). S2_E_ARG for a bad shape: heads that do not divide, or a
 * quantized type whose block does not divide the rows. */
s2_status s2_model_init_random(const s2_init_params *p, const char *path, s2_error *err);

/* Writes a loaded model (from GGUF or a llama2.c checkpoint) as a GGUF file of architecture m's, with its
 * vocabulary as tokenizer.ggml.* keys and its 2-D weights in type (S2_TYPE_F32 keeps them exact; norms stay F32),
 * so that `sys2 convert` turns llama2.c checkpoints into files llama.cpp and this engine load alike. */
s2_status s2_model_save_gguf(const s2_model *m, const char *path, int32_t type, s2_error *err);

#endif
