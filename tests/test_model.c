// Tests of model loading and random models: hyperparameters through GGUF metadata, llama3 rope
// divisors against a hand calculation, tensor validation (a missing or misshapen tensor is one error
// line naming it), parameter counts against the architectures' formulas, reproducibility.
#include "test.h"
#include "model/gguf.h"
#include "model/model.h"
#include "tensor/types.h"
#include <stdlib.h>

static bool write_tiny(const char *arch, int type, int threads, const char *path) {
    char err[256];
    berry_model_init_opts o = {.type = type, .seed = 3, .n_threads = threads};
    if (berry_hparams_preset(arch, "tiny", &o.hp, err, sizeof err) != BERRY_OK) return false;
    if (berry_model_init(&o, path, err, sizeof err) != BERRY_OK) { fprintf(stderr, "    %s\n", err); return false; }
    return true;
}

TEST(model_preset_shapes) {
    berry_hparams hp;
    char err[256];
    CHECK(berry_hparams_preset("qwen2", "qwen2.5-0.5b", &hp, err, sizeof err) == BERRY_OK);
    CHECK(hp.n_vocab == 151936 && hp.n_embd == 896 && hp.n_layer == 24 && hp.n_head == 14 && hp.n_head_kv == 2);
    CHECK(hp.head_dim == 64 && hp.n_ff == 4864 && hp.tied_output && hp.qkv_bias);
    CHECK(berry_hparams_preset("gemma2", "gemma-2-2b", &hp, err, sizeof err) == BERRY_OK);
    CHECK(hp.head_dim == 256 && hp.sliding_window == 4096 && hp.attn_softcap == 50 && hp.final_softcap == 30);
    CHECK_NEAR(hp.attn_scale, 1.0 / 16, 1e-7);  // 1/sqrt(256)
    CHECK(berry_hparams_layer_slides(&hp, 0) && !berry_hparams_layer_slides(&hp, 1) && berry_hparams_layer_slides(&hp, 24));
    CHECK(berry_hparams_preset("llama", "gemma-2-2b", &hp, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_hparams_preset("gpt2", "tiny", &hp, err, sizeof err) == BERRY_EINVAL);
}

// Llama 3.2 1B: head_dim 64, theta 500000, factor 32, low 1, high 4, original context 8192. Pair i has
// wavelength 2 pi 500000^(i/32). i = 0: 2 pi < 8192/4, kept (1). i = 31: 2.1e6 > 8192, divided by 32.
// i = 16: wavelength 2 pi sqrt(500000) = 4442.883, smooth = (8192/4442.883 - 1)/3 = 0.2812826,
// divisor = 1/((1 - 0.2812826)/32 + 0.2812826) = 3.292262. i = 15: 2948.303, smooth 0.5928493, 1.651329.
TEST(model_llama3_rope_divisors_by_hand) {
    berry_hparams hp;
    CHECK(berry_hparams_preset("llama", "llama-3.2-1b", &hp, NULL, 0) == BERRY_OK);
    float f[32];
    berry_hparams_llama3_rope_freqs(&hp, f);
    CHECK_NEAR(f[0], 1.0, 0);
    CHECK_NEAR(f[31], 32.0, 0);
    CHECK_NEAR(f[16], 3.292262, 2e-6);
    CHECK_NEAR(f[15], 1.651329, 2e-6);
    CHECK_NEAR(f[14], 1.0, 0);   // wavelength 1955.6 < 2048
    CHECK_NEAR(f[18], 32.0, 0);  // wavelength 10098 > 8192
}

TEST(model_init_load_roundtrip) {
    const char *archs[] = {"llama", "qwen2", "gemma2"};
    for (int a = 0; a < 3; a++) {
        char path[600], err[256];
        snprintf(path, sizeof path, "%s/%s.gguf", berry_test_tmpdir(), archs[a]);
        CHECK(write_tiny(archs[a], BERRY_TYPE_Q8_0, 2, path));
        berry_hparams want;
        CHECK(berry_hparams_preset(archs[a], "tiny", &want, NULL, 0) == BERRY_OK);
        berry_model *m = berry_model_load(path, err, sizeof err);
        CHECKF(m, "%s", err);
        const berry_hparams *hp = berry_model_hparams(m);
        CHECK(hp->arch == want.arch && hp->n_vocab == want.n_vocab && hp->n_embd == want.n_embd && hp->n_layer == want.n_layer);
        CHECK(hp->n_head == want.n_head && hp->n_head_kv == want.n_head_kv && hp->head_dim == want.head_dim && hp->n_ff == want.n_ff);
        CHECK(hp->norm_eps == want.norm_eps && hp->rope_theta == want.rope_theta && hp->tied_output == want.tied_output);
        CHECK(hp->sliding_window == want.sliding_window && hp->attn_softcap == want.attn_softcap && hp->attn_scale == want.attn_scale);
        // Parameters by formula: E = 64, Q = 4 x hd, KV = 2 x hd, F = 128, V = 256.
        int64_t E = 64, Q = 4 * (int64_t)want.head_dim, KV = 2 * (int64_t)want.head_dim, F = 128, V = 256;
        int64_t layer = E + E * Q + 2 * E * KV + Q * E + E + 3 * E * F;
        if (want.qkv_bias) layer += Q + 2 * KV;
        if (want.post_norms) layer += 2 * E;
        int64_t total = V * E + E + (want.tied_output ? 0 : V * E) + layer * want.n_layer + (want.rope_factor > 0 ? want.head_dim / 2 : 0);
        CHECK_EQ_INT(berry_model_n_params(m), total);
        const char *tm = NULL;
        CHECK(berry_gguf_get_str(berry_model_gguf(m), "tokenizer.ggml.model", &tm, NULL));
        CHECK_STR(tm, "none");
        uint32_t align = 0;
        CHECK(berry_gguf_get_u32(berry_model_gguf(m), "general.alignment", &align) && align == 32);
        berry_model_free(m);
    }
}

TEST(model_init_is_independent_of_threads) {
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/a.gguf", berry_test_tmpdir());
    snprintf(p2, sizeof p2, "%s/b.gguf", berry_test_tmpdir());
    CHECK(write_tiny("gemma2", BERRY_TYPE_Q4_0, 1, p1));
    CHECK(write_tiny("gemma2", BERRY_TYPE_Q4_0, 3, p2));
    size_t n1 = 0, n2 = 0;
    char *a = berry_test_read_file(p1, &n1), *b = berry_test_read_file(p2, &n2);
    CHECK(a && b && n1 == n2 && n1 > 1000);
    CHECK(memcmp(a, b, n1) == 0);
    free(a), free(b);
}

// Rewrites SRC without tensor DROP, or with tensor RESHAPE given ne0 + 1 values per row.
static bool rewrite(const char *src, const char *dst, const char *drop, const char *reshape) {
    char err[256];
    berry_gguf *g = berry_gguf_open(src, err, sizeof err);
    if (!g) return false;
    berry_gguf_writer *w = berry_gguf_writer_new();
    bool ok = true;
    for (int64_t i = 0; ok && i < berry_gguf_n_kv(g); i++) ok = berry_gguf_copy_kv(w, g, i) == BERRY_OK;
    float *big = NULL;
    for (int64_t i = 0; ok && i < berry_gguf_n_tensors(g); i++) {
        const char *nm = berry_gguf_tensor_name(g, i);
        if (drop && !strcmp(nm, drop)) continue;
        int64_t ne[4];
        berry_gguf_tensor_shape(g, i, ne);
        if (reshape && !strcmp(nm, reshape)) {
            ne[0] += 1;
            big = calloc((size_t)(ne[0] * ne[1]), sizeof(float));
            ok = berry_gguf_add_tensor(w, nm, BERRY_TYPE_F32, 2, ne, big, (size_t)(ne[0] * ne[1]) * sizeof(float)) == BERRY_OK;
        } else {
            ok = berry_gguf_add_tensor(w, nm, berry_gguf_tensor_type(g, i), berry_gguf_tensor_n_dims(g, i), ne,
                                       berry_gguf_tensor_data(g, i), berry_gguf_tensor_bytes(g, i)) == BERRY_OK;
        }
    }
    ok = ok && berry_gguf_write(w, dst, err, sizeof err) == BERRY_OK;
    berry_gguf_writer_free(w);
    berry_gguf_close(g);
    free(big);
    return ok;
}

TEST(model_missing_or_misshapen_tensor_is_named) {
    char src[600], dst[600], err[256] = "";
    snprintf(src, sizeof src, "%s/q.gguf", berry_test_tmpdir());
    snprintf(dst, sizeof dst, "%s/bad.gguf", berry_test_tmpdir());
    CHECK(write_tiny("qwen2", BERRY_TYPE_F32, 1, src));
    CHECK(rewrite(src, dst, "blk.1.attn_k.bias", NULL));
    CHECK(berry_model_load(dst, err, sizeof err) == NULL);
    CHECKF(strstr(err, "'blk.1.attn_k.bias'") && strstr(err, "missing"), "%s", err);
    CHECK(rewrite(src, dst, NULL, "blk.0.ffn_down.weight"));
    CHECK(berry_model_load(dst, err, sizeof err) == NULL);
    CHECKF(strstr(err, "'blk.0.ffn_down.weight'") && strstr(err, "shape [129, 64"), "%s", err);
    CHECK(rewrite(src, dst, "output_norm.weight", NULL));
    CHECK(berry_model_load(dst, err, sizeof err) == NULL);
    CHECKF(strstr(err, "output_norm.weight"), "%s", err);
}

TEST(model_bad_metadata_is_an_error) {
    char path[600], err[256] = "";
    snprintf(path, sizeof path, "%s/h.gguf", berry_test_tmpdir());
    berry_gguf_writer *w = berry_gguf_writer_new();
    berry_hparams hp;
    CHECK(berry_hparams_preset("llama", "tiny", &hp, NULL, 0) == BERRY_OK);
    CHECK(berry_hparams_write(w, &hp, "x") == BERRY_OK);
    CHECK(berry_gguf_set_u32(w, "llama.attention.head_count_kv", 3) == BERRY_OK);  // 4 heads: not a multiple
    float e[64 * 256] = {0};
    CHECK(berry_gguf_add_tensor(w, "token_embd.weight", BERRY_TYPE_F32, 2, (int64_t[]){64, 256}, e, sizeof e) == BERRY_OK);
    CHECK(berry_gguf_write(w, path, err, sizeof err) == BERRY_OK);
    berry_gguf_writer_free(w);
    CHECK(berry_model_load(path, err, sizeof err) == NULL);
    CHECKF(strstr(err, "head_count_kv"), "%s", err);
    w = berry_gguf_writer_new();
    CHECK(berry_gguf_set_str(w, "general.architecture", "mamba") == BERRY_OK);
    CHECK(berry_gguf_add_tensor(w, "token_embd.weight", BERRY_TYPE_F32, 2, (int64_t[]){64, 256}, e, sizeof e) == BERRY_OK);
    CHECK(berry_gguf_write(w, path, err, sizeof err) == BERRY_OK);
    berry_gguf_writer_free(w);
    CHECK(berry_model_load(path, err, sizeof err) == NULL);
    CHECKF(strstr(err, "mamba"), "%s", err);
}
