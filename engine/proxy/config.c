/*
 * Proxy settings files (user, device-wide, static scopes): parsing,
 * validation, loading and masked descriptions.  See config.h for the
 * contract and docs/proxy-config.md for the format.
 *
 * Two rules shape the code:
 * 1. No secret in any output.  Error messages never echo a URL value, a
 *    proxy_user value or an unparsable line (a password may sit there,
 *    even when the line is malformed: "http://alice:pw" without '@' would
 *    otherwise show "pw" as a bad port).  They echo keys only when a key
 *    looks like one, and echo values only for yes/no, proxy_auth and
 *    proxy_ca_file.  Proxy URLs are stored without userinfo.
 * 2. Every mistake is an error naming file and line, never a silent
 *    default: unknown keys, duplicates, empty values, keys a scope does
 *    not allow.
 */
#include "config.h"
#include "disk/fileio.h"
#include "source/cachehost.h"
#include "util/text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rangefetch/proxy.h"
#include "rangefetch/rangefetch.h"

/* Scopes a key is allowed in (bit per rf__proxy_scope). */
#define CFG_U (1u << RF__PROXY_SCOPE_USER)
#define CFG_D (1u << RF__PROXY_SCOPE_DEVICE)
#define CFG_S (1u << RF__PROXY_SCOPE_STATIC)

typedef enum cfg_type {
  CFG_PROXY, /* a proxy URL or direct/none */
  CFG_LIST,  /* no_proxy: kept as written */
  CFG_PAC,
  CFG_BOOL,
  CFG_USER, /* USER or USER:PASSWORD */
  CFG_AUTH,
  CFG_PATH,         /* absolute path */
  CFG_CACHE_HOSTS,  /* HOST[:PORT],... */
  CFG_CACHE_SOURCE, /* static, dhcp, dhcp-force */
  CFG_CACHE_DELAY,  /* seconds, -1 or never */
  CFG_CACHE_PROXY   /* auto, direct */
} cfg_type;

#define CFG_WHY_NETSH                                                       \
  "is not allowed in the static scope: like netsh winhttp, it has no PAC, " \
  "no discovery and no authentication"
#define CFG_WHY_NETSH_ONLY                                               \
  "is not allowed in the static scope: like netsh winhttp, it only has " \
  "proxy, http_proxy, https_proxy and no_proxy"

typedef struct cfg_key {
  const char *name;
  cfg_type type;
  unsigned scopes;
  const char *why_not; /* after "'<name>' ", when the scope forbids it */
} cfg_key;

/* Indexed by rf__proxy_key. */
static const cfg_key cfg_keys[RF__PROXY_KEY_COUNT] = {
  { "proxy", CFG_PROXY, CFG_U | CFG_D | CFG_S, NULL },
  { "http_proxy", CFG_PROXY, CFG_U | CFG_D | CFG_S, NULL },
  { "https_proxy", CFG_PROXY, CFG_U | CFG_D | CFG_S, NULL },
  { "no_proxy", CFG_LIST, CFG_U | CFG_D | CFG_S, NULL },
  { "pac", CFG_PAC, CFG_U | CFG_D, CFG_WHY_NETSH },
  { "wpad", CFG_BOOL, CFG_U | CFG_D, CFG_WHY_NETSH },
  { "proxy_user", CFG_USER, CFG_U | CFG_D, CFG_WHY_NETSH },
  { "proxy_auth", CFG_AUTH, CFG_U | CFG_D, CFG_WHY_NETSH },
  { "per_machine", CFG_BOOL, CFG_D,
    "is only allowed in the device-wide scope: like the policy \"Make "
    "proxy settings per-machine (rather than per-user)\", it is a setting "
    "of the whole device" },
  { "proxy_ca_file", CFG_PATH, CFG_U | CFG_D, CFG_WHY_NETSH_ONLY },
  { "cache_host", CFG_CACHE_HOSTS, CFG_U | CFG_D, CFG_WHY_NETSH_ONLY },
  { "cache_host_source", CFG_CACHE_SOURCE, CFG_U | CFG_D, CFG_WHY_NETSH_ONLY },
  { "cache_fallback_delay", CFG_CACHE_DELAY, CFG_U | CFG_D,
    CFG_WHY_NETSH_ONLY },
  { "cache_host_proxy", CFG_CACHE_PROXY, CFG_U | CFG_D, CFG_WHY_NETSH_ONLY },
};

static const char *const cfg_auth_names[] = {
  "safe", "any", "basic", "digest", "ntlm", "negotiate",
};

static const char *const cfg_proxy_schemes[] = {
  "http", "https", "socks4", "socks4a", "socks5", "socks5h",
};

#define CFG_N(a) (sizeof(a) / sizeof((a)[0]))

/* Longest key or value a message echoes. */
#define CFG_ECHO_MAX 64

typedef struct cfg_parser {
  const char *file; /* NULL: "line N: " */
  char *err;
  size_t errlen;
  unsigned line;
  rf__proxy_config *c;
  rf__proxy_key cred_key; /* where c->user came from, when set */
} cfg_parser;

__attribute__((format(printf, 3, 4))) static int cfg_fail(cfg_parser *p, int rc,
                                                          const char *fmt, ...)
{
  va_list ap;
  int n;

  if (p->err == NULL || p->errlen == 0)
    return rc;
  if (p->file != NULL && p->line > 0)
    n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);
  else if (p->file != NULL)
    n = snprintf(p->err, p->errlen, "%s: ", p->file);
  else if (p->line > 0)
    n = snprintf(p->err, p->errlen, "line %u: ", p->line);
  else
    n = 0;
  if (n < 0 || (size_t)n >= p->errlen)
    return rc;
  va_start(ap, fmt);
  vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return rc;
}

static int cfg_nomem(cfg_parser *p)
{
  return cfg_fail(p, RF_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------- strings */

static char *cfg_strndup(const char *s, size_t n)
{
  char *d = malloc(n + 1);

  if (d != NULL) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static int cfg_is_blank(char c)
{
  return c == ' ' || c == '\t';
}

static int cfg_is_alpha(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int cfg_is_digit(char c)
{
  return c >= '0' && c <= '9';
}

static void cfg_trim(const char **s, size_t *n)
{
  while (*n > 0 && cfg_is_blank(**s)) {
    (*s)++;
    (*n)--;
  }
  while (*n > 0 && cfg_is_blank((*s)[*n - 1]))
    (*n)--;
}

/* Whether [s, s + n) equals lit, ignoring ASCII case. */
static int cfg_eq_nocase(const char *s, size_t n, const char *lit)
{
  return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Whether a key as written may be echoed: [A-Za-z0-9_.-], short. */
static int cfg_echoable_key(const char *s, size_t n)
{
  size_t i;

  if (n == 0 || n > CFG_ECHO_MAX)
    return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];

    if (!cfg_is_alpha(c) && !cfg_is_digit(c) && c != '_' && c != '-' &&
        c != '.')
      return 0;
  }
  return 1;
}

/* An int for "%.*s" of at most CFG_ECHO_MAX bytes. */
static int cfg_echo_len(size_t n)
{
  return (int)(n > CFG_ECHO_MAX ? CFG_ECHO_MAX : n);
}

/*
 * Checks one line: UTF-8, no control characters (tab allowed).  Returns 0,
 * or the 1-based column of the first bad byte with *bad set to it and
 * *utf8 to 1 for a UTF-8 error.
 */
static size_t cfg_check_chars(const unsigned char *s, size_t n,
                              unsigned char *bad, int *utf8)
{
  size_t i = 0;

  while (i < n) {
    unsigned char c = s[i];
    size_t k;

    if (c < 0x80) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        *bad = c;
        *utf8 = 0;
        return i + 1;
      }
      i++;
      continue;
    }
    k = rfx_utf8_len(s + i, n - i);
    if (k == 0) {
      *bad = c;
      *utf8 = 1;
      return i + 1;
    }
    i += k;
  }
  return 0;
}

/* ---------------------------------------------------------------- URLs */

/*
 * Length of the scheme of s when s starts with "scheme:" (a letter, then
 * letters, digits, '+', '-', '.'), else 0.
 */
static size_t cfg_scheme_len(const char *s, size_t n)
{
  size_t i;

  if (n == 0 || !cfg_is_alpha(s[0]))
    return 0;
  for (i = 1; i < n; i++) {
    char c = s[i];

    if (!cfg_is_alpha(c) && !cfg_is_digit(c) && c != '+' && c != '-' &&
        c != '.')
      break;
  }
  return i < n && s[i] == ':' ? i : 0;
}

static const char *cfg_memrchr(const char *s, char c, size_t n)
{
  while (n > 0) {
    n--;
    if (s[n] == c)
      return s + n;
  }
  return NULL;
}

/*
 * Validates "host[:port]" (n bytes: a name, an IPv4 address or a bracketed
 * IPv6 address; port 1-65535).  Returns NULL, or the reason it is bad (a
 * static string that quotes nothing of the input).
 */
static const char *cfg_hostport(const char *s, size_t n)
{
  size_t i = 0, host_len;
  unsigned long port = 0;

  if (n > 0 && s[0] == '[') {
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[16];
    const char *close = memchr(s, ']', n);

    if (close == NULL)
      return "no ']' after the IPv6 address";
    host_len = (size_t)(close - s) - 1;
    if (host_len == 0 || host_len >= sizeof(buf))
      return "bad IPv6 address";
    memcpy(buf, s + 1, host_len);
    buf[host_len] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
      return "bad IPv6 address";
    i = host_len + 2;
    if (i < n && s[i] != ':')
      return "unexpected text after the IPv6 address";
  } else {
    for (; i < n && s[i] != ':'; i++) {
      unsigned char c = (unsigned char)s[i];

      if (!cfg_is_alpha((char)c) && !cfg_is_digit((char)c) && c != '-' &&
          c != '.' && c != '_' && c < 0x80)
        return "invalid character in the host name";
    }
    if (i == 0)
      return "no host";
  }
  if (i == n)
    return NULL;
  /* s[i] == ':' */
  i++;
  if (i == n)
    return "empty port";
  if (n - i > 5)
    return "the port must be a number from 1 to 65535";
  for (; i < n; i++) {
    if (!cfg_is_digit(s[i]))
      return "the port must be a number from 1 to 65535";
    port = port * 10 + (unsigned long)(s[i] - '0');
  }
  if (port < 1 || port > 65535)
    return "the port must be a number from 1 to 65535";
  return NULL;
}

/* ----------------------------------------------------------- the values */

/* Wipes and frees a string that may hold a secret. */
static void cfg_free_secret(char *s)
{
  if (s != NULL) {
    volatile char *v = s;

    while (*v != '\0')
      *v++ = '\0';
    free(s);
  }
}

/*
 * A malloc'd copy of [s, s + n), %-decoded when decode is set.  Returns 0,
 * 1 (a bad escape or one giving a NUL byte), RF_ENOMEM.
 */
static int cfg_decode(const char *s, size_t n, int decode, char **out)
{
  char *d = malloc(n + 1);
  size_t i, j = 0;

  *out = NULL;
  if (d == NULL)
    return RF_ENOMEM;
  for (i = 0; i < n; i++) {
    if (decode && s[i] == '%') {
      int hi = i + 2 < n ? rfx_hexval(s[i + 1]) : -1;
      int lo = i + 2 < n ? rfx_hexval(s[i + 2]) : -1;

      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
        d[j] = '\0';
        cfg_free_secret(d);
        return 1;
      }
      d[j++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      d[j++] = s[i];
    }
  }
  d[j] = '\0';
  *out = d;
  return 0;
}

/*
 * Splits "USER[:PASSWORD]" ([u, u + n), %-decoded when decode is set) into
 * malloc'd *user and *password (NULL without ':').  Returns 0, 1 (bad
 * escape), RF_ENOMEM; on failure both are NULL.
 */
static int cfg_split_creds(const char *u, size_t n, int decode, char **user,
                           char **password)
{
  const char *colon = memchr(u, ':', n);
  size_t ulen = colon != NULL ? (size_t)(colon - u) : n;
  int rc;

  *password = NULL;
  rc = cfg_decode(u, ulen, decode, user);
  if (rc == 0 && colon != NULL)
    rc = cfg_decode(colon + 1, n - ulen - 1, decode, password);
  if (rc != 0) {
    free(*user);
    *user = NULL;
  }
  return rc;
}

static int cfg_bad_escape(cfg_parser *p, const char *name)
{
  return cfg_fail(p, RF_EINVAL,
                  "'%s': bad %%-escape in the credentials of the URL", name);
}

static int cfg_proxy(cfg_parser *p, rf__proxy_key key, const char *v, size_t n)
{
  const char *name = cfg_keys[key].name;
  rf__proxy_value *val = key == RF__PROXY_KEY_PROXY        ? &p->c->proxy
                         : key == RF__PROXY_KEY_HTTP_PROXY ? &p->c->http_proxy
                                                           : &p->c->https_proxy;
  const char *rest = v, *hp, *at, *end, *why, *colon;
  size_t slen, i, rest_len = n, hp_len, scheme_idx = 0;
  char *url, *user, *pass;
  int rc;

  if (cfg_eq_nocase(v, n, "direct") || cfg_eq_nocase(v, n, "none")) {
    val->kind = RF__PROXY_DIRECT;
    return 0;
  }
  for (i = 0; i < n; i++) {
    if (cfg_is_blank(v[i]))
      return cfg_fail(p, RF_EINVAL,
                      "'%s': a proxy URL contains no spaces (a comment "
                      "must be on a line of its own)",
                      name);
  }
  /* "scheme:/" starts a scheme (as in env.c); "host:3128" and
   * "user:pw@host" have none and mean http://. */
  slen = cfg_scheme_len(v, n);
  if (slen > 0 && slen + 1 < n && v[slen + 1] == '/') {
    if (slen + 2 >= n || v[slen + 2] != '/')
      return cfg_fail(p, RF_EINVAL, "'%s': expected '//' after the scheme",
                      name);
    for (scheme_idx = 0; scheme_idx < CFG_N(cfg_proxy_schemes); scheme_idx++) {
      if (cfg_eq_nocase(v, slen, cfg_proxy_schemes[scheme_idx]))
        break;
    }
    if (scheme_idx == CFG_N(cfg_proxy_schemes)) {
      if (slen <= 16)
        return cfg_fail(p, RF_EINVAL,
                        "'%s': unsupported proxy scheme '%.*s' (use http, "
                        "https, socks4, socks4a, socks5 or socks5h)",
                        name, (int)slen, v);
      return cfg_fail(p, RF_EINVAL,
                      "'%s': unsupported proxy scheme (use http, https, "
                      "socks4, socks4a, socks5 or socks5h)",
                      name);
    }
    rest = v + slen + 3;
    rest_len = n - slen - 3;
  }
  /* The userinfo runs to the last '@' (a host never holds one). */
  at = cfg_memrchr(rest, '@', rest_len);
  hp = at != NULL ? at + 1 : rest;
  hp_len = rest_len - (size_t)(hp - rest);
  for (end = hp; end < hp + hp_len; end++) {
    if (*end == '/' || *end == '?' || *end == '#')
      break;
  }
  if (end < hp + hp_len && !(*end == '/' && end + 1 == hp + hp_len))
    return cfg_fail(p, RF_EINVAL,
                    "'%s': a proxy URL has no path, query or fragment", name);
  hp_len = (size_t)(end - hp);
  why = cfg_hostport(hp, hp_len);
  if (why != NULL)
    return cfg_fail(p, RF_EINVAL, "'%s': %s", name, why);

  if (at != NULL) {
    size_t ui_len = (size_t)(at - rest);

    if (p->c->scope == RF__PROXY_SCOPE_STATIC)
      return cfg_fail(p, RF_EINVAL,
                      "'%s' may not carry credentials in the static scope: "
                      "like netsh winhttp, it has no authentication",
                      name);
    colon = memchr(rest, ':', ui_len);
    if (ui_len == 0 || colon == rest)
      return cfg_fail(p, RF_EINVAL,
                      "'%s': the credentials in the URL have no user name",
                      name);
    if (p->c->user != NULL && p->cred_key == RF__PROXY_KEY_PROXY_USER)
      return cfg_fail(p, RF_EINVAL,
                      "'%s' carries credentials in its URL, but proxy_user "
                      "(line %u) sets them already: give them once",
                      name, p->c->line[p->cred_key]);
    rc = cfg_split_creds(rest, ui_len, 1, &user, &pass);
    if (rc == RF_ENOMEM)
      return cfg_nomem(p);
    if (rc != 0)
      return cfg_bad_escape(p, name);
    if (p->c->user == NULL) {
      p->c->user = user;
      p->c->password = pass;
      p->cred_key = key;
    } else {
      int same = strcmp(p->c->user, user) == 0 &&
                 (p->c->password == NULL
                      ? pass == NULL
                      : pass != NULL && strcmp(p->c->password, pass) == 0);

      free(user);
      cfg_free_secret(pass);
      if (!same)
        return cfg_fail(p, RF_EINVAL,
                        "the credentials in the URL of '%s' differ from "
                        "those of '%s' (line %u): a settings file has one "
                        "set of credentials (use proxy_user)",
                        name, cfg_keys[p->cred_key].name,
                        p->c->line[p->cred_key]);
    }
  }

  url = malloc(slen + 3 + hp_len + 8);
  if (url == NULL)
    return cfg_nomem(p);
  strcpy(url, cfg_proxy_schemes[scheme_idx]); /* "http" when none given */
  strcat(url, "://");
  i = strlen(url);
  memcpy(url + i, hp, hp_len);
  url[i + hp_len] = '\0';
  val->kind = RF__PROXY_URL;
  val->url = url;
  return 0;
}

static int cfg_pac(cfg_parser *p, const char *v, size_t n)
{
  size_t slen, i;

  if (v[0] != '/') {
    slen = cfg_scheme_len(v, n);
    if (slen == 0)
      return cfg_fail(p, RF_EINVAL,
                      "'pac' must be an http, https, file or data URL, or "
                      "an absolute path");
    /* A data URL holds a script, spaces and all. */
    for (i = 0; i < n && !cfg_eq_nocase(v, slen, "data"); i++) {
      if (cfg_is_blank(v[i]))
        return cfg_fail(p, RF_EINVAL,
                        "'pac': a URL contains no spaces (a comment must be "
                        "on a line of its own)");
    }
    if (cfg_eq_nocase(v, slen, "http") || cfg_eq_nocase(v, slen, "https")) {
      const char *a, *end, *at, *why;

      if (n < slen + 3 || memcmp(v + slen, "://", 3) != 0)
        return cfg_fail(p, RF_EINVAL, "'pac': expected '//' after the scheme");
      a = v + slen + 3;
      for (end = a; end < v + n; end++) {
        if (*end == '/' || *end == '?' || *end == '#')
          break;
      }
      at = cfg_memrchr(a, '@', (size_t)(end - a));
      if (at != NULL)
        a = at + 1;
      why = cfg_hostport(a, (size_t)(end - a));
      if (why != NULL)
        return cfg_fail(p, RF_EINVAL, "'pac': %s", why);
    } else if (cfg_eq_nocase(v, slen, "file")) {
      if (!(n > 8 && strncasecmp(v, "file:///", 8) == 0) &&
          !(n > 17 && strncasecmp(v, "file://localhost/", 17) == 0))
        return cfg_fail(p, RF_EINVAL,
                        "'pac': a file URL must be file:///absolute/path");
    } else if (cfg_eq_nocase(v, slen, "data")) {
      if (memchr(v, ',', n) == NULL)
        return cfg_fail(p, RF_EINVAL, "'pac': a data URL needs a ','");
    } else {
      return cfg_fail(p, RF_EINVAL,
                      "'pac': unsupported scheme (use http, https, file or "
                      "data, or an absolute path)");
    }
  }
  p->c->pac = cfg_strndup(v, n);
  return p->c->pac == NULL ? cfg_nomem(p) : 0;
}

static int cfg_bool(cfg_parser *p, const char *name, const char *v, size_t n,
                    int *out)
{
  if (cfg_eq_nocase(v, n, "yes")) {
    *out = 1;
  } else if (cfg_eq_nocase(v, n, "no")) {
    *out = 0;
  } else {
    return cfg_fail(p, RF_EINVAL, "'%s' must be yes or no, not '%.*s'", name,
                    cfg_echo_len(n), v);
  }
  return 0;
}

static int cfg_user(cfg_parser *p, const char *v, size_t n)
{
  if (v[0] == ':')
    return cfg_fail(p, RF_EINVAL, "'proxy_user' has no user name before ':'");
  if (p->c->user != NULL)
    return cfg_fail(p, RF_EINVAL,
                    "'proxy_user' conflicts with the credentials in the URL "
                    "of '%s' (line %u): give them once",
                    cfg_keys[p->cred_key].name, p->c->line[p->cred_key]);
  if (cfg_split_creds(v, n, 0, &p->c->user, &p->c->password) != 0)
    return cfg_nomem(p);
  p->cred_key = RF__PROXY_KEY_PROXY_USER;
  return 0;
}

static int cfg_cache_hosts(cfg_parser *p, const char *v, size_t n)
{
  char why[256];
  int rc =
      rf__cache_host_list_parse(&p->c->cache_hosts, v, n, why, sizeof(why));

  if (rc == RF_ENOMEM)
    return cfg_nomem(p);
  if (rc != 0)
    return cfg_fail(p, rc, "'cache_host': %s", why);
  return 0;
}

static int cfg_cache_source(cfg_parser *p, const char *v, size_t n)
{
  static const rf_cache_host_source all[] = { RF_CACHE_HOST_SOURCE_STATIC,
                                              RF_CACHE_HOST_SOURCE_DHCP,
                                              RF_CACHE_HOST_SOURCE_DHCP_FORCE };
  size_t i;

  for (i = 0; i < CFG_N(all); i++) {
    if (cfg_eq_nocase(v, n, rf_cache_host_source_name(all[i]))) {
      p->c->cache_source = all[i];
      return 0;
    }
  }
  return cfg_fail(p, RF_EINVAL,
                  "'cache_host_source' must be static, dhcp or dhcp-force, "
                  "not '%.*s'",
                  cfg_echo_len(n), v);
}

static int cfg_cache_delay(cfg_parser *p, const char *v, size_t n)
{
  long d = 0;
  size_t i;

  if (cfg_eq_nocase(v, n, "never") || (n == 2 && memcmp(v, "-1", 2) == 0)) {
    p->c->cache_fallback_delay = RF_CACHE_FALLBACK_NEVER;
    return 0;
  }
  for (i = 0; i < n && n <= 7; i++) {
    if (!cfg_is_digit(v[i]))
      break;
    d = d * 10 + (v[i] - '0');
  }
  if (i < n || n > 7 || d > RF_CACHE_FALLBACK_DELAY_MAX)
    return cfg_fail(p, RF_EINVAL,
                    "'cache_fallback_delay' must be a number of seconds from "
                    "0 to %d, or -1 or never (never fall back to the "
                    "origin), not '%.*s'",
                    RF_CACHE_FALLBACK_DELAY_MAX, cfg_echo_len(n), v);
  p->c->cache_fallback_delay = (int)d;
  return 0;
}

static int cfg_cache_proxy(cfg_parser *p, const char *v, size_t n)
{
  if (cfg_eq_nocase(v, n, "auto")) {
    p->c->cache_proxy = RF_CACHE_HOST_PROXY_AUTO;
  } else if (cfg_eq_nocase(v, n, "direct")) {
    p->c->cache_proxy = RF_CACHE_HOST_PROXY_DIRECT;
  } else {
    return cfg_fail(p, RF_EINVAL,
                    "'cache_host_proxy' must be auto or direct, not '%.*s'",
                    cfg_echo_len(n), v);
  }
  return 0;
}

static int cfg_value(cfg_parser *p, rf__proxy_key key, const char *v, size_t n)
{
  rf__proxy_config *c = p->c;
  size_t i;

  switch (cfg_keys[key].type) {
  case CFG_PROXY:
    return cfg_proxy(p, key, v, n);
  case CFG_LIST:
    c->no_proxy = cfg_strndup(v, n);
    return c->no_proxy == NULL ? cfg_nomem(p) : 0;
  case CFG_PAC:
    return cfg_pac(p, v, n);
  case CFG_BOOL:
    return cfg_bool(p, cfg_keys[key].name, v, n,
                    key == RF__PROXY_KEY_WPAD ? &c->wpad : &c->per_machine);
  case CFG_USER:
    return cfg_user(p, v, n);
  case CFG_AUTH:
    for (i = 0; i < CFG_N(cfg_auth_names); i++) {
      if (cfg_eq_nocase(v, n, cfg_auth_names[i])) {
        c->auth = (rf__proxy_auth)i;
        return 0;
      }
    }
    return cfg_fail(p, RF_EINVAL,
                    "'proxy_auth' must be one of any, safe, basic, digest, "
                    "ntlm, negotiate, not '%.*s'",
                    cfg_echo_len(n), v);
  case CFG_PATH:
    if (v[0] != '/')
      return cfg_fail(p, RF_EINVAL, "'%s' must be an absolute path, not '%.*s'",
                      cfg_keys[key].name, cfg_echo_len(n), v);
    c->ca_file = cfg_strndup(v, n);
    return c->ca_file == NULL ? cfg_nomem(p) : 0;
  case CFG_CACHE_HOSTS:
    return cfg_cache_hosts(p, v, n);
  case CFG_CACHE_SOURCE:
    return cfg_cache_source(p, v, n);
  case CFG_CACHE_DELAY:
    return cfg_cache_delay(p, v, n);
  case CFG_CACHE_PROXY:
    return cfg_cache_proxy(p, v, n);
  }
  return cfg_fail(p, RF_EINTERNAL, "internal error");
}

/* One line without its terminator. */
static int cfg_line(cfg_parser *p, const char *s, size_t n)
{
  const char *eq, *k, *v;
  size_t kn, vn, col;
  unsigned char bad;
  int utf8, key;

  if (n > RF__PROXY_CONFIG_MAX_LINE)
    return cfg_fail(p, RF_ETOOBIG, "line longer than %u bytes",
                    RF__PROXY_CONFIG_MAX_LINE);
  col = cfg_check_chars((const unsigned char *)s, n, &bad, &utf8);
  if (col != 0)
    return utf8 ? cfg_fail(p, RF_EINVAL, "invalid UTF-8 in column %zu", col)
                : cfg_fail(p, RF_EINVAL,
                           "control character 0x%02x in column %zu",
                           (unsigned)bad, col);
  cfg_trim(&s, &n);
  if (n == 0 || s[0] == '#')
    return 0;
  eq = memchr(s, '=', n);
  if (eq == NULL)
    return cfg_fail(p, RF_EINVAL, "missing '=' (expected 'key = value')");
  k = s;
  kn = (size_t)(eq - s);
  v = eq + 1;
  vn = n - kn - 1;
  cfg_trim(&k, &kn);
  cfg_trim(&v, &vn);
  if (kn == 0)
    return cfg_fail(p, RF_EINVAL, "missing key before '='");
  for (key = 0; key < RF__PROXY_KEY_COUNT; key++) {
    if (strlen(cfg_keys[key].name) == kn &&
        memcmp(cfg_keys[key].name, k, kn) == 0)
      break;
  }
  if (key == RF__PROXY_KEY_COUNT) {
    if (cfg_echoable_key(k, kn))
      return cfg_fail(p, RF_EINVAL, "unknown key '%.*s'", (int)kn, k);
    return cfg_fail(p, RF_EINVAL,
                    "unknown key (keys are lower-case words such as "
                    "'proxy')");
  }
  if ((cfg_keys[key].scopes & (1u << p->c->scope)) == 0)
    return cfg_fail(p, RF_EINVAL, "'%s' %s", cfg_keys[key].name,
                    cfg_keys[key].why_not);
  if (p->c->line[key] != 0)
    return cfg_fail(p, RF_EINVAL, "duplicate key '%s' (first set on line %u)",
                    cfg_keys[key].name, p->c->line[key]);
  if (vn == 0)
    return cfg_fail(p, RF_EINVAL, "'%s' has no value%s", cfg_keys[key].name,
                    cfg_keys[key].type == CFG_PROXY
                        ? " (write 'direct' for no proxy)"
                        : "");
  /* Set before the value, so that a URL's credentials can refer to it. */
  p->c->line[key] = p->line;
  return cfg_value(p, (rf__proxy_key)key, v, vn);
}

int rf__proxy_config_parse(const char *text, size_t len, rf__proxy_scope scope,
                           const char *filename, rf__proxy_config *out,
                           char *err, size_t errlen)
{
  cfg_parser p = { filename, err, errlen, 0, out, RF__PROXY_KEY_PROXY_USER };
  size_t pos = 0;
  int rc = 0;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (out == NULL)
    return cfg_fail(&p, RF_EINVAL, "invalid argument");
  memset(out, 0, sizeof(*out));
  if ((text == NULL && len > 0) || (unsigned)scope >= RF__PROXY_SCOPE_COUNT)
    return cfg_fail(&p, RF_EINVAL, "invalid argument");
  out->scope = scope;
  if (filename != NULL) {
    out->file = strdup(filename);
    if (out->file == NULL) {
      rc = cfg_nomem(&p);
      goto out;
    }
  }
  if (len > RF__PROXY_CONFIG_MAX_FILE) {
    rc = cfg_fail(&p, RF_ETOOBIG, "larger than the limit of %u bytes",
                  RF__PROXY_CONFIG_MAX_FILE);
    goto out;
  }
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
    pos = 3;
  while (pos < len) {
    const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
    size_t n = nl != NULL ? (size_t)(nl - s) : len - pos;

    pos += n + (nl != NULL ? 1 : 0);
    if (n > 0 && s[n - 1] == '\r')
      n--;
    p.line++;
    rc = cfg_line(&p, s, n);
    if (rc != 0)
      goto out;
  }
  out->set = 1;
out:
  if (rc != 0)
    rf__proxy_config_free(out);
  return rc;
}

/* ------------------------------------------------------------- loading */

int rf__proxy_config_load(const char *path, rf__proxy_scope scope,
                          rf__proxy_config *out, char *err, size_t errlen)
{
  cfg_parser p = { path, err, errlen, 0, out, RF__PROXY_KEY_PROXY_USER };
  struct stat st;
  char *buf = NULL;
  size_t len = 0;
  int rc, e;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (out != NULL)
    memset(out, 0, sizeof(*out));
  if (out == NULL || path == NULL)
    return cfg_fail(&p, RF_EINVAL, "invalid argument");
  e = rf__read_file_max(path, RF__PROXY_CONFIG_MAX_FILE, 0, &buf, &len, &st);
  if (e == ENOENT || e == ENOTDIR)
    return cfg_fail(&p, RF_ENOENT, "no such file");
  if (e == EACCES || e == EPERM)
    return cfg_fail(&p, RF_EACCES, "permission denied: the file cannot be "
                                   "read by this user");
  if (e == ENOMEM)
    return cfg_nomem(&p);
  if (e == EISDIR)
    return cfg_fail(&p, RF_EIO, "is a directory, not a settings file");
  if (e == EFBIG)
    return cfg_fail(&p, RF_ETOOBIG, "larger than the limit of %u bytes",
                    RF__PROXY_CONFIG_MAX_FILE);
  if (e != 0)
    return cfg_fail(&p, RF_EIO, "cannot read it (errno %d)", e);
  rc = rf__proxy_config_parse(buf, len, scope, path, out, err, errlen);
  if (rc == 0 && S_ISREG(st.st_mode))
    out->readable_by_others = (st.st_mode & S_IROTH) != 0;
  free(buf);
  return rc;
}

void rf__proxy_config_free(rf__proxy_config *c)
{
  if (c == NULL)
    return;
  free(c->file);
  free(c->proxy.url);
  free(c->http_proxy.url);
  free(c->https_proxy.url);
  free(c->no_proxy);
  free(c->pac);
  free(c->ca_file);
  rf_cache_host_list_free(c->cache_hosts);
  free(c->user);
  cfg_free_secret(c->password); /* not left in freed memory */
  memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------- queries */

const char *rf__proxy_scope_name(rf__proxy_scope scope)
{
  switch (scope) {
  case RF__PROXY_SCOPE_USER:
    return "user";
  case RF__PROXY_SCOPE_DEVICE:
    return "device-wide";
  case RF__PROXY_SCOPE_STATIC:
    return "static";
  case RF__PROXY_SCOPE_COUNT:
    break;
  }
  return "?";
}

const char *rf__proxy_auth_name(rf__proxy_auth auth)
{
  return (unsigned)auth < CFG_N(cfg_auth_names) ? cfg_auth_names[auth] : "?";
}

unsigned rf__proxy_auth_bits(rf__proxy_auth auth)
{
  switch (auth) {
  case RF__PROXY_AUTH_SAFE:
    return RF_PROXY_AUTH_SAFE;
  case RF__PROXY_AUTH_ANY:
    return RF_PROXY_AUTH_ANY;
  case RF__PROXY_AUTH_BASIC:
    return RF_PROXY_AUTH_BASIC;
  case RF__PROXY_AUTH_DIGEST:
    return RF_PROXY_AUTH_DIGEST;
  case RF__PROXY_AUTH_NTLM:
    return RF_PROXY_AUTH_NTLM;
  case RF__PROXY_AUTH_NEGOTIATE:
    return RF_PROXY_AUTH_NEGOTIATE;
  }
  return 0;
}

const rf__proxy_value *rf__proxy_config_proxy_for(const rf__proxy_config *c,
                                                  const char *scheme)
{
  static const rf__proxy_value not_set = { RF__PROXY_NOT_SET, NULL };

  if (c == NULL || !c->set)
    return &not_set;
  if (scheme != NULL && strcasecmp(scheme, "http") == 0 &&
      c->http_proxy.kind != RF__PROXY_NOT_SET)
    return &c->http_proxy;
  if (scheme != NULL && strcasecmp(scheme, "https") == 0 &&
      c->https_proxy.kind != RF__PROXY_NOT_SET)
    return &c->https_proxy;
  return &c->proxy;
}

int rf__proxy_config_sets_proxy(const rf__proxy_config *c)
{
  if (c == NULL || !c->set)
    return 0;
  return c->proxy.kind != RF__PROXY_NOT_SET ||
         c->http_proxy.kind != RF__PROXY_NOT_SET ||
         c->https_proxy.kind != RF__PROXY_NOT_SET || c->pac != NULL || c->wpad;
}

/* --------------------------------------------------------- descriptions */

/* snprintf-like output: copies what fits, counts everything. */
typedef struct cfg_out {
  char *buf;
  size_t cap;
  size_t len;
} cfg_out;

static void out_add(cfg_out *o, const char *s, size_t n)
{
  if (o->len < o->cap) {
    size_t room = o->cap - o->len;

    memcpy(o->buf + o->len, s, n < room ? n : room);
  }
  o->len += n;
}

static void out_str(cfg_out *o, const char *s)
{
  out_add(o, s, strlen(s));
}

static size_t out_end(cfg_out *o)
{
  if (o->cap > 0)
    o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
  return o->len;
}

static void out_mask(cfg_out *o, const char *u)
{
  size_t slen = cfg_scheme_len(u, strlen(u));
  const char *rest = u, *at, *colon;

  if (slen > 0 && strncmp(u + slen, "://", 3) == 0)
    rest = u + slen + 3;
  at = strrchr(rest, '@');
  colon = at != NULL ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
  if (colon == NULL) {
    out_str(o, u);
    return;
  }
  out_add(o, u, (size_t)(colon - u));
  out_str(o, ":***");
  out_str(o, at);
}

size_t rf__proxy_url_mask(const char *url, char *buf, size_t buflen)
{
  cfg_out o = { buf, buflen, 0 };

  if (url != NULL)
    out_mask(&o, url);
  return out_end(&o);
}

size_t rf_url_mask(char *out, size_t size, const char *url)
{
  return rf__proxy_url_mask(url, out, size);
}

static void out_proxy(cfg_out *o, const char *name, const rf__proxy_value *v)
{
  if (v->kind == RF__PROXY_NOT_SET)
    return;
  out_str(o, " ");
  out_str(o, name);
  out_str(o, "=");
  out_str(o, v->kind == RF__PROXY_DIRECT ? "direct" : v->url);
}

static void out_kv(cfg_out *o, const char *name, const char *v)
{
  out_str(o, " ");
  out_str(o, name);
  out_str(o, "=");
  out_str(o, v);
}

size_t rf__proxy_config_describe(const rf__proxy_config *c, char *buf,
                                 size_t buflen)
{
  cfg_out o = { buf, buflen, 0 };
  size_t before;

  if (c == NULL || !c->set) {
    out_str(&o, c != NULL ? rf__proxy_scope_name(c->scope) : "proxy");
    out_str(&o, " scope: not set");
    return out_end(&o);
  }
  out_str(&o, rf__proxy_scope_name(c->scope));
  out_str(&o, " scope");
  if (c->file != NULL) {
    out_str(&o, " (");
    out_str(&o, c->file);
    out_str(&o, ")");
  }
  out_str(&o, ":");
  before = o.len;
  out_proxy(&o, "proxy", &c->proxy);
  out_proxy(&o, "http_proxy", &c->http_proxy);
  out_proxy(&o, "https_proxy", &c->https_proxy);
  if (c->no_proxy != NULL)
    out_kv(&o, "no_proxy", c->no_proxy);
  if (c->pac != NULL) {
    out_str(&o, " pac=");
    out_mask(&o, c->pac);
  }
  if (c->line[RF__PROXY_KEY_WPAD] != 0)
    out_kv(&o, "wpad", c->wpad ? "yes" : "no");
  if (c->user != NULL) {
    out_str(&o, c->line[RF__PROXY_KEY_PROXY_USER] != 0 ? " proxy_user="
                                                       : " credentials=");
    out_str(&o, c->user);
    if (c->password != NULL)
      out_str(&o, ":***");
    if (c->line[RF__PROXY_KEY_PROXY_USER] == 0)
      out_str(&o, " (from the proxy URL)");
  }
  if (c->line[RF__PROXY_KEY_PROXY_AUTH] != 0)
    out_kv(&o, "proxy_auth", rf__proxy_auth_name(c->auth));
  if (c->line[RF__PROXY_KEY_PER_MACHINE] != 0)
    out_kv(&o, "per_machine", c->per_machine ? "yes" : "no");
  if (c->ca_file != NULL)
    out_kv(&o, "proxy_ca_file", c->ca_file);
  if (c->cache_hosts != NULL) {
    size_t i;

    out_str(&o, " cache_host=");
    for (i = 0; i < c->cache_hosts->count; i++) {
      char one[RF__CACHE_HOST_TEXT_MAX];

      rf_cache_host_format(one, sizeof(one), &c->cache_hosts->hosts[i]);
      if (i > 0)
        out_str(&o, ",");
      out_str(&o, one);
    }
  }
  if (c->line[RF__PROXY_KEY_CACHE_HOST_SOURCE] != 0)
    out_kv(&o, "cache_host_source", rf_cache_host_source_name(c->cache_source));
  if (c->line[RF__PROXY_KEY_CACHE_FALLBACK_DELAY] != 0) {
    char num[16];

    snprintf(num, sizeof(num), "%d", c->cache_fallback_delay);
    out_kv(&o, "cache_fallback_delay", num);
  }
  if (c->line[RF__PROXY_KEY_CACHE_HOST_PROXY] != 0)
    out_kv(&o, "cache_host_proxy", rf_cache_host_proxy_name(c->cache_proxy));
  if (o.len == before)
    out_str(&o, " no settings");
  if (c->password != NULL && c->readable_by_others)
    out_str(&o, " (warning: the file holds a password and other users "
                "can read it)");
  return out_end(&o);
}
