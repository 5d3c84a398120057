/*
 * The life of a download: probe, schedule runs onto connections, steal and
 * duplicate in the endgame, retry with back-off, restart when the remote
 * content changes, finish through the writer, report.
 */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "manifest_internal.h"
#include "parse.h"
#include "proxy/candidate.h"
#include "rangefetch/manifest.h"

#ifdef RF_HAVE_XXH_DISPATCH
#  include <xxh_x86dispatch.h>
#endif

#define RF__PROBE_LEN (1ULL << 20)
#define RF__MAX_RUN (64ULL << 20)
/* Staging blocks: every connection holds one block it is filling, so the
 * pool has two per connection plus four (at least 8), and the block size
 * shrinks as connections grow to keep the pool near 24 MiB: 1 MiB blocks
 * up to 10 connections (measured: fewer pwrite calls and wake-ups than
 * 512 KiB, no gain at 2 MiB), 64 KiB at the least.  A pool smaller than
 * the number of connections starves them: at 32 connections and 24 blocks
 * the download crawled at 20 MB/s, pausing and resuming without end. */
#define RF__POOL_BYTES ((size_t)24 << 20)
#define RF__MAX_BLOCK ((size_t)1 << 20)
#define RF__MIN_BLOCK ((size_t)64 << 10)
#define RF__MIN_BLOCKS 8u
#define RF__DUP_MIN_LEFT (128ULL * 1024)
#define RF__MAX_RESTARTS 3

static void job_finish(rf_job *job);
static void job_complete(rf_job *job, int err);
static void job_schedule(rf_job *job);
static void conn_start_probe(rf__conn *c);
static void on_backoff(uv_timer_t *t);
static void conn_start_manifest(rf__conn *c);
static int submit_op(rf_job *job, rf__block *op);
static void job_route(rf_job *job);
static void on_kick(uv_timer_t *t);
static const rf_proxy *conn_proxy(const rf__conn *c);

static uint64_t now_ms(rf_job *job)
{
  return uv_now(job->engine->loop);
}

static int job_fail(rf_job *job, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int job_fail(rf_job *job, int err, const char *fmt, ...)
{
  va_list ap;

  if (job->state == RF__JOB_DONE)
    return err;
  va_start(ap, fmt);
  vsnprintf(job->message, sizeof(job->message), fmt, ap);
  va_end(ap);
  RF_LOG(&job->engine->log, RF_LOG_ERROR, "job", "%s", job->message);
  job_complete(job, err);
  return err;
}

/* --------------------------------------------------------------- helpers */

static uint64_t piece_off(const rf_job *job, uint32_t i)
{
  return (uint64_t)i * job->sched.piece_size;
}

static uint64_t run_end_byte(const rf_job *job, uint32_t first, uint32_t n)
{
  uint64_t off, len;

  rf__sched_piece_range(&job->sched, first + n - 1, &off, &len);
  return off + len;
}

static void conn_remove(rf__conn *c)
{
  long n = 0;

  if (c->busy) {
    /* Connections opened for this transfer, counted before it goes. */
    if (curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK &&
        n > 0)
      c->job->connects += (unsigned)n;
    rf__curlm_remove(&c->job->engine->m, c->easy);
    c->busy = 0;
    c->job->busy_now--;
  }
  c->paused = 0;
  /* A transfer that ended cleanly put the mark back to 1 byte before its
   * tail; one that did not closed its connection.  Either way the next
   * response starts afresh. */
  c->lowat = 0;
  c->fd = CURL_SOCKET_BAD;
}

/* Give back the pieces of c's run it did not finish. */
static void conn_release(rf__conn *c)
{
  rf_job *job = c->job;

  if (!job->single && job->sched.npieces > 0 && c->run_count > 0 &&
      c->gen == job->gen && !c->is_dup)
    rf__sched_release(&job->sched, c->run_first, c->run_count);
  c->run_count = 0;
  c->is_dup = 0;
}

static int conn_start(rf__conn *c, uint64_t start, uint64_t end)
{
  rf_job *job = c->job;
  int rc;

  rf__conn_prepare(c, start, end);
  rc = rf__curlm_add(&job->engine->m, c->easy);
  if (rc != 0)
    return job_fail(job, rc, "cannot start a transfer: %s", rf_strerror(rc));
  c->busy = 1;
  if (++job->busy_now > job->busy_max)
    job->busy_max = job->busy_now;
  RF_LOG(&job->engine->log, RF_LOG_DEBUG, "sched",
         "conn %u: bytes %llu-%llu%s", c->id, (unsigned long long)start,
         (unsigned long long)(end == RF_SIZE_UNKNOWN ? 0 : end - 1),
         c->is_dup ? " (endgame duplicate)" : "");
  return 0;
}

static void conn_start_run(rf__conn *c, uint32_t first, uint32_t count)
{
  rf_job *job = c->job;

  c->run_first = first;
  c->run_count = count;
  c->probe = 0;
  c->probe_discard = 0;
  conn_start(c, piece_off(job, first), run_end_byte(job, first, count));
}

/* -------------------------------------------------------------- schedule */

static uint32_t max_run_pieces(const rf_job *job)
{
  uint64_t share = job->total / job->nconns;
  uint64_t cap = share < RF__MAX_RUN ? share : RF__MAX_RUN;
  uint64_t n = cap / job->sched.piece_size;

  return n == 0 ? 1 : (uint32_t)n;
}

/* Take the upper half of the unstarted pieces of the busiest connection. */
static int steal(rf_job *job, rf__conn *c)
{
  rf__conn *victim = NULL;
  uint32_t best = 0, k;

  for (k = 0; k < job->nconns; k++) {
    rf__conn *v = &job->conns[k];
    uint32_t end_piece, left;
    if (!v->busy || v->is_dup || v->probe || v->cancel || v->run_count == 0)
      continue;
    end_piece = v->run_first + v->run_count;
    if (v->piece + 1 >= end_piece)
      continue;
    left = end_piece - (v->piece + 1); /* pieces it has not started */
    if (left > best) {
      best = left;
      victim = v;
    }
  }
  if (victim == NULL || best < 2)
    return 0;
  {
    uint32_t give = best / 2;
    uint32_t first = victim->run_first + victim->run_count - give;
    victim->run_count -= give;
    victim->end = piece_off(job, first);
    RF_LOG(&job->engine->log, RF_LOG_DEBUG, "sched",
           "conn %u takes %u pieces from conn %u", c->id, give, victim->id);
    conn_start_run(c, first, give);
  }
  return 1;
}

/*
 * Endgame: fetch again, on idle connection c, the piece whose owner will
 * take longest to finish it - but only when a fresh copy would very likely
 * arrive first.  On a shared bottleneck every connection runs at about the
 * same rate, a duplicate only halves the rate of both, and the bytes are
 * paid twice; a duplicate pays off against a straggler (a slow server
 * connection, a stalled one).  So: the owner's time left, at its own
 * recent rate, must exceed twice what the whole piece takes at the
 * connections' average rate.
 */
static int duplicate(rf_job *job, rf__conn *c)
{
  rf__conn *victim = NULL;
  uint64_t off, len;
  uint32_t k;
  unsigned busy = 0;
  double best = 0, avg, dup_eta;

  for (k = 0; k < job->nconns; k++)
    busy += job->conns[k].busy && !job->conns[k].is_dup;
  avg = busy > 0 ? job->rate / busy : 0;

  for (k = 0; k < job->nconns; k++) {
    rf__conn *v = &job->conns[k];
    uint64_t left;
    uint32_t j, dups = 0;
    /* A connection past the last piece of its run is only finishing its
     * response: nothing of it to duplicate. */
    if (!v->busy || v->is_dup || v->cancel || v->run_count == 0 ||
        v->gen != job->gen || v->piece >= v->run_first + v->run_count ||
        v->piece >= job->sched.npieces ||
        job->sched.state[v->piece] == RF__PIECE_DONE)
      continue;
    for (j = 0; j < job->nconns; j++)
      dups += job->conns[j].busy && job->conns[j].is_dup &&
              job->conns[j].run_first == v->piece;
    if (dups > 0)
      continue;
    left = run_end_byte(job, v->piece, 1) - v->pos;
    if (left < RF__DUP_MIN_LEFT)
      continue;
    {
      /* A connection with no byte for two ticks counts as stalled. */
      double eta = v->rate > 1.0 && v->quiet_ticks < 2
                       ? (double)left / v->rate
                       : 1e9;
      if (eta > best) {
        best = eta;
        victim = v;
      }
    }
  }
  if (victim == NULL)
    return 0;
  rf__sched_piece_range(&job->sched, victim->piece, &off, &len);
  dup_eta = avg > 1.0 ? (double)len / avg : 1e9;
  if (best < 1e9 && best <= 2.0 * dup_eta)
    return 0; /* the owner will be done about as soon: leave it */
  job->raced[victim->piece] = 1;
  c->is_dup = 1;
  c->run_first = victim->piece;
  c->run_count = 1;
  c->probe = 0;
  c->probe_discard = 0;
  RF_LOG(&job->engine->log, RF_LOG_DEBUG, "sched",
         "endgame: conn %u duplicates piece %u of conn %u", c->id,
         victim->piece, victim->id);
  conn_start(c, off, off + len);
  return 1;
}

static void job_schedule(rf_job *job)
{
  uint32_t k, first, count;

  if (job->state != RF__JOB_RUNNING || job->single)
    return;
  for (k = 0; k < job->nconns && job->state == RF__JOB_RUNNING; k++) {
    rf__conn *c = &job->conns[k];
    if (c->busy || c->waiting)
      continue;
    if (rf__sched_take(&job->sched, max_run_pieces(job), &first, &count)) {
      conn_start_run(c, first, count);
      continue;
    }
    if (steal(job, c))
      continue;
    if (duplicate(job, c))
      continue;
    break; /* nothing to give: the others stay idle too */
  }
}

/* ----------------------------------------------------------- validation */

static const char *safe_url(const rf_job *job)
{
  return job->url_safe;
}

static void set_conn_error(rf__conn *c, int err, int retryable,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_conn_error(rf__conn *c, int err, int retryable,
                           const char *fmt, ...)
{
  va_list ap;

  c->err = err;
  c->retryable = retryable;
  va_start(ap, fmt);
  vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
  va_end(ap);
}

static int validator_changed(const rf_job *job, const rf__conn *c)
{
  if (job->etag[0] != '\0')
    return strcmp(job->etag, c->etag) != 0;
  if (job->last_modified[0] != '\0')
    return strcmp(job->last_modified, c->last_modified) != 0;
  return 0;
}

static int status_error(rf__conn *c)
{
  long st = c->status;

  if (st == 429 || st == 503 || st == 500 || st == 502 || st == 504 ||
      st == 408 || (st >= 500 && st < 600)) {
    set_conn_error(c, RF_EHTTP, 1, "HTTP %ld %s", st, c->reason);
  } else if (st == 407) {
    set_conn_error(c, RF_EPROXY, 0,
                   "HTTP 407 %s: the proxy wants authentication", c->reason);
  } else {
    set_conn_error(c, RF_EHTTP, 0, "HTTP %ld %s", st, c->reason);
  }
  return c->err;
}

/* The If-Range header for job->etag / job->last_modified (a strong ETag
 * first: a weak one cannot be used); none when there is no validator. */
static void set_if_range(rf_job *job)
{
  char line[320];

  curl_slist_free_all(job->if_range);
  job->if_range = NULL;
  if (job->etag[0] != '\0' && strncmp(job->etag, "W/", 2) != 0)
    snprintf(line, sizeof(line), "If-Range: %s", job->etag);
  else if (job->last_modified[0] != '\0')
    snprintf(line, sizeof(line), "If-Range: %s", job->last_modified);
  else
    return;
  job->if_range = curl_slist_append(NULL, line);
}

static void learn_validator(rf_job *job, const rf__conn *c)
{
  snprintf(job->etag, sizeof(job->etag), "%s", c->etag);
  snprintf(job->last_modified, sizeof(job->last_modified), "%s",
           c->last_modified);
  set_if_range(job);
}

static int submit_op(rf_job *job, rf__block *op)
{
  if (op == NULL)
    return RF_ENOMEM;
  op->gen = job->gen;
  rf__store_submit(&job->store, op);
  return 0;
}

static int create_journal(rf_job *job)
{
  rf__journal_meta *m;
  rf__block *op;

  if (job->no_verify || job->total == 0)
    return 0;
  m = calloc(1, sizeof(*m));
  op = rf__store_op(RF__OP_JOURNAL_CREATE);
  if (m == NULL || op == NULL) {
    free(m);
    free(op);
    return RF_ENOMEM;
  }
  m->url = strdup(job->url_safe);
  m->etag = strdup(job->etag);
  m->last_modified = strdup(job->last_modified);
  m->length = job->total;
  m->piece_size = job->sched.piece_size;
  m->npieces = job->sched.npieces;
  m->has_manifest = job->manifest != NULL;
  m->manifest_digest = job->manifest_digest;
  op->ptr = m;
  if (m->url == NULL || m->etag == NULL || m->last_modified == NULL) {
    rf__store_op_free(op);
    return RF_ENOMEM;
  }
  return submit_op(job, op);
}

/* What the probe learned decides the pieces; keep: resume a former run. */
static int start_pieces(rf_job *job, rf__conn *c, int keep)
{
  uint64_t ps;
  rf__block *op;
  int rc;

  if (job->manifest != NULL)
    ps = rf_manifest_piece_size(job->manifest);
  else if (keep)
    ps = job->resume->meta.piece_size;
  else if (job->piece_size_opt != 0)
    ps = job->piece_size_opt;
  else
    ps = rf__sched_auto_piece_size(job->total);
  if (job->manifest != NULL &&
      rf_manifest_length(job->manifest) != job->total) {
    set_conn_error(c, RF_EHASH, 0,
                   "the manifest describes %llu bytes, the server has %llu",
                   (unsigned long long)rf_manifest_length(job->manifest),
                   (unsigned long long)job->total);
    return c->err;
  }
  rc = rf__sched_init(&job->sched, job->total, ps);
  if (rc == 0) {
    free(job->raced);
    job->raced = calloc(job->sched.npieces + 1, 1);
    if (job->raced == NULL)
      rc = RF_ENOMEM;
  }
  if (rc != 0) {
    set_conn_error(c, rc, 0, "cannot plan %llu bytes in pieces of %llu",
                   (unsigned long long)job->total, (unsigned long long)ps);
    return rc;
  }
  op = rf__store_op(RF__OP_PREALLOC);
  if (op != NULL) {
    op->arg = job->total;
    op->flag = keep;
  }
  rc = submit_op(job, op);
  if (rc == 0 && !keep)
    rc = create_journal(job);
  if (rc != 0)
    set_conn_error(c, rc, 0, "out of memory");
  return rc;
}

/* The server still has what the journal describes: take the pieces on
 * disk, hashed again by the writer before they count. */
static int resume_pieces(rf_job *job, rf__conn *c)
{
  rf__journal_state *js = job->resume;
  rf__verify_item *items = NULL;
  rf__block *reopen, *verify;
  uint32_t i, n = 0, bad = 0;
  int rc = start_pieces(job, c, 1);

  if (rc != 0)
    return rc;
  items = calloc(js->npieces + 1, sizeof(*items));
  reopen = rf__store_op(RF__OP_JOURNAL_REOPEN);
  verify = rf__store_op(RF__OP_VERIFY_MANY);
  if (items == NULL || reopen == NULL || verify == NULL) {
    free(items);
    free(reopen);
    free(verify);
    set_conn_error(c, RF_ENOMEM, 0, "out of memory");
    return c->err;
  }
  for (i = 0; i < js->npieces && i < job->sched.npieces; i++) {
    uint64_t off, len;
    if (js->claimed[i] == 0)
      continue;
    if (job->manifest != NULL &&
        !XXH128_isEqual(js->hashes[i], rf__manifest_piece(job->manifest, i))) {
      bad++; /* recorded with another hash than the manifest's */
      continue;
    }
    rf__sched_piece_range(&job->sched, i, &off, &len);
    items[n].piece = i;
    items[n].off = off;
    items[n].len = len;
    items[n].hash = js->hashes[i];
    n++;
    job->sched.state[i] = RF__PIECE_ACTIVE; /* until checked */
  }
  reopen->ptr = js;
  verify->ptr = items;
  verify->count = n;
  submit_op(job, reopen);
  submit_op(job, verify);
  job->verifying++;
  RF_LOG(&job->engine->log, RF_LOG_INFO, "resume",
         "resuming: checking %u pieces on disk%s", n,
         bad ? " (some disagree with the manifest)" : "");
  return 0;
}

static int validate_probe(rf_job *job, rf__conn *c)
{
  char *eff = NULL;

  if (job->resume != NULL) {
    /* Same content as last time?  If-Range answered 206 with the old
     * validator; anything else means it changed. */
    if (c->status != 206 || c->has_cr != 1 || c->cr_first != c->req_start ||
        c->cr_total != job->resume->meta.length || validator_changed(job, c))
      return set_conn_error(c, RF_ECHANGED, 0,
                            "the remote file changed since the last run "
                            "(HTTP %ld, ETag %s -> %s)",
                            c->status, job->etag[0] ? job->etag : "none",
                            c->etag[0] ? c->etag : "none"),
             c->err;
    job->total = c->cr_total;
    if (resume_pieces(job, c) != 0)
      return c->err;
    c->req_end = c->end = c->cr_last + 1;
    if (c->probe_discard) {
      c->run_count = 0;
    } else {
      uint32_t k, last = rf__sched_piece_of(&job->sched, c->cr_last);
      c->run_first = rf__sched_piece_of(&job->sched, c->req_start);
      c->run_count = last - c->run_first + 1;
      for (k = c->run_first; k <= last; k++)
        job->sched.state[k] = RF__PIECE_ACTIVE;
      c->piece = c->run_first;
    }
  } else if (c->status == 206) {
    if (c->has_cr != 1 || c->cr_first != 0 || c->cr_total == RF_SIZE_UNKNOWN ||
        c->cr_last >= c->req_end) {
      if (c->has_cr == 1)
        return set_conn_error(c, RF_ERANGE, 1,
                              "server answered with Content-Range "
                              "%llu-%llu/%llu to a request for bytes 0-%llu",
                              (unsigned long long)c->cr_first,
                              (unsigned long long)c->cr_last,
                              (unsigned long long)c->cr_total,
                              (unsigned long long)(c->req_end - 1)),
               c->err;
      return set_conn_error(c, RF_ERANGE, 1,
                            "HTTP 206 with a %s Content-Range to a request "
                            "for bytes 0-%llu",
                            c->has_cr == 0 ? "missing" : "malformed",
                            (unsigned long long)(c->req_end - 1)),
             c->err;
    }
    job->total = c->cr_total;
    learn_validator(job, c);
    if (start_pieces(job, c, 0) != 0)
      return c->err;
    /* The probe owns the pieces its range covers; if its range ends inside
     * a piece it continues that piece with a second request. */
    c->req_end = c->end = c->cr_last + 1;
    c->run_first = 0;
    c->run_count = rf__sched_piece_of(&job->sched, c->cr_last) + 1;
    {
      uint32_t k;
      for (k = 0; k < c->run_count; k++)
        job->sched.state[k] = RF__PIECE_ACTIVE;
    }
    c->piece = 0;
    RF_LOG(&job->engine->log, RF_LOG_INFO, "http",
           "%llu bytes, ranges supported, %u pieces of %llu bytes",
           (unsigned long long)job->total, job->sched.npieces,
           (unsigned long long)job->sched.piece_size);
  } else if (c->status == 200) {
    rf__block *op;
    if (job->manifest != NULL && c->content_length >= 0 &&
        (uint64_t)c->content_length != rf_manifest_length(job->manifest))
      return set_conn_error(c, RF_EHASH, 0,
                            "the manifest describes %llu bytes, the server "
                            "has %lld",
                            (unsigned long long)rf_manifest_length(
                                job->manifest),
                            (long long)c->content_length),
             c->err;
    job->single = 1;
    job->total = c->content_length >= 0 ? (uint64_t)c->content_length
                                        : RF_SIZE_UNKNOWN;
    learn_validator(job, c);
    c->req_end = c->end = job->total;
    op = rf__store_op(RF__OP_PREALLOC);
    if (op != NULL)
      op->arg = job->total == RF_SIZE_UNKNOWN ? 0 : job->total;
    if (submit_op(job, op) != 0)
      return set_conn_error(c, RF_ENOMEM, 0, "out of memory"), c->err;
    RF_LOG(&job->engine->log, RF_LOG_WARN, "job",
           "the server ignores range requests (HTTP 200%s): one connection "
           "instead of %u, and an interrupted download cannot be resumed",
           job->total == RF_SIZE_UNKNOWN ? ", no length" : "", job->nconns);
  } else if (c->status == 416 && c->has_cr == 2 && c->cr_total == 0) {
    job->total = 0;
    learn_validator(job, c);
    if (start_pieces(job, c, 0) != 0)
      return c->err;
    c->req_end = c->end = 0;
    c->run_count = 0;
  } else if (c->status == 416) {
    return set_conn_error(c, RF_EPROTO, 0,
                          "server refused bytes=0-%llu (HTTP 416)",
                          (unsigned long long)(c->req_end - 1)),
           c->err;
  } else {
    return status_error(c);
  }
  if (curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK &&
      eff != NULL && strcmp(eff, job->url) != 0) {
    free(job->effective_url);
    job->effective_url = strdup(eff);
  }
  job->state = RF__JOB_RUNNING;
  job->dirty = 1;
  return 0;
}

int rf__job_validate(rf_job *job, rf__conn *c)
{
  job->http_status = c->status;
  if (c->gen != job->gen)
    return set_conn_error(c, RF_ECANCELED, 0, "stale"), c->err;
  if (c->fetch_manifest) {
    if (c->status == 200)
      return 0;
    status_error(c);
    snprintf(c->errmsg, sizeof(c->errmsg), "manifest %s: HTTP %ld %s",
             job->manifest_url, c->status, c->reason);
    return c->err;
  }
  if (c->probe)
    return validate_probe(job, c);
  if (c->status == 206) {
    if (validator_changed(job, c))
      return set_conn_error(c, RF_ECHANGED, 0,
                            "the remote file changed during the download "
                            "(ETag %s -> %s)",
                            job->etag[0] ? job->etag : "none",
                            c->etag[0] ? c->etag : "none"),
             c->err;
    if (c->has_cr != 1 || c->cr_first != c->req_start ||
        c->cr_last + 1 != c->req_end || c->cr_total != job->total) {
      return set_conn_error(
                 c, RF_ERANGE, 1,
                 "server answered with Content-Range %llu-%llu/%llu to a "
                 "request for bytes %llu-%llu of %llu",
                 (unsigned long long)c->cr_first,
                 (unsigned long long)c->cr_last,
                 (unsigned long long)c->cr_total,
                 (unsigned long long)c->req_start,
                 (unsigned long long)(c->req_end - 1),
                 (unsigned long long)job->total),
             c->err;
    }
    return 0;
  }
  if (job->single && c->status == 200) {
    if (validator_changed(job, c) ||
        (c->content_length >= 0 && job->total != RF_SIZE_UNKNOWN &&
         (uint64_t)c->content_length != job->total))
      return set_conn_error(c, RF_ECHANGED, 0,
                            "the content changed between two tries"),
             c->err;
    return 0;
  }
  if (c->status == 200) {
    if (job->if_range != NULL && !validator_changed(job, c))
      return set_conn_error(c, RF_ERANGE, 1,
                            "server ignored the Range of a request"),
             c->err;
    return set_conn_error(c, RF_ECHANGED, 0,
                          "the remote file changed during the download: "
                          "the server sent a new version (ETag %s -> %s)",
                          job->etag[0] ? job->etag : "none",
                          c->etag[0] ? c->etag : "none"),
           c->err;
  }
  if (c->status == 416)
    return set_conn_error(c, RF_ECHANGED, 0,
                          "the remote file changed during the download: it "
                          "shrank"),
           c->err;
  return status_error(c);
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

static void piece_accept(rf_job *job, uint32_t i)
{
  uint64_t off, len;

  if (!rf__sched_mark_done(&job->sched, i))
    return;
  rf__sched_piece_range(&job->sched, i, &off, &len);
  job->done_bytes += len;
  if (job->manifest != NULL)
    job->pieces_verified++;
  job->dirty = 1;
}

static void piece_reject(rf_job *job, uint32_t i, const char *why)
{
  unsigned tries = rf__sched_fail(&job->sched, i);

  job->pieces_failed++;
  job->source_bad++;
  job->sched.state[i] = RF__PIECE_FREE;
  job->dirty = 1;
  RF_LOG(&job->engine->log, RF_LOG_WARN, "verify",
         "piece %u %s: fetching it again", i, why);
  if (tries >= job->max_tries)
    defer_fail(job, RF_EHASH,
               "%s: piece %u failed verification %u times: the server "
               "keeps sending corrupt data",
               job->url_safe, i, tries);
}

/* Called from the write callback: flags and queued operations only. */
void rf__job_piece_done(rf_job *job, rf__conn *c, uint32_t i,
                        XXH128_hash_t digest)
{
  uint64_t off, len;
  uint32_t k;
  int raced;

  if (c->gen != job->gen || i >= job->sched.npieces ||
      job->sched.state[i] == RF__PIECE_DONE)
    return;
  if (job->manifest != NULL && !job->no_verify &&
      !XXH128_isEqual(digest, rf__manifest_piece(job->manifest, i))) {
    if (c->is_dup)
      return; /* the owner may still bring a good copy */
    piece_reject(job, i, "does not match the manifest");
    return;
  }
  /* A good copy: whoever else works on this piece stops now. */
  raced = job->raced[i];
  for (k = 0; k < job->nconns; k++) {
    rf__conn *o = &job->conns[k];
    if (o == c || !o->busy || o->cancel || o->run_count == 0 ||
        o->gen != job->gen)
      continue;
    if ((o->is_dup && o->run_first == i) || (!o->is_dup && o->piece == i)) {
      o->cancel = 1;
      raced = 1;
    }
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
    submit_op(job, op);
    job->verifying++;
    return;
  }
  piece_accept(job, i);
  if (!job->no_verify) {
    rf__block *op = rf__store_op(RF__OP_PIECE);
    if (op == NULL) {
      defer_fail(job, RF_ENOMEM, "out of memory");
      return;
    }
    op->piece = i;
    op->hash = digest;
    submit_op(job, op); /* after the piece's blocks: the journal follows
                           the data */
  }
}


/* -------------------------------------------------------------- routing */

static const rf_proxy *conn_proxy(const rf__conn *c)
{
  const rf__route *r = c->job->route;

  if (r == NULL || c->route_idx >= r->n ||
      r->cands[c->route_idx].type == RF_PROXY_DIRECT)
    return NULL;
  return &r->cands[c->route_idx];
}

static void describe_route(rf_job *job)
{
  const rf__route *r = job->route;
  char name[300];

  if (r == NULL) {
    job->route_desc[0] = '\0';
    return;
  }
  rf_proxy_format(name, sizeof(name), &r->cands[r->cur]);
  if (r->cands[r->cur].type == RF_PROXY_DIRECT)
    snprintf(job->route_desc, sizeof(job->route_desc),
             "direct (chosen by %s)", r->chosen_by);
  else
    snprintf(job->route_desc, sizeof(job->route_desc),
             "via proxy %s (chosen by %s)", name, r->chosen_by);
}

/* Proxies of the route without credentials: ask the engine's callback
 * (e.g. ~/.netrc), unless the job gives credentials for every proxy. */
static void route_credentials(rf_job *job, rf__route *route)
{
  rf_engine *e = job->engine;
  char user[256], pass[256];
  size_t k;

  if (e->proxy_creds == NULL || job->proxy_user != NULL)
    return;
  for (k = 0; k < route->n; k++) {
    rf_proxy *p = &route->cands[k];
    rf_proxy q;
    rf_proxy *copy = NULL;
    if (p->type == RF_PROXY_DIRECT || p->user != NULL ||
        (p->auth & RF_PROXY_AUTH_NONE))
      continue;
    user[0] = pass[0] = '\0';
    q = *p;
    q.password = NULL;
    e->in_callback++;
    if (e->proxy_creds(user, sizeof(user), pass, sizeof(pass), &q,
                       e->proxy_creds_ud) == 1 &&
        user[0] != '\0') {
      user[sizeof(user) - 1] = pass[sizeof(pass) - 1] = '\0';
      q.user = user;
      q.password = pass;
      if (rf__proxy_list_copy(&q, 1, 1, &copy) == 0) {
        /* The route's strings live in one block: keep the new ones in
         * a block of their own, owned by the route. */
        if (rf__route_adopt(route, k, copy) != 0)
          free(copy);
      }
    }
    e->in_callback--;
    memset(pass, 0, sizeof(pass));
  }
}

static void route_ready(rf_job *job, rf__route *route)
{
  size_t k;
  char list[400];

  route_credentials(job, route);
  job->route = route;
  describe_route(job);
  list[0] = '\0';
  for (k = 0; k < route->n; k++) {
    char name[300];
    size_t len = strlen(list);
    rf_proxy_format(name, sizeof(name), &route->cands[k]);
    snprintf(list + len, sizeof(list) - len, "%s%s", k ? "; " : "", name);
  }
  RF_LOG(&job->engine->log, RF_LOG_INFO, "proxy", "%s: route %s [%s]",
         safe_url(job), job->route_desc, list);
  job->state = job->manifest_url != NULL ? RF__JOB_MANIFEST : RF__JOB_PROBING;
  uv_timer_start(&job->kick, on_kick, 0, 0);
}

static void on_route(void *ud, int err, const char *msg, rf__route *route,
                     const rf_route_info *info)
{
  rf_job *job = ud;

  (void)info;
  job->route_req = NULL;
  if (err != 0) {
    rf__route_free(route);
    job_fail(job, err, "%s: no route: %s", safe_url(job),
             msg != NULL ? msg : rf_strerror(err));
    return;
  }
  route_ready(job, route);
}

/* Ask for the route: the job's own proxy option, or the engine's chain. */
static void job_route(rf_job *job)
{
  rf__route *route;
  char buf[1024];
  int rc;

  if (job->proxy != NULL || job->no_proxy) {
    rf_proxy p;
    memset(&p, 0, sizeof(p));
    if (job->proxy != NULL) {
      rc = rf_proxy_parse(&p, buf, sizeof(buf), job->proxy);
      if (rc != 0) {
        job_fail(job, RF_EURL, "the proxy option is not a proxy URL "
                               "(scheme://host[:port])");
        return;
      }
    }
    route = calloc(1, sizeof(*route));
    if (route == NULL ||
        rf__proxy_list_copy(&p, 1, 1, &route->cands) != 0) {
      free(route);
      memset(buf, 0, sizeof(buf));
      job_fail(job, RF_ENOMEM, "out of memory");
      return;
    }
    memset(buf, 0, sizeof(buf));
    route->n = 1;
    route->resolver = -1;
    snprintf(route->chosen_by, sizeof(route->chosen_by), "the job's proxy "
                                                         "option");
    route_ready(job, route);
    return;
  }
  rc = rf__chain_resolve(job->engine->chain, job->url, on_route, job,
                         &job->route_req);
  if (rc != 0)
    job_fail(job, rc, "%s: cannot resolve the proxy route: %s", safe_url(job),
             rf_strerror(rc));
}

/* The message for a proxy that wants authentication it did not get. */
static void auth_message(const rf_job *job, const rf_proxy *p,
                         unsigned offered, const char *why, char *msg,
                         size_t size)
{
  unsigned allowed = p->auth != 0 ? p->auth
                     : job->proxy_auth != 0 ? job->proxy_auth
                                            : RF_PROXY_AUTH_SAFE;
  const char *user = p->user != NULL ? p->user : job->proxy_user;
  char on[64], an[64];
  int socks = p->type != RF_PROXY_HTTP && p->type != RF_PROXY_HTTPS;

  rf__proxy_auth_names(offered, on, sizeof(on));
  rf__proxy_auth_names(allowed, an, sizeof(an));
  if (socks)
    snprintf(msg, size, "%s%s", why,
             user == NULL ? "; give credentials with --proxy-user USER:PASS "
                            "or in the proxy URL"
                          : "");
  else if (allowed & RF_PROXY_AUTH_NONE)
    snprintf(msg, size, "%s; it offers %s, but no credentials are ever sent "
             "to a proxy of this scope (like netsh winhttp, the static scope "
             "does not authenticate)", why, on);
  else if (offered == RF_PROXY_AUTH_BASIC && !(allowed & offered))
    snprintf(msg, size,
             "%s; it offers only Basic authentication, which sends the "
             "password in clear and is not allowed by default: allow it "
             "with --proxy-auth basic (or any; API: proxy_auth) if the "
             "network to the proxy is trusted",
             why);
  else if (offered != 0 && !(allowed & offered))
    snprintf(msg, size, "%s; it offers %s, none of which is allowed (allowed: "
             "%s)", why, on, an);
  else if (user == NULL && !(offered & RF_PROXY_AUTH_NEGOTIATE))
    snprintf(msg, size, "%s; it offers %s and no credentials were given: use "
             "--proxy-user USER[:PASSWORD], the proxy URL, ~/.netrc or "
             "proxy_user in a settings file", why, on);
  else if (user == NULL)
    snprintf(msg, size, "%s; it refused Negotiate with the Kerberos ticket "
             "cache (offers %s): check the ticket with klist, and that the "
             "proxy is named by the host name of its service principal",
             why, on);
  else
    snprintf(msg, size, "%s; it refused the credentials of user '%s' "
             "(offers %s)", why, user, on);
}

/*
 * A transfer through a proxy failed; what the proxy had to do with it.
 * Returns 0 (not the proxy: the caller goes on as usual), or fills err,
 * retryable, msg and *failover (1: retry now on the route's current
 * candidate; -1: every candidate failed).
 */
static int proxy_fault(rf_job *job, rf__conn *c, CURLcode res, int *err,
                       int *retryable, char *msg, size_t size, int *failover)
{
  const rf_proxy *p = conn_proxy(c);
  rf__route *r = job->route;
  unsigned offered = 0;
  char why[400];
  rf__proxy_fault f;

  *failover = 0;
  if (p == NULL)
    return 0;
  f = rf__proxy_classify(c->easy, res, c->status, p, &offered, why,
                         sizeof(why));
  switch (f) {
  case RF__PROXY_FAULT_NONE:
    if (res == CURLE_OK && !job->route_worked && c->headers_done) {
      job->route_worked = 1;
      rf__chain_report(job->engine->chain, r, p, RF_PROXY_WORKED, NULL);
    }
    return 0;
  case RF__PROXY_FAULT_DEAD:
    rf__chain_report(job->engine->chain, r, p, RF_PROXY_DEAD, why);
    *err = RF_EPROXY;
    *retryable = 1;
    if (r->cur == c->route_idx) {
      rf__route_note_failure(r, why);
      r->cur++;
      if (r->cur >= r->n) {
        int direct = 0;
        size_t k;
        for (k = 0; k < r->n; k++)
          direct |= r->cands[k].type == RF_PROXY_DIRECT;
        r->cur = r->n - 1;
        snprintf(msg, size, "no candidate of the route worked (%s); the "
                 "route was chosen by %s%s", r->tried, r->chosen_by,
                 direct ? "" : "; it has no DIRECT, so no direct "
                               "connection was tried");
        *failover = -1;
        return 1;
      }
      describe_route(job);
      RF_LOG(&job->engine->log, RF_LOG_WARN, "proxy", "%s; failing over: %s",
             why, job->route_desc);
    }
    snprintf(msg, size, "%s", why);
    *failover = 1;
    return 1;
  case RF__PROXY_FAULT_AUTH:
    rf__chain_report(job->engine->chain, r, p, RF_PROXY_AUTH_FAILED, why);
    *err = RF_EPROXYAUTH;
    *retryable = 0;
    {
      char am[700];
      auth_message(job, p, offered, why, am, sizeof(am));
      snprintf(msg, size, "%.500s (proxy chosen by %.480s)", am, r->chosen_by);
    }
    return 1;
  case RF__PROXY_FAULT_REFUSED:
    rf__chain_report(job->engine->chain, r, p, RF_PROXY_REFUSED, why);
    *err = RF_EPROXY;
    *retryable = 0;
    snprintf(msg, size, "%s (proxy chosen by %s)", why, r->chosen_by);
    return 1;
  }
  return 0;
}

/* ----------------------------------------------------------- completion */

static int map_curl(CURLcode res, int proxied, int *retryable)
{
  *retryable = 1;
  switch (res) {
  case CURLE_COULDNT_RESOLVE_HOST:
    *retryable = 0;
    return RF_ERESOLVE;
  case CURLE_COULDNT_RESOLVE_PROXY:
    *retryable = 0;
    return RF_EPROXY;
  case CURLE_COULDNT_CONNECT:
    return proxied ? RF_EPROXY : RF_ECONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    return RF_ETIMEDOUT;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    *retryable = 0;
    return RF_EURL;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
    *retryable = 0;
    return RF_ETLS;
  case CURLE_TOO_MANY_REDIRECTS:
    *retryable = 0;
    return RF_EHTTP;
  case CURLE_PROXY:
    *retryable = 0;
    return RF_EPROXY;
  case CURLE_OUT_OF_MEMORY:
    *retryable = 0;
    return RF_ENOMEM;
  case CURLE_PARTIAL_FILE:
    return RF_ELENGTH;
  default:
    return RF_ENETWORK;
  }
}

static uint64_t next_random(rf_job *job)
{
  /* xorshift64*: per job, so the library keeps no global state. */
  uint64_t x = job->rng;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  job->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static void on_backoff(uv_timer_t *t)
{
  rf__conn *c = t->data;
  rf_job *job = c->job;

  c->waiting = 0;
  if (job->state == RF__JOB_MANIFEST) {
    conn_start_manifest(c);
    return;
  }
  if (job->state == RF__JOB_PROBING && c->probe)
    conn_start_probe(c);
  else if (job->state == RF__JOB_PROBING && c->id == 0)
    conn_start_probe(c);
  else
    job->dirty = 1;
  rf__job_after_actions(job);
}

static void job_restart(rf_job *job, const char *why)
{
  uint32_t k;

  job->restarts++;
  if (job->restarts > RF__MAX_RESTARTS) {
    job_fail(job, RF_ECHANGED, "%s changed %u times during the download: %s",
             safe_url(job), job->restarts, why);
    return;
  }
  RF_LOG(&job->engine->log, RF_LOG_WARN, "job", "%s: starting over", why);
  job->gen++;
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    conn_remove(c);
    rf__conn_drop_block(c);
    c->run_count = 0;
    c->is_dup = 0;
    c->cancel = 0;
    if (c->waiting) {
      uv_timer_stop(&c->timer);
      c->waiting = 0;
    }
  }
  rf__sched_free(&job->sched);
  if (job->resume != NULL) {
    /* A journal op may still hold it: it is freed when it comes back. */
    job->resume_orphan = job->resume;
    job->resume = NULL;
  }
  job->verifying = 0;
  job->total = RF_SIZE_UNKNOWN;
  job->single = 0;
  job->received = 0;
  job->done_bytes = 0;
  job->bytes_resumed = 0;
  job->pieces_resumed = 0;
  job->etag[0] = job->last_modified[0] = '\0';
  curl_slist_free_all(job->if_range);
  job->if_range = NULL;
  free(job->effective_url);
  job->effective_url = NULL;
  job->state = RF__JOB_PROBING;
  conn_start_probe(&job->conns[0]);
}

static void conn_failed(rf_job *job, rf__conn *c, int err, int retryable,
                        const char *msg, uint64_t retry_after_ms)
{
  unsigned tries;
  int via;
  uint64_t delay;

  if (err == RF_ECHANGED) {
    job_restart(job, msg);
    return;
  }
  /* Through a proxy, the message says which (and who chose it). */
  via = conn_proxy(c) != NULL;
  if (!retryable) {
    job->tries = 1;
    job_fail(job, err, "%s: %s%s%s%s", safe_url(job), msg, via ? " (" : "",
             via ? job->route_desc : "", via ? ")" : "");
    return;
  }
  if (job->single || c->probe || job->sched.npieces == 0)
    tries = ++job->probe_tries;
  else
    tries = rf__sched_fail(&job->sched, c->piece < job->sched.npieces
                                            ? c->piece
                                            : c->run_first);
  if (tries >= job->max_tries) {
    job->tries = tries;
    job_fail(job, err, "%s: giving up after %u %s: %s%s%s%s", safe_url(job),
             tries, tries == 1 ? "try" : "tries", msg, via ? " (" : "",
             via ? job->route_desc : "", via ? ")" : "");
    return;
  }
  job->retries++;
  c->fails++;
  delay = (uint64_t)job->retry_base_ms << (c->fails > 10 ? 10 : c->fails - 1);
  if (delay > job->retry_max_ms)
    delay = job->retry_max_ms;
  /* Jitter: 50% to 150%, so connections do not retry in lockstep. */
  delay = delay / 2 + next_random(job) % (delay + 1);
  if (retry_after_ms > delay) {
    /* The server's wish, within reason: at most ten back-off caps. */
    uint64_t cap = (uint64_t)job->retry_max_ms * 10;
    delay = retry_after_ms < cap ? retry_after_ms : cap;
  }
  RF_LOG(&job->engine->log, RF_LOG_WARN, "http",
         "conn %u: %s; retrying in %llu ms (try %u of %u)", c->id, msg,
         (unsigned long long)delay, tries + 1, job->max_tries);
  rf__fmt_clip(job->last_retry, sizeof(job->last_retry),
               "try %u of %u in %.1f s: %s", tries + 1, job->max_tries,
               (double)delay / 1000.0, msg);
  job->last_retry_ms = uv_now(job->engine->loop);
  c->waiting = 1;
  uv_timer_start(&c->timer, on_backoff, delay, 0);
}

/* Take m as the job's manifest; its digest (for the journal) is that of
 * its canonical text, so the same manifest from a file or a URL, with
 * CRLF or LF, is the same manifest. */
static int adopt_manifest(rf_job *job, struct rf_manifest *m)
{
  char *canon = NULL;
  int rc = rf_manifest_format(&canon, m);

  if (rc != 0) {
    rf_manifest_free(m);
    return rc;
  }
  job->manifest = m;
  job->manifest_digest = XXH3_128bits(canon, strlen(canon));
  free(canon);
  return 0;
}

static int load_manifest_text(rf_job *job, const char *text, size_t len,
                              char *err, size_t errlen)
{
  struct rf_manifest *m = NULL;
  int rc = rf_manifest_parse(&m, text, len, err, errlen);

  return rc != 0 ? rc : adopt_manifest(job, m);
}

static void conn_start_manifest(rf__conn *c)
{
  rf_job *job = c->job;
  int rc;

  free(job->manifest_buf);
  job->manifest_buf = NULL;
  job->manifest_len = 0;
  rf__conn_prepare_manifest(c);
  rc = rf__curlm_add(&job->engine->m, c->easy);
  if (rc != 0) {
    job_fail(job, rc, "cannot fetch the manifest: %s", rf_strerror(rc));
    return;
  }
  c->busy = 1;
  job->busy_now++;
}

static void manifest_fetched(rf_job *job, rf__conn *c, int err,
                             int retryable, const char *msg)
{
  char why[300];

  c->fetch_manifest = 0;
  if (err != 0) {
    if (retryable && ++job->probe_tries < job->max_tries) {
      job->retries++;
      c->waiting = 1; /* on_backoff fetches it again */
      uv_timer_start(&c->timer, on_backoff, job->retry_base_ms, 0);
      return;
    }
    job_fail(job, err, "cannot fetch the manifest %s: %s", job->manifest_url,
             msg);
    return;
  }
  if (load_manifest_text(job, job->manifest_buf != NULL ? job->manifest_buf
                                                        : "",
                         job->manifest_len, why, sizeof(why)) != 0) {
    job_fail(job, RF_EINVAL, "%s: %s", job->manifest_url, why);
    return;
  }
  free(job->manifest_buf);
  job->manifest_buf = NULL;
  job->probe_tries = 0;
  job->state = RF__JOB_PROBING;
  conn_start_probe(c);
}

/* What a timeout means, in our words (libcurl's sentence speaks of bytes
 * per second): no connection, no answer, or an answer that stopped. */
static void timeout_message(const rf_job *job, rf__conn *c, char *msg,
                            size_t size)
{
  curl_off_t connect_us = 0;
  const char *peer = conn_proxy(c) != NULL ? "the proxy" : "the server";
  unsigned stall_s = (job->stall_timeout_ms + 999) / 1000;

  curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  if (connect_us == 0)
    snprintf(msg, size, "no connection to %s within %u s", peer,
             (job->connect_timeout_ms + 999) / 1000);
  else if (!c->headers_done)
    snprintf(msg, size,
             "%s took the connection but sent no answer for %u s", peer,
             stall_s);
  else {
    /* libcurl judges the speed over its last few seconds, so a short
     * stall limit can take longer: say how long it really was quiet. */
    uint64_t quiet_ms = (uint64_t)c->quiet_ticks * job->progress_interval_ms;
    unsigned quiet_s = quiet_ms / 1000 > stall_s ? (unsigned)(quiet_ms / 1000)
                                                 : stall_s;
    snprintf(msg, size,
             "the server stopped sending: nothing for %u s after %llu "
             "bytes of its answer",
             quiet_s, (unsigned long long)(c->pos - c->req_start));
  }
}

void rf__job_on_done(rf_job *job, rf__conn *c, CURLcode res)
{
  int retryable = 1, err, failover = 0, proxy_msg = 0;
  char msg[1024];
  uint64_t ra;

  conn_remove(c);
  if (job->state == RF__JOB_DONE || c->gen != job->gen) {
    rf__conn_drop_block(c);
    c->run_count = 0;
    return;
  }
  if (job->single && res == CURLE_OK && c->stop == RF__STOP_NONE &&
      c->accepted)
    rf__conn_flush_block(c); /* the stream's tail */
  else
    rf__conn_drop_block(c);  /* bytes of an unfinished piece */

  if (c->cancel || c->stop == RF__STOP_TRUNCATED) {
    conn_release(c);
    c->cancel = 0;
    job->dirty = 1;
    return;
  }
  if (proxy_fault(job, c, res, &err, &retryable, msg, sizeof(msg),
                  &failover)) {
    proxy_msg = 1; /* msg names the proxy and who chose it */
    if (res != CURLE_OK)
      job->curl_code = (int)res;
    if (c->status == 407)
      job->http_status = 407;
  } else if (c->stop == RF__STOP_ERROR) {
    err = c->err;
    retryable = c->retryable;
    snprintf(msg, sizeof(msg), "%s", c->errmsg);
  } else if (res != CURLE_OK) {
    err = map_curl(res, conn_proxy(c) != NULL, &retryable);
    if (res == CURLE_OPERATION_TIMEDOUT)
      timeout_message(job, c, msg, sizeof(msg));
    else if (err == RF_EPROXY && res == CURLE_COULDNT_CONNECT)
      snprintf(msg, sizeof(msg), "cannot connect to the proxy: %s",
               c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(res));
    else
      snprintf(msg, sizeof(msg), "%s",
               c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(res));
    job->curl_code = (int)res;
  } else if (!c->headers_done) {
    err = RF_EPROTO;
    snprintf(msg, sizeof(msg), "no HTTP answer");
  } else if (c->end != RF_SIZE_UNKNOWN && c->pos < c->end) {
    err = RF_ELENGTH;
    snprintf(msg, sizeof(msg), "answer ended after %llu of %llu bytes",
             (unsigned long long)(c->pos - c->req_start),
             (unsigned long long)(c->end - c->req_start));
  } else {
    err = 0;
  }
  if (c->fetch_manifest) {
    if (failover > 0) {
      c->fetch_manifest = 0;
      c->waiting = 1; /* on_backoff fetches it again, on the next proxy */
      uv_timer_start(&c->timer, on_backoff, 0, 0);
      return;
    }
    manifest_fetched(job, c, err, failover < 0 ? 0 : retryable, msg);
    return;
  }
  if (err != 0) {
    ra = c->has_retry_after ? c->retry_after_ms : 0;
    if (job->single) {
      /* A single stream cannot resume: probe again and start over from
       * byte 0 (the server may even do ranges this time). */
      job->received = 0;
      job->single = 0;
      job->total = RF_SIZE_UNKNOWN;
      job->state = RF__JOB_PROBING;
      c->probe = 1;
    }
    if (c->probe && job->state == RF__JOB_RUNNING && !job->single) {
      /* The probe's headers were fine; only its body failed. */
      c->probe = 0;
    }
    conn_release(c);
    job->dirty = 1;
    if (failover > 0) {
      /* Not a try of the request: the next candidate, at once. */
      c->waiting = 1;
      uv_timer_start(&c->timer, on_backoff, 0, 0);
      return;
    }
    if (failover < 0 || (proxy_msg && !retryable)) {
      if (failover == 0)
        job->tries = 1;
      job_fail(job, err, "%s: %s", safe_url(job), msg);
      return;
    }
    conn_failed(job, c, err, retryable, msg, ra);
    return;
  }
  c->fails = 0;
  if (job->single) {
    if (job->total == RF_SIZE_UNKNOWN)
      job->total = c->pos;
    job_finish(job);
    return;
  }
  if (c->probe) {
    c->probe = 0;
    if (job->total == 0) {
      job_finish(job);
      return;
    }
  }
  /* A run that ended inside a piece (the probe's) continues it. */
  if (c->run_count > 0 && c->pos < run_end_byte(job, c->run_first,
                                                c->run_count) &&
      !c->is_dup) {
    conn_start(c, c->pos, run_end_byte(job, c->run_first, c->run_count));
    return;
  }
  c->run_count = 0;
  c->is_dup = 0;
  job->dirty = 1;
}

void rf__job_after_actions(rf_job *job)
{
  uint32_t k;

  if (job->state == RF__JOB_DONE || job->state == RF__JOB_FINISHING)
    return;
  if (job->deferred_err != 0) {
    job_fail(job, job->deferred_err, "%s", job->deferred_msg);
    return;
  }
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    if (c->busy && c->cancel) {
      conn_remove(c);
      rf__conn_drop_block(c);
      conn_release(c);
      c->cancel = 0;
      job->dirty = 1;
    }
  }
  if (job->state == RF__JOB_RUNNING && !job->single &&
      job->verifying == 0 && rf__sched_complete(&job->sched)) {
    job_finish(job);
    return;
  }
  if (job->dirty) {
    job->dirty = 0;
    job_schedule(job);
  }
}

/* ------------------------------------------------------------ lifecycle */

static void conn_start_probe(rf__conn *c)
{
  rf_job *job = c->job;
  uint64_t start = 0, len = job->piece_size_opt != 0 ? job->piece_size_opt
                                                     : RF__PROBE_LEN;

  c->probe = 1;
  c->is_dup = 0;
  c->probe_discard = 0;
  c->run_count = 0;
  if (job->manifest != NULL)
    len = rf_manifest_piece_size(job->manifest);
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
  conn_start(c, start, start + len);
}

static void job_finish(rf_job *job)
{
  uint32_t k;
  rf__block *op;

  if (job->state == RF__JOB_FINISHING || job->state == RF__JOB_DONE)
    return;
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    conn_remove(c);
    rf__conn_drop_block(c);
    c->run_count = 0;
    if (c->waiting) {
      uv_timer_stop(&c->timer);
      c->waiting = 0;
    }
  }
  job->state = RF__JOB_FINISHING;
  op = rf__store_op(RF__OP_FINISH);
  if (op == NULL) {
    job_fail(job, RF_ENOMEM, "out of memory");
    return;
  }
  op->arg = job->total;
  if (job->manifest != NULL && !job->single) {
    XXH128_canonical_t cn;
    rf_manifest_content_xxh128(cn.digest, job->manifest);
    op->flag = 1;
    op->hash = XXH128_hashFromCanonical(&cn);
    if (rf_manifest_has_sha256(job->manifest)) {
      op->ptr = malloc(32);
      if (op->ptr != NULL) {
        rf_manifest_content_sha256(op->ptr, job->manifest);
        op->flag |= 2;
      }
    }
  }
  submit_op(job, op);
}

static void store_error(rf_job *job, int err)
{
  int e = 0;
  const char *what = NULL;

  rf__store_error(&job->store, &e, &what);
  job_fail(job, err, "cannot %s %s: %s%s", what != NULL ? what : "write",
           job->part, e != 0 ? strerror(e) : rf_strerror(err),
           err == RF_ENOSPC ? " (verified pieces are kept: run the same "
                              "command again once there is space)"
                            : "");
}

static void resume_checked(rf_job *job, rf__block *op)
{
  rf__verify_item *it = op->ptr;
  unsigned bad = 0;
  uint32_t k;

  if (job->verifying > 0)
    job->verifying--;
  for (k = 0; k < op->count; k++) {
    if (it[k].ok) {
      piece_accept(job, it[k].piece);
      job->pieces_resumed++;
      job->bytes_resumed += it[k].len;
    } else {
      job->sched.state[it[k].piece] = RF__PIECE_FREE;
      bad++;
    }
  }
  if (bad > 0)
    RF_LOG(&job->engine->log, RF_LOG_WARN, "resume",
           "%u pieces on disk did not match the journal: fetching them "
           "again", bad);
  RF_LOG(&job->engine->log, RF_LOG_INFO, "resume",
         "%u pieces (%llu bytes) kept from the last run", job->pieces_resumed,
         (unsigned long long)job->bytes_resumed);
  free(it);
  op->ptr = NULL;
  job->dirty = 1;
}

static void op_done(rf_job *job, rf__block *op)
{
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
      job_fail(job, op->result, "cannot create the journal %s: %s",
               job->journal_path, rf_strerror(op->result));
    break;
  case RF__OP_PREALLOC:
    if (op->result != 0)
      job_fail(job, op->result, "cannot allocate %llu bytes for %s: %s",
               (unsigned long long)op->arg, job->part,
               rf_strerror(op->result));
    break;
  case RF__OP_VERIFY:
    if (job->verifying > 0)
      job->verifying--;
    if (op->result == 0)
      piece_accept(job, op->piece);
    else if (op->result == RF_EHASH)
      piece_reject(job, op->piece, "changed on disk after two connections "
                                   "wrote it");
    else
      store_error(job, op->result);
    break;
  case RF__OP_VERIFY_MANY:
    resume_checked(job, op);
    break;
  case RF__OP_FINISH:
    if (op->result == 0)
      job_complete(job, 0);
    else if (op->result == RF_EHASH)
      job_fail(job, RF_EHASH,
               "%s: every piece matched, but the whole content does not "
               "match the manifest's XXH128%s: %s kept, not renamed",
               job->url_safe,
               rf_manifest_has_sha256(job->manifest) ? " or SHA-256" : "",
               job->part);
    else if (op->result == RF_ENOENT)
      job_fail(job, RF_ENOENT,
               "cannot finish %s: %s is no longer the file this download "
               "wrote (another program removed or replaced it): nothing "
               "was renamed", job->output, job->part);
    else
      job_fail(job, op->result, "cannot finish %s: %s", job->output,
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
  /* Blocks came back: resume paused transfers (loop thread, outside any
   * libcurl callback; curl_easy_pause may call the write callback). */
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    if (c->busy && c->paused) {
      c->paused = 0;
      curl_easy_pause(c->easy, CURLPAUSE_CONT);
    }
  }
  rf__job_after_actions(job);
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
      if (c->busy && !c->is_dup && c->accepted && !c->piece_fresh &&
          c->gen == job->gen && c->piece < job->sched.npieces &&
          job->sched.state[c->piece] != RF__PIECE_DONE)
        p->received += c->pos - (uint64_t)c->piece * job->sched.piece_size;
    }
  }
  p->written = job->store_open ? rf__store_written(&mj->store) : 0;
  p->rate = job->rate;
  p->elapsed = (double)(uv_now(job->engine->loop) - job->start_ms) / 1000.0;
  for (k = 0; k < job->nconns; k++)
    p->connections += job->conns[k].busy ? 1u : 0u;
  p->pieces_total = job->single ? 0 : job->sched.npieces;
  p->pieces_done = job->single ? 0 : job->sched.ndone;
  p->retries = job->retries;
  p->single_stream = job->single;
  p->pieces_verified = job->pieces_verified;
  p->pieces_failed = job->pieces_failed;
  p->resumed = job->bytes_resumed;
  for (k = 0; k < job->nconns; k++)
    p->waiting += job->conns[k].waiting ? 1u : 0u;
  p->last_retry = job->last_retry;
  p->last_retry_age =
      job->last_retry_ms != 0
          ? (double)(uv_now(job->engine->loop) - job->last_retry_ms) / 1000.0
          : -1.0;
}

static void on_tick(uv_timer_t *t)
{
  rf_job *job = t->data;
  rf_progress p;
  double dt = (double)job->progress_interval_ms / 1000.0;
  double inst = (double)(job->received - job->recv_at_tick) / dt;
  double alpha = dt / (dt + 2.0);

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
      c->quiet_ticks = c->busy && ci == 0 ? c->quiet_ticks + 1 : 0;
      if (c->quiet_ticks > 0)
        rf__conn_lowat_off(c);
    }
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

  if (job->route_req != NULL) {
    rf__chain_cancel(job->route_req);
    job->route_req = NULL;
  }
  job->open_handles = 3 + job->nconns; /* tick, kick, store, timers */
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    conn_remove(c);
    rf__conn_drop_block(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
  }
  uv_timer_stop(&job->tick);
  uv_timer_stop(&job->kick);
  uv_close((uv_handle_t *)&job->tick, on_handle_closed);
  uv_close((uv_handle_t *)&job->kick, on_handle_closed);
  rf__store_close(&job->store, on_store_closed);
  job->store_open = 0;
}

static void job_complete(rf_job *job, int err)
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
  memset(&r, 0, sizeof(r));
  r.error = err;
  r.message = job->message;
  r.path = job->discard ? "" : err == 0 ? job->output : job->part;
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
  r.route = job->route_desc;
  p.connections = 0;
  p.written = r.bytes;
  job->engine->in_callback++;
  if (job->on_progress != NULL)
    job->on_progress(job, &p, job->user_data);
  if (job->on_done != NULL)
    job->on_done(job, &r, job->user_data);
  job->engine->in_callback--;
}

static void on_kick(uv_timer_t *t)
{
  rf_job *job = t->data;

  if (job->cancelled && job->state != RF__JOB_DONE) {
    snprintf(job->message, sizeof(job->message), "cancelled");
    job_complete(job, RF_ECANCELED);
    return;
  }
  if (job->state == RF__JOB_ROUTING) {
    if (job->route_req == NULL)
      job_route(job);
    return;
  }
  if (job->state == RF__JOB_MANIFEST && !job->conns[0].busy &&
      !job->conns[0].waiting)
    conn_start_manifest(&job->conns[0]);
  else if (job->state == RF__JOB_PROBING && !job->conns[0].busy &&
           !job->conns[0].waiting)
    conn_start_probe(&job->conns[0]);
}

void rf__job_cancel(rf_job *job)
{
  if (job->state == RF__JOB_DONE || job->cancelled)
    return;
  job->cancelled = 1;
  uv_timer_start(&job->kick, on_kick, 0, 0);
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

static char *strip_credentials(const char *url)
{
  CURLU *u = curl_url();
  char *out = NULL, *tmp = NULL;

  if (u == NULL)
    return NULL;
  if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &tmp, 0) == CURLUE_OK) {
      out = strdup(tmp);
      curl_free(tmp);
    }
  }
  curl_url_cleanup(u);
  return out;
}

/* The text of url's port ("99999"), for messages; "" if none is found. */
static void url_port_text(const char *url, char *buf, size_t size)
{
  const char *auth = strstr(url, "://"), *end, *at, *p;
  size_t n;

  buf[0] = '\0';
  if (auth == NULL)
    return;
  auth += 3;
  end = auth + strcspn(auth, "/?#");
  for (at = NULL, p = auth; p < end; p++)
    if (*p == '@')
      at = p;
  p = at != NULL ? at + 1 : auth;
  if (*p == '[') {
    p = memchr(p, ']', (size_t)(end - p));
    if (p == NULL)
      return;
  }
  p = memchr(p, ':', (size_t)(end - p));
  if (p == NULL)
    return;
  n = (size_t)(end - p - 1);
  snprintf(buf, size, "%.*s", (int)(n < 32 ? n : 32), p + 1);
}

static int check_url(const char *url, char *why, size_t size)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL;
  char text[40];
  CURLUcode uc;
  int rc = RF_EURL;

  if (u == NULL)
    return RF_ENOMEM;
  uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
  if (uc == CURLUE_BAD_PORT_NUMBER) {
    url_port_text(url, text, sizeof(text));
    if (text[0] != '\0' && strspn(text, "0123456789") == strlen(text))
      snprintf(why, size, "port %s is out of range (1-65535)", text);
    else
      snprintf(why, size, "port '%s' is not a number from 1 to 65535", text);
    goto out;
  }
  if (uc == CURLUE_BAD_SCHEME || uc == CURLUE_NO_SCHEME) {
    snprintf(why, size, "no scheme: expected http:// or https://");
    goto out;
  }
  if (uc != CURLUE_OK) {
    snprintf(why, size, "malformed URL: %s", curl_url_strerror(uc));
    goto out;
  }
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    snprintf(why, size,
             "unsupported URL scheme '%s': only http:// and https:// URLs "
             "can be downloaded",
             scheme != NULL ? scheme : "");
    goto out;
  }
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      host[0] == '\0') {
    snprintf(why, size, "URL has no host");
    goto out;
  }
  if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
      strtoul(port, NULL, 10) == 0) {
    snprintf(why, size, "port %s is out of range (1-65535)", port);
    goto out;
  }
  rc = 0;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}

/* A directory where the output or its .part should go: said before
 * anything is fetched (the rename at the end would fail, with EIO). */
static int check_output_not_dir(rf_engine *e, const char *output)
{
  size_t n = strlen(output) + sizeof(".part");
  char *part;
  struct stat sb;
  int rc = 0;

  if (stat(output, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    rf__engine_set_error(e, "%s is a directory", output);
    return RF_EEXIST;
  }
  part = malloc(n);
  if (part == NULL)
    return RF_ENOMEM;
  snprintf(part, n, "%s.part", output);
  if (stat(part, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    rf__engine_set_error(e, "%s is a directory", part);
    rc = RF_EEXIST;
  }
  free(part);
  return rc;
}

/* Everything a job owns besides its uv handles; NULL fields are fine, so
 * this also undoes a half-built job. */
static void job_free(rf_job *job)
{
  uint32_t k;

  if (job->conns != NULL)
    for (k = 0; k < job->nconns; k++)
      rf__conn_cleanup(&job->conns[k]);
  free(job->conns);
  rf__sched_free(&job->sched);
  curl_slist_free_all(job->if_range);
  rf_manifest_free(job->manifest);
  free(job->manifest_url);
  free(job->manifest_buf);
  free(job->journal_path);
  free(job->raced);
  if (job->resume != NULL) {
    rf__journal_state_free(job->resume);
    free(job->resume);
  }
  if (job->resume_orphan != NULL) {
    rf__journal_state_free(job->resume_orphan);
    free(job->resume_orphan);
  }
  if (job->part_fd >= 0) { /* creation failed before the store took it */
    struct stat sb;
    if (job->part_created && fstat(job->part_fd, &sb) == 0 &&
        sb.st_size == 0 && rf__claim_check(job->part_fd, job->part))
      unlink(job->part);
    close(job->part_fd);
  }
  free(job->url);
  free(job->url_safe);
  free(job->effective_url);
  free(job->output);
  free(job->part);
  free(job->proxy);
  free(job->proxy_user);
  if (job->proxy_password != NULL)
    memset(job->proxy_password, 0, strlen(job->proxy_password));
  free(job->proxy_password);
  free(job->proxy_ca_file);
  rf__route_free(job->route);
  free(job->user_agent);
  free(job->ca_file);
  free(job);
}

void rf__job_destroy(rf_job *job)
{
  rf_engine *e = job->engine;
  rf_job **pp;

  for (pp = &e->jobs; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == job) {
      *pp = job->next;
      e->njobs--;
      break;
    }
  }
  job_free(job);
  rf__engine_job_gone(e);
}

static char *dup_or_null(const char *s)
{
  return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

static int file_exists(const char *path)
{
  struct stat sb;

  return stat(path, &sb) == 0;
}

static int file_exists_with_suffix(const char *path, const char *suffix)
{
  size_t n = strlen(path) + strlen(suffix) + 1;
  char *p = malloc(n);
  int yes;

  if (p == NULL)
    return 1; /* no memory: say nothing rather than something wrong */
  snprintf(p, n, "%s%s", path, suffix);
  yes = file_exists(p);
  free(p);
  return yes;
}

/*
 * Open and lock the .part file before anything else looks at it or its
 * journal: a second download to the same output is refused here, before it
 * touches either (rf__claim_open).
 */
static int claim_part(rf_job *job)
{
  long holder = 0;
  int e = rf__claim_open(job->part, &job->part_fd, &job->part_created,
                         &holder);
  char who[64];

  if (e == 0)
    return 0;
  if (e == EAGAIN) {
    if (holder == (long)getpid())
      snprintf(who, sizeof(who), "another download in this process");
    else if (holder > 0)
      snprintf(who, sizeof(who), "another download (process %ld)", holder);
    else
      snprintf(who, sizeof(who), "another download");
    rf__engine_set_error(job->engine,
                         "%s is being written by %s: nothing was touched; "
                         "wait for it to finish or choose another output",
                         job->part, who);
    return RF_EBUSY;
  }
  rf__engine_set_error(job->engine, "cannot open %s: %s", job->part,
                       e == EISDIR ? "it is a directory" : strerror(e));
  return e == EISDIR ? RF_EEXIST : rf__errno_to_rf(e);
}

/*
 * Manifest (a file is read now; a URL is fetched first thing) and an
 * earlier run's journal: resume it, or refuse to touch another download.
 */
static int prepare_integrity(rf_job *job, const rf_job_options *o)
{
  rf_engine *e = job->engine;
  char why[300];
  rf__journal_state *js;
  int rc;

  if (o->manifest != NULL && o->manifest[0] != '\0') {
    if (strncmp(o->manifest, "http://", 7) == 0 ||
        strncmp(o->manifest, "https://", 8) == 0) {
      job->manifest_url = strdup(o->manifest);
      if (job->manifest_url == NULL)
        return RF_ENOMEM;
    } else {
      struct rf_manifest *m = NULL;
      why[0] = '\0';
      rc = rf_manifest_load(&m, o->manifest, why, sizeof(why));
      if (rc == 0)
        rc = adopt_manifest(job, m);
      if (rc != 0) {
        if (why[0] != '\0') /* it names the file and, if any, the line */
          rf__engine_set_error(e, "%s", why);
        else
          rf__engine_set_error(e, "cannot use the manifest %s: %s",
                               o->manifest, rf_strerror(rc));
        return rc;
      }
    }
  }
  if (o->discard)
    return 0;
  if (!o->no_resume && !job->part_created) {
    /* Bytes that cannot be resumed: say so before they go. */
    struct stat sb;
    if (fstat(job->part_fd, &sb) == 0 && sb.st_size > 0) {
      if (o->no_verify)
        RF_LOG(&e->log, RF_LOG_WARN, "resume",
               "%s is left from an earlier run, but resuming needs "
               "verification (no_verify is set): starting over",
               job->part);
      else if (!file_exists_with_suffix(job->part, RF__JOURNAL_SUFFIX))
        RF_LOG(&e->log, RF_LOG_WARN, "resume",
               "%s is left from an earlier run that kept no journal (its "
               "server ignored range requests, or it ran without "
               "verification): starting over",
               job->part);
    }
  }
  if (o->no_verify)
    return 0;
  job->journal_path = malloc(strlen(job->part) + sizeof(RF__JOURNAL_SUFFIX));
  if (job->journal_path == NULL)
    return RF_ENOMEM;
  sprintf(job->journal_path, "%s%s", job->part, RF__JOURNAL_SUFFIX);
  if (o->no_resume || job->part_created || !file_exists(job->journal_path))
    return 0; /* a fresh start: the .part is truncated once the size is
                 known, the journal replaced */
  js = calloc(1, sizeof(*js));
  if (js == NULL)
    return RF_ENOMEM;
  rc = rf__journal_load(job->journal_path, js, why, sizeof(why));
  if (rc != 0) {
    RF_LOG(&e->log, RF_LOG_WARN, "resume",
           "%s is unusable (%s): starting over", job->journal_path, why);
    free(js);
    return 0;
  }
  if (js->meta.url == NULL || strcmp(js->meta.url, job->url_safe) != 0) {
    rf__engine_set_error(e,
                         "%s holds an unfinished download of %s, not of "
                         "%s: nothing was touched (resume that one, use "
                         "another output, or start over with --no-resume)",
                         job->part, js->meta.url ? js->meta.url : "?",
                         job->url_safe);
    rf__journal_state_free(js);
    free(js);
    return RF_ERESUME;
  }
  if ((job->manifest != NULL) != (js->meta.has_manifest != 0) ||
      (job->manifest != NULL &&
       !XXH128_isEqual(job->manifest_digest, js->meta.manifest_digest)) ||
      (js->meta.etag[0] == '\0' && js->meta.last_modified[0] == '\0')) {
    RF_LOG(&e->log, RF_LOG_WARN, "resume",
           "%s: %s: starting over", job->part,
           js->meta.etag[0] == '\0' && js->meta.last_modified[0] == '\0'
               ? "the server gave no validator (ETag or Last-Modified), so "
                 "an unchanged file cannot be told from a changed one"
               : "the manifest differs from the last run's");
    rf__journal_state_free(js);
    free(js);
    return 0;
  }
  /* Resume: the probe sends the old validator in If-Range. */
  snprintf(job->etag, sizeof(job->etag), "%s", js->meta.etag);
  snprintf(job->last_modified, sizeof(job->last_modified), "%s",
           js->meta.last_modified);
  set_if_range(job);
  if (job->if_range == NULL) {
    rf__journal_state_free(js);
    free(js);
    return RF_ENOMEM;
  }
  job->resume = js;
  RF_LOG(&e->log, RF_LOG_INFO, "resume",
         "%s: %u records in the journal%s", job->part, js->records,
         js->torn ? " (a torn tail was ignored)" : "");
  return 0;
}

int rf__job_create(rf_engine *e, const rf_job_options *o, rf_job **out)
{
  rf_job *job = NULL;
  char why[256];
  struct stat sb;
  unsigned k;
  int rc;

  if (o->url == NULL ||
      (!o->discard && (o->output == NULL || o->output[0] == '\0')))
    return RF_EINVAL;
  if (o->discard && o->manifest != NULL) {
    rf__engine_set_error(e, "a discarded download cannot be checked against "
                            "a manifest");
    return RF_EINVAL;
  }
  if (o->connections > RF_MAX_CONNECTIONS)
    return RF_EINVAL;
  rc = check_url(o->url, why, sizeof(why));
  if (rc != 0) {
    if (rc != RF_ENOMEM)
      rf__engine_set_error(e, "%s", why);
    RF_LOG(&e->log, RF_LOG_ERROR, "job", "%s", why);
    return rc;
  }
  if (!o->discard && (rc = check_output_not_dir(e, o->output)) != 0)
    return rc;
  if (!o->discard && stat(o->output, &sb) == 0) {
    /* A crash between the final rename and the journal's removal leaves
     * a finished file and a journal without a .part: the journal is
     * ours and stale. */
    size_t n = strlen(o->output) + sizeof(".part");
    char *part = malloc(n), *stale = malloc(n + sizeof(RF__JOURNAL_SUFFIX));
    if (part != NULL && stale != NULL) {
      snprintf(part, n, "%s.part", o->output);
      snprintf(stale, n + sizeof(RF__JOURNAL_SUFFIX), "%s%s", part,
               RF__JOURNAL_SUFFIX);
      if (!file_exists(part) && file_exists(stale))
        rf__journal_remove(stale);
    }
    free(part);
    free(stale);
    if (!o->overwrite)
      return RF_EEXIST;
  }
  job = calloc(1, sizeof(*job));
  if (job == NULL)
    return RF_ENOMEM;
  job->engine = e;
  job->part_fd = -1;
  job->total = RF_SIZE_UNKNOWN;
  job->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)job) | 1;
  job->url = strdup(o->url);
  job->url_safe = strip_credentials(o->url);
  job->discard = o->discard;
  job->output = strdup(o->discard ? "(discarded)" : o->output);
  job->part = malloc(strlen(job->output != NULL ? job->output : "") + 6);
  job->proxy = dup_or_null(o->proxy);
  job->no_proxy = o->proxy != NULL && o->proxy[0] == '\0';
  job->ca_file = dup_or_null(o->ca_file);
  job->proxy_auth = o->proxy_auth;
  job->proxy_ca_file = dup_or_null(o->proxy_ca_file);
  if (o->proxy_user != NULL) {
    const char *colon = strchr(o->proxy_user, ':');
    job->proxy_user = colon != NULL
                          ? strndup(o->proxy_user,
                                    (size_t)(colon - o->proxy_user))
                          : strdup(o->proxy_user);
    job->proxy_password = strdup(colon != NULL ? colon + 1 : "");
    if (job->proxy_user == NULL || job->proxy_password == NULL) {
      rc = RF_ENOMEM;
      goto fail;
    }
  }
  if (o->user_agent != NULL) {
    job->user_agent = strdup(o->user_agent);
  } else {
    job->user_agent = strdup("rangefetch/" RF_VERSION_STRING);
  }
  if (job->url == NULL || job->url_safe == NULL || job->output == NULL ||
      job->part == NULL || job->user_agent == NULL ||
      (o->proxy != NULL && o->proxy[0] != '\0' && job->proxy == NULL)) {
    rc = RF_ENOMEM;
    goto fail;
  }
  sprintf(job->part, "%s.part", job->output);
  job->nconns = o->connections ? o->connections : RF_DEFAULT_CONNECTIONS;
  job->piece_size_opt = o->piece_size;
  job->max_tries = o->max_tries ? o->max_tries : 5;
  job->retry_base_ms = o->retry_base_ms ? o->retry_base_ms : 500;
  job->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 30000;
  job->stall_timeout_ms = o->stall_timeout_ms ? o->stall_timeout_ms : 30000;
  job->connect_timeout_ms =
      o->connect_timeout_ms ? o->connect_timeout_ms : 15000;
  job->progress_interval_ms =
      o->progress_interval_ms ? o->progress_interval_ms : 250;
  job->on_progress = o->on_progress;
  job->on_done = o->on_done;
  job->user_data = o->user_data;
  job->no_verify = o->no_verify || o->discard;
  if (o->no_verify && o->manifest != NULL) {
    rf__engine_set_error(e, "no_verify and manifest cannot be used "
                            "together: a manifest is checked piece by "
                            "piece");
    rc = RF_EINVAL;
    goto fail;
  }
  if (!job->discard) {
    rc = claim_part(job);
    if (rc != 0)
      goto fail;
  }
  rc = prepare_integrity(job, o);
  if (rc != 0)
    goto fail;

  job->conns = calloc(job->nconns, sizeof(*job->conns));
  if (job->conns == NULL) {
    rc = RF_ENOMEM;
    goto fail;
  }
  for (k = 0; k < job->nconns; k++) {
    rc = rf__conn_init(&job->conns[k], job, k);
    if (rc != 0)
      goto fail;
  }
  /* Last step that can fail: it creates the .part file. */
  {
    unsigned nblocks = 2 * job->nconns + 4;
    size_t bs = RF__MAX_BLOCK;
    if (nblocks < RF__MIN_BLOCKS)
      nblocks = RF__MIN_BLOCKS;
    while (bs > RF__MIN_BLOCK && bs * nblocks > RF__POOL_BYTES)
      bs >>= 1;
    rc = rf__store_open(&job->store, e->loop, job->part_fd,
                        job->discard ? NULL : job->part, job->output,
                        job->no_verify ? NULL : job->journal_path, bs,
                        nblocks, on_store_wake, job);
  }
  if (rc != 0)
    goto fail;
  job->part_fd = -1; /* the store's now */
  job->store_open = 1;
  job->store.durable = !o->no_sync && !job->discard;
  for (k = 0; k < job->nconns; k++) {
    uv_timer_init(e->loop, &job->conns[k].timer);
    job->conns[k].timer.data = &job->conns[k];
  }
  uv_timer_init(e->loop, &job->tick);
  uv_timer_init(e->loop, &job->kick);
  job->tick.data = job;
  job->kick.data = job;
  job->start_ms = now_ms(job);
  job->created_ns = uv_hrtime();
  uv_timer_start(&job->tick, on_tick, job->progress_interval_ms,
                 job->progress_interval_ms);
  /* The first request goes out from the loop, not from this call. */
  uv_timer_start(&job->kick, on_kick, 0, 0);
  job->state = RF__JOB_ROUTING;
  job->next = e->jobs;
  e->jobs = job;
  e->njobs++;
  *out = job;
  return 0;

fail:
  job_free(job);
  return rc;
}
