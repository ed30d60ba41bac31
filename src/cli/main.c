// main.c — `berry`: dispatches to the registered subcommands.
#include "cli/cli.h"
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { const char *name, *summary; berry_cmd_fn fn; } command;
static command commands[64];
static int n_commands;

void berry_cli_register(const char *name, const char *summary, berry_cmd_fn fn) {
    if (n_commands < 64) commands[n_commands++] = (command){name, summary, fn};
}

int berry_cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("berry: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

bool berry_cli_int(const char *flag, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        berry_cli_error("%s expects an integer in [%ld, %ld], got '%s'", flag, lo, hi, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

bool berry_cli_float(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !(v >= lo && v <= hi)) {
        berry_cli_error("%s expects a number in [%g, %g], got '%s'", flag, lo, hi, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

const char *berry_cli_models_dir(void) {
    const char *e = getenv("BERRY_MODEL_DIR");
    if (e && *e) return e;
#ifdef BERRY_SOURCE_DIR
    return BERRY_SOURCE_DIR "/models";
#else
    return "models";
#endif
}

const char *berry_cli_embedded_prm(const char *model, char *buf, size_t size) {
    char emb[4096];
    snprintf(emb, sizeof emb, "%s/%s", berry_cli_models_dir(), BERRY_EMBEDDED_MODEL_FILE);
    if (model) {
        char *a = realpath(model, NULL), *b = realpath(emb, NULL);
        bool same = a && b && !strcmp(a, b);
        free(a), free(b);
        if (!same) return NULL;
    }
    snprintf(buf, size, "%s/%s", berry_cli_models_dir(), BERRY_EMBEDDED_PRM_FILE);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

static int cmp_cmd(const void *a, const void *b) { return strcmp(((const command *)a)->name, ((const command *)b)->name); }

static void usage(FILE *f) {
    fprintf(f, "usage: berry COMMAND [ARGS...]\n\n"
               "berry is an O1-style mathematical reasoner: GGUF inference, tree search, training.\n\n"
               "commands:\n");
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`berry COMMAND --help` describes a command.\n");
}

int main(int argc, char **argv) {
    qsort(commands, n_commands, sizeof commands[0], cmp_cmd);
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    berry_cli_error("unknown command '%s' (see berry --help)", argv[1]);
    return 2;
}
