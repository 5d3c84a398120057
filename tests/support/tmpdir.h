/* A private temporary directory per test (failures assert). */
#ifndef RF_TEST_TMPDIR_H
#define RF_TEST_TMPDIR_H

#include <stddef.h>

/* Create "/tmp/rf-<tag>-XXXXXX" into dir (size bytes). */
void tmpdir_make(char *dir, size_t size, const char *tag);

/* Remove dir and everything below it; a failure is reported, not fatal. */
void tmpdir_remove(const char *dir);

#endif
