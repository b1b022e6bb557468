package dora

import (
	"regexp"
	"strings"
)

// Conventions that issue trackers share, for the github and gitlab packages.

// ServiceLabelPrefix marks a label that names the service an issue concerns
// ("service:checkout"), for repositories that hold several services.
const ServiceLabelPrefix = "service:"

// LabelService returns the service the first "service:" label names; "" if
// none does.
func LabelService(labels []string) string {
	for _, l := range labels {
		if s, ok := strings.CutPrefix(l, ServiceLabelPrefix); ok {
			if s = strings.TrimSpace(s); s != "" {
				return s
			}
		}
	}
	return ""
}

// rootCause finds "root cause: <sha>" in an incident's text, the convention
// Four Keys established for naming the commit that caused an incident.
var rootCause = regexp.MustCompile(`(?i)root[ _-]?cause:\s*([0-9a-f]{7,40})\b`)

// CauseSHA returns the commit an incident's text names as its root cause,
// in lower case; "" if it names none.
func CauseSHA(text string) string {
	if m := rootCause.FindStringSubmatch(text); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}
