var calls = 0;
function FindProxyForURL(u, h) {
  calls++;
  if (h == "intranet") for (;;) {}
  if (h.indexOf(":") >= 0) for (;;) { try { for (;;) {} } catch (e) {} }
  return "PROXY p:" + calls;
}
