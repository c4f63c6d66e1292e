"""Start the real runtime as a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, Optional

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    def __init__(self, process: subprocess.Popen, port: int, out: Path, err: Path,
                 folder: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.out = out
        self.err = err
        self.folder = folder

    def get(self, path: str = "/", **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.get(self.url + path, **kwargs)

    def post(self, path: str = "/", **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.post(self.url + path, **kwargs)

    def request(self, method: str, path: str = "/", **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.url + path, **kwargs)

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def metric(self, name: str, method: str) -> float:
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(f'{name}{{method="{method}"}} '):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self) -> Optional[int]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_server(tmp_path: Path, source: str, handler: str = "handler",
                 env: Optional[Dict[str, str]] = None, module: str = "func",
                 wait: bool = True) -> RunningServer:
    folder = tmp_path / "kubeless"
    folder.mkdir(exist_ok=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    port = free_port()
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("FUNC_", "KUBELESS_", "MOD_NAME", "REQ_MB"))}
    full_env.update({
        "MOD_NAME": module, "FUNC_HANDLER": handler, "FUNC_PORT": str(port),
        "KUBELESS_INSTALL_VOLUME": str(folder), "FUNC_TIMEOUT": "5",
        "FUNC_RUNTIME": "python3.11", "FUNC_MEMORY_LIMIT": "128Mi",
        "KUBELESS_TERMINATION_LOG": str(tmp_path / "termination-log"),
        "PYTHONUNBUFFERED": "1",
    })
    full_env.update(env or {})
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    process = subprocess.Popen([sys.executable, "-m", "kubeless_runtime"], env=full_env,
                               stdout=out.open("w"), stderr=err.open("w"))
    server = RunningServer(process, port, out, err, folder)
    if not wait:
        return server
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {server.stderr()}")
        try:
            if requests.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"server did not answer /healthz within 20 s: {server.stderr()}")


@pytest.fixture
def serve(tmp_path):
    """``serve(source, handler=..., env=...)`` starts a runtime; all are stopped at the end."""
    servers = []

    def factory(source: str, **kwargs) -> RunningServer:
        server = start_server(tmp_path, source, **kwargs)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()
