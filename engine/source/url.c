/*
 * The Connected-Cache URL form and the host of a URL: see source/url.h.
 * Every URL is taken apart and put together by libcurl's URL API.
 */
#include "source/url.h"

#include <curl/curl.h>
#include <xxhash.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rangefetch/cachehost.h"
#include "rangefetch/proxy.h"
#include "rangefetch/rangefetch.h"
#include "util/text.h"

/* A URL as it may appear in a message: password masked, length capped. */
typedef struct shown_url {
  char s[256];
} shown_url;

static const char *shown(shown_url *b, const char *url)
{
  rf_url_mask(b->s, sizeof(b->s), url);
  return b->s;
}

/* RF_ENOMEM for libcurl's out-of-memory code, else fallback. */
static int curl_rc(CURLUcode uc, int fallback)
{
  return uc == CURLUE_OUT_OF_MEMORY ? RF_ENOMEM : fallback;
}

static char *dup_or_null(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);

  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

/*
 * Parse url into u; it must be absolute, http or https, with a host.  what
 * names it in messages ("origin URL").  Returns 0, RF_EURL or RF_ENOMEM.
 */
static int parse_http_url(CURLU *u, const char *what, const char *url,
                          char *err, size_t errlen)
{
  char *scheme = NULL, *host = NULL;
  shown_url b;
  CURLUcode uc;
  int rc = RF_EURL;

  uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
  if (uc == CURLUE_NO_SCHEME || uc == CURLUE_BAD_SCHEME) {
    rf__errbuf_set(err, errlen,
                   "%s '%s' has no scheme: expected http:// or https://", what,
                   shown(&b, url));
    goto out;
  }
  if (uc != CURLUE_OK) {
    rc = curl_rc(uc, RF_EURL);
    rf__errbuf_set(err, errlen, "%s '%s' is not a valid URL: %s", what,
                   shown(&b, url), curl_url_strerror(uc));
    goto out;
  }
  uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  if (uc != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    rc = curl_rc(uc, RF_EURL);
    rf__errbuf_set(err, errlen,
                   "%s '%s' has the scheme '%s': only http and https are "
                   "supported",
                   what, shown(&b, url), scheme != NULL ? scheme : "");
    goto out;
  }
  uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
  if (uc != CURLUE_OK || host[0] == '\0') {
    rc = curl_rc(uc, RF_EURL);
    rf__errbuf_set(err, errlen, "%s '%s' has no host", what, shown(&b, url));
    goto out;
  }
  rc = 0;
out:
  curl_free(scheme);
  curl_free(host);
  return rc;
}

/* Whether s holds two ':' or more: an IPv6 address missing its brackets. */
static int looks_like_bare_ipv6(const char *s)
{
  const char *colon = strchr(s, ':');

  return s[0] != '[' && colon != NULL && strchr(colon + 1, ':') != NULL;
}

/*
 * Parse the cache host "HOST[:PORT]" (IPv6 in brackets) with libcurl, as
 * the authority of "http://HOST[:PORT]/", into c; it must hold nothing
 * else (no user information, path, query or fragment).  Returns 0, RF_EURL
 * or RF_ENOMEM.
 */
static int parse_cache_host(CURLU *c, const char *cache_host, char *err,
                            size_t errlen)
{
  size_t n = strlen(cache_host);
  char *text = NULL, *part = NULL;
  shown_url b;
  CURLUcode uc;
  int rc = RF_EURL;

  if (n == 0) {
    rf__errbuf_set(err, errlen,
                   "the cache host is empty: expected "
                   "HOST, HOST:PORT or [IPv6]:PORT");
    return RF_EURL;
  }
  if (cache_host[n - 1] == ':') {
    rf__errbuf_set(err, errlen, "cache host '%s' has an empty port",
                   shown(&b, cache_host));
    return RF_EURL;
  }
  text = malloc(n + sizeof("http:///"));
  if (text == NULL)
    return RF_ENOMEM;
  snprintf(text, n + sizeof("http:///"), "http://%s/", cache_host);
  uc = curl_url_set(c, CURLUPART_URL, text, 0);
  if (uc == CURLUE_BAD_PORT_NUMBER && looks_like_bare_ipv6(cache_host)) {
    rf__errbuf_set(err, errlen,
                   "cache host '%s': an IPv6 address needs brackets, "
                   "as in [::1]:8080",
                   shown(&b, cache_host));
    goto out;
  }
  if (uc == CURLUE_BAD_PORT_NUMBER) {
    rf__errbuf_set(err, errlen,
                   "cache host '%s': the port is not a number from 1 to "
                   "65535",
                   shown(&b, cache_host));
    goto out;
  }
  if (uc != CURLUE_OK) {
    rc = curl_rc(uc, RF_EURL);
    rf__errbuf_set(err, errlen, "cache host '%s' is not HOST[:PORT]: %s",
                   shown(&b, cache_host), curl_url_strerror(uc));
    goto out;
  }
  uc = curl_url_get(c, CURLUPART_USER, &part, 0);
  if (uc != CURLUE_NO_USER) {
    rc = curl_rc(uc, RF_EURL);
    rf__errbuf_set(err, errlen,
                   "cache host '%s' holds user information: expected "
                   "HOST[:PORT]",
                   shown(&b, cache_host));
    goto out;
  }
  uc = curl_url_get(c, CURLUPART_PATH, &part, 0);
  if (uc != CURLUE_OK || strcmp(part, "/") != 0) {
    rc = curl_rc(uc, RF_EURL);
    rf__errbuf_set(err, errlen,
                   "cache host '%s' has a path: expected HOST[:PORT]",
                   shown(&b, cache_host));
    goto out;
  }
  curl_free(part);
  part = NULL;
  uc = curl_url_get(c, CURLUPART_QUERY, &part, 0);
  if (uc == CURLUE_OK || uc == CURLUE_OUT_OF_MEMORY) {
    rc = curl_rc(uc, RF_EURL);
    rf__errbuf_set(err, errlen,
                   "cache host '%s' has a query: expected HOST[:PORT]",
                   shown(&b, cache_host));
    goto out;
  }
  uc = curl_url_get(c, CURLUPART_FRAGMENT, &part, 0);
  if (uc == CURLUE_OK || uc == CURLUE_OUT_OF_MEMORY) {
    rc = curl_rc(uc, RF_EURL);
    rf__errbuf_set(err, errlen,
                   "cache host '%s' has a fragment: expected HOST[:PORT]",
                   shown(&b, cache_host));
    goto out;
  }
  uc = curl_url_get(c, CURLUPART_PORT, &part, 0);
  if (uc == CURLUE_OK && strtoul(part, NULL, 10) == 0) {
    rf__errbuf_set(err, errlen,
                   "cache host '%s': the port is not a number from 1 to "
                   "65535",
                   shown(&b, cache_host));
    goto out;
  }
  if (uc == CURLUE_OUT_OF_MEMORY) {
    rc = RF_ENOMEM;
    goto out;
  }
  rc = 0;
out:
  curl_free(part);
  free(text);
  return rc;
}

/* Set part of u to v (NULL clears it). Returns 0, RF_EURL or RF_ENOMEM. */
static int set_part(CURLU *u, CURLUPart what, const char *v, unsigned int flags,
                    char *err, size_t errlen)
{
  CURLUcode uc = curl_url_set(u, what, v, flags);

  if (uc == CURLUE_OK)
    return 0;
  rf__errbuf_set(err, errlen, "cannot build the cache host URL: %s",
                 curl_url_strerror(uc));
  return curl_rc(uc, RF_EURL);
}

/* Get part of c into *v (NULL when absent). Returns 0 or RF_ENOMEM. */
static int get_part(CURLU *c, CURLUPart what, char **v)
{
  CURLUcode uc = curl_url_get(c, what, v, 0);

  if (uc == CURLUE_OUT_OF_MEMORY)
    return RF_ENOMEM;
  if (uc != CURLUE_OK)
    *v = NULL;
  return 0;
}

int rf__source_cache_url(const char *origin_url, const char *cache_host,
                         char **out, char *err, size_t errlen)
{
  CURLU *u = NULL, *c = NULL;
  char *origin_host = NULL, *scheme = NULL, *host = NULL, *port = NULL;
  char *zone = NULL, *url = NULL, *query = NULL;
  const char *default_port;
  size_t qlen;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (origin_url == NULL || cache_host == NULL || out == NULL) {
    rf__errbuf_set(err, errlen, "cache host URL: an argument is NULL");
    return RF_EINVAL;
  }
  u = curl_url();
  c = curl_url();
  rc = RF_ENOMEM;
  if (u == NULL || c == NULL)
    goto out;
  rc = parse_http_url(u, "origin URL", origin_url, err, errlen);
  if (rc != 0)
    goto out;
  rc = parse_cache_host(c, cache_host, err, errlen);
  if (rc != 0)
    goto out;
  rc = RF_ENOMEM;
  if (curl_url_get(u, CURLUPART_HOST, &origin_host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(c, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      get_part(c, CURLUPART_PORT, &port) != 0 ||
      get_part(c, CURLUPART_ZONEID, &zone) != 0)
    goto out;
  default_port = strcmp(scheme, "https") == 0 ? "443" : "80";
  if (port != NULL && strcmp(port, default_port) == 0) {
    curl_free(port);
    port = NULL;
  }
  qlen = sizeof("cacheHostOrigin=") + strlen(origin_host);
  query = malloc(qlen);
  if (query == NULL)
    goto out;
  snprintf(query, qlen, "cacheHostOrigin=%s", origin_host);
  if ((rc = set_part(u, CURLUPART_USER, NULL, 0, err, errlen)) != 0 ||
      (rc = set_part(u, CURLUPART_PASSWORD, NULL, 0, err, errlen)) != 0 ||
      (rc = set_part(u, CURLUPART_OPTIONS, NULL, 0, err, errlen)) != 0 ||
      (rc = set_part(u, CURLUPART_FRAGMENT, NULL, 0, err, errlen)) != 0 ||
      (rc = set_part(u, CURLUPART_HOST, host, 0, err, errlen)) != 0 ||
      (rc = set_part(u, CURLUPART_ZONEID, zone, 0, err, errlen)) != 0 ||
      (rc = set_part(u, CURLUPART_PORT, port, 0, err, errlen)) != 0 ||
      (rc = set_part(u, CURLUPART_QUERY, query,
                     CURLU_APPENDQUERY | CURLU_URLENCODE, err, errlen)) != 0)
    goto out;
  rc = RF_ENOMEM;
  if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
    goto out;
  *out = dup_or_null(url);
  rc = *out != NULL ? 0 : RF_ENOMEM;
out:
  if (rc == RF_ENOMEM)
    rf__errbuf_set(err, errlen, "cache host URL: %s", rf_strerror(rc));
  free(query);
  curl_free(origin_host);
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(zone);
  curl_free(url);
  curl_url_cleanup(u);
  curl_url_cleanup(c);
  return rc;
}

int rf__source_url_host(const char *url, char **out, char *err, size_t errlen)
{
  CURLU *u = NULL;
  char *host = NULL, *p;
  int rc = RF_ENOMEM;

  if (out != NULL)
    *out = NULL;
  if (url == NULL || out == NULL) {
    rf__errbuf_set(err, errlen, "URL host: an argument is NULL");
    return RF_EINVAL;
  }
  u = curl_url();
  if (u == NULL)
    goto out;
  rc = parse_http_url(u, "URL", url, err, errlen);
  if (rc != 0)
    goto out;
  rc = RF_ENOMEM;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
    goto out;
  for (p = host; *p != '\0'; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  *out = dup_or_null(host);
  rc = *out != NULL ? 0 : RF_ENOMEM;
out:
  if (rc == RF_ENOMEM)
    rf__errbuf_set(err, errlen, "URL host: %s", rf_strerror(rc));
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

int rf_cache_host_url(char **out, const char *origin_url,
                      const char *cache_host, char *err, size_t errlen)
{
  if (out == NULL)
    return RF_EINVAL;
  return rf__source_cache_url(origin_url, cache_host, out, err, errlen);
}

char *rf__hrw_key(const char *url)
{
  CURLU *u = curl_url();
  char *tmp = NULL, *out = NULL;

  if (u == NULL)
    return NULL;
  if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &tmp, 0) == CURLUE_OK)
      out = strdup(tmp);
  }
  curl_free(tmp);
  curl_url_cleanup(u);
  return out;
}

int rf__hrw_pick(const char *key, uint64_t piece, const char *const *hosts,
                 size_t n, const int *usable)
{
  char buf[2048];
  size_t k;
  int best = -1;
  uint64_t best_w = 0;

  for (k = 0; k < n; k++) {
    int len;
    uint64_t w;
    if (usable != NULL && !usable[k])
      continue;
    len = snprintf(buf, sizeof(buf), "%s\n%llu\n%s", key,
                   (unsigned long long)piece, hosts[k]);
    if (len < 0)
      continue;
    w = XXH3_64bits(buf, (size_t)len < sizeof(buf) ? (size_t)len
                                                   : sizeof(buf) - 1);
    if (best < 0 || w > best_w) {
      best = (int)k;
      best_w = w;
    }
  }
  return best;
}

int rf_cache_host_pick(const char *url, uint64_t piece,
                       const char *const *hosts, size_t n, const int *usable)
{
  char *key;
  int h;

  if (url == NULL || hosts == NULL)
    return -1;
  key = rf__hrw_key(url);
  h = rf__hrw_pick(key != NULL ? key : url, piece, hosts, n, usable);
  free(key);
  return h;
}
