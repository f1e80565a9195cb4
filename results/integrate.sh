#!/bin/sh
# The integrate experiment (issue 17): the shipped integrate policy on both test sets, beside SymPy. Run from the
# repository root after `make`; each `sys2 run` resumes (items already in its file are skipped).
#   sh results/integrate.sh        LIMIT (default 50): the first LIMIT items of each test set for sc, best-of-N and
#                                  SymPy (greedy runs on all 500); N (default 64): best-of-N's samples per item,
#                                  then a second best-of-N256 run (default 256, seed 2; N256=0 skips it) for the
#                                  pass@k curve up to 256.
# The SymPy runs of results/integrate/ went over the first 100 (test-bwd) and 50 (test-fwd) items; the table
# compares on the items best-of-N ran on.
# Writes results/integrate/*.jsonl and results/integrate.md (the table, by results/integrate_table.py).
set -e
S2=${S2:-./build/sys2}
M=models/integrate-policy.gguf
D=results/integrate
L=${LIMIT:-50}
N=${N:-64}
N256=${N256:-256}
mkdir -p $D
for s in test-bwd test-fwd; do
  $S2 run --task integrate --split $s --search io -m $M --seed 1 -q --out $D/io_$s.jsonl
  $S2 run --task integrate --split $s --search sc --param n=16 -m $M --seed 1 --limit $L -q --out $D/sc_$s.jsonl
  $S2 run --task integrate --split $s --search bon --param n=$N --scorer verify -m $M --seed 1 --limit $L \
    -q --out $D/bon_$s.jsonl
  [ "$N256" = 0 ] || $S2 run --task integrate --split $s --search bon --param n=$N256 --scorer verify -m $M \
    --seed 2 --limit $L -q --out $D/bon256_$s.jsonl
  # SymPy does not depend on the model: its file is kept when it already covers the first L items
  if [ ! -s $D/sympy_$s.jsonl ] || [ "$(wc -l < $D/sympy_$s.jsonl)" -lt "$L" ]; then
    $S2 task integrate --split $s --show $L --json | python3 results/integrate_sympy.py 5 > $D/sympy_$s.jsonl \
      2> $D/sympy_$s.summary.json
  fi
done
python3 results/integrate_table.py $D > results/integrate.md
