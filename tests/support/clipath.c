/* Where the rangefetch CLI under test is (see clipath.h). */
#include "clipath.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *clipath(void)
{
  static char path[4096];
  const char *env = getenv("RF_TEST_BIN");
  ssize_t n;
  char *slash;

  if (env != NULL && env[0] != '\0')
    return env;
  n = readlink("/proc/self/exe", path, sizeof(path) - 16);
  cr_assert_gt(n, 0);
  path[n] = '\0';
  slash = strrchr(path, '/');
  cr_assert_not_null(slash);
  strcpy(slash + 1, "rangefetch");
  return path;
}
