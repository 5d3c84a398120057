/* The job's rate limit: a token bucket (pace.h). */
#include "pace.h"

#define PACE_MIN_BURST 16384.0

static double burst_of(uint64_t rate)
{
  double b = (double)rate / 10.0;
  return b < PACE_MIN_BURST ? PACE_MIN_BURST : b;
}

void rf__bucket_set(rf__bucket *b, uint64_t rate, uint64_t now_ns)
{
  int first = b->rate == 0;

  b->rate = rate;
  b->last_ns = now_ns;
  if (rate == 0) {
    b->tokens = 0;
    b->burst = 0;
    return;
  }
  b->burst = burst_of(rate);
  if (first || b->tokens > b->burst)
    b->tokens = b->burst;
}

void rf__bucket_refill(rf__bucket *b, uint64_t now_ns)
{
  if (b->rate == 0 || now_ns <= b->last_ns)
    return;
  b->tokens += (double)b->rate * (double)(now_ns - b->last_ns) / 1e9;
  if (b->tokens > b->burst)
    b->tokens = b->burst;
  b->last_ns = now_ns;
}

int rf__bucket_open(const rf__bucket *b)
{
  return b->rate == 0 || b->tokens > 0;
}

void rf__bucket_take(rf__bucket *b, size_t n)
{
  if (b->rate != 0)
    b->tokens -= (double)n;
}

uint64_t rf__bucket_wait_ms(const rf__bucket *b)
{
  double ms;

  if (b->rate == 0 || b->tokens > 0)
    return 0;
  ms = (-b->tokens + 1.0) * 1000.0 / (double)b->rate;
  return ms < 1.0 ? 1 : (uint64_t)ms + 1;
}

long rf__bucket_buffer(uint64_t rate, unsigned nconns, long normal)
{
  double per;

  if (rate == 0 || nconns == 0)
    return normal;
  per = (double)rate / 20.0 / (double)nconns;
  if (per < 4096.0)
    return 4096;
  return per > (double)normal ? normal : (long)per;
}
