/*
 * Parsers: Content-Range, sizes, Retry-After, HTTP dates, header lines,
 * Link rel=duplicate mirrors (RFC 8288, RFC 6249), Repr-Digest (RFC 9530)
 * and Digest (RFC 3230).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"
#include "util/http.h"
#include "rangefetch/rangefetch.h"
#include "support/leaks.h"

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

/* ------------------------------------------- Link: rel=duplicate mirrors */

#define BASE "http://origin.example/dir/file.iso?x=1"

typedef struct link_case {
  const char *value;
  size_t n;       /* mirrors expected */
  size_t refused; /* rel=duplicate links refused */
  struct {
    const char *url;
    uint32_t pri;
    int pref;
    const char *geo;
  } m[3];
} link_case;

Test(parse, link_mirrors_table)
{
  /* clang-format off */
  static const link_case cases[] = {
    { "<http://m1.example/f.iso>; rel=duplicate; pri=1; geo=de", 1, 0,
      { { "http://m1.example/f.iso", 1, 0, "de" } } },
    /* MirrorBrain: one link-value per line, here two in one value */
    { "<http://a.example/f>; rel=duplicate; pri=1; geo=de, "
      "<http://b.example/f>; rel=duplicate; pri=2; pref", 2, 0,
      { { "http://a.example/f", 1, 0, "de" },
        { "http://b.example/f", 2, 1, "" } } },
    /* no pri: the lowest priority */
    { "<https://a.example/f>; rel=duplicate", 1, 0,
      { { "https://a.example/f", 999999, 0, "" } } },
    { "<http://a.example/f>; REL=\"Duplicate\"; GEO=JP; PREF", 1, 0,
      { { "http://a.example/f", 999999, 1, "jp" } } },
    { "<http://a.example/f>; rel=\"alternate duplicate\"", 1, 0,
      { { "http://a.example/f", 999999, 0, "" } } },
    { "<http://a.example/f>; rel=\"dup\\licate\"; pri=\"7\"", 1, 0,
      { { "http://a.example/f", 7, 0, "" } } },
    { "<http://a.example/f.meta4>; rel=describedby; "
      "type=\"application/metalink4+xml\"", 0, 0, { { NULL } } },
    { "<http://a.example/f>; rel=\"http://example.org/duplicate\"", 0, 0,
      { { NULL } } },
    /* relative targets, resolved against the response URL */
    { "</mirror/f.iso>; rel=duplicate", 1, 0,
      { { "http://origin.example/mirror/f.iso", 999999, 0, "" } } },
    { "<other.iso>; rel=duplicate", 1, 0,
      { { "http://origin.example/dir/other.iso", 999999, 0, "" } } },
    { "<../up.iso?y=2#frag>; rel=duplicate", 1, 0,
      { { "http://origin.example/up.iso?y=2", 999999, 0, "" } } },
    { "<//m.example/f>; rel=duplicate", 1, 0,
      { { "http://m.example/f", 999999, 0, "" } } },
    /* commas and semicolons inside <...> and quoted strings */
    { "<http://a.example/f,1;x>; rel=duplicate; title=\"a, b; c\", "
      "<http://b.example/f>; rel=duplicate", 2, 0,
      { { "http://a.example/f,1;x", 999999, 0, "" },
        { "http://b.example/f", 999999, 0, "" } } },
    /* blanks, empty elements and empty parameters */
    { " \t<http://a.example/f>  ;  rel = duplicate  ;pri = 3 ;; ,, "
      "<http://b.example/f>;rel=duplicate;", 2, 0,
      { { "http://a.example/f", 3, 0, "" },
        { "http://b.example/f", 999999, 0, "" } } },
    { "<http://a.example/f>; rel=duplicate; "
      "title*=UTF-8'de'n%c3%a4chstes; pref=yes", 1, 0,
      { { "http://a.example/f", 999999, 1, "" } } },
    /* only the first rel, pri and geo count */
    { "<http://a.example/f>; rel=describedby; rel=duplicate", 0, 0,
      { { NULL } } },
    { "<http://a.example/f>; rel=duplicate; pri=4; pri=x; geo=fr; geo=zz",
      1, 0, { { "http://a.example/f", 4, 0, "fr" } } },
    /* left out: the resource itself, a repeat, another context */
    { "<" BASE ">; rel=duplicate, <>; rel=duplicate, <#top>; rel=duplicate",
      0, 0, { { NULL } } },
    { "<http://a.example/f>; rel=duplicate; pri=1, "
      "<http://a.example/f>; rel=duplicate; pri=2", 1, 0,
      { { "http://a.example/f", 1, 0, "" } } },
    { "<http://a.example/f>; rel=duplicate; anchor=\"http://other.example/\"",
      0, 0, { { NULL } } },
    { "<http://a.example/f>; rel=duplicate; anchor=\"\", "
      "<http://b.example/f>; rel=duplicate; anchor=\"file.iso?x=1\"", 2, 0,
      { { "http://a.example/f", 999999, 0, "" },
        { "http://b.example/f", 999999, 0, "" } } },
    /* refused */
    { "<ftp://a.example/f>; rel=duplicate, <file:///etc/passwd>; "
      "rel=duplicate, <mailto:a@b.example>; rel=duplicate", 0, 3,
      { { NULL } } },
    { "<http://a.example/f g>; rel=duplicate, <http://>; rel=duplicate", 0,
      2, { { NULL } } },
    { "<http://a.example/1>; rel=duplicate; pri=0, "
      "<http://a.example/2>; rel=duplicate; pri=1000000, "
      "<http://a.example/3>; rel=duplicate; pri=x, "
      "<http://a.example/4>; rel=duplicate; pri, "
      "<http://a.example/5>; rel=duplicate; pri=999999", 1, 4,
      { { "http://a.example/5", 999999, 0, "" } } },
    { "<http://a.example/1>; rel=duplicate; geo=usa, "
      "<http://a.example/2>; rel=duplicate; geo=d1, "
      "<http://a.example/3>; rel=duplicate; geo", 0, 3, { { NULL } } },
    { "", 0, 0, { { NULL } } },
    { " , ,", 0, 0, { { NULL } } },
  };
  /* clang-format on */
  size_t c, k;

  for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    const link_case *t = &cases[c];
    rf__mirror_list l = RF__MIRROR_LIST_INIT;
    char err[256] = "";

    cr_assert_eq(rf__parse_link_mirrors(t->value, strlen(t->value), BASE, &l,
                                        err, sizeof(err)),
                 0, "'%s': %s", t->value, err);
    cr_expect_eq(l.n, t->n, "'%s': %zu mirrors", t->value, l.n);
    cr_expect_eq(l.refused, t->refused, "'%s': %zu refused (%s)", t->value,
                 l.refused, err);
    cr_expect_eq(l.dropped, 0);
    for (k = 0; k < t->n && k < l.n; k++) {
      cr_expect_str_eq(l.v[k].url, t->m[k].url, "'%s' #%zu", t->value, k);
      cr_expect_eq(l.v[k].pri, t->m[k].pri, "'%s' #%zu pri %u", t->value, k,
                   l.v[k].pri);
      cr_expect_eq(l.v[k].pref, t->m[k].pref, "'%s' #%zu pref", t->value, k);
      cr_expect_str_eq(l.v[k].geo, t->m[k].geo, "'%s' #%zu geo", t->value, k);
    }
    rf__mirror_list_free(&l);
  }
  ASSERT_NO_LEAKS();
}

Test(parse, link_mirrors_malformed)
{
  static const char *bad[] = {
    "http://a.example/f; rel=duplicate",         /* no <...> */
    "<http://a.example/f; rel=duplicate",        /* '<' without '>' */
    "<http://a.example/f> rel=duplicate",        /* no ';' */
    "<http://a.example/f>; rel=\"duplicate",     /* open quote */
    "<http://a.example/f>; =duplicate",          /* no name */
    "<http://a.example/f>; rel=",                /* '=' and no value */
    "<http://a.example/f>; rel=dup licate",      /* two tokens */
    "<http://a.example/f>; rel=duplicate, junk", /* a list element */
    "<http://a.example/f>; rel=duplicate; title=\"a\x01z\"",
    "<http://a.example/f>; rel=duplicate; ti(tle=x",
    "<http://a.example/f>; rel=duplicate; title=\"a\\",
  };
  rf__mirror_list l = RF__MIRROR_LIST_INIT;
  const char *first = "<http://keep.example/f>; rel=duplicate";
  char err[256];
  size_t i;

  cr_assert_eq(
      rf__parse_link_mirrors(first, strlen(first), BASE, &l, err, sizeof(err)),
      0);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    /* a good mirror first: the call adds nothing when the value is bad */
    char v[256];

    snprintf(v, sizeof(v), "<http://new.example/f>; rel=duplicate, %s", bad[i]);
    err[0] = '\0';
    cr_expect_eq(
        rf__parse_link_mirrors(v, strlen(v), BASE, &l, err, sizeof(err)),
        RF_EPROTO, "accepted '%s'", v);
    cr_expect(strstr(err, "malformed Link header at byte") != NULL, "%s", err);
    cr_expect_eq(l.n, 1, "'%s' left %zu mirrors", v, l.n);
  }
  cr_assert_str_eq(l.v[0].url, "http://keep.example/f");
  {
    static const char nul[] = "<http://a.example/f\0x>; rel=duplicate";

    cr_expect_eq(rf__parse_link_mirrors(nul, sizeof(nul) - 1, BASE, &l, err,
                                        sizeof(err)),
                 RF_EPROTO);
    cr_expect_eq(l.n, 1);
  }
  rf__mirror_list_free(&l);
  ASSERT_NO_LEAKS();
}

Test(parse, link_mirrors_list)
{
  rf__mirror_list l = RF__MIRROR_LIST_INIT;
  char v[4096], err[256] = "";
  size_t i, off = 0;
  const char *more = "<http://x.example/f>; rel=duplicate";
  const char *again = "<HTTP://m0.example/f#x>; rel=duplicate";
  const char *secret = "<http://u:s3cret@m.example/f>; rel=duplicate; pri=0";

  /* Lines accumulate; a repeat across lines is left out. */
  for (i = 0; i < 40; i++)
    off += (size_t)snprintf(v + off, sizeof(v) - off,
                            "%s<http://m%zu.example/f>; rel=duplicate",
                            i > 0 ? ", " : "", i);
  cr_assert_eq(rf__parse_link_mirrors(v, strlen(v), BASE, &l, err, sizeof(err)),
               0);
  cr_assert_eq(l.n, RF__MIRRORS_MAX);
  cr_assert_eq(l.dropped, 40 - RF__MIRRORS_MAX);
  cr_assert_str_eq(l.v[31].url, "http://m31.example/f");
  cr_assert_eq(
      rf__parse_link_mirrors(more, strlen(more), BASE, &l, err, sizeof(err)),
      0);
  cr_assert_eq(l.dropped, 40 - RF__MIRRORS_MAX + 1);
  rf__mirror_list_free(&l);
  cr_assert_eq(l.n, 0);
  cr_assert_eq(l.dropped, 0);

  cr_assert_eq(rf__parse_link_mirrors(v, 36, BASE, &l, err, sizeof(err)), 0);
  cr_assert_eq(l.n, 1);
  cr_assert_eq(
      rf__parse_link_mirrors(again, strlen(again), BASE, &l, err, sizeof(err)),
      0);
  cr_assert_eq(l.n, 1, "scheme case and fragment differ, same URL");

  /* The refusal is explained, without the password. */
  err[0] = '\0';
  cr_assert_eq(rf__parse_link_mirrors(secret, strlen(secret), BASE, &l, err,
                                      sizeof(err)),
               0);
  cr_assert_eq(l.refused, 1);
  cr_assert(strstr(err, "pri '0'") != NULL, "%s", err);
  cr_assert(strstr(err, "u:***@m.example") != NULL, "%s", err);
  cr_assert(strstr(err, "s3cret") == NULL, "%s", err);

  /* The response URL must be an absolute http(s) URL. */
  cr_assert_eq(rf__parse_link_mirrors(more, strlen(more), "ftp://o/f", &l, err,
                                      sizeof(err)),
               RF_EURL);
  cr_assert_eq(rf__parse_link_mirrors(more, strlen(more), "file.iso", &l, err,
                                      sizeof(err)),
               RF_EURL);
  cr_assert_eq(
      rf__parse_link_mirrors(more, strlen(more), NULL, &l, err, sizeof(err)),
      RF_EINVAL);
  cr_assert_eq(l.n, 1);
  rf__mirror_list_free(&l);
  rf__mirror_list_free(NULL);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------ Repr-Digest and Digest */

/* SHA-256 of "" and of "hello", base64. */
#define EMPTY_B64 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define HELLO_B64 "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
#define EMPTY_HEX \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HELLO_HEX \
  "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define SHA512_EMPTY_B64                                                 \
  "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kx" \
  "vUdBeoGlODJ6+SfaPg=="

typedef struct digest_case {
  const char *value;
  int rc;           /* 1, 0 or RF_EPROTO */
  const char *hex;  /* the digest for rc 1 */
  const char *says; /* part of the message for RF_EPROTO */
} digest_case;

typedef int (*digest_fn)(const char *, size_t, unsigned char *, char *, size_t);

static void run_digest_cases(digest_fn fn, const digest_case *cases, size_t n)
{
  size_t c, k;

  for (c = 0; c < n; c++) {
    const digest_case *t = &cases[c];
    unsigned char d[32];
    char err[256] = "", hex[65];
    int rc = fn(t->value, strlen(t->value), d, err, sizeof(err));

    cr_expect_eq(rc, t->rc, "'%s' gave %d (%s)", t->value, rc, err);
    if (rc == 1 && t->rc == 1) {
      for (k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", d[k]);
      cr_expect_str_eq(hex, t->hex, "'%s'", t->value);
    }
    if (t->says != NULL)
      cr_expect(strstr(err, t->says) != NULL, "'%s': '%s' lacks '%s'", t->value,
                err, t->says);
  }
}

Test(parse, repr_digest_table)
{
  static const digest_case cases[] = {
    { "sha-256=:" EMPTY_B64 ":", 1, EMPTY_HEX, NULL },
    { "sha-512=:" SHA512_EMPTY_B64 ":, sha-256=:" HELLO_B64 ":", 1, HELLO_HEX,
      NULL },
    { "  sha-256=:" HELLO_B64 ":;keyid=\"k1\";v=2 ,sha-512=:" SHA512_EMPTY_B64
      ": ",
      1, HELLO_HEX, NULL },
    /* padding is optional in a Byte Sequence (RFC 8941 4.2.7) */
    { "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU:", 1, EMPTY_HEX,
      NULL },
    /* every kind of member value is walked over */
    { "a=1, b=-1.5, c=\"x\\\"y\", d=tok/x:y, e=?1, f, g=(1 \"x\" :AA==:);p, "
      "h=@1700000000, i=%\"caf%c3%a9\", j=();q=?0, *k=1, sha-256=:" EMPTY_B64
      ":",
      1, EMPTY_HEX, NULL },
    /* the last member of a key counts (RFC 8941 Dictionary) */
    { "sha-256=:" EMPTY_B64 ":, sha-256=:" HELLO_B64 ":", 1, HELLO_HEX, NULL },
    { "sha-256=:AAAA:, sha-256=:" HELLO_B64 ":", 1, HELLO_HEX, NULL },
    /* no sha-256 */
    { "", 0, NULL, NULL },
    { "   ", 0, NULL, NULL },
    { "sha-512=:" SHA512_EMPTY_B64 ":", 0, NULL, NULL },
    /* malformed */
    { "sha-256;x=1", RF_EPROTO, NULL, "not a byte sequence" },
    { "SHA-256=:" EMPTY_B64 ":", RF_EPROTO, NULL, "expected a key" },
    { "sha-256=" EMPTY_B64, RF_EPROTO, NULL, "not a byte sequence" },
    { "sha-256=\"" EMPTY_B64 "\"", RF_EPROTO, NULL, "not a byte sequence" },
    { "sha-256=(:" EMPTY_B64 ":)", RF_EPROTO, NULL, "not a byte sequence" },
    { "sha-256=:eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA==:", RF_EPROTO, NULL,
      "is 31 bytes, expected 32" },
    { "sha-256=:eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4:", RF_EPROTO, NULL,
      "is 33 bytes, expected 32" },
    { "sha-256=::", RF_EPROTO, NULL, "is 0 bytes" },
    { "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF=U:", RF_EPROTO, NULL,
      "not base64" },
    { "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu===:", RF_EPROTO, NULL,
      "not base64" },
    { "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=!:", RF_EPROTO,
      NULL, "outside base64" },
    { "sha-256=:47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", RF_EPROTO, NULL,
      "outside base64" },
    { "sha-256=:" EMPTY_B64, RF_EPROTO, NULL, "closing ':'" },
    { "sha-256=:" EMPTY_B64 ":,", RF_EPROTO, NULL, "ends the value" },
    { "sha-256=:" EMPTY_B64 ": sha-512=:AA==:", RF_EPROTO, NULL,
      "expected ','" },
    { "sha-256 =:" EMPTY_B64 ":", RF_EPROTO, NULL, "not a byte sequence" },
    { "a=1 =:" EMPTY_B64 ":", RF_EPROTO, NULL, "expected ','" },
    { "a=1.2345, sha-256=:" EMPTY_B64 ":", RF_EPROTO, NULL, "fraction" },
    { "a=1234567890123456", RF_EPROTO, NULL, "too many digits" },
    { "a=\"open", RF_EPROTO, NULL, "closing '\"'" },
    { "a=\"\\n\"", RF_EPROTO, NULL, "escapes" },
    { "a=(1 2", RF_EPROTO, NULL, "closing ')'" },
    { "a=(1,2)", RF_EPROTO, NULL, "separated by spaces" },
    { "a=?2", RF_EPROTO, NULL, "?0 or ?1" },
    { "a=@1.5", RF_EPROTO, NULL, "integer" },
    { "a=%\"%C3\"", RF_EPROTO, NULL, "%-escape" },
    { "a=1;", RF_EPROTO, NULL, "expected a key" },
    { "a=#", RF_EPROTO, NULL, "expected a value" },
    { ", sha-256=:" EMPTY_B64 ":", RF_EPROTO, NULL, "expected a key" },
  };

  run_digest_cases(rf__parse_repr_digest, cases,
                   sizeof(cases) / sizeof(cases[0]));
}

Test(parse, digest_table)
{
  static const digest_case cases[] = {
    { "SHA-256=" EMPTY_B64, 1, EMPTY_HEX, NULL },
    { "MD5=HUXZLQLMuI/KZ5KDcJPcOA==, sha-256=" HELLO_B64, 1, HELLO_HEX, NULL },
    { "  Sha-256 = " HELLO_B64 " ,, SHA=qvTGHdzF6KLavt4PO0gs2a6pQ00=", 1,
      HELLO_HEX, NULL },
    { "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", 1, EMPTY_HEX,
      NULL },
    { "SHA-256=" EMPTY_B64 ", SHA-256=" EMPTY_B64, 1, EMPTY_HEX, NULL },
    /* no SHA-256 */
    { "", 0, NULL, NULL },
    { " , ", 0, NULL, NULL },
    { "MD5=HUXZLQLMuI/KZ5KDcJPcOA==", 0, NULL, NULL },
    { "UNIXsum=30637, SHA-512=" SHA512_EMPTY_B64, 0, NULL, NULL },
    { "id-sha-256=" EMPTY_B64, 0, NULL, NULL },
    /* malformed */
    { "SHA-256=" EMPTY_HEX, RF_EPROTO, NULL, "hex digits" },
    { "SHA-256=" EMPTY_B64 ", SHA-256=" HELLO_B64, RF_EPROTO, NULL,
      "two different" },
    { "SHA-256", RF_EPROTO, NULL, "not algorithm=value" },
    { "=abc", RF_EPROTO, NULL, "not algorithm=value" },
    { "SHA-256=", RF_EPROTO, NULL, "not algorithm=value" },
    { "SHA 256=" EMPTY_B64, RF_EPROTO, NULL, "not algorithm=value" },
    { "MD5=x, SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=!", RF_EPROTO,
      NULL, "not base64" },
    { "SHA-256=:" EMPTY_B64 ":", RF_EPROTO, NULL, "not base64" },
    { "SHA-256=eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA==", RF_EPROTO, NULL,
      "is 31 bytes" },
  };

  run_digest_cases(rf__parse_digest, cases, sizeof(cases) / sizeof(cases[0]));
}
