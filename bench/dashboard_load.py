"""Benchmark: load the infrastructure dashboard as Grafana would, over 12 hours of the
synthetic cluster, on a real Prometheus.

    venv/bin/python bench/dashboard_load.py [--loads 5] [--concurrency 4]

A load runs every panel query of the prod dashboard, a few at a time (Grafana's browser
fetches several at once): range queries with the step Grafana derives from the panel's width
(12 hours over its pixels, at least the 30 s scrape interval), instant queries for stats,
gauges, pies, bars and tables.  Printed: wall time per load (median and max of --loads),
and the slowest five queries — once with the recording rules (as deployed) and once with
every recorded series expanded back into the raw PromQL it stands for.  Figures only.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic_prometheus import SyntheticPrometheus, chart_recording_rules  # noqa: E402

RANGE = 12 * 3600
SCREEN_PX = 1920
VARIABLES = {"$__rate_interval": "2m", "$__range": "12h", "$__interval": "60s"}
NOT_METRICS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "sum",
    "avg",
    "max",
    "min",
    "count",
    "topk",
    "bottomk",
    "rate",
    "increase",
    "irate",
    "label_replace",
    "histogram_quantile",
    "time",
    "vector",
    "timestamp",
    "changes",
    "clamp_min",
    "max_over_time",
    "avg_over_time",
    "min_over_time",
    "count_over_time",
    "abs",
    "inf",
    "nan",
}


def dashboard_queries() -> list[dict]:
    """Every Prometheus query of the prod dashboard, with how Grafana would send it."""
    warnings.simplefilter("ignore")
    from offline import engine as offline

    result = offline.run("prod")
    [board] = [json.loads(r.inputs["configJson"]) for r in result.of_type("grafana:oss/dashboard:Dashboard")]
    queries = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            if "expr" not in target:
                continue
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            width_px = panel["gridPos"]["w"] / 24 * SCREEN_PX
            step = max(30, round(RANGE / width_px / 15) * 15)
            queries.append(
                {"panel": panel["title"], "expr": expr, "instant": bool(target.get("instant")), "step": step}
            )
    return queries


# ---------------------------------------------------------------- recorded -> raw


def _with_braces(expr: str) -> str:
    """Give every bare metric selector an explicit {} so matchers can be injected."""
    masked = re.sub(r'"[^"]*"', lambda m: "\0" * len(m.group()), expr)
    masked = re.sub(r"\{[^}]*\}", lambda m: "\1" * len(m.group()), masked)
    masked = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", lambda m: "\2" * len(m.group()), masked
    )
    masked = re.sub(r"\[[^\]]*\]", lambda m: "\3" * len(m.group()), masked)
    out, last = [], 0
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)", masked):
        name, end = m.group(1), m.end()
        rest = masked[end:].lstrip()
        if name in NOT_METRICS or rest.startswith("(") or (rest and rest[0] == "\1"):
            continue
        out.append(expr[last:end] + "{}")
        last = end
    out.append(expr[last:])
    return "".join(out)


def _inject(expr: str, matchers: str) -> str:
    if not matchers:
        return expr
    return re.sub(r"\{([^}]*)\}", lambda m: "{" + ", ".join(x for x in (m.group(1).strip(), matchers) if x) + "}", expr)


def raw_expander(rule_files: list[Path]) -> Callable[[str], str]:
    rules = {
        r["record"]: r["expr"].strip()
        for f in rule_files
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if "record" in r
    }

    def substitute(body: str, match: re.Match[str]) -> str:
        """The rule's expression, with the matchers the query put on the recorded series."""
        return "(" + _inject(_with_braces(body), (match.group(1) or "{}")[1:-1].strip()) + ")"

    def expand(expr: str) -> str:
        for _ in range(10):
            changed = False
            for name, body in rules.items():
                pattern = re.compile(rf"(?<![\w:]){re.escape(name)}(\{{[^}}]*\}})?")
                if pattern.search(expr):
                    expr = pattern.sub(functools.partial(substitute, body), expr)
                    changed = True
            if not changed:
                return expr
        raise ValueError("recording rules nest too deep")

    return expand


# ---------------------------------------------------------------- load


def run_query(url: str, q: dict, end: float) -> tuple[float, str, int]:
    params = {"query": q["expr"]}
    if q["instant"]:
        path, params["time"] = "query", end
    else:
        path = "query_range"
        params.update(start=end - RANGE, end=end, step=q["step"])
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"{url}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=120) as r:
        body = json.loads(r.read())
    elapsed = time.perf_counter() - t0
    if body["status"] != "success":
        raise RuntimeError(f"{q['panel']}: {body}")
    return elapsed, q["panel"], len(body["data"]["result"])


def load(url: str, queries: list[dict], concurrency: int) -> tuple[float, list]:
    end = time.time()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        timings = list(pool.map(lambda q: run_query(url, q, end), queries))
    return time.perf_counter() - t0, timings


def report(label: str, url: str, queries: list[dict], loads: int, concurrency: int) -> None:
    load(url, queries, concurrency)  # warm-up: the first load reads blocks into the page cache
    walls: list[float] = []
    slowest: dict[tuple[str, str], float] = {}
    for _ in range(loads):
        wall, timings = load(url, queries, concurrency)
        walls.append(wall)
        for (elapsed, panel, _), q in zip(timings, queries, strict=True):
            slowest[(panel, q["expr"])] = max(elapsed, slowest.get((panel, q["expr"]), 0))
    print(f"\n{label}: {len(queries)} queries, {concurrency} at a time, {loads} loads")
    print(f"  wall time per load: median {statistics.median(walls) * 1000:.0f} ms, max {max(walls) * 1000:.0f} ms")
    print("  slowest five queries (max over the loads):")
    for (panel, expr), t in sorted(slowest.items(), key=lambda kv: -kv[1])[:5]:
        print(f"    {t * 1000:7.1f} ms  {panel}: {expr[:110]}")


def alerting_rule_files() -> list[Path]:
    from components.alerting import rules as alerting

    return alerting.rule_files()


def chart_rule_file() -> Path:
    """The chart's recording groups the dashboard reads, from prod's releases as Helm renders
    them (the pinned charts in ../shared/charts)."""
    from offline import engine, manifests

    objects = [o for release in manifests.releases(engine.run("prod")) for o in release.objects]
    return chart_recording_rules(objects, Path(tempfile.mkdtemp(prefix="chart-rules-")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    rule_files = [*alerting_rule_files(), chart_rule_file()]
    queries = dashboard_queries()
    expand = raw_expander(rule_files)
    raw = [{**q, "expr": expand(q["expr"])} for q in queries]
    with SyntheticPrometheus(rule_files) as server:
        server.wait_for_rule_evaluation()
        f = server.figures
        print(
            f"synthetic cluster: {f['series']} series, {f['samples']:,} samples over 12 h; generated in "
            f"{f['generate_s']:.1f} s, loaded in {f['load_s']:.1f} s, recording rules backfilled in "
            f"{f['backfill_s']:.1f} s"
        )
        report("with recording rules (as deployed)", server.url, queries, args.loads, args.concurrency)
        report("without recording rules (raw PromQL)", server.url, raw, args.loads, args.concurrency)


if __name__ == "__main__":
    main()
