/* URLs as the engine checks and shows them (see url.h). */
#include "url.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rangefetch/errors.h"

char *rf__url_strip_credentials(const char *url)
{
  CURLU *u = curl_url();
  char *out = NULL, *tmp = NULL;

  if (u == NULL)
    return NULL;
  if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &tmp, 0) == CURLUE_OK) {
      out = strdup(tmp);
      curl_free(tmp);
    }
  }
  curl_url_cleanup(u);
  return out;
}

/* The text of url's port ("99999"), for messages; "" if none is found. */
static void url_port_text(const char *url, char *buf, size_t size)
{
  const char *auth = strstr(url, "://"), *end, *at, *p;
  size_t n;

  buf[0] = '\0';
  if (auth == NULL)
    return;
  auth += 3;
  end = auth + strcspn(auth, "/?#");
  for (at = NULL, p = auth; p < end; p++)
    if (*p == '@')
      at = p;
  p = at != NULL ? at + 1 : auth;
  if (*p == '[') {
    p = memchr(p, ']', (size_t)(end - p));
    if (p == NULL)
      return;
  }
  p = memchr(p, ':', (size_t)(end - p));
  if (p == NULL)
    return;
  n = (size_t)(end - p - 1);
  snprintf(buf, size, "%.*s", (int)(n < 32 ? n : 32), p + 1);
}

int rf__url_check(const char *url, char *why, size_t size)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL;
  char text[40];
  CURLUcode uc;
  int rc = RF_EURL;

  if (u == NULL) {
    snprintf(why, size, "out of memory");
    return RF_ENOMEM;
  }
  uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
  if (uc == CURLUE_OUT_OF_MEMORY)
    goto nomem;
  if (uc == CURLUE_BAD_PORT_NUMBER) {
    url_port_text(url, text, sizeof(text));
    if (text[0] != '\0' && strspn(text, "0123456789") == strlen(text))
      snprintf(why, size, "port %s is out of range (1-65535)", text);
    else
      snprintf(why, size, "port '%s' is not a number from 1 to 65535", text);
    goto out;
  }
  if (uc == CURLUE_BAD_SCHEME || uc == CURLUE_NO_SCHEME) {
    snprintf(why, size, "no scheme: expected http:// or https://");
    goto out;
  }
  if (uc != CURLUE_OK) {
    snprintf(why, size, "malformed URL: %s", curl_url_strerror(uc));
    goto out;
  }
  uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  if (uc == CURLUE_OUT_OF_MEMORY)
    goto nomem;
  if (uc != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    snprintf(why, size,
             "unsupported URL scheme '%s': only http:// and https:// URLs "
             "can be downloaded",
             scheme != NULL ? scheme : "");
    goto out;
  }
  uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
  if (uc == CURLUE_OUT_OF_MEMORY)
    goto nomem;
  if (uc != CURLUE_OK || host[0] == '\0') {
    snprintf(why, size, "URL has no host");
    goto out;
  }
  uc = curl_url_get(u, CURLUPART_PORT, &port, 0);
  if (uc == CURLUE_OUT_OF_MEMORY)
    goto nomem;
  if (uc == CURLUE_OK && strtoul(port, NULL, 10) == 0) {
    snprintf(why, size, "port %s is out of range (1-65535)", port);
    goto out;
  }
  rc = 0;
  goto out;
nomem:
  /* libcurl could not take the URL apart: not the URL's fault. */
  snprintf(why, size, "out of memory");
  rc = RF_ENOMEM;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}
