#!/bin/sh
# pprm_bias.sh — why SR-MCTS picks what it picks: runs `berry solve --method sr-mcts --json` on the
# first N problems of the hardest level of the embedded model's test split (the split of
# scripts/search_table.sh) and measures, over every comparison of every tree, the judge's position
# bias and how well its preferences separate right solutions from wrong ones. The reference answers
# are read here, after the searches, for the analysis only (answers are compared as strings, which is
# exact for the curriculum's integers and reduced fractions).
#
#   scripts/pprm_bias.sh              30 problems, SR-MCTS@8
#   N=60 ROLLOUTS=16 scripts/pprm_bias.sh
#   PRM=judge.gguf OUT=build/search_table_prm scripts/pprm_bias.sh   a separate PPRM judges (berry solve --prm);
#                                     without PRM, berry solve's default (the embedded model's PPRM when it
#                                     exists); PRM=models/berry-tiny.gguf makes the policy judge
set -eu
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/berry-tiny.gguf}
OUT=${OUT:-build/search_table}
N=${N:-30}
ROLLOUTS=${ROLLOUTS:-8}
BERRY=${BERRY:-./build/opt/berry}
PRM=${PRM:-}
command -v jq >/dev/null 2>&1 || { echo "pprm_bias.sh needs jq" >&2; exit 1; }
SPLIT=$(ls "$OUT"/test_level*.jsonl 2>/dev/null | tail -n 1)
[ -n "$SPLIT" ] || { echo "run scripts/search_table.sh first (it writes the split to $OUT)" >&2; exit 1; }
T=$OUT/pprm_trees${PRM:+_$(basename "$PRM" .gguf)}  # trees judged by another PPRM kept apart
mkdir -p "$T"
i=0
head -n "$N" "$SPLIT" | while IFS= read -r line; do
    i=$((i + 1))
    [ -s "$T/$i.json" ] && continue
    printf '%s' "$line" | jq -r .problem > "$T/$i.txt"
    "$BERRY" solve -q -t 1 -m "$MODEL" ${PRM:+--prm "$PRM"} --method sr-mcts --rollouts "$ROLLOUTS" -s "$i" --json "$T/$i.tmp" -f "$T/$i.txt" > /dev/null
    printf '%s' "$line" | jq -c '{answer}' > "$T/$i.ref"
    jq -c --slurpfile ref "$T/$i.ref" '. + {reference: $ref[0].answer}' "$T/$i.tmp" > "$T/$i.json"
    rm -f "$T/$i.tmp"
done

# Per tree: right[i] = node i's answer equals the reference. Over all trees:
jq -s -r --argjson n "$N" '
  def mean(f): (map(f) | if length > 0 then add / length else null end);
  def pct(x): if x == null then "-" else ((x * 1000 | round) / 10 | tostring) + "%" end;
  def num(x): if x == null then "-" else ((x * 1000 | round) / 1000 | tostring) end;
  [ .[] | . as $t
    | ($t.nodes | map(.answer != null and .answer == $t.reference)) as $right
    | { chosen_right: ($t.chosen > 0 and $right[$t.chosen]),
        any_right: ($right[1:] | any),
        nodes: ($t.nodes | length - 1),
        right_nodes: ($right[1:] | map(select(.)) | length),
        judg: [ $t.judgments[] | {a: .[0], b: .[1], p: .[2], ra: $right[.[0]], rb: $right[.[1]]} ],
        pref: [ $t.preferences[] | {i: .[0], j: .[1], p: .[2], ri: $right[.[0]], rj: $right[.[1]]} ] } ] as $trees
  | ($trees | map(.judg[]) ) as $J
  | ($trees | map(.pref[]) ) as $P
  | ($J | map(select(.ra != .rb))) as $Jm
  | ($P | map(select(.ri != .rj)) | map(if .ri then .p else 1 - .p end)) as $Pm
  | "SR-MCTS trees: \($trees | length) problems, \($trees | map(.nodes) | add) solutions, \($J | length) comparison prompts",
    "answer chosen right                            \(pct($trees | mean(if .chosen_right then 1 else 0 end)))",
    "some solution of the tree right (ORACLE)       \(pct($trees | mean(if .any_right then 1 else 0 end)))",
    "solutions right (mean over all nodes)          \(pct(($trees | map(.right_nodes) | add) / ($trees | map(.nodes) | add)))",
    "mean P(Yes), every prompt                      \(num($J | mean(.p)))",
    "P(Yes) > 0.5 (says A is better)                \(pct($J | mean(if .p > 0.5 then 1 else 0 end)))",
    "mixed pairs (one right, one wrong), per prompt: \($Jm | length)",
    "  right solution shown as A: P(Yes) > 0.5      \(pct($Jm | map(select(.ra)) | mean(if .p > 0.5 then 1 else 0 end)))",
    "  right solution shown as B: P(Yes) < 0.5      \(pct($Jm | map(select(.rb)) | mean(if .p < 0.5 then 1 else 0 end)))",
    "  mean P(Yes), right as A / right as B         \(num($Jm | map(select(.ra)) | mean(.p))) / \(num($Jm | map(select(.rb)) | mean(.p)))",
    "mixed pairs, both orders averaged: \($Pm | length)",
    "  P(right better than wrong) > 0.5             \(pct($Pm | mean(if . > 0.5 then 1 else 0 end)))",
    "  mean P(right better than wrong)              \(num($Pm | mean(.)))",
    "mean |P - 0.5| after averaging, every pair     \(num($P | mean(.p - 0.5 | fabs)))"
' $(seq 1 "$N" | sed "s|.*|$T/&.json|")
