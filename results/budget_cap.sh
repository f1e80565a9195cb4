#!/bin/sh
# Issue 15's budget check: every strategy at budgets of 500, 1,000 and 2,000 tokens per item on 20 of ToT's game24
# puzzles (the shipped policy and value model, value scorer). Run from the repository root after `make`:
#   sh results/budget_cap.sh     # resumable; writes results/budget_cap/ and results/budget_cap.md
# The table has each cell's accuracy and mean tokens (sys2 report), then the mean / budget and max / budget ratios
# per cell (the bounds: mean <= 1.05 x the budget, no item above 1.25 x).
set -e
S2=./build/sys2
P=models/game24-policy.gguf
V=models/game24-value.gguf
D=results/budget_cap
ALL="io,cot,sc:n=100,bon,bon:select=weighted,beam,tot-bfs,tot-dfs,mcts,mcts:root=gumbel:iters=128,best-first,dvts,particle,rebase"
nice -n 10 $S2 sweep --task game24 --split tot --limit 20 -m $P --value $V --searches $ALL --scorers value \
  --budgets tokens=500,tokens=1000,tokens=2000 --seed 1 --threads ${THREADS:-1} -q --dir $D --md > $D.md
{
  echo
  echo "| file | items | budget | mean / budget | max / budget |"
  echo "|---|---:|---:|---:|---:|"
  for f in $D/*.jsonl; do
    jq -rs --arg f "$(basename $f .jsonl)" '(.[0].sys2_run.budget | sub("tokens="; "") | tonumber) as $b
      | .[1:] | "| \($f) | \(length) | \($b) | \((map(.tokens) | add / length / $b * 1000 | round / 1000)) | \((map(.tokens) | max / $b * 1000 | round / 1000)) |"' $f
  done
} >> $D.md
