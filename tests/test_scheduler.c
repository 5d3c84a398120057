/* The piece table and run selection. */
#include <criterion/criterion.h>

#include "rangefetch/rangefetch.h"
#include "scheduler.h"

TestSuite(scheduler);

Test(scheduler, geometry)
{
  rf__sched s;
  uint64_t off, len;

  cr_assert_eq(rf__sched_init(&s, 10 * 1024 + 1, 1024), 0);
  cr_assert_eq(s.npieces, 11);
  rf__sched_piece_range(&s, 10, &off, &len);
  cr_assert_eq(off, 10 * 1024);
  cr_assert_eq(len, 1);
  rf__sched_piece_range(&s, 9, &off, &len);
  cr_assert_eq(len, 1024);
  cr_assert_eq(rf__sched_piece_of(&s, 1023), 0);
  cr_assert_eq(rf__sched_piece_of(&s, 1024), 1);
  rf__sched_free(&s);

  cr_assert_eq(rf__sched_init(&s, 0, 1024), 0);
  cr_assert_eq(s.npieces, 0);
  cr_assert(rf__sched_complete(&s));
  rf__sched_free(&s);

  cr_assert_eq(rf__sched_init(&s, 1, 1024), 0);
  cr_assert_eq(s.npieces, 1);
  rf__sched_free(&s);

  cr_assert_eq(rf__sched_init(&s, 100, 0), RF_EINVAL);
  cr_assert_eq(rf__sched_init(&s, 1ULL << 62, 1), RF_EINVAL);
}

Test(scheduler, auto_piece_size)
{
  cr_assert_eq(rf__sched_auto_piece_size(0), 1 << 20);
  cr_assert_eq(rf__sched_auto_piece_size(1ULL << 30), 1 << 20);
  cr_assert_eq(rf__sched_auto_piece_size(64ULL << 30), 2 << 20);
  cr_assert_leq((1ULL << 40) / rf__sched_auto_piece_size(1ULL << 40), 65536);
}

Test(scheduler, spreads_connections)
{
  rf__sched s;
  uint32_t first, count;

  cr_assert_eq(rf__sched_init(&s, 100ULL << 20, 1 << 20), 0);
  /* First run starts at 0. */
  cr_assert(rf__sched_take(&s, 10, &first, &count));
  cr_assert_eq(first, 0);
  cr_assert_eq(count, 10);
  /* The next one splits the largest free run (10..100) at its middle,
   * because piece 9 is being streamed toward it. */
  cr_assert(rf__sched_take(&s, 10, &first, &count));
  cr_assert_eq(first, 55);
  cr_assert_eq(count, 10);
  /* Then the largest free run is 10..55 (45 pieces) -> middle 32. */
  cr_assert(rf__sched_take(&s, 100, &first, &count));
  cr_assert_eq(first, 32);
  cr_assert_eq(count, 23);
  rf__sched_free(&s);
}

Test(scheduler, continues_after_done_piece)
{
  rf__sched s;
  uint32_t first, count, i;

  cr_assert_eq(rf__sched_init(&s, 20, 1), 0);
  cr_assert(rf__sched_take(&s, 5, &first, &count));
  for (i = 0; i < 5; i++)
    cr_assert(rf__sched_mark_done(&s, i));
  cr_assert_not(rf__sched_mark_done(&s, 0), "done twice");
  /* The piece before the free run is DONE: continue right after it. */
  cr_assert(rf__sched_take(&s, 5, &first, &count));
  cr_assert_eq(first, 5);
  rf__sched_free(&s);
}

Test(scheduler, release_and_exhaust)
{
  rf__sched s;
  uint32_t first, count, taken = 0;

  cr_assert_eq(rf__sched_init(&s, 37, 1), 0);
  while (rf__sched_take(&s, 4, &first, &count)) {
    cr_assert_leq(count, 4);
    cr_assert_geq(count, 1);
    taken += count;
    cr_assert_leq(taken, 37, "gave a piece twice");
  }
  cr_assert_eq(taken, 37);
  cr_assert_eq(rf__sched_free_count(&s), 0);
  rf__sched_mark_done(&s, 3);
  rf__sched_release(&s, 0, 8);
  cr_assert_eq(rf__sched_free_count(&s), 7, "DONE pieces stay DONE");
  cr_assert_eq(rf__sched_fail(&s, 2), 1);
  cr_assert_eq(rf__sched_fail(&s, 2), 2);
  rf__sched_reset(&s);
  cr_assert_eq(rf__sched_free_count(&s), 37);
  cr_assert_eq(s.ndone, 0);
  rf__sched_free(&s);
}

Test(scheduler, every_piece_given_once_under_random_play)
{
  rf__sched s;
  uint32_t first, count, i, rounds;
  unsigned seed = 12345;

  cr_assert_eq(rf__sched_init(&s, 1000, 1), 0);
  for (rounds = 0; rounds < 100000 && !rf__sched_complete(&s); rounds++) {
    if (!rf__sched_take(&s, 1 + (seed >> 16) % 16, &first, &count))
      break;
    seed = seed * 1103515245 + 12345;
    for (i = 0; i < count; i++) {
      cr_assert_eq(s.state[first + i], RF__PIECE_ACTIVE);
      if ((seed >> 20) % 4 == 0) {
        /* a failure: the rest goes back */
        rf__sched_release(&s, first + i, count - i);
        break;
      }
      rf__sched_mark_done(&s, first + i);
    }
  }
  cr_assert(rf__sched_complete(&s), "stopped after %u rounds", rounds);
  rf__sched_free(&s);
}
