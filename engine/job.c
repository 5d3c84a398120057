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

#include "parse.h"

#define RF__PROBE_LEN (1ULL << 20)
#define RF__MAX_RUN (64ULL << 20)
/* Staging blocks: 1 MiB each (measured: fewer pwrite calls and wake-ups
 * than 512 KiB, no gain at 2 MiB), 2 per connection + 4, 8 to 24 blocks,
 * so memory stays bounded whatever the file size. */
#define RF__BLOCK_SIZE ((size_t)1 << 20)
#define RF__MIN_BLOCKS 8u
#define RF__MAX_BLOCKS 24u
#define RF__DUP_MIN_LEFT (128ULL * 1024)
#define RF__MAX_RESTARTS 3

static void job_finish(rf_job *job);
static void job_complete(rf_job *job, int err);
static void job_schedule(rf_job *job);
static void conn_start_probe(rf__conn *c);

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

/* Endgame: fetch again the piece with the most bytes left. */
static int duplicate(rf_job *job, rf__conn *c)
{
  rf__conn *victim = NULL;
  uint64_t best = 0, off, len;
  uint32_t k;

  for (k = 0; k < job->nconns; k++) {
    rf__conn *v = &job->conns[k];
    uint64_t left;
    uint32_t j, dups = 0;
    if (!v->busy || v->is_dup || v->cancel || v->run_count == 0 ||
        v->gen != job->gen || job->sched.state[v->piece] == RF__PIECE_DONE)
      continue;
    for (j = 0; j < job->nconns; j++)
      dups += job->conns[j].busy && job->conns[j].is_dup &&
              job->conns[j].run_first == v->piece;
    if (dups > 0)
      continue;
    left = run_end_byte(job, v->piece, 1) - v->pos;
    if (left > best) {
      best = left;
      victim = v;
    }
  }
  if (victim == NULL || best < RF__DUP_MIN_LEFT)
    return 0;
  rf__sched_piece_range(&job->sched, victim->piece, &off, &len);
  c->is_dup = 1;
  c->run_first = victim->piece;
  c->run_count = 1;
  c->probe = 0;
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

static void learn_validator(rf_job *job, const rf__conn *c)
{
  char line[320];

  snprintf(job->etag, sizeof(job->etag), "%s", c->etag);
  snprintf(job->last_modified, sizeof(job->last_modified), "%s",
           c->last_modified);
  curl_slist_free_all(job->if_range);
  job->if_range = NULL;
  /* If-Range needs a strong validator: a weak ETag cannot be used. */
  if (job->etag[0] != '\0' && strncmp(job->etag, "W/", 2) != 0)
    snprintf(line, sizeof(line), "If-Range: %s", job->etag);
  else if (job->last_modified[0] != '\0')
    snprintf(line, sizeof(line), "If-Range: %s", job->last_modified);
  else
    return;
  job->if_range = curl_slist_append(NULL, line);
}

static int start_pieces(rf_job *job, rf__conn *c)
{
  uint64_t ps = job->piece_size_opt != 0
                    ? job->piece_size_opt
                    : rf__sched_auto_piece_size(job->total);
  int rc = rf__sched_init(&job->sched, job->total, ps);

  if (rc != 0) {
    set_conn_error(c, rc, 0, "cannot plan %llu bytes in pieces of %llu",
                   (unsigned long long)job->total, (unsigned long long)ps);
    return rc;
  }
  rc = rf__store_start_op(&job->store, RF__STORE_PREALLOC, job->total);
  if (rc != 0) {
    set_conn_error(c, rc, 0, "cannot preallocate the output");
    return rc;
  }
  return 0;
}

static int validate_probe(rf_job *job, rf__conn *c)
{
  char *eff = NULL;

  if (c->status == 206) {
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
    if (start_pieces(job, c) != 0)
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
    job->single = 1;
    job->total = c->content_length >= 0 ? (uint64_t)c->content_length
                                        : RF_SIZE_UNKNOWN;
    learn_validator(job, c);
    c->req_end = c->end = job->total;
    if (rf__store_start_op(&job->store, RF__STORE_PREALLOC,
                           job->total == RF_SIZE_UNKNOWN ? 0 : job->total))
      return set_conn_error(c, RF_EIO, 0, "cannot preallocate"), c->err;
    RF_LOG(&job->engine->log, RF_LOG_WARN, "http",
           "server does not do ranges (HTTP 200%s): one stream",
           job->total == RF_SIZE_UNKNOWN ? ", no length" : "");
  } else if (c->status == 416 && c->has_cr == 2 && c->cr_total == 0) {
    job->total = 0;
    learn_validator(job, c);
    if (start_pieces(job, c) != 0)
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
  if (c->probe)
    return validate_probe(job, c);
  if (c->status == 206) {
    if (validator_changed(job, c))
      return set_conn_error(c, RF_ECHANGED, 0,
                            "the validator changed (ETag %s -> %s)",
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
                          "server sent a new version of the content "
                          "(ETag %s -> %s)",
                          job->etag[0] ? job->etag : "none",
                          c->etag[0] ? c->etag : "none"),
           c->err;
  }
  if (c->status == 416)
    return set_conn_error(c, RF_ECHANGED, 0,
                          "range no longer satisfiable: the content shrank"),
           c->err;
  return status_error(c);
}

/* ---------------------------------------------------------------- pieces */

void rf__job_piece_done(rf_job *job, rf__conn *c, uint32_t i,
                        XXH128_hash_t digest)
{
  uint32_t k;

  (void)digest; /* kept for the journal and manifest checks */
  uint64_t off, len;

  if (c->gen != job->gen || !rf__sched_mark_done(&job->sched, i))
    return;
  rf__sched_piece_range(&job->sched, i, &off, &len);
  job->done_bytes += len;
  job->dirty = 1;
  /* Whoever lost an endgame race stops now. */
  for (k = 0; k < job->nconns; k++) {
    rf__conn *o = &job->conns[k];
    if (o == c || !o->busy || o->cancel || o->run_count == 0)
      continue;
    if (o->is_dup && o->run_first == i) {
      o->cancel = 1;
    } else if (c->is_dup && !o->is_dup && o->piece == i) {
      /* The duplicate won: the slow owner gives up its run. */
      o->cancel = 1;
    }
  }
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
  RF_LOG(&job->engine->log, RF_LOG_WARN, "job",
         "remote content changed (%s): starting over", why);
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
  job->total = RF_SIZE_UNKNOWN;
  job->single = 0;
  job->received = 0;
  job->done_bytes = 0;
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
  uint64_t delay;

  if (err == RF_ECHANGED) {
    job_restart(job, msg);
    return;
  }
  if (!retryable) {
    job->tries = 1;
    job_fail(job, err, "%s: %s", safe_url(job), msg);
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
    job_fail(job, err, "%s: giving up after %u %s: %s", safe_url(job),
             tries, tries == 1 ? "try" : "tries", msg);
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
  c->waiting = 1;
  uv_timer_start(&c->timer, on_backoff, delay, 0);
}

void rf__job_on_done(rf_job *job, rf__conn *c, CURLcode res)
{
  int retryable = 1, err;
  char msg[300];
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
  if (c->stop == RF__STOP_ERROR) {
    err = c->err;
    retryable = c->retryable;
    snprintf(msg, sizeof(msg), "%s", c->errmsg);
  } else if (res != CURLE_OK) {
    err = map_curl(res, job->proxy != NULL, &retryable);
    if (err == RF_EPROXY && res == CURLE_COULDNT_CONNECT)
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
      rf__sched_complete(&job->sched)) {
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
  uint64_t len = job->piece_size_opt != 0 ? job->piece_size_opt
                                          : RF__PROBE_LEN;

  c->probe = 1;
  c->is_dup = 0;
  c->run_count = 0;
  conn_start(c, 0, len);
}

static void job_finish(rf_job *job)
{
  uint32_t k;
  int rc;

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
  rc = rf__store_start_op(&job->store, RF__STORE_FINISH, job->total);
  if (rc != 0) {
    /* A preallocation is still running; finish when it ends. */
    job->finish_pending = 1;
  }
}

static void store_error(rf_job *job, int err)
{
  int e = 0;

  rf__store_error(&job->store, &e);
  job_fail(job, err, "cannot write %s: %s", job->part,
           e != 0 ? strerror(e) : rf_strerror(err));
}

static void on_store_wake(rf__store *st, void *ud)
{
  rf_job *job = ud;
  int result, err;
  uint32_t k;

  (void)st;
  if (job->state == RF__JOB_DONE)
    return;
  err = rf__store_error(&job->store, NULL);
  if (err != 0) {
    store_error(job, err);
    return;
  }
  if (rf__store_op_poll(&job->store, &result)) {
    if (job->state == RF__JOB_FINISHING && !job->finish_pending) {
      if (result != 0) {
        int e = 0;
        rf__store_error(&job->store, &e);
        job_fail(job, result, "cannot finish %s: %s", job->output,
                 rf_strerror(result));
      } else {
        job_complete(job, 0);
      }
      return;
    }
    if (result != 0) {
      store_error(job, result);
      return;
    }
    if (job->finish_pending) {
      job->finish_pending = 0;
      rf__store_start_op(&job->store, RF__STORE_FINISH, job->total);
      return;
    }
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
  struct stat sb;

  if (job->state == RF__JOB_DONE)
    return;
  job->state = RF__JOB_DONE;
  job->error = err;
  if (err == 0)
    job->message[0] = '\0';
  rf__job_progress(job, &p);
  /* Stop transfers and the writer first, so the callbacks see final
   * figures and the .part file is closed. */
  job_close(job);
  if (err != 0 && p.written == 0 && stat(job->part, &sb) == 0 &&
      sb.st_size == 0)
    unlink(job->part); /* nothing worth keeping */
  memset(&r, 0, sizeof(r));
  r.error = err;
  r.message = job->message;
  r.path = err == 0 ? job->output : job->part;
  r.http_status = job->http_status;
  r.curl_code = job->curl_code;
  r.tries = job->tries;
  r.bytes = err == 0 ? job->total : p.written;
  r.seconds = p.elapsed;
  r.retries = job->retries;
  r.connections_opened = job->connects;
  r.connections_max = job->busy_max;
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
  if (job->state == RF__JOB_PROBING && !job->conns[0].busy &&
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

static int check_url(const char *url, char *why, size_t size)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  CURLUcode uc;
  int rc = 0;

  if (u == NULL)
    return RF_ENOMEM;
  uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc != CURLUE_OK) {
    snprintf(why, size, "malformed URL: %s", curl_url_strerror(uc));
    rc = RF_EURL;
    goto out;
  }
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    snprintf(why, size, "unsupported URL scheme '%s' (http and https only)",
             scheme != NULL ? scheme : "");
    rc = RF_EURL;
    goto out;
  }
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      host[0] == '\0') {
    snprintf(why, size, "URL has no host");
    rc = RF_EURL;
  }
out:
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

void rf__job_destroy(rf_job *job)
{
  rf_engine *e = job->engine;
  rf_job **pp;
  uint32_t k;

  for (pp = &e->jobs; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == job) {
      *pp = job->next;
      e->njobs--;
      break;
    }
  }
  for (k = 0; k < job->nconns; k++)
    rf__conn_cleanup(&job->conns[k]);
  free(job->conns);
  rf__sched_free(&job->sched);
  curl_slist_free_all(job->if_range);
  free(job->url);
  free(job->url_safe);
  free(job->effective_url);
  free(job->output);
  free(job->part);
  free(job->proxy);
  free(job->user_agent);
  free(job->ca_file);
  free(job);
  rf__engine_job_gone(e);
}

static char *dup_or_null(const char *s)
{
  return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

int rf__job_create(rf_engine *e, const rf_job_options *o, rf_job **out)
{
  rf_job *job = NULL;
  char why[256];
  struct stat sb;
  unsigned k, inited = 0;
  int rc;

  if (o->url == NULL || o->output == NULL || o->output[0] == '\0')
    return RF_EINVAL;
  if (o->connections > RF_MAX_CONNECTIONS)
    return RF_EINVAL;
  rc = check_url(o->url, why, sizeof(why));
  if (rc != 0) {
    RF_LOG(&e->log, RF_LOG_ERROR, "job", "%s", why);
    return rc;
  }
  if (!o->overwrite && stat(o->output, &sb) == 0)
    return RF_EEXIST;
  job = calloc(1, sizeof(*job));
  if (job == NULL)
    return RF_ENOMEM;
  job->engine = e;
  job->total = RF_SIZE_UNKNOWN;
  job->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)job) | 1;
  job->url = strdup(o->url);
  job->url_safe = strip_credentials(o->url);
  job->output = strdup(o->output);
  job->part = malloc(strlen(o->output) + 6);
  job->proxy = dup_or_null(o->proxy);
  job->ca_file = dup_or_null(o->ca_file);
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
  sprintf(job->part, "%s.part", o->output);
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

  job->conns = calloc(job->nconns, sizeof(*job->conns));
  if (job->conns == NULL) {
    rc = RF_ENOMEM;
    goto fail;
  }
  for (k = 0; k < job->nconns; k++, inited++) {
    rc = rf__conn_init(&job->conns[k], job, k);
    if (rc != 0)
      goto fail;
  }
  /* Last step that can fail: it creates the .part file. */
  {
    unsigned nblocks = 2 * job->nconns + 4;
    nblocks = nblocks < RF__MIN_BLOCKS   ? RF__MIN_BLOCKS
              : nblocks > RF__MAX_BLOCKS ? RF__MAX_BLOCKS
                                         : nblocks;
    rc = rf__store_open(&job->store, e->loop, job->part, job->output,
                        RF__BLOCK_SIZE, nblocks, on_store_wake, job);
  }
  if (rc != 0)
    goto fail;
  job->store_open = 1;
  job->store.durable = !o->no_sync;
  for (k = 0; k < job->nconns; k++) {
    uv_timer_init(e->loop, &job->conns[k].timer);
    job->conns[k].timer.data = &job->conns[k];
  }
  uv_timer_init(e->loop, &job->tick);
  uv_timer_init(e->loop, &job->kick);
  job->tick.data = job;
  job->kick.data = job;
  job->start_ms = now_ms(job);
  uv_timer_start(&job->tick, on_tick, job->progress_interval_ms,
                 job->progress_interval_ms);
  /* The first request goes out from the loop, not from this call. */
  uv_timer_start(&job->kick, on_kick, 0, 0);
  job->state = RF__JOB_PROBING;
  job->next = e->jobs;
  e->jobs = job;
  e->njobs++;
  *out = job;
  return 0;

fail:
  if (job->conns != NULL) {
    for (k = 0; k < inited; k++)
      rf__conn_cleanup(&job->conns[k]);
  }
  free(job->conns);
  free(job->url);
  free(job->url_safe);
  free(job->output);
  free(job->part);
  free(job->proxy);
  free(job->user_agent);
  free(job->ca_file);
  free(job);
  return rc;
}
