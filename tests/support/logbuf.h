/*
 * An rf_log_cb that keeps the engine's log lines in memory, for tests that
 * assert what was logged (and that no secret was).
 */
#ifndef RF_TEST_LOGBUF_H
#define RF_TEST_LOGBUF_H

#include <stddef.h>

#include "rangefetch.h"

typedef struct logbuf {
  char text[65536]; /* "[module] message\n" lines; cut when full */
  size_t len;
} logbuf;

/* rf_log_cb appending to the logbuf given as user data. */
void logbuf_cb(rf_log_level level, const char *module, const char *msg,
               void *user_data);

/* A new engine on its own loop that logs everything (debug level) into lb,
 * or stays silent when lb is NULL. */
rf_engine *logbuf_engine(logbuf *lb);

/* The largest number that follows key anywhere in the log (0: none). */
unsigned long long logbuf_most_after(const logbuf *lb, const char *key);

#endif
