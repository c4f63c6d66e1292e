package kubeless

import (
	"fmt"

	"github.com/kubeless/kubeless/pkg/functions"
)

// Handler echoes the request body; a JSON body comes back as JSON.
func Handler(event functions.Event, context functions.Context) (string, error) {
	fmt.Println("received:", event.Data)
	if ct := event.Extensions.Request.Header.Get("Content-Type"); ct != "" {
		event.Extensions.Response.Header().Set("Content-Type", ct)
	}
	return event.Data, nil
}
