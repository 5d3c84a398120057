/*
 * What each idle connection of a job does next, acting on the pure
 * choices of source/policy.c (which source, how long a run) and
 * scheduler.c (a free run, stealing, the endgame): a run from the chosen
 * source, half of a busy run, or a duplicate of a straggler's piece from
 * another source.  Also: room for a source without a connection, and the
 * end when no source is left.
 */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/url.h"

#define RF__MAX_RUN      (64ULL << 20)
#define RF__DUP_MIN_LEFT (128ULL * 1024)
/* Sources the scheduler can pass over in one round (more are never
 * passed over: a round then ends at the first with nothing to give). */
#define RF__SKIP_MAX 256u

static uint32_t max_run_pieces(const rf_job *job)
{
  uint64_t share = job->total / job->nconns;
  uint64_t cap = share < RF__MAX_RUN ? share : RF__MAX_RUN;
  uint64_t n = cap / job->sched.piece_size;

  if (job->stream && n > job->stream_window / job->nconns)
    n = job->stream_window / job->nconns; /* the window, shared */
  return n == 0 ? 1 : (uint32_t)n;
}

/* Pieces a run of src gets: with one source, an even share of the job
 * (capped); with several, by src's rate (rf__src_run_pieces). */
static uint32_t run_pieces(const rf_job *job, const rf__source *src)
{
  uint64_t left = job->total - job->done_bytes;
  double conn_rate = src->busy > 0 ? src->rate / src->busy : src->rate;

  if (job->nsrcs == 1)
    return max_run_pieces(job);
  return rf__src_run_pieces(conn_rate, job->rate, left, job->sched.piece_size,
                            max_run_pieces(job));
}

/* The scheduler's view of each connection's run (job->views). */
static rf__run_view *run_views(rf_job *job)
{
  uint32_t k;

  for (k = 0; k < job->nconns; k++) {
    const rf__conn *c = &job->conns[k];
    rf__run_view *v = &job->views[k];
    v->busy = c->state == RF__CONN_BUSY;
    v->stopping = c->cancel || c->gen != job->gen;
    v->probe = c->role == RF__ROLE_PROBE;
    v->dup = c->role == RF__ROLE_DUP;
    v->src = c->src != NULL ? (int)c->src->id : -1;
    v->run_first = c->run_first;
    v->run_count = c->run_count;
    v->piece = c->piece;
    v->pos = c->pos;
    v->rate = c->rate;
    v->quiet_ticks = c->quiet_ticks;
  }
  return job->views;
}

/* ------------------------------------------------- rendezvous hashing */

/* Whether pieces are placed on cache hosts by rendezvous hashing. */
static int hashing(const rf_job *job)
{
  unsigned k;

  if (!job->cache_host_hash)
    return 0;
  for (k = 1; k < job->nsrcs; k++)
    if (job->srcs[k]->kind == RF_SOURCE_CACHE_HOST)
      return 1;
  return 0;
}

/* job->hrw: for each piece, the job's cache hosts (source ids) in that
 * piece's rendezvous order (rf_cache_host_pick), made once per plan and
 * set of cache hosts.  Returns 0, RF_ENOMEM. */
static int hrw_plan(rf_job *job)
{
  const char *hosts[64];
  uint16_t ids[64];
  int usable[64];
  unsigned n = 0, k, r, first[64];
  uint32_t i;

  for (k = 1; k < job->nsrcs && n < 64; k++)
    if (job->srcs[k]->kind == RF_SOURCE_CACHE_HOST) {
      hosts[n] = job->srcs[k]->host;
      ids[n++] = (uint16_t)k;
    }
  if (job->hrw != NULL && job->hrw_k == n && job->hrw_n == job->sched.npieces)
    return 0;
  free(job->hrw);
  free(job->hrw_mask);
  job->hrw = malloc((size_t)job->sched.npieces * n * sizeof(uint16_t) + 1);
  job->hrw_mask = malloc((size_t)job->sched.npieces + 1);
  if (job->hrw == NULL || job->hrw_mask == NULL) {
    free(job->hrw);
    free(job->hrw_mask);
    job->hrw = NULL;
    job->hrw_mask = NULL;
    return RF_ENOMEM;
  }
  memset(first, 0, sizeof(first));
  if (job->hrw_key == NULL && (job->hrw_key = rf__hrw_key(job->url)) == NULL)
    return RF_ENOMEM;
  for (i = 0; i < job->sched.npieces; i++) {
    for (k = 0; k < n; k++)
      usable[k] = 1;
    for (r = 0; r < n; r++) {
      int h = rf__hrw_pick(job->hrw_key, i, hosts, n, usable);
      job->hrw[(size_t)i * n + r] = ids[h];
      usable[h] = 0;
      if (r == 0)
        first[h]++;
    }
  }
  job->hrw_k = n;
  job->hrw_n = job->sched.npieces;
  for (k = 0; k < n; k++)
    RF_LOG(&job->engine->log, RF_LOG_INFO, "sched",
           "rendezvous hashing: cache host %s first for %u of %u pieces",
           hosts[k], first[k], job->sched.npieces);
  return 0;
}

/* The pieces src takes under hashing (job->hrw_mask): for a cache host,
 * those whose first usable host in their order is src; for any other
 * source, those with no usable cache host left.  NULL: no hashing (or no
 * memory: then src takes any piece, as without it). */
static const uint8_t *hrw_pieces(rf_job *job, const rf__source *src)
{
  rf__src_view *v;
  uint32_t i;
  unsigned r;

  if (!hashing(job) || src->kind == RF_SOURCE_PEER || hrw_plan(job) != 0)
    return NULL;
  v = rf__sources_views(job);
  for (i = 0; i < job->sched.npieces; i++) {
    int owner = -1;
    for (r = 0; r < job->hrw_k && owner < 0; r++) {
      uint16_t id = job->hrw[(size_t)i * job->hrw_k + r];
      if (v[id].usable)
        owner = id;
    }
    job->hrw_mask[i] = (uint8_t)(owner == (int)src->id ||
                                 (owner < 0 &&
                                  src->kind != RF_SOURCE_CACHE_HOST));
  }
  return job->hrw_mask;
}

/* Idle c takes, for src, the upper half of the unstarted pieces of the
 * busiest run (rf__sched_pick_steal), at most max of them: the last ones.
 * Under hashing, only from a run of the same source (pieces stay on the
 * cache host hashing placed them on). */
static int steal(rf_job *job, rf__conn *c, rf__source *src, uint32_t max)
{
  uint32_t first, give;
  int k = rf__sched_pick_steal(run_views(job), job->nconns,
                               hashing(job) ? (int)src->id : -1, &first,
                               &give);
  rf__conn *victim;

  if (k < 0)
    return 0;
  if (give > max) {
    first += give - max;
    give = max;
  }
  victim = &job->conns[k];
  victim->run_count -= give;
  victim->end = rf__job_piece_off(job, first);
  RF_LOG(&job->engine->log, RF_LOG_DEBUG, "sched",
         "conn %u takes %u pieces from conn %u", c->id, give, victim->id);
  rf__job_conn_start_run(c, src, first, give);
  return 1;
}

/* Sources that may take pieces now (rf__src_eligible). */
static unsigned eligible_sources(rf_job *job)
{
  rf__src_policy p;
  rf__src_view *v = rf__sources_views(job);
  unsigned k, n = 0;

  rf__sources_policy(job, &p);
  for (k = 0; k < job->nsrcs; k++)
    n += (unsigned)rf__src_eligible(v, job->nsrcs, k, &p);
  return n;
}

/* The endgame: idle c fetches a straggler's piece again from src
 * (rf__sched_pick_duplicate says whose, and why it pays); from another
 * source than the straggler's when there is one. */
static int duplicate(rf_job *job, rf__conn *c, rf__source *src)
{
  uint64_t off, len;
  uint32_t k;
  unsigned busy = 0;
  int hash = hashing(job);
  int vi, avoid = !hash && eligible_sources(job) > 1 ? (int)src->id : -1;
  unsigned dups = 0;
  rf__conn *victim;

  /* Under a rate limit the job itself is the bottleneck: a second copy
   * of a piece would only spend the rate on bytes already coming. */
  if (job->bucket.rate != 0)
    return 0;

  for (k = 0; k < job->nconns; k++) {
    busy += job->conns[k].state == RF__CONN_BUSY &&
            job->conns[k].role != RF__ROLE_DUP;
    dups += job->conns[k].state == RF__CONN_BUSY &&
            job->conns[k].role == RF__ROLE_DUP;
  }
  if (job->stream && dups >= RF__STREAM_DUPS)
    return 0; /* the pool holds that many duplicated pieces */
  vi = rf__sched_pick_duplicate(&job->sched, run_views(job), job->nconns,
                                busy > 0 ? job->rate / busy : 0,
                                RF__DUP_MIN_LEFT, avoid,
                                hash ? (int)src->id : -1);
  if (vi < 0)
    return 0;
  victim = &job->conns[vi];
  rf__sched_piece_range(&job->sched, victim->piece, &off, &len);
  job->raced[victim->piece] = 1;
  c->src = src;
  c->role = RF__ROLE_DUP;
  c->run_first = victim->piece;
  c->run_count = 1;
  c->probe_discard = 0;
  RF_LOG(&job->engine->log, RF_LOG_DEBUG, "sched",
         "endgame: conn %u duplicates piece %u of conn %u%s%s", c->id,
         victim->piece, victim->id, src->id != victim->src->id ? " from " : "",
         src->id != victim->src->id ? src->name : "");
  rf__job_conn_start(c, off, off + len);
  return 1;
}

/* The source an idle connection serves next (rf__src_pick), or NULL;
 * sources with skip[id] set had nothing to give this time. */
static rf__source *pick_source(rf_job *job, const uint8_t *skip)
{
  rf__src_policy p;
  rf__src_view *v = rf__sources_views(job);
  unsigned k;
  int i;

  for (k = 0; k < job->nsrcs && k < RF__SKIP_MAX; k++)
    if (skip[k])
      v[k].usable = 0;
  rf__sources_policy(job, &p);
  i = rf__src_pick(v, job->nsrcs, &p);
  return i < 0 ? NULL : job->srcs[i];
}

/* c's next request from src: a free run (of src's pieces, under hashing),
 * half of a busy run, or an endgame duplicate.  Returns 1 if one
 * started. */
static int give_work(rf_job *job, rf__conn *c, rf__source *src)
{
  uint32_t first, count = run_pieces(job, src);
  const uint8_t *mask = hrw_pieces(job, src);

  if (mask != NULL
          ? rf__sched_take_mask(&job->sched, count, mask, &first, &count)
          : rf__sched_take(&job->sched, count, &first, &count)) {
    rf__job_conn_start_run(c, src, first, count);
    return 1;
  }
  return steal(job, c, src, count) || duplicate(job, c, src);
}

/* Every source is out for good: say why each one is, and end the job. */
static int no_source_left(rf_job *job)
{
  unsigned k;
  char why[480];
  size_t len = 0;

  for (k = 0; k < job->nsrcs; k++) {
    rf__source *s = job->srcs[k];
    int out = s->state == RF_SOURCE_REFUSED || s->state == RF_SOURCE_REMOVED ||
              (s->state == RF_SOURCE_BANNED &&
               (s->retry_at == 0 || job->cache_fallback_delay < 0));
    if (s->id == 0 && job->nsrcs > 1 && job->cache_fallback_delay < 0)
      continue; /* held for good, not failed */
    if (!out)
      return 0;
  }
  for (k = 1; k < job->nsrcs && len < sizeof(why) - 1; k++) {
    const rf__source *s = job->srcs[k];
    snprintf(why + len, sizeof(why) - len, "%s%s %s: %s", k > 1 ? "; " : "",
             rf_source_kind_name(s->kind), s->name,
             s->why[0] != '\0' ? s->why : rf_source_state_name(s->state));
    len = strlen(why);
  }
  why[len] = '\0';
  rf__job_fail(job, RF_ENETWORK,
               "%s: no source left%s: %s", job->url_safe,
               job->cache_fallback_delay < 0
                   ? " (cache_fallback_delay = -1 keeps the origin out)"
                   : "",
               why);
  return 1;
}

void rf__job_schedule(rf_job *job)
{
  uint32_t k;
  unsigned running = 0;
  uint8_t skip[RF__SKIP_MAX];

  if (job->state != RF__JOB_RUNNING || job->single)
    return;
  memset(skip, 0, sizeof(skip));
  for (k = 0; k < job->nconns && job->state == RF__JOB_RUNNING; k++) {
    rf__conn *c = &job->conns[k];
    rf__source *src;
    int started = 0;
    if (c->state == RF__CONN_BUSY || c->state == RF__CONN_WAITING)
      continue;
    /* The best source first; one with nothing to give is passed over
     * (under hashing each has its own pieces). */
    while (!started && (src = pick_source(job, skip)) != NULL) {
      started = give_work(job, c, src);
      if (!started && src->id < RF__SKIP_MAX)
        skip[src->id] = 1;
      else if (!started)
        break;
    }
    if (!started)
      break; /* nothing to give: the others stay idle too */
  }
  for (k = 0; k < job->nconns; k++)
    running += job->conns[k].state != RF__CONN_IDLE;
  if (running == 0 && job->state == RF__JOB_RUNNING &&
      !rf__sched_complete(&job->sched) && job->verifying == 0)
    no_source_left(job);
}

/* A usable source without a connection while every connection is busy
 * (a source just added, or the origin let in after a cache host
 * failed): the connection with the most pieces left on a source that has
 * others (or that may not serve now) stops at the end of its current piece
 * and gives the rest back, so the next run goes to that source.  Nothing
 * received is dropped. */
void rf__job_make_room(rf_job *job)
{
  rf__src_policy p;
  rf__src_view *v;
  unsigned k;
  int want = 0;
  rf__conn *best = NULL;
  uint32_t best_left = 0;

  if (job->state != RF__JOB_RUNNING || job->single || job->nsrcs < 2)
    return;
  for (k = 0; k < job->nconns; k++)
    if (job->conns[k].state == RF__CONN_IDLE)
      return; /* the scheduler has one to give */
  rf__sources_policy(job, &p);
  v = rf__sources_views(job);
  for (k = 0; k < job->nsrcs && !want; k++)
    want = v[k].busy == 0 && rf__src_eligible(v, job->nsrcs, k, &p);
  if (!want)
    return;
  for (k = 0; k < job->nconns; k++) {
    rf__conn *c = &job->conns[k];
    uint32_t end, left;
    int held;
    if (c->state != RF__CONN_BUSY || c->role != RF__ROLE_RUN || c->cancel ||
        c->gen != job->gen || c->run_count == 0 || c->src == NULL)
      continue;
    held = !rf__src_eligible(v, job->nsrcs, c->src->id, &p);
    if (!held && c->src->busy < 2)
      continue;
    end = c->run_first + c->run_count;
    left = end > c->piece + 1 ? end - (c->piece + 1) : 0;
    if (held)
      left += 1u << 30; /* a held source gives first */
    if (left > best_left) {
      best = c;
      best_left = left;
    }
  }
  if (best == NULL || (best_left & ((1u << 30) - 1)) == 0)
    return;
  {
    uint32_t keep = best->piece + 1 - best->run_first;
    rf__sched_release(&job->sched, best->piece + 1, best->run_count - keep);
    best->run_count = keep;
    best->end = rf__job_piece_off(job, best->piece + 1);
    RF_LOG(&job->engine->log, RF_LOG_DEBUG, "sched",
           "conn %u stops after piece %u: a connection for another source",
           best->id, best->piece);
  }
}

