package ofrep

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// reference decodes a request the way encoding/json does.
func reference(data []byte) (map[string]any, error) {
	var req struct {
		Context any `json:"context"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, err
	}
	switch c := req.Context.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return c, nil
	}
	return nil, errContextType
}

var decodeCases = []string{
	`{}`,
	`{"context":null}`,
	`{"context":{}}`,
	`{"context":{"targetingKey":"u1","email":"a@b.c","n":1.5,"i":-3,"e":2e10,"ok":true,"no":false,"nil":null}}`,
	`{"context":{"nested":{"a":[1,"x",{"b":[]}]},"list":[]}}`,
	`{"other":{"deep":[1,2,{"x":1e400}]},"context":{"k":"v"}}`,
	`{"context":{"k":"v"},"Context":{"k":"w"}}`,
	`{"CONTEXT":{"k":"v"}}`,
	`{"context":{"esc":"a\"b\\c\u00e9\ud83d\ude00\n"}}`,
	`{"context":{"dup":1,"dup":2}}`,
	"{\"context\":{\"bad\":\"\xff\xfe\"}}",
	` { "context" : { "a" : 1 } } `,
	`{"context":[1,2]}`,
	`{"context":"x"}`,
	`{"context":1e400}`,
	`{"context":{"n":1e400}}`,
	`{"context":{"n":01}}`,
	`{"context":{"n":-}}`,
	`{"context":{"n":1.}}`,
	`{"context":{"n":.5}}`,
	`{"context":{"n":1e}}`,
	`{"context":{"a":1,}}`,
	`{"context":{"a" 1}}`,
	`{"context":{"a":tru}}`,
	`{"context":{"a":"unterminated}}`,
	"{\"context\":{\"a\":\"ctl\x01\"}}",
	`{"context":{}} trailing`,
	`[]`,
	`"context"`,
	`{"context":{"a":1}`,
	``,
}

func TestDecodeRequestMatchesEncodingJSON(t *testing.T) {
	for _, c := range decodeCases {
		check(t, []byte(c))
	}
}

func check(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := decodeRequest(data)
	want, wantErr := reference(data)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json says %v", data, gotErr, wantErr)
	}
	if errors.Is(wantErr, errContextType) != errors.Is(gotErr, errContextType) {
		t.Fatalf("%q: error %v, want %v", data, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ngot  %#v\nwant %#v", data, got, want)
	}
}

func TestDecodeRequestDepth(t *testing.T) {
	deep := `{"context":{"a":` + string(repeat('[', 300)) + string(repeat(']', 300)) + `}}`
	if _, err := decodeRequest([]byte(deep)); err == nil {
		t.Error("300 levels of nesting: want an error")
	}
}

func repeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

// FuzzDecodeRequest holds the hand-written decoder to encoding/json's
// answers (bodies nested deeper than maxDepth excepted).
func FuzzDecodeRequest(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := decodeRequest(data)
		if isTooDeep(gotErr) {
			return
		}
		want, wantErr := reference(data)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, encoding/json says %v", data, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\ngot  %#v\nwant %#v", data, got, want)
		}
	})
}

func BenchmarkDecodeRequest(b *testing.B) {
	body := []byte(`{"context":{"targetingKey":"user-123","email":"a@example.com","country":"NZ","appVersion":"2.5.1","n":3}}`)
	b.Run("ofrep", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeRequest(body)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reference(body)
		}
	})
}
