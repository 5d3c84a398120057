function FindProxyForURLEx(url, host) {
  var all = dnsResolveEx(host);
  if (isResolvableEx(host) && isInNetEx(all.split(";")[0], "2606:2800::/24"))
    return "PROXY v6.example:3128";
  if (isInNetEx(host, "2001:db8::/32") || isInNetEx("10.1.2.3", "::ffff:10.0.0.0/104"))
    return "DIRECT";
  return "PROXY p:1; " + sortIpAddressList(myIpAddressEx() + ";" + all) + getClientVersion();
}
function FindProxyForURL(url, host) { return "DIRECT"; }
