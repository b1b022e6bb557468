package delivery_test

import (
	"testing"
	"time"

	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// TestOpsgenieOutOfOrder: Opsgenie may deliver an alert's Close before its
// Create (retries, or the webhook added while the alert was open). Close
// alone opens and resolves the incident; the late Create is an older
// snapshot and leaves it resolved; each redelivery stores nothing.
func TestOpsgenieOutOfOrder(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	c.t = time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC) // after the alert: times ahead of the clock are refused
	if _, _, err := s.RecordDeployment(ctx, delivery.DeploymentInput{ID: "D1", Service: "shop", Environment: "prod-eu", SHA: "aaaaaaa", Status: "success",
		At: new(time.Date(2026, 3, 4, 18, 0, 0, 0, time.UTC))}, ""); err != nil {
		t.Fatal(err)
	}
	receive := func(name string) delivery.Receipt {
		t.Helper()
		r, err := s.Receive(ctx, delivery.KindOpsgenie, delivery.Hook{Credential: ogSecret, Body: fixture(t, "opsgenie/testdata/"+name)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	for _, name := range []string{"close.json", "create.json", "close.json", "create.json"} {
		receive(name)
	}
	if r := receive("create.json"); !r.Duplicate || r.Delivery != "70413a06-38d6-4c85-92b8-5ebc900d42e2:Create:1772649010250431112" {
		t.Errorf("create again: %+v, want a duplicate identified by alert, action and updatedAt", r)
	}
	rep, err := s.Report(ctx, dora.Query{From: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Overall.Total
	if m.Incidents != 1 || m.Failed != 1 || m.Recovery.Count != 1 || m.Recovery.Median != time.Hour+15*time.Minute+40*time.Second {
		t.Errorf("incidents %d, failed %d, recovery %+v; want D1 recovered at the Close (1h15m40s)", m.Incidents, m.Failed, m.Recovery)
	}
	list, err := s.Deliveries(ctx, "acme-og", 10)
	if err != nil || len(list) != 2 {
		t.Errorf("deliveries of acme-og: %+v %v, want the Close and the Create", list, err)
	}
}
