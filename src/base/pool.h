// pool.h — a thread pool for data-parallel kernels. berry_pool_run calls FN(CTX, ith, nth) once for
// each ith in [0, nth), nth the pool's size, and returns when all are done. The calls are chunks that
// the pool's threads (the caller included) claim as they come free, so a thread the OS has
// descheduled holds up a job only if it stops in the middle of a chunk, and one thread may run several
// ith one after the other: FN may index per-ith scratch, never per-thread state. Workers spin briefly
// before sleeping, because a forward pass dispatches hundreds of short jobs per token.
#ifndef BERRY_POOL_H
#define BERRY_POOL_H

typedef struct berry_pool berry_pool;
typedef void (*berry_pool_fn)(void *ctx, int ith, int nth);

// N_THREADS counts the caller; 0 means one per online CPU. Returns NULL on failure.
berry_pool *berry_pool_create(int n_threads);
void berry_pool_free(berry_pool *p);
int  berry_pool_size(const berry_pool *p);  // 1 for a NULL pool
// Runs FN for every ith of P's size and waits. A NULL pool runs FN(CTX, 0, 1) in the caller.
void berry_pool_run(berry_pool *p, berry_pool_fn fn, void *ctx);

// The [begin, end) share of N items for thread ITH of NTH, in contiguous chunks.
static inline void berry_split(int n, int ith, int nth, int *begin, int *end) {
    int per = (n + nth - 1) / nth;
    int b = ith * per, e = b + per;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

#endif
