// vec.c — the scalar references of vec.h and the dispatch to the SIMD level (tensor/matmul.h's).
#include "tensor/vec.h"
#include "tensor/matmul.h"
#include <math.h>

static const berry_vec_kernels *level(void) {
    return berry_simd_level() >= BERRY_SIMD_AVX2 ? &berry_vec_avx2 : NULL;
}

void berry_vec_silu_mul(float *g, const float *u, int64_t n) {
    const berry_vec_kernels *k = level();
    if (k) { k->silu_mul(g, u, n); return; }
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

float berry_vec_exp_shift(float *x, int64_t n, float shift) {
    const berry_vec_kernels *k = level();
    if (k) return k->exp_shift(x, n, shift);
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i] = expf(x[i] - shift);
    return s;
}
