// blocks.h — (internal to src/tensor) ggml's block layouts, and the kernel tables the SIMD files fill.
// Half-precision fields are raw uint16 bits (f16).
#ifndef BERRY_BLOCKS_H
#define BERRY_BLOCKS_H
#include "tensor/types.h"
#include <stdint.h>
#include <string.h>

#define QK4_0 32
#define QK8_0 32
#define QK_K 256

typedef struct { uint16_t d; uint8_t qs[16]; } berry_block_q4_0;    // x = d * ((q & 15) - 8), low nibbles first
typedef struct { uint16_t d; int8_t qs[32]; } berry_block_q8_0;     // x = d * q
// x = d * q + m, q = the nibble (0..15), low nibbles first.
typedef struct { uint16_t d, m; uint8_t qs[16]; } berry_block_q4_1;
// q = nibble | (bit j of qh, little endian) << 4 for element j; q5_0: x = d * (q - 16); q5_1: d * q + m.
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } berry_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } berry_block_q5_1;
// x = d * sc[j] * q - dmin * m[j] for sub-block j (32 values); sc, m: 6 bits packed in scales[12].
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } berry_block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } berry_block_q5_K;
// x = d * scales[j] * (q - 32) for sub-block j (16 values); q = 4 low bits in ql, 2 high bits in qh.
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } berry_block_q6_K;
// x = d * q; bsums[j] = sum of qs[16j .. 16j+16).
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } berry_block_q8_K;

_Static_assert(sizeof(berry_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(berry_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(berry_block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(berry_block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(berry_block_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(berry_block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(berry_block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(berry_block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(berry_block_q8_K) == 292, "q8_K block");

// Sub-block J's 6-bit scale and min of a q4_K / q5_K block (ggml's get_scale_min_k4).
static inline void berry_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Kernels of one instruction set. A NULL entry falls back to the next lower level.
// vec_dot: *out = dot of N values of a weight row and an activation row in vec_dot_type.
// tile: Y[r * ldy + c] = dot(W row c, X row r) for r < nr, c < nc, with W rows wstride bytes apart
// and X rows xstride bytes apart (the matmul's register-blocked path; nr, nc are small).
typedef void (*berry_dot_fn)(int64_t n, float *out, const void *w, const void *x);
typedef void (*berry_tile_fn)(int64_t n, const void *w, size_t wstride, const void *x, size_t xstride,
                              float *y, size_t ldy, int nr, int nc);
// Converts N f32 values to the activation type (q8_0, q8_K, f32 copies need none).
typedef void (*berry_quant_fn)(const float *src, void *dst, int64_t n);

// q8_0 activations for the packed GEMM: row r's blocks at q + r * stride; its block scales as f32 in
// d[r * nb + b] and 8 * (sum of its block's values) in s8[r * nb + b] (q4_0's offset of 8).
typedef struct { const uint8_t *q; size_t stride; const float *d; const int32_t *s8; int64_t nb; } berry_act_q8;
// Packed GEMM panel: packs weight rows [0, nc) (nc <= 8, W rows ws bytes apart) over blocks
// [b0, b0 + nbs) (nbs <= BERRY_PANEL_BLOCKS) once, then for every activation row r in [r0, r1):
// Y[r * ldy + c] = (or += when ADD) the partial dot over those blocks. Q4: 1 q4_0 weights, 2 q5_0
// (unsigned values, offset 16 = 2 * s8), 0 q8_0.
#define BERRY_PANEL_BLOCKS 32
typedef void (*berry_panel_fn)(int q4, const uint8_t *w, size_t ws, int nc, int64_t b0, int nbs,
                               const berry_act_q8 *x, int r0, int r1, float *y, size_t ldy, int add);

// Weights repacked once at load (berry_repack): panels of 8 rows, and per block of 32 values the 8
// rows' f16 scales (16 bytes) then their values interleaved in 4-byte groups, 32 bytes a vector:
// q4_0 4 vectors (vector v, lane c: row c's qs[4v..4v+3], whose low nibbles are values 4v..4v+3 and
// high nibbles 16+4v..16+4v+3), q8_0 8 vectors (vector s, lane c: row c's values 4s..4s+3). q5_0 (Q4
// 2): q4_0's 4 vectors of low nibbles, then the fifth bits as 8 words of 32 bits, word 4h + v for the
// values of vector v's low (h 0) or high (h 1) nibbles: bit 4c + i is row c's bit of value 16h + 4v + i
// (as each lane's 4 bytes of that vector, one bit per byte). The same bits as the GGUF blocks, in the
// order the panel kernels read them.
#define BERRY_PK_BYTES(q4) ((q4) == 2 ? 16 + 128 + 32 : (q4) ? 16 + 128 : 16 + 256)
// For every activation row r in [r0, r1): Y[r * ldy + c] = (or += when ADD) the partial dot of packed
// panel P (8 weight rows, of which nc are real) over blocks [b0, b0 + nbs).
typedef void (*berry_panel_pk_fn)(int q4, const uint8_t *p, int nc, int64_t b0, int nbs, const berry_act_q8 *x,
                                  int r0, int r1, float *y, size_t ldy, int add);

// f16 weights repacked once at load: panels of 16 rows, k-major, 16 f16 values per k (rows 0..15;
// rows past M are 0): BERRY_PKF_BYTES(K) bytes a panel. Kernel: as berry_panel_f_fn over panel P, any K.
#define BERRY_PKF_BYTES(k) ((size_t)(k) * 32)
typedef void (*berry_panel_fpk_fn)(const uint8_t *p, int nc, int64_t k0, int nk, const float *x, size_t xs, int r0,
                                   int r1, float *y, size_t ldy, int add);

// q4_K weights repacked at load: panels of 8 rows, per super-block (256 values) BERRY_PK4K_BYTES
// bytes: the 8 rows' d (f16) at 0, dmin (f16) at 16, the sub-block scales at 32 + 8 j + c and mins at
// 96 + 8 j + c (sub-block j, row c; 6-bit values as bytes), then per sub-block j at 160 + 128 j four
// vectors of 32 bytes as q4_0's panels: vector v, lane c: row c's bytes 4v..4v+3 of the sub-block,
// byte b holding value b in its low nibble and value 16 + b in its high nibble. Activations: q8_K
// rows (xs bytes apart). Kernel: as berry_panel_pk_fn over super-blocks [b0, b0 + nbs).
#define BERRY_PK4K_BYTES (160 + 1024)
typedef void (*berry_panel_q4k_fn)(const uint8_t *p, int nc, int64_t b0, int nbs, const uint8_t *x, size_t xs,
                                   int r0, int r1, float *y, size_t ldy, int add);
// q6_K weights repacked at load: panels of 8 rows, per super-block BERRY_PK6K_BYTES bytes: the 8 rows'
// d (f16) at 0; per 16-value sub-block j at 16 + 16 j the rows' scales, row c's (int8) at bytes 2c and
// 2c + 1; per sub-block j at 272 + 128 j four vectors of 32 bytes: vector v, lane c: row c's values
// 4v..4v+3 of the sub-block as bytes (0..63, x = d * scale * (value - 32)). The values are unpacked
// from their 4 + 2 bits (1.38x the GGUF block's bytes), so that the kernels read them as they are.
#define BERRY_PK6K_BYTES (16 + 256 + 2048)
typedef void (*berry_panel_q6k_fn)(const uint8_t *p, int nc, int64_t b0, int nbs, const uint8_t *x, size_t xs,
                                   int r0, int r1, float *y, size_t ldy, int add);

// Decode over N <= BERRY_STREAMS such panels of NB super-blocks at once, X one row (see below).
typedef void (*berry_q4k_streams_fn)(int n, const uint8_t *const *p, const int *nc, int64_t nb, const uint8_t *x,
                                     float *const *y);

// Decode (one activation row X of K values) over N <= BERRY_STREAMS repacked f16 panels at once:
// Y_i[c] = dot(row c of panel P_i, X) for c < NC_i. Each panel is its own stream through memory: two
// threads reading one stream each drew 41-46 GB/s on the development machine, four streams each 59-60.
#define BERRY_STREAMS 4
typedef void (*berry_fpk_streams_fn)(int n, const uint8_t *const *p, const int *nc, int64_t k, const float *x,
                                     float *const *y);

// The same for repacked q4_0 / q5_0 / q8_0 panels (Q4 as berry_panel_pk_fn) of NB blocks against one
// row of q8_0 activations X.
typedef void (*berry_pk_streams_fn)(int q4, int n, const uint8_t *const *p, const int *nc, int64_t nb,
                                    const berry_act_q8 *x, float *const *y);

// Packed GEMM panel for float weights (KIND 0 f32, 1 f16, 2 bf16) against f32 activations: packs
// weight rows [0, nc) (nc <= 16) over values [k0, k0 + nk) (nk <= BERRY_PANEL_FLOATS, a multiple of
// 8) once, then for every activation row r in [r0, r1) (rows xs floats apart): Y[r * ldy + c] = (or
// += when ADD) the partial dot.
#define BERRY_PANEL_FLOATS 256
typedef void (*berry_panel_f_fn)(int kind, const uint8_t *w, size_t ws, int nc, int64_t k0, int nk,
                                 const float *x, size_t xs, int r0, int r1, float *y, size_t ldy, int add);

// Matrix-vector product for decode (one activation row X): Y[c] = dot(W row c, X) for c < nc, W rows
// ws bytes apart. A whole thread's share of rows in one call, so per-call work on X is amortized and
// the weights stream in address order. matvec_q8: KIND 0 q8_0, 1 q4_0, 2 q5_0 weights, X q8_0 blocks;
// matvec_f: KIND 0 f32, 1 f16, 2 bf16 weights, X f32.
typedef void (*berry_matvec_fn)(int kind, int64_t n, const uint8_t *w, size_t ws, int nc, const void *x, float *y);

typedef struct {
    berry_matvec_fn matvec_q8, matvec_f;
    berry_matvec_fn matvec_kq;        // KIND 0 q4_K, 1 q5_K, 2 q6_K weights, X q8_K blocks (optional)
    berry_panel_pk_fn panel_pk;   // repacked q4_0 / q8_0 weights, any number of activation rows
    berry_panel_fpk_fn panel_fpk; // repacked f16 weights, any number of activation rows
    berry_fpk_streams_fn fpk_streams; // repacked f16 weights, decode, several panels at once (optional)
    berry_pk_streams_fn pk_streams;   // repacked q4_0 / q5_0 / q8_0 weights, the same (optional)
    berry_panel_q4k_fn panel_q4k;     // repacked q4_K weights, any number of activation rows
    berry_q4k_streams_fn q4k_streams; // repacked q4_K weights, decode, several panels at once (optional)
    berry_panel_q6k_fn panel_q6k;     // repacked q6_K weights, any number of activation rows
    berry_q4k_streams_fn q6k_streams; // repacked q6_K weights, decode, several panels at once (optional)
    berry_panel_fn panel_q8;
    berry_panel_f_fn panel_f;   // float weights, for rows >= 16   // q4_0 / q8_0 weights against q8_0 activations, for rows >= 4
    berry_dot_fn dot_f32, dot_f16, dot_bf16, dot_q4_0, dot_q8_0, dot_q4_K, dot_q5_K, dot_q6_K, dot_q8_K;
    berry_dot_fn dot_q4_1, dot_q5_0, dot_q5_1;
    berry_tile_fn tile_f32, tile_f16, tile_bf16, tile_q4_0, tile_q8_0, tile_q4_K, tile_q5_K, tile_q6_K;
    berry_tile_fn tile_q4_1, tile_q5_0, tile_q5_1;
    berry_quant_fn quant_q8_0, quant_q8_K;
    void (*f16_to_f32)(const uint16_t *src, float *dst, int64_t n);
    void (*f32_to_f16)(const float *src, uint16_t *dst, int64_t n);
    // The tile shapes the tile kernels are fastest at: float weights (f32/f16/bf16), q4_0 / q8_0,
    // as (X rows, W rows); nr <= rows and nc <= cols.
    int f_rows, f_cols, q_rows, q_cols;
    int k_rows, k_cols;   // the K-quants' tiles
    int q45_rows, q45_cols;   // q4_1 / q5_0 / q5_1's tiles
} berry_kernels;

extern const berry_kernels berry_kernels_scalar, berry_kernels_avx2, berry_kernels_avx512;

// The scalar activation quantizers (also berry_quantize's): bit-exact with ggml's q8_0 reference;
// q8_K symmetric, d = amax / 127, round to nearest even.
void berry_quant_q8_0_ref(const float *src, void *dst, int64_t n);
void berry_quant_q8_K_ref(const float *src, void *dst, int64_t n);

static inline float berry_f16_load(const uint16_t *p) { return berry_f16_to_f32(*p); }

// The 32 unsigned values (0..15 or 0..31) of a q4_1 / q5_0 / q5_1 block in element order, for the
// scalar kernels. T selects the layout.
static inline void berry_unpack_q45(berry_type t, const void *blk, uint8_t q[32]) {
    const uint8_t *qs;
    uint32_t qh = 0;
    if (t == BERRY_TYPE_Q4_1) {
        qs = ((const berry_block_q4_1 *)blk)->qs;
    } else if (t == BERRY_TYPE_Q5_0) {
        qs = ((const berry_block_q5_0 *)blk)->qs;
        memcpy(&qh, ((const berry_block_q5_0 *)blk)->qh, 4);
    } else {
        qs = ((const berry_block_q5_1 *)blk)->qs;
        memcpy(&qh, ((const berry_block_q5_1 *)blk)->qh, 4);
    }
    for (int l = 0; l < 16; l++) {
        q[l] = (uint8_t)((qs[l] & 0xF) | ((qh >> l) & 1) << 4);
        q[l + 16] = (uint8_t)((qs[l] >> 4) | ((qh >> (l + 16)) & 1) << 4);
    }
}

#endif
