// bench_train.c — training throughput: the f32 GEMM against the machine's float32 peak, and tokens/s of
// full fine-tuning of a ~10M llama and of LoRA rank 16 on a Qwen2.5-0.5B-shaped q8_0 model, each beside
// PyTorch (tests/ref/train_bench.py) on the same shape and thread count, run here.
#include "bench.h"
#include "machine.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/pool.h"
#include "base/rng.h"
#include "tensor/quant.h"
#include "train/gemm.h"
#include "train/tmodel.h"
#include "train/trainer.h"
#include <stdlib.h>
#include <string.h>

// Float32 peak of the pool's threads in GFLOP/s (two per multiply-add).
static double peak_gflops(berry_pool *pool) { return 2e-9 * berry_bench_peak_macs(pool, BERRY_PEAK_F32_FMA); }

// The 1-minute load average: other work running beside a benchmark lowers its figures.
static void print_load(void) {
    double load = berry_bench_load();
    if (load >= 0) printf("  load average %.1f%s\n", load, load > 0.5 ? " (other work is running: figures are low and noisy)" : "");
}

// PyTorch's tokens/s on SHAPE, or 0 when it cannot run.
static double torch_tokens_per_s(const char *shape, int threads, int steps, int T) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d /usr/bin/python3 tests/ref/train_bench.py %s %d %d %d 2>/dev/null",
             threads, threads, shape, threads, steps, T);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    double v = 0;
    char line[256];
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "tokens_per_s %lf", &v) == 1) break;
    pclose(p);
    return v;
}

BENCH(train_gemm) {
    int nth = berry_bench_threads();
    berry_pool *pool = berry_pool_create(nth);
    double peak = peak_gflops(pool);
    printf("float32 peak (%d threads, FMA): %.1f GFLOP/s\n", nth, peak);
    // The products of one llama10m layer's FFN at 2048 tokens: forward, dX, dW.
    int M = 2048, N = 864, K = 320;
    float *a = berry_calloc((size_t)M * 864, sizeof(float)), *b = berry_calloc((size_t)864 * 864, sizeof(float));
    float *c = berry_calloc((size_t)M * 864, sizeof(float));
    berry_rng r;
    berry_rng_seed(&r, 1, 0);
    for (size_t i = 0; i < (size_t)M * 864; i++) a[i] = berry_rng_normal(&r);
    for (size_t i = 0; i < (size_t)864 * 864; i++) b[i] = berry_rng_normal(&r);
    const char *what[3] = {"Y = X.W^T  (2048x864x320)", "dX = dY.W  (2048x320x864)", "dW += dY^T.X (864x320x2048)"};
    int dims[3][3] = {{M, N, K}, {M, K, N}, {N, K, M}};
    bool tr[3][2] = {{false, true}, {false, false}, {true, false}};
    for (int s = 0; s < 3; s++) {
        int m = dims[s][0], n = dims[s][1], k = dims[s][2];
        berry_gemm(pool, tr[s][0], tr[s][1], m, n, k, a, tr[s][0] ? m : k, b, tr[s][1] ? k : n, false, c, n);
        int reps = 10;
        double t = berry_now();
        for (int i = 0; i < reps; i++)
            berry_gemm(pool, tr[s][0], tr[s][1], m, n, k, a, tr[s][0] ? m : k, b, tr[s][1] ? k : n, s == 2, c, n);
        t = (berry_now() - t) / reps;
        double gf = 2.0 * m * n * k / t * 1e-9;
        printf("  %-30s %7.1f GFLOP/s  %4.0f%% of peak\n", what[s], gf, 100 * gf / peak);
    }
    berry_free(a); berry_free(b); berry_free(c);
    berry_pool_free(pool);
}

// Matmul flops of a training step over NTOK tokens of context T: 6 per weight per token (forward, dX,
// dW; 4 for frozen weights, which get no dW), plus attention (causal: QK and PV forward, 2x backward).
static double step_flops(const berry_hparams *hp, double n_matmul_w, bool frozen, int T, double ntok) {
    double per_w = frozen ? 4.0 : 6.0;
    double att = 6.0 * hp->n_layer * (double)T * hp->n_head * hp->head_dim;
    return ntok * (per_w * n_matmul_w + att);
}

static void report(const char *label, double tps, double flops_per_tok, double peak, double torch_tps) {
    double gf = tps * flops_per_tok * 1e-9;
    printf("  berry   %-22s %8.1f tokens/s  %6.1f GFLOP/s  %4.0f%% of peak\n", label, tps, gf, 100 * gf / peak);
    if (torch_tps > 0)
        printf("  PyTorch %-22s %8.1f tokens/s  (berry / PyTorch = %.2fx)\n", label, torch_tps, tps / torch_tps);
    else
        printf("  PyTorch %-22s unavailable (/usr/bin/python3 with torch)\n", label);
}

BENCH(train_llama10m_full) {
    int nth = berry_bench_threads();
    berry_pool *pool = berry_pool_create(nth);
    double peak = peak_gflops(pool);
    berry_hparams hp = {.arch = BERRY_ARCH_LLAMA, .n_vocab = 2048, .n_embd = 320, .n_layer = 6, .n_head = 5,
                        .n_head_kv = 5, .head_dim = 64, .n_ff = 864, .n_ctx_train = 256, .norm_eps = 1e-6f,
                        .rope_theta = 10000.0f, .rope_freq_scale = 1.0f};
    enum { B = 8, T = 256 };
    berry_tmodel_opts o = {.max_tokens = B * T};
    char err[256];
    berry_tmodel *m = berry_tmodel_new(&hp, &o, pool, err, sizeof err);
    if (!m) { printf("  %s\n", err); return; }
    berry_tmodel_init_random(m, 1, 0.02f);
    int32_t *tok = malloc(sizeof(int32_t) * B * T), *tgt = malloc(sizeof(int32_t) * B * T);
    float *w = malloc(sizeof(float) * B * T);
    berry_rng r;
    berry_rng_seed(&r, 2, 0);
    for (int i = 0; i < B * T; i++) { tok[i] = (int32_t)berry_rng_below(&r, 2048); tgt[i] = (int32_t)berry_rng_below(&r, 2048); w[i] = 1; }
    berry_tbatch b = {.n_seq = B, .n_ctx = T, .tokens = tok, .targets = tgt};
    berry_trainer tr;
    berry_trainer_opts to = {.lr = 1e-4f, .lr_min = 1e-4f, .accum = 1, .adam = {0.9, 0.999, 1e-8, 0.01}};
    berry_trainer_init(&tr, m, &to, err, sizeof err);
    int steps = 3;
    double loss, t = 0;
    for (int s = 0; s <= steps; s++) {
        if (s == 1) t = berry_now();
        berry_trainer_sft(&tr, &b, w, &loss, err, sizeof err);
        berry_trainer_step(&tr, NULL, NULL);
    }
    double tps = steps * B * T / (berry_now() - t);
    int64_t np = berry_tmodel_n_trainable(m);
    double nw = (double)hp.n_layer * (4.0 * 320 * 320 + 3.0 * 320 * 864) + 2048.0 * 320;  // + output head
    printf("llama %.2fM parameters, batch %d x %d, %d threads, %d timed steps after 1 warm-up, float32 peak %.1f GFLOP/s\n",
           np / 1e6, B, T, nth, steps, peak);
    print_load();
    double torch_tps = torch_tokens_per_s("llama10m", nth, 2, T);
    report("full fine-tuning", tps, step_flops(&hp, nw, false, T, 1), peak, torch_tps);
    berry_trainer_free(&tr);
    berry_tmodel_free(m);
    free(tok); free(tgt); free(w);
    berry_pool_free(pool);
}

BENCH(train_qwen05b_lora16_q8_0) {
    int nth = berry_bench_threads();
    berry_pool *pool = berry_pool_create(nth);
    double peak = peak_gflops(pool);
    berry_hparams hp = {.arch = BERRY_ARCH_QWEN2, .n_vocab = 151936, .n_embd = 896, .n_layer = 24, .n_head = 14,
                        .n_head_kv = 2, .head_dim = 64, .n_ff = 4864, .n_ctx_train = 32768, .norm_eps = 1e-6f,
                        .rope_theta = 1000000.0f, .rope_freq_scale = 1.0f, .qkv_bias = true, .tied_output = true};
    enum { B = 1, T = 128 };
    berry_tmodel_opts o = {.lora_rank = 16, .lora_alpha = 32, .max_tokens = B * T, .seed = 3};
    char err[256];
    berry_tmodel *m = berry_tmodel_new(&hp, &o, pool, err, sizeof err);
    if (!m) { printf("  %s\n", err); return; }
    berry_tmodel_init_random(m, 1, 0.02f);
    // One random q8_0 matrix per distinct shape, shared by every layer (speed does not depend on values).
    typedef struct { int64_t rows, cols; void *q; } qm;
    qm mats[8];
    int nm = 0;
    berry_rng r;
    berry_rng_seed(&r, 7, 0);
    for (int i = 0; i < berry_tmodel_n_params(m); i++) {
        berry_tparam *p = berry_tmodel_param(m, i);
        if (p->trainable || p->rows == 1) continue;
        int k;
        for (k = 0; k < nm; k++)
            if (mats[k].rows == p->rows && mats[k].cols == p->cols) break;
        if (k == nm) {
            size_t n = (size_t)(p->rows * p->cols);
            float *f = malloc(n * sizeof(float));
            for (size_t j = 0; j < n; j++) f[j] = 0.02f * (float)(berry_rng_uniform(&r) * 2 - 1);
            mats[nm] = (qm){p->rows, p->cols, malloc(berry_row_size(BERRY_TYPE_Q8_0, p->cols) * (size_t)p->rows)};
            berry_quantize(BERRY_TYPE_Q8_0, f, mats[nm].q, (int64_t)n);
            free(f);
            nm++;
        }
        berry_tmodel_set_frozen(m, p->name, BERRY_TYPE_Q8_0, mats[k].q, err, sizeof err);
    }
    int32_t tok[B * T], tgt[B * T];
    float w[B * T];
    for (int i = 0; i < B * T; i++) { tok[i] = (int32_t)berry_rng_below(&r, 151936); tgt[i] = (int32_t)berry_rng_below(&r, 151936); w[i] = 1; }
    berry_tbatch b = {.n_seq = B, .n_ctx = T, .tokens = tok, .targets = tgt};
    berry_trainer tr;
    berry_trainer_opts to = {.lr = 1e-4f, .lr_min = 1e-4f, .accum = 1, .adam = {0.9, 0.999, 1e-8, 0.01}};
    berry_trainer_init(&tr, m, &to, err, sizeof err);
    int steps = 1;
    double loss, t = 0;
    for (int s = 0; s <= steps; s++) {
        if (s == 1) t = berry_now();
        berry_trainer_sft(&tr, &b, w, &loss, err, sizeof err);
        berry_trainer_step(&tr, NULL, NULL);
    }
    double tps = steps * B * T / (berry_now() - t);
    double nw = 24.0 * (2.0 * 896 * 896 + 2.0 * 128 * 896 + 3.0 * 896 * 4864) + 151936.0 * 896;
    printf("qwen2.5-0.5b shapes, q8_0 base, LoRA rank 16 (%.2fM trainable), batch %d x %d (shortened from 256 to keep\n"
           "the run to minutes), %d threads, %d timed step after 1 warm-up, peak %.1f GFLOP/s\n",
           berry_tmodel_n_trainable(m) / 1e6, B, T, nth, steps, peak);
    print_load();
    printf("  (PyTorch runs the same shapes with a float32 base: it has no q8_0 matrices)\n");
    double torch_tps = torch_tokens_per_s("qwen05b-lora16", nth, 1, T);
    report("LoRA r16", tps, step_flops(&hp, nw, true, T, 1), peak, torch_tps);
    berry_trainer_free(&tr);
    berry_tmodel_free(m);
    for (int k = 0; k < nm; k++) free(mats[k].q);
    berry_pool_free(pool);
}
