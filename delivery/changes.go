package delivery

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Changes are the bulk of the data (a million is an ordinary year for a large
// organisation), so the timeline keeps the caller's records where they are
// and works on a compact, pointer-free summary of each: the garbage collector
// never scans it and sorting it touches no strings.

// change summarises one distinct (repository, SHA).
type change struct {
	authored int64 // Unix ns; for a pull request, its first known commit
	landed   int64 // Unix ns it reached the default branch; notLanded if never
	rec      int32 // first record naming it, in Timeline.recs
	extra    int32 // index in Timeline.merged when several records name it; -1 otherwise
	repo     int32 // repository id
	flags    uint8
}

const (
	notLanded          = math.MinInt64
	fromPR       uint8 = 1 << iota // a merged pull request with a source branch
	namedService                   // the record names its service
)

// repoTable interns repository names: case is compared once per spelling, not
// once per record.
type repoTable struct {
	cat     *catalog
	spelled map[string]int32 // as spelled in records
	lower   map[string]int32 // lower-case
	names   []string         // first spelling seen
	entries []*repoEntry     // catalog entry; nil for a repository the catalog lacks
	lines   []*line          // the single service of the repository, once known
	last    string           // the previous lookup, the usual case
	lastID  int32
}

func newRepoTable(cat *catalog) *repoTable {
	return &repoTable{cat: cat, spelled: map[string]int32{}, lower: map[string]int32{}, lastID: -1}
}

// id returns the id of a repository, adding it if new.
func (r *repoTable) id(name string) int32 {
	if r.lastID >= 0 && name == r.last {
		return r.lastID
	}
	id, ok := r.spelled[name]
	if !ok {
		low := strings.ToLower(name)
		if id, ok = r.lower[low]; !ok {
			id = int32(len(r.names))
			r.lower[low] = id
			r.names = append(r.names, name)
			r.entries = append(r.entries, r.cat.repos[low])
			r.lines = append(r.lines, nil)
		}
		r.spelled[name] = id
	}
	r.last, r.lastID = name, id
	return id
}

// find returns the id of a known repository.
func (r *repoTable) find(name string) (int32, bool) {
	if id, ok := r.spelled[name]; ok {
		return id, true
	}
	id, ok := r.lower[strings.ToLower(name)]
	return id, ok
}

// changeIndex finds changes by repository and SHA. SHAs are compared exactly:
// git and both forges spell them in lower-case hex, and the parsers lower the
// case of SHAs that people type.
//
// A Go map of a million entries costs a few cache misses per operation; this
// index is built by one counting sort instead: each SHA hashes to a uniform
// 64-bit key, entries are bucketed by the key's top bits into at least as
// many buckets as entries, and a lookup reads one bucket, about one entry.
type changeIndex struct {
	shift   uint    // 64 - log2(number of buckets)
	starts  []int32 // bucket b holds entries starts[b] to starts[b+1]
	entries []indexEntry
}

// indexEntry is a record's key and, once changes are known, its change: one
// cache line serves both.
type indexEntry struct {
	key  uint64
	id   int32 // the record while building, then its change
	repo int32
}

// hashSHA returns a uniform key for a SHA. A git SHA is already uniform: its
// first 16 hex digits are the key. Anything else goes through FNV-1a and a
// finaliser that spreads it over the top bits.
func hashSHA(s string) uint64 {
	if len(s) >= 16 {
		var h uint64
		i := 0
		for ; i < 16; i++ {
			c := s[i]
			switch {
			case '0' <= c && c <= '9':
				h = h<<4 | uint64(c-'0')
			case 'a' <= c && c <= 'f':
				h = h<<4 | uint64(c-'a'+10)
			default:
				i = 99
			}
		}
		if i == 16 {
			return h
		}
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (t *Timeline) lookup(repo int32, sha string) (int32, bool) {
	x := &t.index
	if len(x.starts) == 0 {
		return 0, false
	}
	h := hashSHA(sha)
	b := h >> x.shift
	for e := x.starts[b]; e < x.starts[b+1]; e++ {
		if x.entries[e].key != h || x.entries[e].repo != repo {
			continue
		}
		j := x.entries[e].id
		if t.recs[t.ch[j].rec].SHA == sha {
			return j, true
		}
	}
	return 0, false
}

// lookupName is lookup for a repository given by name.
func (t *Timeline) lookupName(repo, sha string) (int32, bool) {
	id, ok := t.repos.find(repo)
	if !ok || sha == "" {
		return 0, false
	}
	return t.lookup(id, sha)
}

// record returns what is known of change j: its only record, or the records
// naming it merged.
func (t *Timeline) record(j int32) *Change {
	if e := t.ch[j].extra; e >= 0 {
		return &t.merged[e]
	}
	return &t.recs[t.ch[j].rec]
}

// mergeChanges keeps one change per repository and SHA, combining what each
// record knows, and builds the index.
func (t *Timeline) mergeChanges(in []Change) {
	t.recs = in
	n := 0
	repoOf := make([]int32, len(in)) // -1: invalid record
	keyOf := make([]uint64, len(in))
	for i := range in {
		c := &in[i]
		if c.Validate() != nil {
			t.Skipped++
			repoOf[i] = -1
			continue
		}
		repoOf[i] = t.repos.id(c.Repo)
		keyOf[i] = hashSHA(c.SHA)
		n++
	}
	// Bucket the records by the top bits of their key (a stable counting
	// sort: within a bucket, records keep their order).
	bits := uint(4)
	for 1<<bits < n {
		bits++
	}
	x := &t.index
	x.shift = 64 - bits
	x.starts = make([]int32, 1<<bits+1)
	for i, r := range repoOf {
		if r >= 0 {
			x.starts[keyOf[i]>>x.shift+1]++
		}
	}
	for b := 1; b < len(x.starts); b++ {
		x.starts[b] += x.starts[b-1]
	}
	fill := slices.Clone(x.starts[:len(x.starts)-1])
	x.entries = make([]indexEntry, n)
	for i, r := range repoOf {
		if r >= 0 {
			b := keyOf[i] >> x.shift
			x.entries[fill[b]] = indexEntry{keyOf[i], int32(i), r}
			fill[b]++
		}
	}
	// The first record of a repository and SHA represents the others.
	repOf := make([]int32, len(in))
	for i := range repOf {
		repOf[i] = int32(i)
	}
	for b := 0; b+1 < len(x.starts); b++ {
		lo, hi := x.starts[b], x.starts[b+1]
		for e := lo + 1; e < hi; e++ {
			ri := x.entries[e].id
			for f := lo; f < e; f++ {
				rf := x.entries[f].id
				if x.entries[f].key == x.entries[e].key && x.entries[f].repo == x.entries[e].repo && repOf[rf] == rf && in[rf].SHA == in[ri].SHA {
					repOf[ri] = rf
					break
				}
			}
		}
	}
	// Changes in the order of their first record, merging the others in.
	t.ch = make([]change, 0, n)
	changeOf := make([]int32, len(in))
	for i := range in {
		if repoOf[i] < 0 {
			continue
		}
		if r := repOf[i]; r != int32(i) {
			changeOf[i] = changeOf[r]
			t.mergeRecord(changeOf[r], &in[i])
			continue
		}
		c := &in[i]
		changeOf[i] = int32(len(t.ch))
		t.ch = append(t.ch, change{authored: nanos(c.AuthoredAt), landed: landedAt(c), rec: int32(i), extra: -1, repo: repoOf[i], flags: flagsOf(c)})
	}
	for e := range x.entries {
		x.entries[e].id = changeOf[x.entries[e].id]
	}
}

func landedAt(c *Change) int64 {
	if c.MergedAt.IsZero() {
		return notLanded
	}
	return nanos(c.MergedAt)
}

func flagsOf(c *Change) uint8 {
	var f uint8
	if c.PR != "" && c.Branch != "" && !c.MergedAt.IsZero() {
		f |= fromPR
	}
	if c.Service != "" {
		f |= namedService
	}
	return f
}

// mergeRecord folds record c into change j.
func (t *Timeline) mergeRecord(j int32, c *Change) {
	ch := &t.ch[j]
	if ch.extra < 0 {
		ch.extra = int32(len(t.merged))
		t.merged = append(t.merged, t.recs[ch.rec])
	}
	m := &t.merged[ch.extra]
	m.AuthoredAt = earliest(m.AuthoredAt, c.AuthoredAt)
	m.MergedAt = earliest(m.MergedAt, c.MergedAt)
	if m.Service == "" {
		m.Service = c.Service
	}
	if c.PR != "" {
		m.PR = c.PR
		if c.Branch != "" {
			m.Branch = c.Branch // the source branch is what squash linking needs
		}
	} else if m.Branch == "" {
		m.Branch = c.Branch
	}
	m.Paths = unionPaths(m.Paths, c.Paths)
	ch.authored, ch.landed, ch.flags = nanos(m.AuthoredAt), landedAt(m), flagsOf(m)
}

// changeAt returns change j as the timeline sees it: its record, or the
// merged records, dated from the first commit of its branch.
func (t *Timeline) changeAt(j int32) Change {
	c := *t.record(j)
	if a := t.ch[j].authored; a != nanos(c.AuthoredAt) {
		c.AuthoredAt = time.Unix(0, a).UTC()
	}
	return c
}

// editable returns change j's own copy of its record, to be modified.
func (t *Timeline) editable(j int32) *Change {
	ch := &t.ch[j]
	if ch.extra < 0 {
		ch.extra = int32(len(t.merged))
		t.merged = append(t.merged, t.recs[ch.rec])
	}
	return &t.merged[ch.extra]
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// unionPaths never modifies a or b: their arrays belong to the caller's Data.
func unionPaths(a, b []string) []string {
	if len(a) == 0 {
		return b
	}
	var out []string
	for _, p := range b {
		if !slices.Contains(a, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if out == nil {
		return a
	}
	return append(slices.Clip(a), out...)
}

// absorbBranchCommits dates each merged pull request from the first commit
// pushed to its source branch. A squash merge lands one new commit whose
// timestamp is the merge, so without this its lead time would start at the
// merge. Commits that never landed are not changes themselves.
//
// Branch commits and pull requests are sorted together by repository and
// branch (hashed) and time; each pull request then takes the commits of its
// branch since the previous one merged.
func (t *Timeline) absorbBranchCommits(skew int64) {
	type item struct {
		key    uint64 // repository and branch, hashed
		at     int64  // commit time, or merge time plus skew for a pull request
		j      int32
		pr     bool
		branch string
	}
	n := 0
	for j := range t.ch {
		if ch := &t.ch[j]; ch.landed == notLanded || ch.flags&fromPR != 0 {
			n++
		}
	}
	items := make([]item, 0, n)
	prs := 0
	for j := range t.ch {
		ch := &t.ch[j]
		if ch.landed != notLanded && ch.flags&fromPR == 0 {
			continue
		}
		b := t.record(int32(j)).Branch
		if b == "" {
			continue
		}
		it := item{key: hashSHA(b) ^ uint64(ch.repo+1)*0x9e3779b97f4a7c15, at: ch.authored, j: int32(j), branch: b}
		if ch.landed != notLanded {
			it.at, it.pr = ch.landed+skew, true
			prs++
		}
		items = append(items, it)
	}
	if prs == 0 || prs == len(items) {
		return
	}
	byTime := func(a, b item) int {
		if a.at != b.at {
			return cmpInt64(a.at, b.at)
		}
		if a.pr != b.pr {
			if a.pr {
				return 1 // a commit at the merge (plus skew) belongs to it
			}
			return -1
		}
		return int(a.j - b.j)
	}
	slices.SortFunc(items, func(a, b item) int {
		if a.key != b.key {
			return cmpUint64(a.key, b.key)
		}
		return byTime(a, b)
	})
	same := func(a, b item) bool {
		return a.branch == b.branch && t.ch[a.j].repo == t.ch[b.j].repo
	}
	for lo := 0; lo < len(items); {
		hi := lo + 1
		for hi < len(items) && items[hi].key == items[lo].key {
			hi++
		}
		group := items[lo:hi]
		// Keys of different branches may collide: then split the group by
		// branch, keeping time order within each.
		mixed := false
		for _, it := range group[1:] {
			if !same(it, group[0]) {
				mixed = true
				break
			}
		}
		if mixed {
			slices.SortStableFunc(group, func(a, b item) int {
				if c := int(t.ch[a.j].repo - t.ch[b.j].repo); c != 0 {
					return c
				}
				return strings.Compare(a.branch, b.branch)
			})
		}
		start := 0 // first commit not yet taken
		for i, it := range group {
			if i > 0 && mixed && !same(it, group[i-1]) {
				start = i
			}
			if !it.pr {
				continue
			}
			pr := &t.ch[it.j]
			for _, c := range group[start:i] {
				if c.pr {
					continue
				}
				pr.authored = min(pr.authored, c.at)
				if paths, cp := t.record(it.j).Paths, t.record(c.j).Paths; len(cp) > 0 {
					if u := unionPaths(paths, cp); len(u) != len(paths) {
						t.editable(it.j).Paths = u
					}
				}
			}
			start = i + 1
		}
		lo = hi
	}
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// landed is a change as a service's history holds it.
type landed struct {
	at, authored int64 // landing and commit time, Unix ns
	j            int32 // the change
}

// mapChanges gives each service the changes that landed in it, ordered by
// landing time.
func (t *Timeline) mapChanges() {
	// Two passes over the changes: count, then fill exactly sized arrays.
	var count []int
	var per [][]landed
	buf := make([]string, 0, 16)
	visit := func(fill bool) {
		for j := range t.ch {
			ch := &t.ch[j]
			if ch.landed == notLanded {
				continue
			}
			// The common case: a repository of one service, no service named.
			if ch.flags&namedService == 0 {
				if l := t.repos.lines[ch.repo]; l != nil {
					if fill {
						per[l.id] = append(per[l.id], landed{ch.landed, ch.authored, int32(j)})
					} else {
						count[l.id]++
					}
					continue
				}
			}
			e := t.repos.entries[ch.repo]
			services := t.cat.changeServices(e, t.repos.names[ch.repo], t.record(int32(j)), buf[:0])
			if ch.flags&namedService == 0 && (e == nil || len(e.prefixed) == 0) {
				t.repos.lines[ch.repo] = t.line(services[0])
			}
			for _, s := range services {
				l := t.line(s)
				if fill {
					per[l.id] = append(per[l.id], landed{ch.landed, ch.authored, int32(j)})
					continue
				}
				for len(count) < len(t.lines) {
					count = append(count, 0)
				}
				count[l.id]++
			}
		}
	}
	count = make([]int, len(t.lines))
	visit(false)
	per = make([][]landed, len(t.lines))
	for id, n := range count {
		per[id] = make([]landed, 0, n)
	}
	visit(true)
	for id, cs := range per {
		if len(cs) == 0 {
			continue
		}
		slices.SortFunc(cs, func(a, b landed) int {
			if a.at != b.at {
				return cmpInt64(a.at, b.at)
			}
			return int(a.j - b.j)
		})
		l := t.lines[id]
		l.changes = cs
		l.delivAt = make([]int64, len(cs))
		for i := range l.delivAt {
			l.delivAt[i] = math.MaxInt64
		}
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
