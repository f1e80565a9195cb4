#!/bin/sh
# Issue 15's compute-optimal experiment (Snell et al. 2024's question at our scale): accuracy against tokens per
# item for best-of-N (both selections), beam, DVTS, particle filtering, MCTS (both roots), tot-bfs and REBASE,
# every point run at its budget, on game24 (ToT's test puzzles, the shipped policy and value model, value scorer)
# and countdown (4 numbers, its policy, log-prob scorer: there is no countdown value model). Every strategy runs
# with its registry defaults (the papers'); nothing was tuned, on the test items or elsewhere. Run from the
# repository root after `make`:
#   sh results/compute_optimal.sh
# (resumable: a point's finished items are kept). Writes results/compute_optimal_<task>/ and
# results/compute_optimal_<task>.md with a plot.
set -e
S2=${S2:-./build/sys2}
ALL="bon,bon:select=weighted,beam,dvts,particle,mcts:iters=1000,mcts:root=gumbel:iters=1000,tot-bfs,rebase"
# What results/compute_optimal_*.md hold: the budgets up to 4,000 on the first 20 items of each task, 8,000 and
# 16,000 on the first 10 (two cores shared with a training run could not give 20 items the 16k points in a
# session). PHASES="A" or "B" runs one of the two; LIMIT_A / LIMIT_B change the item counts.
PHASES=${PHASES:-A B}
for ph in $PHASES; do
  if [ "$ph" = A ]; then LIMIT=${LIMIT_A:-20}; BUDGETS=tokens=250,tokens=500,tokens=1000,tokens=2000,tokens=4000
  else LIMIT=${LIMIT_B:-10}; BUDGETS=tokens=8000,tokens=16000; fi
  $S2 sweep --task game24 --split tot --limit $LIMIT -m models/game24-policy.gguf \
    --value models/game24-value.gguf --searches $ALL --scorers value --budgets $BUDGETS --seed 1 --threads 1 -q \
    --dir results/compute_optimal_game24 > /dev/null
  $S2 sweep --task countdown --limit $LIMIT -m models/countdown-policy.gguf --searches $ALL \
    --scorers logprob --budgets $BUDGETS --seed 1 --threads 1 -q --dir results/compute_optimal_countdown > /dev/null
done
for t in game24 countdown; do
  $S2 report --md results/compute_optimal_$t/*.jsonl --plot results/compute_optimal_$t/accuracy_vs_tokens \
    > results/compute_optimal_$t.md
done
