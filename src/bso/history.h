/* `zeus history JOB --plot F.svg|F.png` (history_plot.c): the trials as a chart. */
#ifndef ZEUS_BSO_HISTORY_H
#define ZEUS_BSO_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    long trial_number, batch_size;
    double cost;    /* NAN while unknown */
    double start_s; /* Unix seconds; NAN while unknown */
    bool reached;   /* reached the target metric */
} bso_history_trial;

/* -1 (and why, on stderr) unless path names a .svg or .png file; *png tells which. */
int bso_history_plot_format(const char *path, bool *png);
/* Draws cost per trial with the early-stop threshold (beta_knob times the best cost reached
 * before each trial; NAN beta: none) and batch size over time; 0, or -1 after saying why. */
int bso_history_plot(const char *path, bool as_png, const char *job, const bso_history_trial *t,
                     size_t n, double beta_knob);

#endif
