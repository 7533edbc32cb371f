/* Logging through a user-settable callback; the library itself never prints. */
#include "core/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static zeus_log_fn log_fn;
static void *log_user;
static atomic_int log_level = -1; /* -1: not yet read from ZEUS_LOG_LEVEL */
static atomic_bool log_enabled;   /* a callback is installed */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int zeus_parse_log_level(const char *text, zeus_log_level *out)
{
    for (size_t i = 0; text && i < ZEUS_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (zeus_log_level)i;
            return ZEUS_OK;
        }
    }
    if (text && strcasecmp(text, "warning") == 0) {
        *out = ZEUS_LOG_WARN;
        return ZEUS_OK;
    }
    return zeus__error(ZEUS_EINVAL, "log level '%s' is not one of error, warn, info, debug",
                       text ? text : "(null)");
}

const char *zeus_log_level_name(zeus_log_level level)
{
    return (unsigned)level < ZEUS_ARRAY_LEN(level_names) ? level_names[level] : "?";
}

zeus_log_level zeus_get_log_level(void)
{
    int level = atomic_load(&log_level);
    if (level < 0) {
        zeus_log_level parsed = ZEUS_LOG_WARN;
        const char *env = getenv("ZEUS_LOG_LEVEL");
        if (env && *env && zeus_parse_log_level(env, &parsed) != ZEUS_OK)
            parsed = ZEUS_LOG_WARN; /* a bad value must not silence warnings */
        level = (int)parsed;
        atomic_store(&log_level, level);
    }
    return (zeus_log_level)level;
}

void zeus_set_log_level(zeus_log_level level)
{
    atomic_store(&log_level, (int)level);
}

void zeus_set_log_callback(zeus_log_fn fn, void *user)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user = user;
    atomic_store(&log_enabled, fn != NULL);
    pthread_mutex_unlock(&log_lock);
}

void zeus__log(zeus_log_level level, const char *fmt, ...)
{
    /* Cheap exits first: this is called on hot paths (every window end may warn). */
    if (level > zeus_get_log_level() || !atomic_load(&log_enabled))
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* The callback runs outside our lock: it may log, call the library, or take its own locks
     * without deadlocking against us (and a fork() meanwhile never inherits our lock held). */
    pthread_mutex_lock(&log_lock);
    zeus_log_fn fn = log_fn;
    void *user = log_user;
    pthread_mutex_unlock(&log_lock);
    if (fn)
        fn(level, message, user);
}

void zeus__log_atfork(zeus__fork_phase phase)
{
    if (phase == ZEUS__FORK_PREPARE)
        pthread_mutex_lock(&log_lock);
    else
        pthread_mutex_unlock(&log_lock);
}
