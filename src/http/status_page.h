/*
 * status_page.h -- the files of the status page at GET / (src/http/page/),
 * embedded in the binary at build time (CMakeLists.txt writes the table):
 * no CDN, no file to install, one Content-Security-Policy.
 */
#ifndef DISPATCHD_STATUS_PAGE_H
#define DISPATCHD_STATUS_PAGE_H

#include <stddef.h>

typedef struct page_file {
    const char *name;             /* "status.html", "status.js", ... */
    const unsigned char *bytes;
    size_t len;
    const char *content_type;
} page_file_t;

extern const page_file_t PAGE_FILES[];
extern const size_t PAGE_FILES_N;

#endif
