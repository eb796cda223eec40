/*
 * csv.h -- an RFC 4180 reader: quoted fields with commas, doubled quotes
 * and newlines, of any size (the NLBSE'24 bodies reach hundreds of KiB).
 */
#ifndef DISPATCHD_CSV_H
#define DISPATCHD_CSV_H

#include <stdio.h>

#define CSV_MAX_FIELDS 32

typedef struct csv_record {
    char *field[CSV_MAX_FIELDS];   /* NUL-terminated, valid until the next read */
    int n;
    long line;                     /* where it starts, for error messages */
} csv_record_t;

typedef struct csv_reader {
    FILE *f;
    char *buf;                     /* the record's text, fields back to back */
    size_t cap;
    long line;                     /* for error messages */
} csv_reader_t;

void csv_open(csv_reader_t *r, FILE *f);
void csv_close(csv_reader_t *r);
/* 1 with a record, 0 at the end, -1 on malformed input (err says where). */
int csv_read(csv_reader_t *r, csv_record_t *rec, char *err, size_t errlen);
/* The index of a header's column by name, -1 if absent. */
int csv_column(const csv_record_t *header, const char *name);

#endif
