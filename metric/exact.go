package metric

import (
	"encoding/binary"
	"math/big"
	"math/bits"
)

// i192 is an exact signed 192-bit integer in two's complement, least
// significant limb first. Per-user values are int64 millionths, so their
// squares need 126 bits and sums of squares over billions of users fit with
// room to spare. Integer sums are associative: adding and removing a user's
// contribution in any order lands on the same bits, which floating point
// cannot promise.
type i192 [3]uint64

func (a *i192) add(b i192) {
	var c uint64
	a[0], c = bits.Add64(a[0], b[0], 0)
	a[1], c = bits.Add64(a[1], b[1], c)
	a[2], _ = bits.Add64(a[2], b[2], c)
}

func (a *i192) sub(b i192) {
	var c uint64
	a[0], c = bits.Sub64(a[0], b[0], 0)
	a[1], c = bits.Sub64(a[1], b[1], c)
	a[2], _ = bits.Sub64(a[2], b[2], c)
}

// of64 sign-extends x.
func of64(x int64) i192 {
	s := uint64(x >> 63)
	return i192{uint64(x), s, s}
}

// mul64 returns x·y exactly.
func mul64(x, y int64) i192 {
	neg := (x < 0) != (y < 0)
	ux, uy := uint64(x), uint64(y)
	if x < 0 {
		ux = -ux
	}
	if y < 0 {
		uy = -uy
	}
	hi, lo := bits.Mul64(ux, uy)
	r := i192{lo, hi, 0}
	if neg {
		var z i192
		z.sub(r)
		return z
	}
	return r
}

// big returns a as a big.Int.
func (a i192) big() *big.Int {
	var buf [24]byte
	binary.BigEndian.PutUint64(buf[0:], a[2])
	binary.BigEndian.PutUint64(buf[8:], a[1])
	binary.BigEndian.PutUint64(buf[16:], a[0])
	z := new(big.Int).SetBytes(buf[:])
	if int64(a[2]) < 0 {
		z.Sub(z, new(big.Int).Lsh(big.NewInt(1), 192))
	}
	return z
}
