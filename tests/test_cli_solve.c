// test_cli_solve.c — `berry solve` end to end: the prompt set a policy speaks follows its GGUF's
// general.name, as in `berry eval`, and not its file name. Runs the built berry binary on the shipped
// embedded model; skips visibly when either is missing.
#include "test.h"
#include "tiny_model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 16);
    size_t n = s ? fread(s, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (s) s[n] = 0;
    return s;
}

// The embedded model copied under a name that does not start with berry answers a problem greedily as
// the embedded model run without -m does: both speak the embedded role prompts. (Chosen by file name,
// the copy got the instruct templates, in which this model finds no answer.)
TEST(cli_solve_prompts_follow_general_name) {
    const char *berry = berry_ttest_berry(), *model = berry_test_path("models/berry-tiny.gguf");
    struct stat st;
    if (!berry) SKIP("build/<variant>/berry is not built");
    if (!model || stat(model, &st) != 0) SKIP("models/berry-tiny.gguf is missing (make model SHIP=1 builds it)");
    char copy[1024], cmd[8192], out1[1100], out2[1100];
    snprintf(copy, sizeof copy, "%s/policy.gguf", berry_test_tmpdir());
    snprintf(out1, sizeof out1, "%s/solve_default.txt", berry_test_tmpdir());
    snprintf(out2, sizeof out2, "%s/solve_copy.txt", berry_test_tmpdir());
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", model, copy);
    CHECK_EQ_INT(berry_ttest_sh(cmd, NULL, NULL), 0);
    static const char *problem = "Ravi reads 6 pages a day for 2 days. The book has 14 pages. How many pages are left?";
    snprintf(cmd, sizeof cmd, "BERRY_MODEL_DIR='%s/models' '%s' solve -q -t 1 --method greedy -n 200 '%s'",
             berry_test_path("."), berry, problem);
    CHECK_EQ_INT(berry_ttest_sh(cmd, out1, NULL), 0);
    snprintf(cmd, sizeof cmd, "'%s' solve -q -t 1 --method greedy -n 200 -m '%s' '%s'", berry, copy, problem);
    CHECK_EQ_INT(berry_ttest_sh(cmd, out2, NULL), 0);
    char *a = slurp(out1), *b = slurp(out2);
    CHECK(a && b);
    if (a && b) {
        CHECKF(strcmp(a, "no answer\n") != 0, "the embedded model found no answer: '%s'", a);
        CHECKF(!strcmp(a, b), "the copy's output differs:\n--- embedded ---\n%s\n--- copy ---\n%s", a, b);
    }
    free(a);
    free(b);
}
