package kubeless

import (
	"github.com/kubeless/kubeless/pkg/functions"
)

return "a statement outside a function"

func Handler(event functions.Event, context functions.Context) (string, error) {
	return "never compiled", nil
}
