package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultRebuildTimeout bounds a recomputation (asked for by Rebuild, or
// started by a write that found the stored state stale) when
// Pipeline.RebuildTimeout is not set: far more than the minute or so that
// tens of millions of events take, short enough that a rebuild stuck on a
// lock does not hold the writer for good.
const DefaultRebuildTimeout = 30 * time.Minute

// rebuildJob is one recomputation of an environment, shared by every call
// of Rebuild that came while it had not started: each of them came after
// its caller's change was stored, so one recomputation that starts later
// serves them all. A write that finds the stored state stale runs the one
// waiting to start, if any, or one of its own (callers 0).
type rebuildJob struct {
	env     string
	started bool // set by the writer, under Pipeline.jobsMu
	callers int  // the calls of Rebuild it serves, under Pipeline.jobsMu
	result  RebuildResult
	err     error
	done    chan struct{}
}

// Rebuild recomputes env's per-user state and aggregates from its stored
// events and replaces the stored aggregates. Call it after metric
// definitions change.
//
// Rebuilds are bounded: they run one at a time on the pipeline's writer; a
// call that comes while a rebuild of env waits to start joins it rather
// than queueing another (so any number of calls cost at most the one under
// way and one more); each runs under the pipeline's life, not the caller's
// (a caller that gives up leaves it running: it was asked for after a
// change was stored), cancelled by Close and after RebuildTimeout. A
// cancelled rebuild changes nothing, and the pipeline rebuilds at its next
// write when the stored state is not of the current definitions.
func (p *Pipeline) Rebuild(ctx context.Context, env string) (RebuildResult, error) {
	j, enqueue := p.rebuildJob(env)
	return p.awaitRebuild(ctx, j, enqueue)
}

// awaitRebuild enqueues j (a new job: rebuildJob) and waits for it.
func (p *Pipeline) awaitRebuild(ctx context.Context, j *rebuildJob, enqueue bool) (RebuildResult, error) {
	if enqueue {
		select {
		case p.reqs <- &request{env: j.env, rebuild: j}:
		case <-p.done:
			// Unless a write's recomputation ran it meanwhile
			// (rebuildStale): finished twice, its channel closed twice.
			if first, _ := p.take(j); first {
				p.finishRebuild(j, RebuildResult{}, ErrClosed)
			}
		}
	}
	select {
	case <-j.done:
		return j.result, j.err
	case <-ctx.Done():
		return RebuildResult{}, ctx.Err()
	case <-p.done:
		select { // a job finished before the writer ended gives its result (as Pipeline.await)
		case <-j.done:
			return j.result, j.err
		default:
			return RebuildResult{}, ErrClosed
		}
	}
}

// rebuildJob returns the rebuild of env not yet started, a new one when
// there is none, which the caller must enqueue.
func (p *Pipeline) rebuildJob(env string) (j *rebuildJob, isNew bool) {
	p.jobsMu.Lock()
	defer p.jobsMu.Unlock()
	if j := p.jobs[env]; j != nil && !j.started {
		j.callers++
		return j, false
	}
	if p.jobs == nil {
		p.jobs = map[string]*rebuildJob{}
	}
	j = &rebuildJob{env: env, callers: 1, done: make(chan struct{})}
	p.jobs[env] = j
	return j, true
}

// rebuildStale recomputes env on the writer for a write that found env's
// stored state built with other definitions than the current ones. It runs
// the rebuild of env waiting to start, if any, which serves its callers too
// (its request, when the writer takes it, finds it done), or one of its
// own; either way bounded as Rebuild's are: under the pipeline's life (a
// write during drain, after Close, gets ErrClosed at once, and stores its
// events in the log only: writeLog) and RebuildTimeout.
func (p *Pipeline) rebuildStale(env string) error {
	p.jobsMu.Lock()
	j := p.jobs[env]
	if j == nil || j.started {
		if p.jobs == nil {
			p.jobs = map[string]*rebuildJob{}
		}
		j = &rebuildJob{env: env, done: make(chan struct{})}
		p.jobs[env] = j
	}
	p.jobsMu.Unlock()
	p.runRebuild(p.life, j)
	return j.err
}

// take marks j started and reports whether it was not already: the writer
// may have run it for a write (rebuildStale) before taking its request.
func (p *Pipeline) take(j *rebuildJob) (first bool, force bool) {
	p.jobsMu.Lock()
	defer p.jobsMu.Unlock()
	if j.started {
		return false, false
	}
	j.started = true
	// A call of Rebuild recomputes whatever the stored version; a write's
	// own recomputation does nothing when another node rebuilt meanwhile.
	return true, j.callers > 0
}

// runRebuild runs j on the writer, unless it ran already, under ctx (the
// writer's, cancelled by Close) and RebuildTimeout.
func (p *Pipeline) runRebuild(ctx context.Context, j *rebuildJob) {
	first, force := p.take(j)
	if !first {
		return
	}
	timeout := p.RebuildTimeout
	if timeout <= 0 {
		timeout = DefaultRebuildTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := p.rebuild(rctx, j.env, force)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		err = ErrClosed
	case errors.Is(rctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("ingest: rebuild of %s took longer than %v: %w", j.env, timeout, err)
	}
	p.finishRebuild(j, res, err)
}

// finishRebuild answers the callers of j, which the caller took (take) or
// made and never enqueued.
func (p *Pipeline) finishRebuild(j *rebuildJob, res RebuildResult, err error) {
	p.jobsMu.Lock()
	if p.jobs[j.env] == j {
		delete(p.jobs, j.env)
	}
	j.started = true
	p.jobsMu.Unlock()
	j.result, j.err = res, err
	close(j.done)
}
