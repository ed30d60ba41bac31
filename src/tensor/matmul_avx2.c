// matmul_avx2.c — AVX2 + FMA + F16C kernels: dot products, register-blocked tiles over (activation rows
// x weight rows), and activation quantizers bit-identical to the scalar ones. Compiled with
// -mavx2 -mfma -mf16c; only called when the CPU has them (matmul.c's dispatch).
#include "tensor/blocks.h"
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))
// F(N, ...) with N the compile-time count (1-4) equal to the run-time COUNT: the multi-stream and
// multi-row kernels are instantiated per count so that their per-stream arrays stay in registers.
#define BY_COUNT(count, F, ...)                      \
    switch (count) {                                 \
    case 4: F(4, __VA_ARGS__); break;                \
    case 3: F(3, __VA_ARGS__); break;                \
    case 2: F(2, __VA_ARGS__); break;                \
    default: F(1, __VA_ARGS__); break;               \
    }

INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

INLINE float f16(const void *p) { uint16_t h; memcpy(&h, p, 2); return _cvtsh_ss(h); }

// ---- float weights against f32 activations ----------------------------------------------------------

// Eight weights of row W starting at I as f32. KIND: 0 f32, 1 f16, 2 bf16.
INLINE __m256 load_w8(const uint8_t *w, int64_t i, int kind) {
    if (kind == 0) return _mm256_loadu_ps((const float *)w + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (kind == 1) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE float load_w1(const uint8_t *w, int64_t i, int kind) {
    if (kind == 0) return ((const float *)w)[i];
    uint16_t h;
    memcpy(&h, w + 2 * i, 2);
    return kind == 1 ? _cvtsh_ss(h) : berry_bf16_to_f32(h);
}

// PREFETCH: decode streams row after row from memory and asks for the lines ahead of time.
INLINE void dot_float_pf(int64_t n, float *out, const void *wv, const void *xv, int kind, const int prefetch) {
    const uint8_t *w = wv;
    const float *x = xv;
    const int es = kind == 0 ? 4 : 2;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        if (prefetch) {
            _mm_prefetch((const char *)(w + (size_t)i * es + 768), _MM_HINT_T0);
            if (es == 4) _mm_prefetch((const char *)(w + (size_t)i * es + 832), _MM_HINT_T0);
        }
        a0 = _mm256_fmadd_ps(load_w8(w, i, kind), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(load_w8(w, i + 8, kind), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_w8(w, i + 16, kind), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_w8(w, i + 24, kind), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_w8(w, i, kind), _mm256_loadu_ps(x + i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += load_w1(w, i, kind) * x[i];
    *out = s;
}
INLINE void dot_float(int64_t n, float *out, const void *wv, const void *xv, int kind) {
    dot_float_pf(n, out, wv, xv, kind, 0);
}
static void dot_f32(int64_t n, float *o, const void *w, const void *x) { dot_float(n, o, w, x, 0); }
static void dot_f16(int64_t n, float *o, const void *w, const void *x) { dot_float(n, o, w, x, 1); }
static void dot_bf16(int64_t n, float *o, const void *w, const void *x) { dot_float(n, o, w, x, 2); }

// Tile of NR activation rows x NC weight rows: each weight vector converted once and used NR times,
// each activation vector used NC times. NR * NC accumulators of 8 lanes, summed at the end.
INLINE void tile_float_fixed(int64_t n, const uint8_t *w, size_t ws, const uint8_t *x, size_t xs, float *y,
                             size_t ldy, const int NR, const int NC, int kind) {
    __m256 acc[4][4];
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++) acc[r][c] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv[4];
        for (int r = 0; r < NR; r++) xv[r] = _mm256_loadu_ps((const float *)(x + (size_t)r * xs) + i);
        for (int c = 0; c < NC; c++) {
            __m256 wv = load_w8(w + (size_t)c * ws, i, kind);
            for (int r = 0; r < NR; r++) acc[r][c] = _mm256_fmadd_ps(wv, xv[r], acc[r][c]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++) {
            float s = hsum(acc[r][c]);
            for (int64_t j = i; j < n; j++)
                s += load_w1(w + (size_t)c * ws, j, kind) * ((const float *)(x + (size_t)r * xs))[j];
            y[(size_t)r * ldy + c] = s;
        }
}

// Instantiates the fixed-shape tiles up to 3 x 4 and picks one for (nr, nc).
#define FLOAT_TILE(name, kind)                                                                          \
    static void name(int64_t n, const void *wv, size_t ws, const void *xv, size_t xs, float *y, size_t ldy, \
                     int nr, int nc) {                                                                  \
        const uint8_t *w = wv, *x = xv;                                                                 \
        switch (nr * 8 + nc) {                                                                          \
        case 1 * 8 + 1: tile_float_fixed(n, w, ws, x, xs, y, ldy, 1, 1, kind); break;                    \
        case 1 * 8 + 2: tile_float_fixed(n, w, ws, x, xs, y, ldy, 1, 2, kind); break;                    \
        case 1 * 8 + 3: tile_float_fixed(n, w, ws, x, xs, y, ldy, 1, 3, kind); break;                    \
        case 1 * 8 + 4: tile_float_fixed(n, w, ws, x, xs, y, ldy, 1, 4, kind); break;                    \
        case 2 * 8 + 1: tile_float_fixed(n, w, ws, x, xs, y, ldy, 2, 1, kind); break;                    \
        case 2 * 8 + 2: tile_float_fixed(n, w, ws, x, xs, y, ldy, 2, 2, kind); break;                    \
        case 2 * 8 + 3: tile_float_fixed(n, w, ws, x, xs, y, ldy, 2, 3, kind); break;                    \
        case 2 * 8 + 4: tile_float_fixed(n, w, ws, x, xs, y, ldy, 2, 4, kind); break;                    \
        case 3 * 8 + 1: tile_float_fixed(n, w, ws, x, xs, y, ldy, 3, 1, kind); break;                    \
        case 3 * 8 + 2: tile_float_fixed(n, w, ws, x, xs, y, ldy, 3, 2, kind); break;                    \
        case 3 * 8 + 3: tile_float_fixed(n, w, ws, x, xs, y, ldy, 3, 3, kind); break;                    \
        default: tile_float_fixed(n, w, ws, x, xs, y, ldy, 3, 4, kind); break;                           \
        }                                                                                               \
    }
FLOAT_TILE(tile_f32, 0)
FLOAT_TILE(tile_f16, 1)
FLOAT_TILE(tile_bf16, 2)

// ---- q8_0 / q4_0 weights against q8_0 activations -------------------------------------------------

// 32 weights of a block as int8 in element order. q4_0: low nibbles are elements 0..15, high 16..31,
// minus 8.
INLINE __m256i load_q4_0(const uint8_t *qs) {
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    __m256i b = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
    return _mm256_sub_epi8(_mm256_and_si256(b, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
}

// Eight int32 partial sums of the products of 32 int8 pairs. vpmaddubsw wants one unsigned operand:
// |w| and x carrying w's sign. |w| <= 128 and |x| <= 127 (activations are never -128), so the int16
// pair sums (<= 2 * 128 * 127) cannot saturate.
INLINE __m256i dot_i8(__m256i w, __m256i x) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

INLINE void dot_q8(int64_t n, float *out, const void *wv, const void *xv, int q4) {
    const uint8_t *w = wv;
    const berry_block_q8_0 *x = xv;
    size_t bs = q4 ? sizeof(berry_block_q4_0) : sizeof(berry_block_q8_0);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int64_t nb = n / 32, i = 0;
    for (; i + 2 <= nb; i += 2) {
        const uint8_t *b0 = w + (size_t)i * bs, *b1 = b0 + bs;
        __m256i w0 = q4 ? load_q4_0(b0 + 2) : _mm256_loadu_si256((const __m256i *)(b0 + 2));
        __m256i w1 = q4 ? load_q4_0(b1 + 2) : _mm256_loadu_si256((const __m256i *)(b1 + 2));
        __m256i p0 = dot_i8(w0, _mm256_loadu_si256((const __m256i *)x[i].qs));
        __m256i p1 = dot_i8(w1, _mm256_loadu_si256((const __m256i *)x[i + 1].qs));
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(b0) * f16(&x[i].d)), _mm256_cvtepi32_ps(p0), a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(f16(b1) * f16(&x[i + 1].d)), _mm256_cvtepi32_ps(p1), a1);
    }
    for (; i < nb; i++) {
        const uint8_t *b0 = w + (size_t)i * bs;
        __m256i w0 = q4 ? load_q4_0(b0 + 2) : _mm256_loadu_si256((const __m256i *)(b0 + 2));
        __m256i p0 = dot_i8(w0, _mm256_loadu_si256((const __m256i *)x[i].qs));
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(b0) * f16(&x[i].d)), _mm256_cvtepi32_ps(p0), a0);
    }
    *out = hsum(_mm256_add_ps(a0, a1));
}
static void dot_q8_0(int64_t n, float *o, const void *w, const void *x) { dot_q8(n, o, w, x, 0); }
static void dot_q4_0(int64_t n, float *o, const void *w, const void *x) { dot_q8(n, o, w, x, 1); }

// Tile of NR activation rows x NC weight rows over q8_0 blocks (decode and small batches; larger ones
// take the packed panel). q8_0: each weight block unpacked once (|w| and w kept), each (row, column)
// pair one sign + maddubs + madd + convert + fma. q4_0: nibbles stay unsigned (0..15), so maddubs
// needs no sign step, and the offset of 8 is 8 * sum(x) per activation block, shared by the NC rows.
INLINE void tile_q8_fixed(int64_t n, const uint8_t *w, size_t ws, const uint8_t *x, size_t xs, float *y,
                          size_t ldy, const int NR, const int NC, int q4) {
    size_t bs = q4 ? sizeof(berry_block_q4_0) : sizeof(berry_block_q8_0);
    const __m256i ones16 = _mm256_set1_epi16(1), ones8 = _mm256_set1_epi8(1), m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[1][8];   // NR is 1 (the only shape Q8_TILE uses)
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++) acc[r][c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i wq[8], wa[8];
        float dw[8];
        for (int c = 0; c < NC; c++) {
            const uint8_t *blk = w + (size_t)c * ws + (size_t)b * bs;
            if (q4) {
                __m128i v = _mm_loadu_si128((const __m128i *)(blk + 2));
                wq[c] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), m4);
            } else {
                wq[c] = _mm256_loadu_si256((const __m256i *)(blk + 2));
                wa[c] = _mm256_sign_epi8(wq[c], wq[c]);
            }
            dw[c] = f16(blk);
        }
        for (int r = 0; r < NR; r++) {
            const berry_block_q8_0 *xb = (const berry_block_q8_0 *)(x + (size_t)r * xs) + b;
            __m256i xq = _mm256_loadu_si256((const __m256i *)xb->qs);
            float dx = f16(&xb->d);
            __m256i xs8 = _mm256_setzero_si256();
            if (q4) xs8 = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xq), ones16), 3);
            for (int c = 0; c < NC; c++) {
                __m256i p = q4 ? _mm256_maddubs_epi16(wq[c], xq) : _mm256_maddubs_epi16(wa[c], _mm256_sign_epi8(xq, wq[c]));
                __m256i i32 = _mm256_madd_epi16(p, ones16);
                if (q4) i32 = _mm256_sub_epi32(i32, xs8);
                acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(dx * dw[c]), _mm256_cvtepi32_ps(i32), acc[r][c]);
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++) y[(size_t)r * ldy + c] = hsum(acc[r][c]);
}

// One activation row against up to 8 weight rows (the decode case).
#define Q8_TILE(name, q4)                                                                               \
    static void name(int64_t n, const void *wv, size_t ws, const void *xv, size_t xs, float *y, size_t ldy, \
                     int nr, int nc) {                                                                  \
        const uint8_t *w = wv, *x = xv;                                                                 \
        if (nr == 1 && nc <= 8) {                                                                      \
            switch (nc) {                                                                               \
            case 1: tile_q8_fixed(n, w, ws, x, xs, y, ldy, 1, 1, q4); return;                            \
            case 2: tile_q8_fixed(n, w, ws, x, xs, y, ldy, 1, 2, q4); return;                            \
            case 3: tile_q8_fixed(n, w, ws, x, xs, y, ldy, 1, 3, q4); return;                            \
            case 4: tile_q8_fixed(n, w, ws, x, xs, y, ldy, 1, 4, q4); return;                            \
            case 5: tile_q8_fixed(n, w, ws, x, xs, y, ldy, 1, 5, q4); return;                            \
            case 6: tile_q8_fixed(n, w, ws, x, xs, y, ldy, 1, 6, q4); return;                            \
            case 7: tile_q8_fixed(n, w, ws, x, xs, y, ldy, 1, 7, q4); return;                            \
            default: tile_q8_fixed(n, w, ws, x, xs, y, ldy, 1, 8, q4); return;                           \
            }                                                                                           \
        }                                                                                               \
        for (int r = 0; r < nr; r++)   /* several rows: one at a time (rows >= 4 take the panel) */     \
            for (int c0 = 0; c0 < nc; c0 += 8)                                                          \
                name(n, w + (size_t)c0 * ws, ws, x + (size_t)r * xs, xs, y + (size_t)r * ldy + c0, ldy, 1,  \
                     nc - c0 < 8 ? nc - c0 : 8);                                                        \
    }
Q8_TILE(tile_q8_0, 0)
Q8_TILE(tile_q4_0, 1)

// Decode, float weights: one row after the other, 32 values a step in four accumulators.
static void matvec_f(int kind, int64_t n, const uint8_t *w, size_t ws, int nc, const void *xv, float *y) {
    for (int c = 0; c < nc; c++) dot_float_pf(n, y + c, w + (size_t)c * ws, xv, kind, 1);
}

// ---- q4_1 / q5_0 / q5_1 weights against q8_0 activations ------------------------------------------

// 0xFF in byte j where bit j of the 32-bit little-endian QH is set: byte j takes byte j / 8 of QH
// (vpshufb within each 128-bit lane; QH is in both), then tests its bit j % 8.
INLINE __m256i bits_to_bytes(const uint8_t *qh) {
    int32_t v;
    memcpy(&v, qh, 4);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(v), _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                                                            0x0101010101010101LL, 0));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit);
}

// The 32 unsigned values of a block (0..15, or 0..31 with the fifth bits) in element order.
// T: 0 q4_1 (nibbles at 4), 1 q5_0 (qh at 2, nibbles at 6), 2 q5_1 (qh at 4, nibbles at 8).
INLINE __m256i load_q45(const uint8_t *blk, int t) {
    __m128i v = _mm_loadu_si128((const __m128i *)(blk + (t == 0 ? 4 : t == 1 ? 6 : 8)));
    __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
    if (t) q = _mm256_or_si256(q, _mm256_and_si256(bits_to_bytes(blk + (t == 1 ? 2 : 4)), _mm256_set1_epi8(0x10)));
    return q;
}

// Decode, q8_0 (KIND 0), q4_0 (KIND 1) or q5_0 (KIND 2) weights. Decode reads every weight once for one activation row,
// so it is bound by memory bandwidth: rows are walked one after the other (adjacent rows are adjacent
// in memory, one sequential stream per thread), four blocks at a time with independent accumulators.
// What depends on X alone is computed once per call for all rows, in chunks of K: each block's scale
// broadcast to a vector and, for q4_0 (q5_0), 8 (16) x its pair sums as int16, so that the offset is
// one 16-bit subtraction ((q - 8) . x = q . x - 8 sum x) and the unsigned values need no sign step
// (q5_0's pair sums, at most 2 * 31 * 127, fit in int16).
enum { MV_CHUNK = 128 };   // activation blocks per chunk of K: 8 KiB of precomputed vectors
static void matvec_q8(int kind, int64_t n, const uint8_t *w, size_t ws, int nc, const void *xv, float *y) {
    const berry_block_q8_0 *x = xv;
    const int q4 = kind == 1, q5 = kind == 2;
    const size_t bs = q5 ? sizeof(berry_block_q5_0) : q4 ? sizeof(berry_block_q4_0) : sizeof(berry_block_q8_0);
    const __m256i ones16 = _mm256_set1_epi16(1), m4 = _mm256_set1_epi8(0x0F);
    const __m256i off = _mm256_set1_epi8(q5 ? 16 : 8);
    __m256 dxv[MV_CHUNK];
    __m256i s8[MV_CHUNK];
    int64_t nb = n / 32;
    for (int64_t b0 = 0; b0 < nb; b0 += MV_CHUNK) {
        int nbc = (int)(nb - b0 < MV_CHUNK ? nb - b0 : MV_CHUNK);
        for (int b = 0; b < nbc; b++) {
            dxv[b] = _mm256_set1_ps(f16(&x[b0 + b].d));
            if (q4 || q5) s8[b] = _mm256_maddubs_epi16(off, _mm256_loadu_si256((const __m256i *)x[b0 + b].qs));
        }
        const berry_block_q8_0 *xc = x + b0;
        for (int c = 0; c < nc; c++) {
            const uint8_t *row = w + (size_t)c * ws + (size_t)b0 * bs;
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
#define MV_Q8_BLOCK(b, a)                                                                                  \
    do {                                                                                                   \
        const uint8_t *blk = row + (size_t)(b) * bs;                                                       \
        __m256i xq = _mm256_loadu_si256((const __m256i *)xc[b].qs), p;                                     \
        if (q5) {                                                                                          \
            p = _mm256_sub_epi16(_mm256_maddubs_epi16(load_q45(blk, 1), xq), s8[b]);                       \
        } else if (q4) {                                                                                   \
            __m128i v = _mm_loadu_si128((const __m128i *)(blk + 2));                                       \
            __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), m4);                   \
            p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, xq), s8[b]);                                      \
        } else {                                                                                           \
            __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 2));                                    \
            p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(xq, q));                     \
        }                                                                                                  \
        __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones16)), dxv[b]);                \
        __m256 dw = _mm256_cvtph_ps(_mm_set1_epi16((short)*(const uint16_t *)blk));                       \
        acc[a] = _mm256_fmadd_ps(dw, f, acc[a]);                                                           \
    } while (0)
            int b = 0;
            for (; b + 4 <= nbc; b += 4) {
                _mm_prefetch((const char *)(row + (size_t)b * bs + 640), _MM_HINT_T0);
                _mm_prefetch((const char *)(row + (size_t)b * bs + 704), _MM_HINT_T0);
                MV_Q8_BLOCK(b, 0);
                MV_Q8_BLOCK(b + 1, 1);
                MV_Q8_BLOCK(b + 2, 2);
                MV_Q8_BLOCK(b + 3, 3);
            }
            for (; b < nbc; b++) MV_Q8_BLOCK(b, 0);
#undef MV_Q8_BLOCK
            float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
            y[c] = b0 ? y[c] + s : s;
        }
    }
}

// NR <= 4 activation rows against NC weight rows (NR * NC <= 16), each weight block unpacked once for
// the NR rows. Values stay unsigned, so vpmaddubsw needs no sign step (pair sums <= 2 * 31 * 127 fit
// in int16). An activation block's sum sx (one maddubs against ones) is shared by the NC rows: q5_0
// subtracts 16 sx from the integer sum; q4_1 / q5_1 add m dx sx as a second fma on lane sums that
// add up to sx.
INLINE void tile_q45_fixed(int64_t n, const uint8_t *w, size_t ws, const uint8_t *x, size_t xs, float *y,
                           size_t ldy, const int NR, const int NC, int t) {
    size_t bs = t == 0 ? sizeof(berry_block_q4_1) : t == 1 ? sizeof(berry_block_q5_0) : sizeof(berry_block_q5_1);
    const __m256i ones16 = _mm256_set1_epi16(1), ones8 = _mm256_set1_epi8(1);
    __m256 acc[4][8];
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++) acc[r][c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i wq[8];
        float dw[8], mw[8];
        for (int c = 0; c < NC; c++) {
            const uint8_t *blk = w + (size_t)c * ws + (size_t)b * bs;
            wq[c] = load_q45(blk, t);
            dw[c] = f16(blk);
            mw[c] = t == 1 ? 0 : f16(blk + 2);
        }
        for (int r = 0; r < NR; r++) {
            const berry_block_q8_0 *xb = (const berry_block_q8_0 *)(x + (size_t)r * xs) + b;
            __m256i xq = _mm256_loadu_si256((const __m256i *)xb->qs);
            float dx = f16(&xb->d);
            __m256i sx = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xq), ones16);
            __m256 sxf = _mm256_cvtepi32_ps(sx);
            __m256i sx16 = _mm256_slli_epi32(sx, 4);
            for (int c = 0; c < NC; c++) {
                __m256i i32 = _mm256_madd_epi16(_mm256_maddubs_epi16(wq[c], xq), ones16);
                if (t == 1) i32 = _mm256_sub_epi32(i32, sx16);
                acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(dw[c] * dx), _mm256_cvtepi32_ps(i32), acc[r][c]);
                if (t != 1) acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(mw[c] * dx), sxf, acc[r][c]);
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NC; c++) y[(size_t)r * ldy + c] = hsum(acc[r][c]);
}

// One row against up to 8 weight rows (decode), or up to 4 x 4 (the matmul's tile for these types).
#define Q45_TILE(name, dotname, t)                                                                      \
    static void name(int64_t n, const void *wv, size_t ws, const void *xv, size_t xs, float *y, size_t ldy, \
                     int nr, int nc) {                                                                  \
        const uint8_t *w = wv, *x = xv;                                                                 \
        if (nr == 1 && nc <= 8) {                                                                      \
            switch (nc) {                                                                               \
            case 1: tile_q45_fixed(n, w, ws, x, xs, y, ldy, 1, 1, t); return;                            \
            case 2: tile_q45_fixed(n, w, ws, x, xs, y, ldy, 1, 2, t); return;                            \
            case 3: tile_q45_fixed(n, w, ws, x, xs, y, ldy, 1, 3, t); return;                            \
            case 4: tile_q45_fixed(n, w, ws, x, xs, y, ldy, 1, 4, t); return;                            \
            case 5: tile_q45_fixed(n, w, ws, x, xs, y, ldy, 1, 5, t); return;                            \
            case 6: tile_q45_fixed(n, w, ws, x, xs, y, ldy, 1, 6, t); return;                            \
            case 7: tile_q45_fixed(n, w, ws, x, xs, y, ldy, 1, 7, t); return;                            \
            default: tile_q45_fixed(n, w, ws, x, xs, y, ldy, 1, 8, t); return;                           \
            }                                                                                           \
        }                                                                                               \
        for (int r0 = 0; r0 < nr; r0 += 4)                                                              \
            for (int c0 = 0; c0 < nc; c0 += 4) {                                                        \
                const uint8_t *wc = w + (size_t)c0 * ws, *xr = x + (size_t)r0 * xs;                     \
                float *yr = y + (size_t)r0 * ldy + c0;                                                  \
                int a = nr - r0 < 4 ? nr - r0 : 4, b = nc - c0 < 4 ? nc - c0 : 4;                       \
                switch (a * 8 + b) {                                                                    \
                case 1 * 8 + 1: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 1, 1, t); break;              \
                case 1 * 8 + 2: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 1, 2, t); break;              \
                case 1 * 8 + 3: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 1, 3, t); break;              \
                case 1 * 8 + 4: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 1, 4, t); break;              \
                case 2 * 8 + 1: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 2, 1, t); break;              \
                case 2 * 8 + 2: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 2, 2, t); break;              \
                case 2 * 8 + 3: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 2, 3, t); break;              \
                case 2 * 8 + 4: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 2, 4, t); break;              \
                case 3 * 8 + 1: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 3, 1, t); break;              \
                case 3 * 8 + 2: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 3, 2, t); break;              \
                case 3 * 8 + 3: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 3, 3, t); break;              \
                case 3 * 8 + 4: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 3, 4, t); break;              \
                case 4 * 8 + 1: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 4, 1, t); break;              \
                case 4 * 8 + 2: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 4, 2, t); break;              \
                case 4 * 8 + 3: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 4, 3, t); break;              \
                default: tile_q45_fixed(n, wc, ws, xr, xs, yr, ldy, 4, 4, t); break;                     \
                }                                                                                       \
            }                                                                                           \
    }                                                                                                   \
    static void dotname(int64_t n, float *o, const void *w, const void *x) {                           \
        tile_q45_fixed(n, w, 0, x, 0, o, 1, 1, 1, t);                                                   \
    }
Q45_TILE(tile_q4_1, dot_q4_1, 0)
Q45_TILE(tile_q5_0, dot_q5_0, 1)
Q45_TILE(tile_q5_1, dot_q5_1, 2)

// ---- packed GEMM panel for q4_0 / q8_0 weights (prefill, batched decode) -------------------------
// Eight weight rows are interleaved in 4-byte groups: for each block and step s (0..7) one vector
// holds values 4s..4s+3 of rows 0..7, so multiplying it by activation values 4s..4s+3 broadcast to
// every lane leaves row c's partial sums in 32-bit lane c. No horizontal sums, and one convert + fma
// per (block, activation row) covers eight weight rows. q4_0 keeps its nibbles unsigned (0..15): the
// int16 pair sums (<= 2 * 15 * 127) of eight steps fit in int16 (<= 30480) before one vpmaddwd, and
// the offset of 8 is 8 * sum(x), precomputed per activation block. q8_0 uses |w| and x signed by w.

// Transposes 8 rows of 8 dwords: out[s] lane c = in[c] lane s.
INLINE void transpose8(__m256i r[8]) {
    __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// Packed layout per block: q4: 8 vectors (steps) of unsigned nibbles; q8: 8 vectors of w then 8 of
// |w|. Scales: 8 floats per block in PD (0 for missing rows, whose values are zero too).
INLINE void pack_q8(int q4, const uint8_t *w, size_t ws, int nc, int64_t b0, int nbs, __m256i *pq, float *pd) {
    size_t bs = q4 == 2 ? sizeof(berry_block_q5_0) : q4 ? sizeof(berry_block_q4_0) : sizeof(berry_block_q8_0);
    for (int b = 0; b < nbs; b++) {
        __m256i r[8];
        for (int c = 0; c < 8; c++) {
            if (c >= nc) { r[c] = _mm256_setzero_si256(); pd[8 * b + c] = 0; continue; }
            const uint8_t *blk = w + (size_t)c * ws + (size_t)(b0 + b) * bs;
            pd[8 * b + c] = f16(blk);
            if (q4 == 2) {
                r[c] = load_q45(blk, 1);
            } else if (q4) {
                __m128i v = _mm_loadu_si128((const __m128i *)(blk + 2));
                r[c] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
            } else {
                r[c] = _mm256_loadu_si256((const __m256i *)(blk + 2));
            }
        }
        transpose8(r);
        __m256i *o = pq + (size_t)b * (q4 ? 8 : 16);
        for (int st = 0; st < 8; st++) {
            _mm256_store_si256(o + st, r[st]);
            if (!q4) _mm256_store_si256(o + 8 + st, _mm256_sign_epi8(r[st], r[st]));
        }
    }
}

// Y[0..nc) = (or += when ADD) the first NC lanes of ACC.
INLINE void store_cols8(float *yr, __m256 acc, int nc, int add) {
    if (nc == 8) {
        _mm256_storeu_ps(yr, add ? _mm256_add_ps(_mm256_loadu_ps(yr), acc) : acc);
        return;
    }
    float t[8];
    _mm256_storeu_ps(t, acc);
    for (int c = 0; c < nc; c++) yr[c] = add ? yr[c] + t[c] : t[c];
}

// Rows r..r+5 of Y from six accumulators (store_cols8).
INLINE void store_rows6(float *y, size_t ldy, int r, __m256 c0, __m256 c1, __m256 c2, __m256 c3, __m256 c4, __m256 c5,
                        int nc, int add) {
    store_cols8(y + (size_t)r * ldy, c0, nc, add);
    store_cols8(y + (size_t)(r + 1) * ldy, c1, nc, add);
    store_cols8(y + (size_t)(r + 2) * ldy, c2, nc, add);
    store_cols8(y + (size_t)(r + 3) * ldy, c3, nc, add);
    store_cols8(y + (size_t)(r + 4) * ldy, c4, nc, add);
    store_cols8(y + (size_t)(r + 5) * ldy, c5, nc, add);
}

// NR activation rows against one packed panel of 8 weight rows.
INLINE void panel_rows(int q4, const __m256i *pq, const float *pd, int64_t b0, int nbs, const berry_act_q8 *x,
                       int r, float *y, size_t ldy, int nc, int add, const int NR) {
    __m256 acc[6];
    const uint8_t *xr[6];
    for (int i = 0; i < NR; i++) { acc[i] = _mm256_setzero_ps(); xr[i] = x->q + (size_t)(r + i) * x->stride; }
    const __m256i ones = _mm256_set1_epi16(1);
    for (int b = 0; b < nbs; b++) {
        const __m256i *P = pq + (size_t)b * (q4 ? 8 : 16);
        __m256i sum[6], part[6];
        for (int i = 0; i < NR; i++) sum[i] = part[i] = _mm256_setzero_si256();
        const uint8_t *xq[6];
        for (int i = 0; i < NR; i++) xq[i] = xr[i] + (size_t)(b0 + b) * sizeof(berry_block_q8_0) + 2;
        if (q4) {
            // Not unrolled: unrolled, GCC computed all the steps' products before summing them and
            // kept them on the stack (q8_0's steps, below, are faster unrolled).
#pragma GCC unroll 1
            for (int st = 0; st < 8; st++) {
                __m256i ws = _mm256_load_si256(P + st);
                for (int i = 0; i < NR; i++) {
                    int32_t xv;
                    memcpy(&xv, xq[i] + 4 * st, 4);
                    sum[i] = _mm256_add_epi16(sum[i], _mm256_maddubs_epi16(ws, _mm256_set1_epi32(xv)));
                }
                // q5_0 (values 0..31): int16 pair sums reach 2 * 31 * 127 a step, so only 4 steps fit
                // before they move to int32.
                if (q4 == 2 && st == 3)
                    for (int i = 0; i < NR; i++) {
                        part[i] = _mm256_madd_epi16(sum[i], ones);
                        sum[i] = _mm256_setzero_si256();
                    }
            }
        } else {
            for (int st = 0; st < 8; st++) {
                __m256i ws = _mm256_load_si256(P + st), wa = _mm256_load_si256(P + 8 + st);
                for (int i = 0; i < NR; i++) {
                    int32_t xv;
                    memcpy(&xv, xq[i] + 4 * st, 4);
                    __m256i p = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(_mm256_set1_epi32(xv), ws));
                    sum[i] = _mm256_add_epi32(sum[i], _mm256_madd_epi16(p, ones));
                }
            }
        }
        __m256 dw = _mm256_loadu_ps(pd + 8 * b);
        for (int i = 0; i < NR; i++) {
            size_t xi = (size_t)(r + i) * (size_t)x->nb + (size_t)(b0 + b);
            __m256i s32 = sum[i];
            if (q4) s32 = _mm256_sub_epi32(_mm256_add_epi32(_mm256_madd_epi16(s32, ones), part[i]),
                                           _mm256_set1_epi32(q4 == 2 ? 2 * x->s8[xi] : x->s8[xi]));
            acc[i] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x->d[xi])), _mm256_cvtepi32_ps(s32), acc[i]);
        }
    }
    for (int i = 0; i < NR; i++) store_cols8(y + (size_t)(r + i) * ldy, acc[i], nc, add);
}

// panel_rows for q4_0 and six activation rows, with named accumulators: with arrays, GCC kept the
// accumulators and block sums on the stack and the per-block conversion (int16 pairs to int32, the
// offset of 8, to float, times both scales) cost more than the products.
INLINE void panel_rows_q4x6(const __m256i *pq, const float *pd, int64_t b0, int nbs, const berry_act_q8 *x, int r,
                            float *y, size_t ldy, int nc, int add) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    const size_t st = x->stride, nb = (size_t)x->nb;
    const uint8_t *q = x->q + (size_t)r * st + (size_t)b0 * sizeof(berry_block_q8_0) + 2;
    const float *d = x->d + (size_t)r * nb + (size_t)b0;
    const int32_t *s8 = x->s8 + (size_t)r * nb + (size_t)b0;
    for (int b = 0; b < nbs; b++) {
        const __m256i *P = pq + (size_t)b * 8;
        const uint8_t *qb = q + (size_t)b * sizeof(berry_block_q8_0);
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0;
        // Not unrolled: unrolled, GCC computed all 48 products first and summed them from the stack.
#pragma GCC unroll 1
        for (int k = 0; k < 8; k++) {
            __m256i w = _mm256_load_si256(P + k);
            int32_t v;
#define ROW(i) memcpy(&v, qb + (size_t)(i) * st + 4 * k, 4); \
               s##i = _mm256_add_epi16(s##i, _mm256_maddubs_epi16(w, _mm256_set1_epi32(v)));
            ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
        }
        __m256 dw = _mm256_loadu_ps(pd + 8 * b);
#define FIN(i) c##i = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(d[(size_t)(i) * nb + b])),                       \
                                      _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(s##i, ones),              \
                                                                          _mm256_set1_epi32(s8[(size_t)(i) * nb + b]))), \
                                      c##i);
        FIN(0) FIN(1) FIN(2) FIN(3) FIN(4) FIN(5)
#undef FIN
    }
    store_rows6(y, ldy, r, c0, c1, c2, c3, c4, c5, nc, add);
}

// Six activation rows against q8_0 weights in 8-row panels, with named accumulators: with arrays and
// the steps unrolled, GCC summed each step's products in a tree through the stack and kept the float
// accumulators there too (one thread, q8_0 prefill: 134 -> 148 tokens/s with this, 141 with four
// rows). PK 0: a panel packed per call (pack_q8: w and |w| per step, f32 scales in PD, block B at
// P + 512 B); PK 1: repacked weights (blocks.h: f16 scales, then w per step; block B at P + B *
// BERRY_PK_BYTES(0)). Blocks [b0, b0 + nbs).
INLINE void q8_rows6(int pk, const uint8_t *P, const float *pd, int64_t b0, int nbs, const berry_act_q8 *x, int r,
                     float *y, size_t ldy, int nc, int add) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    const size_t st = x->stride, nb = (size_t)x->nb;
    const uint8_t *q = x->q + (size_t)r * st + 2;
    const float *d = x->d + (size_t)r * nb;
    for (int64_t b = b0; b < b0 + nbs; b++) {
        const uint8_t *B = pk ? P + (size_t)b * BERRY_PK_BYTES(0) : P + (size_t)(b - b0) * 512;
        if (pk)
            for (int l = 0; l < 5; l++) _mm_prefetch((const char *)(B + 4 * BERRY_PK_BYTES(0) + 64 * l), _MM_HINT_T0);
        const uint8_t *qb = q + (size_t)b * sizeof(berry_block_q8_0);
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0;
#pragma GCC unroll 1
        for (int k = 0; k < 8; k++) {
            __m256i w, a;
            if (pk) {
                w = _mm256_loadu_si256((const __m256i *)(B + 16 + 32 * k));
                a = _mm256_abs_epi8(w);
            } else {
                w = _mm256_load_si256((const __m256i *)B + k);
                a = _mm256_load_si256((const __m256i *)B + 8 + k);
            }
            int32_t v;
#define ROW(i) memcpy(&v, qb + (size_t)(i) * st + 4 * k, 4); \
               s##i = _mm256_add_epi32(s##i, _mm256_madd_epi16(_mm256_maddubs_epi16(a, _mm256_sign_epi8(_mm256_set1_epi32(v), w)), ones));
            ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
        }
        __m256 dw = pk ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B)) : _mm256_loadu_ps(pd + 8 * (b - b0));
#define FIN(i) c##i = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(d[(size_t)(i) * nb + (size_t)b])), _mm256_cvtepi32_ps(s##i), c##i);
        FIN(0) FIN(1) FIN(2) FIN(3) FIN(4) FIN(5)
#undef FIN
    }
    store_rows6(y, ldy, r, c0, c1, c2, c3, c4, c5, nc, add);
}

static void panel_q8(int q4, const uint8_t *w, size_t ws, int nc, int64_t b0, int nbs, const berry_act_q8 *x,
                     int r0, int r1, float *y, size_t ldy, int add) {
    _Alignas(32) __m256i pq[BERRY_PANEL_BLOCKS * 16];
    _Alignas(32) float pd[BERRY_PANEL_BLOCKS * 8];
    if (nbs > BERRY_PANEL_BLOCKS) return;
    pack_q8(q4, w, ws, nc, b0, nbs, pq, pd);
    int r = r0;
    if (q4 == 2) {
        for (; r + 6 <= r1; r += 6) panel_rows(2, pq, pd, b0, nbs, x, r, y, ldy, nc, add, 6);
        for (; r < r1; r++) panel_rows(2, pq, pd, b0, nbs, x, r, y, ldy, nc, add, 1);
    } else if (q4) {
        for (; r + 6 <= r1; r += 6) panel_rows_q4x6(pq, pd, b0, nbs, x, r, y, ldy, nc, add);
        for (; r < r1; r++) panel_rows(1, pq, pd, b0, nbs, x, r, y, ldy, nc, add, 1);
    } else {
        for (; r + 6 <= r1; r += 6) q8_rows6(0, (const uint8_t *)pq, pd, b0, nbs, x, r, y, ldy, nc, add);
        for (; r + 4 <= r1; r += 4) panel_rows(0, pq, pd, b0, nbs, x, r, y, ldy, nc, add, 4);
        for (; r < r1; r++) panel_rows(0, pq, pd, b0, nbs, x, r, y, ldy, nc, add, 1);
    }
}

// ---- repacked q4_0 / q5_0 / q8_0 weights (blocks.h: BERRY_PK_BYTES) -----------------------------------
// The layout of pack_q8's panels, made once at load: no packing per call, so decode reads the weights
// once with no per-block horizontal sums (q4_0's nibbles are unpacked with an and and a shift per
// vector of 8 rows), and batched decode and prefill skip the packing.

// Vector V (0-3) of repacked q4_0 / q5_0 block B (blocks.h): the values of its low nibbles in *LO and of
// its high nibbles in *HI, q5_0's fifth bits (one per byte of the two vectors) included.
INLINE void pk_unpack(int q4, const uint8_t *B, int v, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), b5 = _mm256_set1_epi8(0x10);
    __m256i V = _mm256_loadu_si256((const __m256i *)(B + 16 + 32 * v));
    *lo = _mm256_and_si256(V, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(V, 4), m4);
    if (q4 == 2) {
        *lo = _mm256_or_si256(*lo, _mm256_and_si256(bits_to_bytes(B + 144 + 4 * v), b5));
        *hi = _mm256_or_si256(*hi, _mm256_and_si256(bits_to_bytes(B + 144 + 16 + 4 * v), b5));
    }
}

// NR activation rows against blocks [b0, b0 + nbs) of packed panel P.
INLINE void pk_rows(int q4, const uint8_t *P, int64_t b0, int nbs, const berry_act_q8 *x, int r, float *y,
                    size_t ldy, int nc, int add, const int NR) {
    const size_t pb = BERRY_PK_BYTES(q4);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[6];
    const uint8_t *xr[6];
    for (int i = 0; i < NR; i++) { acc[i] = _mm256_setzero_ps(); xr[i] = x->q + (size_t)(r + i) * x->stride; }
    for (int64_t b = b0; b < b0 + nbs; b++) {
        const uint8_t *B = P + (size_t)b * pb;
        _mm_prefetch((const char *)(B + 4 * pb), _MM_HINT_T0);
        _mm_prefetch((const char *)(B + 4 * pb + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)(B + 4 * pb + 128), _MM_HINT_T0);
        if (!q4) {
            _mm_prefetch((const char *)(B + 4 * pb + 192), _MM_HINT_T0);
            _mm_prefetch((const char *)(B + 4 * pb + 256), _MM_HINT_T0);
        }
        __m256i sum[6], part[6];
        const uint8_t *xq[6];
        for (int i = 0; i < NR; i++) {
            sum[i] = part[i] = _mm256_setzero_si256();
            xq[i] = xr[i] + (size_t)b * sizeof(berry_block_q8_0) + 2;
        }
        if (q4) {
#pragma GCC unroll 1
            for (int v = 0; v < 4; v++) {
                __m256i lo, hi;
                pk_unpack(q4, B, v, &lo, &hi);
                for (int i = 0; i < NR; i++) {
                    int32_t a, h;
                    memcpy(&a, xq[i] + 4 * v, 4);
                    memcpy(&h, xq[i] + 16 + 4 * v, 4);
                    sum[i] = _mm256_add_epi16(sum[i], _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(a)),
                                                                       _mm256_maddubs_epi16(hi, _mm256_set1_epi32(h))));
                }
                // q5_0's pair sums reach 2 * 31 * 127: four of them fit in int16, so half-way through
                // the block they move to int32.
                if (q4 == 2 && v == 1)
                    for (int i = 0; i < NR; i++) {
                        part[i] = _mm256_madd_epi16(sum[i], ones);
                        sum[i] = _mm256_setzero_si256();
                    }
            }
        } else {
#pragma GCC unroll 1
            for (int st = 0; st < 8; st++) {
                __m256i W = _mm256_loadu_si256((const __m256i *)(B + 16 + 32 * st)), A = _mm256_abs_epi8(W);
                for (int i = 0; i < NR; i++) {
                    int32_t a;
                    memcpy(&a, xq[i] + 4 * st, 4);
                    __m256i p = _mm256_maddubs_epi16(A, _mm256_sign_epi8(_mm256_set1_epi32(a), W));
                    sum[i] = _mm256_add_epi32(sum[i], _mm256_madd_epi16(p, ones));
                }
            }
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B));
        for (int i = 0; i < NR; i++) {
            size_t xi = (size_t)(r + i) * (size_t)x->nb + (size_t)b;
            __m256i s32 = sum[i];
            if (q4 == 2) s32 = _mm256_sub_epi32(_mm256_add_epi32(_mm256_madd_epi16(s32, ones), part[i]),
                                                _mm256_set1_epi32(2 * x->s8[xi]));
            else if (q4) s32 = _mm256_sub_epi32(_mm256_madd_epi16(s32, ones), _mm256_set1_epi32(x->s8[xi]));
            acc[i] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x->d[xi])), _mm256_cvtepi32_ps(s32), acc[i]);
        }
    }
    for (int i = 0; i < NR; i++) store_cols8(y + (size_t)(r + i) * ldy, acc[i], nc, add);
}

// Row 0 of X's block B against block B of a repacked panel (at PB): the eight weight rows' integer
// sums, q4_0's offset of 8 (q5_0's 16) taken off.
INLINE __m256i pk_block(int q4, const uint8_t *PB, const uint8_t *xq, int32_t s8) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i sum = _mm256_setzero_si256(), part = sum;
    if (q4) {
        for (int v = 0; v < 4; v++) {
            __m256i lo, hi;
            pk_unpack(q4, PB, v, &lo, &hi);
            int32_t a, h;
            memcpy(&a, xq + 4 * v, 4);
            memcpy(&h, xq + 16 + 4 * v, 4);
            sum = _mm256_add_epi16(sum, _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(a)),
                                                         _mm256_maddubs_epi16(hi, _mm256_set1_epi32(h))));
            // q5_0's pair sums reach 2 * 31 * 127: four fit in int16 (see pk_rows).
            if (q4 == 2 && v == 1) {
                part = _mm256_madd_epi16(sum, ones);
                sum = _mm256_setzero_si256();
            }
        }
        return _mm256_sub_epi32(_mm256_add_epi32(_mm256_madd_epi16(sum, ones), part),
                                _mm256_set1_epi32(q4 == 2 ? 2 * s8 : s8));
    }
    for (int st = 0; st < 8; st++) {
        __m256i W = _mm256_loadu_si256((const __m256i *)(PB + 16 + 32 * st)), A = _mm256_abs_epi8(W);
        int32_t a;
        memcpy(&a, xq + 4 * st, 4);
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(A, _mm256_sign_epi8(_mm256_set1_epi32(a), W)), ones));
    }
    return sum;
}

// Decode over N repacked panels at once (blocks.h berry_pk_streams_fn); the float steps are pk_rows'.
INLINE void pk_streams_n(const int N, int q4, const uint8_t *const *P, const int *nc, int64_t nb,
                         const berry_act_q8 *x, float *const *y) {
    const size_t pb = BERRY_PK_BYTES(q4);
    __m256 acc[BERRY_STREAMS];
    for (int i = 0; i < N; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *xq = x->q + (size_t)b * sizeof(berry_block_q8_0) + 2;
        __m256 dx = _mm256_set1_ps(x->d[b]);
        for (int i = 0; i < N; i++) {
            const uint8_t *B = P[i] + (size_t)b * pb;
            __m256i s = pk_block(q4, B, xq, x->s8[b]);
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B));
            acc[i] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(s), acc[i]);
        }
    }
    for (int i = 0; i < N; i++) store_cols8(y[i], acc[i], nc[i], 0);
}

static void pk_streams(int q4, int n, const uint8_t *const *p, const int *nc, int64_t nb, const berry_act_q8 *x,
                       float *const *y) {
    if (q4 == 2) { BY_COUNT(n, pk_streams_n, 2, p, nc, nb, x, y) }
    else if (q4) { BY_COUNT(n, pk_streams_n, 1, p, nc, nb, x, y) }
    else { BY_COUNT(n, pk_streams_n, 0, p, nc, nb, x, y) }
}

static void panel_pk(int q4, const uint8_t *p, int nc, int64_t b0, int nbs, const berry_act_q8 *x, int r0, int r1,
                     float *y, size_t ldy, int add) {
    int r = r0;
    if (q4 == 2) {
        for (; r + 4 <= r1; r += 4) pk_rows(2, p, b0, nbs, x, r, y, ldy, nc, add, 4);
        for (; r < r1; r++) pk_rows(2, p, b0, nbs, x, r, y, ldy, nc, add, 1);
    } else if (q4) {
        for (; r + 4 <= r1; r += 4) pk_rows(1, p, b0, nbs, x, r, y, ldy, nc, add, 4);
        for (; r < r1; r++) pk_rows(1, p, b0, nbs, x, r, y, ldy, nc, add, 1);
    } else {
        for (; r + 6 <= r1; r += 6) q8_rows6(1, p, NULL, b0, nbs, x, r, y, ldy, nc, add);
        for (; r + 4 <= r1; r += 4) pk_rows(0, p, b0, nbs, x, r, y, ldy, nc, add, 4);
        for (; r < r1; r++) pk_rows(0, p, b0, nbs, x, r, y, ldy, nc, add, 1);
    }
}

// ---- repacked q4_K weights (blocks.h BERRY_PK4K_BYTES) ---------------------------------------------
// As q4_0's panels, per 32-value sub-block: the unsigned nibbles' products summed in int16 over the
// sub-block (at most 8 * 2 * 15 * 127 = 30480), then one vpmaddwd by the rows' 6-bit scales, each
// lane's scale in both its int16 (exact in int32: 2 * 63 * 30480 a sub-block). The mins' term,
// sum over j of m_j * (sum of the activations of sub-block j), is a vpmaddwd a pair of sub-blocks;
// per super-block one conversion and two FMAs a row.

// NR (1-4) rows of q8_K activations (row r + i at X + (r + i) * xs) against super-blocks
// [b0, b0 + nbs) of panel P.
INLINE void q4k_rows(const uint8_t *P, int64_t b0, int nbs, const uint8_t *x, size_t xs, int r, float *y, size_t ldy,
                     int nc, int add, const int NR) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    // Byte c of 8 scale bytes (broadcast to both 128-bit lanes) into both int16 of 32-bit lane c.
    const __m256i spread = _mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1,
                                            4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1);
    __m256 acc[4];
    for (int i = 0; i < NR; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t b = b0; b < b0 + nbs; b++) {
        const uint8_t *B = P + (size_t)b * BERRY_PK4K_BYTES;
        const berry_block_q8_K *xb[4];
        __m256i isum[4];
        for (int i = 0; i < NR; i++) {
            xb[i] = (const berry_block_q8_K *)(x + (size_t)(r + i) * xs) + b;
            isum[i] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 8; j++) {
            int64_t sc8;
            memcpy(&sc8, B + 32 + 8 * j, 8);
            __m256i scv = _mm256_shuffle_epi8(_mm256_set1_epi64x(sc8), spread);
            __m256i s16[4];
            for (int i = 0; i < NR; i++) s16[i] = _mm256_setzero_si256();
#pragma GCC unroll 1
            for (int v = 0; v < 4; v++) {
                __m256i V = _mm256_loadu_si256((const __m256i *)(B + 160 + 128 * j + 32 * v));
                __m256i lo = _mm256_and_si256(V, m4), hi = _mm256_and_si256(_mm256_srli_epi16(V, 4), m4);
                for (int i = 0; i < NR; i++) {
                    int32_t a, h;
                    memcpy(&a, xb[i]->qs + 32 * j + 4 * v, 4);
                    memcpy(&h, xb[i]->qs + 32 * j + 16 + 4 * v, 4);
                    s16[i] = _mm256_add_epi16(s16[i], _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(a)),
                                                                       _mm256_maddubs_epi16(hi, _mm256_set1_epi32(h))));
                }
            }
            for (int i = 0; i < NR; i++) isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(s16[i], scv));
        }
        // Mins of sub-blocks 2k and 2k + 1 as the two int16 of each lane, against the activations'
        // sub-block sums (pairs of bsums) of those two sub-blocks.
        __m256i mp[4];
        for (int k = 0; k < 4; k++)
            mp[k] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(B + 96 + 16 * k)),
                                                           _mm_loadl_epi64((const __m128i *)(B + 96 + 16 * k + 8))));
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B));
        __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(B + 16)));
        for (int i = 0; i < NR; i++) {
            __m128i xsv = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb[i]->bsums),
                                         _mm_loadu_si128((const __m128i *)(xb[i]->bsums + 8)));
            __m256i msum = _mm256_madd_epi16(mp[0], _mm256_broadcastd_epi32(xsv));
            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mp[1], _mm256_broadcastd_epi32(_mm_shuffle_epi32(xsv, 0x55))));
            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mp[2], _mm256_broadcastd_epi32(_mm_shuffle_epi32(xsv, 0xAA))));
            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mp[3], _mm256_broadcastd_epi32(_mm_shuffle_epi32(xsv, 0xFF))));
            __m256 dx = _mm256_set1_ps(xb[i]->d);
            acc[i] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(isum[i]), acc[i]);
            acc[i] = _mm256_fnmadd_ps(_mm256_mul_ps(dm, dx), _mm256_cvtepi32_ps(msum), acc[i]);
        }
    }
    for (int i = 0; i < NR; i++) store_cols8(y + (size_t)(r + i) * ldy, acc[i], nc, add);
}

// Decode: one row of q8_K activations against N (1-4) repacked q4_K panels side by side (four
// streams, as pk_streams), with q4k_rows' integer sums and float steps.
INLINE void q4k_streams_n(const int N, const uint8_t *const *P, const int *nc, int64_t nb, const uint8_t *x,
                          float *const *y) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i spread = _mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1,
                                            4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1);
    __m256 acc[BERRY_STREAMS];
    for (int n = 0; n < N; n++) acc[n] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const berry_block_q8_K *xb = (const berry_block_q8_K *)x + b;
        __m128i xsv = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb->bsums),
                                     _mm_loadu_si128((const __m128i *)(xb->bsums + 8)));
        __m256i xp[4] = {_mm256_broadcastd_epi32(xsv), _mm256_broadcastd_epi32(_mm_shuffle_epi32(xsv, 0x55)),
                         _mm256_broadcastd_epi32(_mm_shuffle_epi32(xsv, 0xAA)),
                         _mm256_broadcastd_epi32(_mm_shuffle_epi32(xsv, 0xFF))};
        __m256 dx = _mm256_set1_ps(xb->d);
        for (int n = 0; n < N; n++) {
            const uint8_t *B = P[n] + (size_t)b * BERRY_PK4K_BYTES;
            __m256i isum = _mm256_setzero_si256();
            for (int j = 0; j < 8; j++) {
                int64_t sc8;
                memcpy(&sc8, B + 32 + 8 * j, 8);
                __m256i s16 = _mm256_setzero_si256();
                for (int v = 0; v < 4; v++) {
                    __m256i V = _mm256_loadu_si256((const __m256i *)(B + 160 + 128 * j + 32 * v));
                    int32_t a, h;
                    memcpy(&a, xb->qs + 32 * j + 4 * v, 4);
                    memcpy(&h, xb->qs + 32 * j + 16 + 4 * v, 4);
                    s16 = _mm256_add_epi16(s16, _mm256_add_epi16(
                        _mm256_maddubs_epi16(_mm256_and_si256(V, m4), _mm256_set1_epi32(a)),
                        _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(V, 4), m4), _mm256_set1_epi32(h))));
                }
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(s16, _mm256_shuffle_epi8(_mm256_set1_epi64x(sc8), spread)));
            }
            __m256i msum = _mm256_setzero_si256();
            for (int k = 0; k < 4; k++) {
                __m256i mp = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(B + 96 + 16 * k)),
                                                                    _mm_loadl_epi64((const __m128i *)(B + 96 + 16 * k + 8))));
                msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mp, xp[k]));
            }
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B));
            __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(B + 16)));
            acc[n] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(isum), acc[n]);
            acc[n] = _mm256_fnmadd_ps(_mm256_mul_ps(dm, dx), _mm256_cvtepi32_ps(msum), acc[n]);
        }
    }
    for (int n = 0; n < N; n++) store_cols8(y[n], acc[n], nc[n], 0);
}

static void q4k_streams(int n, const uint8_t *const *p, const int *nc, int64_t nb, const uint8_t *x, float *const *y) {
    BY_COUNT(n, q4k_streams_n, p, nc, nb, x, y)
}

static void panel_q4k(const uint8_t *p, int nc, int64_t b0, int nbs, const uint8_t *x, size_t xs, int r0, int r1,
                      float *y, size_t ldy, int add) {
    int r = r0;
    for (; r + 4 <= r1; r += 4) q4k_rows(p, b0, nbs, x, xs, r, y, ldy, nc, add, 4);
    for (; r < r1; r++) q4k_rows(p, b0, nbs, x, xs, r, y, ldy, nc, add, 1);
}

// ---- repacked q6_K weights (blocks.h BERRY_PK6K_BYTES) ---------------------------------------------
// Values as bytes (0..63): two vpmaddubsw of 8 rows x 4 values fit in int16 (2 * 2 * 63 * 127), then
// one vpmaddwd by the rows' scales (each lane's int8 scale sign-extended into both its int16). The
// offset of 32 is 32 * sum over sub-blocks of scale * (the activations' sub-block sum, q8_K's bsums),
// one vpmaddwd a pair of sub-blocks, taken off in int32 before the one conversion a super-block.

// Super-block B against one row XB of activations: the 8 rows' integer sums, offset applied.
INLINE __m256i q6k_block(const uint8_t *B, const berry_block_q8_K *xb) {
    __m256i isum = _mm256_setzero_si256(), osum = isum, prev = isum;
    for (int j = 0; j < 16; j++) {
        __m256i scv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(B + 16 + 16 * j)));
        const uint8_t *V = B + 272 + 128 * j;
        const int8_t *xq = xb->qs + 16 * j;
        int32_t a0, a1, a2, a3;
        memcpy(&a0, xq, 4);
        memcpy(&a1, xq + 4, 4);
        memcpy(&a2, xq + 8, 4);
        memcpy(&a3, xq + 12, 4);
        __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)V), _mm256_set1_epi32(a0)),
                                       _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(V + 32)), _mm256_set1_epi32(a1)));
        __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(V + 64)), _mm256_set1_epi32(a2)),
                                       _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)(V + 96)), _mm256_set1_epi32(a3)));
        isum = _mm256_add_epi32(isum, _mm256_add_epi32(_mm256_madd_epi16(p01, scv), _mm256_madd_epi16(p23, scv)));
        if (j & 1) {
            int32_t bs;
            memcpy(&bs, xb->bsums + j - 1, 4);
            osum = _mm256_add_epi32(osum, _mm256_madd_epi16(_mm256_blend_epi16(prev, scv, 0xAA), _mm256_set1_epi32(bs)));
        }
        prev = scv;
    }
    return _mm256_sub_epi32(isum, _mm256_slli_epi32(osum, 5));
}

static void panel_q6k(const uint8_t *p, int nc, int64_t b0, int nbs, const uint8_t *x, size_t xs, int r0, int r1,
                      float *y, size_t ldy, int add) {
    for (int r = r0; r < r1; r++) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = b0; b < b0 + nbs; b++) {
            const uint8_t *B = p + (size_t)b * BERRY_PK6K_BYTES;
            const berry_block_q8_K *xb = (const berry_block_q8_K *)(x + (size_t)r * xs) + b;
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B));
            acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(xb->d)), _mm256_cvtepi32_ps(q6k_block(B, xb)), acc);
        }
        store_cols8(y + (size_t)r * ldy, acc, nc, add);
    }
}

INLINE void q6k_streams_n(const int N, const uint8_t *const *P, const int *nc, int64_t nb, const uint8_t *x,
                          float *const *y) {
    __m256 acc[BERRY_STREAMS];
    for (int n = 0; n < N; n++) acc[n] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const berry_block_q8_K *xb = (const berry_block_q8_K *)x + b;
        __m256 dx = _mm256_set1_ps(xb->d);
        for (int n = 0; n < N; n++) {
            const uint8_t *B = P[n] + (size_t)b * BERRY_PK6K_BYTES;
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B));
            acc[n] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(q6k_block(B, xb)), acc[n]);
        }
    }
    for (int n = 0; n < N; n++) store_cols8(y[n], acc[n], nc[n], 0);
}

static void q6k_streams(int n, const uint8_t *const *p, const int *nc, int64_t nb, const uint8_t *x, float *const *y) {
    BY_COUNT(n, q6k_streams_n, p, nc, nb, x, y)
}

// ---- packed GEMM panel for float weights ----------------------------------------------------------
// Sixteen weight rows converted to f32 and stored k-major (16 floats per k: rows 0..7, then 8..15),
// so that one broadcast activation value times two weight vectors feeds sixteen outputs. Six
// activation rows x sixteen weight rows: 12 accumulators, per k 2 loads, 6 broadcasts, 12 FMAs.

INLINE void pack_f(int kind, const uint8_t *w, size_t ws, int nc, int64_t k0, int nk, float *p) {
    for (int half = 0; half < 2; half++)
        for (int kk = 0; kk < nk; kk += 8) {
            __m256i r[8];
            for (int c = 0; c < 8; c++) {
                int row = 8 * half + c;
                r[c] = row < nc ? _mm256_castps_si256(load_w8(w + (size_t)row * ws, k0 + kk, kind)) : _mm256_setzero_si256();
            }
            transpose8(r);
            for (int t = 0; t < 8; t++) _mm256_store_ps(p + (size_t)(kk + t) * 16 + 8 * half, _mm256_castsi256_ps(r[t]));
        }
}

// Named accumulators rather than an array: with an array GCC stored every accumulator to the stack
// on every iteration (and the stores then aliased the packed-weight loads).
INLINE void store_f16cols(float *yr, __m256 a0, __m256 a1, int nc, int add) {
    if (nc == 16) {
        if (add) {
            a0 = _mm256_add_ps(a0, _mm256_loadu_ps(yr));
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(yr + 8));
        }
        _mm256_storeu_ps(yr, a0);
        _mm256_storeu_ps(yr + 8, a1);
    } else {
        float t[16];
        _mm256_storeu_ps(t, a0);
        _mm256_storeu_ps(t + 8, a1);
        for (int c = 0; c < nc; c++) yr[c] = add ? yr[c] + t[c] : t[c];
    }
}

// P: 16 weights per k, as f32 (H 0, the per-call packing) or f16 (H 1, weights repacked at load).
INLINE void panel_f_rows(const void *p, const int H, int nk, const float *x, size_t xs, int r, float *y, size_t ldy,
                         int nc, int add, const int NR) {
    __m256 z = _mm256_setzero_ps();
    __m256 a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z, a40 = z, a41 = z, a50 = z, a51 = z;
    const float *x0 = x + (size_t)r * xs, *x1 = x0 + xs, *x2 = x1 + xs, *x3 = x2 + xs, *x4 = x3 + xs, *x5 = x4 + xs;
    const float *pf = p;
    const uint16_t *ph = p;
    for (int kk = 0; kk < nk; kk++) {
        __m256 w0, w1, xb;
        if (H) {
            w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ph + (size_t)kk * 16)));
            w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ph + (size_t)kk * 16 + 8)));
        } else {
            w0 = _mm256_load_ps(pf + (size_t)kk * 16);
            w1 = _mm256_load_ps(pf + (size_t)kk * 16 + 8);
        }
#define ROW(i)                                                  \
        if (NR > i) {                                           \
            xb = _mm256_broadcast_ss(x##i + kk);                \
            a##i##0 = _mm256_fmadd_ps(w0, xb, a##i##0);         \
            a##i##1 = _mm256_fmadd_ps(w1, xb, a##i##1);         \
        }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
    float *yr = y + (size_t)r * ldy;
    if (NR > 0) store_f16cols(yr, a00, a01, nc, add);
    if (NR > 1) store_f16cols(yr + ldy, a10, a11, nc, add);
    if (NR > 2) store_f16cols(yr + 2 * ldy, a20, a21, nc, add);
    if (NR > 3) store_f16cols(yr + 3 * ldy, a30, a31, nc, add);
    if (NR > 4) store_f16cols(yr + 4 * ldy, a40, a41, nc, add);
    if (NR > 5) store_f16cols(yr + 5 * ldy, a50, a51, nc, add);
}

static void panel_f(int kind, const uint8_t *w, size_t ws, int nc, int64_t k0, int nk, const float *x, size_t xs,
                    int r0, int r1, float *y, size_t ldy, int add) {
    _Alignas(32) float p[BERRY_PANEL_FLOATS * 16];
    if (nk > BERRY_PANEL_FLOATS || nk % 8) return;
    pack_f(kind, w, ws, nc, k0, nk, p);
    const float *xk = x + k0;
    int r = r0;
    for (; r + 6 <= r1; r += 6) panel_f_rows(p, 0, nk, xk, xs, r, y, ldy, nc, add, 6);
    switch (r1 - r) {
    case 5: panel_f_rows(p, 0, nk, xk, xs, r, y, ldy, nc, add, 5); break;
    case 4: panel_f_rows(p, 0, nk, xk, xs, r, y, ldy, nc, add, 4); break;
    case 3: panel_f_rows(p, 0, nk, xk, xs, r, y, ldy, nc, add, 3); break;
    case 2: panel_f_rows(p, 0, nk, xk, xs, r, y, ldy, nc, add, 2); break;
    case 1: panel_f_rows(p, 0, nk, xk, xs, r, y, ldy, nc, add, 1); break;
    }
}

// f16 weights repacked at load (blocks.h BERRY_PKF_BYTES): no packing per call. One activation row
// (decode) streams the panel with four accumulators, two k at a time.
static void panel_fpk(const uint8_t *P, int nc, int64_t k0, int nk, const float *x, size_t xs, int r0, int r1, float *y,
                      size_t ldy, int add) {
    const uint16_t *p = (const uint16_t *)P + (size_t)k0 * 16;
    const float *xk = x + k0;
    if (r1 - r0 == 1) {
        const float *xr = xk + (size_t)r0 * xs;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int kk = 0;
        for (; kk + 2 <= nk; kk += 2) {
            _mm_prefetch((const char *)(p + (size_t)kk * 16 + 512), _MM_HINT_T0);
            __m256 x0 = _mm256_broadcast_ss(xr + kk), x1 = _mm256_broadcast_ss(xr + kk + 1);
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + (size_t)kk * 16))), x0, a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + (size_t)kk * 16 + 8))), x0, a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + (size_t)kk * 16 + 16))), x1, a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + (size_t)kk * 16 + 24))), x1, a3);
        }
        for (; kk < nk; kk++) {
            __m256 x0 = _mm256_broadcast_ss(xr + kk);
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + (size_t)kk * 16))), x0, a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + (size_t)kk * 16 + 8))), x0, a1);
        }
        store_f16cols(y + (size_t)r0 * ldy, _mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3), nc, add);
        return;
    }
    int r = r0;
    if (r1 - r0 >= 24 && nk <= BERRY_PANEL_FLOATS) {
        // Many rows (prefill): the slice converted to f32 once, so the inner loop only loads (for a
        // few rows, converting as they go costs less than the pass over the slice).
        _Alignas(32) float pf[BERRY_PANEL_FLOATS * 16];
        for (int i = 0; i < nk * 16; i += 8) _mm256_store_ps(pf + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + i))));
        for (; r + 6 <= r1; r += 6) panel_f_rows(pf, 0, nk, xk, xs, r, y, ldy, nc, add, 6);
        switch (r1 - r) {
        case 5: panel_f_rows(pf, 0, nk, xk, xs, r, y, ldy, nc, add, 5); break;
        case 4: panel_f_rows(pf, 0, nk, xk, xs, r, y, ldy, nc, add, 4); break;
        case 3: panel_f_rows(pf, 0, nk, xk, xs, r, y, ldy, nc, add, 3); break;
        case 2: panel_f_rows(pf, 0, nk, xk, xs, r, y, ldy, nc, add, 2); break;
        case 1: panel_f_rows(pf, 0, nk, xk, xs, r, y, ldy, nc, add, 1); break;
        }
        return;
    }
    for (; r + 6 <= r1; r += 6) panel_f_rows(p, 1, nk, xk, xs, r, y, ldy, nc, add, 6);
    switch (r1 - r) {
    case 5: panel_f_rows(p, 1, nk, xk, xs, r, y, ldy, nc, add, 5); break;
    case 4: panel_f_rows(p, 1, nk, xk, xs, r, y, ldy, nc, add, 4); break;
    case 3: panel_f_rows(p, 1, nk, xk, xs, r, y, ldy, nc, add, 3); break;
    case 2: panel_f_rows(p, 1, nk, xk, xs, r, y, ldy, nc, add, 2); break;
    case 1: panel_f_rows(p, 1, nk, xk, xs, r, y, ldy, nc, add, 1); break;
    }
}

// Decode over N repacked f16 panels at once (blocks.h berry_fpk_streams_fn), two accumulators a panel.
INLINE void fpk_streams_n(const int N, const uint8_t *const *P, const int *nc, int64_t k, const float *x,
                          float *const *y) {
    __m256 a[BERRY_STREAMS][2];
    const uint16_t *p[BERRY_STREAMS];
    for (int i = 0; i < N; i++) {
        a[i][0] = a[i][1] = _mm256_setzero_ps();
        p[i] = (const uint16_t *)P[i];
    }
    for (int64_t kk = 0; kk < k; kk++) {
        __m256 xb = _mm256_broadcast_ss(x + kk);
        for (int i = 0; i < N; i++) {
            a[i][0] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p[i] + (size_t)kk * 16))), xb, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p[i] + (size_t)kk * 16 + 8))), xb, a[i][1]);
        }
    }
    for (int i = 0; i < N; i++) store_f16cols(y[i], a[i][0], a[i][1], nc[i], 0);
}

static void fpk_streams(int n, const uint8_t *const *p, const int *nc, int64_t k, const float *x, float *const *y) {
    BY_COUNT(n, fpk_streams_n, p, nc, k, x, y)
}

// ---- K-quants against q8_K activations ----------------------------------------------------------
// Integer sums per super-block are exact, and the float steps are the scalar reference's in the same
// order, so these agree with it bit for bit.

// The 8 sub-block scales and mins of a q4_K / q5_K block's 12 scale bytes, from the layout
// berry_k4_scale_min reads one at a time: with u0, u1, u2 the three little-endian words, scales 0-3
// are u0's bytes & 63, mins 0-3 u1's bytes & 63, scales 4-7 the low nibbles of u2's bytes plus the top
// two bits of u0's bytes as bits 4-5, mins 4-7 the high nibbles of u2's bytes plus the top two bits
// of u1's. Returns the scales as eight int16 in both 128-bit lanes (for per-sub-block broadcasts) and
// sets *MINS to the mins as sixteen int16, each twice (m0 m0 m1 m1 ..., against the 16 bsums).
INLINE __m256i k4_scales(const uint8_t *q, __m256i *mins) {
    uint32_t u0, u1, u2;
    memcpy(&u0, q, 4);
    memcpy(&u1, q + 4, 4);
    memcpy(&u2, q + 8, 4);
    const uint32_t low6 = 0x3f3f3f3f, nib = 0x0f0f0f0f, top2 = 0x03030303;
    uint32_t sc_lo = u0 & low6, m_lo = u1 & low6;
    uint32_t sc_hi = (u2 & nib) | (((u0 >> 6) & top2) << 4), m_hi = ((u2 >> 4) & nib) | (((u1 >> 6) & top2) << 4);
    __m128i sc8 = _mm_set_epi32(0, 0, (int)sc_hi, (int)sc_lo), m8 = _mm_set_epi32(0, 0, (int)m_hi, (int)m_lo);
    *mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
    __m128i sc16 = _mm_cvtepu8_epi16(sc8);
    return _mm256_set_m128i(sc16, sc16);
}

// Sub-block J's scale (from k4_scales) in every int16 lane.
INLINE __m256i k4_scale_bcast(__m256i sc, int j) {
    return _mm256_shuffle_epi8(sc, _mm256_set1_epi16((short)(0x0100 * (2 * j + 1) + 2 * j)));
}

// sum over j of m_j (bsums[2j] + bsums[2j+1]): the q4_K / q5_K min term, in integers.
INLINE int k4_summ(__m256i mins, const int16_t *bsums) {
    return hsum_i32(_mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)bsums)));
}

// A q4_K / q5_K super-block A4 against activation block XB: the scaled products' integer sums as 8
// lanes, and *MINS the sub-block mins (k4_scales).
INLINE __m256i k45_sumi(const berry_block_q4_K *a4, int five, const berry_block_q8_K *xb, __m256i *mins) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const berry_block_q5_K *a5 = (const berry_block_q5_K *)a4;
    const uint8_t *qs = five ? a5->qs : a4->qs;
    __m256i sc = k4_scales(a4->scales, mins);
    __m256i hv = five ? _mm256_loadu_si256((const __m256i *)a5->qh) : _mm256_setzero_si256();
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (five) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hv, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hv, 1), one), 4));
            hv = _mm256_srli_epi16(hv, 2);
        }
        __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(xb->qs + 64 * c)));
        __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xb->qs + 64 * c + 32)));
        p0 = _mm256_madd_epi16(p0, k4_scale_bcast(sc, 2 * c));
        p1 = _mm256_madd_epi16(p1, k4_scale_bcast(sc, 2 * c + 1));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
    }
    return sumi;
}

INLINE void dot_q45K(int64_t n, float *out, const uint8_t *w, const void *xv, int five) {
    const berry_block_q8_K *x = xv;
    size_t bsize = five ? sizeof(berry_block_q5_K) : sizeof(berry_block_q4_K);
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const berry_block_q4_K *a4 = (const berry_block_q4_K *)(w + (size_t)i * bsize);
        __m256i mins, sumi = k45_sumi(a4, five, &x[i], &mins);
        int summ = k4_summ(mins, x[i].bsums);
        float d = f16(&a4->d) * x[i].d, dmin = f16(&a4->dmin) * x[i].d;
        s += d * (float)hsum_i32(sumi) - dmin * (float)summ;
    }
    *out = s;
}
static void dot_q4_K(int64_t n, float *o, const void *w, const void *x) { dot_q45K(n, o, w, x, 0); }
static void dot_q5_K(int64_t n, float *o, const void *w, const void *x) { dot_q45K(n, o, w, x, 1); }

// A q6_K block's 16 int8 scales as int16 (one vector), for q6_scale_pair and q6_off.
INLINE __m256i q6_scales(const int8_t *scales) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
}

// Scales 2k and 2k + 1 (the two 16-value sub-blocks of a 32-value vector) in the low and high lanes.
INLINE __m256i q6_scale_pair(__m256i sc16, int k) {
    __m256i pair = _mm256_permutevar8x32_epi32(sc16, _mm256_set1_epi32(k));   // (sc[2k], sc[2k+1]) everywhere
    return _mm256_shuffle_epi8(pair, _mm256_set_epi64x(0x0302030203020302LL, 0x0302030203020302LL,
                                                       0x0100010001000100LL, 0x0100010001000100LL));
}

// sum over j of scales[j] bsums[j], in integers (one vpmaddwd).
INLINE int q6_off(__m256i sc16, const int16_t *bsums) {
    return hsum_i32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)bsums)));
}

// One q6_K super-block's integer sum of scale * value * x over its 16 sub-blocks, before the -32
// offset: the 6-bit values (0..63) are rebuilt from ql and qh, 128 at a time.
INLINE __m256i q6_sumi(const berry_block_q6_K *a, const int8_t *xq, __m256i sc16) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        __m256i l0 = _mm256_loadu_si256((const __m256i *)(a->ql + 64 * h));
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(a->ql + 64 * h + 32));
        __m256i qh = _mm256_loadu_si256((const __m256i *)(a->qh + 32 * h));
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
        for (int k = 0; k < 4; k++) {
            __m256i p = _mm256_maddubs_epi16(q[k], _mm256_loadu_si256((const __m256i *)(xq + 128 * h + 32 * k)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, q6_scale_pair(sc16, 4 * h + k)));
        }
    }
    return sumi;
}

// q6_K: the 6-bit values (0..63) times x, minus 32 * sum(x) per 16-value sub-block via bsums.
static void dot_q6_K(int64_t n, float *out, const void *wv, const void *xv) {
    const berry_block_q6_K *a = wv;
    const berry_block_q8_K *x = xv;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        __m256i sc16 = q6_scales(a[i].scales);
        int off = q6_off(sc16, x[i].bsums);
        __m256i sumi = q6_sumi(&a[i], x[i].qs, sc16);
        s += f16(&a[i].d) * x[i].d * (float)(hsum_i32(sumi) - 32 * off);
    }
    *out = s;
}

// K-quant tiles: each weight super-block is unpacked once (values, scales, mins) and used against up
// to four activation rows. Per row the integer sums and float steps are dot_q45K's / dot_q6_K's, so
// the results equal the dot products bit for bit.
INLINE void tile_q45K_row(int64_t n, const uint8_t *w, const uint8_t *x, size_t xs, float *y, size_t ldy, int nr,
                          int five) {
    size_t bsize = five ? sizeof(berry_block_q5_K) : sizeof(berry_block_q4_K);
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    float s[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < n / 256; i++) {
        const berry_block_q4_K *a4 = (const berry_block_q4_K *)(w + (size_t)i * bsize);
        const berry_block_q5_K *a5 = (const berry_block_q5_K *)(w + (size_t)i * bsize);
        const uint8_t *qs = five ? a5->qs : a4->qs;
        __m256i mins, sc = k4_scales(a4->scales, &mins);
        __m256i hv = five ? _mm256_loadu_si256((const __m256i *)a5->qh) : _mm256_setzero_si256();
        __m256i q[8];
        for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            q[2 * c] = _mm256_and_si256(v, m4);
            q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (five) {
                q[2 * c] = _mm256_or_si256(q[2 * c], _mm256_slli_epi16(_mm256_and_si256(hv, one), 4));
                q[2 * c + 1] = _mm256_or_si256(q[2 * c + 1], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hv, 1), one), 4));
                hv = _mm256_srli_epi16(hv, 2);
            }
        }
        float d16 = f16(&a4->d), dm16 = f16(&a4->dmin);
        for (int r = 0; r < nr; r++) {
            const berry_block_q8_K *xb = (const berry_block_q8_K *)(x + (size_t)r * xs) + i;
            int summ = k4_summ(mins, xb->bsums);
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 8; j++) {
                __m256i p = _mm256_maddubs_epi16(q[j], _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * j)));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, k4_scale_bcast(sc, j)));
            }
            float d = d16 * xb->d, dmin = dm16 * xb->d;
            s[r] += d * (float)hsum_i32(sumi) - dmin * (float)summ;
        }
    }
    for (int r = 0; r < nr; r++) y[(size_t)r * ldy] = s[r];
}

INLINE void tile_q6K_row(int64_t n, const uint8_t *w, const uint8_t *x, size_t xs, float *y, size_t ldy, int nr) {
    const berry_block_q6_K *a = (const berry_block_q6_K *)w;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    float s[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < n / 256; i++) {
        __m256i q[8], scv[8];
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h));
            q[4 * h] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
            q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                           _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
        }
        __m256i sc16 = q6_scales(a[i].scales);
        for (int k = 0; k < 8; k++) scv[k] = q6_scale_pair(sc16, k);
        float d16 = f16(&a[i].d);
        for (int r = 0; r < nr; r++) {
            const berry_block_q8_K *xb = (const berry_block_q8_K *)(x + (size_t)r * xs) + i;
            int off = q6_off(sc16, xb->bsums);
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 8; j++) {
                __m256i p = _mm256_maddubs_epi16(q[j], _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * j)));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scv[j]));
            }
            s[r] += d16 * xb->d * (float)(hsum_i32(sumi) - 32 * off);
        }
    }
    for (int r = 0; r < nr; r++) y[(size_t)r * ldy] = s[r];
}

// Tiles of up to 4 activation rows x any number of weight rows, one weight row at a time.
#define KQ_TILE(name, call)                                                                             \
    static void name(int64_t n, const void *wv, size_t ws, const void *xv, size_t xs, float *y, size_t ldy, \
                     int nr, int nc) {                                                                  \
        const uint8_t *x = xv;                                                                          \
        for (int c = 0; c < nc; c++) {                                                                  \
            const uint8_t *w = (const uint8_t *)wv + (size_t)c * ws;                                    \
            for (int r0 = 0; r0 < nr; r0 += 4) {                                                        \
                int k = nr - r0 < 4 ? nr - r0 : 4;                                                      \
                const uint8_t *xr = x + (size_t)r0 * xs;                                                \
                float *yr = y + (size_t)r0 * ldy + c;                                                   \
                call;                                                                                   \
            }                                                                                           \
        }                                                                                               \
    }
KQ_TILE(tile_q4_K, tile_q45K_row(n, w, xr, xs, yr, ldy, k, 0))
KQ_TILE(tile_q5_K, tile_q45K_row(n, w, xr, xs, yr, ldy, k, 1))
KQ_TILE(tile_q6_K, tile_q6K_row(n, w, xr, xs, yr, ldy, k))

// ---- K-quant decode --------------------------------------------------------------------------------
// One activation row (decode) against many weight rows. The tiles above finish every super-block
// with two horizontal sums and scalar float steps, which left decode of a Llama-3.2-1B q4_K compute
// bound at 25 tok/s on 2 threads (tile_q4_K 95% of the time). Here a row's super-blocks accumulate in
// float vectors (scale times integer sums, minus dmin times the mins' sums) with one horizontal sum a
// row, and four rows from four parts of the range go side by side (four streams, more independent
// work). The integer sums are exact as before; the float order differs from the dot products.

// Super-block I of a q4_K / q5_K row against X: ACC += d * (sum of scaled products), MACC += dmin * (sum
// of mins times the activations' sums), as 8 lanes each.
INLINE void kq45_block(const uint8_t *w, int64_t i, const berry_block_q8_K *x, int five, __m256 *acc, __m256 *macc) {
    const berry_block_q4_K *a4 = (const berry_block_q4_K *)(w + (size_t)i * (five ? sizeof(berry_block_q5_K) : sizeof(berry_block_q4_K)));
    const berry_block_q8_K *xb = x + i;
    __m256i mins, sumi = k45_sumi(a4, five, xb, &mins);
    __m256i summ = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)xb->bsums));
    // d and dmin (adjacent f16) converted together, times the activations' scale.
    uint32_t dd;
    memcpy(&dd, &a4->d, 4);
    __m128 ds = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)dd)), _mm_set1_ps(xb->d));
    *acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(ds), _mm256_cvtepi32_ps(sumi), *acc);
    *macc = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(ds)), _mm256_cvtepi32_ps(summ), *macc);
}

// Super-block I of a q6_K row against X: ACC += d * (sum of scaled products - 32 * scaled sums of x).
INLINE void kq6_block(const uint8_t *w, int64_t i, const berry_block_q8_K *x, __m256 *acc) {
    const berry_block_q6_K *a = (const berry_block_q6_K *)w + i;
    const berry_block_q8_K *xb = x + i;
    __m256i sc16 = q6_scales(a->scales);
    __m256i sumi = q6_sumi(a, xb->qs, sc16);
    // 32 * sum_j scales[j] * bsums[j], lane-wise, taken off before the conversion (exact in int32).
    __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)xb->bsums)), 5);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(&a->d) * xb->d), _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi, off)), *acc);
}

// Y[r] = dot(row W[r], X) for N (1-4) rows of KIND (0 q4_K, 1 q5_K, 2 q6_K), NB super-blocks each.
INLINE void kq_rows(const int N, int kind, int64_t nb, const uint8_t *const *w, const berry_block_q8_K *x, float *const *y) {
    __m256 acc[4], macc[4];
    for (int r = 0; r < N; r++) acc[r] = macc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++)
        for (int r = 0; r < N; r++) {
            if (kind == 2) kq6_block(w[r], i, x, &acc[r]);
            else kq45_block(w[r], i, x, kind, &acc[r], &macc[r]);
        }
    for (int r = 0; r < N; r++) *y[r] = hsum(acc[r]) - hsum(macc[r]);
}

static void matvec_kq(int kind, int64_t n, const uint8_t *w, size_t ws, int nc, const void *xv, float *y) {
    const berry_block_q8_K *x = xv;
    int64_t nb = n / 256, h = (nc + 3) / 4;
    for (int64_t i = 0; i < h; i++) {
        const uint8_t *wr[4] = {0};
        float *yr[4] = {0};
        int cnt = 0;
        for (int64_t c = i; c < nc; c += h) {
            wr[cnt] = w + (size_t)c * ws;
            yr[cnt++] = y + c;
        }
        if (kind == 0) { BY_COUNT(cnt, kq_rows, 0, nb, wr, x, yr) }
        else if (kind == 1) { BY_COUNT(cnt, kq_rows, 1, nb, wr, x, yr) }
        else { BY_COUNT(cnt, kq_rows, 2, nb, wr, x, yr) }
    }
}

static void dot_q8_K(int64_t n, float *out, const void *wv, const void *xv) {
    const berry_block_q8_K *a = wv, *x = xv;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        __m256i sumi = _mm256_setzero_si256();
        for (int k = 0; k < 8; k++)
            sumi = _mm256_add_epi32(sumi, dot_i8(_mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * k)),
                                                 _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * k))));
        s += (float)hsum_i32(sumi) * (a[i].d * x[i].d);
    }
    *out = s;
}

// ---- activation quantizers ----------------------------------------------------------------------

INLINE float amax_ps(const float *x, int n) {
    const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (int l = 0; l < n; l += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + l), abs));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// roundf: truncate, then step away from zero when the dropped fraction is >= 0.5 (v - trunc(v) is
// exact for |v| < 2^23).
INLINE __m256i round_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    t = _mm256_add_ps(t, _mm256_and_ps(step, _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
    return _mm256_cvttps_epi32(t);
}

// 32 int32 (four vectors in element order) to 32 int8 in element order.
INLINE __m256i pack_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i v = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static void quant_q8_0(const float *x, void *dst, int64_t n) {
    berry_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = amax_ps(x, 32);
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        b[i].d = berry_f32_to_f16(d);
        __m256 iv = _mm256_set1_ps(id);
        __m256i q0 = round_away(_mm256_mul_ps(_mm256_loadu_ps(x), iv));
        __m256i q1 = round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 8), iv));
        __m256i q2 = round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 16), iv));
        __m256i q3 = round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 24), iv));
        _mm256_storeu_si256((__m256i *)b[i].qs, pack_i8(q0, q1, q2, q3));
    }
}

// Round to nearest even: vcvtps2dq under the default rounding mode, as rintf.
static void quant_q8_K(const float *x, void *dst, int64_t n) {
    berry_block_q8_K *b = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        float amax = amax_ps(x, 256);
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        b[i].d = d;
        __m256 iv = _mm256_set1_ps(id);
        for (int k = 0; k < 8; k++) {
            const float *xk = x + 32 * k;
            __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xk), iv));
            __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xk + 8), iv));
            __m256i q2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xk + 16), iv));
            __m256i q3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xk + 24), iv));
            _mm256_storeu_si256((__m256i *)(b[i].qs + 32 * k), pack_i8(q0, q1, q2, q3));
            // Sums of 16 values each: elements 0..15 are q0, q1; 16..31 are q2, q3.
            b[i].bsums[2 * k] = (int16_t)hsum_i32(_mm256_add_epi32(q0, q1));
            b[i].bsums[2 * k + 1] = (int16_t)hsum_i32(_mm256_add_epi32(q2, q3));
        }
    }
}

// ---- half-precision rows (F16C: exact both ways, round to nearest even) --------------------------

static void f16_to_f32(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

static void f32_to_f16(const float *src, uint16_t *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

const berry_kernels berry_kernels_avx2 = {
    .matvec_q8 = matvec_q8, .matvec_f = matvec_f, .panel_pk = panel_pk, .panel_fpk = panel_fpk, .fpk_streams = fpk_streams, .pk_streams = pk_streams, .matvec_kq = matvec_kq, .panel_q4k = panel_q4k, .q4k_streams = q4k_streams, .panel_q6k = panel_q6k, .q6k_streams = q6k_streams,
    .panel_q8 = panel_q8, .panel_f = panel_f,
    .f16_to_f32 = f16_to_f32, .f32_to_f16 = f32_to_f16,
    .dot_f32 = dot_f32, .dot_f16 = dot_f16, .dot_bf16 = dot_bf16, .dot_q4_0 = dot_q4_0,
    .dot_q8_0 = dot_q8_0, .dot_q4_K = dot_q4_K, .dot_q5_K = dot_q5_K, .dot_q6_K = dot_q6_K,
    .dot_q8_K = dot_q8_K, .dot_q4_1 = dot_q4_1, .dot_q5_0 = dot_q5_0, .dot_q5_1 = dot_q5_1,
    .tile_q4_1 = tile_q4_1, .tile_q5_0 = tile_q5_0, .tile_q5_1 = tile_q5_1,
    .tile_f32 = tile_f32, .tile_f16 = tile_f16, .tile_bf16 = tile_bf16,
    .tile_q4_0 = tile_q4_0, .tile_q8_0 = tile_q8_0,
    .tile_q4_K = tile_q4_K, .tile_q5_K = tile_q5_K, .tile_q6_K = tile_q6_K,
    .quant_q8_0 = quant_q8_0, .quant_q8_K = quant_q8_K,
    .f_rows = 3, .f_cols = 4, .q_rows = 1, .q_cols = 8, .k_rows = 4, .k_cols = 1, .q45_rows = 4, .q45_cols = 4,
};
