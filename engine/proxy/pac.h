/*
 * PAC (proxy auto-config) evaluator: runs a script's FindProxyForURLEx(url,
 * host) when defined, else FindProxyForURL(url, host), in a sandboxed
 * Duktape heap with a CPU deadline and a memory cap, and parses the result
 * string.  See docs/pac.md for the helper functions and their semantics.
 *
 * Threading: an rf__pac may be used from one thread at a time (any thread;
 * e.g. a uv_queue_work worker, where the blocking DNS callbacks are fine).
 * Separate rf__pac objects may run in parallel.  There is no global mutable
 * state.
 */
#ifndef RF_PROXY_PAC_H
#define RF_PROXY_PAC_H

#include <stddef.h>
#include <stdint.h>

typedef struct rf__pac rf__pac;

/*
 * Name resolution for the script (dnsResolve, dnsResolveEx, isResolvable*,
 * isInNet with a host name, myIpAddress*).  Called synchronously from
 * inside rf__pac_find, on its thread.
 * - resolve: addresses of host as numeric strings ("192.0.2.1", "2001:db8::1",
 *   no brackets); IPv4 only when want_v6_too is 0.  On success returns 0 and
 *   sets *addrs_out to a malloc'd array of *n_out malloc'd strings (the
 *   evaluator free()s both; *n_out may be 0).  Nonzero: not resolvable.
 * - my_addresses: this host's addresses, same conventions.
 * Either pointer may be NULL (= nothing resolves / no addresses).
 */
typedef struct rf__pac_dns {
  int (*resolve)(void *ud, const char *host, int want_v6_too, char ***addrs_out,
                 size_t *n_out);
  int (*my_addresses)(void *ud, char ***addrs_out, size_t *n_out);
  void *ud;
} rf__pac_dns;

/* The default resolver: getaddrinfo() and a route probe + getifaddrs(). */
extern const rf__pac_dns rf__pac_dns_default;

#define RF__PAC_DEFAULT_DEADLINE_MS 100u
#define RF__PAC_DEFAULT_MEMORY      (16u * 1024u * 1024u)
#define RF__PAC_MIN_MEMORY          (256u * 1024u)
#define RF__PAC_MAX_SCRIPT          (1024u * 1024u)
#define RF__PAC_MAX_RESULT          4096u
#define RF__PAC_MAX_DNS_NAMES       20u

/*
 * Limits; a zero field takes its default.  clock returns the current time
 * in seconds since the Unix epoch for weekdayRange/dateRange/timeRange
 * (NULL: time()); local time is interpreted with localtime_r (TZ).
 */
typedef struct rf__pac_limits {
  unsigned deadline_ms; /* CPU deadline per evaluation (default 100) */
  size_t memory_bytes;  /* heap budget (default 16 MiB, at least 256 KiB) */
  int64_t (*clock)(void *ud);
  void *clock_ud;
} rf__pac_limits;

/*
 * Compiles script (len bytes, need not be NUL-terminated, at most 1 MiB)
 * and runs its top level once, under the limits.  lim and dns may be NULL
 * (defaults; rf__pac_dns_default); both are copied.  On failure a message
 * goes to err (errlen may be 0), e.g. "SyntaxError: ... (line 3)".
 * Returns 0, RF_EINVAL (also memory_bytes below RF__PAC_MIN_MEMORY),
 * RF_ENOMEM, RF_ETOOBIG (script too long), RF_EPROXY (syntax or top-level
 * error, memory cap hit, no FindProxyForURL), RF_ETIMEDOUT (top level ran past
 * the deadline). *out is NULL on failure; free with rf__pac_free.
 */
int rf__pac_new(rf__pac **out, const char *script, size_t len,
                const rf__pac_limits *lim, const rf__pac_dns *dns, char *err,
                size_t errlen);

/*
 * Evaluates the script for url.  The URL is reduced to
 * "scheme://host[:port]/" (no credentials, path, query or fragment) before
 * the script sees it; host is passed without brackets, lower-cased.
 * On success *result_out is the malloc'd result string (free() it): ASCII,
 * at most 4 KiB; parse it with rf__pac_parse_result.
 * Returns 0, RF_EINVAL, RF_EURL (url unparsable or without a host),
 * RF_ENOMEM, RF_ETIMEDOUT (deadline), RF_EPROXY (script error, memory cap,
 * non-string or non-ASCII or too long result).  The evaluator stays usable
 * after any error (after a Duktape fatal error the heap is rebuilt from the
 * script).
 */
int rf__pac_find(rf__pac *p, const char *url, char **result_out, char *err,
                 size_t errlen);

/* Text of alert() calls since the last rf__pac_find (capped at 2 KiB);
 * borrowed, valid until the next call on p.  Never NULL. */
const char *rf__pac_alerts(const rf__pac *p);

void rf__pac_free(rf__pac *p);

/* Result string parsing. */
typedef enum rf__pac_kind {
  RF__PAC_DIRECT,
  RF__PAC_PROXY, /* http proxy: PROXY or HTTP */
  RF__PAC_HTTPS,
  RF__PAC_SOCKS4, /* SOCKS or SOCKS4 */
  RF__PAC_SOCKS5
} rf__pac_kind;

typedef struct rf__pac_candidate {
  rf__pac_kind kind;
  char host[256]; /* no brackets; "" for DIRECT */
  uint16_t port;  /* 0 for DIRECT */
} rf__pac_candidate;

/*
 * Parses "PROXY a:1; SOCKS5 [::1]:2; DIRECT": elements separated by ';',
 * whitespace around them ignored, keywords case-insensitive.  Default ports:
 * PROXY/HTTP 80, HTTPS 443, SOCKS* 1080.  Invalid elements (unknown keyword
 * such as QUIC, userinfo, bad or empty port, unbracketed IPv6, DIRECT with a
 * host, host over 255 bytes) are skipped, as Chromium does.  On success
 * *out is a malloc'd array (free() it) of *n >= 1 candidates in order.
 * Returns 0, RF_EINVAL (NULL argument), RF_ENOMEM, RF_EPROXY (no valid
 * element; Chromium would go DIRECT, the caller decides).  On failure
 * *out is NULL and *n 0.
 */
int rf__pac_parse_result(const char *s, rf__pac_candidate **out, size_t *n);

#endif
