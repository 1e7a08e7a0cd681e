"""Rewrite the config section of Pulumi.yaml from components/config/schema.py.

    venv/bin/python scripts/generate_pulumi_yaml.py

The header above ``# Generated from`` is kept; tests/test_code_layout.py fails when
Pulumi.yaml and the schema disagree, so run this after changing a key.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.config import schema  # noqa: E402


def main() -> None:
    path = ROOT / "Pulumi.yaml"
    head = path.read_text().split("# Generated from")[0].rstrip("\n")
    lines = [
        head,
        "# Generated from components/config/schema.py by scripts/generate_pulumi_yaml.py (a test compares them).",
        "# Object-valued keys (Pulumi's project config types cannot describe objects), set per stack:",
    ]
    for key in schema.KEYS:
        if key.kind == "object":
            for i, line in enumerate(textwrap.wrap(key.description, 78)):
                lines.append(f"#   {key.name if i == 0 else '':<18} {line}")
    secrets = ", ".join(k.name for k in schema.KEYS if k.kind == "secret")
    lines.append("# Required secrets (no default; `pulumi config set --secret <key> <value>`):")
    lines += [f"#   {line}" for line in textwrap.wrap(secrets + ".", 96)]
    body = {k.name: schema.pulumi_declaration(k) for k in schema.KEYS if k.declared_in_pulumi_yaml}
    text = yaml.safe_dump(body, sort_keys=False, width=100, default_flow_style=False)
    lines.append("config:")
    lines += ["  " + line for line in text.splitlines()]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
