set terminal pngcairo size 1100,620 noenhanced font 'sans,11'
set output 'results/game24_tot/accuracy_vs_tokens.png'
set title 'game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), error bars: 95% Wilson interval'
set yrange [0:95.0404]
plot 'results/game24_tot/accuracy_vs_tokens.dat' index 0 using 1:3:4:5 with yerrorlines lw 2 pt 5 ps 1.3 lc rgb '#0072B2' title 'beam [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 1 using 1:3:4:5 with yerrorlines lw 2 pt 7 ps 1.3 lc rgb '#D55E00' title 'best-first [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 2 using 1:3:4:5 with yerrorlines lw 2 pt 9 ps 1.3 lc rgb '#009E73' title 'bon n=10 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 3 using 1:3:4:5 with yerrorlines lw 2 pt 11 ps 1.3 lc rgb '#CC79A7' title 'cot [-]', 'results/game24_tot/accuracy_vs_tokens.dat' index 4 using 1:3:4:5 with yerrorlines lw 2 pt 13 ps 1.3 lc rgb '#E69F00' title 'io [-]', 'results/game24_tot/accuracy_vs_tokens.dat' index 5 using 1:3:4:5 with yerrorlines lw 2 pt 15 ps 1.3 lc rgb '#56B4E9' title 'mcts iters=128 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 6 using 1:3:4:5 with yerrorlines lw 2 pt 4 ps 1.3 lc rgb '#000000' title 'mcts [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 7 using 1:3:4:5 with yerrorlines lw 2 pt 6 ps 1.3 lc rgb '#0072B2' title 'sc [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 8 using 1:3:4:5 with yerrorlines lw 2 pt 8 ps 1.3 lc rgb '#D55E00' title 'sc n=10 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 9 using 1:3:4:5 with yerrorlines lw 2 pt 10 ps 1.3 lc rgb '#009E73' title 'tot-bfs b=1 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 10 using 1:3:4:5 with yerrorlines lw 2 pt 12 ps 1.3 lc rgb '#CC79A7' title 'tot-bfs [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 11 using 1:3:4:5 with yerrorlines lw 2 pt 14 ps 1.3 lc rgb '#E69F00' title 'tot-bfs k=8 [value]'
unset logscale x
unset format x
set terminal svg size 1100,620 noenhanced font 'sans,11'
set output 'results/game24_tot/accuracy_vs_tokens.svg'
set title 'game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), error bars: 95% Wilson interval'
set yrange [0:95.0404]
plot 'results/game24_tot/accuracy_vs_tokens.dat' index 0 using 1:3:4:5 with yerrorlines lw 2 pt 5 ps 1.3 lc rgb '#0072B2' title 'beam [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 1 using 1:3:4:5 with yerrorlines lw 2 pt 7 ps 1.3 lc rgb '#D55E00' title 'best-first [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 2 using 1:3:4:5 with yerrorlines lw 2 pt 9 ps 1.3 lc rgb '#009E73' title 'bon n=10 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 3 using 1:3:4:5 with yerrorlines lw 2 pt 11 ps 1.3 lc rgb '#CC79A7' title 'cot [-]', 'results/game24_tot/accuracy_vs_tokens.dat' index 4 using 1:3:4:5 with yerrorlines lw 2 pt 13 ps 1.3 lc rgb '#E69F00' title 'io [-]', 'results/game24_tot/accuracy_vs_tokens.dat' index 5 using 1:3:4:5 with yerrorlines lw 2 pt 15 ps 1.3 lc rgb '#56B4E9' title 'mcts iters=128 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 6 using 1:3:4:5 with yerrorlines lw 2 pt 4 ps 1.3 lc rgb '#000000' title 'mcts [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 7 using 1:3:4:5 with yerrorlines lw 2 pt 6 ps 1.3 lc rgb '#0072B2' title 'sc [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 8 using 1:3:4:5 with yerrorlines lw 2 pt 8 ps 1.3 lc rgb '#D55E00' title 'sc n=10 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 9 using 1:3:4:5 with yerrorlines lw 2 pt 10 ps 1.3 lc rgb '#009E73' title 'tot-bfs b=1 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 10 using 1:3:4:5 with yerrorlines lw 2 pt 12 ps 1.3 lc rgb '#CC79A7' title 'tot-bfs [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 11 using 1:3:4:5 with yerrorlines lw 2 pt 14 ps 1.3 lc rgb '#E69F00' title 'tot-bfs k=8 [value]'
unset logscale x
unset format x
set terminal pngcairo size 1100,620 noenhanced font 'sans,11'
set output 'results/game24_tot/accuracy_vs_tokens_flops.png'
set title 'game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean FLOPs per item (log scale)'
set ylabel 'accuracy (%), error bars: 95% Wilson interval'
set format x '%.0e'
set yrange [0:95.0404]
plot 'results/game24_tot/accuracy_vs_tokens.dat' index 0 using 2:3:4:5 with yerrorlines lw 2 pt 5 ps 1.3 lc rgb '#0072B2' title 'beam [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 1 using 2:3:4:5 with yerrorlines lw 2 pt 7 ps 1.3 lc rgb '#D55E00' title 'best-first [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 2 using 2:3:4:5 with yerrorlines lw 2 pt 9 ps 1.3 lc rgb '#009E73' title 'bon n=10 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 3 using 2:3:4:5 with yerrorlines lw 2 pt 11 ps 1.3 lc rgb '#CC79A7' title 'cot [-]', 'results/game24_tot/accuracy_vs_tokens.dat' index 4 using 2:3:4:5 with yerrorlines lw 2 pt 13 ps 1.3 lc rgb '#E69F00' title 'io [-]', 'results/game24_tot/accuracy_vs_tokens.dat' index 5 using 2:3:4:5 with yerrorlines lw 2 pt 15 ps 1.3 lc rgb '#56B4E9' title 'mcts iters=128 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 6 using 2:3:4:5 with yerrorlines lw 2 pt 4 ps 1.3 lc rgb '#000000' title 'mcts [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 7 using 2:3:4:5 with yerrorlines lw 2 pt 6 ps 1.3 lc rgb '#0072B2' title 'sc [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 8 using 2:3:4:5 with yerrorlines lw 2 pt 8 ps 1.3 lc rgb '#D55E00' title 'sc n=10 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 9 using 2:3:4:5 with yerrorlines lw 2 pt 10 ps 1.3 lc rgb '#009E73' title 'tot-bfs b=1 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 10 using 2:3:4:5 with yerrorlines lw 2 pt 12 ps 1.3 lc rgb '#CC79A7' title 'tot-bfs [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 11 using 2:3:4:5 with yerrorlines lw 2 pt 14 ps 1.3 lc rgb '#E69F00' title 'tot-bfs k=8 [value]'
unset logscale x
unset format x
set terminal svg size 1100,620 noenhanced font 'sans,11'
set output 'results/game24_tot/accuracy_vs_tokens_flops.svg'
set title 'game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean FLOPs per item (log scale)'
set ylabel 'accuracy (%), error bars: 95% Wilson interval'
set format x '%.0e'
set yrange [0:95.0404]
plot 'results/game24_tot/accuracy_vs_tokens.dat' index 0 using 2:3:4:5 with yerrorlines lw 2 pt 5 ps 1.3 lc rgb '#0072B2' title 'beam [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 1 using 2:3:4:5 with yerrorlines lw 2 pt 7 ps 1.3 lc rgb '#D55E00' title 'best-first [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 2 using 2:3:4:5 with yerrorlines lw 2 pt 9 ps 1.3 lc rgb '#009E73' title 'bon n=10 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 3 using 2:3:4:5 with yerrorlines lw 2 pt 11 ps 1.3 lc rgb '#CC79A7' title 'cot [-]', 'results/game24_tot/accuracy_vs_tokens.dat' index 4 using 2:3:4:5 with yerrorlines lw 2 pt 13 ps 1.3 lc rgb '#E69F00' title 'io [-]', 'results/game24_tot/accuracy_vs_tokens.dat' index 5 using 2:3:4:5 with yerrorlines lw 2 pt 15 ps 1.3 lc rgb '#56B4E9' title 'mcts iters=128 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 6 using 2:3:4:5 with yerrorlines lw 2 pt 4 ps 1.3 lc rgb '#000000' title 'mcts [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 7 using 2:3:4:5 with yerrorlines lw 2 pt 6 ps 1.3 lc rgb '#0072B2' title 'sc [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 8 using 2:3:4:5 with yerrorlines lw 2 pt 8 ps 1.3 lc rgb '#D55E00' title 'sc n=10 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 9 using 2:3:4:5 with yerrorlines lw 2 pt 10 ps 1.3 lc rgb '#009E73' title 'tot-bfs b=1 [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 10 using 2:3:4:5 with yerrorlines lw 2 pt 12 ps 1.3 lc rgb '#CC79A7' title 'tot-bfs [value]', 'results/game24_tot/accuracy_vs_tokens.dat' index 11 using 2:3:4:5 with yerrorlines lw 2 pt 14 ps 1.3 lc rgb '#E69F00' title 'tot-bfs k=8 [value]'
unset logscale x
unset format x
