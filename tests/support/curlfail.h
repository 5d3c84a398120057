/*
 * libcurl's allocations through a counter that fails the Nth one
 * (curl_global_init_mem): for the out-of-memory paths of code that calls
 * libcurl's URL API.  Test code only, one thread.
 */
#ifndef RF_TEST_CURLFAIL_H
#define RF_TEST_CURLFAIL_H

/* Route libcurl's allocations through the counter.  First thing in the
 * test: once libcurl is initialised in the process, it keeps its own
 * (curlfail_count then stays 0).  Returns 0, -1. */
int curlfail_install(void);

/* Count from now and fail the nth allocation (1-based; 0: none). */
void curlfail_arm(long nth);

/* Allocations counted since curlfail_arm. */
long curlfail_count(void);

#endif
