/* Parsers: Content-Range, sizes, Retry-After, HTTP dates, header lines. */
#include <criterion/criterion.h>
#include <string.h>

#include "util/text.h"
#include "util/http.h"
#include "rangefetch/rangefetch.h"

TestSuite(parse);

static int cr(const char *s, rf__content_range *out)
{
  return rf__parse_content_range(s, strlen(s), out);
}

Test(parse, content_range_valid)
{
  rf__content_range r;

  cr_assert_eq(cr("bytes 0-99/100", &r), 0);
  cr_assert_eq(r.first, 0);
  cr_assert_eq(r.last, 99);
  cr_assert_eq(r.complete, 100);
  cr_assert_eq(r.unsatisfied, 0);
  cr_assert_eq(cr("  bytes 5-5/6\r\n", &r), 0);
  cr_assert_eq(r.first, 5);
  cr_assert_eq(cr("BYTES 1-2/*", &r), 0);
  cr_assert_eq(r.complete, RF_SIZE_UNKNOWN);
  cr_assert_eq(cr("bytes */0", &r), 0);
  cr_assert_eq(r.unsatisfied, 1);
  cr_assert_eq(r.complete, 0);
  cr_assert_eq(cr("bytes 0-8589934591/8589934592", &r), 0);
  cr_assert_eq(r.last, 8589934591ULL);
  cr_assert_eq(cr("bytes 0-18446744073709551614/18446744073709551615", &r),
               0);
}

Test(parse, content_range_malformed)
{
  static const char *bad[] = {
    "",
    "bytes",
    "bytes ",
    "bytes 0-99",
    "bytes 0-99/",
    "bytes 99-0/100",       /* last < first */
    "bytes 0-100/100",      /* last beyond length */
    "bytes -5/100",
    "bytes 0--5/100",
    "bytes 0-5/100x",
    "bits 0-5/100",
    "bytes0-5/100",
    "bytes 0-5/-1",
    "bytes 0-99999999999999999999/100", /* overflow */
    "bytes */*",
    "bytes a-b/c",
    "bytes 1-2/3 4",
  };
  rf__content_range r;
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_expect_eq(cr(bad[i], &r), RF_EPROTO, "accepted '%s'", bad[i]);
}

Test(parse, size_valid)
{
  uint64_t v = 0;

  cr_assert_eq(rf_parse_size(&v, "0"), 0);
  cr_assert_eq(v, 0);
  cr_assert_eq(rf_parse_size(&v, "4096"), 0);
  cr_assert_eq(v, 4096);
  cr_assert_eq(rf_parse_size(&v, "1K"), 0);
  cr_assert_eq(v, 1024);
  cr_assert_eq(rf_parse_size(&v, "4m"), 0);
  cr_assert_eq(v, 4ULL << 20);
  cr_assert_eq(rf_parse_size(&v, "2G"), 0);
  cr_assert_eq(v, 2ULL << 30);
  cr_assert_eq(rf_parse_size(&v, "3T"), 0);
  cr_assert_eq(v, 3ULL << 40);
  cr_assert_eq(rf_parse_size(&v, "1MiB"), 0);
  cr_assert_eq(v, 1ULL << 20);
  cr_assert_eq(rf_parse_size(&v, "1kB"), 0);
  cr_assert_eq(v, 1024);
  cr_assert_eq(rf_parse_size(&v, "512B"), 0);
  cr_assert_eq(v, 512);
  cr_assert_eq(rf_parse_size(&v, "16777215T"), 0);
  cr_assert_eq(v, 16777215ULL << 40);
}

Test(parse, size_malformed)
{
  static const char *bad[] = { "",    "K",    "-1",   "1.5M", "1 M", " 1",
                               "1X",  "1KK",  "1Kx",  "0x10", "1MiBs",
                               "1iB", "1e6" };
  uint64_t v = 77;
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_expect_eq(rf_parse_size(&v, bad[i]), RF_EINVAL, "accepted '%s'", bad[i]);
    cr_expect_eq(v, 77, "'%s' wrote the output", bad[i]);
  }
  cr_assert_eq(rf_parse_size(&v, "18446744073709551616"), RF_ETOOBIG);
  cr_assert_eq(rf_parse_size(&v, "16777216000T"), RF_ETOOBIG);
  cr_assert_eq(rf_parse_size(&v, NULL), RF_EINVAL);
}

Test(parse, http_dates)
{
  int64_t t = 0;
  const int64_t want = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
  const char *imf = "Sun, 06 Nov 1994 08:49:37 GMT";
  const char *rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
  const char *asc = "Sun Nov  6 08:49:37 1994";

  cr_assert_eq(rf__parse_http_date(imf, strlen(imf), &t), 0);
  cr_assert_eq(t, want);
  cr_assert_eq(rf__parse_http_date(rfc850, strlen(rfc850), &t), 0);
  cr_assert_eq(t, want);
  cr_assert_eq(rf__parse_http_date(asc, strlen(asc), &t), 0);
  cr_assert_eq(t, want);
  cr_assert_neq(rf__parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT", 29, &t),
                0);
  cr_assert_neq(rf__parse_http_date("yesterday", 9, &t), 0);
  cr_assert_neq(rf__parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT", 29, &t),
                0);
}

Test(parse, retry_after)
{
  uint64_t ms = 0;
  const char *date = "Sun, 06 Nov 1994 08:49:37 GMT";

  cr_assert_eq(rf__parse_retry_after("3", 1, 0, &ms), 0);
  cr_assert_eq(ms, 3000);
  cr_assert_eq(rf__parse_retry_after(" 0 ", 3, 0, &ms), 0);
  cr_assert_eq(ms, 0);
  cr_assert_eq(rf__parse_retry_after(date, strlen(date), 784111770, &ms), 0);
  cr_assert_eq(ms, 7000);
  cr_assert_eq(rf__parse_retry_after(date, strlen(date), 784111799, &ms), 0);
  cr_assert_eq(ms, 0, "a date in the past means now");
  cr_assert_eq(rf__parse_retry_after("99999999999999999999", 20, 0, &ms), 0);
  cr_assert_eq(ms, 86400ULL * 1000, "capped at a day");
  cr_assert_neq(rf__parse_retry_after("soon", 4, 0, &ms), 0);
  cr_assert_neq(rf__parse_retry_after("3s", 2, 0, &ms), 0);
  cr_assert_neq(rf__parse_retry_after("", 0, 0, &ms), 0);
}

Test(parse, header_match)
{
  const char *v = NULL;
  size_t vl = 0;
  const char *line = "content-range:  bytes 0-1/2 \r\n";

  cr_assert(rf__header_match(line, strlen(line), "Content-Range", &v, &vl));
  cr_assert_eq(vl, strlen("bytes 0-1/2"));
  cr_assert(strncmp(v, "bytes 0-1/2", vl) == 0);
  cr_assert_not(rf__header_match(line, strlen(line), "Content", &v, &vl));
  cr_assert_not(rf__header_match("ETag", 4, "ETag", &v, &vl));
}

Test(parse, errors_have_names_and_text)
{
  cr_assert_str_eq(rf_err_name(RF_ENOSPC), "ENOSPC");
  cr_assert_str_eq(rf_strerror(RF_ENOSPC), "no space left on device");
  cr_assert_str_eq(rf_strerror(12345), "unknown error");
  cr_assert_str_eq(rf_err_name(0), "OK");
}
