package flagdapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	syncv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/sync/v1"
	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/flagd"
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

// streamSlot takes a StreamSlot for a stream of ctx, if the server bounds
// them; anonymous: an event stream without credentials.
func (s *Server) streamSlot(ctx context.Context, anonymous bool) (release func(), err error) {
	if s.StreamSlot == nil {
		return func() {}, nil
	}
	release, err = s.StreamSlot(ctx, anonymous)
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

// changeMemo shares the configuration_change of a change between the
// event streams of an environment: each stream asks for the message
// between the set it last told its client about and the live one, and all
// of them (but those that missed a change) ask for the same pair, so the
// sets are compared and the message built once, not once per stream (built
// and encoded per stream it cost some 250 µs per stream with 100 of 1,000
// flags changed, 2.5 s of CPU for 10,000 streams: BenchmarkEventStreamFanOut,
// bench/RESULTS.md). The message is shared, never modified: connect only
// reads it to encode it.
type changeMemo struct {
	mu       sync.Mutex
	byEnv    map[string]*changeEntry
	byData   map[*structpb.Struct]*changeEntry // the entries of byEnv
	computed atomic.Int64                      // messages built (tests)
	encoded  atomic.Int64                      // messages encoded (tests)
}

type changeEntry struct {
	once, wireOnce sync.Once
	old, cur       *flags.Live
	data           *structpb.Struct
	wire           []byte // data in protobuf's wire format
}

// message returns configurationChange(old, cur), built once per pair for
// env. A stream that missed a change (its old is another) gets a message
// of its own pair, which replaces the held one.
func (m *changeMemo) message(env string, old, cur *flags.Live) *structpb.Struct {
	m.mu.Lock()
	if m.byEnv == nil {
		m.byEnv = map[string]*changeEntry{}
	}
	e := m.byEnv[env]
	if e == nil || e.old != old || e.cur != cur {
		if e != nil {
			delete(m.byData, e.data)
		}
		e = &changeEntry{old: old, cur: cur}
		m.byEnv[env] = e
	}
	m.mu.Unlock()
	// Built outside the lock: the streams of other environments do not
	// wait, those of this one wait for the one message.
	e.once.Do(func() {
		m.computed.Add(1)
		data := configurationChange(old, cur)
		m.mu.Lock()
		e.data = data          // under mu: a replacing pair reads it to forget it
		if m.byEnv[env] == e { // not replaced by another pair meanwhile
			if m.byData == nil {
				m.byData = map[*structpb.Struct]*changeEntry{}
			}
			m.byData[e.data] = e
		}
		m.mu.Unlock()
	})
	return e.data
}

// wire returns data in protobuf's wire format, encoded once, if data is a
// message held by m; nil otherwise.
func (m *changeMemo) wire(data *structpb.Struct) []byte {
	m.mu.Lock()
	e := m.byData[data]
	m.mu.Unlock()
	if e == nil {
		return nil
	}
	e.wireOnce.Do(func() {
		m.encoded.Add(1)
		e.wire, _ = proto.Marshal(data)
	})
	return e.wire
}

// configurationChange is the data of flagd's configuration_change from old
// to cur: each changed flag's key with its type of change.
func configurationChange(old, cur *flags.Live) *structpb.Struct {
	fl := map[string]any{}
	for _, k := range changedKeys(old, cur) {
		fl[k] = map[string]any{"type": changeType(old, cur, k)}
	}
	data, _ := structpb.NewStruct(map[string]any{"flags": fl})
	return data
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
	data, err := flagConfiguration(live)
	if err != nil {
		return nil, err
	}
	// An empty sync_context, as flagd sends its static context (none
	// here): without one flagd's Java provider takes GetMetadata's answer
	// instead, and older servers answered the set's metadata there.
	return &syncv1.SyncFlagsResponse{FlagConfiguration: string(data), SyncContext: &structpb.Struct{}}, nil
}

// flagConfiguration is live's set as the sync service sends it: a flagd
// file whose metadata names the environment as its "scope", unless the set
// has a scope of its own. flagd's in-process providers put their selector
// into the metadata of every evaluation as "scope" where the flag's
// metadata (its own over the set's) has none, tested for truth
// (@openfeature/flagd-provider 0.16.1: !flagMetadata['scope']), and the
// selector may be the token: hooks, logs and traces that read flag
// metadata would get the secret. So a scope that is empty, zero or false,
// the set's or a flag's own, is none: the set's becomes the environment,
// a flag's the set's.
func flagConfiguration(live *flags.Live) ([]byte, error) {
	set := live.Snapshot.Set()
	if hasScope(set.Metadata) && !anyEmptyScope(set.Flags) {
		return live.FlagdJSON()
	}
	scoped := *set
	scoped.Metadata = maps.Clone(set.Metadata)
	if !hasScope(scoped.Metadata) {
		if scoped.Metadata == nil {
			scoped.Metadata = map[string]any{}
		}
		scoped.Metadata["scope"] = live.Environment.Key
	}
	scoped.Flags = maps.Clone(set.Flags)
	for key, f := range scoped.Flags {
		if emptyScope(f) {
			g := *f
			g.Metadata = maps.Clone(f.Metadata)
			g.Metadata["scope"] = scoped.Metadata["scope"]
			scoped.Flags[key] = &g
		}
	}
	return flagd.Marshal(&scoped)
}

// hasScope says metadata has a "scope" a JavaScript provider takes for
// one (truthy): not absent, empty, zero or false.
func hasScope(metadata map[string]any) bool {
	switch v := metadata["scope"].(type) {
	case nil:
		return false
	case string:
		return v != ""
	case float64:
		return v != 0
	case bool:
		return v
	}
	return true // an object or array, which flagd's schema refuses anyway
}

// emptyScope says flag f's own metadata has a "scope" that is none (see
// hasScope), which would hide the set's from the provider.
func emptyScope(f *valueloop.Flag) bool {
	_, ok := f.Metadata["scope"]
	return ok && !hasScope(f.Metadata)
}

// anyEmptyScope says some flag has an empty scope of its own (emptyScope).
func anyEmptyScope(fs map[string]*valueloop.Flag) bool {
	for _, f := range fs {
		if emptyScope(f) {
			return true
		}
	}
	return false
}
