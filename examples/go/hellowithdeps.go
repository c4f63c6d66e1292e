package kubeless

import (
	"github.com/google/uuid"
	"github.com/kubeless/kubeless/pkg/functions"
)

// Handler names the request body with a UUID (version 5: the same body, the same UUID),
// using a module from go.mod, which the installation phase downloads.
func Handler(event functions.Event, context functions.Context) (string, error) {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(event.Data)).String(), nil
}
