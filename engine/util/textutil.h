/*
 * Small text helpers shared by the library and the CLI (curl's curlx
 * pattern, prefix rfx_ like curlx_): util/textutil.c is compiled into
 * both, so the CLI needs no internal header of the engine and calls no
 * rf__ function.  In the shared library these symbols are hidden; each
 * binary has its own copy.  Pure functions, no state.
 */
#ifndef RF_UTIL_TEXTUTIL_H
#define RF_UTIL_TEXTUTIL_H

#include <stddef.h>

/* Value of the hex digit c (either case), or -1. */
int rfx_hexval(int c);

/*
 * Length (1-4) of the valid UTF-8 sequence at s, looking at no more than n
 * bytes, or 0 when there is none: a stray or missing continuation byte,
 * an overlong form, a surrogate, a code point past U+10FFFF.  ASCII bytes
 * (control characters included) are sequences of 1.
 */
size_t rfx_utf8_len(const unsigned char *s, size_t n);

#endif
