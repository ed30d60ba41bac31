// model_impl.h — the inside of berry_model, for the forward and backward passes and LoRA. Matrices stay
// in the GGUF mapping in their stored type; the small 1-D tensors (norms, biases, rope divisors) are
// converted to f32 once at load, into one allocation.
#ifndef BERRY_MODEL_IMPL_H
#define BERRY_MODEL_IMPL_H
#include "base/pool.h"
#include "model/model.h"
#include "tensor/types.h"
#include <pthread.h>
#include <stdbool.h>

// A weight matrix of ROWS rows of COLS values (GGUF ne = {cols, rows}), each row berry_row_size bytes.
typedef struct {
    const void *data;
    berry_type type;
    int64_t cols, rows;
    size_t row_bytes;
    const void *packed;   // the matrix repacked for the kernels (tensor/matmul.h berry_repack), or NULL
} berry_weight;

typedef struct {
    const float *attn_norm, *ffn_norm;            // (n_embd)
    const float *post_attn_norm, *post_ffw_norm;  // gemma2 (n_embd), else NULL
    const float *bq, *bk, *bv;                    // qwen2 (q_dim), (kv_dim), (kv_dim), else NULL
    berry_weight wq, wk, wv, wo;                  // (q_dim, n_embd) (kv_dim, n_embd) x2, (n_embd, q_dim)
    berry_weight gate, up, down;                  // (n_ff, n_embd) x2, (n_embd, n_ff)
} berry_layer;

struct berry_model {
    berry_gguf *g;
    berry_hparams hp;
    berry_weight tok_embd;      // (n_vocab, n_embd)
    berry_weight output;        // (n_vocab, n_embd): a copy of tok_embd's descriptor when tied
    const float *output_norm;   // (n_embd)
    const float *rope_freqs;    // (head_dim/2) frequency divisors (llama3), NULL when absent
    berry_layer *layers;        // (n_layer)
    float *f32;                 // owns every 1-D vector above
    void *packed;               // owns every berry_weight.packed (one berry_alloc_big of packed_size bytes)
    size_t packed_size;
    pthread_mutex_t pack_lock;  // guards the repacking, done by the first context (training never
                                // repacks: it reads the mapped blocks)
    bool pack_done;
};

// Repacks the matrices for the matmul kernels unless done already, on POOL (thread-safe;
// BERRY_NO_REPACK=1 skips it). Called by berry_ctx_create with the context's pool.
berry_status berry_model_repack(berry_model *m, berry_pool *pool, char *err, size_t err_size);

#endif
