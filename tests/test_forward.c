// Tests of the forward pass: logits of tiny random llama / qwen2 / gemma2 models against an independent
// PyTorch implementation (tests/ref/forward.py, Hugging Face style, float64, reading the GGUF with
// llama.cpp's gguf-py), and the KV cache properties (incremental decode, fork, batching, prefix reuse).
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

// Tiny test models: preset "tiny" with weights large enough (std 0.15, norms 1 + 0.1 normal) that
// attention is far from uniform and every norm weight matters. Gemma2's soft caps are lowered (2 on
// attention logits, 3 on the output) so that tanh is far from linear, and its window (8) is shorter
// than the test sequences. KQUANT: shapes whose rows fit 256-value blocks (embd 256, head dim 64).
static bool tiny_model(const char *arch, int type, bool kquant, const char *name, char *path, berry_hparams *hp) {
    char err[256];
    berry_model_init_opts o = {.type = type, .seed = 7, .std = 0.15f, .norm_std = 0.1f, .n_threads = 2};
    if (berry_hparams_preset(arch, "tiny", &o.hp, err, sizeof err) != BERRY_OK) { fprintf(stderr, "%s\n", err); return false; }
    if (o.hp.arch == BERRY_ARCH_GEMMA2) o.hp.attn_softcap = 2.0f, o.hp.final_softcap = 3.0f;
    if (kquant) {
        o.hp.n_embd = 256, o.hp.head_dim = 64, o.hp.n_head = 4, o.hp.n_head_kv = 2, o.hp.n_ff = 512;
        o.hp.attn_scale = 0.125f;
        o.std = 0.06f;  // keeps q.k of order 1 with the wider rows
    }
    snprintf(path, 512, "%s/%s.gguf", berry_test_tmpdir(), name);
    if (berry_model_init(&o, path, err, sizeof err) != BERRY_OK) { fprintf(stderr, "init: %s\n", err); return false; }
    if (hp) *hp = o.hp;
    return true;
}

static void random_tokens(int32_t *t, int n, int vocab, uint64_t stream) {
    berry_rng r;
    berry_rng_seed(&r, 99, stream);
    for (int i = 0; i < n; i++) t[i] = (int32_t)berry_rng_below(&r, (uint64_t)vocab);
}


// Evaluates sequences SEQS (lengths LENS) in one batch, their tokens interleaved, all logits wanted;
// LOGITS gets them sequence after sequence, as the reference writes them.
static berry_status forward_interleaved(berry_ctx *c, int32_t *const *seqs, const int *lens, int n_seqs, float *logits,
                                        char *err, size_t n) {
    int total = 0, ids[8];
    for (int s = 0; s < n_seqs; s++) total += lens[s], ids[s] = berry_kv_seq_new(berry_ctx_kv(c));
    enum { MAXT = 1024 };
    if (total > MAXT || n_seqs > 8) return berry_errf(err, n, BERRY_EINVAL, "test batch too large");
    static int32_t tok[MAXT], seq[MAXT], row_of[MAXT];
    int k = 0, done[8] = {0};
    while (k < total)
        for (int s = 0; s < n_seqs; s++)
            if (done[s] < lens[s]) {
                int off = 0;
                for (int r = 0; r < s; r++) off += lens[r];
                row_of[k] = off + done[s];
                tok[k] = seqs[s][done[s]++];
                seq[k++] = ids[s];
            }
    int V = berry_model_hparams(berry_ctx_model(c))->n_vocab;
    float *tmp = malloc((size_t)total * V * sizeof(float));
    berry_batch b = {.n = total, .token = tok, .seq = seq};
    berry_status st = berry_forward(c, &b, tmp, err, n);
    for (int i = 0; i < total && st == BERRY_OK; i++) memcpy(logits + (size_t)row_of[i] * V, tmp + (size_t)i * V, V * sizeof(float));
    free(tmp);
    return st;
}

// Parity of one model file against the reference: two sequences of LEN0 and LEN1 tokens in one batch.
static void parity_lens(const char *arch, int type, bool kquant, double tol, const char *llama3, bool act_quant,
                        int len0, int len1) {
    char path[512], err[256];
    berry_hparams hp;
    CHECK(tiny_model(arch, type, kquant, "m", path, &hp));
    berry_model *m = berry_model_load(path, err, sizeof err);
    CHECKF(m, "load: %s", err);
    berry_ctx *c = berry_ctx_create(m, &(berry_ctx_params){.n_threads = 2, .max_batch = len0 + len1, .kv_page_tokens = 4},
                                    err, sizeof err);
    CHECKF(c, "ctx: %s", err);
    int lens[2] = {len0, len1};
    int32_t *s0 = malloc((size_t)len0 * sizeof(int32_t)), *s1 = malloc((size_t)len1 * sizeof(int32_t));
    random_tokens(s0, len0, hp.n_vocab, 1);
    random_tokens(s1, len1, hp.n_vocab, 2);
    int32_t *seqs[2] = {s0, s1};
    size_t nl = (size_t)(len0 + len1) * hp.n_vocab;
    float *got = malloc(nl * sizeof(float)), *ref = malloc(nl * sizeof(float));
    CHECKF(forward_interleaved(c, seqs, lens, 2, got, err, sizeof err) == BERRY_OK, "forward: %s", err);
    int rc = berry_test_torch_forward(path, (const int32_t *const *)seqs, lens, 2, llama3, act_quant, ref, nl);
    if (rc == 77) { free(got), free(ref), free(s0), free(s1), berry_ctx_free(c), berry_model_free(m); SKIP("tests/ref/forward.py needs python3-torch, python3-numpy and llama.cpp's gguf-py"); }
    CHECKF(rc == 0, "tests/ref/forward.py failed (status %d)", rc);
    double d = berry_test_max_diff(got, ref, nl), r = berry_test_max_abs(ref, nl);
    fprintf(stderr, "    %s %s%s: max |berry - torch| = %.3g, max |torch| = %.3g, ratio %.3g (tol %.3g)\n", arch,
            berry_type_get(type)->name, act_quant ? " (torch rounds activations too)" : "", d, r, d / r, tol);
    CHECKF(r > 0.5, "reference logits are degenerate (max %g)", r);
    CHECKF(d / r < tol, "logits differ from PyTorch: max |d| / max |ref| = %.3g >= %.3g", d / r, tol);
    free(got), free(ref), free(s0), free(s1);
    berry_ctx_free(c);
    berry_model_free(m);
}

static void parity(const char *arch, int type, bool kquant, double tol, const char *llama3, bool act_quant) {
    parity_lens(arch, type, kquant, tol, llama3, act_quant, 19, 11);
}

// float32 weights: berry and the float64 reference differ only by berry's float32 rounding (sums of 64
// to 256 products, softmax, 2-3 layers): a few 1e-6 relative. Tolerance 1e-4 of the largest logit.
#define TOL_FLOAT 1e-4
// Sequences longer than attention's softmax block (128 positions) and than a page many times over:
// the running max and sum carried across blocks, with gemma2's soft cap and window too.
TEST(forward_qwen2_long_sequences_match_torch) { parity_lens("qwen2", BERRY_TYPE_F32, false, TOL_FLOAT, NULL, false, 300, 140); }
TEST(forward_gemma2_long_sequences_match_torch) { parity_lens("gemma2", BERRY_TYPE_F32, false, TOL_FLOAT, NULL, false, 270, 131); }
TEST(forward_llama_f32_matches_torch) { parity("llama", BERRY_TYPE_F32, false, TOL_FLOAT, "32,1,4,8192", false); }
TEST(forward_qwen2_f32_matches_torch) { parity("qwen2", BERRY_TYPE_F32, false, TOL_FLOAT, NULL, false); }
TEST(forward_gemma2_f32_matches_torch) { parity("gemma2", BERRY_TYPE_F32, false, TOL_FLOAT, NULL, false); }
// f16 / bf16 weights are dequantized exactly by gguf-py and multiplied by f32 activations in berry: the
// same rounding-only tolerance.
TEST(forward_qwen2_f16_matches_torch) { parity("qwen2", BERRY_TYPE_F16, false, TOL_FLOAT, NULL, false); }
TEST(forward_gemma2_bf16_matches_torch) { parity("gemma2", BERRY_TYPE_BF16, false, TOL_FLOAT, NULL, false); }
// Quantized weights: the reference dequantizes the same blocks with gguf-py, and rounds the activations
// entering each product as ggml's reference quantizers do (q8_0 blocks of 32 for q8_0 / q4_0, q8_K
// blocks of 256 for q4_K), as berry's kernels do. What remains is float rounding, plus the rare
// activation whose 8-bit rounding flips because a float-rounding-sized change moved it across a
// rounding boundary (one step, 1/127 of its block's largest value; measured 1.6e-3 on the llama q8_0
// model, 3e-7 where nothing flipped): 5e-3 of the largest logit.
#define TOL_QUANT_EMULATED 5e-3
TEST(forward_llama_q8_0_matches_torch) { parity("llama", BERRY_TYPE_Q8_0, false, TOL_QUANT_EMULATED, NULL, true); }
TEST(forward_qwen2_q4_0_matches_torch) { parity("qwen2", BERRY_TYPE_Q4_0, false, TOL_QUANT_EMULATED, NULL, true); }
TEST(forward_gemma2_q4_K_matches_torch) { parity("gemma2", BERRY_TYPE_Q4_K, true, TOL_QUANT_EMULATED, NULL, true); }
TEST(forward_qwen2_q4_K_matches_torch) { parity("qwen2", BERRY_TYPE_Q4_K, true, TOL_QUANT_EMULATED, NULL, true); }
// q6_K: repacked at load into byte values (blocks.h BERRY_PK6K_BYTES); the batch goes through those panels.
TEST(forward_llama_q6_K_matches_torch) { parity("llama", BERRY_TYPE_Q6_K, true, TOL_QUANT_EMULATED, NULL, true); }
// Against the plain dequantized model (no activation rounding in the reference): berry's 8-bit
// activations (relative error about 2^-8 per value, so ~0.5% per product) give a few percent at the
// largest of 7680 logits after 2 layers: 5e-2.
TEST(forward_q8_0_matches_dequantized_torch) { parity("qwen2", BERRY_TYPE_Q8_0, false, 5e-2, NULL, false); }

// ---- KV cache properties (berry against itself: the same logits along different paths) -------------

typedef struct {
    char path[512];
    berry_hparams hp;
    berry_model *m;
    berry_ctx *c;
} setup;

static bool open_tiny(setup *S, const char *arch) {
    char err[256];
    if (!tiny_model(arch, BERRY_TYPE_F32, false, "kv", S->path, &S->hp)) return false;
    S->m = berry_model_load(S->path, err, sizeof err);
    if (!S->m) { fprintf(stderr, "load: %s\n", err); return false; }
    S->c = berry_ctx_create(S->m, &(berry_ctx_params){.n_threads = 2, .max_batch = 64, .kv_page_tokens = 4}, err, sizeof err);
    if (!S->c) { fprintf(stderr, "ctx: %s\n", err); return false; }
    return true;
}

static void close_tiny(setup *S) {
    berry_ctx_free(S->c);
    berry_model_free(S->m);
}

// Evaluates TOKS[0..N) on SEQ in one call; LOGITS (may be NULL) gets all N rows.
static berry_status feed(berry_ctx *c, int seq, const int32_t *toks, int n, float *logits) {
    int32_t s[64];
    uint8_t want[64];
    for (int i = 0; i < n; i++) s[i] = seq, want[i] = logits != NULL;
    char err[256];
    berry_batch b = {.n = n, .token = toks, .seq = s, .logits = want};
    berry_status st = berry_forward(c, &b, logits, err, sizeof err);
    if (st != BERRY_OK) fprintf(stderr, "    forward: %s\n", err);
    return st;
}

// Same results along two paths: the paths run the same arithmetic per token, so only the order of
// independent float sums may differ (matrix kernels that tile batches). 1e-5 of the largest logit.
#define TOL_SAME 1e-5

TEST(forward_incremental_decode_equals_full_forward) {
    const char *archs[] = {"llama", "qwen2", "gemma2"};
    for (int a = 0; a < 3; a++) {
        setup S;
        CHECK(open_tiny(&S, archs[a]));
        int V = S.hp.n_vocab, N = 21;
        int32_t t[21];
        random_tokens(t, N, V, 3);
        float *full = malloc((size_t)N * V * sizeof(float)), *inc = malloc((size_t)N * V * sizeof(float));
        int s1 = berry_kv_seq_new(berry_ctx_kv(S.c)), s2 = berry_kv_seq_new(berry_ctx_kv(S.c));
        CHECK(feed(S.c, s1, t, N, full) == BERRY_OK);
        CHECK(feed(S.c, s2, t, 7, inc) == BERRY_OK);  // a prefill chunk, then one token at a time
        for (int i = 7; i < N; i++) CHECK(feed(S.c, s2, t + i, 1, inc + (size_t)i * V) == BERRY_OK);
        double d = berry_test_max_diff(full, inc, (size_t)N * V), r = berry_test_max_abs(full, (size_t)N * V);
        CHECKF(d <= TOL_SAME * r, "%s: incremental decode differs from the full forward by %g (max %g)", archs[a], d, r);
        CHECK_EQ_INT(berry_kv_seq_len(berry_ctx_kv(S.c), s2), N);
        CHECK_EQ_INT(berry_ctx_n_evaluated(S.c), 2 * N);
        free(full), free(inc);
        close_tiny(&S);
    }
}

TEST(forward_fork_equals_independent_run) {
    setup S;
    CHECK(open_tiny(&S, "gemma2"));
    int V = S.hp.n_vocab;
    berry_kv *kv = berry_ctx_kv(S.c);
    int32_t p[10], x[5], y[6], px[15], py[16];
    random_tokens(p, 10, V, 4);  // 10 positions: the fork shares a partly filled page (page_tokens 4)
    random_tokens(x, 5, V, 5);
    random_tokens(y, 6, V, 6);
    memcpy(px, p, sizeof p), memcpy(px + 10, x, sizeof x);
    memcpy(py, p, sizeof p), memcpy(py + 10, y, sizeof y);
    int a = berry_kv_seq_new(kv);
    CHECK(feed(S.c, a, p, 10, NULL) == BERRY_OK);
    int b = berry_kv_seq_fork(kv, a);
    CHECK(b >= 0);
    // A continues with X and B with Y in one batch.
    int32_t tok[11], seq[11];
    for (int i = 0; i < 5; i++) tok[i] = x[i], seq[i] = a;
    for (int i = 0; i < 6; i++) tok[5 + i] = y[i], seq[5 + i] = b;
    float *got = malloc(11 * (size_t)V * sizeof(float));
    char err[256];
    CHECKF(berry_forward(S.c, &(berry_batch){.n = 11, .token = tok, .seq = seq}, got, err, sizeof err) == BERRY_OK, "%s", err);
    float *rx = malloc(15 * (size_t)V * sizeof(float)), *ry = malloc(16 * (size_t)V * sizeof(float));
    int c1 = berry_kv_seq_new(kv), c2 = berry_kv_seq_new(kv);
    CHECK(feed(S.c, c1, px, 15, rx) == BERRY_OK);
    CHECK(feed(S.c, c2, py, 16, ry) == BERRY_OK);
    double r = berry_test_max_abs(rx, 15 * (size_t)V);
    CHECKF(berry_test_max_diff(got, rx + 10 * (size_t)V, 5 * (size_t)V) <= TOL_SAME * r, "the original sequence changed after the fork");
    CHECKF(berry_test_max_diff(got + 5 * (size_t)V, ry + 10 * (size_t)V, 6 * (size_t)V) <= TOL_SAME * r, "the fork differs from an independent run");
    free(got), free(rx), free(ry);
    close_tiny(&S);
}

TEST(forward_batch_equals_sequences_one_by_one) {
    const char *archs[] = {"llama", "qwen2", "gemma2"};
    for (int ai = 0; ai < 3; ai++) {
        setup S;
        CHECK(open_tiny(&S, archs[ai]));
        int V = S.hp.n_vocab;
        berry_kv *kv = berry_ctx_kv(S.c);
        // Three sequences: A has 6 cached positions and decodes 1 token, B prefills 9, C has 3 cached
        // and adds a chunk of 4: one call mixes a decode step with prefill chunks, tokens interleaved.
        int32_t ta[7], tb[9], tc[7];
        random_tokens(ta, 7, V, 7), random_tokens(tb, 9, V, 8), random_tokens(tc, 7, V, 9);
        int a = berry_kv_seq_new(kv), b = berry_kv_seq_new(kv), c = berry_kv_seq_new(kv);
        CHECK(feed(S.c, a, ta, 6, NULL) == BERRY_OK);
        CHECK(feed(S.c, c, tc, 3, NULL) == BERRY_OK);
        int32_t tok[14], seq[14], pos[14];
        uint8_t want[14];
        int k = 0, ib = 0, ic = 3;
        tok[k] = ta[6], seq[k] = a, pos[k] = 6, want[k++] = 1;
        while (ib < 9 || ic < 7) {
            if (ib < 9) tok[k] = tb[ib], seq[k] = b, pos[k] = ib, want[k++] = (ib == 8 || ib == 2), ib++;
            if (ic < 7) tok[k] = tc[ic], seq[k] = c, pos[k] = ic, want[k++] = 1, ic++;
        }
        CHECK_EQ_INT(k, 14);
        float *got = malloc(7 * (size_t)V * sizeof(float));  // wanted: a6, b2, b8, c3..c6
        char err[256];
        CHECKF(berry_forward(S.c, &(berry_batch){.n = 14, .token = tok, .seq = seq, .pos = pos, .logits = want}, got, err,
                             sizeof err) == BERRY_OK, "%s", err);
        // One by one: each sequence alone in a fresh sequence.
        float *ra = malloc(7 * (size_t)V * sizeof(float)), *rb = malloc(9 * (size_t)V * sizeof(float)),
              *rc = malloc(7 * (size_t)V * sizeof(float));
        CHECK(feed(S.c, berry_kv_seq_new(kv), ta, 7, ra) == BERRY_OK);
        CHECK(feed(S.c, berry_kv_seq_new(kv), tb, 9, rb) == BERRY_OK);
        CHECK(feed(S.c, berry_kv_seq_new(kv), tc, 7, rc) == BERRY_OK);
        // The wanted rows, in batch order, from the runs alone.
        const float *want_rows[7];
        int w = 0;
        for (int i = 0; i < 14; i++) {
            if (!want[i]) continue;
            want_rows[w++] = seq[i] == a ? ra + (size_t)pos[i] * V : seq[i] == b ? rb + (size_t)pos[i] * V : rc + (size_t)pos[i] * V;
        }
        CHECK_EQ_INT(w, 7);
        double r = berry_test_max_abs(rb, 9 * (size_t)V);
        for (int i = 0; i < 7; i++)
            CHECKF(berry_test_max_diff(got + (size_t)i * V, want_rows[i], V) <= TOL_SAME * r, "%s: wanted row %d differs from the sequence run alone",
                   archs[ai], i);
        free(got), free(ra), free(rb), free(rc);
        close_tiny(&S);
    }
}

TEST(forward_prefix_reuse_gives_identical_logits) {
    setup S;
    CHECK(open_tiny(&S, "qwen2"));
    int V = S.hp.n_vocab;
    berry_kv *kv = berry_ctx_kv(S.c);
    int32_t t1[23], t2[21];
    random_tokens(t1, 23, V, 10);
    random_tokens(t2, 21, V, 11);
    memcpy(t2, t1, 18 * sizeof(int32_t));  // 18 shared tokens: 4 whole pages of 4, then a difference
    int s1 = berry_kv_seq_new(kv);
    CHECK(feed(S.c, s1, t1, 23, NULL) == BERRY_OK);
    berry_kv_seq_free(kv, s1);  // its committed pages stay cached
    int s2 = berry_kv_seq_new(kv);
    int attached = berry_kv_seq_reuse(kv, s2, t2, 21);
    CHECK_EQ_INT(attached, 16);
    float *got = malloc(5 * (size_t)V * sizeof(float)), *ref = malloc(21 * (size_t)V * sizeof(float));
    int64_t before = berry_ctx_n_evaluated(S.c);
    CHECK(feed(S.c, s2, t2 + 16, 5, got) == BERRY_OK);
    CHECK_EQ_INT(berry_ctx_n_evaluated(S.c) - before, 5);
    // The same prompt evaluated in full on a fresh sequence.
    CHECK(feed(S.c, berry_kv_seq_new(kv), t2, 21, ref) == BERRY_OK);
    double r = berry_test_max_abs(ref, 21 * (size_t)V);
    CHECKF(berry_test_max_diff(got, ref + 16 * (size_t)V, 5 * (size_t)V) <= TOL_SAME * r, "logits after prefix reuse differ from a full evaluation");
    berry_kv_stats st;
    berry_kv_get_stats(kv, &st);
    CHECK(st.tokens_reused >= 16);
    free(got), free(ref);
    close_tiny(&S);
}

TEST(forward_rejects_bad_batches) {
    setup S;
    CHECK(open_tiny(&S, "llama"));
    berry_kv *kv = berry_ctx_kv(S.c);
    int s = berry_kv_seq_new(kv);
    int32_t t[3] = {1, 2, 3}, seq[3] = {s, s, s}, bad_tok[3] = {1, 256, 3}, bad_seq[3] = {s, 77, s}, pos[3] = {0, 2, 3};
    float *lg = malloc(3 * 256 * sizeof(float));
    char err[256] = "";
    CHECK(berry_forward(S.c, &(berry_batch){.n = 3, .token = bad_tok, .seq = seq}, lg, err, sizeof err) == BERRY_EINVAL);
    CHECKF(strstr(err, "vocabulary"), "%s", err);
    CHECK(berry_forward(S.c, &(berry_batch){.n = 3, .token = t, .seq = bad_seq}, lg, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_forward(S.c, &(berry_batch){.n = 3, .token = t, .seq = seq, .pos = pos}, lg, err, sizeof err) == BERRY_EINVAL);
    CHECKF(strstr(err, "position"), "%s", err);
    CHECK(berry_forward(S.c, &(berry_batch){.n = 0, .token = t, .seq = seq}, lg, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_forward(S.c, &(berry_batch){.n = 65, .token = t, .seq = seq}, lg, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_forward(S.c, &(berry_batch){.n = 3, .token = t, .seq = seq}, NULL, err, sizeof err) == BERRY_EINVAL);
    CHECK_EQ_INT(berry_kv_seq_len(kv, s), 0);  // nothing was appended by the failed calls
    CHECK(berry_forward(S.c, &(berry_batch){.n = 3, .token = t, .seq = seq}, lg, err, sizeof err) == BERRY_OK);
    CHECK_EQ_INT(berry_kv_seq_len(kv, s), 3);
    free(lg);
    close_tiny(&S);
}
