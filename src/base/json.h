// json.h — JSON (RFC 8259): a DOM parser with a depth limit and line:column errors, and a small
// compact writer for JSONL records. Hostile input gives an error, never a crash.
//
//   char err[256];
//   berry_json *doc = berry_json_parse(text, len, err, sizeof err);
//   if (!doc) return berry_errf(..., "%s: %s", path, err);
//   const char *q = berry_json_str(berry_json_get(doc, "question"));   // NULL when absent or not a string
//   berry_json_free(doc);
#ifndef BERRY_JSON_H
#define BERRY_JSON_H
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    BERRY_JSON_NULL,
    BERRY_JSON_BOOL,
    BERRY_JSON_NUMBER,
    BERRY_JSON_STRING,
    BERRY_JSON_ARRAY,
    BERRY_JSON_OBJECT,
} berry_json_type;

// One value. Every string is NUL-terminated UTF-8 (escapes decoded, surrogate pairs joined); LEN counts
// its bytes, so a string holding \u0000 is still complete. A NUMBER keeps the literal text as written
// in STR ("27.0", "1e400") beside its double, so that exact consumers (the grader) lose nothing.
typedef struct berry_json berry_json;
struct berry_json {
    berry_json_type type;
    bool boolean;       // BOOL
    double number;      // NUMBER (±HUGE_VAL when out of double range)
    char *str;          // STRING: the value; NUMBER: the literal
    size_t len;         // bytes in STR
    size_t n;           // ARRAY: elements; OBJECT: members
    berry_json *items;  // ARRAY: n elements; OBJECT: n values
    char **keys;        // OBJECT: n keys, keys[i] names items[i] (duplicates kept in order)
};

// Nesting deeper than this is an error (the parser recurses, one frame per level).
#define BERRY_JSON_MAX_DEPTH 512

// Parses exactly one value from TEXT[0..LEN) (whitespace around it allowed). On failure returns NULL
// and writes "line L, column C: what is wrong" into ERR. Free the result with berry_json_free.
berry_json *berry_json_parse(const char *text, size_t len, char *err, size_t err_size);
void berry_json_free(berry_json *v);

// Lookups that accept NULL and wrong types, returning NULL / false, so chains need no checks.
const berry_json *berry_json_get(const berry_json *obj, const char *key);  // last member named KEY
const berry_json *berry_json_at(const berry_json *arr, size_t i);
const char *berry_json_str(const berry_json *v);                  // STRING's text, else NULL
bool berry_json_num(const berry_json *v, double *out);            // NUMBER's value
bool berry_json_int(const berry_json *v, long long *out);         // NUMBER that is a whole number in range

// A compact writer into a growing buffer. Commas and colons are placed automatically; the caller
// nests begin/end calls correctly. An allocation failure sets FAILED and later calls do nothing.
typedef struct {
    char *data;         // NUL-terminated output (NULL until something is written)
    size_t len, cap;
    bool failed;
    bool comma;         // a value was just completed at this level: the next one needs ','
} berry_json_writer;

void berry_json_writer_init(berry_json_writer *w);
void berry_json_writer_free(berry_json_writer *w);
// Clears the output but keeps the buffer, for writing the next JSONL record.
void berry_json_writer_reset(berry_json_writer *w);
void berry_json_begin_object(berry_json_writer *w);
void berry_json_begin_array(berry_json_writer *w);
void berry_json_end_object(berry_json_writer *w);
void berry_json_end_array(berry_json_writer *w);
void berry_json_key(berry_json_writer *w, const char *key);
void berry_json_write_str(berry_json_writer *w, const char *s);            // NULL writes null
void berry_json_write_strn(berry_json_writer *w, const char *s, size_t n);
void berry_json_write_num(berry_json_writer *w, double x);                 // NaN and infinities write null
void berry_json_write_int(berry_json_writer *w, long long x);
void berry_json_write_bool(berry_json_writer *w, bool b);
void berry_json_write_null(berry_json_writer *w);
void berry_json_write_value(berry_json_writer *w, const berry_json *v);   // a parsed value, compactly
// A key and its value in one call, for objects written field by field.
void berry_json_kv_str(berry_json_writer *w, const char *key, const char *s);   // NULL writes null
void berry_json_kv_int(berry_json_writer *w, const char *key, long long x);
void berry_json_kv_num(berry_json_writer *w, const char *key, double x);

// Appends the JSON string literal for S[0..N) (quotes included) to W's buffer with no separator logic.
// Control characters, '"' and '\\' are escaped; invalid UTF-8 bytes become U+FFFD so output is valid.
void berry_json_escape(berry_json_writer *w, const char *s, size_t n);

#endif
