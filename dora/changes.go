package dora

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
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

// notLanded is the landing time of a change that never reached the default
// branch.
const notLanded = math.MinInt64

// change.flags
const (
	fromPR       uint8 = 1 << iota // a merged pull request with a source branch
	namedService                   // the record names its service
	// ambiguousSHA: recorded under an abbreviation that several recorded
	// commits share. Git refuses such an abbreviation; lookups find no
	// change by it.
	ambiguousSHA
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
// A Go map of a million string keys costs several cache misses per
// operation; this is an open-addressing table instead, with linear probing,
// at most three quarters full: each SHA has a uniform 64-bit key whose top
// bits choose the first slot, and a lookup reads one or two neighbouring
// slots. A slot holds a git SHA whole, so that finding one reads no string.
type changeIndex struct {
	shift   uint // 64 - log2(len(slots))
	slots   []indexEntry
	touched int32 // keeps the reads that warm the cache from being optimised away
}

// indexEntry is a SHA in the index and its change.
type indexEntry struct {
	shaKey
	id   int32 // the change + 1; 0 marks an empty slot
	repo int32
}

// shaKey is how the index holds a SHA. A git SHA-1 (40 lower-case hex
// digits) is held whole: key is its first 8 bytes and tail the other 12, so
// that equal keys are equal SHAs. Any other string has a hash for key, and
// equal keys must be confirmed by comparing the strings.
type shaKey struct {
	key   uint64
	tail  [12]byte
	exact bool
}

func keyOf(s string) shaKey {
	if len(s) == 40 {
		var b [20]byte
		if decodeHex(b[:], s) {
			k := shaKey{key: binary.BigEndian.Uint64(b[:8]), exact: true}
			copy(k.tail[:], b[8:])
			return k
		}
	}
	return shaKey{key: hashString(s)}
}

// decodeHex decodes lower-case hex only: "ABC" and "abc" are different SHAs
// to an exact comparison, so upper case must not map to the same bytes. It
// is branch-free: SHA digits are random, and branching on them mispredicts.
func decodeHex(dst []byte, s string) bool {
	_ = s[2*len(dst)-1]
	var bad byte
	for i := range dst {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad&0xf0 == 0
}

// hexValue maps lower-case hex digits to their value, anything else to 0xff.
var hexValue = func() (v [256]byte) {
	for i := range v {
		v[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		v[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		v[c] = c - 'a' + 10
	}
	return v
}()

// hashString is FNV-1a with a finaliser that spreads it over the top bits.
func hashString(s string) uint64 {
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

// abbrevLengths has bit n set for each length n at which lookup reads the
// index for a change recorded under an abbreviation of sha: the lengths
// changes were recorded with only (none when every SHA is whole), not every
// length from minAbbrev up, which cost each deployment of an unrecorded
// commit 33 random reads of the index.
func (t *Timeline) abbrevLengths(sha string) uint64 {
	shorter := uint64(1)<<len(sha) - 1 // all ones from 64 digits on
	return t.shaLens & shorter &^ (1<<minAbbrev - 1)
}

// lookup finds the change of repo and sha: the one recorded under sha,
// else the one its abbreviation names. People and CI jobs write a commit
// abbreviated ('deploy record --sha 4c1e9a0') where the forge's webhook
// recorded it in full, and the other way round; git takes an
// abbreviation (7 hexadecimal digits or more) for the one commit that
// starts with it, and so does the timeline: a deployment whose commit is
// not found delivers whatever landed before it, and is never a rollback.
// An abbreviation that several changes share names none, as in git: lookup
// returns ambiguous. An abbreviation names what existed when it was used:
// a commit made after asOf (a record's time, plus the clock skew) is not
// what it named (asOfElseAny; anyTime: no bound). Lookups are made while
// the timeline is built only.
func (t *Timeline) lookup(repo int32, sha string, asOf int64) (int32, bool) {
	n := asOfElseAny(asOf, func(asOf int64) naming { return t.lookupAsOf(repo, sha, asOf) })
	return n.result()
}

// lookupAsOf is lookup among the commits made by asOf.
func (t *Timeline) lookupAsOf(repo int32, sha string, asOf int64) naming {
	n := naming{j: -1}
	exact, _ := t.index.find(t, repo, sha, keyOf(sha))
	if exact >= 0 && t.ch[exact].flags&ambiguousSHA == 0 {
		n.add(exact, sha)
		return n
	}
	if !isHex(sha) || len(sha) < minAbbrev {
		return n
	}
	// A change recorded under an abbreviation of sha, longest first.
	for lens := t.abbrevLengths(sha); lens != 0; {
		l := 63 - bits.LeadingZeros64(lens)
		lens &^= 1 << l
		if j, _ := t.index.find(t, repo, sha[:l], keyOf(sha[:l])); j >= 0 && t.ch[j].flags&ambiguousSHA == 0 && t.madeBy(j, asOf) {
			n.add(j, sha[:l])
			return n
		}
	}
	if len(sha) >= 40 {
		return n // a full SHA abbreviates nothing
	}
	// A change whose SHA sha abbreviates.
	for _, e := range t.abbreviating(repo, sha) {
		if other := t.changeSHA(e.j); t.ch[e.j].flags&ambiguousSHA == 0 && strings.HasPrefix(other, sha) && t.madeBy(e.j, asOf) {
			n.add(e.j, other)
		}
	}
	if n.j < 0 && exact >= 0 {
		n.ambiguous = true // recorded under an ambiguous abbreviation
	}
	return n
}

// naming is what an abbreviation names among the recorded commits that
// start with it, as git reads it: the longest of them, when the others
// are its abbreviations (records of one commit); none when two of them
// are different commits (ambiguous).
type naming struct {
	j         int32 // the change named; -1: none
	sha       string
	ambiguous bool
}

// add counts change j, whose SHA starts with the abbreviation.
func (n *naming) add(j int32, sha string) {
	switch {
	case n.ambiguous:
	case n.j < 0 || strings.HasPrefix(sha, n.sha):
		n.j, n.sha = j, sha
	case !strings.HasPrefix(n.sha, sha):
		n.ambiguous, n.j = true, -1
	}
}

// found reports whether any recorded commit starts with the abbreviation.
func (n naming) found() bool { return n.j >= 0 || n.ambiguous }

// result is the naming as lookup returns it.
func (n naming) result() (int32, bool) {
	if n.ambiguous {
		return ambiguous, false
	}
	return max(n.j, 0), n.j >= 0
}

// asOfElseAny is the rule of what an abbreviation names, written once:
// the commits made by asOf (a record's time) that start with it, else, when
// none was, any recorded commit that does. A commit made after asOf is
// not what it named, so a commit made later with the same first digits
// changes nothing of the past; the bound only tells apart commits that
// share the digits, so that a commit whose author's clock ran ahead of the
// record's by more than the skew is still the one it names.
func asOfElseAny(asOf int64, search func(asOf int64) naming) naming {
	n := search(asOf)
	if !n.found() && asOf != anyTime {
		return search(anyTime)
	}
	return n
}

// ambiguous is what lookup returns, with false, for an abbreviation that
// several recorded commits share: the record's commit is unknown, and
// callers compare its SHA with no other (git refuses such an abbreviation).
const ambiguous int32 = -2

// anyTime is the asOf of a lookup that any recorded commit may answer.
const anyTime int64 = math.MaxInt64

// madeBy reports whether change j may have existed at asOf: it was
// authored no later than asOf plus the clock skew.
func (t *Timeline) madeBy(j int32, asOf int64) bool { return t.madeAt(t.ch[j].authored, asOf) }

// madeAt reports whether a commit authored at authored may have existed
// at asOf.
func (t *Timeline) madeAt(authored, asOf int64) bool {
	return asOf > math.MaxInt64-t.skew || authored <= asOf+t.skew
}

// abbreviating returns the changes of repo whose SHA starts with the same 7
// digits as sha (a hexadecimal SHA of 7 digits or more): the candidates for
// what sha abbreviates, or for what abbreviates it. They are found in the
// changes ordered by repository and those digits, made by the first call.
func (t *Timeline) abbreviating(repo int32, sha string) []abbrevEntry {
	if t.abbrev == nil {
		t.abbrev = make([]abbrevEntry, 0, len(t.ch))
		for j := range t.ch {
			if sha := t.changeSHA(int32(j)); len(sha) >= minAbbrev && isHex(sha) {
				t.abbrev = append(t.abbrev, abbrevEntry{abbrevKey(t.ch[j].repo, sha), int32(j)})
			}
		}
		slices.SortFunc(t.abbrev, func(a, b abbrevEntry) int { return cmp.Compare(a.key, b.key) })
	}
	k := abbrevKey(repo, sha)
	i, _ := slices.BinarySearchFunc(t.abbrev, k, func(e abbrevEntry, k uint64) int { return cmp.Compare(e.key, k) })
	end := i
	for end < len(t.abbrev) && t.abbrev[end].key == k {
		end++
	}
	return t.abbrev[i:end]
}

// abbrevEntry is a change by its repository and the first 7 digits of its
// SHA (abbrevKey).
type abbrevEntry struct {
	key uint64
	j   int32
}

// abbrevKey packs a repository and the first 7 hex digits of a SHA.
func abbrevKey(repo int32, sha string) uint64 {
	k := uint64(uint32(repo)) << 28
	for i := range minAbbrev {
		k |= uint64(hexValue[sha[i]]) << (4 * (minAbbrev - 1 - i))
	}
	return k
}

// minAbbrev is the shortest abbreviation of a commit git writes, and the
// shortest SHA the API takes.
const minAbbrev = 7

func (t *Timeline) changeSHA(j int32) string { return t.recs[t.ch[j].rec].SHA }

// isHex reports whether s is lower-case hexadecimal digits, as SHAs are
// stored.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if hexValue[s[i]] == 0xff {
			return false
		}
	}
	return s != ""
}

// SameCommit reports whether SHAs a and b (lower case) name one commit:
// they are equal, or the shorter is an abbreviation (7 hexadecimal digits
// or more) the longer starts with, as records of one commit by a webhook
// and by hand are.
func SameCommit(a, b string) bool { return sameCommit(a, b) }

// sameCommit reports whether two SHAs of deployments name one commit: they
// are equal, or one abbreviates the other.
func sameCommit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == b || (len(a) >= minAbbrev && isHex(a) && strings.HasPrefix(b, a))
}

// find returns the change of repo and sha, or -1 and the empty slot where it
// would go.
func (x *changeIndex) find(t *Timeline, repo int32, sha string, k shaKey) (int32, int) {
	if len(x.slots) == 0 {
		return -1, 0
	}
	mask := len(x.slots) - 1
	for s := x.home(k); ; s = (s + 1) & mask {
		e := &x.slots[s]
		if e.id == 0 {
			return -1, s
		}
		if e.shaKey == k && e.repo == repo && (k.exact || t.recs[t.ch[e.id-1].rec].SHA == sha) {
			return e.id - 1, s
		}
	}
}

// home is the first slot to probe for k: all of the SHA's bits, mixed (a
// multiply by an odd constant, then the top bits). Git SHAs are uniform, but
// SHAs sent through the API need not be, and SHAs sharing a prefix would
// otherwise pile into one run of slots and make building the index
// quadratic.
func (x *changeIndex) home(k shaKey) int {
	h := k.key ^ binary.LittleEndian.Uint64(k.tail[:8]) ^ uint64(binary.LittleEndian.Uint32(k.tail[8:]))<<29
	h ^= h >> 31
	return int((h * 0x9e3779b97f4a7c15) >> x.shift)
}

// lookupName is lookup for a repository given by name.
func (t *Timeline) lookupName(repo, sha string, asOf int64) (int32, bool) {
	id, ok := t.repos.find(repo)
	if !ok || sha == "" {
		return 0, false
	}
	return t.lookup(id, sha, asOf)
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
// record knows, and builds the index. Changes keep the order of their first
// record.
func (t *Timeline) mergeChanges(in []Change) {
	t.recs = in
	bits := uint(4)
	for 3<<bits < 4*len(in) { // at most three quarters full
		bits++
	}
	x := &t.index
	x.shift = 64 - bits
	x.slots = make([]indexEntry, 1<<bits)
	t.ch = make([]change, 0, len(in))
	// Records go in batches: first the keys of a batch, then one read of
	// each key's slot, then the inserts. The reads are independent, so their
	// cache misses overlap; the inserts then find their slots in cache.
	const batch = 32
	var keys [batch]shaKey
	var repos, recs [batch]int32
	for start := 0; start < len(in); start += batch {
		n := 0
		for i := start; i < min(start+batch, len(in)); i++ {
			c := &in[i]
			if c.Validate() != nil {
				t.Skipped++
				continue
			}
			keys[n], repos[n], recs[n] = keyOf(c.SHA), t.repos.id(c.Repo), int32(i)
			n++
		}
		var touched int32
		for b := range n {
			touched += x.slots[x.home(keys[b])].id
		}
		x.touched = touched
		for b := range n {
			c := &in[recs[b]]
			j, slot := x.find(t, repos[b], c.SHA, keys[b])
			if j >= 0 {
				t.mergeRecord(j, c)
				continue
			}
			t.ch = append(t.ch, change{authored: nanos(c.AuthoredAt), landed: landedAt(c), rec: recs[b], extra: -1, repo: repos[b], flags: flagsOf(c)})
			switch n := len(c.SHA); {
			case keys[b].exact:
				t.shaLens |= 1 << 40
			case n >= minAbbrev && n < 64 && isHex(c.SHA):
				t.shaLens |= 1 << n
			}
			x.slots[slot] = indexEntry{keys[b], int32(len(t.ch)), repos[b]}
		}
	}
	if t.shaLens&^(1<<40) != 0 {
		t.foldAbbreviations()
	}
}

// foldAbbreviations makes a commit recorded both in full and abbreviated
// (the push webhook's record and 'change record --sha 4c1e9a0' by a CI
// job) one change, as git takes an abbreviation for the one commit that
// starts with it: else the commit counted twice, in deployment frequency's
// batch sizes and in lead times, and the abbreviated record's times were
// not the commit's. Each change recorded abbreviated is merged into the
// longest recorded SHA it abbreviates, when the others it abbreviates
// abbreviate that one too; an abbreviation of several commits names none
// and stays a change of its own, found by no lookup (ambiguousSHA). It
// runs only when some change was recorded abbreviated.
func (t *Timeline) foldAbbreviations() {
	into := make([]int32, len(t.ch)) // the change j is merged into, or -1
	folded := false
	for j := range t.ch {
		into[j] = -1
		sha := t.changeSHA(int32(j))
		if len(sha) < minAbbrev || len(sha) >= 40 || !isHex(sha) {
			continue
		}
		target, ambiguous := t.abbreviated(int32(j), sha)
		switch {
		case ambiguous:
			t.ch[j].flags |= ambiguousSHA
		case target >= 0:
			into[j], folded = target, true
		}
	}
	if !folded {
		return
	}
	for j, k := range into {
		if k >= 0 {
			c := *t.record(int32(j))
			t.mergeRecord(k, &c)
		}
	}
	t.dropFolded(into)
}

// abbreviated returns the change whose SHA change j's, sha, abbreviates
// (naming), as of change j's record (its latest time: sources date one
// commit differently; asOfElseAny).
func (t *Timeline) abbreviated(j int32, sha string) (target int32, ambiguous bool) {
	asOf := max(t.ch[j].authored, t.ch[j].landed)
	n := asOfElseAny(asOf, func(asOf int64) naming {
		n := naming{j: -1}
		for _, e := range t.abbreviating(t.ch[j].repo, sha) {
			if other := t.changeSHA(e.j); e.j != j && len(other) > len(sha) && strings.HasPrefix(other, sha) && t.madeBy(e.j, asOf) {
				n.add(e.j, other)
			}
		}
		return n
	})
	return n.j, n.ambiguous
}

// dropFolded removes the changes merged into others (into[j] >= 0) and
// indexes the others again: a folded abbreviation is found as an
// abbreviation of the change it was merged into.
func (t *Timeline) dropFolded(into []int32) {
	kept := t.ch[:0]
	for j := range t.ch {
		if into[j] < 0 {
			kept = append(kept, t.ch[j])
		}
	}
	t.ch = kept
	t.abbrev = nil // its change numbers are stale
	x := &t.index
	clear(x.slots)
	for j := range t.ch {
		sha, repo := t.changeSHA(int32(j)), t.ch[j].repo
		k := keyOf(sha)
		_, slot := x.find(t, repo, sha, k)
		x.slots[slot] = indexEntry{k, int32(j + 1), repo}
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
	m.OpenedAt = earliest(m.OpenedAt, c.OpenedAt)
	if m.Service == "" {
		m.Service = c.Service
	}
	// The latest record naming a pull request names it, except that a
	// number given by hand never replaces a forge's (Change.ByHand); m.ByHand
	// says where m.PR came from.
	if c.PR != "" && (m.PR == "" || m.ByHand || !c.ByHand) {
		m.PR, m.ByHand = c.PR, c.ByHand
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
	if len(a)+len(b) <= 64 {
		for _, p := range b {
			if !slices.Contains(a, p) && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	} else {
		// A set beyond a few paths: scanning a and out per path of b is
		// quadratic, minutes of CPU for two records of a commit that
		// lists 100,000 paths, at every build of the timeline.
		seen := make(map[string]struct{}, len(a)+len(b))
		for _, p := range a {
			seen[p] = struct{}{}
		}
		for _, p := range b {
			if _, ok := seen[p]; !ok {
				seen[p] = struct{}{}
				out = append(out, p)
			}
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
		it := item{key: hashString(b) ^ uint64(ch.repo+1)*0x9e3779b97f4a7c15, at: ch.authored, j: int32(j), branch: b}
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
			return cmp.Compare(a.at, b.at)
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
			return cmp.Compare(a.key, b.key)
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
	var scratch []landed
	for id, cs := range per {
		if len(cs) == 0 {
			continue
		}
		scratch = sortLanded(cs, scratch)
		l := t.lines[id]
		l.changes = cs
		l.delivAt = make([]int64, len(cs))
		for i := range l.delivAt {
			l.delivAt[i] = math.MaxInt64
		}
	}
}

// sortLanded orders changes by landing time, ties in the order given (the
// order of the changes), and returns the scratch space for the next call.
// It is a least-significant-digit radix sort on the time since the earliest
// change, 11 bits a pass: stable, linear, and without comparisons, it costs
// a third of a comparison sort on a million changes.
func sortLanded(cs, scratch []landed) []landed {
	if len(cs) < 256 {
		slices.SortStableFunc(cs, func(a, b landed) int { return cmp.Compare(a.at, b.at) })
		return scratch
	}
	lo, hi := cs[0].at, cs[0].at
	sorted := true
	for i, c := range cs {
		lo, hi = min(lo, c.at), max(hi, c.at)
		sorted = sorted && (i == 0 || cs[i-1].at <= c.at)
	}
	if sorted {
		return scratch
	}
	if cap(scratch) < len(cs) {
		scratch = make([]landed, len(cs))
	}
	src, dst := cs, scratch[:len(cs)]
	const bits = 11
	var count [1 << bits]int
	for shift := uint(0); shift < 64 && uint64(hi-lo)>>shift != 0; shift += bits {
		clear(count[:])
		for _, c := range src {
			count[(uint64(c.at-lo)>>shift)&(1<<bits-1)]++
		}
		sum := 0
		for i, n := range count {
			count[i] = sum
			sum += n
		}
		for _, c := range src {
			d := (uint64(c.at-lo) >> shift) & (1<<bits - 1)
			dst[count[d]] = c
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &cs[0] {
		copy(cs, src)
	}
	return scratch
}
