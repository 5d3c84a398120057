/* Temporary directories for tests (see tmpdir.h). */
#include "support/tmpdir.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

void tmpdir_make(char *dir, size_t size, const char *tag)
{
  int n = snprintf(dir, size, "/tmp/rf-%s-XXXXXX", tag);

  cr_assert(n > 0 && (size_t)n < size, "directory name too long");
  cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
}

void tmpdir_remove(const char *dir)
{
  char cmd[600];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
}
