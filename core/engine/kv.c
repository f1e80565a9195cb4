/* kv.c: the paged KV cache: a pool of blocks, sequences as block tables, reference counts, copy-on-write of shared
 * partial blocks, and a prefix cache of full blocks keyed by a chain hash of every token up to the block's end.
 *
 * A block is in one of three states: free (on the free list), held (ref > 0), or idle-cached (ref == 0 but in the
 * prefix cache, on the LRU list, reusable by a later prompt until evicted). It computes nothing: forward.c writes
 * K and V into the slots this file hands out, as F32 or F16 elements (kv_type: half the memory per branch). */
#include <stdlib.h>
#include <string.h>

#include "kv.h"

typedef struct kv_block {
    int32_t ref;              /* sequences holding the block */
    bool cached;              /* in the hash table (full, hashed) */
    uint64_t hash, parent;    /* chain hash of tokens [0, end of block) and of the block before it */
    int32_t lru_prev, lru_next, hnext;
} kv_block;

typedef struct kv_seq {
    bool used;
    int32_t len;
    int32_t *blocks;          /* (n_ctx / block_size, rounded up) */
    int32_t *tokens;          /* (n_ctx) */
} kv_seq;

struct s2_kv {
    s2_kv_params p;
    int32_t max_blocks_per_seq;
    char *k, *v;              /* (L, n_blocks, block_size, kv_dim) each, elements of elem_bytes (F32 or F16) */
    size_t elem_bytes;
    kv_block *blocks;         /* (n_blocks) */
    int32_t *btok;            /* (n_blocks, block_size): the tokens of full cached blocks, to confirm hash hits */
    int32_t *free_list;       /* stack of free block ids */
    int64_t n_free;
    int32_t lru_head, lru_tail; /* idle cached blocks, least recently used first */
    int64_t n_idle;
    int32_t *htab;            /* buckets of block ids, -1 empty */
    uint64_t hmask;
    kv_seq *seqs;
    int32_t n_seqs, cap_seqs;
    int32_t *scratch_add;     /* (cap_seqs) rows per sequence in one reserve */
};

/* ---- hashing ---- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t chain_hash(uint64_t parent, const int32_t *tok, int32_t n) {
    uint64_t h = mix64(parent ^ 0x9e3779b97f4a7c15ULL);
    for (int32_t i = 0; i < n; i++) h = mix64(h ^ (uint64_t)(uint32_t)tok[i]) + (uint64_t)i;
    return h;
}

static int32_t htab_find(const s2_kv *kv, uint64_t hash, uint64_t parent, const int32_t *tok) {
    int32_t bs = kv->p.block_size;
    for (int32_t b = kv->htab[hash & kv->hmask]; b >= 0; b = kv->blocks[b].hnext) {
        const kv_block *blk = &kv->blocks[b];
        if (blk->hash == hash && blk->parent == parent &&
            memcmp(kv->btok + (int64_t)b * bs, tok, (size_t)bs * sizeof(int32_t)) == 0)
            return b;
    }
    return -1;
}

static void htab_remove(s2_kv *kv, int32_t b) {
    int32_t *link = &kv->htab[kv->blocks[b].hash & kv->hmask];
    while (*link >= 0 && *link != b) link = &kv->blocks[*link].hnext;
    if (*link == b) *link = kv->blocks[b].hnext;
    kv->blocks[b].cached = false;
}

/* ---- LRU of idle cached blocks ---- */

static void lru_remove(s2_kv *kv, int32_t b) {
    kv_block *blk = &kv->blocks[b];
    if (blk->lru_prev >= 0) kv->blocks[blk->lru_prev].lru_next = blk->lru_next;
    else kv->lru_head = blk->lru_next;
    if (blk->lru_next >= 0) kv->blocks[blk->lru_next].lru_prev = blk->lru_prev;
    else kv->lru_tail = blk->lru_prev;
    blk->lru_prev = blk->lru_next = -1;
    kv->n_idle--;
}

static void lru_push(s2_kv *kv, int32_t b) {
    kv_block *blk = &kv->blocks[b];
    blk->lru_prev = kv->lru_tail;
    blk->lru_next = -1;
    if (kv->lru_tail >= 0) kv->blocks[kv->lru_tail].lru_next = b;
    else kv->lru_head = b;
    kv->lru_tail = b;
    kv->n_idle++;
}

/* ---- blocks ---- */

/* A block for exclusive use: a free one, else the least recently used idle cached one. Callers check room first. */
static int32_t block_alloc(s2_kv *kv) {
    int32_t b;
    if (kv->n_free > 0) {
        b = kv->free_list[--kv->n_free];
    } else {
        b = kv->lru_head;
        S2_ASSERT(b >= 0);
        lru_remove(kv, b);
        htab_remove(kv, b);
    }
    kv_block *blk = &kv->blocks[b];
    blk->ref = 1;
    blk->cached = false;
    blk->hash = blk->parent = 0;
    return b;
}

static void block_release(s2_kv *kv, int32_t b) {
    kv_block *blk = &kv->blocks[b];
    S2_ASSERT(blk->ref > 0);
    if (--blk->ref > 0) return;
    if (blk->cached) lru_push(kv, b);
    else kv->free_list[kv->n_free++] = b;
}

static size_t block_bytes(const s2_kv *kv) {
    return (size_t)kv->p.block_size * (size_t)kv->p.kv_dim * kv->elem_bytes;
}

static void *block_k(s2_kv *kv, int32_t layer, int32_t b) {
    return kv->k + ((size_t)layer * (size_t)kv->p.n_blocks + (size_t)b) * block_bytes(kv);
}
static void *block_v(s2_kv *kv, int32_t layer, int32_t b) {
    return kv->v + ((size_t)layer * (size_t)kv->p.n_blocks + (size_t)b) * block_bytes(kv);
}

/* ---- life cycle ---- */

s2_status s2_kv_init(const s2_kv_params *p, s2_kv **out, s2_error *err) {
    *out = NULL;
    if (p->n_layer < 1 || p->kv_dim < 1 || p->block_size < 1 || p->n_ctx < 1 || p->n_blocks < 1 ||
        p->n_blocks > INT32_MAX / 2 || (p->kv_type != S2_KV_F32 && p->kv_type != S2_KV_F16))
        return s2_error_set(err, S2_E_ARG, "kv: bad shape (layers %d, kv_dim %d, block %d, ctx %d, blocks %lld)",
                            p->n_layer, p->kv_dim, p->block_size, p->n_ctx, (long long)p->n_blocks);
    s2_kv *kv = calloc(1, sizeof *kv);
    if (kv == NULL) return s2_error_set(err, S2_E_NOMEM, "kv: out of memory");
    kv->p = *p;
    kv->elem_bytes = s2_kv_type_bytes(p->kv_type);
    kv->max_blocks_per_seq = (p->n_ctx + p->block_size - 1) / p->block_size;
    size_t floats = (size_t)p->n_layer * (size_t)p->n_blocks * (size_t)p->block_size * (size_t)p->kv_dim;
    uint64_t hsize = 1;
    while (hsize < (uint64_t)p->n_blocks * 2) hsize <<= 1;
    kv->hmask = hsize - 1;
    kv->k = calloc(floats, kv->elem_bytes); /* large callocs are fresh zero pages: touched only when used */
    kv->v = calloc(floats, kv->elem_bytes);
    kv->blocks = calloc((size_t)p->n_blocks, sizeof *kv->blocks);
    kv->btok = calloc((size_t)p->n_blocks * (size_t)p->block_size, sizeof(int32_t));
    kv->free_list = malloc((size_t)p->n_blocks * sizeof(int32_t));
    kv->htab = malloc(hsize * sizeof(int32_t));
    if (kv->k == NULL || kv->v == NULL || kv->blocks == NULL || kv->btok == NULL || kv->free_list == NULL ||
        kv->htab == NULL) {
        s2_kv_free(kv);
        return s2_error_set(err, S2_E_NOMEM, "kv: cannot allocate %lld blocks (%.1f MiB)", (long long)p->n_blocks,
                            2.0 * (double)floats * (double)kv->elem_bytes / 1048576.0);
    }
    for (uint64_t i = 0; i < hsize; i++) kv->htab[i] = -1;
    for (int64_t b = 0; b < p->n_blocks; b++) {
        kv->free_list[b] = (int32_t)(p->n_blocks - 1 - b); /* pop order 0, 1, 2, ... */
        kv->blocks[b].lru_prev = kv->blocks[b].lru_next = kv->blocks[b].hnext = -1;
    }
    kv->n_free = p->n_blocks;
    kv->lru_head = kv->lru_tail = -1;
    *out = kv;
    return S2_OK;
}

void s2_kv_free(s2_kv *kv) {
    if (kv == NULL) return;
    for (int32_t s = 0; s < kv->n_seqs; s++) {
        free(kv->seqs[s].blocks);
        free(kv->seqs[s].tokens);
    }
    free(kv->seqs);
    free(kv->scratch_add);
    free(kv->k);
    free(kv->v);
    free(kv->blocks);
    free(kv->btok);
    free(kv->free_list);
    free(kv->htab);
    free(kv);
}

/* ---- sequences ---- */

bool s2_kv_seq_valid(const s2_kv *kv, s2_seq seq) { return seq >= 0 && seq < kv->n_seqs && kv->seqs[seq].used; }
int32_t s2_kv_seq_len(const s2_kv *kv, s2_seq seq) { return s2_kv_seq_valid(kv, seq) ? kv->seqs[seq].len : -1; }
const int32_t *s2_kv_seq_tokens(const s2_kv *kv, s2_seq seq) {
    return s2_kv_seq_valid(kv, seq) ? kv->seqs[seq].tokens : NULL;
}
const int32_t *s2_kv_block_table(const s2_kv *kv, s2_seq seq) { return kv->seqs[seq].blocks; }
void *s2_kv_layer_k(s2_kv *kv, int32_t layer) { return block_k(kv, layer, 0); }
void *s2_kv_layer_v(s2_kv *kv, int32_t layer) { return block_v(kv, layer, 0); }
size_t s2_kv_type_bytes(s2_kv_type t) { return t == S2_KV_F16 ? 2 : 4; }
int32_t s2_kv_block_size(const s2_kv *kv) { return kv->p.block_size; }

s2_status s2_kv_seq_new(s2_kv *kv, s2_seq *out, s2_error *err) {
    int32_t s = 0;
    while (s < kv->n_seqs && kv->seqs[s].used) s++;
    if (s == kv->n_seqs) {
        if (kv->n_seqs == kv->cap_seqs) {
            int32_t cap = kv->cap_seqs ? 2 * kv->cap_seqs : 16;
            kv_seq *ns = realloc(kv->seqs, (size_t)cap * sizeof *ns);
            if (ns == NULL) return s2_error_set(err, S2_E_NOMEM, "kv: out of memory for sequences");
            kv->seqs = ns;
            int32_t *na = realloc(kv->scratch_add, (size_t)cap * sizeof *na);
            if (na == NULL) return s2_error_set(err, S2_E_NOMEM, "kv: out of memory for sequences");
            kv->scratch_add = na;
            kv->cap_seqs = cap;
        }
        kv_seq *q = &kv->seqs[kv->n_seqs];
        memset(q, 0, sizeof *q);
        q->blocks = malloc((size_t)kv->max_blocks_per_seq * sizeof(int32_t));
        q->tokens = malloc((size_t)kv->p.n_ctx * sizeof(int32_t));
        if (q->blocks == NULL || q->tokens == NULL) {
            free(q->blocks);
            free(q->tokens);
            return s2_error_set(err, S2_E_NOMEM, "kv: out of memory for a sequence");
        }
        kv->n_seqs++;
    }
    kv->seqs[s].used = true;
    kv->seqs[s].len = 0;
    *out = s;
    return S2_OK;
}

s2_status s2_kv_seq_fork(s2_kv *kv, s2_seq src, s2_seq *out, s2_error *err) {
    if (!s2_kv_seq_valid(kv, src)) return s2_error_set(err, S2_E_ARG, "kv: fork of sequence %d, which is not live", src);
    s2_seq dst;
    s2_status st = s2_kv_seq_new(kv, &dst, err);
    if (st != S2_OK) return st;
    kv_seq *a = &kv->seqs[src], *b = &kv->seqs[dst]; /* after seq_new: it may have moved the table */
    int32_t nb = (a->len + kv->p.block_size - 1) / kv->p.block_size;
    memcpy(b->blocks, a->blocks, (size_t)nb * sizeof(int32_t));
    memcpy(b->tokens, a->tokens, (size_t)a->len * sizeof(int32_t));
    for (int32_t i = 0; i < nb; i++) kv->blocks[a->blocks[i]].ref++;
    b->len = a->len;
    *out = dst;
    return S2_OK;
}

void s2_kv_seq_clear(s2_kv *kv, s2_seq seq) {
    if (!s2_kv_seq_valid(kv, seq)) return;
    kv_seq *q = &kv->seqs[seq];
    int32_t nb = (q->len + kv->p.block_size - 1) / kv->p.block_size;
    for (int32_t i = 0; i < nb; i++) block_release(kv, q->blocks[i]);
    q->len = 0;
}

void s2_kv_seq_free(s2_kv *kv, s2_seq seq) {
    if (!s2_kv_seq_valid(kv, seq)) return;
    s2_kv_seq_clear(kv, seq);
    kv->seqs[seq].used = false;
}

/* ---- writing ---- */

s2_status s2_kv_reserve(s2_kv *kv, const s2_seq *seqs, int32_t n, s2_error *err) {
    int32_t bs = kv->p.block_size;
    for (int32_t r = 0; r < n; r++)
        if (!s2_kv_seq_valid(kv, seqs[r])) return s2_error_set(err, S2_E_ARG, "kv: row %d names sequence %d, which is not live", r, seqs[r]);
    for (int32_t r = 0; r < n; r++) kv->scratch_add[seqs[r]] = 0;
    for (int32_t r = 0; r < n; r++) kv->scratch_add[seqs[r]]++;
    int64_t need = 0;
    for (int32_t r = 0; r < n; r++) {
        s2_seq s = seqs[r];
        int32_t add = kv->scratch_add[s];
        if (add <= 0) continue; /* counted already */
        const kv_seq *q = &kv->seqs[s];
        if ((int64_t)q->len + add > kv->p.n_ctx)
            return s2_error_set(err, S2_E_BUDGET, "sequence %d: %d + %d tokens exceed the context of %d", s, q->len,
                                add, kv->p.n_ctx);
        int32_t have = (q->len + bs - 1) / bs, want = (q->len + add + bs - 1) / bs;
        need += want - have;
        if (q->len % bs != 0 && kv->blocks[q->blocks[have - 1]].ref > 1) need++; /* copy on write */
        kv->scratch_add[s] = -add; /* mark as counted; restored below */
    }
    for (int32_t r = 0; r < n; r++)
        if (kv->scratch_add[seqs[r]] < 0) kv->scratch_add[seqs[r]] = -kv->scratch_add[seqs[r]];
    if (need > kv->n_free + kv->n_idle)
        return s2_error_set(err, S2_E_NOMEM, "KV cache full: %lld more blocks needed, %lld free (limit %lld blocks of %d tokens)",
                            (long long)need, (long long)(kv->n_free + kv->n_idle), (long long)kv->p.n_blocks, bs);
    for (int32_t r = 0; r < n; r++) {
        s2_seq s = seqs[r];
        int32_t add = kv->scratch_add[s];
        if (add == 0) continue;
        kv->scratch_add[s] = 0;
        kv_seq *q = &kv->seqs[s];
        int32_t have = (q->len + bs - 1) / bs, want = (q->len + add + bs - 1) / bs;
        if (q->len % bs != 0 && kv->blocks[q->blocks[have - 1]].ref > 1) {
            int32_t old = q->blocks[have - 1], nb = block_alloc(kv);
            size_t used = (size_t)(q->len % bs) * (size_t)kv->p.kv_dim * kv->elem_bytes;
            for (int32_t l = 0; l < kv->p.n_layer; l++) {
                memcpy(block_k(kv, l, nb), block_k(kv, l, old), used);
                memcpy(block_v(kv, l, nb), block_v(kv, l, old), used);
            }
            block_release(kv, old);
            q->blocks[have - 1] = nb;
        }
        for (int32_t i = have; i < want; i++) q->blocks[i] = block_alloc(kv);
    }
    return S2_OK;
}

static void *slot(s2_kv *kv, char *base, int32_t layer, s2_seq seq, int32_t pos) {
    int32_t bs = kv->p.block_size;
    int32_t b = kv->seqs[seq].blocks[pos / bs];
    return base + (((size_t)layer * (size_t)kv->p.n_blocks + (size_t)b) * (size_t)bs + (size_t)(pos % bs)) *
                      (size_t)kv->p.kv_dim * kv->elem_bytes;
}
void *s2_kv_k(s2_kv *kv, int32_t layer, s2_seq seq, int32_t pos) { return slot(kv, kv->k, layer, seq, pos); }
void *s2_kv_v(s2_kv *kv, int32_t layer, s2_seq seq, int32_t pos) { return slot(kv, kv->v, layer, seq, pos); }

void s2_kv_commit(s2_kv *kv, const s2_seq *seqs, const int32_t *tokens, int32_t n) {
    int32_t bs = kv->p.block_size;
    for (int32_t r = 0; r < n; r++) {
        kv_seq *q = &kv->seqs[seqs[r]];
        q->tokens[q->len++] = tokens[r];
        if (q->len % bs != 0) continue;
        /* a block just became full: hash it by its whole prefix and offer it to the prefix cache */
        int32_t i = q->len / bs - 1, b = q->blocks[i];
        kv_block *blk = &kv->blocks[b];
        uint64_t parent = i > 0 ? kv->blocks[q->blocks[i - 1]].hash : 0;
        blk->parent = parent;
        blk->hash = chain_hash(parent, q->tokens + (size_t)i * bs, bs);
        if (!kv->p.prefix_cache || blk->cached || htab_find(kv, blk->hash, parent, q->tokens + (size_t)i * bs) >= 0)
            continue;
        memcpy(kv->btok + (int64_t)b * bs, q->tokens + (size_t)i * bs, (size_t)bs * sizeof(int32_t));
        uint64_t h = blk->hash & kv->hmask;
        blk->hnext = kv->htab[h];
        kv->htab[h] = b;
        blk->cached = true;
    }
}

int32_t s2_kv_prefix_link(s2_kv *kv, s2_seq seq, const int32_t *tokens, int32_t n, int32_t max_tokens) {
    if (!kv->p.prefix_cache || !s2_kv_seq_valid(kv, seq) || kv->seqs[seq].len != 0) return 0;
    int32_t bs = kv->p.block_size;
    if (max_tokens > n) max_tokens = n;
    kv_seq *q = &kv->seqs[seq];
    uint64_t parent = 0;
    int32_t i = 0;
    for (; (i + 1) * bs <= max_tokens; i++) {
        uint64_t h = chain_hash(parent, tokens + (size_t)i * bs, bs);
        int32_t b = htab_find(kv, h, parent, tokens + (size_t)i * bs);
        if (b < 0) break;
        if (kv->blocks[b].ref == 0) lru_remove(kv, b);
        kv->blocks[b].ref++;
        q->blocks[i] = b;
        parent = h;
    }
    q->len = i * bs;
    memcpy(q->tokens, tokens, (size_t)q->len * sizeof(int32_t));
    return q->len;
}

void s2_kv_stats_get(const s2_kv *kv, s2_kv_stats *out) {
    memset(out, 0, sizeof *out);
    out->blocks_total = kv->p.n_blocks;
    out->blocks_cached = kv->n_idle;
    out->blocks_used = kv->p.n_blocks - kv->n_free - kv->n_idle;
    out->bytes_per_block = (int64_t)kv->p.n_layer * kv->p.block_size * kv->p.kv_dim * 2 * (int64_t)kv->elem_bytes;
    out->kv_type = kv->p.kv_type;
    out->block_size = kv->p.block_size;
    for (int32_t s = 0; s < kv->n_seqs; s++) out->n_seqs += kv->seqs[s].used;
}
