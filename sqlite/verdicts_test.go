package sqlite_test

import (
	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
)

// The contract's Verdicts case runs on this store, never skips.
var _ storetest.VerdictStore = (*sqlite.DB)(nil)
