/* Helpers shared by the subcommands. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("zeus: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_lib_error(int code, int rc, const char *what)
{
    const char *detail = zeus_last_error();
    return cli_error(code, "%s: %s", what, *detail ? detail : zeus_strerror(rc));
}

static void log_to_stderr(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    static const char *const prefix[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "zeus: %s: %s\n", prefix[level], message);
}

void cli_install_logger(void)
{
    zeus_set_log_callback(log_to_stderr, NULL);
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}
