package metric

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/valueloop/valueloop"
)

func TestParseDimensions(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  []Dimension
		field string // of the error; "" for none
	}{
		{"country=US|GB", []Dimension{{"country", []string{"US", "GB"}}}, ""},
		{" country = US | GB ; platform=ios ;", []Dimension{{"country", []string{"US", "GB"}}, {"platform", []string{"ios"}}}, ""},
		{"", nil, ""},
		{"country", nil, "dimensions"},
		{"=US", nil, "dimensions[0].name"},
		{"country=", nil, "dimensions[0].values"},
		{"country=||", nil, "dimensions[0].values"},
		{"country=US;country=GB", nil, "dimensions[1].name"},
		{"country=US|GB|US", nil, "dimensions[0].values[2]"},
		{"country=(none)", nil, "dimensions[0].values[0]"},
		{"country=(other)", nil, "dimensions[0].values[0]"},
		{"country=US;" + OutsideDimension + "=x", nil, "dimensions[1].name"},
		{"country=US;" + ExposureDayDimension + "=x", nil, "dimensions[1].name"},
		{"a=1;b=1;c=1;d=1;e=1;f=1", nil, "dimensions"},
		{"country=" + strings.Repeat("x|", 50) + "y", nil, "dimensions[0].values"},
		{strings.Repeat("n", 129) + "=x", nil, "dimensions[0].name"},
		{"country=" + strings.Repeat("v", 129), nil, "dimensions[0].values[0]"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDimensions(tc.in)
			if tc.field == "" {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Code != valueloop.EINVALID || e.Field != tc.field {
				t.Errorf("error = %v, want invalid naming %s", err, tc.field)
			}
		})
	}
}

func TestDimensionIndexAndLabels(t *testing.T) {
	d := Dimension{Name: "platform", Values: []string{"ios", "android", "3"}}
	for _, tc := range []struct {
		text string
		want int
	}{{"ios", 2}, {"android", 3}, {"3", 4}, {"web", OtherIndex}, {"", OtherIndex}, {"IOS", OtherIndex}} {
		if got := d.Index([]byte(tc.text)); got != tc.want {
			t.Errorf("Index(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
	if got, want := d.Labels(), []string{"ios", "android", "3", OtherValue, NoneValue}; !reflect.DeepEqual(got, want) {
		t.Errorf("Labels = %q, want %q", got, want)
	}
	for i := range d.Count() {
		if l := d.Label(i); i >= firstDimensionValue && d.Index([]byte(l)) != i {
			t.Errorf("Label(%d) = %q, which indexes as %d", i, l, d.Index([]byte(l)))
		}
	}
	if d.Label(NoneIndex) != NoneValue || d.Label(OtherIndex) != OtherValue {
		t.Errorf("labels of none and other: %q, %q", d.Label(NoneIndex), d.Label(OtherIndex))
	}
}

// FuzzParseDimensions: any input is refused with an error naming a field,
// or gives dimensions within the caps that print and parse back the same.
func FuzzParseDimensions(f *testing.F) {
	for _, s := range []string{"country=US|GB|DE", "country=US;platform=ios|android", "a=1;b=1;c=1;d=1;e=1;f=1", "x=(none)", ";;=|;", "k=a|a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDimensions(s)
		if err != nil {
			var e *valueloop.Error
			if !errors.As(err, &e) || e.Code != valueloop.EINVALID || e.Field == "" {
				t.Fatalf("ParseDimensions(%q): %v, want an invalid error naming a field", s, err)
			}
			return
		}
		if err := ValidateDimensions(ds); err != nil {
			t.Fatalf("ParseDimensions(%q) gave %+v, which does not validate: %v", s, ds, err)
		}
		var parts []string
		for _, d := range ds {
			if len(d.Values) > MaxDimensionValues || strings.ContainsAny(d.Name, "=;") {
				t.Fatalf("ParseDimensions(%q) gave %+v", s, d)
			}
			parts = append(parts, d.Name+"="+strings.Join(d.Values, "|"))
		}
		again, err := ParseDimensions(strings.Join(parts, ";"))
		if err != nil || !reflect.DeepEqual(again, ds) {
			t.Fatalf("%q parsed as %+v, printed and parsed again as %+v, %v", s, ds, again, err)
		}
	})
}
