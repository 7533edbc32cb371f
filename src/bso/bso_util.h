/* zeus-bso helpers the subcommands share (bso_util.c), apart from the dispatcher (main.c). */
#ifndef ZEUS_BSO_BSO_UTIL_H
#define ZEUS_BSO_BSO_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* --db: the given PATH|URL, else $ZEUS_DB, else <data dir>/zeus/history.db (XDG_DATA_HOME or
 * ~/.local/share; the folder is created). SQLAlchemy URLs of the original server
 * (sqlite+aiosqlite:///f.db, postgresql+asyncpg://...) are accepted too. */
int bso_resolve_db(const char *given, char *url, size_t size);
int bso_parse_long(const char *text, long min, long max, long *out);

#endif
