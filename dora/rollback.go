package dora

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
)

// CheckRollback refuses a deployment d declared a rollback when what it
// restores is not an earlier successful production deployment of its
// service to its environment: a rollback to a newer commit would credit that commit's changes
// to the rollback and hide the deployment that really shipped them. The
// target is d.SHA, or d.Version without a SHA; records with d.ID (earlier
// statuses of d itself) are not targets. A deployment that is not a
// production rollback passes. The environment must match because the
// timeline judges rollbacks within one environment (a region, a cell): a
// commit another region ran is not what this one goes back to, and such a
// record would take nothing of its own environment out of production.
func (t *Timeline) CheckRollback(d Deployment) error {
	if !d.Rollback || !d.Production || d.Status == StatusCanceled {
		return nil
	}
	field, target := "sha", d.SHA
	if target == "" {
		field, target = "version", d.Version
	}
	if target == "" {
		return valueloop.FieldErrorf("sha", "a rollback must name the commit (sha) or version it restores")
	}
	if field == "sha" {
		if err := t.CheckAbbreviation("sha", d.Service, d.Repo, target, d.At, "give more of its digits"); err != nil {
			return err
		}
	}
	services := []string{d.Service}
	if d.Service == "" {
		services = t.repoServices("", d.Repo)
	}
	at := nanos(d.At)
	var latest *Deployment
	for _, name := range services {
		l := t.byName[name]
		if l == nil {
			continue
		}
		for k := range l.deps {
			p := &l.deps[k]
			if !p.success || p.at >= at || p.ID == d.ID || p.Environment != d.Environment {
				continue
			}
			// p.commit(): a deployment under an ambiguous abbreviation ran
			// no commit the timeline knows, so nothing returns to it.
			if (field == "sha" && sameCommit(p.commit(), target)) || (field == "version" && p.Version == target) {
				return nil
			}
			if latest == nil || p.at >= nanos(latest.At) {
				latest = p.Deployment
			}
		}
	}
	name := d.Service
	if name == "" {
		name = d.Repo
	}
	now := "there is none"
	if latest != nil {
		now = "the latest is " + describeTarget(latest) + " at " + latest.At.Format(time.RFC3339)
	}
	return valueloop.FieldErrorf(field, "rollback target %q is not an earlier successful production deployment of %s to %q (%s); record it without the rollback mark, or force it (\"force\": true; --force in the CLI)",
		target, name, d.Environment, now)
}

func describeTarget(d *Deployment) string {
	switch {
	case d.SHA != "" && len(d.SHA) > 12:
		return d.SHA[:12]
	case d.SHA != "":
		return d.SHA
	default:
		return "version " + d.Version
	}
}

// CheckAbbreviation refuses, naming field, a SHA that abbreviates several
// recorded commits: in repo, or, for a record naming its service only, in
// the service's repositories. Such an abbreviation names none of them, as
// in git, so a deployment or incident recorded with it is placed by its
// time alone, and a rollback to it restores nothing known. It reads every
// change once (the index of abbreviations is gone once the timeline is
// built), so it is for the records people send, not for bulk. at is the
// record's time: a commit made after it (plus the clock skew) is not what
// the record names, as the timeline reads it; zero compares every commit.
//
// remedy ends the message: what to do, which depends on whether the record
// was refused or stored.
func (t *Timeline) CheckAbbreviation(field, service, repo, sha string, at time.Time, remedy string) error {
	if problem := t.AmbiguousAbbreviation(service, repo, sha, at); problem != "" {
		return valueloop.FieldErrorf(field, "%s; %s", problem, remedy)
	}
	return nil
}

// AmbiguousAbbreviation says, when sha abbreviates several recorded
// commits (as CheckAbbreviation reads them), that it names none of them,
// listing them; "" otherwise.
func (t *Timeline) AmbiguousAbbreviation(service, repo, sha string, at time.Time) string {
	asOf := anyTime
	if !at.IsZero() {
		asOf = nanos(at)
	}
	shas := t.abbreviates(service, repo, sha, asOf)
	if shas == nil {
		return ""
	}
	return fmt.Sprintf("%q is ambiguous: it abbreviates %s, so it names none of them, as in git", sha, listSHAs(shas))
}

// PullRequest returns the pull request the timeline takes commit sha (of
// repo, or of the service's repositories) to have merged, and whether that
// number was given by hand (Change.ByHand): what a record naming another
// one is told. A full SHA is looked up in the index; an abbreviation, like
// CheckAbbreviation, reads every change, for the records people send.
func (t *Timeline) PullRequest(service, repo, sha string) (pr string, byHand bool) {
	repos := t.recordRepos(service, repo)
	if len(sha) >= 40 {
		// A full SHA is found in the index, with the abbreviations of it
		// recorded (lookup reads no index of abbreviations for it, so it
		// is safe on a built timeline).
		for _, id := range repos {
			if j, ok := t.lookup(id, sha, anyTime); ok && t.record(j).PR != "" {
				return t.record(j).PR, t.record(j).ByHand
			}
		}
		return "", false
	}
	for j := range t.ch {
		ch := &t.ch[j]
		if ch.flags&ambiguousSHA != 0 || !slices.Contains(repos, ch.repo) || !sameCommit(t.changeSHA(int32(j)), sha) {
			continue
		}
		if c := t.record(int32(j)); c.PR != "" {
			return c.PR, c.ByHand
		}
	}
	return "", false
}

// recordRepos returns the repositories a record names: repo, or, for a
// record naming its service only, the service's repositories.
func (t *Timeline) recordRepos(service, repo string) []int32 {
	if repo != "" {
		if id, ok := t.repos.find(repo); ok {
			return []int32{id}
		}
		return nil
	}
	if l := t.byName[service]; l != nil {
		if l.repos != nil {
			return l.repos
		}
		return t.lineRepos(l)
	}
	return nil
}

// abbreviates returns the recorded commits that sha abbreviates, sorted,
// when they name none (naming, asOfElseAny); nil otherwise.
func (t *Timeline) abbreviates(service, repo, sha string, asOf int64) []string {
	if len(sha) < minAbbrev || len(sha) >= 40 || !isHex(sha) {
		return nil
	}
	repos := t.recordRepos(service, repo)
	var found []string
	n := asOfElseAny(asOf, func(asOf int64) naming {
		found = found[:0]
		return t.abbrevNaming(repos, sha, asOf, &found)
	})
	if !n.ambiguous {
		return nil
	}
	slices.Sort(found)
	return slices.Compact(found)
}

// abbrevNaming is what abbreviation sha names among the changes of repos
// made by asOf, reading every change; found, when not nil, gets their
// SHAs.
func (t *Timeline) abbrevNaming(repos []int32, sha string, asOf int64, found *[]string) naming {
	n := naming{j: -1}
	for j := range t.ch {
		ch := &t.ch[j]
		if ch.flags&ambiguousSHA != 0 || !slices.Contains(repos, ch.repo) || !t.madeBy(int32(j), asOf) {
			continue
		}
		if s := t.changeSHA(int32(j)); strings.HasPrefix(s, sha) {
			if found != nil {
				*found = append(*found, s)
			}
			n.add(int32(j), s)
		}
	}
	return n
}

// listSHAs names recorded commits for a message: the first three, each by
// its first 12 digits.
func listSHAs(shas []string) string {
	short := make([]string, len(shas))
	for i, s := range shas {
		short[i] = s[:min(12, len(s))]
	}
	return fmt.Sprintf("%d recorded commits (%s)", len(shas), valueloop.ListFirst(short, 3))
}

// Obscured is a record whose abbreviated SHA names one recorded commit,
// and would name none once another is recorded (Timeline.Obscures).
type Obscured struct {
	Kind    string // "deployment" or "incident" (its cause)
	ID      string
	Service string
	SHA     string    // the abbreviation
	At      time.Time // the record's time: a deployment's, an incident's opening
}

// Obscures returns the production deployments and incidents' causes whose
// abbreviated SHA names one recorded commit now and would name none once
// the changes cs are recorded too: a change of cs starts with it and is
// another commit, which existed at the record's time (authored by then,
// plus the clock skew) or, when no recorded commit did, at any time (the
// rule of asOfElseAny). A commit made later changes nothing of the past,
// but one recorded late does: a webhook delivered late, an import, a
// commit of a branch merged after the deployment. Such a record is placed
// by its time alone from then on, so whoever records cs is told. It reads
// every deployment and incident once, and the changes of the few
// abbreviations cs share.
func (t *Timeline) Obscures(cs []Change) []Obscured {
	by := map[string][]*Change{} // by the first digits of their SHAs
	for i := range cs {
		if sha := cs[i].SHA; len(sha) >= minAbbrev && isHex(sha) {
			by[sha[:minAbbrev]] = append(by[sha[:minAbbrev]], &cs[i])
		}
	}
	if len(by) == 0 {
		return nil
	}
	var out []Obscured
	check := func(l *line, kind, id, repo, sha string, at time.Time) {
		if len(sha) < minAbbrev || len(sha) >= 40 || !isHex(sha) || by[sha[:minAbbrev]] == nil {
			return
		}
		if t.obscures(l, repo, sha, nanos(at), by[sha[:minAbbrev]]) {
			out = append(out, Obscured{Kind: kind, ID: id, Service: l.name, SHA: sha, At: at})
		}
	}
	for _, l := range t.sorted {
		for k := range l.deps {
			d := &l.deps[k]
			check(l, "deployment", d.ID, d.Repo, d.SHA, d.At)
		}
		for k := range l.incidents {
			i := &l.incidents[k].Incident
			if i.DeploymentID == "" {
				check(l, "incident", i.ID, i.Repo, strings.ToLower(i.CauseSHA), i.OpenedAt)
			}
		}
	}
	return out
}

// obscures reports whether abbreviation sha, recorded at asOf for line l
// (in repo, or in the line's repositories), names one commit now and none
// with the changes cs.
func (t *Timeline) obscures(l *line, repo, sha string, asOf int64, cs []*Change) bool {
	repos := t.recordRepos(l.name, repo)
	before := asOfElseAny(asOf, func(asOf int64) naming { return t.abbrevNaming(repos, sha, asOf, nil) })
	if before.j < 0 || before.ambiguous {
		return false
	}
	after := asOfElseAny(asOf, func(asOf int64) naming {
		n := t.abbrevNaming(repos, sha, asOf, nil)
		for _, c := range cs {
			id, ok := t.repos.find(c.Repo)
			if ok && slices.Contains(repos, id) && strings.HasPrefix(c.SHA, sha) && t.madeAt(nanos(c.AuthoredAt), asOf) {
				n.add(math.MaxInt32, c.SHA) // a change not recorded yet
			}
		}
		return n
	})
	return after.ambiguous
}
