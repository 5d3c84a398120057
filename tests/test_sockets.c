/*
 * engine/sockets.c: the engine's list of the sockets libcurl opened, and
 * the lookup of the socket a running transfer uses (SO_RCVLOWAT is set on
 * it).  A wrong answer would raise another connection's low-water mark,
 * so the lookup is checked against libcurl's own view, on fresh and on
 * reused connections, while transfers run.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "job.h"
#include "rangefetch/rangefetch.h"
#include "support/testserver.h"

static ts_server *srv;

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  srv = ts_start(NULL);
  cr_assert_not_null(srv, "test server did not start");
}

static void teardown(void)
{
  ts_stop(srv);
}

TestSuite(sockets, .init = setup, .fini = teardown, .timeout = 120);

typedef struct seen {
  unsigned lookups, wrong, unsure;
  int done, error;
  char message[512];
} seen;

static long local_port_of(curl_socket_t fd)
{
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);

  if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
    return -1;
  return ntohs(sa.sin_port);
}

/* For every connection that is receiving: the socket found must be the one
 * libcurl reports (same local port), and no two connections share one. */
static void on_progress(rf_job *job, const rf_progress *p, void *ud)
{
  seen *s = ud;
  curl_socket_t fds[8];
  uint32_t k, n = 0, i;

  (void)p;
  for (k = 0; k < job->nconns && k < 8; k++) {
    rf__conn *c = &job->conns[k];
    long port = -1;
    curl_socket_t fd;
    if (c->state != RF__CONN_BUSY || !c->accepted)
      continue;
    fd = rf__engine_conn_socket(job->engine, c->easy);
    curl_easy_getinfo(c->easy, CURLINFO_LOCAL_PORT, &port);
    s->lookups++;
    if (fd == CURL_SOCKET_BAD) {
      s->unsure++;
      continue;
    }
    if (local_port_of(fd) != port)
      s->wrong++;
    for (i = 0; i < n; i++)
      if (fds[i] == fd)
        s->wrong++;
    fds[n++] = fd;
  }
}

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  seen *s = ud;

  (void)job;
  s->done++;
  s->error = r->error;
  snprintf(s->message, sizeof(s->message), "%s", r->message);
}

static void run(rf_engine *e, const char *path, const char *out, seen *s)
{
  rf_job_options o;
  char *url = ts_url(srv, path);

  memset(s, 0, sizeof(*s));
  rf_job_options_init(&o);
  o.url = url;
  o.output = out;
  o.overwrite = 1;
  o.connections = 3;
  o.piece_size = 256 * 1024;
  o.on_progress = on_progress;
  o.on_done = on_done;
  o.user_data = s;
  o.progress_interval_ms = 10;
  cr_assert_eq(rf_job_add(NULL, e, &o), 0);
  cr_assert_eq(rf_engine_run(e), 0);
  cr_assert_eq(s->done, 1);
  cr_assert_eq(s->error, 0, "%s", s->message);
  free(url);
}

Test(sockets, lookup_names_each_running_transfers_socket)
{
  rf_engine *e = NULL;
  seen a, b;
  char out[] = "/tmp/rf-sockets-XXXXXX";
  int fd = mkstemp(out);
  size_t i;

  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  /* Rate-capped, so that the three connections run side by side for a
   * while; the second job runs on the first one's pooled connections. */
  run(e, "/gen/3000000?seed=3&rate=3000000", out, &a);
  cr_assert_gt(a.lookups, 20, "only %u lookups", a.lookups);
  cr_assert_eq(a.wrong, 0, "%u of %u lookups named another socket",
               a.wrong, a.lookups);
  cr_assert_eq(a.unsure, 0, "%u of %u lookups found nothing", a.unsure,
               a.lookups);
  run(e, "/gen/3000000?seed=4&rate=3000000", out, &b);
  cr_assert_gt(b.lookups, 20);
  cr_assert_eq(b.wrong + b.unsure, 0, "reused connections: %u wrong, %u "
               "not found of %u", b.wrong, b.unsure, b.lookups);
  /* The list holds open sockets only: the ones libcurl closed left it. */
  cr_assert_leq(e->nsocks, 4 * RF_MAX_CONNECTIONS);
  for (i = 0; i < e->nsocks; i++) {
    int type = 0;
    socklen_t len = sizeof(type);
    cr_assert_eq(getsockopt(e->socks[i], SOL_SOCKET, SO_TYPE, &type, &len),
                 0, "socket %d in the list is closed", (int)e->socks[i]);
  }
  rf_engine_free(e);
  unlink(out);
}
