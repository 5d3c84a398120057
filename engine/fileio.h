/* Whole-buffer file I/O at offsets and directory syncs, shared by the
 * writer thread (store.c) and the journal (journal.c). */
#ifndef RF_FILEIO_H
#define RF_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* pwrite all len bytes at off.  Returns 0 or an errno value (EIO for a
 * write that makes no progress); EINTR is retried. */
int rf__pwrite_full(int fd, const unsigned char *p, size_t len, uint64_t off);

/* pread up to len bytes at off; *got < len only at end of file.  Returns 0
 * or an errno value. */
int rf__pread_full(int fd, unsigned char *p, size_t len, uint64_t off,
                   size_t *got);

/* fsync the directory holding path (so a create, rename or unlink in it
 * is durable).  Returns 0 or an errno value; EINVAL (no support) is 0. */
int rf__fsync_dir_of(const char *path);

/* The RF_E* code for a file-system errno: ENOSPC/EDQUOT/EFBIG -> RF_ENOSPC,
 * EACCES/EPERM/EROFS -> RF_EACCES, ENOENT/ENOTDIR -> RF_ENOENT, ENOMEM ->
 * RF_ENOMEM, anything else RF_EIO. */
int rf__errno_to_rf(int e);

#endif
