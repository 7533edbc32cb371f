/* `zeus monitor power --plot FILE.svg|FILE.png [--windows LOG]` as a real process: the picture
 * of a run on simulated GPUs checked by tests/support/check_svg.py (check_png.py for a PNG:
 * IHDR size, CRCs, each GPU's line drawn), windows taken from a real `zeus monitor energy
 * --log-file` log; usage errors before any sampling. */
#include "test_support.h"
#include "zeus/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check(const char *path, const char *columns, const char *windows, char **report)
{
    char *argv[] = {"/usr/bin/python3", ZEUS_CHECK_SVG,  (char *)path, "960", "540",
                    (char *)columns,    (char *)windows, NULL};
    char *err = NULL;
    int rc = zt_run(argv, report, &err, 30);
    if (rc != 0)
        fprintf(stderr, "check_svg: %s%s\n", *report, err);
    free(err);
    return rc;
}

static void test_plot_with_windows(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    zt_options.sim_config = "{\"gpus\": [{\"count\": 2, \"load\": 0.5}]}";
    /* A window recorded by the energy monitor: the log the plot marks. */
    char *log = zt_path(zt_dir, "windows.csv");
    char *out = NULL, *err = NULL;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "energy", "--log-file", log, "--", "/bin/sleep",
                             "0.2", NULL),
                     0);
    free(out);
    free(err);
    char *svg = zt_path(zt_dir, "power.svg");
    /* The window lies before this run's samples: still listed, clipped away from the picture;
     * so log a second window during the run by appending a row now + 0.3 s. */
    char row[128];
    snprintf(row, sizeof row, "%.3f,during run,0.4,1.0,1.0\n", zeus_wall_s() + 0.3);
    FILE *f = fopen(log, "a");
    assert_non_null(f);
    fputs(row, f);
    fclose(f);
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--duration", "1.2", "--update-period",
                             "0.05", "--plot", svg, "--windows", log, NULL),
                     0);
    assert_contains(out, "Total energy (J)");
    free(out);
    free(err);
    char *report = NULL;
    assert_int_equal(check(svg, "gpu0,gpu1", "1", &report), 0);
    assert_contains(report, "windows=during run");
    unsigned points = 0;
    assert_int_equal(sscanf(report, "gpu0=%u", &points), 1);
    assert_true(points >= 10); /* about 24 samples in 1.2 s */
    free(report);
    free(svg);
    free(log);
}

/* The PNG is libzeus's SVG rasterized (librsvg, in the zeus-svg2png.so module): 960x540, each
 * GPU's colour drawn in the plot area (two GPUs at different loads, so neither line hides the
 * other). */
static void test_plot_png(void **state)
{
    (void)state;
    if (!ZEUS_TEST_CLI_PNG)
        zt_skip("built without librsvg (librsvg2-dev): test_plot_png_without_module covers it");
    zt_options.backend = "sim";
    zt_options.sim_config = "{\"gpus\": [{\"count\": 1, \"load\": 0.3}, "
                            "{\"count\": 1, \"load\": 0.9}]}";
    char *png = zt_path(zt_dir, "power.PNG"), *out = NULL, *err = NULL;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--duration", "0.6", "--update-period",
                             "0.05", "--plot", png, NULL),
                     0);
    char *argv[] = {"/usr/bin/python3", ZEUS_CHECK_PNG, png, "960", "540", "1f77b4,ff7f0e", NULL};
    char *report = NULL, *perr = NULL;
    int checked = zt_run(argv, &report, &perr, 60);
    if (checked != 0)
        fprintf(stderr, "check_png: %s%s\n", report, perr);
    assert_int_equal(checked, 0);
    assert_contains(report, "png 960x540");
    free(report);
    free(perr);
    free(out);
    free(err);
    free(png);
}

/* A zeus without the module beside it (a build without librsvg) refuses .png before sampling,
 * saying what is missing, and makes no file; .svg still works. */
static void test_plot_png_without_module(void **state)
{
    (void)state;
    char *bin = zt_path(zt_dir, "bin"), *zeus = zt_path(zt_dir, "bin/zeus");
    assert_int_equal(mkdir(bin, 0755), 0);
    char *png = zt_path(zt_dir, "p.png"), *svg = zt_path(zt_dir, "p.svg"), *out = NULL, *err = NULL;
    char *cp[] = {"/bin/cp", ZEUS_CLI_PATH, zeus, NULL};
    assert_int_equal(zt_run(cp, &out, &err, 10), 0);
    free(out);
    free(err);
    char *argv[] = {zeus, "monitor", "power", "--duration", "30", "--plot", png, NULL};
    zt_options.backend = "sim";
    int64_t t0 = zeus_now_ns();
    assert_int_equal(zt_run(argv, &out, &err, 60), 1);
    assert_true(zeus_now_ns() - t0 < 10 * 1000000000LL);
    assert_contains(err, "a PNG needs zeus-svg2png.so");
    assert_contains(err, "librsvg2-dev");
    assert_int_equal(access(png, F_OK), -1);
    free(out);
    free(err);
    char *argv_svg[] = {zeus, "monitor", "power", "--duration", "0.2", "--plot", svg, NULL};
    assert_int_equal(zt_run(argv_svg, &out, &err, 60), 0);
    assert_int_equal(access(svg, F_OK), 0);
    free(out);
    free(err);
    free(png);
    free(svg);
    free(zeus);
    free(bin);
}

static void test_plot_usage_errors(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    char *out = NULL, *err = NULL;
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--windows", "x.csv", NULL), 2);
    assert_contains(err, "--windows marks windows on a --plot");
    free(out);
    free(err);
    /* An unwritable picture is refused before sampling (exit 1, no waiting for --duration). */
    char *file = zt_write(zt_dir, "file", "x");
    char *under_file = zt_path(zt_dir, "file/p.svg"); /* a regular file as a directory */
    int64_t t0 = zeus_now_ns();
    assert_int_equal(
        zt_zeus(&out, &err, "monitor", "power", "--duration", "30", "--plot", under_file, NULL), 1);
    free(file);
    free(under_file);
    assert_true(zeus_now_ns() - t0 < 10 * 1000000000LL);
    assert_contains(err, "--plot");
    free(out);
    free(err);
    /* A picture format that is neither SVG nor PNG is refused before sampling (exit 2), and no
     * file is made. */
    char *jpg = zt_path(zt_dir, "p.jpg");
    t0 = zeus_now_ns();
    assert_int_equal(
        zt_zeus(&out, &err, "monitor", "power", "--duration", "30", "--plot", jpg, NULL), 2);
    assert_true(zeus_now_ns() - t0 < 10 * 1000000000LL);
    assert_contains(err, "name a .svg or .png file");
    assert_int_equal(access(jpg, F_OK), -1);
    free(jpg);
    free(out);
    free(err);
    /* A windows log that does not parse: the run's totals are printed, then exit 1. */
    char *bad = zt_write(zt_dir, "bad.csv", "start_time,window_name\n1,a\n");
    char *svg = zt_path(zt_dir, "p.svg");
    assert_int_equal(zt_zeus(&out, &err, "monitor", "power", "--duration", "0.2", "--plot", svg,
                             "--windows", bad, NULL),
                     1);
    assert_contains(err, "elapsed_time");
    free(out);
    free(err);
    free(bad);
    free(svg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plot_with_windows, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_plot_png, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_plot_png_without_module, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_plot_usage_errors, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
