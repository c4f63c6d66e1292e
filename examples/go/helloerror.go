package kubeless

import (
	"errors"
	"os"

	"github.com/kubeless/kubeless/pkg/functions"
)

// Handler fails in the three ways a Go function can: a returned error (500 with its
// message), a panic and os.Exit (500; the server and other calls carry on).
func Handler(event functions.Event, context functions.Context) (string, error) {
	switch event.Data {
	case "panic":
		panic("something panicked")
	case "exit":
		os.Exit(3)
	}
	return "", errors.New("something went wrong")
}
