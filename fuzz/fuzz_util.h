/* Shared by the harnesses: input as a NUL-terminated string or as a file path, and a check that
 * aborts (so libFuzzer reports the input) when an invariant breaks. */
#ifndef ZEUS_FUZZ_UTIL_H
#define ZEUS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* malloc'd copy of the input with a terminating NUL. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

/* The input as the content of file number `which` (0..3; a memfd, so nothing touches the
 * disk); returns its path. */
static inline const char *fuzz_file_n(int which, const uint8_t *data, size_t size)
{
    static int fd[4] = {-1, -1, -1, -1};
    static char path[4][64];
    if (fd[which] < 0) {
        fd[which] = memfd_create("zeus-fuzz", 0);
        FUZZ_CHECK(fd[which] >= 0);
        snprintf(path[which], sizeof path[which], "/proc/self/fd/%d", fd[which]);
    }
    FUZZ_CHECK(ftruncate(fd[which], 0) == 0);
    FUZZ_CHECK(size == 0 || pwrite(fd[which], data, size, 0) == (ssize_t)size);
    return path[which];
}

static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
    return fuzz_file_n(0, data, size);
}

#endif
