/*
 * The proxy test rig from a test's side (tests/rig/start writes rig.env;
 * docs/test-rig.md): its keys, the file it serves, and its logs.
 */
#ifndef RF_TEST_RIG_H
#define RF_TEST_RIG_H

#include <stddef.h>

/* Read the file named by $RF_RIG_ENV (set by ctest); fails the test if it
 * cannot.  Call from a suite's init. */
void rig_load(void);

/* The value of key in rig.env; fails the test if there is none. */
const char *rig(const char *key);

/* A name of the served file unique to this test run: "/<marker>-<tag>.bin",
 * a symlink to data.bin, so the logs can be searched for it. */
void rig_unique_path(const char *marker, const char *tag, char *out,
                     size_t size);

/* Whether the file at path has the served data.bin's bytes. */
int rig_same_as_served(const char *path);

/* Lines of file containing a and (unless NULL) b. */
unsigned rig_lines_with(const char *file, const char *a, const char *b);

#endif
