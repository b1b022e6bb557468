package dora

import (
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
			if (field == "sha" && sameCommit(p.SHA, target)) || (field == "version" && p.Version == target) {
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
