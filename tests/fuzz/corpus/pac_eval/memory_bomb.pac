var keep = [];
function FindProxyForURL(u, h) {
  var a = [];
  if (h == "www.example.com")
    for (var i = 0; ; i++) a.push("xxxxxxxxxxxxxxxx" + i);
  if (h == "intranet")
    for (var s = "x"; ; s += s) keep.push(s);
  return new Array(100000).join("abcdefgh").substring(0, 10);
}
