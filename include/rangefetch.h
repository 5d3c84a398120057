/* rangefetch — everything in one include. */
#ifndef RF_UMBRELLA_H
#define RF_UMBRELLA_H
#include "rangefetch/rangefetch.h"
#include "rangefetch/server.h"
#include "rangefetch/manifest.h"
#include "rangefetch/proxy.h"
#include "rangefetch/cachehost.h"
#endif
