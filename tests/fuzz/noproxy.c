/*
 * The NO_PROXY matcher (rf__noproxy_match) and the proxy variables' rules
 * (rf__env_proxy_for, engine/proxy/env.c): no_proxy lists come from the
 * environment and settings files.
 *
 * Input: lines "host", "no_proxy list", "URL", "proxy value".  The host is
 * matched against the list; then the URL is resolved with an environment
 * that sets http_proxy, https_proxy and all_proxy to the proxy value and
 * no_proxy to the list, and the proxy it gives is parsed as the env
 * resolver does.
 */
#include "fuzz.h"

#include "proxy/env.h"
#include "rangefetch/proxy.h"
#include "rangefetch/rangefetch.h"

struct env {
  const char *no_proxy, *proxy;
};

static const char *fake_getenv(const char *name, void *user_data)
{
  const struct env *e = user_data;

  if (strcmp(name, "no_proxy") == 0)
    return e->no_proxy;
  if (strcmp(name, "http_proxy") == 0 || strcmp(name, "https_proxy") == 0 ||
      strcmp(name, "all_proxy") == 0)
    return e->proxy;
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t l[4];
  const uint8_t *f[4];
  char *s[4], *proxy = NULL, buf[1024];
  const char *source = NULL;
  struct env e;
  rf_proxy p;
  int rc, m;

  for (int i = 0; i < 4; i++) {
    f[i] = fuzz_field(&data, &size, '\n', &l[i]);
    s[i] = fuzz_cstr(f[i], l[i]);
  }
  m = rf__noproxy_match(s[0], s[1]);
  if (m != 0 && m != 1)
    fuzz_fail("noproxy_match returned %d", m);
  if (m == 1 && (s[0][0] == '\0' || s[1][0] == '\0'))
    fuzz_fail("noproxy_match: an empty host or list matched");
  if (rf__noproxy_match(s[0], "*") != (s[0][0] != '\0'))
    fuzz_fail("noproxy_match: '*' does not match '%s'", s[0]);

  e.no_proxy = s[1];
  e.proxy = s[3];
  rc = rf__env_proxy_for(s[2], fake_getenv, &e, &proxy, &source);
  if (rc != 0 && rc != RF_EURL && rc != RF_ENOMEM)
    fuzz_fail("env_proxy_for returned %d", rc);
  if (rc != 0 && (proxy != NULL || source != NULL))
    fuzz_fail("env_proxy_for failed with a proxy");
  if (proxy != NULL && source == NULL)
    fuzz_fail("env_proxy_for: a proxy without a source");
  if (proxy != NULL) {
    (void)rf_proxy_parse(&p, buf, sizeof(buf), proxy);
    free(proxy);
  }
  for (int i = 0; i < 4; i++)
    free(s[i]);
  return 0;
}
