"""Session fixtures of the Kubernetes tests: a cluster that answers, a namespace of their own.

The cluster is the one ``KUBECONFIG`` names, else the one scripts/kubernetes-up.sh made
(/var/tmp/kubeless-k8s/admin.kubeconfig).  No cluster answering: every test is skipped, unless
KUBELESS_REQUIRE_KUBERNETES=1 (then they fail).  ``bash scripts/test-kubernetes.sh`` brings a
cluster up, loads the images, runs these tests and tears it down.

Each session works in a namespace ``klr-test-<random>`` deleted at the end, so a developer's own
functions are never touched.  Functions are reached only through port-forwards on 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_KUBECONFIG = Path(os.environ.get("KUBELESS_K8S_DIR", "/var/tmp/kubeless-k8s")) / \
    "admin.kubeconfig"


def kubeconfig_path() -> str:
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    return str(DEFAULT_KUBECONFIG)


def _unavailable(reason: str) -> None:
    if os.environ.get("KUBELESS_REQUIRE_KUBERNETES") == "1":
        pytest.fail(f"KUBELESS_REQUIRE_KUBERNETES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    return kubeconfig_path()


@pytest.fixture(scope="session")
def namespace(kubeconfig: str) -> Iterator[str]:
    try:
        from kubeless_runtime.tooling.kubernetes.errors import KubernetesUnavailableError
        from kubeless_runtime.tooling.kubernetes.target import Cluster
    except ImportError as exc:  # pragma: no cover - the package itself always imports
        _unavailable(str(exc))
    if not Path(kubeconfig).is_file():
        _unavailable(f"no kubeconfig at {kubeconfig} (bash scripts/kubernetes-up.sh)")
    try:
        cluster = Cluster(kubeconfig=kubeconfig)
        cluster.check(timeout=3)
    except KubernetesUnavailableError as exc:
        _unavailable(str(exc))
    name = f"klr-test-{secrets.token_hex(3)}"
    cluster.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": name}})
    # The namespace's default service account appears shortly after the namespace.
    for _ in range(60):
        try:
            cluster.core.read_namespaced_service_account("default", name)
            break
        except cluster.ApiException:
            time.sleep(0.5)
    yield name
    cluster.core.delete_namespace(name)


@pytest.fixture(scope="session")
def cluster(kubeconfig: str, namespace: str) -> Any:
    from kubeless_runtime.tooling.kubernetes.target import Cluster

    return Cluster(kubeconfig=kubeconfig, namespace=namespace)


@pytest.fixture
def cli(kubeconfig: str, namespace: str):
    """Run ``kubeless-runtime ARGS --target kubernetes`` against the test namespace."""

    def run(*args: str, target: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        command: List[str] = [sys.executable, "-m", "kubeless_runtime", *args]
        if target:
            command += ["--target", "kubernetes", "--kubeconfig", kubeconfig,
                        "--namespace", namespace]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=REPO, check=False)

    return run

