/*
 * The test driver of the ThreadSanitizer build: main() for the tests that
 * tests/tsan/criterion/criterion.h registers (that header says why
 * Criterion itself cannot be used there).
 *
 * Tests run one at a time, sorted by suite and name, each in a child
 * process of its own (suite init, test init, test, test fini, suite fini),
 * as Criterion does; the runner itself never starts a thread, so that
 * fork() stays safe under TSan.  The runner kills a child that outlives
 * its timeout, times RF_TEST_TIMEOUT_SCALE if set (TSan slows CPU-bound
 * tests down 5-15x).  A test fails if a check failed, if its process
 * exited non-zero (a TSan report: TSan makes the exit status 66, or
 * TSAN_OPTIONS' exitcode) or died of a signal.
 *
 * The child tells the runner what happened through a page of shared
 * memory (struct outcome); assertion reports go to stderr at once, as do
 * TSan's reports.
 *
 * Command line: Criterion's subset that CMake and the scripts use.
 *   rf_tests [--filter PATTERN] [-jN|--jobs N] [--ascii] [--verbose[=N]]
 *            [--timeout SECONDS] [--list]
 * PATTERN is a shell glob on "suite/name" (fnmatch, with extglob).
 * -j is accepted and ignored: tests run one at a time.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE /* FNM_EXTMATCH */
#endif
#include <criterion/criterion.h>

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a test's process tells the runner.  In shared memory: written by
 * the child (any of its threads), read by the runner once it is gone. */
struct outcome {
  int failures;   /* checks that failed (atomic) */
  int skipped;    /* cr_skip_test() */
  int finished;   /* got through the fini */
  int line;       /* of the first failure */
  char file[256]; /* of the first failure */
  char msg[1024]; /* of the first failure, or why it was skipped */
};

static struct cr__test *g_tests;
static struct cr__suite *g_suites;

/* In a test's process. */
static struct outcome *g_out;
static pid_t g_test_pid;   /* not a process the test forked */
static pthread_t g_thread; /* the thread that runs init, test and fini */
static jmp_buf g_jmp;      /* back to the runner, out of a stopped test */

void cr__register_test(struct cr__test *t)
{
  t->next = g_tests;
  g_tests = t;
}

void cr__register_suite(struct cr__suite *s)
{
  s->next = g_suites;
  g_suites = s;
}

/* ---------------------------------------------------- in the test child */

/* printf into a new string (NULL if out of memory). */
__attribute__((format(printf, 1, 0))) static char *vformat(const char *fmt,
                                                            va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return NULL;
  char *s = malloc((size_t)n + 1);
  if (s != NULL)
    vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

/* Writes the whole of a stream's text to stderr in one write(), so that
 * reports from several threads do not interleave, and frees it. */
static void flush_report(FILE *f, char **text, size_t *len)
{
  if (fclose(f) != 0 || *text == NULL)
    return;
  size_t off = 0;
  while (off < *len) {
    ssize_t n = write(STDERR_FILENO, *text + off, *len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  free(*text);
}

static void copy_str(char *dst, size_t size, const char *src)
{
  snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* fmt: the user's message behind one character (criterion.h's "x"). */
__attribute__((format(printf, 6, 0))) static void
report_failure(const char *file, int line, const char *what,
               const char *actual, const char *expected, const char *fmt,
               va_list ap)
{
  char *user = vformat(fmt, ap);
  const char *msg = user != NULL ? user + 1 : "";
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);

  if (f != NULL) {
    fprintf(f, "[----] %s:%d: Assertion Failed\n[----]   %s\n", file, line,
            what);
    if (actual != NULL || expected != NULL) {
      fprintf(f, "[----]   actual:   %s%s%s\n", actual ? "\"" : "",
              actual ? actual : "NULL", actual ? "\"" : "");
    }
    if (expected != NULL)
      fprintf(f, "[----]   expected: \"%s\"\n", expected);
    if (*msg != '\0')
      fprintf(f, "[----]   %s\n", msg);
    flush_report(f, &text, &len);
  }
  if (g_out == NULL) { /* outside a test: nobody to tell */
    free(user);
    return;
  }
  if (__atomic_fetch_add(&g_out->failures, 1, __ATOMIC_SEQ_CST) == 0) {
    g_out->line = line;
    copy_str(g_out->file, sizeof(g_out->file), file);
    copy_str(g_out->msg, sizeof(g_out->msg), *msg != '\0' ? msg : what);
  }
  free(user);
}

/* Stops the test: back to the runner (which runs the fini) from the
 * test's thread; from another thread, or from a process the test forked,
 * there is nothing to go back to, so that process ends (the failure is
 * recorded already). */
__attribute__((noreturn)) static void stop_test(void)
{
  if (g_out == NULL || getpid() != g_test_pid)
    _exit(1);
  if (!pthread_equal(pthread_self(), g_thread)) {
    static const char note[] = "[----]   (in a thread of the test's: "
                               "its process ends here)\n";
    if (write(STDERR_FILENO, note, sizeof(note) - 1) < 0) {
      /* nothing more to say */
    }
    _exit(1);
  }
  longjmp(g_jmp, 1);
}

void cr__fail_abort(const char *file, int line, const char *what,
                    const char *actual, const char *expected,
                    const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  report_failure(file, line, what, actual, expected, fmt, ap);
  va_end(ap);
  stop_test();
}

void cr__fail_continue(const char *file, int line, const char *what,
                       const char *actual, const char *expected,
                       const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  report_failure(file, line, what, actual, expected, fmt, ap);
  va_end(ap);
}

void cr__skip(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *msg = vformat(fmt, ap);
  va_end(ap);
  if (g_out != NULL) {
    g_out->skipped = 1;
    copy_str(g_out->msg, sizeof(g_out->msg), msg != NULL ? msg + 1 : "");
  }
  free(msg);
  stop_test();
}

void cr__log(const char *level, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *msg = vformat(fmt, ap);
  va_end(ap);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f != NULL) {
    fprintf(f, "[%-4.4s] %s\n", strcmp(level, "info") == 0 ? "----" : level,
            msg != NULL ? msg : fmt);
    flush_report(f, &text, &len);
  }
  free(msg);
}

/* The child's whole life: init, test, fini; exit() (not _exit()) so that
 * TSan's end-of-process check runs and sets the exit status. */
__attribute__((noreturn)) static void run_child(const struct cr__test *t,
                                                const struct cr__data *suite,
                                                const sigset_t *mask)
{
  volatile int inited = 0;

  pthread_sigmask(SIG_SETMASK, mask, NULL);
  g_test_pid = getpid();
  g_thread = pthread_self();
  if (setjmp(g_jmp) == 0) {
    if (suite->init != NULL)
      suite->init();
    if (t->data.init != NULL)
      t->data.init();
    inited = 1;
    t->fn();
  }
  /* As Criterion: no fini after a failed init. */
  if (inited && setjmp(g_jmp) == 0) {
    if (t->data.fini != NULL)
      t->data.fini();
    if (suite->fini != NULL)
      suite->fini();
  }
  g_out->finished = 1;
  exit(0);
}

/* ------------------------------------------------------------ the runner */

struct options {
  const char *filter;
  int verbose;
  int list;
  double timeout; /* for tests with none of their own */
  double scale;   /* RF_TEST_TIMEOUT_SCALE */
};

struct totals {
  int tested, passed, failed, crashed, skipped;
};

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct cr__data *suite_data(const char *name)
{
  static const struct cr__data none = { 0 };
  for (const struct cr__suite *s = g_suites; s != NULL; s = s->next)
    if (strcmp(s->name, name) == 0)
      return &s->data;
  return &none;
}

static int by_suite_and_name(const void *a, const void *b)
{
  const struct cr__test *x = *(const struct cr__test *const *)a;
  const struct cr__test *y = *(const struct cr__test *const *)b;
  int c = strcmp(x->suite, y->suite);
  return c != 0 ? c : strcmp(x->name, y->name);
}

/* Waits for the child, killing it after `timeout` s (0: none).  SIGCHLD
 * is blocked in the runner: sigtimedwait() wakes up when the child ends.
 * Returns 1 if it timed out. */
static int wait_child(pid_t pid, double timeout, int *status)
{
  if (timeout <= 0) {
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    return 0;
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  double deadline = now() + timeout;
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR))
      return 0;
    double left = deadline - now();
    if (left <= 0) {
      kill(pid, SIGKILL);
      while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
      }
      return 1;
    }
    if (left > 1)
      left = 1; /* and check again: a lost wake-up costs 1 s at most */
    struct timespec ts = { (time_t)left,
                           (long)((left - (double)(time_t)left) * 1e9) };
    sigtimedwait(&chld, NULL, &ts);
  }
}

/* Where TSan wrote the report of process `pid`: TSAN_OPTIONS' log_path
 * (scripts/test sets it, so that reports of the CLI processes the tests
 * start are kept too) followed by ".PID"; "" if it writes to stderr. */
static void tsan_report_path(char *buf, size_t size, pid_t pid)
{
  const char *opts = getenv("TSAN_OPTIONS");
  const char *seps = " ,:\t\n";

  buf[0] = '\0';
  for (const char *p = opts; p != NULL && *p != '\0';) {
    size_t n = strcspn(p, seps);
    if (n > 9 && strncmp(p, "log_path=", 9) == 0) {
      const char *v = p + 9;
      size_t vn = n - 9;
      if (!(vn == 6 && (strncmp(v, "stderr", 6) == 0 ||
                        strncmp(v, "stdout", 6) == 0)))
        snprintf(buf, size, "%.*s.%ld", (int)vn, v, (long)pid);
      else
        buf[0] = '\0';
    }
    p += n;
    p += strspn(p, seps);
  }
}

/* Copies a TSan report file to stderr, for the test's log. */
static void show_file(const char *path)
{
  FILE *f = fopen(path, "r");
  char buf[4096];
  size_t n;

  if (f == NULL)
    return;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    fwrite(buf, 1, n, stderr);
  fclose(f);
}

static void run_one(const struct cr__test *t, const struct options *o,
                    const sigset_t *mask, struct totals *tot)
{
  const struct cr__data *sd = suite_data(t->suite);

  if (t->data.disabled || sd->disabled) {
    fprintf(stderr, "[SKIP] %s::%s: disabled\n", t->suite, t->name);
    tot->skipped++;
    return;
  }
  double timeout = t->data.timeout > 0 ? t->data.timeout
                   : sd->timeout > 0   ? sd->timeout
                                       : o->timeout;
  timeout *= o->scale;
  memset(g_out, 0, sizeof(*g_out));
  if (o->verbose)
    fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
  fflush(stdout);
  fflush(stderr);

  double start = now();
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "[FAIL] %s::%s: fork: %s\n", t->suite, t->name,
            strerror(errno));
    tot->tested++;
    tot->crashed++;
    return;
  }
  if (pid == 0)
    run_child(t, sd, mask);

  int status = 0;
  int timed_out = wait_child(pid, timeout, &status);
  double secs = now() - start;
  const struct outcome *out = g_out;
  char why[1400], report[600];

  why[0] = '\0';
  if (timed_out) {
    snprintf(why, sizeof(why), "CRASH: timed out after %.0f s", timeout);
  } else if (WIFSIGNALED(status)) {
    snprintf(why, sizeof(why), "CRASH: killed by signal %d (%s)",
             WTERMSIG(status), strsignal(WTERMSIG(status)));
  } else if (out->failures > 0) {
    snprintf(why, sizeof(why), "%s (%s:%d)", out->msg, out->file, out->line);
  } else if (WEXITSTATUS(status) == 66) {
    snprintf(why, sizeof(why),
             "exit status 66: a ThreadSanitizer report (above)");
  } else if (WEXITSTATUS(status) != 0) {
    snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
  } else if (out->skipped) {
    fprintf(stderr, "[SKIP] %s::%s: %s\n", t->suite, t->name, out->msg);
    tot->skipped++;
    return;
  } else if (!out->finished) {
    snprintf(why, sizeof(why), "the test's process exited (0) mid-test");
  }

  tot->tested++;
  if (why[0] == '\0') {
    tot->passed++;
    if (o->verbose)
      fprintf(stderr, "[PASS] %s::%s: (%.2fs)\n", t->suite, t->name, secs);
    return;
  }
  /* A failed check and a non-zero exit (a TSan report after it): say
   * both. */
  if (!timed_out && WIFEXITED(status) && out->failures > 0 &&
      WEXITSTATUS(status) != 0) {
    size_t n = strlen(why);
    snprintf(why + n, sizeof(why) - n, "; then exit status %d%s",
             WEXITSTATUS(status),
             WEXITSTATUS(status) == 66 ? " (a ThreadSanitizer report)" : "");
  }
  tsan_report_path(report, sizeof(report), pid);
  if (report[0] != '\0' && access(report, F_OK) == 0) {
    fprintf(stderr, "[----] %s:\n", report);
    show_file(report);
  }
  if (timed_out || WIFSIGNALED(status))
    tot->crashed++;
  else
    tot->failed++;
  fprintf(stderr, "[FAIL] %s::%s: %s (%.2fs)\n", t->suite, t->name, why,
          secs);
}

static void usage(FILE *f)
{
  fprintf(f,
          "usage: rf_tests [--filter PATTERN] [-jN|--jobs N] [--ascii]\n"
          "                [--verbose[=N]] [--timeout SECONDS] [--list]\n"
          "The ThreadSanitizer build's test driver (tests/tsan/runner.c):\n"
          "Criterion's options that the build uses.  PATTERN: a glob on\n"
          "suite/name.  Tests run one at a time (-j is ignored), each in a\n"
          "process of its own.  RF_TEST_TIMEOUT_SCALE multiplies every\n"
          "timeout.\n");
}

/* An option's value: "--name=VALUE" or "--name VALUE"; NULL if `arg` is
 * not that option. */
static const char *option_value(int argc, char **argv, int *i,
                                const char *name)
{
  size_t n = strlen(name);
  const char *arg = argv[*i];
  if (strncmp(arg, name, n) != 0)
    return NULL;
  if (arg[n] == '=')
    return arg + n + 1;
  if (arg[n] != '\0')
    return NULL;
  if (*i + 1 >= argc) {
    fprintf(stderr, "rf_tests: %s needs a value\n", name);
    exit(3);
  }
  return argv[++*i];
}

static double parse_seconds(const char *what, const char *s)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e7) {
    fprintf(stderr, "rf_tests: %s: not a number of seconds: '%s'\n", what,
            s);
    exit(3);
  }
  return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
  const char *v;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((v = option_value(argc, argv, &i, "--filter")) != NULL) {
      o->filter = v;
    } else if ((v = option_value(argc, argv, &i, "--jobs")) != NULL) {
      (void)v; /* one at a time whatever it says */
    } else if ((v = option_value(argc, argv, &i, "--timeout")) != NULL) {
      o->timeout = parse_seconds("--timeout", v);
    } else if (strncmp(a, "-j", 2) == 0) {
      if (a[2] == '\0' && i + 1 < argc && argv[i + 1][0] != '-')
        i++; /* "-j 2" */
    } else if (strcmp(a, "--ascii") == 0) {
    } else if (strcmp(a, "--verbose") == 0 ||
               strncmp(a, "--verbose=", 10) == 0) {
      o->verbose = a[9] == '=' ? atoi(a + 10) : 1;
      if (o->verbose < 1)
        o->verbose = 1;
    } else if (strcmp(a, "--list") == 0 || strcmp(a, "-l") == 0) {
      o->list = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else {
      fprintf(stderr, "rf_tests: unknown option '%s'\n", a);
      usage(stderr);
      exit(3);
    }
  }
  const char *scale = getenv("RF_TEST_TIMEOUT_SCALE");
  o->scale = scale != NULL && *scale != '\0'
                 ? parse_seconds("RF_TEST_TIMEOUT_SCALE", scale)
                 : 1;
  if (o->scale <= 0) {
    fprintf(stderr, "rf_tests: RF_TEST_TIMEOUT_SCALE must be above 0\n");
    exit(3);
  }
}

int main(int argc, char **argv)
{
  struct options o = { NULL, 0, 0, 0, 1 };
  size_t n = 0, k = 0;

  parse_args(argc, argv, &o);
  for (const struct cr__test *t = g_tests; t != NULL; t = t->next)
    n++;
  const struct cr__test **tests = calloc(n ? n : 1, sizeof(*tests));
  if (tests == NULL) {
    fprintf(stderr, "rf_tests: out of memory\n");
    return 3;
  }
  for (const struct cr__test *t = g_tests; t != NULL; t = t->next) {
    char full[512];
    snprintf(full, sizeof(full), "%s/%s", t->suite, t->name);
    if (o.filter == NULL || fnmatch(o.filter, full, FNM_EXTMATCH) == 0)
      tests[k++] = t;
  }
  qsort(tests, k, sizeof(*tests), by_suite_and_name);
  if (o.list) {
    for (size_t i = 0; i < k; i++)
      printf("%s::%s\n", tests[i]->suite, tests[i]->name);
    free(tests);
    return 0;
  }

  g_out = mmap(NULL, sizeof(*g_out), PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_out == MAP_FAILED) {
    fprintf(stderr, "rf_tests: mmap: %s\n", strerror(errno));
    return 3;
  }
  /* SIGCHLD stays pending for sigtimedwait() (wait_child); each child
   * gets the mask it was started with. */
  sigset_t chld, mask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, &mask);

  struct totals tot = { 0 };
  for (size_t i = 0; i < k; i++)
    run_one(tests[i], &o, &mask, &tot);
  fprintf(stderr,
          "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
          "Crashing: %d",
          tot.tested, tot.passed, tot.failed, tot.crashed);
  if (tot.skipped > 0)
    fprintf(stderr, " | Skipped: %d", tot.skipped);
  fprintf(stderr, "\n");
  free(tests);
  munmap(g_out, sizeof(*g_out));
  return tot.failed + tot.crashed > 0 ? 1 : 0;
}
