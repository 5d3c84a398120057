/*
 * Cache hosts: the list syntax, DHCP option 235, the policy from the
 * settings files, and the rule that combines them (see
 * rangefetch/cachehost.h for the contract, docs/proxy-config.md for
 * users).
 *
 * Messages quote what was wrong, within limits: an entry is quoted (at
 * most 64 characters) unless it holds '@' (user information, maybe a
 * password) or a byte that is not printable ASCII (an option 235 value
 * comes from the network).
 */
#include "source/cachehost.h"
#include "disk/fileio.h"
#include "proxy/dhcp_lease.h"
#include "proxy/policy.h"
#include "util/text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rangefetch/rangefetch.h"

/* Longest entry a message quotes. */
#define CH_ECHO_MAX 64
/* Largest dhclient.conf read. */
#define CH_CONF_MAX (1024u * 1024u)

/* -------------------------------------------------------------- output */

/* snprintf-like output: copies what fits, counts everything; `oom` is
 * for the growable kind (cap grows when grow is set). */
typedef struct ch_out {
  char *buf;
  size_t cap, len;
  int grow, oom;
} ch_out;

static void ch_add(ch_out *o, const char *s, size_t n)
{
  if (o->grow && !o->oom && o->len + n + 1 > o->cap) {
    size_t ncap = o->cap != 0 ? o->cap : 128;
    char *p;

    while (ncap < o->len + n + 1)
      ncap *= 2;
    p = realloc(o->buf, ncap);
    if (p == NULL)
      o->oom = 1;
    else {
      o->buf = p;
      o->cap = ncap;
    }
  }
  if (o->len < o->cap) {
    size_t room = o->cap - o->len;

    memcpy(o->buf + o->len, s, n < room ? n : room);
  }
  o->len += n;
}

static void ch_printf(ch_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ch_printf(ch_out *o, const char *fmt, ...)
{
  char tmp[512];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof(tmp)) {
    ch_add(o, tmp, (size_t)n);
    return;
  }
  {
    char *big = malloc((size_t)n + 1);

    if (big == NULL) {
      o->oom = 1;
      return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ch_add(o, big, (size_t)n);
    free(big);
  }
}

static void ch_str(ch_out *o, const char *s)
{
  ch_add(o, s, strlen(s));
}

/* NUL-terminates (a fixed buffer: at its last byte when it is full). */
static size_t ch_end(ch_out *o)
{
  if (o->grow && !o->oom && o->len + 1 > o->cap)
    ch_add(o, "", 0);
  if (o->cap > 0)
    o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
  return o->len;
}

/* --------------------------------------------------------------- lists */

/* One entry while a list is built: [host, host + len), port. */
typedef struct ch_item {
  const char *host;
  size_t len;
  unsigned port;
} ch_item;

/* A new one-block list of items[0..n).  0 or RF_ENOMEM. */
static int ch_list_make(rf_cache_host_list **out, const ch_item *items,
                        size_t n)
{
  size_t bytes = sizeof(rf_cache_host_list) + n * sizeof(rf_cache_host), i;
  rf_cache_host_list *l;
  rf_cache_host *h;
  char *s;

  *out = NULL;
  for (i = 0; i < n; i++)
    bytes += items[i].len + 1;
  l = malloc(bytes);
  if (l == NULL)
    return RF_ENOMEM;
  h = (rf_cache_host *)(l + 1);
  s = (char *)(h + n);
  for (i = 0; i < n; i++) {
    memcpy(s, items[i].host, items[i].len);
    s[items[i].len] = '\0';
    h[i].host = s;
    h[i].port = items[i].port;
    s += items[i].len + 1;
  }
  l->count = n;
  l->hosts = n > 0 ? h : NULL;
  *out = l;
  return 0;
}

void rf_cache_host_list_free(rf_cache_host_list *list)
{
  free(list);
}

static int ch_is_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

static int ch_is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/*
 * Checks a host name or IPv4 address ([s, s + n), printable ASCII).
 * Returns NULL, or why it is bad (into why, whylen bytes).
 */
static const char *ch_check_name(const char *s, size_t n, char *why,
                                 size_t whylen)
{
  size_t i, start = 0, total = n;
  int all_digits = 1;

  if (n == 0)
    return "no host";
  if (s[n - 1] == '.')
    total--; /* one final dot: an absolute name */
  if (total == 0)
    return "empty label in the host name";
  if (total > 253)
    return "the host name is longer than 253 characters";
  for (i = 0; i <= total; i++) {
    char c = i < total ? s[i] : '.';

    if (c == '.') {
      size_t ll = i - start;

      if (ll == 0)
        return "empty label in the host name";
      if (ll > 63)
        return "a label of the host name is longer than 63 characters";
      if (s[start] == '-' || s[i - 1] == '-')
        return "a label of the host name starts or ends with '-'";
      if (i < total)
        all_digits = 1;
      start = i + 1;
      continue;
    }
    if (!ch_is_alnum(c) && c != '-' && c != '_') {
      snprintf(why, whylen, "invalid character '%c' in the host name", c);
      return why;
    }
    if (c < '0' || c > '9')
      all_digits = 0;
  }
  /* all_digits is now about the last label: a name ending in a number is
   * an IPv4 address, as URLs read it, and must be a whole one. */
  if (all_digits) {
    char buf[16];
    unsigned char addr[4];

    if (total >= sizeof(buf))
      return "bad IPv4 address";
    memcpy(buf, s, total);
    buf[total] = '\0';
    if (inet_pton(AF_INET, buf, addr) != 1)
      return "bad IPv4 address";
  }
  return NULL;
}

/* Parses ":PORT" at [s, s + n) (s[0] == ':') into *port.  NULL or why. */
static const char *ch_port(const char *s, size_t n, unsigned *port)
{
  unsigned long v = 0;
  size_t i;

  if (n == 1)
    return "empty port";
  if (n - 1 > 5)
    return "the port must be a number from 1 to 65535";
  for (i = 1; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return "the port must be a number from 1 to 65535";
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v < 1 || v > 65535)
    return "the port must be a number from 1 to 65535";
  *port = (unsigned)v;
  return NULL;
}

/* Parses one trimmed, non-empty entry into *it.  NULL, or why (static,
 * or in why). */
static const char *ch_entry(ch_item *it, const char *s, size_t n, char *why,
                            size_t whylen)
{
  const char *colon, *bad;
  size_t i;

  it->port = 0;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', n);
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[16];
    size_t hl;

    if (close == NULL)
      return "no ']' after the IPv6 address";
    hl = (size_t)(close - s) - 1;
    if (hl == 0 || hl >= sizeof(buf))
      return "bad IPv6 address";
    memcpy(buf, s + 1, hl);
    buf[hl] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
      return "bad IPv6 address";
    i = hl + 2;
    if (i < n && s[i] != ':')
      return "unexpected text after the IPv6 address";
    if (i < n && (bad = ch_port(s + i, n - i, &it->port)) != NULL)
      return bad;
    it->host = s + 1;
    it->len = hl;
    return NULL;
  }
  colon = memchr(s, ':', n);
  if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
    return "an IPv6 address must be in brackets, e.g. [2001:db8::1]:8080";
  it->host = s;
  it->len = colon != NULL ? (size_t)(colon - s) : n;
  if ((bad = ch_check_name(s, it->len, why, whylen)) != NULL)
    return bad;
  if (colon != NULL)
    return ch_port(colon, n - it->len, &it->port);
  return NULL;
}

/* Fails entry idx ([s, s + n)) with reason: "entry N 'text': reason". */
static int ch_entry_fail(char *err, size_t errlen, size_t idx, const char *s,
                         size_t n, const char *reason)
{
  rf__errbuf_set(err, errlen, "entry %zu '%.*s%s': %s", idx,
                 (int)(n > CH_ECHO_MAX ? CH_ECHO_MAX : n), s,
                 n > CH_ECHO_MAX ? "..." : "", reason);
  return RF_EINVAL;
}

int rf__cache_host_list_parse(rf_cache_host_list **out, const char *text,
                              size_t len, char *err, size_t errlen)
{
  ch_item items[RF_CACHE_HOST_MAX];
  size_t pos = 0, count = 0, i;
  char why[96];

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (out != NULL)
    *out = NULL;
  if (out == NULL || (text == NULL && len > 0)) {
    rf__errbuf_set(err, errlen, "invalid argument");
    return RF_EINVAL;
  }
  for (i = 0; i < len && ch_is_blank(text[i]); i++)
    ;
  if (i == len) {
    rf__errbuf_set(err, errlen, "the list is empty");
    return RF_EINVAL;
  }
  for (;;) {
    const char *s = text + pos, *comma = memchr(s, ',', len - pos);
    size_t n = comma != NULL ? (size_t)(comma - s) : len - pos;
    size_t idx = count + 1;
    const char *reason;

    pos += n + 1;
    while (n > 0 && ch_is_blank(*s)) {
      s++;
      n--;
    }
    while (n > 0 && ch_is_blank(s[n - 1]))
      n--;
    if (n == 0) {
      rf__errbuf_set(err, errlen, "entry %zu is empty", idx);
      return RF_EINVAL;
    }
    if (count == RF_CACHE_HOST_MAX) {
      rf__errbuf_set(err, errlen, "more than %d entries", RF_CACHE_HOST_MAX);
      return RF_EINVAL;
    }
    /* What may not be quoted first. */
    if (memchr(s, '@', n) != NULL) {
      rf__errbuf_set(err, errlen,
                     "entry %zu: a cache host takes no user name or "
                     "password ('@')",
                     idx);
      return RF_EINVAL;
    }
    for (i = 0; i < n; i++) {
      unsigned char c = (unsigned char)s[i];

      if (c >= 0x80) {
        rf__errbuf_set(err, errlen,
                       "entry %zu holds a non-ASCII character (write an "
                       "internationalised name in its xn-- form)",
                       idx);
        return RF_EINVAL;
      }
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        rf__errbuf_set(err, errlen, "entry %zu holds a control character", idx);
        return RF_EINVAL;
      }
    }
    for (i = 0; i < n && !ch_is_blank(s[i]); i++)
      ;
    if (i < n)
      return ch_entry_fail(err, errlen, idx, s, n,
                           "white space inside an entry (separate entries "
                           "with commas)");
    if (n >= 3 && memmem(s, n, "://", 3) != NULL)
      return ch_entry_fail(err, errlen, idx, s, n,
                           "write HOST[:PORT], without a scheme");
    if (memchr(s, '/', n) != NULL)
      return ch_entry_fail(err, errlen, idx, s, n,
                           "write HOST[:PORT], without a path");
    reason = ch_entry(&items[count], s, n, why, sizeof(why));
    if (reason != NULL)
      return ch_entry_fail(err, errlen, idx, s, n, reason);
    count++;
    if (comma == NULL)
      break;
  }
  if (ch_list_make(out, items, count) != 0) {
    rf__errbuf_set(err, errlen, "out of memory");
    return RF_ENOMEM;
  }
  return 0;
}

int rf_cache_host_list_parse(rf_cache_host_list **out, const char *text,
                             char *err, size_t errlen)
{
  if (text == NULL) {
    if (out != NULL)
      *out = NULL;
    rf__errbuf_set(err, errlen, "invalid argument");
    return RF_EINVAL;
  }
  return rf__cache_host_list_parse(out, text, strlen(text), err, errlen);
}

static void ch_host_out(ch_out *o, const rf_cache_host *h)
{
  int v6 = h->host != NULL && strchr(h->host, ':') != NULL;

  if (v6)
    ch_str(o, "[");
  ch_str(o, h->host != NULL ? h->host : "");
  if (v6)
    ch_str(o, "]");
  if (h->port != 0)
    ch_printf(o, ":%u", h->port);
}

size_t rf_cache_host_format(char *out, size_t size, const rf_cache_host *host)
{
  ch_out o = { out, size, 0, 0, 0 };

  if (host != NULL)
    ch_host_out(&o, host);
  return ch_end(&o);
}

size_t rf_cache_host_list_format(char *out, size_t size,
                                 const rf_cache_host_list *list)
{
  ch_out o = { out, size, 0, 0, 0 };
  size_t i;

  for (i = 0; list != NULL && i < list->count; i++) {
    if (i > 0)
      ch_str(&o, ",");
    ch_host_out(&o, &list->hosts[i]);
  }
  return ch_end(&o);
}

/* -------------------------------------------------------------- policy */

const char *rf_cache_host_source_name(rf_cache_host_source source)
{
  switch (source) {
  case RF_CACHE_HOST_SOURCE_STATIC:
    return "static";
  case RF_CACHE_HOST_SOURCE_DHCP:
    return "dhcp";
  case RF_CACHE_HOST_SOURCE_DHCP_FORCE:
    return "dhcp-force";
  }
  return "?";
}

const char *rf_cache_host_proxy_name(rf_cache_host_proxy proxy)
{
  switch (proxy) {
  case RF_CACHE_HOST_PROXY_AUTO:
    return "auto";
  case RF_CACHE_HOST_PROXY_DIRECT:
    return "direct";
  }
  return "?";
}

void rf_cache_policy_init(rf_cache_policy *policy)
{
  static const rf_cache_policy defaults = RF_CACHE_POLICY_INIT;

  if (policy != NULL)
    *policy = defaults;
}

void rf_cache_policy_clear(rf_cache_policy *policy)
{
  if (policy == NULL)
    return;
  rf_cache_host_list_free(policy->hosts);
  rf_cache_policy_init(policy);
}

/* A copy of list (NULL for NULL).  0 or RF_ENOMEM. */
static int ch_list_copy(rf_cache_host_list **out,
                        const rf_cache_host_list *list)
{
  ch_item *items;
  size_t i;
  int rc;

  *out = NULL;
  if (list == NULL)
    return 0;
  items = malloc((list->count + 1) * sizeof(*items));
  if (items == NULL)
    return RF_ENOMEM;
  for (i = 0; i < list->count; i++) {
    items[i].host = list->hosts[i].host;
    items[i].len = strlen(list->hosts[i].host);
    items[i].port = list->hosts[i].port;
  }
  rc = ch_list_make(out, items, list->count);
  free(items);
  return rc;
}

/* Where a key's value came from, for the note. */
static void ch_note_origin(ch_out *o, const rf__proxy_config *c,
                           rf__proxy_key key, const rf__proxy_config *other)
{
  ch_printf(o, " (%s scope, ", rf__proxy_scope_name(c->scope));
  if (c->file != NULL)
    ch_printf(o, "%s:%u", c->file, c->line[key]);
  else
    ch_printf(o, "line %u", c->line[key]);
  if (other != NULL)
    ch_printf(o, "; over the %s scope's line %u",
              rf__proxy_scope_name(other->scope), other->line[key]);
  ch_str(o, ")");
}

int rf__cache_policy_merge(rf_cache_policy *out, char *note, size_t notelen,
                           rf_context ctx, const rf__proxy_config *user,
                           const rf__proxy_config *device)
{
  static const rf__proxy_key keys[] = { RF__PROXY_KEY_CACHE_HOST,
                                        RF__PROXY_KEY_CACHE_HOST_SOURCE,
                                        RF__PROXY_KEY_CACHE_FALLBACK_DELAY,
                                        RF__PROXY_KEY_CACHE_HOST_PROXY };
  static const char *const names[] = { "cache_host", "cache_host_source",
                                       "cache_fallback_delay",
                                       "cache_host_proxy" };
  ch_out o = { note, notelen, 0, 0, 0 };
  const rf__proxy_config *from[4];
  int user_ignored = 0, rc = 0;
  size_t k;

  if (note != NULL && notelen > 0)
    note[0] = '\0';
  rf_cache_policy_init(out);
  if (out == NULL || (ctx != RF_CONTEXT_USER && ctx != RF_CONTEXT_SERVICE))
    return RF_EINVAL;
  if (user != NULL && !user->set)
    user = NULL;
  if (device != NULL && !device->set)
    device = NULL;
  ch_str(&o, "cache hosts:");
  for (k = 0; k < 4; k++) {
    const rf__proxy_config *u = user, *d = device;

    if (u != NULL && u->line[keys[k]] == 0)
      u = NULL;
    if (d != NULL && d->line[keys[k]] == 0)
      d = NULL;
    if (u != NULL && ctx == RF_CONTEXT_SERVICE) {
      user_ignored = 1;
      u = NULL;
    }
    from[k] = d != NULL ? d : u;
    ch_printf(&o, "%s %s = ", k > 0 ? ";" : "", names[k]);
    switch (keys[k]) {
    case RF__PROXY_KEY_CACHE_HOST:
      if (from[k] != NULL) {
        rc = ch_list_copy(&out->hosts, from[k]->cache_hosts);
        if (rc != 0)
          goto fail;
        for (size_t i = 0; i < out->hosts->count; i++) {
          if (i > 0)
            ch_str(&o, ",");
          ch_host_out(&o, &out->hosts->hosts[i]);
        }
      } else {
        ch_str(&o, "none");
      }
      break;
    case RF__PROXY_KEY_CACHE_HOST_SOURCE:
      if (from[k] != NULL)
        out->source = from[k]->cache_source;
      ch_str(&o, rf_cache_host_source_name(out->source));
      break;
    case RF__PROXY_KEY_CACHE_FALLBACK_DELAY:
      if (from[k] != NULL)
        out->fallback_delay_s = from[k]->cache_fallback_delay;
      ch_printf(&o, "%d", out->fallback_delay_s);
      break;
    default:
      if (from[k] != NULL)
        out->proxy = from[k]->cache_proxy;
      ch_str(&o, rf_cache_host_proxy_name(out->proxy));
      break;
    }
    if (from[k] != NULL)
      ch_note_origin(&o, from[k], keys[k], d != NULL ? u : NULL);
    else
      ch_str(&o, " (default)");
  }
  if (user_ignored)
    ch_printf(&o, "; the user scope's cache keys are not used in %s context",
              rf__proxy_context_name(ctx));
  ch_end(&o);
  return 0;
fail:
  rf_cache_policy_clear(out);
  if (note != NULL && notelen > 0)
    note[0] = '\0';
  return rc;
}

int rf_cache_policy_load(rf_cache_policy *out, char *note, size_t notelen,
                         rf_context context, const char *sys_dir,
                         const char *user_dir, char *err, size_t errlen)
{
  rf__proxy_config scope[RF__PROXY_SCOPE_COUNT];
  rf__proxy_paths paths;
  int s, rc;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (note != NULL && notelen > 0)
    note[0] = '\0';
  rf_cache_policy_init(out);
  memset(scope, 0, sizeof(scope));
  if (out == NULL ||
      (context != RF_CONTEXT_USER && context != RF_CONTEXT_SERVICE)) {
    rf__errbuf_set(err, errlen, "invalid argument");
    return RF_EINVAL;
  }
  rc = rf__proxy_policy_paths(NULL, NULL, sys_dir, user_dir, &paths);
  if (rc != 0) {
    rf__errbuf_set(err, errlen, "%s",
                   rc == RF_EINVAL ? "a settings directory is \"\""
                                   : rf_strerror(rc));
    return rc;
  }
  for (s = RF__PROXY_SCOPE_USER; s <= RF__PROXY_SCOPE_DEVICE; s++) {
    if (paths.path[s] == NULL)
      continue;
    rc = rf__proxy_config_load(paths.path[s], (rf__proxy_scope)s, &scope[s],
                               err, errlen);
    if (rc == RF_ENOENT) {
      rc = 0;
      if (err != NULL && errlen > 0)
        err[0] = '\0';
    }
    if (rc != 0)
      goto out;
  }
  rc = rf__cache_policy_merge(out, note, notelen, context,
                              &scope[RF__PROXY_SCOPE_USER],
                              &scope[RF__PROXY_SCOPE_DEVICE]);
  if (rc != 0)
    rf__errbuf_set(err, errlen, "%s", rf_strerror(rc));
out:
  for (s = 0; s < RF__PROXY_SCOPE_COUNT; s++)
    rf__proxy_config_free(&scope[s]);
  rf__proxy_paths_free(&paths);
  return rc;
}

/* -------------------------------------------------------- DHCP option 235 */

int rf__cache_dhcp_value(rf_cache_host_list **out, char *why, size_t whylen,
                         const char *value, size_t len)
{
  size_t start = 0;

  if (out != NULL)
    *out = NULL;
  if (why != NULL && whylen > 0)
    why[0] = '\0';
  if (out == NULL || (value == NULL && len > 0)) {
    rf__errbuf_set(why, whylen, "invalid argument");
    return RF_EINVAL;
  }
  while (len > 0 && (value[len - 1] == '\0' || value[len - 1] == ' ' ||
                     value[len - 1] == '\t' || value[len - 1] == '\n' ||
                     value[len - 1] == '\r'))
    len--;
  while (start < len && (value[start] == ' ' || value[start] == '\t' ||
                         value[start] == '\n' || value[start] == '\r'))
    start++;
  if (start == len) {
    rf__errbuf_set(why, whylen, "empty");
    return RF_EINVAL;
  }
  return rf__cache_host_list_parse(out, value + start, len - start, why,
                                   whylen);
}

/* The public result and what it owns. */
typedef struct ch_dhcp {
  rf_cache_dhcp pub; /* first: rf_cache_dhcp_free casts back */
  rf_cache_host_list *hosts;
  char *source, *why, *tried;
} ch_dhcp;

void rf_cache_dhcp_free(rf_cache_dhcp *dhcp)
{
  ch_dhcp *d = (ch_dhcp *)dhcp;

  if (d == NULL)
    return;
  rf_cache_host_list_free(d->hosts);
  free(d->source);
  free(d->why);
  free(d->tried);
  free(d);
}

/* Fills the public view from what d owns. */
static rf_cache_dhcp *ch_dhcp_pub(ch_dhcp *d, rf_cache_dhcp_status status)
{
  d->pub.status = status;
  d->pub.hosts = d->hosts;
  d->pub.source = d->source;
  d->pub.why = d->why;
  d->pub.tried = d->tried;
  return &d->pub;
}

int rf_cache_dhcp_from_value(rf_cache_dhcp **out, const char *value, size_t len,
                             const char *source)
{
  ch_dhcp *d;
  char why[256];
  int rc;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || (value == NULL && len > 0))
    return RF_EINVAL;
  if (source == NULL)
    source = "given";
  d = calloc(1, sizeof(*d));
  if (d == NULL)
    return RF_ENOMEM;
  rc = rf__cache_dhcp_value(&d->hosts, why, sizeof(why), value, len);
  if (rc == RF_ENOMEM)
    goto fail;
  d->source = strdup(source);
  d->tried = malloc(strlen(source) + 32);
  if (rc != 0)
    d->why = strdup(why);
  if (d->source == NULL || d->tried == NULL || (rc != 0 && d->why == NULL)) {
    rc = RF_ENOMEM;
    goto fail;
  }
  sprintf(d->tried, "%s (%s)", source, rc == 0 ? "found" : "malformed");
  *out =
      ch_dhcp_pub(d, rc == 0 ? RF_CACHE_DHCP_FOUND : RF_CACHE_DHCP_MALFORMED);
  return 0;
fail:
  rf_cache_dhcp_free(&d->pub);
  return RF_ENOMEM;
}

void rf_cache_dhcp_options_init(rf_cache_dhcp_options *opts)
{
  static const rf_cache_dhcp_options defaults = RF_CACHE_DHCP_OPTIONS_INIT;

  if (opts != NULL)
    *opts = defaults;
}

/* The names dhclient.conf files declare for option 235, in a growable
 * array of borrowed pointers into the lists in `blocks`. */
typedef struct ch_names {
  char **blocks[8];
  size_t nblocks;
  const char **names;
  size_t n;
} ch_names;

static void ch_names_free(ch_names *nm)
{
  size_t i;

  for (i = 0; i < nm->nblocks; i++)
    free(nm->blocks[i]);
  free(nm->names);
}

/* Reads one dhclient.conf.  0 or RF_ENOMEM (a file that cannot be read
 * is noted in tried and skipped). */
static int ch_names_read(ch_names *nm, ch_out *tried, const char *path)
{
  char *text = NULL, **v = NULL;
  size_t len, k;
  int e, rc;

  if (nm->nblocks == sizeof(nm->blocks) / sizeof(nm->blocks[0]))
    return 0;
  e = rf__read_file_max(path, CH_CONF_MAX, 1, &text, &len, NULL);
  if (e == ENOMEM)
    return RF_ENOMEM;
  if (e != 0) {
    if (e != ENOENT && e != ENOTDIR)
      ch_printf(tried, "%s%s (%s: option names not known); ",
                "dhclient configuration ", path,
                rf_strerror(e == EFBIG ? RF_ETOOBIG : rf__errno_to_rf(e)));
    return 0;
  }
  rc = rf__dhcp_declared_names(&v, text, len, RF__CACHE_HOST_DHCP_OPTION);
  free(text);
  if (rc != 0)
    return rc;
  for (k = 0; v[k] != NULL; k++)
    ;
  if (k > 0) {
    const char **p = realloc(nm->names, (nm->n + k + 1) * sizeof(*p));

    if (p == NULL) {
      free(v);
      return RF_ENOMEM;
    }
    nm->names = p;
    for (k = 0; v[k] != NULL; k++)
      nm->names[nm->n++] = v[k];
    nm->names[nm->n] = NULL;
  }
  nm->blocks[nm->nblocks++] = v;
  return 0;
}

int rf_cache_dhcp_read(rf_cache_dhcp **out, const rf_cache_dhcp_options *opts)
{
  static const char *const default_conf[] = { "/etc/dhcp/dhclient.conf",
                                              "/etc/dhclient.conf", NULL };
  static const rf__dhcp_lease_dir default_dirs[] = {
    { "/var/lib/dhcp", "dhclient", ".leases" },
    { "/var/lib/dhclient", "dhclient", ".leases" },
    { "/var/lib/NetworkManager", "dhclient", ".lease" },
    { "/run/systemd/netif/leases", "", "" },
    { "/var/lib/NetworkManager", "internal-", ".lease" },
  };
  rf_cache_dhcp_options o = RF_CACHE_DHCP_OPTIONS_INIT;
  ch_out tried = { NULL, 0, 0, 1, 0 };
  ch_names nm;
  rf__dhcp_option opt;
  const char *const *conf, *const *files;
  char **defaults = NULL, *mal_source = NULL, *mal_why = NULL;
  ch_dhcp *d = NULL;
  rf_cache_dhcp_status status = RF_CACHE_DHCP_NONE;
  size_t i;
  int rc = 0;

  memset(&nm, 0, sizeof(nm));
  if (out != NULL)
    *out = NULL;
  if (out == NULL ||
      (opts != NULL &&
       (opts->version == 0 || opts->version > RF_CACHE_DHCP_OPTIONS_VERSION)))
    return RF_EINVAL;
  if (opts != NULL)
    o = *opts;
  if (o.now == 0)
    o.now = (int64_t)time(NULL);
  d = calloc(1, sizeof(*d));
  if (d == NULL)
    return RF_ENOMEM;
  conf = o.dhclient_conf != NULL ? o.dhclient_conf : default_conf;
  for (i = 0; conf[i] != NULL; i++) {
    rc = ch_names_read(&nm, &tried, conf[i]);
    if (rc != 0)
      goto fail;
  }
  opt.code = RF__CACHE_HOST_DHCP_OPTION;
  opt.names = nm.names;
  files = o.lease_files;
  if (files == NULL) {
    defaults = rf__dhcp_lease_files(default_dirs, sizeof(default_dirs) /
                                                      sizeof(default_dirs[0]));
    if (defaults == NULL) {
      rc = RF_ENOMEM;
      goto fail;
    }
    files = (const char *const *)defaults;
  }
  if (files[0] == NULL)
    ch_str(&tried, "no lease file");
  for (i = 0; files[i] != NULL && status != RF_CACHE_DHCP_FOUND; i++) {
    rf__dhcp_answer a;
    rf__dhcp_found found;
    const char *what = NULL;
    char why[256];

    if (i > 0)
      ch_str(&tried, "; ");
    ch_str(&tried, files[i]);
    rc = rf__dhcp_read_lease(&a, files[i], &opt, o.now);
    if (rc == RF_ENOMEM)
      goto fail;
    if (rc != 0) {
      ch_printf(&tried, " (%s)", rf_strerror(rc));
      rc = 0;
      continue;
    }
    found = a.found;
    switch (found) {
    case RF__DHCP_NO_LEASE:
      what = "no lease";
      break;
    case RF__DHCP_EXPIRED:
      what = "last lease expired";
      break;
    case RF__DHCP_NO_OPTION:
      what = "no option 235 in the current lease";
      break;
    case RF__DHCP_BAD_VALUE:
      snprintf(why, sizeof(why), "%s", a.why);
      break;
    case RF__DHCP_VALUE:
      rc = rf__cache_dhcp_value(&d->hosts, why, sizeof(why), a.value,
                                a.value_len);
      break;
    }
    rf__dhcp_answer_free(&a);
    if (rc == RF_ENOMEM)
      goto fail;
    if (what != NULL) {
      ch_printf(&tried, " (%s)", what);
      continue;
    }
    if (found == RF__DHCP_VALUE && rc == 0) {
      ch_str(&tried, " (found)");
      d->source = strdup(files[i]);
      if (d->source == NULL) {
        rc = RF_ENOMEM;
        goto fail;
      }
      status = RF_CACHE_DHCP_FOUND;
      continue;
    }
    rc = 0;
    ch_printf(&tried, " (malformed: %s)", why);
    if (mal_source == NULL) {
      mal_source = strdup(files[i]);
      mal_why = strdup(why);
      if (mal_source == NULL || mal_why == NULL) {
        rc = RF_ENOMEM;
        goto fail;
      }
    }
  }
  ch_end(&tried);
  if (tried.oom) {
    rc = RF_ENOMEM;
    goto fail;
  }
  d->tried = tried.buf;
  tried.buf = NULL;
  if (status != RF_CACHE_DHCP_FOUND && mal_source != NULL) {
    status = RF_CACHE_DHCP_MALFORMED;
    d->source = mal_source;
    d->why = mal_why;
    mal_source = mal_why = NULL;
  }
  *out = ch_dhcp_pub(d, status);
  d = NULL;
fail:
  if (d != NULL)
    rf_cache_dhcp_free(&d->pub);
  free(tried.buf);
  free(mal_source);
  free(mal_why);
  free(defaults);
  ch_names_free(&nm);
  return rc;
}

/* ------------------------------------------------------------ combining */

/* Appends the hosts of l not yet in items[0..*n).  Returns how many. */
static size_t ch_add_new(ch_item *items, size_t *n, const rf_cache_host_list *l)
{
  size_t i, j, added = 0;

  for (i = 0; l != NULL && i < l->count; i++) {
    const rf_cache_host *h = &l->hosts[i];
    unsigned port = h->port != 0 ? h->port : RF_CACHE_HOST_DEFAULT_PORT;

    for (j = 0; j < *n; j++) {
      unsigned pj =
          items[j].port != 0 ? items[j].port : RF_CACHE_HOST_DEFAULT_PORT;

      if (pj == port && strcasecmp(items[j].host, h->host) == 0)
        break;
    }
    if (j < *n)
      continue;
    items[*n].host = h->host;
    items[*n].len = strlen(h->host);
    items[*n].port = h->port;
    (*n)++;
    added++;
  }
  return added;
}

static const char *ch_plural(size_t n)
{
  return n == 1 ? "" : "s";
}

int rf_cache_hosts_combine(rf_cache_host_list **out, char *note, size_t notelen,
                           const rf_cache_policy *policy,
                           const rf_cache_dhcp *dhcp)
{
  ch_out o = { note, notelen, 0, 0, 0 };
  const rf_cache_host_list *stat;
  const char *src_name;
  ch_item *items = NULL;
  size_t n = 0, cap, from_static, from_dhcp = 0, dups, considered;
  int use_dhcp, rc;

  if (out != NULL)
    *out = NULL;
  if (note != NULL && notelen > 0)
    note[0] = '\0';
  if (out == NULL || policy == NULL || policy->version == 0 ||
      policy->version > RF_CACHE_POLICY_VERSION ||
      (unsigned)policy->source > RF_CACHE_HOST_SOURCE_DHCP_FORCE ||
      (unsigned)policy->proxy > RF_CACHE_HOST_PROXY_DIRECT)
    return RF_EINVAL;
  stat = policy->hosts;
  src_name = rf_cache_host_source_name(policy->source);
  use_dhcp = policy->source != RF_CACHE_HOST_SOURCE_STATIC && dhcp != NULL &&
             dhcp->status == RF_CACHE_DHCP_FOUND && dhcp->hosts != NULL;
  cap = (stat != NULL ? stat->count : 0) + (use_dhcp ? dhcp->hosts->count : 0);
  items = malloc((cap + 1) * sizeof(*items));
  if (items == NULL)
    return RF_ENOMEM;
  if (use_dhcp && policy->source == RF_CACHE_HOST_SOURCE_DHCP_FORCE) {
    from_static = 0;
    from_dhcp = ch_add_new(items, &n, dhcp->hosts);
    considered = dhcp->hosts->count;
  } else {
    from_static = ch_add_new(items, &n, stat);
    if (use_dhcp)
      from_dhcp = ch_add_new(items, &n, dhcp->hosts);
    considered = cap;
  }
  dups = considered - n;
  if (policy->source == RF_CACHE_HOST_SOURCE_STATIC) {
    if (n == 0)
      ch_str(&o, "no cache host");
    else
      ch_printf(&o, "%zu cache host%s from the static list", n, ch_plural(n));
  } else if (use_dhcp && policy->source == RF_CACHE_HOST_SOURCE_DHCP_FORCE) {
    ch_printf(&o, "%zu cache host%s from DHCP option 235 (%s)", n, ch_plural(n),
              dhcp->source != NULL ? dhcp->source : "?");
  } else if (use_dhcp) {
    if (from_static == 0)
      ch_printf(&o, "%zu cache host%s from DHCP option 235 (%s)", n,
                ch_plural(n), dhcp->source != NULL ? dhcp->source : "?");
    else
      ch_printf(&o,
                "%zu cache host%s: %zu from the static list, then %zu from "
                "DHCP option 235 (%s)",
                n, ch_plural(n), from_static, from_dhcp,
                dhcp->source != NULL ? dhcp->source : "?");
  } else {
    if (dhcp == NULL)
      ch_str(&o, "DHCP option 235 not read");
    else if (dhcp->status == RF_CACHE_DHCP_MALFORMED)
      ch_printf(&o, "DHCP option 235 malformed (%s: %s)",
                dhcp->source != NULL ? dhcp->source : "?",
                dhcp->why != NULL ? dhcp->why : "?");
    else
      ch_str(&o, "no DHCP option 235");
    if (n == 0)
      ch_str(&o, ": the static list is empty, no cache host");
    else
      ch_printf(&o, ": using the static list, %zu cache host%s", n,
                ch_plural(n));
  }
  if (dups > 0)
    ch_printf(&o, ", %zu duplicate%s dropped", dups, ch_plural(dups));
  ch_printf(&o, " (cache_host_source = %s)", src_name);
  ch_end(&o);
  rc = ch_list_make(out, items, n);
  free(items);
  if (rc != 0 && note != NULL && notelen > 0)
    note[0] = '\0';
  return rc;
}
