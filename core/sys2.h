/* sys2.h: the public API of system 1, the engine under sys2's search.
 *
 * Opaque handles, params structs with defaults, status codes plus a caller-owned error message.
 * Library code never prints or exits: every failure comes back as an s2_status with err->msg saying what and
 * where. Unless a comment says otherwise, a handle may be used by one thread at a time; an s2_model is
 * read-only after load and may be shared by any number of contexts and threads.
 *
 * This header compiles alone as C99 (tests/test_header_c.c checks it). */
#ifndef SYS2_H
#define SYS2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ---- */

typedef enum s2_status {
    S2_OK = 0,
    S2_E_IO = -1,          /* a file could not be opened, read, written or mapped */
    S2_E_FORMAT = -2,      /* malformed input: a corrupt model file, a bad dataset line */
    S2_E_NOMEM = -3,       /* an allocation failed, or a memory limit (KV cache) was reached */
    S2_E_ARG = -4,         /* the caller broke a documented precondition */
    S2_E_UNSUPPORTED = -5, /* well-formed but not handled: tensor type, architecture, server feature */
    S2_E_BUDGET = -6,      /* context, node or token budget exhausted */
    S2_E_NET = -7,         /* an HTTP peer failed or answered nonsense */
    S2_E_INTERRUPTED = -8  /* stopped by a signal or a callback */
} s2_status;

typedef struct s2_error {
    s2_status code;
    char msg[256];
} s2_error;

/* A static string naming st ("format error", ...). */
const char *s2_status_str(s2_status st);

/* Fills err (may be NULL) with code and a printf-style message; returns code, so that
 * `return s2_error_set(err, S2_E_IO, "%s: %s", path, strerror(errno));` reads as one line. */
s2_status s2_error_set(s2_error *err, s2_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Text taken from a file (a tensor name, a key, an architecture) made safe to print: valid UTF-8 is copied,
 * a backslash becomes two, and control bytes, DEL and bytes that are not valid UTF-8 become \xNN, so a hostile
 * file cannot write escape sequences to a terminal. Writes at most cap - 1 bytes and a NUL to dst (cap >= 1;
 * a cut never splits an escape, and a cut string ends in "..."); src holds n bytes (it may hold NULs).
 * Returns dst, so that it can stand in a printf argument list. */
char *s2_escape(char *dst, size_t cap, const char *src, size_t n);

/* Prefixes err->msg with "prefix: " (for context added by a caller). Returns err->code. */
s2_status s2_error_prefix(s2_error *err, const char *prefix);

/* Logging is silent unless a callback is installed. level: 0 error, 1 warning, 2 info, 3 debug. */
typedef void (*s2_log_fn)(int level, const char *msg, void *user);
void s2_log_set(s2_log_fn fn, void *user);
void s2_log(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Broken invariants of our own code (never bad input): abort with file:line, on in release builds too. */
void s2_assert_fail(const char *expr, const char *file, int line);
#define S2_ASSERT(x) ((x) ? (void)0 : s2_assert_fail(#x, __FILE__, __LINE__))

/* ---- vocabulary and tokenizer ---- */

typedef struct s2_vocab s2_vocab; /* owned by its model, or by whoever built it standalone */

/* Token attributes as GGUF's tokenizer.ggml.token_type stores them. */
typedef enum s2_token_type {
    S2_TOKEN_UNDEFINED = 0, S2_TOKEN_NORMAL = 1, S2_TOKEN_UNKNOWN = 2, S2_TOKEN_CONTROL = 3,
    S2_TOKEN_USER_DEFINED = 4, S2_TOKEN_UNUSED = 5, S2_TOKEN_BYTE = 6
} s2_token_type;

/* Encodes text (len bytes; need not be NUL-terminated) into at most cap ids. add_bos prepends BOS where the
 * vocabulary has one and says to add it; parse_special turns the text of control tokens ("<s>", "<|im_end|>")
 * into their ids. Returns the count, or -(count needed) when cap is too small (then ids holds a prefix). */
int32_t s2_tokenize(const s2_vocab *v, const char *text, size_t len, bool add_bos, bool parse_special,
                    int32_t *ids, int32_t cap);

/* s2_tokenize into a malloc'd array sized to fit; *n gets the count. NULL when out of memory. */
int32_t *s2_tokenize_alloc(const s2_vocab *v, const char *text, size_t len, bool add_bos, bool parse_special,
                           int32_t *n);

/* The bytes token id stands for (SentencePiece's U+2581 as a space, <0xNN> as that byte, byte-level BPE's
 * code points as their bytes); control tokens give their text only when show_special. Writes at most cap bytes
 * (no NUL); returns the length, or -(length needed). */
int32_t s2_token_to_piece(const s2_vocab *v, int32_t id, bool show_special, char *buf, int32_t cap);

/* Decodes n ids to text: pieces concatenated, control tokens dropped unless show_special, and the leading
 * space of the first piece removed where the tokenizer added one (SentencePiece's add_space_prefix).
 * Writes at most cap bytes plus a NUL (buf holds cap + 1 bytes); returns the length, or -(length needed,
 * without the NUL). */
int32_t s2_detokenize(const s2_vocab *v, const int32_t *ids, int32_t n, bool show_special, char *buf,
                      int32_t cap);

int32_t s2_vocab_n_tokens(const s2_vocab *v);
int32_t s2_vocab_bos(const s2_vocab *v);      /* -1 when none */
int32_t s2_vocab_eos(const s2_vocab *v);      /* -1 when none */
bool s2_vocab_is_eog(const s2_vocab *v, int32_t id); /* end of generation: EOS, EOT, <|im_end|> ... */
const char *s2_vocab_text(const s2_vocab *v, int32_t id); /* raw vocabulary string; borrowed; NULL if out of range */
s2_token_type s2_vocab_type(const s2_vocab *v, int32_t id);

/* ---- model ---- */

typedef struct s2_model s2_model; /* weights + vocab, read-only after load, shareable across threads */

typedef struct s2_model_params {
    bool use_mmap;           /* map tensors read-only from the file (default true) */
    bool vocab_only;         /* load only the tokenizer: tensors are neither needed nor checked */
    const char *tokenizer;   /* llama2.c checkpoints: path of the tok*.bin; NULL for GGUF */
    bool pack_rows;          /* copy the weights of types with a packed layout (Q4_0) into it at load time, rows
                                interleaved eight at a time, for the dot-product kernels (default true; costs their
                                size again in memory; the mapped file is untouched) */
} s2_model_params;
s2_model_params s2_model_default_params(void);

/* Loads a GGUF file, or a llama2.c checkpoint (.bin, with params->tokenizer). On success *out owns a model,
 * freed with s2_model_free(); on failure *out is NULL and err says why (S2_E_IO, S2_E_FORMAT naming the key or
 * tensor, S2_E_UNSUPPORTED naming the architecture or type). params may be NULL for defaults. */
s2_status s2_model_load(const char *path, const s2_model_params *params, s2_model **out, s2_error *err);
void s2_model_free(s2_model *m); /* NULL is a no-op */

typedef struct s2_hparams {
    char arch[32];          /* "llama", "qwen2" */
    int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim;
    float rms_eps;          /* from metadata, never a literal */
    float rope_base;        /* rope.freq_base */
    float rope_scale;       /* linear scaling factor (positions are divided by it); 1 = none */
    bool tied_output;       /* no output.weight: logits use the token embedding */
    bool qkv_bias;          /* qwen2 */
} s2_hparams;

const s2_hparams *s2_model_hparams(const s2_model *m); /* borrowed, valid as long as m */
const s2_vocab *s2_model_vocab(const s2_model *m);     /* borrowed, valid as long as m */
int64_t s2_model_n_params(const s2_model *m);          /* parameters counted from the tensor shapes */
int64_t s2_model_weight_bytes(const s2_model *m);      /* bytes of all tensors as stored */
int64_t s2_model_packed_bytes(const s2_model *m);      /* bytes of the packed copies (pack_rows), 0 if none */

/* ---- context: paged KV cache, sequences, batched forward ---- */

typedef struct s2_ctx s2_ctx; /* KV cache + activations + counters; one thread at a time */

/* Element type of the KV cache: F16 halves the memory per branch but rounds K and V to 11 bits (README). */
typedef enum s2_kv_type { S2_KV_F32 = 0, S2_KV_F16 = 1 } s2_kv_type;
const char *s2_kv_type_name(s2_kv_type t);                  /* "f32", "f16"; NULL for another value */
bool s2_kv_type_parse(const char *name, s2_kv_type *out);   /* "f32" / "f16"; false for anything else */

typedef struct s2_ctx_params {
    int32_t n_ctx;          /* longest sequence, in tokens; 0 = the model's context length */
    int32_t n_threads;      /* threads for our kernels and OpenBLAS; 0 = leave the defaults */
    int32_t n_batch;        /* most rows in one forward (0 = 512); longer inputs are split */
    int32_t block_size;     /* tokens per KV block (0 = 16) */
    int64_t kv_max_bytes;   /* KV memory limit (0 = enough for 4 sequences of n_ctx) */
    bool prefix_cache;      /* reuse cached blocks for prompts that begin with cached tokens (default true) */
    s2_kv_type kv_type;     /* K and V elements (default S2_KV_F32: F16 misses the 1e-4 reference tolerances) */
} s2_ctx_params;
s2_ctx_params s2_ctx_default_params(void);
/* KV bytes one token takes in every layer (K and V) with elements of type t: size kv_max_bytes with it. */
int64_t s2_model_kv_bytes_per_token(const s2_model *m, s2_kv_type t);

/* On success *out owns a context on m (m must outlive it). */
s2_status s2_ctx_init(const s2_model *m, const s2_ctx_params *params, s2_ctx **out, s2_error *err);
void s2_ctx_free(s2_ctx *ctx); /* NULL is a no-op */

/* The compute spent in a context: read with s2_ctx_counters, difference two reads to cost a piece of work. */
typedef struct s2_counters {
    int64_t prompt_tokens;    /* tokens computed by the forward pass for prompts or appended text */
    int64_t cached_tokens;    /* prompt tokens taken from the prefix cache instead of computed */
    int64_t gen_tokens;       /* tokens sampled */
    int64_t scored_tokens;    /* tokens whose log-prob was read under teacher forcing */
    int64_t forward_calls;    /* forward passes (one per batch of rows) */
    int64_t forward_rows;     /* rows (token positions) through the forward pass */
    double flops;             /* 2 * n_params_matmul per row + attention: 4 * n_layer * n_head * head_dim * n_kv */
    int64_t ns;               /* wall time inside system 1 */
    int64_t requests;         /* calls into system 1 (HTTP requests for remote backends) */
    int64_t server_cached_tokens; /* remote only: prompt tokens the server reported reusing beyond what the search
                                   * had itself sent on that sequence (its cache across requests and items): the
                                   * server's saving, in none of the counts above */
} s2_counters;
void s2_ctx_counters(const s2_ctx *ctx, s2_counters *out);
void s2_counters_sub(s2_counters *out, const s2_counters *a, const s2_counters *b); /* out = a - b */
void s2_counters_add(s2_counters *acc, const s2_counters *x);                      /* acc += x */

typedef int32_t s2_seq; /* a sequence handle, valid until s2_seq_free */

/* A new, empty sequence. S2_E_NOMEM when the table of sequences is full. */
s2_status s2_seq_new(s2_ctx *ctx, s2_seq *out, s2_error *err);
/* A new sequence sharing every KV entry of src: copies the block table, bumps reference counts. */
s2_status s2_seq_fork(s2_ctx *ctx, s2_seq src, s2_seq *out, s2_error *err);
void s2_seq_free(s2_ctx *ctx, s2_seq seq);          /* frees only the blocks no one else holds */
int32_t s2_seq_len(const s2_ctx *ctx, s2_seq seq);  /* tokens in the cache; -1 for a bad handle */
const int32_t *s2_seq_tokens(const s2_ctx *ctx, s2_seq seq); /* borrowed, until the sequence changes */

/* One forward over rows: row r appends tokens[r] to seqs[r] at that sequence's next position (rows of one
 * sequence in order). Rows with want[r] (want may be NULL: only each sequence's last row) get logits, read
 * with s2_ctx_logits in the order of those rows. Inputs longer than n_batch are split. A sequence that would
 * pass n_ctx is S2_E_BUDGET, an exhausted KV limit S2_E_NOMEM; either way no sequence changes. */
s2_status s2_ctx_decode(s2_ctx *ctx, const s2_seq *seqs, const int32_t *tokens, const bool *want, int32_t n,
                        s2_error *err);
/* Logits of the i-th wanted row of the last decode: n_vocab floats, borrowed until the next call on ctx. */
const float *s2_ctx_logits(const s2_ctx *ctx, int32_t i);
int32_t s2_ctx_n_logits(const s2_ctx *ctx);

/* Appends a prompt, taking what it can from the prefix cache: the sequence must be empty; the tokens already
 * cached are linked, the rest computed. Logits for the last token are left as row 0 of s2_ctx_logits.
 * *n_cached (may be NULL) gets how many tokens were reused. */
s2_status s2_seq_prefill(s2_ctx *ctx, s2_seq seq, const int32_t *tokens, int32_t n, int32_t *n_cached,
                         s2_error *err);

/* KV memory: blocks in use (referenced by a sequence), cached (held only by the prefix cache), total. */
typedef struct s2_kv_stats {
    int64_t blocks_used, blocks_cached, blocks_total, bytes_per_block;
    int32_t block_size, n_seqs;
    s2_kv_type kv_type;
} s2_kv_stats;
void s2_ctx_kv_stats(const s2_ctx *ctx, s2_kv_stats *out);

/* ---- sampling ---- */

typedef struct s2_rng { uint64_t s[4]; } s2_rng; /* xoshiro256**, seeded by splitmix64 */
void s2_rng_seed(s2_rng *r, uint64_t seed);
uint64_t s2_rng_next(s2_rng *r);
double s2_rng_uniform(s2_rng *r); /* [0, 1) with 53 random bits */

typedef struct s2_sample_params {
    float temperature;      /* 0 = greedy (argmax, lowest id wins ties) */
    int32_t top_k;          /* 0 = off */
    float top_p;            /* 1 = off */
    float min_p;            /* 0 = off */
} s2_sample_params;
s2_sample_params s2_sample_default_params(void); /* temperature 1, no truncation */

/* Samples one token from logits (n floats) with p, drawing from rng. *logprob (may be NULL) gets the token's
 * log-probability under the model's distribution (temperature 1, no truncation): the number search scores.
 * scratch must hold 2*n floats + n ints (s2_sample_scratch_bytes). */
int32_t s2_sample(const float *logits, int32_t n, const s2_sample_params *p, s2_rng *rng, void *scratch,
                  float *logprob);
size_t s2_sample_scratch_bytes(int32_t n);
/* log-sum-exp of n logits, and the log-softmax of one of them. */
float s2_logsumexp(const float *logits, int32_t n);


/* ---- system 1 for search: the language-model interface ----
 *
 * Search sees system 1 only through s2_lm: text-level sequences that fork and share their prefix, teacher-forced
 * log-probs, label log-probs, and batched sampling until a stop string. Behind it: the local engine
 * (s2_lm_local_init), the HTTP backend, or the scripted fake of the tests. Every implementation keeps the compute
 * counters itself (s2_lm_counters): callers never count. One thread at a time per s2_lm; for parallel items give
 * each thread its own s2_lm (local ones may share one s2_model). */

typedef struct s2_lm s2_lm;
typedef struct s2_lm_caps s2_lm_caps; /* below */
typedef struct s2_lm_tokens s2_lm_tokens;       /* below */
typedef struct s2_lm_prompt_lp s2_lm_prompt_lp; /* below */
typedef int32_t s2_lm_seq; /* a sequence of an s2_lm, valid until s2_lm_seq_free */

typedef struct s2_lm_sample_params {
    s2_sample_params sample;
    int32_t max_tokens;          /* new tokens at most per sequence */
    const char *const *stops;    /* borrowed; generation stops after the first stop string (kept in the text) */
    int32_t n_stops;
    uint64_t seed;               /* sequence i of a call draws from an RNG seeded by (seed, i) */
} s2_lm_sample_params;
s2_lm_sample_params s2_lm_sample_default_params(void);

typedef struct s2_lm_gen {
    char *text;                  /* malloc'd new text, ending with the stop string when one was hit */
    int32_t *tokens;             /* malloc'd (n_tokens) */
    float *logprobs;             /* malloc'd (n_tokens): each token's log-probability at temperature 1 */
    int32_t n_tokens;
    double logprob;              /* their sum */
    const char *finish;          /* static: "stop", "eos" or "length" */
} s2_lm_gen;
void s2_lm_gen_free(s2_lm_gen *g); /* frees the members; g itself is the caller's */

typedef struct s2_lm_top {
    int32_t id;
    float logprob;
    char piece[48];              /* the token's text, NUL-terminated, cut if longer */
} s2_lm_top;

/* Token ids of a text with their pieces (s2_lm_tokenize). */
struct s2_lm_tokens {
    int32_t *ids;                /* malloc'd (n) */
    char *bytes;                 /* malloc'd: the pieces one after another (they may hold any byte), or NULL when
                                  * the backend gives no pieces */
    int32_t *piece_off;          /* malloc'd (n + 1): piece i is bytes[piece_off[i] .. piece_off[i + 1]); NULL
                                  * with bytes */
    int32_t n;
};
void s2_lm_tokens_free(s2_lm_tokens *t); /* frees the members; t itself is the caller's */

/* Log-probs at every position of a prompt (s2_lm_prompt_logprobs): what a server that echoes the prompt with top
 * log-probs gives, in place of logits (which no HTTP API returns). */
struct s2_lm_prompt_lp {
    int32_t n;                   /* positions (prompt tokens) */
    int32_t *ids;                /* malloc'd (n): the input token at each position (-1 where the server names none) */
    int32_t k;                   /* entries per position at most */
    int32_t *n_top;              /* malloc'd (n): entries at each position */
    s2_lm_top *top;              /* malloc'd (n * k): row i holds log p(next token | tokens 0..i), best first
                                  * (s2_lm_top order; id -1 where the server names none) */
};
void s2_lm_prompt_lp_free(s2_lm_prompt_lp *p); /* frees the members; p itself is the caller's */

struct s2_lm_i {
    const char *name;                                                                        /* required */
    /* a new sequence holding text's tokens (with BOS); a cached prefix is reused, not recomputed */
    s2_status (*seq_new)(s2_lm *lm, const char *text, s2_lm_seq *out, s2_error *err);        /* required */
    /* a new sequence sharing every token of src (no compute, no copy of the cache) */
    s2_status (*fork)(s2_lm *lm, s2_lm_seq src, s2_lm_seq *out, s2_error *err);              /* required */
    s2_status (*append)(s2_lm *lm, s2_lm_seq seq, const char *text, s2_error *err);          /* required */
    void (*seq_free)(s2_lm *lm, s2_lm_seq seq);                                              /* required */
    /* log-probs of cont's tokens after seq (teacher forcing; seq unchanged): per token into per_token (cap
     * entries, may be NULL), count into *n, sum into *sum */
    s2_status (*score)(s2_lm *lm, s2_lm_seq seq, const char *cont, float *per_token, int32_t cap, int32_t *n,
                       double *sum, s2_error *err);                                          /* required */
    /* the summed log-prob of each of n candidate strings after seq (seq unchanged) */
    s2_status (*score_labels)(s2_lm *lm, s2_lm_seq seq, const char *const *labels, int32_t n, double *out,
                              s2_error *err);                                                /* required */
    /* may be NULL (then the wrapper does seq_new + score_labels + seq_free per text): the summed log-prob of each
     * of n_labels labels after each of n new texts (as seq_new would make them, prefix cache included) into
     * out[i * n_labels + c]; no sequence outlives the call */
    s2_status (*score_labels_many)(s2_lm *lm, const char *const *texts, int32_t n, const char *const *labels,
                                   int32_t n_labels, double *out, s2_error *err);
    /* the k most likely next tokens after seq, best first; returns the count or -status */
    int32_t (*top_k)(s2_lm *lm, s2_lm_seq seq, int32_t k, s2_lm_top *out, s2_error *err);  /* required */
    /* samples a continuation for each of n sequences at once, extending each in place; out (n) are filled */
    s2_status (*sample)(s2_lm *lm, const s2_lm_seq *seqs, int32_t n, const s2_lm_sample_params *p, s2_lm_gen *out,
                        s2_error *err);                                                      /* required */
    void (*counters)(const s2_lm *lm, s2_counters *out);                                     /* required */
    void (*free)(s2_lm *lm);                                                                 /* may be NULL */
    /* what this system 1 can do (may contact a server once); NULL: everything, as the local engine */
    s2_status (*caps)(s2_lm *lm, s2_lm_caps *out, s2_error *err);                           /* may be NULL */
    /* may be NULL (the local engine: its model's vocabulary is at hand, s2_lm_local_model): len bytes of text as
     * the backend's own tokenizer splits them (a server's tokenize endpoint), into *out */
    s2_status (*tokenize)(s2_lm *lm, const char *text, size_t len, bool add_bos, bool parse_special,
                          s2_lm_tokens *out, s2_error *err);
    /* may be NULL (the local engine: its logits are at hand): the log-softmax at every position of a prompt, given
     * as n_ids token ids (ids non-NULL) or as text (the backend tokenizes it, with BOS), top k per position (k 0:
     * the full vocabulary), into *out */
    s2_status (*prompt_logprobs)(s2_lm *lm, const int32_t *ids, int32_t n_ids, const char *text, int32_t k,
                                 s2_lm_prompt_lp *out, s2_error *err);
};

struct s2_lm {
    const struct s2_lm_i *iface;
    void *ctx;
};

/* The local engine as an s2_lm: a context on m (which must outlive the lm) with params cp (NULL = defaults). */
s2_status s2_lm_local_init(const s2_model *m, const s2_ctx_params *cp, s2_lm **out, s2_error *err);
/* Opens system 1 from a model spec, as every command's -m flag: a path (GGUF, or llama2.c .bin with
 * o->tokenizer) loads the local engine; an http:// or https:// URL (".../v1") opens the HTTP backend
 * (o->model_name names the served model; the API key comes from the environment variable SYS2_API_KEY).
 * *out owns everything it opened (the model too): s2_lm_free releases it all. */
typedef struct s2_lm_open_params {
    const char *tokenizer;      /* llama2.c checkpoints */
    const char *model_name;     /* HTTP: the "model" field of requests */
    s2_ctx_params ctx;          /* local engine: context parameters */
    int32_t max_in_flight;      /* HTTP: concurrent requests (0 = 16) */
    double timeout_s;           /* HTTP: per request, seconds (0 = 25) */
    int32_t retries;            /* HTTP: tries after the first for retryable failures (-1 = 3) */
    const char *server;         /* HTTP: the server's profile: "llama", "vllm", "sglang", "openai", "sys2" or
                                 * NULL / "auto" (found out from the server before the first call) */
} s2_lm_open_params;
s2_lm_open_params s2_lm_open_default_params(void);
s2_status s2_lm_open(const char *spec, const s2_lm_open_params *p, s2_lm **out, s2_error *err);
/* The model behind a local lm (NULL for remote backends). Borrowed. */
const s2_model *s2_lm_local_model(s2_lm *lm);

/* Local engine: from now on, text given to seq_new / append / score is tokenized with the text of control tokens
 * ("<|im_start|>", "<|eot_id|>") parsed into those tokens and without an added BOS, as apply_chat_template(...,
 * tokenize=True) does with a rendered chat (the template writes BOS itself where the model wants it). Set it before
 * making sequences. Other backends: no effect (servers parse special tokens in prompts themselves). */
void s2_lm_set_parse_special(s2_lm *lm, bool on);

/* The local engine's context (NULL for other backends): for KV statistics and tests. Borrowed. */
s2_ctx *s2_lm_local_ctx(s2_lm *lm);
void s2_lm_free(s2_lm *lm); /* NULL is a no-op */

/* Wrappers (each checks its arguments, then calls the implementation). */
s2_status s2_lm_seq_new(s2_lm *lm, const char *text, s2_lm_seq *out, s2_error *err);
s2_status s2_lm_fork(s2_lm *lm, s2_lm_seq src, s2_lm_seq *out, s2_error *err);
s2_status s2_lm_append(s2_lm *lm, s2_lm_seq seq, const char *text, s2_error *err);
void s2_lm_seq_free(s2_lm *lm, s2_lm_seq seq);
s2_status s2_lm_score(s2_lm *lm, s2_lm_seq seq, const char *cont, float *per_token, int32_t cap, int32_t *n,
                      double *sum, s2_error *err);
s2_status s2_lm_score_labels(s2_lm *lm, s2_lm_seq seq, const char *const *labels, int32_t n, double *out,
                             s2_error *err);
/* Labels after many texts at once (the value and self-evaluation scorers of a whole tree level): out gets
 * n * n_labels sums, text by text. The local engine batches it (a shared prefix once, every text in one forward,
 * every label in one more); other backends do each text in turn. A text given twice is computed once. */
s2_status s2_lm_score_labels_many(s2_lm *lm, const char *const *texts, int32_t n, const char *const *labels,
                                  int32_t n_labels, double *out, s2_error *err);
int32_t s2_lm_top_k(s2_lm *lm, s2_lm_seq seq, int32_t k, s2_lm_top *out, s2_error *err);
/* The backend's own tokenizer (a server's tokenize endpoint; see struct s2_lm_i): S2_E_UNSUPPORTED where the backend
 * has none (the local engine: use s2_lm_local_model's vocabulary; an OpenAI server). On success *out owns arrays
 * (s2_lm_tokens_free); on failure it is empty. */
s2_status s2_lm_tokenize(s2_lm *lm, const char *text, size_t len, bool add_bos, bool parse_special, s2_lm_tokens *out,
                         s2_error *err);
/* The log-softmax at every position of a prompt, top k (0: the full vocabulary), from a server that echoes prompt
 * log-probs (see struct s2_lm_i): S2_E_UNSUPPORTED where the backend cannot (the local engine: use its logits; a
 * server without echo, or with fewer log-probs per position than k). *out as s2_lm_tokenize's. */
s2_status s2_lm_prompt_logprobs(s2_lm *lm, const int32_t *ids, int32_t n_ids, const char *text, int32_t k,
                                s2_lm_prompt_lp *out, s2_error *err);
s2_status s2_lm_sample(s2_lm *lm, const s2_lm_seq *seqs, int32_t n, const s2_lm_sample_params *p, s2_lm_gen *out,
                       s2_error *err);
/* n samples from one sequence: forks seq n times into out_seqs (owned by the caller) and samples each. */
s2_status s2_lm_sample_n(s2_lm *lm, s2_lm_seq seq, int32_t n, const s2_lm_sample_params *p, s2_lm_seq *out_seqs,
                         s2_lm_gen *out, s2_error *err);
void s2_lm_counters(const s2_lm *lm, s2_counters *out);

/* What a system 1 can do, asked before the first item so that a search that needs more is refused up front. */
struct s2_lm_caps {
    char server[48];             /* "local", "sys2 serve", "llama-server", "vLLM", "SGLang", "OpenAI", "unknown" */
    bool prompt_logprobs;        /* s2_lm_score / s2_lm_score_labels work (teacher forcing; echo remotely) */
    bool token_logprobs;         /* sampled tokens come with their log-probs */
    bool counts_estimated;       /* cached prompt tokens are estimated, not reported by the server */
    char why[200];               /* when !prompt_logprobs: the server's name and the reason */
    bool tokenizer;              /* s2_lm_tokenize works (the local engine: through its model instead) */
    int32_t max_top;             /* s2_lm_prompt_logprobs: entries per position at most; 0 = the full vocabulary */
};
/* Fills out (everything true for backends without the query). S2_E_NET etc. when the server cannot be asked. */
s2_status s2_lm_caps_get(s2_lm *lm, s2_lm_caps *out, s2_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SYS2_H */
