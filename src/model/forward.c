// forward.c — llama / qwen2 / gemma2 forward over a batch of tokens from many sequences, with keys and
// values in the paged KV cache. Shapes: B tokens in the batch, E = n_embd, Q = n_head * head_dim,
// KV = n_head_kv * head_dim, F = n_ff, V = n_vocab.
#include "model/forward.h"
#include "base/alloc.h"
#include "model/lora.h"
#include "model/model_impl.h"
#include "tensor/matmul.h"
#include "tensor/vec.h"
#include "tensor/quant.h"
#include <math.h>
#include <string.h>

// Positions per online-softmax step of attention (attn_job).
#define ATT_BLOCK 128

struct berry_ctx {
    const berry_model *m;
    berry_kv *kv;
    berry_pool *pool;
    bool own_pool;
    int max_batch, page_tokens, nth;
    int64_t n_evaluated;
    // Activations, allocated once for max_batch tokens.
    float *x, *xn, *tmp;       // (B, E)
    float *q, *att;            // (B, Q)
    float *k, *v;              // (B, KV)
    float *g, *u;              // (B, F)
    float *inv_freq;           // (head_dim/2) angle per position of each rope pair
    // cos and sin of every position below rope_n (rope_n, head_dim/2) each, grown on demand: they do
    // not change between calls, and a table is 1 / (2 n_layer n_head_kv) of the KV cache per token.
    float *rope_cos, *rope_sin;
    int rope_n;
    float *th_buf;             // per thread, for each of the G query heads of a KV head: ATT_BLOCK
                               // scores, head_dim accumulators, running max and sum
    void *mm_scratch;          // berry_matmul's converted activations
    const berry_lora *lora;    // run-time adapter or NULL
    float *lora_u, *lora_y;    // (B, max rank), (B, max dim): x A^T and its product with B^T
    void *lora_scratch;        // berry_matmul's f32 copy of the adapter's activations
    // Per-batch bookkeeping.
    int32_t *tok_seq_idx;      // (B) index of the token's sequence among the batch's distinct sequences
    int32_t *tok_pos;          // (B)
    int32_t *dseq, *dlen;      // (B) distinct sequences and their lengths before the batch
    const int32_t **dpages;    // (B) their page lists
    int32_t *gather;           // (B) tokens of one sequence / rows whose logits are wanted
    void *alloc;               // one allocation holding everything above
};

berry_kv *berry_ctx_kv(berry_ctx *c) { return c->kv; }
const berry_model *berry_ctx_model(const berry_ctx *c) { return c->m; }
int berry_ctx_max_batch(const berry_ctx *c) { return c->max_batch; }
int64_t berry_ctx_n_evaluated(const berry_ctx *c) { return c->n_evaluated; }

static size_t mm_scratch_for(const berry_weight *w, int rows) {
    return berry_matmul_scratch_size(w->type, rows, w->cols);
}

berry_ctx *berry_ctx_create(const berry_model *m, const berry_ctx_params *p, char *err, size_t n) {
    berry_ctx_params d = {0};
    if (!p) p = &d;
    if (!m) { berry_errf(err, n, BERRY_EINVAL, "no model"); return NULL; }
    const berry_hparams *hp = &m->hp;
    int B = p->max_batch > 0 ? p->max_batch : 512;
    if (B > (1 << 20)) { berry_errf(err, n, BERRY_EINVAL, "max_batch %d is too large", B); return NULL; }
    berry_ctx *c = berry_calloc(1, sizeof *c);
    if (!c) { berry_errf(err, n, BERRY_ENOMEM, "out of memory"); return NULL; }
    c->m = m;
    c->max_batch = B;
    berry_kv_config kc = {.n_layer = hp->n_layer, .kv_dim = hp->n_head_kv * hp->head_dim, .page_tokens = p->kv_page_tokens,
                          .max_bytes = p->kv_bytes ? p->kv_bytes : (size_t)256 << 20, .max_seqs = p->max_seqs};
    c->kv = berry_kv_create(&kc, err, n);
    if (!c->kv) goto fail;
    c->page_tokens = berry_kv_page_tokens(c->kv);
    if (p->pool) c->pool = p->pool;
    else {
        c->pool = berry_pool_create(p->n_threads);
        c->own_pool = true;
        if (!c->pool) { berry_errf(err, n, BERRY_ENOMEM, "cannot create a thread pool"); goto fail; }
    }
    c->nth = berry_pool_size(c->pool);
    // The model is shared and read-only for contexts; repacking once is the exception (thread-safe).
    if (berry_model_repack((berry_model *)m, c->pool, err, n) != BERRY_OK) goto fail;
    if (p->lora) {
        if (berry_lora_model(p->lora) != m) { berry_errf(err, n, BERRY_EINVAL, "the LoRA adapter was opened for another model"); goto fail; }
        size_t ld = (size_t)berry_lora_max_dim(p->lora), r = (size_t)berry_lora_max_rank(p->lora);
        c->lora = p->lora;
        c->lora_u = berry_calloc((size_t)B * r, sizeof(float));
        c->lora_y = berry_calloc((size_t)B * ld, sizeof(float));
        c->lora_scratch = berry_calloc(berry_matmul_scratch_size(BERRY_TYPE_F32, B, (int64_t)ld) + 64, 1);
        if (!c->lora_u || !c->lora_y || !c->lora_scratch) { berry_errf(err, n, BERRY_ENOMEM, "out of memory for the LoRA adapter"); goto fail; }
    }

    size_t E = hp->n_embd, Q = (size_t)hp->n_head * hp->head_dim, KV = (size_t)hp->n_head_kv * hp->head_dim,
           F = hp->n_ff, H = hp->head_dim / 2;
    size_t mm = mm_scratch_for(&m->output, B);
    for (int il = 0; il < hp->n_layer; il++) {
        const berry_layer *L = &m->layers[il];
        const berry_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            size_t s = mm_scratch_for(ws[i], B);
            if (s > mm) mm = s;
        }
    }
    // Floats, then pointers and ints: sizes in units of their own type, each region 64-byte aligned.
    size_t fl[] = {B * E, B * E, B * E, B * Q, B * Q, B * KV, B * KV, B * F, B * F, H,
                   (size_t)c->nth * (size_t)(hp->n_head / hp->n_head_kv) * (ATT_BLOCK + hp->head_dim + 2)};
    float **fp[] = {&c->x, &c->xn, &c->tmp, &c->q, &c->att, &c->k, &c->v, &c->g, &c->u, &c->inv_freq, &c->th_buf};
    size_t total = 0;
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) total += (fl[i] * sizeof(float) + 63) & ~(size_t)63;
    size_t ints = 6 * (size_t)B * sizeof(int32_t) + 64 * 6, ptrs = (size_t)B * sizeof(void *) + 64;
    total += ints + ptrs + mm + 64;
    unsigned char *a = c->alloc = berry_calloc(total, 1);
    if (!a) { berry_errf(err, n, BERRY_ENOMEM, "out of memory for %zu bytes of activations", total); goto fail; }
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        *fp[i] = (float *)a;
        a += (fl[i] * sizeof(float) + 63) & ~(size_t)63;
    }
    int32_t **ip[] = {&c->tok_seq_idx, &c->tok_pos, &c->dseq, &c->dlen, &c->gather};
    for (size_t i = 0; i < sizeof ip / sizeof ip[0]; i++) {
        *ip[i] = (int32_t *)a;
        a += ((size_t)B * sizeof(int32_t) + 63) & ~(size_t)63;
    }
    c->dpages = (const int32_t **)a;
    a += ((size_t)B * sizeof(void *) + 63) & ~(size_t)63;
    c->mm_scratch = a;
    // Rope: pair i turns by pos * freq_scale * theta^(-2i/d) / divisor_i (llama3 divisors when present).
    for (size_t i = 0; i < H; i++) {
        double f = hp->rope_freq_scale * pow(hp->rope_theta, -2.0 * (double)i / hp->head_dim);
        if (m->rope_freqs) f /= m->rope_freqs[i];
        c->inv_freq[i] = (float)f;
    }
    return c;
fail:
    berry_ctx_free(c);
    return NULL;
}

void berry_ctx_free(berry_ctx *c) {
    if (!c) return;
    berry_kv_free(c->kv);
    if (c->own_pool) berry_pool_free(c->pool);
    berry_free(c->alloc);
    berry_free(c->rope_cos);
    berry_free(c->rope_sin);
    berry_free(c->lora_u);
    berry_free(c->lora_y);
    berry_free(c->lora_scratch);
    berry_free(c);
}

// ---- layers --------------------------------------------------------------------------------------

// out = x / rms(x) * w, row by row. x, out: (T, C); w: (C). out may equal x.
static void rmsnorm(float *out, const float *x, const float *w, int T, int C, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * C;
        float *ot = out + (size_t)t * C;
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += (double)xt[i] * xt[i];
        float r = (float)(1.0 / sqrt(ss / C + eps));
        for (int i = 0; i < C; i++) ot[i] = xt[i] * r * w[i];
    }
}

static void lora_add(berry_ctx *c, const berry_weight *w, const float *x, float *y, int T);

// Whether a product over T rows reads W's repacked panels. For q4_0 / q8_0 and many rows (a prefill)
// the stored blocks packed per call into L1 ran faster on 2 threads (q8_0, 256 rows: 225 against 147
// tokens/s on the development machine; equal on 1 thread); with the six-row q8_0 tile both give
// 286-288. For decode and batched decode the repacked panels win (16 rows: 184 against 140), and for
// f16, q4_K and q6_K (whose only panel kernels read repacked weights) at every size.
static bool use_packed(const berry_weight *w, int T) {
    return w->packed && (T < 64 || w->type == BERRY_TYPE_F16 || w->type == BERRY_TYPE_Q4_K || w->type == BERRY_TYPE_Q6_K);
}

// Y (T, M) = X (T, K) . W^T on the context's pool, plus (X A^T) (scale B)^T when a LoRA adapter adapts
// W (model/lora.h).
static void matmul(berry_ctx *c, const berry_weight *w, const float *x, float *y, int T) {
    if (use_packed(w, T)) berry_matmul_packed(c->pool, w->type, w->packed, x, y, T, w->cols, w->rows, c->mm_scratch);
    else berry_matmul(c->pool, w->type, w->data, x, y, T, w->cols, w->rows, c->mm_scratch);
    lora_add(c, w, x, y, T);
}

// Y_i = X W_i^T for N weights that share the input X: when all are repacked, the activations are
// quantized once and one dispatch runs them all (decode makes hundreds of dispatches per token).
static void matmul_n(berry_ctx *c, int n, const berry_weight *const *w, const float *x, float *const *y, int T) {
    berry_mm_w ops[BERRY_MATMUL_MAX_N];
    bool fused = n <= BERRY_MATMUL_MAX_N;
    for (int i = 0; i < n && fused; i++) {
        fused = use_packed(w[i], T) && w[i]->cols == w[0]->cols;
        ops[i] = (berry_mm_w){.type = w[i]->type, .wp = w[i]->packed, .m = w[i]->rows, .y = y[i]};
    }
    if (!fused) {
        for (int i = 0; i < n; i++) matmul(c, w[i], x, y[i], T);
        return;
    }
    berry_matmul_packed_n(c->pool, n, ops, x, T, w[0]->cols, c->mm_scratch);
    for (int i = 0; i < n; i++) lora_add(c, w[i], x, y[i], T);
}

// Adds (X A^T) (scale B)^T when the context's LoRA adapter adapts W.
static void lora_add(berry_ctx *c, const berry_weight *w, const float *x, float *y, int T) {
    const berry_lora_pair *a = c->lora ? berry_lora_find(c->lora, w) : NULL;
    if (!a) return;
    berry_matmul(c->pool, BERRY_TYPE_F32, a->a, x, c->lora_u, T, a->in, a->rank, c->lora_scratch);
    berry_matmul(c->pool, BERRY_TYPE_F32, a->b, c->lora_u, c->lora_y, T, a->rank, a->out, c->lora_scratch);
    size_t n = (size_t)T * (size_t)a->out;
    for (size_t i = 0; i < n; i++) y[i] += c->lora_y[i];
}

static void add_bias(float *y, const float *b, int T, size_t M) {
    if (!b) return;
    for (int t = 0; t < T; t++)
        for (size_t i = 0; i < M; i++) y[(size_t)t * M + i] += b[i];
}

// Rotates the N_HEADS heads of each token's vector in X (T, n_heads * hd) by its position's angles.
// NEOX pairs (i, i + hd/2) (qwen2, gemma2); "normal" pairs (2i, 2i+1) (llama, whose GGUF Q/K rows
// llama.cpp's converter permuted so that this equals Hugging Face's rotate_half).
// Rows [T0, T1) of X.
static void rope(const berry_ctx *c, float *x, int t0, int t1, int n_heads, int hd, bool neox) {
    int half = hd / 2;
    for (int t = t0; t < t1; t++) {
        const float *cs = c->rope_cos + (size_t)c->tok_pos[t] * half, *sn = c->rope_sin + (size_t)c->tok_pos[t] * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * hd;
            for (int i = 0; i < half; i++) {
                int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * cs[i] - x1 * sn[i];
                v[b] = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
}

typedef struct {
    berry_ctx *c;
    int layer, T;
    bool window;
} attn_args;

// Attention of each token over its own sequence's cached positions lo..pos, where lo is 0 or
// pos - window + 1 on sliding layers. A task is one (token, KV head) with the G query heads that
// share it. Softmax is computed online over blocks of ATT_BLOCK positions (running max and sum per
// head), whatever the page size: the blocks depend on positions only, so a sequence's result does not
// depend on how its cache is paged or shared, and small pages cost no extra softmax steps.
// Writes c->att (T, Q).
static void attn_job(void *arg, int ith, int nth) {
    const attn_args *A = arg;
    berry_ctx *c = A->c;
    const berry_hparams *hp = &c->m->hp;
    int hd = hp->head_dim, nkv = hp->n_head_kv, G = hp->n_head / hp->n_head_kv, PT = c->page_tokens;
    size_t Q = (size_t)hp->n_head * hd, KV = (size_t)nkv * hd;
    float *sc = c->th_buf + (size_t)ith * (size_t)G * (size_t)(ATT_BLOCK + hd + 2);   // (G, ATT_BLOCK)
    float *acc = sc + (size_t)G * ATT_BLOCK, *mx = acc + (size_t)G * hd, *sum = mx + G;  // (G, hd), (G), (G)
    float cap = hp->attn_softcap, scale = hp->attn_scale;
    // Tasks are dealt round-robin: in a causal prefill later tokens attend to more positions, and
    // contiguous ranges would leave the last thread with most of the work.
    for (int task = ith; task < A->T * nkv; task += nth) {
        int t = task / nkv, kvh = task % nkv;
        const float *q = c->q + (size_t)t * Q + (size_t)kvh * G * hd;   // G heads, hd apart
        int pos = c->tok_pos[t];
        int lo = A->window && pos - hp->sliding_window + 1 > 0 ? pos - hp->sliding_window + 1 : 0;
        const int32_t *pages = c->dpages[c->tok_seq_idx[t]];
        for (int g = 0; g < G; g++) mx[g] = -INFINITY, sum[g] = 0;
        for (int i = 0; i < G * hd; i++) acc[i] = 0;
        for (int b0 = lo; b0 <= pos; b0 += ATT_BLOCK) {
            int b1 = pos + 1 < b0 + ATT_BLOCK ? pos + 1 : b0 + ATT_BLOCK, nb = b1 - b0;
            // Scores of the block, page piece by page piece.
            for (int p0 = b0; p0 < b1;) {
                int pi = p0 / PT, r0 = p0 - pi * PT, r1 = b1 - pi * PT < PT ? b1 - pi * PT : PT;
                const float *K = berry_kv_page_k(c->kv, pages[pi], A->layer) + kvh * hd;
                for (int g = 0; g < G; g++)
                    berry_vec_dots(sc + (size_t)g * ATT_BLOCK + (p0 - b0), q + (size_t)g * hd, K + (size_t)r0 * KV,
                                   (int64_t)KV, r1 - r0, hd, scale);
                p0 = pi * PT + r1;
            }
            for (int g = 0; g < G; g++) {
                float *sg = sc + (size_t)g * ATT_BLOCK, pm = -INFINITY;
                if (cap > 0)
                    for (int r = 0; r < nb; r++) sg[r] = cap * tanhf(sg[r] / cap);
                for (int r = 0; r < nb; r++) pm = sg[r] > pm ? sg[r] : pm;
                if (pm > mx[g]) {
                    float corr = expf(mx[g] - pm);
                    sum[g] *= corr;
                    for (int i = 0; i < hd; i++) acc[(size_t)g * hd + i] *= corr;
                    mx[g] = pm;
                }
                sum[g] += berry_vec_exp_shift(sg, nb, mx[g]);
            }
            // Values weighted by the exponentials, page piece by page piece.
            for (int p0 = b0; p0 < b1;) {
                int pi = p0 / PT, r0 = p0 - pi * PT, r1 = b1 - pi * PT < PT ? b1 - pi * PT : PT;
                const float *V = berry_kv_page_v(c->kv, pages[pi], A->layer) + kvh * hd;
                for (int g = 0; g < G; g++)
                    berry_vec_wsum(acc + (size_t)g * hd, sc + (size_t)g * ATT_BLOCK + (p0 - b0), V + (size_t)r0 * KV,
                                   (int64_t)KV, r1 - r0, hd);
                p0 = pi * PT + r1;
            }
        }
        for (int g = 0; g < G; g++) {
            float *out = c->att + (size_t)t * Q + ((size_t)kvh * G + g) * hd;
            for (int i = 0; i < hd; i++) out[i] = acc[(size_t)g * hd + i] / sum[g];
        }
    }
}

static inline float gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

// ---- element-wise work on the pool ---------------------------------------------------------------
// Each op runs over one thread's share of rows (tokens), so results do not depend on the thread
// count. Ops that follow each other with nothing in between are fused into one pass over a row.

typedef enum {
    EW_ROPE_TABLE,   // rows = positions [n0, n0 + n) of the rope table
    EW_EMBED,        // x = embedding rows of tokens (times sqrt(E) for gemma), then xn = norm(x, w)
    EW_NORM,         // out = norm(in, w)
    EW_QKV,          // q, k, v += biases; rope q and k; k and v into the KV cache
    EW_RESID,        // tmp = norm(tmp, w) when w (gemma's post-norms); x += tmp; xn = norm(x, w2) when w2
    EW_GLU,          // g = act(g) * u (SwiGLU, or GeGLU with tanh-GELU); rows = GLU_CHUNK values
    EW_SOFTCAP,      // out = cap tanh(out / cap), rows of V logits
} ew_op;

// EW_GLU splits T * F values in chunks, so that a single decoded token's feed-forward still spreads
// over the threads.
#define GLU_CHUNK 1024

typedef struct {
    berry_ctx *c;
    ew_op op;
    int n, n0, layer;         // n rows for the pool to split; n0: first position (rope table) or T (GLU)
    const float *w, *w2;
    const float *in;
    float *out;
    const int32_t *tokens;
} ew_args;

static void ew_job(void *arg, int ith, int nth) {
    const ew_args *A = arg;
    berry_ctx *c = A->c;
    const berry_model *m = c->m;
    const berry_hparams *hp = &m->hp;
    int E = hp->n_embd, hd = hp->head_dim, half = hd / 2;
    size_t F = (size_t)hp->n_ff;
    size_t Q = (size_t)hp->n_head * hd, KV = (size_t)hp->n_head_kv * hd;
    float eps = hp->norm_eps;
    int b, e;
    berry_split(A->n, ith, nth, &b, &e);
    if (b >= e) return;
    switch (A->op) {
    case EW_ROPE_TABLE:
        for (int p = A->n0 + b; p < A->n0 + e; p++)
            for (int i = 0; i < half; i++) {
                double a = (double)p * c->inv_freq[i];
                c->rope_cos[(size_t)p * half + i] = (float)cos(a);
                c->rope_sin[(size_t)p * half + i] = (float)sin(a);
            }
        break;
    case EW_EMBED: {
        // Gemma scales by sqrt(n_embd), rounded to float as in both references.
        float es = sqrtf((float)E);
        for (int t = b; t < e; t++) {
            float *xt = c->x + (size_t)t * E;
            berry_dequantize(m->tok_embd.type, (const unsigned char *)m->tok_embd.data + (size_t)A->tokens[t] * m->tok_embd.row_bytes,
                             xt, E);
            if (hp->embd_scale)
                for (int i = 0; i < E; i++) xt[i] *= es;
        }
        if (A->w) rmsnorm(c->xn + (size_t)b * E, c->x + (size_t)b * E, A->w, e - b, E, eps);
        break;
    }
    case EW_NORM: rmsnorm(A->out + (size_t)b * E, A->in + (size_t)b * E, A->w, e - b, E, eps); break;
    case EW_QKV: {
        const berry_layer *L = &m->layers[A->layer];
        bool neox = hp->arch != BERRY_ARCH_LLAMA;
        add_bias(c->q + (size_t)b * Q, L->bq, e - b, Q);
        add_bias(c->k + (size_t)b * KV, L->bk, e - b, KV);
        add_bias(c->v + (size_t)b * KV, L->bv, e - b, KV);
        rope(c, c->q, b, e, hp->n_head, hd, neox);
        rope(c, c->k, b, e, hp->n_head_kv, hd, neox);
        // Distinct tokens own distinct cache rows, and berry_kv_k/v only read the cache's tables.
        for (int t = b; t < e; t++) {
            int seq = c->dseq[c->tok_seq_idx[t]];
            memcpy(berry_kv_k(c->kv, seq, A->layer, c->tok_pos[t]), c->k + (size_t)t * KV, KV * sizeof(float));
            memcpy(berry_kv_v(c->kv, seq, A->layer, c->tok_pos[t]), c->v + (size_t)t * KV, KV * sizeof(float));
        }
        break;
    }
    case EW_RESID: {
        float *tmp = c->tmp + (size_t)b * E, *x = c->x + (size_t)b * E;
        if (A->w) rmsnorm(tmp, tmp, A->w, e - b, E, eps);
        for (size_t i = 0; i < (size_t)(e - b) * E; i++) x[i] += tmp[i];
        if (A->w2) rmsnorm(c->xn + (size_t)b * E, x, A->w2, e - b, E, eps);
        break;
    }
    case EW_GLU: {
        size_t i0 = (size_t)b * GLU_CHUNK, i1 = (size_t)e * GLU_CHUNK, n = (size_t)A->n0 * (size_t)F;
        float *g = c->g;
        const float *u = c->u;
        if (i1 > n) i1 = n;
        if (i0 >= i1) break;
        if (hp->gelu)
            for (size_t i = i0; i < i1; i++) g[i] = gelu_tanh(g[i]) * u[i];
        else berry_vec_silu_mul(g + i0, u + i0, (int64_t)(i1 - i0));
        break;
    }
    case EW_SOFTCAP: {
        float cap = hp->final_softcap, *o = A->out + (size_t)b * hp->n_vocab;
        for (size_t i = 0; i < (size_t)(e - b) * hp->n_vocab; i++) o[i] = cap * tanhf(o[i] / cap);
        break;
    }
    }
}

// Below 4 tokens (decode) the work is a few microseconds: done on the calling thread, as a dispatch
// would cost more, most of all on a machine where other processes hold the cores.
static void ew(berry_ctx *c, ew_args a) {
    a.c = c;
    int tokens = a.op == EW_GLU ? a.n0 : a.op == EW_ROPE_TABLE ? 4 : a.n;
    if (tokens < 4) ew_job(&a, 0, 1);
    else berry_pool_run(c->pool, ew_job, &a);
}

// Makes the rope table cover positions [0, n): grows it (doubling) and fills the new positions.
static berry_status rope_table(berry_ctx *c, int n, char *err, size_t err_size) {
    if (n <= c->rope_n) return BERRY_OK;
    size_t half = (size_t)c->m->hp.head_dim / 2;
    int cap = c->rope_n ? c->rope_n : 256;
    while (cap < n) cap = cap > INT32_MAX / 2 ? n : 2 * cap;
    float *cs = berry_calloc((size_t)cap * half, sizeof(float)), *sn = berry_calloc((size_t)cap * half, sizeof(float));
    if (!cs || !sn) {
        berry_free(cs);
        berry_free(sn);
        return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory for the rope table of %d positions", cap);
    }
    if (c->rope_n) {
        memcpy(cs, c->rope_cos, (size_t)c->rope_n * half * sizeof(float));
        memcpy(sn, c->rope_sin, (size_t)c->rope_n * half * sizeof(float));
    }
    berry_free(c->rope_cos);
    berry_free(c->rope_sin);
    c->rope_cos = cs;
    c->rope_sin = sn;
    ew(c, (ew_args){.op = EW_ROPE_TABLE, .n0 = c->rope_n, .n = cap - c->rope_n});
    c->rope_n = cap;
    return BERRY_OK;
}

// ---- the forward ---------------------------------------------------------------------------------

// Checks the batch and reserves its positions in the cache; on error nothing is appended.
static berry_status prepare(berry_ctx *c, const berry_batch *b, int *n_distinct, int *n_wanted, char *err, size_t n) {
    const berry_hparams *hp = &c->m->hp;
    int T = b->n, nd = 0, nw = 0;
    if (T < 1 || T > c->max_batch)
        return berry_errf(err, n, BERRY_EINVAL, "batch of %d tokens (the context takes 1 to %d)", T, c->max_batch);
    if (!b->token || !b->seq) return berry_errf(err, n, BERRY_EINVAL, "batch without tokens or sequence ids");
    for (int t = 0; t < T; t++) {
        if (b->token[t] < 0 || b->token[t] >= hp->n_vocab)
            return berry_errf(err, n, BERRY_EINVAL, "batch token %d: id %d is outside the vocabulary [0, %d)", t,
                              (int)b->token[t], hp->n_vocab);
        int len = berry_kv_seq_len(c->kv, b->seq[t]);
        if (len < 0) return berry_errf(err, n, BERRY_EINVAL, "batch token %d: sequence %d does not exist", t, (int)b->seq[t]);
        int d = 0;
        while (d < nd && c->dseq[d] != b->seq[t]) d++;
        if (d == nd) c->dseq[nd] = b->seq[t], c->dlen[nd] = len, c->gather[nd] = 0, nd++;
        int pos = c->dlen[d] + c->gather[d]++;  // gather[] counts this sequence's tokens so far
        if (b->pos && b->pos[t] != pos)
            return berry_errf(err, n, BERRY_EINVAL, "batch token %d: position %d, but sequence %d continues at %d", t,
                              (int)b->pos[t], (int)b->seq[t], pos);
        c->tok_seq_idx[t] = d;
        c->tok_pos[t] = pos;
        if (!b->logits || b->logits[t]) nw++;
    }
    for (int d = 0; d < nd; d++) {
        int k = 0;
        for (int t = 0; t < T; t++)
            if (c->tok_seq_idx[t] == d) c->gather[k++] = b->token[t];
        berry_status s = berry_kv_seq_append(c->kv, c->dseq[d], c->gather, k, err, n);
        if (s != BERRY_OK) {
            for (int e = 0; e < d; e++) berry_kv_seq_truncate(c->kv, c->dseq[e], c->dlen[e]);
            return s;
        }
    }
    for (int d = 0; d < nd; d++) {
        int np = 0;
        c->dpages[d] = berry_kv_seq_pages(c->kv, c->dseq[d], &np);
    }
    *n_distinct = nd;
    *n_wanted = nw;
    return BERRY_OK;
}

berry_status berry_forward(berry_ctx *c, const berry_batch *b, float *logits, char *err, size_t n) {
    if (!c || !b) return berry_errf(err, n, BERRY_EINVAL, "no context or batch");
    const berry_model *m = c->m;
    const berry_hparams *hp = &m->hp;
    int nd = 0, nw = 0;
    berry_status s = prepare(c, b, &nd, &nw, err, n);
    if (s != BERRY_OK) return s;
    if (nw > 0 && !logits) {
        for (int d = 0; d < nd; d++) berry_kv_seq_truncate(c->kv, c->dseq[d], c->dlen[d]);
        return berry_errf(err, n, BERRY_EINVAL, "logits are wanted for %d tokens but the output buffer is NULL", nw);
    }
    int T = b->n, E = hp->n_embd;
    int max_pos = 0;
    for (int t = 0; t < T; t++) max_pos = c->tok_pos[t] > max_pos ? c->tok_pos[t] : max_pos;
    if ((s = rope_table(c, max_pos + 1, err, n)) != BERRY_OK) {
        for (int d = 0; d < nd; d++) berry_kv_seq_truncate(c->kv, c->dseq[d], c->dlen[d]);
        return s;
    }
    // Element-wise work runs on the pool (ew), fused where steps meet: each layer's last residual add
    // also computes the next layer's attention norm. xn = norm(x) on entry to every layer.
    ew(c, (ew_args){.op = EW_EMBED, .n = T, .tokens = b->token, .w = hp->n_layer > 0 ? m->layers[0].attn_norm : NULL});
    for (int il = 0; il < hp->n_layer; il++) {
        const berry_layer *L = &m->layers[il];
        // Attention block.
        matmul_n(c, 3, (const berry_weight *[]){&L->wq, &L->wk, &L->wv}, c->xn, (float *[]){c->q, c->k, c->v}, T);
        ew(c, (ew_args){.op = EW_QKV, .n = T, .layer = il});
        attn_args A = {c, il, T, berry_hparams_layer_slides(hp, il)};
        berry_pool_run(c->pool, attn_job, &A);
        matmul(c, &L->wo, c->att, c->tmp, T);
        ew(c, (ew_args){.op = EW_RESID, .n = T, .w = L->post_attn_norm, .w2 = L->ffn_norm});
        // Feed-forward block: SwiGLU, or GeGLU with tanh-GELU (gemma2).
        matmul_n(c, 2, (const berry_weight *[]){&L->gate, &L->up}, c->xn, (float *[]){c->g, c->u}, T);
        ew(c, (ew_args){.op = EW_GLU, .n = (int)(((size_t)T * (size_t)hp->n_ff + GLU_CHUNK - 1) / GLU_CHUNK), .n0 = T});
        matmul(c, &L->down, c->g, c->tmp, T);
        const float *next = il + 1 < hp->n_layer ? m->layers[il + 1].attn_norm : NULL;
        ew(c, (ew_args){.op = EW_RESID, .n = T, .w = L->post_ffw_norm, .w2 = next});
    }
    // Output head for the wanted rows only.
    if (nw > 0) {
        int k = 0;
        for (int t = 0; t < T; t++)
            if (!b->logits || b->logits[t]) memcpy(c->tmp + (size_t)k++ * E, c->x + (size_t)t * E, (size_t)E * sizeof(float));
        ew(c, (ew_args){.op = EW_NORM, .n = nw, .in = c->tmp, .out = c->xn, .w = m->output_norm});
        matmul(c, &m->output, c->xn, logits, nw);
        if (hp->final_softcap > 0) ew(c, (ew_args){.op = EW_SOFTCAP, .n = nw, .out = logits});
    }
    berry_kv_commit(c->kv);
    c->n_evaluated += T;
    return BERRY_OK;
}
