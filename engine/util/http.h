/*
 * The HTTP grammar shared by the download engine (engine/transfer.c reads
 * responses) and the range server (engine/server/ reads requests and writes
 * responses): decimal numbers, case-insensitive tokens, header lines,
 * HTTP-dates, Content-Range and Retry-After.  Pure functions, no state.
 */
#ifndef RF_UTIL_HTTP_H
#define RF_UTIL_HTTP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse decimal digits at s[*i..len) into *out, advancing *i past them.
 * Returns 0, RF_EINVAL (no digit at *i) or RF_ETOOBIG (overflow; *i is then
 * left inside the digits).
 */
int rf__parse_u64(const char *s, size_t len, size_t *i, uint64_t *out);

/*
 * Parse len bytes at s that must all be digits (1*DIGIT) into *out.
 * Returns 0, or -1 when len is 0, a byte is not a digit or the value
 * overflows (*out untouched).
 */
int rf__parse_digits(const char *s, size_t len, uint64_t *out);

/*
 * Whether the n bytes at s equal the lower-case literal lower, ignoring
 * ASCII case (a token, a header name, a unit).  Returns 1 or 0.
 */
int rf__http_token_eq(const char *s, size_t n, const char *lower);

/*
 * If the header line at s (len bytes, may end in CRLF) is "name: value"
 * with name matching (case-insensitive), set *value and *value_len to the
 * trimmed value and return 1; else 0.
 */
int rf__header_match(const char *s, size_t len, const char *name,
                     const char **value, size_t *value_len);

/*
 * Parse an HTTP-date in any of the three formats of RFC 9110 5.6.7.
 * Returns 0 or RF_EINVAL.
 */
int rf__parse_http_date(const char *s, size_t len, int64_t *out);

/*
 * Format t (Unix seconds) as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT") into out, which holds size bytes (30 are enough).  A time gmtime
 * cannot break down gives the epoch.
 */
void rf__http_format_date(char *out, size_t size, int64_t t);

/* A parsed "Content-Range: bytes first-last/complete" header value. */
typedef struct rf__content_range {
  int unsatisfied;   /* 1: "bytes *<slash>complete" (a 416 answer) */
  uint64_t first;    /* first byte position (inclusive) */
  uint64_t last;     /* last byte position (inclusive) */
  uint64_t complete; /* complete length, RF_SIZE_UNKNOWN for '*' */
} rf__content_range;

/*
 * Parse a Content-Range value (without the header name), len bytes at s.
 * Leading/trailing blanks are skipped.  Rejects other units, last < first,
 * last >= complete, overflow, garbage.  Returns 0 or RF_EPROTO.
 */
int rf__parse_content_range(const char *s, size_t len, rf__content_range *out);

/*
 * Parse a Retry-After value: delta-seconds or an HTTP-date (IMF-fixdate,
 * RFC 850 or asctime).  now is the current Unix time, used for dates.
 * *out_ms gets the delay in milliseconds (0 for dates in the past), capped
 * at one day.  Returns 0 or RF_EINVAL.
 */
int rf__parse_retry_after(const char *s, size_t len, int64_t now,
                          uint64_t *out_ms);

#endif /* RF_UTIL_HTTP_H */
