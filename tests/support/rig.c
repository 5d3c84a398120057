/* The proxy test rig from a test's side (see rig.h). */
#include "rig.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RIG_MAX 96

static char rig_key[RIG_MAX][700];
static char rig_val[RIG_MAX][512];
static int rig_n;

void rig_load(void)
{
  const char *path = getenv("RF_RIG_ENV");
  char line[700];
  FILE *f;

  cr_assert_not_null(path, "RF_RIG_ENV is not set: run through ctest, "
                           "which starts the rig (tests/rig/start)");
  f = fopen(path, "r");
  cr_assert_not_null(f, "cannot read %s: is the rig running?", path);
  rig_n = 0;
  while (rig_n < RIG_MAX && fgets(line, sizeof(line), f) != NULL) {
    char *eq = strchr(line, '=');
    size_t n;
    if (eq == NULL)
      continue;
    *eq = '\0';
    n = strcspn(eq + 1, "\r\n");
    eq[1 + n] = '\0';
    snprintf(rig_key[rig_n], sizeof(rig_key[0]), "%s", line);
    snprintf(rig_val[rig_n], sizeof(rig_val[0]), "%s", eq + 1);
    rig_n++;
  }
  fclose(f);
}

const char *rig(const char *key)
{
  int i;

  for (i = 0; i < rig_n; i++)
    if (strcmp(rig_key[i], key) == 0)
      return rig_val[i];
  cr_assert_fail("rig.env has no %s", key);
  return NULL;
}

void rig_unique_path(const char *marker, const char *tag, char *out,
                     size_t size)
{
  char link[700], target[700];

  snprintf(out, size, "/%s-%s.bin", marker, tag);
  snprintf(link, sizeof(link), "%s%s", rig("RIG_WWW"), out);
  snprintf(target, sizeof(target), "%s/data.bin", rig("RIG_WWW"));
  unlink(link);
  cr_assert_eq(symlink(target, link), 0, "symlink %s", link);
}

int rig_same_as_served(const char *path)
{
  char ref[700], cmd[3800];

  snprintf(ref, sizeof(ref), "%s/data.bin", rig("RIG_WWW"));
  snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", ref, path);
  return system(cmd) == 0;
}

unsigned rig_lines_with(const char *file, const char *a, const char *b)
{
  FILE *f = fopen(file, "r");
  char line[4096];
  unsigned n = 0;

  if (f == NULL)
    return 0;
  while (fgets(line, sizeof(line), f) != NULL)
    if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
      n++;
  fclose(f);
  return n;
}
