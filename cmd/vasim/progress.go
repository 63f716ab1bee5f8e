package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows how far long work has got, on one line of stderr that it
// rewrites: only when stderr is a terminal and not under --json, and only
// once the work has taken a second, so quick runs and logs stay clean.
type progress struct {
	w       io.Writer // nil: quiet
	mu      sync.Mutex
	start   time.Time
	last    time.Time
	shown   bool
	what    string
	started bool
}

// terminal returns e's standard error when it is a terminal and the
// output is not JSON, where progress may show; else nil.
func terminal(e *env, asJSON bool) *os.File {
	f, ok := e.stderr.(*os.File)
	if !ok || asJSON {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return f
}

// newProgress returns the indicator for e.
func newProgress(e *env, asJSON bool) *progress {
	p := &progress{}
	if f := terminal(e, asJSON); f != nil {
		p.w = f
	}
	return p
}

// step returns a callback for one piece of work called what, reporting
// done of total; nil when quiet.
func (p *progress) step(what string) func(done, total int) {
	if p == nil || p.w == nil {
		return nil
	}
	return func(done, total int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		now := time.Now()
		if !p.started || p.what != what {
			p.started, p.what, p.start = true, what, now
		}
		if now.Sub(p.start) < time.Second || (now.Sub(p.last) < 100*time.Millisecond && done < total) {
			return
		}
		p.last, p.shown = now, true
		fmt.Fprintf(p.w, "\r\033[K%s: %d%% (%d of %d, %.0f s)", what, 100*done/max(total, 1), done, total, now.Sub(p.start).Seconds())
	}
}

// done clears the line, if one was shown.
func (p *progress) done() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
	p.shown, p.started = false, false
}

// stageLine shows what a slow command is doing when it has no count to
// report (progress counts done of total): once the command
// has run for a delay, a line on a terminal's standard error naming its
// stage, which each new stage rewrites, cleared when it is done. A nil
// *stageLine shows nothing.
type stageLine struct {
	mu    sync.Mutex
	w     io.Writer
	name  string
	stage string
	shown bool
	done  bool
	timer *time.Timer
}

// startStages returns a stageLine for command name that shows after a
// second, when standard error is a terminal and the output is not JSON;
// otherwise nil.
func startStages(e *env, name string, asJSON bool) *stageLine {
	f := terminal(e, asJSON)
	if f == nil {
		return nil
	}
	return newStageLine(f, name, time.Second)
}

func newStageLine(w io.Writer, name string, delay time.Duration) *stageLine {
	p := &stageLine{w: w, name: name, stage: "starting"}
	p.timer = time.AfterFunc(delay, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.done {
			p.shown = true
			p.print()
		}
	})
	return p
}

func (p *stageLine) print() { fmt.Fprintf(p.w, "\r\x1b[Kvasim %s: %s…", p.name, p.stage) }

// set names the stage the command is in.
func (p *stageLine) set(stage string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage = stage
	if p.shown && !p.done {
		p.print()
	}
}

// stop clears the line, if one was shown.
func (p *stageLine) stop() {
	if p == nil {
		return
	}
	p.timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown && !p.done {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	p.done = true
}
