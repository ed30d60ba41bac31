// libFuzzer target for the JSON parser: any input parses or errors; what parses must survive a
// write/parse round trip unchanged (the writer's output is itself valid JSON).
#include "base/json.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    berry_json *v = berry_json_parse((const char *)data, size, err, sizeof err);
    if (!v) return 0;
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_json_write_value(&w, v);
    if (!w.failed) {
        berry_json *v2 = berry_json_parse(w.data, w.len, err, sizeof err);
        if (!v2) abort();  // the writer produced invalid JSON
        berry_json_writer w2;
        berry_json_writer_init(&w2);
        berry_json_write_value(&w2, v2);
        if (w2.failed || w2.len != w.len || memcmp(w2.data, w.data, w.len) != 0) abort();
        berry_json_writer_free(&w2);
        berry_json_free(v2);
    }
    berry_json_writer_free(&w);
    berry_json_free(v);
    return 0;
}
