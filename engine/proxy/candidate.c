/* Proxy candidates: parse, format, copy, apply to libcurl, classify. */
#include "proxy/candidate.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
  const char *name;
  rf_proxy_type type;
  unsigned port;
} rf__types[] = {
  { "direct", RF_PROXY_DIRECT, 0 },   { "http", RF_PROXY_HTTP, 80 },
  { "https", RF_PROXY_HTTPS, 443 },   { "socks4", RF_PROXY_SOCKS4, 1080 },
  { "socks4a", RF_PROXY_SOCKS4A, 1080 }, { "socks5", RF_PROXY_SOCKS5, 1080 },
  { "socks5h", RF_PROXY_SOCKS5H, 1080 },
};

#define RF__NTYPES (sizeof(rf__types) / sizeof(rf__types[0]))

const char *rf_proxy_type_name(rf_proxy_type type)
{
  size_t i;

  for (i = 0; i < RF__NTYPES; i++)
    if (rf__types[i].type == type)
      return rf__types[i].name;
  return "unknown";
}

const char *rf_resolve_status_name(rf_resolve_status status)
{
  switch (status) {
  case RF_RESOLVE_OK:
    return "ok";
  case RF_RESOLVE_PASS:
    return "pass";
  case RF_RESOLVE_ERROR:
    return "error";
  case RF_RESOLVE_ERROR_MANDATORY:
    return "mandatory-error";
  }
  return "unknown";
}

unsigned rf__proxy_port(const rf_proxy *p)
{
  size_t i;

  if (p->port != 0)
    return p->port;
  for (i = 0; i < RF__NTYPES; i++)
    if (rf__types[i].type == p->type)
      return rf__types[i].port;
  return 0;
}

/* Copy [s, s+len) percent-decoded into *dst (bounded by end); NUL-ends. */
static int put_decoded(char **dst, char *end, const char *s, size_t len,
                       const char **out)
{
  char *d = *dst;
  size_t i;

  *out = d;
  for (i = 0; i < len; i++) {
    int ch = (unsigned char)s[i];
    if (ch == '%' && i + 2 < len && rfx_hexval(s[i + 1]) >= 0 &&
        rfx_hexval(s[i + 2]) >= 0) {
      ch = rfx_hexval(s[i + 1]) * 16 + rfx_hexval(s[i + 2]);
      i += 2;
    }
    if (d >= end)
      return RF_EINVAL;
    *d++ = (char)ch;
  }
  if (d >= end)
    return RF_EINVAL;
  *d++ = '\0';
  *dst = d;
  return 0;
}

int rf_proxy_parse(rf_proxy *out, char *buf, size_t bufsize, const char *text)
{
  const char *p, *sep, *at, *auth_end, *host, *host_end, *port_s = NULL;
  char *w, *end;
  size_t i;
  int rc;

  if (text == NULL || out == NULL || buf == NULL || bufsize == 0)
    return RF_EINVAL;
  memset(out, 0, sizeof(*out));
  while (*text == ' ' || *text == '\t')
    text++;
  if (strcasecmp(text, "direct") == 0) {
    out->type = RF_PROXY_DIRECT;
    return 0;
  }
  sep = strstr(text, "://");
  out->type = RF_PROXY_HTTP;
  p = text;
  if (sep != NULL) {
    size_t sl = (size_t)(sep - text);
    int found = 0;
    for (i = 1; i < RF__NTYPES; i++) {
      if (strlen(rf__types[i].name) == sl &&
          strncasecmp(text, rf__types[i].name, sl) == 0) {
        out->type = rf__types[i].type;
        found = 1;
      }
    }
    if (!found)
      return RF_EURL;
    p = sep + 3;
  }
  auth_end = p + strcspn(p, "/?#");
  if (*auth_end == '/' && auth_end[1] != '\0')
    return RF_EURL; /* a path means this is not a proxy address */
  if (*auth_end == '?' || *auth_end == '#')
    return RF_EURL;
  at = NULL;
  for (sep = p; sep < auth_end; sep++)
    if (*sep == '@')
      at = sep;
  w = buf;
  end = buf + bufsize;
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon != NULL) {
      rc = put_decoded(&w, end, p, (size_t)(colon - p), &out->user);
      if (rc == 0)
        rc = put_decoded(&w, end, colon + 1, (size_t)(at - colon - 1),
                         &out->password);
    } else {
      rc = put_decoded(&w, end, p, (size_t)(at - p), &out->user);
    }
    if (rc != 0)
      return rc;
    p = at + 1;
  }
  if (*p == '[') {
    host = p + 1;
    host_end = memchr(host, ']', (size_t)(auth_end - host));
    if (host_end == NULL)
      return RF_EURL;
    sep = host_end + 1;
    if (sep < auth_end && *sep != ':')
      return RF_EURL;
  } else {
    host = p;
    host_end = memchr(host, ':', (size_t)(auth_end - host));
    if (host_end == NULL)
      host_end = auth_end;
    sep = host_end;
  }
  if (host_end == host)
    return RF_EURL;
  if (sep < auth_end && *sep == ':')
    port_s = sep + 1;
  if (port_s != NULL) {
    unsigned long v = 0;
    const char *q;
    if (port_s == auth_end)
      return RF_EURL;
    for (q = port_s; q < auth_end; q++) {
      if (*q < '0' || *q > '9')
        return RF_EURL;
      v = v * 10 + (unsigned long)(*q - '0');
      if (v > 65535)
        return RF_EURL;
    }
    if (v == 0)
      return RF_EURL;
    out->port = (unsigned)v;
  }
  for (sep = host; sep < host_end; sep++)
    if (*sep == ' ' || *sep == '%' || *sep == '@' || *sep == '/')
      return RF_EURL;
  if ((size_t)(host_end - host) + 1 > (size_t)(end - w))
    return RF_EINVAL;
  memcpy(w, host, (size_t)(host_end - host));
  w[host_end - host] = '\0';
  out->host = w;
  return 0;
}

size_t rf_proxy_format(char *out, size_t size, const rf_proxy *p)
{
  int n;

  if (p == NULL || p->type == RF_PROXY_DIRECT || p->host == NULL)
    n = snprintf(out, size, "DIRECT");
  else if (strchr(p->host, ':') != NULL)
    n = snprintf(out, size, "%s://[%s]:%u", rf_proxy_type_name(p->type),
                 p->host, rf__proxy_port(p));
  else
    n = snprintf(out, size, "%s://%s:%u", rf_proxy_type_name(p->type),
                 p->host, rf__proxy_port(p));
  return n < 0 ? 0 : (size_t)n;
}

static size_t slen(const char *s)
{
  return s != NULL ? strlen(s) + 1 : 0;
}

static const char *put(char **w, const char *s)
{
  size_t n;
  char *d = *w;

  if (s == NULL)
    return NULL;
  n = strlen(s) + 1;
  memcpy(d, s, n);
  *w += n;
  return d;
}

int rf__proxy_list_copy(const rf_proxy *src, size_t n, int keep_secrets,
                        rf_proxy **out)
{
  size_t need = n * sizeof(rf_proxy), i;
  rf_proxy *list;
  char *w;

  *out = NULL;
  if (src == NULL && n > 0)
    return RF_EINVAL;
  for (i = 0; i < n; i++) {
    if (src[i].type > RF_PROXY_SOCKS5H)
      return RF_EINVAL;
    if (src[i].type != RF_PROXY_DIRECT &&
        (src[i].host == NULL || src[i].host[0] == '\0' ||
         src[i].port > 65535))
      return RF_EINVAL;
    need += slen(src[i].host) + slen(src[i].user) + slen(src[i].ca_file) +
            (keep_secrets ? slen(src[i].password) : 0);
  }
  list = malloc(need > 0 ? need : 1);
  if (list == NULL)
    return RF_ENOMEM;
  w = (char *)(list + n);
  for (i = 0; i < n; i++) {
    list[i] = src[i];
    if (list[i].type == RF_PROXY_DIRECT) {
      memset(&list[i], 0, sizeof(list[i]));
      continue;
    }
    list[i].host = put(&w, src[i].host);
    list[i].user = put(&w, src[i].user);
    list[i].password = keep_secrets ? put(&w, src[i].password) : NULL;
    list[i].ca_file = put(&w, src[i].ca_file);
  }
  *out = list;
  return 0;
}

size_t rf_proxy_auth_names(char *out, size_t size, unsigned mask)
{
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = { { RF_PROXY_AUTH_BASIC, "Basic" },
                { RF_PROXY_AUTH_DIGEST, "Digest" },
                { RF_PROXY_AUTH_NTLM, "NTLM" },
                { RF_PROXY_AUTH_NEGOTIATE, "Negotiate" } };
  char buf[64];
  size_t i, len = 0;

  /* Every name fits: "Basic, Digest, NTLM, Negotiate" is 31 bytes. */
  buf[0] = '\0';
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (mask & names[i].bit) {
      int k = snprintf(buf + len, sizeof(buf) - len, "%s%s",
                       len ? ", " : "", names[i].name);
      len += (size_t)k;
    }
  }
  if (len == 0)
    len = (size_t)snprintf(buf, sizeof(buf), "none");
  if (size > 0)
    snprintf(out, size, "%s", buf);
  return len;
}

void rf__proxy_auth_names(unsigned mask, char *out, size_t size)
{
  rf_proxy_auth_names(out, size, mask);
}

unsigned rf__proxy_auth_from_curl(long avail)
{
  unsigned long a = (unsigned long)avail;
  unsigned m = 0;

  if (a & CURLAUTH_BASIC)
    m |= RF_PROXY_AUTH_BASIC;
  if (a & CURLAUTH_DIGEST)
    m |= RF_PROXY_AUTH_DIGEST;
  if (a & CURLAUTH_NTLM)
    m |= RF_PROXY_AUTH_NTLM;
  if (a & CURLAUTH_NEGOTIATE)
    m |= RF_PROXY_AUTH_NEGOTIATE;
  return m;
}

static unsigned long to_curl_auth(unsigned m)
{
  unsigned long a = 0;

  if (m & RF_PROXY_AUTH_BASIC)
    a |= (unsigned long)CURLAUTH_BASIC;
  if (m & RF_PROXY_AUTH_DIGEST)
    a |= (unsigned long)CURLAUTH_DIGEST;
  if (m & RF_PROXY_AUTH_NTLM)
    a |= (unsigned long)CURLAUTH_NTLM;
  if (m & RF_PROXY_AUTH_NEGOTIATE)
    a |= (unsigned long)CURLAUTH_NEGOTIATE;
  return a;
}

int rf__proxy_apply(CURL *easy, const rf_proxy *p, const char *user,
                     const char *password, unsigned auth)
{
  char url[300];
  int bad = 0; /* a string libcurl could not copy */

  /* Every option is set each time: the handle may have carried another
   * candidate before.  "" disables the proxy and NOPROXY "" stops libcurl
   * from reading no_proxy: the engine decides, never the environment. */
  bad |= curl_easy_setopt(easy, CURLOPT_NOPROXY, "") != CURLE_OK;
  curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, NULL);
  curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD, NULL);
  curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, NULL);
  curl_easy_setopt(easy, CURLOPT_PROXYAUTH, (long)CURLAUTH_BASIC);
  if (p == NULL || p->type == RF_PROXY_DIRECT) {
    bad |= curl_easy_setopt(easy, CURLOPT_PROXY, "") != CURLE_OK;
    return bad ? RF_ENOMEM : 0;
  }
  rf_proxy_format(url, sizeof(url), p);
  bad |= curl_easy_setopt(easy, CURLOPT_PROXY, url) != CURLE_OK;
  if (p->user != NULL) {
    user = p->user;
    password = p->password;
  }
  if (auth == 0)
    auth = RF_PROXY_AUTH_SAFE;
  if (p->auth != 0)
    auth = p->auth;
  if (auth & RF_PROXY_AUTH_NONE) {
    curl_easy_setopt(easy, CURLOPT_PROXYAUTH, (long)CURLAUTH_NONE);
    if (p->type == RF_PROXY_HTTPS && p->ca_file != NULL)
      bad |= curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, p->ca_file) !=
             CURLE_OK;
    return bad ? RF_ENOMEM : 0;
  }
  if (p->type == RF_PROXY_HTTP || p->type == RF_PROXY_HTTPS) {
    curl_easy_setopt(easy, CURLOPT_PROXYAUTH, (long)to_curl_auth(auth));
    if (user != NULL) {
      bad |= curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, user) != CURLE_OK;
      bad |= curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD,
                              password != NULL ? password : "") != CURLE_OK;
    } else if (auth & RF_PROXY_AUTH_NEGOTIATE) {
      /* No user: Negotiate with the ticket cache, like curl -U ":". */
      bad |= curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, "") != CURLE_OK;
      bad |= curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD, "") != CURLE_OK;
    }
  } else if ((p->type == RF_PROXY_SOCKS5 || p->type == RF_PROXY_SOCKS5H) &&
             user != NULL) {
    bad |= curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, user) != CURLE_OK;
    bad |= curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD,
                            password != NULL ? password : "") != CURLE_OK;
  } else if (p->type == RF_PROXY_SOCKS4 || p->type == RF_PROXY_SOCKS4A) {
    if (user != NULL) /* SOCKS4 has a user id, no password */
      bad |= curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, user) != CURLE_OK;
  }
  if (p->type == RF_PROXY_HTTPS && p->ca_file != NULL)
    bad |= curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, p->ca_file) !=
           CURLE_OK;
  return bad ? RF_ENOMEM : 0;
}

static const char *socks_reason(long px)
{
  switch (px) {
  case CURLPX_NO_AUTH:
    return "the SOCKS proxy wants a user name and password";
  case CURLPX_USER_REJECTED:
    return "the SOCKS proxy refused the user name or password";
  case CURLPX_REQUEST_FAILED:
    return "the SOCKS proxy could not reach the server";
  case CURLPX_REPLY_CONNECTION_REFUSED:
    return "the SOCKS proxy says the server refused the connection";
  case CURLPX_REPLY_HOST_UNREACHABLE:
    return "the SOCKS proxy says the host is unreachable";
  case CURLPX_REPLY_NETWORK_UNREACHABLE:
    return "the SOCKS proxy says the network is unreachable";
  case CURLPX_REPLY_NOT_ALLOWED:
    return "the SOCKS proxy does not allow this connection";
  case CURLPX_RESOLVE_HOST:
    return "the SOCKS proxy could not resolve the host";
  case CURLPX_REPLY_GENERAL_SERVER_FAILURE:
    return "the SOCKS proxy reports a general failure";
  default:
    return "the SOCKS handshake failed";
  }
}

rf__proxy_fault rf__proxy_classify(CURL *easy, CURLcode res, long status,
                                   const rf_proxy *p, unsigned *offered,
                                   char *why, size_t size)
{
  long connect_code = 0, px = 0, avail = 0;
  curl_off_t connect_us = 0;
  char name[300];

  *offered = 0;
  why[0] = '\0';
  if (p == NULL || p->type == RF_PROXY_DIRECT)
    return RF__PROXY_FAULT_NONE;
  rf_proxy_format(name, sizeof(name), p);
  curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  curl_easy_getinfo(easy, CURLINFO_PROXYAUTH_AVAIL, &avail);
  curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  if (status == 407 || connect_code == 407) {
    *offered = rf__proxy_auth_from_curl(avail);
    snprintf(why, size, "%s answered 407 Proxy Authentication Required%s",
             name, connect_code == 407 ? " to CONNECT" : "");
    return RF__PROXY_FAULT_AUTH;
  }
  if (res == CURLE_OK)
    return RF__PROXY_FAULT_NONE;
  switch (res) {
  case CURLE_COULDNT_RESOLVE_PROXY:
    snprintf(why, size, "cannot resolve the proxy name of %s", name);
    return RF__PROXY_FAULT_DEAD;
  case CURLE_COULDNT_CONNECT:
    snprintf(why, size, "cannot connect to the proxy %s", name);
    return RF__PROXY_FAULT_DEAD;
  case CURLE_PROXY:
    curl_easy_getinfo(easy, CURLINFO_PROXY_ERROR, &px);
    snprintf(why, size, "%s: %s", name, socks_reason(px));
    if (px == CURLPX_NO_AUTH || px == CURLPX_USER_REJECTED)
      return RF__PROXY_FAULT_AUTH;
    if (px == CURLPX_REQUEST_FAILED || px == CURLPX_REPLY_CONNECTION_REFUSED ||
        px == CURLPX_REPLY_HOST_UNREACHABLE ||
        px == CURLPX_REPLY_NETWORK_UNREACHABLE ||
        px == CURLPX_REPLY_NOT_ALLOWED || px == CURLPX_RESOLVE_HOST ||
        px == CURLPX_REPLY_TTL_EXPIRED)
      return RF__PROXY_FAULT_REFUSED; /* the proxy works; the target does
                                         not */
    return RF__PROXY_FAULT_DEAD;
  default:
    break;
  }
  if (connect_code >= 300) {
    snprintf(why, size, "%s refused the tunnel: CONNECT answered %ld", name,
             connect_code);
    return RF__PROXY_FAULT_REFUSED;
  }
  if (p->type == RF_PROXY_HTTPS && connect_code == 0 &&
      (res == CURLE_SSL_CONNECT_ERROR || res == CURLE_PEER_FAILED_VERIFICATION ||
       res == CURLE_SSL_CACERT_BADFILE || res == CURLE_SSL_CERTPROBLEM)) {
    snprintf(why, size, "TLS with the HTTPS proxy %s failed", name);
    return RF__PROXY_FAULT_DEAD;
  }
  if (res == CURLE_OPERATION_TIMEDOUT && connect_us == 0) {
    snprintf(why, size, "connecting to the proxy %s timed out", name);
    return RF__PROXY_FAULT_DEAD;
  }
  return RF__PROXY_FAULT_NONE;
}

void rf__proxy_auth_message(const rf_proxy *p, unsigned job_auth,
                            const char *job_user, unsigned offered,
                            const char *why, char *msg, size_t size)
{
  unsigned allowed = p->auth != 0    ? p->auth
                     : job_auth != 0 ? job_auth
                                     : RF_PROXY_AUTH_SAFE;
  const char *user = p->user != NULL ? p->user : job_user;
  char on[64], an[64];
  int socks = p->type != RF_PROXY_HTTP && p->type != RF_PROXY_HTTPS;

  rf__proxy_auth_names(offered, on, sizeof(on));
  rf__proxy_auth_names(allowed, an, sizeof(an));
  if (socks)
    snprintf(msg, size, "%s%s", why,
             user == NULL ? "; give credentials with --proxy-user USER:PASS "
                            "or in the proxy URL"
                          : "");
  else if (allowed & RF_PROXY_AUTH_NONE)
    snprintf(msg, size, "%s; it offers %s, but no credentials are ever sent "
             "to a proxy of this scope (like netsh winhttp, the static scope "
             "does not authenticate)", why, on);
  else if (offered == RF_PROXY_AUTH_BASIC && !(allowed & offered))
    snprintf(msg, size,
             "%s; it offers only Basic authentication, which sends the "
             "password in clear and is not allowed by default: allow it "
             "with --proxy-auth basic (or any; API: proxy_auth) if the "
             "network to the proxy is trusted",
             why);
  else if (offered != 0 && !(allowed & offered))
    snprintf(msg, size, "%s; it offers %s, none of which is allowed (allowed: "
             "%s)", why, on, an);
  else if (user == NULL && !(offered & RF_PROXY_AUTH_NEGOTIATE))
    snprintf(msg, size, "%s; it offers %s and no credentials were given: use "
             "--proxy-user USER[:PASSWORD], the proxy URL, ~/.netrc or "
             "proxy_user in a settings file", why, on);
  else if (user == NULL)
    snprintf(msg, size, "%s; it refused Negotiate with the Kerberos ticket "
             "cache (offers %s): check the ticket with klist, and that the "
             "proxy is named by the host name of its service principal",
             why, on);
  else
    snprintf(msg, size, "%s; it refused the credentials of user '%s' "
             "(offers %s)", why, user, on);
}
