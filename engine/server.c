/*
 * The range server: HTTP/1.1 on libuv, serving the files under one
 * directory with single-range support.
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
 *   A connection owns three handles (tcp, idle timer, fault timer) and at
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
 * Test mode (engine/server.h) adds generated files and fault directives;
 * its semantics are documented there.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <uv.h>

#define SRV_CHUNK        (256 * 1024) /* body bytes per write */
#define SRV_NBUFS        2            /* body writes queued per connection */
#define SRV_HEAD_MAX     (16 * 1024)  /* request head limit: 431 beyond */
#define SRV_OUT_MAX      2048         /* response head (and short body) */
#define SRV_IDLE_MS      60000        /* default idle timeout */
#define SRV_LINGER_MS    2000         /* wait for the peer's FIN after ours */
#define SRV_RATE_TICK_MS 10           /* token bucket refill period */
#define SRV_BUCKETS      64           /* fault table hash buckets */
#define SRV_GEN_MTIME    1577836800   /* 2020-01-01T00:00:00Z */
#define SRV_FIELD_MAX    128          /* longest Range / If-Range kept */

/* Fault counters of one request-target (test mode). */
typedef struct srv_target {
  struct srv_target *next;
  uint64_t requests; /* requests received for the target */
  uint64_t cut;      /* responses each one-shot fault was applied to */
  uint64_t corrupt;
  uint64_t stall;
  uint64_t badrange;
  uint64_t shortlen;
  char name[]; /* the request-target, NUL-terminated */
} srv_target;

/* Directives read from a query string (test mode); see server.h. */
typedef struct srv_query {
  uint64_t seed;
  uint64_t times;
  uint64_t cut;
  uint64_t corrupt;
  uint64_t stall;
  uint64_t stall_at;
  uint64_t s503;
  uint64_t s429;
  uint64_t ra;
  uint64_t status;
  uint64_t change_after;
  uint64_t rate;
  uint64_t delay;
  int has_cut;
  int has_corrupt;
  int has_stall;
  int has_change_after;
  int norange;
  int chunked;
  int badrange;
  int shortlen;
  int noetag;
} srv_query;

/* One body buffer and the write that sends it. */
typedef struct srv_buf {
  uv_write_t req;
  struct srv_conn *conn;
  char *data;         /* SRV_CHUNK bytes, allocated on first use */
  size_t content_len; /* content bytes in the write in flight */
  int busy;           /* being filled or written */
  char pre[24];       /* chunk-size line for chunked bodies */
} srv_buf;

enum { SRV_M_OTHER, SRV_M_GET, SRV_M_HEAD };
enum { SRV_K_TEXT, SRV_K_FILE, SRV_K_GEN };
enum { SRV_PH_RESOLVE, SRV_PH_BODY };

/* The request being answered and the state of its response. */
typedef struct srv_resp {
  /* Request. */
  char method[16];
  int mkind;        /* SRV_M_* */
  int keep_alive;   /* the connection stays open after the response */
  int http11;       /* HTTP/1.1 (else 1.0) */
  int parse_status; /* 0, or the status answering a malformed head */
  char *target;     /* request-target as received (owned) */
  int range_seen;
  int range_bad; /* repeated, too long: ignored */
  char range[SRV_FIELD_MAX];
  int if_range_seen;
  int if_range_bad; /* too long: never matches */
  char if_range[SRV_FIELD_MAX];
  /* Test mode. */
  srv_query q;
  srv_target *tg; /* NULL when testing is off */
  uint64_t nreq;  /* 1-based number of this request for tg */
  /* Response. */
  int phase; /* SRV_PH_* */
  int status;
  int kind;               /* SRV_K_* */
  uv_file fd;             /* SRV_K_FILE: open file, or -1 */
  uint64_t size;          /* size of the whole content */
  uint64_t start;         /* first content offset of the body */
  uint64_t len;           /* announced body length */
  uint64_t limit;         /* body bytes actually produced (<= len) */
  uint64_t produced;      /* body bytes handed to buffers so far */
  uint64_t sent;          /* body bytes whose write completed */
  uint64_t text_len;      /* short body carried in the head write */
  uint64_t seed;          /* SRV_K_GEN */
  unsigned char xor_mask; /* content XOR (change_after on real files) */
  int corrupt;
  uint64_t corrupt_off;
  int stall; /* a stall is still to come */
  uint64_t stall_at;
  uint64_t stall_ms;
  uint64_t delay_ms; /* head not yet sent: wait this long first */
  int chunked;
  int abort_after; /* close the connection after the body (cut) */
  int tail_sent;   /* chunked terminator queued */
  int waiting;     /* fault timer armed (delay, stall or rate) */
  int logged;
  srv_buf *filling; /* buffer whose file read is in flight */
  char etag[96];    /* with quotes; "" for none */
  char lastmod[40]; /* IMF-fixdate; "" for none */
} srv_resp;

/* One accepted connection. */
typedef struct srv_conn {
  rf_server *srv;
  struct srv_conn *prev;
  struct srv_conn *next;
  uv_tcp_t tcp;
  uv_timer_t idle;  /* idle timeout, then lingering close */
  uv_timer_t fault; /* delay, stall and rate ticks */
  uv_fs_t fs;       /* the one file-system request in flight */
  uv_write_t head_req;
  uv_write_t tail_req;
  uv_shutdown_t shut_req;
  unsigned refs;   /* open handles + fs request in flight */
  unsigned writes; /* uv_write requests in flight */
  int closing;
  int lingering;
  int reading;
  int responding;
  int fs_busy;
  uint64_t rate; /* bytes per second, 0: no cap */
  double tokens;
  uint64_t rate_t; /* uv_hrtime of the last refill */
  srv_resp r;
  srv_buf bufs[SRV_NBUFS];
  size_t in_len;
  char in[SRV_HEAD_MAX];
  char out[SRV_OUT_MAX];
  char crlf[2];
  char tail[5];
} srv_conn;

struct rf_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  char *root; /* realpath of the served directory */
  size_t root_len;
  void (*log_cb)(const char *line, void *user_data);
  void *user_data;
  uint16_t port;
  int testing;
  int closing;
  int listener_open;
  uint64_t idle_ms;
  srv_conn *conns;
  size_t nconns;
  unsigned pending; /* asynchronous closes of files in flight */
  srv_target *targets[SRV_BUCKETS];
  _Atomic uint64_t requests;
  _Atomic uint64_t body_bytes; /* body bytes handed to the kernel */
  _Atomic uint64_t connections;
};

/* An asynchronous close(2) that outlives its connection. */
typedef struct srv_fsclose {
  uv_fs_t req;
  rf_server *srv;
} srv_fsclose;

static void conn_close(srv_conn *c);
static void conn_process(srv_conn *c);
static void resp_pump(srv_conn *c);
static void resp_send_head(srv_conn *c);

/* ------------------------------------------------------------ generator */

/* splitmix64 of x. */
static uint64_t gen_mix(uint64_t x)
{
  uint64_t z = x + UINT64_C(0x9E3779B97F4A7C15);

  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

void rf__gen_fill(void *buf, uint64_t off, size_t len, uint64_t seed)
{
  unsigned char *p = buf;
  uint64_t key = seed * UINT64_C(0x9E3779B97F4A7C15);
  uint64_t i = off / 8;
  unsigned skip = (unsigned)(off % 8);
  uint64_t w;
  size_t n;
  size_t j;

  if (len == 0)
    return;
  if (skip != 0) {
    w = gen_mix(i ^ key);
    n = 8 - skip;
    if (n > len)
      n = len;
    for (j = 0; j < n; j++)
      p[j] = (unsigned char)(w >> (8 * (skip + j)));
    p += n;
    len -= n;
    i++;
  }
  for (; len >= 8; len -= 8, p += 8, i++) {
    w = gen_mix(i ^ key);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
  }
  if (len != 0) {
    w = gen_mix(i ^ key);
    for (j = 0; j < len; j++)
      p[j] = (unsigned char)(w >> (8 * j));
  }
}

/* -------------------------------------------------------------- helpers */

/* Case-insensitive comparison of n bytes with a lower-case literal. */
static int ci_eq(const char *s, size_t n, const char *lower)
{
  size_t i;

  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (ch >= 'A' && ch <= 'Z')
      ch = (char)(ch - 'A' + 'a');
    if (lower[i] == '\0' || ch != lower[i])
      return 0;
  }
  return lower[n] == '\0';
}

/*
 * Parse n decimal digits at s into *out.  Returns 0, or -1 when n is 0, a
 * byte is not a digit or the value overflows.
 */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
  uint64_t v = 0;
  size_t i;

  if (n == 0)
    return -1;
  for (i = 0; i < n; i++) {
    unsigned d;
    if (s[i] < '0' || s[i] > '9')
      return -1;
    d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/*
 * Read the digits at *p into *out, saturating at UINT64_MAX, and advance *p.
 * Returns the number of digits read.
 */
static size_t scan_digits(const char **p, uint64_t *out)
{
  const char *s = *p;
  uint64_t v = 0;
  size_t n = 0;

  while (s[n] >= '0' && s[n] <= '9') {
    unsigned d = (unsigned)(s[n] - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    n++;
  }
  *p = s + n;
  *out = v;
  return n;
}

/* Format t (Unix seconds) as an IMF-fixdate into out. */
static void fmt_http_date(char *out, size_t size, int64_t t)
{
  static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed",
                                   "Thu", "Fri", "Sat" };
  static const char months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
  };
  time_t tt = (time_t)t;
  struct tm tm;

  if (gmtime_r(&tt, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
      tm.tm_mon < 0 || tm.tm_mon > 11) {
    snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 GMT");
    return;
  }
  snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
           tm.tm_min, tm.tm_sec);
}

/* Reason phrase of an HTTP status. */
static const char *status_reason(int status)
{
  switch (status) {
  case 200:
    return "OK";
  case 206:
    return "Partial Content";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 416:
    return "Range Not Satisfiable";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Status";
  }
}

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

/* ---------------------------------------------------------- test faults */

/* Parse the query string (len bytes at s) into q, defaults first. */
static void query_parse(const char *s, size_t len, srv_query *q)
{
  const char *end = s + len;

  memset(q, 0, sizeof(*q));
  q->seed = 1;
  q->times = 1;
  q->ra = 1;
  while (s < end) {
    const char *amp = memchr(s, '&', (size_t)(end - s));
    const char *pe = amp != NULL ? amp : end;
    const char *eq = memchr(s, '=', (size_t)(pe - s));
    uint64_t v;

    if (eq != NULL && parse_u64(eq + 1, (size_t)(pe - eq - 1), &v) == 0) {
      size_t kl = (size_t)(eq - s);
#define SRV_KEY(name) (kl == sizeof(name) - 1 && memcmp(s, name, kl) == 0)
      if (SRV_KEY("seed")) {
        q->seed = v;
      } else if (SRV_KEY("times")) {
        q->times = v;
      } else if (SRV_KEY("cut")) {
        q->cut = v;
        q->has_cut = 1;
      } else if (SRV_KEY("corrupt")) {
        q->corrupt = v;
        q->has_corrupt = 1;
      } else if (SRV_KEY("stall")) {
        q->stall = v;
        q->has_stall = 1;
      } else if (SRV_KEY("stall_at")) {
        q->stall_at = v;
      } else if (SRV_KEY("s503")) {
        q->s503 = v;
      } else if (SRV_KEY("s429")) {
        q->s429 = v;
      } else if (SRV_KEY("ra")) {
        q->ra = v;
      } else if (SRV_KEY("status")) {
        q->status = v;
      } else if (SRV_KEY("change_after")) {
        q->change_after = v;
        q->has_change_after = 1;
      } else if (SRV_KEY("rate")) {
        q->rate = v;
      } else if (SRV_KEY("delay")) {
        q->delay = v;
      } else if (SRV_KEY("norange")) {
        q->norange = v != 0;
      } else if (SRV_KEY("chunked")) {
        q->chunked = v != 0;
      } else if (SRV_KEY("badrange")) {
        q->badrange = v != 0;
      } else if (SRV_KEY("shortlen")) {
        q->shortlen = v != 0;
      } else if (SRV_KEY("noetag")) {
        q->noetag = v != 0;
      }
#undef SRV_KEY
    }
    s = pe + (pe < end ? 1 : 0);
  }
}

/* FNV-1a of a NUL-terminated string. */
static uint64_t str_hash(const char *s)
{
  uint64_t h = UINT64_C(0xcbf29ce484222325);

  for (; *s != '\0'; s++) {
    h ^= (unsigned char)*s;
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

/* The fault record of target, created on first use; NULL without memory. */
static srv_target *target_get(rf_server *s, const char *target)
{
  size_t b = (size_t)(str_hash(target) % SRV_BUCKETS);
  size_t n = strlen(target);
  srv_target *t;

  for (t = s->targets[b]; t != NULL; t = t->next) {
    if (strcmp(t->name, target) == 0)
      return t;
  }
  t = calloc(1, sizeof(*t) + n + 1);
  if (t == NULL)
    return NULL;
  memcpy(t->name, target, n + 1);
  t->next = s->targets[b];
  s->targets[b] = t;
  return t;
}

/* -------------------------------------------------------- server & conns */

/* Release the server once nothing refers to it any more. */
static void srv_maybe_free(rf_server *s)
{
  size_t b;

  if (!s->closing || s->listener_open || s->nconns != 0 || s->pending != 0)
    return;
  for (b = 0; b < SRV_BUCKETS; b++) {
    while (s->targets[b] != NULL) {
      srv_target *t = s->targets[b];
      s->targets[b] = t->next;
      free(t);
    }
  }
  free(s->root);
  free(s);
}

static void on_listener_closed(uv_handle_t *h)
{
  rf_server *s = h->data;

  s->listener_open = 0;
  srv_maybe_free(s);
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
static void resp_release_file(srv_conn *c)
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
static void resp_reset(srv_conn *c)
{
  free(c->r.target);
  memset(&c->r, 0, sizeof(c->r));
  c->r.fd = -1;
}

static void conn_unref(srv_conn *c)
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
  for (i = 0; i < SRV_NBUFS; i++)
    free(c->bufs[i].data);
  free(c->r.target);
  free(c);
  srv_maybe_free(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
  conn_unref(h->data);
}

/* Deliver the access log line of the current request, once. */
static void resp_log(srv_conn *c)
{
  rf_server *s = c->srv;
  srv_resp *r = &c->r;
  char target[1024];
  char line[1200];
  size_t i;
  const char *t = r->target != NULL ? r->target : "-";

  if (s->log_cb == NULL || r->logged)
    return;
  r->logged = 1;
  for (i = 0; t[i] != '\0' && i < sizeof(target) - 1; i++) {
    unsigned char ch = (unsigned char)t[i];
    target[i] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  target[i] = '\0';
  snprintf(line, sizeof(line), "%s %s %d %" PRIu64,
           r->method[0] != '\0' ? r->method : "-", target, r->status, r->sent);
  s->log_cb(line, s->user_data);
}

/* Close the connection now; its memory goes with the last close callback. */
static void conn_close(srv_conn *c)
{
  if (c->closing)
    return;
  c->closing = 1;
  if (c->responding)
    resp_log(c);
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->fault, on_conn_handle_closed);
  resp_release_file(c);
}

static void on_idle_timeout(uv_timer_t *t)
{
  conn_close(t->data);
}

/* Restart the idle timer after progress (not while a fault holds us). */
static void conn_touch(srv_conn *c)
{
  if (c->closing || c->r.waiting)
    return;
  uv_timer_start(&c->idle, on_idle_timeout,
                 c->lingering ? SRV_LINGER_MS : c->srv->idle_ms, 0);
}

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
      conn_process(c); /* full buffer: answers 431 */
      return;
    }
    conn_close(c);
    return;
  }
  if (nread == 0)
    return;
  conn_touch(c);
  if (c->lingering) {
    c->in_len = 0;
    return;
  }
  c->in_len += (size_t)nread;
  conn_process(c);
}

static void conn_read_start(srv_conn *c)
{
  if (c->reading || c->closing)
    return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    conn_close(c);
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
    conn_close(c);
}

/*
 * Close gracefully: send our FIN, then read and discard until the peer's
 * FIN (or SRV_LINGER_MS), so that unread request bytes never make the
 * kernel answer with a reset that would destroy the response in flight.
 */
static void conn_linger(srv_conn *c)
{
  if (c->closing || c->lingering)
    return;
  c->lingering = 1;
  c->in_len = 0;
  c->shut_req.data = c;
  if (uv_shutdown(&c->shut_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    conn_close(c);
    return;
  }
  conn_touch(c);
  conn_read_start(c);
}

/* ------------------------------------------------------------- requests */

/*
 * Parse the request head at the start of c->in into c->r.
 *
 * Returns 0 while the head is incomplete, else the number of bytes it
 * takes (leading empty lines included).  A malformed head sets
 * c->r.parse_status (400, 431 or 505) and takes the whole buffer.
 */
static size_t req_parse(srv_conn *c)
{
  srv_resp *r = &c->r;
  const char *in = c->in;
  size_t len = c->in_len;
  size_t pos = 0;
  size_t start;
  size_t head_end = 0;
  size_t line_end;
  const char *sp1;
  const char *sp2;
  const char *ver;
  size_t ml;
  size_t tl;

  while (pos < len && (in[pos] == '\r' || in[pos] == '\n'))
    pos++;
  start = pos;
  while (pos < len) {
    const char *nl = memchr(in + pos, '\n', len - pos);
    size_t ll;
    if (nl == NULL)
      break;
    ll = (size_t)(nl - (in + pos));
    if (ll > 0 && in[pos + ll - 1] == '\r')
      ll--;
    pos = (size_t)(nl - in) + 1;
    if (ll == 0) {
      head_end = pos;
      break;
    }
  }
  if (head_end == 0) {
    if (len < SRV_HEAD_MAX)
      return 0;
    r->parse_status = 431;
    return len;
  }

  /* Request line: METHOD SP target SP HTTP/1.x */
  line_end = (size_t)((const char *)memchr(in + start, '\n', len - start) - in);
  if (line_end > start && in[line_end - 1] == '\r')
    line_end--;
  sp1 = memchr(in + start, ' ', line_end - start);
  if (sp1 == NULL)
    goto bad;
  sp2 = memchr(sp1 + 1, ' ', (size_t)(in + line_end - sp1 - 1));
  if (sp2 == NULL)
    goto bad;
  ml = (size_t)(sp1 - (in + start));
  tl = (size_t)(sp2 - sp1 - 1);
  ver = sp2 + 1;
  if (ml == 0 || ml >= sizeof(r->method) || tl == 0)
    goto bad;
  memcpy(r->method, in + start, ml);
  r->method[ml] = '\0';
  for (size_t i = 0; i < ml; i++) {
    if (r->method[i] <= 0x20 || r->method[i] >= 0x7f)
      goto bad;
  }
  for (size_t i = 0; i < tl; i++) {
    unsigned char ch = (unsigned char)sp1[1 + i];
    if (ch <= 0x20 || ch == 0x7f)
      goto bad;
  }
  r->target = malloc(tl + 1);
  if (r->target == NULL)
    goto bad;
  memcpy(r->target, sp1 + 1, tl);
  r->target[tl] = '\0';
  if (strcmp(r->method, "GET") == 0)
    r->mkind = SRV_M_GET;
  else if (strcmp(r->method, "HEAD") == 0)
    r->mkind = SRV_M_HEAD;
  else
    r->mkind = SRV_M_OTHER;
  if ((size_t)(in + line_end - ver) != 8 || memcmp(ver, "HTTP/", 5) != 0 ||
      ver[6] != '.' || ver[5] < '0' || ver[5] > '9' || ver[7] < '0' ||
      ver[7] > '9')
    goto bad;
  if (ver[5] != '1') {
    r->parse_status = 505;
    return head_end;
  }
  r->http11 = ver[7] != '0';
  r->keep_alive = r->http11;

  /* Header fields. */
  pos = line_end;
  while (pos < len && in[pos] != '\n')
    pos++;
  pos++;
  for (;;) {
    const char *nl = memchr(in + pos, '\n', head_end - pos);
    size_t ll = (size_t)(nl - (in + pos));
    const char *line = in + pos;
    const char *colon;
    const char *v;
    const char *ve;
    size_t nlen;
    size_t vlen;

    if (ll > 0 && line[ll - 1] == '\r')
      ll--;
    pos = (size_t)(nl - in) + 1;
    if (ll == 0)
      break;
    if (line[0] == ' ' || line[0] == '\t')
      goto bad; /* obsolete line folding */
    colon = memchr(line, ':', ll);
    if (colon == NULL || colon == line)
      goto bad;
    nlen = (size_t)(colon - line);
    for (size_t i = 0; i < nlen; i++) {
      if ((unsigned char)line[i] <= 0x20)
        goto bad;
    }
    v = colon + 1;
    ve = line + ll;
    while (v < ve && (*v == ' ' || *v == '\t'))
      v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
      ve--;
    vlen = (size_t)(ve - v);
    if (ci_eq(line, nlen, "range")) {
      if (r->range_seen || vlen >= sizeof(r->range)) {
        r->range_bad = 1;
      } else {
        memcpy(r->range, v, vlen);
        r->range[vlen] = '\0';
      }
      r->range_seen = 1;
    } else if (ci_eq(line, nlen, "if-range")) {
      if (r->if_range_seen || vlen >= sizeof(r->if_range)) {
        r->if_range_bad = 1;
      } else {
        memcpy(r->if_range, v, vlen);
        r->if_range[vlen] = '\0';
      }
      r->if_range_seen = 1;
    } else if (ci_eq(line, nlen, "connection")) {
      const char *p = v;
      while (p < ve) {
        const char *q = p;
        while (q < ve && *q != ',')
          q++;
        const char *te = q;
        while (p < te && (*p == ' ' || *p == '\t'))
          p++;
        while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
          te--;
        if (ci_eq(p, (size_t)(te - p), "close"))
          r->keep_alive = 0;
        p = q + 1;
      }
    } else if (ci_eq(line, nlen, "content-length")) {
      uint64_t cl;
      if (parse_u64(v, vlen, &cl) != 0)
        goto bad;
      if (cl != 0)
        r->keep_alive = 0; /* no body support: the linger discards it */
    } else if (ci_eq(line, nlen, "transfer-encoding")) {
      r->keep_alive = 0;
    }
  }
  return head_end;

bad:
  r->parse_status = 400;
  return head_end;
}

/* Append to the response head; overflow truncates (never happens). */
__attribute__((format(printf, 2, 3))) static void out_add(srv_conn *c,
                                                          const char *fmt, ...)
{
  size_t used = strlen(c->out);
  va_list ap;

  if (used >= sizeof(c->out) - 1)
    return;
  va_start(ap, fmt);
  vsnprintf(c->out + used, sizeof(c->out) - used, fmt, ap);
  va_end(ap);
}

/* Start the response head: status line, Date, Server. */
static void out_begin(srv_conn *c, int status)
{
  char date[40];

  c->r.status = status;
  c->out[0] = '\0';
  fmt_http_date(date, sizeof(date), (int64_t)time(NULL));
  out_add(c, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: rangefetch/%s\r\n", status,
          status_reason(status), date, RF_VERSION_STRING);
}

/*
 * Answer with status and a short text body.  extra is more header lines
 * (each ending in CRLF) or NULL.  Malformed requests close the connection.
 */
static void resp_text(srv_conn *c, int status, const char *extra)
{
  srv_resp *r = &c->r;
  char body[80];
  int n;

  if (status == 400 || status == 431 || status == 505)
    r->keep_alive = 0;
  n = snprintf(body, sizeof(body), "%d %s\n", status, status_reason(status));
  out_begin(c, status);
  out_add(c, "Content-Type: text/plain\r\nContent-Length: %d\r\n%s%s\r\n", n,
          extra != NULL ? extra : "",
          r->keep_alive ? "" : "Connection: close\r\n");
  if (r->mkind != SRV_M_HEAD) {
    out_add(c, "%s", body);
    r->text_len = (uint64_t)n;
  }
  r->kind = SRV_K_TEXT;
  resp_send_head(c);
}

/*
 * Evaluate a Range value against size.  Returns 1 (satisfiable: *first and
 * *last set), 0 (unsatisfiable: 416) or -1 (malformed, other unit or
 * several ranges: ignore the header).
 */
static int range_eval(const char *v, uint64_t size, uint64_t *first,
                      uint64_t *last)
{
  const char *p = v;
  uint64_t a;
  uint64_t b;
  size_t nb;

  if (!ci_eq(p, 5, "bytes"))
    return -1;
  p += 5;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p++ != '=')
    return -1;
  if (strchr(p, ',') != NULL)
    return -1;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '-') {
    p++;
    if (scan_digits(&p, &b) == 0)
      return -1;
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p != '\0')
      return -1;
    if (b == 0 || size == 0)
      return 0;
    *first = b >= size ? 0 : size - b;
    *last = size - 1;
    return 1;
  }
  if (scan_digits(&p, &a) == 0 || *p++ != '-')
    return -1;
  nb = scan_digits(&p, &b);
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p != '\0' || (nb != 0 && b < a))
    return -1;
  if (a >= size)
    return 0;
  *first = a;
  *last = nb == 0 || b >= size ? size - 1 : b;
  return 1;
}

/* Whether If-Range names the representation served now (strong match). */
static int if_range_matches(const srv_resp *r)
{
  const char *v = r->if_range;

  if (r->if_range_bad)
    return 0;
  if (v[0] == '"' || (v[0] == 'W' && v[1] == '/'))
    return r->etag[0] != '\0' && strcmp(v, r->etag) == 0;
  return r->lastmod[0] != '\0' && strcmp(v, r->lastmod) == 0;
}

/*
 * The resource is known (kind, size, validators): choose the status and
 * the body slice, arm the faults, write the head.
 */
static void resp_ready(srv_conn *c)
{
  srv_resp *r = &c->r;
  const srv_query *q = &r->q;
  srv_target *tg = r->tg;
  int is_get = r->mkind == SRV_M_GET;
  int use_range = r->range_seen && !r->range_bad;
  int rc = -1;
  uint64_t first = 0;
  uint64_t last = 0;

  if (tg != NULL && (q->norange || q->chunked))
    use_range = 0;
  if (use_range && r->if_range_seen && !if_range_matches(r))
    use_range = 0;
  if (use_range)
    rc = range_eval(r->range, r->size, &first, &last);
  if (rc == 0) {
    out_begin(c, 416);
    out_add(c, "Content-Range: bytes */%" PRIu64 "\r\n", r->size);
    r->len = 0;
  } else if (rc == 1) {
    out_begin(c, 206);
    r->start = first;
    r->len = last - first + 1;
    if (tg != NULL && is_get && q->badrange && tg->badrange < q->times &&
        r->size > 1) {
      tg->badrange++;
      if (r->start + r->len < r->size)
        r->start++;
      else if (r->start > 0)
        r->start--;
      else
        r->len--;
    }
    out_add(c, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
            r->start, r->start + r->len - 1, r->size);
  } else {
    out_begin(c, 200);
    r->start = 0;
    r->len = r->size;
  }
  if (tg == NULL || !(q->norange || q->chunked))
    out_add(c, "Accept-Ranges: bytes\r\n");
  if (r->etag[0] != '\0')
    out_add(c, "ETag: %s\r\n", r->etag);
  if (r->lastmod[0] != '\0')
    out_add(c, "Last-Modified: %s\r\n", r->lastmod);
  out_add(c, "Content-Type: application/octet-stream\r\n");
  if (tg != NULL && q->chunked && r->status == 200 && r->http11) {
    r->chunked = 1;
    out_add(c, "Transfer-Encoding: chunked\r\n");
  } else {
    out_add(c, "Content-Length: %" PRIu64 "\r\n", r->len);
  }
  if (!r->keep_alive)
    out_add(c, "Connection: close\r\n");
  out_add(c, "\r\n");

  r->limit = is_get ? r->len : 0;
  if (tg != NULL && is_get) {
    if (q->has_cut && q->cut < r->len && tg->cut < q->times) {
      tg->cut++;
      r->limit = q->cut;
      r->abort_after = 1;
    }
    if (q->shortlen && r->status == 206 && r->len > 0 &&
        tg->shortlen < q->times) {
      tg->shortlen++;
      if (r->len / 2 < r->limit)
        r->limit = r->len / 2;
      r->abort_after = 1;
    }
    if (q->has_stall && q->stall_at < r->len && tg->stall < q->times) {
      tg->stall++;
      r->stall = 1;
      r->stall_at = q->stall_at;
      r->stall_ms = q->stall;
    }
    if (q->has_corrupt && q->corrupt >= r->start &&
        q->corrupt - r->start < r->len && tg->corrupt < q->times) {
      tg->corrupt++;
      r->corrupt = 1;
      r->corrupt_off = q->corrupt;
    }
  }
  if (tg != NULL && q->rate != 0 && q->rate != c->rate) {
    c->rate = q->rate;
    c->tokens = (double)c->rate * 0.02;
    if (c->tokens < 1.0)
      c->tokens = 1.0;
    c->rate_t = uv_hrtime();
  }
  resp_send_head(c);
}

/* Serve /gen/<SIZE> (test mode).  path is the decoded path. */
static void resp_gen(srv_conn *c, const char *path)
{
  srv_resp *r = &c->r;
  const char *digits = path + 5;
  uint64_t seed = r->q.seed;

  if (parse_u64(digits, strlen(digits), &r->size) != 0) {
    resp_text(c, 404, NULL);
    return;
  }
  if (r->q.has_change_after && r->nreq > r->q.change_after)
    seed++;
  r->kind = SRV_K_GEN;
  r->seed = seed;
  if (!r->q.noetag) {
    snprintf(r->etag, sizeof(r->etag), "\"gen-%" PRIu64 "-%" PRIu64 "\"",
             r->size, seed);
    fmt_http_date(r->lastmod, sizeof(r->lastmod),
                  (int64_t)(SRV_GEN_MTIME + seed % 1000000));
  }
  resp_ready(c);
}

/* Status for a failed file-system step. */
static int fs_status(ssize_t err)
{
  switch (err) {
  case UV_ENOENT:
  case UV_ENOTDIR:
  case UV_ENAMETOOLONG:
    return 404;
  case UV_EACCES:
  case UV_EPERM:
  case UV_ELOOP:
    return 403;
  default:
    return 500;
  }
}

/*
 * Common start of every uv_fs callback: returns 1 when the connection is
 * closing, in which case the request was cleaned up, a file it opened is
 * closed and the caller must return at once.
 */
static int fs_cb_closing(srv_conn *c, uv_fs_type type)
{
  if (!c->closing)
    return 0;
  if (type == UV_FS_OPEN && c->fs.result >= 0)
    c->r.fd = (uv_file)c->fs.result;
  uv_fs_req_cleanup(&c->fs);
  c->fs_busy = 0;
  resp_release_file(c);
  conn_unref(c);
  return 1;
}

static void on_fs_stat(uv_fs_t *req)
{
  srv_conn *c = req->data;
  srv_resp *r = &c->r;
  uv_stat_t st;
  ssize_t res = req->result;
  uint64_t mtime_ns;
  int64_t mtime;
  int changed;

  if (fs_cb_closing(c, UV_FS_FSTAT))
    return;
  st = req->statbuf;
  uv_fs_req_cleanup(req);
  c->fs_busy = 0;
  c->refs--;
  if (res < 0) {
    resp_text(c, fs_status(res), NULL);
    return;
  }
  if ((st.st_mode & S_IFMT) != S_IFREG) {
    resp_text(c, 403, NULL);
    return;
  }
  changed =
      r->tg != NULL && r->q.has_change_after && r->nreq > r->q.change_after;
  r->kind = SRV_K_FILE;
  r->size = st.st_size;
  r->xor_mask = changed ? 0x5A : 0;
  mtime = (int64_t)st.st_mtim.tv_sec + (changed ? 86400 : 0);
  mtime_ns = (uint64_t)st.st_mtim.tv_sec * UINT64_C(1000000000) +
             (uint64_t)st.st_mtim.tv_nsec;
  if (r->tg == NULL || !r->q.noetag) {
    snprintf(r->etag, sizeof(r->etag),
             "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "%s\"", r->size, mtime_ns,
             st.st_ino, changed ? "-x5a" : "");
    fmt_http_date(r->lastmod, sizeof(r->lastmod), mtime);
  }
  resp_ready(c);
}

static void on_fs_open(uv_fs_t *req)
{
  srv_conn *c = req->data;
  ssize_t res = req->result;
  int rc;

  if (fs_cb_closing(c, UV_FS_OPEN))
    return;
  uv_fs_req_cleanup(req);
  if (res < 0) {
    c->fs_busy = 0;
    c->refs--;
    resp_text(c, fs_status(res), NULL);
    return;
  }
  c->r.fd = (uv_file)res;
  c->fs.data = c;
  rc = uv_fs_fstat(c->srv->loop, &c->fs, c->r.fd, on_fs_stat);
  if (rc < 0) {
    c->fs_busy = 0;
    c->refs--;
    resp_text(c, 500, NULL);
  }
}

/* Whether resolved (an absolute, symlink-free path) is inside the root. */
static int path_inside(const rf_server *s, const char *resolved)
{
  if (s->root_len == 1)
    return resolved[0] == '/';
  return strncmp(resolved, s->root, s->root_len) == 0 &&
         (resolved[s->root_len] == '\0' || resolved[s->root_len] == '/');
}

static void on_fs_realpath(uv_fs_t *req)
{
  srv_conn *c = req->data;
  ssize_t res = req->result;
  int inside;
  int rc;

  if (fs_cb_closing(c, UV_FS_REALPATH))
    return;
  if (res < 0) {
    uv_fs_req_cleanup(req);
    c->fs_busy = 0;
    c->refs--;
    resp_text(c, fs_status(res), NULL);
    return;
  }
  inside = path_inside(c->srv, req->ptr);
  if (!inside) {
    uv_fs_req_cleanup(req);
    c->fs_busy = 0;
    c->refs--;
    resp_text(c, 403, NULL);
    return;
  }
  {
    /* uv_fs_open copies the path before the request is reused. */
    char *resolved = strdup(req->ptr);
    uv_fs_req_cleanup(req);
    if (resolved == NULL) {
      c->fs_busy = 0;
      c->refs--;
      resp_text(c, 500, NULL);
      return;
    }
    c->fs.data = c;
    rc = uv_fs_open(c->srv->loop, &c->fs, resolved, O_RDONLY | O_CLOEXEC, 0,
                    on_fs_open);
    free(resolved);
  }
  if (rc < 0) {
    c->fs_busy = 0;
    c->refs--;
    resp_text(c, 500, NULL);
  }
}

/*
 * Percent-decode the path part of a target (n bytes at s) into out, which
 * holds size bytes.  Returns 0, 400 (no leading '/', bad escape, NUL byte)
 * or 403 (a ".." segment), 404 (too long).
 */
static int path_decode(const char *s, size_t n, char *out, size_t size)
{
  size_t i;
  size_t o = 0;
  const char *seg;

  if (n == 0 || s[0] != '/')
    return 400;
  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '%') {
      int hi;
      int lo;
      if (i + 2 >= n)
        return 400;
      hi = s[i + 1];
      lo = s[i + 2];
      hi = hi >= '0' && hi <= '9'   ? hi - '0'
           : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10
           : hi >= 'A' && hi <= 'F' ? hi - 'A' + 10
                                    : -1;
      lo = lo >= '0' && lo <= '9'   ? lo - '0'
           : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10
           : lo >= 'A' && lo <= 'F' ? lo - 'A' + 10
                                    : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        return 400;
      ch = (char)(hi * 16 + lo);
      i += 2;
    }
    if (o + 1 >= size)
      return 404;
    out[o++] = ch;
  }
  out[o] = '\0';
  for (seg = out; seg != NULL;) {
    const char *slash = strchr(seg + 1, '/');
    size_t sl = slash != NULL ? (size_t)(slash - seg - 1) : strlen(seg + 1);
    if (sl == 2 && seg[1] == '.' && seg[2] == '.')
      return 403;
    seg = slash;
  }
  return 0;
}

/* Answer the request parsed into c->r. */
static void req_start(srv_conn *c)
{
  rf_server *s = c->srv;
  srv_resp *r = &c->r;
  const char *qmark;
  size_t plen;
  char *path = NULL;
  char *full = NULL;
  char extra[64];
  int st;

  atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
  r->phase = SRV_PH_RESOLVE;
  if (r->parse_status != 0) {
    resp_text(c, r->parse_status, NULL);
    goto out;
  }
  if (r->mkind == SRV_M_OTHER) {
    resp_text(c, 405, "Allow: GET, HEAD\r\n");
    goto out;
  }
  qmark = strchr(r->target, '?');
  plen = qmark != NULL ? (size_t)(qmark - r->target) : strlen(r->target);
  if (s->testing) {
    if (qmark != NULL)
      query_parse(qmark + 1, strlen(qmark + 1), &r->q);
    else
      query_parse("", 0, &r->q);
    r->tg = target_get(s, r->target);
    if (r->tg == NULL) {
      resp_text(c, 500, NULL);
      goto out;
    }
    r->nreq = ++r->tg->requests;
    r->delay_ms = r->q.delay;
    if (r->q.status >= 200 && r->q.status <= 599) {
      resp_text(c, (int)r->q.status, NULL);
      goto out;
    }
    if (r->nreq <= r->q.s503 || r->nreq <= r->q.s429) {
      snprintf(extra, sizeof(extra), "Retry-After: %" PRIu64 "\r\n", r->q.ra);
      resp_text(c, r->nreq <= r->q.s503 ? 503 : 429, extra);
      goto out;
    }
  }
  path = malloc(plen + 1);
  if (path == NULL) {
    resp_text(c, 500, NULL);
    goto out;
  }
  st = path_decode(r->target, plen, path, plen + 1);
  if (st != 0) {
    resp_text(c, st, NULL);
    goto out;
  }
  if (s->testing && strncmp(path, "/gen/", 5) == 0) {
    resp_gen(c, path);
    goto out;
  }
  full = malloc(s->root_len + strlen(path) + 1);
  if (full == NULL) {
    resp_text(c, 500, NULL);
    goto out;
  }
  memcpy(full, s->root, s->root_len);
  strcpy(full + s->root_len, path);
  c->fs.data = c;
  if (uv_fs_realpath(s->loop, &c->fs, full, on_fs_realpath) < 0) {
    resp_text(c, 500, NULL);
    goto out;
  }
  c->fs_busy = 1;
  c->refs++;

out:
  free(full);
  free(path);
}

/* Parse and start the next request held in c->in, or read more. */
static void conn_process(srv_conn *c)
{
  size_t used;

  if (c->closing || c->lingering || c->responding)
    return;
  resp_reset(c);
  used = req_parse(c);
  if (used == 0) {
    free(c->r.target);
    c->r.target = NULL;
    conn_read_start(c);
    return;
  }
  conn_read_stop(c);
  memmove(c->in, c->in + used, c->in_len - used);
  c->in_len -= used;
  c->responding = 1;
  conn_touch(c);
  req_start(c);
}

/* ------------------------------------------------------------ responses */

/* The response is complete: log, release, go on with the connection. */
static void resp_end(srv_conn *c)
{
  srv_resp *r = &c->r;
  int keep = r->keep_alive && !r->abort_after;

  resp_log(c);
  resp_release_file(c);
  c->responding = 0;
  if (!keep) {
    conn_linger(c);
    return;
  }
  resp_reset(c);
  conn_touch(c);
  conn_process(c);
}

static void on_fault_timer(uv_timer_t *t)
{
  srv_conn *c = t->data;
  srv_resp *r = &c->r;

  r->waiting = 0;
  conn_touch(c);
  if (r->phase == SRV_PH_RESOLVE) {
    r->delay_ms = 0;
    resp_send_head(c);
    return;
  }
  resp_pump(c);
}

/* Arm the fault timer for ms; the idle timer sleeps meanwhile. */
static void conn_wait(srv_conn *c, uint64_t ms)
{
  c->r.waiting = 1;
  uv_timer_stop(&c->idle);
  uv_timer_start(&c->fault, on_fault_timer, ms, 0);
}

static void on_head_written(uv_write_t *req, int status)
{
  srv_conn *c = req->data;

  c->writes--;
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  c->r.sent += c->r.text_len;
  conn_touch(c);
  resp_pump(c);
}

static void on_tail_written(uv_write_t *req, int status)
{
  srv_conn *c = req->data;

  c->writes--;
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  conn_touch(c);
  resp_pump(c);
}

static void on_body_written(uv_write_t *req, int status)
{
  srv_buf *b = req->data;
  srv_conn *c = b->conn;

  c->writes--;
  b->busy = 0;
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  c->r.sent += b->content_len;
  atomic_fetch_add_explicit(&c->srv->body_bytes, b->content_len,
                            memory_order_relaxed);
  conn_touch(c);
  resp_pump(c);
}

/* Write the response head (after the delay fault, if any). */
static void resp_send_head(srv_conn *c)
{
  srv_resp *r = &c->r;
  uv_buf_t ub;

  if (c->closing)
    return;
  if (r->delay_ms != 0) {
    conn_wait(c, r->delay_ms);
    return;
  }
  r->phase = SRV_PH_BODY;
  ub = uv_buf_init(c->out, (unsigned)strlen(c->out));
  c->head_req.data = c;
  if (uv_write(&c->head_req, (uv_stream_t *)&c->tcp, &ub, 1, on_head_written) !=
      0) {
    conn_close(c);
    return;
  }
  c->writes++;
}

/* Send n content bytes of b, which start at content offset off. */
static void chunk_send(srv_conn *c, srv_buf *b, size_t n, uint64_t off)
{
  srv_resp *r = &c->r;
  uv_buf_t ub[3];
  unsigned nb = 0;

  if (r->xor_mask != 0) {
    for (size_t i = 0; i < n; i++)
      b->data[i] = (char)(b->data[i] ^ (char)r->xor_mask);
  }
  if (r->corrupt && r->corrupt_off >= off && r->corrupt_off - off < n) {
    size_t i = (size_t)(r->corrupt_off - off);
    b->data[i] = (char)(b->data[i] ^ (char)0xFF);
  }
  if (r->chunked) {
    int pl = snprintf(b->pre, sizeof(b->pre), "%zx\r\n", n);
    ub[nb++] = uv_buf_init(b->pre, (unsigned)pl);
  }
  ub[nb++] = uv_buf_init(b->data, (unsigned)n);
  if (r->chunked)
    ub[nb++] = uv_buf_init(c->crlf, 2);
  b->content_len = n;
  b->req.data = b;
  if (uv_write(&b->req, (uv_stream_t *)&c->tcp, ub, nb, on_body_written) != 0) {
    b->busy = 0;
    conn_close(c);
    return;
  }
  c->writes++;
}

static void on_file_read(uv_fs_t *req)
{
  srv_conn *c = req->data;
  srv_resp *r = &c->r;
  srv_buf *b = r->filling;
  ssize_t res = req->result;
  size_t want = b->content_len;
  uint64_t off;

  if (fs_cb_closing(c, UV_FS_READ))
    return;
  uv_fs_req_cleanup(req);
  c->fs_busy = 0;
  c->refs--;
  r->filling = NULL;
  if (res <= 0) {
    /* The file shrank or failed under us: the body cannot be completed. */
    b->busy = 0;
    conn_close(c);
    return;
  }
  r->produced -= want - (size_t)res;
  off = r->start + r->produced - (uint64_t)res;
  chunk_send(c, b, (size_t)res, off);
  resp_pump(c);
}

/* Take tokens for up to want bytes; 0 means wait for the next tick. */
static uint64_t rate_take(srv_conn *c, uint64_t want)
{
  uint64_t now = uv_hrtime();
  double burst = (double)c->rate * 0.02;
  uint64_t n;

  if (burst < 1.0)
    burst = 1.0;
  c->tokens += (double)(now - c->rate_t) * 1e-9 * (double)c->rate;
  c->rate_t = now;
  if (c->tokens > burst)
    c->tokens = burst;
  if (c->tokens < 1.0)
    return 0;
  n = (uint64_t)c->tokens;
  if (n > want)
    n = want;
  c->tokens -= (double)n;
  return n;
}

/*
 * Produce body chunks while a buffer is free and nothing holds the body
 * back (stall, rate), and finish the response when everything is written.
 */
static void resp_pump(srv_conn *c)
{
  srv_resp *r = &c->r;
  uv_buf_t ub;

  if (c->closing || !c->responding || r->phase != SRV_PH_BODY)
    return;
  while (!r->waiting && r->filling == NULL && r->produced < r->limit) {
    srv_buf *b = NULL;
    uint64_t want = r->limit - r->produced;
    uint64_t off;
    size_t i;

    for (i = 0; i < SRV_NBUFS; i++) {
      if (!c->bufs[i].busy) {
        b = &c->bufs[i];
        break;
      }
    }
    if (b == NULL)
      break;
    if (r->stall && r->produced >= r->stall_at) {
      r->stall = 0;
      conn_wait(c, r->stall_ms);
      break;
    }
    if (r->stall && r->stall_at - r->produced < want)
      want = r->stall_at - r->produced;
    if (want > SRV_CHUNK)
      want = SRV_CHUNK;
    if (c->rate != 0) {
      want = rate_take(c, want);
      if (want == 0) {
        conn_wait(c, SRV_RATE_TICK_MS);
        break;
      }
    }
    if (b->data == NULL) {
      b->data = malloc(SRV_CHUNK);
      if (b->data == NULL) {
        conn_close(c);
        return;
      }
    }
    b->conn = c;
    b->busy = 1;
    off = r->start + r->produced;
    r->produced += want;
    if (r->kind == SRV_K_GEN) {
      rf__gen_fill(b->data, off, (size_t)want, r->seed);
      chunk_send(c, b, (size_t)want, off);
      if (c->closing)
        return;
      continue;
    }
    b->content_len = (size_t)want;
    r->filling = b;
    ub = uv_buf_init(b->data, (unsigned)want);
    c->fs.data = c;
    if (uv_fs_read(c->srv->loop, &c->fs, r->fd, &ub, 1, (int64_t)off,
                   on_file_read) < 0) {
      r->filling = NULL;
      b->busy = 0;
      conn_close(c);
      return;
    }
    c->fs_busy = 1;
    c->refs++;
  }
  if (r->produced < r->limit || r->filling != NULL || r->waiting)
    return;
  if (r->chunked && !r->abort_after && !r->tail_sent && r->mkind == SRV_M_GET) {
    r->tail_sent = 1;
    memcpy(c->tail, "0\r\n\r\n", 5);
    ub = uv_buf_init(c->tail, 5);
    c->tail_req.data = c;
    if (uv_write(&c->tail_req, (uv_stream_t *)&c->tcp, &ub, 1,
                 on_tail_written) != 0) {
      conn_close(c);
      return;
    }
    c->writes++;
    return;
  }
  if (c->writes == 0)
    resp_end(c);
}

/* ------------------------------------------------------------- listener */

static void on_connection(uv_stream_t *listener, int status)
{
  rf_server *s = listener->data;
  srv_conn *c;

  if (status < 0 || s->closing)
    return;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->srv = s;
  c->r.fd = -1;
  c->crlf[0] = '\r';
  c->crlf[1] = '\n';
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->idle);
  uv_timer_init(s->loop, &c->fault);
  c->tcp.data = c;
  c->idle.data = c;
  c->fault.data = c;
  c->refs = 3;
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  atomic_fetch_add_explicit(&s->connections, 1, memory_order_relaxed);
  uv_tcp_nodelay(&c->tcp, 1);
  conn_touch(c);
  conn_read_start(c);
}

/* ------------------------------------------------------------ public API */

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
  struct sockaddr_storage bound;
  int namelen = (int)sizeof(bound);
  const char *host;
  char *root = NULL;
  struct stat st;
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

  root = realpath(opts->root, NULL);
  if (root == NULL) {
    rc = errno == EACCES   ? RF_EACCES
         : errno == ENOMEM ? RF_ENOMEM
         : errno == EIO    ? RF_EIO
                           : RF_ENOENT;
    goto out;
  }
  if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
    rc = RF_ENOENT;
    goto out;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL) {
    rc = RF_ENOMEM;
    goto out;
  }
  s->loop = opts->loop;
  s->root = root;
  s->root_len = strlen(root);
  root = NULL;
  s->log_cb = opts->log_cb;
  s->user_data = opts->user_data;
  s->idle_ms = SRV_IDLE_MS;
  atomic_init(&s->requests, 0);
  atomic_init(&s->body_bytes, 0);
  atomic_init(&s->connections, 0);
  rc = uv_tcp_init(s->loop, &s->listener);
  if (rc != 0) {
    rc = map_uv_error(rc);
    goto out;
  }
  s->listener.data = s;
  s->listener_open = 1;
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &namelen);
  if (rc != 0) {
    rc = map_uv_error(rc);
    /* The handle is released when the caller next runs the loop. */
    s->closing = 1;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    s = NULL;
    goto out;
  }
  if (bound.ss_family == AF_INET6)
    s->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
  else
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  *out = s;
  s = NULL;
  rc = 0;

out:
  if (s != NULL) {
    free(s->root);
    free(s);
  }
  free(root);
  return rc;
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
  for (c = server->conns; c != NULL; c = c->next)
    conn_close(c);
}

void rf__server_enable_testing(rf_server *s)
{
  s->testing = 1;
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
