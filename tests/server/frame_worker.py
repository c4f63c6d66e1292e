"""A worker in "another language" for the tests: plain Python speaking only WORKER_PROTOCOL.md.

It loads no function: MOD_NAME "broken" answers load-error; a call's body says what to do
(``sleep N``, ``exit``, ``raise``, ``json``; anything else is echoed with the event fields).
"""

import json
import os
import socket
import struct
import sys
import time

PREFIX = struct.Struct("!II")


def read_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame(sock):
    head, size = PREFIX.unpack(read_exactly(sock, PREFIX.size))
    return json.loads(read_exactly(sock, head)), read_exactly(sock, size)


def write_frame(sock, header, body=b""):
    data = json.dumps(header).encode()
    sock.sendall(PREFIX.pack(len(data), len(body)) + data + body)


def main():
    sock = socket.socket(fileno=int(os.environ["KUBELESS_WORKER_FD"]))
    load, _ = read_frame(sock)
    if load["module"] == "broken":
        write_frame(sock, {"type": "load-error",
                           "message": f"{load['function_dir']}/broken.x line 3: broken on purpose"})
        return
    write_frame(sock, {"type": "ready", "pid": os.getpid()})
    while True:
        try:
            header, body = read_frame(sock)
        except EOFError:
            return
        if header["type"] == "stop":
            return
        if body.startswith(b"sleep"):
            time.sleep(float(body[5:]))
            print(f"slept {body[5:].decode()}", flush=True)
        if body == b"exit":
            os._exit(3)
        if body == b"raise":
            write_frame(sock, {"type": "error", "message": "RuntimeError: asked to",
                               "traceback": "Traceback: asked to raise"})
            continue
        if body == b"bad":
            write_frame(sock, {"type": "bad-request", "message": "Malformed JSON body"})
            continue
        answer = {"pid": os.getpid(), "method": header["method"], "path": header["path"],
                  "query": header["query"], "event": header["event"], "context": load["context"],
                  "headers": header["headers"], "body": body.decode("latin-1")}
        headers = [["Content-Type", "application/json"], ["X-Worker", "frames"]]
        write_frame(sock, {"type": "reply", "status": 201, "headers": headers},
                    json.dumps(answer).encode())


if __name__ == "__main__":
    sys.exit(main())
