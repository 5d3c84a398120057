/*
 * rangefetch — cache hosts: where they come from.
 *
 * Model
 *   A cache host is an HTTP cache in front of the origin, reached the way
 *   Microsoft Connected Cache (MCC) is by Windows Delivery Optimization
 *   (DO): the request goes to the cache host with the origin's host name
 *   in the query.  This header only answers "which cache hosts, in which
 *   order, and with which policy"; it does not download anything.
 *
 *   Cache hosts come from
 *   - a static list, "HOST[:PORT][,HOST[:PORT]...]": the `cache_host` key
 *     of the settings files (docs/proxy-config.md), or a program's own
 *     option (the CLI's --cache-host);
 *   - DHCP option 235 (a text option holding the same list), read from
 *     the lease files of the system's DHCP client (rf_cache_dhcp_read).
 *   The policy (rf_cache_policy) says how to combine them (DO's
 *   DOCacheHostSource), how long to keep trying cache hosts before falling
 *   back to the origin (DelayCacheServerFallback*), and whether the route
 *   to a cache host goes through the proxy chain.  rf_cache_hosts_combine
 *   gives the final ordered list and a line saying where it came from.
 *
 * Ownership
 *   Lists and DHCP results are allocated by the library, in one block
 *   each, and freed by their _free function; their strings live in that
 *   block.  rf_cache_policy is caller storage that owns its list.
 *
 * Threads
 *   No global state: any function may be called from any thread.
 *   rf_cache_policy_load and rf_cache_dhcp_read read a few small files and
 *   block while they do; nothing else does I/O.
 */
#ifndef RF_CACHEHOST_H
#define RF_CACHEHOST_H

#include <stddef.h>
#include <stdint.h>

#include "rangefetch.h"
#include "proxy.h" /* rf_context */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ lists */

/* Most entries a list may have. */
#define RF_CACHE_HOST_MAX 64
/* The port of an entry that names none. */
#define RF_CACHE_HOST_DEFAULT_PORT 80

/* One cache host. */
typedef struct rf_cache_host {
  /* A host name as written (letters, digits, '-', '_', '.'), a dotted
   * IPv4 address, or an IPv6 address without its brackets. */
  const char *host;
  /* 1-65535, or 0 when the entry names none (RF_CACHE_HOST_DEFAULT_PORT
   * then applies). */
  unsigned port;
} rf_cache_host;

/* An ordered list of cache hosts.  count may be 0 (a result with no cache
 * host); hosts is then NULL. */
typedef struct rf_cache_host_list {
  size_t count;
  const rf_cache_host *hosts;
} rf_cache_host_list;

/*
 * rf_cache_host_list_parse - parse "HOST[:PORT][,HOST[:PORT]...]".
 *
 * Entries are separated by commas, with optional spaces or tabs around
 * them.  HOST is a host name (labels of 1-63 letters, digits, '-' and '_',
 * not starting or ending with '-', separated by single dots, at most 253
 * characters, one final dot allowed), a dotted IPv4 address (a name whose
 * last label is all digits must be one), or an IPv6 address in brackets
 * ("[2001:db8::1]:8080").  PORT is 1-65535.  Refused, with a message that
 * names the entry by position and text: an empty entry (",,", a leading
 * or trailing comma, an empty list), a bad or empty port, a scheme or a
 * path ("http://cache/"), user information ('@'; the text is then not
 * quoted, as it may hold a password), white space inside an entry,
 * control or non-ASCII characters (write an internationalised name in its
 * "xn--" form), an IPv6 address without brackets, more than
 * RF_CACHE_HOST_MAX entries.  For example:
 *   "entry 2 is empty"
 *   "entry 1 'cache.example:0': the port must be a number from 1 to 65535"
 * Duplicates are kept (rf_cache_hosts_combine drops them).
 *
 * On success *out is a new list (free it with rf_cache_host_list_free)
 * with at least one entry.  err (errlen bytes, may be NULL when errlen is
 * 0) gets the message on RF_EINVAL.
 * Returns 0, RF_EINVAL (malformed, or out or text NULL), RF_ENOMEM; *out
 * is NULL on failure.
 */
RF_EXTERN int rf_cache_host_list_parse(rf_cache_host_list **out,
                                       const char *text, char *err,
                                       size_t errlen);

/* rf_cache_host_list_free - free a list.  NULL is a no-op. */
RF_EXTERN void rf_cache_host_list_free(rf_cache_host_list *list);

/*
 * rf_cache_host_format - "host", "host:8080", "[2001:db8::1]:8080".
 * rf_cache_host_list_format - the entries so formatted, joined by ",";
 * "" for NULL or an empty list.  The result parses back to the same list.
 * Both write at most size bytes (NUL included; out may be NULL when size
 * is 0) and return what the full length would be, as snprintf does.
 */
RF_EXTERN size_t rf_cache_host_format(char *out, size_t size,
                                      const rf_cache_host *host);
RF_EXTERN size_t rf_cache_host_list_format(char *out, size_t size,
                                           const rf_cache_host_list *list);

/* ----------------------------------------------------------------- policy */

/* Where the cache hosts come from (DO's DOCacheHostSource). */
typedef enum rf_cache_host_source {
  /* the static list only (the default; DO without DOCacheHostSource) */
  RF_CACHE_HOST_SOURCE_STATIC = 0,
  /* the static list, then DHCP option 235's hosts (DOCacheHostSource 1) */
  RF_CACHE_HOST_SOURCE_DHCP = 1,
  /* DHCP option 235's hosts instead of the static list; the static list
   * when the option is absent or malformed (DOCacheHostSource 2) */
  RF_CACHE_HOST_SOURCE_DHCP_FORCE = 2
} rf_cache_host_source;

/* How a cache host is reached: rf_cache_host_proxy, in rangefetch.h (a
 * job option too). */

/* fallback_delay_s: never fall back from the cache hosts to the origin. */
#define RF_CACHE_FALLBACK_NEVER (-1)
/* Largest fallback delay, in seconds (30 days, as Intune allows). */
#define RF_CACHE_FALLBACK_DELAY_MAX 2592000

#define RF_CACHE_POLICY_VERSION 1

/*
 * The cache host policy.  Caller storage: fill it with
 * RF_CACHE_POLICY_INIT or rf_cache_policy_init, release it with
 * rf_cache_policy_clear.
 */
typedef struct rf_cache_policy {
  unsigned version; /* RF_CACHE_POLICY_VERSION */
  /* The static list; NULL when there is none.  Owned by the policy:
   * rf_cache_policy_clear frees it.  To replace it, free the old list
   * with rf_cache_host_list_free and store a list of your own (from
   * rf_cache_host_list_parse); the policy then owns that one. */
  rf_cache_host_list *hosts;
  rf_cache_host_source source;
  /* Seconds to keep trying the cache hosts (round robin) before falling
   * back to the origin: 0 (default) falls back after the first failure;
   * RF_CACHE_FALLBACK_NEVER never; at most RF_CACHE_FALLBACK_DELAY_MAX. */
  int fallback_delay_s;
  rf_cache_host_proxy proxy;
} rf_cache_policy;

#define RF_CACHE_POLICY_INIT                                       \
  {                                                                \
    RF_CACHE_POLICY_VERSION, NULL, RF_CACHE_HOST_SOURCE_STATIC, 0, \
        RF_CACHE_HOST_PROXY_AUTO                                   \
  }

/* rf_cache_policy_init - the defaults, as RF_CACHE_POLICY_INIT (nothing
 * is freed first).  NULL is a no-op. */
RF_EXTERN void rf_cache_policy_init(rf_cache_policy *policy);

/* rf_cache_policy_clear - free the policy's list and restore the
 * defaults.  NULL is a no-op. */
RF_EXTERN void rf_cache_policy_clear(rf_cache_policy *policy);

/*
 * rf_cache_policy_load - the cache host policy of the settings files
 * (docs/proxy-config.md): the keys cache_host, cache_host_source,
 * cache_fallback_delay and cache_host_proxy of the device-wide file
 * (sys_dir/proxy.conf; sys_dir NULL: /etc/rangefetch) and of the user
 * file (user_dir/proxy.conf; user_dir NULL: $XDG_CONFIG_HOME/rangefetch
 * or ~/.config/rangefetch), the same files as
 * rf_engine_add_policy_resolver.
 *
 * Key by key, the device-wide file wins over the user file (an
 * administrator's policy, as DO's MDM policies); a key in neither keeps
 * its default.  In RF_CONTEXT_SERVICE the user file is not used (no user
 * is signed in).  A missing file is an absent scope; any other problem
 * with either file (malformed, unreadable, too big) fails the call, even
 * for a file the context does not use, and err names the file and line.
 *
 * out is overwritten (it is not cleared first): on success it holds the
 * policy (release it with rf_cache_policy_clear); on failure the
 * defaults.  note (notelen bytes, may be NULL when notelen is 0) gets one
 * line saying where each key came from, e.g.
 *   "cache hosts: cache_host = cache1.example,cache2.example:8080
 *    (device-wide scope, /etc/rangefetch/proxy.conf:3); cache_host_source
 *    = dhcp (user scope, /home/a/.config/rangefetch/proxy.conf:1);
 *    cache_fallback_delay = 0 (default); cache_host_proxy = auto
 *    (default)"
 * err (errlen bytes, may be NULL when errlen is 0) gets the message on
 * failure.
 * Returns 0; RF_EINVAL (a malformed file; out NULL; context unknown; a
 * directory given as ""); RF_EACCES, RF_ETOOBIG, RF_EIO (a file cannot be
 * read); RF_ENOMEM.
 */
RF_EXTERN int rf_cache_policy_load(rf_cache_policy *out, char *note,
                                   size_t notelen, rf_context context,
                                   const char *sys_dir, const char *user_dir,
                                   char *err, size_t errlen);

/* "static", "dhcp", "dhcp-force" / "auto", "direct" (the settings files'
 * words); "?" for anything else. */
RF_EXTERN const char *rf_cache_host_source_name(rf_cache_host_source source);
RF_EXTERN const char *rf_cache_host_proxy_name(rf_cache_host_proxy proxy);

/* ------------------------------------------------------- DHCP option 235 */

typedef enum rf_cache_dhcp_status {
  RF_CACHE_DHCP_NONE = 0,     /* no source holds option 235 */
  RF_CACHE_DHCP_FOUND = 1,    /* a valid list: hosts */
  RF_CACHE_DHCP_MALFORMED = 2 /* option 235 is there but unusable: why */
} rf_cache_dhcp_status;

/* What DHCP said about option 235.  Allocated by the library: free it
 * with rf_cache_dhcp_free, which frees its strings and list too. */
typedef struct rf_cache_dhcp {
  rf_cache_dhcp_status status;
  /* FOUND: the list (at least one entry); else NULL. */
  const rf_cache_host_list *hosts;
  /* FOUND and MALFORMED: where the option was read (a lease file, or the
   * label given to rf_cache_dhcp_from_value); NONE: NULL. */
  const char *source;
  /* MALFORMED: why, e.g. "bad hex" or "entry 2 'cache:0': the port must
   * be a number from 1 to 65535"; else NULL. */
  const char *why;
  /* Never NULL: every source tried, in order, and how each ended, e.g.
   * "/var/lib/dhcp/dhclient.eth0.leases (no option 235 in the last
   * lease); /run/systemd/netif/leases/2 (found)". */
  const char *tried;
} rf_cache_dhcp;

#define RF_CACHE_DHCP_OPTIONS_VERSION 1

/* Where rf_cache_dhcp_read looks.  NULL-terminated lists: NULL means the
 * default, an empty list (just NULL) means none. */
typedef struct rf_cache_dhcp_options {
  unsigned version; /* RF_CACHE_DHCP_OPTIONS_VERSION */
  /* Lease files, in order.  Default, newest file first:
   *   /var/lib/dhcp/dhclient*.leases, /var/lib/dhclient/dhclient*.leases,
   *   /var/lib/NetworkManager/dhclient*.lease (the files WPAD reads),
   *   /run/systemd/netif/leases/ (systemd-networkd),
   *   /var/lib/NetworkManager/internal-*.lease (NetworkManager's internal
   *   client; only versions before 1.20 stored options there). */
  const char *const *lease_files;
  /* dhclient configuration files, read for the name an "option NAME code
   * 235 = text;" declaration gives the option.  Default:
   * /etc/dhcp/dhclient.conf, /etc/dhclient.conf.  Missing files are
   * skipped. */
  const char *const *dhclient_conf;
  /* Seconds since the epoch, for dhclient lease expiry; 0: now. */
  int64_t now;
} rf_cache_dhcp_options;

#define RF_CACHE_DHCP_OPTIONS_INIT               \
  {                                              \
    RF_CACHE_DHCP_OPTIONS_VERSION, NULL, NULL, 0 \
  }

/* rf_cache_dhcp_options_init - the defaults, as
 * RF_CACHE_DHCP_OPTIONS_INIT.  NULL is a no-op. */
RF_EXTERN void rf_cache_dhcp_options_init(rf_cache_dhcp_options *opts);

/*
 * rf_cache_dhcp_read - DHCP option 235 from the system's lease files
 * (never by sending DHCP packets).  In a dhclient file the last complete
 * lease counts (not when expired), the option written as
 *   option unknown-235 "cache1.example,cache2.example:8080";
 *   option unknown-235 63:61:63:...;        (hex, when not printable)
 *   option NAME "...";  (declared "option NAME code 235 = text;")
 * in a systemd-networkd file as "OPTION_235=636163..." (hex).  The value
 * may end in NUL bytes and white space (dropped); the rest must be a list
 * that rf_cache_host_list_parse accepts.  The first file with a valid
 * list wins; else the first malformed one is reported; else NONE.  A file
 * that cannot be read is noted in tried and skipped.
 *
 * opts may be NULL for the defaults.  On success *out is the result (free
 * it with rf_cache_dhcp_free), whatever its status.
 * Returns 0, RF_EINVAL (out NULL, options version 0 or newer than
 * RF_CACHE_DHCP_OPTIONS_VERSION), RF_ENOMEM; *out is NULL on failure.
 */
RF_EXTERN int rf_cache_dhcp_read(rf_cache_dhcp **out,
                                 const rf_cache_dhcp_options *opts);

/*
 * rf_cache_dhcp_from_value - the same result for an option 235 value
 * obtained by other means (len bytes; e.g. NetworkManager's DHCP4 option
 * "private_235" over D-Bus), labelled source (NULL: "given").  FOUND or
 * MALFORMED (an empty value is malformed).
 * Returns 0, RF_EINVAL (out NULL, value NULL with len > 0), RF_ENOMEM;
 * *out is NULL on failure.
 */
RF_EXTERN int rf_cache_dhcp_from_value(rf_cache_dhcp **out, const char *value,
                                       size_t len, const char *source);

/* rf_cache_dhcp_free - free a result.  NULL is a no-op. */
RF_EXTERN void rf_cache_dhcp_free(rf_cache_dhcp *dhcp);

/* -------------------------------------------------------------- combining */

/*
 * rf_cache_hosts_combine - the cache hosts to use, in order, from the
 * policy's static list and source and from dhcp (NULL: DHCP not read):
 * - static: the static list; DHCP is not consulted;
 * - dhcp: the static list, then option 235's hosts;
 * - dhcp-force: option 235's hosts alone;
 * - with dhcp or dhcp-force, when option 235 is absent or malformed: the
 *   static list.
 * A host given twice (same name, compared without case, and port; no port
 * is port 80) is kept at its first place.  The result may be empty.
 * Pure: no I/O.
 *
 * On success *out is a new list (free it with rf_cache_host_list_free),
 * and note (notelen bytes, may be NULL when notelen is 0) one line saying
 * where it came from, e.g.
 *   "2 cache hosts from the static list (cache_host_source = static)"
 *   "3 cache hosts: 1 from the static list, then 2 from DHCP option 235
 *    (/var/lib/dhcp/dhclient.eth0.leases) (cache_host_source = dhcp)"
 *   "2 cache hosts from DHCP option 235 (/run/systemd/netif/leases/2)
 *    (cache_host_source = dhcp-force)"
 *   "DHCP option 235 malformed (/var/lib/dhcp/dhclient.eth0.leases: bad
 *    hex): using the static list, 1 cache host (cache_host_source =
 *    dhcp-force)"
 *   "no cache host (cache_host_source = static)"
 * Returns 0, RF_EINVAL (out or policy NULL, policy version 0 or newer
 * than RF_CACHE_POLICY_VERSION, source or proxy unknown), RF_ENOMEM;
 * *out is NULL on failure.
 */
RF_EXTERN int rf_cache_hosts_combine(rf_cache_host_list **out, char *note,
                                     size_t notelen,
                                     const rf_cache_policy *policy,
                                     const rf_cache_dhcp *dhcp);

/* ------------------------------------------------------------- the URL */

/*
 * rf_cache_host_url - the URL a download of origin_url asks the cache host
 * cache_host ("HOST[:PORT]", "[V6]:PORT") for, in the form of Microsoft's
 * Delivery Optimization agent:
 *   http://ORIGIN[:OPORT]/PATH?Q  ->  http://HOST[:PORT]/PATH?Q&cacheHostOrigin=ORIGIN
 * (scheme, path and query kept; user information, fragment and the
 * origin's port dropped).  *out is a new string (free it with free()).
 * Returns 0, RF_EURL (err says which input is wrong), RF_EINVAL (an
 * argument NULL), RF_ENOMEM; *out is NULL on failure.
 */
RF_EXTERN int rf_cache_host_url(char **out, const char *origin_url,
                                const char *cache_host, char *err,
                                size_t errlen);

/*
 * rf_cache_host_pick - the cache host that rendezvous (highest random
 * weight) hashing gives piece `piece` of url: the index in hosts[0..n) of
 * the host with the highest weight XXH3-64("<url>\n<piece>\n<host>"),
 * url without user information and fragment in libcurl's normalized
 * form.  Every machine that names the same URL and the same hosts
 * (spelled the same way) gets the same answer; adding or removing a host moves only
 * the pieces it gains or loses.  usable (may be NULL: all) excludes hosts
 * with usable[i] == 0: the answer is then the next host in the piece's
 * order.  Returns the index, or -1 when none is usable (n == 0).
 */
RF_EXTERN int rf_cache_host_pick(const char *url, uint64_t piece,
                                 const char *const *hosts, size_t n,
                                 const int *usable);

#ifdef __cplusplus
}
#endif
#endif /* RF_CACHEHOST_H */
