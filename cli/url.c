/*
 * The URL operand of get, proxy explain and bench: checked before anything
 * starts, so that each mistake gets its own message, and completed with
 * "http://" when it has no scheme, as curl and wget do.
 */
#include "cli.h"
#include "args.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t cli_url_scheme_len(const char *url)
{
  size_t i;

  for (i = 0; url[i] != '\0'; i++) {
    char c = url[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (i > 0 &&
              ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok)
      break;
  }
  return i > 0 && strncmp(url + i, "://", 3) == 0 ? i : 0;
}

/* The checks on a URL with a scheme; 0, or -1 after a usage error. */
static int url_check(const char *cmd, const char *url, const char *shown)
{
  size_t slen = cli_url_scheme_len(url), n;
  const char *auth, *end, *h, *at = NULL, *port = NULL;
  unsigned long value = 0;

  if (!((slen == 4 && strncasecmp(url, "http", 4) == 0) ||
        (slen == 5 && strncasecmp(url, "https", 5) == 0))) {
    cli_usage_error(cmd,
                    "unsupported URL scheme '%.*s': rangefetch downloads "
                    "http:// and https:// URLs",
                    (int)slen, url);
    return -1;
  }
  auth = url + slen + 3;
  end = auth + strcspn(auth, "/?#");
  for (h = auth; h < end; h++) {
    if (*h == '@')
      at = h;
  }
  h = at != NULL ? at + 1 : auth;
  if (*h == '[') {
    const char *close = memchr(h, ']', (size_t)(end - h));
    if (close == NULL) {
      cli_usage_error(cmd, "invalid URL '%s': '[' without ']' around the "
                      "IPv6 address", shown);
      return -1;
    }
    if (close == h + 1)
      h = end; /* "[]": no host */
    else if (close + 1 < end && close[1] == ':')
      port = close + 2;
    else if (close + 1 < end) {
      cli_usage_error(cmd, "invalid URL '%s': unexpected text after the "
                      "IPv6 address", shown);
      return -1;
    }
  } else {
    const char *colon = memchr(h, ':', (size_t)(end - h));
    if (colon == h)
      h = end;
    else if (colon != NULL)
      port = colon + 1;
  }
  if (h == end) {
    cli_usage_error(cmd, "invalid URL '%s': no host name", shown);
    return -1;
  }
  if (port == NULL || port == end)
    return 0; /* no port, or "host:": the scheme's default */
  n = (size_t)(end - port);
  if (strspn(port, "0123456789") < n) {
    cli_usage_error(cmd, "invalid URL '%s': the port '%.*s' is not a number "
                    "from 1 to 65535", shown, (int)n, port);
    return -1;
  }
  if (n <= 5)
    value = strtoul(port, NULL, 10);
  if (n > 5 || value < 1 || value > 65535) {
    cli_usage_error(cmd, "invalid URL '%s': port %.*s is out of range "
                    "(1-65535)", shown, (int)n, port);
    return -1;
  }
  return 0;
}

int cli_url_prepare(const char *cmd, const char *url, int verbose, char **out)
{
  char shown[2048];
  char *full;

  *out = NULL;
  rf_url_mask(shown, sizeof(shown), url);
  if (url[0] == '\0') {
    cli_usage_error(cmd, "empty URL");
    return CLI_EXIT_USAGE;
  }
  if (cli_url_scheme_len(url) > 0) {
    full = strdup(url);
  } else {
    /* "example.org/file", "host:8080/file": curl and wget take http. */
    full = malloc(strlen(url) + sizeof("http://"));
    if (full != NULL)
      sprintf(full, "http://%s", url);
  }
  if (full == NULL) {
    fputs(CLI_PROGRAM ": error: out of memory\n", stderr);
    return CLI_EXIT_FAILURE;
  }
  if (url_check(cmd, full, shown) != 0) {
    free(full);
    return CLI_EXIT_USAGE;
  }
  if (verbose > 0 && cli_url_scheme_len(url) == 0) {
    char line[4200];

    snprintf(line, sizeof(line), "no scheme in '%s': using http://%s (as "
             "curl does)", shown, shown);
    cli_log_stderr(RF_LOG_INFO, "cli", line, NULL);
  }
  *out = full;
  return 0;
}
