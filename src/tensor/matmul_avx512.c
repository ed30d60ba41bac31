// matmul_avx512.c — AVX-512 (F, BW, VL, DQ) dot products for the float types and q8_0 / q4_0; every
// other kernel falls back to AVX2 (matmul.c's dispatch). Compiled with AVX-512 flags; only called when
// the CPU reports all four extensions. Two 32-value blocks share one 512-bit register: the low 256 bits
// hold block i, the high 256 bits block i + 1.
#include "tensor/blocks.h"
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

INLINE float f16(const void *p) { uint16_t h; memcpy(&h, p, 2); return _cvtsh_ss(h); }

INLINE __m512 load_w16(const uint8_t *w, int64_t i, int kind) {
    if (kind == 0) return _mm512_loadu_ps((const float *)w + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i));
    if (kind == 1) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE void dot_float(int64_t n, float *out, const void *wv, const void *xv, int kind) {
    const uint8_t *w = wv;
    const float *x = xv;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(load_w16(w, i, kind), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(load_w16(w, i + 16, kind), _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load_w16(w, i, kind), _mm512_loadu_ps(x + i), a0);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++) {
        float wi;
        if (kind == 0) wi = ((const float *)w)[i];
        else {
            uint16_t h;
            memcpy(&h, w + 2 * i, 2);
            wi = kind == 1 ? _cvtsh_ss(h) : berry_bf16_to_f32(h);
        }
        s += wi * x[i];
    }
    *out = s;
}
static void dot_f32(int64_t n, float *o, const void *w, const void *x) { dot_float(n, o, w, x, 0); }
static void dot_f16(int64_t n, float *o, const void *w, const void *x) { dot_float(n, o, w, x, 1); }
static void dot_bf16(int64_t n, float *o, const void *w, const void *x) { dot_float(n, o, w, x, 2); }

// 32 int8 weights of one block (q4_0: nibbles minus 8, low nibbles first).
INLINE __m256i load_block(const uint8_t *blk, int q4) {
    if (!q4) return _mm256_loadu_si256((const __m256i *)(blk + 2));
    __m128i v = _mm_loadu_si128((const __m128i *)(blk + 2));
    __m256i b = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
    return _mm256_sub_epi8(_mm256_and_si256(b, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
}

// Sixteen int32 partial sums of 64 int8 products: |w| (unsigned) times x negated where w < 0.
// |w| <= 128, |x| <= 127: the int16 pair sums cannot saturate.
INLINE __m512i dot_i8x64(__m512i w, __m512i x) {
    __mmask64 neg = _mm512_movepi8_mask(w);
    __m512i xs = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
    __m512i p = _mm512_maddubs_epi16(_mm512_abs_epi8(w), xs);
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
}

INLINE void dot_q8(int64_t n, float *out, const void *wv, const void *xv, int q4) {
    const uint8_t *w = wv;
    const berry_block_q8_0 *x = xv;
    size_t bs = q4 ? sizeof(berry_block_q4_0) : sizeof(berry_block_q8_0);
    __m512 acc = _mm512_setzero_ps();
    int64_t nb = n / 32, i = 0;
    for (; i + 2 <= nb; i += 2) {
        const uint8_t *b0 = w + (size_t)i * bs, *b1 = b0 + bs;
        __m512i wq = _mm512_inserti64x4(_mm512_castsi256_si512(load_block(b0, q4)), load_block(b1, q4), 1);
        __m512i xq = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[i].qs)),
                                        _mm256_loadu_si256((const __m256i *)x[i + 1].qs), 1);
        __m512 sc = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(f16(b0) * f16(&x[i].d))),
                                       _mm256_set1_ps(f16(b1) * f16(&x[i + 1].d)), 1);
        acc = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(dot_i8x64(wq, xq)), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    for (; i < nb; i++) {   // an odd last block: the low half alone
        const uint8_t *b0 = w + (size_t)i * bs;
        __m512i wq = _mm512_castsi256_si512(load_block(b0, q4));
        __m512i xq = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[i].qs));
        wq = _mm512_inserti64x4(wq, _mm256_setzero_si256(), 1);
        xq = _mm512_inserti64x4(xq, _mm256_setzero_si256(), 1);
        s += (float)_mm512_reduce_add_epi32(dot_i8x64(wq, xq)) * (f16(b0) * f16(&x[i].d));
    }
    *out = s;
}
static void dot_q8_0(int64_t n, float *o, const void *w, const void *x) { dot_q8(n, o, w, x, 0); }
static void dot_q4_0(int64_t n, float *o, const void *w, const void *x) { dot_q8(n, o, w, x, 1); }

const berry_kernels berry_kernels_avx512 = {
    .dot_f32 = dot_f32, .dot_f16 = dot_f16, .dot_bf16 = dot_bf16, .dot_q4_0 = dot_q4_0, .dot_q8_0 = dot_q8_0,
    .f_rows = 3, .f_cols = 4, .q_rows = 1, .q_cols = 8, .k_rows = 4, .k_cols = 1,
};
