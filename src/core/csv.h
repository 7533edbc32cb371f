/* A small CSV reader (trace files, monitor logs), and number parsing that reproduces
 * pandas.read_csv (not installed). */
#ifndef ZEUS_CORE_CSV_H
#define ZEUS_CORE_CSV_H

#include "zeus/common.h"

typedef struct {
    const char *path;
    char *data; /* the whole file; fields are cut out of it in place */
    char *cursor;
    int line;      /* line where the current record starts (1-based) */
    int next_line; /* line at the cursor */
    char **fields;
    size_t n_fields, cap;
    char **header;
    size_t n_header;
} zeus_csv;

/* Reads path and its header line. Errors name the file. */
int zeus__csv_open(zeus_csv *csv, const char *path);
void zeus__csv_close(zeus_csv *csv);
/* Next record (blank lines are skipped, as pandas does); *eof at the end. A record whose field
 * count differs from the header's is an error naming the line. */
int zeus__csv_next(zeus_csv *csv, bool *eof);
/* Index of a header column; "PATH: missing column 'NAME'" when absent. */
int zeus__csv_column(const zeus_csv *csv, const char *name, size_t *index);

/* pandas' default float conversion (precise_xstrtod: up to 17 significant digits accumulated
 * in a double, then scaled by a power of ten), which differs from a correctly rounded strtod
 * in the last bit for about one value in seven; pandas' NA spellings give NaN and *missing. */
int zeus__csv_double(const zeus_csv *csv, size_t column, double *out, bool *missing);
/* A number the simulator computes with (trace and group files): zeus__csv_double, then a
 * magnitude of 0 or within [1/MAX, MAX] (the simulator multiplies and sums these, and 1e308 or
 * 1e-320 would make inf J or nan %). A missing value is an error when required: "is empty" for
 * an empty cell, "'nan' is NaN" for an NA spelling. Every error names file, line and column. */
#define ZEUS_CSV_MAX_MAGNITUDE 1e15
int zeus__csv_number(const zeus_csv *csv, size_t column, bool required, double *out, bool *missing);
/* An integer cell (pandas int64: optional sign, digits, surrounding spaces). */
int zeus__csv_int(const zeus_csv *csv, size_t column, long min, long max, long *out);
/* A non-empty text cell. */
int zeus__csv_text(const zeus_csv *csv, size_t column, const char **out);

#endif
