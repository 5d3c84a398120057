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

/* ------------------------------------------------- mirrors and digests */

/* At most this many mirrors in an rf__mirror_list. */
#define RF__MIRRORS_MAX 32

/* The "pri" of a mirror announced without one: the lowest priority. */
#define RF__MIRROR_PRI_NONE 999999u

/* A mirror announced by "Link: <URI>; rel=duplicate" (RFC 6249). */
typedef struct rf__mirror {
  char *url;    /* absolute http(s) URL, no fragment; owned by the list */
  uint32_t pri; /* 1..999999, lower first; RF__MIRROR_PRI_NONE if absent */
  int pref;     /* 1: the "pref" flag was given */
  char geo[3];  /* ISO 3166-1 alpha-2 code in lower case, "" if absent */
} rf__mirror;

/*
 * The mirrors of a response, gathered from one or more Link header lines.
 * Caller-owned storage: start from RF__MIRROR_LIST_INIT (or zero it), and
 * release with rf__mirror_list_free, which frees the URLs.
 */
typedef struct rf__mirror_list {
  rf__mirror v[RF__MIRRORS_MAX]; /* v[0..n) in header order */
  size_t n;
  size_t refused; /* rel=duplicate links refused: bad target, pri or geo */
  size_t dropped; /* rel=duplicate links that came when the list was full */
} rf__mirror_list;

#define RF__MIRROR_LIST_INIT        \
  {                                 \
    { { NULL, 0, 0, "" } }, 0, 0, 0 \
  }

/* Free the URLs of list and empty it (n, refused, dropped 0). */
void rf__mirror_list_free(rf__mirror_list *list);

/*
 * Parse one Link header value (without the header name), len bytes at s,
 * RFC 8288 syntax: a comma-separated list of link-values
 *   "<" URI-Reference ">" *( OWS ";" OWS token [ BWS "=" BWS
 *   ( token / quoted-string ) ] )
 * and add to list each link-value whose "rel" (a space-separated list,
 * compared without case) holds "duplicate", with its "pri", "pref" and
 * "geo" parameters (RFC 6249).  Commas and semicolons inside <...> and
 * quoted strings are data; parameter names are compared without case;
 * quoted values are unescaped; blanks around the delimiters and empty list
 * elements (", ,") are tolerated.  Only the first "rel", "pri", "geo" and
 * "anchor" of a link-value counts (RFC 8288 3.3 for rel).
 *
 * base_url, the URL of the response, resolves relative targets (libcurl's
 * URL API).  A link-value is left out, without counting, when its target
 * is base_url itself (an empty or '#' reference included), a URL already
 * in the list, or when it has an "anchor" naming another resource (the
 * link is then about that resource).  It is refused (list->refused + 1)
 * when its target does not resolve to an http or https URL, its pri is not
 * a number from 1 to 999999, or its geo is not two letters.  When the list
 * is full, rel=duplicate links are counted in list->dropped, unchecked.
 *
 * Returns 0 (the value was well-formed; list may have grown); RF_EPROTO
 * (malformed syntax: an unterminated <...> or quoted string, a missing
 * ';', a parameter without a name...; list is left as it was); RF_EURL
 * (base_url is not an absolute http(s) URL); RF_EINVAL (s, base_url or
 * list NULL); RF_ENOMEM (list left as it was).  err (errlen bytes, may be
 * NULL) gets a message on failure, and on success the reason of the first
 * link this call refused, if any (else it is left untouched); URLs in it
 * are masked (rf_url_mask).
 */
int rf__parse_link_mirrors(const char *s, size_t len, const char *base_url,
                           rf__mirror_list *list, char *err, size_t errlen);

/*
 * Find the SHA-256 digest in a Repr-Digest (or Content-Digest) value, RFC
 * 9530: a structured-field Dictionary (RFC 8941, parsed strictly: keys in
 * lower case, every member well-formed) such as
 *   sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:...:
 * The "sha-256" member must be a Byte Sequence of 32 bytes ("=" padding
 * optional, RFC 8941 4.2.7); when it appears twice the last counts
 * (Dictionary semantics).  Other members are checked for syntax only.
 *
 * Returns 1 with out (32 bytes) set; 0 when the value holds no sha-256
 * (an empty value included); RF_EPROTO when the value is malformed or the
 * sha-256 member is not 32 bytes of base64 (err says which; out may have
 * been written).
 */
int rf__parse_repr_digest(const char *s, size_t len, unsigned char out[32],
                          char *err, size_t errlen);

/*
 * Find the SHA-256 digest in a Digest value, RFC 3230 (obsoleted by RFC
 * 9530 but still sent by mirror managers): a comma-separated list of
 * "algorithm=value" such as "MD5=HUXZ...==, SHA-256=X48E9q...=", algorithm
 * names compared without case (RFC 3230 4.1.1), the SHA-256 value base64
 * (RFC 5843).  Blanks around ',' and '=' and empty elements are tolerated.
 *
 * Returns 1 with out (32 bytes) set; 0 when the value names no SHA-256;
 * RF_EPROTO when an element is not token=value, the SHA-256 value is not
 * 32 bytes of base64 (hex digits are refused, with a hint), or two SHA-256
 * values differ (err says which; out may have been written).
 */
int rf__parse_digest(const char *s, size_t len, unsigned char out[32],
                     char *err, size_t errlen);

/*
 * Parse a whole-file checksum as a user writes it: "sha256=HEX" (64 hex
 * digits) or "xxh128=HEX" (32, the canonical big-endian form `xxh128sum`
 * prints), the algorithm without case; "sha-256" accepted too.
 *
 * Returns 1 (SHA-256: out 32 bytes), 2 (XXH128: out 16 bytes), or
 * RF_EINVAL with err naming what is wrong.
 */
int rf__parse_checksum(const char *s, unsigned char out[32], char *err,
                       size_t errlen);

#endif /* RF_UTIL_HTTP_H */
