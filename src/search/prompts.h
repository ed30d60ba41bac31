// prompts.h — the prompt sets search speaks in: the embedded model's role formats (src/search/roles.h,
// byte for byte what it was trained on), or templates for instruct models (Qwen2.5, Llama 3) rendered
// as one user message through the model's chat template, in the spirit of the MCTSr and LLaMA-Berry
// papers. Instruct templates can be overridden from a file:
//
//   # a comment line
//   [system]
//   You are a careful mathematician.
//   [solve]
//   Solve: {question}
//   Put the final answer in \boxed{}.
//
// Sections: system, solve, critique, rewrite, selfeval, compare; a section absent from the file keeps
// its default. Placeholders {question}, {solution}, {critique} and {other} (solution B of a comparison)
// are replaced; every other brace is literal text (\boxed{} needs none escaped).
#ifndef BERRY_SEARCH_PROMPTS_H
#define BERRY_SEARCH_PROMPTS_H
#include "base/err.h"
#include "search/roles.h"
#include "lm/lm.h"
#include <stdbool.h>
#include <stddef.h>

typedef enum { BERRY_PROMPTS_EMBEDDED = 0, BERRY_PROMPTS_INSTRUCT } berry_prompts_kind;

typedef struct {
    berry_prompts_kind kind;
    char *system;                       // instruct: the system message, NULL for none
    char *tmpl[BERRY_ROLE_COUNT];       // instruct: one template per role (malloc'd)
    const char *yes, *no;               // continuations whose log-probabilities give P(A better than B) (instruct)
    bool check;                         // the judge answers with a check line, not Yes / No (embedded)
    bool rewrite_start;                 // a rewrite starts from its critique (berry_role_rewrite_start; embedded)
    const char *stop[2];                // stop strings of generated solutions
    int n_stop;
} berry_prompts;

// Fills P with the embedded model's role formats or with the default instruct templates. Returns
// BERRY_ENOMEM when a copy fails; free with berry_prompts_free.
berry_status berry_prompts_init(berry_prompts *p, berry_prompts_kind kind, char *err, size_t err_size);
void berry_prompts_free(berry_prompts *p);

// Replaces the instruct templates named in TEXT[0..LEN) (the file format above). An unknown section
// or text before the first section is an error naming the line. P becomes an instruct set.
berry_status berry_prompts_load(berry_prompts *p, const char *text, size_t len, char *err, size_t err_size);

// The prompt for ROLE with the arguments A, ready for berry_lm_generate / berry_lm_score (malloc'd;
// NULL when memory runs out or the chat template fails). Instruct prompts go through LM's chat
// template with the assistant's turn opened.
char *berry_prompts_render(const berry_prompts *p, berry_lm *lm, berry_role role, const berry_role_args *a);

// The self-evaluation score in a generated text: the last "Score:" followed by a number (an integer
// or a decimal, optionally in brackets), clamped to [-100, 100]. False when there is none.
bool berry_prompts_parse_score(const char *text, double *score);

#endif
