/*
 * One HTTP range request on one connection: easy-handle setup, response
 * header parsing, and the write callback that checks every byte against the
 * range asked for, hashes it into its piece and copies it into a staging
 * block for the writer thread.
 */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/socket.h>

#include "util/http.h"
#include "proxy/candidate.h"
#include "rangefetch/manifest.h"

#include <openssl/evp.h>

#ifdef RF_HAVE_XXH_DISPATCH
#  include <xxh_x86dispatch.h>
#endif

/* Bytes hashed then copied at a time (fits L1 with room to spare). */
#define RF__FUSE_SLICE ((size_t)16 * 1024)

/* Error bodies (404 pages...) we read and forget before giving up. */
#define RF__MAX_DISCARD (64 * 1024)

/*
 * A fast response is read in batches: SO_RCVLOWAT makes the kernel wake us
 * only when RF__LOWAT_MAX-ish bytes are queued, instead of for every segment
 * the sender writes.  That saves our wake-ups and recv() calls, and above
 * all the sender's: on one machine (a proxy such as squid writing 4 KiB at a
 * time, bench/RESULTS.md) the wake-up is paid by the sender's CPU.
 *
 * Safety: the low-water mark is raised only while more than RF__LOWAT_TAIL
 * bytes of the response are still to come, and only for a 206 whose range
 * ends where the request ends, so the bytes waited for always come; it is
 * back to 1 before the last RF__LOWAT_TAIL bytes, so a kept-alive
 * connection goes back to the pool as it came.  It is sized to at most
 * RF__LOWAT_WAIT_NS of data at the rate seen so far (no stall detection
 * is fooled), and dropped when a connection goes quiet (rf__conn_lowat_off).
 * The kernel still wakes us when the receive window is nearly full.
 * Not over TLS (an https origin or an HTTPS proxy): see lowat_fits().
 */
#define RF__LOWAT_MAX     (128u * 1024)
#define RF__LOWAT_MIN     (32u * 1024)
#define RF__LOWAT_TAIL    ((uint64_t)4 * RF__LOWAT_MAX)
#define RF__LOWAT_WAIT_NS 4000000.0
#define RF__LOWAT_EVERY   ((uint64_t)256 * 1024)

static void set_lowat(rf__conn *c, unsigned want)
{
#ifdef SO_RCVLOWAT
  int v = want > 0 ? (int)want : 1;

  if (c->fd == CURL_SOCKET_BAD && want > 0)
    c->fd = rf__engine_conn_socket(c->job->engine, c->easy);
  if (c->fd != CURL_SOCKET_BAD &&
      setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)) == 0) {
    RF_LOG(&c->job->engine->log, RF_LOG_DEBUG, "conn",
           "connection %u: SO_RCVLOWAT %d (%llu bytes of the response to come)",
           c->id, v, (unsigned long long)(c->req_end - c->pos));
    c->lowat = want;
  } else {
    c->lowat = 0;
  }
#else
  (void)c;
  (void)want;
#endif
}

void rf__conn_lowat_off(rf__conn *c)
{
  if (c->lowat > 0)
    set_lowat(c, 0);
}

/* Whether the reads of this response may be batched: a 206 whose range
 * ends where the request ends (the bytes waited for always come), and not
 * over TLS, where libcurl 7.88 reads one 16 KiB record per wake-up anyway
 * (a raised mark would only keep more bytes queued). */
static int lowat_fits(rf__conn *c)
{
  char *scheme = NULL;

  if (c->has_cr != 1 || c->cr_last + 1 != c->req_end)
    return 0;
  if (c->applied != NULL && c->applied->type == RF_PROXY_HTTPS)
    return 0;
  return curl_easy_getinfo(c->easy, CURLINFO_SCHEME, &scheme) != CURLE_OK ||
         scheme == NULL || strcasecmp(scheme, "https") != 0;
}

/* From the write callback, after every chunk: two comparisons unless the
 * mark is due for a change. */
static void tune_lowat(rf__conn *c)
{
  uint64_t now;
  unsigned want;
  double rate;

  if (c->lowat > 0 && c->req_end - c->pos <= RF__LOWAT_TAIL) {
    set_lowat(c, 0); /* the tail: back to 1 byte */
    return;
  }
  if (c->pos < c->lowat_check)
    return;
  if (c->lowat_check == 0) { /* the response's first body bytes */
    c->lowat_check =
        lowat_fits(c) ? c->req_start + RF__LOWAT_EVERY : UINT64_MAX;
    return;
  }
  c->lowat_check = c->pos + RF__LOWAT_EVERY;
  if (c->req_end - c->pos <= RF__LOWAT_TAIL)
    return;
  /* The rate since the request was sent: bytes that queued up while the
   * loop was busy elsewhere cannot make it look faster than the server
   * sends (timed from the first byte, a 200 ms backlog read in one go
   * once raised the mark on a 1 MB/s connection). */
  now = uv_hrtime();
  if (now <= c->req_t0 + 1000000)
    return;
  rate = (double)(c->pos - c->req_start) / (double)(now - c->req_t0);
  want = RF__LOWAT_MAX;
  while (want >= RF__LOWAT_MIN && (double)want > rate * RF__LOWAT_WAIT_NS)
    want /= 2;
  if (want < RF__LOWAT_MIN)
    want = 0;
  if (want != c->lowat)
    set_lowat(c, want);
}

void rf__conn_reset_response(rf__conn *c)
{
  c->lowat_check = 0; /* (the mark and its socket: conn_remove) */
  c->status = 0;
  c->headers_done = 0;
  c->accepted = 0;
  /* (probe_discard belongs to the request: set by whoever starts one) */
  c->etag[0] = '\0';
  c->last_modified[0] = '\0';
  c->reason[0] = '\0';
  c->has_cr = 0;
  c->cr_first = c->cr_last = 0;
  c->cr_total = RF_SIZE_UNKNOWN;
  c->content_length = -1;
  c->accept_ranges = 0;
  c->retry_after_ms = 0;
  c->has_retry_after = 0;
  c->has_location = 0;
  c->content_encoding[0] = '\0';
  c->multipart = 0;
}

static void copy_value(char *dst, size_t size, const char *v, size_t len)
{
  if (len >= size)
    len = size - 1;
  memcpy(dst, v, len);
  dst[len] = '\0';
}

/* "HTTP/1.1 206 Partial Content": a new response (the first, after a
 * redirect, or after a 100). */
static void status_line(rf__conn *c, const char *buf, size_t len)
{
  const char *sp = memchr(buf, ' ', len), *p;
  size_t rest;
  long code = 0;

  rf__conn_reset_response(c);
  if (sp == NULL)
    return;
  rest = len - (size_t)(sp + 1 - buf);
  p = sp + 1;
  while (rest > 0 && *p >= '0' && *p <= '9') {
    code = code * 10 + (*p - '0');
    p++;
    rest--;
  }
  c->status = code;
  while (rest > 0 && *p == ' ') {
    p++;
    rest--;
  }
  while (rest > 0 && (p[rest - 1] == '\r' || p[rest - 1] == '\n'))
    rest--;
  copy_value(c->reason, sizeof(c->reason), p, rest);
}

/* The blank line after a response's headers: is this the answer to
 * check (and then, is it accepted), or one libcurl deals with? */
static void headers_end(rf__conn *c)
{
  if (c->status >= 100 && c->status < 200)
    return; /* interim answer: the real one follows */
  if (c->status >= 300 && c->status < 400 && c->has_location)
    return; /* libcurl follows it */
  c->headers_done = 1;
  if (c->status == 407)
    return; /* The proxy wants authentication: libcurl answers the
               challenge and asks again (that body is never handed to
               us), or it gives up and the job reports it
               (rf__proxy_classify).  Not an answer of the server. */
  if (rf__job_validate(c->job, c) != 0) {
    c->stop = RF__STOP_ERROR;
    /* Keep a small error body flowing so the connection may be reused;
     * the write callback gives up past RF__MAX_DISCARD. */
    return;
  }
  c->accepted = 1;
}

/* The origin's first answer may announce mirrors (Link: rel=duplicate)
 * and the whole content's SHA-256 (Repr-Digest, or the older Digest):
 * noted on the job; a malformed one is logged and ignored. */
static void origin_field(rf__conn *c, const char *buf, size_t len)
{
  rf_job *job = c->job;
  const char *v;
  size_t vl;
  char err[300];
  int rc;

  err[0] = '\0';
  if (rf__header_match(buf, len, "Link", &v, &vl)) {
    char *base = NULL;
    if (job->no_mirror_links || job->single)
      return;
    curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &base);
    rc = rf__parse_link_mirrors(v, vl, base != NULL ? base : job->url,
                                &job->links, err, sizeof(err));
    if (rc != 0 || err[0] != '\0')
      RF_LOG(&job->engine->log, RF_LOG_WARN, "source",
             "the origin's Link header: %s", err[0] ? err : rf_strerror(rc));
  } else if (rf__header_match(buf, len, "Repr-Digest", &v, &vl)) {
    rc = rf__parse_repr_digest(v, vl, job->repr_sha256, err, sizeof(err));
    if (rc == 1) {
      job->has_repr = 1;
      snprintf(job->repr_from, sizeof(job->repr_from), "Repr-Digest");
    } else if (rc < 0) {
      RF_LOG(&job->engine->log, RF_LOG_WARN, "verify",
             "the origin's Repr-Digest is malformed (%s): not used", err);
    }
  } else if (rf__header_match(buf, len, "Digest", &v, &vl) &&
             strcmp(job->repr_from, "Repr-Digest") != 0) {
    /* RFC 9530 obsoletes Digest: Repr-Digest wins when both come. */
    rc = rf__parse_digest(v, vl, job->repr_sha256, err, sizeof(err));
    if (rc == 1) {
      job->has_repr = 1;
      snprintf(job->repr_from, sizeof(job->repr_from), "Digest");
    } else if (rc < 0) {
      RF_LOG(&job->engine->log, RF_LOG_WARN, "verify",
             "the origin's Digest is malformed (%s): not used", err);
    }
  }
}

/* One header field of the response: keep what the checks need. */
static void header_field(rf__conn *c, const char *buf, size_t len)
{
  const char *v;
  size_t vl;

  if (rf__header_match(buf, len, "Content-Range", &v, &vl)) {
    rf__content_range cr;
    if (rf__parse_content_range(v, vl, &cr) == 0) {
      c->has_cr = cr.unsatisfied ? 2 : 1;
      c->cr_first = cr.first;
      c->cr_last = cr.last;
      c->cr_total = cr.complete;
    } else {
      c->has_cr = -1; /* present but malformed */
    }
  } else if (rf__header_match(buf, len, "ETag", &v, &vl)) {
    copy_value(c->etag, sizeof(c->etag), v, vl);
  } else if (rf__header_match(buf, len, "Last-Modified", &v, &vl)) {
    copy_value(c->last_modified, sizeof(c->last_modified), v, vl);
  } else if (rf__header_match(buf, len, "Content-Length", &v, &vl)) {
    uint64_t n = 0;
    char tmp[32];
    copy_value(tmp, sizeof(tmp), v, vl);
    if (rf_parse_size(&n, tmp) == 0 && tmp[0] != '\0' &&
        tmp[strlen(tmp) - 1] >= '0' && tmp[strlen(tmp) - 1] <= '9' &&
        n <= INT64_MAX)
      c->content_length = (int64_t)n;
  } else if (rf__header_match(buf, len, "Accept-Ranges", &v, &vl)) {
    c->accept_ranges = vl >= 5 && strncmp(v, "bytes", 5) == 0;
  } else if (rf__header_match(buf, len, "Retry-After", &v, &vl)) {
    uint64_t ms;
    if (rf__parse_retry_after(v, vl, (int64_t)time(NULL), &ms) == 0) {
      c->retry_after_ms = ms;
      c->has_retry_after = 1;
    }
  } else if (rf__header_match(buf, len, "Location", &v, &vl)) {
    c->has_location = 1;
  } else if (rf__header_match(buf, len, "Content-Encoding", &v, &vl)) {
    copy_value(c->content_encoding, sizeof(c->content_encoding), v, vl);
  } else if (rf__header_match(buf, len, "Content-Type", &v, &vl)) {
    c->multipart = vl >= 20 && strncasecmp(v, "multipart/byteranges", 20) == 0;
  } else if (c->role == RF__ROLE_PROBE) {
    origin_field(c, buf, len);
  }
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
  rf__conn *c = ud;
  size_t len = size * nitems;

  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
    status_line(c, buf, len);
  else if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n'))
    headers_end(c);
  else
    header_field(c, buf, len);
  return len;
}

static uint64_t piece_end(const rf_job *job, uint32_t i)
{
  uint64_t off, len;

  rf__sched_piece_range(&job->sched, i, &off, &len);
  return off + len;
}

/* How many fresh blocks taking n bytes at c->pos would need. */
static unsigned blocks_needed(const rf__conn *c, size_t n)
{
  const rf_job *job = c->job;
  size_t cap = job->store.block_size;
  size_t space = c->blk != NULL ? c->blk->cap - c->blk->len : 0;
  uint64_t pos = c->pos;
  uint32_t piece = c->piece;
  unsigned need = 0;

  while (n > 0) {
    uint64_t left = UINT64_MAX, ch;
    if (space == 0) {
      need++;
      space = cap;
    }
    if (rf__job_by_piece(job))
      left = piece_end(job, piece) - pos;
    ch = n;
    if (ch > space)
      ch = space;
    if (ch > left)
      ch = left;
    n -= (size_t)ch;
    pos += ch;
    space -= (size_t)ch;
    if (ch == left) {
      space = 0;
      piece++;
    }
  }
  return need;
}

void rf__conn_flush_block(rf__conn *c)
{
  rf__block *b = c->blk;

  if (b == NULL)
    return;
  c->blk = NULL;
  if (rf__job_holds_pieces(c->job)) {
    b->next = NULL;
    if (c->chain_tail != NULL)
      c->chain_tail->next = b;
    else
      c->chain = b;
    c->chain_tail = b;
    return;
  }
  c->job->sent += b->len;
  rf__store_submit(&c->job->store, b);
}

void rf__conn_drop_block(rf__conn *c)
{
  rf__block *b;

  if (c->blk != NULL) {
    rf__store_drop(&c->job->store, c->blk);
    c->blk = NULL;
  }
  while ((b = c->chain) != NULL) {
    c->chain = b->next;
    rf__store_drop(&c->job->store, b);
  }
  c->chain_tail = NULL;
}

void rf__conn_chain_submit(rf__conn *c)
{
  rf__block *b;

  rf__conn_flush_block(c); /* (none: a piece's end flushed it) */
  while ((b = c->chain) != NULL) {
    c->chain = b->next;
    c->job->sent += b->len;
    rf__store_submit(&c->job->store, b);
  }
  c->chain_tail = NULL;
}

/* Take n bytes (already checked to fit the range and the pool).  Returns
 * 0, or RF_ENOMEM when a staging block could not be allocated (c's error
 * is set: the transfer must stop). */
static int take(rf__conn *c, const unsigned char *p, size_t n)
{
  rf_job *job = c->job;

  if (job->first_byte_ns == 0 && n > 0)
    job->first_byte_ns = uv_hrtime();

  while (n > 0) {
    size_t ch = n;
    uint64_t pend = 0;

    if (c->blk == NULL) {
      c->blk = rf__store_get(&job->store);
      if (c->blk == NULL) {
        c->stop = RF__STOP_ERROR;
        rf__conn_set_error(c, RF_ENOMEM, 0,
                           "out of memory (a staging block of %zu bytes)",
                           job->store.block_size);
        return RF_ENOMEM;
      }
      c->blk->off = c->pos;
    }
    if (ch > c->blk->cap - c->blk->len)
      ch = c->blk->cap - c->blk->len;
    if (rf__job_by_piece(job)) {
      pend = piece_end(job, c->piece);
      if (ch > pend - c->pos)
        ch = (size_t)(pend - c->pos);
      if (c->piece_fresh) {
        XXH3_128bits_reset(c->hash);
        if (job->manifest_sha256_pieces && !job->no_verify) {
          if (c->sha == NULL)
            c->sha = EVP_MD_CTX_new();
          if (c->sha == NULL ||
              EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL) != 1) {
            EVP_MD_CTX_free(c->sha);
            c->sha = NULL; /* the piece then fails its check: fetched again */
          }
        }
        c->piece_fresh = 0;
      }
    }
    if (rf__job_by_piece(job) && !job->no_verify) {
      /* Hash and copy slice by slice: the copy reads what the hash just
       * brought into L1, instead of a second pass over up to a MiB. */
      size_t off = 0;
      while (off < ch) {
        size_t sl = ch - off < RF__FUSE_SLICE ? ch - off : RF__FUSE_SLICE;
        XXH3_128bits_update(c->hash, p + off, sl);
        if (c->sha != NULL && job->manifest_sha256_pieces)
          EVP_DigestUpdate(c->sha, p + off, sl);
        memcpy(c->blk->data + c->blk->len + off, p + off, sl);
        off += sl;
      }
    } else {
      memcpy(c->blk->data + c->blk->len, p, ch);
    }
    c->blk->len += ch;
    c->pos += ch;
    c->bytes_total += ch;
    c->src->net_bytes += ch;
    job->received += ch;
    p += ch;
    n -= ch;
    if (c->blk->len == c->blk->cap)
      rf__conn_flush_block(c);
    if (rf__job_by_piece(job) && c->pos == pend) {
      uint32_t done = c->piece;
      unsigned char sha[32];
      const unsigned char *shap = NULL;
      if (c->sha != NULL && job->manifest_sha256_pieces &&
          EVP_DigestFinal_ex(c->sha, sha, NULL) == 1)
        shap = sha;
      rf__conn_flush_block(c);
      c->piece++;
      c->piece_fresh = 1;
      rf__job_piece_done(job, c, done, XXH3_128bits_digest(c->hash), shap);
      /* A held piece that was not handed over (bad, or already had). */
      rf__conn_drop_block(c);
      if (c->stop != RF__STOP_NONE)
        return 0; /* (a single stream's bad piece: on_write stops it) */
    }
  }
  return 0;
}

#define RF__MAX_MANIFEST ((size_t)RF_MANIFEST_MAX_TEXT)

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
  rf__conn *c = ud;
  rf_job *job = c->job;
  size_t len = size * nmemb, n = len;

  if (c->role == RF__ROLE_MANIFEST && c->accepted) {
    char *grown;
    if (job->manifest_len + len > RF__MAX_MANIFEST) {
      c->stop = RF__STOP_ERROR;
      c->err = RF_ETOOBIG;
      c->retryable = 0;
      snprintf(c->errmsg, sizeof(c->errmsg),
               "the manifest is larger than %zu MiB", RF__MAX_MANIFEST >> 20);
      return CURL_WRITEFUNC_ERROR;
    }
    grown = realloc(job->manifest_buf, job->manifest_len + len + 1);
    if (grown == NULL) {
      c->stop = RF__STOP_ERROR;
      rf__conn_set_error(c, RF_ENOMEM, 0, "out of memory (the manifest)");
      return CURL_WRITEFUNC_ERROR;
    }
    job->manifest_buf = grown;
    memcpy(job->manifest_buf + job->manifest_len, ptr, len);
    job->manifest_len += len;
    job->manifest_buf[job->manifest_len] = '\0';
    return len;
  }

  if (!c->accepted) {
    /* An error answer (or one we refused): swallow a little of it. */
    if (!c->headers_done)
      return CURL_WRITEFUNC_ERROR;
    c->discard += len;
    return c->discard > RF__MAX_DISCARD ? CURL_WRITEFUNC_ERROR : len;
  }
  if (c->cancel || c->gen != job->gen || job->state == RF__JOB_DONE) {
    c->stop = RF__STOP_TRUNCATED;
    return CURL_WRITEFUNC_ERROR;
  }
  if (c->end != RF_SIZE_UNKNOWN && (uint64_t)n > c->end - c->pos)
    n = (size_t)(c->end - c->pos);
  if (n > 0 && c->probe_discard) {
    c->pos += n; /* a resume probe's byte: everything is on disk */
  } else if (n > 0) {
    unsigned need = blocks_needed(c, n);
    if (job->bucket.rate != 0)
      rf__bucket_refill(&job->bucket, uv_hrtime());
    if (!rf__bucket_open(&job->bucket)) {
      c->rate_paused = 1; /* the job's rate limit: job.c's pace timer */
      rf__job_pace(job);
      return CURL_WRITEFUNC_PAUSE;
    }
    /* Most calls fit the current block: no lock taken for them. */
    if (need > 0 && need > rf__store_available(&job->store)) {
      c->paused = 1; /* back-pressure: resumed when blocks come back */
      return CURL_WRITEFUNC_PAUSE;
    }
    if (take(c, (const unsigned char *)ptr, n) != 0)
      return CURL_WRITEFUNC_ERROR;
    rf__bucket_take(&job->bucket, n);
    if (c->stop != RF__STOP_NONE)
      return CURL_WRITEFUNC_ERROR;
    tune_lowat(c);
  }
  if (n < len) {
    if (c->end < c->req_end) {
      c->stop = RF__STOP_TRUNCATED; /* its tail was given to another */
    } else {
      c->stop = RF__STOP_ERROR;
      c->err = RF_ERANGE;
      c->retryable = 1;
      snprintf(c->errmsg, sizeof(c->errmsg),
               "server sent more than the %llu bytes asked for",
               (unsigned long long)(c->req_end - c->req_start));
    }
    return CURL_WRITEFUNC_ERROR;
  }
  return len;
}

int rf__conn_apply_route(rf__conn *c)
{
  rf_job *job = c->job;
  const rf__route *r = c->src != NULL ? c->src->route : NULL;
  const rf_proxy *p = NULL;
  unsigned auth = job->proxy_auth;

  c->route_idx = 0;
  if (r != NULL && r->n > 0) {
    c->route_idx = r->cur < r->n ? r->cur : r->n - 1;
    p = &r->cands[c->route_idx];
  }
  if (p == c->applied)
    return 0; /* the handle already carries this candidate's options */
  c->applied = p;
  if (p != NULL && p->type == RF_PROXY_HTTPS && p->ca_file == NULL &&
      job->proxy_ca_file != NULL) {
    rf_proxy q = *p;
    q.ca_file = job->proxy_ca_file;
    return rf__proxy_apply(c->easy, &q, job->proxy_user, job->proxy_password,
                           auth);
  }
  return rf__proxy_apply(c->easy, p, job->proxy_user, job->proxy_password,
                         auth);
}

int rf__conn_init(rf__conn *c, rf_job *job, unsigned id)
{
  int bad = 0; /* a string libcurl could not copy */

  memset(c, 0, sizeof(*c));
  c->job = job;
  c->id = id;
  c->fd = CURL_SOCKET_BAD;
  c->easy = curl_easy_init();
  c->hash = XXH3_createState();
  if (c->easy == NULL || c->hash == NULL) {
    rf__conn_cleanup(c);
    return RF_ENOMEM;
  }
  curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
  curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
  rf__engine_sockets_use(job->engine, c->easy);
  /* Parallel ranges: one HTTP/1.1 connection each (docs/design.md §5.3). */
  curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  /* Larger receive buffers mean fewer recv() calls (docs/design.md §5.2: 0.34 ns/B
   * at 256 KiB, 0.25 at 1 MiB); 8 MiB in all, between 256 KiB and 1 MiB
   * per connection. */
  {
    long buf = (8L << 20) / (long)job->nconns;
    buf = buf > (1L << 20) ? (1L << 20) : buf < (256L << 10) ? 256L << 10 : buf;
    c->bufsize = buf;
    curl_easy_setopt(c->easy, CURLOPT_BUFFERSIZE, buf);
  }
  curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c->easy, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c->easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  /* Dead pooled connections (curl#10646 in 7.88.1): do not keep them long. */
  curl_easy_setopt(c->easy, CURLOPT_MAXAGE_CONN, 30L);
  bad |= curl_easy_setopt(c->easy, CURLOPT_USERAGENT, job->user_agent) !=
         CURLE_OK;
  curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)job->connect_timeout_ms);
  /* A connection with no byte for stall_timeout is failed (and retried). */
  curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_TIME,
                   (long)((job->stall_timeout_ms + 999) / 1000));
  /* The engine decides about proxies; libcurl must never read the
   * environment: until the route is known, no proxy at all. */
  bad |= rf__proxy_apply(c->easy, NULL, NULL, NULL, 0) != 0;
  if (job->ca_file != NULL)
    bad |= curl_easy_setopt(c->easy, CURLOPT_CAINFO, job->ca_file) !=
           CURLE_OK;
  bad |= rf__reqopts_apply_conn(&job->req, c->easy, id == 0) != 0;
  if (bad) {
    rf__conn_cleanup(c);
    return RF_ENOMEM;
  }
  return 0;
}

void rf__conn_cleanup(rf__conn *c)
{
  if (c->easy != NULL)
    curl_easy_cleanup(c->easy);
  if (c->hash != NULL)
    XXH3_freeState(c->hash);
  EVP_MD_CTX_free(c->sha);
  c->easy = NULL;
  c->hash = NULL;
  c->sha = NULL;
}

int rf__conn_prepare(rf__conn *c, uint64_t start, uint64_t end)
{
  rf_job *job = c->job;
  int bad = 0; /* a string libcurl could not copy */

  rf__conn_reset_response(c);
  c->stop = RF__STOP_NONE;
  c->err = 0;
  c->retryable = 0;
  c->errmsg[0] = '\0';
  c->errbuf[0] = '\0';
  c->cancel = 0;
  c->paused = 0;
  c->rate_paused = 0;
  if (c->role == RF__ROLE_MANIFEST)
    c->role = RF__ROLE_RUN;
  c->gen = job->gen;
  c->req_start = start;
  c->req_end = end;
  c->req_t0 = uv_hrtime();
  c->end = end;
  c->pos = start;
  c->piece_fresh = 1;
  if (!job->single && job->sched.npieces > 0)
    c->piece = rf__sched_piece_of(&job->sched, start);
  bad |= rf__conn_apply_route(c) != 0;
  bad |= curl_easy_setopt(c->easy, CURLOPT_URL,
                          c->src->effective_url != NULL ? c->src->effective_url
                                                        : c->src->url) !=
         CURLE_OK;
  curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)c->src->connect_timeout_ms);
  if (job->single && c->role != RF__ROLE_PROBE) {
    curl_easy_setopt(c->easy, CURLOPT_RANGE, NULL);
  } else {
    snprintf(c->range, sizeof(c->range), "%llu-%llu", (unsigned long long)start,
             (unsigned long long)(end - 1));
    bad |= curl_easy_setopt(c->easy, CURLOPT_RANGE, c->range) != CURLE_OK;
  }
  /* A first probe has no validator yet; a resume's probe checks the one
   * the journal kept.  The origin's validator means nothing to another
   * server: other sources are held to the origin's length instead (and
   * the manifest).  job->if_range carries the caller's headers too. */
  bad |= rf__reqopts_apply_source(
             &job->req, c->easy, c->src->id == 0,
             (c->role == RF__ROLE_PROBE && job->resume == NULL) ||
                     job->if_range == NULL
                 ? job->req.headers
                 : job->if_range) != 0;
  /* A rate-limited job reads in small bites (pace.h). */
  curl_easy_setopt(c->easy, CURLOPT_BUFFERSIZE,
                   rf__bucket_buffer(job->bucket.rate, job->nconns, c->bufsize));
  return bad ? RF_ENOMEM : 0;
}

int rf__conn_prepare_manifest(rf__conn *c)
{
  int bad = 0; /* a string libcurl could not copy */

  rf__conn_reset_response(c);
  c->stop = RF__STOP_NONE;
  c->err = 0;
  c->retryable = 0;
  c->errmsg[0] = '\0';
  c->errbuf[0] = '\0';
  c->cancel = 0;
  c->paused = 0;
  c->rate_paused = 0;
  if (c->role == RF__ROLE_PROBE)
    c->role = RF__ROLE_RUN;
  c->probe_discard = 0;
  c->role = RF__ROLE_MANIFEST;
  c->gen = c->job->gen;
  c->req_start = c->pos = 0;
  c->req_end = c->end = RF_SIZE_UNKNOWN;
  c->req_t0 = uv_hrtime();
  bad |= rf__conn_apply_route(c) != 0;
  bad |= curl_easy_setopt(c->easy, CURLOPT_URL, c->job->manifest_url) !=
         CURLE_OK;
  curl_easy_setopt(c->easy, CURLOPT_RANGE, NULL);
  bad |= rf__reqopts_apply_source(&c->job->req, c->easy, 0, NULL) != 0;
  return bad ? RF_ENOMEM : 0;
}
