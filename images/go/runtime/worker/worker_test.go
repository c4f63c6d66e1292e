package worker

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kubeless/kubeless/pkg/functions"

	"kubeless-runtime/protocol"
)

func request(body string) *protocol.Request {
	return &protocol.Request{Deadline: time.Now().Add(time.Minute).UnixNano(), Method: "POST",
		URI: "/p?q=1", Proto: "HTTP/1.1", Host: "h", Body: []byte(body),
		Header: http.Header{"Event-Id": {"id-1"}, "Content-Type": {"text/plain"}}}
}

func TestCallGivesTheFunctionKubelessArguments(t *testing.T) {
	fctx := functions.Context{FunctionName: "f", Timeout: "3", Runtime: "go1.24", MemoryLimit: "128Mi"}
	var seen functions.Event
	var seenCtx functions.Context
	reply := Call(func(e functions.Event, c functions.Context) (string, error) {
		seen, seenCtx = e, c
		e.Extensions.Response.Header().Set("X-A", "b")
		e.Extensions.Response.WriteHeader(201)
		e.Extensions.Response.Write([]byte("written "))
		return "returned", nil
	}, fctx, request("data"))
	if reply.Kind != protocol.Answer || reply.Status != 201 || string(reply.Body) != "written returned" ||
		reply.Header.Get("X-A") != "b" {
		t.Fatalf("reply %+v", reply)
	}
	if seen.Data != "data" || seen.EventID != "id-1" || seen.Extensions.Request.URL.Query().Get("q") != "1" ||
		seen.Extensions.Context == nil || seenCtx != fctx {
		t.Fatalf("event %+v context %+v", seen, seenCtx)
	}
	if _, ok := seen.Extensions.Context.Deadline(); !ok {
		t.Fatal("the context has no deadline")
	}
}

func TestCallFailures(t *testing.T) {
	fctx := functions.Context{}
	if r := Call(func(functions.Event, functions.Context) (string, error) { return "", errors.New("bad") }, fctx, request("")); r.Kind != protocol.Failed || r.Message != "bad" {
		t.Fatalf("error: %+v", r)
	}
	if r := Call(func(functions.Event, functions.Context) (string, error) { panic("boom") }, fctx, request("")); r.Kind != protocol.Panicked || !strings.Contains(r.Message, "boom") {
		t.Fatalf("panic: %+v", r)
	}
	req := request("")
	req.Deadline = time.Now().Add(50 * time.Millisecond).UnixNano()
	polite := func(e functions.Event, _ functions.Context) (string, error) {
		<-e.Extensions.Context.Done()
		return "", nil
	}
	if r := Call(polite, fctx, req); r.Kind != protocol.TimedOut {
		t.Fatalf("timeout: %+v", r)
	}
}

func TestServeAnswersUntilEOF(t *testing.T) {
	var in, out bytes.Buffer
	w := bufio.NewWriter(&in)
	protocol.WriteRequest(w, request("one"))
	protocol.WriteRequest(w, request("two"))
	echo := func(e functions.Event, _ functions.Context) (string, error) { return e.Data, nil }
	if err := Serve(echo, functions.Context{}, &in, &out); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&out)
	for _, want := range []string{"", "one", "two"} {
		rep, err := protocol.ReadReply(r)
		if err != nil || string(rep.Body) != want {
			t.Fatalf("want %q, got %+v %v", want, rep, err)
		}
	}
}

func TestContextNamesTheHandlerAsKubelessDoes(t *testing.T) {
	t.Setenv("FUNC_HANDLER", "Handler")
	t.Setenv("MOD_NAME", "hello")
	t.Setenv("FUNC_NAME", "my-deployment")
	t.Setenv("KUBELESS_FUNC_NAME", "my-deployment")
	if got := ContextFromEnv().FunctionName; got != "Handler" {
		t.Fatalf("FunctionName = %q, want the handler %q as Kubeless's Go runtime gives", got, "Handler")
	}
}
