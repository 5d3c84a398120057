/*
 * The policy resolver: the scoped settings files (config.c) and the
 * Delivery-Optimization precedence (policy.c) turned into chain entries.
 *
 * rf_engine_add_policy_resolver reads the three files for the engine's
 * context and adds, in order:
 *   - "policy": always "no opinion", its detail the decision in words
 *     (which scope won and why the others did not), so that explanations
 *     and logs carry it;
 *   - "policy-pac" when the winning scope names a PAC script;
 *   - "policy-wpad" when it turns WPAD on;
 *   - "policy" (static) for its proxy / http_proxy / https_proxy and
 *     no_proxy.
 * A PAC or WPAD failure thus falls back to the same scope's fixed proxy,
 * then to the rest of the chain.
 */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/pac_resolver.h"
#include "proxy/policy.h"
#include "proxy/static.h"

static void note_resolve(void *self, rf_resolve_req *req,
                         const rf_resolve_info *info)
{
  (void)info;
  rf_resolve_answer(req, RF_RESOLVE_PASS, NULL, 0, self);
}

static void note_cancel(void *self, rf_resolve_req *req)
{
  (void)self;
  (void)req;
}

static void note_destroy(void *self)
{
  free(self);
}

static const rf_resolver_ops note_ops = { "policy", note_resolve, note_cancel,
                                          NULL, note_destroy };

int rf_engine_add_policy_resolver(rf_engine *e, const char *sys_dir,
                                  const char *user_dir)
{
  rf__proxy_paths paths;
  rf__proxy_policy *pol = NULL;
  const rf__proxy_decision *d;
  const rf__proxy_config *c;
  char err[600], label[600];
  char *note;
  rf_context ctx;
  int rc;

  if (e == NULL || e->freeing)
    return RF_EINVAL;
  ctx = rf__chain_context(e->chain);
  rc = rf__proxy_policy_paths(NULL, NULL, sys_dir, user_dir, &paths);
  if (rc != 0)
    return rc;
  err[0] = '\0';
  rc = rf__proxy_policy_load(ctx, (const char *const *)paths.path, &pol, err,
                             sizeof(err));
  rf__proxy_paths_free(&paths);
  if (rc != 0) {
    rf__engine_set_error(e, "%s", err[0] ? err : rf_strerror(rc));
    return rc;
  }
  d = &pol->decision;
  c = d->config;
  note = strdup(d->explanation != NULL ? d->explanation : "");
  if (note == NULL) {
    rf__proxy_policy_free(pol);
    return RF_ENOMEM;
  }
  RF_LOG(&e->log, RF_LOG_INFO, "policy", "%s", note);
  rc = rf__chain_add(e->chain, &note_ops, note);
  if (rc != 0) {
    free(note);
    rf__proxy_policy_free(pol);
    return rc;
  }
  if (c == NULL) {
    rf__proxy_policy_free(pol);
    return 0;
  }
  snprintf(label, sizeof(label), "%s scope (%s)",
           rf__proxy_scope_name(d->scope), c->file != NULL ? c->file : "?");
  if (c->pac != NULL || c->wpad) {
    rf__pacres_config pc;
    memset(&pc, 0, sizeof(pc));
    pc.label = label;
    pc.user = d->user;
    pc.password = d->password;
    pc.auth = rf__proxy_auth_bits(c->auth);
    pc.ca_file = c->ca_file;
    if (c->pac != NULL) {
      pc.location = c->pac;
      rc = rf__engine_add_pac(e, &pc, "policy-pac");
      if (rc != 0) {
        rf__engine_set_error(e, "%s: pac: %s", label,
                             rc == RF_EURL ? "not a PAC location"
                                           : rf_strerror(rc));
        rf__proxy_policy_free(pol);
        return rc;
      }
    }
    if (c->wpad) {
      pc.location = NULL;
      pc.discovery = &rf__wpad_system_discovery;
      rc = rf__engine_add_pac(e, &pc, "policy-wpad");
      if (rc != 0) {
        rf__proxy_policy_free(pol);
        return rc;
      }
    }
  }
  {
    const rf__proxy_value *all = &c->proxy, *h = &c->http_proxy,
                          *s = &c->https_proxy;
    rf__static_config sc;
    if (all->kind != RF__PROXY_NOT_SET || h->kind != RF__PROXY_NOT_SET ||
        s->kind != RF__PROXY_NOT_SET) {
      memset(&sc, 0, sizeof(sc));
      sc.name = "policy";
      sc.label = label;
      sc.proxy = all->kind == RF__PROXY_URL      ? all->url
                 : all->kind == RF__PROXY_DIRECT ? "direct"
                                                 : NULL;
      sc.http_proxy = h->kind == RF__PROXY_URL      ? h->url
                      : h->kind == RF__PROXY_DIRECT ? "direct"
                                                    : NULL;
      sc.https_proxy = s->kind == RF__PROXY_URL      ? s->url
                       : s->kind == RF__PROXY_DIRECT ? "direct"
                                                     : NULL;
      sc.no_proxy = c->no_proxy;
      sc.user = d->user;
      sc.password = d->password;
      sc.auth = d->scope == RF__PROXY_SCOPE_STATIC
                    ? RF_PROXY_AUTH_NONE
                    : rf__proxy_auth_bits(c->auth);
      sc.ca_file = c->ca_file;
      rc = rf__engine_add_static(e, &sc);
    }
  }
  rf__proxy_policy_free(pol);
  return rc;
}

int rf_engine_add_wpad_resolver(rf_engine *e, const rf_pac_options *opts)
{
  rf__pacres_config pc;

  memset(&pc, 0, sizeof(pc));
  pc.discovery = &rf__wpad_system_discovery;
  if (opts != NULL)
    pc.opts = *opts;
  return rf__engine_add_pac(e, &pc, "wpad");
}
