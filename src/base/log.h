// log.h — progress and log lines for the command-line tool. Library code does not call these; the CLI
// and long-running drivers (training, evaluation) do. Everything goes to stderr.
#ifndef BERRY_LOG_H
#define BERRY_LOG_H
#include <stdbool.h>

void berry_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Verbosity: 0 quiet, 1 normal (default), 2 debug.
void berry_log_set_level(int level);
int  berry_log_level(void);

// A one-line progress bar redrawn in place when stderr is a terminal, printed every few seconds
// otherwise. SUFFIX is free text (loss, tok/s).
typedef struct {
    const char *label;
    long total;
    double t_start, t_last;
    bool tty;
} berry_progress;
void berry_progress_start(berry_progress *p, const char *label, long total);
void berry_progress_update(berry_progress *p, long done, const char *suffix);
void berry_progress_end(berry_progress *p, long done, const char *suffix);

#endif
