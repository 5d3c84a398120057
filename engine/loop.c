/* libuv <-> libcurl multi glue (see loop.h). */
#include "loop.h"

#include <stdlib.h>

#include "rangefetch/rangefetch.h"

typedef struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  rf__curlm *m;
} sock_ctx;

static void maybe_closed(rf__curlm *m)
{
  if (m->closing && m->open_handles == 0 && m->closed_cb != NULL)
    m->closed_cb(m, m->user_data);
}

static void drain(rf__curlm *m)
{
  CURLMsg *msg;
  int pending;

  while ((msg = curl_multi_info_read(m->multi, &pending)) != NULL) {
    if (msg->msg == CURLMSG_DONE) {
      CURL *easy = msg->easy_handle;
      CURLcode res = msg->data.result;
      /* msg is invalid once the handle is removed: copy first. */
      m->done_cb(m, easy, res, m->user_data);
    }
  }
  if (m->after_cb != NULL)
    m->after_cb(m, m->user_data);
}

static void action(rf__curlm *m, curl_socket_t fd, int flags)
{
  int running = 0;
  CURLMcode rc;

  m->in_action = 1;
  rc = curl_multi_socket_action(m->multi, fd, flags, &running);
  m->in_action = 0;
  /* An error here (out of memory in libcurl's socket bookkeeping) leaves
   * a socket nobody watches and the timer not re-armed; so does a socket
   * socket_cb could not watch: the transfers would wait forever. */
  if ((rc != CURLM_OK || m->lost) && m->lost_cb != NULL)
    m->lost_cb(m, m->user_data);
  m->lost = 0;
  drain(m);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
  sock_ctx *ctx = poll->data;
  int flags = 0;

  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  action(ctx->m, ctx->fd, flags);
}

static void on_timer(uv_timer_t *timer)
{
  rf__curlm *m = timer->data;

  action(m, CURL_SOCKET_TIMEOUT, 0);
}

static void on_poll_closed(uv_handle_t *h)
{
  sock_ctx *ctx = h->data;
  rf__curlm *m = ctx->m;

  free(ctx);
  m->open_handles--;
  maybe_closed(m);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp)
{
  rf__curlm *m = userp;
  sock_ctx *ctx = socketp;
  int events = 0;

  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (ctx != NULL) {
      /* Stop and close now: curl may close the fd right after this, and
       * may hand us the same fd number again for another socket. */
      uv_poll_stop(&ctx->poll);
      uv_close((uv_handle_t *)&ctx->poll, on_poll_closed);
      curl_multi_assign(m->multi, fd, NULL);
    }
    return 0;
  }
  if (ctx == NULL) {
    /* Not -1 on failure: libcurl would then fail every transfer yet keep
     * this one on the socket's list, to be used after it is freed.  The
     * owner ends the transfers after the action (lost_cb). */
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
      m->lost = 1;
      return 0;
    }
    ctx->fd = fd;
    ctx->m = m;
    if (uv_poll_init_socket(m->loop, &ctx->poll, fd) != 0) {
      free(ctx);
      m->lost = 1;
      return 0;
    }
    ctx->poll.data = ctx;
    uv_unref((uv_handle_t *)&ctx->poll);
    m->open_handles++;
    curl_multi_assign(m->multi, fd, ctx);
  }
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    events |= UV_WRITABLE;
  uv_poll_start(&ctx->poll, events, on_poll);
  return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
  rf__curlm *m = userp;

  (void)multi;
  if (timeout_ms < 0)
    uv_timer_stop(&m->timer);
  else /* 0 fires on the next loop iteration, never from inside curl */
    uv_timer_start(&m->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

int rf__curlm_init(rf__curlm *m, uv_loop_t *loop, rf__curlm_done_cb done_cb,
                   rf__curlm_after_cb after_cb, rf__curlm_lost_cb lost_cb,
                   void *user_data)
{
  m->loop = loop;
  m->done_cb = done_cb;
  m->after_cb = after_cb;
  m->lost_cb = lost_cb;
  m->lost = 0;
  m->closed_cb = NULL;
  m->user_data = user_data;
  m->open_handles = 0;
  m->closing = 0;
  m->in_action = 0;
  m->multi = curl_multi_init();
  if (m->multi == NULL)
    return RF_ENOMEM;
  if (uv_timer_init(loop, &m->timer) != 0) {
    curl_multi_cleanup(m->multi);
    m->multi = NULL;
    return RF_EIO;
  }
  m->timer.data = m;
  uv_unref((uv_handle_t *)&m->timer);
  m->open_handles++;
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
  /* Parallel ranges want one TCP connection each (docs/design.md §5.3). */
  curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
  curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS,
                    (long)(4 * RF_MAX_CONNECTIONS));
  return 0;
}

void rf__curlm_limit(rf__curlm *m, unsigned max_connections)
{
  /* Connections beyond the budget wait in libcurl's queue; idle ones
   * beyond it are closed rather than kept. */
  curl_multi_setopt(m->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    (long)max_connections);
  curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)max_connections);
}

int rf__curlm_add(rf__curlm *m, CURL *easy)
{
  CURLMcode rc = curl_multi_add_handle(m->multi, easy);

  if (rc == CURLM_OUT_OF_MEMORY)
    return RF_ENOMEM;
  return rc == CURLM_OK ? 0 : RF_EINTERNAL;
}

void rf__curlm_remove(rf__curlm *m, CURL *easy)
{
  curl_multi_remove_handle(m->multi, easy);
}

static void on_timer_closed(uv_handle_t *h)
{
  rf__curlm *m = h->data;

  m->open_handles--;
  maybe_closed(m);
}

void rf__curlm_close(rf__curlm *m, rf__curlm_closed_cb closed_cb)
{
  m->closing = 1;
  m->closed_cb = closed_cb;
  /* May call socket_cb with REMOVE for pooled connections. */
  curl_multi_cleanup(m->multi);
  m->multi = NULL;
  uv_timer_stop(&m->timer);
  uv_close((uv_handle_t *)&m->timer, on_timer_closed);
}
