#!/bin/sh
# make_model.sh — rebuilds the embedded model from nothing (`make model`): generates the synthetic
# curriculum, trains a byte-level BPE vocabulary on it, creates a random llama model, trains it on a
# mixture of all five roles (solve, critique, rewrite, selfeval, compare) with role prompts and an
# arithmetic drill, converts it to f16, and evaluates it on the test split. Everything is seeded; the work goes to build/model/, the
# result to build/model/berry-tiny.gguf (copy it to models/ to ship it: SHIP=1 does).
#
#   scripts/make_model.sh              whole recipe
#   STAGE=eval scripts/make_model.sh   only the evaluation of build/model/berry-tiny.gguf
#   SHIP=1 scripts/make_model.sh       also copies the model and its report to models/
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
LEVELS=${LEVELS:-1-2}
N_TRAIN=${N_TRAIN:-24000} N_TEST=${N_TEST:-300}
VOCAB=${VOCAB:-2048}
# Pre-tokenizer of the vocabulary: llama-bpe (numbers in tokens of up to 3 digits) or qwen2 (one digit each).
PRE=${PRE:-llama-bpe}
SHAPE=${SHAPE:-192,4,4,4,512,512}   # embd, layers, heads, kv heads, ffn, context: ~2.3M parameters
# Examples per role in the training mixture (the first N of each file; the trainer shuffles them).
# 24000 is most of what levels 1-2 hold (berry synth finds about 32000 distinct problems there).
MIX_SOLVE=${MIX_SOLVE:-24000} MIX_CRITIQUE=${MIX_CRITIQUE:-4500} MIX_REWRITE=${MIX_REWRITE:-3000}
MIX_SELFEVAL=${MIX_SELFEVAL:-1800} MIX_COMPARE=${MIX_COMPARE:-6000}
# Arithmetic drill: every distinct equation of the training solutions ("19 * 3 = 57"), DRILL passes
# over them, DRILL_LINES a record (0: none). Only the training split's own steps, so nothing of the
# test split leaks; it concentrates the gradient on the facts a solution's steps look up (with it, twice
# the problems and 1.4x the tokens, the greedy steps' arithmetic went from 52% to 84% right; see
# models/README.md). About 7900 equations, 0.4M tokens of the mixture.
DRILL=${DRILL:-8} DRILL_LINES=${DRILL_LINES:-32}
# Small batches: at this budget the number of updates matters more than the gradient's noise.
STEPS=${STEPS:-2600} BATCH=${BATCH:-4} CTX=${CTX:-512} LR=${LR:-3e-3} WARMUP=${WARMUP:-40}

log() { printf '[make_model %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
sh scripts/deps.sh model
command -v jq >/dev/null 2>&1 || { echo "make_model.sh needs jq (apt-get install jq)" >&2; exit 1; }
[ -x "$BERRY" ] || { echo "build $BERRY first (make)" >&2; exit 1; }
T0=$(date +%s)

if [ "$STAGE" = all ]; then
    rm -rf "$OUT"
    mkdir -p "$D"
    log "curriculum: levels $LEVELS, $N_TRAIN train / $N_TEST test problems, seed $SEED"
    "$BERRY" synth -q --out "$D" --n $N_TRAIN --dev 100 --test $N_TEST --levels $LEVELS --flaws 2 -s $SEED

    # The vocabulary learns from the texts the model will read: prompt + completion of every role.
    log "vocabulary: $VOCAB tokens"
    for r in solve critique rewrite selfeval compare; do
        head -n 3000 "$D/train_$r.jsonl" | jq -r '.prompt + .completion'
    done > "$OUT/corpus.txt"
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
        --name berry-tiny -s $SEED -t $THREADS -o "$OUT/init.gguf"

    log "training: $STEPS steps of $BATCH x $CTX tokens, lr $LR"
    "$BERRY" train -m "$OUT/init.gguf" --data "$OUT/mix.jsonl" --chat-template none -o "$OUT/trained.gguf" \
        --steps $STEPS --batch $BATCH -c $CTX --lr $LR --warmup $WARMUP --save-every 50 -s $SEED -t $THREADS
    "$BERRY" quantize -t $THREADS "$OUT/trained.gguf" "$OUT/berry-tiny.gguf" f16
    T_TRAIN=$(date +%s)
    log "trained in $((T_TRAIN - T0)) s"
fi

log "evaluation on the test split"
"$BERRY" roles-eval -m "$OUT/berry-tiny.gguf" --data "$D" --split test -t $THREADS \
    --samples 16 --json "$OUT/eval.json" | tee "$OUT/eval.txt"
T1=$(date +%s)
echo "make_model: $((T1 - T0)) s wall ($STAGE), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/eval.txt"

if [ "${SHIP:-0}" = 1 ]; then
    mkdir -p models
    cp "$OUT/berry-tiny.gguf" models/berry-tiny.gguf
    cp "$OUT/eval.txt" models/berry-tiny.eval.txt
    log "shipped models/berry-tiny.gguf ($(wc -c < models/berry-tiny.gguf) bytes)"
fi
