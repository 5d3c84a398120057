/*
 * Proxy routing in the engine, against the in-process range server and
 * ports where nothing listens: candidate parsing, the resolver interface
 * (synchronous and asynchronous answers, cancellation, pass / error /
 * mandatory), failover with the shared bad-proxy marks, failing closed, the
 * static resolver, and the PAC resolver (data:, file and http locations,
 * fetch limits, one evaluation per host).  Real proxies: test_proxy_it.c.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <uv.h>

#include "rangefetch.h"
#include "proxy/chain.h"
#include "support/curlfail.h"
#include "support/logbuf.h"
#include "support/textfile.h"
#include "support/testserver.h"
#include "support/tmpdir.h"

static ts_server *srv;
static char dir[256];
static unsigned dead_port; /* nothing listens there */

static unsigned closed_port(void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  unsigned port;

  cr_assert(fd >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  port = ntohs(a.sin_port);
  close(fd); /* bound, never listened: connections are refused */
  return port;
}

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  srv = ts_start(NULL);
  cr_assert_not_null(srv, "test server did not start");
  tmpdir_make(dir, sizeof(dir), "proxy");
  dead_port = closed_port();
}

static void teardown(void)
{
  ts_stop(srv);
  tmpdir_remove(dir);
}

TestSuite(proxy, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------- helpers */

static unsigned count_of(const char *hay, const char *needle)
{
  unsigned n = 0;
  const char *p = hay;

  while ((p = strstr(p, needle)) != NULL) {
    n++;
    p += strlen(needle);
  }
  return n;
}

typedef struct outcome {
  int done;
  int error;
  char message[1024];
  char route[1024];
} outcome;

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  outcome *o = ud;

  (void)job;
  o->done++;
  o->error = r->error;
  snprintf(o->message, sizeof(o->message), "%s", r->message);
  snprintf(o->route, sizeof(o->route), "%s", r->route != NULL ? r->route : "");
}

/* Add a job for /gen/SIZE?seed=SEED to e, into dir/name. */
static void add_job(rf_engine *e, uint64_t size, unsigned seed,
                    const char *name, outcome *o, const char *proxy)
{
  rf_job_options jo;
  char path[128], out[600];
  char *url;
  int rc;

  snprintf(path, sizeof(path), "/gen/%llu?seed=%u", (unsigned long long)size,
           seed);
  snprintf(out, sizeof(out), "%s/%s", dir, name);
  url = ts_url(srv, path);
  rf_job_options_init(&jo);
  jo.url = url;
  jo.output = out;
  jo.connections = 4;
  jo.piece_size = 64 * 1024;
  jo.retry_base_ms = 10;
  jo.connect_timeout_ms = 3000;
  jo.proxy = proxy;
  jo.on_done = on_done;
  jo.user_data = o;
  rc = rf_job_add(NULL, e, &jo);
  cr_assert_eq(rc, 0, "rf_job_add: %s (%s)", rf_strerror(rc),
               rf_engine_last_error(e));
  free(url);
}

static void expect_file(const char *name, uint64_t size, unsigned seed)
{
  char out[600];

  snprintf(out, sizeof(out), "%s/%s", dir, name);
  cr_assert(ts_file_matches_gen(out, size, seed), "%s differs", name);
}

/* A resolver answering with a fixed list, synchronously or from a timer. */
typedef struct fixed {
  rf_proxy list[4];
  char hosts[4][64];
  size_t n;
  rf_resolve_status status;
  const char *detail;
  int async;
  uv_loop_t *loop;
  uv_timer_t timer;
  rf_resolve_req *pending;
  unsigned resolves, cancels, destroys, answers_after_cancel;
  unsigned feedback[4];
  char last_feedback_proxy[128];
} fixed;

static void fixed_answer(fixed *f, rf_resolve_req *req)
{
  rf_resolve_answer(req, f->status, f->n > 0 ? f->list : NULL, f->n,
                    f->detail);
}

static void fixed_timer(uv_timer_t *t)
{
  fixed *f = t->data;
  rf_resolve_req *req = f->pending;

  f->pending = NULL;
  if (req != NULL)
    fixed_answer(f, req);
}

static void fixed_resolve(void *self, rf_resolve_req *req,
                          const rf_resolve_info *info)
{
  fixed *f = self;

  cr_assert_str_eq(info->scheme, "http");
  cr_assert_str_eq(info->host, "127.0.0.1");
  cr_assert_null(strchr(info->url + 7, '?'), "query leaked: %s", info->url);
  f->resolves++;
  if (!f->async) {
    fixed_answer(f, req); /* the engine must defer it */
    return;
  }
  f->pending = req;
  uv_timer_start(&f->timer, fixed_timer, 200, 0);
}

static void fixed_cancel(void *self, rf_resolve_req *req)
{
  fixed *f = self;

  f->cancels++;
  if (f->pending == req) {
    f->pending = NULL;
    uv_timer_stop(&f->timer);
  }
}

static void fixed_feedback(void *self, const rf_proxy *p, rf_proxy_outcome o,
                           const char *detail)
{
  fixed *f = self;

  (void)detail;
  cr_assert_null(p->password, "a password reached feedback");
  f->feedback[o]++;
  rf_proxy_format(f->last_feedback_proxy, sizeof(f->last_feedback_proxy), p);
}

static void fixed_destroy(void *self)
{
  fixed *f = self;

  f->destroys++;
}

static const rf_resolver_ops fixed_ops = { "fixed", fixed_resolve,
                                           fixed_cancel, fixed_feedback,
                                           fixed_destroy };

static void fixed_init(fixed *f, rf_engine *e)
{
  memset(f, 0, sizeof(*f));
  f->loop = rf_engine_loop(e);
  uv_timer_init(f->loop, &f->timer);
  f->timer.data = f;
  f->status = RF_RESOLVE_OK;
  f->detail = "test list";
}

static void fixed_add(fixed *f, rf_proxy_type type, unsigned port)
{
  rf_proxy *p = &f->list[f->n];

  memset(p, 0, sizeof(*p));
  p->type = type;
  if (type != RF_PROXY_DIRECT) {
    snprintf(f->hosts[f->n], sizeof(f->hosts[0]), "127.0.0.1");
    p->host = f->hosts[f->n];
    p->port = port;
  }
  f->n++;
}

static void fixed_close(fixed *f)
{
  uv_close((uv_handle_t *)&f->timer, NULL);
}

/* ----------------------------------------------------------- the chain */

/* The URL a route is asked for, reduced: each of libcurl's allocations
 * failing in turn gives the same answer or RF_ENOMEM, never RF_EURL ("cannot
 * resolve the proxy route: malformed or unsupported URL").  (No user name
 * in the URL: libcurl 7.88.1 reports running out of memory while parsing
 * one as CURLUE_BAD_LOGIN.) */
Test(proxy, url_reduce_out_of_memory_is_not_a_bad_url)
{
  static const char url[] = "HTTPS://Example.ORG:8443/f?q#x";
  char out[300], scheme[16], host[256];
  unsigned port = 0;
  long n, total;
  int rc, nomem = 0;

  cr_assert_eq(curlfail_install(), 0);
  curlfail_arm(0);
  cr_assert_eq(rf__url_reduce(url, out, sizeof(out), scheme, sizeof(scheme),
                              host, sizeof(host), &port),
               0);
  cr_assert_str_eq(out, "https://example.org:8443/");
  cr_assert_eq(port, 8443);
  total = curlfail_count();
  cr_assert_gt(total, 0, "libcurl's allocations are not counted");
  for (n = 1; n <= total; n++) {
    curlfail_arm(n);
    rc = rf__url_reduce(url, out, sizeof(out), scheme, sizeof(scheme), host,
                        sizeof(host), &port);
    cr_assert(rc == 0 || rc == RF_ENOMEM, "allocation %ld of %ld: %s", n,
              total, rf_err_name(rc));
    if (rc == 0)
      cr_assert_str_eq(out, "https://example.org:8443/");
    nomem += rc == RF_ENOMEM;
  }
  curlfail_arm(0);
  cr_assert_gt(nomem, 0);
  cr_assert_eq(rf__url_reduce("ftp://example.org/", out, sizeof(out), scheme,
                              sizeof(scheme), host, sizeof(host), &port),
               RF_EURL);
  curl_global_cleanup();
}

/* ---------------------------------------------------------- candidates */

Test(proxy, parse_and_format_candidates)
{
  static const struct {
    const char *in;
    int rc;
    rf_proxy_type type;
    const char *host;
    unsigned port;
    const char *user, *pass;
    const char *shown;
  } t[] = {
    { "http://proxy:3128", 0, RF_PROXY_HTTP, "proxy", 3128, NULL, NULL,
      "http://proxy:3128" },
    { "proxy.example:8080", 0, RF_PROXY_HTTP, "proxy.example", 8080, NULL,
      NULL, "http://proxy.example:8080" },
    { "https://p", 0, RF_PROXY_HTTPS, "p", 0, NULL, NULL, "https://p:443" },
    { "SOCKS5H://erin:s%40cret@[::1]:1080/", 0, RF_PROXY_SOCKS5H, "::1", 1080,
      "erin", "s@cret", "socks5h://[::1]:1080" },
    { "socks4a://h", 0, RF_PROXY_SOCKS4A, "h", 0, NULL, NULL,
      "socks4a://h:1080" },
    { "socks5://u@h:1", 0, RF_PROXY_SOCKS5, "h", 1, "u", NULL,
      "socks5://h:1" },
    { "DIRECT", 0, RF_PROXY_DIRECT, NULL, 0, NULL, NULL, "DIRECT" },
    { "ftp://h:21", RF_EURL, 0, NULL, 0, NULL, NULL, NULL },
    { "http://", RF_EURL, 0, NULL, 0, NULL, NULL, NULL },
    { "http://h:0", RF_EURL, 0, NULL, 0, NULL, NULL, NULL },
    { "http://h:65536", RF_EURL, 0, NULL, 0, NULL, NULL, NULL },
    { "http://h:80x", RF_EURL, 0, NULL, 0, NULL, NULL, NULL },
    { "http://h/path", RF_EURL, 0, NULL, 0, NULL, NULL, NULL },
    { "http://[::1", RF_EURL, 0, NULL, 0, NULL, NULL, NULL },
    { "http://h:3128?x", RF_EURL, 0, NULL, 0, NULL, NULL, NULL },
  };
  size_t i;

  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    rf_proxy p;
    char buf[256], shown[128];
    int rc = rf_proxy_parse(&p, buf, sizeof(buf), t[i].in);

    cr_assert_eq(rc, t[i].rc, "%s: rc %d", t[i].in, rc);
    if (rc != 0)
      continue;
    cr_assert_eq(p.type, t[i].type, "%s: type", t[i].in);
    if (t[i].host == NULL)
      cr_assert_null(p.host);
    else
      cr_assert_str_eq(p.host, t[i].host, "%s", t[i].in);
    cr_assert_eq(p.port, t[i].port, "%s: port %u", t[i].in, p.port);
    if (t[i].user == NULL)
      cr_assert_null(p.user, "%s", t[i].in);
    else
      cr_assert_str_eq(p.user, t[i].user);
    if (t[i].pass == NULL)
      cr_assert_null(p.password, "%s", t[i].in);
    else
      cr_assert_str_eq(p.password, t[i].pass);
    rf_proxy_format(shown, sizeof(shown), &p);
    cr_assert_str_eq(shown, t[i].shown);
    cr_assert_null(strstr(shown, "cret"), "a password was formatted");
  }
  {
    rf_proxy p;
    char small[4];
    cr_assert_eq(rf_proxy_parse(&p, small, sizeof(small), "http://longhost:1"),
                 RF_EINVAL);
  }
}

/* ---------------------------------------------------------- resolvers */

Test(proxy, no_resolver_goes_direct_and_says_so)
{
  rf_engine *e = logbuf_engine(NULL);
  outcome o;

  memset(&o, 0, sizeof(o));
  add_job(e, 300000, 1, "plain", &o, NULL);
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_eq(o.error, 0, "%s", o.message);
  cr_assert(strstr(o.route, "direct") != NULL, "route: %s", o.route);
  expect_file("plain", 300000, 1);
}

Test(proxy, synchronous_answer_is_deferred_and_used)
{
  rf_engine *e = logbuf_engine(NULL);
  fixed f;
  outcome o;

  fixed_init(&f, e);
  fixed_add(&f, RF_PROXY_DIRECT, 0);
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &f), 0);
  memset(&o, 0, sizeof(o));
  add_job(e, 1000000, 2, "sync", &o, NULL);
  cr_assert_eq(f.resolves, 0, "resolved from inside rf_job_add");
  rf_engine_run(e);
  fixed_close(&f);
  rf_engine_free(e);
  cr_assert_eq(o.error, 0, "%s", o.message);
  cr_assert_eq(f.resolves, 1);
  cr_assert(strstr(o.route, "chosen by fixed: test list") != NULL, "%s",
            o.route);
  cr_assert_eq(f.destroys, 1);
  expect_file("sync", 1000000, 2);
}

Test(proxy, asynchronous_answer_and_cancellation)
{
  rf_engine *e = logbuf_engine(NULL);
  fixed f;
  outcome o1, o2;
  rf_job_options jo;
  rf_job *job = NULL;
  char out[600];
  char *url = ts_url(srv, "/gen/100000?seed=3");

  fixed_init(&f, e);
  f.async = 1;
  fixed_add(&f, RF_PROXY_DIRECT, 0);
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &f), 0);
  memset(&o1, 0, sizeof(o1));
  memset(&o2, 0, sizeof(o2));
  add_job(e, 200000, 3, "async", &o1, NULL);
  /* A second job on the same host: the route cache answers it, or it
   * waits on its own request; cancel it while it waits. */
  snprintf(out, sizeof(out), "%s/cancelled", dir);
  rf_job_options_init(&jo);
  jo.url = url;
  jo.output = out;
  jo.on_done = on_done;
  jo.user_data = &o2;
  cr_assert_eq(rf_job_add(&job, e, &jo), 0);
  rf_job_cancel(job);
  rf_engine_run(e);
  fixed_close(&f);
  rf_engine_free(e);
  free(url);
  cr_assert_eq(o1.error, 0, "%s", o1.message);
  cr_assert_eq(o2.error, RF_ECANCELED);
  cr_assert_eq(f.resolves + 0u, f.cancels + 1u,
               "every request but the answered one was cancelled (%u/%u)",
               f.resolves, f.cancels);
  expect_file("async", 200000, 3);
}

Test(proxy, pass_and_error_go_on_mandatory_stops)
{
  rf_engine *e = logbuf_engine(NULL);
  fixed pass, err, mand;
  outcome o;
  uint64_t before;

  fixed_init(&pass, e);
  pass.status = RF_RESOLVE_PASS;
  fixed_init(&err, e);
  err.status = RF_RESOLVE_ERROR;
  err.detail = "broken on purpose";
  fixed_init(&mand, e);
  mand.status = RF_RESOLVE_ERROR_MANDATORY;
  mand.detail = "policy forbids direct";
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &pass), 0);
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &err), 0);
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &mand), 0);
  memset(&o, 0, sizeof(o));
  before = ts_requests(srv);
  add_job(e, 100000, 4, "mandatory", &o, NULL);
  rf_engine_run(e);
  fixed_close(&pass);
  fixed_close(&err);
  fixed_close(&mand);
  rf_engine_free(e);
  cr_assert_eq(pass.resolves, 1);
  cr_assert_eq(err.resolves, 1);
  cr_assert_eq(mand.resolves, 1);
  cr_assert_eq(o.error, RF_EPROXY, "%s", o.message);
  cr_assert(strstr(o.message, "policy forbids direct") != NULL, "%s",
            o.message);
  cr_assert_eq(ts_requests(srv), before, "a request went out");
}

Test(proxy, dead_proxy_fails_over_and_is_marked_bad_for_all_jobs)
{
  logbuf *lb = calloc(1, sizeof(*lb));
  rf_engine *e = logbuf_engine(lb);
  fixed f;
  outcome o1, o2;

  fixed_init(&f, e);
  fixed_add(&f, RF_PROXY_HTTP, dead_port);
  fixed_add(&f, RF_PROXY_DIRECT, 0);
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &f), 0);
  memset(&o1, 0, sizeof(o1));
  memset(&o2, 0, sizeof(o2));
  add_job(e, 2000000, 5, "failover1", &o1, NULL);
  rf_engine_run(e);
  cr_assert_eq(o1.error, 0, "%s", o1.message);
  cr_assert(strstr(o1.route, "direct") != NULL, "%s", o1.route);
  cr_assert(strstr(lb->text, "marked bad") != NULL, "%s", lb->text);
  cr_assert_eq(f.feedback[RF_PROXY_DEAD] >= 1, 1);
  /* A second job, other host spelling but same proxy list: the dead
   * proxy comes last, so the first request is direct and nothing else
   * is marked. */
  lb->len = 0;
  lb->text[0] = '\0';
  add_job(e, 500000, 6, "failover2", &o2, NULL);
  rf_engine_run(e);
  fixed_close(&f);
  rf_engine_free(e);
  cr_assert_eq(o2.error, 0, "%s", o2.message);
  cr_assert_eq(count_of(lb->text, "marked bad"), 0, "%s", lb->text);
  expect_file("failover1", 2000000, 5);
  expect_file("failover2", 500000, 6);
  free(lb);
}

Test(proxy, every_proxy_dead_without_direct_fails_closed)
{
  rf_engine *e = logbuf_engine(NULL);
  fixed f;
  outcome o;
  uint64_t before = ts_requests(srv);
  unsigned other = closed_port();

  fixed_init(&f, e);
  fixed_add(&f, RF_PROXY_HTTP, dead_port);
  fixed_add(&f, RF_PROXY_SOCKS5H, other);
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &f), 0);
  memset(&o, 0, sizeof(o));
  add_job(e, 100000, 7, "closed", &o, NULL);
  rf_engine_run(e);
  fixed_close(&f);
  rf_engine_free(e);
  cr_assert_eq(o.error, RF_EPROXY, "%s", o.message);
  cr_assert(strstr(o.message, "no DIRECT") != NULL, "%s", o.message);
  cr_assert(strstr(o.message, "chosen by fixed") != NULL, "%s", o.message);
  cr_assert_eq(ts_requests(srv), before, "the origin saw a direct request");
}

Test(proxy, job_proxy_option_bypasses_the_chain)
{
  rf_engine *e = logbuf_engine(NULL);
  fixed f;
  outcome o;
  char dead[64];

  fixed_init(&f, e);
  fixed_add(&f, RF_PROXY_HTTP, dead_port);
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &f), 0);
  memset(&o, 0, sizeof(o));
  add_job(e, 100000, 8, "explicit-direct", &o, "");
  rf_engine_run(e);
  cr_assert_eq(o.error, 0, "%s", o.message);
  cr_assert_eq(f.resolves, 0);
  snprintf(dead, sizeof(dead), "http://user:pw@127.0.0.1:%u", dead_port);
  memset(&o, 0, sizeof(o));
  add_job(e, 100000, 8, "explicit-dead", &o, dead);
  rf_engine_run(e);
  fixed_close(&f);
  rf_engine_free(e);
  cr_assert_eq(o.error, RF_EPROXY, "%s", o.message);
  cr_assert_null(strstr(o.message, "pw"), "password in: %s", o.message);
}

Test(proxy, static_resolver_per_scheme_and_no_proxy)
{
  rf_engine *e = logbuf_engine(NULL);
  rf_static_resolver_options so = RF_STATIC_RESOLVER_OPTIONS_INIT;
  outcome o;
  char dead[64];

  snprintf(dead, sizeof(dead), "http://127.0.0.1:%u", dead_port);
  /* https only: http URLs get no opinion, then direct. */
  so.https_proxy = dead;
  cr_assert_eq(rf_engine_add_static_resolver(e, &so), 0);
  memset(&o, 0, sizeof(o));
  add_job(e, 100000, 9, "scheme", &o, NULL);
  rf_engine_run(e);
  cr_assert_eq(o.error, 0, "%s", o.message);
  cr_assert(strstr(o.route, "default") != NULL, "%s", o.route);
  rf_engine_free(e);

  e = logbuf_engine(NULL);
  rf_static_resolver_options_init(&so);
  so.proxy = dead;
  so.no_proxy = "localhost,127.0.0.0/8";
  cr_assert_eq(rf_engine_add_static_resolver(e, &so), 0);
  memset(&o, 0, sizeof(o));
  add_job(e, 100000, 9, "noproxy", &o, NULL);
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_eq(o.error, 0, "%s", o.message);
  cr_assert(strstr(o.route, "no_proxy") != NULL, "%s", o.route);
  cr_assert_eq(rf_engine_add_static_resolver(NULL, &so), RF_EINVAL);
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_static_resolver(e, NULL), RF_EINVAL);
  rf_static_resolver_options_init(&so);
  so.proxy = "ftp://alice:secret@x";
  so.label = "corp.conf";
  cr_assert_eq(rf_engine_add_static_resolver(e, &so), RF_EURL);
  cr_assert(strstr(rf_engine_last_error(e), "corp.conf") != NULL, "%s",
            rf_engine_last_error(e));
  cr_assert_null(strstr(rf_engine_last_error(e), "secret"));
  rf_engine_free(e);
}

/* name, label, user and auth of the static resolver's options reach the
 * route: the explanation names the resolver and the label, and the
 * candidate carries the user (never the password). */
static void on_static_explained(const rf_route_info *info, void *ud)
{
  rf_route_info *out = ud;
  static rf_proxy cand;
  static char chosen[300], user[64];

  snprintf(chosen, sizeof(chosen), "%s", info->chosen_by);
  out->chosen_by = chosen;
  out->ncandidates = info->ncandidates;
  if (info->ncandidates > 0) {
    cand = info->candidates[0];
    snprintf(user, sizeof(user), "%s",
             cand.user != NULL ? cand.user : "");
    cand.user = user;
    cand.host = NULL;
    cand.ca_file = NULL;
    out->candidates = &cand;
  }
}

Test(proxy, static_resolver_options_reach_the_route)
{
  rf_engine *e = logbuf_engine(NULL);
  rf_static_resolver_options so;
  rf_route_info got;

  rf_static_resolver_options_init(&so);
  cr_assert_eq(so.version, RF_STATIC_RESOLVER_OPTIONS_VERSION);
  so.name = "corp";
  so.label = "corp.conf";
  so.proxy = "http://p.example:3128";
  so.user = "alice";
  so.password = "secret";
  so.auth = RF_PROXY_AUTH_NTLM;
  cr_assert_eq(rf_engine_add_static_resolver(e, &so), 0);
  memset(&got, 0, sizeof(got));
  cr_assert_eq(rf_engine_explain(e, "http://h.example/x", on_static_explained,
                                 &got),
               0);
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_not_null(got.chosen_by);
  cr_assert(strncmp(got.chosen_by, "corp: ", 6) == 0, "%s", got.chosen_by);
  cr_assert(strstr(got.chosen_by, "corp.conf") != NULL, "%s", got.chosen_by);
  cr_assert_null(strstr(got.chosen_by, "secret"));
  cr_assert_eq(got.ncandidates, 1);
  cr_assert_str_eq(got.candidates[0].user, "alice");
  cr_assert_null(got.candidates[0].password);
  cr_assert_eq(got.candidates[0].auth, RF_PROXY_AUTH_NTLM);
}

Test(proxy, static_resolver_options_versions)
{
  rf_engine *e = logbuf_engine(NULL);
  rf_static_resolver_options so = RF_STATIC_RESOLVER_OPTIONS_INIT;

  so.proxy = "direct";
  so.version = 0;
  cr_assert_eq(rf_engine_add_static_resolver(e, &so), RF_EINVAL);
  so.version = RF_STATIC_RESOLVER_OPTIONS_VERSION + 1;
  cr_assert_eq(rf_engine_add_static_resolver(e, &so), RF_EINVAL);
  so.version = RF_STATIC_RESOLVER_OPTIONS_VERSION;
  cr_assert_eq(rf_engine_add_static_resolver(e, &so), 0);
  rf_engine_free(e);
}

/* ------------------------------------------------------------ explain */

typedef struct explained {
  int calls;
  int error;
  char chosen[1024];
  size_t nsteps;
  char step0[512];
  rf_resolve_status st0;
  size_t ncand;
  char cand[4][128];
  unsigned bad[4];
  int from_cache;
} explained;

static void on_explained(const rf_route_info *in, void *ud)
{
  explained *x = ud;
  size_t i;

  x->calls++;
  x->error = in->error;
  snprintf(x->chosen, sizeof(x->chosen), "%s", in->chosen_by);
  x->nsteps = in->nsteps;
  if (in->nsteps > 0) {
    snprintf(x->step0, sizeof(x->step0), "%s", in->steps[0].detail);
    x->st0 = in->steps[0].status;
  }
  x->ncand = in->ncandidates;
  x->from_cache = in->from_cache;
  for (i = 0; i < in->ncandidates && i < 4; i++) {
    rf_proxy_format(x->cand[i], sizeof(x->cand[i]), &in->candidates[i]);
    cr_assert_null(in->candidates[i].password);
    x->bad[i] = in->bad_for_s[i];
  }
}

static explained explain(rf_engine *e, const char *url)
{
  explained x;

  memset(&x, 0, sizeof(x));
  cr_assert_eq(rf_engine_explain(e, url, on_explained, &x), 0);
  cr_assert_eq(x.calls, 0, "explained from inside the call");
  rf_engine_run(e);
  cr_assert_eq(x.calls, 1);
  return x;
}

Test(proxy, explain_reports_steps_candidates_and_bad_marks)
{
  rf_engine *e = logbuf_engine(NULL);
  fixed f;
  outcome o;
  explained x;
  char want[64];

  fixed_init(&f, e);
  fixed_add(&f, RF_PROXY_HTTP, dead_port);
  fixed_add(&f, RF_PROXY_DIRECT, 0);
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &f), 0);
  x = explain(e, "http://127.0.0.1:1/some/path?token=secret");
  cr_assert_eq(x.error, 0);
  cr_assert_eq(x.nsteps, 1);
  cr_assert_eq(x.st0, RF_RESOLVE_OK);
  cr_assert_eq(x.ncand, 2);
  snprintf(want, sizeof(want), "http://127.0.0.1:%u", dead_port);
  cr_assert_str_eq(x.cand[0], want);
  cr_assert_eq(x.bad[0], 0);
  /* A job finds it dead; the next explanation lists it last, marked. */
  memset(&o, 0, sizeof(o));
  add_job(e, 100000, 10, "mark", &o, NULL);
  rf_engine_run(e);
  cr_assert_eq(o.error, 0, "%s", o.message);
  x = explain(e, "http://127.0.0.1:1/");
  cr_assert(x.from_cache);
  cr_assert_str_eq(x.cand[0], "DIRECT");
  cr_assert_str_eq(x.cand[1], want);
  cr_assert(x.bad[1] > 290 && x.bad[1] <= 300, "bad for %u s", x.bad[1]);
  rf_engine_set_proxy_bad_time(e, 60);
  fixed_close(&f);
  rf_engine_free(e);
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_explain(e, "ftp://x/", on_explained, &x), RF_EURL);
  rf_engine_free(e);
}

/* ---------------------------------------------------------------- PAC */

Test(proxy, pac_data_url_fails_over_and_evaluates_once_per_host)
{
  logbuf *lb = calloc(1, sizeof(*lb));
  rf_engine *e = logbuf_engine(lb);
  outcome o1, o2;
  char pac[512];

  snprintf(pac, sizeof(pac),
           "data:,function FindProxyForURL(url, host) {"
           " if (url.indexOf('?') >= 0 || url.indexOf('gen') >= 0)"
           "   return 'PROXY leaked:1';"
           " return 'PROXY 127.0.0.1:%u; DIRECT'; }",
           dead_port);
  cr_assert_eq(rf_engine_add_pac_resolver(e, pac, NULL), 0);
  memset(&o1, 0, sizeof(o1));
  memset(&o2, 0, sizeof(o2));
  /* 4 MiB in 64 KiB pieces: 64 piece requests and more, one evaluation. */
  add_job(e, 4u << 20, 11, "pac1", &o1, NULL);
  add_job(e, 1u << 20, 12, "pac2", &o2, NULL);
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_eq(o1.error, 0, "%s", o1.message);
  cr_assert_eq(o2.error, 0, "%s", o2.message);
  cr_assert(strstr(o1.route, "direct") != NULL, "%s", o1.route);
  cr_assert(strstr(o1.route, "PROXY 127.0.0.1") != NULL, "%s", o1.route);
  cr_assert_eq(count_of(lb->text, "[pac] FindProxyForURL("), 1,
               "FindProxyForURL ran more than once:\n%s", lb->text);
  expect_file("pac1", 4u << 20, 11);
  expect_file("pac2", 1u << 20, 12);
  free(lb);
}

Test(proxy, pac_without_direct_and_dead_proxies_fails_closed)
{
  rf_engine *e = logbuf_engine(NULL);
  outcome o;
  char pac[512];
  uint64_t before = ts_requests(srv);

  snprintf(pac, sizeof(pac),
           "data:,function FindProxyForURL(u,h){return 'PROXY 127.0.0.1:%u; "
           "SOCKS5 127.0.0.1:%u';}",
           dead_port, closed_port());
  cr_assert_eq(rf_engine_add_pac_resolver(e, pac, NULL), 0);
  memset(&o, 0, sizeof(o));
  add_job(e, 100000, 13, "pacclosed", &o, NULL);
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_eq(o.error, RF_EPROXY, "%s", o.message);
  cr_assert(strstr(o.message, "no DIRECT") != NULL, "%s", o.message);
  cr_assert_eq(ts_requests(srv), before);
}

Test(proxy, pac_errors_fall_through_unless_mandatory)
{
  rf_engine *e = logbuf_engine(NULL);
  explained x;
  char path[600];
  rf_pac_options po;

  snprintf(path, sizeof(path), "%s/bad.pac", dir);
  tf_write(path, "function FindProxyForURL(url, host) {\n"
                   "  let x = 1;\n  return 'DIRECT';\n}\n");
  cr_assert_eq(rf_engine_add_pac_resolver(e, path, NULL), 0);
  x = explain(e, "http://example.test/");
  cr_assert_eq(x.error, 0);
  cr_assert_eq(x.st0, RF_RESOLVE_ERROR);
  cr_assert(strstr(x.step0, "line 2") != NULL, "%s", x.step0);
  cr_assert(strstr(x.chosen, "default") != NULL, "%s", x.chosen);
  rf_engine_free(e);

  e = logbuf_engine(NULL);
  rf_pac_options_init(&po);
  po.mandatory = 1;
  snprintf(path, sizeof(path), "%s/missing.pac", dir);
  cr_assert_eq(rf_engine_add_pac_resolver(e, path, &po), 0);
  x = explain(e, "http://example.test/");
  cr_assert_eq(x.error, RF_EPROXY);
  cr_assert_eq(x.st0, RF_RESOLVE_ERROR_MANDATORY);
  cr_assert(strstr(x.chosen, "missing.pac") != NULL, "%s", x.chosen);
  rf_engine_free(e);
}

Test(proxy, pac_over_http_with_fetch_limits)
{
  rf_engine *e;
  explained x;
  char path[600], *url;
  FILE *f;
  size_t i;

  snprintf(path, sizeof(path), "%s/ok.pac", ts_root(srv));
  tf_write(path, "function FindProxyForURL(url, host) {\n"
                   "  if (shExpMatch(host, '*.corp.test'))\n"
                   "    return 'PROXY proxy.corp.test:3128';\n"
                   "  return 'DIRECT';\n}\n");
  url = ts_url(srv, "/ok.pac");
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_pac_resolver(e, url, NULL), 0);
  x = explain(e, "https://files.corp.test/big.iso");
  cr_assert_eq(x.error, 0, "%s", x.chosen);
  cr_assert_eq(x.ncand, 1);
  cr_assert_str_eq(x.cand[0], "http://proxy.corp.test:3128");
  cr_assert(strstr(x.chosen, "/ok.pac") != NULL, "%s", x.chosen);
  x = explain(e, "http://other.test/");
  cr_assert_str_eq(x.cand[0], "DIRECT");
  rf_engine_free(e);
  free(url);

  /* 404 */
  url = ts_url(srv, "/nothing.pac");
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_pac_resolver(e, url, NULL), 0);
  x = explain(e, "http://other.test/");
  cr_assert_eq(x.st0, RF_RESOLVE_ERROR);
  cr_assert(strstr(x.step0, "HTTP 404") != NULL, "%s", x.step0);
  rf_engine_free(e);
  free(url);

  /* Over 1 MiB */
  snprintf(path, sizeof(path), "%s/huge.pac", ts_root(srv));
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("function FindProxyForURL(u, h) { return 'DIRECT'; }\n", f);
  for (i = 0; i < (1u << 20) / 32; i++)
    fputs("// padding padding padding padding padding padding padding pad\n",
          f);
  fclose(f);
  url = ts_url(srv, "/huge.pac");
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_pac_resolver(e, url, NULL), 0);
  x = explain(e, "http://other.test/");
  cr_assert_eq(x.st0, RF_RESOLVE_ERROR);
  cr_assert(strstr(x.step0, "larger than") != NULL, "%s", x.step0);
  rf_engine_free(e);
  free(url);

  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_pac_resolver(e, "gopher://x/p.pac", NULL),
               RF_EURL);
  cr_assert_eq(rf_engine_add_pac_resolver(e, "", NULL), RF_EINVAL);
  rf_engine_free(e);
}

/* ----------------------------------------------------------- credentials */

static unsigned creds_calls;

static int creds_cb(char *user, size_t us, char *pass, size_t ps,
                    const rf_proxy *p, void *ud)
{
  (void)ud;
  cr_assert_null(p->password);
  cr_assert_str_eq(p->host, "127.0.0.1");
  creds_calls++;
  snprintf(user, us, "carol");
  snprintf(pass, ps, "s3cret");
  return 1;
}

Test(proxy, credentials_callback_is_asked_and_secrets_stay_out)
{
  logbuf *lb = calloc(1, sizeof(*lb));
  rf_engine *e = logbuf_engine(lb);
  fixed f;
  outcome o;

  fixed_init(&f, e);
  fixed_add(&f, RF_PROXY_HTTP, dead_port);
  fixed_add(&f, RF_PROXY_SOCKS5, closed_port());
  cr_assert_eq(rf_engine_add_resolver(e, &fixed_ops, &f), 0);
  rf_engine_set_proxy_credentials(e, creds_cb, NULL);
  memset(&o, 0, sizeof(o));
  add_job(e, 100000, 14, "creds", &o, NULL);
  rf_engine_run(e);
  fixed_close(&f);
  rf_engine_free(e);
  cr_assert_eq(creds_calls, 2);
  cr_assert_eq(o.error, RF_EPROXY);
  cr_assert_null(strstr(o.message, "s3cret"));
  cr_assert_null(strstr(lb->text, "s3cret"), "%s", lb->text);
  free(lb);
}

/* ------------------------------------------------- env, policy, WPAD */

Test(proxy, env_resolver_follows_curl_rules)
{
  rf_engine *e = logbuf_engine(NULL);
  explained x;
  char dead[64];

  snprintf(dead, sizeof(dead), "127.0.0.1:%u", dead_port);
  setenv("http_proxy", dead, 1);
  setenv("HTTP_PROXY", "http://httpoxy.invalid:1", 1); /* never read */
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  cr_assert_eq(rf_engine_add_env_resolver(e), 0);
  x = explain(e, "http://files.example.test/a");
  cr_assert_eq(x.ncand, 1);
  snprintf(dead, sizeof(dead), "http://127.0.0.1:%u", dead_port);
  cr_assert_str_eq(x.cand[0], dead);
  cr_assert(strstr(x.chosen, "env: http_proxy") != NULL, "%s", x.chosen);
  /* https URLs: no https_proxy, no all_proxy: no opinion, direct. */
  x = explain(e, "https://files.example.test/a");
  cr_assert_str_eq(x.cand[0], "DIRECT");
  cr_assert_eq(x.st0, RF_RESOLVE_PASS);
  rf_engine_free(e);

  setenv("no_proxy", ".example.test", 1);
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_env_resolver(e), 0);
  x = explain(e, "http://files.example.test/a");
  cr_assert_str_eq(x.cand[0], "DIRECT");
  cr_assert(strstr(x.chosen, "no_proxy") != NULL, "%s", x.chosen);
  rf_engine_free(e);
}

static void write_conf(const char *d, const char *name, const char *text)
{
  char path[700];

  snprintf(path, sizeof(path), "%s/%s", d, name);
  tf_write(path, text);
}

/* The seed's precedence through the engine: the same three files give
 * the user-scope proxy to an interactive user and the static one to a
 * service, and the explanation names the scope and its file. */
Test(proxy, policy_files_decide_by_context)
{
  char sys[600], usr[600];
  rf_engine *e;
  explained x;

  snprintf(sys, sizeof(sys), "%s/etc", dir);
  snprintf(usr, sizeof(usr), "%s/home", dir);
  cr_assert_eq(mkdir(sys, 0755), 0);
  cr_assert_eq(mkdir(usr, 0755), 0);
  write_conf(usr, "proxy.conf", "proxy = http://user.example:3128\n");
  write_conf(sys, "proxy.conf", "proxy = http://device.example:3128\n");
  write_conf(sys, "static.conf", "proxy = http://static.example:8080\n");

  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_policy_resolver(e, sys, usr), 0);
  x = explain(e, "http://origin.test/");
  cr_assert_str_eq(x.cand[0], "http://user.example:3128");
  cr_assert(strstr(x.chosen, "user scope") != NULL, "%s", x.chosen);
  cr_assert(strstr(x.step0, "user") != NULL, "%s", x.step0);
  rf_engine_free(e);

  e = logbuf_engine(NULL);
  rf_engine_set_context(e, RF_CONTEXT_SERVICE);
  cr_assert_eq(rf_engine_add_policy_resolver(e, sys, usr), 0);
  x = explain(e, "http://origin.test/");
  cr_assert_str_eq(x.cand[0], "http://static.example:8080");
  cr_assert(strstr(x.chosen, "static scope") != NULL, "%s", x.chosen);
  cr_assert(strstr(x.chosen, "static.conf") != NULL, "%s", x.chosen);
  rf_engine_free(e);

  /* A broken file is an error naming its line, never skipped. */
  write_conf(sys, "static.conf", "proxy = http://static.example:8080\nprxy = 1\n");
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_policy_resolver(e, sys, usr), RF_EINVAL);
  cr_assert(strstr(rf_engine_last_error(e), "static.conf:2") != NULL, "%s",
            rf_engine_last_error(e));
  rf_engine_free(e);

  /* A scope's PAC: evaluated, and labelled with the scope. */
  write_conf(sys, "static.conf", "proxy = direct\n");
  write_conf(usr, "proxy.conf",
             "pac = data:,function FindProxyForURL(u,h){return "
             "'PROXY pac.example:8000';}\n");
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_policy_resolver(e, sys, usr), 0);
  x = explain(e, "http://origin.test/");
  cr_assert_str_eq(x.cand[0], "http://pac.example:8000");
  cr_assert(strstr(x.chosen, "policy-pac: user scope") != NULL, "%s",
            x.chosen);
  rf_engine_free(e);
}

Test(proxy, wpad_finds_the_pac_url_and_uses_it)
{
  char urlfile[600], pacpath[600];
  char *pacurl;
  rf_engine *e;
  explained x;

  snprintf(pacpath, sizeof(pacpath), "%s/wpad.dat", ts_root(srv));
  tf_write(pacpath, "function FindProxyForURL(url, host) {\n"
                      "  return 'PROXY wpad-proxy.example:3128; DIRECT';\n}\n");
  pacurl = ts_url(srv, "/wpad.dat");
  snprintf(urlfile, sizeof(urlfile), "%s/option252", dir);
  tf_write(urlfile, pacurl);
  setenv("RANGEFETCH_WPAD_URL_FILE", urlfile, 1);
  e = logbuf_engine(NULL);
  cr_assert_eq(rf_engine_add_wpad_resolver(e, NULL), 0);
  x = explain(e, "http://origin.test/");
  cr_assert_eq(x.error, 0, "%s", x.chosen);
  cr_assert_eq(x.ncand, 2, "%s / %s", x.chosen, x.step0);
  cr_assert_str_eq(x.cand[0], "http://wpad-proxy.example:3128");
  cr_assert(strstr(x.chosen, "found by WPAD (DHCP option 252") != NULL, "%s",
            x.chosen);
  rf_engine_free(e);
  free(pacurl);
}

/* `rangefetch bench` against a server without ranges and a dead proxy:
 * what could be measured is reported, and the proxy's failure said. */
Test(proxy, cli_bench_reports_what_it_could_measure)
{
  const char *bin = getenv("RF_TEST_BIN");
  char cmd[2000], out[600], text[8192];
  char *url = ts_url(srv, "/gen/3000000?seed=3&norange=1");
  int rc;

  cr_assert_not_null(bin, "RF_TEST_BIN not set");
  snprintf(out, sizeof(out), "%s/bench.txt", dir);
  snprintf(cmd, sizeof(cmd),
           "'%s' bench --no-proxy-config --proxy http://127.0.0.1:%u "
           "--rounds 1 '%s' > '%s' 2>&1",
           bin, dead_port, url, out);
  rc = system(cmd);
  cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 3, "exit %d", rc);
  tf_read(out, text, sizeof(text));
  cr_assert(strstr(text, "single stream: no ranges") != NULL, "%s", text);
  cr_assert(strstr(text, "proxy   failed: ") != NULL, "%s", text);
  cr_assert(strstr(text, "cannot connect to the proxy") != NULL, "%s", text);
  free(url);
}

/* The script runs on a worker thread: the loop keeps turning while a slow
 * FindProxyForURL (400 ms of busy work) runs.  On the loop, the script
 * would leave a gap of 400 ms between two ticks of a 5 ms timer; the
 * bound below leaves room for a loaded machine (ctest -j2). */
static uint64_t last_tick_ns, max_gap_ns;

static void on_tick(uv_timer_t *t)
{
  uint64_t now = uv_hrtime();

  (void)t;
  if (now - last_tick_ns > max_gap_ns)
    max_gap_ns = now - last_tick_ns;
  last_tick_ns = now;
}

Test(proxy, pac_evaluation_never_blocks_the_loop)
{
  rf_engine *e = logbuf_engine(NULL);
  uv_timer_t timer;
  explained x;
  rf_pac_options po;
  uint64_t t0;
  const char *pac =
      "data:,function FindProxyForURL(u, h) {"
      " var t = Date.now(); while (Date.now() - t < 400) {}"
      " return 'DIRECT'; }";

  rf_pac_options_init(&po);
  po.deadline_ms = 5000;
  cr_assert_eq(rf_engine_add_pac_resolver(e, pac, &po), 0);
  uv_timer_init(rf_engine_loop(e), &timer);
  uv_timer_start(&timer, on_tick, 5, 5);
  uv_unref((uv_handle_t *)&timer);
  memset(&x, 0, sizeof(x));
  cr_assert_eq(rf_engine_explain(e, "http://slow.test/", on_explained, &x), 0);
  t0 = last_tick_ns = uv_hrtime();
  max_gap_ns = 0;
  rf_engine_run(e);
  on_tick(&timer); /* the gap up to the end counts too */
  cr_assert_eq(x.calls, 1);
  cr_assert_str_eq(x.cand[0], "DIRECT");
  cr_assert(uv_hrtime() - t0 >= 400u * 1000000u, "the script did not run");
  cr_assert(max_gap_ns < 200u * 1000000u,
            "the loop stood still for %.0f ms during the evaluation",
            (double)max_gap_ns / 1e6);
  uv_close((uv_handle_t *)&timer, NULL);
  rf_engine_free(e);
}

/* ------------------------------------- failover and 407 rules, no server */

#include "proxy/candidate.h"
#include "proxy/chain.h"

Test(proxy, route_fail_moves_on_once_and_says_when_exhausted)
{
  rf_proxy c[2];
  rf__route r;
  char msg[600] = "";

  memset(c, 0, sizeof(c));
  memset(&r, 0, sizeof(r));
  c[0].type = RF_PROXY_HTTP;
  c[0].host = "a";
  c[1].type = RF_PROXY_SOCKS5;
  c[1].host = "b";
  r.cands = c;
  r.n = 2;
  snprintf(r.chosen_by, sizeof(r.chosen_by), "pac: http://wpad/wpad.dat");
  cr_assert_eq(rf__route_fail(&r, 0, "a: refused", msg, sizeof(msg)),
               RF__ROUTE_NEXT);
  cr_assert_eq(r.cur, 1);
  /* A second request on the dead candidate reports late: no second move. */
  cr_assert_eq(rf__route_fail(&r, 0, "a: refused", msg, sizeof(msg)),
               RF__ROUTE_SAME);
  cr_assert_eq(r.cur, 1);
  cr_assert_str_empty(msg);
  cr_assert_eq(rf__route_fail(&r, 1, "b: timeout", msg, sizeof(msg)),
               RF__ROUTE_EXHAUSTED);
  cr_assert_eq(r.cur, 1, "an exhausted route stays on its last candidate");
  cr_assert(strstr(msg, "a: refused; b: timeout") != NULL, "%s", msg);
  cr_assert(strstr(msg, "chosen by pac: http://wpad/wpad.dat") != NULL, "%s",
            msg);
  cr_assert(strstr(msg, "no DIRECT") != NULL, "%s", msg);
  free(r.tried);

  /* With DIRECT among the candidates the message does not say so. */
  memset(&r, 0, sizeof(r));
  c[1].type = RF_PROXY_DIRECT;
  r.cands = c;
  r.n = 2;
  r.cur = 1;
  cr_assert_eq(rf__route_fail(&r, 1, "direct: refused", msg, sizeof(msg)),
               RF__ROUTE_EXHAUSTED);
  cr_assert(strstr(msg, "no DIRECT") == NULL, "%s", msg);
  free(r.tried);
}

Test(proxy, auth_message_says_what_to_do)
{
  rf_proxy p;
  char m[700];

  memset(&p, 0, sizeof(p));
  p.type = RF_PROXY_HTTP;
  p.host = "proxy";
  rf__proxy_auth_message(&p, 0, NULL, RF_PROXY_AUTH_BASIC, "HTTP 407", m,
                         sizeof(m));
  cr_assert(strstr(m, "only Basic") != NULL &&
                strstr(m, "--proxy-auth basic") != NULL,
            "%s", m);
  rf__proxy_auth_message(&p, RF_PROXY_AUTH_ANY, NULL, RF_PROXY_AUTH_BASIC,
                         "HTTP 407", m, sizeof(m));
  cr_assert(strstr(m, "no credentials were given") != NULL, "%s", m);
  rf__proxy_auth_message(&p, 0, NULL, RF_PROXY_AUTH_NEGOTIATE, "HTTP 407", m,
                         sizeof(m));
  cr_assert(strstr(m, "klist") != NULL, "%s", m);
  p.user = "carol";
  p.password = "s3cret";
  rf__proxy_auth_message(&p, 0, NULL, RF_PROXY_AUTH_NTLM, "HTTP 407", m,
                         sizeof(m));
  cr_assert(strstr(m, "refused the credentials of user 'carol'") != NULL,
            "%s", m);
  cr_assert(strstr(m, "s3cret") == NULL, "a password in: %s", m);
  p.auth = RF_PROXY_AUTH_NONE;
  rf__proxy_auth_message(&p, 0, NULL, RF_PROXY_AUTH_NTLM, "HTTP 407", m,
                         sizeof(m));
  cr_assert(strstr(m, "static scope does not authenticate") != NULL, "%s",
            m);
  p.auth = 0;
  p.type = RF_PROXY_SOCKS5;
  p.user = NULL;
  rf__proxy_auth_message(&p, 0, NULL, 0, "SOCKS5: auth failed", m,
                         sizeof(m));
  cr_assert(strstr(m, "--proxy-user USER:PASS") != NULL, "%s", m);
}
