"""Run the real program for one stack under Pulumi's mock engine, with no cloud and no network.

Used by the offline render (``python -m offline <stack>``) and by the tests.  It

* reads ``Pulumi.yaml`` defaults and ``Pulumi.<stack>.yaml`` the way the Pulumi CLI merges
  them, replacing every secret (``secure:`` value, or a required secret the file does not
  hold yet) with a clearly fake placeholder;
* records every resource registration (type, name, parent, inputs, protect, ignoreChanges)
  and every invoke;
* returns the stack outputs with their secretness.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import runpy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from offline import scaleway_api

ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = "4dabf18193072939515e22adb298388d"
REDACTED = "[secret]"

# Clearly fake values, valid in form so that validation passes; a test greps the render for them.
PLACEHOLDERS = {
    "slackWebhookUrl": "https://hooks.slack.invalid/services/PLACEHOLDER-slack",
    "heartbeatUrl": "https://heartbeat.invalid/PLACEHOLDER-heartbeat",
    "grafanaPostgresPassword": "PLACEHOLDER-postgres-password",
    "hostSshPrivateKey": (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nPLACEHOLDER-host-ssh-key\n-----END OPENSSH PRIVATE KEY-----\n"
    ),
}


# What the mocks answer for generated secrets (a test checks they never appear in plaintext).
GENERATED_PASSWORD = "offline-generated-password-00000000"
GENERATED_SECRET_KEY = "00000000-offline-secret-key-000000000000"
UPLINK = "eno1"
PAGERDUTY_INTEGRATION_KEY = "0ff11e0ff11e0ff11e0ff11e0ff11e00"  # 32 characters, as PagerDuty issues them
# Grafana's service-account token format: "glsa_" + 32 characters + "_" + 8 hex (a CRC32 of the rest).
GRAFANA_TOKEN = "glsa_offline0000000000000000000000000_00000000"


def stack_names() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def _as_config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class StackFileUnreadable(Exception):
    """A stack file that Pulumi itself would refuse to read: the message says where and why."""


class _StackLoader(yaml.SafeLoader):
    """YAML as Pulumi reads a stack file: a date stays the string it is written as, and a key
    written twice is an error instead of the last one silently winning."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise StackFileUnreadable(
                    f"line {key_node.start_mark.line + 1}: key {key!r} is set twice (first on line {seen[key]})"
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_StackLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_stack_yaml(path: Path) -> dict[str, Any]:
    """A Pulumi stack (or project) file as a mapping; StackFileUnreadable says what is wrong."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise StackFileUnreadable(f"{path.name} is not UTF-8 text (byte {error.start})") from None
    try:
        document = yaml.load(text, Loader=_StackLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise StackFileUnreadable(f"{path.name} is not valid YAML: {error}") from None
    except StackFileUnreadable as error:
        raise StackFileUnreadable(f"{path.name}: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileUnreadable(
            f"{path.name} must be a mapping with a `config:` key, not a {type(document).__name__}"
        )
    if not isinstance(document.get("config") or {}, dict):
        raise StackFileUnreadable(f"{path.name}: `config:` must be a mapping of keys to values")
    return document


@dataclass
class StackFile:
    stack: str
    values: dict[str, str]  # key without namespace -> Pulumi's string form
    secret_keys: set[str]
    placeholders: list[str] = field(default_factory=list)  # secrets the file does not hold yet


def read_stack_file(stack: str, overrides: dict[str, Any] | None = None) -> StackFile:
    """Merge Pulumi.yaml defaults with Pulumi.<stack>.yaml, as ``pulumi config`` would."""
    from components.config import PROJECT, SECRET_KEYS

    project = load_stack_yaml(ROOT / "Pulumi.yaml")
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}; stacks here: {', '.join(stack_names())}")
    stack_doc = load_stack_yaml(path)
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and "default" in spec:
            values[key] = _as_config_string(spec["default"])
    for full_key, value in (stack_doc.get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.add(key)
            values[key] = PLACEHOLDERS.get(key, f"PLACEHOLDER-{key}")
        else:
            values[key] = _as_config_string(value)
    for key, value in (overrides or {}).items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = _as_config_string(value)
    missing: list[str] = []
    for key in SECRET_KEYS:
        if key not in values:
            values[key] = PLACEHOLDERS[key]
            secret_keys.add(key)
            missing.append(key)
    return StackFile(stack, values, secret_keys, missing)


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    protect: bool
    ignore_changes: list[str]
    depends_on: list[str]
    inputs: dict
    additional_secret_outputs: list[str] = field(default_factory=list)
    provider: str = ""  # "<provider urn>::<id>" for an explicit provider, "" for the default one


class ProgramRefused(Exception):
    """The program stopped (pulumi.RunError) after registering ``registrations``."""

    def __init__(self, registrations: list[Registration]):
        self.registrations = registrations
        super().__init__(f"program refused to run after {len(registrations)} registrations")


@dataclass
class RenderResult:
    stack: str
    resources: list[Registration]
    invokes: list[tuple[str, dict]]
    outputs: dict[str, Any]  # name -> plain value
    secret_outputs: set[str]
    config: Any  # components.config.StackConfig (Any: the program is run from its file)
    program: dict  # the program's module namespace (its components), for tests

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str) -> Registration:
        found = [r for r in self.resources if r.type == type_token and r.name == name]
        assert len(found) == 1, f"{type_token} {name}: {len(found)} registrations"
        return found[0]


def redact(value: Any) -> Any:
    """Replace Pulumi-wrapped secrets with a marker, recursively."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "value" in value:
            return REDACTED
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) is not None and "value" in value


def unwrap(value: Any) -> Any:
    """The plain value of an input, secrets included (for assertions in tests)."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def _host_roles(values: dict[str, Any]) -> list[str]:
    hosts = values.get("criticalPathHosts") or "[]"
    try:
        return [h["role"] for h in (json.loads(hosts) if isinstance(hosts, str) else hosts) if isinstance(h, dict)]
    except (ValueError, KeyError, TypeError):
        return []


def _mocks_and_monitor(private_subnet: str, host_roles: list[str]) -> tuple[Any, Any]:
    import pulumi
    from pulumi.runtime.mocks import MockMonitor

    subnet = ipaddress.IPv4Network(private_subnet) if private_subnet else ipaddress.IPv4Network("172.16.0.0/22")

    class OfflineMocks(pulumi.runtime.Mocks):
        """What the cloud would answer, enough for every output the program reads."""

        def __init__(self) -> None:
            # Addresses by what they are for, not by arrival: registrations reach the mock
            # concurrently, so a counter gave the hosts' addresses in a different order from run
            # to run.  The telemetry gateway first, then the hosts in the stack file's order.
            self.next_host = 11 + len(host_roles)
            self.invokes: list[tuple[str, dict]] = []

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            state = dict(args.inputs)
            rid = f"{args.name}-id"
            if args.typ == "scaleway:kubernetes/cluster:Cluster":
                state["apiserverUrl"] = f"https://{rid}.api.k8s.{args.inputs.get('region', 'fr-par')}.scw.cloud:6443"
                state["kubeconfigs"] = [
                    {
                        "configFile": "apiVersion: v1\nkind: Config\n# offline render: no real cluster\n",
                        "host": state["apiserverUrl"],
                        "clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm9mZmxpbmUK",
                        "token": "offline-token",
                    }
                ]
                state["wildcardDns"] = f"*.{rid}.nodes.k8s.fr-par.scw.cloud"
            elif args.typ == "scaleway:ipam/ip:Ip":
                tags = [str(t) for t in args.inputs.get("tags") or []]
                role = next((t.split("=", 1)[1] for t in tags if t.startswith("role=")), None)
                if "purpose=telemetry-gateway" in tags:
                    address = subnet.network_address + 10
                elif role in host_roles:
                    address = subnet.network_address + 11 + host_roles.index(role)
                else:
                    address = subnet.network_address + self.next_host
                    self.next_host += 1
                state["address"] = f"{address}/{subnet.prefixlen}"
            elif args.typ == "scaleway:object/bucket:Bucket":
                state["projectId"] = "00000000-0000-4000-8000-0000000000aa"
                state["endpoint"] = f"https://{args.inputs.get('name')}.s3.{args.inputs.get('region')}.scw.cloud"
            elif args.typ == "random:index/randomPassword:RandomPassword":
                state["result"] = GENERATED_PASSWORD
            elif args.typ == "grafana:oss/serviceAccountRotatingToken:ServiceAccountRotatingToken":
                state["key"] = GRAFANA_TOKEN
                state["name"] = f"{args.inputs.get('namePrefix')}-offline"
            elif args.typ == "pagerduty:index/serviceIntegration:ServiceIntegration":
                state["integrationKey"] = PAGERDUTY_INTEGRATION_KEY
            elif args.typ == "pagerduty:index/service:Service":
                state["htmlUrl"] = f"https://trading.pagerduty.invalid/service-directory/{rid}"
            elif args.typ == "scaleway:elasticmetal/server:Server":
                state = scaleway_api.attached_server(state)
            elif args.typ == "command:remote:Command":
                # The inventory's answer: an onboard NIC as systemd names it (no recorded answer
                # exists; the netplan test runs the real netplan on what phase two writes for it).
                state["stdout"] = UPLINK + "\n" if args.name.endswith("-inventory") else ""
                state["stderr"] = ""
            elif args.typ == "scaleway:iam/apiKey:ApiKey":
                state["accessKey"] = "SCWOFFLINEACCESSKEY0"
                state["secretKey"] = GENERATED_SECRET_KEY
            return rid, state

        def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
            self.invokes.append((args.token, dict(args.args)))
            name = args.args.get("name", "")
            if args.token == "scaleway:elasticmetal/getOffer:getOffer":
                return scaleway_api.get_offer(name, args.args.get("zone", ""))
            if args.token == "scaleway:elasticmetal/getOs:getOs":
                return {"osId": f"os-{name}-{args.args.get('version', '')}", "id": f"os-{name}", "name": name}
            if args.token == "scaleway:elasticmetal/getOption:getOption":
                return {"optionId": f"option-{name}", "id": f"option-{name}", "name": name}
            return {}

    class RecordingMonitor(MockMonitor):
        """The mock monitor, recording what the mocks are not told (parent, protect, ...)."""

        def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
            super().__init__(mocks)
            self.registrations: list[Registration] = []

        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)
            from pulumi.runtime import rpc

            if request.type != "pulumi:pulumi:Stack":
                inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
                self.registrations.append(
                    Registration(
                        type=request.type,
                        name=request.name,
                        urn=response.urn,
                        parent=request.parent,
                        custom=bool(request.custom),
                        protect=bool(request.protect),
                        ignore_changes=list(request.ignoreChanges),
                        depends_on=list(request.dependencies),
                        inputs=inputs,
                        additional_secret_outputs=list(request.additionalSecretOutputs),
                        provider=request.provider,
                    )
                )
            return response

    mocks = OfflineMocks()
    return mocks, RecordingMonitor(mocks)


def run(stack: str, overrides: dict[str, Any] | None = None) -> RenderResult:
    """Run __main__.py for ``stack`` under mocks; raise InvalidConfig on bad config."""
    for noisy in (r"pulumiverse_scaleway.*", r"pulumiverse_grafana.*"):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=noisy)
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.sync_await import _sync_await

    from components.config import PROJECT

    stack_file = read_stack_file(stack, overrides)
    mocks, monitor = _mocks_and_monitor(stack_file.values.get("privateSubnet", ""), _host_roles(stack_file.values))
    # A fresh event loop and root resource per run, so that several stacks render in one process.
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{k}": v for k, v in stack_file.values.items()}, [f"{PROJECT}:{k}" for k in stack_file.secret_keys]
    )
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    try:
        namespace = runpy.run_path(str(ROOT / "__main__.py"), run_name="trading_platform_program")
    except pulumi.RunError:
        # Let the error log reach the (mock) engine, so the next run starts with nothing pending.
        # A failed invoke (an offer Scaleway does not list) is re-raised here; the program has
        # reported it as a config problem already, as a real preview would print both.
        with contextlib.suppress(Exception):
            _sync_await(pulumi.runtime.stack.wait_for_rpcs())
        raise ProgramRefused(monitor.registrations) from None
    _sync_await(pulumi.runtime.stack.wait_for_rpcs())

    root: Any = settings.get_root_resource()  # the Stack resource, which holds the exports
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    for name, value in root.outputs.items():
        output = pulumi.Output.from_input(value)
        outputs[name] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            secret_outputs.add(name)
    return RenderResult(
        stack, monitor.registrations, mocks.invokes, outputs, secret_outputs, namespace.get("config"), namespace
    )
