package features

import (
	"cmp"
	"context"
	"slices"

	"github.com/valueloop/valueloop/value"
)

// ChangesReader is what a Store may also offer so that next and flow, after
// a write, decode only what changed instead of every feature: the first
// read after a write then costs about as much as the write changed.
type ChangesReader interface {
	// ValueChanges reads in one transaction the version, every objective,
	// the features written or whose lifecycle changed at a version above
	// since (all when since < 0) with their lifecycles, and how many
	// features there are.
	ValueChanges(ctx context.Context, since int64) (*Changes, error)
}

// Changes is what ValueChanges returns.
type Changes struct {
	Version    int64
	Objectives []value.Objective
	// Features by key, each with its stored lifecycle in Lifecycles (the
	// zero Lifecycle when it was never synced).
	Features   []value.Feature
	Lifecycles []value.Lifecycle
	// Count is how many features there are: fewer than the cached ones and
	// the changed ones together means some were deleted.
	Count int
}

// snapshot is what next and flow read, decoded once per version of the
// store: decoding 10,000 features and lifecycles costs more than ranking
// them. It is never changed once published: a newer version is a new
// snapshot that shares the unchanged features.
type snapshot struct {
	version    int64
	objectives []value.Objective
	features   []value.Feature   // by key
	lifecycles []value.Lifecycle // by feature, in features' order
}

// read returns the snapshot of the store's current version: the cached
// one while the version stands, else the cached one with the features
// changed since (a full read when the store cannot tell them, when
// features were deleted or when nothing is cached).
func (s *Service) read(ctx context.Context) (*snapshot, error) {
	v, err := s.Store.ValueVersion(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c := s.cache
	s.mu.Unlock()
	if c != nil && c.version == v {
		return c, nil
	}
	// Read after the version: a write in between leaves newer data under
	// an older version, which the next read reads again.
	var next *snapshot
	if cr, ok := s.Store.(ChangesReader); ok {
		since := int64(-1)
		if c != nil {
			since = c.version
		}
		ch, err := cr.ValueChanges(ctx, since)
		if err != nil {
			return nil, err
		}
		next = c.merge(ch)
		if len(next.features) != ch.Count { // deletions: read everything
			if ch, err = cr.ValueChanges(ctx, -1); err != nil {
				return nil, err
			}
			next = (*snapshot)(nil).merge(ch)
		}
	} else if next, err = s.readAll(ctx, v); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.cache == nil || s.cache.version <= next.version {
		s.cache = next
	}
	s.mu.Unlock()
	return next, nil
}

// merge returns c with ch's features replacing or joining c's; c may be nil.
// A feature never synced is an idea since its creation.
func (c *snapshot) merge(ch *Changes) *snapshot {
	n := &snapshot{version: ch.Version, objectives: ch.Objectives}
	if c != nil {
		n.features, n.lifecycles = slices.Clone(c.features), slices.Clone(c.lifecycles)
	}
	// Search the cached features only (sorted by key, Go's order, whatever
	// the database's collation): ch's keys are unique, so a key not among
	// them is new.
	cached, added := len(n.features), false
	for i := range ch.Features {
		f, l := ch.Features[i], ch.Lifecycles[i]
		if l.Stage == "" {
			l = value.Derive([]value.Event{value.CreatedEvent(&f, "")}, nil)
		}
		j, found := slices.BinarySearchFunc(n.features[:cached], f.Key, func(x value.Feature, k string) int { return cmp.Compare(x.Key, k) })
		if found {
			n.features[j], n.lifecycles[j] = f, l
			continue
		}
		n.features, n.lifecycles = append(n.features, f), append(n.lifecycles, l)
		added = true
	}
	if added {
		order := make([]int, len(n.features))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(n.features[a].Key, n.features[b].Key) })
		fs, ls := make([]value.Feature, len(order)), make([]value.Lifecycle, len(order))
		for i, j := range order {
			fs[i], ls[i] = n.features[j], n.lifecycles[j]
		}
		n.features, n.lifecycles = fs, ls
	}
	return n
}

// readAll reads everything, for a store without ChangesReader.
func (s *Service) readAll(ctx context.Context, v int64) (*snapshot, error) {
	c := &snapshot{version: v}
	var err error
	if c.objectives, err = s.Store.Objectives(ctx); err != nil {
		return nil, err
	}
	if c.features, err = s.Store.Features(ctx); err != nil {
		return nil, err
	}
	ls, err := s.Store.Lifecycles(ctx)
	if err != nil {
		return nil, err
	}
	c.lifecycles = make([]value.Lifecycle, len(c.features))
	for i := range c.features {
		l, ok := ls[c.features[i].Key]
		if !ok {
			l = value.Derive([]value.Event{value.CreatedEvent(&c.features[i], "")}, nil)
		}
		c.lifecycles[i] = l
	}
	return c, nil
}
