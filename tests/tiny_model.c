// train_tiny.c — see tiny_model.h.
#include "tiny_model.h"
#include "test.h"
#include "model/gguf.h"
#include "model/model.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

// GPT-2's byte-to-unicode map: printable bytes map to themselves, the others to U+0100 + k in order.
static void byte_token(int b, char *out) {
    int cp = b, k = 0;
    for (int x = 0; x <= b; x++) {
        int printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
        if (x == b && !printable) cp = 256 + k;
        k += !printable;
    }
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; }
    else { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 63)); out[2] = 0; }
}

const char *berry_ttest_model(const char *arch, int type, float std, const char *name, char *out, size_t out_size) {
    char vpath[1024], err[256];
    snprintf(vpath, sizeof vpath, "%s/vocab.gguf", berry_test_tmpdir());
    snprintf(out, out_size, "%s/%s", berry_test_tmpdir(), name);
    berry_gguf_writer *w = berry_gguf_writer_new();
    char tok_text[258][4];
    const char *toks[258];
    int32_t types[258];
    for (int b = 0; b < 256; b++) { byte_token(b, tok_text[b]); toks[b] = tok_text[b]; types[b] = 1; }
    toks[256] = "<|bos|>"; types[256] = 3;
    toks[257] = "<|eos|>"; types[257] = 3;
    berry_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    berry_gguf_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    berry_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 258);
    berry_gguf_set_arr(w, "tokenizer.ggml.token_type", BERRY_GGUF_INT32, types, 258);
    berry_gguf_set_arr_str(w, "tokenizer.ggml.merges", NULL, 0);
    berry_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 256);
    berry_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 257);
    berry_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", false);
    berry_status s = berry_gguf_write(w, vpath, err, sizeof err);
    berry_gguf_writer_free(w);
    if (s) return NULL;
    berry_gguf *vg = berry_gguf_open(vpath, err, sizeof err);
    if (!vg) return NULL;
    berry_model_init_opts o = {.type = type, .seed = 7, .std = std, .vocab = vg, .n_threads = 1};
    s = berry_hparams_preset(arch, "tiny", &o.hp, err, sizeof err);
    if (!s) s = berry_model_init(&o, out, err, sizeof err);
    berry_gguf_close(vg);
    if (s) fprintf(stderr, "    model: %s\n", err);
    return s == BERRY_OK ? out : NULL;
}

const char *berry_ttest_berry(void) {
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
    if (n <= 0) return NULL;
    path[n] = 0;
    char *slash = strrchr(path, '/');
    if (!slash) return NULL;
    strcpy(slash + 1, "berry");
    return access(path, X_OK) == 0 ? path : NULL;
}

int berry_ttest_sh(const char *cmd, const char *out, const char *err) {
    char full[8192];
    snprintf(full, sizeof full, "%s >%s 2>%s", cmd, out ? out : "/dev/null", err ? err : "/dev/null");
    int st = system(full);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *berry_ttest_read(const char *path) { return berry_test_read_file(path, NULL); }
