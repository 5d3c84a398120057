/*
 * The settings-file parser (rf__proxy_config_parse, engine/proxy/config.c):
 * proxy.conf and static.conf, written by users and administrators.  The
 * input is parsed as a file of each scope; what parses is described (the
 * length rf__proxy_config_describe announces must be what it writes), asked
 * for its proxy, its no_proxy matched, and its cache host list formatted and
 * parsed back to the same text (rangefetch/cachehost.h).
 */
#include "fuzz.h"

#include "proxy/config.h"
#include "proxy/env.h"
#include "rangefetch/cachehost.h"
#include "rangefetch/rangefetch.h"

static void cache_hosts(const rf_cache_host_list *list)
{
  rf_cache_host_list *again = NULL;
  size_t need = rf_cache_host_list_format(NULL, 0, list);
  char *t1 = malloc(need + 1), *t2 = malloc(need + 1);
  char err[300];

  if (t1 == NULL || t2 == NULL)
    abort();
  if (rf_cache_host_list_format(t1, need + 1, list) != need ||
      strlen(t1) != need)
    fuzz_fail("cache_host_list_format: not the length it announced");
  if (rf_cache_host_list_parse(&again, t1, err, sizeof(err)) != 0)
    fuzz_fail("a formatted cache host list does not parse: %s", err);
  if (rf_cache_host_list_format(t2, need + 1, again) != need ||
      strcmp(t1, t2) != 0)
    fuzz_fail("cache host list: '%s' parses back as '%s'", t1, t2);
  rf_cache_host_list_free(again);
  free(t1);
  free(t2);
}

static void use(const rf__proxy_config *c)
{
  static const char *const hosts[] = { "localhost", "www.corp.example",
                                       "10.1.2.3", "2001:db8::1" };
  size_t need = rf__proxy_config_describe(c, NULL, 0);
  char *d = malloc(need + 1), small[16];

  if (d == NULL)
    abort();
  if (rf__proxy_config_describe(c, d, need + 1) != need || strlen(d) != need)
    fuzz_fail("proxy_config_describe: not the length it announced");
  if (rf__proxy_config_describe(c, small, sizeof(small)) != need ||
      strlen(small) >= sizeof(small))
    fuzz_fail("proxy_config_describe: a short buffer overflows");
  free(d);
  (void)rf__proxy_config_sets_proxy(c);
  (void)rf__proxy_config_proxy_for(c, "http");
  (void)rf__proxy_config_proxy_for(c, "HTTPS");
  (void)rf__proxy_config_proxy_for(c, NULL);
  for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
    (void)rf__noproxy_match(hosts[i], c->no_proxy);
  if (c->cache_hosts != NULL)
    cache_hosts(c->cache_hosts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_bytes(data, size);
  char err[512];

  for (int s = 0; s < RF__PROXY_SCOPE_COUNT; s++) {
    rf__proxy_config c;
    int rc = rf__proxy_config_parse(text, size, (rf__proxy_scope)s,
                                    s == 0 ? "proxy.conf" : NULL, &c, err,
                                    sizeof(err));

    if (rc != 0 && rc != RF_EINVAL && rc != RF_ETOOBIG && rc != RF_ENOMEM)
      fuzz_fail("proxy_config_parse returned %d", rc);
    if (rc != 0 && (c.set != 0 || (rc != RF_ENOMEM && err[0] == '\0')))
      fuzz_fail("proxy_config_parse failed with set %d, message '%s'", c.set,
                err);
    if (rc == 0) {
      if (c.set != 1 || c.scope != (rf__proxy_scope)s)
        fuzz_fail("proxy_config_parse: set %d scope %d", c.set, (int)c.scope);
      use(&c);
    }
    rf__proxy_config_free(&c);
  }
  free(text);
  return 0;
}
