package backfill

import (
	"strconv"
	"time"

	"github.com/valueloop/valueloop/dora"
)

// Known is the set of records already stored, by the keys that say two
// records are the same fact:
//
//   - a change: repository, SHA and pull request (a change without a pull
//     request is known when any record of that commit is);
//   - a deployment record: the deployment's ID and status (one record per
//     status, as webhooks store them), or its repository, environment, SHA,
//     status and time (a release the webhook keyed by an ID the API does
//     not give);
//   - an incident: its ID and the time of its latest update (a snapshot);
//   - a review: repository, pull request and time.
type Known struct {
	keys map[string]struct{}
}

// NewKnown returns the keys of what data holds.
func NewKnown(data dora.Data) *Known {
	k := &Known{keys: make(map[string]struct{}, len(data.Changes)*2+len(data.Deployments)*2+len(data.Reviews))}
	for i := range data.Changes {
		k.add(changeKeys(&data.Changes[i])...)
	}
	for i := range data.Deployments {
		k.add(deploymentKeys(&data.Deployments[i])...)
	}
	for i := range data.Incidents {
		k.add(incidentKey(&data.Incidents[i]))
	}
	for i := range data.Reviews {
		k.add(reviewKey(&data.Reviews[i]))
	}
	return k
}

// Len is the number of keys held.
func (k *Known) Len() int { return len(k.keys) }

func (k *Known) add(keys ...string) {
	for _, key := range keys {
		k.keys[key] = struct{}{}
	}
}

// known reports whether the first key is held or, with anyKey, whether
// any of keys is.
func (k *Known) known(anyKey bool, keys ...string) bool {
	for i, key := range keys {
		if _, ok := k.keys[key]; ok {
			return true
		}
		if i == 0 && !anyKey {
			return false
		}
	}
	return false
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// changeKeys: the commit, then the commit with its pull request.
func changeKeys(c *dora.Change) []string {
	commit := "c\x00" + c.Repo + "\x00" + c.Service + "\x00" + c.SHA
	return []string{commit, commit + "\x00" + c.PR}
}

func deploymentKeys(d *dora.Deployment) []string {
	return []string{
		"d\x00" + d.ID + "\x00" + d.Status,
		"D\x00" + d.Repo + "\x00" + d.Environment + "\x00" + d.SHA + "\x00" + d.Status + "\x00" + unix(d.At),
	}
}

func incidentKey(i *dora.Incident) string {
	v := i.UpdatedAt
	if v.IsZero() {
		v = i.OpenedAt
	}
	if i.ResolvedAt != nil && i.ResolvedAt.After(v) {
		v = *i.ResolvedAt
	}
	return "i\x00" + i.ID + "\x00" + unix(v) + "\x00" + strconv.FormatBool(i.ResolvedAt != nil) + strconv.FormatBool(i.Void)
}

func reviewKey(r *dora.Review) string {
	return "r\x00" + r.Repo + "\x00" + r.PR + "\x00" + unix(r.At)
}

// Fresh drops from ev the records already known and adds the others to
// the known set; it returns how many records were dropped.
func (k *Known) Fresh(ev *dora.Event) (dropped int) {
	n := len(ev.Changes) + len(ev.Deployments) + len(ev.Incidents) + len(ev.Reviews)
	ev.Changes = keep(k, ev.Changes, func(c *dora.Change) (bool, []string) {
		keys := changeKeys(c)
		if c.PR == "" {
			return k.known(false, keys[0]), keys
		}
		return k.known(false, keys[1]), keys
	})
	ev.Deployments = keep(k, ev.Deployments, func(d *dora.Deployment) (bool, []string) {
		keys := deploymentKeys(d)
		return k.known(true, keys...), keys
	})
	ev.Incidents = keep(k, ev.Incidents, func(i *dora.Incident) (bool, []string) {
		key := incidentKey(i)
		return k.known(false, key), []string{key}
	})
	ev.Reviews = keep(k, ev.Reviews, func(r *dora.Review) (bool, []string) {
		key := reviewKey(r)
		return k.known(false, key), []string{key}
	})
	return n - (len(ev.Changes) + len(ev.Deployments) + len(ev.Incidents) + len(ev.Reviews))
}

// keep filters xs in place to the records test says are not known, adding
// their keys.
func keep[T any](k *Known, xs []T, test func(*T) (bool, []string)) []T {
	out := xs[:0]
	for i := range xs {
		known, keys := test(&xs[i])
		if !known {
			k.add(keys...)
			out = append(out, xs[i])
		}
	}
	return out
}
