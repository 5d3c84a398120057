/*
 * Sources against the real servers of the test rig (tests/rig/start,
 * docs/test-rig.md): a real nginx configured as a Connected-Cache-style
 * cache host (cacheHostOrigin mapped to the allow-listed rig origin, 403
 * for anything else), and squid as the proxy that the PAC sends some
 * sources through.  The nginx and squid logs show where each request went.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rangefetch.h"
#include "support/logbuf.h"
#include "support/rig.h"
#include "support/testserver.h"
#include "support/tmpdir.h"

static char dir[256];
static char marker[64];

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  rig_load();
  tmpdir_make(dir, sizeof(dir), "proxy-it-sources");
  snprintf(marker, sizeof(marker), "src-%d-%u", (int)getpid(),
           (unsigned)time(NULL));
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(proxy_it_sources, .init = setup, .fini = teardown, .timeout = 120);

typedef struct outcome {
  int done;
  int error;
  char message[1200];
  char out[600];
  uint64_t bytes_from[RF_SOURCE_KINDS];
  rf_source_state cache_state;
  char cache_why[300];
  unsigned cache_requests;
  logbuf log;
} outcome;

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  outcome *o = ud;
  unsigned k;

  (void)job;
  o->done++;
  o->error = r->error;
  snprintf(o->message, sizeof(o->message), "%s", r->message);
  memcpy(o->bytes_from, r->bytes_from, sizeof(o->bytes_from));
  for (k = 0; k < r->nsources; k++)
    if (r->sources[k].kind == RF_SOURCE_CACHE_HOST) {
      o->cache_state = r->sources[k].state;
      o->cache_requests = r->sources[k].requests;
      snprintf(o->cache_why, sizeof(o->cache_why), "%s", r->sources[k].why);
    }
}

typedef struct fetch_opts {
  const char *url;        /* the origin URL */
  const char *cache_host; /* HOST:PORT */
  const char *pac;        /* a PAC resolver's location, or NULL */
  int cache_host_proxy;
  rf_engine *engine;      /* reuse this engine (bans carry over) */
} fetch_opts;

static outcome *fetch(const char *tag, const fetch_opts *fo)
{
  outcome *o = calloc(1, sizeof(*o));
  rf_engine_options eo = RF_ENGINE_OPTIONS_INIT;
  rf_engine *e = fo->engine;
  rf_source_options s;
  rf_job_options jo;
  int rc;

  cr_assert_not_null(o);
  if (e == NULL) {
    eo.log_cb = logbuf_cb;
    eo.log_level = RF_LOG_DEBUG;
    eo.log_user_data = &o->log;
    cr_assert_eq(rf_engine_new(&e, &eo), 0);
    if (fo->pac != NULL)
      cr_assert_eq(rf_engine_add_pac_resolver(e, fo->pac, NULL), 0);
  }
  snprintf(o->out, sizeof(o->out), "%s/%s", dir, tag);
  rf_source_options_init(&s);
  s.kind = RF_SOURCE_CACHE_HOST;
  s.url = fo->cache_host;
  rf_job_options_init(&jo);
  jo.url = fo->url;
  jo.output = o->out;
  jo.connections = 4;
  jo.piece_size = 512 * 1024;
  jo.retry_base_ms = 20;
  jo.max_tries = 3;
  jo.sources = &s;
  jo.nsources = 1;
  jo.cache_host_proxy = fo->cache_host_proxy;
  jo.on_done = on_done;
  jo.user_data = o;
  rc = rf_job_add(NULL, e, &jo);
  cr_assert_eq(rc, 0, "rf_job_add: %s (%s)", rf_strerror(rc),
               rf_engine_last_error(e));
  rf_engine_run(e);
  if (fo->engine == NULL)
    rf_engine_free(e);
  cr_assert_eq(o->done, 1);
  return o;
}

static void expect_ok(const outcome *o)
{
  cr_assert_eq(o->error, 0, "%s: %s\nlog:\n%s", rf_err_name(o->error),
               o->message, o->log.text);
  cr_assert(rig_same_as_served(o->out), "%s differs from the served file",
            o->out);
}

static void done(outcome *o)
{
  free(o);
}

Test(proxy_it_sources, nginx_cache_host_gets_the_connected_cache_form)
{
  char path[128], url[700], needle[300];
  fetch_opts fo = { 0 };
  outcome *o;
  const unsigned size = 8388608;

  rig_unique_path(marker, "cache", path, sizeof(path));
  snprintf(url, sizeof(url), "%s%s", rig("RIG_HTTP_ORIGIN"), path);
  fo.url = url;
  fo.cache_host = rig("RIG_CACHE_HOST");
  o = fetch("cache", &fo);
  expect_ok(o);
  /* One byte from the origin (the length), every piece from the cache
   * host, each asked in the Connected Cache form. */
  cr_assert_eq(o->bytes_from[RF_SOURCE_ORIGIN], 0);
  cr_assert_eq(o->bytes_from[RF_SOURCE_CACHE_HOST], size);
  snprintf(needle, sizeof(needle), "\"GET %s?cacheHostOrigin=127.0.0.1 ",
           path);
  /* (a request is a run of one or more pieces) */
  cr_assert_geq(rig_lines_with(rig("RIG_CACHE_HOST_LOG"), needle, " 206 "),
                1, "cache host log: %u lines with %s",
                rig_lines_with(rig("RIG_CACHE_HOST_LOG"), needle, NULL),
                needle);
  /* (a 499 is an endgame duplicate that lost the race: cancelled) */
  cr_assert_eq(rig_lines_with(rig("RIG_CACHE_HOST_LOG"), needle, " 206 ") +
                   rig_lines_with(rig("RIG_CACHE_HOST_LOG"), needle, " 499 "),
               rig_lines_with(rig("RIG_CACHE_HOST_LOG"), needle, NULL),
               "every cache host answer was a 206");
  done(o);
}

Test(proxy_it_sources, cache_host_down_the_origin_serves)
{
  char path[128], url[700], dead[64];
  fetch_opts fo = { 0 };
  outcome *o;

  rig_unique_path(marker, "down", path, sizeof(path));
  snprintf(url, sizeof(url), "%s%s", rig("RIG_HTTP_ORIGIN"), path);
  snprintf(dead, sizeof(dead), "127.0.0.1:%s", rig("RIG_DEAD_PORT"));
  fo.url = url;
  fo.cache_host = dead;
  o = fetch("down", &fo);
  expect_ok(o);
  cr_assert_eq(o->bytes_from[RF_SOURCE_ORIGIN], 8388608);
  cr_assert_eq(o->cache_state, RF_SOURCE_BANNED, "%s",
               rf_source_state_name(o->cache_state));
  done(o);
}

Test(proxy_it_sources, nginx_4xx_bans_the_cache_host_for_that_origin_only)
{
  ts_server *other = ts_start(NULL);
  char path[128], url[700], url2[300], needle[300];
  fetch_opts fo = { 0 };
  rf_engine *e = NULL;
  outcome *o1, *o2;

  cr_assert_not_null(other);
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  /* An origin the cache host maps to the rig origin, which has no such
   * file: nginx answers 404 for it. */
  snprintf(url2, sizeof(url2), "http://localhost:%u/gen/4194304?seed=%d",
           ts_port(other), (int)getpid());
  fo.url = url2;
  fo.cache_host = rig("RIG_CACHE_HOST");
  fo.engine = e;
  o1 = fetch("other", &fo);
  cr_assert_eq(o1->error, 0, "%s", o1->message);
  cr_assert(ts_file_matches_gen(o1->out, 4194304, (uint64_t)getpid()));
  cr_assert_eq(o1->cache_state, RF_SOURCE_BANNED);
  cr_assert(strstr(o1->cache_why, "404") != NULL &&
                strstr(o1->cache_why, "for this origin") != NULL,
            "%s", o1->cache_why);
  snprintf(needle, sizeof(needle), "cacheHostOrigin=localhost ");
  cr_assert_geq(rig_lines_with(rig("RIG_CACHE_HOST_LOG"), needle, " 404 "), 1);

  /* The rig's origin (127.0.0.1) through the same cache host, same
   * engine: still used. */
  rig_unique_path(marker, "after-ban", path, sizeof(path));
  snprintf(url, sizeof(url), "%s%s", rig("RIG_HTTP_ORIGIN"), path);
  fo.url = url;
  o2 = fetch("after-ban", &fo);
  expect_ok(o2);
  cr_assert_gt(o2->bytes_from[RF_SOURCE_CACHE_HOST], 0, "cache host: %s (%s)",
               rf_source_state_name(o2->cache_state), o2->cache_why);
  rf_engine_free(e);
  ts_stop(other);
  done(o1);
  done(o2);
}

/* A PAC as a data: URL: the cache host's port DIRECT when direct_cache,
 * everything else through the rig's squid. */
static void pac_url(char *out, size_t size, int direct_cache)
{
  char script[1024];
  size_t k, n;

  snprintf(script, sizeof(script),
           "function FindProxyForURL(url, host) {"
           " if (%d && url.indexOf(':%s/') >= 0) return 'DIRECT';"
           " return 'PROXY 127.0.0.1:%s'; }",
           direct_cache, rig("RIG_CACHE_HOST_PORT"), rig("RIG_SQUID_PORT"));
  /* data:,<percent-encoded script> */
  n = (size_t)snprintf(out, size, "data:,");
  for (k = 0; script[k] != '\0' && n + 4 < size; k++) {
    unsigned char c = (unsigned char)script[k];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || strchr("-_.~()';:/", c) != NULL)
      out[n++] = (char)c;
    else
      n += (size_t)snprintf(out + n, size - n, "%%%02X", c);
  }
  out[n] = '\0';
}

/* Requests for path to the cache host that squid logged (squid strips
 * query strings from its log: the cache host's address tells them). */
static unsigned via_squid(const char *path)
{
  char needle[300];

  snprintf(needle, sizeof(needle), " http://%s%s", rig("RIG_CACHE_HOST"),
           path);
  return rig_lines_with(rig("RIG_SQUID_LOG"), needle, NULL);
}

Test(proxy_it_sources, cache_host_proxy_auto_follows_the_pac)
{
  char path[128], url[700], pac[2048];
  fetch_opts fo = { 0 };
  outcome *o;

  /* The PAC sends the cache host DIRECT, the origin through squid. */
  rig_unique_path(marker, "auto-direct", path, sizeof(path));
  snprintf(url, sizeof(url), "%s%s", rig("RIG_HTTP_ORIGIN"), path);
  pac_url(pac, sizeof(pac), 1);
  fo.url = url;
  fo.cache_host = rig("RIG_CACHE_HOST");
  fo.pac = pac;
  fo.cache_host_proxy = RF_CACHE_HOST_PROXY_AUTO;
  o = fetch("auto-direct", &fo);
  expect_ok(o);
  cr_assert_geq(rig_lines_with(rig("RIG_SQUID_LOG"), path, NULL), 1,
                "the origin's probe went through squid");
  cr_assert_eq(via_squid(path), 0, "no cache host request through squid");
  cr_assert_gt(o->bytes_from[RF_SOURCE_CACHE_HOST], 0);
  done(o);

  /* The PAC sends everything through squid: so does auto. */
  rig_unique_path(marker, "auto-proxy", path, sizeof(path));
  snprintf(url, sizeof(url), "%s%s", rig("RIG_HTTP_ORIGIN"), path);
  pac_url(pac, sizeof(pac), 0);
  o = fetch("auto-proxy", &fo);
  expect_ok(o);
  cr_assert_gt(via_squid(path), 0, "the cache host's requests went through "
                                   "squid");
  done(o);
}

Test(proxy_it_sources, cache_host_proxy_direct_bypasses_the_proxy)
{
  char path[128], url[700], pac[2048], needle[300];
  fetch_opts fo = { 0 };
  outcome *o;

  rig_unique_path(marker, "direct", path, sizeof(path));
  snprintf(url, sizeof(url), "%s%s", rig("RIG_HTTP_ORIGIN"), path);
  pac_url(pac, sizeof(pac), 0); /* everything through squid */
  fo.url = url;
  fo.cache_host = rig("RIG_CACHE_HOST");
  fo.pac = pac;
  fo.cache_host_proxy = RF_CACHE_HOST_PROXY_DIRECT;
  o = fetch("direct", &fo);
  expect_ok(o);
  cr_assert_geq(rig_lines_with(rig("RIG_SQUID_LOG"), path, NULL), 1,
                "the origin went through squid");
  cr_assert_eq(via_squid(path), 0, "the cache host was asked directly");
  snprintf(needle, sizeof(needle), "%s?cacheHostOrigin=", path);
  cr_assert_gt(rig_lines_with(rig("RIG_CACHE_HOST_LOG"), needle, "via=\"-\""),
               0, "the cache host saw requests without squid's Via");
  done(o);
}
