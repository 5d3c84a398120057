/*
 * The Delivery-Optimization-style precedence between the user,
 * device-wide and static proxy settings files.  See policy.h for the rules
 * and docs/proxy-config.md for the tables they reproduce.
 */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rangefetch/rangefetch.h"

/* ----------------------------------------------------- explanation text */

typedef struct pol_text {
  char *s;
  size_t len;
  size_t cap;
  int nomem;
} pol_text;

__attribute__((format(printf, 2, 3))) static void pol_add(pol_text *t,
                                                          const char *fmt, ...)
{
  va_list ap;
  int n;

  if (t->nomem)
    return;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    t->nomem = 1;
    return;
  }
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t cap = t->cap > 0 ? t->cap : 256;
    char *s;

    while (cap < t->len + (size_t)n + 1)
      cap *= 2;
    s = realloc(t->s, cap);
    if (s == NULL) {
      t->nomem = 1;
      return;
    }
    t->s = s;
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

/* "the device-wide scope (/etc/rangefetch/proxy.conf)" */
static void pol_scope(pol_text *t, const rf__proxy_config *c)
{
  if (c->file != NULL)
    pol_add(t, "the %s scope (%s)", rf__proxy_scope_name(c->scope), c->file);
  else
    pol_add(t, "the %s scope", rf__proxy_scope_name(c->scope));
}

static void pol_sets_no_proxy(pol_text *t, const rf__proxy_config *c)
{
  pol_add(t, "; ");
  pol_scope(t, c);
  pol_add(t, " sets no proxy (none of proxy, http_proxy, https_proxy, pac, "
             "wpad = yes)");
}

/* --------------------------------------------------------------- decide */

const char *rf__proxy_context_name(rf_context ctx)
{
  switch (ctx) {
  case RF_CONTEXT_USER:
    return "user";
  case RF_CONTEXT_SERVICE:
    return "service";
  }
  return "?";
}

/* The scope whose proxy applies in user context, or NULL. */
static const rf__proxy_config *pol_user_winner(const rf__proxy_config *usr,
                                               const rf__proxy_config *dev)
{
  if (dev != NULL && dev->per_machine)
    return rf__proxy_config_sets_proxy(dev) ? dev : NULL;
  if (rf__proxy_config_sets_proxy(usr))
    return usr;
  if (rf__proxy_config_sets_proxy(dev))
    return dev;
  return NULL;
}

/* Why the user and device-wide scopes that did not win are not used. */
static void pol_user_losers(const rf__proxy_config *usr,
                            const rf__proxy_config *dev,
                            const rf__proxy_config *win, pol_text *t)
{
  int per_machine = dev != NULL && dev->per_machine;

  if (usr != NULL && win != usr) {
    pol_add(t, "; ");
    pol_scope(t, usr);
    if (per_machine) {
      pol_add(t,
              " is not used: per_machine = yes in the device-wide file "
              "(line %u) makes proxy settings per-machine, so users "
              "cannot set their own",
              dev->line[RF__PROXY_KEY_PER_MACHINE]);
    } else {
      pol_add(t, " sets no proxy (none of proxy, http_proxy, https_proxy, "
                 "pac, wpad = yes)");
    }
  }
  if (dev != NULL && win != dev) {
    if (per_machine) {
      pol_add(t, "; ");
      pol_scope(t, dev);
      pol_add(t,
              " sets per_machine = yes (line %u) but no proxy (none of "
              "proxy, http_proxy, https_proxy, pac, wpad = yes)",
              dev->line[RF__PROXY_KEY_PER_MACHINE]);
    } else if (win != NULL && win == usr && rf__proxy_config_sets_proxy(dev)) {
      pol_add(t, "; ");
      pol_scope(t, dev);
      pol_add(t, " is not used: in user context the user scope takes "
                 "precedence unless the device-wide file sets "
                 "per_machine = yes");
    } else {
      pol_sets_no_proxy(t, dev);
    }
  }
}

/* The credentials for win (not NULL) in user context. */
static void pol_user_creds(const rf__proxy_config *usr,
                           const rf__proxy_config *dev,
                           const rf__proxy_config *win, pol_text *t,
                           rf__proxy_decision *d)
{
  /* The user's own credentials, whichever file gave the proxy. */
  if (usr != NULL && usr->user != NULL) {
    d->cred = RF__PROXY_CRED_USER;
    d->user = usr->user;
    d->password = usr->password;
    d->cred_file = usr->file;
    pol_add(t, "; credentials: the user's own, user '%s' from ", usr->user);
    pol_scope(t, usr);
  } else {
    d->cred = RF__PROXY_CRED_USER_SSO;
    pol_add(t, "; credentials: the signed-in user's own Kerberos ticket "
               "cache (no proxy_user in the user scope)");
  }
  if (win == dev && dev->user != NULL)
    pol_add(t, "; the device-wide file's credentials are for service "
               "context only");
}

static void pol_user_context(const rf__proxy_config *usr,
                             const rf__proxy_config *dev,
                             const rf__proxy_config *st, pol_text *t,
                             rf__proxy_decision *d)
{
  const rf__proxy_config *win = pol_user_winner(usr, dev);

  pol_add(t, "user context: ");
  if (win != NULL) {
    pol_scope(t, win);
    pol_add(t, " applies");
    if (win == dev && dev->per_machine)
      pol_add(t,
              ": per_machine = yes (line %u) makes proxy settings "
              "per-machine rather than per-user",
              dev->line[RF__PROXY_KEY_PER_MACHINE]);
  } else {
    pol_add(t, "no policy proxy, the resolver chain continues");
  }
  pol_user_losers(usr, dev, win, t);
  if (st != NULL) {
    pol_add(t, "; ");
    pol_scope(t, st);
    pol_add(t, " is never used in user context, as WinHTTP ignores a netsh "
               "proxy for requests made with an interactive user's token");
  }

  d->config = win;
  if (win != NULL)
    pol_user_creds(usr, dev, win, t, d);
}

static void pol_service_context(const rf__proxy_config *usr,
                                const rf__proxy_config *dev,
                                const rf__proxy_config *st, pol_text *t,
                                rf__proxy_decision *d)
{
  const rf__proxy_config *win = NULL;

  if (rf__proxy_config_sets_proxy(st))
    win = st;
  else if (rf__proxy_config_sets_proxy(dev))
    win = dev;

  pol_add(t, "service context: ");
  if (win != NULL) {
    pol_scope(t, win);
    pol_add(t, " applies");
  } else {
    pol_add(t, "no policy proxy, the resolver chain continues");
  }
  if (win != NULL && win == st && rf__proxy_config_sets_proxy(dev)) {
    pol_add(t,
            ": it takes precedence over the device-wide proxy (%s), as "
            "netsh does under NetworkService; this can lead to "
            "proxy-authentication failures, as the static scope never "
            "authenticates",
            dev->file != NULL ? dev->file : "no file name");
  } else if (dev != NULL && win != dev) {
    pol_sets_no_proxy(t, dev);
  }
  if (st != NULL && win != st)
    pol_sets_no_proxy(t, st);
  if (usr != NULL) {
    pol_add(t, "; ");
    pol_scope(t, usr);
    pol_add(t, " is never used in service context: no user is signed in");
  }

  d->config = win;
  if (win == NULL)
    return;
  if (win == st) {
    pol_add(t, "; credentials: none, the static scope never authenticates");
  } else if (win == dev && dev->user != NULL) {
    d->cred = RF__PROXY_CRED_MACHINE;
    d->user = dev->user;
    d->password = dev->password;
    d->cred_file = dev->file;
    pol_add(t, "; credentials: the machine's, user '%s' from ", dev->user);
    pol_scope(t, dev);
  } else if (win == dev) {
    d->cred = RF__PROXY_CRED_MACHINE_SSO;
    pol_add(t, "; credentials: the service's own default Kerberos "
               "credentials (no proxy_user in the device-wide scope)");
  }
}

int rf__proxy_policy_decide(rf_context ctx,
                            const rf__proxy_config *const *scopes,
                            rf__proxy_decision *out)
{
  const rf__proxy_config *s[RF__PROXY_SCOPE_COUNT];
  pol_text t = { NULL, 0, 0, 0 };
  int i;

  if (out == NULL)
    return RF_EINVAL;
  memset(out, 0, sizeof(*out));
  if (scopes == NULL || (ctx != RF_CONTEXT_USER && ctx != RF_CONTEXT_SERVICE))
    return RF_EINVAL;
  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++) {
    s[i] = scopes[i] != NULL && scopes[i]->set ? scopes[i] : NULL;
    if (s[i] != NULL && s[i]->scope != (rf__proxy_scope)i)
      return RF_EINVAL;
  }
  if (ctx == RF_CONTEXT_USER)
    pol_user_context(s[RF__PROXY_SCOPE_USER], s[RF__PROXY_SCOPE_DEVICE],
                     s[RF__PROXY_SCOPE_STATIC], &t, out);
  else
    pol_service_context(s[RF__PROXY_SCOPE_USER], s[RF__PROXY_SCOPE_DEVICE],
                        s[RF__PROXY_SCOPE_STATIC], &t, out);
  if (s[RF__PROXY_SCOPE_USER] == NULL && s[RF__PROXY_SCOPE_DEVICE] == NULL &&
      s[RF__PROXY_SCOPE_STATIC] == NULL)
    pol_add(&t, " (no proxy settings file)");
  if (t.nomem || t.s == NULL) {
    free(t.s);
    memset(out, 0, sizeof(*out));
    return RF_ENOMEM;
  }
  out->scope = out->config != NULL ? out->config->scope : RF__PROXY_SCOPE_COUNT;
  out->explanation = t.s;
  return 0;
}

void rf__proxy_decision_free(rf__proxy_decision *d)
{
  if (d == NULL)
    return;
  free(d->explanation);
  memset(d, 0, sizeof(*d));
}

/* ---------------------------------------------------------------- paths */

/* A malloc'd a + b (b starts with '/'), a's trailing slashes dropped. */
static char *pol_join(const char *a, const char *b)
{
  size_t alen = strlen(a), blen = strlen(b);
  char *s;

  while (alen > 1 && a[alen - 1] == '/')
    alen--;
  if (alen == 1 && a[0] == '/')
    alen = 0;
  s = malloc(alen + blen + 1);
  if (s != NULL) {
    memcpy(s, a, alen);
    memcpy(s + alen, b, blen + 1);
  }
  return s;
}

int rf__proxy_policy_paths(rf__env_get_fn get, void *user_data,
                           const char *sys_dir, const char *user_dir,
                           rf__proxy_paths *out)
{
  const char *xdg, *home;
  int i, want_user = 1;

  if (out == NULL)
    return RF_EINVAL;
  memset(out, 0, sizeof(*out));
  if (sys_dir == NULL)
    sys_dir = RF_SYSCONFDIR;
  if (sys_dir[0] == '\0' || (user_dir != NULL && user_dir[0] == '\0'))
    return RF_EINVAL;
  if (get == NULL)
    get = rf__env_getenv;
  if (user_dir != NULL) {
    out->path[RF__PROXY_SCOPE_USER] = pol_join(user_dir, "/proxy.conf");
  } else {
    xdg = get("XDG_CONFIG_HOME", user_data);
    home = get("HOME", user_data);
    /* The XDG spec: a relative XDG_CONFIG_HOME is invalid, ignore it. */
    if (xdg != NULL && xdg[0] == '/')
      out->path[RF__PROXY_SCOPE_USER] = pol_join(xdg, "/rangefetch/proxy.conf");
    else if (home != NULL && home[0] == '/')
      out->path[RF__PROXY_SCOPE_USER] =
          pol_join(home, "/.config/rangefetch/proxy.conf");
    else
      want_user = 0;
  }
  out->path[RF__PROXY_SCOPE_DEVICE] = pol_join(sys_dir, "/proxy.conf");
  out->path[RF__PROXY_SCOPE_STATIC] = pol_join(sys_dir, "/static.conf");
  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++) {
    if (out->path[i] == NULL && (i != RF__PROXY_SCOPE_USER || want_user)) {
      rf__proxy_paths_free(out);
      return RF_ENOMEM;
    }
  }
  return 0;
}

void rf__proxy_paths_free(rf__proxy_paths *p)
{
  int i;

  if (p == NULL)
    return;
  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++)
    free(p->path[i]);
  memset(p, 0, sizeof(*p));
}

/* --------------------------------------------------------------- loader */

void rf__proxy_policy_free(rf__proxy_policy *p)
{
  int i;

  if (p == NULL)
    return;
  rf__proxy_decision_free(&p->decision);
  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++)
    rf__proxy_config_free(&p->scope[i]);
  free(p);
}

int rf__proxy_policy_load(rf_context ctx, const char *const *paths,
                          rf__proxy_policy **out, char *err, size_t errlen)
{
  const rf__proxy_config *scopes[RF__PROXY_SCOPE_COUNT];
  rf__proxy_policy *p = NULL;
  int i, rc = 0;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (out != NULL)
    *out = NULL;
  if (out == NULL || paths == NULL ||
      (ctx != RF_CONTEXT_USER && ctx != RF_CONTEXT_SERVICE)) {
    rc = RF_EINVAL;
    goto fail;
  }
  p = calloc(1, sizeof(*p));
  if (p == NULL) {
    rc = RF_ENOMEM;
    goto fail;
  }
  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++) {
    if (paths[i] == NULL)
      continue;
    rc = rf__proxy_config_load(paths[i], (rf__proxy_scope)i, &p->scope[i], err,
                               errlen);
    if (rc == RF_ENOENT) {
      rc = 0; /* absent scope */
      if (err != NULL && errlen > 0)
        err[0] = '\0';
    } else if (rc != 0) {
      goto fail;
    }
  }
  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++)
    scopes[i] = &p->scope[i];
  rc = rf__proxy_policy_decide(ctx, scopes, &p->decision);
  if (rc != 0)
    goto fail;
  *out = p;
  return 0;

fail:
  if (err != NULL && errlen > 0 && err[0] == '\0')
    snprintf(err, errlen, "%s", rf_strerror(rc));
  rf__proxy_policy_free(p);
  return rc;
}
