// adamw.h — AdamW (Loshchilov & Hutter: decoupled weight decay) as torch.optim.AdamW computes it,
// gradient clipping by global norm, and the learning-rate schedule (linear warm-up, cosine decay).
#ifndef BERRY_ADAMW_H
#define BERRY_ADAMW_H
#include "base/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    float *w;          // parameter values (n)
    float *g;          // their gradient (n); berry_grad_clip scales it
    size_t n;
    bool decay;        // weight decay applies (berry exempts norms and biases)
} berry_adamw_tensor;

typedef struct {
    double beta1, beta2, eps, weight_decay;  // double, converted to float where PyTorch converts them
} berry_adamw_opts;

typedef struct {
    berry_adamw_opts o;
    int64_t t;         // steps taken
    size_t n;          // values over all tensors, in the order the tensors are passed
    float *m, *v;      // first and second moments (n), owned
} berry_adamw;

// State for N values, moments zero. Returns BERRY_ENOMEM when they cannot be allocated.
berry_status berry_adamw_init(berry_adamw *a, const berry_adamw_opts *o, size_t n);
void berry_adamw_free(berry_adamw *a);

// One step with learning rate LR over tensors TS[0..n_tensors), whose sizes must add up to a->n:
//   w *= 1 - lr wd (when decay);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
void berry_adamw_step(berry_adamw *a, const berry_adamw_tensor *ts, int n_tensors, float lr);

// The global L2 norm of the gradients; when MAX_NORM > 0 and the norm exceeds it, scales every gradient
// by max_norm / norm (as torch.nn.utils.clip_grad_norm_). Returns the norm before clipping.
double berry_grad_clip(const berry_adamw_tensor *ts, int n_tensors, double max_norm);

// Learning rate at STEP (0-based): linear warm-up, LR * (step + 1) / WARMUP for the first WARMUP steps,
// then cosine decay from LR to LR_MIN at step TOTAL (and LR_MIN after it).
float berry_lr_schedule(int64_t step, int64_t warmup, int64_t total, float lr, float lr_min);

#endif
