// latex.h — parses a final answer written in LaTeX (or plain text math) into an expression tree:
// numbers, symbols, + - · / ^, functions, tuples, intervals, sets, matrices, relations, ±, text.
// Formatting that does not change the value (\left \right \! \, \dfrac, degrees, \%, \$, units,
// thousands separators) is dropped while parsing. The tree lives in an arena freed in one call.
#ifndef BERRY_LATEX_H
#define BERRY_LATEX_H
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    BERRY_TEX_NUM,      // decimal literal: text = digits with optional '.', exponent in `exp10`
    BERRY_TEX_SYM,      // variable: text = name ("x", "alpha", "a_1")
    BERRY_TEX_CONST,    // pi, e, i (imaginary unit), infinity: op = 'p' 'e' 'i' 'o'
    BERRY_TEX_ADD,      // n-ary sum of kids
    BERRY_TEX_MUL,      // n-ary product of kids
    BERRY_TEX_NEG,      // -kid[0]
    BERRY_TEX_DIV,      // kid[0] / kid[1]
    BERRY_TEX_POW,      // kid[0] ^ kid[1]
    BERRY_TEX_FUNC,     // op = function id (BERRY_FN_*), kids = arguments (root: kid[0]=radicand, kid[1]=index)
    BERRY_TEX_PM,       // kid[0] ± kid[1] (op '+': ±, '-': ∓); kid[0] may be NULL for a leading ±
    BERRY_TEX_TUPLE,    // ( a, b, ... ) or [ a, b ] read as a tuple
    BERRY_TEX_INTERVAL, // kid[0], kid[1]; lo_closed / hi_closed
    BERRY_TEX_SET,      // \{ a, b \}
    BERRY_TEX_LIST,     // bare top-level a, b, c (several answers, order-free)
    BERRY_TEX_UNION,    // kid[0] \cup kid[1] ...
    BERRY_TEX_MATRIX,   // rows x cols kids, row-major
    BERRY_TEX_REL,      // kid[0] op kid[1]; op: '=', '<', '>', 'l' (≤), 'g' (≥), 'n' (≠), 'i' (∈)
    BERRY_TEX_TEXT,     // \text{...} that is not a unit: text = its contents
} berry_tex_kind;

enum {
    BERRY_FN_SQRT = 1, BERRY_FN_ROOT, BERRY_FN_SIN, BERRY_FN_COS, BERRY_FN_TAN, BERRY_FN_COT, BERRY_FN_SEC,
    BERRY_FN_CSC, BERRY_FN_ASIN, BERRY_FN_ACOS, BERRY_FN_ATAN, BERRY_FN_SINH, BERRY_FN_COSH, BERRY_FN_TANH,
    BERRY_FN_LN, BERRY_FN_LOG10, BERRY_FN_LOGB /* kid[0] = argument, kid[1] = base */, BERRY_FN_EXP,
    BERRY_FN_ABS, BERRY_FN_FLOOR, BERRY_FN_CEIL, BERRY_FN_FACT, BERRY_FN_BINOM, BERRY_FN_BASE /* digits_b */,
};

typedef struct berry_tex berry_tex;
struct berry_tex {
    berry_tex_kind kind;
    int op;
    const char *text;     // NUM, SYM, TEXT (NUL-terminated, in the arena)
    long exp10;           // NUM: value = text * 10^exp10
    bool lo_closed, hi_closed;
    int rows, cols;       // MATRIX
    int n;                // number of kids
    berry_tex **kids;
};

typedef struct berry_tex_arena berry_tex_arena;

// Parses S[0..LEN). Returns the root, allocated in *ARENA (created here; free it with
// berry_tex_arena_free even on failure), or NULL with one line in ERR. MULTI: the answer lists
// several answers, so a top-level "58,500" is two numbers rather than one with a thousands comma.
berry_tex *berry_tex_parse(const char *s, size_t len, bool multi, berry_tex_arena **arena, char *err, size_t err_size);
void berry_tex_arena_free(berry_tex_arena *a);

// Writes the tree in a prefix form ("(+ 1 (* 2 x))") for tests and debugging; truncated to N bytes.
void berry_tex_print(const berry_tex *t, char *out, size_t n);

#endif
