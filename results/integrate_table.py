#!/usr/bin/env python3
"""integrate_table.py: the Markdown table of results/integrate.md from the run files in results/integrate/.

For each test set S (test-bwd, test-fwd) it reads
  io_S.jsonl       sys2 run --search io (greedy): solved = the verifier accepts the one answer
  sc_S.jsonl       sys2 run --search sc (votes over the task's canonical answers): solved = the winner verifies
  bon_S.jsonl      sys2 run --search bon --scorer verify: each item's n sampled answers and how many of
                   them verify (c); pass@k = 1 - C(n-c, k) / C(n, k), the unbiased estimator of Chen et al. 2021,
                   for k = 1, 2, 4, ... <= n. With the verifier as the filter, best-of-k solves an item exactly
                   when one of its k samples verifies, so pass@k is best-of-k's solve rate.
  sympy_S.jsonl    results/integrate_sympy.py: solved = SymPy's answer checked by differentiation
and prints one row per method with the items it ran on, the solve rate and the tokens (prompt + generated) per item.
"""
import json
import os
import sys
from math import comb

D = sys.argv[1] if len(sys.argv) > 1 else "results/integrate"


def lines(path):
    if not os.path.exists(path):
        return None, []
    with open(path) as fh:
        rows = [json.loads(l) for l in fh if l.strip()]
    head = rows[0] if rows and "sys2_run" in rows[0] else None
    return head, [r for r in rows if "id" in r]


def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


HEADER = """# integrate: the shipped policy (models/integrate-policy.gguf) beside SymPy

Made by `LIMIT=500 N=64 N256=0 sh results/integrate.sh`, then `LIMIT=100 N256=256 sh results/integrate.sh` (every
command is in it; this file is `python3 results/integrate_table.py`). Items: all 500 of each test set for greedy,
sc, best-of-64 and SymPy; the first 100 for best-of-256 (the row counts say). Solved = the
task's verifier (d/dx F equals f) accepts the answer; SymPy's answers are checked by SymPy's own differentiation at
24 points (results/integrate_sympy.py). Tokens per item = prompt + generated tokens (characters) of the policy.
pass@k rows come from one best-of-n run's samples (unbiased estimator; pass@n is the run itself), so best-of-k with
the verifier as the filter solves an item exactly when one of its k samples verifies. Sampling temperature 0.7
(the strategies' default, not tuned). SymPy's time is CPU time (the machine is shared), capped at 5 s per item.
"""


def main():
    print(HEADER)
    print("| test set | method | items | solved | rate | tokens / item |")
    print("|---|---|---|---|---|---|")
    for s in ("test-bwd", "test-fwd"):
        for name, label in (("io", "greedy (io)"), ("sc", "sc")):
            head, rows = lines(f"{D}/{name}_{s}.jsonl")
            if not rows:
                continue
            if head is not None and name == "sc":
                label = f"sc, n={head['sys2_run']['params'].get('n')}"
            for sub in ([rows, rows[:50]] if name == "io" and len(rows) > 50 else [rows]):
                ok = sum(bool(r["correct"]) for r in sub)
                tok = sum(r["tokens"] for r in sub) / len(sub)
                what = label + (" (the first 50)" if len(sub) < len(rows) else "")
                print(f"| {s} | {what} | {len(sub)} | {ok} | {100 * ok / len(sub):.1f}% | {tok:.0f} |")
        ids = None
        for bon in (f"bon_{s}", f"bon256_{s}"):
            head, rows = lines(f"{D}/{bon}.jsonl")
            if rows:
                ids = ids if ids is not None else [r["id"] for r in rows]
                n_run = head["sys2_run"]["params"].get("n") if head else "?"
                print(f"| {s} | *one best-of-{n_run} run, pass@k estimated from its samples:* | | | | |")
                per = []
                for r in rows:
                    ok = r["samples"]["correct"]  # one entry per sampled answer
                    per.append((len(ok), sum(ok), r["tokens"]))
                n_max = min(n for n, _, _ in per)
                for k in (1, 2, 4, 8, 16, 32, 64, 128, 256):
                    if k > n_max:
                        break
                    rate = sum(pass_at_k(n, c, k) for n, c, _ in per) / len(per)
                    tok = sum(t * k / n for n, _, t in per) / len(per)  # tokens scale with the samples drawn
                    print(f"| {s} | best-of-{k}, verifier as filter (pass@{k}) | {len(per)} | {rate * len(per):.1f} | "
                          f"{100 * rate:.1f}% | {tok:.0f} |")
        _, allrows = lines(f"{D}/sympy_{s}.jsonl")
        subsets = [("the same items as best-of-N", [r for r in allrows if ids is None or r["id"] in ids])]
        if ids is not None and len(allrows) > len(ids):
            subsets.append(("all it ran", allrows))
        for what, rows in subsets:
            if not rows:
                continue
            ok = sum(r["status"] == "solved" for r in rows)
            cpu = sum(min(r["cpu_s"], 5.0) for r in rows) / len(rows)
            st = {}
            for r in rows:
                st[r["status"]] = st.get(r["status"], 0) + 1
            detail = ", ".join(f"{v} {k}" for k, v in sorted(st.items()))
            print(f"| {s} | SymPy integrate, 5 s CPU per item ({what}: {detail}) | {len(rows)} | {ok} | "
                  f"{100 * ok / len(rows):.1f}% | ({cpu:.2f} CPU s / item) |")


if __name__ == "__main__":
    main()
