// critique.c — checks the claims of an embedded-model critique (see critique.h) with GMP rationals.
#include "search/critique.h"
#include "search/roles.h"
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// An equation "A op B = C" as the steps write it; the numbers are exact.
typedef struct {
    mpq_t a, b, c;
    char op;
    char a_text[32], b_text[32];  // the operands as written, to compare with a critique's words
} equation;

static void eq_init(equation *e) { mpq_inits(e->a, e->b, e->c, NULL); }
static void eq_clear(equation *e) { mpq_clears(e->a, e->b, e->c, NULL); }

// A number as synth writes one: 12, -3, 4.5, 3/4, 40%, $20. False for anything else.
static bool number(const char *s, size_t n, mpq_t v) {
    char buf[40];
    if (n && *s == '$') s++, n--;
    bool pct = n && s[n - 1] == '%';
    if (pct) n--;
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *dot = strchr(buf, '.');
    size_t i = buf[0] == '-';
    if (!buf[i]) return false;
    for (size_t j = i; buf[j]; j++)
        if (!(buf[j] >= '0' && buf[j] <= '9') && buf + j != dot && buf[j] != '/') return false;
    if (dot) {
        // "4.25" -> 425/100: digits on both sides and no fraction bar.
        if (strchr(buf, '/') || dot == buf + i || !dot[1]) return false;
        size_t frac = strlen(dot + 1);
        if (frac > 18) return false;
        memmove(dot, dot + 1, frac + 1);
        char den[24] = "1";
        memset(den + 1, '0', frac);
        den[frac + 1] = 0;
        char q[64];
        snprintf(q, sizeof q, "%s/%s", buf, den);
        if (mpq_set_str(v, q, 10)) return false;
    } else {
        char *bar = strchr(buf, '/');
        if (bar && (bar == buf + i || !bar[1] || strchr(bar + 1, '/') || bar[1] == '0')) return false;
        if (mpq_set_str(v, buf, 10)) return false;
    }
    if (pct) mpz_mul_ui(mpq_denref(v), mpq_denref(v), 100);  // 40% = 40/100
    mpq_canonicalize(v);
    return true;
}

// The next word of *P (up to a space, comma or the end), moving *P past it; its length.
static size_t word(const char **p, const char *end) {
    const char *s = *p;
    while (*p < end && **p != ' ' && **p != ',' && **p != '\n') (*p)++;
    return (size_t)(*p - s);
}

// Reads "A op B = C" at the start of [S, END); the rest of the text after C is ignored.
static bool equation_at(const char *s, const char *end, equation *e) {
    const char *p = s, *a = p;
    size_t na = word(&p, end);
    if (end - p < 3 || p[0] != ' ' || !strchr("+-*/", p[1]) || p[2] != ' ') return false;
    e->op = p[1];
    p += 3;
    const char *b = p;
    size_t nb = word(&p, end);
    if (end - p < 3 || memcmp(p, " = ", 3)) return false;
    p += 3;
    const char *c = p;
    size_t nc = word(&p, end);
    if (na >= sizeof e->a_text || nb >= sizeof e->b_text) return false;
    if (!number(a, na, e->a) || !number(b, nb, e->b) || !number(c, nc, e->c)) return false;
    memcpy(e->a_text, a, na), e->a_text[na] = 0;
    memcpy(e->b_text, b, nb), e->b_text[nb] = 0;
    return true;
}

// A op B equals C exactly (a division by zero is false).
static bool is_true(const equation *e) {
    mpq_t r;
    mpq_init(r);
    bool ok = true;
    switch (e->op) {
    case '+': mpq_add(r, e->a, e->b); break;
    case '-': mpq_sub(r, e->a, e->b); break;
    case '*': mpq_mul(r, e->a, e->b); break;
    default:
        if (mpq_sgn(e->b) == 0) ok = false;
        else mpq_div(r, e->a, e->b);
    }
    ok = ok && mpq_equal(r, e->c);
    mpq_clear(r);
    return ok;
}

// The equation of step K of SOLUTION ("Step K: A op B = C ..."), when steps 1 .. K are all there.
static bool step_equation(const char *solution, int k, equation *e) {
    const char *p = solution;
    for (int i = 1; i <= k; i++) {
        char head[32];
        int hn = snprintf(head, sizeof head, "Step %d: ", i);
        if (strncmp(p, head, (size_t)hn)) return false;
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        if (i == k) return equation_at(p + hn, end, e);
        if (!nl) return false;
        p = nl + 1;
    }
    return false;
}

// TEXT contains the number WORD as a whole word (not inside "120" when WORD is "12").
static bool has_word(const char *text, const char *w) {
    size_t n = strlen(w);
    if (!n) return false;
    for (const char *p = strstr(text, w); p; p = strstr(p + 1, w)) {
        bool left = p == text || !((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.' || p[-1] == '/');
        char r = p[n];
        bool right = !((r >= '0' && r <= '9') || r == '/' || r == '%' || (r == '.' && p[n + 1] >= '0' && p[n + 1] <= '9'));
        if (left && right) return true;
    }
    return false;
}

// Every operand of E is given: a number of the question, or the result of one of steps 1 .. K-1 of
// SOLUTION (the steps the critique accepts). A stated step built from other numbers is not the fix.
static bool givens(const char *question, const char *solution, int k, const equation *e) {
    for (int side = 0; side < 2; side++) {
        const char *t = side ? e->b_text : e->a_text;
        const mpq_t *v = side ? &e->b : &e->a;
        bool ok = has_word(question, t);
        equation r;
        eq_init(&r);
        for (int j = 1; j < k && !ok; j++) ok = step_equation(solution, j, &r) && mpq_equal(r.c, *v);
        eq_clear(&r);
        if (!ok) return false;
    }
    return true;
}

// Every number in the reason [S, END) ("because the number of coins becomes 2 times as large") is an
// operand of E: the reason names what the stated step uses.
static bool reason_fits(const char *s, const char *end, const equation *e) {
    mpq_t v;
    mpq_init(v);
    bool ok = true;
    for (const char *p = s; p < end && ok;) {
        const char *t = p + (*p == '$');
        if (!(t < end && *t >= '0' && *t <= '9') || (p > s && ((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.'))) { p++; continue; }
        const char *q = t;
        while (q < end && ((*q >= '0' && *q <= '9') || *q == '/' || *q == '%' || (*q == '.' && q + 1 < end && q[1] >= '0' && q[1] <= '9'))) q++;
        ok = number(p, (size_t)(q - p), v) && (mpq_equal(v, e->a) || mpq_equal(v, e->b));
        p = q;
    }
    mpq_clear(v);
    return ok;
}

static char op_of_verb(const char *v, size_t n) {
    static const struct { const char *verb; char op; } t[] = {{"add", '+'}, {"subtract", '-'}, {"multiply", '*'}, {"divide", '/'}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].verb) == n && !memcmp(v, t[i].verb, n)) return t[i].op;
    return 0;
}

// The stated step E of "... The correct step is E." / "... The missing step is E." in [WHY, END).
static const char *stated(const char *why, const char *end) {
    static const char *marks[] = {"The correct step is ", "The missing step is "};
    for (int i = 0; i < 2; i++) {
        size_t m = strlen(marks[i]);
        for (const char *p = why; p + m <= end; p++)
            if (!memcmp(p, marks[i], m)) return p + m;
    }
    return NULL;
}

bool berry_critique_holds(const char *question, const char *solution, const char *critique, char *fix, size_t fix_size) {
    if (fix && fix_size) fix[0] = 0;
    if (!question || !solution || !critique) return false;
    int k = berry_role_parse_wrong_step(critique);
    if (k < 1) return false;
    const char *why = strstr(critique, " is wrong: ");
    if (!why) return false;
    why += strlen(" is wrong: ");
    const char *end = why + strcspn(why, "\n");
    if (end > why && end[-1] == '.') end--;  // the sentence's full stop; "7.5" keeps its own
    equation s, x;
    eq_init(&s);
    eq_init(&x);
    bool ok = step_equation(solution, k, &s);
    const char *e = ok ? stated(why, end) : NULL;
    // The fix: the stated step E, or a slip's "A op B = C" (written into BUF); none for a repeated step.
    char buf[160];
    const char *fx = e;
    size_t n_uses = strlen("it uses "), n_should = strlen("it should "), n_rep = strlen("it repeats step ");
    if (!ok) {
    } else if (why[0] >= '0' && why[0] <= '9') {
        // A slip: "A op B is C, not D" against step K's "A op B = D".
        const char *is = NULL, *not = NULL;
        for (const char *p = why; p + 4 <= end; p++)
            if (!memcmp(p, " is ", 4) && !is) is = p;
        for (const char *p = why; p + 6 <= end; p++)
            if (!memcmp(p, ", not ", 6)) not = p;
        ok = ok && is && not && is < not;
        if (ok) {
            // Rewrite "A op B is C, not D" as the two equations "A op B = C" and "A op B = D".
            int n1 = snprintf(buf, sizeof buf, "%.*s = %.*s", (int)(is - why), why, (int)(not - is - 4), is + 4);
            ok = n1 > 0 && (size_t)n1 < sizeof buf && equation_at(buf, buf + n1, &x) && is_true(&x);
            fx = buf;
            mpq_t d;
            mpq_init(d);
            const char *dw = not + 6;
            ok = ok && number(dw, (size_t)(end - dw), d) && x.op == s.op && mpq_equal(x.a, s.a) &&
                 mpq_equal(x.b, s.b) && mpq_equal(d, s.c) && !mpq_equal(d, x.c);
            mpq_clear(d);
        }
    } else if (!strncmp(why, "it uses ", n_uses)) {
        // A misread number: "it uses X, but the question says Y. The correct step is E."
        const char *xw = why + n_uses, *p = xw;
        size_t nx = word(&p, end);
        static const char mid[] = ", but the question says ";
        ok = (size_t)(end - p) > strlen(mid) && !strncmp(p, mid, strlen(mid)) && e && nx < 32;
        if (ok) {
            char xs[32], ys[32];
            memcpy(xs, xw, nx), xs[nx] = 0;
            const char *yw = p + strlen(mid), *q = yw;
            size_t ny = word(&q, end);
            if (ny && q > yw && q[-1] == '.') ny--, q--;  // "says 4. The correct ..."
            ok = ny < 32;
            if (ok) memcpy(ys, yw, ny), ys[ny] = 0;
            ok = ok && (!strcmp(xs, s.a_text) || !strcmp(xs, s.b_text)) && has_word(question, ys) &&
                 equation_at(e, end, &x) && (!strcmp(ys, x.a_text) || !strcmp(ys, x.b_text)) && is_true(&x) &&
                 givens(question, solution, k, &x);
        }
    } else if (!strncmp(why, "it should ", n_should)) {
        // A wrong operation: "it should V1, not V2, because ... The correct step is E."
        const char *v1 = why + n_should, *p = v1;
        size_t n1 = word(&p, end);
        ok = end - p > 6 && !memcmp(p, ", not ", 6) && e;
        if (ok) {
            const char *v2 = p + 6, *q = v2;
            size_t n2 = word(&q, end);
            char o1 = op_of_verb(v1, n1), o2 = op_of_verb(v2, n2);
            ok = o1 && o2 && o1 != o2 && s.op == o2 && equation_at(e, end, &x) && x.op == o1 && is_true(&x) &&
                 givens(question, solution, k, &x) && reason_fits(q, e, &x);
        }
    } else if (!strncmp(why, "a step is missing before it", strlen("a step is missing before it"))) {
        const char *r = why + strlen("a step is missing before it");
        ok = e && equation_at(e, end, &x) && is_true(&x) && givens(question, solution, k, &x) && reason_fits(r, e, &x);
    } else if (!strncmp(why, "it repeats step ", n_rep)) {
        char *after;
        long j = strtol(why + n_rep, &after, 10);
        ok = after != why + n_rep && j >= 1 && j < k && step_equation(solution, (int)j, &x) && x.op == s.op &&
             mpq_equal(x.b, s.b) && mpq_equal(s.a, x.c);
        fx = NULL;
    } else ok = false;
    eq_clear(&s);
    eq_clear(&x);
    if (ok && fix && fx) {
        size_t n = fx == buf ? strlen(buf) : (size_t)(end - fx);
        if (n >= fix_size) return false;
        memcpy(fix, fx, n);
        fix[n] = 0;
    }
    return ok;
}
