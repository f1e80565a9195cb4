#!/bin/sh
# Issue 15's compute-optimal experiment (Snell et al. 2024's question at our scale): accuracy against tokens per
# item for best-of-N (both selections), beam, DVTS, particle filtering, MCTS (both roots), tot-bfs and REBASE,
# every point run at its budget, on game24 (split "ranked": the 236 rows of ToT's 24.csv whose multiset no model
# of ours was trained on, at every human-difficulty rank 1-1356; SHARD=0/12 takes every 12th, 20 puzzles from
# rank 1 to 1293; the shipped policy and value model, value scorer) and countdown (4 numbers, the first LIMIT
# test items, its policy, log-prob scorer: there is no countdown value model). Every strategy runs
# with its registry defaults (the papers'); nothing was tuned, on the test items or elsewhere. Run from the
# repository root after `make`:
#   S2=./build/sys2 SHARD=0/12 LIMIT=40 sh results/compute_optimal.sh
# (the full grid, budgets 250 to 16000 tokens; resumable: the same command goes on where it stopped;
# TASKS=game24 or TASKS=countdown runs one of the two). Writes results/compute_optimal_<task>/
# and results/compute_optimal_<task>.md with a plot.
set -e
S2=${S2:-./build/sys2}
LIMIT=${LIMIT:-40}
SHARD=${SHARD:-0/12}
TASKS=${TASKS:-game24 countdown}
BUDGETS=${BUDGETS:-tokens=250,tokens=500,tokens=1000,tokens=2000,tokens=4000,tokens=8000,tokens=16000}
ALL="bon,bon:select=weighted,beam,dvts,particle,mcts:iters=1000,mcts:root=gumbel:iters=1000,tot-bfs,rebase"
case " $TASKS " in *" game24 "*)
nice -n 10 $S2 sweep --task game24 --split ranked --shard $SHARD -m models/game24-policy.gguf \
  --value models/game24-value.gguf --searches $ALL --scorers value --budgets $BUDGETS --seed 1 --threads 1 -q \
  --dir results/compute_optimal_game24 --md --plot results/compute_optimal_game24/accuracy_vs_tokens \
  > results/compute_optimal_game24.md ;;
esac
case " $TASKS " in *" countdown "*)
nice -n 10 $S2 sweep --task countdown --limit $LIMIT -m models/countdown-policy.gguf --searches $ALL \
  --scorers logprob --budgets $BUDGETS --seed 1 --threads 1 -q --dir results/compute_optimal_countdown --md \
  --plot results/compute_optimal_countdown/accuracy_vs_tokens > results/compute_optimal_countdown.md ;;
esac
