#!/bin/sh
# Issue 15's compute-optimal experiment (Snell et al. 2024's question at our scale): accuracy against tokens per
# item for best-of-N (both selections), beam, DVTS, particle filtering, MCTS (both roots), tot-bfs and REBASE,
# every point run at its budget, on game24 (ToT's test puzzles, the shipped policy and value model, value scorer)
# and countdown (4 numbers, its policy, log-prob scorer: there is no countdown value model). Every strategy runs
# with its registry defaults (the papers'); nothing was tuned, on the test items or elsewhere. Run from the
# repository root after `make`:
#   LIMIT=10 BUDGETS=tokens=250,tokens=500,tokens=1000,tokens=2000,tokens=4000 sh results/compute_optimal.sh
# (the full grid is BUDGETS=tokens=250,...,tokens=16000; resumable). Writes results/compute_optimal_<task>/
# and results/compute_optimal_<task>.md with a plot.
set -e
S2=./build/sys2
LIMIT=${LIMIT:-10}
BUDGETS=${BUDGETS:-tokens=250,tokens=500,tokens=1000,tokens=2000,tokens=4000,tokens=8000,tokens=16000}
ALL="bon,bon:select=weighted,beam,dvts,particle,mcts:iters=1000,mcts:root=gumbel:iters=1000,tot-bfs,rebase"
nice -n 10 $S2 sweep --task game24 --split tot --limit $LIMIT -m models/game24-policy.gguf \
  --value models/game24-value.gguf --searches $ALL --scorers value --budgets $BUDGETS --seed 1 --threads 1 -q \
  --dir results/compute_optimal_game24 --md --plot results/compute_optimal_game24/accuracy_vs_tokens \
  > results/compute_optimal_game24.md
nice -n 10 $S2 sweep --task countdown --limit $LIMIT -m models/countdown-policy.gguf --searches $ALL \
  --scorers logprob --budgets $BUDGETS --seed 1 --threads 1 -q --dir results/compute_optimal_countdown --md \
  --plot results/compute_optimal_countdown/accuracy_vs_tokens > results/compute_optimal_countdown.md
