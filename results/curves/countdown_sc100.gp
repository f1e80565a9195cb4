set terminal pngcairo size 1100,620 noenhanced font 'sans,11'
set output 'results/curves/countdown_sc100.png'
set title 'countdown, n=100, seed 1, policy countdown-policy.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x 2
set xlabel 'samples per item k (log scale)'
set ylabel 'accuracy (%), bands: 95% bootstrap over items'
set style fill transparent solid 0.15 noborder
set yrange [0:77.4312]
plot 'results/curves/countdown_sc100.dat' index 0 using 1:4:5 with filledcurves lc rgb '#0072B2' notitle, 'results/curves/countdown_sc100.dat' index 0 using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#0072B2' title 'pass@k', 'results/curves/countdown_sc100.dat' index 0 using 1:7:8 with filledcurves lc rgb '#D55E00' notitle, 'results/curves/countdown_sc100.dat' index 0 using 1:6 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#D55E00' title 'majority@k', 'results/curves/countdown_sc100.dat' index 0 using 1:10:11 with filledcurves lc rgb '#009E73' notitle, 'results/curves/countdown_sc100.dat' index 0 using 1:9 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#009E73' title 'weighted BoN@k'
unset logscale x
set terminal svg size 1100,620 noenhanced font 'sans,11'
set output 'results/curves/countdown_sc100.svg'
set title 'countdown, n=100, seed 1, policy countdown-policy.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x 2
set xlabel 'samples per item k (log scale)'
set ylabel 'accuracy (%), bands: 95% bootstrap over items'
set style fill transparent solid 0.15 noborder
set yrange [0:77.4312]
plot 'results/curves/countdown_sc100.dat' index 0 using 1:4:5 with filledcurves lc rgb '#0072B2' notitle, 'results/curves/countdown_sc100.dat' index 0 using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#0072B2' title 'pass@k', 'results/curves/countdown_sc100.dat' index 0 using 1:7:8 with filledcurves lc rgb '#D55E00' notitle, 'results/curves/countdown_sc100.dat' index 0 using 1:6 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#D55E00' title 'majority@k', 'results/curves/countdown_sc100.dat' index 0 using 1:10:11 with filledcurves lc rgb '#009E73' notitle, 'results/curves/countdown_sc100.dat' index 0 using 1:9 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#009E73' title 'weighted BoN@k'
unset logscale x
set terminal pngcairo size 1100,620 noenhanced font 'sans,11'
set output 'results/curves/countdown_sc100_tokens.png'
set title 'countdown, n=100, seed 1, policy countdown-policy.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), bands: 95% bootstrap over items'
set style fill transparent solid 0.15 noborder
set yrange [0:77.4312]
plot 'results/curves/countdown_sc100.dat' index 0 using 2:4:5 with filledcurves lc rgb '#0072B2' notitle, 'results/curves/countdown_sc100.dat' index 0 using 2:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#0072B2' title 'pass@k', 'results/curves/countdown_sc100.dat' index 0 using 2:7:8 with filledcurves lc rgb '#D55E00' notitle, 'results/curves/countdown_sc100.dat' index 0 using 2:6 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#D55E00' title 'majority@k', 'results/curves/countdown_sc100.dat' index 0 using 2:10:11 with filledcurves lc rgb '#009E73' notitle, 'results/curves/countdown_sc100.dat' index 0 using 2:9 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#009E73' title 'weighted BoN@k'
unset logscale x
set terminal svg size 1100,620 noenhanced font 'sans,11'
set output 'results/curves/countdown_sc100_tokens.svg'
set title 'countdown, n=100, seed 1, policy countdown-policy.gguf'
set grid
set key outside right top vertical Left reverse samplen 2
set border 3
set tics nomirror
set logscale x
set xlabel 'mean tokens per item (log scale)'
set ylabel 'accuracy (%), bands: 95% bootstrap over items'
set style fill transparent solid 0.15 noborder
set yrange [0:77.4312]
plot 'results/curves/countdown_sc100.dat' index 0 using 2:4:5 with filledcurves lc rgb '#0072B2' notitle, 'results/curves/countdown_sc100.dat' index 0 using 2:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#0072B2' title 'pass@k', 'results/curves/countdown_sc100.dat' index 0 using 2:7:8 with filledcurves lc rgb '#D55E00' notitle, 'results/curves/countdown_sc100.dat' index 0 using 2:6 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#D55E00' title 'majority@k', 'results/curves/countdown_sc100.dat' index 0 using 2:10:11 with filledcurves lc rgb '#009E73' notitle, 'results/curves/countdown_sc100.dat' index 0 using 2:9 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#009E73' title 'weighted BoN@k'
unset logscale x
