/*
 * Proxy options shared by the commands that make requests (get, proxy
 * explain): parsing them, and building the engine's resolver chain from
 * them, the settings files and the environment (docs/proxy.md).
 */
#ifndef RF_CLI_PROXYOPTS_H
#define RF_CLI_PROXYOPTS_H

#include "args.h"
#include "rangefetch.h"

enum {
  CLI_OPT_PROXY = 200,
  CLI_OPT_NO_PROXY,
  CLI_OPT_PAC,
  CLI_OPT_WPAD,
  CLI_OPT_PROXY_USER,
  CLI_OPT_PROXY_AUTH,
  CLI_OPT_CONTEXT,
  CLI_OPT_PROXY_CACERT,
  CLI_OPT_NO_PROXY_CONFIG
};

/* Entries for a command's cli_option table. */
#define CLI_PROXY_OPTION_ENTRIES                                               \
  { "proxy", 0, 1, CLI_OPT_PROXY }, { "no-proxy", 0, 0, CLI_OPT_NO_PROXY },    \
      { "pac", 0, 1, CLI_OPT_PAC }, { "wpad", 0, 0, CLI_OPT_WPAD },            \
      { "proxy-user", 0, 1, CLI_OPT_PROXY_USER },                              \
      { "proxy-auth", 0, 1, CLI_OPT_PROXY_AUTH },                              \
      { "context", 0, 1, CLI_OPT_CONTEXT },                                    \
      { "proxy-cacert", 0, 1, CLI_OPT_PROXY_CACERT },                          \
  {                                                                            \
    "no-proxy-config", 0, 0, CLI_OPT_NO_PROXY_CONFIG                           \
  }

/* The help lines for those options. */
extern const char cli_proxy_help[];

typedef struct cli_proxy_args {
  const char *proxy;      /* --proxy */
  int no_proxy;           /* --no-proxy */
  const char *pac;        /* --pac */
  int wpad;               /* --wpad */
  const char *proxy_user; /* --proxy-user USER[:PASS] */
  unsigned proxy_auth;    /* RF_PROXY_AUTH_*; 0: safe */
  rf_context context;     /* --context */
  const char *proxy_cacert;
  int no_config;          /* --no-proxy-config */
} cli_proxy_args;

/*
 * Handle option id with value v (spelled opt) for command cmd.  Returns 1
 * (it was a proxy option), 0 (not one), -1 (bad value: a usage error was
 * printed).
 */
int cli_proxy_option(cli_proxy_args *px, int id, const char *v,
                     const char *opt, const char *cmd);

/* Checks across options (e.g. --proxy with --no-proxy).  0 or -1 (usage
 * error printed). */
int cli_proxy_check(const cli_proxy_args *px, const char *cmd);

/*
 * Build the resolver chain of e: --proxy/--no-proxy, --pac, the settings
 * files (unless --no-proxy-config), --wpad, the environment; then DIRECT.
 * Also installs the ~/.netrc credentials lookup.  On failure writes a
 * message to err and returns an RF_E* code.
 */
int cli_proxy_setup(rf_engine *e, const cli_proxy_args *px, char *err,
                    size_t errlen);

/* Keep the engine's bad-proxy marks for the next runs (best effort). */
void cli_proxy_save_marks(rf_engine *e);

/* "Digest, NTLM, Negotiate" for an RF_PROXY_AUTH_* mask (0: safe). */
void cli_proxy_auth_names(unsigned mask, char *out, size_t size);

#endif
