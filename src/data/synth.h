// synth.h — the synthetic math curriculum: seeded word problems in the spirit of GSM8K (2 to 8 steps;
// the four operations, fractions, percentages, rates, linear equations), their step-by-step solutions,
// flawed solutions with exactly one injected error, critiques and self-evaluation scores.
//
// A problem is a small computation graph: step i computes X op Y where each operand is a number given
// in the question or the result of an earlier step. A solution is that graph executed and printed, one
// line per step, in one fixed format the tiny model can learn:
//
//   Step 1: 3 * 12 = 36 apples in the boxes.
//   Step 2: 36 - 7 = 29 apples left.
//   The answer is 29.
//
// Numbers are exact rationals, printed as 29, 3/4 (no spaces inside a fraction) or 25% (a percent
// operand, worth 25/100); operators are ' + ', ' - ', ' * ', ' / ' with one space each side. A flawed
// solution executes the same graph with one change (a slip, a wrong operation, a dropped or repeated
// step, a misread quantity) and lets the error propagate, as a model's real mistake would.
//
// Splits are disjoint by construction: a problem's split is a function of the hash of its canonical
// structure (family, operations, operand wiring and numbers; not its names or wording), so the same
// problem can never land in two splits, for any seed. Writing rejects duplicates of that hash.
#ifndef BERRY_SYNTH_H
#define BERRY_SYNTH_H
#include "base/err.h"
#include "base/rng.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BERRY_SYNTH_MAX_STEPS 10   // a problem has at most 8; flawed solutions may repeat one
#define BERRY_SYNTH_LEVELS 5

typedef struct { int64_t num, den; } berry_synth_q;  // den > 0, reduced

typedef enum { BERRY_SYNTH_TRAIN, BERRY_SYNTH_DEV, BERRY_SYNTH_TEST } berry_synth_split;

typedef enum {
    BERRY_SYNTH_CORRECT = 0,
    BERRY_SYNTH_SLIP,       // the result of one step is miscomputed
    BERRY_SYNTH_WRONG_OP,   // one step uses the wrong operation (adds instead of subtracting ...)
    BERRY_SYNTH_DROPPED,    // one step is left out; the next step that needs it uses its input instead
    BERRY_SYNTH_REPEATED,   // one step is done twice
    BERRY_SYNTH_MISREAD,    // one number from the question is copied wrongly
    BERRY_SYNTH_N_FLAWS,
} berry_synth_flaw;

// An operand: REF >= 0 is an earlier step's result; REF == -1 is the number V given in the question,
// printed as a percent when PCT (V is then the fraction, 25% has V = 1/4).
typedef struct {
    int ref;
    berry_synth_q v;
    bool pct;
} berry_synth_operand;

typedef struct {
    char op;                  // '+', '-', '*', '/'
    berry_synth_operand x[2]; // x[0] op x[1]
    int carry;                // the operand of the same kind as the result (what a dropped step leaves)
    bool frac_ok;             // the result may be a fraction (sharing pizzas, solving 4x + 1 = 8)
    char what[72];            // printed after the result: " apples left", ", so x = %v" (%v: the result)
    char why[112];            // the question's reason for the step: "Mia gives away 7 apples"
} berry_synth_step;

typedef struct {
    char question[768];
    int n_steps;
    berry_synth_step steps[BERRY_SYNTH_MAX_STEPS];
    berry_synth_q answer;
    int level;                // 1..5
    const char *family;       // "inventory", "shopping", "rate", "equation"
    uint64_t key;             // hash of the canonical structure
    berry_synth_split split;  // berry_synth_split_of(key)
} berry_synth_problem;

// One printed line of a solution: A op B = C, about step STEP of the problem.
typedef struct {
    char op;
    berry_synth_q a, b, c;
    bool apct, bpct;
    int step;
} berry_synth_line;

typedef struct {
    int n_lines;
    berry_synth_line line[BERRY_SYNTH_MAX_STEPS + 1];
    berry_synth_q answer;       // the last line's result
    berry_synth_flaw flaw;
    int flaw_step;              // the problem step the flaw was injected at (-1 when correct)
    int first_wrong;            // 1-based number of the first wrong line; 0 when correct
    char critique[512];         // "Step 3 is wrong: ..." or "All steps are correct."
} berry_synth_solution;

// Difficulty: level L has STEPS_MIN..STEPS_MAX steps and givens up to MAX_GIVEN.
typedef struct { int steps_min, steps_max; int64_t max_given, max_value; } berry_synth_level_info;
berry_synth_level_info berry_synth_level(int level);

const char *berry_synth_split_name(berry_synth_split s);   // "train", "dev", "test"
const char *berry_synth_flaw_name(berry_synth_flaw f);     // "correct", "slip", "wrong_op", ...
berry_synth_split berry_synth_split_of(uint64_t key);      // 80% train, 10% dev, 10% test

// Generates one problem of LEVEL (1..5) from R. Returns BERRY_EINVAL for a bad level; otherwise always
// succeeds (candidates that break a constraint are redrawn from R).
berry_status berry_synth_generate(berry_synth_problem *p, berry_rng *r, int level, char *err, size_t err_size);

// Recomputes p->key, p->split and p->answer from the steps (for problems built by hand). False when a
// step refers forward, divides by zero or overflows.
bool berry_synth_finish(berry_synth_problem *p);

// The correct solution.
void berry_synth_solve(const berry_synth_problem *p, berry_synth_solution *s);

// Another correct path through P, for solutions that differ in more than their errors: OUT is P with its
// steps in a random order that computes every step after the steps it uses (the last step, the answer,
// stays last), and the two operands of each + or * step (none of them a percent) swapped with
// probability 1/2. OUT asks the same question and has the same answer; its key and split are P's.
// A policy that has seen one problem solved along different paths makes different mistakes on
// different samples, which is what a majority vote needs (see models/README.md).
void berry_synth_vary(const berry_synth_problem *p, berry_rng *r, berry_synth_problem *out);

// A solution with one error of KIND injected at problem step STEP; R draws the slip or the misread
// number. Returns false when that error does not apply there or would not change the answer (or would
// produce a negative or unwieldy number).
bool berry_synth_flaw_at(const berry_synth_problem *p, berry_synth_flaw kind, int step, berry_rng *r,
                         berry_synth_solution *s);
// A flawed solution of a kind drawn from R (AVOID, when not 0, is a kind to avoid if another applies).
bool berry_synth_flaw_any(const berry_synth_problem *p, berry_rng *r, berry_synth_flaw avoid,
                          berry_synth_solution *s);

// Prints X as "29", "3/4" or "-2"; returns the length snprintf would.
int berry_synth_qfmt(char *buf, size_t size, berry_synth_q x);

// Prints a solution: one "Step k: ..." line per step and "The answer is N." (no trailing newline).
// Returns the length snprintf would.
size_t berry_synth_render(char *buf, size_t size, const berry_synth_problem *p, const berry_synth_solution *s);

// The self-evaluation label (MCTSr's score in [-100, 100]): 90 for a correct solution; for a flawed one
// -90 when step 1 is wrong, rising by tens the later the first error, at most -30.
int berry_synth_score(const berry_synth_solution *s);

// ---- writing a curriculum (synth_write.c) ----

typedef struct {
    uint64_t seed;
    long n_train, n_dev, n_test;   // problems per split
    int level_lo, level_hi;        // levels drawn round-robin in [lo, hi]
    int flaws;                     // flawed solutions per problem (1..4)
    bool vary;                     // solve and pretrain records take a berry_synth_vary path
} berry_synth_config;

typedef struct {
    long problems[3];              // per split
    long records;                  // JSONL lines written, all files
    long candidates, duplicates;   // problems drawn, and rejected as repeats of an earlier hash
    long per_level[3][BERRY_SYNTH_LEVELS + 1];
} berry_synth_stats;

typedef void (*berry_synth_progress_fn)(void *ctx, long done, long total);

// Generates the curriculum CFG describes and writes DIR/SPLIT_ROLE.jsonl for every split and role (the
// files and fields are listed in synth_write.c and `berry synth --help`). DIR must exist. PROGRESS, when
// not NULL, is called now and then. Fails with BERRY_ELIMIT when the levels hold too few distinct
// problems for the counts asked.
berry_status berry_synth_write(const berry_synth_config *cfg, const char *dir, berry_synth_progress_fn progress,
                               void *ctx, berry_synth_stats *stats, char *err, size_t err_size);

#endif
