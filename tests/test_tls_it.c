/*
 * `rangefetch get`'s TLS options against the rig's real nginx over HTTPS
 * (tests/rig: a certificate for localhost from the rig's own CA, which
 * the system does not trust): --cacert, SSL_CERT_FILE, -k and its
 * warning, --pinnedpubkey, and --checksum on a real server's file.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/clipath.h"
#include "support/rig.h"
#include "support/textfile.h"
#include "support/tmpdir.h"

static char dir[256];
static char out_text[8192], err_text[8192];

static void setup(void)
{
  rig_load();
  tmpdir_make(dir, sizeof(dir), "tls-it");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(tls_it, .init = setup, .fini = teardown, .timeout = 180);

/* Run `ENV rangefetch ARGS` through the shell; output in out_text and
 * err_text.  Returns the exit status. */
static int run(const char *env, const char *fmt, ...)
{
  char args[4096], cmd[8192], o[512], e[512];
  va_list ap;
  int st;

  va_start(ap, fmt);
  vsnprintf(args, sizeof(args), fmt, ap);
  va_end(ap);
  snprintf(o, sizeof(o), "%s/out.txt", dir);
  snprintf(e, sizeof(e), "%s/err.txt", dir);
  snprintf(cmd, sizeof(cmd),
           "env -u SSL_CERT_FILE -u CURL_CA_BUNDLE %s '%s' %s </dev/null "
           ">'%s' 2>'%s'",
           env, clipath(), args, o, e);
  st = system(cmd);
  cr_assert(WIFEXITED(st), "%s", cmd);
  tf_read(o, out_text, sizeof(out_text));
  tf_read(e, err_text, sizeof(err_text));
  return WEXITSTATUS(st);
}

/* The HTTPS origin's file URL and an output path (removed first). */
static void target(char *url, size_t us, char *out, size_t os, const char *n)
{
  snprintf(url, us, "%s%s", rig("RIG_HTTPS_ORIGIN"), rig("RIG_HTTPS_FILE_PATH"));
  snprintf(out, os, "%s/%s", dir, n);
  unlink(out);
}

Test(tls_it, an_untrusted_certificate_is_refused_unless_trusted_or_insecure)
{
  char url[512], out[512], env[700];
  struct stat st;

  target(url, sizeof(url), out, sizeof(out), "a.bin");
  cr_assert_eq(run("", "get '%s' -o '%s' --max-tries 1", url, out), 3, "%s",
               err_text);
  cr_assert(strstr(err_text, "certificate") != NULL, "%s", err_text);
  cr_assert(stat(out, &st) != 0);
  cr_assert_eq(run("", "get '%s' -o '%s' --cacert '%s' --checksum sha256=%s "
                       "-q",
                   url, out, rig("RIG_CA_FILE"), rig("RIG_DATA_SHA256")),
               0, "%s", err_text);
  unlink(out);
  /* As curl: the environment names the bundle. */
  snprintf(env, sizeof(env), "SSL_CERT_FILE='%s'", rig("RIG_CA_FILE"));
  cr_assert_eq(run(env, "get '%s' -o '%s' -q", url, out), 0, "%s", err_text);
  unlink(out);
  snprintf(env, sizeof(env), "CURL_CA_BUNDLE='%s'", rig("RIG_CA_FILE"));
  cr_assert_eq(run(env, "get '%s' -o '%s' -q", url, out), 0, "%s", err_text);
  unlink(out);
  cr_assert_eq(run("", "get '%s' -o '%s' -k --checksum sha256=%s", url, out,
                   rig("RIG_DATA_SHA256")),
               0, "%s", err_text);
  cr_assert(strstr(err_text, "warning: --insecure") != NULL, "%s", err_text);
  cr_assert_eq(stat(out, &st), 0);
  cr_assert_eq((unsigned long long)st.st_size,
               strtoull(rig("RIG_DATA_SIZE"), NULL, 10));
}

Test(tls_it, the_pinned_key_must_match)
{
  char url[512], out[512], cert[600], pub[600], other[600], cmd[4000];
  char hash[128], pin[200];
  const char *ca = rig("RIG_CA_FILE");
  const char *slash = strrchr(ca, '/');

  cr_assert_not_null(slash);
  snprintf(cert, sizeof(cert), "%.*s/server.pem", (int)(slash - ca), ca);
  snprintf(pub, sizeof(pub), "%s/server-pub.pem", dir);
  snprintf(other, sizeof(other), "%s/ca-pub.pem", dir);
  snprintf(cmd, sizeof(cmd),
           "openssl x509 -in '%s' -pubkey -noout > '%s' && "
           "openssl x509 -in '%s' -pubkey -noout > '%s' && "
           "openssl pkey -pubin -in '%s' -outform der | openssl dgst -sha256 "
           "-binary | base64 > '%s/hash'",
           cert, pub, ca, other, pub, dir);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  snprintf(cmd, sizeof(cmd), "%s/hash", dir);
  tf_read(cmd, hash, sizeof(hash));
  hash[strcspn(hash, "\n")] = '\0';
  snprintf(pin, sizeof(pin), "sha256//%s", hash);
  target(url, sizeof(url), out, sizeof(out), "p.bin");
  cr_assert_eq(run("", "get '%s' -o '%s' --cacert '%s' --pinnedpubkey '%s' "
                       "-q",
                   url, out, ca, pub),
               0, "%s", err_text);
  unlink(out);
  cr_assert_eq(run("", "get '%s' -o '%s' --cacert '%s' --pinnedpubkey '%s' "
                       "-q",
                   url, out, ca, pin),
               0, "%s", err_text);
  unlink(out);
  /* Another key (the CA's): refused, even with -k. */
  cr_assert_eq(run("", "get '%s' -o '%s' -k --pinnedpubkey '%s' "
                       "--max-tries 1",
                   url, out, other),
               3, "%s", err_text);
  cr_assert(strstr(err_text, "public key") != NULL ||
                strstr(err_text, "pinned") != NULL,
            "%s", err_text);
}
