/*
 * The static resolver: one proxy for every URL, or one per origin scheme,
 * with a no_proxy list.  Also serves as the "override" resolver for an
 * explicit --proxy, and for the scopes of the policy files.
 */
#include "proxy/static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "util/text.h"
#include "proxy/candidate.h"
#include "proxy/env.h"

typedef struct static_slot {
  int set;        /* 0: no opinion for this scheme */
  rf_proxy proxy; /* strings point into buf */
  char buf[1024];
  char shown[300];
} static_slot;

struct rf__static {
  char name[48];
  char label[256]; /* where the setting came from, for explanations */
  static_slot all, http, https;
  char *no_proxy;
  unsigned auth;
  char *user, *password, *ca_file;
};

static int slot_set(static_slot *s, const char *value)
{
  int rc;

  if (value == NULL || value[0] == '\0')
    return 0;
  if (strcasecmp(value, "none") == 0 || strcasecmp(value, "direct") == 0) {
    memset(&s->proxy, 0, sizeof(s->proxy));
    s->set = 1;
    snprintf(s->shown, sizeof(s->shown), "DIRECT");
    return 0;
  }
  rc = rf_proxy_parse(&s->proxy, s->buf, sizeof(s->buf), value);
  if (rc != 0)
    return rc == RF_EINVAL ? RF_EURL : rc;
  s->set = 1;
  rf_proxy_format(s->shown, sizeof(s->shown), &s->proxy);
  return 0;
}

void rf__static_free(rf__static *st)
{
  if (st == NULL)
    return;
  free(st->no_proxy);
  free(st->user);
  if (st->password != NULL)
    memset(st->password, 0, strlen(st->password));
  free(st->password);
  free(st->ca_file);
  memset(st, 0, sizeof(*st));
  free(st);
}

int rf__static_new(rf__static **out, const rf__static_config *cfg)
{
  rf__static *st = calloc(1, sizeof(*st));
  int rc, fail = 0;

  *out = NULL;
  if (st == NULL)
    return RF_ENOMEM;
  snprintf(st->name, sizeof(st->name), "%s",
           cfg->name != NULL ? cfg->name : "static");
  snprintf(st->label, sizeof(st->label), "%s",
           cfg->label != NULL ? cfg->label : "");
  rc = slot_set(&st->all, cfg->proxy);
  if (rc == 0)
    rc = slot_set(&st->http, cfg->http_proxy);
  if (rc == 0)
    rc = slot_set(&st->https, cfg->https_proxy);
  st->no_proxy = rf__strdup_opt(cfg->no_proxy, &fail);
  st->user = rf__strdup_opt(cfg->user, &fail);
  st->password = rf__strdup_opt(cfg->password, &fail);
  st->ca_file = rf__strdup_opt(cfg->ca_file, &fail);
  st->auth = cfg->auth;
  if (rc == 0 && fail)
    rc = RF_ENOMEM;
  if (rc != 0) {
    rf__static_free(st);
    return rc;
  }
  *out = st;
  return 0;
}

const char *rf__static_name(const rf__static *st)
{
  return st->name;
}

int rf__static_decide(const rf__static *st, const rf_resolve_info *info,
                      rf_proxy *out, char *detail, size_t size)
{
  const static_slot *s = NULL;
  const char *which = "proxy";

  if (strcmp(info->scheme, "http") == 0 && st->http.set) {
    s = &st->http;
    which = "http_proxy";
  } else if (strcmp(info->scheme, "https") == 0 && st->https.set) {
    s = &st->https;
    which = "https_proxy";
  } else if (st->all.set) {
    s = &st->all;
  }
  if (s == NULL)
    return 0;
  memset(out, 0, sizeof(*out));
  if (st->no_proxy != NULL && rf__noproxy_match(info->host, st->no_proxy)) {
    snprintf(detail, size, "%s%s%s matches no_proxy: direct", st->label,
             st->label[0] ? ": " : "", info->host);
    return 1;
  }
  *out = s->proxy;
  if (out->type != RF_PROXY_DIRECT) {
    if (out->user == NULL && st->user != NULL) {
      out->user = st->user;
      out->password = st->password;
    }
    if (out->auth == 0)
      out->auth = st->auth;
    if (out->ca_file == NULL)
      out->ca_file = st->ca_file;
  }
  if (strcmp(st->name, "override") == 0)
    rf__fmt_clip(detail, size, "%s %s", st->label, s->shown);
  else
    rf__fmt_clip(detail, size, "%s%s%s %s", st->label,
                 st->label[0] ? ": " : "", which, s->shown);
  return 1;
}

/* ------------------------------------------------ as a chain resolver */

static void static_resolve(void *self, rf_resolve_req *req,
                           const rf_resolve_info *info)
{
  rf__static *st = self;
  rf_proxy p;
  char detail[512];

  if (rf__static_decide(st, info, &p, detail, sizeof(detail)))
    rf_resolve_answer(req, RF_RESOLVE_OK, &p, 1, detail);
  else
    rf_resolve_answer(req, RF_RESOLVE_PASS, NULL, 0, "no proxy for this scheme");
}

static void static_cancel(void *self, rf_resolve_req *req)
{
  (void)self;
  (void)req; /* answered at once: nothing in flight */
}

static void static_destroy(void *self)
{
  rf__static_free(self);
}

static const rf_resolver_ops static_ops = {
  "static", static_resolve, static_cancel, NULL, static_destroy
};

const rf_resolver_ops *rf__static_ops(void)
{
  return &static_ops;
}
