// grade.h — answer equivalence. Numbers compare exactly (rationals in Q(i) with GMP, arbitrary
// precision); tuples in order, intervals with their open/closed ends, sets and several answers
// without order, matrices elementwise; symbolic expressions by evaluating both at random points
// (after exact evaluation where it is cheap: 0.5 = 1/2, sqrt(8) = 2 sqrt(2) numerically).
//
//   berry_grade_opts o = berry_grade_defaults();
//   bool right = berry_math_equal("\\frac{1}{2}", "0.5", &o);   // true
#ifndef BERRY_GRADE_H
#define BERRY_GRADE_H
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    // 0: numbers must be equal exactly. > 0: real numbers within this relative distance are equal
    // (only where a dataset asks for it: GSM-Hard's targets are floats computed by a program).
    double rel_tol;
    // The reference lists several answers (OlympiadBench's is_multiple_answer): a top-level
    // "58,500" is then two answers, not one number with a thousands separator.
    bool multi;
} berry_grade_opts;

berry_grade_opts berry_grade_defaults(void);

// True when ANSWER (a final answer, e.g. the contents of \boxed{}) equals REFERENCE. When WHY is not
// NULL it receives one line saying how the verdict was reached ("exact: 1/2 = 1/2", "parse error in
// answer at character 3: ...; compared as text"). Never fails: unparseable input is compared as
// normalized text, and hostile input (10^5 nested braces, 10^6-digit numbers) is refused in bounded
// time and memory with a false verdict.
bool berry_math_grade(const char *answer, const char *reference, const berry_grade_opts *opts, char *why, size_t why_size);
bool berry_math_equal(const char *answer, const char *reference, const berry_grade_opts *opts);

// Answers longer than this are not parsed (compared as text only).
#define BERRY_GRADE_MAX_LEN (4u << 20)

#endif
