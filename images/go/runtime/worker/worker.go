// Package worker is the function side of the Go runtime. The compilation phase links a
// function with a generated main that calls Main(Handler); kubeless-server starts that
// binary as worker processes, each serving one call at a time: requests arrive on fd 3,
// replies leave on fd 4, and the function's own stdout and stderr are the container's.
package worker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"github.com/kubeless/kubeless/pkg/functions"

	"kubeless-runtime/protocol"
)

// Handler is the signature of a Kubeless Go function.
type Handler = func(functions.Event, functions.Context) (string, error)

// EnvWorker marks a process started by kubeless-server as a worker.
const EnvWorker = "KUBELESS_WORKER"

// Main serves calls until the server closes fd 3. It never returns.
func Main(handler Handler) {
	if os.Getenv(EnvWorker) != "1" {
		fmt.Fprintln(os.Stderr, "This is a compiled Kubeless function: kubeless-server starts it "+
			"as a worker process (it reads calls on fd 3). Run the runtime image instead.")
		os.Exit(2)
	}
	// When the container runs out of memory the kernel should kill a worker (its call
	// gets 500), not the server. Raising one's own score needs no privilege.
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	in := os.NewFile(3, "kubeless-requests")
	out := os.NewFile(4, "kubeless-replies")
	if err := Serve(handler, ContextFromEnv(), in, out); err != nil {
		fmt.Fprintf(os.Stderr, "kubeless worker: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ContextFromEnv is the functions.Context of this deployment, as Kubeless fills it.
func ContextFromEnv() functions.Context {
	// As Kubeless's Go runtime: the handler's name (FUNC_HANDLER), not the deployment's.
	name := os.Getenv("FUNC_HANDLER")
	timeout := os.Getenv("FUNC_TIMEOUT")
	if timeout == "" {
		timeout = "180"
	}
	return functions.Context{
		FunctionName: name,
		Timeout:      timeout,
		Runtime:      os.Getenv("FUNC_RUNTIME"),
		MemoryLimit:  os.Getenv("FUNC_MEMORY_LIMIT"),
	}
}

// Serve announces Ready, then answers one Request after another until in reaches EOF.
func Serve(handler Handler, fctx functions.Context, in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriterSize(out, 64<<10)
	if err := protocol.WriteReply(w, &protocol.Reply{Kind: protocol.Ready}); err != nil {
		return err
	}
	for {
		req, err := protocol.ReadRequest(r)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := protocol.WriteReply(w, Call(handler, fctx, req)); err != nil {
			return err
		}
	}
}

// Call runs the function on one request and turns what happened into a Reply.
func Call(handler Handler, fctx functions.Context, req *protocol.Request) (reply *protocol.Reply) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, req.Deadline))
	defer cancel()
	httpReq := newRequest(ctx, req)
	rec := &recorder{header: http.Header{}}
	event := functions.Event{
		Data:           string(req.Body),
		EventID:        httpReq.Header.Get("event-id"),
		EventType:      httpReq.Header.Get("event-type"),
		EventTime:      httpReq.Header.Get("event-time"),
		EventNamespace: httpReq.Header.Get("event-namespace"),
		Extensions:     functions.Extensions{Request: httpReq, Response: rec, Context: ctx},
	}
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprintf("panic: %v\n\n%s", p, debug.Stack())
			fmt.Fprintf(os.Stderr, "Function %s panicked: %s", fctx.FunctionName, msg)
			reply = &protocol.Reply{Kind: protocol.Panicked, Message: msg}
		}
	}()
	result, err := handler(event, fctx)
	switch {
	case ctx.Err() != nil:
		// Returned at or after FUNC_TIMEOUT (as Kubeless's example does on
		// <-Context.Done()): the caller gets 408, this worker stays.
		return &protocol.Reply{Kind: protocol.TimedOut}
	case err != nil:
		fmt.Fprintf(os.Stderr, "Function %s returned an error: %v\n", fctx.FunctionName, err)
		return &protocol.Reply{Kind: protocol.Failed, Message: err.Error()}
	}
	// As Kubeless's server: whatever the function wrote to Extensions.Response, then
	// the returned string.
	rec.body.WriteString(result)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	return &protocol.Reply{Kind: protocol.Answer, Status: status, Header: rec.header,
		Body: rec.body.Bytes()}
}

func newRequest(ctx context.Context, req *protocol.Request) *http.Request {
	u, err := url.ParseRequestURI(req.URI)
	if err != nil {
		u = &url.URL{Path: req.URI}
	}
	major, minor, ok := http.ParseHTTPVersion(req.Proto)
	if !ok {
		major, minor = 1, 1
	}
	header := req.Header
	if header == nil {
		header = http.Header{}
	}
	r := &http.Request{
		Method: req.Method, URL: u, Proto: req.Proto, ProtoMajor: major, ProtoMinor: minor,
		Header: header, Body: io.NopCloser(bytes.NewReader(req.Body)),
		ContentLength: int64(len(req.Body)), Host: req.Host, RemoteAddr: req.RemoteAddr,
		RequestURI: req.URI,
	}
	return r.WithContext(ctx)
}

// recorder is the http.ResponseWriter a function sees: the server replays what it
// recorded (status, headers, body) on the real response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
