package kubeless

import (
	"encoding/json"
	"fmt"

	"github.com/kubeless/kubeless/pkg/functions"
)

// Handler echoes the request body with its Content-Type, so a JSON body comes back as
// JSON; it logs what it received (a JSON body parsed).
func Handler(event functions.Event, context functions.Context) (string, error) {
	var parsed any
	if err := json.Unmarshal([]byte(event.Data), &parsed); err == nil {
		fmt.Println("received:", parsed)
	} else {
		fmt.Println("received:", event.Data)
	}
	if ct := event.Extensions.Request.Header.Get("Content-Type"); ct != "" {
		event.Extensions.Response.Header().Set("Content-Type", ct)
	}
	return event.Data, nil
}
