/*
 * The generated shell completion and manual pages (scripts/gen-completion,
 * scripts/gen-man; built into the build directory by the target
 * rf_cli_docs): the bash script, sourced by a non-interactive bash, asked
 * as bash asks it (COMP_WORDS, COMP_CWORD, the function `complete -p`
 * names), and the pages rendered by man(1).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/textfile.h"
#include "support/tmpdir.h"

static char dir[256];

static void setup(void)
{
  tmpdir_make(dir, sizeof(dir), "completion");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(completion, .init = setup, .fini = teardown, .timeout = 60);

/* REL in the build directory: where rf_tests is. */
static void build_path(char *buf, size_t size, const char *rel)
{
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  char *slash;
  int k;

  cr_assert_gt(n, 0);
  exe[n] = '\0';
  slash = strrchr(exe, '/');
  cr_assert_not_null(slash);
  *slash = '\0';
  k = snprintf(buf, size, "%s/%s", exe, rel);
  cr_assert(k > 0 && (size_t)k < size);
}

/* Run argv (argv[0] found in PATH), stdin from /dev/null, with env_set
 * ("NAME=VALUE" entries, NULL-terminated, or NULL) added to the
 * environment; stdout into out.  Returns the exit status. */
static int run_capture(char *const argv[], char *const env_set[], char *out,
                       size_t size)
{
  int fds[2], status = 0;
  size_t len = 0;
  ssize_t n;
  pid_t pid;

  cr_assert_eq(pipe(fds), 0);
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
      dup2(null, 0);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    for (int k = 0; env_set != NULL && env_set[k] != NULL; k++)
      putenv(env_set[k]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  while ((n = read(fds[0], out + len, size - 1 - len)) > 0)
    len += (size_t)n;
  out[len] = '\0';
  close(fds[0]);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status), "%s: killed", argv[0]);
  return WEXITSTATUS(status);
}

/* What the bash completion offers for the words of a command line, the
 * cursor at the end of the last one (words[0] is "rangefetch"; NULL ends
 * them): COMPREPLY, one per line, into out. */
static const char complete_script[] =
    "set -u\n"
    ". \"$1\"; shift\n"
    "spec=$(complete -p rangefetch) || exit 3\n"
    "fn=${spec#*-F }; fn=${fn%% *}\n"
    "COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1))\n"
    "COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}\n"
    "COMPREPLY=()\n"
    "\"$fn\" rangefetch \"${COMP_WORDS[COMP_CWORD]}\" "
    "\"${COMP_WORDS[COMP_CWORD - 1]}\" || exit 4\n"
    "((${#COMPREPLY[@]} == 0)) || printf '%s\\n' \"${COMPREPLY[@]}\"\n";

static void complete_words(char *out, size_t size, const char *const *words)
{
  char script[4096];
  char *argv[40];
  int n = 0, rc;

  build_path(script, sizeof(script), "completion/rangefetch");
  argv[n++] = "bash";
  argv[n++] = "--norc";
  argv[n++] = "--noprofile";
  argv[n++] = "-c";
  argv[n++] = (char *)complete_script;
  argv[n++] = "complete-test";
  argv[n++] = script;
  for (int k = 0; words[k] != NULL && n < 39; k++)
    argv[n++] = (char *)words[k];
  argv[n] = NULL;
  rc = run_capture(argv, NULL, out, size);
  cr_assert_eq(rc, 0, "bash completion script %s failed: exit %d", script,
               rc);
}

#define COMPLETE(out, ...)                                                     \
  complete_words(out, sizeof(out), (const char *const[]){ __VA_ARGS__, NULL })

/* Is word one of the lines of text? */
static int has_line(const char *text, const char *word)
{
  size_t len = strlen(word);

  for (const char *p = text; *p != '\0';) {
    const char *end = strchr(p, '\n');
    size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
    if (n == len && memcmp(p, word, len) == 0)
      return 1;
    p += n + (end != NULL);
  }
  return 0;
}

static int count_lines(const char *text)
{
  int n = 0;

  for (const char *p = text; *p != '\0'; p++)
    n += *p == '\n';
  return n;
}

/* ------------------------------------------------------------ commands */

Test(completion, a_prefix_completes_the_command)
{
  char out[4096];

  COMPLETE(out, "rangefetch", "g");
  cr_assert_str_eq(out, "get\n");
  COMPLETE(out, "rangefetch", "ma");
  cr_assert_str_eq(out, "manifest\n");
}

Test(completion, an_empty_word_offers_every_command_and_no_option)
{
  static const char *const cmds[] = { "get", "serve", "manifest", "proxy",
                                      "bench" };
  char out[4096];

  COMPLETE(out, "rangefetch", "");
  for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
    cr_assert(has_line(out, cmds[k]), "no %s in:\n%s", cmds[k], out);
  for (const char *p = out; *p != '\0'; p = strchr(p, '\n') + 1)
    cr_assert_neq(*p, '-', "an option offered for a command:\n%s", out);
  COMPLETE(out, "rangefetch", "--");
  cr_assert_str_eq(out, "--help\n--version\n");
}

/* ------------------------------------------------------------- options */

Test(completion, long_options_of_get_by_prefix)
{
  char out[4096];

  COMPLETE(out, "rangefetch", "get", "--con");
  cr_assert(has_line(out, "--connect-timeout"), "%s", out);
  cr_assert(has_line(out, "--connections"), "%s", out);
  for (const char *p = out; *p != '\0'; p = strchr(p, '\n') + 1)
    cr_assert_eq(strncmp(p, "--con", 5), 0, "offered: %s", out);
  /* After the operand too; and nothing after "--". */
  COMPLETE(out, "rangefetch", "get", "http://h/x", "-c", "4", "--no-res");
  cr_assert_str_eq(out, "--no-resume\n");
  COMPLETE(out, "rangefetch", "get", "--", "--con");
  cr_assert_str_eq(out, "");
}

Test(completion, each_command_offers_its_own_options)
{
  char out[8192];

  COMPLETE(out, "rangefetch", "serve", "--");
  cr_assert(has_line(out, "--listen"), "%s", out);
  cr_assert(has_line(out, "--limit-rate"), "%s", out);
  cr_assert(has_line(out, "--no-partial"), "%s", out);
  cr_assert(has_line(out, "--quiet"), "%s", out);
  /* get's, not serve's. */
  cr_assert_not(has_line(out, "--connections"), "%s", out);
  cr_assert_not(has_line(out, "--output"), "%s", out);
  cr_assert_not(has_line(out, "--mirror"), "%s", out);
  cr_assert_not(has_line(out, "--proxy"), "%s", out);

  COMPLETE(out, "rangefetch", "manifest", "x.iso", "--");
  cr_assert(has_line(out, "--sha256"), "%s", out);
  cr_assert_not(has_line(out, "--listen"), "%s", out);
  COMPLETE(out, "rangefetch", "get", "-");
  cr_assert(has_line(out, "-o"), "%s", out);
  cr_assert(has_line(out, "--output"), "%s", out);
}

Test(completion, fixed_choices_complete_as_their_words)
{
  char out[4096];

  COMPLETE(out, "rangefetch", "get", "--cache-host-proxy", "");
  cr_assert_str_eq(out, "auto\ndirect\n");
  COMPLETE(out, "rangefetch", "get", "--cache-host-source", "dhcp");
  cr_assert_str_eq(out, "dhcp\ndhcp-force\n");
  COMPLETE(out, "rangefetch", "proxy", "explain", "--context", "s");
  cr_assert_str_eq(out, "service\n");
  /* --name=VALUE: bash splits the word at '=' ... */
  COMPLETE(out, "rangefetch", "get", "--cache-host-proxy", "=", "d");
  cr_assert_str_eq(out, "direct\n");
  COMPLETE(out, "rangefetch", "get", "--cache-host-proxy", "=");
  cr_assert_str_eq(out, "auto\ndirect\n");
  /* ... unless '=' is not in COMP_WORDBREAKS: then the whole word. */
  COMPLETE(out, "rangefetch", "get", "--cache-host-proxy=a");
  cr_assert_str_eq(out, "--cache-host-proxy=auto\n");
}

Test(completion, a_value_is_not_taken_for_an_operand)
{
  char out[4096];

  /* proxy's first operand is the word "explain"; "user" is --context's. */
  COMPLETE(out, "rangefetch", "proxy", "--context", "user", "");
  cr_assert_str_eq(out, "explain\n");
  COMPLETE(out, "rangefetch", "proxy", "explain", "");
  cr_assert_str_eq(out, "");
  /* A value not completed (a number) offers nothing, not the options. */
  COMPLETE(out, "rangefetch", "get", "-c", "");
  cr_assert_str_eq(out, "");
}

/* --------------------------------------------------------------- paths */

static void make_tree(void)
{
  char p[512];

  snprintf(p, sizeof(p), "%s/data.bin", dir);
  tf_write(p, "x");
  snprintf(p, sizeof(p), "%s/sub", dir);
  cr_assert_eq(mkdir(p, 0700), 0);
}

Test(completion, file_values_complete_as_paths)
{
  char out[4096], cur[300], file[300], sub[300], eq[320];

  make_tree();
  snprintf(cur, sizeof(cur), "%s/", dir);
  snprintf(file, sizeof(file), "%s/data.bin", dir);
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  COMPLETE(out, "rangefetch", "get", "http://h/x", "-o", cur);
  cr_assert(has_line(out, file), "%s", out);
  cr_assert(has_line(out, sub), "%s", out);
  cr_assert_eq(count_lines(out), 2, "%s", out);
  /* Grouped short flags ending in -o; --output=. */
  COMPLETE(out, "rangefetch", "get", "-qo", cur);
  cr_assert(has_line(out, file), "%s", out);
  snprintf(cur, sizeof(cur), "--output=%s/d", dir);
  snprintf(eq, sizeof(eq), "--output=%s", file);
  COMPLETE(out, "rangefetch", "get", cur);
  cr_assert_str_eq(out, strcat(eq, "\n"));
  /* manifest's operand is a file. */
  snprintf(cur, sizeof(cur), "%s/d", dir);
  COMPLETE(out, "rangefetch", "manifest", cur);
  cr_assert(has_line(out, file), "%s", out);
}

Test(completion, a_directory_operand_completes_directories_only)
{
  char out[4096], cur[300], sub[300];

  make_tree();
  snprintf(cur, sizeof(cur), "%s/", dir);
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  COMPLETE(out, "rangefetch", "serve", cur);
  cr_assert_str_eq(out, strcat(sub, "\n"));
}

/* ----------------------------------------------------------------- zsh */

Test(completion, the_zsh_script_is_there)
{
  char path[4096], text[65536];

  build_path(path, sizeof(path), "completion/_rangefetch");
  tf_read(path, text, sizeof(text));
  cr_assert_eq(strncmp(text, "#compdef rangefetch\n", 20), 0, "%s", path);
  cr_assert_not_null(strstr(text, "--cache-host-proxy=["), "%s", path);
  cr_assert_not_null(strstr(text, ":(auto direct)'"), "%s", path);
}

/* --------------------------------------------------------- manual pages */

/* `man -l PAGE` as plain text, 80 columns. */
static void man_render(const char *page, char *out, size_t size)
{
  char path[4096];
  char *argv[] = { "man", "-l", path, NULL };
  char *env[] = { "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C",
                  NULL };
  struct stat st;
  int rc;

  build_path(path, sizeof(path), page);
  cr_assert_eq(stat(path, &st), 0, "no %s", path);
  rc = run_capture(argv, env, out, size);
  cr_assert_eq(rc, 0, "man -l %s: exit %d", path, rc);
}

Test(completion, the_manual_pages_render_with_every_command)
{
  char cmds[256], text[65536], page[512], want[512];

  man_render("man/rangefetch.1", text, sizeof(text));
  cr_assert_not_null(strstr(text, "\nNAME\n       rangefetch - "), "%s", text);
  cr_assert_not_null(strstr(text, "\nSYNOPSIS\n       rangefetch "), "%s",
                     text);
  cr_assert_not_null(strstr(text, "\nEXIT STATUS\n"), "%s", text);
  cr_assert_not_null(strstr(text, "\nSEE ALSO\n"), "%s", text);
  /* Every command the completion knows (that is, the help lists): in
   * rangefetch(1), and a page of its own naming its options. */
  COMPLETE(cmds, "rangefetch", "");
  cr_assert_geq(count_lines(cmds), 5, "%s", cmds);
  for (char *p = cmds, *end; (end = strchr(p, '\n')) != NULL; p = end + 1) {
    char sub[65536];
    *end = '\0';
    snprintf(want, sizeof(want), "rangefetch %s ", p);
    cr_assert_not_null(strstr(text, want), "no '%s' in:\n%s", want, text);
    snprintf(want, sizeof(want), "rangefetch-%s(1)", p);
    cr_assert_not_null(strstr(text, want), "no '%s' in:\n%s", want, text);
    snprintf(page, sizeof(page), "man/rangefetch-%s.1", p);
    man_render(page, sub, sizeof(sub));
    snprintf(want, sizeof(want), "\nNAME\n       rangefetch-%s - ", p);
    cr_assert_not_null(strstr(sub, want), "%s:\n%s", page, sub);
    cr_assert_not_null(strstr(sub, "\nOPTIONS\n"), "%s:\n%s", page, sub);
    cr_assert_not_null(strstr(sub, "       -h, --help\n"), "%s:\n%s", page,
                       sub);
    cr_assert_not_null(strstr(sub, "rangefetch(1)"), "%s:\n%s", page, sub);
  }
  man_render("man/rangefetch-get.1", text, sizeof(text));
  cr_assert_not_null(strstr(text, "       -c, --connections N\n"), "%s", text);
  cr_assert_not_null(strstr(text, "--cache-host-proxy auto|direct\n"), "%s",
                     text);
}
