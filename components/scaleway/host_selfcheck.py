#!/usr/bin/python3
"""trading-selfcheck: does this critical-path host run with the tuning it was declared with?

Shipped as /usr/local/sbin/trading-selfcheck by phase two.  It compares what the running kernel
reports with /etc/trading/expected.json (written by the same phase), writes the result for
node-exporter's textfile collector, and exits 1 when a check fails, so that the trading unit
(Requires= and After= trading-selfcheck.service) does not start on an untuned host.

Standard library only (the host's python3).  ``--root`` reads /proc and /sys under another
directory and ``--chronyc-output`` takes chronyc's answer from a file: the tests use both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

TEXTFILE = "/var/lib/prometheus/node-exporter/trading_selfcheck.prom"


def cpus(text: str) -> set[int]:
    found: set[int] = set()
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            found.update(range(int(lo), int(hi or lo) + 1))
    return found


def read(root: Path, path: str) -> str:
    try:
        return (root / path.lstrip("/")).read_text()
    except OSError:
        return ""


def check_kernel(root: Path, expected: dict) -> dict[str, str]:
    """Each check's failure ("" when it passes)."""
    failures: dict[str, str] = {}
    cmdline = read(root, "/proc/cmdline").split()
    missing = [a for a in expected["kernel_arguments"] if a not in cmdline]
    failures["cmdline"] = f"missing {' '.join(missing)}" if missing else ""
    isolated = cpus(read(root, "/sys/devices/system/cpu/isolated"))
    want = cpus(expected["isolated"])
    failures["isolated_cpus"] = "" if isolated == want else f"isolated {sorted(isolated)}, want {sorted(want)}"
    nohz = cpus(read(root, "/sys/devices/system/cpu/nohz_full").replace("(null)", ""))
    failures["nohz_full"] = "" if nohz == want else f"nohz_full {sorted(nohz)}, want {sorted(want)}"
    online = cpus(read(root, "/sys/devices/system/cpu/online"))
    failures["online_cpus"] = "" if len(online) == expected["online_cpus"] else f"{len(online)} CPUs online"
    wrong = []
    for core, sibling in expected.get("siblings", {}).items():
        text = read(root, f"/sys/devices/system/cpu/cpu{core}/topology/thread_siblings_list")
        if cpus(text) != {int(core), sibling}:
            wrong.append(f"cpu{core}:{text.strip()}")
    failures["smt_siblings"] = f"siblings not as modelled: {' '.join(wrong)}" if wrong else ""
    governors = sorted(root.glob("sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor"))
    slow = [g.parent.parent.name for g in governors if g.read_text().strip() != "performance"]
    failures["governor"] = (
        "no cpufreq governor to check" if not governors else (f"not performance: {' '.join(slow)}" if slow else "")
    )
    # An IRQ whose own mask holds only isolated CPUs is a managed per-CPU queue (NVMe): the
    # kernel keeps it on its CPU by design and it fires only when that CPU does I/O.
    stray = []
    for irq in sorted(root.glob("proc/irq/[0-9]*"), key=lambda p: int(p.name)):
        effective = cpus(read(root, f"/proc/irq/{irq.name}/effective_affinity_list"))
        mask = cpus(read(root, f"/proc/irq/{irq.name}/smp_affinity_list"))
        if effective & want and not mask <= want:
            stray.append(f"{irq.name}:{sorted(effective)}")
    failures["irq_affinity"] = f"IRQs on isolated CPUs: {' '.join(stray)}" if stray else ""
    meminfo = dict(line.split(":", 1) for line in read(root, "/proc/meminfo").splitlines() if ":" in line)
    pages = int(meminfo.get("HugePages_Total", "0").split()[0])
    size = meminfo.get("Hugepagesize", "").split()
    want_pages = expected["hugepages_1g"]
    good = pages == want_pages and (want_pages == 0 or size[:1] == ["1048576"])
    failures["hugepages"] = "" if good else f"{pages} pages of {' '.join(size)}, want {want_pages} of 1 GiB"
    thp = read(root, "/sys/kernel/mm/transparent_hugepage/enabled")
    failures["transparent_hugepages"] = "" if f"[{expected['thp']}]" in thp else f"THP {thp.strip()}"
    return failures


def tracking(output: str) -> dict[str, float | str]:
    """`chronyc -c tracking`: refid, name, stratum, ref time, system time offset, last offset,
    RMS offset, frequency, residual frequency, skew, root delay, root dispersion, update
    interval, leap status."""
    fields = output.strip().split(",")
    if len(fields) < 14:
        return {}
    return {
        "offset": float(fields[4]),
        "root_distance": float(fields[10]) / 2 + float(fields[11]),
        "leap": fields[13],
    }


def check_clock(chronyc: str, bound: float) -> tuple[dict[str, str], dict[str, float | str]]:
    clock = tracking(chronyc)
    if not clock:
        return {"clock_sync": "chronyc gave no tracking data"}, clock
    if clock["leap"] == "Not synchronised":
        return {"clock_sync": "chrony is not synchronised"}, clock
    error = abs(float(clock["offset"])) + float(clock["root_distance"])
    return {"clock_sync": "" if error <= bound else f"error bound {error:.6f}s > {bound:.6f}s"}, clock


def textfile(failures: dict[str, str], clock: dict[str, float | str], bound: float) -> str:
    lines = [
        "# HELP trading_host_selfcheck_ok Whether a check of the host's declared tuning passes (1) or not (0).",
        "# TYPE trading_host_selfcheck_ok gauge",
    ]
    for name, why in sorted(failures.items()):
        lines.append(f'trading_host_selfcheck_ok{{check="{name}"}} {0 if why else 1}')
    lines += [
        "# HELP trading_host_clock_offset_bound_seconds The clock error the stack allows (hostTuning).",
        "# TYPE trading_host_clock_offset_bound_seconds gauge",
        f"trading_host_clock_offset_bound_seconds {bound}",
    ]
    if clock:
        lines += [
            "# HELP trading_host_clock_offset_seconds chrony's estimate of the system clock's offset.",
            "# TYPE trading_host_clock_offset_seconds gauge",
            f"trading_host_clock_offset_seconds {clock['offset']}",
            "# HELP trading_host_clock_root_distance_seconds Root delay / 2 + root dispersion of chrony's source.",
            "# TYPE trading_host_clock_root_distance_seconds gauge",
            f"trading_host_clock_root_distance_seconds {clock['root_distance']}",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expected", default="/etc/trading/expected.json")
    parser.add_argument("--root", default="/")
    parser.add_argument("--textfile", default=TEXTFILE)
    parser.add_argument("--chronyc-output", help="read chronyc's CSV tracking answer from this file")
    args = parser.parse_args(argv)
    expected = json.loads(Path(args.expected).read_text())
    bound = expected["clock_bound_seconds"]
    if args.chronyc_output:
        chronyc = Path(args.chronyc_output).read_text()
    else:
        answer = subprocess.run(["chronyc", "-c", "tracking"], capture_output=True, text=True, check=False)
        chronyc = answer.stdout
    failures = check_kernel(Path(args.root), expected)
    clock_failures, clock = check_clock(chronyc, bound)
    failures.update(clock_failures)
    target = Path(args.textfile)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".prom.tmp")
    partial.write_text(textfile(failures, clock, bound))
    os.replace(partial, target)  # node-exporter never reads half a file
    for name, why in sorted(failures.items()):
        print(f"{'FAIL' if why else 'ok  '} {name}{': ' + why if why else ''}")
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
