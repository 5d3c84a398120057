/* Whole small text files in one call, for tests (failures assert). */
#ifndef RF_TEST_TEXTFILE_H
#define RF_TEST_TEXTFILE_H

#include <stddef.h>

/* Read path into buf (at most size - 1 bytes, NUL-terminated). */
void tf_read(const char *path, char *buf, size_t size);

/* Create or truncate path and write text into it. */
void tf_write(const char *path, const char *text);

#endif
