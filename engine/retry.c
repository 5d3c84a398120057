/*
 * The retry policy: a failed request is tried again after an exponential
 * back-off with jitter (or the server's Retry-After, within reason) until
 * max_tries; a timeout is worded by what was missing; a content that
 * changed restarts the job, at most RF__MAX_RESTARTS times.
 */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define RF__MAX_RESTARTS 3

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

void rf__conn_on_backoff(uv_timer_t *t)
{
  rf__conn *c = t->data;
  rf_job *job = c->job;

  c->state = RF__CONN_IDLE;
  if (job->state == RF__JOB_MANIFEST) {
    rf__job_conn_start_manifest(c);
    return;
  }
  if (job->state == RF__JOB_PROBING && (c->role == RF__ROLE_PROBE))
    rf__job_conn_start_probe(c);
  else if (job->state == RF__JOB_PROBING && c->id == 0)
    rf__job_conn_start_probe(c);
  else
    job->dirty = 1;
  rf__job_after_actions(job);
}

void rf__job_restart(rf_job *job, const char *why)
{
  uint32_t k;

  if (rf__job_stream_stuck(job, RF_ECHANGED, why))
    return;
  job->restarts++;
  if (job->restarts > RF__MAX_RESTARTS) {
    rf__job_fail(job, RF_ECHANGED,
                 "%s changed %u times during the download: %s", job->url_safe,
                 job->restarts, why);
    return;
  }
  RF_LOG(&job->engine->log, RF_LOG_WARN, "job", "%s: starting over", why);
  job->gen++;
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    rf__job_conn_remove(c);
    rf__conn_drop_block(c);
    c->run_count = 0;
    if (c->role == RF__ROLE_DUP)
      c->role = RF__ROLE_RUN;
    c->cancel = 0;
    if (c->state == RF__CONN_WAITING) {
      uv_timer_stop(&c->timer);
      c->state = RF__CONN_IDLE;
    }
  }
  rf__sched_free(&job->sched);
  job->stream_verify = 0;
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
  free(job->srcs[0]->effective_url);
  job->srcs[0]->effective_url = NULL;
  job->state = RF__JOB_PROBING;
  rf__job_conn_start_probe(&job->conns[0]);
}

void rf__job_conn_failed(rf_job *job, rf__conn *c, int err, int retryable,
                         const char *msg, uint64_t retry_after_ms)
{
  unsigned tries;
  int via;
  uint64_t delay;
  const char *route_desc;

  if (err == RF_ECHANGED) {
    rf__job_restart(job, msg);
    return;
  }
  /* Through a proxy, the message says which (and who chose it). */
  via = rf__conn_proxy(c) != NULL;
  route_desc = c->src->route_desc;
  if (!retryable) {
    job->tries = 1;
    rf__job_fail(job, err, "%s: %s%s%s%s", job->url_safe, msg, via ? " (" : "",
                 via ? route_desc : "", via ? ")" : "");
    return;
  }
  if (job->single || (c->role == RF__ROLE_PROBE) || job->sched.npieces == 0)
    tries = ++job->probe_tries;
  else
    tries = rf__sched_fail(
        &job->sched, c->piece < job->sched.npieces ? c->piece : c->run_first);
  if (tries >= job->max_tries) {
    job->tries = tries;
    rf__job_fail(job, err, "%s: giving up after %u %s: %s%s%s%s", job->url_safe,
                 tries, tries == 1 ? "try" : "tries", msg, via ? " (" : "",
                 via ? route_desc : "", via ? ")" : "");
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
  c->state = RF__CONN_WAITING;
  uv_timer_start(&c->timer, rf__conn_on_backoff, delay, 0);
}

/* What a timeout means, in our words (libcurl's sentence speaks of bytes
 * per second): no connection, no answer, or an answer that stopped. */
void rf__conn_timeout_message(const rf_job *job, rf__conn *c, char *msg,
                              size_t size)
{
  curl_off_t connect_us = 0;
  const char *peer = rf__conn_proxy(c) != NULL ? "the proxy" : "the server";
  unsigned stall_s = (job->stall_timeout_ms + 999) / 1000;

  curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  if (connect_us == 0)
    snprintf(msg, size, "no connection to %s within %u s", peer,
             (job->connect_timeout_ms + 999) / 1000);
  else if (!c->headers_done)
    snprintf(msg, size, "%s took the connection but sent no answer for %u s",
             peer, stall_s);
  else {
    /* libcurl judges the speed over its last few seconds, so a short
     * stall limit can take longer: say how long it really was quiet. */
    uint64_t quiet_ms = (uint64_t)c->quiet_ticks * job->progress_interval_ms;
    unsigned quiet_s =
        quiet_ms / 1000 > stall_s ? (unsigned)(quiet_ms / 1000) : stall_s;
    snprintf(msg, size,
             "the server stopped sending: nothing for %u s after %llu "
             "bytes of its answer",
             quiet_s, (unsigned long long)(c->pos - c->req_start));
  }
}
