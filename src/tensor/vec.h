// vec.h — element-wise vector kernels of the forward pass (SwiGLU, softmax exponentials), with a scalar
// reference and an AVX2 path chosen at run time like the matmul kernels (tensor/matmul.h).
#ifndef BERRY_VEC_H
#define BERRY_VEC_H
#include <stdint.h>

// G[i] = silu(G[i]) * U[i] = G[i] / (1 + exp(-G[i])) * U[i], for N values.
void berry_vec_silu_mul(float *g, const float *u, int64_t n);
// X[i] = exp(X[i] - SHIFT) for N values; returns their sum.
float berry_vec_exp_shift(float *x, int64_t n, float shift);

// OUT[r] = SCALE * dot(Q, K row r) for N rows of D values, rows STRIDE floats apart (attention scores).
void berry_vec_dots(float *out, const float *q, const float *k, int64_t stride, int n, int d, float scale);
// ACC[i] += sum over r < N of W[r] * V[r * STRIDE + i], for i < D (attention's weighted sum of values).
void berry_vec_wsum(float *acc, const float *w, const float *v, int64_t stride, int n, int d);

// The SIMD paths (vec_avx2.c), NULL where not built; the exponential is within 2 ulp of expf.
typedef struct {
    void (*silu_mul)(float *g, const float *u, int64_t n);
    float (*exp_shift)(float *x, int64_t n, float shift);
    void (*dots)(float *out, const float *q, const float *k, int64_t stride, int n, int d, float scale);
    void (*wsum)(float *acc, const float *w, const float *v, int64_t stride, int n, int d);
} berry_vec_kernels;
extern const berry_vec_kernels berry_vec_avx2;

#endif
