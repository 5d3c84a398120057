/*
 * The PAC evaluator's default resolver (rf__pac_dns_default, see pac.h):
 * dnsResolve and friends through getaddrinfo(), myIpAddress through a
 * route probe (no packet sent) and getifaddrs().
 */
#include "pac_int.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------- default resolver */

static int pac_strv_add(char ***v, size_t *n, const char *s)
{
  char **nv;

  for (size_t i = 0; i < *n; i++)
    if (strcmp((*v)[i], s) == 0)
      return 0;
  nv = realloc(*v, (*n + 1) * sizeof(*nv));
  if (nv == NULL)
    return -1;
  *v = nv;
  nv[*n] = strdup(s);
  if (nv[*n] == NULL)
    return -1;
  (*n)++;
  return 0;
}

static int pac_sa_text(const struct sockaddr *sa, char *buf, size_t len)
{
  if (sa->sa_family == AF_INET)
    return inet_ntop(AF_INET,
                     &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                     buf, (socklen_t)len) != NULL;
  if (sa->sa_family == AF_INET6)
    return inet_ntop(
               AF_INET6,
               &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
               (socklen_t)len) != NULL;
  return 0;
}

static int pac_dflt_resolve(void *ud, const char *host, int want_v6_too,
                            char ***addrs_out, size_t *n_out)
{
  struct addrinfo hints, *res = NULL, *ai;
  char txt[INET6_ADDRSTRLEN];
  int rc = 0;

  (void)ud;
  *addrs_out = NULL;
  *n_out = 0;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = want_v6_too ? AF_UNSPEC : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0)
    return -1;
  for (ai = res; ai != NULL && rc == 0; ai = ai->ai_next)
    if (pac_sa_text(ai->ai_addr, txt, sizeof(txt)))
      rc = pac_strv_add(addrs_out, n_out, txt);
  freeaddrinfo(res);
  if (rc != 0) {
    rf__pac_strv_free(*addrs_out, *n_out);
    *addrs_out = NULL;
    *n_out = 0;
  }
  return rc;
}

/* The source address the kernel would use towards target (no packet is
 * sent: connect() on a UDP socket only picks a route). */
static void pac_route_probe(int family, const char *target, char ***v,
                            size_t *n)
{
  struct sockaddr_storage ss, me;
  socklen_t sl, ml = sizeof(me);
  char txt[INET6_ADDRSTRLEN];
  int fd;

  memset(&ss, 0, sizeof(ss));
  if (family == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

    s4->sin_family = AF_INET;
    s4->sin_port = htons(53);
    inet_pton(AF_INET, target, &s4->sin_addr);
    sl = sizeof(*s4);
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(53);
    inet_pton(AF_INET6, target, &s6->sin6_addr);
    sl = sizeof(*s6);
  }
  fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (connect(fd, (struct sockaddr *)&ss, sl) == 0 &&
      getsockname(fd, (struct sockaddr *)&me, &ml) == 0 &&
      pac_sa_text((struct sockaddr *)&me, txt, sizeof(txt)))
    pac_strv_add(v, n, txt);
  close(fd);
}

static int pac_dflt_my(void *ud, char ***addrs_out, size_t *n_out)
{
  struct ifaddrs *ifs = NULL, *i;
  char txt[INET6_ADDRSTRLEN];

  (void)ud;
  *addrs_out = NULL;
  *n_out = 0;
  pac_route_probe(AF_INET6, "2001:4860:4860::8888", addrs_out, n_out);
  pac_route_probe(AF_INET, "8.8.8.8", addrs_out, n_out);
  if (*n_out == 0 && getifaddrs(&ifs) == 0) {
    for (i = ifs; i != NULL; i = i->ifa_next)
      if (i->ifa_addr != NULL && (i->ifa_flags & IFF_UP) &&
          !(i->ifa_flags & IFF_LOOPBACK) &&
          pac_sa_text(i->ifa_addr, txt, sizeof(txt)) &&
          strncmp(txt, "fe80:", 5) != 0)
        pac_strv_add(addrs_out, n_out, txt);
    freeifaddrs(ifs);
  }
  return *n_out > 0 ? 0 : -1;
}

const rf__pac_dns rf__pac_dns_default = { pac_dflt_resolve, pac_dflt_my, NULL };
