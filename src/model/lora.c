// lora.c — LoRA adapters (llama.cpp's layout): loading against a base model, and merging into it.
#include "model/lora.h"
#include "base/alloc.h"
#include "model/model_impl.h"
#include "tensor/matmul.h"
#include "tensor/quant.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct berry_lora {
    const berry_model *m;
    int n;
    berry_lora_pair *p;
};

static const char *const proj_names[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

// The weight of M named NAME that the forward pass multiplies by, or NULL.
static const berry_weight *adaptable(const berry_model *m, const char *name) {
    int l, len = 0;
    char proj[32];
    if (sscanf(name, "blk.%d.%31[a-z_].weight%n", &l, proj, &len) == 2 && name[len] == 0 && l >= 0 && l < m->hp.n_layer) {
        const berry_layer *L = &m->layers[l];
        const berry_weight *w[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++)
            if (!strcmp(proj, proj_names[i])) return w[i];
        return NULL;
    }
    if (!strcmp(name, "output.weight") && !m->hp.tied_output) return &m->output;
    return NULL;
}

void berry_lora_free(berry_lora *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) { berry_free(l->p[i].a); berry_free(l->p[i].b); }
    free(l->p);
    free(l);
}

// The f32 values of tensor I of G (COUNT values), or NULL when out of memory.
static float *to_f32(const berry_gguf *g, int64_t i, size_t count) {
    float *v = berry_calloc(count ? count : 1, sizeof(float));
    if (v) berry_dequantize((berry_type)berry_gguf_tensor_type(g, i), berry_gguf_tensor_data(g, i), v, (int64_t)count);
    return v;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n > k && !strcmp(s + n - k, suf);
}

berry_lora *berry_lora_open(const char *path, const berry_model *m, float user_scale, char *err, size_t err_size) {
    berry_gguf *g = berry_gguf_open(path, err, err_size);
    if (!g) return NULL;
    berry_lora *l = calloc(1, sizeof *l);
    const char *s;
    float alpha = 0;
    if (!l) { berry_errf(err, err_size, BERRY_ENOMEM, "%s: out of memory", path); goto fail; }
    l->m = m;
    if (!berry_gguf_get_str(g, "general.type", &s, NULL) || strcmp(s, "adapter") ||
        !berry_gguf_get_str(g, "adapter.type", &s, NULL) || strcmp(s, "lora")) {
        berry_errf(err, err_size, BERRY_EFORMAT, "%s: not a LoRA adapter (general.type = adapter, adapter.type = lora)", path);
        goto fail;
    }
    if (berry_gguf_get_str(g, "general.architecture", &s, NULL) && strcmp(s, berry_arch_name(m->hp.arch))) {
        berry_errf(err, err_size, BERRY_EINVAL, "%s: an adapter for architecture '%s', the model is %s", path, s,
                   berry_arch_name(m->hp.arch));
        goto fail;
    }
    if (berry_gguf_find_key(g, "adapter.lora.alpha") >= 0 && !berry_gguf_get_f32(g, "adapter.lora.alpha", &alpha)) {
        berry_errf(err, err_size, BERRY_EFORMAT, "%s: adapter.lora.alpha is not a number", path);
        goto fail;
    }
    int64_t nt = berry_gguf_n_tensors(g);
    l->p = calloc((size_t)nt / 2 + 1, sizeof *l->p);
    if (!l->p) { berry_errf(err, err_size, BERRY_ENOMEM, "%s: out of memory", path); goto fail; }
    // Every tensor is one half of a pair whose other half is present; pairs are found from their A.
    for (int64_t i = 0; i < nt; i++) {
        const char *name = berry_gguf_tensor_name(g, i);
        bool is_a = has_suffix(name, ".lora_a");
        if (!is_a && !has_suffix(name, ".lora_b")) {
            berry_errf(err, err_size, BERRY_EFORMAT, "%s: tensor '%s' is neither a .lora_a nor a .lora_b", path, name);
            goto fail;
        }
        char base[96], other[112];
        size_t bl = strlen(name) - 7;
        if (bl >= sizeof base) { berry_errf(err, err_size, BERRY_EFORMAT, "%s: tensor name '%s' is too long", path, name); goto fail; }
        memcpy(base, name, bl);
        base[bl] = 0;
        snprintf(other, sizeof other, "%s.lora_%c", base, is_a ? 'b' : 'a');
        int64_t j = berry_gguf_find_tensor(g, other);
        if (j < 0) { berry_errf(err, err_size, BERRY_EFORMAT, "%s: '%s' has no partner '%s'", path, name, other); goto fail; }
        const berry_weight *w = adaptable(m, base);
        if (!w) {
            berry_errf(err, err_size, BERRY_EINVAL, "%s: tensor '%s': the model has no weight '%s' that berry can adapt", path, name, base);
            goto fail;
        }
        if (!is_a) continue;
        int64_t ea[BERRY_GGUF_MAX_DIMS], eb[BERRY_GGUF_MAX_DIMS];
        berry_gguf_tensor_shape(g, i, ea);
        berry_gguf_tensor_shape(g, j, eb);
        int64_t r = ea[1];
        if (berry_gguf_tensor_n_dims(g, i) > 2 || ea[0] != w->cols || r < 1 || r > 65536) {
            berry_errf(err, err_size, BERRY_EINVAL, "%s: '%s' has ne {%lld, %lld}, expected {%lld, rank} for a %lld x %lld weight",
                       path, name, (long long)ea[0], (long long)ea[1], (long long)w->cols, (long long)w->rows, (long long)w->cols);
            goto fail;
        }
        if (berry_gguf_tensor_n_dims(g, j) > 2 || eb[0] != r || eb[1] != w->rows) {
            berry_errf(err, err_size, BERRY_EINVAL, "%s: '%s' has ne {%lld, %lld}, expected {%lld, %lld} for a rank-%lld adapter of a %lld x %lld weight",
                       path, other, (long long)eb[0], (long long)eb[1], (long long)r, (long long)w->rows, (long long)r,
                       (long long)w->rows, (long long)w->cols);
            goto fail;
        }
        berry_lora_pair *p = &l->p[l->n++];
        snprintf(p->name, sizeof p->name, "%s", base);
        p->base = w;
        p->rank = (int)r;
        p->in = w->cols;
        p->out = w->rows;
        p->scale = alpha != 0 ? user_scale * alpha / (float)r : user_scale;
        p->a = to_f32(g, i, (size_t)(r * w->cols));
        p->b = to_f32(g, j, (size_t)(r * w->rows));
        if (!p->a || !p->b) { berry_errf(err, err_size, BERRY_ENOMEM, "%s: out of memory", path); goto fail; }
        size_t nb = (size_t)(r * w->rows);
        for (size_t k = 0; k < nb; k++) p->b[k] *= p->scale;
    }
    for (int i = 0; i < l->n; i++)
        for (int k = 0; k < i; k++)
            if (l->p[k].base == l->p[i].base) {
                berry_errf(err, err_size, BERRY_EFORMAT, "%s: two adapters for '%s'", path, l->p[i].name);
                goto fail;
            }
    berry_gguf_close(g);
    return l;
fail:
    berry_lora_free(l);
    berry_gguf_close(g);
    return NULL;
}

const berry_model *berry_lora_model(const berry_lora *l) { return l->m; }
int berry_lora_n_pairs(const berry_lora *l) { return l->n; }
const berry_lora_pair *berry_lora_pair_at(const berry_lora *l, int i) { return i >= 0 && i < l->n ? &l->p[i] : NULL; }

const berry_lora_pair *berry_lora_find(const berry_lora *l, const void *weight) {
    // A few hundred pointer comparisons per product at most: nothing beside the product itself.
    for (int i = 0; i < l->n; i++)
        if (l->p[i].base == weight) return &l->p[i];
    return NULL;
}

int berry_lora_max_rank(const berry_lora *l) {
    int r = 0;
    for (int i = 0; i < l->n; i++) r = l->p[i].rank > r ? l->p[i].rank : r;
    return r;
}

int64_t berry_lora_max_dim(const berry_lora *l) {
    int64_t d = 0;
    for (int i = 0; i < l->n; i++) {
        const berry_lora_pair *p = &l->p[i];
        if (p->in > d) d = p->in;
        if (p->out > d) d = p->out;
        if (p->rank > d) d = p->rank;
    }
    return d;
}

// ---- merge ---------------------------------------------------------------------------------------

// W (out, in) += B A for one pair (B already scaled): as Y = X . W'^T with X = B (out, r) and
// W' = A^T (in, r), so that the tensor layer's f32 product does the work.
static berry_status fold(const berry_lora_pair *p, float *w, berry_pool *pool) {
    int r = p->rank;
    size_t n_at = (size_t)p->in * r;
    float *at = berry_calloc(n_at, sizeof(float)), *ba = berry_calloc((size_t)(p->out * p->in), sizeof(float));
    void *scr = berry_calloc(berry_matmul_scratch_size(BERRY_TYPE_F32, (int)p->out, r) + 64, 1);
    if (!at || !ba || !scr) { berry_free(at); berry_free(ba); berry_free(scr); return BERRY_ENOMEM; }
    for (int k = 0; k < r; k++)
        for (int64_t i = 0; i < p->in; i++) at[(size_t)i * r + k] = p->a[(size_t)k * p->in + i];
    berry_matmul(pool, BERRY_TYPE_F32, at, p->b, ba, (int)p->out, r, p->in, scr);
    size_t n = (size_t)(p->out * p->in);
    for (size_t i = 0; i < n; i++) w[i] += ba[i];
    berry_free(at); berry_free(ba); berry_free(scr);
    return BERRY_OK;
}

berry_status berry_lora_merge(const char *base_path, const char *lora_path, float user_scale, int type,
                              const char *out_path, berry_pool *pool, char *err, size_t err_size) {
    if (type >= 0 && (!berry_type_get(type) || type == BERRY_TYPE_Q8_K))
        return berry_errf(err, err_size, BERRY_EINVAL, "merge: type %d cannot store weights", type);
    berry_model *m = berry_model_load(base_path, err, err_size);
    if (!m) return BERRY_EFORMAT;
    berry_lora *l = berry_lora_open(lora_path, m, user_scale, err, err_size);
    if (!l) { berry_model_free(m); return BERRY_EINVAL; }
    const berry_gguf *g = berry_model_gguf(m);
    berry_gguf_writer *w = berry_gguf_writer_new();
    void **bufs = calloc((size_t)l->n + 1, sizeof *bufs);
    berry_status st = w && bufs ? BERRY_OK : BERRY_ENOMEM;
    if (st) berry_errf(err, err_size, st, "merge: out of memory");
    for (int64_t i = 0; !st && i < berry_gguf_n_kv(g); i++) {
        const char *key = berry_gguf_key(g, i);
        if (type >= 0 && !strcmp(key, "general.file_type")) continue;  // no longer true after requantizing
        st = berry_gguf_copy_kv(w, g, i);
        if (st) berry_errf(err, err_size, st, "merge: cannot copy key '%s'", key);
    }
    int nb = 0;
    for (int64_t i = 0; !st && i < berry_gguf_n_tensors(g); i++) {
        const char *name = berry_gguf_tensor_name(g, i);
        int64_t ne[BERRY_GGUF_MAX_DIMS];
        berry_gguf_tensor_shape(g, i, ne);
        int nd = berry_gguf_tensor_n_dims(g, i), tt = berry_gguf_tensor_type(g, i);
        const berry_lora_pair *p = NULL;
        for (int k = 0; k < l->n && !p; k++)
            if (!strcmp(l->p[k].name, name)) p = &l->p[k];
        if (!p) {
            st = berry_gguf_add_tensor(w, name, tt, nd, ne, berry_gguf_tensor_data(g, i), berry_gguf_tensor_bytes(g, i));
            if (st) berry_errf(err, err_size, st, "merge: cannot add tensor '%s'", name);
            continue;
        }
        int to = type >= 0 ? type : tt;
        size_t n = (size_t)(p->out * p->in), rb = berry_row_size((berry_type)to, p->in);
        if (!rb) { st = berry_errf(err, err_size, BERRY_EINVAL, "merge: rows of '%s' (%lld values) do not fit type %s", name, (long long)p->in, berry_type_get(to)->name); break; }
        float *f = berry_calloc(n, sizeof(float));
        void *q = berry_calloc(rb * (size_t)p->out, 1);
        bufs[nb++] = q;
        if (!f || !q) { berry_free(f); st = berry_errf(err, err_size, BERRY_ENOMEM, "merge: out of memory for '%s'", name); break; }
        berry_dequantize((berry_type)tt, berry_gguf_tensor_data(g, i), f, (int64_t)n);
        st = fold(p, f, pool);
        if (!st) berry_quantize((berry_type)to, f, q, (int64_t)n);
        berry_free(f);
        if (st) { berry_errf(err, err_size, st, "merge: out of memory for '%s'", name); break; }
        st = berry_gguf_add_tensor(w, name, to, nd, ne, q, rb * (size_t)p->out);
        if (st) berry_errf(err, err_size, st, "merge: cannot add tensor '%s'", name);
    }
    if (!st) st = berry_gguf_write(w, out_path, err, err_size);
    for (int k = 0; k < nb; k++) berry_free(bufs[k]);
    free(bufs);
    berry_gguf_writer_free(w);
    berry_lora_free(l);
    berry_model_free(m);
    return st;
}
