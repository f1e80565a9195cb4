set terminal pngcairo size 900,600 noenhanced
set output 'results/game24_heldout/accuracy_vs_tokens.png'
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), 95% Wilson interval'
set yrange [0:100]
set key outside right
set grid
plot 'results/game24_heldout/accuracy_vs_tokens.dat' index 0 using 1:2:3:4 with yerrorlines title 'io [-]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 1 using 1:2:3:4 with yerrorlines title 'cot [-]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 2 using 1:2:3:4 with yerrorlines title 'sc n=10 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 3 using 1:2:3:4 with yerrorlines title 'sc [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 4 using 1:2:3:4 with yerrorlines title 'bon n=10 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 5 using 1:2:3:4 with yerrorlines title 'beam [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 6 using 1:2:3:4 with yerrorlines title 'tot-bfs b=1 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 7 using 1:2:3:4 with yerrorlines title 'tot-bfs [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 8 using 1:2:3:4 with yerrorlines title 'tot-bfs k=8 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 9 using 1:2:3:4 with yerrorlines title 'mcts [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 10 using 1:2:3:4 with yerrorlines title 'mcts iters=128 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 11 using 1:2:3:4 with yerrorlines title 'best-first [value]'
set terminal svg size 900,600 noenhanced
set output 'results/game24_heldout/accuracy_vs_tokens.svg'
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), 95% Wilson interval'
set yrange [0:100]
set key outside right
set grid
plot 'results/game24_heldout/accuracy_vs_tokens.dat' index 0 using 1:2:3:4 with yerrorlines title 'io [-]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 1 using 1:2:3:4 with yerrorlines title 'cot [-]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 2 using 1:2:3:4 with yerrorlines title 'sc n=10 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 3 using 1:2:3:4 with yerrorlines title 'sc [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 4 using 1:2:3:4 with yerrorlines title 'bon n=10 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 5 using 1:2:3:4 with yerrorlines title 'beam [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 6 using 1:2:3:4 with yerrorlines title 'tot-bfs b=1 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 7 using 1:2:3:4 with yerrorlines title 'tot-bfs [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 8 using 1:2:3:4 with yerrorlines title 'tot-bfs k=8 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 9 using 1:2:3:4 with yerrorlines title 'mcts [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 10 using 1:2:3:4 with yerrorlines title 'mcts iters=128 [value]', 'results/game24_heldout/accuracy_vs_tokens.dat' index 11 using 1:2:3:4 with yerrorlines title 'best-first [value]'
