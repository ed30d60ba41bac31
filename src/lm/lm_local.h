// lm_local.h — a berry_lm backed by a GGUF model on this machine: the engine's batched forward,
// its paged KV cache with prefix reuse, the model's tokenizer and chat template, berry's samplers.
#ifndef BERRY_LM_LOCAL_H
#define BERRY_LM_LOCAL_H
#include "lm/lm.h"

typedef struct {
    const char *model_path;
    int n_threads;      // 0: one per CPU
    int n_ctx;          // positions per sequence (prompt + generation); 0: min(model's, 4096)
    int max_batch;      // tokens per forward call (512 if 0)
    size_t kv_bytes;    // KV cache cap (512 MiB if 0)
    // Positions per KV page; 0: 4 when the context holds at most 1024 positions, else 16. A prompt
    // reuses cached positions in whole pages, so a page of P tokens wastes P/2 of them per prompt on
    // average: SR-MCTS@8 on the embedded model (512 positions) evaluates 12% fewer prompt tokens with
    // 4-token pages and runs no slower. Attention walks the cache page by page, and on Qwen2.5-0.5B's
    // shape at 2048 positions 4-token pages cost 20% more prefill and 37% more decode time than 16
    // (docs/search.md), hence 16 for long contexts.
    int kv_page_tokens;
    bool no_prefix_cache;  // evaluate every prompt from scratch, no forks (to measure what sharing saves)
    const char *lora_path;  // a LoRA adapter (llama.cpp's layout) applied at run time, or NULL
    float lora_scale;       // its user scale (llama.cpp's --lora-scaled); 0 means 1
} berry_lm_local_params;

berry_lm *berry_lm_local_open(const berry_lm_local_params *p, char *err, size_t err_size);

// The underlying pieces, for tools that need them (perplexity, the tokenize command).
struct berry_model;
struct berry_tokenizer;
struct berry_ctx;
const struct berry_model *berry_lm_local_model(berry_lm *lm);
const struct berry_tokenizer *berry_lm_local_tokenizer(berry_lm *lm);
struct berry_ctx *berry_lm_local_ctx(berry_lm *lm);

#endif
