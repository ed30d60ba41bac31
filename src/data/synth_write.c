// synth_write.c — writes a generated curriculum as JSONL, one file per split and role, in the formats
// the trainer reads. DIR/SPLIT_ROLE.jsonl for SPLIT in train, dev, test and ROLE in:
//
//   problems  {"id","split","level","family","steps","question","answer","final"}   answer: the solution
//             text (so the file is also {"question","answer"} SFT data); final: the answer alone ("29", "7/4")
//   pretrain  {"text"}                          the solve prompt followed by the solution
//   solve     {"prompt","completion","id","level"}
//             (with --vary, these two take one berry_synth_vary path of the problem, drawn from a stream
//             of the seed and the problem's key; every other file keeps the one fixed path)
//   critique  {"prompt","completion","id","level","flaw","first_wrong"}   one per flawed solution, plus
//             one for the correct solution ("All steps are correct.", first_wrong 0)
//   rewrite   {"prompt","completion","id","level","flaw"}   flawed solution + critique -> correct solution
//   selfeval  {"prompt","completion","id","level","flaw","score"}   completion "Score: N" (synth.h scale)
//   compare   {"prompt","completion","id","level","flaw"}   the PPRM: each (correct, flawed) pair in both
//             orders; completion "Check: {line}", the correct solution's line after the shared ones
//   dpo       {"prompt","chosen","rejected","id","level","flaw"}   solve prompt, correct, flawed
//   journey   {"text","id","level"}             the LLaMA-O1 tagged chain below
//
// plus DIR/meta.json with the configuration and counts. Prompts are built by search/roles.h.
//
// The journey (LLaMA-O1 format) is one node per line, each line
//   <start_of_father_id>P<end_of_father_id><start_of_local_id>I<end_of_local_id><start_of_thought>T<end_of_thought><start_of_rating>R<end_of_rating>
// with R one of <positive_rating>, <negative_rating> (the problem node has no rating part). The nodes form
// one path: I=0 "<problem>QUESTION" (P=-1); then one "<expansion>Step k: ..." node per line of a flawed
// attempt, rated positive before the first wrong line and negative from it on; then "<critic>CRITIQUE"
// (positive), "<refine>" + the correct solution's steps (positive), and "<conclusion>The answer is N."
// (positive). Each node's father is the node before it.
#include "search/roles.h"
#include "data/synth.h"
#include "base/json.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_PROBLEMS, F_PRETRAIN, F_SOLVE, F_CRITIQUE, F_REWRITE, F_SELFEVAL, F_COMPARE, F_DPO, F_JOURNEY, N_FILES };
static const char *const file_role[N_FILES] = {"problems", "pretrain", "solve", "critique", "rewrite",
                                               "selfeval", "compare", "dpo", "journey"};

// Text scratch buffers: 0-3 a problem's records, 4-5 its journey, 6 the --vary solve path.
enum { N_BUF = 7 };

typedef struct {
    FILE *f[3][N_FILES];
    char path[3][N_FILES][1024];
    berry_json_writer w;
    char *buf[N_BUF];      // text scratch, each BUF_SIZE
    berry_synth_problem *varied;  // the solve records' path (--vary)
    long records;
    berry_status st;
    char *err;
    size_t err_size;
} writer;

#define BUF_SIZE 16384

// A set of 64-bit keys, open addressing (key 0 is stored as 1: a collision that costs nothing).
typedef struct { uint64_t *k; size_t cap, n; } keyset;

static bool keyset_add(keyset *s, uint64_t key, bool *added) {
    if (!key) key = 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        uint64_t *k = calloc(cap, sizeof *k);
        if (!k) return false;
        for (size_t i = 0; i < s->cap; i++)
            if (s->k[i]) {
                size_t j = (size_t)(s->k[i] * 0x9E3779B97F4A7C15ull) & (cap - 1);
                while (k[j]) j = (j + 1) & (cap - 1);
                k[j] = s->k[i];
            }
        free(s->k);
        s->k = k;
        s->cap = cap;
    }
    size_t j = (size_t)(key * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    while (s->k[j]) {
        if (s->k[j] == key) { *added = false; return true; }
        j = (j + 1) & (s->cap - 1);
    }
    s->k[j] = key;
    s->n++;
    *added = true;
    return true;
}

// Ends the current record and writes it as one line of file FI of split S.
static void emit(writer *wr, int s, int fi) {
    berry_json_end_object(&wr->w);
    if (wr->st) return;
    if (wr->w.failed) { wr->st = berry_errf(wr->err, wr->err_size, BERRY_ENOMEM, "synth: out of memory writing JSON"); return; }
    FILE *f = wr->f[s][fi];
    if (fwrite(wr->w.data, 1, wr->w.len, f) != wr->w.len || fputc('\n', f) == EOF)
        wr->st = berry_errf(wr->err, wr->err_size, BERRY_EIO, "%s: write failed: %s", wr->path[s][fi], strerror(errno));
    wr->records++;
}

static void begin(writer *wr) {
    berry_json_writer_reset(&wr->w);
    berry_json_begin_object(&wr->w);
}
static void kv_str(writer *wr, const char *k, const char *v) { berry_json_kv_str(&wr->w, k, v); }
static void kv_int(writer *wr, const char *k, long long v) { berry_json_kv_int(&wr->w, k, v); }
static void kv_meta(writer *wr, const char *id, int level) { kv_str(wr, "id", id); kv_int(wr, "level", level); }

static void prompt(char *buf, berry_role role, const char *q, const char *s, const char *c, const char *o) {
    berry_role_args a = {q, s, c, o};
    berry_role_prompt(buf, BUF_SIZE, role, &a);
}

// Appends one journey node to OUT (of BUF_SIZE); RATING NULL for the problem node.
static size_t node(char *out, size_t o, int father, int id, const char *thought, const char *rating) {
    int n = snprintf(out + o, o < BUF_SIZE ? BUF_SIZE - o : 0,
                     "%s<start_of_father_id>%d<end_of_father_id><start_of_local_id>%d<end_of_local_id>"
                     "<start_of_thought>%s<end_of_thought>",
                     o ? "\n" : "", father, id, thought);
    o += n > 0 ? (size_t)n : 0;
    if (rating && o < BUF_SIZE) {
        n = snprintf(out + o, BUF_SIZE - o, "<start_of_rating>%s<end_of_rating>", rating);
        o += n > 0 ? (size_t)n : 0;
    }
    return o < BUF_SIZE ? o : BUF_SIZE - 1;
}

// Splits a rendered solution into its lines (in place) and returns how many; the last is the answer line.
static int split_lines(char *text, char **lines, int max) {
    int n = 0;
    for (char *p = text; p && *p && n < max;) {
        lines[n++] = p;
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        p = e ? e + 1 : NULL;
    }
    return n;
}

static void journey(writer *wr, int s, const char *id, const berry_synth_problem *p, const char *good_text,
                    const berry_synth_solution *bad, const char *bad_text) {
    char *out = wr->buf[4], *tmp = wr->buf[5];
    size_t o = 0;
    int nid = 0;
    char thought[1024];
    snprintf(thought, sizeof thought, "<problem>%s", p->question);
    o = node(out, o, -1, nid++, thought, NULL);
    if (bad) {
        snprintf(tmp, BUF_SIZE, "%s", bad_text);
        char *lines[BERRY_SYNTH_MAX_STEPS + 2];
        int n = split_lines(tmp, lines, BERRY_SYNTH_MAX_STEPS + 2);
        for (int i = 0; i + 1 < n; i++) {  // the steps; the flawed answer line is left out
            snprintf(thought, sizeof thought, "<expansion>%s", lines[i]);
            o = node(out, o, nid - 1, nid, thought, i + 1 < bad->first_wrong ? "<positive_rating>" : "<negative_rating>");
            nid++;
        }
        snprintf(thought, sizeof thought, "<critic>%s", bad->critique);
        o = node(out, o, nid - 1, nid, thought, "<positive_rating>");
        nid++;
    }
    snprintf(tmp, BUF_SIZE, "%s", good_text);
    char *answer = strrchr(tmp, '\n');
    if (!answer) return;
    *answer++ = 0;
    // Without a flawed attempt, the correct steps are the expansions themselves.
    if (bad) {
        snprintf(thought, sizeof thought, "<refine>%s", tmp);
        o = node(out, o, nid - 1, nid, thought, "<positive_rating>");
        nid++;
    } else {
        char *lines[BERRY_SYNTH_MAX_STEPS + 2];
        int n = split_lines(tmp, lines, BERRY_SYNTH_MAX_STEPS + 2);
        for (int i = 0; i < n; i++) {
            snprintf(thought, sizeof thought, "<expansion>%s", lines[i]);
            o = node(out, o, nid - 1, nid, thought, "<positive_rating>");
            nid++;
        }
    }
    snprintf(thought, sizeof thought, "<conclusion>%s", answer);
    o = node(out, o, nid - 1, nid, thought, "<positive_rating>");
    begin(wr);
    kv_str(wr, "text", out);
    kv_meta(wr, id, p->level);
    emit(wr, s, F_JOURNEY);
}

// Every record of one problem.
static void write_problem(writer *wr, const berry_synth_problem *p, berry_rng *r, const berry_synth_config *cfg) {
    int n_flaws = cfg->flaws;
    int s = p->split;
    char id[32], final[32], score[32], check[1024];
    snprintf(id, sizeof id, "synth-%016llx", (unsigned long long)p->key);
    berry_synth_qfmt(final, sizeof final, p->answer);
    char *good_text = wr->buf[0], *bad_text = wr->buf[1], *pr = wr->buf[2], *text = wr->buf[3];
    berry_synth_solution good, bad[4];
    berry_synth_solve(p, &good);
    berry_synth_render(good_text, BUF_SIZE, p, &good);

    begin(wr);
    kv_meta(wr, id, p->level);
    kv_str(wr, "split", berry_synth_split_name(p->split));
    kv_str(wr, "family", p->family);
    kv_int(wr, "steps", p->n_steps);
    kv_str(wr, "question", p->question);
    kv_str(wr, "answer", good_text);
    kv_str(wr, "final", final);
    emit(wr, s, F_PROBLEMS);

    // The solve role's path: the fixed one, or with --vary one drawn from the problem's own stream, so
    // that the problems (and every other record) are the same with and without it.
    const char *solve_text = good_text;
    if (cfg->vary) {
        berry_rng vr;
        berry_rng_seed(&vr, cfg->seed ^ p->key, 0x76617279ull);  // "vary"
        berry_synth_vary(p, &vr, wr->varied);
        berry_synth_solution vs;
        berry_synth_solve(wr->varied, &vs);
        berry_synth_render(wr->buf[6], BUF_SIZE, wr->varied, &vs);
        solve_text = wr->buf[6];
    }
    prompt(pr, BERRY_ROLE_SOLVE, p->question, NULL, NULL, NULL);
    snprintf(text, BUF_SIZE, "%s%s", pr, solve_text);
    begin(wr);
    kv_str(wr, "text", text);
    emit(wr, s, F_PRETRAIN);

    begin(wr);
    kv_str(wr, "prompt", pr);
    kv_str(wr, "completion", solve_text);
    kv_meta(wr, id, p->level);
    emit(wr, s, F_SOLVE);

    prompt(pr, BERRY_ROLE_CRITIQUE, p->question, good_text, NULL, NULL);
    begin(wr);
    kv_str(wr, "prompt", pr);
    kv_str(wr, "completion", BERRY_ROLE_ALL_CORRECT);
    kv_meta(wr, id, p->level);
    kv_str(wr, "flaw", "correct");
    kv_int(wr, "first_wrong", 0);
    emit(wr, s, F_CRITIQUE);

    prompt(pr, BERRY_ROLE_SELFEVAL, p->question, good_text, NULL, NULL);
    berry_role_score_text(score, sizeof score, berry_synth_score(&good));
    begin(wr);
    kv_str(wr, "prompt", pr);
    kv_str(wr, "completion", score);
    kv_meta(wr, id, p->level);
    kv_str(wr, "flaw", "correct");
    kv_int(wr, "score", berry_synth_score(&good));
    emit(wr, s, F_SELFEVAL);

    // Flawed solutions of different kinds where the problem allows.
    int nb = 0;
    berry_synth_flaw avoid = BERRY_SYNTH_CORRECT;
    for (int k = 0; k < n_flaws && k < 4; k++) {
        if (!berry_synth_flaw_any(p, r, avoid, &bad[nb])) break;
        avoid = bad[nb].flaw;
        bool dup = false;
        for (int i = 0; i < nb; i++) dup |= bad[i].flaw == bad[nb].flaw && bad[i].flaw_step == bad[nb].flaw_step;
        if (!dup) nb++;
    }
    for (int k = 0; k < nb && !wr->st; k++) {
        const berry_synth_solution *b = &bad[k];
        const char *flaw = berry_synth_flaw_name(b->flaw);
        berry_synth_render(bad_text, BUF_SIZE, p, b);

        prompt(pr, BERRY_ROLE_CRITIQUE, p->question, bad_text, NULL, NULL);
        begin(wr);
        kv_str(wr, "prompt", pr);
        kv_str(wr, "completion", b->critique);
        kv_meta(wr, id, p->level);
        kv_str(wr, "flaw", flaw);
        kv_int(wr, "first_wrong", b->first_wrong);
        emit(wr, s, F_CRITIQUE);

        prompt(pr, BERRY_ROLE_REWRITE, p->question, bad_text, b->critique, NULL);
        begin(wr);
        kv_str(wr, "prompt", pr);
        kv_str(wr, "completion", good_text);
        kv_meta(wr, id, p->level);
        kv_str(wr, "flaw", flaw);
        emit(wr, s, F_REWRITE);

        prompt(pr, BERRY_ROLE_SELFEVAL, p->question, bad_text, NULL, NULL);
        berry_role_score_text(score, sizeof score, berry_synth_score(b));
        begin(wr);
        kv_str(wr, "prompt", pr);
        kv_str(wr, "completion", score);
        kv_meta(wr, id, p->level);
        kv_str(wr, "flaw", flaw);
        kv_int(wr, "score", berry_synth_score(b));
        emit(wr, s, F_SELFEVAL);

        for (int order = 0; order < 2; order++) {
            const char *sa = order ? bad_text : good_text, *sb = order ? good_text : bad_text;
            prompt(pr, BERRY_ROLE_COMPARE, p->question, sa, NULL, sb);
            berry_role_compare_check(check, sizeof check, sa, sb, !order);  // the correct one's line
            begin(wr);
            kv_str(wr, "prompt", pr);
            kv_str(wr, "completion", check);
            kv_meta(wr, id, p->level);
            kv_str(wr, "flaw", flaw);
            emit(wr, s, F_COMPARE);
        }

        prompt(pr, BERRY_ROLE_SOLVE, p->question, NULL, NULL, NULL);
        begin(wr);
        kv_str(wr, "prompt", pr);
        kv_str(wr, "chosen", good_text);
        kv_str(wr, "rejected", bad_text);
        kv_meta(wr, id, p->level);
        kv_str(wr, "flaw", flaw);
        emit(wr, s, F_DPO);
    }
    if (nb) berry_synth_render(bad_text, BUF_SIZE, p, &bad[0]);
    journey(wr, s, id, p, good_text, nb ? &bad[0] : NULL, bad_text);
}

static berry_status write_meta(const berry_synth_config *cfg, const char *dir, const berry_synth_stats *st,
                               char *err, size_t err_size) {
    char path[1100];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_json_begin_object(&w);
    berry_json_key(&w, "generator");
    berry_json_write_str(&w, "berry synth");
    berry_json_key(&w, "seed");
    berry_json_write_int(&w, (long long)cfg->seed);
    berry_json_key(&w, "levels");
    berry_json_begin_array(&w);
    berry_json_write_int(&w, cfg->level_lo);
    berry_json_write_int(&w, cfg->level_hi);
    berry_json_end_array(&w);
    berry_json_key(&w, "flaws");
    berry_json_write_int(&w, cfg->flaws);
    berry_json_key(&w, "vary");
    berry_json_write_bool(&w, cfg->vary);
    for (int s = 0; s < 3; s++) {
        char k[32];
        snprintf(k, sizeof k, "n_%s", berry_synth_split_name((berry_synth_split)s));
        berry_json_key(&w, k);
        berry_json_write_int(&w, st->problems[s]);
    }
    berry_json_key(&w, "records");
    berry_json_write_int(&w, st->records);
    berry_json_key(&w, "candidates");
    berry_json_write_int(&w, st->candidates);
    berry_json_key(&w, "duplicates");
    berry_json_write_int(&w, st->duplicates);
    berry_json_end_object(&w);
    berry_status rc = BERRY_OK;
    FILE *f = fopen(path, "w");
    if (!f || w.failed || fprintf(f, "%s\n", w.data) < 0) rc = berry_errf(err, err_size, BERRY_EIO, "%s: cannot write: %s", path, strerror(errno));
    if (f && fclose(f) != 0 && !rc) rc = berry_errf(err, err_size, BERRY_EIO, "%s: cannot write: %s", path, strerror(errno));
    berry_json_writer_free(&w);
    return rc;
}

berry_status berry_synth_write(const berry_synth_config *cfg, const char *dir, berry_synth_progress_fn progress,
                               void *ctx, berry_synth_stats *stats, char *err, size_t err_size) {
    berry_synth_stats st;
    memset(&st, 0, sizeof st);
    if (stats) *stats = st;
    if (cfg->level_lo < 1 || cfg->level_hi > BERRY_SYNTH_LEVELS || cfg->level_lo > cfg->level_hi)
        return berry_errf(err, err_size, BERRY_EINVAL, "synth: levels %d-%d are not within 1-%d", cfg->level_lo, cfg->level_hi, BERRY_SYNTH_LEVELS);
    if (cfg->n_train < 0 || cfg->n_dev < 0 || cfg->n_test < 0 || cfg->n_train + cfg->n_dev + cfg->n_test > 100000000L)
        return berry_errf(err, err_size, BERRY_EINVAL, "synth: problem counts must be in 0..100000000");
    if (cfg->flaws < 1 || cfg->flaws > 4) return berry_errf(err, err_size, BERRY_EINVAL, "synth: flaws per problem must be 1..4, got %d", cfg->flaws);

    writer wr;
    memset(&wr, 0, sizeof wr);
    wr.err = err;
    wr.err_size = err_size;
    berry_json_writer_init(&wr.w);
    keyset seen = {0};
    for (int i = 0; i < N_BUF && !wr.st; i++)
        if (!(wr.buf[i] = malloc(BUF_SIZE))) wr.st = berry_errf(err, err_size, BERRY_ENOMEM, "synth: out of memory");
    if (!wr.st && !(wr.varied = malloc(sizeof *wr.varied))) wr.st = berry_errf(err, err_size, BERRY_ENOMEM, "synth: out of memory");
    for (int s = 0; s < 3 && !wr.st; s++)
        for (int fi = 0; fi < N_FILES && !wr.st; fi++) {
            snprintf(wr.path[s][fi], sizeof wr.path[s][fi], "%s/%s_%s.jsonl", dir, berry_synth_split_name((berry_synth_split)s), file_role[fi]);
            if (!(wr.f[s][fi] = fopen(wr.path[s][fi], "w")))
                wr.st = berry_errf(err, err_size, BERRY_EIO, "%s: cannot create: %s", wr.path[s][fi], strerror(errno));
        }

    // Quotas per split and level: levels are drawn round-robin, and a candidate goes to the split its
    // hash names, so counts per level come out equal within each split.
    int nlev = cfg->level_hi - cfg->level_lo + 1;
    long need[3][BERRY_SYNTH_LEVELS + 1] = {{0}};
    long want[3] = {cfg->n_train, cfg->n_dev, cfg->n_test}, total = want[0] + want[1] + want[2], done = 0;
    for (int s = 0; s < 3; s++)
        for (int l = 0; l < nlev; l++) need[s][cfg->level_lo + l] = want[s] / nlev + (l < want[s] % nlev);
    berry_rng r;
    berry_rng_seed(&r, cfg->seed, 0x73796E7468ull);  // "synth"
    // A level whose distinct problems run out would loop forever: give up after this many draws, or after
    // this many draws in a row that found nothing new.
    long max_draws = 200 * total + 100000, max_stale = 20000, stale = 0;
    berry_synth_problem *p = malloc(sizeof *p);
    if (!p && !wr.st) wr.st = berry_errf(err, err_size, BERRY_ENOMEM, "synth: out of memory");
    if (progress) progress(ctx, 0, total);
    for (long li = 0; done < total && !wr.st; li++) {
        int level = cfg->level_lo + (int)(li % nlev);
        if (!need[0][level] && !need[1][level] && !need[2][level]) continue;
        if (st.candidates >= max_draws || stale >= max_stale) {
            wr.st = berry_errf(err, err_size, BERRY_ELIMIT,
                               "synth: only %ld distinct problems found in %ld draws; ask for fewer problems or more levels", done, st.candidates);
            break;
        }
        berry_synth_generate(p, &r, level, NULL, 0);
        st.candidates++;
        bool added;
        if (!keyset_add(&seen, p->key, &added)) { wr.st = berry_errf(err, err_size, BERRY_ENOMEM, "synth: out of memory"); break; }
        if (!added) { st.duplicates++; stale++; continue; }
        stale = 0;
        if (!need[p->split][level]) continue;
        need[p->split][level]--;
        write_problem(&wr, p, &r, cfg);
        st.problems[p->split]++;
        st.per_level[p->split][level]++;
        done++;
        if (progress && done % 1000 == 0) progress(ctx, done, total);
    }
    if (progress && !wr.st) progress(ctx, done, total);
    for (int s = 0; s < 3; s++)
        for (int fi = 0; fi < N_FILES; fi++)
            if (wr.f[s][fi] && fclose(wr.f[s][fi]) != 0 && !wr.st)
                wr.st = berry_errf(err, err_size, BERRY_EIO, "%s: write failed: %s", wr.path[s][fi], strerror(errno));
    st.records = wr.records;
    if (!wr.st) wr.st = write_meta(cfg, dir, &st, err, err_size);
    free(p);
    free(seen.k);
    for (int i = 0; i < N_BUF; i++) free(wr.buf[i]);
    free(wr.varied);
    berry_json_writer_free(&wr.w);
    if (stats) *stats = st;
    return wr.st;
}
