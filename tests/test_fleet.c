/*
 * The fleet tier's example cache host (examples/cache-host: nginx with the
 * slice module, proxy_cache and proxy_cache_lock, in Connected Cache form)
 * in front of an in-process origin, started through examples/cache-host/
 * start on a port the kernel picked and stopped by its pid.  Downloads go
 * through the library with the cache host as their only piece source
 * (cache_fallback_delay -1), so everything the origin sends is the probe or
 * a slice the cache host fetched; the origin's counters and the cache
 * host's logs (access.log per request, slices.log per slice) say what
 * happened.  Needs nginx (scripts/packages/rig.txt): without it every test
 * fails, saying so.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rangefetch/rangefetch.h"
#include "rangefetch/cachehost.h"
#include "support/faults.h"
#include "support/testserver.h"
#include "support/tmpdir.h"

#define PIECE (1u << 20) /* the pieces and the cache host's slices */
#define SIZE (16ull << 20)

static char dir[256];

/* The cache host a test started (teardown stops it, also after a failed
 * assertion). */
typedef struct cachehost {
  char dir[320];
  uint16_t port;
  pid_t pid;
} cachehost;

static cachehost ch;
static cachehost ch2; /* a second one, for a tier of two */

/* ------------------------------------------------------------- helpers */

/* examples/cache-host/NAME of this source tree (from this file's path,
 * absolute in a CMake build). */
static void example_path(char *out, size_t size, const char *name)
{
  const char *tail = "tests/test_fleet.c";
  size_t n = strlen(__FILE__), t = strlen(tail);

  cr_assert(n > t && __FILE__[0] == '/' && strcmp(__FILE__ + n - t, tail) == 0,
            "cannot locate the source tree from %s", __FILE__);
  snprintf(out, size, "%.*sexamples/cache-host/%s", (int)(n - t), __FILE__,
           name);
  cr_assert_eq(access(out, X_OK), 0, "%s: %s", out, strerror(errno));
}

static int nginx_found(void)
{
  const char *dirs[] = {"/usr/sbin", "/sbin", "/usr/local/sbin", NULL};
  const char *path = getenv("PATH");
  char buf[4096], cand[4200], *save = NULL, *d;
  int k;

  for (k = 0; dirs[k] != NULL; k++) {
    snprintf(cand, sizeof(cand), "%s/nginx", dirs[k]);
    if (access(cand, X_OK) == 0)
      return 1;
  }
  snprintf(buf, sizeof(buf), "%s", path != NULL ? path : "");
  for (d = strtok_r(buf, ":", &save); d != NULL;
       d = strtok_r(NULL, ":", &save)) {
    snprintf(cand, sizeof(cand), "%s/nginx", d);
    if (access(cand, X_OK) == 0)
      return 1;
  }
  return 0;
}

/* A TCP port on 127.0.0.1 the kernel says is free now. */
static uint16_t free_port(void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  uint16_t port;

  cr_assert_geq(fd, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* Whether pid runs the nginx started with the config in cdir. */
static int is_our_nginx(pid_t pid, const char *cdir)
{
  char path[64], buf[2048], want[400];
  FILE *f;
  size_t n, k;

  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  f = fopen(path, "r");
  if (f == NULL)
    return 0;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  for (k = 0; k < n; k++)
    if (buf[k] == '\0')
      buf[k] = ' ';
  buf[n] = '\0';
  snprintf(want, sizeof(want), "%s/nginx.conf", cdir);
  return strstr(buf, "nginx") != NULL && strstr(buf, want) != NULL;
}

/* Start a cache host in DIR/name with `extra` start options (the
 * allow-list...), on a free port; up to 3 ports are tried (another process
 * may take the port between free_port and nginx's bind). */
static void ch_start(const char *name, const char *extra)
{
  char start[600], cmd[2000], out[4096];
  unsigned attempt;

  cr_assert(nginx_found(),
            "nginx not found: the fleet tests run the example cache host "
            "(examples/cache-host), which needs nginx (apt-get install "
            "nginx; scripts/packages/rig.txt)");
  example_path(start, sizeof(start), "start");
  /* The cache host runs as nobody when the tests run as root: it must be
   * able to reach its directory. */
  cr_assert_eq(chmod(dir, 0755), 0);
  snprintf(ch.dir, sizeof(ch.dir), "%s/%s", dir, name);
  for (attempt = 0; attempt < 3; attempt++) {
    FILE *p;
    size_t n;
    int status;
    const char *pp;

    ch.port = free_port();
    snprintf(cmd, sizeof(cmd), "'%s' '%s' --listen 127.0.0.1:%u %s 2>&1", start,
             ch.dir, (unsigned)ch.port, extra);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    status = pclose(p);
    if (status == 0 && (pp = strstr(out, "(pid ")) != NULL) {
      ch.pid = (pid_t)atoi(pp + 5);
      cr_assert_gt(ch.pid, 1, "start said: %s", out);
      cr_assert(is_our_nginx(ch.pid, ch.dir), "pid %d is not our nginx",
                (int)ch.pid);
      return;
    }
    if (strstr(out, "Address already in use") == NULL)
      break;
  }
  cr_assert_fail("examples/cache-host/start failed: %s", out);
}

/* Stop the cache host by its pid: examples/cache-host/stop (which signals
 * the pid in its pid file, the one start printed), then, should it still
 * run, KILL. */
static void ch_stop(void)
{
  char stop[600], cmd[1000];
  int k;

  if (ch.pid <= 1)
    return;
  example_path(stop, sizeof(stop), "stop");
  snprintf(cmd, sizeof(cmd), "'%s' '%s'", stop, ch.dir);
  if (system(cmd) != 0)
    fprintf(stderr, "fleet: %s failed\n", cmd);
  for (k = 0; k < 100 && is_our_nginx(ch.pid, ch.dir); k++)
    usleep(20000);
  if (is_our_nginx(ch.pid, ch.dir)) {
    fprintf(stderr, "fleet: nginx %d still runs: KILL\n", (int)ch.pid);
    kill(ch.pid, SIGKILL);
  }
  ch.pid = 0;
}

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  memset(&ch, 0, sizeof(ch));
  memset(&ch2, 0, sizeof(ch2));
  tmpdir_make(dir, sizeof(dir), "fleet");
}

static void teardown(void)
{
  ch_stop();
  if (ch2.pid > 1) { /* ch_stop works on ch: stop the second one too */
    ch = ch2;
    ch_stop();
    ch2.pid = 0;
  }
  tmpdir_remove(dir);
}

TestSuite(fleet, .init = setup, .fini = teardown, .timeout = 300);

/* The whole of a (small) file, NUL-terminated; "" when absent. */
static char *slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;

  if (f == NULL)
    return strdup("");
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  cr_assert_geq(n, 0);
  rewind(f);
  buf = malloc((size_t)n + 1);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static unsigned count_lines(const char *text)
{
  unsigned n = 0;

  for (; *text != '\0'; text++)
    n += *text == '\n';
  return n;
}

static void log_path(char *out, size_t size, const char *name)
{
  snprintf(out, size, "%s/logs/%s", ch.dir, name);
}

/* Wait until access.log has at least `lines` lines and neither log has
 * grown for 0.6 s (up to 8 s): nginx writes a request's lines when it
 * ends, just after its last byte went out or, for a request waiting on
 * proxy_cache_lock whose client left (an endgame duplicate cut short), at
 * its next look at the lock (every 0.5 s). */
static void wait_logs(unsigned lines)
{
  char a[400], s[400];
  long last = -1;
  int k, quiet = 0;

  log_path(a, sizeof(a), "access.log");
  log_path(s, sizeof(s), "slices.log");
  for (k = 0; k < 160 && quiet < 12; k++) {
    struct stat sa, ss;
    char *t = slurp(a);
    unsigned n = count_lines(t);
    long now = (stat(a, &sa) == 0 ? (long)sa.st_size : 0) +
               (stat(s, &ss) == 0 ? (long)ss.st_size : 0);

    free(t);
    quiet = n >= lines && now == last ? quiet + 1 : 0;
    last = now;
    usleep(50000);
  }
}

/* One line of slices.log. */
typedef struct slice_line {
  uint64_t first, last; /* the slice's bytes (its Content-Range) */
  char cache[16];       /* $upstream_cache_status */
  int upstream;         /* 1: went to the origin (an upstream status) */
} slice_line;

/* Parse slices.log from byte `from` on into out (up to max lines);
 * returns the number of lines.  Fails the test on a malformed line. */
static unsigned read_slices(size_t from, slice_line *out, unsigned max)
{
  char path[400];
  char *text, *line, *save = NULL;
  unsigned n = 0;

  log_path(path, sizeof(path), "slices.log");
  text = slurp(path);
  cr_assert_leq(from, strlen(text));
  for (line = strtok_r(text + from, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    const char *sl = strstr(line, " slice=\"bytes ");
    const char *ca = strstr(line, " cache=");
    const char *us = strstr(line, " upstream_status=");
    unsigned long long a, b;

    cr_assert(sl != NULL && ca != NULL && us != NULL,
              "slices.log line without slice, cache or upstream_status: %s",
              line);
    cr_assert_eq(sscanf(sl, " slice=\"bytes %llu-%llu/", &a, &b), 2, "%s",
                 line);
    cr_assert_lt(n, max, "more than %u lines in slices.log", max);
    out[n].first = a;
    out[n].last = b;
    cr_assert_eq(sscanf(ca, " cache=%15s", out[n].cache), 1, "%s", line);
    out[n].upstream = us[strlen(" upstream_status=")] != '-';
    n++;
  }
  free(text);
  return n;
}

static size_t file_size(const char *name)
{
  char path[400];
  struct stat sb;

  log_path(path, sizeof(path), name);
  return stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
}

static unsigned count_lines_of(const char *name)
{
  char path[400], *t;
  unsigned n;

  log_path(path, sizeof(path), name);
  t = slurp(path);
  n = count_lines(t);
  free(t);
  return n;
}

/* How many of lines[0..n) went upstream for the slice starting at first. */
static unsigned fetches_of(const slice_line *lines, unsigned n, uint64_t first)
{
  unsigned k, c = 0;

  for (k = 0; k < n; k++)
    c += lines[k].upstream && lines[k].first == first;
  return c;
}

/* ------------------------------------------------------- the downloads */

typedef struct run {
  int done;
  int error;
  char message[600];
  uint64_t from_cache_host;
  unsigned ch_requests;
} run;

static void on_done(rf_job *job, const rf_result *res, void *ud)
{
  run *r = ud;
  unsigned k;

  (void)job;
  r->done++;
  r->error = res->error;
  snprintf(r->message, sizeof(r->message), "%s", res->message);
  r->from_cache_host = res->bytes_from[RF_SOURCE_CACHE_HOST];
  for (k = 0; k < res->nsources; k++)
    if (res->sources[k].kind == RF_SOURCE_CACHE_HOST)
      r->ch_requests += res->sources[k].requests;
}

/* Job options: url to DIR/name, pieces of PIECE, the cache host the only
 * piece source (never the origin), r for the result. */
static void job_opts(rf_job_options *o, rf_source_options *s, char *host,
                     size_t hsize, const char *url, const char *name, run *r,
                     char *out, size_t osize)
{
  snprintf(host, hsize, "127.0.0.1:%u", (unsigned)ch.port);
  rf_source_options_init(s);
  s->kind = RF_SOURCE_CACHE_HOST;
  s->url = host;
  snprintf(out, osize, "%s/%s", dir, name);
  rf_job_options_init(o);
  o->url = url;
  o->output = out;
  o->connections = 4;
  o->piece_size = PIECE;
  o->sources = s;
  o->nsources = 1;
  o->cache_fallback_delay = -1;
  o->retry_base_ms = 50;
  o->retry_max_ms = 400;
  o->on_done = on_done;
  o->user_data = r;
}

static void expect_gen(const char *path, uint64_t size, uint64_t seed)
{
  struct stat sb;

  cr_assert_eq(stat(path, &sb), 0, "%s missing", path);
  cr_assert_eq((uint64_t)sb.st_size, size, "size %lld, want %llu",
               (long long)sb.st_size, (unsigned long long)size);
  cr_assert(ts_file_matches_gen(path, size, seed), "%s: content differs", path);
}

/* One download of url through the cache host to DIR/name, to its end. */
static void download(const char *url, const char *name, run *r)
{
  char host[64], out[400];
  rf_source_options s;
  rf_job_options o;
  rf_engine *e = NULL;
  int rc;

  memset(r, 0, sizeof(*r));
  job_opts(&o, &s, host, sizeof(host), url, name, r, out, sizeof(out));
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  rc = rf_job_add(NULL, e, &o);
  cr_assert_eq(rc, 0, "rf_job_add: %s: %s", rf_strerror(rc),
               rf_engine_last_error(e));
  cr_assert_eq(rf_engine_run(e), 0);
  rf_engine_free(e);
  cr_assert_eq(r->done, 1);
  cr_assert_eq(r->error, 0, "%s", r->message);
}

/* "--allow 127.0.0.1=127.0.0.1:PORT [more]": the origin host rangefetch
 * names in cacheHostOrigin, served from the in-process origin. */
static const char *allow_origin(const ts_server *origin, const char *more)
{
  static char arg[256];

  snprintf(arg, sizeof(arg), "--allow 127.0.0.1=127.0.0.1:%u %s",
           (unsigned)ts_port(origin), more);
  return arg;
}

#define MAXLINES 1024

Test(fleet, second_download_is_served_from_the_cache)
{
  ts_server *origin = ts_start(NULL);
  char *url = ts_url(origin, "/gen/16777216?seed=21");
  static slice_line lines[MAXLINES];
  char out[400], apath[400], *alog, *line, *save = NULL;
  uint64_t b, q, d1, d2, q2, covered = 0, sent_bytes = 0;
  unsigned n, n2, k, before;
  size_t off, aoff;
  run r1, r2;

  cr_assert_not_null(origin);
  ch_start("ch", allow_origin(origin, ""));

  /* First: the cache host fetches every slice it serves from the origin,
   * once. */
  b = ts_body_bytes(origin);
  download(url, "first.bin", &r1);
  snprintf(out, sizeof(out), "%s/first.bin", dir);
  expect_gen(out, SIZE, 21);
  wait_logs(1);
  d1 = ts_body_bytes(origin) - b;
  n = read_slices(0, lines, MAXLINES);
  cr_assert_geq(r1.from_cache_host, SIZE - PIECE, "from the cache host: %llu",
                (unsigned long long)r1.from_cache_host);
  cr_assert_geq(n, SIZE / PIECE - 1, "%u slices served", n);
  for (k = 0; k < n; k++)
    cr_assert_leq(fetches_of(lines, n, lines[k].first), 1,
                  "slice at %llu fetched from the origin %u times",
                  (unsigned long long)lines[k].first,
                  fetches_of(lines, n, lines[k].first));
  /* The origin sent the file once, and the probe (a piece, or 1 byte). */
  cr_assert(d1 >= SIZE - PIECE && d1 <= SIZE + PIECE,
            "the origin sent %llu bytes for a file of %llu",
            (unsigned long long)d1, (unsigned long long)SIZE);

  /* Second: every slice is a HIT; the origin answers the probe only. */
  off = file_size("slices.log");
  aoff = file_size("access.log");
  before = count_lines_of("access.log");
  b = ts_body_bytes(origin);
  q = ts_requests(origin);
  download(url, "second.bin", &r2);
  snprintf(out, sizeof(out), "%s/second.bin", dir);
  expect_gen(out, SIZE, 21);
  wait_logs(before + 1);
  d2 = ts_body_bytes(origin) - b;
  q2 = ts_requests(origin) - q;
  cr_assert_geq(r2.from_cache_host, SIZE - PIECE, "from the cache host: %llu",
                (unsigned long long)r2.from_cache_host);
  n2 = read_slices(off, lines, MAXLINES);
  cr_assert_geq(n2, SIZE / PIECE - 1, "%u slices served", n2);
  for (k = 0; k < n2; k++) {
    cr_assert_str_eq(lines[k].cache, "HIT",
                     "slice %llu-%llu of the second download: %s",
                     (unsigned long long)lines[k].first,
                     (unsigned long long)lines[k].last, lines[k].cache);
    cr_assert_eq(lines[k].upstream, 0);
    covered += lines[k].last - lines[k].first + 1;
  }
  cr_assert_geq(covered, r2.from_cache_host);
  cr_assert_leq(d2, PIECE, "the origin sent %llu bytes (the probe only)",
                (unsigned long long)d2);
  cr_assert_leq(q2, 1, "the origin got %llu requests (the probe only)",
                (unsigned long long)q2);
  /* access.log, the benchmark's interface: one line per request. */
  log_path(apath, sizeof(apath), "access.log");
  alog = slurp(apath);
  /* (Not more lines than requests: nginx may log an endgame duplicate
   * of the first download that rangefetch cut short only now.) */
  cr_assert_geq(count_lines(alog + aoff), 1);
  for (line = strtok_r(alog + aoff, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    const char *sent = strstr(line, " HTTP/1.1\" 206 ");

    sent_bytes += sent != NULL ? strtoull(sent + 15, NULL, 10) : 0;
    cr_assert(strncmp(line, "127.0.0.1 [", 11) == 0 &&
                  strstr(line, " \"GET /gen/16777216?seed=21&cacheHostOrigin="
                               "127.0.0.1 HTTP/1.1\" 206 ") != NULL &&
                  strstr(line, " range=\"bytes=") != NULL &&
                  strstr(line, "\" cache=HIT upstream_status=- "
                               "upstream_bytes=- origin=127.0.0.1") != NULL,
              "access.log: %s", line);
  }
  cr_assert_geq(sent_bytes, r2.from_cache_host);
  fprintf(stderr,
          "fleet: a %llu-byte file twice: the origin sent %llu bytes, then "
          "%llu bytes in %llu requests; the second's %u slices all HIT\n",
          (unsigned long long)SIZE, (unsigned long long)d1,
          (unsigned long long)d2, (unsigned long long)q2, n2);
  free(alog);
  free(url);
  ch_stop();
  ts_stop(origin);
}

#define NJOBS 8

Test(fleet, eight_concurrent_downloads_fetch_each_slice_once)
{
  /* Each origin connection sends at 8 MB/s: a slice takes 0.13 s, so the
   * eight downloads ask for the same slices while they are being fetched. */
  ts_server *origin = ts_start(NULL);
  char *url = ts_url(origin, "/gen/16777216?seed=22&rate=8000000");
  static slice_line lines[MAXLINES];
  char host[NJOBS][64], out[NJOBS][400], name[32];
  rf_source_options s[NJOBS];
  rf_job_options o[NJOBS];
  run r[NJOBS];
  rf_engine *e = NULL;
  unsigned n, k, fetched = 0, reqs = 0;
  uint64_t b, q, d, dq;
  int rc;

  cr_assert_not_null(origin);
  ch_start("ch", allow_origin(origin, ""));
  b = ts_body_bytes(origin);
  q = ts_requests(origin);
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  for (k = 0; k < NJOBS; k++) {
    memset(&r[k], 0, sizeof(r[k]));
    snprintf(name, sizeof(name), "c%u.bin", k);
    job_opts(&o[k], &s[k], host[k], sizeof(host[k]), url, name, &r[k], out[k],
             sizeof(out[k]));
    rc = rf_job_add(NULL, e, &o[k]);
    cr_assert_eq(rc, 0, "rf_job_add: %s: %s", rf_strerror(rc),
                 rf_engine_last_error(e));
  }
  cr_assert_eq(rf_engine_run(e), 0);
  rf_engine_free(e);
  for (k = 0; k < NJOBS; k++) {
    cr_assert_eq(r[k].done, 1);
    cr_assert_eq(r[k].error, 0, "job %u: %s", k, r[k].message);
    expect_gen(out[k], SIZE, 22);
    cr_assert_geq(r[k].from_cache_host, SIZE - PIECE,
                  "job %u from the cache host: %llu", k,
                  (unsigned long long)r[k].from_cache_host);
    reqs += r[k].ch_requests;
  }
  wait_logs(1);
  d = ts_body_bytes(origin) - b;
  dq = ts_requests(origin) - q;
  n = read_slices(0, lines, MAXLINES);
  cr_assert_geq(n, NJOBS * (SIZE / PIECE - 1), "%u slices served", n);
  for (k = 0; k < n; k++) {
    unsigned f = fetches_of(lines, n, lines[k].first);

    cr_assert_leq(f, 1,
                  "slice at %llu fetched from the origin %u times "
                  "(proxy_cache_lock)",
                  (unsigned long long)lines[k].first, f);
    fetched += lines[k].upstream;
  }
  cr_assert_leq(fetched, SIZE / PIECE);
  cr_assert_geq(fetched, SIZE / PIECE - 1);
  /* The origin: each slice once, and each job's probe (a piece, or 1
   * byte). */
  cr_assert_leq(d, SIZE + NJOBS * PIECE,
                "the origin sent %llu bytes for %u downloads of %llu",
                (unsigned long long)d, NJOBS, (unsigned long long)SIZE);
  cr_assert_leq(dq, SIZE / PIECE + NJOBS, "the origin got %llu requests",
                (unsigned long long)dq);
  fprintf(stderr,
          "fleet: %u downloads of %llu bytes: %u requests, %u slices served, "
          "%u fetched upstream; the origin sent %llu bytes in %llu "
          "requests\n",
          NJOBS, (unsigned long long)SIZE, reqs, n, fetched,
          (unsigned long long)d, (unsigned long long)dq);
  free(url);
  ch_stop();
  ts_stop(origin);
}

/* ------------------------------------------------------ raw HTTP */

/* Send req to 127.0.0.1:port and read the answer to its end (or 5 s
 * without a byte); returns its status code (-1: none).  The body goes to
 * body (up to size bytes; NULL: dropped), its length to *blen. */
static int raw_request(uint16_t port, const char *req, char *body, size_t size,
                       size_t *blen)
{
  size_t cap = size + 16384, have = 0, len = strlen(req), sent = 0;
  char *buf = malloc(cap + 1);
  struct sockaddr_in a;
  struct timeval tv = {5, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
  const char *p;

  cr_assert_not_null(buf);
  cr_assert_geq(fd, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s",
               strerror(errno));
  while (sent < len) {
    ssize_t w = send(fd, req + sent, len - sent, MSG_NOSIGNAL);

    cr_assert_gt(w, 0, "send: %s", strerror(errno));
    sent += (size_t)w;
  }
  while (have < cap) {
    ssize_t got = recv(fd, buf + have, cap - have, 0);

    if (got <= 0)
      break;
    have += (size_t)got;
  }
  close(fd);
  buf[have] = '\0';
  if (sscanf(buf, "HTTP/1.%*1[01] %d ", &status) != 1)
    status = -1;
  p = strstr(buf, "\r\n\r\n");
  p = p != NULL ? p + 4 : buf + have;
  if (blen != NULL)
    *blen = (size_t)(buf + have - p);
  if (body != NULL)
    memcpy(body, p,
           (size_t)(buf + have - p) < size ? (size_t)(buf + have - p) : size);
  free(buf);
  return status;
}

/* text with every "@O@" replaced by port. */
static void with_port(char *out, size_t size, const char *text, unsigned port)
{
  size_t n = 0;

  while (*text != '\0' && n + 8 < size) {
    if (strncmp(text, "@O@", 3) == 0) {
      n += (size_t)snprintf(out + n, size - n, "%u", port);
      text += 3;
    } else {
      out[n++] = *text++;
    }
  }
  cr_assert_eq(*text, '\0', "request too long");
  out[n] = '\0';
}

Test(fleet, refuses_what_is_not_an_allow_listed_origin)
{
  /* @O@: the origin's port.  Every request asks for its answer to be the
   * last on the connection. */
  static const struct {
    const char *what;
    const char *req;
  } table[] = {
      {"an origin not allow-listed",
       "GET /gen/1048576?seed=23&cacheHostOrigin=evil.example HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\n"},
      {"no cacheHostOrigin, Host names the origin",
       "GET /gen/1048576?seed=23 HTTP/1.1\r\nHost: 127.0.0.1:@O@\r\n"},
      {"no query at all", "GET / HTTP/1.1\r\nHost: 127.0.0.1:@O@\r\n"},
      {"an empty cacheHostOrigin",
       "GET /gen/1048576?seed=23&cacheHostOrigin= HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\n"},
      {"cacheHostOrigin without a value",
       "GET /gen/1048576?seed=23&cacheHostOrigin HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\n"},
      {"the origin with a port",
       "GET /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1:@O@ HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\n"},
      {"a percent-encoded origin",
       "GET /gen/1048576?seed=23&cacheHostOrigin=127%2E0%2E0%2E1 HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\n"},
      {"a value that encodes a second parameter",
       "GET /gen/1048576?seed=23&cacheHostOrigin=evil.example"
       "%26cacheHostOrigin%3D127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
      {"a listed origin with a NUL",
       "GET /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1%00 HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\n"},
      {"two cacheHostOrigin",
       "GET /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1"
       "&cacheHostOrigin=evil.example HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
      {"two, in other cases",
       "GET /gen/1048576?seed=23&CacheHostOrigin=127.0.0.1"
       "&CACHEHOSTORIGIN=evil.example HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
      {"two, one with a percent-encoded name",
       "GET /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1"
       "&cacheHost%4Frigin=evil.example HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
      {"two, the second after ';'",
       "GET /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1"
       ";cacheHostOrigin=evil.example HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
      {"only a percent-encoded name",
       "GET /gen/1048576?seed=23&%63acheHostOrigin=127.0.0.1 HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\n"},
      {"absolute-form naming the origin",
       "GET http://127.0.0.1:@O@/gen/1048576?seed=23"
       "&cacheHostOrigin=127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1:@O@\r\n"},
      {"absolute-form elsewhere",
       "GET http://evil.example/x?cacheHostOrigin=127.0.0.1 HTTP/1.1\r\n"
       "Host: evil.example\r\n"},
      {"CONNECT to the origin",
       "CONNECT 127.0.0.1:@O@ HTTP/1.1\r\nHost: 127.0.0.1:@O@\r\n"},
      {"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n"},
      {"POST", "POST /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1 "
               "HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"},
      {"a lowercase method",
       "get /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1 HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\n"},
      {"Host names the listed origin, the parameter another",
       "GET /gen/1048576?seed=23&cacheHostOrigin=evil.example HTTP/1.1\r\n"
       "Host: 127.0.0.1:@O@\r\n"},
      {"two Host headers",
       "GET /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1 HTTP/1.1\r\n"
       "Host: 127.0.0.1\r\nHost: evil.example\r\n"},
      {"HTTP/1.1 without Host",
       "GET /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1 HTTP/1.1\r\n"},
      {"HTTP/1.0, not allow-listed",
       "GET /gen/1048576?seed=23&cacheHostOrigin=evil.example HTTP/1.0\r\n"},
  };
  ts_server *origin = ts_start(NULL);
  char req[1024], full[1100], body[256], want[100];
  size_t blen;
  uint64_t q;
  unsigned k;
  int st;

  cr_assert_not_null(origin);
  ch_start("ch", allow_origin(origin, ""));
  for (k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
    with_port(req, sizeof(req), table[k].req, ts_port(origin));
    snprintf(full, sizeof(full), "%sConnection: close\r\n\r\n", req);
    q = ts_requests(origin);
    st = raw_request(ch.port, full, NULL, 0, NULL);
    cr_assert_eq(st, 403, "%s: status %d for\n%s", table[k].what, st, full);
    cr_assert_eq(ts_requests(origin), q, "%s: the origin was asked",
                 table[k].what);
  }
  /* The control: the listed origin is served, whatever the Host header
   * says (Host never routes), and the origin sees it. */
  q = ts_requests(origin);
  st = raw_request(ch.port,
                   "GET /gen/1048576?seed=23&cacheHostOrigin=127.0.0.1 "
                   "HTTP/1.1\r\nHost: evil.example\r\nRange: bytes=0-99\r\n"
                   "Connection: close\r\n\r\n",
                   body, sizeof(body), &blen);
  cr_assert_eq(st, 206, "status %d", st);
  cr_assert_eq(blen, 100);
  cr_assert_eq(ts_requests(origin), q + 1);
  faults_gen_fill(want, 0, 100, 23);
  cr_assert_eq(memcmp(body, want, 100), 0, "the body differs");
  ch_stop();
  ts_stop(origin);
}

Test(fleet, start_refuses_bad_arguments)
{
  static const struct {
    const char *args;
    const char *says;
  } table[] = {
      {"--listen 127.0.0.1:1", "--allow HOST=UPSTREAM is required"},
      {"--allow a=127.0.0.1:80", "--listen ADDR:PORT is required"},
      {"--listen 127.0.0.1 --allow a=127.0.0.1:80", "want ADDR:PORT"},
      {"--listen 127.0.0.1:70000 --allow a=127.0.0.1:80", "want ADDR:PORT"},
      {"--listen 127.0.0.1:1 --allow evil", "'evil': want HOST=UPSTREAM"},
      {"--listen 127.0.0.1:1 --allow a=127.0.0.1:0", "is not HOST:PORT"},
      {"--listen 127.0.0.1:1 --allow 'a=1.2.3.4:80;evil'", "is not HOST:PORT"},
      {"--listen 127.0.0.1:1 --allow 'a\";b=1.2.3.4:80'", "is not a host name"},
      {"--listen 127.0.0.1:1 --allow a=1.2.3.4:80,A=1.2.3.5:80",
       "'a' is listed twice"},
      {"--listen 127.0.0.1:1 --allow a=1.2.3.4:80 --slice 1Q", "--slice '1Q'"},
      {"--listen 127.0.0.1:1 --allow a=1.2.3.4:80 --slice 1K", "at least 4K"},
      {"--listen 127.0.0.1:1 --allow a=1.2.3.4:80 --cache-size 512K",
       "smaller than a slice"},
      {"--listen 127.0.0.1:1 --allow a=1.2.3.4:80 --upstream-proxy nowhere",
       "--upstream-proxy 'nowhere': want HOST:PORT"},
      {"--listen 127.0.0.1:1 --allow a=1.2.3.4:80 --workers 0",
       "--workers '0'"},
      {"--listen 127.0.0.1:1 --allow a=1.2.3.4:80 --bogus",
       "unknown argument '--bogus'"},
      {"--listen 127.0.0.1:1 --allow", "--allow needs a value"},
  };
  char start[600], cmd[1500], out[2048], cdir[400], pidf[500];
  unsigned k;

  example_path(start, sizeof(start), "start");
  for (k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
    FILE *p;
    size_t n;
    int status;

    snprintf(cdir, sizeof(cdir), "%s/bad%u", dir, k);
    snprintf(cmd, sizeof(cmd), "'%s' '%s' %s 2>&1", start, cdir, table[k].args);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
              "%s: status %d: %s", table[k].args, status, out);
    cr_assert(strstr(out, "cache-host start: error: ") != NULL &&
                  strstr(out, table[k].says) != NULL,
              "%s: says\n%s\nnot '%s'", table[k].args, out, table[k].says);
    snprintf(pidf, sizeof(pidf), "%s/run/nginx.pid", cdir);
    cr_assert_neq(access(pidf, F_OK), 0, "%s: nginx started", table[k].args);
  }
}

/* ------------------------------------------- through an upstream proxy */

/* A minimal forward proxy for plain HTTP: one connection at a time, one
 * request per connection.  It records each request line and Range and
 * Host header, passes absolute-form GETs on to the origin in origin-form
 * (with "Connection: close") and relays the answer; anything else gets
 * 400. */
#define MP_MAX 32
typedef struct miniproxy {
  int lfd;
  uint16_t port, origin_port;
  atomic_int stop;
  pthread_t thread;
  pthread_mutex_t mu;
  unsigned n;
  char line[MP_MAX][300];
  char range[MP_MAX][80];
  char host[MP_MAX][80];
} miniproxy;

/* The value of header name (with its ": ") in head, into out. */
static void mp_header(const char *head, const char *name, char *out,
                      size_t size)
{
  const char *p = strstr(head, name);
  size_t n = 0;

  out[0] = '\0';
  if (p == NULL)
    return;
  p += strlen(name);
  while (p[n] != '\r' && p[n] != '\0' && n + 1 < size)
    n++;
  memcpy(out, p, n);
  out[n] = '\0';
}

static void mp_serve(miniproxy *mp, int cfd)
{
  static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                            "Connection: close\r\n\r\n";
  char head[8192], fwd[8400], relay[65536];
  struct timeval tv = {5, 0};
  struct sockaddr_in a;
  size_t have = 0;
  char *end, *eol, *path;
  int ofd = -1;
  unsigned slot;

  setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (have < sizeof(head) - 1) {
    ssize_t got = recv(cfd, head + have, sizeof(head) - 1 - have, 0);

    if (got <= 0)
      return;
    have += (size_t)got;
    head[have] = '\0';
    if (strstr(head, "\r\n\r\n") != NULL)
      break;
  }
  end = strstr(head, "\r\n\r\n");
  eol = strstr(head, "\r\n");
  if (end == NULL || eol == NULL)
    return;
  pthread_mutex_lock(&mp->mu);
  slot = mp->n < MP_MAX ? mp->n++ : MP_MAX - 1;
  snprintf(mp->line[slot], sizeof(mp->line[slot]), "%.*s", (int)(eol - head),
           head);
  mp_header(head, "\r\nRange: ", mp->range[slot], sizeof(mp->range[slot]));
  mp_header(head, "\r\nHost: ", mp->host[slot], sizeof(mp->host[slot]));
  pthread_mutex_unlock(&mp->mu);
  /* "GET http://HOST:PORT/path HTTP/1.1" -> "GET /path HTTP/1.1". */
  if (strncmp(head, "GET http://", 11) != 0 ||
      (path = strchr(head + 11, '/')) == NULL || path > eol) {
    send(cfd, bad, sizeof(bad) - 1, MSG_NOSIGNAL);
    return;
  }
  snprintf(fwd, sizeof(fwd), "GET %.*s\r\nConnection: close%.*s",
           (int)(eol - path), path, (int)(end + 4 - eol), eol);
  ofd = socket(AF_INET, SOCK_STREAM, 0);
  if (ofd < 0)
    return;
  setsockopt(ofd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(mp->origin_port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(ofd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      send(ofd, fwd, strlen(fwd), MSG_NOSIGNAL) == (ssize_t)strlen(fwd)) {
    for (;;) {
      ssize_t got = recv(ofd, relay, sizeof(relay), 0);

      if (got <= 0 || send(cfd, relay, (size_t)got, MSG_NOSIGNAL) != got)
        break;
    }
  }
  close(ofd);
}

static void *mp_main(void *arg)
{
  miniproxy *mp = arg;

  while (!atomic_load(&mp->stop)) {
    struct pollfd pfd = {mp->lfd, POLLIN, 0};
    int cfd;

    if (poll(&pfd, 1, 100) <= 0)
      continue;
    cfd = accept(mp->lfd, NULL, NULL);
    if (cfd < 0)
      continue;
    mp_serve(mp, cfd);
    close(cfd);
  }
  return NULL;
}

static void mp_start(miniproxy *mp, uint16_t origin_port)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);

  memset(mp, 0, sizeof(*mp));
  pthread_mutex_init(&mp->mu, NULL);
  mp->origin_port = origin_port;
  mp->lfd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(mp->lfd, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(mp->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(mp->lfd, 16), 0);
  cr_assert_eq(getsockname(mp->lfd, (struct sockaddr *)&a, &len), 0);
  mp->port = ntohs(a.sin_port);
  cr_assert_eq(pthread_create(&mp->thread, NULL, mp_main, mp), 0);
}

static void mp_stop(miniproxy *mp)
{
  atomic_store(&mp->stop, 1);
  pthread_join(mp->thread, NULL);
  close(mp->lfd);
  pthread_mutex_destroy(&mp->mu);
}

Test(fleet, reaches_the_origin_through_an_upstream_proxy)
{
  static char body[2 << 20], want[2 << 20];
  ts_server *origin = ts_start(NULL);
  char more[64], req[512], expect_line[200], expect_range[80];
  static miniproxy mp;
  size_t blen;
  unsigned k, n;
  int st;

  cr_assert_not_null(origin);
  mp_start(&mp, ts_port(origin));
  snprintf(more, sizeof(more), "--upstream-proxy 127.0.0.1:%u",
           (unsigned)mp.port);
  ch_start("ch", allow_origin(origin, more));
  /* Bytes 1000000-2500000: slices 0, 1 and 2 (1 MiB each). */
  snprintf(req, sizeof(req),
           "GET /gen/3145728?seed=24&x=%%41&cacheHostOrigin=127.0.0.1 "
           "HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nRange: bytes=1000000-2500000\r\n"
           "Connection: close\r\n\r\n",
           (unsigned)ch.port);
  faults_gen_fill(want, 1000000, 1500001, 24);
  for (k = 0; k < 2; k++) {
    memset(body, 0, sizeof(body));
    st = raw_request(ch.port, req, body, sizeof(body), &blen);
    cr_assert_eq(st, 206, "request %u: status %d", k, st);
    cr_assert_eq(blen, 1500001, "request %u: %zu bytes", k, blen);
    cr_assert_eq(memcmp(body, want, blen), 0, "request %u: content differs", k);
  }
  pthread_mutex_lock(&mp.mu);
  n = mp.n;
  pthread_mutex_unlock(&mp.mu);
  /* The proxy got each slice once, in absolute-form, without
   * cacheHostOrigin; the second request was served from the cache. */
  cr_assert_eq(n, 3, "the proxy got %u requests", n);
  snprintf(expect_line, sizeof(expect_line),
           "GET http://127.0.0.1:%u/gen/3145728?seed=24&x=%%41 HTTP/1.1",
           (unsigned)ts_port(origin));
  for (k = 0; k < n; k++) {
    cr_assert_str_eq(mp.line[k], expect_line);
    cr_assert_str_eq(mp.host[k], "127.0.0.1");
  }
  for (k = 0; k < 3; k++) {
    unsigned j, seen = 0;

    snprintf(expect_range, sizeof(expect_range), "bytes=%u-%u", k * PIECE,
             (k + 1) * PIECE - 1);
    for (j = 0; j < n; j++)
      seen += strcmp(mp.range[j], expect_range) == 0;
    cr_assert_eq(seen, 1, "%s asked %u times", expect_range, seen);
  }
  ch_stop();
  mp_stop(&mp);
  ts_stop(origin);
}

/* ------------------------------------------------ a tier of two hosts */

/* Distinct slices (by first byte) in the slices.log of cache host c. */
static unsigned distinct_slices(const cachehost *c, uint64_t *firsts,
                                unsigned max)
{
  cachehost keep = ch;
  slice_line *lines = calloc(4 * max, sizeof(*lines));
  unsigned n, k, j, d = 0;

  cr_assert_not_null(lines);
  ch = *c;
  n = read_slices(0, lines, 4 * max);
  ch = keep;
  for (k = 0; k < n; k++) {
    for (j = 0; j < d && firsts[j] != lines[k].first; j++)
      ;
    if (j == d && d < max)
      firsts[d++] = lines[k].first;
  }
  free(lines);
  return d;
}

typedef struct tier_run {
  run r;
  uint64_t bytes[3]; /* per source: origin, host 1, host 2 */
  rf_source_state state[3];
  double stop_at;    /* share of the content at which host 1 stops */
  int stopped;
} tier_run;

static void tier_done(rf_job *job, const rf_result *res, void *ud)
{
  tier_run *t = ud;
  unsigned k;

  on_done(job, res, &t->r);
  for (k = 0; k < res->nsources && k < 3; k++) {
    t->bytes[k] = res->sources[k].bytes;
    t->state[k] = res->sources[k].state;
  }
}

static void tier_progress(rf_job *job, const rf_progress *p, void *ud)
{
  tier_run *t = ud;

  (void)job;
  if (t->stop_at <= 0 || t->stopped || p->total == 0 ||
      p->total == RF_SIZE_UNKNOWN ||
      (double)p->received < t->stop_at * (double)p->total)
    return;
  ch_stop(); /* host 1 is ch: by its pid, through examples' stop */
  t->stopped = 1;
}

/* A download of url through the two cache hosts, pieces placed by
 * rendezvous hashing, never from the origin. */
static void tier_download(const char *url, const char *name, uint64_t piece,
                          tier_run *t)
{
  char h1[64], h2[64], out[400];
  rf_source_options s[2];
  rf_job_options o;
  rf_engine *e = NULL;
  int rc;

  snprintf(h1, sizeof(h1), "127.0.0.1:%u", (unsigned)ch.port);
  snprintf(h2, sizeof(h2), "127.0.0.1:%u", (unsigned)ch2.port);
  rf_source_options_init(&s[0]);
  s[0].kind = RF_SOURCE_CACHE_HOST;
  s[0].url = h1;
  s[1] = s[0];
  s[1].url = h2;
  snprintf(out, sizeof(out), "%s/%s", dir, name);
  rf_job_options_init(&o);
  o.url = url;
  o.output = out;
  o.connections = 8;
  o.piece_size = piece;
  o.cache_slice = piece;
  o.cache_host_hash = 1;
  o.sources = s;
  o.nsources = 2;
  o.cache_fallback_delay = -1;
  o.retry_base_ms = 50;
  o.retry_max_ms = 400;
  o.progress_interval_ms = 50;
  o.on_done = tier_done;
  o.on_progress = tier_progress;
  o.user_data = t;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  rc = rf_job_add(NULL, e, &o);
  cr_assert_eq(rc, 0, "rf_job_add: %s: %s", rf_strerror(rc),
               rf_engine_last_error(e));
  cr_assert_eq(rf_engine_run(e), 0);
  rf_engine_free(e);
  cr_assert_eq(t->r.done, 1);
}

/* Start the tier: ch and ch2, both with slices of `slice`. */
static void tier_start(const ts_server *origin, const char *slice)
{
  char more[64];
  cachehost first;

  snprintf(more, sizeof(more), "--slice %s", slice);
  ch_start("tier-a", allow_origin(origin, more));
  first = ch;
  ch_start("tier-b", allow_origin(origin, more));
  ch2 = ch;
  ch = first;
}

Test(fleet, two_cache_hosts_split_the_pieces_by_hashing)
{
  ts_server *origin = ts_start(NULL);
  const uint64_t size = 64ull << 20, piece = 64 << 10;
  const unsigned pieces = (unsigned)(size / piece);
  char *url = ts_url(origin, "/gen/67108864?seed=41");
  char h1[64], h2[64], out[400];
  const char *hosts[2] = { h1, h2 };
  unsigned want1 = 0, i, got1, got2;
  uint64_t *firsts = calloc(pieces, sizeof(*firsts));
  tier_run t;

  cr_assert(origin != NULL && firsts != NULL);
  tier_start(origin, "64k");
  snprintf(h1, sizeof(h1), "127.0.0.1:%u", (unsigned)ch.port);
  snprintf(h2, sizeof(h2), "127.0.0.1:%u", (unsigned)ch2.port);
  for (i = 0; i < pieces; i++)
    want1 += rf_cache_host_pick(url, i, hosts, 2, NULL) == 0;
  memset(&t, 0, sizeof(t));
  tier_download(url, "tier.bin", piece, &t);
  cr_assert_eq(t.r.error, 0, "%s", t.r.message);
  snprintf(out, sizeof(out), "%s/tier.bin", dir);
  expect_gen(out, size, 41);
  wait_logs(1);
  { cachehost keep = ch; ch = ch2; wait_logs(1); ch = keep; }
  got1 = distinct_slices(&ch, firsts, pieces);
  got2 = distinct_slices(&ch2, firsts, pieces);
  fprintf(stderr, "fleet: %u slices of 64 KiB: host 1 served %u (hashing "
                  "gave it %u), host 2 %u\n",
          pieces, got1, want1, got2);
  /* Every slice from the host hashing gave it, each once; about half. */
  cr_assert_eq(got1, want1, "host 1 served %u distinct slices, hashing "
                            "gave it %u", got1, want1);
  cr_assert_eq(got2, pieces - want1);
  cr_assert(got1 >= pieces / 2 - pieces / 20 && got1 <= pieces / 2 + pieces / 20,
            "host 1: %u of %u slices, not within 10%% of half", got1, pieces);
  cr_assert_eq(t.bytes[1], (uint64_t)want1 * piece);
  cr_assert_eq(t.bytes[0], 0, "nothing from the origin");
  free(firsts);
  free(url);
  ts_stop(origin);
}

Test(fleet, a_stopped_cache_host_hands_its_pieces_to_the_other)
{
  ts_server *origin = ts_start(NULL);
  const uint64_t size = 32ull << 20, piece = 1 << 20;
  /* The origin at 2 MB/s a connection, so the download lasts. */
  char *url = ts_url(origin, "/gen/33554432?seed=42&rate=2000000");
  char out[400];
  tier_run t;

  cr_assert_not_null(origin);
  tier_start(origin, "1m");
  memset(&t, 0, sizeof(t));
  t.stop_at = 0.3;
  tier_download(url, "tier-stop.bin", piece, &t);
  cr_assert(t.stopped, "host 1 was stopped mid-download");
  cr_assert_eq(t.r.error, 0, "%s", t.r.message);
  snprintf(out, sizeof(out), "%s/tier-stop.bin", dir);
  expect_gen(out, size, 42);
  cr_assert_eq(t.state[1], RF_SOURCE_BANNED, "host 1: %s",
               rf_source_state_name(t.state[1]));
  cr_assert_gt(t.bytes[2], size / 2, "host 2 took host 1's pieces: %llu",
               (unsigned long long)t.bytes[2]);
  cr_assert_eq(t.bytes[0], 0, "nothing from the origin");
  cr_assert_eq(t.bytes[1] + t.bytes[2], size);
  free(url);
  ts_stop(origin);
}
