package auth_test

import (
	"net/netip"
	"testing"

	"github.com/valueloop/valueloop/auth"
)

func TestClientKey(t *testing.T) {
	for _, tc := range []struct {
		host string
		want string // "" when not an IP address
	}{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"64:ff9b::192.0.2.7", "192.0.2.7"}, // a translated IPv4 client: itself, not 64:ff9b::/64
		{"64:ff9b::c000:208", "192.0.2.8"},  // the same, written in hex
		{"64:ff9b:0:0:1::1", "64:ff9b::"},   // inside 64:ff9b::/64 but not /96: not a translated address
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
		{"::1", "::"},
		{"127.0.0.1", "127.0.0.1"},
		{"not-an-address", ""},
		{"192.0.2.7:80", ""}, // a port is the caller's to remove
	} {
		// Callers parse the connection's address; one that is not an IP
		// (another kind of listener) never reaches ClientKey.
		ip, err := netip.ParseAddr(tc.host)
		if (err == nil) != (tc.want != "") {
			t.Errorf("%q parses as an IP: %v, want %v", tc.host, err == nil, tc.want != "")
			continue
		}
		if err != nil {
			continue
		}
		if got := auth.ClientKey(ip).String(); got != tc.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
	ip := netip.MustParseAddr("2001:db8:1:2:aaaa::1")
	if n := testing.AllocsPerRun(100, func() { auth.ClientKey(ip) }); n != 0 {
		t.Errorf("ClientKey allocates %v times, want 0", n)
	}
}
