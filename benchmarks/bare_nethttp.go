// The ceiling for a Go HTTP server on this machine: bare net/http answering "hello",
// none of the Go runtime's work (no access log, metrics, worker processes). Build it with
// the Go of the runtime under test and pass it to bench.py with --extra:
//
//	docker run --rm -v "$PWD/benchmarks:/src" -w /src -e GOCACHE=/tmp/c kubeless-runtime/go-init:1.24 \
//	    go build -o /src/bare-nethttp bare_nethttp.go
//	benchmarks/bare-nethttp 127.0.0.1:PORT &
//	python benchmarks/bench.py --only python --extra go1.24=http://127.0.0.1:GOPORT/ \
//	    --extra bare-go=http://127.0.0.1:PORT/
package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
	})
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		panic(err)
	}
}
