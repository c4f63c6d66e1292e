"""How fast and how robust is the runtime beside the servers it could have been? One run says.

The runtime puts routing, request logging, metrics and a round trip to a
worker process (for hard timeouts) in front of every call. This drives, with
the same load generator over loopback:

* ``bare``: bare cheroot serving a constant (the thread-per-request reference);
* ``bare-uvicorn`` / ``bare-granian``: a raw ASGI app serving a constant on
  uvicorn (httptools, uvloop: what the runtime runs on) and on granian;
* ``ff``: Google's Functions Framework started as documented (``functions-framework
  --target``, which serves on gunicorn), the same two functions;
* ``python``: ours, hard timeouts on (``FUNC_TIMEOUT=3``).

Targets without their package installed (``pip install -r benchmarks/requirements.txt``)
are skipped with a note. It also measures start-up to the first 200 on /healthz,
memory after load (main process plus forkserver and workers) and two robustness
figures: the slowest ``/healthz`` while every worker runs a sleeping call, and a
good call's latency beside 200 clients that send their request head a byte at a
time. It prints PASS/FAIL against the targets:

* at 10 and 64 connections, ours >= bare cheroot's requests/s and >= 2x Functions
  Framework's; p99 < 10 ms at 10 connections;
* start-up < 0.5 s; slowest /healthz < 50 ms; good call beside slow clients < 100 ms.

Load comes from wrk when installed, otherwise from a bounded Python generator
(slower than wrk, and competing with the servers for the CPUs, so its figures
are lower). Targets are interleaved per connection count so that a noisy
neighbour hits both sides of a ratio alike; the 1-minute load average is
printed at start and end to judge the noise. Memory is VmRSS, which counts
pages the forked workers share once per process, so PSS is printed beside it.
``--extra NAME=URL`` adds an already running server (e.g. the Node runtime
published on 127.0.0.1), GET only; one that does not answer is skipped.

    python benchmarks/bench.py [--duration 5] [--connections 1,10,64]
        [--only python,bare,bare-uvicorn,bare-granian,ff,NAME] [--extra NAME=URL]
        [--loadgen auto|wrk|python] [--json out.json] [--no-robustness]

Exits 0 whatever the figures; non-zero only if something crashed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ECHO_SOURCE = "def handler(event, context):\n    return event['data']\n"
BODY = json.dumps({"data": "x" * (1024 - len('{"data": ""}'))})  # exactly 1 KiB
assert len(BODY) == 1024
WARMUP = 1.0
TARGET_RATIO = 1.0
TARGET_FF_RATIO = 2.0
TARGET_P99_MS = 10.0
TARGET_STARTUP_MS = 500.0
TARGET_HEALTHZ_MS = 50.0
TARGET_SLOW_CLIENTS_MS = 100.0
SLEEP_SOURCE = ("import time\n\ndef handler(event, context):\n"
                "    time.sleep(float(event['extensions']['request'].query.get('s', '0')))\n"
                "    return 'slept'\n")
FF_SOURCE = ("def handler(request):\n"
             "    return request.get_data() or 'hello world'\n")


class Crash(RuntimeError):
    """A process this benchmark depends on died or never came up."""


# -- processes ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get_status(port: int, path: str = "/healthz", timeout: float = 1.0) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


class Proc:
    """A server subprocess in its own session, so it can be stopped with all its descendants."""

    def __init__(self, name: str, argv: list, port: int, env: dict | None = None) -> None:
        self.name, self.port = name, port
        self.log = tempfile.TemporaryFile()
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=self.log,
                                      start_new_session=True)

    def wait_ready(self, path: str, deadline: float = 15.0) -> float:
        """Poll ``path`` every 10 ms until 200; return ms since spawn."""
        for _ in range(int(deadline / 0.01)):
            if self.popen.poll() is not None:
                raise Crash(f"{self.name} exited with {self.popen.returncode}:\n{self.stderr()}")
            try:
                if get_status(self.port, path, timeout=0.5) == 200:
                    return (time.perf_counter() - self.started) * 1000
            except OSError:
                pass
            time.sleep(0.01)
        raise Crash(f"{self.name} gave no 200 on {path} within {deadline}s:\n{self.stderr()}")

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise Crash(f"{self.name} died (exit {self.popen.returncode}):\n{self.stderr()}")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:].decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM the main process (graceful), then SIGKILL its whole process group."""
        pgid = self.popen.pid  # start_new_session: pgid == pid
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(pgid, signal.SIGKILL)  # strays: workers, forkserver, resource tracker
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


def start_ours(name: str, fn_file: Path, handler: str, port: int) -> Proc:
    argv = [sys.executable, "-m", "kubeless_runtime", "serve", "--from-file", str(fn_file),
            "--handler", handler, "--host", HOST, "--port", str(port), "--timeout", "3"]
    return Proc(name, argv, port, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def start_bare(port: int) -> Proc:
    return Proc("bare", [sys.executable, str(ROOT / "benchmarks" / "bare_cheroot.py"),
                         str(port)], port)


def start_bare_asgi(server: str, port: int) -> Proc:
    return Proc(f"bare-{server}", [sys.executable, str(ROOT / "benchmarks" / "bare_asgi.py"),
                                   server, str(port)], port,
                env={**os.environ, "PYTHONPATH": str(ROOT / "benchmarks")})


def start_ff(source: Path, port: int) -> Proc:
    """Functions Framework's documented start; on Linux it serves with gunicorn (gthread)."""
    cli = Path(sys.executable).parent / "functions-framework"
    return Proc("ff", [str(cli), "--target", "handler", "--source", str(source),
                       "--host", HOST, "--port", str(port)], port)


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _children(pid: int) -> list:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pid: int) -> dict:
    """RSS of ``pid`` and all descendants; depth 1 are helpers (forkserver, resource tracker),
    deeper ones are workers (children of the forkserver)."""
    main_kb, helpers_kb, workers_kb, workers = _rss_kb(pid), 0, 0, 0
    pss_kb = _pss_kb(pid)
    level, depth, seen = _children(pid), 1, {pid}
    while level and depth < 10:
        nxt = []
        for child in level:
            if child in seen:
                continue
            seen.add(child)
            pss_kb += _pss_kb(child)
            if depth == 1:
                helpers_kb += _rss_kb(child)
            else:
                workers_kb += _rss_kb(child)
                workers += 1
            nxt += _children(child)
        level, depth = nxt, depth + 1
    total = main_kb + helpers_kb + workers_kb
    return {"main_mb": main_kb / 1024, "helpers_mb": helpers_kb / 1024, "workers": workers,
            "workers_mb": workers_kb / 1024, "total_mb": total / 1024, "pss_mb": pss_kb / 1024,
            "processes": len(seen)}


# -- load generators ---------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def run_wrk(url: str, method: str, conns: int, duration: float, script: Path) -> dict:
    argv = ["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{duration:g}s", "--latency"]
    if method == "POST":
        argv += ["-s", str(script)]
    done = subprocess.run(argv + [url], capture_output=True, text=True, timeout=duration + 30)
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done.returncode != 0 or not rps:
        raise Crash(f"wrk failed ({done.returncode}): {out}{done.stderr}")
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": float(rps.group(1)), "p50_ms": _ms(pct["50"]), "p99_ms": _ms(pct["99"]),
            "requests": int(total.group(1)) if total else 0,
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def run_python(url: str, method: str, conns: int, duration: float,
               max_per_conn: int = 200_000) -> dict:
    """``conns`` threads, each a keep-alive http.client connection; bounded by time and count."""
    parts = urlsplit(url)
    path = parts.path or "/"
    headers = {"Content-Type": "application/json"} if method == "POST" else {}
    body = BODY.encode() if method == "POST" else None
    latencies: list = []
    errors = [0]
    lock = threading.Lock()
    start = time.perf_counter()
    stop_at = start + duration

    def client() -> None:
        mine, bad = [], 0
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        for _ in range(max_per_conn):
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                continue
            mine.append((time.perf_counter() - t0) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, daemon=True) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 15)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return {"rps": len(latencies) / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "requests": len(latencies), "errors": errors[0]}


# -- robustness -------------------------------------------------------------------------------

def _timed_get(port: int, path: str, timeout: float = 5.0) -> float:
    started = time.perf_counter()
    status = get_status(port, path, timeout)
    if status != 200:
        raise Crash(f"GET {path} answered {status}")
    return (time.perf_counter() - started) * 1000


def healthz_while_busy(source: Path, procs: list, calls: int = 12) -> dict:
    """Slowest /healthz while ``calls`` sleeping calls (more than the 10 workers) are in flight."""
    port = free_port()
    proc = start_ours("python-sleep", source, "sleeper.handler", port)
    procs.append(proc)
    proc.wait_ready("/healthz")
    callers = [threading.Thread(target=get_status, args=(port, "/?s=2.5", 10), daemon=True)
               for _ in range(calls)]
    for thread in callers:
        thread.start()
    time.sleep(0.3)
    latencies = []
    for _ in range(100):
        latencies.append(_timed_get(port, "/healthz"))
        time.sleep(0.015)
    for thread in callers:
        thread.join(10)
    proc.stop()
    procs.remove(proc)
    latencies.sort()
    return {"calls_in_flight": calls, "samples": len(latencies), "max_ms": latencies[-1],
            "p50_ms": latencies[len(latencies) // 2]}


def beside_slow_clients(port: int, clients: int = 200, seconds: float = 3.0) -> dict:
    """A good call's latency while ``clients`` connections send their head a byte at a time."""
    slow = []
    try:
        for _ in range(clients):
            sock = socket.create_connection((HOST, port), timeout=2)
            sock.sendall(b"GET / HTTP/1.1\r\n")
            slow.append(sock)
        latencies = []
        deadline = time.monotonic() + seconds
        next_drip = 0.0
        while time.monotonic() < deadline and len(latencies) < 1000:
            if time.monotonic() >= next_drip:
                for sock in slow:
                    try:
                        sock.sendall(b"X")
                    except OSError:
                        pass
                next_drip = time.monotonic() + 0.5
            latencies.append(_timed_get(port, "/"))
            time.sleep(0.02)
    finally:
        for sock in slow:
            sock.close()
    latencies.sort()
    return {"slow_clients": clients, "samples": len(latencies), "max_ms": latencies[-1],
            "p50_ms": latencies[len(latencies) // 2]}


# -- the run -----------------------------------------------------------------------------------

def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def parse_args(argv: list | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    p.add_argument("--connections", default="1,10,64", help="comma-separated, e.g. 1,10,64")
    p.add_argument("--only", default="", help="comma-separated targets: python,bare,EXTRA...")
    p.add_argument("--extra", action="append", default=[], metavar="NAME=URL",
                   help="an already-running server on 127.0.0.1, measured with GET")
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--json", metavar="FILE", help="also write all results as JSON")
    p.add_argument("--no-robustness", action="store_true",
                   help="skip the /healthz-while-busy and slow-client figures")
    args = p.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    if not args.connections or min(args.connections) < 1 or args.duration <= 0:
        p.error("--connections needs positive integers and --duration a positive number")
    args.only = {t.strip() for t in args.only.split(",") if t.strip()}
    extras = {}
    for item in args.extra:
        name, sep, url = item.partition("=")
        if not sep or urlsplit(url).hostname != HOST or not urlsplit(url).port:
            p.error(f"--extra {item!r}: write NAME=http://127.0.0.1:PORT/PATH (loopback only)")
        extras[name] = url
    args.extra = extras
    if args.loadgen == "wrk" and not shutil.which("wrk"):
        p.error("--loadgen wrk: wrk is not on PATH")
    return args


def fmt_row(cols: list, widths: list) -> str:
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                     for i, (c, w) in enumerate(zip(cols, widths)))


def main(argv: list | None = None) -> int:
    args = parse_args(argv)

    def want(name: str) -> bool:
        return not args.only or name in args.only

    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and shutil.which("wrk"))
    print(f"kubeless-runtime benchmark  python {sys.version.split()[0]}  cpus {os.cpu_count()}  "
          f"loadgen {'wrk' if use_wrk else 'python (in-process threads)'}  "
          f"duration {args.duration:g}s (+{WARMUP:g}s warm-up)  connections {args.connections}")
    print(f"load average (1 min) at start: {loadavg()}")
    results = {"load_start": float(loadavg()), "runs": [], "startup_ms": [], "memory": {}}
    procs: list = []
    tmp = Path(tempfile.mkdtemp(prefix="kubeless-bench-"))
    try:
        (tmp / "echo.py").write_text(ECHO_SOURCE)
        script = tmp / "post.lua"
        script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\n'
                          'wrk.headers["Content-Type"] = "application/json"\n')
        helloget = ROOT / "examples" / "python" / "helloget.py"

        if want("python"):  # start-up first, on a quiet machine (as far as we are concerned)
            for _ in range(3):
                proc = start_ours("python-startup", helloget, "helloget.foo", free_port())
                procs.append(proc)
                results["startup_ms"].append(proc.wait_ready("/healthz"))
                proc.stop()
                procs.remove(proc)

        targets = {}  # name -> {method: url}
        if want("bare"):
            port = free_port()
            procs.append(start_bare(port))
            procs[-1].wait_ready("/")
            url = f"http://{HOST}:{port}/"
            targets["bare"] = {"GET": url, "POST": url}
        for server in ("uvicorn", "granian"):
            if want(f"bare-{server}"):
                if not installed(server):
                    print(f"skipping bare-{server}: {server} is not installed")
                    continue
                port = free_port()
                procs.append(start_bare_asgi(server, port))
                procs[-1].wait_ready("/")
                url = f"http://{HOST}:{port}/"
                targets[f"bare-{server}"] = {"GET": url, "POST": url}
        if want("ff"):
            if installed("functions_framework") and installed("gunicorn"):
                (tmp / "ff_main.py").write_text(FF_SOURCE)
                port = free_port()
                procs.append(start_ff(tmp / "ff_main.py", port))
                procs[-1].wait_ready("/")
                url = f"http://{HOST}:{port}/"
                targets["ff"] = {"GET": url, "POST": url}
            else:
                print("skipping ff: functions-framework and gunicorn are not installed")
        if want("python"):
            get_port, post_port = free_port(), free_port()
            procs.append(start_ours("python-GET", helloget, "helloget.foo", get_port))
            procs.append(start_ours("python-POST", tmp / "echo.py", "echo.handler", post_port))
            for proc in procs[-2:]:
                proc.wait_ready("/healthz")
            targets["python"] = {"GET": f"http://{HOST}:{get_port}/",
                                 "POST": f"http://{HOST}:{post_port}/"}
        for name, url in args.extra.items():
            if not want(name):
                continue
            parts = urlsplit(url)
            try:
                get_status(parts.port, parts.path or "/", timeout=2)
                targets[name] = {"GET": url}
            except OSError as exc:
                print(f"skipping --extra {name}: {url} does not answer ({exc})")

        for method in ("GET", "POST"):
            for conns in args.connections:
                for name, urls in targets.items():
                    if method not in urls:
                        continue
                    url = urls[method]
                    if use_wrk:
                        run_wrk(url, method, conns, WARMUP, script)
                        r = run_wrk(url, method, conns, args.duration, script)
                    else:
                        run_python(url, method, conns, WARMUP)
                        r = run_python(url, method, conns, args.duration)
                    r.update(target=name, method=method, connections=conns)
                    results["runs"].append(r)
                    print(f"  measured {name:<12} {method:<4} c={conns:<3} "
                          f"{r['rps']:9.0f} req/s", flush=True)
                for proc in procs:
                    proc.check_alive()

        for proc in procs:
            results["memory"][proc.name] = memory(proc.popen.pid)
        if want("python") and not args.no_robustness:
            (tmp / "sleeper.py").write_text(SLEEP_SOURCE)
            results["healthz_busy"] = healthz_while_busy(tmp / "sleeper.py", procs)
            results["slow_clients"] = beside_slow_clients(urlsplit(targets["python"]["GET"]).port)
        results["load_end"] = float(loadavg())
        report(results, targets)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
            print(f"results written to {args.json}")
        return 0
    except Crash as exc:
        print(f"CRASH: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for proc in procs:
            proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def report(results: dict, targets: dict) -> None:
    runs = results["runs"]
    bare = {(r["method"], r["connections"]): r for r in runs if r["target"] == "bare"}
    ff = {(r["method"], r["connections"]): r for r in runs if r["target"] == "ff"}
    widths = [12, 6, 11, 10, 8, 8, 7, 9, 7]
    print()
    print(fmt_row(["target", "method", "connections", "req/s", "p50 ms", "p99 ms", "errors",
                   "vs bare", "vs ff"], widths))
    for r in runs:
        key = (r["method"], r["connections"])
        ref, ffr = bare.get(key), ff.get(key)
        ratio = f"{r['rps'] / ref['rps']:.0%}" if ref and r["target"] != "bare" else ""
        ff_ratio = f"{r['rps'] / ffr['rps']:.1f}x" if ffr and r["target"] != "ff" else ""
        print(fmt_row([r["target"], r["method"], r["connections"], f"{r['rps']:.0f}",
                       f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", r["errors"], ratio, ff_ratio],
                      widths))

    if results["memory"]:
        print("\nmemory after load (MB; helpers = forkserver + resource tracker):")
        for name, m in results["memory"].items():
            print(f"  {name:<12} main {m['main_mb']:5.1f} + helpers {m['helpers_mb']:5.1f} + "
                  f"{m['workers']:2d} workers {m['workers_mb']:6.1f} = {m['total_mb']:6.1f} MB RSS"
                  f"  (PSS {m['pss_mb']:6.1f} MB)")

    checks = []
    startup = results["startup_ms"]
    if startup:
        med = statistics.median(startup)
        results["startup_median_ms"] = med
        print(f"\nstart-up to first 200 on /healthz: median {med:.0f} ms "
              f"(runs: {', '.join(f'{s:.0f}' for s in startup)} ms)")
        checks.append((f"start-up median < {TARGET_STARTUP_MS:.0f} ms", f"{med:.0f} ms",
                       med < TARGET_STARTUP_MS))
    busy = results.get("healthz_busy")
    if busy:
        print(f"/healthz with {busy['calls_in_flight']} sleeping calls in flight: "
              f"p50 {busy['p50_ms']:.2f} ms, slowest {busy['max_ms']:.2f} ms "
              f"({busy['samples']} probes)")
        checks.append((f"slowest /healthz, workers busy < {TARGET_HEALTHZ_MS:g} ms",
                       f"{busy['max_ms']:.2f} ms", busy["max_ms"] < TARGET_HEALTHZ_MS))
    slow = results.get("slow_clients")
    if slow:
        print(f"good GET beside {slow['slow_clients']} slow-header clients: "
              f"p50 {slow['p50_ms']:.2f} ms, slowest {slow['max_ms']:.2f} ms "
              f"({slow['samples']} calls)")
        checks.append((f"good call beside slow clients < {TARGET_SLOW_CLIENTS_MS:g} ms",
                       f"{slow['max_ms']:.2f} ms", slow["max_ms"] < TARGET_SLOW_CLIENTS_MS))
    for method in ("GET", "POST"):
        for conns in (10, 64):
            ours = [r for r in runs if r["target"] == "python" and r["method"] == method
                    and r["connections"] == conns]
            if not ours:
                continue
            ref, ffr = bare.get((method, conns)), ff.get((method, conns))
            if ref:
                ratio = ours[0]["rps"] / ref["rps"]
                checks.append((f"{method} c={conns} req/s >= bare cheroot's", f"{ratio:.0%}",
                               ratio >= TARGET_RATIO))
            if ffr:
                ratio = ours[0]["rps"] / ffr["rps"]
                checks.append((f"{method} c={conns} req/s >= {TARGET_FF_RATIO:g}x ff's",
                               f"{ratio:.1f}x", ratio >= TARGET_FF_RATIO))
            if conns == 10:
                p99 = ours[0]["p99_ms"]
                checks.append((f"{method} c=10 p99 < {TARGET_P99_MS:g} ms", f"{p99:.2f} ms",
                               p99 < TARGET_P99_MS))
    if "python" in targets and 10 not in {r["connections"] for r in runs}:
        print("\n(10 connections not measured: throughput/latency targets not checked)")
    if checks:
        print("\ntargets:")
        for label, value, ok in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {label:<42} {value}")
    results["checks"] = [{"target": t, "value": v, "pass": ok} for t, v, ok in checks]
    print(f"\nload average (1 min) at end: {results['load_end']:.2f} "
          f"(start {results['load_start']:.2f}; {os.cpu_count()} cpus)")


def _sigterm(*_: object) -> None:
    raise KeyboardInterrupt  # run the finally that stops our servers


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the servers it started are stopped", file=sys.stderr)
        sys.exit(130)
