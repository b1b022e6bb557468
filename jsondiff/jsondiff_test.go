package jsondiff

import (
	"fmt"
	"testing"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name, before, after string
		want                []string
	}{
		{"create", ``, `{"a":1}`, []string{`+ /: {"a":1}`}},
		{"delete", `{"a":1}`, ``, []string{`- /: {"a":1}`}},
		{"same", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, nil},
		{"replace nested", `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off"}`,
			`{"state":"DISABLED","variants":{"on":true,"off":false,"x/y":1},"defaultVariant":"on"}`,
			[]string{`~ /defaultVariant: "off" → "on"`, `~ /state: "ENABLED" → "DISABLED"`, `+ /variants/x~1y: 1`}},
		{"array replaced whole", `{"t":[1,2]}`, `{"t":[1,3]}`, []string{`~ /t: [1,2] → [1,3]`}},
		{"removed key", `{"a":1,"m":{"k":"v"}}`, `{"a":1}`, []string{`- /m: {"k":"v"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := Diff([]byte(tc.before), []byte(tc.after))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range ops {
				got = append(got, o.String())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	if _, err := Diff([]byte(`{`), nil); err == nil {
		t.Error("malformed JSON: want an error")
	}
}
