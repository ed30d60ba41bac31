// types.h — tensor data types: ggml's type ids, block sizes and row sizes, and half-precision
// conversions. A quantized row of n values is n / block blocks of block_bytes each.
#ifndef BERRY_TYPES_H
#define BERRY_TYPES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    BERRY_TYPE_F32 = 0,
    BERRY_TYPE_F16 = 1,
    BERRY_TYPE_Q4_0 = 2,
    BERRY_TYPE_Q4_1 = 3,
    BERRY_TYPE_Q5_0 = 6,
    BERRY_TYPE_Q5_1 = 7,
    BERRY_TYPE_Q8_0 = 8,
    BERRY_TYPE_Q4_K = 12,
    BERRY_TYPE_Q5_K = 13,
    BERRY_TYPE_Q6_K = 14,
    BERRY_TYPE_Q8_K = 15,   // activations only: the partner of the K-quants in dot products
    BERRY_TYPE_BF16 = 30,
} berry_type;

typedef struct {
    const char *name;         // "q8_0", as llama.cpp spells it
    int block;                // values per block (1 for f32/f16/bf16)
    size_t block_bytes;       // bytes per block
    berry_type vec_dot_type;  // the type activations are converted to for dot products with this type
} berry_type_info;

// NULL for a type id berry does not know (files with other types get a clear error).
const berry_type_info *berry_type_get(int type);
// Type by name ("q4_0"), or -1.
int berry_type_from_name(const char *name);
// Bytes of a row of N values; 0 when N is not a multiple of the block size or the size overflows.
size_t berry_row_size(berry_type t, int64_t n);

float    berry_f16_to_f32(uint16_t h);
uint16_t berry_f32_to_f16(float f);   // round to nearest even
float    berry_bf16_to_f32(uint16_t h);
uint16_t berry_f32_to_bf16(float f);  // round to nearest even, NaN kept
// Rows of N values; F16C when the CPU has it (identical results: the scalar conversions above quiet
// signaling NaNs as F16C does). Defined in matmul.c with the other run-time dispatched kernels.
void berry_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n);
void berry_f32_to_f16_row(const float *src, uint16_t *dst, int64_t n);

#endif
