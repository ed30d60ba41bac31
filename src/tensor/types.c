// types.c — the type table (ggml's ids, block sizes and block byte sizes) and exact half-precision
// conversions. These scalar conversions are the reference; the bulk conversions in the SIMD files
// (F16C) are checked against them for every f16 value.
#include "tensor/types.h"
#include <string.h>

// Block layouts (ggml's): q4_0 = f16 d + 16 bytes of nibbles; q4_1 = f16 d, f16 m + 16 bytes of
// nibbles; q5_0 = f16 d + 4 bytes of fifth bits + 16 bytes of nibbles; q5_1 = q5_0 with f16 m after d;
// q8_0 = f16 d + 32 int8;
// q4_K = f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles;
// q5_K = q4_K + 32 bytes of high bits; q6_K = 128 ql + 64 qh + 16 int8 scales + f16 d;
// q8_K = f32 d + 256 int8 + 16 int16 block sums.
static const berry_type_info infos[] = {
    {"f32", 1, 4, BERRY_TYPE_F32},
    {"f16", 1, 2, BERRY_TYPE_F32},
    {"q4_0", 32, 18, BERRY_TYPE_Q8_0},
    // ggml pairs q4_1 / q5_1 with q8_1 (q8_0 plus d * sum); berry uses q8_0 and its kernels sum the
    // activation block themselves (one maddubs against ones), so every 32-block type shares one scratch.
    {"q4_1", 32, 20, BERRY_TYPE_Q8_0},
    {"q5_0", 32, 22, BERRY_TYPE_Q8_0},
    {"q5_1", 32, 24, BERRY_TYPE_Q8_0},
    {"q8_0", 32, 34, BERRY_TYPE_Q8_0},
    {"q4_K", 256, 144, BERRY_TYPE_Q8_K},
    {"q5_K", 256, 176, BERRY_TYPE_Q8_K},
    {"q6_K", 256, 210, BERRY_TYPE_Q8_K},
    {"q8_K", 256, 292, BERRY_TYPE_Q8_K},
    {"bf16", 1, 2, BERRY_TYPE_F32},
};
static const int ids[] = {BERRY_TYPE_F32, BERRY_TYPE_F16, BERRY_TYPE_Q4_0, BERRY_TYPE_Q4_1, BERRY_TYPE_Q5_0,
                          BERRY_TYPE_Q5_1, BERRY_TYPE_Q8_0, BERRY_TYPE_Q4_K,
                          BERRY_TYPE_Q5_K, BERRY_TYPE_Q6_K, BERRY_TYPE_Q8_K, BERRY_TYPE_BF16};
#define N_TYPES (int)(sizeof ids / sizeof ids[0])

const berry_type_info *berry_type_get(int type) {
    for (int i = 0; i < N_TYPES; i++)
        if (ids[i] == type) return &infos[i];
    return NULL;
}

int berry_type_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < N_TYPES; i++)
        if (strcmp(infos[i].name, name) == 0) return ids[i];
    return -1;
}

size_t berry_row_size(berry_type t, int64_t n) {
    const berry_type_info *ti = berry_type_get(t);
    if (!ti || n < 0 || n % ti->block) return 0;
    size_t blocks = (size_t)(n / ti->block), bytes;
    if (__builtin_mul_overflow(blocks, ti->block_bytes, &bytes)) return 0;
    return bytes;
}

static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// Exact: every f16 is a f32. Subnormals are mant * 2^-24 (a power-of-two scaling, so exact); NaN
// payloads are kept (shifted into the top of the f32 mantissa) and a signaling NaN is quieted, as the
// F16C instruction does.
float berry_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f;
        return bits_f32(f32_bits(v) | sign);
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round to nearest even, overflow to inf, subnormal results rounded correctly, NaN kept quiet with
// the top of its payload (what F16C's vcvtps2ph does).
uint16_t berry_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return sign | 0x7e00 | (uint16_t)((x >> 13) & 0x3ff);
    if (x >= 0x477ff000u) return sign | 0x7c00;   // >= 65520 rounds to inf (65504 is odd)
    if (x < 0x38800000u) {                         // below 2^-14: a subnormal half (or zero)
        // v * 2^24 < 1024 is exact; adding 2^23 rounds it to an integer, to nearest even. 1024
        // is the encoding of the smallest normal, so rounding up across the boundary is right.
        float v = bits_f32(x) * 0x1p24f + 0x1p23f;
        return sign | (uint16_t)(f32_bits(v) - 0x4b000000u);
    }
    x += 0xfffu + ((x >> 13) & 1);                 // carries into the exponent as it should
    return sign | (uint16_t)((x >> 13) - (112u << 10));
}

float berry_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t berry_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 64);  // quiet NaN
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}
