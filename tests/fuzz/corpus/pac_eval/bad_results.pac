function FindProxyForURL(u, h) {
  if (h == "www.example.com") return 42;
  if (h == "intranet") return "PROXY \u00e9:1";
  if (h == "2001:db8::1") return new Array(5000).join("PROXY a:1;");
  throw new Error("no route for " + u);
}
