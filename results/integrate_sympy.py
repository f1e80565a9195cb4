#!/usr/bin/env python3
"""integrate_sympy.py: SymPy's integrate() on the integrate task's items, the baseline of results/integrate.md.

Reads the items as `sys2 task integrate --split S --show N --json` prints them (one JSON object per line on
stdin), runs sympy.integrate(f, x) on each with a limit of LIMIT seconds of CPU time (SIGVTALRM: the machine is
shared, so wall time would measure the other jobs), and checks each answer independently of sys2: d/dx F - f
evaluated with 30 digits at 24 fixed points of [-3, 3] must vanish (|d| <= 1e-12 * (1 + |f|)) at every point where
f is real and finite, with at least 8 such points (half of them in [-1, 1]; fewer: unchecked). An answer that still holds an unevaluated Integral is unsolved.
Writes one JSON line per item on stdout (id, status: solved / unsolved / timeout / wrong / unchecked / error, cpu_s, answer)
and a summary line on stderr. Usage:
    build/sys2 task integrate --split test-bwd --show 500 --json | python3 results/integrate_sympy.py > OUT.jsonl
"""
import json
import random
import signal
import sys
import time

import sympy

LIMIT = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
x = sympy.Symbol("x")


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


signal.signal(signal.SIGVTALRM, on_alarm)


def with_limit(fn, seconds):
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)


def check(f, F):
    d = sympy.diff(F, x)
    rng = random.Random(1)
    valid = 0
    for k in range(24):
        p = sympy.Float(rng.uniform(-1, 1) if k % 2 == 0 else rng.uniform(-3, 3), 30)
        fv = complex(f.subs(x, p).evalf(30))
        if fv.imag != 0 or fv.real != fv.real or abs(fv.real) == float("inf"):
            continue
        dv = complex(d.subs(x, p).evalf(30))
        if dv != dv or abs(dv) == float("inf"):
            continue
        if abs(dv - fv) > 1e-12 * (1 + abs(fv)):
            return "wrong"
        valid += 1
    return "solved" if valid >= 8 else "unchecked"


def main():
    n = solved = 0
    cpu_total = 0.0
    counts = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        item = json.loads(line)
        n += 1
        f = sympy.sympify(item["id"], locals={"x": x})
        t0 = time.process_time()
        status, answer = "unsolved", None
        try:
            F = with_limit(lambda: sympy.integrate(f, x), LIMIT)
            if F.has(sympy.Integral):
                status = "unsolved"
            else:
                answer = str(F)
                status = "checking"
        except Timeout:
            status = "timeout"
        except Exception as e:  # SymPy raises many kinds on hard inputs: count them, do not stop
            status, answer = "error", type(e).__name__
        cpu = time.process_time() - t0
        cpu_total += min(cpu, LIMIT)
        if status == "checking":
            try:
                status = with_limit(lambda: check(f, F), 30.0)
            except Timeout:
                status = "unchecked"
            except Exception as e:
                status = "unchecked"
        counts[status] = counts.get(status, 0) + 1
        solved += status == "solved"
        print(json.dumps({"id": item["id"], "status": status, "cpu_s": round(cpu, 3), "answer": answer}), flush=True)
        if sys.stderr.isatty():
            print(f"\r{n} items, {solved} solved", end="", file=sys.stderr)
    print(json.dumps({"summary": True, "n": n, "solved": solved, "rate": solved / max(n, 1), "limit_cpu_s": LIMIT,
                      "mean_cpu_s": cpu_total / max(n, 1), "counts": counts}), file=sys.stderr)


if __name__ == "__main__":
    main()
