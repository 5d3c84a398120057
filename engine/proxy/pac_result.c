/*
 * PAC result strings: "PROXY a:1; SOCKS5 [::1]:1080; DIRECT".
 *
 * Grammar as in Chromium (net/base/proxy_string_util.cc, proxy_list.cc),
 * plus Firefox's "HTTP" keyword: split on ';', trim, each element is DIRECT
 * or <TYPE> 1*LWS <host>[:<port>].  Invalid elements are dropped.
 */
#include "pac.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rangefetch/rangefetch.h"

static int pr_is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parses one trimmed element [s, s+len) into *c; 0 if valid, -1 if not. */
static int pr_element(const char *s, size_t len, rf__pac_candidate *c)
{
  static const struct {
    const char *name;
    rf__pac_kind kind;
    uint16_t port;
  } kinds[] = {
    { "PROXY", RF__PAC_PROXY, 80 },     { "HTTP", RF__PAC_PROXY, 80 },
    { "HTTPS", RF__PAC_HTTPS, 443 },    { "SOCKS", RF__PAC_SOCKS4, 1080 },
    { "SOCKS4", RF__PAC_SOCKS4, 1080 }, { "SOCKS5", RF__PAC_SOCKS5, 1080 },
  };
  size_t kw = 0, i, hlen;
  const char *h, *end = s + len, *colon = NULL;
  unsigned long port;

  memset(c, 0, sizeof(*c));
  while (kw < len && !pr_is_space(s[kw]))
    kw++;
  if (kw == 6 && strncasecmp(s, "DIRECT", 6) == 0) {
    if (kw != len)
      return -1; /* DIRECT with a host */
    c->kind = RF__PAC_DIRECT;
    return 0;
  }
  for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if (strlen(kinds[i].name) == kw && strncasecmp(s, kinds[i].name, kw) == 0)
      break;
  if (i == sizeof(kinds) / sizeof(kinds[0]) || kw == len)
    return -1; /* unknown keyword or no host */
  c->kind = kinds[i].kind;
  c->port = kinds[i].port;
  h = s + kw;
  while (h < end && pr_is_space(*h))
    h++;
  for (const char *q = h; q < end; q++)
    if (pr_is_space(*q) || *q == '@' || *q == '/' || *q == '\0')
      return -1; /* trailing garbage, userinfo, path */
  if (h < end && *h == '[') {
    const char *rb = memchr(h, ']', (size_t)(end - h));
    char v6[64];
    unsigned char bin[16];

    if (rb == NULL || (size_t)(rb - h - 1) >= sizeof(v6))
      return -1;
    memcpy(v6, h + 1, (size_t)(rb - h - 1));
    v6[rb - h - 1] = '\0';
    if (inet_pton(AF_INET6, v6, bin) != 1)
      return -1;
    memcpy(c->host, v6, strlen(v6) + 1);
    if (rb + 1 < end) {
      if (rb[1] != ':')
        return -1;
      colon = rb + 1;
    }
  } else {
    colon = memchr(h, ':', (size_t)(end - h));
    if (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
      return -1; /* unbracketed IPv6 */
    hlen = (size_t)((colon != NULL ? colon : end) - h);
    if (hlen == 0 || hlen >= sizeof(c->host))
      return -1;
    memcpy(c->host, h, hlen);
    c->host[hlen] = '\0';
  }
  if (colon != NULL) {
    const char *d = colon + 1;

    if (d == end || (size_t)(end - d) > 5)
      return -1; /* "host:" or absurd port */
    port = 0;
    for (; d < end; d++) {
      if (*d < '0' || *d > '9')
        return -1;
      port = port * 10 + (unsigned long)(*d - '0');
    }
    if (port == 0 || port > 65535)
      return -1;
    c->port = (uint16_t)port;
  }
  return 0;
}

int rf__pac_parse_result(const char *s, rf__pac_candidate **out, size_t *n)
{
  rf__pac_candidate *arr = NULL;
  size_t cap = 0, cnt = 0;
  int rc = 0;

  if (out != NULL)
    *out = NULL;
  if (n != NULL)
    *n = 0;
  if (s == NULL || out == NULL || n == NULL)
    return RF_EINVAL;
  for (size_t i = 0; s[i] != '\0'; i++) /* count elements for capacity */
    if (s[i] == ';')
      cap++;
  cap++;
  arr = malloc(cap * sizeof(*arr));
  if (arr == NULL)
    return RF_ENOMEM;
  while (*s != '\0') {
    const char *e = strchr(s, ';');
    size_t len = e != NULL ? (size_t)(e - s) : strlen(s);
    const char *b = s, *t = s + len;

    while (b < t && pr_is_space(*b))
      b++;
    while (t > b && pr_is_space(t[-1]))
      t--;
    if (t > b && pr_element(b, (size_t)(t - b), &arr[cnt]) == 0)
      cnt++;
    s += len;
    if (*s == ';')
      s++;
  }
  if (cnt == 0) {
    rc = RF_EPROXY;
    goto out;
  }
  *out = arr;
  *n = cnt;
  arr = NULL;
out:
  free(arr);
  return rc;
}
