/* Under ASan, fail the test if anything it allocated is left over. */
#ifndef RF_TEST_LEAKS_H
#define RF_TEST_LEAKS_H

#ifdef __SANITIZE_ADDRESS__
#  include <sanitizer/lsan_interface.h>
#  define ASSERT_NO_LEAKS() \
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked")
#else
#  define ASSERT_NO_LEAKS() ((void)0)
#endif

#endif
