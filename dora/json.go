package dora

import (
	"encoding/json"
	"time"

	"github.com/valueloop/valueloop"
)

// The API writes durations as seconds (valueloop.Seconds); the types below
// keep time.Duration for arithmetic and convert only in JSON.

type durationsJSON struct {
	Count  int               `json:"count"`
	Median valueloop.Seconds `json:"median"`
	P90    valueloop.Seconds `json:"p90"`
}

// MarshalJSON writes the median and 90th percentile in seconds.
func (d Durations) MarshalJSON() ([]byte, error) {
	return json.Marshal(durationsJSON{d.Count, valueloop.Seconds(d.Median), valueloop.Seconds(d.P90)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Durations) UnmarshalJSON(b []byte) error {
	var j durationsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*d = Durations{Count: j.Count, Median: time.Duration(j.Median), P90: time.Duration(j.P90)}
	return nil
}

// MarshalJSON writes ClockSkew in seconds.
func (d Data) MarshalJSON() ([]byte, error) {
	return json.Marshal(dataJSON{(*plainData)(&d), valueloop.Seconds(d.ClockSkew)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Data) UnmarshalJSON(b []byte) error {
	var v Data
	j := dataJSON{plainData: (*plainData)(&v)}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	v.ClockSkew = time.Duration(j.ClockSkew)
	*d = v
	return nil
}

// dataJSON is Data with its clock skew in seconds: the field of the outer
// struct hides the embedded one of the same JSON name, so that Data's other
// fields are written and read as they are declared, without a copy of
// their list.
type dataJSON struct {
	*plainData
	ClockSkew valueloop.Seconds `json:"clockSkew,omitempty"`
}

// plainData is Data without its JSON methods.
type plainData Data
