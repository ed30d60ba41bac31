// Tests of LoRA adapters at inference and `berry lora merge` (model/lora.c, the adapter in
// model/forward.c). References: the training forward (train/tmodel.c), whose LoRA log-probabilities and
// gradients match PyTorch's (test_train.c); W + (alpha/r) B A recomputed here in double precision by
// three plain loops; and, for run time against merged, the two must agree to float rounding.
#include "test.h"
#include "tiny_model.h"
#include "base/alloc.h"
#include "base/rng.h"
#include "lm/lm_local.h"
#include "model/forward.h"
#include "model/gguf.h"
#include "model/lora.h"
#include "model/model.h"
#include "tensor/quant.h"
#include "tensor/types.h"
#include "train/checkpoint.h"
#include "train/tmodel.h"
#include <stdlib.h>
#include <unistd.h>

// A rank-4 adapter (alpha 8) on every projection of the model at BASE, A and B random (B is zero after
// initialization, which would hide every mistake), written by berry_lora_save to OUT.
static bool make_adapter(const char *base, const char *out, uint64_t seed, float b_std) {
    char err[256];
    berry_model *bm = berry_model_load(base, err, sizeof err);
    if (!bm) return false;
    berry_tmodel_opts o = {.lora_rank = 4, .lora_alpha = 8, .max_tokens = 64, .seed = seed};
    berry_tmodel *m = berry_tmodel_from_model(bm, &o, NULL, err, sizeof err);
    bool ok = m != NULL;
    berry_rng r;
    berry_rng_seed(&r, seed, 99);
    for (int i = 0; ok && i < berry_tmodel_n_params(m); i++) {
        berry_tparam *p = berry_tmodel_param(m, i);
        if (p->trainable && strstr(p->name, ".lora_b"))
            for (int64_t k = 0; k < p->rows * p->cols; k++) p->w[k] = b_std * berry_rng_normal(&r);
    }
    if (ok) ok = berry_lora_save(out, m, err, sizeof err) == BERRY_OK;
    if (!ok) fprintf(stderr, "    adapter: %s\n", err);
    berry_tmodel_free(m);
    berry_model_free(bm);
    return ok;
}

// Log-probabilities of TGT[i] after TOK[0..i] for one sequence, by the inference forward (LORA may be
// NULL) into LP (n).
static bool infer_logp(const berry_model *m, const berry_lora *lora, const int32_t *tok, const int32_t *tgt, int n,
                       float *lp, float *logits_out) {
    char err[256];
    berry_ctx_params cp = {.n_threads = 2, .max_batch = 64, .lora = lora};
    berry_ctx *c = berry_ctx_create(m, &cp, err, sizeof err);
    if (!c) { fprintf(stderr, "    ctx: %s\n", err); return false; }
    int V = berry_model_hparams(m)->n_vocab, seq = berry_kv_seq_new(berry_ctx_kv(c));
    int32_t sq[64];
    for (int i = 0; i < n; i++) sq[i] = seq;
    float *lg = malloc(sizeof(float) * (size_t)n * V);
    berry_batch b = {.n = n, .token = tok, .seq = sq};
    bool ok = berry_forward(c, &b, lg, err, sizeof err) == BERRY_OK;
    for (int i = 0; ok && i < n; i++) {
        const float *row = lg + (size_t)i * V;
        double mx = row[0], s = 0;
        for (int v = 0; v < V; v++) mx = row[v] > mx ? row[v] : mx;
        for (int v = 0; v < V; v++) s += exp(row[v] - mx);
        lp[i] = (float)(row[tgt[i]] - mx - log(s));
    }
    if (ok && logits_out) memcpy(logits_out, lg, sizeof(float) * (size_t)n * V);
    free(lg);
    berry_ctx_free(c);
    return ok;
}

// The adapter applied by the inference forward gives the log-probabilities of the training forward
// with the same adapter (PyTorch-checked); without it, they differ (its effect is not zero).
static void runtime_vs_training(const char *arch) {
    char base[1024], ad[1024], err[256];
    CHECK(berry_ttest_model(arch, BERRY_TYPE_F32, 0.1f, "base.gguf", base, sizeof base));
    snprintf(ad, sizeof ad, "%s/adapter.gguf", berry_test_tmpdir());
    CHECK(make_adapter(base, ad, 5, 0.2f));
    berry_model *bm = berry_model_load(base, err, sizeof err);
    CHECKF(bm, "%s", err);
    berry_lora *l = berry_lora_open(ad, bm, 1.0f, err, sizeof err);
    CHECKF(l, "%s", err);
    CHECK(berry_lora_n_pairs(l) == 7 * berry_model_hparams(bm)->n_layer);
    CHECK_NEAR(berry_lora_pair_at(l, 0)->scale, 2.0, 0);  // alpha 8 / rank 4
    enum { n = 24 };
    int32_t tok[n], tgt[n];
    const char *text = "The sum of 17 and 25 is 42.";
    for (int i = 0; i < n; i++) { tok[i] = (unsigned char)text[i]; tgt[i] = (unsigned char)text[i + 1]; }
    float lp_rt[n], lp_base[n], lp_tr[n];
    CHECK(infer_logp(bm, l, tok, tgt, n, lp_rt, NULL));
    CHECK(infer_logp(bm, NULL, tok, tgt, n, lp_base, NULL));
    // The training model with the same adapter.
    berry_tmodel_opts o = {.lora_rank = 4, .lora_alpha = 8, .max_tokens = n};
    berry_tmodel *tm = berry_tmodel_from_model(bm, &o, NULL, err, sizeof err);
    CHECKF(tm, "%s", err);
    CHECKF(berry_lora_load(ad, tm, err, sizeof err) == BERRY_OK, "%s", err);
    berry_tbatch b = {.n_seq = 1, .n_ctx = n, .tokens = tok, .targets = tgt};
    CHECKF(berry_tmodel_forward(tm, &b, lp_tr, err, sizeof err) == BERRY_OK, "%s", err);
    double worst = 0, effect = 0;
    for (int i = 0; i < n; i++) {
        worst = fmax(worst, fabs(lp_rt[i] - lp_tr[i]));
        effect = fmax(effect, fabs(lp_base[i] - lp_tr[i]));
    }
    fprintf(stderr, "    %s: |run-time - training| <= %.2e, adapter's effect %.3f nats\n", arch, worst, effect);
    CHECKF(worst < 2e-4, "%s: run-time adapter log-probabilities differ from the training forward's by %g", arch, worst);
    CHECKF(effect > 0.05, "%s: the adapter changes log-probabilities by only %g", arch, effect);
    berry_tmodel_free(tm);
    berry_lora_free(l);
    berry_model_free(bm);
}

TEST(train_lora_runtime_llama) { runtime_vs_training("llama"); }
TEST(train_lora_runtime_qwen2) { runtime_vs_training("qwen2"); }
TEST(train_lora_runtime_gemma2) { runtime_vs_training("gemma2"); }

// max over the tensor NAME of |merged - (W + scale B A)| / max |W + scale B A|, the reference in double.
static double merge_err(const char *base, const char *adapter, const char *merged, const char *name, float scale,
                        int *merged_type) {
    char err[256], an[128];
    berry_gguf *gb = berry_gguf_open(base, err, sizeof err), *ga = berry_gguf_open(adapter, err, sizeof err),
               *gm = berry_gguf_open(merged, err, sizeof err);
    double out = 1e9;
    if (!gb || !ga || !gm) goto done;
    int64_t ib = berry_gguf_find_tensor(gb, name), im = berry_gguf_find_tensor(gm, name), ne[4], nea[4];
    snprintf(an, sizeof an, "%s.lora_a", name);
    int64_t ia = berry_gguf_find_tensor(ga, an);
    snprintf(an, sizeof an, "%s.lora_b", name);
    int64_t ibb = berry_gguf_find_tensor(ga, an);
    if (ib < 0 || im < 0 || ia < 0 || ibb < 0) goto done;
    berry_gguf_tensor_shape(gb, ib, ne);
    berry_gguf_tensor_shape(ga, ia, nea);
    int64_t in = ne[0], rows = ne[1], r = nea[1];
    *merged_type = berry_gguf_tensor_type(gm, im);
    float *w = malloc(sizeof(float) * (size_t)(in * rows)), *wm = malloc(sizeof(float) * (size_t)(in * rows));
    const float *A = berry_gguf_tensor_data(ga, ia), *B = berry_gguf_tensor_data(ga, ibb);  // f32 (berry_lora_save)
    berry_dequantize((berry_type)berry_gguf_tensor_type(gb, ib), berry_gguf_tensor_data(gb, ib), w, in * rows);
    berry_dequantize((berry_type)*merged_type, berry_gguf_tensor_data(gm, im), wm, in * rows);
    double md = 0, mref = 0;
    for (int64_t o = 0; o < rows; o++)
        for (int64_t i = 0; i < in; i++) {
            double ref = w[o * in + i];
            for (int64_t k = 0; k < r; k++) ref += (double)scale * B[o * r + k] * A[k * in + i];
            md = fmax(md, fabs(wm[o * in + i] - ref));
            mref = fmax(mref, fabs(ref));
        }
    out = md / mref;
    free(w); free(wm);
done:
    berry_gguf_close(gb); berry_gguf_close(ga); berry_gguf_close(gm);
    return out;
}

// Greedy text of N tokens after PROMPT.
static char *greedy_text(const char *model, const char *lora, const char *prompt, int n) {
    char err[256];
    berry_lm_local_params p = {.model_path = model, .n_threads = 2, .n_ctx = 128, .max_batch = 64, .kv_bytes = (size_t)8 << 20,
                               .lora_path = lora};
    berry_lm *lm = berry_lm_local_open(&p, err, sizeof err);
    if (!lm) { fprintf(stderr, "    open: %s\n", err); return NULL; }
    berry_lm_request rq = {.prompt = prompt, .sampling = {.temperature = 0, .max_tokens = n}};
    berry_lm_output out;
    char *s = NULL;
    if (berry_lm_generate(lm, &rq, 1, &out, err, sizeof err) == BERRY_OK) {
        s = berry_strdup(out.text);
        berry_lm_output_clear(&out);
    }
    berry_lm_free(lm);
    return s;
}

// An f32 base: merged weights equal W + 2 B A (double reference) to float rounding; generation with the
// adapter at run time equals generation with the merged model, and differs from the base's; logits
// agree to float rounding.
TEST(train_lora_merge_equals_runtime) {
    char base[1024], ad[1024], merged[1024], err[256];
    CHECK(berry_ttest_model("llama", BERRY_TYPE_F32, 0.5f, "base.gguf", base, sizeof base));
    snprintf(ad, sizeof ad, "%s/adapter.gguf", berry_test_tmpdir());
    snprintf(merged, sizeof merged, "%s/merged.gguf", berry_test_tmpdir());
    CHECK(make_adapter(base, ad, 6, 0.5f));
    CHECKF(berry_lora_merge(base, ad, 1.0f, -1, merged, NULL, err, sizeof err) == BERRY_OK, "%s", err);
    const char *names[] = {"blk.0.attn_q.weight", "blk.1.attn_v.weight", "blk.1.ffn_down.weight", "blk.0.attn_output.weight"};
    for (int i = 0; i < 4; i++) {
        int t = -1;
        double e = merge_err(base, ad, merged, names[i], 2.0f, &t);
        CHECKF(t == BERRY_TYPE_F32 && e < 1e-6, "%s: merged type %d, rel err %g", names[i], t, e);
    }
    berry_model *mb = berry_model_load(base, err, sizeof err), *mm = berry_model_load(merged, err, sizeof err);
    CHECK(mb && mm);
    berry_lora *l = berry_lora_open(ad, mb, 1.0f, err, sizeof err);
    CHECKF(l, "%s", err);
    enum { n = 16 };
    int32_t tok[n], tgt[n];
    for (int i = 0; i < n; i++) { tok[i] = 'a' + i; tgt[i] = 'b' + i; }
    int V = berry_model_hparams(mb)->n_vocab;
    float lp[n], *l1 = malloc(sizeof(float) * n * V), *l2 = malloc(sizeof(float) * n * V), *l0 = malloc(sizeof(float) * n * V);
    CHECK(infer_logp(mb, l, tok, tgt, n, lp, l1) && infer_logp(mm, NULL, tok, tgt, n, lp, l2) &&
          infer_logp(mb, NULL, tok, tgt, n, lp, l0));
    double d = 0, d0 = 0, mx = 0;
    for (int i = 0; i < n * V; i++) { d = fmax(d, fabs(l1[i] - l2[i])); d0 = fmax(d0, fabs(l0[i] - l2[i])); mx = fmax(mx, fabs(l2[i])); }
    fprintf(stderr, "    logits: run-time vs merged max |diff| %.2e (of max %.2f); base vs merged %.3f\n", d, mx, d0);
    CHECKF(d <= 1e-5 * mx, "run-time and merged logits differ by %g", d);
    CHECKF(d0 > 0.1 * mx, "the adapter barely changes the logits (%g)", d0);
    free(l0); free(l1); free(l2);
    berry_lora_free(l);
    berry_model_free(mb);
    berry_model_free(mm);
    char *t_rt = greedy_text(base, ad, "Once upon a time", 24), *t_m = greedy_text(merged, NULL, "Once upon a time", 24),
         *t_b = greedy_text(base, NULL, "Once upon a time", 24);
    CHECK(t_rt && t_m && t_b);
    CHECKF(!strcmp(t_rt, t_m), "generation with the adapter differs from the merged model's");
    CHECKF(strcmp(t_rt, t_b), "the adapter does not change the generated text");
    free(t_rt); free(t_m); free(t_b);
}

// A q8_0 base: merged weights stay q8_0 (requantized: within half a quantization step of the double
// reference, a step d being max |block| / 127, plus 127 times the f16 rounding of d, 127 d 2^-11 <=
// max |block| / 2048) or take the type asked for.
TEST(train_lora_merge_requantizes) {
    char base[1024], ad[1024], merged[1024], err[256];
    CHECK(berry_ttest_model("qwen2", BERRY_TYPE_Q8_0, 0.1f, "base.gguf", base, sizeof base));
    snprintf(ad, sizeof ad, "%s/adapter.gguf", berry_test_tmpdir());
    snprintf(merged, sizeof merged, "%s/merged.gguf", berry_test_tmpdir());
    CHECK(make_adapter(base, ad, 7, 0.2f));
    CHECKF(berry_lora_merge(base, ad, 1.0f, -1, merged, NULL, err, sizeof err) == BERRY_OK, "%s", err);
    int t = -1;
    double e = merge_err(base, ad, merged, "blk.1.ffn_up.weight", 2.0f, &t);
    CHECK(t == BERRY_TYPE_Q8_0);
    CHECKF(e < 0.5 / 127 + 1.0 / 2048, "q8_0 merge: rel err %g", e);
    CHECKF(berry_lora_merge(base, ad, 0.5f, BERRY_TYPE_F16, merged, NULL, err, sizeof err) == BERRY_OK, "%s", err);
    e = merge_err(base, ad, merged, "blk.0.attn_k.weight", 1.0f, &t);
    CHECK(t == BERRY_TYPE_F16);
    CHECKF(e < 1e-3, "f16 merge with scale 0.5: rel err %g", e);
    // The adapter alone was dequantized from q8_0 on both sides: the unadapted tensors are copied.
    berry_gguf *g = berry_gguf_open(merged, err, sizeof err);
    CHECK(g);
    int64_t i = berry_gguf_find_tensor(g, "token_embd.weight");
    CHECK(i >= 0 && berry_gguf_tensor_type(g, i) == BERRY_TYPE_Q8_0);
    berry_gguf_close(g);
}

// Adapters that do not fit the model are refused with the tensor named; nothing is written.
TEST(train_lora_rejects_mismatched_adapters) {
    char base[1024], ad[1024], out[1024], err[512];
    CHECK(berry_ttest_model("llama", BERRY_TYPE_F32, 0.1f, "base.gguf", base, sizeof base));
    snprintf(ad, sizeof ad, "%s/bad.gguf", berry_test_tmpdir());
    snprintf(out, sizeof out, "%s/out.gguf", berry_test_tmpdir());
    berry_model *bm = berry_model_load(base, err, sizeof err);
    CHECK(bm);
    static float zeros[128 * 64];
    struct {
        const char *type, *arch, *a_name, *b_name;
        int64_t a_ne[2], b_ne[2];
        const char *expect;
    } cases[] = {
        // tiny llama: n_embd 64, q_dim 64, kv_dim 32, n_ff 128; attn_k is (32, 64) so ne {64, 32}.
        {"adapter", "llama", "blk.0.attn_k.weight.lora_a", "blk.0.attn_k.weight.lora_b", {64, 4}, {4, 64}, "blk.0.attn_k.weight.lora_b"},
        {"adapter", "llama", "blk.0.attn_k.weight.lora_a", "blk.0.attn_k.weight.lora_b", {64, 4}, {3, 32}, "blk.0.attn_k.weight.lora_b"},
        {"adapter", "llama", "blk.1.ffn_down.weight.lora_a", "blk.1.ffn_down.weight.lora_b", {64, 4}, {4, 64}, "blk.1.ffn_down.weight.lora_a"},
        {"adapter", "llama", "blk.7.attn_q.weight.lora_a", "blk.7.attn_q.weight.lora_b", {64, 4}, {4, 64}, "blk.7.attn_q.weight"},
        {"adapter", "llama", "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_x", {64, 4}, {4, 64}, "no partner 'blk.0.attn_q.weight.lora_b'"},
        {"model", "llama", "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", {64, 4}, {4, 64}, "not a LoRA adapter"},
        {"adapter", "qwen2", "blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b", {64, 4}, {4, 64}, "qwen2"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        berry_gguf_writer *w = berry_gguf_writer_new();
        berry_gguf_set_str(w, "general.architecture", cases[c].arch);
        berry_gguf_set_str(w, "general.type", cases[c].type);
        berry_gguf_set_str(w, "adapter.type", "lora");
        berry_gguf_set_f32(w, "adapter.lora.alpha", 8);
        berry_gguf_add_tensor(w, cases[c].a_name, BERRY_TYPE_F32, 2, cases[c].a_ne, zeros, sizeof(float) * (size_t)(cases[c].a_ne[0] * cases[c].a_ne[1]));
        berry_gguf_add_tensor(w, cases[c].b_name, BERRY_TYPE_F32, 2, cases[c].b_ne, zeros, sizeof(float) * (size_t)(cases[c].b_ne[0] * cases[c].b_ne[1]));
        CHECK(berry_gguf_write(w, ad, err, sizeof err) == BERRY_OK);
        berry_gguf_writer_free(w);
        err[0] = 0;
        CHECKF(!berry_lora_open(ad, bm, 1.0f, err, sizeof err), "case %zu accepted", c);
        CHECKF(strstr(err, cases[c].expect), "case %zu: \"%s\" does not name %s", c, err, cases[c].expect);
        CHECK(berry_lora_merge(base, ad, 1.0f, -1, out, NULL, err, sizeof err) != BERRY_OK);
        CHECKF(strstr(err, cases[c].expect), "merge, case %zu: \"%s\"", c, err);
        CHECK(access(out, F_OK) != 0);
    }
    // An adapter opened for another model cannot serve this one's context.
    char other[1024];
    snprintf(ad, sizeof ad, "%s/good.gguf", berry_test_tmpdir());
    CHECK(make_adapter(base, ad, 1, 0.1f));
    berry_model *bm2 = berry_model_load(berry_ttest_model("llama", BERRY_TYPE_F32, 0.1f, "other.gguf", other, sizeof other), err, sizeof err);
    CHECK(bm2);
    berry_lora *l = berry_lora_open(ad, bm2, 1.0f, err, sizeof err);
    CHECKF(l, "%s", err);
    berry_ctx_params cp = {.n_threads = 1, .lora = l};
    CHECK(!berry_ctx_create(bm, &cp, err, sizeof err) && strstr(err, "another model"));
    berry_lora_free(l);
    berry_model_free(bm2);
    berry_model_free(bm);
}

// The commands: `berry lora merge` writes the merged model, `berry generate --lora` applies the
// adapter, and both print the same greedy text; a bad adapter fails with the tensor on stderr.
TEST(train_lora_cli_merge_and_generate) {
    const char *berry = berry_ttest_berry();
    if (!berry) SKIP("build/<variant>/berry is not built (make build/asan/berry build/opt/berry)");
    char base[1024], ad[1024], merged[1024], cmd[8192], o1[1024], o2[1024], e1[1024];
    CHECK(berry_ttest_model("llama", BERRY_TYPE_F32, 0.5f, "base.gguf", base, sizeof base));
    const char *dir = berry_test_tmpdir();
    snprintf(ad, sizeof ad, "%s/adapter.gguf", dir);
    snprintf(merged, sizeof merged, "%s/merged.gguf", dir);
    snprintf(o1, sizeof o1, "%s/o1.txt", dir);
    snprintf(o2, sizeof o2, "%s/o2.txt", dir);
    snprintf(e1, sizeof e1, "%s/e1.txt", dir);
    CHECK(make_adapter(base, ad, 6, 0.5f));
    snprintf(cmd, sizeof cmd, "%s lora merge -m %s --lora %s -o %s -t 1", berry, base, ad, merged);
    CHECK(berry_ttest_sh(cmd, NULL, e1) == 0);
    snprintf(cmd, sizeof cmd, "%s generate -m %s --lora %s -p 'Once upon' -n 16 --temp 0 -t 1", berry, base, ad);
    CHECK(berry_ttest_sh(cmd, o1, e1) == 0);
    snprintf(cmd, sizeof cmd, "%s generate -m %s -p 'Once upon' -n 16 --temp 0 -t 1", berry, merged);
    CHECK(berry_ttest_sh(cmd, o2, e1) == 0);
    char *s1 = berry_ttest_read(o1), *s2 = berry_ttest_read(o2);
    CHECK(s1 && s2);
    CHECKF(!strcmp(s1, s2) && strlen(s1) > 0, "generate --lora printed \"%s\", the merged model \"%s\"", s1, s2);
    free(s1); free(s2);
    // The adapter against a model of another architecture.
    char q[1024];
    CHECK(berry_ttest_model("qwen2", BERRY_TYPE_F32, 0.1f, "qwen.gguf", q, sizeof q));
    snprintf(cmd, sizeof cmd, "%s generate -m %s --lora %s -p x -n 2", berry, q, ad);
    CHECK(berry_ttest_sh(cmd, NULL, e1) != 0);
    char *e = berry_ttest_read(e1);
    CHECKF(e && strstr(e, "architecture"), "stderr: %s", e ? e : "");
    free(e);
}
