/* What the job's requests carry besides the range (request.h). */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "reqopts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rangefetch/errors.h"
#include "util/http.h"

static int is_tchar(unsigned char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

int rf__reqopts_header_check(const char *line, char *why, size_t why_size)
{
  size_t n = 0;
  const char *p;

  if (line == NULL) {
    snprintf(why, why_size, "header: NULL");
    return RF_EINVAL;
  }
  while (is_tchar((unsigned char)line[n]))
    n++;
  if (n == 0 || (line[n] != ':' && line[n] != ';')) {
    snprintf(why, why_size,
             "header '%.60s': expected 'Name: value' (a name of letters, "
             "digits and !#$%%&'*+-.^_`|~, then a colon)",
             line);
    return RF_EINVAL;
  }
  for (p = line; *p != '\0'; p++) {
    if (*p == '\r' || *p == '\n') {
      snprintf(why, why_size,
               "header '%.*s': a line break in a header is not allowed",
               (int)(n > 60 ? 60 : n), line);
      return RF_EINVAL;
    }
  }
  if ((n == 5 && strncasecmp(line, "Range", 5) == 0) ||
      (n == 8 && strncasecmp(line, "If-Range", 8) == 0)) {
    snprintf(why, why_size,
             "header '%.*s' is the engine's: it sends its own on every "
             "request",
             (int)n, line);
    return RF_EINVAL;
  }
  if (line[n] == ';' && line[n + 1] != '\0') {
    snprintf(why, why_size,
             "header '%.*s': 'Name;' sends an empty header and takes no "
             "value; write 'Name: value'",
             (int)n, line);
    return RF_EINVAL;
  }
  return 0;
}

/* A resolve entry: "HOST:PORT:ADDR[,ADDR]" or "[V6]:PORT:ADDR", with an
 * optional leading '+' (curl's spelling). */
static int resolve_check(const char *e, char *why, size_t why_size)
{
  const char *p = e, *port, *addr;
  char *end;
  unsigned long v;

  if (*p == '+')
    p++;
  if (*p == '[') {
    p = strchr(p, ']');
    if (p == NULL || p[1] != ':')
      goto bad;
    port = p + 2;
  } else {
    const char *colon = strchr(p, ':');
    if (colon == NULL || colon == p)
      goto bad;
    port = colon + 1;
  }
  errno = 0;
  v = strtoul(port, &end, 10);
  if (end == port || *end != ':' || v == 0 || v > 65535 || errno != 0)
    goto bad;
  addr = end + 1;
  if (*addr == '\0' || strpbrk(addr, " \t\r\n") != NULL)
    goto bad;
  return 0;
bad:
  snprintf(why, why_size,
           "resolve entry '%.80s': expected HOST:PORT:ADDRESS[,ADDRESS...] "
           "(a port from 1 to 65535)",
           e);
  return RF_EINVAL;
}

static int readable(const char *path, const char *what, char *why,
                    size_t why_size)
{
  if (access(path, R_OK) == 0)
    return 0;
  snprintf(why, why_size, "cannot read the %s '%.200s': %s", what, path,
           strerror(errno));
  return RF_EINVAL;
}

int rf__reqopts_check(const rf_job_options *o, char *why, size_t why_size)
{
  size_t k;
  int rc;

  if (o->version < 3)
    return 0;
  if (o->nheaders > 0 && o->headers == NULL) {
    snprintf(why, why_size, "headers: NULL with nheaders %zu", o->nheaders);
    return RF_EINVAL;
  }
  for (k = 0; k < o->nheaders; k++)
    if ((rc = rf__reqopts_header_check(o->headers[k], why, why_size)) != 0)
      return rc;
  if (o->nresolve > 0 && o->resolve == NULL) {
    snprintf(why, why_size, "resolve: NULL with nresolve %zu", o->nresolve);
    return RF_EINVAL;
  }
  for (k = 0; k < o->nresolve; k++) {
    if (o->resolve[k] == NULL) {
      snprintf(why, why_size, "resolve entry %zu: NULL", k);
      return RF_EINVAL;
    }
    if ((rc = resolve_check(o->resolve[k], why, why_size)) != 0)
      return rc;
  }
  if (o->ip_version != 0 && o->ip_version != 4 && o->ip_version != 6) {
    snprintf(why, why_size, "ip_version %d: expected 0, 4 or 6",
             o->ip_version);
    return RF_EINVAL;
  }
  if (o->netrc != RF_NETRC_IGNORED && o->netrc != RF_NETRC_OPTIONAL &&
      o->netrc != RF_NETRC_REQUIRED) {
    snprintf(why, why_size, "netrc %d: expected RF_NETRC_*", (int)o->netrc);
    return RF_EINVAL;
  }
  if (o->user != NULL && o->bearer != NULL) {
    snprintf(why, why_size, "user and bearer: give one kind of origin "
                            "credentials");
    return RF_EINVAL;
  }
  if (o->bearer != NULL && (o->bearer[0] == '\0' ||
                            strpbrk(o->bearer, "\r\n ") != NULL)) {
    snprintf(why, why_size, "bearer: a token is one word without spaces or "
                            "line breaks");
    return RF_EINVAL;
  }
  if (o->user != NULL && strpbrk(o->user, "\r\n") != NULL) {
    snprintf(why, why_size, "user: line breaks are not allowed");
    return RF_EINVAL;
  }
  if (o->referer != NULL && strpbrk(o->referer, "\r\n") != NULL) {
    snprintf(why, why_size, "referer: line breaks are not allowed");
    return RF_EINVAL;
  }
  if (o->cookies != NULL && strpbrk(o->cookies, "\r\n") != NULL) {
    snprintf(why, why_size, "cookies: line breaks are not allowed");
    return RF_EINVAL;
  }
  if (o->cookies != NULL && strchr(o->cookies, '=') == NULL &&
      (rc = readable(o->cookies, "cookie file", why, why_size)) != 0)
    return rc;
  if (o->netrc != RF_NETRC_IGNORED && o->netrc_file != NULL &&
      (rc = readable(o->netrc_file, "netrc file", why, why_size)) != 0)
    return rc;
  return 0;
}

static char *dup_opt(const char *s)
{
  return s != NULL ? strdup(s) : NULL;
}

struct curl_slist *rf__reqopts_headers_with(const rf__reqopts *r,
                                            const char *extra)
{
  struct curl_slist *out = NULL, *h, *t;

  for (h = r->headers; h != NULL; h = h->next) {
    t = curl_slist_append(out, h->data);
    if (t == NULL)
      goto oom;
    out = t;
  }
  if (extra != NULL) {
    t = curl_slist_append(out, extra);
    if (t == NULL)
      goto oom;
    out = t;
  }
  return out;
oom:
  curl_slist_free_all(out);
  return NULL;
}

int rf__reqopts_init(rf__reqopts *r, const rf_job_options *o)
{
  size_t k;

  memset(r, 0, sizeof(*r));
  r->netrc = CURL_NETRC_IGNORED;
  r->ipresolve = CURL_IPRESOLVE_WHATEVER;
  if (o->version < 3)
    return 0;
  for (k = 0; k < o->nheaders; k++) {
    struct curl_slist *t = curl_slist_append(r->headers, o->headers[k]);
    if (t == NULL)
      return RF_ENOMEM;
    r->headers = t;
  }
  for (k = 0; k < o->nresolve; k++) {
    const char *e = o->resolve[k][0] == '+' ? o->resolve[k] + 1
                                             : o->resolve[k];
    struct curl_slist *t = curl_slist_append(r->resolve, e);
    if (t == NULL)
      return RF_ENOMEM;
    r->resolve = t;
  }
  if (o->user != NULL) {
    const char *colon = strchr(o->user, ':');
    r->user = colon != NULL ? strndup(o->user, (size_t)(colon - o->user))
                            : strdup(o->user);
    r->password = strdup(colon != NULL ? colon + 1 : "");
    if (r->user == NULL || r->password == NULL)
      return RF_ENOMEM;
  }
  r->referer = dup_opt(o->referer);
  r->bearer = dup_opt(o->bearer);
  r->netrc_file = dup_opt(o->netrc_file);
  r->cookie_jar = dup_opt(o->cookie_jar);
  r->pinned_pubkey = dup_opt(o->pinned_pubkey);
  r->interface = dup_opt(o->interface);
  if (o->cookies != NULL) {
    if (strchr(o->cookies, '=') != NULL)
      r->cookie_string = strdup(o->cookies);
    else
      r->cookie_file = strdup(o->cookies);
    if (r->cookie_string == NULL && r->cookie_file == NULL)
      return RF_ENOMEM;
  }
  if ((o->referer != NULL && r->referer == NULL) ||
      (o->bearer != NULL && r->bearer == NULL) ||
      (o->netrc_file != NULL && r->netrc_file == NULL) ||
      (o->cookie_jar != NULL && r->cookie_jar == NULL) ||
      (o->pinned_pubkey != NULL && r->pinned_pubkey == NULL) ||
      (o->interface != NULL && r->interface == NULL))
    return RF_ENOMEM;
  r->netrc = o->netrc == RF_NETRC_OPTIONAL   ? CURL_NETRC_OPTIONAL
             : o->netrc == RF_NETRC_REQUIRED ? CURL_NETRC_REQUIRED
                                             : CURL_NETRC_IGNORED;
  r->insecure = o->insecure != 0;
  r->ipresolve = o->ip_version == 4   ? CURL_IPRESOLVE_V4
                 : o->ip_version == 6 ? CURL_IPRESOLVE_V6
                                      : CURL_IPRESOLVE_WHATEVER;
  r->cookies_on = o->cookies != NULL || o->cookie_jar != NULL;
  if (r->cookies_on) {
    /* One cookie store for the job: a cookie one connection is given is
     * sent on the others' next requests. The job runs on one thread. */
    r->share = curl_share_init();
    if (r->share == NULL ||
        curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) !=
            CURLSHE_OK)
      return RF_ENOMEM;
  }
  return 0;
}

static void wipe_free(char *s)
{
  if (s != NULL)
    memset(s, 0, strlen(s));
  free(s);
}

void rf__reqopts_free(rf__reqopts *r)
{
  struct curl_slist *h;

  /* Header values may hold tokens: wiped like the other secrets. */
  for (h = r->headers; h != NULL; h = h->next)
    memset(h->data, 0, strlen(h->data));
  curl_slist_free_all(r->headers);
  curl_slist_free_all(r->resolve);
  if (r->share != NULL)
    curl_share_cleanup(r->share);
  free(r->referer);
  free(r->user);
  wipe_free(r->password);
  wipe_free(r->bearer);
  free(r->netrc_file);
  wipe_free(r->cookie_string);
  free(r->cookie_file);
  free(r->cookie_jar);
  free(r->pinned_pubkey);
  free(r->interface);
  memset(r, 0, sizeof(*r));
}

int rf__reqopts_apply_conn(const rf__reqopts *r, CURL *easy, int first)
{
  int bad = 0; /* a string libcurl could not copy */

  if (r->referer != NULL)
    bad |= curl_easy_setopt(easy, CURLOPT_REFERER, r->referer) != CURLE_OK;
  if (r->insecure) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(easy, CURLOPT_IPRESOLVE, r->ipresolve);
  if (r->interface != NULL)
    bad |= curl_easy_setopt(easy, CURLOPT_INTERFACE, r->interface) != CURLE_OK;
  if (r->resolve != NULL)
    curl_easy_setopt(easy, CURLOPT_RESOLVE, r->resolve);
  if (r->cookies_on) {
    curl_easy_setopt(easy, CURLOPT_SHARE, r->share);
    /* "" turns the cookie engine on without a file.  The first handle
     * loads the file now, once: loaded again at some handle's first
     * request, it would undo what the servers have set since. */
    bad |= curl_easy_setopt(easy, CURLOPT_COOKIEFILE,
                            first && r->cookie_file != NULL ? r->cookie_file
                                                            : "") != CURLE_OK;
    if (first && r->cookie_file != NULL)
      curl_easy_setopt(easy, CURLOPT_COOKIELIST, "RELOAD");
    if (first && r->cookie_jar != NULL)
      bad |= curl_easy_setopt(easy, CURLOPT_COOKIEJAR, r->cookie_jar) !=
             CURLE_OK;
  }
  return bad ? RF_ENOMEM : 0;
}

int rf__reqopts_apply_source(const rf__reqopts *r, CURL *easy, int origin,
                             struct curl_slist *origin_headers)
{
  int bad = 0; /* a string libcurl could not copy */

  /* libcurl keeps options from one request to the next: every one is
   * set, for the origin or back to nothing. */
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, origin ? origin_headers : NULL);
  bad |= curl_easy_setopt(easy, CURLOPT_USERNAME, origin ? r->user : NULL) !=
         CURLE_OK;
  bad |= curl_easy_setopt(easy, CURLOPT_PASSWORD,
                          origin ? r->password : NULL) != CURLE_OK;
  bad |= curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER,
                          origin ? r->bearer : NULL) != CURLE_OK;
  curl_easy_setopt(easy, CURLOPT_HTTPAUTH,
                   origin && r->bearer != NULL ? CURLAUTH_BEARER
                                               : CURLAUTH_BASIC);
  curl_easy_setopt(easy, CURLOPT_NETRC, origin ? r->netrc : CURL_NETRC_IGNORED);
  bad |= curl_easy_setopt(easy, CURLOPT_NETRC_FILE,
                          origin && r->netrc != CURL_NETRC_IGNORED
                              ? r->netrc_file
                              : NULL) != CURLE_OK;
  bad |= curl_easy_setopt(easy, CURLOPT_COOKIE,
                          origin ? r->cookie_string : NULL) != CURLE_OK;
  bad |= curl_easy_setopt(easy, CURLOPT_PINNEDPUBLICKEY,
                          origin ? r->pinned_pubkey : NULL) != CURLE_OK;
  return bad ? RF_ENOMEM : 0;
}

int rf_header_check(const char *line, char *why, size_t why_size)
{
  char scratch[8];

  if (why == NULL || why_size == 0) {
    why = scratch;
    why_size = sizeof(scratch);
  }
  return rf__reqopts_header_check(line, why, why_size);
}

int rf_checksum_check(const char *text, char *why, size_t why_size)
{
  unsigned char d[32];
  char scratch[8];

  if (why == NULL || why_size == 0) {
    why = scratch;
    why_size = sizeof(scratch);
  }
  return rf__parse_checksum(text, d, why, why_size) < 0 ? RF_EINVAL : 0;
}
