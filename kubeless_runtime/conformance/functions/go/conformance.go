// The conformance suite's function for Go runtimes (Kubeless style: package kubeless,
// func Handler(event functions.Event, context functions.Context) (string, error)).
//
// `kubeless-runtime conformance` deploys this file into the image under test and drives it
// over HTTP. What it does depends on the request, so one deployment serves every case:
//   - no body (a GET): returns greeting;
//   - a raw body (text or bytes): returns it unchanged;
//   - a JSON object without a "conformance" key: returns {"echo": data, "type": ...};
//   - a JSON object {"conformance": COMMAND, ...}: runs COMMAND (see commands below).
//
// Go links what it imports, so the "deps" command's module (github.com/google/uuid) is
// imported here: with the suite's go.mod it is the pinned version from the installation
// phase; without one, the compilation phase resolves it through the module proxy.
package kubeless

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/kubeless/kubeless/pkg/functions"
)

const greeting = "kubeless-conformance: hello from the function"

var tokenRe = regexp.MustCompile(`^[0-9a-f]{6,64}$`)

type command func(data map[string]any, event functions.Event, ctx functions.Context) (any, error)

var commands = map[string]command{
	"where": func(map[string]any, functions.Event, functions.Context) (any, error) {
		_, file, _, _ := runtime.Caller(0)
		return map[string]any{"file": file, "module": strings.TrimSuffix(filepath.Base(file), ".go"),
			"install_volume": os.Getenv("KUBELESS_INSTALL_VOLUME")}, nil
	},
	"event": func(data map[string]any, e functions.Event, _ functions.Context) (any, error) {
		return map[string]any{"event": map[string]any{"event-id": orNil(e.EventID),
			"event-type": orNil(e.EventType), "event-time": orNil(e.EventTime),
			"event-namespace": orNil(e.EventNamespace)}, "type": typeName(data)}, nil
	},
	"context": func(_ map[string]any, _ functions.Event, c functions.Context) (any, error) {
		return map[string]any{"context": map[string]any{"function-name": orNil(c.FunctionName),
			"timeout": orNil(c.Timeout), "runtime": orNil(c.Runtime), "memory-limit": orNil(c.MemoryLimit)}}, nil
	},
	"raise": func(map[string]any, functions.Event, functions.Context) (any, error) {
		return nil, errors.New("kubeless-conformance: a deliberate exception (the 500 case)")
	},
	"sleep": func(data map[string]any, _ functions.Event, _ functions.Context) (any, error) {
		seconds := number(data["seconds"], 1)
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		return map[string]any{"slept": seconds}, nil
	},
	"late": func(data map[string]any, _ functions.Event, _ functions.Context) (any, error) {
		token, _ := data["token"].(string)
		if !tokenRe.MatchString(token) {
			return nil, errors.New("token must be 6-64 lowercase hex digits")
		}
		mark(token, "start")
		// Deliberately ignores event.Extensions.Context: the runtime must stop it.
		time.Sleep(time.Duration(number(data["seconds"], 5) * float64(time.Second)))
		mark(token, "done")
		return "kubeless-conformance: finished after the deadline", nil
	},
	"deps": func(map[string]any, functions.Event, functions.Context) (any, error) {
		const name = "github.com/google/uuid"
		pc := reflect.ValueOf(uuid.NewSHA1).Pointer()
		file, _ := runtime.FuncForPC(pc).FileLine(pc)
		version := ""
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, dep := range info.Deps {
				if dep.Path == name {
					version = dep.Version
				}
			}
		}
		works := uuid.NewSHA1(uuid.NameSpaceURL, []byte("kubeless")).Version() == 5
		return map[string]any{"name": name, "version": version, "file": file, "works": works}, nil
	},
}

// mark leaves the side effect the timeout case looks for: a stdout line and a file in /tmp.
func mark(token, stage string) {
	fmt.Printf("kubeless-conformance %s %s\n", stage, token)
	_ = os.WriteFile(filepath.Join("/tmp", "kubeless-conformance-"+token+"."+stage), []byte(stage), 0o644)
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func number(v any, fallback float64) float64 {
	if f, ok := v.(float64); ok {
		return f
	}
	return fallback
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// Handler answers the suite's requests (see the comment at the top of the file).
func Handler(event functions.Event, context functions.Context) (string, error) {
	mediaType, _, _ := mime.ParseMediaType(event.Extensions.Request.Header.Get("Content-Type"))
	if event.Data == "" || !strings.Contains(mediaType, "json") {
		if event.Data == "" {
			return greeting, nil
		}
		return event.Data, nil
	}
	var data any
	if err := json.Unmarshal([]byte(event.Data), &data); err != nil {
		event.Extensions.Response.WriteHeader(400)
		return "Malformed JSON in the request body: " + err.Error(), nil
	}
	var result any
	if object, ok := data.(map[string]any); ok && object["conformance"] != nil {
		name, _ := object["conformance"].(string)
		run, ok := commands[name]
		if !ok {
			return "", fmt.Errorf("unknown conformance command %q", object["conformance"])
		}
		var err error
		if result, err = run(object, event, context); err != nil {
			return "", err
		}
	} else if isEmpty(data) {
		return greeting, nil
	} else {
		result = map[string]any{"echo": data, "type": typeName(data)}
	}
	if text, ok := result.(string); ok {
		return text, nil
	}
	body, err := json.Marshal(result)
	if err != nil {
		return "", err
	}
	event.Extensions.Response.Header().Set("Content-Type", "application/json")
	return string(body), nil
}
