// cli.h — subcommand registration and shared helpers for the `berry` command-line tool. Each
// src/cli/cmd_*.c registers its subcommands with BERRY_COMMAND; main.c dispatches on argv[1].
#ifndef BERRY_CLI_H
#define BERRY_CLI_H
#include <stdbool.h>
#include <stddef.h>

typedef int (*berry_cmd_fn)(int argc, char **argv);  // argv[0] is the subcommand's name
void berry_cli_register(const char *name, const char *summary, berry_cmd_fn fn);

#define BERRY_COMMAND(name, summary, fn)                                         \
    __attribute__((constructor)) static void berry_cmd_reg_##fn(void) {          \
        berry_cli_register(name, summary, fn);                                   \
    }

// Prints "berry: MESSAGE" on stderr and returns 1 (the exit code for a failed command).
int berry_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Parses a whole decimal argument; on failure prints "berry: FLAG expects ..." and returns false.
bool berry_cli_int(const char *flag, const char *s, long lo, long hi, long *out);
bool berry_cli_float(const char *flag, const char *s, double lo, double hi, double *out);

// The embedded model's path: $BERRY_MODEL_DIR or the models/ folder the binary was built with.
const char *berry_cli_models_dir(void);

// The embedded model's own PPRM, BERRY_EMBEDDED_PRM_FILE in berry_cli_models_dir(), for the search's
// compare role: its path (written to BUF) when MODEL is the embedded model (NULL, or a path to the same
// file as the models folder's berry-tiny.gguf) and the PPRM file is readable; NULL otherwise.
#define BERRY_EMBEDDED_MODEL_FILE "berry-tiny.gguf"
#define BERRY_EMBEDDED_PRM_FILE "berry-tiny-prm.gguf"
const char *berry_cli_embedded_prm(const char *model, char *buf, size_t size);

#endif
