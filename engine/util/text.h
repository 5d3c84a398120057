/*
 * Small text helpers: byte counts, optional copies (hex digits and UTF-8:
 * textutil.h, shared with the CLI).
 * The HTTP grammar (Content-Range, Retry-After, dates, header lines) is in
 * util/http.h.
 */
#ifndef RF_UTIL_TEXT_H
#define RF_UTIL_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "textutil.h" /* rfx_hexval, rfx_utf8_len (engine/util/) */

/* Format a message into err (errlen bytes); nothing when err is NULL or
 * errlen 0.  For the functions that report with (char *err, size_t
 * errlen). */
void rf__errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A copy of s (NULL for NULL); sets *oom when the copy cannot be made, so
 * that several optional settings are copied first and checked once. */
char *rf__strdup_opt(const char *s, int *oom);

/* Format n bytes as "1.5 GiB" into buf. Returns buf. */
char *rf__human_bytes(char *buf, size_t size, uint64_t n);

#endif
