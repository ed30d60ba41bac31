// vec_avx2.c — AVX2 + FMA element-wise kernels (tensor/vec.h).
#include "tensor/vec.h"
#include <immintrin.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))

// exp(x) for 8 lanes: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2 (ln2 split in a high
// part exact in float and a low part, so n ln2 is subtracted without rounding), exp(r) by its Taylor
// series to r^7 / 5040 (truncation below 2^-27 relative), times 2^n built in the exponent bits.
// Inputs are clamped to [-87.3, 88.7], where 2^n stays a normal float: exp(-inf) gives about 1e-38,
// not 0, which no caller here can tell apart.
INLINE __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static void silu_mul(float *g, const float *u, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_sub_ps(zero, x))));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static float exp_shift(float *x, int64_t n, float shift) {
    __m256 acc = _mm256_setzero_ps(), sh = _mm256_set1_ps(shift);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    float s = _mm_cvtss_f32(s4);
    for (; i < n; i++) s += x[i] = expf(x[i] - shift);
    return s;
}

INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Four rows at a time, each with two accumulators; D's tail below 8 values in scalar.
static void dots(float *out, const float *q, const float *k, int64_t stride, int n, int d, float scale) {
    int r = 0;
    for (; r + 4 <= n; r += 4) {
        const float *k0 = k + (size_t)r * (size_t)stride, *k1 = k0 + stride, *k2 = k1 + stride, *k3 = k2 + stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + 8 <= d; i += 8) {
            __m256 qv = _mm256_loadu_ps(q + i);
            a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + i), a0);
            a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + i), a1);
            a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + i), a2);
            a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + i), a3);
        }
        float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3);
        for (; i < d; i++) s0 += q[i] * k0[i], s1 += q[i] * k1[i], s2 += q[i] * k2[i], s3 += q[i] * k3[i];
        out[r] = s0 * scale, out[r + 1] = s1 * scale, out[r + 2] = s2 * scale, out[r + 3] = s3 * scale;
    }
    for (; r < n; r++) {
        const float *kr = k + (size_t)r * (size_t)stride;
        __m256 a = _mm256_setzero_ps();
        int i = 0;
        for (; i + 8 <= d; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kr + i), a);
        float s = hsum8(a);
        for (; i < d; i++) s += q[i] * kr[i];
        out[r] = s * scale;
    }
}

// 32 values of ACC held in registers while every row adds to them.
static void wsum(float *acc, const float *w, const float *v, int64_t stride, int n, int d) {
    int i = 0;
    for (; i + 32 <= d; i += 32) {
        __m256 a0 = _mm256_loadu_ps(acc + i), a1 = _mm256_loadu_ps(acc + i + 8);
        __m256 a2 = _mm256_loadu_ps(acc + i + 16), a3 = _mm256_loadu_ps(acc + i + 24);
        for (int r = 0; r < n; r++) {
            const float *vr = v + (size_t)r * (size_t)stride + i;
            __m256 e = _mm256_broadcast_ss(w + r);
            a0 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vr), a0);
            a1 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vr + 8), a1);
            a2 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vr + 16), a2);
            a3 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vr + 24), a3);
        }
        _mm256_storeu_ps(acc + i, a0);
        _mm256_storeu_ps(acc + i + 8, a1);
        _mm256_storeu_ps(acc + i + 16, a2);
        _mm256_storeu_ps(acc + i + 24, a3);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 a = _mm256_loadu_ps(acc + i);
        for (int r = 0; r < n; r++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(w + r), _mm256_loadu_ps(v + (size_t)r * (size_t)stride + i), a);
        _mm256_storeu_ps(acc + i, a);
    }
    for (; i < d; i++)
        for (int r = 0; r < n; r++) acc[i] += w[r] * v[(size_t)r * (size_t)stride + i];
}

const berry_vec_kernels berry_vec_avx2 = {.silu_mul = silu_mul, .exp_shift = exp_shift, .dots = dots, .wsum = wsum};
