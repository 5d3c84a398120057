/* Small text files for tests (see textfile.h). */
#include "support/textfile.h"

#include <criterion/criterion.h>
#include <stdio.h>

void tf_read(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "r");
  size_t n;

  cr_assert_not_null(f, "cannot read %s", path);
  n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  fclose(f);
}

void tf_write(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");

  cr_assert_not_null(f, "cannot create %s", path);
  fputs(text, f);
  cr_assert_eq(fclose(f), 0, "cannot write %s", path);
}
