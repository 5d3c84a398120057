/* Error codes: names, messages and the fatal/retryable split. */
#include "rangefetch/rangefetch.h"

const char *rf_strerror(int err)
{
  switch (err) {
  case RF_OK:
    return "success";
#define RF__STRERROR_CASE(name, val, msg)                                      \
  case RF_##name:                                                              \
    return msg;
    RF_ERRNO_MAP(RF__STRERROR_CASE)
#undef RF__STRERROR_CASE
  default:
    return "unknown error";
  }
}

const char *rf_err_name(int err)
{
  switch (err) {
  case RF_OK:
    return "OK";
#define RF__ERRNAME_CASE(name, val, msg)                                       \
  case RF_##name:                                                              \
    return #name;
    RF_ERRNO_MAP(RF__ERRNAME_CASE)
#undef RF__ERRNAME_CASE
  default:
    return "UNKNOWN";
  }
}

const char *rf_version_string(void)
{
  return RF_VERSION_STRING;
}
