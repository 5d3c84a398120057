/*
 * URLs as the engine checks and shows them, through libcurl's URL API.
 */
#ifndef RF_UTIL_URL_H
#define RF_UTIL_URL_H

#include <stddef.h>

/* url without its user name and password (for messages and journals); a
 * malloc'd copy, NULL on failure. */
char *rf__url_strip_credentials(const char *url);

/* Whether url can be downloaded: http:// or https://, a host, a port from
 * 1 to 65535.  Returns 0, RF_EURL (why says what is wrong), RF_ENOMEM. */
int rf__url_check(const char *url, char *why, size_t size);

#endif
