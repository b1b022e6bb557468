package delivery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/dora"
)

// Store keeps sources, the catalog and the delivered records (*sqlite.DB).
type Store interface {
	// DeliveryVersion grows with every change of what DeliveryData reads.
	DeliveryVersion(ctx context.Context) (int64, error)
	// DeliveryData reads the catalog and every record, in the order
	// stored, with the version they are at, from one consistent snapshot.
	DeliveryData(ctx context.Context) (dora.Data, int64, error)
	// RecordDelivery stores d whole in one transaction, and returns false
	// without storing anything when d.Source and d.ID, or d.Source and
	// d.BodyDigest (when not empty), are already stored; a stored delivery
	// that was ignored is replaced by one that is not.
	RecordDelivery(ctx context.Context, d *Delivery) (bool, error)
	IncidentSnapshots(ctx context.Context, id string) ([]dora.Incident, error)
	FlagChanges(ctx context.Context, flag string) ([]dora.Change, error)
	Deliveries(ctx context.Context, source string, limit int) ([]DeliveryInfo, error)
	// Records lists the records f selects, newest first; EditRecord
	// replaces what record r.Record of r.Kind says (ENOTFOUND when there is
	// none) and fills r.Source and r.Delivery; DeleteRecord deletes one.
	// Both are audited.
	Records(ctx context.Context, f RecordFilter) ([]Record, error)
	EditRecord(ctx context.Context, r *Record, actor, reason string) error
	DeleteRecord(ctx context.Context, kind string, n int64, actor, reason string) error

	Sources(ctx context.Context) ([]Source, error)
	PutSource(ctx context.Context, s *Source, actor string) error
	DeleteSource(ctx context.Context, name, actor string) error
	Catalog(ctx context.Context) (dora.Catalog, error)
	PutService(ctx context.Context, s dora.Service, actor string) error
	DeleteService(ctx context.Context, name, actor string) error
}

// RolloutTimes is what the rollouts of a flag say about the loop.
type RolloutTimes struct {
	// StartedAt is when the first rollout that reached FullAt (or, when
	// none did yet, the latest rollout) started.
	StartedAt time.Time
	// FullAt is when the rollout first served 100% of users; zero until
	// then.
	FullAt time.Time
	// Percent is the share of users served now.
	Percent float64
	State   string
}

// Service is delivery metrics inside the server. Construct with New, set
// fields, Open; Close stops the gauge timer.
type Service struct {
	Store Store
	// Environments returns the environments Valueloop knows: their
	// Production attribute decides whether a deployment counts. A
	// deployment to an environment not listed uses the forge's hint.
	Environments func() []valueloop.Environment
	// Rollouts reads a flag's rollout times in an environment; nil when the
	// server runs no rollouts (the loop figures then say so).
	Rollouts func(ctx context.Context, env, flag string) (RolloutTimes, error)
	// Verdicts reads the verdict on a flag's hypothesis and when it was
	// reached; nil when nothing records verdict times.
	Verdicts func(ctx context.Context, env, flag string) (decision string, at time.Time, err error)
	// Linked, when set, receives the changes of every delivery received
	// (redeliveries too) with their text, for the value loop to recognise
	// the changes of features in them.
	Linked func(ctx context.Context, changes []ChangeText) error
	Now    func() time.Time
	Logger *slog.Logger
	// ClockSkew is how far the clocks of different tools may disagree
	// (dora.Data.ClockSkew); default 5 minutes.
	ClockSkew time.Duration
	// GaugeInterval is how often the gauges of the last GaugeWindow are
	// recomputed (default one minute and 30 days).
	GaugeInterval, GaugeWindow time.Duration
	// SlowBuild and MaxStale bound the cost of the cache on large data: a
	// timeline that took at least SlowBuild to build keeps answering for
	// up to MaxStale after the records change while a new one is built in
	// the background. Faster builds are redone before answering, so a
	// reader sees every write made before it (defaults 250ms and 30s).
	// The rollback check never reads a stale one (freshTimeline).
	SlowBuild, MaxStale time.Duration
	// TimeZone is the zone of reports that name none (a dora.Query
	// without Location): the server's configured default, so the API, the
	// CLI and the dashboard cut days and weeks alike. nil is UTC.
	TimeZone *time.Location

	mu       sync.Mutex
	closed   bool // no more background builds
	snap     *snapshot
	building chan struct{} // closed when the build under way ends
	builds   atomic.Int64
	gauges   atomic.Pointer[GaugeSet]

	life   context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// snapshot is a timeline with the data it was built from.
type snapshot struct {
	version int64
	data    dora.Data
	tl      *dora.Timeline
	builtAt time.Time // by the service's clock, for reports
	readAt  time.Time // by the wall clock, for staleness
	took    time.Duration
}

// New returns a service on store with the defaults.
func New(store Store) *Service {
	return &Service{
		Store:         store,
		Environments:  func() []valueloop.Environment { return nil },
		Now:           time.Now,
		Logger:        slog.New(slog.DiscardHandler),
		ClockSkew:     5 * time.Minute,
		GaugeInterval: time.Minute,
		GaugeWindow:   30 * 24 * time.Hour,
		SlowBuild:     250 * time.Millisecond,
		MaxStale:      30 * time.Second,
	}
}

// Open starts the gauge timer; the first gauges are computed at once.
func (s *Service) Open() error {
	if s.Store == nil {
		return errors.New("delivery: Store is required")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.life, s.cancel = ctx, cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		cluster.Every(ctx, s.GaugeInterval, s.refreshGauges, s.Logger.Warn, "delivery gauges not refreshed")
	}()
	return nil
}

// Close stops the timer and waits for background work.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}

// Builds counts the timelines built, for tests and the operator.
func (s *Service) Builds() int64 { return s.builds.Load() }

// timeline returns a timeline of the stored records: the cached one when
// the records have not changed since it was built. See SlowBuild: a
// report may lag the latest writes, not a check that refuses one.
func (s *Service) timeline(ctx context.Context) (*snapshot, error) {
	return s.timelineOf(ctx, true)
}

// freshTimeline returns a timeline of every record stored before the call,
// however long it takes to build: for a check that refuses a write (a
// rollback to a deployment recorded just before it must find that
// deployment).
func (s *Service) freshTimeline(ctx context.Context) (*snapshot, error) {
	return s.timelineOf(ctx, false)
}

// timelineOf returns a timeline, a slow one that is not too old (SlowBuild,
// MaxStale) even though the records changed when stale is true.
func (s *Service) timelineOf(ctx context.Context, stale bool) (*snapshot, error) {
	v, err := s.Store.DeliveryVersion(ctx)
	if err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		cur := s.snap
		if cur != nil && cur.version >= v {
			s.mu.Unlock()
			return cur, nil
		}
		if stale && cur != nil && cur.took >= s.SlowBuild && time.Since(cur.readAt) < s.MaxStale {
			if s.building == nil && !s.closed {
				s.startBuild(true)
			}
			s.mu.Unlock()
			return cur, nil
		}
		if s.building == nil {
			done := s.startBuild(false)
			s.mu.Unlock()
			if err := s.build(ctx, done); err != nil {
				return nil, err
			}
			continue
		}
		wait := s.building
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// builtTimeline returns the timeline built last, however old, without
// building one; nil before the first build.
func (s *Service) builtTimeline() *snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

// startBuild marks a build under way (s.mu held) and, in the background
// when async, runs it.
func (s *Service) startBuild(async bool) chan struct{} {
	done := make(chan struct{})
	s.building = done
	if async {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// The service's life, not a request's: the build outlives the
			// request that found the timeline stale, and Close ends it.
			ctx := s.life
			if ctx == nil { // never opened
				ctx = context.Background()
			}
			if err := s.build(ctx, done); err != nil {
				s.Logger.Warn("delivery timeline not rebuilt", "err", err)
			}
		}()
	}
	return done
}

// build reads the records and builds a timeline, then ends the build done.
func (s *Service) build(ctx context.Context, done chan struct{}) error {
	snap, err := s.load(ctx)
	s.mu.Lock()
	if err == nil && (s.snap == nil || snap.version >= s.snap.version) {
		s.snap = snap
	}
	s.building = nil
	close(done)
	s.mu.Unlock()
	return err
}

func (s *Service) load(ctx context.Context) (*snapshot, error) {
	start := time.Now()
	data, version, err := s.Store.DeliveryData(ctx)
	if err != nil {
		return nil, err
	}
	data.ClockSkew = s.ClockSkew
	tl, err := dora.NewTimeline(data)
	if err != nil {
		return nil, err
	}
	s.builds.Add(1)
	took := time.Since(start)
	s.Logger.Debug("delivery timeline built", "version", version, "changes", len(data.Changes),
		"deployments", len(data.Deployments), "incidents", len(data.Incidents), "took", took)
	return &snapshot{version: version, data: data, tl: tl, builtAt: s.Now(), readAt: start, took: took}, nil
}

// newID returns a random identifier with prefix, for records sent without
// one.
func newID(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// bodyDigest is Delivery.BodyDigest of body: all of SHA-256, as it
// identifies what a source sent, not only names it.
func bodyDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// bodyID identifies a delivery that came without an ID by its content, so
// that an identical redelivery is still recognised.
func bodyID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:16])
}
