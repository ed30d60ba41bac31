// lora.h — LoRA adapters in llama.cpp's layout, applied at inference or folded into a model.
//
// An adapter is a GGUF file with general.type = "adapter", adapter.type = "lora", adapter.lora.alpha
// and, for each adapted weight W (out, in) of the base (GGUF ne {in, out}), two tensors
// "<W's name>.lora_a" (ne {in, r}) and "<W's name>.lora_b" (ne {r, out}), in any float or quantized
// type. The adapted weight is W + scale B A with scale = user_scale * alpha / r (user_scale when alpha
// is 0), as llama.cpp computes it.
#ifndef BERRY_LORA_H
#define BERRY_LORA_H
#include "base/err.h"
#include "base/pool.h"
#include "model/model.h"

typedef struct berry_lora berry_lora;  // opaque

// One adapted weight. A (r, in) and B (out, r) row-major in f32; B is already multiplied by SCALE.
typedef struct {
    char name[96];          // the base weight's name ("blk.3.attn_q.weight")
    const void *base;       // the model's berry_weight it adapts (model/model_impl.h)
    int rank;
    int64_t in, out;
    float scale;
    float *a, *b;
} berry_lora_pair;

// Loads PATH for model M (which must outlive it), every tensor converted to f32. Each pair must name a
// weight the inference forward multiplies by (the attention and FFN projections, output.weight), with
// shapes that agree with it and with each other; the first that does not is named in ERR
// ("blk.0.attn_q.weight.lora_b: ne {8, 64}, expected {8, 96} for a rank-8 adapter of a 96 x 64 weight").
berry_lora *berry_lora_open(const char *path, const berry_model *m, float user_scale, char *err, size_t err_size);
void berry_lora_free(berry_lora *l);

const berry_model     *berry_lora_model(const berry_lora *l);
int                    berry_lora_n_pairs(const berry_lora *l);
const berry_lora_pair *berry_lora_pair_at(const berry_lora *l, int i);
// The pair adapting WEIGHT (a const berry_weight * into the model), or NULL.
const berry_lora_pair *berry_lora_find(const berry_lora *l, const void *weight);
int64_t                berry_lora_max_dim(const berry_lora *l);  // largest rank, in or out of any pair
int                    berry_lora_max_rank(const berry_lora *l);

// Writes OUT_PATH (atomically): the model at BASE_PATH with every adapted weight replaced by
// W + scale B A (dequantized, added in f32, requantized to TYPE, or to the weight's own type when TYPE
// is negative). Metadata and the other tensors are copied. Runs on POOL (may be NULL).
berry_status berry_lora_merge(const char *base_path, const char *lora_path, float user_scale, int type,
                              const char *out_path, berry_pool *pool, char *err, size_t err_size);

#endif
