/* The PointSolution file: a Python literal read by a small parser (spec 4.3: "parse the file
 * with a safe literal parser"; the original evaluates it). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pfo.h"

typedef struct {
    const char *p;
    int line;
    const char *path;
    char *err;
    size_t size;
} lexer;

static void skip(lexer *x)
{
    for (;;) {
        while (*x->p && isspace((unsigned char)*x->p)) {
            if (*x->p == '\n')
                x->line++;
            x->p++;
        }
        if (*x->p != '#')
            return;
        while (*x->p && *x->p != '\n')
            x->p++;
    }
}

static int fail(lexer *x, const char *what)
{
    snprintf(x->err, x->size,
             "%s:%d: %s (expected a list of lists of ('forward'|'backward', "
             "MHz) tuples)",
             x->path, x->line, what);
    return -1;
}

static bool take(lexer *x, char c)
{
    skip(x);
    if (*x->p != c)
        return false;
    x->p++;
    return true;
}

static int parse_pair(lexer *x, pfo_plan *plan)
{
    char close;
    if (take(x, '('))
        close = ')';
    else if (take(x, '['))
        close = ']';
    else
        return fail(x, "expected a tuple");
    skip(x);
    char quote = *x->p;
    if (quote != '\'' && quote != '"')
        return fail(x, "expected an instruction name in quotes");
    const char *start = ++x->p;
    while (*x->p && *x->p != quote && *x->p != '\n')
        x->p++;
    if (*x->p != quote)
        return fail(x, "unterminated string");
    size_t len = (size_t)(x->p - start);
    x->p++;
    if (len == 0 || len >= sizeof plan->names[0])
        return fail(x, "instruction name empty or too long");
    if (!take(x, ','))
        return fail(x, "expected ',' after the instruction name");
    skip(x);
    char *end;
    errno = 0;
    long f = strtol(x->p, &end, 10);
    if (end == x->p || errno || f < 0 || f > 1000000)
        return fail(x, "expected a frequency in MHz");
    x->p = end;
    take(x, ',');
    if (!take(x, close))
        return fail(x, "expected the end of the tuple");
    void *n = realloc(plan->names, (plan->n + 1) * sizeof plan->names[0]);
    if (!n)
        return fail(x, "out of memory");
    plan->names = n;
    int *fr = realloc(plan->freqs, (plan->n + 1) * sizeof *fr);
    if (!fr)
        return fail(x, "out of memory");
    plan->freqs = fr;
    memcpy(plan->names[plan->n], start, len);
    plan->names[plan->n][len] = '\0';
    plan->freqs[plan->n++] = (int)f;
    return 0;
}

void pfo_plans_free(pfo_plan *plans, size_t count)
{
    for (size_t i = 0; plans && i < count; i++) {
        free(plans[i].names);
        free(plans[i].freqs);
    }
    free(plans);
}

int pfo_solution_load(const char *path, pfo_plan **plans_out, size_t *count, char *err, size_t size)
{
    size_t len = strlen(path);
    if (len < 3 || strcmp(path + len - 3, ".py") != 0) {
        snprintf(err, size, "solution_path %s must be a .py file", path);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, size, "solution_path %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap * 2 + 8192;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                fclose(f);
                snprintf(err, size, "out of memory reading %s", path);
                return -1;
            }
            text = t;
        }
        size_t got = fread(text + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    text[n] = '\0';
    lexer x = {text, 1, path, err, size};
    pfo_plan *plans = NULL;
    size_t np = 0;
    int rc = 0;
    if (!take(&x, '[')) {
        rc = fail(&x, "expected '['");
        goto done;
    }
    while (!take(&x, ']')) {
        if (!take(&x, '[')) {
            rc = fail(&x, "expected a stage's list");
            goto done;
        }
        pfo_plan *grown = realloc(plans, (np + 1) * sizeof *plans);
        if (!grown) {
            rc = fail(&x, "out of memory");
            goto done;
        }
        plans = grown;
        memset(&plans[np], 0, sizeof plans[np]);
        np++;
        while (!take(&x, ']')) {
            if ((rc = parse_pair(&x, &plans[np - 1])) < 0)
                goto done;
            if (!take(&x, ',')) {
                if (!take(&x, ']')) {
                    rc = fail(&x, "expected ',' or ']'");
                    goto done;
                }
                break;
            }
        }
        if (!take(&x, ',')) {
            if (!take(&x, ']')) {
                rc = fail(&x, "expected ',' or ']' after a stage");
                goto done;
            }
            break;
        }
    }
    skip(&x);
    if (*x.p)
        rc = fail(&x, "unexpected text after the list");
done:
    free(text);
    if (rc < 0) {
        pfo_plans_free(plans, np);
        return -1;
    }
    *plans_out = plans;
    *count = np;
    return 0;
}
