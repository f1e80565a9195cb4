#!/usr/bin/env python3
"""The exchange-rate table of results/improve_countdown: for each round R run by exchange.sh, accuracy (and mean
tokens and FLOPs per item) of the round's models at each budget, beside the round's cumulative FLOPs (training
and data-generating search). Budget 4,000 is the loop's own eval-search (DIR/round-RR/eval-search.jsonl).
Usage: python3 results/improve_countdown/exchange_table.py DIR   (Markdown on stdout)"""
import glob
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
loop = sys.argv[1]


def stats(path):
    lines = [json.loads(l) for l in open(path)][1:]
    lines = [x for x in lines if "correct" in x]
    n = len(lines)
    return (100.0 * sum(1 for x in lines if x["correct"]) / n, sum(x["tokens"] for x in lines) / n,
            sum(x["flops"] for x in lines) / n, n)


cells = {}
for p in glob.glob(os.path.join(here, "exchange", "r*_*.jsonl")):
    r, b = os.path.basename(p)[1:-6].split("_")
    cells[(int(r), int(b))] = stats(p)
for r in sorted({r for r, _ in cells}):
    cells[(r, 4000)] = stats(os.path.join(loop, "round-%02d" % r, "eval-search.jsonl"))
budgets = sorted({b for _, b in cells})
print("| round | cumulative train + search FLOPs | " + " | ".join("%d tokens: acc (tokens, FLOPs per item)" % b
                                                             for b in budgets) + " |")
print("|---:|---:|" + "---:|" * len(budgets))
for r in sorted({r for r, _ in cells}):
    rj = json.load(open(os.path.join(here, "round-%02d" % r, "round.json")))
    row = ["%.0f%% (%.0f, %.2g)" % cells[(r, b)][:3] if (r, b) in cells else "" for b in budgets]
    print("| %d | %.3g | %s |" % (r, rj["cumulative_flops"], " | ".join(row)))
