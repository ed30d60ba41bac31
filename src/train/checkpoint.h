// checkpoint.h — resumable training state, and LoRA adapters in llama.cpp's layout.
//
// A checkpoint is one GGUF file, written atomically (temporary file, fsync, rename: a run killed at
// any moment leaves the previous checkpoint or the new one, never a mix): the trainable tensors under
// their names, AdamW's moments ("adam.m." / "adam.v." + name), and metadata keys berry.train.* holding
// the step, the optimizer's step count, the data position, the data RNG and the model's forward count
// (dropout masks). Loading one into a model and trainer of the same configuration continues the same
// loss curve.
#ifndef BERRY_CHECKPOINT_H
#define BERRY_CHECKPOINT_H
#include "base/err.h"
#include "base/rng.h"
#include "train/trainer.h"

typedef struct {
    uint64_t data_pos;   // where the data loader resumes (its own meaning: examples consumed)
    uint64_t epoch;
    berry_rng rng;       // the data loader's shuffling stream
} berry_ckpt_extra;

berry_status berry_checkpoint_save(const char *path, const berry_trainer *t, const berry_ckpt_extra *x, char *err,
                                   size_t err_size);
// Restores into T (whose model has the same tensors and shapes) and X. Nothing is changed when the file
// does not match (a missing or mis-shaped tensor is named in ERR).
berry_status berry_checkpoint_load(const char *path, berry_trainer *t, berry_ckpt_extra *x, char *err,
                                   size_t err_size);

// Writes the adapters of M (a LoRA model) as a llama.cpp LoRA adapter: general.architecture,
// general.type = "adapter", adapter.type = "lora", adapter.lora.alpha, tensors "<base>.lora_a"
// (ne {in, rank}) and "<base>.lora_b" (ne {rank, out}) in f32.
berry_status berry_lora_save(const char *path, berry_tmodel *m, char *err, size_t err_size);
// Loads such an adapter into the adapter tensors of M (same rank and targets). Every tensor of the
// file must match one of M's by name and shape; the first that does not is named in ERR.
berry_status berry_lora_load(const char *path, berry_tmodel *m, char *err, size_t err_size);

#endif
