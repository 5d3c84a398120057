/* A small command-line option parser and value checkers. */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "args.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_parser_init(cli_parser *p, const char *cmd, int argc, char **argv,
                     const cli_option *options)
{
  memset(p, 0, sizeof(*p));
  p->cmd = cmd;
  p->argc = argc;
  p->argv = argv;
  p->next = 1;
  p->options = options;
}

const char *cli_parser_spelled(const cli_parser *p)
{
  return p->spelled;
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
  va_list ap;

  fflush(stdout);
  if (cmd != NULL)
    fprintf(stderr, "%s %s: ", CLI_PROGRAM, cmd);
  else
    fprintf(stderr, "%s: ", CLI_PROGRAM);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (cmd != NULL)
    fprintf(stderr, "\nTry '%s %s --help' for more information.\n", CLI_PROGRAM,
            cmd);
  else
    fprintf(stderr, "\nTry '%s --help' for more information.\n", CLI_PROGRAM);
}

static const cli_option *args_find_long(const cli_parser *p, const char *name,
                                        size_t len)
{
  const cli_option *o;

  for (o = p->options; o->name != NULL; o++) {
    if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
      return o;
  }
  return NULL;
}

static const cli_option *args_find_short(const cli_parser *p, char c)
{
  const cli_option *o;

  for (o = p->options; o->name != NULL; o++) {
    if (o->short_name != 0 && o->short_name == c)
      return o;
  }
  return NULL;
}

static int args_long(cli_parser *p, const char *arg, const char **value)
{
  const char *name = arg + 2;
  const char *eq = strchr(name, '=');
  size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
  const cli_option *o = args_find_long(p, name, len);
  int ret = CLI_ARGS_ERROR;

  snprintf(p->spelled, sizeof(p->spelled), "--%.*s", (int)(len < 60 ? len : 60),
           name);
  if (o == NULL) {
    cli_usage_error(p->cmd, "unrecognized option '%s'", p->spelled);
    goto out;
  }
  if (!o->has_value) {
    if (eq != NULL) {
      cli_usage_error(p->cmd, "option '%s' doesn't allow a value", p->spelled);
      goto out;
    }
    ret = o->id;
    goto out;
  }
  if (eq != NULL) {
    *value = eq + 1;
  } else if (p->next < p->argc) {
    *value = p->argv[p->next++];
  } else {
    cli_usage_error(p->cmd, "option '%s' requires a value", p->spelled);
    goto out;
  }
  ret = o->id;
out:
  return ret;
}

static int args_short(cli_parser *p, const char **value)
{
  char c = *p->shorts++;
  const cli_option *o = args_find_short(p, c);
  int ret = CLI_ARGS_ERROR;

  snprintf(p->spelled, sizeof(p->spelled), "-%c", c);
  if (o == NULL) {
    if (isprint((unsigned char)c))
      cli_usage_error(p->cmd, "unrecognized option '-%c'", c);
    else
      cli_usage_error(p->cmd, "unrecognized option");
    p->shorts = NULL;
    goto out;
  }
  if (o->has_value) {
    if (*p->shorts != '\0') {
      *value = p->shorts;
    } else if (p->next < p->argc) {
      *value = p->argv[p->next++];
    } else {
      cli_usage_error(p->cmd, "option '-%c' requires a value", c);
      p->shorts = NULL;
      goto out;
    }
    p->shorts = NULL;
  } else if (*p->shorts == '\0') {
    p->shorts = NULL;
  }
  ret = o->id;
out:
  return ret;
}

int cli_parser_next(cli_parser *p, const char **value)
{
  const char *arg;

  *value = NULL;
  if (p->shorts != NULL)
    return args_short(p, value);
  if (p->next >= p->argc)
    return CLI_ARGS_END;
  arg = p->argv[p->next++];
  if (p->operands_only || arg[0] != '-' || arg[1] == '\0') {
    *value = arg;
    return CLI_ARGS_OPERAND;
  }
  if (arg[1] == '-') {
    if (arg[2] == '\0') {
      p->operands_only = 1;
      return cli_parser_next(p, value);
    }
    return args_long(p, arg, value);
  }
  p->shorts = arg + 1;
  return args_short(p, value);
}

int cli_parse_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
  unsigned long long v;
  char *end;

  if (text[0] < '0' || text[0] > '9')
    return -1;
  errno = 0;
  v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = (unsigned)v;
  return 0;
}

int cli_parse_seconds(const char *text, unsigned max_seconds, unsigned *out_ms)
{
  double s;
  double ms;
  char *end;
  const char *c;

  /* Digits with at most one '.', nothing else: no signs, exponents, hex,
   * "inf" or "nan", which strtod would take. */
  if (text[0] == '\0')
    return -1;
  for (c = text; *c != '\0'; c++) {
    if (!(*c >= '0' && *c <= '9') && *c != '.')
      return -1;
  }
  errno = 0;
  s = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(s > 0.0) ||
      s > (double)max_seconds)
    return -1;
  ms = ceil(s * 1000.0);
  *out_ms = ms < 1.0 ? 1u : (unsigned)ms;
  return 0;
}
