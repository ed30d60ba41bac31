// extract.h — the final answer of a model's solution: the last \boxed{} or \fbox{} (nested braces
// matched), else "the answer is ...", else GSM8K's "#### N", else (when asked) the last number.
#ifndef BERRY_EXTRACT_H
#define BERRY_EXTRACT_H
#include <stddef.h>

typedef enum {
    BERRY_EXTRACT_MARKED,       // only an answer the text marks (\boxed, "answer is", ####)
    BERRY_EXTRACT_LAST_NUMBER,  // marked, else the last number in the text (GSM8K convention)
    BERRY_EXTRACT_INTEGER,      // marked, else the last integer (AIME: answers are integers 0-999)
} berry_extract_mode;

// Returns the answer as a new string (free() it), or NULL when the text holds none (or memory ran out).
// Linear in LEN; unbalanced braces never read past the text.
char *berry_math_extract(const char *text, size_t len, berry_extract_mode mode);

// The contents of the last \boxed{...} / \fbox{...} alone, or NULL.
char *berry_math_extract_boxed(const char *text, size_t len);

#endif
