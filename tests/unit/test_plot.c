/* Power plots (zeus/plot.h) rendered from a recorded timeline and checked as images by
 * tests/support/check_svg.py (Python's XML parser): size, one polyline per device inside the
 * picture, marked windows; peaks kept when a long timeline is thinned; windows read from a
 * monitor log. */
#include "test_support.h"
#include "zeus/output.h"
#include "zeus/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs the checker; returns its exit status and its report in *report. */
static int check(const char *path, const char *size_w, const char *size_h, const char *columns,
                 const char *windows, char **report)
{
    char *argv[] = {"/usr/bin/python3", ZEUS_CHECK_SVG,  (char *)path,    (char *)size_w,
                    (char *)size_h,     (char *)columns, (char *)windows, NULL};
    char *err = NULL;
    int rc = zt_run(argv, report, &err, 30);
    if (rc != 0)
        fprintf(stderr, "check_svg: %s%s\n", *report, err);
    free(err);
    return rc;
}

static char *render(const zeus_power_plot *plot, const char *name)
{
    char *svg = NULL;
    assert_int_equal(zeus_plot_power_svg(plot, &svg), ZEUS_OK);
    char *path = zt_path(zt_dir, name);
    assert_int_equal(zeus_write_file(path, svg, strlen(svg)), ZEUS_OK);
    zeus_free(svg);
    return path;
}

/* 10 s of a recorded 3-column timeline at 10 Hz, a failed reading, two windows. */
static void test_recorded_timeline(void **state)
{
    (void)state;
    enum { N = 101, C = 3 };
    double t[N], w[N * C];
    for (int i = 0; i < N; i++) {
        t[i] = 1700000000.0 + i * 0.1;
        w[i * C + 0] = 100 + 150 * (i >= 30 && i < 70); /* busy between 3 and 7 s */
        w[i * C + 1] = 80 + 20 * sin(i / 5.0);
        w[i * C + 2] = 35.5;
    }
    w[50 * C + 1] = NAN;
    const char *names[] = {"gpu0", "gpu1", "cpu0"};
    zeus_plot_window windows[] = {{"train <epoch 1> & \"more\"", t[30], t[70]},
                                  {"eval", t[80], t[90]},
                                  {"outside", t[0] - 20, t[0] - 10}};
    zeus_power_plot plot = {.times_s = t,
                            .power_w = w,
                            .count = N,
                            .column_count = C,
                            .column_names = names,
                            .windows = windows,
                            .window_count = 3,
                            .width_px = 800,
                            .height_px = 400,
                            .title = "A & B"};
    char *path = render(&plot, "plot.svg");
    char *report = NULL;
    assert_int_equal(check(path, "800", "400", "gpu0,gpu1,cpu0", "2", &report), 0);
    /* Every sample drawn (fewer than the pixels), the failed one skipped; names escaped. */
    assert_contains(report, "gpu0=101 gpu1=100 cpu0=101");
    assert_contains(report, "windows=train <epoch 1> & \"more\"|eval");
    free(report);
    free(path);

    plot.width_px = plot.height_px = 0; /* the default size */
    plot.windows = NULL;
    plot.window_count = 0;
    path = render(&plot, "default.svg");
    assert_int_equal(check(path, "960", "540", "gpu0,gpu1,cpu0", "0", &report), 0);
    free(report);
    free(path);
}

/* A day at 10 Hz on one column: thinned to each pixel column's min and max, and a single-sample
 * spike still reaches the top. */
static void test_long_timeline_keeps_peaks(void **state)
{
    (void)state;
    size_t n = 864000;
    double *t = malloc(n * sizeof *t), *w = malloc(n * sizeof *w);
    assert_non_null(t);
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        t[i] = i * 0.1;
        w[i] = 50;
    }
    w[n / 3] = 400;
    const char *names[] = {"gpu0"};
    zeus_power_plot plot = {.times_s = t,
                            .power_w = w,
                            .count = n,
                            .column_count = 1,
                            .column_names = names,
                            .width_px = 600,
                            .height_px = 300};
    char *svg = NULL;
    assert_int_equal(zeus_plot_power_svg(&plot, &svg), ZEUS_OK);
    assert_true(strlen(svg) < 100000); /* not 864000 points */
    char *path = zt_path(zt_dir, "long.svg");
    assert_int_equal(zeus_write_file(path, svg, strlen(svg)), ZEUS_OK);
    char *report = NULL;
    assert_int_equal(check(path, "600", "300", "gpu0", "0", &report), 0);
    unsigned points = 0;
    assert_int_equal(sscanf(report, "gpu0=%u", &points), 1);
    assert_true(points >= 500 && points <= 2 * 600);
    /* The one-sample spike is drawn: the line spans 350 of the axis' 500 W (176 px high). */
    assert_contains(report, "spans=gpu0:123.2");
    free(report);
    free(path);
    zeus_free(svg);
    free(t);
    free(w);
}

static void test_invalid(void **state)
{
    (void)state;
    double t = 0, w = 1;
    char *svg = (char *)"unchanged";
    zeus_power_plot plot = {.times_s = &t, .power_w = &w, .count = 0, .column_count = 1};
    assert_int_equal(zeus_plot_power_svg(&plot, &svg), ZEUS_EINVAL);
    assert_null(svg);
    plot.count = 1;
    plot.width_px = 10;
    plot.height_px = 10;
    assert_int_equal(zeus_plot_power_svg(&plot, &svg), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "200x150");
    plot.width_px = plot.height_px = 0; /* one sample: a plot, not a division by zero */
    assert_int_equal(zeus_plot_power_svg(&plot, &svg), ZEUS_OK);
    assert_contains(svg, "<polyline");
    zeus_free(svg);
}

static void test_read_windows(void **state)
{
    (void)state;
    char *log = zt_write(zt_dir, "log.csv",
                         "start_time,window_name,elapsed_time,gpu0_energy\n"
                         "100.5,epoch,2.25,10.0\n"
                         "103,step 7,0.5,1\n");
    zeus_plot_window *w = NULL;
    size_t n = 0;
    assert_int_equal(zeus_plot_read_windows(log, &w, &n), ZEUS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(w[0].name, "epoch");
    assert_true(w[0].start_s == 100.5 && w[0].end_s == 102.75);
    assert_string_equal(w[1].name, "step 7");
    assert_true(w[1].start_s == 103 && w[1].end_s == 103.5);
    zeus_free(w);
    free(log);

    log = zt_write(zt_dir, "bad.csv", "start_time,window_name\n1,a\n");
    assert_int_not_equal(zeus_plot_read_windows(log, &w, &n), ZEUS_OK);
    assert_contains(zeus_last_error(), "elapsed_time");
    assert_null(w);
    free(log);
    log = zt_write(zt_dir, "bad2.csv", "start_time,window_name,elapsed_time\n1,a,\n");
    assert_int_not_equal(zeus_plot_read_windows(log, &w, &n), ZEUS_OK);
    assert_contains(zeus_last_error(), "bad2.csv:2");
    free(log);
}

/* Charts: stacked panels, lines and points, units chosen by magnitude, NaN left out. */
static void test_chart(void **state)
{
    (void)state;
    double x[50], cost[50], bs[50];
    for (int i = 0; i < 50; i++) {
        x[i] = i + 1;
        cost[i] = 8e6 * (i + 1); /* J: shown in kWh */
        bs[i] = i % 7 == 3 ? NAN : 32 + 16 * (i % 3);
    }
    zeus_plot_series costs[] = {{"simulated", x, cost, 50, false, false},
                                {"oracle", x, cost, 50, false, true}};
    zeus_plot_series sizes[] = {{"batch size", x, bs, 50, true, false}};
    zeus_plot_panel panels[] = {
        {"recurrence", "cumulative cost", ZEUS_PLOT_UNIT_NONE, ZEUS_PLOT_UNIT_JOULES, costs, 2},
        {"time", "batch size", ZEUS_PLOT_UNIT_SECONDS, ZEUS_PLOT_UNIT_NONE, sizes, 1}};
    zeus_plot_chart chart = {"A <chart> & co", panels, 2, 800, 700};
    char *svg = NULL;
    assert_int_equal(zeus_plot_chart_svg(&chart, &svg), ZEUS_OK);
    assert_contains(svg, "A &lt;chart&gt; &amp; co");
    char *path = zt_path(zt_dir, "chart.svg");
    assert_int_equal(zeus_write_file(path, svg, strlen(svg)), ZEUS_OK);
    zeus_free(svg);
    char *argv[] = {"/usr/bin/python3",
                    ZEUS_CHECK_CHART,
                    path,
                    "800",
                    "700",
                    "simulated,oracle;batch size",
                    "cumulative cost (kWh)|batch size|time (s)|recurrence",
                    NULL};
    char *out = NULL, *err = NULL;
    int rc = zt_run(argv, &out, &err, 30);
    if (rc != 0)
        fprintf(stderr, "check_chart: %s%s\n", out, err);
    assert_int_equal(rc, 0);
    /* 50 points in each line; the NaN batch sizes (7 of 50) are left out. */
    assert_contains(out, "simulated=50 oracle=50 batch size=43");
    free(out);
    free(err);
    free(path);
    /* Errors: no panel, a panel without a finite point, too small. */
    zeus_plot_chart empty = {NULL, NULL, 0, 0, 0};
    assert_int_equal(zeus_plot_chart_svg(&empty, &svg), ZEUS_EINVAL);
    double nan1[1] = {NAN};
    zeus_plot_series none[] = {{"nothing", x, nan1, 1, false, false}};
    zeus_plot_panel bad[] = {{"x", "y", 0, 0, none, 1}};
    zeus_plot_chart c2 = {NULL, bad, 1, 0, 0};
    assert_int_equal(zeus_plot_chart_svg(&c2, &svg), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "no finite point");
    zeus_plot_chart tiny = {NULL, panels, 2, 200, 150};
    assert_int_equal(zeus_plot_chart_svg(&tiny, &svg), ZEUS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recorded_timeline, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_long_timeline_keeps_peaks, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_invalid, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_read_windows, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_chart, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
