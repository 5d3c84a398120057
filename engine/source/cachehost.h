/*
 * Cache hosts (rangefetch/cachehost.h), the internals shared with the
 * settings files (proxy/config.c) and the tests.
 *
 * Decide in pure functions, act in one place: parsing a list, judging an
 * option 235 value, merging the settings files' keys and combining the
 * static list with DHCP's are pure; rf_cache_dhcp_read and
 * rf_cache_policy_load read the files and hand the text to them.
 */
#ifndef RF_SOURCE_CACHEHOST_H
#define RF_SOURCE_CACHEHOST_H

#include <stddef.h>

#include "proxy/config.h"
#include "rangefetch/cachehost.h"

/* Longest text of one formatted entry: "[" 253 "]:65535" and a NUL. */
#define RF__CACHE_HOST_TEXT_MAX 264u
/* The DHCP option code. */
#define RF__CACHE_HOST_DHCP_OPTION 235u

/*
 * rf_cache_host_list_parse over [text, text + len) (NUL bytes in it are
 * refused as control characters).  err gets the reason alone, without a
 * prefix ("entry 2 is empty"), for the caller to place.  Returns as
 * rf_cache_host_list_parse.
 */
int rf__cache_host_list_parse(rf_cache_host_list **out, const char *text,
                              size_t len, char *err, size_t errlen);

/*
 * An option 235 value as received (len bytes): leading white space and
 * trailing NUL bytes and white space dropped (servers often end a text
 * option with a NUL or a newline), then rf__cache_host_list_parse.  An
 * empty value is malformed ("empty").  Returns 0 (*out the list),
 * RF_EINVAL (malformed: why, whylen bytes, says how), RF_ENOMEM.
 */
int rf__cache_dhcp_value(rf_cache_host_list **out, char *why, size_t whylen,
                         const char *value, size_t len);

/*
 * The policy of two parsed settings files (either may be NULL or "not
 * set"): key by key, device's value when it sets the key, else user's
 * (not in RF_CONTEXT_SERVICE), else the default.  out is overwritten and
 * owns a copy of the list; note as for rf_cache_policy_load.  Returns 0,
 * RF_EINVAL (out NULL, ctx unknown), RF_ENOMEM; out holds the defaults on
 * failure.
 */
int rf__cache_policy_merge(rf_cache_policy *out, char *note, size_t notelen,
                           rf_context ctx, const rf__proxy_config *user,
                           const rf__proxy_config *device);

#endif
