// tdata.h — training data from JSONL: {"text"} (pretraining), {"prompt","completion"} or
// {"question","answer"} (SFT: the chat template applied, only the answer trained on), and
// {"prompt","chosen","rejected"} (DPO pairs). Examples are tokenized once and packed into rows.
#ifndef BERRY_TDATA_H
#define BERRY_TDATA_H
#include "base/err.h"
#include "base/rng.h"
#include "text/tokenizer.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum { BERRY_TEX_TEXT = 0, BERRY_TEX_SFT = 1, BERRY_TEX_DPO = 2 } berry_tex_kind;

typedef struct {
    int32_t *tok[2];   // the sequence (DPO: prompt + chosen, prompt + rejected)
    uint8_t *train[2]; // 1 where the token is a training target (predicted from the previous one)
    int n[2];
    float *ref[2];     // DPO: the reference model's log p(tok[i+1] | tok[..i]) (n - 1 values), or NULL
} berry_texample;

typedef struct {
    berry_tex_kind kind;  // every line of a file has the same kind
    berry_texample *ex;
    int n;
} berry_tdata;

// Reads PATH. Errors name the line: malformed JSON, a missing or empty field, a mix of kinds, an
// example longer than N_CTX tokens. CHAT_FORMAT may be NULL (the model's own template).
berry_status berry_tdata_load(const char *path, const berry_tokenizer *t, const char *chat_format, int n_ctx,
                                berry_tdata *d, char *err, size_t err_size);
void berry_tdata_free(berry_tdata *d);

// Fills a batch of N_SEQ rows of N_CTX tokens by packing whole examples (text / SFT) in the order of
// epoch *EPOCH's shuffle (seeded by SEED and the epoch), starting at example *POS; advances *POS and
// *EPOCH. TOKENS, TARGETS, SEG (n_seq * n_ctx) and W (weights of the targets) are written; unused
// positions get target -1. Returns the number of trained targets.
int berry_tdata_pack(const berry_tdata *d, uint64_t seed, uint64_t *epoch, uint64_t *pos, int n_seq, int n_ctx,
                       int32_t *tokens, int32_t *targets, int32_t *seg, float *w);

// DPO: rows 2i and 2i+1 of a batch hold example E's chosen and rejected sequences (no packing), each
// padded to N_CTX. TOKENS, TARGETS (-1 past the end), MASK (1 on completion targets) and REF (E's
// reference log-probabilities where present, else 0) are (2, n_ctx). Returns the number of masked targets.
int berry_tdata_pair_rows(const berry_texample *e, int n_ctx, int32_t *tokens, int32_t *targets, float *mask, float *ref);

// Fills N_PAIRS such row pairs with the examples of epoch *EPOCH's shuffle from *POS (as berry_tdata_pack).
// Returns the number of masked targets.
int berry_tdata_pack_pairs(const berry_tdata *d, uint64_t seed, uint64_t *epoch, uint64_t *pos, int n_pairs,
                           int n_ctx, int32_t *tokens, int32_t *targets, float *mask, float *ref);

#endif
