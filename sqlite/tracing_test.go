package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/valueloop/valueloop/sqlite"
	"github.com/valueloop/valueloop/storetest"
	"github.com/valueloop/valueloop/tracing"
)

// TestContractTraced runs the store contract with tracing on: the spans
// around transactions and queries change nothing the store does, and every
// query of a transaction is its span's child.
func TestContractTraced(t *testing.T) {
	if testing.Short() {
		t.Skip("the contract again, traced")
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) storetest.Store {
		db := sqlite.NewDB(filepath.Join(t.TempDir(), "test.db"))
		db.Tracer = tracing.New(tp)
		return storetest.Opened(t, db, &db.Now, clock)
	})
	names := map[string]string{} // span ID → name
	spans := exp.GetSpans()
	for _, s := range spans {
		names[s.SpanContext.SpanID().String()] = s.Name
	}
	var txs, queries int
	for _, s := range spans {
		switch parent := names[s.Parent.SpanID().String()]; {
		case strings.HasPrefix(s.Name, "sqlstore."):
			txs++
		case strings.HasPrefix(parent, "sqlstore."):
			queries++
		}
	}
	if txs == 0 || queries < txs {
		t.Errorf("%d spans: %d transactions, %d queries beneath them", len(spans), txs, queries)
	}
}
