package delivery

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/valueloop/valueloop/dora"
)

// ChangeText is a change with the text that came with it: the commit
// message (or the pull or merge request's description) and the request's
// labels. The value loop recognises the changes of features in it (a
// "Feature: KEY" trailer, a label, a branch prefix); delivery metrics keep
// none of it.
type ChangeText struct {
	Change  dora.Change
	Message string
	Labels  []string
}

// changeTexts pairs each change of a webhook delivery with its text: a
// commit with its message; for a pull or merge request, every change with
// the request's description and labels.
func changeTexts(kind string, body []byte, changes []dora.Change) []ChangeText {
	if len(changes) == 0 {
		return nil
	}
	var p linkPayload
	if json.Unmarshal(body, &p) != nil {
		return nil
	}
	out := make([]ChangeText, len(changes))
	for i, c := range changes {
		out[i].Change = c
	}
	// Each commit's message to its changes through an index: a scan of the
	// commits per change was quadratic (TestPushWithManyCommits).
	if len(p.Commits) > 0 {
		bySHA := changesBySHA(changes)
		for _, commit := range p.Commits {
			for _, i := range bySHA[strings.ToLower(commit.ID)] {
				out[i].Message = commit.Message
			}
		}
	}
	var text string
	var labels []string
	switch {
	case kind == KindGitHub && p.PullRequest != nil:
		text = p.PullRequest.Body
		for _, l := range p.PullRequest.Labels {
			labels = append(labels, l.Name)
		}
	case kind == KindGitLab && p.ObjectAttributes != nil && len(p.Commits) == 0:
		text = p.ObjectAttributes.Description
		for _, l := range p.Labels {
			labels = append(labels, l.Title)
		}
	}
	if text != "" || labels != nil {
		for i := range out {
			if out[i].Message == "" {
				out[i].Message = text
			} else {
				out[i].Message += "\n\n" + text
			}
			out[i].Labels = labels
		}
	}
	return out
}

// linked hands the changes of a stored (or redelivered) delivery to the
// Linked hook. The delivery is stored already: a failure is logged, not
// returned, and a redelivery tries again.
func (s *Service) linked(ctx context.Context, texts []ChangeText) {
	if s.Linked == nil || len(texts) == 0 {
		return
	}
	if err := s.Linked(ctx, texts); err != nil {
		s.Logger.Error("linking changes to features failed", "err", err)
	}
}
