// pool.h — a thread pool for data-parallel kernels. berry_pool_run calls FN(CTX, ith, nth) once on
// each of the pool's nth threads (the caller is thread 0) and returns when all are done. Workers spin
// briefly before sleeping, because a forward pass dispatches hundreds of short jobs per token.
#ifndef BERRY_POOL_H
#define BERRY_POOL_H

typedef struct berry_pool berry_pool;
typedef void (*berry_pool_fn)(void *ctx, int ith, int nth);

// N_THREADS counts the caller; 0 means one per online CPU. Returns NULL on failure.
berry_pool *berry_pool_create(int n_threads);
void berry_pool_free(berry_pool *p);
int  berry_pool_size(const berry_pool *p);  // 1 for a NULL pool
// Runs FN on every thread of P and waits. A NULL pool runs FN(CTX, 0, 1) in the caller.
void berry_pool_run(berry_pool *p, berry_pool_fn fn, void *ctx);

// The [begin, end) share of N items for thread ITH of NTH, in contiguous chunks.
static inline void berry_split(int n, int ith, int nth, int *begin, int *end) {
    int per = (n + nth - 1) / nth;
    int b = ith * per, e = b + per;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

#endif
