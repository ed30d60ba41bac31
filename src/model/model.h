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
    int swa_pattern;      // layer il slides when il % swa_pattern < swa_pattern - 1 (gemma2: 2 = even layers)
    float rope_freq_scale;  // rope.scaling.type "linear": positions multiplied by 1/factor (1 = none)
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
// Whether layer IL attends through a sliding window (gemma2's even layers).
bool                 berry_hparams_layer_slides(const berry_hparams *hp, int il);

// ---- hyperparameters as GGUF metadata (arch.c) -----------------------------------------------------
// Reads llama.cpp's keys (general.architecture, <arch>.embedding_length, ...). N_VOCAB_TENSOR is the
// vocabulary size the token_embd shape implies (0 if unknown), used when <arch>.vocab_size is absent.
// Every value is checked for range and consistency; rope_factor... stay 0 (the llama3 divisors
// come from the tensor rope_freqs.weight, as llama.cpp's converter writes them).
berry_status berry_hparams_read(const berry_gguf *g, int64_t n_vocab_tensor, berry_hparams *hp, char *err,
                                size_t err_size);
// Writes the same keys, as llama.cpp's converter does, plus general.name and general.alignment.
berry_status berry_hparams_write(berry_gguf_writer *w, const berry_hparams *hp, const char *name);
// Checks ranges and consistency (heads divide, head_dim even, eps > 0 ...); one line in ERR.
berry_status berry_hparams_check(const berry_hparams *hp, char *err, size_t err_size);
// The shapes of a named preset of architecture ARCH: "qwen2.5-0.5b", "llama-3.2-1b", "gemma-2-2b",
// or "tiny" (vocab 256, embd 64, 2-3 layers: the test models; gemma2's has a window of 8).
berry_status berry_hparams_preset(const char *arch, const char *preset, berry_hparams *hp, char *err,
                                  size_t err_size);
// Llama 3 rope: OUT[i] (i < head_dim/2) = the divisor of frequency i that llama.cpp's converter
// precomputes from rope_factor, rope_low/high_freq_factor and rope_orig_ctx.
void berry_hparams_llama3_rope_freqs(const berry_hparams *hp, float *out);

// ---- random models (init.c) ------------------------------------------------------------------------
typedef struct {
    berry_hparams hp;          // shapes and constants (berry_hparams_preset, possibly edited)
    int type;                  // berry_type of the 2-D weights; a matrix whose rows do not fit the
                               // block falls back to q8_0, then f16 (as `berry quantize` does)
    uint64_t seed;
    float std;                 // of the normal weights (0.02 if 0)
    float norm_std;            // norm weights are 1 + norm_std * normal (0: exactly 1)
    const berry_gguf *vocab;   // when not NULL: its tokenizer.* keys are copied, n_vocab from its tokens
    const char *name;          // general.name (the preset's name if NULL)
    int n_threads;             // 0 = one per CPU
} berry_model_init_opts;

// Writes a GGUF model with random weights to PATH (atomically), loadable by berry and llama.cpp.
// Tensors get independent random streams (seed, tensor index, row block), so the file does not depend
// on the number of threads.
berry_status berry_model_init(const berry_model_init_opts *o, const char *path, char *err, size_t err_size);

#endif
