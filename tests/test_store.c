/* The writer thread: offsets, back-pressure, control operations, errors. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rangefetch/rangefetch.h"
#include "store.h"

static char dir[64];

static void setup(void)
{
  snprintf(dir, sizeof(dir), "/tmp/rf-store-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", dir);
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

/* Run the loop until the pending operation completes (bounded). */
static int wait_op(uv_loop_t *loop, rf__store *st)
{
  int result = 12345, i;

  for (i = 0; i < 5000 && !rf__store_op_poll(st, &result); i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  return result;
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
  cr_assert_eq(rf__store_open(&st, &loop, part, fin, bs, 4, on_wake, &c), 0);
  /* The store's async handle is unreferenced (an engine's job timer keeps
   * the loop alive); here nothing else would, so reference it. */
  uv_ref((uv_handle_t *)&st.async);
  cr_assert_eq(rf__store_start_op(&st, RF__STORE_PREALLOC, 4 * bs), 0);
  cr_assert_eq(wait_op(&loop, &st), 0);
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
  cr_assert_eq(rf__store_start_op(&st, RF__STORE_FINISH, 4 * bs), 0);
  cr_assert_eq(wait_op(&loop, &st), 0);
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
  cr_assert_eq(rf__store_open(&st, &loop, part, fin, 4096, 2, on_wake, &c),
               0);
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
  cr_assert_eq(rf__store_open(&st, &loop, "/nonexistent/dir/x.part",
                              "/nonexistent/dir/x", 1024, 2, on_wake, &c),
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
  cr_assert_eq(rf__store_open(&st, &loop, part, fin, 4096, 4, on_wake, &c),
               0);
  b = rf__store_get(&st);
  b->off = 1 << 20; /* past the limit */
  b->len = 4096;
  memset(b->data, 1, 4096);
  rf__store_submit(&st, b);
  for (i = 0; i < 5000 && rf__store_error(&st, &e) == 0; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  cr_assert_eq(rf__store_error(&st, &e), RF_ENOSPC);
  cr_assert_neq(e, 0);
  /* Later operations report the same error instead of running. */
  cr_assert_eq(rf__store_start_op(&st, RF__STORE_FINISH, 4096), 0);
  cr_assert_eq(wait_op(&loop, &st), RF_ENOSPC);
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
  cr_assert_eq(rf__store_open(&st, &loop, part, fin, 4096, 4, on_wake, &c),
               0);
  cr_assert_eq(rf__store_start_op(&st, RF__STORE_PREALLOC, 8 << 20), 0);
  cr_assert_eq(wait_op(&loop, &st), RF_ENOSPC);
  close_store(&loop, &st, &c);
}
