/*
 * Many sources for one download (engine/source/): mirrors, cache hosts
 * and peers beside the origin, each an in-process range server of its
 * own on 127.0.0.1, with faults (rate caps, servers that die, wrong
 * lengths, 4xx).  Every file is compared byte for byte with the generated
 * content, and the per-source counters are checked against what each
 * server was made to do.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <openssl/evp.h>

#include "rangefetch/rangefetch.h"
#include "rangefetch/manifest.h"
#include "rangefetch/cachehost.h"
#include "support/clipath.h"
#include "support/testserver.h"
#include "support/tmpdir.h"

#define MAXSRV 6

static char dir[256];

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  tmpdir_make(dir, sizeof(dir), "sources");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(sources, .init = setup, .fini = teardown, .timeout = 300);

typedef struct src_seen {
  rf_source_kind kind;
  rf_source_state state;
  char name[300];
  char why[300];
  uint64_t bytes;
  unsigned bad_pieces;
  unsigned errors;
  unsigned requests;
} src_seen;

typedef struct run {
  int done;
  int error;
  char message[600];
  uint64_t bytes;
  double seconds;
  uint64_t bytes_from[RF_SOURCE_KINDS];
  src_seen src[MAXSRV + 2];
  unsigned nsrc;
  /* Actions from the progress callback, once a share of the content
   * arrived: stop a server, add or remove a source. */
  uint64_t total;
  double kill_at;
  ts_server **kill;
  double add_at;
  rf_source_options add;
  unsigned added_id;
  int add_rc;
  double remove_at;
  int removed;
  unsigned remove_busy_seen; /* the source had a request running */
  int remove_any;            /* remove it even without one */
  rf_job *job;
  unsigned pieces_total;
} run;

static void copy_sources(run *r, const rf_source_stats *s, unsigned n)
{
  unsigned k;

  r->nsrc = n < MAXSRV + 2 ? n : MAXSRV + 2;
  for (k = 0; k < r->nsrc; k++) {
    r->src[k].kind = s[k].kind;
    r->src[k].state = s[k].state;
    snprintf(r->src[k].name, sizeof(r->src[k].name), "%s", s[k].name);
    snprintf(r->src[k].why, sizeof(r->src[k].why), "%s", s[k].why);
    r->src[k].bytes = s[k].bytes;
    r->src[k].bad_pieces = s[k].bad_pieces;
    r->src[k].errors = s[k].errors;
    r->src[k].requests = s[k].requests;
  }
}

static void on_progress(rf_job *job, const rf_progress *p, void *ud)
{
  run *r = ud;
  double share;

  r->job = job;
  r->pieces_total = p->pieces_total;
  if (p->total == RF_SIZE_UNKNOWN || p->total == 0)
    return;
  share = (double)p->received / (double)p->total;
  if (r->kill != NULL && *r->kill != NULL && share >= r->kill_at) {
    ts_stop(*r->kill); /* the server dies: its connections drop */
    *r->kill = NULL;
  }
  if (r->add.url != NULL && r->added_id == 0 && r->add_rc == 0 &&
      share >= r->add_at) {
    r->add_rc = rf_job_add_source(&r->added_id, job, &r->add);
    if (r->add_rc != 0)
      r->added_id = 0;
  }
  if (r->remove_at > 0 && !r->removed && r->added_id != 0 &&
      share >= r->remove_at && p->received < p->total &&
      p->nsources > r->added_id &&
      (p->sources[r->added_id].connections > 0 || r->remove_any)) {
    r->remove_busy_seen = p->sources[r->added_id].connections > 0;
    cr_assert_eq(rf_job_remove_source(job, r->added_id), 0);
    r->removed = 1;
  }
}

static void on_done(rf_job *job, const rf_result *res, void *ud)
{
  run *r = ud;

  (void)job;
  r->done++;
  r->error = res->error;
  snprintf(r->message, sizeof(r->message), "%s", res->message);
  r->bytes = res->bytes;
  r->seconds = res->seconds;
  memcpy(r->bytes_from, res->bytes_from, sizeof(r->bytes_from));
  copy_sources(r, res->sources, res->nsources);
}

static char *out_path(const char *name)
{
  static char p[512];

  snprintf(p, sizeof(p), "%s/%s", dir, name);
  return p;
}

/* o with the defaults, url, and an output named name under dir. */
static void job_opts(rf_job_options *o, const char *url, const char *name)
{
  rf_job_options_init(o);
  o->url = url;
  o->output = out_path(name);
}

/* Run one job on engine e (or a fresh one) to its end. */
static void run_job(rf_engine *e, rf_job_options *o, run *r)
{
  rf_engine *own = NULL;
  int rc;

  o->on_done = on_done;
  o->on_progress = on_progress;
  o->user_data = r;
  if (o->progress_interval_ms == 0)
    o->progress_interval_ms = 50;
  if (o->retry_base_ms == 0)
    o->retry_base_ms = 50;
  if (o->retry_max_ms == 0)
    o->retry_max_ms = 400;
  if (e == NULL) {
    cr_assert_eq(rf_engine_new(&own, NULL), 0);
    e = own;
  }
  rc = rf_job_add(NULL, e, o);
  cr_assert_eq(rc, 0, "rf_job_add: %s: %s", rf_strerror(rc),
               rf_engine_last_error(e));
  cr_assert_eq(rf_engine_run(e), 0);
  if (own != NULL)
    rf_engine_free(own);
  cr_assert_eq(r->done, 1);
}

static void expect_gen(const char *path, uint64_t size, uint64_t seed)
{
  struct stat sb;

  cr_assert_eq(stat(path, &sb), 0, "%s missing", path);
  cr_assert_eq((uint64_t)sb.st_size, size, "size %lld, want %llu",
               (long long)sb.st_size, (unsigned long long)size);
  cr_assert(ts_file_matches_gen(path, size, seed), "content differs");
}

static uint64_t sum_bytes(const run *r)
{
  uint64_t n = 0;
  unsigned k;

  for (k = 0; k < r->nsrc; k++)
    n += r->src[k].bytes;
  return n;
}

static void source_opt(rf_source_options *s, rf_source_kind kind,
                       const char *url)
{
  rf_source_options_init(s);
  s->kind = kind;
  s->url = url;
}

/* "127.0.0.1:PORT" of a server, as a cache host is named. */
static const char *host_of(const ts_server *t, char *buf, size_t size)
{
  snprintf(buf, size, "127.0.0.1:%u", (unsigned)ts_port(t));
  return buf;
}

#define SIZE (24ull << 20)

Test(sources, two_mirrors_share_by_rate)
{
  ts_server *origin = ts_start(NULL), *slow = ts_start(NULL),
            *fast = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/25165824?seed=3&rate=3000000");
  char *su = ts_url(slow, "/gen/25165824?seed=3&rate=500000");
  char *fu = ts_url(fast, "/gen/25165824?seed=3&rate=6000000");
  rf_source_options s[2];
  rf_job_options o;
  run r;

  memset(&r, 0, sizeof(r));
  source_opt(&s[0], RF_SOURCE_MIRROR, su);
  source_opt(&s[1], RF_SOURCE_MIRROR, fu);
  job_opts(&o, ou, "mirrors");
  o.connections = 6;
  o.piece_size = 256 * 1024;
  o.sources = s;
  o.nsources = 2;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, SIZE, 3);
  cr_assert_eq(r.nsrc, 3);
  cr_assert_eq(sum_bytes(&r), SIZE, "the sources' bytes add up: %llu",
               (unsigned long long)sum_bytes(&r));
  cr_assert_eq(r.bytes_from[RF_SOURCE_ORIGIN] + r.bytes_from[RF_SOURCE_MIRROR],
               SIZE);
  /* Per connection the fast mirror is 12 times the slow one. */
  cr_assert_gt(r.src[2].bytes, 3 * r.src[1].bytes,
               "fast mirror %llu bytes, slow %llu",
               (unsigned long long)r.src[2].bytes,
               (unsigned long long)r.src[1].bytes);
  cr_assert_gt(r.src[1].bytes, 0, "the slow mirror was used too");
  cr_assert_lt(r.src[1].bytes, SIZE / 8, "slow mirror: %llu bytes",
               (unsigned long long)r.src[1].bytes);
  free(ou);
  free(su);
  free(fu);
  ts_stop(origin);
  ts_stop(slow);
  ts_stop(fast);
}

Test(sources, mirror_with_another_length_is_refused_by_name)
{
  ts_server *origin = ts_start(NULL), *bad = ts_start(NULL);
  /* The origin at 4 MB/s a connection (about 0.5 s in all), so that the
   * mirror is asked before the download ends, however busy the machine. */
  char *ou = ts_url(origin, "/gen/8388608?seed=4&rate=4000000");
  char *bu = ts_url(bad, "/gen/8388600?seed=4");
  rf_source_options s;
  rf_job_options o;
  run r;

  memset(&r, 0, sizeof(r));
  source_opt(&s, RF_SOURCE_MIRROR, bu);
  job_opts(&o, ou, "refused");
  o.connections = 4;
  o.piece_size = 256 * 1024;
  o.sources = &s;
  o.nsources = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 8388608, 4);
  cr_assert_eq(r.src[1].state, RF_SOURCE_REFUSED, "state %s",
               rf_source_state_name(r.src[1].state));
  cr_assert(strstr(r.src[1].why, "8388600") != NULL &&
                strstr(r.src[1].why, "8388608") != NULL,
            "why: %s", r.src[1].why);
  cr_assert(strstr(r.src[1].name, "127.0.0.1") != NULL);
  cr_assert_eq(r.src[1].bytes, 0);
  cr_assert_eq(r.src[0].bytes, 8388608);
  free(ou);
  free(bu);
  ts_stop(origin);
  ts_stop(bad);
}

Test(sources, cache_host_serves_every_piece_the_origin_one_byte)
{
  ts_server *origin = ts_start(NULL), *cache = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/16777216?seed=5");
  char host[64];
  rf_source_options s;
  rf_job_options o;
  run r;

  memset(&r, 0, sizeof(r));
  source_opt(&s, RF_SOURCE_CACHE_HOST, host_of(cache, host, sizeof(host)));
  job_opts(&o, ou, "cached");
  o.connections = 4;
  o.piece_size = 1 << 20;
  o.sources = &s;
  o.nsources = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 16777216, 5);
  /* The origin was asked for one byte (the length), the cache host for
   * every piece. */
  cr_assert_eq(r.src[0].bytes, 0, "origin: %llu",
               (unsigned long long)r.src[0].bytes);
  cr_assert_eq(r.bytes_from[RF_SOURCE_CACHE_HOST], 16777216);
  cr_assert_eq(ts_body_bytes(origin), 1);
  cr_assert(strstr(r.src[1].name, host) != NULL);
  free(ou);
  ts_stop(origin);
  ts_stop(cache);
}

Test(sources, cache_host_dying_half_way_sends_its_pieces_to_the_others)
{
  ts_server *origin = ts_start(NULL), *m1 = ts_start(NULL),
            *m2 = ts_start(NULL), *cache = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/25165824?seed=6&rate=4000000");
  char *m1u = ts_url(m1, "/gen/25165824?seed=6&rate=400000");
  char *m2u = ts_url(m2, "/gen/25165824?seed=6&rate=4000000");
  char host[64];
  rf_source_options s[3];
  rf_job_options o;
  run r;

  memset(&r, 0, sizeof(r));
  source_opt(&s[0], RF_SOURCE_MIRROR, m1u);
  source_opt(&s[1], RF_SOURCE_MIRROR, m2u);
  source_opt(&s[2], RF_SOURCE_CACHE_HOST, host_of(cache, host, sizeof(host)));
  job_opts(&o, ou, "dying");
  o.connections = 8;
  o.piece_size = 256 * 1024;
  o.sources = s;
  o.nsources = 3;
  r.kill_at = 0.5;
  r.kill = &cache;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, SIZE, 6);
  cr_assert_null(cache, "the cache host was stopped mid-download");
  cr_assert_eq(sum_bytes(&r), SIZE);
  cr_assert_geq(r.src[3].bytes, SIZE / 3, "cache host: %llu",
                (unsigned long long)r.src[3].bytes);
  cr_assert_eq(r.src[3].state, RF_SOURCE_BANNED, "cache host %s: %s",
               rf_source_state_name(r.src[3].state), r.src[3].why);
  /* After the cache host, the fast sources took most of the rest. */
  cr_assert_gt(r.src[0].bytes + r.src[2].bytes, 4 * r.src[1].bytes,
               "origin %llu, fast mirror %llu, slow mirror %llu",
               (unsigned long long)r.src[0].bytes,
               (unsigned long long)r.src[2].bytes,
               (unsigned long long)r.src[1].bytes);
  free(ou);
  free(m1u);
  free(m2u);
  ts_stop(origin);
  ts_stop(m1);
  ts_stop(m2);
}

/* A directory with one generated file, served as a real file. */
static void make_root(char *root, size_t size, const char *tag,
                      const char *file, uint64_t bytes, uint64_t seed)
{
  char path[600];

  snprintf(root, size, "%s/%s", dir, tag);
  cr_assert_eq(mkdir(root, 0700), 0);
  if (file != NULL) {
    snprintf(path, sizeof(path), "%s/%s", root, file);
    cr_assert_eq(ts_write_gen_file(path, bytes, seed), 0);
  }
}

Test(sources, cache_host_4xx_bans_it_for_that_origin_only)
{
  char ra[300], rb[300], rc[300], host[64], url[200];
  ts_server *a, *b, *cache;
  rf_engine *e = NULL;
  rf_source_options s;
  rf_job_options o;
  run r1, r2;

  /* Origin A has a.bin, origin B has b.bin; the cache host only b.bin:
   * a 404 for A's file. */
  make_root(ra, sizeof(ra), "root-a", "a.bin", 4 << 20, 8);
  make_root(rb, sizeof(rb), "root-b", "b.bin", 4 << 20, 9);
  make_root(rc, sizeof(rc), "root-c", "b.bin", 4 << 20, 9);
  a = ts_start(ra);
  b = ts_start(rb);
  cache = ts_start(rc);
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  host_of(cache, host, sizeof(host));
  source_opt(&s, RF_SOURCE_CACHE_HOST, host);

  memset(&r1, 0, sizeof(r1));
  rf_job_options_init(&o);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/a.bin", ts_port(a));
  o.url = url;
  o.output = out_path("a.bin");
  o.piece_size = 1 << 20;
  o.sources = &s;
  o.nsources = 1;
  run_job(e, &o, &r1);
  cr_assert_eq(r1.error, 0, "%s", r1.message);
  expect_gen(o.output, 4 << 20, 8);
  cr_assert_eq(r1.src[1].state, RF_SOURCE_BANNED);
  cr_assert(strstr(r1.src[1].why, "404") != NULL &&
                strstr(r1.src[1].why, "for this origin") != NULL,
            "why: %s", r1.src[1].why);
  cr_assert_eq(r1.src[0].bytes, 4 << 20);

  /* Another origin host (localhost, not 127.0.0.1) through the same cache
   * host, on the same engine: the ban does not apply. */
  memset(&r2, 0, sizeof(r2));
  rf_job_options_init(&o);
  snprintf(url, sizeof(url), "http://localhost:%u/b.bin", ts_port(b));
  o.url = url;
  o.output = out_path("b.bin");
  o.piece_size = 1 << 20;
  o.sources = &s;
  o.nsources = 1;
  run_job(e, &o, &r2);
  cr_assert_eq(r2.error, 0, "%s", r2.message);
  expect_gen(o.output, 4 << 20, 9);
  cr_assert_eq(r2.src[1].bytes, 4 << 20, "cache host: %llu bytes (%s: %s)",
               (unsigned long long)r2.src[1].bytes,
               rf_source_state_name(r2.src[1].state), r2.src[1].why);
  rf_engine_free(e);
  ts_stop(a);
  ts_stop(b);
  ts_stop(cache);
}

Test(sources, cache_host_down_bans_the_host_for_every_origin)
{
  ts_server *origin = ts_start(NULL), *cache = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/4194304?seed=10");
  char host[64], url2[200];
  rf_engine *e = NULL;
  rf_source_options s;
  rf_job_options o;
  run r1, r2;

  host_of(cache, host, sizeof(host));
  ts_stop(cache); /* nobody listens there any more */
  source_opt(&s, RF_SOURCE_CACHE_HOST, host);
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  memset(&r1, 0, sizeof(r1));
  job_opts(&o, ou, "down1");
  o.sources = &s;
  o.nsources = 1;
  run_job(e, &o, &r1);
  cr_assert_eq(r1.error, 0, "%s", r1.message);
  expect_gen(o.output, 4194304, 10);
  cr_assert_eq(r1.src[1].state, RF_SOURCE_BANNED);
  cr_assert(strstr(r1.src[1].why, "for this origin") == NULL,
            "why: %s", r1.src[1].why);

  memset(&r2, 0, sizeof(r2));
  rf_job_options_init(&o);
  snprintf(url2, sizeof(url2), "http://localhost:%u/gen/4194304?seed=10",
           ts_port(origin));
  o.url = url2;
  o.output = out_path("down2");
  o.sources = &s;
  o.nsources = 1;
  run_job(e, &o, &r2);
  cr_assert_eq(r2.error, 0, "%s", r2.message);
  cr_assert_eq(r2.src[1].requests, 0, "a banned cache host is not asked");
  cr_assert_eq(r2.src[1].state, RF_SOURCE_BANNED);
  rf_engine_free(e);
  free(ou);
  ts_stop(origin);
}

Test(sources, no_fallback_to_the_origin_when_told_so)
{
  ts_server *origin = ts_start(NULL), *cache = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/4194304?seed=11");
  char host[64];
  rf_source_options s;
  rf_job_options o;
  run r;

  host_of(cache, host, sizeof(host));
  ts_stop(cache);
  source_opt(&s, RF_SOURCE_CACHE_HOST, host);
  memset(&r, 0, sizeof(r));
  job_opts(&o, ou, "nofallback");
  o.sources = &s;
  o.nsources = 1;
  o.cache_fallback_delay = -1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, RF_ENETWORK, "%s", r.message);
  cr_assert(strstr(r.message, "no source left") != NULL &&
                strstr(r.message, "cache_fallback_delay = -1") != NULL &&
                strstr(r.message, host) != NULL,
            "message: %s", r.message);
  free(ou);
  ts_stop(origin);
}

Test(sources, fallback_delay_keeps_the_origin_out_for_a_while)
{
  ts_server *origin = ts_start(NULL), *cache = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/4194304?seed=12");
  char host[64];
  rf_source_options s;
  rf_job_options o;
  run r;

  host_of(cache, host, sizeof(host));
  ts_stop(cache);
  source_opt(&s, RF_SOURCE_CACHE_HOST, host);
  memset(&r, 0, sizeof(r));
  job_opts(&o, ou, "delay");
  o.sources = &s;
  o.nsources = 1;
  o.cache_fallback_delay = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 4194304, 12);
  cr_assert_geq(r.seconds, 1.0, "the origin waited for the delay: %.2f s",
                r.seconds);
  free(ou);
  ts_stop(origin);
}

Test(sources, runtime_mirror_takes_pieces_and_removal_loses_nothing)
{
  ts_server *origin = ts_start(NULL), *mirror = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/16777216?seed=13&rate=1500000");
  char *mu = ts_url(mirror, "/gen/16777216?seed=13&rate=1500000");
  rf_job_options o;
  run r;

  memset(&r, 0, sizeof(r));
  job_opts(&o, ou, "runtime");
  o.connections = 4;
  o.piece_size = 256 * 1024;
  source_opt(&r.add, RF_SOURCE_MIRROR, mu);
  r.add_at = 0.1;
  r.remove_at = 0.5;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.add_rc, 0, "rf_job_add_source: %s", rf_strerror(r.add_rc));
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 16777216, 13);
  cr_assert_eq(r.nsrc, 2);
  cr_assert(r.removed && r.remove_busy_seen);
  cr_assert_eq(r.src[1].state, RF_SOURCE_REMOVED);
  cr_assert_gt(r.src[1].bytes, 0, "the added mirror took pieces");
  cr_assert_eq(sum_bytes(&r), 16777216);
  free(ou);
  free(mu);
  ts_stop(origin);
  ts_stop(mirror);
}

Test(sources, peers_need_a_sha256_manifest)
{
  ts_server *origin = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/1048576?seed=14");
  rf_engine *e = NULL;
  rf_source_options s;
  rf_job_options o;
  int rc;

  source_opt(&s, RF_SOURCE_PEER, "http://127.0.0.1:9/x");
  job_opts(&o, ou, "peer");
  o.sources = &s;
  o.nsources = 1;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  rc = rf_job_add(NULL, e, &o);
  cr_assert_eq(rc, RF_EINVAL);
  cr_assert(strstr(rf_engine_last_error(e), "manifest") != NULL &&
                strstr(rf_engine_last_error(e), "SHA-256") != NULL,
            "%s", rf_engine_last_error(e));
  rf_engine_free(e);
  free(ou);
  ts_stop(origin);
}

Test(sources, bad_source_options_are_named)
{
  ts_server *origin = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/1048576?seed=15");
  rf_engine *e = NULL;
  rf_source_options s;
  rf_job_options o;

  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  job_opts(&o, ou, "bad");
  o.sources = &s;
  o.nsources = 1;
  source_opt(&s, RF_SOURCE_MIRROR, "ftp://example.com/x");
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EURL);
  cr_assert(strstr(rf_engine_last_error(e), "mirror ftp://example.com/x") !=
                NULL,
            "%s", rf_engine_last_error(e));
  source_opt(&s, RF_SOURCE_MIRROR, "http://user:secret@example.com:99999/x");
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EURL);
  cr_assert(strstr(rf_engine_last_error(e), "secret") == NULL, "%s",
            rf_engine_last_error(e));
  source_opt(&s, RF_SOURCE_ORIGIN, "http://example.com/x");
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  s.version = 99;
  s.kind = RF_SOURCE_MIRROR;
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  rf_engine_free(e);
  free(ou);
  ts_stop(origin);
}

Test(sources, mirrors_announced_in_link_headers_are_used)
{
  ts_server *origin = ts_start(NULL), *mirror = ts_start(NULL);
  char path[128];
  char *ou;
  rf_job_options o;
  run r;

  snprintf(path, sizeof(path), "/gen/8388608?seed=16&rate=2000000&link=%u",
           (unsigned)ts_port(mirror));
  ou = ts_url(origin, path);
  memset(&r, 0, sizeof(r));
  job_opts(&o, ou, "linked");
  o.connections = 4;
  o.piece_size = 256 * 1024;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 8388608, 16);
  cr_assert_eq(r.nsrc, 2, "the announced mirror is a source");
  cr_assert_eq(r.src[1].kind, RF_SOURCE_MIRROR);
  cr_assert(strstr(r.src[1].name, "/gen/8388608?seed=16") != NULL, "%s",
            r.src[1].name);
  cr_assert_gt(r.src[1].bytes, 0, "the mirror (no rate cap) took pieces");
  cr_assert_eq(sum_bytes(&r), 8388608);

  /* --no-mirror-links: the origin alone. */
  memset(&r, 0, sizeof(r));
  job_opts(&o, ou, "unlinked");
  o.no_mirror_links = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_eq(r.nsrc, 1);
  free(ou);
  ts_stop(origin);
  ts_stop(mirror);
}

Test(sources, the_origins_repr_digest_checks_the_whole_file)
{
  ts_server *origin = ts_start(NULL);
  char *good = ts_url(origin, "/gen/4194304?seed=17&reprdigest=1");
  char *old = ts_url(origin, "/gen/4194304?seed=17&digest=1");
  char *bad = ts_url(origin, "/gen/4194304?seed=17&reprdigest=2");
  char part[600];
  struct stat sb;
  rf_job_options o;
  run r;

  memset(&r, 0, sizeof(r));
  job_opts(&o, good, "repr-good");
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 4194304, 17);

  memset(&r, 0, sizeof(r));
  job_opts(&o, old, "digest-good");
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 4194304, 17);

  memset(&r, 0, sizeof(r));
  job_opts(&o, bad, "repr-bad");
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, RF_EHASH, "%s", r.message);
  cr_assert(strstr(r.message, "Repr-Digest") != NULL, "%s", r.message);
  cr_assert_neq(stat(o.output, &sb), 0, "no file under the final name");
  snprintf(part, sizeof(part), "%s.part", o.output);
  cr_assert_eq(stat(part, &sb), 0, "the .part is kept");
  free(good);
  free(old);
  free(bad);
  ts_stop(origin);
}

/* SIGKILL during a download from an origin, two mirrors and a cache host,
 * at random moments, then the same command again: the file is right. */
Test(sources, sigkill_during_a_many_sourced_download_then_resume,
     .timeout = 600)
{
  ts_server *origin = ts_start(NULL), *m1 = ts_start(NULL),
            *m2 = ts_start(NULL), *cache = ts_start(NULL);
  char out[600], part[620], journal[640], host[64], path[128];
  const char *n = getenv("RF_KILL_ITERATIONS");
  unsigned it, iterations = n != NULL ? (unsigned)atoi(n) : 6;
  unsigned seed = (unsigned)time(NULL);

  cr_assert(origin && m1 && m2 && cache);
  srand(seed);
  snprintf(out, sizeof(out), "%s/killed.bin", dir);
  snprintf(part, sizeof(part), "%s.part", out);
  snprintf(journal, sizeof(journal), "%s.rfj", part);
  host_of(cache, host, sizeof(host));
  for (it = 0; it < iterations; it++) {
    char *ou, *m1u, *m2u;
    unsigned kills;
    int rc;
    /* Each source at 1 MB/s per connection, 8 MiB: about a second. */
    snprintf(path, sizeof(path), "/gen/8388608?seed=%u&rate=1000000",
             it + 200);
    ou = ts_url(origin, path);
    m1u = ts_url(m1, path);
    m2u = ts_url(m2, path);
    {
      const char *extra[] = { "--mirror", m1u, "--mirror", m2u,
                              "--cache-host", host,
                              "--cache-fallback-delay", "0",
                              "--piece-size", "256K", NULL };
      unlink(out);
      unlink(part);
      unlink(journal);
      for (kills = 0; kills < 2; kills++) {
        unsigned ms = 50 + (unsigned)(rand() % 900);
        struct timespec ts = { (time_t)(ms / 1000),
                               (long)(ms % 1000) * 1000000L };
        pid_t pid = clipath_spawn_get(ou, out, extra, NULL);
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        rc = clipath_wait(pid);
        if (rc == 0 || access(out, F_OK) == 0)
          break;
        cr_assert_eq(rc, 128 + SIGKILL, "exit %d", rc);
      }
      if (access(out, F_OK) != 0) {
        rc = clipath_wait(clipath_spawn_get(ou, out, extra, NULL));
        cr_assert_eq(rc, 0, "iteration %u (seed %u): the resume exited %d", it,
                     seed, rc);
      }
    }
    cr_assert(ts_file_matches_gen(out, 8388608, it + 200),
              "iteration %u (seed %u): wrong content after resume", it, seed);
    cr_assert_neq(access(part, F_OK), 0, ".part left");
    free(ou);
    free(m1u);
    free(m2u);
  }
  ts_stop(origin);
  ts_stop(m1);
  ts_stop(m2);
  ts_stop(cache);
}

/* A manifest with SHA-256 pieces of generated content, saved under dir. */
static void sha256_manifest(const char *name, uint64_t size, uint64_t seed,
                            uint64_t piece, char *out, size_t outsize)
{
  rf_manifest_create_options mo = RF_MANIFEST_CREATE_OPTIONS_INIT;
  char src[600];
  rf_manifest *m = NULL;

  snprintf(src, sizeof(src), "%s/%s.src", dir, name);
  cr_assert_eq(ts_write_gen_file(src, size, seed), 0);
  mo.piece_size = piece;
  mo.piece_hash = RF_MANIFEST_HASH_SHA256;
  cr_assert_eq(rf_manifest_create_ext(&m, src, &mo), 0);
  snprintf(out, outsize, "%s/%s", dir, name);
  cr_assert_eq(rf_manifest_save(m, out), 0);
  rf_manifest_free(m);
  unlink(src);
}

Test(sources, a_peer_sending_bad_pieces_is_caught_and_banned)
{
  ts_server *origin = ts_start(NULL), *peer = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/8388608?seed=18&rate=1500000");
  /* Fast, but one byte of every 64 KiB is wrong. */
  char *pu = ts_url(peer, "/gen/8388608?seed=18&garble=65536");
  char man[600];
  rf_source_options s;
  rf_job_options o;
  run r;

  sha256_manifest("peer.rfm", 8388608, 18, 256 * 1024, man, sizeof(man));
  memset(&r, 0, sizeof(r));
  source_opt(&s, RF_SOURCE_PEER, pu);
  job_opts(&o, ou, "peer-bad");
  o.connections = 4;
  o.manifest = man;
  o.sources = &s;
  o.nsources = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 8388608, 18);
  cr_assert_eq(r.src[1].kind, RF_SOURCE_PEER);
  cr_assert_eq(r.src[1].state, RF_SOURCE_BANNED, "peer %s: %s",
               rf_source_state_name(r.src[1].state), r.src[1].why);
  cr_assert_geq(r.src[1].bad_pieces, 3, "bad pieces: %u", r.src[1].bad_pieces);
  cr_assert(strstr(r.src[1].why, "failed verification") != NULL, "%s",
            r.src[1].why);
  cr_assert_eq(r.src[1].bytes, 0, "nothing of the peer's was kept");
  cr_assert_eq(r.src[0].bytes, 8388608);
  free(ou);
  free(pu);
  ts_stop(origin);
  ts_stop(peer);
}

Test(sources, a_good_peer_serves_under_a_sha256_manifest)
{
  ts_server *origin = ts_start(NULL), *peer = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/8388608?seed=19&rate=1000000");
  char *pu = ts_url(peer, "/gen/8388608?seed=19");
  char man[600];
  rf_source_options s;
  rf_job_options o;
  run r;

  sha256_manifest("peer-good.rfm", 8388608, 19, 256 * 1024, man, sizeof(man));
  memset(&r, 0, sizeof(r));
  source_opt(&s, RF_SOURCE_PEER, pu);
  job_opts(&o, ou, "peer-good");
  o.connections = 4;
  o.manifest = man;
  o.sources = &s;
  o.nsources = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 8388608, 19);
  cr_assert_gt(r.bytes_from[RF_SOURCE_PEER], 8388608 / 2,
               "the fast peer served most: %llu",
               (unsigned long long)r.bytes_from[RF_SOURCE_PEER]);
  cr_assert_eq(r.src[1].bad_pieces, 0);
  free(ou);
  free(pu);
  ts_stop(origin);
  ts_stop(peer);
}

Test(sources, peers_are_refused_with_an_xxh3_manifest)
{
  ts_server *origin = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/1048576?seed=20");
  char src[600], man[600];
  rf_manifest *m = NULL;
  rf_engine *e = NULL;
  rf_source_options s;
  rf_job_options o;

  snprintf(src, sizeof(src), "%s/x.src", dir);
  cr_assert_eq(ts_write_gen_file(src, 1048576, 20), 0);
  cr_assert_eq(rf_manifest_create(&m, src, 65536, 0, 0), 0);
  snprintf(man, sizeof(man), "%s/x.rfm", dir);
  cr_assert_eq(rf_manifest_save(m, man), 0);
  rf_manifest_free(m);
  source_opt(&s, RF_SOURCE_PEER, "http://127.0.0.1:9/x");
  job_opts(&o, ou, "xxh-peer");
  o.manifest = man;
  o.sources = &s;
  o.nsources = 1;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  cr_assert(strstr(rf_engine_last_error(e), "XXH3") != NULL &&
                strstr(rf_engine_last_error(e), "--hash sha256") != NULL,
            "%s", rf_engine_last_error(e));
  rf_engine_free(e);
  free(ou);
  ts_stop(origin);
}

/* The SHA-256 of the file at path, in hex. */
static void file_sha256_hex(const char *path, char hex[65])
{
  unsigned char buf[65536], md[32];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  FILE *f = fopen(path, "rb");
  size_t n, k;

  cr_assert(ctx != NULL && f != NULL);
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    EVP_DigestUpdate(ctx, buf, n);
  fclose(f);
  EVP_DigestFinal_ex(ctx, md, NULL);
  EVP_MD_CTX_free(ctx);
  for (k = 0; k < 32; k++)
    snprintf(hex + 2 * k, 3, "%02x", md[k]);
}

Test(sources, a_manifest_over_plain_http_must_be_pinned_for_peers)
{
  char root[600], man[600], hex[65], wrong[65], murl[300];
  ts_server *origin, *peer;
  char *ou, *pu;
  rf_engine *e = NULL;
  rf_source_options s;
  rf_job_options o;
  run r;

  make_root(root, sizeof(root), "pinned", NULL, 0, 0);
  sha256_manifest("pinned/m.rfm", 4194304, 21, 256 * 1024, man, sizeof(man));
  file_sha256_hex(man, hex);
  origin = ts_start(root);
  peer = ts_start(NULL);
  ou = ts_url(origin, "/gen/4194304?seed=21&rate=1000000");
  pu = ts_url(peer, "/gen/4194304?seed=21");
  snprintf(murl, sizeof(murl), "http://127.0.0.1:%u/m.rfm", ts_port(origin));
  source_opt(&s, RF_SOURCE_PEER, pu);

  /* Not pinned: refused, saying why. */
  job_opts(&o, ou, "pin-none");
  o.manifest = murl;
  o.sources = &s;
  o.nsources = 1;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  cr_assert_eq(rf_job_add(NULL, e, &o), RF_EINVAL);
  cr_assert(strstr(rf_engine_last_error(e), "pinned") != NULL, "%s",
            rf_engine_last_error(e));
  rf_engine_free(e);

  /* Pinned with the right SHA-256: the peer serves. */
  memset(&r, 0, sizeof(r));
  o.output = out_path("pin-right");
  o.manifest_sha256 = hex;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 4194304, 21);
  cr_assert_gt(r.bytes_from[RF_SOURCE_PEER], 0);

  /* Pinned with another: the manifest is refused, nothing is fetched. */
  memcpy(wrong, hex, sizeof(wrong));
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  memset(&r, 0, sizeof(r));
  o.output = out_path("pin-wrong");
  o.manifest_sha256 = wrong;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, RF_EHASH, "%s", r.message);
  cr_assert(strstr(r.message, "not the pinned one") != NULL, "%s", r.message);
  free(ou);
  free(pu);
  ts_stop(origin);
  ts_stop(peer);
}

Test(sources, origin_delay_leaves_the_pieces_to_a_peer)
{
  ts_server *origin = ts_start(NULL), *peer = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/4194304?seed=22");
  char *pu = ts_url(peer, "/gen/4194304?seed=22&rate=4000000");
  char man[600];
  rf_source_options s;
  rf_job_options o;
  run r;

  sha256_manifest("delay.rfm", 4194304, 22, 256 * 1024, man, sizeof(man));
  memset(&r, 0, sizeof(r));
  source_opt(&s, RF_SOURCE_PEER, pu);
  job_opts(&o, ou, "origin-delay");
  o.manifest = man;
  o.sources = &s;
  o.nsources = 1;
  o.origin_delay = 60;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 4194304, 22);
  cr_assert_eq(r.bytes_from[RF_SOURCE_PEER], 4194304,
               "origin %llu bytes", (unsigned long long)r.src[0].bytes);
  cr_assert_leq(ts_body_bytes(origin), 1, "the origin sent one byte");
  free(ou);
  free(pu);
  ts_stop(origin);
  ts_stop(peer);
}

/* Two downloads of the same file on one engine: the first one's .part is
 * served, while it runs, by a range server with partial files on
 * (`rangefetch serve`); the second adds it as a peer mid-download and
 * removes it later.  Pieces the first has not got yet are answered 416
 * and fetched elsewhere. */
typedef struct pair {
  run *second;
  int done;
} pair;

static void first_done(rf_job *job, const rf_result *res, void *ud)
{
  run *r = ud;

  (void)job;
  r->done++;
  r->error = res->error;
  snprintf(r->message, sizeof(r->message), "%s", res->message);
}

Test(sources, a_peer_serving_a_download_in_progress)
{
  rf_server_options so = RF_SERVER_OPTIONS_INIT;
  ts_server *origin = ts_start(NULL), *peer;
  char root[600], man[600], out1[700], out2[700];
  char *ou1 = ts_url(origin, "/gen/16777216?seed=23&rate=2000000");
  char *ou2 = ts_url(origin, "/gen/16777216?seed=23&rate=500000");
  char purl[200];
  rf_engine *e = NULL;
  rf_job_options o1, o2;
  run r1, r2;

  make_root(root, sizeof(root), "peer-root", NULL, 0, 0);
  sha256_manifest("live.rfm", 16777216, 23, 256 * 1024, man, sizeof(man));
  so.partial = 1;
  peer = ts_start_with(root, 0, &so);
  cr_assert_not_null(peer);
  snprintf(out1, sizeof(out1), "%s/f.bin", root);
  snprintf(out2, sizeof(out2), "%s/second.bin", dir);
  snprintf(purl, sizeof(purl), "http://127.0.0.1:%u/f.bin", ts_port(peer));
  cr_assert_eq(rf_engine_new(&e, NULL), 0);

  /* The first machine: from the origin alone, 4 x 2 MB/s. */
  memset(&r1, 0, sizeof(r1));
  rf_job_options_init(&o1);
  o1.url = ou1;
  o1.output = out1;
  o1.connections = 4;
  o1.manifest = man;
  o1.on_done = first_done;
  o1.user_data = &r1;
  cr_assert_eq(rf_job_add(NULL, e, &o1), 0, "%s", rf_engine_last_error(e));

  /* The second: a slower origin; the first's peer from 5 % on, removed
   * at 30 % (a fast peer may bring the rest between two ticks). */
  memset(&r2, 0, sizeof(r2));
  rf_job_options_init(&o2);
  o2.url = ou2;
  o2.output = out2;
  o2.connections = 4;
  o2.manifest = man;
  o2.on_done = on_done;
  o2.on_progress = on_progress;
  o2.user_data = &r2;
  o2.progress_interval_ms = 50;
  o2.retry_base_ms = 50;
  o2.retry_max_ms = 200;
  source_opt(&r2.add, RF_SOURCE_PEER, purl);
  r2.add_at = 0.05;
  r2.remove_at = 0.3;
  r2.remove_any = 1;
  cr_assert_eq(rf_job_add(NULL, e, &o2), 0, "%s", rf_engine_last_error(e));
  cr_assert_eq(rf_engine_run(e), 0);
  rf_engine_free(e);

  cr_assert_eq(r1.done, 1);
  cr_assert_eq(r1.error, 0, "first: %s", r1.message);
  cr_assert_eq(r2.done, 1);
  cr_assert_eq(r2.add_rc, 0, "rf_job_add_source: %s", rf_strerror(r2.add_rc));
  cr_assert_eq(r2.error, 0, "second: %s", r2.message);
  expect_gen(out1, 16777216, 23);
  expect_gen(out2, 16777216, 23);
  cr_assert_eq(r2.src[1].kind, RF_SOURCE_PEER);
  cr_assert_gt(r2.bytes_from[RF_SOURCE_PEER], 0,
               "the peer shared pieces before it finished");
  cr_assert_eq(r2.src[1].bad_pieces, 0);
  cr_assert(r2.removed, "the peer was removed");
  cr_assert_eq(r2.src[1].state, RF_SOURCE_REMOVED, "peer %s: %s",
               rf_source_state_name(r2.src[1].state), r2.src[1].why);
  cr_assert_eq(sum_bytes(&r2), 16777216);
  free(ou1);
  free(ou2);
  ts_stop(origin);
  ts_stop(peer);
}

/* ----------------------------------------------------- the cache tier */

Test(sources, pieces_are_whole_slices_of_the_cache_hosts)
{
  ts_server *origin = ts_start(NULL), *cache = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/8388608?seed=24");
  char host[64], man[600];
  rf_source_options s;
  rf_job_options o;
  run r;

  source_opt(&s, RF_SOURCE_CACHE_HOST, host_of(cache, host, sizeof(host)));
  /* 768 KiB asked: rounded up to whole 1 MiB slices (8 pieces). */
  memset(&r, 0, sizeof(r));
  job_opts(&o, ou, "sliced");
  o.piece_size = 768 * 1024;
  o.sources = &s;
  o.nsources = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 8388608, 24);
  cr_assert_eq(r.src[1].bytes, 8388608);
  cr_assert_eq(r.pieces_total, 8, "%u pieces", r.pieces_total);

  /* A manifest of 256 KiB pieces cannot be fetched in whole slices: the
   * cache host is refused, saying why; the origin serves. */
  sha256_manifest("slices.rfm", 8388608, 24, 256 * 1024, man, sizeof(man));
  memset(&r, 0, sizeof(r));
  job_opts(&o, ou, "unsliced");
  o.manifest = man;
  o.sources = &s;
  o.nsources = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  cr_assert_eq(r.src[1].state, RF_SOURCE_REFUSED, "%s: %s",
               rf_source_state_name(r.src[1].state), r.src[1].why);
  cr_assert(strstr(r.src[1].why, "not whole slices") != NULL, "%s",
            r.src[1].why);
  cr_assert_eq(r.src[0].bytes, 8388608);
  free(ou);
  ts_stop(origin);
  ts_stop(cache);
}

/* Pieces of size bytes of url that rendezvous hashing gives each of the
 * two hosts. */
static void expected_split(const char *url, unsigned pieces, const char *a,
                           const char *b, unsigned *na, unsigned *nb)
{
  const char *hosts[2] = { a, b };
  unsigned i;

  *na = *nb = 0;
  for (i = 0; i < pieces; i++) {
    if (rf_cache_host_pick(url, i, hosts, 2, NULL) == 0)
      (*na)++;
    else
      (*nb)++;
  }
}

Test(sources, rendezvous_hashing_splits_the_pieces_between_cache_hosts)
{
  ts_server *origin = ts_start(NULL), *c1 = ts_start(NULL),
            *c2 = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/33554432?seed=25");
  char h1[64], h2[64];
  unsigned n1, n2;
  rf_source_options s[2];
  rf_job_options o;
  run r;

  host_of(c1, h1, sizeof(h1));
  host_of(c2, h2, sizeof(h2));
  expected_split(ou, 32, h1, h2, &n1, &n2);
  cr_assert(n1 > 0 && n2 > 0, "a split of %u and %u", n1, n2);
  source_opt(&s[0], RF_SOURCE_CACHE_HOST, h1);
  source_opt(&s[1], RF_SOURCE_CACHE_HOST, h2);
  memset(&r, 0, sizeof(r));
  job_opts(&o, ou, "hashed");
  o.sources = s;
  o.nsources = 2;
  o.cache_host_hash = 1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 33554432, 25);
  /* Each piece from the host hashing gave it, nothing from the origin. */
  cr_assert_eq(r.src[1].bytes, (uint64_t)n1 << 20, "host 1: %llu, want %u MiB",
               (unsigned long long)r.src[1].bytes, n1);
  cr_assert_eq(r.src[2].bytes, (uint64_t)n2 << 20, "host 2: %llu, want %u MiB",
               (unsigned long long)r.src[2].bytes, n2);
  cr_assert_eq(r.src[0].bytes, 0);
  free(ou);
  ts_stop(origin);
  ts_stop(c1);
  ts_stop(c2);
}

Test(sources, a_hashed_cache_host_stopping_hands_its_pieces_to_the_other)
{
  ts_server *origin = ts_start(NULL), *c1 = ts_start(NULL),
            *c2 = ts_start(NULL);
  char *ou = ts_url(origin, "/gen/33554432?seed=26&rate=2000000");
  char h1[64], h2[64];
  rf_source_options s[2];
  rf_job_options o;
  run r;

  host_of(c1, h1, sizeof(h1));
  host_of(c2, h2, sizeof(h2));
  source_opt(&s[0], RF_SOURCE_CACHE_HOST, h1);
  source_opt(&s[1], RF_SOURCE_CACHE_HOST, h2);
  memset(&r, 0, sizeof(r));
  /* The cache hosts' rate comes from the origin's query (the same path
   * and query are asked of them): 2 MB/s a connection. */
  job_opts(&o, ou, "hashed-stop");
  o.sources = s;
  o.nsources = 2;
  o.cache_host_hash = 1;
  r.kill_at = 0.3;
  r.kill = &c1;
  run_job(NULL, &o, &r);
  cr_assert_eq(r.error, 0, "%s", r.message);
  expect_gen(o.output, 33554432, 26);
  cr_assert_null(c1);
  cr_assert_eq(r.src[1].state, RF_SOURCE_BANNED, "%s: %s",
               rf_source_state_name(r.src[1].state), r.src[1].why);
  cr_assert_gt(r.src[2].bytes, 33554432 / 2,
               "the other host took the stopped one's pieces: %llu",
               (unsigned long long)r.src[2].bytes);
  cr_assert_eq(r.src[0].bytes, 0, "the origin only answered one byte");
  free(ou);
  ts_stop(origin);
  ts_stop(c2);
}
