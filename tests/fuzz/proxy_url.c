/*
 * The proxy URL parser (rf_proxy_parse, engine/proxy/candidate.c) and the
 * password masks (rf_url_mask, rf__proxy_url_mask, engine/proxy/config.c):
 * proxy URLs come from the environment, settings files, PAC answers and
 * the command line.  A parsed proxy formats (rf_proxy_format) to a URL
 * that parses back to the same type, host and port, when its host is an
 * ordinary name or address; the masks write what they announce.
 */
#include "fuzz.h"

#include "proxy/candidate.h"
#include "proxy/config.h"
#include "rangefetch/proxy.h"
#include "rangefetch/rangefetch.h"

/* Letters, digits, '-', '.', '_' and ':' (an IPv6 address). */
static int ordinary_host(const char *h)
{
  if (h[0] == '\0')
    return 0;
  for (; *h != '\0'; h++)
    if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
          (*h >= '0' && *h <= '9') || *h == '-' || *h == '.' || *h == '_' ||
          *h == ':'))
      return 0;
  return 1;
}

static void round_trip(const rf_proxy *p)
{
  char text[600], buf[512];
  rf_proxy q;
  size_t n = rf_proxy_format(text, sizeof(text), p);

  if (n >= sizeof(text) || strlen(text) != n)
    fuzz_fail("proxy_format: %zu bytes", n);
  if (p->type == RF_PROXY_DIRECT || !ordinary_host(p->host))
    return;
  if (rf_proxy_parse(&q, buf, sizeof(buf), text) != 0)
    fuzz_fail("'%s' (formatted) does not parse", text);
  if (q.type != p->type || strcmp(q.host, p->host) != 0 ||
      rf__proxy_port(&q) != rf__proxy_port(p) || q.user != NULL)
    fuzz_fail("'%s' parses back as another proxy", text);
}

static void masks(const char *url)
{
  size_t need = rf_url_mask(NULL, 0, url);
  char *m = malloc(need + 1), small[8];

  if (m == NULL)
    abort();
  if (rf_url_mask(m, need + 1, url) != need || strlen(m) != need)
    fuzz_fail("url_mask: not the length it announced");
  if (rf_url_mask(small, sizeof(small), url) != need ||
      strlen(small) >= sizeof(small))
    fuzz_fail("url_mask: a short buffer overflows");
  if (rf__proxy_url_mask(url, NULL, 0) != need ||
      rf__proxy_url_mask(url, small, sizeof(small)) != need)
    fuzz_fail("proxy_url_mask and url_mask differ");
  free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_cstr(data, size);
  char buf[512], tiny[8];
  rf_proxy p;
  int rc;

  rc = rf_proxy_parse(&p, buf, sizeof(buf), text);
  if (rc != 0 && rc != RF_EURL && rc != RF_EINVAL)
    fuzz_fail("proxy_parse returned %d", rc);
  if (rc == 0) {
    if (p.type != RF_PROXY_DIRECT && (p.host == NULL || p.host[0] == '\0'))
      fuzz_fail("proxy_parse: a proxy without a host");
    if (p.port > 65535)
      fuzz_fail("proxy_parse: port %u", p.port);
    round_trip(&p);
  }
  /* A small buffer fails cleanly. */
  rc = rf_proxy_parse(&p, tiny, sizeof(tiny), text);
  if (rc != 0 && rc != RF_EURL && rc != RF_EINVAL)
    fuzz_fail("proxy_parse (small buffer) returned %d", rc);
  masks(text);
  free(text);
  return 0;
}
