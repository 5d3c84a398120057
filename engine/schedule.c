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
#include <string.h>

#define RF__MAX_RUN      (64ULL << 20)
#define RF__DUP_MIN_LEFT (128ULL * 1024)

static uint32_t max_run_pieces(const rf_job *job)
{
  uint64_t share = job->total / job->nconns;
  uint64_t cap = share < RF__MAX_RUN ? share : RF__MAX_RUN;
  uint64_t n = cap / job->sched.piece_size;

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

/* Idle c takes, for src, the upper half of the unstarted pieces of the
 * busiest run (rf__sched_pick_steal), at most max of them: the last ones. */
static int steal(rf_job *job, rf__conn *c, rf__source *src, uint32_t max)
{
  uint32_t first, give;
  int k = rf__sched_pick_steal(run_views(job), job->nconns, &first, &give);
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
  int vi, avoid = eligible_sources(job) > 1 ? (int)src->id : -1;
  rf__conn *victim;

  for (k = 0; k < job->nconns; k++)
    busy += job->conns[k].state == RF__CONN_BUSY &&
            job->conns[k].role != RF__ROLE_DUP;
  vi = rf__sched_pick_duplicate(&job->sched, run_views(job), job->nconns,
                                busy > 0 ? job->rate / busy : 0,
                                RF__DUP_MIN_LEFT, avoid);
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

/* The source an idle connection serves next (rf__src_pick), or NULL. */
static rf__source *pick_source(rf_job *job)
{
  rf__src_policy p;
  int i;

  rf__sources_policy(job, &p);
  i = rf__src_pick(rf__sources_views(job), job->nsrcs, &p);
  return i < 0 ? NULL : job->srcs[i];
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
  uint32_t k, first, count;
  unsigned running = 0;

  if (job->state != RF__JOB_RUNNING || job->single)
    return;
  for (k = 0; k < job->nconns && job->state == RF__JOB_RUNNING; k++) {
    rf__conn *c = &job->conns[k];
    rf__source *src;
    if (c->state == RF__CONN_BUSY || c->state == RF__CONN_WAITING)
      continue;
    src = pick_source(job);
    if (src == NULL)
      break;
    count = run_pieces(job, src);
    if (rf__sched_take(&job->sched, count, &first, &count)) {
      rf__job_conn_start_run(c, src, first, count);
      continue;
    }
    if (steal(job, c, src, count))
      continue;
    if (duplicate(job, c, src))
      continue;
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

