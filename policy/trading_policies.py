"""The policies, kept apart from the pack so that tests can call them without a policy server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
# Charts whose default Service is a LoadBalancer when the values leave the type unset.
LOAD_BALANCER_BY_DEFAULT = {"traefik"}
SECRET_PATTERNS = {
    "Slack webhook URL": re.compile(r"https://hooks\.slack\.com/services/\S+"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "PagerDuty routing key": re.compile(r"routing_key['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9]{32}\b"),
}
# Keys that name a secret value itself (adminPassword, routing_key), not a reference to where
# one is kept (passwordKey, existingSecret).
SECRET_KEYS = re.compile(
    r"(password|passwd|token|api[_-]?key|routing[_-]?key|secret[_-]?key|secretAccessKey|"
    r"webhook[_-]?url|api[_-]?url)$",
    re.I,
)
# Inputs that hold secrets by design: the engine keeps them encrypted (Pulumi secrets).
SECRET_BEARING = {
    "kubernetes:core/v1:Secret": ("data", "stringData"),
    "grafana:oss/dataSource:DataSource": ("secureJsonDataEncoded",),
    "pulumi:providers:grafana": ("auth",),
    "pulumi:providers:kubernetes": ("kubeconfig",),
    "command:remote:Command": ("connection",),  # the SSH private key, a Pulumi secret
}


def walk(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield path + (key,), child
            yield from walk(child, path + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield path + (i,), child
            yield from walk(child, path + (i,))


def _chart_version_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != HELM_RELEASE:
        return
    version = args.props.get("version") or ""
    if not re.fullmatch(r"v?\d+\.\d+\.\d+", str(version)):
        report(f"Helm release '{args.props.get('name')}' must pin an exact chart version (got {version!r}).", None)


def _resources_complete(resources: Any) -> bool:
    return isinstance(resources, dict) and all(
        isinstance(resources.get(kind), dict) and {"cpu", "memory"} <= set(resources[kind])
        for kind in ("requests", "limits")
    )


def _requests_and_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == HELM_RELEASE:
        chart = str(args.props.get("chart", ""))
        if chart.endswith("-crds"):
            return  # CRDs only: no workload
        blocks = [
            (p, v)
            for p, v in walk(args.props.get("values") or {})
            # resource requirements are objects; RBAC rules' `resources` are lists of kinds
            if p and p[-1] == "resources" and "volumeClaimTemplate" not in p and not isinstance(v, list)
        ]
        if not blocks:
            report(f"Helm release '{args.props.get('name')}' sets no CPU/memory requests and limits.", None)
        for path, block in blocks:
            if not _resources_complete(block):
                report(
                    f"Helm release '{args.props.get('name')}': {'.'.join(map(str, path))} needs "
                    "requests and limits for both cpu and memory.",
                    None,
                )
    elif args.resource_type.startswith("kubernetes:") and args.resource_type.split(":")[-1] in WORKLOAD_KINDS:
        for path, container in walk(args.props.get("spec") or {}):
            if path and path[-1] == "containers" and isinstance(container, list):
                for c in container:
                    if not _resources_complete(c.get("resources")):
                        report(
                            f"container '{c.get('name')}' of {args.name} needs cpu and memory requests and limits.",
                            None,
                        )


def _buckets_private_and_expiring(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "scaleway:object/bucket:Bucket":
        return
    if args.props.get("acl", "private") != "private":
        report(f"bucket {args.name} must be private (acl {args.props.get('acl')!r}).", None)
    versioned = (args.props.get("versioning") or {}).get("enabled") is True
    expiring = any(
        rule.get("enabled") and (rule.get("expiration") or {}).get("days")
        for rule in args.props.get("lifecycleRules") or []
    )
    if not (versioned or expiring):
        report(f"bucket {args.name} must be versioned or expire objects with a lifecycle rule.", None)


def _prod_hosts_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != "scaleway:elasticmetal/server:Server":
        return
    if "env=prod" not in (args.props.get("tags") or []):
        return
    if not args.opts.protect:
        report(f"prod bare-metal host {args.name} must be protected in Pulumi (protect=True).", None)
    if args.props.get("protected") is not True:
        report(f"prod bare-metal host {args.name} must be protected at Scaleway (protected=true).", None)


def _no_plaintext_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    exempt = SECRET_BEARING.get(args.resource_type, ())
    for path, value in walk({k: v for k, v in args.props.items() if k not in exempt}):
        if not isinstance(value, str) or not value:
            continue
        for what, pattern in SECRET_PATTERNS.items():
            if pattern.search(value):
                report(
                    f"{args.name}: {'.'.join(map(str, path))} holds a {what} in plaintext; pass it as a "
                    "Pulumi secret through a Kubernetes Secret or a secret input.",
                    None,
                )
        key = str(path[-1])
        # A value from the environment (${VAR}) or a file is fine; a literal is not.
        if SECRET_KEYS.search(key) and not value.startswith(("${", "/")):
            report(
                f"{args.name}: {'.'.join(map(str, path))} is a secret in plaintext; use a Kubernetes "
                "Secret reference or a Pulumi secret.",
                None,
            )


def _load_balancers_allowed(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = set(args.get_config().get("allowed") or [])
    if args.resource_type == HELM_RELEASE:
        values = args.props.get("values") or {}
        types = [v for p, v in walk(values) if len(p) >= 2 and p[-2] == "service" and p[-1] == "type"]
        default = args.props.get("chart") in LOAD_BALANCER_BY_DEFAULT and not types
        if "LoadBalancer" in types or default:
            who = f"{args.props.get('namespace')}/{args.props.get('name')}"
            if who not in allowed:
                report(f"Helm release {who} exposes a LoadBalancer Service; allowed: {sorted(allowed)}.", None)
    elif (
        args.resource_type == "kubernetes:core/v1:Service"
        and (args.props.get("spec") or {}).get("type") == "LoadBalancer"
    ):
        meta = args.props.get("metadata") or {}
        who = f"{meta.get('namespace')}/{meta.get('name')}"
        if who not in allowed:
            report(f"Service {who} is a LoadBalancer; allowed: {sorted(allowed)}.", None)


def _policy(
    name: str, description: str, validate: Callable, config: PolicyConfigSchema | None = None
) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=config,
    )


POLICIES = [
    _policy("helm-chart-version-pinned", "Helm releases pin an exact chart version.", _chart_version_pinned),
    _policy(
        "workloads-requests-and-limits", "Every workload sets CPU and memory requests and limits.", _requests_and_limits
    ),
    _policy(
        "buckets-private-and-expiring",
        "Buckets are private, and versioned or lifecycle-managed.",
        _buckets_private_and_expiring,
    ),
    _policy("prod-bare-metal-protected", "Bare-metal hosts in prod are protected.", _prod_hosts_protected),
    _policy("no-plaintext-secrets", "No resource input carries a known secret in plaintext.", _no_plaintext_secrets),
    _policy(
        "load-balancers-allowed",
        "Only allowed Services are of type LoadBalancer.",
        _load_balancers_allowed,
        PolicyConfigSchema(properties={"allowed": {"type": "array", "items": {"type": "string"}}}),
    ),
]
