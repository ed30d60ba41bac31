// roles.c — the role prompt templates (see roles.h for the exact text) and parsers of role outputs.
#include "search/roles.h"
#include "search/critique.h"
#include "base/alloc.h"
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

static const char *skip_ws(const char *t);

// The whole lines that A and B begin with in common: returns their length in A (each line with its
// newline, except a last line that ends the text) and sets *RA / *RB to what follows in each. Equal
// texts share everything, and both rests are empty.
static size_t shared_lines(const char *a, const char *b, const char **ra, const char **rb) {
    size_t i = 0;
    *ra = a, *rb = b;
    for (;;) {
        size_t la = strcspn(a + i, "\n"), lb = strcspn(b + i, "\n");
        if (la != lb || memcmp(a + i, b + i, la)) return i;
        bool ea = a[i + la] == 0, eb = b[i + lb] == 0;
        *ra = a + i + la + !ea, *rb = b + i + lb + !eb;
        if (ea || eb) return i + la + !ea;
        i += la + 1;
    }
}

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
    case BERRY_ROLE_COMPARE: {
        const char *ra, *rb;
        size_t sh = shared_lines(s, o, &ra, &rb);
        const char *nl = sh > 0 && s[sh - 1] != '\n' ? "\n" : "";  // the shared part ended a text
        n = snprintf(buf, size,
                     "Question: %s\nBoth solutions begin:\n%.*s%sSolution A goes on:\n%s\nSolution B goes on:\n%s\n"
                     "Is solution A better than solution B?\n",
                     q, (int)sh, s, nl, ra, rb);
        break;
    }
    default:
        if (size) buf[0] = 0;
        return 0;
    }
    return n < 0 ? 0 : (size_t)n;
}

size_t berry_role_compare_check(char *buf, size_t size, const char *a, const char *b, bool of_a) {
    const char *ra, *rb;
    shared_lines(nz(a), nz(b), &ra, &rb);
    const char *r = of_a ? ra : rb;
    int len = (int)strcspn(r, "\n");
    int n = snprintf(size ? buf : NULL, size, "%s%.*s", BERRY_ROLE_CHECK, len ? len : (int)strlen(BERRY_ROLE_CHECK_END),
                     len ? r : BERRY_ROLE_CHECK_END);
    return n < 0 ? 0 : (size_t)n;
}

char *berry_role_compare_check_dup(const char *a, const char *b, bool of_a) {
    size_t n = berry_role_compare_check(NULL, 0, a, b, of_a) + 1;
    char *c = malloc(n);
    if (c) berry_role_compare_check(c, n, a, b, of_a);
    return c;
}

// "Check: " + the first line at TEXT (up to the newline or END), or "Check: (end)" when empty.
static char *check_of(const char *text, const char *end) {
    size_t len = 0;
    while (text + len < end && text[len] != '\n') len++;
    const char *line = len ? text : BERRY_ROLE_CHECK_END;
    if (!len) len = strlen(BERRY_ROLE_CHECK_END);
    size_t k = strlen(BERRY_ROLE_CHECK);
    char *c = malloc(k + len + 1);
    if (!c) return NULL;
    memcpy(c, BERRY_ROLE_CHECK, k);
    memcpy(c + k, line, len);
    c[k + len] = 0;
    return c;
}

static const char *last_of(const char *s, const char *end, const char *pat) {
    const char *last = NULL;
    size_t n = strlen(pat);
    for (const char *x = s; x + n <= end; x++)
        if (!memcmp(x, pat, n)) last = x;
    return last;
}

bool berry_role_compare_checks_of(const char *prompt, char **ca, char **cb) {
    *ca = *cb = NULL;
    static const char ha[] = "Solution A goes on:\n", hb[] = "\nSolution B goes on:\n",
                      tail[] = "\nIs solution A better than solution B?\n";
    size_t n = strlen(prompt), nt = strlen(tail);
    if (n < nt || strcmp(prompt + n - nt, tail)) return false;
    const char *end = prompt + n - nt;
    // The last markers: a question or a shared line may contain the words, the rests come last.
    const char *b = last_of(prompt, end, hb);
    const char *a = b ? last_of(prompt, b, ha) : NULL;
    if (!a) return false;
    *ca = check_of(a + strlen(ha), b);
    *cb = check_of(b + strlen(hb), end);
    if (*ca && *cb) return true;
    free(*ca);
    free(*cb);
    *ca = *cb = NULL;
    return false;
}

char *berry_role_rewrite_start(const char *question, const char *solution, const char *critique) {
    const char *c = skip_ws(nz(critique)), *s = nz(solution);
    char fix[256];
    if (!berry_critique_holds(nz(question), s, c, fix, sizeof fix)) return berry_strdup("");
    // A critique that holds names a step K whose lines 1 .. K are SOLUTION's first: keep those before K.
    int k = berry_role_parse_wrong_step(c);
    const char *p = s;
    for (int i = 1; i < k && p; i++) p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    if (!p) return berry_strdup("");
    size_t kept = (size_t)(p - s);
    char head[32];
    int hn = fix[0] ? snprintf(head, sizeof head, "Step %d: ", k) : 0;
    size_t total = kept + (size_t)hn + (fix[0] ? strlen(fix) : 0);
    char *out = malloc(total + 1);
    if (!out) return NULL;
    memcpy(out, s, kept);
    memcpy(out + kept, head, (size_t)hn);
    memcpy(out + kept + hn, fix, total - kept - (size_t)hn);
    out[total] = 0;
    return out;
}

char *berry_role_rewrite_start_of(const char *prompt) {
    static const char q[] = "Question: ", sol[] = "\nSolution:\n", crit[] = "\nCritique: ",
                      tail[] = "\nWrite a correct solution.\n";
    if (strncmp(prompt, q, strlen(q))) return NULL;
    const char *qs = prompt + strlen(q), *qe = strstr(qs, sol);
    if (!qe) return NULL;
    // The prompt ends with the question again: "\nQuestion: {q}" and the instruction.
    size_t n = strlen(prompt), nq = (size_t)(qe - qs), nt = strlen(tail), nr = nt + nq + strlen(q) + 1;
    const char *ss = qe + strlen(sol);
    if (n < nr || (size_t)(ss - prompt) > n - nr) return NULL;
    const char *back = prompt + n - nr;
    if (back[0] != '\n' || strncmp(back + 1, q, strlen(q)) || memcmp(back + 1 + strlen(q), qs, nq) || strcmp(back + nr - nt, tail))
        return NULL;
    const char *cs = NULL;
    for (const char *t = ss; t + strlen(crit) <= back; t++)
        if (!memcmp(t, crit, strlen(crit))) { cs = t; break; }
    if (!cs) return NULL;
    char *qq = berry_strndup(qs, nq);
    char *s = berry_strndup(ss, (size_t)(cs - ss));
    char *c = berry_strndup(cs + strlen(crit), (size_t)(back - cs - strlen(crit)));
    char *out = qq && s && c ? berry_role_rewrite_start(qq, s, c) : NULL;
    free(qq);
    free(s);
    free(c);
    return out;
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
