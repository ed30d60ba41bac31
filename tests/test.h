// test.h — berry's test framework: tests register themselves, run in a forked child each, and the
// runner's last line is "N passed, N failed, N skipped".
#ifndef BERRY_TEST_H
#define BERRY_TEST_H
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*berry_test_fn)(void);
void berry_test_register(const char *name, const char *file, berry_test_fn fn);
// Marks the running test failed with a message; the test function should return after it.
void berry_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Marks the running test skipped (a visible notice, not a pass).
void berry_test_skip(const char *why);
// Path of the repository root (tests find fixtures as berry_test_path("tests/data/x")).
const char *berry_test_path(const char *rel);
// The whole file PATH, NUL-terminated (free it), its length in *LEN when LEN is not NULL; NULL when it
// cannot be read.
char *berry_test_read_file(const char *path, size_t *len);
// A fresh temporary directory for this test, removed after it.
const char *berry_test_tmpdir(void);

#define TEST(name)                                                                  \
    static void name(void);                                                         \
    __attribute__((constructor)) static void berry_reg_##name(void) {               \
        berry_test_register(#name, __FILE__, name);                                 \
    }                                                                               \
    static void name(void)

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) { berry_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); return; } \
    } while (0)
#define CHECKF(cond, ...)                                                           \
    do {                                                                            \
        if (!(cond)) { berry_test_fail(__FILE__, __LINE__, __VA_ARGS__); return; }  \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                          \
    do {                                                                            \
        long long a_ = (long long)(a), b_ = (long long)(b);                         \
        if (a_ != b_) { berry_test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_); return; } \
    } while (0)
#define CHECK_STR(a, b)                                                             \
    do {                                                                            \
        const char *a_ = (a), *b_ = (b);                                            \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) { berry_test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); return; } \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                       \
    do {                                                                            \
        double a_ = (a), b_ = (b);                                                  \
        if (!(fabs(a_ - b_) <= (tol))) { berry_test_fail(__FILE__, __LINE__, "%s = %.9g, expected %.9g (tol %g)", #a, a_, b_, (double)(tol)); return; } \
    } while (0)
#define SKIP(why) do { berry_test_skip(why); return; } while (0)

#endif
