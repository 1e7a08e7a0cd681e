"""The example consumer in examples/consumer/ reads the platform's outputs through a
StackReference, under Pulumi's mocks, fed with the outputs of the prod render."""

from __future__ import annotations

import asyncio
import json
import runpy

import pulumi
from pulumi.runtime import settings
from pulumi.runtime.sync_await import _sync_await

from conftest import ROOT
from offline import engine as offline


class PlatformMocks(pulumi.runtime.Mocks):
    def __init__(self, outputs: dict, secret: set[str]):
        self.outputs, self.secret = outputs, secret
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ == "pulumi:pulumi:StackReference":
            return args.name, {"name": args.name, "outputs": self.outputs, "secretOutputNames": sorted(self.secret)}
        self.created.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def test_consumer_builds_on_the_contract(prod):
    mocks = PlatformMocks(prod.outputs, prod.secret_outputs)
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config({"trading-risk-reporting:platformStack": "acme/trading-platform/prod"})
    pulumi.runtime.set_mocks(mocks, project="trading-risk-reporting", stack="prod", preview=False)
    runpy.run_path(str(ROOT / "examples" / "consumer" / "__main__.py"), run_name="consumer")
    _sync_await(pulumi.runtime.stack.wait_for_rpcs())

    by_type = {a.typ: a for a in mocks.created}
    provider = by_type["pulumi:providers:kubernetes"]
    kubeconfig = json.loads(offline.unwrap(provider.inputs["kubeconfig"]))
    [cluster] = kubeconfig["clusters"]
    assert cluster["cluster"]["server"] == prod.outputs["cluster_api_url"]
    assert cluster["cluster"]["certificate-authority-data"] == prod.outputs["cluster_ca_certificate"]
    [user] = kubeconfig["users"]
    assert set(user["user"]) == {"exec"}  # the team's own short-lived token, no static credential
    data = by_type["kubernetes:core/v1:ConfigMap"].inputs["data"]
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] == prod.outputs["otlp_grpc_endpoint"]
    assert data["PROMETHEUS_URL"] == prod.outputs["prometheus_url"]
    assert data["ENVIRONMENT"] == "prod"
