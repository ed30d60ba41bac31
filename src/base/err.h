// err.h — errors as values. Library functions return a berry_status (or NULL) and, when the caller
// passes a buffer, one line that says what went wrong and where. Library code never prints or exits.
#ifndef BERRY_ERR_H
#define BERRY_ERR_H
#include <stddef.h>

typedef enum {
    BERRY_OK = 0,
    BERRY_EINVAL,       // bad argument or input (a malformed file, a flag out of range)
    BERRY_ENOMEM,       // an allocation or a memory cap failed
    BERRY_EIO,          // the operating system refused a read or write
    BERRY_EFORMAT,      // a file's contents are corrupt or inconsistent
    BERRY_EUNSUPPORTED, // valid, but berry does not implement it (an unknown architecture)
    BERRY_ELIMIT,       // a budget or capacity was reached
} berry_status;

const char *berry_status_name(berry_status s);

// Writes a printf-style message into ERR (of ERR_SIZE bytes) when ERR is not NULL; returns STATUS so
// that callers can write `return berry_errf(err, n, BERRY_EINVAL, "...")`.
berry_status berry_errf(char *err, size_t err_size, berry_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
