// cmd_model.c — `berry model init`: writes a GGUF model with random weights in a preset's shapes.
#include "base/clock.h"
#include "cli/cli.h"
#include "model/gguf.h"
#include "model/model.h"
#include "tensor/types.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void init_usage(FILE *f) {
    fprintf(f,
            "usage: berry model init --arch ARCH --preset PRESET [options] -o OUT.gguf\n\n"
            "Writes a GGUF model with random weights (normal, std 0.02; norms 1) in the exact tensor names,\n"
            "shapes and metadata of llama.cpp's files, so that it loads in berry and in llama.cpp.\n\n"
            "  --arch ARCH        llama, qwen2 or gemma2\n"
            "  --preset PRESET    qwen2.5-0.5b (qwen2), llama-3.2-1b (llama, with llama3 rope_freqs),\n"
            "                     gemma-2-2b (gemma2), or tiny (any arch: vocab 256, embd 64, test shapes)\n"
            "  --type TYPE        weight matrices as f32, f16, bf16, q8_0, q4_0, q4_1,\n"
            "                     q5_0, q5_1, q4_K, q5_K or q6_K (default f16); rows that do not fit TYPE's\n"
            "                     blocks fall back to q8_0, then f16\n"
            "  --seed S           random seed (default 1)\n"
            "  --std X            standard deviation of the weights (default 0.02)\n"
            "  --vocab FROM.gguf  copy the tokenizer.* keys of FROM.gguf; the vocabulary size is its token count\n"
            "                     (without it the file declares tokenizer.ggml.model \"none\")\n"
            "  --shape E,L,H,KV,FF[,CTX]  override the preset's shapes: embedding width, layers, heads, KV heads,\n"
            "                     FFN width, training context (head size E/H; the vocabulary still comes from --vocab)\n"
            "  --name NAME        general.name (default: the preset)\n"
            "  -t N               threads (default: all CPUs)\n"
            "  -o OUT.gguf        output file (written atomically)\n");
}

static int cmd_model_init(int argc, char **argv) {
    const char *arch = NULL, *preset = NULL, *type_name = "f16", *vocab_path = NULL, *out = NULL, *name = NULL;
    const char *shape = NULL;
    long seed = 1, threads = 0;
    double std = 0.02;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { init_usage(stdout); return 0; }
        if (i + 1 >= argc) return berry_cli_error("%s: unknown flag or missing value (see berry model init --help)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "--type")) type_name = v;
        else if (!strcmp(a, "--vocab")) vocab_path = v;
        else if (!strcmp(a, "--name")) name = v;
        else if (!strcmp(a, "--shape")) shape = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--seed") || !strcmp(a, "-s")) { if (!berry_cli_int(a, v, 0, 0x7fffffffL, &seed)) return 1; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { if (!berry_cli_int(a, v, 0, 1024, &threads)) return 1; }
        else if (!strcmp(a, "--std")) { if (!berry_cli_float(a, v, 1e-6, 10, &std)) return 1; }
        else return berry_cli_error("unknown flag '%s' (see berry model init --help)", a);
    }
    if (!arch || !preset || !out) {
        init_usage(stderr);
        return berry_cli_error("model init needs --arch, --preset and -o");
    }
    char err[512];
    berry_model_init_opts o = {.seed = (uint64_t)seed, .std = (float)std, .name = name ? name : preset, .n_threads = (int)threads};
    if (berry_hparams_preset(arch, preset, &o.hp, err, sizeof err) != BERRY_OK) return berry_cli_error("%s", err);
    if (shape) {
        // The embedded model's shapes are not a named preset: they are chosen by scripts/make_model.sh.
        int e = 0, l = 0, h = 0, kv = 0, ff = 0, ctx = o.hp.n_ctx_train, got = sscanf(shape, "%d,%d,%d,%d,%d,%d", &e, &l, &h, &kv, &ff, &ctx);
        if (got < 5 || h <= 0 || e % h != 0) return berry_cli_error("--shape '%s': expected E,L,H,KV,FF[,CTX] with H dividing E", shape);
        o.hp.n_embd = e, o.hp.n_layer = l, o.hp.n_head = h, o.hp.n_head_kv = kv, o.hp.head_dim = e / h, o.hp.n_ff = ff, o.hp.n_ctx_train = ctx;
        if (berry_hparams_check(&o.hp, err, sizeof err) != BERRY_OK) return berry_cli_error("--shape '%s': %s", shape, err);
    }
    o.type = berry_type_from_name(type_name);
    if (o.type < 0) return berry_cli_error("unknown --type '%s' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K)", type_name);
    berry_gguf *vocab = NULL;
    if (vocab_path) {
        vocab = berry_gguf_open(vocab_path, err, sizeof err);
        if (!vocab) return berry_cli_error("%s", err);
        o.vocab = vocab;
    }
    double t0 = berry_now();
    berry_status s = berry_model_init(&o, out, err, sizeof err);
    berry_gguf_close(vocab);
    if (s != BERRY_OK) return berry_cli_error("%s", err);
    fprintf(stderr, "berry: wrote %s (%s %s, %s) in %.1f s\n", out, arch, preset, type_name, berry_now() - t0);
    return 0;
}

static int cmd_model(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: berry model SUBCOMMAND\n\n  init   write a GGUF model with random weights (berry model init --help)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "init")) return cmd_model_init(argc - 1, argv + 1);
    return berry_cli_error("unknown subcommand 'model %s' (see berry model --help)", argv[1]);
}

BERRY_COMMAND("model", "model tools: init (a random model in a preset's shapes)", cmd_model)
