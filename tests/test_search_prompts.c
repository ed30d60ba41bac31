// Tests of the prompt sets (src/search/prompts.c): the embedded model's role formats as roles.h writes
// them, instruct templates through a chat template, overrides from a file, and the score parser.
#include "test.h"
#include "fake_lm.h"
#include "search/prompts.h"
#include <stdlib.h>
#include <string.h>

TEST(search_prompts_embedded_roles) {
    berry_prompts p;
    CHECK(berry_prompts_init(&p, BERRY_PROMPTS_EMBEDDED, NULL, 0) == BERRY_OK);
    berry_role_args a = {.question = "2+2?", .solution = "The answer is 4.", .other = "The answer is 5."};
    char *s = berry_prompts_render(&p, NULL, BERRY_ROLE_SOLVE, &a);
    CHECK_STR(s, "Question: 2+2?\nSolve step by step.\n");
    free(s);
    s = berry_prompts_render(&p, NULL, BERRY_ROLE_COMPARE, &a);
    CHECK_STR(s, "Question: 2+2?\nBoth solutions begin:\nSolution A goes on:\nThe answer is 4.\nSolution B goes on:\n"
                 "The answer is 5.\nIs solution A better than solution B?\n");
    free(s);
    CHECK_STR(p.yes, "Yes");
    CHECK(p.check);  // the embedded judge writes a check line first
    berry_prompts_free(&p);
}

TEST(search_prompts_instruct_and_file_override) {
    fake_lm f = {0};
    berry_lm *lm = fake_lm_new(&f);
    CHECK(lm);
    berry_prompts p;
    CHECK(berry_prompts_init(&p, BERRY_PROMPTS_INSTRUCT, NULL, 0) == BERRY_OK);
    berry_role_args a = {.question = "2+2?", .solution = "4", .critique = "fine"};
    char *s = berry_prompts_render(&p, lm, BERRY_ROLE_SOLVE, &a);
    // The fake chat template writes <role>content</> and opens the assistant's turn.
    CHECK(s && !strncmp(s, "<system>You are a careful mathematician.", 40));
    CHECK(strstr(s, "Put the final answer in \\boxed{}.\n\nProblem: 2+2?</><assistant>"));
    free(s);
    const char *file = "# my prompts\n\n[system]\n[rewrite]\nQ={question} S={solution} C={critique} {unknown} \\boxed{}\n\n"
                       "[solve]\r\nSolve {question}\r\n";
    char err[256];
    CHECK(berry_prompts_load(&p, file, strlen(file), err, sizeof err) == BERRY_OK);
    s = berry_prompts_render(&p, lm, BERRY_ROLE_REWRITE, &a);
    CHECK_STR(s, "<user>Q=2+2? S=4 C=fine {unknown} \\boxed{}</><assistant>");
    free(s);
    s = berry_prompts_render(&p, lm, BERRY_ROLE_SOLVE, &a);
    CHECK_STR(s, "<user>Solve 2+2?</><assistant>");
    free(s);
    const char *bad = "[solve]\nx\n[judge]\ny\n";
    CHECK(berry_prompts_load(&p, bad, strlen(bad), err, sizeof err) == BERRY_EINVAL);
    CHECK(strstr(err, "line 3") && strstr(err, "judge"));
    const char *early = "hello\n[solve]\nx\n";
    CHECK(berry_prompts_load(&p, early, strlen(early), err, sizeof err) == BERRY_EINVAL);
    CHECK(strstr(err, "line 1"));
    berry_prompts_free(&p);
    berry_lm_free(lm);
}

TEST(search_prompts_score_parser) {
    double v;
    CHECK(berry_prompts_parse_score("Score: 90", &v) && v == 90);
    CHECK(berry_prompts_parse_score("[Analysis] weak.\n[Score] 85.5", &v) && v == 85.5);
    CHECK(berry_prompts_parse_score("Score: 10, then on reflection Score: -20.", &v) && v == -20);
    CHECK(berry_prompts_parse_score("**Score:** 250", &v) && v == 100);
    CHECK(!berry_prompts_parse_score("Score: high", &v));
    CHECK(!berry_prompts_parse_score("no number here", &v));
    CHECK(!berry_prompts_parse_score("", &v));
}
