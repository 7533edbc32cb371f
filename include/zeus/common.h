/* Zeus in C: shared definitions (visibility, errors, logging, version).
 *
 * Error convention: every function that can fail returns int, 0 on success and a negative
 * ZEUS_E* code on failure. zeus_strerror() names the code; zeus_last_error() gives the detail of
 * the most recent failure on the calling thread (the NVML message, the path, the line of a bad
 * file). The detail is thread-local rather than per-handle because handles are shared between
 * the caller's threads and the sampler thread, and a per-handle buffer would race.
 *
 * The library never prints and never exits; it logs through zeus_set_log_callback().
 */
#ifndef ZEUS_COMMON_H
#define ZEUS_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ZEUS_API __attribute__((visibility("default")))
#define ZEUS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define ZEUS_API
#define ZEUS_PRINTF(fmt, args)
#endif

/* X-macro list of error codes: name, value, description. */
#define ZEUS_ERRNO_MAP(X)                                                                          \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ENODEV, -3, "no such device or backend unavailable")                                         \
    X(ENOTSUP, -4, "operation not supported by this device")                                       \
    X(EPERM, -5, "permission denied")                                                              \
    X(EIO, -6, "input/output error")                                                               \
    X(ELIB, -7, "library could not be loaded")                                                     \
    X(EINIT, -8, "initialization failed")                                                          \
    X(ELOST, -9, "device lost")                                                                    \
    X(EPARSE, -10, "malformed input")                                                              \
    X(EEXIST, -11, "already exists")                                                               \
    X(ENOENT, -12, "does not exist")                                                               \
    X(ERANGE, -13, "value out of range")                                                           \
    X(ESTATE, -14, "operation not valid in the current state")                                     \
    X(EHETERO, -15, "heterogeneous GPUs")                                                          \
    X(ETIMEOUT, -16, "timed out")                                                                  \
    X(EDEVICE, -17, "device error")                                                                \
    X(ECHILD, -18, "child process failed")

enum {
    ZEUS_OK = 0,
#define ZEUS_ERRNO_ENUM(name, value, text) ZEUS_##name = (value),
    ZEUS_ERRNO_MAP(ZEUS_ERRNO_ENUM)
#undef ZEUS_ERRNO_ENUM
};

/* Size of a short error detail kept in a result (e.g. a failed group's error). */
#define ZEUS_ERROR_DETAIL_LEN 256

/* Static description of an error code ("unknown error" for codes not in the list). */
ZEUS_API const char *zeus_strerror(int code);
/* Symbolic name of an error code, e.g. "ZEUS_EPARSE". */
ZEUS_API const char *zeus_error_name(int code);
/* Detail of the last failure on this thread; never NULL (empty string when none). */
ZEUS_API const char *zeus_last_error(void);

/* Frees what the library allocated for the caller (strings it returns through char **). */
ZEUS_API void zeus_free(void *p);

/* Library version, e.g. "0.1.0". */
ZEUS_API const char *zeus_version(void);

/* Logging. Levels in increasing verbosity. The initial threshold comes from ZEUS_LOG_LEVEL
 * (error, warn, info, debug; default warn). Without a callback nothing is logged. */
typedef enum { ZEUS_LOG_ERROR = 0, ZEUS_LOG_WARN, ZEUS_LOG_INFO, ZEUS_LOG_DEBUG } zeus_log_level;
typedef void (*zeus_log_fn)(zeus_log_level level, const char *message, void *user);
/* Thread-safe; a NULL callback disables logging. The callback is called outside the library's
 * locks, on whichever thread logs: the caller's threads, and the library's own -- the power
 * sampler and counter-probe threads, the signal restore thread and lease watcher threads
 * (zeus/lease.h). It may call the library (even zeus_set_log_callback), must be thread-safe
 * if the application uses threads or those features, and may still be running on another
 * thread with the old callback when zeus_set_log_callback returns. */
ZEUS_API void zeus_set_log_callback(zeus_log_fn fn, void *user);
ZEUS_API void zeus_set_log_level(zeus_log_level level);
ZEUS_API zeus_log_level zeus_get_log_level(void);
/* Parses "error|warn|info|debug" (case-insensitive); returns ZEUS_EINVAL for anything else. */
ZEUS_API int zeus_parse_log_level(const char *text, zeus_log_level *out);
ZEUS_API const char *zeus_log_level_name(zeus_log_level level);

#ifdef __cplusplus
}
#endif
#endif
