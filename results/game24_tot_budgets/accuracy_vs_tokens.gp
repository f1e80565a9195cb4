set terminal pngcairo size 900,600 noenhanced
set output 'results/game24_tot_budgets/accuracy_vs_tokens.png'
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), 95% Wilson interval'
set yrange [0:100]
set key outside right
set grid
plot 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 1:2:3:4 with yerrorlines title 'tot-bfs [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 1:2:3:4 with yerrorlines title 'mcts iters=128 [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 1:2:3:4 with yerrorlines title 'sc [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 1:2:3:4 with yerrorlines title 'beam [value]'
set terminal svg size 900,600 noenhanced
set output 'results/game24_tot_budgets/accuracy_vs_tokens.svg'
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), 95% Wilson interval'
set yrange [0:100]
set key outside right
set grid
plot 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 1:2:3:4 with yerrorlines title 'tot-bfs [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 1:2:3:4 with yerrorlines title 'mcts iters=128 [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 1:2:3:4 with yerrorlines title 'sc [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 1:2:3:4 with yerrorlines title 'beam [value]'
