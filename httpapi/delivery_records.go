package httpapi

import (
	"net/http"
	"strconv"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
)

// Corrections of delivery records: list, read, edit and delete changes,
// deployments, incident snapshots and reviews by their record number. They concern
// every environment, so they need an admin token for all of them.

// recordNumber reads the {record} path value.
func recordNumber(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("record"), 10, 64)
	if err != nil || n < 1 {
		return 0, valueloop.FieldErrorf("record", "must be a record number (a positive integer), not %q", r.PathValue("record"))
	}
	return n, nil
}

// record is globalDeliveryService and the {record} number of a request on one
// record.
func (s *Server) record(r *http.Request) (*delivery.Service, int64, error) {
	svc, err := s.globalDeliveryService(r)
	if err != nil {
		return nil, 0, err
	}
	n, err := recordNumber(r)
	return svc, n, err
}

// handleListRecords lists the records of {kind} (changes, deployments,
// incidents, reviews), newest first, filtered by service, repo and id, a
// page of ?limit= (DefaultRecordPage, at most MaxRecordPage) after ?cursor= (delivery.Service.Records
// checks it).
func (s *Server) handleListRecords(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.globalDeliveryService(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := checkParams(q, "service", "repo", "id", "limit", "cursor"); err != nil {
		return err
	}
	f := delivery.RecordFilter{Kind: r.PathValue("kind"), Service: q.Get("service"), Repo: q.Get("repo"), ID: q.Get("id")}
	if f.Limit, err = limitParam(q, delivery.DefaultRecordPage, delivery.MaxRecordPage); err != nil {
		return err
	}
	page, err := svc.Records(r.Context(), f, q.Get("cursor"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) handleGetRecord(w http.ResponseWriter, r *http.Request) error {
	svc, n, err := s.record(r)
	if err != nil {
		return err
	}
	rec, err := svc.Record(r.Context(), r.PathValue("kind"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// handleEditRecord replaces what a record says. The body is the record as
// GET answers it (record, kind, source and delivery may be left out: they
// are not changed), with "force" to store a rollback to a target that is
// not an earlier production deployment and "reason" for the audit trail.
// The answer is the record as stored, with a "warning" when the metrics
// cannot use it as given (an ambiguous SHA).
func (s *Server) handleEditRecord(w http.ResponseWriter, r *http.Request) error {
	svc, n, err := s.record(r)
	if err != nil {
		return err
	}
	var in struct {
		delivery.Record
		Force  bool   `json:"force"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	kind := r.PathValue("kind")
	switch {
	case in.Record.Record != 0 && in.Record.Record != n:
		return valueloop.FieldErrorf("record", "%d differs from the record in the path, %d", in.Record.Record, n)
	case in.Kind != "" && in.Kind != kind:
		return valueloop.FieldErrorf("kind", "%q differs from the kind in the path, %q", in.Kind, kind)
	}
	rec, warning, err := svc.EditRecord(r.Context(), delivery.Edit{
		Record: delivery.Record{Record: n, Kind: kind, Change: in.Change, Deployment: in.Deployment, Incident: in.Incident, Review: in.Review},
		Force:  in.Force, Actor: tokenOf(r).Name, Reason: in.Reason,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, delivery.Edited{Record: rec, Warning: warning})
	return nil
}

// handleDeleteRecord deletes a record; ?reason= goes to the audit trail.
func (s *Server) handleDeleteRecord(w http.ResponseWriter, r *http.Request) error {
	svc, n, err := s.record(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := checkParams(q, "reason"); err != nil {
		return err
	}
	if err := svc.DeleteRecord(r.Context(), r.PathValue("kind"), n, tokenOf(r).Name, q.Get("reason")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
