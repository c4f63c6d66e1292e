// Package protocol is what kubeless-server and its worker processes say to each other
// over a pair of pipes: one Request frame in, one Reply frame out, per call.
//
// A frame is a 4-byte big-endian length and a payload of uvarint-prefixed fields. It is
// hand-written rather than gob or JSON because it is on every call's path: one
// allocation per frame, no reflection.
package protocol

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxFrame bounds a frame, so a corrupt length cannot make a reader allocate gigabytes.
const MaxFrame = 1 << 30

// Request is one call handed to a worker.
type Request struct {
	Deadline   int64 // Unix nanoseconds: FUNC_TIMEOUT after the request arrived
	Method     string
	URI        string // the request line's target, e.g. /path?q=1
	Proto      string
	Host       string
	RemoteAddr string
	Header     http.Header
	Body       []byte
}

// Kind says what a Reply is.
type Kind byte

const (
	Ready    Kind = iota // the worker loaded the function and waits for calls
	Answer               // the function returned: Status, Header, Body
	Failed               // the function returned an error: Message
	Panicked             // the function panicked: Message holds the panic and the stack
	TimedOut             // the function returned after its context's deadline
)

// Reply is a worker's answer to one Request (or its Ready announcement).
type Reply struct {
	Kind    Kind
	Status  int
	Header  http.Header
	Body    []byte
	Message string
}

// ErrFrame reports a malformed frame.
var ErrFrame = errors.New("protocol: malformed frame")

type encoder struct{ buf []byte }

func (e *encoder) uint(v uint64)   { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) bytes(b []byte)  { e.uint(uint64(len(b))); e.buf = append(e.buf, b...) }
func (e *encoder) string(s string) { e.uint(uint64(len(s))); e.buf = append(e.buf, s...) }

func (e *encoder) header(h http.Header) {
	e.uint(uint64(len(h)))
	for name, values := range h {
		e.string(name)
		e.uint(uint64(len(values)))
		for _, v := range values {
			e.string(v)
		}
	}
}

func frame(w *bufio.Writer, fill func(*encoder), sizeHint int) error {
	e := encoder{buf: make([]byte, 4, 4+sizeHint+256)}
	fill(&e)
	binary.BigEndian.PutUint32(e.buf, uint32(len(e.buf)-4))
	if _, err := w.Write(e.buf); err != nil {
		return err
	}
	return w.Flush()
}

// WriteRequest sends r as one frame and flushes w.
func WriteRequest(w *bufio.Writer, r *Request) error {
	return frame(w, func(e *encoder) {
		e.uint(uint64(r.Deadline))
		e.string(r.Method)
		e.string(r.URI)
		e.string(r.Proto)
		e.string(r.Host)
		e.string(r.RemoteAddr)
		e.header(r.Header)
		e.bytes(r.Body)
	}, len(r.Body))
}

// WriteReply sends r as one frame and flushes w.
func WriteReply(w *bufio.Writer, r *Reply) error {
	return frame(w, func(e *encoder) {
		e.uint(uint64(r.Kind))
		e.uint(uint64(r.Status))
		e.header(r.Header)
		e.bytes(r.Body)
		e.string(r.Message)
	}, len(r.Body)+len(r.Message))
}

type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = ErrFrame
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.buf)) {
		d.err = ErrFrame
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) header() http.Header {
	n := d.uint()
	if n > uint64(len(d.buf)) {
		d.err = ErrFrame
		return nil
	}
	h := make(http.Header, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.string()
		count := d.uint()
		if count > uint64(len(d.buf)) {
			d.err = ErrFrame
			break
		}
		values := make([]string, 0, count)
		for j := uint64(0); j < count && d.err == nil; j++ {
			values = append(values, d.string())
		}
		h[name] = values
	}
	return h
}

func readFrame(r *bufio.Reader) (*decoder, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err // io.EOF: the other side closed the pipe between frames
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes", ErrFrame, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return &decoder{buf: buf}, nil
}

// ReadRequest reads one Request frame; io.EOF means the server closed the pipe.
func ReadRequest(r *bufio.Reader) (*Request, error) {
	d, err := readFrame(r)
	if err != nil {
		return nil, err
	}
	req := &Request{
		Deadline:   int64(d.uint()),
		Method:     d.string(),
		URI:        d.string(),
		Proto:      d.string(),
		Host:       d.string(),
		RemoteAddr: d.string(),
		Header:     d.header(),
		Body:       d.bytes(),
	}
	return req, d.err
}

// ReadReply reads one Reply frame; io.EOF means the worker exited.
func ReadReply(r *bufio.Reader) (*Reply, error) {
	d, err := readFrame(r)
	if err != nil {
		return nil, err
	}
	rep := &Reply{
		Kind:    Kind(d.uint()),
		Status:  int(d.uint()),
		Header:  d.header(),
		Body:    d.bytes(),
		Message: d.string(),
	}
	return rep, d.err
}
