// eval.h — the evaluation harness behind `berry eval`: methods that answer problems through a berry_lm,
// per-problem JSONL records (data/results.h) written durably and resumed after a kill, summaries whose
// metrics say what they are, and the comparison report (Markdown table, SVG of accuracy against tokens
// generated).
//
// Honesty by construction: a method sees a berry_eval_problem, which holds no reference answer; the
// harness grades what the method chose. The method's answer (PICK), maj@k and the sample-1 accuracy use
// no ground truth; pass@k looks at the reference of every sample and is an ORACLE, always labelled so.
//
//   berry_eval_run_params rp = berry_eval_run_defaults();
//   rp.method = berry_eval_method_find("greedy");
//   rp.opts.prompts = &prompts;
//   berry_eval_run(lm, dataset, &rp, "results.jsonl", &stats, err, sizeof err);
//   ... berry_results_load("results.jsonl", &recs, &n, NULL, err, sizeof err);
//   berry_eval_summarize(recs, n, &summary);
#ifndef BERRY_EVAL_H
#define BERRY_EVAL_H
#include "base/err.h"
#include "data/dataset.h"
#include "data/results.h"
#include "lm/lm.h"
#include "math/extract.h"
#include "math/grade.h"
#include "search/prompts.h"
#include "search/search.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// ---------------------------------------------------------------- methods

// A problem as a method sees it: no reference answer, so no method can steer or pick by the truth.
typedef struct {
    const char *id, *question;
    berry_extract_mode extract;  // how a final answer is found in an output
    berry_grade_opts grade;      // how answers compare with each other (majority vote)
} berry_eval_problem;

typedef struct {
    const berry_prompts *prompts;  // how a problem is put to the model (embedded roles or instruct)
    int k;                         // budget: samples (sample), rollouts / samples (search methods)
    berry_sampling sampling;       // greedy forces temperature 0; search methods use max_tokens and seed
    bool sampling_set;             // the temperature was given explicitly (search methods then use it too)
    int max_parallel;              // requests per generate call at most (0: no limit)
    // Search methods: every constant of the search (src/search/flags.h parses them for berry solve and
    // berry eval alike). NULL, or built for another method: berry_search_defaults of the method, with
    // max_tokens and, when sampling_set, the sampling of SAMPLING. The rollouts are K either way; the
    // seed is mixed with each problem's id.
    const berry_search_params *search;
    berry_lm *prm;                 // the comparison judge of sr-mcts and bon; NULL: the policy judges
    const berry_prompts *prm_prompts;  // its prompt set; NULL: PROMPTS
} berry_eval_opts;

// What a method returns for one problem. Counters of model use are the harness's business.
typedef struct {
    int n;                     // outputs
    char **outputs, **answers; // n each (malloc'd); answers[i] NULL when the output has none
    int pick;                  // index of the method's answer, chosen without the reference; -1 none
    long tokens;               // tokens generated for this problem
    int nodes;                 // search methods: solutions in the tree (0 otherwise)
    char *prompt;              // the solve prompt as sent (malloc'd), for the record
    char *stop;                // search methods: why the search stopped (malloc'd), or NULL
} berry_eval_answer;

void berry_eval_answer_clear(berry_eval_answer *a);

// Answers N problems (several only for methods with BATCHES), writing OUT[0..n). On an error the
// outputs may be partly filled and are cleared by the caller.
typedef berry_status (*berry_eval_method_fn)(berry_lm *lm, const berry_eval_problem *probs, int n,
                                             const berry_eval_opts *o, berry_eval_answer *out, char *err,
                                             size_t err_size);

typedef struct {
    const char *name;      // "greedy", "sample", "sc", "bon", "mctsr", "sr-mcts", "refine"
    const char *help;      // one line for --help
    berry_eval_method_fn fn;
    bool batches;          // can answer several problems in one call (their requests share generate calls)
    bool uses_k;           // -k is its budget (greedy: always 1)
} berry_eval_method;

// The method table (one place: src/data/eval_methods.c). N receives its length.
const berry_eval_method *berry_eval_methods(int *n);
const berry_eval_method *berry_eval_method_find(const char *name);  // NULL when unknown

// The prompt set a model speaks by default: the embedded model's role prompts (src/search/roles.h) for
// the embedded model (general.name "berry-tiny", or a name starting with it: its fine-tunes), instruct
// templates (a system and a user message through the chat template, \boxed{} answers) otherwise.
berry_prompts_kind berry_eval_prompts_for(const char *general_name);

// ---------------------------------------------------------------- summary

typedef struct {
    const char *method, *model, *data;  // of the first record (pointers into the records)
    int budget;
    bool mixed;                 // records of several methods or budgets: the figures mix them
    long problems;
    long correct;               // the method's answer (PICK) is right
    double acc, acc_lo, acc_hi; // correct / problems with a 95% Wilson interval
    int k;                      // samples per problem (the smallest over records)
    long first_correct;         // sample 1 alone
    double first_acc;
    double maj_at_k;            // majority over the first k samples, grouped by the grader, no ground truth
    double pass_at_k;           // ORACLE: unbiased pass@k, looks at the reference of every sample
    long tokens, prompt_tokens, prompt_tokens_evaluated, model_calls;
    double seconds;             // model wall time, summed over records
} berry_eval_summary;

void berry_eval_summarize(const berry_result *r, size_t n, berry_eval_summary *s);

// The summary as text for people (several lines) or as one JSON object (JSON true). Malloc'd.
char *berry_eval_summary_text(const berry_eval_summary *s, bool json);

// ---------------------------------------------------------------- the run

typedef struct {
    long done, total;           // records in the file after this one / problems in the range
    long correct;               // of the done, the method's answer is right (running accuracy)
} berry_eval_progress;

typedef struct {
    const berry_eval_method *method;
    berry_eval_opts opts;
    long offset, limit;         // problems [offset, offset + limit) of the dataset; limit 0 = to the end
    int batch;                  // problems per method call (methods that batch; 1 otherwise)
    const char *model_name, *data_name;  // written into records
    void (*on_record)(void *user, const berry_result *r, const berry_eval_progress *p);
    void *user;
} berry_eval_run_params;

berry_eval_run_params berry_eval_run_defaults(void);

typedef struct {
    long skipped;               // problems of the range already in the results file
    long evaluated;             // problems answered by this run
    double seconds;             // wall time of this run
} berry_eval_run_stats;

// Evaluates the range of D with P->method and appends a record per problem to RESULTS_PATH, skipping
// ids already there. Records of another method or budget in the file are an error (use another file).
berry_status berry_eval_run(berry_lm *lm, const berry_dataset *d, const berry_eval_run_params *p,
                            const char *results_path, berry_eval_run_stats *stats, char *err, size_t err_size);

// ---------------------------------------------------------------- the report

// One row per summary: | method | budget | data | problems | accuracy | 95% interval | maj@k |
// pass@k (ORACLE) | tokens/problem | prompt evaluated/problem | calls/problem | s/problem |. Malloc'd.
char *berry_eval_report_table(const berry_eval_summary *s, int n);

// An SVG plot of accuracy (with the 95% interval) against generated tokens per problem, one point per
// summary, lines joining the budgets of one method. Malloc'd; NULL when memory runs out.
char *berry_eval_report_svg(const berry_eval_summary *s, int n, const char *title);

#endif
