/*
 * An rf_server in test mode (faults.h) on its own thread: see testserver.h.
 *
 * The thread owns the loop.  ts_start waits (mutex + condition) until the
 * server listens or failed; ts_stop wakes the loop with uv_async_send, the
 * async callback frees the server and closes the async handle, and uv_run
 * returns once every handle is closed.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* nftw, mkdtemp */
#endif
#include "testserver.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "faults.h"
#include "server/server.h"

struct ts_server {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int ready; /* 1: started, -1: failed */
  uv_loop_t loop;
  uv_async_t stop;
  /* Set before uv_async_send(&stop), read by its callback.  libuv orders
   * the two already (atomics on the handle), but libuv is not built with
   * ThreadSanitizer, which cannot see that: when the loop wakes up for
   * other work and finds the stop pending before the sender wrote to the
   * eventfd, TSan saw no order between ts_requests() and the callback.
   * This flag makes the same order visible to it (docs/reliability.md). */
  atomic_int stopping;
  rf_server *srv;
  uint16_t port;
  unsigned idle_ms;
  rf_server_options opts; /* limits, rate and partial for the server */
  int own_root; /* root is a temporary directory of ours */
  int plain;    /* no test mode: the server as `rangefetch serve` runs it */
  char root[4096];
};

/* Print the access log when RF_TS_LOG is set. */
static void ts_log(const char *line, void *user_data)
{
  (void)user_data;
  fprintf(stderr, "[testserver] %s\n", line);
}

static void ts_on_stop(uv_async_t *a)
{
  ts_server *t = a->data;

  (void)atomic_load_explicit(&t->stopping, memory_order_acquire);
  rf_server_free(t->srv);
  t->srv = NULL;
  uv_close((uv_handle_t *)&t->stop, NULL);
}

/* Publish the start result to ts_start. */
static void ts_signal(ts_server *t, int ready)
{
  pthread_mutex_lock(&t->mu);
  t->ready = ready;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

static void *ts_main(void *arg)
{
  ts_server *t = arg;
  rf_server_options o = RF_SERVER_OPTIONS_INIT;
  const char *env = getenv("RF_TS_LOG");
  int rc;

  rc = uv_loop_init(&t->loop);
  if (rc != 0) {
    fprintf(stderr, "testserver: uv_loop_init: %s\n", uv_strerror(rc));
    ts_signal(t, -1);
    return NULL;
  }
  o.loop = &t->loop;
  o.root = t->root;
  o.host = "127.0.0.1";
  o.max_connections = t->opts.max_connections;
  o.max_per_client = t->opts.max_per_client;
  o.rate_limit = t->opts.rate_limit;
  o.partial = t->opts.partial;
  o.head_timeout_ms = t->opts.head_timeout_ms;
  if (env != NULL && env[0] != '\0' && strcmp(env, "0") != 0)
    o.log_cb = ts_log;
  rc = rf_server_new(&t->srv, &o);
  if (rc == 0 && !t->plain)
    rc = faults_install(t->srv) == 0 ? 0 : RF_ENOMEM;
  if (rc == 0)
    rc = uv_async_init(&t->loop, &t->stop, ts_on_stop);
  if (rc != 0) {
    fprintf(stderr, "testserver: cannot start: %d\n", rc);
    rf_server_free(t->srv);
    t->srv = NULL;
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_loop_close(&t->loop);
    ts_signal(t, -1);
    return NULL;
  }
  t->stop.data = t;
  if (t->idle_ms != 0)
    rf__server_set_idle_timeout(t->srv, t->idle_ms);
  t->port = rf_server_port(t->srv);
  ts_signal(t, 1);
  uv_run(&t->loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&t->loop);
  if (rc != 0)
    fprintf(stderr, "testserver: uv_loop_close: %s\n", uv_strerror(rc));
  return NULL;
}

ts_server *ts_start_idle(const char *root, unsigned idle_ms)
{
  rf_server_options o = RF_SERVER_OPTIONS_INIT;

  /* The tests open many connections from 127.0.0.1: no limits of note. */
  o.max_connections = 4096;
  o.max_per_client = 4096;
  return ts_start_with(root, idle_ms, &o);
}

static ts_server *ts_start_impl(const char *root, unsigned idle_ms,
                                const rf_server_options *opts, int plain)
{
  ts_server *t = calloc(1, sizeof(*t));

  if (t == NULL) {
    fprintf(stderr, "testserver: out of memory\n");
    return NULL;
  }
  t->opts = *opts;
  t->plain = plain;
  /* A client hanging up mid-body must not kill the test process. */
  signal(SIGPIPE, SIG_IGN);
  t->idle_ms = idle_ms;
  if (root == NULL) {
    const char *tmp = getenv("TMPDIR");
    snprintf(t->root, sizeof(t->root), "%s/rf-ts-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(t->root) == NULL) {
      fprintf(stderr, "testserver: mkdtemp %s: %s\n", t->root, strerror(errno));
      free(t);
      return NULL;
    }
    t->own_root = 1;
  } else {
    snprintf(t->root, sizeof(t->root), "%s", root);
  }
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  if (pthread_create(&t->thread, NULL, ts_main, t) != 0) {
    fprintf(stderr, "testserver: pthread_create failed\n");
    t->ready = -2;
  } else {
    pthread_mutex_lock(&t->mu);
    while (t->ready == 0)
      pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
  }
  if (t->ready != 1) {
    if (t->ready == -1)
      pthread_join(t->thread, NULL);
    t->ready = 0;
    ts_stop(t);
    return NULL;
  }
  return t;
}

ts_server *ts_start_with(const char *root, unsigned idle_ms,
                         const rf_server_options *opts)
{
  return ts_start_impl(root, idle_ms, opts, 0);
}

ts_server *ts_start_plain(const char *root)
{
  rf_server_options o = RF_SERVER_OPTIONS_INIT;

  o.max_connections = 4096;
  o.max_per_client = 4096;
  return ts_start_impl(root, 0, &o, 1);
}

ts_server *ts_start(const char *root)
{
  return ts_start_idle(root, 0);
}

uint16_t ts_port(const ts_server *t)
{
  return t->port;
}

const char *ts_root(const ts_server *t)
{
  return t->root;
}

char *ts_url(const ts_server *t, const char *path_and_query)
{
  size_t n = strlen(path_and_query) + 32;
  char *url = malloc(n);

  if (url != NULL)
    snprintf(url, n, "http://127.0.0.1:%u%s", (unsigned)t->port,
             path_and_query);
  return url;
}

uint64_t ts_requests(const ts_server *t)
{
  return t->srv != NULL ? rf__server_requests(t->srv) : 0;
}

uint64_t ts_body_bytes(const ts_server *t)
{
  return t->srv != NULL ? rf__server_body_bytes(t->srv) : 0;
}

uint64_t ts_connections(const ts_server *t)
{
  return t->srv != NULL ? rf__server_connections(t->srv) : 0;
}

uint64_t ts_peak_open(const ts_server *t)
{
  return t->srv != NULL ? rf__server_peak_open(t->srv) : 0;
}

/* nftw callback removing one entry (depth first). */
static int ts_rm(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  if (remove(path) != 0)
    fprintf(stderr, "testserver: remove %s: %s\n", path, strerror(errno));
  return 0;
}

void ts_stop(ts_server *t)
{
  if (t == NULL)
    return;
  if (t->ready == 1) {
    atomic_store_explicit(&t->stopping, 1, memory_order_release);
    uv_async_send(&t->stop);
    pthread_join(t->thread, NULL);
  }
  if (t->own_root)
    nftw(t->root, ts_rm, 16, FTW_DEPTH | FTW_PHYS);
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

int ts_file_matches_gen(const char *path, uint64_t size, uint64_t seed)
{
  const size_t bufsz = 1 << 20;
  unsigned char *got = malloc(bufsz);
  unsigned char *want = malloc(bufsz);
  FILE *f = fopen(path, "rb");
  uint64_t off = 0;
  int same = 0;

  if (got == NULL || want == NULL || f == NULL)
    goto out;
  while (off < size) {
    size_t n = size - off < bufsz ? (size_t)(size - off) : bufsz;
    if (fread(got, 1, n, f) != n)
      goto out;
    faults_gen_fill(want, off, n, seed);
    if (memcmp(got, want, n) != 0)
      goto out;
    off += n;
  }
  same = fgetc(f) == EOF;

out:
  if (f != NULL)
    fclose(f);
  free(got);
  free(want);
  return same;
}

int ts_write_gen_file(const char *path, uint64_t size, uint64_t seed)
{
  const size_t bufsz = 1 << 20;
  unsigned char *buf = malloc(bufsz);
  FILE *f = fopen(path, "wb");
  uint64_t off = 0;
  int rc = -1;

  if (buf == NULL || f == NULL)
    goto out;
  while (off < size) {
    size_t n = size - off < bufsz ? (size_t)(size - off) : bufsz;
    faults_gen_fill(buf, off, n, seed);
    if (fwrite(buf, 1, n, f) != n)
      goto out;
    off += n;
  }
  rc = 0;

out:
  if (f != NULL && fclose(f) != 0)
    rc = -1;
  free(buf);
  return rc;
}
