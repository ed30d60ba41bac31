// init.c — random models in the exact tensor layout of llama.cpp's files: `berry model init`, the test
// models, and the benchmark models. Weights are normal(0, std), norms 1 (+ optional jitter), biases
// normal(0, std), llama3's rope divisors computed as llama.cpp's converter does.
#include "model/convert.h"
#include "model/model.h"
#include "base/alloc.h"
#include "base/pool.h"
#include "base/rng.h"
#include "tensor/quant.h"
#include "tensor/types.h"
#include <stdio.h>
#include <string.h>

typedef enum { K_MATRIX, K_NORM, K_BIAS, K_ROPE } kind;

typedef struct {
    char name[64];
    int64_t ne0, ne1;  // ne1 = 1 for vectors
    kind k;
    berry_type type;
    size_t bytes;
    unsigned char *data;
} tensor;

typedef struct {
    int t;                   // tensor index
    int64_t row0, row1;      // rows [row0, row1)
    uint64_t stream;
} job;

typedef struct {
    tensor *ts;
    job *jobs;
    int n_jobs;
    const berry_model_init_opts *o;
    const berry_hparams *hp;
    float **bufs;            // one row-block buffer per thread
} gen;

// Values per random block: streams are per (tensor, block), so any thread count gives the same file.
#define BLOCK_VALUES 65536

static void run_jobs(void *arg, int ith, int nth) {
    gen *G = arg;
    float *buf = G->bufs[ith];
    float std = G->o->std > 0 ? G->o->std : 0.02f;
    for (int j = ith; j < G->n_jobs; j += nth) {
        const job *J = &G->jobs[j];
        tensor *T = &G->ts[J->t];
        int64_t n = (J->row1 - J->row0) * T->ne0;
        berry_rng r;
        berry_rng_seed(&r, G->o->seed, J->stream);
        switch (T->k) {
        case K_MATRIX:
        case K_BIAS:
            for (int64_t i = 0; i < n; i++) buf[i] = std * berry_rng_normal(&r);
            break;
        case K_NORM:
            for (int64_t i = 0; i < n; i++) buf[i] = 1.0f + (G->o->norm_std > 0 ? G->o->norm_std * berry_rng_normal(&r) : 0.0f);
            break;
        case K_ROPE:
            berry_hparams_llama3_rope_freqs(G->hp, buf);
            break;
        }
        size_t row_bytes = berry_row_size(T->type, T->ne0);
        for (int64_t row = J->row0; row < J->row1; row++)
            berry_quantize(T->type, buf + (row - J->row0) * T->ne0, T->data + (size_t)row * row_bytes, T->ne0);
    }
}

berry_status berry_model_init(const berry_model_init_opts *o, const char *path, char *err, size_t n) {
    berry_hparams hp = o->hp;
    const berry_type_info *ti = berry_type_get(o->type);
    if (!ti || o->type == BERRY_TYPE_Q8_K || berry_file_type_of((berry_type)o->type) < 0)
        return berry_errf(err, n, BERRY_EINVAL, "weights cannot be stored as type %d (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K)", o->type);
    // The vocabulary file decides n_vocab.
    int64_t tok_key = -1;
    if (o->vocab) {
        tok_key = berry_gguf_find_key(o->vocab, "tokenizer.ggml.tokens");
        if (tok_key < 0 || berry_gguf_kv_type(o->vocab, tok_key) != BERRY_GGUF_ARRAY ||
            berry_gguf_arr_type(o->vocab, tok_key) != BERRY_GGUF_STRING || berry_gguf_arr_len(o->vocab, tok_key) == 0 ||
            berry_gguf_arr_len(o->vocab, tok_key) > (1u << 24))
            return berry_errf(err, n, BERRY_EINVAL, "the vocabulary file has no tokenizer.ggml.tokens string array");
        hp.n_vocab = (int)berry_gguf_arr_len(o->vocab, tok_key);
    }
    berry_status s = berry_hparams_check(&hp, err, n);
    if (s != BERRY_OK) return s;
    if (hp.rope_factor > 0 && (hp.rope_orig_ctx <= 0 || !(hp.rope_low_freq_factor > 0) ||
                               !(hp.rope_high_freq_factor > hp.rope_low_freq_factor)))
        return berry_errf(err, n, BERRY_EINVAL, "llama3 rope scaling needs original context > 0 and 0 < low < high freq factor");

    int64_t E = hp.n_embd, Q = (int64_t)hp.n_head * hp.head_dim, KV = (int64_t)hp.n_head_kv * hp.head_dim, F = hp.n_ff;
    int max_t = 4 + hp.n_layer * 14;
    tensor *ts = berry_calloc(max_t, sizeof *ts);
    if (!ts) return berry_errf(err, n, BERRY_ENOMEM, "out of memory");
    int nt = 0;
#define ADD(k_, ne0_, ne1_, ...)                                                         \
    do {                                                                                 \
        tensor *T = &ts[nt++];                                                           \
        snprintf(T->name, sizeof T->name, __VA_ARGS__);                                  \
        T->ne0 = (ne0_), T->ne1 = (ne1_), T->k = (k_);                                   \
    } while (0)
    ADD(K_MATRIX, E, hp.n_vocab, "token_embd.weight");
    ADD(K_NORM, E, 1, "output_norm.weight");
    if (!hp.tied_output) ADD(K_MATRIX, E, hp.n_vocab, "output.weight");
    if (hp.arch == BERRY_ARCH_LLAMA && hp.rope_factor > 0) ADD(K_ROPE, hp.head_dim / 2, 1, "rope_freqs.weight");
    for (int il = 0; il < hp.n_layer; il++) {
        ADD(K_NORM, E, 1, "blk.%d.attn_norm.weight", il);
        ADD(K_MATRIX, E, Q, "blk.%d.attn_q.weight", il);
        ADD(K_MATRIX, E, KV, "blk.%d.attn_k.weight", il);
        ADD(K_MATRIX, E, KV, "blk.%d.attn_v.weight", il);
        if (hp.qkv_bias) {
            ADD(K_BIAS, Q, 1, "blk.%d.attn_q.bias", il);
            ADD(K_BIAS, KV, 1, "blk.%d.attn_k.bias", il);
            ADD(K_BIAS, KV, 1, "blk.%d.attn_v.bias", il);
        }
        ADD(K_MATRIX, Q, E, "blk.%d.attn_output.weight", il);
        if (hp.post_norms) ADD(K_NORM, E, 1, "blk.%d.post_attention_norm.weight", il);
        ADD(K_NORM, E, 1, "blk.%d.ffn_norm.weight", il);
        ADD(K_MATRIX, E, F, "blk.%d.ffn_gate.weight", il);
        ADD(K_MATRIX, E, F, "blk.%d.ffn_up.weight", il);
        ADD(K_MATRIX, F, E, "blk.%d.ffn_down.weight", il);
        if (hp.post_norms) ADD(K_NORM, E, 1, "blk.%d.post_ffw_norm.weight", il);
    }
#undef ADD
    // One allocation for all tensor data (the writer references it until the file is written).
    size_t total = 0;
    int n_jobs = 0;
    for (int i = 0; i < nt; i++) {
        tensor *T = &ts[i];
        T->type = T->k == K_MATRIX ? berry_fit_type((berry_type)o->type, T->ne0) : BERRY_TYPE_F32;
        T->bytes = berry_row_size(T->type, T->ne0) * (size_t)T->ne1;
        total += (T->bytes + 63) & ~(size_t)63;
        int64_t rows_per = T->ne0 >= BLOCK_VALUES ? 1 : BLOCK_VALUES / T->ne0;
        n_jobs += (int)((T->ne1 + rows_per - 1) / rows_per);
    }
    unsigned char *data = berry_calloc(total, 1);
    job *jobs = berry_calloc(n_jobs, sizeof *jobs);
    berry_pool *pool = berry_pool_create(o->n_threads);
    int nth = berry_pool_size(pool);
    float **bufs = berry_calloc(nth, sizeof *bufs);
    berry_gguf_writer *w = berry_gguf_writer_new();
    size_t buf_values = BLOCK_VALUES;
    for (int i = 0; i < nt; i++)
        if ((size_t)ts[i].ne0 > buf_values) buf_values = ts[i].ne0;
    bool ok = data && jobs && pool && bufs && w;
    for (int t = 0; ok && t < nth; t++) ok = (bufs[t] = berry_calloc(buf_values, sizeof(float))) != NULL;
    if (!ok) {
        s = berry_errf(err, n, BERRY_ENOMEM, "out of memory for %zu bytes of weights", total);
        goto done;
    }
    size_t off = 0;
    int nj = 0;
    for (int i = 0; i < nt; i++) {
        tensor *T = &ts[i];
        T->data = data + off;
        off += (T->bytes + 63) & ~(size_t)63;
        int64_t rows_per = T->ne0 >= BLOCK_VALUES ? 1 : BLOCK_VALUES / T->ne0;
        for (int64_t r = 0, b = 0; r < T->ne1; r += rows_per, b++)
            jobs[nj++] = (job){i, r, r + rows_per < T->ne1 ? r + rows_per : T->ne1, ((uint64_t)i << 32) | (uint64_t)b};
    }
    gen G = {ts, jobs, n_jobs, o, &hp, bufs};
    berry_pool_run(pool, run_jobs, &G);

    s = berry_hparams_write(w, &hp, o->name ? o->name : berry_arch_name(hp.arch));
    if (s == BERRY_OK) s = berry_gguf_set_u32(w, "general.file_type", (uint32_t)berry_file_type_of((berry_type)o->type));
    if (s == BERRY_OK && berry_type_get(o->type)->block > 1) s = berry_gguf_set_u32(w, "general.quantization_version", 2);
    if (o->vocab) {
        for (int64_t i = 0; s == BERRY_OK && i < berry_gguf_n_kv(o->vocab); i++)
            if (!strncmp(berry_gguf_key(o->vocab, i), "tokenizer.", 10)) s = berry_gguf_copy_kv(w, o->vocab, i);
    } else if (s == BERRY_OK) {
        // llama.cpp loads a model without a vocabulary when the tokenizer model is "none".
        s = berry_gguf_set_str(w, "tokenizer.ggml.model", "none");
    }
    for (int i = 0; s == BERRY_OK && i < nt; i++) {
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        s = berry_gguf_add_tensor(w, ts[i].name, ts[i].type, ts[i].ne1 > 1 || ts[i].k == K_MATRIX ? 2 : 1, ne,
                                  ts[i].data, ts[i].bytes);
    }
    if (s != BERRY_OK) berry_errf(err, n, s, "cannot build the GGUF metadata (%s)", berry_status_name(s));
    else s = berry_gguf_write(w, path, err, n);
done:
    berry_gguf_writer_free(w);
    if (bufs)
        for (int t = 0; t < nth; t++) berry_free(bufs[t]);
    berry_free(bufs);
    berry_pool_free(pool);
    berry_free(jobs);
    berry_free(data);
    berry_free(ts);
    return s;
}
