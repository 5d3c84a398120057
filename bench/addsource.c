/*
 * bench_addsource: how soon a source added while a download runs raises
 * its throughput (bench/sources, "A source added mid-download").
 *
 *   bench_addsource ORIGIN_URL SOURCE_URL OUTPUT [ADD_AT_S [CONNS [PER_SOURCE]]]
 *
 * Downloads ORIGIN_URL to OUTPUT with CONNS connections (default 8), at
 * most PER_SOURCE (default 4) per source, no flush to disk; ADD_AT_S
 * seconds in (default 3) SOURCE_URL is added as a mirror
 * (rf_job_add_source).  Prints on stdout one line "t bytes" every 100 ms
 * (seconds since the start, content bytes received), then one JSON line:
 * the rate in the second before the add, the rate in the window where it
 * was first 1.5 times that, and how long after the add that came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rangefetch/rangefetch.h"

#define MAXS 4096

typedef struct bench {
  const char *source;
  double add_at;
  int added;
  double t[MAXS];
  double bytes[MAXS];
  unsigned n;
  int error;
  char message[512];
  double seconds;
  uint64_t from_origin, from_mirror;
} bench;

static void on_progress(rf_job *job, const rf_progress *p, void *ud)
{
  bench *b = ud;

  if (b->n < MAXS) {
    b->t[b->n] = p->elapsed;
    b->bytes[b->n] = (double)p->received;
    b->n++;
  }
  if (!b->added && p->elapsed >= b->add_at) {
    rf_source_options s = RF_SOURCE_OPTIONS_INIT;
    int rc;
    s.kind = RF_SOURCE_MIRROR;
    s.url = b->source;
    rc = rf_job_add_source(NULL, job, &s);
    if (rc != 0)
      fprintf(stderr, "rf_job_add_source: %s\n", rf_strerror(rc));
    b->added = 1;
    b->add_at = p->elapsed; /* when it really was added */
  }
}

static void on_done(rf_job *job, const rf_result *r, void *ud)
{
  bench *b = ud;

  (void)job;
  b->error = r->error;
  snprintf(b->message, sizeof(b->message), "%s", r->message);
  b->seconds = r->seconds;
  b->from_origin = r->bytes_from[RF_SOURCE_ORIGIN];
  b->from_mirror = r->bytes_from[RF_SOURCE_MIRROR];
}

/* Bytes per second over [t0, t1], from the samples. */
static double rate_between(const bench *b, double t0, double t1)
{
  unsigned i, a = 0, z = 0;

  for (i = 0; i < b->n; i++) {
    if (b->t[i] <= t0)
      a = i;
    if (b->t[i] <= t1)
      z = i;
  }
  if (z <= a || b->t[z] <= b->t[a])
    return 0;
  return (b->bytes[z] - b->bytes[a]) / (b->t[z] - b->t[a]);
}

int main(int argc, char **argv)
{
  static bench b;
  rf_engine *e = NULL;
  rf_job_options o = RF_JOB_OPTIONS_INIT;
  double before, after = 0, raised = -1;
  unsigned i;
  int rc;

  if (argc < 4) {
    fprintf(stderr, "usage: %s ORIGIN_URL SOURCE_URL OUTPUT [ADD_AT_S "
                    "[CONNS [PER_SOURCE]]]\n",
            argv[0]);
    return 2;
  }
  b.source = argv[2];
  b.add_at = argc > 4 ? atof(argv[4]) : 3.0;
  o.url = argv[1];
  o.output = argv[3];
  o.connections = argc > 5 ? (unsigned)atoi(argv[5]) : 8;
  o.per_source = argc > 6 ? (unsigned)atoi(argv[6]) : 4;
  o.overwrite = 1;
  o.no_sync = 1;
  o.no_resume = 1;
  o.progress_interval_ms = 100;
  o.on_progress = on_progress;
  o.on_done = on_done;
  o.user_data = &b;
  if ((rc = rf_engine_new(&e, NULL)) != 0 ||
      (rc = rf_job_add(NULL, e, &o)) != 0) {
    fprintf(stderr, "cannot start: %s %s\n", rf_strerror(rc),
            e != NULL ? rf_engine_last_error(e) : "");
    return 1;
  }
  rf_engine_run(e);
  rf_engine_free(e);
  if (b.error != 0) {
    fprintf(stderr, "download failed: %s\n", b.message);
    return 1;
  }
  for (i = 0; i < b.n; i++)
    printf("%.3f %.0f\n", b.t[i], b.bytes[i]);
  before = rate_between(&b, b.add_at - 1.0, b.add_at);
  /* The first 500 ms window after the add at 1.5 times the rate before. */
  for (i = 0; i < b.n; i++) {
    double r;
    if (b.t[i] < b.add_at + 0.5)
      continue;
    r = rate_between(&b, b.t[i] - 0.5, b.t[i]);
    if (r >= 1.5 * before) {
      raised = b.t[i] - b.add_at;
      after = r;
      break;
    }
  }
  printf("{\"add_at\":%.3f,\"rate_before\":%.0f,\"rate_raised\":%.0f,"
         "\"raised_after_s\":%.3f,\"seconds\":%.3f,\"from_origin\":%llu,"
         "\"from_mirror\":%llu}\n",
         b.add_at, before, after, raised, b.seconds,
         (unsigned long long)b.from_origin, (unsigned long long)b.from_mirror);
  return 0;
}
