/*
 * The replay driver: runs a fuzz target's LLVMFuzzerTestOneInput on files,
 * without clang or libFuzzer (libgit2's standalone_driver.c does the same).
 * CMake links it with each tests/fuzz/<target>.c and registers
 *   fuzz_<target>: rf_fuzz_replay_<target> tests/fuzz/corpus/<target>
 *                                          tests/fuzz/crashers/<target>
 * so the seed corpus and every crasher ever found run under ctest (and
 * under the ASan + UBSan build of CI): a fixed crash stays fixed.
 *
 *   rf_fuzz_replay_<target> [-v] DIR|FILE...
 *
 * Directories are read one level deep, in name order, skipping names that
 * start with '.'; a missing directory is skipped (crashers/<target> exists
 * only once something was found).  Each input is handed over in a buffer
 * of its exact size, as libFuzzer does.  -v names each input before it
 * runs.  Exit 0 after a line "replayed N inputs"; 1 when there was nothing
 * to replay or an input could not be read; a crash ends the process, and
 * the input that caused it is named on stderr first.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#  include <sanitizer/common_interface_defs.h>
#  define RF_HAVE_DEATH_CALLBACK 1
#endif

static char g_current[4096];

/* Async-signal-safe: name the input being replayed. */
static void say_current(void)
{
  static const char pre[] = "\nreplay: crashed on input ";
  size_t n = strlen(g_current);

  if (n == 0)
    return;
  if (write(STDERR_FILENO, pre, sizeof(pre) - 1) < 0 ||
      write(STDERR_FILENO, g_current, n) < 0 || write(STDERR_FILENO, "\n", 1))
    return;
}

static void on_signal(int sig)
{
  say_current();
  signal(sig, SIG_DFL);
  raise(sig);
}

static int read_file(const char *path, uint8_t **out, size_t *n)
{
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL, *nb;
  size_t cap = 0, len = 0, got;

  *out = NULL;
  *n = 0;
  if (f == NULL)
    return -1;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      nb = realloc(buf, cap);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = nb;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  /* Exactly len bytes, so that a read past the end is seen. */
  nb = malloc(len > 0 ? len : 1);
  if (nb == NULL) {
    free(buf);
    return -1;
  }
  if (len > 0)
    memcpy(nb, buf, len);
  free(buf);
  *out = nb;
  *n = len;
  return 0;
}

static int replay_file(const char *path, int verbose, size_t *count)
{
  uint8_t *data;
  size_t n;

  if (read_file(path, &data, &n) != 0) {
    fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  snprintf(g_current, sizeof(g_current), "%s", path);
  if (verbose)
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
  LLVMFuzzerTestOneInput(data, n);
  g_current[0] = '\0';
  free(data);
  (*count)++;
  return 0;
}

static int by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, int verbose, size_t *count)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL, **nn, path[4096];
  size_t n = 0, cap = 0, i;
  int rc = 0;

  if (d == NULL) {
    fprintf(stderr, "replay: %s: %s (skipped)\n", dir, strerror(errno));
    return errno == ENOENT ? 0 : -1;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      nn = realloc(names, cap * sizeof(*names));
      if (nn == NULL) {
        rc = -1;
        break;
      }
      names = nn;
    }
    names[n] = malloc(strlen(e->d_name) + 1);
    if (names[n] == NULL) {
      rc = -1;
      break;
    }
    memcpy(names[n], e->d_name, strlen(e->d_name) + 1);
    n++;
  }
  closedir(d);
  if (n > 0)
    qsort(names, n, sizeof(*names), by_name);
  for (i = 0; i < n; i++) {
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        replay_file(path, verbose, count) != 0)
      rc = -1;
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv)
{
  static const int sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
  size_t count = 0;
  int verbose = 0, rc = 0;
  struct stat st;

  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    signal(sigs[i], on_signal);
#ifdef RF_HAVE_DEATH_CALLBACK
  __sanitizer_set_death_callback(say_current);
#endif
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-v") == 0) {
      verbose = 1;
      continue;
    }
    if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode))
      rc |= replay_file(argv[i], verbose, &count);
    else
      rc |= replay_dir(argv[i], verbose, &count);
  }
  printf("replayed %zu inputs\n", count);
  if (count == 0) {
    fprintf(stderr, "replay: nothing to replay\n");
    return 1;
  }
  return rc != 0 ? 1 : 0;
}
