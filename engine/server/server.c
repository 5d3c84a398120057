/*
 * The range server: HTTP/1.1 on libuv, serving the files under one
 * directory with single-range support.  This file holds the listener, the
 * life of a connection and the public API; server/respond.c answers one
 * request, server/http.c reads requests and evaluates ranges.
 *
 * Shape
 *   One uv_tcp_t listener; one srv_conn per accepted connection.  A
 *   connection reads until it holds a complete request head, stops reading,
 *   answers, then goes back to the bytes it already holds (pipelining) or
 *   to reading.  Files are resolved, opened, stat'ed and read with uv_fs_*
 *   requests on the thread pool, never on the loop thread.  The body goes
 *   out in chunks of SRV_CHUNK bytes with at most SRV_NBUFS writes queued
 *   per connection and at most one read from the file in flight: the next
 *   chunk is produced only once a buffer is free again (back-pressure).
 *
 * Lifetime
 *   A connection owns three handles (tcp, idle timer, wait timer) and at
 *   most one uv_fs_t in flight; conn->refs counts them and the memory goes
 *   when the last one is done.  The server goes when its listener is closed,
 *   every connection is gone and every asynchronous close(2) has finished,
 *   which all happens while the caller runs the loop after rf_server_free.
 *
 * Signals
 *   libuv writes with write(2): a peer that hangs up while a body is being
 *   sent raises SIGPIPE.  The process hosting a server must ignore SIGPIPE
 *   (signal(SIGPIPE, SIG_IGN)), as every libuv program does; the library
 *   does not change signal dispositions itself.
 *
 * Limits
 *   Admitted connections are counted from accept to close or linger, in
 *   total and per peer address (a scan of the list: max_connections is
 *   small).  One over a limit is answered 503 at once, without reading its
 *   request, and lingers like any closing connection; beyond
 *   SRV_REFUSING_MAX of those at a time, the next are closed at once.
 *   The rate limit is a token bucket for the whole server, kept as a
 *   theoretical arrival time (GCRA): a connection short of tokens waits in
 *   a FIFO queue, and one timer, armed for when the head's share is there,
 *   pumps the queue in order.  Nothing spins: every wait is a timer.
 *
 * Downloads in progress: server/partial.h.
 *
 * Hooks (server/hooks.h) let the tests change answers; without them the
 * server is exactly what `rangefetch serve` runs.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/conn.h"
#include "server/partial.h"

#define SRV_IDLE_MS   RF_SERVER_DEFAULT_IDLE_MS
#define SRV_LINGER_MS 2000  /* wait for the peer's FIN after ours */
#define SRV_REFUSING_MAX 64 /* connections answered 503 at a time */
/* Closed connections not yet released: past this many (beyond the limit
 * and the 503s) the server stops accepting until they are.  A client that
 * reconnects as fast as it is refused would otherwise keep libuv's accept
 * loop busy while the closed ones pile up in memory. */
#define SRV_CLOSING_MAX 256
#define SRV_RATE_BURST_NS UINT64_C(50000000) /* the bucket: 50 ms of rate */
#define SRV_RATE_QUANTUM  16384 /* a write worth waiting for */

/* An asynchronous close(2) that outlives its connection. */
typedef struct srv_fsclose {
  uv_fs_t req;
  rf_server *srv;
} srv_fsclose;

/* The hooks of a server nobody hooked into: none. */
static const rf__server_hooks srv_no_hooks;

/* Map a libuv error to an RF_E* code. */
static int map_uv_error(int err)
{
  switch (err) {
  case UV_EADDRINUSE:
    return RF_EBUSY;
  case UV_EACCES:
  case UV_EPERM:
    return RF_EACCES;
  case UV_ENOMEM:
    return RF_ENOMEM;
  case UV_EADDRNOTAVAIL:
  case UV_EINVAL:
  case UV_EAFNOSUPPORT:
    return RF_EINVAL;
  default:
    return RF_EIO;
  }
}

/* -------------------------------------------------------- server & conns */

/* Release the server once nothing refers to it any more. */
static void srv_maybe_free(rf_server *s)
{
  if (!s->closing || s->listener_open || s->rl_timer_open || s->nconns != 0 ||
      s->pending != 0)
    return;
  if (s->hooks->destroy != NULL)
    s->hooks->destroy(s->hooks_ctx);
  rf__srv_partials_free(s->partials);
  free(s->root);
  free(s);
}

static void on_listener_closed(uv_handle_t *h)
{
  rf_server *s = h->data;

  s->listener_open = 0;
  srv_maybe_free(s);
}

static void on_rate_timer_closed(uv_handle_t *h)
{
  rf_server *s = h->data;

  s->rl_timer_open = 0;
  srv_maybe_free(s);
}

/* A line for the log: formatted, control bytes replaced by '?'. */
void rf__srv_log(rf_server *s, const char *fmt, ...)
{
  char line[1200];
  va_list ap;

  if (s->log_cb == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  for (char *p = line; *p != '\0'; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch < 0x20 || ch == 0x7f)
      *p = '?';
  }
  s->log_cb(line, s->user_data);
}

static void on_fsclose_done(uv_fs_t *req)
{
  srv_fsclose *fc = req->data;
  rf_server *s = fc->srv;

  uv_fs_req_cleanup(req);
  free(fc);
  s->pending--;
  srv_maybe_free(s);
}

/* Close the response's file, if open, without blocking the loop. */
void rf__srv_release_file(srv_conn *c)
{
  rf_server *s = c->srv;
  srv_fsclose *fc;
  uv_file fd = c->r.fd;
  uv_fs_t sync_req;

  if (fd < 0 || c->fs_busy)
    return; /* the request in flight closes it when it completes */
  c->r.fd = -1;
  fc = malloc(sizeof(*fc));
  if (fc != NULL) {
    fc->srv = s;
    fc->req.data = fc;
    if (uv_fs_close(s->loop, &fc->req, fd, on_fsclose_done) == 0) {
      s->pending++;
      return;
    }
    free(fc);
  }
  /* No memory for a request: close(2) of a regular file does not block. */
  uv_fs_close(s->loop, &sync_req, fd, NULL);
  uv_fs_req_cleanup(&sync_req);
}

/* Forget the response: frees the target, resets every field. */
void rf__srv_resp_reset(srv_conn *c)
{
  free(c->r.req.target);
  free(c->r.req.head);
  memset(&c->r, 0, sizeof(c->r));
  c->r.fd = -1;
  c->r.x.conn_data = &c->hook_data;
}

static void on_connection(uv_stream_t *listener, int status);

/* Connections the server holds at most: the admitted, the refusing and
 * those being released. */
static size_t conns_bound(const rf_server *s)
{
  return s->max_conns + SRV_REFUSING_MAX + SRV_CLOSING_MAX;
}

void rf__srv_conn_unref(srv_conn *c)
{
  rf_server *s = c->srv;
  size_t i;

  if (--c->refs != 0)
    return;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  s->nconns--;
  if (c->hook_data != NULL && s->hooks->conn_free != NULL)
    s->hooks->conn_free(s->hooks_ctx, c->hook_data);
  for (i = 0; i < SRV_NBUFS; i++)
    free(c->bufs[i].data);
  free(c->r.req.target);
  free(c->r.req.head);
  free(c);
  if (s->accept_paused && !s->closing && s->nconns < conns_bound(s)) {
    /* Room again: take the connection waiting in the listener (uv_accept
     * starts libuv's polling of it again). */
    s->accept_paused = 0;
    on_connection((uv_stream_t *)&s->listener, 0);
  }
  srv_maybe_free(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
  rf__srv_conn_unref(h->data);
}

static void on_sendfile_poll_closed(uv_handle_t *h)
{
  srv_conn *c = h->data;

  close(c->sf_fd); /* the poll is gone: its fd can go */
  c->sf_fd = -1;
  rf__srv_conn_unref(c);
}

int rf__srv_sendfile_open(srv_conn *c)
{
  uv_os_fd_t fd;

  if (c->sf_open)
    return 0;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
    return -1;
  c->sf_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (c->sf_fd < 0)
    return -1;
  if (uv_poll_init(c->srv->loop, &c->sf_poll, c->sf_fd) != 0) {
    close(c->sf_fd);
    c->sf_fd = -1;
    return -1;
  }
  c->sf_poll.data = c;
  c->sf_open = 1;
  c->refs++;
  return 0;
}

/* Deliver the access log line of the current request, once. */
void rf__srv_resp_log(srv_conn *c)
{
  rf_server *s = c->srv;
  srv_resp *r = &c->r;
  char target[1024];
  char line[1200];
  size_t i;
  const char *t = r->req.target != NULL ? r->req.target : "-";

  if (s->log_cb == NULL || r->logged)
    return;
  r->logged = 1;
  for (i = 0; t[i] != '\0' && i < sizeof(target) - 1; i++) {
    unsigned char ch = (unsigned char)t[i];
    target[i] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  target[i] = '\0';
  snprintf(line, sizeof(line), "%s %s %d %" PRIu64,
           r->req.method[0] != '\0' ? r->req.method : "-", target, r->x.status,
           r->sent);
  s->log_cb(line, s->user_data);
}

/* ------------------------------------------------------------- limits */

/* The connection stops counting against the connection limits. */
static void conn_leave_active(srv_conn *c)
{
  if (c->admitted) {
    c->admitted = 0;
    c->srv->nactive--;
  }
}

/* Nanoseconds that n bytes take at the rate (rounded up). */
static uint64_t rate_cost_ns(const rf_server *s, uint64_t n)
{
  return (uint64_t)((double)n * 1e9 / (double)s->rate) + 1;
}

/* Bytes the bucket holds at now. */
static uint64_t rate_tokens(const rf_server *s, uint64_t now)
{
  uint64_t base = s->rl_tat_ns > now ? s->rl_tat_ns : now;

  if (now + s->rl_burst_ns <= base)
    return 0;
  return (uint64_t)((double)(now + s->rl_burst_ns - base) * (double)s->rate /
                    1e9);
}

static void rate_unlink(srv_conn *c)
{
  rf_server *s = c->srv;

  if (!c->rl_queued)
    return;
  if (c->rl_prev != NULL)
    c->rl_prev->rl_next = c->rl_next;
  else
    s->rl_head = c->rl_next;
  if (c->rl_next != NULL)
    c->rl_next->rl_prev = c->rl_prev;
  else
    s->rl_tail = c->rl_prev;
  c->rl_prev = NULL;
  c->rl_next = NULL;
  c->rl_queued = 0;
}

static void on_rate_timer(uv_timer_t *t);

/* Arm the timer for when the queue's head can have its share. */
static void rate_arm(rf_server *s)
{
  uint64_t now;
  uint64_t at;
  uint64_t ms = 0;

  if (s->rl_head == NULL || s->closing ||
      uv_is_active((uv_handle_t *)&s->rl_timer))
    return;
  now = uv_hrtime();
  at = s->rl_tat_ns + rate_cost_ns(s, s->rl_quantum);
  at = at > s->rl_burst_ns ? at - s->rl_burst_ns : 0;
  if (at > now)
    ms = (at - now + 999999) / 1000000;
  uv_timer_start(&s->rl_timer, on_rate_timer, ms != 0 ? ms : 1, 0);
}

/* c waits for tokens behind the others; its idle timer sleeps meanwhile. */
static void rate_enqueue(srv_conn *c)
{
  rf_server *s = c->srv;

  if (c->rl_queued)
    return;
  c->rl_queued = 1;
  c->rl_next = NULL;
  c->rl_prev = s->rl_tail;
  if (s->rl_tail != NULL)
    s->rl_tail->rl_next = c;
  else
    s->rl_head = c;
  s->rl_tail = c;
  uv_timer_stop(&c->idle);
  rate_arm(s);
}

/*
 * Take up to want body bytes from the bucket for c.  Returns how many it
 * may produce now (1..want), or 0 after queueing c: the rate timer pumps
 * it again when its turn and the tokens have come.
 */
uint64_t rf__srv_rate_take(srv_conn *c, uint64_t want)
{
  rf_server *s = c->srv;
  uint64_t now = uv_hrtime();
  uint64_t tokens;
  uint64_t base;

  if (s->rl_head != NULL && s->rl_current != c) {
    rate_enqueue(c); /* the others were first */
    return 0;
  }
  tokens = rate_tokens(s, now);
  if (tokens < (want < s->rl_quantum ? want : s->rl_quantum)) {
    rate_enqueue(c);
    return 0;
  }
  if (want > tokens)
    want = tokens;
  base = s->rl_tat_ns > now ? s->rl_tat_ns : now;
  s->rl_tat_ns = base + rate_cost_ns(s, want);
  return want;
}

/* Serve the waiting connections in order while the tokens last. */
static void on_rate_timer(uv_timer_t *t)
{
  rf_server *s = t->data;
  size_t n = 0;
  srv_conn *c;

  for (c = s->rl_head; c != NULL; c = c->rl_next)
    n++;
  while (n-- > 0 && (c = s->rl_head) != NULL &&
         rate_tokens(s, uv_hrtime()) >= s->rl_quantum) {
    rate_unlink(c);
    s->rl_current = c;
    rf__srv_conn_touch(c);
    rf__srv_pump(c);
    s->rl_current = NULL;
  }
  rate_arm(s);
}

/* Close the connection now; its memory goes with the last close callback. */
void rf__srv_conn_close(srv_conn *c)
{
  if (c->closing)
    return;
  c->closing = 1;
  conn_leave_active(c);
  if (c->refused) {
    c->refused = 0;
    c->srv->nrefusing--;
  }
  rate_unlink(c);
  if (c->responding)
    rf__srv_resp_log(c);
  if (c->sf_open)
    uv_close((uv_handle_t *)&c->sf_poll, on_sendfile_poll_closed);
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->wait, on_conn_handle_closed);
  rf__srv_release_file(c);
}

static void on_idle_timeout(uv_timer_t *t)
{
  srv_conn *c = t->data;

  if (!c->lingering && c->head_t0 != 0)
    rf__srv_log(c->srv,
                "closed a connection that took more than %llu ms to send "
                "its request head",
                (unsigned long long)c->srv->head_ms);
  rf__srv_conn_close(c);
}

/* Restart the idle timer after progress (not while a wait holds us).
 * While a request head is coming in, it also ends at the head's
 * deadline, whatever trickles in before. */
void rf__srv_conn_touch(srv_conn *c)
{
  uint64_t ms = c->lingering ? SRV_LINGER_MS : c->srv->idle_ms;

  if (c->closing || c->r.waiting || c->rl_queued)
    return;
  if (!c->lingering && !c->responding && c->head_t0 != 0) {
    uint64_t now = uv_now(c->srv->loop), end = c->head_t0 + c->srv->head_ms;
    uint64_t left = end > now ? end - now : 1;
    if (left < ms)
      ms = left;
  }
  uv_timer_start(&c->idle, on_idle_timeout, ms, 0);
}

static void on_wait_timer(uv_timer_t *t)
{
  srv_conn *c = t->data;
  srv_resp *r = &c->r;

  r->waiting = 0;
  rf__srv_conn_touch(c);
  if (r->phase == SRV_PH_RESOLVE) {
    r->x.delay_ms = 0;
    rf__srv_send_head(c);
    return;
  }
  rf__srv_pump(c);
}

/* Arm the wait timer for ms; the idle timer sleeps meanwhile. */
void rf__srv_conn_wait(srv_conn *c, uint64_t ms)
{
  c->r.waiting = 1;
  uv_timer_stop(&c->idle);
  uv_timer_start(&c->wait, on_wait_timer, ms, 0);
}

/* ---------------------------------------------------------------- reading */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  srv_conn *c = h->data;

  (void)suggested;
  if (c->lingering)
    c->in_len = 0; /* discarding what the peer still sends */
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(SRV_HEAD_MAX - c->in_len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
  srv_conn *c = st->data;

  (void)buf;
  if (c->closing)
    return;
  if (nread < 0) {
    if (nread == UV_ENOBUFS && !c->lingering) {
      rf__srv_conn_process(c); /* full buffer: answers 431 */
      return;
    }
    rf__srv_conn_close(c);
    return;
  }
  if (nread == 0)
    return;
  rf__srv_conn_touch(c);
  if (c->lingering) {
    c->in_len = 0;
    return;
  }
  c->in_len += (size_t)nread;
  rf__srv_conn_process(c);
}

static void conn_read_start(srv_conn *c)
{
  if (c->reading || c->closing)
    return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    rf__srv_conn_close(c);
    return;
  }
  c->reading = 1;
}

static void conn_read_stop(srv_conn *c)
{
  if (!c->reading)
    return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
  srv_conn *c = req->data;

  if (status < 0)
    rf__srv_conn_close(c);
}

/*
 * Close gracefully: send our FIN, then read and discard until the peer's
 * FIN (or SRV_LINGER_MS), so that unread request bytes never make the
 * kernel answer with a reset that would destroy the response in flight.
 */
void rf__srv_conn_linger(srv_conn *c)
{
  if (c->closing || c->lingering)
    return;
  c->lingering = 1;
  conn_leave_active(c);
  c->in_len = 0;
  c->shut_req.data = c;
  if (uv_shutdown(&c->shut_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    rf__srv_conn_close(c);
    return;
  }
  rf__srv_conn_touch(c);
  conn_read_start(c);
}

/* Parse and start the next request held in c->in, or read more. */
void rf__srv_conn_process(srv_conn *c)
{
  size_t used;

  if (c->closing || c->lingering || c->responding)
    return;
  rf__srv_resp_reset(c);
  used = rf__srv_parse_request(&c->r.req, c->in, c->in_len, SRV_HEAD_MAX);
  if (used == 0) {
    free(c->r.req.target);
    c->r.req.target = NULL;
    if (c->in_len > 0 && c->head_t0 == 0) {
      c->head_t0 = uv_now(c->srv->loop); /* the head's first byte */
      rf__srv_conn_touch(c);
    }
    conn_read_start(c);
    return;
  }
  c->head_t0 = 0;
  conn_read_stop(c);
  if (c->srv->hooks->request != NULL && c->r.req.parse_status == 0)
    c->r.req.head = strndup(c->in, used); /* NULL: the hook sees "" */
  memmove(c->in, c->in + used, c->in_len - used);
  c->in_len -= used;
  c->responding = 1;
  rf__srv_conn_touch(c);
  rf__srv_req_start(c);
}

/* ------------------------------------------------------------- listener */

/* Note c's peer address (family 0 when it cannot be told). */
static void conn_peer(srv_conn *c)
{
  struct sockaddr_storage sa;
  int len = (int)sizeof(sa);

  c->peer_family = 0;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) != 0)
    return;
  if (sa.ss_family == AF_INET) {
    memcpy(c->peer, &((struct sockaddr_in *)&sa)->sin_addr, 4);
    c->peer_family = AF_INET;
  } else if (sa.ss_family == AF_INET6) {
    memcpy(c->peer, &((struct sockaddr_in6 *)&sa)->sin6_addr, 16);
    c->peer_family = AF_INET6;
  }
}

/* Admitted connections from c's peer, c not included. */
static size_t conns_from_peer(const rf_server *s, const srv_conn *c)
{
  size_t n = 0;
  size_t alen = c->peer_family == AF_INET ? 4 : 16;

  for (const srv_conn *o = s->conns; o != NULL; o = o->next) {
    if (o != c && o->admitted && o->peer_family == c->peer_family &&
        memcmp(o->peer, c->peer, alen) == 0)
      n++;
  }
  return n;
}

/*
 * c is over a connection limit (why says which): answer 503 with
 * Retry-After without reading the request, then linger and close.  Past
 * SRV_REFUSING_MAX such answers at a time, close at once.
 */
static void conn_refuse(srv_conn *c, const char *why)
{
  rf_server *s = c->srv;
  char addr[64] = "?";

  if (c->peer_family == AF_INET)
    inet_ntop(AF_INET, c->peer, addr, sizeof(addr));
  else if (c->peer_family == AF_INET6)
    inet_ntop(AF_INET6, c->peer, addr, sizeof(addr));
  if (s->nrefusing >= SRV_REFUSING_MAX) {
    rf__srv_log(s, "connection from %s closed: %s", addr, why);
    rf__srv_conn_close(c);
    return;
  }
  rf__srv_log(s, "connection from %s answered 503: %s", addr, why);
  c->refused = 1;
  s->nrefusing++;
  rf__srv_resp_reset(c);
  c->r.logged = 1; /* the line above says it all */
  c->r.req.mkind = RF__SRV_M_GET;
  c->r.req.keep_alive = 0;
  c->responding = 1;
  rf__srv_conn_touch(c);
  rf__srv_answer_text(c, 503, "Retry-After: 1\r\n");
}

static void on_connection(uv_stream_t *listener, int status)
{
  rf_server *s = listener->data;
  srv_conn *c;

  if (status < 0 || s->closing)
    return;
  if (s->nconns >= conns_bound(s)) {
    /* Not accepted: libuv stops polling the listener until uv_accept
     * (rf__srv_conn_unref, once some are released); the kernel's backlog
     * holds the rest meanwhile. */
    s->accept_paused = 1;
    return;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->srv = s;
  c->r.fd = -1;
  c->sf_fd = -1;
  c->crlf[0] = '\r';
  c->crlf[1] = '\n';
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->idle);
  uv_timer_init(s->loop, &c->wait);
  c->tcp.data = c;
  c->idle.data = c;
  c->wait.data = c;
  c->refs = 3;
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (s->nconns > atomic_load_explicit(&s->peak_open, memory_order_relaxed))
    atomic_store_explicit(&s->peak_open, (uint64_t)s->nconns,
                          memory_order_relaxed);
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    rf__srv_conn_close(c);
    return;
  }
  atomic_fetch_add_explicit(&s->connections, 1, memory_order_relaxed);
  uv_tcp_nodelay(&c->tcp, 1);
  conn_peer(c);
  if (s->nactive >= s->max_conns) {
    char why[80];
    snprintf(why, sizeof(why), "%zu connections open (the limit)",
             s->nactive);
    conn_refuse(c, why);
    return;
  }
  if (c->peer_family != 0 && conns_from_peer(s, c) >= s->max_per_client) {
    char why[80];
    snprintf(why, sizeof(why), "%u connections from it open (the limit)",
             s->max_per_client);
    conn_refuse(c, why);
    return;
  }
  c->admitted = 1;
  s->nactive++;
  rf__srv_conn_touch(c);
  conn_read_start(c);
}

/* ------------------------------------------------------------ public API */

/* The real path of the directory root into *out.  Returns 0 or RF_E*. */
static int srv_root(const char *root, char **out)
{
  struct stat st;
  char *real = realpath(root, NULL);

  if (real == NULL) {
    return errno == EACCES   ? RF_EACCES
           : errno == ENOMEM ? RF_ENOMEM
           : errno == EIO    ? RF_EIO
                             : RF_ENOENT;
  }
  if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    free(real);
    return RF_ENOENT;
  }
  *out = real;
  return 0;
}

/*
 * Bind s's listener to addr and listen.  Returns 0, or an RF_E* code after
 * closing the listener: s is then released when the loop next runs.
 */
static int srv_listen(rf_server *s, const struct sockaddr_storage *addr)
{
  struct sockaddr_storage bound;
  int namelen = (int)sizeof(bound);
  int rc = uv_tcp_init(s->loop, &s->listener);

  if (rc != 0)
    return map_uv_error(rc);
  s->listener.data = s;
  s->listener_open = 1;
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &namelen);
  if (rc != 0) {
    s->closing = 1;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    return map_uv_error(rc);
  }
  if (bound.ss_family == AF_INET6)
    s->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
  else
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

void rf_server_options_init(rf_server_options *opts)
{
  rf_server_options defaults = RF_SERVER_OPTIONS_INIT;

  if (opts != NULL)
    *opts = defaults;
}

int rf_server_new(rf_server **out, const rf_server_options *opts)
{
  rf_server *s = NULL;
  struct sockaddr_storage addr;
  const char *host;
  char *root = NULL;
  int rc;

  if (out == NULL)
    return RF_EINVAL;
  *out = NULL;
  if (opts == NULL || opts->version == 0 ||
      opts->version > RF_SERVER_OPTIONS_VERSION ||
      opts->loop == NULL || opts->root == NULL)
    return RF_EINVAL;
  host = opts->host != NULL ? opts->host : "127.0.0.1";
  memset(&addr, 0, sizeof(addr));
  if (uv_ip4_addr(host, opts->port, (struct sockaddr_in *)&addr) != 0 &&
      uv_ip6_addr(host, opts->port, (struct sockaddr_in6 *)&addr) != 0)
    return RF_EINVAL;
  if (opts->version >= 2 && opts->partial != 0 && opts->partial != 1)
    return RF_EINVAL;
  rc = srv_root(opts->root, &root);
  if (rc != 0)
    return rc;
  s = calloc(1, sizeof(*s));
  if (s == NULL) {
    free(root);
    return RF_ENOMEM;
  }
  s->loop = opts->loop;
  s->root = root;
  s->root_len = strlen(root);
  s->log_cb = opts->log_cb;
  s->user_data = opts->user_data;
  s->hooks = &srv_no_hooks;
  s->idle_ms = SRV_IDLE_MS;
  s->max_conns = RF_SERVER_DEFAULT_MAX_CONNECTIONS;
  s->max_per_client = RF_SERVER_DEFAULT_MAX_PER_CLIENT;
  if (opts->version >= 2) {
    if (opts->max_connections != 0)
      s->max_conns = opts->max_connections;
    if (opts->max_per_client != 0)
      s->max_per_client = opts->max_per_client;
    s->rate = opts->rate_limit;
    if (opts->partial)
      rc = rf__srv_partials_new(&s->partials);
  }
  s->head_ms = RF_SERVER_DEFAULT_HEAD_MS;
  if (opts->version >= 3) {
    if (opts->idle_timeout_ms != 0)
      s->idle_ms = opts->idle_timeout_ms;
    if (opts->head_timeout_ms != 0)
      s->head_ms = opts->head_timeout_ms;
  }
  if (s->rate != 0) {
    double burst = 1e9 / (double)s->rate; /* one byte at least */
    double quantum;
    if (burst < (double)SRV_RATE_BURST_NS)
      burst = (double)SRV_RATE_BURST_NS;
    s->rl_burst_ns = (uint64_t)burst + 1;
    quantum = (double)s->rl_burst_ns * (double)s->rate / 1e9;
    s->rl_quantum = quantum < SRV_RATE_QUANTUM ? (uint64_t)quantum
                                               : SRV_RATE_QUANTUM;
    if (s->rl_quantum == 0)
      s->rl_quantum = 1;
  }
  atomic_init(&s->requests, 0);
  atomic_init(&s->body_bytes, 0);
  atomic_init(&s->connections, 0);
  if (rc == 0)
    rc = srv_listen(s, &addr);
  if (rc != 0) {
    if (!s->closing) { /* the listener never opened */
      rf__srv_partials_free(s->partials);
      free(s->root);
      free(s);
    }
    return rc;
  }
  /* Inactive until a connection runs short of tokens. */
  uv_timer_init(s->loop, &s->rl_timer);
  s->rl_timer.data = s;
  s->rl_timer_open = 1;
  *out = s;
  return 0;
}

uint16_t rf_server_port(const rf_server *server)
{
  return server != NULL ? server->port : 0;
}

void rf_server_free(rf_server *server)
{
  srv_conn *c;

  if (server == NULL || server->closing)
    return;
  server->closing = 1;
  uv_close((uv_handle_t *)&server->listener, on_listener_closed);
  uv_close((uv_handle_t *)&server->rl_timer, on_rate_timer_closed);
  for (c = server->conns; c != NULL; c = c->next)
    rf__srv_conn_close(c);
}

void rf__server_set_hooks(rf_server *s, const rf__server_hooks *hooks,
                          void *ctx)
{
  s->hooks = hooks != NULL ? hooks : &srv_no_hooks;
  s->hooks_ctx = ctx;
}

void rf__server_set_idle_timeout(rf_server *s, uint64_t ms)
{
  s->idle_ms = ms != 0 ? ms : SRV_IDLE_MS;
}

uint64_t rf__server_requests(const rf_server *s)
{
  return atomic_load_explicit(&s->requests, memory_order_relaxed);
}

uint64_t rf__server_body_bytes(const rf_server *s)
{
  return atomic_load_explicit(&s->body_bytes, memory_order_relaxed);
}

uint64_t rf__server_connections(const rf_server *s)
{
  return atomic_load_explicit(&s->connections, memory_order_relaxed);
}

uint64_t rf__server_peak_open(const rf_server *s)
{
  return atomic_load_explicit(&s->peak_open, memory_order_relaxed);
}
