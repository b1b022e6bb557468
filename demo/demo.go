// Package demo holds the small data set that `valueloop serve --demo` loads,
// so that a newcomer sees the loop working within a minute: two environments
// with flags of every type, a rollout under way (checkout-flow at 5% in
// production) and an experiment split (new-onboarding).
package demo

import (
	"embed"

	"github.com/valueloop/valueloop"
)

//go:embed *.json
var files embed.FS

// Environment is one demo environment with its flagd file.
type Environment struct {
	valueloop.Environment
	File string // file name, for messages
	Data []byte // flagd JSON
}

// Environments returns the demo environments.
func Environments() []Environment {
	read := func(name string) []byte {
		b, err := files.ReadFile(name)
		if err != nil {
			panic("demo: embedded file missing: " + name)
		}
		return b
	}
	return []Environment{
		{Environment: valueloop.Environment{Key: "development", Name: "Development"}, File: "demo/development.json", Data: read("development.json")},
		{Environment: valueloop.Environment{Key: "production", Name: "Production", Production: true}, File: "demo/production.json", Data: read("production.json")},
	}
}
