set terminal pngcairo size 900,600 noenhanced
set output 'results/listprog/accuracy_vs_tokens.png'
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), 95% Wilson interval'
set yrange [0:100]
set key outside right
set grid
plot 'results/listprog/accuracy_vs_tokens.dat' index 0 using 1:2:3:4 with yerrorlines title 'io [-]', 'results/listprog/accuracy_vs_tokens.dat' index 1 using 1:2:3:4 with yerrorlines title 'cot [-]', 'results/listprog/accuracy_vs_tokens.dat' index 2 using 1:2:3:4 with yerrorlines title 'sc n=10 [logprob]', 'results/listprog/accuracy_vs_tokens.dat' index 3 using 1:2:3:4 with yerrorlines title 'beam [logprob]', 'results/listprog/accuracy_vs_tokens.dat' index 4 using 1:2:3:4 with yerrorlines title 'tot-bfs [logprob]', 'results/listprog/accuracy_vs_tokens.dat' index 5 using 1:2:3:4 with yerrorlines title 'mcts [logprob]'
set terminal svg size 900,600 noenhanced
set output 'results/listprog/accuracy_vs_tokens.svg'
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), 95% Wilson interval'
set yrange [0:100]
set key outside right
set grid
plot 'results/listprog/accuracy_vs_tokens.dat' index 0 using 1:2:3:4 with yerrorlines title 'io [-]', 'results/listprog/accuracy_vs_tokens.dat' index 1 using 1:2:3:4 with yerrorlines title 'cot [-]', 'results/listprog/accuracy_vs_tokens.dat' index 2 using 1:2:3:4 with yerrorlines title 'sc n=10 [logprob]', 'results/listprog/accuracy_vs_tokens.dat' index 3 using 1:2:3:4 with yerrorlines title 'beam [logprob]', 'results/listprog/accuracy_vs_tokens.dat' index 4 using 1:2:3:4 with yerrorlines title 'tot-bfs [logprob]', 'results/listprog/accuracy_vs_tokens.dat' index 5 using 1:2:3:4 with yerrorlines title 'mcts [logprob]'
