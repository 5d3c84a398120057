/*
 * DHCP options from the system's lease files, for any option code: what
 * WPAD (option 252, wpad.h) and the cache hosts (option 235,
 * source/cachehost.h) read.  rangefetch never sends DHCP packets; it reads
 * what the system's DHCP client stored.
 *
 * Two formats:
 * - dhclient (ISC dhcp; also NetworkManager's dhclient backend): "lease {
 *   ... }" blocks, the last complete one current, an option written as
 *     option NAME "text";   option NAME 61:62:3:...;   (hex bytes)
 *   where NAME is the name declared in dhclient.conf ("option NAME code N
 *   = text;") or, undeclared, "unknown-N";
 * - systemd-networkd (and NetworkManager's internal client before 1.20,
 *   which embedded it): an environment-style file, one "KEY=VALUE" a line,
 *   the private options 224-254 as "OPTION_N=6162..." (hex, two digits a
 *   byte, no separator).  No expiry is recorded: networkd removes the file
 *   when the lease goes.
 *
 * The parsers are pure functions over text (implemented in wpad_dhcp.c);
 * rf__dhcp_lease_files (wpad.c) lists a directory.  No global mutable
 * state.
 */
#ifndef RF_PROXY_DHCP_LEASE_H
#define RF_PROXY_DHCP_LEASE_H

#include <stddef.h>
#include <stdint.h>

/* Longest option value decoded (a DHCP option is at most 255 bytes; RFC
 * 3396 concatenation may make it longer). */
#define RF__DHCP_VALUE_MAX 4096u

/* Which option to look for. */
typedef struct rf__dhcp_option {
  unsigned code; /* 1-254 */
  /* dhclient names that mean this option besides "unknown-<code>" (the
   * names declared with "option NAME code <code> = ..."), a
   * NULL-terminated list compared without case; NULL: none. */
  const char *const *names;
} rf__dhcp_option;

typedef enum rf__dhcp_found {
  RF__DHCP_VALUE = 0, /* the option is there and its value decoded */
  RF__DHCP_NO_LEASE,  /* no complete lease in the text */
  RF__DHCP_EXPIRED,   /* the last lease expired (dhclient only) */
  RF__DHCP_NO_OPTION, /* the current lease does not hold the option */
  RF__DHCP_BAD_VALUE  /* the option is there, its value is not readable */
} rf__dhcp_found;

/* What a lease text says about one option. */
typedef struct rf__dhcp_answer {
  rf__dhcp_found found;
  /* RF__DHCP_BAD_VALUE: why, a static string ("bad hex", "no value",
   * "more than one value", "empty", "longer than 4096 bytes"); else
   * NULL. */
  const char *why;
  /* RF__DHCP_VALUE: the decoded bytes (quoted-string escapes and hex
   * undone), malloc'd, NUL-terminated (the NUL not counted in value_len;
   * the value may hold NUL bytes of its own).  Else NULL. */
  char *value;
  size_t value_len;
} rf__dhcp_answer;

/* Frees a->value and zeroes *a.  a may be NULL. */
void rf__dhcp_answer_free(rf__dhcp_answer *a);

/*
 * The option in a dhclient lease file text (len bytes): the last complete
 * "lease { ... }" block counts; within it the last statement naming the
 * option.  With now > 0 (seconds since the epoch), a lease whose "expire"
 * time is before now gives RF__DHCP_EXPIRED.  lease6 blocks and other
 * statements are skipped.  See rf__wpad_parse_leases for the syntax.
 * *out is overwritten.  Returns 0 (the answer is in *out), RF_EINVAL (out
 * or opt NULL, text NULL with len > 0, code not 1-254), RF_ENOMEM; *out is
 * zeroed on failure.
 */
int rf__dhcp_parse_dhclient(rf__dhcp_answer *out, const char *text, size_t len,
                            const rf__dhcp_option *opt, int64_t now);

/*
 * The option in a systemd-networkd lease file text: the line
 * "OPTION_<code>=<hex>".  A text with no "KEY=VALUE" line at all holds no
 * lease.  Returns as rf__dhcp_parse_dhclient.
 */
int rf__dhcp_parse_networkd(rf__dhcp_answer *out, const char *text, size_t len,
                            unsigned code);

/*
 * Whether text looks like a systemd-networkd lease file: its first line
 * that is neither blank nor a '#' comment is "KEY=..." with KEY made of
 * letters, digits and '_'.  0 for a dhclient file (or an empty text).
 */
int rf__dhcp_is_networkd(const char *text, size_t len);

/* rf__dhcp_parse_networkd or rf__dhcp_parse_dhclient, by
 * rf__dhcp_is_networkd. */
int rf__dhcp_parse_lease(rf__dhcp_answer *out, const char *text, size_t len,
                         const rf__dhcp_option *opt, int64_t now);

/*
 * rf__dhcp_parse_lease over the file at path (a regular file of at most
 * RF__WPAD_MAX_FILE bytes).  Also returns RF_ENOENT, RF_EACCES, RF_EIO,
 * RF_ETOOBIG when the file cannot be read (*out zeroed).
 */
int rf__dhcp_read_lease(rf__dhcp_answer *out, const char *path,
                        const rf__dhcp_option *opt, int64_t now);

/*
 * The names a dhclient.conf text declares for option code: each top-level
 * "option NAME code <code> = TYPE;" ("=" may touch the number).  Names in
 * an option space other than dhcp ("space.name") are not DHCP options and
 * are left out.  On success *out is a one-block NULL-terminated list
 * (free() *out), possibly empty.  Returns 0, RF_EINVAL (out NULL, text
 * NULL with len > 0), RF_ENOMEM; *out is NULL on failure.
 */
int rf__dhcp_declared_names(char ***out, const char *text, size_t len,
                            unsigned code);

/* A directory whose lease files are listed: names starting with prefix
 * and ending with suffix ("" for any). */
typedef struct rf__dhcp_lease_dir {
  const char *dir, *prefix, *suffix;
} rf__dhcp_lease_dir;

/*
 * The regular files of dirs[0..n) that match, newest first (then by path).
 * A directory that cannot be opened is skipped.  Returns a one-block
 * NULL-terminated list (free() it), or NULL when out of memory.
 */
char **rf__dhcp_lease_files(const rf__dhcp_lease_dir *dirs, size_t n);

#endif
