// cmd_lora.c — `berry lora merge`: fold a LoRA adapter into a model (W' = W + scale B A).
#include "base/pool.h"
#include "cli/cli.h"
#include "model/lora.h"
#include "tensor/types.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: berry lora merge -m BASE.gguf --lora ADAPTER.gguf -o OUT.gguf [options]\n\n"
               "Writes OUT with every adapted weight W replaced by W + (alpha / r) B A: dequantized, added in\n"
               "float32 and requantized to the weight's own type (or --type). The adapter is in llama.cpp's\n"
               "layout (general.type = adapter, adapter.type = lora, <weight>.lora_a / .lora_b).\n\n"
               "  --type T     f32 | f16 | bf16 | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | q4_K | q5_K | q6_K\n"
               "               for the merged weights\n"
               "  --scale S    multiply the adapter's effect by S (default 1)\n"
               "  -t N         threads (default: all CPUs)\n");
}

static int cmd_lora(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { usage(argc < 2 ? stderr : stdout); return argc < 2 ? 2 : 0; }
    if (strcmp(argv[1], "merge")) return berry_cli_error("unknown lora command '%s' (try: berry lora merge)", argv[1]);
    const char *base = NULL, *lora = NULL, *out = NULL;
    int type = -1;
    long threads = 0;
    double scale = 1.0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!v) return berry_cli_error("%s needs a value (see berry lora --help)", a);
        if (!strcmp(a, "-m")) base = v;
        else if (!strcmp(a, "--lora")) lora = v;
        else if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--type")) {
            type = berry_type_from_name(v);
            if (type < 0 || type == BERRY_TYPE_Q8_K) return berry_cli_error("--type: unknown weight type '%s'", v);
        } else if (!strcmp(a, "--scale")) {
            if (!berry_cli_float(a, v, -100, 100, &scale)) return 1;
        } else if (!strcmp(a, "-t")) {
            if (!berry_cli_int(a, v, 0, 512, &threads)) return 1;
        } else return berry_cli_error("unknown option '%s' (see berry lora --help)", a);
        i++;
    }
    if (!base || !lora || !out) { usage(stderr); return 2; }
    berry_pool *pool = berry_pool_create((int)threads);
    char err[512];
    berry_status st = berry_lora_merge(base, lora, (float)scale, type, out, pool, err, sizeof err);
    berry_pool_free(pool);
    if (st) return berry_cli_error("%s", err);
    printf("%s\n", out);
    return 0;
}

BERRY_COMMAND("lora", "merge a LoRA adapter into a model", cmd_lora)
