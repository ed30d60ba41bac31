// libFuzzer target for the embedded model's role texts (src/search/roles.c): the input is split at the
// first NUL byte into two solutions A and B; their compare prompt is written, its check lines are
// read back and must equal the ones written from A and B, and every role parser reads both texts. A is
// also a solution and B its critique: the rewrite's start from them must be what the rewrite prompt
// gives back, and a start that is not "" must begin with A's lines before the step B names. A file of
// records, and the model's own critiques, can hold anything, so each must end in bounded time with no
// sanitizer report.
#include "search/critique.h"
#include "search/roles.h"
#include "split.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *a, *b;
    char *buf = fuzz_split(data, size, &a, &b);
    if (!buf) return 0;
    int score;
    berry_role_parse_score(a, &score);
    berry_role_parse_yes_no(a);
    berry_role_parse_wrong_step(b);
    char *ca, *cb;
    if (berry_role_compare_checks_of(a, &ca, &cb)) {
        free(ca);
        free(cb);
    }
    // A rewrite's start from solution A and critique B, directly and through its prompt.
    berry_critique_holds("Q 1 2 3", a, b, NULL, 0);
    char *st = berry_role_rewrite_start("Q 1 2 3", a, b), *st2 = berry_role_rewrite_start_of(a);
    free(st2);
    berry_role_args rw = {.question = "Q 1 2 3", .solution = a, .critique = b};
    size_t nr = berry_role_prompt(NULL, 0, BERRY_ROLE_REWRITE, &rw);
    char *pr = malloc(nr + 1);
    if (st && pr) {
        berry_role_prompt(pr, nr + 1, BERRY_ROLE_REWRITE, &rw);
        st2 = berry_role_rewrite_start_of(pr);
        // The prompt splits back into A and B unless they hold its own markers.
        if (!strstr(a, "\nCritique: ") && !strstr(b, "\nQuestion: ") && (!st2 || strcmp(st, st2))) abort();
        free(st2);
        int k = berry_role_parse_wrong_step(b);
        if (st[0] && k < 1) abort();
        // The kept lines are A's own: the start up to its last newline is a prefix of A.
        const char *nl = strrchr(st, '\n');
        if (nl && strncmp(st, a, (size_t)(nl - st + 1))) abort();
    }
    free(pr);
    free(st);
    berry_role_args ra = {.question = "Q", .solution = a, .other = b};
    size_t n = berry_role_prompt(NULL, 0, BERRY_ROLE_COMPARE, &ra);
    char *p = malloc(n + 1);
    if (p) {
        berry_role_prompt(p, n + 1, BERRY_ROLE_COMPARE, &ra);
        // The check lines read back from the prompt are the ones written from A and B, unless A or B
        // holds the prompt's own markers (then the reader takes the last ones, as documented).
        if (berry_role_compare_checks_of(p, &ca, &cb)) {
            char *wa = berry_role_compare_check_dup(a, b, true), *wb = berry_role_compare_check_dup(a, b, false);
            if (wa && wb && !strstr(a, "goes on:") && !strstr(b, "goes on:") && (strcmp(wa, ca) || strcmp(wb, cb))) abort();
            free(wa);
            free(wb);
            free(ca);
            free(cb);
        } else {
            abort();  // a prompt written by berry_role_prompt is always a compare prompt
        }
        free(p);
    }
    free(buf);
    return 0;
}
