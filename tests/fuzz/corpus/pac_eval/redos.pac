function FindProxyForURL(u, h) {
  for (var i = 0; i < 3; i++)
    /^(a+)+$/.test("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!");
  return "DIRECT";
}
