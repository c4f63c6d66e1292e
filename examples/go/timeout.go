package kubeless

import (
	"time"

	"github.com/kubeless/kubeless/pkg/functions"
)

// Foo takes 5 seconds unless FUNC_TIMEOUT comes first: the context in Extensions is
// cancelled at the deadline (Kubeless's own timeout example) and the caller gets 408.
func Foo(event functions.Event, context functions.Context) (string, error) {
	select {
	case <-event.Extensions.Context.Done():
		return "", nil
	case <-time.After(5 * time.Second):
		return "Function returned after 5 seconds", nil
	}
}
