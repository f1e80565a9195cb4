/* arch.c: the architectures sys2 runs, one row each (STYLE.md section 12). A row says what the one forward loop of
 * forward.c does differently for that architecture and which metadata keys model.c reads for it; what the keys do
 * not say (RoPE layout, norm conventions, gemma3's local RoPE base, the sliding-window pattern) is in the row too,
 * as llama.cpp knows it by architecture (../shared/reference/arch/README.md lists each).
 *
 * Nothing here loads or computes: model.c reads the rows, forward.c branches on their fields. */
#include <string.h>

#include "model.h"

/* Read by every architecture (after "<arch>."): the shapes, the RMSNorm epsilon, the RoPE base and width.
 * vocab_size only restates token_embd's rows (checked in model.c). */
const char *const s2_arch_common_keys[] = {
    "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
    "attention.head_count_kv", "attention.layer_norm_rms_epsilon", "attention.key_length",
    "attention.value_length", "rope.freq_base", "rope.dimension_count", "vocab_size", NULL};

/* RoPE scaling: type none / linear (factor), or llama3 (the factors are the rope_freqs tensor). */
static const char *const llama_keys[] = {"rope.scaling.type", "rope.scaling.factor", "rope.scale_linear", NULL};
static const char *const qwen_keys[] = {"rope.scaling.type", "rope.scaling.factor", NULL};
/* original_context_length only matters with LongRoPE factors (rope_factors_long/short), which are refused as
 * unused tensors: the 4k Phi-3 has none. */
static const char *const phi3_keys[] = {"rope.scaling.original_context_length", "attention.sliding_window", NULL};
static const char *const gemma2_keys[] = {"attn_logit_softcapping", "final_logit_softcapping",
                                          "attention.sliding_window", NULL};
static const char *const gemma3_keys[] = {"rope.scaling.type", "rope.scaling.factor", "attention.sliding_window",
                                          NULL};

static const s2_arch arch_table[] = {
    {.name = "llama", .rope = S2_ROPE_PAIRS, .act = S2_ACT_SILU, .rope_freqs = true, .keys = llama_keys},
    {.name = "qwen2", .rope = S2_ROPE_NEOX, .act = S2_ACT_SILU, .qkv_bias = true, .keys = qwen_keys},
    {.name = "qwen3", .rope = S2_ROPE_NEOX, .act = S2_ACT_SILU, .qk_norm = true, .keys = qwen_keys},
    {.name = "phi3", .rope = S2_ROPE_NEOX, .act = S2_ACT_SILU, .fused_qkv = true, .fused_gate_up = true,
     .swa_period = 1, .keys = phi3_keys},
    /* Gemma's stored norm weights already hold the converter's +1: they multiply as stored. Soft-cap defaults
     * are llama.cpp's (50, 30); even layers slide; 46 layers is the 27B (query_pre_attn_scalar = D/H). */
    {.name = "gemma2", .rope = S2_ROPE_NEOX, .act = S2_ACT_GELU_TANH, .post_norms = true, .embed_scale = true,
     .attn_softcap = 50.0f, .final_softcap = 30.0f, .swa_period = 2, .qpas_n_layer = 46, .keys = gemma2_keys},
    /* Five sliding layers to one global; the sliding ones rotate with base 10000 unscaled; 62 layers is the 27B. */
    {.name = "gemma3", .rope = S2_ROPE_NEOX, .act = S2_ACT_GELU_TANH, .qk_norm = true, .post_norms = true,
     .embed_scale = true, .swa_period = 6, .local_rope_base = 10000.0f, .qpas_n_layer = 62, .keys = gemma3_keys},
};

int32_t s2_arch_count(void) { return (int32_t)(sizeof arch_table / sizeof arch_table[0]); }

const s2_arch *s2_arch_at(int32_t i) { return i >= 0 && i < s2_arch_count() ? &arch_table[i] : NULL; }

const s2_arch *s2_arch_find(const char *name) {
    for (int32_t i = 0; i < s2_arch_count(); i++)
        if (strcmp(arch_table[i].name, name) == 0) return &arch_table[i];
    return NULL;
}
