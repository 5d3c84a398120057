/* Parsers for the bits of HTTP the engine checks, and for byte counts. */
#ifndef RF_PARSE_H
#define RF_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "textutil.h" /* rfx_hexval, rfx_utf8_len (util/) */

/* A parsed "Content-Range: bytes first-last/complete" header value. */
typedef struct rf__content_range {
  int unsatisfied;  /* 1: "bytes *<slash>complete" (a 416 answer) */
  uint64_t first;   /* first byte position (inclusive) */
  uint64_t last;    /* last byte position (inclusive) */
  uint64_t complete;/* complete length, RF_SIZE_UNKNOWN for '*' */
} rf__content_range;

/*
 * Parse a Content-Range value (without the header name), len bytes at s.
 * Leading/trailing blanks are skipped.  Rejects other units, last < first,
 * last >= complete, overflow, garbage.  Returns 0 or RF_EPROTO.
 */
/* A copy of s (NULL for NULL); sets *oom when the copy cannot be made, so
 * that several optional settings are copied first and checked once. */
char *rf__strdup_opt(const char *s, int *oom);


int rf__parse_content_range(const char *s, size_t len, rf__content_range *out);

/*
 * Parse a Retry-After value: delta-seconds or an HTTP-date (IMF-fixdate,
 * RFC 850 or asctime).  now is the current Unix time, used for dates.
 * *out_ms gets the delay in milliseconds (0 for dates in the past), capped
 * at one day.  Returns 0 or RF_EINVAL.
 */
int rf__parse_retry_after(const char *s, size_t len, int64_t now,
                          uint64_t *out_ms);

/*
 * Parse an HTTP-date in any of the three formats of RFC 9110 5.6.7.
 * Returns 0 or RF_EINVAL.
 */
int rf__parse_http_date(const char *s, size_t len, int64_t *out);

/*
 * If the header line at s (len bytes, may end in CRLF) is "name: value"
 * with name matching (case-insensitive), set *value and *value_len to the
 * trimmed value and return 1; else 0.
 */
int rf__header_match(const char *s, size_t len, const char *name,
                     const char **value, size_t *value_len);

/* Format n bytes as "1.5 GiB" into buf. Returns buf. */
char *rf__human_bytes(char *buf, size_t size, uint64_t n);

#endif
