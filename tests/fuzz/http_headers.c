/*
 * The response-header parsers (engine/util/http.c) as engine/transfer.c
 * uses them: the input is a response head, one header line per '\n', each
 * line handed over as libcurl's header callback does (with its line end).
 * Content-Range, Retry-After, Last-Modified / Date (HTTP-dates), Link
 * (mirrors, gathered over the lines into one list), Repr-Digest and Digest;
 * an "X-Checksum" line goes to the checksum parser of --checksum.  Each
 * value is copied to a buffer of its exact size.
 */
#include "fuzz.h"

#include "rangefetch/rangefetch.h"
#include "util/http.h"

#define NOW      1700000000 /* a fixed "now" for Retry-After dates */
#define BASE_URL "https://origin.example/dir/file.iso?x=1"

static void content_range(const char *v, size_t n)
{
  rf__content_range cr;
  int rc = rf__parse_content_range(v, n, &cr);

  if (rc != 0 && rc != RF_EPROTO)
    fuzz_fail("content_range returned %d", rc);
  if (rc == 0 && !cr.unsatisfied &&
      (cr.first > cr.last ||
       (cr.complete != RF_SIZE_UNKNOWN && cr.last >= cr.complete)))
    fuzz_fail("content_range gave %llu-%llu/%llu", (unsigned long long)cr.first,
              (unsigned long long)cr.last, (unsigned long long)cr.complete);
}

static void retry_after(const char *v, size_t n)
{
  uint64_t ms = 0;
  int rc = rf__parse_retry_after(v, n, NOW, &ms);

  if (rc != 0 && rc != RF_EINVAL)
    fuzz_fail("retry_after returned %d", rc);
  if (rc == 0 && ms > 86400u * 1000u)
    fuzz_fail("retry_after gave %llu ms, over a day", (unsigned long long)ms);
}

/* A parsed date formats to a date that parses back to the same time,
 * unless a leap second (:60) or day 31 rolled 31 Dec 9999 over into the
 * year 10000, which an HTTP-date cannot write. */
static void http_date(const char *v, size_t n)
{
  const int64_t y10000 = 253402300800; /* 10000-01-01T00:00:00Z */
  char again[64];
  int64_t t = 0, t2 = 0;

  if (rf__parse_http_date(v, n, &t) != 0)
    return;
  if (t < 0)
    fuzz_fail("http_date gave %lld", (long long)t);
  if (t >= y10000)
    return;
  rf__http_format_date(again, sizeof(again), t);
  if (rf__parse_http_date(again, strlen(again), &t2) != 0 || t2 != t)
    fuzz_fail("http_date: %lld formats as '%s', which parses as %lld",
              (long long)t, again, (long long)t2);
}

static void link_mirrors(const char *v, size_t n, rf__mirror_list *list)
{
  char err[300];
  size_t before = list->n;
  int rc = rf__parse_link_mirrors(v, n, BASE_URL, list, err, sizeof(err));

  if (rc != 0 && rc != RF_EPROTO && rc != RF_ENOMEM)
    fuzz_fail("link_mirrors returned %d", rc);
  if (rc != 0 && list->n != before)
    fuzz_fail("link_mirrors failed but changed the list");
  if (list->n > RF__MIRRORS_MAX)
    fuzz_fail("link_mirrors: %zu mirrors", list->n);
  for (size_t i = 0; i < list->n; i++) {
    const rf__mirror *m = &list->v[i];
    if (m->url == NULL || strncmp(m->url, "http", 4) != 0 || m->pri < 1 ||
        m->pri > RF__MIRROR_PRI_NONE ||
        (m->geo[0] != '\0' && (m->geo[1] == '\0' || m->geo[2] != '\0')))
      fuzz_fail("link_mirrors: a bad mirror %zu", i);
  }
}

static void digests(const char *v, size_t n, int repr)
{
  unsigned char out[32];
  char err[300];
  int rc = repr ? rf__parse_repr_digest(v, n, out, err, sizeof(err))
                : rf__parse_digest(v, n, out, err, sizeof(err));

  if (rc != 0 && rc != 1 && rc != RF_EPROTO)
    fuzz_fail("%s returned %d", repr ? "repr_digest" : "digest", rc);
}

static void checksum(const char *v, size_t n)
{
  unsigned char out[32];
  char err[300];
  char *s = fuzz_cstr((const uint8_t *)v, n);
  int rc = rf__parse_checksum(s, out, err, sizeof(err));

  if (rc != 1 && rc != 2 && rc != RF_EINVAL)
    fuzz_fail("checksum returned %d", rc);
  free(s);
}

/* One header line (n bytes at line, with its line end). */
static void header_line(const char *line, size_t n, rf__mirror_list *list)
{
  const char *v;
  size_t vl;
  char *copy;

  if (rf__header_match(line, n, "Content-Range", &v, &vl)) {
    copy = fuzz_bytes((const uint8_t *)v, vl);
    content_range(copy, vl);
  } else if (rf__header_match(line, n, "Retry-After", &v, &vl)) {
    copy = fuzz_bytes((const uint8_t *)v, vl);
    retry_after(copy, vl);
  } else if (rf__header_match(line, n, "Last-Modified", &v, &vl) ||
             rf__header_match(line, n, "Date", &v, &vl) ||
             rf__header_match(line, n, "Expires", &v, &vl)) {
    copy = fuzz_bytes((const uint8_t *)v, vl);
    http_date(copy, vl);
  } else if (rf__header_match(line, n, "Link", &v, &vl)) {
    copy = fuzz_bytes((const uint8_t *)v, vl);
    link_mirrors(copy, vl, list);
  } else if (rf__header_match(line, n, "Repr-Digest", &v, &vl) ||
             rf__header_match(line, n, "Content-Digest", &v, &vl)) {
    copy = fuzz_bytes((const uint8_t *)v, vl);
    digests(copy, vl, 1);
  } else if (rf__header_match(line, n, "Digest", &v, &vl)) {
    copy = fuzz_bytes((const uint8_t *)v, vl);
    digests(copy, vl, 0);
  } else if (rf__header_match(line, n, "X-Checksum", &v, &vl)) {
    copy = fuzz_bytes((const uint8_t *)v, vl);
    checksum(copy, vl);
  } else {
    return;
  }
  if (v < line || vl > n || (size_t)(v - line) > n - vl)
    fuzz_fail("header_match: a value outside the line");
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rf__mirror_list list = RF__MIRROR_LIST_INIT;

  while (size > 0) {
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n = nl != NULL ? (size_t)(nl - data) + 1 : size;
    char *line = fuzz_bytes(data, n);

    header_line(line, n, &list);
    free(line);
    data += n;
    size -= n;
  }
  rf__mirror_list_free(&list);
  return 0;
}
