package delivery_test

import (
	"testing"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
	"github.com/valueloop/valueloop/dora"
)

// TestDeploymentIDKeepsItsEnvironment: the records of one deployment ID
// are its successive statuses, the latest winning, so a record to another
// environment under the ID of a production deployment took that deployment
// out of production. A token bound to staging may record staging's
// deployments only, yet could so erase production's. Such a record is now
// refused naming the id; the production deployment still counts. Failed
// before the fix: the record was stored and production had no deployment.
func TestDeploymentIDKeepsItsEnvironment(t *testing.T) {
	ctx := t.Context()
	s, _, c := mustService(t)
	at := c.t.Add(-2 * time.Hour)
	prod := delivery.DeploymentInput{ID: "ci:deploy:881", Service: "shop", Environment: "prod-eu", SHA: "a1b2c3d4", Status: "success", At: &at}
	if _, _, err := s.RecordDeployment(ctx, prod, ""); err != nil {
		t.Fatal(err)
	}
	later := c.t.Add(-time.Hour)
	staging := prod
	staging.Environment, staging.At = "staging", &later
	_, _, err := s.RecordDeployment(ctx, staging, "")
	var e *valueloop.Error
	if !asError(err, &e) || e.Field != "id" || e.Code != valueloop.ECONFLICT {
		t.Errorf("a staging record under a production deployment's id: %v, want a conflict naming id", err)
	}
	rep, err := s.Report(ctx, dora.Query{From: c.t.Add(-24 * time.Hour), To: c.t.Add(time.Hour)})
	if err != nil || rep.Overall.Total.Deployments != 1 {
		t.Errorf("production deployments: %+v, %v; want 1", rep.Overall.Total, err)
	}
	// Its next status, to its own environment, is still recorded.
	failed := prod
	failed.Status, failed.At = "failure", &later
	if _, _, err := s.RecordDeployment(ctx, failed, ""); err != nil {
		t.Errorf("a later status of the deployment: %v", err)
	}
}
