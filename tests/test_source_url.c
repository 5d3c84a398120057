/*
 * The Connected-Cache URL form and the host of a URL (engine/source/url.c).
 * The expected URLs follow Microsoft's Delivery Optimization agent
 * (do-client, SwapUrlHostNameForMCC) and its MCC smoke test
 * "http://<CacheServerIP>/mscomtest/wuidt.gif?cacheHostOrigin=
 * au.download.windowsupdate.com".
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "source/url.h"
#include "rangefetch/rangefetch.h"
#include "support/leaks.h"

TestSuite(source_url);

typedef struct cache_case {
  const char *origin;
  const char *cache;
  const char *want;
} cache_case;

Test(source_url, cache_url_table)
{
  static const cache_case cases[] = {
    /* plain */
    { "http://au.download.windowsupdate.com/mscomtest/wuidt.gif", "10.0.0.100",
      "http://10.0.0.100/mscomtest/wuidt.gif"
      "?cacheHostOrigin=au.download.windowsupdate.com" },
    { "http://origin.example/path/file.bin", "cache.local",
      "http://cache.local/path/file.bin?cacheHostOrigin=origin.example" },
    { "http://origin.example", "cache.local",
      "http://cache.local/?cacheHostOrigin=origin.example" },
    /* with a query: appended with '&'; an empty query gets none */
    { "http://origin.example/p/f?a=1&b=x%20y", "cache.local",
      "http://cache.local/p/f?a=1&b=x%20y&cacheHostOrigin=origin.example" },
    { "http://origin.example/p/f?", "cache.local",
      "http://cache.local/p/f?cacheHostOrigin=origin.example" },
    /* the fragment is dropped */
    { "http://origin.example/p/f?a=1#part2", "cache.local",
      "http://cache.local/p/f?a=1&cacheHostOrigin=origin.example" },
    /* user information is never copied */
    { "http://alice:s3cret@origin.example/p/f", "cache.local",
      "http://cache.local/p/f?cacheHostOrigin=origin.example" },
    { "http://alice@origin.example/p/f", "cache.local",
      "http://cache.local/p/f?cacheHostOrigin=origin.example" },
    /* the origin's port goes with its host */
    { "http://origin.example:8080/p/f", "cache.local",
      "http://cache.local/p/f?cacheHostOrigin=origin.example" },
    /* cache port: kept unless it is the scheme's default */
    { "http://origin.example/p/f", "cache.local:80",
      "http://cache.local/p/f?cacheHostOrigin=origin.example" },
    { "http://origin.example:8080/p/f", "cache.local:8080",
      "http://cache.local:8080/p/f?cacheHostOrigin=origin.example" },
    { "http://origin.example/p/f", "cache.local:443",
      "http://cache.local:443/p/f?cacheHostOrigin=origin.example" },
    /* IPv6 cache hosts */
    { "http://origin.example/p/f", "[::1]:8080",
      "http://[::1]:8080/p/f?cacheHostOrigin=origin.example" },
    { "http://origin.example/p/f", "[2001:db8::5]",
      "http://[2001:db8::5]/p/f?cacheHostOrigin=origin.example" },
    { "http://origin.example/p/f", "[fe80::1%25eth0]:8080",
      "http://[fe80::1%25eth0]:8080/p/f?cacheHostOrigin=origin.example" },
    /* IPv6 origin: the bracketed address, URL-encoded by libcurl */
    { "http://[2001:db8::1]:8080/p/f", "cache.local",
      "http://cache.local/p/f?cacheHostOrigin=%5b2001%3adb8%3a%3a1%5d" },
    /* https: the scheme is kept, 443 is its default */
    { "https://origin.example/p/f", "cache.local",
      "https://cache.local/p/f?cacheHostOrigin=origin.example" },
    { "https://origin.example/p/f", "cache.local:443",
      "https://cache.local/p/f?cacheHostOrigin=origin.example" },
    { "https://origin.example/p/f", "cache.local:80",
      "https://cache.local:80/p/f?cacheHostOrigin=origin.example" },
    /* the value is encoded, the path left as it was */
    { "HTTP://Origin.Example/a%2Fb/c%20d", "cache.local",
      "http://cache.local/a%2Fb/c%20d?cacheHostOrigin=Origin.Example" },
  };
  size_t c;

  for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    char *out = NULL, err[256] = "";
    int rc = rf__source_cache_url(cases[c].origin, cases[c].cache, &out, err,
                                  sizeof(err));

    cr_expect_eq(rc, 0, "%s + %s: %s", cases[c].origin, cases[c].cache, err);
    if (rc == 0)
      cr_expect_str_eq(out, cases[c].want, "%s + %s", cases[c].origin,
                       cases[c].cache);
    free(out);
  }
  ASSERT_NO_LEAKS();
}

typedef struct bad_case {
  const char *origin;
  const char *cache;
  int rc;
  const char *says;
} bad_case;

Test(source_url, cache_url_bad_inputs)
{
  static const bad_case cases[] = {
    { "ftp://origin.example/f", "c", RF_EURL, "scheme 'ftp'" },
    { "file:///etc/passwd", "c", RF_EURL, "scheme 'file'" },
    { "origin.example/f", "c", RF_EURL, "no scheme" },
    { "", "c", RF_EURL, "origin URL" },
    { "http://:80/f", "c", RF_EURL, "origin URL" },
    { "http://[::1/f", "c", RF_EURL, "origin URL" },
    { "http://origin.example:99999/f", "c", RF_EURL, "not a valid URL" },
    { "http://o.example/f", "", RF_EURL, "empty" },
    { "http://o.example/f", "::1", RF_EURL, "needs brackets" },
    { "http://o.example/f", "2001:db8::1:8080", RF_EURL, "needs brackets" },
    { "http://o.example/f", "c:0", RF_EURL, "1 to 65535" },
    { "http://o.example/f", "c:99999", RF_EURL, "1 to 65535" },
    { "http://o.example/f", "c:8o", RF_EURL, "1 to 65535" },
    { "http://o.example/f", "c:", RF_EURL, "empty port" },
    { "http://o.example/f", "u:pw@c", RF_EURL, "user information" },
    { "http://o.example/f", "c/x", RF_EURL, "path" },
    { "http://o.example/f", "c?x", RF_EURL, "query" },
    { "http://o.example/f", "c#x", RF_EURL, "fragment" },
    { "http://o.example/f", "bad host", RF_EURL, "not HOST[:PORT]" },
    { "http://o.example/f", "http://c", RF_EURL, "cache host" },
    { NULL, "c", RF_EINVAL, "NULL" },
    { "http://o.example/f", NULL, RF_EINVAL, "NULL" },
  };
  size_t c;

  for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    char *out = (char *)"untouched", err[256] = "";
    int rc = rf__source_cache_url(cases[c].origin, cases[c].cache, &out, err,
                                  sizeof(err));

    cr_expect_eq(rc, cases[c].rc, "%s + %s gave %d", cases[c].origin,
                 cases[c].cache, rc);
    cr_expect_null(out, "%s + %s", cases[c].origin, cases[c].cache);
    cr_expect(strstr(err, cases[c].says) != NULL, "%s + %s: '%s' lacks '%s'",
              cases[c].origin, cases[c].cache, err, cases[c].says);
  }
  cr_assert_eq(rf__source_cache_url("http://o/f", "c", NULL, NULL, 0),
               RF_EINVAL);
  ASSERT_NO_LEAKS();
}

Test(source_url, messages_hide_passwords)
{
  char *out = NULL, err[256] = "";

  cr_assert_eq(rf__source_cache_url("ftp://alice:s3cret@o.example/f", "c", &out,
                                    err, sizeof(err)),
               RF_EURL);
  cr_assert(strstr(err, "alice:***@o.example") != NULL, "%s", err);
  cr_assert(strstr(err, "s3cret") == NULL, "%s", err);
  cr_assert_eq(rf__source_cache_url("http://o.example/f", "bob:hunter2@c", &out,
                                    err, sizeof(err)),
               RF_EURL);
  cr_assert(strstr(err, "hunter2") == NULL, "%s", err);
  cr_assert(strstr(err, "bob:***@c") != NULL, "%s", err);
  ASSERT_NO_LEAKS();
}

Test(source_url, host_table)
{
  static const struct {
    const char *url;
    int rc;
    const char *host;
  } cases[] = {
    { "http://u:p@Mirror.Example:8080/x?y#z", 0, "mirror.example" },
    { "https://origin.example", 0, "origin.example" },
    { "http://10.0.0.100/mscomtest/wuidt.gif", 0, "10.0.0.100" },
    { "http://[2001:DB8::1]:8080/x", 0, "[2001:db8::1]" },
    { "http://[fe80::1%25eth0]/x", 0, "[fe80::1]" },
    { "ftp://mirror.example/x", RF_EURL, NULL },
    { "mirror.example/x", RF_EURL, NULL },
    { "http://", RF_EURL, NULL },
    { "", RF_EURL, NULL },
    { NULL, RF_EINVAL, NULL },
  };
  size_t c;

  for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    char *out = NULL, err[256] = "";
    int rc = rf__source_url_host(cases[c].url, &out, err, sizeof(err));

    cr_expect_eq(rc, cases[c].rc, "%s gave %d (%s)", cases[c].url, rc, err);
    if (cases[c].host != NULL && rc == 0)
      cr_expect_str_eq(out, cases[c].host, "%s", cases[c].url);
    if (rc != 0) {
      cr_expect_null(out, "%s", cases[c].url);
      cr_expect_neq(err[0], '\0', "%s: no message", cases[c].url);
    }
    free(out);
  }
  ASSERT_NO_LEAKS();
}
