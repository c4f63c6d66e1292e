"""``kubeless-runtime`` subcommands for images and local deploys (registered by the CLI).

They mirror ``kubeless`` where one exists (``get-server-config``, ``function deploy/call/ls/
logs/delete``), so what a user learns here carries over to a cluster.  Every handler returns
an exit code; errors are our typed exceptions, printed once by the CLI's boundary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..contract import parse_env_pairs
from ..errors import UsageError
from .catalog import PHASES, load_catalog
from .deploy import (
    DeploySpec,
    delete_deployment,
    deploy,
    get_deployment,
    list_deployments,
    loopback_opener,
)
from .images import CA_BUNDLE_ENV, build_images, dockerfile_text

CA_HELP = (f"CA bundle for pip/npm behind a TLS-intercepting proxy (default: ${CA_BUNDLE_ENV}, "
           "else none; on the project's machines use /etc/ssl/certs/ca-certificates.crt)")


def _err(message: str) -> None:
    print(f"kubeless-runtime: {message}", file=sys.stderr)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- handlers -----------------------------------------------------------------------------

def cmd_get_server_config(args: argparse.Namespace) -> int:
    """Like ``kubeless get-server-config``: the supported runtimes."""
    catalog = load_catalog()
    print("Current Server Config:")
    print(f"Supported Runtimes are: {', '.join(catalog.names)}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    """The ``runtime-images`` JSON for the kubeless-config ConfigMap (or the whole ConfigMap)."""
    runtime_images = load_catalog().kubeless_config()
    if args.configmap:
        document: Any = {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kubeless-config", "namespace": args.namespace},
            "data": {"runtime-images": json.dumps(runtime_images, indent=2)},
        }
    else:
        document = runtime_images
    print(json.dumps(document, indent=2))
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Build the images of the given runtimes (all by default)."""
    started = time.monotonic()
    built = build_images(args.runtimes or None, ca_bundle=args.ca_bundle, progress=_progress,
                         nocache=args.no_cache, verbose=args.verbose)
    for image in built:
        print(f"{image.tag}\t{image.phase}\t{image.size_mb:.0f} MB\t{image.seconds:.1f}s")
    _progress(f"built {len(built)} image(s) in {time.monotonic() - started:.1f}s")
    return 0


def cmd_dockerfile(args: argparse.Namespace) -> int:
    """Print the Dockerfile of a runtime's phase image."""
    sys.stdout.write(dockerfile_text(args.runtime, args.phase))
    return 0


def _spec(args: argparse.Namespace) -> DeploySpec:
    return DeploySpec(
        name=args.name, runtime=args.runtime, from_file=args.from_file, handler=args.handler,
        dependencies=args.dependencies, env=parse_env_pairs(args.env), timeout=args.timeout,
        runtime_image=args.runtime_image, installation_image=args.installation_image,
        compilation_image=args.compilation_image, memory=args.memory, port=args.port,
        ca_bundle=args.ca_bundle or os.environ.get(CA_BUNDLE_ENV) or None,
        probe_timeout=getattr(args, "probe_timeout", 30))


def _cluster(args: argparse.Namespace) -> Any:
    from .kubernetes.target import Cluster

    cluster = Cluster(kubeconfig=args.kubeconfig, namespace=args.namespace)
    cluster.check()
    return cluster


def _on_kubernetes(args: argparse.Namespace) -> bool:
    return getattr(args, "target", "docker") == "kubernetes"


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy a function locally (or on a cluster), as Kubeless would; wait for its first 200."""
    started = time.monotonic()
    if _on_kubernetes(args):
        from .kubernetes.export import ExportOptions
        from .kubernetes.target import deploy as deploy_on_cluster

        cluster = _cluster(args)
        handle, pod = deploy_on_cluster(_spec(args), cluster, progress=_progress,
                                        options=ExportOptions(replicas=args.replicas))
        _progress(f"function {handle.name} ready in {time.monotonic() - started:.1f}s")
        print(f"{handle.name} deployed in namespace {cluster.namespace} (runtime "
              f"{handle.runtime}, pod {pod.metadata.name}); call it with `kubeless-runtime "
              f"call {handle.name} --target kubernetes`")
        return 0
    if args.replicas != 1:
        raise UsageError("--replicas needs --target kubernetes: a local deploy runs one "
                         "container")
    spec = _spec(args)
    deployment = deploy(spec, progress=_progress)
    _progress(f"function {deployment.name} ready in {time.monotonic() - started:.1f}s")
    print(f"{deployment.name} deployed: {deployment.url} (runtime {deployment.runtime}, "
          f"image {deployment.image})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Print the ConfigMap, Deployment and Service Kubeless's controller made for a function."""
    from .kubernetes import ExportOptions, convert_function, export_objects, load_manifests
    from .kubernetes.export import to_json, to_yaml

    objects: List[Dict[str, Any]] = []
    if args.file:
        if args.name or args.from_file:
            raise UsageError("give either -f FUNCTION.yaml or NAME --from-file ..., not both")
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        documents = load_manifests(text, args.file)
        if not documents:
            raise UsageError(f"{args.file} holds no Function")
        with tempfile.TemporaryDirectory(prefix="kubeless-export-") as work:
            for index, document in enumerate(documents):
                converted = convert_function(document, Path(work) / str(index))
                options = converted.options
                if args.namespace:
                    options = dataclasses.replace(options, namespace=args.namespace)
                objects += export_objects(converted.spec, options=options)
    else:
        if not args.name:
            raise UsageError("give the function's NAME (with --runtime, --from-file, "
                             "--handler) or -f FUNCTION.yaml")
        options = ExportOptions(namespace=args.namespace, replicas=args.replicas)
        objects = export_objects(_spec(args), options=options)
    sys.stdout.write(to_yaml(objects) if args.output == "yaml" else to_json(objects))
    return 0


def kubeless_headers(data: Optional[str]) -> Dict[str, str]:
    """The headers ``kubeless function call`` sends: an event id, time, type, namespace."""
    headers = {
        "event-id": uuid.uuid4().hex,
        "event-time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "event-namespace": "cli.kubeless.io",
        "event-type": "application/json",
    }
    if data is not None:
        try:
            json.loads(data)
            headers["Content-Type"] = "application/json"
        except ValueError:
            headers["Content-Type"] = "text/plain"
            headers["event-type"] = "text/plain"
    return headers


def cmd_call(args: argparse.Namespace) -> int:
    """Call a deployed function; print the body; exit 1 on an HTTP status >= 400."""
    if _on_kubernetes(args):
        from .kubernetes.target import forward_to

        with forward_to(_cluster(args), args.name) as forward:
            return _call(args, forward.url)
    deployment = get_deployment(args.name)
    if not deployment.url:
        _err(f"function {args.name} is not running (status {deployment.status}); see "
             f"`kubeless-runtime logs {args.name}`")
        return 1
    return _call(args, deployment.url)


def _call(args: argparse.Namespace, base_url: str) -> int:
    headers = kubeless_headers(args.data)
    for pair in args.header:
        key, sep, value = pair.partition("=")
        if not sep and ":" in pair:
            key, _, value = pair.partition(":")
        if not key.strip():
            raise UsageError(f"--header {pair!r} is not NAME=VALUE")
        headers[key.strip()] = value.strip()
    method = (args.method or ("POST" if args.data is not None else "GET")).upper()
    body = args.data.encode() if args.data is not None else None
    url = base_url + (args.path if args.path.startswith("/") else "/" + args.path)
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with loopback_opener().open(request, timeout=args.timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        _err(f"calling {url} failed: {exc}")
        return 1
    text = payload.decode("utf-8", "replace")
    sys.stdout.write(text + ("" if text.endswith("\n") or not text else "\n"))
    if status >= 400:
        _err(f"HTTP {status}")
        return 1
    return 0


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by at least three spaces, like kubeless's tables."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row))
                     .rstrip() for row in rows)


def cmd_ls(args: argparse.Namespace) -> int:
    """List deployed functions: NAME RUNTIME HANDLER STATUS PORT (Docker) or REPLICAS."""
    if _on_kubernetes(args):
        from .kubernetes.target import list_functions

        rows: List[List[str]] = [["NAME", "RUNTIME", "HANDLER", "STATUS"]]
        for fn in list_functions(_cluster(args)):
            state = "READY" if fn.replicas and fn.ready >= fn.replicas else "NOT READY"
            rows.append([fn.name, fn.runtime or "-", fn.handler or "-",
                         f"{fn.ready}/{fn.replicas} {state}"])
        print(format_table(rows))
        return 0
    rows = [["NAME", "RUNTIME", "HANDLER", "STATUS", "PORT"]]
    for item in list_deployments():
        status = "1/1 READY" if item.status == "running" else f"0/1 NOT READY ({item.status})"
        rows.append([item.name, item.runtime, item.handler or "-", status,
                     str(item.host_port or "-")])
    print(format_table(rows))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    """Print the runtime container's logs."""
    if _on_kubernetes(args):
        from .kubernetes.target import function_logs

        sys.stdout.write(function_logs(_cluster(args), args.name, tail=args.tail))
        return 0
    sys.stdout.write(get_deployment(args.name).logs(tail=args.tail))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Remove a function's containers and volume (or its Kubernetes objects)."""
    if _on_kubernetes(args):
        from .kubernetes.target import delete_function

        delete_function(_cluster(args), args.name)
    else:
        delete_deployment(args.name)
    print(f"function {args.name} deleted")
    return 0


def _add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", choices=("docker", "kubernetes"),
                   default=os.environ.get("KUBELESS_TARGET", "docker"),
                   help="where functions run: the local Docker engine (default, or "
                        "$KUBELESS_TARGET) or a Kubernetes cluster")
    p.add_argument("--kubeconfig", metavar="PATH", default=None,
                   help="--target kubernetes: kubeconfig (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--namespace", default=None,
                   help="--target kubernetes: namespace (default: the kubeconfig's, else "
                        "default)")


def _add_function_flags(p: argparse.ArgumentParser, name_optional: bool = False) -> None:
    if name_optional:
        p.add_argument("name", metavar="NAME", nargs="?")
    else:
        p.add_argument("name", metavar="NAME")
    p.add_argument("--runtime", help="e.g. python3.11 (see get-server-config)")
    p.add_argument("--from-file", metavar="FILE",
                   help="function source: a file, a .zip or a .tar.gz/.tar.bz2/.tar.xz")
    p.add_argument("--handler", metavar="MODULE.FUNCTION", help="e.g. helloget.foo")
    p.add_argument("--dependencies", metavar="FILE", help="e.g. requirements.txt")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="environment variable of the function (repeatable)")
    p.add_argument("--timeout", type=float, default=180, help="FUNC_TIMEOUT, seconds")
    p.add_argument("--runtime-image", metavar="IMAGE", help="custom runtime image")
    p.add_argument("--installation-image", metavar="IMAGE", help="custom installation image")
    p.add_argument("--compilation-image", metavar="IMAGE", help="custom compilation image")
    p.add_argument("--memory", default="128Mi", help="memory limit, e.g. 128Mi, 1Gi")
    p.add_argument("--port", type=int, default=8080, help="port the function listens on")
    p.add_argument("--ca-bundle", metavar="PATH", default=None, help=CA_HELP)
    p.add_argument("--replicas", type=int, default=1,
                   help="--target kubernetes / export: pods of the Deployment")


# --- registration -------------------------------------------------------------------------

def register(subparsers: Any) -> None:
    """Add the image and deploy subcommands to cli.py's subparsers."""
    p = subparsers.add_parser("get-server-config", help="list the supported runtimes")
    p.set_defaults(func=cmd_get_server_config)

    p = subparsers.add_parser("config", help="print the runtime-images JSON for kubeless-config")
    p.add_argument("--configmap", action="store_true",
                   help="print a whole kubeless-config ConfigMap instead")
    p.add_argument("--namespace", default="kubeless", help="ConfigMap namespace (--configmap)")
    p.set_defaults(func=cmd_config)

    p = subparsers.add_parser("build", help="build runtime images with the local Docker engine")
    p.add_argument("runtimes", nargs="*", metavar="RUNTIME", help="e.g. python3.11 (default: all)")
    p.add_argument("--ca-bundle", metavar="PATH", default=None, help=CA_HELP)
    p.add_argument("--no-cache", action="store_true", help="do not reuse cached layers")
    p.add_argument("--verbose", "-v", action="store_true", help="show every build output line")
    p.set_defaults(func=cmd_build)

    p = subparsers.add_parser("dockerfile", help="print the Dockerfile of a runtime image")
    p.add_argument("runtime", metavar="RUNTIME")
    p.add_argument("--phase", choices=PHASES, default="runtime")
    p.set_defaults(func=cmd_dockerfile)

    p = subparsers.add_parser("deploy", help="deploy a function (local Docker or Kubernetes)")
    _add_function_flags(p)
    p.add_argument("--probe-timeout", type=float, default=30,
                   help="seconds to wait for the first healthy probe")
    _add_target(p)
    p.set_defaults(func=cmd_deploy)

    p = subparsers.add_parser(
        "export", help="print a function's Kubernetes objects (ConfigMap, Deployment, Service)")
    _add_function_flags(p, name_optional=True)
    p.add_argument("-f", "--file", metavar="FUNCTION.yaml",
                   help="convert a Kubeless Function manifest (kubeless.io/v1beta1; - = stdin)")
    p.add_argument("--namespace", default=None, help="namespace of the objects")
    p.add_argument("-o", "--output", choices=("json", "yaml"), default="json",
                   help="json (a v1 List, default) or yaml (needs PyYAML)")
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("call", help="call a deployed function")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--data", help="request body (POST unless --method says otherwise)")
    p.add_argument("--method", help="HTTP method (default GET, or POST with --data)")
    p.add_argument("--header", action="append", default=[], metavar="K=V",
                   help="extra request header (repeatable)")
    p.add_argument("--path", default="/", help="request path (default /)")
    p.add_argument("--timeout", type=float, default=190, help="seconds to wait for the answer")
    _add_target(p)
    p.set_defaults(func=cmd_call)

    p = subparsers.add_parser("ls", help="list deployed functions")
    _add_target(p)
    p.set_defaults(func=cmd_ls)

    p = subparsers.add_parser("logs", help="print a function's logs")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--tail", type=int, default=None, help="only the last N lines")
    _add_target(p)
    p.set_defaults(func=cmd_logs)

    p = subparsers.add_parser("delete", help="delete a deployed function")
    p.add_argument("name", metavar="NAME")
    _add_target(p)
    p.set_defaults(func=cmd_delete)


__all__ = ["format_table", "kubeless_headers", "register"]
