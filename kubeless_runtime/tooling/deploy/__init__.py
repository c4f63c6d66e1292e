"""Local deploys that run Kubeless's phases on a Docker engine.

``spec`` says what to deploy, ``plan`` turns it into per-phase containers (pure, unit-tested),
``run`` runs them, ``handles`` finds and removes what was deployed, ``wait`` probes it.
"""

from .errors import (
    DeployError,
    EngineRefusedError,
    FunctionExistsError,
    FunctionNotFoundError,
    InvalidSpecError,
    PhaseTimeoutError,
    UnsafeArchiveError,
)
from .handles import (
    LABEL_FUNCTION,
    Deployment,
    delete_deployment,
    get_deployment,
    list_deployments,
)
from .plan import Plan, expand_references, plan_deployment, safe_bundle_entries, source_archive
from .run import deploy
from .spec import DeploySpec, validate_env, validate_name
from .wait import loopback_opener

__all__ = [
    "LABEL_FUNCTION", "DeployError", "DeploySpec", "Deployment", "EngineRefusedError",
    "FunctionExistsError",
    "FunctionNotFoundError", "InvalidSpecError", "PhaseTimeoutError", "Plan",
    "UnsafeArchiveError", "delete_deployment", "deploy", "expand_references", "get_deployment",
    "list_deployments", "loopback_opener", "plan_deployment", "safe_bundle_entries",
    "source_archive", "validate_env", "validate_name",
]
