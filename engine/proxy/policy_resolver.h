/*
 * The policy's decision (policy.h) turned into resolver configs: what the
 * façade (engine/resolvers.c, rf_engine_add_policy_resolver) adds to the
 * chain, in this order:
 *   - "policy": a note that always answers "no opinion", its detail the
 *     decision in words (which scope won and why the others did not), so
 *     that explanations and logs carry it;
 *   - "policy-pac" when the winning scope names a PAC script;
 *   - "policy-wpad" when it turns WPAD on;
 *   - "policy" (static) for its proxy / http_proxy / https_proxy and
 *     no_proxy.
 * A PAC or WPAD failure thus falls back to the same scope's fixed proxy,
 * then to the rest of the chain.
 *
 * Pure: no engine, no chain, no I/O.
 */
#ifndef RF_PROXY_POLICY_RESOLVER_H
#define RF_PROXY_POLICY_RESOLVER_H

#include "proxy/pac_resolver.h"
#include "proxy/policy.h"
#include "proxy/static.h"

typedef struct rf__policy_entries {
  /* The decision in words, for the note and the log (borrowed from the
   * decision; "" when it has none). */
  const char *note;
  /* "<scope> scope (<file>)", the label of every entry; "" when the
   * decision names no settings (then only the note is added). */
  char label[600];
  int has_pac;            /* add pac under "policy-pac" */
  rf__pacres_config pac;
  int has_wpad;           /* add wpad under "policy-wpad" */
  rf__pacres_config wpad;
  int has_static;         /* add fixed under its name ("policy") */
  rf__static_config fixed;
} rf__policy_entries;

/*
 * Fills *out for decision d.  The configs borrow d's strings and
 * out->label: keep d alive, and do not copy *out, while they are used.
 */
void rf__policy_entries_make(rf__policy_entries *out,
                             const rf__proxy_decision *d);

/* The ops of the "policy" note; self is a malloc'd string (the detail it
 * answers with), freed by destroy. */
const rf_resolver_ops *rf__policy_note_ops(void);

#endif
