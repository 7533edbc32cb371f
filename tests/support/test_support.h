/* Helpers shared by the test programs: temporary directories, files, environment, and running
 * the zeus command as a real child process. */
#ifndef ZEUS_TEST_SUPPORT_H
#define ZEUS_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include <cmocka.h>

#include "zeus/device.h"

/* The usual fixture (cmocka setup/teardown): a clean environment, a fresh temporary directory
 * in zt_dir (removed afterwards), zt_options reset with sysfs_root pointed at an empty tree so
 * the host's RAPL never leaks into results, and no log callback left behind. */
extern char *zt_dir;
/* The device options tests open devices with (zt_open). Tests configure devices through these,
 * never through the environment; zt_run hands them to the zeus command as the environment
 * variables it reads (only those the test did not set itself). */
extern zeus_device_options zt_options;
/* zeus_devices_open_with(&zt_options, out). */
int zt_open(zeus_devices **out);
/* Keeps a copy of text for the rest of the test (for option strings); freed at teardown. */
const char *zt_keep(const char *text);
int zt_setup(void **state);
int zt_teardown(void **state);

/* Creates a fresh directory under the test build dir; returned path is static per call site
 * owner (copy it if needed). Removed by zt_rmtree. */
char *zt_mkdtemp(void);
void zt_rmtree(const char *path);
/* Writes text to dir/name (creating parent directories); returns the malloc'd full path. */
char *zt_write(const char *dir, const char *name, const char *text);
char *zt_path(const char *dir, const char *name);
/* Reads a whole file (malloc'd, NUL-terminated) or NULL. */
char *zt_read(const char *path);

/* Points the nvml backend at the project's fake NVML (zt_options: backend nvml, nvml_library the
 * fake) with a JSON config (NULL: its default) and a fresh shared state file inside dir (the
 * fake's own ZEUS_FAKE_NVML_CONFIG and ZEUS_FAKE_NVML_STATE: the fake hardware's settings).
 * Unsets ZEUS_DEVICE and ZEUS_NVML_LIBRARY so that a zeus child uses the fake too. */
void zt_use_fake_nvml(const char *dir, const char *config_json);
/* The vendor matrix: ctest runs the tests that use the fake GPUs twice, the second time with
 * ZEUS_TEST_VENDOR=amd, where zt_use_fake_nvml loads the same fake hardware through the fake
 * libamd_smi and the amdsmi backend instead (tests/CMakeLists.txt: ZEUS_VENDOR_MATRIX). */
bool zt_vendor_amd(void);
/* The AMD counter check's window in the vendor matrix, ms: for the zeus commands and daemons
 * the tests start (ZEUS_AMDSMI_CHECK_MS; two of the slowest fake counter's updates, 100 ms), and
 * for the device sets a test opens itself (many per test; the fake's default 20 ms updates). */
#define ZT_AMDSMI_CHECK_MS 200
#define ZT_AMDSMI_CHECK_MS_IN_PROCESS 60
#define ZT_STR_(x) #x
#define ZT_STR(x) ZT_STR_(x)
/* What the vendor matrix's two libraries differ in, for the few assertions that depend on it:
 * AMD GPUs have no persistence mode (ZEUS_ENOTSUP), and AMD SMI reports power in whole watts. */
bool zt_vendor_has_persistence(void);
double zt_vendor_power_resolution_w(void);
/* Energy-counter reads the backend makes at open (AMD: 2, its check against power), for an
 * injected error's "after"; the error code a lost GPU gives (AMD SMI has no "lost": an I/O error);
 * the backend's name in its error messages ("(NVML GPU 0)", "(AMD GPU 0)"). */
int zt_vendor_counter_reads_at_open(void);
int zt_vendor_lost_error(void);
const char *zt_vendor_gpu_label(void);
/* How the zeus command names the backend's index ("NVML", "AMDSMI"). */
const char *zt_vendor_cli_label(void);
/* The fake library's call log (ZEUS_FAKE_NVML_LOG) at path, with the AMD library's entry points
 * written as the NVML ones that do the same (amdsmi_set_power_cap as
 * nvmlDeviceSetPowerManagementLimit, ...), so one expected text serves both vendors. NULL if
 * the file does not exist; malloc'd. */
char *zt_read_calls(const char *path);
/* Clears every ZEUS_* and CUDA_VISIBLE_DEVICES variable. */
void zt_clean_env(void);

/* Runs argv (argv[0] is a path) with stdin from /dev/null; captures stdout and stderr (each
 * malloc'd); returns the exit status (128+signal if killed). timeout_s kills it if exceeded.
 * The child's environment is this one plus zt_options as ZEUS_DEVICE, ZEUS_NVML_LIBRARY,
 * ZEUS_SIM_CONFIG, ZEUS_SIM_STATE, ZEUS_SYSFS_ROOT, CUDA_VISIBLE_DEVICES (variables already set
 * win: a test of the command's environment handling sets them itself). */
int zt_run(char *const argv[], char **out, char **err, double timeout_s);
/* Starts argv in the background with stdin, stdout and stderr on /dev/null; returns its pid. */
int zt_spawn(char *const argv[]);
/* Waits for a process up to timeout_s: its exit status (128+signal if killed), or -1 after
 * killing it with SIGKILL when it did not end in time (a hang). */
int zt_wait(int pid, double timeout_s);
/* Convenience: runs the zeus command with the given arguments (NULL-terminated). */
int zt_zeus(char **out, char **err, ...);
/* As zt_run / zt_zeus, but the child's stdout is the file at stdout_path, opened for writing
 * (a mknod copy of /dev/full, a FIFO, a regular file). */
int zt_run_to(char *const argv[], const char *stdout_path, char **err, double timeout_s);
int zt_zeus_to(const char *stdout_path, char **err, ...);

/* A character device node at dir/name with the numbers of model (e.g. "/dev/full"), made with
 * mknod so no test writes to a real device node. Returns the malloc'd path, or NULL when this
 * process may not create device nodes (not root, or a container without CAP_MKNOD): skip then. */
char *zt_mknod_copy(const char *dir, const char *name, const char *model);

/* Skipping is visible and, in CI, impossible (docs/testing.md). A test program in which a test
 * was skipped exits 77 (ctest's SKIP_RETURN_CODE: the whole program is reported as skipped, with
 * the reason it printed); with ZEUS_REQUIRE_ALL=1 in the environment (.ci/run sets it) a skip is
 * a failure instead. zt_skip says why; cmocka's skip() is routed through it. */
int zt_require_all(void);
void zt_skip_(const char *reason, const char *file, int line);
#define zt_skip(reason) zt_skip_((reason), __FILE__, __LINE__)
#undef skip
#define skip() zt_skip_("(no reason given)", __FILE__, __LINE__)
int zt_run_group_tests(const char *name, const struct CMUnitTest *tests, size_t count,
                       CMFixtureFunction setup, CMFixtureFunction teardown);
#undef cmocka_run_group_tests
#define cmocka_run_group_tests(group, setup, teardown)                                             \
    zt_run_group_tests(#group, (group), sizeof(group) / sizeof((group)[0]), (setup), (teardown))

/* Runs fn(arg) in a forked child as user nobody (when this process is root, as CI runs; else as
 * this user), so checks of what an unprivileged user may not do run as root too. zt_dir is made
 * reachable (0755) first. Returns fn's result (0: passed), 128+signal if it was killed, or 77
 * when nobody cannot reach zt_dir (a build tree inside a private directory): zt_skip then. */
int zt_as_nobody(int (*fn)(void *), void *arg);
#define ZT_NOBODY_UNREACHABLE 77

/* Wall-clock checks are ratios against a baseline measured in the same test (docs/testing.md),
 * never fixed figures that flip on a loaded machine or in the ASan build. This baseline: how many
 * times longer than asked n sleeps of sleep_s each take in this process now (>= 1). */
double zt_sleep_scale(double sleep_s, int n);
/* Seconds since some fixed point (CLOCK_MONOTONIC). */
double zt_now_s(void);

/* True if haystack contains needle; on failure prints both for the test log. */
int zt_contains(const char *haystack, const char *needle);
#define assert_contains(h, n) assert_true(zt_contains((h), (n)))
/* True if the file at path contains needle (a missing file contains nothing). */
int zt_file_contains(const char *path, const char *needle);
#define assert_file_contains(p, n) assert_true(zt_file_contains((p), (n)))

#endif
