/* An allocator that fails on demand, for the allocation-failure loop (tests/alloc/, as SQLite's
 * malloc tests do). Test programs that link tests/support/alloc_fail.c with
 * -Wl,--wrap=malloc,... (tests/CMakeLists.txt: zeus_alloc_fail_test) route every allocation of
 * libzeus (static) and of the test through it, and cJSON's through zt_alloc_fail_cjson(). The
 * library's own allocation calls are untouched. */
#ifndef ZEUS_ALLOC_FAIL_H
#define ZEUS_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/* From the next allocation on, counts allocations and makes the n-th fail (n = 0: none); with
 * persistent, every one after it fails too. */
void zt_alloc_fail_at(long n, bool persistent);
/* Allocations counted since the last zt_alloc_fail_at(). */
long zt_alloc_count(void);
/* Whether an allocation was made to fail since the last zt_alloc_fail_at(). */
bool zt_alloc_failed(void);
/* cJSON allocates through the failing allocator too (cJSON_InitHooks). */
void zt_alloc_fail_cjson(void);

/* One case of the loop: does its work from scratch and releases everything it made; returns 0,
 * or the negative ZEUS_E* error of the call that failed. */
typedef int (*zt_alloc_case_fn)(void *arg);
/* Runs fn once without failures (it must return 0) to count its allocations A, then for every
 * n = 1..A with the n-th allocation failing, once and persistently: fn must return an error
 * (ZEUS_ENOMEM, or what `also` allows when nonzero) whenever the failure happened, and leak
 * nothing (checked after each run in the ASan build). Fails the cmocka test otherwise, naming
 * the case and n. Returns A. */
long zt_alloc_loop(const char *name, zt_alloc_case_fn fn, void *arg, int also);

#endif
