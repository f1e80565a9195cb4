#!/usr/bin/env python3
"""The Markdown table of one `sys2 bench --against --out FILE.json` run (for the README):
   python3 results/speed/table.py results/speed/RUN.json"""
import json
import sys


def fmt(v):
    return f"{v:,.0f}" if v >= 1000 else f"{v:.1f}" if v >= 100 else f"{v:.2f}"


def main(path):
    run = json.load(open(path))
    probe = ", ".join(f"{p['threads']} thread(s) {p['gbps']:.1f} GB/s" for p in run["probe"])
    print(f"{run['cpu']}, {run['cpus']} CPUs, KV cache {run['kv_type']}, medians of {run['repeats']} interleaved "
          f"rounds; probe at the start: {probe}\n")
    print("| cell | sys2 | other | engine | sys2 / other | sys2 % of bound | other % of bound | probe GB/s |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for r in run["rows"]:
        b = "bound_tokens_per_s" in r
        ps = f"{r['sys2_pct_bound']:.0f}%" if b else "-"
        po = f"{r['other_pct_bound']:.0f}%" if b else "-"
        g = f"{r['probe_gbps']:.1f}" if "probe_gbps" in r else "-"
        print(f"| {r['cell']} | {fmt(r['sys2'])} | {fmt(r['other'])} | {r['engine']} | {r['ratio']:.2f} | {ps} | {po} "
              f"| {g} |")


if __name__ == "__main__":
    main(sys.argv[1])
