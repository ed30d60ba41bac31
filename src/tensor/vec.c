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

void berry_vec_dots(float *out, const float *q, const float *k, int64_t stride, int n, int d, float scale) {
    const berry_vec_kernels *kk = level();
    if (kk) { kk->dots(out, q, k, stride, n, d, scale); return; }
    for (int r = 0; r < n; r++) {
        double s = 0;
        for (int i = 0; i < d; i++) s += (double)q[i] * k[(size_t)r * (size_t)stride + (size_t)i];
        out[r] = (float)s * scale;
    }
}

void berry_vec_wsum(float *acc, const float *w, const float *v, int64_t stride, int n, int d) {
    const berry_vec_kernels *kk = level();
    if (kk) { kk->wsum(acc, w, v, stride, n, d); return; }
    for (int r = 0; r < n; r++)
        for (int i = 0; i < d; i++) acc[i] += w[r] * v[(size_t)r * (size_t)stride + (size_t)i];
}
