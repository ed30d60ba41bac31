// pool.c — spin-then-sleep worker threads driven by a generation counter (Linux futex for sleeping).
#include "base/pool.h"
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct berry_pool {
    int n;                     // threads including the caller
    pthread_t *threads;        // n - 1 workers
    _Atomic unsigned gen;      // bumped once per job; workers wait for it to change
    _Atomic int pending;       // workers still running the current job
    _Atomic int stop;
    _Atomic int sleepers;      // workers inside futex_wait; the caller skips the wake syscall when 0
    berry_pool_fn fn;
    void *ctx;
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

static void *worker(void *arg) {
    worker_arg *w = arg;
    berry_pool *p = w->p;
    int ith = w->ith;
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
        p->fn(p->ctx, ith, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
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
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_release);
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers) > 0) futex_wake_all(&p->gen);
    fn(ctx, 0, p->n);
    // Spin for the common case (the workers finish within microseconds of the caller); yield the CPU
    // after that, so that a worker the OS descheduled (more threads than cores) can run.
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spins++) {
        if (spins < SPIN_ITERS) cpu_relax();
        else sched_yield();
    }
}
