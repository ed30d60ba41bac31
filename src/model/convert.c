// convert.c — requantization of a whole GGUF model: dequantize each matrix row to f32, quantize it to
// the target type, write the result with the original metadata.
#include "model/convert.h"
#include "base/alloc.h"
#include "model/gguf.h"
#include "tensor/quant.h"
#include <stdlib.h>
#include <string.h>

int berry_file_type_of(berry_type t) {
    switch (t) {
    case BERRY_TYPE_F32: return 0;
    case BERRY_TYPE_F16: return 1;
    case BERRY_TYPE_Q4_0: return 2;
    case BERRY_TYPE_Q4_1: return 3;
    case BERRY_TYPE_Q5_0: return 8;
    case BERRY_TYPE_Q5_1: return 9;
    case BERRY_TYPE_Q8_0: return 7;
    case BERRY_TYPE_Q4_K: return 15;  // Q4_K_M is the closest named preset
    case BERRY_TYPE_Q5_K: return 17;
    case BERRY_TYPE_Q6_K: return 18;
    case BERRY_TYPE_BF16: return 32;
    default: return -1;
    }
}

berry_type berry_fit_type(berry_type type, int64_t n) {
    if (n % berry_type_get(type)->block == 0) return type;
    return n % 32 == 0 ? BERRY_TYPE_Q8_0 : BERRY_TYPE_F16;
}

typedef struct {
    const void *src;
    berry_type src_type, dst_type;
    int64_t rows, cols;
    size_t src_row, dst_row;
    void *dst;
    float *tmp;  // (nth, cols): one dequantized row per thread
} convert_job;

static void convert_rows(void *ctx, int ith, int nth) {
    convert_job *j = ctx;
    float *tmp = j->tmp + (size_t)ith * (size_t)j->cols;
    int b, e;
    berry_split((int)j->rows, ith, nth, &b, &e);
    for (int64_t r = b; r < e; r++) {
        berry_dequantize(j->src_type, (const char *)j->src + (size_t)r * j->src_row, tmp, j->cols);
        berry_quantize(j->dst_type, tmp, (char *)j->dst + (size_t)r * j->dst_row, j->cols);
    }
}

berry_status berry_convert_model(const char *in_path, const char *out_path, berry_type type, berry_pool *pool,
                                 berry_convert_stats *stats, char *err, size_t err_size) {
    berry_convert_stats st = {0};
    if (berry_file_type_of(type) < 0 || type == BERRY_TYPE_Q8_K)
        return berry_errf(err, err_size, BERRY_EINVAL, "cannot write weights as %s",
                          berry_type_get(type) ? berry_type_get(type)->name : "an unknown type");
    berry_gguf *g = berry_gguf_open(in_path, err, err_size);
    if (!g) return BERRY_EFORMAT;
    berry_gguf_writer *w = berry_gguf_writer_new();
    int64_t nt = berry_gguf_n_tensors(g);
    void **bufs = calloc((size_t)(nt > 0 ? nt : 1), sizeof(void *));
    berry_status s = (w && bufs) ? BERRY_OK : berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    for (int64_t i = 0; s == BERRY_OK && i < berry_gguf_n_kv(g); i++) {
        if (!strcmp(berry_gguf_key(g, i), "general.file_type")) continue;
        s = berry_gguf_copy_kv(w, g, i);
    }
    if (s == BERRY_OK) s = berry_gguf_set_u32(w, "general.file_type", (uint32_t)berry_file_type_of(type));
    for (int64_t i = 0; s == BERRY_OK && i < nt; i++) {
        const char *name = berry_gguf_tensor_name(g, i);
        int src_type = berry_gguf_tensor_type(g, i);
        int nd = berry_gguf_tensor_n_dims(g, i);
        int64_t ne[BERRY_GGUF_MAX_DIMS];
        berry_gguf_tensor_shape(g, i, ne);
        size_t nb = berry_gguf_tensor_bytes(g, i);
        st.bytes_in += nb;
        berry_type dst = type;
        size_t len = strlen(name);
        int is_matrix = nd == 2 && len > 7 && !strcmp(name + len - 7, ".weight");
        if (is_matrix && berry_fit_type(dst, ne[0]) != dst) {
            dst = berry_fit_type(dst, ne[0]);
            st.n_fallback++;
        }
        if (!is_matrix || dst == (berry_type)src_type) {
            s = berry_gguf_add_tensor(w, name, src_type, nd, ne, berry_gguf_tensor_data(g, i), nb);
            st.n_kept++;
            st.bytes_out += nb;
            continue;
        }
        convert_job j = {.src = berry_gguf_tensor_data(g, i), .src_type = (berry_type)src_type, .dst_type = dst,
                         .rows = ne[1], .cols = ne[0]};
        j.src_row = berry_row_size(j.src_type, ne[0]);
        j.dst_row = berry_row_size(dst, ne[0]);
        size_t out_bytes;
        if (!j.dst_row || !berry_mul_ok(j.dst_row, (size_t)ne[1], &out_bytes)) {
            s = berry_errf(err, err_size, BERRY_EFORMAT, "tensor '%s': size overflows", name);
            break;
        }
        bufs[i] = j.dst = berry_calloc(out_bytes, 1);
        if (!bufs[i]) { s = berry_errf(err, err_size, BERRY_ENOMEM, "tensor '%s': out of memory", name); break; }
        j.tmp = berry_calloc((size_t)berry_pool_size(pool) * (size_t)ne[0], sizeof(float));
        if (!j.tmp) { s = berry_errf(err, err_size, BERRY_ENOMEM, "tensor '%s': out of memory", name); break; }
        berry_pool_run(pool, convert_rows, &j);
        berry_free(j.tmp);
        s = berry_gguf_add_tensor(w, name, dst, nd, ne, j.dst, out_bytes);
        st.n_converted++;
        st.bytes_out += out_bytes;
    }
    if (s == BERRY_OK) s = berry_gguf_write(w, out_path, err, err_size);
    for (int64_t i = 0; i < nt; i++) berry_free(bufs ? bufs[i] : NULL);
    free(bufs);
    berry_gguf_writer_free(w);
    berry_gguf_close(g);
    if (stats) *stats = st;
    return s;
}
