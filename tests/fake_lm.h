// fake_lm.h — a scripted berry_lm for tests of search: generate and score call the test's functions
// instead of a model, and the fake records what it was asked (calls, batch sizes, temperatures).
// Tokens are counted as whitespace-separated words, so tests can state budgets by hand.
#ifndef BERRY_FAKE_LM_H
#define BERRY_FAKE_LM_H
#include "search/roles.h"
#include "lm/lm.h"

// The reply to one request (malloc'd text; NULL = empty). INDEX is the request's place in its batch.
typedef char *(*fake_reply_fn)(void *user, const char *prompt, const berry_sampling *s, int index);
// P(Yes) for a comparison prompt: the log-probability of "Yes", or of the first of the embedded
// judge's two check lines, is log P(Yes); of "No", or of the second line, log (1 - P(Yes)).
typedef double (*fake_judge_fn)(void *user, const char *prompt);

typedef struct {
    fake_reply_fn reply;
    fake_judge_fn judge;
    void *user;
    size_t max_prompt;     // longer prompts: generate finishes with CONTEXT and no text, score fails with ELIMIT (0: no limit)
    // Records.
    int n_generate, n_score;  // generate calls; prompts scored (one per request of a batched call)
    int n_score_batch;     // batched score calls
    int score_batch[256];  // requests of each batched score call (the first 256 calls)
    int batch[256];        // requests of each generate call (the first 256 calls)
    float temperature[256];  // of each call's first request
    char last_conts[2][64];  // the first two continuations of the last prompt scored that fit (cut to 63 bytes)
} fake_lm;

// A berry_lm whose impl is F (F must outlive it). berry_lm_free frees only the berry_lm.
berry_lm *fake_lm_new(fake_lm *f);

// The embedded role of a prompt written by berry_role_prompt, from its last line (a rewrite's from its
// instruction line: the prompt may end with the rewrite's start); -1 when unknown.
int fake_role_of(const char *prompt);
// Copies into BUF (SIZE bytes) the text of a prompt section: "Solution:\n" / "Solution A:\n" /
// "Solution B:\n" / "Critique: " up to the next line that starts a section; "" when absent. In the
// embedded comparison, "Solution A:\n" and "Solution B:\n" give solution A or B whole: the lines both
// begin with and what follows in each.
const char *fake_section(const char *prompt, const char *head, char *buf, size_t size);
// The number after "The answer is " in TEXT, or FALLBACK.
long fake_answer_of(const char *text, long fallback);
// printf into a new malloc'd string.
char *fake_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
