/* The job's rate limit as a token bucket (engine/pace.c), without I/O. */
#include <criterion/criterion.h>

#include "pace.h"

#define MS 1000000ull

Test(pace, no_limit_is_always_open)
{
  rf__bucket b = { 0 };

  rf__bucket_set(&b, 0, 0);
  cr_assert(rf__bucket_open(&b));
  rf__bucket_take(&b, 1u << 30);
  cr_assert(rf__bucket_open(&b));
  cr_assert_eq(rf__bucket_wait_ms(&b), 0);
  cr_assert_eq(rf__bucket_buffer(0, 8, 1 << 20), 1 << 20);
}

Test(pace, starts_with_a_tenth_of_a_second_then_waits_the_debt_off)
{
  rf__bucket b = { 0 };

  rf__bucket_set(&b, 1000000, 0); /* 1 MB/s: burst 100 KB */
  cr_assert(rf__bucket_open(&b));
  rf__bucket_take(&b, 100000);
  cr_assert(!rf__bucket_open(&b), "tokens %f", b.tokens);
  rf__bucket_take(&b, 50000); /* an overdraft: 50 ms owed */
  cr_assert_eq(rf__bucket_wait_ms(&b), 51, "%llu",
               (unsigned long long)rf__bucket_wait_ms(&b));
  rf__bucket_refill(&b, 40 * MS);
  cr_assert(!rf__bucket_open(&b));
  rf__bucket_refill(&b, 51 * MS);
  cr_assert(rf__bucket_open(&b), "tokens %f", b.tokens);
}

Test(pace, the_average_rate_holds_over_many_takes)
{
  rf__bucket b = { 0 };
  uint64_t now = 0, taken = 0;
  int k;

  /* A consumer that takes 8 KiB whenever the bucket is open, checked
   * every millisecond, for 10 s: what it got is 10 s of the rate plus
   * the first burst and at most one overdraft. */
  rf__bucket_set(&b, 200000, 0);
  for (k = 0; k < 10000; k++) {
    now += MS;
    rf__bucket_refill(&b, now);
    while (rf__bucket_open(&b)) {
      rf__bucket_take(&b, 8192);
      taken += 8192;
    }
  }
  cr_assert(taken >= 2000000 && taken <= 2000000 + 20000 + 8192, "%llu",
            (unsigned long long)taken);
}

Test(pace, idle_time_is_not_saved_beyond_the_burst)
{
  rf__bucket b = { 0 };

  rf__bucket_set(&b, 100000, 0);
  rf__bucket_take(&b, 10000);
  rf__bucket_refill(&b, 60000 * MS); /* a minute idle */
  cr_assert(b.tokens <= 16384.0 + 0.5, "%f", b.tokens);
}

Test(pace, a_new_rate_keeps_the_debt)
{
  rf__bucket b = { 0 };

  rf__bucket_set(&b, 100000, 0);
  rf__bucket_take(&b, 116384); /* 100000 owed */
  rf__bucket_set(&b, 1000000, 0);
  cr_assert(!rf__bucket_open(&b));
  cr_assert_eq(rf__bucket_wait_ms(&b), 101);
  rf__bucket_set(&b, 0, 0);
  cr_assert(rf__bucket_open(&b));
}

Test(pace, buffers_shrink_with_the_rate)
{
  cr_assert_eq(rf__bucket_buffer(200000, 4, 1 << 20), 4096);
  cr_assert_eq(rf__bucket_buffer(80000000, 8, 1 << 20), 500000);
  cr_assert_eq(rf__bucket_buffer(1ull << 40, 8, 1 << 20), 1 << 20);
}
