package evaluation

import "math/bits"

// murmur3 computes MurmurHash3 x86 32-bit (the hash flagd's fractional uses,
// with seed 0) over a byte stream fed in pieces, so that flagKey and
// targetingKey can be hashed as one string without concatenating them.
type murmur3 struct {
	h     uint32
	tail  uint32 // up to 3 pending bytes, little endian
	ntail int
	total int
}

const (
	murmurC1 = 0xcc9e2d51
	murmurC2 = 0x1b873593
)

func newMurmur3(seed uint32) murmur3 { return murmur3{h: seed} }

func (m *murmur3) block(k uint32) {
	k *= murmurC1
	k = bits.RotateLeft32(k, 15)
	k *= murmurC2
	m.h ^= k
	m.h = bits.RotateLeft32(m.h, 13)
	m.h = m.h*5 + 0xe6546b64
}

func (m *murmur3) writeString(s string) {
	m.total += len(s)
	i := 0
	for m.ntail > 0 && m.ntail < 4 && i < len(s) {
		m.tail |= uint32(s[i]) << (8 * m.ntail)
		m.ntail++
		i++
	}
	if m.ntail == 4 {
		m.block(m.tail)
		m.tail, m.ntail = 0, 0
	}
	for ; i+4 <= len(s); i += 4 {
		m.block(uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24)
	}
	for ; i < len(s); i++ {
		m.tail |= uint32(s[i]) << (8 * m.ntail)
		m.ntail++
	}
}

func (m *murmur3) sum32() uint32 {
	h := m.h
	if m.ntail > 0 {
		k := m.tail * murmurC1
		k = bits.RotateLeft32(k, 15)
		k *= murmurC2
		h ^= k
	}
	h ^= uint32(m.total)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// murmur3String hashes s with seed 0.
func murmur3String(s string) uint32 {
	m := newMurmur3(0)
	m.writeString(s)
	return m.sum32()
}
