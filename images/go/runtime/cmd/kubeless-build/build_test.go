package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(values map[string]string) func(string) string {
	return func(k string) string { return values[k] }
}

func TestGoEnvChecksModuleSettings(t *testing.T) {
	good := map[string]string{"GOPROXY": "https://proxy.example.com,direct", "GOPRIVATE": "example.com/private/*",
		"GONOSUMDB": "corp.example.org", "GOFLAGS": "-tags=netgo -trimpath"}
	vars, err := goEnv(env(good), []string{"PATH=/bin", "GOFLAGS=-toolexec=x"}, "/kubeless")
	if err != nil {
		t.Fatal(err)
	}
	joined := "\n" + strings.Join(vars, "\n") + "\n"
	for _, want := range []string{"\nGOFLAGS=-mod=mod -tags=netgo -trimpath\n", "\nGOTOOLCHAIN=local\n",
		"\nGOPROXY=https://proxy.example.com,direct\n", "\nGOMODCACHE=/kubeless/.kubeless-go/pkg/mod\n", "\nPATH=/bin\n"} {
		if !strings.Contains(joined, want) {
			t.Errorf("env lacks %q: %v", want, vars)
		}
	}
	if strings.Contains(joined, "toolexec") {
		t.Errorf("the container's GOFLAGS leaked: %v", vars)
	}
	for name, value := range map[string]string{"GOPROXY": "https://x;rm -rf /", "GOPRIVATE": "$(id)",
		"GONOSUMDB": "a b", "GOFLAGS": "-toolexec=/bin/sh"} {
		_, err := goEnv(env(map[string]string{name: value}), nil, "/kubeless")
		var ue *userError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: %v", name, value, err)
		}
	}
}

func TestHelpers(t *testing.T) {
	if !looksLikeGopkg("[[constraint]]\n  name = \"x\"\n") || looksLikeGopkg("module function\n") {
		t.Error("looksLikeGopkg")
	}
	if m, g := goModInfo("// c\nmodule \"function\" // x\n\ngo 1.23.1\n"); m != "function" || g != "1.23.1" {
		t.Errorf("goModInfo: %q %q", m, g)
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{{"1.25", "1.24.2", true}, {"1.24", "1.24.2", false}, {"1.24.3", "1.24.2", true}, {"1.23rc1", "1.24", false}} {
		if newerThan(c.a, c.b) != c.want {
			t.Errorf("newerThan(%s, %s) != %v", c.a, c.b, c.want)
		}
	}
	got := relativize("# function\n./handler.go:6:1: syntax error\n/kubeless/x.go:1:1: y", "/kubeless")
	if got != "# function\nhandler.go:6:1: syntax error\nx.go:1:1: y" {
		t.Errorf("relativize: %q", got)
	}
}

// compileIn runs the compilation phase on files in a fresh volume with the host's Go.
func compileIn(t *testing.T, files map[string]string, handler string) (string, error) {
	t.Helper()
	volume := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(volume, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wd, _ := os.Getwd()
	root := filepath.Join(wd, "..", "..")
	gocache, _ := os.UserCacheDir()
	values := map[string]string{"KUBELESS_INSTALL_VOLUME": volume, "MOD_NAME": "handler", "FUNC_HANDLER": handler,
		"KUBELESS_GO_SDK": filepath.Join(root, "..", "sdk"), "KUBELESS_GO_RUNTIME": root,
		"GOPROXY": "off"}
	environ := append(os.Environ(), "GOCACHE="+filepath.Join(gocache, "go-build"))
	s, err := load(env(values), environ)
	if err != nil {
		t.Fatal(err)
	}
	err = compile(s)
	return volume, err
}

const hello = `package kubeless

import "github.com/kubeless/kubeless/pkg/functions"

func Foo(event functions.Event, context functions.Context) (string, error) {
	return "hello", nil
}
`

func TestCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	volume, err := compileIn(t, map[string]string{"handler.go": hello}, "Foo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(volume, binaryName)); err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(hello, "func Foo", "return 1\nfunc Foo", 1)
	_, err = compileIn(t, map[string]string{"handler.go": broken}, "Foo")
	if err == nil || !strings.Contains(err.Error(), "\nhandler.go:5:1: syntax error: non-declaration statement outside function body") {
		t.Fatalf("syntax error: %v", err)
	}
	_, err = compileIn(t, map[string]string{"handler.go": hello}, "Bar")
	if err == nil || !strings.Contains(err.Error(), "handler.go has no function Bar") {
		t.Fatalf("missing handler: %v", err)
	}
	wrong := strings.Replace(hello, "(string, error)", "string", 1)
	wrong = strings.Replace(wrong, `"hello", nil`, `"hello"`, 1)
	_, err = compileIn(t, map[string]string{"handler.go": wrong}, "Foo")
	if err == nil || !strings.Contains(err.Error(), "Foo has the wrong type") {
		t.Fatalf("wrong signature: %v", err)
	}
}

func TestCompileRefusals(t *testing.T) {
	cases := []struct {
		files   map[string]string
		handler string
		want    string
	}{
		{map[string]string{"handler.go": hello}, "foo", "Rename the function to Foo"},
		{map[string]string{"handler.go": hello}, "Foo()", "is not a Go function name"},
		{map[string]string{"other.go": hello}, "Foo", "handler.go does not exist"},
		{map[string]string{"handler.go": hello, "go.mod": "module function\n\ngo 1.99\n"}, "Foo",
			"go.mod asks for go 1.99, but this runtime has Go"},
		{map[string]string{"handler.go": hello, "go.mod": "[[constraint]]\n  name = \"github.com/x/y\"\n"}, "Foo",
			"Gopkg.toml (Kubeless's old dep format)"},
		{map[string]string{"handler.go": hello, "Gopkg.toml": "[prune]\n"}, "Foo", "Found Gopkg.toml"},
	}
	for _, c := range cases {
		_, err := compileIn(t, c.files, c.handler)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %s: want %q, got %v", c.files, c.handler, c.want, err)
		}
	}
}
