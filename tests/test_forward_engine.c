// Tests of the forward's engine work: the element-wise passes on the thread pool (results must not
// depend on the thread count), the rope table that grows across calls, and models whose matrices are
// q4_1 / q5_0 / q5_1 (real Q4_K_M files of Qwen2.5-0.5B carry q5_0 rows of 896 values) against the
// independent PyTorch reference tests/ref/forward.py (Hugging Face style, float64, weights dequantized
// by llama.cpp's gguf-py, activations rounded to q8_0 as ggml's reference quantizer does).
#include "test.h"
#include "torch_ref.h"
#include "base/rng.h"
#include "model/forward.h"
#include "model/model.h"
#include "tensor/types.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

// A tiny random model (preset "tiny": embd 64, blocks of 32 fit) written to the test's temp dir.
static bool write_tiny(const char *arch, int type, const char *name, char *path, berry_hparams *hp) {
    char err[256];
    berry_model_init_opts o = {.type = type, .seed = 11, .std = 0.15f, .norm_std = 0.1f, .n_threads = 2};
    if (berry_hparams_preset(arch, "tiny", &o.hp, err, sizeof err) != BERRY_OK) { fprintf(stderr, "%s\n", err); return false; }
    if (o.hp.arch == BERRY_ARCH_GEMMA2) o.hp.attn_softcap = 2.0f, o.hp.final_softcap = 3.0f;
    snprintf(path, 512, "%s/%s.gguf", berry_test_tmpdir(), name);
    if (berry_model_init(&o, path, err, sizeof err) != BERRY_OK) { fprintf(stderr, "init: %s\n", err); return false; }
    if (hp) *hp = o.hp;
    return true;
}

static void tokens(int32_t *t, int n, int vocab, uint64_t stream) {
    berry_rng r;
    berry_rng_seed(&r, 5, stream);
    for (int i = 0; i < n; i++) t[i] = (int32_t)berry_rng_below(&r, (uint64_t)vocab);
}

// Evaluates TOK[0..N) on a new sequence of C (its id in *SEQ) in chunks of CHUNK tokens; LOGITS gets
// all N rows.
static berry_status run_chunks(berry_ctx *c, const int32_t *tok, int n, int chunk, float *logits, int *seq_out) {
    int seq = berry_kv_seq_new(berry_ctx_kv(c));
    if (seq_out) *seq_out = seq;
    int V = berry_model_hparams(berry_ctx_model(c))->n_vocab;
    int32_t *s = malloc((size_t)chunk * sizeof(int32_t));
    char err[256];
    berry_status st = s ? BERRY_OK : BERRY_ENOMEM;
    for (int i = 0; i < chunk && s; i++) s[i] = seq;
    for (int i0 = 0; i0 < n && st == BERRY_OK; i0 += chunk) {
        int k = n - i0 < chunk ? n - i0 : chunk;
        berry_batch b = {.n = k, .token = tok + i0, .seq = s};
        st = berry_forward(c, &b, logits + (size_t)i0 * V, err, sizeof err);
        if (st != BERRY_OK) fprintf(stderr, "    forward: %s\n", err);
    }
    free(s);
    return st;
}


// Every pass splits its work by rows (tokens, weight rows, (token, head) pairs, chunks of values) and
// computes each row the same way whatever the split: 1 and 3 threads give identical logits, bit for
// bit, for a prefill and the decode steps after it.
TEST(forward_engine_thread_count_changes_nothing) {
    const char *archs[] = {"llama", "qwen2", "gemma2"};
    for (int a = 0; a < 3; a++) {
        char path[512], err[256];
        berry_hparams hp;
        CHECK(write_tiny(archs[a], BERRY_TYPE_Q8_0, "threads", path, &hp));
        berry_model *m = berry_model_load(path, err, sizeof err);
        CHECKF(m, "load: %s", err);
        enum { N = 40 };
        int32_t t[N];
        tokens(t, N, hp.n_vocab, (uint64_t)a);
        float *l[2];
        for (int k = 0; k < 2; k++) {
            berry_ctx *c = berry_ctx_create(m, &(berry_ctx_params){.n_threads = k ? 3 : 1, .max_batch = 64, .kv_page_tokens = 4},
                                            err, sizeof err);
            CHECKF(c, "ctx: %s", err);
            l[k] = malloc((size_t)N * hp.n_vocab * sizeof(float));
            // A 37-token prefill, then three tokens one at a time.
            int seq;
            CHECK(run_chunks(c, t, 37, 37, l[k], &seq) == BERRY_OK);
            for (int i = 37; i < N; i++) {
                berry_batch b = {.n = 1, .token = t + i, .seq = &seq};
                CHECK(berry_forward(c, &b, l[k] + (size_t)i * hp.n_vocab, err, sizeof err) == BERRY_OK);
            }
            berry_ctx_free(c);
        }
        CHECKF(memcmp(l[0], l[1], (size_t)N * hp.n_vocab * sizeof(float)) == 0,
               "%s: 1 and 3 threads differ by up to %g", archs[a], berry_test_max_diff(l[0], l[1], (size_t)N * hp.n_vocab));
        free(l[0]), free(l[1]);
        berry_model_free(m);
    }
}

// The rope table starts at 256 positions and doubles when a batch reaches past it. 700 positions in
// one call (one growth to 1024) against chunks of 150 (growths at 256 and 512, earlier rows copied):
// the same angles, so the logits agree up to the float order of differently tiled batches.
TEST(forward_engine_rope_table_grows_across_calls) {
    char path[512], err[256];
    berry_hparams hp;
    CHECK(write_tiny("qwen2", BERRY_TYPE_F32, "rope", path, &hp));
    berry_model *m = berry_model_load(path, err, sizeof err);
    CHECKF(m, "load: %s", err);
    enum { N = 700 };
    int32_t t[N];
    tokens(t, N, hp.n_vocab, 9);
    size_t nl = (size_t)N * hp.n_vocab;
    float *one = malloc(nl * sizeof(float)), *chunked = malloc(nl * sizeof(float));
    for (int k = 0; k < 2; k++) {
        berry_ctx *c = berry_ctx_create(m, &(berry_ctx_params){.n_threads = 2, .max_batch = N, .kv_page_tokens = 16},
                                        err, sizeof err);
        CHECKF(c, "ctx: %s", err);
        CHECK(run_chunks(c, t, N, k ? 150 : N, k ? chunked : one, NULL) == BERRY_OK);
        berry_ctx_free(c);
    }
    double d = berry_test_max_diff(one, chunked, nl), r = berry_test_max_abs(one, nl);
    CHECKF(d <= 1e-5 * r, "chunked prefill differs by %g (max %g)", d, r);
    free(one), free(chunked);
    berry_model_free(m);
}


// Logits of q4_1 / q5_0 / q5_1 models against PyTorch with the same activation rounding: what is left
// is float order and the rare activation that rounds the other way, 5e-3 of the largest logit as
// tests/test_forward.c allows for q4_0 and q8_0.
static void parity_q45(const char *arch, berry_type type) {
    char path[512], err[256];
    berry_hparams hp;
    CHECK(write_tiny(arch, type, "q45", path, &hp));
    berry_model *m = berry_model_load(path, err, sizeof err);
    CHECKF(m, "load: %s", err);
    berry_ctx *c = berry_ctx_create(m, &(berry_ctx_params){.n_threads = 2, .max_batch = 64, .kv_page_tokens = 4}, err, sizeof err);
    CHECKF(c, "ctx: %s", err);
    enum { N = 23 };
    int32_t t[N];
    tokens(t, N, hp.n_vocab, 4);
    size_t nl = (size_t)N * hp.n_vocab;
    float *got = malloc(nl * sizeof(float)), *ref = malloc(nl * sizeof(float));
    CHECK(run_chunks(c, t, N, 16, got, NULL) == BERRY_OK);   // a prefill chunk of 16, then 7
    berry_ctx_free(c);
    berry_model_free(m);
    const int32_t *seqs[1] = {t};
    int rc = berry_test_torch_forward(path, seqs, &(int){N}, 1, NULL, true, ref, nl);
    if (rc == 77) { free(got), free(ref); SKIP("tests/ref/forward.py needs python3-torch, python3-numpy and llama.cpp's gguf-py"); }
    CHECKF(rc == 0, "tests/ref/forward.py failed (status %d)", rc);
    double d = berry_test_max_diff(got, ref, nl), r = berry_test_max_abs(ref, nl);
    fprintf(stderr, "    %s %s: max |berry - torch| = %.3g, max |torch| = %.3g, ratio %.3g\n", arch,
            berry_type_get(type)->name, d, r, d / r);
    CHECKF(r > 0.5, "reference logits are degenerate (max %g)", r);
    CHECKF(d / r < 5e-3, "logits differ from PyTorch: max |d| / max |ref| = %.3g", d / r);
    free(got), free(ref);
}

TEST(forward_engine_qwen2_q5_0_matches_torch) { parity_q45("qwen2", BERRY_TYPE_Q5_0); }
TEST(forward_engine_llama_q4_1_matches_torch) { parity_q45("llama", BERRY_TYPE_Q4_1); }
TEST(forward_engine_gemma2_q5_1_matches_torch) { parity_q45("gemma2", BERRY_TYPE_Q5_1); }
