// checkpoint.c — training checkpoints and LoRA adapters as GGUF files.
#include "train/checkpoint.h"
#include "base/alloc.h"
#include "model/gguf.h"
#include "model/model.h"
#include "tensor/types.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static berry_status add_f32(berry_gguf_writer *w, const char *name, const float *data, int64_t cols, int64_t rows) {
    int64_t ne[2] = {cols, rows};
    return berry_gguf_add_tensor(w, name, BERRY_TYPE_F32, rows > 1 ? 2 : 1, ne, data, (size_t)(cols * rows) * sizeof(float));
}

berry_status berry_checkpoint_save(const char *path, const berry_trainer *t, const berry_ckpt_extra *x, char *err,
                                   size_t err_size) {
    berry_gguf_writer *w = berry_gguf_writer_new();
    if (!w) return berry_errf(err, err_size, BERRY_ENOMEM, "checkpoint: out of memory");
    berry_tmodel *m = t->m;
    const berry_hparams *hp = berry_tmodel_hparams(m);
    const berry_tmodel_opts *o = berry_tmodel_opts_of(m);
    berry_status st = berry_gguf_set_str(w, "general.type", "berry-checkpoint");
    if (!st) st = berry_gguf_set_str(w, "general.architecture", berry_arch_name(hp->arch));
    if (!st) st = berry_gguf_set_u64(w, "berry.train.step", (uint64_t)t->step);
    if (!st) st = berry_gguf_set_u64(w, "berry.train.adam_t", (uint64_t)t->adam.t);
    if (!st) st = berry_gguf_set_u64(w, "berry.train.data_pos", x ? x->data_pos : 0);
    if (!st) st = berry_gguf_set_u64(w, "berry.train.epoch", x ? x->epoch : 0);
    if (!st) st = berry_gguf_set_u64(w, "berry.train.forward_count", berry_tmodel_forward_count(m));
    if (!st) st = berry_gguf_set_u32(w, "berry.train.lora_rank", (uint32_t)o->lora_rank);
    if (!st && x) st = berry_gguf_set_arr(w, "berry.train.rng", BERRY_GGUF_UINT64, x->rng.s, 4);
    // Tensors: names are at most 63 bytes in GGUF readers (ggml), so the moments use short prefixes.
    char (*names)[2][96] = calloc((size_t)t->n_ts + 1, sizeof *names);
    if (!names) st = BERRY_ENOMEM;
    size_t off = 0;
    int k = 0;
    for (int i = 0; !st && i < berry_tmodel_n_params(m); i++) {
        berry_tparam *p = berry_tmodel_param(m, i);
        if (!p->trainable) continue;
        snprintf(names[k][0], 96, "adam.m.%.80s", p->name);
        snprintf(names[k][1], 96, "adam.v.%.80s", p->name);
        st = add_f32(w, p->name, p->w, p->cols, p->rows);
        if (!st) st = add_f32(w, names[k][0], t->adam.m + off, p->cols, p->rows);
        if (!st) st = add_f32(w, names[k][1], t->adam.v + off, p->cols, p->rows);
        off += (size_t)(p->rows * p->cols);
        k++;
    }
    if (!st) st = berry_gguf_write(w, path, err, err_size);
    else berry_errf(err, err_size, st, "checkpoint %s: cannot assemble (%s)", path, berry_status_name(st));
    free(names);
    berry_gguf_writer_free(w);
    return st;
}

// The f32 data of tensor NAME with COLS x ROWS values, or NULL with ERR set.
static const float *find_f32(const berry_gguf *g, const char *path, const char *name, int64_t cols, int64_t rows,
                             char *err, size_t err_size) {
    int64_t i = berry_gguf_find_tensor(g, name);
    if (i < 0) { berry_errf(err, err_size, BERRY_EFORMAT, "%s: no tensor '%s'", path, name); return NULL; }
    int64_t ne[BERRY_GGUF_MAX_DIMS];
    berry_gguf_tensor_shape(g, i, ne);
    if (berry_gguf_tensor_type(g, i) != BERRY_TYPE_F32 || ne[0] != cols || ne[1] * ne[2] * ne[3] != rows) {
        berry_errf(err, err_size, BERRY_EFORMAT, "%s: tensor '%s' is %lld x %lld (type %d), expected f32 %lld x %lld",
                   path, name, (long long)ne[1], (long long)ne[0], berry_gguf_tensor_type(g, i), (long long)rows,
                   (long long)cols);
        return NULL;
    }
    return berry_gguf_tensor_data(g, i);
}

berry_status berry_checkpoint_load(const char *path, berry_trainer *t, berry_ckpt_extra *x, char *err,
                                   size_t err_size) {
    berry_gguf *g = berry_gguf_open(path, err, err_size);
    if (!g) return BERRY_EFORMAT;
    berry_tmodel *m = t->m;
    berry_status st = BERRY_OK;
    int64_t step, adam_t, data_pos, epoch, fwd, rank;
    const char *type;
    if (!berry_gguf_get_str(g, "general.type", &type, NULL) || strcmp(type, "berry-checkpoint") != 0 ||
        !berry_gguf_get_i64(g, "berry.train.step", &step) || !berry_gguf_get_i64(g, "berry.train.adam_t", &adam_t) ||
        !berry_gguf_get_i64(g, "berry.train.data_pos", &data_pos) || !berry_gguf_get_i64(g, "berry.train.epoch", &epoch) ||
        !berry_gguf_get_i64(g, "berry.train.forward_count", &fwd) || !berry_gguf_get_i64(g, "berry.train.lora_rank", &rank)) {
        st = berry_errf(err, err_size, BERRY_EFORMAT, "%s: not a berry training checkpoint (berry.train.* keys missing)", path);
        goto done;
    }
    if (rank != berry_tmodel_opts_of(m)->lora_rank) {
        st = berry_errf(err, err_size, BERRY_EINVAL, "%s: checkpoint has LoRA rank %lld, the run %d", path, (long long)rank,
                        berry_tmodel_opts_of(m)->lora_rank);
        goto done;
    }
    // Validate everything before changing anything.
    char nm[128];
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        for (int i = 0; i < berry_tmodel_n_params(m); i++) {
            berry_tparam *p = berry_tmodel_param(m, i);
            if (!p->trainable) continue;
            size_t n = (size_t)(p->rows * p->cols);
            const float *v = find_f32(g, path, p->name, p->cols, p->rows, err, err_size);
            snprintf(nm, sizeof nm, "adam.m.%.80s", p->name);
            const float *am = v ? find_f32(g, path, nm, p->cols, p->rows, err, err_size) : NULL;
            snprintf(nm, sizeof nm, "adam.v.%.80s", p->name);
            const float *av = am ? find_f32(g, path, nm, p->cols, p->rows, err, err_size) : NULL;
            if (!av) { st = BERRY_EFORMAT; goto done; }
            if (pass == 1) {
                memcpy(p->w, v, n * sizeof(float));
                memcpy(t->adam.m + off, am, n * sizeof(float));
                memcpy(t->adam.v + off, av, n * sizeof(float));
            }
            off += n;
        }
    }
    t->step = step;
    t->adam.t = adam_t;
    t->micro = 0;
    berry_tmodel_set_forward_count(m, (uint64_t)fwd);
    berry_tmodel_zero_grad(m);
    if (x) {
        x->data_pos = (uint64_t)data_pos;
        x->epoch = (uint64_t)epoch;
        int64_t ri = berry_gguf_find_key(g, "berry.train.rng");
        if (ri >= 0 && berry_gguf_arr_type(g, ri) == BERRY_GGUF_UINT64 && berry_gguf_arr_len(g, ri) == 4)
            memcpy(x->rng.s, berry_gguf_arr_data(g, ri), sizeof x->rng.s);
    }
done:
    berry_gguf_close(g);
    return st;
}

berry_status berry_lora_save(const char *path, berry_tmodel *m, char *err, size_t err_size) {
    const berry_tmodel_opts *o = berry_tmodel_opts_of(m);
    if (o->lora_rank <= 0) return berry_errf(err, err_size, BERRY_EINVAL, "lora save: the model has no adapters");
    berry_gguf_writer *w = berry_gguf_writer_new();
    if (!w) return berry_errf(err, err_size, BERRY_ENOMEM, "lora save: out of memory");
    float alpha = o->lora_alpha > 0 ? o->lora_alpha : (float)o->lora_rank;
    berry_status st = berry_gguf_set_str(w, "general.architecture", berry_arch_name(berry_tmodel_hparams(m)->arch));
    if (!st) st = berry_gguf_set_str(w, "general.type", "adapter");
    if (!st) st = berry_gguf_set_str(w, "adapter.type", "lora");
    if (!st) st = berry_gguf_set_f32(w, "adapter.lora.alpha", alpha);
    for (int i = 0; !st && i < berry_tmodel_n_params(m); i++) {
        berry_tparam *p = berry_tmodel_param(m, i);
        if (p->trainable) st = add_f32(w, p->name, p->w, p->cols, p->rows);
    }
    if (!st) st = berry_gguf_write(w, path, err, err_size);
    else berry_errf(err, err_size, st, "lora save %s: cannot assemble the file", path);
    berry_gguf_writer_free(w);
    return st;
}

berry_status berry_lora_load(const char *path, berry_tmodel *m, char *err, size_t err_size) {
    berry_gguf *g = berry_gguf_open(path, err, err_size);
    if (!g) return BERRY_EFORMAT;
    berry_status st = BERRY_OK;
    const char *s;
    float alpha;
    const berry_tmodel_opts *o = berry_tmodel_opts_of(m);
    if (!berry_gguf_get_str(g, "general.type", &s, NULL) || strcmp(s, "adapter") ||
        !berry_gguf_get_str(g, "adapter.type", &s, NULL) || strcmp(s, "lora")) {
        st = berry_errf(err, err_size, BERRY_EFORMAT, "%s: not a LoRA adapter (general.type / adapter.type)", path);
        goto done;
    }
    if (!berry_gguf_get_str(g, "general.architecture", &s, NULL) || strcmp(s, berry_arch_name(berry_tmodel_hparams(m)->arch))) {
        st = berry_errf(err, err_size, BERRY_EINVAL, "%s: adapter for architecture '%s', the model is %s", path,
                        berry_gguf_get_str(g, "general.architecture", &s, NULL) ? s : "?",
                        berry_arch_name(berry_tmodel_hparams(m)->arch));
        goto done;
    }
    if (berry_gguf_get_f32(g, "adapter.lora.alpha", &alpha) && o->lora_rank > 0 &&
        alpha != (o->lora_alpha > 0 ? o->lora_alpha : (float)o->lora_rank)) {
        st = berry_errf(err, err_size, BERRY_EINVAL, "%s: adapter alpha %g differs from the run's %g", path, alpha, o->lora_alpha);
        goto done;
    }
    for (int64_t i = 0; i < berry_gguf_n_tensors(g); i++) {
        const char *name = berry_gguf_tensor_name(g, i);
        berry_tparam *p = berry_tmodel_find(m, name);
        if (!p || !p->trainable) {
            st = berry_errf(err, err_size, BERRY_EINVAL, "%s: tensor '%s' matches no adapter of the model (rank %d)", path, name,
                            o->lora_rank);
            goto done;
        }
        if (!find_f32(g, path, name, p->cols, p->rows, err, err_size)) { st = BERRY_EINVAL; goto done; }
    }
    for (int64_t i = 0; i < berry_gguf_n_tensors(g); i++) {
        berry_tparam *p = berry_tmodel_find(m, berry_gguf_tensor_name(g, i));
        memcpy(p->w, berry_gguf_tensor_data(g, i), (size_t)(p->rows * p->cols) * sizeof(float));
    }
done:
    berry_gguf_close(g);
    return st;
}
