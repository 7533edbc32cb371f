/* Zeus in C: how every face writes its output files (CSV, JSON profiles, logs).
 *
 * One rule for every path, so that an output can never destroy what is at the path:
 *
 *   - "-" is standard output (written through stdio's stdout, in place);
 *   - a character or block device, a FIFO or a Unix socket is written in place (opened, or
 *     connected to, and written; never replaced, never truncated beyond what open does);
 *   - a symbolic link is followed and its target written by these same rules (the link stays);
 *   - a regular file (or a new one) written whole is replaced atomically: the data goes to an
 *     unnamed temporary file in the target's directory (O_TMPFILE; a named "<path>.tmp.XXXXXX"
 *     where the file system lacks it), is fsync'ed, then renamed over the target. A crash or a
 *     kill leaves either the old file or the new one; the temporary file is named only for
 *     the two system calls that publish it (link, rename), with SIGINT, SIGTERM, SIGHUP and
 *     SIGQUIT blocked in the calling thread, so a signal cannot leave a "*.tmp.*" behind (in a
 *     process whose other threads take such a signal by its default action, only during those
 *     two calls). Where the name must exist for the whole write (no O_TMPFILE), the signals stay
 *     blocked for the whole write. An existing file keeps its permission bits (and, when root
 *     writes it, its owner); a new one gets 0666 minus the umask (0644 without O_TMPFILE);
 *   - a directory is refused.
 *
 * Missing parent directories are created (as the original does for its log and profile files),
 * with mode 0777 minus the umask.
 *
 * Check an output before the work that produces it, so that a bad path fails in a second and
 * not after an hour-long run: zeus_output_check(). The streaming writer checks by opening.
 */
#ifndef ZEUS_OUTPUT_H
#define ZEUS_OUTPUT_H

#include "zeus/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether path can be written by these rules, without writing or creating anything:
 * ZEUS_EINVAL for NULL or "" or a directory, ZEUS_ENOENT when a path component that exists is
 * not a directory, ZEUS_EPERM when the file (in place) or the directory that would hold it
 * (atomic replacement, or the nearest existing ancestor of missing directories) is not
 * writable. The message names the path. */
ZEUS_API int zeus_output_check(const char *path);

/* Writes size bytes as the whole content of path, by the rules above. */
ZEUS_API int zeus_write_file(const char *path, const void *data, size_t size);

/* ---- Streaming writer, for outputs that grow while the work runs (CSV rows, logs) ----
 * Writes in place (a regular file is truncated, or appended to with ZEUS_OUTPUT_APPEND; never
 * replaced), so that rows written so far survive a crash or kill -9. Rows are buffered and
 * flushed when a write finds the last flush at least flush_interval_s old (default 1 s; 0:
 * every write), so with rows every p seconds a row reaches the file within
 * flush_interval_s + p. Errors are sticky: after a failed write every later call fails too,
 * and zeus_output_close() reports the first error. One writer must not be used by two threads
 * at once. */
typedef struct zeus_output zeus_output;

#define ZEUS_OUTPUT_APPEND 1u /* append to an existing regular file instead of truncating it */

ZEUS_API int zeus_output_open(const char *path, unsigned flags, zeus_output **out);
/* True when the output started empty: a new or empty regular file, or anything that is not a
 * regular file (stdout, a FIFO, a device). A CSV writer writes its header then. */
ZEUS_API bool zeus_output_started_empty(const zeus_output *output);
ZEUS_API const char *zeus_output_path(const zeus_output *output);
/* seconds: 0 flushes every write; INFINITY only on zeus_output_flush() and close. */
ZEUS_API void zeus_output_set_flush_interval(zeus_output *output, double seconds);
ZEUS_API int zeus_output_write(zeus_output *output, const void *data, size_t size);
ZEUS_API int zeus_output_printf(zeus_output *output, const char *fmt, ...) ZEUS_PRINTF(2, 3);
ZEUS_API int zeus_output_flush(zeus_output *output);
/* Flushes and closes (stdout is flushed, not closed); returns the first error of the writer's
 * life. NULL is a no-op. */
ZEUS_API int zeus_output_close(zeus_output *output);

#ifdef __cplusplus
}
#endif
#endif
