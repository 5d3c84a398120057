/*
 * Disk faults under a real download, in a mount namespace of the test's
 * own (root only; the mounts vanish with the test's process):
 *  - a tmpfs too small for the file: a clean ENOSPC before any byte;
 *  - a tmpfs filled by another process mid-download: the reserved space
 *    carries the download through, or it ends in a clean ENOSPC, and the
 *    resume once space is back gives the right file;
 *  - the file system turned read-only before a resume: a clean error,
 *    nothing touched; writable again, the resume completes;
 *  - an ext4 file system on a loop device that the kernel remounts
 *    read-only mid-download (errors=remount-ro, trigger_fs_error): a
 *    clean error, and after fsck the resume gives the right file.
 * The journal cut at every offset of its last records is
 * tests/test_resume.c (journal_cut_anywhere); a file-size limit standing
 * in for a full disk is tests/test_engine.c and test_resume.c.
 */
#ifndef _GNU_SOURCE
#  define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rangefetch/rangefetch.h"
#include "support/testserver.h"
#include "support/tmpdir.h"

static ts_server *srv;
static char dir[256], mnt[300];

/* A private mount namespace for this test's process, and a mount point. */
static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  tmpdir_make(dir, sizeof(dir), "diskfault");
  snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
  cr_assert_eq(mkdir(mnt, 0700), 0);
  if (geteuid() != 0)
    return; /* each test skips, saying why */
  cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
  cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
               "make / private: %s", strerror(errno));
  srv = ts_start(NULL);
  cr_assert_not_null(srv);
}

static void teardown(void)
{
  if (srv != NULL) {
    umount2(mnt, MNT_DETACH);
    ts_stop(srv);
  }
  tmpdir_remove(dir);
}

TestSuite(diskfault, .init = setup, .fini = teardown, .timeout = 180);

static void need_root(void)
{
  if (geteuid() != 0)
    cr_skip_test("needs root (mount namespaces); CI runs as root");
}

typedef struct run {
  int error;
  char message[600];
  uint64_t resumed;
  uint64_t fault_at; /* received bytes at which on_fault runs; 0: never */
  void (*on_fault)(void);
  int faulted;
  uint64_t cancel_at; /* received bytes at which the job is cancelled */
} run;

static void progress(rf_job *job, const rf_progress *p, void *ud)
{
  run *r = ud;

  if (r->cancel_at != 0 && p->received >= r->cancel_at)
    rf_job_cancel(job);
  if (r->fault_at != 0 && !r->faulted && p->received >= r->fault_at) {
    r->faulted = 1;
    r->on_fault();
  }
}

static void done(rf_job *job, const rf_result *res, void *ud)
{
  run *r = ud;

  (void)job;
  r->error = res->error;
  r->resumed = res->resumed;
  snprintf(r->message, sizeof(r->message), "%s",
           res->message != NULL ? res->message : "");
}

static void fetch(const char *path, const char *target, run *r)
{
  rf_engine *e = NULL;
  rf_job_options o;
  char *url = ts_url(srv, target);

  rf_job_options_init(&o);
  o.url = url;
  o.output = path;
  o.connections = 4;
  o.piece_size = 65536;
  o.progress_interval_ms = 10;
  o.on_progress = progress;
  o.on_done = done;
  o.user_data = r;
  o.max_time_ms = 60000;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  r->error = 1;
  if (rf_job_add(NULL, e, &o) != 0) {
    r->error = -999;
    snprintf(r->message, sizeof(r->message), "%s", rf_engine_last_error(e));
  } else {
    rf_engine_run(e);
  }
  rf_engine_free(e);
  free(url);
}

static int exists(const char *p)
{
  struct stat st;
  return stat(p, &st) == 0;
}

static void mount_tmpfs(const char *size)
{
  char opts[64];

  snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
  cr_assert_eq(mount("tmpfs", mnt, "tmpfs", 0, opts), 0, "tmpfs: %s",
               strerror(errno));
}

/* Write zeros into mnt/filler until the file system is full. */
static void fill_up(void)
{
  char path[400], buf[65536];
  int fd;

  snprintf(path, sizeof(path), "%s/filler", mnt);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  memset(buf, 0, sizeof(buf));
  while (fd >= 0 && write(fd, buf, sizeof(buf)) > 0)
    ;
  if (fd >= 0)
    close(fd);
}

Test(diskfault, too_small_for_the_file)
{
  char out[400];
  run r = { 0 };

  need_root();
  mount_tmpfs("1m");
  snprintf(out, sizeof(out), "%s/big.bin", mnt);
  fetch(out, "/gen/3000000?seed=81", &r);
  cr_assert(r.error == RF_ENOSPC || r.error == -999, "%s: %s",
            rf_err_name(r.error), r.message);
  cr_assert(strstr(r.message, "big.bin") != NULL, "%s", r.message);
  cr_assert_not(exists(out));
}

Test(diskfault, filled_mid_download)
{
  char out[400], filler[400];
  run r = { 0 };

  need_root();
  mount_tmpfs("5m");
  snprintf(out, sizeof(out), "%s/f.bin", mnt);
  snprintf(filler, sizeof(filler), "%s/filler", mnt);
  r.fault_at = 1000000;
  r.on_fault = fill_up;
  fetch(out, "/gen/3000000?seed=82&rate=3000000", &r);
  cr_assert(r.faulted);
  cr_log_info("filled mid-download: %s %s", rf_err_name(r.error), r.message);
  if (r.error == RF_OK) {
    /* The space reserved at the start carried it through. */
    cr_assert(ts_file_matches_gen(out, 3000000, 82));
    return;
  }
  cr_assert_eq(r.error, RF_ENOSPC, "%s: %s", rf_err_name(r.error), r.message);
  cr_assert_not(exists(out));
  unlink(filler);
  memset(&r, 0, sizeof(r));
  fetch(out, "/gen/3000000?seed=82&rate=3000000", &r);
  cr_assert_eq(r.error, RF_OK, "%s", r.message);
  cr_assert(ts_file_matches_gen(out, 3000000, 82));
}

Test(diskfault, read_only_before_the_resume)
{
  char out[400], part[420];
  struct stat before, after;
  run r = { 0 };

  need_root();
  mount_tmpfs("8m");
  snprintf(out, sizeof(out), "%s/ro.bin", mnt);
  snprintf(part, sizeof(part), "%s.part", out);
  r.cancel_at = 1500000;
  fetch(out, "/gen/3000000?seed=83&rate=3000000", &r);
  cr_assert_eq(r.error, RF_ECANCELED, "%s", r.message);
  cr_assert_eq(stat(part, &before), 0);
  cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0,
               "remount ro: %s", strerror(errno));
  memset(&r, 0, sizeof(r));
  fetch(out, "/gen/3000000?seed=83&rate=3000000", &r);
  cr_assert(r.error == RF_EACCES || r.error == -999, "%s: %s",
            rf_err_name(r.error), r.message);
  cr_assert(strstr(r.message, "ro.bin") != NULL, "%s", r.message);
  cr_assert_eq(stat(part, &after), 0);
  cr_assert_eq(after.st_size, before.st_size);
  cr_assert_eq(after.st_mtime, before.st_mtime);
  cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), 0, "remount rw: %s",
               strerror(errno));
  memset(&r, 0, sizeof(r));
  fetch(out, "/gen/3000000?seed=83&rate=3000000", &r);
  cr_assert_eq(r.error, RF_OK, "%s", r.message);
  cr_assert_gt(r.resumed, 0, "what was verified was fetched again");
  cr_assert(ts_file_matches_gen(out, 3000000, 83));
}

static char trigger[300];

/* The kernel's own error path: ext4 remounts itself read-only. */
static void fs_error(void)
{
  int fd = open(trigger, O_WRONLY);

  if (fd >= 0) {
    if (write(fd, "rangefetch test", 15) < 0)
      fprintf(stderr, "trigger_fs_error: %s\n", strerror(errno));
    close(fd);
  }
}

Test(diskfault, remounted_read_only_mid_download)
{
  char img[400], out[400], cmd[2400], dev[128] = "";
  run r = { 0 };
  FILE *f;

  need_root();
  if (access("/dev/loop-control", W_OK) != 0 ||
      system("command -v mkfs.ext4 >/dev/null && command -v losetup "
             ">/dev/null") != 0)
    cr_skip_test("no loop devices or e2fsprogs here");
  snprintf(img, sizeof(img), "%s/ext4.img", dir);
  snprintf(cmd, sizeof(cmd),
           "truncate -s 32M '%s' && mkfs.ext4 -q -F '%s' && "
           "mount -o loop,errors=remount-ro '%s' '%s'",
           img, img, img, mnt);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  snprintf(cmd, sizeof(cmd), "findmnt -n -o SOURCE '%s'", mnt);
  f = popen(cmd, "r");
  cr_assert_not_null(f);
  if (fgets(dev, sizeof(dev), f) == NULL)
    dev[0] = '\0';
  pclose(f);
  dev[strcspn(dev, "\n")] = '\0';
  cr_assert(strncmp(dev, "/dev/loop", 9) == 0, "mounted from '%s'", dev);
  snprintf(trigger, sizeof(trigger), "/sys/fs/ext4/%s/trigger_fs_error",
           dev + 5);
  if (access(trigger, W_OK) != 0)
    cr_skip_test("this kernel has no %s", trigger);
  snprintf(out, sizeof(out), "%s/x.bin", mnt);
  r.fault_at = 1000000;
  r.on_fault = fs_error;
  fetch(out, "/gen/4000000?seed=84&rate=3000000", &r);
  cr_assert(r.faulted);
  cr_assert_neq(r.error, RF_OK, "the download ended well on a read-only "
                                "file system");
  cr_assert(r.error == RF_EACCES || r.error == RF_EIO, "%s: %s",
            rf_err_name(r.error), r.message);
  cr_assert(strstr(r.message, "x.bin") != NULL, "%s", r.message);
  cr_assert_not(exists(out));
  cr_log_info("read-only mid-download: %s %s", rf_err_name(r.error),
              r.message);
  /* Repaired and writable again: the resume never yields a wrong file. */
  snprintf(cmd, sizeof(cmd),
           "umount '%s' && (e2fsck -fy '%s' >/dev/null 2>&1; true) && "
           "mount -o loop '%s' '%s'",
           mnt, img, img, mnt);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  memset(&r, 0, sizeof(r));
  fetch(out, "/gen/4000000?seed=84&rate=3000000", &r);
  cr_assert_eq(r.error, RF_OK, "%s", r.message);
  cr_assert(ts_file_matches_gen(out, 4000000, 84));
}
