"""Rewrite Pulumi.yaml's config section and the README's configuration table from
components/config/schema.py.

    venv/bin/python scripts/generate_config_docs.py

Pulumi.yaml's header above ``# Generated from`` is kept; tests/test_code_layout.py fails when
either file and the schema disagree, so run this after changing a key.
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
        "# Generated from components/config/schema.py by scripts/generate_config_docs.py (a test compares them).",
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
    readme = ROOT / "README.md"
    text = readme.read_text()
    start = text.index("| key | type | default | meaning |")
    end = text.index("\n\n", start)
    readme.write_text(text[:start] + schema.markdown_table() + text[end:])


if __name__ == "__main__":
    main()
