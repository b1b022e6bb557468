package evaluation

import "testing"

// Published MurmurHash3 x86_32 vectors, and the preimages of boundary
// hashes that flagd's testbed uses for fractional.
var murmurVectors = []struct {
	seed uint32
	in   string
	want uint32
}{
	{0, "", 0},
	{1, "", 0x514e28b7},
	{0xffffffff, "", 0x81f16f39},
	{0, "\x00\x00\x00\x00", 0x2362f9de},
	{0x9747b28c, "a", 0x7fa09ea6},
	{0x9747b28c, "ab", 0x74875592},
	{0x9747b28c, "abc", 0xc84a62dd},
	{0x9747b28c, "abcd", 0xf0478627},
	{0x9747b28c, "aaaa", 0x5a97808a},
	{0x9747b28c, "Hello, world!", 0x24884cba},
	{0x9747b28c, "The quick brown fox jumps over the lazy dog", 0x2fa826cd},
	{0, "The quick brown fox jumps over the lazy dog", 0x2e4ff723},
	{0, "hello", 0x248bfa47},
	{0, "Hello, world!", 0xc0363e43},
	{0, "ejOoVL", 0},
	{0, "bY9fO-", 1},
	{0, "SI7p-", 2147483647},
	{0, "6LvT0", 2147483648},
	{0, "ceQdGm", 4294967295},
}

func TestMurmur3(t *testing.T) {
	for _, v := range murmurVectors {
		m := newMurmur3(v.seed)
		m.writeString(v.in)
		if got := m.sum32(); got != v.want {
			t.Errorf("murmur3(%q, seed %#x) = %#08x, want %#08x", v.in, v.seed, got, v.want)
		}
		// Fed in two pieces at every split point, as fractional feeds
		// flagKey and targetingKey, the hash is the same.
		for i := 0; i <= len(v.in); i++ {
			m := newMurmur3(v.seed)
			m.writeString(v.in[:i])
			m.writeString(v.in[i:])
			if got := m.sum32(); got != v.want {
				t.Errorf("murmur3(%q + %q, seed %#x) = %#08x, want %#08x", v.in[:i], v.in[i:], v.seed, got, v.want)
			}
		}
	}
	if got := murmur3String("hello"); got != 0x248bfa47 {
		t.Errorf("murmur3String(hello) = %#08x, want 0x248bfa47", got)
	}
}

func TestMurmur3ThreePieces(t *testing.T) {
	const s = "The quick brown fox jumps over the lazy dog"
	for i := 0; i < len(s); i++ {
		for j := i; j <= len(s); j++ {
			m := newMurmur3(0)
			m.writeString(s[:i])
			m.writeString(s[i:j])
			m.writeString(s[j:])
			if got := m.sum32(); got != 0x2e4ff723 {
				t.Fatalf("split at %d,%d: got %#08x, want 0x2e4ff723", i, j, got)
			}
		}
	}
}
