/*
 * URLs of download sources other than the origin: the Connected-Cache URL
 * form (a cache host that fetches the origin's file on the client's
 * behalf) and the host of a URL, the key of a per-origin ban.  Pure
 * functions over libcurl's URL API (CURLU), no state.
 *
 * To show a URL in a message, mask it first with rf_url_mask
 * (include/rangefetch/proxy.h): these functions do so in their own
 * messages.
 */
#ifndef RF_SOURCE_URL_H
#define RF_SOURCE_URL_H

#include <stddef.h>

/*
 * rf__source_cache_url - the URL that asks the cache host cache_host for
 * origin_url, in the form of Microsoft's Delivery Optimization agent
 * (do-client, SwapUrlHostNameForMCC):
 *
 *   http://ORIGIN[:OPORT]/PATH?Q#F  +  HOST[:PORT]
 *   ->  http://HOST[:PORT]/PATH?Q&cacheHostOrigin=ORIGIN
 *
 * origin_url is an absolute http:// or https:// URL.  Its scheme, path and
 * query are kept; its host and port are replaced by the cache host's; its
 * user information and fragment are dropped; the origin's host name alone
 * (no scheme, port or user information; an IPv6 literal keeps its
 * brackets) is appended as the query parameter cacheHostOrigin, URL-encoded
 * by libcurl, after '&' or '?'.
 *
 * cache_host is "HOST", "HOST:PORT", "[IPv6]" or "[IPv6]:PORT" (a zone
 * "%25eth0" inside the brackets is kept).  The port is written only when
 * it differs from the default port of the kept scheme (80 for http, 443
 * for https).  Microsoft's agent omits a port of 80 whatever the scheme;
 * here an explicit ":80" with an https origin is kept rather than turned
 * into 443.
 *
 * Returns 0 with *out set to a new string (free with free()); RF_EURL
 * (origin_url is not an absolute http(s) URL with a host, or cache_host is
 * not HOST[:PORT] with a port from 1 to 65535: err says which and why);
 * RF_EINVAL (an argument is NULL); RF_ENOMEM.  *out is NULL on failure.
 * err (errlen bytes, may be NULL) gets the message on failure; URLs in it
 * are masked (rf_url_mask).
 */
int rf__source_cache_url(const char *origin_url, const char *cache_host,
                         char **out, char *err, size_t errlen);

/*
 * rf__source_url_host - the host of the absolute http(s) URL url, ASCII
 * letters lower-cased, an IPv6 literal in brackets without its zone:
 * "http://u:p@Mirror.Example:8080/x" gives "mirror.example".  It is the key
 * of a per-origin ban (a cache host that answered 4xx for one origin host
 * is banned for that host only).
 *
 * Returns 0 with *out set to a new string (free with free()); RF_EURL (url
 * is not an absolute http(s) URL with a host); RF_EINVAL (an argument is
 * NULL); RF_ENOMEM.  *out is NULL on failure; err as above.
 */
int rf__source_url_host(const char *url, char **out, char *err, size_t errlen);

/*
 * Rendezvous hashing (rf_cache_host_pick in rangefetch/cachehost.h):
 * rf__hrw_key is the URL it hashes, without user information and
 * fragment, in libcurl's normalized form (malloc'd; NULL on failure);
 * rf__hrw_pick does the pick for a key made once.
 */
#include <stdint.h>
char *rf__hrw_key(const char *url);
int rf__hrw_pick(const char *key, uint64_t piece, const char *const *hosts,
                 size_t n, const int *usable);

#endif /* RF_SOURCE_URL_H */
