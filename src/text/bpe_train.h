// bpe_train.h — learn a byte-level BPE vocabulary from text and write it as GGUF tokenizer metadata.
//
// The result is a "gpt2" tokenizer (byte-level BPE) with the Llama 3 pre-tokenizer ("llama-bpe", numbers
// in groups of up to 3 digits) or, on request, Qwen2's ("qwen2", one digit per pre-token), so
// that berry and llama.cpp both load it and tokenize exactly alike: 256 byte tokens (ids 0..255, in
// byte order, written in GPT-2's byte alphabet), then one token per merge in the order learned, then
// the special tokens (control type). Training counts the pre-tokens of the text (the same regex the
// tokenizer uses), then repeatedly merges the most frequent adjacent pair, weighted by word counts;
// ties go to the pair with the smaller (left id, right id). Pair counts are updated incrementally and
// the best pair comes from a max-heap, so a merge costs time proportional to the words it touches.
#ifndef BERRY_BPE_TRAIN_H
#define BERRY_BPE_TRAIN_H
#include "base/err.h"
#include "model/gguf.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int32_t vocab_size;            // total tokens: 256 bytes + merges + specials (at least 256 + n_specials)
    int64_t min_frequency;         // pairs seen fewer times are never merged (0 means 2)
    const char *const *specials;   // control tokens; NULL: Llama 3's <|begin_of_text|>, <|end_of_text|>,
    int n_specials;                //   <|start_header_id|>, <|end_header_id|>, <|eot_id|> (BOS, EOS, chat)
    const char *pre;               // pre-tokenizer: "llama-bpe" (NULL) or "qwen2"; the GGUF names it
} berry_bpe_options;

typedef struct berry_bpe berry_bpe;  // a trained vocabulary (opaque)

// Trains on N texts (TEXTS[i] of LENS[i] bytes). NULL with ERR on failure.
berry_bpe *berry_bpe_train(const char *const *texts, const size_t *lens, size_t n, const berry_bpe_options *opt,
                           char *err, size_t err_size);
void berry_bpe_free(berry_bpe *b);
int32_t berry_bpe_n_tokens(const berry_bpe *b);
int32_t berry_bpe_n_merges(const berry_bpe *b);
// Merge I as GGUF stores it: "left right" in the byte alphabet (NUL-terminated, owned by B).
const char *berry_bpe_merge(const berry_bpe *b, int32_t i);

// Adds the tokenizer keys to W: tokenizer.ggml.model "gpt2", .pre (the one trained with), .tokens, .token_type,
// .merges, .bos_token_id / .eos_token_id (the first two specials), .add_bos_token true.
berry_status berry_bpe_write(const berry_bpe *b, berry_gguf_writer *w, char *err, size_t err_size);

// Reads the files, trains, and writes a vocab-only GGUF at OUT (general.architecture "llama").
berry_status berry_bpe_train_files(const char *const *paths, int n_paths, const berry_bpe_options *opt,
                                   const char *out, char *err, size_t err_size);

#endif
