// roles.h — the role prompts of the embedded model, defined in one place so that the curriculum
// generator (berry synth), the trainer and the search (SR-MCTS, MCTSr) build byte-identical text.
//
// Every prompt starts with "Question: Q\n", so prompts about one problem share their prefix in the KV
// cache; critique, rewrite and self-evaluation prompts also share "Solution:\nS\n", and comparisons
// of solutions that begin alike share those lines too. The instruction comes
// last; the rewrite repeats the question just before it, where the model reads it better. Solutions
// and critiques are passed without a trailing newline. The exact templates:
//
//   solve     "Question: {q}\nSolve step by step.\n"
//             -> "Step 1: 3 * 12 = 36 apples in the boxes.\n...\nThe answer is 29."
//   critique  "Question: {q}\nSolution:\n{s}\nFind the first wrong step.\n"
//             -> "Step 2 is wrong: ..." or "All steps are correct."
//   rewrite   "Question: {q}\nSolution:\n{s}\nCritique: {c}\nQuestion: {q}\nWrite a correct solution.\n"
//             -> a solution, as for solve (at inference the model may go on from a start taken from the
//                critique: berry_role_rewrite_start below)
//   selfeval  "Question: {q}\nSolution:\n{s}\nScore the solution from -100 to 100.\n"
//             -> "Score: 90"
//   compare   "Question: {q}\nBoth solutions begin:\n{shared}Solution A goes on:\n{a'}\nSolution B goes on:\n{b'}\n"
//             "Is solution A better than solution B?\n"
//             -> "Check: {line}"
//
// In the comparison, {shared} is the whole lines A and B begin with in common, each with its newline,
// and {a'} and {b'} are what follows in each. Written this way, the one place where the two solutions
// part is in plain view, and a 4-layer judge need not find it. The judge answers with the better
// solution's first line after the shared ones (for a slip, "Check: Step 2: 30 - 21 = 9 ..."): it redoes
// the step where the two part, as when it solves. Its preference is read from the two lines it could
// write: P(A better than B) = p(A's line) / (p(A's line) + p(B's line)). A Yes/No token after such a
// line was not learned in 1500 steps: the verdict ignored the line it followed (models/README.md).
#ifndef BERRY_ROLES_H
#define BERRY_ROLES_H
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    BERRY_ROLE_SOLVE,
    BERRY_ROLE_CRITIQUE,
    BERRY_ROLE_REWRITE,
    BERRY_ROLE_SELFEVAL,
    BERRY_ROLE_COMPARE,
    BERRY_ROLE_COUNT,
} berry_role;

const char *berry_role_name(berry_role role);  // "solve", "critique", "rewrite", "selfeval", "compare"

// The pieces of text a prompt may use; a role ignores the ones it does not need (NULL is read as "").
typedef struct {
    const char *question;
    const char *solution;    // critique, rewrite, selfeval; solution A for compare
    const char *critique;    // rewrite
    const char *other;       // solution B for compare
} berry_role_args;

// Writes ROLE's prompt into BUF (snprintf-style: at most SIZE bytes with the NUL) and returns its full
// length, so a caller can size a buffer with a first call of SIZE 0.
size_t berry_role_prompt(char *buf, size_t size, berry_role role, const berry_role_args *a);

// The compare role's check line for solution A (OF_A) or B: "Check: {line}", where {line} is that
// solution's first line after those A and B share ("(end)" when nothing follows them). The expected
// completion is the correct solution's; the judge scores both.
size_t berry_role_compare_check(char *buf, size_t size, const char *a, const char *b, bool of_a);
// The same line, malloc'd (NULL when memory runs out).
char *berry_role_compare_check_dup(const char *a, const char *b, bool of_a);
// The two check lines of a compare prompt written by berry_role_prompt (malloc'd into *CA and *CB):
// false when PROMPT is not one or memory runs out.
bool berry_role_compare_checks_of(const char *prompt, char **ca, char **cb);

// The start of a rewrite that follows CRITIQUE: SOLUTION's lines before the step K that the critique
// names ("Step K is wrong: ..."), each with its newline, then "Step K: {E}" when the critique states
// the corrected step E ("The correct step is 18 - 11 = 7.", "The missing step is 10 * 15 = 150.", or a
// slip's "9 / 3 is 3, not 2."). The model writes the rest of the rewrite after it, and the rewrite is
// this start followed by what the model writes. A tiny model does not copy a line from 150 tokens back
// reliably, and rewrites from scratch fail at steps the critique accepts (models/README.md).
// Only a critique whose claims hold (berry_critique_holds, src/search/critique.h) is followed this way;
// for any other the start is "", and the model writes the whole rewrite. Malloc'd, NULL when memory
// runs out.
char *berry_role_rewrite_start(const char *question, const char *solution, const char *critique);
// The same for a rewrite prompt written by berry_role_prompt; NULL when PROMPT is not one.
char *berry_role_rewrite_start_of(const char *prompt);

// Completion texts.
#define BERRY_ROLE_ANSWER_PREFIX "The answer is "     // the last line of a solution: "The answer is 29."
#define BERRY_ROLE_ALL_CORRECT "All steps are correct."
#define BERRY_ROLE_YES "Yes"
#define BERRY_ROLE_NO "No"
#define BERRY_ROLE_CHECK "Check: "                    // the judge's answer: the line to go on with
#define BERRY_ROLE_CHECK_END "(end)"                  // the check line of a solution that ends there
#define BERRY_ROLE_DUMMY_ANSWER "I don't know."       // MCTSr's dummy root answer
size_t berry_role_score_text(char *buf, size_t size, int score);   // "Score: -40"

// Parsers of model output; each skips leading whitespace and reads only the first line it needs.
// "Score: N" with N in [-100, 100] -> true and *SCORE = N.
bool berry_role_parse_score(const char *text, int *score);
// "Yes..." -> 1, "No..." -> 0, anything else -> -1.
int berry_role_parse_yes_no(const char *text);
// "Step K is wrong..." -> K (>= 1); "All steps are correct." -> 0; anything else -> -1.
int berry_role_parse_wrong_step(const char *text);

#endif
