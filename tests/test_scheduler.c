/* The piece table and run selection. */
#include <criterion/criterion.h>
#include <string.h>

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

/* Stream mode: the lowest free pieces first, none from the limit on. */
Test(scheduler, in_order_within_a_limit)
{
  rf__sched s;
  uint32_t first, count;
  uint8_t mask[20];

  cr_assert_eq(rf__sched_init(&s, 20, 1), 0);
  cr_assert_eq(s.limit, 20, "no limit by default");
  s.in_order = 1;
  s.limit = 6;
  cr_assert(rf__sched_take(&s, 2, &first, &count));
  cr_assert(first == 0 && count == 2);
  cr_assert(rf__sched_take(&s, 2, &first, &count));
  cr_assert(first == 2 && count == 2, "no sparse start: %u", first);
  cr_assert(rf__sched_take(&s, 5, &first, &count));
  cr_assert(first == 4 && count == 2, "%u+%u past the limit", first, count);
  cr_assert_not(rf__sched_take(&s, 5, &first, &count), "past the limit");
  rf__sched_release(&s, 2, 1);
  cr_assert(rf__sched_take(&s, 5, &first, &count));
  cr_assert(first == 2 && count == 1, "the hole first: %u+%u", first, count);
  s.limit = 9;
  memset(mask, 1, sizeof(mask));
  mask[6] = 0;
  cr_assert(rf__sched_take_mask(&s, 5, mask, &first, &count));
  cr_assert(first == 7 && count == 2, "%u+%u", first, count);
  cr_assert_not(rf__sched_take_mask(&s, 5, mask, &first, &count));
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

Test(scheduler, claim_and_release_leave_done_pieces_alone)
{
  rf__sched s;

  cr_assert_eq(rf__sched_init(&s, 8 * 100, 100), 0);
  rf__sched_mark_done(&s, 2);
  rf__sched_claim(&s, 1, 3);
  cr_assert_eq(s.state[1], RF__PIECE_ACTIVE);
  cr_assert_eq(s.state[2], RF__PIECE_DONE);
  cr_assert_eq(s.state[3], RF__PIECE_ACTIVE);
  cr_assert_eq(s.state[4], RF__PIECE_FREE);
  rf__sched_claim(&s, 7, 5); /* past the end: clipped */
  cr_assert_eq(s.state[7], RF__PIECE_ACTIVE);
  rf__sched_release(&s, 1, 3);
  cr_assert_eq(s.state[1], RF__PIECE_FREE);
  cr_assert_eq(s.state[2], RF__PIECE_DONE);
  cr_assert_eq(rf__sched_free_count(&s), 6);
  rf__sched_free(&s);
}

static rf__run_view run(uint32_t first, uint32_t count, uint32_t piece,
                        uint64_t pos, double rate)
{
  rf__run_view v = { 1, 0, 0, 0, -1, first, count, piece, pos, rate, 0 };
  return v;
}

Test(scheduler, steal_takes_half_of_the_longest_unstarted_tail)
{
  rf__run_view v[4];
  uint32_t first = 0, give = 0;

  v[0] = run(0, 10, 2, 0, 1e6);   /* 7 unstarted: 3..9 */
  v[1] = run(10, 20, 10, 0, 1e6); /* 19 unstarted: 11..29 */
  v[2] = run(30, 40, 30, 0, 1e6);
  v[2].dup = 1;                   /* duplicates are never split */
  v[3] = run(70, 30, 70, 0, 1e6);
  v[3].stopping = 1;              /* nor runs being cancelled */
  cr_assert_eq(rf__sched_pick_steal(v, 4, -1, &first, &give), 1);
  cr_assert_eq(give, 9);
  cr_assert_eq(first, 21, "the victim keeps 10..20, gives 21..29");
  v[1].busy = 0;
  cr_assert_eq(rf__sched_pick_steal(v, 4, -1, &first, &give), 0);
  cr_assert_eq(give, 3);
  cr_assert_eq(first, 7);
  /* One unstarted piece is not worth a request. */
  v[0] = run(0, 3, 1, 0, 1e6);
  cr_assert_eq(rf__sched_pick_steal(v, 4, -1, &first, &give), -1);
  v[0].probe = 1;
  v[0].run_count = 10;
  cr_assert_eq(rf__sched_pick_steal(v, 4, -1, &first, &give), -1,
               "the probe's run is never split");
}

Test(scheduler, duplicate_only_a_straggler)
{
  rf__sched s;
  rf__run_view v[3];
  const uint64_t P = 1 << 20;

  cr_assert_eq(rf__sched_init(&s, 3 * P, P), 0);
  rf__sched_claim(&s, 0, 3);
  /* Three connections at the same 10 MB/s, each half-way: no duplicate
   * (it would take 0.1 s, the owners need 0.05 s). */
  v[0] = run(0, 1, 0, P / 2, 1e7);
  v[1] = run(1, 1, 1, P + P / 2, 1e7);
  v[2] = run(2, 1, 2, 2 * P + P / 2, 1e7);
  cr_assert_eq(rf__sched_pick_duplicate(&s, v, 3, 1e7, 128 * 1024, -1, -1), -1);
  /* One crawls at 100 kB/s: its piece is duplicated. */
  v[1].rate = 1e5;
  cr_assert_eq(rf__sched_pick_duplicate(&s, v, 3, 1e7, 128 * 1024, -1, -1), 1);
  /* Stalled for two ticks counts as a straggler whatever its rate. */
  v[1].rate = 1e7;
  v[2].quiet_ticks = 2;
  cr_assert_eq(rf__sched_pick_duplicate(&s, v, 3, 1e7, 128 * 1024, -1, -1), 2);
  /* Not once it is duplicated already, nor when little is left, nor when
   * the piece is done. */
  v[0] = run(2, 1, 2, 0, 1e7);
  v[0].dup = 1;
  cr_assert_eq(rf__sched_pick_duplicate(&s, v, 3, 1e7, 128 * 1024, -1, -1), -1);
  v[0].busy = 0;
  v[2].pos = 3 * P - 1000;
  cr_assert_eq(rf__sched_pick_duplicate(&s, v, 3, 1e7, 128 * 1024, -1, -1), -1);
  v[2].pos = 2 * P;
  rf__sched_mark_done(&s, 2);
  cr_assert_eq(rf__sched_pick_duplicate(&s, v, 3, 1e7, 128 * 1024, -1, -1), -1);
  rf__sched_free(&s);
}

Test(scheduler, placed_pieces_stay_with_their_source)
{
  rf__sched s;
  rf__run_view v[2];
  uint8_t mask[8] = { 1, 0, 1, 1, 0, 1, 1, 1 };
  uint32_t first = 0, count = 0, give = 0;
  const uint64_t P = 1 << 20;

  /* take_mask: the largest free run among the pieces of the mask. */
  cr_assert_eq(rf__sched_init(&s, 8 * P, P), 0);
  cr_assert_eq(rf__sched_take_mask(&s, 64, mask, &first, &count), 1);
  cr_assert(first == 5 && count == 3, "first %u count %u", first, count);
  cr_assert_eq(rf__sched_take_mask(&s, 1, mask, &first, &count), 1);
  cr_assert(first == 2 && count == 1, "first %u count %u", first, count);
  cr_assert_eq(rf__sched_take_mask(&s, 64, mask, &first, &count), 1);
  cr_assert(first == 0 || first == 3, "first %u", first);
  cr_assert_eq(rf__sched_take_mask(&s, 64, mask, &first, &count), 1);
  cr_assert_eq(rf__sched_take_mask(&s, 64, mask, &first, &count), 0,
               "pieces 1 and 4 are not in the mask");
  cr_assert_eq(rf__sched_free_count(&s), 2);

  /* Stealing and duplicates restricted to one source. */
  v[0] = run(0, 10, 0, 0, 1e6);
  v[0].src = 1;
  v[1] = run(10, 4, 10, 0, 1e6);
  v[1].src = 2;
  cr_assert_eq(rf__sched_pick_steal(v, 2, -1, &first, &give), 0);
  cr_assert_eq(rf__sched_pick_steal(v, 2, 2, &first, &give), 1);
  cr_assert_eq(rf__sched_pick_steal(v, 2, 3, &first, &give), -1);
  rf__sched_free(&s);
}
