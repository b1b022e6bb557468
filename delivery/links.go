package delivery

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/valueloop/valueloop/dora"
)

// FlagTrailer links a change to the feature flag it ships behind: a line
// "valueloop-flag: KEY" in a commit message or in the description of a
// pull or merge request (several lines for several flags), or a label
// "valueloop-flag:KEY" on the pull or merge request.
const FlagTrailer = "valueloop-flag"

var trailer = regexp.MustCompile(`(?im)^[ \t]*valueloop-flag:[ \t]*([A-Za-z0-9][A-Za-z0-9._:/-]{0,199})[ \t]*\r?$`)

// flagsIn returns the flag keys the trailers of text name.
func flagsIn(text string) []string {
	var out []string
	for _, m := range trailer.FindAllStringSubmatch(text, 16) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// flagLabel returns the key a "valueloop-flag:KEY" label names.
func flagLabel(label string) (string, bool) {
	prefix := FlagTrailer + ":"
	if len(label) <= len(prefix) || !strings.EqualFold(label[:len(prefix)], prefix) {
		return "", false
	}
	key := strings.TrimSpace(label[len(prefix):])
	return key, checkFlagKey(key) == nil
}

// linkPayload holds the fields of push and pull/merge request payloads
// that can name flags, for both forges.
type linkPayload struct {
	Commits []struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"commits"`
	PullRequest *struct {
		Body   string `json:"body"`
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
	} `json:"pull_request"`
	ObjectAttributes *struct {
		Description string `json:"description"`
	} `json:"object_attributes"`
	Labels []struct {
		Title string `json:"title"`
	} `json:"labels"`
}

// flagLinks finds the flags a delivery's payload links its changes to: a
// commit's trailers link that commit; a pull or merge request's
// description and labels link every change it brought. The payload was
// already parsed successfully, so a decoding failure here only means no
// links.
func flagLinks(kind string, body []byte, changes []dora.Change) []FlagLink {
	if len(changes) == 0 {
		return nil
	}
	var p linkPayload
	if json.Unmarshal(body, &p) != nil {
		return nil
	}
	// Sets and an index, not scans: a push lists up to thousands of
	// commits, and a scan of the changes per commit and of the links per
	// link was quadratic (TestPushWithManyCommits).
	var out []FlagLink
	seen := map[FlagLink]struct{}{}
	add := func(flag string, c *dora.Change) {
		l := FlagLink{Flag: flag, Repo: c.Repo, SHA: c.SHA}
		if _, ok := seen[l]; !ok {
			seen[l] = struct{}{}
			out = append(out, l)
		}
	}
	var bySHA map[string][]int // lower-case SHA: the changes of that commit
	for _, commit := range p.Commits {
		flags := flagsIn(commit.Message)
		if len(flags) == 0 {
			continue
		}
		if bySHA == nil {
			bySHA = changesBySHA(changes)
		}
		for _, i := range bySHA[strings.ToLower(commit.ID)] {
			for _, f := range flags {
				add(f, &changes[i])
			}
		}
	}
	var whole []string // flags of the whole request
	switch {
	case kind == KindGitHub && p.PullRequest != nil:
		whole = flagsIn(p.PullRequest.Body)
		for _, l := range p.PullRequest.Labels {
			if f, ok := flagLabel(l.Name); ok {
				whole = append(whole, f)
			}
		}
	case kind == KindGitLab && p.ObjectAttributes != nil && len(p.Commits) == 0:
		whole = flagsIn(p.ObjectAttributes.Description)
		for _, l := range p.Labels {
			if f, ok := flagLabel(l.Title); ok {
				whole = append(whole, f)
			}
		}
	}
	for _, f := range whole {
		for i := range changes {
			add(f, &changes[i])
		}
	}
	return out
}

// changesBySHA indexes changes by lower-case SHA.
func changesBySHA(changes []dora.Change) map[string][]int {
	m := make(map[string][]int, len(changes))
	for i := range changes {
		k := strings.ToLower(changes[i].SHA)
		m[k] = append(m[k], i)
	}
	return m
}
