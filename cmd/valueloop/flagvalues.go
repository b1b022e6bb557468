package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// timeFlag is an optional time on the command line.
type timeFlag struct {
	name string
	t    *time.Time
}

func (f *timeFlag) String() string {
	if f.t == nil {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(v string) error {
	t, err := delivery.ParseTime(f.name, v)
	if err != nil {
		return fmt.Errorf("%s", valueloop.ErrorMessage(err))
	}
	f.t = &t
	return nil
}

func addTime(fs *flag.FlagSet, name, usage string) *timeFlag {
	f := &timeFlag{name: name}
	fs.Var(f, name, usage)
	return f
}
