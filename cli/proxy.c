/* `rangefetch proxy explain URL`: the proxy decision for a URL, step by
 * step, as `get` would make it. */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "cli.h"
#include "args.h"
#include "progress.h"
#include "proxyopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char explain_help[] =
    "Usage: " CLI_PROGRAM " proxy explain URL [OPTIONS]\n"
    "\n"
    "Show how " CLI_PROGRAM " get would route URL: each resolver consulted\n"
    "and its answer (the settings scope that won, the PAC file and the\n"
    "string it returned...), the proxies in the order they would be tried,\n"
    "those marked bad, and the authentication that would be allowed.\n"
    "Nothing is downloaded (a PAC file may be fetched).\n"
    "\n"
    "Options:\n"
    "      --mirror URL         also explain the route of this mirror\n"
    "      --peer URL           ... of this peer\n"
    "      --cache-host HOST[:PORT][,...]\n"
    "                           ... of these cache hosts, asked in the\n"
    "                           Connected Cache form (repeatable)\n"
    "      --cache-host-proxy auto|direct\n"
    "                           the cache hosts' route: from the proxy\n"
    "                           settings (auto), or direct\n"
    "      --cache-host-hash    show which cache host rendezvous hashing\n"
    "                           gives each of the first 16 pieces\n"
    "      --json               one JSON object on stdout (one per source,\n"
    "                           a line each, with sources)\n"
    "  -v, --verbose            log what the resolvers do\n"
    "  -h, --help               show this help and exit\n"
    "\n";

enum {
  OPT_JSON = 1,
  OPT_VERBOSE,
  OPT_HELP,
  OPT_MIRROR,
  OPT_PEER,
  OPT_CACHE_HOST,
  OPT_CACHE_HOST_PROXY,
  OPT_CACHE_HOST_HASH
};

static const cli_option explain_options[] = {
  { "json", 0, 0, OPT_JSON },
  { "verbose", 'v', 0, OPT_VERBOSE },
  { "help", 'h', 0, OPT_HELP },
  { "mirror", 0, 1, OPT_MIRROR },
  { "peer", 0, 1, OPT_PEER },
  { "cache-host", 0, 1, OPT_CACHE_HOST },
  { "cache-host-proxy", 0, 1, OPT_CACHE_HOST_PROXY },
  { "cache-host-hash", 0, 0, OPT_CACHE_HOST_HASH },
  CLI_PROXY_OPTION_ENTRIES,
  { NULL, 0, 0, 0 },
};

#define EXPLAIN_MAX_SOURCES 64

/* A source besides the origin, as get would use it. */
typedef struct explain_source {
  rf_source_kind kind;
  const char *name; /* as given */
  const char *url;  /* what is asked (a cache host's URL form) */
  char *owned;      /* url when made here, else NULL */
  char host[300];   /* a cache host as formatted (the hashing's name) */
} explain_source;

typedef struct explain_ctx {
  cli_proxy_args px;
  int json;
  int verbose;
  int done;
  int exit_code;
  explain_source src[EXPLAIN_MAX_SOURCES];
  size_t nsrc;
  const char *cache_hosts[EXPLAIN_MAX_SOURCES];
  size_t ncache;
  int cache_direct; /* --cache-host-proxy direct */
  int cache_hash;   /* --cache-host-hash */
  const explain_source *cur; /* the source being explained, NULL: origin */
} explain_ctx;

static const char *credentials_of(const explain_ctx *x, const rf_proxy *p)
{
  if (p->type == RF_PROXY_DIRECT)
    return "";
  if (p->auth & RF_PROXY_AUTH_NONE)
    return "none, ever (this scope does not authenticate)";
  if (p->user != NULL)
    return "user from the proxy setting";
  if (x->px.proxy_user != NULL)
    return "user from --proxy-user";
  if (p->type == RF_PROXY_HTTP || p->type == RF_PROXY_HTTPS)
    return "none given: ~/.netrc if it lists the host, else Negotiate with "
           "the Kerberos ticket cache";
  return "none";
}

/* The proxy_auth value for an RF_PROXY_AUTH_* mask. */
static const char *auth_setting_name(unsigned mask)
{
  switch (mask) {
  case RF_PROXY_AUTH_SAFE:
    return "safe";
  case RF_PROXY_AUTH_ANY:
    return "any";
  case RF_PROXY_AUTH_BASIC:
    return "basic";
  case RF_PROXY_AUTH_DIGEST:
    return "digest";
  case RF_PROXY_AUTH_NTLM:
    return "ntlm";
  case RF_PROXY_AUTH_NEGOTIATE:
    return "negotiate";
  }
  return "?";
}

/*
 * The authentication schemes get would allow towards proxy p, as the
 * engine decides them when it applies a route: the candidate's own (a
 * settings scope always gives its proxy_auth, default safe; the static
 * scope none), else --proxy-auth, else safe.  *mask gets them, from where they come.
 */
static void auth_of(const explain_ctx *x, const rf_route_info *in,
                    const rf_proxy *p, unsigned *mask, char *from,
                    size_t size)
{
  const char *scope = strstr(in->chosen_by, " scope (");
  const char *start = scope, *end = NULL;

  if (p->auth & RF_PROXY_AUTH_NONE) {
    *mask = 0;
    snprintf(from, size, "the static scope never authenticates");
    return;
  }
  if (p->auth != 0) {
    *mask = p->auth;
    if (scope != NULL) {
      while (start > in->chosen_by && start[-1] != ' ')
        start--;
      end = strchr(scope, ')');
    }
    if (end != NULL)
      snprintf(from, size, "proxy_auth = %s in the %.*s",
               auth_setting_name(p->auth), (int)(end + 1 - start), start);
    else
      snprintf(from, size, "proxy_auth = %s of the settings that chose it",
               auth_setting_name(p->auth));
    if (x->px.proxy_auth != 0 && x->px.proxy_auth != p->auth)
      snprintf(from + strlen(from), size - strlen(from),
               "; --proxy-auth applies only to proxies no settings file "
               "chose");
    else if (!(p->auth & RF_PROXY_AUTH_BASIC))
      snprintf(from + strlen(from), size - strlen(from),
               "; Basic only with proxy_auth = basic or any there");
    return;
  }
  if (x->px.proxy_auth != 0) {
    *mask = x->px.proxy_auth;
    snprintf(from, size, "--proxy-auth");
    return;
  }
  *mask = RF_PROXY_AUTH_SAFE;
  snprintf(from, size, "the default; Basic only with --proxy-auth basic or "
                       "any");
}

/* The authentication of the route's proxies when they all agree (1), with
 * the default or --proxy-auth when there is no proxy; 0 when the proxies
 * differ. */
static int auth_summary(const explain_ctx *x, const rf_route_info *in,
                        unsigned *mask, char *from, size_t size)
{
  char other[600];
  unsigned m;
  size_t i;
  int seen = 0;

  for (i = 0; i < in->ncandidates; i++) {
    if (in->candidates[i].type == RF_PROXY_DIRECT)
      continue;
    if (!seen) {
      auth_of(x, in, &in->candidates[i], mask, from, size);
      seen = 1;
      continue;
    }
    auth_of(x, in, &in->candidates[i], &m, other, sizeof(other));
    if (m != *mask || strcmp(other, from) != 0)
      return 0;
  }
  if (!seen) {
    rf_proxy none;
    memset(&none, 0, sizeof(none));
    auth_of(x, in, &none, mask, from, size);
  }
  return 1;
}

static void print_text(const explain_ctx *x, const rf_route_info *in)
{
  size_t i;
  char name[320], auth[80], from[600];
  unsigned mask;
  int same = auth_summary(x, in, &mask, from, sizeof(from));

  if (x->cur != NULL) {
    printf("\nsource:    %s ", rf_source_kind_name(x->cur->kind));
    cli_put_clean(stdout, x->cur->name);
    if (x->cur->kind == RF_SOURCE_CACHE_HOST) {
      char masked[1024];
      rf_url_mask(masked, sizeof(masked), x->cur->url);
      printf("\nasks:      ");
      cli_put_clean(stdout, masked);
    }
    printf("\n");
  } else if (x->nsrc > 0) {
    printf("source:    origin\n");
  }
  printf("URL:       ");
  cli_put_clean(stdout, in->url);
  printf("\ncontext:   %s\n",
         in->context == RF_CONTEXT_SERVICE ? "service" : "user");
  printf("resolvers consulted:%s\n", in->from_cache ? " (cached route)" : "");
  if (in->nsteps == 0)
    printf("  (none)\n");
  for (i = 0; i < in->nsteps; i++) {
    printf("  %zu. %-9s %-15s ", i + 1, in->steps[i].resolver,
           rf_resolve_status_name(in->steps[i].status));
    cli_put_clean(stdout, in->steps[i].detail);
    printf(" [%.3f s]\n", in->steps[i].seconds);
  }
  if (in->error != 0) {
    printf("decision:  no route (%s): ", rf_err_name(in->error));
    cli_put_clean(stdout, in->chosen_by);
    printf("\n");
    return;
  }
  printf("chosen by: ");
  cli_put_clean(stdout, in->chosen_by);
  printf("\ncandidates, in the order they will be tried:\n");
  for (i = 0; i < in->ncandidates; i++) {
    rf_proxy_format(name, sizeof(name), &in->candidates[i]);
    printf("  %zu. %s", i + 1, name);
    if (in->bad_for_s != NULL && in->bad_for_s[i] > 0)
      printf("  (marked bad for %u s more)", in->bad_for_s[i]);
    if (in->candidates[i].type != RF_PROXY_DIRECT) {
      printf("\n     credentials: %s", credentials_of(x, &in->candidates[i]));
      if (!same) {
        auth_of(x, in, &in->candidates[i], &mask, from, sizeof(from));
        rf_proxy_auth_names(auth, sizeof(auth), mask);
        printf("\n     authentication allowed: %s (", auth);
        cli_put_clean(stdout, from);
        printf(")");
      }
    }
    printf("\n");
  }
  if (same) {
    rf_proxy_auth_names(auth, sizeof(auth), mask);
    printf("proxy authentication allowed: %s (", auth);
    cli_put_clean(stdout, from);
    printf(")\n");
  } else {
    printf("proxy authentication allowed: per candidate (above)\n");
  }
  if (in->ncandidates > 0) {
    size_t k;
    int direct = 0;
    for (k = 0; k < in->ncandidates; k++)
      direct |= in->candidates[k].type == RF_PROXY_DIRECT;
    if (!direct)
      printf("no DIRECT in the list: if every proxy fails, the download "
             "fails (never goes direct)\n");
  }
}

static void print_json(const explain_ctx *x, const rf_route_info *in)
{
  size_t i;
  char name[320], auth[80], from[600];
  unsigned mask;
  int same = auth_summary(x, in, &mask, from, sizeof(from));

  printf("{\"source\":\"%s\",\"name\":",
         x->cur != NULL ? rf_source_kind_name(x->cur->kind) : "origin");
  cli_json_string(stdout, x->cur != NULL ? x->cur->name : in->url);
  printf(",\"url\":");
  cli_json_string(stdout, in->url);
  printf(",\"context\":\"%s\",\"cached\":%s,\"error\":",
         in->context == RF_CONTEXT_SERVICE ? "service" : "user",
         in->from_cache ? "true" : "false");
  if (in->error != 0)
    cli_json_string(stdout, rf_err_name(in->error));
  else
    printf("null");
  printf(",\"chosen_by\":");
  cli_json_string(stdout, in->chosen_by);
  printf(",\"steps\":[");
  for (i = 0; i < in->nsteps; i++) {
    printf("%s{\"resolver\":", i ? "," : "");
    cli_json_string(stdout, in->steps[i].resolver);
    printf(",\"status\":\"%s\",\"detail\":",
           rf_resolve_status_name(in->steps[i].status));
    cli_json_string(stdout, in->steps[i].detail);
    printf(",\"seconds\":%.3f}", in->steps[i].seconds);
  }
  printf("],\"candidates\":[");
  for (i = 0; i < in->ncandidates; i++) {
    const rf_proxy *p = &in->candidates[i];
    rf_proxy_format(name, sizeof(name), p);
    printf("%s{\"proxy\":", i ? "," : "");
    cli_json_string(stdout, name);
    printf(",\"type\":\"%s\",\"bad_for_s\":%u,\"credentials\":",
           rf_proxy_type_name(p->type),
           in->bad_for_s != NULL ? in->bad_for_s[i] : 0u);
    cli_json_string(stdout, credentials_of(x, p));
    if (p->type != RF_PROXY_DIRECT) {
      unsigned m;
      char f[600];
      auth_of(x, in, p, &m, f, sizeof(f));
      rf_proxy_auth_names(auth, sizeof(auth), m);
      printf(",\"auth_allowed\":");
      cli_json_string(stdout, auth);
      printf(",\"auth_from\":");
      cli_json_string(stdout, f);
    }
    printf("}");
  }
  printf("],\"auth_allowed\":");
  if (same) {
    rf_proxy_auth_names(auth, sizeof(auth), mask);
    cli_json_string(stdout, auth);
    printf(",\"auth_from\":");
    cli_json_string(stdout, from);
  } else {
    printf("null,\"auth_from\":null");
  }
  printf("}\n");
}

static void on_explained(const rf_route_info *info, void *ud)
{
  explain_ctx *x = ud;

  x->done = 1;
  if (x->json)
    print_json(x, info);
  else
    print_text(x, info);
  x->exit_code = info->error == 0 ? CLI_EXIT_OK : cli_exit_code(info->error);
}

/* Explain the route of url (checked) and wait for the answer. */
static int explain_run(explain_ctx *x, const char *url)
{
  rf_engine_options eo = RF_ENGINE_OPTIONS_INIT;
  rf_engine *e = NULL;
  char err[1024];
  int rc;

  if (x->verbose > 0) {
    eo.log_cb = cli_log_stderr;
    eo.log_level = x->verbose > 1 ? RF_LOG_DEBUG : RF_LOG_INFO;
  }
  rc = rf_engine_new(&e, &eo);
  if (rc != 0) {
    fprintf(stderr, CLI_PROGRAM ": error: cannot start the engine: %s\n",
            rf_strerror(rc));
    return CLI_EXIT_FAILURE;
  }
  rc = cli_proxy_setup(e, &x->px, err, sizeof(err));
  if (rc != 0) {
    fputs(CLI_PROGRAM ": error: ", stderr);
    cli_put_clean(stderr, err);
    fprintf(stderr, " (%s)\n", rf_err_name(rc));
    rf_engine_free(e);
    return rc == RF_ENOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
  }
  {
    size_t k;
    int worst = CLI_EXIT_OK;
    for (k = 0; k <= x->nsrc; k++) {
      const char *u = k == 0 ? url : x->src[k - 1].url;
      x->cur = k == 0 ? NULL : &x->src[k - 1];
      x->done = 0;
      if (x->cur != NULL && x->cur->kind == RF_SOURCE_CACHE_HOST &&
          x->cache_direct) {
        /* Not asked of the resolvers: the policy says direct. */
        if (x->json) {
          printf("{\"source\":\"cache-host\",\"name\":");
          cli_json_string(stdout, x->cur->name);
          printf(",\"url\":");
          cli_json_string(stdout, u);
          printf(",\"chosen_by\":\"the cache host proxy policy: direct\","
                 "\"candidates\":[{\"proxy\":\"DIRECT\",\"type\":"
                 "\"direct\"}]}\n");
        } else {
          printf("\nsource:    cache-host ");
          cli_put_clean(stdout, x->cur->name);
          printf("\nURL:       ");
          cli_put_clean(stdout, u);
          printf("\nchosen by: the cache host proxy policy: direct (the "
                 "resolvers are not asked)\ncandidates, in the order they "
                 "will be tried:\n  1. DIRECT\n");
        }
        continue;
      }
      rc = rf_engine_explain(e, u, on_explained, x);
      if (rc != 0) {
        char masked[1024];
        rf_url_mask(masked, sizeof(masked), u);
        cli_usage_error("proxy explain", "invalid URL '%s': %s", masked,
                        rf_strerror(rc));
        rf_engine_free(e);
        return CLI_EXIT_USAGE;
      }
      rf_engine_run(e);
      if (!x->done) {
        rf_engine_free(e);
        fprintf(stderr, CLI_PROGRAM ": error: no decision was made\n");
        return CLI_EXIT_FAILURE;
      }
      if (x->exit_code != CLI_EXIT_OK)
        worst = x->exit_code;
      fflush(stdout);
    }
    rf_engine_free(e);
    return worst;
  }
}

/* Which cache host rendezvous hashing gives the first pieces of url
 * (rf_cache_host_pick, as get --cache-host-hash does). */
static void explain_hashing(const explain_ctx *x, const char *url)
{
  const char *hosts[EXPLAIN_MAX_SOURCES];
  char safe[1024];
  size_t n = 0, k;
  unsigned i;

  for (k = 0; k < x->nsrc; k++)
    if (x->src[k].kind == RF_SOURCE_CACHE_HOST)
      hosts[n++] = x->src[k].host;
  if (n == 0)
    return;
  snprintf(safe, sizeof(safe), "%s", url); /* (credentials dropped by the
                                              pick, as get does) */
  if (x->json) {
    printf("{\"hashing\":\"rendezvous\",\"pieces\":[");
    for (i = 0; i < 16; i++) {
      int h = rf_cache_host_pick(safe, i, hosts, n, NULL);
      printf("%s", i ? "," : "");
      cli_json_string(stdout, h >= 0 ? hosts[h] : "");
    }
    printf("]}\n");
    return;
  }
  printf("\npieces by rendezvous hashing of (URL, piece index), the same on "
         "every machine that names the hosts the same way:\n");
  for (i = 0; i < 16; i++) {
    int h = rf_cache_host_pick(safe, i, hosts, n, NULL);
    printf("  piece %2u -> %s\n", i, h >= 0 ? hosts[h] : "?");
  }
}

/* The sources' URLs: mirrors and peers as given, each cache host in the
 * Connected Cache form of url.  Returns 0, or an exit status (said). */
static int explain_sources(explain_ctx *x, const char *url)
{
  size_t k, n = x->nsrc;

  for (k = 0; k < x->ncache; k++) {
    rf_cache_host_list *list = NULL;
    char err[600];
    size_t i;
    if (rf_cache_host_list_parse(&list, x->cache_hosts[k], err,
                                 sizeof(err)) != 0) {
      cli_usage_error("proxy explain", "invalid value for --cache-host: %s",
                      err);
      return CLI_EXIT_USAGE;
    }
    for (i = 0; i < list->count && n < EXPLAIN_MAX_SOURCES; i++) {
      char name[300];
      rf_cache_host_format(name, sizeof(name), &list->hosts[i]);
      x->src[n].kind = RF_SOURCE_CACHE_HOST;
      x->src[n].name = x->cache_hosts[k];
      snprintf(x->src[n].host, sizeof(x->src[n].host), "%s", name);
      if (rf_cache_host_url(&x->src[n].owned, url, name, err, sizeof(err)) !=
          0) {
        rf_cache_host_list_free(list);
        cli_usage_error("proxy explain", "--cache-host %s: %s", name, err);
        return CLI_EXIT_USAGE;
      }
      x->src[n].url = x->src[n].owned;
      x->nsrc = ++n;
    }
    rf_cache_host_list_free(list);
  }
  x->nsrc = n;
  return 0;
}

static int explain_main(int argc, char **argv)
{
  explain_ctx x;
  cli_parser p;
  const char *v, *url = NULL;
  char *full = NULL;
  int id, rc;

  memset(&x, 0, sizeof(x));
  cli_parser_init(&p, "proxy explain", argc, argv, explain_options);
  while ((id = cli_parser_next(&p, &v)) != CLI_ARGS_END) {
    switch (id) {
    case CLI_ARGS_ERROR:
      return CLI_EXIT_USAGE;
    case CLI_ARGS_OPERAND:
      if (url != NULL) {
        cli_usage_error("proxy explain", "unexpected argument '%s'", v);
        return CLI_EXIT_USAGE;
      }
      url = v;
      break;
    case OPT_JSON:
      x.json = 1;
      break;
    case OPT_VERBOSE:
      x.verbose++;
      break;
    case OPT_HELP:
      fputs(explain_help, stdout);
      fputs(cli_proxy_help, stdout);
      return CLI_EXIT_OK;
    case OPT_MIRROR:
    case OPT_PEER:
      if (x.nsrc >= EXPLAIN_MAX_SOURCES) {
        cli_usage_error("proxy explain", "too many sources");
        return CLI_EXIT_USAGE;
      }
      x.src[x.nsrc].kind = id == OPT_MIRROR ? RF_SOURCE_MIRROR : RF_SOURCE_PEER;
      x.src[x.nsrc].name = v;
      x.src[x.nsrc].url = v;
      x.nsrc++;
      break;
    case OPT_CACHE_HOST:
      if (x.ncache >= EXPLAIN_MAX_SOURCES) {
        cli_usage_error("proxy explain", "too many sources");
        return CLI_EXIT_USAGE;
      }
      x.cache_hosts[x.ncache++] = v;
      break;
    case OPT_CACHE_HOST_HASH:
      x.cache_hash = 1;
      break;
    case OPT_CACHE_HOST_PROXY:
      if (strcmp(v, "auto") != 0 && strcmp(v, "direct") != 0) {
        cli_usage_error("proxy explain",
                        "invalid value '%s' for %s: expected auto or direct",
                        v, cli_parser_spelled(&p));
        return CLI_EXIT_USAGE;
      }
      x.cache_direct = strcmp(v, "direct") == 0;
      break;
    default:
      rc = cli_proxy_option(&x.px, id, v, cli_parser_spelled(&p),
                            "proxy explain");
      if (rc <= 0)
        return CLI_EXIT_USAGE;
      break;
    }
  }
  if (url == NULL) {
    cli_usage_error("proxy explain", "missing URL");
    return CLI_EXIT_USAGE;
  }
  if (cli_proxy_check(&x.px, "proxy explain") != 0)
    return CLI_EXIT_USAGE;
  rc = cli_url_prepare("proxy explain", url, x.verbose, &full);
  if (rc != 0)
    return rc;
  rc = explain_sources(&x, full);
  if (rc == 0)
    rc = explain_run(&x, full); /* http:// added when url had no scheme */
  if (rc == 0 && x.cache_hash)
    explain_hashing(&x, full);
  free(full);
  {
    size_t k;
    for (k = 0; k < x.nsrc; k++)
      free(x.src[k].owned);
  }
  return rc;
}

int cli_proxy_main(int argc, char **argv)
{
  if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    if (argc < 2) {
      cli_usage_error("proxy", "missing subcommand (explain)");
      return CLI_EXIT_USAGE;
    }
    fputs(explain_help, stdout);
    fputs(cli_proxy_help, stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(argv[1], "explain") == 0)
    return explain_main(argc - 1, argv + 1);
  cli_usage_error("proxy", "unknown subcommand '%s' (expected explain)",
                  argv[1]);
  return CLI_EXIT_USAGE;
}
