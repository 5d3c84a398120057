/* Where the rangefetch CLI under test is. */
#ifndef RF_TEST_CLIPATH_H
#define RF_TEST_CLIPATH_H

/* RF_TEST_BIN (ctest sets it), else "rangefetch" beside this test binary.
 * A static buffer: valid for the life of the process. */
const char *clipath(void);

#include <sys/types.h>

/* Start `rangefetch get URL -o OUT --quiet EXTRA...` (-v instead of
 * --quiet when RF_TEST_VERBOSE is set); stdout to /dev/null, stderr to
 * errpath (NULL: /dev/null, or the test's stderr with RF_TEST_VERBOSE).
 * extra: NULL-terminated, or NULL.  Returns the child's pid. */
pid_t clipath_spawn_get(const char *url, const char *out,
                        const char *const *extra, const char *errpath);

/* Wait for pid: its exit status, or 128 + the signal that killed it. */
int clipath_wait(pid_t pid);

#endif
