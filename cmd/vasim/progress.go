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

// newProgress returns the indicator for e.
func newProgress(e *env, asJSON bool) *progress {
	p := &progress{}
	if f, ok := e.stderr.(*os.File); ok && !asJSON {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.w = f
		}
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
