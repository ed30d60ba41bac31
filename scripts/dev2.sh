#!/bin/sh
# dev2.sh — a large held-out set for choosing between recipes of the embedded model ("dev2" in
# models/README.md): the test split of another curriculum seed (`berry synth -s 7`, levels 1-2; 2,800
# of the ~3,100 distinct problems the generator finds there), less every problem whose question is in
# the training curriculum's train, dev or test split, written as a dev split (dev_problems.jsonl and
# the role files, by problem id) that `berry roles-eval --split dev` reads. About 1,390
# problems on level 1 and 1,400 on level 2, none of them seen in training: the curriculum's own dev
# split (50 a level) is too small to tell recipes apart.
#
#   scripts/dev2.sh                          builds build/dev2 from the curriculum in build/model/data
#   scripts/dev2.sh MODEL.gguf [N]           also evaluates MODEL's greedy solve, N problems a level (500)
#   CUR=DIR OUT=DIR scripts/dev2.sh          another training curriculum / output folder
set -eu
cd "$(dirname "$0")/.."
BERRY=${BERRY:-./build/opt/berry}
OUT=${OUT:-build/dev2}
CUR=${CUR:-build/model/data}
command -v jq >/dev/null 2>&1 || { echo "dev2.sh needs jq (apt-get install jq)" >&2; exit 1; }
[ -x "$BERRY" ] || { echo "build $BERRY first (make)" >&2; exit 1; }
for s in train dev test; do
    [ -s "$CUR/${s}_problems.jsonl" ] || { echo "no curriculum at $CUR (run make model, or set CUR)" >&2; exit 1; }
done

if [ ! -s "$OUT/dev_problems.jsonl" ]; then
    mkdir -p "$OUT"
    "$BERRY" synth -q --out "$OUT/syn" --n 100 --dev 100 --test 2800 --levels 1-2 --flaws 2 -s 7
    # The questions the model may have seen, then the ids of the other curriculum's test problems
    # whose question is not among them.
    jq -r .question "$CUR/train_problems.jsonl" "$CUR/dev_problems.jsonl" "$CUR/test_problems.jsonl" \
        > "$OUT/seen.txt"
    jq -nc --rawfile s "$OUT/seen.txt" '($s | split("\n") | map({(.): true}) | add) as $seen
        | inputs | select($seen[.question] | not)' "$OUT/syn/test_problems.jsonl" > "$OUT/dev_problems.jsonl"
    jq -r .id "$OUT/dev_problems.jsonl" > "$OUT/ids.txt"
    for r in solve critique rewrite selfeval compare; do
        jq -nc --rawfile s "$OUT/ids.txt" '($s | split("\n") | map({(.): true}) | add) as $keep
            | inputs | select($keep[.id])' "$OUT/syn/test_$r.jsonl" > "$OUT/dev_$r.jsonl"
    done
    rm -rf "$OUT/syn"
    echo "dev2: $(jq -c 'select(.level == 1)' "$OUT/dev_problems.jsonl" | wc -l) problems of level 1," \
         "$(jq -c 'select(.level == 2)' "$OUT/dev_problems.jsonl" | wc -l) of level 2 in $OUT" >&2
fi

if [ $# -ge 1 ]; then
    "$BERRY" roles-eval -m "$1" --data "$OUT" --split dev --roles solve --samples 1 --n "${2:-500}"
fi
