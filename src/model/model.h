// model.h — a language model loaded from GGUF: architecture hyperparameters read from llama.cpp's
// metadata keys, and the weights bound to llama.cpp's tensor names (weights stay in the mmap).
#ifndef BERRY_MODEL_H
#define BERRY_MODEL_H
#include "base/err.h"
#include "model/gguf.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum { BERRY_ARCH_LLAMA = 0, BERRY_ARCH_QWEN2 = 1, BERRY_ARCH_GEMMA2 = 2 } berry_arch;

typedef struct {
    berry_arch arch;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    float norm_eps;       // RMSNorm epsilon
    float rope_theta;     // rope.freq_base
    // Llama 3.x frequency scaling (rope.scaling.type "llama3"); rope_factor 0 means none.
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_orig_ctx;
    float attn_scale;     // multiplies q·k: 1/sqrt(head_dim), or gemma2's 1/sqrt(query_pre_attn_scalar)
    float attn_softcap;   // gemma2: 50 (0 = off)
    float final_softcap;  // gemma2: 30 (0 = off)
    int sliding_window;   // gemma2: 4096 on every other layer starting with layer 0 (0 = off)
    bool embd_scale;      // gemma: embeddings multiplied by sqrt(n_embd)
    bool gelu;            // GeGLU (gemma, tanh-approximated GELU) instead of SwiGLU
    bool qkv_bias;        // qwen2
    bool post_norms;      // gemma2: RMSNorm after attention and after the FFN
    bool tied_output;     // no output.weight: the output head is token_embd.weight
} berry_hparams;

typedef struct berry_model berry_model;  // opaque; internals in model/model_impl.h

berry_model *berry_model_load(const char *path, char *err, size_t err_size);
// Takes ownership of G (closed with the model).
berry_model *berry_model_from_gguf(berry_gguf *g, char *err, size_t err_size);
void berry_model_free(berry_model *m);

const berry_hparams *berry_model_hparams(const berry_model *m);
const berry_gguf    *berry_model_gguf(const berry_model *m);  // the tokenizer reads its vocab here
const char          *berry_arch_name(berry_arch a);
int                  berry_arch_from_name(const char *name);   // -1 when unknown
int64_t              berry_model_n_params(const berry_model *m);
size_t               berry_model_weight_bytes(const berry_model *m);

#endif
