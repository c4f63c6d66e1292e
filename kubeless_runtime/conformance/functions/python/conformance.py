"""The conformance suite's function for Python runtimes (Kubeless style: handler(event, context)).

`kubeless-runtime conformance` deploys this file into the image under test and drives it over
HTTP.  What it does depends on the request, so one deployment serves every case:

- no body (a GET): returns GREETING;
- a raw body (text or bytes): returns it unchanged, so the suite sees whether it arrived intact;
- a JSON object without a "conformance" key: returns {"echo": data, "type": ...};
- a JSON object {"conformance": COMMAND, ...}: runs COMMAND (see COMMANDS below).

It is plain Python 3.6+ with no dependency (the "deps" command imports the one the installation
phase installs), so it loads in any Python runtime.
"""

import os
import re
import sys
import time

GREETING = "kubeless-conformance: hello from the function"
MARKER_DIR = "/tmp"
_TOKEN = re.compile(r"^[0-9a-f]{6,64}$")


def _type_name(value):
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


def _is_empty(data):
    return data is None or (isinstance(data, (bytes, bytearray, str, dict, list)) and not data)


def _where(data, event, context):
    return {"file": os.path.abspath(__file__), "module": __name__,
            "install_volume": os.environ.get("KUBELESS_INSTALL_VOLUME", "")}


def _event(data, event, context):
    fields = ("event-id", "event-type", "event-time", "event-namespace")
    return {"event": {name: event.get(name) for name in fields}, "type": _type_name(data)}


def _context(data, event, context):
    fields = ("function-name", "timeout", "runtime", "memory-limit")
    getter = context.get if isinstance(context, dict) else (lambda k: getattr(context, k, None))
    return {"context": {name: getter(name) for name in fields}}


def _raise(data, event, context):
    raise RuntimeError("kubeless-conformance: a deliberate exception (the 500 case)")


def _sleep(data, event, context):
    seconds = float(data.get("seconds", 1))
    time.sleep(seconds)
    return {"slept": seconds}


def _mark(token, stage):
    """Leave the side effect the timeout case looks for: a stdout line and a file in /tmp."""
    print(f"kubeless-conformance {stage} {token}")
    sys.stdout.flush()
    try:
        with open(os.path.join(MARKER_DIR, f"kubeless-conformance-{token}.{stage}"),
                  "w") as handle:
            handle.write(stage)
    except OSError:
        pass


def _late(data, event, context):
    token = str(data.get("token", ""))
    if not _TOKEN.match(token):
        raise ValueError("token must be 6-64 lowercase hex digits")
    _mark(token, "start")
    time.sleep(float(data.get("seconds", 5)))
    _mark(token, "done")
    return "kubeless-conformance: finished after the deadline"


def _deps(data, event, context):
    import six

    return {"name": "six", "version": six.__version__, "file": os.path.abspath(six.__file__)}


COMMANDS = {"where": _where, "event": _event, "context": _context, "raise": _raise,
            "sleep": _sleep, "late": _late, "deps": _deps}


def handler(event, context):
    data = event.get("data") if isinstance(event, dict) else None
    if isinstance(data, dict) and "conformance" in data:
        command = COMMANDS.get(data["conformance"])
        if command is None:
            raise ValueError(f"unknown conformance command {data['conformance']!r}")
        return command(data, event, context)
    if _is_empty(data):
        return GREETING
    if isinstance(data, (bytes, bytearray, str)):
        return data
    return {"echo": data, "type": _type_name(data)}
