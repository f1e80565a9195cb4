set terminal pngcairo size 1000,600 noenhanced font 'sans,11'
set output 'results/compute_optimal_countdown/combined.png'
set title 'countdown: accuracy against tokens per item, each strategy at its budget (40 items)'
set grid
set key outside right top
set logscale x
set yrange [0:100]
set xlabel 'mean tokens per item (log scale); budgets 250 to 16,000'
set ylabel 'accuracy (%)'
plot 'results/compute_optimal_countdown/combined.dat' index 0 using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#0072B2' title 'bon', 'results/compute_optimal_countdown/combined.dat' index 1 using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#D55E00' title 'bon weighted', 'results/compute_optimal_countdown/combined.dat' index 2 using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#009E73' title 'beam', 'results/compute_optimal_countdown/combined.dat' index 3 using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#CC79A7' title 'dvts', 'results/compute_optimal_countdown/combined.dat' index 4 using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#E69F00' title 'particle', 'results/compute_optimal_countdown/combined.dat' index 5 using 1:2 with linespoints lw 2 pt 15 ps 1.2 lc rgb '#56B4E9' title 'mcts', 'results/compute_optimal_countdown/combined.dat' index 6 using 1:2 with linespoints lw 2 pt 17 ps 1.2 lc rgb '#000000' title 'mcts gumbel', 'results/compute_optimal_countdown/combined.dat' index 7 using 1:2 with linespoints lw 2 pt 19 ps 1.2 lc rgb '#F0E442' title 'tot-bfs', 'results/compute_optimal_countdown/combined.dat' index 8 using 1:2 with linespoints lw 2 pt 21 ps 1.2 lc rgb '#999999' title 'rebase'
set terminal svg size 1000,600 noenhanced font 'sans,11'
set output 'results/compute_optimal_countdown/combined.svg'
set title 'countdown: accuracy against tokens per item, each strategy at its budget (40 items)'
set grid
set key outside right top
set logscale x
set yrange [0:100]
set xlabel 'mean tokens per item (log scale); budgets 250 to 16,000'
set ylabel 'accuracy (%)'
plot 'results/compute_optimal_countdown/combined.dat' index 0 using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#0072B2' title 'bon', 'results/compute_optimal_countdown/combined.dat' index 1 using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#D55E00' title 'bon weighted', 'results/compute_optimal_countdown/combined.dat' index 2 using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#009E73' title 'beam', 'results/compute_optimal_countdown/combined.dat' index 3 using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#CC79A7' title 'dvts', 'results/compute_optimal_countdown/combined.dat' index 4 using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#E69F00' title 'particle', 'results/compute_optimal_countdown/combined.dat' index 5 using 1:2 with linespoints lw 2 pt 15 ps 1.2 lc rgb '#56B4E9' title 'mcts', 'results/compute_optimal_countdown/combined.dat' index 6 using 1:2 with linespoints lw 2 pt 17 ps 1.2 lc rgb '#000000' title 'mcts gumbel', 'results/compute_optimal_countdown/combined.dat' index 7 using 1:2 with linespoints lw 2 pt 19 ps 1.2 lc rgb '#F0E442' title 'tot-bfs', 'results/compute_optimal_countdown/combined.dat' index 8 using 1:2 with linespoints lw 2 pt 21 ps 1.2 lc rgb '#999999' title 'rebase'
