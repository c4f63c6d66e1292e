package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var workerBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kubeless-server-test")
	if err != nil {
		panic(err)
	}
	workerBinary = filepath.Join(dir, "worker")
	build := exec.Command("go", "build", "-o", workerBinary, "./testdata/worker")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("cannot build the test worker: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newTestServer(t *testing.T, env map[string]string) (*httptest.Server, *server, *bytes.Buffer) {
	t.Helper()
	env["KUBELESS_FUNCTION_BINARY"] = workerBinary
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.pool.env = append(os.Environ(), "KUBELESS_WORKER=1")
	p := newPool(cfg.pool)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	s := &server{cfg: cfg, pool: p, log: log, metrics: newMetrics(p.size)}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); p.close() })
	return ts, s, &log.buf
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func post(t *testing.T, url, body string) (int, string, time.Duration) {
	t.Helper()
	started := time.Now()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(started)
}

func TestEchoWithHeadersAndCORS(t *testing.T) {
	ts, _, log := newTestServer(t, map[string]string{})
	resp, err := http.Post(ts.URL+"/any/path?q=1", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello" || resp.Header.Get("X-Echo") != "yes" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("got %d %q %v", resp.StatusCode, body, resp.Header)
	}
	line := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "POST /any/path\?q=1 HTTP/1\.1" 200 5 "-" "Go-http-client/1\.1"\n$`)
	if !line.MatchString(log.String()) {
		t.Fatalf("access log line %q", log.String())
	}
}

func TestPreflight(t *testing.T) {
	ts, _, _ := newTestServer(t, map[string]string{})
	req, _ := http.NewRequest(http.MethodOptions, ts.URL+"/", nil)
	req.Header.Set("Access-Control-Request-Headers", "x-custom")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Headers") != "x-custom" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestErrorPanicExit(t *testing.T) {
	ts, s, _ := newTestServer(t, map[string]string{})
	if code, body, _ := post(t, ts.URL, "error"); code != 500 || !strings.Contains(body, "it failed") {
		t.Fatalf("error: %d %q", code, body)
	}
	if code, _, _ := post(t, ts.URL, "panic"); code != 500 {
		t.Fatalf("panic: %d", code)
	}
	if code, _, _ := post(t, ts.URL, "exit"); code != 500 {
		t.Fatalf("exit: %d", code)
	}
	if code, body, _ := post(t, ts.URL, "still here"); code != 200 || body != "still here" {
		t.Fatalf("after the crash: %d %q", code, body)
	}
	metrics := string(s.metrics.expose())
	for _, want := range []string{`function_calls_total{method="POST"} 4`, `function_failures_total{method="POST"} 3`,
		`function_duration_seconds_count{method="POST"} 4`, `function_duration_seconds_bucket{method="POST",le="+Inf"} 4`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
}

func TestTimeoutKillsTheWorkerOnly(t *testing.T) {
	ts, _, _ := newTestServer(t, map[string]string{"FUNC_TIMEOUT": "0.4"})
	marker := filepath.Join(t.TempDir(), "late")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a call in another worker, within its deadline, survives the kill
		defer wg.Done()
		resp, err := http.Post(ts.URL, "text/plain", strings.NewReader("sleep 300ms"))
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("the neighbouring call got %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
	}()
	code, body, took := post(t, ts.URL, "late "+marker)
	if code != 408 || !strings.Contains(body, "timed out") || took > 900*time.Millisecond {
		t.Fatalf("late call: %d %q after %s", code, body, took)
	}
	wg.Wait()
	time.Sleep(1200 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the function ran on after its deadline")
	}
	if code, _, _ := post(t, ts.URL, "ok"); code != 200 {
		t.Fatalf("after the timeout: %d", code)
	}
}

func TestPoliteTimeoutKeepsTheWorker(t *testing.T) {
	ts, s, _ := newTestServer(t, map[string]string{"FUNC_TIMEOUT": "0.2", "KUBELESS_WORKERS_MIN": "1", "KUBELESS_WORKERS_MAX": "1"})
	if code, _, _ := post(t, ts.URL, "polite"); code != 408 {
		t.Fatalf("polite: %d", code)
	}
	if code, _, _ := post(t, ts.URL, "ok"); code != 200 {
		t.Fatalf("after: %d", code)
	}
	if s.pool.spawned > 2 { // the polite worker may lose the race with the deadline once
		t.Fatalf("%d workers started", s.pool.spawned)
	}
}

func TestParallelCallsOverlap(t *testing.T) {
	ts, _, _ := newTestServer(t, map[string]string{"KUBELESS_WORKERS_MAX": "8"})
	started := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(ts.URL, "text/plain", strings.NewReader("sleep 500ms"))
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("got %v %v", resp, err)
			} else {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if took := time.Since(started); took > 2*time.Second {
		t.Fatalf("8 calls of 0.5 s took %s", took)
	}
}

func TestBodyLimit(t *testing.T) {
	ts, _, _ := newTestServer(t, map[string]string{"REQ_MB_LIMIT": "0.01"})
	if code, _, _ := post(t, ts.URL, strings.Repeat("x", 20000)); code != 413 {
		t.Fatalf("over the limit: %d", code)
	}
	if code, _, _ := post(t, ts.URL, strings.Repeat("x", 5000)); code != 200 {
		t.Fatalf("under the limit: %d", code)
	}
}

func TestHealthzNeverWaitsForWorkers(t *testing.T) {
	ts, _, _ := newTestServer(t, map[string]string{"KUBELESS_WORKERS_MIN": "1", "KUBELESS_WORKERS_MAX": "1"})
	go http.Post(ts.URL, "text/plain", strings.NewReader("sleep 1s"))
	time.Sleep(100 * time.Millisecond)
	started := time.Now()
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 || time.Since(started) > 200*time.Millisecond {
		t.Fatalf("healthz while busy: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	_, err := loadConfig(func(k string) string {
		return map[string]string{"FUNC_TIMEOUT": "soon", "KUBELESS_WORKERS_MAX": "1.5", "KUBELESS_WORKERS_MIN": "3"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), `FUNC_TIMEOUT="soon"`) || !strings.Contains(err.Error(), "KUBELESS_WORKERS_MAX") ||
		!strings.Contains(err.Error(), "KUBELESS_WORKERS_MIN=3 is above") {
		t.Fatalf("got %v", err)
	}
	cfg, _ := loadConfig(func(k string) string { return map[string]string{"FUNC_MEMORY_LIMIT": "64Mi"}[k] })
	if cfg.pool.max != 4 || cfg.pool.min != 2 {
		t.Fatalf("64Mi: %d-%d workers", cfg.pool.min, cfg.pool.max)
	}
	cfg, _ = loadConfig(func(k string) string { return map[string]string{"KUBELESS_WORKERS_MAX": "1"}[k] })
	if cfg.pool.max != 1 || cfg.pool.min != 1 {
		t.Fatalf("64Mi: %d-%d workers", cfg.pool.min, cfg.pool.max)
	}
}
