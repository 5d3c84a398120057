/*
 * A scripted HTTP server for the hostile-server tests: it answers every
 * request with whatever raw bytes a callback writes, so a test can lie
 * about lengths, ranges, codings and validators in ways a real server
 * (or the range server's fault directives) never would.  127.0.0.1 on a
 * kernel-chosen port; a thread per connection (at most LIAR_MAX_CONNS);
 * every wait is bounded.
 */
#ifndef RF_TEST_LIAR_H
#define RF_TEST_LIAR_H

#include <stddef.h>
#include <stdint.h>

#define LIAR_MAX_CONNS 64

typedef struct liar liar;

/* What a request asked. */
typedef struct liar_req {
  char target[512];
  int has_range;         /* a "Range: bytes=FIRST-[LAST]" header came */
  uint64_t first, last;  /* last UINT64_MAX: open-ended */
  unsigned n;            /* 1-based number of this request */
  char if_range[128];    /* its If-Range value, "" if none */
} liar_req;

/* How to send the answer. */
typedef struct liar_answer {
  char *data;          /* malloc'd raw bytes (head and body); freed by liar */
  size_t len;
  int close_after;     /* close the connection once sent */
  unsigned trickle_ms; /* > 0: send one byte, wait this long, ... */
} liar_answer;

/* Fill *a for rq.  Runs on a connection's thread. */
typedef void (*liar_fn)(const liar_req *rq, liar_answer *a, void *user_data);

/* Start listening; NULL on failure (said on stderr). */
liar *liar_start(liar_fn fn, void *user_data);
uint16_t liar_port(const liar *l);
/* Requests answered so far. */
unsigned liar_requests(const liar *l);
/* Stop: close everything, join every thread, free l. */
void liar_stop(liar *l);

/* Helpers for answers: a printf into a fresh answer; append body bytes
 * [off, off + len) of the generated content for seed (faults_gen_fill). */
void liar_printf(liar_answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void liar_gen(liar_answer *a, uint64_t off, size_t len, uint64_t seed);

#endif
