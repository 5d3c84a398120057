/* Whole-buffer file I/O at offsets and directory syncs, shared by the
 * writer thread (store.c) and the journal (journal.c). */
#ifndef RF_FILEIO_H
#define RF_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/*
 * The most one write(2) hands the page cache.  The page cache gives a write
 * of N bytes a folio of about N bytes (ext4 and XFS have large folios), so
 * 1 MiB writes ask the page allocator for 1 MiB blocks at a time.  On a VM
 * whose balloon reports free memory to the host (virtio-balloon free page
 * reporting, in blocks of 2 MiB), those high-order blocks are the ones the
 * host has taken back, and every page of them is faulted in again: about
 * 3.4 CPU s per GiB instead of 0.3.  Measured on such a VM (bench/RESULTS.md,
 * "CPU per byte"): dd with 1 and 2 MiB writes paid it in most runs, 128 to
 * 512 KiB writes in none; rangefetch writing its 1 MiB staging blocks whole
 * paid it in 5 runs of 9, in 256 KiB writes in none of 18.  Where nothing
 * is reported, dd's 256 KiB writes cost about 0.03 s per GiB more than
 * its 1 MiB ones.
 */
#define RF__WRITE_CHUNK ((size_t)256 << 10)

/* pwrite all len bytes at off, RF__WRITE_CHUNK at a time.  Returns 0 or an
 * errno value (EIO for a write that makes no progress); EINTR is
 * retried. */
int rf__pwrite_full(int fd, const unsigned char *p, size_t len, uint64_t off);

/* pread up to len bytes at off; *got < len only at end of file.  Returns 0
 * or an errno value. */
int rf__pread_full(int fd, unsigned char *p, size_t len, uint64_t off,
                   size_t *got);

/* fsync the directory holding path (so a create, rename or unlink in it
 * is durable).  Allocates nothing.  Returns 0 or an errno value
 * (ENAMETOOLONG: path has PATH_MAX bytes or more); EINVAL (no support) is
 * 0. */
int rf__fsync_dir_of(const char *path);

/*
 * rf__read_file_max - the whole file at path in a malloc'd buffer,
 * NUL-terminated (the NUL not counted in *len), at most max bytes: the one
 * bounded reader of settings, leases, PAC scripts and manifests.
 * regular_only: anything but a regular file is refused (EINVAL), so a FIFO
 * or a device never blocks the caller; otherwise pipes are read to their
 * end.  st (may be NULL) gets the file's status.  Returns 0, or an errno
 * value: EFBIG (more than max bytes), EINVAL, ENOMEM, or what open, fstat
 * and read said (ENOENT, EACCES, EISDIR, ...); *out is NULL then.
 */
int rf__read_file_max(const char *path, size_t max, int regular_only,
                      char **out, size_t *len, struct stat *st);

/* Whether something exists at path (stat succeeds). */
int rf__file_exists(const char *path);

/*
 * rf__claim_open - open path for reading and writing (created when missing,
 * never truncated) and hold an exclusive lock on it until the descriptor is
 * closed, so that only one download at a time writes a given .part file.
 *
 * The lock is an open-file-description lock (F_OFD_SETLK): it belongs to
 * this open, so two jobs in one process exclude each other as two
 * processes do, and closing another descriptor of the file leaves it
 * alone.  It covers one byte far past any content, at RF__CLAIM_BASE plus
 * the holder's process ID, because F_OFD_GETLK reports no PID: a process
 * refused reads the holder's PID from where the lock sits.
 *
 * If path was renamed or replaced between the open and the lock (a
 * finishing download renames its .part), the open is retried, so a claim
 * always holds the file that path names.
 *
 * Returns 0 with *fd set and *created saying whether this call made the
 * file; or an errno value: EAGAIN when someone else holds it (*holder: the
 * holder's PID, 0 if it could not be told), EISDIR, ENOENT, EACCES, ...
 */
int rf__claim_open(const char *path, int *fd, int *created, long *holder);

/* Whether path still names the file open as fd (same device and inode):
 * 1 yes, 0 no (or it cannot be told). */
int rf__claim_check(int fd, const char *path);

/* The RF_E* code for a file-system errno: ENOSPC/EDQUOT/EFBIG -> RF_ENOSPC,
 * EACCES/EPERM/EROFS -> RF_EACCES, ENOENT/ENOTDIR -> RF_ENOENT, ENOMEM ->
 * RF_ENOMEM, anything else RF_EIO. */
int rf__errno_to_rf(int e);

#endif
