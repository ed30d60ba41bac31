// lm.h — the one interface through which search, evaluation and reinforcement learning use a
// language model: batched generation from many prompts at once, log-probabilities of given
// continuations, and counters of the compute spent. A local GGUF model implements it (lm_local.c);
// a remote OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp's server) will implement the same
// vtable, so search does not know which it talks to.
#ifndef BERRY_LM_H
#define BERRY_LM_H
#include "base/err.h"
#include "text/chat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    float temperature;        // 0 = greedy
    int top_k;                // 0 = off
    float top_p;              // 1 = off
    float min_p;              // 0 = off
    uint64_t seed;            // the request draws from the random stream (seed, stream): requests with
    uint64_t stream;          // equal seed and stream draw equal numbers, wherever they sit in a call
    int max_tokens;           // generated tokens at most
    const char *const *stop;  // stop strings: generation ends when one appears; it is not returned
    int n_stop;
    bool want_tokens;         // fill tokens / token_logprobs of the output (for RL)
} berry_sampling;

// Receives generated text of request REQ as it is produced (never a stop string or a part of one).
typedef void (*berry_lm_stream_fn)(void *user, int req, const char *bytes, size_t n);

typedef struct {
    const char *prompt;  // full text; chat formatting is the caller's (berry_lm_chat renders it)
    berry_sampling sampling;
    berry_lm_stream_fn stream;  // optional
    void *stream_user;
} berry_lm_request;

typedef enum { BERRY_FINISH_STOP = 0, BERRY_FINISH_EOS, BERRY_FINISH_LENGTH, BERRY_FINISH_CONTEXT } berry_finish;

typedef struct {
    char *text;               // generated text (NUL-terminated), stop string removed
    size_t len;
    int n_tokens;             // tokens generated
    double logprob;           // sum of log p(token) under the model's unmodified distribution
    berry_finish finish;
    int32_t *tokens;          // n_tokens ids, when want_tokens
    float *token_logprobs;    // n_tokens log-probabilities, when want_tokens
} berry_lm_output;

typedef struct {
    int64_t calls;                    // generate / score calls
    int64_t prompt_tokens;            // prompt tokens submitted
    int64_t prompt_tokens_evaluated;  // of those, the ones actually computed (the rest came from the prefix cache)
    int64_t tokens_generated;
    double seconds;                   // wall time inside the model
} berry_lm_counters;

typedef struct berry_lm berry_lm;

// One prompt of a batched score call and the continuations to score after it.
typedef struct {
    const char *prompt;         // full text, as for berry_lm_score
    const char *const *conts;   // (n_conts) continuations
    int n_conts;
    double *logprob;            // (n_conts) receives log p(CONTS[c] | PROMPT), summed over its tokens
} berry_lm_score_request;

// The implementation behind a berry_lm. Every function returns BERRY_OK or an error with ERR set.
typedef struct {
    berry_status (*generate)(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out, char *err,
                             size_t err_size);
    // LOGPROB[i] = log p(CONTS[i] | PROMPT), summed over the continuation's tokens.
    berry_status (*score)(berry_lm *lm, const char *prompt, const char *const *conts, int n, double *logprob,
                          char *err, size_t err_size);
    // The chat-formatted prompt for MESSAGES (malloc'd), ending with the assistant's turn opening when
    // ADD_GENERATION_PROMPT.
    char *(*chat)(berry_lm *lm, const berry_chat_msg *msgs, int n, bool add_generation_prompt);
    void (*free)(berry_lm *lm);
    // Optional (NULL: berry_lm_score_batch calls SCORE once per request). Scores every request of
    // REQS[0..n) as berry_lm_score_batch documents; an implementation that can evaluate several
    // prompts at once (one forward for all of them, or one HTTP request) provides it.
    berry_status (*score_batch)(berry_lm *lm, const berry_lm_score_request *reqs, int n, berry_status *status,
                                char *err, size_t err_size);
} berry_lm_vtable;

struct berry_lm {
    const berry_lm_vtable *vt;
    berry_lm_counters counters;
    void *impl;
};

berry_status berry_lm_generate(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out, char *err,
                               size_t err_size);
berry_status berry_lm_score(berry_lm *lm, const char *prompt, const char *const *conts, int n, double *logprob,
                            char *err, size_t err_size);
// Scores several prompts in one call: for each request, what berry_lm_score(REQS[i].prompt, ...) would
// give, with the same prefix reuse as those calls made one after another in this order (a request
// reuses what the cache held before the call and the prompts of the requests before it), so the counters
// add up the same (prompt_tokens and prompt_tokens_evaluated; CALLS counts one, as for a generate call of
// many requests). A local model evaluates the uncached parts of all prompts together, in as few forwards
// as their shared prefixes allow. STATUS[i] receives BERRY_OK, or why request I alone was refused:
// BERRY_ELIMIT (the prompt, or the prompt and a continuation, do not fit the context; nothing of it is
// evaluated) or BERRY_EINVAL (an empty prompt); its LOGPROB is then left unset and ERR names the first
// refused request, while the others are scored and the call returns BERRY_OK. Any other failure (memory,
// the model) fails the whole call.
berry_status berry_lm_score_batch(berry_lm *lm, const berry_lm_score_request *reqs, int n, berry_status *status,
                                  char *err, size_t err_size);
char *berry_lm_chat(berry_lm *lm, const berry_chat_msg *msgs, int n, bool add_generation_prompt);
void  berry_lm_free(berry_lm *lm);
void  berry_lm_output_clear(berry_lm_output *o);  // frees the output's buffers

#endif
