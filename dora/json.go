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

// dataJSON is Data with its clock skew in seconds.
type dataJSON struct {
	Catalog     Catalog           `json:"catalog"`
	Changes     []Change          `json:"changes"`
	Deployments []Deployment      `json:"deployments"`
	Incidents   []Incident        `json:"incidents"`
	Reviews     []Review          `json:"reviews,omitempty"`
	ClockSkew   valueloop.Seconds `json:"clockSkew,omitempty"`
}

// MarshalJSON writes ClockSkew in seconds.
func (d Data) MarshalJSON() ([]byte, error) {
	return json.Marshal(dataJSON{d.Catalog, d.Changes, d.Deployments, d.Incidents, d.Reviews, valueloop.Seconds(d.ClockSkew)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Data) UnmarshalJSON(b []byte) error {
	var j dataJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*d = Data{Catalog: j.Catalog, Changes: j.Changes, Deployments: j.Deployments, Incidents: j.Incidents, Reviews: j.Reviews, ClockSkew: time.Duration(j.ClockSkew)}
	return nil
}
