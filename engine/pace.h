/*
 * The job's rate limit (rf_job_options max_rate): a token bucket over
 * every connection of the job, decided without I/O.  The job (transfer.c
 * on_write, job.c's pace timer) acts on it: a write that finds the bucket
 * empty pauses its transfer; the timer resumes the paused ones once
 * tokens came back.  A write is taken whole even when it overdraws the
 * bucket (libcurl hands over what it read), so the debt is paid by
 * waiting and the average rate holds exactly.  Tested in
 * tests/test_pace.c.
 */
#ifndef RF_PACE_H
#define RF_PACE_H

#include <stddef.h>
#include <stdint.h>

typedef struct rf__bucket {
  uint64_t rate;   /* bytes per second; 0: no limit */
  double tokens;   /* bytes that may be taken now; negative: owed */
  double burst;    /* most tokens kept while nobody takes them */
  uint64_t last_ns; /* time of the last refill */
} rf__bucket;

/* Set the rate (0: none) at time now_ns; tokens start at the burst, a
 * tenth of a second's worth (at least 16 KiB).  Changing the rate keeps
 * a debt but not a surplus above the new burst. */
void rf__bucket_set(rf__bucket *b, uint64_t rate, uint64_t now_ns);

/* Add the tokens earned since the last refill, up to the burst. */
void rf__bucket_refill(rf__bucket *b, uint64_t now_ns);

/* Whether a transfer may deliver now: no limit, or tokens left. */
int rf__bucket_open(const rf__bucket *b);

/* Take n bytes (the bucket may go below zero). */
void rf__bucket_take(rf__bucket *b, size_t n);

/* Milliseconds until the bucket has tokens again (at least 1); 0 when it
 * has some now or there is no limit. */
uint64_t rf__bucket_wait_ms(const rf__bucket *b);

/* The libcurl receive buffer for a connection of a limited job: small
 * enough that every connection's overdraft together is about a
 * twentieth of a second, 4 KiB to normal. */
long rf__bucket_buffer(uint64_t rate, unsigned nconns, long normal);

#endif
