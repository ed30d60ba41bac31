// forward.h — the batched multi-sequence forward pass over a paged KV cache.
//
// A context holds a model (borrowed), its KV cache, a thread pool and scratch memory allocated once for
// the largest batch. One call evaluates a batch whose tokens may belong to different sequences: prefill
// chunks of some and decode steps of others mix freely. Every matrix product runs over all the batch's
// tokens at once; attention runs per (token, head) on the pool.
#ifndef BERRY_FORWARD_H
#define BERRY_FORWARD_H
#include "base/err.h"
#include "base/pool.h"
#include "model/kvcache.h"
#include "model/model.h"
#include <stdint.h>

typedef struct berry_ctx berry_ctx;  // opaque

typedef struct {
    int n_threads;       // 0: one per CPU (ignored when POOL is given)
    berry_pool *pool;    // borrowed, may be NULL (then the context creates its own)
    int max_batch;       // tokens per berry_forward call (512 if 0)
    size_t kv_bytes;     // KV cache cap (256 MiB if 0)
    int kv_page_tokens;  // 16 if 0
    int max_seqs;        // live sequences at once (256 if 0)
    const struct berry_lora *lora;  // borrowed, may be NULL: an adapter opened for the same model
                                    // (model/lora.h), applied at run time; must outlive the context
} berry_ctx_params;

typedef struct {
    int n;                  // tokens
    const int32_t *token;   // (n) token ids
    const int32_t *seq;     // (n) KV sequence ids (berry_kv_seq_new / fork on berry_ctx_kv)
    const int32_t *pos;     // (n) positions, or NULL. Each token must continue its sequence: the first
                            // of sequence S at berry_kv_seq_len(S), the next at +1 ...
    const uint8_t *logits;  // (n) nonzero where logits are wanted; NULL: every token
} berry_batch;

// M must outlive the context.
berry_ctx *berry_ctx_create(const berry_model *m, const berry_ctx_params *p, char *err, size_t err_size);
void berry_ctx_free(berry_ctx *c);

berry_kv          *berry_ctx_kv(berry_ctx *c);
const berry_model *berry_ctx_model(const berry_ctx *c);
int                berry_ctx_max_batch(const berry_ctx *c);
// Tokens evaluated by berry_forward since creation (positions attached by berry_kv_seq_reuse are not).
int64_t            berry_ctx_n_evaluated(const berry_ctx *c);

// Evaluates batch B: appends its tokens to their sequences' KV cache, computes, and writes the logits of
// the wanted tokens to LOGITS as (n_wanted, n_vocab), in batch order. On error (a bad token, sequence or
// position; the cache full) the sequences are left as they were and ERR says why.
berry_status berry_forward(berry_ctx *c, const berry_batch *b, float *logits, char *err, size_t err_size);

#endif
