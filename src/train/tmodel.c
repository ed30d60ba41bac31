// tmodel.c — training forward and backward for llama, qwen2 and gemma2 (llm.c style: each layer is a
// forward/backward pair with its shapes named; every backward accumulates with +=).
//
// Shapes: N = n_seq * n_ctx tokens, C = n_embd, H / KV = query / key-value heads of D = head_dim,
// QD = H * D, KD = KV * D, F = n_ff, V = n_vocab, R = LoRA rank.
//
// Memory: per layer the forward saves its input, the normed inputs, q/k/v after rope, the attention
// output and its log-sum-exp (N, H) — never the (T, T) probabilities, which the backward pass
// recomputes from q, k and the log-sum-exp, flash-attention style — and the FFN's gate, up and hidden
// activations. With opts.recompute only the layer inputs are kept per layer and one set of buffers is
// shared: the backward pass recomputes a layer's forward just before differentiating it.
#include "train/tmodel.h"
#include "base/alloc.h"
#include "base/rng.h"
#include "tensor/quant.h"
#include "tensor/types.h"
#include "tensor/vec.h"
#include "model/model_impl.h"
#include "train/gemm.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Tensors of one layer, in the order they are created.
enum { T_ATTN_NORM, T_Q, T_BQ, T_K, T_BK, T_V, T_BV, T_O, T_POST_ATTN, T_FFN_NORM, T_GATE, T_UP, T_DOWN,
       T_POST_FFN, T_COUNT };
static const char *const tnames[T_COUNT] = {
    "attn_norm.weight", "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight",
    "attn_v.bias", "attn_output.weight", "post_attention_norm.weight", "ffn_norm.weight", "ffn_gate.weight",
    "ffn_up.weight", "ffn_down.weight", "post_ffw_norm.weight"};
// LoRA projections: q, k, v, o, gate, up, down, and the tensor each adapts.
enum { P_Q, P_K, P_V, P_O, P_GATE, P_UP, P_DOWN, P_COUNT };
static const int proj_tensor[P_COUNT] = {T_Q, T_K, T_V, T_O, T_GATE, T_UP, T_DOWN};

// Saved activations of one layer; see the top of the file.
typedef struct {
    float *x;                // (N, C) input
    float *xn1, *rstd1;      // (N, C), (N)
    float *q, *k, *v;        // (N, QD), (N, KD), (N, KD): after bias and rope
    float *att, *lse;        // (N, QD), (N, H)
    float *ao, *rstd_pa;     // (N, C) attention projection, (N) gemma2 post-attention norm
    float *x2;               // (N, C) residual after attention
    float *xn2, *rstd2;      // (N, C), (N)
    float *gate, *up, *hid;  // (N, F)
    float *fo, *rstd_pf;     // (N, C) FFN output, (N) gemma2 post-FFN norm
    float *u[P_COUNT];       // (N, R) adapter inner activations
} lact;

struct berry_tmodel {
    berry_hparams hp;
    berry_tmodel_opts o;
    berry_pool *pool;
    int n_params;
    berry_tparam *p;
    int tok_embd, out_norm, output;
    int (*L)[T_COUNT];           // (n_layer) tensor indices, -1 when absent
    int (*la)[P_COUNT], (*lb)[P_COUNT];  // LoRA A (R, in) and B (out, R), -1 when absent
    float lora_scale;
    float *rope_div;             // (D/2) frequency divisors or NULL
    float *vals, *grads;         // own the parameter values and gradients
    // activations, for up to cap tokens
    int cap, n_last;             // capacity; tokens of the last forward
    lact *act;                   // (n_layer)
    float *xf, *xfn, *rstd_f, *lse_f;  // (N, C) last layer's output, normed, (N), (N) head log-sum-exp
    float *abuf;
    // backward scratch
    float *dx, *dxn, *dtmp, *dq, *dk, *dv, *datt, *dgate, *dup, *dhid, *du, *us, *xd;
    float *logits;               // (chunk, V)
    int chunk;
    float *wscr;                 // dequantized rows of a frozen matrix
    size_t wscr_n;
    float *head32;               // (V, C) f32 copy of a frozen quantized output head, made at first use
    bool head32_failed;          // no memory for it: dequantize block by block instead
    float *sbuf;                 // score rows for attention, (threads, 3, n_ctx)
    int sbuf_ctx;
    int32_t *posb, *seg0;        // (N) rope position; index of the document's first token in its row
    uint64_t drop_seed, n_fwd;
};

static inline const float *fw(const berry_tparam *p) { return (const float *)p->data; }
static inline int64_t numel(const berry_tparam *p) { return p->cols * p->rows; }

static bool layer_slides(const berry_hparams *hp, int il) {
    if (hp->sliding_window <= 0) return false;
    int pat = hp->swa_pattern > 0 ? hp->swa_pattern : 2;
    return il % pat < pat - 1;
}

// ---- parameters ----------------------------------------------------------------------------------

static int add_param(berry_tmodel *m, const char *name, int64_t cols, int64_t rows, bool trainable) {
    berry_tparam *p = &m->p[m->n_params];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->cols = cols;
    p->rows = rows;
    p->trainable = trainable;
    p->type = BERRY_TYPE_F32;
    return m->n_params++;
}

static bool is_lora_target(const berry_tmodel *m, int pid) {
    unsigned t = m->o.lora_targets ? m->o.lora_targets : BERRY_LORA_ALL;
    return m->o.lora_rank > 0 && (t >> pid & 1u);
}

static berry_tmodel *create(const berry_hparams *hp, const berry_tmodel_opts *o, berry_pool *pool, bool alloc_frozen,
                            char *err, size_t err_size) {
    const berry_hparams *h = hp;
    if (h->n_vocab <= 0 || h->n_embd <= 0 || h->n_layer <= 0 || h->n_head <= 0 || h->n_head_kv <= 0 ||
        h->head_dim <= 0 || h->head_dim % 2 || h->n_ff <= 0 || h->n_head % h->n_head_kv) {
        berry_errf(err, err_size, BERRY_EINVAL, "training model: inconsistent shapes (vocab %d, embd %d, layers %d, heads %d/%d, head_dim %d, ff %d)",
                   h->n_vocab, h->n_embd, h->n_layer, h->n_head, h->n_head_kv, h->head_dim, h->n_ff);
        return NULL;
    }
    if (o->lora_rank < 0 || o->lora_rank > 4096 || !(o->lora_dropout >= 0 && o->lora_dropout < 1) || o->max_tokens <= 0) {
        berry_errf(err, err_size, BERRY_EINVAL, "training model: bad options (lora rank %d, dropout %g, max tokens %d)",
                   o->lora_rank, o->lora_dropout, o->max_tokens);
        return NULL;
    }
    berry_tmodel *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->hp = *hp;
    m->o = *o;
    m->pool = pool;
    if (m->hp.attn_scale <= 0) m->hp.attn_scale = 1.0f / sqrtf((float)h->head_dim);
    m->lora_scale = o->lora_rank > 0 ? (o->lora_alpha > 0 ? o->lora_alpha : (float)o->lora_rank) / (float)o->lora_rank : 0;
    int nl = h->n_layer;
    int64_t C = h->n_embd, QD = (int64_t)h->n_head * h->head_dim, KD = (int64_t)h->n_head_kv * h->head_dim, F = h->n_ff;
    m->p = calloc((size_t)nl * (T_COUNT + 2 * P_COUNT) + 4, sizeof *m->p);
    m->L = calloc((size_t)nl, sizeof *m->L);
    m->la = calloc((size_t)nl, sizeof *m->la);
    m->lb = calloc((size_t)nl, sizeof *m->lb);
    if (!m->p || !m->L || !m->la || !m->lb) goto oom;
    bool full = o->lora_rank == 0;
    m->tok_embd = add_param(m, "token_embd.weight", C, h->n_vocab, full);
    char name[96];
    for (int l = 0; l < nl; l++) {
        int64_t shape[T_COUNT][2] = {{C, 1}, {C, QD}, {QD, 1}, {C, KD}, {KD, 1}, {C, KD}, {KD, 1}, {QD, C},
                                     {C, 1}, {C, 1}, {C, F}, {C, F}, {F, C}, {C, 1}};
        for (int t = 0; t < T_COUNT; t++) {
            m->L[l][t] = -1;
            if ((t == T_BQ || t == T_BK || t == T_BV) && !h->qkv_bias) continue;
            if ((t == T_POST_ATTN || t == T_POST_FFN) && !h->post_norms) continue;
            snprintf(name, sizeof name, "blk.%d.%s", l, tnames[t]);
            m->L[l][t] = add_param(m, name, shape[t][0], shape[t][1], full);
        }
        for (int pid = 0; pid < P_COUNT; pid++) {
            m->la[l][pid] = m->lb[l][pid] = -1;
            if (!is_lora_target(m, pid)) continue;
            const berry_tparam *w = &m->p[m->L[l][proj_tensor[pid]]];
            snprintf(name, sizeof name, "%.80s.lora_a", w->name);
            m->la[l][pid] = add_param(m, name, w->cols, o->lora_rank, true);
            snprintf(name, sizeof name, "%.80s.lora_b", w->name);
            m->lb[l][pid] = add_param(m, name, o->lora_rank, w->rows, true);
        }
    }
    m->out_norm = add_param(m, "output_norm.weight", C, 1, full);
    m->output = h->tied_output ? m->tok_embd : add_param(m, "output.weight", C, h->n_vocab, full);
    // One block for the values, one for the gradients.
    size_t nv = 0, ng = 0;
    for (int i = 0; i < m->n_params; i++) {
        berry_tparam *p = &m->p[i];
        size_t n = (size_t)numel(p), pad = (n + 15) / 16 * 16;
        if (p->trainable || alloc_frozen || p->rows == 1) nv += pad;
        if (p->trainable) ng += pad;
    }
    m->vals = berry_calloc(nv ? nv : 1, sizeof(float));
    m->grads = berry_calloc(ng ? ng : 1, sizeof(float));
    if (!m->vals || !m->grads) goto oom;
    nv = ng = 0;
    for (int i = 0; i < m->n_params; i++) {
        berry_tparam *p = &m->p[i];
        size_t n = (size_t)numel(p), pad = (n + 15) / 16 * 16;
        if (p->trainable || alloc_frozen || p->rows == 1) { p->w = m->vals + nv; p->data = p->w; nv += pad; }
        if (p->trainable) { p->g = m->grads + ng; ng += pad; }
    }
    // Activations.
    int N = o->max_tokens, R = o->lora_rank;
    m->cap = N;
    size_t per_layer = (size_t)N * (size_t)(6 * C + 2 * QD + 2 * KD + 3 * F + h->n_head + 5 + P_COUNT * R);
    size_t n_full = o->recompute ? 1 : (size_t)nl;
    size_t total = n_full * per_layer + (size_t)nl * N * C + (size_t)N * (2 * C + 2);
    m->abuf = berry_calloc(total, sizeof(float));
    m->act = calloc((size_t)nl, sizeof *m->act);
    if (!m->abuf || !m->act) goto oom;
    float *a = m->abuf;
#define TAKE(ptr, n) do { (ptr) = a; a += (size_t)(n); } while (0)
    for (int l = 0; l < nl; l++) TAKE(m->act[l].x, (size_t)N * C);
    for (size_t l = 0; l < n_full; l++) {
        lact *s = &m->act[l];
        TAKE(s->xn1, (size_t)N * C); TAKE(s->rstd1, N);
        TAKE(s->q, (size_t)N * QD); TAKE(s->k, (size_t)N * KD); TAKE(s->v, (size_t)N * KD);
        TAKE(s->att, (size_t)N * QD); TAKE(s->lse, (size_t)N * h->n_head);
        TAKE(s->ao, (size_t)N * C); TAKE(s->rstd_pa, N); TAKE(s->x2, (size_t)N * C);
        TAKE(s->xn2, (size_t)N * C); TAKE(s->rstd2, N);
        TAKE(s->gate, (size_t)N * F); TAKE(s->up, (size_t)N * F); TAKE(s->hid, (size_t)N * F);
        TAKE(s->fo, (size_t)N * C); TAKE(s->rstd_pf, N);
        for (int pid = 0; pid < P_COUNT; pid++) TAKE(s->u[pid], (size_t)N * R);
    }
    if (o->recompute)
        for (int l = 1; l < nl; l++) { float *x = m->act[l].x; m->act[l] = m->act[0]; m->act[l].x = x; }
    TAKE(m->xf, (size_t)N * C); TAKE(m->xfn, (size_t)N * C); TAKE(m->rstd_f, N); TAKE(m->lse_f, N);
#undef TAKE
    // Backward scratch: one allocation each, sized for the widest use.
    int64_t wide = C > QD ? C : QD;
    if (F > wide) wide = F;
    m->dx = berry_calloc((size_t)N * C, sizeof(float));
    m->dxn = berry_calloc((size_t)N * C, sizeof(float));
    m->dtmp = berry_calloc((size_t)N * wide, sizeof(float));
    m->dq = berry_calloc((size_t)N * QD, sizeof(float));
    m->dk = berry_calloc((size_t)N * KD, sizeof(float));
    m->dv = berry_calloc((size_t)N * KD, sizeof(float));
    m->datt = berry_calloc((size_t)N * QD, sizeof(float));
    m->dgate = berry_calloc((size_t)N * F, sizeof(float));
    m->dup = berry_calloc((size_t)N * F, sizeof(float));
    m->dhid = berry_calloc((size_t)N * F, sizeof(float));
    m->du = berry_calloc((size_t)N * (R ? R : 1), sizeof(float));
    m->us = berry_calloc((size_t)N * (R ? R : 1), sizeof(float));
    m->xd = berry_calloc((size_t)N * (R && o->lora_dropout > 0 ? wide : 1), sizeof(float));
    // Head chunks of at most ~16M logits (64 MiB): wide enough for the GEMM to run near its peak.
    m->chunk = (int)(((int64_t)1 << 24) / h->n_vocab);
    if (m->chunk < 1) m->chunk = 1;
    if (m->chunk > N) m->chunk = N;
    m->logits = berry_calloc((size_t)m->chunk * h->n_vocab, sizeof(float));
    // Dequantized rows of frozen matrices, allocated at first use.
    m->wscr_n = (size_t)1 << 22;
    if (m->wscr_n < (size_t)wide) m->wscr_n = (size_t)wide;
    m->posb = calloc((size_t)N, sizeof(int32_t));
    m->seg0 = calloc((size_t)N, sizeof(int32_t));
    if (!m->dx || !m->dxn || !m->dtmp || !m->dq || !m->dk || !m->dv || !m->datt || !m->dgate || !m->dup ||
        !m->dhid || !m->du || !m->us || !m->xd || !m->logits || !m->posb || !m->seg0)
        goto oom;
    return m;
oom:
    berry_tmodel_free(m);
    berry_errf(err, err_size, BERRY_ENOMEM, "training model: out of memory (max_tokens %d)", o->max_tokens);
    return NULL;
}

berry_tmodel *berry_tmodel_new(const berry_hparams *hp, const berry_tmodel_opts *o, berry_pool *pool, char *err,
                               size_t err_size) {
    return create(hp, o, pool, true, err, err_size);
}

void berry_tmodel_free(berry_tmodel *m) {
    if (!m) return;
    berry_free(m->vals); berry_free(m->grads); berry_free(m->abuf);
    berry_free(m->dx); berry_free(m->dxn); berry_free(m->dtmp); berry_free(m->dq); berry_free(m->dk);
    berry_free(m->dv); berry_free(m->datt); berry_free(m->dgate); berry_free(m->dup); berry_free(m->dhid);
    berry_free(m->du); berry_free(m->us); berry_free(m->xd); berry_free(m->logits); berry_free(m->wscr);
    berry_free(m->head32);
    free(m->sbuf); free(m->posb); free(m->seg0); free(m->rope_div);
    free(m->p); free(m->L); free(m->la); free(m->lb); free(m->act);
    free(m);
}

const berry_hparams *berry_tmodel_hparams(const berry_tmodel *m) { return &m->hp; }
const berry_tmodel_opts *berry_tmodel_opts_of(const berry_tmodel *m) { return &m->o; }
int berry_tmodel_n_params(const berry_tmodel *m) { return m->n_params; }
berry_tparam *berry_tmodel_param(berry_tmodel *m, int i) { return i >= 0 && i < m->n_params ? &m->p[i] : NULL; }

berry_tparam *berry_tmodel_find(berry_tmodel *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->p[i].name, name)) return &m->p[i];
    return NULL;
}

int64_t berry_tmodel_n_trainable(const berry_tmodel *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++)
        if (m->p[i].trainable) n += numel(&m->p[i]);
    return n;
}

uint64_t berry_tmodel_forward_count(const berry_tmodel *m) { return m->n_fwd; }
void berry_tmodel_set_forward_count(berry_tmodel *m, uint64_t n) { m->n_fwd = n; }

void berry_tmodel_zero_grad(berry_tmodel *m) {
    for (int i = 0; i < m->n_params; i++)
        if (m->p[i].g) memset(m->p[i].g, 0, (size_t)numel(&m->p[i]) * sizeof(float));
}

void berry_tmodel_set_rope_freqs(berry_tmodel *m, const float *div) {
    free(m->rope_div);
    m->rope_div = NULL;
    if (!div) return;
    m->rope_div = malloc((size_t)m->hp.head_dim / 2 * sizeof(float));
    if (m->rope_div) memcpy(m->rope_div, div, (size_t)m->hp.head_dim / 2 * sizeof(float));
}

void berry_tmodel_init_random(berry_tmodel *m, uint64_t seed, float std) {
    for (int i = 0; i < m->n_params; i++) {
        berry_tparam *p = &m->p[i];
        if (!p->w) continue;
        berry_rng r;
        berry_rng_seed(&r, seed, (uint64_t)i);
        size_t n = (size_t)numel(p);
        const char *dot = strrchr(p->name, '.');
        if (p->rows == 1 && strstr(p->name, "norm")) {
            for (size_t j = 0; j < n; j++) p->w[j] = 1.0f;
        } else if (dot && !strcmp(dot, ".bias")) {
            for (size_t j = 0; j < n; j++) p->w[j] = 0.0f;
        } else if (dot && !strcmp(dot, ".lora_b")) {
            for (size_t j = 0; j < n; j++) p->w[j] = 0.0f;
        } else if (dot && !strcmp(dot, ".lora_a")) {
            // As PEFT: uniform(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5)).
            float b = 1.0f / sqrtf((float)p->cols);
            for (size_t j = 0; j < n; j++) p->w[j] = (float)(2.0 * berry_rng_uniform(&r) - 1.0) * b;
        } else {
            for (size_t j = 0; j < n; j++) p->w[j] = std * berry_rng_normal(&r);
        }
    }
}

berry_status berry_tmodel_set_frozen(berry_tmodel *m, const char *name, int type, const void *data, char *err,
                                     size_t err_size) {
    berry_tparam *p = berry_tmodel_find(m, name);
    if (!p) return berry_errf(err, err_size, BERRY_EINVAL, "training model has no tensor '%s'", name);
    if (p->trainable) return berry_errf(err, err_size, BERRY_EINVAL, "tensor '%s' is trainable, not frozen", name);
    if (!berry_type_get(type) || berry_row_size((berry_type)type, p->cols) == 0)
        return berry_errf(err, err_size, BERRY_EINVAL, "tensor '%s': type %d cannot hold rows of %lld values", name,
                          type, (long long)p->cols);
    if (p->rows == 1 && type != BERRY_TYPE_F32)
        return berry_errf(err, err_size, BERRY_EINVAL, "tensor '%s': vectors must be f32", name);
    p->type = type;
    p->data = data;
    if (p == &m->p[m->output]) { berry_free(m->head32); m->head32 = NULL; m->head32_failed = false; }
    return BERRY_OK;
}

berry_tmodel *berry_tmodel_from_model(const berry_model *bm, const berry_tmodel_opts *o, berry_pool *pool,
                                      char *err, size_t err_size) {
    const berry_hparams *hp = &bm->hp;
    bool full = o->lora_rank == 0;
    berry_tmodel *m = create(hp, o, pool, full, err, err_size);
    if (!m) return NULL;
    const float *vec[T_COUNT] = {0};
    const berry_weight *mat[T_COUNT] = {0};
    for (int l = 0; l <= hp->n_layer; l++) {
        const berry_layer *bl = l < hp->n_layer ? &bm->layers[l] : NULL;
        int cnt = l < hp->n_layer ? T_COUNT : 0;
        if (bl) {
            vec[T_ATTN_NORM] = bl->attn_norm; vec[T_FFN_NORM] = bl->ffn_norm;
            vec[T_POST_ATTN] = bl->post_attn_norm; vec[T_POST_FFN] = bl->post_ffw_norm;
            vec[T_BQ] = bl->bq; vec[T_BK] = bl->bk; vec[T_BV] = bl->bv;
            mat[T_Q] = &bl->wq; mat[T_K] = &bl->wk; mat[T_V] = &bl->wv; mat[T_O] = &bl->wo;
            mat[T_GATE] = &bl->gate; mat[T_UP] = &bl->up; mat[T_DOWN] = &bl->down;
        }
        for (int t = 0; t < cnt; t++) {
            int ix = m->L[l][t];
            if (ix < 0) continue;
            berry_tparam *p = &m->p[ix];
            if (p->rows == 1) {
                if (!vec[t]) { berry_errf(err, err_size, BERRY_EFORMAT, "model lacks '%s'", p->name); goto fail; }
                memcpy(p->w, vec[t], (size_t)p->cols * sizeof(float));
                continue;
            }
            const berry_weight *w = mat[t];
            if (w->rows != p->rows || w->cols != p->cols) {
                berry_errf(err, err_size, BERRY_EFORMAT, "tensor '%s' is %lld x %lld, expected %lld x %lld", p->name,
                           (long long)w->rows, (long long)w->cols, (long long)p->rows, (long long)p->cols);
                goto fail;
            }
            if (p->w) berry_dequantize(w->type, w->data, p->w, w->rows * w->cols);
            else { p->type = w->type; p->data = w->data; }
        }
    }
    const berry_weight *te[2] = {&bm->tok_embd, &bm->output};
    int ti[2] = {m->tok_embd, m->output};
    for (int i = 0; i < (hp->tied_output ? 1 : 2); i++) {
        berry_tparam *p = &m->p[ti[i]];
        if (te[i]->rows != p->rows || te[i]->cols != p->cols) {
            berry_errf(err, err_size, BERRY_EFORMAT, "tensor '%s' is %lld x %lld, expected %lld x %lld", p->name,
                       (long long)te[i]->rows, (long long)te[i]->cols, (long long)p->rows, (long long)p->cols);
            goto fail;
        }
        if (p->w) berry_dequantize(te[i]->type, te[i]->data, p->w, p->rows * p->cols);
        else { p->type = te[i]->type; p->data = te[i]->data; }
    }
    memcpy(m->p[m->out_norm].w, bm->output_norm, (size_t)hp->n_embd * sizeof(float));
    if (bm->rope_freqs) berry_tmodel_set_rope_freqs(m, bm->rope_freqs);
    // Adapters: A random, B zero. Only the adapters: the loaded weights (and norms) must survive.
    for (int i = 0; i < m->n_params; i++) {
        const char *dot = strrchr(m->p[i].name, '.');
        if (!m->p[i].w || !dot || (strcmp(dot, ".lora_a") && strcmp(dot, ".lora_b"))) continue;
        berry_rng r;
        berry_rng_seed(&r, o->seed, (uint64_t)i);
        size_t n = (size_t)numel(&m->p[i]);
        float b = 1.0f / sqrtf((float)m->p[i].cols);  // as berry_tmodel_init_random (PEFT's init)
        for (size_t j = 0; j < n; j++) m->p[i].w[j] = dot[6] == 'a' ? (float)(2.0 * berry_rng_uniform(&r) - 1.0) * b : 0.0f;
    }
    return m;
fail:
    berry_tmodel_free(m);
    return NULL;
}

// ---- matrix products with trainable or frozen weights --------------------------------------------

// The f32 values of P when they are at hand: P itself, or the copy of a frozen quantized output head.
// The head is multiplied twice per chunk of tokens (forward, then the backward's recomputation and dX),
// and with a large vocabulary (151936 x 896 for Qwen2.5) dequantizing it each time costs more than the
// products; the copy is made once (when at most 2 GiB and the memory is there) and kept, since it is frozen.
static const float *f32_of(berry_tmodel *m, const berry_tparam *p) {
    if (p->type == BERRY_TYPE_F32) return fw(p);
    if (p != &m->p[m->output] || m->head32_failed) return NULL;
    if (!m->head32) {
        size_t n = (size_t)p->rows * (size_t)p->cols;
        m->head32 = n <= ((size_t)1 << 29) ? berry_calloc(n, sizeof(float)) : NULL;
        if (!m->head32) { m->head32_failed = true; return NULL; }
        berry_dequantize((berry_type)p->type, p->data, m->head32, (int64_t)n);
    }
    return m->head32;
}

// Y (n, rows) = X (n, cols) . W^T. A frozen quantized W is dequantized a block of rows at a time.
static bool mm_fwd(berry_tmodel *m, const berry_tparam *p, const float *x, float *y, int n) {
    int rows = (int)p->rows, cols = (int)p->cols;
    const float *w32 = f32_of(m, p);
    if (w32) return berry_gemm(m->pool, false, true, n, rows, cols, x, cols, w32, cols, false, y, rows);
    if (!m->wscr && !(m->wscr = berry_calloc(m->wscr_n, sizeof(float)))) return false;
    size_t rb = m->wscr_n / (size_t)cols, rbytes = berry_row_size((berry_type)p->type, cols);
    for (int r0 = 0; r0 < rows; r0 += (int)rb) {
        int nr = rows - r0 < (int)rb ? rows - r0 : (int)rb;
        berry_dequantize((berry_type)p->type, (const char *)p->data + (size_t)r0 * rbytes, m->wscr, (int64_t)nr * cols);
        if (!berry_gemm(m->pool, false, true, n, nr, cols, x, cols, m->wscr, cols, false, y + r0, rows)) return false;
    }
    return true;
}

// DX (n, cols) += DY (n, rows) . W.
static bool mm_dx(berry_tmodel *m, const berry_tparam *p, const float *dy, float *dx, int n) {
    int rows = (int)p->rows, cols = (int)p->cols;
    const float *w32 = f32_of(m, p);
    if (w32) return berry_gemm(m->pool, false, false, n, cols, rows, dy, rows, w32, cols, true, dx, cols);
    if (!m->wscr && !(m->wscr = berry_calloc(m->wscr_n, sizeof(float)))) return false;
    size_t rb = m->wscr_n / (size_t)cols, rbytes = berry_row_size((berry_type)p->type, cols);
    for (int r0 = 0; r0 < rows; r0 += (int)rb) {
        int nr = rows - r0 < (int)rb ? rows - r0 : (int)rb;
        berry_dequantize((berry_type)p->type, (const char *)p->data + (size_t)r0 * rbytes, m->wscr, (int64_t)nr * cols);
        if (!berry_gemm(m->pool, false, false, n, cols, nr, dy + r0, rows, m->wscr, cols, true, dx, cols)) return false;
    }
    return true;
}

// dW (rows, cols) += DY^T (rows, n) . X (n, cols), when W is trainable.
static bool mm_dw(berry_tmodel *m, berry_tparam *p, const float *dy, const float *x, int n) {
    if (!p->g) return true;
    return berry_gemm(m->pool, true, false, (int)p->rows, (int)p->cols, n, dy, p->rows, x, p->cols, true, p->g, p->cols);
}

// The dropout keep-mask of adapter input element I of projection PID in layer L, from a hash of the
// batch's seed (regenerated in the backward pass instead of stored).
static inline float drop_scale(uint64_t seed, int l, int pid, size_t i, float pdrop) {
    uint64_t z = seed ^ ((uint64_t)(l * P_COUNT + pid) << 48) ^ (uint64_t)i;
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    double u = (double)(z >> 11) * 0x1.0p-53;
    return u < pdrop ? 0.0f : 1.0f / (1.0f - pdrop);
}

// The adapter's input: X itself, or a dropped-out copy in m->xd.
static const float *lora_input(berry_tmodel *m, int l, int pid, const float *x, int n, int cols) {
    if (m->o.lora_dropout <= 0) return x;
    size_t nn = (size_t)n * cols;
    for (size_t i = 0; i < nn; i++) m->xd[i] = x[i] * drop_scale(m->drop_seed, l, pid, i, m->o.lora_dropout);
    return m->xd;
}

// Y (n, out) = X (n, in) . W^T + b + scale . (drop(X) . A^T) . B^T; U (n, R) = drop(X) . A^T saved.
static bool lin_fwd(berry_tmodel *m, int l, int pid, const float *x, float *y, float *u, int n) {
    int t = proj_tensor[pid];
    const berry_tparam *w = &m->p[m->L[l][t]];
    int rows = (int)w->rows, cols = (int)w->cols;
    if (!mm_fwd(m, w, x, y, n)) return false;
    if (t == T_Q || t == T_K || t == T_V) {
        int bi = m->L[l][t + 1];
        if (bi >= 0) {
            const float *b = fw(&m->p[bi]);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < rows; j++) y[(size_t)i * rows + j] += b[j];
        }
    }
    if (m->la[l][pid] < 0) return true;
    const berry_tparam *A = &m->p[m->la[l][pid]], *B = &m->p[m->lb[l][pid]];
    int R = (int)A->rows;
    const float *xin = lora_input(m, l, pid, x, n, cols);
    if (!berry_gemm(m->pool, false, true, n, R, cols, xin, cols, fw(A), cols, false, u, R)) return false;
    size_t nr = (size_t)n * R;
    for (size_t i = 0; i < nr; i++) m->us[i] = m->lora_scale * u[i];
    return berry_gemm(m->pool, false, true, n, rows, R, m->us, R, fw(B), R, true, y, rows);
}

// Gradients of lin_fwd: DX (n, in) += ..., and the weight, bias and adapter gradients.
static bool lin_bwd(berry_tmodel *m, int l, int pid, const float *x, const float *u, const float *dy, float *dx, int n) {
    int t = proj_tensor[pid];
    berry_tparam *w = &m->p[m->L[l][t]];
    int rows = (int)w->rows, cols = (int)w->cols;
    if (!mm_dw(m, w, dy, x, n)) return false;
    if (t == T_Q || t == T_K || t == T_V) {
        int bi = m->L[l][t + 1];
        if (bi >= 0 && m->p[bi].g) {
            float *db = m->p[bi].g;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < rows; j++) db[j] += dy[(size_t)i * rows + j];
        }
    }
    if (!mm_dx(m, w, dy, dx, n)) return false;
    if (m->la[l][pid] < 0) return true;
    berry_tparam *A = &m->p[m->la[l][pid]], *B = &m->p[m->lb[l][pid]];
    int R = (int)A->rows;
    size_t nr = (size_t)n * R;
    float s = m->lora_scale;
    for (size_t i = 0; i < nr; i++) m->us[i] = s * u[i];
    // dB (out, R) += dY^T . (s U);  dU (n, R) = s dY . B;  dA (R, in) += dU^T . drop(X);  dX += drop'(dU . A)
    if (!berry_gemm(m->pool, true, false, rows, R, n, dy, rows, m->us, R, true, B->g, R)) return false;
    if (!berry_gemm(m->pool, false, false, n, R, rows, dy, rows, fw(B), R, false, m->du, R)) return false;
    for (size_t i = 0; i < nr; i++) m->du[i] *= s;
    const float *xin = lora_input(m, l, pid, x, n, cols);
    if (!berry_gemm(m->pool, true, false, R, cols, n, m->du, R, xin, cols, true, A->g, cols)) return false;
    if (m->o.lora_dropout <= 0) return berry_gemm(m->pool, false, false, n, cols, R, m->du, R, fw(A), cols, true, dx, cols);
    if (!berry_gemm(m->pool, false, false, n, cols, R, m->du, R, fw(A), cols, false, m->xd, cols)) return false;
    size_t nn = (size_t)n * cols;
    for (size_t i = 0; i < nn; i++) dx[i] += m->xd[i] * drop_scale(m->drop_seed, l, pid, i, m->o.lora_dropout);
    return true;
}

// ---- elementwise layers --------------------------------------------------------------------------

// RMSNorm over the last axis. x, out: (n, C); w: (C); rstd: (n) saved.
static void rmsnorm_fwd(float *out, float *rstd, const float *x, const float *w, int n, int C, float eps) {
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * C;
        float *o = out + (size_t)t * C;
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += (double)xt[i] * xt[i];
        float r = 1.0f / sqrtf((float)(ss / C) + eps);
        for (int i = 0; i < C; i++) o[i] = xt[i] * r * w[i];
        rstd[t] = r;
    }
}

// Gradients of rmsnorm_fwd: dx += ..., dw += ... (dw may be NULL: frozen).
static void rmsnorm_bwd(float *dx, float *dw, const float *dout, const float *x, const float *w, const float *rstd,
                        int n, int C) {
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * C, *dt = dout + (size_t)t * C;
        float *dxt = dx + (size_t)t * C;
        float r = rstd[t];
        double dot = 0.0;  // sum_j dout_j w_j x_j
        for (int i = 0; i < C; i++) dot += (double)dt[i] * w[i] * xt[i];
        float c = (float)(dot / C) * r * r * r;
        for (int i = 0; i < C; i++) dxt[i] += r * dt[i] * w[i] - c * xt[i];
        if (dw)
            for (int i = 0; i < C; i++) dw[i] += dt[i] * xt[i] * r;
    }
}

static inline float gelu_tanh(float x, float *deriv) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    float u = k * (x + 0.044715f * x * x * x), th = tanhf(u);
    if (deriv) *deriv = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * k * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * x * (1.0f + th);
}

static inline float silu(float x, float *deriv) {
    float s = 1.0f / (1.0f + expf(-x));
    if (deriv) *deriv = s * (1.0f + x * (1.0f - s));
    return x * s;
}

// Rotary embedding of N rows of NH heads of D values at positions POS, in place. INVERSE rotates back
// (the backward pass: the transpose of a rotation is the rotation by -theta). Llama rotates pairs
// (2i, 2i+1), NEOX (qwen2, gemma2) pairs (i, i + D/2); frequency i is pos * scale * base^(-2i/D) / div[i].
static void rope(const berry_tmodel *m, float *x, int n, int nh, bool inverse) {
    int D = m->hp.head_dim, half = D / 2;
    bool neox = m->hp.arch != BERRY_ARCH_LLAMA;
    float base = m->hp.rope_theta > 0 ? m->hp.rope_theta : 10000.0f;
    float fs = m->hp.rope_freq_scale > 0 ? m->hp.rope_freq_scale : 1.0f;
    float cs[2048], invf[1024];
    if (half > 1024) return;  // rejected at forward entry
    for (int i = 0; i < half; i++) {
        invf[i] = 1.0f / powf(base, (float)(2 * i) / (float)D);
        if (m->rope_div) invf[i] /= m->rope_div[i];
    }
    for (int t = 0; t < n; t++) {
        float p = (float)m->posb[t] * fs;
        for (int i = 0; i < half; i++) {
            float th = p * invf[i];
            cs[2 * i] = cosf(th);
            cs[2 * i + 1] = inverse ? -sinf(th) : sinf(th);
        }
        for (int h = 0; h < nh; h++) {
            float *v = x + ((size_t)t * nh + h) * D;
            for (int i = 0; i < half; i++) {
                int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                float c = cs[2 * i], s = cs[2 * i + 1], x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

// ---- attention -----------------------------------------------------------------------------------

typedef struct {
    berry_tmodel *m;
    int layer, n_seq, T;
    const float *q, *k, *v, *att, *datt;  // (N, QD), (N, KD), (N, KD), (N, QD), (N, QD)
    float *out, *lse;                     // forward: (N, QD), (N, H)
    const float *lse_in;
    float *dq, *dk, *dv;                  // backward
} att_job;

// Key range of query t: [seg0[t], t], minus the keys outside the sliding window.
static inline int key_begin(const berry_tmodel *m, int base, int t, int window) {
    int j0 = m->seg0[base + t];
    if (window > 0)
        while (j0 < t && m->posb[base + t] - m->posb[base + j0] >= window) j0++;
    return j0;
}

// Raw scores S[k] = scale * q.k for keys [j0, t], soft-capped (cap * tanh(s / cap)), through the
// vector kernels of the forward pass (tensor/vec.h): a scalar float reduction does not vectorize.
static inline void scores(float *s, const float *qt, const float *k, int KD, int n, int D, float scale, float cap) {
    berry_vec_dots(s, qt, k, KD, n, D, scale);
    if (cap > 0)
        for (int i = 0; i < n; i++) s[i] = cap * tanhf(s[i] / cap);
}

// Forward for the (sequence, query head) units of this thread: OUT = softmax(S) . V, LSE saved.
static void att_fwd_worker(void *ctx, int ith, int nth) {
    att_job *j = ctx;
    berry_tmodel *m = j->m;
    int H = m->hp.n_head, KV = m->hp.n_head_kv, D = m->hp.head_dim, T = j->T, QD = H * D, KD = KV * D;
    int window = layer_slides(&m->hp, j->layer) ? m->hp.sliding_window : 0;
    float scale = m->hp.attn_scale, cap = m->hp.attn_softcap;
    float *s = m->sbuf + (size_t)ith * 3 * T;
    int b0, b1;
    berry_split(j->n_seq * H, ith, nth, &b0, &b1);
    for (int u = b0; u < b1; u++) {
        int b = u / H, h = u % H, kh = h / (H / KV), base = b * T;
        for (int t = 0; t < T; t++) {
            const float *qt = j->q + (size_t)(base + t) * QD + (size_t)h * D;
            int j0 = key_begin(m, base, t, window), n = t - j0 + 1;
            const float *kb = j->k + (size_t)(base + j0) * KD + (size_t)kh * D;
            scores(s, qt, kb, KD, n, D, scale, cap);
            float mx = -INFINITY;
            for (int i = 0; i < n; i++) mx = s[i] > mx ? s[i] : mx;
            float sum = berry_vec_exp_shift(s, n, mx);
            float *o = j->out + (size_t)(base + t) * QD + (size_t)h * D, inv = 1.0f / sum;
            for (int i = 0; i < n; i++) s[i] *= inv;
            for (int d = 0; d < D; d++) o[d] = 0.0f;
            berry_vec_wsum(o, s, j->v + (size_t)(base + j0) * KD + (size_t)kh * D, KD, n, D);
            j->lse[(size_t)(base + t) * H + h] = mx + logf(sum);
        }
    }
}

// Backward for the (sequence, kv head) units of this thread, which own their rows of dK and dV.
// With P = exp(S - lse): dV += P^T dO; dS = P * (dO.V^T - rowsum(dO * O)); through the soft-cap
// d(raw) = dS * (1 - (S/cap)^2); dQ += scale dRaw . K; dK += scale dRaw^T . Q.
static void att_bwd_worker(void *ctx, int ith, int nth) {
    att_job *j = ctx;
    berry_tmodel *m = j->m;
    int H = m->hp.n_head, KV = m->hp.n_head_kv, D = m->hp.head_dim, T = j->T, QD = H * D, KD = KV * D, G = H / KV;
    int window = layer_slides(&m->hp, j->layer) ? m->hp.sliding_window : 0;
    float scale = m->hp.attn_scale, cap = m->hp.attn_softcap;
    float *p = m->sbuf + (size_t)ith * 3 * T, *ds = p + T, *cf = ds + T;
    int b0, b1;
    berry_split(j->n_seq * KV, ith, nth, &b0, &b1);
    for (int u = b0; u < b1; u++) {
        int b = u / KV, kh = u % KV, base = b * T;
        for (int h = kh * G; h < (kh + 1) * G; h++)
            for (int t = 0; t < T; t++) {
                size_t qo = (size_t)(base + t) * QD + (size_t)h * D;
                const float *qt = j->q + qo, *dot = j->datt + qo, *ot = j->att + qo;
                float *dqt = j->dq + qo;
                float lse = j->lse_in[(size_t)(base + t) * H + h];
                int j0 = key_begin(m, base, t, window), n = t - j0 + 1;
                size_t k0 = (size_t)(base + j0) * KD + (size_t)kh * D;
                float Dsum = 0.0f;
                for (int d = 0; d < D; d++) Dsum += dot[d] * ot[d];
                // P = exp(S - lse), recomputed (the soft-cap's derivative 1 - (S/cap)^2 kept first);
                // dS = P * (dO.V^T - Dsum), times that derivative and the scale.
                scores(p, qt, j->k + k0, KD, n, D, scale, cap);
                if (cap > 0)
                    for (int i = 0; i < n; i++) { float th = p[i] / cap; cf[i] = 1.0f - th * th; }
                berry_vec_exp_shift(p, n, lse);
                berry_vec_dots(ds, dot, j->v + k0, KD, n, D, 1.0f);
                for (int i = 0; i < n; i++) ds[i] = p[i] * (ds[i] - Dsum) * scale * (cap > 0 ? cf[i] : 1.0f);
                // dQ += dS . K; dV += P^T dO and dK += dS^T Q, a row of each per key.
                berry_vec_wsum(dqt, ds, j->k + k0, KD, n, D);
                for (int i = 0; i < n; i++) {
                    float *dvk = j->dv + k0 + (size_t)i * KD, *dkk = j->dk + k0 + (size_t)i * KD, pi = p[i], di = ds[i];
                    for (int d = 0; d < D; d++) { dvk[d] += pi * dot[d]; dkk[d] += di * qt[d]; }
                }
            }
    }
}

// ---- one layer -----------------------------------------------------------------------------------

// The gated activation over the pool. Forward: hid = act(gate) * up. Backward (dhid given):
// dup = dhid * act(gate), dgate = dhid * up * act'(gate). All (N, F).
typedef struct {
    bool gelu, backward;
    size_t n;
    const float *gate, *up, *dhid;
    float *hid, *dgate, *dup;
} glu_job;

static void glu_worker(void *ctx, int ith, int nth) {
    glu_job *j = ctx;
    size_t i0 = j->n * (size_t)ith / (size_t)nth, i1 = j->n * (size_t)(ith + 1) / (size_t)nth;
    for (size_t i = i0; i < i1; i++) {
        if (!j->backward) {
            j->hid[i] = (j->gelu ? gelu_tanh(j->gate[i], NULL) : silu(j->gate[i], NULL)) * j->up[i];
            continue;
        }
        float d, g = j->gelu ? gelu_tanh(j->gate[i], &d) : silu(j->gate[i], &d);
        j->dup[i] = j->dhid[i] * g;
        j->dgate[i] = j->dhid[i] * j->up[i] * d;
    }
}

// Layer L's forward from a->x into OUT (N, C).
static bool layer_fwd(berry_tmodel *m, int l, lact *a, float *out, int n_seq, int T) {
    const berry_hparams *hp = &m->hp;
    int n = n_seq * T, C = hp->n_embd, F = hp->n_ff;
    const int *ix = m->L[l];
    float eps = hp->norm_eps;
    rmsnorm_fwd(a->xn1, a->rstd1, a->x, fw(&m->p[ix[T_ATTN_NORM]]), n, C, eps);
    if (!lin_fwd(m, l, P_Q, a->xn1, a->q, a->u[P_Q], n)) return false;
    if (!lin_fwd(m, l, P_K, a->xn1, a->k, a->u[P_K], n)) return false;
    if (!lin_fwd(m, l, P_V, a->xn1, a->v, a->u[P_V], n)) return false;
    rope(m, a->q, n, hp->n_head, false);
    rope(m, a->k, n, hp->n_head_kv, false);
    att_job j = {.m = m, .layer = l, .n_seq = n_seq, .T = T, .q = a->q, .k = a->k, .v = a->v, .out = a->att, .lse = a->lse};
    berry_pool_run(m->pool, att_fwd_worker, &j);
    if (!lin_fwd(m, l, P_O, a->att, a->ao, a->u[P_O], n)) return false;
    size_t nc = (size_t)n * C;
    if (hp->post_norms) {
        rmsnorm_fwd(a->x2, a->rstd_pa, a->ao, fw(&m->p[ix[T_POST_ATTN]]), n, C, eps);
        for (size_t i = 0; i < nc; i++) a->x2[i] += a->x[i];
    } else {
        for (size_t i = 0; i < nc; i++) a->x2[i] = a->x[i] + a->ao[i];
    }
    rmsnorm_fwd(a->xn2, a->rstd2, a->x2, fw(&m->p[ix[T_FFN_NORM]]), n, C, eps);
    if (!lin_fwd(m, l, P_GATE, a->xn2, a->gate, a->u[P_GATE], n)) return false;
    if (!lin_fwd(m, l, P_UP, a->xn2, a->up, a->u[P_UP], n)) return false;
    size_t nf = (size_t)n * F;
    glu_job gj = {.gelu = hp->gelu, .n = nf, .gate = a->gate, .up = a->up, .hid = a->hid};
    berry_pool_run(m->pool, glu_worker, &gj);
    if (!lin_fwd(m, l, P_DOWN, a->hid, a->fo, a->u[P_DOWN], n)) return false;
    if (hp->post_norms) {
        rmsnorm_fwd(out, a->rstd_pf, a->fo, fw(&m->p[ix[T_POST_FFN]]), n, C, eps);
        for (size_t i = 0; i < nc; i++) out[i] += a->x2[i];
    } else {
        for (size_t i = 0; i < nc; i++) out[i] = a->x2[i] + a->fo[i];
    }
    return true;
}

static float *gradp(berry_tmodel *m, int ix) { return ix >= 0 ? m->p[ix].g : NULL; }

// Layer L's backward: m->dx holds d(output) on entry and d(input) on return.
static bool layer_bwd(berry_tmodel *m, int l, lact *a, int n_seq, int T) {
    const berry_hparams *hp = &m->hp;
    int n = n_seq * T, C = hp->n_embd, F = hp->n_ff, QD = hp->n_head * hp->head_dim, KD = hp->n_head_kv * hp->head_dim;
    const int *ix = m->L[l];
    size_t nc = (size_t)n * C, nf = (size_t)n * F;
    // FFN branch. dx holds d(x2) too (the residual), updated in place.
    const float *dfo = m->dx;
    if (hp->post_norms) {
        memset(m->dtmp, 0, nc * sizeof(float));
        rmsnorm_bwd(m->dtmp, gradp(m, ix[T_POST_FFN]), m->dx, a->fo, fw(&m->p[ix[T_POST_FFN]]), a->rstd_pf, n, C);
        dfo = m->dtmp;
    }
    memset(m->dhid, 0, nf * sizeof(float));
    if (!lin_bwd(m, l, P_DOWN, a->hid, a->u[P_DOWN], dfo, m->dhid, n)) return false;
    glu_job gj = {.gelu = hp->gelu, .backward = true, .n = nf, .gate = a->gate, .up = a->up, .dhid = m->dhid,
                  .dgate = m->dgate, .dup = m->dup};
    berry_pool_run(m->pool, glu_worker, &gj);
    memset(m->dxn, 0, nc * sizeof(float));
    if (!lin_bwd(m, l, P_GATE, a->xn2, a->u[P_GATE], m->dgate, m->dxn, n)) return false;
    if (!lin_bwd(m, l, P_UP, a->xn2, a->u[P_UP], m->dup, m->dxn, n)) return false;
    rmsnorm_bwd(m->dx, gradp(m, ix[T_FFN_NORM]), m->dxn, a->x2, fw(&m->p[ix[T_FFN_NORM]]), a->rstd2, n, C);
    // Attention branch.
    const float *dao = m->dx;
    if (hp->post_norms) {
        memset(m->dtmp, 0, nc * sizeof(float));
        rmsnorm_bwd(m->dtmp, gradp(m, ix[T_POST_ATTN]), m->dx, a->ao, fw(&m->p[ix[T_POST_ATTN]]), a->rstd_pa, n, C);
        dao = m->dtmp;
    }
    memset(m->datt, 0, (size_t)n * QD * sizeof(float));
    if (!lin_bwd(m, l, P_O, a->att, a->u[P_O], dao, m->datt, n)) return false;
    memset(m->dq, 0, (size_t)n * QD * sizeof(float));
    memset(m->dk, 0, (size_t)n * KD * sizeof(float));
    memset(m->dv, 0, (size_t)n * KD * sizeof(float));
    att_job j = {.m = m, .layer = l, .n_seq = n_seq, .T = T, .q = a->q, .k = a->k, .v = a->v, .att = a->att,
                 .datt = m->datt, .lse_in = a->lse, .dq = m->dq, .dk = m->dk, .dv = m->dv};
    berry_pool_run(m->pool, att_bwd_worker, &j);
    rope(m, m->dq, n, hp->n_head, true);
    rope(m, m->dk, n, hp->n_head_kv, true);
    memset(m->dxn, 0, nc * sizeof(float));
    if (!lin_bwd(m, l, P_Q, a->xn1, a->u[P_Q], m->dq, m->dxn, n)) return false;
    if (!lin_bwd(m, l, P_K, a->xn1, a->u[P_K], m->dk, m->dxn, n)) return false;
    if (!lin_bwd(m, l, P_V, a->xn1, a->u[P_V], m->dv, m->dxn, n)) return false;
    rmsnorm_bwd(m->dx, gradp(m, ix[T_ATTN_NORM]), m->dxn, a->x, fw(&m->p[ix[T_ATTN_NORM]]), a->rstd1, n, C);
    return true;
}

// ---- the head: logits, log-softmax, in chunks ----------------------------------------------------

// Logits of tokens [t0, t0 + nt) into m->logits (nt, V), soft-capped.
static bool head_logits(berry_tmodel *m, int t0, int nt) {
    int V = m->hp.n_vocab;
    if (!mm_fwd(m, &m->p[m->output], m->xfn + (size_t)t0 * m->hp.n_embd, m->logits, nt)) return false;
    float cap = m->hp.final_softcap;
    if (cap > 0) {
        size_t nn = (size_t)nt * V;
        for (size_t i = 0; i < nn; i++) m->logits[i] = cap * tanhf(m->logits[i] / cap);
    }
    return true;
}

// Rows [t0, t0 + nt) of the head, split over the pool. Forward: the log-sum-exp of each row of logits
// and the target's log-probability. Backward: each row of logits becomes dLogits = g (onehot(target) -
// softmax), through the soft-cap, with g = dlogp of the row.
typedef struct {
    berry_tmodel *m;
    int t0, nt;
    bool backward;
    const int32_t *targets;
    const float *dlogp;
    float *logp;
} head_job;

static void head_worker(void *ctx, int ith, int nth) {
    head_job *j = ctx;
    berry_tmodel *m = j->m;
    int V = m->hp.n_vocab, r0, r1;
    float cap = m->hp.final_softcap;
    berry_split(j->nt, ith, nth, &r0, &r1);
    for (int i = r0; i < r1; i++) {
        float *lg = m->logits + (size_t)i * V;
        int tg = j->targets ? j->targets[j->t0 + i] : -1;
        if (!j->backward) {
            float mx = -INFINITY;
            for (int v = 0; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
            double sum = 0.0;
            for (int v = 0; v < V; v++) sum += expf(lg[v] - mx);
            float lse = mx + (float)log(sum);
            m->lse_f[j->t0 + i] = lse;
            j->logp[j->t0 + i] = tg >= 0 ? lg[tg] - lse : 0.0f;
            continue;
        }
        float g = tg >= 0 ? j->dlogp[j->t0 + i] : 0.0f, lse = m->lse_f[j->t0 + i];
        if (g == 0.0f) { memset(lg, 0, (size_t)V * sizeof(float)); continue; }
        for (int v = 0; v < V; v++) {
            float d = -g * expf(lg[v] - lse);
            if (v == tg) d += g;
            if (cap > 0) { float th = lg[v] / cap; d *= 1.0f - th * th; }
            lg[v] = d;
        }
    }
}

// ---- forward and backward ------------------------------------------------------------------------

static berry_status check_batch(berry_tmodel *m, const berry_tbatch *b, char *err, size_t err_size) {
    if (b->n_seq <= 0 || b->n_ctx <= 0 || (int64_t)b->n_seq * b->n_ctx > m->cap)
        return berry_errf(err, err_size, BERRY_EINVAL, "batch of %d x %d tokens exceeds the training capacity of %d",
                          b->n_seq, b->n_ctx, m->cap);
    if (m->hp.head_dim > 2048) return berry_errf(err, err_size, BERRY_EUNSUPPORTED, "head_dim %d > 2048", m->hp.head_dim);
    int n = b->n_seq * b->n_ctx, V = m->hp.n_vocab;
    for (int i = 0; i < n; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= V)
            return berry_errf(err, err_size, BERRY_EINVAL, "batch row %d position %d: token %d outside the vocabulary (%d)",
                              i / b->n_ctx, i % b->n_ctx, b->tokens[i], V);
        if (b->targets && (b->targets[i] < -1 || b->targets[i] >= V))
            return berry_errf(err, err_size, BERRY_EINVAL, "batch row %d position %d: target %d outside the vocabulary (%d)",
                              i / b->n_ctx, i % b->n_ctx, b->targets[i], V);
    }
    return BERRY_OK;
}

berry_status berry_tmodel_forward(berry_tmodel *m, const berry_tbatch *b, float *logp, char *err, size_t err_size) {
    berry_status st = check_batch(m, b, err, err_size);
    if (st) return st;
    const berry_hparams *hp = &m->hp;
    int T = b->n_ctx, n = b->n_seq * T, C = hp->n_embd;
    // Document starts and positions.
    for (int r = 0; r < b->n_seq; r++)
        for (int t = 0; t < T; t++) {
            int i = r * T + t;
            bool same = t > 0 && b->seg && b->seg[i] == b->seg[i - 1];
            if (!b->seg && t > 0) same = true;
            m->seg0[i] = same ? m->seg0[i - 1] : t;
            m->posb[i] = b->pos ? b->pos[i] : t - m->seg0[i];
        }
    int nth = berry_pool_size(m->pool);
    if (m->sbuf_ctx < T) {
        free(m->sbuf);
        m->sbuf = malloc((size_t)nth * 3 * T * sizeof(float));
        m->sbuf_ctx = m->sbuf ? T : 0;
        if (!m->sbuf) return berry_errf(err, err_size, BERRY_ENOMEM, "training forward: out of memory");
    }
    m->drop_seed = m->o.seed * 0x9E3779B97F4A7C15ull + ++m->n_fwd;
    // Embedding.
    const berry_tparam *te = &m->p[m->tok_embd];
    float es = hp->embd_scale ? sqrtf((float)C) : 1.0f;
    size_t rbytes = berry_row_size((berry_type)te->type, C);
    float *x0 = m->act[0].x;
    for (int i = 0; i < n; i++) {
        float *xi = x0 + (size_t)i * C;
        if (te->type == BERRY_TYPE_F32) memcpy(xi, fw(te) + (size_t)b->tokens[i] * C, (size_t)C * sizeof(float));
        else berry_dequantize((berry_type)te->type, (const char *)te->data + (size_t)b->tokens[i] * rbytes, xi, C);
        if (es != 1.0f)
            for (int c = 0; c < C; c++) xi[c] *= es;
    }
    for (int l = 0; l < hp->n_layer; l++) {
        float *out = l + 1 < hp->n_layer ? m->act[l + 1].x : m->xf;
        if (!layer_fwd(m, l, &m->act[l], out, b->n_seq, T))
            return berry_errf(err, err_size, BERRY_ENOMEM, "training forward: out of memory in layer %d", l);
    }
    rmsnorm_fwd(m->xfn, m->rstd_f, m->xf, fw(&m->p[m->out_norm]), n, C, hp->norm_eps);
    for (int t0 = 0; t0 < n; t0 += m->chunk) {
        int nt = n - t0 < m->chunk ? n - t0 : m->chunk;
        if (!head_logits(m, t0, nt)) return berry_errf(err, err_size, BERRY_ENOMEM, "training forward: out of memory in the head");
        head_job j = {.m = m, .t0 = t0, .nt = nt, .targets = b->targets, .logp = logp};
        berry_pool_run(m->pool, head_worker, &j);
    }
    m->n_last = n;
    return BERRY_OK;
}

berry_status berry_tmodel_backward(berry_tmodel *m, const berry_tbatch *b, const float *dlogp, char *err,
                                   size_t err_size) {
    const berry_hparams *hp = &m->hp;
    int T = b->n_ctx, n = b->n_seq * T, C = hp->n_embd;
    if (n != m->n_last) return berry_errf(err, err_size, BERRY_EINVAL, "backward on a batch that is not the last forward's");
    berry_tparam *po = &m->p[m->output];
    // Head: dLogits = dlogp * (onehot(target) - softmax), through the soft-cap; dXfn, dW_out.
    for (int t0 = 0; t0 < n; t0 += m->chunk) {
        int nt = n - t0 < m->chunk ? n - t0 : m->chunk;
        if (!head_logits(m, t0, nt)) goto oom;
        head_job j = {.m = m, .t0 = t0, .nt = nt, .backward = true, .targets = b->targets, .dlogp = dlogp};
        berry_pool_run(m->pool, head_worker, &j);
        float *dxc = m->dxn + (size_t)t0 * C;
        memset(dxc, 0, (size_t)nt * C * sizeof(float));
        if (!mm_dx(m, po, m->logits, dxc, nt)) goto oom;
        if (!mm_dw(m, po, m->logits, m->xfn + (size_t)t0 * C, nt)) goto oom;
    }
    memset(m->dx, 0, (size_t)n * C * sizeof(float));
    rmsnorm_bwd(m->dx, gradp(m, m->out_norm), m->dxn, m->xf, fw(&m->p[m->out_norm]), m->rstd_f, n, C);
    for (int l = hp->n_layer - 1; l >= 0; l--) {
        if (m->o.recompute) {
            // The shared buffers hold the last layer's activations after the forward pass; rebuild
            // this layer's (its output goes to a scratch buffer: only the saved intermediates matter).
            if (l != hp->n_layer - 1 && !layer_fwd(m, l, &m->act[l], m->dtmp, b->n_seq, T)) goto oom;
        }
        if (!layer_bwd(m, l, &m->act[l], b->n_seq, T)) goto oom;
    }
    // Embedding.
    berry_tparam *te = &m->p[m->tok_embd];
    if (te->g) {
        float es = hp->embd_scale ? sqrtf((float)C) : 1.0f;
        for (int i = 0; i < n; i++) {
            float *g = te->g + (size_t)b->tokens[i] * C;
            const float *d = m->dx + (size_t)i * C;
            for (int c = 0; c < C; c++) g[c] += es * d[c];
        }
    }
    return BERRY_OK;
oom:
    return berry_errf(err, err_size, BERRY_ENOMEM, "training backward: out of memory");
}
