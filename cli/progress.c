/* Progress bar, JSON events and the result line of `rangefetch get`. */
#ifndef _DEFAULT_SOURCE
#  define _DEFAULT_SOURCE
#endif

#include "progress.h"
#include "cli.h"
#include "textutil.h"

#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#define PROGRESS_MIN_COLS 20

void cli_progress_init(cli_progress *p, cli_progress_mode mode)
{
  memset(p, 0, sizeof(*p));
  p->mode = mode;
}

const char *cli_human_bytes(char *buf, size_t size, double bytes)
{
  static const char *const units[] = {
    "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
  };
  double v = bytes;
  size_t i = 0;

  if (!isfinite(v) || v < 0.0)
    v = 0.0;
  if (v < 1024.0) {
    snprintf(buf, size, "%.0f B", v);
    return buf;
  }
  v /= 1024.0;
  /* Move up while the value would print as 1024.0 or more. */
  while (v >= 1023.95 && i + 1 < sizeof(units) / sizeof(units[0])) {
    v /= 1024.0;
    i++;
  }
  snprintf(buf, size, "%.1f %s", v, units[i]);
  return buf;
}

/* "1:02:03", "2:03" or "--:--". */
static void progress_eta(char *buf, size_t size, const rf_progress *pr)
{
  double secs;
  unsigned long s;

  if (pr->total == RF_SIZE_UNKNOWN || !(pr->rate >= 1.0) ||
      pr->received > pr->total)
    goto unknown;
  secs = ceil((double)(pr->total - pr->received) / pr->rate);
  if (!(secs < 360000.0))
    goto unknown;
  s = (unsigned long)secs;
  if (s >= 3600)
    snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
  else
    snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
  return;
unknown:
  snprintf(buf, size, "--:--");
}

static unsigned progress_columns(void)
{
  struct winsize ws;
  unsigned cols = 80;

  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    cols = ws.ws_col;
  return cols;
}

/*
 * What the bar says when no byte flows: the cause of the retry being
 * waited out, or how long the server has kept us waiting.  "" otherwise.
 */
static void progress_note(char *buf, size_t size, const rf_progress *pr)
{
  double quiet = pr->last_retry_age >= 0.0 && pr->last_retry_age < pr->elapsed
                     ? pr->last_retry_age
                     : pr->elapsed;

  buf[0] = '\0';
  if (pr->waiting > 0 && pr->connections == 0 && pr->last_retry != NULL &&
      pr->last_retry[0] != '\0')
    snprintf(buf, size, "  retrying, %s", pr->last_retry);
  else if (pr->connections > 0 && !(pr->rate >= 1.0) && quiet >= 2.0 &&
           (pr->total == RF_SIZE_UNKNOWN || pr->received == 0))
    snprintf(buf, size, "  waiting for the server (%.0f s)", quiet);
}

/*
 * Build the bar for pr into p->line, at most width - 1 columns.  When the
 * terminal is narrow, drop the bar, then the connections, the ETA and the
 * rate, in that order.
 */
static void progress_format(cli_progress *p, const rf_progress *pr)
{
  char done[32], total[32], rate[32], eta[32];
  char pct[8], parts[4][80], tail[4 * 80 + 8], note[400];
  unsigned cols = progress_columns();
  size_t width, bar, fill, i, n, keep;
  unsigned percent;
  char *o = p->line;

  if (cols < PROGRESS_MIN_COLS)
    cols = PROGRESS_MIN_COLS;
  width = cols - 1; /* never touch the last column: no auto-wrap */
  if (width > sizeof(p->line) - 1)
    width = sizeof(p->line) - 1;
  cli_human_bytes(done, sizeof(done), (double)pr->received);
  cli_human_bytes(rate, sizeof(rate), pr->rate);
  progress_note(note, sizeof(note), pr);

  if (pr->total == RF_SIZE_UNKNOWN) {
    snprintf(o, sizeof(p->line), "%s  %s/s%s", done, rate, note);
    goto out;
  }

  if (pr->received >= pr->total)
    percent = 100;
  else
    percent = (unsigned)((double)pr->received * 100.0 / (double)pr->total);
  if (percent >= 100 && pr->received < pr->total)
    percent = 99;
  cli_human_bytes(total, sizeof(total), (double)pr->total);
  progress_eta(eta, sizeof(eta), pr);
  snprintf(pct, sizeof(pct), "%3u%%", percent);
  snprintf(parts[0], sizeof(parts[0]), " %s/%s", done, total);
  snprintf(parts[1], sizeof(parts[1]), "  %s/s", rate);
  snprintf(parts[2], sizeof(parts[2]), "  ETA %s", eta);
  snprintf(parts[3], sizeof(parts[3]), "  %u conn", pr->connections);
  if (note[0] != '\0') {
    /* Nothing flows: say why instead of a rate of 0 B/s. */
    snprintf(o, sizeof(p->line), "%s%s%s", pct, parts[0], note);
    goto out;
  }

  /* Everything, with a bar of at least 10 columns. */
  snprintf(tail, sizeof(tail), "%s%s%s%s", parts[0], parts[1], parts[2],
           parts[3]);
  n = strlen(pct) + 3 + strlen(tail);
  if (width >= n + 10) {
    bar = width - n;
    if (bar > 50)
      bar = 50;
    fill = (size_t)((double)bar * percent / 100.0);
    i = strlen(pct);
    memcpy(o, pct, i);
    o[i++] = ' ';
    o[i++] = '[';
    for (size_t k = 0; k < bar; k++)
      o[i++] = k < fill ? '=' : k == fill ? '>' : ' ';
    o[i++] = ']';
    snprintf(o + i, sizeof(p->line) - i, "%s", tail);
    goto out;
  }
  /* No bar: as many of the parts as fit. */
  for (keep = 4; keep > 0; keep--) {
    tail[0] = '\0';
    for (i = 0; i < keep; i++)
      strcat(tail, parts[i]);
    if (strlen(pct) + strlen(tail) <= width)
      break;
  }
  snprintf(o, sizeof(p->line), "%s%s", pct, keep > 0 ? tail : "");
out:
  if (strlen(p->line) > width)
    p->line[width] = '\0';
}

static void progress_draw(cli_progress *p)
{
  fprintf(stderr, "\r%s\033[K", p->line);
  fflush(stderr);
  p->shown = 1;
}

static void json_double(FILE *f, double v)
{
  if (!isfinite(v))
    v = 0.0;
  fprintf(f, "%.3f", v);
}

/* ,"bytes_from":{"origin":N,"mirror":N,"cache_host":N,"peer":N} */
static void json_bytes_from(FILE *f, const uint64_t *b)
{
  fprintf(f,
          ",\"bytes_from\":{\"origin\":%llu,\"mirror\":%llu,"
          "\"cache_host\":%llu,\"peer\":%llu}",
          (unsigned long long)b[RF_SOURCE_ORIGIN],
          (unsigned long long)b[RF_SOURCE_MIRROR],
          (unsigned long long)b[RF_SOURCE_CACHE_HOST],
          (unsigned long long)b[RF_SOURCE_PEER]);
}

/* ,"sources":[{...},...]: every source's figures. */
static void json_sources(FILE *f, const rf_source_stats *s, unsigned n)
{
  unsigned k;

  fputs(",\"sources\":[", f);
  for (k = 0; k < n; k++) {
    fprintf(f, "%s{\"id\":%u,\"kind\":", k ? "," : "", s[k].id);
    cli_json_string(f, rf_source_kind_name(s[k].kind));
    fputs(",\"name\":", f);
    cli_json_string(f, s[k].name);
    fputs(",\"state\":", f);
    cli_json_string(f, rf_source_state_name(s[k].state));
    fprintf(f,
            ",\"bytes\":%llu,\"rate\":",
            (unsigned long long)s[k].bytes);
    json_double(f, s[k].rate);
    fprintf(f,
            ",\"connections\":%u,\"requests\":%u,\"errors\":%u,"
            "\"bad_pieces\":%u,\"route\":",
            s[k].connections, s[k].requests, s[k].errors, s[k].bad_pieces);
    cli_json_string(f, s[k].route);
    fputs(",\"why\":", f);
    cli_json_string(f, s[k].why);
    fputc('}', f);
  }
  fputc(']', f);
}

static void progress_json(const rf_progress *pr)
{
  FILE *f = stdout;

  fputs("{\"event\":\"progress\",\"total\":", f);
  if (pr->total == RF_SIZE_UNKNOWN)
    fputs("null", f);
  else
    fprintf(f, "%llu", (unsigned long long)pr->total);
  fprintf(f, ",\"received\":%llu,\"written\":%llu,\"rate\":",
          (unsigned long long)pr->received, (unsigned long long)pr->written);
  json_double(f, pr->rate);
  fprintf(f,
          ",\"connections\":%u,\"pieces_done\":%u,\"pieces_total\":%u,"
          "\"retries\":%u,\"pieces_verified\":%u,\"pieces_failed\":%u,"
          "\"resumed\":%llu,\"elapsed\":",
          pr->connections, pr->pieces_done, pr->pieces_total, pr->retries,
          pr->pieces_verified, pr->pieces_failed,
          (unsigned long long)pr->resumed);
  json_double(f, pr->elapsed);
  fprintf(f, ",\"waiting\":%u,\"last_retry\":", pr->waiting);
  cli_json_string(f, pr->last_retry != NULL && pr->last_retry[0] != '\0'
                         ? pr->last_retry
                         : NULL);
  json_bytes_from(f, pr->bytes_from);
  if (pr->nsources > 1)
    json_sources(f, pr->sources, pr->nsources);
  fputs("}\n", f);
  fflush(f);
}

void cli_progress_update(cli_progress *p, const rf_progress *pr)
{
  uint64_t now = uv_hrtime();
  const uint64_t min_ns = (uint64_t)CLI_PROGRESS_INTERVAL_MS * 1000000u * 3 / 4;

  if (p->mode == CLI_PROGRESS_NONE)
    return;
  if (p->last_ns != 0 && now - p->last_ns < min_ns)
    return;
  p->last_ns = now;
  if (p->mode == CLI_PROGRESS_JSON) {
    progress_json(pr);
    return;
  }
  progress_format(p, pr);
  progress_draw(p);
}

void cli_progress_clear(cli_progress *p)
{
  if (p->mode != CLI_PROGRESS_BAR || !p->shown)
    return;
  fputs("\r\033[K", stderr);
  fflush(stderr);
  p->shown = 0;
}

void cli_progress_restore(cli_progress *p)
{
  if (p->mode != CLI_PROGRESS_BAR || p->shown || p->line[0] == '\0')
    return;
  progress_draw(p);
}

void cli_json_string(FILE *f, const char *s)
{
  const unsigned char *c = (const unsigned char *)s;
  size_t n;

  if (s == NULL) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  while (*c != '\0') {
    switch (*c) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    default:
      if (*c < 0x20 || *c == 0x7f) {
        fprintf(f, "\\u%04x", (unsigned)*c);
        break;
      }
      n = rfx_utf8_len(c, 4); /* stops at the NUL: not a continuation */
      if (n == 0) {
        fputs("\\ufffd", f);
        break;
      }
      fwrite(c, 1, n, f);
      c += n - 1;
      break;
    }
    c++;
  }
  fputc('"', f);
}

void cli_json_start(const char *url, const char *output)
{
  fputs("{\"event\":\"start\",\"url\":", stdout);
  cli_json_string(stdout, url);
  fputs(",\"output\":", stdout);
  cli_json_string(stdout, output);
  fputs("}\n", stdout);
  fflush(stdout);
}

void cli_json_done(const rf_result *r)
{
  FILE *f = stdout;

  fprintf(f, "{\"event\":\"done\",\"ok\":%s,\"error\":",
          r->error == RF_OK ? "true" : "false");
  if (r->error == RF_OK)
    fputs("null", f);
  else
    cli_json_string(f, rf_err_name(r->error));
  fputs(",\"message\":", f);
  cli_json_string(f, r->message != NULL ? r->message : "");
  fputs(",\"path\":", f);
  cli_json_string(f, r->path);
  fputs(",\"route\":", f);
  cli_json_string(f, r->route != NULL ? r->route : "");
  fprintf(f, ",\"bytes\":%llu,\"seconds\":", (unsigned long long)r->bytes);
  json_double(f, r->seconds);
  fprintf(f,
          ",\"http_status\":%ld,\"tries\":%u,\"retries\":%u,"
          "\"connections\":%u,\"connections_opened\":%u,"
          "\"pieces_verified\":%u,\"pieces_failed\":%u,"
          "\"resumed\":%llu",
          r->http_status, r->tries, r->retries, r->connections_max,
          r->connections_opened, r->pieces_verified, r->pieces_failed,
          (unsigned long long)r->resumed);
  json_bytes_from(f, r->bytes_from);
  json_sources(f, r->sources, r->nsources);
  fputs("}\n", f);
  fflush(f);
}

void cli_print_saved(FILE *f, const rf_result *r)
{
  char size[32], rate[32], kept[32];
  double secs = r->seconds > 0.0 ? r->seconds : 0.0;
  /* The rate counts what this run fetched, not what a former run left. */
  uint64_t fetched = r->bytes > r->resumed ? r->bytes - r->resumed : 0;

  cli_human_bytes(size, sizeof(size), (double)r->bytes);
  cli_human_bytes(rate, sizeof(rate),
                  secs > 0.0 ? (double)fetched / secs : 0.0);
  cli_human_bytes(kept, sizeof(kept), (double)r->resumed);
  fprintf(f, "saved '%s' %s in %.2f s (", r->path != NULL ? r->path : "", size,
          secs);
  if (r->resumed > 0 && fetched == 0) {
    /* A former run fetched it all and was stopped before the rename. */
    fprintf(f, "nothing left to fetch: all of it was on disk from an earlier "
               "run and checked again");
  } else {
    fprintf(f, "%s/s, %u connection%s, %u retr%s", rate, r->connections_max,
            r->connections_max == 1 ? "" : "s", r->retries,
            r->retries == 1 ? "y" : "ies");
    if (r->pieces_verified > 0)
      fprintf(f, ", %u piece%s verified", r->pieces_verified,
              r->pieces_verified == 1 ? "" : "s");
    if (r->pieces_failed > 0)
      fprintf(f, ", %u bad piece%s fetched again", r->pieces_failed,
              r->pieces_failed == 1 ? "" : "s");
    if (r->resumed > 0)
      fprintf(f, ", %s resumed", kept);
  }
  if (r->route != NULL && strncmp(r->route, "via proxy ", 10) == 0) {
    const char *p = r->route + 10;
    fprintf(f, ", via %.*s", (int)strcspn(p, " "), p);
  }
  if (r->nsources > 1) {
    /* Delivery Optimization's figures: from HTTP (origin and mirrors),
     * from cache hosts, from peers. */
    static const char *const what[RF_SOURCE_KINDS] = { "origin", "mirrors",
                                                       "cache hosts", "peers" };
    const char *sep = "; from ";
    int k;
    for (k = 0; k < RF_SOURCE_KINDS; k++) {
      char b[32];
      if (r->bytes_from[k] == 0)
        continue;
      cli_human_bytes(b, sizeof(b), (double)r->bytes_from[k]);
      fprintf(f, "%s%s %s", sep, what[k], b);
      sep = ", ";
    }
  }
  fprintf(f, ")\n");
  fflush(f);
}

void cli_put_clean(FILE *f, const char *s)
{
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
  }
}

void cli_log_stderr(rf_log_level level, const char *module, const char *msg,
                    void *user_data)
{
  (void)level;
  (void)user_data;
  fprintf(stderr, CLI_PROGRAM ": [%s] ", module != NULL ? module : "?");
  cli_put_clean(stderr, msg != NULL ? msg : "");
  fputc('\n', stderr);
}
