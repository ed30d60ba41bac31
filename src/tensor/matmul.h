// matmul.h — dot products and matrix products of weights of any type with f32 activations.
//
// Weights W are (M, K): M rows of K values of type T, each row berry_row_size(T, K) bytes.
// Activations are converted once to T's vec_dot_type (q8_0 for q4_0/q4_1/q5_0/q5_1/q8_0 (ggml's q8_1
// for q4_1/q5_1 is q8_0 plus each block's sum, which berry's kernels compute themselves), q8_K for the
// K-quants, f32 for the float types in berry's choice) and multiplied by every row. Every kernel has a scalar
// reference and SIMD paths (AVX2, AVX-512) chosen at run time from the CPU's features.
#ifndef BERRY_MATMUL_H
#define BERRY_MATMUL_H
#include "base/pool.h"
#include "tensor/types.h"

typedef enum { BERRY_SIMD_SCALAR = 0, BERRY_SIMD_AVX2 = 1, BERRY_SIMD_AVX512 = 2 } berry_simd;

// The best level this CPU supports, unless the environment variable BERRY_SIMD (scalar, avx2, avx512)
// asks for a lower one.
berry_simd berry_simd_level(void);
// Forces a level (tests compare levels against each other); returns the previous one.
berry_simd berry_simd_force(berry_simd s);
const char *berry_simd_name(berry_simd s);

// *OUT = dot(W row, X) for N values; X is already in T's vec_dot_type.
void berry_vec_dot(berry_type t, int64_t n, float *out, const void *w_row, const void *x);

// Y (T_rows, M) = X (T_rows, K) · W (M, K)^T. SCRATCH holds the converted activations and must have
// berry_matmul_scratch_size(t, T_rows, K) bytes. Runs on POOL (may be NULL).
size_t berry_matmul_scratch_size(berry_type t, int rows, int64_t k);
void berry_matmul(berry_pool *pool, berry_type t, const void *w, const float *x, float *y, int rows,
                  int64_t k, int64_t m, void *scratch);

// Repacked weights: q4_0, q8_0 and f16 matrices rearranged once (at model load) into the panels the
// kernels read (tensor/blocks.h), rows padded to a multiple of 8 (16 for f16). The same bytes per row
// as the GGUF data, so decode streams them at memory speed and batched products skip packing per call.
// Bytes of W (M, K) of type T repacked; 0 when T has no repacked form (other types, bad shapes).
size_t berry_repack_size(berry_type t, int64_t k, int64_t m);
// Writes W repacked to DST (berry_repack_size bytes), on POOL (may be NULL).
void berry_repack(berry_pool *pool, berry_type t, const void *w, int64_t k, int64_t m, void *dst);
// As berry_matmul, with WP made by berry_repack (same scratch size).
void berry_matmul_packed(berry_pool *pool, berry_type t, const void *wp, const float *x, float *y, int rows,
                         int64_t k, int64_t m, void *scratch);
// Several repacked weights applied to the same X (T_rows, K): Y_i (T_rows, M_i) = X . W_i^T, with the
// activations quantized once and one dispatch for all (a layer's Q, K, V; gate and up). At most
// BERRY_MATMUL_MAX_N weights; SCRATCH as for one of them.
#define BERRY_MATMUL_MAX_N 4
typedef struct {
    berry_type type;
    const void *wp;   // berry_repack's
    int64_t m;
    float *y;
} berry_mm_w;
void berry_matmul_packed_n(berry_pool *pool, int n, const berry_mm_w *ws, const float *x, int rows, int64_t k,
                           void *scratch);

#endif
