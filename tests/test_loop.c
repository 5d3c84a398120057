/*
 * The libuv <-> curl multi glue on its own: several transfers driven only
 * by socket and timer callbacks, completion reported once each, timeouts
 * (timer-driven completions) reported too, and a clean close.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "rangefetch/rangefetch.h"
#include "support/testserver.h"

static ts_server *srv;

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  srv = ts_start(NULL);
  cr_assert_not_null(srv);
}

static void teardown(void)
{
  ts_stop(srv);
}

TestSuite(loop, .init = setup, .fini = teardown, .timeout = 60);

typedef struct state {
  unsigned done;
  unsigned after;
  unsigned closed;
  CURLcode results[8];
  uint64_t bytes[8];
} state;

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
  uint64_t *count = ud;

  (void)p;
  *count += size * n;
  return size * n;
}

static void on_done(rf__curlm *m, CURL *easy, CURLcode res, void *ud)
{
  state *s = ud;
  long idx = -1;
  char *priv = NULL;

  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
  idx = (long)(intptr_t)priv;
  s->results[idx] = res;
  s->done++;
  rf__curlm_remove(m, easy);
}

static void on_after(rf__curlm *m, void *ud)
{
  state *s = ud;

  (void)m;
  s->after++;
}

static void on_closed(rf__curlm *m, void *ud)
{
  state *s = ud;

  (void)m;
  s->closed++;
}

static void on_keepalive(uv_timer_t *t)
{
  (void)t;
}

/* The multi's handles are unreferenced (they must not keep a caller's loop
 * alive); a referenced timer stands for the engine's job timer. */
static void run_until(uv_loop_t *loop, const unsigned *counter, unsigned n)
{
  uv_timer_t t;
  long i;

  uv_timer_init(loop, &t);
  uv_timer_start(&t, on_keepalive, 1000, 1000);
  for (i = 0; i < 100000 && *counter < n; i++)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static CURL *easy_for(state *s, long idx, const char *path, long timeout_ms)
{
  CURL *e = curl_easy_init();
  char *url = ts_url(srv, path);

  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &s->bytes[idx]);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)(intptr_t)idx);
  if (timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  free(url);
  return e;
}

Test(loop, parallel_transfers_complete_once_each)
{
  uv_loop_t loop;
  rf__curlm m;
  state s;
  CURL *e[4];
  long i;

  memset(&s, 0, sizeof(s));
  uv_loop_init(&loop);
  cr_assert_eq(rf__curlm_init(&m, &loop, on_done, on_after, NULL, &s), 0);
  e[0] = easy_for(&s, 0, "/gen/3000000", 0);
  e[1] = easy_for(&s, 1, "/gen/1", 0);
  e[2] = easy_for(&s, 2, "/gen/0", 0);
  e[3] = easy_for(&s, 3, "/gen/777777?rate=4000000", 0);
  for (i = 0; i < 4; i++)
    cr_assert_eq(rf__curlm_add(&m, e[i]), 0);
  /* Nothing but the loop drives the transfers. */
  run_until(&loop, &s.done, 4);
  cr_assert_eq(s.done, 4);
  cr_assert_eq(s.results[0], CURLE_OK);
  cr_assert_eq(s.bytes[0], 3000000);
  cr_assert_eq(s.bytes[1], 1);
  cr_assert_eq(s.bytes[2], 0);
  cr_assert_eq(s.bytes[3], 777777);
  cr_assert_gt(s.after, 0);
  for (i = 0; i < 4; i++)
    curl_easy_cleanup(e[i]);
  rf__curlm_close(&m, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(s.closed, 1);
  cr_assert_eq(uv_loop_close(&loop), 0, "a uv handle was left open");
}

Test(loop, timeout_is_reported)
{
  uv_loop_t loop;
  rf__curlm m;
  state s;
  CURL *e;

  memset(&s, 0, sizeof(s));
  uv_loop_init(&loop);
  cr_assert_eq(rf__curlm_init(&m, &loop, on_done, NULL, NULL, &s), 0);
  /* The server stalls 5 s; curl's own timer ends it after 300 ms, and the
   * loop must report that completion (no socket event comes). */
  e = easy_for(&s, 0, "/gen/100000?stall=5000", 300);
  cr_assert_eq(rf__curlm_add(&m, e), 0);
  run_until(&loop, &s.done, 1);
  cr_assert_eq(s.done, 1);
  cr_assert_eq(s.results[0], CURLE_OPERATION_TIMEDOUT);
  curl_easy_cleanup(e);
  rf__curlm_close(&m, on_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}
