// tmodel.h — a model being trained: f32 parameters with gradients (full fine-tuning) or a frozen,
// possibly quantized base with LoRA adapters; forward and backward over batches of packed sequences
// for the llama, qwen2 and gemma2 architectures (the llama.cpp GGUF conventions of model/model.h).
//
// The forward pass returns, for every token, the log-probability of its target token; the backward
// pass takes dLoss/dlogp for every token (see train/loss.h) and accumulates parameter gradients.
// Everything between (log-softmax, the output head) is recomputed in chunks, so logits are never held
// for the whole batch.
#ifndef BERRY_TMODEL_H
#define BERRY_TMODEL_H
#include "base/err.h"
#include "base/pool.h"
#include "model/model.h"
#include <stdbool.h>
#include <stdint.h>

// The projections LoRA may adapt (bits of berry_tmodel_opts.lora_targets).
enum {
    BERRY_LORA_Q = 1, BERRY_LORA_K = 2, BERRY_LORA_V = 4, BERRY_LORA_O = 8,
    BERRY_LORA_GATE = 16, BERRY_LORA_UP = 32, BERRY_LORA_DOWN = 64,
    BERRY_LORA_ATTN = 15, BERRY_LORA_ALL = 127,
};

typedef struct {
    int lora_rank;          // 0: full fine-tuning (every parameter trainable)
    float lora_alpha;       // the adapter's output is scaled by alpha / rank (alpha 0 means rank)
    float lora_dropout;     // dropout on the adapter's input, in [0, 1)
    unsigned lora_targets;  // BERRY_LORA_* bits (0 means BERRY_LORA_ALL)
    bool recompute;         // keep only each layer's input; recompute the layer in the backward pass
    int max_tokens;         // capacity of one batch, n_seq * n_ctx (activations are sized for it)
    uint64_t seed;          // initialization of the adapters, dropout masks
} berry_tmodel_opts;

// One named tensor, named as in GGUF. 2-D tensors are (rows, cols) = GGUF ne {cols, rows}.
typedef struct {
    char name[96];
    int64_t cols, rows;     // 1-D: rows = 1
    float *w;               // f32 values (owned); NULL for a frozen tensor kept in its stored type
    float *g;               // gradient, same shape; NULL when frozen
    int type;               // berry_type of DATA
    const void *data;       // the values as stored: W (f32) or a frozen tensor outside the model
    bool trainable;
} berry_tparam;

typedef struct berry_tmodel berry_tmodel;

// A model of shapes HP with every tensor zero (init or load it next). POOL (may be NULL) runs the
// kernels and must outlive the model.
berry_tmodel *berry_tmodel_new(const berry_hparams *hp, const berry_tmodel_opts *o, berry_pool *pool,
                               char *err, size_t err_size);
// The weights of a loaded inference model: copied to f32 when trainable; frozen weights (LoRA) stay
// where they are, in their type, and BM must outlive the training model.
berry_tmodel *berry_tmodel_from_model(const berry_model *bm, const berry_tmodel_opts *o, berry_pool *pool,
                                      char *err, size_t err_size);
void berry_tmodel_free(berry_tmodel *m);

// Normal(0, STD) matrices and embeddings, norms 1, biases 0; LoRA A Normal(0, 1/rank), B 0.
void berry_tmodel_init_random(berry_tmodel *m, uint64_t seed, float std);
// Points the frozen tensor NAME at DATA of TYPE (outside the model, must outlive it): a quantized base.
berry_status berry_tmodel_set_frozen(berry_tmodel *m, const char *name, int type, const void *data,
                                     char *err, size_t err_size);

const berry_hparams *berry_tmodel_hparams(const berry_tmodel *m);
const berry_tmodel_opts *berry_tmodel_opts_of(const berry_tmodel *m);
int           berry_tmodel_n_params(const berry_tmodel *m);
berry_tparam *berry_tmodel_param(berry_tmodel *m, int i);
berry_tparam *berry_tmodel_find(berry_tmodel *m, const char *name);  // NULL when absent
// Frequency divisors of the rope (llama3), (head_dim/2) values copied; NULL clears them.
void          berry_tmodel_set_rope_freqs(berry_tmodel *m, const float *div);
int64_t       berry_tmodel_n_trainable(const berry_tmodel *m);  // number of trainable values
// Forward passes run so far: the dropout masks derive from it, so checkpoints save and restore it.
uint64_t      berry_tmodel_forward_count(const berry_tmodel *m);
void          berry_tmodel_set_forward_count(berry_tmodel *m, uint64_t n);
void          berry_tmodel_zero_grad(berry_tmodel *m);

// A batch: N_SEQ rows of N_CTX tokens. Each row may pack several documents: SEG gives each token's
// document id (the tokens of one document must be contiguous), attention never crosses documents.
typedef struct {
    int n_seq, n_ctx;
    const int32_t *tokens;   // (n_seq, n_ctx) inputs
    const int32_t *targets;  // (n_seq, n_ctx) the token to predict at each position; -1: none
    const int32_t *pos;      // (n_seq, n_ctx) rope positions, or NULL: restart at 0 with each document
    const int32_t *seg;      // (n_seq, n_ctx) document ids, or NULL: one document per row
} berry_tbatch;

// LOGP (n_seq * n_ctx) = log p(target | prefix) for every token (0 where target < 0). Saves what the
// backward pass needs; a backward call must follow before the next forward if gradients are wanted.
berry_status berry_tmodel_forward(berry_tmodel *m, const berry_tbatch *b, float *logp, char *err, size_t err_size);
// Accumulates into every trainable gradient d(loss)/d(param), where DLOGP (n_seq * n_ctx) is
// d(loss)/d(logp) of the preceding forward on the same batch.
berry_status berry_tmodel_backward(berry_tmodel *m, const berry_tbatch *b, const float *dlogp, char *err,
                                   size_t err_size);

#endif
