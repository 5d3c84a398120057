// A corporate PAC file: every helper of docs/pac.md once.
var proxy = "PROXY proxy.corp.example:3128; PROXY backup.corp.example:8080";
function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example") ||
      localHostOrDomainIs(host, "intranet.corp.example"))
    return "DIRECT";
  if (shExpMatch(url, "https://*.example.com/*") && dnsDomainLevels(host) > 1)
    return "HTTPS secure.corp.example:8443; DIRECT";
  if (isResolvable(host) && isInNet(dnsResolve(host), "10.0.0.0", "255.0.0.0"))
    return "DIRECT";
  if (isInNet(myIpAddress(), "192.168.0.0", "255.255.0.0") &&
      convert_addr("192.168.0.1") < 0)
    alert("home network: " + host);
  if (weekdayRange("SAT", "SUN") || timeRange(22, 0, 6, 0, "GMT") ||
      dateRange(1, "DEC", 31, "DEC"))
    return "SOCKS5 [2001:db8::1]:1080; SOCKS socks.corp.example";
  return proxy + "; DIRECT";
}
