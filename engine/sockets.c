/*
 * The sockets libcurl opens for an engine's transfers.  libcurl 7.88 has no
 * reliable way to name the socket a transfer is using while it runs
 * (CURLINFO_ACTIVESOCKET names the connection of the handle's *previous*
 * transfer, and the multi socket callback is silent while data keeps
 * coming), so the engine opens and closes them itself, keeps the list, and
 * finds a transfer's socket by its addresses: the local and remote ports
 * libcurl reports for the transfer.
 */
#include "job.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

static curl_socket_t open_socket(void *ud, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
  rf_engine *e = ud;
  curl_socket_t fd;

  (void)purpose;
  if (e->nsocks == e->socks_cap) {
    size_t cap = e->socks_cap ? 2 * e->socks_cap : 16;
    curl_socket_t *grown = realloc(e->socks, cap * sizeof(*grown));
    if (grown == NULL)
      return CURL_SOCKET_BAD;
    e->socks = grown;
    e->socks_cap = cap;
  }
  fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd != CURL_SOCKET_BAD)
    e->socks[e->nsocks++] = fd;
  return fd;
}

static int close_socket(void *ud, curl_socket_t fd)
{
  rf_engine *e = ud;
  size_t i;

  for (i = 0; i < e->nsocks; i++) {
    if (e->socks[i] == fd) {
      e->socks[i] = e->socks[--e->nsocks];
      break;
    }
  }
  return close(fd);
}

void rf__engine_sockets_use(rf_engine *e, CURL *easy)
{
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, e);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, e);
}

/* The port of an IPv4 or IPv6 address, or -1. */
static long port_of(const struct sockaddr_storage *ss)
{
  if (ss->ss_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
  if (ss->ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
  return -1;
}

curl_socket_t rf__engine_conn_socket(rf_engine *e, CURL *easy)
{
  long local = -1, remote = -1;
  curl_socket_t found = CURL_SOCKET_BAD;
  size_t i;

  if (curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &local) != CURLE_OK ||
      curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &remote) != CURLE_OK ||
      local <= 0 || remote <= 0)
    return CURL_SOCKET_BAD;
  for (i = 0; i < e->nsocks; i++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(e->socks[i], (struct sockaddr *)&ss, &len) != 0 ||
        port_of(&ss) != local)
      continue;
    len = sizeof(ss);
    if (getpeername(e->socks[i], (struct sockaddr *)&ss, &len) != 0 ||
        port_of(&ss) != remote)
      continue;
    if (found != CURL_SOCKET_BAD)
      return CURL_SOCKET_BAD; /* two alike (another local address): unsure */
    found = e->socks[i];
  }
  return found;
}

void rf__engine_sockets_free(rf_engine *e)
{
  free(e->socks);
  e->socks = NULL;
  e->nsocks = e->socks_cap = 0;
}
