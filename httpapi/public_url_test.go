package httpapi

import (
	"strings"
	"testing"
)

// TestParsePublicURL: a public URL is taken when every client could follow
// a link built on it, with its port and an IPv6 host, and refused, naming
// the problem, when its host is no host name or address (Go's parser lets
// < > " through for hosts), its port no port, or its IPv6 zone local to
// one machine: the link handed out would be malformed.
func TestParsePublicURL(t *testing.T) {
	cases := []struct {
		in, link, err string // link of /ofrep/v1/stream?x=1
	}{
		{"https://example.com:8443/flags/", "https://example.com:8443/flags/ofrep/v1/stream?x=1", ""},
		{"https://[2001:db8::1]:8443/flags", "https://[2001:db8::1]:8443/flags/ofrep/v1/stream?x=1", ""},
		{"http://192.0.2.7/", "http://192.0.2.7/ofrep/v1/stream?x=1", ""},
		{"https://flags.example.com./a%20b/", "https://flags.example.com./a%20b/ofrep/v1/stream?x=1", ""},
		{"https://example.com/a|b>c", "https://example.com/a%7Cb%3Ec/ofrep/v1/stream?x=1", ""},
		{"/flags/", "/flags/ofrep/v1/stream?x=1", ""},
		{"https://a>b.example/flags", "", `host "a>b.example"`},
		{`https://a"b.example/flags`, "", `host "a\"b.example"`},
		{"https://a<b.example", "", `host "a<b.example"`},
		{"https://a..b.example", "", `host "a..b.example"`},
		{"https://bücher.example/", "", "ASCII"},
		{"https://example.com:99999/flags", "", `port "99999"`},
		{"https://example.com:/flags", "", "port"},
		{"http://[fe80::1%25en0]:8080/flags", "", "zone"},
		{"https://[zz::1]/flags", "", "want an absolute"},
		// The dashboard's links (html/template) escape ' ( ) and its
		// cookie path drops ;: links, redirects and cookies would differ.
		{"/a'b", "", `"'", which the dashboard's links would escape`},
		{"https://example.com/a(b)", "", `"(", which`},
		{"/a;b", "", `";", which`},
		{"/a%27b%3Bc", "/a%27b%3Bc/ofrep/v1/stream?x=1", ""},
		{"/a!$&*+,:=@b", "/a!$&*+,:=@b/ofrep/v1/stream?x=1", ""},
	}
	for _, c := range cases {
		u, err := ParsePublicURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one saying %s", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := (&Server{PublicURL: u}).publicLink("/ofrep/v1/stream?x=1"); got != c.link {
			t.Errorf("%q: link %q, want %q", c.in, got, c.link)
		}
	}
}
