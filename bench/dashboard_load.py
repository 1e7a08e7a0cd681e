"""Benchmark: load the infrastructure dashboard as Grafana does, over 12 hours of the synthetic
cluster at production size, on a real Prometheus.

    venv/bin/python -m bench.dashboard_load [--size 1] [--loads 5] [--concurrency 6]

The dataset: bench/synthetic_cluster.py with the production profile at ``--size`` (1: 20
permanent nodes of 16 CPUs, 800 live pods and 1,100 over the window, 150,000+ series at 30 s),
the recording rules backfilled over the 12 hours with ``promtool tsdb create-blocks-from rules``.

A load runs every Prometheus target of every panel of the prod dashboard, ``--concurrency`` at
a time (Grafana's browser keeps six requests in flight per host), each as Grafana's Prometheus
data source sends it: the step is the panel's interval from its max data points (its width in
pixels unless set) and its min interval (the data source's 30 s scrape interval unless set),
rounded as Grafana rounds; ``$__rate_interval`` is max(interval + scrape, 4 x scrape).
Printed: the cold load (Prometheus restarted, the page cache dropped where allowed) and the
warm loads (median and max), the slowest queries with their series counts, the rules'
evaluation time per group and the series they add — with the recording rules as deployed, and
with every recorded series expanded back into the raw PromQL it stands for.  Figures only.
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
from components.config import duration_seconds  # noqa: E402

RANGE = 12 * 3600
GRID_PX = 1880  # a 1920-pixel screen less the dashboard's margins: 24 columns
SCRAPE_S = 30  # the Prometheus data source's timeInterval (components/observability/grafana.py)
# Grafana's interval rounding (pkg/tsdb/intervalv2 RoundInterval, the Prometheus data source's
# calculatePrometheusInterval): at most the key -> the value, in seconds (12-hour ranges need no more).
ROUNDING = ((15, 10), (35, 30), (75, 60), (150, 120), (350, 300), (750, 600), (1500, 1200), (2700, 1800))
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


def grafana_interval(max_data_points: float, min_interval_s: int) -> int:
    """The step Grafana's Prometheus data source sends for a 12-hour range."""
    wanted = max(RANGE / max_data_points, min_interval_s)
    return next((rounded for limit, rounded in ROUNDING if wanted <= limit), 3600)


def prod_board() -> dict:
    """The prod dashboard as the program declares it."""
    warnings.simplefilter("ignore")
    from offline import engine as offline

    result = offline.run("prod")
    [board] = [json.loads(r.inputs["configJson"]) for r in result.of_type("grafana:oss/dashboard:Dashboard")]
    return board


def dashboard_queries(board: dict) -> list[dict]:
    """Every Prometheus target of a dashboard, as Grafana would send it."""
    queries = []
    for panel in board["panels"]:
        points = panel.get("maxDataPoints") or panel["gridPos"]["w"] / 24 * GRID_PX
        step = grafana_interval(points, round(duration_seconds(panel.get("interval") or f"{SCRAPE_S}s")))
        variables = {
            "$__rate_interval": f"{max(step + SCRAPE_S, 4 * SCRAPE_S)}s",
            "$__range": "12h",
            "$__interval": f"{step}s",
        }
        for target in panel.get("targets", []):
            if "expr" not in target:
                continue
            expr = target["expr"]
            for name, value in variables.items():
                expr = expr.replace(name, value)
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


def report(label: str, server: SyntheticPrometheus, queries: list[dict], loads: int, concurrency: int) -> None:
    dropped = server.restart(drop_caches=True)
    cold, _ = load(server.url, queries, concurrency)
    walls: list[float] = []
    slowest: dict[tuple[str, str], tuple[float, int]] = {}
    for _ in range(loads):
        wall, timings = load(server.url, queries, concurrency)
        walls.append(wall)
        for (elapsed, panel, series), q in zip(timings, queries, strict=True):
            key = (panel, q["expr"])
            slowest[key] = (max(elapsed, slowest.get(key, (0.0, 0))[0]), series)
    print(f"\n{label}: {len(queries)} queries, {concurrency} at a time")
    cache = "page cache dropped" if dropped else "page cache NOT dropped (not root)"
    print(f"  cold load (Prometheus restarted, {cache}): {cold * 1000:.0f} ms")
    print(
        f"  warm load, {loads} loads: median {statistics.median(walls) * 1000:.0f} ms, max {max(walls) * 1000:.0f} ms"
    )
    print("  slowest queries, warm (max over the loads):")
    for (panel, expr), (t, series) in sorted(slowest.items(), key=lambda kv: -kv[1][0])[:6]:
        print(f"    {t * 1000:7.1f} ms  {series:5d} series  {panel}: {' '.join(expr.split())[:100]}")


def rule_costs(server: SyntheticPrometheus) -> None:
    """Evaluation time per recording group (the last evaluation, at the data's end) and the
    series each group's rules add over the 12 hours."""
    f = server.figures
    print("\nrecording rules: evaluation time per group (at the data's end) and the series they add")
    for group in server.query("rules")["data"]["groups"]:
        records = [r["name"] for r in group["rules"] if r["type"] == "recording"]
        if not records:
            continue
        names = "|".join(re.escape(n) for n in records)
        series = server.query(
            "series", **{"match[]": f'{{__name__=~"{names}"}}', "start": str(f["start"]), "end": str(f["end"])}
        )
        print(f"  {group['name']:45s} {group['evaluationTime'] * 1000:7.1f} ms  {len(series['data']):6d} series")


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
    parser.add_argument("--size", type=float, default=1.0, help="production profile size (1: 20 nodes, 800 pods)")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument(
        "--baseline-board",
        type=Path,
        help="also load this dashboard JSON (an earlier render's build/prod/dashboards/*.json) as a 'before'",
    )
    args = parser.parse_args()
    rule_files = [*alerting_rule_files(), chart_rule_file()]
    queries = dashboard_queries(prod_board())
    expand = raw_expander(rule_files)
    raw = [{**q, "expr": expand(q["expr"])} for q in queries]
    with SyntheticPrometheus(rule_files, size=args.size) as server:
        server.wait_for_rule_evaluation(timeout=600)
        f = server.figures
        print(
            f"synthetic cluster, size {args.size}: {f['series']:,} series ({f.get('nodes', 3)} nodes, "
            f"{f.get('pods', 0):,} production pods, {f.get('pods_live_at_end', 0):,} live at the end), "
            f"{f['samples']:,} samples over 12 h at 30 s; generated in {f['generate_s']:.0f} s, imported in "
            f"{f['load_s']:.0f} s, recording rules backfilled in {f['backfill_s']:.0f} s"
        )
        rule_costs(server)
        report("with recording rules (as deployed)", server, queries, args.loads, args.concurrency)
        report("without recording rules (raw PromQL)", server, raw, args.loads, args.concurrency)
        if args.baseline_board:
            before = dashboard_queries(json.loads(args.baseline_board.read_text()))
            report(f"before: {args.baseline_board}", server, before, args.loads, args.concurrency)


if __name__ == "__main__":
    main()
