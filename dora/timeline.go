package dora

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Timeline is Data resolved once: changes merged and mapped to services, the
// changes each production deployment delivered, rollbacks, incident links,
// failures, recoveries and rework. Reports over any range are then cheap, so
// a dashboard builds one Timeline per read of the store and answers every
// query from it. A Timeline is immutable and safe for concurrent use.
type Timeline struct {
	cat    *catalog
	repos  *repoTable
	recs   []Change // the caller's records, never modified
	ch     []change // one per repository and SHA
	merged []Change // the combined record of changes that several records name
	index  changeIndex
	// abbrev orders the changes by repository and the start of their SHA,
	// for abbreviations; made by the first lookup that needs it, dropped
	// once the timeline is built.
	abbrev []abbrevEntry
	// shaLens has bit n set when a change was recorded with a SHA of n
	// hexadecimal digits, for n < 64: where lookup may find an abbreviation.
	shaLens uint64
	// deployedBy stamps, while deliveries are worked out, each change whose
	// commit a line deployed with the line's id + 1.
	deployedBy []int32
	lines      []*line // in order of creation: line.id
	sorted     []*line // by service name
	byName     map[string]*line
	stamps     []stamps // by change, while building: its pull request's opening and first review
	skew       int64    // Data.ClockSkew
	// Skipped counts input records left out because they lack what the
	// metrics need (see the Validate methods).
	Skipped int
}

// line is one service's history.
type line struct {
	id         int
	name, team string
	deps       []depFacts // production deployments that succeeded or failed, by time
	// Changes of the service ordered by landing time, and when each reached
	// production (math.MaxInt64: not yet). Deployments deliver changes in
	// landing order, so the first delivered of them are delivered, and
	// delivAt[:delivered] is ordered by delivery time too: it indexes lead
	// times.
	changes   []landed
	delivAt   []int64
	delivered int
	// Incidents ordered by opening time.
	incidents []incFacts
	// repos are the repositories of the changes, for the records that name
	// the service only (lookupIn); nil until needed.
	repos []int32
	// stamps are the pull request times of changes, in the order of
	// changes, while the timeline is built; nil when no change has any.
	stamps []stamps
	// lead and deploy are the lead time and deploy stage of each delivered
	// change (delivAt[:delivered]), coding, pickup and review the stages
	// known: worked out once by leadTimes, copied by reports.
	lead, deploy           []int64
	coding, pickup, review stageTimes
}

type depFacts struct {
	*Deployment                  // the caller's record; its Service may be empty
	at                           int64
	success                      bool
	cutoff                       int64 // changes landed up to here are delivered
	shaKnown                     bool  // cutoff is the landing time of the deployed commit
	shaAmbiguous                 bool  // its SHA abbreviates several recorded commits: compared with none
	rollback, rolledBack, failed bool
	rework                       bool
	rolledBackAt                 int64
	recoveredAt                  int64 // 0: not recovered (or not failed)
	lo, hi                       int32 // delivered changes: line.changes[lo:hi]
	incidents                    []string
	incOpen                      bool  // a linked incident is unresolved
	incResolved                  int64 // latest resolution of linked incidents
}

type incFacts struct {
	Incident
	opened, resolved int64 // resolved: math.MaxInt64 while open
	dep              int32 // index into line.deps; -1: no deployment linked
}

type depRef struct {
	l *line
	k int32
}

// NewTimeline resolves in. It fails only when the catalog is invalid; records
// that cannot be used are counted in Skipped. The timeline refers to the
// records of in.Changes: the caller must not modify them afterwards.
func NewTimeline(in Data) (*Timeline, error) {
	cat, err := compileCatalog(in.Catalog)
	if err != nil {
		return nil, err
	}
	skew := int64(max(in.ClockSkew, 0))
	t := &Timeline{cat: cat, repos: newRepoTable(cat), byName: map[string]*line{}, skew: skew}

	t.mergeChanges(in.Changes)
	t.absorbBranchCommits(skew)
	t.mapChanges()
	t.indexReviews(in.Reviews)
	t.lineStamps()
	t.addDeployments(in.Deployments)

	// Incidents naming a cause commit need to know which deployment delivered
	// it; note those changes before delivering.
	incs := t.mergeIncidents(in.Incidents)
	// causes holds the change each incident's cause commit is, or -1, or
	// ambiguous.
	wanted := map[int32][]depRef{}
	causes := make([]int32, len(incs))
	for i := range incs {
		causes[i] = -1
		if incs[i].CauseSHA != "" && incs[i].DeploymentID == "" {
			j, ok := t.lookupIn(t.byName[incs[i].Service], incs[i].Repo, strings.ToLower(incs[i].CauseSHA), nanos(incs[i].OpenedAt))
			switch {
			case ok:
				wanted[j], causes[i] = nil, j
			case j == ambiguous:
				causes[i] = ambiguous
			}
		}
	}
	t.deployedBy = make([]int32, len(t.ch))
	for _, l := range t.lines {
		t.deliver(l, wanted, skew)
	}
	t.deployedBy = nil
	t.linkIncidents(incs, causes, wanted, skew)
	t.abbrev = nil // lookups are over
	for _, l := range t.lines {
		l.settle()
		l.leadTimes(skew)
	}
	t.sorted = slices.Clone(t.lines)
	slices.SortFunc(t.sorted, byLineName)
	return t, nil
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func (t *Timeline) line(service string) *line {
	l := t.byName[service]
	if l == nil {
		l = &line{id: len(t.lines), name: service, team: t.cat.team(service)}
		t.byName[service] = l
		t.lines = append(t.lines, l)
	}
	return l
}

// addDeployments keeps the final status of each production deployment per
// service: the latest record of an ID wins, and at one instant the status
// ranked higher by outcome, whatever order the records arrived in.
func (t *Timeline) addDeployments(in []Deployment) {
	type depKey struct{ service, id string }
	type pick struct {
		rec int32
		l   *line
	}
	best := make(map[depKey]int32, len(in))
	picks := make([]pick, 0, len(in))
	var one [1]string
	for i := range in {
		d := &in[i]
		if d.Validate() != nil {
			t.Skipped++
			continue
		}
		services := one[:]
		if d.Service != "" {
			one[0] = d.Service
		} else {
			services = t.repoServices("", d.Repo)
		}
		for _, s := range services {
			k := depKey{s, d.ID}
			if j, ok := best[k]; ok {
				old := &in[picks[j].rec]
				if d.At.After(old.At) || (d.At.Equal(old.At) && outcome(d.Status) >= outcome(old.Status)) {
					picks[j].rec = int32(i)
				}
				continue
			}
			best[k] = int32(len(picks))
			picks = append(picks, pick{int32(i), t.line(s)})
		}
	}
	kept := func(d *Deployment) bool {
		return d.Production && (d.Status == StatusSuccess || d.Status == StatusFailure)
	}
	count := make([]int, len(t.lines))
	for _, p := range picks {
		if kept(&in[p.rec]) {
			count[p.l.id]++
		}
	}
	for _, p := range picks {
		if d := &in[p.rec]; kept(d) {
			if p.l.deps == nil {
				p.l.deps = make([]depFacts, 0, count[p.l.id])
			}
			p.l.deps = append(p.l.deps, depFacts{Deployment: d, at: nanos(d.At), success: d.Status == StatusSuccess})
		}
	}
	// At one instant, failed runs come before successes: the success is
	// what production runs from then on, so it restores them at once,
	// whatever the deployments' IDs (or the order they arrived in).
	for _, l := range t.lines {
		slices.SortFunc(l.deps, func(a, b depFacts) int {
			if a.at != b.at {
				return cmp.Compare(a.at, b.at)
			}
			if a.success != b.success {
				return cmp.Compare(b2i(a.success), b2i(b.success))
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// outcome ranks the statuses one deployment may report at one instant (a
// forge dates them to the second): the one that says most of what reached
// production wins, so that the figures do not depend on which webhook
// arrived last. Pending is no outcome; canceled says the deployment never
// reached production, which a success or failure at the same instant
// contradicts; and a failure beats a success, since a success then a
// failure is the order deploy tools report (a health check failing what
// was rolled out), while a failed run succeeds only as a new run, later.
// Of equal statuses at one instant the last recorded wins: it is a
// correction (a deployment recorded again under its ID and time with more
// of its SHA's digits: recordAgain in package delivery).
func outcome(status string) int {
	switch status {
	case StatusPending:
		return 0
	case StatusCanceled:
		return 1
	case StatusSuccess:
		return 2
	}
	return 3
}

// deliver walks the service's successful deployments in time order and hands
// each the changes it delivered; it recognises rollbacks on the way.
// Changes are delivered by the first production deployment of them, to
// whichever environment; a rollback is recognised within one environment
// (a region, a cell): deploying c2 to one region after another runs c3 is
// that region catching up, not a rollback.
func (t *Timeline) deliver(l *line, wanted map[int32][]depRef, skew int64) {
	reach := int64(math.MinInt64) // changes landed up to here are in production
	// What each environment ran: the changes deployed to it are stamped
	// with the line in t.deployedBy (lines are walked one at a time) when
	// the line has one environment, else kept in its map.
	envs := map[string]*envState{}
	several := false
	for k := range l.deps {
		several = several || l.deps[k].Environment != l.deps[0].Environment
	}
	stamp := int32(l.id + 1)
	p := 0
	for k := range l.deps {
		d := &l.deps[k]
		if !d.success {
			continue
		}
		st := envs[d.Environment]
		if st == nil {
			st = &envState{reachKnown: math.MinInt64, prev: -1}
			envs[d.Environment] = st
		}
		d.cutoff = d.at
		j, known := t.lookupIn(l, d.Repo, d.SHA, d.at)
		d.shaAmbiguous = j == ambiguous
		sha := d.commit()
		switch {
		case known && t.ch[j].landed != notLanded:
			d.cutoff, d.shaKnown = t.ch[j].landed, true
		case known:
			// A commit of another branch (a hotfix or release branch, a
			// pull request deployed before merging) holds at most the
			// default branch's changes made before it: not those that
			// landed between it and the deployment.
			d.cutoff = min(d.at, t.ch[j].authored+skew)
		}
		seen := st.deployed(t, j, known, sha, several, stamp)
		rollback := d.Rollback
		if prev := st.prev; prev >= 0 && !rollback {
			// Deploying again a commit that a rollback took out of
			// production rolls forward, not back.
			back := seen && !sameCommit(sha, l.deps[prev].commit()) && !l.lastRolledBack(k, sha)
			older := d.shaKnown && d.cutoff < st.reachKnown
			rollback = back || older
		}
		d.lo, d.hi = int32(p), int32(p)
		if rollback {
			d.rollback = true
			l.markRolledBack(k, st.prev, sha)
		} else {
			reach = max(reach, d.cutoff)
			if d.shaKnown {
				st.reachKnown = max(st.reachKnown, d.cutoff)
			}
			for ; p < len(l.changes) && l.changes[p].at <= reach; p++ {
				j := l.changes[p].j
				l.delivAt[p] = d.at
				if len(wanted) > 0 {
					if refs, ok := wanted[j]; ok {
						wanted[j] = append(refs, depRef{l, int32(k)})
					}
				}
			}
			d.hi = int32(p)
		}
		st.prev = k
	}
	l.delivered = p
}

// lookupIn finds the change of a commit that a record of line l names: in
// the record's repository, or, for a record that names its service only (a
// deployment or an incident recorded by CI or by hand: 'deploy record
// --service checkout --sha 4c1e9a0'), in the repositories of the service's
// changes. l may be nil (a service without records).
func (t *Timeline) lookupIn(l *line, repo, sha string, asOf int64) (int32, bool) {
	if repo != "" || sha == "" || l == nil {
		return t.lookupName(repo, sha, asOf)
	}
	if l.repos == nil {
		l.repos = t.lineRepos(l)
	}
	// An abbreviation is looked up in every repository: one that names
	// different commits in two of them names none, as CheckAbbreviation
	// (the receipt's warning, the rollback check) says. A full SHA is the
	// commit wherever it is found first.
	found := int32(-1)
	for _, id := range l.repos {
		j, ok := t.lookup(id, sha, asOf)
		switch {
		case j == ambiguous:
			return ambiguous, false
		case !ok:
		case len(sha) >= 40:
			return j, true
		case found < 0:
			found = j
		case !sameCommit(t.changeSHA(found), t.changeSHA(j)):
			return ambiguous, false
		}
	}
	return max(found, 0), found >= 0
}

// lineRepos returns the repositories of line l's changes (never nil).
func (t *Timeline) lineRepos(l *line) []int32 {
	repos := []int32{}
	for _, c := range l.changes {
		if id := t.ch[c.j].repo; !slices.Contains(repos, id) {
			repos = append(repos, id)
		}
	}
	return repos
}

// commit is the SHA of d's commit as deployments are compared: none when
// it is an abbreviation several recorded commits share.
func (d *depFacts) commit() string {
	if d.shaAmbiguous {
		return ""
	}
	return d.SHA
}

// envState is what deliver knows of one environment of a line.
type envState struct {
	reachKnown int64 // changes landed up to here ran there, by deployments whose commit is known
	prev       int   // its previous successful deployment; -1: none
	changes    map[int32]bool
	// others are the deployed SHAs that are no known change, by their
	// first 7 digits (ShortSHA), so that an abbreviation finds the SHA it
	// abbreviates, as sameCommit compares them.
	others map[string][]string
}

// deployed notes that the environment runs change j (known) or sha, and
// reports whether it ran it before.
func (st *envState) deployed(t *Timeline, j int32, known bool, sha string, several bool, stamp int32) bool {
	switch {
	case known && !several:
		seen := t.deployedBy[j] == stamp
		t.deployedBy[j] = stamp
		return seen
	case known:
		seen := st.changes[j]
		if st.changes == nil {
			st.changes = map[int32]bool{}
		}
		st.changes[j] = true
		return seen
	case sha != "":
		if st.others == nil {
			st.others = map[string][]string{}
		}
		k := ShortSHA(sha)
		for _, o := range st.others[k] {
			if sameCommit(o, sha) {
				return true
			}
		}
		st.others[k] = append(st.others[k], sha)
		return false
	}
	return false
}

// markRolledBack marks the deployments that rollback k took out of
// production: walking back from the one it replaced in its environment,
// every successful deployment there newer than what the rollback restored.
// When the restored version cannot be placed (no SHA, or a SHA never
// deployed and unknown as a change), only the replaced deployment is marked.
func (l *line) markRolledBack(k, prev int, sha string) {
	r := &l.deps[k]
	placed := r.shaKnown || (sha != "" && l.lastDeployed(prev, r.Environment, sha) >= 0)
	for j := prev; j >= 0; j-- {
		d := &l.deps[j]
		if !d.success || d.rolledBack || d.Environment != r.Environment {
			continue
		}
		if sha != "" && sameCommit(d.commit(), sha) {
			return
		}
		if r.shaKnown && d.cutoff <= r.cutoff {
			return // d delivered nothing newer than the restored commit
		}
		d.rolledBack, d.rolledBackAt = true, r.at
		if !placed {
			return
		}
	}
}

// lastRolledBack reports whether the latest successful deployment of sha
// before k to k's environment was taken out of production by a rollback.
func (l *line) lastRolledBack(k int, sha string) bool {
	j := l.lastDeployed(k-1, l.deps[k].Environment, sha)
	return j >= 0 && l.deps[j].rolledBack
}

// lastDeployed returns the latest successful deployment of sha to env at or
// before j, or -1.
func (l *line) lastDeployed(j int, env, sha string) int {
	for ; j >= 0; j-- {
		if d := &l.deps[j]; d.success && d.Environment == env && sameCommit(d.commit(), sha) {
			return j
		}
	}
	return -1
}

// mergeIncidents keeps the latest snapshot of each incident and drops
// withdrawn ones.
func (t *Timeline) mergeIncidents(in []Incident) []Incident {
	best := map[string]int{}
	var out []Incident
	version := func(i *Incident) time.Time {
		v := i.UpdatedAt
		v = latest(v, i.OpenedAt)
		if i.ResolvedAt != nil {
			v = latest(v, *i.ResolvedAt)
		}
		return v
	}
	for i := range in {
		inc := &in[i]
		// Validate, but tolerate a resolution before the opening: clocks of
		// different tools disagree, and the recovery then counts as 0.
		bad := inc.ID == "" || (inc.Repo == "" && inc.Service == "") || inc.OpenedAt.IsZero() || checkTime("", inc.OpenedAt) != nil
		if inc.ResolvedAt != nil && checkTime("", *inc.ResolvedAt) != nil {
			bad = true
		}
		if bad {
			t.Skipped++
			continue
		}
		if j, ok := best[inc.ID]; ok {
			if !version(inc).Before(version(&out[j])) {
				out[j] = *inc
			}
			continue
		}
		best[inc.ID] = len(out)
		out = append(out, *inc)
	}
	return slices.DeleteFunc(out, func(i Incident) bool { return i.Void })
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// linkIncidents attaches each incident to its service and to the deployment
// that caused it; causes[i] is the change incs[i] names as its cause, or -1.
func (t *Timeline) linkIncidents(incs []Incident, causes []int32, wanted map[int32][]depRef, skew int64) {
	// Deployments by ID and by SHA (ShortSHA: abbreviations find what they
	// abbreviate), for the incidents that name one.
	var needID, needSHA bool
	for i := range incs {
		needID = needID || incs[i].DeploymentID != ""
		needSHA = needSHA || (incs[i].DeploymentID == "" && incs[i].CauseSHA != "")
	}
	byID := map[string][]depRef{}
	bySHA := map[string][]depRef{}
	for _, l := range t.lines {
		for k := range l.deps {
			d := &l.deps[k]
			if !d.success || !(needID || needSHA) {
				continue
			}
			if needID {
				byID[d.ID] = append(byID[d.ID], depRef{l, int32(k)})
			}
			if needSHA && d.commit() != "" {
				sk := ShortSHA(d.SHA)
				bySHA[sk] = append(bySHA[sk], depRef{l, int32(k)})
			}
		}
	}
	// first picks the earliest deployment, preferring the incident's service.
	first := func(inc *Incident, refs []depRef) (depRef, bool) {
		var best depRef
		found := false
		for _, r := range refs {
			if inc.Service != "" && r.l.name != inc.Service {
				continue
			}
			if !found || r.l.deps[r.k].at < best.l.deps[best.k].at {
				best, found = r, true
			}
		}
		return best, found
	}
	for i := range incs {
		inc := &incs[i]
		var ref depRef
		found := false
		switch {
		case inc.DeploymentID != "":
			ref, found = first(inc, byID[inc.DeploymentID])
		case inc.CauseSHA != "" && causes[i] != ambiguous:
			// A cause is typed by people: its case may differ.
			sha := strings.ToLower(inc.CauseSHA)
			var refs []depRef
			if j := causes[i]; j >= 0 {
				refs = append(refs, wanted[j]...)
			}
			// A deployment of that commit (it may be no recorded change), of
			// the incident's repository, or of its service (first keeps the
			// service's) when it names no repository.
			for _, r := range bySHA[ShortSHA(sha)] {
				d := r.l.deps[r.k].Deployment
				if sameCommit(d.SHA, sha) && (inc.Repo == "" || strings.EqualFold(d.Repo, inc.Repo)) {
					refs = append(refs, r)
				}
			}
			ref, found = first(inc, refs)
		}
		candidates := t.repoServices(inc.Service, inc.Repo)
		if !found {
			ref, found = t.latestBefore(candidates, nanos(inc.OpenedAt)+skew)
		}
		f := incFacts{Incident: *inc, opened: nanos(inc.OpenedAt), resolved: math.MaxInt64, dep: -1}
		if inc.ResolvedAt != nil {
			f.resolved = max(nanos(*inc.ResolvedAt), f.opened)
		}
		l := ref.l
		if found {
			f.dep = ref.k
			d := &l.deps[ref.k]
			d.incidents = append(d.incidents, inc.ID)
			if f.resolved == math.MaxInt64 {
				d.incOpen = true
			} else {
				d.incResolved = max(d.incResolved, f.resolved)
			}
		} else {
			l = t.line(t.homeService(inc.Service, inc.Repo, candidates))
		}
		f.Service = l.name
		l.incidents = append(l.incidents, f)
	}
}

// latestBefore finds the latest successful deployment at or before limit
// among the services.
func (t *Timeline) latestBefore(services []string, limit int64) (depRef, bool) {
	var best depRef
	found := false
	for _, s := range services {
		l := t.byName[s]
		if l == nil {
			continue
		}
		// deps are ordered by time: search the last one not after limit.
		n := sort.Search(len(l.deps), func(i int) bool { return l.deps[i].at > limit })
		for k := n - 1; k >= 0; k-- {
			if l.deps[k].success {
				if !found || l.deps[k].at > best.l.deps[best.k].at {
					best, found = depRef{l, int32(k)}, true
				}
				break
			}
		}
	}
	return best, found
}

// homeService is where an incident linked to no deployment is counted: its
// named service, else the repository's catch-all service, else the first of
// its services by name.
func (t *Timeline) homeService(service, repo string, candidates []string) string {
	if service != "" {
		return service
	}
	if e := t.repos.entries[t.repos.id(repo)]; e != nil && e.catchAll != nil {
		return e.catchAll[0]
	}
	return candidates[0]
}

// repoServices returns the services a deployment or incident of a repository
// may concern: the named service, else every service of the repository, else
// the repository itself as a service.
func (t *Timeline) repoServices(service, repo string) []string {
	if service != "" {
		return []string{service}
	}
	id := t.repos.id(repo)
	if e := t.repos.entries[id]; e != nil {
		return e.all
	}
	return []string{t.repos.names[id]}
}

// settle derives failures, recoveries and rework once deliveries and
// incidents are known.
func (l *line) settle() {
	slices.SortFunc(l.incidents, func(a, b incFacts) int {
		if a.opened != b.opened {
			return cmp.Compare(a.opened, b.opened)
		}
		return strings.Compare(a.ID, b.ID)
	})
	// The deployment index an incident points at survives the sort: only
	// incidents moved. A failed run is recovered by the next successful
	// deployment to its environment.
	nextSuccess := map[string]int64{}
	for k := len(l.deps) - 1; k >= 0; k-- {
		d := &l.deps[k]
		end := int64(math.MaxInt64)
		if d.success {
			d.failed = d.rolledBack || len(d.incidents) > 0
		} else {
			d.failed = true
			if next, ok := nextSuccess[d.Environment]; ok {
				end = next
			}
		}
		if d.rolledBack {
			end = min(end, d.rolledBackAt)
		}
		if len(d.incidents) > 0 && !d.incOpen {
			end = min(end, d.incResolved)
		}
		if d.failed && end != math.MaxInt64 {
			d.recoveredAt = max(end, d.at)
		}
		if d.success {
			nextSuccess[d.Environment] = d.at
		}
	}
	// Rework: rollbacks, and deployments made while an incident of the
	// service was open (other than the deployment that caused it).
	cover := make([]int32, len(l.deps)+1)
	own := map[int32]int32{}
	for _, inc := range l.incidents {
		lo := sort.Search(len(l.deps), func(i int) bool { return l.deps[i].at >= inc.opened })
		hi := sort.Search(len(l.deps), func(i int) bool { return l.deps[i].at > inc.resolved })
		if lo >= hi {
			continue
		}
		cover[lo]++
		cover[hi]--
		if inc.dep >= int32(lo) && inc.dep < int32(hi) {
			own[inc.dep]++
		}
	}
	var open int32
	for k := range l.deps {
		open += cover[k]
		d := &l.deps[k]
		d.rework = d.success && (d.rollback || open-own[int32(k)] > 0)
	}
}

// Services lists the services the timeline knows, by name.
func (t *Timeline) Services() []string {
	names := make([]string, len(t.sorted))
	for i, l := range t.sorted {
		names[i] = l.name
	}
	return names
}

func byLineName(a, b *line) int { return strings.Compare(a.name, b.name) }

// DeploymentFacts is what the timeline concluded about one production
// deployment.
type DeploymentFacts struct {
	Deployment
	// Changes are the changes this deployment delivered to production first.
	Changes []Change `json:"changes"`
	// Rollback: this deployment restored an earlier version. RolledBack: a
	// later rollback took it out of production.
	Rollback   bool `json:"rollback"`
	RolledBack bool `json:"rolledBack"`
	// Failed: it failed, was rolled back, or caused an incident.
	Failed bool `json:"failed"`
	// Rework: a rollback, or made while an incident of the service was open.
	Rework bool `json:"rework"`
	// Incidents lists the IDs of the incidents it caused.
	Incidents []string `json:"incidents,omitempty"`
	// RecoveredAt is when a failed deployment was recovered from; zero if it
	// did not fail or is not recovered yet.
	RecoveredAt time.Time `json:"recoveredAt,omitzero"`
	// AmbiguousSHA: SHA abbreviates several recorded commits, so it names
	// none (as in git): the deployment delivered what landed before it,
	// and no other record is compared with its commit.
	AmbiguousSHA bool `json:"ambiguousSha,omitempty"`
}

// LeadTime is the lead time of ch, a change d delivered, as the metrics
// count it (see leadTimes): committed → deployed, 0 for a commit dated
// after its deployment.
func (d DeploymentFacts) LeadTime(ch Change) time.Duration {
	return max(d.At.Sub(ch.AuthoredAt), 0)
}

// MedianLeadTime is the median lead time of the changes d delivered,
// interpolated as the metrics' medians are; false when it delivered none.
func (d DeploymentFacts) MedianLeadTime() (time.Duration, bool) {
	if len(d.Changes) == 0 {
		return 0, false
	}
	leads := make([]int64, len(d.Changes))
	for i, ch := range d.Changes {
		leads[i] = int64(d.LeadTime(ch))
	}
	median, _ := medianAnd(leads, 1, 2)
	return time.Duration(median), true
}

// Deployments returns the production deployments of a service that succeeded
// or failed, in time order, with what the timeline concluded about each.
func (t *Timeline) Deployments(service string) []DeploymentFacts {
	l := t.byName[service]
	if l == nil {
		return nil
	}
	out := make([]DeploymentFacts, len(l.deps))
	for k := range l.deps {
		d := &l.deps[k]
		f := DeploymentFacts{
			Deployment: *d.Deployment,
			Rollback:   d.rollback, RolledBack: d.rolledBack, Failed: d.failed, Rework: d.rework,
			Incidents: slices.Clone(d.incidents), AmbiguousSHA: d.shaAmbiguous,
		}
		f.Service = l.name
		f.Changes = make([]Change, 0, d.hi-d.lo)
		for _, c := range l.changes[d.lo:d.hi] {
			f.Changes = append(f.Changes, t.changeAt(c.j))
		}
		if d.recoveredAt != 0 {
			f.RecoveredAt = time.Unix(0, d.recoveredAt).UTC()
		}
		out[k] = f
	}
	return out
}
