/* tokenizer.c: vocabularies (from GGUF tokenizer.ggml.* keys, llama2.c's tok*.bin, or sys2's character set), and
 * encoding/decoding with them, behaving like llama.cpp's tokenizer (and so like Hugging Face's on its test vectors).
 *
 * - SentencePiece ("llama"): spaces become U+2581, U+2581 is prefixed to each run of text that starts the input or
 *   follows a special token (add_space_prefix), the text is split into UTF-8 characters, adjacent symbols are
 *   merged greedily by the score of the merged piece (highest first, leftmost on ties), and a symbol that is no
 *   token falls back to its bytes' <0xNN> tokens.
 * - Byte-level BPE ("gpt2"): the text is cut into words by the pre-tokenizer's regexes (chosen by
 *   tokenizer.ggml.pre, compiled with PCRE2; each regex splits every piece of the previous one, keeping both the
 *   matches and the text between them), each word's bytes become GPT-2's byte-level code points, and adjacent
 *   symbols are merged by the rank of the pair in tokenizer.ggml.merges (lowest first, leftmost on ties).
 * - Before either, the text of special tokens is cut out, longest token first: USER_DEFINED tokens always (as
 *   llama.cpp and Hugging Face do for added tokens), CONTROL and UNKNOWN tokens only with parse_special.
 *
 * Invalid UTF-8 never crashes and is never lost: SentencePiece spells it with byte tokens, byte-level BPE encodes
 * each byte (PCRE2 is compiled with PCRE2_MATCH_INVALID_UTF, so invalid bytes fall between regex matches).
 *
 * A vocabulary is read-only after it is built, so one can be shared by threads; every call allocates its own
 * scratch. This file does not print, and knows nothing about models or tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer.h"
#include "unicode.h"

#define MAX_RE 8                 /* regexes in one pre-tokenizer */
#define SPACE_MARK "\xe2\x96\x81" /* U+2581, SentencePiece's space */

/* ---- pre-tokenizers: llama.cpp's regex lists per tokenizer.ggml.pre ---- */

/* GPT-2's own regex as llama.cpp writes it (the text between matches is kept anyway, so HF's final "|\s+" is not
 * needed). Where llama.cpp rewrote a Hugging Face regex for std::regex ((?i:...) spelled out, possessive
 * quantifiers dropped), PCRE2 runs the original. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CJK "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+" /* 一-龥 ࠀ-一 가-퟿ */

static const char *const re_default[] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL};
static const char *const re_gpt2[] = {RE_GPT2, NULL};
static const char *const re_llama3[] = {
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const re_qwen2[] = {
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const re_deepseek_llm[] = {
    "[\\r\\n]",
    "\\s?[A-Za-z\xc2\xb5\xc3\x80-\xc3\x96\xc3\x98-\xc3\xb6\xc3\xb8-\xc6\xba\xc6\xbc-\xc6\xbf\xc7\x84-\xca\x93"
    "\xca\x95-\xca\xaf\xcd\xb0-\xcd\xb3\xcd\xb6\xcd\xb7\xcd\xbb-\xcd\xbd\xcd\xbf\xce\x86\xce\x88-\xce\x8a\xce\x8c"
    "\xce\x8e-\xce\xa1\xce\xa3-\xcf\xb5\xcf\xb7-\xd2\x81\xd2\x8a-\xd4\xaf\xd4\xb1-\xd5\x96\xe1\x82\xa0-\xe1\x83\x85"
    "\xe1\x8e\xa0-\xe1\x8f\xb5\xe1\x8f\xb8-\xe1\x8f\xbd\xe1\xb2\x90-\xe1\xb2\xba\xe1\xb2\xbd-\xe1\xb2\xbf"
    "\xe1\xb4\x80-\xe1\xb4\xab\xe1\xb5\xab-\xe1\xb5\xb7\xe1\xb5\xb9-\xe1\xb6\x9a\xe1\xb8\x80-\xe1\xbc\x95"
    "\xe1\xbc\x98-\xe1\xbc\x9d\xe1\xbc\xa0-\xe1\xbd\x85\xe1\xbd\x88-\xe1\xbd\x8d\xe1\xbd\x90-\xe1\xbd\x97\xe1\xbd\x99"
    "\xe1\xbd\x9b\xe1\xbd\x9d\xe1\xbd\x9f-\xe1\xbd\xbd\xe1\xbe\x80-\xe1\xbe\xb4\xe1\xbe\xb6-\xe1\xbe\xbc\xe1\xbe\xbe"
    "\xe1\xbf\x82-\xe1\xbf\x84\xe1\xbf\x86-\xe1\xbf\x8c\xe1\xbf\x90-\xe1\xbf\x93\xe1\xbf\x96-\xe1\xbf\x9b"
    "\xe1\xbf\xa0-\xe1\xbf\xac\xe1\xbf\xb2-\xe1\xbf\xb4\xe1\xbf\xb6-\xe1\xbf\xbc\xe2\x84\x82\xe2\x84\x87"
    "\xe2\x84\x8a-\xe2\x84\x93\xe2\x84\x95\xe2\x84\x99-\xe2\x84\x9d\xe2\x84\xa4\xe2\x84\xa6\xe2\x84\xa8"
    "\xe2\x84\xaa-\xe2\x84\xad\xe2\x84\xaf-\xe2\x84\xb4\xe2\x84\xb9\xe2\x84\xbc-\xe2\x84\xbf\xe2\x85\x85-\xe2\x85\x89"
    "\xe2\x85\x8e\xe2\x86\x83\xe2\x86\x84\xe2\xb0\x80-\xe2\xb1\xbb\xe2\xb1\xbe-\xe2\xb3\xa4\xe2\xb3\xab-\xe2\xb3\xae"
    "\xe2\xb3\xb2\xe2\xb3\xb3\xea\x99\x80-\xea\x99\xad\xea\x9a\x80-\xea\x9a\x9b\xea\x9c\xa2-\xea\x9d\xaf"
    "\xea\x9d\xb1-\xea\x9e\x87\xea\x9e\x8b-\xea\x9e\x8e\xea\xad\xb0-\xea\xae\xbf\xef\xac\x80-\xef\xac\x86"
    "\xef\xac\x93-\xef\xac\x97\xef\xbc\xa1-\xef\xbc\xba\xef\xbd\x81-\xef\xbd\x9a\xf0\x90\x90\x80-\xf0\x90\x91\x8f"
    "\xf0\x90\x92\xb0-\xf0\x90\x93\x93\xf0\x90\x93\x98-\xf0\x90\x93\xbb\xf0\x90\xb2\x80-\xf0\x90\xb2\xb2"
    "\xf0\x90\xb3\x80-\xf0\x90\xb3\xb2\xf0\x91\xa2\xa0-\xf0\x91\xa3\x9f\xf0\x9e\xa4\x80-\xf0\x9e\xa5\x83]+",
    "\\s?[!-/:-~\xef\xbc\x81-\xef\xbc\x8f\xef\xbc\x9a-\xef\xbd\x9e\xe2\x80\x98-\xe2\x80\x9f\xe3\x80\x80-\xe3\x80\x82]+",
    "\\s+$",
    RE_CJK,
    "\\p{N}+",
    NULL};
static const char *const re_deepseek_coder[] = {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}", NULL};
static const char *const re_deepseek_v3[] = {
    "\\p{N}{1,3}",
    "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+", /* 一-龥 ぀-ゟ ゠-ヿ */
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const re_falcon[] = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]", NULL};
static const char *const re_starcoder[] = {"\\p{N}", RE_GPT2, NULL};
/* poro, bloom, gpt3-finnish; viking adds single digits */
#define RE_PORO " ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"
static const char *const re_poro[] = {RE_PORO, NULL};
static const char *const re_viking[] = {RE_PORO, "\\p{N}", NULL};
static const char *const re_tekken[] = {
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const re_gpt4o[] = {
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
    "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const re_seed_coder[] = {
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const re_bailingmoe[] = {
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|"
    "\\s+(?!\\S)|\\s+",
    NULL};

typedef struct pre_def {
    const char *names;           /* the tokenizer.ggml.pre values, each followed by ',' */
    const char *const *re;       /* NULL-terminated */
    bool ignore_merges;          /* a word that is a token is that token (Hugging Face's ignore_merges) */
    bool add_bos;                /* default of tokenizer.ggml.add_bos_token */
} pre_def;

static const pre_def pre_defs[] = {
    {"default,", re_default, false, false},
    {"llama3,llama-v3,llama-bpe,falcon3,falcon-h1,pixtral,midm-2.0,lfm2,", re_llama3, true, true},
    {"dbrx,smaug-bpe,glm4,chatglm-bpe,", re_llama3, false, false},
    {"deepseek-llm,", re_deepseek_llm, false, false},
    {"deepseek-coder,", re_deepseek_coder, false, false},
    {"deepseek-v3,", re_deepseek_v3, false, false},
    {"falcon,", re_falcon, false, false},
    {"gpt-2,phi-2,mpt,olmo,jais,trillion,granite-docling,jina-es,jina-de,jina-v1-en,jina-v2-es,jina-v2-de,"
     "jina-v2-code,roberta-bpe,gigachat,a.x-4.0,mellum,exaone4,",
     re_gpt2, false, false},
    {"starcoder,refact,command-r,smollm,codeshell,exaone,minerva-7b,", re_starcoder, false, false},
    {"qwen2,deepseek-r1-qwen,kormo,stablelm2,megrez,hunyuan,grok-2,", re_qwen2, false, false},
    {"poro-chat,bloom,gpt3-finnish,", re_poro, false, false},
    {"viking,", re_viking, false, false},
    {"tekken,", re_tekken, true, true},
    {"gpt-4o,llama4,", re_gpt4o, false, false},
    {"seed-coder,", re_seed_coder, false, false},
    {"bailingmoe,bailingmoe2,llada-moe,", re_bailingmoe, false, false},
};

static const pre_def *pre_find(const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof pre_defs / sizeof pre_defs[0]; i++) {
        for (const char *p = pre_defs[i].names; *p != '\0';) {
            const char *comma = strchr(p, ',');
            if ((size_t)(comma - p) == n && memcmp(p, name, n) == 0) return &pre_defs[i];
            p = comma + 1;
        }
    }
    return NULL;
}

/* ---- the vocabulary ---- */

typedef struct tok_slot { uint32_t hash; int32_t id; } tok_slot;                 /* id -1: empty */
typedef struct merge_slot { uint64_t key; int32_t rank, result; } merge_slot;    /* key UINT64_MAX: empty */

struct s2_vocab {
    s2_vocab_kind kind;
    int32_t n_tokens;
    char *arena;              /* every token's text, NUL-terminated, back to back */
    size_t arena_used, arena_cap;
    size_t *off;              /* (n_tokens) start of each text in arena */
    uint32_t *len;            /* (n_tokens) */
    float *scores;            /* (n_tokens) */
    uint8_t *type;            /* (n_tokens) s2_token_type */
    uint8_t *eog;             /* (n_tokens) 1: ends generation */
    bool has_scores;          /* scores came from the source (written back by s2_vocab_write_gguf) */
    tok_slot *tok_ht;         /* text -> id; capacity tok_mask + 1, a power of two */
    uint32_t tok_mask;
    merge_slot *merge_ht;     /* (left id, right id) -> rank and merged id */
    uint32_t merge_mask;
    int32_t *merge_l, *merge_r; /* (n_merges) the usable merges in rank order */
    int32_t n_merges;
    int32_t byte_id[256];     /* SPM: the <0xNN> token; BPE: the token of the byte's code point; -1 if none */
    int32_t bos, eos, unk, eot, eom, pad;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    char pre[64];
    int32_t *special;         /* (n_special) CONTROL, USER_DEFINED and UNKNOWN ids, longest text first */
    int32_t n_special;
    pcre2_code *re[MAX_RE];
    int32_t n_re;
};

static uint32_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

static uint64_t mix64(uint64_t x) { /* splitmix64's finalizer */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static const char *tok_text(const s2_vocab *v, int32_t id) { return v->arena + v->off[id]; }

/* The id of the token whose text is s (n bytes), or -1. */
static int32_t vocab_lookup(const s2_vocab *v, const char *s, size_t n) {
    uint32_t h = hash_bytes(s, n);
    for (uint32_t i = h & v->tok_mask;; i = (i + 1) & v->tok_mask) {
        const tok_slot *e = &v->tok_ht[i];
        if (e->id < 0) return -1;
        if (e->hash == h && v->len[e->id] == n && memcmp(tok_text(v, e->id), s, n) == 0) return e->id;
    }
}

static const merge_slot *merge_find(const s2_vocab *v, int32_t l, int32_t r) {
    if (v->merge_ht == NULL || l < 0 || r < 0) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    for (uint32_t i = (uint32_t)mix64(key) & v->merge_mask;; i = (i + 1) & v->merge_mask) {
        const merge_slot *e = &v->merge_ht[i];
        if (e->key == UINT64_MAX) return NULL;
        if (e->key == key) return e;
    }
}

void s2_vocab_free(s2_vocab *v) {
    if (v == NULL) return;
    free(v->arena);
    free(v->off);
    free(v->len);
    free(v->scores);
    free(v->type);
    free(v->eog);
    free(v->tok_ht);
    free(v->merge_ht);
    free(v->merge_l);
    free(v->merge_r);
    free(v->special);
    for (int32_t i = 0; i < v->n_re; i++) pcre2_code_free(v->re[i]);
    free(v);
}

/* A vocabulary of n tokens with room for arena_bytes of text (NULs included): texts still to be added. */
static s2_status vocab_new(s2_vocab_kind kind, int64_t n, size_t arena_bytes, s2_vocab **out, s2_error *err) {
    *out = NULL;
    if (n <= 0 || n > INT32_MAX / 4)
        return s2_error_set(err, S2_E_FORMAT, "vocab: %lld tokens is not a usable vocabulary size", (long long)n);
    s2_vocab *v = calloc(1, sizeof *v);
    if (v == NULL) return s2_error_set(err, S2_E_NOMEM, "vocab: out of memory");
    v->kind = kind;
    v->n_tokens = (int32_t)n;
    v->bos = v->eos = v->unk = v->eot = v->eom = v->pad = -1;
    v->arena_cap = arena_bytes;
    v->arena = malloc(arena_bytes > 0 ? arena_bytes : 1);
    v->off = calloc((size_t)n, sizeof *v->off);
    v->len = calloc((size_t)n, sizeof *v->len);
    v->scores = calloc((size_t)n, sizeof *v->scores);
    v->type = calloc((size_t)n, sizeof *v->type);
    v->eog = calloc((size_t)n, sizeof *v->eog);
    if (!v->arena || !v->off || !v->len || !v->scores || !v->type || !v->eog) {
        s2_vocab_free(v);
        return s2_error_set(err, S2_E_NOMEM, "vocab: out of memory for %lld tokens", (long long)n);
    }
    for (int i = 0; i < 256; i++) v->byte_id[i] = -1;
    *out = v;
    return S2_OK;
}

/* Appends token id's text (ids are added in order). The caller sized the arena. */
static void vocab_put(s2_vocab *v, int32_t id, const char *s, size_t n) {
    S2_ASSERT(v->arena_used + n + 1 <= v->arena_cap && n <= UINT32_MAX);
    v->off[id] = v->arena_used;
    v->len[id] = (uint32_t)n;
    memcpy(v->arena + v->arena_used, s, n);
    v->arena[v->arena_used + n] = '\0';
    v->arena_used += n + 1;
}

/* "<0xNN>": SentencePiece's byte pieces. */
static bool is_byte_piece(const char *s, size_t n) {
    return n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && strchr("0123456789ABCDEFabcdef", s[3]) != NULL &&
           strchr("0123456789ABCDEFabcdef", s[4]) != NULL && s[3] != '\0' && s[4] != '\0';
}

static bool is_special_type(uint8_t t) {
    return t == S2_TOKEN_CONTROL || t == S2_TOKEN_USER_DEFINED || t == S2_TOKEN_UNKNOWN;
}

static int cmp_special(const void *a, const void *b, void *vv) {
    const s2_vocab *v = vv;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (v->len[x] != v->len[y]) return v->len[x] > v->len[y] ? -1 : 1; /* longest first */
    return x < y ? -1 : (x > y);
}

/* Texts of end-of-generation tokens, as llama.cpp recognises them. */
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<|end_of_text|>",
};

/* Everything derived from the texts and types: the text hash, byte tokens, the special list, EOG flags. */
static s2_status vocab_index(s2_vocab *v, s2_error *err) {
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)v->n_tokens) cap *= 2;
    v->tok_ht = malloc((size_t)cap * sizeof *v->tok_ht);
    if (v->tok_ht == NULL) return s2_error_set(err, S2_E_NOMEM, "vocab: out of memory for the token hash");
    for (uint32_t i = 0; i < cap; i++) v->tok_ht[i] = (tok_slot){0, -1};
    v->tok_mask = cap - 1;
    for (int32_t id = 0; id < v->n_tokens; id++) {
        uint32_t h = hash_bytes(tok_text(v, id), v->len[id]);
        for (uint32_t i = h & v->tok_mask;; i = (i + 1) & v->tok_mask) {
            tok_slot *e = &v->tok_ht[i];
            if (e->id < 0) {
                *e = (tok_slot){h, id};
                break;
            }
            if (e->hash == h && v->len[e->id] == v->len[id] &&
                memcmp(tok_text(v, e->id), tok_text(v, id), v->len[id]) == 0) {
                e->id = id; /* a duplicate text: the last id wins, as in llama.cpp */
                break;
            }
        }
    }
    for (int b = 0; b < 256; b++) {
        char s[8];
        int n;
        if (v->kind == S2_VOCAB_SPM) {
            static const char hex[] = "0123456789ABCDEF";
            memcpy(s, "<0x", 3);
            s[3] = hex[b >> 4], s[4] = hex[b & 15], s[5] = '>';
            int32_t id = vocab_lookup(v, s, 6);
            if (id < 0 && b < 0x80) { /* no byte token: the character itself, as llama.cpp falls back */
                s[0] = (char)b;
                id = vocab_lookup(v, s, 1);
            }
            v->byte_id[b] = id;
        } else {
            n = s2_utf8_encode(s2_byte_to_cp((uint8_t)b), s);
            v->byte_id[b] = vocab_lookup(v, s, (size_t)n);
        }
    }
    int32_t n_special = 0;
    for (int32_t id = 0; id < v->n_tokens; id++) n_special += is_special_type(v->type[id]) && v->len[id] > 0;
    if (n_special > 0) {
        v->special = malloc((size_t)n_special * sizeof *v->special);
        if (v->special == NULL) return s2_error_set(err, S2_E_NOMEM, "vocab: out of memory");
        for (int32_t id = 0; id < v->n_tokens; id++)
            if (is_special_type(v->type[id]) && v->len[id] > 0) v->special[v->n_special++] = id;
        qsort_r(v->special, (size_t)v->n_special, sizeof *v->special, cmp_special, v);
    }
    int32_t ends[] = {v->eos, v->eot, v->eom};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        if (ends[i] >= 0) v->eog[ends[i]] = 1;
    for (size_t i = 0; i < sizeof eog_texts / sizeof eog_texts[0]; i++) {
        int32_t id = vocab_lookup(v, eog_texts[i], strlen(eog_texts[i]));
        if (id >= 0 && (v->type[id] == S2_TOKEN_CONTROL || v->type[id] == S2_TOKEN_USER_DEFINED)) v->eog[id] = 1;
    }
    return S2_OK;
}

static s2_status compile_pre(s2_vocab *v, const pre_def *pd, s2_error *err) {
    for (int32_t i = 0; pd->re[i] != NULL; i++) {
        S2_ASSERT(i < MAX_RE);
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pd->re[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &ec,
                                       &eo, NULL);
        if (re == NULL) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return s2_error_set(err, S2_E_UNSUPPORTED, "vocab: pre-tokenizer '%s': regex %d at offset %zu: %s",
                                v->pre, i, (size_t)eo, (const char *)msg);
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT the interpreter runs it */
        v->re[v->n_re++] = re;
    }
    return S2_OK;
}

/* Reads tokenizer.ggml.merges ("left right", rank = position) into the pair hash. A merge whose parts or result
 * are not tokens can never apply (Hugging Face refuses such files); it is skipped. */
static s2_status read_merges(s2_vocab *v, const s2_gguf *g, s2_error *err) {
    const s2_gguf_kv *kv;
    s2_status st = s2_gguf_get_arr(g, "tokenizer.ggml.merges", S2_GGUF_STRING, &kv, err);
    if (st != S2_OK) return st;
    if (kv->n > INT32_MAX / 4) return s2_error_set(err, S2_E_FORMAT, "vocab: %llu merges", (unsigned long long)kv->n);
    uint32_t cap = 16;
    while (cap < 2 * kv->n) cap *= 2;
    v->merge_ht = malloc((size_t)cap * sizeof *v->merge_ht);
    v->merge_l = malloc((kv->n + 1) * sizeof *v->merge_l);
    v->merge_r = malloc((kv->n + 1) * sizeof *v->merge_r);
    size_t buf_cap = 256;
    char *buf = malloc(buf_cap);
    if (!v->merge_ht || !v->merge_l || !v->merge_r || !buf) {
        free(buf);
        return s2_error_set(err, S2_E_NOMEM, "vocab: out of memory for %llu merges", (unsigned long long)kv->n);
    }
    for (uint32_t i = 0; i < cap; i++) v->merge_ht[i] = (merge_slot){UINT64_MAX, 0, 0};
    v->merge_mask = cap - 1;
    int64_t skipped = 0;
    for (uint64_t r = 0; r < kv->n; r++) {
        const char *m = kv->strs[r];
        size_t n = strlen(m);
        const char *sp = n > 1 ? memchr(m + 1, ' ', n - 1) : NULL; /* as llama.cpp: the first space after byte 0 */
        int32_t l = -1, rr = -1, res = -1;
        if (sp != NULL) {
            size_t nl = (size_t)(sp - m), nr = n - nl - 1;
            l = vocab_lookup(v, m, nl);
            rr = vocab_lookup(v, sp + 1, nr);
            if (nl + nr > buf_cap) {
                char *nb = realloc(buf, nl + nr);
                if (nb == NULL) {
                    free(buf);
                    return s2_error_set(err, S2_E_NOMEM, "vocab: out of memory");
                }
                buf = nb, buf_cap = nl + nr;
            }
            memcpy(buf, m, nl);
            memcpy(buf + nl, sp + 1, nr);
            res = vocab_lookup(v, buf, nl + nr);
        }
        if (l < 0 || rr < 0 || res < 0) {
            skipped++;
            continue;
        }
        uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)rr;
        for (uint32_t i = (uint32_t)mix64(key) & v->merge_mask;; i = (i + 1) & v->merge_mask) {
            merge_slot *e = &v->merge_ht[i];
            if (e->key == key) break; /* a repeated pair keeps its first (best) rank */
            if (e->key == UINT64_MAX) {
                *e = (merge_slot){key, (int32_t)r, res};
                v->merge_l[v->n_merges] = l;
                v->merge_r[v->n_merges] = rr;
                v->n_merges++;
                break;
            }
        }
    }
    free(buf);
    if (skipped > 0) s2_log(1, "vocab: skipped %lld of %llu merges whose parts are not tokens", (long long)skipped,
                            (unsigned long long)kv->n);
    return S2_OK;
}

/* A special-token id from key: absent, or the "none" values -1 / UINT32_MAX, gives -1. */
static s2_status read_id(const s2_vocab *v, const s2_gguf *g, const char *key, int32_t *id, s2_error *err) {
    int64_t x;
    s2_status st = s2_gguf_get_int_or(g, key, -1, &x, err);
    if (st != S2_OK) return st;
    if (x == -1 || x == (int64_t)UINT32_MAX) return S2_OK;
    if (x < 0 || x >= v->n_tokens)
        return s2_error_set(err, S2_E_FORMAT, "vocab: %s = %lld is outside the %d tokens", key, (long long)x,
                            v->n_tokens);
    *id = (int32_t)x;
    return S2_OK;
}

s2_status s2_vocab_from_gguf(const s2_gguf *g, s2_vocab **out, s2_error *err) {
    *out = NULL;
    const char *model, *pre = "default";
    s2_status st = s2_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (st != S2_OK) return st;
    s2_vocab_kind kind;
    if (strcmp(model, "llama") == 0) kind = S2_VOCAB_SPM;
    else if (strcmp(model, "gpt2") == 0) kind = S2_VOCAB_BPE;
    else return s2_error_set(err, S2_E_UNSUPPORTED, "vocab: tokenizer.ggml.model '%s' is not supported "
                             "(only 'llama' and 'gpt2')", model);
    const pre_def *pd = NULL;
    if (kind == S2_VOCAB_BPE) {
        if (s2_gguf_find(g, "tokenizer.ggml.pre") != NULL) { /* absent in old files: llama.cpp's default */
            st = s2_gguf_get_str(g, "tokenizer.ggml.pre", &pre, err);
            if (st != S2_OK) return st;
        }
        pd = pre_find(pre);
        if (pd == NULL)
            return s2_error_set(err, S2_E_UNSUPPORTED, "vocab: pre-tokenizer '%s' (tokenizer.ggml.pre) is not "
                                "supported", pre);
    }
    const s2_gguf_kv *toks, *scores = NULL, *types = NULL;
    st = s2_gguf_get_arr(g, "tokenizer.ggml.tokens", S2_GGUF_STRING, &toks, err);
    if (st != S2_OK) return st;
    if (s2_gguf_find(g, "tokenizer.ggml.scores") != NULL) {
        st = s2_gguf_get_arr(g, "tokenizer.ggml.scores", S2_GGUF_FLOAT32, &scores, err);
        if (st != S2_OK) return st;
        if (scores->n != toks->n)
            return s2_error_set(err, S2_E_FORMAT, "vocab: %llu scores for %llu tokens",
                                (unsigned long long)scores->n, (unsigned long long)toks->n);
    }
    if (s2_gguf_find(g, "tokenizer.ggml.token_type") != NULL) {
        st = s2_gguf_get_arr(g, "tokenizer.ggml.token_type", S2_GGUF_N_TYPES, &types, err);
        if (st != S2_OK) return st;
        if (types->arr_type != S2_GGUF_INT32 && types->arr_type != S2_GGUF_UINT32)
            return s2_error_set(err, S2_E_FORMAT, "vocab: tokenizer.ggml.token_type: expected array of int32, "
                                "found array of %s", s2_gguf_type_name(types->arr_type));
        if (types->n != toks->n)
            return s2_error_set(err, S2_E_FORMAT, "vocab: %llu token types for %llu tokens",
                                (unsigned long long)types->n, (unsigned long long)toks->n);
    }
    if (toks->n == 0 || toks->n > INT32_MAX / 4)
        return s2_error_set(err, S2_E_FORMAT, "vocab: tokenizer.ggml.tokens holds %llu tokens",
                            (unsigned long long)toks->n);
    size_t bytes = 0;
    for (uint64_t i = 0; i < toks->n; i++) bytes += strlen(toks->strs[i]) + 1;
    s2_vocab *v;
    st = vocab_new(kind, (int64_t)toks->n, bytes, &v, err);
    if (st != S2_OK) return st;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        vocab_put(v, i, toks->strs[i], strlen(toks->strs[i]));
        v->scores[i] = scores ? ((const float *)scores->arr)[i] : 0.0f;
        int32_t t = types ? ((const int32_t *)types->arr)[i] : S2_TOKEN_NORMAL;
        if (types == NULL && kind == S2_VOCAB_SPM && is_byte_piece(toks->strs[i], strlen(toks->strs[i])))
            t = S2_TOKEN_BYTE; /* no token_type key: SentencePiece's <0xNN> pieces are still bytes */
        v->type[i] = (uint8_t)((t >= S2_TOKEN_UNDEFINED && t <= S2_TOKEN_BYTE) ? t : S2_TOKEN_UNDEFINED);
    }
    v->has_scores = scores != NULL;
    snprintf(v->pre, sizeof v->pre, "%s", pre);
    v->add_space_prefix = kind == S2_VOCAB_SPM;
    v->add_bos = kind == S2_VOCAB_SPM || (pd != NULL && pd->add_bos);
    v->ignore_merges = pd != NULL && pd->ignore_merges;
    if (st == S2_OK) st = s2_gguf_get_bool_or(g, "tokenizer.ggml.add_bos_token", v->add_bos, &v->add_bos, err);
    if (st == S2_OK) st = s2_gguf_get_bool_or(g, "tokenizer.ggml.add_eos_token", false, &v->add_eos, err);
    if (st == S2_OK && kind == S2_VOCAB_SPM)
        st = s2_gguf_get_bool_or(g, "tokenizer.ggml.add_space_prefix", true, &v->add_space_prefix, err);
    if (st == S2_OK) st = read_id(v, g, "tokenizer.ggml.bos_token_id", &v->bos, err);
    if (st == S2_OK) st = read_id(v, g, "tokenizer.ggml.eos_token_id", &v->eos, err);
    if (st == S2_OK) st = read_id(v, g, "tokenizer.ggml.unknown_token_id", &v->unk, err);
    if (st == S2_OK) st = read_id(v, g, "tokenizer.ggml.eot_token_id", &v->eot, err);
    if (st == S2_OK) st = read_id(v, g, "tokenizer.ggml.eom_token_id", &v->eom, err);
    if (st == S2_OK) st = read_id(v, g, "tokenizer.ggml.padding_token_id", &v->pad, err);
    if (st == S2_OK) st = vocab_index(v, err);
    if (st == S2_OK && kind == S2_VOCAB_SPM) { /* SentencePiece's conventional ids, found by their text */
        if (v->bos < 0) v->bos = vocab_lookup(v, "<s>", 3);
        if (v->eos < 0) v->eos = vocab_lookup(v, "</s>", 4);
        if (v->unk < 0) v->unk = vocab_lookup(v, "<unk>", 5);
        if (v->eos >= 0) v->eog[v->eos] = 1;
    }
    if (st == S2_OK && kind == S2_VOCAB_BPE) st = read_merges(v, g, err);
    if (st == S2_OK && kind == S2_VOCAB_BPE) st = compile_pre(v, pd, err);
    if (st != S2_OK) {
        s2_vocab_free(v);
        return st;
    }
    *out = v;
    return S2_OK;
}
/* ---- llama2.c's tok*.bin and the character vocabulary ---- */


s2_status s2_vocab_from_llama2c(const char *path, int32_t n_vocab, s2_vocab **out, s2_error *err) {
    *out = NULL;
    if (n_vocab <= 0) return s2_error_set(err, S2_E_ARG, "%s: vocabulary size %d", path, n_vocab);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return s2_error_set(err, S2_E_IO, "%s: cannot open", path);
    char *buf = NULL;
    size_t size = 0, cap = 0, got;
    do {
        if (size == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
    } while (got > 0);
    bool io_error = ferror(f);
    fclose(f);
    if (io_error) {
        free(buf);
        return s2_error_set(err, S2_E_IO, "%s: read error", path);
    }
    /* first pass: validate, and size the arena (spaces become the 3-byte U+2581) */
    s2_status st = S2_OK;
    size_t pos = 4, bytes = 0;
    if (size < 4) st = s2_error_set(err, S2_E_FORMAT, "%s: %zu bytes is too short for a tokenizer", path, size);
    for (int32_t i = 0; st == S2_OK && i < n_vocab; i++) {
        int32_t n;
        if (size - pos < 8) {
            st = s2_error_set(err, S2_E_FORMAT, "%s: ends at token %d of %d (byte %zu)", path, i, n_vocab, pos);
            break;
        }
        memcpy(&n, buf + pos + 4, 4);
        pos += 8;
        if (n < 0 || (size_t)n > size - pos) {
            st = s2_error_set(err, S2_E_FORMAT, "%s: token %d has length %d with %zu bytes left", path, i, n,
                              size - pos);
            break;
        }
        if (memchr(buf + pos, '\0', (size_t)n) != NULL) {
            st = s2_error_set(err, S2_E_FORMAT, "%s: token %d holds a NUL byte", path, i);
            break;
        }
        for (int32_t k = 0; k < n; k++) bytes += buf[pos + k] == ' ' ? 3 : 1;
        bytes += 1;
        pos += (size_t)n;
    }
    s2_vocab *v = NULL;
    if (st == S2_OK) st = vocab_new(S2_VOCAB_SPM, n_vocab, bytes, &v, err);
    if (st != S2_OK) {
        free(buf);
        return st;
    }
    /* second pass: llama2.c's export wrote U+2581 as ' ' and BOS/EOS as "\n<s>\n", "\n</s>\n"; undo both so the
     * vocabulary is the SentencePiece one (and writes back as llama.cpp's GGUF has it) */
    char *tmp = malloc(bytes + 1);
    if (tmp == NULL) {
        free(buf);
        s2_vocab_free(v);
        return s2_error_set(err, S2_E_NOMEM, "%s: out of memory", path);
    }
    pos = 4;
    for (int32_t i = 0; i < n_vocab; i++) {
        int32_t n;
        float score;
        memcpy(&score, buf + pos, 4);
        memcpy(&n, buf + pos + 4, 4);
        pos += 8;
        const char *s = buf + pos;
        pos += (size_t)n;
        v->scores[i] = score;
        v->type[i] = S2_TOKEN_NORMAL;
        if (i == 1 && n == 5 && memcmp(s, "\n<s>\n", 5) == 0) s = "<s>", n = 3;
        if (i == 2 && n == 6 && memcmp(s, "\n</s>\n", 6) == 0) s = "</s>", n = 4;
        if (i == 0 && n == 5 && memcmp(s, "<unk>", 5) == 0) v->type[i] = S2_TOKEN_UNKNOWN;
        else if (i == 1 || i == 2) v->type[i] = S2_TOKEN_CONTROL;
        else if (is_byte_piece(s, (size_t)n)) v->type[i] = S2_TOKEN_BYTE;
        size_t m = 0;
        for (int32_t k = 0; k < n; k++) {
            if (s[k] == ' ') memcpy(tmp + m, SPACE_MARK, 3), m += 3;
            else tmp[m++] = s[k];
        }
        vocab_put(v, i, tmp, m);
    }
    free(tmp);
    free(buf);
    v->has_scores = true;
    snprintf(v->pre, sizeof v->pre, "default");
    v->add_bos = v->add_space_prefix = true;
    v->bos = n_vocab > 1 ? 1 : -1;
    v->eos = n_vocab > 2 ? 2 : -1;
    v->unk = v->type[0] == S2_TOKEN_UNKNOWN ? 0 : -1;
    st = vocab_index(v, err);
    if (st != S2_OK) {
        s2_vocab_free(v);
        return st;
    }
    *out = v;
    return S2_OK;
}

s2_status s2_vocab_char_init(s2_vocab **out, s2_error *err) {
    static const char *const head[] = {"<unk>", "<s>", "</s>"};
    const int32_t n = 3 + 256 + 1 + (0x7e - 0x21 + 1);
    s2_vocab *v;
    s2_status st = vocab_new(S2_VOCAB_SPM, n, 64 + 256 * 7 + 4 + 94 * 2, &v, err);
    if (st != S2_OK) return st;
    int32_t id = 0;
    for (int i = 0; i < 3; i++, id++) {
        vocab_put(v, id, head[i], strlen(head[i]));
        v->type[id] = i == 0 ? S2_TOKEN_UNKNOWN : S2_TOKEN_CONTROL;
    }
    for (int b = 0; b < 256; b++, id++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        vocab_put(v, id, s, 6);
        v->type[id] = S2_TOKEN_BYTE;
    }
    vocab_put(v, id, SPACE_MARK, 3);
    v->type[id++] = S2_TOKEN_NORMAL;
    for (int c = 0x21; c <= 0x7e; c++, id++) {
        char s = (char)c;
        vocab_put(v, id, &s, 1);
        v->type[id] = S2_TOKEN_NORMAL;
    }
    S2_ASSERT(id == n);
    snprintf(v->pre, sizeof v->pre, "default");
    v->has_scores = true; /* all zero: with no two-character tokens there is nothing to merge */
    v->add_bos = true;
    v->add_space_prefix = false;
    v->unk = 0, v->bos = 1, v->eos = 2;
    st = vocab_index(v, err);
    if (st != S2_OK) {
        s2_vocab_free(v);
        return st;
    }
    *out = v;
    return S2_OK;
}

/* ---- writing ---- */

static s2_status wr(s2_status st, const char *key, s2_error *err) {
    return st == S2_OK ? S2_OK : s2_error_set(err, st, "vocab: writing %s: %s", key, s2_status_str(st));
}

s2_status s2_vocab_write_gguf(const s2_vocab *v, s2_gguf_writer *w, s2_error *err) {
    size_t n = (size_t)v->n_tokens;
    const char **texts = malloc(n * sizeof *texts);
    int32_t *types = malloc(n * sizeof *types);
    if (texts == NULL || types == NULL) {
        free(texts);
        free(types);
        return s2_error_set(err, S2_E_NOMEM, "vocab: out of memory");
    }
    for (size_t i = 0; i < n; i++) texts[i] = tok_text(v, (int32_t)i), types[i] = v->type[i];
    s2_status st = wr(s2_gguf_set_str(w, "tokenizer.ggml.model", v->kind == S2_VOCAB_SPM ? "llama" : "gpt2"),
                      "tokenizer.ggml.model", err);
    if (st == S2_OK) st = wr(s2_gguf_set_str(w, "tokenizer.ggml.pre", v->pre), "tokenizer.ggml.pre", err);
    if (st == S2_OK) st = wr(s2_gguf_set_arr_str(w, "tokenizer.ggml.tokens", texts, n), "tokenizer.ggml.tokens", err);
    if (st == S2_OK && v->has_scores)
        st = wr(s2_gguf_set_arr(w, "tokenizer.ggml.scores", S2_GGUF_FLOAT32, v->scores, n), "tokenizer.ggml.scores",
                err);
    if (st == S2_OK)
        st = wr(s2_gguf_set_arr(w, "tokenizer.ggml.token_type", S2_GGUF_INT32, types, n),
                "tokenizer.ggml.token_type", err);
    free(texts);
    free(types);
    if (st == S2_OK && v->kind == S2_VOCAB_BPE) {
        size_t bytes = 0;
        for (int32_t i = 0; i < v->n_merges; i++) bytes += v->len[v->merge_l[i]] + v->len[v->merge_r[i]] + 2;
        char *arena = malloc(bytes + 1);
        const char **merges = malloc(((size_t)v->n_merges + 1) * sizeof *merges);
        if (arena == NULL || merges == NULL) {
            st = s2_error_set(err, S2_E_NOMEM, "vocab: out of memory for the merges");
        } else {
            char *p = arena;
            for (int32_t i = 0; i < v->n_merges; i++) {
                int32_t l = v->merge_l[i], r = v->merge_r[i];
                merges[i] = p;
                memcpy(p, tok_text(v, l), v->len[l]), p += v->len[l];
                *p++ = ' ';
                memcpy(p, tok_text(v, r), v->len[r]), p += v->len[r];
                *p++ = '\0';
            }
            st = wr(s2_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, (uint64_t)v->n_merges),
                    "tokenizer.ggml.merges", err);
        }
        free(arena);
        free(merges);
    }
    const struct { const char *key; int32_t id; } ids[] = {
        {"tokenizer.ggml.bos_token_id", v->bos}, {"tokenizer.ggml.eos_token_id", v->eos},
        {"tokenizer.ggml.unknown_token_id", v->unk}, {"tokenizer.ggml.eot_token_id", v->eot},
        {"tokenizer.ggml.eom_token_id", v->eom}, {"tokenizer.ggml.padding_token_id", v->pad},
    };
    for (size_t i = 0; st == S2_OK && i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].id >= 0) st = wr(s2_gguf_set_u32(w, ids[i].key, (uint32_t)ids[i].id), ids[i].key, err);
    if (st == S2_OK)
        st = wr(s2_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos), "tokenizer.ggml.add_bos_token", err);
    if (st == S2_OK)
        st = wr(s2_gguf_set_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos), "tokenizer.ggml.add_eos_token", err);
    if (st == S2_OK)
        st = wr(s2_gguf_set_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix),
                "tokenizer.ggml.add_space_prefix", err);
    return st;
}

/* ---- queries ---- */

s2_vocab_kind s2_vocab_kind_of(const s2_vocab *v) { return v->kind; }
int32_t s2_vocab_n_tokens(const s2_vocab *v) { return v->n_tokens; }
int32_t s2_vocab_bos(const s2_vocab *v) { return v->bos; }
int32_t s2_vocab_eos(const s2_vocab *v) { return v->eos; }
bool s2_vocab_is_eog(const s2_vocab *v, int32_t id) { return id >= 0 && id < v->n_tokens && v->eog[id]; }
const char *s2_vocab_text(const s2_vocab *v, int32_t id) {
    return (id >= 0 && id < v->n_tokens) ? tok_text(v, id) : NULL;
}
s2_token_type s2_vocab_type(const s2_vocab *v, int32_t id) {
    return (id >= 0 && id < v->n_tokens) ? (s2_token_type)v->type[id] : S2_TOKEN_UNDEFINED;
}

/* ---- encoding ---- */

typedef struct sym { int32_t start, n, prev, next, id; } sym; /* a symbol of the merge loop, in a linked list */
typedef struct bigram { double key; int32_t left, right, a, b, c; } bigram; /* pops lowest key, then leftmost */
typedef struct range { int32_t start, len; } range;

typedef struct enc {
    const s2_vocab *v;
    int32_t *ids;
    int64_t cap, n;          /* ids written: min(n, cap); n counts them all */
    bool parse_special, prev_special, failed;
    sym *syms;
    bigram *heap;
    size_t sym_cap, heap_cap, n_heap;
    char *buf;               /* SPM: the escaped text; BPE: a word's byte-level spelling */
    size_t buf_cap;
    range *r0, *r1;          /* BPE: pieces before and after one regex */
    size_t range_cap;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
} enc;

static void push_id(enc *e, int32_t id) {
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *np = realloc(*p, c * elem);
    if (np == NULL) return false;
    *p = np;
    *cap = c;
    return true;
}

static bool bigram_less(const bigram *x, const bigram *y) {
    return x->key < y->key || (x->key == y->key && x->left < y->left);
}

static void heap_push(enc *e, bigram b) {
    size_t i = e->n_heap++;
    S2_ASSERT(i < e->heap_cap);
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_less(&b, &e->heap[p])) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = b;
}

static bigram heap_pop(enc *e) {
    bigram top = e->heap[0], last = e->heap[--e->n_heap];
    size_t i = 0, n = e->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_less(&e->heap[c + 1], &e->heap[c])) c++;
        if (!bigram_less(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n > 0) e->heap[i] = last;
    return top;
}

/* Scratch for n symbols: the symbol list and a heap big enough for every bigram ever pushed (<= 3n). */
static bool reserve_syms(enc *e, size_t n) {
    e->n_heap = 0;
    return grow((void **)&e->syms, &e->sym_cap, n + 1, sizeof *e->syms) &&
           grow((void **)&e->heap, &e->heap_cap, 3 * n + 1, sizeof *e->heap);
}

static void spm_try_bigram(enc *e, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const sym *L = &e->syms[l], *R = &e->syms[r];
    int32_t id = vocab_lookup(e->v, e->buf + L->start, (size_t)(L->n + R->n));
    if (id < 0) return;
    heap_push(e, (bigram){-(double)e->v->scores[id], l, r, L->n + R->n, 0, 0});
}

/* SentencePiece over one run of text (no special tokens in it). */
static void spm_encode(enc *e, const char *t, size_t n) {
    const s2_vocab *v = e->v;
    bool prefix = v->add_space_prefix && e->prev_special;
    size_t m = prefix ? 3 : 0;
    for (size_t i = 0; i < n; i++) m += t[i] == ' ' ? 3 : 1;
    if (!grow((void **)&e->buf, &e->buf_cap, m + 1, 1) || !reserve_syms(e, m)) {
        e->failed = true;
        return;
    }
    char *s = e->buf;
    size_t k = 0;
    if (prefix) memcpy(s, SPACE_MARK, 3), k = 3;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == ' ') memcpy(s + k, SPACE_MARK, 3), k += 3;
        else s[k++] = t[i];
    }
    int32_t ns = 0;
    for (size_t off = 0; off < m;) {
        /* one character; a byte that starts no valid sequence is a symbol of its own (llama.cpp trusts the lead
         * byte, which lets a broken sequence swallow the first bytes of a U+2581 and decode wrong) */
        uint32_t cp;
        int cl = s2_utf8_decode(s + off, m - off, &cp);
        size_t len = cl > 0 ? (size_t)cl : 1;
        e->syms[ns] = (sym){(int32_t)off, (int32_t)len, ns - 1, off + len == m ? -1 : ns + 1, -1};
        off += len;
        ns++;
    }
    for (int32_t i = 1; i < ns; i++) spm_try_bigram(e, i - 1, i);
    while (e->n_heap > 0) {
        bigram b = heap_pop(e);
        sym *L = &e->syms[b.left], *R = &e->syms[b.right];
        if (L->n == 0 || R->n == 0 || L->n + R->n != b.a) continue; /* stale: one side changed since */
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) e->syms[R->next].prev = b.left;
        spm_try_bigram(e, L->prev, b.left);
        spm_try_bigram(e, b.left, L->next);
    }
    for (int32_t i = ns > 0 ? 0 : -1; i != -1; i = e->syms[i].next) {
        const sym *x = &e->syms[i];
        int32_t id = vocab_lookup(v, s + x->start, (size_t)x->n);
        if (id >= 0) {
            push_id(e, id);
            continue;
        }
        for (int32_t j = 0; j < x->n; j++) { /* byte fallback */
            int32_t bid = v->byte_id[(uint8_t)s[x->start + j]];
            if (bid < 0) bid = v->unk;
            if (bid >= 0) push_id(e, bid);
        }
    }
}

static void bpe_try_bigram(enc *e, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const merge_slot *m = merge_find(e->v, e->syms[l].id, e->syms[r].id);
    if (m != NULL) heap_push(e, (bigram){(double)m->rank, l, r, e->syms[l].id, e->syms[r].id, m->result});
}

/* Byte-level BPE over one word (a piece of the pre-tokenizer). */
static void bpe_word(enc *e, const char *t, int32_t n) {
    const s2_vocab *v = e->v;
    if (n <= 0) return;
    if (v->ignore_merges) {
        if (!grow((void **)&e->buf, &e->buf_cap, 2 * (size_t)n, 1)) {
            e->failed = true;
            return;
        }
        size_t k = 0;
        for (int32_t i = 0; i < n; i++) k += (size_t)s2_utf8_encode(s2_byte_to_cp((uint8_t)t[i]), e->buf + k);
        int32_t id = vocab_lookup(v, e->buf, k);
        if (id >= 0) {
            push_id(e, id);
            return;
        }
    }
    if (!reserve_syms(e, (size_t)n)) {
        e->failed = true;
        return;
    }
    for (int32_t i = 0; i < n; i++) e->syms[i] = (sym){i, 1, i - 1, i + 1 == n ? -1 : i + 1, v->byte_id[(uint8_t)t[i]]};
    for (int32_t i = 1; i < n; i++) bpe_try_bigram(e, i - 1, i);
    while (e->n_heap > 0) {
        bigram b = heap_pop(e);
        sym *L = &e->syms[b.left], *R = &e->syms[b.right];
        if (L->n == 0 || R->n == 0 || L->next != b.right || L->id != b.a || R->id != b.b) continue; /* stale */
        L->id = b.c;
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) e->syms[R->next].prev = b.left;
        bpe_try_bigram(e, L->prev, b.left);
        bpe_try_bigram(e, b.left, L->next);
    }
    for (int32_t i = 0; i != -1; i = e->syms[i].next) {
        int32_t id = e->syms[i].id >= 0 ? e->syms[i].id : v->unk; /* a byte with no token: unknown, or dropped */
        if (id >= 0) push_id(e, id);
    }
}

/* Runs regex re over each piece in (in, n_in) of t; writes the matches and the text between them to out. */
static size_t split_pieces(enc *e, const pcre2_code *re, const char *t, const range *in, size_t n_in, range *out) {
    size_t n_out = 0;
    for (size_t p = 0; p < n_in; p++) {
        PCRE2_SPTR subj = (PCRE2_SPTR)(t + in[p].start);
        PCRE2_SIZE len = (PCRE2_SIZE)in[p].len, off = 0, last = 0;
        while (off < len) {
            int rc = pcre2_match(re, subj, len, off, 0, e->md, e->mctx);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT && e->jit == NULL) { /* deep backtracking: a bigger stack */
                e->mctx = pcre2_match_context_create(NULL);
                e->jit = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
                if (e->mctx != NULL && e->jit != NULL) {
                    pcre2_jit_stack_assign(e->mctx, NULL, e->jit);
                    continue;
                }
            }
            if (rc < 0) {
                if (rc != PCRE2_ERROR_NOMATCH) s2_log(1, "tokenize: pcre2_match failed (%d); text left unsplit", rc);
                break;
            }
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
            PCRE2_SIZE ms = ov[0], me = ov[1];
            if (me <= ms || ms < off) { /* an empty match splits nothing: step over one character */
                int cl = s2_utf8_lead_len(subj[off]);
                off += (PCRE2_SIZE)cl < len - off ? (PCRE2_SIZE)cl : len - off;
                continue;
            }
            if (ms > last) out[n_out++] = (range){in[p].start + (int32_t)last, (int32_t)(ms - last)};
            out[n_out++] = (range){in[p].start + (int32_t)ms, (int32_t)(me - ms)};
            last = off = me;
        }
        if (last < len) out[n_out++] = (range){in[p].start + (int32_t)last, (int32_t)(len - last)};
    }
    return n_out;
}

static void bpe_encode(enc *e, const char *t, size_t n) {
    if (n == 0) return;
    if (!grow((void **)&e->r0, &e->range_cap, n + 1, sizeof *e->r0)) {
        e->failed = true;
        return;
    }
    range *r1 = realloc(e->r1, e->range_cap * sizeof *r1);
    if (r1 == NULL) {
        e->failed = true;
        return;
    }
    e->r1 = r1;
    if (e->md == NULL && (e->md = pcre2_match_data_create(32, NULL)) == NULL) {
        e->failed = true;
        return;
    }
    range *a = e->r0, *b = e->r1;
    a[0] = (range){0, (int32_t)n};
    size_t na = 1;
    for (int32_t i = 0; i < e->v->n_re; i++) {
        size_t nb = split_pieces(e, e->v->re[i], t, a, na, b);
        range *sw = a;
        a = b, b = sw, na = nb;
    }
    for (size_t i = 0; i < na && !e->failed; i++) bpe_word(e, t + a[i].start, a[i].len);
}

static void encode_raw(enc *e, const char *t, size_t n) {
    if (n == 0) return;
    if (e->v->kind == S2_VOCAB_SPM) spm_encode(e, t, n);
    else bpe_encode(e, t, n);
    e->prev_special = false;
}

/* Cuts the special tokens out of t[0..n), longest first, and encodes the runs between them. */
static void encode_text(enc *e, const char *t, size_t n) {
    const s2_vocab *v = e->v;
    bool present[256] = {false};
    for (size_t i = 0; i < n; i++) present[(uint8_t)t[i]] = true;
    typedef struct item { size_t start, end; int32_t k; } item; /* k < 0: emit special token -k-1 */
    item *stack = NULL;
    size_t sp = 0, scap = 0;
    if (!grow((void **)&stack, &scap, 16, sizeof *stack)) {
        e->failed = true;
        return;
    }
    stack[sp++] = (item){0, n, 0};
    while (sp > 0 && !e->failed) {
        item it = stack[--sp];
        if (it.k < 0) {
            push_id(e, -it.k - 1);
            e->prev_special = true;
            continue;
        }
        const char *hit = NULL;
        int32_t k = it.k;
        for (; it.start < it.end && k < v->n_special; k++) {
            int32_t id = v->special[k];
            if (!e->parse_special && v->type[id] != S2_TOKEN_USER_DEFINED) continue;
            const char *s = tok_text(v, id);
            if (!present[(uint8_t)s[0]] || v->len[id] > it.end - it.start) continue;
            hit = memmem(t + it.start, it.end - it.start, s, v->len[id]);
            if (hit != NULL) break;
        }
        if (hit == NULL) {
            encode_raw(e, t + it.start, it.end - it.start);
            continue;
        }
        /* LIFO: the text before the hit (with the shorter tokens), the token, then the rest (same token on) */
        size_t at = (size_t)(hit - t), end = at + v->len[v->special[k]];
        if (!grow((void **)&stack, &scap, sp + 3, sizeof *stack)) {
            e->failed = true;
            break;
        }
        if (end < it.end) stack[sp++] = (item){end, it.end, k};
        stack[sp++] = (item){0, 0, -v->special[k] - 1};
        if (at > it.start) stack[sp++] = (item){it.start, at, k + 1};
    }
    free(stack);
}

int32_t s2_tokenize(const s2_vocab *v, const char *text, size_t len, bool add_bos, bool parse_special,
                    int32_t *ids, int32_t cap) {
    enc e = {.v = v, .ids = ids, .cap = (ids != NULL && cap > 0) ? cap : 0, .parse_special = parse_special,
             .prev_special = true};
    if (text == NULL) len = 0;
    if (len > (size_t)INT32_MAX / 4) {
        s2_log(0, "tokenize: %zu bytes is more than this tokenizer takes at once", len);
        return 0;
    }
    if (add_bos && v->add_bos && v->bos >= 0) push_id(&e, v->bos);
    if (len > 0) encode_text(&e, text, len);
    free(e.syms);
    free(e.heap);
    free(e.buf);
    free(e.r0);
    free(e.r1);
    pcre2_match_data_free(e.md);
    pcre2_match_context_free(e.mctx);
    pcre2_jit_stack_free(e.jit);
    if (e.failed) {
        s2_log(0, "tokenize: out of memory for %zu bytes of text", len);
        return 0;
    }
    if (e.n > INT32_MAX) e.n = INT32_MAX;
    return e.n <= e.cap ? (int32_t)e.n : -(int32_t)e.n;
}

/* ---- decoding ---- */

typedef struct sout {
    char *buf;
    size_t cap, n;     /* bytes written: min(n, cap); n counts them all */
    bool strip_space;  /* drop the next byte if it is a space (the space SentencePiece prefixed) */
} sout;

static void put(sout *o, const char *s, size_t n) {
    if (n == 0) return;
    if (o->strip_space) {
        o->strip_space = false;
        if (s[0] == ' ') s++, n--;
    }
    if (o->n < o->cap) memcpy(o->buf + o->n, s, n < o->cap - o->n ? n : o->cap - o->n);
    o->n += n;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10; /* is_byte_piece checked the digit */
}

static void emit_piece(const s2_vocab *v, int32_t id, bool show_special, sout *o) {
    if (id < 0 || id >= v->n_tokens) return;
    const char *s = tok_text(v, id);
    size_t n = v->len[id];
    switch ((s2_token_type)v->type[id]) {
    case S2_TOKEN_CONTROL:
    case S2_TOKEN_UNKNOWN:
        if (show_special) { /* shown, but it does not take the place of the first piece */
            bool keep = o->strip_space;
            o->strip_space = false;
            put(o, s, n);
            o->strip_space = keep;
        }
        return;
    case S2_TOKEN_UNUSED:
        return;
    case S2_TOKEN_USER_DEFINED:
        put(o, s, n);
        return;
    case S2_TOKEN_BYTE:
        if (is_byte_piece(s, n)) {
            char b = (char)(hexval(s[3]) * 16 + hexval(s[4]));
            put(o, &b, 1);
        } else {
            put(o, s, n);
        }
        return;
    default:
        break;
    }
    if (v->kind == S2_VOCAB_SPM) { /* U+2581 -> ' ' */
        size_t from = 0;
        for (size_t i = 0; i + 3 <= n;) {
            if (memcmp(s + i, SPACE_MARK, 3) == 0) {
                put(o, s + from, i - from);
                put(o, " ", 1);
                i += 3, from = i;
            } else {
                i++;
            }
        }
        put(o, s + from, n - from);
        return;
    }
    char tmp[64]; /* byte-level code points -> bytes, flushed in chunks */
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int cl = s2_utf8_decode(s + i, n - i, &cp);
        int b = cl > 0 ? s2_cp_to_byte(cp) : -1;
        if (k + 4 > sizeof tmp) put(o, tmp, k), k = 0;
        if (b >= 0) {
            tmp[k++] = (char)b;
            i += (size_t)cl;
        } else { /* not in the byte alphabet: the text as it is */
            size_t m = cl > 0 ? (size_t)cl : 1;
            memcpy(tmp + k, s + i, m);
            k += m, i += m;
        }
    }
    put(o, tmp, k);
}

int32_t s2_token_to_piece(const s2_vocab *v, int32_t id, bool show_special, char *buf, int32_t cap) {
    sout o = {.buf = buf, .cap = (buf != NULL && cap > 0) ? (size_t)cap : 0};
    emit_piece(v, id, show_special, &o);
    if (o.n > INT32_MAX) o.n = INT32_MAX;
    return o.n <= o.cap ? (int32_t)o.n : -(int32_t)o.n;
}

int32_t s2_detokenize(const s2_vocab *v, const int32_t *ids, int32_t n, bool show_special, char *buf,
                      int32_t cap) {
    /* cap bytes of text plus the NUL: buf holds cap + 1 bytes */
    size_t room = (buf != NULL && cap > 0) ? (size_t)cap : 0;
    sout o = {.buf = buf, .cap = room, .strip_space = v->kind == S2_VOCAB_SPM && v->add_space_prefix};
    for (int32_t i = 0; i < n; i++) emit_piece(v, ids[i], show_special, &o);
    if (buf != NULL && cap >= 0) buf[o.n < room ? o.n : room] = '\0';
    if (o.n > INT32_MAX) o.n = INT32_MAX;
    return o.n <= room ? (int32_t)o.n : -(int32_t)o.n;
}

int32_t *s2_tokenize_alloc(const s2_vocab *v, const char *text, size_t len, bool add_bos, bool parse_special,
                           int32_t *n) {
    int32_t cap = len + 8 < (size_t)INT32_MAX ? (int32_t)len + 8 : INT32_MAX;
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    if (ids == NULL) return NULL;
    int32_t got = s2_tokenize(v, text, len, add_bos, parse_special, ids, cap);
    if (got < 0) { /* more tokens than bytes + 8: cannot happen with these tokenizers, but the API allows it */
        int32_t *more = realloc(ids, (size_t)(-got) * sizeof(int32_t));
        if (more == NULL) {
            free(ids);
            return NULL;
        }
        ids = more;
        got = s2_tokenize(v, text, len, add_bos, parse_special, ids, -got);
    }
    *n = got;
    return ids;
}
