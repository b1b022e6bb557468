package dora

import (
	"fmt"
	"slices"
	"strings"

	"github.com/valueloop/valueloop"
)

// Catalog maps repositories to services and services to teams. A service may
// live in several repositories, and a monorepo may hold several services, each
// under its own path prefix.
type Catalog struct {
	Services []Service `json:"services"`
}

// Service is one deployable unit, owned by one team.
type Service struct {
	Name    string   `json:"name"`
	Team    string   `json:"team,omitempty"`
	Sources []Source `json:"sources"`
}

// Source is a repository, or the part of a monorepo under Path, that holds a
// service's code.
type Source struct {
	// Repo is GitHub's full_name or GitLab's path_with_namespace
	// ("owner/name"); it is compared without regard to case.
	Repo string `json:"repo"`
	// Path is a directory prefix inside the repository ("services/checkout");
	// empty for the whole repository.
	Path string `json:"path,omitempty"`
}

// Validate lists every problem of the catalog.
func (c *Catalog) Validate() error {
	var problems []valueloop.Problem
	add := func(path, format string, args ...any) {
		problems = append(problems, valueloop.Problem{Source: "catalog", Path: path, Message: fmt.Sprintf(format, args...)})
	}
	names := map[string]bool{}
	sources := map[string]string{}
	for i, s := range c.Services {
		p := fmt.Sprintf("/services/%d", i)
		switch {
		case strings.TrimSpace(s.Name) == "":
			add(p+"/name", "is required")
		case names[s.Name]:
			add(p+"/name", "service %q is listed twice", s.Name)
		}
		names[s.Name] = true
		if len(s.Sources) == 0 {
			add(p+"/sources", "a service needs at least one repository")
		}
		for j, src := range s.Sources {
			if strings.TrimSpace(src.Repo) == "" {
				add(fmt.Sprintf("%s/sources/%d/repo", p, j), "is required")
				continue
			}
			if err := CheckRepo("repo", src.Repo, false); err != nil {
				add(fmt.Sprintf("%s/sources/%d/repo", p, j), "%s", err.(*valueloop.Error).Message)
				continue
			}
			key := strings.ToLower(src.Repo) + "\x00" + cleanPrefix(src.Path)
			if other, ok := sources[key]; ok {
				add(fmt.Sprintf("%s/sources/%d", p, j), "%s %q is already the source of service %q", src.Repo, src.Path, other)
			}
			sources[key] = s.Name
		}
	}
	if len(problems) > 0 {
		return &valueloop.ValidationError{Problems: problems}
	}
	return nil
}

func cleanPrefix(p string) string {
	p = strings.TrimPrefix(p, "./")
	return strings.Trim(p, "/")
}

// catalog is the compiled form of a Catalog.
type catalog struct {
	repos map[string]*repoEntry // lower-case repository name
	teams map[string]string     // service -> team
	names []string              // catalogued services, sorted
}

type repoEntry struct {
	prefixed []prefixEntry // longest prefix first
	catchAll []string      // the service without a prefix, if any
	all      []string      // every service of the repository, sorted
}

type prefixEntry struct {
	prefix  string
	service []string // one element, shared to avoid allocations
}

func compileCatalog(c Catalog) (*catalog, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cat := &catalog{repos: map[string]*repoEntry{}, teams: map[string]string{}}
	for _, s := range c.Services {
		cat.teams[s.Name] = s.Team
		cat.names = append(cat.names, s.Name)
		for _, src := range s.Sources {
			key := strings.ToLower(src.Repo)
			e := cat.repos[key]
			if e == nil {
				e = &repoEntry{}
				cat.repos[key] = e
			}
			if p := cleanPrefix(src.Path); p == "" {
				e.catchAll = []string{s.Name}
			} else {
				e.prefixed = append(e.prefixed, prefixEntry{prefix: p, service: []string{s.Name}})
			}
			if !slices.Contains(e.all, s.Name) {
				e.all = append(e.all, s.Name)
			}
		}
	}
	slices.Sort(cat.names)
	for _, e := range cat.repos {
		slices.SortFunc(e.prefixed, func(a, b prefixEntry) int { return len(b.prefix) - len(a.prefix) })
		slices.Sort(e.all)
	}
	return cat, nil
}

// team returns the team of a service; "" for a service the catalog does not
// list.
func (c *catalog) team(service string) string { return c.teams[service] }

// changeServices returns the services a change of the repository (e, nil
// when the catalog lacks it, named name) belongs to. buf is reused for the
// result when a change spans several services; the result must not be
// modified.
func (c *catalog) changeServices(e *repoEntry, name string, ch *Change, buf []string) []string {
	if ch.Service != "" {
		return append(buf[:0], ch.Service)
	}
	if e == nil {
		return append(buf[:0], name)
	}
	if len(e.prefixed) == 0 {
		return e.catchAll
	}
	out := buf[:0]
	for _, p := range ch.Paths {
		p = strings.TrimPrefix(p, "/")
		for _, pe := range e.prefixed {
			if strings.HasPrefix(p, pe.prefix) && (len(p) == len(pe.prefix) || p[len(pe.prefix)] == '/') {
				if !slices.Contains(out, pe.service[0]) {
					out = append(out, pe.service[0])
				}
				break
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	if e.catchAll != nil {
		return e.catchAll
	}
	return e.all
}
