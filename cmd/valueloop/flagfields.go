package main

import (
	"errors"
	"regexp"
	"strconv"

	"github.com/valueloop/valueloop"
)

// fieldIndex matches the first list index in a field path: "links.flags[2].flag".
var fieldIndex = regexp.MustCompile(`\[(\d+)\]`)

// flagFields names, for a command that builds the API's JSON from its
// flags, the flag that sets each field. A key is a field path with list
// indexes left out ("links.flags" for "links.flags[2].flag") or a prefix of
// one that covers the rest ("estimate.costOfDelay"). lists holds, for a
// list set by a repeatable flag, each item as typed ("--flag
// production:dark-mode"), so that an error in the third item quotes it.
type flagFields struct {
	fields map[string]string
	lists  map[string][]string
}

// rename returns err with the field it names, a path of the API's JSON,
// replaced by the flag the user typed: "--confidence" instead of
// "estimate.confidence". Other errors, and fields no flag sets, come back
// as they are.
func (ff flagFields) rename(err error) error {
	var ae *valueloop.Error
	if !errors.As(err, &ae) || ae.Field == "" {
		return err
	}
	path, idx := ae.Field, -1
	if m := fieldIndex.FindStringSubmatchIndex(path); m != nil {
		idx, _ = strconv.Atoi(path[m[2]:m[3]])
		list := path[:m[0]]
		if vals := ff.lists[list]; idx < len(vals) {
			c := *ae
			c.Field = vals[idx]
			return &c
		}
		path = list + fieldIndex.ReplaceAllString(path[m[1]:], "")
	}
	name := ff.fields[path]
	for i := len(path) - 1; i > 0 && name == ""; i-- {
		if path[i] == '.' {
			name = ff.fields[path[:i]]
		}
	}
	if name == "" {
		return err
	}
	c := *ae
	c.Field = name
	return &c
}

// typed returns each value of a repeatable flag as typed: "--flag VALUE".
func typed(flag string, values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = flag + " " + v
	}
	return out
}

// recordFlags are the flags of a command that sends one delivery record
// of kind ("deployments"): the server names a field of it bare ("sha") or
// within the delivery ("deployments[0].status"), either of which becomes
// the flag that set it.
func recordFlags(kind string, byField map[string]string) flagFields {
	ff := flagFields{fields: map[string]string{}}
	for field, flag := range byField {
		ff.fields[field] = flag
		ff.fields[kind+"."+field] = flag
	}
	return ff
}

// The flags of deploy record, change record and incident open and
// resolve, by the record's field each sets.
var (
	deployFlags = recordFlags("deployments", map[string]string{"service": "--service", "environment": "--env", "sha": "--sha",
		"status": "--status", "at": "--at", "id": "--id", "version": "--version", "repo": "--repo", "rollback": "--rollback", "production": "--production"})
	changeFlags = recordFlags("changes", map[string]string{"service": "--service", "repo": "--repo", "sha": "--sha", "pr": "--pr",
		"branch": "--branch", "paths": "--path", "authoredAt": "--authored-at", "mergedAt": "--merged-at", "openedAt": "--opened-at",
		"reviewedAt": "--reviewed-at", "flags": "--flag", "message": "--message", "labels": "--label"})
	incidentFlags = recordFlags("incidents", map[string]string{"service": "--service", "id": "--id", "title": "--title", "repo": "--repo",
		"openedAt": "--at", "resolvedAt": "--at", "at": "--at", "deploymentId": "--deployment", "causeSha": "--cause-sha"})
)
