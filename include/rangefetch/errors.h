/*
 * rangefetch — error codes.
 *
 * Every function of the library that can fail returns 0 (RF_OK) or one of
 * the negative codes below.  The list is append-only: a retired code keeps
 * its slot so that numbers never change meaning between versions.
 *
 * Retries are the engine's business: it decides per request, from the
 * code, the HTTP status and where the failure happened (origin or proxy),
 * whether to try again (rf_job_options.max_tries); an error that reaches
 * rf_result is final.  A code alone cannot say whether a request may be
 * retried (RF_EHTTP is a 503 or a 404), so there is no such predicate.
 */
#ifndef RF_ERRORS_H
#define RF_ERRORS_H

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, value, "message") */
#define RF_ERRNO_MAP(XX)                                                       \
  XX(EINVAL, -1, "invalid argument")                                           \
  XX(ENOMEM, -2, "out of memory")                                              \
  XX(EURL, -3, "malformed or unsupported URL")                                 \
  XX(ERESOLVE, -4, "could not resolve host name")                              \
  XX(ECONNECT, -5, "could not connect to server")                              \
  XX(EHTTP, -6, "server answered with an HTTP error status")                   \
  XX(ERANGE, -7, "server answered with a range that was not asked for")        \
  XX(ECHANGED, -8, "remote content changed during the download")               \
  XX(EIO, -9, "input/output error")                                            \
  XX(ENOSPC, -10, "no space left on device")                                   \
  XX(EACCES, -11, "permission denied")                                         \
  XX(ECANCELED, -12, "operation cancelled")                                    \
  XX(ETIMEDOUT, -13, "operation timed out")                                    \
  XX(ENETWORK, -14, "network error")                                           \
  XX(EPROTO, -15, "HTTP protocol violation by the server")                     \
  XX(ETLS, -16, "TLS error")                                                   \
  XX(EPROXY, -17, "proxy error")                                               \
  XX(EREENTRANT, -18, "call not allowed from inside a callback")               \
  XX(EBUSY, -19, "resource busy")                                              \
  XX(EEXIST, -20, "file already exists")                                       \
  XX(ENOENT, -21, "no such file or directory")                                 \
  XX(ETOOBIG, -22, "value too large")                                          \
  XX(ELENGTH, -23, "body length does not match the announced length")          \
  XX(EINTERNAL, -24, "internal error")                                         \
  XX(EHASH, -25, "content does not match its expected hash")                   \
  XX(ERESUME, -26, "an unfinished download of other content uses this output") \
  XX(EPROXYAUTH, -27, "proxy authentication required or refused")

/* Error codes: RF_OK is 0, every error is negative. */
typedef enum rf_error {
  RF_OK = 0,
#define RF__ERRNO_ENUM(name, val, msg) RF_##name = val,
  RF_ERRNO_MAP(RF__ERRNO_ENUM)
#undef RF__ERRNO_ENUM
      RF__ERRNO_END
} rf_error;

/*
 * rf_strerror - a short English sentence describing err.
 *
 * Returns a static string (never NULL); an unknown code gives
 * "unknown error".  Thread-safe.
 */
RF_EXTERN const char *rf_strerror(int err);

/*
 * rf_err_name - the symbolic name of err without the prefix, e.g. "ENOSPC".
 *
 * Returns a static string (never NULL); "UNKNOWN" for an unknown code.
 */
RF_EXTERN const char *rf_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif /* RF_ERRORS_H */
