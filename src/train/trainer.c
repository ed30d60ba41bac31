// trainer.c — gradient accumulation, clipping, AdamW, schedule.
#include "train/trainer.h"
#include "base/alloc.h"
#include "train/loss.h"
#include <stdlib.h>
#include <string.h>

berry_status berry_trainer_init(berry_trainer *t, berry_tmodel *m, const berry_trainer_opts *o, char *err,
                                size_t err_size) {
    memset(t, 0, sizeof *t);
    t->m = m;
    t->o = *o;
    if (t->o.accum < 1) t->o.accum = 1;
    int np = berry_tmodel_n_params(m);
    t->ts = calloc((size_t)np + 1, sizeof *t->ts);
    size_t cap = (size_t)berry_tmodel_opts_of(m)->max_tokens;
    t->logp = berry_calloc(cap, sizeof(float));
    t->dlogp = berry_calloc(cap, sizeof(float));
    if (!t->ts || !t->logp || !t->dlogp) goto oom;
    size_t n = 0;
    for (int i = 0; i < np; i++) {
        berry_tparam *p = berry_tmodel_param(m, i);
        if (!p->trainable) continue;
        t->ts[t->n_ts++] = (berry_adamw_tensor){p->w, p->g, (size_t)(p->rows * p->cols), p->rows > 1};
        n += (size_t)(p->rows * p->cols);
    }
    if (berry_adamw_init(&t->adam, &o->adam, n) != BERRY_OK) goto oom;
    berry_tmodel_zero_grad(m);
    return BERRY_OK;
oom:
    berry_trainer_free(t);
    return berry_errf(err, err_size, BERRY_ENOMEM, "trainer: out of memory");
}

void berry_trainer_free(berry_trainer *t) {
    berry_adamw_free(&t->adam);
    free(t->ts);
    berry_free(t->logp);
    berry_free(t->dlogp);
    t->ts = NULL;
    t->logp = t->dlogp = NULL;
}

berry_status berry_trainer_sft(berry_trainer *t, const berry_tbatch *b, const float *w, double *loss, char *err,
                               size_t err_size) {
    berry_status st = berry_tmodel_forward(t->m, b, t->logp, err, err_size);
    if (st) return st;
    size_t n = (size_t)b->n_seq * b->n_ctx;
    double l = berry_loss_sft(n, t->logp, w, t->dlogp);
    float s = 1.0f / (float)t->o.accum;
    for (size_t i = 0; i < n; i++) t->dlogp[i] *= s;
    if (loss) *loss = l;
    t->micro++;
    return berry_tmodel_backward(t->m, b, t->dlogp, err, err_size);
}

berry_status berry_trainer_dpo(berry_trainer *t, const berry_tbatch *b, const float *mask, const float *ref,
                               float beta, double *loss, double *accuracy, char *err, size_t err_size) {
    if (b->n_seq % 2) return berry_errf(err, err_size, BERRY_EINVAL, "DPO batch needs (chosen, rejected) row pairs");
    berry_status st = berry_tmodel_forward(t->m, b, t->logp, err, err_size);
    if (st) return st;
    size_t n = (size_t)b->n_seq * b->n_ctx;
    double l = berry_loss_dpo(b->n_seq / 2, b->n_ctx, t->logp, ref, mask, beta, t->dlogp, accuracy);
    float s = 1.0f / (float)t->o.accum;
    for (size_t i = 0; i < n; i++) t->dlogp[i] *= s;
    if (loss) *loss = l;
    t->micro++;
    return berry_tmodel_backward(t->m, b, t->dlogp, err, err_size);
}

void berry_trainer_step(berry_trainer *t, double *grad_norm, float *lr_out) {
    double norm = berry_grad_clip(t->ts, t->n_ts, t->o.clip);
    float lr = berry_lr_schedule(t->step, t->o.warmup, t->o.total > 0 ? t->o.total : INT64_MAX, t->o.lr, t->o.lr_min);
    berry_adamw_step(&t->adam, t->ts, t->n_ts, lr);
    berry_tmodel_zero_grad(t->m);
    t->step++;
    t->micro = 0;
    if (grad_norm) *grad_norm = norm;
    if (lr_out) *lr_out = lr;
}
