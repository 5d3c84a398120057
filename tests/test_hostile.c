/*
 * Hostile servers: every way we could think of in which a server lies
 * about lengths, ranges, codings or validators, changes content
 * mid-download, cuts or trickles bodies, or redirects where it should not
 * (tests/support/liar.c answers with whatever bytes a case writes).  Each
 * case must end in the right file or a clean error: never a hang (every
 * job has a max_time as a guard, and none may need it unless the case is
 * about time), and never a wrong file under the final name.  Lying
 * mirrors and peers are in tests/test_sources.c (a mirror of another
 * length, a 200 to a range, a peer sending bad pieces); the range
 * server's own faults (cuts, stalls, corrupt bytes, bad ranges, 503s,
 * content changes) in tests/test_engine.c and test_resume.c.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rangefetch/manifest.h"
#include "rangefetch/rangefetch.h"
#include "support/faults.h"
#include "support/liar.h"
#include "support/testserver.h"
#include "support/tmpdir.h"

#define SIZE  300000u /* five pieces of 64 KiB */
#define SEED  9u
#define GUARD 20000u  /* max_time: a case that needs it is a hang */

static char dir[256];

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  tmpdir_make(dir, sizeof(dir), "hostile");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------- the lies */

typedef enum lie {
  LIE_NONE,
  LIE_CL_LONGER,      /* Content-Length longer than the body, then close */
  LIE_CL_SHORTER,     /* Content-Length half the range, connection kept */
  LIE_TOTAL_GROWS,    /* after the first answer the total is larger */
  LIE_BODY_SHIFTED,   /* the Content-Range asked, the bytes of another */
  LIE_GZIP,           /* Content-Encoding: gzip */
  LIE_MULTIPART,      /* multipart/byteranges for one range */
  LIE_NO_CR,          /* 206 without Content-Range */
  LIE_CR_OVERFLOW,    /* Content-Range numbers beyond 64 bits */
  LIE_CR_BACKWARDS,   /* bytes 100-50/SIZE */
  LIE_ETAG_FLIPS,     /* every answer another ETag */
  LIE_200_LATER,      /* 206 to the probe, then 200 and the whole file */
  LIE_REDIRECT_FILE,  /* 302 to file:///etc/passwd */
  LIE_REDIRECT_FTP,   /* 302 to ftp:// */
  LIE_REDIRECT_LOOP,  /* 302 to itself, forever */
  LIE_TRICKLE,        /* a byte every 100 ms */
  LIE_ENDLESS_HEAD,   /* header lines that never end */
  LIE_GARBAGE,        /* not HTTP at all */
  LIE_CHUNK_BAD,      /* 200 chunked with a malformed chunk size */
} lie;

typedef struct ctx {
  lie lie;
  uint16_t port;
} ctx;

/* The honest answer to rq, with the case's lie worked in. */
static void answer(const liar_req *rq, liar_answer *a, void *ud)
{
  const ctx *c = ud;
  uint64_t first = rq->first, last, total = SIZE;
  size_t len;
  const char *etag = "\"h\"";
  char etagbuf[32];

  switch (c->lie) {
  case LIE_REDIRECT_FILE:
    liar_printf(a, "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\n"
                   "Content-Length: 0\r\n\r\n");
    return;
  case LIE_REDIRECT_FTP:
    liar_printf(a, "HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1:%u/x\r\n"
                   "Content-Length: 0\r\n\r\n",
                (unsigned)c->port);
    return;
  case LIE_REDIRECT_LOOP:
    liar_printf(a, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%u%s\r\n"
                   "Content-Length: 0\r\n\r\n",
                (unsigned)c->port, rq->target);
    return;
  case LIE_ENDLESS_HEAD:
    liar_printf(a, "HTTP/1.1 206 Partial Content\r\n");
    for (int k = 0; k < 20000; k++)
      liar_printf(a, "X-Filler-%d: %064d\r\n", k, k);
    a->close_after = 1;
    return;
  case LIE_GARBAGE:
    liar_printf(a, "SSH-2.0-OpenSSH_9.2\r\n\x01\x02\x03 not http\r\n\r\n");
    a->close_after = 1;
    return;
  case LIE_CHUNK_BAD:
    liar_printf(a, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "zz\r\nhello\r\n0\r\n\r\n");
    a->close_after = 1;
    return;
  default:
    break;
  }
  if (c->lie == LIE_TOTAL_GROWS && rq->n > 1)
    total = SIZE + 1000;
  if (c->lie == LIE_ETAG_FLIPS) {
    snprintf(etagbuf, sizeof(etagbuf), "\"e%u\"", rq->n);
    etag = etagbuf;
  }
  if (!rq->has_range || (c->lie == LIE_200_LATER && rq->n > 1)) {
    liar_printf(a, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nETag: %s\r\n"
                   "\r\n",
                SIZE, etag);
    liar_gen(a, 0, SIZE, SEED);
    return;
  }
  last = rq->last == UINT64_MAX || rq->last >= total ? total - 1 : rq->last;
  if (first > last) {
    liar_printf(a, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: "
                   "bytes */%" PRIu64 "\r\nContent-Length: 0\r\n\r\n",
                total);
    return;
  }
  len = (size_t)(last - first + 1);
  liar_printf(a, "HTTP/1.1 206 Partial Content\r\nETag: %s\r\n"
                 "Accept-Ranges: bytes\r\n",
              etag);
  switch (c->lie) {
  case LIE_NO_CR:
    break;
  case LIE_CR_OVERFLOW:
    liar_printf(a, "Content-Range: bytes %" PRIu64 "-%" PRIu64
                   "/99999999999999999999999\r\n",
                first, last);
    break;
  case LIE_CR_BACKWARDS:
    liar_printf(a, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
                   "\r\n",
                last, first, total);
    break;
  default:
    liar_printf(a, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
                   "\r\n",
                first, last, total);
    break;
  }
  if (c->lie == LIE_GZIP)
    liar_printf(a, "Content-Encoding: gzip\r\n");
  if (c->lie == LIE_MULTIPART)
    liar_printf(a, "Content-Type: multipart/byteranges; boundary=x\r\n");
  if (c->lie == LIE_CL_LONGER) {
    liar_printf(a, "Content-Length: %zu\r\n\r\n", len + 100);
    a->close_after = 1;
  } else if (c->lie == LIE_CL_SHORTER) {
    liar_printf(a, "Content-Length: %zu\r\n\r\n", len / 2);
    len /= 2;
  } else {
    liar_printf(a, "Content-Length: %zu\r\n\r\n", len);
  }
  if (c->lie == LIE_TRICKLE)
    a->trickle_ms = 100;
  if (len > 0)
    liar_gen(a, c->lie == LIE_BODY_SHIFTED ? first + 1 : first, len, SEED);
}

/* -------------------------------------------------------------- the runs */

typedef struct outcome {
  int done;
  int error;
  char message[600];
  double seconds;
} outcome;

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  outcome *o = ud;

  (void)job;
  o->done = 1;
  o->error = r->error;
  o->seconds = r->seconds;
  snprintf(o->message, sizeof(o->message), "%s",
           r->message != NULL ? r->message : "");
}

/* Download the liar's file with a guard on time; the invariant every
 * case shares: a file under the final name is the right one. */
static outcome run_case(lie which, const char *manifest, unsigned max_time)
{
  ctx c = { which, 0 };
  liar *l = liar_start(answer, &c);
  rf_engine *e = NULL;
  rf_job_options o;
  outcome out;
  char url[128], path[512];
  struct stat st;

  cr_assert_not_null(l);
  c.port = liar_port(l);
  memset(&out, 0, sizeof(out));
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/file.bin",
           (unsigned)c.port);
  snprintf(path, sizeof(path), "%s/case-%d.bin", dir, (int)which);
  rf_job_options_init(&o);
  o.url = url;
  o.output = path;
  o.overwrite = 1;
  o.no_resume = 1;
  o.connections = 4;
  o.piece_size = 65536;
  o.max_tries = 3;
  o.retry_base_ms = 10;
  o.retry_max_ms = 100;
  o.stall_timeout_ms = 2000;
  o.connect_timeout_ms = 2000;
  o.max_time_ms = max_time;
  o.manifest = manifest;
  o.on_done = on_done;
  o.user_data = &out;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  cr_assert_eq(rf_job_add(NULL, e, &o), 0, "%s", rf_engine_last_error(e));
  rf_engine_run(e);
  rf_engine_free(e);
  liar_stop(l);
  cr_assert(out.done, "case %d: no result", (int)which);
  if (stat(path, &st) == 0)
    cr_assert(out.error == RF_OK && ts_file_matches_gen(path, SIZE, SEED),
              "case %d: a file under the final name, result %s: %s",
              (int)which, rf_err_name(out.error), out.message);
  else
    cr_assert_neq(out.error, RF_OK, "case %d: OK but no file", (int)which);
  return out;
}

/* A clean error: not OK, a message, and (unless the case is about time)
 * well before the guard. */
static void assert_clean_error(lie which, const outcome *o, const int *errs)
{
  int k, ok = 0;

  cr_assert_neq(o->error, RF_OK, "case %d succeeded", (int)which);
  cr_assert(o->message[0] != '\0', "case %d: no message", (int)which);
  cr_assert_neq(o->error, RF_EINTERNAL, "case %d: %s", (int)which,
                o->message);
  for (k = 0; errs[k] != 0; k++)
    ok |= o->error == errs[k];
  cr_assert(ok, "case %d: %s: %s", (int)which, rf_err_name(o->error),
            o->message);
}

Test(hostile, the_honest_liar_serves_the_right_file)
{
  outcome o = run_case(LIE_NONE, NULL, GUARD);

  cr_assert_eq(o.error, RF_OK, "%s", o.message);
}

Test(hostile, lengths_that_lie)
{
  static const int errs[] = { RF_ELENGTH, RF_ENETWORK, RF_EPROTO, RF_ERANGE,
                              0 };
  outcome o;

  /* Every byte asked for came before the lie showed: the file is right
   * (run_case checked it), or the error is clean. */
  o = run_case(LIE_CL_LONGER, NULL, GUARD);
  if (o.error != RF_OK)
    assert_clean_error(LIE_CL_LONGER, &o, errs);
  o = run_case(LIE_CL_SHORTER, NULL, GUARD);
  assert_clean_error(LIE_CL_SHORTER, &o, errs);
}

Test(hostile, a_total_that_changes_is_never_taken_for_the_file)
{
  static const int errs[] = { RF_ECHANGED, RF_ERANGE, RF_EPROTO, 0 };
  outcome o = run_case(LIE_TOTAL_GROWS, NULL, GUARD);

  /* Either an error, or the download started over and the server's
   * later word held: run_case checked that no wrong file was kept. */
  if (o.error != RF_OK)
    assert_clean_error(LIE_TOTAL_GROWS, &o, errs);
}

Test(hostile, shifted_bytes_are_caught_by_the_manifest)
{
  static const int errs[] = { RF_EHASH, 0 };
  char src[512], man[512];
  rf_manifest *m = NULL;
  outcome o;

  snprintf(src, sizeof(src), "%s/src.bin", dir);
  snprintf(man, sizeof(man), "%s/src.rfm", dir);
  cr_assert_eq(ts_write_gen_file(src, SIZE, SEED), 0);
  cr_assert_eq(rf_manifest_create(&m, src, 65536, 0, 1), 0);
  cr_assert_eq(rf_manifest_save(m, man), 0);
  rf_manifest_free(m);
  o = run_case(LIE_BODY_SHIFTED, man, GUARD);
  assert_clean_error(LIE_BODY_SHIFTED, &o, errs);
  /* The same liar with the right bytes and the manifest: fine. */
  o = run_case(LIE_NONE, man, GUARD);
  cr_assert_eq(o.error, RF_OK, "%s", o.message);
}

Test(hostile, codings_and_shapes_that_are_not_the_file)
{
  static const int errs[] = { RF_EPROTO, RF_ERANGE, 0 };
  static const lie lies[] = { LIE_GZIP, LIE_MULTIPART, LIE_NO_CR,
                              LIE_CR_OVERFLOW, LIE_CR_BACKWARDS };
  size_t k;

  for (k = 0; k < sizeof(lies) / sizeof(lies[0]); k++) {
    outcome o = run_case(lies[k], NULL, GUARD);
    /* A probe without a usable Content-Range may fall back to one
     * stream (a 206 that is not understood is not a 206): then the
     * whole body must be the file, which run_case checked. */
    if (o.error != RF_OK)
      assert_clean_error(lies[k], &o, errs);
    else
      cr_assert(lies[k] == LIE_NO_CR, "case %d succeeded", (int)lies[k]);
  }
}

Test(hostile, validators_that_flip_and_a_200_later)
{
  static const int errs[] = { RF_ECHANGED, 0 };
  outcome o = run_case(LIE_ETAG_FLIPS, NULL, GUARD);

  assert_clean_error(LIE_ETAG_FLIPS, &o, errs);
  /* A 200 with the whole (right) file to a later range: the engine may
   * use it or fail, never keep a wrong file (run_case). */
  o = run_case(LIE_200_LATER, NULL, GUARD);
  (void)o;
}

Test(hostile, redirects_where_they_should_not)
{
  static const int errs[] = { RF_EURL, RF_EHTTP, RF_EPROTO, RF_ENETWORK, 0 };
  static const lie lies[] = { LIE_REDIRECT_FILE, LIE_REDIRECT_FTP,
                              LIE_REDIRECT_LOOP };
  size_t k;

  for (k = 0; k < sizeof(lies) / sizeof(lies[0]); k++) {
    outcome o = run_case(lies[k], NULL, GUARD);
    assert_clean_error(lies[k], &o, errs);
    cr_assert(o.seconds < 10.0, "case %d took %.1f s", (int)lies[k],
              o.seconds);
  }
}

Test(hostile, trickles_and_endless_heads_end_in_time)
{
  static const int time_errs[] = { RF_ETIMEDOUT, 0 };
  static const int head_errs[] = { RF_ENETWORK, RF_EPROTO, RF_ETOOBIG,
                                   RF_ETIMEDOUT, 0 };
  outcome o;

  /* A byte every 100 ms never trips the stall timeout: the whole
   * download's limit ends it, the .part kept. */
  o = run_case(LIE_TRICKLE, NULL, 1500);
  assert_clean_error(LIE_TRICKLE, &o, time_errs);
  cr_assert(o.seconds < 5.0, "%.1f s", o.seconds);
  o = run_case(LIE_ENDLESS_HEAD, NULL, GUARD);
  assert_clean_error(LIE_ENDLESS_HEAD, &o, head_errs);
  cr_assert(o.seconds < 10.0, "%.1f s", o.seconds);
}

Test(hostile, garbage_and_broken_chunks)
{
  /* Not HTTP: libcurl says "Received HTTP/0.9 when not allowed", an
   * unsupported protocol (EURL), with that message. */
  static const int errs[] = { RF_ENETWORK, RF_EPROTO, RF_EHTTP, RF_EURL, 0 };
  outcome o = run_case(LIE_GARBAGE, NULL, GUARD);

  assert_clean_error(LIE_GARBAGE, &o, errs);
  o = run_case(LIE_CHUNK_BAD, NULL, GUARD);
  assert_clean_error(LIE_CHUNK_BAD, &o, errs);
}
