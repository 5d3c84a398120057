/* Writer thread, staging blocks, the .part file and its journal. */
#include "store.h"

#include "fileio.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rangefetch/rangefetch.h"

#ifdef RF_HAVE_XXH_DISPATCH
#  include <xxh_x86dispatch.h>
#endif

/* Read exactly len bytes at off; a short file is an error (EIO). */
static int read_all(int fd, unsigned char *p, size_t len, uint64_t off)
{
  size_t got = 0;
  int e = rf__pread_full(fd, p, len, off, &got);

  return e != 0 ? e : got < len ? EIO : 0;
}

/* Called with mu held: remember the first error. */
static void set_error(rf__store *st, int rf_err, int e, const char *what)
{
  if (st->err == 0) {
    st->err = rf_err;
    st->err_errno = e;
    st->err_what = what;
  }
}

static void journal_close(rf__store *st)
{
  if (st->journal_open) {
    rf__journal_close(&st->journal);
    st->journal_open = 0;
  }
}

/* XXH3-128 of [off, off+len) of the file, read in block_size chunks. */
static int hash_range(rf__store *st, uint64_t off, uint64_t len,
                      XXH128_hash_t *out)
{
  XXH3_state_t *h = XXH3_createState();
  int e = 0;

  if (h == NULL)
    return ENOMEM;
  XXH3_128bits_reset(h);
  while (len > 0) {
    size_t n = len < st->block_size ? (size_t)len : st->block_size;
    e = read_all(st->fd, st->scratch, n, off);
    if (e != 0)
      break;
    XXH3_128bits_update(h, st->scratch, n);
    off += n;
    len -= n;
  }
  *out = XXH3_128bits_digest(h);
  XXH3_freeState(h);
  return e;
}

/* Writer thread: make every PIECE record so far durable, when due. */
static int maybe_checkpoint(rf__store *st, int force)
{
  uint64_t now;
  int rc;

  if (!st->journal_open || !st->durable || st->unchecked == 0)
    return 0;
  now = uv_hrtime();
  if (!force && st->ckpt_bytes < st->checkpoint_bytes &&
      now - st->ckpt_time < (uint64_t)st->checkpoint_ms * 1000000)
    return 0;
  /* Data first, then the record that vouches for it. */
  if (fdatasync(st->fd) != 0)
    return rf__errno_to_rf(errno);
  rc = rf__journal_checkpoint(&st->journal);
  if (rc != 0)
    return rc;
  st->unchecked = 0;
  st->ckpt_bytes = 0;
  st->ckpt_time = now;
  return 0;
}

static int op_prealloc(rf__store *st, rf__block *op)
{
  int e;

  if (st->discard || st->stream != NULL)
    return 0;
  if (!op->flag && ftruncate(st->fd, 0) != 0)
    return rf__errno_to_rf(errno);
  if (op->arg == 0)
    return 0;
  if (fallocate(st->fd, 0, 0, (off_t)op->arg) != 0) {
    e = errno;
    if (e != EOPNOTSUPP && e != ENOSYS && e != EINVAL)
      return rf__errno_to_rf(e);
  }
  if (ftruncate(st->fd, (off_t)op->arg) != 0)
    return rf__errno_to_rf(errno);
  return 0;
}

static int op_finish(rf__store *st, rf__block *op)
{
  int e;

  if (st->stream != NULL) {
    int sha;
    pthread_mutex_lock(&st->mu);
    sha = st->stream_sha256;
    pthread_mutex_unlock(&st->mu);
    return rf__stream_finish(st->stream, op->arg, op->flag, op->hash, op->ptr,
                             sha);
  }
  if (st->discard)
    return 0;
  if (ftruncate(st->fd, (off_t)op->arg) != 0)
    return rf__errno_to_rf(errno);
  if (op->flag) {
    /* The whole content against the manifest's hashes (flag 1: XXH128,
     * 2: SHA-256; the SHA-256 may be the origin's Repr-Digest), read back
     * in order: a wrong file never gets the final name. */
    XXH3_state_t *h = XXH3_createState();
    EVP_MD_CTX *sha = NULL;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    uint64_t off = 0;
    XXH128_hash_t got;
    int rc = 0;
    if (h == NULL)
      return RF_ENOMEM;
    if (op->flag & 2) {
      sha = EVP_MD_CTX_new();
      if (sha == NULL || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1)
        rc = RF_ENOMEM;
    }
    XXH3_128bits_reset(h);
    e = 0;
    while (rc == 0 && off < op->arg && e == 0) {
      size_t n = op->arg - off < st->block_size ? (size_t)(op->arg - off)
                                                : st->block_size;
      e = read_all(st->fd, st->scratch, n, off);
      if (e == 0) {
        XXH3_128bits_update(h, st->scratch, n);
        if (sha != NULL && EVP_DigestUpdate(sha, st->scratch, n) != 1)
          rc = RF_ENOMEM;
      }
      off += n;
    }
    got = XXH3_128bits_digest(h);
    XXH3_freeState(h);
    if (sha != NULL && rc == 0 && e == 0 &&
        EVP_DigestFinal_ex(sha, digest, &dlen) != 1)
      rc = RF_ENOMEM;
    EVP_MD_CTX_free(sha);
    if (rc != 0)
      return rc;
    if (e != 0)
      return rf__errno_to_rf(e);
    if ((op->flag & 1) && !XXH128_isEqual(got, op->hash))
      return RF_EHASH;
    if ((op->flag & 2) &&
        (dlen != 32 || op->ptr == NULL || memcmp(digest, op->ptr, 32) != 0))
      return RF_EHASH;
  }
  if (st->durable && fdatasync(st->fd) != 0)
    return rf__errno_to_rf(errno);
  /* Rename by name only what is still our file: someone may have removed
   * or replaced the .part (we hold a lock, but only we honour it). */
  if (!rf__claim_check(st->fd, st->part_path))
    return RF_ENOENT;
  if (rename(st->part_path, st->final_path) != 0)
    return rf__errno_to_rf(errno);
  e = rf__fsync_dir_of(st->final_path);
  if (e != 0)
    return rf__errno_to_rf(e);
  journal_close(st);
  if (st->journal_path != NULL)
    rf__journal_remove(st->journal_path);
  return 0;
}

/* Run one control operation; returns 1 if it goes back to the loop. */
static int run_op(rf__store *st, rf__block *op, int prior_err)
{
  int rc = 0, report = 1;
  XXH128_hash_t got;
  uint32_t k;

  switch (op->op) {
  case RF__OP_PREALLOC:
    rc = prior_err ? prior_err : op_prealloc(st, op);
    break;
  case RF__OP_JOURNAL_CREATE:
    journal_close(st);
    if (!prior_err && st->journal_path != NULL) {
      rc = rf__journal_create(&st->journal, st->journal_path, op->ptr);
      st->journal_open = rc == 0;
      st->unchecked = 0;
    }
    rf__journal_meta_free(op->ptr);
    free(op->ptr);
    op->ptr = NULL;
    break;
  case RF__OP_JOURNAL_REOPEN:
    journal_close(st);
    if (!prior_err && st->journal_path != NULL) {
      rc = rf__journal_reopen(&st->journal, st->journal_path, op->ptr);
      st->journal_open = rc == 0;
    }
    break;
  case RF__OP_PIECE:
    report = 0;
    if (!prior_err && st->journal_open) {
      rc = rf__journal_piece(&st->journal, op->piece, op->hash);
      st->unchecked++;
    }
    break;
  case RF__OP_VERIFY:
    if (prior_err) {
      rc = prior_err;
      break;
    }
    rc = hash_range(st, op->off, op->len, &got);
    if (rc != 0) {
      rc = rf__errno_to_rf(rc);
    } else if (!XXH128_isEqual(got, op->hash)) {
      rc = RF_EHASH;
    } else if (st->journal_open) {
      rc = rf__journal_piece(&st->journal, op->piece, op->hash);
      st->unchecked++;
    }
    break;
  case RF__OP_VERIFY_MANY: {
    rf__verify_item *it = op->ptr;
    for (k = 0; k < op->count && !prior_err; k++) {
      int e = hash_range(st, it[k].off, it[k].len, &got);
      it[k].ok = e == 0 && XXH128_isEqual(got, it[k].hash);
    }
    rc = prior_err;
    break;
  }
  case RF__OP_FINISH:
    rc = prior_err ? prior_err : op_finish(st, op);
    break;
  default:
    rc = RF_EINTERNAL;
    break;
  }
  op->result = rc;
  return report;
}

/* Called with mu held: blocks back to the pool. */
static void give_back(rf__store *st, rf__block *list)
{
  while (list != NULL) {
    rf__block *b = list;
    list = b->next;
    b->next = st->free_list;
    st->free_list = b;
    st->nfree++;
  }
}

/* Stream mode, a data block (mu not held): kept, then every block that
 * continues the written prefix is written, one at a time, the loop woken
 * after each (blocks came back).  After an error, or once the store is
 * closing (a job that ended: nothing more is owed to the reader), blocks
 * only go back to the pool. */
static void stream_data(rf__store *st, rf__block *b, int had_err)
{
  rf__block *back = NULL;
  int quit, sha, rc, e = 0;

  pthread_mutex_lock(&st->mu);
  quit = st->quit;
  sha = st->stream_sha256;
  pthread_mutex_unlock(&st->mu);
  if (had_err || quit) {
    b->next = NULL;
    back = b;
  } else {
    rf__stream_put(st->stream, b, &back);
  }
  for (;;) {
    rc = had_err || quit ? 0
                         : rf__stream_write_next(st->stream, sha, &back, &e);
    pthread_mutex_lock(&st->mu);
    if (rc < 0)
      set_error(st, e == EPIPE ? RF_EIO : rf__errno_to_rf(e), e, "write");
    st->written = st->stream->prefix;
    if (st->stream->npending_max > st->kept_max)
      st->kept_max = st->stream->npending_max;
    give_back(st, back);
    back = NULL;
    quit = st->quit;
    pthread_mutex_unlock(&st->mu);
    if (rc <= 0)
      break;
    uv_async_send(&st->async);
  }
}

static void *writer_main(void *arg)
{
  rf__store *st = arg;
  int e_final;
  sigset_t pipe_set;

  /* A reader that went away is an error to report (EPIPE), not a signal
   * that ends the application. */
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
  pthread_mutex_lock(&st->mu);
  for (;;) {
    rf__block *b;
    int e = 0, had_err, report = 0, ck;

    while (st->queue_head == NULL && !st->quit) {
      st->writer_waiting = 1;
      pthread_cond_wait(&st->cv, &st->mu);
      st->writer_waiting = 0;
    }
    b = st->queue_head;
    if (b == NULL)
      break; /* quit, and the queue is drained */
    st->queue_head = b->next;
    if (st->queue_tail == b)
      st->queue_tail = NULL;
    had_err = st->err;
    pthread_mutex_unlock(&st->mu);
    if (b->op != RF__OP_DATA) {
      report = run_op(st, b, had_err);
      ck = had_err ? 0 : maybe_checkpoint(st, 0);
      pthread_mutex_lock(&st->mu);
      if (!report && b->result != 0)
        set_error(st, b->result, 0, "journal");
      /* The loop fails the job on these (job.c op_done): nothing queued
       * after them may still be written, nor the .part renamed. */
      if (b->result != 0 && b->op == RF__OP_PREALLOC)
        set_error(st, b->result, 0, "preallocate");
      if (b->result != 0 && b->op == RF__OP_JOURNAL_CREATE &&
          b->result != RF_EINVAL)
        set_error(st, b->result, 0, "create the journal of");
      if (ck != 0)
        set_error(st, ck, errno, "journal checkpoint");
      b->next = NULL;
      if (report) {
        if (st->done_tail != NULL)
          st->done_tail->next = b;
        else
          st->done_head = b;
        st->done_tail = b;
      } else {
        rf__store_op_free(b);
      }
    } else if (st->stream != NULL) {
      stream_data(st, b, had_err);
      pthread_mutex_lock(&st->mu);
    } else {
      if (!had_err && b->len > 0 && !st->discard)
        e = rf__pwrite_full(st->fd, b->data, b->len, b->off);
      /* Start writeback now, so that fdatasync finds little left to do:
       * disk and network work at the same time. */
      if (e == 0 && b->len > 0 && st->durable && !st->discard)
        sync_file_range(st->fd, (off_t)b->off, (off_t)b->len,
                        SYNC_FILE_RANGE_WRITE);
      if (e == 0 && !had_err)
        st->ckpt_bytes += b->len;
      pthread_mutex_lock(&st->mu);
      if (e != 0)
        set_error(st, rf__errno_to_rf(e), e, "write");
      else if (!had_err)
        st->written += b->len;
      b->next = st->free_list;
      st->free_list = b;
      st->nfree++;
    }
    pthread_mutex_unlock(&st->mu);
    uv_async_send(&st->async);
    pthread_mutex_lock(&st->mu);
  }
  pthread_mutex_unlock(&st->mu);
  /* A clean stop leaves every record durable. */
  pthread_mutex_lock(&st->mu);
  e_final = st->err;
  pthread_mutex_unlock(&st->mu);
  if (e_final == 0)
    maybe_checkpoint(st, 1);
  return NULL;
}

static void on_async(uv_async_t *a)
{
  rf__store *st = a->data;

  if (st->wake_cb != NULL)
    st->wake_cb(st, st->user_data);
}

/* rf__store_open and rf__store_open_stream; stream_fd -1: a file (or
 * nothing, discard mode). */
static int store_start(rf__store *st, uv_loop_t *loop, int fd,
                       const char *part_path, const char *final_path,
                       const char *journal_path, int stream_fd,
                       size_t block_size, unsigned max_blocks,
                       rf__store_wake_cb wake_cb, void *user_data)
{
  int rc = 0;

  memset(st, 0, sizeof(*st));
  st->fd = fd;
  st->block_size = block_size;
  st->max_blocks = max_blocks;
  st->wake_cb = wake_cb;
  st->user_data = user_data;
  st->checkpoint_ms = 2000;
  st->checkpoint_bytes = 256ULL << 20;
  st->ckpt_time = uv_hrtime();
  st->discard = part_path == NULL && stream_fd < 0;
  if (part_path == NULL) /* nothing to read back, journal or rename */
    journal_path = NULL;
  st->part_path = part_path == NULL ? NULL : strdup(part_path);
  st->final_path = part_path == NULL ? NULL : strdup(final_path);
  st->journal_path = journal_path != NULL ? strdup(journal_path) : NULL;
  /* (Nothing is read back from a stream.) */
  st->scratch = stream_fd < 0 ? malloc(block_size) : NULL;
  if (stream_fd >= 0) {
    st->stream = malloc(sizeof(*st->stream));
    if (st->stream != NULL && rf__stream_init(st->stream, stream_fd) != 0) {
      rf__stream_free(st->stream, &st->free_list);
      free(st->stream);
      st->stream = NULL;
    }
  }
  if ((part_path != NULL && (st->part_path == NULL || st->final_path == NULL)) ||
      (stream_fd < 0 && st->scratch == NULL) ||
      (journal_path != NULL && !st->journal_path) ||
      (stream_fd >= 0 && st->stream == NULL)) {
    rc = RF_ENOMEM;
    goto fail;
  }
  pthread_mutex_init(&st->mu, NULL);
  pthread_cond_init(&st->cv, NULL);
  if (uv_async_init(loop, &st->async, on_async) != 0) {
    rc = RF_EIO;
    goto fail_sync;
  }
  st->async.data = st;
  uv_unref((uv_handle_t *)&st->async);
  if (pthread_create(&st->thread, NULL, writer_main, st) != 0) {
    rc = RF_EIO;
    uv_close((uv_handle_t *)&st->async, NULL);
    goto fail_sync;
  }
  st->thread_started = 1;
  return 0;

fail_sync:
  pthread_mutex_destroy(&st->mu);
  pthread_cond_destroy(&st->cv);
fail: /* fd stays the caller's */
  free(st->part_path);
  free(st->final_path);
  free(st->journal_path);
  free(st->scratch);
  if (st->stream != NULL) {
    rf__stream_free(st->stream, &st->free_list);
    free(st->stream);
    st->stream = NULL;
  }
  st->part_path = st->final_path = st->journal_path = NULL;
  st->scratch = NULL;
  st->fd = -1;
  return rc;
}

int rf__store_open(rf__store *st, uv_loop_t *loop, int fd,
                   const char *part_path, const char *final_path,
                   const char *journal_path, size_t block_size,
                   unsigned max_blocks, rf__store_wake_cb wake_cb,
                   void *user_data)
{
  return store_start(st, loop, fd, part_path, final_path, journal_path, -1,
                     block_size, max_blocks, wake_cb, user_data);
}

int rf__store_open_stream(rf__store *st, uv_loop_t *loop, int fd,
                          size_t block_size, unsigned max_blocks,
                          rf__store_wake_cb wake_cb, void *user_data)
{
  if (fd < 0)
    return RF_EINVAL;
  return store_start(st, loop, -1, NULL, NULL, NULL, fd, block_size,
                     max_blocks, wake_cb, user_data);
}

void rf__store_stream_sha256(rf__store *st, int on)
{
  pthread_mutex_lock(&st->mu);
  st->stream_sha256 = on;
  pthread_mutex_unlock(&st->mu);
}

size_t rf__store_set_pool(rf__store *st, size_t block_size,
                          unsigned max_blocks)
{
  size_t bs;

  pthread_mutex_lock(&st->mu);
  if (st->nblocks == 0 && block_size > 0 && block_size < st->block_size)
    st->block_size = block_size; /* (scratch stays larger: fine) */
  if (max_blocks > 0)
    st->max_blocks = max_blocks > st->nblocks ? max_blocks : st->nblocks;
  bs = st->block_size;
  pthread_mutex_unlock(&st->mu);
  return bs;
}

unsigned rf__store_kept_max(rf__store *st)
{
  unsigned n;

  pthread_mutex_lock(&st->mu);
  n = st->kept_max;
  pthread_mutex_unlock(&st->mu);
  return n;
}

rf__block *rf__store_get(rf__store *st)
{
  rf__block *b = NULL;

  pthread_mutex_lock(&st->mu);
  if (st->free_list != NULL) {
    b = st->free_list;
    st->free_list = b->next;
    st->nfree--;
  } else if (st->nblocks < st->max_blocks) {
    st->nblocks++;
    pthread_mutex_unlock(&st->mu);
    b = calloc(1, sizeof(*b));
    if (b != NULL) {
      /* Mapped, not malloc'ed: the pool goes back to the system when the
       * job ends (malloc would keep blocks of this size in its arenas
       * once its mmap threshold has grown), so a long-running embedder's
       * memory returns to where it was (tests/test_soak.c). */
      void *p = mmap(NULL, st->block_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      b->data = p != MAP_FAILED ? p : NULL;
      if (b->data == NULL) {
        free(b);
        b = NULL;
      }
    }
    pthread_mutex_lock(&st->mu);
    if (b == NULL)
      st->nblocks--;
  }
  pthread_mutex_unlock(&st->mu);
  if (b != NULL) {
    b->next = NULL;
    b->off = 0;
    b->len = 0;
    b->cap = st->block_size;
    b->op = RF__OP_DATA;
  }
  return b;
}

unsigned rf__store_available(rf__store *st)
{
  unsigned n;

  pthread_mutex_lock(&st->mu);
  n = st->nfree + (st->max_blocks - st->nblocks);
  pthread_mutex_unlock(&st->mu);
  return n;
}

void rf__store_submit(rf__store *st, rf__block *b)
{
  b->next = NULL;
  pthread_mutex_lock(&st->mu);
  if (st->queue_tail != NULL)
    st->queue_tail->next = b;
  else
    st->queue_head = b;
  st->queue_tail = b;
  if (st->writer_waiting)
    pthread_cond_signal(&st->cv);
  pthread_mutex_unlock(&st->mu);
}

void rf__store_drop(rf__store *st, rf__block *b)
{
  int wake;

  pthread_mutex_lock(&st->mu);
  b->next = st->free_list;
  st->free_list = b;
  st->nfree++;
  wake = st->stream != NULL && st->thread_started && !st->quit;
  pthread_mutex_unlock(&st->mu);
  /* A transfer may be paused for want of this block (in stream mode a
   * whole piece's blocks come back at once when it failed). */
  if (wake)
    uv_async_send(&st->async);
}

rf__block *rf__store_op(int op)
{
  rf__block *b = calloc(1, sizeof(*b));

  if (b != NULL)
    b->op = op;
  return b;
}

void rf__store_op_free(rf__block *op)
{
  if (op == NULL)
    return;
  if (op->op == RF__OP_JOURNAL_CREATE && op->ptr != NULL) {
    rf__journal_meta_free(op->ptr);
    free(op->ptr);
  } else if (op->op == RF__OP_VERIFY_MANY || op->op == RF__OP_FINISH) {
    free(op->ptr);
  }
  free(op);
}

rf__block *rf__store_take_done(rf__store *st)
{
  rf__block *list;

  pthread_mutex_lock(&st->mu);
  list = st->done_head;
  st->done_head = st->done_tail = NULL;
  pthread_mutex_unlock(&st->mu);
  return list;
}

int rf__store_error(rf__store *st, int *err_errno, const char **what)
{
  int e;

  pthread_mutex_lock(&st->mu);
  e = st->err;
  if (err_errno != NULL)
    *err_errno = st->err_errno;
  if (what != NULL)
    *what = st->err_what;
  pthread_mutex_unlock(&st->mu);
  return e;
}

uint64_t rf__store_written(rf__store *st)
{
  uint64_t w;

  pthread_mutex_lock(&st->mu);
  w = st->written;
  pthread_mutex_unlock(&st->mu);
  return w;
}

static void on_async_closed(uv_handle_t *h)
{
  rf__store *st = h->data;
  rf__block *b;

  while ((b = st->free_list) != NULL) {
    st->free_list = b->next;
    munmap(b->data, st->block_size);
    free(b);
  }
  while ((b = st->done_head) != NULL) {
    st->done_head = b->next;
    rf__store_op_free(b);
  }
  pthread_mutex_destroy(&st->mu);
  pthread_cond_destroy(&st->cv);
  free(st->part_path);
  free(st->final_path);
  free(st->journal_path);
  free(st->scratch);
  st->part_path = st->final_path = st->journal_path = NULL;
  st->scratch = NULL;
  if (st->closed_cb != NULL)
    st->closed_cb(st, st->user_data);
}

void rf__store_close(rf__store *st,
                     void (*closed_cb)(rf__store *st, void *user_data))
{
  st->closed_cb = closed_cb;
  if (st->thread_started) {
    pthread_mutex_lock(&st->mu);
    st->quit = 1;
    pthread_cond_signal(&st->cv); /* whether it waits or not */
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL);
    st->thread_started = 0;
  }
  if (st->stream != NULL) { /* the blocks it kept go with the pool */
    rf__stream_free(st->stream, &st->free_list);
    free(st->stream);
    st->stream = NULL;
  }
  journal_close(st);
  if (st->fd >= 0) {
    struct stat sb;
    if (st->unlink_if_empty && fstat(st->fd, &sb) == 0 && sb.st_size == 0 &&
        rf__claim_check(st->fd, st->part_path))
      unlink(st->part_path); /* nothing worth keeping; still ours */
    close(st->fd);
    st->fd = -1;
  }
  uv_close((uv_handle_t *)&st->async, on_async_closed);
}
