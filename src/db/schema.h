/*
 * schema.h -- the database schema (schema dispatchai), as numbered
 * migrations applied in order by `dispatchd migrate`.
 */
#ifndef DISPATCHD_SCHEMA_H
#define DISPATCHD_SCHEMA_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The version this build of dispatchd needs. */
int schema_latest_version(void);
/* Applies every migration above the current version, one transaction each,
 * under an advisory lock so concurrent runs are safe. Prints what it did. */
int schema_migrate(PGconn *conn, char *err, size_t errlen);
/* The applied version, 0 for an empty database, -1 on error. */
int schema_current_version(PGconn *conn, char *err, size_t errlen);

/* Runs a statement that returns no rows (BEGIN, COMMIT, ...); whether it
 * succeeded (the connection's error message says why not). */
bool pg_command(PGconn *c, const char *sql);

/* A statement's failure: "what: the server's first line" in err; clears r;
 * returns -1. */
int pg_failed(PGresult *r, const char *what, char *err, size_t errlen);

/* The connection in *c, opened again when it was lost: NULL when the
 * database does not answer (err says why). For an actor's own connection. */
PGconn *pg_keep(PGconn **c, const char *url, char *err, size_t errlen);

/* Appends v as one element of an array literal ('{...}' text): quoted
 * with its quotes and backslashes escaped; NULL as NULL. */
struct strbuf;
void pg_array_element(struct strbuf *b, const char *v);
/* Appends a one-dimensional text[] of n values (NULL as NULL) in the
 * binary format, for a parameter sent as binary: no quoting to write, and
 * none for the server to read. */
void pg_binary_text_array(struct strbuf *b, const char *const *v, int n);
/* Appends v as one field of COPY's text format (backslash, tab, newline
 * and carriage return escaped; NULL as \N), then a tab, or the row's
 * newline when last. */
void pg_copy_field(struct strbuf *b, const char *v, int last);
/* Runs sql, a COPY ... FROM STDIN, and sends it len bytes of rows in its
 * format (in pieces: libpq takes an int). The server's answer: COMMAND_OK,
 * or the first failure (the caller clears it). */
PGresult *pg_copy_in(PGconn *c, const char *sql, const char *data, size_t len);

/* Opens a connection; NULL with the server's message in err. */
PGconn *pg_connect(const char *url, char *err, size_t errlen);

#endif
