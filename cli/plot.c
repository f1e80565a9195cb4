/* plot.c: the gnuplot conventions every sys2 figure shares (see plot.h). */
#include <stdlib.h>
#include <string.h>

#include "plot.h"

/* Okabe-Ito minus yellow (#F0E442 is unreadable on white); markers: filled square, circle, triangle, inverted
 * triangle, diamond, pentagon, then the same open. 7 colours x 12 markers: the first 84 series differ in both. */
static const char *const colors[CLI_PLOT_N_STYLES] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                      "#E69F00", "#56B4E9", "#000000"};
#define N_POINTS 12
static const int points[N_POINTS] = {5, 7, 9, 11, 13, 15, 4, 6, 8, 10, 12, 14};

const char *cli_plot_color(int i) { return colors[(i % CLI_PLOT_N_STYLES + CLI_PLOT_N_STYLES) % CLI_PLOT_N_STYLES]; }
int cli_plot_point(int i) { return points[(i % N_POINTS + N_POINTS) % N_POINTS]; }

const char *cli_plot_escape(const char *s, char *buf, size_t cap) {
    size_t w = 0;
    for (const char *p = s ? s : ""; *p && w + 3 < cap; p++) {
        if (*p == '\'') buf[w++] = '\'';
        buf[w++] = *p == '\n' ? ' ' : *p;
    }
    buf[w] = '\0';
    return buf;
}

void cli_plot_yrange(FILE *f, double ymin, double ymax) {
    if (!(ymax >= ymin)) ymin = 0, ymax = 100;
    double span = ymax - ymin > 1 ? ymax - ymin : 1;
    double lo = ymin - 0.05 * span, hi = ymax + 0.05 * span;
    if (ymin < span / 3 || lo < 0) lo = 0; /* near 0: show it */
    if (hi > 100) hi = 100;
    if (hi - lo < 2) hi = lo + 2;
    fprintf(f, "set yrange [%g:%g]\n", lo, hi);
}

void cli_plot_begin(FILE *f, int t, const char *prefix, const char *title) {
    char esc[1200];
    if (t == 0)
        fprintf(f, "set terminal pngcairo size 1100,620 noenhanced font 'sans,11'\nset output '%s.png'\n", prefix);
    else
        fprintf(f, "set terminal svg size 1100,620 noenhanced font 'sans,11'\nset output '%s.svg'\n", prefix);
    fprintf(f,
            "set title '%s'\nset grid\nset key outside right top vertical Left reverse samplen 2\n"
            "set border 3\nset tics nomirror\n",
            cli_plot_escape(title, esc, sizeof esc));
}

int cli_plot_run(const char *cmd, const char *script, const char *prefix) {
    char buf[2200];
    snprintf(buf, sizeof buf, "gnuplot '%s'", script);
    int st = system(buf);
    if (st != 0) {
        fprintf(stderr, "sys2 %s: error: gnuplot failed (%d) on %s\n", cmd, st, script);
        return 1;
    }
    fprintf(stderr, "wrote %s.png and %s.svg\n", prefix, prefix);
    return 0;
}

static const char *base(const char *p) {
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "";
}

void cli_plot_title(char *buf, size_t cap, const char *task, const char *split, int n, long long seed,
                    const char *model, const char *value) {
    int w = snprintf(buf, cap, "%s%s%s%s, n=%d, seed %lld", task && *task ? task : "?", split && *split ? " (" : "",
                     split && *split ? split : "", split && *split ? ")" : "", n, seed);
    if (w > 0 && (size_t)w < cap && model && *model)
        w += snprintf(buf + w, cap - (size_t)w, ", policy %s", base(model));
    if (w > 0 && (size_t)w < cap && value && *value) snprintf(buf + w, cap - (size_t)w, ", value %s", base(value));
}
