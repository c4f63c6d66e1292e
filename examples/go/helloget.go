package kubeless

import (
	"github.com/kubeless/kubeless/pkg/functions"
)

// Foo answers every call with a greeting (Kubeless's own Go example).
func Foo(event functions.Event, context functions.Context) (string, error) {
	return "Hello world!", nil
}
