package auth_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/auth"
)

func TestForwardedClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"not a proxy: the header is the client's to forge", "203.0.113.9", []string{"198.51.100.1"}, "203.0.113.9"},
		{"a trusted proxy: the address it appended", "10.1.2.3", []string{"198.51.100.1"}, "198.51.100.1"},
		{"what the client sent before the proxy's entry is ignored", "10.1.2.3", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted proxies", "10.1.2.3", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", "10.1.2.3", []string{"1.1.1.1", "198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"no header: the proxy", "10.1.2.3", nil, "10.1.2.3"},
		{"every entry trusted: the first", "10.1.2.3", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7"},
		{"garbage stops the walk at the proxy that wrote it", "10.1.2.3", []string{"198.51.100.1, unknown"}, "10.1.2.3"},
		{"garbage behind a real client is not reached", "10.1.2.3", []string{"nonsense, 198.51.100.1"}, "198.51.100.1"},
		{"with a port", "10.1.2.3", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6 with a port", "::1", []string{"[2001:db8::5]:4711"}, "2001:db8::5"},
		{"IPv4-mapped peer", "::ffff:10.1.2.3", []string{"198.51.100.1"}, "198.51.100.1"},
		{"empty entries are garbage", "10.1.2.3", []string{"198.51.100.1,"}, "10.1.2.3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := auth.ForwardedClient(netip.MustParseAddr(c.peer), c.xff, trusted)
			if got != netip.MustParseAddr(c.want) {
				t.Errorf("ForwardedClient(%s, %q) = %s, want %s", c.peer, c.xff, got, c.want)
			}
		})
	}
}

// FuzzForwardedClient: any header from a trusted proxy gives the proxy or
// an address the header holds, never something else, and from an
// untrusted peer always the peer.
func FuzzForwardedClient(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "1.1.1.1, 198.51.100.1", "198.51.100.1, 10.9.9.9", "unknown", "[2001:db8::5]:4711", ",,", " , 10.1.1.1", "::ffff:10.0.0.1", "fe80::1%eth0"} {
		f.Add("10.1.2.3", s)
		f.Add("203.0.113.9", s)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		p, err := netip.ParseAddr(peer)
		if err != nil {
			return
		}
		got := auth.ForwardedClient(p, []string{xff}, trusted)
		p = p.Unmap()
		if !trusted[0].Contains(p) {
			if got != p {
				t.Fatalf("untrusted peer %s: got %s", p, got)
			}
			return
		}
		if got == p {
			return
		}
		for _, e := range strings.Split(xff, ",") {
			e = strings.TrimSpace(e)
			if a, err := netip.ParseAddr(e); err == nil && a.Unmap().WithZone("") == got {
				return
			}
			if ap, err := netip.ParseAddrPort(e); err == nil && ap.Addr().Unmap().WithZone("") == got {
				return
			}
		}
		t.Fatalf("peer %s, X-Forwarded-For %q: got %s, neither the peer nor an entry", p, xff, got)
	})
}
