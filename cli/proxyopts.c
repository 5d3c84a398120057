/* Proxy options and the CLI's resolver chain (see proxyopts.h). */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "proxyopts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char cli_proxy_help[] =
    "Proxy options (docs/proxy.md):\n"
    "      --proxy URL          use this proxy for every request (http://,\n"
    "                           https://, socks4[a]://, socks5[h]://;\n"
    "                           credentials may be in the URL)\n"
    "      --no-proxy           no proxy, whatever the settings say\n"
    "      --pac URL|FILE       proxy auto-config script (http(s) URL, file\n"
    "                           or data: URL)\n"
    "      --wpad               discover a PAC file (DHCP option 252, DNS\n"
    "                           wpad.<domain>)\n"
    "      --proxy-user USER[:PASS]\n"
    "                           credentials for the proxy (also read from\n"
    "                           the proxy URL, settings files, ~/.netrc)\n"
    "      --proxy-auth SCHEMES any, safe (default: Digest, NTLM,\n"
    "                           Negotiate), or a comma list of basic,\n"
    "                           digest, ntlm, negotiate\n"
    "      --context user|service\n"
    "                           whose proxy settings apply (default user;\n"
    "                           service: as a system service with no user)\n"
    "      --proxy-cacert FILE  CA bundle to verify HTTPS proxies\n"
    "      --no-proxy-config    ignore the settings files\n"
    "\n"
    "Order: --proxy/--no-proxy, --pac, the settings files (user scope\n"
    "$XDG_CONFIG_HOME/rangefetch/proxy.conf, device-wide\n"
    "/etc/rangefetch/proxy.conf, static /etc/rangefetch/static.conf, chosen\n"
    "by --context), --wpad, then https_proxy/http_proxy/all_proxy/no_proxy\n"
    "as curl reads them (HTTP_PROXY ignored), then direct.  A proxy that\n"
    "cannot be reached is skipped for 5 minutes in favour of the next one.\n";

static int parse_auth(const char *v, unsigned *out)
{
  char buf[128], *save = NULL, *tok;
  unsigned m = 0;

  if (strlen(v) >= sizeof(buf))
    return -1;
  strcpy(buf, v);
  for (tok = strtok_r(buf, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    if (strcasecmp(tok, "any") == 0)
      m |= RF_PROXY_AUTH_ANY;
    else if (strcasecmp(tok, "safe") == 0)
      m |= RF_PROXY_AUTH_SAFE;
    else if (strcasecmp(tok, "basic") == 0)
      m |= RF_PROXY_AUTH_BASIC;
    else if (strcasecmp(tok, "digest") == 0)
      m |= RF_PROXY_AUTH_DIGEST;
    else if (strcasecmp(tok, "ntlm") == 0)
      m |= RF_PROXY_AUTH_NTLM;
    else if (strcasecmp(tok, "negotiate") == 0 ||
             strcasecmp(tok, "kerberos") == 0)
      m |= RF_PROXY_AUTH_NEGOTIATE;
    else
      return -1;
  }
  if (m == 0)
    return -1;
  *out = m;
  return 0;
}

int cli_proxy_option(cli_proxy_args *px, int id, const char *v,
                     const char *opt, const char *cmd)
{
  char buf[512];
  rf_proxy p;

  switch (id) {
  case CLI_OPT_PROXY:
    if (v[0] != '\0' && rf_proxy_parse(&p, buf, sizeof(buf), v) != 0) {
      char masked[512];
      rf_url_mask(masked, sizeof(masked), v);
      cli_usage_error(cmd,
                      "invalid value '%s' for %s: expected "
                      "[scheme://][user[:password]@]host[:port] with scheme "
                      "http, https, socks4, socks4a, socks5 or socks5h",
                      masked, opt);
      memset(buf, 0, sizeof(buf));
      return -1;
    }
    memset(buf, 0, sizeof(buf));
    px->proxy = v;
    return 1;
  case CLI_OPT_NO_PROXY:
    px->no_proxy = 1;
    return 1;
  case CLI_OPT_PAC:
    if (v[0] == '\0') {
      cli_usage_error(cmd, "%s: empty PAC location", opt);
      return -1;
    }
    px->pac = v;
    return 1;
  case CLI_OPT_WPAD:
    px->wpad = 1;
    return 1;
  case CLI_OPT_PROXY_USER:
    if (v[0] == '\0' || v[0] == ':') {
      cli_usage_error(cmd, "%s: expected USER or USER:PASSWORD", opt);
      return -1;
    }
    px->proxy_user = v;
    return 1;
  case CLI_OPT_PROXY_AUTH:
    if (parse_auth(v, &px->proxy_auth) != 0) {
      cli_usage_error(cmd,
                      "invalid value '%s' for %s: expected any, safe, or a "
                      "comma list of basic, digest, ntlm, negotiate",
                      v, opt);
      return -1;
    }
    return 1;
  case CLI_OPT_CONTEXT:
    if (strcmp(v, "user") == 0) {
      px->context = RF_CONTEXT_USER;
    } else if (strcmp(v, "service") == 0) {
      px->context = RF_CONTEXT_SERVICE;
    } else {
      cli_usage_error(cmd, "invalid value '%s' for %s: expected user or "
                           "service", v, opt);
      return -1;
    }
    return 1;
  case CLI_OPT_PROXY_CACERT:
    if (access(v, R_OK) != 0) {
      cli_usage_error(cmd, "cannot read the %s file '%s': %s", opt, v,
                      strerror(errno));
      return -1;
    }
    px->proxy_cacert = v;
    return 1;
  case CLI_OPT_NO_PROXY_CONFIG:
    px->no_config = 1;
    return 1;
  default:
    return 0;
  }
}

int cli_proxy_check(const cli_proxy_args *px, const char *cmd)
{
  if (px->proxy != NULL && px->no_proxy) {
    cli_usage_error(cmd, "--proxy and --no-proxy cannot be used together");
    return -1;
  }
  if ((px->proxy != NULL || px->no_proxy) && (px->pac != NULL || px->wpad)) {
    cli_usage_error(cmd, "--proxy/--no-proxy decide alone: drop --pac and "
                         "--wpad, or them");
    return -1;
  }
  return 0;
}

void cli_proxy_auth_names(unsigned mask, char *out, size_t size)
{
  rf_proxy_auth_names(out, size, mask != 0 ? mask : RF_PROXY_AUTH_SAFE);
}


/* ---------------------------------------------------------------- netrc */

/* Next blank-separated token of f into tok; 0 at the end of the file. */
static int netrc_token(FILE *f, char *tok, size_t size)
{
  size_t len = 0;
  int ch;

  while ((ch = fgetc(f)) != EOF &&
         (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'))
    ;
  if (ch == EOF)
    return 0;
  do {
    if (len + 1 < size)
      tok[len++] = (char)ch;
  } while ((ch = fgetc(f)) != EOF && ch != ' ' && ch != '\t' && ch != '\n' &&
           ch != '\r');
  tok[len] = '\0';
  return 1;
}

/*
 * ~/.netrc (or $NETRC): "machine HOST login USER password PASS" for the
 * proxy's host, else a "default" entry.  Quoted strings and macdef are not
 * supported (classic netrc).
 */
static int netrc_lookup(char *user, size_t usize, char *pass, size_t psize,
                        const rf_proxy *proxy, void *ud)
{
  const char *path = getenv("NETRC");
  char fallback[1024], tok[256], login[256] = "", password[256] = "";
  char dlogin[256] = "", dpassword[256] = "";
  FILE *f;
  int state = 0; /* 0 elsewhere, 1 in the proxy's entry, 2 in default */
  int found = 0, n;

  (void)ud;
  if (path == NULL || path[0] == '\0') {
    const char *home = getenv("HOME");
    if (home == NULL)
      return 0;
    snprintf(fallback, sizeof(fallback), "%s/.netrc", home);
    path = fallback;
  }
  f = fopen(path, "r");
  if (f == NULL)
    return 0;
  /* Bounded: each round consumes a token. */
  for (n = 0; n < 100000 && netrc_token(f, tok, sizeof(tok)); n++) {
    if (strcmp(tok, "machine") == 0) {
      if (state == 1 && login[0] != '\0')
        break;
      state = 0;
      if (!netrc_token(f, tok, sizeof(tok)))
        break;
      if (strcasecmp(tok, proxy->host) == 0) {
        state = 1;
        login[0] = password[0] = '\0';
      }
    } else if (strcmp(tok, "default") == 0) {
      if (state == 1 && login[0] != '\0')
        break;
      state = 2;
    } else if (strcmp(tok, "login") == 0 || strcmp(tok, "password") == 0) {
      int is_login = tok[0] == 'l';
      if (!netrc_token(f, tok, sizeof(tok)))
        break;
      if (state == 1)
        snprintf(is_login ? login : password, sizeof(login), "%s", tok);
      else if (state == 2)
        snprintf(is_login ? dlogin : dpassword, sizeof(dlogin), "%s", tok);
    }
  }
  fclose(f);
  if (login[0] != '\0') {
    snprintf(user, usize, "%s", login);
    snprintf(pass, psize, "%s", password);
    found = 1;
  } else if (dlogin[0] != '\0') {
    snprintf(user, usize, "%s", dlogin);
    snprintf(pass, psize, "%s", dpassword);
    found = 1;
  }
  memset(password, 0, sizeof(password));
  memset(dpassword, 0, sizeof(dpassword));
  memset(tok, 0, sizeof(tok));
  return found;
}

/* --------------------------------------------------------- proxy marks */

/* $XDG_STATE_HOME/rangefetch/proxy-marks, or ~/.local/state/...; the
 * directories are created (0700) when create is 1.  0 or -1. */
static int marks_path(char *out, size_t size, int create)
{
  const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
  char d[1000];

  if (state != NULL && state[0] == '/') {
    snprintf(d, sizeof(d), "%s", state);
  } else if (home != NULL && home[0] == '/') {
    if (create) {
      snprintf(d, sizeof(d), "%s/.local", home);
      mkdir(d, 0700); /* existing directories are left as they are */
    }
    snprintf(d, sizeof(d), "%s/.local/state", home);
  } else {
    return -1;
  }
  if (create)
    mkdir(d, 0700);
  snprintf(out, size, "%s/rangefetch", d);
  if (create)
    mkdir(out, 0700);
  snprintf(out + strlen(out), size - strlen(out), "/proxy-marks");
  return 0;
}

void cli_proxy_save_marks(rf_engine *e)
{
  char path[1100];

  /* Best effort.  The directories are made only when there is something
   * to write (the first save fails for want of them). */
  if (marks_path(path, sizeof(path), 0) == 0 &&
      rf_engine_save_proxy_marks(e, path) == RF_ENOENT &&
      marks_path(path, sizeof(path), 1) == 0)
    rf_engine_save_proxy_marks(e, path);
}

/* ---------------------------------------------------------------- setup */

int cli_proxy_setup(rf_engine *e, const cli_proxy_args *px, char *err,
                    size_t errlen)
{
  const char *sys = getenv("RANGEFETCH_SYSCONFDIR");
  int rc = 0;

  err[0] = '\0';
  rf_engine_set_context(e, px->context);
  rf_engine_set_proxy_credentials(e, netrc_lookup, NULL);
  {
    char path[1100];
    if (marks_path(path, sizeof(path), 0) == 0)
      rf_engine_load_proxy_marks(e, path); /* best effort */
  }
  if (px->no_proxy || px->proxy != NULL) {
    rf_static_resolver_options so = RF_STATIC_RESOLVER_OPTIONS_INIT;
    so.name = "override";
    so.label = px->no_proxy ? "--no-proxy" : "--proxy";
    so.proxy = px->no_proxy || px->proxy[0] == '\0' ? "direct" : px->proxy;
    rc = rf_engine_add_static_resolver(e, &so);
    if (rc != 0)
      snprintf(err, errlen, "%s", rf_engine_last_error(e));
    return rc;
  }
  if (px->pac != NULL) {
    rc = rf_engine_add_pac_resolver(e, px->pac, NULL);
    if (rc != 0) {
      snprintf(err, errlen, "--pac %s: %s", px->pac,
               rc == RF_EURL ? "not a PAC location (http(s) URL, file path "
                               "or data: URL)"
                             : rf_strerror(rc));
      return rc;
    }
  }
  if (!px->no_config) {
    rc = rf_engine_add_policy_resolver(e, sys != NULL && sys[0] ? sys : NULL,
                                       NULL);
    if (rc != 0) {
      snprintf(err, errlen, "%s", rf_engine_last_error(e)[0]
                                      ? rf_engine_last_error(e)
                                      : rf_strerror(rc));
      return rc;
    }
  }
  if (px->wpad) {
    rc = rf_engine_add_wpad_resolver(e, NULL);
    if (rc != 0) {
      snprintf(err, errlen, "--wpad: %s", rf_strerror(rc));
      return rc;
    }
  }
  rc = rf_engine_add_env_resolver(e);
  if (rc != 0)
    snprintf(err, errlen, "%s", rf_strerror(rc));
  return rc;
}
