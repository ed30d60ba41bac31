#!/bin/sh
# search_table.sh — the search experiment of docs/search.md: on the hardest level of the embedded
# model's test split, greedy, self-consistency (maj@k), best-of-k by the PPRM (rm@k), self-refine,
# MCTSr and SR-MCTS at several budgets, each through `berry eval` (accuracy, 95% interval, tokens
# generated, prompt tokens evaluated, wall time), then the Markdown table of `berry eval report`, and
# the prefix-cache figures of SR-MCTS@8 (the same run without the cache, and with 16-token pages).
#
#   scripts/search_table.sh                  everything (resumes: finished results are kept)
#   LIMIT=50 scripts/search_table.sh         the first 50 problems only
#   MODEL=build/model/berry-tiny.gguf OUT=build/table2 scripts/search_table.sh
#   scripts/search_table.sh --prm judge.gguf a separately trained PPRM judges the comparisons of rm@k
#                                            and SR-MCTS (berry eval --prm); the policy does the rest.
#                                            Without --prm, berry eval's default judges: the embedded
#                                            model's PPRM (models/berry-tiny-prm.gguf) for the embedded
#                                            model, else the policy; --prm "$MODEL" makes the policy judge
#   ROWS="greedy maj8 maj16" scripts/search_table.sh   only these rows (the others' files are kept and
#                                            reported when present), e.g. the rows without a judge ahead
#
# The split is generated with the curriculum flags of scripts/make_model.sh (read from that script, so
# the test problems are the ones the model was evaluated on and never trained on). The reference
# answers are read only by the grader, after each method has chosen its answer.
set -eu
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/berry-tiny.gguf}
OUT=${OUT:-build/search_table}
THREADS=${THREADS:-1}     # one thread each: on a shared 2-core machine a second spinning thread costs more than it gives
LIMIT=${LIMIT:-0}
PRM=${PRM:-}
ROWS=${ROWS:-all}
while [ $# -gt 0 ]; do
    case $1 in
        --prm) [ $# -ge 2 ] || { echo "--prm needs a file" >&2; exit 1; }; PRM=$2; shift 2 ;;
        *) echo "usage: scripts/search_table.sh [--prm FILE] (environment: MODEL OUT THREADS LIMIT BERRY)" >&2; exit 1 ;;
    esac
done
[ -z "$PRM" ] || [ -s "$PRM" ] || { echo "no PPRM model at $PRM" >&2; exit 1; }
command -v jq >/dev/null 2>&1 || { echo "search_table.sh needs jq (apt-get install jq)" >&2; exit 1; }
[ -x "${BERRY:-./build/opt/berry}" ] || { echo "build ./build/opt/berry first (make)" >&2; exit 1; }
mkdir -p "$OUT"
# A private copy of the binary: rebuilding the tree during the run does not change the tool mid-table.
cp "${BERRY:-./build/opt/berry}" "$OUT/berry"
BERRY=$OUT/berry
log() { printf '[search_table %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The curriculum of make_model.sh: its variables and its `berry synth` line, as they are there.
eval "$(grep -E '^(SEED|LEVELS|N_TRAIN|VARY)=' scripts/make_model.sh)"
D=$OUT/data
if [ ! -s "$D/test_problems.jsonl" ]; then
    SYNTH=$(grep -E '^[[:space:]]*"\$BERRY" synth ' scripts/make_model.sh | head -n 1)
    [ -n "$SYNTH" ] || { echo "no berry synth line in scripts/make_model.sh" >&2; exit 1; }
    log "split: $SYNTH"
    mkdir -p "$D"
    eval "$SYNTH"
fi
HARD=${LEVELS#*-}
SPLIT=$OUT/test_level$HARD.jsonl
jq -c --argjson h "$HARD" 'select(.level == $h) | {id, problem: .question, answer: .final}' "$D/test_problems.jsonl" > "$SPLIT"
N=$(wc -l < "$SPLIT")
log "model $MODEL; judge ${PRM:-the default of berry eval}; $N test problems of level $HARD (levels $LEVELS); limit ${LIMIT} (0: all); $THREADS thread(s)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)
START=$(date -u '+%Y-%m-%d %H:%M UTC')
REV=$(git rev-parse --short HEAD 2>/dev/null || echo '?')

# NAME METHOD K [FLAGS...]: one results file per row; a rerun skips the problems already there. The
# methods that ask the PPRM (bon, sr-mcts) get --prm when one is given.
run() {
    name=$1 method=$2 k=$3
    shift 3
    case " $ROWS " in " all "|*" $name "*) ;; *) return 0 ;; esac
    case $method in bon|sr-mcts) [ -z "$PRM" ] || set -- --prm "$PRM" "$@" ;; esac
    log "$name $*"
    "$BERRY" eval -q -m "$MODEL" --data "$SPLIT" -o "$OUT/$name.jsonl" --method "$method" -k "$k" \
        --limit "$LIMIT" -t "$THREADS" "$@" > "$OUT/$name.summary.txt"
}
run greedy greedy 1
run maj8 sc 8
run maj16 sc 16
run maj32 sc 32
run rm8 bon 8
run refine8 refine 8
run mctsr8 mctsr 8
run srmcts8 sr-mcts 8
run srmcts8-page16 sr-mcts 8 --kv-page 16
run srmcts8-nocache sr-mcts 8 --no-prefix-cache
run mctsr16 mctsr 16
run srmcts16 sr-mcts 16
run mctsr32 mctsr 32
run srmcts32 sr-mcts 32
T1=$(date +%s)

echo "## $START — $MODEL ($(sha256sum "$MODEL" | cut -c1-12)), judge ${PRM:-the default of berry eval}$([ -n "$PRM" ] && echo " ($(sha256sum "$PRM" | cut -c1-12))"), berry $REV"
echo
echo "Level $HARD of the test split ($N problems$( [ "$LIMIT" -gt 0 ] && echo ", the first $LIMIT")), \`scripts/search_table.sh\`, $THREADS thread(s);"
echo "this invocation $((T1 - T0)) s wall (rows already in $OUT are not rerun); load average $LOAD0 at its start,"
echo "$(cut -d' ' -f1-3 /proc/loadavg) at its end. sc = maj@k (self-consistency), bon = rm@k (best of k by the PPRM"
echo "through EBC), refine = k rounds of self-refine; s / problem is the model's wall time."
echo
F=
for r in greedy maj8 maj16 maj32 rm8 refine8 mctsr8 mctsr16 mctsr32 srmcts8 srmcts16 srmcts32; do
    if [ -s "$OUT/$r.jsonl" ]; then F="$F $OUT/$r.jsonl"; fi
done
# sc is maj@k, bon is rm@k: the report names methods as berry eval does.
"$BERRY" eval report $F --svg "$OUT/report.svg" 2>/dev/null
echo
echo "Prefix cache, SR-MCTS@8 (the same searches; prompt tokens summed over the problems):"
echo
echo "| run | prompt tokens | evaluated | ratio |"
echo "|---|---:|---:|---:|"
for r in srmcts8-nocache srmcts8-page16 srmcts8; do
    [ -s "$OUT/$r.jsonl" ] || continue
    "$BERRY" eval report --json "$OUT/$r.jsonl" | jq -r --arg r "$r" \
        '.[0] | "| \($r) | \(.prompt_tokens) | \(.prompt_tokens_evaluated) | \(if .prompt_tokens_evaluated > 0 then (.prompt_tokens / .prompt_tokens_evaluated * 100 | round / 100) else "-" end) |"'
done
