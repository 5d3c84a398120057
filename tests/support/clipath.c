/* Where the rangefetch CLI under test is (see clipath.h). */
#include "clipath.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

pid_t clipath_spawn_get(const char *url, const char *out,
                        const char *const *extra, const char *errpath)
{
  const char *argv[40];
  int n = 0, k;
  pid_t pid;

  argv[n++] = clipath();
  argv[n++] = "get";
  argv[n++] = url;
  argv[n++] = "-o";
  argv[n++] = out;
  argv[n++] = getenv("RF_TEST_VERBOSE") != NULL ? "-v" : "--quiet";
  for (k = 0; extra != NULL && extra[k] != NULL && n < 39; k++)
    argv[n++] = extra[k];
  argv[n] = NULL;
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      if (getenv("RF_TEST_VERBOSE") == NULL)
        dup2(devnull, 2);
    }
    if (errpath != NULL) {
      int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0)
        dup2(fd, 2);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  return pid;
}

int clipath_wait(pid_t pid)
{
  int status = 0;

  cr_assert_eq(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
