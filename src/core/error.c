/* Error codes, thread-local error detail, version. */
#include "core/internal.h"
#include "zeus/version.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *zeus_strerror(int code)
{
    switch (code) {
    case ZEUS_OK:
        return "success";
#define ZEUS_ERRNO_TEXT(name, value, text)                                                         \
    case ZEUS_##name:                                                                              \
        return text;
        ZEUS_ERRNO_MAP(ZEUS_ERRNO_TEXT)
#undef ZEUS_ERRNO_TEXT
    }
    return "unknown error";
}

const char *zeus_error_name(int code)
{
    switch (code) {
    case ZEUS_OK:
        return "ZEUS_OK";
#define ZEUS_ERRNO_NAME(name, value, text)                                                         \
    case ZEUS_##name:                                                                              \
        return "ZEUS_" #name;
        ZEUS_ERRNO_MAP(ZEUS_ERRNO_NAME)
#undef ZEUS_ERRNO_NAME
    }
    return "ZEUS_UNKNOWN";
}

const char *zeus_last_error(void)
{
    return last_error;
}

int zeus__error(int code, const char *fmt, ...)
{
    /* Format into a scratch buffer first: callers may pass zeus_last_error() as an argument
     * to wrap the previous detail with more context. */
    char message[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memcpy(last_error, message, sizeof last_error);
    return code;
}

void zeus__clear_error(void)
{
    last_error[0] = '\0';
}

const char *zeus_version(void)
{
    return ZEUS_VERSION_STRING;
}
