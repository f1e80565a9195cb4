/* unicode.h: the little UTF-8 the tokenizers need, and GPT-2's byte <-> code point map (byte-level BPE).
 *
 * Core-internal (not part of the public API). No allocation, no tables of Unicode properties: character classes
 * are PCRE2's business (tokenizer.c compiles the pre-tokenizer regexes with PCRE2_UTF | PCRE2_UCP). */
#ifndef S2_UNICODE_H
#define S2_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Length of the UTF-8 sequence that lead byte b starts, from its high bits alone (as llama.cpp's SentencePiece
 * split does): 0xxxxxxx and stray continuation bytes 10xxxxxx give 1, 110xxxxx 2, 1110xxxx 3, 11110xxx 4,
 * and the never-valid 11111xxx 1. */
int s2_utf8_lead_len(uint8_t b);

/* Decodes one well-formed UTF-8 sequence at s (n bytes available): returns its length (1..4) and sets *cp;
 * returns 0 for an ill-formed sequence (bad lead or continuation byte, overlong form, surrogate, > U+10FFFF,
 * or truncated by n). */
int s2_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Writes cp (<= U+10FFFF) as UTF-8 to out (room for 4 bytes); returns the length, 0 for an invalid cp. */
int s2_utf8_encode(uint32_t cp, char *out);

/* GPT-2's byte-level alphabet: bytes 0x21..0x7e, 0xa1..0xac and 0xae..0xff stand for themselves (as code points);
 * the other 68 bytes, in increasing order, map to U+0100, U+0101, ... U+0143. */
uint32_t s2_byte_to_cp(uint8_t b);
/* The inverse: the byte cp stands for, or -1 when cp is not in the alphabet. */
int s2_cp_to_byte(uint32_t cp);

#endif
