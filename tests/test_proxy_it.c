/*
 * Downloads through real proxies, started by the test rig (tests/rig/start,
 * a CTest fixture; docs/test-rig.md): squid without auth, with Basic,
 * Digest, NTLM (fake helper) and Negotiate (a KDC in a temporary
 * directory), tinyproxy, microsocks with and without credentials, an HTTPS
 * origin through squid's CONNECT tunnel, and PAC files served over HTTP.
 * Every download is compared with the served file, byte for byte; the
 * proxies' and the origin's logs show where each request went.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rangefetch.h"
#include "support/logbuf.h"
#include "support/rig.h"
#include "support/textfile.h"
#include "support/tmpdir.h"

static char dir[256];
static char marker[64];

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  rig_load();
  tmpdir_make(dir, sizeof(dir), "proxy-it");
  snprintf(marker, sizeof(marker), "it-%d-%u", (int)getpid(),
           (unsigned)time(NULL));
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(proxy_it, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------- helpers */

static void unique_path(const char *tag, char *out, size_t size)
{
  rig_unique_path(marker, tag, out, size);
}

#define same_as_served rig_same_as_served
#define lines_with rig_lines_with

typedef struct outcome {
  int done;
  int error;
  char message[1200];
  char route[1024];
  char out[600];
  logbuf log;
} outcome;

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  outcome *o = ud;

  (void)job;
  o->done++;
  o->error = r->error;
  snprintf(o->message, sizeof(o->message), "%s", r->message);
  snprintf(o->route, sizeof(o->route), "%s", r->route);
}

typedef struct fetch_opts {
  const char *proxy;      /* job option: explicit proxy */
  const char *pac;        /* else a PAC resolver */
  const char *proxy_user;
  unsigned proxy_auth;
  const char *origin;     /* RIG_HTTP_ORIGIN by default */
  const char *ca_file;
  const char *proxy_ca_file;
} fetch_opts;

/* Download origin/<path> with the given routing into dir/<tag>. */
static outcome *fetch(const char *tag, const char *path, const fetch_opts *fo)
{
  outcome *o = calloc(1, sizeof(*o));
  rf_engine_options eo = RF_ENGINE_OPTIONS_INIT;
  rf_engine *e = NULL;
  rf_job_options jo;
  char url[700];
  int rc;

  cr_assert_not_null(o);
  eo.log_cb = logbuf_cb;
  eo.log_level = RF_LOG_DEBUG;
  eo.log_user_data = &o->log;
  cr_assert_eq(rf_engine_new(&e, &eo), 0);
  if (fo->pac != NULL)
    cr_assert_eq(rf_engine_add_pac_resolver(e, fo->pac, NULL), 0);
  snprintf(url, sizeof(url), "%s%s",
           fo->origin != NULL ? fo->origin : rig("RIG_HTTP_ORIGIN"), path);
  snprintf(o->out, sizeof(o->out), "%s/%s", dir, tag);
  rf_job_options_init(&jo);
  jo.url = url;
  jo.output = o->out;
  jo.connections = 4;
  jo.piece_size = 512 * 1024;
  jo.retry_base_ms = 20;
  jo.max_tries = 3;
  jo.proxy = fo->proxy;
  jo.proxy_user = fo->proxy_user;
  jo.proxy_auth = fo->proxy_auth;
  jo.ca_file = fo->ca_file;
  jo.proxy_ca_file = fo->proxy_ca_file;
  jo.on_done = on_done;
  jo.user_data = o;
  rc = rf_job_add(NULL, e, &jo);
  cr_assert_eq(rc, 0, "rf_job_add: %s (%s)", rf_strerror(rc),
               rf_engine_last_error(e));
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_eq(o->done, 1);
  return o;
}

static void expect_ok(const outcome *o)
{
  cr_assert_eq(o->error, 0, "%s: %s\nlog:\n%s", rf_err_name(o->error),
               o->message, o->log.text);
  cr_assert(same_as_served(o->out), "%s differs from the served file",
            o->out);
}

/* Every request for path reached the origin through a proxy (a Via
 * header), and there were several (range requests). */
static void expect_origin_saw_only_proxied(const char *path)
{
  const char *log = rig("RIG_HTTP_ORIGIN_LOG");
  unsigned all = lines_with(log, path, NULL);
  unsigned direct = lines_with(log, path, "via=\"\"") +
                    lines_with(log, path, "via=\"-\"");

  cr_assert(all >= 2, "the origin logged %u requests for %s", all, path);
  cr_assert_eq(direct, 0, "%u of %u requests for %s came direct", direct, all,
               path);
}

static void with_user(char *buf, size_t size, const char *user,
                      const char *pass)
{
  snprintf(buf, size, "%s:%s", user, pass);
}

/* ---------------------------------------------------------------- tests */

Test(proxy_it, squid_without_auth)
{
  char path[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("squid", path, sizeof(path));
  fo.proxy = rig("RIG_SQUID");
  o = fetch("squid", path, &fo);
  expect_ok(o);
  cr_assert(strstr(o->route, rig("RIG_SQUID")) != NULL, "%s", o->route);
  cr_assert(lines_with(rig("RIG_SQUID_LOG"), path, "range=\"bytes=") >= 2);
  expect_origin_saw_only_proxied(path);
  free(o);
}

Test(proxy_it, tinyproxy)
{
  char path[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("tiny", path, sizeof(path));
  fo.proxy = rig("RIG_TINYPROXY");
  o = fetch("tiny", path, &fo);
  expect_ok(o);
  expect_origin_saw_only_proxied(path);
  free(o);
}

Test(proxy_it, basic_auth_allowed_works)
{
  char path[128], up[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("basic", path, sizeof(path));
  with_user(up, sizeof(up), rig("RIG_BASIC_USER"), rig("RIG_BASIC_PASS"));
  fo.proxy = rig("RIG_SQUID_BASIC");
  fo.proxy_user = up;
  fo.proxy_auth = RF_PROXY_AUTH_ANY;
  o = fetch("basic", path, &fo);
  expect_ok(o);
  cr_assert(lines_with(rig("RIG_SQUID_BASIC_LOG"), path, " alice ") >= 2);
  cr_assert_null(strstr(o->log.text, rig("RIG_BASIC_PASS")),
                 "the password is in the log");
  free(o);
}

Test(proxy_it, basic_only_proxy_is_refused_by_default_and_says_how)
{
  char path[128], up[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("basic-safe", path, sizeof(path));
  with_user(up, sizeof(up), rig("RIG_BASIC_USER"), rig("RIG_BASIC_PASS"));
  fo.proxy = rig("RIG_SQUID_BASIC");
  fo.proxy_user = up;
  o = fetch("basic-safe", path, &fo);
  cr_assert_eq(o->error, RF_EPROXYAUTH, "%s", o->message);
  cr_assert(strstr(o->message, "offers only Basic") != NULL, "%s",
            o->message);
  cr_assert(strstr(o->message, "--proxy-auth basic") != NULL, "%s",
            o->message);
  cr_assert(strstr(o->message, rig("RIG_SQUID_BASIC")) != NULL, "%s",
            o->message);
  cr_assert_null(strstr(o->message, rig("RIG_BASIC_PASS")));
  cr_assert_null(strstr(o->log.text, rig("RIG_BASIC_PASS")));
  free(o);
}

Test(proxy_it, wrong_password_ends_with_a_407_error_naming_everything)
{
  char path[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("wrongpw", path, sizeof(path));
  fo.proxy = rig("RIG_SQUID_BASIC");
  fo.proxy_user = "alice:Wr0ngSecret";
  fo.proxy_auth = RF_PROXY_AUTH_ANY;
  o = fetch("wrongpw", path, &fo);
  cr_assert_eq(o->error, RF_EPROXYAUTH, "%s", o->message);
  cr_assert(strstr(o->message, "407") != NULL, "%s", o->message);
  cr_assert(strstr(o->message, "'alice'") != NULL, "%s", o->message);
  cr_assert(strstr(o->message, "Basic") != NULL, "%s", o->message);
  cr_assert(strstr(o->message, "chosen by") != NULL, "%s", o->message);
  cr_assert_null(strstr(o->message, "Wr0ngSecret"));
  cr_assert_null(strstr(o->log.text, "Wr0ngSecret"));
  /* Not a dead proxy: no failover, no bad mark. */
  cr_assert_null(strstr(o->log.text, "marked bad"), "%s", o->log.text);
  free(o);
}

Test(proxy_it, no_credentials_says_how_to_give_them)
{
  char path[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("nocreds", path, sizeof(path));
  fo.proxy = rig("RIG_SQUID_DIGEST");
  o = fetch("nocreds", path, &fo);
  cr_assert_eq(o->error, RF_EPROXYAUTH, "%s", o->message);
  cr_assert(strstr(o->message, "Digest") != NULL, "%s", o->message);
  cr_assert(strstr(o->message, "--proxy-user") != NULL, "%s", o->message);
  free(o);
}

Test(proxy_it, digest_auth)
{
  char path[128], up[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("digest", path, sizeof(path));
  with_user(up, sizeof(up), rig("RIG_DIGEST_USER"), rig("RIG_DIGEST_PASS"));
  fo.proxy = rig("RIG_SQUID_DIGEST");
  fo.proxy_user = up;
  o = fetch("digest", path, &fo);
  expect_ok(o);
  cr_assert(lines_with(rig("RIG_SQUID_DIGEST_LOG"), path, " bob ") >= 2);
  expect_origin_saw_only_proxied(path);
  free(o);
}

Test(proxy_it, ntlm_auth_plain_and_tunnelled)
{
  char path[128], up[128], https[700];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("ntlm", path, sizeof(path));
  snprintf(up, sizeof(up), "%s\\%s:%s", rig("RIG_NTLM_DOMAIN"),
           rig("RIG_NTLM_USER"), rig("RIG_NTLM_PASS"));
  fo.proxy = rig("RIG_SQUID_NTLM");
  fo.proxy_user = up;
  o = fetch("ntlm", path, &fo);
  expect_ok(o);
  cr_assert(lines_with(rig("RIG_SQUID_NTLM_LOG"), path, "carol") >= 2);
  free(o);
  /* HTTPS origin: NTLM on the CONNECT of each tunnel. */
  snprintf(https, sizeof(https), "%s", rig("RIG_HTTPS_ORIGIN"));
  fo.origin = https;
  fo.ca_file = rig("RIG_CA_FILE");
  o = fetch("ntlm-tls", path, &fo);
  expect_ok(o);
  free(o);
}

Test(proxy_it, negotiate_with_the_kerberos_ticket_cache)
{
  char path[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("negotiate", path, sizeof(path));
  setenv("KRB5_CONFIG", rig("RIG_KRB5_CONFIG"), 1);
  setenv("KRB5CCNAME", rig("RIG_KRB5CCNAME"), 1);
  fo.proxy = rig("RIG_SQUID_NEGOTIATE");
  o = fetch("negotiate", path, &fo);
  expect_ok(o);
  cr_assert(lines_with(rig("RIG_SQUID_NEGOTIATE_LOG"), path,
                       rig("RIG_KRB5_PRINCIPAL")) >= 2,
            "squid did not log %s for %s", rig("RIG_KRB5_PRINCIPAL"), path);
  free(o);
}

Test(proxy_it, negotiate_without_a_ticket_is_explained)
{
  char path[128], cc[600];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("negotiate-none", path, sizeof(path));
  snprintf(cc, sizeof(cc), "FILE:%s/no-such-ccache", dir);
  setenv("KRB5_CONFIG", rig("RIG_KRB5_CONFIG"), 1);
  setenv("KRB5CCNAME", cc, 1);
  fo.proxy = rig("RIG_SQUID_NEGOTIATE");
  o = fetch("negotiate-none", path, &fo);
  cr_assert_eq(o->error, RF_EPROXYAUTH, "%s", o->message);
  cr_assert(strstr(o->message, "Negotiate") != NULL, "%s", o->message);
  cr_assert(strstr(o->message, "klist") != NULL, "%s", o->message);
  free(o);
}

Test(proxy_it, socks5_with_and_without_credentials)
{
  char path[128], proxy[600], socks5h[600];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("socks", path, sizeof(path));
  /* socks5h: the proxy resolves the name */
  snprintf(socks5h, sizeof(socks5h), "socks5h://127.0.0.1:%s",
           rig("RIG_SOCKS5_PORT"));
  fo.proxy = socks5h;
  o = fetch("socks5h", path, &fo);
  expect_ok(o);
  free(o);

  snprintf(proxy, sizeof(proxy), "socks5://%s:%s@127.0.0.1:%s",
           rig("RIG_SOCKS5_USER"), rig("RIG_SOCKS5_PASS"),
           rig("RIG_SOCKS5_AUTH_PORT"));
  fo.proxy = proxy;
  o = fetch("socks5-auth", path, &fo);
  expect_ok(o);
  cr_assert(strstr(o->route, rig("RIG_SOCKS5_PASS")) == NULL, "%s",
            o->route);
  cr_assert_null(strstr(o->log.text, rig("RIG_SOCKS5_PASS")));
  free(o);

  fo.proxy = rig("RIG_SOCKS5_AUTH");
  o = fetch("socks5-noauth", path, &fo);
  cr_assert_eq(o->error, RF_EPROXYAUTH, "%s", o->message);
  cr_assert(strstr(o->message, "SOCKS") != NULL, "%s", o->message);
  free(o);
}

Test(proxy_it, https_origin_through_squid_connect)
{
  char path[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("tls", path, sizeof(path));
  fo.proxy = rig("RIG_SQUID");
  fo.origin = rig("RIG_HTTPS_ORIGIN");
  fo.ca_file = rig("RIG_CA_FILE");
  o = fetch("tls", path, &fo);
  expect_ok(o);
  cr_assert(lines_with(rig("RIG_SQUID_LOG"), "CONNECT", NULL) >= 1);
  cr_assert(lines_with(rig("RIG_HTTPS_ORIGIN_LOG"), path, "\" 206 ") >= 2);
  free(o);
  /* Without the test CA the origin's certificate is refused. */
  fo.ca_file = NULL;
  o = fetch("tls-noca", path, &fo);
  cr_assert_eq(o->error, RF_ETLS, "%s: %s", rf_err_name(o->error),
               o->message);
  free(o);
}

static void write_pac(const char *name, const char *body, char *url,
                      size_t size)
{
  char path[700];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s-%s", rig("RIG_WWW"), marker, name);
  f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(body, f);
  fclose(f);
  snprintf(url, size, "%s/%s-%s", rig("RIG_HTTP_ORIGIN"), marker, name);
}

Test(proxy_it, pac_over_http_fails_over_to_squid_never_direct)
{
  char path[128], pac[4096], url[700];
  fetch_opts fo = { 0 };
  outcome *o;
  const char *squid = rig("RIG_SQUID") + strlen("http://");

  unique_path("pac", path, sizeof(path));
  snprintf(pac, sizeof(pac),
           "function FindProxyForURL(url, host) {\n"
           "  if (shExpMatch(url, '*%s*')) return 'PROXY leaked:1';\n"
           "  return 'PROXY 127.0.0.1:%s; PROXY %s; DIRECT';\n"
           "}\n",
           marker, rig("RIG_DEAD_PORT"), squid);
  write_pac("failover.pac", pac, url, sizeof(url));
  fo.pac = url;
  o = fetch("pac", path, &fo);
  expect_ok(o);
  cr_assert(strstr(o->route, squid) != NULL, "%s", o->route);
  cr_assert(strstr(o->log.text, "marked bad") != NULL, "%s", o->log.text);
  cr_assert(strstr(o->log.text, "(evaluation #1") != NULL, "%s",
            o->log.text);
  cr_assert_null(strstr(o->log.text, "(evaluation #2"),
                 "more than one evaluation for one host:\n%s", o->log.text);
  cr_assert(lines_with(rig("RIG_SQUID_LOG"), path, NULL) >= 2);
  expect_origin_saw_only_proxied(path);
  free(o);
}

Test(proxy_it, pac_without_direct_fails_closed_when_every_proxy_is_down)
{
  char path[128], pac[1024], url[700];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("pac-closed", path, sizeof(path));
  snprintf(pac, sizeof(pac),
           "function FindProxyForURL(url, host) {\n"
           "  return 'PROXY 127.0.0.1:%s; SOCKS5 127.0.0.1:%s';\n}\n",
           rig("RIG_DEAD_PORT"), rig("RIG_DEAD_PORT"));
  write_pac("closed.pac", pac, url, sizeof(url));
  fo.pac = url;
  o = fetch("pac-closed", path, &fo);
  cr_assert_eq(o->error, RF_EPROXY, "%s", o->message);
  cr_assert(strstr(o->message, "no DIRECT") != NULL, "%s", o->message);
  cr_assert_eq(lines_with(rig("RIG_HTTP_ORIGIN_LOG"), path, NULL), 0,
               "the origin saw a request");
  free(o);
}

/* The CLI end to end: options, messages, no password anywhere. */
Test(proxy_it, cli_get_and_explain_through_squid)
{
  const char *bin = getenv("RF_TEST_BIN");
  char path[128], cmd[3000], out[700], errfile[700], text[8192];
  int rc;

  cr_assert_not_null(bin, "RF_TEST_BIN not set");
  unique_path("cli", path, sizeof(path));
  snprintf(out, sizeof(out), "%s/cli.bin", dir);
  snprintf(errfile, sizeof(errfile), "%s/cli.err", dir);
  snprintf(cmd, sizeof(cmd),
           "env -u http_proxy -u https_proxy -u all_proxy -u ALL_PROXY "
           "'%s' get -q -vv --no-proxy-config --proxy '%s' --proxy-user "
           "'%s:%s' --proxy-auth basic -o '%s' '%s%s' 2>'%s'",
           bin, rig("RIG_SQUID_BASIC"), rig("RIG_BASIC_USER"),
           rig("RIG_BASIC_PASS"), out, rig("RIG_HTTP_ORIGIN"), path, errfile);
  rc = system(cmd);
  cr_assert_eq(rc, 0, "%s failed", cmd);
  cr_assert(same_as_served(out));
  tf_read(errfile, text, sizeof(text));
  cr_assert_null(strstr(text, rig("RIG_BASIC_PASS")), "password in -vv:\n%s",
                 text);
  cr_assert(strstr(text, "route") != NULL, "%s", text);

  snprintf(out, sizeof(out), "%s/explain.json", dir);
  snprintf(cmd, sizeof(cmd),
           "'%s' proxy explain --json --no-proxy-config --proxy "
           "'http://alice:%s@127.0.0.1:1' 'http://example.test/x' >'%s'",
           bin, rig("RIG_BASIC_PASS"), out);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  tf_read(out, text, sizeof(text));
  cr_assert(strstr(text, "\"resolver\":\"override\"") != NULL, "%s", text);
  cr_assert(strstr(text, "\"proxy\":\"http://127.0.0.1:1\"") != NULL, "%s",
            text);
  cr_assert_null(strstr(text, rig("RIG_BASIC_PASS")), "%s", text);
}

Test(proxy_it, refused_tunnel_is_reported_not_failed_over)
{
  char url[700];
  fetch_opts fo = { 0 };
  outcome *o;

  /* squid allows CONNECT only to the HTTPS origin's port: a tunnel to
   * the plain origin's port is answered 403. */
  snprintf(url, sizeof(url), "https://127.0.0.1:%s",
           rig("RIG_HTTP_ORIGIN_PORT"));
  fo.proxy = rig("RIG_SQUID");
  fo.origin = url;
  o = fetch("refused", "/data.bin", &fo);
  cr_assert_eq(o->error, RF_EPROXY, "%s: %s", rf_err_name(o->error),
               o->message);
  cr_assert(strstr(o->message, "CONNECT answered 403") != NULL, "%s",
            o->message);
  cr_assert_null(strstr(o->log.text, "marked bad"), "%s", o->log.text);
  free(o);
}

/* Delivery Optimization's service-context row "netsh proxy wins, which
 * can result in download failures": a static scope naming an
 * authenticating proxy fails with a 407 that names the scope. */
Test(proxy_it, service_context_static_scope_failure_names_the_scope)
{
  const char *bin = getenv("RF_TEST_BIN");
  char sys[600], usr[600], path[128], cmd[3000], errfile[600], text[4096];
  int rc;

  cr_assert_not_null(bin);
  snprintf(sys, sizeof(sys), "%s/etc", dir);
  snprintf(usr, sizeof(usr), "%s/home/rangefetch", dir);
  cr_assert_eq(system("true"), 0);
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s'", sys, usr);
  cr_assert_eq(system(cmd), 0);
  snprintf(cmd, sizeof(cmd),
           "printf 'proxy = %s\\nproxy_user = %s:%s\\n' > '%s/proxy.conf' && "
           "printf 'proxy = %s\\n' > '%s/static.conf'",
           rig("RIG_SQUID_BASIC"), rig("RIG_BASIC_USER"),
           rig("RIG_BASIC_PASS"), sys, rig("RIG_SQUID_BASIC"), sys);
  cr_assert_eq(system(cmd), 0);
  unique_path("service", path, sizeof(path));
  snprintf(errfile, sizeof(errfile), "%s/service.err", dir);
  /* The service context picks the static scope over the device-wide
   * one (whose credentials would have worked), and the static scope
   * never authenticates. */
  snprintf(cmd, sizeof(cmd),
           "env -u http_proxy -u https_proxy -u all_proxy "
           "RANGEFETCH_SYSCONFDIR='%s' XDG_CONFIG_HOME='%s/home' '%s' get -q "
           "--context service --proxy-auth any --proxy-user '%s:%s' -o "
           "'%s/service.bin' '%s%s' 2>'%s'",
           sys, dir, bin, rig("RIG_BASIC_USER"), rig("RIG_BASIC_PASS"), dir,
           rig("RIG_HTTP_ORIGIN"), path, errfile);
  rc = system(cmd);
  cr_assert_neq(rc, 0, "the download went through");
  tf_read(errfile, text, sizeof(text));
  cr_assert(strstr(text, "407") != NULL, "%s", text);
  cr_assert(strstr(text, "static scope") != NULL, "%s", text);
  cr_assert(strstr(text, "static.conf") != NULL, "%s", text);
  /* Even --proxy-user is not sent: the static scope never authenticates. */
  cr_assert(strstr(text, "does not authenticate") != NULL, "%s", text);
  cr_assert_null(strstr(text, rig("RIG_BASIC_PASS")), "%s", text);
}

Test(proxy_it, credentials_from_netrc)
{
  const char *bin = getenv("RF_TEST_BIN");
  char path[128], cmd[3000], netrc[600];
  FILE *f;

  cr_assert_not_null(bin);
  unique_path("netrc", path, sizeof(path));
  snprintf(netrc, sizeof(netrc), "%s/netrc", dir);
  f = fopen(netrc, "w");
  cr_assert_not_null(f);
  fprintf(f, "machine other.example login x password y\n"
             "machine 127.0.0.1\n  login %s\n  password %s\n",
          rig("RIG_DIGEST_USER"), rig("RIG_DIGEST_PASS"));
  fclose(f);
  snprintf(cmd, sizeof(cmd),
           "NETRC='%s' '%s' get -q --no-proxy-config --proxy '%s' -o "
           "'%s/netrc.bin' '%s%s'",
           netrc, bin, rig("RIG_SQUID_DIGEST"), dir, rig("RIG_HTTP_ORIGIN"),
           path);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  snprintf(cmd, sizeof(cmd), "%s/netrc.bin", dir);
  cr_assert(same_as_served(cmd));
  cr_assert(lines_with(rig("RIG_SQUID_DIGEST_LOG"), path, " bob ") >= 2);
}

Test(proxy_it, https_proxy_with_its_own_ca)
{
  char path[128];
  fetch_opts fo = { 0 };
  outcome *o;

  unique_path("httpsproxy", path, sizeof(path));
  fo.proxy = rig("RIG_HTTPS_PROXY");
  fo.proxy_ca_file = rig("RIG_CA_FILE");
  o = fetch("httpsproxy", path, &fo);
  expect_ok(o);
  expect_origin_saw_only_proxied(path);
  free(o);
  /* An https origin: CONNECT inside the TLS session with the proxy. */
  fo.origin = rig("RIG_HTTPS_ORIGIN");
  fo.ca_file = rig("RIG_CA_FILE");
  o = fetch("httpsproxy-tls", path, &fo);
  expect_ok(o);
  free(o);
  /* The proxy's certificate is verified: unknown CA, or a certificate
   * from another CA, is a TLS failure with the proxy (a dead candidate,
   * nothing else to fall over to here). */
  fo.origin = NULL;
  fo.ca_file = NULL;
  fo.proxy_ca_file = NULL;
  o = fetch("httpsproxy-noca", path, &fo);
  cr_assert_eq(o->error, RF_EPROXY, "%s: %s", rf_err_name(o->error),
               o->message);
  cr_assert(strstr(o->message, "TLS with the HTTPS proxy") != NULL, "%s",
            o->message);
  free(o);
  fo.proxy = rig("RIG_HTTPS_PROXY_BADCERT");
  fo.proxy_ca_file = rig("RIG_CA_FILE");
  o = fetch("httpsproxy-badcert", path, &fo);
  cr_assert_eq(o->error, RF_EPROXY, "%s", o->message);
  cr_assert(strstr(o->message, "TLS with the HTTPS proxy") != NULL, "%s",
            o->message);
  free(o);
}

/* `rangefetch bench` through squid: both routes measured, a ratio, and
 * nothing written to disk. */
Test(proxy_it, cli_bench_direct_versus_squid)
{
  const char *bin = getenv("RF_TEST_BIN");
  char cmd[4000], out[600], text[8192], cwd[600];

  cr_assert_not_null(bin);
  snprintf(out, sizeof(out), "%s/bench.json", dir);
  snprintf(cwd, sizeof(cwd), "%s/benchcwd", dir);
  snprintf(cmd, sizeof(cmd),
           "mkdir '%s' && cd '%s' && '%s' bench --json --no-proxy-config "
           "--proxy '%s' -c 1,4 --rounds 2 --bytes 4M '%s/data.bin' > '%s' && "
           "[ -z \"$(ls -A '%s')\" ]",
           cwd, cwd, bin, rig("RIG_SQUID"), rig("RIG_HTTP_ORIGIN"), out, cwd);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  tf_read(out, text, sizeof(text));
  cr_assert(strstr(text, "\"route\":\"proxy\",\"runs_ok\":2") != NULL, "%s",
            text);
  cr_assert(strstr(text, "\"route\":\"direct\",\"runs_ok\":2") != NULL, "%s",
            text);
  cr_assert(strstr(text, "\"proxy_over_direct\":0.") != NULL ||
                strstr(text, "\"proxy_over_direct\":1.") != NULL,
            "%s", text);
  cr_assert_null(strstr(text, "null"), "%s", text);
}
