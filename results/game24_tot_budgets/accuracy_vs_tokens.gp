set terminal pngcairo size 1100,620 noenhanced font 'sans,11'
set output 'results/game24_tot_budgets/accuracy_vs_tokens.png'
set title 'game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), error bars: 95% Wilson interval'
set yrange [0:81.0813]
plot 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 1:3:4:5 with yerrorlines lw 2 pt 5 ps 1.3 lc rgb '#0072B2' title 'beam [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 1:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#0072B2' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 1:3:4:5 with yerrorlines lw 2 pt 7 ps 1.3 lc rgb '#D55E00' title 'mcts iters=128 [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 1:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#D55E00' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 1:3:4:5 with yerrorlines lw 2 pt 9 ps 1.3 lc rgb '#009E73' title 'sc [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 1:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#009E73' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 1:3:4:5 with yerrorlines lw 2 pt 11 ps 1.3 lc rgb '#CC79A7' title 'tot-bfs [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 1:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#CC79A7' notitle
unset logscale x
unset format x
set terminal svg size 1100,620 noenhanced font 'sans,11'
set output 'results/game24_tot_budgets/accuracy_vs_tokens.svg'
set title 'game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), error bars: 95% Wilson interval'
set yrange [0:81.0813]
plot 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 1:3:4:5 with yerrorlines lw 2 pt 5 ps 1.3 lc rgb '#0072B2' title 'beam [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 1:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#0072B2' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 1:3:4:5 with yerrorlines lw 2 pt 7 ps 1.3 lc rgb '#D55E00' title 'mcts iters=128 [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 1:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#D55E00' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 1:3:4:5 with yerrorlines lw 2 pt 9 ps 1.3 lc rgb '#009E73' title 'sc [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 1:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#009E73' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 1:3:4:5 with yerrorlines lw 2 pt 11 ps 1.3 lc rgb '#CC79A7' title 'tot-bfs [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 1:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#CC79A7' notitle
unset logscale x
unset format x
set terminal pngcairo size 1100,620 noenhanced font 'sans,11'
set output 'results/game24_tot_budgets/accuracy_vs_tokens_flops.png'
set title 'game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean FLOPs per item (log scale)'
set ylabel 'accuracy (%), error bars: 95% Wilson interval'
set format x '%.0e'
set yrange [0:81.0813]
plot 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 2:3:4:5 with yerrorlines lw 2 pt 5 ps 1.3 lc rgb '#0072B2' title 'beam [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 2:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#0072B2' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 2:3:4:5 with yerrorlines lw 2 pt 7 ps 1.3 lc rgb '#D55E00' title 'mcts iters=128 [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 2:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#D55E00' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 2:3:4:5 with yerrorlines lw 2 pt 9 ps 1.3 lc rgb '#009E73' title 'sc [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 2:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#009E73' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 2:3:4:5 with yerrorlines lw 2 pt 11 ps 1.3 lc rgb '#CC79A7' title 'tot-bfs [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 2:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#CC79A7' notitle
unset logscale x
unset format x
set terminal svg size 1100,620 noenhanced font 'sans,11'
set output 'results/game24_tot_budgets/accuracy_vs_tokens_flops.svg'
set title 'game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean FLOPs per item (log scale)'
set ylabel 'accuracy (%), error bars: 95% Wilson interval'
set format x '%.0e'
set yrange [0:81.0813]
plot 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 2:3:4:5 with yerrorlines lw 2 pt 5 ps 1.3 lc rgb '#0072B2' title 'beam [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 0 using 2:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#0072B2' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 2:3:4:5 with yerrorlines lw 2 pt 7 ps 1.3 lc rgb '#D55E00' title 'mcts iters=128 [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 1 using 2:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#D55E00' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 2:3:4:5 with yerrorlines lw 2 pt 9 ps 1.3 lc rgb '#009E73' title 'sc [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 2 using 2:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#009E73' notitle, 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 2:3:4:5 with yerrorlines lw 2 pt 11 ps 1.3 lc rgb '#CC79A7' title 'tot-bfs [value]', 'results/game24_tot_budgets/accuracy_vs_tokens.dat' index 3 using 2:3:6 with labels offset char 1,0.7 left font ',9' tc rgb '#CC79A7' notitle
unset logscale x
unset format x
