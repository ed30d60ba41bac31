// cmd_info.c — `berry info MODEL`: the GGUF header, metadata and tensors of a file.
#include "cli/cli.h"
#include "model/gguf.h"
#include "tensor/types.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *type_name(berry_gguf_type t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

// One scalar element of type T at P, printed.
static void print_scalar(berry_gguf_type t, const void *p) {
    switch (t) {
    case BERRY_GGUF_UINT8: printf("%u", *(const uint8_t *)p); break;
    case BERRY_GGUF_INT8: printf("%d", *(const int8_t *)p); break;
    case BERRY_GGUF_UINT16: printf("%u", *(const uint16_t *)p); break;
    case BERRY_GGUF_INT16: printf("%d", *(const int16_t *)p); break;
    case BERRY_GGUF_UINT32: printf("%" PRIu32, *(const uint32_t *)p); break;
    case BERRY_GGUF_INT32: printf("%" PRId32, *(const int32_t *)p); break;
    case BERRY_GGUF_FLOAT32: printf("%g", *(const float *)p); break;
    case BERRY_GGUF_BOOL: printf("%s", *(const uint8_t *)p ? "true" : "false"); break;
    case BERRY_GGUF_UINT64: printf("%" PRIu64, *(const uint64_t *)p); break;
    case BERRY_GGUF_INT64: printf("%" PRId64, *(const int64_t *)p); break;
    case BERRY_GGUF_FLOAT64: printf("%g", *(const double *)p); break;
    default: printf("?");
    }
}

static size_t elem_size(berry_gguf_type t) {
    switch (t) {
    case BERRY_GGUF_UINT8: case BERRY_GGUF_INT8: case BERRY_GGUF_BOOL: return 1;
    case BERRY_GGUF_UINT16: case BERRY_GGUF_INT16: return 2;
    case BERRY_GGUF_UINT32: case BERRY_GGUF_INT32: case BERRY_GGUF_FLOAT32: return 4;
    default: return 8;
    }
}

// Strings are printed quoted with control characters escaped, cut at MAX bytes.
static void print_str(const char *s, size_t len, size_t max) {
    putchar('"');
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    if (len > max) printf("...");
    putchar('"');
}

static int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int all = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: berry info [--all] MODEL.gguf\n\n"
                   "Prints a GGUF file's version, metadata (arrays shortened unless --all) and tensors.\n");
            return 0;
        } else if (!strcmp(argv[i], "--all")) all = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return berry_cli_error("info: unknown flag '%s'", argv[i]);
        else if (!path) path = argv[i];
        else return berry_cli_error("info: one file at a time ('%s' is extra)", argv[i]);
    }
    if (!path) return berry_cli_error("info: no file given (usage: berry info MODEL.gguf)");
    char err[512];
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    if (!g) return berry_cli_error("%s: %s", path, err);
    printf("file: %s\nversion: %" PRIu32 "\nalignment: %zu\nmetadata: %" PRId64 " keys\n", path, berry_gguf_version(g),
           berry_gguf_alignment(g), berry_gguf_n_kv(g));
    for (int64_t i = 0; i < berry_gguf_n_kv(g); i++) {
        berry_gguf_type t = berry_gguf_kv_type(g, i);
        printf("  %-44s %-4s ", berry_gguf_key(g, i), type_name(t));
        if (t == BERRY_GGUF_STRING) {
            const char *s;
            size_t len;
            berry_gguf_get_str(g, berry_gguf_key(g, i), &s, &len);
            print_str(s, len, all ? (size_t)-1 : 120);
        } else if (t == BERRY_GGUF_ARRAY) {
            berry_gguf_type et = berry_gguf_arr_type(g, i);
            uint64_t n = berry_gguf_arr_len(g, i), show = all ? n : (n < 8 ? n : 8);
            printf("[%s x %" PRIu64 "] [", type_name(et), n);
            for (uint64_t j = 0; j < show; j++) {
                if (j) printf(", ");
                if (et == BERRY_GGUF_STRING) {
                    size_t len;
                    const char *s = berry_gguf_arr_str(g, i, j, &len);
                    print_str(s, len, 40);
                } else {
                    print_scalar(et, (const char *)berry_gguf_arr_data(g, i) + j * elem_size(et));
                }
            }
            printf("%s]", show < n ? ", ..." : "");
        } else {
            // Scalars are read back through the typed getters.
            int64_t v64;
            float f;
            bool b;
            const char *k = berry_gguf_key(g, i);
            if (t == BERRY_GGUF_BOOL && berry_gguf_get_bool(g, k, &b)) printf("%s", b ? "true" : "false");
            else if ((t == BERRY_GGUF_FLOAT32 || t == BERRY_GGUF_FLOAT64) && berry_gguf_get_f32(g, k, &f)) printf("%g", f);
            else if (berry_gguf_get_i64(g, k, &v64)) printf("%" PRId64, v64);
            else printf("(out of range)");
        }
        putchar('\n');
    }
    int64_t nt = berry_gguf_n_tensors(g);
    size_t total = 0;
    printf("tensors: %" PRId64 "\n", nt);
    for (int64_t i = 0; i < nt; i++) {
        int64_t ne[BERRY_GGUF_MAX_DIMS];
        berry_gguf_tensor_shape(g, i, ne);
        const berry_type_info *ti = berry_type_get(berry_gguf_tensor_type(g, i));
        size_t nb = berry_gguf_tensor_bytes(g, i);
        total += nb;
        if (!all && i >= 24 && i < nt - 4) {
            if (i == 24) printf("  ... (%" PRId64 " more; --all lists them)\n", nt - 28);
            continue;
        }
        printf("  %-40s %-5s [", berry_gguf_tensor_name(g, i), ti ? ti->name : "?");
        for (int d = 0; d < berry_gguf_tensor_n_dims(g, i); d++) printf(d ? ", %" PRId64 : "%" PRId64, ne[d]);
        printf("] %zu bytes\n", nb);
    }
    printf("tensor data: %.2f MiB\n", total / 1048576.0);
    berry_gguf_close(g);
    return 0;
}

BERRY_COMMAND("info", "show a GGUF file's metadata and tensors", cmd_info)
