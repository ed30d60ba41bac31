// arch.c — architecture hyperparameters as llama.cpp's GGUF metadata keys: reading with validation,
// writing as llama.cpp's converter does, and the presets of the models berry targets.
#include "model/model.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *arch_names[] = {"llama", "qwen2", "gemma2"};

const char *berry_arch_name(berry_arch a) {
    return (unsigned)a < sizeof arch_names / sizeof arch_names[0] ? arch_names[a] : "unknown";
}

int berry_arch_from_name(const char *name) {
    for (int i = 0; i < (int)(sizeof arch_names / sizeof arch_names[0]); i++)
        if (name && !strcmp(name, arch_names[i])) return i;
    return -1;
}

bool berry_hparams_layer_slides(const berry_hparams *hp, int il) {
    if (hp->sliding_window <= 0) return false;
    int p = hp->swa_pattern > 0 ? hp->swa_pattern : 2;
    return il % p < p - 1;
}

// Fills the architecture's fixed conventions (everything not read from numeric keys).
static void arch_defaults(berry_hparams *hp) {
    hp->rope_freq_scale = 1.0f;
    hp->embd_scale = hp->gelu = hp->qkv_bias = hp->post_norms = false;
    hp->attn_softcap = hp->final_softcap = 0;
    hp->sliding_window = 0;
    hp->swa_pattern = 0;
    if (hp->arch == BERRY_ARCH_QWEN2) hp->qkv_bias = true;
    if (hp->arch == BERRY_ARCH_GEMMA2) {
        hp->embd_scale = hp->gelu = hp->post_norms = true;
        hp->attn_softcap = 50.0f;
        hp->final_softcap = 30.0f;
        hp->sliding_window = 4096;
        hp->swa_pattern = 2;
    }
}

// llama.cpp's rule for gemma2's query scale: 1/sqrt(head_dim), except 27B (46 layers), which uses
// query_pre_attn_scalar = n_embd / n_head.
static void set_attn_scale(berry_hparams *hp) {
    float d = (float)hp->head_dim;
    if (hp->arch == BERRY_ARCH_GEMMA2 && hp->n_layer == 46 && hp->n_head > 0) d = (float)(hp->n_embd / hp->n_head);
    hp->attn_scale = 1.0f / sqrtf(d);
}

berry_status berry_hparams_check(const berry_hparams *hp, char *err, size_t n) {
    if ((unsigned)hp->arch > BERRY_ARCH_GEMMA2) return berry_errf(err, n, BERRY_EUNSUPPORTED, "unknown architecture %d", (int)hp->arch);
#define RANGE(field, lo, hi)                                                                             \
    if (!(hp->field >= (lo) && hp->field <= (hi)))                                                       \
        return berry_errf(err, n, BERRY_EFORMAT, "%s: " #field " = %g is outside [%g, %g]",              \
                          berry_arch_name(hp->arch), (double)hp->field, (double)(lo), (double)(hi));
    RANGE(n_vocab, 1, 1 << 24)
    RANGE(n_embd, 1, 1 << 17)
    RANGE(n_layer, 1, 4096)
    RANGE(n_head, 1, 4096)
    RANGE(n_head_kv, 1, 4096)
    RANGE(head_dim, 2, 4096)
    RANGE(n_ff, 1, 1 << 20)
    RANGE(norm_eps, 1e-12, 1.0)
    RANGE(rope_theta, 1e-3, 1e12)
    RANGE(rope_freq_scale, 1e-6, 1e6)
    RANGE(attn_scale, 1e-6, 1e6)
    RANGE(attn_softcap, 0, 1e9)
    RANGE(final_softcap, 0, 1e9)
    RANGE(sliding_window, 0, 1 << 30)
    RANGE(swa_pattern, 0, 4096)
#undef RANGE
    if (hp->n_head % hp->n_head_kv)
        return berry_errf(err, n, BERRY_EFORMAT, "attention.head_count %d is not a multiple of head_count_kv %d",
                          hp->n_head, hp->n_head_kv);
    if (hp->head_dim % 2) return berry_errf(err, n, BERRY_EFORMAT, "head dimension %d is odd (rope needs pairs)", hp->head_dim);
    if ((int64_t)hp->n_head * hp->head_dim > (1 << 20))
        return berry_errf(err, n, BERRY_EFORMAT, "head_count x head dimension %lld is too large",
                          (long long)hp->n_head * hp->head_dim);
    return BERRY_OK;
}

// "<arch>.<suffix>" into BUF.
static const char *akey(char *buf, size_t size, const berry_hparams *hp, const char *suffix) {
    snprintf(buf, size, "%s.%s", berry_arch_name(hp->arch), suffix);
    return buf;
}

static bool get_int(const berry_gguf *g, const char *key, int *out) {
    int64_t v;
    if (!berry_gguf_get_i64(g, key, &v)) return false;
    if (v < 0 || v > (int64_t)1 << 30) v = -1;  // out of range: rejected by berry_hparams_check
    *out = (int)v;
    return true;
}

berry_status berry_hparams_read(const berry_gguf *g, int64_t n_vocab_tensor, berry_hparams *hp, char *err, size_t n) {
    memset(hp, 0, sizeof *hp);
    const char *name = NULL;
    if (!berry_gguf_get_str(g, "general.architecture", &name, NULL))
        return berry_errf(err, n, BERRY_EFORMAT, "metadata key general.architecture is missing");
    int a = berry_arch_from_name(name);
    if (a < 0) return berry_errf(err, n, BERRY_EUNSUPPORTED, "architecture '%.64s' is not supported (llama, qwen2, gemma2)", name);
    hp->arch = (berry_arch)a;
    arch_defaults(hp);
    char k[128];
    // Required integer keys.
    struct { const char *suffix; int *dst; } req[] = {
        {"embedding_length", &hp->n_embd},   {"block_count", &hp->n_layer},
        {"feed_forward_length", &hp->n_ff},  {"attention.head_count", &hp->n_head},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (!get_int(g, akey(k, sizeof k, hp, req[i].suffix), req[i].dst))
            return berry_errf(err, n, BERRY_EFORMAT, "metadata key %s is missing or not an integer", k);
    if (!berry_gguf_get_f32(g, akey(k, sizeof k, hp, "attention.layer_norm_rms_epsilon"), &hp->norm_eps))
        return berry_errf(err, n, BERRY_EFORMAT, "metadata key %s is missing or not a number", k);
    // Optional keys with llama.cpp's defaults.
    hp->n_head_kv = hp->n_head;
    get_int(g, akey(k, sizeof k, hp, "attention.head_count_kv"), &hp->n_head_kv);
    hp->n_ctx_train = 2048;
    get_int(g, akey(k, sizeof k, hp, "context_length"), &hp->n_ctx_train);
    hp->rope_theta = 10000.0f;
    berry_gguf_get_f32(g, akey(k, sizeof k, hp, "rope.freq_base"), &hp->rope_theta);
    hp->head_dim = hp->n_head > 0 ? hp->n_embd / hp->n_head : 0;
    get_int(g, akey(k, sizeof k, hp, "attention.key_length"), &hp->head_dim);
    int v_dim = hp->head_dim, n_rot = hp->head_dim;
    get_int(g, akey(k, sizeof k, hp, "attention.value_length"), &v_dim);
    if (v_dim != hp->head_dim)
        return berry_errf(err, n, BERRY_EUNSUPPORTED, "attention.value_length %d differs from key_length %d", v_dim, hp->head_dim);
    get_int(g, akey(k, sizeof k, hp, "rope.dimension_count"), &n_rot);
    if (n_rot != hp->head_dim)
        return berry_errf(err, n, BERRY_EUNSUPPORTED, "partial rope (rope.dimension_count %d, head dimension %d) is not supported",
                          n_rot, hp->head_dim);
    int64_t nv = n_vocab_tensor;
    int vkey = 0;
    if (get_int(g, akey(k, sizeof k, hp, "vocab_size"), &vkey)) {
        if (nv > 0 && vkey != nv)
            return berry_errf(err, n, BERRY_EFORMAT, "%s = %d but token_embd.weight has %lld rows", k, vkey, (long long)nv);
        nv = vkey;
    }
    if (nv <= 0 || nv > (1 << 24)) return berry_errf(err, n, BERRY_EFORMAT, "vocabulary size %lld is invalid", (long long)nv);
    hp->n_vocab = (int)nv;
    const char *st = NULL;
    if (berry_gguf_get_str(g, akey(k, sizeof k, hp, "rope.scaling.type"), &st, NULL) && strcmp(st, "none")) {
        float factor = 1;
        if (strcmp(st, "linear"))
            return berry_errf(err, n, BERRY_EUNSUPPORTED, "rope scaling '%.32s' is not supported (none, linear)", st);
        if (berry_gguf_get_f32(g, akey(k, sizeof k, hp, "rope.scaling.factor"), &factor) && factor > 0)
            hp->rope_freq_scale = 1.0f / factor;
    }
    if (hp->arch == BERRY_ARCH_GEMMA2) {
        get_int(g, akey(k, sizeof k, hp, "attention.sliding_window"), &hp->sliding_window);
        get_int(g, akey(k, sizeof k, hp, "attention.sliding_window_pattern"), &hp->swa_pattern);
        berry_gguf_get_f32(g, akey(k, sizeof k, hp, "attn_logit_softcapping"), &hp->attn_softcap);
        berry_gguf_get_f32(g, akey(k, sizeof k, hp, "final_logit_softcapping"), &hp->final_softcap);
    }
    set_attn_scale(hp);
    return berry_hparams_check(hp, err, n);
}

berry_status berry_hparams_write(berry_gguf_writer *w, const berry_hparams *hp, const char *name) {
    char k[128];
    berry_status s = berry_gguf_set_str(w, "general.architecture", berry_arch_name(hp->arch));
#define U32(suffix, v) if (s == BERRY_OK) s = berry_gguf_set_u32(w, akey(k, sizeof k, hp, suffix), (uint32_t)(v))
#define F32(suffix, v) if (s == BERRY_OK) s = berry_gguf_set_f32(w, akey(k, sizeof k, hp, suffix), (v))
    if (s == BERRY_OK) s = berry_gguf_set_str(w, "general.name", name ? name : berry_arch_name(hp->arch));
    if (s == BERRY_OK) s = berry_gguf_set_u32(w, "general.alignment", BERRY_GGUF_DEFAULT_ALIGNMENT);
    U32("vocab_size", hp->n_vocab);
    U32("context_length", hp->n_ctx_train);
    U32("embedding_length", hp->n_embd);
    U32("block_count", hp->n_layer);
    U32("feed_forward_length", hp->n_ff);
    U32("attention.head_count", hp->n_head);
    U32("attention.head_count_kv", hp->n_head_kv);
    U32("attention.key_length", hp->head_dim);
    U32("attention.value_length", hp->head_dim);
    U32("rope.dimension_count", hp->head_dim);
    F32("attention.layer_norm_rms_epsilon", hp->norm_eps);
    F32("rope.freq_base", hp->rope_theta);
    if (hp->rope_freq_scale != 1.0f && hp->rope_freq_scale > 0) {
        if (s == BERRY_OK) s = berry_gguf_set_str(w, akey(k, sizeof k, hp, "rope.scaling.type"), "linear");
        F32("rope.scaling.factor", 1.0f / hp->rope_freq_scale);
    }
    if (hp->arch == BERRY_ARCH_GEMMA2) {
        U32("attention.sliding_window", hp->sliding_window);
        if (hp->swa_pattern > 0 && hp->swa_pattern != 2) U32("attention.sliding_window_pattern", hp->swa_pattern);
        F32("attn_logit_softcapping", hp->attn_softcap);
        F32("final_logit_softcapping", hp->final_softcap);
    }
#undef U32
#undef F32
    return s;
}

berry_status berry_hparams_preset(const char *arch, const char *preset, berry_hparams *hp, char *err, size_t n) {
    memset(hp, 0, sizeof *hp);
    int a = berry_arch_from_name(arch);
    if (a < 0) return berry_errf(err, n, BERRY_EINVAL, "unknown architecture '%s' (llama, qwen2, gemma2)", arch ? arch : "");
    hp->arch = (berry_arch)a;
    arch_defaults(hp);
    const char *want = NULL;
    if (!strcmp(preset, "tiny")) {
        // Test shapes: big enough for GQA, several rope frequencies and a window shorter than a test
        // sequence; small enough to run in milliseconds under sanitizers.
        *hp = (berry_hparams){.arch = hp->arch, .n_vocab = 256, .n_embd = 64, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
                              .head_dim = 16, .n_ff = 128, .n_ctx_train = 512, .norm_eps = 1e-5f, .rope_theta = 10000.0f,
                              .rope_freq_scale = 1.0f};
        arch_defaults(hp);
        if (hp->arch == BERRY_ARCH_LLAMA) {
            hp->rope_theta = 500000.0f;
            hp->rope_factor = 32, hp->rope_low_freq_factor = 1, hp->rope_high_freq_factor = 4, hp->rope_orig_ctx = 8192;
        } else if (hp->arch == BERRY_ARCH_QWEN2) {
            hp->norm_eps = 1e-6f, hp->rope_theta = 1000000.0f, hp->tied_output = true;
        } else {
            hp->n_layer = 3, hp->head_dim = 32, hp->norm_eps = 1e-6f, hp->tied_output = true;
            hp->sliding_window = 8, hp->attn_softcap = 50.0f, hp->final_softcap = 30.0f;
        }
    } else if (!strcmp(preset, "qwen2.5-0.5b")) {
        want = "qwen2";
        *hp = (berry_hparams){.arch = BERRY_ARCH_QWEN2, .n_vocab = 151936, .n_embd = 896, .n_layer = 24, .n_head = 14,
                              .n_head_kv = 2, .head_dim = 64, .n_ff = 4864, .n_ctx_train = 32768, .norm_eps = 1e-6f,
                              .rope_theta = 1000000.0f, .tied_output = true};
    } else if (!strcmp(preset, "llama-3.2-1b")) {
        want = "llama";
        *hp = (berry_hparams){.arch = BERRY_ARCH_LLAMA, .n_vocab = 128256, .n_embd = 2048, .n_layer = 16, .n_head = 32,
                              .n_head_kv = 8, .head_dim = 64, .n_ff = 8192, .n_ctx_train = 131072, .norm_eps = 1e-5f,
                              .rope_theta = 500000.0f, .rope_factor = 32, .rope_low_freq_factor = 1,
                              .rope_high_freq_factor = 4, .rope_orig_ctx = 8192, .tied_output = true};
    } else if (!strcmp(preset, "gemma-2-2b")) {
        want = "gemma2";
        *hp = (berry_hparams){.arch = BERRY_ARCH_GEMMA2, .n_vocab = 256000, .n_embd = 2304, .n_layer = 26, .n_head = 8,
                              .n_head_kv = 4, .head_dim = 256, .n_ff = 9216, .n_ctx_train = 8192, .norm_eps = 1e-6f,
                              .rope_theta = 10000.0f, .tied_output = true};
    } else {
        return berry_errf(err, n, BERRY_EINVAL, "unknown preset '%s' (tiny, qwen2.5-0.5b, llama-3.2-1b, gemma-2-2b)", preset);
    }
    if (want) {
        if (strcmp(want, arch)) return berry_errf(err, n, BERRY_EINVAL, "preset '%s' is a %s model, not %s", preset, want, arch);
        bool tied = hp->tied_output;
        float rf = hp->rope_factor, lo = hp->rope_low_freq_factor, hi = hp->rope_high_freq_factor;
        int oc = hp->rope_orig_ctx;
        arch_defaults(hp);  // gemma2's window, softcaps, GeGLU, post-norms; qwen2's biases
        hp->tied_output = tied;
        hp->rope_factor = rf, hp->rope_low_freq_factor = lo, hp->rope_high_freq_factor = hi, hp->rope_orig_ctx = oc;
    }
    set_attn_scale(hp);
    return berry_hparams_check(hp, err, n);
}

// As llama.cpp's converter (conversion/llama.py, generate_extra_tensors): frequencies whose wavelength
// exceeds orig_ctx/low are divided by the factor, those below orig_ctx/high are kept, and the band
// between is interpolated smoothly.
void berry_hparams_llama3_rope_freqs(const berry_hparams *hp, float *out) {
    int half = hp->head_dim / 2;
    double lo_wl = hp->rope_orig_ctx / hp->rope_low_freq_factor, hi_wl = hp->rope_orig_ctx / hp->rope_high_freq_factor;
    for (int i = 0; i < half; i++) {
        double freq = 1.0 / pow(hp->rope_theta, 2.0 * i / hp->head_dim);
        double wl = 2 * M_PI / freq;
        if (wl < hi_wl) out[i] = 1.0f;
        else if (wl > lo_wl) out[i] = hp->rope_factor;
        else {
            double smooth = (hp->rope_orig_ctx / wl - hp->rope_low_freq_factor) /
                            (hp->rope_high_freq_factor - hp->rope_low_freq_factor);
            out[i] = (float)(1.0 / ((1 - smooth) / hp->rope_factor + smooth));
        }
    }
}
