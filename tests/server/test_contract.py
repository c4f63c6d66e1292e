"""The Kubeless runtime contract, over real HTTP against a real server."""

from __future__ import annotations

import json
import time

ECHO = """
import json

def handler(event, context):
    req = event['extensions']['request']
    data = event['data']
    return {
        'data': data if not isinstance(data, bytes) else {'bytes': list(data)},
        'type': type(data).__name__,
        'event-id': event['event-id'], 'event-type': event['event-type'],
        'event-time': event['event-time'], 'event-namespace': event['event-namespace'],
        'context': context,
        'method': req.method, 'path': req.path,
        'query': dict(req.query), 'header': req.get_header('X-Custom'),
    }
"""


def test_get_returns_the_function_string(serve):
    server = serve("def foo(event, context):\n    return 'hello world'\n", handler="foo")
    answer = server.get("/")
    assert answer.status_code == 200
    assert answer.text == "hello world"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_json_post_arrives_parsed_and_object_returns_as_json(serve):
    server = serve(ECHO)
    for content_type in ("application/json", "application/json; charset=utf-8"):
        answer = server.post("/", data=json.dumps({"a": [1, 2]}),
                             headers={"Content-Type": content_type})
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json()["data"] == {"a": [1, 2]}
        assert answer.json()["type"] == "dict"


def test_text_and_binary_bodies_arrive_as_raw_bytes(serve):
    server = serve(ECHO)
    blob = bytes(range(256))
    answer = server.post("/", data=blob, headers={"Content-Type": "application/octet-stream"})
    assert bytes(answer.json()["data"]["bytes"]) == blob
    answer = server.post("/", data="héllo".encode(), headers={"Content-Type": "text/plain"})
    assert bytes(answer.json()["data"]["bytes"]).decode() == "héllo"


def test_event_headers_context_and_request_object(serve):
    server = serve(ECHO, env={"FUNC_NAME": "echo-fn", "FUNC_TIMEOUT": "7"})
    answer = server.get("/some/path?x=1", headers={
        "event-id": "id-1", "event-type": "application/json", "event-time": "2026-11-27T00:00:00Z",
        "event-namespace": "kafkatriggers.kubeless.io", "X-Custom": "yes"}).json()
    assert (answer["event-id"], answer["event-type"], answer["event-namespace"]) == (
        "id-1", "application/json", "kafkatriggers.kubeless.io")
    assert answer["event-time"] == "2026-11-27T00:00:00Z"
    # Kubeless gives the handler's name (func.__name__), not the deployment's (FUNC_NAME)
    assert answer["context"] == {"function-name": "handler", "timeout": "7",
                                 "runtime": "python3.11", "memory-limit": "128Mi"}
    assert answer["path"] == "/some/path" and answer["query"] == {"x": "1"}
    assert answer["header"] == "yes"


def test_multipart_upload_reaches_the_bottle_request(serve):
    server = serve("""
def handler(event, context):
    req = event['extensions']['request']
    upload = req.files.get('file')
    return {'name': upload.filename, 'content': upload.file.read().decode(),
            'field': req.forms.get('field')}
""")
    answer = server.post("/", files={"file": ("notes.txt", b"file body")},
                         data={"field": "value"})
    assert answer.json() == {"name": "notes.txt", "content": "file body", "field": "value"}


def test_any_path_and_method_reaches_the_function(serve):
    server = serve(ECHO)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        answer = server.request(method, "/a/b/c")
        assert answer.status_code == 200, method
        assert answer.json()["method"] == method
        assert answer.json()["path"] == "/a/b/c"


def test_return_types(serve):
    server = serve("""
import bottle

def handler(event, context):
    kind = event['extensions']['request'].query.get('kind')
    if kind == 'bytes':
        return b'\\x00\\x01'
    if kind == 'list':
        return [1, 'two']
    if kind == 'number':
        return 42
    if kind == 'bool':
        return True
    if kind == 'none':
        return None
    if kind == 'response':
        return bottle.HTTPResponse('created', status=201, headers={'X-Made': 'here'})
    if kind == 'abort':
        bottle.abort(404, 'nothing here')
    if kind == 'header':
        bottle.response.set_header('X-Set', 'on-response')
        bottle.response.status = 202
        return 'accepted'
    return 'text'
""")
    assert server.get("/?kind=bytes").content == b"\x00\x01"
    assert server.get("/?kind=list").json() == [1, "two"]
    assert server.get("/?kind=number").json() == 42
    assert server.get("/?kind=bool").json() is True
    none = server.get("/?kind=none")
    assert (none.status_code, none.content) == (200, b"")
    created = server.get("/?kind=response")
    assert (created.status_code, created.text, created.headers["X-Made"]) == (
        201, "created", "here")
    assert created.headers["Access-Control-Allow-Origin"] == "*"
    assert server.get("/?kind=abort").status_code == 404
    accepted = server.get("/?kind=header")
    assert (accepted.status_code, accepted.headers["X-Set"]) == (202, "on-response")


def test_cors_preflight(serve):
    server = serve(ECHO)
    answer = server.request("OPTIONS", "/", headers={
        "Origin": "http://example.test", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"] == "content-type"


def test_exception_gives_500_and_the_server_lives_on(serve):
    server = serve("""
def handler(event, context):
    if event['extensions']['request'].query.get('fail'):
        raise ValueError('boom from the function')
    return 'fine'
""")
    failed = server.get("/?fail=1")
    assert failed.status_code == 500
    assert "ValueError" in failed.text and len(failed.text) < 200
    assert server.get("/").text == "fine"
    assert "boom from the function" in server.stderr()
    assert "Traceback" in server.stderr()


def test_malformed_json_is_400(serve):
    server = serve(ECHO)
    answer = server.post("/", data="{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "JSON" in answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert server.metric("function_calls_total", "POST") == 0, "the function was not called"
    assert server.post("/", json={"ok": True}).json()["data"] == {"ok": True}


def test_body_over_limit_is_413_and_never_reaches_a_worker(serve, tmp_path):
    marker = tmp_path / "called"
    source = f"""
def handler(event, context):
    open({str(marker)!r}, 'a').write('x')
    return 'ok'
"""
    server = serve(source, env={"REQ_MB_LIMIT": "1"})
    assert server.post("/", data=b"x" * 1000).text == "ok"
    marker.unlink()
    big = server.post("/", data=b"x" * (1024 * 1024 + 1))
    assert big.status_code == 413
    assert "REQ_MB_LIMIT" in big.text
    chunked = server.post("/", data=iter([b"y" * 600_000, b"y" * 600_000]))
    assert chunked.status_code == 413
    assert not marker.exists()


def test_func_memfile_max_sets_the_limit_in_bytes(serve):
    server = serve("def handler(event, context):\n    return str(len(event['data']))\n",
                   env={"FUNC_MEMFILE_MAX": "2000"})
    assert server.post("/", data=b"x" * 2000).text == "2000"
    assert server.post("/", data=b"x" * 2001).status_code == 413


def test_every_request_is_logged_in_combined_format(serve):
    server = serve(ECHO)
    server.get("/logged/path")
    server.post("/other", data="x")
    time.sleep(0.2)
    lines = server.stdout().splitlines()
    get = [line for line in lines if '"GET /logged/path HTTP/1.1" 200' in line]
    post = [line for line in lines if '"POST /other HTTP/1.1" 200' in line]
    assert get and post
    assert "/20" in get[0] and "[" in get[0]


def test_metrics_count_calls_failures_and_durations_per_method(serve):
    server = serve("""
def handler(event, context):
    if event['extensions']['request'].query.get('fail'):
        raise RuntimeError('counted')
    return 'ok'
""")
    before = {name: {m: server.metric(name, m) for m in ("GET", "POST")}
              for name in ("function_calls_total", "function_failures_total",
                           "function_duration_seconds_count")}
    for _ in range(3):
        server.get("/")
    server.get("/?fail=1")
    server.post("/", data="x")
    after = {name: {m: server.metric(name, m) for m in ("GET", "POST")} for name in before}
    assert after["function_calls_total"]["GET"] - before["function_calls_total"]["GET"] == 4
    assert after["function_calls_total"]["POST"] - before["function_calls_total"]["POST"] == 1
    assert after["function_failures_total"]["GET"] - before["function_failures_total"]["GET"] == 1
    assert after["function_failures_total"]["POST"] == before["function_failures_total"]["POST"]
    assert (after["function_duration_seconds_count"]["GET"]
            - before["function_duration_seconds_count"]["GET"]) == 4
    text = server.get("/metrics").text
    assert 'function_duration_seconds_bucket{le="0.005",method="GET"}' in text


def test_healthz_is_200(serve):
    server = serve(ECHO)
    answer = server.get("/healthz")
    assert answer.status_code == 200
    assert server.metric("function_calls_total", "GET") == 0
