/*
 * The range server answering one request (c->r): resolving its target,
 * deciding status and range, writing the head, pumping the body.  The
 * hooks (server/hooks.h) are consulted at the points that header names.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/conn.h"
#include "server/partial.h"
#include "util/http.h"

/* ---------------------------------------------------------------- heads */

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

  c->r.x.status = status;
  c->out[0] = '\0';
  rf__http_format_date(date, sizeof(date), (int64_t)time(NULL));
  out_add(c, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: rangefetch/%s\r\n", status,
          rf__srv_reason(status), date, RF_VERSION_STRING);
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
    r->req.keep_alive = 0;
  n = snprintf(body, sizeof(body), "%d %s\n", status, rf__srv_reason(status));
  out_begin(c, status);
  out_add(c, "Content-Type: text/plain\r\nContent-Length: %d\r\n%s%s\r\n", n,
          extra != NULL ? extra : "",
          r->req.keep_alive ? "" : "Connection: close\r\n");
  if (r->req.mkind != RF__SRV_M_HEAD) {
    out_add(c, "%s", body);
    r->text_len = (uint64_t)n;
  }
  r->kind = SRV_K_TEXT;
  rf__srv_send_head(c);
}

void rf__srv_answer_text(srv_conn *c, int status, const char *extra)
{
  resp_text(c, status, extra);
}

/* The response is complete: log, release, go on with the connection. */
static void resp_end(srv_conn *c)
{
  srv_resp *r = &c->r;
  int keep = r->req.keep_alive && !r->x.close_after;

  rf__srv_resp_log(c);
  rf__srv_release_file(c);
  c->responding = 0;
  if (!keep) {
    rf__srv_conn_linger(c);
    return;
  }
  rf__srv_resp_reset(c);
  rf__srv_conn_touch(c);
  rf__srv_conn_process(c);
}

/* The head or the chunked terminator is written. */
static void on_ctl_written(uv_write_t *req, int status)
{
  srv_conn *c = req->data;

  c->writes--;
  if (c->closing)
    return;
  if (status < 0) {
    rf__srv_conn_close(c);
    return;
  }
  if (req == &c->head_req)
    c->r.sent += c->r.text_len;
  rf__srv_conn_touch(c);
  rf__srv_pump(c);
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
    rf__srv_conn_close(c);
    return;
  }
  c->r.sent += b->content_len;
  atomic_fetch_add_explicit(&c->srv->body_bytes, b->content_len,
                            memory_order_relaxed);
  rf__srv_conn_touch(c);
  rf__srv_pump(c);
}

/* Write the response head (after its delay, if any). */
void rf__srv_send_head(srv_conn *c)
{
  srv_resp *r = &c->r;
  uv_buf_t ub;

  if (c->closing)
    return;
  if (r->x.delay_ms != 0) {
    rf__srv_conn_wait(c, r->x.delay_ms);
    return;
  }
  r->phase = SRV_PH_BODY;
  ub = uv_buf_init(c->out, (unsigned)strlen(c->out));
  c->head_req.data = c;
  if (uv_write(&c->head_req, (uv_stream_t *)&c->tcp, &ub, 1, on_ctl_written) !=
      0) {
    rf__srv_conn_close(c);
    return;
  }
  c->writes++;
}

/* ---------------------------------------------------- status and range */

/* Decide status and body slice from Range and If-Range (no hooks yet). */
static void resp_decide(srv_resp *r)
{
  rf__srv_exchange *x = &r->x;
  int use_range = r->req.range_seen && !r->req.range_bad && !x->ignore_range;
  int rc = -1;
  uint64_t first = 0;
  uint64_t last = 0;

  if (use_range && r->req.if_range_seen &&
      !rf__srv_if_range_matches(&r->req, x->etag, x->lastmod))
    use_range = 0;
  if (use_range)
    rc = rf__srv_range_eval(r->req.range, x->size, &first, &last);
  x->status = rc == 0 ? 416 : rc == 1 ? 206 : 200;
  x->start = rc == 1 ? first : 0;
  x->len = rc == 1 ? last - first + 1 : rc == 0 ? 0 : x->size;
  x->limit = UINT64_MAX;
}

/* Write the head of an entity response as x now says. */
static void resp_entity_head(srv_conn *c)
{
  const rf__srv_exchange *x = &c->r.x;

  out_begin(c, x->status);
  if (x->status == 416)
    out_add(c, "Content-Range: bytes */%" PRIu64 "\r\n", x->size);
  else if (x->status == 206)
    out_add(c, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
            x->start, x->start + x->len - 1, x->size);
  if (!x->ignore_range)
    out_add(c, "Accept-Ranges: bytes\r\n");
  if (x->etag[0] != '\0')
    out_add(c, "ETag: %s\r\n", x->etag);
  if (x->lastmod[0] != '\0')
    out_add(c, "Last-Modified: %s\r\n", x->lastmod);
  out_add(c, "Content-Type: application/octet-stream\r\n");
  if (x->chunked)
    out_add(c, "Transfer-Encoding: chunked\r\n");
  else
    out_add(c, "Content-Length: %" PRIu64 "\r\n", x->len);
  if (!c->r.req.keep_alive)
    out_add(c, "Connection: close\r\n");
  if (x->extra[0] != '\0')
    out_add(c, "%s", x->extra);
  out_add(c, "\r\n");
}

/* Status and slice are decided (c->r.x): write the head, then the body. */
void rf__srv_answer_entity(srv_conn *c)
{
  srv_resp *r = &c->r;
  rf__srv_exchange *x = &r->x;

  if (!r->req.http11)
    x->chunked = 0;
  r->limit = !x->is_get ? 0 : x->limit < x->len ? x->limit : x->len;
  resp_entity_head(c);
  rf__srv_send_head(c);
}

/*
 * The entity is known (kind, size, validators): let the hooks see it,
 * choose the status and the body slice, write the head.
 */
static void resp_ready(srv_conn *c)
{
  rf_server *s = c->srv;
  srv_resp *r = &c->r;
  rf__srv_exchange *x = &r->x;

  if (s->hooks->entity != NULL)
    s->hooks->entity(s->hooks_ctx, x);
  resp_decide(r);
  if (s->hooks->range != NULL)
    s->hooks->range(s->hooks_ctx, x);
  rf__srv_answer_entity(c);
}

/* ----------------------------------------------------------------- files */

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
  rf__srv_release_file(c);
  rf__srv_conn_unref(c);
  return 1;
}

/* The fs request in flight is done (its result handled or failed). */
static void fs_done(srv_conn *c)
{
  c->fs_busy = 0;
  c->refs--;
}

static void on_fs_stat(uv_fs_t *req)
{
  srv_conn *c = req->data;
  rf__srv_exchange *x = &c->r.x;
  uv_stat_t st;
  ssize_t res = req->result;
  uint64_t mtime_ns;

  if (fs_cb_closing(c, UV_FS_FSTAT))
    return;
  st = req->statbuf;
  uv_fs_req_cleanup(req);
  fs_done(c);
  if (res < 0) {
    resp_text(c, fs_status(res), NULL);
    return;
  }
  if ((st.st_mode & S_IFMT) != S_IFREG) {
    resp_text(c, 403, NULL);
    return;
  }
  c->r.kind = SRV_K_FILE;
  x->size = st.st_size;
  x->mtime = (int64_t)st.st_mtim.tv_sec;
  mtime_ns = (uint64_t)st.st_mtim.tv_sec * UINT64_C(1000000000) +
             (uint64_t)st.st_mtim.tv_nsec;
  snprintf(x->etag, sizeof(x->etag), "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
           x->size, mtime_ns, st.st_ino);
  rf__http_format_date(x->lastmod, sizeof(x->lastmod), x->mtime);
  resp_ready(c);
}

static void on_fs_open(uv_fs_t *req)
{
  srv_conn *c = req->data;
  ssize_t res = req->result;

  if (fs_cb_closing(c, UV_FS_OPEN))
    return;
  uv_fs_req_cleanup(req);
  if (res < 0) {
    fs_done(c);
    resp_text(c, fs_status(res), NULL);
    return;
  }
  c->r.fd = (uv_file)res;
  c->fs.data = c;
  if (uv_fs_fstat(c->srv->loop, &c->fs, c->r.fd, on_fs_stat) < 0) {
    fs_done(c);
    resp_text(c, 500, NULL);
  }
}

/*
 * Whether resolved (an absolute, symlink-free path) is inside root (a real
 * path of root_len bytes).  Pure: the partial-file jobs call it on the
 * thread pool.
 */
int rf__srv_path_inside(const char *root, size_t root_len,
                        const char *resolved)
{
  if (root_len == 1)
    return resolved[0] == '/';
  return strncmp(resolved, root, root_len) == 0 &&
         (resolved[root_len] == '\0' || resolved[root_len] == '/');
}

static void on_fs_realpath(uv_fs_t *req)
{
  srv_conn *c = req->data;
  rf_server *s = c->srv;
  ssize_t res = req->result;
  char *resolved;

  if (fs_cb_closing(c, UV_FS_REALPATH))
    return;
  if (res == UV_ENOENT && s->partials != NULL && !c->r.partial_tried) {
    /* Perhaps a download in progress: NAME.part and its journal. */
    char *full = strdup(req->path);
    uv_fs_req_cleanup(req);
    fs_done(c);
    if (full == NULL)
      resp_text(c, 500, NULL);
    else
      rf__srv_partial_start(c, full);
    return;
  }
  if (res < 0 || !rf__srv_path_inside(s->root, s->root_len, req->ptr)) {
    uv_fs_req_cleanup(req);
    fs_done(c);
    resp_text(c, res < 0 ? fs_status(res) : 403, NULL);
    return;
  }
  /* uv_fs_open copies the path before the request is reused. */
  resolved = strdup(req->ptr);
  uv_fs_req_cleanup(req);
  if (resolved == NULL) {
    fs_done(c);
    resp_text(c, 500, NULL);
    return;
  }
  c->fs.data = c;
  if (uv_fs_open(c->srv->loop, &c->fs, resolved, O_RDONLY | O_CLOEXEC, 0,
                 on_fs_open) < 0) {
    fs_done(c);
    resp_text(c, 500, NULL);
  }
  free(resolved);
}

/* Look up path (decoded) under the root: realpath, open, fstat. */
void rf__srv_resolve_file(srv_conn *c, const char *path)
{
  rf_server *s = c->srv;
  char *full = malloc(s->root_len + strlen(path) + 1);

  if (full == NULL) {
    resp_text(c, 500, NULL);
    return;
  }
  memcpy(full, s->root, s->root_len);
  strcpy(full + s->root_len, path);
  c->fs.data = c;
  if (uv_fs_realpath(s->loop, &c->fs, full, on_fs_realpath) < 0) {
    resp_text(c, 500, NULL);
  } else {
    c->fs_busy = 1;
    c->refs++;
  }
  free(full);
}

/* ------------------------------------------------------------- requests */

/* Answer a GET or HEAD whose target is r->req.target. */
static void req_resolve(srv_conn *c)
{
  rf_server *s = c->srv;
  const char *target = c->r.req.target;
  const char *qmark = strchr(target, '?');
  size_t plen = qmark != NULL ? (size_t)(qmark - target) : strlen(target);
  char *path = malloc(plen + 1);
  int st;

  if (path == NULL) {
    resp_text(c, 500, NULL);
    return;
  }
  st = rf__srv_path_decode(target, plen, path, plen + 1);
  if (st == 0 && s->hooks->resolve != NULL)
    st = s->hooks->resolve(s->hooks_ctx, &c->r.x, path);
  if (st == RF__SRV_VIRTUAL) {
    c->r.kind = SRV_K_VIRTUAL;
    resp_ready(c);
  } else if (st != 0) {
    resp_text(c, st, NULL);
  } else {
    rf__srv_resolve_file(c, path);
  }
  free(path);
}

/* Answer the request parsed into c->r. */
void rf__srv_req_start(srv_conn *c)
{
  rf_server *s = c->srv;
  srv_resp *r = &c->r;
  int st;

  atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
  r->phase = SRV_PH_RESOLVE;
  if (r->req.parse_status != 0) {
    resp_text(c, r->req.parse_status, NULL);
    return;
  }
  if (r->req.mkind == RF__SRV_M_OTHER) {
    resp_text(c, 405, "Allow: GET, HEAD\r\n");
    return;
  }
  r->x.target = r->req.target;
  r->x.head = r->req.head != NULL ? r->req.head : "";
  r->x.is_get = r->req.mkind == RF__SRV_M_GET;
  r->x.http11 = r->req.http11;
  if (s->hooks->request != NULL) {
    st = s->hooks->request(s->hooks_ctx, &r->x);
    if (st != 0) {
      resp_text(c, st, r->x.extra);
      return;
    }
  }
  req_resolve(c);
}

/* ----------------------------------------------------------------- body */

/* Send n content bytes of b, which start at content offset off. */
static void chunk_send(srv_conn *c, srv_buf *b, size_t n, uint64_t off)
{
  rf_server *s = c->srv;
  srv_resp *r = &c->r;
  uv_buf_t ub[3];
  unsigned nb = 0;

  if (s->hooks->body != NULL)
    s->hooks->body(s->hooks_ctx, &r->x, b->data, n, off);
  if (r->x.chunked) {
    int pl = snprintf(b->pre, sizeof(b->pre), "%zx\r\n", n);
    ub[nb++] = uv_buf_init(b->pre, (unsigned)pl);
  }
  ub[nb++] = uv_buf_init(b->data, (unsigned)n);
  if (r->x.chunked)
    ub[nb++] = uv_buf_init(c->crlf, 2);
  b->content_len = n;
  b->req.data = b;
  if (uv_write(&b->req, (uv_stream_t *)&c->tcp, ub, nb, on_body_written) != 0) {
    b->busy = 0;
    rf__srv_conn_close(c);
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
  fs_done(c);
  r->filling = NULL;
  if (res <= 0) {
    /* The file shrank or failed under us: the body cannot be completed. */
    b->busy = 0;
    rf__srv_conn_close(c);
    return;
  }
  r->produced -= want - (size_t)res;
  off = r->x.start + r->produced - (uint64_t)res;
  chunk_send(c, b, (size_t)res, off);
  rf__srv_pump(c);
}

/* A free body buffer with its memory, or NULL (none free, or no memory). */
static srv_buf *buf_get(srv_conn *c, int *oom)
{
  srv_buf *b = NULL;

  for (size_t i = 0; i < SRV_NBUFS && b == NULL; i++) {
    if (!c->bufs[i].busy)
      b = &c->bufs[i];
  }
  if (b != NULL && b->data == NULL) {
    b->data = malloc(SRV_CHUNK);
    if (b->data == NULL) {
      *oom = 1;
      return NULL;
    }
  }
  return b;
}

/*
 * Produce want body bytes into b: from the virtual entity at once, or by a
 * file read that on_file_read completes.  Returns 0, or -1 after closing
 * the connection.
 */
static int body_produce(srv_conn *c, srv_buf *b, uint64_t want)
{
  rf_server *s = c->srv;
  srv_resp *r = &c->r;
  uint64_t off = r->x.start + r->produced;
  uv_buf_t ub;

  b->conn = c;
  b->busy = 1;
  r->produced += want;
  if (r->kind == SRV_K_VIRTUAL) {
    s->hooks->read(s->hooks_ctx, &r->x, b->data, off, (size_t)want);
    chunk_send(c, b, (size_t)want, off);
    return c->closing ? -1 : 0;
  }
  b->content_len = (size_t)want;
  r->filling = b;
  ub = uv_buf_init(b->data, (unsigned)want);
  c->fs.data = c;
  if (uv_fs_read(s->loop, &c->fs, r->fd, &ub, 1, (int64_t)off, on_file_read) <
      0) {
    r->filling = NULL;
    b->busy = 0;
    rf__srv_conn_close(c);
    return -1;
  }
  c->fs_busy = 1;
  c->refs++;
  return 0;
}

/* Every body byte is produced: the chunked terminator, or the end. */
static void body_finish(srv_conn *c)
{
  srv_resp *r = &c->r;
  uv_buf_t ub;

  if (r->x.chunked && !r->x.close_after && !r->tail_sent && r->x.is_get) {
    r->tail_sent = 1;
    memcpy(c->tail, "0\r\n\r\n", 5);
    ub = uv_buf_init(c->tail, 5);
    c->tail_req.data = c;
    if (uv_write(&c->tail_req, (uv_stream_t *)&c->tcp, &ub, 1,
                 on_ctl_written) != 0) {
      rf__srv_conn_close(c);
      return;
    }
    c->writes++;
    return;
  }
  if (c->writes == 0)
    resp_end(c);
}

/* ------------------------------------------------------------ sendfile */

#define SRV_SF_MAX ((size_t)4 << 20) /* bytes per turn of the loop, at most */

/* A file body nothing must see or pace goes out with sendfile(2): no copy
 * through user memory, no body buffers (nginx's sendfile on).  Not with
 * hooks that read or pace bodies, a rate limit, or chunked encoding. */
static int use_sendfile(const srv_conn *c)
{
  const rf_server *s = c->srv;
  const srv_resp *r = &c->r;

  return r->kind == SRV_K_FILE && r->x.is_get && !r->x.chunked &&
         s->hooks->body == NULL && s->hooks->pace == NULL && s->rate == 0;
}

static void sendfile_pump(srv_conn *c);

static void on_sendfile_writable(uv_poll_t *p, int status, int events)
{
  srv_conn *c = p->data;

  (void)events;
  uv_poll_stop(p);
  if (c->closing)
    return;
  if (status < 0) {
    rf__srv_conn_close(c);
    return;
  }
  sendfile_pump(c);
}

/* Send what the socket takes now; wait for writability when it is full
 * (the idle timer goes on: a peer that stops reading is dropped). */
static void sendfile_pump(srv_conn *c)
{
  srv_resp *r = &c->r;
  size_t turn = 0;

  while (r->produced < r->limit && turn < SRV_SF_MAX) {
    off_t off = (off_t)(r->x.start + r->produced);
    uint64_t want = r->limit - r->produced;
    ssize_t n;

    if (want > SRV_SF_MAX - turn)
      want = SRV_SF_MAX - turn;
    n = sendfile(c->sf_fd, r->fd, &off, (size_t)want);
    if (n > 0) {
      r->produced += (uint64_t)n;
      r->sent += (uint64_t)n;
      turn += (size_t)n;
      atomic_fetch_add_explicit(&c->srv->body_bytes, (uint64_t)n,
                                memory_order_relaxed);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      if (uv_poll_start(&c->sf_poll, UV_WRITABLE, on_sendfile_writable) != 0)
        rf__srv_conn_close(c);
      rf__srv_conn_touch(c);
      return;
    }
    /* 0: the file shrank under us; < 0: the peer is gone, or a read
     * error.  The body cannot be completed. */
    rf__srv_conn_close(c);
    return;
  }
  rf__srv_conn_touch(c);
  if (r->produced < r->limit) {
    /* A full turn: let the other connections have theirs first. */
    if (uv_poll_start(&c->sf_poll, UV_WRITABLE, on_sendfile_writable) != 0)
      rf__srv_conn_close(c);
    return;
  }
  resp_end(c);
}

/*
 * Produce body chunks while a buffer is free and the pace hook lets them
 * go, and finish the response when everything is written.
 */
void rf__srv_pump(srv_conn *c)
{
  rf_server *s = c->srv;
  srv_resp *r = &c->r;

  if (c->closing || !c->responding || r->phase != SRV_PH_BODY)
    return;
  if (use_sendfile(c) && r->produced < r->limit) {
    /* After the head's write: the body must not overtake it. */
    if (c->writes > 0)
      return;
    if (rf__srv_sendfile_open(c) != 0) {
      rf__srv_conn_close(c);
      return;
    }
    sendfile_pump(c);
    return;
  }
  while (!r->waiting && !c->rl_queued && r->filling == NULL &&
         r->produced < r->limit) {
    uint64_t want = r->limit - r->produced;
    uint64_t wait_ms = 0;
    int oom = 0;
    srv_buf *b = buf_get(c, &oom);

    if (oom) {
      rf__srv_conn_close(c);
      return;
    }
    if (b == NULL)
      break;
    if (want > SRV_CHUNK)
      want = SRV_CHUNK;
    if (s->hooks->pace != NULL) {
      want = s->hooks->pace(s->hooks_ctx, &r->x, r->produced, want, &wait_ms);
      if (want == 0) {
        rf__srv_conn_wait(c, wait_ms);
        break;
      }
    }
    if (s->rate != 0) {
      want = rf__srv_rate_take(c, want);
      if (want == 0)
        break; /* queued: the rate timer pumps again */
    }
    if (body_produce(c, b, want) != 0)
      return;
  }
  if (r->produced < r->limit || r->filling != NULL || r->waiting ||
      c->rl_queued)
    return;
  body_finish(c);
}
