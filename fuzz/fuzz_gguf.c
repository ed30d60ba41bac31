// libFuzzer target for the GGUF reader: any input opens or gives one non-empty line of error; what
// opens can be walked entirely (every key, scalar, array element, string and tensor byte is read, so
// that AddressSanitizer sees any index or size the validation let through) and copied into a writer.
#include "model/gguf.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    berry_gguf *g = berry_gguf_open_memory(data, size, err, sizeof err);
    if (!g) {
        if (!err[0] || strchr(err, '\n')) abort();  // errors are one non-empty line
        return 0;
    }
    volatile uint64_t sink = 0;
    berry_gguf_writer *w = berry_gguf_writer_new();
    for (int64_t i = 0; i < berry_gguf_n_kv(g); i++) {
        const char *key = berry_gguf_key(g, i);
        if (!key || berry_gguf_find_key(g, key) != i) abort();  // the index finds every key
        uint8_t scalar[8];
        if (berry_gguf_get_scalar(g, i, scalar)) sink += scalar[0];
        const char *s;
        size_t len;
        if (berry_gguf_get_str(g, key, &s, &len)) sink += len ? (uint8_t)s[len - 1] : 0;
        uint64_t n = berry_gguf_arr_len(g, i);
        if (berry_gguf_arr_type(g, i) == BERRY_GGUF_STRING) {
            for (uint64_t j = 0; j < n; j++) {
                s = berry_gguf_arr_str(g, i, j, &len);
                if (!s || s[len] != 0) abort();
                sink += len ? (uint8_t)s[len - 1] : 0;
            }
        } else if (n) {
            const uint8_t *a = berry_gguf_arr_data(g, i);
            sink += a[0];
        }
        if (berry_gguf_copy_kv(w, g, i) != BERRY_OK) abort();
    }
    for (int64_t t = 0; t < berry_gguf_n_tensors(g); t++) {
        const char *name = berry_gguf_tensor_name(g, t);
        if (!name || berry_gguf_find_tensor(g, name) != t) abort();
        const uint8_t *d = berry_gguf_tensor_data(g, t);
        size_t bytes = berry_gguf_tensor_bytes(g, t);
        if (d < data || bytes > size || (size_t)(d - data) > size - bytes) abort();  // inside the image
        sink += d[0] + d[bytes - 1];
        int64_t ne[BERRY_GGUF_MAX_DIMS];
        berry_gguf_tensor_shape(g, t, ne);
        sink += (uint64_t)ne[0];
    }
    (void)sink;
    berry_gguf_writer_free(w);
    berry_gguf_close(g);
    return 0;
}
