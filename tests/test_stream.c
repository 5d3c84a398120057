/*
 * Stream mode (rf_job_options.stream, engine/disk/stream.c and
 * engine/window.c): the content written in order to a pipe that a reader
 * thread drains, compared byte for byte with the generated content, under
 * bad pieces, single streams, a reader that goes away or reads slowly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <openssl/evp.h>

#include "rangefetch/rangefetch.h"
#include "rangefetch/manifest.h"
#include "support/faults.h"
#include "support/testserver.h"
#include "support/tmpdir.h"

#include "job.h"
#include "disk/stream.h"

static ts_server *srv;
static char dir[256];

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN); /* the server's sockets; the engine's writer
                               blocks it on its own */
  srv = ts_start(NULL);
  cr_assert_not_null(srv, "test server did not start");
  tmpdir_make(dir, sizeof(dir), "stream");
}

static void teardown(void)
{
  ts_stop(srv);
  tmpdir_remove(dir);
}

TestSuite(stream, .init = setup, .fini = teardown, .timeout = 300);

/* ------------------------------------------------------------ the reader */

/* A thread draining the pipe into buf (up to cap bytes; more is counted
 * only), slowly if asked, or closing it after close_after bytes. */
typedef struct reader {
  pthread_t thread;
  int fd;
  unsigned char *buf;
  size_t cap;
  uint64_t got;
  unsigned delay_us;    /* after each read */
  uint64_t close_after; /* 0: read to the end */
} reader;

static void *reader_main(void *arg)
{
  reader *r = arg;
  unsigned char tmp[65536];

  for (;;) {
    ssize_t n = read(r->fd, tmp, sizeof(tmp));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (r->got < r->cap)
      memcpy(r->buf + r->got, tmp,
             r->cap - r->got < (size_t)n ? r->cap - r->got : (size_t)n);
    r->got += (uint64_t)n;
    if (r->close_after > 0 && r->got >= r->close_after)
      break;
    if (r->delay_us > 0)
      usleep(r->delay_us);
  }
  close(r->fd);
  return NULL;
}

/* What a job did, as its callbacks and its internals showed it. */
typedef struct outcome {
  int done;
  int error;
  char message[600];
  char path[300];
  uint64_t bytes;
  uint64_t written; /* the last progress call's */
  unsigned pieces_verified;
  unsigned pieces_failed;
  int saw_single;
  uint64_t written_max; /* never more than the content */
  /* Stream mode's memory, sampled at every progress call. */
  unsigned nblocks_max;
  unsigned max_blocks;
  size_t block_size;
  uint32_t window;
  uint64_t piece_size;
  unsigned kept_max;
  uint64_t cancel_at; /* cancel the job once this much was written */
} outcome;

static void on_progress(rf_job *job, const rf_progress *p, void *ud)
{
  outcome *o = ud;

  if (p->single_stream)
    o->saw_single = 1;
  if (o->cancel_at > 0 && p->written >= o->cancel_at)
    rf_job_cancel(job);
  o->written = p->written;
  if (p->written > o->written_max)
    o->written_max = p->written;
  if (job->store_open) {
    if (job->store.nblocks > o->nblocks_max)
      o->nblocks_max = job->store.nblocks;
    o->max_blocks = job->store.max_blocks;
    o->block_size = job->store.block_size;
    o->window = job->stream_window;
    o->piece_size = job->sched.piece_size;
    o->kept_max = rf__store_kept_max(&job->store);
  }
}

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  outcome *o = ud;

  (void)job;
  o->done++;
  o->error = r->error;
  snprintf(o->message, sizeof(o->message), "%s", r->message);
  snprintf(o->path, sizeof(o->path), "%s", r->path);
  o->bytes = r->bytes;
  o->pieces_verified = r->pieces_verified;
  o->pieces_failed = r->pieces_failed;
}

/* Stream path_and_query into a pipe drained by rd (buf of cap bytes);
 * opts may be NULL. */
static outcome stream_fetch_until(const char *path_and_query,
                                  rf_job_options *opts, reader *rd,
                                  size_t cap, uint64_t cancel_at)
{
  outcome o;
  rf_engine *e = NULL;
  rf_job_options local;
  char *url = ts_url(srv, path_and_query);
  int fds[2], rc;

  memset(&o, 0, sizeof(o));
  o.cancel_at = cancel_at;
  if (opts == NULL) {
    rf_job_options_init(&local);
    opts = &local;
  }
  cr_assert_eq(pipe(fds), 0);
  rd->fd = fds[0];
  rd->cap = cap;
  rd->got = 0;
  rd->buf = malloc(cap > 0 ? cap : 1);
  cr_assert_not_null(rd->buf);
  cr_assert_eq(pthread_create(&rd->thread, NULL, reader_main, rd), 0);
  opts->url = url;
  opts->stream = 1;
  opts->stream_fd = fds[1];
  opts->on_done = on_done;
  opts->on_progress = on_progress;
  opts->user_data = &o;
  if (opts->progress_interval_ms == 0)
    opts->progress_interval_ms = 10;
  if (opts->retry_base_ms == 0)
    opts->retry_base_ms = 20;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  rc = rf_job_add(NULL, e, opts);
  cr_assert_eq(rc, 0, "rf_job_add: %s (%s)", rf_strerror(rc),
               rf_engine_last_error(e));
  cr_assert_eq(rf_engine_run(e), 0);
  rf_engine_free(e);
  /* The fd is ours: the engine never closes it (else this fails). */
  cr_assert_eq(close(fds[1]), 0, "the engine closed the stream's fd");
  pthread_join(rd->thread, NULL);
  free(url);
  cr_assert_eq(o.done, 1, "completion callback called %d times", o.done);
  return o;
}

static outcome stream_fetch(const char *path_and_query, rf_job_options *opts,
                            reader *rd, size_t cap)
{
  return stream_fetch_until(path_and_query, opts, rd, cap, 0);
}

/* Whether the first n bytes of buf are the generated content of seed. */
static int gen_prefix_ok(const unsigned char *buf, uint64_t n, uint64_t seed)
{
  unsigned char want[65536];
  uint64_t off;

  for (off = 0; off < n; off += sizeof(want)) {
    size_t k = n - off < sizeof(want) ? (size_t)(n - off) : sizeof(want);
    faults_gen_fill(want, off, k, seed);
    if (memcmp(buf + off, want, k) != 0)
      return 0;
  }
  return 1;
}

static void expect_stream(const reader *rd, const outcome *o, uint64_t size,
                          uint64_t seed)
{
  cr_assert_eq(o->error, 0, "%s", o->message);
  cr_assert_eq(rd->got, size, "the reader got %llu bytes of %llu",
               (unsigned long long)rd->got, (unsigned long long)size);
  cr_assert(gen_prefix_ok(rd->buf, size, seed), "the stream differs");
  cr_assert_eq(o->bytes, size);
  cr_assert_eq(o->written, size, "progress says %llu written",
               (unsigned long long)o->written);
}

/* Nothing but the manifests was made in the test's directory: no .part,
 * no journal. */
static void expect_no_files(void)
{
  char cmd[400];

  snprintf(cmd, sizeof(cmd),
           "test -z \"$(ls -A '%s' | grep -v '\\.rfm$')\"", dir);
  cr_assert_eq(system(cmd), 0, "files left in %s", dir);
}

/* A manifest of generated content (XXH3-128 or SHA-256 pieces). */
static void make_manifest(const char *name, uint64_t size, uint64_t seed,
                          uint64_t piece, int sha256, char *out,
                          size_t outsize)
{
  rf_manifest_create_options mo = RF_MANIFEST_CREATE_OPTIONS_INIT;
  char src[600];
  rf_manifest *m = NULL;

  snprintf(src, sizeof(src), "%s/%s.src", dir, name);
  cr_assert_eq(ts_write_gen_file(src, size, seed), 0);
  mo.piece_size = piece;
  mo.piece_hash = sha256 ? RF_MANIFEST_HASH_SHA256 : RF_MANIFEST_HASH_XXH128;
  mo.content_sha256 = 1;
  cr_assert_eq(rf_manifest_create_ext(&m, src, &mo), 0);
  snprintf(out, outsize, "%s/%s", dir, name);
  cr_assert_eq(rf_manifest_save(m, out), 0);
  rf_manifest_free(m);
  unlink(src);
}

/* ----------------------------------------------------------------- tests */

/* Many small pieces over 8 connections arrive out of order; the reader
 * gets them in order, each byte once. */
Test(stream, pieces_from_8_connections_come_out_in_order)
{
  const uint64_t size = 6 * 1024 * 1024 + 12345;
  rf_job_options o;
  reader rd = { 0 };
  outcome r;

  rf_job_options_init(&o);
  o.connections = 8;
  o.piece_size = 64 * 1024;
  r = stream_fetch("/gen/6303801?seed=41", &o, &rd, size + 1);
  expect_stream(&rd, &r, size, 41);
  cr_assert(strncmp(r.path, "(fd ", 4) == 0, "path %s", r.path);
  cr_assert_eq(r.piece_size, 64 * 1024);
  expect_no_files();
  free(rd.buf);
}

Test(stream, empty_and_one_byte)
{
  reader rd = { 0 };
  outcome r;

  r = stream_fetch("/gen/0", NULL, &rd, 1);
  expect_stream(&rd, &r, 0, 1);
  free(rd.buf);
  r = stream_fetch("/gen/1?seed=3", NULL, &rd, 2);
  expect_stream(&rd, &r, 1, 3);
  free(rd.buf);
}

/* The output's name: as given, else "(stdout)" for fd 1 or "(fd N)". */
Test(stream, the_output_is_a_name_only)
{
  rf_job_options o;
  reader rd = { 0 };
  outcome r;

  rf_job_options_init(&o);
  o.output = "the-pipe";
  r = stream_fetch("/gen/100000?seed=2", &o, &rd, 100001);
  expect_stream(&rd, &r, 100000, 2);
  cr_assert_str_eq(r.path, "the-pipe");
  expect_no_files();
  free(rd.buf);
}

/* Pieces that fail their check are fetched again before a byte of them
 * is written: what the reader gets is right, and there is only one copy
 * of each byte in it, so no wrong byte was ever written. */
Test(stream, bad_pieces_never_reach_the_output)
{
  const uint64_t size = 4 * 1024 * 1024;
  char man[600];
  rf_job_options o;
  reader rd = { 0 };
  outcome r;

  make_manifest("bad.rfm", size, 42, 64 * 1024, 0, man, sizeof(man));
  rf_job_options_init(&o);
  o.connections = 8;
  o.manifest = man;
  /* One byte wrong in two pieces, twice each. */
  r = stream_fetch("/gen/4194304?seed=42&corrupt=1000000&times=2", &o, &rd,
                   size + 1);
  expect_stream(&rd, &r, size, 42);
  cr_assert_geq(r.pieces_failed, 1, "no piece failed: the fault missed");
  cr_assert_eq(r.pieces_verified, size / (64 * 1024));
  free(rd.buf);
}

/* A peer that garbles one byte in every 64 KiB, under a SHA-256 manifest:
 * its pieces are refused (and it is banned), none of its bytes written. */
Test(stream, a_garbling_peer_writes_nothing)
{
  const uint64_t size = 8 * 1024 * 1024;
  ts_server *peer = ts_start(NULL);
  char *pu = ts_url(peer, "/gen/8388608?seed=43&garble=65536");
  char man[600];
  rf_source_options s;
  rf_job_options o;
  reader rd = { 0 };
  outcome r;

  make_manifest("peer.rfm", size, 43, 256 * 1024, 1, man, sizeof(man));
  rf_source_options_init(&s);
  s.kind = RF_SOURCE_PEER;
  s.url = pu;
  rf_job_options_init(&o);
  o.connections = 4;
  o.manifest = man;
  o.sources = &s;
  o.nsources = 1;
  r = stream_fetch("/gen/8388608?seed=43&rate=3000000", &o, &rd, size + 1);
  expect_stream(&rd, &r, size, 43);
  cr_assert_geq(r.pieces_failed, 1, "the peer served no piece");
  free(pu);
  ts_stop(peer);
  free(rd.buf);
}

/* A server without ranges: one stream, in order, written as it comes. */
Test(stream, single_stream)
{
  const uint64_t size = 3 * 1024 * 1024 + 1;
  reader rd = { 0 };
  outcome r;

  r = stream_fetch("/gen/3145729?seed=44&norange=1", NULL, &rd, size + 1);
  expect_stream(&rd, &r, size, 44);
  cr_assert(r.saw_single);
  free(rd.buf);
  r = stream_fetch("/gen/2097163?seed=45&chunked=1", NULL, &rd, 2097164);
  expect_stream(&rd, &r, 2097163, 45);
  free(rd.buf);
}

/* A single stream with a manifest is cut into the manifest's pieces, each
 * held until verified: a bad piece in the middle ends the job (a stream
 * cannot start over) with only good pieces written; a bad first piece
 * costs a new try. */
Test(stream, single_stream_with_a_manifest_writes_verified_pieces_only)
{
  const uint64_t size = 2 * 1024 * 1024, piece = 64 * 1024;
  char man[600];
  rf_job_options o;
  reader rd = { 0 };
  outcome r;

  make_manifest("single.rfm", size, 46, piece, 0, man, sizeof(man));
  rf_job_options_init(&o);
  o.manifest = man;
  r = stream_fetch("/gen/2097152?seed=46&norange=1&corrupt=1000000", &o, &rd,
                   size + 1);
  cr_assert_eq(r.error, RF_EHASH, "%s: %s", rf_err_name(r.error), r.message);
  cr_assert(strstr(r.message, "a stream cannot start over") != NULL, "%s",
            r.message);
  /* Whole verified pieces before the bad one (those still queued when
   * the job ended are not owed to the reader). */
  cr_assert_leq(rd.got, 1000000 / piece * piece, "%llu bytes written",
                (unsigned long long)rd.got);
  cr_assert_eq(rd.got % piece, 0, "%llu bytes written",
               (unsigned long long)rd.got);
  cr_assert_eq(rd.got, r.bytes);
  cr_assert(gen_prefix_ok(rd.buf, rd.got, 46));
  free(rd.buf);

  rf_job_options_init(&o);
  o.manifest = man;
  r = stream_fetch("/gen/2097152?seed=46&norange=1&corrupt=1000", &o, &rd,
                   size + 1);
  expect_stream(&rd, &r, size, 46);
  cr_assert_eq(r.pieces_failed, 1);
  free(rd.buf);
}

/* A single stream that breaks before a byte was written starts over; once
 * bytes were written (a block of 1 MiB), it cannot: the job fails. */
Test(stream, broken_single_stream)
{
  reader rd = { 0 };
  outcome r;

  r = stream_fetch("/gen/3145729?seed=47&norange=1&cut=500000", NULL, &rd,
                   3145730);
  expect_stream(&rd, &r, 3145729, 47);
  free(rd.buf);

  r = stream_fetch("/gen/3145729?seed=47&norange=1&cut=1500000", NULL, &rd,
                   3145730);
  cr_assert_neq(r.error, 0);
  cr_assert(strstr(r.message, "a stream cannot start over") != NULL, "%s",
            r.message);
  cr_assert_eq(rd.got, r.bytes);
  cr_assert_leq(rd.got, 1500000);
  cr_assert(gen_prefix_ok(rd.buf, rd.got, 47));
  free(rd.buf);
}

/* The remote file changes after bytes were written: the job fails
 * instead of starting over. */
Test(stream, changed_content_after_bytes_were_written_fails)
{
  rf_job_options o;
  reader rd = { 0 };
  outcome r;

  rf_job_options_init(&o);
  o.connections = 1;
  o.piece_size = 64 * 1024;
  r = stream_fetch("/gen/1048576?seed=48&change_after=1", &o, &rd, 1048577);
  cr_assert_eq(r.error, RF_ECHANGED, "%s: %s", rf_err_name(r.error),
               r.message);
  cr_assert(strstr(r.message, "a stream cannot start over") != NULL, "%s",
            r.message);
  /* What the reader got is what the result says was written (pieces
   * still queued for the writer when the job failed are not written),
   * and it is the file's beginning. */
  cr_assert_eq(rd.got, r.bytes);
  cr_assert(gen_prefix_ok(rd.buf, rd.got, 48));
  free(rd.buf);
}

/* The reader goes away: the writer's write fails with EPIPE (no SIGPIPE
 * in the writer), the job ends with RF_EIO and says why, at once. */
Test(stream, reader_closing_the_pipe_ends_the_job)
{
  rf_job_options o;
  reader rd = { 0 };
  outcome r;
  uint64_t t0 = uv_hrtime();

  rf_job_options_init(&o);
  o.connections = 8;
  o.piece_size = 64 * 1024;
  rd.close_after = 1024 * 1024;
  r = stream_fetch("/gen/33554432?seed=49&rate=4000000", &o, &rd, 33554433);
  cr_assert_eq(r.error, RF_EIO, "%s: %s", rf_err_name(r.error), r.message);
  cr_assert_str_eq(r.message, "writing to the output failed: Broken pipe");
  cr_assert(gen_prefix_ok(rd.buf, rd.got < rd.cap ? rd.got : rd.cap, 49));
  cr_assert_lt(uv_hrtime() - t0, 20ULL * 1000000000, "it took too long");
  free(rd.buf);
}

/* A file much larger than the window, a slow reader: the pool stays
 * within its bound (and far below the file), pieces held out of order stay
 * within the window, and the download ends (without the window, pieces
 * ahead fill the pool and the connection of the first missing piece waits
 * for a block forever). */
Test(stream, memory_stays_bounded_with_a_slow_reader, .timeout = 60)
{
  const uint64_t size = 24 * 1024 * 1024;
  rf_job_options o;
  reader rd = { 0 };
  outcome r;
  uint64_t pool, k;

  rf_job_options_init(&o);
  o.connections = 8;
  o.piece_size = 64 * 1024;
  rd.delay_us = 4000; /* about 16 MB/s at most */
  r = stream_fetch("/gen/25165824?seed=50", &o, &rd, size + 1);
  expect_stream(&rd, &r, size, 50);
  k = (r.piece_size + r.block_size - 1) / r.block_size;
  pool = (uint64_t)r.max_blocks * r.block_size;
  cr_assert_eq(r.window, 2 * 8 + 2, "window %u", r.window);
  cr_assert_eq(r.max_blocks, (r.window + RF__STREAM_DUPS) * k);
  cr_assert_leq(r.nblocks_max, r.max_blocks);
  cr_assert_leq(pool, RF__STREAM_POOL_MAX);
  cr_assert_leq(pool * 16, size, "a pool of %llu bytes",
                (unsigned long long)pool);
  cr_assert_leq(r.kept_max, r.window * k, "%u blocks kept out of order",
                r.kept_max);
  free(rd.buf);
}

/* The whole-content checks are made over what was written: the origin's
 * Repr-Digest; a wrong one fails the job, though the reader has it all. */
Test(stream, whole_content_checked_over_what_was_written)
{
  rf_job_options o;
  reader rd = { 0 };
  outcome r;

  rf_job_options_init(&o);
  o.piece_size = 64 * 1024;
  r = stream_fetch("/gen/1000000?seed=51&reprdigest=1", &o, &rd, 1000001);
  expect_stream(&rd, &r, 1000000, 51);
  free(rd.buf);

  rf_job_options_init(&o);
  o.piece_size = 64 * 1024;
  r = stream_fetch("/gen/1000000?seed=51&reprdigest=2", &o, &rd, 1000001);
  cr_assert_eq(r.error, RF_EHASH, "%s: %s", rf_err_name(r.error), r.message);
  cr_assert(strstr(r.message, "already written") != NULL, "%s", r.message);
  cr_assert_eq(rd.got, 1000000);
  free(rd.buf);
}

/* Stream mode's options, refused with a reason before anything starts. */
Test(stream, bad_options_are_refused_with_a_reason)
{
  rf_engine *e = NULL;
  rf_job_options o;
  char *url = ts_url(srv, "/gen/1000");
  char man[600];
  int fd;

  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  rf_job_options_init(&o);
  o.url = url;
  o.stream = 1;
  o.stream_fd = -1;
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  cr_assert(strstr(rf_engine_last_error(e), "not an open file descriptor"));
  o.stream_fd = 1000;
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  fd = open("/dev/null", O_RDONLY);
  o.stream_fd = fd;
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  cr_assert(strstr(rf_engine_last_error(e), "reading only"), "%s",
            rf_engine_last_error(e));
  close(fd);
  fd = open("/dev/null", O_WRONLY);
  o.stream_fd = fd;
  o.discard = 1;
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  cr_assert(strstr(rf_engine_last_error(e), "discard"), "%s",
            rf_engine_last_error(e));
  o.discard = 0;
  /* A manifest whose pieces cannot be held twice within the bound. */
  make_manifest("huge.rfm", 1000, 1, 32 * 1024 * 1024, 0, man, sizeof(man));
  o.manifest = man;
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  cr_assert(strstr(rf_engine_last_error(e), "too large to stream"), "%s",
            rf_engine_last_error(e));
  close(fd);
  rf_engine_run(e);
  rf_engine_free(e);
  free(url);
}

/* A piece size too large to hold is brought down to 4 MiB. */
Test(stream, large_piece_sizes_are_capped)
{
  const uint64_t size = 9 * 1024 * 1024;
  rf_job_options o;
  reader rd = { 0 };
  outcome r;

  rf_job_options_init(&o);
  o.piece_size = 64ULL * 1024 * 1024;
  r = stream_fetch("/gen/9437184?seed=52", &o, &rd, size + 1);
  expect_stream(&rd, &r, size, 52);
  cr_assert_eq(r.piece_size, RF__STREAM_PIECE_AUTO);
  cr_assert_leq((uint64_t)r.max_blocks * r.block_size, RF__STREAM_POOL_MAX);
  free(rd.buf);
}

/* Over 64 GiB the engine picks 2 MiB pieces, and the first request (1
 * MiB, to learn the length) ends inside piece 0: the run continues that
 * piece, its first half held with it.  (The first 16 MiB only.) */
Test(stream, a_piece_continued_over_two_requests, .timeout = 60)
{
  const uint64_t want = 16 << 20;
  reader rd = { 0 };
  outcome r;

  r = stream_fetch_until("/gen/75161927680?seed=53", NULL, &rd, want + 1,
                         want);
  cr_assert_eq(r.error, RF_ECANCELED, "%s: %s", rf_err_name(r.error),
               r.message);
  cr_assert_eq(r.piece_size, 2 << 20);
  cr_assert_geq(rd.got, want);
  cr_assert(gen_prefix_ok(rd.buf, want, 53), "the stream differs");
  free(rd.buf);
}

/* The pool's arithmetic (window.c). */
Test(stream, pool_sizes)
{
  static const struct {
    uint64_t piece;
    size_t block;
    unsigned conns;
    int rc;
    uint32_t window;
    unsigned blocks;
  } t[] = {
    { 1 << 20, 1 << 20, 8, 0, 18, 20 },
    { 64 << 10, 64 << 10, 8, 0, 18, 20 },
    { 4 << 20, 1 << 20, 8, 0, 14, 64 },      /* 64 MiB / 4 MiB - 2 */
    { 1 << 20, 128 << 10, 64, 0, 62, 512 },  /* capped at 64 MiB */
    { 16 << 20, 1 << 20, 8, 0, 2, 64 },      /* the largest piece */
    { (16 << 20) + 1, 1 << 20, 8, RF_ETOOBIG, 0, 0 },
    { 1500 << 10, 1 << 20, 1, 0, 4, 12 },    /* 2 blocks a piece */
    { 0, 1 << 20, 8, RF_EINVAL, 0, 0 },
  };
  size_t i;

  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    uint32_t w = 0;
    unsigned n = 0;
    int rc = rf__stream_pool(t[i].piece, t[i].block, t[i].conns, &w, &n);
    cr_assert_eq(rc, t[i].rc, "row %zu: %d", i, rc);
    if (rc != 0)
      continue;
    cr_assert_eq(w, t[i].window, "row %zu: window %u", i, w);
    cr_assert_eq(n, t[i].blocks, "row %zu: %u blocks", i, n);
    cr_assert_leq((uint64_t)n * t[i].block, RF__STREAM_POOL_MAX);
  }
}

/* ------------------------------------------------ the writer, directly */

static rf__block *blk(uint64_t off, const char *text)
{
  rf__block *b = calloc(1, sizeof(*b));

  cr_assert_not_null(b);
  b->len = strlen(text);
  b->data = (unsigned char *)strdup(text);
  b->off = off;
  return b;
}

static unsigned free_list(rf__block *b)
{
  unsigned n = 0;

  while (b != NULL) {
    rf__block *next = b->next;
    free(b->data);
    free(b);
    b = next;
    n++;
  }
  return n;
}

/* Out of order, twice, overlapping: written once, in order. */
Test(stream, writer_puts_blocks_in_order_once)
{
  rf__stream s;
  rf__block *done = NULL;
  char out[64];
  int fds[2], err = 0, n = 0;
  ssize_t got;
  XXH128_hash_t want;

  cr_assert_eq(pipe(fds), 0);
  cr_assert_eq(rf__stream_init(&s, fds[1]), 0);
  rf__stream_put(&s, blk(4, "efgh"), &done);
  cr_assert_eq(rf__stream_write_next(&s, 0, &done, &err), 0, "not yet");
  rf__stream_put(&s, blk(8, "ijkl"), &done);
  rf__stream_put(&s, blk(4, "efgh"), &done); /* a duplicate */
  rf__stream_put(&s, blk(0, "abcd"), &done);
  while (rf__stream_write_next(&s, 1, &done, &err) == 1)
    n++;
  cr_assert_eq(s.prefix, 12);
  rf__stream_put(&s, blk(2, "cdefghijklmn"), &done); /* overlaps */
  rf__stream_put(&s, blk(0, "ab"), &done);           /* all written */
  while (rf__stream_write_next(&s, 1, &done, &err) == 1)
    n++;
  cr_assert_eq(s.prefix, 14);
  cr_assert_eq(s.npending, 0);
  cr_assert_eq(s.npending_max, 4);
  cr_assert_eq(free_list(done), 6);
  done = NULL;
  got = read(fds[0], out, sizeof(out) - 1);
  cr_assert_eq(got, 14);
  out[got] = '\0';
  cr_assert_str_eq(out, "abcdefghijklmn");
  want = XXH3_128bits("abcdefghijklmn", 14);
  cr_assert_eq(rf__stream_finish(&s, 15, 1, want, NULL, 1), RF_EINTERNAL);
  cr_assert_eq(rf__stream_finish(&s, 14, 1, XXH3_128bits("x", 1), NULL, 1),
               RF_EHASH);
  cr_assert_eq(rf__stream_finish(&s, 14, 1, want, NULL, 1), 0);
  {
    unsigned char md[32];
    EVP_Digest("abcdefghijklmn", 14, md, NULL, EVP_sha256(), NULL);
    cr_assert_eq(rf__stream_finish(&s, 14, 3, want, md, 1), 0);
  }
  /* A reader that went away: EPIPE, the block kept. */
  close(fds[0]);
  rf__stream_put(&s, blk(14, "op"), &done);
  cr_assert_eq(rf__stream_write_next(&s, 0, &done, &err), -1);
  cr_assert_eq(err, EPIPE);
  cr_assert_null(done);
  rf__stream_free(&s, &done);
  cr_assert_eq(free_list(done), 1);
  close(fds[1]);
}
