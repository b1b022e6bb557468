package main

import "fmt"

// dataDirBusy is the refusal of lockDataDir: another process holds the
// data directory.
type dataDirBusy struct {
	dir, lock string
	command   string // what asked: "serve", "restore", "token recover"
	pid       string // of the holder; "" when the lock file does not say
	holder    string // its command: "serve", "restore", "token recover"
}

func (e *dataDirBusy) Error() string {
	who := "valueloop " + e.holder
	if e.holder == "serve" {
		who = "valueloop server"
	}
	if e.pid != "" {
		who += " (process " + e.pid + ")"
	}
	this := e.command
	if this == "serve" {
		this = "server"
	}
	return fmt.Sprintf("--data %s: another %s is using this data directory; stop it first or give this %s its own --data (the lock is %s)", e.dir, who, this, e.lock)
}
