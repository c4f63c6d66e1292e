"""How much does the runtime cost over the fastest Python server it could be? One run says.

The runtime puts routing, request logging, metrics and a round trip to a
worker process (for hard timeouts) in front of every call. This compares it
with a bare cheroot "hello" app -- same server, threads and queue, none of that
work -- driven by the same load generator over loopback, so the ratio between
the two is the price of those features on this machine. It also measures
start-up to the first 200 on /healthz and memory after load (main process plus
forkserver and workers), and prints PASS/FAIL against the targets:

* at 10 connections, ours >= 50% of bare cheroot's requests/s and p99 < 10 ms;
* start-up < 0.5 s.

Load comes from wrk when installed, otherwise from a bounded Python generator
(slower than wrk, and competing with the servers for the CPUs, so its figures
are lower). Targets are interleaved per connection count so that a noisy
neighbour hits both sides of a ratio alike; the 1-minute load average is
printed at start and end to judge the noise. Memory is VmRSS, which counts
pages the forked workers share once per process, so PSS is printed beside it.
``--extra NAME=URL`` adds an already running server (e.g. the Node runtime
published on 127.0.0.1), GET only; one that does not answer is skipped.

    python benchmarks/bench.py [--duration 5] [--connections 1,10,64]
        [--only python,bare,NAME] [--extra NAME=URL] [--loadgen auto|wrk|python]
        [--json out.json]

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
TARGET_RATIO = 0.5
TARGET_P99_MS = 10.0
TARGET_STARTUP_MS = 500.0


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
                    print(f"  measured {name:<8} {method:<4} c={conns:<3} "
                          f"{r['rps']:9.0f} req/s", flush=True)
                for proc in procs:
                    proc.check_alive()

        for proc in procs:
            results["memory"][proc.name] = memory(proc.popen.pid)
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
    widths = [8, 6, 11, 10, 8, 8, 7, 9]
    print()
    print(fmt_row(["target", "method", "connections", "req/s", "p50 ms", "p99 ms", "errors",
                   "vs bare"], widths))
    for r in runs:
        ref = bare.get((r["method"], r["connections"]))
        ratio = f"{r['rps'] / ref['rps']:.0%}" if ref and r["target"] != "bare" else ""
        print(fmt_row([r["target"], r["method"], r["connections"], f"{r['rps']:.0f}",
                       f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", r["errors"], ratio], widths))

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
    for method in ("GET", "POST"):
        ours = [r for r in runs if r["target"] == "python" and r["method"] == method
                and r["connections"] == 10]
        ref = bare.get((method, 10))
        if ours and ref:
            ratio = ours[0]["rps"] / ref["rps"]
            checks.append((f"{method} c=10 req/s >= {TARGET_RATIO:.0%} of bare cheroot",
                           f"{ratio:.0%}", ratio >= TARGET_RATIO))
        if ours:
            p99 = ours[0]["p99_ms"]
            checks.append((f"{method} c=10 p99 < {TARGET_P99_MS:g} ms", f"{p99:.2f} ms",
                           p99 < TARGET_P99_MS))
    if "python" in targets and 10 not in {r["connections"] for r in runs}:
        print("\n(10 connections not measured: throughput/latency targets not checked)")
    if checks:
        print("\ntargets:")
        for label, value, ok in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {label:<40} {value}")
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
