/*
 * Stream mode's writer (rf_job_options.stream): the content goes, in
 * order, to a file descriptor the caller owns (a pipe, stdout) instead of
 * a .part file.
 *
 * Staging blocks arrive in any order (each connection hands over the
 * blocks of a piece once the piece is whole and verified).  A block is
 * kept, sorted by offset, until every byte before it was written, then
 * written with write() (partial writes, EINTR and a non-blocking fd
 * handled).  Bytes before the written prefix (a piece delivered twice)
 * are skipped, so each byte is written once.  What is written is hashed
 * (XXH3-128, and SHA-256 when asked for) for the whole-content checks of
 * the end, since nothing can be read back.
 *
 * Only the writer thread (store.c) touches an rf__stream, and the owner
 * after that thread stopped.  The fd is never closed here.
 */
#ifndef RF_STREAM_H
#define RF_STREAM_H

#include <stdint.h>
#include <xxhash.h>

#include "store.h"

typedef struct rf__stream {
  int fd;              /* the caller's, never closed here */
  uint64_t prefix;     /* bytes written: all of [0, prefix) */
  rf__block *pending;  /* kept blocks, sorted by off */
  unsigned npending;
  unsigned npending_max; /* most blocks kept at once */
  XXH3_state_t *xxh;     /* XXH3-128 of [0, prefix) */
  struct evp_md_ctx_st *sha; /* SHA-256 of [0, prefix); NULL: not asked */
  int sha_late; /* SHA-256 was asked for after bytes were written */
} rf__stream;

/* Start a stream to fd, nothing written.  Returns 0, RF_ENOMEM. */
int rf__stream_init(rf__stream *s, int fd);

/* Release the hash states; the blocks still kept are prepended to *rest
 * (for the pool to free). */
void rf__stream_free(rf__stream *s, rf__block **rest);

/* Keep b until it can be written.  A block wholly before the prefix is
 * not kept: it is prepended to *done. */
void rf__stream_put(rf__stream *s, rf__block *b, rf__block **done);

/*
 * Write the kept block that continues the prefix, if there is one (its
 * bytes before the prefix skipped).  sha256: the SHA-256 of the content is
 * wanted (from the first byte on).  Returns 1 (written: the block is
 * prepended to *done), 0 (no block continues the prefix), or -1 with *err
 * an errno value (EPIPE: the reader went away; the block stays kept).
 */
int rf__stream_write_next(rf__stream *s, int sha256, rf__block **done,
                          int *err);

/*
 * The end: every one of total bytes must have been written, and the
 * content match what flags ask (RF__OP_FINISH's: 1: xxh128 is its
 * XXH3-128; 2: sha256, 32 bytes, is its SHA-256).  Returns 0, RF_EHASH
 * (a digest differs), RF_EINTERNAL (bytes missing, or the SHA-256 was not
 * computed from the first byte on), RF_ENOMEM.
 */
int rf__stream_finish(rf__stream *s, uint64_t total, int flags,
                      XXH128_hash_t xxh128, const unsigned char *sha256,
                      int sha_wanted);

#endif
