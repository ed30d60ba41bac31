// Tests of src/base/json: hand-written documents whose decoded values are written out here (UTF-8
// bytes of each escape worked out by hand from RFC 8259 and RFC 3629), error positions counted by
// hand, and hostile inputs that must give an error rather than a crash.
#include "test.h"
#include "base/json.h"
#include <stdlib.h>

static berry_json *parse(const char *s, char *err, size_t n) { return berry_json_parse(s, strlen(s), err, n); }

TEST(json_parses_scalars_and_containers) {
    char err[200];
    berry_json *v = parse(" {\"a\": [1, -2.5e2, true, false, null], \"b\": {\"c\": \"d\"}, \"e\": []} ", err, sizeof err);
    CHECKF(v, "parse failed: %s", err);
    CHECK(v->type == BERRY_JSON_OBJECT && v->n == 3);
    const berry_json *a = berry_json_get(v, "a");
    CHECK(a && a->type == BERRY_JSON_ARRAY && a->n == 5);
    long long i;
    CHECK(berry_json_int(berry_json_at(a, 0), &i) && i == 1);
    double x;
    CHECK(berry_json_num(berry_json_at(a, 1), &x) && x == -250.0);
    CHECK_STR(berry_json_at(a, 1)->str, "-2.5e2");  // the literal is kept
    CHECK(!berry_json_int(berry_json_at(a, 1), &i) || i == -250);
    CHECK(berry_json_at(a, 2)->type == BERRY_JSON_BOOL && berry_json_at(a, 2)->boolean);
    CHECK(berry_json_at(a, 3)->type == BERRY_JSON_BOOL && !berry_json_at(a, 3)->boolean);
    CHECK(berry_json_at(a, 4)->type == BERRY_JSON_NULL);
    CHECK(berry_json_at(a, 5) == NULL);
    CHECK_STR(berry_json_str(berry_json_get(berry_json_get(v, "b"), "c")), "d");
    CHECK(berry_json_get(v, "e")->type == BERRY_JSON_ARRAY && berry_json_get(v, "e")->n == 0);
    CHECK(berry_json_get(v, "zz") == NULL);
    CHECK(berry_json_str(berry_json_get(v, "a")) == NULL);  // wrong type gives NULL
    CHECK(berry_json_get(NULL, "a") == NULL);
    berry_json_free(v);
}

TEST(json_decodes_every_escape) {
    char err[200];
    // \" \\ \/ \b \f \n \r \t, then U+00E9 (C3 A9), U+20AC (E2 82 AC), and U+1F600 as the surrogate
    // pair D83D DE00: 0x10000 + (0x3D << 10) + 0x200 = 0x1F600 -> F0 9F 98 80.
    berry_json *v = parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\"", err, sizeof err);
    CHECKF(v, "parse failed: %s", err);
    const char want[] = "\"\\/\b\f\n\r\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    CHECK_EQ_INT(v->len, sizeof want - 1);
    CHECK(memcmp(v->str, want, sizeof want) == 0);
    berry_json_free(v);
    // \u0000 is kept, with the length counting past it.
    v = parse("\"a\\u0000b\"", err, sizeof err);
    CHECK(v && v->len == 3 && v->str[1] == 0 && v->str[2] == 'b');
    berry_json_free(v);
    // Raw UTF-8 passes through unchanged.
    v = parse("\"\xCF\x80=3.14\"", err, sizeof err);
    CHECK(v && v->len == 7);
    berry_json_free(v);
}

// Each malformed document with the error position counted by hand (columns count bytes from 1).
TEST(json_reports_line_and_column) {
    static const struct { const char *text, *want; } cases[] = {
        {"", "line 1, column 1: unexpected end of input"},
        {"{\"a\":1,}", "line 1, column 8: expected a string key"},
        {"[1,2", "line 1, column 5: expected ',' or ']'"},
        {"{\n  \"a\" 1}", "line 2, column 7: expected ':'"},
        {"[01]", "line 1, column 3: expected ',' or ']'"},
        {"[1.]", "line 1, column 4: bad number"},
        {"[-]", "line 1, column 3: bad number"},
        {"[1e+]", "line 1, column 5: bad number"},
        {"\"abc", "line 1, column 1: unterminated string"},
        {"\"a\tb\"", "line 1, column 3: control character"},
        {"\"\\x\"", "line 1, column 2: unknown escape"},
        {"\"\\u12G4\"", "line 1, column 2: bad \\u escape"},
        {"\"\\ud800\"", "line 1, column 2: high surrogate"},
        {"\"\\ud800\\u0041\"", "line 1, column 2: high surrogate"},
        {"\"\\udc00\"", "line 1, column 2: lone low surrogate"},
        {"\"\xC0\xAF\"", "line 1, column 2: invalid UTF-8"},          // overlong '/'
        {"\"\xED\xA0\x80\"", "line 1, column 2: invalid UTF-8"},      // encoded surrogate
        {"tru", "line 1, column 1: unexpected character"},
        {"nul", "line 1, column 1: unexpected character"},
        {"[1] x", "line 1, column 5: unexpected text after"},
        {"{\"a\":1}\n\n  }", "line 3, column 3: unexpected text after"},
        {"'a'", "line 1, column 1: unexpected character"},
        {"[NaN]", "line 1, column 2: unexpected character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[200] = "";
        berry_json *v = parse(cases[i].text, err, sizeof err);
        CHECKF(!v, "case %zu parsed but should not", i);
        CHECKF(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0, "case %zu: got \"%s\", want \"%s...\"", i, err,
               cases[i].want);
    }
}

TEST(json_depth_limit_and_hostile_sizes) {
    char err[200];
    // 10^5 nested arrays: an error at the limit, not a stack overflow.
    size_t n = 100000;
    char *s = malloc(2 * n + 1);
    CHECK(s);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = 0;
    berry_json *v = berry_json_parse(s, 2 * n, err, sizeof err);
    CHECK(!v);
    CHECKF(strstr(err, "nesting deeper") != NULL, "%s", err);
    // Exactly at the limit parses.
    memset(s, '[', BERRY_JSON_MAX_DEPTH);
    memset(s + BERRY_JSON_MAX_DEPTH, ']', BERRY_JSON_MAX_DEPTH);
    v = berry_json_parse(s, 2 * BERRY_JSON_MAX_DEPTH, err, sizeof err);
    CHECKF(v, "%s", err);
    berry_json_free(v);
    free(s);
    // A 1 MB string and a 10^6-digit number.
    size_t m = 1 << 20;
    s = malloc(m + 3);
    CHECK(s);
    s[0] = '"';
    memset(s + 1, 'x', m);
    s[m + 1] = '"';
    s[m + 2] = 0;
    v = berry_json_parse(s, m + 2, err, sizeof err);
    CHECK(v && v->len == m);
    berry_json_free(v);
    memset(s, '9', m);
    v = berry_json_parse(s, m, err, sizeof err);
    CHECK(v && v->type == BERRY_JSON_NUMBER && v->len == m && isinf(v->number));
    berry_json_free(v);
    free(s);
    // Text is not required to be NUL-terminated: parsing stops at LEN.
    v = berry_json_parse("[1]garbage", 3, err, sizeof err);
    CHECK(v && v->n == 1);
    berry_json_free(v);
    // Truncations of a valid document are all errors, never crashes.
    const char *doc = "{\"k\":[1,{\"x\":\"\\u00e9\\ud83d\\ude00\"},null,true,-0.5e-3]}";
    for (size_t len = 0; len < strlen(doc); len++) {
        char *t = malloc(len ? len : 1);  // exact size so ASan sees any overread
        memcpy(t, doc, len);
        v = berry_json_parse(t, len, err, sizeof err);
        CHECKF(!v, "truncation at %zu parsed", len);
        free(t);
    }
}

TEST(json_duplicate_keys_last_wins) {
    char err[200];
    berry_json *v = parse("{\"a\":1,\"a\":2}", err, sizeof err);
    long long i;
    CHECK(v && v->n == 2 && berry_json_int(berry_json_get(v, "a"), &i) && i == 2);
    berry_json_free(v);
}

TEST(json_writer_escapes_and_separates) {
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_json_begin_object(&w);
    berry_json_key(&w, "id");
    berry_json_write_int(&w, -42);
    berry_json_key(&w, "s");
    berry_json_write_strn(&w, "q\"\\\n\t\x01\x1f\xC3\xA9\xFF", 10);
    berry_json_key(&w, "list");
    berry_json_begin_array(&w);
    berry_json_write_num(&w, 0.1);
    berry_json_write_num(&w, 1e300);
    berry_json_write_num(&w, NAN);
    berry_json_begin_array(&w);
    berry_json_end_array(&w);
    berry_json_begin_object(&w);
    berry_json_end_object(&w);
    berry_json_write_bool(&w, true);
    berry_json_write_str(&w, NULL);
    berry_json_end_array(&w);
    berry_json_end_object(&w);
    CHECK(!w.failed);
    // By hand: 0x01 -> \u0001, 0x1f -> \u001f, é kept, the invalid byte FF -> U+FFFD (EF BF BD).
    CHECK_STR(w.data, "{\"id\":-42,\"s\":\"q\\\"\\\\\\n\\t\\u0001\\u001f\xC3\xA9\xEF\xBF\xBD\","
                      "\"list\":[0.1,1e+300,null,[],{},true,null]}");
    // What we write parses back to the same values.
    char err[200];
    berry_json *v = berry_json_parse(w.data, w.len, err, sizeof err);
    CHECKF(v, "%s", err);
    CHECK_STR(berry_json_get(v, "s")->str, "q\"\\\n\t\x01\x1f\xC3\xA9\xEF\xBF\xBD");
    double x;
    CHECK(berry_json_num(berry_json_at(berry_json_get(v, "list"), 0), &x) && x == 0.1);
    // Round trip of the DOM through write_value is byte-identical for compact input.
    berry_json_writer w2;
    berry_json_writer_init(&w2);
    berry_json_write_value(&w2, v);
    CHECK_STR(w2.data, w.data);
    berry_json_free(v);
    berry_json_writer_reset(&w2);
    berry_json_write_int(&w2, 7);
    CHECK_STR(w2.data, "7");
    berry_json_writer_free(&w2);
    berry_json_writer_free(&w);
}
