/*
 * Checks of speed: upper bounds on wall-clock time, and on what a process
 * that falls behind its input loses when killed.  Under ThreadSanitizer
 * the code runs 5-15x slower, so that build leaves them out
 * (docs/reliability.md) and checks everything else.  Lower bounds stay
 * checked everywhere (a rate limit must not be beaten): slowness cannot
 * break them.
 */
#ifndef RF_TEST_SPEED_H
#define RF_TEST_SPEED_H

#ifdef __SANITIZE_THREAD__
#  define SPEED_CHECKED 0
#else
#  define SPEED_CHECKED 1
#endif

#endif
