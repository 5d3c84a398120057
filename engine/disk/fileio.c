/* Whole-buffer file I/O at offsets and directory syncs (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rangefetch/errors.h"

int rf__errno_to_rf(int e)
{
  switch (e) {
  case ENOSPC:
  case EDQUOT:
  case EFBIG:
    return RF_ENOSPC;
  case EACCES:
  case EPERM:
  case EROFS:
    return RF_EACCES;
  case ENOENT:
  case ENOTDIR:
    return RF_ENOENT;
  case ENOMEM:
    return RF_ENOMEM;
  default:
    return RF_EIO;
  }
}

int rf__pwrite_full(int fd, const unsigned char *p, size_t len, uint64_t off)
{
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len < RF__WRITE_CHUNK ? len : RF__WRITE_CHUNK,
                       (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    if (n == 0)
      return EIO;
    p += n;
    len -= (size_t)n;
    off += (uint64_t)n;
  }
  return 0;
}

int rf__pread_full(int fd, unsigned char *p, size_t len, uint64_t off,
                   size_t *got)
{
  size_t done = 0;

  while (done < len) {
    ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      *got = done;
      return errno;
    }
    if (n == 0)
      break;
    done += (size_t)n;
  }
  *got = done;
  return 0;
}

int rf__fsync_dir_of(const char *path)
{
  /* On the stack: after the final rename, a failed allocation would fail
   * a download whose file is already in place. */
  char copy[PATH_MAX];
  size_t n = strlen(path);
  int fd, rc = 0;

  if (n >= sizeof(copy))
    return ENAMETOOLONG;
  memcpy(copy, path, n + 1);
  fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  if (fsync(fd) != 0 && errno != EINVAL)
    rc = errno;
  close(fd);
  return rc;
}

/* Where the claim lock sits: one byte at RF__CLAIM_BASE + pid, inside a
 * span that any PID fits (Linux caps them at 2^22).  Far beyond any file
 * size a file system allows, so it never overlaps a lock on content. */
#define RF__CLAIM_BASE ((off_t)1 << 62)
#define RF__CLAIM_SPAN ((off_t)1 << 32)

_Static_assert(sizeof(off_t) == 8, "the claim lock needs a 64-bit off_t");

static struct flock claim_range(short type, off_t start, off_t len)
{
  struct flock fl;

  memset(&fl, 0, sizeof(fl));
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

static int ofd_lock(int fd, short type, off_t start, off_t len)
{
  struct flock fl = claim_range(type, start, len);

  return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

/* The PID of whoever holds the claim on fd's file, 0 if not known. */
static long claim_holder(int fd)
{
  struct flock fl = claim_range(F_WRLCK, RF__CLAIM_BASE, RF__CLAIM_SPAN);

  if (fcntl(fd, F_OFD_GETLK, &fl) != 0 || fl.l_type == F_UNLCK ||
      fl.l_start <= RF__CLAIM_BASE ||
      fl.l_start >= RF__CLAIM_BASE + RF__CLAIM_SPAN)
    return 0; /* gone, or caught between its two steps */
  return (long)(fl.l_start - RF__CLAIM_BASE);
}

/* Take the whole span (that is the exclusion), then keep only our byte. */
static int claim_lock(int fd, long *holder)
{
  off_t me = (off_t)getpid();
  int e = ofd_lock(fd, F_WRLCK, RF__CLAIM_BASE, RF__CLAIM_SPAN);

  if (e == EAGAIN || e == EACCES) {
    *holder = claim_holder(fd);
    return EAGAIN;
  }
  if (e != 0)
    return e;
  if (me <= 0 || me >= RF__CLAIM_SPAN)
    return 0; /* cannot happen on Linux; the span stays held */
  e = ofd_lock(fd, F_UNLCK, RF__CLAIM_BASE, me);
  if (e == 0)
    e = ofd_lock(fd, F_UNLCK, RF__CLAIM_BASE + me + 1, RF__CLAIM_SPAN - me - 1);
  return e;
}

int rf__read_file_max(const char *path, size_t max, int regular_only,
                      char **out, size_t *len, struct stat *st)
{
  struct stat sb;
  char *buf = NULL, *p;
  size_t cap, got = 0;
  int fd, e = 0;

  *out = NULL;
  *len = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return errno;
  if (fstat(fd, &sb) != 0) {
    e = errno;
    goto out;
  }
  if (st != NULL)
    *st = sb;
  if (S_ISDIR(sb.st_mode) || (regular_only && !S_ISREG(sb.st_mode))) {
    e = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
    goto out;
  }
  /* A regular file's size is a good first guess; it may still grow. */
  cap = S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < max
            ? (size_t)sb.st_size + 1
            : (max < 65536 ? max + 1 : 65536);
  for (;;) {
    ssize_t r;
    if (buf == NULL || got == cap) {
      if (got > max) {
        e = EFBIG;
        goto out;
      }
      cap = buf == NULL ? cap : cap > max / 2 ? max + 1 : cap * 2;
      p = realloc(buf, cap + 1);
      if (p == NULL) {
        e = ENOMEM;
        goto out;
      }
      buf = p;
    }
    r = read(fd, buf + got, cap - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      e = errno;
      goto out;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  if (got > max) {
    e = EFBIG;
    goto out;
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  buf = NULL;
out:
  close(fd);
  free(buf);
  return e;
}

int rf__file_exists(const char *path)
{
  struct stat sb;

  return stat(path, &sb) == 0;
}

int rf__claim_check(int fd, const char *path)
{
  struct stat a, b;

  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

int rf__claim_open(const char *path, int *fd, int *created, long *holder)
{
  int tries, e = 0;

  *fd = -1;
  *created = 0;
  *holder = 0;
  /* Each retry means the file was renamed or replaced in between; a few
   * are plenty. */
  for (tries = 0; tries < 8; tries++) {
    int made = 1, f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

    if (f < 0 && errno == EEXIST) {
      made = 0;
      f = open(path, O_RDWR | O_CLOEXEC);
      if (f < 0 && errno == ENOENT)
        continue; /* removed in between */
    }
    if (f < 0)
      return errno;
    e = claim_lock(f, holder);
    if (e == 0 && rf__claim_check(f, path)) {
      *fd = f;
      *created = made;
      return 0;
    }
    close(f);
    if (e != 0)
      return e;
  }
  return EAGAIN; /* the name kept changing under us */
}
