package jsondecode_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/valueloop/valueloop/jsondecode"
)

// BenchmarkDecode decodes a body of 10,000 objects (about 400 KB), strict
// (the API's requests: unknown fields and keys in another case refused) and
// lenient (other systems' payloads). Both read the keys once before
// encoding/json decodes, so strict should cost about what lenient does.
func BenchmarkDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"name":"a","steps":[`)
	for i := range 10000 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"percent":%d,"users":%d,"wait":"1h"}`, i, i)
	}
	sb.WriteString(`]}`)
	data := []byte(sb.String())
	for _, strict := range []bool{false, true} {
		b.Run(fmt.Sprint("strict=", strict), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var p plan
				if err := jsondecode.Decode(data, &p, jsondecode.Options{DisallowUnknownFields: strict}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
