package ingest

// cellKey identifies an Aggregate.
type cellKey struct {
	flag, variant, metric string
	period                int64
	dim, value            string
}
