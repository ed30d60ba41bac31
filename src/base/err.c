// err.c — status names and message formatting.
#include "base/err.h"
#include <stdarg.h>
#include <stdio.h>

const char *berry_status_name(berry_status s) {
    switch (s) {
    case BERRY_OK: return "ok";
    case BERRY_EINVAL: return "invalid argument";
    case BERRY_ENOMEM: return "out of memory";
    case BERRY_EIO: return "i/o error";
    case BERRY_EFORMAT: return "bad format";
    case BERRY_EUNSUPPORTED: return "unsupported";
    case BERRY_ELIMIT: return "limit reached";
    }
    return "unknown status";
}

berry_status berry_errf(char *err, size_t err_size, berry_status status, const char *fmt, ...) {
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return status;
}
