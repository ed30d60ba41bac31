// tiny_model.h — helpers for tests that need a model: tiny random models with a byte-level vocabulary
// (every byte one token, so texts are easy to reason about) and the berry binary beside the tests.
#ifndef BERRY_TINY_MODEL_H
#define BERRY_TINY_MODEL_H
#include <stddef.h>

// Writes a random model of the "tiny" preset of ARCH ("llama", "qwen2", "gemma2") with weight type TYPE
// (a berry_type) and a 258-token byte-level vocabulary (256 bytes, <|bos|>, <|eos|>) to
// <test tmpdir>/NAME; returns its path in OUT (of OUT_SIZE bytes), or NULL.
const char *berry_ttest_model(const char *arch, int type, float std, const char *name, char *out, size_t out_size);

// The berry executable of the same build as the running test binary (build/<variant>/berry), or NULL
// when it has not been built.
const char *berry_ttest_berry(void);

// Runs the shell command CMD (stdout and stderr to the files OUT and ERR when not NULL); returns its
// exit status, or -1 when it did not exit normally.
int berry_ttest_sh(const char *cmd, const char *out, const char *err);

// The whole file PATH, NUL-terminated (free it), or NULL.
char *berry_ttest_read(const char *path);

#endif
