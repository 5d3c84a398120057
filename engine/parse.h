/*
 * Small text helpers: byte counts, hex digits, UTF-8, optional copies.
 * The HTTP grammar (Content-Range, Retry-After, dates, header lines) is in
 * util/http.h.
 */
#ifndef RF_PARSE_H
#define RF_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* A copy of s (NULL for NULL); sets *oom when the copy cannot be made, so
 * that several optional settings are copied first and checked once. */
char *rf__strdup_opt(const char *s, int *oom);

/* Value of the hex digit c (either case), or -1. */
int rf__hexval(int c);

/*
 * Length (1-4) of the valid UTF-8 sequence at s, looking at no more than n
 * bytes, or 0 when there is none: a stray or missing continuation byte,
 * an overlong form, a surrogate, a code point past U+10FFFF.  ASCII bytes
 * (control characters included) are sequences of 1.
 */
size_t rf__utf8_len(const unsigned char *s, size_t n);

/* Format n bytes as "1.5 GiB" into buf. Returns buf. */
char *rf__human_bytes(char *buf, size_t size, uint64_t n);

#endif
