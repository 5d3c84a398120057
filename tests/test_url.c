/*
 * engine/util/url.c: which URLs can be downloaded (rf__url_check), and
 * URLs without their credentials.  Running out of memory inside libcurl's
 * URL API is never reported as a bad URL.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "util/url.h"
#include "rangefetch/rangefetch.h"
#include "support/curlfail.h"
#include "support/leaks.h"

TestSuite(url);

typedef struct check_case {
  const char *url;
  int rc;
  const char *why; /* part of the message; NULL: rc 0 */
} check_case;

Test(url, check_table)
{
  static const check_case cases[] = {
    { "http://example.org/f", 0, NULL },
    { "https://u:p@example.org:8443/f?q#x", 0, NULL },
    { "http://[::1]:8080/", 0, NULL },
    { "example.org/f", RF_EURL, "no scheme" },
    { "ftp://example.org/f", RF_EURL, "unsupported URL scheme 'ftp'" },
    { "http://:8080/f", RF_EURL, "" },
    { "http://example.org:99999/", RF_EURL, "port 99999 is out of range" },
    { "http://example.org:x/", RF_EURL, "port 'x' is not a number" },
    { "http://example.org:0/", RF_EURL, "port 0 is out of range" },
  };
  char why[300];
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc;
    why[0] = '\0';
    rc = rf__url_check(cases[i].url, why, sizeof(why));
    cr_assert_eq(rc, cases[i].rc, "%s: %s (%s)", cases[i].url,
                 rf_err_name(rc), why);
    if (cases[i].why != NULL)
      cr_assert_not_null(strstr(why, cases[i].why), "%s: %s", cases[i].url,
                         why);
  }
  ASSERT_NO_LEAKS();
}

Test(url, strip_credentials)
{
  char *s = rf__url_strip_credentials("https://user:secret@example.org/f?q");

  cr_assert_str_eq(s, "https://example.org/f?q");
  free(s);
  ASSERT_NO_LEAKS();
}

/* Each of libcurl's allocations fails in turn: the answer is right, or
 * RF_ENOMEM with "out of memory"; never "malformed URL", "unsupported URL
 * scheme ''" or "URL has no host". */
Test(url, out_of_memory_is_not_a_bad_url)
{
  static const char url[] = "https://example.org:8443/f?q";
  char why[300];
  long n, total;
  int rc, nomem = 0;

  cr_assert_eq(curlfail_install(), 0);
  curlfail_arm(0);
  cr_assert_eq(rf__url_check(url, why, sizeof(why)), 0, "%s", why);
  total = curlfail_count();
  cr_assert_gt(total, 0, "libcurl's allocations are not counted");
  for (n = 1; n <= total; n++) {
    curlfail_arm(n);
    why[0] = '\0';
    rc = rf__url_check(url, why, sizeof(why));
    cr_assert(rc == 0 || rc == RF_ENOMEM, "allocation %ld of %ld: %s: %s", n,
              total, rf_err_name(rc), why);
    if (rc == RF_ENOMEM) {
      cr_assert_str_eq(why, "out of memory");
      nomem++;
    }
  }
  curlfail_arm(0);
  cr_assert_gt(nomem, 0);
  curl_global_cleanup();
  ASSERT_NO_LEAKS();
}
