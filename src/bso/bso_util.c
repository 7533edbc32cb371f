/* zeus-bso helpers the subcommands share (bso_util.h): numbers, socket addresses, the database
 * location. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bso_util.h"
#include "zeus/util.h"

int bso_parse_long(const char *text, long min, long max, long *out)
{
    long v;
    if (zeus_parse_long(text, &v) < 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            int rc = mkdir(path, 0700);
            *p = '/';
            if (rc < 0 && errno != EEXIST)
                return -1;
        }
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int bso_resolve_db(const char *given, char *url, size_t size)
{
    const char *v = given && *given ? given : getenv("ZEUS_DB");
    if (v && *v) {
        const char *s = v;
        if (strncmp(v, "sqlite", 6) == 0 && strstr(v, ":///"))
            s = strstr(v, ":///") + 4; /* sqlite+aiosqlite:///rel.db, sqlite:////abs.db */
        else if (strncmp(v, "postgresql+", 11) == 0 && strstr(v, "://"))
            return snprintf(url, size, "postgresql%s", strstr(v, "://")) < (int)size ? 0 : -1;
        if (snprintf(url, size, "%s", s) >= (int)size)
            return -1;
        return 0;
    }
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char dir[4000];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/zeus", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/share/zeus", home);
    else {
        fprintf(stderr, "zeus: error: no --db given and neither ZEUS_DB, XDG_DATA_HOME nor HOME "
                        "is set\n");
        return -1;
    }
    if (mkdirs(dir) < 0) {
        fprintf(stderr, "zeus: error: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(url, size, "%s/history.db", dir);
    return 0;
}
