// Package functions holds the types a Kubeless Go function receives:
//
//	func Handler(event functions.Event, context functions.Context) (string, error)
//
// They mirror Kubeless's own github.com/kubeless/kubeless/pkg/functions, so functions
// written for Kubeless compile unchanged.
package functions

import (
	"context"
	"net/http"
)

// Extensions carries the HTTP request, a response writer and a context that is
// cancelled when the call reaches FUNC_TIMEOUT.
type Extensions struct {
	Request  *http.Request
	Response http.ResponseWriter
	Context  context.Context
}

// Event is one call: the request body and the event-* request headers.
type Event struct {
	Data           string
	EventID        string
	EventType      string
	EventTime      string
	EventNamespace string
	Extensions     Extensions
}

// Context describes the deployed function: FunctionName is the handler's name (FUNC_HANDLER)
// as Kubeless gives it, then FUNC_TIMEOUT, FUNC_RUNTIME, FUNC_MEMORY_LIMIT.
type Context struct {
	FunctionName string
	Timeout      string
	Runtime      string
	MemoryLimit  string
}
