function r(n) { return r(n + 1) + 1; }
function FindProxyForURL(u, h) {
  try { r(0); } catch (e) { alert(e); }
  var o = {}; o.toString = function () { return o + ""; };
  return String(o);
}
