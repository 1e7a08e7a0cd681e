"""Offline render: run the real program for a stack under Pulumi's mock engine and write what
it would declare to ``build/<stack>/``.  No cloud credentials, no network, no Pulumi CLI.

    python -m offline prod          # one stack
    python -m offline --all         # every Pulumi.<stack>.yaml

Written files:
    resources.json          every resource: type, name, parent, protect, ignoreChanges, inputs
                            (secrets shown as "[secret]")
    outputs.json            the stack outputs (secret ones as "[secret]")
    helm/<release>.yaml     the values of every Helm release
    rules/<file>.yaml       every PrometheusRule as a Prometheus rule file
    alertmanager.yaml       the Alertmanager configuration (offline placeholders for secrets)
    dashboards/<uid>.json   every Grafana dashboard
    cloud-init/<role>.yaml  phase one of every critical-path host (first-boot cloud-init)
    hosts/<role>-converge.sh  phase two of every critical-path host (run over SSH by `pulumi up`)
    manifests/<release>.yaml  what Kubernetes would receive: each release templated by Helm from the
                            pinned chart in ../shared/charts (offline/manifests.py)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from components import preflight
from components.config import InvalidConfig
from offline import engine as offline
from offline import manifests, scaleway_api

BUILD = offline.ROOT / "build"


def _short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=120)


def write(result: offline.RenderResult, out: Path) -> list[Path]:
    """Write one stack's render to ``out``; return the files written."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    written: list[Path] = []

    def emit(relative: str, text: str) -> None:
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)

    resources = [
        {
            "type": r.type,
            "name": r.name,
            "parent": _short(r.parent),
            "custom": r.custom,
            "protect": r.protect,
            "ignoreChanges": r.ignore_changes,
            "inputs": offline.redact(r.inputs),
        }
        for r in result.resources
    ]
    emit("resources.json", json.dumps(resources, indent=2, sort_keys=False) + "\n")
    outputs = {k: (offline.REDACTED if k in result.secret_outputs else v) for k, v in sorted(result.outputs.items())}
    emit("outputs.json", json.dumps(outputs, indent=2) + "\n")

    for r in result.of_type("kubernetes:helm.sh/v3:Release"):
        values = offline.redact(r.inputs.get("values") or {})
        header = (
            f"# Helm release {r.inputs.get('name')}: chart {r.inputs.get('chart')} "
            f"{r.inputs.get('version')} from {(r.inputs.get('repositoryOpts') or {}).get('repo')}\n"
        )
        emit(f"helm/{r.inputs.get('name')}.yaml", header + _yaml(values))
    for r in result.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        emit(f"rules/{r.inputs['metadata']['name']}.yaml", _yaml(offline.unwrap(r.inputs["spec"])))
    for r in result.resources:
        string_data = offline.unwrap(r.inputs.get("stringData") or {})
        if r.type == "kubernetes:core/v1:Secret" and "alertmanager.yaml" in string_data:
            # Offline, the secrets inside are the placeholders of offline/engine.py.
            emit("alertmanager.yaml", string_data["alertmanager.yaml"])
    for r in result.of_type("grafana:oss/dashboard:Dashboard"):
        board = json.loads(offline.unwrap(r.inputs["configJson"]))
        emit(f"dashboards/{board.get('uid', r.name)}.json", json.dumps(board, indent=2) + "\n")
    for r in result.of_type("scaleway:elasticmetal/server:Server"):
        emit(f"cloud-init/{r.name}.yaml", offline.unwrap(r.inputs.get("cloudInit", "")))
    for r in result.of_type("command:remote:Command"):
        if r.name.endswith("-converge"):
            emit(f"hosts/{r.name}.sh", offline.unwrap(r.inputs.get("stdin", "")))
    if manifests.CHARTS_DIR.is_dir():
        for release in manifests.releases(result):
            emit(f"manifests/{release.name}.yaml", manifests.dump(release))
    else:
        print(
            f"note: no local chart repository at {manifests.CHARTS_DIR} (set TRADING_CHARTS_DIR): "
            "manifests/ not written",
            file=sys.stderr,
        )
    return written


def _table(result: offline.RenderResult, written: list[Path], out: Path) -> str:
    counts = Counter(r.type for r in result.resources)
    width = max(len(t) for t in counts)
    lines = [f"stack {result.stack}: {len(result.resources)} resources", ""]
    lines += [f"  {t.ljust(width)}  {n:>3}" for t, n in sorted(counts.items())]
    cost = result.outputs.get("estimated_cost_eur_per_hour") or {}
    if cost:
        lines += [
            "",
            f"estimated cost: {cost['idle']:.4f} EUR/h idle (compute pool at its minimum), "
            f"{cost['busy']:.4f} EUR/h busy (at its maximum); "
            f"about {cost['idle'] * 730:.0f} to {cost['busy'] * 730:.0f} EUR a month, excluding VAT and "
            f"{', '.join(cost['not_estimated'])}",
        ]
        if cost["unverified_prices"]:
            lines.append(
                f"  prices not re-read from Scaleway's API (see components/scaleway/prices.yaml): "
                f"{', '.join(cost['unverified_prices'])}"
            )
    lines += ["", f"files written to {out.relative_to(offline.ROOT)}/:"]
    lines += [f"  {p.relative_to(out)}  ({p.stat().st_size:,} bytes)" for p in written]
    return "\n".join(lines)


def render(stack: str) -> int:
    try:
        stack_file = offline.read_stack_file(stack)
        # Validate first, so a user mistake reads as a list of problems, not a traceback.
        preflight.validate(stack_file.values, stack_file.secret_keys, stack, scaleway_api.recorded_offer)
    except FileNotFoundError as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    except offline.StackFileUnreadable as broken:
        print(f"error: {broken}", file=sys.stderr)
        return 2
    except InvalidConfig as problems:
        print(problems.report(), file=sys.stderr)
        return 2
    result = offline.run(stack)
    out = BUILD / stack
    written = write(result, out)
    print(_table(result, written, out))
    if stack_file.placeholders:
        print(
            f"\nsecrets not in Pulumi.{stack}.yaml yet (rendered with offline placeholders; before "
            f"`pulumi up` set each with `pulumi config set --secret <key> ...`): "
            f"{', '.join(stack_file.placeholders)}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__.split("\n")[0])
    parser.add_argument("stack", nargs="?", help=f"stack to render ({', '.join(offline.stack_names())})")
    parser.add_argument("--all", action="store_true", help="render every Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    if not args.all and not args.stack:
        parser.error("name a stack or pass --all")
    stacks = offline.stack_names() if args.all else [args.stack]
    status = 0
    for i, stack in enumerate(stacks):
        if i:
            print()
        status = max(status, render(stack))
    return status


if __name__ == "__main__":
    sys.exit(main())
