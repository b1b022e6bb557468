package flagdapi

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagplan"
	"github.com/valueloop/valueloop/flags"
)

// defaultMaxAnonymous is the default of Server.MaxAnonymousStreams.
const defaultMaxAnonymous = 256

// anonymousSlot takes one of the MaxAnonymousStreams slots; release gives
// it back.
func (s *Server) anonymousSlot() (release func(), err error) {
	limit := s.MaxAnonymousStreams
	if limit <= 0 {
		limit = defaultMaxAnonymous
	}
	if s.anonymous.Add(1) > int64(limit) {
		s.anonymous.Add(-1)
		s.anonymousRefused.Add(1)
		return nil, connect.NewError(connect.CodeResourceExhausted, errors.New("too many event streams without credentials are open: send authorization metadata, or retry later"))
	}
	return func() { s.anonymous.Add(-1) }, nil
}

// streamSlot takes a StreamSlot for a stream with credentials, if the
// server bounds them.
func (s *Server) streamSlot() (release func(), err error) {
	if s.StreamSlot == nil {
		return func() {}, nil
	}
	release, err = s.StreamSlot()
	if err != nil {
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("too many flag streams are open: retry later (%w)", err))
	}
	return release, nil
}

// Register exposes the counts of anonymous event streams in reg.
func (s *Server) Register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "valueloop_flagd_anonymous_streams", Help: "flagd event streams open without credentials."},
			func() float64 { return float64(s.anonymous.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "valueloop_flagd_anonymous_streams_refused_total", Help: "flagd event streams without credentials refused because MaxAnonymousStreams were open."},
			func() float64 { return float64(s.anonymousRefused.Load()) }),
	)
}

// changeMemo shares the changed keys of a change between the event
// streams of an environment: each stream asks for the keys between the
// set it last told its client about and the live one, and all of them
// (but those that missed a change) ask for the same pair, so it is
// compared once, not once per stream.
type changeMemo struct {
	mu       sync.Mutex
	byEnv    map[string]*changeEntry
	computed atomic.Int64 // comparisons made (tests)
}

type changeEntry struct {
	once     sync.Once
	old, cur *flags.Live
	keys     []string
}

// keys returns changedKeys(old, cur), computed once per pair for env.
func (m *changeMemo) keys(env string, old, cur *flags.Live) []string {
	m.mu.Lock()
	if m.byEnv == nil {
		m.byEnv = map[string]*changeEntry{}
	}
	e := m.byEnv[env]
	if e == nil || e.old != old || e.cur != cur {
		e = &changeEntry{old: old, cur: cur}
		m.byEnv[env] = e
	}
	m.mu.Unlock()
	// Compared outside the lock: the streams of other environments do not
	// wait, those of this one wait for the one comparison.
	e.once.Do(func() {
		m.computed.Add(1)
		e.keys = changedKeys(old, cur)
	})
	return e.keys
}

// changedKeys are the keys of the flags whose evaluation may differ
// between two sets (flagplan.ChangedFlags): a change of the set's
// evaluators or metadata names the flags it reaches, not none.
func changedKeys(old, cur *flags.Live) []string {
	var prev *valueloop.FlagSet
	if old != nil {
		prev = old.Snapshot.Set()
	}
	return flagplan.ChangedFlags(prev, cur.Snapshot.Set())
}

// syncMessage builds the SyncFlags message of live's set (once per change,
// shared by the streams: Server.syncs), so that streams do not each copy
// the set into a message of their own.
func syncMessage(live *flags.Live) (*syncv1.SyncFlagsResponse, error) {
	data, err := live.FlagdJSON()
	if err != nil {
		return nil, err
	}
	// An empty sync_context, as flagd sends its static context (none
	// here): without one flagd's Java provider takes GetMetadata's answer
	// instead, and older servers answered the set's metadata there.
	return &syncv1.SyncFlagsResponse{FlagConfiguration: string(data), SyncContext: &structpb.Struct{}}, nil
}
