/*
 * The PAC evaluator (engine/proxy/pac.c): every helper with its edge cases
 * (fake DNS, injected clock), the result-string parser, URL sanitising and
 * the sandbox limits (deadline, memory cap, regexp step limit, syntax
 * errors).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/pac.h"
#include "rangefetch/rangefetch.h"
#include "support/leaks.h"
#include "support/speed.h"

TestSuite(pac);

/* Friday 2024-03-15 14:30:45 UTC */
#define T_FRI_1430 1710513045
/* Saturday 2024-03-16 02:00:00 UTC = Friday 21:00 in EST5 */
#define T_SAT_0200 1710554400
/* Friday 2024-03-15 23:00:00 UTC */
#define T_FRI_2300 1710543600

static int64_t g_now = T_FRI_1430;
static int g_resolve_calls;

static int64_t fake_clock(void *ud)
{
  (void)ud;
  return g_now;
}

static char **strv(size_t *n, const char *const *src, size_t k)
{
  char **v = malloc((k ? k : 1) * sizeof(*v));

  for (size_t i = 0; i < k; i++)
    v[i] = strdup(src[i]);
  *n = k;
  return v;
}

static int fake_resolve(void *ud, const char *host, int v6, char ***out,
                        size_t *n)
{
  static const char *const www[] = { "2606:2800:220:1::1", "93.184.216.34" };
  static const char *const intranet[] = { "10.1.2.3" };
  static const char *const v6only[] = { "2001:db8::5" };
  (void)ud;
  g_resolve_calls++;
  if (strcmp(host, "www.example.com") == 0) {
    *out = v6 ? strv(n, www, 2) : strv(n, www + 1, 1);
    return 0;
  }
  if (strcmp(host, "intranet") == 0) {
    *out = strv(n, intranet, 1);
    return 0;
  }
  if (strcmp(host, "v6only.test") == 0) {
    *out = v6 ? strv(n, v6only, 1) : strv(n, v6only, 0);
    return 0;
  }
  if (strncmp(host, "n", 1) == 0 && strstr(host, ".many") != NULL) {
    *out = strv(n, intranet, 1);
    return 0;
  }
  return -1;
}

static int fake_my(void *ud, char ***out, size_t *n)
{
  static const char *const mine[] = { "192.168.1.10", "2001:db8::10" };
  (void)ud;
  *out = strv(n, mine, 2);
  return 0;
}

static const rf__pac_dns fake_dns = { fake_resolve, fake_my, NULL };

static rf__pac *mk(const char *script, unsigned deadline, size_t mem)
{
  rf__pac_limits lim = { deadline, mem, fake_clock, NULL };
  rf__pac *p = NULL;
  char err[256];
  int rc = rf__pac_new(&p, script, strlen(script), &lim, &fake_dns, err,
                       sizeof(err));

  cr_assert_eq(rc, 0, "rf__pac_new: %d %s", rc, err);
  return p;
}

/* The value of a JavaScript expression, evaluated inside FindProxyForURL
 * (url and host come from http://www.example.com/). */
static char last[1024];

static const char *js(const char *expr)
{
  char script[2048], err[256], *res = NULL;
  rf__pac *p;
  int rc;

  snprintf(script, sizeof(script),
           "function FindProxyForURL(url, host) {\n"
           "  return String(%s);\n}\n",
           expr);
  p = mk(script, 0, 0);
  rc = rf__pac_find(p, "http://www.example.com/x", &res, err, sizeof(err));
  if (rc != 0)
    snprintf(last, sizeof(last), "ERROR %d %s", rc, err);
  else
    snprintf(last, sizeof(last), "%s", res);
  free(res);
  rf__pac_free(p);
  return last;
}

#define JS_EQ(expr, want) cr_expect_str_eq(js(expr), want, "%s", expr)

static void utc(void)
{
  setenv("TZ", "UTC", 1);
  tzset();
  g_now = T_FRI_1430;
}

/* ------------------------------------------------------------ helpers */

Test(pac, plain_and_domain_helpers, .init = utc)
{
  JS_EQ("isPlainHostName('www')", "true");
  JS_EQ("isPlainHostName('www.x.com')", "false");
  JS_EQ("isPlainHostName('www.')", "false");
  JS_EQ("isPlainHostName('::1')", "false");
  cr_expect(strncmp(js("isPlainHostName(5)"), "ERROR", 5) == 0);

  JS_EQ("dnsDomainIs('www.example.com', '.example.com')", "true");
  JS_EQ("dnsDomainIs('notexample.com', 'example.com')", "true");
  JS_EQ("dnsDomainIs('WWW.Example.com', '.example.com')", "false");
  JS_EQ("dnsDomainIs('www', '.example.com')", "false");
  JS_EQ("dnsDomainIs('a.com', '')", "true");

  JS_EQ("localHostOrDomainIs('www.x.com', 'www.x.com')", "true");
  JS_EQ("localHostOrDomainIs('www', 'www.x.com')", "true");
  JS_EQ("localHostOrDomainIs('www.x.com', 'www')", "false");
  JS_EQ("localHostOrDomainIs('www.y.com', 'www.x.com')", "false");
  JS_EQ("localHostOrDomainIs('ww', 'www.x.com')", "false");

  JS_EQ("dnsDomainLevels('www')", "0");
  JS_EQ("dnsDomainLevels('a.b.c')", "2");
  JS_EQ("dnsDomainLevels('www.')", "1");
  JS_EQ("getClientVersion()", "1.0");
  JS_EQ("url + ' ' + host", "http://www.example.com/ www.example.com");
}

Test(pac, sh_exp_match, .init = utc)
{
  JS_EQ("shExpMatch('www.example.com', '*.example.com')", "true");
  JS_EQ("shExpMatch('example.com', '*.example.com')", "false");
  JS_EQ("shExpMatch('abc', 'a?c')", "true");
  JS_EQ("shExpMatch('ac', 'a?c')", "false");
  JS_EQ("shExpMatch('abbbc', 'a*c')", "true");
  JS_EQ("shExpMatch('abcX', 'a*c')", "false");
  JS_EQ("shExpMatch('', '*')", "true");
  JS_EQ("shExpMatch('x', '')", "false");
  JS_EQ("shExpMatch('a.b', 'a?b')", "true");
  JS_EQ("shExpMatch('axb', 'a.b')", "false"); /* '.' is literal */
  JS_EQ("shExpMatch('a+b', 'a+b')", "true");  /* no regex pass-through */
  JS_EQ("shExpMatch('aab', 'a+b')", "false");
  JS_EQ("shExpMatch('(x', '(*')", "true"); /* no SyntaxError */
  JS_EQ("shExpMatch('ABC', 'abc')", "false");
  JS_EQ("shExpMatch('http://h/p/q', 'http://*/p/*')", "true");
  JS_EQ("shExpMatch('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab', '*a*a*a*a*a*a*c')",
        "false");
}

Test(pac, convert_addr_and_is_in_net, .init = utc)
{
  JS_EQ("convert_addr('192.168.0.1')", "-1062731775");
  JS_EQ("convert_addr('10.0.0.1')", "167772161");
  JS_EQ("convert_addr('1.2.3')", "16909056");
  JS_EQ("convert_addr('256.1.1.1')", "65793"); /* 256 & 0xff */
  JS_EQ("convert_addr('x.0x10.1.1')", "1048833");

  JS_EQ("isInNet('10.1.2.3', '10.0.0.0', '255.0.0.0')", "true");
  JS_EQ("isInNet('11.1.2.3', '10.0.0.0', '255.0.0.0')", "false");
  JS_EQ("isInNet('192.168.1.77', '192.168.1.64', '255.255.255.192')", "true");
  JS_EQ("isInNet('192.168.1.128', '192.168.1.64', '255.255.255.192')", "false");
  JS_EQ("isInNet('1.2.3.4', '0.0.0.0', '0.0.0.0')", "true");
  JS_EQ("isInNet('10.1.2.300', '10.0.0.0', '255.0.0.0')", "false");
  JS_EQ("isInNet('10.1.2.3', '10.0.0.0', '255.0.0')", "false");
  JS_EQ("isInNet('10.1.2.3', '10.0.0.999', '255.0.0.0')", "false");
  /* host names are resolved (IPv4 only) */
  JS_EQ("isInNet('intranet', '10.0.0.0', '255.0.0.0')", "true");
  JS_EQ("isInNet('www.example.com', '93.184.0.0', '255.255.0.0')", "true");
  JS_EQ("isInNet('nosuch.invalid', '0.0.0.0', '0.0.0.0')", "false");
  JS_EQ("isInNet('v6only.test', '0.0.0.0', '0.0.0.0')", "false");
  JS_EQ("isInNet('::1', '0.0.0.0', '0.0.0.0')", "false");
}

Test(pac, dns_helpers, .init = utc)
{
  JS_EQ("dnsResolve('www.example.com')", "93.184.216.34");
  JS_EQ("dnsResolve('nosuch.invalid')", "null");
  JS_EQ("dnsResolve('v6only.test')", "null");
  JS_EQ("dnsResolve('192.0.2.7')", "192.0.2.7");
  JS_EQ("isResolvable('www.example.com')", "true");
  JS_EQ("isResolvable('nosuch.invalid')", "false");
  JS_EQ("myIpAddress()", "192.168.1.10");

  JS_EQ("dnsResolveEx('www.example.com')", "2606:2800:220:1::1;93.184.216.34");
  JS_EQ("dnsResolveEx('v6only.test')", "2001:db8::5");
  JS_EQ("dnsResolveEx('nosuch.invalid')", "");
  JS_EQ("dnsResolveEx('2001:db8::9')", "2001:db8::9");
  JS_EQ("isResolvableEx('v6only.test')", "true");
  JS_EQ("isResolvableEx('nosuch.invalid')", "false");
  JS_EQ("myIpAddressEx()", "2001:db8::10;192.168.1.10");
}

Test(pac, dns_lookups_are_capped, .init = utc)
{
  g_resolve_calls = 0;
  JS_EQ("(function(){ var ok = 0; for (var i = 0; i < 30; i++)"
        " if (dnsResolve('n' + i + '.many')) ok++;"
        " dnsResolve('n0.many'); return ok; })()",
        "20");
  cr_expect_eq(g_resolve_calls, 20);
}

Test(pac, is_in_net_ex, .init = utc)
{
  JS_EQ("isInNetEx('2001:db8::1', '2001:db8::/32')", "true");
  JS_EQ("isInNetEx('2001:db9::1', '2001:db8::/32')", "false");
  JS_EQ("isInNetEx('2001:db8:ffff::1', '2001:db8:ffff::/48')", "true");
  JS_EQ("isInNetEx('fe80::1', 'fe80::/10')", "true");
  JS_EQ("isInNetEx('febf::1', 'fe80::/10')", "true");
  JS_EQ("isInNetEx('fec0::1', 'fe80::/10')", "false");
  JS_EQ("isInNetEx('::1', '::1/128')", "true");
  JS_EQ("isInNetEx('::2', '::/127')", "false");
  JS_EQ("isInNetEx('::1', '::/127')", "true");
  JS_EQ("isInNetEx('198.95.249.79', '198.95.249.79/32')", "true");
  JS_EQ("isInNetEx('198.95.6.8', '198.95.0.0/16')", "true");
  JS_EQ("isInNetEx('198.96.6.8', '198.95.0.0/16')", "false");
  JS_EQ("isInNetEx('1.2.3.4', '0.0.0.0/0')", "true");
  /* families differ: compared as v4-mapped IPv6 (Chromium) */
  JS_EQ("isInNetEx('10.1.2.3', '::ffff:10.0.0.0/104')", "true");
  JS_EQ("isInNetEx('2001:db8::1', '10.0.0.0/8')", "false");
  /* malformed */
  JS_EQ("isInNetEx('2001:db8::1', '2001:db8::')", "false");
  JS_EQ("isInNetEx('2001:db8::1', '2001:db8::/129')", "false");
  JS_EQ("isInNetEx('1.2.3.4', '1.2.3.0/33')", "false");
  JS_EQ("isInNetEx('1.2.3.4', '1.2.3.0/x')", "false");
  JS_EQ("isInNetEx('1.2.3.4', '3ffe:8311:ffff/48')", "false");
  JS_EQ("isInNetEx('www.example.com', '0.0.0.0/0')", "false");
}

Test(pac, sort_ip_address_list, .init = utc)
{
  JS_EQ("sortIpAddressList('10.2.3.9;2001:4898:28:3:201:2ff:feea:fc14;"
        "::1;127.0.0.1;::9')",
        "::1;::9;2001:4898:28:3:201:2ff:feea:fc14;10.2.3.9;127.0.0.1");
  JS_EQ("sortIpAddressList(' 10.0.0.2 ; 10.0.0.1 ')", "10.0.0.1;10.0.0.2");
  JS_EQ("sortIpAddressList('10.0.0.10;10.0.0.9')", "10.0.0.9;10.0.0.10");
  JS_EQ("sortIpAddressList('10.0.0.1;bogus')", "false");
  JS_EQ("sortIpAddressList('')", "false");
  JS_EQ("sortIpAddressList(5)", "null");
}

Test(pac, alert_is_logged_only)
{
  rf__pac *p = mk("function FindProxyForURL(u, h) {"
                  " alert('hello ' + h); alert({}); return 'DIRECT'; }",
                  0, 0);
  char *res = NULL;

  cr_assert_eq(rf__pac_find(p, "http://a.b/", &res, NULL, 0), 0);
  cr_expect_str_eq(res, "DIRECT");
  cr_expect_str_eq(rf__pac_alerts(p), "hello a.b\n[object Object]\n");
  free(res);
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

/* ---------------------------------------------------------- time */

Test(pac, weekday_range, .init = utc)
{
  JS_EQ("weekdayRange('FRI')", "true");
  JS_EQ("weekdayRange('MON', 'FRI')", "true");
  JS_EQ("weekdayRange('MON', 'THU')", "false");
  JS_EQ("weekdayRange('FRI', 'MON')", "true"); /* wrap-around */
  JS_EQ("weekdayRange('SAT', 'THU')", "false");
  JS_EQ("weekdayRange('fri')", "false");
  JS_EQ("weekdayRange('XYZ', 'FRI')", "false");
  JS_EQ("weekdayRange()", "false");
  JS_EQ("weekdayRange('FRI', 'GMT')", "true");

  /* Saturday 02:00 UTC is Friday 21:00 in EST5 */
  setenv("TZ", "EST5", 1);
  tzset();
  g_now = T_SAT_0200;
  JS_EQ("weekdayRange('FRI')", "true");
  JS_EQ("weekdayRange('FRI', 'GMT')", "false");
  JS_EQ("weekdayRange('SAT', 'GMT')", "true");
  JS_EQ("weekdayRange('SAT', 'SUN', 'GMT')", "true");
}

Test(pac, date_range, .init = utc)
{
  JS_EQ("dateRange(15)", "true");
  JS_EQ("dateRange(16)", "false");
  JS_EQ("dateRange('MAR')", "true");
  JS_EQ("dateRange('APR')", "false");
  JS_EQ("dateRange(2024)", "true");
  JS_EQ("dateRange(2023)", "false");
  JS_EQ("dateRange('mar')", "false");
  JS_EQ("dateRange(10, 20)", "true");
  JS_EQ("dateRange(16, 20)", "false");
  JS_EQ("dateRange('JAN', 'MAR')", "true");
  JS_EQ("dateRange('JAN', 'FEB')", "false");
  JS_EQ("dateRange('DEC', 'MAR')", "true"); /* wrap-around */
  JS_EQ("dateRange('APR', 'FEB')", "false");
  JS_EQ("dateRange(2020, 2025)", "true");
  JS_EQ("dateRange(2025, 2026)", "false");
  JS_EQ("dateRange(1, 'MAR', 15, 'MAR')", "true");
  JS_EQ("dateRange(16, 'MAR', 31, 'MAR')", "false");
  JS_EQ("dateRange('MAR', 2024, 'APR', 2024)", "true");
  JS_EQ("dateRange('MAR', 2023, 'APR', 2023)", "false");
  JS_EQ("dateRange(1, 'JAN', 2024, 31, 'DEC', 2024)", "true");
  JS_EQ("dateRange(16, 'MAR', 2024, 1, 'JAN', 2025)", "false");
  JS_EQ("dateRange(15, 'GMT')", "true");
  JS_EQ("dateRange()", "false");

  /* Saturday 16th 02:00 UTC is Friday 15th 21:00 in EST5 */
  setenv("TZ", "EST5", 1);
  tzset();
  g_now = T_SAT_0200;
  JS_EQ("dateRange(15)", "true");
  JS_EQ("dateRange(16, 'GMT')", "true");
  JS_EQ("dateRange(15, 'GMT')", "false");
}

Test(pac, time_range, .init = utc)
{
  JS_EQ("timeRange(14)", "true");
  JS_EQ("timeRange(13)", "false");
  JS_EQ("timeRange('14')", "true");
  JS_EQ("timeRange(9, 17)", "true");
  JS_EQ("timeRange(9, 14)", "true"); /* the whole end hour */
  JS_EQ("timeRange(15, 17)", "false");
  JS_EQ("timeRange(22, 6)", "false");        /* 2-arg form never wraps */
  JS_EQ("timeRange(14, 0, 14, 30)", "true"); /* end gets :59 */
  JS_EQ("timeRange(14, 31, 15, 0)", "false");
  JS_EQ("timeRange(14, 30, 45, 14, 30, 45)", "true");
  JS_EQ("timeRange(14, 30, 46, 15, 0, 0)", "false");
  JS_EQ("timeRange(22, 0, 6, 0)", "false");
  JS_EQ("timeRange(14, 'GMT')", "true");
  JS_EQ("timeRange()", "false");
  cr_expect(strstr(js("timeRange(1, 2, 3)"), "bad number of arguments"));
  cr_expect(
      strstr(js("timeRange(1, 2, 3, 4, 5, 'GMT')"), "bad number of arguments"));

  g_now = T_FRI_2300;
  JS_EQ("timeRange(22, 0, 6, 0)", "true"); /* 4-arg form wraps */
  JS_EQ("timeRange(22, 6)", "false");

  /* 23:00 UTC is 18:00 in EST5 */
  setenv("TZ", "EST5", 1);
  tzset();
  JS_EQ("timeRange(18)", "true");
  JS_EQ("timeRange(23, 'GMT')", "true");
  JS_EQ("timeRange(18, 'GMT')", "false");
  JS_EQ("timeRange(17, 0, 18, 0)", "true");
}

/* ------------------------------------------------------ result parser */

static size_t parse(const char *s, rf__pac_candidate **c)
{
  size_t n = 99;
  int rc = rf__pac_parse_result(s, c, &n);

  if (rc != 0) {
    cr_expect_eq(rc, RF_EPROXY);
    cr_expect_null(*c);
    cr_expect_eq(n, 0);
  }
  return n;
}

Test(pac, result_parser)
{
  rf__pac_candidate *c = NULL;

  cr_assert_eq(parse("PROXY a.b:3128; SOCKS5 s:1080;DIRECT", &c), 3);
  cr_expect_eq(c[0].kind, RF__PAC_PROXY);
  cr_expect_str_eq(c[0].host, "a.b");
  cr_expect_eq(c[0].port, 3128);
  cr_expect_eq(c[1].kind, RF__PAC_SOCKS5);
  cr_expect_eq(c[2].kind, RF__PAC_DIRECT);
  cr_expect_str_eq(c[2].host, "");
  cr_expect_eq(c[2].port, 0);
  free(c);

  cr_assert_eq(parse("  proxy\t p \t; ;; https h ;socks s; SOCKS4 t:9; "
                     "http q:8080 ;direct  ",
                     &c),
               6);
  cr_expect_eq(c[0].kind, RF__PAC_PROXY);
  cr_expect_eq(c[0].port, 80);
  cr_expect_eq(c[1].kind, RF__PAC_HTTPS);
  cr_expect_eq(c[1].port, 443);
  cr_expect_eq(c[2].kind, RF__PAC_SOCKS4);
  cr_expect_eq(c[2].port, 1080);
  cr_expect_eq(c[3].kind, RF__PAC_SOCKS4);
  cr_expect_eq(c[3].port, 9);
  cr_expect_eq(c[4].kind, RF__PAC_PROXY);
  cr_expect_eq(c[4].port, 8080);
  cr_expect_eq(c[5].kind, RF__PAC_DIRECT);
  free(c);

  cr_assert_eq(parse("PROXY [::1]:3128; SOCKS5 [2001:db8::1]; "
                     "PROXY [fe80::1",
                     &c),
               2);
  cr_expect_str_eq(c[0].host, "::1");
  cr_expect_eq(c[0].port, 3128);
  cr_expect_str_eq(c[1].host, "2001:db8::1");
  cr_expect_eq(c[1].port, 1080);
  free(c);

  /* every element invalid: unknown keyword, userinfo, bad ports, empty
   * port, unbracketed IPv6, DIRECT with a host, no host, garbage */
  cr_expect_eq(parse("QUIC q:443; PROXY u:p@h:1; PROXY h:0; PROXY h:65536; "
                     "PROXY h:; PROXY h:12x; PROXY ::1; DIRECT h:1; PROXY; "
                     "PROXY a b; PROXY [nothex]:1; PROXY [::1]x; PROXYa:1",
                     &c),
               0);
  cr_expect_eq(parse("", &c), 0);
  cr_expect_eq(parse(" ; ; ", &c), 0);

  cr_assert_eq(parse("QUIC q:443; PROXY h:65535", &c), 1);
  cr_expect_eq(c[0].port, 65535);
  free(c);
  cr_expect_eq(rf__pac_parse_result(NULL, &c, NULL), RF_EINVAL);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------ URL sanitising */

static const char *find_in(rf__pac *p, const char *url)
{
  char *res = NULL, err[256];
  int rc = rf__pac_find(p, url, &res, err, sizeof(err));

  if (rc != 0)
    snprintf(last, sizeof(last), "ERROR %d", rc);
  else
    snprintf(last, sizeof(last), "%s", res);
  free(res);
  return last;
}

Test(pac, url_is_sanitised)
{
  rf__pac *p = mk(
      "function FindProxyForURL(url, host) { return url + '|' + host; }", 0, 0);

  cr_expect_str_eq(find_in(p, "https://user:pw@Example.COM:8443/a/b?q=1#f"),
                   "https://example.com:8443/|example.com");
  cr_expect_str_eq(find_in(p, "http://h.test/secret?token=x"),
                   "http://h.test/|h.test");
  cr_expect_str_eq(find_in(p, "http://[::1]:8080/x"), "http://[::1]:8080/|::1");
  cr_expect_str_eq(find_in(p, "ftp://10.0.0.1"), "ftp://10.0.0.1/|10.0.0.1");
  cr_expect_str_eq(find_in(p, "not a url"), "ERROR -3");
  cr_expect_str_eq(find_in(p, "http://"), "ERROR -3");
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

/* ----------------------------------------------------------- the sandbox */

Test(pac, sandbox_has_no_io)
{
  JS_EQ("typeof Duktape + typeof require + typeof print + typeof console",
        "undefinedundefinedundefinedundefined");
}

Test(pac, find_proxy_for_url_ex_is_preferred)
{
  rf__pac *p = mk("function FindProxyForURL(u, h) { return 'DIRECT'; }\n"
                  "function FindProxyForURLEx(u, h) {"
                  " return 'PROXY ex:1'; }",
                  0, 0);

  cr_expect_str_eq(find_in(p, "http://a/"), "PROXY ex:1");
  rf__pac_free(p);

  p = mk("function FindProxyForURLEx(u, h) { return 'PROXY ex:2'; }", 0, 0);
  cr_expect_str_eq(find_in(p, "http://a/"), "PROXY ex:2");
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

Test(pac, script_errors)
{
  rf__pac *p = NULL;
  char err[256];
  const char *syn = "function FindProxyForURL(url, host) {\n"
                    "  var a = 1;\n"
                    "  let b = 2;\n"
                    "  return 'DIRECT';\n"
                    "}\n";
  const char *none = "function findProxy(url, host) { return 'DIRECT'; }";
  const char *top = "var x = 1;\nnull.y = 2;\n"
                    "function FindProxyForURL(u, h) { return 'DIRECT'; }";
  int rc;

  rc = rf__pac_new(&p, syn, strlen(syn), NULL, &fake_dns, err, sizeof(err));
  cr_expect_eq(rc, RF_EPROXY);
  cr_expect_null(p);
  cr_expect(strstr(err, "SyntaxError") != NULL, "%s", err);
  cr_expect(strstr(err, "line 3") != NULL, "%s", err);

  rc = rf__pac_new(&p, none, strlen(none), NULL, &fake_dns, err, sizeof(err));
  cr_expect_eq(rc, RF_EPROXY);
  cr_expect(strstr(err, "FindProxyForURL is not defined") != NULL, "%s", err);

  rc = rf__pac_new(&p, top, strlen(top), NULL, &fake_dns, err, sizeof(err));
  cr_expect_eq(rc, RF_EPROXY);
  cr_expect(strstr(err, "TypeError") != NULL, "%s", err);
  cr_expect(strstr(err, "line 2") != NULL, "%s", err);

  cr_expect_eq(rf__pac_new(&p, NULL, 0, NULL, NULL, err, sizeof(err)),
               RF_EINVAL);
  {
    size_t big = RF__PAC_MAX_SCRIPT + 1;
    char *s = malloc(big);

    memset(s, ' ', big);
    cr_expect_eq(rf__pac_new(&p, s, big, NULL, NULL, err, sizeof(err)),
                 RF_ETOOBIG);
    free(s);
  }
  ASSERT_NO_LEAKS();
}

Test(pac, runtime_errors_and_bad_results)
{
  rf__pac *p = mk("function FindProxyForURL(u, h) {\n"
                  "  if (h == 'throw') throw new Error('boom');\n"
                  "  if (h == 'num') return 42;\n"
                  "  if (h == 'undef') return;\n"
                  "  if (h == 'utf') return 'PROXY \\u00e9:1';\n"
                  "  if (h == 'long') return new Array(5000).join('x');\n"
                  "  return 'DIRECT';\n"
                  "}\n",
                  0, 0);
  char *res = NULL, err[256];

  cr_expect_eq(rf__pac_find(p, "http://throw/", &res, err, sizeof(err)),
               RF_EPROXY);
  cr_expect(strstr(err, "boom") != NULL && strstr(err, "line 2"), "%s", err);
  cr_expect_null(res);
  cr_expect_eq(rf__pac_find(p, "http://num/", &res, err, sizeof(err)),
               RF_EPROXY);
  cr_expect(strstr(err, "not a string") != NULL, "%s", err);
  cr_expect_eq(rf__pac_find(p, "http://undef/", &res, err, sizeof(err)),
               RF_EPROXY);
  cr_expect_eq(rf__pac_find(p, "http://utf/", &res, err, sizeof(err)),
               RF_EPROXY);
  cr_expect(strstr(err, "ASCII") != NULL, "%s", err);
  cr_expect_eq(rf__pac_find(p, "http://long/", &res, err, sizeof(err)),
               RF_EPROXY);
  cr_expect_str_eq(find_in(p, "http://fine/"), "DIRECT");
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

static double ms_since(const struct timespec *t0)
{
  struct timespec t1;

  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
         (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

Test(pac, infinite_loop_hits_the_deadline)
{
  const unsigned deadline = 100;
  rf__pac *p = mk("var calls = 0;\n"
                  "function FindProxyForURL(u, h) {\n"
                  "  calls++;\n"
                  "  if (h == 'loop') for (;;) {}\n"
                  "  if (h == 'catch') for (;;) { try { for (;;) {} }"
                  " catch (e) {} }\n"
                  "  return 'PROXY p:' + calls;\n"
                  "}\n",
                  deadline, 0);
  const char *hosts[] = { "http://loop/", "http://catch/" };
  char *res = NULL, err[256];

  cr_expect_str_eq(find_in(p, "http://a/"), "PROXY p:1");
  for (int i = 0; i < 2; i++) {
    struct timespec t0;
    double ms;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = rf__pac_find(p, hosts[i], &res, err, sizeof(err));
    ms = ms_since(&t0);
    cr_expect_eq(rc, RF_ETIMEDOUT, "%s: %d %s", hosts[i], rc, err);
    cr_expect(strstr(err, "timeout") != NULL, "%s", err);
    cr_expect_null(res);
    cr_expect(ms >= deadline * 0.9, "%s stopped after %.1f ms", hosts[i], ms);
    cr_expect(ms < deadline * 3 + 250, "%s took %.1f ms", hosts[i], ms);
  }
  /* usable afterwards: the heap was rebuilt, so calls restarts at 1 */
  cr_expect_str_eq(find_in(p, "http://a/"), "PROXY p:1");
  cr_expect_str_eq(find_in(p, "http://a/"), "PROXY p:2");
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

/* Native code runs no bytecode, so the executor's hook alone never stops
 * it: each of these ran for minutes to hours past a 100 ms deadline
 * (found by tests/fuzz/pac_eval.c; CMakeLists.txt patches Duktape's
 * regexp steps, property accesses and string searches to check it). */
Test(pac, native_code_hits_the_deadline)
{
  const unsigned deadline = 100;
  rf__pac *p = mk(
      "var s = 'a', t = 'a';\n"
      "function big() {\n"
      "  while (s.length < 1000000) s += s;\n"
      "  while (t.length < 100000) t += t;\n"
      "  t += 'b';\n"
      "}\n"
      "function FindProxyForURL(u, h) {\n"
      "  if (h == 'search' || h == 'split') big();\n"
      "  if (h == 'regexps') for (;;) /^(a+)+$/.test('aaaaaaaaaaaaaaaaaa!');\n"
      "  if (h == 'caught') for (;;) try {"
      " /^(a+)+$/.test('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'); } catch (e) {}\n"
      "  if (h == 'arraylike')"
      " return '' + [].lastIndexOf.call({ length: 2e9 }, 1);\n"
      "  if (h == 'sort') [].sort.call({ length: 5e6 });\n"
      "  if (h == 'search') return '' + s.indexOf(t);\n"
      "  if (h == 'split') return '' + s.split(t).length;\n"
      "  return 'DIRECT';\n"
      "}\n",
      deadline, 0);
  const char *urls[] = { "http://regexps/",   "http://caught/",
                         "http://arraylike/", "http://sort/",
                         "http://search/",    "http://split/" };
  char *res = NULL, err[256];

  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    struct timespec t0;
    double ms;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = rf__pac_find(p, urls[i], &res, err, sizeof(err));
    ms = ms_since(&t0);
    cr_expect_eq(rc, RF_ETIMEDOUT, "%s: %d %s", urls[i], rc, err);
    cr_expect_null(res);
    free(res);
    res = NULL;
    cr_expect(ms < deadline * 3 + 250, "%s took %.1f ms", urls[i], ms);
    cr_expect_str_eq(find_in(p, "http://a/"), "DIRECT");
  }
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

Test(pac, regexp_backtracking_is_bounded)
{
  rf__pac *p =
      mk("function FindProxyForURL(u, h) {\n"
         "  if (h == 'redos')\n"
         "    /^(a+)+$/.test('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!');\n"
         "  return 'DIRECT';\n"
         "}\n",
         10000, 0); /* the step limit, not the deadline, must stop it */
  struct timespec t0;
  char *res = NULL, err[256];
  double ms;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_expect_eq(rf__pac_find(p, "http://redos/", &res, err, sizeof(err)),
               RF_EPROXY);
  ms = ms_since(&t0);
  if (SPEED_CHECKED)
    cr_expect(ms < 3000, "regexp ran %.1f ms", ms);
  cr_expect_str_eq(find_in(p, "http://a/"), "DIRECT");
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

Test(pac, memory_bomb_is_refused)
{
  rf__pac *p = mk("var keep = [];\n"
                  "function FindProxyForURL(u, h) {\n"
                  "  var a = [];\n"
                  "  if (h == 'local')\n"
                  "    for (var i = 0; ; i++) a.push('xxxxxxxxxxxxxxxx' + i);\n"
                  "  if (h == 'global')\n"
                  "    for (var s = 'x'; ; s += s) keep.push(s);\n"
                  "  return 'DIRECT';\n"
                  "}\n",
                  5000, 4u * 1024u * 1024u);
  const char *hosts[] = { "http://local/", "http://global/" };
  char *res = NULL, err[256];

  for (int i = 0; i < 2; i++) {
    int rc = rf__pac_find(p, hosts[i], &res, err, sizeof(err));

    cr_expect_eq(rc, RF_EPROXY, "%s: %d %s", hosts[i], rc, err);
    cr_expect(strstr(err, "memory limit") != NULL, "%s", err);
    cr_expect_null(res);
    cr_expect_str_eq(find_in(p, "http://a/"), "DIRECT");
  }
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

Test(pac, small_budgets_fail_cleanly)
{
  const char *s = "var big = new Array(100000).join('abcdefgh');\n"
                  "function FindProxyForURL(u, h) { return 'DIRECT'; }";
  /* A long deadline: the join runs native code, checked against it too,
   * and this test is about memory, not a loaded machine. */
  rf__pac_limits lim = { 10000, RF__PAC_MIN_MEMORY - 1, NULL, NULL };
  rf__pac *p = NULL;
  char err[256];

  cr_expect_eq(rf__pac_new(&p, s, strlen(s), &lim, NULL, err, sizeof(err)),
               RF_EINVAL);
  /* the heap itself fits, the script's top level does not */
  lim.memory_bytes = RF__PAC_MIN_MEMORY;
  cr_expect_eq(rf__pac_new(&p, s, strlen(s), &lim, NULL, err, sizeof(err)),
               RF_EPROXY);
  cr_expect(strstr(err, "memory limit") != NULL, "%s", err);
  cr_expect_null(p);
  lim.memory_bytes = 4u * 1024u * 1024u;
  cr_expect_eq(rf__pac_new(&p, s, strlen(s), &lim, NULL, err, sizeof(err)), 0,
               "%s", err);
  rf__pac_free(p);
  ASSERT_NO_LEAKS();
}

Test(pac, default_resolver_smoke)
{
  const char *s = "function FindProxyForURL(u, h) {"
                  " return myIpAddress() + '|' + dnsResolve('127.0.0.1'); }";
  rf__pac *p = NULL;
  char *res = NULL, err[256];

  cr_assert_eq(rf__pac_new(&p, s, strlen(s), NULL, NULL, err, sizeof(err)), 0,
               "%s", err);
  cr_assert_eq(rf__pac_find(p, "http://x/", &res, err, sizeof(err)), 0, "%s",
               err);
  cr_expect(strstr(res, "|127.0.0.1") != NULL, "%s", res);
  cr_expect(res[0] != '|', "%s", res);
  free(res);
  rf__pac_free(p);
}
