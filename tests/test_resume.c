/*
 * Integrity and crash-safe resume, end to end: the rangefetch CLI killed
 * with SIGKILL at random moments and run again, corrupt pieces caught by a
 * manifest, journals cut or scrambled, a full disk, content that changed
 * between runs, and manifest round trips.  Every result is compared byte
 * for byte with the content the server generated.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "disk/journal.h"
#include "rangefetch/manifest.h"
#include "rangefetch/rangefetch.h"
#include "support/clipath.h"
#include "support/speed.h"
#include "support/testserver.h"
#include "support/textfile.h"
#include "support/tmpdir.h"

static ts_server *srv;
static char dir[256];

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  srv = ts_start(NULL);
  cr_assert_not_null(srv, "test server did not start");
  tmpdir_make(dir, sizeof(dir), "resume");
}

static void teardown(void)
{
  ts_stop(srv);
  tmpdir_remove(dir);
}

TestSuite(resume, .init = setup, .fini = teardown, .timeout = 600);

static void path_in(char *buf, size_t size, const char *name)
{
  snprintf(buf, size, "%s/%s", dir, name);
}

static int exists(const char *path)
{
  struct stat sb;

  return stat(path, &sb) == 0;
}

/* Start `rangefetch get URL -o OUT <extra...>` (quiet), its stderr to
 * errpath (NULL: /dev/null); returns the pid. */
static pid_t spawn_get(const char *url, const char *out, const char *const *extra)
{
  return clipath_spawn_get(url, out, extra, NULL);
}

#define spawn_get_err clipath_spawn_get
#define wait_exit clipath_wait

/* Bytes of the pieces the journal at path claims. */
static uint64_t claimed_bytes(const char *journal)
{
  rf__journal_state js;
  char err[200];
  uint64_t sum = 0;
  uint32_t i;

  if (rf__journal_load(journal, &js, err, sizeof(err)) != 0)
    return 0;
  for (i = 0; i < js.npieces; i++) {
    if (js.claimed[i] != 0) {
      uint64_t off = (uint64_t)i * js.meta.piece_size;
      uint64_t len = js.meta.length - off < js.meta.piece_size
                         ? js.meta.length - off
                         : js.meta.piece_size;
      sum += len;
    }
  }
  rf__journal_state_free(&js);
  return sum;
}

/* Bytes of the server's answers that sit in the kernel, not yet read by
 * the client: the send queues of the server's sockets on port and the
 * receive queues of the sockets connected to it (/proc/net/tcp and tcp6,
 * "tx_queue:rx_queue" in hex).  A client that the machine's load keeps from
 * running leaves them there; a kill loses them through no fault of the
 * client's, so the loss bound below does not count them. */
static uint64_t kernel_queued(uint16_t port)
{
  static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
  uint64_t sum = 0;
  size_t k;

  for (k = 0; k < sizeof(tables) / sizeof(tables[0]); k++) {
    FILE *f = fopen(tables[k], "r");
    char line[512];

    if (f == NULL)
      continue;
    while (fgets(line, sizeof(line), f) != NULL) {
      char local[64], remote[64];
      unsigned st, lport, rport;
      unsigned long tx, rx;
      const char *lc, *rc;

      if (sscanf(line, " %*u: %63s %63s %x %lx:%lx", local, remote, &st, &tx,
                 &rx) != 5)
        continue; /* (the header line) */
      lc = strrchr(local, ':');
      rc = strrchr(remote, ':');
      if (lc == NULL || rc == NULL || st == 0x0A) /* LISTEN */
        continue;
      lport = (unsigned)strtoul(lc + 1, NULL, 16);
      rport = (unsigned)strtoul(rc + 1, NULL, 16);
      if (lport == port)
        sum += tx; /* the server's, not yet taken by the client's kernel */
      else if (rport == port)
        sum += rx; /* the client's kernel's, not yet read */
    }
    fclose(f);
  }
  return sum;
}

/*
 * Kill the download with SIGKILL at random moments, then resume it, again
 * and again: the result is byte-identical every time, and what a kill
 * throws away is at most two pieces per connection (the one in flight and
 * one whose journal record is still queued), not counting what was still
 * in the kernel's socket queues (a client the machine's load keeps from
 * running has not received it).  That bound assumes the CLI's writer keeps
 * up with the 8 MB/s the server sends: a check of speed (support/speed.h).
 */
static void kill_and_resume(unsigned iterations, unsigned seed0)
{
  const uint64_t size = 12ULL << 20, piece = 128 << 10;
  const unsigned conns = 8;
  /* Per connection: the piece in flight, and the piece it just finished,
   * whose record waits behind its bytes in the writer's queue; and 64 KiB
   * for what moves between the look at the socket queues and the kill. */
  const uint64_t bound = conns * (2 * piece + (64 << 10));
  const char *extra[] = { "-c", "8", "--piece-size", "128K", NULL };
  char out[512], part[600], journal[640], path[128];
  unsigned it, worst_pieces = 0;
  uint64_t worst = 0;

  srand(seed0);
  path_in(out, sizeof(out), "killed.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  snprintf(journal, sizeof(journal), "%s.rfj", part);
  for (it = 0; it < iterations; it++) {
    /* 8 connections at 1 MB/s each: the download lasts about 1.5 s. */
    char *url;
    unsigned kills = 0;
    int rc;

    snprintf(path, sizeof(path), "/gen/%llu?seed=%u&rate=1000000",
             (unsigned long long)size, it + 100);
    url = ts_url(srv, path);
    unlink(out);
    unlink(part);
    unlink(journal);
    for (kills = 0; kills < 2; kills++) {
      uint64_t before = ts_body_bytes(srv), sent, kept_before, kept_after,
               lost, queued;
      unsigned delay_ms = 50 + (unsigned)(rand() % 1200);
      struct timespec ts = { (time_t)(delay_ms / 1000),
                             (long)(delay_ms % 1000) * 1000000L };
      pid_t pid;

      kept_before = exists(journal) ? claimed_bytes(journal) : 0;
      pid = spawn_get(url, out, extra);
      nanosleep(&ts, NULL);
      queued = kernel_queued(ts_port(srv));
      kill(pid, SIGKILL);
      rc = wait_exit(pid);
      if (rc == 0 || exists(out))
        break; /* finished before the kill (renamed, journal removed) */
      cr_assert_eq(rc, 128 + SIGKILL, "exit %d", rc);
      /* Give the server a moment to see the sockets close. */
      usleep(20000);
      sent = ts_body_bytes(srv) - before;
      kept_after = exists(journal) ? claimed_bytes(journal) : 0;
      /* Bytes that arrived in this run but that no journal record keeps. */
      lost = sent + kept_before > kept_after ? sent + kept_before - kept_after
                                             : 0;
      /* ... less what the client never got to read. */
      lost = lost > queued ? lost - queued : 0;
      if (lost > worst)
        worst = lost;
      if (lost > bound &&
          getenv("RF_KEEP_EVIDENCE") != NULL) {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd),
                 "mkdir -p /tmp/rf-evidence && cp '%s' '%s' /tmp/rf-evidence/",
                 part, journal);
        if (system(cmd) != 0)
          fprintf(stderr, "could not keep the evidence\n");
      }
      if (SPEED_CHECKED)
        cr_assert_leq(lost, bound,
                      "iteration %u kill %u after %u ms: %llu bytes "
                      "fetched (%llu of them still in the kernel's socket "
                      "queues), journal grew by %llu: %llu bytes lost "
                      "(more than %llu)",
                      it, kills, delay_ms, (unsigned long long)sent,
                      (unsigned long long)queued,
                      (unsigned long long)(kept_after - kept_before),
                      (unsigned long long)lost, (unsigned long long)bound);
    }
    /* Resume to the end (unless a run finished before its kill: then a
     * kill between the rename and the journal's removal may leave the
     * journal, which the next run removes). */
    if (!exists(out)) {
      rc = wait_exit(spawn_get(url, out, extra));
      cr_assert_eq(rc, 0, "iteration %u: resume exited %d", it, rc);
      cr_assert_not(exists(journal), "iteration %u: journal left", it);
    }
    cr_assert(ts_file_matches_gen(out, size, it + 100),
              "iteration %u: wrong content after resume", it);
    cr_assert_not(exists(part), "iteration %u: .part left", it);
    free(url);
  }
  worst_pieces = (unsigned)((worst + piece - 1) / piece);
  fprintf(stderr, "resume: %u iterations, worst loss %llu bytes (%u pieces)\n",
          iterations, (unsigned long long)worst, worst_pieces);
}

Test(resume, sigkill_at_random_moments, .timeout = 3600)
{
  const char *n = getenv("RF_KILL_ITERATIONS");

  kill_and_resume(n != NULL ? (unsigned)atoi(n) : 20, (unsigned)time(NULL));
}

/* ------------------------------------------------------- in-process runs */

typedef struct outcome {
  int done;
  int error;
  char message[512];
  unsigned pieces_verified;
  unsigned pieces_failed;
  uint64_t resumed;
} outcome;

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  outcome *o = ud;

  (void)job;
  o->done++;
  o->error = r->error;
  snprintf(o->message, sizeof(o->message), "%s", r->message);
  o->pieces_verified = r->pieces_verified;
  o->pieces_failed = r->pieces_failed;
  o->resumed = r->resumed;
}

static outcome fetch(const char *url, const char *output, rf_job_options *opts)
{
  outcome o;
  rf_engine *e = NULL;
  rf_job_options local;
  int rc;

  memset(&o, 0, sizeof(o));
  if (opts == NULL) {
    rf_job_options_init(&local);
    opts = &local;
  }
  opts->url = url;
  opts->output = output;
  opts->on_done = on_done;
  opts->user_data = &o;
  if (opts->retry_base_ms == 0)
    opts->retry_base_ms = 10;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  rc = rf_job_add(NULL, e, opts);
  if (rc != 0) {
    o.error = rc;
    snprintf(o.message, sizeof(o.message), "%s", rf_engine_last_error(e));
    rf_engine_free(e);
    return o;
  }
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_eq(o.done, 1);
  return o;
}

/* A manifest for generated content, written under dir as NAME. */
static void make_manifest(const char *name, uint64_t size, uint64_t seed,
                          uint64_t piece, char *out, size_t outsize)
{
  char src[512];
  rf_manifest *m = NULL;

  path_in(src, sizeof(src), "manifest-src.bin");
  cr_assert_eq(ts_write_gen_file(src, size, seed), 0);
  cr_assert_eq(rf_manifest_create(&m, src, piece, 0, 0), 0);
  path_in(out, outsize, name);
  cr_assert_eq(rf_manifest_save(m, out), 0);
  rf_manifest_free(m);
  unlink(src);
}

Test(resume, corrupt_piece_is_caught_and_fetched_again)
{
  char man[512], out[512], path[160], *url;
  rf_job_options o;
  outcome r;

  make_manifest("c.rfm", 3000000, 5, 65536, man, sizeof(man));
  /* Byte 1234567 arrives flipped the first two times it is sent. */
  snprintf(path, sizeof(path), "/gen/3000000?seed=5&corrupt=1234567&times=2");
  url = ts_url(srv, path);
  path_in(out, sizeof(out), "c.bin");
  rf_job_options_init(&o);
  o.manifest = man;
  o.connections = 4;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  /* The first corrupted copy always arrives whole; the second may belong
   * to a request that is cut (stolen tail, endgame loser) before its piece
   * completes, so one or two pieces fail. */
  cr_assert(r.pieces_failed >= 1 && r.pieces_failed <= 2, "%u pieces failed",
            r.pieces_failed);
  cr_assert_eq(r.pieces_verified, (3000000 + 65535) / 65536);
  cr_assert(ts_file_matches_gen(out, 3000000, 5));
  free(url);
}

Test(resume, corrupt_without_manifest_is_not_silently_trusted_on_resume)
{
  /* Without a manifest a corrupt byte cannot be told from a good one as
   * it arrives; but the journal keeps the hash of what was written, so a
   * .part edited between runs is caught on resume. */
  char out[512], part[600], *url = ts_url(srv, "/gen/2000000?seed=9");
  rf_job_options o;
  outcome r;
  int fd;

  path_in(out, sizeof(out), "edited.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  rf_job_options_init(&o);
  o.piece_size = 65536;
  o.connections = 2;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  /* Make it look unfinished again: the journal of a run cancelled at the
   * end is what a kill would leave; simplest is to re-run with a cancel. */
  cr_assert_eq(rename(out, part), 0);
  {
    /* A journal claiming every piece with the right hashes. */
    rf__journal j;
    rf__journal_meta m;
    unsigned char *buf = malloc(65536);
    uint32_t i;
    FILE *f = fopen(part, "rb");
    char jp[640];
    memset(&m, 0, sizeof(m));
    m.url = url;
    m.length = 2000000;
    m.piece_size = 65536;
    m.npieces = (2000000 + 65535) / 65536;
    m.etag = (char *)"\"gen-2000000-9\"";
    m.last_modified = (char *)"";
    snprintf(jp, sizeof(jp), "%s.rfj", part);
    cr_assert_eq(rf__journal_create(&j, jp, &m), 0);
    for (i = 0; i < m.npieces; i++) {
      size_t n = fread(buf, 1, 65536, f);
      cr_assert_eq(rf__journal_piece(&j, i, XXH3_128bits(buf, n)), 0);
    }
    rf__journal_checkpoint(&j);
    rf__journal_close(&j);
    fclose(f);
    free(buf);
  }
  /* Now edit the .part by hand: piece 3 gets garbage. */
  fd = open(part, O_WRONLY);
  cr_assert_geq(fd, 0);
  cr_assert_eq(pwrite(fd, "garbage!", 8, 3 * 65536 + 17), 8);
  close(fd);
  rf_job_options_init(&o);
  o.piece_size = 65536;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_eq(r.resumed, 2000000 - 65536, "resumed %llu",
               (unsigned long long)r.resumed);
  cr_assert(ts_file_matches_gen(out, 2000000, 9), "edited piece kept");
  free(url);
}

Test(resume, server_that_always_corrupts_fails_clearly)
{
  char man[512], out[512], part[600], *url;
  rf_job_options o;
  outcome r;

  make_manifest("bad.rfm", 1000000, 6, 65536, man, sizeof(man));
  url = ts_url(srv, "/gen/1000000?seed=6&corrupt=700000&times=1000");
  path_in(out, sizeof(out), "bad.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  rf_job_options_init(&o);
  o.manifest = man;
  o.max_tries = 3;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, RF_EHASH, "%s: %s", rf_err_name(r.error), r.message);
  cr_assert(strstr(r.message, "piece 10") != NULL, "%s", r.message);
  cr_assert_not(exists(out), "a corrupt file got the final name");
  cr_assert(exists(part), "verified pieces thrown away");
  free(url);
}

Test(resume, manifest_that_does_not_match_the_server)
{
  char man[512], out[512], *url;
  rf_job_options o;
  outcome r;

  /* The manifest describes seed 1; the server sends seed 2. */
  make_manifest("other.rfm", 500000, 1, 65536, man, sizeof(man));
  url = ts_url(srv, "/gen/500000?seed=2");
  path_in(out, sizeof(out), "other.bin");
  rf_job_options_init(&o);
  o.manifest = man;
  o.max_tries = 2;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, RF_EHASH, "%s", r.message);
  cr_assert_not(exists(out));
  free(url);
}

Test(resume, bad_manifest_names_the_line)
{
  char man[512], out[512], *url = ts_url(srv, "/gen/1000");
  FILE *f;
  rf_job_options o;
  outcome r;

  path_in(man, sizeof(man), "broken.rfm");
  f = fopen(man, "w");
  cr_assert_not_null(f);
  fputs("rangefetch-manifest 1\nlength 1000\npiece-size 1024\npieces 1\n"
        "content-xxh128 zz\n",
        f);
  fclose(f);
  path_in(out, sizeof(out), "broken.bin");
  rf_job_options_init(&o);
  o.manifest = man;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, RF_EINVAL);
  cr_assert(strstr(r.message, "line 5") != NULL, "%s", r.message);
  free(url);
}

static void manifest_round_trip(uint64_t size, uint64_t piece)
{
  char man[512], out[512], path[160], name[64], *url;
  rf_job_options o;
  outcome r;

  snprintf(name, sizeof(name), "rt-%llu.rfm", (unsigned long long)size);
  make_manifest(name, size, 3, piece, man, sizeof(man));
  snprintf(path, sizeof(path), "/gen/%llu?seed=3", (unsigned long long)size);
  url = ts_url(srv, path);
  snprintf(name, sizeof(name), "rt-%llu", (unsigned long long)size);
  path_in(out, sizeof(out), name);
  rf_job_options_init(&o);
  o.manifest = man;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "size %llu: %s", (unsigned long long)size,
               r.message);
  cr_assert(ts_file_matches_gen(out, size, 3));
  cr_assert_eq(r.pieces_verified, size == 0 ? 0 : (size - 1) / piece + 1);
  unlink(out);
  unlink(man);
  free(url);
}

Test(resume, manifest_round_trip_edges)
{
  const uint64_t p = 65536;

  manifest_round_trip(0, p);
  manifest_round_trip(1, p);
  manifest_round_trip(p - 1, p);
  manifest_round_trip(p, p);
  manifest_round_trip(p + 1, p);
}

Test(resume, manifest_by_url_served_beside_the_file)
{
  char src[512], man[600], out[512], *url, *murl;
  rf_manifest *m = NULL;
  rf_job_options o;
  outcome r;

  snprintf(src, sizeof(src), "%s/served.bin", ts_root(srv));
  cr_assert_eq(ts_write_gen_file(src, 777777, 8), 0);
  cr_assert_eq(rf_manifest_create(&m, src, 65536, 0, 0), 0);
  snprintf(man, sizeof(man), "%s.rfm", src);
  cr_assert_eq(rf_manifest_save(m, man), 0);
  rf_manifest_free(m);
  url = ts_url(srv, "/served.bin");
  murl = ts_url(srv, "/served.bin.rfm");
  path_in(out, sizeof(out), "served.bin");
  rf_job_options_init(&o);
  o.manifest = murl;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_eq(r.pieces_verified, 12);
  cr_assert(ts_file_matches_gen(out, 777777, 8));
  free(url);
  free(murl);
}

Test(resume, manifest_round_trip_sparse_gibs)
{
  /* 2 GiB + 1 of a sparse file (zeros) hashed, served and verified. */
  char src[512], man[600], out[512], *url;
  rf_manifest *m = NULL;
  rf_job_options o;
  outcome r;
  int fd;
  const uint64_t size = (2ULL << 30) + 1;

  snprintf(src, sizeof(src), "%s/sparse.bin", ts_root(srv));
  fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cr_assert_geq(fd, 0);
  cr_assert_eq(ftruncate(fd, (off_t)size), 0);
  cr_assert_eq(pwrite(fd, "end", 1, (off_t)size - 1), 1);
  close(fd);
  cr_assert_eq(rf_manifest_create(&m, src, 0, 0, 0), 0);
  snprintf(man, sizeof(man), "%s.rfm", src);
  cr_assert_eq(rf_manifest_save(m, man), 0);
  rf_manifest_free(m);
  url = ts_url(srv, "/sparse.bin");
  path_in(out, sizeof(out), "sparse.out");
  rf_job_options_init(&o);
  o.manifest = man;
  o.no_sync = 1; /* 2 GiB through the page cache, not the disk */
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_eq(r.pieces_verified, 2049);
  {
    struct stat sb;
    char last = 0;
    cr_assert_eq(stat(out, &sb), 0);
    cr_assert_eq((uint64_t)sb.st_size, size);
    fd = open(out, O_RDONLY);
    cr_assert_eq(pread(fd, &last, 1, (off_t)size - 1), 1);
    close(fd);
    cr_assert_eq(last, 'e');
  }
  unlink(out);
  unlink(src);
  free(url);
}

/* A run cut short (cancelled after some progress) leaves .part + journal. */
static void cancel_when(rf_job *job, const rf_progress *p, void *ud)
{
  uint64_t *at = ud;

  if (p->total != RF_SIZE_UNKNOWN && p->received >= *at)
    rf_job_cancel(job);
}

typedef struct cancel_ctx {
  uint64_t at;
  outcome o;
} cancel_ctx;

static void cancel_done(rf_job *job, const rf_result *r, void *ud)
{
  cancel_ctx *c = ud;

  on_done(job, r, &c->o);
}

static void cancel_progress(rf_job *job, const rf_progress *p, void *ud)
{
  cancel_ctx *c = ud;

  cancel_when(job, p, &c->at);
}

static void partial_run(const char *url, const char *out, uint64_t at)
{
  rf_engine *e = NULL;
  rf_job_options o;
  cancel_ctx c;

  memset(&c, 0, sizeof(c));
  c.at = at;
  rf_job_options_init(&o);
  o.url = url;
  o.output = out;
  o.piece_size = 65536;
  o.connections = 4;
  o.progress_interval_ms = 5;
  o.on_progress = cancel_progress;
  o.on_done = cancel_done;
  o.user_data = &c;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  cr_assert_eq(rf_job_add(NULL, e, &o), 0);
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_eq(c.o.error, RF_ECANCELED, "%s", c.o.message);
}

static void copy_file(const char *from, const char *to)
{
  static char buf[1 << 16];
  int in = open(from, O_RDONLY), out;
  ssize_t n;

  cr_assert_geq(in, 0, "%s: %s", from, strerror(errno));
  out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cr_assert_geq(out, 0, "%s: %s", to, strerror(errno));
  while ((n = read(in, buf, sizeof(buf))) > 0)
    cr_assert_eq(write(out, buf, (size_t)n), n);
  close(in);
  close(out);
}

Test(resume, journal_cut_or_scrambled_never_gives_a_wrong_file)
{
  const uint64_t size = 1500000;
  char out[512], part[600], journal[640], keep_part[700], keep_j[700];
  char *url = ts_url(srv, "/gen/1500000?seed=21&rate=3000000");
  struct stat sb;
  off_t jsize, cut;
  unsigned runs = 0;
  rf_job_options o;
  outcome r;

  path_in(out, sizeof(out), "cut.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  snprintf(journal, sizeof(journal), "%s.rfj", part);
  snprintf(keep_part, sizeof(keep_part), "%s.keep", part);
  snprintf(keep_j, sizeof(keep_j), "%s.keep", journal);
  partial_run(url, out, size / 2);
  cr_assert_eq(stat(journal, &sb), 0);
  jsize = sb.st_size;
  cr_assert_gt(jsize, 4096, "no records in the journal");
  copy_file(part, keep_part);
  copy_file(journal, keep_j);
  /* Every cut inside the records and around the header's end, and a
   * sample of cuts inside the header. */
  for (cut = 0; cut <= jsize; cut += (cut < 4000 ? 397 : 1)) {
    copy_file(keep_part, part);
    copy_file(keep_j, journal);
    cr_assert_eq(truncate(journal, cut), 0);
    rf_job_options_init(&o);
    o.piece_size = 65536;
    r = fetch(url, out, &o);
    cr_assert_eq(r.error, 0, "cut at %lld: %s", (long long)cut, r.message);
    cr_assert(ts_file_matches_gen(out, size, 21), "cut at %lld: wrong file",
              (long long)cut);
    unlink(out);
    runs++;
    if (cut >= 4096 + 48 * 4 && cut < jsize - 48 * 2)
      cut += 47 - (cut % 48 == 0 ? 0 : 0); /* a few offsets per record */
  }
  /* Flipped bits: one byte at a time over the whole journal, in steps. */
  for (cut = 0; cut < jsize; cut += 13) {
    int fd;
    unsigned char byte;
    copy_file(keep_part, part);
    copy_file(keep_j, journal);
    fd = open(journal, O_RDWR);
    cr_assert_eq(pread(fd, &byte, 1, cut), 1);
    byte ^= (unsigned char)(1u << (cut % 8));
    cr_assert_eq(pwrite(fd, &byte, 1, cut), 1);
    close(fd);
    rf_job_options_init(&o);
    o.piece_size = 65536;
    r = fetch(url, out, &o);
    cr_assert_eq(r.error, 0, "flip at %lld: %s", (long long)cut, r.message);
    cr_assert(ts_file_matches_gen(out, size, 21), "flip at %lld: wrong file",
              (long long)cut);
    unlink(out);
    runs++;
  }
  fprintf(stderr, "journal damage: %u resumes, all byte-identical\n", runs);
  free(url);
}

Test(resume, content_changed_between_runs_starts_over)
{
  char src[512], out[512], *url;
  rf_job_options o;
  outcome r;

  snprintf(src, sizeof(src), "%s/changing.bin", ts_root(srv));
  cr_assert_eq(ts_write_gen_file(src, 2000000, 31), 0);
  url = ts_url(srv, "/changing.bin?rate=4000000");
  path_in(out, sizeof(out), "changing.bin");
  partial_run(url, out, 1000000);
  /* The file changes on the server (new content, new mtime and ETag). */
  sleep(1);
  cr_assert_eq(ts_write_gen_file(src, 2000000, 32), 0);
  rf_job_options_init(&o);
  o.piece_size = 65536;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_eq(r.resumed, 0, "kept %llu bytes of the old version",
               (unsigned long long)r.resumed);
  cr_assert(ts_file_matches_gen(out, 2000000, 32));
  free(url);
}

Test(resume, journal_of_another_url_is_left_alone)
{
  char out[512], part[600], *url = ts_url(srv, "/gen/2000000?seed=41&rate=4000000");
  char *other = ts_url(srv, "/gen/2000000?seed=42");
  struct stat before, after;
  rf_job_options o;
  outcome r;

  path_in(out, sizeof(out), "mine.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  partial_run(url, out, 500000);
  cr_assert_eq(stat(part, &before), 0);
  rf_job_options_init(&o);
  r = fetch(other, out, &o);
  cr_assert_eq(r.error, RF_ERESUME, "%s", rf_err_name(r.error));
  cr_assert(strstr(r.message, "seed=41") != NULL, "%s", r.message);
  cr_assert(strstr(r.message, "--no-resume") != NULL, "%s", r.message);
  cr_assert_eq(stat(part, &after), 0);
  cr_assert_eq(before.st_mtime, after.st_mtime, ".part touched");
  /* The right URL resumes it. */
  rf_job_options_init(&o);
  o.piece_size = 65536;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_gt(r.resumed, 0);
  cr_assert(ts_file_matches_gen(out, 2000000, 41));
  /* And --no-resume starts over. */
  unlink(out);
  partial_run(url, out, 500000);
  rf_job_options_init(&o);
  o.no_resume = 1;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_eq(r.resumed, 0);
  cr_assert(ts_file_matches_gen(out, 2000000, 41));
  free(url);
  free(other);
}

Test(resume, disk_full_then_resume)
{
  char out[512], part[600];
  char *url = ts_url(srv, "/gen/3000000?seed=51&rate=4000000");
  struct rlimit saved, rl;
  void (*xfsz)(int);
  rf_job_options o;
  outcome r;

  path_in(out, sizeof(out), "full.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  partial_run(url, out, 1000000);
  /* With a 1 MiB file-size limit, the resume cannot even reserve the
   * space: a clear error, nothing lost.  The soft limit, in this process
   * and raised again after: a child forked from it (threaded: the test
   * server) may not start the engine's threads (POSIX; and TSan cannot). */
  cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
  rl = saved;
  rl.rlim_cur = 1 << 20;
  xfsz = signal(SIGXFSZ, SIG_IGN);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
  rf_job_options_init(&o);
  r = fetch(url, out, &o);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
  signal(SIGXFSZ, xfsz);
  cr_assert_eq(r.error, RF_ENOSPC, "no clear ENOSPC error: %s: %s",
               rf_err_name(r.error), r.message);
  cr_assert_not_null(strstr(r.message, part), "%s", r.message);
  cr_assert(exists(part));
  /* Space is back: the resume completes, keeping what was verified. */
  rf_job_options_init(&o);
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_gt(r.resumed, 0, "verified pieces were lost");
  cr_assert(ts_file_matches_gen(out, 3000000, 51));
  free(url);
}

Test(resume, whole_content_sha256_is_checked_before_the_rename)
{
  char src[512], man[600], out[512], part[600], *url;
  rf_manifest *m = NULL;
  rf_job_options o;
  outcome r;
  char *text = NULL, *line;
  FILE *f;

  snprintf(src, sizeof(src), "%s/sha.bin", ts_root(srv));
  cr_assert_eq(ts_write_gen_file(src, 300000, 61), 0);
  cr_assert_eq(rf_manifest_create(&m, src, 65536, 1, 0), 0);
  cr_assert(rf_manifest_has_sha256(m));
  path_in(man, sizeof(man), "sha.rfm");
  cr_assert_eq(rf_manifest_save(m, man), 0);
  url = ts_url(srv, "/sha.bin");
  path_in(out, sizeof(out), "sha.out");
  snprintf(part, sizeof(part), "%s.part", out);
  rf_job_options_init(&o);
  o.manifest = man;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert(ts_file_matches_gen(out, 300000, 61));
  unlink(out);
  /* The same manifest with one digit of its SHA-256 changed: every piece
   * and the XXH128 still match, the SHA-256 does not. */
  cr_assert_eq(rf_manifest_format(&text, m), 0);
  line = strstr(text, "content-sha256 ");
  cr_assert_not_null(line);
  line += strlen("content-sha256 ");
  *line = *line == '0' ? '1' : '0';
  f = fopen(man, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  free(text);
  rf_manifest_free(m);
  rf_job_options_init(&o);
  o.manifest = man;
  o.no_resume = 1;
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, RF_EHASH, "%s: %s", rf_err_name(r.error), r.message);
  cr_assert(strstr(r.message, "SHA-256") != NULL, "%s", r.message);
  cr_assert_not(exists(out), "a file failing its SHA-256 got the final name");
  cr_assert(exists(part));
  free(url);
}

Test(resume, ctrl_c_keeps_the_part_and_the_next_run_resumes)
{
  const char *extra[] = { "-c", "4", "--piece-size", "64K", NULL };
  char out[512], part[600], journal[640];
  char *url = ts_url(srv, "/gen/6000000?seed=71&rate=1000000");
  struct timespec ts = { 0, 600 * 1000000L };
  pid_t pid;
  int rc;

  path_in(out, sizeof(out), "sigint.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  snprintf(journal, sizeof(journal), "%s.rfj", part);
  pid = spawn_get(url, out, extra);
  nanosleep(&ts, NULL);
  kill(pid, SIGINT);
  rc = wait_exit(pid);
  cr_assert_eq(rc, 130, "exit %d after SIGINT", rc);
  cr_assert(exists(part), ".part removed");
  cr_assert(exists(journal), "journal removed");
  cr_assert_not(exists(out));
  cr_assert_gt(claimed_bytes(journal), 0, "nothing journaled");
  rc = wait_exit(spawn_get(url, out, extra));
  cr_assert_eq(rc, 0, "resume exited %d", rc);
  cr_assert(ts_file_matches_gen(out, 6000000, 71));
  cr_assert_not(exists(journal));
  free(url);
}

Test(resume, stale_journal_beside_a_finished_file_is_removed)
{
  /* A crash between the final rename and the journal's removal. */
  char out[512], journal[640], *url = ts_url(srv, "/gen/1000?seed=81");
  rf__journal j;
  rf__journal_meta m;
  rf_job_options o;
  outcome r;
  FILE *f;

  path_in(out, sizeof(out), "done.bin");
  snprintf(journal, sizeof(journal), "%s.part.rfj", out);
  f = fopen(out, "w");
  cr_assert_not_null(f);
  fputs("finished", f);
  fclose(f);
  memset(&m, 0, sizeof(m));
  m.url = url;
  m.length = 1000;
  m.piece_size = 1000;
  m.npieces = 1;
  m.etag = (char *)"\"e\"";
  m.last_modified = (char *)"";
  cr_assert_eq(rf__journal_create(&j, journal, &m), 0);
  rf__journal_close(&j);
  rf_job_options_init(&o);
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, RF_EEXIST);
  cr_assert_not(exists(journal), "stale journal kept");
  free(url);
}

/*
 * Two runs on one output (the first-contact report): while a download
 * runs, a second `get` to the same file, of other content, with
 * --no-resume, without it, and with -f, exits at once with status 4 and a
 * message naming the first process; the first finishes with its own bytes.
 */
Test(resume, second_run_on_the_same_output_is_refused)
{
  const char *const variants[][3] = { { "--no-resume", NULL, NULL },
                                      { NULL, NULL, NULL },
                                      { "-f", "--no-resume", NULL } };
  const char *slow_extra[] = { "-c", "2", NULL };
  char out[512], part[600], errpath[600], want[128], err[2048];
  char *slow = ts_url(srv, "/gen/8000000?seed=41&rate=2000000");
  char *other = ts_url(srv, "/gen/8000000?seed=42");
  unsigned v;

  path_in(out, sizeof(out), "contended.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  path_in(errpath, sizeof(errpath), "second.err");
  for (v = 0; v < 3; v++) {
    pid_t first, second;
    int i, rc;

    unlink(out);
    unlink(part);
    first = spawn_get(slow, out, slow_extra); /* about 2 s */
    for (i = 0; i < 500 && !exists(part); i++)
      usleep(10000);
    cr_assert(exists(part), "the first run made no .part");
    usleep(200000);
    second = spawn_get_err(other, out, variants[v], errpath);
    rc = wait_exit(second);
    cr_assert_eq(waitpid(first, NULL, WNOHANG), 0,
                 "variant %u: the second run did not exit at once", v);
    cr_assert_eq(rc, 4, "variant %u: exit %d", v, rc);
    tf_read(errpath, err, sizeof(err));
    snprintf(want, sizeof(want), "another download (process %ld)",
             (long)first);
    cr_assert(strstr(err, want) != NULL && strstr(err, part) != NULL,
              "variant %u: message: %s", v, err);
    rc = wait_exit(first);
    cr_assert_eq(rc, 0, "variant %u: the first run failed (%d)", v, rc);
    cr_assert(ts_file_matches_gen(out, 8000000, 41),
              "variant %u: the saved file is not the first run's content",
              v);
    cr_assert_not(exists(part));
  }
  free(slow);
  free(other);
}

/* A directory where the output goes, made once the job runs: the final
 * rename fails and leaves a finished .part with a full journal. */
typedef struct in_the_way {
  const char *out;
  outcome o;
} in_the_way;

static void mkdir_in_the_way(rf_job *job, const rf_progress *p, void *ud)
{
  in_the_way *w = ud;
  char inner[700];

  (void)job;
  (void)p;
  if (mkdir(w->out, 0755) == 0) {
    snprintf(inner, sizeof(inner), "%s/x", w->out);
    tf_write(inner, "x"); /* not empty: rename cannot replace it */
  }
}

static void in_the_way_done(rf_job *job, const rf_result *r, void *ud)
{
  in_the_way *w = ud;

  on_done(job, r, &w->o);
}

static void leave_finished_part(const char *url, const char *out)
{
  rf_engine *e = NULL;
  rf_job_options o;
  in_the_way w;
  char path[700];

  memset(&w, 0, sizeof(w));
  w.out = out;
  rf_job_options_init(&o);
  o.url = url;
  o.output = out;
  o.piece_size = 65536;
  o.progress_interval_ms = 1;
  o.on_progress = mkdir_in_the_way;
  o.on_done = in_the_way_done;
  o.user_data = &w;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  cr_assert_eq(rf_job_add(NULL, e, &o), 0, "%s", rf_engine_last_error(e));
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_neq(w.o.error, 0, "the rename onto a directory succeeded?");
  snprintf(path, sizeof(path), "%s/x", out);
  cr_assert_eq(unlink(path), 0);
  cr_assert_eq(rmdir(out), 0);
  snprintf(path, sizeof(path), "%s.part", out);
  cr_assert(exists(path), "the failed rename must keep the .part");
}

/*
 * A download that finished but was not renamed (a crash between the last
 * byte and the rename): the next run checks the pieces on disk and fetches
 * nothing (its probe's one byte used to be refetched as all of piece 0,
 * racing the check and reported as a bad piece), and the CLI's result line
 * says so instead of a rate of bytes it never fetched.
 */
Test(resume, finished_but_not_renamed_fetches_nothing_again)
{
  const uint64_t size = 6000000;
  char out[512], outfile[600], text[2048];
  /* 8 MB/s per connection: long enough for the first run's progress
   * callback to put the directory in the way before the rename. */
  char *url = ts_url(srv, "/gen/6000000?seed=51&rate=8000000");
  const char *argv[8];
  rf_job_options o;
  outcome r;
  uint64_t before;
  pid_t pid;

  path_in(out, sizeof(out), "unrenamed.bin");
  leave_finished_part(url, out);
  before = ts_body_bytes(srv);
  rf_job_options_init(&o);
  r = fetch(url, out, &o);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_eq(r.resumed, size);
  cr_assert_eq(r.pieces_failed, 0, "a good piece on disk counted as bad");
  cr_assert_leq(ts_body_bytes(srv) - before, 1,
                "fetched %llu bytes that were on disk",
                (unsigned long long)(ts_body_bytes(srv) - before));
  cr_assert(ts_file_matches_gen(out, size, 51));

  cr_assert_eq(unlink(out), 0);
  leave_finished_part(url, out);
  path_in(outfile, sizeof(outfile), "unrenamed.stdout");
  argv[0] = clipath();
  argv[1] = "get";
  argv[2] = url;
  argv[3] = "-o";
  argv[4] = out;
  argv[5] = NULL;
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0)
      _exit(126);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  cr_assert_eq(wait_exit(pid), 0);
  tf_read(outfile, text, sizeof(text));
  cr_assert(strstr(text, "nothing left to fetch") != NULL, "%s", text);
  cr_assert(strstr(text, "bad piece") == NULL, "%s", text);
  cr_assert(ts_file_matches_gen(out, size, 51));
  free(url);
}
