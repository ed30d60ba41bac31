// trainer.h — one optimization step over a berry_tmodel: micro-batches accumulate gradients, then the
// global gradient norm is clipped, AdamW steps with the scheduled learning rate, gradients are zeroed.
#ifndef BERRY_TRAINER_H
#define BERRY_TRAINER_H
#include "train/adamw.h"
#include "train/tmodel.h"

typedef struct {
    float lr, lr_min;          // peak and final learning rate
    int64_t warmup, total;     // schedule: linear warm-up steps, total steps (cosine decay between)
    double clip;               // max global gradient norm (0: no clipping)
    int accum;                 // micro-batches per step (>= 1)
    berry_adamw_opts adam;     // betas, eps, weight decay (norms and biases are not decayed)
} berry_trainer_opts;

typedef struct {
    berry_tmodel *m;           // not owned
    berry_trainer_opts o;
    berry_adamw adam;
    berry_adamw_tensor *ts;    // the trainable tensors, in parameter order
    int n_ts;
    int64_t step;              // optimizer steps taken
    int micro;                 // micro-batches accumulated since the last step
    float *logp, *dlogp;       // (max_tokens) scratch
} berry_trainer;

berry_status berry_trainer_init(berry_trainer *t, berry_tmodel *m, const berry_trainer_opts *o, char *err,
                                size_t err_size);
void berry_trainer_free(berry_trainer *t);

// Forward and backward of the weighted log-likelihood (berry_loss_sft) of one micro-batch, the
// gradient scaled by 1/accum. W (n_seq * n_ctx) weighs each token's target (0: not trained on).
berry_status berry_trainer_sft(berry_trainer *t, const berry_tbatch *b, const float *w, double *loss, char *err,
                               size_t err_size);
// Forward and backward of DPO (berry_loss_dpo) on a batch of 2 * n_pairs rows (chosen, rejected, ...).
// REF holds the reference model's log-probabilities of the same targets, computed before any update
// (berry train computes them once with the initial weights). ACCURACY (may be NULL): berry_loss_dpo's.
berry_status berry_trainer_dpo(berry_trainer *t, const berry_tbatch *b, const float *mask, const float *ref,
                               float beta, double *loss, double *accuracy, char *err, size_t err_size);
// The step: clip, AdamW with the scheduled learning rate, zero the gradients. GRAD_NORM and LR (may be
// NULL) receive the norm before clipping and the learning rate used.
void berry_trainer_step(berry_trainer *t, double *grad_norm, float *lr);

#endif
