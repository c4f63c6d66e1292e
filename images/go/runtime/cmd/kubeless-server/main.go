// Command kubeless-server is the Go runtime's HTTP server: plain net/http, as Kubeless's
// own Go runtime. It serves /healthz and /metrics itself and hands every other request to
// a pool of worker processes running the compiled function
// ($KUBELESS_INSTALL_VOLUME/kubeless-function, built by the compilation phase); see
// pool.go for why processes. One Apache combined log line per request goes to stdout.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"kubeless-runtime/protocol"
)

type config struct {
	installDir  string
	binary      string
	modName     string
	handler     string
	timeout     time.Duration
	timeoutText string
	port        int
	bodyLimit   int64
	grace       time.Duration
	pool        poolConfig
	termLog     string
}

// configError is a bad setting; its text names the variable and what to do.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func loadConfig(getenv func(string) string) (*config, error) {
	num := func(name string, fallback, min float64, integer bool) (float64, error) {
		raw := getenv(name)
		if raw == "" {
			return fallback, nil
		}
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v < min || math.IsInf(v, 0) || (integer && v != math.Trunc(v)) {
			kind := "a number"
			if integer {
				kind = "an integer"
			}
			return 0, &configError{fmt.Sprintf("Invalid %s=%q: expected %s >= %g.", name, raw, kind, min)}
		}
		return v, nil
	}
	c := &config{installDir: getenv("KUBELESS_INSTALL_VOLUME"), modName: getenv("MOD_NAME"),
		handler: getenv("FUNC_HANDLER"), termLog: getenv("KUBELESS_TERMINATION_LOG")}
	if c.installDir == "" {
		c.installDir = "/kubeless"
	}
	if c.termLog == "" {
		c.termLog = "/dev/termination-log"
	}
	c.binary = getenv("KUBELESS_FUNCTION_BINARY")
	if c.binary == "" {
		c.binary = filepath.Join(c.installDir, "kubeless-function")
	}
	var errs []error
	get := func(name string, fallback, min float64, integer bool) float64 {
		v, err := num(name, fallback, min, integer)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	timeout := get("FUNC_TIMEOUT", 180, 0.001, false)
	c.timeout = time.Duration(timeout * float64(time.Second))
	c.timeoutText = strconv.FormatFloat(timeout, 'f', -1, 64)
	c.port = int(get("FUNC_PORT", 8080, 0, true))
	c.bodyLimit = int64(get("REQ_MB_LIMIT", 1, 0.001, false) * 1024 * 1024)
	c.grace = time.Duration(get("KUBELESS_GRACE_PERIOD", 10, 0, false) * float64(time.Second))
	// A Go worker costs a few MiB; under a memory limit the default is one per 16 MiB.
	defaultMax := 16.0
	if limit, ok := parseMemory(getenv("FUNC_MEMORY_LIMIT")); ok {
		defaultMax = math.Max(2, math.Min(16, math.Floor(limit/(16<<20))))
	}
	c.pool.max = int(get("KUBELESS_WORKERS_MAX", defaultMax, 1, true))
	c.pool.min = int(get("KUBELESS_WORKERS_MIN", math.Min(2, float64(c.pool.max)), 1, true))
	if c.pool.min > c.pool.max {
		errs = append(errs, &configError{fmt.Sprintf("KUBELESS_WORKERS_MIN=%d is above KUBELESS_WORKERS_MAX=%d; "+
			"lower the minimum or raise the maximum.", c.pool.min, c.pool.max)})
	}
	c.pool.idle = time.Duration(get("KUBELESS_WORKER_IDLE", 60, 0, false) * float64(time.Second))
	c.pool.binary = c.binary
	c.pool.startLimit = 30 * time.Second
	return c, errors.Join(errs...)
}

// parseMemory reads a Kubernetes quantity such as 256Mi or 1G, in bytes.
func parseMemory(s string) (float64, bool) {
	units := []struct {
		suffix string
		factor float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"", 1}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil || v <= 0 {
				return 0, false
			}
			return v * u.factor, true
		}
	}
	return 0, false
}

type server struct {
	cfg      *config
	pool     *pool
	metrics  *metrics
	log      io.Writer
	stopping atomic.Bool
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusWriter{ResponseWriter: w}
	started := time.Now()
	defer func() { writeAccessLog(s.log, r, rec.status, rec.bytes, started) }()
	h := rec.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if s.stopping.Load() {
		h.Set("Connection", "close") // let keep-alive clients go
	}
	switch {
	case r.Method == http.MethodOptions:
		// CORS preflight, as the cors npm package answers it.
		h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
		if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
			h.Set("Access-Control-Allow-Headers", asked)
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		h.Set("Content-Length", "0")
		rec.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		io.WriteString(rec, "OK")
	case r.URL.Path == "/metrics" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		rec.Write(s.metrics.expose())
	default:
		s.invoke(rec, r, started)
	}
}

func (s *server) invoke(w http.ResponseWriter, r *http.Request, started time.Time) {
	deadline := started.Add(s.cfg.timeout)
	if r.ContentLength > s.cfg.bodyLimit {
		s.tooLarge(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.bodyLimit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.tooLarge(w)
		} else {
			http.Error(w, "Could not read the request body", http.StatusBadRequest)
		}
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	req := &protocol.Request{Deadline: deadline.UnixNano(), Method: r.Method, URI: r.RequestURI,
		Proto: r.Proto, Host: r.Host, RemoteAddr: r.RemoteAddr, Header: r.Header, Body: body}
	reply, err := s.pool.call(ctx, req)
	failed := true
	var crash *crashError
	switch {
	case errors.Is(err, errTimeout) || (err == nil && reply.Kind == protocol.TimedOut):
		http.Error(w, fmt.Sprintf("Function timed out after %ss", s.cfg.timeoutText), http.StatusRequestTimeout)
	case errors.As(err, &crash):
		fmt.Fprintf(os.Stderr, "Function %s.%s crashed its worker: %s\n", s.cfg.modName, s.cfg.handler, crash.why)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	case err != nil:
		http.Error(w, "Service Unavailable: "+err.Error(), http.StatusServiceUnavailable)
	case reply.Kind == protocol.Failed:
		http.Error(w, reply.Message, http.StatusInternalServerError)
	case reply.Kind == protocol.Panicked:
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	default:
		failed = false
		h := w.Header()
		for name, values := range reply.Header {
			if name != "Access-Control-Allow-Origin" || len(values) > 0 {
				h[name] = values
			}
		}
		w.WriteHeader(reply.Status)
		w.Write(reply.Body)
	}
	s.metrics.observe(r.Method, time.Since(started).Seconds(), failed)
}

func (s *server) tooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.Error(w, fmt.Sprintf("Request body larger than the %g MB limit (REQ_MB_LIMIT)",
		float64(s.cfg.bodyLimit)/(1024*1024)), http.StatusRequestEntityTooLarge)
}

// statusWriter remembers the status and size of the answer for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// writeAccessLog writes one Apache combined line, the format morgan and
// wsgi-request-logger give the other runtimes.
func writeAccessLog(out io.Writer, r *http.Request, status, size int, when time.Time) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if status == 0 {
		status = http.StatusOK
	}
	sizeText := "-"
	if size > 0 {
		sizeText = strconv.Itoa(size)
	}
	quote := func(s string) string {
		if s == "" {
			return "-"
		}
		q := strconv.Quote(s)
		return q[1 : len(q)-1]
	}
	line := fmt.Sprintf("%s - - [%s] \"%s %s %s\" %d %s \"%s\" \"%s\"\n", host,
		when.UTC().Format("02/Jan/2006:15:04:05 -0700"), r.Method, quote(r.RequestURI), r.Proto,
		status, sizeText, quote(r.Referer()), quote(r.UserAgent()))
	out.Write([]byte(line))
}

// fatal reports a start-up error on stderr and, where Kubernetes provides one, in the
// termination log, then exits 1.
func fatal(cfg *config, msg string) {
	fmt.Fprintln(os.Stderr, msg)
	path := "/dev/termination-log"
	if cfg != nil {
		path = cfg.termLog
	}
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0); err == nil {
		if len(msg) > 4000 {
			msg = msg[:4000]
		}
		f.WriteString(msg + "\n")
		f.Close()
	}
	os.Exit(1)
}

func main() {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fatal(cfg, err.Error())
	}
	if _, err := os.Stat(cfg.binary); err != nil {
		fatal(cfg, fmt.Sprintf("There is no compiled function at %s (%v). The compilation phase of the "+
			"Go runtime builds it from %s/%s.go: check that the deployment ran the runtime's "+
			"compilation image (kubeless-build compile) on the same volume (KUBELESS_INSTALL_VOLUME), "+
			"and that MOD_NAME/FUNC_HANDLER name the file and function (--handler %s.%s).",
			cfg.binary, errors.Unwrap(err), cfg.installDir, cfg.modName, cfg.modName, cfg.handler))
	}
	cfg.pool.env = append(os.Environ(), "KUBELESS_WORKER=1")
	p := newPool(cfg.pool)
	if err := p.start(); err != nil {
		fatal(cfg, fmt.Sprintf("The function %s.%s could not start: %v. Fix the function's start-up "+
			"code (init functions and package-level variables run in every worker process) and "+
			"deploy it again.", cfg.modName, cfg.handler, err))
	}
	accessLog := newBatchWriter(os.Stdout)
	s := &server{cfg: cfg, pool: p, log: accessLog}
	s.metrics = newMetrics(p.size)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.port))
	if err != nil {
		fatal(cfg, fmt.Sprintf("Cannot listen on port %d (FUNC_PORT): %v", cfg.port, err))
	}
	go func() {
		for range time.Tick(time.Second + cfg.pool.idle/4) {
			p.reapIdle(time.Now())
		}
	}()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		sig := <-signals
		s.stopping.Store(true)
		fmt.Printf("%s received: not accepting new connections, finishing the calls in flight "+
			"(up to %s, KUBELESS_GRACE_PERIOD)\n", sig, cfg.grace)
		ctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "Calls still running after the grace period were stopped: %v\n", err)
		}
		p.close()
		accessLog.close()
		close(done)
	}()
	fmt.Printf("Serving %s.%s (%s) on port %d: timeout %ss, %d-%d worker processes\n",
		cfg.modName, cfg.handler, cfg.binary, cfg.port, cfg.timeoutText, cfg.pool.min, cfg.pool.max)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fatal(cfg, fmt.Sprintf("The HTTP server stopped: %v", err))
	}
	<-done
}
