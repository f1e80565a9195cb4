set terminal pngcairo size 900,600 noenhanced
set output 'results/compute_optimal_game24/accuracy_vs_tokens.png'
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), 95% Wilson interval'
set yrange [0:100]
set key outside right
set grid
plot 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 0 using 1:2:3:4 with yerrorlines title 'bon [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 1 using 1:2:3:4 with yerrorlines title 'bon select=weighted [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 2 using 1:2:3:4 with yerrorlines title 'beam [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 3 using 1:2:3:4 with yerrorlines title 'dvts [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 4 using 1:2:3:4 with yerrorlines title 'particle [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 5 using 1:2:3:4 with yerrorlines title 'mcts iters=1000 [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 6 using 1:2:3:4 with yerrorlines title 'mcts iters=1000 root=gumbel [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 7 using 1:2:3:4 with yerrorlines title 'tot-bfs [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 8 using 1:2:3:4 with yerrorlines title 'rebase [value]'
set terminal svg size 900,600 noenhanced
set output 'results/compute_optimal_game24/accuracy_vs_tokens.svg'
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), 95% Wilson interval'
set yrange [0:100]
set key outside right
set grid
plot 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 0 using 1:2:3:4 with yerrorlines title 'bon [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 1 using 1:2:3:4 with yerrorlines title 'bon select=weighted [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 2 using 1:2:3:4 with yerrorlines title 'beam [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 3 using 1:2:3:4 with yerrorlines title 'dvts [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 4 using 1:2:3:4 with yerrorlines title 'particle [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 5 using 1:2:3:4 with yerrorlines title 'mcts iters=1000 [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 6 using 1:2:3:4 with yerrorlines title 'mcts iters=1000 root=gumbel [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 7 using 1:2:3:4 with yerrorlines title 'tot-bfs [value]', 'results/compute_optimal_game24/accuracy_vs_tokens.dat' index 8 using 1:2:3:4 with yerrorlines title 'rebase [value]'
