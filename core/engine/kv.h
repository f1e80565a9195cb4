/* kv.h: the paged KV cache (internal). Sequences are block tables over a pool of fixed-size blocks; blocks are
 * reference-counted, so a fork shares every block of its parent and the first write into a shared partial block
 * copies it. Full blocks are hashed by their whole prefix (chain hash of all tokens up to their end) and kept in
 * a prefix cache: a new sequence whose prompt starts with cached blocks links them instead of computing them.
 * Blocks no sequence holds but the prefix cache knows stay until memory is needed (then LRU eviction). */
#ifndef S2_KV_H
#define S2_KV_H

#include "sys2.h"

typedef struct s2_kv s2_kv;

typedef struct s2_kv_params {
    int32_t n_layer, kv_dim, block_size, n_ctx;
    int64_t n_blocks;
    bool prefix_cache;
    s2_kv_type kv_type;      /* element type of the K and V rows */
} s2_kv_params;

s2_status s2_kv_init(const s2_kv_params *p, s2_kv **out, s2_error *err);
void s2_kv_free(s2_kv *kv);

s2_status s2_kv_seq_new(s2_kv *kv, s2_seq *out, s2_error *err);
s2_status s2_kv_seq_fork(s2_kv *kv, s2_seq src, s2_seq *out, s2_error *err);
void s2_kv_seq_free(s2_kv *kv, s2_seq seq);
void s2_kv_seq_clear(s2_kv *kv, s2_seq seq); /* releases its blocks; the sequence stays live and empty */
bool s2_kv_seq_valid(const s2_kv *kv, s2_seq seq);
int32_t s2_kv_seq_len(const s2_kv *kv, s2_seq seq);
const int32_t *s2_kv_seq_tokens(const s2_kv *kv, s2_seq seq);

/* Makes room for n rows (seqs[r] gets one more token per row, in order): checks n_ctx (S2_E_BUDGET), then
 * copies shared partial blocks and allocates new ones, evicting cached blocks as needed (S2_E_NOMEM when the
 * pool is full). On error nothing has changed. */
s2_status s2_kv_reserve(s2_kv *kv, const s2_seq *seqs, int32_t n, s2_error *err);
/* Where (seq, pos) lives: K and V rows (kv_dim elements of kv_type each) of layer l. pos must be reserved. */
void *s2_kv_k(s2_kv *kv, int32_t layer, s2_seq seq, int32_t pos);
void *s2_kv_v(s2_kv *kv, int32_t layer, s2_seq seq, int32_t pos);
size_t s2_kv_type_bytes(s2_kv_type t); /* bytes of one element: 4 or 2 */
/* The base of the block holding pos, and the stride (floats) between consecutive positions in a block. */
const int32_t *s2_kv_block_table(const s2_kv *kv, s2_seq seq);
void *s2_kv_layer_k(s2_kv *kv, int32_t layer); /* (n_blocks, block_size, kv_dim) of kv_type */
void *s2_kv_layer_v(s2_kv *kv, int32_t layer);
/* After the forward has written the rows' K/V: appends the tokens, hashes and caches blocks that became full. */
void s2_kv_commit(s2_kv *kv, const s2_seq *seqs, const int32_t *tokens, int32_t n);
/* Links into the empty sequence seq the longest run of cached full blocks matching tokens[0..), covering at most
 * max_tokens tokens. Returns the tokens linked (a multiple of block_size). */
int32_t s2_kv_prefix_link(s2_kv *kv, s2_seq seq, const int32_t *tokens, int32_t n, int32_t max_tokens);

void s2_kv_stats_get(const s2_kv *kv, s2_kv_stats *out);
int32_t s2_kv_block_size(const s2_kv *kv);

#endif
