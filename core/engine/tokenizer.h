/* tokenizer.h: building vocabularies. Encoding and decoding are declared in sys2.h.
 *
 * Three sources: a GGUF's tokenizer.ggml.* keys (SentencePiece "llama" and byte-level BPE "gpt2", with the
 * pre-tokenizer split regexes named by tokenizer.ggml.pre, run through PCRE2), llama2.c's tok*.bin, and the
 * character vocabulary of the project's own trained models. */
#ifndef S2_TOKENIZER_H
#define S2_TOKENIZER_H

#include "sys2.h"
#include "gguf.h"

typedef enum s2_vocab_kind { S2_VOCAB_SPM = 1, S2_VOCAB_BPE = 2 } s2_vocab_kind;

/* From tokenizer.ggml.model / tokens / scores / token_type / merges / pre / bos_token_id / eos_token_id /
 * add_bos_token / add_space_prefix ... An unknown model or pre-tokenizer is S2_E_UNSUPPORTED naming it. */
s2_status s2_vocab_from_gguf(const s2_gguf *g, s2_vocab **out, s2_error *err);
/* llama2.c's tokenizer file: int32 max_token_length, then per token: float score, int32 len, len bytes.
 * n_vocab is the model's vocabulary size (the file does not store it). BOS = 1, EOS = 2 as llama2.c has them. */
s2_status s2_vocab_from_llama2c(const char *path, int32_t n_vocab, s2_vocab **out, s2_error *err);
/* The character vocabulary of sys2's trained models: "<unk>" "<s>" "</s>", the 256 byte tokens "<0x00>"...,
 * then "\xe2\x96\x81" (U+2581, the space) and the printable ASCII characters 0x21..0x7e, as a SentencePiece
 * "llama" vocabulary without merges and with add_space_prefix false, so llama.cpp loads it too. */
s2_status s2_vocab_char_init(s2_vocab **out, s2_error *err);
void s2_vocab_free(s2_vocab *v); /* NULL is a no-op */

s2_vocab_kind s2_vocab_kind_of(const s2_vocab *v);
/* Writes the vocabulary as tokenizer.ggml.* keys (the same keys s2_vocab_from_gguf reads). */
s2_status s2_vocab_write_gguf(const s2_vocab *v, s2_gguf_writer *w, s2_error *err);

#endif
