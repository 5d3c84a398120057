while (true) { try { while (true) {} } finally { continue; } }
function FindProxyForURL(u, h) { return "DIRECT"; }
