/* Whole-buffer file I/O at offsets and directory syncs (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
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
    ssize_t n = pwrite(fd, p, len, (off_t)off);
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
  char *copy = strdup(path);
  int fd, rc = 0;

  if (copy == NULL)
    return ENOMEM;
  fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    rc = errno;
    goto out;
  }
  if (fsync(fd) != 0 && errno != EINVAL)
    rc = errno;
  close(fd);
out:
  free(copy);
  return rc;
}
