// dataset.h — readers for the benchmark JSONL files (GSM8K, MATH-500, AIME 2024, AMC 2023,
// OlympiadBench, GSM-Hard) and a generic {"problem","answer"} format, detected from the first record.
// Each problem carries its reference answer and how to extract and grade answers to it.
#ifndef BERRY_DATASET_H
#define BERRY_DATASET_H
#include "base/err.h"
#include "math/extract.h"
#include "math/grade.h"
#include <stddef.h>

typedef enum {
    BERRY_DATASET_GENERIC,        // {"problem"|"question", "answer", "id"?}
    BERRY_DATASET_GSM8K,          // {"question","answer": "... #### N"}
    BERRY_DATASET_MATH500,        // {"problem","level","solution","subject","unique_id","answer"}
    BERRY_DATASET_AIME24,         // {"id","problem","solution","answer","url"}
    BERRY_DATASET_AMC23,          // {"id","problem","answer": 27.0,"url"}
    BERRY_DATASET_OLYMPIADBENCH,  // {"id","question","context","final_answer": [...],"is_multiple_answer","error"}
    BERRY_DATASET_GSM_HARD,       // {"input","code","target": float}
} berry_dataset_kind;

typedef struct {
    char *id;                    // the dataset's id, or "N" (1-based line number) when it has none
    char *problem;               // the question as posed (OlympiadBench: context, then question)
    char *answer;                // reference final answer: LaTeX or a number's text
    char *solution;              // reference solution when the dataset has one, else NULL
    berry_grade_opts grade;      // how answers compare (several answers, tolerance)
    berry_extract_mode extract;  // how a model's final answer is found in its output
} berry_problem;

typedef struct {
    berry_dataset_kind kind;
    berry_problem *items;
    size_t n;
} berry_dataset;

const char *berry_dataset_kind_name(berry_dataset_kind k);

// Reads a JSONL file (detecting its format). Errors name the file and line: "test.jsonl:12: ...".
berry_dataset *berry_dataset_load(const char *path, char *err, size_t err_size);
// The same from memory; NAME is used in error messages.
berry_dataset *berry_dataset_parse(const char *text, size_t len, const char *name, char *err, size_t err_size);
void berry_dataset_free(berry_dataset *d);

#endif
