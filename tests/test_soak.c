/*
 * Soak: one engine runs 2000 downloads one after another, then 200 at
 * once, against the in-process range server; open files, threads and
 * resident memory must come back to where they stood after a warm-up
 * (within 5 %, and a few descriptors of slack for the allocator's and
 * libcurl's caches).  Sockets are counted apart: libcurl keeps idle
 * connections for reuse, up to the engine's cache bound (4 x
 * RF_MAX_CONNECTIONS), and how many of them are open when a phase ends
 * depends on the order in which transfers finished; so they are held to
 * that bound while the engine runs, and every descriptor must be gone
 * once the engine is freed.  The server runs in a child process, so the
 * figures are the engine's alone.  The 200 SIGKILL-and-resume cycles are
 * tests/stress/kill-resume (resume/sigkill_at_random_moments).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "rangefetch/rangefetch.h"
#include "support/testserver.h"
#include "support/tmpdir.h"

/* The server runs in a child process: what is measured is the engine's
 * (the test server's own buffers would otherwise be counted). */
static pid_t server_pid = -1;
static uint16_t server_port;
static char dir[256];

static void setup(void)
{
  struct rlimit rl;
  int p[2];

  signal(SIGPIPE, SIG_IGN);
  /* 200 jobs at once. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
    rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  tmpdir_make(dir, sizeof(dir), "soak");
  cr_assert_eq(pipe(p), 0);
  server_pid = fork();
  cr_assert_neq(server_pid, -1);
  if (server_pid == 0) {
    ts_server *t;
    uint16_t port;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    t = ts_start(NULL);
    port = t != NULL ? ts_port(t) : 0;
    if (write(p[1], &port, sizeof(port)) != (ssize_t)sizeof(port))
      _exit(1);
    for (;;)
      pause();
  }
  close(p[1]);
  cr_assert_eq(read(p[0], &server_port, sizeof(server_port)),
               (ssize_t)sizeof(server_port));
  close(p[0]);
  cr_assert_neq(server_port, 0, "the test server did not start");
}

static void teardown(void)
{
  if (server_pid > 0) {
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
  }
  tmpdir_remove(dir);
}

TestSuite(soak, .init = setup, .fini = teardown, .timeout = 600);

typedef struct usage {
  unsigned fds;     /* every open descriptor but sockets */
  unsigned sockets;
  unsigned threads;
  unsigned long rss_kib;
} usage;

static usage measure(void)
{
  usage u = { 0, 0, 0, 0 };

  /* Freed memory that glibc keeps in its arenas for reuse is not held
   * by anyone: give it back before reading RSS, so what is left is what
   * the engine (or the server) still holds. */
  malloc_trim(0);
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  FILE *f;
  char line[256];

  while (d != NULL && (e = readdir(d)) != NULL) {
    char target[64];
    ssize_t n;

    if (e->d_name[0] == '.')
      continue;
    n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
    if (n > 0 && (size_t)n >= 7 && memcmp(target, "socket:", 7) == 0)
      u.sockets++;
    else
      u.fds++;
  }
  if (d != NULL)
    closedir(d);
  f = fopen("/proc/self/status", "r");
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    sscanf(line, "Threads: %u", &u.threads);
    sscanf(line, "VmRSS: %lu", &u.rss_kib);
  }
  if (f != NULL)
    fclose(f);
  return u;
}

typedef struct soak {
  rf_engine *engine;
  char *url;
  unsigned total;   /* jobs to run */
  unsigned started;
  unsigned finished;
  unsigned failed;
  unsigned at_once; /* jobs kept running together */
  unsigned conns;
  char first_error[300];
} soak;

static void start_one(soak *s);

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  soak *s = ud;

  (void)job;
  s->finished++;
  if (r->error != RF_OK) {
    if (s->failed++ == 0)
      snprintf(s->first_error, sizeof(s->first_error), "%s: %s",
               rf_err_name(r->error), r->message);
  } else if (r->path != NULL) {
    unlink(r->path);
  }
  if (s->started < s->total)
    start_one(s);
}

static void start_one(soak *s)
{
  rf_job_options o;
  char out[400];
  int rc;

  snprintf(out, sizeof(out), "%s/j%u.bin", dir, s->started % 1000u);
  rf_job_options_init(&o);
  o.url = s->url;
  o.output = out;
  o.overwrite = 1;
  o.no_resume = 1;
  o.connections = s->conns;
  o.piece_size = 16384;
  o.on_done = on_done;
  o.user_data = s;
  s->started++;
  rc = rf_job_add(NULL, s->engine, &o);
  if (rc != 0) {
    s->finished++;
    if (s->failed++ == 0)
      snprintf(s->first_error, sizeof(s->first_error), "add: %s: %s",
               rf_err_name(rc), rf_engine_last_error(s->engine));
  }
}

static void run_jobs(soak *s, unsigned total, unsigned at_once, unsigned conns)
{
  unsigned k;

  s->total = total;
  s->started = s->finished = s->failed = 0;
  s->at_once = at_once;
  s->conns = conns;
  for (k = 0; k < at_once && s->started < total; k++)
    start_one(s);
  cr_assert_eq(rf_engine_run(s->engine), 0);
  cr_assert_eq(s->finished, total);
  cr_assert_eq(s->failed, 0, "%u failed; first: %s", s->failed,
               s->first_error);
}

/* Idle connections libcurl may keep (engine/loop.c sets MAXCONNECTS),
 * plus the engine's own sockets (the loop's, the resolver's). */
#define SOCKET_BOUND (4u * RF_MAX_CONNECTIONS + 8u)

static void assert_back(const char *what, usage base, usage now)
{
  cr_assert(now.fds <= base.fds + 4, "%s: %u open files, %u before", what,
            now.fds, base.fds);
  cr_assert(now.sockets <= SOCKET_BOUND,
            "%s: %u sockets open, more than the connection cache's bound %u",
            what, now.sockets, SOCKET_BOUND);
  cr_assert(now.threads <= base.threads, "%s: %u threads, %u before", what,
            now.threads, base.threads);
  cr_assert((double)now.rss_kib <= (double)base.rss_kib * 1.05 + 1024.0,
            "%s: RSS %lu KiB, %lu KiB before", what, now.rss_kib,
            base.rss_kib);
  cr_log_info("%s: %u files (%u), %u sockets (%u), %u threads (%u), "
              "RSS %lu KiB (%lu)",
              what, now.fds, base.fds, now.sockets, base.sockets, now.threads,
              base.threads, now.rss_kib, base.rss_kib);
}

Test(soak, two_thousand_in_a_row_then_two_hundred_at_once)
{
  soak s;
  usage start, base, after;
  uv_loop_t first;

  /* libuv opens a pipe pair once per process, with its first loop, and
   * keeps it (its signal lock): not the engine's to close. */
  cr_assert_eq(uv_loop_init(&first), 0);
  cr_assert_eq(uv_loop_close(&first), 0);
  start = measure();
  memset(&s, 0, sizeof(s));
  s.url = malloc(80);
  cr_assert_not_null(s.url);
  snprintf(s.url, 80, "http://127.0.0.1:%u/gen/65536?seed=91",
           (unsigned)server_port);
  cr_assert_eq(rf_engine_new(&s.engine, NULL), 0);
  /* Warm-up: the allocator's arenas, libcurl's caches, the server's. */
  run_jobs(&s, 50, 1, 4);
  run_jobs(&s, 200, 200, 2);
  base = measure();
  run_jobs(&s, 2000, 1, 4);
  after = measure();
  assert_back("2000 in a row", base, after);
  run_jobs(&s, 200, 200, 2);
  after = measure();
  assert_back("200 at once", base, after);
  rf_engine_free(s.engine);
  free(s.url);
  /* Freed, the engine holds nothing: not a socket, not a file. */
  after = measure();
  cr_assert_eq(after.sockets, start.sockets,
               "engine freed: %u sockets open, %u before it was created",
               after.sockets, start.sockets);
  cr_assert(after.fds <= start.fds,
            "engine freed: %u open files, %u before it was created",
            after.fds, start.fds);
  cr_log_info("engine freed: %u files (%u before), %u sockets (%u before)",
              after.fds, start.fds, after.sockets, start.sockets);
}
