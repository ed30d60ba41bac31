// results.h — evaluation metrics and the per-problem JSONL result record, independent of how answers
// were produced: `berry eval` (src/data/eval.h) fills records, writes them, resumes from them and
// summarizes them.
// Metrics say what they are: accuracy of the first sample (greedy pass@1) with a 95% Wilson interval,
// maj@k (majority vote over k samples, answers grouped by the grader), and pass@k, which looks at the
// ground truth for every sample and is therefore an ORACLE metric, always labelled so.
#ifndef BERRY_RESULTS_H
#define BERRY_RESULTS_H
#include "base/err.h"
#include "math/grade.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

// 95% Wilson score interval for K successes in N trials (z = 1.959964). N = 0 gives [0, 1].
void berry_wilson(long k, long n, double *lo, double *hi);

// Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021).
double berry_pass_at_k(int n, int c, int k);

// Index of the majority answer among ANSWERS[0..n) (NULL entries are abstentions), grouping answers
// that the grader calls equal; ties go to the answer seen first. -1 when every entry is NULL.
int berry_majority(const char *const *answers, int n, const berry_grade_opts *opts);

// One problem's record, one JSON line: the problem (id, prompt, reference), the method and its budget,
// the outputs with their extracted answers and verdicts, the method's pick and the majority, and the
// compute (tokens generated, prompt tokens submitted and evaluated, model calls, seconds). Calls, prompt
// tokens and seconds of a model call shared by BATCH problems are split between them (remainders to
// the first), so sums over records are exact. Lines written before the method fields existed (id,
// prompt, reference, outputs, answers, correct, tokens, model_calls, seconds) still load: their pick is
// the first output.
typedef struct {
    char *id, *method, *model, *data, *prompt, *reference, *stop;
    int budget;                 // -k as the method read it (1 for greedy)
    int n;                      // samples / outputs
    char **outputs, **answers;  // n each; answers[i] may be NULL
    bool *correct;              // n verdicts against the reference
    int pick, majority;         // -1 when none
    int nodes, batch;
    long tokens, prompt_tokens, prompt_tokens_evaluated, model_calls;
    double seconds;
} berry_result;

void berry_result_clear(berry_result *r);

// Appends R as one line to F and flushes it to disk (fsync), so a kill loses at most the problem in
// flight.
berry_status berry_result_write(FILE *f, const berry_result *r, char *err, size_t err_size);

// Reads a results file into *OUT (N records). A last line cut short by a kill is ignored; *GOOD_BYTES
// (may be NULL) receives where the complete lines end, so an appending run can cut the torn line off.
// A missing file gives zero records (a fresh run). Other malformed lines are errors naming the line.
berry_status berry_results_load(const char *path, berry_result **out, size_t *n, long *good_bytes, char *err,
                                size_t err_size);
void berry_results_free(berry_result *r, size_t n);

#endif
