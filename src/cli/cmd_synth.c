// cmd_synth.c — `berry synth`: writes the synthetic math curriculum (data/synth.h) as JSONL files.
#include "cli/cli.h"
#include "base/clock.h"
#include "base/log.h"
#include "search/roles.h"
#include "data/synth.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help(void) {
    printf("usage: berry synth --out DIR [--n N] [--dev N] [--test N] [--seed S] [--levels A-B] [--flaws K] [--vary]\n"
           "       berry synth --show K [--seed S] [--levels A-B]\n"
           "\n"
           "Generates math word problems in the spirit of GSM8K (2 to 8 steps: the four operations, fractions,\n"
           "percentages, rates, linear equations), their step-by-step solutions, flawed solutions with exactly\n"
           "one injected error (slip, wrong operation, dropped or repeated step, misread number), critiques\n"
           "naming the first wrong step, corrected rewrites, self-evaluation scores, preference pairs and\n"
           "LLaMA-O1 tagged journeys. The output depends only on the flags: the same flags give the same bytes.\n"
           "A problem's split is a function of the hash of its structure (numbers and operations, not names),\n"
           "so train, dev and test never share a problem, for any seed; duplicates are rejected.\n"
           "\n"
           "  --out DIR      write here (created if missing)\n"
           "  --n N          training problems (default 20000)\n"
           "  --dev N        dev problems (default 500)\n"
           "  --test N       test problems (default 500)\n"
           "  -s, --seed S   seed (default 1)\n"
           "  --levels A-B   difficulty levels, 1..5 (default 1-5); a single level is written 'A'. Level: steps,\n"
           "                 largest given number: 1: 2, 10; 2: 2-3, 20; 3: 3-4, 50; 4: 4-6, 100; 5: 6-8, 200\n"
           "  --flaws K      flawed solutions per problem, of different kinds where possible (1..4, default 2)\n"
           "  --vary         solve and pretrain records show each problem solved along a path drawn from its\n"
           "                 correct ones: independent steps in any order, the operands of + and * either way\n"
           "                 round (every other file keeps one fixed path; the problems are the same either way)\n"
           "  --show K       print K problems with a correct and a flawed solution to stdout, write nothing\n"
           "  -q, --quiet    no progress on stderr\n"
           "\n"
           "Files, for SPLIT in train, dev, test (one JSON object per line):\n"
           "  SPLIT_problems.jsonl  {\"id\",\"split\",\"level\",\"family\",\"steps\",\"question\",\"answer\",\"final\"}\n"
           "                        answer: the full solution; final: the answer alone (\"29\", \"7/4\")\n"
           "  SPLIT_pretrain.jsonl  {\"text\"}: solve prompt + solution\n"
           "  SPLIT_solve.jsonl     {\"prompt\",\"completion\",\"id\",\"level\"}\n"
           "  SPLIT_critique.jsonl  {\"prompt\",\"completion\",\"id\",\"level\",\"flaw\",\"first_wrong\"}\n"
           "                        completion \"Step K is wrong: ...\" or \"" BERRY_ROLE_ALL_CORRECT "\"\n"
           "  SPLIT_rewrite.jsonl   {\"prompt\",\"completion\",\"id\",\"level\",\"flaw\"}: flawed + critique -> correct\n"
           "  SPLIT_selfeval.jsonl  {\"prompt\",\"completion\",\"id\",\"level\",\"flaw\",\"score\"}: \"Score: N\",\n"
           "                        N = 90 when correct, -90 (error in step 1) up to -30 (late error) when flawed\n"
           "  SPLIT_compare.jsonl   {\"prompt\",\"completion\",\"id\",\"level\",\"flaw\"}: pairwise preference, both\n"
           "                        orders of each (correct, flawed) pair; \"Yes\" when solution A is the correct one\n"
           "  SPLIT_dpo.jsonl       {\"prompt\",\"chosen\",\"rejected\",\"id\",\"level\",\"flaw\"}\n"
           "  SPLIT_journey.jsonl   {\"text\",\"id\",\"level\"}: LLaMA-O1 tagged chain (problem, flawed attempt,\n"
           "                        critic, refine, conclusion)\n"
           "  meta.json             the flags and the counts\n"
           "The role prompt templates are in src/search/roles.h.\n");
}

static bool parse_levels(const char *s, int *lo, int *hi) {
    int a, b;
    char c;
    if (s && sscanf(s, "%d-%d%c", &a, &b, &c) == 2) {}
    else if (s && sscanf(s, "%d%c", &a, &c) == 1) b = a;
    else a = 0, b = -1;
    if (a < 1 || b > BERRY_SYNTH_LEVELS || a > b) {
        berry_cli_error("--levels expects A-B with 1 <= A <= B <= %d, got '%s'", BERRY_SYNTH_LEVELS, s ? s : "");
        return false;
    }
    *lo = a;
    *hi = b;
    return true;
}

static void on_progress(void *ctx, long done, long total) {
    berry_progress_update(ctx, done, NULL);
    (void)total;
}

static int show(const berry_synth_config *cfg, long k) {
    berry_rng r;
    berry_rng_seed(&r, cfg->seed, 0x73686F77ull);  // "show"
    static char text[16384];
    for (long i = 0; i < k; i++) {
        berry_synth_problem p;
        berry_synth_solution good, bad;
        char err[256];
        int level = cfg->level_lo + (int)(i % (cfg->level_hi - cfg->level_lo + 1));
        if (berry_synth_generate(&p, &r, level, err, sizeof err)) return berry_cli_error("%s", err);
        berry_synth_solve(&p, &good);
        berry_synth_render(text, sizeof text, &p, &good);
        printf("# level %d, %s, %s split\nQuestion: %s\n%s\n", p.level, p.family, berry_synth_split_name(p.split), p.question, text);
        if (berry_synth_flaw_any(&p, &r, BERRY_SYNTH_CORRECT, &bad)) {
            berry_synth_render(text, sizeof text, &p, &bad);
            printf("## flawed (%s), score %d:\n%s\nCritique: %s\n", berry_synth_flaw_name(bad.flaw), berry_synth_score(&bad), text, bad.critique);
        }
        printf("\n");
    }
    return 0;
}

static int cmd_synth(int argc, char **argv) {
    berry_synth_config cfg = {.seed = 1, .n_train = 20000, .n_dev = 500, .n_test = 500, .level_lo = 1, .level_hi = 5, .flaws = 2};
    const char *out = NULL;
    long v, show_k = -1;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = true;
        else if (!strcmp(a, "--vary")) cfg.vary = true;
        else if (!next && a[0] == '-') return berry_cli_error("synth: %s needs a value", a);
        else if (!strcmp(a, "--out")) out = argv[++i];
        else if (!strcmp(a, "--n")) { if (!berry_cli_int(a, argv[++i], 0, 10000000, &cfg.n_train)) return 1; }
        else if (!strcmp(a, "--dev")) { if (!berry_cli_int(a, argv[++i], 0, 10000000, &cfg.n_dev)) return 1; }
        else if (!strcmp(a, "--test")) { if (!berry_cli_int(a, argv[++i], 0, 10000000, &cfg.n_test)) return 1; }
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(next, &end, 10);
            if (!*next || *end || errno || next[0] == '-') return berry_cli_error("%s expects a non-negative integer, got '%s'", a, next);
            cfg.seed = s;
            i++;
        } else if (!strcmp(a, "--levels")) { if (!parse_levels(argv[++i], &cfg.level_lo, &cfg.level_hi)) return 1; }
        else if (!strcmp(a, "--flaws")) { if (!berry_cli_int(a, argv[++i], 1, 4, &v)) return 1; cfg.flaws = (int)v; }
        else if (!strcmp(a, "--show")) { if (!berry_cli_int(a, argv[++i], 1, 100000, &show_k)) return 1; }
        else return berry_cli_error("synth: unknown argument '%s' (see berry synth --help)", a);
    }
    if (show_k > 0) return show(&cfg, show_k);
    if (!out) return berry_cli_error("synth: --out DIR is required (see berry synth --help)");
    if (mkdir(out, 0777) != 0 && errno != EEXIST) return berry_cli_error("%s: cannot create: %s", out, strerror(errno));
    if (quiet) berry_log_set_level(0);
    berry_progress bar;
    berry_progress_start(&bar, "synth", cfg.n_train + cfg.n_dev + cfg.n_test);
    double t0 = berry_now();
    berry_synth_stats st;
    char err[512];
    berry_status rc = berry_synth_write(&cfg, out, quiet ? NULL : on_progress, &bar, &st, err, sizeof err);
    if (rc) return berry_cli_error("%s", err);
    long done = st.problems[0] + st.problems[1] + st.problems[2];
    if (!quiet) {
        berry_progress_end(&bar, done, NULL);
        berry_log("synth: %ld train, %ld dev, %ld test problems; %ld records in %s; %ld draws, %ld duplicates rejected; %.1f s",
                  st.problems[0], st.problems[1], st.problems[2], st.records, out, st.candidates, st.duplicates, berry_now() - t0);
    }
    return 0;
}

BERRY_COMMAND("synth", "generate the synthetic math curriculum (JSONL)", cmd_synth)
