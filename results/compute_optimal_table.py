#!/usr/bin/env python3
"""Issue 15's compute-optimal tables and plot, from the result files of results/compute_optimal.sh (each
strategy at its paper defaults: results/compute_optimal_<task>/) and results/compute_optimal_scaled.sh (the
strategies whose defaults finish below the budget made wide enough to spend it: ..._<task>_scaled/).

At each budget a strategy's point is its scaled run where there is one, else its default run. Printed (Markdown):
accuracy and mean tokens per item for every strategy and budget with the winners; the winners per difficulty
third; the per-item solves. Writes results/compute_optimal_<task>/combined.{dat,gp,png,svg} (gnuplot).

Difficulty of an item:
  game24     its rank in ToT's 24.csv (4nums.com's order by human solve time: rank 1 the easiest);
  countdown  how likely random legal play is to solve it: the probability that a player who picks each step
             uniformly among the legal ones (two of the numbers and an operator whose result is a positive
             integer) ends on the target, computed exactly by recursion over the states (no sampling).
Items are sorted by difficulty and cut into three groups of (nearly) equal size. Winners: every strategy tied
at the best solve count. Usage: python3 results/compute_optimal_table.py game24|countdown
"""
import glob
import json
import math
import os
import subprocess
import sys
from fractions import Fraction
from functools import lru_cache

ORDER = ["bon", "bon_select_weighted", "beam", "dvts", "particle", "mcts_iters_1000",
         "mcts_root_gumbel_iters_1000", "tot-bfs", "rebase"]
NAMES = {"bon": "bon", "bon_select_weighted": "bon weighted", "beam": "beam", "dvts": "dvts",
         "particle": "particle", "mcts_iters_1000": "mcts", "mcts_root_gumbel_iters_1000": "mcts gumbel",
         "tot-bfs": "tot-bfs", "rebase": "rebase"}


@lru_cache(maxsize=None)
def p_random(nums, target):
    """P(uniform random legal play from the multiset `nums` ends on `target`), countdown's rules."""
    if len(nums) == 1:
        return Fraction(int(nums[0] == target))
    moves = []
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            a, b = max(nums[i], nums[j]), min(nums[i], nums[j])
            rest = nums[:i] + nums[i + 1:j] + nums[j + 1:]
            outs = [a + b, a * b] + ([a - b] if a > b else []) + ([a // b] if a % b == 0 else [])
            moves += [tuple(sorted(rest + (v,))) for v in outs]
    return sum((p_random(m, target) for m in moves), Fraction(0)) / len(moves) if moves else Fraction(0)


def difficulty(task, item_id):
    """(a key growing with difficulty, its text)"""
    if task == "game24":
        return int(item_id), "rank %s" % item_id
    nums, target = item_id.split("=")
    p = float(p_random(tuple(sorted(int(x) for x in nums.split("-"))), int(target)))
    return -p, "P=%.3f" % p


def load(path):
    lines = [json.loads(l) for l in open(path)]
    return {x["id"]: x for x in lines[1:] if "id" in x and "correct" in x}


def main():
    task = sys.argv[1]
    root = os.path.dirname(os.path.abspath(__file__))
    d = os.path.join(root, "compute_optimal_" + task)
    cells = {}  # (strategy, budget) -> (items, width note)
    for path in glob.glob(d + "/*.jsonl"):
        lab, _, b = os.path.basename(path)[:-6].split("__")
        cells[(lab, int(b.split("_")[1]))] = (load(path), "")
    for path in glob.glob(d + "_scaled/*.jsonl"):
        lab, w, b = os.path.basename(path)[:-6].split("__")
        cells[(lab, int(b.split("_")[1]))] = (load(path), w.replace("_", "="))
    labels = [s for s in ORDER if any(k[0] == s for k in cells)]
    budgets = sorted({b for _, b in cells})
    ids = sorted({i for v, _ in cells.values() for i in v}, key=lambda i: difficulty(task, i)[0])
    n = len(ids)
    for (s, b), (v, _) in list(cells.items()):
        if sorted(v) != sorted(ids):  # a run still going (or stopped): left out, and said
            sys.stderr.write("compute_optimal_table: %s at %d has %d of the %d items: left out\n" % (s, b, len(v), len(ids)))
            del cells[(s, b)]

    def acc(s, b, group=None):
        v = cells[(s, b)][0]
        return sum(1 for i in (group or ids) if v[i]["correct"])

    def tok(s, b):
        v = cells[(s, b)][0]
        return sum(x["tokens"] for x in v.values()) / len(v)

    print("Accuracy (%% of %d items) and mean tokens per item; a width in brackets: the scaled run "
          "(results/compute_optimal_scaled.sh), else the paper defaults. Bold: the budget's winners." % n)
    print()
    print("| strategy | " + " | ".join("%d" % b for b in budgets) + " |")
    print("|---|" + "---:|" * len(budgets))
    best = {b: max(acc(s, b) for s in labels if (s, b) in cells) for b in budgets}
    for s in labels:
        row = []
        for b in budgets:
            if (s, b) not in cells:
                row.append("")
                continue
            a, w = acc(s, b), cells[(s, b)][1]
            t = "%.0f%% (%.0f)%s" % (100.0 * a / n, tok(s, b), " [%s]" % w if w else "")
            row.append("**%s**" % t if a == best[b] else t)
        print("| %s | %s |" % (NAMES[s], " | ".join(row)))
    print()
    print("| budget | winners | solved |")
    print("|---:|---|---:|")
    for b in budgets:
        win = [NAMES[s] for s in labels if (s, b) in cells and acc(s, b) == best[b]]
        print("| %d | %s | %d/%d |" % (b, ", ".join(win), best[b], n))
    groups = [ids[g * n // 3:(g + 1) * n // 3] for g in range(3)]
    names = ["easiest third", "middle third", "hardest third"]
    print()
    print("Winners per difficulty (solved of the group):")
    print()
    print("| budget | " + " | ".join("%s: %d items, %s to %s" % (names[g], len(groups[g]),
          difficulty(task, groups[g][0])[1], difficulty(task, groups[g][-1])[1]) for g in range(3)) + " |")
    print("|---:|---|---|---|")
    for b in budgets:
        row = []
        for g in groups:
            got = {s: acc(s, b, g) for s in labels if (s, b) in cells}
            top = max(got.values())
            win = [NAMES[s] for s in labels if got.get(s) == top]
            row.append("none solves any" if top == 0 else "every strategy: %d" % top if len(win) == len(got)
                       else "%s: %d" % (", ".join(win), top))
        print("| %d | %s |" % (b, " | ".join(row)))
    print()
    print("Per item (1 = solved), the items sorted by difficulty:")
    print()
    print("| strategy | budget | " + " | ".join(difficulty(task, i)[1] for i in ids) + " |")
    print("|---|---:|" + "---|" * n)
    for s in labels:
        for b in budgets:
            if (s, b) in cells:
                v = cells[(s, b)][0]
                print("| %s | %d | %s |" % (NAMES[s], b, " | ".join(str(int(bool(v[i]["correct"]))) for i in ids)))
    # the plot: one line per strategy through its points, 95% Wilson intervals
    dat, gp = os.path.join(d, "combined.dat"), os.path.join(d, "combined.gp")
    with open(dat, "w") as f:
        for s in labels:
            f.write("# %s\n" % NAMES[s])
            for b in budgets:
                if (s, b) in cells:
                    a = acc(s, b)
                    p, z = a / n, 1.96
                    c = (p + z * z / (2 * n)) / (1 + z * z / n)
                    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
                    f.write("%g %g %g %g\n" % (tok(s, b), 100 * p, 100 * (c - h), 100 * (c + h)))
            f.write("\n\n")
    colors = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442", "#999999"]
    rel = os.path.relpath(dat, os.getcwd())
    plots = ", ".join("'%s' index %d using 1:2 with linespoints lw 2 pt %d ps 1.2 lc rgb '%s' title '%s'" %
                      (rel, k, 5 + 2 * k, colors[k % len(colors)], NAMES[s]) for k, s in enumerate(labels))
    with open(gp, "w") as f:
        for term, ext in (("pngcairo size 1000,600", "png"), ("svg size 1000,600", "svg")):
            f.write("set terminal %s noenhanced font 'sans,11'\n" % term)
            f.write("set output '%s'\n" % os.path.relpath(os.path.join(d, "combined." + ext), os.getcwd()))
            f.write("set title '%s: accuracy against tokens per item, each strategy at its budget (%d items)'\n" %
                    (task, n))
            f.write("set grid\nset key outside right top\nset logscale x\nset yrange [0:100]\n")
            f.write("set xlabel 'mean tokens per item (log scale); budgets 250 to 16,000'\n")
            f.write("set ylabel 'accuracy (%)'\n")
            f.write("plot %s\n" % plots)
    subprocess.run(["gnuplot", gp], check=True)


if __name__ == "__main__":
    main()
