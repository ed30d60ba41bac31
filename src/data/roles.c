// roles.c — the role prompt templates (see roles.h for the exact text) and parsers of role outputs.
#include "data/roles.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *berry_role_name(berry_role role) {
    static const char *names[] = {"solve", "critique", "rewrite", "selfeval", "compare"};
    return (unsigned)role < BERRY_ROLE_COUNT ? names[role] : "?";
}

static const char *nz(const char *s) { return s ? s : ""; }

size_t berry_role_prompt(char *buf, size_t size, berry_role role, const berry_role_args *a) {
    const char *q = nz(a->question), *s = nz(a->solution), *c = nz(a->critique), *o = nz(a->other);
    int n = 0;
    if (size == 0) buf = NULL;
    switch (role) {
    case BERRY_ROLE_SOLVE: n = snprintf(buf, size, "Question: %s\nSolve step by step.\n", q); break;
    case BERRY_ROLE_CRITIQUE:
        n = snprintf(buf, size, "Question: %s\nSolution:\n%s\nFind the first wrong step.\n", q, s);
        break;
    case BERRY_ROLE_REWRITE:
        // The question again after the critique: a 4-layer model copies the question's numbers into
        // the new solution from nearby, as in the solve prompt, not from 100+ tokens back (models/README.md).
        n = snprintf(buf, size, "Question: %s\nSolution:\n%s\nCritique: %s\nQuestion: %s\nWrite a correct solution.\n", q, s,
                     c, q);
        break;
    case BERRY_ROLE_SELFEVAL:
        n = snprintf(buf, size, "Question: %s\nSolution:\n%s\nScore the solution from -100 to 100.\n", q, s);
        break;
    case BERRY_ROLE_COMPARE:
        n = snprintf(buf, size,
                     "Question: %s\nSolution A:\n%s\nSolution B:\n%s\nIs solution A better than solution B?\n", q, s, o);
        break;
    default:
        if (size) buf[0] = 0;
        return 0;
    }
    return n < 0 ? 0 : (size_t)n;
}

size_t berry_role_score_text(char *buf, size_t size, int score) {
    int n = snprintf(size ? buf : NULL, size, "Score: %d", score);
    return n < 0 ? 0 : (size_t)n;
}

static const char *skip_ws(const char *t) {
    while (*t && isspace((unsigned char)*t)) t++;
    return t;
}

bool berry_role_parse_score(const char *text, int *score) {
    const char *t = skip_ws(text);
    if (strncmp(t, "Score:", 6) != 0) return false;
    t = skip_ws(t + 6);
    if (!(*t == '-' || isdigit((unsigned char)*t))) return false;
    char *end;
    errno = 0;
    long v = strtol(t, &end, 10);
    if (errno || end == t || v < -100 || v > 100) return false;
    *score = (int)v;
    return true;
}

int berry_role_parse_yes_no(const char *text) {
    const char *t = skip_ws(text);
    if (!strncmp(t, BERRY_ROLE_YES, 3)) return 1;
    if (!strncmp(t, BERRY_ROLE_NO, 2)) return 0;
    return -1;
}

int berry_role_parse_wrong_step(const char *text) {
    const char *t = skip_ws(text);
    if (!strncmp(t, BERRY_ROLE_ALL_CORRECT, strlen(BERRY_ROLE_ALL_CORRECT))) return 0;
    if (strncmp(t, "Step ", 5) != 0 || !isdigit((unsigned char)t[5])) return -1;
    char *end;
    errno = 0;
    long k = strtol(t + 5, &end, 10);
    if (errno || k < 1 || k > 1000 || strncmp(end, " is wrong", 9) != 0) return -1;
    return (int)k;
}
