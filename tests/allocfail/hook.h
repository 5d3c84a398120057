/*
 * The allocation hook of the allocation-failure sweep (tests/allocfail):
 * every allocation of the engine's objects (linked with -Wl,--wrap), of
 * libcurl (curl_global_init_mem) and of OpenSSL (CRYPTO_set_mem_functions)
 * is counted, and the Nth one fails.  libuv's (uv_replace_allocator) are
 * counted apart and never failed: libuv aborts on its own allocation
 * failures by design.
 * Test code only: the library itself has no such state.
 */
#ifndef RF_ALLOCFAIL_HOOK_H
#define RF_ALLOCFAIL_HOOK_H

/* Route libuv, libcurl and OpenSSL through the hook.  Call first. */
int af_install(void);

/* From now on, count allocations and fail the nth (1-based); 0: count
 * only. */
void af_arm(long nth);

/* libuv's allocations since af_arm: counted, never failed (libuv aborts
 * when its own allocations fail). */
long af_uv_allocations(void);

/* Stop counting.  Returns how many allocations were counted since
 * af_arm; *failed (may be NULL) says whether the nth one came. */
long af_disarm(int *failed);

#endif
