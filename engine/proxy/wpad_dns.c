/*
 * WPAD by DNS, the pure parts (see wpad.h and docs/wpad.md): the candidate
 * names "wpad.<domain>", devolved label by label no further than the
 * registrable domain the public suffix list (libpsl) gives, and the search
 * domains of resolv.conf.  The lookups themselves run in wpad.c.
 */
#include "wpad_int.h"

#include <stdlib.h>
#include <string.h>

#include "rangefetch/rangefetch.h"

/* ---------------------------------------------------------- candidates */

/* Special-use domains not resolved through the DNS (RFC 6761, 6762, 7686)
 * and the reverse-mapping trees: never a WPAD suffix. */
static const char *const wpad_special[] = {
  "local", "localhost", "invalid", "onion", "in-addr.arpa", "ip6.arpa",
};

/* Whether d equals s or ends with "." s. */
static int wpad_in_domain(const char *d, size_t dlen, const char *s)
{
  size_t slen = strlen(s);

  if (dlen < slen || memcmp(d + dlen - slen, s, slen) != 0)
    return 0;
  return dlen == slen || d[dlen - slen - 1] == '.';
}

/*
 * Normalises domain into out (at least RF__WPAD_NAME_MAX + 1 bytes): lower
 * case, one trailing dot dropped.  Returns 1 when it is a usable domain
 * (see rf__wpad_candidates), else 0.
 */
static int wpad_norm_domain(char *out, const char *in)
{
  size_t len = strlen(in), i, label = 0;
  int digits_only = 1;

  if (len > 0 && in[len - 1] == '.')
    len--;
  /* "wpad." + domain must be a valid name. */
  if (len == 0 || len + 5 > RF__WPAD_NAME_MAX)
    return 0;
  for (i = 0; i < len; i++) {
    char c = in[i];

    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    out[i] = c;
    if (c == '.') {
      if (label == 0 || out[i - 1] == '-')
        return 0;
      label = 0;
      digits_only = 1;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return 0;
    if (c == '-' && label == 0)
      return 0;
    if (!(c >= '0' && c <= '9'))
      digits_only = 0;
    if (++label > 63)
      return 0;
  }
  out[len] = '\0';
  if (label == 0 || out[len - 1] == '-' || digits_only)
    return 0;
  for (i = 0; i < sizeof(wpad_special) / sizeof(wpad_special[0]); i++) {
    if (wpad_in_domain(out, len, wpad_special[i]))
      return 0;
  }
  return 1;
}

/* Fills c for suffix s (slen bytes, slen + 5 <= RF__WPAD_NAME_MAX). */
static void wpad_candidate_set(rf__wpad_candidate *c, const char *s,
                               size_t slen)
{
  memcpy(c->name, "wpad.", 5);
  memcpy(c->name + 5, s, slen);
  c->name[5 + slen] = '\0';
  memcpy(c->url, "http://", 7);
  memcpy(c->url + 7, c->name, 5 + slen);
  memcpy(c->url + 12 + slen, "/wpad.dat", sizeof("/wpad.dat"));
}

const char *rf__wpad_host_domain(const char *fqdn)
{
  const char *dot;

  if (fqdn == NULL)
    return NULL;
  dot = strchr(fqdn, '.');
  if (dot == NULL || dot[1] == '\0' || dot[1] == '.')
    return NULL;
  return dot + 1;
}

/* Append "wpad.s" to the list (grown as needed).  Returns 0, RF_ENOMEM. */
static int wpad_candidate_add(rf__wpad_candidate **list, size_t *n,
                              size_t *cap, const char *s, size_t slen)
{
  if (*n == *cap) {
    size_t ncap = *cap != 0 ? *cap * 2 : 4;
    rf__wpad_candidate *p = realloc(*list, ncap * sizeof(*p));

    if (p == NULL)
      return RF_ENOMEM;
    *list = p;
    *cap = ncap;
  }
  wpad_candidate_set(&(*list)[*n], s, slen);
  (*n)++;
  return 0;
}

int rf__wpad_candidates(rf__wpad_candidate **out, size_t *n_out,
                        size_t *skipped, const psl_ctx_t *psl,
                        const char *const *domains, size_t max)
{
  rf__wpad_candidate *list = NULL;
  size_t n = 0, cap = 0, skip = 0, d;
  char dom[RF__WPAD_NAME_MAX + 1];
  int err = 0;

  if (out != NULL)
    *out = NULL;
  if (n_out != NULL)
    *n_out = 0;
  if (skipped != NULL)
    *skipped = 0;
  if (out == NULL || n_out == NULL || psl == NULL)
    return RF_EINVAL;
  if (max == 0)
    max = RF__WPAD_DEFAULT_MAX_CANDIDATES;
  for (d = 0; domains != NULL && domains[d] != NULL && n < max; d++) {
    const char *reg, *s;
    size_t reg_len, added = 0;

    if (!wpad_norm_domain(dom, domains[d])) {
      skip++;
      continue;
    }
    reg = psl_registrable_domain(psl, dom);
    if (reg == NULL) { /* dom is a public suffix */
      skip++;
      continue;
    }
    reg_len = strlen(reg);
    for (s = dom; n < max; s = strchr(s, '.') + 1) {
      size_t i, slen = strlen(s);

      /* Second guard: never a single label, never a public suffix. */
      if (slen < reg_len || strchr(s, '.') == NULL ||
          psl_is_public_suffix(psl, s))
        break;
      for (i = 0; i < n; i++) {
        if (strcmp(list[i].name + 5, s) == 0)
          break;
      }
      if (i == n) {
        err = wpad_candidate_add(&list, &n, &cap, s, slen);
        if (err != 0)
          goto out;
        added++;
      }
      if (slen == reg_len)
        break;
    }
    if (added == 0)
      skip++;
  }
out:
  if (err != 0) {
    free(list);
    return err;
  }
  if (n == 0) {
    free(list);
    list = NULL;
  }
  *out = list;
  *n_out = n;
  if (skipped != NULL)
    *skipped = skip;
  return 0;
}

/* --------------------------------------------------------- resolv.conf */

int rf__wpad_parse_resolv(char ***out, size_t *n_out, const char *text,
                          size_t len)
{
  const char **starts = NULL;
  size_t *lens = NULL;
  size_t n = 0, cap = 0, pos = 0;
  char **v;
  int err = 0;

  if (out != NULL)
    *out = NULL;
  if (n_out != NULL)
    *n_out = 0;
  if (out == NULL || (text == NULL && len > 0))
    return RF_EINVAL;
  while (pos < len) {
    size_t eol = pos, kw, kwlen, p, words = 0, first = 0;
    int is_search;

    while (eol < len && text[eol] != '\n')
      eol++;
    kw = pos;
    pos = eol + 1;
    /* The keyword starts the line. */
    kwlen = 0;
    while (kw + kwlen < eol && !rf__wpad_is_space(text[kw + kwlen]))
      kwlen++;
    if (kwlen == 6 && memcmp(text + kw, "search", 6) == 0)
      is_search = 1;
    else if (kwlen == 6 && memcmp(text + kw, "domain", 6) == 0)
      is_search = 0;
    else
      continue;
    /* Count the words first: a line without any changes nothing. */
    for (p = kw + kwlen; p < eol;) {
      while (p < eol && rf__wpad_is_space(text[p]))
        p++;
      if (p == eol || text[p] == '#' || text[p] == ';')
        break;
      if (words == 0)
        first = p;
      words++;
      while (p < eol && !rf__wpad_is_space(text[p]) && text[p] != '#' &&
             text[p] != ';')
        p++;
    }
    if (words == 0)
      continue;
    if (!is_search)
      words = 1;
    n = 0;
    if (words > cap) {
      const char **ns = realloc(starts, words * sizeof(*ns));
      size_t *nl;

      if (ns == NULL) {
        err = RF_ENOMEM;
        goto out;
      }
      starts = ns;
      nl = realloc(lens, words * sizeof(*nl));
      if (nl == NULL) {
        err = RF_ENOMEM;
        goto out;
      }
      lens = nl;
      cap = words;
    }
    for (p = first; p < eol && n < words;) {
      size_t w;

      while (p < eol && rf__wpad_is_space(text[p]))
        p++;
      if (p == eol || text[p] == '#' || text[p] == ';')
        break;
      w = p;
      while (p < eol && !rf__wpad_is_space(text[p]) && text[p] != '#' &&
             text[p] != ';')
        p++;
      starts[n] = text + w;
      lens[n] = p - w;
      n++;
    }
  }
  v = rf__wpad_strv_pack(starts, lens, n);
  if (v == NULL) {
    err = RF_ENOMEM;
    goto out;
  }
  *out = v;
  if (n_out != NULL)
    *n_out = n;
out:
  free(starts);
  free(lens);
  return err;
}

int rf__wpad_read_resolv(char ***out, size_t *n_out, const char *path)
{
  char *text;
  size_t len;
  int err;

  if (out != NULL)
    *out = NULL;
  if (n_out != NULL)
    *n_out = 0;
  if (out == NULL)
    return RF_EINVAL;
  err = rf__wpad_read_file(path != NULL ? path : "/etc/resolv.conf", &text,
                           &len, NULL);
  if (err != 0)
    return err;
  err = rf__wpad_parse_resolv(out, n_out, text, len);
  free(text);
  return err;
}
