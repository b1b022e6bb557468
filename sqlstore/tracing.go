package sqlstore

import (
	"context"
	"runtime"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/valueloop/valueloop/tracing"
)

// Spans of the store (with Options.Tracer set): each write or read
// transaction is a span named for the store method that runs it
// ("sqlstore.PutFlag"), and each query a client span beneath it, named
// "{operation} {table}" and carrying the query text — written with
// placeholders, so no value a user sent is in it. Without a tracer none of
// this runs.

// noEnd ends no span.
func noEnd(error) {}

// traceTx starts the span of a transaction of kind ("write", "read") for
// the store method two frames up, and returns the function that ends it.
func (s *Store) traceTx(ctx context.Context, kind string) (context.Context, func(error)) {
	if s.o.Tracer == nil {
		return ctx, noEnd
	}
	ctx, span := s.o.Tracer.Start(ctx, "sqlstore."+callerMethod(3), trace.SpanKindInternal,
		attribute.String("db.system.name", s.systemName()),
		attribute.String("valueloop.store.transaction", kind))
	return ctx, func(err error) { tracing.End(span, err) }
}

// txSpan is the span of the transaction ctx is for, nil when not tracing.
func (s *Store) txSpan(ctx context.Context) trace.Span {
	if s.o.Tracer == nil {
		return nil
	}
	return trace.SpanFromContext(ctx)
}

// traceQuery traces a query of the transaction as its span's child.
func (t Tx) traceQuery(ctx context.Context, q string) (context.Context, func(error)) {
	if t.span == nil {
		return ctx, noEnd
	}
	return t.s.traceQuery(trace.ContextWithSpan(ctx, t.span), q)
}

// traceQuery starts the span of one query and returns the function that
// ends it.
func (s *Store) traceQuery(ctx context.Context, q string) (context.Context, func(error)) {
	if s.o.Tracer == nil {
		return ctx, noEnd
	}
	op, table := summarize(q)
	name := op
	if table != "" {
		name += " " + table
	}
	attrs := []attribute.KeyValue{
		attribute.String("db.system.name", s.systemName()),
		attribute.String("db.operation.name", op),
		attribute.String("db.query.text", q),
	}
	if table != "" {
		attrs = append(attrs, attribute.String("db.collection.name", table))
	}
	ctx, span := s.o.Tracer.Start(ctx, name, trace.SpanKindClient, attrs...)
	return ctx, func(err error) { tracing.End(span, err) }
}

// systemName is db.system.name of the dialect.
func (s *Store) systemName() string {
	if s.o.D.Name == "postgres" {
		return "postgresql"
	}
	return s.o.D.Name
}

// callerMethod returns the name of the function skip frames up, without
// its package and receiver ("PutFlag"), closures named for their function.
func callerMethod(skip int) string {
	pc, _, _, ok := runtime.Caller(skip)
	if !ok {
		return "unknown"
	}
	name := runtime.FuncForPC(pc).Name() // .../sqlstore.(*Store).PutFlag.func1
	name = name[strings.LastIndex(name, "/")+1:]
	parts := strings.Split(name, ".")
	for i := len(parts) - 1; i > 0; i-- {
		if !strings.HasPrefix(parts[i], "func") || len(parts[i]) == 4 {
			return parts[i]
		}
	}
	return name
}

// summarize returns a query's operation (its first keyword) and the table
// it works on: the first after FROM, INTO or UPDATE, "" when none.
func summarize(q string) (op, table string) {
	words := strings.Fields(q)
	if len(words) == 0 {
		return "", ""
	}
	op = strings.ToUpper(words[0])
	if op == "UPDATE" && len(words) > 1 {
		return op, strings.Trim(words[1], "(),;")
	}
	for i, w := range words[:len(words)-1] {
		switch strings.ToUpper(w) {
		case "FROM", "INTO":
			if t := strings.Trim(words[i+1], "(),;"); t != "" && !strings.HasPrefix(strings.ToUpper(t), "SELECT") {
				return op, t
			}
		}
	}
	return op, ""
}
