/*
 * engine/fileio.c: the claim on a .part file (rf__claim_open), which keeps
 * two downloads from writing one output, and the same-file check that
 * guards the final rename.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk/fileio.h"
#include "rangefetch/errors.h"
#include "support/tmpdir.h"

static char dir[256];

static void setup(void)
{
  tmpdir_make(dir, sizeof(dir), "fileio");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(fileio, .init = setup, .fini = teardown, .timeout = 60);

static void path_of(char *buf, size_t size, const char *name)
{
  snprintf(buf, size, "%s/%s", dir, name);
}

Test(fileio, claim_is_exclusive_within_one_process)
{
  char p[300];
  int fd1, fd2, created, other;
  long holder;

  path_of(p, sizeof(p), "x.part");
  cr_assert_eq(rf__claim_open(p, &fd1, &created, &holder), 0);
  cr_assert_eq(created, 1, "the file did not exist: created must be 1");
  /* A second claim (another job in the same process) is refused, and
   * names this process as the holder. */
  cr_assert_eq(rf__claim_open(p, &fd2, &created, &holder), EAGAIN);
  cr_assert_eq(fd2, -1);
  cr_assert_eq(holder, (long)getpid());
  /* Closing some other descriptor of the file keeps the claim (a POSIX
   * record lock would be gone now). */
  other = open(p, O_RDONLY);
  cr_assert_geq(other, 0);
  close(other);
  cr_assert_eq(rf__claim_open(p, &fd2, &created, &holder), EAGAIN);
  /* Released with its descriptor. */
  close(fd1);
  cr_assert_eq(rf__claim_open(p, &fd2, &created, &holder), 0);
  cr_assert_eq(created, 0, "the file existed: created must be 0");
  close(fd2);
}

Test(fileio, claim_never_truncates)
{
  char p[300];
  int fd, created;
  long holder;
  struct stat sb;
  FILE *f;

  path_of(p, sizeof(p), "kept.part");
  f = fopen(p, "wb");
  cr_assert_not_null(f);
  fputs("0123456789", f);
  fclose(f);
  cr_assert_eq(rf__claim_open(p, &fd, &created, &holder), 0);
  cr_assert_eq(fstat(fd, &sb), 0);
  cr_assert_eq(sb.st_size, 10);
  close(fd);
}

Test(fileio, claim_names_the_holding_process)
{
  char p[300], c;
  int fd, created, ready[2], go[2];
  long holder;
  pid_t pid;

  path_of(p, sizeof(p), "y.part");
  cr_assert_eq(pipe(ready), 0);
  cr_assert_eq(pipe(go), 0);
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    int cfd, ccreated;
    long cholder;
    close(go[1]); /* so that the read below ends if the parent dies */
    close(ready[0]);
    if (rf__claim_open(p, &cfd, &ccreated, &cholder) != 0)
      _exit(1);
    if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
      _exit(2);
    _exit(0); /* exit closes cfd: the claim goes with the process */
  }
  cr_assert_eq(read(ready[0], &c, 1), 1, "child could not claim");
  cr_assert_eq(rf__claim_open(p, &fd, &created, &holder), EAGAIN);
  cr_assert_eq(holder, (long)pid, "holder %ld, child %ld", holder,
               (long)pid);
  cr_assert_eq(write(go[1], "g", 1), 1);
  cr_assert_eq(waitpid(pid, NULL, 0), pid);
  cr_assert_eq(rf__claim_open(p, &fd, &created, &holder), 0,
               "a dead holder's claim must be gone");
  close(fd);
  close(ready[0]);
  close(ready[1]);
  close(go[0]);
  close(go[1]);
}

Test(fileio, claim_errors)
{
  char p[300];
  int fd, created;
  long holder;

  path_of(p, sizeof(p), "adir");
  cr_assert_eq(mkdir(p, 0755), 0);
  cr_assert_eq(rf__claim_open(p, &fd, &created, &holder), EISDIR);
  cr_assert_eq(fd, -1);
  cr_assert_eq(rf__claim_open("/nonexistent/dir/x.part", &fd, &created,
                              &holder),
               ENOENT);
  cr_assert_eq(rf__errno_to_rf(ENOENT), RF_ENOENT);
}

Test(fileio, check_follows_the_name)
{
  char p[300], q[300];
  int fd, created;
  long holder;
  FILE *f;

  path_of(p, sizeof(p), "z.part");
  path_of(q, sizeof(q), "z");
  cr_assert_eq(rf__claim_open(p, &fd, &created, &holder), 0);
  cr_assert_eq(rf__claim_check(fd, p), 1);
  cr_assert_eq(rename(p, q), 0);
  cr_assert_eq(rf__claim_check(fd, p), 0, "renamed away");
  cr_assert_eq(rf__claim_check(fd, q), 1);
  f = fopen(p, "wb"); /* a new file under the old name */
  cr_assert_not_null(f);
  fclose(f);
  cr_assert_eq(rf__claim_check(fd, p), 0, "replaced");
  cr_assert_eq(unlink(q), 0);
  cr_assert_eq(rf__claim_check(fd, q), 0, "removed");
  close(fd);
}

/* ------------------------------------------------ the one bounded reader */

Test(fileio, read_file_max_bounds_and_kinds)
{
  char p[300], *buf = NULL;
  size_t len = 99;
  struct stat st;
  int fds[2];
  FILE *f;

  path_of(p, sizeof(p), "ten");
  f = fopen(p, "wb");
  cr_assert_not_null(f);
  fputs("0123456789", f);
  fclose(f);
  cr_assert_eq(rf__read_file_max(p, 10, 1, &buf, &len, &st), 0);
  cr_assert_eq(len, 10);
  cr_assert_str_eq(buf, "0123456789", "NUL-terminated");
  cr_assert_eq(st.st_size, 10);
  free(buf);
  cr_assert_eq(rf__read_file_max(p, 9, 1, &buf, &len, NULL), EFBIG);
  cr_assert_null(buf);
  cr_assert_eq(len, 0);

  path_of(p, sizeof(p), "empty");
  f = fopen(p, "wb");
  cr_assert_not_null(f);
  fclose(f);
  cr_assert_eq(rf__read_file_max(p, 10, 1, &buf, &len, NULL), 0);
  cr_assert_eq(len, 0);
  cr_assert_str_eq(buf, "");
  free(buf);

  cr_assert_eq(rf__read_file_max(dir, 10, 0, &buf, &len, NULL), EISDIR);
  path_of(p, sizeof(p), "missing");
  cr_assert_eq(rf__read_file_max(p, 10, 0, &buf, &len, NULL), ENOENT);

  /* A FIFO: refused at once when only regular files will do (nobody
   * writes to it: a read would block forever). */
  path_of(p, sizeof(p), "fifo");
  cr_assert_eq(mkfifo(p, 0644), 0);
  {
    int keep = open(p, O_RDWR); /* so that opening it does not block */
    cr_assert_geq(keep, 0);
    cr_assert_eq(rf__read_file_max(p, 10, 1, &buf, &len, NULL), EINVAL);
    close(keep);
  }

  /* A pipe is read to its end, and bounded too. */
  cr_assert_eq(pipe(fds), 0);
  cr_assert_eq(write(fds[1], "abcdefgh", 8), 8);
  close(fds[1]);
  snprintf(p, sizeof(p), "/proc/self/fd/%d", fds[0]);
  cr_assert_eq(rf__read_file_max(p, 100, 0, &buf, &len, NULL), 0);
  cr_assert_eq(len, 8);
  cr_assert_str_eq(buf, "abcdefgh");
  free(buf);
  close(fds[0]);
  cr_assert_eq(pipe(fds), 0);
  cr_assert_eq(write(fds[1], "abcdefgh", 8), 8);
  close(fds[1]);
  snprintf(p, sizeof(p), "/proc/self/fd/%d", fds[0]);
  cr_assert_eq(rf__read_file_max(p, 7, 0, &buf, &len, NULL), EFBIG);
  close(fds[0]);
}

/* The directory sync after the final rename allocates nothing (running
 * out of memory there would fail a download whose file is in place): the
 * directory name is worked out on the stack, so a path that does not fit
 * is refused; the file name itself need not exist. */
Test(fileio, fsync_dir_of)
{
  char p[300];
  char *longp = malloc(PATH_MAX + 16);

  cr_assert_not_null(longp);
  path_of(p, sizeof(p), "not-there-yet");
  cr_assert_eq(rf__fsync_dir_of(p), 0);
  cr_assert_eq(rf__fsync_dir_of("relative-name"), 0); /* "." */
  path_of(p, sizeof(p), "no-such-dir/f");
  cr_assert_eq(rf__fsync_dir_of(p), ENOENT);
  memset(longp, 'a', PATH_MAX + 8);
  longp[0] = '/';
  longp[PATH_MAX + 8] = '\0';
  cr_assert_eq(rf__fsync_dir_of(longp), ENAMETOOLONG);
  free(longp);
}
