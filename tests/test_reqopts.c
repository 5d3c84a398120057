/* What requests carry (engine/reqopts.c): the checks, pure. */
#include <criterion/criterion.h>
#include <string.h>

#include "reqopts.h"
#include "rangefetch/rangefetch.h"

typedef struct hdr_case {
  const char *line;
  int ok;
  const char *why; /* a word of the message when refused */
} hdr_case;

Test(reqopts, header_lines)
{
  static const hdr_case cases[] = {
    { "X-Token: abc", 1, NULL },
    { "X-Token:abc", 1, NULL },
    { "Accept:", 1, NULL },           /* removes libcurl's */
    { "X-Empty;", 1, NULL },          /* sends it empty */
    { "Authorization: Bearer x", 1, NULL },
    { "Range: bytes=0-1", 0, "engine" },
    { "range: bytes=0-1", 0, "engine" },
    { "If-Range: \"e\"", 0, "engine" },
    { "IF-RANGE: x", 0, "engine" },
    { "Ranges: x", 1, NULL },
    { "no colon", 0, "Name: value" },
    { ": value", 0, "Name: value" },
    { "Bad Name: v", 0, "Name: value" },
    { "X-A: b\r\nX-Evil: 1", 0, "line break" },
    { "X-A: b\nc", 0, "line break" },
    { "X-Empty; value", 0, "empty" },
    { "", 0, "Name: value" },
  };
  char why[256];
  size_t k;

  for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    int rc = rf__reqopts_header_check(cases[k].line, why, sizeof(why));
    cr_assert_eq(rc == 0, cases[k].ok, "'%s': %d %s", cases[k].line, rc, why);
    if (!cases[k].ok)
      cr_assert(strstr(why, cases[k].why) != NULL, "'%s': %s", cases[k].line,
                why);
    cr_assert_eq(rf_header_check(cases[k].line, NULL, 0) == 0, cases[k].ok);
  }
}

static int check(rf_job_options *o, char *why, size_t n)
{
  return rf__reqopts_check(o, why, n);
}

Test(reqopts, options_are_checked_and_named)
{
  rf_job_options o = RF_JOB_OPTIONS_INIT;
  const char *good_resolve[] = { "h.example:443:192.0.2.1",
                                 "+h.example:80:192.0.2.1,192.0.2.2",
                                 "[2001:db8::1]:8080:2001:db8::2" };
  const char *bad_resolve[] = { "h.example", "h.example:0:1.2.3.4",
                                "h.example:70000:1.2.3.4", ":80:1.2.3.4",
                                "h.example:80:", "h.example:x:1.2.3.4" };
  const char *hdrs[] = { "X-A: 1", "Range: bytes=0-" };
  char why[256];
  size_t k;

  cr_assert_eq(check(&o, why, sizeof(why)), 0);
  for (k = 0; k < 3; k++) {
    o.resolve = &good_resolve[k];
    o.nresolve = 1;
    cr_assert_eq(check(&o, why, sizeof(why)), 0, "%s: %s", good_resolve[k],
                 why);
  }
  for (k = 0; k < 6; k++) {
    o.resolve = &bad_resolve[k];
    o.nresolve = 1;
    cr_assert_eq(check(&o, why, sizeof(why)), RF_EINVAL, "%s", bad_resolve[k]);
    cr_assert(strstr(why, "HOST:PORT:ADDRESS") != NULL, "%s", why);
  }
  o.resolve = NULL;
  o.nresolve = 0;
  o.headers = hdrs;
  o.nheaders = 2;
  cr_assert_eq(check(&o, why, sizeof(why)), RF_EINVAL);
  cr_assert(strstr(why, "Range") != NULL, "%s", why);
  o.nheaders = 1;
  cr_assert_eq(check(&o, why, sizeof(why)), 0);
  o.nheaders = 0;
  o.ip_version = 5;
  cr_assert_eq(check(&o, why, sizeof(why)), RF_EINVAL);
  cr_assert(strstr(why, "ip_version") != NULL, "%s", why);
  o.ip_version = 6;
  o.user = "u:p";
  o.bearer = "tok";
  cr_assert_eq(check(&o, why, sizeof(why)), RF_EINVAL);
  cr_assert(strstr(why, "one kind") != NULL, "%s", why);
  o.user = NULL;
  o.bearer = "two words";
  cr_assert_eq(check(&o, why, sizeof(why)), RF_EINVAL);
  o.bearer = NULL;
  o.cookies = "/nonexistent/cookies.txt";
  cr_assert_eq(check(&o, why, sizeof(why)), RF_EINVAL);
  cr_assert(strstr(why, "cookie file") != NULL, "%s", why);
  o.cookies = "a=b; c=d";
  cr_assert_eq(check(&o, why, sizeof(why)), 0, "%s", why);
  o.cookies = "a=b\r\nX: y";
  cr_assert_eq(check(&o, why, sizeof(why)), RF_EINVAL);
  o.cookies = NULL;
  o.netrc = RF_NETRC_OPTIONAL;
  o.netrc_file = "/nonexistent/netrc";
  cr_assert_eq(check(&o, why, sizeof(why)), RF_EINVAL);
  cr_assert(strstr(why, "netrc") != NULL, "%s", why);
  /* Version 2 callers are never asked about version 3 fields. */
  o.version = 2;
  cr_assert_eq(check(&o, why, sizeof(why)), 0);
}

Test(reqopts, checksums)
{
  char why[256];
  const char *sha = "sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  cr_assert_eq(rf_checksum_check(sha, why, sizeof(why)), 0, "%s", why);
  cr_assert_eq(rf_checksum_check("SHA-256=E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", why, sizeof(why)), 0, "%s", why);
  cr_assert_eq(rf_checksum_check("xxh128=99aa06d3014798d86001c324468d497f", why, sizeof(why)), 0, "%s", why);
  cr_assert_eq(rf_checksum_check("md5=d41d8cd98f00b204e9800998ecf8427e", why, sizeof(why)), RF_EINVAL);
  cr_assert(strstr(why, "sha256 or xxh128") != NULL, "%s", why);
  cr_assert_eq(rf_checksum_check("sha256=e3b0", why, sizeof(why)), RF_EINVAL);
  cr_assert(strstr(why, "64 hex digits") != NULL, "%s", why);
  cr_assert_eq(rf_checksum_check("xxh128=99aa06d3014798d86001c324468d49zz", why, sizeof(why)), RF_EINVAL);
  cr_assert(strstr(why, "hexadecimal") != NULL, "%s", why);
  cr_assert_eq(rf_checksum_check("e3b0c442", why, sizeof(why)), RF_EINVAL);
}

Test(reqopts, origin_headers_with_if_range_keep_the_callers_first)
{
  rf_job_options o = RF_JOB_OPTIONS_INIT;
  const char *hdrs[] = { "X-A: 1", "X-B: 2" };
  rf__reqopts r;
  struct curl_slist *l;

  o.headers = hdrs;
  o.nheaders = 2;
  cr_assert_eq(rf__reqopts_init(&r, &o), 0);
  l = rf__reqopts_headers_with(&r, "If-Range: \"e\"");
  cr_assert_not_null(l);
  cr_assert_str_eq(l->data, "X-A: 1");
  cr_assert_str_eq(l->next->data, "X-B: 2");
  cr_assert_str_eq(l->next->next->data, "If-Range: \"e\"");
  cr_assert_null(l->next->next->next);
  curl_slist_free_all(l);
  rf__reqopts_free(&r);
}
