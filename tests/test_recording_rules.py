"""Every recorded series is its raw PromQL: promtool evaluates the recorded series and the rule's
expression with every recorded series in it expanded back to raw PromQL (as bench/dashboard_load
expands them), over the input series of rules/tests/recording.test.yaml (each given the labels
its scrape stores, offline/scrape_model.py); they must be the same series with the same values.
For a rule that reads only scraped series this shows the rule group evaluates in time; for one
that reads other recorded series (efficiency, category balance) that the chain adds no lag or
mismatch.  What each expression computes is proven by recording.test.yaml's own expected values."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import yaml
from test_rules import RULES

from bench.dashboard_load import raw_expander
from conftest import require_tool
from offline.scrape_model import scraped_test_document

EVAL_TIMES = ("5m", "10m")


def recording_rules() -> list[dict]:
    doc = yaml.safe_load((RULES / "recording.yaml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "record" in r]


def equality_checks(rule: dict, expand: Callable[[str], str]) -> tuple[list[dict], list[dict]]:
    """promtool checks that the recorded series are the raw expression's (must pass), and that
    they are not vacuously so (each passes where the input feeds the rule)."""
    recorded, raw = rule["record"], f"({expand(rule['expr'].strip())})"
    # Equal to a billionth: a sum adds its series in no fixed order, so the last bits may differ.
    same = f"abs({recorded} - {raw}) <= 1e-9 * (abs({raw}) + 1)"
    zero, one = [{"labels": "{}", "value": 0}], [{"labels": "{}", "value": 1}]
    equal, fed = [], []
    for at in EVAL_TIMES:
        # as many recorded as raw series, and every one equal to its raw twin
        equal.append(
            {
                "expr": f"(count({recorded}) or vector(0)) - (count({same}) or vector(0))",
                "eval_time": at,
                "exp_samples": zero,
            }
        )
        equal.append(
            {
                "expr": f"(count({raw}) or vector(0)) - (count({same}) or vector(0))",
                "eval_time": at,
                "exp_samples": zero,
            }
        )
        fed.append({"expr": f"count({same}) > bool 0", "eval_time": at, "exp_samples": one})
    return equal, fed


def test_every_recorded_series_equals_its_raw_expression(scrape_model, tmp_path):
    promtool = require_tool("promtool")
    source = yaml.safe_load((RULES / "tests" / "recording.test.yaml").read_text())
    rules = recording_rules()
    expand = raw_expander([RULES / "recording.yaml"])
    fed_somewhere: set[str] = set()
    for k, test in enumerate(source["tests"]):
        checks = {r["record"]: equality_checks(r, expand) for r in rules}
        exprs = [c for equal, fed in checks.values() for c in equal + fed]
        doc = {
            "rule_files": [str(RULES / "recording.yaml")],
            "evaluation_interval": "30s",
            "tests": [{**test, "promql_expr_test": exprs, "alert_rule_test": []}],
        }
        path = tmp_path / f"recorded-equals-raw-{k}.test.yaml"
        path.write_text(yaml.safe_dump(scraped_test_document(doc, scrape_model), sort_keys=False))
        run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
        failed = set()  # (expr, eval time) of every check promtool reports failed
        for line in (run.stdout + run.stderr).splitlines():
            if line.strip().startswith("expr: "):
                quoted, at = line.split("expr: ", 1)[1].rsplit(", time: ", 1)
                failed.add((json.loads(quoted), at.rstrip(",")))
        assert run.returncode == 0 or failed, f"promtool failed and its output did not parse: {run.stderr[-3000:]}"
        unequal = [c["expr"] for equal, _ in checks.values() for c in equal if (c["expr"], c["eval_time"]) in failed]
        assert not unequal, f"{test['name']}: recorded series differ from their raw expression: {unequal}"
        fed_somewhere |= {
            name for name, (_, fed) in checks.items() if any((c["expr"], c["eval_time"]) not in failed for c in fed)
        }
    never = sorted({r["record"] for r in rules} - fed_somewhere)
    assert not never, f"recording rules that no test's input series feed, so nothing proves them: {never}"
