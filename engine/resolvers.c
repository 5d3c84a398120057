/*
 * The public façade of the built-in resolvers: static, env, PAC, WPAD and
 * the policy (settings files), each turned into chain entries here, so
 * that the proxy wing (engine/proxy/) never needs the engine's insides.
 */
#include "job.h"

#include "proxy/env.h"
#include "proxy/pac_resolver.h"
#include "proxy/policy.h"
#include "proxy/policy_resolver.h"
#include "proxy/static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rf__engine_add_static(rf_engine *e, const rf__static_config *cfg)
{
  rf__static *st = NULL;
  int rc;

  if (e == NULL || e->freeing)
    return RF_EINVAL;
  rc = rf__static_new(&st, cfg);
  if (rc != 0) {
    rf__engine_set_error(e, "%s: not a proxy URL (scheme://host[:port])",
                         cfg->label != NULL ? cfg->label : "proxy");
    return rc;
  }
  rc = rf__chain_add_named(e->chain, rf__static_ops(), st,
                           rf__static_name(st));
  if (rc != 0)
    rf__static_free(st);
  return rc;
}

void rf_static_resolver_options_init(rf_static_resolver_options *opts)
{
  if (opts == NULL)
    return;
  memset(opts, 0, sizeof(*opts));
  opts->version = RF_STATIC_RESOLVER_OPTIONS_VERSION;
}

int rf_engine_add_static_resolver(rf_engine *e,
                                  const rf_static_resolver_options *opts)
{
  rf__static_config cfg;

  if (opts == NULL || opts->version == 0 ||
      opts->version > RF_STATIC_RESOLVER_OPTIONS_VERSION)
    return RF_EINVAL;
  memset(&cfg, 0, sizeof(cfg));
  cfg.name = opts->name;
  cfg.label = opts->label;
  cfg.proxy = opts->proxy;
  cfg.http_proxy = opts->http_proxy;
  cfg.https_proxy = opts->https_proxy;
  cfg.no_proxy = opts->no_proxy;
  cfg.user = opts->user;
  cfg.password = opts->password;
  cfg.auth = opts->auth;
  cfg.ca_file = opts->ca_file;
  return rf__engine_add_static(e, &cfg);
}

int rf_engine_add_env_resolver(rf_engine *e)
{
  if (e == NULL || e->freeing)
    return RF_EINVAL;
  return rf__chain_add(e->chain, rf__env_ops(), NULL);
}

int rf__engine_add_pac(rf_engine *e, const rf__pacres_config *cfg,
                       const char *name)
{
  const rf_resolver_ops *ops = rf__pacres_ops();
  rf__pacres *pr = NULL;
  int rc;

  if (e == NULL || e->freeing)
    return RF_EINVAL;
  rc = rf__pacres_new(&pr, e->loop, &e->log, cfg);
  if (rc != 0)
    return rc;
  rc = rf__chain_add_named(e->chain, ops, pr, name);
  if (rc != 0)
    ops->destroy(pr);
  return rc;
}

void rf_pac_options_init(rf_pac_options *opts)
{
  rf_pac_options defaults = RF_PAC_OPTIONS_INIT;

  if (opts != NULL)
    *opts = defaults;
}

/* opts NULL (the defaults) or of a version this library knows. */
static int pac_options_ok(const rf_pac_options *opts)
{
  return opts == NULL ||
         (opts->version != 0 && opts->version <= RF_PAC_OPTIONS_VERSION);
}

int rf_engine_add_pac_resolver(rf_engine *e, const char *location,
                               const rf_pac_options *opts)
{
  rf__pacres_config cfg;

  if (location == NULL || location[0] == '\0' || !pac_options_ok(opts))
    return RF_EINVAL;
  memset(&cfg, 0, sizeof(cfg));
  cfg.location = location;
  if (opts != NULL)
    cfg.opts = *opts;
  return rf__engine_add_pac(e, &cfg, "pac");
}

int rf_engine_add_wpad_resolver(rf_engine *e, const rf_pac_options *opts)
{
  rf__pacres_config pc;

  if (!pac_options_ok(opts))
    return RF_EINVAL;
  memset(&pc, 0, sizeof(pc));
  pc.discovery = &rf__wpad_system_discovery;
  if (opts != NULL)
    pc.opts = *opts;
  return rf__engine_add_pac(e, &pc, "wpad");
}

int rf_engine_add_policy_resolver(rf_engine *e, const char *sys_dir,
                                  const char *user_dir)
{
  rf__proxy_paths paths;
  rf__proxy_policy *pol = NULL;
  rf__policy_entries *ent = NULL;
  char err[600];
  char *note;
  int rc;

  if (e == NULL || e->freeing)
    return RF_EINVAL;
  rc = rf__proxy_policy_paths(NULL, NULL, sys_dir, user_dir, &paths);
  if (rc != 0)
    return rc;
  err[0] = '\0';
  rc = rf__proxy_policy_load(rf__chain_context(e->chain),
                             (const char *const *)paths.path, &pol, err,
                             sizeof(err));
  rf__proxy_paths_free(&paths);
  if (rc != 0) {
    rf__engine_set_error(e, "%s", err[0] ? err : rf_strerror(rc));
    return rc;
  }
  ent = malloc(sizeof(*ent));
  if (ent != NULL)
    rf__policy_entries_make(ent, &pol->decision);
  note = ent != NULL ? strdup(ent->note) : NULL;
  if (note == NULL) {
    rc = RF_ENOMEM;
    goto out;
  }
  RF_LOG(&e->log, RF_LOG_INFO, "policy", "%s", note);
  rc = rf__chain_add(e->chain, rf__policy_note_ops(), note);
  if (rc != 0) {
    free(note);
    goto out;
  }
  if (ent->has_pac) {
    rc = rf__engine_add_pac(e, &ent->pac, "policy-pac");
    if (rc != 0) {
      rf__engine_set_error(e, "%s: pac: %s", ent->label,
                           rc == RF_EURL ? "not a PAC location"
                                         : rf_strerror(rc));
      goto out;
    }
  }
  if (ent->has_wpad) {
    rc = rf__engine_add_pac(e, &ent->wpad, "policy-wpad");
    if (rc != 0)
      goto out;
  }
  if (ent->has_static)
    rc = rf__engine_add_static(e, &ent->fixed);
out:
  free(ent);
  rf__proxy_policy_free(pol);
  return rc;
}
