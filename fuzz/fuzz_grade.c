// libFuzzer target for answer extraction and grading: the input is split at the first NUL byte into
// an answer and a reference; every input must give a verdict in bounded time with no sanitizer report.
#include "math/extract.h"
#include "math/grade.h"
#include "split.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *a, *r;
    char *buf = fuzz_split(data, size, &a, &r);
    if (!buf) return 0;
    char *ex = berry_math_extract(buf, size, BERRY_EXTRACT_LAST_NUMBER);
    free(ex);
    berry_grade_opts o = berry_grade_defaults();
    char why[200];
    berry_math_grade(a, r, &o, why, sizeof why);
    o.multi = true;
    berry_math_grade(r, a, &o, why, sizeof why);
    free(buf);
    return 0;
}
