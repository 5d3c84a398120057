/*
 * Proxy settings files: the three scopes (user, device-wide, static) that
 * the Delivery-Optimization-style policy (policy.h) chooses between, and
 * their text format.  Pure functions: nothing here touches the network,
 * the environment or libuv; rf__proxy_config_load only reads one file.
 * docs/proxy-config.md describes the format for users.
 *
 * Format, in short: UTF-8 (or ASCII) text of at most 64 KiB, one
 * "key = value" per line, lines of at most 4 KiB ending in LF or CRLF.
 * Whitespace around keys and values is trimmed; blank lines and lines
 * whose first non-blank character is '#' are ignored ('#' later in a line
 * is part of the value).  A UTF-8 byte-order mark at the start is skipped.
 * Unknown keys, duplicate keys and empty values are errors.
 *
 * Secrets: a password (from proxy_user or from the userinfo of a proxy
 * URL) is never written into an error message or a description.  Proxy
 * URLs are stored without their userinfo, so they can be logged as they
 * are; only the pac value is stored as written (mask it with
 * rf__proxy_url_mask before logging).
 *
 * There is no global mutable state; a config may be read from any thread.
 */
#ifndef RF_PROXY_CONFIG_H
#define RF_PROXY_CONFIG_H

#include <stddef.h>

#include "rangefetch/cachehost.h"

#define RF__PROXY_CONFIG_MAX_FILE 65536u /* bytes, BOM included */
#define RF__PROXY_CONFIG_MAX_LINE 4096u  /* bytes, without LF or CRLF */

/* Where a settings file sits in the precedence (see policy.h). */
typedef enum rf__proxy_scope {
  RF__PROXY_SCOPE_USER = 0, /* ~/.config/rangefetch/proxy.conf */
  RF__PROXY_SCOPE_DEVICE,   /* SYSCONFDIR/proxy.conf ("IE, device-wide") */
  RF__PROXY_SCOPE_STATIC,   /* SYSCONFDIR/static.conf ("netsh winhttp") */
  RF__PROXY_SCOPE_COUNT
} rf__proxy_scope;

/* proxy_auth: which methods curl may use towards the proxy. */
typedef enum rf__proxy_auth {
  RF__PROXY_AUTH_SAFE = 0, /* default: every method but Basic */
  RF__PROXY_AUTH_ANY,
  RF__PROXY_AUTH_BASIC,
  RF__PROXY_AUTH_DIGEST,
  RF__PROXY_AUTH_NTLM,
  RF__PROXY_AUTH_NEGOTIATE
} rf__proxy_auth;

/* The keys, to index rf__proxy_config.line. */
typedef enum rf__proxy_key {
  RF__PROXY_KEY_PROXY = 0,
  RF__PROXY_KEY_HTTP_PROXY,
  RF__PROXY_KEY_HTTPS_PROXY,
  RF__PROXY_KEY_NO_PROXY,
  RF__PROXY_KEY_PAC,
  RF__PROXY_KEY_WPAD,
  RF__PROXY_KEY_PROXY_USER,
  RF__PROXY_KEY_PROXY_AUTH,
  RF__PROXY_KEY_PER_MACHINE,
  RF__PROXY_KEY_PROXY_CA_FILE,
  RF__PROXY_KEY_CACHE_HOST,
  RF__PROXY_KEY_CACHE_HOST_SOURCE,
  RF__PROXY_KEY_CACHE_FALLBACK_DELAY,
  RF__PROXY_KEY_CACHE_HOST_PROXY,
  RF__PROXY_KEY_COUNT
} rf__proxy_key;

typedef enum rf__proxy_kind {
  RF__PROXY_NOT_SET = 0, /* this file says nothing */
  RF__PROXY_DIRECT,      /* "direct" or "none": explicitly no proxy */
  RF__PROXY_URL          /* url is set */
} rf__proxy_kind;

/* The value of proxy, http_proxy or https_proxy. */
typedef struct rf__proxy_value {
  rf__proxy_kind kind;
  /* With RF__PROXY_URL: "scheme://host[:port]", scheme in lower case
   * (http, https, socks4, socks4a, socks5, socks5h; "http://" added to a
   * value without one), host as written (IPv6 in brackets), no userinfo
   * (it moved to rf__proxy_config.user/password), no trailing '/'.
   * NULL otherwise. */
  char *url;
} rf__proxy_value;

/*
 * Parsed settings of one file.  All strings are owned (malloc'd, NUL
 * terminated) and freed by rf__proxy_config_free.  A zeroed struct (or one
 * after rf__proxy_config_free) is "not set": set == 0.
 */
typedef struct rf__proxy_config {
  int set;               /* 1: parsed from an existing file; 0: not set */
  rf__proxy_scope scope; /* the scope it was parsed for */
  char *file;            /* file name for messages; NULL if none was given */
  unsigned line[RF__PROXY_KEY_COUNT]; /* line of each key, 0 = absent */

  rf__proxy_value proxy;       /* every origin scheme */
  rf__proxy_value http_proxy;  /* http:// origins; overrides proxy */
  rf__proxy_value https_proxy; /* https:// origins; overrides proxy */
  char *no_proxy;              /* curl-style list, as written; for
                                  rf__noproxy_match (env.h) */
  char *pac;           /* http(s)/file/data URL or absolute path, as written */
  int wpad;            /* 0 or 1 (default 0) */
  int per_machine;     /* 0 or 1 (default 0); device-wide scope only */
  rf__proxy_auth auth; /* default RF__PROXY_AUTH_SAFE */
  char *ca_file;       /* proxy_ca_file: absolute path, or NULL */
  /* Credentials: from proxy_user, or from the userinfo of the proxy URLs
   * (one file has one set of credentials: both, or two URLs with
   * different userinfo, are an error).  user is never empty; password is
   * NULL when none was given ("USER" without ':'), possibly "" ("USER:").
   * Never in the static scope.  proxy_user is kept as written (like
   * curl's --proxy-user); URL userinfo is %-decoded (like curl's proxy
   * URLs), and may not decode to a NUL byte. */
  char *user;
  char *password;
  /* The cache host keys (rangefetch/cachehost.h; user and device-wide
   * scopes only).  They set no proxy (rf__proxy_config_sets_proxy) and
   * the policy of policy.h ignores them; rf_cache_policy_load merges them
   * key by key.  Whether a key is set: line[key] != 0. */
  rf_cache_host_list *cache_hosts;   /* cache_host, parsed; NULL: not set */
  rf_cache_host_source cache_source; /* cache_host_source; default static */
  int cache_fallback_delay;          /* cache_fallback_delay: seconds, -1 (also
                                        written "never") never; default 0 */
  rf_cache_host_proxy cache_proxy;   /* cache_host_proxy; default auto */
  /* rf__proxy_config_load: the file's mode lets users other than its
   * owner and group read it (a password in it is then exposed; the
   * caller may warn).  Always 0 after rf__proxy_config_parse. */
  int readable_by_others;
} rf__proxy_config;

/* "user", "device-wide", "static", or "?" for anything else. */
const char *rf__proxy_scope_name(rf__proxy_scope scope);

/* "safe", "any", "basic", "digest", "ntlm", "negotiate", or "?". */
const char *rf__proxy_auth_name(rf__proxy_auth auth);

/* The RF_PROXY_AUTH_* mask (rangefetch/proxy.h) for rf_proxy.auth:
 * RF_PROXY_AUTH_SAFE for safe, RF_PROXY_AUTH_ANY for any, else the one
 * scheme's bit (0 for anything else). */
unsigned rf__proxy_auth_bits(rf__proxy_auth auth);

/*
 * Parses text (len bytes, need not be NUL-terminated; NUL bytes inside
 * are errors) as the settings file of the given scope.  filename (may be
 * NULL) is copied into out->file and starts each message: on failure err
 * (errlen may be 0) gets "<filename>:<line>: <reason>", or "line <n>:
 * <reason>" without a filename, or "<filename>: <reason>" when no line is
 * to blame; the reason names the key and, for yes/no, auth, path and
 * the cache keys' values, the offending value, but never anything from a
 * URL, proxy_user or an unparsable line (where a password could be); a
 * cache_host entry holding '@' is not quoted either.
 * out is overwritten (it is not freed first).  On success out->set is 1.
 * Returns 0; RF_EINVAL (the text is malformed: bad UTF-8 or a control
 * character, missing '=', empty key or value, unknown or duplicate key,
 * key not allowed in the scope, bad URL, port, %-escape, boolean, auth
 * name or path, conflicting credentials, bad cache host list (the message
 * names the entry), cache host source, delay or proxy policy; or an
 * argument is wrong: text NULL with len > 0, out NULL, scope out of
 * range); RF_ETOOBIG (len over
 * RF__PROXY_CONFIG_MAX_FILE, a line over RF__PROXY_CONFIG_MAX_LINE);
 * RF_ENOMEM.  On failure *out is "not set" (zeroed) and owns nothing.
 */
int rf__proxy_config_parse(const char *text, size_t len, rf__proxy_scope scope,
                           const char *filename, rf__proxy_config *out,
                           char *err, size_t errlen);

/*
 * Reads path (a regular file; also a pipe or a character device, up to
 * the size limit) and parses it as above, with path as the file name.
 * Returns what rf__proxy_config_parse returns, and:
 * - RF_ENOENT: path (or a directory on the way) does not exist.  *out is
 *   "not set"; err still gets "<path>: no such file".  Callers treat this
 *   as "the scope is absent", not as an error.
 * - RF_EACCES: the file may not be read; err says so.
 * - RF_ETOOBIG: the file is over RF__PROXY_CONFIG_MAX_FILE bytes.
 * - RF_EIO: a directory, or any other read error.
 * On any failure *out is "not set".
 */
int rf__proxy_config_load(const char *path, rf__proxy_scope scope,
                          rf__proxy_config *out, char *err, size_t errlen);

/* Frees what c owns and leaves it "not set".  c may be NULL. */
void rf__proxy_config_free(rf__proxy_config *c);

/*
 * The proxy setting for an origin of the given scheme ("http", "https",
 * any case; NULL or others: only `proxy` applies): http_proxy or
 * https_proxy when this file sets it, else proxy.  Never NULL: a value of
 * kind RF__PROXY_NOT_SET when nothing applies (or c is NULL or not set).
 */
const rf__proxy_value *rf__proxy_config_proxy_for(const rf__proxy_config *c,
                                                  const char *scheme);

/*
 * Whether c names a proxy source the policy can use: any of proxy,
 * http_proxy, https_proxy (a URL or "direct"), pac, or wpad = yes.  A file
 * that only holds no_proxy, credentials, proxy_auth, per_machine or
 * proxy_ca_file sets no proxy.  0 for NULL or "not set".
 */
int rf__proxy_config_sets_proxy(const rf__proxy_config *c);

/*
 * A one-line description for logs, secrets masked, e.g.
 * "device-wide scope (/etc/rangefetch/proxy.conf): proxy=http://p:3128
 *  no_proxy=localhost proxy_user=alice:*** proxy_auth=safe wpad=no"
 * (keys in file order of the table above; only keys the file sets; the
 * pac value masked with rf__proxy_url_mask).  A "not set" c gives
 * "<scope> scope: not set".  Writes at most buflen bytes with a NUL (buf
 * may be NULL when buflen is 0) and returns the length the whole text
 * needs, as snprintf does.
 */
size_t rf__proxy_config_describe(const rf__proxy_config *c, char *buf,
                                 size_t buflen);

/*
 * url with the password of its userinfo replaced by "***":
 * "http://alice:pw@p:3128" -> "http://alice:***@p:3128"; a userinfo
 * without ':' is kept ("http://alice@p"); so is a string with no '@'.  The
 * userinfo runs from after "scheme://" (or the start) to the last '@', and
 * the password from its first ':', so nothing of a password survives even
 * when it holds '@', ':' or '/'.  Same buffer rules and return as
 * rf__proxy_config_describe; NULL url gives "".
 */
size_t rf__proxy_url_mask(const char *url, char *buf, size_t buflen);

#endif
