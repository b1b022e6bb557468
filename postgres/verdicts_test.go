package postgres_test

import (
	"github.com/valueloop/valueloop/postgres"
	"github.com/valueloop/valueloop/storetest"
)

// The contract's Verdicts case runs on this store, never skips.
var _ storetest.VerdictStore = (*postgres.DB)(nil)
