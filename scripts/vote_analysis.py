#!/usr/bin/env python3
"""vote_analysis.py — why a majority vote over samples does or does not beat greedy decoding.

Reads the results of `berry eval --method greedy` and `berry eval --method sample -k K` on the same
problems (the same order) and prints, from the recorded answers and their grades:

  - greedy pass@1, maj@K, and the problems the vote wins (greedy wrong, vote right) and loses;
  - for the problems greedy gets right and those it gets wrong, how many of the K samples are right
    (a histogram over 0..K): the vote can only win where greedy is wrong and several samples are right;
  - with --problems (the curriculum's *_problems.jsonl), the same figures by the problems' step count;
  - for the sampled solutions, how often an operand of step n ("Step n: a op b = c") is a number that
    is neither in the question nor a result of an earlier step of the same solution ("invented").

It uses the grades berry eval wrote (the reference is only read to print it); nothing here feeds back
into any search. Usage:

  scripts/vote_analysis.py GREEDY.jsonl SAMPLES.jsonl [--problems test_problems.jsonl]
"""
import argparse
import json
import re
import sys
from collections import Counter, defaultdict

NUM = r"\d+(?:\.\d+)?"
STEP = re.compile(r"Step (\d+): (.*?) = (" + NUM + r")")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def question(rec):
    # The embedded prompt is "Question: Q\nSolve step by step.\n"; other prompts keep their first line.
    first = rec["prompt"].split("\n")[0]
    return first[len("Question: "):] if first.startswith("Question: ") else first


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("greedy")
    ap.add_argument("samples")
    ap.add_argument("--problems", help="the curriculum's problems file, for figures by step count")
    a = ap.parse_args()

    greedy = load(a.greedy)
    samples = load(a.samples)
    if len(greedy) != len(samples):
        sys.exit("vote_analysis: %d greedy records against %d sampled ones" % (len(greedy), len(samples)))
    steps = {}
    if a.problems:
        for p in load(a.problems):
            steps[p["question"]] = p["steps"]

    k = max(len(s["correct"]) for s in samples)
    hist = {True: Counter(), False: Counter()}
    by_steps = defaultdict(lambda: [0, 0, 0])  # problems, greedy right, vote right
    wins = losses = g_right = v_right = 0
    invented = defaultdict(Counter)
    for g, s in zip(greedy, samples):
        if question(g) != question(s):
            sys.exit("vote_analysis: the two files do not hold the same problems in the same order")
        gr = bool(g["correct"][0])
        # berry eval's "pick" is the index of a sample that carries the majority answer (-1: none).
        vr = s["pick"] >= 0 and bool(s["correct"][s["pick"]])
        g_right += gr
        v_right += vr
        wins += vr and not gr
        losses += gr and not vr
        hist[gr][sum(map(bool, s["correct"]))] += 1
        if steps:
            row = by_steps[steps.get(question(s), 0)]
            row[0] += 1
            row[1] += gr
            row[2] += vr
        qnums = set(re.findall(NUM, question(s)))
        for out in s["outputs"]:
            results = set()
            for m in STEP.finditer(out):
                n = int(m.group(1))
                for x in re.findall(NUM, m.group(2)):
                    invented[n]["invented" if x not in qnums and x not in results else "found"] += 1
                results.add(m.group(3))

    n = len(greedy)
    print("problems %d, samples %d each" % (n, k))
    print("greedy %.1f%%, maj@%d %.1f%% (%+.1f points); the vote wins %d problems and loses %d"
          % (100 * g_right / n, k, 100 * v_right / n, 100 * (v_right - g_right) / n, wins, losses))
    for gr in (True, False):
        total = sum(hist[gr].values())
        print("greedy %s (%d problems), right samples 0..%d: %s"
              % ("right" if gr else "wrong", total, k, " ".join(str(hist[gr][i]) for i in range(k + 1))))
    for st in sorted(by_steps):
        p, gr, vr = by_steps[st]
        print("%s steps: %d problems, greedy %.1f%%, maj@%d %.1f%%"
              % (st if st else "?", p, 100 * gr / p, k, 100 * vr / p))
    print("invented operands by step: " + ", ".join(
        "step %d %.1f%% of %d" % (st, 100 * c["invented"] / sum(c.values()), sum(c.values()))
        for st, c in sorted(invented.items())))


if __name__ == "__main__":
    main()
