/*
 * What every fuzz target shares (tests/fuzz/<target>.c, docs/reliability.md).
 *
 * A target defines LLVMFuzzerTestOneInput only.  It is built twice: with
 * clang and libFuzzer (cmake -DRF_FUZZ=ON, scripts/fuzz), and with gcc
 * against tests/fuzz/replay.c, which replays the seed corpus and the
 * crashers under ctest (fuzz_<target>).  So a target is plain C17 that
 * compiles warning-free under RF_WARNINGS, is deterministic, frees what it
 * allocates, never touches the network and never sleeps.  A broken
 * invariant is reported with fuzz_fail (abort), which both drivers see as
 * a crash.
 */
#ifndef RF_FUZZ_H
#define RF_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer's entry point: run one input; always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test does not hold: say which, abort. */
static inline void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static inline void fuzz_fail(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  fputs("fuzz invariant broken: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* A malloc'd copy of n bytes with a NUL after them (n + 1 bytes, so ASan
 * sees any read past the NUL).  Aborts when out of memory. */
static inline char *fuzz_cstr(const uint8_t *p, size_t n)
{
  char *s = malloc(n + 1);

  if (s == NULL)
    abort();
  if (n > 0)
    memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* A malloc'd copy of exactly n bytes, without a NUL (one byte when n is 0,
 * never read): for parsers that take (pointer, length), so ASan sees any
 * read past the end.  Aborts when out of memory. */
static inline char *fuzz_bytes(const uint8_t *p, size_t n)
{
  char *s = malloc(n > 0 ? n : 1);

  if (s == NULL)
    abort();
  if (n > 0)
    memcpy(s, p, n);
  return s;
}

/*
 * Split the input into fields: the next field of *data (*size bytes left)
 * is what comes before the first sep byte (or everything).  Returns where
 * it starts, with its length in *len; *data and *size move past it and its
 * separator.
 */
static inline const uint8_t *fuzz_field(const uint8_t **data, size_t *size,
                                        uint8_t sep, size_t *len)
{
  const uint8_t *start = *data;
  const uint8_t *end = *size > 0 ? memchr(start, sep, *size) : NULL;

  *len = end != NULL ? (size_t)(end - start) : *size;
  *data += *len;
  *size -= *len;
  if (end != NULL) {
    (*data)++;
    (*size)--;
  }
  return start;
}

#endif /* RF_FUZZ_H */
