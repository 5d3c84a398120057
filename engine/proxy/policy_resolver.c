/*
 * The policy's decision turned into resolver configs (policy_resolver.h);
 * the façade adds them to the chain (engine/resolvers.c).
 */
#include "proxy/policy_resolver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"

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

const rf_resolver_ops *rf__policy_note_ops(void)
{
  return &note_ops;
}

static const char *value_of(const rf__proxy_value *v)
{
  return v->kind == RF__PROXY_URL      ? v->url
         : v->kind == RF__PROXY_DIRECT ? "direct"
                                       : NULL;
}

void rf__policy_entries_make(rf__policy_entries *out,
                             const rf__proxy_decision *d)
{
  const rf__proxy_config *c = d->config;

  memset(out, 0, sizeof(*out));
  out->note = d->explanation != NULL ? d->explanation : "";
  if (c == NULL)
    return;
  snprintf(out->label, sizeof(out->label), "%s scope (%s)",
           rf__proxy_scope_name(d->scope), c->file != NULL ? c->file : "?");
  if (c->pac != NULL || c->wpad) {
    rf__pacres_config pc;
    memset(&pc, 0, sizeof(pc));
    pc.label = out->label;
    pc.user = d->user;
    pc.password = d->password;
    pc.auth = rf__proxy_auth_bits(c->auth);
    pc.ca_file = c->ca_file;
    if (c->pac != NULL) {
      out->has_pac = 1;
      out->pac = pc;
      out->pac.location = c->pac;
    }
    if (c->wpad) {
      out->has_wpad = 1;
      out->wpad = pc;
      out->wpad.discovery = &rf__wpad_system_discovery;
    }
  }
  if (c->proxy.kind != RF__PROXY_NOT_SET ||
      c->http_proxy.kind != RF__PROXY_NOT_SET ||
      c->https_proxy.kind != RF__PROXY_NOT_SET) {
    rf__static_config *sc = &out->fixed;
    out->has_static = 1;
    sc->name = "policy";
    sc->label = out->label;
    sc->proxy = value_of(&c->proxy);
    sc->http_proxy = value_of(&c->http_proxy);
    sc->https_proxy = value_of(&c->https_proxy);
    sc->no_proxy = c->no_proxy;
    sc->user = d->user;
    sc->password = d->password;
    sc->auth = d->scope == RF__PROXY_SCOPE_STATIC
                   ? RF_PROXY_AUTH_NONE
                   : rf__proxy_auth_bits(c->auth);
    sc->ca_file = c->ca_file;
  }
}
