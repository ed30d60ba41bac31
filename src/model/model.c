// model.c — binds a GGUF file's tensors to a model: every tensor llama.cpp's architecture needs must be
// present with a type berry knows and exactly the expected shape; 1-D tensors are converted to f32.
#include "model/model_impl.h"
#include "base/alloc.h"
#include "base/pool.h"
#include "tensor/matmul.h"
#include "tensor/quant.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    berry_model *m;
    char *err;
    size_t n;
    float *f32;      // next free float of m->f32
} binder;

// Finds NAME with shape (NE0, NE1) (NE1 = 0: a 1-D tensor). Returns the index, -1 when absent and
// OPTIONAL, or -2 after writing the error.
static int64_t find(binder *b, const char *name, int64_t ne0, int64_t ne1, bool optional) {
    const berry_gguf *g = b->m->g;
    int64_t i = berry_gguf_find_tensor(g, name);
    if (i < 0) {
        if (optional) return -1;
        berry_errf(b->err, b->n, BERRY_EFORMAT, "tensor '%s' is missing", name);
        return -2;
    }
    int type = berry_gguf_tensor_type(g, i);
    const berry_type_info *ti = berry_type_get(type);
    if (!ti || type == BERRY_TYPE_Q8_K) {
        berry_errf(b->err, b->n, BERRY_EUNSUPPORTED, "tensor '%s' has type %d, which berry does not support", name, type);
        return -2;
    }
    int64_t ne[BERRY_GGUF_MAX_DIMS];
    berry_gguf_tensor_shape(g, i, ne);
    int nd = berry_gguf_tensor_n_dims(g, i);
    bool ok = ne[0] == ne0 && ne[2] == 1 && ne[3] == 1 && (ne1 ? ne[1] == ne1 : ne[1] == 1 && nd <= 1);
    if (!ok) {
        if (ne1)
            berry_errf(b->err, b->n, BERRY_EFORMAT, "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                       name, (long long)ne[0], (long long)ne[1], (long long)ne[2], (long long)ne[3], (long long)ne0, (long long)ne1);
        else
            berry_errf(b->err, b->n, BERRY_EFORMAT, "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld]",
                       name, (long long)ne[0], (long long)ne[1], (long long)ne[2], (long long)ne[3], (long long)ne0);
        return -2;
    }
    if (ne0 % ti->block) {
        berry_errf(b->err, b->n, BERRY_EFORMAT, "tensor '%s': rows of %lld values do not fit %s blocks of %d", name,
                   (long long)ne0, ti->name, ti->block);
        return -2;
    }
    return i;
}

static bool bind_matrix(binder *b, berry_weight *w, const char *name, int64_t cols, int64_t rows, bool optional) {
    int64_t i = find(b, name, cols, rows, optional);
    if (i < 0) return i == -1;
    const berry_gguf *g = b->m->g;
    w->data = berry_gguf_tensor_data(g, i);
    w->type = (berry_type)berry_gguf_tensor_type(g, i);
    w->cols = cols;
    w->rows = rows;
    w->row_bytes = berry_row_size(w->type, cols);
    if (!w->row_bytes || berry_gguf_tensor_bytes(g, i) != w->row_bytes * (size_t)rows) {
        berry_errf(b->err, b->n, BERRY_EFORMAT, "tensor '%s' holds %zu bytes, expected %zu", name,
                   berry_gguf_tensor_bytes(g, i), w->row_bytes * (size_t)rows);
        return false;
    }
    return true;
}

// A 1-D tensor of N values converted to f32; *OUT stays NULL when absent and OPTIONAL.
static bool bind_vector(binder *b, const float **out, const char *name, int64_t n, bool optional) {
    *out = NULL;
    int64_t i = find(b, name, n, 0, optional);
    if (i < 0) return i == -1;
    const berry_gguf *g = b->m->g;
    berry_type t = (berry_type)berry_gguf_tensor_type(g, i);
    if (berry_gguf_tensor_bytes(g, i) != berry_row_size(t, n)) {
        berry_errf(b->err, b->n, BERRY_EFORMAT, "tensor '%s' holds %zu bytes, expected %zu", name,
                   berry_gguf_tensor_bytes(g, i), berry_row_size(t, n));
        return false;
    }
    berry_dequantize(t, berry_gguf_tensor_data(g, i), b->f32, n);
    *out = b->f32;
    b->f32 += n;
    return true;
}

// Repacks the q4_0 / q8_0 / f16 matrices into the panels the matmul kernels read (tensor/matmul.h), in one
// allocation, once per model (the first context does it): decode then streams them at memory speed
// and batches skip packing per call. The mapped blocks stay in use for the embedding lookup and for
// training. BERRY_NO_REPACK=1 turns this off (for a machine short of memory: the copy is as large as
// those matrices).
static bool repack_matrices(berry_model *m, berry_pool *pool, char *err, size_t n) {
    const char *off = getenv("BERRY_NO_REPACK");
    if (off && *off && strcmp(off, "0") != 0) return true;
    if (m->pack_done) return true;
    int nw = 7 * m->hp.n_layer + 1;
    berry_weight **ws = berry_calloc((size_t)nw, sizeof *ws);
    if (!ws) { berry_errf(err, n, BERRY_ENOMEM, "out of memory"); return false; }
    ws[0] = &m->output;
    for (int il = 0; il < m->hp.n_layer; il++) {
        berry_layer *L = &m->layers[il];
        berry_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) ws[1 + 7 * il + i] = lw[i];
    }
    size_t total = 0;
    for (int i = 0; i < nw; i++) {
        size_t sz = berry_repack_size(ws[i]->type, ws[i]->cols, ws[i]->rows);
        total += (sz + 63) / 64 * 64;
    }
    bool ok = true;
    if (total) {
        m->packed = berry_alloc_big(total);
        m->packed_size = total;
        if (!m->packed) {
            berry_errf(err, n, BERRY_ENOMEM, "out of memory for %zu MiB of repacked weights (BERRY_NO_REPACK=1 skips them)",
                       total >> 20);
            ok = false;
        } else {
            uint8_t *p = m->packed;
            for (int i = 0; i < nw; i++) {
                size_t sz = berry_repack_size(ws[i]->type, ws[i]->cols, ws[i]->rows);
                if (!sz) continue;
                berry_repack(pool, ws[i]->type, ws[i]->data, ws[i]->cols, ws[i]->rows, p);
                ws[i]->packed = p;
                p += (sz + 63) / 64 * 64;
            }
        }
    }
    berry_free(ws);
    m->pack_done = ok;
    return ok;
}

berry_status berry_model_repack(berry_model *m, berry_pool *pool, char *err, size_t n) {
    pthread_mutex_lock(&m->pack_lock);
    bool ok = repack_matrices(m, pool, err, n);
    pthread_mutex_unlock(&m->pack_lock);
    return ok ? BERRY_OK : BERRY_ENOMEM;
}

berry_model *berry_model_from_gguf(berry_gguf *g, char *err, size_t n) {
    if (!g) { berry_errf(err, n, BERRY_EINVAL, "no GGUF file"); return NULL; }
    berry_model *m = berry_calloc(1, sizeof *m);
    if (!m) { berry_gguf_close(g); berry_errf(err, n, BERRY_ENOMEM, "out of memory"); return NULL; }
    m->g = g;
    pthread_mutex_init(&m->pack_lock, NULL);
    int64_t ne[BERRY_GGUF_MAX_DIMS] = {0, 0, 1, 1};
    int64_t te = berry_gguf_find_tensor(g, "token_embd.weight");
    if (te < 0) { berry_errf(err, n, BERRY_EFORMAT, "tensor 'token_embd.weight' is missing"); goto fail; }
    berry_gguf_tensor_shape(g, te, ne);
    berry_hparams *hp = &m->hp;
    if (berry_hparams_read(g, ne[1], hp, err, n) != BERRY_OK) goto fail;
    // Before allocating per-layer memory: a file claiming more layers than it has tensors for.
    if (berry_gguf_n_tensors(g) < 9 * (int64_t)hp->n_layer + 2) {
        berry_errf(err, n, BERRY_EFORMAT, "block_count %d needs at least %lld tensors, the file has %lld", hp->n_layer,
                   9 * (long long)hp->n_layer + 2, (long long)berry_gguf_n_tensors(g));
        goto fail;
    }
    hp->tied_output = berry_gguf_find_tensor(g, "output.weight") < 0;

    int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim, KV = (int64_t)hp->n_head_kv * hp->head_dim;
    // Floats of every 1-D tensor: per layer 2 norms (+2 gemma2, + biases qwen2), output norm, rope divisors.
    size_t per_layer = 2 * (size_t)E + (hp->post_norms ? 2 * (size_t)E : 0) + (hp->qkv_bias ? (size_t)(Q + 2 * KV) : 0);
    size_t total = per_layer * hp->n_layer + E + hp->head_dim / 2;
    m->f32 = berry_calloc(total, sizeof(float));
    m->layers = berry_calloc(hp->n_layer, sizeof *m->layers);
    if (!m->f32 || !m->layers) { berry_errf(err, n, BERRY_ENOMEM, "out of memory for %d layers", hp->n_layer); goto fail; }
    binder b = {m, err, n, m->f32};
    if (!bind_matrix(&b, &m->tok_embd, "token_embd.weight", E, hp->n_vocab, false)) goto fail;
    if (!bind_vector(&b, &m->output_norm, "output_norm.weight", E, false)) goto fail;
    if (hp->tied_output) m->output = m->tok_embd;
    else if (!bind_matrix(&b, &m->output, "output.weight", E, hp->n_vocab, false)) goto fail;
    if (!bind_vector(&b, &m->rope_freqs, "rope_freqs.weight", hp->head_dim / 2, true)) goto fail;
    for (int il = 0; il < hp->n_layer; il++) {
        berry_layer *L = &m->layers[il];
        char nm[96];
#define NAME(s) (snprintf(nm, sizeof nm, "blk.%d." s, il), nm)
        if (!bind_vector(&b, &L->attn_norm, NAME("attn_norm.weight"), E, false) ||
            !bind_matrix(&b, &L->wq, NAME("attn_q.weight"), E, Q, false) ||
            !bind_matrix(&b, &L->wk, NAME("attn_k.weight"), E, KV, false) ||
            !bind_matrix(&b, &L->wv, NAME("attn_v.weight"), E, KV, false) ||
            !bind_matrix(&b, &L->wo, NAME("attn_output.weight"), Q, E, false) ||
            !bind_vector(&b, &L->ffn_norm, NAME("ffn_norm.weight"), E, false) ||
            !bind_matrix(&b, &L->gate, NAME("ffn_gate.weight"), E, hp->n_ff, false) ||
            !bind_matrix(&b, &L->up, NAME("ffn_up.weight"), E, hp->n_ff, false) ||
            !bind_matrix(&b, &L->down, NAME("ffn_down.weight"), hp->n_ff, E, false))
            goto fail;
        if (hp->qkv_bias && (!bind_vector(&b, &L->bq, NAME("attn_q.bias"), Q, false) ||
                             !bind_vector(&b, &L->bk, NAME("attn_k.bias"), KV, false) ||
                             !bind_vector(&b, &L->bv, NAME("attn_v.bias"), KV, false)))
            goto fail;
        if (hp->post_norms && (!bind_vector(&b, &L->post_attn_norm, NAME("post_attention_norm.weight"), E, false) ||
                               !bind_vector(&b, &L->post_ffw_norm, NAME("post_ffw_norm.weight"), E, false)))
            goto fail;
#undef NAME
    }
    return m;
fail:
    berry_model_free(m);
    return NULL;
}

berry_model *berry_model_load(const char *path, char *err, size_t n) {
    berry_gguf *g = berry_gguf_open(path, err, n);
    return g ? berry_model_from_gguf(g, err, n) : NULL;
}

void berry_model_free(berry_model *m) {
    if (!m) return;
    berry_gguf_close(m->g);
    berry_free(m->layers);
    berry_free(m->f32);
    berry_free_big(m->packed, m->packed_size);
    pthread_mutex_destroy(&m->pack_lock);
    berry_free(m);
}

const berry_hparams *berry_model_hparams(const berry_model *m) { return &m->hp; }
const berry_gguf *berry_model_gguf(const berry_model *m) { return m->g; }

int64_t berry_model_n_params(const berry_model *m) {
    int64_t total = 0;
    for (int64_t i = 0; i < berry_gguf_n_tensors(m->g); i++) {
        int64_t ne[BERRY_GGUF_MAX_DIMS];
        berry_gguf_tensor_shape(m->g, i, ne);
        total += ne[0] * ne[1] * ne[2] * ne[3];
    }
    return total;
}

size_t berry_model_weight_bytes(const berry_model *m) {
    size_t total = 0;
    for (int64_t i = 0; i < berry_gguf_n_tensors(m->g); i++) total += berry_gguf_tensor_bytes(m->g, i);
    return total;
}
