/* Internal helpers shared by every part of libzeus (not installed). */
#ifndef ZEUS_CORE_INTERNAL_H
#define ZEUS_CORE_INTERNAL_H

#include "zeus/common.h"
#include "zeus/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ZEUS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Records the detail of a failure for zeus_last_error() and returns code, so that callers can
 * write `return zeus__error(ZEUS_EPARSE, "%s:%d: ...", path, line);`. */
int zeus__error(int code, const char *fmt, ...) ZEUS_PRINTF(2, 3);
void zeus__clear_error(void);

/* Logging through the user's callback; cheap when the level is filtered out. */
void zeus__log(zeus_log_level level, const char *fmt, ...) ZEUS_PRINTF(2, 3);
#define ZEUS_WARN(...) zeus__log(ZEUS_LOG_WARN, __VA_ARGS__)
#define ZEUS_INFO(...) zeus__log(ZEUS_LOG_INFO, __VA_ARGS__)
#define ZEUS_DEBUG(...) zeus__log(ZEUS_LOG_DEBUG, __VA_ARGS__)

/* fork() safety (core/fork.c): one pthread_atfork registration calls each module's hook in a
 * fixed order. PREPARE takes the module's locks so that the child inherits them free and its
 * data consistent; PARENT and CHILD release them; CHILD also forgets the threads the child does
 * not have. A library thread wraps its device calls in zeus__no_fork_begin/end, so that no fork
 * happens while it is inside a backend (holding the backend's locks); it must not fork itself
 * inside such a section. */
typedef enum { ZEUS__FORK_PREPARE, ZEUS__FORK_PARENT, ZEUS__FORK_CHILD } zeus__fork_phase;
typedef void (*zeus__fork_hook)(zeus__fork_phase phase);
void zeus__fork_init(void);
/* Registers a module's hook (once; again is a no-op) and installs the handlers. rank: the
 * module's floor (its index in scripts/check-layers.py FLOORS: monitor 2, power_limit 4): PREPARE
 * runs the hooks from the highest rank down, since a higher floor may hold its lock while it calls
 * a lower one; PARENT and CHILD run the other way. ZEUS_ENOMEM past 8 hooks. */
int zeus__fork_register(zeus__fork_hook fn, int rank);
void zeus__no_fork_begin(void);
void zeus__no_fork_end(void);

/* Ends a library thread that waits on wake between rounds: sets *stop under lock, signals, joins
 * (when started), then destroys lock and wake. */
void zeus__thread_finish(pthread_mutex_t *lock, pthread_cond_t *wake, bool *stop, bool started,
                         pthread_t thread);
void zeus__log_atfork(zeus__fork_phase phase);

/* Bounded string copy that always terminates; returns strlen(src). */
size_t zeus__strlcpy(char *dst, const char *src, size_t size);

/* Copies a caller's size-prefixed options struct (its first field is size_t struct_size) into
 * this library's layout by the growth rule of docs/abi.md: out (out_size bytes) must already
 * hold the defaults; the first min(struct_size, out_size) bytes are copied; a struct_size that
 * is not a size is ZEUS_EINVAL, and fields beyond out_size that are not zero ZEUS_ENOTSUP. name
 * (the type) and init (its init function) go into the messages. */
int zeus__options_copy(const void *in, void *out, size_t out_size, const char *name,
                       const char *init);

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
int zeus__read_file(const char *path, char **data, size_t *size);

#endif
