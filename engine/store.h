/*
 * The disk path: a writer thread that owns the .part file.
 *
 * The loop thread fills staging blocks (bounded pool) with received bytes
 * and submits them; the writer pwrite()s each at its offset and gives the
 * block back.  When the pool is empty the loop pauses transfers
 * (back-pressure); the writer wakes the loop with uv_async_send when blocks
 * come back, when an operation finished, or when a write failed.  So disk
 * writes never block the loop thread and memory stays bounded whatever the
 * file size.
 */
#ifndef RF_STORE_H
#define RF_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct rf__block {
  struct rf__block *next;
  uint64_t off;  /* file offset of data[0] */
  size_t len;    /* bytes filled */
  size_t cap;
  unsigned char *data;
  int op;        /* 0: data block; else a control operation (below) */
  uint64_t op_arg;
} rf__block;

typedef struct rf__store rf__store;

/* Loop-thread notification: blocks came back, an op finished, or error. */
typedef void (*rf__store_wake_cb)(rf__store *st, void *user_data);

enum rf__store_op_state { RF__OP_IDLE, RF__OP_PENDING, RF__OP_DONE };

struct rf__store {
  int fd;
  char *part_path;
  char *final_path;
  size_t block_size;
  unsigned max_blocks;
  int durable;   /* sync_file_range as blocks land, fdatasync at FINISH */

  /* Shared with the writer; guarded by mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  rf__block *queue_head, *queue_tail; /* submitted, FIFO */
  rf__block *free_list;
  unsigned nblocks;        /* allocated */
  unsigned nfree;
  int quit;
  int writer_waiting;      /* the writer sleeps on cv */
  int err;                 /* first error (RF_E*), sticky */
  int err_errno;
  uint64_t written;        /* bytes pwritten */
  /* One control operation at a time (preallocate, finish); it travels in
   * the block FIFO so it runs after every block submitted before it. */
  enum rf__store_op_state op_state;
  int op_result;

  pthread_t thread;
  int thread_started;
  uv_async_t async;
  rf__store_wake_cb wake_cb;
  void *user_data;
  void (*closed_cb)(rf__store *st, void *user_data);
};

enum { RF__STORE_PREALLOC = 1, RF__STORE_FINISH = 2 };

/*
 * Open (create or truncate) part_path for writing, start the writer.
 * Returns 0, RF_EACCES, RF_ENOENT, RF_ENOSPC, RF_EIO, RF_ENOMEM.
 */
int rf__store_open(rf__store *st, uv_loop_t *loop, const char *part_path,
                   const char *final_path, size_t block_size,
                   unsigned max_blocks, rf__store_wake_cb wake_cb,
                   void *user_data);

/* A free block (off/len reset), or NULL when the pool is exhausted. */
rf__block *rf__store_get(rf__store *st);
/* Free blocks available without allocation, plus allocatable ones. */
unsigned rf__store_available(rf__store *st);
/* Queue a block for writing (len may be 0: it is just given back). */
void rf__store_submit(rf__store *st, rf__block *b);
/* Give back a block without writing it. */
void rf__store_drop(rf__store *st, rf__block *b);

/*
 * Start a control operation, run by the writer after every block submitted
 * before it: RF__STORE_PREALLOC (arg: size; set the file to that size and
 * reserve the space), RF__STORE_FINISH (arg: final size; truncate to it,
 * fdatasync, rename part -> final, fsync the directory).  Completion is
 * seen by rf__store_op_poll from the wake callback.  Returns RF_EBUSY if an
 * operation is pending.
 */
int rf__store_start_op(rf__store *st, int op, uint64_t arg);
/* Returns 1 and sets *result when the pending operation is done. */
int rf__store_op_poll(rf__store *st, int *result);

/* First write error (RF_E*) and its errno, 0 if none. */
int rf__store_error(rf__store *st, int *err_errno);
uint64_t rf__store_written(rf__store *st);

/*
 * Write whatever is queued, stop the writer, close the file (kept on disk)
 * and the async handle; closed_cb when released.
 */
void rf__store_close(rf__store *st,
                     void (*closed_cb)(rf__store *st, void *user_data));

#endif
