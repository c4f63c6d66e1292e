package protocol

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	req := &Request{Deadline: 1234567890123, Method: "POST", URI: "/a?b=c", Proto: "HTTP/1.1",
		Host: "h", RemoteAddr: "1.2.3.4:5", Header: http.Header{"A": {"1", "2"}},
		Body: []byte{0, 255, 'x'}}
	rep := &Reply{Kind: Answer, Status: 201, Header: http.Header{"Content-Type": {"x/y"}},
		Body: []byte("body"), Message: "m"}
	if err := WriteRequest(w, req); err != nil {
		t.Fatal(err)
	}
	if err := WriteReply(w, rep); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&buf)
	gotReq, err := ReadRequest(r)
	if err != nil || !reflect.DeepEqual(gotReq, req) {
		t.Fatalf("request: %+v %v", gotReq, err)
	}
	gotRep, err := ReadReply(r)
	if err != nil || !reflect.DeepEqual(gotRep, rep) {
		t.Fatalf("reply: %+v %v", gotRep, err)
	}
	if _, err := ReadReply(r); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
}

func TestMalformedFrames(t *testing.T) {
	for _, data := range [][]byte{{0, 0, 0, 2, 0xff, 0xff}, {0, 0, 0, 3, 1, 1, 9}, {0xff, 0, 0, 0}} {
		if _, err := ReadReply(bufio.NewReader(bytes.NewReader(data))); err == nil {
			t.Errorf("%v: no error", data)
		}
	}
}
