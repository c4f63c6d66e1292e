package kubeless

import (
	"fmt"
	"time"

	"github.com/kubeless/kubeless/pkg/functions"
)

// Handler ignores its context: without a body it sleeps 3 seconds, then prints. With a
// 1-second timeout the caller gets 408 and the worker running it is killed, so the line
// is never printed; the next call is served by a fresh worker.
func Handler(event functions.Event, context functions.Context) (string, error) {
	if event.Data != "" {
		return event.Data, nil
	}
	time.Sleep(3 * time.Second)
	fmt.Println("ran past the deadline: this line must never appear")
	return "too late", nil
}
