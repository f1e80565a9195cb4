/* pool.c: the persistent worker pool of pool.h: pthreads that take chunks of a loop from one atomic ticket.
 *
 * Protocol. The caller writes the job (fn, arg), resets the done count, then stores the ticket (n_chunks << 32 |
 * next = 0) with release order and bumps the wake word. Every thread (caller included) claims chunk `next` by one
 * fetch-add on the ticket and runs it while next < n_chunks, then stops; the caller returns once done reaches
 * n_chunks. A claim's acquire reads the caller's release store (or a later fetch-add of the same ticket), so the
 * job it runs is the one that ticket belongs to, and the job cannot change under it: the caller writes the next
 * job only after every chunk, this one included, is done. A worker that wakes late finds next >= n_chunks and
 * goes back to waiting: the caller never waits for a thread that holds no chunk.
 *
 * Waiting. After a loop a worker spins on the wake word (about 20 us, with pause), then sleeps on a futex; the
 * caller wakes sleepers only when a counter says there are some (both sides use sequentially consistent
 * operations, so a worker that is about to sleep either sees the new wake word or is seen as a sleeper). The caller's wait for the last chunks spins briefly, then sleeps on the done count (woken by
 * each finished chunk): a worker the OS descheduled can then run on the caller's core. Nothing here prints or
 * exits. */
#include <immintrin.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

/* A worker spins this long after its last chunk (a forward's next product usually comes sooner), then sleeps.
 * No phase of sched_yield: on a machine where other processes want the cores, a thread that keeps yielding
 * uses up its fair share and is then woken last, while a sleeper is run first when woken (measured with `yes`
 * on the other core: 2 threads fell below 1 thread with a 2 ms yield phase). */
#define SPIN_NS 20000LL
#define CALLER_SPINS 4000  /* pause loops (~20-40 us) the caller spins on the last chunks before it sleeps */
#define MAX_THREADS 256

typedef struct worker {
    s2_pool *p;
    int32_t tid;
    pthread_t th;
} worker;

struct s2_pool {
    int32_t n_threads;
    worker *w;                  /* n_threads - 1 workers; w[i].tid = i + 1 */
    int32_t n_started;
    s2_pool_fn fn;              /* the job: written by the caller before the ticket's release store */
    void *arg;
    _Atomic uint64_t ticket;    /* n_chunks << 32 | next chunk */
    _Atomic uint32_t done;      /* chunks finished in the current loop; the caller's futex word */
    _Atomic int32_t caller_waits; /* the caller sleeps on done: wake it when a chunk finishes */
    _Atomic uint32_t wake;      /* bumped once per loop; the futex word */
    _Atomic int32_t sleepers;   /* workers in (or entering) futex_wait */
    _Atomic int32_t stop;
    int64_t loops;              /* stats: caller-only */
    _Atomic int64_t worker_chunks;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *addr, uint32_t val) {
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr) {
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Claims and runs chunks of the current loop until none is left; returns how many it ran. */
static int64_t run_chunks(s2_pool *p, int32_t tid) {
    int64_t ran = 0;
    for (;;) {
        uint64_t t = atomic_fetch_add_explicit(&p->ticket, 1, memory_order_acquire);
        uint32_t n = (uint32_t)(t >> 32), i = (uint32_t)t;
        if (i >= n) break;
        p->fn(p->arg, i, (int64_t)i + 1, tid);
        atomic_fetch_add(&p->done, 1);
        if (tid != 0 && atomic_load(&p->caller_waits)) futex_wake_all(&p->done);
        ran++;
    }
    return ran;
}

/* Waits until the wake word differs from seen (or stop); returns the new word. */
static uint32_t wait_wake(s2_pool *p, uint32_t seen) {
    uint32_t w;
    int64_t t0 = now_ns();
    for (int64_t k = 0;; k++) { /* spin */
        if ((w = atomic_load(&p->wake)) != seen) return w;
        cpu_relax();
        if ((k & 255) == 255 && now_ns() - t0 > SPIN_NS) break;
    }
    atomic_fetch_add(&p->sleepers, 1);
    while ((w = atomic_load(&p->wake)) == seen && !atomic_load(&p->stop)) futex_wait(&p->wake, seen);
    atomic_fetch_sub(&p->sleepers, 1);
    return w;
}

static void *worker_main(void *arg) {
    worker *wk = arg;
    s2_pool *p = wk->p;
    uint32_t seen = atomic_load(&p->wake);
    for (;;) {
        seen = wait_wake(p, seen);
        if (atomic_load(&p->stop)) break;
        int64_t ran = run_chunks(p, wk->tid);
        if (ran > 0) atomic_fetch_add_explicit(&p->worker_chunks, ran, memory_order_relaxed);
    }
    return NULL;
}

void s2_pool_free(s2_pool *p) {
    if (p == NULL) return;
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->wake, 1);
    futex_wake_all(&p->wake);
    for (int32_t i = 0; i < p->n_started; i++) pthread_join(p->w[i].th, NULL);
    free(p->w);
    free(p);
}

s2_status s2_pool_init(int32_t n_threads, s2_pool **out, s2_error *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > MAX_THREADS)
        return s2_error_set(err, S2_E_ARG, "pool: %d threads not in [1,%d]", n_threads, MAX_THREADS);
    s2_pool *p = calloc(1, sizeof *p);
    if (p == NULL) return s2_error_set(err, S2_E_NOMEM, "pool: out of memory");
    p->n_threads = n_threads;
    atomic_init(&p->ticket, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->caller_waits, 0);
    atomic_init(&p->wake, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->worker_chunks, 0);
    if (n_threads > 1) {
        p->w = calloc((size_t)(n_threads - 1), sizeof *p->w);
        if (p->w == NULL) {
            free(p);
            return s2_error_set(err, S2_E_NOMEM, "pool: out of memory");
        }
    }
    for (int32_t i = 0; i < n_threads - 1; i++) {
        p->w[i].p = p;
        p->w[i].tid = i + 1;
        int rc = pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i]);
        if (rc != 0) {
            s2_pool_free(p);
            return s2_error_set(err, S2_E_NOMEM, "pool: starting worker %d of %d: %s", i + 1, n_threads - 1,
                                strerror(rc));
        }
        p->n_started++;
    }
    *out = p;
    return S2_OK;
}

int32_t s2_pool_n_threads(const s2_pool *p) { return p != NULL ? p->n_threads : 1; }

void s2_pool_for(s2_pool *p, int64_t n_chunks, s2_pool_fn fn, void *arg) {
    S2_ASSERT(n_chunks >= 0 && n_chunks <= S2_POOL_MAX_CHUNKS);
    if (p == NULL || p->n_threads == 1 || n_chunks <= 1) {
        for (int64_t c = 0; c < n_chunks; c++) fn(arg, c, c + 1, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->ticket, (uint64_t)n_chunks << 32, memory_order_release);
    atomic_fetch_add(&p->wake, 1);
    if (atomic_load(&p->sleepers) > 0) futex_wake_all(&p->wake);
    p->loops++;
    run_chunks(p, 0);
    /* The chunks still running are held by workers: spin a little (they usually finish within microseconds),
     * then sleep until one finishes. Sleeping leaves this core idle, and an idle core pulls a runnable thread from
     * a busy one: a worker the OS had descheduled behind another process then runs here, where sched_yield would
     * have kept it queued behind that process. */
    uint32_t d;
    for (int64_t k = 0; (d = atomic_load(&p->done)) < (uint32_t)n_chunks; k++) {
        if (k < CALLER_SPINS) {
            cpu_relax();
            continue;
        }
        atomic_store(&p->caller_waits, 1);
        while ((d = atomic_load(&p->done)) < (uint32_t)n_chunks) futex_wait(&p->done, d);
        atomic_store(&p->caller_waits, 0);
    }
}

void s2_pool_stats_get(const s2_pool *p, s2_pool_stats *out) {
    memset(out, 0, sizeof *out);
    if (p == NULL) return;
    out->loops = p->loops;
    out->worker_chunks = atomic_load_explicit(&p->worker_chunks, memory_order_relaxed);
}
