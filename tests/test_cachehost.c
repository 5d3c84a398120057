/*
 * Cache hosts (engine/source/cachehost.c): the list syntax, DHCP option
 * 235 in every lease format (engine/proxy/wpad_dhcp.c's parsers, the
 * dhclient.conf declarations), the settings files' policy and the rule
 * that combines the static list with DHCP's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/dhcp_lease.h"
#include "rangefetch/cachehost.h"
#include "rangefetch/rangefetch.h"
#include "source/cachehost.h"
#include "support/leaks.h"
#include "support/textfile.h"
#include "support/tmpdir.h"

static char dir[64];

static void setup(void)
{
  tmpdir_make(dir, sizeof(dir), "cachehost");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(cachehost, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------- helpers */

static const char *path_in(const char *name)
{
  static char buf[8][256];
  static int next;
  char *p = buf[next++ % 8];

  snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
  return p;
}

/* A list formatted, for comparisons. */
static const char *fmt(const rf_cache_host_list *l)
{
  static char buf[4][4096];
  static int next;
  char *p = buf[next++ % 4];

  rf_cache_host_list_format(p, sizeof(buf[0]), l);
  return p;
}

/* dhclient's hex for a string option that is not printable ("%x" bytes
 * joined by ':'). */
static void dhclient_hex(char *out, size_t cap, const char *s, size_t len)
{
  size_t n = 0;

  out[0] = '\0';
  for (size_t i = 0; i < len; i++)
    n += (size_t)snprintf(out + n, cap - n, "%s%x", i ? ":" : "",
                          (unsigned char)s[i]);
}

/* systemd's hexmem: two lower-case digits a byte. */
static void networkd_hex(char *out, size_t cap, const char *s, size_t len)
{
  size_t n = 0;

  out[0] = '\0';
  for (size_t i = 0; i < len; i++)
    n += (size_t)snprintf(out + n, cap - n, "%02x", (unsigned char)s[i]);
}

/* ------------------------------------------------------------ list syntax */

typedef struct good_row {
  const char *text;
  size_t count;
  const char *want;  /* formatted */
  const char *host0; /* first host as stored */
  unsigned port0;
} good_row;

/* clang-format off */
static const good_row good_rows[] = {
  { "cache.example", 1, "cache.example", "cache.example", 0 },
  /* DO's own example (DOCacheHost). */
  { "10.0.0.100:80,myhost2.com:8080", 2, "10.0.0.100:80,myhost2.com:8080",
    "10.0.0.100", 80 },
  { " a.example , b.example:8080\t,\t[2001:db8::1]:3128 ", 3,
    "a.example,b.example:8080,[2001:db8::1]:3128", "a.example", 0 },
  { "[::1]", 1, "[::1]", "::1", 0 },
  { "[2001:DB8::A]:65535", 1, "[2001:DB8::A]:65535", "2001:DB8::A", 65535 },
  { "CACHE.Example.", 1, "CACHE.Example.", "CACHE.Example.", 0 },
  { "my_cache.corp:1", 1, "my_cache.corp:1", "my_cache.corp", 1 },
  { "cache:00080", 1, "cache:80", "cache", 80 },
  { "xn--caf-dma.example", 1, "xn--caf-dma.example", "xn--caf-dma.example",
    0 },
  { "a1.b-2.c", 1, "a1.b-2.c", "a1.b-2.c", 0 },
  { "192.168.1.10", 1, "192.168.1.10", "192.168.1.10", 0 },
  /* Duplicates are kept by the parser. */
  { "a,a,A:80", 3, "a,a,A:80", "a", 0 },
};
/* clang-format on */

Test(cachehost, parse_good_table)
{
  for (size_t i = 0; i < sizeof(good_rows) / sizeof(good_rows[0]); i++) {
    const good_row *r = &good_rows[i];
    rf_cache_host_list *l = (rf_cache_host_list *)1;
    char err[256] = "unset";

    cr_assert_eq(rf_cache_host_list_parse(&l, r->text, err, sizeof(err)), 0,
                 "row %zu '%s': %s", i, r->text, err);
    cr_expect_str_eq(err, "", "row %zu", i);
    cr_expect_eq(l->count, r->count, "row %zu", i);
    cr_expect_str_eq(fmt(l), r->want, "row %zu", i);
    cr_expect_str_eq(l->hosts[0].host, r->host0, "row %zu", i);
    cr_expect_eq(l->hosts[0].port, r->port0, "row %zu", i);
    /* The formatted list parses back to the same list. */
    {
      rf_cache_host_list *again = NULL;

      cr_assert_eq(rf_cache_host_list_parse(&again, fmt(l), NULL, 0), 0);
      cr_expect_str_eq(fmt(again), fmt(l), "row %zu", i);
      rf_cache_host_list_free(again);
    }
    rf_cache_host_list_free(l);
  }
  ASSERT_NO_LEAKS();
}

typedef struct bad_row {
  const char *text;
  const char *err;
} bad_row;

#define PORT_WHY "the port must be a number from 1 to 65535"

/* clang-format off */
static const bad_row bad_rows[] = {
  { "", "the list is empty" },
  { " \t ", "the list is empty" },
  { "a,,b", "entry 2 is empty" },
  { ",a", "entry 1 is empty" },
  { "a,", "entry 2 is empty" },
  { "a, \t,b", "entry 2 is empty" },
  { "a:0", "entry 1 'a:0': " PORT_WHY },
  { "a,b:65536", "entry 2 'b:65536': " PORT_WHY },
  { "a:-1", "entry 1 'a:-1': " PORT_WHY },
  { "a:80x", "entry 1 'a:80x': " PORT_WHY },
  { "a:123456", "entry 1 'a:123456': " PORT_WHY },
  { "a: 80", "entry 1 'a: 80': white space inside an entry (separate "
    "entries with commas)" },
  { "a:", "entry 1 'a:': empty port" },
  { ":8080", "entry 1 ':8080': no host" },
  { "http://cache.example", "entry 1 'http://cache.example': write "
    "HOST[:PORT], without a scheme" },
  { "cache.example/mcc", "entry 1 'cache.example/mcc': write HOST[:PORT], "
    "without a path" },
  { "cache.example:80/", "entry 1 'cache.example:80/': write HOST[:PORT], "
    "without a path" },
  { "alice:s3cret@cache.example", "entry 1: a cache host takes no user "
    "name or password ('@')" },
  { "a b", "entry 1 'a b': white space inside an entry (separate entries "
    "with commas)" },
  { "a;b", "entry 1 'a;b': invalid character ';' in the host name" },
  { "cache!.example", "entry 1 'cache!.example': invalid character '!' in "
    "the host name" },
  { "::1", "entry 1 '::1': an IPv6 address must be in brackets, e.g. "
    "[2001:db8::1]:8080" },
  { "2001:db8::1:8080", "entry 1 '2001:db8::1:8080': an IPv6 address must "
    "be in brackets, e.g. [2001:db8::1]:8080" },
  { "[::1", "entry 1 '[::1': no ']' after the IPv6 address" },
  { "[zz::1]", "entry 1 '[zz::1]': bad IPv6 address" },
  { "[]", "entry 1 '[]': bad IPv6 address" },
  { "[10.0.0.1]", "entry 1 '[10.0.0.1]': bad IPv6 address" },
  { "[fe80::1%eth0]", "entry 1 '[fe80::1%eth0]': bad IPv6 address" },
  { "[::1]x", "entry 1 '[::1]x': unexpected text after the IPv6 address" },
  { "[::1]:0", "entry 1 '[::1]:0': " PORT_WHY },
  { "[::1]:", "entry 1 '[::1]:': empty port" },
  { "a..b", "entry 1 'a..b': empty label in the host name" },
  { ".a", "entry 1 '.a': empty label in the host name" },
  { ".", "entry 1 '.': empty label in the host name" },
  { "-a.example", "entry 1 '-a.example': a label of the host name starts "
    "or ends with '-'" },
  { "a-.example", "entry 1 'a-.example': a label of the host name starts "
    "or ends with '-'" },
  { "300.1.1.1", "entry 1 '300.1.1.1': bad IPv4 address" },
  { "10.1", "entry 1 '10.1': bad IPv4 address" },
  { "1.2.3.4.5", "entry 1 '1.2.3.4.5': bad IPv4 address" },
  { "cache.123", "entry 1 'cache.123': bad IPv4 address" },
  { "caf\xc3\xa9.example", "entry 1 holds a non-ASCII character (write an "
    "internationalised name in its xn-- form)" },
  { "a\x01" "b", "entry 1 holds a control character" },
  { "a,b\x7f", "entry 2 holds a control character" },
};
/* clang-format on */

Test(cachehost, parse_bad_table)
{
  for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
    const bad_row *r = &bad_rows[i];
    rf_cache_host_list *l = (rf_cache_host_list *)1;
    char err[256];

    cr_expect_eq(rf_cache_host_list_parse(&l, r->text, err, sizeof(err)),
                 RF_EINVAL, "row %zu '%s'", i, r->text);
    cr_expect_null(l, "row %zu", i);
    cr_expect_str_eq(err, r->err, "row %zu", i);
  }
  ASSERT_NO_LEAKS();
}

Test(cachehost, parse_limits)
{
  char text[8192], label[80], err[256];
  rf_cache_host_list *l = NULL;
  size_t n = 0;

  /* RF_CACHE_HOST_MAX entries are fine, one more is not. */
  for (int i = 0; i < RF_CACHE_HOST_MAX; i++)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "%sc%d.example",
                          i ? "," : "", i);
  cr_assert_eq(rf_cache_host_list_parse(&l, text, err, sizeof(err)), 0, "%s",
               err);
  cr_expect_eq(l->count, RF_CACHE_HOST_MAX);
  cr_expect_str_eq(l->hosts[RF_CACHE_HOST_MAX - 1].host, "c63.example");
  rf_cache_host_list_free(l);
  snprintf(text + n, sizeof(text) - n, ",one-more");
  cr_expect_eq(rf_cache_host_list_parse(&l, text, err, sizeof(err)), RF_EINVAL);
  cr_expect_str_eq(err, "more than 64 entries");
  /* Labels of 63 characters, names of 253. */
  memset(label, 'a', 63);
  label[63] = '\0';
  snprintf(text, sizeof(text), "%s.%s.%s.%.61s", label, label, label, label);
  cr_assert_eq(strlen(text), 253);
  cr_expect_eq(rf_cache_host_list_parse(&l, text, err, sizeof(err)), 0, "%s",
               err);
  rf_cache_host_list_free(l);
  snprintf(text, sizeof(text), "%s.%s.%s.%.62s", label, label, label, label);
  cr_expect_eq(rf_cache_host_list_parse(&l, text, err, sizeof(err)), RF_EINVAL);
  cr_expect(strstr(err, "': the host name is longer than 253 characters") !=
                NULL,
            "%s", err);
  /* A long entry is quoted up to 64 characters, then "...". */
  cr_expect(strncmp(err, "entry 1 'aaaa", 13) == 0, "%s", err);
  cr_expect_eq(strstr(err, "...': ") - (err + 9), 64, "%s", err);
  snprintf(text, sizeof(text), "%sa.b", label);
  cr_expect_eq(rf_cache_host_list_parse(&l, text, err, sizeof(err)), RF_EINVAL);
  cr_expect(strstr(err, "a label of the host name is longer than 63 "
                        "characters") != NULL,
            "%s", err);
  ASSERT_NO_LEAKS();
}

Test(cachehost, parse_never_quotes_a_password)
{
  static const char *const texts[] = { "alice:s3cret@cache.example",
                                       "cache.example, http://bob:s3cret@x:80",
                                       "[::1]:80,  carol:s3cret@[::1]" };
  char err[256];

  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    rf_cache_host_list *l = NULL;

    cr_expect_eq(rf_cache_host_list_parse(&l, texts[i], err, sizeof(err)),
                 RF_EINVAL);
    cr_expect_null(strstr(err, "s3cret"), "row %zu: %s", i, err);
    cr_expect(strstr(err, "takes no user name or password") != NULL, "%s", err);
  }
}

Test(cachehost, parse_arguments_and_lengths)
{
  rf_cache_host_list *l = (rf_cache_host_list *)1;
  char err[8];

  cr_expect_eq(rf_cache_host_list_parse(NULL, "a", NULL, 0), RF_EINVAL);
  cr_expect_eq(rf_cache_host_list_parse(&l, NULL, NULL, 0), RF_EINVAL);
  cr_expect_null(l);
  /* A short message buffer is cut, never overrun. */
  cr_expect_eq(rf_cache_host_list_parse(&l, "a,,b", err, sizeof(err)),
               RF_EINVAL);
  cr_expect_str_eq(err, "entry 2");
  /* The internal form takes a length: a NUL inside is a control
   * character. */
  cr_expect_eq(rf__cache_host_list_parse(&l, "a\0b", 3, NULL, 0), RF_EINVAL);
  cr_assert_eq(rf__cache_host_list_parse(&l, "a,b,c", 3, NULL, 0), 0);
  cr_expect_str_eq(fmt(l), "a,b");
  rf_cache_host_list_free(l);
  rf_cache_host_list_free(NULL);
  ASSERT_NO_LEAKS();
}

Test(cachehost, format)
{
  rf_cache_host h = { "2001:db8::1", 8080 };
  rf_cache_host_list *l = NULL;
  char buf[64];

  cr_expect_eq(rf_cache_host_format(buf, sizeof(buf), &h), 18);
  cr_expect_str_eq(buf, "[2001:db8::1]:8080");
  h.port = 0;
  rf_cache_host_format(buf, sizeof(buf), &h);
  cr_expect_str_eq(buf, "[2001:db8::1]");
  h.host = "c.example";
  h.port = 80;
  cr_expect_eq(rf_cache_host_format(buf, 5, &h), 12);
  cr_expect_str_eq(buf, "c.ex");
  cr_expect_eq(rf_cache_host_format(NULL, 0, &h), 12);
  cr_expect_eq(rf_cache_host_list_format(buf, sizeof(buf), NULL), 0);
  cr_expect_str_eq(buf, "");
  cr_assert_eq(rf_cache_host_list_parse(&l, "a , [::1]:9", NULL, 0), 0);
  cr_expect_eq(rf_cache_host_list_format(NULL, 0, l), 9);
  cr_expect_str_eq(fmt(l), "a,[::1]:9");
  rf_cache_host_list_free(l);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------- option 235 values */

typedef struct value_row {
  const char *value;
  size_t len; /* 0: strlen */
  int rc;
  const char *want; /* hosts, or why */
} value_row;

/* clang-format off */
static const value_row value_rows[] = {
  { "cache1.example,cache2.example:8080", 0, 0,
    "cache1.example,cache2.example:8080" },
  /* A server's final NUL or newline, and surrounding space. */
  { "c.example\0", 10, 0, "c.example" },
  { "c.example\n\0\0", 12, 0, "c.example" },
  { " \tc.example , d \r\n", 0, 0, "c.example,d" },
  { "", 0, RF_EINVAL, "empty" },
  { "\0", 1, RF_EINVAL, "empty" },
  { " \n", 0, RF_EINVAL, "empty" },
  /* A NUL inside. */
  { "c.example\0d", 11, RF_EINVAL, "entry 1 holds a control character" },
  { "c.example,,d", 0, RF_EINVAL, "entry 2 is empty" },
  { "c.example:0", 0, RF_EINVAL, "entry 1 'c.example:0': " PORT_WHY },
  { "http://c.example/", 0, RF_EINVAL,
    "entry 1 'http://c.example/': write HOST[:PORT], without a scheme" },
  { "\x89PNG garbage", 0, RF_EINVAL,
    "entry 1 holds a non-ASCII character (write an internationalised name "
    "in its xn-- form)" },
};
/* clang-format on */

Test(cachehost, dhcp_value_table)
{
  for (size_t i = 0; i < sizeof(value_rows) / sizeof(value_rows[0]); i++) {
    const value_row *r = &value_rows[i];
    size_t len = r->len ? r->len : strlen(r->value);
    rf_cache_host_list *l = (rf_cache_host_list *)1;
    rf_cache_dhcp *d = NULL;
    char why[256];
    int rc = rf__cache_dhcp_value(&l, why, sizeof(why), r->value, len);

    cr_expect_eq(rc, r->rc, "row %zu", i);
    if (r->rc == 0) {
      cr_expect_str_eq(fmt(l), r->want, "row %zu", i);
      rf_cache_host_list_free(l);
    } else {
      cr_expect_null(l, "row %zu", i);
      cr_expect_str_eq(why, r->want, "row %zu", i);
    }
    /* The public form says the same. */
    cr_assert_eq(rf_cache_dhcp_from_value(&d, r->value, len, "nm private_235"),
                 0);
    cr_expect_str_eq(d->source, "nm private_235");
    if (r->rc == 0) {
      cr_expect_eq(d->status, RF_CACHE_DHCP_FOUND, "row %zu", i);
      cr_expect_str_eq(fmt(d->hosts), r->want, "row %zu", i);
      cr_expect_null(d->why);
      cr_expect_str_eq(d->tried, "nm private_235 (found)");
    } else {
      cr_expect_eq(d->status, RF_CACHE_DHCP_MALFORMED, "row %zu", i);
      cr_expect_null(d->hosts);
      cr_expect_str_eq(d->why, r->want, "row %zu", i);
      cr_expect_str_eq(d->tried, "nm private_235 (malformed)");
    }
    rf_cache_dhcp_free(d);
  }
  ASSERT_NO_LEAKS();
}

Test(cachehost, dhcp_from_value_arguments)
{
  rf_cache_dhcp *d = (rf_cache_dhcp *)1;

  cr_expect_eq(rf_cache_dhcp_from_value(NULL, "a", 1, NULL), RF_EINVAL);
  cr_expect_eq(rf_cache_dhcp_from_value(&d, NULL, 1, NULL), RF_EINVAL);
  cr_expect_null(d);
  cr_assert_eq(rf_cache_dhcp_from_value(&d, NULL, 0, NULL), 0);
  cr_expect_eq(d->status, RF_CACHE_DHCP_MALFORMED);
  cr_expect_str_eq(d->source, "given");
  cr_expect_str_eq(d->why, "empty");
  rf_cache_dhcp_free(d);
  rf_cache_dhcp_free(NULL);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------------ lease files */

#define HEAD                                                    \
  "lease {\n  interface \"eth0\";\n  fixed-address 10.0.0.5;\n" \
  "  option routers 10.0.0.1;\n"
#define TAIL "  expire 2 2030/01/01 00:00:00;\n}\n"
#define NOW  1700000000 /* 2023-11-14 22:13:20 UTC */
/* "cache1.example,cache2.example:8080" */
#define LIST "cache1.example,cache2.example:8080"
#define LIST_HEX_DHCLIENT                                              \
  "63:61:63:68:65:31:2e:65:78:61:6d:70:6c:65:2c:63:61:63:68:65:32:2e:" \
  "65:78:61:6d:70:6c:65:3a:38:30:38:30:0"
#define LIST_HEX_NETWORKD \
  "6361636865312e6578616d706c652c6361636865322e6578616d706c653a38303830"
#define NETWORKD_HEAD                                                 \
  "# This is private data. Do not parse.\nADDRESS=10.0.0.5\n"         \
  "NETMASK=255.255.255.0\nROUTER=10.0.0.1\nSERVER_ADDRESS=10.0.0.1\n" \
  "LIFETIME=86400\n"

typedef struct lease_row {
  const char *what;
  const char *text;
  rf_cache_dhcp_status status;
  const char *want; /* FOUND: hosts; MALFORMED: why; NONE: tried's
                       reason for the file */
} lease_row;

/* clang-format off */
static const lease_row lease_rows[] = {
  /* dhclient, undeclared option: quoted when printable... */
  { "dhclient quoted", HEAD "  option unknown-235 \"" LIST "\";\n" TAIL,
    RF_CACHE_DHCP_FOUND, LIST },
  { "dhclient quoted, escapes", HEAD "  option unknown-235 \"c\\056example,"
    "d.example\\012\";\n" TAIL, RF_CACHE_DHCP_FOUND, "c.example,d.example" },
  /* ...hex with the server's final NUL when not. */
  { "dhclient hex", HEAD "  option unknown-235 " LIST_HEX_DHCLIENT ";\n" TAIL,
    RF_CACHE_DHCP_FOUND, LIST },
  /* Declared in dhclient.conf (ms-cache-host: see the conf file). */
  { "dhclient declared name", HEAD "  option ms-cache-host \"" LIST "\";\n"
    TAIL, RF_CACHE_DHCP_FOUND, LIST },
  { "dhclient declared name, hex", HEAD "  option MS-Cache-Host "
    LIST_HEX_DHCLIENT ";\n" TAIL, RF_CACHE_DHCP_FOUND, LIST },
  /* A name nobody declared is not option 235. */
  { "dhclient undeclared name", HEAD "  option cache-host \"" LIST "\";\n"
    TAIL, RF_CACHE_DHCP_NONE, "no option 235 in the current lease" },
  { "dhclient other code", HEAD "  option unknown-236 \"" LIST "\";\n" TAIL,
    RF_CACHE_DHCP_NONE, "no option 235 in the current lease" },
  /* The last lease counts. */
  { "dhclient last lease", HEAD "  option unknown-235 \"old.example\";\n"
    TAIL HEAD "  option unknown-235 \"new.example\";\n" TAIL,
    RF_CACHE_DHCP_FOUND, "new.example" },
  { "dhclient last lease without", HEAD "  option unknown-235 "
    "\"old.example\";\n" TAIL HEAD TAIL,
    RF_CACHE_DHCP_NONE, "no option 235 in the current lease" },
  { "dhclient cut short", HEAD "  option unknown-235 \"old.example\";\n" TAIL
    HEAD "  option unknown-235 \"new.exa", RF_CACHE_DHCP_FOUND,
    "old.example" },
  { "dhclient expired", "lease {\n  option unknown-235 \"c.example\";\n"
    "  expire 2 2023/11/14 22:13:19;\n}\n", RF_CACHE_DHCP_NONE,
    "last lease expired" },
  { "dhclient no lease", "default-duid \"\\000\\001\";\n",
    RF_CACHE_DHCP_NONE, "no lease" },
  { "empty file", "", RF_CACHE_DHCP_NONE, "no lease" },
  /* Malformed, dhclient. */
  { "dhclient bad hex", HEAD "  option unknown-235 63:61:zz;\n" TAIL,
    RF_CACHE_DHCP_MALFORMED, "bad hex" },
  { "dhclient hex, trailing colon", HEAD "  option unknown-235 63:61:;\n"
    TAIL, RF_CACHE_DHCP_MALFORMED, "bad hex" },
  { "dhclient hex, three digits", HEAD "  option unknown-235 636:61;\n"
    TAIL, RF_CACHE_DHCP_MALFORMED, "bad hex" },
  { "dhclient empty", HEAD "  option unknown-235 \"\";\n" TAIL,
    RF_CACHE_DHCP_MALFORMED, "empty" },
  { "dhclient NUL only", HEAD "  option unknown-235 0;\n" TAIL,
    RF_CACHE_DHCP_MALFORMED, "empty" },
  { "dhclient no value", HEAD "  option unknown-235;\n" TAIL,
    RF_CACHE_DHCP_MALFORMED, "no value" },
  { "dhclient two values", HEAD "  option unknown-235 \"a\" \"b\";\n" TAIL,
    RF_CACHE_DHCP_MALFORMED, "more than one value" },
  { "dhclient garbage list", HEAD "  option unknown-235 \"c.example:0,,x\";\n"
    TAIL, RF_CACHE_DHCP_MALFORMED, "entry 1 'c.example:0': " PORT_WHY },
  { "dhclient URL", HEAD "  option unknown-235 \"http://c.example/\";\n"
    TAIL, RF_CACHE_DHCP_MALFORMED,
    "entry 1 'http://c.example/': write HOST[:PORT], without a scheme" },
  { "dhclient control", HEAD "  option unknown-235 \"c.example\\001\";\n"
    TAIL, RF_CACHE_DHCP_MALFORMED, "entry 1 holds a control character" },
  /* systemd-networkd. */
  { "networkd", NETWORKD_HEAD "OPTION_235=" LIST_HEX_NETWORKD "\n",
    RF_CACHE_DHCP_FOUND, LIST },
  { "networkd upper-case hex, other options", NETWORKD_HEAD
    "OPTION_224=00\nOPTION_235=632E6578616D706C6500\nOPTION_252=00\n",
    RF_CACHE_DHCP_FOUND, "c.example" },
  { "networkd without", NETWORKD_HEAD "OPTION_234=00\n", RF_CACHE_DHCP_NONE,
    "no option 235 in the current lease" },
  /* NetworkManager's internal client since 1.20 stores no option. */
  { "NetworkManager internal",
    "# This is private data. Do not parse.\nADDRESS=192.168.122.167\n",
    RF_CACHE_DHCP_NONE, "no option 235 in the current lease" },
  { "networkd comments only", "# This is private data. Do not parse.\n",
    RF_CACHE_DHCP_NONE, "no lease" },
  /* Malformed, networkd. */
  { "networkd odd hex", NETWORKD_HEAD "OPTION_235=632\n",
    RF_CACHE_DHCP_MALFORMED, "bad hex" },
  { "networkd bad hex", NETWORKD_HEAD "OPTION_235=63zz\n",
    RF_CACHE_DHCP_MALFORMED, "bad hex" },
  { "networkd colons", NETWORKD_HEAD "OPTION_235=63:61\n",
    RF_CACHE_DHCP_MALFORMED, "bad hex" },
  { "networkd empty", NETWORKD_HEAD "OPTION_235=\n",
    RF_CACHE_DHCP_MALFORMED, "empty" },
  { "networkd garbage list", NETWORKD_HEAD "OPTION_235=632e6578616d706c653a30\n",
    RF_CACHE_DHCP_MALFORMED, "entry 1 'c.example:0': " PORT_WHY },
};
/* clang-format on */

/* The dhclient.conf of the lease table. */
static const char conf_text[] =
    "# /etc/dhcp/dhclient.conf\n"
    "option rfc3442-classless-static-routes code 121 = array of unsigned "
    "integer 8;\n"
    "option ms-cache-host code 235 = text;\n"
    "option vendor.cache code 235 = text;\n"
    "request subnet-mask, routers, ms-cache-host;\n";

Test(cachehost, lease_table)
{
  const char *conf[2], *files[2];
  rf_cache_dhcp_options o = RF_CACHE_DHCP_OPTIONS_INIT;
  char conf_path[256], lease_path[256];

  snprintf(conf_path, sizeof(conf_path), "%s", path_in("dhclient.conf"));
  snprintf(lease_path, sizeof(lease_path), "%s", path_in("lease"));
  conf[0] = conf_path;
  conf[1] = NULL;
  tf_write(conf[0], conf_text);
  o.dhclient_conf = conf;
  o.lease_files = files;
  o.now = NOW;
  files[0] = lease_path;
  files[1] = NULL;
  for (size_t i = 0; i < sizeof(lease_rows) / sizeof(lease_rows[0]); i++) {
    const lease_row *r = &lease_rows[i];
    rf_cache_dhcp *d = NULL;
    char want_tried[512];

    tf_write(files[0], r->text);
    cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0, "row %zu %s", i, r->what);
    cr_expect_eq(d->status, r->status, "row %zu %s: status %d", i, r->what,
                 d->status);
    switch (r->status) {
    case RF_CACHE_DHCP_FOUND:
      cr_expect_str_eq(d->hosts != NULL ? fmt(d->hosts) : "(null)", r->want,
                       "row %zu %s", i, r->what);
      cr_expect_str_eq(d->source, files[0]);
      cr_expect_null(d->why);
      snprintf(want_tried, sizeof(want_tried), "%s (found)", files[0]);
      break;
    case RF_CACHE_DHCP_MALFORMED:
      cr_expect_null(d->hosts);
      cr_expect_str_eq(d->why != NULL ? d->why : "(null)", r->want,
                       "row %zu %s", i, r->what);
      cr_expect_str_eq(d->source, files[0]);
      snprintf(want_tried, sizeof(want_tried), "%s (malformed: %s)", files[0],
               r->want);
      break;
    case RF_CACHE_DHCP_NONE:
      cr_expect_null(d->hosts);
      cr_expect_null(d->source);
      cr_expect_null(d->why);
      snprintf(want_tried, sizeof(want_tried), "%s (%s)", files[0], r->want);
      break;
    }
    cr_expect_str_eq(d->tried, want_tried, "row %zu %s", i, r->what);
    rf_cache_dhcp_free(d);
  }
  ASSERT_NO_LEAKS();
}

/* The hex forms generated from the bytes, both writers, for values with
 * every byte dhclient might print. */
Test(cachehost, lease_hex_roundtrip)
{
  static const char value[] = " 10.0.0.100:80, [2001:db8::5]:8080\n";
  char hex[1024], text[2048];
  rf__dhcp_option opt = { 235, NULL };
  rf__dhcp_answer a;
  rf_cache_host_list *l = NULL;

  dhclient_hex(hex, sizeof(hex), value, sizeof(value)); /* with the NUL */
  cr_assert_not_null(strstr(hex, ":a:0"));
  snprintf(text, sizeof(text), "lease {\n  option unknown-235 %s;\n}\n", hex);
  cr_assert_eq(rf__dhcp_parse_lease(&a, text, strlen(text), &opt, NOW), 0);
  cr_assert_eq(a.found, RF__DHCP_VALUE);
  cr_assert_eq(a.value_len, sizeof(value));
  cr_assert_eq(memcmp(a.value, value, sizeof(value)), 0);
  cr_assert_eq(rf__cache_dhcp_value(&l, NULL, 0, a.value, a.value_len), 0);
  cr_expect_str_eq(fmt(l), "10.0.0.100:80,[2001:db8::5]:8080");
  rf_cache_host_list_free(l);
  rf__dhcp_answer_free(&a);

  networkd_hex(hex, sizeof(hex), value, sizeof(value) - 1);
  snprintf(text, sizeof(text), "ADDRESS=10.0.0.5\nOPTION_235=%s\n", hex);
  cr_assert_eq(rf__dhcp_parse_lease(&a, text, strlen(text), &opt, NOW), 0);
  cr_assert_eq(a.found, RF__DHCP_VALUE);
  cr_assert_eq(a.value_len, sizeof(value) - 1);
  cr_assert_eq(memcmp(a.value, value, sizeof(value) - 1), 0);
  rf__dhcp_answer_free(&a);
  /* Past RF__DHCP_VALUE_MAX bytes. */
  {
    size_t n = 2 * RF__DHCP_VALUE_MAX + 2;
    char *big = malloc(n + 32);

    cr_assert_not_null(big);
    strcpy(big, "ADDRESS=1\nOPTION_235=");
    memset(big + strlen(big), '6', n);
    big[21 + n] = '\0';
    cr_assert_eq(rf__dhcp_parse_networkd(&a, big, strlen(big), 235), 0);
    cr_expect_eq(a.found, RF__DHCP_BAD_VALUE);
    cr_expect_str_eq(a.why, "longer than 4096 bytes");
    free(big);
  }
  ASSERT_NO_LEAKS();
}

Test(cachehost, lease_format_detection)
{
  static const struct {
    const char *text;
    int networkd;
  } rows[] = {
    { "ADDRESS=10.0.0.5\n", 1 },
    { "# This is private data. Do not parse.\n\nADDRESS=1\n", 1 },
    { "  \n# x\nOPTION_235=00\n", 1 },
    { "lease {\n}\n", 0 },
    { "default-duid \"\\000\";\nlease {\n}\n", 0 },
    { "option x=1;\n", 0 },
    { "=x\n", 0 },
    { "", 0 },
    { "# only a comment\n", 0 },
  };

  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    cr_expect_eq(rf__dhcp_is_networkd(rows[i].text, strlen(rows[i].text)),
                 rows[i].networkd, "row %zu", i);
  cr_expect_eq(rf__dhcp_is_networkd(NULL, 0), 0);
}

Test(cachehost, lease_parser_arguments)
{
  rf__dhcp_option opt = { 235, NULL }, bad = { 0, NULL };
  rf__dhcp_answer a;

  cr_expect_eq(rf__dhcp_parse_dhclient(NULL, "", 0, &opt, 0), RF_EINVAL);
  cr_expect_eq(rf__dhcp_parse_dhclient(&a, NULL, 1, &opt, 0), RF_EINVAL);
  cr_expect_eq(rf__dhcp_parse_dhclient(&a, "", 0, NULL, 0), RF_EINVAL);
  cr_expect_eq(rf__dhcp_parse_dhclient(&a, "", 0, &bad, 0), RF_EINVAL);
  bad.code = 255;
  cr_expect_eq(rf__dhcp_parse_dhclient(&a, "", 0, &bad, 0), RF_EINVAL);
  cr_expect_eq(rf__dhcp_parse_networkd(&a, "", 0, 0), RF_EINVAL);
  cr_expect_eq(rf__dhcp_parse_networkd(NULL, "", 0, 235), RF_EINVAL);
  cr_expect_eq(rf__dhcp_read_lease(&a, NULL, &opt, 0), RF_EINVAL);
  cr_expect_eq(rf__dhcp_read_lease(&a, "/nonexistent/lease", &opt, 0),
               RF_ENOENT);
  cr_expect_null(a.value);
  rf__dhcp_answer_free(NULL);
}

typedef struct decl_row {
  const char *text;
  const char *want; /* names joined by ' ' */
} decl_row;

/* clang-format off */
static const decl_row decl_rows[] = {
  { "option ms-cache-host code 235 = text;\n", "ms-cache-host" },
  { "option a code 235=text;\noption b code 235 =text;\n", "a b" },
  { "option a code 2350 = text;\noption b code 23 = text;\n"
    "option c code 0235 = text;\n", "c" },
  /* Other option spaces are not DHCP options. */
  { "option space ms;\noption ms.cache code 235 = text;\n", "" },
  /* Inside a block, in a comment, or not a declaration. */
  { "interface \"eth0\" { option x code 235 = text; }\n"
    "# option y code 235 = text;\n"
    "request z, code, 235;\nalso request unknown-235;\n", "" },
  { "option w code 235 = text", "" }, /* no ';': cut short */
  { "", "" },
};
/* clang-format on */

Test(cachehost, declared_names_table)
{
  for (size_t i = 0; i < sizeof(decl_rows) / sizeof(decl_rows[0]); i++) {
    char **v = NULL, got[256];
    size_t n = 0;

    cr_assert_eq(rf__dhcp_declared_names(&v, decl_rows[i].text,
                                         strlen(decl_rows[i].text), 235),
                 0, "row %zu", i);
    got[0] = '\0';
    for (size_t k = 0; v[k] != NULL; k++)
      n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s", k ? " " : "",
                            v[k]);
    cr_expect_str_eq(got, decl_rows[i].want, "row %zu", i);
    free(v);
  }
  cr_expect_eq(rf__dhcp_declared_names(NULL, "", 0, 235), RF_EINVAL);
  ASSERT_NO_LEAKS();
}

/* Several files: the first valid list wins, past unreadable and malformed
 * ones; else the first malformed one is reported. */
Test(cachehost, dhcp_read_several_files)
{
  const char *files[6], *none[1] = { NULL };
  rf_cache_dhcp_options o;
  rf_cache_dhcp *d = NULL;
  char want[2048];

  rf_cache_dhcp_options_init(&o);
  o.dhclient_conf = none;
  o.lease_files = files;
  o.now = NOW;
  files[0] = "/nonexistent/dhclient.leases";
  files[1] = path_in("bad1");
  files[2] = path_in("bad2");
  files[3] = path_in("empty");
  files[4] = path_in("good");
  files[5] = NULL;
  tf_write(files[1], NETWORKD_HEAD "OPTION_235=6\n");
  tf_write(files[2], HEAD "  option unknown-235 \"a,,b\";\n" TAIL);
  tf_write(files[3], HEAD TAIL);
  tf_write(files[4], NETWORKD_HEAD "OPTION_235=632e6578616d706c65\n");
  cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  cr_expect_eq(d->status, RF_CACHE_DHCP_FOUND);
  cr_expect_str_eq(fmt(d->hosts), "c.example");
  cr_expect_str_eq(d->source, files[4]);
  snprintf(want, sizeof(want),
           "/nonexistent/dhclient.leases (no such file or directory); "
           "%s (malformed: bad hex); %s (malformed: entry 2 is empty); "
           "%s (no option 235 in the current lease); %s (found)",
           files[1], files[2], files[3], files[4]);
  cr_expect_str_eq(d->tried, want);
  rf_cache_dhcp_free(d);

  /* Without the good one: the first malformed one. */
  files[4] = NULL;
  cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  cr_expect_eq(d->status, RF_CACHE_DHCP_MALFORMED);
  cr_expect_null(d->hosts);
  cr_expect_str_eq(d->source, files[1]);
  cr_expect_str_eq(d->why, "bad hex");
  rf_cache_dhcp_free(d);

  /* A directory and an empty list of files. */
  files[0] = dir;
  files[1] = NULL;
  cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  cr_expect_eq(d->status, RF_CACHE_DHCP_NONE);
  snprintf(want, sizeof(want), "%s (input/output error)", dir);
  cr_expect_str_eq(d->tried, want);
  rf_cache_dhcp_free(d);
  o.lease_files = none;
  cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  cr_expect_eq(d->status, RF_CACHE_DHCP_NONE);
  cr_expect_str_eq(d->tried, "no lease file");
  rf_cache_dhcp_free(d);
  ASSERT_NO_LEAKS();
}

Test(cachehost, dhcp_read_conf_files)
{
  const char *files[2], *conf[4];
  rf_cache_dhcp_options o = RF_CACHE_DHCP_OPTIONS_INIT;
  rf_cache_dhcp *d = NULL;
  char want[1024];

  files[0] = path_in("dhclient.eth0.leases");
  files[1] = NULL;
  tf_write(files[0], HEAD "  option corp-mcc \"mcc.corp.example\";\n" TAIL);
  o.lease_files = files;
  o.now = NOW;
  /* Not declared: not option 235. */
  conf[0] = NULL;
  o.dhclient_conf = conf;
  cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  cr_expect_eq(d->status, RF_CACHE_DHCP_NONE);
  rf_cache_dhcp_free(d);
  /* Declared in the second file; the first is missing, a directory
   * cannot be read (noted). */
  conf[0] = "/nonexistent/dhclient.conf";
  conf[1] = dir;
  conf[2] = path_in("dhclient.conf");
  conf[3] = NULL;
  tf_write(conf[2], "option corp-mcc code 235 = text;\n");
  cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  cr_expect_eq(d->status, RF_CACHE_DHCP_FOUND);
  cr_expect_str_eq(fmt(d->hosts), "mcc.corp.example");
  snprintf(want, sizeof(want),
           "dhclient configuration %s (input/output error: option names not "
           "known); %s (found)",
           dir, files[0]);
  cr_expect_str_eq(d->tried, want);
  rf_cache_dhcp_free(d);
  ASSERT_NO_LEAKS();
}

Test(cachehost, dhcp_read_arguments_and_defaults)
{
  rf_cache_dhcp_options o = RF_CACHE_DHCP_OPTIONS_INIT;
  rf_cache_dhcp *d = (rf_cache_dhcp *)1;

  cr_expect_eq(rf_cache_dhcp_read(NULL, NULL), RF_EINVAL);
  o.version = 0;
  cr_expect_eq(rf_cache_dhcp_read(&d, &o), RF_EINVAL);
  cr_expect_null(d);
  o.version = RF_CACHE_DHCP_OPTIONS_VERSION + 1;
  cr_expect_eq(rf_cache_dhcp_read(&d, &o), RF_EINVAL);
  rf_cache_dhcp_options_init(NULL);
  /* The machine's own files: whatever they hold, an answer. */
  cr_assert_eq(rf_cache_dhcp_read(&d, NULL), 0);
  cr_expect_not_null(d->tried);
  cr_expect_eq(d->status == RF_CACHE_DHCP_FOUND, d->hosts != NULL);
  rf_cache_dhcp_free(d);
  ASSERT_NO_LEAKS();
}

/* ---------------------------------------------------------- combining */

typedef struct combine_row {
  const char *what;
  const char *stat; /* static list; NULL: none */
  rf_cache_host_source source;
  int dhcp;               /* -1: not read; else an rf_cache_dhcp_status */
  const char *dhcp_value; /* FOUND: the list; MALFORMED: the value */
  const char *want;       /* the list */
  const char *note;
} combine_row;

#define SRC "/var/lib/dhcp/dhclient.eth0.leases"

/* clang-format off */
static const combine_row combine_rows[] = {
  { "static", "a,b:8080", RF_CACHE_HOST_SOURCE_STATIC, RF_CACHE_DHCP_FOUND,
    "d1,d2", "a,b:8080",
    "2 cache hosts from the static list (cache_host_source = static)" },
  { "static, one", "a", RF_CACHE_HOST_SOURCE_STATIC, -1, NULL, "a",
    "1 cache host from the static list (cache_host_source = static)" },
  { "static, none", NULL, RF_CACHE_HOST_SOURCE_STATIC, RF_CACHE_DHCP_FOUND,
    "d1", "", "no cache host (cache_host_source = static)" },
  { "static, duplicates", "a,A:80,a:8080,[::1],[::1]:80",
    RF_CACHE_HOST_SOURCE_STATIC, -1, NULL, "a,a:8080,[::1]",
    "3 cache hosts from the static list, 2 duplicates dropped "
    "(cache_host_source = static)" },
  /* dhcp: the static list first, then DHCP's. */
  { "dhcp", "a,b:8080", RF_CACHE_HOST_SOURCE_DHCP, RF_CACHE_DHCP_FOUND,
    "d1,d2", "a,b:8080,d1,d2",
    "4 cache hosts: 2 from the static list, then 2 from DHCP option 235 "
    "(" SRC ") (cache_host_source = dhcp)" },
  { "dhcp, overlap", "a,d1", RF_CACHE_HOST_SOURCE_DHCP, RF_CACHE_DHCP_FOUND,
    "D1:80,d2", "a,d1,d2",
    "3 cache hosts: 2 from the static list, then 1 from DHCP option 235 "
    "(" SRC "), 1 duplicate dropped (cache_host_source = dhcp)" },
  { "dhcp, no static list", NULL, RF_CACHE_HOST_SOURCE_DHCP,
    RF_CACHE_DHCP_FOUND, "d1", "d1",
    "1 cache host from DHCP option 235 (" SRC ") (cache_host_source = "
    "dhcp)" },
  { "dhcp, malformed", "a", RF_CACHE_HOST_SOURCE_DHCP,
    RF_CACHE_DHCP_MALFORMED, "x:0", "a",
    "DHCP option 235 malformed (" SRC ": entry 1 'x:0': " PORT_WHY "): "
    "using the static list, 1 cache host (cache_host_source = dhcp)" },
  { "dhcp, none", "a,b", RF_CACHE_HOST_SOURCE_DHCP, RF_CACHE_DHCP_NONE,
    NULL, "a,b",
    "no DHCP option 235: using the static list, 2 cache hosts "
    "(cache_host_source = dhcp)" },
  { "dhcp, not read", "a", RF_CACHE_HOST_SOURCE_DHCP, -1, NULL, "a",
    "DHCP option 235 not read: using the static list, 1 cache host "
    "(cache_host_source = dhcp)" },
  /* dhcp-force: DHCP's instead of the static list... */
  { "dhcp-force", "a,b", RF_CACHE_HOST_SOURCE_DHCP_FORCE,
    RF_CACHE_DHCP_FOUND, "d1,d2,d1", "d1,d2",
    "2 cache hosts from DHCP option 235 (" SRC "), 1 duplicate dropped "
    "(cache_host_source = dhcp-force)" },
  { "dhcp-force, same hosts", "d1", RF_CACHE_HOST_SOURCE_DHCP_FORCE,
    RF_CACHE_DHCP_FOUND, "d1", "d1",
    "1 cache host from DHCP option 235 (" SRC ") (cache_host_source = "
    "dhcp-force)" },
  /* ...unless it is malformed or absent. */
  { "dhcp-force, malformed", "a,b", RF_CACHE_HOST_SOURCE_DHCP_FORCE,
    RF_CACHE_DHCP_MALFORMED, "", "a,b",
    "DHCP option 235 malformed (" SRC ": empty): using the static list, 2 "
    "cache hosts (cache_host_source = dhcp-force)" },
  { "dhcp-force, malformed, no static list", NULL,
    RF_CACHE_HOST_SOURCE_DHCP_FORCE, RF_CACHE_DHCP_MALFORMED, "a,,b", "",
    "DHCP option 235 malformed (" SRC ": entry 2 is empty): the static list "
    "is empty, no cache host (cache_host_source = dhcp-force)" },
  { "dhcp-force, none", "a", RF_CACHE_HOST_SOURCE_DHCP_FORCE,
    RF_CACHE_DHCP_NONE, NULL, "a",
    "no DHCP option 235: using the static list, 1 cache host "
    "(cache_host_source = dhcp-force)" },
};
/* clang-format on */

/* A DHCP result for a row: from a value, or read from no file at all. */
static rf_cache_dhcp *row_dhcp(const combine_row *r)
{
  rf_cache_dhcp *d = NULL;

  if (r->dhcp == -1)
    return NULL;
  if (r->dhcp == RF_CACHE_DHCP_NONE) {
    const char *none[1] = { NULL };
    rf_cache_dhcp_options o = RF_CACHE_DHCP_OPTIONS_INIT;

    o.lease_files = none;
    o.dhclient_conf = none;
    cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  } else {
    cr_assert_eq(
        rf_cache_dhcp_from_value(&d, r->dhcp_value, strlen(r->dhcp_value), SRC),
        0);
  }
  cr_assert_eq(d->status, (rf_cache_dhcp_status)r->dhcp, "%s", r->what);
  return d;
}

Test(cachehost, combine_table)
{
  for (size_t i = 0; i < sizeof(combine_rows) / sizeof(combine_rows[0]); i++) {
    const combine_row *r = &combine_rows[i];
    rf_cache_policy p = RF_CACHE_POLICY_INIT;
    rf_cache_host_list *l = NULL;
    rf_cache_dhcp *d = row_dhcp(r);
    char note[512];

    if (r->stat != NULL)
      cr_assert_eq(rf_cache_host_list_parse(&p.hosts, r->stat, NULL, 0), 0);
    p.source = r->source;
    cr_assert_eq(rf_cache_hosts_combine(&l, note, sizeof(note), &p, d), 0,
                 "row %zu %s", i, r->what);
    cr_expect_str_eq(fmt(l), r->want, "row %zu %s", i, r->what);
    cr_expect_str_eq(note, r->note, "row %zu %s", i, r->what);
    cr_expect_eq(l->count == 0, l->hosts == NULL);
    rf_cache_host_list_free(l);
    rf_cache_dhcp_free(d);
    rf_cache_policy_clear(&p);
  }
  ASSERT_NO_LEAKS();
}

Test(cachehost, combine_arguments)
{
  rf_cache_policy p;
  rf_cache_host_list *l = (rf_cache_host_list *)1;
  char note[8] = "unset";

  rf_cache_policy_init(&p);
  cr_expect_eq(rf_cache_hosts_combine(NULL, NULL, 0, &p, NULL), RF_EINVAL);
  cr_expect_eq(rf_cache_hosts_combine(&l, note, sizeof(note), NULL, NULL),
               RF_EINVAL);
  cr_expect_null(l);
  cr_expect_str_eq(note, "");
  p.version = 0;
  cr_expect_eq(rf_cache_hosts_combine(&l, NULL, 0, &p, NULL), RF_EINVAL);
  p.version = RF_CACHE_POLICY_VERSION + 1;
  cr_expect_eq(rf_cache_hosts_combine(&l, NULL, 0, &p, NULL), RF_EINVAL);
  rf_cache_policy_init(&p);
  p.source = (rf_cache_host_source)3;
  cr_expect_eq(rf_cache_hosts_combine(&l, NULL, 0, &p, NULL), RF_EINVAL);
  rf_cache_policy_init(&p);
  p.proxy = (rf_cache_host_proxy)2;
  cr_expect_eq(rf_cache_hosts_combine(&l, NULL, 0, &p, NULL), RF_EINVAL);
  /* A short note is cut, never overrun. */
  rf_cache_policy_init(&p);
  cr_assert_eq(rf_cache_hosts_combine(&l, note, sizeof(note), &p, NULL), 0);
  cr_expect_str_eq(note, "no cach");
  cr_expect_eq(l->count, 0);
  rf_cache_host_list_free(l);
  ASSERT_NO_LEAKS();
}

Test(cachehost, names_and_policy_defaults)
{
  rf_cache_policy p = RF_CACHE_POLICY_INIT, q;

  cr_expect_str_eq(rf_cache_host_source_name(RF_CACHE_HOST_SOURCE_STATIC),
                   "static");
  cr_expect_str_eq(rf_cache_host_source_name(RF_CACHE_HOST_SOURCE_DHCP),
                   "dhcp");
  cr_expect_str_eq(rf_cache_host_source_name(RF_CACHE_HOST_SOURCE_DHCP_FORCE),
                   "dhcp-force");
  cr_expect_str_eq(rf_cache_host_source_name((rf_cache_host_source)9), "?");
  cr_expect_str_eq(rf_cache_host_proxy_name(RF_CACHE_HOST_PROXY_AUTO), "auto");
  cr_expect_str_eq(rf_cache_host_proxy_name(RF_CACHE_HOST_PROXY_DIRECT),
                   "direct");
  cr_expect_str_eq(rf_cache_host_proxy_name((rf_cache_host_proxy)9), "?");
  memset(&q, 0x5a, sizeof(q));
  rf_cache_policy_init(&q);
  cr_expect_eq(q.version, RF_CACHE_POLICY_VERSION);
  cr_expect_null(q.hosts);
  cr_expect_eq(q.source, RF_CACHE_HOST_SOURCE_STATIC);
  cr_expect_eq(q.fallback_delay_s, 0);
  cr_expect_eq(q.proxy, RF_CACHE_HOST_PROXY_AUTO);
  cr_expect_eq(p.version, RF_CACHE_POLICY_VERSION);
  cr_expect_null(p.hosts);
  cr_expect_eq(p.source, RF_CACHE_HOST_SOURCE_STATIC);
  cr_expect_eq(p.fallback_delay_s, 0);
  cr_expect_eq(p.proxy, RF_CACHE_HOST_PROXY_AUTO);
  cr_assert_eq(rf_cache_host_list_parse(&q.hosts, "a", NULL, 0), 0);
  q.fallback_delay_s = RF_CACHE_FALLBACK_NEVER;
  q.source = RF_CACHE_HOST_SOURCE_DHCP;
  q.proxy = RF_CACHE_HOST_PROXY_DIRECT;
  rf_cache_policy_clear(&q);
  cr_expect_null(q.hosts);
  cr_expect_eq(q.version, RF_CACHE_POLICY_VERSION);
  cr_expect_eq(q.source, RF_CACHE_HOST_SOURCE_STATIC);
  cr_expect_eq(q.fallback_delay_s, 0);
  cr_expect_eq(q.proxy, RF_CACHE_HOST_PROXY_AUTO);
  rf_cache_policy_clear(NULL);
  rf_cache_policy_init(NULL);
  ASSERT_NO_LEAKS();
}

/* ------------------------------------------------- policy from files */

/* sys_dir and user_dir under the test's directory. */
static void policy_dirs(const char **sys, const char **user)
{
  *sys = path_in("etc");
  *user = path_in("home");
  mkdir(*sys, 0755);
  mkdir(*user, 0755);
}

Test(cachehost, policy_device_wins_key_by_key)
{
  const char *sys, *user;
  rf_cache_policy p;
  char note[2048], err[512], want[2048], up[300], dp[300];

  policy_dirs(&sys, &user);
  snprintf(up, sizeof(up), "%s/proxy.conf", user);
  snprintf(dp, sizeof(dp), "%s/proxy.conf", sys);
  tf_write(up, "cache_host = user1.example, user2.example:8080\n"
               "cache_host_source = dhcp\n"
               "cache_fallback_delay = 30\n");
  tf_write(dp, "proxy = http://proxy.example:3128\n"
               "cache_fallback_delay = never\n"
               "cache_host_proxy = direct\n");
  cr_assert_eq(rf_cache_policy_load(&p, note, sizeof(note), RF_CONTEXT_USER,
                                    sys, user, err, sizeof(err)),
               0, "%s", err);
  cr_expect_str_eq(err, "");
  cr_expect_str_eq(fmt(p.hosts), "user1.example,user2.example:8080");
  cr_expect_eq(p.source, RF_CACHE_HOST_SOURCE_DHCP);
  cr_expect_eq(p.fallback_delay_s, RF_CACHE_FALLBACK_NEVER);
  cr_expect_eq(p.proxy, RF_CACHE_HOST_PROXY_DIRECT);
  snprintf(want, sizeof(want),
           "cache hosts: cache_host = user1.example,user2.example:8080 "
           "(user scope, %s:1); cache_host_source = dhcp (user scope, "
           "%s:2); cache_fallback_delay = -1 (device-wide scope, %s:2; over "
           "the user scope's line 3); cache_host_proxy = direct "
           "(device-wide scope, %s:3)",
           up, up, dp, dp);
  cr_expect_str_eq(note, want);
  rf_cache_policy_clear(&p);

  /* The device-wide list replaces the user's, it is not merged. */
  tf_write(dp, "cache_host = [2001:db8::1]\n");
  cr_assert_eq(rf_cache_policy_load(&p, NULL, 0, RF_CONTEXT_USER, sys, user,
                                    err, sizeof(err)),
               0, "%s", err);
  cr_expect_str_eq(fmt(p.hosts), "[2001:db8::1]");
  cr_expect_eq(p.source, RF_CACHE_HOST_SOURCE_DHCP);
  cr_expect_eq(p.fallback_delay_s, 30);
  cr_expect_eq(p.proxy, RF_CACHE_HOST_PROXY_AUTO);
  rf_cache_policy_clear(&p);

  /* Service context: the user's keys are not used. */
  cr_assert_eq(rf_cache_policy_load(&p, note, sizeof(note), RF_CONTEXT_SERVICE,
                                    sys, user, err, sizeof(err)),
               0, "%s", err);
  cr_expect_str_eq(fmt(p.hosts), "[2001:db8::1]");
  cr_expect_eq(p.source, RF_CACHE_HOST_SOURCE_STATIC);
  cr_expect_eq(p.fallback_delay_s, 0);
  snprintf(want, sizeof(want),
           "cache hosts: cache_host = [2001:db8::1] (device-wide scope, "
           "%s:1); cache_host_source = static (default); "
           "cache_fallback_delay = 0 (default); cache_host_proxy = auto "
           "(default); the user scope's cache keys are not used in service "
           "context",
           dp);
  cr_expect_str_eq(note, want);
  rf_cache_policy_clear(&p);
  ASSERT_NO_LEAKS();
}

Test(cachehost, policy_missing_files_and_errors)
{
  const char *sys, *user;
  rf_cache_policy p;
  char note[1024], err[512], want[512], dp[300], up[300];

  policy_dirs(&sys, &user);
  snprintf(up, sizeof(up), "%s/proxy.conf", user);
  snprintf(dp, sizeof(dp), "%s/proxy.conf", sys);
  /* No file: the defaults. */
  cr_assert_eq(rf_cache_policy_load(&p, note, sizeof(note), RF_CONTEXT_USER,
                                    sys, user, err, sizeof(err)),
               0, "%s", err);
  cr_expect_null(p.hosts);
  cr_expect_str_eq(note, "cache hosts: cache_host = none (default); "
                         "cache_host_source = static (default); "
                         "cache_fallback_delay = 0 (default); "
                         "cache_host_proxy = auto (default)");
  rf_cache_policy_clear(&p);
  /* A malformed file fails, naming file and line, even one the context
   * does not use. */
  tf_write(up, "# mine\ncache_host = a,,b\n");
  cr_expect_eq(rf_cache_policy_load(&p, note, sizeof(note), RF_CONTEXT_SERVICE,
                                    sys, user, err, sizeof(err)),
               RF_EINVAL);
  snprintf(want, sizeof(want), "%s:2: 'cache_host': entry 2 is empty", up);
  cr_expect_str_eq(err, want);
  cr_expect_str_eq(note, "");
  cr_expect_null(p.hosts);
  unlink(up);
  tf_write(dp, "cache_host_source = force\n");
  cr_expect_eq(rf_cache_policy_load(&p, NULL, 0, RF_CONTEXT_USER, sys, user,
                                    err, sizeof(err)),
               RF_EINVAL);
  snprintf(want, sizeof(want),
           "%s:1: 'cache_host_source' must be static, dhcp or dhcp-force, "
           "not 'force'",
           dp);
  cr_expect_str_eq(err, want);
  /* Unreadable. */
  if (geteuid() != 0) {
    tf_write(dp, "cache_host = a\n");
    chmod(dp, 0);
    cr_expect_eq(rf_cache_policy_load(&p, NULL, 0, RF_CONTEXT_USER, sys, user,
                                      err, sizeof(err)),
                 RF_EACCES);
    cr_expect(strstr(err, "permission denied") != NULL, "%s", err);
  }
  /* Arguments. */
  cr_expect_eq(rf_cache_policy_load(NULL, NULL, 0, RF_CONTEXT_USER, sys, user,
                                    err, sizeof(err)),
               RF_EINVAL);
  cr_expect_eq(rf_cache_policy_load(&p, NULL, 0, (rf_context)7, sys, user, err,
                                    sizeof(err)),
               RF_EINVAL);
  cr_expect_eq(rf_cache_policy_load(&p, NULL, 0, RF_CONTEXT_USER, "", user, err,
                                    sizeof(err)),
               RF_EINVAL);
  cr_expect_null(p.hosts);
  ASSERT_NO_LEAKS();
}

/* The loaded policy, DHCP and the combination, end to end. */
Test(cachehost, policy_dhcp_combined)
{
  const char *sys, *user, *files[2], *none[1] = { NULL };
  rf_cache_dhcp_options o = RF_CACHE_DHCP_OPTIONS_INIT;
  rf_cache_policy p;
  rf_cache_dhcp *d = NULL;
  rf_cache_host_list *l = NULL;
  char note[1024], err[512], dp[300], want[1024];

  policy_dirs(&sys, &user);
  snprintf(dp, sizeof(dp), "%s/proxy.conf", sys);
  tf_write(dp, "cache_host = 10.0.0.100:80,myhost2.com:8080\n"
               "cache_host_source = dhcp-force\n");
  files[0] = path_in("leases");
  files[1] = NULL;
  tf_write(files[0], NETWORKD_HEAD "OPTION_235=" LIST_HEX_NETWORKD "\n");
  o.lease_files = files;
  o.dhclient_conf = none;
  cr_assert_eq(rf_cache_policy_load(&p, NULL, 0, RF_CONTEXT_USER, sys, user,
                                    err, sizeof(err)),
               0, "%s", err);
  cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  cr_assert_eq(rf_cache_hosts_combine(&l, note, sizeof(note), &p, d), 0);
  cr_expect_str_eq(fmt(l), LIST);
  snprintf(want, sizeof(want),
           "2 cache hosts from DHCP option 235 (%s) (cache_host_source = "
           "dhcp-force)",
           files[0]);
  cr_expect_str_eq(note, want);
  rf_cache_host_list_free(l);
  rf_cache_dhcp_free(d);
  /* A malformed option falls back to the static list. */
  tf_write(files[0], NETWORKD_HEAD "OPTION_235=zz\n");
  cr_assert_eq(rf_cache_dhcp_read(&d, &o), 0);
  cr_assert_eq(rf_cache_hosts_combine(&l, note, sizeof(note), &p, d), 0);
  cr_expect_str_eq(fmt(l), "10.0.0.100:80,myhost2.com:8080");
  snprintf(want, sizeof(want),
           "DHCP option 235 malformed (%s: bad hex): using the static list, "
           "2 cache hosts (cache_host_source = dhcp-force)",
           files[0]);
  cr_expect_str_eq(note, want);
  rf_cache_host_list_free(l);
  rf_cache_dhcp_free(d);
  rf_cache_policy_clear(&p);
  ASSERT_NO_LEAKS();
}
