package main

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// barWidth is the width of a progress bar's gauge in columns: narrow enough that a
// whole bar line, counts and rates included, fits a terminal of 80 columns.
const barWidth = 20

// console is the command's standard error, shared by its log lines and its progress
// bar so that neither cuts into the other. A bar draws its line again and again
// without ending it; a log line written meanwhile ends that line first, so that it
// stands on a line of its own, and the bar draws itself again below it at its next
// update. Writes are serialised: the embedded store logs from its own goroutines.
type console struct {
	mu sync.Mutex
	w  io.Writer
	// open is set while a bar's line is drawn and not ended.
	open bool
}

// newConsole returns a console writing to w.
func newConsole(w io.Writer) *console {
	return &console{w: w}
}

// Write writes p, whole lines such as a log record, after ending the line of a bar
// being drawn. It returns the error of the underlying writer.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.endLine(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// endLine ends the bar's line if it is open. c.mu must be held.
func (c *console) endLine() error {
	if !c.open {
		return nil
	}
	c.open = false
	_, err := io.WriteString(c.w, "\n")
	return err
}

// progress is a progress bar on a console, following a load (see loader.Progress).
// Nothing draws it but its own updates (no goroutine), and once Finish or stop has
// returned it writes nothing more, so what is printed next starts on a line of its
// own.
type progress struct {
	c           *console
	description string
	options     []progressbar.Option
	// bar is set by Start.
	bar *progressbar.ProgressBar
	out *barWriter
}

// newProgress returns a bar on c with the given description and the extra options
// given. It draws nothing before its first update after Start.
func (c *console) newProgress(description string, options ...progressbar.Option) *progress {
	return &progress{c: c, description: description, options: options}
}

// Start makes the bar, counting up to total (-1 while the total is unknown).
func (p *progress) Start(total int64) {
	p.out = &barWriter{c: p.c}
	options := append([]progressbar.Option{
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(p.description),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(barWidth),
		progressbar.OptionThrottle(100 * time.Millisecond),
		// Without this, a bar of unknown length starts a goroutine that redraws it
		// every 100 ms, even after it has been stopped.
		progressbar.OptionSetSpinnerChangeInterval(0),
	}, p.options...)
	p.bar = progressbar.NewOptions64(total, options...)
}

// Add advances the bar by n.
func (p *progress) Add(n int) { _ = p.bar.Add(n) }

// Set sets the bar to done out of total.
func (p *progress) Set(done, total int64) {
	if p.bar.GetMax64() != total {
		p.bar.ChangeMax64(total)
	}
	_ = p.bar.Set64(done)
}

// Finish draws the bar full and ends its line.
func (p *progress) Finish() {
	_ = p.bar.Finish()
	p.out.end()
}

// stop ends the bar's line where it stands, after a failure. It may be called after
// Finish, or before Start, and then does nothing.
func (p *progress) stop() {
	if p.bar == nil {
		return
	}
	_ = p.bar.Exit()
	p.out.end()
}

// barWriter is what a progress bar writes to: its console, until the bar ends.
type barWriter struct {
	c *console
	// ended is set, under c.mu, once the bar's line has been ended for good.
	ended bool
}

// Write draws p, a frame of the bar, unless the bar has ended. Errors of the
// underlying writer are returned.
func (b *barWriter) Write(p []byte) (int, error) {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if b.ended || len(p) == 0 {
		return len(p), nil
	}
	n, err := b.c.w.Write(p)
	b.c.open = p[len(p)-1] != '\n'
	return n, err
}

// end ends the bar's line, if drawn, and drops whatever the bar writes afterwards.
func (b *barWriter) end() {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if !b.ended {
		b.ended = true
		_ = b.c.endLine()
	}
}
