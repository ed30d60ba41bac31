// convert.h — rewrite a GGUF model with its weight matrices in another tensor type (`berry quantize`).
#ifndef BERRY_CONVERT_H
#define BERRY_CONVERT_H
#include "base/err.h"
#include "base/pool.h"
#include "tensor/types.h"

// llama.cpp's general.file_type (enum llama_ftype) for a file whose matrices are mostly TYPE; -1
// for a type berry does not write as weights.
int berry_file_type_of(berry_type type);
// TYPE when rows of N values divide into its blocks, else q8_0, else f16: the fallback llama.cpp
// uses for matrices whose rows do not fit the K-quants' 256-value blocks.
berry_type berry_fit_type(berry_type type, int64_t n);

typedef struct {
    int64_t n_converted, n_kept;    // tensors converted / copied unchanged
    int64_t n_fallback;             // matrices whose rows do not fit TYPE's block, written as q8_0 or f16
    size_t bytes_in, bytes_out;     // tensor data
} berry_convert_stats;

// Writes OUT_PATH (atomically) with every 2-D weight matrix of IN_PATH converted to TYPE. Norms,
// biases and other 1-D tensors stay f32, as in llama.cpp's files. Metadata is copied, with
// general.file_type updated. Runs on POOL (may be NULL).
berry_status berry_convert_model(const char *in_path, const char *out_path, berry_type type, berry_pool *pool,
                                 berry_convert_stats *stats, char *err, size_t err_size);

#endif
