// Command kubeless-build runs the installation and compilation phases of the Go runtime:
//
//	kubeless-build install   # go mod download of the function's go.mod
//	kubeless-build compile   # go build of the function into $KUBELESS_INSTALL_VOLUME/kubeless-function
//
// The function (package kubeless, func Handler(functions.Event, functions.Context)
// (string, error)) is the root package of its module in the volume; a generated main in
// kubeless_main/ links it with the runtime's worker. github.com/kubeless/kubeless and the
// runtime are local modules (replace directives), so a function without dependencies
// builds offline. The go command is started with an argument list and an environment,
// never through a shell; GOPROXY, GOPRIVATE, GONOSUMDB, GONOPROXY and GOFLAGS are checked
// first. Errors go to stderr and /dev/termination-log, with the compiler's own lines
// relative to the function's files.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

const (
	kubelessModule = "github.com/kubeless/kubeless"
	runtimeModule  = "kubeless-runtime"
	mainDir        = "kubeless_main"
	binaryName     = "kubeless-function"
	terminationMax = 4000 // Kubernetes keeps at most 4096 bytes
)

// userError is a problem the user fixes; its text says how.
type userError struct{ msg string }

func (e *userError) Error() string { return e.msg }

func userErrorf(format string, args ...any) error { return &userError{fmt.Sprintf(format, args...)} }

type settings struct {
	volume     string // KUBELESS_INSTALL_VOLUME
	depsFile   string // KUBELESS_DEPS_FILE
	modName    string
	handler    string
	sdkDir     string // the local github.com/kubeless/kubeless
	runtimeDir string // the local kubeless-runtime module
	goVersion  string // e.g. 1.23.4
	env        []string
}

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "install" && os.Args[1] != "compile") {
		fmt.Fprintln(os.Stderr, "usage: kubeless-build install|compile")
		os.Exit(2)
	}
	termLog := envOr(os.Getenv, "KUBELESS_TERMINATION_LOG", "/dev/termination-log")
	s, err := load(os.Getenv, os.Environ())
	if err == nil {
		if os.Args[1] == "install" {
			err = install(s)
		} else {
			err = compile(s)
		}
	}
	if err != nil {
		report(termLog, err.Error())
		os.Exit(1)
	}
}

func envOr(getenv func(string) string, name, fallback string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return fallback
}

func load(getenv func(string) string, environ []string) (*settings, error) {
	s := &settings{
		volume:     envOr(getenv, "KUBELESS_INSTALL_VOLUME", "/kubeless"),
		modName:    getenv("MOD_NAME"),
		handler:    getenv("FUNC_HANDLER"),
		sdkDir:     envOr(getenv, "KUBELESS_GO_SDK", "/opt/kubeless/sdk"),
		runtimeDir: envOr(getenv, "KUBELESS_GO_RUNTIME", "/opt/kubeless/runtime"),
		goVersion:  strings.TrimPrefix(runtime.Version(), "go"),
	}
	s.depsFile = envOr(getenv, "KUBELESS_DEPS_FILE", filepath.Join(s.volume, "go.mod"))
	env, err := goEnv(getenv, environ, s.volume)
	s.env = env
	return s, err
}

var (
	proxyRe   = regexp.MustCompile(`^(direct|off|(https?|file)://[^\s,|"'\\]+)$`)
	patternRe = regexp.MustCompile(`^[A-Za-z0-9._~*?\[\]/-]+$`)
	// GOFLAGS the runtime accepts: build options, not ones that run other programs
	// (-toolexec, -exec) or swap files (-overlay, -modfile).
	allowedFlags = map[string]bool{"-mod": true, "-tags": true, "-trimpath": true, "-buildvcs": true,
		"-ldflags": true, "-gcflags": true, "-modcacherw": true, "-v": true, "-x": true, "-p": true, "-a": true}
)

// goEnv is the go command's environment: the container's, minus what the runtime decides,
// plus the checked module settings.
func goEnv(getenv func(string) string, environ []string, volume string) ([]string, error) {
	var errs []error
	checked := map[string]string{}
	if v := getenv("GOPROXY"); v != "" {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '|' }) {
			if !proxyRe.MatchString(part) {
				errs = append(errs, userErrorf("GOPROXY=%q: %q is not a proxy URL (https://..., "+
					"file://...), direct or off. Give a list such as GOPROXY=https://proxy.example.com,direct.", v, part))
			}
		}
		checked["GOPROXY"] = v
	}
	for _, name := range []string{"GOPRIVATE", "GONOSUMDB", "GONOPROXY"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		for _, part := range strings.Split(v, ",") {
			if !patternRe.MatchString(part) {
				errs = append(errs, userErrorf("%s=%q: %q is not a module path pattern. Give "+
					"comma-separated patterns such as %s=example.com/private/*,corp.example.org.", name, v, part, name))
			}
		}
		checked[name] = v
	}
	flags := []string{}
	userMod := false
	for _, flag := range strings.Fields(getenv("GOFLAGS")) {
		name, _, _ := strings.Cut(flag, "=")
		name = "-" + strings.TrimLeft(name, "-")
		if !strings.HasPrefix(flag, "-") || !allowedFlags[name] {
			errs = append(errs, userErrorf("GOFLAGS=%q: %q is not accepted. The Go runtime accepts "+
				"-mod, -tags, -trimpath, -buildvcs, -ldflags, -gcflags, -modcacherw, -v, -x, -p and -a.",
				getenv("GOFLAGS"), flag))
		}
		userMod = userMod || name == "-mod"
		flags = append(flags, flag)
	}
	if !userMod {
		// Resolve imports the go.mod does not list yet, as `go get` would.
		flags = append([]string{"-mod=mod"}, flags...)
	}
	checked["GOFLAGS"] = strings.Join(flags, " ")
	gopath := filepath.Join(volume, ".kubeless-go")
	checked["GOTOOLCHAIN"] = "local"
	checked["CGO_ENABLED"] = "0"
	checked["GOPATH"] = gopath
	checked["GOMODCACHE"] = filepath.Join(gopath, "pkg", "mod")
	if getenv("SSL_CERT_FILE") == "" && getenv("KUBELESS_CA_BUNDLE") != "" {
		checked["SSL_CERT_FILE"] = getenv("KUBELESS_CA_BUNDLE")
	}
	env := make([]string, 0, len(environ)+len(checked))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if _, ours := checked[name]; !ours {
			env = append(env, kv)
		}
	}
	for name, value := range checked {
		env = append(env, name+"="+value)
	}
	return env, errors.Join(errs...)
}

// looksLikeGopkg tells Kubeless's old dep format (Gopkg.toml) from a go.mod.
func looksLikeGopkg(content string) bool {
	for _, marker := range []string{"[[constraint]]", "[[override]]", "[prune]", "required = ["} {
		if strings.Contains(content, marker) {
			return true
		}
	}
	return false
}

// goModInfo reads the module path and the go line of a go.mod.
func goModInfo(content string) (module, goLine string) {
	for _, line := range strings.Split(content, "\n") {
		line, _, _ = strings.Cut(line, "//")
		fields := strings.Fields(line)
		if len(fields) == 2 && fields[0] == "module" && module == "" {
			module = strings.Trim(fields[1], "\"`")
		}
		if len(fields) == 2 && fields[0] == "go" && goLine == "" {
			goLine = fields[1]
		}
	}
	return module, goLine
}

// newerThan reports whether Go version a (e.g. 1.25 or 1.24.2) is newer than b.
func newerThan(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(strings.TrimFunc(pa[i], func(r rune) bool { return r < '0' || r > '9' }))
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(strings.TrimFunc(pb[i], func(r rune) bool { return r < '0' || r > '9' }))
		}
		if x != y {
			return x > y
		}
	}
	return false
}

func minorOf(version string) string {
	parts := strings.Split(version, ".")
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return version
}

const goModHelp = "The Go runtime reads dependencies from a go.mod (give it with --dependencies go.mod):\n\n" +
	"    module function\n\n    go %s\n\n    require github.com/google/uuid v1.6.0\n\n" +
	"github.com/kubeless/kubeless needs no line: the runtime provides it."

// prepareModule makes the volume a module whose root package is the function, with
// github.com/kubeless/kubeless and the runtime pointing at their local copies. It
// returns the function's import path.
func prepareModule(s *settings) (string, error) {
	goMod := filepath.Join(s.volume, "go.mod")
	if _, err := os.Stat(filepath.Join(s.volume, "Gopkg.toml")); err == nil {
		return "", userErrorf("Found Gopkg.toml: Kubeless's old dep format is not supported by the "+
			"Go runtime (dep is retired; Go uses modules). "+goModHelp, minorOf(s.goVersion))
	}
	content, err := os.ReadFile(s.depsFile)
	switch {
	case err == nil && looksLikeGopkg(string(content)):
		return "", userErrorf("The dependency file %s is a Gopkg.toml (Kubeless's old dep format), "+
			"which the Go runtime does not read. "+goModHelp, s.depsFile, minorOf(s.goVersion))
	case err == nil && strings.TrimSpace(string(content)) != "" && s.depsFile != goMod:
		if err := os.WriteFile(goMod, content, 0o644); err != nil {
			return "", err
		}
	case err == nil && strings.TrimSpace(string(content)) != "":
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("cannot read the dependency file %s: %v", s.depsFile, err)
	default: // no dependencies: a module of its own
		content = []byte(fmt.Sprintf("module function\n\ngo %s\n", minorOf(s.goVersion)))
		if err := os.WriteFile(goMod, content, 0o644); err != nil {
			return "", fmt.Errorf("cannot write %s (is the volume writable?): %v", goMod, err)
		}
	}
	module, goLine := goModInfo(string(content))
	if module == "" {
		return "", userErrorf("The go.mod has no module line. "+goModHelp, minorOf(s.goVersion))
	}
	if goLine != "" && newerThan(goLine, s.goVersion) {
		return "", userErrorf("go.mod asks for go %s, but this runtime has Go %s and does not "+
			"download other toolchains (GOTOOLCHAIN=local). Lower the go line of go.mod to go %s "+
			"(and any dependency needing a newer Go), or deploy with a runtime whose Go is %s or newer.",
			goLine, s.goVersion, minorOf(s.goVersion), goLine)
	}
	_, err = runGo(s, s.volume, "mod", "edit",
		"-require="+kubelessModule+"@v1.0.7", "-replace="+kubelessModule+"="+s.sdkDir,
		"-require="+runtimeModule+"@v0.0.0", "-replace="+runtimeModule+"="+s.runtimeDir)
	if err != nil {
		return "", userErrorf("The go.mod cannot be read by go %s:\n%s", s.goVersion, relativize(err.Error(), s.volume))
	}
	return module, nil
}

func install(s *settings) error {
	if _, err := prepareModule(s); err != nil {
		return err
	}
	fmt.Printf("Downloading the modules of %s (Go %s)\n", s.depsFile, s.goVersion)
	if _, err := runGo(s, s.volume, "mod", "download"); err != nil {
		return userErrorf("go mod download failed for %s. Check the module paths and versions in "+
			"go.mod, GOPROXY/GOPRIVATE/GONOSUMDB, and the CA bundle (--ca-bundle) if a proxy "+
			"intercepts TLS. go said:\n%s", s.depsFile, relativize(err.Error(), s.volume))
	}
	return nil
}

var identRe = regexp.MustCompile(`^[\p{L}_][\p{L}\p{Nd}_]*$`)

func compile(s *settings) error {
	if s.modName == "" || s.handler == "" {
		return userErrorf("MOD_NAME and FUNC_HANDLER must be set: for --handler handler.Foo the " +
			"runtime compiles handler.go (MOD_NAME=handler) and calls its func Foo (FUNC_HANDLER=Foo).")
	}
	source := filepath.Join(s.volume, s.modName+".go")
	if _, err := os.Stat(source); err != nil {
		return userErrorf("The function file %s does not exist. MOD_NAME (%s) must name the .go file "+
			"given with --from-file (the part before the dot in --handler).", source, s.modName)
	}
	if !identRe.MatchString(s.handler) {
		return userErrorf("FUNC_HANDLER=%q is not a Go function name: use --handler %s.Handler with "+
			"a func Handler(event functions.Event, context functions.Context) (string, error).", s.handler, s.modName)
	}
	if first := []rune(s.handler)[0]; !(first >= 'A' && first <= 'Z') {
		exported := strings.ToUpper(string(first)) + s.handler[len(string(first)):]
		return userErrorf("FUNC_HANDLER=%q is not exported, so the runtime cannot call it: Go exports "+
			"only names that start with an upper-case letter. Rename the function to %s in %s.go and "+
			"deploy with --handler %s.%s.", s.handler, exported, s.modName, s.modName, exported)
	}
	module, err := prepareModule(s)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.volume, mainDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(generatedMain(module, s.handler)), 0o644); err != nil {
		return err
	}
	fmt.Printf("Compiling %s.%s with Go %s\n", s.modName, s.handler, s.goVersion)
	out := filepath.Join(s.volume, binaryName)
	if _, err := runGo(s, s.volume, "build", "-o", out, "-ldflags=-s -w", "./"+mainDir); err != nil {
		return &userError{compileMessage(s, err.Error())}
	}
	return nil
}

func generatedMain(module, handler string) string {
	return fmt.Sprintf(`// Code generated by kubeless-build; DO NOT EDIT.
package main

import (
	function %q

	"kubeless-runtime/worker"
)

func main() {
	worker.Main(function.%s)
}
`, module, handler)
}

var mainLineRe = regexp.MustCompile(`(?m)^` + mainDir + `/main\.go:\d+:\d+: (.*)$`)

// compileMessage is the termination message of a failed build: the compiler's lines,
// relative to the function's files; an error in the generated main is explained.
func compileMessage(s *settings, output string) string {
	output = relativize(output, s.volume)
	sig := "func " + s.handler + "(event functions.Event, context functions.Context) (string, error)"
	var hints []string
	for _, m := range mainLineRe.FindAllStringSubmatch(output, -1) {
		switch what := m[1]; {
		case strings.Contains(what, "undefined: function."+s.handler):
			hints = append(hints, fmt.Sprintf("%s.go has no function %s: FUNC_HANDLER (the part after "+
				"the dot in --handler %s.%s) must name an exported %s in package kubeless.",
				s.modName, s.handler, s.modName, s.handler, sig))
		case strings.Contains(what, "is a program, not an importable package"):
			hints = append(hints, fmt.Sprintf("%s.go is package main: a Kubeless Go function is "+
				"package kubeless (with %s), the runtime provides main.", s.modName, sig))
		case strings.Contains(what, "cannot use function."+s.handler):
			hints = append(hints, fmt.Sprintf("%s has the wrong type (%s); it must be %s.", s.handler, what, sig))
		}
	}
	head := fmt.Sprintf("Compiling the function %s.%s failed (go build, Go %s):\n", s.modName, s.handler, s.goVersion)
	if len(hints) > 0 {
		return head + strings.Join(hints, "\n") + "\n" + output
	}
	return head + output + "\nFix these lines and deploy the function again."
}

// relativize shows paths in the volume as the user's file names (handler.go:6:1: ...).
func relativize(text, volume string) string {
	text = strings.ReplaceAll(text, volume+"/", "")
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		lines[i] = strings.TrimPrefix(line, "./")
	}
	return strings.Join(lines, "\n")
}

// runGo runs the go command in dir; its output is echoed, and returned in the error.
func runGo(s *settings, dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = s.env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	os.Stderr.Write(out.Bytes())
	if err != nil {
		text := strings.TrimSpace(out.String())
		if text == "" {
			text = err.Error()
		}
		return "", errors.New(text)
	}
	return out.String(), nil
}

// report writes a failure to stderr and to the termination log, where Kubernetes (and
// kubeless-runtime deploy) show it.
func report(path, msg string) {
	fmt.Fprintln(os.Stderr, msg)
	if len(msg) > terminationMax {
		msg = msg[:terminationMax-4] + "\n..."
	}
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0); err == nil {
		f.WriteString(msg + "\n")
		f.Close()
	}
}
