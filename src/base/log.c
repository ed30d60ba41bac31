// log.c — stderr logging and progress bars.
#include "base/log.h"
#include "base/clock.h"
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int level = 1;  // process-wide verbosity; set once by the CLI

void berry_log_set_level(int l) { level = l; }
int berry_log_level(void) { return level; }

void berry_log(const char *fmt, ...) {
    if (level <= 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void berry_progress_start(berry_progress *p, const char *label, long total) {
    p->label = label;
    p->total = total;
    p->t_start = p->t_last = berry_now();
    p->tty = isatty(2);
}

static void draw(berry_progress *p, long done, const char *suffix, int final) {
    double el = berry_now() - p->t_start;
    double frac = p->total > 0 ? (double)done / (double)p->total : 0;
    if (frac > 1) frac = 1;
    double eta = frac > 0 ? el * (1 - frac) / frac : 0;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    fprintf(stderr, "%s%s [%s] %ld/%ld %.0fs eta %.0fs %s%s", p->tty ? "\r\033[K" : "", p->label, bar, done,
            p->total, el, eta, suffix ? suffix : "", (final || !p->tty) ? "\n" : "");
    fflush(stderr);
}

void berry_progress_update(berry_progress *p, long done, const char *suffix) {
    if (level <= 0) return;
    double now = berry_now();
    if (now - p->t_last < (p->tty ? 0.1 : 5.0)) return;
    p->t_last = now;
    draw(p, done, suffix, 0);
}

void berry_progress_end(berry_progress *p, long done, const char *suffix) {
    if (level <= 0) return;
    draw(p, done, suffix, 1);
}
