/* CSV reading for the trace files: RFC 4180 quoting, CRLF, blank lines skipped, a leading
 * UTF-8 BOM ignored; and pandas-compatible number conversion (see csv.h). */
#include "core/csv.h"

#include "core/internal.h"
#include "core/array.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Cuts the record at the cursor into NUL-terminated fields. */
static int split_record(zeus_csv *csv, bool *eof)
{
    char *p = csv->cursor;
    for (;;) { /* blank (or whitespace-only) lines are skipped */
        char *q = p;
        while (*q == ' ' || *q == '\t' || *q == '\r')
            q++;
        if (*q != '\n') {
            if (*q == '\0')
                p = q;
            break;
        }
        p = q + 1;
        csv->next_line++;
    }
    if (!*p) {
        csv->cursor = p;
        *eof = true;
        return ZEUS_OK;
    }
    *eof = false;
    csv->line = csv->next_line;
    csv->n_fields = 0;
    for (;;) {
        if (zeus__array_reserve((void **)&csv->fields, &csv->cap, csv->n_fields,
                                sizeof *csv->fields, 16) != ZEUS_OK)
            return ZEUS_ENOMEM;
        char *field = p, *out = p;
        csv->fields[csv->n_fields++] = field;
        if (*p == '"') {
            /* Quoted: "" is a quote; commas and newlines are data. */
            p++;
            for (;;) {
                if (!*p)
                    return zeus__error(ZEUS_EPARSE, "%s:%d: unterminated quoted field", csv->path,
                                       csv->line);
                if (*p == '"') {
                    if (p[1] != '"') {
                        p++;
                        break;
                    }
                    p++;
                }
                if (*p == '\n')
                    csv->next_line++;
                *out++ = *p++;
            }
        } else {
            while (*p && *p != ',' && *p != '\n')
                *out++ = *p++;
            if (out > field && out[-1] == '\r' && *p != ',')
                out--; /* CRLF */
        }
        if (*p == '\r' && (p[1] == '\n' || !p[1]))
            p++;
        char sep = *p;
        if (sep != ',' && sep != '\n' && sep != '\0')
            return zeus__error(ZEUS_EPARSE, "%s:%d: text after a closing quote", csv->path,
                               csv->line);
        *out = '\0';
        if (sep == '\0')
            break;
        p++;
        if (sep == '\n') {
            csv->next_line++;
            break;
        }
    }
    csv->cursor = p;
    if (csv->header && csv->n_fields != csv->n_header)
        return zeus__error(ZEUS_EPARSE, "%s:%d: expected %zu fields, found %zu", csv->path,
                           csv->line, csv->n_header, csv->n_fields);
    return ZEUS_OK;
}

int zeus__csv_open(zeus_csv *csv, const char *path)
{
    memset(csv, 0, sizeof *csv);
    csv->path = path;
    size_t size;
    int rc = zeus__read_file(path, &csv->data, &size);
    if (rc != ZEUS_OK)
        return rc; /* the detail names the file */
    if (strlen(csv->data) != size) {
        rc = zeus__error(ZEUS_EPARSE, "%s: not a text file (NUL byte)", path);
        goto fail;
    }
    csv->cursor = csv->data;
    if (strncmp(csv->cursor, "\xEF\xBB\xBF", 3) == 0)
        csv->cursor += 3;
    csv->next_line = 1;
    bool eof;
    if ((rc = split_record(csv, &eof)) != ZEUS_OK)
        goto fail;
    if (eof) {
        rc = zeus__error(ZEUS_EPARSE, "%s: empty file (no header line)", path);
        goto fail;
    }
    /* The header keeps this field array; records get a fresh one. */
    csv->header = csv->fields;
    csv->n_header = csv->n_fields;
    csv->fields = NULL;
    csv->n_fields = csv->cap = 0;
    return ZEUS_OK;
fail:
    zeus__csv_close(csv);
    return rc;
}

void zeus__csv_close(zeus_csv *csv)
{
    free(csv->data);
    free(csv->fields);
    free(csv->header);
    memset(csv, 0, sizeof *csv);
}

int zeus__csv_next(zeus_csv *csv, bool *eof)
{
    return split_record(csv, eof);
}

int zeus__csv_column(const zeus_csv *csv, const char *name, size_t *index)
{
    for (size_t i = 0; i < csv->n_header; i++) {
        if (strcmp(csv->header[i], name) == 0) {
            *index = i;
            return ZEUS_OK;
        }
    }
    return zeus__error(ZEUS_EPARSE, "%s: missing column '%s'", csv->path, name);
}

/* The literals 1e0 .. 1e308 (each correctly rounded by the compiler), as in pandas. */
#define E10(d)                                                                                     \
    1e##d##0, 1e##d##1, 1e##d##2, 1e##d##3, 1e##d##4, 1e##d##5, 1e##d##6, 1e##d##7, 1e##d##8,      \
        1e##d##9
static const double powers_of_ten[309] = {
    E10(0),  E10(1),  E10(2),  E10(3),  E10(4),  E10(5),  E10(6),  E10(7),  E10(8),  E10(9),
    E10(10), E10(11), E10(12), E10(13), E10(14), E10(15), E10(16), E10(17), E10(18), E10(19),
    E10(20), E10(21), E10(22), E10(23), E10(24), E10(25), E10(26), E10(27), E10(28), E10(29),
    1e300,   1e301,   1e302,   1e303,   1e304,   1e305,   1e306,   1e307,   1e308};
#undef E10

/* Far beyond +-616 (where every result is inf or 0), small enough that no sum overflows. */
#define EXPONENT_LIMIT 100000

/* pandas/_libs/src/parser/tokenizer.c: precise_xstrtod (decimal '.', no thousands separator,
 * trailing spaces skipped). Returns false when no number could be read. */
static bool precise_xstrtod(const char *str, double *value, const char **end)
{
    const int max_digits = 17;
    const char *p = str;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
        p++;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    } else if (*p == '+') {
        p++;
    }
    double number = 0.;
    int exponent = 0, num_digits = 0, num_decimals = 0;
    while (*p >= '0' && *p <= '9') {
        if (num_digits < max_digits) {
            number = number * 10. + (*p - '0');
            num_digits++;
        } else if (exponent < EXPONENT_LIMIT) {
            ++exponent;
        }
        p++;
    }
    if (*p == '.') {
        p++;
        while (num_digits < max_digits && *p >= '0' && *p <= '9') {
            number = number * 10. + (*p - '0');
            p++;
            num_digits++;
            num_decimals++;
        }
        if (num_digits >= max_digits)
            while (*p >= '0' && *p <= '9')
                ++p;
        exponent -= num_decimals;
    }
    if (num_digits == 0)
        return false;
    if (negative)
        number = -number;
    if (*p == 'e' || *p == 'E') {
        bool neg_exp = false;
        ++p;
        if (*p == '-') {
            neg_exp = true;
            p++;
        } else if (*p == '+') {
            p++;
        }
        /* pandas accumulates in an int that overflows (undefined behaviour) for exponents
         * above 2^31; saturating at a bound far outside the double range gives the same
         * over/underflow without it. */
        int n = 0, exp_digits = 0;
        while (exp_digits < max_digits && *p >= '0' && *p <= '9') {
            if (n < EXPONENT_LIMIT)
                n = n * 10 + (*p - '0');
            exp_digits++;
            p++;
        }
        exponent += neg_exp ? -n : n;
        if (exp_digits == 0)
            p--; /* un-consume the 'e' */
    }
    if (exponent > 308) {
        number = negative ? -HUGE_VAL : HUGE_VAL;
    } else if (exponent > 0) {
        number *= powers_of_ten[exponent];
    } else if (exponent < -308) {
        if (exponent < -616) {
            number = 0.;
        } else {
            number /= powers_of_ten[-308 - exponent];
            number /= powers_of_ten[308];
        }
    } else {
        number /= powers_of_ten[-exponent];
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
        p++;
    *value = number;
    *end = p;
    return true;
}

/* A cell quoted in an error, cut so that the message keeps its end. */
#define CELL_FMT "'%.48s%s'"
#define CELL_ARG(cell) (cell), strlen(cell) > 48 ? "..." : ""

/* pandas' default na_values. */
static const char *const na_values[] = {
    "",        "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A",      "NA",  "NULL",    "NaN",      "n/a",  "nan",  "null"};

int zeus__csv_double(const zeus_csv *csv, size_t column, double *out, bool *missing)
{
    const char *cell = csv->fields[column];
    *missing = false;
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(na_values); i++) {
        if (strcmp(cell, na_values[i]) == 0) {
            *missing = true;
            *out = NAN;
            return ZEUS_OK;
        }
    }
    const char *end;
    if (precise_xstrtod(cell, out, &end) && *end == '\0' && !isinf(*out))
        return ZEUS_OK;
    return zeus__error(ZEUS_EPARSE, "%s:%d: column '%s': " CELL_FMT " is not a finite number",
                       csv->path, csv->line, csv->header[column], CELL_ARG(cell));
}

int zeus__csv_number(const zeus_csv *csv, size_t column, bool required, double *out, bool *missing)
{
    const char *cell = csv->fields[column];
    int rc = zeus__csv_double(csv, column, out, missing);
    if (rc != ZEUS_OK)
        return rc;
    if (*missing) {
        if (!required)
            return ZEUS_OK;
        if (!*cell)
            return zeus__error(ZEUS_EPARSE, "%s:%d: column '%s' is empty", csv->path, csv->line,
                               csv->header[column]);
        return zeus__error(ZEUS_EPARSE, "%s:%d: column '%s': " CELL_FMT " is NaN (a missing value)",
                           csv->path, csv->line, csv->header[column], CELL_ARG(cell));
    }
    double magnitude = fabs(*out);
    if (magnitude > ZEUS_CSV_MAX_MAGNITUDE ||
        (magnitude != 0 && magnitude < 1 / ZEUS_CSV_MAX_MAGNITUDE))
        return zeus__error(ZEUS_EPARSE,
                           "%s:%d: column '%s': " CELL_FMT " is out of range (a number is 0 or "
                           "of magnitude %g to %g, so that sums and products of them stay "
                           "finite)",
                           csv->path, csv->line, csv->header[column], CELL_ARG(cell),
                           1 / ZEUS_CSV_MAX_MAGNITUDE, ZEUS_CSV_MAX_MAGNITUDE);
    return ZEUS_OK;
}

int zeus__csv_int(const zeus_csv *csv, size_t column, long min, long max, long *out)
{
    const char *cell = csv->fields[column];
    char *end;
    errno = 0;
    long v = strtol(cell, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == cell || *end || errno == ERANGE || v < min || v > max)
        return zeus__error(ZEUS_EPARSE, "%s:%d: column '%s': '%s' is not an integer in [%ld, %ld]",
                           csv->path, csv->line, csv->header[column], cell, min, max);
    *out = v;
    return ZEUS_OK;
}

int zeus__csv_text(const zeus_csv *csv, size_t column, const char **out)
{
    const char *cell = csv->fields[column];
    if (!*cell)
        return zeus__error(ZEUS_EPARSE, "%s:%d: column '%s' is empty", csv->path, csv->line,
                           csv->header[column]);
    *out = cell;
    return ZEUS_OK;
}
