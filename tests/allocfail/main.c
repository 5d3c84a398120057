/*
 * The allocation-failure sweep (issue 14): for every N, the Nth
 * allocation fails, over a whole download from the in-process range
 * server (engine creation to engine freed), a manifest parse and a PAC
 * evaluation.  Every N must end in the right result or a clean error
 * (RF_ENOMEM, or another code with a message), never a crash, a hang, a
 * wrong file under the final name, or (in the ASan build, checked after
 * every N) a leak.  Not a Criterion test: the sweep wants one process
 * and its own allocator hook.
 *
 *   rf_allocfail [download|manifest|pac|all]
 *
 * For a look at one failure: AF_VERBOSE=1 prints every N that ended in
 * another error than RF_OK or RF_ENOMEM (AF_VERBOSE=2: every N, with its
 * message); AF_FROM=N and AF_TO=N bound the sweep; AF_MAX_TIME_MS
 * (default 20000) is a download's time limit, past which it counts as a
 * hang; AF_KEEP_GOING=1 reports a hang and goes on.
 *
 * The server runs in a child process forked before the hook is armed,
 * so only the engine's allocations are counted.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook.h"
#include "proxy/pac.h"
#include "rangefetch/manifest.h"
#include "rangefetch/rangefetch.h"
#include "support/testserver.h"

/* In the ASan build: a leak check that does not end the process. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

#define FILE_SIZE  200000u
#define MAX_N      200000L /* a bound on the sweep */
#define MAX_MISSES 40L     /* N past every allocation, in a row: the end */

static char dir[] = "/tmp/rf-allocfail-XXXXXX";
static long current_n; /* the allocation failing in this run, 0: none */
static long hangs;     /* downloads that hung (AF_KEEP_GOING) */
static char url[128];

typedef struct tally {
  long total;    /* allocations of a run without failure */
  long uv;       /* libuv's, counted and never failed */
  long ok, enomem, other;
  long last;     /* the last N that came (the runs vary) */
  char other_example[300];
} tally;

/* In the ASan build: a smaller quarantine than the default 256 MiB.  The
 * leak check after every N walks every chunk, the quarantined ones too:
 * with the default the sweep takes eight times longer.  (An ASAN_OPTIONS
 * that sets quarantine_size_mb still wins.) */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
  return "quarantine_size_mb=16";
}

static int leak_check(void)
{
  return __lsan_do_recoverable_leak_check != NULL &&
         __lsan_do_recoverable_leak_check() != 0;
}

/* ------------------------------------------------------------ download */

typedef struct dl {
  int done;
  int error;
  char message[400];
} dl;

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  dl *d = ud;

  (void)job;
  d->done = 1;
  d->error = r->error;
  snprintf(d->message, sizeof(d->message), "%s",
           r->message != NULL ? r->message : "");
}

static void clean_outputs(const char *out)
{
  char p[600];

  unlink(out);
  snprintf(p, sizeof(p), "%s.part", out);
  unlink(p);
  snprintf(p, sizeof(p), "%s.part.rfj", out);
  unlink(p);
}

/* One whole download; returns its error (-1000 - rc when the engine or
 * the job could not even start) and checks a kept file. */
static int one_download(char *msg, size_t msglen)
{
  rf_engine *e = NULL;
  rf_job_options o;
  dl d = { 0, 0, "" };
  char out[300];
  struct stat st;
  int rc;

  snprintf(out, sizeof(out), "%s/dl.bin", dir);
  clean_outputs(out);
  rc = rf_engine_new(&e, NULL);
  if (rc != 0) {
    snprintf(msg, msglen, "rf_engine_new: %s", rf_err_name(rc));
    return rc;
  }
  rf_job_options_init(&o);
  o.url = url;
  o.output = out;
  o.connections = 4;
  o.piece_size = 65536;
  o.max_tries = 2;
  o.retry_base_ms = 1;
  o.retry_max_ms = 10;
  o.max_time_ms = 20000; /* a hang is a failure of the sweep */
  if (getenv("AF_MAX_TIME_MS") != NULL)
    o.max_time_ms = (unsigned)atol(getenv("AF_MAX_TIME_MS"));
  o.on_done = on_done;
  o.user_data = &d;
  rc = rf_job_add(NULL, e, &o);
  if (rc != 0) {
    snprintf(msg, msglen, "rf_job_add: %s: %s", rf_err_name(rc),
             rf_engine_last_error(e));
    rf_engine_free(e);
    return rc;
  }
  rf_engine_run(e);
  rf_engine_free(e);
  af_disarm(NULL); /* the checks below allocate: they must not fail */
  if (!d.done) {
    snprintf(msg, msglen, "no completion callback");
    return RF_EINTERNAL;
  }
  snprintf(msg, msglen, "%s", d.message);
  if (stat(out, &st) == 0 &&
      (d.error != RF_OK || !ts_file_matches_gen(out, FILE_SIZE, 7))) {
    fprintf(stderr, "allocfail: a wrong file under the final name (%s; "
                    "the %ldth allocation failed): %s\n",
            rf_err_name(d.error), current_n, d.message);
    exit(1);
  }
  if (d.error == RF_ETIMEDOUT) {
    fprintf(stderr, "allocfail: the download hung (the %ldth allocation "
                    "failed): %s\n",
            current_n, d.message);
    if (getenv("AF_KEEP_GOING") == NULL)
      exit(1);
    hangs++;
  }
  return d.error;
}

/* ------------------------------------------------------------- manifest */

static char *manifest_text;

static int one_manifest(char *msg, size_t msglen)
{
  rf_manifest *m = NULL;
  int rc = rf_manifest_parse(&m, manifest_text, strlen(manifest_text), msg,
                             msglen);

  rf_manifest_free(m);
  return rc;
}

/* ------------------------------------------------------------------ PAC */

static const char pac_script[] =
    "function FindProxyForURL(url, host) {\n"
    "  var parts = host.split('.');\n"
    "  if (isPlainHostName(host) || dnsDomainIs(host, '.corp.example'))\n"
    "    return 'DIRECT';\n"
    "  if (shExpMatch(url, 'https://*'))\n"
    "    return 'HTTPS secure.example:443; PROXY p1.example:3128';\n"
    "  return 'PROXY p' + parts.length + '.example:8080; DIRECT';\n"
    "}\n";

static int one_pac(char *msg, size_t msglen)
{
  /* The sweep is about memory: a deadline far beyond the default 100 ms
   * of wall time, which a busy machine (ctest -j2, ASan) can exceed. */
  rf__pac_limits lim = { 10000, 0, NULL, NULL };
  rf__pac *p = NULL;
  char *res = NULL;
  int rc = rf__pac_new(&p, pac_script, sizeof(pac_script) - 1, &lim, NULL,
                       msg, msglen);

  if (rc == 0) {
    rc = rf__pac_find(p, "http://www.example.org/x", &res, msg, msglen);
    if (rc == 0 && strcmp(res, "PROXY p3.example:8080; DIRECT") != 0) {
      fprintf(stderr, "allocfail: PAC gave '%s'\n", res);
      exit(1);
    }
    free(res);
  }
  rf__pac_free(p);
  return rc;
}

/* ---------------------------------------------------------------- sweep */

typedef int (*one_fn)(char *msg, size_t msglen);

static int sweep(const char *name, one_fn fn, tally *t)
{
  char msg[600];
  long n, from = 1, to = MAX_N, misses = 0;
  int failed, rc;
  int verbose = getenv("AF_VERBOSE") != NULL ? atoi(getenv("AF_VERBOSE")) : 0;

  memset(t, 0, sizeof(*t));
  af_arm(0);
  rc = fn(msg, sizeof(msg));
  t->uv = af_uv_allocations();
  t->total = af_disarm(NULL);
  if (rc != 0) {
    fprintf(stderr, "allocfail: %s fails without any failure: %s: %s\n",
            name, rf_err_name(rc), msg);
    return -1;
  }
  if (leak_check()) {
    fprintf(stderr, "allocfail: %s leaks without any failure\n", name);
    return -1;
  }
  if (getenv("AF_FROM") != NULL)
    from = atol(getenv("AF_FROM"));
  if (getenv("AF_TO") != NULL)
    to = atol(getenv("AF_TO"));
  for (n = from; n <= to; n++) {
    msg[0] = '\0';
    current_n = n;
    af_arm(n);
    rc = fn(msg, sizeof(msg));
    af_disarm(&failed);
    /* n is past the last allocation: the sweep is complete.  A download
     * allocates more or less from one run to the next (how the bytes
     * arrive): a few more tries before the end. */
    if (!failed && ++misses >= MAX_MISSES)
      break;
    if (!failed)
      continue;
    misses = 0;
    t->last = n;
    if (verbose > 1)
      fprintf(stderr, "  %s N=%ld: %s: %s\n", name, n, rf_err_name(rc), msg);
    if (rc == RF_OK)
      t->ok++;
    else if (rc == RF_ENOMEM)
      t->enomem++;
    else {
      t->other++;
      if (verbose == 1)
        fprintf(stderr, "  %s N=%ld: %s: %s\n", name, n, rf_err_name(rc), msg);
      if (t->other_example[0] == '\0')
        snprintf(t->other_example, sizeof(t->other_example),
                 "N=%ld: %s: %.200s", n, rf_err_name(rc), msg);
      if (msg[0] == '\0') {
        fprintf(stderr, "allocfail: %s N=%ld: %s without a message\n", name,
                n, rf_err_name(rc));
        return -1;
      }
    }
    if (leak_check()) {
      fprintf(stderr, "allocfail: %s N=%ld leaks (%s)\n", name, n,
              rf_err_name(rc));
      return -1;
    }
  }
  printf("%-9s %6ld allocations (and %ld of libuv's); failing each in "
         "turn up to N=%ld: %ld still right, %ld ENOMEM, %ld other clean "
         "errors%s%s\n",
         name, t->total, t->uv, t->last, t->ok, t->enomem, t->other,
         t->other ? ", e.g. " : "", t->other_example);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv)
{
  const char *what = argc > 1 ? argv[1] : "all";
  int pipefd[2], status, rc = 0;
  pid_t child;
  tally t;

  signal(SIGPIPE, SIG_IGN);
  /* Before anything allocates: OpenSSL takes its functions only then. */
  if (af_install() != 0) {
    fprintf(stderr, "allocfail: cannot install the hook\n");
    return 1;
  }
  if (mkdtemp(dir) == NULL || pipe(pipefd) != 0)
    return 1;
  /* The server, in a child that never arms the hook. */
  child = fork();
  if (child == 0) {
    ts_server *s;
    uint16_t port;
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlives the sweep */
    s = ts_start(dir);
    port = s != NULL ? ts_port(s) : 0;
    close(pipefd[0]);
    if (write(pipefd[1], &port, sizeof(port)) != (ssize_t)sizeof(port))
      _exit(1);
    for (;;)
      pause(); /* SIGTERM from the parent ends it */
  }
  close(pipefd[1]);
  {
    uint16_t port = 0;
    if (read(pipefd[0], &port, sizeof(port)) != (ssize_t)sizeof(port) ||
        port == 0) {
      fprintf(stderr, "allocfail: the test server did not start\n");
      return 1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/gen/%u?seed=7",
             (unsigned)port, FILE_SIZE);
  }
  {
    char src[300];
    rf_manifest *m = NULL;
    snprintf(src, sizeof(src), "%s/m.src", dir);
    if (ts_write_gen_file(src, 300000, 3) != 0 ||
        rf_manifest_create(&m, src, 65536, 1, 1) != 0 ||
        rf_manifest_format(&manifest_text, m) != 0)
      return 1;
    rf_manifest_free(m);
    unlink(src);
  }
  if (strcmp(what, "all") == 0 || strcmp(what, "manifest") == 0)
    rc |= sweep("manifest", one_manifest, &t);
  if (strcmp(what, "all") == 0 || strcmp(what, "pac") == 0)
    rc |= sweep("pac", one_pac, &t);
  if (strcmp(what, "all") == 0 || strcmp(what, "download") == 0)
    rc |= sweep("download", one_download, &t);
  if (hangs != 0) {
    fprintf(stderr, "allocfail: %ld downloads hung\n", hangs);
    rc = 1;
  }
  free(manifest_text);
  kill(child, SIGTERM);
  waitpid(child, &status, 0);
  {
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "allocfail: cannot remove %s\n", dir);
  }
  return rc != 0 ? 1 : 0;
}
