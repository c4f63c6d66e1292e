// A worker for the server's tests: what it does depends on the body.
package main

import (
	"errors"
	"os"
	"strings"
	"time"

	"github.com/kubeless/kubeless/pkg/functions"

	"kubeless-runtime/worker"
)

func handler(event functions.Event, _ functions.Context) (string, error) {
	cmd, arg, _ := strings.Cut(event.Data, " ")
	switch cmd {
	case "sleep":
		d, _ := time.ParseDuration(arg)
		time.Sleep(d)
		return "slept", nil
	case "late": // ignores its context, then leaves a file
		time.Sleep(time.Second)
		os.WriteFile(arg, []byte("done"), 0o644)
		return "too late", nil
	case "polite": // returns when its context ends
		<-event.Extensions.Context.Done()
		return "", nil
	case "exit":
		os.Exit(3)
	case "panic":
		panic("boom")
	case "error":
		return "", errors.New("it failed")
	case "pid":
		return strings.TrimSpace(itoa(os.Getpid())), nil
	}
	event.Extensions.Response.Header().Set("X-Echo", "yes")
	return event.Data, nil
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func main() { worker.Main(handler) }
