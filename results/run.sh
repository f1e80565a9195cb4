#!/bin/sh
# The headline experiments (issue 6), with the shipped models. Run from the repository root after `make`:
#   sh results/run.sh            # every experiment below; each is resumable (the same command skips finished items)
# Each experiment is one `sys2 sweep` into results/<name>/ (one JSONL file per cell, first line = the full
# configuration with the models' hashes), then a Markdown table (results/<name>.md) and a plot of accuracy against
# tokens per item (results/<name>/accuracy_vs_tokens.png/.svg). THREADS (default 2) items run in parallel.
set -e
S2=./build/sys2
T=${THREADS:-2}
P=models/game24-policy.gguf
V=models/game24-value.gguf
G24="io,cot,sc:n=10,sc:n=100,bon:n=10,beam,tot-bfs:b=1,tot-bfs:b=5,tot-bfs:b=5:k=8,mcts:iters=32,mcts:iters=128,best-first"

# 0. Choosing tot-bfs's k (thoughts per state) on the dev split: the 136 held-out puzzles that are not ToT's 100
#    (never trained on, never the test set). k = 16 became the default from this table.
$S2 sweep --task game24 --split dev -m $P --value $V \
  --searches tot-bfs:k=8,tot-bfs:k=12,tot-bfs:k=16,tot-bfs:k=24,tot-bfs:k=8:retries=2,tot-bfs:k=16:retries=1 \
  --scorers value --seed 1 --threads $T -q --dir results/game24_dev --md > results/game24_dev.md
# 1. Game of 24, ToT's 100 test puzzles (ranks 901-1000), every strategy, the value model as scorer.
$S2 sweep --task game24 --split tot -m $P --value $V --searches $G24 --scorers value --seed 1 --threads $T -q \
  --dir results/game24_tot --md --plot results/game24_tot/accuracy_vs_tokens > results/game24_tot.md
# 2. The same on the generated held-out split (ToT's 100 and the 136 puzzles whose id hashes to 0 mod 10).
$S2 sweep --task game24 --split heldout -m $P --value $V --searches $G24 --scorers value --seed 1 --threads $T -q \
  --dir results/game24_heldout --md --plot results/game24_heldout/accuracy_vs_tokens > results/game24_heldout.md
# 3. Matched compute: tot-bfs, mcts and self-consistency under token budgets per puzzle.
$S2 sweep --task game24 --split tot -m $P --value $V --searches tot-bfs:b=5,mcts:iters=128,sc:n=100,beam \
  --scorers value --budgets tokens=500,tokens=1000,tokens=2000 --seed 1 --threads $T -q \
  --dir results/game24_tot_budgets --md --plot results/game24_tot_budgets/accuracy_vs_tokens > results/game24_tot_budgets.md
# 4. Ablations: without the rules check (legal=0), the policy's own log-probs as scorer, and the exact oracle
#    as scorer (an upper bound, never a default).
$S2 sweep --task game24 --split tot -m $P --value $V --searches tot-bfs:b=5,sc:n=100,mcts:iters=128 --scorers value \
  --param legal=0 --seed 1 --threads $T -q --dir results/game24_tot_nolegal --md > results/game24_tot_nolegal.md
$S2 sweep --task game24 --split tot -m $P --searches tot-bfs:b=5,beam,mcts:iters=128 --scorers logprob,oracle \
  --seed 1 --threads $T -q --dir results/game24_tot_scorers --md > results/game24_tot_scorers.md
# 5. Countdown (4 numbers) and listprog: their held-out test items, with their own policies (no value models:
#    the policy's log-probs score).
for task in countdown listprog; do
  $S2 sweep --task $task -m models/$task-policy.gguf --searches io,cot,sc:n=10,beam,tot-bfs:b=5,mcts:iters=32 \
    --scorers logprob --seed 1 --threads $T -q --dir results/$task --md \
    --plot results/$task/accuracy_vs_tokens > results/$task.md
done
