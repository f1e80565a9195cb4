/* plot.h: what every gnuplot figure of sys2 shares (report's accuracy plots, report --curves): one colour-blind-
 * safe palette (Okabe and Ito 2008, without its yellow) with a distinct marker per series, a title naming task,
 * split, n, seed and models, the y range fitted to the data (0 kept when near), the legend outside the data, and
 * PNG + SVG from one script. CLI only: gnuplot is run with system(). */
#ifndef S2_CLI_PLOT_H
#define S2_CLI_PLOT_H

#include <stdio.h>

#define CLI_PLOT_N_STYLES 7
/* Series i's colour ("#0072B2") and gnuplot point type (12 of them, so colour and marker repeat together only
 * after 84 series). */
const char *cli_plot_color(int i);
int cli_plot_point(int i);
/* s with every ' doubled, for a single-quoted gnuplot string (into buf, cap bytes). */
const char *cli_plot_escape(const char *s, char *buf, size_t cap);
/* "set yrange [lo:hi]" for data from ymin to ymax (percent): 5% padding, 0 kept when ymin < a third of the span
 * above 0, capped at 100. */
void cli_plot_yrange(FILE *f, double ymin, double ymax);
/* The preamble of one output: terminal (t = 0 PNG, 1 SVG), output PREFIX.png/.svg, title, grid, legend outside. */
void cli_plot_begin(FILE *f, int t, const char *prefix, const char *title);
/* Runs gnuplot on script; prints "wrote PREFIX.png and PREFIX.svg" or the failure on stderr. 0 on success. */
int cli_plot_run(const char *cmd, const char *script, const char *prefix);
/* "game24 (tot), n=100, seed 1, policy game24-policy.gguf, value game24-value.gguf" into buf. */
void cli_plot_title(char *buf, size_t cap, const char *task, const char *split, int n, long long seed,
                    const char *model, const char *value);

#endif
