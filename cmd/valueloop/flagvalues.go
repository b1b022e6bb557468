package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valueloop/valueloop"
	"github.com/valueloop/valueloop/delivery"
)

// parseFinite reads a number typed on the command line: strconv.ParseFloat
// reads NaN and Inf as well, which JSON cannot carry, so that the request
// failed with "json: unsupported value", naming nothing. Every number flag
// sent to the server reads through it; the caller names the flag.
func parseFinite(s string) (float64, error) { return parseFiniteIn(s, s) }

// parseFiniteIn is parseFinite of num, the number within typed, which its
// errors quote: a share's "two%" is refused as "two%", not as "two".
func parseFiniteIn(num, typed string) (float64, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("want a number, got %q", typed)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("want a finite number, got %q", typed)
	}
	return v, nil
}

// finiteFloat is a number flag read by parseFinite: flag.Float64 reads
// NaN and Inf as well. Every float flag of the commands is one (floatVar),
// so that such a value is refused with the flag's name, exit 2.
type finiteFloat float64

func (f *finiteFloat) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 64) }
func (f *finiteFloat) Set(s string) error {
	v, err := parseFinite(s)
	if err != nil {
		return err
	}
	*f = finiteFloat(v)
	return nil
}

// floatVar defines a finite number flag, as fs.Float64Var does.
func floatVar(fs *flag.FlagSet, p *float64, name string, value float64, usage string) {
	*p = value
	fs.Var((*finiteFloat)(p), name, usage)
}

// floatFlag defines a finite number flag, as fs.Float64 does.
func floatFlag(fs *flag.FlagSet, name string, value float64, usage string) *float64 {
	p := new(float64)
	floatVar(fs, p, name, value, usage)
	return p
}

// optFloat is a number flag that remembers whether it was given.
type optFloat struct {
	v   float64
	set bool
}

func (o *optFloat) String() string { return strconv.FormatFloat(o.v, 'g', -1, 64) }
func (o *optFloat) Set(s string) error {
	v, err := parseFinite(s)
	if err != nil {
		return err
	}
	o.v, o.set = v, true
	return nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// optBoolFlag is a boolean flag that may be left unset (nil): the server
// decides then. Like a flag.Bool, it stands alone for true and takes
// false after an equals sign (--production=false), so that it cannot
// swallow the next option as its value.
type optBoolFlag struct{ v *bool }

func (f *optBoolFlag) IsBoolFlag() bool { return true }

func (f *optBoolFlag) String() string {
	if f.v == nil {
		return ""
	}
	return strconv.FormatBool(*f.v)
}

func (f *optBoolFlag) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	f.v = &b
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
