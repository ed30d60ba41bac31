// latex.c — a recursive-descent parser for LaTeX answers. Tokens are read on the fly from the string
// (so that \frac12 can take single characters as arguments); formatting commands are skipped by the
// tokenizer. Nesting is limited, so hostile input (braces 10^5 deep) gives an error, not a stack overflow.
#include "math/latex.h"
#include "base/err.h"
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 150

// ---- arena: chunks of at least 64 KiB, freed together ----

struct berry_tex_arena {
    struct berry_tex_arena *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

static void *arena_alloc(berry_tex_arena **a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!*a || (*a)->cap - (*a)->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        berry_tex_arena *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = *a;
        c->used = 0;
        c->cap = cap;
        *a = c;
    }
    void *p = (*a)->data + (*a)->used;
    (*a)->used += n;
    memset(p, 0, n);
    return p;
}

void berry_tex_arena_free(berry_tex_arena *a) {
    while (a) {
        berry_tex_arena *n = a->next;
        free(a);
        a = n;
    }
}

// ---- tokens ----

enum { T_END, T_NUM, T_LETTER, T_CMD, T_CHAR, T_SETL, T_SETR, T_ROWSEP };

typedef struct {
    int t;
    size_t b, e;   // source span of the token (T_CMD: the name after '\')
    int c;         // T_CHAR: the character ('*' for × and ·, 'l'/'g' for ≤ ≥, 'P' for ±, 'p' for π, 'o' for ∞)
} tok;

typedef struct {
    const char *s;
    size_t n, i;
    int depth;
    bool multi;
    berry_tex_arena **a;
    char *err;
    size_t err_size;
    bool failed;
} P;

static berry_tex *fail(P *p, size_t at, const char *what) {
    if (!p->failed) {
        p->failed = true;
        berry_errf(p->err, p->err_size, BERRY_EINVAL, "at character %zu: %s", at + 1, what);
    }
    return NULL;
}

static bool starts(const P *p, size_t i, const char *w) {
    size_t m = strlen(w);
    return p->n - i >= m && memcmp(p->s + i, w, m) == 0;
}

static size_t cmd_end(const P *p, size_t i) {  // i is just past '\'
    if (i >= p->n) return i;
    if (!isalpha((unsigned char)p->s[i])) return i + 1;
    while (i < p->n && isalpha((unsigned char)p->s[i])) i++;
    return i;
}

static bool cmd_is(const P *p, const tok *t, const char *name) {
    size_t m = strlen(name);
    return t->t == T_CMD && t->e - t->b == m && memcmp(p->s + t->b, name, m) == 0;
}

// Skips whitespace and everything that does not change an answer's value: spacing, sizing, \left
// \right, degrees, percent and dollar signs. Returns the new position.
static size_t skip_junk(const P *p, size_t i) {
    static const char *const drop[] = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
                                       "biggl", "biggr", "displaystyle", "textstyle", "limits", "nolimits", "quad",
                                       "qquad", "circ", "degree", "degrees", "hfill", "enspace", "protect", "middle",
                                       NULL};
    for (;;) {
        if (i >= p->n) return i;
        unsigned char c = (unsigned char)p->s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~' || c == '$' || c == '%') { i++; continue; }
        if (starts(p, i, "\xC2\xB0")) { i += 2; continue; }  // °
        if (starts(p, i, "\xC2\xA0")) { i += 2; continue; }  // no-break space
        if (c == '^') {  // ^\circ, ^{\circ}, ^{ \circ }, ^\degree
            size_t j = i + 1;
            while (j < p->n && p->s[j] == ' ') j++;
            bool br = j < p->n && p->s[j] == '{';
            if (br) j++;
            while (j < p->n && p->s[j] == ' ') j++;
            if (starts(p, j, "\\circ") || starts(p, j, "\\degree")) {
                j = cmd_end(p, j + 1);
                while (j < p->n && p->s[j] == ' ') j++;
                if (br) {
                    if (j < p->n && p->s[j] == '}') { i = j + 1; continue; }
                } else { i = j; continue; }
            }
            return i;
        }
        if (c != '\\' || i + 1 >= p->n) return i;
        char d = p->s[i + 1];
        if (d == '!' || d == ',' || d == ';' || d == ':' || d == ' ' || d == '%' || d == '$' || d == '>') { i += 2; continue; }
        size_t e = cmd_end(p, i + 1);
        bool dropped = false;
        for (int k = 0; drop[k]; k++) {
            size_t m = strlen(drop[k]);
            if (e - (i + 1) == m && memcmp(p->s + i + 1, drop[k], m) == 0) {
                dropped = true;
                // \left. and \right. are invisible delimiters.
                if ((k == 0 || k == 1) && e < p->n && p->s[e] == '.') e++;
                break;
            }
        }
        if (!dropped) return i;
        i = e;
    }
}

// Thousands separators inside a number: ",\!", "{,}", ", \!" or "\," followed by exactly three digits.
static size_t thousands_sep(const P *p, size_t i) {
    size_t j;
    if (starts(p, i, "{,}")) j = i + 3;
    else if (i < p->n && p->s[i] == ',') {
        j = i + 1;
        while (j < p->n && p->s[j] == ' ') j++;
        if (!starts(p, j, "\\!")) return 0;
        j += 2;
        while (j < p->n && p->s[j] == ' ') j++;
    } else if (starts(p, i, "\\,")) {
        j = i + 2;  // 1\,000
    } else return 0;
    for (int k = 0; k < 3; k++)
        if (j + k >= p->n || !isdigit((unsigned char)p->s[j + k])) return 0;
    if (j + 3 < p->n && isdigit((unsigned char)p->s[j + 3])) return 0;
    return j - i;
}

static size_t lex(const P *p, size_t i, tok *t) {
    i = skip_junk(p, i);
    memset(t, 0, sizeof *t);
    t->b = i;
    if (i >= p->n) { t->t = T_END; t->e = i; return i; }
    unsigned char c = (unsigned char)p->s[i];
    if (isdigit(c) || (c == '.' && i + 1 < p->n && isdigit((unsigned char)p->s[i + 1]))) {
        size_t j = i;
        for (;;) {
            while (j < p->n && isdigit((unsigned char)p->s[j])) j++;
            size_t sep = thousands_sep(p, j);
            if (!sep) break;
            j += sep;
        }
        if (j < p->n && p->s[j] == '.' && j + 1 < p->n && isdigit((unsigned char)p->s[j + 1])) {
            j++;
            while (j < p->n && isdigit((unsigned char)p->s[j])) j++;
        } else if (j < p->n && p->s[j] == '.' && !(j + 1 < p->n && p->s[j + 1] == '.') && j > i) {
            j++;  // "5." is 5
        }
        // Scientific notation 1.5e3 / 2E-4 (only when digits follow, so "2e" stays 2·e).
        if (j < p->n && (p->s[j] == 'e' || p->s[j] == 'E')) {
            size_t k = j + 1;
            if (k < p->n && (p->s[k] == '+' || p->s[k] == '-')) k++;
            if (k < p->n && isdigit((unsigned char)p->s[k])) {
                while (k < p->n && isdigit((unsigned char)p->s[k])) k++;
                j = k;
            }
        }
        t->t = T_NUM;
        t->e = j;
        return j;
    }
    if (isalpha(c)) { t->t = T_LETTER; t->c = c; t->e = i + 1; return i + 1; }
    if (c == '\\') {
        if (i + 1 < p->n && p->s[i + 1] == '{') { t->t = T_SETL; t->e = i + 2; return i + 2; }
        if (i + 1 < p->n && p->s[i + 1] == '}') { t->t = T_SETR; t->e = i + 2; return i + 2; }
        if (i + 1 < p->n && p->s[i + 1] == '\\') { t->t = T_ROWSEP; t->e = i + 2; return i + 2; }
        if (i + 1 < p->n && p->s[i + 1] == '|') { t->t = T_CHAR; t->c = '|'; t->e = i + 2; return i + 2; }
        size_t e = cmd_end(p, i + 1);
        t->t = T_CMD;
        t->b = i + 1;
        t->e = e;
        return e;
    }
    static const struct { const char *u; int c; } uni[] = {
        {"\xC3\x97", '*'}, {"\xC2\xB7", '*'}, {"\xE2\x8B\x85", '*'}, {"\xE2\x88\x92", '-'}, {"\xE2\x89\xA4", 'l'},
        {"\xE2\x89\xA5", 'g'}, {"\xE2\x89\xA0", 'n'}, {"\xC2\xB1", 'P'}, {"\xCF\x80", 'p'}, {"\xE2\x88\x9E", 'o'},
        {"\xE2\x88\x9A", 'r'}, {"\xC3\xB7", '/'}, {"\xE2\x88\xAA", 'U'}, {"\xE2\x88\x88", 'i'},
    };
    for (size_t k = 0; c >= 0x80 && k < sizeof uni / sizeof uni[0]; k++)
        if (starts(p, i, uni[k].u)) {
            t->t = T_CHAR;
            t->c = uni[k].c;
            t->e = i + strlen(uni[k].u);
            return t->e;
        }
    t->t = T_CHAR;
    t->c = c;
    t->e = i + 1;
    // Two-character operators written in ASCII.
    if (c == '<' && i + 1 < p->n && p->s[i + 1] == '=') { t->c = 'l'; t->e = i + 2; }
    else if (c == '>' && i + 1 < p->n && p->s[i + 1] == '=') { t->c = 'g'; t->e = i + 2; }
    else if (c == '!' && i + 1 < p->n && p->s[i + 1] == '=') { t->c = 'n'; t->e = i + 2; }
    else if (c == '*' && i + 1 < p->n && p->s[i + 1] == '*') { t->c = '^'; t->e = i + 2; }
    else if (c == '+' && i + 1 < p->n && p->s[i + 1] == '-') { t->c = 'P'; t->e = i + 2; }
    return t->e;
}

static tok peek(P *p) { tok t; lex(p, p->i, &t); return t; }
static tok next(P *p) { tok t; p->i = lex(p, p->i, &t); return t; }
static bool is_char(const tok *t, int c) { return t->t == T_CHAR && t->c == c; }
static bool accept_char(P *p, int c) {
    tok t = peek(p);
    if (!is_char(&t, c)) return false;
    next(p);
    return true;
}

// ---- nodes ----

static berry_tex *node(P *p, berry_tex_kind k, int n) {
    berry_tex *t = arena_alloc(p->a, sizeof *t);
    if (!t) return fail(p, p->i, "out of memory");
    t->kind = k;
    t->n = n;
    if (n > 0) {
        t->kids = arena_alloc(p->a, (size_t)n * sizeof *t->kids);
        if (!t->kids) return fail(p, p->i, "out of memory");
    }
    return t;
}

static berry_tex *node2(P *p, berry_tex_kind k, int op, berry_tex *a, berry_tex *b) {
    if (!a || (b == NULL && k != BERRY_TEX_NEG && k != BERRY_TEX_FUNC)) return NULL;
    berry_tex *t = node(p, k, b ? 2 : 1);
    if (!t) return NULL;
    t->op = op;
    t->kids[0] = a;
    if (b) t->kids[1] = b;
    return t;
}

static char *copy_text(P *p, const char *s, size_t n) {
    char *d = arena_alloc(p->a, n + 1);
    if (!d) { fail(p, p->i, "out of memory"); return NULL; }
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

// A number literal: the digits (thousands separators removed) and the decimal exponent.
static berry_tex *num_node(P *p, size_t b, size_t e) {
    berry_tex *t = node(p, BERRY_TEX_NUM, 0);
    if (!t) return NULL;
    char *d = arena_alloc(p->a, e - b + 1);
    if (!d) return fail(p, b, "out of memory");
    size_t k = 0;
    long ex = 0;
    for (size_t i = b; i < e; i++) {
        char c = p->s[i];
        if (isdigit((unsigned char)c) || c == '.') d[k++] = c;
        else if (c == 'e' || c == 'E') {
            // The exponent is clamped: anything this large is beyond every exact evaluation anyway.
            long sign = 1;
            i++;
            if (p->s[i] == '+' || p->s[i] == '-') sign = p->s[i++] == '-' ? -1 : 1;
            for (; i < e && isdigit((unsigned char)p->s[i]); i++)
                if (ex < 100000000) ex = ex * 10 + (p->s[i] - '0');
            ex *= sign;
            break;
        }
    }
    if (k > 0 && d[k - 1] == '.') k--;  // "5." is 5
    d[k] = 0;
    t->text = d;
    t->exp10 = ex;
    return t;
}

static berry_tex *parse_rel(P *p);
static berry_tex *parse_sum(P *p);
static berry_tex *parse_unary(P *p);
static berry_tex *parse_power(P *p);

// Reads a braced group's raw text: p->i must be at '{' (after junk). Returns false when unbalanced.
static bool raw_group(P *p, size_t *b, size_t *e) {
    size_t i = skip_junk(p, p->i);
    if (i >= p->n || p->s[i] != '{') return false;
    int depth = 0;
    for (size_t j = i; j < p->n; j++) {
        if (p->s[j] == '\\' && j + 1 < p->n) { j++; continue; }
        if (p->s[j] == '{') depth++;
        else if (p->s[j] == '}' && --depth == 0) {
            *b = i + 1;
            *e = j;
            p->i = j + 1;
            return true;
        }
    }
    return false;
}

// The argument of \frac, \sqrt, ^ and _: a braced group, or else a single character or command
// (\frac12 is 1/2, x^23 is x^2·3).
static berry_tex *parse_arg(P *p) {
    tok t = peek(p);
    if (is_char(&t, '{')) {
        next(p);
        berry_tex *x = parse_rel(p);
        if (!x) return NULL;
        tok c = next(p);
        if (!is_char(&c, '}')) return fail(p, c.b, "expected '}'");
        return x;
    }
    if (t.t == T_NUM) {
        p->i = t.b + 1;
        return num_node(p, t.b, t.b + 1);
    }
    if (is_char(&t, '-')) {  // x^-1, tolerated
        next(p);
        berry_tex *x = parse_arg(p);
        return x ? node2(p, BERRY_TEX_NEG, 0, x, NULL) : NULL;
    }
    if (t.t == T_LETTER || t.t == T_CMD || is_char(&t, 'p') || is_char(&t, 'o')) return parse_power(p);
    return fail(p, t.b, "expected an argument");
}

// Text of \text{...}: words of letters and spaces are units when they follow a value.
static bool is_unit_word(const char *s, size_t n) {
    bool letters = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalpha(c)) letters = true;
        else if (c != ' ' && c != '.' && c != '^' && !isdigit(c) && c != '/' && c != '-' && c != '\\' && c != '{' && c != '}' && c != '~')
            return false;
    }
    return letters;
}

static bool is_textcmd(const P *p, const tok *t) {
    return cmd_is(p, t, "text") || cmd_is(p, t, "mbox") || cmd_is(p, t, "textrm") || cmd_is(p, t, "mathrm") ||
           cmd_is(p, t, "textup") || cmd_is(p, t, "textnormal") || cmd_is(p, t, "textit") || cmd_is(p, t, "mathit") ||
           cmd_is(p, t, "rm");
}

typedef struct { const char *name; int fn; } fname;
static const fname funcs[] = {
    {"sin", BERRY_FN_SIN}, {"cos", BERRY_FN_COS}, {"tan", BERRY_FN_TAN}, {"cot", BERRY_FN_COT}, {"sec", BERRY_FN_SEC},
    {"csc", BERRY_FN_CSC}, {"arcsin", BERRY_FN_ASIN}, {"arccos", BERRY_FN_ACOS}, {"arctan", BERRY_FN_ATAN},
    {"asin", BERRY_FN_ASIN}, {"acos", BERRY_FN_ACOS}, {"atan", BERRY_FN_ATAN}, {"sinh", BERRY_FN_SINH},
    {"cosh", BERRY_FN_COSH}, {"tanh", BERRY_FN_TANH}, {"ln", BERRY_FN_LN}, {"log", BERRY_FN_LOGB},
    {"lg", BERRY_FN_LOG10}, {"exp", BERRY_FN_EXP}, {"sqrt", BERRY_FN_SQRT}, {"abs", BERRY_FN_ABS}, {NULL, 0},
};

static int func_id(const char *s, size_t n) {
    for (int k = 0; funcs[k].name; k++)
        if (strlen(funcs[k].name) == n && memcmp(funcs[k].name, s, n) == 0) return funcs[k].fn;
    return 0;
}

static const char *const greek[] = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
                                    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau",
                                    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
                                    "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega", "ell", "max", "min", NULL};

// A token that can start a factor in an implicit product ("2x", "3\sqrt{2}", "(a+1)(b+2)").
static bool starts_factor(P *p, const tok *t) {
    if (t->t == T_NUM || t->t == T_LETTER) return true;
    if (is_char(t, '(') || is_char(t, '{') || is_char(t, 'p') || is_char(t, 'o') || is_char(t, 'r')) return true;
    if (t->t != T_CMD) return false;
    static const char *const ok[] = {"frac", "dfrac", "tfrac", "cfrac", "sqrt", "pi", "infty", "binom", "dbinom", "tbinom",
                                     "lfloor", "lceil", "begin", "mathbf", "textbf", "boldsymbol", "operatorname",
                                     "exp", "ln", "log", "lg", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos",
                                     "arctan", "sinh", "cosh", "tanh", "e", "mathrm", "boxed", "imath", NULL};
    for (int k = 0; ok[k]; k++)
        if (cmd_is(p, t, ok[k])) return true;
    for (int k = 0; greek[k]; k++)
        if (cmd_is(p, t, greek[k])) return true;
    return false;
}

// Argument of a function written without parentheses: "\sin 2x" is sin(2x), "\sin x \cos x" is
// sin(x)·cos(x) — a product of factors up to the next operator or function.
static berry_tex *func_arg(P *p) {
    tok t = peek(p);
    if (is_char(&t, '(') || is_char(&t, '{')) return parse_power(p);
    berry_tex *x = parse_power(p);
    for (;;) {
        tok u = peek(p);
        if (!x || !starts_factor(p, &u) || is_char(&u, '(') || (u.t == T_CMD && func_id(p->s + u.b, u.e - u.b)))
            return x;
        berry_tex *y = parse_power(p);
        x = node2(p, BERRY_TEX_MUL, 0, x, y);
    }
}

// \sin^2 x, \log_2 x, \ln(x): FN is the function id, the command has been read.
static berry_tex *parse_func(P *p, int fn) {
    berry_tex *power = NULL, *base = NULL;
    for (;;) {
        tok t = peek(p);
        if (is_char(&t, '^') && !power) { next(p); power = parse_arg(p); if (!power) return NULL; continue; }
        if (is_char(&t, '_') && fn == BERRY_FN_LOGB && !base) { next(p); base = parse_arg(p); if (!base) return NULL; continue; }
        break;
    }
    berry_tex *x = func_arg(p);
    if (!x) return NULL;
    berry_tex *f;
    if (fn == BERRY_FN_LOGB && !base) f = node2(p, BERRY_TEX_FUNC, BERRY_FN_LOG10, x, NULL);
    else f = node2(p, BERRY_TEX_FUNC, fn, x, base);
    return power ? node2(p, BERRY_TEX_POW, 0, f, power) : f;
}

// Cells of \begin{ENV} ... \end{ENV}: rows split by \\, cells by &.
static berry_tex *parse_matrix(P *p) {
    size_t b, e;
    if (!raw_group(p, &b, &e)) return fail(p, p->i, "expected {environment} after \\begin");
    size_t envlen = e - b;
    const char *env = p->s + b;
    if (envlen == 5 && memcmp(env, "array", 5) == 0) {
        size_t b2, e2;
        if (!raw_group(p, &b2, &e2)) return fail(p, p->i, "expected column spec after \\begin{array}");
    }
    berry_tex *cells[1024];
    int n = 0, rows = 0, cols = -1, cur = 0;
    for (;;) {
        tok t = peek(p);
        if (cmd_is(p, &t, "end")) {
            next(p);
            size_t b3, e3;
            if (!raw_group(p, &b3, &e3) || e3 - b3 != envlen || memcmp(p->s + b3, env, envlen) != 0)
                return fail(p, t.b, "\\end does not match \\begin");
            if (cur > 0) {
                if (cols >= 0 && cur != cols) return fail(p, t.b, "matrix rows of different lengths");
                cols = cur;
                rows++;
            }
            break;
        }
        if (n >= 1024) return fail(p, t.b, "matrix too large");
        berry_tex *x = parse_sum(p);
        if (!x) return NULL;
        cells[n++] = x;
        cur++;
        t = next(p);
        if (is_char(&t, '&')) continue;
        if (t.t == T_ROWSEP) {
            if (cols >= 0 && cur != cols) return fail(p, t.b, "matrix rows of different lengths");
            cols = cur;
            rows++;
            cur = 0;
            tok u = peek(p);
            if (cmd_is(p, &u, "end")) continue;
            continue;
        }
        if (cmd_is(p, &t, "end")) { p->i = t.b - 1; continue; }
        return fail(p, t.b, "expected '&', '\\\\' or \\end in matrix");
    }
    if (rows == 0) return fail(p, p->i, "empty matrix");
    berry_tex *m = node(p, BERRY_TEX_MATRIX, n);
    if (!m) return NULL;
    m->rows = rows;
    m->cols = cols;
    memcpy(m->kids, cells, (size_t)n * sizeof *cells);
    return m;
}

// Comma-separated items up to a closing token (')' ']' '}' or \}); returns the count, items in OUT.
static int parse_items(P *p, berry_tex **out, int max, bool allow_empty) {
    int n = 0;
    tok t = peek(p);
    if (allow_empty && (is_char(&t, ')') || is_char(&t, ']') || is_char(&t, '}') || t.t == T_SETR)) return 0;
    for (;;) {
        if (n >= max) { fail(p, p->i, "too many items"); return -1; }
        berry_tex *x = parse_rel(p);
        if (!x) return -1;
        out[n++] = x;
        if (!accept_char(p, ',')) return n;
    }
}

static berry_tex *items_node(P *p, berry_tex_kind k, berry_tex **items, int n) {
    berry_tex *t = node(p, k, n);
    if (t && n) memcpy(t->kids, items, (size_t)n * sizeof *items);
    return t;
}

// Digits of a leading integer literal, for mixed numbers: "1\frac{4}{5}" is 1 + 4/5.
static bool is_int_lit(const berry_tex *t) { return t && t->kind == BERRY_TEX_NUM && !strchr(t->text, '.') && t->exp10 == 0; }

static berry_tex *parse_atom(P *p) {
    tok t = next(p);
    switch (t.t) {
    case T_END: return fail(p, t.b, "unexpected end of answer");
    case T_NUM: {
        berry_tex *x = num_node(p, t.b, t.e);
        tok u = peek(p);
        if (is_int_lit(x) && (cmd_is(p, &u, "frac") || cmd_is(p, &u, "dfrac") || cmd_is(p, &u, "tfrac"))) {
            size_t save = p->i;
            next(p);
            berry_tex *a = parse_arg(p), *b = a ? parse_arg(p) : NULL;
            if (is_int_lit(a) && is_int_lit(b)) return node2(p, BERRY_TEX_ADD, 0, x, node2(p, BERRY_TEX_DIV, 0, a, b));
            if (p->failed) return NULL;
            p->i = save;  // not a mixed number: an implicit product, parsed by the caller
        }
        if (is_char(&u, '_')) {  // a number in base b: 52_8, 4210_{5}
            next(p);
            berry_tex *base = parse_arg(p);
            return base ? node2(p, BERRY_TEX_FUNC, BERRY_FN_BASE, x, base) : NULL;
        }
        return x;
    }
    case T_LETTER: {
        // Known function and constant names written without a backslash: sqrt(2), sin x, pi, inf.
        size_t j = t.b;
        while (j < p->n && isalpha((unsigned char)p->s[j])) j++;
        int fn = j - t.b >= 2 ? func_id(p->s + t.b, j - t.b) : 0;
        if (fn) {
            p->i = j;
            return parse_func(p, fn);
        }
        if (j - t.b == 2 && memcmp(p->s + t.b, "pi", 2) == 0) {
            p->i = j;
            berry_tex *c = node(p, BERRY_TEX_CONST, 0);
            if (c) c->op = 'p';
            return c;
        }
        if ((j - t.b == 3 && memcmp(p->s + t.b, "inf", 3) == 0) || (j - t.b == 8 && memcmp(p->s + t.b, "infinity", 8) == 0)) {
            p->i = j;
            berry_tex *c = node(p, BERRY_TEX_CONST, 0);
            if (c) c->op = 'o';
            return c;
        }
        if (t.c == 'e' || t.c == 'i') {
            berry_tex *c = node(p, BERRY_TEX_CONST, 0);
            if (c) c->op = t.c;
            return c;
        }
        berry_tex *x = node(p, BERRY_TEX_SYM, 0);
        if (!x) return NULL;
        x->text = copy_text(p, p->s + t.b, 1);
        tok u = peek(p);
        if (is_char(&u, '_')) {  // subscripted name: a_1, a_{n+1}, m_{\max}
            next(p);
            size_t sb = skip_junk(p, p->i), se;
            tok v = peek(p);
            if (is_char(&v, '{')) {
                if (!raw_group(p, &sb, &se)) return fail(p, v.b, "unbalanced braces in subscript");
            } else {
                tok w = next(p);
                sb = w.t == T_CMD ? w.b - 1 : w.b;
                se = w.t == T_NUM ? w.b + 1 : w.e;
                if (w.t == T_NUM) p->i = w.b + 1;
                if (w.t == T_END) return fail(p, w.b, "expected a subscript");
            }
            char buf[64];
            int len = snprintf(buf, sizeof buf, "%s_", x->text);
            for (size_t k = sb; k < se && len < 62; k++)
                if (!isspace((unsigned char)p->s[k]) && p->s[k] != '{' && p->s[k] != '}') buf[len++] = p->s[k];
            buf[len] = 0;
            x->text = copy_text(p, buf, (size_t)len);
        }
        return x;
    }
    case T_SETL: {
        berry_tex *items[256];
        int n = parse_items(p, items, 256, true);
        if (n < 0) return NULL;
        tok c = next(p);
        if (c.t != T_SETR) return fail(p, c.b, "expected '\\}'");
        return items_node(p, BERRY_TEX_SET, items, n);
    }
    case T_CHAR: {
        int c = t.c;
        if (c == 'p' || c == 'o') {
            berry_tex *x = node(p, BERRY_TEX_CONST, 0);
            if (x) x->op = c;
            return x;
        }
        if (c == 'r') {  // √
            berry_tex *x = parse_arg(p);
            return x ? node2(p, BERRY_TEX_FUNC, BERRY_FN_SQRT, x, NULL) : NULL;
        }
        if (c == '(' || c == '[') {
            berry_tex *items[256];
            int n = parse_items(p, items, 256, false);
            if (n < 0) return NULL;
            tok cl = next(p);
            if (!is_char(&cl, ')') && !is_char(&cl, ']')) return fail(p, cl.b, "expected ')' or ']'");
            bool lo = c == '[', hi = cl.c == ']';
            if (n == 1 && lo == hi) return items[0];  // grouping: (x), [x]
            if (n == 2 && (lo || hi)) {
                berry_tex *iv = items_node(p, BERRY_TEX_INTERVAL, items, 2);
                if (iv) { iv->lo_closed = lo; iv->hi_closed = hi; }
                return iv;
            }
            if (n == 1) return fail(p, cl.b, "mismatched brackets");
            return items_node(p, BERRY_TEX_TUPLE, items, n);
        }
        if (c == '{') {  // a group, or a set written with plain braces
            berry_tex *items[256];
            int n = parse_items(p, items, 256, true);
            if (n < 0) return NULL;
            tok cl = next(p);
            if (!is_char(&cl, '}')) return fail(p, cl.b, "expected '}'");
            if (n == 1) return items[0];
            return items_node(p, BERRY_TEX_SET, items, n);
        }
        if (c == '|') {
            berry_tex *x = parse_sum(p);
            if (!x) return NULL;
            tok cl = next(p);
            if (!is_char(&cl, '|')) return fail(p, cl.b, "expected closing '|'");
            return node2(p, BERRY_TEX_FUNC, BERRY_FN_ABS, x, NULL);
        }
        return fail(p, t.b, "unexpected character");
    }
    case T_CMD: break;
    default: return fail(p, t.b, "unexpected token");
    }
    // Commands.
    const char *name = p->s + t.b;
    size_t nl = t.e - t.b;
    if (cmd_is(p, &t, "frac") || cmd_is(p, &t, "dfrac") || cmd_is(p, &t, "tfrac") || cmd_is(p, &t, "cfrac")) {
        berry_tex *a = parse_arg(p);
        berry_tex *b = a ? parse_arg(p) : NULL;
        return node2(p, BERRY_TEX_DIV, 0, a, b);
    }
    if (cmd_is(p, &t, "binom") || cmd_is(p, &t, "dbinom") || cmd_is(p, &t, "tbinom")) {
        berry_tex *a = parse_arg(p);
        berry_tex *b = a ? parse_arg(p) : NULL;
        return node2(p, BERRY_TEX_FUNC, BERRY_FN_BINOM, a, b);
    }
    if (cmd_is(p, &t, "sqrt")) {
        berry_tex *idx = NULL;
        if (accept_char(p, '[')) {
            idx = parse_sum(p);
            if (!idx) return NULL;
            tok cl = next(p);
            if (!is_char(&cl, ']')) return fail(p, cl.b, "expected ']' after root index");
        }
        berry_tex *x = parse_arg(p);
        if (!x) return NULL;
        return idx ? node2(p, BERRY_TEX_FUNC, BERRY_FN_ROOT, x, idx) : node2(p, BERRY_TEX_FUNC, BERRY_FN_SQRT, x, NULL);
    }
    if (cmd_is(p, &t, "pi") || cmd_is(p, &t, "infty") || cmd_is(p, &t, "e") || cmd_is(p, &t, "imath")) {
        berry_tex *x = node(p, BERRY_TEX_CONST, 0);
        if (x) x->op = name[0] == 'p' ? 'p' : name[0] == 'e' ? 'e' : name[0] == 'i' && nl == 5 ? 'i' : 'o';
        return x;
    }
    if (cmd_is(p, &t, "lfloor") || cmd_is(p, &t, "lceil")) {
        bool fl = name[1] == 'f';
        berry_tex *x = parse_sum(p);
        if (!x) return NULL;
        tok cl = next(p);
        if (!cmd_is(p, &cl, fl ? "rfloor" : "rceil")) return fail(p, cl.b, fl ? "expected \\rfloor" : "expected \\rceil");
        return node2(p, BERRY_TEX_FUNC, fl ? BERRY_FN_FLOOR : BERRY_FN_CEIL, x, NULL);
    }
    if (cmd_is(p, &t, "emptyset") || cmd_is(p, &t, "varnothing")) return node(p, BERRY_TEX_SET, 0);
    if (cmd_is(p, &t, "begin")) return parse_matrix(p);
    if (cmd_is(p, &t, "mathbf") || cmd_is(p, &t, "textbf") || cmd_is(p, &t, "boldsymbol") || cmd_is(p, &t, "boxed") ||
        cmd_is(p, &t, "fbox") || cmd_is(p, &t, "mathbb") || cmd_is(p, &t, "bf") || cmd_is(p, &t, "mathsf") || cmd_is(p, &t, "bm"))
        return parse_arg(p);
    if (cmd_is(p, &t, "operatorname")) {
        size_t b, e;
        if (!raw_group(p, &b, &e)) return fail(p, t.b, "expected {name} after \\operatorname");
        int fn = func_id(p->s + b, e - b);
        if (fn) return parse_func(p, fn);
        berry_tex *x = node(p, BERRY_TEX_SYM, 0);
        if (x) x->text = copy_text(p, p->s + b, e - b);
        return x;
    }
    if (is_textcmd(p, &t)) {
        size_t b, e;
        if (!raw_group(p, &b, &e)) {
            if (cmd_is(p, &t, "rm")) return parse_atom(p);
            return fail(p, t.b, "expected {text}");
        }
        // \text{5} and \mathrm{e} hold math; anything else is a word.
        while (b < e && p->s[b] == ' ') b++;
        while (e > b && p->s[e - 1] == ' ') e--;
        if (e - b == 1 && p->s[b] == 'e' && cmd_is(p, &t, "mathrm")) {
            berry_tex *x = node(p, BERRY_TEX_CONST, 0);
            if (x) x->op = 'e';
            return x;
        }
        bool numeric = e > b;
        for (size_t k = b; k < e; k++)
            if (!isdigit((unsigned char)p->s[k]) && p->s[k] != '.' && p->s[k] != '-') numeric = false;
        if (numeric && isdigit((unsigned char)p->s[e - 1])) {
            berry_tex *x = num_node(p, p->s[b] == '-' ? b + 1 : b, e);
            return p->s[b] == '-' ? node2(p, BERRY_TEX_NEG, 0, x, NULL) : x;
        }
        berry_tex *x = node(p, BERRY_TEX_TEXT, 0);
        if (x) x->text = copy_text(p, p->s + b, e - b);
        return x;
    }
    int fn = func_id(name, nl);
    if (fn) return parse_func(p, fn);
    for (int k = 0; greek[k]; k++)
        if (cmd_is(p, &t, greek[k])) {
            berry_tex *x = node(p, BERRY_TEX_SYM, 0);
            if (x) x->text = copy_text(p, name, nl);
            return x;
        }
    char msg[80];
    snprintf(msg, sizeof msg, "unknown command \\%.*s", (int)(nl < 40 ? nl : 40), name);
    return fail(p, t.b - 1, msg);
}

// atom, then subscripts handled in the atom, factorials, and '^' (left to right: 2^3^2 is rare in answers).
static berry_tex *parse_power(P *p) {
    berry_tex *x = parse_atom(p);
    for (;;) {
        if (!x) return NULL;
        tok t = peek(p);
        if (is_char(&t, '!')) {
            next(p);
            x = node2(p, BERRY_TEX_FUNC, BERRY_FN_FACT, x, NULL);
        } else if (is_char(&t, '^')) {
            next(p);
            berry_tex *e = parse_arg(p);
            x = node2(p, BERRY_TEX_POW, 0, x, e);
        } else if (is_char(&t, '\'')) {
            next(p);  // primes (f'(x)) are kept out of the value; rare in final answers
        } else return x;
    }
}

static berry_tex *parse_unary(P *p) {
    if (++p->depth > MAX_DEPTH) return fail(p, p->i, "answer nested too deeply");
    tok t = peek(p);
    berry_tex *x;
    if (is_char(&t, '-')) { next(p); x = parse_unary(p); x = x ? node2(p, BERRY_TEX_NEG, 0, x, NULL) : NULL; }
    else if (is_char(&t, '+')) { next(p); x = parse_unary(p); }
    else if (is_char(&t, 'P') || cmd_is(p, &t, "pm") || cmd_is(p, &t, "mp")) {
        next(p);
        berry_tex *y = parse_unary(p);
        x = y ? node(p, BERRY_TEX_PM, 2) : NULL;
        if (x) { x->op = cmd_is(p, &t, "mp") ? '-' : '+'; x->kids[1] = y; }
    } else x = parse_power(p);
    p->depth--;
    return x;
}

static bool is_mul_op(P *p, const tok *t) { return is_char(t, '*') || cmd_is(p, t, "cdot") || cmd_is(p, t, "times") || cmd_is(p, t, "ast"); }
static bool is_div_op(P *p, const tok *t) { return is_char(t, '/') || cmd_is(p, t, "div"); }

static berry_tex *finish_product(P *p, berry_tex **f, int n) {
    if (n == 1) return f[0];
    return items_node(p, BERRY_TEX_MUL, f, n);
}

// Products and quotients, explicit or implicit; a \text{word} after a value is a unit and is dropped.
static berry_tex *parse_term(P *p) {
    berry_tex *f[64];
    int n = 0;
    berry_tex *x = parse_unary(p);
    if (!x) return NULL;
    f[n++] = x;
    for (;;) {
        tok t = peek(p);
        berry_tex *y;
        if (is_mul_op(p, &t)) {
            next(p);
            y = parse_unary(p);
        } else if (is_div_op(p, &t)) {
            next(p);
            y = parse_unary(p);
            if (!y) return NULL;
            berry_tex *left = finish_product(p, f, n);
            f[0] = node2(p, BERRY_TEX_DIV, 0, left, y);
            n = 1;
            if (!f[0]) return NULL;
            continue;
        } else if (is_textcmd(p, &t)) {
            size_t save = p->i, b, e;
            next(p);
            if (raw_group(p, &b, &e) && is_unit_word(p->s + b, e - b)) {
                tok u = peek(p);  // square units: \mbox{ cm}^2
                if (is_char(&u, '^')) { next(p); if (!parse_arg(p)) return NULL; }
                continue;
            }
            p->i = save;
            return fail(p, t.b, "unexpected text after a value");
        } else if (starts_factor(p, &t)) {
            y = parse_power(p);
        } else break;
        if (!y) return NULL;
        if (n >= 64) {
            f[0] = finish_product(p, f, n);
            n = 1;
            if (!f[0]) return NULL;
        }
        f[n++] = y;
    }
    return finish_product(p, f, n);
}

static berry_tex *parse_sum(P *p) {
    berry_tex *f[64];
    int n = 0;
    berry_tex *x = parse_term(p);
    if (!x) return NULL;
    f[n++] = x;
    berry_tex *pm = NULL;
    for (;;) {
        tok t = peek(p);
        int op = 0;
        if (is_char(&t, '+')) op = '+';
        else if (is_char(&t, '-')) op = '-';
        else if (is_char(&t, 'P') || cmd_is(p, &t, "pm")) op = 'P';
        else if (cmd_is(p, &t, "mp")) op = 'M';
        else break;
        next(p);
        berry_tex *y = parse_term(p);
        if (!y) return NULL;
        if (op == 'P' || op == 'M') {
            // a ± b: everything so far is the left side.
            berry_tex *left = n == 1 ? f[0] : items_node(p, BERRY_TEX_ADD, f, n);
            pm = node2(p, BERRY_TEX_PM, op == 'P' ? '+' : '-', left, y);
            if (!pm) return NULL;
            f[0] = pm;
            n = 1;
            continue;
        }
        if (op == '-') y = node2(p, BERRY_TEX_NEG, 0, y, NULL);
        if (!y) return NULL;
        if (n >= 64) {
            f[0] = items_node(p, BERRY_TEX_ADD, f, n);
            n = 1;
            if (!f[0]) return NULL;
        }
        f[n++] = y;
    }
    return n == 1 ? f[0] : items_node(p, BERRY_TEX_ADD, f, n);
}

static berry_tex *parse_union(P *p) {
    berry_tex *f[64];
    int n = 0;
    berry_tex *x = parse_sum(p);
    if (!x) return NULL;
    f[n++] = x;
    for (;;) {
        tok t = peek(p);
        if (!cmd_is(p, &t, "cup") && !is_char(&t, 'U')) break;
        next(p);
        if (n >= 64) return fail(p, t.b, "too many sets in a union");
        f[n] = parse_sum(p);
        if (!f[n++]) return NULL;
    }
    return n == 1 ? f[0] : items_node(p, BERRY_TEX_UNION, f, n);
}

static int rel_op(P *p, const tok *t) {
    if (t->t == T_CHAR && strchr("=<>lgni", t->c)) return t->c;
    if (cmd_is(p, t, "le") || cmd_is(p, t, "leq") || cmd_is(p, t, "leqslant")) return 'l';
    if (cmd_is(p, t, "ge") || cmd_is(p, t, "geq") || cmd_is(p, t, "geqslant")) return 'g';
    if (cmd_is(p, t, "ne") || cmd_is(p, t, "neq")) return 'n';
    if (cmd_is(p, t, "lt")) return '<';
    if (cmd_is(p, t, "gt")) return '>';
    if (cmd_is(p, t, "in")) return 'i';
    if (cmd_is(p, t, "equiv")) return '=';
    return 0;
}

static berry_tex *parse_rel(P *p) {
    if (++p->depth > MAX_DEPTH) return fail(p, p->i, "answer nested too deeply");
    berry_tex *x = parse_union(p);
    for (;;) {
        if (!x) break;
        tok t = peek(p);
        int op = rel_op(p, &t);
        if (!op) break;
        next(p);
        berry_tex *y = parse_union(p);
        x = node2(p, BERRY_TEX_REL, op, x, y);
    }
    p->depth--;
    return x;
}

// "58,500" and "1,000,000" (groups of exactly three digits after the first): one number with
// thousands separators, unless the dataset says the answer lists several values.
static bool plain_thousands(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    size_t d = 0;
    while (i < n && isdigit((unsigned char)s[i])) { i++; d++; }
    if (d < 1 || d > 3) return false;
    int groups = 0;
    while (i < n && s[i] == ',') {
        i++;
        for (int k = 0; k < 3; k++, i++)
            if (i >= n || !isdigit((unsigned char)s[i])) return false;
        groups++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && isdigit((unsigned char)s[i])) i++;
    }
    return groups > 0 && i == n;
}

berry_tex *berry_tex_parse(const char *s, size_t len, bool multi, berry_tex_arena **arena, char *err, size_t err_size) {
    *arena = NULL;
    // Trim spaces, '$' and a final '.'.
    while (len && (isspace((unsigned char)*s) || *s == '$')) { s++; len--; }
    while (len && (isspace((unsigned char)s[len - 1]) || s[len - 1] == '$' || s[len - 1] == '.')) len--;
    P p = {s, len, 0, 0, multi, arena, err, err_size, false};
    char *copy = NULL;
    if (!multi && plain_thousands(s, len)) {
        copy = malloc(len + 1);
        if (!copy) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return NULL; }
        size_t k = 0;
        for (size_t i = 0; i < len; i++)
            if (s[i] != ',') copy[k++] = s[i];
        p.s = copy;
        p.n = k;
    }
    berry_tex *items[256];
    int n = parse_items(&p, items, 256, false);
    berry_tex *root = NULL;
    if (n > 0) {
        tok t = peek(&p);
        if (t.t != T_END) fail(&p, t.b, "unexpected text after the answer");
        else root = n == 1 ? items[0] : items_node(&p, BERRY_TEX_LIST, items, n);
    }
    free(copy);
    return p.failed ? NULL : root;
}

// ---- printing ----

typedef struct { char *o; size_t n, k; } out;
static void emit(out *w, const char *s) {
    while (*s && w->k + 1 < w->n) w->o[w->k++] = *s++;
    if (w->n) w->o[w->k] = 0;
}

static void print_rec(const berry_tex *t, out *w, int depth) {
    if (depth > 64) { emit(w, "..."); return; }
    if (!t) { emit(w, "_"); return; }
    char buf[64];
    static const char *const kinds[] = {"num", "sym", "const", "+", "*", "-", "/", "^", "fn", "pm", "tuple",
                                        "interval", "set", "list", "union", "matrix", "rel", "text"};
    switch (t->kind) {
    case BERRY_TEX_NUM:
        emit(w, t->text);
        if (t->exp10) { snprintf(buf, sizeof buf, "e%ld", t->exp10); emit(w, buf); }
        return;
    case BERRY_TEX_SYM: emit(w, t->text); return;
    case BERRY_TEX_TEXT: emit(w, "\""); emit(w, t->text); emit(w, "\""); return;
    case BERRY_TEX_CONST:
        emit(w, t->op == 'p' ? "pi" : t->op == 'e' ? "e" : t->op == 'i' ? "i" : "inf");
        return;
    default: break;
    }
    emit(w, "(");
    if (t->kind == BERRY_TEX_FUNC) { snprintf(buf, sizeof buf, "fn%d", t->op); emit(w, buf); }
    else if (t->kind == BERRY_TEX_REL) { buf[0] = (char)t->op; buf[1] = 0; emit(w, buf); }
    else if (t->kind == BERRY_TEX_INTERVAL) emit(w, t->lo_closed ? (t->hi_closed ? "[]" : "[)") : (t->hi_closed ? "(]" : "()"));
    else if (t->kind == BERRY_TEX_MATRIX) { snprintf(buf, sizeof buf, "matrix%dx%d", t->rows, t->cols); emit(w, buf); }
    else emit(w, kinds[t->kind]);
    for (int i = 0; i < t->n; i++) {
        emit(w, " ");
        print_rec(t->kids[i], w, depth + 1);
    }
    emit(w, ")");
}

void berry_tex_print(const berry_tex *t, char *o, size_t n) {
    out w = {o, n, 0};
    if (n) o[0] = 0;
    print_rec(t, &w, 0);
}
