/*
 * The `env` proxy rules (engine/proxy/env.c): variable precedence and the
 * no_proxy grammar, one table row per rule.
 *
 * The `curl` column is what Debian's curl 7.88.1 binary does with the same
 * URL and environment (checked with `curl -v` against a closed port on
 * 127.0.0.1 as the proxy: the verbose log tells whether curl tried the
 * proxy or the host).  Where it differs from ours, the row says why we do
 * not follow curl; docs/proxy-env.md lists the differences.
 */
#include <criterion/criterion.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/env.h"
#include "rangefetch/rangefetch.h"
#include "support/leaks.h"

TestSuite(env);

/* ------------------------------------------------------------ no_proxy */

typedef struct np_row {
  const char *host; /* as rf__noproxy_match gets it: no brackets */
  const char *list;
  int match; /* ours: 1 = excluded (direct) */
  int curl;  /* curl 7.88.1 */
} np_row;

/* clang-format off */
static const np_row np_rows[] = {
  /* Names: the name itself and its subdomains, on a label boundary. */
  { "example.com", "example.com", 1, 1 },
  { "www.example.com", "example.com", 1, 1 },
  { "a.b.example.com", "example.com", 1, 1 },
  { "badexample.com", "example.com", 0, 0 },
  { "example.com", "www.example.com", 0, 0 },
  { "example.com.au", "example.com", 0, 0 },
  { "example.com", "ample.com", 0, 0 },
  /* One leading dot is the same as none. */
  { "www.example.com", ".example.com", 1, 1 },
  { "example.com", ".example.com", 1, 1 },
  { "badexample.com", ".example.com", 0, 0 },
  { "example.com", "..example.com", 0, 0 },
  /* Case-insensitive. */
  { "EXAMPLE.com", "example.COM", 1, 1 },
  { "www.Example.Com", ".EXAMPLE.COM", 1, 1 },
  /* A trailing dot on the host or on the entry is ignored (one). */
  { "example.com.", "example.com", 1, 1 },
  { "www.example.com.", ".example.com", 1, 1 },
  { "example.com", "example.com.", 1, 1 },
  { "www.example.com", ".example.com.", 1, 1 },
  { "example.com", "example.com..", 0, 0 },
  /* "*" alone matches everything; nowhere else is it a wildcard. */
  { "example.com", "*", 1, 1 },
  { "10.1.2.3", "*", 1, 1 },
  { "::1", "*", 1, 1 },
  { "example.com", " *", 0, 0 },
  { "example.com", "*,", 0, 0 },
  { "example.com", "foo.org,*", 0, 0 },
  { "www.example.com", "*.example.com", 0, 0 },
  /* Separators: commas, spaces, tabs, in runs; empty entries skipped. */
  { "example.com", "foo.org,example.com", 1, 1 },
  { "example.com", "  foo.org ,  example.com  ", 1, 1 },
  { "example.com", "foo.org example.com", 1, 1 },
  { "example.com", "foo.org\texample.com", 1, 1 },
  { "example.com", ",,foo.org,,, ,example.com,,", 1, 1 },
  { "example.com", "foo.org,bar.org", 0, 0 },
  { "example.com", ",", 0, 0 },
  { "example.com", ".", 0, 0 },
  { "example.com", " ", 0, 0 },
  { "example.com", "", 0, 0 },
  /* No name resolution: a name never matches an address entry. */
  { "localhost", "127.0.0.1", 0, 0 },
  /* An entry with a port matches nothing (curl does not strip it: the
   * entry is compared whole and fails, even when the port is the URL's). */
  { "example.com", "example.com:80", 0, 0 },
  { "example.com", "example.com:8080", 0, 0 },
  { "10.1.2.3", "10.1.2.3:80", 0, 0 },
  { "::1", "[::1]:80", 0, 0 },

  /* IPv4 literals compare as addresses. */
  { "10.1.2.3", "10.1.2.3", 1, 1 },
  { "10.1.2.3", "10.1.2.4", 0, 0 },
  { "10.1.2.3", "2.3", 0, 0 },
  { "10.1.2.3", ".1.2.3", 0, 0 },
  { "10.1.2.3", "[10.1.2.3]", 0, 0 },
  { "10.1.2.3", "foo.org, 10.1.2.3", 1, 1 },
  /* An IPv4 host with a trailing dot is a name (curl: same). */
  { "10.1.2.3.", "10.1.2.3", 1, 1 },
  { "10.1.2.3.", "10.0.0.0/8", 0, 0 },
  /* IPv4 CIDR. */
  { "10.1.2.3", "10.0.0.0/8", 1, 1 },
  { "10.255.255.255", "10.0.0.0/8", 1, 1 },
  { "11.1.2.3", "10.0.0.0/8", 0, 0 },
  { "10.1.2.3", "10.1.2.0/24", 1, 1 },
  { "10.1.3.3", "10.1.2.0/24", 0, 0 },
  { "10.1.2.3", "10.1.2.2/31", 1, 1 },
  { "10.1.2.3", "10.1.2.4/31", 0, 0 },
  { "10.1.2.3", "10.1.2.3/32", 1, 1 },
  { "10.1.2.4", "10.1.2.3/32", 0, 0 },
  { "10.1.2.3", "10.1.2.3/33", 0, 0 },
  { "10.1.2.3", "10.1.2.3/1000", 0, 0 },
  { "0.0.0.0", "0.0.0.0/0", 1, 1 },
  /* /0 covers every address.  curl 7.88.1 reads a prefix length of 0 as
   * "none given" and compares the whole address. */
  { "10.1.2.3", "0.0.0.0/0", 1, 0 },
  /* A malformed prefix length matches nothing.  curl takes atoi() of it,
   * gets 0 and compares the whole address. */
  { "10.1.2.3", "10.1.2.3/", 0, 1 },
  { "10.1.2.3", "10.1.2.3/abc", 0, 1 },
  { "10.1.2.3", "10.1.2.3/8x", 0, 1 },
  /* No mapping between the families. */
  { "10.1.2.3", "::ffff:10.1.2.3", 0, 0 },
  { "::ffff:10.1.2.3", "10.1.2.3", 0, 0 },
  { "::ffff:10.1.2.3", "10.0.0.0/8", 0, 0 },

  /* IPv6 literals compare as addresses, with or without brackets.
   * curl 7.88.1 gets the host without brackets, takes it for a name and
   * compares strings: another spelling of the address or brackets on the
   * entry never match (curl issue #5745). */
  { "::1", "::1", 1, 1 },
  { "::1", "::2", 0, 0 },
  { "2001:db8::1", "2001:DB8::1", 1, 1 },
  { "::ffff:10.1.2.3", "::ffff:10.1.2.3", 1, 1 },
  { "::1", "0:0::1", 1, 0 },
  { "::1", "0000:0000:0000:0000:0000:0000:0000:0001", 1, 0 },
  { "::1", "[::1]", 1, 0 },
  { "::1", "[::2]", 0, 0 },
  { "::1", "localhost", 0, 0 },
  { "::1", "::1/abc", 0, 0 },
  /* IPv6 CIDR matches by prefix.  curl 7.88.1 never matches an IPv6 CIDR
   * entry (the host is compared as a name, curl PR #19828); had it reached
   * its CIDR code, prefix lengths not divisible by 8 would be inverted
   * (fe80::/10 matching fec0::1, not fe80::1; fixed in curl 8.17.0). */
  { "fd00::1", "fd00::/8", 1, 0 },
  { "fdff:1:2::3", "fd00::/8", 1, 0 },
  { "fe00::1", "fd00::/8", 0, 0 },
  { "fd12:3456::1", "[fd00::]/8", 1, 0 },
  { "2001:db8::1", "2001:db8::/64", 1, 0 },
  { "2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64", 1, 0 },
  { "2001:db8:0:1::1", "2001:db8::/64", 0, 0 },
  { "2001:db8::1", "2001:db8::1/128", 1, 0 },
  { "2001:db8::2", "2001:db8::1/128", 0, 0 },
  { "2001:db8::1", "2001:db8::1/129", 0, 0 },
  { "2001:db8::1", "::/0", 1, 0 },
  { "fe80::1", "fe80::/10", 1, 0 },
  { "febf::1", "fe80::/10", 1, 0 },
  { "fec0::1", "fe80::/10", 0, 0 },
  { "fe40::1", "fe80::/10", 0, 0 },
  /* v4-mapped addresses are IPv6 addresses like any other. */
  { "::ffff:10.1.2.3", "::ffff:10.0.0.0/104", 1, 0 },
  { "::ffff:11.1.2.3", "::ffff:10.0.0.0/104", 0, 0 },
};
/* clang-format on */

Test(env, noproxy_table)
{
  size_t i;

  for (i = 0; i < sizeof(np_rows) / sizeof(np_rows[0]); i++) {
    const np_row *r = &np_rows[i];

    cr_expect_eq(rf__noproxy_match(r->host, r->list), r->match,
                 "row %zu: host '%s' no_proxy '%s': expected %d", i, r->host,
                 r->list, r->match);
  }
}

Test(env, noproxy_null_and_empty)
{
  cr_assert_eq(rf__noproxy_match(NULL, "*"), 0);
  cr_assert_eq(rf__noproxy_match("", "*"), 0);
  cr_assert_eq(rf__noproxy_match("example.com", NULL), 0);
  cr_assert_eq(rf__noproxy_match("example.com", ""), 0);
}

/* -------------------------------------------------- rf__env_proxy_for */

#define ENV_MAX 6

typedef struct env_row {
  const char *what;
  const char *url;
  const char *env[ENV_MAX]; /* "NAME=value" */
  int err;
  const char *proxy;  /* NULL: direct */
  const char *source; /* NULL: nothing set */
} env_row;

/* rf__env_get_fn over a row's "NAME=value" strings. */
static const char *row_get(const char *name, void *user_data)
{
  const env_row *r = user_data;
  size_t i, n = strlen(name);

  for (i = 0; i < ENV_MAX && r->env[i] != NULL; i++) {
    if (strncmp(r->env[i], name, n) == 0 && r->env[i][n] == '=')
      return r->env[i] + n + 1;
  }
  return NULL;
}

#define P "http://p:1"

/* clang-format off */
static const env_row env_rows[] = {
  /* Precedence for http:// URLs.  HTTP_PROXY is never read (httpoxy). */
  { "http_proxy", "http://h.test/", { "http_proxy=p:1" }, 0, P,
    "http_proxy" },
  { "HTTP_PROXY ignored", "http://h.test/", { "HTTP_PROXY=p:1" }, 0, NULL,
    NULL },
  { "HTTP_PROXY ignored, all_proxy", "http://h.test/",
    { "HTTP_PROXY=q:1", "all_proxy=p:1" }, 0, P, "all_proxy" },
  { "HTTP_PROXY ignored, ALL_PROXY", "http://h.test/",
    { "HTTP_PROXY=q:1", "ALL_PROXY=p:1" }, 0, P, "ALL_PROXY" },
  { "http_proxy before all_proxy", "http://h.test/",
    { "all_proxy=q:1", "http_proxy=p:1" }, 0, P, "http_proxy" },
  { "all_proxy before ALL_PROXY", "http://h.test/",
    { "ALL_PROXY=q:1", "all_proxy=p:1" }, 0, P, "all_proxy" },
  { "https_proxy not for http", "http://h.test/", { "https_proxy=p:1" }, 0,
    NULL, NULL },
  { "nothing set", "http://h.test/", { NULL }, 0, NULL, NULL },

  /* Precedence for https:// URLs: HTTPS_PROXY is read. */
  { "https_proxy", "https://h.test/", { "https_proxy=p:1" }, 0, P,
    "https_proxy" },
  { "HTTPS_PROXY", "https://h.test/", { "HTTPS_PROXY=p:1" }, 0, P,
    "HTTPS_PROXY" },
  { "https_proxy before HTTPS_PROXY", "https://h.test/",
    { "HTTPS_PROXY=q:1", "https_proxy=p:1" }, 0, P, "https_proxy" },
  { "HTTPS_PROXY before all_proxy", "https://h.test/",
    { "all_proxy=q:1", "HTTPS_PROXY=p:1" }, 0, P, "HTTPS_PROXY" },
  { "ALL_PROXY for https", "https://h.test/", { "ALL_PROXY=p:1" }, 0, P,
    "ALL_PROXY" },
  { "http_proxy not for https", "https://h.test/", { "http_proxy=p:1" }, 0,
    NULL, NULL },
  { "scheme is case-insensitive", "HTTPS://h.test/", { "https_proxy=p:1" },
    0, P, "https_proxy" },
  /* Other schemes: upper case accepted. */
  { "FTP_PROXY", "ftp://h.test/", { "FTP_PROXY=p:1" }, 0, P, "FTP_PROXY" },

  /* Empty values count as unset (curl_getenv), so the next one is used;
   * when all are empty, no proxy. */
  { "empty https_proxy", "https://h.test/",
    { "https_proxy=", "HTTPS_PROXY=p:1" }, 0, P, "HTTPS_PROXY" },
  { "empty http_proxy", "http://h.test/", { "http_proxy=", "all_proxy=p:1" },
    0, P, "all_proxy" },
  { "all empty", "https://h.test/",
    { "https_proxy=", "HTTPS_PROXY=", "all_proxy=", "ALL_PROXY=" }, 0, NULL,
    NULL },

  /* no_proxy, then NO_PROXY. */
  { "no_proxy", "http://h.test/", { "http_proxy=p:1", "no_proxy=h.test" }, 0,
    NULL, "no_proxy" },
  { "NO_PROXY", "http://h.test/", { "http_proxy=p:1", "NO_PROXY=h.test" }, 0,
    NULL, "NO_PROXY" },
  { "no_proxy wins over NO_PROXY", "http://h.test/",
    { "http_proxy=p:1", "no_proxy=other.test", "NO_PROXY=h.test" }, 0, P,
    "http_proxy" },
  { "empty no_proxy: NO_PROXY", "http://h.test/",
    { "http_proxy=p:1", "no_proxy=", "NO_PROXY=h.test" }, 0, NULL,
    "NO_PROXY" },
  { "no_proxy without a proxy", "http://h.test/", { "no_proxy=h.test" }, 0,
    NULL, NULL },
  { "no_proxy not matching", "https://www.h.test/",
    { "https_proxy=p:1", "no_proxy=ww.h.test" }, 0, P, "https_proxy" },
  { "no_proxy *", "https://h.test/", { "all_proxy=p:1", "no_proxy=*" }, 0,
    NULL, "no_proxy" },
  { "URL port ignored", "http://h.test:8080/",
    { "http_proxy=p:1", "no_proxy=h.test" }, 0, NULL, "no_proxy" },
  { "URL credentials ignored", "http://u:pw@h.test/",
    { "http_proxy=p:1", "no_proxy=h.test" }, 0, NULL, "no_proxy" },
  { "IPv4 URL", "http://10.1.2.3:8080/",
    { "http_proxy=p:1", "no_proxy=10.0.0.0/8" }, 0, NULL, "no_proxy" },
  { "IPv4 URL normalized by the URL parser", "http://0x7f.1/",
    { "http_proxy=p:1", "no_proxy=127.0.0.1" }, 0, NULL, "no_proxy" },
  { "IPv6 URL, brackets dropped", "http://[::1]:8080/",
    { "http_proxy=p:1", "no_proxy=::1" }, 0, NULL, "no_proxy" },
  /* curl 7.88.1: through the proxy (IPv6 CIDR never matches there). */
  { "IPv6 URL, CIDR", "http://[fd00::1]/",
    { "http_proxy=p:1", "no_proxy=fd00::/8" }, 0, NULL, "no_proxy" },
  { "IPv6 URL, zone id dropped", "http://[fe80::1%25eth0]/",
    { "http_proxy=p:1", "no_proxy=fe80::1" }, 0, NULL, "no_proxy" },

  /* Proxy values. */
  { "no scheme: http://", "http://h.test/", { "http_proxy=proxy:3128" }, 0,
    "http://proxy:3128", "http_proxy" },
  { "no scheme, credentials", "http://h.test/",
    { "http_proxy=u:pw@proxy:3128" }, 0, "http://u:pw@proxy:3128",
    "http_proxy" },
  { "no scheme, no port", "http://h.test/", { "http_proxy=10.0.0.1" }, 0,
    "http://10.0.0.1", "http_proxy" },
  { "no scheme, IPv6", "http://h.test/", { "http_proxy=[::1]:3128" }, 0,
    "http://[::1]:3128", "http_proxy" },
  { "https proxy kept", "https://h.test/",
    { "https_proxy=https://proxy:3129" }, 0, "https://proxy:3129",
    "https_proxy" },
  { "socks5h kept", "https://h.test/", { "all_proxy=socks5h://s:1080" }, 0,
    "socks5h://s:1080", "all_proxy" },
  { "upper-case scheme kept", "http://h.test/",
    { "http_proxy=HTTP://proxy:3128" }, 0, "HTTP://proxy:3128",
    "http_proxy" },

  /* Malformed request URLs. */
  { "empty URL", "", { "http_proxy=p:1" }, RF_EURL, NULL, NULL },
  { "no scheme", "h.test/file", { "http_proxy=p:1" }, RF_EURL, NULL, NULL },
  { "no host", "http://:80/file", { "http_proxy=p:1" }, RF_EURL, NULL,
    NULL },
  { "only userinfo", "http://u@/", { "http_proxy=p:1" }, RF_EURL, NULL,
    NULL },
  { "file URL", "file:///etc/passwd", { "all_proxy=p:1" }, RF_EURL, NULL,
    NULL },
  { "space in host", "http://exa mple.com/", { "http_proxy=p:1" }, RF_EURL,
    NULL, NULL },
  { "unclosed bracket", "http://[::1/", { "http_proxy=p:1" }, RF_EURL, NULL,
    NULL },
  { "bad IPv6", "http://[::g]/", { "http_proxy=p:1" }, RF_EURL, NULL, NULL },
  { "bad port", "http://h.test:99999/", { "http_proxy=p:1" }, RF_EURL, NULL,
    NULL },
  { "unknown scheme", "gopherz://h.test/", { "all_proxy=p:1" }, RF_EURL,
    NULL, NULL },
};
/* clang-format on */

Test(env, proxy_for_table)
{
  size_t i;

  for (i = 0; i < sizeof(env_rows) / sizeof(env_rows[0]); i++) {
    const env_row *r = &env_rows[i];
    char *out = (char *)"unset";
    const char *source = "unset";
    int err;

    err = rf__env_proxy_for(r->url, row_get, (void *)r, &out, &source);
    cr_expect_eq(err, r->err, "%s: returned %d, expected %d", r->what, err,
                 r->err);
    if (r->proxy == NULL)
      cr_expect_null(out, "%s: proxy '%s', expected none", r->what, out);
    else
      cr_expect(out != NULL && strcmp(out, r->proxy) == 0,
                "%s: proxy '%s', expected '%s'", r->what,
                out != NULL ? out : "(none)", r->proxy);
    if (r->source == NULL)
      cr_expect_null(source, "%s: source '%s', expected none", r->what, source);
    else
      cr_expect(source != NULL && strcmp(source, r->source) == 0,
                "%s: source '%s', expected '%s'", r->what,
                source != NULL ? source : "(none)", r->source);
    free(out);
  }
  ASSERT_NO_LEAKS();
}

/* IDN hosts are compared in punycode, as curl does (checked with curl
 * 7.88.1 under a UTF-8 locale).  Without a locale libidn2 can convert
 * from, the name is compared as given. */
Test(env, proxy_for_idn)
{
  static const env_row r = { "IDN",
                             "http://www.b\303\274cher.example/",
                             { "http_proxy=p:1",
                               "no_proxy=xn--bcher-kva.example" },
                             0,
                             NULL,
                             "no_proxy" };
  char *out = NULL;
  const char *source = NULL;

  if (setlocale(LC_ALL, "C.UTF-8") == NULL)
    cr_skip_test("no C.UTF-8 locale");
  cr_assert_eq(rf__env_proxy_for(r.url, row_get, (void *)&r, &out, &source), 0);
  setlocale(LC_ALL, "C");
  cr_expect_null(out);
  cr_expect_str_eq(source != NULL ? source : "(none)", "no_proxy");
  free(out);
  ASSERT_NO_LEAKS();
}

/* In the C locale libidn2 cannot read the name (curl 7.88.1 then fails
 * with "out of memory"); the name is compared as given. */
Test(env, proxy_for_idn_without_locale)
{
  static const env_row r = { "IDN, C locale",
                             "http://www.b\303\274cher.example/",
                             { "http_proxy=p:1",
                               "no_proxy=b\303\274cher.example" },
                             0,
                             NULL,
                             "no_proxy" };
  char *out = NULL;
  const char *source = NULL;

  setlocale(LC_ALL, "C");
  cr_assert_eq(rf__env_proxy_for(r.url, row_get, (void *)&r, &out, &source), 0);
  cr_expect_null(out);
  cr_expect_str_eq(source != NULL ? source : "(none)", "no_proxy");
  free(out);
  ASSERT_NO_LEAKS();
}

Test(env, proxy_for_bad_arguments)
{
  static const env_row r = {
    "args", "http://h.test/", { "http_proxy=p:1" }, 0, NULL, NULL
  };
  char *out = (char *)"unset";
  const char *source = "unset";

  cr_assert_eq(rf__env_proxy_for(NULL, row_get, (void *)&r, &out, &source),
               RF_EURL);
  cr_assert_null(out);
  cr_assert_null(source);
  out = (char *)"unset";
  source = "unset";
  cr_assert_eq(rf__env_proxy_for(r.url, NULL, NULL, &out, &source), RF_EINVAL);
  cr_assert_null(out);
  cr_assert_null(source);
  cr_assert_eq(rf__env_proxy_for(r.url, row_get, (void *)&r, NULL, &source),
               RF_EINVAL);
  /* source may be NULL. */
  cr_assert_eq(rf__env_proxy_for(r.url, row_get, (void *)&r, &out, NULL), 0);
  cr_assert_str_eq(out, P);
  free(out);
  ASSERT_NO_LEAKS();
}

Test(env, getenv_reads_the_process_environment)
{
  char *out = NULL;
  const char *source = NULL;

  cr_assert_eq(setenv("RF_TEST_ENV_VAR", "value", 1), 0);
  cr_assert_str_eq(rf__env_getenv("RF_TEST_ENV_VAR", NULL), "value");
  cr_assert_eq(unsetenv("RF_TEST_ENV_VAR"), 0);
  cr_assert_null(rf__env_getenv("RF_TEST_ENV_VAR", NULL));

  /* End to end over the real environment (Criterion runs each test in
   * its own process, so this does not leak into other tests). */
  cr_assert_eq(unsetenv("no_proxy"), 0);
  cr_assert_eq(unsetenv("NO_PROXY"), 0);
  cr_assert_eq(unsetenv("https_proxy"), 0);
  cr_assert_eq(setenv("HTTPS_PROXY", "envproxy:3128", 1), 0);
  cr_assert_eq(
      rf__env_proxy_for("https://h.test/", rf__env_getenv, NULL, &out, &source),
      0);
  cr_assert_str_eq(out, "http://envproxy:3128");
  cr_assert_str_eq(source, "HTTPS_PROXY");
  free(out);
  ASSERT_NO_LEAKS();
}
