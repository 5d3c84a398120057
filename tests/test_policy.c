/*
 * The Delivery-Optimization-style precedence (engine/proxy/policy.c): the
 * seed's two tables row by row, per_machine, the credentials of each
 * context, the standard paths, and loading the files from a directory.
 *
 * The seed (Microsoft's "Using a proxy with Delivery Optimization"):
 * "Internet Explorer proxy, current user" is our user scope, "Internet
 * Explorer proxy, device-wide" our device-wide scope, "netsh proxy" our
 * static scope; "interactive user signed in" is RF_CONTEXT_USER and
 * "NetworkService" RF_CONTEXT_SERVICE.  Each scope names its own proxy
 * host, so a row shows which one won.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/config.h"
#include "proxy/policy.h"
#include "rangefetch/rangefetch.h"
#include "support/leaks.h"
#include "support/tmpdir.h"

#define USER_FILE   "/home/u/.config/rangefetch/proxy.conf"
#define DEV_FILE    "/etc/rangefetch/proxy.conf"
#define STATIC_FILE "/etc/rangefetch/static.conf"

#define USER_PROXY   "proxy = http://user.example:3128\n"
#define DEV_PROXY    "proxy = http://device.example:3128\n"
#define STATIC_PROXY "proxy = http://static.example:8080\n"

#define USER_PW "UsrPw123"
#define MACH_PW "MachPw456"

static char dir[64];

static void setup(void)
{
  tmpdir_make(dir, sizeof(dir), "policy");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(policy, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------- helpers */

static const char *const files[RF__PROXY_SCOPE_COUNT] = { USER_FILE, DEV_FILE,
                                                          STATIC_FILE };

/* The three scopes from texts (NULL: absent), parsed as their files. */
typedef struct scopes {
  rf__proxy_config c[RF__PROXY_SCOPE_COUNT];
  const rf__proxy_config *p[RF__PROXY_SCOPE_COUNT];
} scopes;

static void scopes_init(scopes *s, const char *user, const char *device,
                        const char *stat)
{
  const char *t[RF__PROXY_SCOPE_COUNT] = { user, device, stat };
  int i;

  memset(s, 0, sizeof(*s));
  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++) {
    char err[512];

    s->p[i] = &s->c[i];
    if (t[i] == NULL)
      continue;
    cr_assert_eq(rf__proxy_config_parse(t[i], strlen(t[i]), (rf__proxy_scope)i,
                                        files[i], &s->c[i], err, sizeof(err)),
                 0, "%s", err);
  }
}

static void scopes_free(scopes *s)
{
  int i;

  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++)
    rf__proxy_config_free(&s->c[i]);
}

static void contains(const char *hay, const char *needle, const char *what)
{
  cr_expect_not_null(strstr(hay, needle), "%s: '%s' not in '%s'", what, needle,
                     hay);
}

/* ------------------------------------------------------- the seed tables */

#define U    (1u << RF__PROXY_SCOPE_USER)
#define D    (1u << RF__PROXY_SCOPE_DEVICE)
#define S    (1u << RF__PROXY_SCOPE_STATIC)
#define NONE RF__PROXY_SCOPE_COUNT

typedef struct seed_row {
  const char *seed; /* the seed's "Named proxy set by using" */
  rf_context ctx;
  unsigned present;       /* U, D, S */
  int used;               /* "successfully uses proxy" */
  rf__proxy_scope winner; /* NONE when not used */
  const char *proxy;      /* expected proxy URL */
  const char *why;        /* why the other present scope was not used */
} seed_row;

/* clang-format off */
static const seed_row seed_rows[] = {
  /* With an interactive user signed in: */
  { "Internet Explorer proxy, current user", RF_CONTEXT_USER, U,
    1, RF__PROXY_SCOPE_USER, "http://user.example:3128", NULL },
  { "Internet Explorer proxy, device-wide", RF_CONTEXT_USER, D,
    1, RF__PROXY_SCOPE_DEVICE, "http://device.example:3128", NULL },
  { "netsh proxy", RF_CONTEXT_USER, S,
    0, NONE, NULL,
    "the static scope (" STATIC_FILE ") is never used in user context, as "
    "WinHTTP ignores a netsh proxy for requests made with an interactive "
    "user's token" },
  { "Both Internet Explorer proxy (current user) and netsh proxy",
    RF_CONTEXT_USER, U | S,
    1, RF__PROXY_SCOPE_USER, "http://user.example:3128",
    "the static scope (" STATIC_FILE ") is never used in user context" },
  { "Both Internet Explorer proxy (device-wide) and netsh proxy",
    RF_CONTEXT_USER, D | S,
    1, RF__PROXY_SCOPE_DEVICE, "http://device.example:3128",
    "the static scope (" STATIC_FILE ") is never used in user context" },
  /* With NetworkService (no user token): */
  { "Internet Explorer proxy, current user", RF_CONTEXT_SERVICE, U,
    0, NONE, NULL,
    "the user scope (" USER_FILE ") is never used in service context: no "
    "user is signed in" },
  { "Internet Explorer proxy, device-wide", RF_CONTEXT_SERVICE, D,
    1, RF__PROXY_SCOPE_DEVICE, "http://device.example:3128", NULL },
  { "netsh proxy", RF_CONTEXT_SERVICE, S,
    1, RF__PROXY_SCOPE_STATIC, "http://static.example:8080", NULL },
  { "Both Internet Explorer proxy (current user) and netsh proxy",
    RF_CONTEXT_SERVICE, U | S,
    1, RF__PROXY_SCOPE_STATIC, "http://static.example:8080",
    "the user scope (" USER_FILE ") is never used in service context" },
  { "Both Internet Explorer proxy (device-wide) and netsh proxy",
    RF_CONTEXT_SERVICE, D | S,
    1, RF__PROXY_SCOPE_STATIC, "http://static.example:8080",
    "service context: the static scope (" STATIC_FILE ") applies: it takes "
    "precedence over the device-wide proxy (" DEV_FILE "), as netsh does "
    "under NetworkService; this can lead to proxy-authentication "
    "failures" },
};
/* clang-format on */

/*
 * One seed row.  per_machine: whether the device-wide file also says
 * per_machine = yes (the Group Policy way of making the IE proxy
 * device-wide); the seed's answer must not change.
 */
static void check_seed_row(size_t i, int per_machine)
{
  const seed_row *r = &seed_rows[i];
  const char *dev = per_machine ? DEV_PROXY "per_machine = yes\n" : DEV_PROXY;
  rf__proxy_decision d;
  scopes s;
  char label[256], want[256];
  int k;

  snprintf(label, sizeof(label), "row %zu (%s context, per_machine %d: %s)", i,
           r->ctx == RF_CONTEXT_USER ? "user" : "service", per_machine,
           r->seed);
  scopes_init(&s, (r->present & U) ? USER_PROXY : NULL,
              (r->present & D) ? dev : NULL,
              (r->present & S) ? STATIC_PROXY : NULL);
  cr_assert_eq(rf__proxy_policy_decide(r->ctx, s.p, &d), 0, "%s", label);
  cr_assert_not_null(d.explanation, "%s", label);

  /* Whether a proxy is used, and which. */
  cr_expect_eq(d.config != NULL, r->used, "%s: used: %s", label, d.explanation);
  cr_expect_eq(d.scope, r->winner, "%s: scope %d: %s", label, (int)d.scope,
               d.explanation);
  if (r->used && d.config != NULL) {
    cr_expect_str_eq(rf__proxy_config_proxy_for(d.config, "https")->url,
                     r->proxy, "%s", label);
    cr_expect_str_eq(rf__proxy_config_proxy_for(d.config, "http")->url,
                     r->proxy, "%s", label);
  }

  /* The explanation: context, the winning scope and its file, and every
   * other present scope's file with the reason it lost. */
  contains(d.explanation,
           r->ctx == RF_CONTEXT_USER ? "user context: " : "service context: ",
           label);
  if (r->used) {
    snprintf(want, sizeof(want), "the %s scope (%s) applies",
             rf__proxy_scope_name(r->winner), files[r->winner]);
    contains(d.explanation, want, label);
  } else {
    contains(d.explanation, "no policy proxy, the resolver chain continues",
             label);
  }
  for (k = 0; k < RF__PROXY_SCOPE_COUNT; k++) {
    if ((r->present & (1u << k)) != 0)
      contains(d.explanation, files[k], label);
  }
  if (r->why != NULL)
    contains(d.explanation, r->why, label);
  rf__proxy_decision_free(&d);
  cr_assert_null(d.explanation);
  scopes_free(&s);
}

Test(policy, seed_tables)
{
  size_t i;

  cr_assert_eq(sizeof(seed_rows) / sizeof(seed_rows[0]), 10);
  for (i = 0; i < sizeof(seed_rows) / sizeof(seed_rows[0]); i++) {
    check_seed_row(i, 0);
    check_seed_row(i, 1);
  }
  ASSERT_NO_LEAKS();
}

/* All three present: the user context takes the user scope, the service
 * context the static one. */
Test(policy, all_three_scopes)
{
  rf__proxy_decision d;
  scopes s;

  scopes_init(&s, USER_PROXY, DEV_PROXY, STATIC_PROXY);
  cr_assert_eq(rf__proxy_policy_decide(RF_CONTEXT_USER, s.p, &d), 0);
  cr_assert_eq(d.scope, RF__PROXY_SCOPE_USER);
  contains(d.explanation,
           "the device-wide scope (" DEV_FILE ") is not used: in user context "
           "the user scope takes precedence unless the device-wide file sets "
           "per_machine = yes",
           "user");
  contains(d.explanation, "the static scope (" STATIC_FILE ") is never used",
           "user");
  rf__proxy_decision_free(&d);

  cr_assert_eq(rf__proxy_policy_decide(RF_CONTEXT_SERVICE, s.p, &d), 0);
  cr_assert_eq(d.scope, RF__PROXY_SCOPE_STATIC);
  contains(d.explanation,
           "takes precedence over the device-wide proxy (" DEV_FILE, "service");
  contains(d.explanation, "the user scope (" USER_FILE ") is never used",
           "service");
  rf__proxy_decision_free(&d);
  scopes_free(&s);
  ASSERT_NO_LEAKS();
}

Test(policy, no_files)
{
  rf__proxy_decision d;
  scopes s;

  scopes_init(&s, NULL, NULL, NULL);
  cr_assert_eq(rf__proxy_policy_decide(RF_CONTEXT_USER, s.p, &d), 0);
  cr_assert_null(d.config);
  cr_assert_eq(d.scope, RF__PROXY_SCOPE_COUNT);
  cr_assert_eq(d.cred, RF__PROXY_CRED_NONE);
  cr_assert_str_eq(d.explanation, "user context: no policy proxy, the "
                                  "resolver chain continues (no proxy "
                                  "settings file)");
  rf__proxy_decision_free(&d);
  /* NULL entries are absent scopes too. */
  {
    const rf__proxy_config *none[RF__PROXY_SCOPE_COUNT] = { NULL, NULL, NULL };

    cr_assert_eq(rf__proxy_policy_decide(RF_CONTEXT_SERVICE, none, &d), 0);
    cr_assert_null(d.config);
    cr_assert_str_eq(d.explanation, "service context: no policy proxy, the "
                                    "resolver chain continues (no proxy "
                                    "settings file)");
    rf__proxy_decision_free(&d);
  }
  scopes_free(&s);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------------ per_machine */

typedef struct pm_row {
  const char *what;
  rf_context ctx;
  const char *user, *device, *stat;
  rf__proxy_scope winner;
  const char *proxy; /* for https; NULL: none or direct */
  const char *why;
} pm_row;

/* clang-format off */
static const pm_row pm_rows[] = {
  { "per_machine = yes beats the user scope", RF_CONTEXT_USER,
    USER_PROXY, DEV_PROXY "per_machine = yes\n", NULL,
    RF__PROXY_SCOPE_DEVICE, "http://device.example:3128",
    "the device-wide scope (" DEV_FILE ") applies: per_machine = yes (line "
    "2) makes proxy settings per-machine rather than per-user; the user "
    "scope (" USER_FILE ") is not used: per_machine = yes in the device-wide "
    "file (line 2) makes proxy settings per-machine, so users cannot set "
    "their own" },
  { "per_machine = no: the user scope wins", RF_CONTEXT_USER,
    USER_PROXY, DEV_PROXY "per_machine = no\n", NULL,
    RF__PROXY_SCOPE_USER, "http://user.example:3128",
    "is not used: in user context the user scope takes precedence" },
  { "per_machine = yes with no device proxy locks the user scope out",
    RF_CONTEXT_USER,
    USER_PROXY, "per_machine = yes\nno_proxy = localhost\n", NULL,
    NONE, NULL,
    "user context: no policy proxy, the resolver chain continues; the user "
    "scope (" USER_FILE ") is not used: per_machine = yes" },
  { "per_machine = yes with no device proxy, no user scope", RF_CONTEXT_USER,
    NULL, "per_machine = yes\n", NULL,
    NONE, NULL,
    "the device-wide scope (" DEV_FILE ") sets per_machine = yes (line 1) "
    "but no proxy" },
  { "per_machine = yes does not matter to a service", RF_CONTEXT_SERVICE,
    USER_PROXY, DEV_PROXY "per_machine = yes\n", NULL,
    RF__PROXY_SCOPE_DEVICE, "http://device.example:3128",
    "never used in service context" },
  { "per_machine = yes does not beat the static scope for a service",
    RF_CONTEXT_SERVICE,
    USER_PROXY, DEV_PROXY "per_machine = yes\n", STATIC_PROXY,
    RF__PROXY_SCOPE_STATIC, "http://static.example:8080",
    "takes precedence over the device-wide proxy" },
  { "per_machine = yes does not bring in the static scope for a user",
    RF_CONTEXT_USER,
    NULL, "per_machine = yes\n", STATIC_PROXY,
    NONE, NULL, "is never used in user context" },
  /* Files that set no proxy take no part. */
  { "a user file with only credentials", RF_CONTEXT_USER,
    "proxy_user = alice\nno_proxy = .corp\n", DEV_PROXY, NULL,
    RF__PROXY_SCOPE_DEVICE, "http://device.example:3128",
    "the user scope (" USER_FILE ") sets no proxy (none of proxy, "
    "http_proxy, https_proxy, pac, wpad = yes)" },
  { "a static file with only no_proxy", RF_CONTEXT_SERVICE,
    NULL, DEV_PROXY, "no_proxy = localhost\n",
    RF__PROXY_SCOPE_DEVICE, "http://device.example:3128",
    "the static scope (" STATIC_FILE ") sets no proxy" },
  { "a device file with wpad = no only", RF_CONTEXT_SERVICE,
    NULL, "wpad = no\n", NULL,
    NONE, NULL, "the device-wide scope (" DEV_FILE ") sets no proxy" },
  /* "direct", pac and wpad = yes are answers of their own. */
  { "proxy = direct in the user scope wins", RF_CONTEXT_USER,
    "proxy = direct\n", DEV_PROXY, NULL,
    RF__PROXY_SCOPE_USER, NULL, "is not used: in user context" },
  { "a PAC URL makes the user scope win", RF_CONTEXT_USER,
    "pac = https://pac.example/p.pac\n", DEV_PROXY, NULL,
    RF__PROXY_SCOPE_USER, NULL, "the user scope (" USER_FILE ") applies" },
  { "wpad = yes makes the device scope win", RF_CONTEXT_SERVICE,
    NULL, "wpad = yes\n", "no_proxy = *\n",
    RF__PROXY_SCOPE_DEVICE, NULL,
    "the device-wide scope (" DEV_FILE ") applies" },
};
/* clang-format on */

Test(policy, per_machine_and_empty_scopes)
{
  size_t i;

  for (i = 0; i < sizeof(pm_rows) / sizeof(pm_rows[0]); i++) {
    const pm_row *r = &pm_rows[i];
    rf__proxy_decision d;
    scopes s;

    scopes_init(&s, r->user, r->device, r->stat);
    cr_assert_eq(rf__proxy_policy_decide(r->ctx, s.p, &d), 0, "row %zu", i);
    cr_expect_eq(d.scope, r->winner, "row %zu (%s): %s", i, r->what,
                 d.explanation);
    if (r->proxy != NULL && d.config != NULL)
      cr_expect_str_eq(rf__proxy_config_proxy_for(d.config, "https")->url,
                       r->proxy, "row %zu", i);
    else if (d.config != NULL)
      cr_expect_neq(rf__proxy_config_proxy_for(d.config, "https")->kind,
                    RF__PROXY_URL, "row %zu", i);
    contains(d.explanation, r->why, r->what);
    rf__proxy_decision_free(&d);
    scopes_free(&s);
  }
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------------ credentials */

typedef struct cred_row {
  const char *what;
  rf_context ctx;
  const char *user, *device, *stat;
  rf__proxy_cred cred;
  const char *cuser;     /* expected user, NULL: none */
  const char *cpassword; /* expected password, NULL: none */
  const char *cfile;
  const char *why;
} cred_row;

#define USER_CREDS "proxy_user = alice:" USER_PW "\n"
#define DEV_CREDS  "proxy_user = svc:" MACH_PW "\n"

/* clang-format off */
static const cred_row cred_rows[] = {
  { "user scope wins, its proxy_user", RF_CONTEXT_USER,
    USER_PROXY USER_CREDS, NULL, NULL,
    RF__PROXY_CRED_USER, "alice", USER_PW, USER_FILE,
    "credentials: the user's own, user 'alice' from the user scope ("
    USER_FILE ")" },
  { "user scope wins, credentials in its URL", RF_CONTEXT_USER,
    "proxy = http://alice:" USER_PW "@user.example:3128\n", NULL, NULL,
    RF__PROXY_CRED_USER, "alice", USER_PW, USER_FILE, "the user's own" },
  { "user scope wins without credentials: the ticket cache",
    RF_CONTEXT_USER, USER_PROXY, DEV_PROXY DEV_CREDS, NULL,
    RF__PROXY_CRED_USER_SSO, NULL, NULL, NULL,
    "credentials: the signed-in user's own Kerberos ticket cache" },
  { "device wins for a user: never the machine's credentials",
    RF_CONTEXT_USER, NULL, DEV_PROXY DEV_CREDS, STATIC_PROXY,
    RF__PROXY_CRED_USER_SSO, NULL, NULL, NULL,
    "the device-wide file's credentials are for service context only" },
  { "per_machine: the device proxy with the user's own credentials",
    RF_CONTEXT_USER, USER_CREDS, DEV_PROXY "per_machine = yes\n" DEV_CREDS,
    NULL,
    RF__PROXY_CRED_USER, "alice", USER_PW, USER_FILE,
    "user 'alice' from the user scope" },
  { "device wins for a service: the machine's credentials",
    RF_CONTEXT_SERVICE, USER_PROXY USER_CREDS, DEV_PROXY DEV_CREDS, NULL,
    RF__PROXY_CRED_MACHINE, "svc", MACH_PW, DEV_FILE,
    "credentials: the machine's, user 'svc' from the device-wide scope ("
    DEV_FILE ")" },
  { "device credentials in the URL", RF_CONTEXT_SERVICE,
    NULL, "proxy = http://svc@device.example:3128\n", NULL,
    RF__PROXY_CRED_MACHINE, "svc", NULL, DEV_FILE, "the machine's" },
  { "device without credentials for a service: its default Kerberos ones",
    RF_CONTEXT_SERVICE, NULL, DEV_PROXY, NULL,
    RF__PROXY_CRED_MACHINE_SSO, NULL, NULL, NULL,
    "credentials: the service's own default Kerberos credentials" },
  { "static wins: never any credentials", RF_CONTEXT_SERVICE,
    USER_PROXY USER_CREDS, DEV_PROXY DEV_CREDS, STATIC_PROXY,
    RF__PROXY_CRED_NONE, NULL, NULL, NULL,
    "credentials: none, the static scope never authenticates" },
  { "static only for a service", RF_CONTEXT_SERVICE,
    NULL, NULL, STATIC_PROXY,
    RF__PROXY_CRED_NONE, NULL, NULL, NULL, "never authenticates" },
  { "no policy proxy for a user: no credentials", RF_CONTEXT_USER,
    USER_CREDS, NULL, STATIC_PROXY,
    RF__PROXY_CRED_NONE, NULL, NULL, NULL, "no policy proxy" },
  { "no policy proxy for a service: the user's are not used",
    RF_CONTEXT_SERVICE, USER_PROXY USER_CREDS, NULL, NULL,
    RF__PROXY_CRED_NONE, NULL, NULL, NULL, "no policy proxy" },
};
/* clang-format on */

static void expect_str_or_null(const char *got, const char *want,
                               const char *what, size_t i)
{
  if (want == NULL)
    cr_expect_null(got, "row %zu: %s", i, what);
  else
    cr_expect(got != NULL && strcmp(got, want) == 0, "row %zu: %s '%s'", i,
              what, got != NULL ? got : "(null)");
}

Test(policy, credentials)
{
  size_t i;

  for (i = 0; i < sizeof(cred_rows) / sizeof(cred_rows[0]); i++) {
    const cred_row *r = &cred_rows[i];
    rf__proxy_decision d;
    scopes s;

    scopes_init(&s, r->user, r->device, r->stat);
    cr_assert_eq(rf__proxy_policy_decide(r->ctx, s.p, &d), 0, "row %zu", i);
    cr_expect_eq(d.cred, r->cred, "row %zu (%s): cred %d: %s", i, r->what,
                 (int)d.cred, d.explanation);
    expect_str_or_null(d.user, r->cuser, "user", i);
    expect_str_or_null(d.password, r->cpassword, "password", i);
    expect_str_or_null(d.cred_file, r->cfile, "cred_file", i);
    contains(d.explanation, r->why, r->what);
    /* Never a password in the explanation. */
    cr_expect_null(strstr(d.explanation, USER_PW), "row %zu leaks: %s", i,
                   d.explanation);
    cr_expect_null(strstr(d.explanation, MACH_PW), "row %zu leaks: %s", i,
                   d.explanation);
    rf__proxy_decision_free(&d);
    scopes_free(&s);
  }
  ASSERT_NO_LEAKS();
}

Test(policy, bad_arguments)
{
  rf__proxy_decision d;
  scopes s;
  const rf__proxy_config *swapped[RF__PROXY_SCOPE_COUNT];

  scopes_init(&s, USER_PROXY, DEV_PROXY, NULL);
  cr_assert_eq(rf__proxy_policy_decide(RF_CONTEXT_USER, s.p, NULL), RF_EINVAL);
  cr_assert_eq(rf__proxy_policy_decide(RF_CONTEXT_USER, NULL, &d), RF_EINVAL);
  cr_assert_null(d.explanation);
  cr_assert_eq(rf__proxy_policy_decide((rf_context)7, s.p, &d), RF_EINVAL);
  /* A config in the wrong slot. */
  swapped[RF__PROXY_SCOPE_USER] = s.p[RF__PROXY_SCOPE_DEVICE];
  swapped[RF__PROXY_SCOPE_DEVICE] = s.p[RF__PROXY_SCOPE_USER];
  swapped[RF__PROXY_SCOPE_STATIC] = NULL;
  cr_assert_eq(rf__proxy_policy_decide(RF_CONTEXT_USER, swapped, &d),
               RF_EINVAL);
  cr_assert_null(d.config);
  rf__proxy_decision_free(NULL);
  rf__proxy_decision_free(&d);
  cr_assert_str_eq(rf__proxy_context_name(RF_CONTEXT_USER), "user");
  cr_assert_str_eq(rf__proxy_context_name(RF_CONTEXT_SERVICE), "service");
  cr_assert_str_eq(rf__proxy_context_name((rf_context)7), "?");
  scopes_free(&s);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------------------ paths */

typedef struct env_row {
  const char *xdg, *home;
} env_row;

static const char *row_get(const char *name, void *user_data)
{
  const env_row *r = user_data;

  if (strcmp(name, "XDG_CONFIG_HOME") == 0)
    return r->xdg;
  if (strcmp(name, "HOME") == 0)
    return r->home;
  return NULL;
}

Test(policy, standard_paths)
{
  static const struct {
    env_row env;
    const char *sys_dir, *user_dir;
    const char *user, *device, *stat;
  } rows[] = {
    { { "/xdg", "/home/u" },
      NULL,
      NULL,
      "/xdg/rangefetch/proxy.conf",
      RF_SYSCONFDIR "/proxy.conf",
      RF_SYSCONFDIR "/static.conf" },
    { { NULL, "/home/u" },
      NULL,
      NULL,
      "/home/u/.config/rangefetch/proxy.conf",
      "/etc/rangefetch/proxy.conf",
      "/etc/rangefetch/static.conf" },
    /* A relative XDG_CONFIG_HOME is ignored (XDG spec); so is an empty
     * one. */
    { { "xdg", "/home/u" },
      NULL,
      NULL,
      "/home/u/.config/rangefetch/proxy.conf",
      NULL,
      NULL },
    { { "", "/home/u/" },
      NULL,
      NULL,
      "/home/u/.config/rangefetch/proxy.conf",
      NULL,
      NULL },
    /* No usable HOME: no user scope. */
    { { NULL, NULL }, NULL, NULL, NULL, NULL, NULL },
    { { "rel", "rel" }, NULL, NULL, NULL, NULL, NULL },
    /* Directories given: no environment needed; slashes tidied. */
    { { "/xdg", "/home/u" },
      "/opt/rf/etc/",
      "/srv/cfg",
      "/srv/cfg/proxy.conf",
      "/opt/rf/etc/proxy.conf",
      "/opt/rf/etc/static.conf" },
    { { NULL, NULL }, "/", "/", "/proxy.conf", "/proxy.conf", "/static.conf" },
  };
  size_t i;

  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    rf__proxy_paths p;

    cr_assert_eq(rf__proxy_policy_paths(row_get, (void *)&rows[i].env,
                                        rows[i].sys_dir, rows[i].user_dir, &p),
                 0, "row %zu", i);
    expect_str_or_null(p.path[RF__PROXY_SCOPE_USER], rows[i].user, "user", i);
    if (rows[i].device != NULL) {
      cr_expect_str_eq(p.path[RF__PROXY_SCOPE_DEVICE], rows[i].device,
                       "row %zu", i);
      cr_expect_str_eq(p.path[RF__PROXY_SCOPE_STATIC], rows[i].stat, "row %zu",
                       i);
    }
    rf__proxy_paths_free(&p);
    cr_assert_null(p.path[RF__PROXY_SCOPE_DEVICE]);
  }
  {
    rf__proxy_paths p;

    cr_assert_eq(
        rf__proxy_policy_paths(row_get, (void *)&rows[0].env, "", NULL, &p),
        RF_EINVAL);
    cr_assert_eq(
        rf__proxy_policy_paths(row_get, (void *)&rows[0].env, NULL, "", &p),
        RF_EINVAL);
    cr_assert_eq(rf__proxy_policy_paths(NULL, NULL, NULL, NULL, NULL),
                 RF_EINVAL);
    /* NULL get: the process environment. */
    cr_assert_eq(rf__proxy_policy_paths(NULL, NULL, NULL, NULL, &p), 0);
    cr_assert_str_eq(p.path[RF__PROXY_SCOPE_DEVICE],
                     RF_SYSCONFDIR "/proxy.conf");
    rf__proxy_paths_free(&p);
    rf__proxy_paths_free(NULL);
  }
  ASSERT_NO_LEAKS();
}

/* ----------------------------------------------------------------- loader */

static char *path_in(const char *name)
{
  static char buf[8][256];
  static int next;
  char *p = buf[next++ % 8];

  snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
  return p;
}

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");

  cr_assert_not_null(f, "create %s", path);
  cr_assert_eq(fputs(text, f) >= 0, 1);
  cr_assert_eq(fclose(f), 0);
}

/* Paths of the three files in the temp dir (user in a subdirectory). */
static void temp_paths(const char *paths[RF__PROXY_SCOPE_COUNT])
{
  char *user = path_in("home");

  mkdir(user, 0755);
  paths[RF__PROXY_SCOPE_USER] = path_in("home/proxy.conf");
  paths[RF__PROXY_SCOPE_DEVICE] = path_in("proxy.conf");
  paths[RF__PROXY_SCOPE_STATIC] = path_in("static.conf");
}

Test(policy, load_missing_files)
{
  const char *paths[RF__PROXY_SCOPE_COUNT];
  rf__proxy_policy *p = (void *)1;
  char err[512];
  int i;

  temp_paths(paths);
  cr_assert_eq(
      rf__proxy_policy_load(RF_CONTEXT_USER, paths, &p, err, sizeof(err)), 0,
      "%s", err);
  cr_assert_not_null(p);
  cr_assert_str_eq(err, "");
  for (i = 0; i < RF__PROXY_SCOPE_COUNT; i++)
    cr_assert_eq(p->scope[i].set, 0);
  cr_assert_null(p->decision.config);
  contains(p->decision.explanation, "(no proxy settings file)", "missing");
  rf__proxy_policy_free(p);
  ASSERT_NO_LEAKS();
}

Test(policy, load_and_decide)
{
  const char *paths[RF__PROXY_SCOPE_COUNT];
  rf__proxy_policy *p;
  char err[512], want[512];

  temp_paths(paths);
  write_text(paths[RF__PROXY_SCOPE_DEVICE],
             "# device-wide\r\n" DEV_PROXY DEV_CREDS);
  write_text(paths[RF__PROXY_SCOPE_STATIC], STATIC_PROXY);

  /* Service: netsh wins, no credentials. */
  cr_assert_eq(
      rf__proxy_policy_load(RF_CONTEXT_SERVICE, paths, &p, err, sizeof(err)), 0,
      "%s", err);
  cr_assert_eq(p->decision.scope, RF__PROXY_SCOPE_STATIC);
  cr_assert_eq(p->decision.config, &p->scope[RF__PROXY_SCOPE_STATIC]);
  cr_assert_str_eq(p->decision.config->file, paths[RF__PROXY_SCOPE_STATIC]);
  cr_assert_eq(p->decision.cred, RF__PROXY_CRED_NONE);
  snprintf(want, sizeof(want),
           "service context: the static scope (%s) applies: it takes "
           "precedence over the device-wide proxy (%s), as netsh does under "
           "NetworkService",
           paths[RF__PROXY_SCOPE_STATIC], paths[RF__PROXY_SCOPE_DEVICE]);
  contains(p->decision.explanation, want, "service");
  cr_assert_null(strstr(p->decision.explanation, MACH_PW));
  rf__proxy_policy_free(p);

  /* User: the device-wide proxy, the user's own credentials. */
  cr_assert_eq(
      rf__proxy_policy_load(RF_CONTEXT_USER, paths, &p, err, sizeof(err)), 0,
      "%s", err);
  cr_assert_eq(p->decision.scope, RF__PROXY_SCOPE_DEVICE);
  cr_assert_str_eq(rf__proxy_config_proxy_for(p->decision.config, "https")->url,
                   "http://device.example:3128");
  cr_assert_eq(p->decision.cred, RF__PROXY_CRED_USER_SSO);
  rf__proxy_policy_free(p);

  /* Add a user file: it wins for the user; the service ignores it. */
  write_text(paths[RF__PROXY_SCOPE_USER], USER_PROXY USER_CREDS);
  cr_assert_eq(
      rf__proxy_policy_load(RF_CONTEXT_USER, paths, &p, err, sizeof(err)), 0,
      "%s", err);
  cr_assert_eq(p->decision.scope, RF__PROXY_SCOPE_USER);
  cr_assert_str_eq(p->decision.user, "alice");
  cr_assert_str_eq(p->decision.password, USER_PW);
  cr_assert_str_eq(p->decision.cred_file, paths[RF__PROXY_SCOPE_USER]);
  rf__proxy_policy_free(p);
  cr_assert_eq(
      rf__proxy_policy_load(RF_CONTEXT_SERVICE, paths, &p, err, sizeof(err)), 0,
      "%s", err);
  cr_assert_eq(p->decision.scope, RF__PROXY_SCOPE_STATIC);
  rf__proxy_policy_free(p);

  /* A NULL path: that scope is absent. */
  {
    const char *no_user[RF__PROXY_SCOPE_COUNT] = {
      NULL, paths[RF__PROXY_SCOPE_DEVICE], NULL
    };

    cr_assert_eq(
        rf__proxy_policy_load(RF_CONTEXT_USER, no_user, &p, err, sizeof(err)),
        0, "%s", err);
    cr_assert_eq(p->decision.scope, RF__PROXY_SCOPE_DEVICE);
    cr_assert_eq(p->scope[RF__PROXY_SCOPE_USER].set, 0);
    rf__proxy_policy_free(p);
  }
  ASSERT_NO_LEAKS();
}

/* The standard layout from rf__proxy_policy_paths, pointed at the temp dir
 * as a packager or a test would. */
Test(policy, load_standard_layout)
{
  env_row env = { NULL, NULL };
  rf__proxy_paths paths;
  rf__proxy_policy *p;
  char err[512], user_dir[300];

  snprintf(user_dir, sizeof(user_dir), "%s/cfg", dir);
  cr_assert_eq(mkdir(user_dir, 0755), 0);
  cr_assert_eq(rf__proxy_policy_paths(row_get, &env, dir, user_dir, &paths), 0);
  write_text(paths.path[RF__PROXY_SCOPE_USER], USER_PROXY);
  write_text(paths.path[RF__PROXY_SCOPE_DEVICE],
             DEV_PROXY "per_machine = yes\n");
  cr_assert_eq(rf__proxy_policy_load(RF_CONTEXT_USER,
                                     (const char *const *)paths.path, &p, err,
                                     sizeof(err)),
               0, "%s", err);
  cr_assert_eq(p->decision.scope, RF__PROXY_SCOPE_DEVICE);
  contains(p->decision.explanation, paths.path[RF__PROXY_SCOPE_DEVICE],
           "device file");
  contains(p->decision.explanation, paths.path[RF__PROXY_SCOPE_USER],
           "user file");
  rf__proxy_policy_free(p);
  rf__proxy_paths_free(&paths);
  ASSERT_NO_LEAKS();
}

Test(policy, load_malformed_file_is_an_error)
{
  static const struct {
    rf__proxy_scope scope;
    const char *text;
    int rc;
    const char *err; /* after "<path>" */
  } rows[] = {
    { RF__PROXY_SCOPE_DEVICE, DEV_PROXY "\nprxy = x\n", RF_EINVAL,
      ":3: unknown key 'prxy'" },
    { RF__PROXY_SCOPE_STATIC, STATIC_PROXY "pac = /etc/p.pac\n", RF_EINVAL,
      ":2: 'pac' is not allowed in the static scope: like netsh winhttp, it "
      "has no PAC, no discovery and no authentication" },
    { RF__PROXY_SCOPE_USER, USER_PROXY "wpad = perhaps\n", RF_EINVAL,
      ":2: 'wpad' must be yes or no, not 'perhaps'" },
    { RF__PROXY_SCOPE_USER, "per_machine = yes\n", RF_EINVAL,
      ":1: 'per_machine' is only allowed in the device-wide scope" },
  };
  static const rf_context ctxs[] = { RF_CONTEXT_USER, RF_CONTEXT_SERVICE };
  size_t i, j;

  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    const char *paths[RF__PROXY_SCOPE_COUNT];

    temp_paths(paths);
    /* The other two files are fine. */
    write_text(paths[RF__PROXY_SCOPE_USER], USER_PROXY);
    write_text(paths[RF__PROXY_SCOPE_DEVICE], DEV_PROXY);
    write_text(paths[RF__PROXY_SCOPE_STATIC], STATIC_PROXY);
    write_text(paths[rows[i].scope], rows[i].text);
    /* In both contexts, even for a scope the context would not use. */
    for (j = 0; j < 2; j++) {
      rf__proxy_policy *p = (void *)1;
      char err[512], want[512];

      snprintf(want, sizeof(want), "%s%s", paths[rows[i].scope], rows[i].err);
      cr_expect_eq(rf__proxy_policy_load(ctxs[j], paths, &p, err, sizeof(err)),
                   rows[i].rc, "row %zu ctx %zu", i, j);
      cr_expect_null(p, "row %zu ctx %zu", i, j);
      cr_expect_eq(strncmp(err, want, strlen(want)), 0,
                   "row %zu ctx %zu: '%s' does not start with '%s'", i, j, err,
                   want);
    }
  }
  ASSERT_NO_LEAKS();
}

Test(policy, load_bad_arguments)
{
  const char *paths[RF__PROXY_SCOPE_COUNT] = { NULL, NULL, NULL };
  rf__proxy_policy *p = (void *)1;
  char err[128];

  cr_assert_eq(
      rf__proxy_policy_load(RF_CONTEXT_USER, NULL, &p, err, sizeof(err)),
      RF_EINVAL);
  cr_assert_null(p);
  cr_assert_str_eq(err, "invalid argument");
  cr_assert_eq(
      rf__proxy_policy_load(RF_CONTEXT_USER, paths, NULL, err, sizeof(err)),
      RF_EINVAL);
  cr_assert_eq(rf__proxy_policy_load((rf_context)9, paths, &p, NULL, 0),
               RF_EINVAL);
  /* A directory where a file should be: an error, not an absent scope. */
  paths[RF__PROXY_SCOPE_DEVICE] = dir;
  cr_assert_eq(
      rf__proxy_policy_load(RF_CONTEXT_USER, paths, &p, err, sizeof(err)),
      RF_EIO);
  rf__proxy_policy_free(NULL);
  ASSERT_NO_LEAKS();
}
