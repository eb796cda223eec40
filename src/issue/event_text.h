/*
 * event_text.h -- an issues.raw event without the title and body,
 * which the issues table keeps in columns of their own: what is stored as
 * raw_data, so each text is stored (compressed, written to the WAL) once.
 * The view dispatchai.issues_full puts them back (schema.c).
 */
#ifndef DISPATCHD_EVENT_TEXT_H
#define DISPATCHD_EVENT_TEXT_H

#include <stddef.h>

/* A NUL-terminated copy of the JSON event raw (len bytes) without
 * issue.title, and without issue.body when that is a string (a null body
 * stays: the column cannot tell null from absent); its length in *outlen.
 * NULL when raw is not an object with an issue object (nothing is cut). */
char *event_without_text(const char *raw, size_t len, size_t *outlen);

#endif
