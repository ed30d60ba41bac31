// roles.h — the role prompts of the embedded model, defined in one place so that the curriculum
// generator (berry synth), the trainer and the search (SR-MCTS, MCTSr) build byte-identical text.
//
// Every prompt starts with "Question: Q\n", so prompts about one problem share their prefix in the KV
// cache; critique, rewrite and self-evaluation prompts also share "Solution:\nS\n", and the pairwise
// comparison shares (question, solution A) across all the B it is compared with. The instruction comes
// last; the rewrite repeats the question just before it, where the model reads it better. Solutions
// and critiques are passed without a trailing newline. The exact templates:
//
//   solve     "Question: {q}\nSolve step by step.\n"
//             -> "Step 1: 3 * 12 = 36 apples in the boxes.\n...\nThe answer is 29."
//   critique  "Question: {q}\nSolution:\n{s}\nFind the first wrong step.\n"
//             -> "Step 2 is wrong: ..." or "All steps are correct."
//   rewrite   "Question: {q}\nSolution:\n{s}\nCritique: {c}\nQuestion: {q}\nWrite a correct solution.\n"
//             -> a solution, as for solve
//   selfeval  "Question: {q}\nSolution:\n{s}\nScore the solution from -100 to 100.\n"
//             -> "Score: 90"
//   compare   "Question: {q}\nSolution A:\n{a}\nSolution B:\n{b}\nIs solution A better than solution B?\n"
//             -> "Yes" or "No"   (the PPRM reads P(Yes) from the logits of the first answer token)
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

// Completion texts.
#define BERRY_ROLE_ANSWER_PREFIX "The answer is "     // the last line of a solution: "The answer is 29."
#define BERRY_ROLE_ALL_CORRECT "All steps are correct."
#define BERRY_ROLE_YES "Yes"
#define BERRY_ROLE_NO "No"
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
