/*
 * The life of a download: probe, pieces as they arrive (checked, counted
 * for their source), the end of each transfer sorted out (continue, fail
 * over, retry, a source backed off or banned), finish through the writer,
 * report.  What each idle connection does next: schedule.c.
 */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/fileio.h"
#include "manifest/manifest_internal.h"
#include "verdict.h"
#include "proxy/candidate.h"
#include "rangefetch/manifest.h"

#ifdef RF_HAVE_XXH_DISPATCH
#  include <xxh_x86dispatch.h>
#endif

#define RF__PROBE_LEN (1ULL << 20)
/* Staging blocks: every connection holds one block it is filling, so the
 * pool has two per connection plus four (at least 8), and the block size
 * shrinks as connections grow to keep the pool near 24 MiB: 1 MiB blocks
 * up to 10 connections (measured: fewer pwrite calls and wake-ups than
 * 512 KiB, no gain at 2 MiB), 64 KiB at the least.  A pool smaller than
 * the number of connections starves them: at 32 connections and 24 blocks
 * the download crawled at 20 MB/s, pausing and resuming without end. */
#define RF__POOL_BYTES   ((size_t)24 << 20)
#define RF__MAX_BLOCK    ((size_t)1 << 20)
#define RF__MIN_BLOCK    ((size_t)64 << 10)
#define RF__MIN_BLOCKS   8u

static void job_finish(rf_job *job);

static uint64_t now_ms(rf_job *job)
{
  return uv_now(job->engine->loop);
}

int rf__job_fail(rf_job *job, int err, const char *fmt, ...)
{
  va_list ap;

  if (job->state == RF__JOB_DONE)
    return err;
  va_start(ap, fmt);
  vsnprintf(job->message, sizeof(job->message), fmt, ap);
  va_end(ap);
  RF_LOG(&job->engine->log, RF_LOG_ERROR, "job", "%s", job->message);
  rf__job_complete(job, err);
  return err;
}

/* --------------------------------------------------------------- helpers */

void rf__job_conn_remove(rf__conn *c)
{
  long n = 0;

  if (c->state == RF__CONN_BUSY) {
    /* Connections opened for this transfer, counted before it goes. */
    if (curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK &&
        n > 0)
      c->job->connects += (unsigned)n;
    rf__curlm_remove(&c->job->engine->m, c->easy);
    c->state = RF__CONN_IDLE;
    c->job->busy_now--;
    if (c->src != NULL && c->src->busy > 0)
      c->src->busy--;
  }
  c->paused = 0;
  c->rate_paused = 0;
  /* A transfer that ended cleanly put the mark back to 1 byte before its
   * tail; one that did not closed its connection.  Either way the next
   * response starts afresh. */
  c->lowat = 0;
  c->fd = CURL_SOCKET_BAD;
}

/* Give back the pieces of c's run it did not finish. */
void rf__job_conn_release(rf__conn *c)
{
  rf_job *job = c->job;

  if (!job->single && job->sched.npieces > 0 && c->run_count > 0 &&
      c->gen == job->gen && c->role != RF__ROLE_DUP)
    rf__sched_release(&job->sched, c->run_first, c->run_count);
  c->run_count = 0;
  if (c->role == RF__ROLE_DUP)
    c->role = RF__ROLE_RUN;
}

int rf__job_conn_start(rf__conn *c, uint64_t start, uint64_t end)
{
  rf_job *job = c->job;
  int rc;

  rc = rf__conn_prepare(c, start, end);
  if (rc == 0)
    rc = rf__curlm_add(&job->engine->m, c->easy);
  if (rc != 0)
    return rf__job_fail(job, rc, "cannot start a transfer: %s",
                        rf_strerror(rc));
  c->state = RF__CONN_BUSY;
  if (++job->busy_now > job->busy_max)
    job->busy_max = job->busy_now;
  c->src->busy++;
  c->src->requests++;
  RF_LOG(&job->engine->log, RF_LOG_DEBUG, "sched",
         "conn %u: bytes %llu-%llu%s%s%s", c->id, (unsigned long long)start,
         (unsigned long long)(end == RF_SIZE_UNKNOWN ? 0 : end - 1),
         (c->role == RF__ROLE_DUP) ? " (endgame duplicate)" : "",
         c->src->id != 0 ? " from " : "", c->src->id != 0 ? c->src->name : "");
  return 0;
}

void rf__job_conn_start_run(rf__conn *c, rf__source *src, uint32_t first,
                            uint32_t count)
{
  rf_job *job = c->job;

  c->src = src;
  c->run_first = first;
  c->run_count = count;
  if (c->role == RF__ROLE_PROBE)
    c->role = RF__ROLE_RUN;
  c->probe_discard = 0;
  rf__job_conn_start(c, rf__job_piece_off(job, first), rf__job_run_end(job, first, count));
}

/* ----------------------------------------------------------- validation */

void rf__conn_set_error(rf__conn *c, int err, int retryable, const char *fmt,
                        ...)
{
  va_list ap;

  c->err = err;
  c->retryable = retryable;
  va_start(ap, fmt);
  vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
  va_end(ap);
}

static void learn_validator(rf_job *job, const rf__conn *c)
{
  snprintf(job->etag, sizeof(job->etag), "%s", c->etag);
  snprintf(job->last_modified, sizeof(job->last_modified), "%s",
           c->last_modified);
  rf__job_set_if_range(job);
}

int rf__job_submit_op(rf_job *job, rf__block *op)
{
  if (op == NULL)
    return RF_ENOMEM;
  op->gen = job->gen;
  rf__store_submit(&job->store, op);
  return 0;
}

/* The verdict's views of what c asked for, what came back and what the
 * job knows. */
static void verdict_views(const rf_job *job, const rf__conn *c, rf__request *rq,
                          rf__response *rs, rf__expect *ex)
{
  rq->kind = (c->role == RF__ROLE_MANIFEST) ? RF__REQ_MANIFEST
             : (c->role == RF__ROLE_PROBE)  ? RF__REQ_PROBE
                                            : RF__REQ_RUN;
  rq->start = c->req_start;
  rq->end = c->req_end;
  rs->status = c->status;
  rs->reason = c->reason;
  rs->has_cr = c->has_cr;
  rs->cr_first = c->cr_first;
  rs->cr_last = c->cr_last;
  rs->cr_total = c->cr_total;
  rs->content_length = c->content_length;
  rs->etag = c->etag;
  rs->last_modified = c->last_modified;
  rs->content_encoding = c->content_encoding;
  rs->multipart = c->multipart;
  ex->etag = job->etag;
  ex->last_modified = job->last_modified;
  ex->resuming = job->resume != NULL;
  ex->total = job->resume != NULL ? job->resume->meta.length : job->total;
  ex->single = job->single;
  ex->if_range = job->if_range != NULL;
  ex->has_manifest = job->manifest != NULL;
  ex->manifest_length =
      job->manifest != NULL ? rf_manifest_length(job->manifest) : 0;
  ex->manifest_url = job->manifest_url;
  ex->foreign = c->src != NULL && c->src->id != 0;
}

/* c's request owns the pieces [first, last]. */
static void conn_own(rf_job *job, rf__conn *c, uint32_t first, uint32_t last)
{
  c->run_first = first;
  c->run_count = last - first + 1;
  c->piece = first;
  rf__sched_claim(&job->sched, first, c->run_count);
}

/* Act on an accepted probe: the shape of the content decides the plan. */
static int probe_accepted(rf_job *job, rf__conn *c, rf__shape shape)
{
  rf__block *op;
  char *eff = NULL;

  switch (shape) {
  case RF__SHAPE_RESUME:
    job->total = c->cr_total;
    if (rf__job_resume_pieces(job, c) != 0)
      return c->err;
    c->req_end = c->end = c->cr_last + 1;
    if (c->probe_discard)
      c->run_count = 0;
    else
      conn_own(job, c, rf__sched_piece_of(&job->sched, c->req_start),
               rf__sched_piece_of(&job->sched, c->cr_last));
    break;
  case RF__SHAPE_RANGES:
    job->total = c->cr_total;
    learn_validator(job, c);
    if (rf__job_start_pieces(job, c, 0) != 0)
      return c->err;
    /* The probe owns the pieces its range covers; if its range ends inside
     * a piece it continues that piece with a second request.  A probe of
     * one byte for the length alone (origin_delay) owns nothing. */
    c->req_end = c->end = c->cr_last + 1;
    if (c->probe_discard)
      c->run_count = 0;
    else
      conn_own(job, c, 0, rf__sched_piece_of(&job->sched, c->cr_last));
    RF_LOG(&job->engine->log, RF_LOG_INFO, "http",
           "%llu bytes, ranges supported, %u pieces of %llu bytes",
           (unsigned long long)job->total, job->sched.npieces,
           (unsigned long long)job->sched.piece_size);
    break;
  case RF__SHAPE_SINGLE:
    job->single = 1;
    c->probe_discard = 0; /* the whole content comes: keep it */
    job->total =
        c->content_length >= 0 ? (uint64_t)c->content_length : RF_SIZE_UNKNOWN;
    learn_validator(job, c);
    c->req_end = c->end = job->total;
    if (job->stream && rf__job_stream_single(job, c) != 0)
      return c->err;
    op = rf__store_op(RF__OP_PREALLOC);
    if (op != NULL)
      op->arg = job->total == RF_SIZE_UNKNOWN ? 0 : job->total;
    if (rf__job_submit_op(job, op) != 0)
      return rf__conn_set_error(c, RF_ENOMEM, 0, "out of memory"), c->err;
    RF_LOG(&job->engine->log, RF_LOG_WARN, "job",
           "the server ignores range requests (HTTP 200%s): one connection "
           "instead of %u, and an interrupted download cannot be resumed",
           job->total == RF_SIZE_UNKNOWN ? ", no length" : "", job->nconns);
    break;
  default: /* RF__SHAPE_EMPTY */
    job->total = 0;
    learn_validator(job, c);
    if (rf__job_start_pieces(job, c, 0) != 0)
      return c->err;
    c->req_end = c->end = 0;
    c->run_count = 0;
    break;
  }
  if (curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK &&
      eff != NULL && strcmp(eff, job->url) != 0) {
    free(c->src->effective_url);
    c->src->effective_url = strdup(eff);
  }
  rf__source_worked(job, c->src);
  rf__job_stream_begin(job);
  job->state = RF__JOB_RUNNING;
  job->dirty = 1;
  rf__job_adopt_link_mirrors(job);
  return 0;
}

int rf__job_validate(rf_job *job, rf__conn *c)
{
  rf__request rq;
  rf__response rs;
  rf__expect ex;
  rf__verdict v;

  job->http_status = c->status;
  if (c->gen != job->gen)
    return rf__conn_set_error(c, RF_ECANCELED, 0, "stale"), c->err;
  verdict_views(job, c, &rq, &rs, &ex);
  rf__verdict_response(&v, &rq, &rs, &ex);
  if (v.kind != RF__V_ACCEPT)
    return rf__conn_set_error(c, v.err, v.kind == RF__V_RETRY, "%s", v.msg),
           c->err;
  if (rq.kind == RF__REQ_PROBE)
    return probe_accepted(job, c, v.shape);
  if (ex.foreign && !c->src->agreed) {
    /* A source's first answer: where it redirected to, for the next. */
    char *eff = NULL;
    if (curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &eff) ==
            CURLE_OK &&
        eff != NULL && strcmp(eff, c->src->url) != 0) {
      free(c->src->effective_url);
      c->src->effective_url = strdup(eff);
    }
    rf__source_worked(job, c->src);
  }
  return 0;
}

/* ---------------------------------------------------------------- pieces */

static void defer_fail(rf_job *job, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A failure noticed inside a libcurl callback, acted on after it. */
static void defer_fail(rf_job *job, int err, const char *fmt, ...)
{
  va_list ap;

  if (job->deferred_err != 0)
    return;
  job->deferred_err = err;
  va_start(ap, fmt);
  vsnprintf(job->deferred_msg, sizeof(job->deferred_msg), fmt, ap);
  va_end(ap);
}

void rf__job_piece_accept(rf_job *job, uint32_t i)
{
  uint64_t off, len;

  if (!rf__sched_mark_done(&job->sched, i))
    return;
  rf__sched_piece_range(&job->sched, i, &off, &len);
  job->done_bytes += len;
  if (job->piece_src != NULL && job->piece_src[i] < job->nsrcs)
    job->srcs[job->piece_src[i]]->bytes += len;
  if (job->manifest != NULL)
    job->pieces_verified++;
  job->dirty = 1;
}

/* Piece i, from source src, failed verification: fetched again; the
 * origin's pieces count against the piece's tries, another source's
 * against the source (demoted, banned after RF__SRC_MAX_BAD_PIECES). */
static void piece_reject(rf_job *job, uint32_t i, rf__source *src,
                         const char *why)
{
  unsigned tries;

  job->pieces_failed++;
  job->source_bad++;
  rf__sched_release(&job->sched, i, 1);
  job->dirty = 1;
  if (src != NULL && src->id != 0) {
    char msg[200];
    src->bad_pieces++;
    RF_LOG(&job->engine->log, RF_LOG_WARN, "verify",
           "piece %u from %s %s %s: fetching it again", i,
           rf_source_kind_name(src->kind), src->name, why);
    snprintf(msg, sizeof(msg), "piece %u %s", i, why);
    rf__source_failed(job, src, RF__SRC_FAULT_BADPIECE, 0, msg);
    return;
  }
  tries = rf__sched_fail(&job->sched, i);
  RF_LOG(&job->engine->log, RF_LOG_WARN, "verify",
         "piece %u %s: fetching it again", i, why);
  if (tries >= job->max_tries)
    defer_fail(job, RF_EHASH,
               "%s: piece %u failed verification %u times: the server "
               "keeps sending corrupt data",
               job->url_safe, i, tries);
}

/* Called from the write callback: flags and queued operations only. */
/* Whether piece i, received with these digests, matches the manifest. */
static int piece_matches(const rf_job *job, uint32_t i, XXH128_hash_t digest,
                         const unsigned char *sha256)
{
  if (job->manifest_sha256_pieces) {
    const unsigned char *want = rf__manifest_piece_sha256(job->manifest, i);
    return sha256 != NULL && want != NULL && memcmp(sha256, want, 32) == 0;
  }
  return XXH128_isEqual(digest, rf__manifest_piece(job->manifest, i));
}

void rf__job_piece_done(rf_job *job, rf__conn *c, uint32_t i,
                        XXH128_hash_t digest, const unsigned char *sha256)
{
  uint64_t off, len;
  uint32_t k;
  int raced;

  if (c->gen != job->gen || i >= job->sched.npieces ||
      job->sched.state[i] == RF__PIECE_DONE)
    return;
  if (job->manifest != NULL && !job->no_verify &&
      !piece_matches(job, i, digest, sha256)) {
    if (c->role == RF__ROLE_DUP) {
      if (c->src->id != 0) { /* the owner may still bring a good copy */
        c->src->bad_pieces++;
        rf__source_failed(job, c->src, RF__SRC_FAULT_BADPIECE, 0,
                          "a duplicated piece does not match the manifest");
      }
      return;
    }
    piece_reject(job, i, c->src, "does not match the manifest");
    if (job->single) { /* one stream: it cannot skip the piece */
      rf__conn_set_error(c, RF_EHASH, 1, "piece %u does not match the "
                                         "manifest", i);
      c->stop = RF__STOP_ERROR;
    }
    return;
  }
  if (job->piece_src != NULL)
    job->piece_src[i] = (uint16_t)c->src->id;
  /* A good copy: whoever else works on this piece stops now. */
  raced = job->raced != NULL && job->raced[i];
  for (k = 0; k < job->nconns; k++) {
    rf__conn *o = &job->conns[k];
    if (o == c || o->state != RF__CONN_BUSY || o->cancel || o->run_count == 0 ||
        o->gen != job->gen)
      continue;
    if ((o->role == RF__ROLE_DUP && o->run_first == i) ||
        (o->role != RF__ROLE_DUP && o->piece == i)) {
      o->cancel = 1;
      raced = 1;
    }
  }
  if (job->stream) {
    /* Verified (or nothing to verify it against): its bytes go to the
     * writer now; none reached it before, so no other copy was written. */
    rf__job_piece_accept(job, i);
    rf__conn_chain_submit(c);
    return;
  }
  rf__sched_piece_range(&job->sched, i, &off, &len);
  if (raced && !job->no_verify) {
    /* Two connections wrote these bytes: read them back once the other
     * one's queued blocks are written, before the piece counts. */
    rf__block *op = rf__store_op(RF__OP_VERIFY);
    if (op == NULL) {
      defer_fail(job, RF_ENOMEM, "out of memory");
      return;
    }
    op->piece = i;
    op->off = off;
    op->len = (size_t)len;
    op->hash = digest;
    rf__job_submit_op(job, op);
    job->verifying++;
    return;
  }
  rf__job_piece_accept(job, i);
  if (!job->no_verify) {
    rf__block *op = rf__store_op(RF__OP_PIECE);
    if (op == NULL) {
      defer_fail(job, RF_ENOMEM, "out of memory");
      return;
    }
    op->piece = i;
    op->hash = digest;
    rf__job_submit_op(job, op); /* after the piece's blocks: the journal follows
                           the data */
  }
}

/* -------------------------------------------------------------- routing */

/* ----------------------------------------------------------- completion */

/* How a transfer ended, as rf__job_on_done sorts it out. */
typedef struct conn_end {
  int err; /* 0: the request did what it was asked */
  int retryable;
  int failover;  /* 1: go on now on the route's next candidate; -1: the
                    route is exhausted; 0: not the proxy's doing */
  int proxy_msg; /* msg names the proxy and who chose it */
  char msg[1024];
} conn_end;

static void end_classify(rf_job *job, rf__conn *c, CURLcode res, conn_end *e)
{
  e->err = 0;
  e->retryable = 1;
  e->failover = 0;
  e->proxy_msg = 0;
  e->msg[0] = '\0';
  if (rf__job_proxy_fault(job, c, res, &e->err, &e->retryable, e->msg,
                          sizeof(e->msg), &e->failover)) {
    e->proxy_msg = 1;
    if (res != CURLE_OK)
      job->curl_code = (int)res;
    if (c->status == 407)
      job->http_status = 407;
  } else if (c->stop == RF__STOP_ERROR) {
    e->err = c->err;
    e->retryable = c->retryable;
    snprintf(e->msg, sizeof(e->msg), "%s", c->errmsg);
  } else if (res != CURLE_OK) {
    const char *text =
        c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(res);
    rf__verdict v;
    rf__verdict_curl(&v, res, rf__conn_proxy(c) != NULL);
    e->err = v.err;
    e->retryable = v.kind == RF__V_RETRY;
    if (res == CURLE_OPERATION_TIMEDOUT)
      rf__conn_timeout_message(job, c, e->msg, sizeof(e->msg));
    else if (res == CURLE_OUT_OF_MEMORY) /* libcurl's words vary */
      snprintf(e->msg, sizeof(e->msg), "out of memory (libcurl: %s)", text);
    else if (e->err == RF_EPROXY && res == CURLE_COULDNT_CONNECT)
      snprintf(e->msg, sizeof(e->msg), "cannot connect to the proxy: %s", text);
    else
      snprintf(e->msg, sizeof(e->msg), "%s", text);
    job->curl_code = (int)res;
  } else if (!c->headers_done) {
    e->err = RF_EPROTO;
    snprintf(e->msg, sizeof(e->msg), "no HTTP answer");
  } else if (c->end != RF_SIZE_UNKNOWN && c->pos < c->end) {
    e->err = RF_ELENGTH;
    snprintf(e->msg, sizeof(e->msg), "answer ended after %llu of %llu bytes",
             (unsigned long long)(c->pos - c->req_start),
             (unsigned long long)(c->end - c->req_start));
  }
}

/* c's request failed: fail over, retry or give up. */
static void end_failed(rf_job *job, rf__conn *c, const conn_end *e)
{
  uint64_t ra = c->has_retry_after ? c->retry_after_ms : 0;

  if (job->single) {
    /* A single stream cannot resume: probe again and start over from
     * byte 0 (the server may even do ranges this time). */
    char what[1200];
    snprintf(what, sizeof(what),
             "the server ignores range requests and the transfer failed "
             "(%s)",
             e->msg);
    if (rf__job_stream_stuck(job, e->err, what))
      return;
    rf__job_stream_single_end(job);
    job->received = 0;
    job->single = 0;
    job->total = RF_SIZE_UNKNOWN;
    job->state = RF__JOB_PROBING;
    c->role = RF__ROLE_PROBE;
  }
  if (c->role == RF__ROLE_PROBE && job->state == RF__JOB_RUNNING &&
      !job->single) {
    /* The probe's headers were fine; only its body failed. */
    if (c->role == RF__ROLE_PROBE)
      c->role = RF__ROLE_RUN;
  }
  rf__job_conn_release(c);
  job->dirty = 1;
  if (e->failover > 0) {
    /* Not a try of the request: the next candidate, at once. */
    c->state = RF__CONN_WAITING;
    uv_timer_start(&c->timer, rf__conn_on_backoff, 0, 0);
    return;
  }
  if (e->failover < 0 || (e->proxy_msg && !e->retryable)) {
    if (e->failover == 0)
      job->tries = 1;
    rf__job_fail(job, e->err, "%s: %s", job->url_safe, e->msg);
    return;
  }
  rf__job_conn_failed(job, c, e->err, e->retryable, e->msg, ra);
}

/* A request to a mirror, cache host or peer failed: the source backs off,
 * is banned or refused (rf__source_failed); its pieces go back to the
 * others and the connection is free for another source at once.  Never
 * fatal for the job by itself. */
static void foreign_failed(rf_job *job, rf__conn *c, CURLcode res,
                           const conn_end *e)
{
  rf__source *s = c->src;
  long status;
  rf__src_fault f = rf__source_fault_of(job, c, res, e->proxy_msg, &status);

  rf__job_conn_release(c);
  job->dirty = 1;
  if (e->failover > 0)
    return; /* its route's next proxy, on the next request */
  if (res == CURLE_OPERATION_TIMEDOUT && !e->proxy_msg) {
    char msg[300];
    rf__conn_timeout_message(job, c, msg, sizeof(msg));
    rf__source_failed(job, s, f, status, msg);
    return;
  }
  rf__source_failed(job, s, f, status, e->msg);
}

/* c's request did what it was asked: finish, continue its run, or idle. */
static void end_ok(rf_job *job, rf__conn *c)
{
  c->fails = 0;
  if (c->src != NULL)
    c->src->fails = 0;
  if (job->single) {
    if (job->total == RF_SIZE_UNKNOWN)
      job->total = c->pos;
    job_finish(job);
    return;
  }
  if (c->role == RF__ROLE_PROBE) {
    if (c->role == RF__ROLE_PROBE)
      c->role = RF__ROLE_RUN;
    if (job->total == 0) {
      job_finish(job);
      return;
    }
  }
  /* A run that ended inside a piece (the probe's) continues it (the
   * blocks of that piece held in stream mode with it). */
  if (c->run_count > 0 && c->role != RF__ROLE_DUP &&
      c->pos < rf__job_run_end(job, c->run_first, c->run_count)) {
    rf__job_conn_start(c, c->pos,
                       rf__job_run_end(job, c->run_first, c->run_count));
    return;
  }
  rf__conn_drop_block(c);
  c->run_count = 0;
  if (c->role == RF__ROLE_DUP)
    c->role = RF__ROLE_RUN;
  job->dirty = 1;
}

void rf__job_on_done(rf_job *job, rf__conn *c, CURLcode res)
{
  conn_end e;
  int whole;

  rf__job_conn_remove(c);
  if (job->state == RF__JOB_DONE || c->gen != job->gen) {
    rf__conn_drop_block(c);
    c->run_count = 0;
    return;
  }
  whole = res == CURLE_OK && c->stop == RF__STOP_NONE && c->accepted;
  if (job->single && !rf__job_holds_pieces(job) && whole)
    rf__conn_flush_block(c); /* the stream's tail */
  else if (!(whole && rf__job_holds_pieces(job)))
    rf__conn_drop_block(c); /* bytes of an unfinished piece */
  /* (Held pieces of a whole answer stay for end_ok: the run may continue
   * a piece the answer ended inside.) */
  if (c->cancel || c->stop == RF__STOP_TRUNCATED) {
    rf__conn_drop_block(c);
    rf__job_conn_release(c);
    c->cancel = 0;
    job->dirty = 1;
    return;
  }
  end_classify(job, c, res, &e);
  if (e.err != 0)
    rf__conn_drop_block(c);
  if (c->role == RF__ROLE_MANIFEST) {
    if (e.failover > 0) {
      if (c->role == RF__ROLE_MANIFEST)
        c->role = RF__ROLE_RUN;
      /* on_backoff fetches it again, on the next proxy */
      c->state = RF__CONN_WAITING;
      uv_timer_start(&c->timer, rf__conn_on_backoff, 0, 0);
      return;
    }
    rf__job_manifest_fetched(job, c, e.err, e.failover < 0 ? 0 : e.retryable,
                             e.msg);
    return;
  }
  if (e.err != 0 && c->src != NULL && c->src->id != 0)
    foreign_failed(job, c, res, &e);
  else if (e.err != 0)
    end_failed(job, c, &e);
  else
    end_ok(job, c);
}

void rf__job_after_actions(rf_job *job)
{
  uint32_t k;

  if (job->state == RF__JOB_DONE || job->state == RF__JOB_FINISHING)
    return;
  if (job->deferred_err != 0) {
    rf__job_fail(job, job->deferred_err, "%s", job->deferred_msg);
    return;
  }
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    if (c->state == RF__CONN_BUSY && c->cancel) {
      rf__job_conn_remove(c);
      rf__conn_drop_block(c);
      rf__job_conn_release(c);
      c->cancel = 0;
      job->dirty = 1;
    }
  }
  if (job->state == RF__JOB_RUNNING && !job->single && job->verifying == 0 &&
      rf__sched_complete(&job->sched)) {
    job_finish(job);
    return;
  }
  if (job->dirty) {
    job->dirty = 0;
    rf__job_schedule(job);
  }
}

/* ------------------------------------------------------------ lifecycle */

void rf__job_conn_start_probe(rf__conn *c)
{
  rf_job *job = c->job;
  uint64_t start = 0,
           len = job->piece_size_opt != 0 ? job->piece_size_opt : RF__PROBE_LEN;

  c->src = job->srcs[0];
  c->role = RF__ROLE_PROBE;
  c->probe_discard = 0;
  c->run_count = 0;
  if (job->manifest != NULL)
    len = rf_manifest_piece_size(job->manifest);
  if (job->resume == NULL) {
    /* The cache tier first (and, with origin_delay, the peers): the
     * origin is asked for the length and validator only (one byte,
     * thrown away), not for a piece, so a fleet behind cache hosts takes
     * no piece from the origin while they work. */
    uint32_t k;
    for (k = 1; k < job->nsrcs; k++)
      if (job->srcs[k]->kind == RF_SOURCE_CACHE_HOST ||
          (job->origin_delay > 0 && job->srcs[k]->kind == RF_SOURCE_PEER)) {
        len = 1;
        c->probe_discard = 1;
        break;
      }
  }
  if (job->resume != NULL) {
    /* Ask for the first piece the journal does not have, under the old
     * validator; when it has them all, one byte that is thrown away. */
    const rf__journal_state *js = job->resume;
    uint32_t i = 0;
    while (i < js->npieces && js->claimed[i] != 0)
      i++;
    len = js->meta.piece_size;
    if (i < js->npieces) {
      start = (uint64_t)i * js->meta.piece_size;
      if (start + len > js->meta.length)
        len = js->meta.length - start;
    } else {
      len = 1;
      c->probe_discard = 1;
    }
  }
  rf__job_conn_start(c, start, start + len);
}

/* What became of a content that failed a whole-content check: a .part
 * kept under its name, or, streamed, bytes the reader already has. */
static const char *bad_content_fate(const rf_job *job, char *buf, size_t size)
{
  if (job->stream)
    snprintf(buf, size,
             "its bytes were already written to %s (a stream cannot be "
             "taken back)",
             job->output);
  else
    snprintf(buf, size, "%s kept, not renamed", job->part);
  return buf;
}

/* FINISH checks the whole content against the SHA-256 sha (copied into
 * op).  Returns 0, RF_ENOMEM. */
static int finish_sha256(rf__block *op, const unsigned char *sha)
{
  op->ptr = malloc(32);
  if (op->ptr == NULL)
    return RF_ENOMEM;
  memcpy(op->ptr, sha, 32);
  op->flag |= 2;
  return 0;
}

static void job_finish(rf_job *job)
{
  uint32_t k;
  rf__block *op;
  char fate[600];

  if (job->state == RF__JOB_FINISHING || job->state == RF__JOB_DONE)
    return;
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    rf__job_conn_remove(c);
    rf__conn_drop_block(c);
    c->run_count = 0;
    if (c->state == RF__CONN_WAITING) {
      uv_timer_stop(&c->timer);
      c->state = RF__CONN_IDLE;
    }
  }
  job->state = RF__JOB_FINISHING;
  op = rf__store_op(RF__OP_FINISH);
  if (op == NULL) {
    rf__job_fail(job, RF_ENOMEM, "out of memory");
    return;
  }
  op->arg = job->total;
  if (job->manifest != NULL && (!job->single || job->stream)) {
    XXH128_canonical_t cn;
    rf_manifest_content_xxh128(cn.digest, job->manifest);
    op->flag = 1;
    op->hash = XXH128_hashFromCanonical(&cn);
    if (rf_manifest_has_sha256(job->manifest)) {
      unsigned char d[32];
      rf_manifest_content_sha256(d, job->manifest);
      if (finish_sha256(op, d) != 0)
        goto nomem;
    }
  }
  if (job->has_repr && !(op->flag & 2)) {
    /* The origin's Repr-Digest / Digest: the whole file is checked
     * against it before the rename. */
    if (finish_sha256(op, job->repr_sha256) != 0)
      goto nomem;
  } else if (job->has_repr && memcmp(op->ptr, job->repr_sha256, 32) != 0) {
    rf__store_op_free(op);
    rf__job_fail(job, RF_EHASH,
                 "%s: the origin's %s SHA-256 differs from the manifest's: "
                 "one of them is wrong; %s",
                 job->url_safe, job->repr_from,
                 bad_content_fate(job, fate, sizeof(fate)));
    return;
  }
  /* The checksum the caller asked for: checked with the others, and
   * first against them (two different answers cannot both be right). */
  if (job->has_want_sha256 && !(op->flag & 2)) {
    if (finish_sha256(op, job->want_sha256) != 0)
      goto nomem;
  } else if (job->has_want_sha256 &&
             memcmp(op->ptr, job->want_sha256, 32) != 0) {
    rf__store_op_free(op);
    rf__job_fail(job, RF_EHASH,
                 "%s: the checksum asked for differs from the SHA-256 %s "
                 "gives: the content cannot match both; %s",
                 job->url_safe,
                 job->has_repr ? "the origin's headers" : "the manifest",
                 bad_content_fate(job, fate, sizeof(fate)));
    return;
  }
  if (job->has_want_xxh128 && !(op->flag & 1)) {
    op->hash = job->want_xxh128;
    op->flag |= 1;
  } else if (job->has_want_xxh128 &&
             !XXH128_isEqual(op->hash, job->want_xxh128)) {
    rf__store_op_free(op);
    rf__job_fail(job, RF_EHASH,
                 "%s: the checksum asked for differs from the manifest's "
                 "XXH128: the content cannot match both; %s",
                 job->url_safe, bad_content_fate(job, fate, sizeof(fate)));
    return;
  }
  rf__job_submit_op(job, op);
  return;
nomem: /* never renamed unchecked */
  rf__store_op_free(op);
  rf__job_fail(job, RF_ENOMEM, "%s: out of memory (the final check)",
               job->url_safe);
}

static void store_error(rf_job *job, int err)
{
  int e = 0;
  const char *what = NULL;

  rf__store_error(&job->store, &e, &what);
  if (job->stream) {
    rf__job_fail(job, err, "writing to the output failed: %s",
                 e != 0 ? strerror(e) : rf_strerror(err));
    return;
  }
  rf__job_fail(job, err, "cannot %s %s: %s%s", what != NULL ? what : "write",
               job->part, e != 0 ? strerror(e) : rf_strerror(err),
               err == RF_ENOSPC ? " (verified pieces are kept: run the same "
                                  "command again once there is space)"
                                : "");
}

static void op_done(rf_job *job, rf__block *op)
{
  char fate[600];

  if (job->state == RF__JOB_DONE)
    return;
  if (op->op == RF__OP_JOURNAL_REOPEN) {
    rf__journal_state *js = op->ptr;
    if (op->result != 0)
      RF_LOG(&job->engine->log, RF_LOG_WARN, "resume",
             "cannot reopen the journal (%s): going on without one",
             rf_strerror(op->result));
    if (js == job->resume)
      job->resume = NULL;
    if (js == job->resume_orphan)
      job->resume_orphan = NULL;
    rf__journal_state_free(js);
    free(js);
    return;
  }
  if (op->gen != job->gen)
    return; /* from before a restart */
  switch (op->op) {
  case RF__OP_JOURNAL_CREATE:
    if (op->result == RF_EINVAL)
      RF_LOG(&job->engine->log, RF_LOG_WARN, "resume",
             "the URL and validators are too long for the journal: this "
             "download cannot be resumed if it is interrupted");
    else if (op->result != 0)
      rf__job_fail(job, op->result, "cannot create the journal %s: %s",
                   job->journal_path, rf_strerror(op->result));
    break;
  case RF__OP_PREALLOC:
    if (op->result != 0)
      rf__job_fail(job, op->result, "cannot allocate %llu bytes for %s: %s",
                   (unsigned long long)op->arg, job->part,
                   rf_strerror(op->result));
    break;
  case RF__OP_VERIFY:
    if (job->verifying > 0)
      job->verifying--;
    if (op->result == 0)
      rf__job_piece_accept(job, op->piece);
    else if (op->result == RF_EHASH)
      piece_reject(job, op->piece, NULL,
                   "changed on disk after two connections "
                   "wrote it");
    else
      store_error(job, op->result);
    break;
  case RF__OP_VERIFY_MANY:
    rf__job_resume_checked(job, op);
    break;
  case RF__OP_FINISH:
    if (op->result == 0)
      rf__job_complete(job, 0);
    else if (op->result == RF_EHASH &&
             (job->has_want_sha256 || job->has_want_xxh128))
      rf__job_fail(job, RF_EHASH,
                   "%s: the whole content does not match the checksum asked "
                   "for%s: %s",
                   job->url_safe,
                   job->has_repr    ? " (nor the origin's digest)"
                   : job->manifest  ? " (nor the manifest)"
                                    : "",
                   bad_content_fate(job, fate, sizeof(fate)));
    else if (op->result == RF_EHASH && job->manifest == NULL)
      rf__job_fail(job, RF_EHASH,
                   "%s: the whole content does not match the SHA-256 the "
                   "origin announced (%s): %s",
                   job->url_safe, job->repr_from,
                   bad_content_fate(job, fate, sizeof(fate)));
    else if (op->result == RF_EHASH)
      rf__job_fail(job, RF_EHASH,
                   "%s: every piece matched, but the whole content does not "
                   "match the manifest's XXH128%s: %s",
                   job->url_safe,
                   rf_manifest_has_sha256(job->manifest) ? " or SHA-256" : "",
                   bad_content_fate(job, fate, sizeof(fate)));
    else if (op->result == RF_ENOENT)
      rf__job_fail(job, RF_ENOENT,
                   "cannot finish %s: %s is no longer the file this download "
                   "wrote (another program removed or replaced it): nothing "
                   "was renamed",
                   job->output, job->part);
    else
      rf__job_fail(job, op->result, "cannot finish %s: %s", job->output,
                   rf_strerror(op->result));
    break;
  default:
    break;
  }
}

static void on_store_wake(rf__store *st, void *ud)
{
  rf_job *job = ud;
  rf__block *op, *next;
  int err;
  uint32_t k;

  for (op = rf__store_take_done(st); op != NULL; op = next) {
    next = op->next;
    op_done(job, op);
    rf__store_op_free(op);
  }
  if (job->state == RF__JOB_DONE)
    return;
  err = rf__store_error(&job->store, NULL, NULL);
  if (err != 0) {
    store_error(job, err);
    return;
  }
  rf__job_stream_advance(job); /* more was written: pieces further on */
  /* Blocks came back: resume paused transfers (loop thread, outside any
   * libcurl callback; curl_easy_pause may call the write callback). */
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    if (c->state == RF__CONN_BUSY && c->paused) {
      c->paused = 0;
      curl_easy_pause(c->easy, CURLPAUSE_CONT);
    }
  }
  rf__job_after_actions(job);
}

/* The rate limit's timer: tokens came back, resume the transfers it
 * paused (each may pause again at once: then wait again). */
static void on_pace(uv_timer_t *t)
{
  rf_job *job = t->data;
  uint32_t k;

  if (job->state == RF__JOB_DONE)
    return;
  rf__bucket_refill(&job->bucket, uv_hrtime());
  for (k = 0; k < job->nconns && rf__bucket_open(&job->bucket); k++) {
    rf__conn *c = &job->conns[k];
    if (c->state == RF__CONN_BUSY && c->rate_paused) {
      c->rate_paused = 0;
      curl_easy_pause(c->easy, CURLPAUSE_CONT);
    }
  }
  for (k = 0; k < job->nconns; k++)
    if (job->conns[k].state == RF__CONN_BUSY && job->conns[k].rate_paused)
      rf__job_pace(job);
  rf__job_after_actions(job);
}

void rf__job_pace(rf_job *job)
{
  if (job->state == RF__JOB_DONE || uv_is_active((uv_handle_t *)&job->pace))
    return;
  uv_timer_start(&job->pace, on_pace, rf__bucket_wait_ms(&job->bucket), 0);
}

int rf_job_set_max_rate(rf_job *job, uint64_t bytes_per_second)
{
  uint32_t k;

  if (job == NULL || job->state == RF__JOB_DONE)
    return RF_EINVAL;
  rf__bucket_set(&job->bucket, bytes_per_second, uv_hrtime());
  if (bytes_per_second == 0) {
    /* No limit any more: nothing waits for tokens. */
    for (k = 0; k < job->nconns; k++)
      if (job->conns[k].rate_paused)
        rf__job_pace(job);
  } else {
    uv_timer_stop(&job->pace);
    rf__job_pace(job);
  }
  return 0;
}

void rf__job_progress(const rf_job *job, rf_progress *p)
{
  uint32_t k;
  rf_job *mj = (rf_job *)(uintptr_t)job;

  memset(p, 0, sizeof(*p));
  p->total = job->total;
  if (job->single || job->sched.npieces == 0) {
    p->received = job->received;
  } else {
    /* Content bytes, each counted once: finished pieces plus the parts of
     * pieces being received (duplicates and re-fetches not counted). */
    p->received = job->done_bytes;
    for (k = 0; k < job->nconns; k++) {
      const rf__conn *c = &job->conns[k];
      if (c->state == RF__CONN_BUSY && c->role != RF__ROLE_DUP && c->accepted &&
          !c->piece_fresh && c->gen == job->gen &&
          c->piece < job->sched.npieces &&
          job->sched.state[c->piece] != RF__PIECE_DONE)
        p->received += c->pos - (uint64_t)c->piece * job->sched.piece_size;
    }
  }
  p->written = job->store_open ? rf__store_written(&mj->store) : 0;
  p->rate = job->rate;
  p->elapsed = (double)(uv_now(job->engine->loop) - job->start_ms) / 1000.0;
  for (k = 0; k < job->nconns; k++)
    p->connections += (job->conns[k].state == RF__CONN_BUSY) ? 1u : 0u;
  p->pieces_total = job->single ? 0 : job->sched.npieces;
  p->pieces_done = job->single ? 0 : job->sched.ndone;
  p->retries = job->retries;
  p->single_stream = job->single;
  p->pieces_verified = job->pieces_verified;
  p->pieces_failed = job->pieces_failed;
  p->resumed = job->bytes_resumed;
  for (k = 0; k < job->nconns; k++)
    p->waiting += (job->conns[k].state == RF__CONN_WAITING) ? 1u : 0u;
  p->last_retry = job->last_retry;
  p->last_retry_age =
      job->last_retry_ms != 0
          ? (double)(uv_now(job->engine->loop) - job->last_retry_ms) / 1000.0
          : -1.0;
  rf__sources_stats(mj, p->bytes_from);
  if (job->single)
    p->bytes_from[RF_SOURCE_ORIGIN] = job->received;
  p->sources = job->src_stats;
  p->nsources = job->nsrcs;
}

static void on_tick(uv_timer_t *t)
{
  rf_job *job = t->data;
  rf_progress p;
  double dt = (double)job->progress_interval_ms / 1000.0;
  double inst = (double)(job->received - job->recv_at_tick) / dt;
  double alpha = dt / (dt + 2.0);

  if (job->max_time_ms != 0 && job->state != RF__JOB_DONE &&
      job->state != RF__JOB_FINISHING &&
      uv_now(job->engine->loop) - job->start_ms >= job->max_time_ms) {
    rf__job_fail(job, RF_ETIMEDOUT,
                 "%s: not done within the %u.%03u s allowed for the whole "
                 "download%s%s",
                 job->url_safe, job->max_time_ms / 1000, job->max_time_ms % 1000,
                 job->discard ? "" : "; partial download kept in ",
                 job->discard ? "" : job->part);
    return;
  }
  if (job->received < job->recv_at_tick)
    inst = 0;
  job->recv_at_tick = job->received;
  job->rate = job->rate == 0 ? inst : job->rate + alpha * (inst - job->rate);
  {
    /* Per connection, for the endgame (duplicate). */
    double ca = dt / (dt + 1.0);
    uint32_t k;
    for (k = 0; k < job->nconns; k++) {
      rf__conn *c = &job->conns[k];
      double ci = (double)(c->bytes_total - c->bytes_at_tick) / dt;
      c->bytes_at_tick = c->bytes_total;
      c->rate = c->rate == 0 ? ci : c->rate + ca * (ci - c->rate);
      c->quiet_ticks =
          c->state == RF__CONN_BUSY && ci == 0 ? c->quiet_ticks + 1 : 0;
      if (c->quiet_ticks > 0)
        rf__conn_lowat_off(c);
    }
  }
  if (job->nsrcs > 1 && job->state == RF__JOB_RUNNING) {
    /* Sources: their rates; back-offs and delays that ran out; a source
     * without a connection gets one. */
    rf__sources_tick(job, dt);
    rf__job_make_room(job);
    job->dirty = 1;
    rf__job_after_actions(job);
    if (job->state == RF__JOB_DONE)
      return;
  }
  if (job->on_progress != NULL && job->state != RF__JOB_DONE) {
    rf__job_progress(job, &p);
    job->engine->in_callback++;
    job->on_progress(job, &p, job->user_data);
    job->engine->in_callback--;
  }
}

static void on_handle_closed(uv_handle_t *h)
{
  rf_job *job = h->data;

  if (--job->open_handles == 0)
    rf__job_destroy(job);
}

static void on_conn_timer_closed(uv_handle_t *h)
{
  rf__conn *c = h->data;

  if (--c->job->open_handles == 0)
    rf__job_destroy(c->job);
}

static void on_store_closed(rf__store *st, void *ud)
{
  rf_job *job = ud;

  (void)st;
  if (--job->open_handles == 0)
    rf__job_destroy(job);
}

/* Stop everything and release the job once its handles are closed. */
static void job_close(rf_job *job)
{
  uint32_t k;

  for (k = 0; k < job->nsrcs; k++)
    rf__source_route_cancel(job->srcs[k]);
  job->open_handles = 4 + job->nconns; /* tick, kick, pace, store, timers */
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    rf__job_conn_remove(c);
    rf__conn_drop_block(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
  }
  uv_timer_stop(&job->tick);
  uv_timer_stop(&job->kick);
  uv_timer_stop(&job->pace);
  uv_close((uv_handle_t *)&job->pace, on_handle_closed);
  uv_close((uv_handle_t *)&job->tick, on_handle_closed);
  uv_close((uv_handle_t *)&job->kick, on_handle_closed);
  rf__store_close(&job->store, on_store_closed);
  job->store_open = 0;
}

void rf__job_complete(rf_job *job, int err)
{
  rf_result r;
  rf_progress p;

  if (job->state == RF__JOB_DONE)
    return;
  job->state = RF__JOB_DONE;
  job->error = err;
  if (err == 0)
    job->message[0] = '\0';
  rf__job_progress(job, &p);
  /* Stop transfers and the writer first, so the callbacks see final
   * figures and the .part file is closed (an empty one removed: nothing
   * worth keeping). */
  job->store.unlink_if_empty = err != 0 && p.written == 0;
  job_close(job);
  if (job->stream) /* the writer stopped: what the reader got, exactly */
    p.written = job->store.written;
  memset(&r, 0, sizeof(r));
  r.error = err;
  r.message = job->message;
  r.path = job->discard                 ? ""
           : err == 0 || job->stream ? job->output
                                     : job->part;
  r.first_byte_seconds =
      job->first_byte_ns != 0
          ? (double)(job->first_byte_ns - job->created_ns) / 1e9
          : -1.0;
  r.http_status = job->http_status;
  r.curl_code = job->curl_code;
  r.tries = job->tries;
  r.bytes = err == 0 ? job->total : p.written;
  r.seconds = p.elapsed;
  r.retries = job->retries;
  r.connections_opened = job->connects;
  r.connections_max = job->busy_max;
  r.pieces_verified = job->pieces_verified;
  r.pieces_failed = job->pieces_failed;
  r.resumed = job->bytes_resumed;
  r.route = job->srcs[0]->route_desc;
  memcpy(r.bytes_from, p.bytes_from, sizeof(r.bytes_from));
  r.sources = p.sources;
  r.nsources = p.nsources;
  p.connections = 0;
  p.written = r.bytes;
  job->engine->in_callback++;
  if (job->on_progress != NULL)
    job->on_progress(job, &p, job->user_data);
  if (job->on_done != NULL)
    job->on_done(job, &r, job->user_data);
  job->engine->in_callback--;
}

void rf__job_origin_routed(rf_job *job)
{
  job->state = job->manifest_url != NULL ? RF__JOB_MANIFEST : RF__JOB_PROBING;
  uv_timer_start(&job->kick, rf__job_on_kick, 0, 0);
}

void rf__job_on_kick(uv_timer_t *t)
{
  rf_job *job = t->data;

  if (job->cancelled && job->state != RF__JOB_DONE) {
    snprintf(job->message, sizeof(job->message), "cancelled");
    rf__job_complete(job, RF_ECANCELED);
    return;
  }
  if (job->state == RF__JOB_ROUTING) {
    /* Every source's route at once: the origin's first, which the job
     * waits for. */
    uint32_t k;
    for (k = 0; k < job->nsrcs && job->state != RF__JOB_DONE; k++)
      rf__source_route(job, job->srcs[k]);
    return;
  }
  if (job->state == RF__JOB_RUNNING) {
    rf__job_after_actions(job); /* a source routed, a policy changed */
    return;
  }
  if (job->conns[0].state != RF__CONN_IDLE)
    return;
  if (job->state == RF__JOB_MANIFEST)
    rf__job_conn_start_manifest(&job->conns[0]);
  else if (job->state == RF__JOB_PROBING)
    rf__job_conn_start_probe(&job->conns[0]);
}

/* Start job (created by rf__job_create): the writer takes the claimed
 * .part, the timers start, the first request goes out from the loop.
 * durable: flush to disk before the rename.  Returns 0, RF_EIO,
 * RF_ENOMEM (the job is then still the caller's to free). */
int rf__job_start(rf_job *job, int durable)
{
  rf_engine *e = job->engine;
  unsigned k;
  int rc;

  {
    unsigned nblocks = 2 * job->nconns + 4;
    size_t bs = RF__MAX_BLOCK;
    if (nblocks < RF__MIN_BLOCKS)
      nblocks = RF__MIN_BLOCKS;
    while (bs > RF__MIN_BLOCK && bs * nblocks > RF__POOL_BYTES)
      bs >>= 1;
    if (job->stream) /* the pool is sized once the pieces are known */
      rc = rf__store_open_stream(&job->store, e->loop, job->stream_fd, bs,
                                 nblocks, on_store_wake, job);
    else
      rc = rf__store_open(&job->store, e->loop, job->part_fd,
                          job->discard ? NULL : job->part, job->output,
                          job->no_verify ? NULL : job->journal_path, bs,
                          nblocks, on_store_wake, job);
  }
  if (rc != 0)
    return rc;
  job->part_fd = -1; /* the store's now */
  job->store_open = 1;
  job->store.durable = durable;
  for (k = 0; k < job->nconns; k++) {
    uv_timer_init(e->loop, &job->conns[k].timer);
    job->conns[k].timer.data = &job->conns[k];
  }
  uv_timer_init(e->loop, &job->tick);
  uv_timer_init(e->loop, &job->kick);
  uv_timer_init(e->loop, &job->pace);
  job->tick.data = job;
  job->kick.data = job;
  job->pace.data = job;
  job->start_ms = now_ms(job);
  job->created_ns = uv_hrtime();
  uv_timer_start(&job->tick, on_tick, job->progress_interval_ms,
                 job->progress_interval_ms);
  /* The first request goes out from the loop, not from this call. */
  uv_timer_start(&job->kick, rf__job_on_kick, 0, 0);
  job->state = RF__JOB_ROUTING;
  return 0;
}

void rf__job_cancel(rf_job *job)
{
  if (job->state == RF__JOB_DONE || job->cancelled)
    return;
  job->cancelled = 1;
  uv_timer_start(&job->kick, rf__job_on_kick, 0, 0);
}

void rf__job_abort(rf_job *job)
{
  if (job->state != RF__JOB_DONE) {
    job->state = RF__JOB_DONE;
    job->on_done = NULL;
    job->on_progress = NULL;
    job_close(job);
  }
}
