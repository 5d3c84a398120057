/* `rangefetch get -i FILE`: the list of downloads (inputfile.h). */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "inputfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX_BYTES (16u << 20)

static int push(char ***list, size_t *n, const char *s, size_t len)
{
  char **grown = realloc(*list, (*n + 1) * sizeof(**list));

  if (grown == NULL)
    return -2;
  *list = grown;
  grown[*n] = strndup(s, len);
  if (grown[*n] == NULL)
    return -2;
  (*n)++;
  return 0;
}

static cli_input_item *new_item(cli_input *in)
{
  cli_input_item *grown = realloc(in->items, (in->n + 1) * sizeof(*grown));

  if (grown == NULL)
    return NULL;
  in->items = grown;
  memset(&grown[in->n], 0, sizeof(grown[in->n]));
  return &grown[in->n++];
}

int cli_input_add_url(cli_input *in, const char *url)
{
  cli_input_item *it = new_item(in);

  if (it == NULL)
    return -2;
  it->url = strdup(url);
  return it->url != NULL ? 0 : -2;
}

/* A download line: the URL and its mirrors. */
static int url_line(cli_input *in, const char *s, size_t len, unsigned line)
{
  cli_input_item *it = new_item(in);
  size_t i = 0;

  if (it == NULL)
    return -2;
  it->line = line;
  while (i < len) {
    size_t w;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
      i++;
    w = i;
    while (i < len && s[i] != ' ' && s[i] != '\t')
      i++;
    if (i == w)
      break;
    if (it->url == NULL) {
      it->url = strndup(s + w, i - w);
      if (it->url == NULL)
        return -2;
    } else if (push(&it->mirrors, &it->nmirrors, s + w, i - w) != 0) {
      return -2;
    }
  }
  return 0;
}

static int set_once(char **field, const char *v, size_t len, unsigned line,
                    const char *name, char *err, size_t errlen)
{
  if (*field != NULL) {
    snprintf(err, errlen, "line %u: %s given twice for one download", line,
             name);
    return -1;
  }
  *field = strndup(v, len);
  return *field != NULL ? 0 : -2;
}

/* An indented "name=value" line of the download before it. */
static int option_line(cli_input *in, const char *s, size_t len,
                       unsigned line, char *err, size_t errlen)
{
  cli_input_item *it = in->n > 0 ? &in->items[in->n - 1] : NULL;
  const char *eq = memchr(s, '=', len);
  size_t nl, vl;
  const char *v;

  if (it == NULL || it->line == 0) {
    snprintf(err, errlen,
             "line %u: an indented option line must follow a URL line",
             line);
    return -1;
  }
  if (eq == NULL) {
    snprintf(err, errlen, "line %u: expected name=value", line);
    return -1;
  }
  nl = (size_t)(eq - s);
  v = eq + 1;
  vl = len - nl - 1;
  while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
    vl--;
  if (vl == 0) {
    snprintf(err, errlen, "line %u: '%.*s' has an empty value", line,
             (int)(nl > 40 ? 40 : nl), s);
    return -1;
  }
  if (nl == 3 && memcmp(s, "out", 3) == 0)
    return set_once(&it->out, v, vl, line, "out", err, errlen);
  if (nl == 3 && memcmp(s, "dir", 3) == 0)
    return set_once(&it->dir, v, vl, line, "dir", err, errlen);
  if (nl == 8 && memcmp(s, "checksum", 8) == 0)
    return set_once(&it->checksum, v, vl, line, "checksum", err, errlen);
  if (nl == 6 && memcmp(s, "header", 6) == 0)
    return push(&it->headers, &it->nheaders, v, vl);
  if (nl == 6 && memcmp(s, "mirror", 6) == 0)
    return push(&it->mirrors, &it->nmirrors, v, vl);
  snprintf(err, errlen,
           "line %u: unknown option '%.*s' (expected out, dir, checksum, "
           "header or mirror)",
           line, (int)(nl > 40 ? 40 : nl), s);
  return -1;
}

int cli_input_parse(cli_input *in, const char *text, char *err, size_t errlen)
{
  const char *p = text;
  unsigned line = 0;

  while (*p != '\0') {
    const char *end = strchr(p, '\n'), *s = p, *start = p;
    size_t len;
    int rc = 0;

    if (end == NULL)
      end = p + strlen(p);
    len = (size_t)(end - p);
    if (len > 0 && p[len - 1] == '\r')
      len--;
    line++;
    p = *end == '\n' ? end + 1 : end;
    while (len > 0 && (*s == ' ' || *s == '\t')) {
      s++;
      len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
      len--;
    if (len == 0 || *s == '#')
      continue;
    if (memchr(s, '\0', len) != NULL) {
      snprintf(err, errlen, "line %u: a NUL byte", line);
      return -1;
    }
    if (s != start)
      rc = option_line(in, s, len, line, err, errlen);
    else
      rc = url_line(in, s, len, line);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int cli_input_read(cli_input *in, const char *path, char *err, size_t errlen)
{
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc;

  if (f == NULL) {
    snprintf(err, errlen, "cannot read the input file '%s': %s", path,
             strerror(errno));
    return -1;
  }
  for (;;) {
    size_t got;
    if (cap - len < 65536) {
      char *grown;
      if (cap >= INPUT_MAX_BYTES) {
        snprintf(err, errlen, "the input file '%s' is larger than %u MiB",
                 path, INPUT_MAX_BYTES >> 20);
        rc = -1;
        goto out;
      }
      grown = realloc(buf, cap + 65536 + 1);
      if (grown == NULL) {
        rc = -2;
        goto out;
      }
      buf = grown;
      cap += 65536;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    snprintf(err, errlen, "cannot read the input file '%s': %s", path,
             strerror(errno));
    rc = -1;
    goto out;
  }
  buf[len] = '\0';
  if (strlen(buf) != len) {
    snprintf(err, errlen, "the input file '%s' has a NUL byte", path);
    rc = -1;
    goto out;
  }
  rc = cli_input_parse(in, buf, err, errlen);
  if (rc == -1) {
    /* Name the file: "FILE: line 4: ...". */
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
    snprintf(err, errlen, "%s", tmp);
  }
out:
  free(buf);
  if (f != stdin)
    fclose(f);
  return rc;
}

static void free_list(char **l, size_t n)
{
  size_t k;

  for (k = 0; k < n; k++)
    free(l[k]);
  free(l);
}

void cli_input_free(cli_input *in)
{
  size_t k;

  for (k = 0; k < in->n; k++) {
    cli_input_item *it = &in->items[k];
    free(it->url);
    free_list(it->mirrors, it->nmirrors);
    free_list(it->headers, it->nheaders);
    free(it->out);
    free(it->dir);
    free(it->checksum);
  }
  free(in->items);
  in->items = NULL;
  in->n = 0;
}
