// cmd_quantize.c — `berry quantize IN.gguf OUT.gguf TYPE`.
#include "base/pool.h"
#include "cli/cli.h"
#include "model/convert.h"
#include <stdio.h>
#include <string.h>

static int cmd_quantize(int argc, char **argv) {
    const char *pos[3];
    int np = 0;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: berry quantize [-t N] IN.gguf OUT.gguf TYPE\n\n"
                   "Writes OUT.gguf with every weight matrix of IN.gguf converted to TYPE: f32, f16, bf16, q8_0,\n"
                   "q4_0, q4_1, q5_0, q5_1, q4_K, q5_K or q6_K. Norms and biases stay f32; matrices whose rows do\n"
                   "not divide into TYPE's blocks fall back to q8_0 (or f16). The output is written atomically.\n"
                   "  -t N   threads (default: all CPUs)\n");
            return 0;
        } else if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) {
            if (i + 1 >= argc) return berry_cli_error("quantize: -t needs a value");
            if (!berry_cli_int("-t", argv[++i], 1, 1024, &threads)) return 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return berry_cli_error("quantize: unknown flag '%s'", argv[i]);
        } else if (np < 3) {
            pos[np++] = argv[i];
        } else {
            return berry_cli_error("quantize: too many arguments (usage: berry quantize IN.gguf OUT.gguf TYPE)");
        }
    }
    if (np != 3) return berry_cli_error("quantize: usage: berry quantize IN.gguf OUT.gguf TYPE");
    int type = berry_type_from_name(pos[2]);
    if (type < 0) return berry_cli_error("quantize: unknown type '%s' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K)", pos[2]);
    berry_pool *pool = berry_pool_create((int)threads);
    char err[512];
    berry_convert_stats st;
    berry_status s = berry_convert_model(pos[0], pos[1], (berry_type)type, pool, &st, err, sizeof err);
    berry_pool_free(pool);
    if (s != BERRY_OK) return berry_cli_error("quantize: %s", err);
    fprintf(stderr, "%s: %lld tensors converted, %lld kept, %lld fell back; %.1f MiB -> %.1f MiB\n", pos[1],
            (long long)st.n_converted, (long long)st.n_kept, (long long)st.n_fallback, st.bytes_in / 1048576.0,
            st.bytes_out / 1048576.0);
    return 0;
}

BERRY_COMMAND("quantize", "convert a model's weights to another type (q8_0, q4_0, ...)", cmd_quantize)
