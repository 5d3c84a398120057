/*
 * What the WPAD files share (wpad.c, wpad_dns.c, wpad_dhcp.c); not for
 * use outside engine/proxy/wpad*.c.
 */
#ifndef RF_PROXY_WPAD_INT_H
#define RF_PROXY_WPAD_INT_H

#include <stddef.h>

#include "wpad.h"

/* Whether c is white space as isspace() in the C locale. */
int rf__wpad_is_space(char c);

/*
 * Reads the whole file at path into a malloc'd buffer (NUL-terminated, the
 * NUL not counted in *len).  Returns 0, RF_ENOENT, RF_EACCES, RF_EIO,
 * RF_ETOOBIG (over RF__WPAD_MAX_FILE), RF_ENOMEM; *errno_out (may be NULL)
 * gets errno on an I/O failure, else 0.
 */
int rf__wpad_read_file(const char *path, char **out, size_t *len,
                       int *errno_out);

/* A NULL-terminated list in one allocation: the pointers, then the
 * strings.  words[i] is lens[i] bytes at starts[i].  NULL: no memory. */
char **rf__wpad_strv_pack(const char *const *starts, const size_t *lens,
                          size_t n);

#endif
