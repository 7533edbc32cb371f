/* Helpers shared by the test programs: temporary directories, files, environment, and running
 * the zeus command as a real child process. */
#ifndef ZEUS_TEST_SUPPORT_H
#define ZEUS_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* The usual fixture (cmocka setup/teardown): a clean environment, a fresh temporary directory
 * in zt_dir (removed afterwards), ZEUS_SYSFS_ROOT pointed at an empty tree so the host's RAPL
 * never leaks into results, and no log callback left behind. */
extern char *zt_dir;
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

/* Points the nvml backend at the project's fake NVML with a JSON config (NULL: its default)
 * and a fresh shared state file inside dir; also sets ZEUS_DEVICE=nvml. */
void zt_use_fake_nvml(const char *dir, const char *config_json);
/* Clears every ZEUS_* and CUDA_VISIBLE_DEVICES variable. */
void zt_clean_env(void);

/* Runs argv (argv[0] is a path) with stdin from /dev/null; captures stdout and stderr (each
 * malloc'd); returns the exit status (128+signal if killed). timeout_s kills it if exceeded. */
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

/* True if haystack contains needle; on failure prints both for the test log. */
int zt_contains(const char *haystack, const char *needle);
#define assert_contains(h, n) assert_true(zt_contains((h), (n)))

#endif
