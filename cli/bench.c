/*
 * `rangefetch bench URL`: what a proxy costs.  Downloads (a bounded part
 * of) URL directly and through the proxy the URL would use, alternating
 * the two so that drift in the network or the machine hits both alike,
 * and reports time to first byte, throughput and client CPU per GiB for
 * each, and the proxy's overhead.  Nothing is written to disk.
 */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "cli.h"
#include "args.h"
#include "progress.h"
#include "proxyopts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#define BENCH_MAX_COUNTS 8
#define BENCH_MAX_ROUNDS 20

static const char bench_help[] =
    "Usage: " CLI_PROGRAM " bench URL [OPTIONS]\n"
    "\n"
    "Measure what the proxy costs: download URL directly and through the\n"
    "proxy it would use (as " CLI_PROGRAM " get would choose it, or as the\n"
    "proxy options say), alternating the two, and print time to first byte,\n"
    "throughput and client CPU per GiB of each, and the ratio.  Nothing is\n"
    "written to disk.\n"
    "\n"
    "Options:\n"
    "  -c, --connections LIST   connection counts to measure, e.g. 1,4,8,16\n"
    "                           (default 8)\n"
    "      --bytes SIZE         stop each measurement after SIZE bytes\n"
    "                           (default 256M; the file's end stops it too)\n"
    "      --duration SEC       stop each measurement after SEC seconds\n"
    "                           (default 20)\n"
    "      --rounds N           measurements per route and count, 1-20\n"
    "                           (default 3; the median is reported)\n"
    "      --cacert FILE        also trust the CA certificates in FILE\n"
    "      --json               one JSON object on stdout\n"
    "  -v, --verbose            log what the engine does\n"
    "  -h, --help               show this help and exit\n"
    "\n";

enum {
  OPT_CONNECTIONS = 1,
  OPT_BYTES,
  OPT_DURATION,
  OPT_ROUNDS,
  OPT_CACERT,
  OPT_JSON,
  OPT_VERBOSE,
  OPT_HELP
};

static const cli_option bench_options[] = {
  { "connections", 'c', 1, OPT_CONNECTIONS },
  { "bytes", 0, 1, OPT_BYTES },
  { "duration", 0, 1, OPT_DURATION },
  { "rounds", 0, 1, OPT_ROUNDS },
  { "cacert", 0, 1, OPT_CACERT },
  { "json", 0, 0, OPT_JSON },
  { "verbose", 'v', 0, OPT_VERBOSE },
  { "help", 'h', 0, OPT_HELP },
  CLI_PROXY_OPTION_ENTRIES,
  { NULL, 0, 0, 0 },
};

typedef struct bench_args {
  const char *url;
  char *url_owned; /* url with http:// added when it had none */
  cli_proxy_args px;
  unsigned counts[BENCH_MAX_COUNTS];
  unsigned ncounts;
  uint64_t bytes;
  unsigned duration_ms;
  unsigned rounds;
  const char *cacert;
  int json;
  int verbose;
} bench_args;

/* One measurement. */
typedef struct sample {
  int ok;           /* 1: bytes were measured */
  int error;        /* the job's error (0, or why it stopped early) */
  char message[600];
  uint64_t bytes;
  double seconds;
  double ttfb;      /* -1: no byte */
  double cpu;       /* user + system seconds of this process */
  int single;       /* the server did not do ranges */
  char route[600];
} sample;

/* The samples of one route at one connection count. */
typedef struct cell {
  sample s[BENCH_MAX_ROUNDS];
  unsigned n;
} cell;

typedef struct run_ctx {
  const bench_args *a;
  uv_loop_t *loop;
  rf_job *job;
  sample *out;
  int done;
  uint64_t received;
  uint64_t start_ns;
  int single;
} run_ctx;

static double cpu_now(void)
{
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void on_progress(rf_job *job, const rf_progress *p, void *ud)
{
  run_ctx *r = ud;
  uint64_t elapsed_ms = (uv_hrtime() - r->start_ns) / 1000000u;

  r->received = p->received;
  r->single |= p->single_stream;
  if (!r->done && (p->received >= r->a->bytes ||
                   elapsed_ms >= r->a->duration_ms))
    rf_job_cancel(job); /* enough: the measurement ends here */
}

static void on_done(rf_job *job, const rf_result *res, void *ud)
{
  run_ctx *r = ud;
  sample *s = r->out;

  (void)job;
  r->done = 1;
  s->bytes = res->error == RF_OK ? res->bytes : r->received;
  s->ttfb = res->first_byte_seconds;
  s->single = r->single;
  /* Cancelled by us when the budget was reached: a good measurement. */
  s->error = res->error == RF_ECANCELED ? 0 : res->error;
  s->ok = s->bytes > 0 && s->error == 0;
  snprintf(s->message, sizeof(s->message), "%s",
           res->message != NULL ? res->message : "");
  snprintf(s->route, sizeof(s->route), "%s",
           res->route != NULL ? res->route : "");
  r->job = NULL;
}

/* One download of a->url on a fresh engine (no connection reused from a
 * former measurement); proxied: through the proxy chain, else direct. */
static int measure(const bench_args *a, unsigned conns, int proxied,
                   sample *s)
{
  rf_engine_options eo = RF_ENGINE_OPTIONS_INIT;
  rf_engine *e = NULL;
  rf_job_options jo;
  run_ctx r;
  uv_loop_t loop;
  char err[1024];
  double cpu0;
  uint64_t t0;
  int rc;

  memset(s, 0, sizeof(*s));
  memset(&r, 0, sizeof(r));
  s->ttfb = -1;
  if (uv_loop_init(&loop) != 0)
    return RF_EIO;
  eo.loop = &loop;
  if (a->verbose) {
    eo.log_cb = cli_log_stderr;
    eo.log_level = RF_LOG_INFO;
  }
  rc = rf_engine_new(&e, &eo);
  if (rc == 0 && proxied)
    rc = cli_proxy_setup(e, &a->px, err, sizeof(err));
  if (rc != 0) {
    snprintf(s->message, sizeof(s->message), "%s", rf_strerror(rc));
    s->error = rc;
    goto out;
  }
  rf_job_options_init(&jo);
  jo.url = a->url;
  jo.discard = 1;
  jo.connections = conns;
  jo.proxy = proxied ? NULL : "";
  jo.proxy_user = a->px.proxy_user;
  jo.proxy_auth = a->px.proxy_auth;
  jo.proxy_ca_file = a->px.proxy_cacert;
  jo.ca_file = a->cacert;
  jo.max_tries = 3;
  jo.progress_interval_ms = 50;
  jo.on_progress = on_progress;
  jo.on_done = on_done;
  jo.user_data = &r;
  r.a = a;
  r.out = s;
  r.loop = &loop;
  cpu0 = cpu_now();
  t0 = uv_hrtime();
  r.start_ns = t0;
  rc = rf_job_add(&r.job, e, &jo);
  if (rc != 0) {
    snprintf(s->message, sizeof(s->message), "%s",
             rf_engine_last_error(e));
    s->error = rc;
    goto out;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  s->seconds = (double)(uv_hrtime() - t0) / 1e9;
  s->cpu = cpu_now() - cpu0;
out:
  rf_engine_free(e);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}

/* ------------------------------------------------------------- figures */

static int cmp_double(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;

  return a < b ? -1 : a > b;
}

typedef struct summary {
  unsigned ok;          /* good samples */
  double mibps, lo, hi; /* median, min, max throughput (MiB/s) */
  double ttfb_ms;       /* median */
  double cpu_per_gib;   /* median */
  const sample *failed; /* the last failure, if any */
  int single;
} summary;

static double median(double *v, unsigned n)
{
  qsort(v, n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static summary summarize(const cell *c)
{
  double t[BENCH_MAX_ROUNDS], f[BENCH_MAX_ROUNDS], u[BENCH_MAX_ROUNDS];
  summary m;
  unsigned i, k = 0, kf = 0;

  memset(&m, 0, sizeof(m));
  for (i = 0; i < c->n; i++) {
    const sample *s = &c->s[i];
    if (!s->ok) {
      m.failed = s;
      continue;
    }
    t[k] = (double)s->bytes / (1024.0 * 1024.0) / s->seconds;
    u[k] = s->cpu / ((double)s->bytes / (1024.0 * 1024.0 * 1024.0));
    if (s->ttfb >= 0)
      f[kf++] = s->ttfb * 1000.0;
    m.single |= s->single;
    k++;
  }
  m.ok = k;
  if (k == 0)
    return m;
  m.lo = m.hi = t[0];
  for (i = 1; i < k; i++) {
    m.lo = t[i] < m.lo ? t[i] : m.lo;
    m.hi = t[i] > m.hi ? t[i] : m.hi;
  }
  m.mibps = median(t, k);
  m.cpu_per_gib = median(u, k);
  m.ttfb_ms = kf > 0 ? median(f, kf) : -1;
  return m;
}

static void print_row(unsigned conns, const char *route, const summary *m)
{
  printf("%5u  %-7s ", conns, route);
  if (m->ok == 0) {
    printf("failed: ");
    cli_put_clean(stdout, m->failed != NULL && m->failed->message[0]
                          ? m->failed->message
                          : "no data");
    printf("\n");
    return;
  }
  {
    char range[48];
    snprintf(range, sizeof(range), "(%.1f-%.1f)", m->lo, m->hi);
    printf("%4u  %8.2f  %9.1f %-18s %9.2f%s\n", m->ok, m->ttfb_ms, m->mibps,
           range, m->cpu_per_gib,
           m->single ? "  (single stream: no ranges)" : "");
  }
  if (m->failed != NULL) {
    printf("                 (%s failed: ", "a run");
    cli_put_clean(stdout, m->failed->message);
    printf(")\n");
  }
}

static void json_summary(unsigned conns, const char *route, const summary *m)
{
  printf("{\"connections\":%u,\"route\":\"%s\",\"runs_ok\":%u", conns, route,
         m->ok);
  if (m->ok > 0)
    printf(",\"mib_per_s\":%.3f,\"mib_per_s_min\":%.3f,\"mib_per_s_max\":"
           "%.3f,\"ttfb_ms\":%.3f,\"cpu_s_per_gib\":%.4f,\"single_stream\":"
           "%s",
           m->mibps, m->lo, m->hi, m->ttfb_ms, m->cpu_per_gib,
           m->single ? "true" : "false");
  if (m->failed != NULL) {
    printf(",\"error\":");
    cli_json_string(stdout, rf_err_name(m->failed->error));
    printf(",\"message\":");
    cli_json_string(stdout, m->failed->message);
  }
  printf("}");
}

/* ------------------------------------------------------------- command */

typedef struct route_probe {
  int done;
  int error;
  int proxied;          /* the first candidate is a proxy */
  char first[320];
  char chosen[1024];
} route_probe;

static void on_explained(const rf_route_info *in, void *ud)
{
  route_probe *p = ud;

  p->done = 1;
  p->error = in->error;
  snprintf(p->chosen, sizeof(p->chosen), "%s", in->chosen_by);
  if (in->error == 0 && in->ncandidates > 0) {
    rf_proxy_format(p->first, sizeof(p->first), &in->candidates[0]);
    p->proxied = in->candidates[0].type != RF_PROXY_DIRECT;
  }
}

static int parse_counts(const char *v, bench_args *a)
{
  char buf[128], *save = NULL, *tok;

  if (strlen(v) >= sizeof(buf))
    return -1;
  strcpy(buf, v);
  a->ncounts = 0;
  for (tok = strtok_r(buf, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    unsigned c;
    if (a->ncounts == BENCH_MAX_COUNTS ||
        cli_parse_uint(tok, 1, RF_MAX_CONNECTIONS, &c) != 0)
      return -1;
    a->counts[a->ncounts++] = c;
  }
  return a->ncounts > 0 ? 0 : -1;
}

static int bench_parse(int argc, char **argv, bench_args *a, int *exit_code)
{
  cli_parser p;
  const char *v;
  int id, r;

  memset(a, 0, sizeof(*a));
  a->counts[0] = 8;
  a->ncounts = 1;
  a->bytes = 256ull << 20;
  a->duration_ms = 20000;
  a->rounds = 3;
  *exit_code = CLI_EXIT_USAGE;
  cli_parser_init(&p, "bench", argc, argv, bench_options);
  while ((id = cli_parser_next(&p, &v)) != CLI_ARGS_END) {
    const char *opt = cli_parser_spelled(&p);
    switch (id) {
    case CLI_ARGS_ERROR:
      return -1;
    case CLI_ARGS_OPERAND:
      if (a->url != NULL) {
        cli_usage_error("bench", "unexpected argument '%s' (one URL only)", v);
        return -1;
      }
      a->url = v;
      break;
    case OPT_CONNECTIONS:
      if (parse_counts(v, a) != 0) {
        cli_usage_error("bench", "invalid value '%s' for %s: expected up to "
                        "%d counts from 1 to %d, comma-separated (1,4,8,16)",
                        v, opt, BENCH_MAX_COUNTS, RF_MAX_CONNECTIONS);
        return -1;
      }
      break;
    case OPT_BYTES:
      if (rf_parse_size(&a->bytes, v) != 0 || a->bytes == 0) {
        cli_usage_error("bench", "invalid value '%s' for %s: expected a "
                        "size such as 64M or 1G", v, opt);
        return -1;
      }
      break;
    case OPT_DURATION:
      if (cli_parse_seconds(v, 3600, &a->duration_ms) != 0) {
        cli_usage_error("bench", "invalid value '%s' for %s: expected "
                        "seconds, more than 0 and at most 3600", v, opt);
        return -1;
      }
      break;
    case OPT_ROUNDS:
      if (cli_parse_uint(v, 1, BENCH_MAX_ROUNDS, &a->rounds) != 0) {
        cli_usage_error("bench", "invalid value '%s' for %s: expected 1 to "
                        "%d", v, opt, BENCH_MAX_ROUNDS);
        return -1;
      }
      break;
    case OPT_CACERT:
      a->cacert = v;
      break;
    case OPT_JSON:
      a->json = 1;
      break;
    case OPT_VERBOSE:
      a->verbose = 1;
      break;
    case OPT_HELP:
      fputs(bench_help, stdout);
      fputs(cli_proxy_help, stdout);
      *exit_code = CLI_EXIT_OK;
      return 1;
    default:
      r = cli_proxy_option(&a->px, id, v, opt, "bench");
      if (r <= 0) {
        if (r == 0)
          cli_usage_error("bench", "internal error: option %d", id);
        return -1;
      }
      break;
    }
  }
  if (a->url == NULL) {
    cli_usage_error("bench", "missing URL");
    return -1;
  }
  if (a->px.no_proxy) {
    cli_usage_error("bench", "--no-proxy leaves nothing to compare: give "
                             "--proxy or --pac, or let the settings decide");
    return -1;
  }
  if (cli_proxy_check(&a->px, "bench") != 0)
    return -1;
  *exit_code = cli_url_prepare("bench", a->url, a->verbose, &a->url_owned);
  if (*exit_code != 0)
    return -1;
  a->url = a->url_owned;
  return 0;
}

/*
 * Ask the engine where a->url would go.  Returns 0, or -1 with the error
 * printed and *exit_code set.
 */
static int bench_probe(const bench_args *a, route_probe *probe, int *exit_code)
{
  rf_engine *e = NULL;
  char err[1024] = "";
  int rc;

  memset(probe, 0, sizeof(*probe));
  rc = rf_engine_new(&e, NULL);
  if (rc == 0)
    rc = cli_proxy_setup(e, &a->px, err, sizeof(err));
  if (rc == 0)
    rc = rf_engine_explain(e, a->url, on_explained, probe);
  if (rc == 0)
    rf_engine_run(e);
  rf_engine_free(e);
  if (rc == 0)
    return 0;
  fputs(CLI_PROGRAM ": error: ", stderr);
  if (rc == RF_EURL)
    fputs("invalid URL: ", stderr);
  cli_put_clean(stderr, err[0] ? err : rf_strerror(rc));
  fprintf(stderr, " (%s)\n", rf_err_name(rc));
  *exit_code =
      rc == RF_EURL || rc == RF_EINVAL ? CLI_EXIT_USAGE : cli_exit_code(rc);
  return -1;
}

/* Alternate: direct, proxy, proxy, direct, ... (ABBA), per count. */
static void bench_measure_all(const bench_args *a, int with_proxy, cell *direct,
                              cell *proxy)
{
  int tty = isatty(STDERR_FILENO);
  unsigned i, k;

  for (k = 0; k < a->ncounts; k++) {
    for (i = 0; i < a->rounds; i++) {
      int order[2] = { 0, 1 };
      unsigned j;
      if (i % 2 == 1) {
        order[0] = 1;
        order[1] = 0;
      }
      for (j = 0; j < 2; j++) {
        int proxied = order[j];
        cell *c = proxied ? &proxy[k] : &direct[k];
        if (proxied && !with_proxy)
          continue;
        if (!a->json && tty)
          fprintf(stderr, "\r%u connections, round %u of %u: %-7s ",
                  a->counts[k], i + 1, a->rounds, proxied ? "proxy" : "direct");
        measure(a, a->counts[k], proxied, &c->s[c->n++]);
      }
    }
  }
  if (!a->json && tty)
    fprintf(stderr, "\r%60s\r", "");
}

/* The report up to the results: the JSON object's fields, or the title
 * and the table head. */
static void bench_print_header(const bench_args *a, const route_probe *probe,
                               int with_proxy)
{
  if (a->json) {
    printf("{\"url\":");
    cli_json_string(stdout, a->url);
    printf(",\"proxy\":");
    if (with_proxy)
      cli_json_string(stdout, probe->first);
    else
      printf("null");
    printf(",\"chosen_by\":");
    cli_json_string(stdout, probe->chosen);
    printf(",\"bytes_limit\":%llu,\"duration_limit_s\":%.3f,\"rounds\":%u,"
           "\"results\":[",
           (unsigned long long)a->bytes, a->duration_ms / 1000.0, a->rounds);
  } else {
    printf("rangefetch bench ");
    cli_put_clean(stdout, a->url);
    printf("\n  proxy: ");
    cli_put_clean(stdout, with_proxy ? probe->first : "(none)");
    printf("\n  chosen by: ");
    cli_put_clean(stdout, probe->chosen);
    printf("\n  each run: up to %llu MiB or %.0f s, %u rounds, direct and "
           "proxy alternating; nothing written to disk\n\n",
           (unsigned long long)(a->bytes >> 20), a->duration_ms / 1000.0,
           a->rounds);
    printf("conns  route   runs   TTFB ms      MiB/s (min-max)          "
           "CPU s/GiB\n");
  }
}

/* One result per count and route.  Returns the exit status: 0, or why a
 * count had no good run. */
static int bench_print_results(const bench_args *a, const summary *sd,
                               const summary *sp, int with_proxy)
{
  int exit_code = CLI_EXIT_OK;
  unsigned k;

  for (k = 0; k < a->ncounts; k++) {
    const summary d = sd[k], p = sp[k];
    if (a->json) {
      printf("%s", k ? "," : "");
      json_summary(a->counts[k], "direct", &d);
      if (with_proxy) {
        printf(",");
        json_summary(a->counts[k], "proxy", &p);
      }
    } else {
      print_row(a->counts[k], "direct", &d);
      if (with_proxy)
        print_row(a->counts[k], "proxy", &p);
    }
    if (d.ok == 0 || (with_proxy && p.ok == 0))
      exit_code = cli_exit_code(d.ok == 0 && d.failed != NULL ? d.failed->error
                                : p.failed != NULL            ? p.failed->error
                                                              : RF_ENETWORK);
  }
  return exit_code;
}

/* The end of the report: proxy / direct throughput per count. */
static void bench_print_overhead(const bench_args *a, const summary *sd,
                                 const summary *sp, int with_proxy)
{
  unsigned k;

  if (a->json) {
    printf("],\"overhead\":[");
    for (k = 0; k < a->ncounts && with_proxy; k++) {
      const summary d = sd[k], p = sp[k];
      printf("%s{\"connections\":%u,\"proxy_over_direct\":", k ? "," : "",
             a->counts[k]);
      if (d.ok && p.ok)
        printf("%.4f}", p.mibps / d.mibps);
      else
        printf("null}");
    }
    printf("]}\n");
  } else if (with_proxy) {
    printf("\nthroughput through the proxy / direct:");
    for (k = 0; k < a->ncounts; k++) {
      const summary d = sd[k], p = sp[k];
      if (d.ok && p.ok)
        printf("  %.2f at %u", p.mibps / d.mibps, a->counts[k]);
      else
        printf("  n/a at %u", a->counts[k]);
    }
    printf("\n");
  }
}

int cli_bench_main(int argc, char **argv)
{
  static cell direct[BENCH_MAX_COUNTS], proxy[BENCH_MAX_COUNTS];
  summary sd[BENCH_MAX_COUNTS], sp[BENCH_MAX_COUNTS];
  bench_args a;
  route_probe probe;
  unsigned k;
  int exit_code, with_proxy;

  if (bench_parse(argc, argv, &a, &exit_code) != 0)
    return exit_code;
  if (bench_probe(&a, &probe, &exit_code) != 0) {
    free(a.url_owned);
    return exit_code;
  }
  with_proxy = probe.done && probe.error == 0 && probe.proxied;
  if (!with_proxy && !a.json) {
    fputs(CLI_PROGRAM ": note: ", stderr);
    cli_put_clean(stderr, probe.error != 0
                              ? "no usable route through a proxy: "
                              : "the route is direct, nothing to compare: ");
    cli_put_clean(stderr, probe.chosen);
    fputs("; measuring direct only\n", stderr);
  }

  bench_measure_all(&a, with_proxy, direct, proxy);
  bench_print_header(&a, &probe, with_proxy);
  for (k = 0; k < a.ncounts; k++) {
    sd[k] = summarize(&direct[k]);
    sp[k] = summarize(&proxy[k]);
  }
  exit_code = bench_print_results(&a, sd, sp, with_proxy);
  bench_print_overhead(&a, sd, sp, with_proxy);
  free(a.url_owned);
  return exit_code;
}
