"""Benchmark: offline render of the prod stack vs the bare import of the SDKs it uses.

    venv/bin/python bench/render.py [--runs 5] [--stack prod]

Prints the median (and min/max) of warm in-process renders (mock engine, all resources
registered and resolved), the median of cold `import` of the SDK modules in a fresh
interpreter, and their ratio.  Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SDK_IMPORT = (
    "import pulumi, pulumi_kubernetes, pulumi_random, pulumiverse_grafana, "
    "pulumiverse_scaleway.kubernetes, pulumiverse_scaleway.network, pulumiverse_scaleway.elasticmetal, "
    "pulumiverse_scaleway.object, pulumiverse_scaleway.iam, pulumiverse_scaleway.ipam"
)


def time_import(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-W", "ignore", "-c", SDK_IMPORT], check=True)
        times.append(time.perf_counter() - start)
    return times


def time_render(stack: str, runs: int) -> tuple[list[float], int]:
    warnings.simplefilter("ignore")
    from offline import engine as offline

    offline.run(stack)  # warm-up: imports, bytecode, first registration
    times, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        result = offline.run(stack)
        times.append(time.perf_counter() - start)
        count = len(result.resources)
    return times, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stack", default="prod")
    args = parser.parse_args()
    imports = time_import(args.runs)
    renders, count = time_render(args.stack, args.runs)

    def ms(xs: list[float]) -> str:
        return f"median {statistics.median(xs) * 1000:7.1f} ms  (min {min(xs) * 1000:.1f}, max {max(xs) * 1000:.1f})"

    print(f"render of stack '{args.stack}' ({count} resources), warm, {args.runs} runs: {ms(renders)}")
    print(f"bare import of the SDK modules, fresh interpreter, {args.runs} runs: {ms(imports)}")
    print(f"ratio render / import: {statistics.median(renders) / statistics.median(imports):.2f}")


if __name__ == "__main__":
    main()
