// cmd_grade.c — `berry grade ANSWER REFERENCE`: decides whether two final answers are equivalent.
#include "base/json.h"
#include "cli/cli.h"
#include "math/extract.h"
#include "math/grade.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: berry grade [options] ANSWER REFERENCE\n\n"
               "Prints 'equal' or 'different' and exits 0 or 3. ANSWER may be a whole solution: its final\n"
               "answer is extracted (\\boxed{}, 'The answer is', '#### N', the last number).\n\n"
               "  --multi        the reference lists several answers (order-free)\n"
               "  --tol X        relative tolerance for numbers (default 0: exact)\n"
               "  --json         print {\"equal\":..,\"answer\":..,\"why\":..}\n"
               "  -v             explain the verdict on stderr\n");
}

static int cmd_grade(int argc, char **argv) {
    berry_grade_opts o = berry_grade_defaults();
    bool json = false, verbose = false;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--multi")) o.multi = true;
        else if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "-v")) verbose = true;
        else if (!strcmp(argv[i], "--tol")) {
            if (i + 1 >= argc) return berry_cli_error("--tol expects a number");
            if (!berry_cli_float("--tol", argv[++i], 0, 1, &o.rel_tol)) return 1;
        } else if (npos < 2) pos[npos++] = argv[i];
        else { usage(stderr); return 2; }
    }
    if (npos != 2) { usage(stderr); return 2; }
    char *ans = berry_math_extract(pos[0], strlen(pos[0]), BERRY_EXTRACT_MARKED);
    const char *a = ans ? ans : pos[0];
    char why[256];
    bool eq = berry_math_grade(a, pos[1], &o, why, sizeof why);
    if (json) {
        berry_json_writer w;
        berry_json_writer_init(&w);
        berry_json_begin_object(&w);
        berry_json_key(&w, "equal");
        berry_json_write_bool(&w, eq);
        berry_json_key(&w, "answer");
        berry_json_write_str(&w, a);
        berry_json_key(&w, "reference");
        berry_json_write_str(&w, pos[1]);
        berry_json_key(&w, "why");
        berry_json_write_str(&w, why);
        berry_json_end_object(&w);
        if (w.failed) { berry_json_writer_free(&w); free(ans); return berry_cli_error("out of memory"); }
        printf("%s\n", w.data);
        berry_json_writer_free(&w);
    } else {
        printf("%s\n", eq ? "equal" : "different");
        if (verbose) fprintf(stderr, "answer: %s\nwhy: %s\n", a, why);
    }
    free(ans);
    return eq ? 0 : 3;
}

BERRY_COMMAND("grade", "decide whether an answer equals a reference answer", cmd_grade)
