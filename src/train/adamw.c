// adamw.c — AdamW, gradient clipping, learning-rate schedule.
#include "train/adamw.h"
#include "base/alloc.h"
#include <math.h>
#include <string.h>

berry_status berry_adamw_init(berry_adamw *a, const berry_adamw_opts *o, size_t n) {
    memset(a, 0, sizeof *a);
    a->o = *o;
    a->n = n;
    a->m = berry_calloc(n ? n : 1, sizeof(float));
    a->v = berry_calloc(n ? n : 1, sizeof(float));
    if (!a->m || !a->v) { berry_adamw_free(a); return BERRY_ENOMEM; }
    return BERRY_OK;
}

void berry_adamw_free(berry_adamw *a) {
    berry_free(a->m);
    berry_free(a->v);
    a->m = a->v = NULL;
}

void berry_adamw_step(berry_adamw *a, const berry_adamw_tensor *ts, int n_tensors, float lr) {
    a->t++;
    // Scalars formed in double and rounded to float once, as PyTorch's single-tensor AdamW does.
    double b1d = a->o.beta1, b2d = a->o.beta2;
    float b1 = (float)b1d, b2 = (float)b2d, c1 = (float)(1.0 - b1d), c2 = (float)(1.0 - b2d), eps = (float)a->o.eps;
    float step = (float)(lr / (1.0 - pow(b1d, (double)a->t)));
    float bc2s = (float)sqrt(1.0 - pow(b2d, (double)a->t));
    float keep = (float)(1.0 - (double)lr * a->o.weight_decay);
    size_t off = 0;
    for (int k = 0; k < n_tensors; k++) {
        float *w = ts[k].w, *m = a->m + off, *v = a->v + off;
        const float *g = ts[k].g;
        for (size_t i = 0; i < ts[k].n; i++) {
            if (ts[k].decay) w[i] *= keep;
            m[i] = b1 * m[i] + c1 * g[i];
            v[i] = b2 * v[i] + c2 * (g[i] * g[i]);
            w[i] -= step * (m[i] / (sqrtf(v[i]) / bc2s + eps));
        }
        off += ts[k].n;
    }
}

double berry_grad_clip(const berry_adamw_tensor *ts, int n_tensors, double max_norm) {
    double ss = 0.0;
    for (int k = 0; k < n_tensors; k++)
        for (size_t i = 0; i < ts[k].n; i++) ss += (double)ts[k].g[i] * ts[k].g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        float s = (float)(max_norm / (norm + 1e-6));
        for (int k = 0; k < n_tensors; k++) {
            float *g = ts[k].g;
            for (size_t i = 0; i < ts[k].n; i++) g[i] *= s;
        }
    }
    return norm;
}

float berry_lr_schedule(int64_t step, int64_t warmup, int64_t total, float lr, float lr_min) {
    if (warmup > 0 && step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (step >= total || total <= warmup) return step >= total ? lr_min : lr;
    double progress = (double)(step - warmup) / (double)(total - warmup);
    return lr_min + (lr - lr_min) * 0.5f * (float)(1.0 + cos(M_PI * progress));
}
