/*
 * Proxy settings files (engine/proxy/config.c): every key, every error
 * path with its message, password masking, line endings, loading.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy/config.h"
#include "rangefetch/proxy.h"
#include "rangefetch/rangefetch.h"
#include "support/leaks.h"
#include "support/tmpdir.h"

#define FILE_U "/home/u/.config/rangefetch/proxy.conf"
#define FILE_D "/etc/rangefetch/proxy.conf"
#define FILE_S "/etc/rangefetch/static.conf"

static char dir[64];

static void setup(void)
{
  tmpdir_make(dir, sizeof(dir), "proxy-config");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(proxy_config, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------- helpers */

static const char *scope_file(rf__proxy_scope s)
{
  return s == RF__PROXY_SCOPE_USER     ? FILE_U
         : s == RF__PROXY_SCOPE_DEVICE ? FILE_D
                                       : FILE_S;
}

static int parse(const char *text, rf__proxy_scope scope, rf__proxy_config *c,
                 char *err, size_t errlen)
{
  return rf__proxy_config_parse(text, strlen(text), scope, scope_file(scope), c,
                                err, errlen);
}

static char *path_in(const char *name)
{
  static char buf[4][256];
  static int next;
  char *p = buf[next++ % 4];

  snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
  return p;
}

static void write_file(const char *path, const char *data, size_t len,
                       mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  cr_assert_geq(fd, 0, "create %s", path);
  cr_assert_eq(write(fd, data, len), (ssize_t)len);
  cr_assert_eq(fchmod(fd, mode), 0);
  close(fd);
}

/* Whether a "not set" config owns nothing. */
static void assert_not_set(const rf__proxy_config *c)
{
  rf__proxy_config zero;

  memset(&zero, 0, sizeof(zero));
  cr_assert_eq(memcmp(c, &zero, sizeof(zero)), 0, "config not zeroed");
}

/* ------------------------------------------------------------- every key */

Test(proxy_config, every_key_user_scope)
{
  static const char text[] = "# rangefetch proxy settings\n"
                             "\n"
                             "proxy = http://user.example:3128\n"
                             "  http_proxy=socks5h://socks.example:1080  \n"
                             "\thttps_proxy\t=\thttps://tls.example:443\t\n"
                             "no_proxy = localhost, .corp.example, 10.0.0.0/8\n"
                             "pac = https://pac.example/proxy.pac\n"
                             "wpad = yes\n"
                             "proxy_user = CORP\\alice:pa#ss w:rd\n"
                             "proxy_auth = negotiate\n"
                             "proxy_ca_file = /etc/ssl/proxy-ca.pem\n";
  rf__proxy_config c;
  char err[256];

  cr_assert_eq(parse(text, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)), 0, "%s",
               err);
  cr_assert_eq(c.set, 1);
  cr_assert_eq(c.scope, RF__PROXY_SCOPE_USER);
  cr_assert_str_eq(c.file, FILE_U);
  cr_assert_eq(c.proxy.kind, RF__PROXY_URL);
  cr_assert_str_eq(c.proxy.url, "http://user.example:3128");
  cr_assert_eq(c.http_proxy.kind, RF__PROXY_URL);
  cr_assert_str_eq(c.http_proxy.url, "socks5h://socks.example:1080");
  cr_assert_str_eq(c.https_proxy.url, "https://tls.example:443");
  cr_assert_str_eq(c.no_proxy, "localhost, .corp.example, 10.0.0.0/8");
  cr_assert_str_eq(c.pac, "https://pac.example/proxy.pac");
  cr_assert_eq(c.wpad, 1);
  cr_assert_str_eq(c.user, "CORP\\alice");
  cr_assert_str_eq(c.password, "pa#ss w:rd");
  cr_assert_eq(c.auth, RF__PROXY_AUTH_NEGOTIATE);
  cr_assert_str_eq(c.ca_file, "/etc/ssl/proxy-ca.pem");
  cr_assert_eq(c.per_machine, 0);
  cr_assert_eq(c.readable_by_others, 0);
  cr_assert_eq(c.line[RF__PROXY_KEY_PROXY], 3);
  cr_assert_eq(c.line[RF__PROXY_KEY_HTTP_PROXY], 4);
  cr_assert_eq(c.line[RF__PROXY_KEY_PROXY_CA_FILE], 11);
  cr_assert_eq(c.line[RF__PROXY_KEY_PER_MACHINE], 0);
  rf__proxy_config_free(&c);
  assert_not_set(&c);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, every_key_device_scope)
{
  static const char text[] = "proxy = device.example:3128\n"
                             "per_machine = yes\n"
                             "proxy_user = svc-rangefetch\n"
                             "proxy_auth = basic\n"
                             "wpad = no\n";
  rf__proxy_config c;
  char err[256];

  cr_assert_eq(parse(text, RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)), 0,
               "%s", err);
  cr_assert_str_eq(c.proxy.url, "http://device.example:3128");
  cr_assert_eq(c.per_machine, 1);
  cr_assert_eq(c.wpad, 0);
  cr_assert_eq(c.line[RF__PROXY_KEY_WPAD], 5);
  cr_assert_str_eq(c.user, "svc-rangefetch");
  cr_assert_null(c.password);
  cr_assert_eq(c.auth, RF__PROXY_AUTH_BASIC);
  rf__proxy_config_free(&c);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, every_key_static_scope)
{
  static const char text[] = "proxy = static.example:8080\n"
                             "http_proxy = direct\n"
                             "https_proxy = NONE\n"
                             "no_proxy = *\n";
  rf__proxy_config c;
  char err[256];

  cr_assert_eq(parse(text, RF__PROXY_SCOPE_STATIC, &c, err, sizeof(err)), 0,
               "%s", err);
  cr_assert_str_eq(c.proxy.url, "http://static.example:8080");
  cr_assert_eq(c.http_proxy.kind, RF__PROXY_DIRECT);
  cr_assert_null(c.http_proxy.url);
  cr_assert_eq(c.https_proxy.kind, RF__PROXY_DIRECT);
  cr_assert_str_eq(c.no_proxy, "*");
  cr_assert_null(c.user);
  rf__proxy_config_free(&c);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, every_cache_key)
{
  static const char text[] = "proxy = http://p.example:3128\n"
                             "cache_host = mcc1.example, 10.0.0.100:80,"
                             "\t[2001:db8::1]:8080\n"
                             "cache_host_source = DHCP-Force\n"
                             "cache_fallback_delay = 600\n"
                             "cache_host_proxy = direct\n";
  rf__proxy_config c;
  char err[256], buf[1024];

  cr_assert_eq(parse(text, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)), 0, "%s",
               err);
  cr_assert_not_null(c.cache_hosts);
  cr_assert_eq(c.cache_hosts->count, 3);
  cr_assert_str_eq(c.cache_hosts->hosts[0].host, "mcc1.example");
  cr_assert_eq(c.cache_hosts->hosts[0].port, 0);
  cr_assert_str_eq(c.cache_hosts->hosts[1].host, "10.0.0.100");
  cr_assert_eq(c.cache_hosts->hosts[1].port, 80);
  cr_assert_str_eq(c.cache_hosts->hosts[2].host, "2001:db8::1");
  cr_assert_eq(c.cache_hosts->hosts[2].port, 8080);
  cr_assert_eq(c.cache_source, RF_CACHE_HOST_SOURCE_DHCP_FORCE);
  cr_assert_eq(c.cache_fallback_delay, 600);
  cr_assert_eq(c.cache_proxy, RF_CACHE_HOST_PROXY_DIRECT);
  cr_assert_eq(c.line[RF__PROXY_KEY_CACHE_HOST], 2);
  cr_assert_eq(c.line[RF__PROXY_KEY_CACHE_HOST_SOURCE], 3);
  cr_assert_eq(c.line[RF__PROXY_KEY_CACHE_FALLBACK_DELAY], 4);
  cr_assert_eq(c.line[RF__PROXY_KEY_CACHE_HOST_PROXY], 5);
  rf__proxy_config_describe(&c, buf, sizeof(buf));
  cr_assert_str_eq(buf, "user scope (" FILE_U "): proxy=http://p.example:3128 "
                        "cache_host=mcc1.example,10.0.0.100:80,"
                        "[2001:db8::1]:8080 cache_host_source=dhcp-force "
                        "cache_fallback_delay=600 cache_host_proxy=direct");
  rf__proxy_config_free(&c);
  assert_not_set(&c);

  /* Defaults; the keys alone set no proxy. */
  cr_assert_eq(
      parse("no_proxy = x\n", RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)), 0);
  cr_assert_null(c.cache_hosts);
  cr_assert_eq(c.cache_source, RF_CACHE_HOST_SOURCE_STATIC);
  cr_assert_eq(c.cache_fallback_delay, 0);
  cr_assert_eq(c.cache_proxy, RF_CACHE_HOST_PROXY_AUTO);
  rf__proxy_config_free(&c);
  cr_assert_eq(parse("cache_host = c\ncache_host_source = dhcp\n"
                     "cache_fallback_delay = -1\ncache_host_proxy = auto\n",
                     RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)),
               0);
  cr_assert_eq(rf__proxy_config_sets_proxy(&c), 0);
  cr_assert_eq(c.cache_fallback_delay, RF_CACHE_FALLBACK_NEVER);
  rf__proxy_config_describe(&c, buf, sizeof(buf));
  cr_assert_str_eq(buf, "device-wide scope (" FILE_D "): cache_host=c "
                        "cache_host_source=dhcp cache_fallback_delay=-1 "
                        "cache_host_proxy=auto");
  rf__proxy_config_free(&c);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, defaults_and_empty_file)
{
  static const char *const texts[] = {
    "",
    "\n",
    "# only a comment\n",
    "   \n\t\n  # indented comment\n",
    "\xef\xbb\xbf",
    "\r\n\r\n",
  };
  size_t i;

  for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    rf__proxy_config c;
    char err[256];

    cr_assert_eq(parse(texts[i], RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)),
                 0, "text %zu: %s", i, err);
    cr_assert_eq(c.set, 1);
    cr_assert_eq(c.proxy.kind, RF__PROXY_NOT_SET);
    cr_assert_eq(c.auth, RF__PROXY_AUTH_SAFE);
    cr_assert_eq(c.wpad, 0);
    cr_assert_eq(c.per_machine, 0);
    cr_assert_eq(rf__proxy_config_sets_proxy(&c), 0);
    rf__proxy_config_free(&c);
  }
  /* NULL text of length 0 is an empty file; no file name is fine. */
  {
    rf__proxy_config c;

    cr_assert_eq(rf__proxy_config_parse(NULL, 0, RF__PROXY_SCOPE_USER, NULL, &c,
                                        NULL, 0),
                 0);
    cr_assert_eq(c.set, 1);
    cr_assert_null(c.file);
    rf__proxy_config_free(&c);
  }
  ASSERT_NO_LEAKS();
}

/* ---------------------------------------------------------- proxy values */

typedef struct url_row {
  const char *value;
  const char *url; /* expected normalised URL; "direct"; NULL: error */
  const char *user;
  const char *password;
  const char *err; /* expected reason, after "<file>:1: " */
} url_row;

/* clang-format off */
static const url_row url_rows[] = {
  { "http://p.example:3128", "http://p.example:3128", NULL, NULL, NULL },
  { "p.example:3128", "http://p.example:3128", NULL, NULL, NULL },
  { "p.example", "http://p.example", NULL, NULL, NULL },
  { "HTTP://P.example:3128/", "http://P.example:3128", NULL, NULL, NULL },
  { "https://p.example:443", "https://p.example:443", NULL, NULL, NULL },
  { "socks4://p.example:1080", "socks4://p.example:1080", NULL, NULL, NULL },
  { "socks4a://p.example", "socks4a://p.example", NULL, NULL, NULL },
  { "socks5://p.example:1080", "socks5://p.example:1080", NULL, NULL, NULL },
  { "SOCKS5H://p.example:1080", "socks5h://p.example:1080", NULL, NULL,
    NULL },
  { "10.1.2.3:8080", "http://10.1.2.3:8080", NULL, NULL, NULL },
  { "[::1]:3128", "http://[::1]:3128", NULL, NULL, NULL },
  { "http://[2001:db8::1]", "http://[2001:db8::1]", NULL, NULL, NULL },
  { "http://p_1.ex-ample:65535", "http://p_1.ex-ample:65535", NULL, NULL,
    NULL },
  { "http://b\xc3\xbcro.example:1", "http://b\xc3\xbcro.example:1", NULL,
    NULL, NULL },
  { "direct", "direct", NULL, NULL, NULL },
  { "DIRECT", "direct", NULL, NULL, NULL },
  { "none", "direct", NULL, NULL, NULL },
  /* Credentials move out of the URL, %-decoded. */
  { "http://alice:pw@p.example:3128", "http://p.example:3128", "alice", "pw",
    NULL },
  { "alice:pw@p.example:3128", "http://p.example:3128", "alice", "pw", NULL },
  { "socks5://alice@p.example", "socks5://p.example", "alice", NULL, NULL },
  { "http://alice:@p.example", "http://p.example", "alice", "", NULL },
  { "http://al%40ice:p%3Aw%2f@p.example", "http://p.example", "al@ice",
    "p:w/", NULL },
  /* The userinfo runs to the last '@'. */
  { "http://alice:p@ss@p.example", "http://p.example", "alice", "p@ss",
    NULL },

  { "ftp://p.example", NULL, NULL, NULL,
    "'proxy': unsupported proxy scheme 'ftp' (use http, https, socks4, "
    "socks4a, socks5 or socks5h)" },
  { "socks6://p.example", NULL, NULL, NULL,
    "'proxy': unsupported proxy scheme 'socks6' (use http, https, socks4, "
    "socks4a, socks5 or socks5h)" },
  { "http:/p.example", NULL, NULL, NULL,
    "'proxy': expected '//' after the scheme" },
  { "http://", NULL, NULL, NULL, "'proxy': no host" },
  { "http://:3128", NULL, NULL, NULL, "'proxy': no host" },
  { "http://alice:pw@", NULL, NULL, NULL, "'proxy': no host" },
  { "http://p.example:", NULL, NULL, NULL, "'proxy': empty port" },
  { "http://p.example:0", NULL, NULL, NULL,
    "'proxy': the port must be a number from 1 to 65535" },
  { "http://p.example:65536", NULL, NULL, NULL,
    "'proxy': the port must be a number from 1 to 65535" },
  { "http://p.example:123456", NULL, NULL, NULL,
    "'proxy': the port must be a number from 1 to 65535" },
  { "http://p.example:31x8", NULL, NULL, NULL,
    "'proxy': the port must be a number from 1 to 65535" },
  { "http://p.example:-1", NULL, NULL, NULL,
    "'proxy': the port must be a number from 1 to 65535" },
  { "http://p.example/path", NULL, NULL, NULL,
    "'proxy': a proxy URL has no path, query or fragment" },
  { "http://p.example//", NULL, NULL, NULL,
    "'proxy': a proxy URL has no path, query or fragment" },
  { "http://p.example?x=1", NULL, NULL, NULL,
    "'proxy': a proxy URL has no path, query or fragment" },
  { "http://p.example#frag", NULL, NULL, NULL,
    "'proxy': a proxy URL has no path, query or fragment" },
  { "http://p!example", NULL, NULL, NULL,
    "'proxy': invalid character in the host name" },
  { "http://[::1", NULL, NULL, NULL,
    "'proxy': no ']' after the IPv6 address" },
  { "http://[zz::1]:80", NULL, NULL, NULL, "'proxy': bad IPv6 address" },
  { "http://[]:80", NULL, NULL, NULL, "'proxy': bad IPv6 address" },
  { "http://[::1]x", NULL, NULL, NULL,
    "'proxy': unexpected text after the IPv6 address" },
  { "http://p.example:3128 # the corporate proxy", NULL, NULL, NULL,
    "'proxy': a proxy URL contains no spaces (a comment must be on a line of "
    "its own)" },
  { "http://:pw@p.example", NULL, NULL, NULL,
    "'proxy': the credentials in the URL have no user name" },
  { "http://@p.example", NULL, NULL, NULL,
    "'proxy': the credentials in the URL have no user name" },
  { "http://alice:p%zzw@p.example", NULL, NULL, NULL,
    "'proxy': bad %-escape in the credentials of the URL" },
  { "http://alice:p%00w@p.example", NULL, NULL, NULL,
    "'proxy': bad %-escape in the credentials of the URL" },
  { "http://alice:pw%4@p.example", NULL, NULL, NULL,
    "'proxy': bad %-escape in the credentials of the URL" },
};
/* clang-format on */

Test(proxy_config, proxy_url_table)
{
  size_t i;

  for (i = 0; i < sizeof(url_rows) / sizeof(url_rows[0]); i++) {
    const url_row *r = &url_rows[i];
    rf__proxy_config c;
    char text[512], err[512], want[512];
    int rc;

    snprintf(text, sizeof(text), "proxy = %s\n", r->value);
    rc = parse(text, RF__PROXY_SCOPE_USER, &c, err, sizeof(err));
    if (r->url == NULL) {
      snprintf(want, sizeof(want), "%s:1: %s", FILE_U, r->err);
      cr_expect_eq(rc, RF_EINVAL, "row %zu '%s': rc %d", i, r->value, rc);
      cr_expect_str_eq(err, want, "row %zu '%s'", i, r->value);
      continue;
    }
    cr_expect_eq(rc, 0, "row %zu '%s': %s", i, r->value, err);
    if (rc != 0)
      continue;
    if (strcmp(r->url, "direct") == 0) {
      cr_expect_eq(c.proxy.kind, RF__PROXY_DIRECT, "row %zu", i);
    } else {
      cr_expect_eq(c.proxy.kind, RF__PROXY_URL, "row %zu", i);
      cr_expect_str_eq(c.proxy.url, r->url, "row %zu '%s'", i, r->value);
    }
    if (r->user != NULL)
      cr_expect_str_eq(c.user, r->user, "row %zu", i);
    else
      cr_expect_null(c.user, "row %zu", i);
    if (r->password != NULL)
      cr_expect_str_eq(c.password, r->password, "row %zu", i);
    else
      cr_expect_null(c.password, "row %zu", i);
    rf__proxy_config_free(&c);
  }
  ASSERT_NO_LEAKS();
}

/* The same checks apply to http_proxy and https_proxy, named in errors. */
Test(proxy_config, per_scheme_keys_validated)
{
  rf__proxy_config c;
  char err[256];

  cr_assert_eq(parse("https_proxy = http://p.example:99999\n",
                     RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_U ":1: 'https_proxy': the port must be a number "
                               "from 1 to 65535");
  cr_assert_eq(parse("\nhttp_proxy = gopher://p.example\n",
                     RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_D ":2: 'http_proxy': unsupported proxy scheme "
                               "'gopher' (use http, https, socks4, socks4a, "
                               "socks5 or socks5h)");
  assert_not_set(&c);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, proxy_for_scheme)
{
  rf__proxy_config c;
  char err[256];

  cr_assert_eq(parse("proxy = all.example:1\nhttps_proxy = direct\n",
                     RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               0, "%s", err);
  cr_assert_str_eq(rf__proxy_config_proxy_for(&c, "http")->url,
                   "http://all.example:1");
  cr_assert_str_eq(rf__proxy_config_proxy_for(&c, "HTTP")->url,
                   "http://all.example:1");
  cr_assert_eq(rf__proxy_config_proxy_for(&c, "https")->kind, RF__PROXY_DIRECT);
  cr_assert_str_eq(rf__proxy_config_proxy_for(&c, "ftp")->url,
                   "http://all.example:1");
  cr_assert_str_eq(rf__proxy_config_proxy_for(&c, NULL)->url,
                   "http://all.example:1");
  cr_assert_eq(rf__proxy_config_sets_proxy(&c), 1);
  rf__proxy_config_free(&c);

  /* Only one scheme: the other has nothing. */
  cr_assert_eq(parse("http_proxy = h.example:2\n", RF__PROXY_SCOPE_USER, &c,
                     err, sizeof(err)),
               0, "%s", err);
  cr_assert_str_eq(rf__proxy_config_proxy_for(&c, "http")->url,
                   "http://h.example:2");
  cr_assert_eq(rf__proxy_config_proxy_for(&c, "https")->kind,
               RF__PROXY_NOT_SET);
  cr_assert_null(rf__proxy_config_proxy_for(&c, "https")->url);
  rf__proxy_config_free(&c);

  /* A "not set" config, NULL. */
  cr_assert_eq(rf__proxy_config_proxy_for(&c, "http")->kind, RF__PROXY_NOT_SET);
  cr_assert_eq(rf__proxy_config_proxy_for(NULL, "http")->kind,
               RF__PROXY_NOT_SET);
  cr_assert_eq(rf__proxy_config_sets_proxy(NULL), 0);
  cr_assert_eq(rf__proxy_config_sets_proxy(&c), 0);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, sets_proxy)
{
  static const struct {
    const char *text;
    int sets;
  } rows[] = {
    { "proxy = p:1\n", 1 },
    { "http_proxy = p:1\n", 1 },
    { "https_proxy = p:1\n", 1 },
    { "proxy = direct\n", 1 },
    { "pac = /etc/rangefetch/proxy.pac\n", 1 },
    { "wpad = yes\n", 1 },
    { "wpad = no\n", 0 },
    { "no_proxy = localhost\n", 0 },
    { "proxy_user = alice:pw\nproxy_auth = ntlm\n", 0 },
    { "proxy_ca_file = /etc/ca.pem\n", 0 },
    { "cache_host = c\ncache_host_source = dhcp-force\n", 0 },
  };
  size_t i;

  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    rf__proxy_config c;
    char err[256];

    cr_assert_eq(
        parse(rows[i].text, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)), 0,
        "row %zu: %s", i, err);
    cr_expect_eq(rf__proxy_config_sets_proxy(&c), rows[i].sets, "row %zu", i);
    rf__proxy_config_free(&c);
  }
  ASSERT_NO_LEAKS();
}

/* ---------------------------------------------------------- other values */

typedef struct val_row {
  const char *line;
  const char *err; /* NULL: accepted */
} val_row;

/* clang-format off */
static const val_row val_rows[] = {
  /* pac */
  { "pac = /etc/rangefetch/proxy.pac", NULL },
  { "pac = /srv/my pac files/proxy.pac", NULL },
  { "pac = http://wpad.example/wpad.dat", NULL },
  { "pac = HTTPS://pac.example:8443/p.pac?v=2", NULL },
  { "pac = https://alice:pw@pac.example/p.pac", NULL },
  { "pac = http://[::1]:8080/p.pac", NULL },
  { "pac = file:///etc/rangefetch/proxy.pac", NULL },
  { "pac = file://localhost/etc/rangefetch/proxy.pac", NULL },
  { "pac = data:application/x-ns-proxy-autoconfig,function "
    "FindProxyForURL(u,h){return \"DIRECT\";}", NULL },
  { "pac = proxy.pac",
    "'pac' must be an http, https, file or data URL, or an absolute path" },
  { "pac = ./proxy.pac",
    "'pac' must be an http, https, file or data URL, or an absolute path" },
  { "pac = ftp://pac.example/p.pac",
    "'pac': unsupported scheme (use http, https, file or data, or an "
    "absolute path)" },
  { "pac = http:pac.example", "'pac': expected '//' after the scheme" },
  { "pac = http:///p.pac", "'pac': no host" },
  { "pac = http://pac.example:0/p.pac",
    "'pac': the port must be a number from 1 to 65535" },
  { "pac = http://pac.example/p.pac # comment",
    "'pac': a URL contains no spaces (a comment must be on a line of its "
    "own)" },
  { "pac = file://pac.example/p.pac",
    "'pac': a file URL must be file:///absolute/path" },
  { "pac = data:nothing", "'pac': a data URL needs a ','" },
  /* booleans */
  { "wpad = yes", NULL },
  { "wpad = No", NULL },
  { "wpad = YES", NULL },
  { "wpad = true", "'wpad' must be yes or no, not 'true'" },
  { "wpad = 1", "'wpad' must be yes or no, not '1'" },
  { "wpad = yes # enable", "'wpad' must be yes or no, not 'yes # enable'" },
  { "wpad = y", "'wpad' must be yes or no, not 'y'" },
  /* proxy_auth */
  { "proxy_auth = any", NULL },
  { "proxy_auth = safe", NULL },
  { "proxy_auth = basic", NULL },
  { "proxy_auth = Digest", NULL },
  { "proxy_auth = NTLM", NULL },
  { "proxy_auth = negotiate", NULL },
  { "proxy_auth = kerberos",
    "'proxy_auth' must be one of any, safe, basic, digest, ntlm, negotiate, "
    "not 'kerberos'" },
  { "proxy_auth = basic,digest",
    "'proxy_auth' must be one of any, safe, basic, digest, ntlm, negotiate, "
    "not 'basic,digest'" },
  /* proxy_ca_file */
  { "proxy_ca_file = /etc/ssl/certs/proxy.pem", NULL },
  { "proxy_ca_file = certs/proxy.pem",
    "'proxy_ca_file' must be an absolute path, not 'certs/proxy.pem'" },
  /* proxy_user */
  { "proxy_user = alice", NULL },
  { "proxy_user = alice:", NULL },
  { "proxy_user = :pw", "'proxy_user' has no user name before ':'" },
  { "proxy_user = :", "'proxy_user' has no user name before ':'" },
  /* no_proxy: any text */
  { "no_proxy = *", NULL },
  { "no_proxy = .example.com fd00::/8", NULL },
  /* empty values */
  { "proxy =", "'proxy' has no value (write 'direct' for no proxy)" },
  { "https_proxy =   ", "'https_proxy' has no value (write 'direct' for no "
    "proxy)" },
  { "no_proxy =", "'no_proxy' has no value" },
  { "proxy_user = ", "'proxy_user' has no value" },
  { "wpad=", "'wpad' has no value" },
  /* syntax */
  { "proxy", "missing '=' (expected 'key = value')" },
  { "proxy: http://p:1", "missing '=' (expected 'key = value')" },
  { "= p:1", "missing key before '='" },
  { "prxy = http://p:1", "unknown key 'prxy'" },
  { "Proxy = http://p:1", "unknown key 'Proxy'" },
  { "HTTP_PROXY = http://p:1", "unknown key 'HTTP_PROXY'" },
  { "proxy user = alice",
    "unknown key (keys are lower-case words such as 'proxy')" },
  { "[proxy]", "missing '=' (expected 'key = value')" },
  /* cache_host */
  { "cache_host = mcc.example", NULL },
  { "cache_host = 10.0.0.100:80,myhost2.com:8080", NULL },
  { "cache_host = a , b:1 ,\t[::1]:65535", NULL },
  { "cache_host =", "'cache_host' has no value" },
  { "cache_host = a,,b", "'cache_host': entry 2 is empty" },
  { "cache_host = a,", "'cache_host': entry 2 is empty" },
  { "cache_host = a:0", "'cache_host': entry 1 'a:0': the port must be a "
    "number from 1 to 65535" },
  { "cache_host = a, b:99999", "'cache_host': entry 2 'b:99999': the port "
    "must be a number from 1 to 65535" },
  { "cache_host = http://mcc.example", "'cache_host': entry 1 "
    "'http://mcc.example': write HOST[:PORT], without a scheme" },
  { "cache_host = a b", "'cache_host': entry 1 'a b': white space inside an "
    "entry (separate entries with commas)" },
  { "cache_host = ::1", "'cache_host': entry 1 '::1': an IPv6 address must "
    "be in brackets, e.g. [2001:db8::1]:8080" },
  { "cache_host = u:pw@mcc.example", "'cache_host': entry 1: a cache host "
    "takes no user name or password ('@')" },
  { "cache_host = a # the cache", "'cache_host': entry 1 'a # the cache': "
    "white space inside an entry (separate entries with commas)" },
  /* cache_host_source */
  { "cache_host_source = static", NULL },
  { "cache_host_source = dhcp", NULL },
  { "cache_host_source = dhcp-force", NULL },
  { "cache_host_source = 1", "'cache_host_source' must be static, dhcp or "
    "dhcp-force, not '1'" },
  { "cache_host_source = dhcp force", "'cache_host_source' must be static, "
    "dhcp or dhcp-force, not 'dhcp force'" },
  { "cache_host_source =", "'cache_host_source' has no value" },
  /* cache_fallback_delay */
  { "cache_fallback_delay = 0", NULL },
  { "cache_fallback_delay = 2592000", NULL },
  { "cache_fallback_delay = -1", NULL },
  { "cache_fallback_delay = Never", NULL },
  { "cache_fallback_delay = 2592001", "'cache_fallback_delay' must be a "
    "number of seconds from 0 to 2592000, or -1 or never (never fall back "
    "to the origin), not '2592001'" },
  { "cache_fallback_delay = 99999999", "'cache_fallback_delay' must be a "
    "number of seconds from 0 to 2592000, or -1 or never (never fall back "
    "to the origin), not '99999999'" },
  { "cache_fallback_delay = -2", "'cache_fallback_delay' must be a number "
    "of seconds from 0 to 2592000, or -1 or never (never fall back to the "
    "origin), not '-2'" },
  { "cache_fallback_delay = 30s", "'cache_fallback_delay' must be a number "
    "of seconds from 0 to 2592000, or -1 or never (never fall back to the "
    "origin), not '30s'" },
  { "cache_fallback_delay = +5", "'cache_fallback_delay' must be a number "
    "of seconds from 0 to 2592000, or -1 or never (never fall back to the "
    "origin), not '+5'" },
  /* cache_host_proxy */
  { "cache_host_proxy = auto", NULL },
  { "cache_host_proxy = DIRECT", NULL },
  { "cache_host_proxy = none", "'cache_host_proxy' must be auto or direct, "
    "not 'none'" },
  { "cache_host_proxy = yes", "'cache_host_proxy' must be auto or direct, "
    "not 'yes'" },
};
/* clang-format on */

Test(proxy_config, value_table)
{
  size_t i;

  for (i = 0; i < sizeof(val_rows) / sizeof(val_rows[0]); i++) {
    const val_row *r = &val_rows[i];
    rf__proxy_config c;
    char text[512], err[512], want[512];
    int rc;

    snprintf(text, sizeof(text), "# header\n%s\n", r->line);
    rc = parse(text, RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err));
    if (r->err == NULL) {
      cr_expect_eq(rc, 0, "row %zu '%s': %s", i, r->line, err);
    } else {
      snprintf(want, sizeof(want), "%s:2: %s", FILE_D, r->err);
      cr_expect_eq(rc, RF_EINVAL, "row %zu '%s': rc %d", i, r->line, rc);
      cr_expect_str_eq(err, want, "row %zu", i);
      assert_not_set(&c);
    }
    rf__proxy_config_free(&c);
  }
  ASSERT_NO_LEAKS();
}

Test(proxy_config, auth_names_and_bits)
{
  static const struct {
    rf__proxy_auth a;
    const char *name;
    unsigned bits;
  } rows[] = {
    { RF__PROXY_AUTH_SAFE, "safe", RF_PROXY_AUTH_SAFE },
    { RF__PROXY_AUTH_ANY, "any", RF_PROXY_AUTH_ANY },
    { RF__PROXY_AUTH_BASIC, "basic", RF_PROXY_AUTH_BASIC },
    { RF__PROXY_AUTH_DIGEST, "digest", RF_PROXY_AUTH_DIGEST },
    { RF__PROXY_AUTH_NTLM, "ntlm", RF_PROXY_AUTH_NTLM },
    { RF__PROXY_AUTH_NEGOTIATE, "negotiate", RF_PROXY_AUTH_NEGOTIATE },
  };
  size_t i;

  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    rf__proxy_config c;
    char text[64], err[256];

    cr_assert_str_eq(rf__proxy_auth_name(rows[i].a), rows[i].name);
    cr_assert_eq(rf__proxy_auth_bits(rows[i].a), rows[i].bits);
    snprintf(text, sizeof(text), "proxy_auth = %s\n", rows[i].name);
    cr_assert_eq(parse(text, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)), 0);
    cr_assert_eq(c.auth, rows[i].a);
    rf__proxy_config_free(&c);
  }
  cr_assert_str_eq(rf__proxy_auth_name((rf__proxy_auth)42), "?");
  cr_assert_eq(rf__proxy_auth_bits((rf__proxy_auth)42), 0);
  cr_assert_str_eq(rf__proxy_scope_name(RF__PROXY_SCOPE_USER), "user");
  cr_assert_str_eq(rf__proxy_scope_name(RF__PROXY_SCOPE_DEVICE), "device-wide");
  cr_assert_str_eq(rf__proxy_scope_name(RF__PROXY_SCOPE_STATIC), "static");
  cr_assert_str_eq(rf__proxy_scope_name(RF__PROXY_SCOPE_COUNT), "?");
  ASSERT_NO_LEAKS();
}

/* ---------------------------------------------------------------- errors */

Test(proxy_config, duplicate_key)
{
  rf__proxy_config c;
  char err[256];

  cr_assert_eq(parse("proxy = a:1\n# again\n\nproxy = b:2\n",
                     RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_U ":4: duplicate key 'proxy' (first set on "
                               "line 1)");
  assert_not_set(&c);
  /* Also when the values agree, and for every kind of key. */
  cr_assert_eq(parse("wpad = no\nwpad = no\n", RF__PROXY_SCOPE_USER, &c, err,
                     sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_U ":2: duplicate key 'wpad' (first set on "
                               "line 1)");
  cr_assert_eq(parse("cache_host = a\ncache_host = a\n", RF__PROXY_SCOPE_USER,
                     &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_U ":2: duplicate key 'cache_host' (first set on "
                               "line 1)");
  assert_not_set(&c);
  cr_assert_eq(parse("no_proxy = a\nproxy_auth = ntlm\nno_proxy = b\n",
                     RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_U ":3: duplicate key 'no_proxy' (first set on "
                               "line 1)");
  ASSERT_NO_LEAKS();
}

typedef struct scope_row {
  rf__proxy_scope scope;
  const char *line;
  const char *err; /* NULL: allowed */
} scope_row;

#define NETSH_WHY                                                           \
  "is not allowed in the static scope: like netsh winhttp, it has no PAC, " \
  "no discovery and no authentication"
#define NETSH_ONLY_WHY                                                   \
  "is not allowed in the static scope: like netsh winhttp, it only has " \
  "proxy, http_proxy, https_proxy and no_proxy"
#define PER_MACHINE_WHY                                                      \
  "'per_machine' is only allowed in the device-wide scope: like the policy " \
  "\"Make proxy settings per-machine (rather than per-user)\", it is a "     \
  "setting of the whole device"

/* clang-format off */
static const scope_row scope_rows[] = {
  { RF__PROXY_SCOPE_STATIC, "proxy = s:1", NULL },
  { RF__PROXY_SCOPE_STATIC, "http_proxy = s:1", NULL },
  { RF__PROXY_SCOPE_STATIC, "https_proxy = s:1", NULL },
  { RF__PROXY_SCOPE_STATIC, "no_proxy = localhost", NULL },
  { RF__PROXY_SCOPE_STATIC, "pac = /etc/p.pac", "'pac' " NETSH_WHY },
  { RF__PROXY_SCOPE_STATIC, "wpad = no", "'wpad' " NETSH_WHY },
  { RF__PROXY_SCOPE_STATIC, "proxy_user = alice", "'proxy_user' " NETSH_WHY },
  { RF__PROXY_SCOPE_STATIC, "proxy_auth = safe", "'proxy_auth' " NETSH_WHY },
  { RF__PROXY_SCOPE_STATIC, "per_machine = yes", PER_MACHINE_WHY },
  { RF__PROXY_SCOPE_STATIC, "proxy_ca_file = /etc/ca.pem",
    "'proxy_ca_file' is not allowed in the static scope: like netsh "
    "winhttp, it only has proxy, http_proxy, https_proxy and no_proxy" },
  { RF__PROXY_SCOPE_STATIC, "proxy = http://alice:pw@s.example:1",
    "'proxy' may not carry credentials in the static scope: like netsh "
    "winhttp, it has no authentication" },
  { RF__PROXY_SCOPE_STATIC, "https_proxy = alice@s.example:1",
    "'https_proxy' may not carry credentials in the static scope: like "
    "netsh winhttp, it has no authentication" },
  { RF__PROXY_SCOPE_USER, "per_machine = yes", PER_MACHINE_WHY },
  { RF__PROXY_SCOPE_USER, "per_machine = no", PER_MACHINE_WHY },
  { RF__PROXY_SCOPE_DEVICE, "per_machine = no", NULL },
  { RF__PROXY_SCOPE_USER, "pac = /etc/p.pac", NULL },
  { RF__PROXY_SCOPE_DEVICE, "proxy_ca_file = /etc/ca.pem", NULL },
  { RF__PROXY_SCOPE_STATIC, "cache_host = mcc.example",
    "'cache_host' " NETSH_ONLY_WHY },
  { RF__PROXY_SCOPE_STATIC, "cache_host_source = dhcp",
    "'cache_host_source' " NETSH_ONLY_WHY },
  { RF__PROXY_SCOPE_STATIC, "cache_fallback_delay = 0",
    "'cache_fallback_delay' " NETSH_ONLY_WHY },
  { RF__PROXY_SCOPE_STATIC, "cache_host_proxy = auto",
    "'cache_host_proxy' " NETSH_ONLY_WHY },
  { RF__PROXY_SCOPE_USER, "cache_host = mcc.example", NULL },
  { RF__PROXY_SCOPE_USER, "cache_host_source = dhcp-force", NULL },
  { RF__PROXY_SCOPE_DEVICE, "cache_fallback_delay = 10", NULL },
  { RF__PROXY_SCOPE_DEVICE, "cache_host_proxy = direct", NULL },
};
/* clang-format on */

Test(proxy_config, scope_restrictions)
{
  size_t i;

  for (i = 0; i < sizeof(scope_rows) / sizeof(scope_rows[0]); i++) {
    const scope_row *r = &scope_rows[i];
    rf__proxy_config c;
    char text[256], err[512], want[512];
    int rc;

    snprintf(text, sizeof(text), "%s\n", r->line);
    rc = parse(text, r->scope, &c, err, sizeof(err));
    if (r->err == NULL) {
      cr_expect_eq(rc, 0, "row %zu '%s': %s", i, r->line, err);
    } else {
      snprintf(want, sizeof(want), "%s:1: %s", scope_file(r->scope), r->err);
      cr_expect_eq(rc, RF_EINVAL, "row %zu '%s'", i, r->line);
      cr_expect_str_eq(err, want, "row %zu", i);
    }
    rf__proxy_config_free(&c);
  }
  ASSERT_NO_LEAKS();
}

Test(proxy_config, credential_conflicts)
{
  rf__proxy_config c;
  char err[512];

  /* proxy_user, then a URL with credentials. */
  cr_assert_eq(parse("proxy_user = alice:pw\nproxy = http://bob:pw2@p:1\n",
                     RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_U ":2: 'proxy' carries credentials in its URL, "
                               "but proxy_user (line 1) sets them already: "
                               "give them once");
  /* The other order. */
  cr_assert_eq(parse("https_proxy = http://bob:pw2@p:1\nproxy_user = alice\n",
                     RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_U ":2: 'proxy_user' conflicts with the "
                               "credentials in the URL of 'https_proxy' (line "
                               "1): give them once");
  /* Two URLs with different credentials. */
  cr_assert_eq(parse("proxy = http://alice:pw@p:1\n"
                     "https_proxy = http://alice:other@p:1\n",
                     RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_D ":2: the credentials in the URL of "
                               "'https_proxy' differ from those of 'proxy' "
                               "(line 1): a settings file has one set of "
                               "credentials (use proxy_user)");
  cr_assert_eq(parse("proxy = http://alice@p:1\n"
                     "http_proxy = http://alice:pw@p:1\n",
                     RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)),
               RF_EINVAL);
  /* Two URLs with the same credentials (spelt differently) are fine. */
  cr_assert_eq(parse("proxy = http://alice:p%40w@p:1\n"
                     "https_proxy = https://alice:p@w@q:2\n"
                     "http_proxy = q:3\n",
                     RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)),
               0, "%s", err);
  cr_assert_str_eq(c.user, "alice");
  cr_assert_str_eq(c.password, "p@w");
  cr_assert_str_eq(c.https_proxy.url, "https://q:2");
  rf__proxy_config_free(&c);
  /* proxy_user is taken as written: no %-decoding. */
  cr_assert_eq(parse("proxy_user = al%40ice:p%41w\n", RF__PROXY_SCOPE_DEVICE,
                     &c, err, sizeof(err)),
               0, "%s", err);
  cr_assert_str_eq(c.user, "al%40ice");
  cr_assert_str_eq(c.password, "p%41w");
  rf__proxy_config_free(&c);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, characters)
{
  static const struct {
    const char *text;
    size_t len;
    const char *err;
  } rows[] = {
    { "proxy = p:1\nno_proxy = a\x01"
      "b\n",
      0, ":2: control character 0x01 in column 13" },
    { "proxy = p:1\x7f\n", 0, ":1: control character 0x7f in column 12" },
    { "no_proxy = a\rb\n", 0, ":1: control character 0x0d in column 13" },
    { "no_proxy = a\0b\n", 15, ":1: control character 0x00 in column 13" },
    { "no_proxy = \xff\n", 0, ":1: invalid UTF-8 in column 12" },
    { "no_proxy = \xc3\n", 0, ":1: invalid UTF-8 in column 12" },
    { "no_proxy = \xc0\xaf\n", 0, ":1: invalid UTF-8 in column 12" },
    { "no_proxy = \xe0\x80\xaf\n", 0, ":1: invalid UTF-8 in column 12" },
    { "no_proxy = \xed\xa0\x80\n", 0, ":1: invalid UTF-8 in column 12" },
    { "no_proxy = \xf4\x90\x80\x80\n", 0, ":1: invalid UTF-8 in column 12" },
    { "no_proxy = a\xe2\x82\n", 0, ":1: invalid UTF-8 in column 13" },
    /* A BOM anywhere but at the start is a character like any other, and
     * fine in a value; a second BOM at the start is not a key. */
    { "\xef\xbb\xbf\xef\xbb\xbfproxy = p:1\n", 0,
      ":1: unknown key (keys are lower-case words such as 'proxy')" },
  };
  size_t i;

  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    rf__proxy_config c;
    size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].text);
    char err[256], want[256];

    snprintf(want, sizeof(want), "%s%s", FILE_U, rows[i].err);
    cr_expect_eq(rf__proxy_config_parse(rows[i].text, len, RF__PROXY_SCOPE_USER,
                                        FILE_U, &c, err, sizeof(err)),
                 RF_EINVAL, "row %zu", i);
    cr_expect_str_eq(err, want, "row %zu", i);
  }
  /* Valid UTF-8 of every length is fine. */
  {
    static const char ok[] = "\xef\xbb\xbfno_proxy = \xc3\xa9,\xe2\x82\xac,"
                             "\xf0\x9f\x98\x80,\xef\xbb\xbf\n";
    rf__proxy_config c;
    char err[256];

    cr_assert_eq(parse(ok, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_str_eq(c.no_proxy, "\xc3\xa9,\xe2\x82\xac,\xf0\x9f\x98\x80,"
                                 "\xef\xbb\xbf");
    rf__proxy_config_free(&c);
  }
  ASSERT_NO_LEAKS();
}

Test(proxy_config, crlf_files)
{
  static const char text[] = "# CRLF, as Notepad writes it\r\n"
                             "proxy = http://alice:pw@p.example:3128\r\n"
                             "\r\n"
                             "wpad = yes\r\n"
                             "no_proxy = localhost\r\n"
                             "proxy_auth = ntlm"; /* no final newline */
  rf__proxy_config c;
  char err[256];

  cr_assert_eq(parse(text, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)), 0, "%s",
               err);
  cr_assert_str_eq(c.proxy.url, "http://p.example:3128");
  cr_assert_str_eq(c.password, "pw");
  cr_assert_eq(c.wpad, 1);
  cr_assert_str_eq(c.no_proxy, "localhost");
  cr_assert_eq(c.auth, RF__PROXY_AUTH_NTLM);
  cr_assert_eq(c.line[RF__PROXY_KEY_PROXY_AUTH], 6);
  rf__proxy_config_free(&c);

  /* Errors in CRLF files count lines the same way. */
  cr_assert_eq(parse("proxy = p:1\r\n\r\nwpad = maybe\r\n",
                     RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, FILE_U ":3: 'wpad' must be yes or no, not 'maybe'");
  ASSERT_NO_LEAKS();
}

Test(proxy_config, sizes)
{
  size_t max = RF__PROXY_CONFIG_MAX_FILE, lmax = RF__PROXY_CONFIG_MAX_LINE;
  char *text = malloc(max + 2), err[256];
  rf__proxy_config c;

  cr_assert_not_null(text);
  /* A file of exactly the limit, of comment lines, is fine... */
  memset(text, '#', max);
  text[max] = '\0';
  for (size_t i = 1000; i < max; i += 1000)
    text[i] = '\n';
  cr_assert_eq(rf__proxy_config_parse(text, max, RF__PROXY_SCOPE_USER, FILE_U,
                                      &c, err, sizeof(err)),
               0, "%s", err);
  rf__proxy_config_free(&c);
  /* ...one byte more is not. */
  text[max] = '\n';
  cr_assert_eq(rf__proxy_config_parse(text, max + 1, RF__PROXY_SCOPE_USER,
                                      FILE_U, &c, err, sizeof(err)),
               RF_ETOOBIG);
  cr_assert_str_eq(err, FILE_U ": larger than the limit of 65536 bytes");
  assert_not_set(&c);

  /* A line of exactly 4096 bytes (CR LF not counted) is fine... */
  memcpy(text, "no_proxy = ", 11);
  memset(text + 11, 'a', lmax - 11);
  memcpy(text + lmax, "\r\n", 3);
  cr_assert_eq(parse(text, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)), 0, "%s",
               err);
  cr_assert_eq(strlen(c.no_proxy), lmax - 11);
  rf__proxy_config_free(&c);
  /* ...4097 is not, even as a comment, and the line is named. */
  memcpy(text, "proxy = p:1\n", 12);
  memset(text + 12, '#', lmax + 1);
  memcpy(text + 12 + lmax + 1, "\n", 2);
  cr_assert_eq(parse(text, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               RF_ETOOBIG);
  cr_assert_str_eq(err, FILE_U ":2: line longer than 4096 bytes");
  assert_not_set(&c);
  free(text);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, messages_without_file_name)
{
  rf__proxy_config c;
  char err[256], small[12];

  cr_assert_eq(rf__proxy_config_parse("\nprxy = 1\n", 10, RF__PROXY_SCOPE_USER,
                                      NULL, &c, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_str_eq(err, "line 2: unknown key 'prxy'");
  /* A short buffer is cut, still terminated; a NULL one is fine. */
  cr_assert_eq(rf__proxy_config_parse("prxy = 1\n", 9, RF__PROXY_SCOPE_USER,
                                      FILE_U, &c, small, sizeof(small)),
               RF_EINVAL);
  cr_assert_eq(strlen(small), sizeof(small) - 1);
  cr_assert_eq(rf__proxy_config_parse("prxy = 1\n", 9, RF__PROXY_SCOPE_USER,
                                      FILE_U, &c, NULL, 0),
               RF_EINVAL);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, bad_arguments)
{
  rf__proxy_config c;
  char err[64];

  cr_assert_eq(rf__proxy_config_parse("proxy = p:1\n", 12, RF__PROXY_SCOPE_USER,
                                      NULL, NULL, err, sizeof(err)),
               RF_EINVAL);
  cr_assert_eq(rf__proxy_config_parse(NULL, 3, RF__PROXY_SCOPE_USER, NULL, &c,
                                      err, sizeof(err)),
               RF_EINVAL);
  assert_not_set(&c);
  cr_assert_eq(rf__proxy_config_parse("", 0, RF__PROXY_SCOPE_COUNT, NULL, &c,
                                      err, sizeof(err)),
               RF_EINVAL);
  cr_assert_eq(
      rf__proxy_config_load(NULL, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
      RF_EINVAL);
  cr_assert_eq(
      rf__proxy_config_load("/x", RF__PROXY_SCOPE_USER, NULL, err, sizeof(err)),
      RF_EINVAL);
  rf__proxy_config_free(NULL);
  memset(&c, 0, sizeof(c));
  rf__proxy_config_free(&c);
  ASSERT_NO_LEAKS();
}

/* --------------------------------------------------------------- secrets */

#define SECRET "S3cr3tPw"

/* clang-format off */
static const struct {
  rf__proxy_scope scope;
  const char *text;
} secret_rows[] = {
  /* malformed: the password must not come back in the message */
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "proxy = alice:" SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "@p:99999\n" },
  { RF__PROXY_SCOPE_USER, "proxy = ftp://alice:" SECRET "@p\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "@p/path\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "@\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "@p:1 # c\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://:" SECRET "@p:1\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "%zz@p:1\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "@bad!host\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http:/alice:" SECRET "@p\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://[" SECRET "]:1\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://p:" SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "proxy_user " SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "proxy_user: alice:" SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "alice:" SECRET " = x\n" },
  { RF__PROXY_SCOPE_USER, "proxy_user = :" SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "proxy_user = a:" SECRET "\nproxy_user = b:" SECRET
    "\n" },
  { RF__PROXY_SCOPE_USER, "proxy_user = a:" SECRET "\nproxy = http://b:"
    SECRET "@p:1\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://b:" SECRET "@p:1\nproxy_user = a:"
    SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://b:" SECRET "@p:1\nhttps_proxy = "
    "http://b:x" SECRET "@p:1\n" },
  { RF__PROXY_SCOPE_USER, "pac = http://alice:" SECRET "@\n" },
  { RF__PROXY_SCOPE_USER, "pac = http://alice:" SECRET "@p:0/x\n" },
  { RF__PROXY_SCOPE_USER, "pac = relative:" SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "@p:1\n"
    "proxy = http://alice:" SECRET "@p:1\n" },
  { RF__PROXY_SCOPE_STATIC, "proxy = http://alice:" SECRET "@p:1\n" },
  { RF__PROXY_SCOPE_STATIC, "proxy_user = alice:" SECRET "\n" },
  { RF__PROXY_SCOPE_USER, "proxy = http://alice:" SECRET "@p:1\nprxy = 1\n" },
};
/* clang-format on */

Test(proxy_config, passwords_never_in_errors)
{
  size_t i;

  for (i = 0; i < sizeof(secret_rows) / sizeof(secret_rows[0]); i++) {
    rf__proxy_config c;
    char err[1024];
    int rc;

    memset(err, 0, sizeof(err));
    rc = parse(secret_rows[i].text, secret_rows[i].scope, &c, err, sizeof(err));
    cr_expect_neq(rc, 0, "row %zu parsed", i);
    cr_expect_gt(strlen(err), strlen(FILE_U), "row %zu: no message", i);
    cr_expect_null(strstr(err, SECRET), "row %zu leaks: %s", i, err);
    cr_expect_null(strstr(err, "S3cr"), "row %zu leaks part: %s", i, err);
  }
  ASSERT_NO_LEAKS();
}

Test(proxy_config, describe_masks_passwords)
{
  static const char text[] = "proxy = http://alice:" SECRET "@p.example:3128\n"
                             "https_proxy = direct\n"
                             "no_proxy = localhost\n"
                             "pac = https://bob:" SECRET "@pac.example/p.pac\n"
                             "wpad = no\n"
                             "proxy_auth = basic\n"
                             "per_machine = yes\n"
                             "proxy_ca_file = /etc/ca.pem\n";
  rf__proxy_config c;
  char err[256], buf[1024];
  size_t n;

  cr_assert_eq(parse(text, RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)), 0,
               "%s", err);
  n = rf__proxy_config_describe(&c, buf, sizeof(buf));
  cr_assert_eq(n, strlen(buf));
  cr_assert_str_eq(buf, "device-wide scope (" FILE_D "): "
                        "proxy=http://p.example:3128 https_proxy=direct "
                        "no_proxy=localhost "
                        "pac=https://bob:***@pac.example/p.pac wpad=no "
                        "credentials=alice:*** (from the proxy URL) "
                        "proxy_auth=basic per_machine=yes "
                        "proxy_ca_file=/etc/ca.pem");
  cr_assert_null(strstr(buf, SECRET));

  /* Truncation: snprintf's contract. */
  {
    char small[16];
    size_t m = rf__proxy_config_describe(&c, small, sizeof(small));

    cr_assert_eq(m, n);
    cr_assert_eq(strlen(small), sizeof(small) - 1);
    cr_assert_eq(strncmp(small, buf, sizeof(small) - 1), 0);
    cr_assert_eq(rf__proxy_config_describe(&c, NULL, 0), n);
  }
  rf__proxy_config_free(&c);

  cr_assert_eq(parse("proxy_user = CORP\\alice:" SECRET "\n",
                     RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
               0);
  rf__proxy_config_describe(&c, buf, sizeof(buf));
  cr_assert_str_eq(buf, "user scope (" FILE_U "): proxy_user=CORP\\alice:***");
  c.readable_by_others = 1;
  rf__proxy_config_describe(&c, buf, sizeof(buf));
  cr_assert_str_eq(buf, "user scope (" FILE_U "): proxy_user=CORP\\alice:*** "
                        "(warning: the file holds a password and other "
                        "users can read it)");
  rf__proxy_config_free(&c);

  cr_assert_eq(
      parse("# nothing\n", RF__PROXY_SCOPE_STATIC, &c, err, sizeof(err)), 0);
  rf__proxy_config_describe(&c, buf, sizeof(buf));
  cr_assert_str_eq(buf, "static scope (" FILE_S "): no settings");
  rf__proxy_config_free(&c);
  rf__proxy_config_describe(&c, buf, sizeof(buf));
  cr_assert_str_eq(buf, "user scope: not set");
  rf__proxy_config_describe(NULL, buf, sizeof(buf));
  cr_assert_str_eq(buf, "proxy scope: not set");
  ASSERT_NO_LEAKS();
}

Test(proxy_config, url_mask)
{
  static const struct {
    const char *in, *out;
  } rows[] = {
    { "http://alice:pw@p:3128", "http://alice:***@p:3128" },
    { "http://alice@p:3128", "http://alice@p:3128" },
    { "http://p:3128", "http://p:3128" },
    { "alice:pw@p:3128", "alice:***@p:3128" },
    { "http://alice:p@ss:w/rd@p/x", "http://alice:***@p/x" },
    { "http://alice:pw", "http://alice:pw" }, /* no '@': nothing to mask */
    { "http:/alice:pw@p", "http:***@p" },     /* malformed: masks more */
    { "", "" },
  };
  size_t i;
  char buf[64];

  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    cr_expect_eq(rf_url_mask(buf, sizeof(buf), rows[i].in),
                 strlen(rows[i].out), "row %zu", i);
    cr_expect_str_eq(buf, rows[i].out, "row %zu", i);
  }
  cr_assert_eq(rf_url_mask(buf, sizeof(buf), NULL), 0);
  cr_assert_str_eq(buf, "");
  cr_assert_eq(rf_url_mask(NULL, 0, "http://a:b@c"), 14);
}

Test(proxy_config, public_auth_names)
{
  char buf[64];

  cr_assert_eq(rf_proxy_auth_names(buf, sizeof(buf), RF_PROXY_AUTH_SAFE),
               strlen("Digest, NTLM, Negotiate"));
  cr_assert_str_eq(buf, "Digest, NTLM, Negotiate");
  rf_proxy_auth_names(buf, sizeof(buf), RF_PROXY_AUTH_ANY);
  cr_assert_str_eq(buf, "Basic, Digest, NTLM, Negotiate");
  rf_proxy_auth_names(buf, sizeof(buf), RF_PROXY_AUTH_BASIC);
  cr_assert_str_eq(buf, "Basic");
  rf_proxy_auth_names(buf, sizeof(buf), 0);
  cr_assert_str_eq(buf, "none");
  rf_proxy_auth_names(buf, sizeof(buf), RF_PROXY_AUTH_NONE);
  cr_assert_str_eq(buf, "none");
  /* Truncated like snprintf; the full length is returned. */
  cr_assert_eq(rf_proxy_auth_names(buf, 6, RF_PROXY_AUTH_ANY), 30);
  cr_assert_str_eq(buf, "Basic");
  cr_assert_eq(rf_proxy_auth_names(NULL, 0, RF_PROXY_AUTH_NTLM), 4);
}

/* --------------------------------------------------------------- loading */

Test(proxy_config, load_ok_and_mode)
{
  static const char text[] = "proxy = http://alice:pw@p.example:3128\n";
  rf__proxy_config c;
  char err[256];
  const char *path = path_in("proxy.conf");

  write_file(path, text, strlen(text), 0600);
  cr_assert_eq(
      rf__proxy_config_load(path, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
      0, "%s", err);
  cr_assert_eq(c.set, 1);
  cr_assert_str_eq(c.file, path);
  cr_assert_str_eq(c.proxy.url, "http://p.example:3128");
  cr_assert_eq(c.readable_by_others, 0);
  rf__proxy_config_free(&c);

  cr_assert_eq(chmod(path, 0644), 0);
  cr_assert_eq(
      rf__proxy_config_load(path, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
      0, "%s", err);
  cr_assert_eq(c.readable_by_others, 1);
  rf__proxy_config_free(&c);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, load_missing)
{
  rf__proxy_config c;
  char err[512], want[512];
  const char *path = path_in("nope.conf");

  memset(&c, 0x5a, sizeof(c));
  cr_assert_eq(
      rf__proxy_config_load(path, RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)),
      RF_ENOENT);
  assert_not_set(&c);
  snprintf(want, sizeof(want), "%s: no such file", path);
  cr_assert_str_eq(err, want);
  /* A missing directory on the way: also absent. */
  cr_assert_eq(rf__proxy_config_load(path_in("no/dir/proxy.conf"),
                                     RF__PROXY_SCOPE_DEVICE, &c, err,
                                     sizeof(err)),
               RF_ENOENT);
  /* A regular file in the way of a directory: ENOTDIR, also absent. */
  write_file(path_in("file"), "", 0, 0644);
  cr_assert_eq(rf__proxy_config_load(path_in("file/proxy.conf"),
                                     RF__PROXY_SCOPE_DEVICE, &c, err,
                                     sizeof(err)),
               RF_ENOENT);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, load_directory_and_too_big)
{
  rf__proxy_config c;
  char err[512], want[512], *big;
  size_t max = RF__PROXY_CONFIG_MAX_FILE;

  cr_assert_eq(
      rf__proxy_config_load(dir, RF__PROXY_SCOPE_USER, &c, err, sizeof(err)),
      RF_EIO);
  snprintf(want, sizeof(want), "%s: is a directory, not a settings file", dir);
  cr_assert_str_eq(err, want);
  assert_not_set(&c);

  big = malloc(max + 1);
  cr_assert_not_null(big);
  memset(big, '\n', max + 1);
  write_file(path_in("big.conf"), big, max + 1, 0644);
  cr_assert_eq(rf__proxy_config_load(path_in("big.conf"), RF__PROXY_SCOPE_USER,
                                     &c, err, sizeof(err)),
               RF_ETOOBIG);
  snprintf(want, sizeof(want), "%s: larger than the limit of 65536 bytes",
           path_in("big.conf"));
  cr_assert_str_eq(err, want);
  assert_not_set(&c);
  /* Exactly the limit loads. */
  write_file(path_in("max.conf"), big, max, 0644);
  cr_assert_eq(rf__proxy_config_load(path_in("max.conf"), RF__PROXY_SCOPE_USER,
                                     &c, err, sizeof(err)),
               0, "%s", err);
  rf__proxy_config_free(&c);
  free(big);
  ASSERT_NO_LEAKS();
}

Test(proxy_config, load_malformed_names_file_and_line)
{
  static const char text[] = "proxy = p:3128\n"
                             "\n"
                             "prxy = q:3128\n";
  rf__proxy_config c;
  char err[512], want[512];
  const char *path = path_in("proxy.conf");

  write_file(path, text, strlen(text), 0644);
  cr_assert_eq(
      rf__proxy_config_load(path, RF__PROXY_SCOPE_DEVICE, &c, err, sizeof(err)),
      RF_EINVAL);
  snprintf(want, sizeof(want), "%s:3: unknown key 'prxy'", path);
  cr_assert_str_eq(err, want);
  assert_not_set(&c);
  ASSERT_NO_LEAKS();
}

/*
 * An unreadable file.  Root reads everything, so as root the check runs in
 * a child that drops to nobody and reports back through a pipe.
 */
Test(proxy_config, load_unreadable)
{
  static const char text[] = "proxy = p:3128\n";
  const char *path = path_in("secret.conf");
  char err[512], want[512];
  int rc;

  write_file(path, text, strlen(text), 0000);
  snprintf(want, sizeof(want),
           "%s: permission denied: the file cannot be read by this user", path);
  if (geteuid() != 0) {
    rf__proxy_config c;

    rc =
        rf__proxy_config_load(path, RF__PROXY_SCOPE_USER, &c, err, sizeof(err));
    cr_assert_eq(rc, RF_EACCES);
    cr_assert_str_eq(err, want);
    assert_not_set(&c);
  } else {
    int fds[2], status;
    pid_t pid;
    ssize_t got;

    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
      rf__proxy_config c;

      close(fds[0]);
      if (setgid(65534) != 0 || setuid(65534) != 0)
        _exit(2);
      rc = rf__proxy_config_load(path, RF__PROXY_SCOPE_USER, &c, err,
                                 sizeof(err));
      if (write(fds[1], err, strlen(err) + 1) < 0)
        _exit(3);
      _exit(rc == RF_EACCES && c.set == 0 ? 0 : 1);
    }
    close(fds[1]);
    memset(err, 0, sizeof(err));
    got = read(fds[0], err, sizeof(err) - 1);
    close(fds[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "child: status %d, err '%s'",
                 WEXITSTATUS(status), err);
    cr_assert_gt(got, 0);
    cr_assert_str_eq(err, want);
  }
  ASSERT_NO_LEAKS();
}
