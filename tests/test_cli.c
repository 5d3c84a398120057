/*
 * The rangefetch command line end to end: the built binary (RF_TEST_BIN)
 * run against the in-process range server, its messages and exit statuses
 * checked as a user sees them.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>
#include <time.h>

#include "rangefetch/rangefetch.h"
#include "support/clipath.h"
#include "support/faults.h"
#include "support/speed.h"
#include "support/testserver.h"
#include "support/textfile.h"
#include "support/tmpdir.h"

static ts_server *srv;
static char dir[256];
/* What the last run_cli printed. */
static char out_text[16384], err_text[16384];

static void setup(void)
{
  signal(SIGPIPE, SIG_IGN);
  srv = ts_start(NULL);
  cr_assert_not_null(srv, "test server did not start");
  tmpdir_make(dir, sizeof(dir), "cli");
}

static void teardown(void)
{
  ts_stop(srv);
  tmpdir_remove(dir);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

static void path_in(char *buf, size_t size, const char *name)
{
  snprintf(buf, size, "%s/%s", dir, name);
}

/* Run `rangefetch ARGS` (ARGS as a shell would split them) with stdin
 * from /dev/null; stdout and stderr land in out_text and err_text.
 * Returns the exit status. */
static int run_cli(const char *fmt, ...)
{
  char args[4096], cmd[8192], o[512], e[512];
  va_list ap;
  int st, n;

  va_start(ap, fmt);
  n = vsnprintf(args, sizeof(args), fmt, ap);
  va_end(ap);
  cr_assert(n > 0 && (size_t)n < sizeof(args));
  path_in(o, sizeof(o), "cli.stdout");
  path_in(e, sizeof(e), "cli.stderr");
  n = snprintf(cmd, sizeof(cmd), "'%s' %s </dev/null >'%s' 2>'%s'",
               clipath(), args, o, e);
  cr_assert(n > 0 && (size_t)n < sizeof(cmd));
  st = system(cmd);
  cr_assert(WIFEXITED(st), "%s: status %d", cmd, st);
  tf_read(o, out_text, sizeof(out_text));
  tf_read(e, err_text, sizeof(err_text));
  return WEXITSTATUS(st);
}

/* ------------------------------------------------- resume and restarts */

typedef struct cancel_ctx {
  uint64_t at;
  int error;
} cancel_ctx;

static void cancel_progress(rf_job *job, const rf_progress *p, void *ud)
{
  cancel_ctx *c = ud;

  if (p->total != RF_SIZE_UNKNOWN && p->received >= c->at)
    rf_job_cancel(job);
}

static void cancel_done(rf_job *job, const rf_result *r, void *ud)
{
  cancel_ctx *c = ud;

  (void)job;
  c->error = r->error;
}

/* A run cancelled after `at` bytes: leaves OUT.part and its journal. */
static void partial_run(const char *url, const char *out, uint64_t at)
{
  rf_engine *e = NULL;
  rf_job_options o;
  cancel_ctx c = { at, 0 };

  rf_job_options_init(&o);
  o.url = url;
  o.output = out;
  o.piece_size = 65536;
  o.connections = 4;
  o.progress_interval_ms = 5;
  o.on_progress = cancel_progress;
  o.on_done = cancel_done;
  o.user_data = &c;
  cr_assert_eq(rf_engine_new(&e, NULL), 0);
  cr_assert_eq(rf_job_add(NULL, e, &o), 0);
  rf_engine_run(e);
  rf_engine_free(e);
  cr_assert_eq(c.error, RF_ECANCELED, "%s", rf_err_name(c.error));
}

/* Without -v, a .part that is started over says why on stderr. */
Test(cli, changed_remote_file_says_why_it_starts_over)
{
  char src[512], out[512], part[600], *url;
  struct stat sb;
  int rc;

  snprintf(src, sizeof(src), "%s/changing.bin", ts_root(srv));
  cr_assert_eq(ts_write_gen_file(src, 2000000, 31), 0);
  url = ts_url(srv, "/changing.bin?rate=4000000");
  path_in(out, sizeof(out), "changing.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  partial_run(url, out, 1000000);
  cr_assert_eq(stat(part, &sb), 0, "no .part after the first run");
  /* The file changes on the server (new content, new mtime and ETag). */
  sleep(1);
  cr_assert_eq(ts_write_gen_file(src, 2000000, 32), 0);
  rc = run_cli("get --no-proxy '%s' -o '%s'", url, out);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(ts_file_matches_gen(out, 2000000, 32));
  cr_assert(strstr(err_text, "the remote file changed since the last run") !=
                NULL,
            "stderr: %s", err_text);
  cr_assert(strstr(err_text, "starting over") != NULL, "stderr: %s",
            err_text);
  cr_assert_not_null(strstr(out_text, "saved '"), "stdout: %s", out_text);
  free(url);
}

Test(cli, unusable_journal_says_why_it_starts_over_and_quiet_does_not)
{
  char out[512], journal[640];
  char *url = ts_url(srv, "/gen/1500000?seed=5&rate=3000000");
  int rc;

  path_in(out, sizeof(out), "journal.bin");
  snprintf(journal, sizeof(journal), "%s.part.rfj", out);
  partial_run(url, out, 700000);
  cr_assert_eq(truncate(journal, 10), 0);
  rc = run_cli("get --no-proxy -q '%s' -o '%s'", url, out);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert_str_eq(err_text, "", "-q printed: %s", err_text);
  cr_assert(ts_file_matches_gen(out, 1500000, 5));

  unlink(out);
  partial_run(url, out, 700000);
  cr_assert_eq(truncate(journal, 10), 0);
  rc = run_cli("get --no-proxy '%s' -o '%s'", url, out);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(strstr(err_text, "is unusable") != NULL, "stderr: %s", err_text);
  cr_assert(strstr(err_text, "starting over") != NULL, "stderr: %s",
            err_text);
  cr_assert(ts_file_matches_gen(out, 1500000, 5));
  free(url);
}

/* ------------------------------------------------------- output paths */

/* A directory where the file should go: refused before anything is
 * fetched, with or without --force; `-o DIR/` and `-o DIR` still mean
 * "into DIR". */
Test(cli, output_that_is_a_directory_is_refused_before_downloading)
{
  char into[512], blocker[600], part[700], *url;
  uint64_t before;
  int rc;

  url = ts_url(srv, "/gen/300000?seed=7");
  path_in(into, sizeof(into), "into");
  cr_assert_eq(mkdir(into, 0755), 0);
  snprintf(blocker, sizeof(blocker), "%s/300000", into);
  cr_assert_eq(mkdir(blocker, 0755), 0);

  before = ts_body_bytes(srv);
  rc = run_cli("get --no-proxy '%s' -o '%s/'", url, into);
  cr_assert_eq(rc, 4, "exit %d: %s", rc, err_text);
  cr_assert(strstr(err_text, "300000 is a directory") != NULL, "stderr: %s",
            err_text);
  rc = run_cli("get --no-proxy -f '%s' -o '%s'", url, into);
  cr_assert_eq(rc, 4, "exit %d: %s", rc, err_text);
  cr_assert(strstr(err_text, "300000 is a directory") != NULL, "stderr: %s",
            err_text);
  cr_assert_eq(ts_body_bytes(srv), before, "downloaded before refusing");
  snprintf(part, sizeof(part), "%s.part", blocker);
  cr_assert_eq(access(part, F_OK), -1, "%s was created", part);

  /* OUTPUT.part a directory. */
  cr_assert_eq(rmdir(blocker), 0);
  cr_assert_eq(mkdir(part, 0755), 0);
  rc = run_cli("get --no-proxy -f '%s' -o '%s'", url, blocker);
  cr_assert_eq(rc, 4, "exit %d: %s", rc, err_text);
  cr_assert(strstr(err_text, "300000.part is a directory") != NULL,
            "stderr: %s", err_text);
  cr_assert_eq(ts_body_bytes(srv), before, "downloaded before refusing");
  cr_assert_eq(rmdir(part), 0);

  /* An existing directory as -o, with or without the slash: into it. */
  rc = run_cli("get --no-proxy '%s' -o '%s/'", url, into);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(ts_file_matches_gen(blocker, 300000, 7));
  cr_assert_eq(unlink(blocker), 0);
  rc = run_cli("get --no-proxy '%s' -o '%s'", url, into);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(ts_file_matches_gen(blocker, 300000, 7));
  free(url);
}

/* ------------------------------------------------ URLs and usage errors */

/* Each mistake in the URL gets its own message and exit status 2, before
 * any connection (no server needed). */
Test(cli, url_mistakes_are_named)
{
  static const struct {
    const char *args, *want;
  } cases[] = {
    { "get http://127.0.0.1:99999/x",
      "rangefetch get: invalid URL 'http://127.0.0.1:99999/x': port 99999 "
      "is out of range (1-65535)" },
    { "get http://127.0.0.1:0/x", "port 0 is out of range (1-65535)" },
    { "get http://127.0.0.1:8a/x",
      "the port '8a' is not a number from 1 to 65535" },
    { "get ftp://example.org/x",
      "rangefetch get: unsupported URL scheme 'ftp': rangefetch downloads "
      "http:// and https:// URLs" },
    { "get http:///x", "invalid URL 'http:///x': no host name" },
    { "get 'http://[::1/x'", "'[' without ']' around the IPv6 address" },
    { "get 'http://u:secret@h.test:70000/x'",
      "invalid URL 'http://u:***@h.test:70000/x': port 70000 is out of "
      "range" },
    { "proxy explain ftp://example.org/x",
      "rangefetch proxy explain: unsupported URL scheme 'ftp'" },
    { "bench --proxy http://127.0.0.1:1 example.org:99999/x",
      "rangefetch bench: invalid URL 'example.org:99999/x': port 99999 is "
      "out of range (1-65535)" },
    { "get --no-verify --manifest x.rfm http://127.0.0.1:1/x",
      "rangefetch get: --no-verify and --manifest cannot be used together" },
  };
  size_t k;
  int rc;

  for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    rc = run_cli("%s", cases[k].args);
    cr_assert_eq(rc, 2, "%s: exit %d: %s", cases[k].args, rc, err_text);
    cr_assert(strstr(err_text, cases[k].want) != NULL, "%s: %s",
              cases[k].args, err_text);
    cr_assert_null(strstr(err_text, "secret"), "%s", err_text);
  }
}

/* A URL without a scheme is taken as http://, as curl does (said with
 * -v). */
Test(cli, url_without_scheme_means_http)
{
  char out[512], *url = ts_url(srv, "/gen/100000?seed=3");
  const char *bare = url + strlen("http://");
  int rc;

  path_in(out, sizeof(out), "bare.bin");
  rc = run_cli("get --no-proxy -v '%s' -o '%s'", bare, out);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(ts_file_matches_gen(out, 100000, 3));
  cr_assert(strstr(err_text, "no scheme in '") != NULL, "%s", err_text);
  cr_assert(strstr(err_text, url) != NULL, "%s", err_text);
  rc = run_cli("proxy explain --no-proxy '%s'", bare);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  snprintf(out, sizeof(out), "http://127.0.0.1:%u/", (unsigned)ts_port(srv));
  cr_assert(strstr(out_text, out) != NULL, "%s", out_text);
  free(url);
}

/* ------------------------------------------------------- proxy explain */

/* The authentication explained is the one get would allow: a settings
 * file's proxy_auth (which --proxy-auth does not override), else
 * --proxy-auth, else the default; each says where it comes from. */
Test(cli, proxy_explain_shows_the_effective_auth_and_its_source)
{
  char home[512], sys[512], conf[600];
  int rc;

  path_in(home, sizeof(home), "home");
  path_in(sys, sizeof(sys), "sys");
  cr_assert_eq(mkdir(home, 0700), 0);
  cr_assert_eq(mkdir(sys, 0700), 0);
  snprintf(conf, sizeof(conf), "%s/rangefetch", home);
  cr_assert_eq(mkdir(conf, 0700), 0);
  strcat(conf, "/proxy.conf");
  tf_write(conf, "proxy = http://127.0.0.1:1\n"
                 "proxy_user = alice:secret\n"
                 "proxy_auth = basic\n");
  setenv("XDG_CONFIG_HOME", home, 1);
  setenv("RANGEFETCH_SYSCONFDIR", sys, 1);

  rc = run_cli("proxy explain http://example.test/x");
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(strstr(out_text, "proxy authentication allowed: Basic "
                             "(proxy_auth = basic in the user scope (") !=
                NULL,
            "%s", out_text);
  cr_assert(strstr(out_text, conf) != NULL, "%s", out_text);
  cr_assert_null(strstr(out_text, "Basic only with"), "%s", out_text);
  cr_assert_null(strstr(out_text, "secret"), "%s", out_text);

  rc = run_cli("proxy explain --json --proxy-auth ntlm http://example.test/x");
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(strstr(out_text, "\"auth_allowed\":\"Basic\",\"auth_from\":"
                             "\"proxy_auth = basic in the user scope (") !=
                NULL,
            "%s", out_text);
  cr_assert(strstr(out_text, "--proxy-auth applies only to proxies no "
                             "settings file chose") != NULL,
            "%s", out_text);

  /* Without proxy_auth in the file: its default, safe. */
  tf_write(conf, "proxy = http://127.0.0.1:1\n");
  rc = run_cli("proxy explain --proxy-auth basic http://example.test/x");
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(strstr(out_text, "proxy authentication allowed: Digest, NTLM, "
                             "Negotiate (proxy_auth = safe in the user "
                             "scope (") != NULL,
            "%s", out_text);

  /* No settings file: --proxy-auth decides, else the default. */
  rc = run_cli("proxy explain --no-proxy-config --proxy http://127.0.0.1:1 "
               "--proxy-auth basic http://example.test/x");
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(strstr(out_text, "proxy authentication allowed: Basic "
                             "(--proxy-auth)") != NULL,
            "%s", out_text);
  rc = run_cli("proxy explain --no-proxy-config --proxy http://127.0.0.1:1 "
               "http://example.test/x");
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err_text);
  cr_assert(strstr(out_text, "proxy authentication allowed: Digest, NTLM, "
                             "Negotiate (the default; Basic only with "
                             "--proxy-auth basic or any)") != NULL,
            "%s", out_text);
}

/* --------------------------------------------- retries, one-stream mode */

/* A server that never answers: the progress events carry the retry and
 * its cause, the error is in our words, and the options that set the
 * waiting are named. */
Test(cli, retries_and_timeouts_are_shown)
{
  char out[512];
  char *url = ts_url(srv, "/gen/1000?delay=5000");
  int rc;

  path_in(out, sizeof(out), "noanswer.bin");
  rc = run_cli("get '%s' -o '%s' --json --timeout-stall 1 --max-tries 2",
               url, out);
  cr_assert_eq(rc, 3, "exit %d: %s", rc, err_text);
  cr_assert(strstr(out_text, "\"last_retry\":\"try 2 of 2 in ") != NULL,
            "%s", out_text);
  cr_assert(strstr(out_text, "\"waiting\":1") != NULL, "%s", out_text);
  cr_assert(strstr(err_text, "giving up after 2 tries: the server took the "
                             "connection but sent no answer for 1 s") !=
                NULL,
            "%s", err_text);
  cr_assert(strstr(err_text, "--timeout-stall") != NULL, "%s", err_text);
  cr_assert(strstr(err_text, "Operation") == NULL, "%s", err_text);
  free(url);
}

/* A server that ignores Range: said once without -v; an interrupted run
 * says its .part cannot be resumed, and the next run says why it starts
 * over. */
Test(cli, server_without_ranges_is_named_and_its_part_too)
{
  char out[512], part[600], cmd[4096], errp[600], text[4096];
  char *slow = ts_url(srv, "/gen/8000000?seed=3&norange=1&rate=2000000");
  char *fast = ts_url(srv, "/gen/8000000?seed=3&norange=1");
  int st, rc;

  path_in(out, sizeof(out), "norange.bin");
  snprintf(part, sizeof(part), "%s.part", out);
  path_in(errp, sizeof(errp), "norange.err");
  /* --foreground: timeout signals only the CLI, once.  Otherwise it also
   * signals its process group, and the second SIGINT, arriving after the
   * first was handled, ends the CLI before it can report (seen under
   * ASan). */
  snprintf(cmd, sizeof(cmd),
           "timeout --foreground --preserve-status -s INT 1 '%s' get '%s' "
           "-o '%s' </dev/null >/dev/null 2>'%s'",
           clipath(), slow, out, errp);
  st = system(cmd);
  cr_assert(WIFEXITED(st));
  cr_assert_eq(WEXITSTATUS(st), 130, "exit %d", WEXITSTATUS(st));
  tf_read(errp, text, sizeof(text));
  cr_assert(strstr(text, "the server ignores range requests (HTTP 200): one "
                         "connection instead of 8") != NULL,
            "%s", text);
  cr_assert(strstr(text, "but the server ignores range requests: the next "
                         "run starts over") != NULL,
            "%s", text);
  cr_assert_eq(access(part, F_OK), 0);

  rc = run_cli("get '%s' -o '%s'", fast, out);
  cr_assert_eq(rc, 0, "%s", err_text);
  cr_assert(strstr(err_text, "is left from an earlier run that kept no "
                             "journal") != NULL,
            "%s", err_text);
  cr_assert(ts_file_matches_gen(out, 8000000, 3));
  free(slow);
  free(fast);
}

/* ------------------------------------------------ standard output */

/* The SHA-256 of the generated content, in hex as sha256sum prints it. */
static void gen_sha256_hex(char out[65], uint64_t size, uint64_t seed)
{
  unsigned char buf[65536], md[32];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  uint64_t off;
  int k;

  cr_assert_not_null(ctx);
  cr_assert_eq(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
  for (off = 0; off < size; off += sizeof(buf)) {
    size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
    faults_gen_fill(buf, off, n, seed);
    EVP_DigestUpdate(ctx, buf, n);
  }
  EVP_DigestFinal_ex(ctx, md, NULL);
  EVP_MD_CTX_free(ctx);
  for (k = 0; k < 32; k++)
    snprintf(out + 2 * k, 3, "%02x", md[k]);
}

/* `get URL -o - | sha256sum`: stdout carries the content and nothing
 * else, in order (pieces from 8 connections); the saved line goes to
 * stderr; no file is made. */
Test(cli, output_dash_writes_the_content_to_stdout)
{
  char cmd[8192], errp[512], sump[512], rcp[512], text[4096], want[65];
  char *url = ts_url(srv, "/gen/5000000?seed=61");
  int st;

  path_in(errp, sizeof(errp), "dash.err");
  path_in(sump, sizeof(sump), "dash.sum");
  path_in(rcp, sizeof(rcp), "dash.rc");
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && { '%s' get --no-proxy '%s' -o - --piece-size 64K "
           "</dev/null 2>'%s'; echo $? >'%s'; } | sha256sum >'%s'",
           dir, clipath(), url, errp, rcp, sump);
  st = system(cmd);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %d", cmd, st);
  tf_read(rcp, text, sizeof(text));
  tf_read(errp, err_text, sizeof(err_text));
  cr_assert_str_eq(text, "0\n", "exit %s: %s", text, err_text);
  gen_sha256_hex(want, 5000000, 61);
  tf_read(sump, text, sizeof(text));
  cr_assert(strncmp(text, want, 64) == 0, "sha256sum %s, want %s", text,
            want);
  cr_assert(strstr(err_text, "saved '(stdout)' 4.8 MiB in ") != NULL, "%s",
            err_text);
  /* Nothing but the three files of the shell's redirections. */
  snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s' | wc -l)\" -eq 3", dir);
  cr_assert_eq(system(cmd), 0, "files left in %s", dir);
  free(url);
}

/* -o - with --checksum: the digest of what was written is checked at
 * the end; a wrong one fails the run (the bytes are out: said so). */
Test(cli, output_dash_with_a_checksum)
{
  char cmd[8192], errp[512], outp[512], text[4096], want[65];
  char *url = ts_url(srv, "/gen/700000?seed=62");

  gen_sha256_hex(want, 700000, 62);
  path_in(errp, sizeof(errp), "dsum.err");
  path_in(outp, sizeof(outp), "dsum.out");
  snprintf(cmd, sizeof(cmd),
           "'%s' get --no-proxy '%s' -o - --checksum sha256=%s </dev/null "
           ">'%s' 2>'%s'",
           clipath(), url, want, outp, errp);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0, "%s", cmd);
  cr_assert(ts_file_matches_gen(outp, 700000, 62));
  want[0] = want[0] == '0' ? '1' : '0';
  snprintf(cmd, sizeof(cmd),
           "'%s' get --no-proxy '%s' -o - --checksum sha256=%s </dev/null "
           ">'%s' 2>'%s'",
           clipath(), url, want, outp, errp);
  cr_assert_neq(WEXITSTATUS(system(cmd)), 0, "a wrong checksum passed");
  tf_read(errp, text, sizeof(text));
  cr_assert(strstr(text, "checksum") != NULL, "%s", text);
  free(url);
}

/* -o - with --json: both want stdout. */
Test(cli, output_dash_and_json_are_refused)
{
  int rc = run_cli("get http://127.0.0.1:1/x -o - --json");

  cr_assert_eq(rc, 2, "exit %d: %s", rc, err_text);
  cr_assert(strstr(err_text, "--json and -o - cannot be used together") !=
                NULL,
            "%s", err_text);
  cr_assert_str_eq(out_text, "");
}

/* A reader that goes away: a clean error, not a signal. */
Test(cli, output_dash_into_a_closed_pipe_fails_cleanly)
{
  char cmd[8192], errp[512], rcp[512], text[4096];
  char *url = ts_url(srv, "/gen/50000000?seed=62&rate=20000000");
  int st;

  path_in(errp, sizeof(errp), "closed.err");
  path_in(rcp, sizeof(rcp), "closed.rc");
  snprintf(cmd, sizeof(cmd),
           "{ '%s' get --no-proxy '%s' -o - </dev/null 2>'%s'; echo $? "
           ">'%s'; } | head -c 1000 >/dev/null",
           clipath(), url, errp, rcp);
  st = system(cmd);
  cr_assert(WIFEXITED(st), "%s: status %d", cmd, st);
  tf_read(rcp, text, sizeof(text));
  tf_read(errp, err_text, sizeof(err_text));
  cr_assert_str_neq(text, "0\n", "exit 0: %s", err_text);
  cr_assert_lt(atoi(text), 128, "killed by a signal: exit %s", text);
  cr_assert(strstr(err_text, "writing to the output failed: Broken pipe") !=
                NULL,
            "%s", err_text);
  free(url);
}

/* ------------------------------------------------------------- sources */

Test(cli, mirrors_and_cache_hosts_are_counted_by_kind)
{
  ts_server *mirror = ts_start(NULL), *cache = ts_start(NULL);
  char out[512], *ou = ts_url(srv, "/gen/8388608?seed=31&rate=2000000");
  char *mu = ts_url(mirror, "/gen/8388608?seed=31");
  int st;

  cr_assert(mirror != NULL && cache != NULL);
  path_in(out, sizeof(out), "srcs.bin");
  st = run_cli("get '%s' -o '%s' --mirror '%s' -c 4", ou, out, mu);
  cr_assert_eq(st, 0, "%s", err_text);
  cr_assert(ts_file_matches_gen(out, 8388608, 31));
  /* (the origin is slow: its probe's piece may be won by the mirror) */
  cr_assert(strstr(out_text, "; from ") != NULL &&
                strstr(out_text, "mirrors ") != NULL,
            "%s", out_text);
  unlink(out);

  /* --json: bytes by kind and every source's figures. */
  st = run_cli("get '%s' -o '%s' --cache-host 127.0.0.1:%u --json", ou, out,
               (unsigned)ts_port(cache));
  cr_assert_eq(st, 0, "%s", err_text);
  {
    const char *done = strstr(out_text, "{\"event\":\"done\"");
    const char *bf = done != NULL ? strstr(done, "\"bytes_from\":") : NULL;
    unsigned long long o = 0, m = 1, c = 0, p = 1;
    cr_assert_not_null(bf, "%s", out_text);
    cr_assert_eq(sscanf(bf,
                        "\"bytes_from\":{\"origin\":%llu,\"mirror\":%llu,"
                        "\"cache_host\":%llu,\"peer\":%llu}",
                        &o, &m, &c, &p),
                 4, "%s", bf);
    cr_assert(o + c == 8388608 && m == 0 && p == 0 && c >= 7340032,
              "origin %llu, cache host %llu", o, c);
  }
  cr_assert(strstr(out_text, "\"kind\":\"cache-host\"") != NULL, "%s",
            out_text);
  free(ou);
  free(mu);
  ts_stop(mirror);
  ts_stop(cache);
}

Test(cli, source_mistakes_are_named)
{
  char out[512], *ou = ts_url(srv, "/gen/1024?seed=32");

  path_in(out, sizeof(out), "bad-src.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' --cache-host 'a.example,,b'", ou,
                       out),
               2);
  cr_assert(strstr(err_text, "--cache-host") != NULL &&
                strstr(err_text, "empty") != NULL,
            "%s", err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' --cache-fallback-delay soon", ou,
                       out),
               2);
  cr_assert(strstr(err_text, "-1") != NULL, "%s", err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' --cache-host-proxy maybe", ou, out),
               2);
  cr_assert(strstr(err_text, "auto or direct") != NULL, "%s", err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' --peer http://127.0.0.1:9/x", ou,
                       out),
               2);
  cr_assert(strstr(err_text, "peers are not trusted") != NULL, "%s",
            err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' --mirror ftp://m.example/x", ou,
                       out),
               2);
  cr_assert(strstr(err_text, "mirror ftp://m.example/x") != NULL, "%s",
            err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' --manifest-sha256 00", ou, out), 2);
  cr_assert(strstr(err_text, "--manifest") != NULL, "%s", err_text);
  free(ou);
}

Test(cli, proxy_explain_shows_each_sources_route)
{
  int st = run_cli("proxy explain http://o.example/f.iso?x=1 --no-proxy "
                   "--mirror http://m.example/f.iso --cache-host c.example:8080 "
                   "--cache-host-proxy direct");

  cr_assert_eq(st, 0, "%s", err_text);
  cr_assert(strstr(out_text, "source:    mirror http://m.example/f.iso") !=
                NULL,
            "%s", out_text);
  cr_assert(strstr(out_text, "http://c.example:8080/f.iso?x=1&cacheHostOrigin="
                             "o.example") != NULL,
            "%s", out_text);
  cr_assert(strstr(out_text, "the cache host proxy policy: direct") != NULL,
            "%s", out_text);
}

/* ------------------------------------------ the options people reach for */

/* Whether path holds the generated content of size bytes for seed. */
static int gen_ok(const char *path, uint64_t size, uint64_t seed)
{
  return ts_file_matches_gen(path, size, seed);
}

/* Neither secret appears in what the last run printed. */
static void assert_secret_absent(const char *secret)
{
  cr_assert(strstr(out_text, secret) == NULL, "secret on stdout: %s",
            out_text);
  cr_assert(strstr(err_text, secret) == NULL, "secret on stderr: %s",
            err_text);
}

Test(cli, headers_user_agent_and_referer_reach_the_origin_only)
{
  char out[512];
  char *url = ts_url(srv, "/gen/1048576?seed=41&hdr=X-Token:abc");
  char *ua = ts_url(srv, "/gen/300000?seed=42&hdr=User-Agent:probe/1.0");
  char *ref = ts_url(srv, "/gen/300000?seed=43&hdr=Referer:http://r.example/p");
  char *mirror = ts_url(srv, "/gen/1048576?seed=41&nohdr=X-Token");
  unsigned long long o = 0, m = 0;
  const char *from;

  path_in(out, sizeof(out), "hdr.bin");
  /* Every request of 4 connections must carry it, else 403. */
  cr_assert_eq(run_cli("get '%s' -o '%s' -c 4 --piece-size 64K "
                       "-H 'X-Token: abc' -q",
                       url, out),
               0, "%s", err_text);
  cr_assert(gen_ok(out, 1048576, 41));
  unlink(out);
  cr_assert_eq(run_cli("get '%s' -o '%s' -c 4 -q", url, out), 3);
  cr_assert(strstr(err_text, "403") != NULL, "%s", err_text);
  /* The mirror answers 400 to a request with X-Token: it must still
   * serve its share, so it never saw the header. */
  unlink(out);
  cr_assert_eq(run_cli("get '%s' -o '%s' -c 4 --piece-size 64K -H "
                       "'X-Token: abc' --mirror '%s'",
                       url, out, mirror),
               0, "%s", err_text);
  cr_assert(gen_ok(out, 1048576, 41));
  from = strstr(out_text, "from origin ");
  cr_assert_not_null(from, "%s", out_text);
  cr_assert(sscanf(from, "from origin %llu", &o) == 1);
  cr_assert(strstr(from, "mirrors ") != NULL);
  cr_assert(sscanf(strstr(from, "mirrors "), "mirrors %llu", &m) == 1,
            "%s", out_text);
  cr_assert(m > 0, "the mirror served nothing: %s", out_text);
  path_in(out, sizeof(out), "ua.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' -A probe/1.0 -q", ua, out), 0, "%s",
               err_text);
  cr_assert(gen_ok(out, 300000, 42));
  path_in(out, sizeof(out), "ref.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' --referer http://r.example/p -q",
                       ref, out),
               0, "%s", err_text);
  cr_assert(gen_ok(out, 300000, 43));
  /* The engine's own headers are refused, by name. */
  cr_assert_eq(run_cli("get '%s' -o '%s' -H 'Range: bytes=0-1'", ua, out), 2);
  cr_assert(strstr(err_text, "Range") != NULL &&
                strstr(err_text, "engine") != NULL,
            "%s", err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' -H 'no colon'", ua, out), 2);
  cr_assert(strstr(err_text, "Name: value") != NULL, "%s", err_text);
  free(url);
  free(ua);
  free(ref);
  free(mirror);
}

Test(cli, origin_credentials_work_and_never_show)
{
  char out[512], netrc[512];
  char *basic = ts_url(srv, "/gen/600000?seed=44&basic=alice:%73%33cr3t-pw");
  char *bearer = ts_url(srv, "/gen/600000?seed=45&bearer=%740ken-xyz");

  path_in(out, sizeof(out), "auth.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' -c 4 --piece-size 64K -u "
                       "alice:s3cr3t-pw -vv",
                       basic, out),
               0, "%s", err_text);
  cr_assert(gen_ok(out, 600000, 44));
  assert_secret_absent("s3cr3t-pw");
  unlink(out);
  cr_assert_eq(run_cli("get '%s' -o '%s' -u alice:s3cr3t-pw --json", basic,
                       out),
               0, "%s", err_text);
  assert_secret_absent("s3cr3t-pw");
  unlink(out);
  cr_assert_eq(run_cli("get '%s' -o '%s' -u alice:wrong-pw -vv", basic, out),
               3);
  cr_assert(strstr(err_text, "401") != NULL, "%s", err_text);
  assert_secret_absent("wrong-pw");
  /* No password, and stdin is not a terminal: said, not asked. */
  cr_assert_eq(run_cli("get '%s' -o '%s' -u alice", basic, out), 2);
  cr_assert(strstr(err_text, "USER:PASSWORD") != NULL, "%s", err_text);
  /* netrc */
  path_in(netrc, sizeof(netrc), "netrc");
  tf_write(netrc, "machine 127.0.0.1 login alice password s3cr3t-pw\n");
  cr_assert_eq(run_cli("get '%s' -o '%s' --netrc-file '%s' -vv", basic, out,
                       netrc),
               0, "%s", err_text);
  cr_assert(gen_ok(out, 600000, 44));
  assert_secret_absent("s3cr3t-pw");
  unlink(out);
  /* Bearer token. */
  path_in(out, sizeof(out), "bearer.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' -c 4 --piece-size 64K "
                       "--oauth2-bearer t0ken-xyz -vv",
                       bearer, out),
               0, "%s", err_text);
  cr_assert(gen_ok(out, 600000, 45));
  assert_secret_absent("t0ken-xyz");
  unlink(out);
  cr_assert_eq(run_cli("get '%s' -o '%s' --oauth2-bearer t0ken-xyz --json",
                       bearer, out),
               0, "%s", err_text);
  assert_secret_absent("t0ken-xyz");
  free(basic);
  free(bearer);
}

/* -u USER alone on a terminal: the password is asked (echo off) and
 * used; ~/.netrc with -n.  script(1) gives the command a terminal. */
Test(cli, the_password_is_asked_on_a_terminal_and_netrc_is_read)
{
  char out[512], cmd[4096], home[512], netrc[600];
  char *url = ts_url(srv, "/gen/200000?seed=53&basic=bob:%70w-on-tty");

  path_in(out, sizeof(out), "tty.bin");
  snprintf(cmd, sizeof(cmd),
           "(sleep 1; printf 'pw-on-tty\\n') | script -qec \"'%s' get '%s' "
           "-o '%s' -u bob -q\" /dev/null >'%s/tty.log' 2>&1",
           clipath(), url, out, dir);
  {
    int st = system(cmd);
    snprintf(home, sizeof(home), "%s/tty.log", dir);
    tf_read(home, err_text, sizeof(err_text));
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", cmd, err_text);
  }
  cr_assert(gen_ok(out, 200000, 53));
  cr_assert(strstr(err_text, "Enter the password for user 'bob'") != NULL,
            "%s", err_text);
  cr_assert(strstr(err_text, "pw-on-tty") == NULL, "the password echoed: %s",
            err_text);
  unlink(out);
  /* -n: the origin's credentials from $HOME/.netrc. */
  snprintf(home, sizeof(home), "%s/home", dir);
  cr_assert_eq(mkdir(home, 0700), 0);
  snprintf(netrc, sizeof(netrc), "%s/.netrc", home);
  tf_write(netrc, "machine 127.0.0.1\n  login bob\n  password pw-on-tty\n");
  chmod(netrc, 0600);
  cr_assert_eq(run_cli("get '%s' -o '%s' -n -q", url, out), 3,
               "without HOME's netrc it must fail: %s", err_text);
  snprintf(cmd, sizeof(cmd), "HOME='%s' '%s' get '%s' -o '%s' -n -q "
                             "</dev/null",
           home, clipath(), url, out);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  cr_assert(gen_ok(out, 200000, 53));
  free(url);
}

Test(cli, cookies_are_sent_kept_and_written)
{
  char out[512], jar[512], file[512], text[4096];
  char *need = ts_url(srv, "/gen/400000?seed=46&cookie=sid=%6300kie-42");
  char *set = ts_url(srv, "/gen/400000?seed=47&setcookie=lang=fr");

  path_in(out, sizeof(out), "ck.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' -c 4 --piece-size 64K -b "
                       "'sid=c00kie-42' -vv",
                       need, out),
               0, "%s", err_text);
  cr_assert(gen_ok(out, 400000, 46));
  assert_secret_absent("c00kie-42");
  unlink(out);
  cr_assert_eq(run_cli("get '%s' -o '%s' -q", need, out), 3);
  /* A cookie file (Netscape format). */
  path_in(file, sizeof(file), "cookies.txt");
  tf_write(file, "# Netscape HTTP Cookie File\n"
                 "127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tc00kie-42\n");
  cr_assert_eq(run_cli("get '%s' -o '%s' -b '%s' -q", need, out, file), 0,
               "%s", err_text);
  cr_assert(gen_ok(out, 400000, 46));
  /* What a server sets is written to the jar. */
  path_in(out, sizeof(out), "ck2.bin");
  path_in(jar, sizeof(jar), "jar.txt");
  cr_assert_eq(run_cli("get '%s' -o '%s' --cookie-jar '%s' -q", set, out,
                       jar),
               0, "%s", err_text);
  tf_read(jar, text, sizeof(text));
  cr_assert(strstr(text, "lang\tfr") != NULL, "jar: %s", text);
  cr_assert_eq(run_cli("get '%s' -o '%s' -b '%s/none.txt'", set, out, dir),
               2);
  cr_assert(strstr(err_text, "cookie file") != NULL, "%s", err_text);
  free(need);
  free(set);
}

Test(cli, limit_rate_holds_within_five_percent_over_ten_seconds,
     .timeout = 60)
{
  char out[512];
  /* 2 MB at 200 KB/s: 10 s. */
  char *url = ts_url(srv, "/gen/2048000?seed=48");
  struct timespec t0, t1;
  double secs;

  path_in(out, sizeof(out), "rate.bin");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(run_cli("get '%s' -o '%s' -c 4 --piece-size 128K "
                       "--limit-rate 200000 -q",
                       url, out),
               0, "%s", err_text);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs = (double)(t1.tv_sec - t0.tv_sec) +
         (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  cr_assert(gen_ok(out, 2048000, 48));
  cr_assert(secs >= 9.5 && (secs <= 10.5 || !SPEED_CHECKED),
            "2048000 B at 200000 B/s took %.2f s", secs);
  cr_assert_eq(run_cli("get '%s' -o '%s' --limit-rate fast", url, out), 2);
  cr_assert(strstr(err_text, "--limit-rate") != NULL, "%s", err_text);
  free(url);
}

Test(cli, max_time_ends_the_download_and_keeps_the_part)
{
  char out[512], part[600];
  char *url = ts_url(srv, "/gen/1000000?seed=49&rate=100000");
  struct stat st;

  path_in(out, sizeof(out), "slow.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' -c 2 --max-time 1.5", url, out), 3,
               "%s", err_text);
  cr_assert(strstr(err_text, "1.500 s") != NULL, "%s", err_text);
  snprintf(part, sizeof(part), "%s.part", out);
  cr_assert_eq(stat(part, &st), 0, "%s", err_text);
  cr_assert(stat(out, &st) != 0);
  free(url);
}

Test(cli, checksum_is_checked_before_the_rename)
{
  char out[512], part[600], arg[200];
  char *url = ts_url(srv, "/gen/500000?seed=50");
  unsigned char buf[65536], md[32];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  uint64_t off;
  int k;
  struct stat st;

  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  for (off = 0; off < 500000; off += sizeof(buf)) {
    size_t n = 500000 - off < sizeof(buf) ? (size_t)(500000 - off) : sizeof(buf);
    faults_gen_fill(buf, off, n, 50);
    EVP_DigestUpdate(ctx, buf, n);
  }
  EVP_DigestFinal_ex(ctx, md, NULL);
  EVP_MD_CTX_free(ctx);
  k = snprintf(arg, sizeof(arg), "sha256=");
  for (int i = 0; i < 32; i++)
    k += snprintf(arg + k, sizeof(arg) - (size_t)k, "%02x", md[i]);
  path_in(out, sizeof(out), "sum.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' --checksum %s -q", url, out, arg), 0,
               "%s", err_text);
  cr_assert(gen_ok(out, 500000, 50));
  unlink(out);
  arg[7] = arg[7] == '0' ? '1' : '0'; /* one digit wrong */
  cr_assert_neq(run_cli("get '%s' -o '%s' --checksum %s", url, out, arg), 0);
  cr_assert(strstr(err_text, "checksum") != NULL, "%s", err_text);
  cr_assert(stat(out, &st) != 0, "a wrong file was renamed");
  snprintf(part, sizeof(part), "%s.part", out);
  cr_assert_eq(stat(part, &st), 0);
  /* xxh128, as xxh128sum prints it. */
  {
    XXH3_state_t *st3 = XXH3_createState();
    XXH128_canonical_t cn;
    unsigned char b2[65536];
    XXH3_128bits_reset(st3);
    for (off = 0; off < 500000; off += sizeof(b2)) {
      size_t n = 500000 - off < sizeof(b2) ? (size_t)(500000 - off)
                                            : sizeof(b2);
      faults_gen_fill(b2, off, n, 50);
      XXH3_128bits_update(st3, b2, n);
    }
    XXH128_canonicalFromHash(&cn, XXH3_128bits_digest(st3));
    XXH3_freeState(st3);
    k = snprintf(arg, sizeof(arg), "xxh128=");
    for (int i = 0; i < 16; i++)
      k += snprintf(arg + k, sizeof(arg) - (size_t)k, "%02x", cn.digest[i]);
  }
  unlink(part);
  cr_assert_eq(run_cli("get '%s' -o '%s' --checksum %s -q --no-resume", url,
                       out, arg),
               0, "%s: %s", arg, err_text);
  cr_assert(gen_ok(out, 500000, 50));
  unlink(out);
  cr_assert_eq(run_cli("get '%s' -o '%s' --checksum md5=00", url, out), 2);
  cr_assert(strstr(err_text, "sha256 or xxh128") != NULL, "%s", err_text);
  free(url);
}

Test(cli, resolve_ipv4_ipv6_and_interface)
{
  char out[512], u[256];

  snprintf(u, sizeof(u), "http://files.test:%u/gen/200000?seed=51",
           (unsigned)ts_port(srv));
  path_in(out, sizeof(out), "res.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' --resolve files.test:%u:127.0.0.1 "
                       "-4 --interface lo -q",
                       u, out, (unsigned)ts_port(srv)),
               0, "%s", err_text);
  cr_assert(gen_ok(out, 200000, 51));
  unlink(out);
  /* IPv6 only, and the name resolves to an IPv4 address only. */
  cr_assert_eq(run_cli("get '%s' -o '%s' --resolve files.test:%u:127.0.0.1 "
                       "-6 --max-tries 1 -q",
                       u, out, (unsigned)ts_port(srv)),
               3, "%s", err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' --interface no-such-if0 "
                       "--max-tries 1 -q",
                       u, out),
               3, "%s", err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' --resolve files.test:x:1.2.3.4", u,
                       out),
               2);
  cr_assert(strstr(err_text, "HOST:PORT:ADDRESS") != NULL, "%s", err_text);
}

Test(cli, insecure_warns_on_every_run)
{
  char out[512], *url = ts_url(srv, "/gen/1000?seed=52");

  path_in(out, sizeof(out), "k.bin");
  cr_assert_eq(run_cli("get '%s' -o '%s' -k", url, out), 0, "%s", err_text);
  cr_assert(strstr(err_text, "warning: --insecure") != NULL, "%s", err_text);
  cr_assert_eq(run_cli("get '%s' -o '%s' -k -f", url, out), 0, "%s",
               err_text);
  cr_assert(strstr(err_text, "warning: --insecure") != NULL, "%s", err_text);
  free(url);
}

Test(cli, input_file_of_twenty_within_a_budget_of_eight, .timeout = 120)
{
  char list[512], odir[512], path[600];
  char text[16384];
  size_t n = 0;
  int k;

  path_in(list, sizeof(list), "list.txt");
  path_in(odir, sizeof(odir), "many");
  cr_assert_eq(mkdir(odir, 0700), 0);
  text[0] = '\0';
  n += (size_t)snprintf(text + n, sizeof(text) - n, "# twenty files\n\n");
  for (k = 0; k < 20; k++) {
    char *u = ts_url(srv, "/gen/300000");
    /* Slow enough that downloads overlap. */
    n += (size_t)snprintf(text + n, sizeof(text) - n,
                          "%s?seed=%d&rate=600000\n  out=f-%d.bin\n", u,
                          100 + k, k);
    free(u);
  }
  tf_write(list, text);
  cr_assert_eq(ts_peak_open(srv), 0, "the server already had connections");
  cr_assert_eq(run_cli("get -i '%s' --output-dir '%s' -c 8 --piece-size 64K",
                       list, odir),
               0, "%s", err_text);
  cr_assert(ts_peak_open(srv) <= 8, "%llu connections at once",
            (unsigned long long)ts_peak_open(srv));
  cr_assert(ts_peak_open(srv) >= 4, "only %llu connections at once",
            (unsigned long long)ts_peak_open(srv));
  for (k = 0; k < 20; k++) {
    snprintf(path, sizeof(path), "%s/f-%d.bin", odir, k);
    cr_assert(gen_ok(path, 300000, (uint64_t)(100 + k)), "%s", path);
  }
  cr_assert(strstr(out_text, "20 downloads: 20 saved") != NULL, "%s",
            out_text);
  /* A mistake in the file is named with its line. */
  tf_write(list, "http://127.0.0.1:9/a\n  outt=x\n");
  cr_assert_eq(run_cli("get -i '%s'", list), 2);
  cr_assert(strstr(err_text, "line 2") != NULL &&
                strstr(err_text, "outt") != NULL,
            "%s", err_text);
}

Test(cli, several_urls_go_to_the_output_dir_and_fail_alone)
{
  char odir[512], path[600];
  char *a = ts_url(srv, "/gen/1000?seed=60");
  char *b = ts_url(srv, "/gen/2000?seed=61");
  char *bad = ts_url(srv, "/gen/3000?status=404");

  path_in(odir, sizeof(odir), "several");
  cr_assert_eq(mkdir(odir, 0700), 0);
  cr_assert_eq(run_cli("get -O '%s' '%s' '%s' --output-dir '%s'", a, bad, b,
                       odir),
               3, "%s", err_text);
  snprintf(path, sizeof(path), "%s/1000", odir);
  cr_assert(gen_ok(path, 1000, 60));
  snprintf(path, sizeof(path), "%s/2000", odir);
  cr_assert(gen_ok(path, 2000, 61));
  cr_assert(strstr(out_text, "3 downloads: 2 saved") != NULL &&
                strstr(out_text, "1 failed") != NULL,
            "%s", out_text);
  cr_assert(strstr(err_text, "404") != NULL, "%s", err_text);
  cr_assert_eq(run_cli("get '%s' '%s' -o x", a, b), 2);
  cr_assert(strstr(err_text, "--output-dir") != NULL, "%s", err_text);
  free(a);
  free(b);
  free(bad);
}
