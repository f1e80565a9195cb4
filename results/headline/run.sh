#!/bin/sh
# The headline experiments of issue 6, once the trained models exist. Run from the repository root:
#   sh results/headline/run.sh [POLICY.gguf] [VALUE.gguf]
# Every run is resumable (the same command again skips finished items) and writes one JSONL file per cell into
# results/headline/<task>/, then a Markdown table and a plot of accuracy against tokens beside it.
# LIMIT=N (default: all items) and THREADS=N (default 2) are read from the environment.
set -e
POLICY=${1:-models/game24-policy.gguf}
VALUE=${2:-models/game24-value.gguf}
THREADS=${THREADS:-2}
LIM=${LIMIT:+--limit $LIMIT}
S2=./build/sys2
common="-m $POLICY --value $VALUE --threads $THREADS --seed 1 $LIM -q"

# Game of 24, ToT's 100 test puzzles (ranks 901-1000 of 24.csv) and the generated held-out split:
# ToT's table (IO, CoT, CoT-SC k=100, ToT b=1, ToT b=5) plus bon, beam and mcts, at matched token budgets.
for split in tot heldout; do
  d=results/headline/game24_$split
  $S2 sweep --task game24 --split $split $common --dir $d \
    --searches io,cot,sc:n=100,bon:n=100,beam,tot-bfs:b=1,tot-bfs:b=5,mcts:iters=32,mcts:iters=128 \
    --scorers value --budgets none,tokens=2000,tokens=8000 --md --plot $d/accuracy_vs_tokens > $d.md
done

# Countdown and listprog: the same grid, with their own policy and value models when given (COUNTDOWN_POLICY ...).
for task in countdown listprog; do
  eval P=\${$(echo $task | tr a-z A-Z)_POLICY:-models/$task-policy.gguf}
  eval V=\${$(echo $task | tr a-z A-Z)_VALUE:-models/$task-value.gguf}
  [ -f "$P" ] || { echo "skip $task: no $P" >&2; continue; }
  d=results/headline/$task
  $S2 sweep --task $task -m $P --value $V --threads $THREADS --seed 1 $LIM -q --dir $d \
    --searches io,cot,sc:n=32,bon:n=32,beam,tot-bfs:b=5,mcts \
    --scorers value --budgets none,tokens=4000 --md --plot $d/accuracy_vs_tokens > $d.md
done
