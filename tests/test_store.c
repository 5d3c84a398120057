/* The writer thread: offsets, back-pressure, control operations, errors. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/fileio.h"
#include "disk/journal.h"
#include "rangefetch/rangefetch.h"
#include "disk/store.h"
#include "support/tmpdir.h"

static char dir[64];

static void setup(void)
{
  tmpdir_make(dir, sizeof(dir), "store");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

typedef struct ctx {
  unsigned wakes;
  int closed;
} ctx;

static void on_wake(rf__store *st, void *ud)
{
  ctx *c = ud;

  (void)st;
  c->wakes++;
}

static void on_closed(rf__store *st, void *ud)
{
  ctx *c = ud;

  (void)st;
  c->closed = 1;
}

/* Queue an operation and run the loop until it comes back (bounded);
 * returns its result. */
static int run_op(uv_loop_t *loop, rf__store *st, int kind, uint64_t arg,
                  int flag)
{
  rf__block *op = rf__store_op(kind), *done = NULL;
  int result = 12345, i;

  cr_assert_not_null(op);
  op->arg = arg;
  op->flag = flag;
  rf__store_submit(st, op);
  for (i = 0; i < 5000 && done == NULL; i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    done = rf__store_take_done(st);
    if (done == NULL)
      usleep(1000);
  }
  cr_assert_not_null(done, "operation %d never came back", kind);
  cr_assert_null(done->next);
  result = done->result;
  rf__store_op_free(done);
  return result;
}

static int open_store(rf__store *st, uv_loop_t *loop, const char *part,
                      const char *fin, const char *journal, size_t bs,
                      unsigned nblocks, ctx *c)
{
  int fd, created, rc;
  long holder;

  rc = rf__claim_open(part, &fd, &created, &holder);
  if (rc != 0)
    return rf__errno_to_rf(rc);
  rc = rf__store_open(st, loop, fd, part, fin, journal, bs, nblocks, on_wake,
                      c);
  /* The store's async handle is unreferenced (an engine's job timer keeps
   * the loop alive); here nothing else would, so reference it. */
  if (rc == 0)
    uv_ref((uv_handle_t *)&st->async);
  else
    close(fd);
  return rc;
}

static void close_store(uv_loop_t *loop, rf__store *st, ctx *c)
{
  rf__store_close(st, on_closed);
  uv_run(loop, UV_RUN_DEFAULT);
  cr_assert(c->closed);
  cr_assert_eq(uv_loop_close(loop), 0);
}

static void path_of(char *buf, size_t size, const char *name)
{
  snprintf(buf, size, "%s/%s", dir, name);
}

Test(store, writes_at_offsets_then_renames)
{
  uv_loop_t loop;
  rf__store st;
  ctx c = { 0, 0 };
  char part[128], fin[128], got[4096];
  const size_t bs = 1024;
  int k;
  FILE *f;

  uv_loop_init(&loop);
  path_of(part, sizeof(part), "a.part");
  path_of(fin, sizeof(fin), "a");
  cr_assert_eq(open_store(&st, &loop, part, fin, NULL, bs, 4, &c), 0);
  cr_assert_eq(run_op(&loop, &st, RF__OP_PREALLOC, 4 * bs, 0), 0);
  /* Blocks in reverse order: each lands at its own offset. */
  for (k = 3; k >= 0; k--) {
    rf__block *b = rf__store_get(&st);
    cr_assert_not_null(b);
    b->off = (uint64_t)k * bs;
    memset(b->data, 'a' + k, bs);
    b->len = bs;
    rf__store_submit(&st, b);
  }
  /* FINISH runs after every block queued before it. */
  cr_assert_eq(run_op(&loop, &st, RF__OP_FINISH, 4 * bs, 0), 0);
  cr_assert_eq(rf__store_written(&st), 4 * bs);
  cr_assert_eq(access(part, F_OK), -1, ".part still there");
  f = fopen(fin, "rb");
  cr_assert_not_null(f);
  cr_assert_eq(fread(got, 1, sizeof(got), f), 4 * bs);
  fclose(f);
  for (k = 0; k < 4; k++)
    cr_assert_eq(got[(size_t)k * bs + 7], 'a' + k);
  for (k = 0; k < 5000 && c.wakes == 0; k++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  cr_assert_gt(c.wakes, 0, "the writer never woke the loop");
  close_store(&loop, &st, &c);
}

/* Someone else replaced the .part mid-download: FINISH renames nothing. */
Test(store, finish_renames_only_its_own_file)
{
  uv_loop_t loop;
  rf__store st;
  ctx c = { 0, 0 };
  char part[128], fin[128];
  rf__block *b;
  FILE *f;

  uv_loop_init(&loop);
  path_of(part, sizeof(part), "r.part");
  path_of(fin, sizeof(fin), "r");
  cr_assert_eq(open_store(&st, &loop, part, fin, NULL, 1024, 4, &c), 0);
  cr_assert_eq(run_op(&loop, &st, RF__OP_PREALLOC, 1024, 0), 0);
  b = rf__store_get(&st);
  cr_assert_not_null(b);
  memset(b->data, 'x', 1024);
  b->len = 1024;
  rf__store_submit(&st, b);
  /* Another program puts a different file under the .part's name. */
  cr_assert_eq(unlink(part), 0);
  f = fopen(part, "wb");
  cr_assert_not_null(f);
  fputs("not ours", f);
  fclose(f);
  cr_assert_eq(run_op(&loop, &st, RF__OP_FINISH, 1024, 0), RF_ENOENT);
  cr_assert_eq(access(fin, F_OK), -1, "renamed a file it did not write");
  cr_assert_eq(access(part, F_OK), 0, "the other program's file is gone");
  /* ... and removed outright: the same. */
  cr_assert_eq(unlink(part), 0);
  cr_assert_eq(run_op(&loop, &st, RF__OP_FINISH, 1024, 0), RF_ENOENT);
  cr_assert_eq(access(fin, F_OK), -1);
  close_store(&loop, &st, &c);
}

/* unlink_if_empty removes an empty .part on close, and only that. */
Test(store, close_removes_an_empty_part_when_asked)
{
  uv_loop_t loop;
  rf__store st;
  ctx c = { 0, 0 };
  char part[128], fin[128];
  rf__block *b;

  path_of(part, sizeof(part), "e.part");
  path_of(fin, sizeof(fin), "e");
  uv_loop_init(&loop);
  cr_assert_eq(open_store(&st, &loop, part, fin, NULL, 1024, 4, &c), 0);
  st.unlink_if_empty = 1;
  close_store(&loop, &st, &c);
  cr_assert_eq(access(part, F_OK), -1, "empty .part kept");

  c.closed = 0;
  uv_loop_init(&loop);
  cr_assert_eq(open_store(&st, &loop, part, fin, NULL, 1024, 4, &c), 0);
  b = rf__store_get(&st);
  cr_assert_not_null(b);
  memset(b->data, 'y', 10);
  b->len = 10;
  rf__store_submit(&st, b);
  st.unlink_if_empty = 1;
  close_store(&loop, &st, &c);
  cr_assert_eq(access(part, F_OK), 0, "a .part with bytes was removed");
}

Test(store, pool_is_bounded)
{
  uv_loop_t loop;
  rf__store st;
  ctx c = { 0, 0 };
  char part[128], fin[128];
  rf__block *a, *b;
  int i;

  uv_loop_init(&loop);
  path_of(part, sizeof(part), "b.part");
  path_of(fin, sizeof(fin), "b");
  cr_assert_eq(open_store(&st, &loop, part, fin, NULL, 4096, 2, &c), 0);
  cr_assert_eq(rf__store_available(&st), 2);
  a = rf__store_get(&st);
  b = rf__store_get(&st);
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  cr_assert_null(rf__store_get(&st), "pool grew past its bound");
  cr_assert_eq(rf__store_available(&st), 0);
  a->len = 10;
  rf__store_submit(&st, a);
  /* The writer gives it back and wakes the loop. */
  for (i = 0; i < 5000 && rf__store_available(&st) == 0; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  cr_assert_eq(rf__store_available(&st), 1);
  rf__store_drop(&st, b);
  cr_assert_eq(rf__store_available(&st), 2);
  close_store(&loop, &st, &c);
  cr_assert_eq(access(part, F_OK), 0, "close must keep the .part file");
}

Test(store, open_errors)
{
  uv_loop_t loop;
  rf__store st;
  ctx c = { 0, 0 };

  uv_loop_init(&loop);
  cr_assert_eq(open_store(&st, &loop, "/nonexistent/dir/x.part",
                          "/nonexistent/dir/x", NULL, 1024, 2, &c),
               RF_ENOENT);
  cr_assert_eq(uv_loop_close(&loop), 0, "failed open left a handle");
}

Test(store, write_error_is_sticky)
{
  uv_loop_t loop;
  rf__store st;
  ctx c = { 0, 0 };
  char part[128], fin[128];
  struct rlimit rl = { 8192, 8192 };
  rf__block *b;
  int e = 0, i;

  signal(SIGXFSZ, SIG_IGN);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
  uv_loop_init(&loop);
  path_of(part, sizeof(part), "c.part");
  path_of(fin, sizeof(fin), "c");
  cr_assert_eq(open_store(&st, &loop, part, fin, NULL, 4096, 4, &c), 0);
  b = rf__store_get(&st);
  b->off = 1 << 20; /* past the limit */
  b->len = 4096;
  memset(b->data, 1, 4096);
  rf__store_submit(&st, b);
  for (i = 0; i < 5000 && rf__store_error(&st, &e, NULL) == 0; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  cr_assert_eq(rf__store_error(&st, &e, NULL), RF_ENOSPC);
  cr_assert_neq(e, 0);
  /* Later operations report the same error instead of running. */
  cr_assert_eq(run_op(&loop, &st, RF__OP_FINISH, 4096, 0), RF_ENOSPC);
  cr_assert_eq(access(fin, F_OK), -1, "renamed despite the error");
  close_store(&loop, &st, &c);
}

Test(store, prealloc_reports_no_space)
{
  uv_loop_t loop;
  rf__store st;
  ctx c = { 0, 0 };
  char part[128], fin[128];
  struct rlimit rl = { 1 << 20, 1 << 20 };

  signal(SIGXFSZ, SIG_IGN);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
  uv_loop_init(&loop);
  path_of(part, sizeof(part), "d.part");
  path_of(fin, sizeof(fin), "d");
  cr_assert_eq(open_store(&st, &loop, part, fin, NULL, 4096, 4, &c), 0);
  cr_assert_eq(run_op(&loop, &st, RF__OP_PREALLOC, 8 << 20, 0), RF_ENOSPC);
  close_store(&loop, &st, &c);
}

static void fill(rf__store *st, uint64_t off, size_t len, int byte)
{
  rf__block *b = rf__store_get(st);

  cr_assert_not_null(b);
  b->off = off;
  b->len = len;
  memset(b->data, byte, len);
  rf__store_submit(st, b);
}

Test(store, journal_follows_data_and_verify_reads_back)
{
  uv_loop_t loop;
  rf__store st;
  ctx c = { 0, 0 };
  char part[128], fin[128], jpath[160], err[128];
  unsigned char buf[4096];
  rf__journal_meta *meta = calloc(1, sizeof(*meta));
  rf__journal_state js;
  rf__block *op;
  XXH128_hash_t h0, h1;

  memset(buf, 'x', sizeof(buf));
  h0 = XXH3_128bits(buf, sizeof(buf));
  memset(buf, 'y', sizeof(buf));
  h1 = XXH3_128bits(buf, sizeof(buf));
  uv_loop_init(&loop);
  path_of(part, sizeof(part), "j.part");
  path_of(fin, sizeof(fin), "j");
  snprintf(jpath, sizeof(jpath), "%s.rfj", part);
  cr_assert_eq(open_store(&st, &loop, part, fin, jpath, 4096, 4, &c), 0);
  st.durable = 1;
  cr_assert_eq(run_op(&loop, &st, RF__OP_PREALLOC, 8192, 0), 0);
  meta->url = strdup("http://example.org/x");
  meta->etag = strdup("\"e\"");
  meta->last_modified = strdup("");
  meta->length = 8192;
  meta->piece_size = 4096;
  meta->npieces = 2;
  op = rf__store_op(RF__OP_JOURNAL_CREATE);
  op->ptr = meta;
  rf__store_submit(&st, op);
  fill(&st, 0, 4096, 'x');
  op = rf__store_op(RF__OP_PIECE);
  op->piece = 0;
  op->hash = h0;
  rf__store_submit(&st, op);
  /* Piece 1 is read back: right hash first, then a wrong one. */
  fill(&st, 4096, 4096, 'y');
  op = rf__store_op(RF__OP_VERIFY);
  op->piece = 1;
  op->off = 4096;
  op->len = 4096;
  op->hash = h0; /* wrong */
  rf__store_submit(&st, op);
  {
    rf__block *done = NULL;
    int i;
    /* The journal creation reports too; wait for the read-back. */
    for (i = 0; i < 5000 && done == NULL; i++) {
      rf__block *list, *next;
      uv_run(&loop, UV_RUN_NOWAIT);
      for (list = rf__store_take_done(&st); list != NULL; list = next) {
        next = list->next;
        if (list->op == RF__OP_VERIFY)
          done = list;
        else {
          cr_assert_eq(list->result, 0, "op %d failed", list->op);
          rf__store_op_free(list);
        }
      }
      if (done == NULL)
        usleep(1000);
    }
    cr_assert_not_null(done);
    cr_assert_eq(done->result, RF_EHASH);
    rf__store_op_free(done);
  }
  close_store(&loop, &st, &c);
  /* The journal has piece 0 only, checkpointed by the clean close. */
  cr_assert_eq(rf__journal_load(jpath, &js, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(js.npieces, 2);
  cr_assert_eq(js.claimed[0], 2);
  cr_assert(XXH128_isEqual(js.hashes[0], h0));
  cr_assert_eq(js.claimed[1], 0, "a failed read-back was journaled");
  rf__journal_state_free(&js);
  (void)h1;
}
