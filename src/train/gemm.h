// gemm.h — f32 matrix products for training: cache-blocked (packed panels, a 6x16 register tile),
// parallel over a thread pool. The forward product Y = X.W^T and the two backward products
// dX = dY.W and dW += dY^T.X are all this one routine with different transpose flags.
#ifndef BERRY_GEMM_H
#define BERRY_GEMM_H
#include "base/pool.h"
#include <stdbool.h>
#include <stddef.h>

// C (M, N) = (ACC ? C : 0) + op(A) . op(B), where op(A) is (M, K): A itself (row stride LDA) or, when
// TA, the transpose of A stored (K, M); op(B) is (K, N): B itself or, when TB, the transpose of B
// stored (N, K). Row strides are in floats. Runs on POOL (may be NULL). Returns false only when
// scratch memory cannot be allocated (C is then unchanged... or partly written: callers treat it as
// fatal for the step).
bool berry_gemm(berry_pool *pool, bool ta, bool tb, int m, int n, int k, const float *a, size_t lda,
                const float *b, size_t ldb, bool acc, float *c, size_t ldc);

// The same product computed by three plain loops in double precision; for tests.
void berry_gemm_ref(bool ta, bool tb, int m, int n, int k, const float *a, size_t lda, const float *b,
                    size_t ldb, bool acc, float *c, size_t ldc);

// Internal: the 6x16 register tile. C tile (6, 16) (ACC ? += : =) Ap (kc, 6) packed . Bp (kc, 16)
// packed; only the leading MR x NR part of the tile is written.
void berry_gemm_tile_avx2(int kc, const float *ap, const float *bp, float *c, size_t ldc, int mr, int nr, bool acc);
#endif
