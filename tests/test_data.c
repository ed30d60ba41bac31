// Tests of src/data/dataset: one hand-written record in each benchmark's format (field layout copied
// from ../shared/data/README.md, contents made up here), format detection, and malformed files.
#include "test.h"
#include "data/dataset.h"
#include <stdlib.h>

static berry_dataset *parse(const char *s, char *err, size_t n) { return berry_dataset_parse(s, strlen(s), "t.jsonl", err, n); }

TEST(dataset_detects_each_format) {
    static const struct { const char *jsonl; berry_dataset_kind kind; const char *id, *answer; bool multi; } cases[] = {
        {"{\"question\": \"Q?\", \"answer\": \"2+2=<<2+2=4>>4\\n#### 1,234\"}\n", BERRY_DATASET_GSM8K, "1", "1234", false},
        {"{\"problem\":\"P\",\"level\":\"Level 2\",\"solution\":\"S\",\"subject\":\"Algebra\",\"unique_id\":\"test/algebra/1.json\",\"answer\":\"\\\\frac{1}{2}\"}",
         BERRY_DATASET_MATH500, "test/algebra/1.json", "\\frac{1}{2}", false},
        {"{\"id\":60,\"problem\":\"P\",\"solution\":\"S\",\"answer\":\"025\",\"url\":\"u\",\"question\":\"P\"}", BERRY_DATASET_AIME24, "60", "025", false},
        {"{\"id\":0,\"problem\":\"P\",\"answer\":27.0,\"url\":\"u\",\"question\":\"P\"}", BERRY_DATASET_AMC23, "0", "27.0", false},
        {"{\"id\": 1606, \"subfield\": \"Combinatorics\", \"context\": null, \"question\": \"Q\", \"solution\": [\"S\"], "
         "\"final_answer\": [\"$69$,$84$\"], \"is_multiple_answer\": true, \"unit\": null, \"answer_type\": \"Numerical\", \"error\": null}",
         BERRY_DATASET_OLYMPIADBENCH, "1606", "69,84", true},
        {"{\"input\":\"Q\",\"code\":\"def solution(): ...\",\"target\":3244047.0999999996}", BERRY_DATASET_GSM_HARD, "1", "3244047.0999999996", false},
        {"\n{\"problem\":\"1+1?\",\"answer\":\"2\",\"id\":\"x7\"}\n\n", BERRY_DATASET_GENERIC, "x7", "2", false},
        {"{\"question\":\"1+1?\",\"answer\":2}", BERRY_DATASET_GENERIC, "1", "2", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        berry_dataset *d = parse(cases[i].jsonl, err, sizeof err);
        CHECKF(d, "case %zu: %s", i, err);
        CHECKF(d->kind == cases[i].kind, "case %zu: detected %s", i, berry_dataset_kind_name(d->kind));
        CHECK_EQ_INT(d->n, 1);
        CHECK_STR(d->items[0].id, cases[i].id);
        CHECK_STR(d->items[0].answer, cases[i].answer);
        CHECK(d->items[0].grade.multi == cases[i].multi);
        CHECK(d->items[0].problem != NULL);
        berry_dataset_free(d);
    }
}

TEST(dataset_conventions) {
    char err[256];
    // OlympiadBench: context before the question, an absolute error turned relative (0.1 / 4.2).
    berry_dataset *d = parse("{\"id\":1,\"context\":\"C\",\"question\":\"Q\",\"final_answer\":[\"$4.2$\"],\"is_multiple_answer\":false,\"error\":\"1e-1\"}", err, sizeof err);
    CHECKF(d, "%s", err);
    CHECK_STR(d->items[0].problem, "C\nQ");
    CHECK_NEAR(d->items[0].grade.rel_tol, 0.1 / 4.2, 1e-12);
    CHECK(berry_math_equal("4.25", d->items[0].answer, &d->items[0].grade));
    CHECK(!berry_math_equal("4.35", d->items[0].answer, &d->items[0].grade));
    berry_dataset_free(d);
    // GSM-Hard floats compare with a tolerance; GSM8K integers exactly.
    d = parse("{\"input\":\"Q\",\"code\":\"c\",\"target\":14053029.666666666}", err, sizeof err);
    CHECK(d && berry_math_equal("14053029.67", d->items[0].answer, &d->items[0].grade));
    CHECK(d->items[0].extract == BERRY_EXTRACT_LAST_NUMBER);
    berry_dataset_free(d);
    // A trailing period in an OlympiadBench answer is punctuation.
    d = parse("{\"id\":2,\"question\":\"Q\",\"final_answer\":[\"$(-\\\\infty, 0) \\\\cup\\\\{1\\\\}$.\"],\"is_multiple_answer\":false}", err, sizeof err);
    CHECKF(d, "%s", err);
    CHECK_STR(d->items[0].answer, "(-\\infty, 0) \\cup\\{1\\}");
    berry_dataset_free(d);
}

TEST(dataset_rejects_malformed_files) {
    static const struct { const char *jsonl, *want; } cases[] = {
        {"", "t.jsonl: no records"},
        {"{\"problem\":\"P\",\"answer\":\"1\"}\n{\"problem\": \"P\", \"answer\": }\n", "t.jsonl:2: line 1, column 28"},
        {"[1,2]", "t.jsonl:1: expected a JSON object"},
        {"{\"foo\": 1}", "t.jsonl:1: unknown dataset format"},
        {"{\"problem\":\"P\",\"answer\":\"1\"}\n{\"problem\":\"P\"}", "t.jsonl:2: record has no answer"},
        {"{\"question\":\"Q\",\"answer\":\"no hashes #### 3\"}\n{\"question\":\"Q\",\"answer\":\"none\"}", "t.jsonl:2: gsm8k record has no"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        berry_dataset *d = parse(cases[i].jsonl, err, sizeof err);
        CHECKF(!d, "case %zu parsed", i);
        CHECKF(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0, "case %zu: got \"%s\"", i, err);
    }
    char err[256];
    CHECK(berry_dataset_load("/nonexistent/x.jsonl", err, sizeof err) == NULL);
    CHECK(strstr(err, "No such file") != NULL);
}
