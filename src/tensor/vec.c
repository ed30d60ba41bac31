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
    // Eight float partial sums, combined pairwise, as the scalar forward always summed: the PyTorch
    // parity tests of quantized models round activations like berry, and a summation in another order
    // (double, say) can move one activation across a rounding boundary of the next quantization.
    for (int r = 0; r < n; r++) {
        const float *kr = k + (size_t)r * (size_t)stride;
        float s[8] = {0};
        int i = 0;
        for (; i + 8 <= d; i += 8)
            for (int j = 0; j < 8; j++) s[j] += q[i + j] * kr[i + j];
        float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
        for (; i < d; i++) t += q[i] * kr[i];
        out[r] = t * scale;
    }
}

void berry_vec_wsum(float *acc, const float *w, const float *v, int64_t stride, int n, int d) {
    const berry_vec_kernels *kk = level();
    if (kk) { kk->wsum(acc, w, v, stride, n, d); return; }
    for (int r = 0; r < n; r++)
        for (int i = 0; i < d; i++) acc[i] += w[r] * v[(size_t)r * (size_t)stride + (size_t)i];
}
