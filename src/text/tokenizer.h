// tokenizer.h — tokenizers read from GGUF metadata (tokenizer.ggml.*), exact to the token.
//
// Supported: byte-level BPE (tokenizer.ggml.model "gpt2") with the pre-tokenizers of llama-3
// ("llama-bpe" and its aliases), qwen2 and gpt-2; SentencePiece BPE (model "llama") with byte fallback,
// as used by Llama-2; and SentencePiece-style BPE with merges (model "gemma4"). Behaviour follows
// llama.cpp's llama-vocab (special-token splitting, BOS/EOS rules, end-of-generation tokens), which in
// turn follows Hugging Face's tokenizers; tests/test_tokenizer*.c check both.
//
// Input need not be valid UTF-8: byte-level BPE encodes every byte (bytes that are not part of a valid
// character form their own pre-token), SentencePiece models use their byte tokens, so decoding the
// tokens of any input gives back the input's exact bytes. A berry_tokenizer is immutable after
// loading: any number of threads may call berry_tokenize on it at once.
#ifndef BERRY_TOKENIZER_H
#define BERRY_TOKENIZER_H
#include "base/err.h"
#include "model/gguf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct berry_tokenizer berry_tokenizer;  // opaque

// Builds the tokenizer from G's metadata; G may be closed afterwards (everything is copied).
// Returns NULL with one line in ERR for a missing or malformed vocabulary or an unsupported
// tokenizer.ggml.model / tokenizer.ggml.pre.
berry_tokenizer *berry_tokenizer_from_gguf(const berry_gguf *g, char *err, size_t err_size);
void berry_tokenizer_free(berry_tokenizer *t);

// Tokenizes TEXT (LEN bytes, NULs allowed) into OUT (capacity CAP). Returns the number of tokens, or
// -1 with ERR. When the count exceeds CAP, the first CAP tokens are written and the full count is
// returned (call again with a larger buffer). ADD_BOS adds the special tokens the model asks for
// (tokenizer.ggml.add_bos_token / add_eos_token, as llama.cpp's add_special): Llama-3 and Gemma get
// BOS, Qwen2 gets none. PARSE_SPECIAL lets control tokens written in TEXT ("<|eot_id|>") become
// their ids; without it they are tokenized as plain text. User-defined tokens always match.
int64_t berry_tokenize(const berry_tokenizer *t, const char *text, size_t len, bool add_bos,
                       bool parse_special, int32_t *out, int64_t cap, char *err, size_t err_size);

// The bytes of token ID (byte-level and byte-fallback decoding applied; "▁" shown as a space;
// control tokens give their text). Copies min(length, CAP) bytes into BUF (no NUL added) and returns
// the full length; 0 for an id out of range.
size_t berry_token_bytes(const berry_tokenizer *t, int32_t id, char *buf, size_t cap);
// The token's text as stored in the vocabulary ("Ġthe", "▁the", "<0x0A>"), NUL-terminated; NULL
// when ID is out of range.
const char *berry_tokenizer_text(const berry_tokenizer *t, int32_t id);

// Decodes N tokens into OUT (capacity CAP, no NUL added); returns the full length (as
// berry_token_bytes). SKIP_SPECIAL drops control and unknown tokens. For SentencePiece models that
// prefix a space, the space tokenization added at the start of the text is removed, so that
// decoding berry_tokenize's output gives back the input.
size_t berry_detokenize(const berry_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
                        char *out, size_t cap);

int32_t berry_tokenizer_n_vocab(const berry_tokenizer *t);
int32_t berry_tokenizer_bos(const berry_tokenizer *t);  // -1 when the model has none
int32_t berry_tokenizer_eos(const berry_tokenizer *t);  // -1 when the model has none
int32_t berry_tokenizer_eot(const berry_tokenizer *t);  // <|eot_id|>, <|im_end|>, <end_of_turn>; or -1
bool    berry_tokenizer_adds_bos(const berry_tokenizer *t);  // whether ADD_BOS adds a BOS token
// End of generation: eos, eot, eom and the tokens llama.cpp treats so (<|im_end|>, <end_of_turn>, ...).
bool    berry_tokenizer_is_eog(const berry_tokenizer *t, int32_t id);
// Control or unknown tokens (what SKIP_SPECIAL drops).
bool    berry_tokenizer_is_control(const berry_tokenizer *t, int32_t id);
// The id of the token whose stored text is PIECE exactly, or -1.
int32_t berry_tokenizer_find(const berry_tokenizer *t, const char *piece);

// Metadata the chat templates need: tokenizer.chat_template (NULL when absent) and
// general.architecture ("" when absent). Owned by T.
const char *berry_tokenizer_chat_template(const berry_tokenizer *t);
const char *berry_tokenizer_arch(const berry_tokenizer *t);
// tokenizer.ggml.model and the pre-tokenizer in use ("gpt2"/"llama-bpe", "llama"/"", ...).
const char *berry_tokenizer_model_name(const berry_tokenizer *t);
const char *berry_tokenizer_pre_name(const berry_tokenizer *t);

// Splits TEXT into the pre-tokens of byte-level BPE with pre-tokenizer PRE ("llama-bpe", "qwen2",
// "gpt-2"), calling FN for each in order (BPE training counts words with it). The pre-tokens cover
// TEXT exactly.
berry_status berry_pretokenize(const char *pre, const char *text, size_t len,
                               void (*fn)(void *ctx, const char *word, size_t n), void *ctx,
                               char *err, size_t err_size);
// The same with the regex alone, without berry's ASCII fast path (the reference it is tested against).
berry_status berry_pretokenize_regex(const char *pre, const char *text, size_t len,
                                     void (*fn)(void *ctx, const char *word, size_t n), void *ctx,
                                     char *err, size_t err_size);

// ---- streaming decoder ---------------------------------------------------------------------------
// Turns generated tokens into text as they come, holding back the bytes of a UTF-8 character that
// the next token will complete (a byte-fallback emoji spans four tokens), so that every chunk it
// returns ends on a character boundary. Bytes that can never become valid UTF-8 are passed on.
typedef struct berry_detok berry_detok;  // opaque

berry_detok *berry_detok_new(const berry_tokenizer *t, bool skip_special);
void berry_detok_free(berry_detok *d);
// Adds token ID; returns the bytes now complete (*LEN of them, possibly 0), valid until the next
// call. NULL only when memory runs out.
const char *berry_detok_push(berry_detok *d, int32_t id, size_t *len);
// Returns whatever is held back (an incomplete character at the end of the stream) and resets.
const char *berry_detok_flush(berry_detok *d, size_t *len);

#endif
