// results.h — evaluation metrics and per-problem JSONL result records, independent of how answers were
// produced, so that `berry eval` (and search methods) only fill records and call these.
// Metrics say what they are: accuracy of the first sample (greedy pass@1) with a 95% Wilson interval,
// maj@k (majority vote over k samples, answers grouped by the grader), and pass@k, which looks at the
// ground truth for every sample and is therefore an ORACLE metric, always labelled so.
#ifndef BERRY_RESULTS_H
#define BERRY_RESULTS_H
#include "base/err.h"
#include "math/grade.h"
#include <stdbool.h>
#include <stddef.h>

// 95% Wilson score interval for K successes in N trials (z = 1.959964). N = 0 gives [0, 1].
void berry_wilson(long k, long n, double *lo, double *hi);

// Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021).
double berry_pass_at_k(int n, int c, int k);

// Index of the majority answer among ANSWERS[0..n) (NULL entries are abstentions), grouping answers
// that the grader calls equal; ties go to the answer seen first. -1 when every entry is NULL.
int berry_majority(const char *const *answers, int n, const berry_grade_opts *opts);

// One problem's result. outputs/answers/correct have n_samples entries (answers[i] may be NULL).
typedef struct {
    char *id, *prompt, *reference;
    int n_samples;
    char **outputs, **answers;
    bool *correct;
    long tokens, model_calls;
    double seconds;
} berry_result;

// Appends R as one JSON line to the open file F and flushes it to disk (a killed run loses at most
// the problem in flight).
berry_status berry_result_append(void *file /* FILE* */, const berry_result *r, char *err, size_t err_size);

// Reads a results file. A last line cut short by a kill is ignored; other malformed lines are errors.
// A missing file gives zero records (a fresh run).
berry_status berry_results_load(const char *path, berry_result **out, size_t *n, char *err, size_t err_size);
void berry_results_free(berry_result *r, size_t n);

typedef struct {
    long problems;
    long first_correct;       // greedy pass@1 / sample-1 accuracy
    double acc, acc_lo, acc_hi;
    int k;                    // samples per problem (the smallest over problems)
    double maj_at_k;          // majority vote, no ground truth used
    double pass_at_k;         // ORACLE: uses the ground truth for every sample
    long tokens, model_calls;
    double seconds;
} berry_summary;

// OPTS grades the majority answer against the reference (NULL: defaults).
void berry_summarize(const berry_result *r, size_t n, const berry_grade_opts *opts, berry_summary *s);

#endif
