/*
 * The `env` proxy rules: which proxy curl would pick for a URL from the
 * environment variables (<scheme>_proxy, all_proxy, no_proxy), as pure
 * functions.  Nothing here calls getenv() itself: the environment comes in
 * through an rf__env_get_fn, so the rules can be tested with a table.
 *
 * The rules follow curl 7.88.1 (checked against the curl binary), except
 * for IP address entries in no_proxy, where curl 7.88.1 is wrong and we
 * are not: see env.c and docs/proxy-env.md.
 */
#ifndef RF_PROXY_ENV_H
#define RF_PROXY_ENV_H

#include "rangefetch/proxy.h"

/* Looks up an environment variable; returns NULL when unset. */
typedef const char *(*rf__env_get_fn)(const char *name, void *user_data);

/*
 * The proxy curl would use for url under the environment given by get:
 * - "<scheme>_proxy" in lower case, then in upper case, except that
 *   HTTP_PROXY is never read (httpoxy: CGI puts the request's Proxy:
 *   header there); then all_proxy, then ALL_PROXY.  A variable set to the
 *   empty string counts as unset, as in curl.
 * - If one was found, no_proxy (or NO_PROXY when no_proxy is unset or
 *   empty) may exclude the URL's host; see rf__noproxy_match.
 * - A proxy value without a scheme gets "http://".
 * On success *out is a malloc'd proxy URL (free() it), or NULL for a
 * direct connection; *source (source may be NULL) is the name of the
 * variable that decided ("https_proxy", "ALL_PROXY", "no_proxy", ...; a
 * static string), or NULL when no proxy variable was set.
 * Returns 0, RF_EURL (url is NULL, malformed, of a scheme libcurl does not
 * support, or has no host), RF_EINVAL (get or out NULL), RF_ENOMEM.  On
 * failure *out is NULL and *source NULL.
 */
int rf__env_proxy_for(const char *url, rf__env_get_fn get, void *user_data,
                      char **out, const char **source);

/*
 * Whether host (no brackets, no port) is excluded by the no_proxy list:
 * returns 1 or 0.  NULL or empty host or list: 0.
 */
int rf__noproxy_match(const char *host, const char *noproxy);

/* rf__env_get_fn over the process environment (getenv); ignores user_data. */
const char *rf__env_getenv(const char *name, void *user_data);

/* The env resolver for the chain (no state: self is unused). */
const rf_resolver_ops *rf__env_ops(void);

#endif
