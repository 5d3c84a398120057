/*
 * The HTTP grammar shared by the engine and the server: see util/http.h.
 */
#include "util/http.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rangefetch/proxy.h"
#include "rangefetch/rangefetch.h"
#include "util/text.h"

/* ------------------------------------------------------------- tokens */

static int is_blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
  while (*len > 0 && is_blank(**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len > 0 && is_blank((*s)[*len - 1]))
    (*len)--;
}

int rf__parse_u64(const char *s, size_t len, size_t *i, uint64_t *out)
{
  uint64_t v = 0;
  size_t start = *i;

  while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
    unsigned d = (unsigned)(s[*i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return RF_ETOOBIG;
    v = v * 10 + d;
    (*i)++;
  }
  if (*i == start)
    return RF_EINVAL;
  *out = v;
  return 0;
}

int rf__parse_digits(const char *s, size_t len, uint64_t *out)
{
  size_t i = 0;
  uint64_t v;

  if (rf__parse_u64(s, len, &i, &v) != 0 || i != len)
    return -1;
  *out = v;
  return 0;
}

int rf__http_token_eq(const char *s, size_t n, const char *lower)
{
  size_t i;

  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (ch >= 'A' && ch <= 'Z')
      ch = (char)(ch - 'A' + 'a');
    if (lower[i] == '\0' || ch != lower[i])
      return 0;
  }
  return lower[n] == '\0';
}

int rf__header_match(const char *s, size_t len, const char *name,
                     const char **value, size_t *value_len)
{
  size_t n = strlen(name);
  const char *v;
  size_t vl;

  if (len <= n || strncasecmp(s, name, n) != 0 || s[n] != ':')
    return 0;
  v = s + n + 1;
  vl = len - n - 1;
  trim(&v, &vl);
  *value = v;
  *value_len = vl;
  return 1;
}

/* -------------------------------------------------------------- dates */

static int month_index(const char *m)
{
  static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  int k;

  for (k = 0; k < 12; k++)
    if (strncmp(names + 3 * k, m, 3) == 0)
      return k;
  return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), m 1..12. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int rf__parse_http_date(const char *s, size_t len, int64_t *out)
{
  char buf[64], mon[4] = { 0 }, wk[16];
  int d = 0, y = 0, hh = 0, mm = 0, ss = 0, n = 0, mi;

  trim(&s, &len);
  if (len == 0 || len >= sizeof(buf))
    return RF_EINVAL;
  memcpy(buf, s, len);
  buf[len] = '\0';
  /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
  if (sscanf(buf, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wk, &d, mon, &y, &hh,
             &mm, &ss, &n) == 7 &&
      (size_t)n == len) {
    ;
  } else if (sscanf(buf, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wk, &d,
                    mon, &y, &hh, &mm, &ss, &n) == 7 &&
             (size_t)n == len) {
    /* RFC 850: two-digit year, interpreted per RFC 9110 (50-year rule). */
    y += y < 70 ? 2000 : 1900;
  } else if (sscanf(buf, "%3s %3s %2d %2d:%2d:%2d %4d%n", wk, mon, &d, &hh,
                    &mm, &ss, &y, &n) == 7 &&
             (size_t)n == len) {
    ;
  } else {
    return RF_EINVAL;
  }
  mi = month_index(mon);
  if (mi < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 ||
      y < 1970 || y > 9999)
    return RF_EINVAL;
  *out = days_from_civil(y, mi + 1, d) * 86400 + hh * 3600 + mm * 60 + ss;
  return 0;
}

void rf__http_format_date(char *out, size_t size, int64_t t)
{
  static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed",
                                   "Thu", "Fri", "Sat" };
  static const char months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
  };
  time_t tt = (time_t)t;
  struct tm tm;

  if (gmtime_r(&tt, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
      tm.tm_mon < 0 || tm.tm_mon > 11) {
    snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 GMT");
    return;
  }
  snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
           tm.tm_min, tm.tm_sec);
}

/* ---------------------------------------------------- header values */

int rf__parse_content_range(const char *s, size_t len, rf__content_range *out)
{
  rf__content_range cr = { 0, 0, 0, RF_SIZE_UNKNOWN };
  size_t i = 0;

  trim(&s, &len);
  if (len < 6 || strncasecmp(s, "bytes", 5) != 0 || !is_blank(s[5]))
    return RF_EPROTO;
  i = 5;
  while (i < len && is_blank(s[i]))
    i++;
  if (i < len && s[i] == '*') {
    cr.unsatisfied = 1;
    i++;
  } else {
    if (rf__parse_u64(s, len, &i, &cr.first) != 0)
      return RF_EPROTO;
    if (i >= len || s[i] != '-')
      return RF_EPROTO;
    i++;
    if (rf__parse_u64(s, len, &i, &cr.last) != 0)
      return RF_EPROTO;
    if (cr.last < cr.first)
      return RF_EPROTO;
  }
  if (i >= len || s[i] != '/')
    return RF_EPROTO;
  i++;
  if (i < len && s[i] == '*' && !cr.unsatisfied) {
    i++;
  } else {
    if (rf__parse_u64(s, len, &i, &cr.complete) != 0)
      return RF_EPROTO;
    if (!cr.unsatisfied && cr.last >= cr.complete)
      return RF_EPROTO;
  }
  if (i != len)
    return RF_EPROTO;
  *out = cr;
  return 0;
}

int rf__parse_retry_after(const char *s, size_t len, int64_t now,
                          uint64_t *out_ms)
{
  const uint64_t cap = 86400ULL * 1000;
  uint64_t secs;
  int64_t when;
  size_t i = 0;

  trim(&s, &len);
  if (len > 0 && s[0] >= '0' && s[0] <= '9') {
    int rc = rf__parse_u64(s, len, &i, &secs);
    if (rc == RF_ETOOBIG) {
      *out_ms = cap;
      return 0;
    }
    if (rc != 0 || i != len)
      return RF_EINVAL;
    *out_ms = secs > cap / 1000 ? cap : secs * 1000;
    return 0;
  }
  if (rf__parse_http_date(s, len, &when) != 0)
    return RF_EINVAL;
  if (when <= now)
    *out_ms = 0;
  else
    *out_ms = (uint64_t)(when - now) * 1000 > cap ? cap
                                                 : (uint64_t)(when - now) * 1000;
  return 0;
}

/* ------------------------------------------------ Link: rel=duplicate */

/*
 * RFC 8288 (Web Linking) gives the syntax, RFC 6249 (Metalink/HTTP:
 * Mirrors and Hashes) the meaning of rel=duplicate and of its parameters:
 *  - "duplicate" (registered by RFC 6249 section 7): the target's
 *    representations are byte for byte those of the context, i.e. a mirror;
 *  - "pri": mirrors with lower values are used first (RFC 6249 section
 *    3.1).  Its range, 1 to 999999, and the rule that a mirror without one
 *    has the lowest priority, 999999, are those of the Metalink "priority"
 *    attribute that "pri" carries over (RFC 5854 section 4.2.16.2); aria2,
 *    written by an author of RFC 6249, defaults pri to 999999 in
 *    MetalinkHttpEntry.  (Recalled RFC wording, not quoted: no copy of the
 *    RFC texts was at hand.)
 *  - "pref": a flag without a value, a preferred mirror (section 3.1);
 *  - "geo": an ISO 3166-1 alpha-2 country code (section 3.1).
 */

static int is_ows(char c)
{
  return c == ' ' || c == '\t';
}

static size_t skip_ows(const char *s, size_t len, size_t i)
{
  while (i < len && is_ows(s[i]))
    i++;
  return i;
}

/* RFC 9110 5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t token_len(const char *s, size_t len, size_t i)
{
  size_t j = i;

  while (j < len && is_tchar((unsigned char)s[j]))
    j++;
  return j - i;
}

/* HTAB, SP, VCHAR and obs-text: what qdtext and quoted-pair allow. */
static int is_qchar(unsigned char c)
{
  return c == '\t' || (c >= 0x20 && c != 0x7F);
}

/*
 * Copy the quoted-string at s[*i] (a '"') into dst unescaped and
 * NUL-terminated, *i then past its closing quote.  dst has room for the
 * raw length.  Returns 0, or -1 when it is unterminated or holds a control
 * character.
 */
static int take_quoted(const char *s, size_t len, size_t *i, char *dst)
{
  size_t j = *i + 1, n = 0;

  while (j < len) {
    unsigned char c = (unsigned char)s[j];

    if (c == '"') {
      dst[n] = '\0';
      *i = j + 1;
      return 0;
    }
    if (c == '\\') {
      if (j + 1 >= len)
        return -1;
      c = (unsigned char)s[++j];
    }
    if (!is_qchar(c))
      return -1;
    dst[n++] = (char)c;
    j++;
  }
  return -1;
}

/* One link-value: its target and the parameters that matter here. */
typedef struct link_value {
  char *uri;
  const char *rel, *pri, *geo, *anchor; /* first occurrence's value */
  int has_rel, has_pri, has_geo, has_anchor, pref;
} link_value;

static void link_param(link_value *lv, const char *name, size_t n,
                       const char *val)
{
  if (rf__http_token_eq(name, n, "rel") && !lv->has_rel) {
    lv->has_rel = 1;
    lv->rel = val;
  } else if (rf__http_token_eq(name, n, "pri") && !lv->has_pri) {
    lv->has_pri = 1;
    lv->pri = val;
  } else if (rf__http_token_eq(name, n, "geo") && !lv->has_geo) {
    lv->has_geo = 1;
    lv->geo = val;
  } else if (rf__http_token_eq(name, n, "anchor") && !lv->has_anchor) {
    lv->has_anchor = 1;
    lv->anchor = val;
  } else if (rf__http_token_eq(name, n, "pref")) {
    lv->pref = 1;
  }
}

/* Whether the rel value (relation types separated by blanks) holds want. */
static int rel_has(const char *rel, const char *want)
{
  size_t i = 0, len = strlen(rel);

  while (i < len) {
    size_t start;

    i = skip_ows(rel, len, i);
    start = i;
    while (i < len && !is_ows(rel[i]))
      i++;
    if (i > start && rf__http_token_eq(rel + start, i - start, want))
      return 1;
  }
  return 0;
}

/* The base URL a call resolves against, in libcurl's normal form. */
typedef struct link_base {
  CURLU *u;
  char *url; /* without fragment */
} link_base;

/*
 * Resolve the reference ref against b into *out (libcurl's string, no
 * fragment).  An empty or fragment-only reference is the base itself
 * (libcurl 7.88 resolves those to the base's directory, RFC 3986 5.2.2
 * says the base): *out is then a copy of b->url.  Returns 0, RF_ENOMEM,
 * or RF_EURL with *why set (a libcurl message or a sentence).
 */
static int link_resolve(const link_base *b, const char *ref, char **out,
                        const char **why)
{
  CURLU *u;
  CURLUcode uc;
  char *scheme = NULL;
  const char *p;
  int rc = RF_EURL;

  *out = NULL;
  for (p = ref; *p != '\0'; p++) {
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F) {
      *why = "not a URI reference (a blank, control or non-ASCII byte)";
      return RF_EURL;
    }
  }
  if (ref[0] == '\0' || ref[0] == '#')
    ref = b->url;
  u = curl_url_dup(b->u);
  if (u == NULL)
    return RF_ENOMEM;
  uc = curl_url_set(u, CURLUPART_URL, ref, 0);
  if (uc != CURLUE_OK) {
    *why = curl_url_strerror(uc);
    rc = uc == CURLUE_OUT_OF_MEMORY ? RF_ENOMEM : RF_EURL;
    goto out;
  }
  uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  if (uc != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    *why = "not an http or https URL";
    rc = uc == CURLUE_OUT_OF_MEMORY ? RF_ENOMEM : RF_EURL;
    goto out;
  }
  uc = curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_get(u, CURLUPART_URL, out, 0);
  if (uc != CURLUE_OK) {
    *why = curl_url_strerror(uc);
    rc = uc == CURLUE_OUT_OF_MEMORY ? RF_ENOMEM : RF_EURL;
    goto out;
  }
  rc = 0;
out:
  curl_free(scheme);
  curl_url_cleanup(u);
  return rc;
}

/* Count a refused mirror; the first refusal of a call says why in err. */
static void link_refuse(rf__mirror_list *list, int *noted, char *err,
                        size_t errlen, const char *uri, const char *why)
{
  char shown[256];

  list->refused++;
  if (*noted)
    return;
  *noted = 1;
  rf_url_mask(shown, sizeof(shown), uri);
  rf__errbuf_set(err, errlen, "Link: mirror <%s> refused: %s", shown, why);
}

/* Add the mirror lv announces, if it is one.  Returns 0 or RF_ENOMEM. */
static int link_take(const link_value *lv, const link_base *b,
                     rf__mirror_list *list, int *noted, char *err,
                     size_t errlen)
{
  rf__mirror m = { NULL, RF__MIRROR_PRI_NONE, lv->pref, "" };
  const char *why = NULL;
  char *url = NULL, text[96];
  size_t k;
  int rc;

  if (lv->rel == NULL || !rel_has(lv->rel, "duplicate"))
    return 0;
  if (list->n >= RF__MIRRORS_MAX) {
    list->dropped++;
    return 0;
  }
  if (lv->has_anchor) {
    /* RFC 8288 3.2: the anchor is the link's context.  About another
     * resource, the link says nothing of ours. */
    rc = lv->anchor != NULL ? link_resolve(b, lv->anchor, &url, &why) : RF_EURL;
    if (rc == RF_ENOMEM)
      return rc;
    if (rc != 0 || strcmp(url, b->url) != 0) {
      curl_free(url);
      return 0;
    }
    curl_free(url);
    url = NULL;
  }
  if (lv->has_pri) {
    uint64_t v = 0;

    if (lv->pri == NULL ||
        rf__parse_digits(lv->pri, strlen(lv->pri), &v) != 0 || v < 1 ||
        v > RF__MIRROR_PRI_NONE) {
      snprintf(text, sizeof(text),
               "pri '%.40s' is not a number from 1 to "
               "999999",
               lv->pri != NULL ? lv->pri : "");
      link_refuse(list, noted, err, errlen, lv->uri, text);
      return 0;
    }
    m.pri = (uint32_t)v;
  }
  if (lv->has_geo) {
    const char *g = lv->geo != NULL ? lv->geo : "";

    if (strlen(g) != 2 || !((g[0] | 0x20) >= 'a' && (g[0] | 0x20) <= 'z') ||
        !((g[1] | 0x20) >= 'a' && (g[1] | 0x20) <= 'z')) {
      snprintf(text, sizeof(text),
               "geo '%.40s' is not a two-letter country code", g);
      link_refuse(list, noted, err, errlen, lv->uri, text);
      return 0;
    }
    m.geo[0] = (char)(g[0] | 0x20);
    m.geo[1] = (char)(g[1] | 0x20);
  }
  rc = link_resolve(b, lv->uri, &url, &why);
  if (rc == RF_ENOMEM)
    return rc;
  if (rc != 0) {
    link_refuse(list, noted, err, errlen, lv->uri, why);
    return 0;
  }
  if (strcmp(url, b->url) == 0)
    goto out; /* the resource itself */
  for (k = 0; k < list->n; k++)
    if (strcmp(list->v[k].url, url) == 0)
      goto out;
  m.url = malloc(strlen(url) + 1);
  if (m.url == NULL) {
    rc = RF_ENOMEM;
    goto out;
  }
  memcpy(m.url, url, strlen(url) + 1);
  list->v[list->n++] = m;
out:
  curl_free(url);
  return rc;
}

void rf__mirror_list_free(rf__mirror_list *list)
{
  size_t k;

  if (list == NULL)
    return;
  for (k = 0; k < list->n && k < RF__MIRRORS_MAX; k++) {
    free(list->v[k].url);
    list->v[k].url = NULL;
  }
  list->n = 0;
  list->refused = 0;
  list->dropped = 0;
}

/* Set up b from base_url. Returns 0, RF_EURL or RF_ENOMEM. */
static int link_base_init(link_base *b, const char *base_url, char *err,
                          size_t errlen)
{
  char shown[256], *scheme = NULL;
  CURLUcode uc;
  int rc = RF_EURL;

  b->url = NULL;
  b->u = curl_url();
  if (b->u == NULL)
    return RF_ENOMEM;
  rf_url_mask(shown, sizeof(shown), base_url);
  uc = curl_url_set(b->u, CURLUPART_URL, base_url, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_get(b->u, CURLUPART_SCHEME, &scheme, 0);
  if (uc != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    rc = uc == CURLUE_OUT_OF_MEMORY ? RF_ENOMEM : RF_EURL;
    rf__errbuf_set(err, errlen,
                   "Link: the response URL '%s' is not an http or https URL",
                   shown);
    goto out;
  }
  uc = curl_url_set(b->u, CURLUPART_FRAGMENT, NULL, 0);
  if (uc == CURLUE_OK)
    uc = curl_url_get(b->u, CURLUPART_URL, &b->url, 0);
  rc = uc == CURLUE_OK ? 0 : RF_ENOMEM;
out:
  curl_free(scheme);
  return rc;
}

int rf__parse_link_mirrors(const char *s, size_t len, const char *base_url,
                           rf__mirror_list *list, char *err, size_t errlen)
{
  link_base b = { NULL, NULL };
  char *scratch = NULL;
  size_t i = 0, used, start_n = 0, start_refused = 0, start_dropped = 0, k;
  const char *bad = NULL;
  int noted = 0, rc;

  if (s == NULL || base_url == NULL || list == NULL) {
    rf__errbuf_set(err, errlen, "Link: an argument is NULL");
    return RF_EINVAL;
  }
  start_n = list->n;
  start_refused = list->refused;
  start_dropped = list->dropped;
  rc = link_base_init(&b, base_url, err, errlen);
  if (rc != 0)
    goto out;
  rc = RF_ENOMEM;
  /* Every value a link-value stores is no longer than its own text. */
  scratch = malloc(len + 1);
  if (scratch == NULL)
    goto out;
  for (;;) {
    link_value lv;
    const char *gt;

    while (i < len && (is_ows(s[i]) || s[i] == ','))
      i++; /* empty list elements (RFC 9110 5.6.1) */
    if (i >= len)
      break;
    memset(&lv, 0, sizeof(lv));
    used = 0;
    if (s[i] != '<') {
      bad = "expected '<' to open a link";
      goto syntax;
    }
    gt = memchr(s + i + 1, '>', len - i - 1);
    if (gt == NULL) {
      bad = "'<' without its '>'";
      goto syntax;
    }
    if (memchr(s + i + 1, '\0', (size_t)(gt - s) - i - 1) != NULL) {
      bad = "a NUL byte inside <...>";
      goto syntax;
    }
    lv.uri = scratch;
    memcpy(lv.uri, s + i + 1, (size_t)(gt - s) - i - 1);
    used = (size_t)(gt - s) - i;
    lv.uri[used - 1] = '\0';
    i = (size_t)(gt - s) + 1;
    for (;;) {
      const char *name;
      char *val = NULL;
      size_t n;

      i = skip_ows(s, len, i);
      if (i >= len || s[i] == ',')
        break;
      if (s[i] != ';') {
        bad = "expected ';' or ',' after a link or parameter";
        goto syntax;
      }
      i = skip_ows(s, len, i + 1);
      if (i >= len || s[i] == ',' || s[i] == ';')
        continue; /* an empty parameter */
      n = token_len(s, len, i);
      if (n == 0) {
        bad = "expected a parameter name";
        goto syntax;
      }
      name = s + i;
      i = skip_ows(s, len, i + n);
      if (i < len && s[i] == '=') {
        size_t vn;

        i = skip_ows(s, len, i + 1);
        val = scratch + used;
        if (i < len && s[i] == '"') {
          if (take_quoted(s, len, &i, val) != 0) {
            bad = "a quoted string without its closing '\"' or with a "
                  "control character";
            goto syntax;
          }
        } else {
          vn = token_len(s, len, i);
          if (vn == 0) {
            bad = "a parameter with '=' and no value";
            goto syntax;
          }
          memcpy(val, s + i, vn);
          val[vn] = '\0';
          i += vn;
        }
        used += strlen(val) + 1;
      }
      link_param(&lv, name, n, val);
    }
    rc = link_take(&lv, &b, list, &noted, err, errlen);
    if (rc != 0)
      goto out;
  }
  rc = 0;
  goto out;
syntax:
  rc = RF_EPROTO;
  rf__errbuf_set(err, errlen, "malformed Link header at byte %zu: %s", i, bad);
out:
  if (rc != 0) { /* leave the list as it was */
    for (k = start_n; k < list->n && k < RF__MIRRORS_MAX; k++) {
      free(list->v[k].url);
      list->v[k].url = NULL;
    }
    list->n = start_n;
    list->refused = start_refused;
    list->dropped = start_dropped;
  }
  if (rc == RF_ENOMEM)
    rf__errbuf_set(err, errlen, "Link: %s", rf_strerror(rc));
  free(scratch);
  curl_free(b.url);
  curl_url_cleanup(b.u);
  return rc;
}

/* ------------------------------------------------ Repr-Digest, Digest */

static int is_b64char(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Decode the SHA-256 digest in base64 (RFC 4648 alphabet, '=' padding
 * optional) b, n bytes, into out.  EVP_DecodeBlock wants whole groups of 4
 * and returns 3 bytes per group, padding included, so the text is padded
 * here and the real length is 3 bytes per group less one per '='.
 * Returns 0, or RF_EPROTO with a message naming what (name) was wrong.
 */
static int b64_sha256(const char *name, const char *b, size_t n,
                      unsigned char out[32], char *err, size_t errlen)
{
  unsigned char in[48], raw[36];
  size_t data = n, pad, padded, real, k;
  int r;

  while (data > 0 && b[data - 1] == '=')
    data--;
  for (k = 0; k < data; k++) {
    if (!is_b64char(b[k])) {
      rf__errbuf_set(err, errlen, "%s digest is not base64 (byte %zu)", name,
                     k);
      return RF_EPROTO;
    }
  }
  pad = n - data;
  padded = (data + 3) / 4 * 4;
  if (data % 4 == 1 || pad > 2 || (pad > 0 && data + pad != padded)) {
    rf__errbuf_set(err, errlen,
                   "%s digest is not base64 (bad length or "
                   "padding)",
                   name);
    return RF_EPROTO;
  }
  real = padded / 4 * 3 - (padded - data);
  if (real != 32) {
    int hex = n == 64;

    for (k = 0; k < n && hex; k++)
      hex = rfx_hexval((unsigned char)b[k]) >= 0;
    rf__errbuf_set(
        err, errlen, "%s digest is %zu bytes, expected 32%s", name, real,
        hex ? " (it looks like hex digits; base64 is expected)" : "");
    return RF_EPROTO;
  }
  memcpy(in, b, data);
  memset(in + data, '=', padded - data);
  r = EVP_DecodeBlock(raw, in, (int)padded);
  if (r != (int)(padded / 4 * 3)) {
    rf__errbuf_set(err, errlen, "%s digest is not base64", name);
    return RF_EPROTO;
  }
  memcpy(out, raw, 32);
  return 0;
}

/* --- RFC 8941 structured fields: just enough to walk a Dictionary --- */

typedef struct sf_parser {
  const char *s;
  size_t len, i;
  const char *why; /* set on failure */
} sf_parser;

enum { SF_OTHER, SF_BINARY, SF_INNER_LIST };

static int sf_fail(sf_parser *p, const char *why)
{
  p->why = why;
  return -1;
}

static int sf_at(const sf_parser *p, char c)
{
  return p->i < p->len && p->s[p->i] == c;
}

static int is_lcalpha(char c)
{
  return c >= 'a' && c <= 'z';
}

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
  return is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static int sf_key(sf_parser *p, size_t *start, size_t *n)
{
  char c;

  *start = p->i;
  if (p->i >= p->len || !(is_lcalpha(p->s[p->i]) || p->s[p->i] == '*'))
    return sf_fail(p, "expected a key (lower-case letters, digits, "
                      "'_-.*')");
  p->i++;
  while (p->i < p->len) {
    c = p->s[p->i];
    if (!(is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' ||
          c == '*'))
      break;
    p->i++;
  }
  *n = p->i - *start;
  return 0;
}

/* Integer or Decimal (RFC 8941 4.2.4). */
static int sf_number(sf_parser *p)
{
  size_t digits = 0, frac = 0;
  int decimal = 0;

  if (sf_at(p, '-'))
    p->i++;
  if (p->i >= p->len || !is_digit(p->s[p->i]))
    return sf_fail(p, "expected a digit");
  while (p->i < p->len) {
    char c = p->s[p->i];

    if (is_digit(c)) {
      digits++;
      frac += (size_t)decimal;
    } else if (c == '.' && !decimal) {
      if (digits > 12)
        return sf_fail(p, "a decimal with more than 12 integer digits");
      decimal = 1;
    } else {
      break;
    }
    if (digits > 15) /* 15 digits, or 16 characters with the '.' */
      return sf_fail(p, "a number with too many digits");
    p->i++;
  }
  if (decimal && (frac == 0 || frac > 3))
    return sf_fail(p, "a decimal needs 1 to 3 fraction digits");
  return 0;
}

/* String (4.2.5): printable ASCII, '\' escapes only '"' and '\'. */
static int sf_string(sf_parser *p)
{
  p->i++;
  while (p->i < p->len) {
    char c = p->s[p->i++];

    if (c == '\\') {
      if (p->i >= p->len || (p->s[p->i] != '"' && p->s[p->i] != '\\'))
        return sf_fail(p, "a string escapes something other than '\"' "
                          "or '\\'");
      p->i++;
    } else if (c == '"') {
      return 0;
    } else if (c < 0x20 || c > 0x7E) {
      return sf_fail(p, "a string holds a non-printable byte");
    }
  }
  return sf_fail(p, "a string without its closing '\"'");
}

/* Display String (RFC 9651 4.2.10): %"...", %xx in lower-case hex. */
static int sf_display_string(sf_parser *p)
{
  p->i++;
  if (!sf_at(p, '"'))
    return sf_fail(p, "expected '\"' after '%'");
  p->i++;
  while (p->i < p->len) {
    char c = p->s[p->i++];

    if (c == '%') {
      if (p->i + 2 > p->len ||
          !(is_digit(p->s[p->i]) || (p->s[p->i] >= 'a' && p->s[p->i] <= 'f')) ||
          !(is_digit(p->s[p->i + 1]) ||
            (p->s[p->i + 1] >= 'a' && p->s[p->i + 1] <= 'f')))
        return sf_fail(p, "a display string with a bad %-escape");
      p->i += 2;
    } else if (c == '"') {
      return 0;
    } else if (c < 0x20 || c > 0x7E) {
      return sf_fail(p, "a display string holds a non-printable byte");
    }
  }
  return sf_fail(p, "a display string without its closing '\"'");
}

/* Token (4.2.6): ( ALPHA / "*" ) *( tchar / ":" / "/" ) */
static int sf_token(sf_parser *p)
{
  p->i++;
  while (p->i < p->len && (is_tchar((unsigned char)p->s[p->i]) ||
                           p->s[p->i] == ':' || p->s[p->i] == '/'))
    p->i++;
  return 0;
}

/* Byte Sequence (4.2.7): ":" base64 ":"; *start, *n: the base64 text. */
static int sf_binary(sf_parser *p, size_t *start, size_t *n)
{
  p->i++;
  *start = p->i;
  while (p->i < p->len && p->s[p->i] != ':') {
    if (!is_b64char(p->s[p->i]) && p->s[p->i] != '=')
      return sf_fail(p, "a byte sequence holds a byte outside base64");
    p->i++;
  }
  if (p->i >= p->len)
    return sf_fail(p, "a byte sequence without its closing ':'");
  *n = p->i - *start;
  p->i++;
  return 0;
}

static int sf_bare_item(sf_parser *p, int *type, size_t *start, size_t *n)
{
  char c;

  *type = SF_OTHER;
  if (p->i >= p->len)
    return sf_fail(p, "expected a value");
  c = p->s[p->i];
  if (c == '-' || is_digit(c))
    return sf_number(p);
  if (c == '"')
    return sf_string(p);
  if (c == '%')
    return sf_display_string(p);
  if (is_alpha(c) || c == '*')
    return sf_token(p);
  if (c == ':') {
    *type = SF_BINARY;
    return sf_binary(p, start, n);
  }
  if (c == '?') {
    p->i++;
    if (!sf_at(p, '0') && !sf_at(p, '1'))
      return sf_fail(p, "a boolean is ?0 or ?1");
    p->i++;
    return 0;
  }
  if (c == '@') { /* Date, RFC 9651 4.2.9: an Integer */
    size_t at;

    p->i++;
    at = p->i;
    if (sf_number(p) != 0)
      return -1;
    if (memchr(p->s + at, '.', p->i - at) != NULL)
      return sf_fail(p, "a date is an integer");
    return 0;
  }
  return sf_fail(p, "expected a value");
}

/* Parameters (4.2.3.2): *( ";" *SP key [ "=" bare-item ] ) */
static int sf_params(sf_parser *p)
{
  while (sf_at(p, ';')) {
    size_t ks, kn, bs, bn;
    int type;

    p->i++;
    while (sf_at(p, ' '))
      p->i++;
    if (sf_key(p, &ks, &kn) != 0)
      return -1;
    if (sf_at(p, '=')) {
      p->i++;
      if (sf_bare_item(p, &type, &bs, &bn) != 0)
        return -1;
    }
  }
  return 0;
}

/* An Item or an Inner List (4.2.1.2), with its parameters. */
static int sf_member_value(sf_parser *p, int *type, size_t *start, size_t *n)
{
  if (!sf_at(p, '(')) {
    if (sf_bare_item(p, type, start, n) != 0)
      return -1;
    return sf_params(p);
  }
  *type = SF_INNER_LIST;
  p->i++;
  for (;;) {
    int t;
    size_t bs, bn;

    while (sf_at(p, ' '))
      p->i++;
    if (p->i >= p->len)
      return sf_fail(p, "an inner list without its closing ')'");
    if (sf_at(p, ')')) {
      p->i++;
      return sf_params(p);
    }
    if (sf_bare_item(p, &t, &bs, &bn) != 0 || sf_params(p) != 0)
      return -1;
    if (p->i >= p->len)
      return sf_fail(p, "an inner list without its closing ')'");
    if (!sf_at(p, ' ') && !sf_at(p, ')'))
      return sf_fail(p, "items of an inner list are separated by spaces");
  }
}

int rf__parse_repr_digest(const char *s, size_t len, unsigned char out[32],
                          char *err, size_t errlen)
{
  sf_parser p = { s, len, 0, NULL };
  size_t bs = 0, bn = 0;
  int found = 0, rc;

  if (s == NULL || out == NULL) {
    rf__errbuf_set(err, errlen, "Repr-Digest: an argument is NULL");
    return RF_EINVAL;
  }
  trim(&p.s, &p.len);
  while (p.i < p.len) {
    size_t ks, kn, vs = 0, vn = 0;
    int type = SF_OTHER;

    if (sf_key(&p, &ks, &kn) != 0)
      goto syntax;
    if (sf_at(&p, '=')) {
      p.i++;
      if (sf_member_value(&p, &type, &vs, &vn) != 0)
        goto syntax;
    } else if (sf_params(&p) != 0) { /* a bare key is true */
      goto syntax;
    }
    if (kn == 7 && memcmp(p.s + ks, "sha-256", 7) == 0) {
      if (type != SF_BINARY) {
        rf__errbuf_set(err, errlen,
                       "Repr-Digest: sha-256 is not a byte "
                       "sequence (:base64:)");
        return RF_EPROTO;
      }
      found = 1; /* a later member of the same key replaces it */
      bs = vs;
      bn = vn;
    }
    p.i = skip_ows(p.s, p.len, p.i);
    if (p.i >= p.len)
      break;
    if (!sf_at(&p, ',')) {
      sf_fail(&p, "expected ',' between members");
      goto syntax;
    }
    p.i = skip_ows(p.s, p.len, p.i + 1);
    if (p.i >= p.len) {
      sf_fail(&p, "a ',' ends the value");
      goto syntax;
    }
  }
  if (!found)
    return 0;
  rc = b64_sha256("Repr-Digest: sha-256", p.s + bs, bn, out, err, errlen);
  return rc == 0 ? 1 : rc;
syntax:
  rf__errbuf_set(err, errlen, "malformed Repr-Digest at byte %zu: %s", p.i,
                 p.why);
  return RF_EPROTO;
}

int rf__parse_digest(const char *s, size_t len, unsigned char out[32],
                     char *err, size_t errlen)
{
  unsigned char d[32];
  size_t i = 0;
  int found = 0;

  if (s == NULL || out == NULL) {
    rf__errbuf_set(err, errlen, "Digest: an argument is NULL");
    return RF_EINVAL;
  }
  trim(&s, &len);
  while (i < len) {
    const char *comma = memchr(s + i, ',', len - i);
    size_t end = comma != NULL ? (size_t)(comma - s) : len;
    size_t a = skip_ows(s, end, i), b = end, eq, ne, vs;

    i = end + 1;
    while (b > a && is_ows(s[b - 1]))
      b--;
    if (a == b)
      continue; /* an empty element */
    eq = a;
    while (eq < b && s[eq] != '=')
      eq++;
    ne = eq;
    while (ne > a && is_ows(s[ne - 1]))
      ne--;
    vs = eq < b ? skip_ows(s, b, eq + 1) : b;
    if (eq == b || ne == a || token_len(s, ne, a) != ne - a || vs == b) {
      rf__errbuf_set(err, errlen,
                     "malformed Digest: '%.*s' is not algorithm=value",
                     (int)(b - a < 60 ? b - a : 60), s + a);
      return RF_EPROTO;
    }
    if (!rf__http_token_eq(s + a, ne - a, "sha-256"))
      continue;
    if (b64_sha256("Digest: SHA-256", s + vs, b - vs, d, err, errlen) != 0)
      return RF_EPROTO;
    if (found && memcmp(out, d, 32) != 0) {
      rf__errbuf_set(err, errlen, "Digest: two different SHA-256 values");
      return RF_EPROTO;
    }
    memcpy(out, d, 32);
    found = 1;
  }
  return found;
}

int rf__parse_checksum(const char *s, unsigned char out[32], char *err,
                       size_t errlen)
{
  const char *eq = s != NULL ? strchr(s, '=') : NULL;
  size_t alen, want, k, n;
  int kind;

  if (eq == NULL) {
    rf__errbuf_set(err, errlen,
                   "checksum '%.80s': expected sha256=HEX or xxh128=HEX",
                   s != NULL ? s : "(null)");
    return RF_EINVAL;
  }
  alen = (size_t)(eq - s);
  if ((alen == 6 && strncasecmp(s, "sha256", 6) == 0) ||
      (alen == 7 && strncasecmp(s, "sha-256", 7) == 0)) {
    kind = 1;
    want = 32;
  } else if (alen == 6 && strncasecmp(s, "xxh128", 6) == 0) {
    kind = 2;
    want = 16;
  } else {
    rf__errbuf_set(err, errlen,
                   "checksum '%.80s': unknown algorithm '%.*s' (expected "
                   "sha256 or xxh128)",
                   s, (int)(alen > 20 ? 20 : alen), s);
    return RF_EINVAL;
  }
  n = strlen(eq + 1);
  if (n != 2 * want) {
    rf__errbuf_set(err, errlen,
                   "checksum '%.80s': %s takes %zu hex digits, not %zu",
                   s, kind == 1 ? "sha256" : "xxh128", 2 * want, n);
    return RF_EINVAL;
  }
  for (k = 0; k < want; k++) {
    int hi = rfx_hexval(eq[1 + 2 * k]), lo = rfx_hexval(eq[2 + 2 * k]);
    if (hi < 0 || lo < 0) {
      rf__errbuf_set(err, errlen,
                     "checksum '%.80s': '%c%c' is not hexadecimal", s,
                     eq[1 + 2 * k], eq[2 + 2 * k]);
      return RF_EINVAL;
    }
    out[k] = (unsigned char)(hi * 16 + lo);
  }
  return kind;
}
