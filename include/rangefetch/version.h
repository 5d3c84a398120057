/*
 * rangefetch — version and export macros.
 */
#ifndef RF_VERSION_H
#define RF_VERSION_H

#define RF_VERSION_MAJOR 0
#define RF_VERSION_MINOR 1
#define RF_VERSION_PATCH 0
#define RF_VERSION_STRING "0.1.0"
#define RF_VERSION_HEX                                                         \
  ((RF_VERSION_MAJOR << 16) | (RF_VERSION_MINOR << 8) | RF_VERSION_PATCH)

#if defined(__GNUC__) && __GNUC__ >= 4
#  define RF_EXTERN __attribute__((visibility("default")))
#else
#  define RF_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* rf_version_string - the library's version, e.g. "0.1.0" (static). */
RF_EXTERN const char *rf_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* RF_VERSION_H */
