/* The power-limit profile file (spec 4.5): the original's bytes, round trip, lenient loading,
 * corruption errors that name the file, atomic replacement. */
#include "test_support.h"

#include "zeus/power_limit.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* What Python's json.dump({"measurements": [...]}, f, indent=4) writes for the spec's example
 * (no trailing newline). */
static const char original_bytes[] = "{\n"
                                     "    \"measurements\": [\n"
                                     "        {\n"
                                     "            \"power_limit\": 300,\n"
                                     "            \"energy\": 2924.4619999974966,\n"
                                     "            \"time\": 10.554417284205556\n"
                                     "        },\n"
                                     "        {\n"
                                     "            \"power_limit\": 275,\n"
                                     "            \"energy\": 2800.0,\n"
                                     "            \"time\": 1e-07\n"
                                     "        }\n"
                                     "    ]\n"
                                     "}";

static const zeus_power_limit_measurement sample[] = {
    {300, 2924.4619999974966, 10.554417284205556},
    {275, 2800.0, 1e-07},
};

static void test_original_bytes(void **state)
{
    (void)state;
    char *text = NULL;
    assert_int_equal(zeus_power_limit_profile_format(sample, 2, NULL, &text), ZEUS_OK);
    assert_string_equal(text, original_bytes);
    free(text);
    char *path = zt_path(zt_dir, "sub/dir/profile.json");
    assert_int_equal(zeus_power_limit_profile_write(path, sample, 2, NULL), ZEUS_OK);
    char *back = zt_read(path);
    assert_string_equal(back, original_bytes);
    free(back);
    free(path);
}

static void test_round_trip(void **state)
{
    (void)state;
    zeus_power_limit_measurement m[9];
    for (int i = 0; i < 9; i++)
        m[i] = (zeus_power_limit_measurement){(unsigned)(300 - 25 * i), 1000.0 / (i + 3) + 0.1,
                                              1.0 / 3 + i * 1e-9};
    char *path = zt_path(zt_dir, "p.json");
    assert_int_equal(zeus_power_limit_profile_write(path, m, 9, "NVIDIA A40"), ZEUS_OK);
    zeus_power_limit_profile p;
    assert_int_equal(zeus_power_limit_profile_read(path, &p), ZEUS_OK);
    assert_int_equal(p.count, 9);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(p.measurements[i].power_limit_w, m[i].power_limit_w);
        assert_true(p.measurements[i].energy_j == m[i].energy_j); /* bit-exact via repr */
        assert_true(p.measurements[i].time_s == m[i].time_s);
    }
    assert_string_equal(p.gpu_model, "NVIDIA A40");
    zeus_power_limit_profile_free(&p);
    char *text = zt_read(path);
    assert_contains(text, "    ],\n    \"gpu_model\": \"NVIDIA A40\"\n}");
    free(text);
    free(path);
}

/* Files written by the original (or by hand) load: extra keys ignored, numbers as strings,
 * integral floats for the limit, compact layout. */
static void test_lenient_loading(void **state)
{
    (void)state;
    zeus_power_limit_profile p;
    const char *text = "{\"measurements\":[{\"power_limit\":\"250\",\"energy\":\"12.5\","
                       "\"time\":3,\"note\":\"x\"},{\"time\":1.5,\"energy\":7,"
                       "\"power_limit\":225.0}],\"extra\":1}";
    assert_int_equal(zeus_power_limit_profile_parse(text, "t.json", &p), ZEUS_OK);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.measurements[0].power_limit_w, 250);
    assert_true(p.measurements[0].energy_j == 12.5 && p.measurements[0].time_s == 3);
    assert_int_equal(p.measurements[1].power_limit_w, 225);
    assert_string_equal(p.gpu_model, "");
    zeus_power_limit_profile_free(&p);
}

static void expect_corrupt(const char *text, const char *needle)
{
    char *path = zt_write(zt_dir, "bad.json", text);
    zeus_power_limit_profile p;
    int rc = zeus_power_limit_profile_read(path, &p);
    assert_int_equal(rc, ZEUS_EPARSE);
    assert_contains(zeus_last_error(), path);
    assert_contains(zeus_last_error(), needle);
    assert_null(p.measurements);
    free(path);
}

static void test_corruption(void **state)
{
    (void)state;
    expect_corrupt("", "not valid JSON");
    expect_corrupt("{\n    \"measurements\": [\n        {\n", "not valid JSON");
    expect_corrupt("[1, 2]", "not a power-limit profile");
    expect_corrupt("{\"measurement\": []}", "not a power-limit profile");
    expect_corrupt("{\"measurements\": []}", "no measurements");
    expect_corrupt("{\"measurements\": [3]}", "measurements[0] must be an object");
    expect_corrupt("{\"measurements\": [{\"power_limit\": 300, \"energy\": 1}]}",
                   "measurements[0] has no \"time\"");
    expect_corrupt("{\"measurements\": [{\"power_limit\": 300, \"energy\": 1, \"time\": 1},"
                   "{\"power_limit\": 275, \"energy\": 0, \"time\": 1}]}",
                   "measurements[1].energy must be a positive number");
    expect_corrupt("{\"measurements\": [{\"power_limit\": 300, \"energy\": 1, \"time\": -2}]}",
                   "measurements[0].time must be a positive number");
    expect_corrupt("{\"measurements\": [{\"power_limit\": 0, \"energy\": 1, \"time\": 1}]}",
                   "power_limit must be a positive number");
    expect_corrupt("{\"measurements\": [{\"power_limit\": 250.5, \"energy\": 1, \"time\": 1}]}",
                   "whole number of watts");
    expect_corrupt("{\"measurements\": [{\"power_limit\": \"abc\", \"energy\": 1, \"time\": 1}]}",
                   "power_limit must be a positive number");
    expect_corrupt("{\"measurements\": [{\"power_limit\": 250, \"energy\": 1, \"time\": 1}],"
                   "\"gpu_model\": 5}",
                   "gpu_model");
    /* Missing file: ENOENT naming it. */
    zeus_power_limit_profile p;
    char *missing = zt_path(zt_dir, "missing.json");
    assert_int_equal(zeus_power_limit_profile_read(missing, &p), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), missing);
    free(missing);
}

static void test_refuses_bad_measurements(void **state)
{
    (void)state;
    char *text = NULL;
    zeus_power_limit_measurement zero[] = {{300, 0.0, 1.0}};
    assert_int_equal(zeus_power_limit_profile_format(zero, 1, NULL, &text), ZEUS_EINVAL);
    zeus_power_limit_measurement inf[] = {{300, INFINITY, 1.0}};
    assert_int_equal(zeus_power_limit_profile_format(inf, 1, NULL, &text), ZEUS_EINVAL);
    assert_int_equal(zeus_power_limit_profile_format(sample, 0, NULL, &text), ZEUS_EINVAL);
    assert_null(text);
    char *path = zt_path(zt_dir, "never.json");
    assert_int_equal(zeus_power_limit_profile_write(path, zero, 1, NULL), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), path);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
}

static int count_entries(const char *d)
{
    DIR *dp = opendir(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));)
        n += e->d_name[0] != '.';
    closedir(dp);
    return n;
}

/* In a child as nobody: writing paths[0] in the read-only directory paths[1] fails, naming it. */
static int write_refused(void *arg)
{
    char **paths = arg;
    if (zeus_power_limit_profile_write(paths[0], sample, 2, NULL) == ZEUS_OK)
        return 1;
    return strstr(zeus_last_error(), paths[1]) ? 0 : 2;
}

/* Replacing a profile goes through a temporary file and rename: a reader sees the old bytes or
 * the new ones, never a mix; a failed write leaves the old file and no temporary behind. */
static void test_atomic_replace(void **state)
{
    (void)state;
    char *sub = zt_path(zt_dir, "atomic");
    mkdir(sub, 0777);
    char *path = zt_path(sub, "profile.json");
    assert_int_equal(zeus_power_limit_profile_write(path, sample, 2, NULL), ZEUS_OK);
    struct stat before;
    assert_int_equal(stat(path, &before), 0);
    zeus_power_limit_measurement other[] = {{250, 1.0, 2.0}};
    assert_int_equal(zeus_power_limit_profile_write(path, other, 1, NULL), ZEUS_OK);
    struct stat after;
    assert_int_equal(stat(path, &after), 0);
    assert_true(before.st_ino != after.st_ino); /* a new file renamed over the old one */
    assert_int_equal(count_entries(sub), 1);    /* no temporary left */
    zeus_power_limit_profile p;
    assert_int_equal(zeus_power_limit_profile_read(path, &p), ZEUS_OK);
    assert_int_equal(p.count, 1);
    zeus_power_limit_profile_free(&p);

    /* A directory we cannot write to (checked as user nobody: root may write anywhere): the
     * write fails, the old profile is intact. */
    chmod(sub, 0555);
    int rc = zt_as_nobody(write_refused, (char *[]){path, sub});
    chmod(sub, 0777);
    if (rc == ZT_NOBODY_UNREACHABLE)
        zt_skip("user nobody cannot reach the build tree");
    assert_int_equal(rc, 0);
    assert_int_equal(zeus_power_limit_profile_read(path, &p), ZEUS_OK);
    assert_int_equal(p.count, 1);
    zeus_power_limit_profile_free(&p);
    assert_int_equal(count_entries(sub), 1);
    free(path);
    free(sub);
}

/* A writer killed at any moment never leaves a partial profile: a child rewrites a large and a
 * small profile in a loop while we read; every read parses, and so does the file after the
 * child is SIGKILLed mid-loop. */
static void test_killed_writer(void **state)
{
    (void)state;
    enum { BIG = 3000 };
    char *path = zt_path(zt_dir, "live.json");
    static zeus_power_limit_measurement big[BIG];
    for (int i = 0; i < BIG; i++)
        big[i] = (zeus_power_limit_measurement){(unsigned)(100 + i), 1000.0 + i / 7.0, 1.0 + i};
    assert_int_equal(zeus_power_limit_profile_write(path, sample, 2, NULL), ZEUS_OK);
    pid_t pid = fork();
    if (pid == 0) {
        /* Never outlive the test: die with the parent, and stop after 30 s regardless. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(30);
        for (int i = 0;; i++)
            zeus_power_limit_profile_write(path, i % 2 ? sample : big, i % 2 ? 2 : BIG, NULL);
    }
    int big_seen = 0, bad_reads = 0;
    for (int i = 0; i < 150; i++) {
        zeus_power_limit_profile p;
        int rc = zeus_power_limit_profile_read(path, &p);
        if (rc != ZEUS_OK || (p.count != 2 && p.count != BIG)) {
            fprintf(stderr, "read %d: %s\n", i, rc ? zeus_last_error() : "unexpected count");
            bad_reads++;
        }
        if (rc == ZEUS_OK) {
            big_seen += p.count == BIG;
            zeus_power_limit_profile_free(&p);
        }
        usleep(1000);
    }
    /* Kill the writer before any assertion, so a failure never leaves it running. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(bad_reads, 0);
    zeus_power_limit_profile p;
    assert_int_equal(zeus_power_limit_profile_read(path, &p), ZEUS_OK);
    zeus_power_limit_profile_free(&p);
    (void)big_seen;
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_original_bytes, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_lenient_loading, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_corruption, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_bad_measurements, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_atomic_replace, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_killed_writer, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
