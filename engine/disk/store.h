/*
 * The disk path: a writer thread that owns the .part file and its journal.
 *
 * The loop thread fills staging blocks (bounded pool) with received bytes
 * and submits them; the writer pwrite()s each at its offset and gives the
 * block back.  When the pool is empty the loop pauses transfers
 * (back-pressure); the writer wakes the loop with uv_async_send when blocks
 * come back, when an operation finished, or when a write failed.  So disk
 * writes never block the loop thread and memory stays bounded whatever the
 * file size.
 *
 * Control operations (preallocate, journal records, verification reads,
 * finish) travel in the same FIFO as the data blocks, so each runs after
 * every block submitted before it: a piece's journal record is appended
 * only after its bytes were written.  Operations that report back are
 * handed to the loop through rf__store_take_done().
 *
 * Stream mode (rf__store_open_stream): no file; data blocks go, in order,
 * to a file descriptor the caller owns (disk/stream.h keeps those that
 * arrive early).  Kept blocks still count against the pool.
 */
#ifndef RF_STORE_H
#define RF_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <xxhash.h>

#include "journal.h"

/* What an operation does (rf__block.op). */
enum rf__store_op {
  RF__OP_DATA = 0,
  /* arg: size; flag: 1 = keep the existing bytes (resume). Set the file
   * to size and reserve the space. Reported. */
  RF__OP_PREALLOC,
  /* ptr: rf__journal_meta (freed by the writer). Create the journal.
   * Reported (RF_EINVAL: the URL and validators do not fit). */
  RF__OP_JOURNAL_CREATE,
  /* ptr: rf__journal_state (borrowed; the loop frees it when the op comes
   * back). Reopen the journal after its last good record. Reported. */
  RF__OP_JOURNAL_REOPEN,
  /* piece, hash: append a PIECE record (its blocks precede it). */
  RF__OP_PIECE,
  /* piece, off, len, hash: read the piece back and hash it; result 0 and
   * a PIECE record when it matches, RF_EHASH otherwise. Reported. */
  RF__OP_VERIFY,
  /* ptr: rf__verify_item array, count: items. Re-hash pieces on disk
   * (resume); sets each item's ok. Reported. */
  RF__OP_VERIFY_MANY,
  /* arg: final size; flag bits: 1 = check hash (XXH128 of the whole
   * file) first, 2 = check the SHA-256 in ptr (32 bytes, freed with the
   * op). Then fdatasync (when durable), rename part -> final if the part
   * path still names the file written (else RF_ENOENT, nothing renamed),
   * fsync the directory, remove the journal.  Stream mode: every byte
   * must have been written (else RF_EINTERNAL) and the checks are made
   * over what was written; nothing else.  Reported. */
  RF__OP_FINISH
};

typedef struct rf__verify_item {
  uint32_t piece;
  uint64_t off;
  uint64_t len;
  XXH128_hash_t hash;
  int ok;
} rf__verify_item;

typedef struct rf__block {
  struct rf__block *next;
  uint64_t off; /* file offset of data[0]; for ops: byte offset */
  size_t len;   /* bytes filled; for ops: byte length */
  size_t cap;
  unsigned char *data;
  /* Control operations only. */
  int op;
  int flag;
  int result;
  uint64_t arg;
  uint32_t piece;
  uint32_t count;
  XXH128_hash_t hash;
  void *ptr;
  unsigned gen; /* the job generation that queued it */
} rf__block;

typedef struct rf__store rf__store;
struct rf__stream;

/* Loop-thread notification: blocks came back, an op finished, or error. */
typedef void (*rf__store_wake_cb)(rf__store *st, void *user_data);

struct rf__store {
  int fd;
  char *part_path;
  char *final_path;
  char *journal_path;
  size_t block_size;
  unsigned max_blocks;
  int discard;         /* no file: data blocks are counted and dropped */
  struct rf__stream *stream; /* stream mode (the writer's); NULL: a file */
  int unlink_if_empty; /* set by the owner before rf__store_close: remove
                          the .part if nothing was written to it */
  int durable;         /* write back as blocks land, fdatasync before rename and
                          before each journal checkpoint */
  unsigned checkpoint_ms;    /* at most this long between checkpoints */
  uint64_t checkpoint_bytes; /* ... or this many bytes */

  /* Writer-thread state. */
  rf__journal journal;
  int journal_open;
  unsigned unchecked;     /* PIECE records since the last checkpoint */
  uint64_t ckpt_bytes;    /* bytes written since the last checkpoint */
  uint64_t ckpt_time;     /* uv_hrtime of the last checkpoint */
  unsigned char *scratch; /* block_size bytes for read-backs */

  /* Shared with the writer; guarded by mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  rf__block *queue_head, *queue_tail; /* submitted, FIFO */
  rf__block *done_head, *done_tail;   /* reported ops, for the loop */
  rf__block *free_list;
  unsigned nblocks; /* allocated */
  unsigned nfree;
  int quit;
  int writer_waiting; /* the writer sleeps on cv */
  int err;            /* first error (RF_E*), sticky */
  int err_errno;
  const char *err_what; /* "write", "journal", ... */
  uint64_t written;     /* bytes pwritten (stream: written, in order) */
  int stream_sha256;    /* stream: the content's SHA-256 is wanted */
  unsigned kept_max;    /* stream: most blocks kept out of order at once */

  pthread_t thread;
  int thread_started;
  uv_async_t async;
  rf__store_wake_cb wake_cb;
  void *user_data;
  void (*closed_cb)(rf__store *st, void *user_data);
};

/*
 * Start the writer on the .part file open as fd, which rf__claim_open
 * opened and holds (taken over when this call succeeds: the store closes
 * it; on failure it stays the caller's).  part_path names it (for the
 * final rename, which happens only if part_path still names fd's file);
 * final_path is where it goes once
 * finished.  journal_path: where the journal goes (may be NULL: no
 * journal).  fd -1 and part_path NULL: no file at all (discard mode, for
 * measuring): data blocks are counted and dropped, PREALLOC and FINISH do
 * nothing, and there is no journal.  Returns 0, RF_EIO, RF_ENOMEM.
 */
int rf__store_open(rf__store *st, uv_loop_t *loop, int fd,
                   const char *part_path, const char *final_path,
                   const char *journal_path, size_t block_size,
                   unsigned max_blocks, rf__store_wake_cb wake_cb,
                   void *user_data);

/*
 * Start the writer in stream mode: data blocks are written to fd, the
 * caller's (never closed here), in offset order whatever order they come
 * in (disk/stream.h); no file, no journal; PREALLOC does nothing, FINISH
 * checks what was written.  SIGPIPE is blocked in the writer thread: a
 * reader that went away is the error RF_EIO (errno EPIPE).  Returns 0,
 * RF_EIO, RF_ENOMEM.
 */
int rf__store_open_stream(rf__store *st, uv_loop_t *loop, int fd,
                          size_t block_size, unsigned max_blocks,
                          rf__store_wake_cb wake_cb, void *user_data);

/* Stream mode: compute the SHA-256 of what is written (for FINISH's flag
 * 2).  Call it before the first data block is submitted. */
void rf__store_stream_sha256(rf__store *st, int on);

/* The pool from now on: blocks of block_size bytes when no block was
 * allocated yet and block_size is smaller (else the size stays); at most
 * max_blocks of them (never fewer than are allocated; 0: unchanged).
 * Returns the block size in effect. */
size_t rf__store_set_pool(rf__store *st, size_t block_size,
                          unsigned max_blocks);

/* A free block (off/len reset), or NULL when the pool is exhausted. */
rf__block *rf__store_get(rf__store *st);
/* Free blocks available without allocation, plus allocatable ones. */
unsigned rf__store_available(rf__store *st);
/* Queue a block for writing (len may be 0: it is just given back). */
void rf__store_submit(rf__store *st, rf__block *b);
/* Give back a block without writing it (stream mode: wake_cb follows, for
 * transfers paused for want of blocks). */
void rf__store_drop(rf__store *st, rf__block *b);

/* A zeroed operation of the given kind (NULL without memory); queue it
 * with rf__store_submit. */
rf__block *rf__store_op(int op);
/* Reported operations, oldest first; the caller frees each with
 * rf__store_op_free. */
rf__block *rf__store_take_done(rf__store *st);
void rf__store_op_free(rf__block *op);

/* First write error (RF_E*), its errno and what failed; 0 if none. */
int rf__store_error(rf__store *st, int *err_errno, const char **what);
uint64_t rf__store_written(rf__store *st);
/* Stream mode: the most blocks kept out of order at once so far. */
unsigned rf__store_kept_max(rf__store *st);

/*
 * Write whatever is queued, checkpoint the journal (when durable), stop the
 * writer, close the files (kept on disk, but an empty .part is removed when
 * unlink_if_empty is set, while the claim on it is still held) and the
 * async handle; closed_cb when released.
 */
void rf__store_close(rf__store *st,
                     void (*closed_cb)(rf__store *st, void *user_data));

#endif
