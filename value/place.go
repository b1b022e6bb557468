package value

import (
	"cmp"
	"slices"
)

// Place is one feature's place in the backlog as next ranks it, and among
// the features it depends on and that depend on it: what its page shows a
// product manager deciding what to build next. It is read from a Next and
// the items that Next was computed from, so that the rank and its
// arithmetic are next's own, not a second computation.
type Place struct {
	Method Method `json:"method"`
	// Rank is the feature's rank with its arithmetic (Rank.Explanation)
	// when next ranks it; Of is how many features next ranks.
	Rank *Rank `json:"rank,omitempty"`
	Of   int   `json:"of"`
	// Unranked says why an idea or ready feature is not ranked; both nil
	// for a feature past ready (next ranks only what is still to build).
	Unranked *Unranked `json:"unranked,omitempty"`
	// DependsOn are the features it depends on, in its order; Dependants
	// those that depend on it, by key.
	DependsOn  []Neighbour `json:"dependsOn"`
	Dependants []Neighbour `json:"dependants"`
	// Blocking says its dependants wait for it: it is not yet done or
	// decided.
	Blocking bool `json:"blocking"`
	// Stop is what next says to stop or finish of it.
	Stop []Action `json:"stop"`
}

// Neighbour is a feature on either side of a dependency, with its stage.
type Neighbour struct {
	Feature string `json:"feature"`
	Title   string `json:"title,omitempty"`
	// Stage is "" for a dependency on a feature that does not exist (any
	// longer): it is waited for, as next waits for it.
	Stage Stage `json:"stage,omitempty"`
	// Blocks says, of a dependency, that the dependant waits for it (not
	// yet done or decided), by next's rule (see waitsFor); false for a
	// dependant (Place.Blocking says whether it waits).
	Blocks bool `json:"blocks"`
}

// waitsFor reports whether a feature waits for a dependency at stage s:
// one not yet done or decided. An abandoned one is never done, so it is not
// waited for; the dependant is to be rethought instead.
func waitsFor(s Stage) bool {
	return s != Abandoned && s.rank() < Validated.rank()
}

// PlaceOf returns feature key's place in n, which was computed from items
// (the whole backlog, not one objective's: a dependant may bet on another).
func (n *Next) PlaceOf(items []Item, key string) *Place {
	p := &Place{Method: n.Method, Of: len(n.Ranked), DependsOn: []Neighbour{}, Dependants: []Neighbour{}}
	if i := slices.IndexFunc(n.Ranked, func(r Rank) bool { return r.Feature == key }); i >= 0 {
		r := n.Ranked[i]
		p.Rank = &r
	}
	if i := slices.IndexFunc(n.Unranked, func(u Unranked) bool { return u.Feature == key }); i >= 0 {
		u := n.Unranked[i]
		p.Unranked = &u
	}
	for _, a := range n.Stop {
		if a.Feature == key {
			p.Stop = append(p.Stop, a)
		}
	}
	byKey := make(map[string]Item, len(items))
	for _, it := range items {
		byKey[it.Feature.Key] = it
	}
	neighbour := func(k string) Neighbour {
		nb := Neighbour{Feature: k}
		if it, ok := byKey[k]; ok {
			nb.Title, nb.Stage = it.Feature.Title, it.Lifecycle.Stage
		}
		return nb
	}
	if it, ok := byKey[key]; ok {
		p.Blocking = waitsFor(it.Lifecycle.Stage)
		for _, d := range it.Feature.DependsOn {
			nb := neighbour(d)
			nb.Blocks = waitsFor(nb.Stage)
			p.DependsOn = append(p.DependsOn, nb)
		}
	}
	for _, it := range items {
		if slices.Contains(it.Feature.DependsOn, key) {
			p.Dependants = append(p.Dependants, neighbour(it.Feature.Key))
		}
	}
	slices.SortFunc(p.Dependants, func(a, b Neighbour) int { return cmp.Compare(a.Feature, b.Feature) })
	return p
}

// WaitsFor lists the dependencies the feature waits for.
func (p *Place) WaitsFor() []string {
	var out []string
	for _, d := range p.DependsOn {
		if d.Blocks {
			out = append(out, d.Feature)
		}
	}
	return out
}
