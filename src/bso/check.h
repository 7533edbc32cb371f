/* What the store accepts, checked before any statement runs, the same for SQLite and PostgreSQL
 * and for both writers (the service, svc.c, and `zeus run`, run.c): one owner per rule. Without
 * these checks the two engines disagree (PostgreSQL's INTEGER is 32-bit and its TEXT must be
 * UTF-8; SQLite stores either) and a string with a NUL is silently cut by cJSON. */
#ifndef ZEUS_BSO_CHECK_H
#define ZEUS_BSO_CHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* The INTEGER columns' range (PostgreSQL's INTEGER is 32-bit). */
#define BSO_INT_MIN (-2147483647LL - 1)
#define BSO_INT_MAX 2147483647LL
/* The largest integer a JSON number (a double) carries exactly: 2^53 (BIGINT columns). */
#define BSO_BIGINT_MAX 9007199254740992LL

enum { BSO_INT_OK = 0, BSO_INT_NOT_INTEGER = -1, BSO_INT_TOO_SMALL = -2, BSO_INT_TOO_LARGE = -3 };
/* A JSON number that is a whole number in [min, max]: BSO_INT_OK with *out set, else why not. */
int bso_json_int(const cJSON *f, long long min, long long max, long long *out);

/* NULL when the len bytes at s may be stored as text, else why not: "contains a NUL character"
 * or "is not valid UTF-8". */
const char *bso_text_problem(const char *s, size_t len);

/* A malloc'd copy of s with each byte that is not part of valid UTF-8 replaced by U+FFFD (text
 * stored before these checks, shown as JSON); NULL when out of memory. */
char *bso_utf8_repair(const char *s);

/* True when a string (or key) of the JSON text holds a \u0000 escape: cJSON would cut it there. */
bool bso_json_has_nul(const char *json);

/* NULL when id may name a folder under a base folder (`zeus run`'s log folder), else why not. */
const char *bso_path_part_problem(const char *id);

#endif
