"""How every component releases a pinned chart and an Opaque Secret: the same way each time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.pins import Chart


def helm_release(
    resource_name: str,
    release: str,
    chart: Chart,
    namespace: pulumi.Input[str],
    values: Any,
    parent: pulumi.Resource,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource] = (),
    **extra: Any,
) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        resource_name,
        name=release,
        chart=chart.name,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=namespace,
        values=values,
        **extra,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )


def secret(
    resource_name: str,
    name: str,
    namespace: pulumi.Input[str],
    string_data: dict,
    parent: pulumi.Resource,
    provider: k8s.Provider,
) -> k8s.core.v1.Secret:
    """An Opaque Secret whose values stay Pulumi secrets in the state and every preview."""
    return k8s.core.v1.Secret(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace),
        type="Opaque",
        string_data={k: pulumi.Output.secret(v) for k, v in string_data.items()},
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, additional_secret_outputs=["data", "stringData"]),
    )
