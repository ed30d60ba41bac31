// quant.h — conversion between f32 and every tensor type: dequantization (bit-exact with the GGUF
// definitions) and quantization (round-to-nearest, as ggml's reference quantizers).
#ifndef BERRY_QUANT_H
#define BERRY_QUANT_H
#include "tensor/types.h"

// DST[0..N) = the values of N elements of type T at SRC. N is a multiple of T's block size.
void berry_dequantize(berry_type t, const void *src, float *dst, int64_t n);
// Writes N values as type T into DST (berry_row_size(t, n) bytes); returns the bytes written, or 0
// when T cannot be produced by quantization (berry supports f32, f16, bf16, q8_0, q4_0, q4_1, q5_0,
// q5_1, q8_K, and the K-quants q4_K, q5_K, q6_K).
size_t berry_quantize(berry_type t, const float *src, void *dst, int64_t n);

#endif
