#include "alloc_fail.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <execinfo.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "zeus/common.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define ZT_LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define ZT_LEAK_CHECK() 0
#endif

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
FILE *__real_open_memstream(char **buf, size_t *size);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);
int __wrap_asprintf(char **out, const char *fmt, ...);
FILE *__wrap_open_memstream(char **buf, size_t *size);

static atomic_long counted, fail_at, failed;
static atomic_bool persistent;

void zt_alloc_fail_at(long n, bool keep_failing)
{
    atomic_store(&fail_at, 0);
    atomic_store(&counted, 0);
    atomic_store(&failed, 0);
    atomic_store(&persistent, keep_failing);
    atomic_store(&fail_at, n);
}

long zt_alloc_count(void)
{
    return atomic_load(&counted);
}

bool zt_alloc_failed(void)
{
    return atomic_load(&failed) != 0;
}

static bool fail_now(void)
{
    long at = atomic_load(&fail_at);
    long n = atomic_fetch_add(&counted, 1) + 1;
    if (at > 0 && (n == at || (n > at && atomic_load(&persistent)))) {
        if (n == at && getenv("ZT_ALLOC_TRACE")) { /* where the failure is injected */
            void *frames[16];
            backtrace_symbols_fd(frames, backtrace(frames, 16), 2);
        }
        atomic_fetch_add(&failed, 1);
        errno = ENOMEM;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t size)
{
    return fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return fail_now() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
    if (fail_now())
        return -1;
    return __real_vasprintf(out, fmt, ap);
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = __wrap_vasprintf(out, fmt, ap);
    va_end(ap);
    return rc;
}

FILE *__wrap_open_memstream(char **buf, size_t *size)
{
    return fail_now() ? NULL : __real_open_memstream(buf, size);
}

static void *cjson_malloc(size_t size)
{
    return __wrap_malloc(size);
}

void zt_alloc_fail_cjson(void)
{
    cJSON_Hooks hooks = {cjson_malloc, free};
    cJSON_InitHooks(&hooks);
}

static bool one_run(const char *name, zt_alloc_case_fn fn, void *arg, int also, long n,
                    bool keep_failing)
{
    zt_alloc_fail_at(n, keep_failing);
    int rc = fn(arg);
    bool hit = zt_alloc_failed();
    zt_alloc_fail_at(0, false);
    bool ok = true;
    if (hit && !(rc == ZEUS_ENOMEM || (also != 0 && rc == also))) {
        fprintf(stderr, "%s: allocation %ld failed%s, yet it returned %d (%s)\n", name, n,
                keep_failing ? " (and every later one)" : "", rc, rc ? zeus_last_error() : "OK");
        ok = false;
    } else if (!hit && rc != 0) {
        fprintf(stderr, "%s: no allocation failed (%ld), yet it returned %d: %s\n", name, n, rc,
                zeus_last_error());
        ok = false;
    } else if (hit && rc == ZEUS_ENOMEM && !strstr(zeus_last_error(), "memory")) {
        fprintf(stderr, "%s: allocation %ld: ZEUS_ENOMEM with the message [%s]\n", name, n,
                zeus_last_error());
        ok = false;
    }
    if (ZT_LEAK_CHECK()) {
        fprintf(stderr, "%s: leaked with allocation %ld failing%s (above)\n", name, n,
                keep_failing ? " and every later one" : "");
        ok = false;
    }
    return ok;
}

long zt_alloc_loop(const char *name, zt_alloc_case_fn fn, void *arg, int also)
{
    zt_alloc_fail_at(0, false);
    int rc = fn(arg);
    long total = zt_alloc_count();
    if (rc != 0)
        fprintf(stderr, "%s: fails without any allocation failing: %d %s\n", name, rc,
                zeus_last_error());
    assert_int_equal(rc, 0);
    assert_false(ZT_LEAK_CHECK());
    int bad = 0;
    for (long n = 1; n <= total && bad < 5; n++)
        for (int keep = 0; keep < 2; keep++)
            bad += !one_run(name, fn, arg, also, n, keep);
    fprintf(stderr, "%s: %ld allocations, each made to fail (once, and from then on)%s\n", name,
            total, bad ? ": FAILED" : "");
    assert_int_equal(bad, 0);
    return total;
}
