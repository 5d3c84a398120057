/*
 * A custom proxy resolver: routes by host name from a small rule table,
 * answering asynchronously (as a resolver that asks a directory service
 * would), honouring cancellation, and printing the feedback the engine
 * gives about the proxies it tried.
 *
 *   example_resolver URL OUTPUT RULE...
 *
 * RULE is "HOST-SUFFIX=CANDIDATE[,CANDIDATE...]", a candidate being a proxy
 * URL ("http://proxy:3128", "socks5h://...") or "direct"; the first rule
 * whose suffix ends the URL's host wins ("*" matches every host).  Hosts
 * no rule matches get "no opinion", and the engine goes direct.
 *
 *   example_resolver http://127.0.0.1:8080/f.iso f.iso \
 *       '127.0.0.1=http://127.0.0.1:9,direct'
 *
 * tries the (dead) proxy on port 9 first, marks it bad, and falls over to
 * a direct connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rangefetch.h>
#include <uv.h>

#define MAX_RULES 16
#define MAX_CANDIDATES 8

typedef struct rule {
  const char *suffix;
  char *list; /* the candidates, comma-separated */
} rule;

/* The resolver's state: its rules and the one request it may have in
 * flight per timer (a real resolver would keep a list). */
typedef struct table_resolver {
  uv_loop_t *loop;
  rule rules[MAX_RULES];
  int nrules;
  uv_timer_t timer;
  rf_resolve_req *pending;
  char host[256];
} table_resolver;

static int ends_with(const char *host, const char *suffix)
{
  size_t h = strlen(host), s = strlen(suffix);

  if (strcmp(suffix, "*") == 0)
    return 1;
  return h >= s && strcmp(host + h - s, suffix) == 0 &&
         (h == s || host[h - s - 1] == '.');
}

/* The "lookup" is done: answer from the table. */
static void on_lookup_done(uv_timer_t *t)
{
  table_resolver *r = t->data;
  rf_resolve_req *req = r->pending;
  rf_proxy cands[MAX_CANDIDATES];
  char bufs[MAX_CANDIDATES][512], list[1024], detail[300];
  char *save = NULL, *tok;
  size_t n = 0;
  int i;

  r->pending = NULL;
  for (i = 0; i < r->nrules; i++)
    if (ends_with(r->host, r->rules[i].suffix))
      break;
  if (i == r->nrules) {
    rf_resolve_answer(req, RF_RESOLVE_PASS, NULL, 0, "no rule for this host");
    return;
  }
  snprintf(list, sizeof(list), "%s", r->rules[i].list);
  for (tok = strtok_r(list, ",", &save); tok != NULL && n < MAX_CANDIDATES;
       tok = strtok_r(NULL, ",", &save)) {
    if (rf_proxy_parse(&cands[n], bufs[n], sizeof(bufs[n]), tok) != 0) {
      snprintf(detail, sizeof(detail), "rule '%s': bad candidate",
               r->rules[i].suffix);
      rf_resolve_answer(req, RF_RESOLVE_ERROR, NULL, 0, detail);
      return;
    }
    n++;
  }
  snprintf(detail, sizeof(detail), "rule '%s'", r->rules[i].suffix);
  rf_resolve_answer(req, RF_RESOLVE_OK, cands, n, detail);
}

static void table_resolve(void *self, rf_resolve_req *req,
                          const rf_resolve_info *info)
{
  table_resolver *r = self;

  if (r->pending != NULL) { /* one at a time in this small example */
    rf_resolve_answer(req, RF_RESOLVE_PASS, NULL, 0, "busy");
    return;
  }
  r->pending = req;
  snprintf(r->host, sizeof(r->host), "%s", info->host);
  /* Stand-in for an asynchronous query (a directory service, a file
   * read on the thread pool...): 50 ms later, on the loop. */
  uv_timer_start(&r->timer, on_lookup_done, 50, 0);
}

static void table_cancel(void *self, rf_resolve_req *req)
{
  table_resolver *r = self;

  if (r->pending == req) {
    uv_timer_stop(&r->timer);
    r->pending = NULL;
  }
}

static void table_feedback(void *self, const rf_proxy *proxy,
                           rf_proxy_outcome outcome, const char *detail)
{
  static const char *names[] = { "worked", "dead", "authentication failed",
                                 "refused" };
  char shown[300];

  (void)self;
  rf_proxy_format(shown, sizeof(shown), proxy);
  fprintf(stderr, "resolver feedback: %s %s%s%s\n", shown, names[outcome],
          detail != NULL && detail[0] ? ": " : "", detail != NULL ? detail : "");
}

static void table_destroy(void *self)
{
  table_resolver *r = self;

  /* The engine is going away; the timer is the program's to close. */
  uv_close((uv_handle_t *)&r->timer, NULL);
}

static const rf_resolver_ops table_ops = {
  "table", table_resolve, table_cancel, table_feedback, table_destroy
};

static int exit_code = 1;

static void on_done(rf_job *job, const rf_result *r, void *user_data)
{
  (void)job;
  (void)user_data;
  if (r->error == RF_OK) {
    printf("saved %s: %llu bytes, route %s\n", r->path,
           (unsigned long long)r->bytes, r->route);
    exit_code = 0;
  } else {
    fprintf(stderr, "failed: %s (%s)\n", r->message, rf_err_name(r->error));
  }
}

int main(int argc, char **argv)
{
  table_resolver res;
  rf_engine_options eo = RF_ENGINE_OPTIONS_INIT;
  rf_engine *engine = NULL;
  rf_job_options jo;
  uv_loop_t loop;
  int i, rc;

  if (argc < 4) {
    fprintf(stderr, "usage: %s URL OUTPUT HOST-SUFFIX=CANDIDATE,...\n",
            argv[0]);
    return 2;
  }
  uv_loop_init(&loop);
  memset(&res, 0, sizeof(res));
  res.loop = &loop;
  uv_timer_init(&loop, &res.timer);
  res.timer.data = &res;
  for (i = 3; i < argc && res.nrules < MAX_RULES; i++) {
    char *eq = strchr(argv[i], '=');
    if (eq == NULL) {
      fprintf(stderr, "bad rule '%s': expected SUFFIX=CANDIDATES\n", argv[i]);
      return 2;
    }
    *eq = '\0';
    res.rules[res.nrules].suffix = argv[i];
    res.rules[res.nrules].list = eq + 1;
    res.nrules++;
  }

  eo.loop = &loop;
  rc = rf_engine_new(&engine, &eo);
  if (rc == 0)
    rc = rf_engine_add_resolver(engine, &table_ops, &res);
  if (rc != 0) {
    fprintf(stderr, "engine: %s\n", rf_strerror(rc));
    return 1;
  }
  rf_job_options_init(&jo);
  jo.url = argv[1];
  jo.output = argv[2];
  jo.overwrite = 1;
  jo.connect_timeout_ms = 3000;
  jo.on_done = on_done;
  rc = rf_job_add(NULL, engine, &jo);
  if (rc != 0) {
    fprintf(stderr, "cannot start: %s\n", rf_engine_last_error(engine));
    rf_engine_free(engine);
    return 1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  rf_engine_free(engine); /* calls table_destroy */
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return exit_code;
}
