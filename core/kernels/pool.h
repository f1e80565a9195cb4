/* pool.h: a persistent worker pool for the forward pass's parallel loops (internal). One caller at a time (the
 * thread that owns the context) hands out a loop of n chunks; the caller and the workers take chunks one by one
 * from a shared ticket, so a thread that the OS has descheduled (another process holds its core) delays the loop
 * by at most the one chunk it holds, never by a fixed half of the rows. Workers spin briefly after a loop, then
 * sleep on a futex: a forward's consecutive matrix products find them awake, an idle context costs nothing. A pool of one thread has no workers and runs every loop inline. */
#ifndef S2_POOL_H
#define S2_POOL_H

#include "sys2.h"

typedef struct s2_pool s2_pool;

/* Runs chunks [c0, c1) of a loop; tid is 0 for the caller, 1..n_threads-1 for the workers (per-thread scratch). */
typedef void (*s2_pool_fn)(void *arg, int64_t c0, int64_t c1, int32_t tid);

/* A pool of n_threads threads in all (the caller counts as one: n_threads - 1 workers are started), 1..256.
 * On failure *out is NULL and err says why. Free with s2_pool_free (NULL is a no-op; joins the workers). */
s2_status s2_pool_init(int32_t n_threads, s2_pool **out, s2_error *err);
void s2_pool_free(s2_pool *p);
int32_t s2_pool_n_threads(const s2_pool *p); /* 1 for a NULL pool */

/* fn(arg, c, c + 1, tid) for every c in [0, n_chunks), each exactly once, then returns (every chunk done, and
 * its writes visible to the caller). n_chunks up to S2_POOL_MAX_CHUNKS; p NULL or n_threads 1: inline, in
 * order. Not reentrant: fn must not call s2_pool_for on the same pool. */
#define S2_POOL_MAX_CHUNKS 65535
void s2_pool_for(s2_pool *p, int64_t n_chunks, s2_pool_fn fn, void *arg);

/* Counters for tests: loops run on workers (not inline), and chunks run by workers (not the caller). */
typedef struct s2_pool_stats {
    int64_t loops, worker_chunks;
} s2_pool_stats;
void s2_pool_stats_get(const s2_pool *p, s2_pool_stats *out);

#endif
