/* Writer thread, staging blocks and the .part file (see store.h). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rangefetch/rangefetch.h"

static int map_errno(int e)
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

static int write_all(int fd, const unsigned char *p, size_t len, uint64_t off)
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

static int fsync_dir_of(const char *path)
{
  char *copy = strdup(path);
  int fd, rc = 0;

  if (copy == NULL)
    return ENOMEM;
  fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    if (fsync(fd) != 0 && errno != EINVAL)
      rc = errno;
    close(fd);
  }
  free(copy);
  return rc;
}

static int do_op(rf__store *st, int op, uint64_t arg)
{
  int e;

  if (op == RF__STORE_PREALLOC) {
    if (ftruncate(st->fd, 0) != 0)
      return map_errno(errno);
    if (arg == 0)
      return 0;
    if (fallocate(st->fd, 0, 0, (off_t)arg) != 0) {
      e = errno;
      if (e != EOPNOTSUPP && e != ENOSYS && e != EINVAL)
        return map_errno(e);
    }
    if (ftruncate(st->fd, (off_t)arg) != 0)
      return map_errno(errno);
    return 0;
  }
  /* RF__STORE_FINISH */
  if (ftruncate(st->fd, (off_t)arg) != 0)
    return map_errno(errno);
  if (st->durable && fdatasync(st->fd) != 0)
    return map_errno(errno);
  if (rename(st->part_path, st->final_path) != 0)
    return map_errno(errno);
  e = fsync_dir_of(st->final_path);
  return e == 0 ? 0 : map_errno(e);
}

static void *writer_main(void *arg)
{
  rf__store *st = arg;

  pthread_mutex_lock(&st->mu);
  for (;;) {
    rf__block *b;
    int e = 0, had_err;

    while (st->queue_head == NULL && !st->quit) {
      st->writer_waiting = 1;
      pthread_cond_wait(&st->cv, &st->mu);
      st->writer_waiting = 0;
    }
    b = st->queue_head;
    if (b == NULL)
      break; /* quit, and the queue is drained */
    st->queue_head = b->next;
    if (st->queue_head == NULL)
      st->queue_tail = NULL;
    had_err = st->err;
    pthread_mutex_unlock(&st->mu);
    if (b->op != 0) {
      int r = had_err != 0 ? had_err : do_op(st, b->op, b->op_arg);
      free(b);
      pthread_mutex_lock(&st->mu);
      st->op_result = r;
      st->op_state = RF__OP_DONE;
    } else {
      if (!had_err && b->len > 0)
        e = write_all(st->fd, b->data, b->len, b->off);
      /* Start writeback now, so that the final fdatasync finds little
       * left to do: disk and network work at the same time. */
      if (e == 0 && b->len > 0 && st->durable)
        sync_file_range(st->fd, (off_t)b->off, (off_t)b->len,
                        SYNC_FILE_RANGE_WRITE);
      pthread_mutex_lock(&st->mu);
      if (e != 0 && st->err == 0) {
        st->err = map_errno(e);
        st->err_errno = e;
      } else if (e == 0 && !had_err) {
        st->written += b->len;
      }
      b->next = st->free_list;
      st->free_list = b;
      st->nfree++;
    }
    pthread_mutex_unlock(&st->mu);
    uv_async_send(&st->async);
    pthread_mutex_lock(&st->mu);
  }
  pthread_mutex_unlock(&st->mu);
  return NULL;
}

static void on_async(uv_async_t *a)
{
  rf__store *st = a->data;

  if (st->wake_cb != NULL)
    st->wake_cb(st, st->user_data);
}

int rf__store_open(rf__store *st, uv_loop_t *loop, const char *part_path,
                   const char *final_path, size_t block_size,
                   unsigned max_blocks, rf__store_wake_cb wake_cb,
                   void *user_data)
{
  int rc = 0;

  memset(st, 0, sizeof(*st));
  st->fd = -1;
  st->block_size = block_size;
  st->max_blocks = max_blocks;
  st->wake_cb = wake_cb;
  st->user_data = user_data;
  st->part_path = strdup(part_path);
  st->final_path = strdup(final_path);
  if (st->part_path == NULL || st->final_path == NULL) {
    rc = RF_ENOMEM;
    goto fail;
  }
  st->fd = open(part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (st->fd < 0) {
    rc = map_errno(errno);
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
fail:
  if (st->fd >= 0)
    close(st->fd);
  free(st->part_path);
  free(st->final_path);
  st->part_path = st->final_path = NULL;
  st->fd = -1;
  return rc;
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
    b = malloc(sizeof(*b));
    if (b != NULL) {
      b->data = malloc(st->block_size);
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
    b->op = 0;
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
  pthread_mutex_lock(&st->mu);
  b->next = st->free_list;
  st->free_list = b;
  st->nfree++;
  pthread_mutex_unlock(&st->mu);
}

int rf__store_start_op(rf__store *st, int op, uint64_t arg)
{
  rf__block *b;
  int rc = 0;

  pthread_mutex_lock(&st->mu);
  if (st->op_state == RF__OP_PENDING)
    rc = RF_EBUSY;
  pthread_mutex_unlock(&st->mu);
  if (rc != 0)
    return rc;
  b = calloc(1, sizeof(*b));
  if (b == NULL)
    return RF_ENOMEM;
  b->op = op;
  b->op_arg = arg;
  pthread_mutex_lock(&st->mu);
  st->op_state = RF__OP_PENDING;
  pthread_mutex_unlock(&st->mu);
  rf__store_submit(st, b);
  return 0;
}

int rf__store_op_poll(rf__store *st, int *result)
{
  int done = 0;

  pthread_mutex_lock(&st->mu);
  if (st->op_state == RF__OP_DONE) {
    *result = st->op_result;
    st->op_state = RF__OP_IDLE;
    done = 1;
  }
  pthread_mutex_unlock(&st->mu);
  return done;
}

int rf__store_error(rf__store *st, int *err_errno)
{
  int e;

  pthread_mutex_lock(&st->mu);
  e = st->err;
  if (err_errno != NULL)
    *err_errno = st->err_errno;
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
    free(b->data);
    free(b);
  }
  pthread_mutex_destroy(&st->mu);
  pthread_cond_destroy(&st->cv);
  free(st->part_path);
  free(st->final_path);
  st->part_path = st->final_path = NULL;
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
  if (st->fd >= 0) {
    close(st->fd);
    st->fd = -1;
  }
  uv_close((uv_handle_t *)&st->async, on_async_closed);
}
