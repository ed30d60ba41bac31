#!/bin/sh
# make_model.sh — rebuilds the embedded model from nothing (`make model`): generates the synthetic
# curriculum, trains a byte-level BPE vocabulary on it, creates a random llama model, trains it on a
# mixture of the roles (solve, critique, rewrite, selfeval; compare is the PPRM's) with role prompts and an
# arithmetic drill, converts it to f16; then trains the PPRM (the compare role's judge) from that policy on
# comparisons alone, converts it to q8_0, and evaluates both on the test split. Everything is seeded; the
# work goes to build/model/, the results to build/model/berry-tiny.gguf and berry-tiny-prm.gguf (copy them
# to models/ to ship them: SHIP=1 does).
#
#   scripts/make_model.sh              whole recipe
#   STAGE=policy scripts/make_model.sh the curriculum and the policy only (no PPRM, no evaluation)
#   STAGE=prm scripts/make_model.sh    only the PPRM (from build/model/trained.gguf), then the evaluation
#   STAGE=eval scripts/make_model.sh   only the evaluation of build/model/berry-tiny.gguf and its PPRM
#   SHIP=1 scripts/make_model.sh       also copies the models and their report to models/
#
# Every figure in models/README.md comes from the report this prints (build/model/eval.txt).
set -eu
cd "$(dirname "$0")/.."
BERRY=${BERRY:-./build/opt/berry}
OUT=${OUT:-build/model}
D=$OUT/data
THREADS=${THREADS:-2}
STAGE=${STAGE:-all}

# The recipe. Every constant can be overridden from the environment (for comparing variants: OUT=...
# STEPS=... scripts/make_model.sh); the defaults are the shipped model's.
# Levels 1-2 of berry synth's five (2-3 steps, numbers up to 20): on this compute (a 2-core
# laptop, half an hour) a model trained on levels 1-3 had not yet learned to copy the question's numbers
# (greedy 12% / 3% / 1%, see models/README.md); harder levels only dilute the training tokens.
SEED=${SEED:-1}
# The seed of the model's initialization and of the trainer's data order (and the PPRM's), apart from
# the curriculum's (SEED), so that a recipe can be retrained on the same problems from another start.
TRAIN_SEED=${TRAIN_SEED:-$SEED}
LEVELS=${LEVELS:-1-2}
# VARY=1: the solve records show each problem along a path drawn from its correct ones (berry synth
# --vary: independent steps in any order, + and * operands either way round), so that the policy's
# samples differ in more than their mistakes.
VARY=${VARY:-0}
N_TRAIN=${N_TRAIN:-24000} N_TEST=${N_TEST:-300}
VOCAB=${VOCAB:-2048}
# Pre-tokenizer of the vocabulary: llama-bpe (numbers in tokens of up to 3 digits) or qwen2 (one digit each).
PRE=${PRE:-llama-bpe}
SHAPE=${SHAPE:-192,4,8,8,512,512}   # embd, layers, heads, kv heads, ffn, context: ~2.3M parameters (8 heads of 24: run 22)
# Examples per role in the training mixture (the first N of each file; the trainer shuffles them).
# 24000 is most of what levels 1-2 hold (berry synth finds about 32000 distinct problems there).
# No compare records: the PPRM (below) is the compare role's judge, and the policy's tokens go to the
# other roles (with them the policy judged nothing anyway: it answered No to every pair).
# Critiques and rewrites read 150-250 tokens of context, so they need more examples than their share of
# the problems: with 8000 / 12000 instead of 4500 / 3000 (and 5600 steps), rewrites from the reference
# critique were right 26.7% of the time instead of 15.7%, with greedy solve no worse (models/README.md).
MIX_SOLVE=${MIX_SOLVE:-24000} MIX_CRITIQUE=${MIX_CRITIQUE:-8000} MIX_REWRITE=${MIX_REWRITE:-12000}
MIX_SELFEVAL=${MIX_SELFEVAL:-1800} MIX_COMPARE=${MIX_COMPARE:-0}
# Arithmetic drill: every distinct equation of the training solutions ("19 * 3 = 57"), DRILL passes
# over them, DRILL_LINES a record (0: none). Only the training split's own steps, so nothing of the
# test split leaks; it concentrates the gradient on the facts a solution's steps look up (with it, twice
# the problems and 1.4x the tokens, the greedy steps' arithmetic went from 52% to 84% right; see
# models/README.md). About 7900 equations, 0.4M tokens of the mixture.
DRILL=${DRILL:-8} DRILL_LINES=${DRILL_LINES:-32}
# Small batches: at this budget the number of updates matters more than the gradient's noise (on run
# 12's mixture, 3600 steps against 2600, two training seeds each: greedy level 2 on 500 unseen problems
# 19.8 / 21.6% against 13.2 / 9.4%; models/README.md, the seed study). 5000 steps (about 1.5 passes
# over the larger mixture of run 15) and the PPRM's 1500 fit the 45 minutes of `make model` at the
# 5,400 tokens/s this trainer ran at on 2026-11-26: 2477 s end to end.
STEPS=${STEPS:-5000} BATCH=${BATCH:-4} CTX=${CTX:-512} LR=${LR:-3e-3} WARMUP=${WARMUP:-40}
# The PPRM: the policy fine-tuned (all weights) on the first PRM_COMPARE comparison records (all ~96000: both
# orders of each (correct, flawed) pair, so that neither position is favoured). A record's completion is
# the correct solution's line where the two part ("Check: Step 2: 30 - 21 = 9 ..."; src/search/roles.h),
# and the judge's preference is its probability of A's line against B's. Shipped as q8_0 (2.4 MB) so
# that policy and PPRM fit 8 MB together. 1500 steps, as for run 15's Yes/No judge: from run 15's policy,
# this judge prefers the correct solution in both orders 87% of the time, where the Yes/No judge did
# 35% (models/README.md). An equation-check drill for the Yes/No judge (PRM_CHECK) made it answer No to
# everything and is gone.
PRM_COMPARE=${PRM_COMPARE:-96000}
PRM_STEPS=${PRM_STEPS:-1500} PRM_BATCH=${PRM_BATCH:-4} PRM_LR=${PRM_LR:-1e-3} PRM_WARMUP=${PRM_WARMUP:-40}

log() { printf '[make_model %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
sh scripts/deps.sh model
command -v jq >/dev/null 2>&1 || { echo "make_model.sh needs jq (apt-get install jq)" >&2; exit 1; }
[ -x "$BERRY" ] || { echo "build $BERRY first (make)" >&2; exit 1; }
T0=$(date +%s)

if [ "$STAGE" = all ] || [ "$STAGE" = policy ]; then
    rm -rf "$OUT"
    mkdir -p "$D"
    log "curriculum: levels $LEVELS, $N_TRAIN train / $N_TEST test problems, seed $SEED (training seed $TRAIN_SEED), vary $VARY"
    # The flag is derived on the synth line itself, which scripts/search_table.sh copies and runs.
    "$BERRY" synth -q --out "$D" --n $N_TRAIN --dev 100 --test $N_TEST --levels $LEVELS --flaws 2 -s $SEED $([ "$VARY" = 1 ] && echo --vary)

    # The vocabulary learns from the texts the model will read: prompt + completion of the first 3000
    # records of each role, and 1500 (correct, flawed) pairs in both orders written as two whole
    # solutions and a Yes / No verdict (the compare layout until run 15). That last part is fixed text,
    # not the judge's layout of the day: it keeps the vocabulary, and with it the policy, run 15's bit
    # for bit. The same mixture on a vocabulary trained with run 16's compare text gave a policy 16
    # points worse on level 2 (29.3 -> 13.3%): the token ids change the whole trajectory, and one run
    # cannot tell that noise from a worse vocabulary (models/README.md).
    log "vocabulary: $VOCAB tokens"
    {
        for r in solve critique rewrite selfeval; do
            head -n 3000 "$D/train_$r.jsonl" | jq -r '.prompt + .completion'
        done
        head -n 1500 "$D/train_dpo.jsonl" | jq -r '
            (.prompt | ltrimstr("Question: ") | rtrimstr("\nSolve step by step.\n")) as $q |
            ("Question: " + $q + "\nSolution A:\n" + .chosen + "\nSolution B:\n" + .rejected + "\nIs solution A better than solution B?\nYes"),
            ("Question: " + $q + "\nSolution A:\n" + .rejected + "\nSolution B:\n" + .chosen + "\nIs solution A better than solution B?\nNo")'
    } > "$OUT/corpus.txt"
    "$BERRY" vocab train -o "$OUT/vocab.gguf" --vocab-size $VOCAB --pre $PRE "$OUT/corpus.txt"

    log "mixture: solve $MIX_SOLVE, critique $MIX_CRITIQUE, rewrite $MIX_REWRITE, selfeval $MIX_SELFEVAL, compare $MIX_COMPARE, drill $DRILL"
    {
        head -n $MIX_SOLVE "$D/train_solve.jsonl"
        head -n $MIX_CRITIQUE "$D/train_critique.jsonl"
        head -n $MIX_REWRITE "$D/train_rewrite.jsonl"
        head -n $MIX_SELFEVAL "$D/train_selfeval.jsonl"
        head -n $MIX_COMPARE "$D/train_compare.jsonl"
        if [ "$DRILL" -gt 0 ]; then
            # The equations, each pass in its own order (a fixed linear congruential shuffle, so that
            # every awk gives the same file), DRILL_LINES to a record.
            jq -r '.completion' "$D/train_solve.jsonl" |
                sed -n 's/^Step [0-9]*: \([^=]* = [0-9./-]*\).*/\1/p' | LC_ALL=C sort -u |
                awk -v passes="$DRILL" -v per="$DRILL_LINES" '
                    { eq[n++] = $0 }
                    END {
                        s = 12345
                        for (p = 0; p < passes; p++) {
                            for (i = n - 1; i > 0; i--) {
                                s = (s * 16807) % 2147483647
                                j = s % (i + 1); t = eq[i]; eq[i] = eq[j]; eq[j] = t
                            }
                            for (i = 0; i < n; i += per) {
                                c = ""
                                for (k = i; k < i + per && k < n; k++) c = c eq[k] "\\n"
                                printf "{\"prompt\":\"Compute:\\n\",\"completion\":\"%s\"}\n", c
                            }
                        }
                    }'
        fi
    } > "$OUT/mix.jsonl"

    log "model: llama $SHAPE"
    "$BERRY" model init --arch llama --preset tiny --shape $SHAPE --vocab "$OUT/vocab.gguf" --type f32 \
        --name berry-tiny -s $TRAIN_SEED -t $THREADS -o "$OUT/init.gguf"

    log "training: $STEPS steps of $BATCH x $CTX tokens, lr $LR"
    "$BERRY" train -m "$OUT/init.gguf" --data "$OUT/mix.jsonl" --chat-template none -o "$OUT/trained.gguf" \
        --steps $STEPS --batch $BATCH -c $CTX --lr $LR --warmup $WARMUP --save-every 50 -s $TRAIN_SEED -t $THREADS
    "$BERRY" quantize -t $THREADS "$OUT/trained.gguf" "$OUT/berry-tiny.gguf" f16
    T_TRAIN=$(date +%s)
    log "trained in $((T_TRAIN - T0)) s"
    [ "$STAGE" = policy ] && exit 0
fi

if [ "$STAGE" = all ] || [ "$STAGE" = prm ]; then
    T_PRM=$(date +%s)
    log "PPRM mixture: compare $PRM_COMPARE"
    head -n $PRM_COMPARE "$D/train_compare.jsonl" > "$OUT/prm_mix.jsonl"
    log "PPRM training: $PRM_STEPS steps of $PRM_BATCH x $CTX tokens, lr $PRM_LR, from the policy"
    "$BERRY" train -m "$OUT/trained.gguf" --data "$OUT/prm_mix.jsonl" --chat-template none -o "$OUT/prm.gguf" \
        --steps $PRM_STEPS --batch $PRM_BATCH -c $CTX --lr $PRM_LR --warmup $PRM_WARMUP --save-every 50 -s $TRAIN_SEED -t $THREADS
    "$BERRY" quantize -t $THREADS "$OUT/prm.gguf" "$OUT/berry-tiny-prm.gguf" q8_0
    log "PPRM trained in $(($(date +%s) - T_PRM)) s"
fi

# Every test problem: berry synth splits the test problems evenly over the levels (150 a level for
# 300 on levels 1-2); the other roles get as many items a level.
PER_LEVEL=$((N_TEST / (${LEVELS#*-} - ${LEVELS%-*} + 1)))
log "evaluation on the test split ($PER_LEVEL problems a level; $PER_LEVEL items a level for the other roles)"
"$BERRY" roles-eval -m "$OUT/berry-tiny.gguf" --prm "$OUT/berry-tiny-prm.gguf" --data "$D" --split test -t $THREADS \
    --n $PER_LEVEL --n-roles $PER_LEVEL --samples 16 --json "$OUT/eval.json" | tee "$OUT/eval.txt"
T1=$(date +%s)
echo "make_model: $((T1 - T0)) s wall ($STAGE), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/eval.txt"

if [ "${SHIP:-0}" = 1 ]; then
    mkdir -p models
    cp "$OUT/berry-tiny.gguf" models/berry-tiny.gguf
    cp "$OUT/berry-tiny-prm.gguf" models/berry-tiny-prm.gguf
    cp "$OUT/eval.txt" models/berry-tiny.eval.txt
    log "shipped models/berry-tiny.gguf ($(wc -c < models/berry-tiny.gguf) bytes) and models/berry-tiny-prm.gguf ($(wc -c < models/berry-tiny-prm.gguf) bytes)"
fi
