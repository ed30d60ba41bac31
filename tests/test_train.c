// Tests of the training engine against PyTorch: gradients of tiny random llama / qwen2 / gemma2 models
// (full and LoRA), AdamW steps and the DPO loss, all from tests/ref/train_ref.py (float64 PyTorch),
// stored in tests/data/train_*.bin. Berry computes in float32, so the only difference allowed is
// float32 rounding: max |berry - torch64| / max |torch64| per tensor within 4x the same error of a
// float32 PyTorch run (the script records it), and never above 1e-5 when that is smaller.
#include "test.h"
#include "base/alloc.h"
#include "base/pool.h"
#include "base/rng.h"
#include "train/adamw.h"
#include "train/gemm.h"
#include "train/loss.h"
#include "train/tmodel.h"
#include <stdint.h>
#include <stdlib.h>

// ---- fixtures: "BTRF", u32 version, u32 count, records (u32 name length, name, u64 n, f32[n]) ----

typedef struct { char name[128]; uint64_t n; float *v; } rec;
typedef struct { int n; rec r[256]; } fixture;

static void fixture_free(fixture *f) {
    for (int i = 0; i < f->n; i++) free(f->r[i].v);
    f->n = 0;
}

static int fixture_load(fixture *f, const char *rel) {
    f->n = 0;
    FILE *fp = fopen(berry_test_path(rel), "rb");
    if (!fp) return 0;
    char magic[4];
    uint32_t ver, cnt;
    int ok = fread(magic, 1, 4, fp) == 4 && !memcmp(magic, "BTRF", 4) && fread(&ver, 4, 1, fp) == 1 &&
             fread(&cnt, 4, 1, fp) == 1 && ver == 1 && cnt <= 256;
    for (uint32_t i = 0; ok && i < cnt; i++) {
        rec *r = &f->r[f->n];
        uint32_t nl;
        ok = fread(&nl, 4, 1, fp) == 1 && nl < sizeof r->name && fread(r->name, 1, nl, fp) == nl;
        if (!ok) break;
        r->name[nl] = 0;
        ok = fread(&r->n, 8, 1, fp) == 1 && r->n < (1u << 24);
        if (!ok) break;
        r->v = malloc(r->n * sizeof(float) + 1);
        ok = r->v && fread(r->v, sizeof(float), r->n, fp) == r->n;
        if (r->v) f->n++;
    }
    fclose(fp);
    if (!ok) fixture_free(f);
    return ok;
}

static const rec *fx(const fixture *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->r[i].name, name)) return &f->r[i];
    return NULL;
}

// max |a - b| / max |b|
static double rel_err(const float *a, const float *b, size_t n) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md || d != d) md = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return mb > 0 ? md / mb : md;
}

// ---- gemm ----------------------------------------------------------------------------------------

// A 2x3 . 3x2 product written out by hand, then every transpose combination at awkward sizes against
// the plain triple loop, on one and two threads.
TEST(train_gemm_products) {
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12}, c[4];
    berry_gemm(NULL, false, false, 2, 2, 3, a, 3, b, 2, false, c, 2);
    // [1 2 3; 4 5 6] . [7 8; 9 10; 11 12] = [58 64; 139 154]
    CHECK(c[0] == 58 && c[1] == 64 && c[2] == 139 && c[3] == 154);
    berry_pool *pool = berry_pool_create(2);
    berry_rng r;
    berry_rng_seed(&r, 5, 0);
    int shapes[][3] = {{7, 33, 300}, {1, 1, 1}, {13, 5, 17}, {150, 40, 520}, {6, 16, 256}, {64, 2100, 9}};
    for (int s = 0; s < 6; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
        for (int i = 0; i < M * K; i++) A[i] = berry_rng_normal(&r);
        for (int i = 0; i < K * N; i++) B[i] = berry_rng_normal(&r);
        for (int t = 0; t < 8; t++) {
            bool ta = t & 1, tb = t & 2, acc = t & 4;
            for (int i = 0; i < M * N; i++) C1[i] = C2[i] = (float)i * 0.01f;
            berry_gemm(t % 2 ? pool : NULL, ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, acc, C1, N);
            berry_gemm_ref(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, acc, C2, N);
            double e = rel_err(C1, C2, (size_t)M * N);
            CHECKF(e < 1e-5, "gemm %dx%dx%d ta %d tb %d acc %d: rel err %g", M, N, K, ta, tb, acc, e);
        }
        free(A); free(B); free(C1); free(C2);
    }
    berry_pool_free(pool);
}

// ---- gradient parity -----------------------------------------------------------------------------

static void hparams_from(const float *c, berry_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    hp->arch = (berry_arch)(int)c[0];
    hp->n_vocab = (int)c[1]; hp->n_embd = (int)c[2]; hp->n_layer = (int)c[3]; hp->n_head = (int)c[4];
    hp->n_head_kv = (int)c[5]; hp->head_dim = (int)c[6]; hp->n_ff = (int)c[7];
    hp->norm_eps = c[8]; hp->rope_theta = c[9]; hp->attn_scale = c[10]; hp->attn_softcap = c[11];
    hp->final_softcap = c[12]; hp->sliding_window = (int)c[13];
    hp->n_ctx_train = 4096;
    hp->rope_freq_scale = 1.0f;
    hp->qkv_bias = hp->arch == BERRY_ARCH_QWEN2;
    if (hp->arch == BERRY_ARCH_GEMMA2) {
        hp->swa_pattern = 2;
        hp->embd_scale = hp->gelu = hp->post_norms = hp->tied_output = true;
    }
}

// Loads FILE, runs forward + backward of sum(coef * logp), and compares log-probabilities and every
// trainable gradient with PyTorch's. RECOMPUTE selects activation recomputation.
static void grad_parity(const char *file, bool recompute, int n_threads) {
    fixture f;
    if (!fixture_load(&f, file)) SKIP("fixture missing: run /usr/bin/python3 tests/ref/train_ref.py");
    const rec *cfg = fx(&f, "config"), *tok = fx(&f, "tokens"), *tgt = fx(&f, "targets"), *seg = fx(&f, "seg"),
              *coef = fx(&f, "coef"), *logp_ref = fx(&f, "logp");
    CHECK(cfg && tok && tgt && seg && coef && logp_ref);
    berry_hparams hp;
    hparams_from(cfg->v, &hp);
    int B = (int)cfg->v[14], T = (int)cfg->v[15], rank = (int)cfg->v[16], n = B * T;
    berry_tmodel_opts o = {.lora_rank = rank, .lora_alpha = cfg->v[17], .recompute = recompute, .max_tokens = n + 3};
    berry_pool *pool = n_threads > 1 ? berry_pool_create(n_threads) : NULL;
    char err[256];
    berry_tmodel *m = berry_tmodel_new(&hp, &o, pool, err, sizeof err);
    CHECKF(m, "%s", err);
    for (int i = 0; i < berry_tmodel_n_params(m); i++) {
        berry_tparam *p = berry_tmodel_param(m, i);
        const rec *r = fx(&f, p->name);
        CHECKF(r && r->n == (uint64_t)(p->rows * p->cols), "fixture lacks %s", p->name);
        memcpy(p->w, r->v, r->n * sizeof(float));
    }
    const rec *div = fx(&f, "rope_freqs.weight");
    if (div) berry_tmodel_set_rope_freqs(m, div->v);
    int32_t *tokens = malloc(sizeof(int32_t) * n), *targets = malloc(sizeof(int32_t) * n), *segs = malloc(sizeof(int32_t) * n);
    for (int i = 0; i < n; i++) { tokens[i] = (int32_t)tok->v[i]; targets[i] = (int32_t)tgt->v[i]; segs[i] = (int32_t)seg->v[i]; }
    berry_tbatch b = {.n_seq = B, .n_ctx = T, .tokens = tokens, .targets = targets, .seg = segs};
    float *logp = malloc(sizeof(float) * n);
    // Twice: the second pass checks that gradients accumulate (2x) and that state does not leak.
    for (int pass = 1; pass <= 2; pass++) {
        CHECKF(berry_tmodel_forward(m, &b, logp, err, sizeof err) == BERRY_OK, "%s", err);
        double e = rel_err(logp, logp_ref->v, (size_t)n);
        CHECKF(e < fmax(2e-6, 4 * fx(&f, "f32err:logp")->v[0]), "%s: log-probabilities differ from PyTorch's: rel err %g", file, e);
        CHECKF(berry_tmodel_backward(m, &b, coef->v, err, sizeof err) == BERRY_OK, "%s", err);
    }
    double worst = 0;
    int n_checked = 0;
    for (int i = 0; i < berry_tmodel_n_params(m); i++) {
        berry_tparam *p = berry_tmodel_param(m, i);
        char gname[160];
        snprintf(gname, sizeof gname, "grad:%s", p->name);
        const rec *g = fx(&f, gname);
        if (!p->trainable) { CHECKF(!g && !p->g, "%s should be frozen", p->name); continue; }
        CHECKF(g && g->n == (uint64_t)(p->rows * p->cols), "no reference gradient for %s", p->name);
        for (uint64_t k = 0; k < g->n; k++) p->g[k] *= 0.5f;
        double e = rel_err(p->g, g->v, g->n);
        // The allowance: 4x what float32 rounding does to PyTorch's own gradient of this tensor (the
        // script measures it), and never less than 1e-5.
        snprintf(gname, sizeof gname, "f32err:%s", p->name);
        const rec *fe = fx(&f, gname);
        CHECK(fe);
        double tol = fmax(1e-5, 4 * fe->v[0]);
        if (getenv("BERRY_TRAIN_VERBOSE")) fprintf(stderr, "      %-40s %.2e (torch f32 %.2e)\n", p->name, e, fe->v[0]);
        CHECKF(e < tol, "%s: gradient of %s differs from PyTorch's: rel err %g (float32 PyTorch: %g)", file, p->name, e, fe->v[0]);
        if (e > worst) worst = e;
        n_checked++;
    }
    CHECK(n_checked >= 9);
    fprintf(stderr, "    %s%s: %d gradients, worst rel err %.2e\n", file, recompute ? " (recompute)" : "", n_checked, worst);
    free(tokens); free(targets); free(segs); free(logp);
    berry_tmodel_free(m);
    berry_pool_free(pool);
    fixture_free(&f);
}

TEST(train_grad_llama) { grad_parity("tests/data/train_llama.bin", false, 1); }
TEST(train_grad_qwen2) { grad_parity("tests/data/train_qwen2.bin", false, 2); }
TEST(train_grad_gemma2) { grad_parity("tests/data/train_gemma2.bin", false, 2); }
TEST(train_grad_llama_lora) { grad_parity("tests/data/train_llama_lora.bin", false, 2); }
TEST(train_grad_qwen2_lora) { grad_parity("tests/data/train_qwen2_lora.bin", false, 1); }
TEST(train_grad_gemma2_lora) { grad_parity("tests/data/train_gemma2_lora.bin", false, 2); }
TEST(train_grad_recompute) {
    grad_parity("tests/data/train_gemma2.bin", true, 2);
    grad_parity("tests/data/train_llama_lora.bin", true, 1);
}

// ---- optimizer and losses ------------------------------------------------------------------------

// Three steps of torch.optim.AdamW(lr varying, betas (0.9, 0.95), eps 1e-8, weight_decay 0.1), float32.
TEST(train_adamw_matches_torch) {
    fixture f;
    if (!fixture_load(&f, "tests/data/train_adamw.bin")) SKIP("fixture missing: run tests/ref/train_ref.py");
    const rec *p0 = fx(&f, "p0");
    CHECK(p0 && p0->n == 37);
    float w[37], g[37];
    memcpy(w, p0->v, sizeof w);
    berry_adamw a;
    berry_adamw_opts o = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    CHECK(berry_adamw_init(&a, &o, 37) == BERRY_OK);
    for (int s = 0; s < 3; s++) {
        char nm[16];
        snprintf(nm, sizeof nm, "grad%d", s);
        memcpy(g, fx(&f, nm)->v, sizeof g);
        snprintf(nm, sizeof nm, "lr%d", s);
        float lr = fx(&f, nm)->v[0];
        berry_adamw_tensor t = {w, g, 37, true};
        berry_adamw_step(&a, &t, 1, lr);
        snprintf(nm, sizeof nm, "p%d", s + 1);
        const rec *want = fx(&f, nm);
        for (int i = 0; i < 37; i++) CHECKF(fabsf(w[i] - want->v[i]) <= 2e-7f * (1 + fabsf(want->v[i])), "step %d value %d: %.9g vs torch %.9g", s + 1, i, w[i], want->v[i]);
    }
    berry_adamw_free(&a);
    fixture_free(&f);
}

TEST(train_dpo_matches_torch) {
    fixture f;
    if (!fixture_load(&f, "tests/data/train_dpo.bin")) SKIP("fixture missing: run tests/ref/train_ref.py");
    const rec *shape = fx(&f, "shape");
    int np = (int)shape->v[0], T = (int)shape->v[1];
    float beta = shape->v[2];
    float d[64];
    CHECK(np * 2 * T <= 64);
    double acc;
    double loss = berry_loss_dpo(np, T, fx(&f, "logp")->v, fx(&f, "ref")->v, fx(&f, "mask")->v, beta, d, &acc);
    CHECK_NEAR(loss, fx(&f, "loss")->v[0], 1e-6);
    CHECK(rel_err(d, fx(&f, "dlogp")->v, (size_t)np * 2 * T) < 1e-6);
    CHECK(acc >= 0 && acc <= 1);
    fixture_free(&f);
}

// Hand calculation: weights (0, 1, 3) on logp (-1, -2, -0.5): loss = (2 + 1.5) / 4 = 0.875,
// dlogp = (0, -0.25, -0.75).
TEST(train_sft_loss_by_hand) {
    float lp[3] = {-1, -2, -0.5f}, w[3] = {0, 1, 3}, d[3];
    CHECK_NEAR(berry_loss_sft(3, lp, w, d), 0.875, 1e-12);
    CHECK_NEAR(d[0], 0, 0); CHECK_NEAR(d[1], -0.25, 1e-7); CHECK_NEAR(d[2], -0.75, 1e-7);
    float z[3] = {0, 0, 0};
    CHECK_NEAR(berry_loss_sft(3, lp, z, d), 0, 0);
}

// Warm-up 10 steps to 1e-3, cosine to 1e-4 at step 110: values at the ends and the middle by hand.
TEST(train_lr_schedule_by_hand) {
    CHECK_NEAR(berry_lr_schedule(0, 10, 110, 1e-3f, 1e-4f), 1e-4, 1e-10);
    CHECK_NEAR(berry_lr_schedule(9, 10, 110, 1e-3f, 1e-4f), 1e-3, 1e-10);
    CHECK_NEAR(berry_lr_schedule(60, 10, 110, 1e-3f, 1e-4f), 5.5e-4, 1e-9);  // cos(pi/2) = 0: the midpoint
    CHECK_NEAR(berry_lr_schedule(110, 10, 110, 1e-3f, 1e-4f), 1e-4, 1e-10);
    CHECK_NEAR(berry_lr_schedule(500, 10, 110, 1e-3f, 1e-4f), 1e-4, 1e-10);
}

// Clipping a gradient (3, 4) of norm 5 to norm 1 gives (0.6, 0.8).
TEST(train_grad_clip_by_hand) {
    float w[2] = {0, 0}, g[2] = {3, 4};
    berry_adamw_tensor t = {w, g, 2, false};
    CHECK_NEAR(berry_grad_clip(&t, 1, 1.0), 5.0, 1e-12);
    CHECK_NEAR(g[0], 0.6, 1e-6);
    CHECK_NEAR(g[1], 0.8, 1e-6);
}

// ---- learning ------------------------------------------------------------------------------------

#include "tensor/quant.h"
#include "train/trainer.h"

static berry_hparams tiny_llama(void) {
    berry_hparams hp = {.arch = BERRY_ARCH_LLAMA, .n_vocab = 32, .n_embd = 32, .n_layer = 2, .n_head = 4,
                        .n_head_kv = 2, .head_dim = 8, .n_ff = 64, .n_ctx_train = 256, .norm_eps = 1e-5f,
                        .rope_theta = 10000.0f, .rope_freq_scale = 1.0f};
    return hp;
}

// 4 random sequences of 16 tokens, next-token targets, every target weighted 1.
static void tiny_data(int32_t *tok, int32_t *tgt, float *w, int B, int T, int V, uint64_t seed) {
    berry_rng r;
    berry_rng_seed(&r, seed, 0);
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)berry_rng_below(&r, (uint64_t)V);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            tgt[i] = t + 1 < T ? tok[i + 1] : -1;
            w[i] = tgt[i] >= 0 ? 1.0f : 0.0f;
        }
}

// Full fine-tuning of a tiny llama memorizes 4 random sequences (loss < 0.05) within 300 steps.
TEST(train_memorizes_small_dataset) {
    berry_hparams hp = tiny_llama();
    enum { B = 4, T = 16 };
    berry_tmodel_opts o = {.max_tokens = B * T};
    char err[256];
    berry_tmodel *m = berry_tmodel_new(&hp, &o, NULL, err, sizeof err);
    CHECKF(m, "%s", err);
    berry_tmodel_init_random(m, 1, 0.05f);
    int32_t tok[B * T], tgt[B * T];
    float w[B * T];
    tiny_data(tok, tgt, w, B, T, hp.n_vocab, 3);
    berry_tbatch b = {.n_seq = B, .n_ctx = T, .tokens = tok, .targets = tgt};
    berry_trainer tr;
    berry_trainer_opts to = {.lr = 1e-2f, .lr_min = 1e-3f, .warmup = 10, .total = 300, .clip = 1.0, .accum = 1,
                             .adam = {.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.0}};
    CHECK(berry_trainer_init(&tr, m, &to, err, sizeof err) == BERRY_OK);
    double loss = 99, first = 0;
    int step;
    for (step = 0; step < 300 && loss >= 0.05; step++) {
        CHECKF(berry_trainer_sft(&tr, &b, w, &loss, err, sizeof err) == BERRY_OK, "%s", err);
        if (step == 0) first = loss;
        berry_trainer_step(&tr, NULL, NULL);
    }
    fprintf(stderr, "    loss %.3f -> %.4f in %d steps\n", first, loss, step);
    CHECK(first > 3.0);  // ln 32 = 3.47 for a fresh model
    CHECKF(loss < 0.05, "loss still %g after %d steps", loss, step);
    berry_trainer_free(&tr);
    berry_tmodel_free(m);
}

// LoRA (rank 4, every projection) on a frozen base whose matrices are q8_0 lowers the loss, and the
// base stays as it was.
TEST(train_lora_on_q8_0_base_lowers_loss) {
    berry_hparams hp = tiny_llama();
    enum { B = 4, T = 16 };
    char err[256];
    berry_tmodel_opts full = {.max_tokens = B * T};
    berry_tmodel *base = berry_tmodel_new(&hp, &full, NULL, err, sizeof err);
    CHECKF(base, "%s", err);
    berry_tmodel_init_random(base, 9, 0.1f);
    berry_tmodel_opts lo = {.lora_rank = 4, .lora_alpha = 8, .max_tokens = B * T, .seed = 4, .lora_dropout = 0.05f};
    berry_tmodel *m = berry_tmodel_new(&hp, &lo, NULL, err, sizeof err);
    CHECKF(m, "%s", err);
    berry_tmodel_init_random(m, 5, 0.1f);  // the adapters (A random, B zero)
    void *q[64];
    int nq = 0;
    for (int i = 0; i < berry_tmodel_n_params(base); i++) {
        berry_tparam *p = berry_tmodel_param(base, i), *d = berry_tmodel_find(m, p->name);
        CHECK(d && !d->trainable);
        if (p->rows == 1) { memcpy(d->w, p->w, (size_t)p->cols * sizeof(float)); continue; }
        size_t bytes = berry_row_size(BERRY_TYPE_Q8_0, p->cols) * (size_t)p->rows;
        q[nq] = malloc(bytes);
        CHECK(berry_quantize(BERRY_TYPE_Q8_0, p->w, q[nq], p->rows * p->cols) == bytes);
        CHECK(berry_tmodel_set_frozen(m, p->name, BERRY_TYPE_Q8_0, q[nq], err, sizeof err) == BERRY_OK);
        nq++;
    }
    int32_t tok[B * T], tgt[B * T];
    float w[B * T];
    tiny_data(tok, tgt, w, B, T, hp.n_vocab, 8);
    berry_tbatch b = {.n_seq = B, .n_ctx = T, .tokens = tok, .targets = tgt};
    berry_trainer tr;
    berry_trainer_opts to = {.lr = 1e-2f, .lr_min = 1e-2f, .clip = 1.0, .accum = 2,
                             .adam = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01}};
    CHECK(berry_trainer_init(&tr, m, &to, err, sizeof err) == BERRY_OK);
    CHECK(tr.adam.n == (size_t)berry_tmodel_n_trainable(m));
    double loss = 0, first = 0;
    for (int step = 0; step < 40; step++) {
        for (int k = 0; k < 2; k++) CHECKF(berry_trainer_sft(&tr, &b, w, &loss, err, sizeof err) == BERRY_OK, "%s", err);
        if (step == 0) first = loss;
        berry_trainer_step(&tr, NULL, NULL);
    }
    fprintf(stderr, "    LoRA on q8_0: loss %.3f -> %.3f\n", first, loss);
    CHECKF(loss < first - 0.5, "loss %g -> %g", first, loss);
    berry_trainer_free(&tr);
    berry_tmodel_free(m);
    berry_tmodel_free(base);
    for (int i = 0; i < nq; i++) free(q[i]);
}

// A token outside the vocabulary, a batch over capacity: errors that say where, no crash.
TEST(train_rejects_bad_batches) {
    berry_hparams hp = tiny_llama();
    berry_tmodel_opts o = {.max_tokens = 8};
    char err[256];
    berry_tmodel *m = berry_tmodel_new(&hp, &o, NULL, err, sizeof err);
    CHECK(m);
    int32_t tok[8] = {1, 2, 3, 99, 4, 5, 6, 7}, tgt[8] = {2, 3, 4, 5, 6, 7, 8, -1};
    float lp[8];
    berry_tbatch b = {.n_seq = 2, .n_ctx = 4, .tokens = tok, .targets = tgt};
    CHECK(berry_tmodel_forward(m, &b, lp, err, sizeof err) == BERRY_EINVAL);
    CHECK(strstr(err, "row 0 position 3") && strstr(err, "99"));
    tok[3] = 4;
    tgt[1] = -7;
    CHECK(berry_tmodel_forward(m, &b, lp, err, sizeof err) == BERRY_EINVAL);
    tgt[1] = 3;
    b.n_ctx = 5;
    CHECK(berry_tmodel_forward(m, &b, lp, err, sizeof err) == BERRY_EINVAL);
    CHECK(strstr(err, "capacity"));
    berry_tmodel_opts bad = {.lora_rank = -1, .max_tokens = 8};
    CHECK(!berry_tmodel_new(&hp, &bad, NULL, err, sizeof err));
    berry_tmodel_free(m);
}

// ---- checkpoints ---------------------------------------------------------------------------------

#include "model/gguf.h"
#include "train/checkpoint.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    berry_tmodel *m;
    berry_trainer tr;
    berry_ckpt_extra x;
    int32_t tok[3][4 * 16], tgt[3][4 * 16];
    float w[3][4 * 16];
} run_state;

// A LoRA run with dropout (so that the forward count matters) whose data loader draws one of three
// batches per step from its RNG stream.
static int run_open(run_state *s) {
    berry_hparams hp = tiny_llama();
    berry_tmodel_opts lo = {.lora_rank = 4, .lora_alpha = 8, .lora_dropout = 0.1f, .max_tokens = 64, .seed = 2};
    char err[256];
    s->m = berry_tmodel_new(&hp, &lo, NULL, err, sizeof err);
    if (!s->m) return 0;
    berry_tmodel_init_random(s->m, 3, 0.1f);
    for (int k = 0; k < 3; k++) tiny_data(s->tok[k], s->tgt[k], s->w[k], 4, 16, hp.n_vocab, 20 + k);
    berry_trainer_opts to = {.lr = 5e-3f, .lr_min = 1e-3f, .warmup = 3, .total = 40, .clip = 1.0, .accum = 1,
                             .adam = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01}};
    memset(&s->x, 0, sizeof s->x);
    berry_rng_seed(&s->x.rng, 77, 1);
    return berry_trainer_init(&s->tr, s->m, &to, err, sizeof err) == BERRY_OK;
}

static void run_close(run_state *s) {
    berry_trainer_free(&s->tr);
    berry_tmodel_free(s->m);
}

static double run_step(run_state *s) {
    int k = (int)berry_rng_below(&s->x.rng, 3);
    berry_tbatch b = {.n_seq = 4, .n_ctx = 16, .tokens = s->tok[k], .targets = s->tgt[k]};
    double loss = -1;
    char err[256];
    if (berry_trainer_sft(&s->tr, &b, s->w[k], &loss, err, sizeof err) != BERRY_OK) return -1;
    berry_trainer_step(&s->tr, NULL, NULL);
    s->x.data_pos++;
    return loss;
}

// A child process trains and checkpoints after every step; it is killed with SIGKILL at an arbitrary
// moment. The checkpoint left behind is complete, and resuming from it gives exactly the losses of an
// uninterrupted run.
TEST(train_checkpoint_resume_after_kill) {
    enum { N_REF = 40, CHILD_MAX = 30 };
    double ref[N_REF];
    static run_state s;  // large: keep it off the stack
    CHECK(run_open(&s));
    for (int i = 0; i < N_REF; i++) ref[i] = run_step(&s);
    run_close(&s);
    char path[1024];
    snprintf(path, sizeof path, "%s/run.ckpt.gguf", berry_test_tmpdir());
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        run_state c;
        if (!run_open(&c)) _exit(2);
        for (int i = 0; i < CHILD_MAX; i++) {
            run_step(&c);
            if (berry_checkpoint_save(path, &c.tr, &c.x, NULL, 0) != BERRY_OK) _exit(3);
        }
        _exit(0);
    }
    // Wait for a first checkpoint, then a little more, then kill.
    for (int i = 0; i < 2000 && access(path, F_OK) != 0; i++) usleep(1000);
    usleep(15000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECKF(!WIFEXITED(status) || WEXITSTATUS(status) == 0, "child failed with %d", WEXITSTATUS(status));
    CHECK(run_open(&s));
    char err[256];
    CHECKF(berry_checkpoint_load(path, &s.tr, &s.x, err, sizeof err) == BERRY_OK, "%s", err);
    int from = (int)s.tr.step;
    CHECK(from >= 1 && from <= CHILD_MAX && (int)s.x.data_pos == from);
    fprintf(stderr, "    killed after step %d (%s)\n", from, WIFSIGNALED(status) ? "SIGKILL" : "had finished");
    for (int i = from; i < from + 8 && i < N_REF; i++) {
        double l = run_step(&s);
        CHECKF(l == ref[i], "step %d: loss %.9g after resuming, %.9g uninterrupted", i, l, ref[i]);
    }
    run_close(&s);
}

// The adapter file: llama.cpp's keys and shapes; it loads back into a model of the same configuration,
// and a model with another rank rejects it naming a tensor.
TEST(train_lora_adapter_roundtrip) {
    static run_state s;
    CHECK(run_open(&s));
    for (int i = 0; i < 3; i++) run_step(&s);
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/adapter.gguf", berry_test_tmpdir());
    CHECKF(berry_lora_save(path, s.m, err, sizeof err) == BERRY_OK, "%s", err);
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    CHECKF(g, "%s", err);
    const char *str;
    float alpha;
    CHECK(berry_gguf_get_str(g, "general.type", &str, NULL) && !strcmp(str, "adapter"));
    CHECK(berry_gguf_get_str(g, "adapter.type", &str, NULL) && !strcmp(str, "lora"));
    CHECK(berry_gguf_get_str(g, "general.architecture", &str, NULL) && !strcmp(str, "llama"));
    CHECK(berry_gguf_get_f32(g, "adapter.lora.alpha", &alpha) && alpha == 8.0f);
    int64_t ia = berry_gguf_find_tensor(g, "blk.1.ffn_down.weight.lora_a"), ne[4];
    CHECK(ia >= 0);
    berry_gguf_tensor_shape(g, ia, ne);
    CHECK(ne[0] == 64 && ne[1] == 4);  // (in = n_ff, rank)
    int64_t ib = berry_gguf_find_tensor(g, "blk.1.ffn_down.weight.lora_b");
    berry_gguf_tensor_shape(g, ib, ne);
    CHECK(ne[0] == 4 && ne[1] == 32);  // (rank, out = n_embd)
    CHECK(berry_gguf_n_tensors(g) == 2 * 7 * 2);
    berry_gguf_close(g);
    berry_hparams hp = tiny_llama();
    berry_tmodel_opts lo = {.lora_rank = 4, .lora_alpha = 8, .max_tokens = 64};
    berry_tmodel *m2 = berry_tmodel_new(&hp, &lo, NULL, err, sizeof err);
    CHECK(berry_lora_load(path, m2, err, sizeof err) == BERRY_OK);
    berry_tparam *a = berry_tmodel_find(s.m, "blk.0.attn_q.weight.lora_b"), *b = berry_tmodel_find(m2, "blk.0.attn_q.weight.lora_b");
    CHECK(!memcmp(a->w, b->w, sizeof(float) * (size_t)(a->rows * a->cols)));
    berry_tmodel_free(m2);
    berry_tmodel_opts lo8 = {.lora_rank = 8, .lora_alpha = 8, .max_tokens = 64};
    m2 = berry_tmodel_new(&hp, &lo8, NULL, err, sizeof err);
    CHECK(berry_lora_load(path, m2, err, sizeof err) != BERRY_OK);
    CHECKF(strstr(err, "lora_a") && strstr(err, "expected"), "%s", err);
    berry_tmodel_free(m2);
    run_close(&s);
}
