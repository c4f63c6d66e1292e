package main

import "io"

// batchWriter writes access-log lines from one goroutine, joining the lines that queue
// up while a write is in progress: one write per batch instead of one per request under
// load, none delayed when idle.
type batchWriter struct {
	lines chan []byte
	done  chan struct{}
}

func newBatchWriter(out io.Writer) *batchWriter {
	b := &batchWriter{lines: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		var buf []byte
		for line := range b.lines {
			buf = append(buf[:0], line...)
		more:
			for len(buf) < 64<<10 {
				select {
				case next, ok := <-b.lines:
					if !ok {
						break more
					}
					buf = append(buf, next...)
				default:
					break more
				}
			}
			out.Write(buf)
		}
	}()
	return b
}

func (b *batchWriter) Write(p []byte) (int, error) {
	b.lines <- append([]byte(nil), p...)
	return len(p), nil
}

// close writes what is queued and stops.
func (b *batchWriter) close() {
	close(b.lines)
	<-b.done
}
