/*
 * A Criterion-compatible test driver for the ThreadSanitizer build
 * (RF_TSAN, docs/reliability.md).  Criterion 2.4's process isolation
 * (boxfort) cannot start under TSan ("Could not initialize inheritable
 * arena", Criterion issue #274), so the TSan build finds this header first
 * on its include path and links tests/tsan/runner.c instead of
 * libcriterion.  The normal build keeps the real Criterion.
 *
 * Only what tests/ uses is here, with Criterion's semantics:
 *  - Test(suite, name, .init = f, .fini = g, .timeout = s) and
 *    TestSuite(suite, ...): the suite's init runs before the test's, the
 *    test's fini before the suite's; the test's timeout, if set, overrides
 *    the suite's.  Each test runs in a child process (runner.c).
 *  - cr_assert* stop the test (its fini still runs), cr_expect* record a
 *    failure and go on.  The message is optional and printf-style, its
 *    format a string literal: cr_assert_eq(a, b) or
 *    cr_assert_eq(a, b, "at %d", i).
 *  - Comparisons are the plain operators, written out as Criterion does
 *    ((a) == (b)), so the warnings are the same as with Criterion.
 * A macro missing here fails to compile: add it rather than work around it.
 */
#ifndef RF_TSAN_CRITERION_H
#define RF_TSAN_CRITERION_H

/* What the real <criterion/criterion.h> brings in with it. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ------------------------------------------------------------ registry */

/* The designated initializers of Test() and TestSuite(). */
struct cr__data {
  int sentinel_; /* lets the initializer list start with a member */
  void (*init)(void);
  void (*fini)(void);
  double timeout; /* seconds; 0: the suite's, else none */
  bool disabled;
  const char *description;
};

struct cr__test {
  const char *suite;
  const char *name;
  void (*fn)(void);
  struct cr__data data;
  struct cr__test *next;
};

struct cr__suite {
  const char *name;
  struct cr__data data;
  struct cr__suite *next;
};

void cr__register_test(struct cr__test *t);
void cr__register_suite(struct cr__suite *s);

#define Test(Suite, Name, ...)                                          \
  static void cr__fn_##Suite##_##Name(void);                            \
  static struct cr__test cr__test_##Suite##_##Name = {                  \
    #Suite, #Name, cr__fn_##Suite##_##Name,                             \
    { .sentinel_ = 0, __VA_ARGS__ }, NULL                               \
  };                                                                    \
  __attribute__((constructor)) static void                              \
  cr__reg_##Suite##_##Name(void)                                        \
  {                                                                     \
    cr__register_test(&cr__test_##Suite##_##Name);                      \
  }                                                                     \
  static void cr__fn_##Suite##_##Name(void)

#define TestSuite(Suite, ...)                                           \
  static struct cr__suite cr__suite_##Suite = {                         \
    #Suite, { .sentinel_ = 0, __VA_ARGS__ }, NULL                       \
  };                                                                    \
  __attribute__((constructor)) static void cr__regsuite_##Suite(void)   \
  {                                                                     \
    cr__register_suite(&cr__suite_##Suite);                             \
  }                                                                     \
  extern int cr__suite_declared_##Suite

/* ------------------------------------------------------------- reports */

/*
 * A failed check.  `what` says what failed (the expression), `actual` and
 * `expected` are the strings compared (NULL when none), `fmt` is the
 * user's message prefixed with one character ("x", so that an absent
 * message is not an empty format).  cr__fail_abort does not return: it
 * ends the test (longjmp back to the runner, which runs the fini).
 */
__attribute__((noreturn, format(printf, 6, 7))) void
cr__fail_abort(const char *file, int line, const char *what,
               const char *actual, const char *expected, const char *fmt,
               ...);
__attribute__((format(printf, 6, 7))) void
cr__fail_continue(const char *file, int line, const char *what,
                  const char *actual, const char *expected, const char *fmt,
                  ...);
__attribute__((noreturn, format(printf, 1, 2))) void
cr__skip(const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void
cr__log(const char *level, const char *fmt, ...);

/* Kind: abort (cr_assert*) or continue (cr_expect*). */
#define CR__FAIL(Kind, What, Actual, Expected, ...)                     \
  cr__fail_##Kind(__FILE__, __LINE__, What, Actual, Expected,           \
                  "x" __VA_ARGS__)

#define CR__BOOL(Kind, Cond, What, ...)                                 \
  do {                                                                  \
    if (!(Cond))                                                        \
      CR__FAIL(Kind, "The expression " What " is false.", NULL, NULL,   \
               __VA_ARGS__);                                            \
  } while (0)

#define CR__OP(Kind, Op, A, B, ...)                                     \
  CR__BOOL(Kind, (A) Op (B), "(" #A ") " #Op " (" #B ")", __VA_ARGS__)

#define CR__NULL(Kind, Op, V, ...)                                      \
  CR__BOOL(Kind, (V) Op NULL, "(" #V ") " #Op " NULL", __VA_ARGS__)

/* Both strings non-NULL and strcmp(a, b) Op 0, as Criterion. */
#define CR__STR(Kind, Op, A, B, ...)                                    \
  do {                                                                  \
    const char *cr_str_a__ = (A);                                       \
    const char *cr_str_b__ = (B);                                       \
    if (!(cr_str_a__ != NULL && cr_str_b__ != NULL                      \
          && strcmp(cr_str_a__, cr_str_b__) Op 0))                      \
      CR__FAIL(Kind,                                                    \
               "The expression (as strings) (" #A ") " #Op " (" #B      \
               ") is false.", cr_str_a__, cr_str_b__, __VA_ARGS__);     \
  } while (0)

/* Not NULL and empty (Op ==) or not empty (Op !=). */
#define CR__STR_EMPTY(Kind, Op, Is, V, ...)                             \
  do {                                                                  \
    const char *cr_str_v__ = (V);                                       \
    if (!(cr_str_v__ != NULL && cr_str_v__[0] Op '\0'))                 \
      CR__FAIL(Kind, "Expected (" #V ") to be " Is ".", cr_str_v__,     \
               NULL, __VA_ARGS__);                                      \
  } while (0)

#define CR__MEM(Kind, Op, A, B, Size, ...)                              \
  CR__BOOL(Kind, memcmp((A), (B), (Size)) Op 0,                         \
           "(" #A ")[0.." #Size "] " #Op " (" #B ")[0.." #Size "]",     \
           __VA_ARGS__)

/* ----------------------------------------------------- the Criterion API */

#define cr_assert(Cond, ...)     CR__BOOL(abort, Cond, "(" #Cond ")", __VA_ARGS__)
#define cr_expect(Cond, ...)     CR__BOOL(continue, Cond, "(" #Cond ")", __VA_ARGS__)
#define cr_assert_not(Cond, ...) CR__BOOL(abort, !(Cond), "!(" #Cond ")", __VA_ARGS__)
#define cr_expect_not(Cond, ...) CR__BOOL(continue, !(Cond), "!(" #Cond ")", __VA_ARGS__)

#define cr_assert_fail(...)                                             \
  CR__FAIL(abort, "The conditions for this assertion were not met.",    \
           NULL, NULL, __VA_ARGS__)
#define cr_expect_fail(...)                                             \
  CR__FAIL(continue, "The conditions for this assertion were not met.", \
           NULL, NULL, __VA_ARGS__)
#define cr_skip_test(...) cr__skip("x" __VA_ARGS__)

#define cr_assert_eq(A, B, ...)  CR__OP(abort, ==, A, B, __VA_ARGS__)
#define cr_expect_eq(A, B, ...)  CR__OP(continue, ==, A, B, __VA_ARGS__)
#define cr_assert_neq(A, B, ...) CR__OP(abort, !=, A, B, __VA_ARGS__)
#define cr_expect_neq(A, B, ...) CR__OP(continue, !=, A, B, __VA_ARGS__)
#define cr_assert_lt(A, B, ...)  CR__OP(abort, <, A, B, __VA_ARGS__)
#define cr_expect_lt(A, B, ...)  CR__OP(continue, <, A, B, __VA_ARGS__)
#define cr_assert_leq(A, B, ...) CR__OP(abort, <=, A, B, __VA_ARGS__)
#define cr_expect_leq(A, B, ...) CR__OP(continue, <=, A, B, __VA_ARGS__)
#define cr_assert_gt(A, B, ...)  CR__OP(abort, >, A, B, __VA_ARGS__)
#define cr_expect_gt(A, B, ...)  CR__OP(continue, >, A, B, __VA_ARGS__)
#define cr_assert_geq(A, B, ...) CR__OP(abort, >=, A, B, __VA_ARGS__)
#define cr_expect_geq(A, B, ...) CR__OP(continue, >=, A, B, __VA_ARGS__)

#define cr_assert_null(V, ...)     CR__NULL(abort, ==, V, __VA_ARGS__)
#define cr_expect_null(V, ...)     CR__NULL(continue, ==, V, __VA_ARGS__)
#define cr_assert_not_null(V, ...) CR__NULL(abort, !=, V, __VA_ARGS__)
#define cr_expect_not_null(V, ...) CR__NULL(continue, !=, V, __VA_ARGS__)

#define cr_assert_str_eq(A, B, ...)  CR__STR(abort, ==, A, B, __VA_ARGS__)
#define cr_expect_str_eq(A, B, ...)  CR__STR(continue, ==, A, B, __VA_ARGS__)
#define cr_assert_str_neq(A, B, ...) CR__STR(abort, !=, A, B, __VA_ARGS__)
#define cr_expect_str_neq(A, B, ...) CR__STR(continue, !=, A, B, __VA_ARGS__)
#define cr_assert_str_lt(A, B, ...)  CR__STR(abort, <, A, B, __VA_ARGS__)
#define cr_expect_str_lt(A, B, ...)  CR__STR(continue, <, A, B, __VA_ARGS__)
#define cr_assert_str_leq(A, B, ...) CR__STR(abort, <=, A, B, __VA_ARGS__)
#define cr_expect_str_leq(A, B, ...) CR__STR(continue, <=, A, B, __VA_ARGS__)
#define cr_assert_str_gt(A, B, ...)  CR__STR(abort, >, A, B, __VA_ARGS__)
#define cr_expect_str_gt(A, B, ...)  CR__STR(continue, >, A, B, __VA_ARGS__)
#define cr_assert_str_geq(A, B, ...) CR__STR(abort, >=, A, B, __VA_ARGS__)
#define cr_expect_str_geq(A, B, ...) CR__STR(continue, >=, A, B, __VA_ARGS__)

#define cr_assert_str_empty(V, ...)     CR__STR_EMPTY(abort, ==, "an empty string", V, __VA_ARGS__)
#define cr_expect_str_empty(V, ...)     CR__STR_EMPTY(continue, ==, "an empty string", V, __VA_ARGS__)
#define cr_assert_str_not_empty(V, ...) CR__STR_EMPTY(abort, !=, "a non-empty string", V, __VA_ARGS__)
#define cr_expect_str_not_empty(V, ...) CR__STR_EMPTY(continue, !=, "a non-empty string", V, __VA_ARGS__)

#define cr_assert_arr_eq(A, B, Size, ...)  CR__MEM(abort, ==, A, B, Size, __VA_ARGS__)
#define cr_expect_arr_eq(A, B, Size, ...)  CR__MEM(continue, ==, A, B, Size, __VA_ARGS__)
#define cr_assert_arr_neq(A, B, Size, ...) CR__MEM(abort, !=, A, B, Size, __VA_ARGS__)
#define cr_expect_arr_neq(A, B, Size, ...) CR__MEM(continue, !=, A, B, Size, __VA_ARGS__)

#define cr_log_info(...)  cr__log("info", __VA_ARGS__)
#define cr_log_warn(...)  cr__log("warn", __VA_ARGS__)
#define cr_log_error(...) cr__log("error", __VA_ARGS__)

#endif
