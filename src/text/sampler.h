// sampler.h — choosing the next token from a row of logits: greedy, or temperature sampling after the
// top-k, top-p and min-p filters, applied in llama.cpp's default order (top-k, top-p, min-p, then
// temperature), seeded through berry_rng streams so that runs are reproducible. Also the
// log-probabilities search and training need: of the chosen token under the model's own distribution
// (log-softmax of the raw logits) and under the distribution it was actually drawn from.
//
// Definitions (each filter sees the distribution left by the previous one, renormalized, at
// temperature 1; candidates are ordered by logit, ties by lower id):
//   top-k  keeps the K highest logits.
//   top-p  keeps the shortest ordered prefix whose probability mass reaches P (the token that crosses P
//          is kept).
//   min-p  keeps the tokens with p >= min_p * p_max.
//   then   p ~ exp(logit / temperature) over what is left.
// Tokens with logit -inf are never drawn. Cost per token is a few O(n_vocab) passes plus the sorting of
// a small set (the top-k, or the one histogram bucket where top-p's mass crosses p): the vocabulary is
// never fully sorted. About 0.3 ms (greedy with log-prob) to 0.7 ms (llama.cpp's defaults) per token
// for a 152k vocabulary on one core.
#ifndef BERRY_SAMPLER_H
#define BERRY_SAMPLER_H
#include "base/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    float temperature;  // 0: greedy (argmax of the raw logits, ties to the lowest id)
    int top_k;          // 0: off
    float top_p;        // 0 or 1: off
    float min_p;        // 0: off
    uint64_t seed;      // with stream 0; berry_sampler_seed picks another stream
    bool logprobs;      // fill berry_sample.logprob (one more pass over the logits)
} berry_sampler_params;

// llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05; seed 0, logprobs on.
berry_sampler_params berry_sampler_default_params(void);

typedef struct {
    int32_t token;
    float logprob;          // log softmax(raw logits)[token]; NAN when params.logprobs is off
    float logprob_sampler;  // log of the probability the token was drawn with (0 when greedy)
} berry_sample;

typedef struct berry_sampler berry_sampler;  // opaque; holds scratch space for one row, not thread-safe

// Validates P (temperature >= 0, top_k >= 0, top_p and min_p in [0, 1], all finite).
berry_sampler *berry_sampler_create(const berry_sampler_params *p, char *err, size_t err_size);
void berry_sampler_free(berry_sampler *s);
// Restarts the random stream at (SEED, STREAM): one sampler per search branch can use its own stream.
void berry_sampler_seed(berry_sampler *s, uint64_t seed, uint64_t stream);

// Draws a token from LOGITS (n_vocab). BERRY_EINVAL for n_vocab < 1, a NaN or +inf logit, or a row
// without a finite logit.
berry_status berry_sampler_sample(berry_sampler *s, const float *logits, int n_vocab, berry_sample *out,
                                  char *err, size_t err_size);

// The distribution berry_sampler_sample draws from: the *N_OUT surviving tokens in IDS with their
// probabilities in PROBS (each array of n_vocab), most likely first, ties by lower id. Greedy gives
// the argmax with probability 1.
berry_status berry_sampler_dist(berry_sampler *s, const float *logits, int n_vocab, int32_t *ids, float *probs,
                                int *n_out, char *err, size_t err_size);

// log softmax(LOGITS)[TOKENS[i]] into OUT[i], i < N, for one row of n_vocab logits.
berry_status berry_sampler_logprobs(const float *logits, int n_vocab, const int32_t *tokens, int n, float *out,
                                    char *err, size_t err_size);
// One token per row: OUT[r] = log softmax(LOGITS[r, :])[TOKENS[r]]; LOGITS is (n_rows, n_vocab).
berry_status berry_sampler_logprobs_rows(const float *logits, int n_rows, int n_vocab, const int32_t *tokens,
                                         float *out, char *err, size_t err_size);

#endif
