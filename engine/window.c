/*
 * Stream mode (rf_job_options.stream): what changes for a job whose
 * content goes, in order, to a file descriptor.
 *
 * Each connection holds the blocks of the piece it receives until the
 * piece is whole and verified (transfer.c, rf__job_piece_done), then hands
 * them to the writer, which writes them once every byte before them was
 * written (disk/stream.h).  So memory is what bounds it: pieces are
 * handed out only within a window of W pieces from the first piece not
 * yet written, and the staging pool holds W pieces plus RF__STREAM_DUPS
 * endgame duplicates.  Every block in use then belongs to a piece of the
 * window or to a duplicate, so the pool never runs dry for good and the
 * connection fetching the first missing piece always gets blocks.
 *
 * The bound: pool = (W + RF__STREAM_DUPS) x ceil(piece / block) blocks,
 * W = min(2 x connections + 2, pieces that fit), at most
 * RF__STREAM_POOL_MAX bytes (64 MiB).  A piece size chosen by the engine
 * or the caller is at most RF__STREAM_PIECE_AUTO (4 MiB); a manifest's
 * pieces may be larger as long as two of them and the duplicates fit
 * (16 MiB), else the job is refused.
 *
 * What cannot be taken back: once bytes were written, a changed remote
 * file or a broken single stream ends the job instead of starting over.
 */
#include "job.h"

#include <stdio.h>
#include <string.h>

#include "rangefetch/manifest.h"

/* The window wanted: two pieces per connection and two more, so that
 * every connection has a piece to fetch while the slowest one holds the
 * output back a little. */
#define RF__STREAM_WINDOW(nconns) (2u * (nconns) + 2u)

int rf__stream_pool(uint64_t piece, size_t block, unsigned nconns,
                    uint32_t *window, unsigned *max_blocks)
{
  uint64_t k, per, fit, w;

  if (piece == 0 || block == 0)
    return RF_EINVAL;
  k = (piece + block - 1) / block; /* blocks of one piece */
  per = k * block;                 /* pool bytes a piece takes */
  fit = (uint64_t)RF__STREAM_POOL_MAX / per;
  if (fit < 2 + RF__STREAM_DUPS)
    return RF_ETOOBIG;
  w = RF__STREAM_WINDOW(nconns > 0 ? nconns : 1);
  if (w > fit - RF__STREAM_DUPS)
    w = fit - RF__STREAM_DUPS;
  *window = (uint32_t)w;
  *max_blocks = (unsigned)((w + RF__STREAM_DUPS) * k);
  return 0;
}

uint64_t rf__job_stream_piece(uint64_t ps)
{
  return ps > RF__STREAM_PIECE_AUTO ? RF__STREAM_PIECE_AUTO : ps;
}

int rf__job_stream_check_piece(const rf_job *job, uint64_t piece, char *why,
                               size_t size)
{
  uint32_t w;
  unsigned n;
  size_t bs = piece < RF__STREAM_BLOCK ? (size_t)piece : RF__STREAM_BLOCK;

  if (rf__stream_pool(piece, bs, job->nconns, &w, &n) == 0)
    return 0;
  snprintf(why, size,
           "pieces of %llu bytes are too large to stream: each one is held "
           "in memory until it is verified, within %u MiB, so pieces may "
           "be %u MiB at most",
           (unsigned long long)piece, (unsigned)(RF__STREAM_POOL_MAX >> 20),
           (unsigned)(RF__STREAM_POOL_MAX / (2 + RF__STREAM_DUPS) >> 20));
  return RF_ETOOBIG;
}

/* The staging pool for pieces of the job's size, nconns connections at a
 * time; the window.  Returns 0, or RF_ETOOBIG with c's error set. */
static int size_pool(rf_job *job, rf__conn *c, uint64_t piece, unsigned nconns)
{
  char why[300];
  size_t cur = job->store.block_size, bs;
  unsigned n;
  uint32_t w;
  int rc = rf__job_stream_check_piece(job, piece, why, sizeof(why));

  if (rc != 0) {
    rf__conn_set_error(c, rc, 0, "%s", why);
    return rc;
  }
  /* Blocks no larger than a piece: a block holds one piece's bytes. */
  bs = rf__store_set_pool(&job->store, piece < cur ? (size_t)piece : cur, 0);
  rc = rf__stream_pool(piece, bs, nconns, &w, &n);
  if (rc != 0) { /* (not with blocks of at most RF__STREAM_BLOCK) */
    rf__conn_set_error(c, rc, 0, "%s", why);
    return rc;
  }
  rf__store_set_pool(&job->store, bs, n);
  job->stream_window = w;
  RF_LOG(&job->engine->log, RF_LOG_INFO, "stream",
         "streaming to %s: pieces of %llu bytes, %u ahead of the output at "
         "most, a pool of %u blocks of %zu bytes",
         job->output, (unsigned long long)piece, w, n, bs);
  return 0;
}

int rf__job_stream_plan(rf_job *job, rf__conn *c)
{
  int rc;

  if (job->sched.npieces == 0)
    return 0; /* empty */
  rc = size_pool(job, c, job->sched.piece_size, job->nconns);
  if (rc != 0)
    return rc;
  job->sched.in_order = 1;
  job->sched.limit = 0;
  rf__job_stream_advance(job);
  return 0;
}

void rf__job_stream_advance(rf_job *job)
{
  uint64_t head;
  uint32_t limit;

  if (!job->stream || job->single || job->sched.npieces == 0 ||
      !job->store_open)
    return;
  head = rf__store_written(&job->store) / job->sched.piece_size;
  limit = head + job->stream_window < job->sched.npieces
              ? (uint32_t)head + job->stream_window
              : job->sched.npieces;
  if (limit != job->sched.limit) {
    job->sched.limit = limit;
    job->dirty = 1;
  }
}

int rf__job_stream_single(rf_job *job, rf__conn *c)
{
  int rc;

  if (job->manifest == NULL)
    return 0; /* blocks go to the writer as they fill, in order */
  /* With a manifest, the stream is cut into its pieces, each one held
   * until verified, as with ranges: no unverified byte is written. */
  job->total = rf_manifest_length(job->manifest);
  rf__sched_free(&job->sched);
  rc = rf__sched_init(&job->sched, job->total,
                      rf_manifest_piece_size(job->manifest));
  if (rc != 0) {
    rf__conn_set_error(c, rc, 0, "cannot plan %llu bytes in pieces",
                       (unsigned long long)job->total);
    return rc;
  }
  rc = size_pool(job, c, job->sched.piece_size, 1);
  if (rc != 0) {
    rf__sched_free(&job->sched);
    return rc;
  }
  job->stream_verify = 1;
  c->req_end = c->end = job->total;
  c->piece = 0;
  c->piece_fresh = 1;
  return 0;
}

void rf__job_stream_single_end(rf_job *job)
{
  if (job->stream_verify) {
    rf__sched_free(&job->sched);
    job->stream_verify = 0;
  }
}

int rf__job_stream_sha256(const rf_job *job)
{
  return job->has_repr || job->has_want_sha256 ||
         (job->manifest != NULL && rf_manifest_has_sha256(job->manifest));
}

void rf__job_stream_begin(rf_job *job)
{
  if (job->stream)
    rf__store_stream_sha256(&job->store, rf__job_stream_sha256(job));
}

int rf__job_stream_stuck(rf_job *job, int err, const char *what)
{
  if (!job->stream || job->sent == 0)
    return 0;
  rf__job_fail(job, err,
               "%s: %s, after %llu bytes were written to the output: a "
               "stream cannot start over",
               job->url_safe, what, (unsigned long long)job->sent);
  return 1;
}
