/*
 * Which proxy settings file applies: the Delivery Optimization precedence
 * (docs/proxy-config.md; the seed's two tables) over the three scopes of
 * config.h, for the two run contexts.
 *
 *   scope        file                                  Windows analogue
 *   user         $XDG_CONFIG_HOME/rangefetch/proxy.conf IE proxy, current user
 *                (or ~/.config/rangefetch/proxy.conf)
 *   device-wide  SYSCONFDIR/proxy.conf                 IE proxy, device-wide
 *   static       SYSCONFDIR/static.conf                netsh winhttp proxy
 *
 * User context (an interactive user is signed in; DO hands WinHTTP the
 * user's token):
 *   - device-wide with per_machine = yes wins over the user scope;
 *   - else the user scope, else the device-wide scope;
 *   - the static scope is never used ("netsh proxy: No").
 * Service context (no user token, the NetworkService analogue):
 *   - the static scope, else the device-wide scope;
 *   - the user scope is never used ("IE proxy, current user: No").
 * A scope takes part only when its file sets a proxy (any of proxy,
 * http_proxy, https_proxy, pac, or wpad = yes; "direct" counts: it is an
 * explicit answer).  A file holding only no_proxy, credentials and the
 * like is reported but does not win.  per_machine = yes locks the user
 * scope out even when the device-wide file sets no proxy.
 *
 * Credentials follow the context, not only the winning file:
 *   - user context: the user's own: proxy_user (or URL userinfo) of the
 *     user scope when it has one, whichever scope won, else the user's
 *     Kerberos ticket cache; never the device-wide file's credentials;
 *   - service context, device-wide scope: the machine's: the device-wide
 *     file's credentials, else the service's default Kerberos credentials;
 *   - static scope: never any credentials.
 *
 * Pure: rf__proxy_policy_decide works on parsed settings only; the loader
 * reads the files.  No global mutable state.
 */
#ifndef RF_PROXY_POLICY_H
#define RF_PROXY_POLICY_H

#include <stddef.h>

#include "config.h"
#include "env.h"
#include "rangefetch/proxy.h" /* rf_context: RF_CONTEXT_USER/SERVICE */

/* The default SYSCONFDIR (a build may define another). */
#ifndef RF_SYSCONFDIR
#  define RF_SYSCONFDIR "/etc/rangefetch"
#endif

/* Which credentials to present to the proxy. */
typedef enum rf__proxy_cred {
  RF__PROXY_CRED_NONE = 0, /* none: static scope, or no policy proxy */
  /* user/password from the user scope's file */
  RF__PROXY_CRED_USER,
  /* the signed-in user's Kerberos ticket cache (KRB5CCNAME): Negotiate
   * with curl's empty ":" credential; no user/password */
  RF__PROXY_CRED_USER_SSO,
  /* user/password from the device-wide file (machine credentials) */
  RF__PROXY_CRED_MACHINE,
  /* the service's own default GSS-API credentials (its ticket cache or
   * client keytab, e.g. KRB5_CLIENT_KTNAME): the NetworkService machine
   * account analogue; no user/password */
  RF__PROXY_CRED_MACHINE_SSO
} rf__proxy_cred;

typedef struct rf__proxy_decision {
  /* The settings that apply, borrowed from the input (or from the
   * rf__proxy_policy); NULL: no policy proxy, the resolver chain goes on
   * to its next resolvers.  Per origin scheme, the proxy is
   * rf__proxy_config_proxy_for(config, scheme); pac, wpad, no_proxy,
   * auth and ca_file are read from config too. */
  const rf__proxy_config *config;
  rf__proxy_scope scope; /* config's scope; RF__PROXY_SCOPE_COUNT if none */
  rf__proxy_cred cred;
  const char *user;      /* RF__PROXY_CRED_USER / _MACHINE; else NULL */
  const char *password;  /* may be NULL even then (borrowed) */
  const char *cred_file; /* the file user came from, or NULL (borrowed) */
  /* Why, in English, for logs: the context, the winning scope and its
   * file, why each other present scope was not used, the credentials
   * (never a password).  Owned; never NULL after success. */
  char *explanation;
} rf__proxy_decision;

/*
 * Decides for ctx over scopes[RF__PROXY_SCOPE_USER/DEVICE/STATIC]; an
 * entry may be NULL or "not set" (the scope is absent); a set entry must
 * have been parsed for the scope of its index.  out is overwritten.
 * Returns 0, RF_EINVAL (scopes or out NULL, ctx unknown, a config in the
 * wrong slot), RF_ENOMEM.  On failure *out is zeroed.  Free with
 * rf__proxy_decision_free; out borrows from scopes[] meanwhile.
 */
int rf__proxy_policy_decide(rf_context ctx,
                            const rf__proxy_config *const *scopes,
                            rf__proxy_decision *out);

/* Frees the explanation and zeroes d.  d may be NULL. */
void rf__proxy_decision_free(rf__proxy_decision *d);

/* The three files, indexed by rf__proxy_scope; owned strings. */
typedef struct rf__proxy_paths {
  char *path[RF__PROXY_SCOPE_COUNT];
} rf__proxy_paths;

/*
 * The standard paths: device-wide = <sys_dir>/proxy.conf, static =
 * <sys_dir>/static.conf, sys_dir NULL meaning RF_SYSCONFDIR; user =
 * <user_dir>/proxy.conf, user_dir NULL meaning $XDG_CONFIG_HOME/rangefetch
 * when XDG_CONFIG_HOME is an absolute path, else $HOME/.config/rangefetch
 * when HOME is absolute, else no user scope (path NULL).  get (NULL: the
 * process environment) reads the variables.  Returns 0, RF_EINVAL (out
 * NULL, a directory given as ""), RF_ENOMEM; on failure *out owns
 * nothing.
 */
int rf__proxy_policy_paths(rf__env_get_fn get, void *user_data,
                           const char *sys_dir, const char *user_dir,
                           rf__proxy_paths *out);

/* Frees the strings and zeroes p.  p may be NULL. */
void rf__proxy_paths_free(rf__proxy_paths *p);

/* The loaded scopes and the decision over them. */
typedef struct rf__proxy_policy {
  rf__proxy_config scope[RF__PROXY_SCOPE_COUNT]; /* "not set": absent */
  rf__proxy_decision decision;                   /* borrows from scope[] */
} rf__proxy_policy;

/*
 * Loads paths[RF__PROXY_SCOPE_*] (a NULL path: that scope is absent) with
 * rf__proxy_config_load and decides for ctx.  A missing file is an absent
 * scope.  Any other failure to load a given file (malformed, unreadable,
 * too big) fails the whole call, even for a scope the context would not
 * use: a broken file is never skipped silently; err then holds the
 * loader's message ("<path>:<line>: <reason>").
 * Returns 0 with *out set (free with rf__proxy_policy_free); RF_EINVAL (a
 * malformed file, or out or paths NULL, ctx unknown); RF_ETOOBIG,
 * RF_EACCES, RF_EIO (from rf__proxy_config_load); RF_ENOMEM.  *out is NULL
 * on failure; err always gets a message then (at least rf_strerror's).
 */
int rf__proxy_policy_load(rf_context ctx, const char *const *paths,
                          rf__proxy_policy **out, char *err, size_t errlen);

/* Frees p and all it owns.  p may be NULL. */
void rf__proxy_policy_free(rf__proxy_policy *p);

/* "user" or "service" ("?" for anything else). */
const char *rf__proxy_context_name(rf_context ctx);

#endif
