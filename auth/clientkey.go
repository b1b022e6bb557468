package auth

import "net/netip"

// nat64 is the well-known prefix of RFC 6052 under which a stateless
// translator (SIIT, as in front of an IPv6-only server, RFC 7755) presents
// every IPv4 client: 64:ff9b::a.b.c.d.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// ClientKey returns what the failed authentications of the client at ip
// (a connection's address) are counted by, so that every throttle of
// failures keys clients alike:
//
//   - an IPv4 address as it is, also when written IPv4-mapped (::ffff:a.b.c.d)
//     or translated (64:ff9b::a.b.c.d): keyed by its /64, every IPv4 client
//     behind a translator would be one client, and one of them failing would
//     lock out the rest;
//   - any other IPv6 address by its /64: one client commonly holds a whole
//     /64 and could otherwise try from a fresh address each time.
//
// ClientKey allocates nothing: a server asks it on every failed
// authentication.
func ClientKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) {
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}
