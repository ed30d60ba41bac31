// pool.c — spin-then-sleep worker threads that claim a job's chunks from a ticket (Linux futex for
// sleeping).
#include "base/pool.h"
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

// One job's function and context, and how many of its chunks are finished. Jobs alternate between
// two slots, so that a worker still reading the previous job's slot never sees this one's being written.
typedef struct {
    _Atomic(berry_pool_fn) fn;
    _Atomic(void *) ctx;
    _Atomic int done;
} job_slot;

struct berry_pool {
    int n;                     // threads including the caller; also the chunks of every job
    pthread_t *threads;        // n - 1 workers
    // (generation << 32) | next unclaimed chunk. A thread claims chunk i of generation g by moving
    // the ticket from (g, i) to (g, i + 1); the claim succeeds only while g is still the current job,
    // which is what makes the slot it read g's.
    _Atomic uint64_t ticket;
    _Atomic unsigned gen;      // the generation's low 32 bits: the futex word workers sleep on
    _Atomic int stop;
    _Atomic int sleepers;      // workers inside futex_wait; the caller skips the wake syscall when 0
    job_slot slots[2];
};

typedef struct { berry_pool *p; int ith; } worker_arg;

static void futex_wait(_Atomic unsigned *addr, unsigned val) {
    syscall(SYS_futex, (unsigned *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic unsigned *addr) {
    syscall(SYS_futex, (unsigned *)addr, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Spin this many times (about a millisecond) before sleeping: long enough to bridge the gaps between
// the jobs of one forward pass, short enough not to burn a core when idle.
#define SPIN_ITERS 20000

// Claims and runs chunks of the current job until none is left. Any thread may run any chunk, so a
// thread the OS has descheduled holds up a job only if it stops in the middle of a chunk.
static void run_chunks(berry_pool *p) {
    for (;;) {
        uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
        uint32_t g = (uint32_t)(t >> 32), i = (uint32_t)t;
        if (i >= (uint32_t)p->n) return;
        job_slot *s = &p->slots[g & 1];
        berry_pool_fn fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&s->ctx, memory_order_relaxed);
        if (!atomic_compare_exchange_weak(&p->ticket, &t, t + 1)) continue;
        fn(ctx, (int)i, p->n);
        atomic_fetch_add_explicit(&s->done, 1, memory_order_acq_rel);
    }
}

static void *worker(void *arg) {
    worker_arg *w = arg;
    berry_pool *p = w->p;
    free(w);
    // Generation 0 is the state at creation: a job may be posted before this thread first runs.
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
            if (++spins < SPIN_ITERS) cpu_relax();
            else {
                atomic_fetch_add(&p->sleepers, 1);
                futex_wait(&p->gen, seen);
                atomic_fetch_sub(&p->sleepers, 1);
            }
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        run_chunks(p);
    }
}

berry_pool *berry_pool_create(int n_threads) {
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    if (n_threads > 512) n_threads = 512;
    berry_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) { free(p); return NULL; }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *w = malloc(sizeof *w);
        if (!w) { p->n = i; berry_pool_free(p); return NULL; }
        *w = (worker_arg){p, i};
        if (pthread_create(&p->threads[i - 1], NULL, worker, w) != 0) {
            free(w);
            p->n = i;
            berry_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void berry_pool_free(berry_pool *p) {
    if (!p) return;
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_acq_rel);
    futex_wake_all(&p->gen);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i - 1], NULL);
    free(p->threads);
    free(p);
}

int berry_pool_size(const berry_pool *p) { return p ? p->n : 1; }

void berry_pool_run(berry_pool *p, berry_pool_fn fn, void *ctx) {
    if (!p || p->n == 1) { fn(ctx, 0, 1); return; }
    // The previous job is finished (every chunk done), so its ticket is spent and no thread can claim
    // from the slot written here.
    uint32_t g = (uint32_t)(atomic_load_explicit(&p->ticket, memory_order_relaxed) >> 32) + 1;
    job_slot *s = &p->slots[g & 1];
    atomic_store_explicit(&s->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&s->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&s->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->ticket, (uint64_t)g << 32, memory_order_release);
    atomic_store_explicit(&p->gen, g, memory_order_release);
    if (atomic_load(&p->sleepers) > 0) futex_wake_all(&p->gen);
    run_chunks(p);
    // Spin for the common case (the workers finish within microseconds of the caller); yield the CPU
    // after that, so that a worker the OS descheduled in the middle of a chunk can run.
    for (int spins = 0; atomic_load_explicit(&s->done, memory_order_acquire) < p->n; spins++) {
        if (spins < SPIN_ITERS) cpu_relax();
        else sched_yield();
    }
}
