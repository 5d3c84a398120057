/* Where the rangefetch CLI under test is. */
#ifndef RF_TEST_CLIPATH_H
#define RF_TEST_CLIPATH_H

/* RF_TEST_BIN (ctest sets it), else "rangefetch" beside this test binary.
 * A static buffer: valid for the life of the process. */
const char *clipath(void);

#endif
