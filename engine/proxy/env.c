/*
 * The `env` proxy rules (curl's environment variables), as pure functions.
 *
 * Every rule below was checked against Debian's curl 7.88.1 binary (curl
 * -v with the variables set, see tests/test_env.c), and the code follows
 * it, with these deliberate differences (docs/proxy-env.md explains them):
 *
 * 1. IPv6 hosts.  curl 7.88.1 hands Curl_check_noproxy() the host without
 *    its brackets, so the function takes an IPv6 address for a host name:
 *    "::1" matches only the same spelling ("0:0::1" does not, curl issue
 *    #5745), "[::1]" never matches, and CIDR entries ("fd00::/8",
 *    "2001:db8::/64", even "::1/128") never match (curl PR #19828).  Had the
 *    address reached the CIDR code, prefixes not divisible by 8 would still
 *    be inverted ("fe80::/10" matching fec0::1 but not fe80::1; fixed in
 *    8.17.0).  We parse IPv6 hosts and entries with inet_pton and compare
 *    the first /bits bits, with or without brackets around the entry.
 * 2. IPv4 "/0".  curl treats a prefix length of 0 as "no prefix" and
 *    compares the whole address, so "0.0.0.0/0" only matches 0.0.0.0.  We
 *    match every IPv4 address, as CIDR says.
 * 3. A malformed prefix length ("10.1.2.3/", "10.1.2.3/x") makes curl
 *    compare the whole address (atoi gives 0, see 2); for us the entry
 *    matches nothing, like "/33".
 * 4. Proxy values without a scheme: curl guesses the scheme from the host
 *    name ("ftp.corp:3128" becomes ftp:// and is refused as a proxy
 *    scheme); we always prepend "http://".
 */
#include "env.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rangefetch/rangefetch.h"

/*
 * The variable names for each scheme libcurl 7.88.1 knows.  curl reads
 * "<scheme>_proxy", then the upper-case name, except HTTP_PROXY (NULL).
 * The names are static strings because *source points at them.
 */
typedef struct env_scheme_vars {
  const char *scheme;
  const char *lower;
  const char *upper; /* NULL: not read */
} env_scheme_vars;

static const env_scheme_vars env_schemes[] = {
  { "http", "http_proxy", NULL },
  { "https", "https_proxy", "HTTPS_PROXY" },
  { "dict", "dict_proxy", "DICT_PROXY" },
  { "ftp", "ftp_proxy", "FTP_PROXY" },
  { "ftps", "ftps_proxy", "FTPS_PROXY" },
  { "gopher", "gopher_proxy", "GOPHER_PROXY" },
  { "gophers", "gophers_proxy", "GOPHERS_PROXY" },
  { "imap", "imap_proxy", "IMAP_PROXY" },
  { "imaps", "imaps_proxy", "IMAPS_PROXY" },
  { "ldap", "ldap_proxy", "LDAP_PROXY" },
  { "ldaps", "ldaps_proxy", "LDAPS_PROXY" },
  { "mqtt", "mqtt_proxy", "MQTT_PROXY" },
  { "pop3", "pop3_proxy", "POP3_PROXY" },
  { "pop3s", "pop3s_proxy", "POP3S_PROXY" },
  { "rtsp", "rtsp_proxy", "RTSP_PROXY" },
  { "scp", "scp_proxy", "SCP_PROXY" },
  { "sftp", "sftp_proxy", "SFTP_PROXY" },
  { "smb", "smb_proxy", "SMB_PROXY" },
  { "smbs", "smbs_proxy", "SMBS_PROXY" },
  { "smtp", "smtp_proxy", "SMTP_PROXY" },
  { "smtps", "smtps_proxy", "SMTPS_PROXY" },
  { "telnet", "telnet_proxy", "TELNET_PROXY" },
  { "tftp", "tftp_proxy", "TFTP_PROXY" },
};

enum env_host_kind { ENV_HOST_NAME, ENV_HOST_IPV4, ENV_HOST_IPV6 };

/* ------------------------------------------------------------ no_proxy */

static int env_is_sep(char c)
{
  return c == ',' || c == ' ' || c == '\t';
}

/*
 * A name entry (len bytes at e) against host (host_len bytes, its trailing
 * dot already dropped).  As curl: one trailing and then one leading dot
 * of the entry are ignored; the host matches when it equals the entry or
 * ends with "." followed by the entry, case-insensitively.
 */
static int env_name_match(const char *e, size_t len, const char *host,
                          size_t host_len)
{
  if (len > 0 && e[len - 1] == '.')
    len--;
  if (len > 0 && e[0] == '.') {
    e++;
    len--;
  }
  if (len == 0 || len > host_len)
    return 0;
  if (len < host_len && host[host_len - len - 1] != '.')
    return 0;
  return strncasecmp(host + host_len - len, e, len) == 0;
}

/* Whether the first bits bits of a and b are equal. */
static int env_prefix_equal(const unsigned char *a, const unsigned char *b,
                            unsigned bits)
{
  size_t bytes = bits / 8;
  unsigned rest = bits % 8;
  unsigned mask;

  if (bytes > 0 && memcmp(a, b, bytes) != 0)
    return 0;
  if (rest == 0)
    return 1;
  mask = (0xffu << (8 - rest)) & 0xffu;
  return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

/*
 * An address entry (len bytes at e: "10.1.2.3", "10.0.0.0/8", "::1",
 * "[::1]", "fd00::/8", "[fd00::]/8") against addr, an address of family
 * af.  The prefix length must be 0 to 32 (IPv4) or 0 to 128 (IPv6) in
 * decimal; anything else, or an address of the other family, matches
 * nothing.  Brackets are accepted around IPv6 addresses only.
 */
static int env_addr_match(const char *e, size_t len, int af,
                          const unsigned char *addr)
{
  char buf[INET6_ADDRSTRLEN + 1];
  unsigned char net[16];
  const char *slash = memchr(e, '/', len);
  size_t alen = slash != NULL ? (size_t)(slash - e) : len;
  unsigned full = af == AF_INET ? 32 : 128, bits = full;

  if (slash != NULL) {
    const char *d = slash + 1, *end = e + len;

    if (d == end || end - d > 3)
      return 0;
    bits = 0;
    for (; d < end; d++) {
      if (*d < '0' || *d > '9')
        return 0;
      bits = bits * 10 + (unsigned)(*d - '0');
    }
    if (bits > full)
      return 0;
  }
  if (af == AF_INET6 && alen >= 2 && e[0] == '[' && e[alen - 1] == ']') {
    e++;
    alen -= 2;
  }
  if (alen == 0 || alen >= sizeof(buf))
    return 0;
  memcpy(buf, e, alen);
  buf[alen] = '\0';
  if (inet_pton(af, buf, net) != 1)
    return 0;
  return env_prefix_equal(addr, net, bits);
}

int rf__noproxy_match(const char *host, const char *noproxy)
{
  unsigned char addr[16];
  enum env_host_kind kind = ENV_HOST_NAME;
  size_t host_len;
  const char *p;

  if (host == NULL || host[0] == '\0' || noproxy == NULL || noproxy[0] == '\0')
    return 0;
  /* Only the whole value "*" is a wildcard (curl: " *" and "a,*" are
   * not); "*" inside a list is compared as a name and never matches. */
  if (strcmp(noproxy, "*") == 0)
    return 1;
  host_len = strlen(host);
  if (inet_pton(AF_INET, host, addr) == 1) {
    kind = ENV_HOST_IPV4;
  } else if (inet_pton(AF_INET6, host, addr) == 1) {
    kind = ENV_HOST_IPV6;
  } else if (host[host_len - 1] == '.') {
    host_len--; /* "example.com." is example.com */
  }
  /* Entries are separated by any run of commas, spaces and tabs (curl
   * 7.88.1 still accepts spaces; later versions warn). */
  p = noproxy;
  while (*p != '\0') {
    const char *e;
    size_t len;

    while (env_is_sep(*p))
      p++;
    e = p;
    while (*p != '\0' && !env_is_sep(*p))
      p++;
    len = (size_t)(p - e);
    if (len == 0)
      continue;
    if (kind == ENV_HOST_NAME) {
      if (env_name_match(e, len, host, host_len))
        return 1;
    } else if (env_addr_match(
                   e, len, kind == ENV_HOST_IPV4 ? AF_INET : AF_INET6, addr)) {
      return 1;
    }
  }
  return 0;
}

/* ----------------------------------------------------------- variables */

const char *rf__env_getenv(const char *name, void *user_data)
{
  (void)user_data;
  return getenv(name);
}

/* The value of name when set and not empty (curl_getenv's rule), or NULL. */
static const char *env_value(rf__env_get_fn get, void *user_data,
                             const char *name)
{
  const char *v = get(name, user_data);

  return v != NULL && v[0] != '\0' ? v : NULL;
}

/*
 * Whether a proxy value names its scheme.  As curl's URL parser does for
 * a scheme-less string: letters, digits, '+', '-', '.' starting with a
 * letter, then ":/".  "proxy:3128" and "user:pw@proxy" have none.
 */
static int env_has_scheme(const char *v)
{
  size_t i;

  if (!((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
    return 0;
  for (i = 1; v[i] != '\0'; i++) {
    char c = v[i];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
      break;
  }
  return v[i] == ':' && v[i + 1] == '/';
}

/* A malloc'd copy of the proxy value, with "http://" when it has no
 * scheme, or NULL (no memory). */
static char *env_proxy_url(const char *v)
{
  static const char prefix[] = "http://";
  size_t len = strlen(v);
  char *url;

  if (env_has_scheme(v))
    return strdup(v);
  url = malloc(sizeof(prefix) - 1 + len + 1);
  if (url == NULL)
    return NULL;
  memcpy(url, prefix, sizeof(prefix) - 1);
  memcpy(url + sizeof(prefix) - 1, v, len + 1);
  return url;
}

static int env_url_err(CURLUcode uc)
{
  return uc == CURLUE_OUT_OF_MEMORY ? RF_ENOMEM : RF_EURL;
}

/*
 * The scheme (lower case) and host of url: the host without brackets and
 * zone, IDN names in punycode (curl compares the punycode form).
 */
static int env_url_parts(const char *url, char **scheme, char **host)
{
  CURLU *u = curl_url();
  CURLUcode uc;
  size_t len;
  int err = 0;

  *scheme = NULL;
  *host = NULL;
  if (u == NULL) {
    err = RF_ENOMEM;
    goto out;
  }
  uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_get(u, CURLUPART_SCHEME, scheme, 0);
  if (uc != CURLUE_OK) {
    err = env_url_err(uc);
    goto out;
  }
  uc = curl_url_get(u, CURLUPART_HOST, host, CURLU_PUNYCODE);
  if (uc != CURLUE_OK && uc != CURLUE_NO_HOST) {
    /* A name libidn2 cannot convert (it reads the locale's charset; curl
     * 7.88.1 then says "out of memory" and may still have set *host), or
     * a libcurl without IDN: compare the name as given. */
    curl_free(*host);
    *host = NULL;
    uc = curl_url_get(u, CURLUPART_HOST, host, 0);
  }
  if (uc != CURLUE_OK) {
    err = env_url_err(uc);
    goto out;
  }
  len = strlen(*host);
  if (len >= 2 && (*host)[0] == '[' && (*host)[len - 1] == ']') {
    memmove(*host, *host + 1, len - 2);
    (*host)[len - 2] = '\0';
    len -= 2;
  }
  if (len == 0)
    err = RF_EURL;
out:
  if (err != 0) {
    curl_free(*scheme);
    curl_free(*host);
    *scheme = NULL;
    *host = NULL;
  }
  curl_url_cleanup(u);
  return err;
}

int rf__env_proxy_for(const char *url, rf__env_get_fn get, void *user_data,
                      char **out, const char **source)
{
  static const char *const fallback[] = { "all_proxy", "ALL_PROXY" };
  const char *names[4];
  const char *value = NULL, *var = NULL, *from = NULL, *np;
  char *scheme = NULL, *host = NULL;
  size_t i, n = 0;
  int err;

  if (source != NULL)
    *source = NULL;
  if (out == NULL)
    return RF_EINVAL;
  *out = NULL;
  if (get == NULL)
    return RF_EINVAL;
  if (url == NULL)
    return RF_EURL;
  err = env_url_parts(url, &scheme, &host);
  if (err != 0)
    goto out;

  /* A scheme outside the table (one a newer libcurl added) has no
   * scheme variable of its own: only all_proxy applies. */
  for (i = 0; i < sizeof(env_schemes) / sizeof(env_schemes[0]); i++) {
    if (strcmp(env_schemes[i].scheme, scheme) == 0) {
      names[n++] = env_schemes[i].lower;
      if (env_schemes[i].upper != NULL)
        names[n++] = env_schemes[i].upper;
      break;
    }
  }
  names[n++] = fallback[0];
  names[n++] = fallback[1];
  for (i = 0; i < n && value == NULL; i++) {
    value = env_value(get, user_data, names[i]);
    var = names[i];
  }
  if (value == NULL)
    goto out; /* nothing set: direct, from NULL */

  from = "no_proxy";
  np = env_value(get, user_data, from);
  if (np == NULL) {
    from = "NO_PROXY";
    np = env_value(get, user_data, from);
  }
  if (np != NULL && rf__noproxy_match(host, np))
    goto out; /* direct, decided by from */

  from = var;
  *out = env_proxy_url(value);
  if (*out == NULL) {
    from = NULL;
    err = RF_ENOMEM;
  }
out:
  if (source != NULL)
    *source = err == 0 ? from : NULL;
  curl_free(scheme);
  curl_free(host);
  return err;
}

/* ------------------------------------------------ as a chain resolver */

static void env_resolve(void *self, rf_resolve_req *req,
                        const rf_resolve_info *info)
{
  char *proxy = NULL, buf[1024], detail[400];
  const char *source = NULL;
  rf_proxy p;
  int rc;

  (void)self;
  rc = rf__env_proxy_for(info->url, rf__env_getenv, NULL, &proxy, &source);
  if (rc != 0) {
    rf_resolve_answer(req, RF_RESOLVE_ERROR, NULL, 0, rf_strerror(rc));
    return;
  }
  if (source == NULL) {
    rf_resolve_answer(req, RF_RESOLVE_PASS, NULL, 0,
                      "no proxy variable is set");
    return;
  }
  if (proxy == NULL) {
    memset(&p, 0, sizeof(p));
    snprintf(detail, sizeof(detail), "%s lists %s: direct", source,
             info->host);
    rf_resolve_answer(req, RF_RESOLVE_OK, &p, 1, detail);
    return;
  }
  rc = rf_proxy_parse(&p, buf, sizeof(buf), proxy);
  free(proxy);
  if (rc != 0) {
    snprintf(detail, sizeof(detail), "%s is not a usable proxy URL", source);
    rf_resolve_answer(req, RF_RESOLVE_ERROR, NULL, 0, detail);
    return;
  }
  snprintf(detail, sizeof(detail), "%s", source);
  rf_resolve_answer(req, RF_RESOLVE_OK, &p, 1, detail);
  memset(buf, 0, sizeof(buf)); /* a password may be in it */
}

static void env_cancel(void *self, rf_resolve_req *req)
{
  (void)self;
  (void)req;
}

static const rf_resolver_ops env_ops = { "env", env_resolve, env_cancel, NULL,
                                         NULL };

const rf_resolver_ops *rf__env_ops(void)
{
  return &env_ops;
}
