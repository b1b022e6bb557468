package auth

import (
	"context"
	"net/netip"
	"strings"
)

// ForwardedClient returns the address of the client a request came from,
// given the address of its connection (peer), its X-Forwarded-For header
// lines (xff) and the proxies trusted to write them. A peer that is not a
// trusted proxy is the client: anyone can send the header. From a trusted
// proxy, the header is read from its end, where each proxy appended the
// address it was connected from, and the first address that is not a
// trusted proxy is the client; what comes before it is the client's to
// forge. An entry that is not an address (with or without a port) stops
// the walk: the proxy that appended it is the client then, as it is when
// every entry is a trusted proxy or there is no header.
func ForwardedClient(peer netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	peer = peer.Unmap()
	if !IsTrustedProxy(peer, trusted) {
		return peer
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, ""
			}
			ip, ok := parseForwarded(strings.TrimSpace(entry))
			if !ok {
				return client
			}
			if client = ip; !IsTrustedProxy(ip, trusted) {
				return ip
			}
		}
	}
	return client
}

// parseForwarded reads one X-Forwarded-For entry: an address, with a port
// or not (IPv6 with a port in brackets).
func parseForwarded(s string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// IsTrustedProxy reports whether ip is in one of the trusted prefixes.
func IsTrustedProxy(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientCtx carries a request's client: one allocation, as a context that
// answers its own key and passes the others to its parent.
type clientCtx struct {
	context.Context
	ip netip.Addr
}

type clientKey struct{}

func (c *clientCtx) Value(key any) any {
	if key == (clientKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// WithClient returns ctx carrying the client a request came from, found
// once (ForwardedClient) by whatever reads the request first, for the
// code further down that needs it again.
func WithClient(ctx context.Context, ip netip.Addr) context.Context {
	return &clientCtx{Context: ctx, ip: ip}
}

// ClientFrom returns the client WithClient put in ctx; false when none is.
func ClientFrom(ctx context.Context) (netip.Addr, bool) {
	c, ok := ctx.Value(clientKey{}).(*clientCtx)
	if !ok {
		return netip.Addr{}, false
	}
	return c.ip, true
}
