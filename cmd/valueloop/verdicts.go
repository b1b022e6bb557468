package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/cluster"
	"github.com/valueloop/valueloop/experiment"
	"github.com/valueloop/valueloop/flags"
	"github.com/valueloop/valueloop/verdicts"
)

// openVerdicts starts the recording of verdict times: the periodic check of
// every flag with a hypothesis runs as singleton work under leader.
// Each verdict recorded touches its flag (the value loop moves the
// features that link it).
func openVerdicts(vs verdicts.Store, svc *flags.Service, leader cluster.Singleton, touch func(env, flag string), logger *slog.Logger) (*verdicts.Recorder, func(), error) {
	rec := verdicts.New(vs)
	rec.Logger = logger
	rec.Leader = leader
	rec.Recorded = touch
	rec.Definition = func(env, flag string) *valueloop.Flag {
		live := svc.Live(env)
		if live == nil {
			return nil
		}
		return live.Snapshot.Set().Flags[flag]
	}
	if err := rec.Open(); err != nil {
		return nil, nil, err
	}
	return rec, rec.Close, nil
}

// writeVerdictHistory writes the recorded verdicts on one line: when the
// hypothesis was first validated (or invalidated), then each change.
func writeVerdictHistory(w io.Writer, history []experiment.VerdictRecord) {
	if len(history) == 0 {
		return
	}
	var parts []string
	seen := map[experiment.Decision]bool{}
	for i, h := range history {
		word := string(h.Decision)
		if !seen[h.Decision] {
			word = "first " + word
		}
		seen[h.Decision] = true
		if i > 0 {
			word = "then " + word
		}
		parts = append(parts, word+" "+h.At.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	fmt.Fprintf(w, "History: %s\n", strings.Join(parts, ", "))
}
