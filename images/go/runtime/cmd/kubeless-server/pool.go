package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"kubeless-runtime/protocol"
)

// Why worker processes: a goroutine cannot be stopped from outside, so a function that
// ignores its context would run on after the 408. A process can be killed. Each worker
// serves one call at a time; at the deadline (or when it crashes) it is killed with its
// process group and replaced, and calls in other workers go on untouched.

var (
	errTimeout = errors.New("deadline reached")
	errClosed  = errors.New("the server is shutting down")
)

// crashError is a worker that died during a call (os.Exit, a panic in a goroutine, the
// OOM killer).
type crashError struct{ why string }

func (e *crashError) Error() string { return e.why }

type worker struct {
	cmd      *exec.Cmd
	in       *os.File // requests, the worker's fd 3
	w        *bufio.Writer
	out      *os.File // replies, the worker's fd 4; read by the calling goroutine itself
	r        *bufio.Reader
	dead     chan struct{} // closed when the worker process has exited
	exitErr  error         // set before dead is closed
	lastUsed time.Time
	stderr   *tailBuffer
}

type poolConfig struct {
	binary     string
	env        []string
	min, max   int
	idle       time.Duration
	startLimit time.Duration // how long a worker may take to load
}

type pool struct {
	cfg     poolConfig
	mu      sync.Mutex
	idle    []*worker // LIFO: hot workers are reused, cold ones age out
	waiters []chan *worker
	live    int // started or starting
	closed  bool
	spawned int // workers ever started (a metric, and for tests)
}

func newPool(cfg poolConfig) *pool { return &pool{cfg: cfg} }

// start brings up the warm workers; the first load error is returned.
func (p *pool) start() error {
	errs := make(chan error, p.cfg.min)
	p.mu.Lock()
	p.live += p.cfg.min
	p.mu.Unlock()
	for i := 0; i < p.cfg.min; i++ {
		go func() {
			w, err := p.spawn()
			if err == nil {
				p.release(w)
			} else {
				p.mu.Lock()
				p.live--
				p.mu.Unlock()
			}
			errs <- err
		}()
	}
	var first error
	for i := 0; i < p.cfg.min; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// spawn starts one worker and waits for its Ready.
func (p *pool) spawn() (*worker, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	w := &worker{in: reqW, w: bufio.NewWriterSize(reqW, 64<<10), out: repR,
		r: bufio.NewReaderSize(repR, 64<<10), dead: make(chan struct{}), stderr: &tailBuffer{max: 4000}}
	cmd := exec.Command(p.cfg.binary)
	cmd.Env = p.cfg.env
	cmd.Stdout = os.Stdout
	cmd.Stderr = io.MultiWriter(os.Stderr, w.stderr)
	cmd.ExtraFiles = []*os.File{reqR, repW} // fd 3, fd 4
	// Its own process group, so a kill takes whatever the function started too; and it
	// dies with the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	w.cmd = cmd
	if err := cmd.Start(); err != nil {
		reqR.Close()
		reqW.Close()
		repR.Close()
		repW.Close()
		return nil, fmt.Errorf("cannot start the function binary %s: %v", p.cfg.binary, err)
	}
	reqR.Close()
	repW.Close()
	p.mu.Lock()
	p.spawned++
	p.mu.Unlock()
	go func() {
		w.exitErr = cmd.Wait()
		w.in.Close()
		close(w.dead)
	}()
	repR.SetReadDeadline(time.Now().Add(p.cfg.startLimit))
	first, err := protocol.ReadReply(w.r)
	if err == nil && first.Kind != protocol.Ready {
		err = fmt.Errorf("unexpected first reply %d", first.Kind)
	}
	if err != nil {
		w.kill()
		<-w.dead
		repR.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("the function binary %s did not get ready within %s%s", p.cfg.binary,
				p.cfg.startLimit, w.stderr.describe())
		}
		return nil, fmt.Errorf("the function binary %s exited while loading (%v)%s", p.cfg.binary,
			w.exitErr, w.stderr.describe())
	}
	return w, nil
}

// stop closes the worker's requests: it reads EOF and exits by itself.
func (w *worker) stop() {
	w.in.Close()
	go func() { <-w.dead; w.out.Close() }()
}

func (w *worker) kill() {
	if w.cmd.Process != nil {
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// get hands out an idle worker, starting one when there is room; it waits until ctx ends.
func (p *pool) get(ctx context.Context) (*worker, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errClosed
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return w, nil
	}
	ch := make(chan *worker, 1)
	p.waiters = append(p.waiters, ch)
	grow := p.live < p.cfg.max
	if grow {
		p.live++
	}
	p.mu.Unlock()
	if grow {
		go p.grow()
	}
	select {
	case w := <-ch:
		return w, nil
	case <-ctx.Done():
		p.mu.Lock()
		for i, c := range p.waiters {
			if c == ch {
				p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		select { // handed a worker while giving up: pass it on
		case w := <-ch:
			p.release(w)
		default:
		}
		return nil, errTimeout
	}
}

// grow starts one worker for the waiting calls (p.live already counts it).
func (p *pool) grow() {
	w, err := p.spawn()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Could not start a new worker: %v\n", err)
		p.mu.Lock()
		p.live--
		// Fail one waiting call rather than retry a broken binary in a loop.
		if len(p.waiters) > 0 {
			close(p.waiters[0])
			p.waiters = p.waiters[1:]
		}
		p.mu.Unlock()
		return
	}
	p.release(w)
}

// release returns a healthy worker: to the first waiting call, else to the idle list.
func (p *pool) release(w *worker) {
	w.lastUsed = time.Now()
	p.mu.Lock()
	if p.closed {
		p.live--
		p.mu.Unlock()
		w.stop()
		return
	}
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		ch <- w
		return
	}
	p.idle = append(p.idle, w)
	p.mu.Unlock()
}

// discard kills a worker (timed out, crashed) and starts a replacement when calls wait
// or the pool fell below its minimum.
func (p *pool) discard(w *worker) {
	w.kill()
	go func() { <-w.dead; w.out.Close() }()
	p.mu.Lock()
	p.live--
	replace := !p.closed && (len(p.waiters) > 0 || p.live < p.cfg.min) && p.live < p.cfg.max
	if replace {
		p.live++
	}
	p.mu.Unlock()
	if replace {
		go p.grow()
	}
}

// call runs one request in a worker, bounded by ctx's deadline.
func (p *pool) call(ctx context.Context, req *protocol.Request) (*protocol.Reply, error) {
	w, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	if w == nil { // the worker started for this call failed to load
		return nil, &crashError{"no worker could be started for the call"}
	}
	if err := protocol.WriteRequest(w.w, req); err != nil {
		p.discard(w)
		return nil, &crashError{fmt.Sprintf("the worker was gone: %v", err)}
	}
	// Reading here, with the call's deadline on the pipe, saves a goroutine hop per call.
	deadline, _ := ctx.Deadline()
	w.out.SetReadDeadline(deadline)
	rep, err := protocol.ReadReply(w.r)
	switch {
	case err == nil:
		p.release(w)
		return rep, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		p.discard(w)
		return nil, errTimeout
	default:
		p.discard(w)
		<-w.dead
		return nil, &crashError{fmt.Sprintf("the worker exited during the call (%v)%s", w.exitErr,
			w.stderr.describe())}
	}
}

// reapIdle stops workers idle longer than cfg.idle while more than cfg.min are alive.
func (p *pool) reapIdle(now time.Time) {
	p.mu.Lock()
	var stop []*worker
	kept := p.idle[:0]
	for _, w := range p.idle { // oldest first
		if p.live-len(stop) > p.cfg.min && now.Sub(w.lastUsed) > p.cfg.idle {
			stop = append(stop, w)
		} else {
			kept = append(kept, w)
		}
	}
	p.idle = kept
	p.live -= len(stop)
	p.mu.Unlock()
	for _, w := range stop {
		w.stop()
	}
}

func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}

// close stops idle workers now; busy ones exit when released.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.live -= len(idle)
	for _, ch := range p.waiters {
		close(ch)
	}
	p.waiters = nil
	p.mu.Unlock()
	for _, w := range idle {
		w.stop()
	}
}

// tailBuffer keeps the last bytes a worker wrote to stderr, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(b), nil
}

func (t *tailBuffer) describe() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return ""
	}
	return "; its stderr ended with:\n" + string(t.buf)
}
