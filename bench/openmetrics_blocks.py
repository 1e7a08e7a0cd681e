"""Synthetic samples as OpenMetrics text, one file per two-hour block, for
``promtool tsdb create-blocks-from openmetrics``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

BLOCK = 2 * 3600  # promtool cuts a block every two hours (its --max-block-duration default)


class Writer:
    """OpenMetrics text, one file per two-hour block: one series at a time, all of its samples
    in time order.  promtool re-reads its whole input for every block it cuts, so one file per
    block keeps a production-size import to one pass over the text."""

    def __init__(self, directory: Path, start: int):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.start = start
        self.files: dict[int, TextIO] = {}
        self.series_count = 0
        self.sample_count = 0

    def _file(self, block: int) -> TextIO:
        if block not in self.files:
            self.files[block] = (self.directory / f"{block}.om").open("w")
        return self.files[block]

    def lines(self, lines: list[tuple[int, str]]) -> None:
        """Sample lines of one series, each with its timestamp, in time order."""
        if not lines:
            return
        first = 0
        for i in range(1, len(lines) + 1):
            if i == len(lines) or lines[i][0] // BLOCK != lines[first][0] // BLOCK:
                self._file(lines[first][0] // BLOCK).writelines(text for _, text in lines[first:i])
                first = i
        self.series_count += 1
        self.sample_count += len(lines)

    @staticmethod
    def prefix(name: str, labels: dict) -> str:
        """A sample line's series part: ``name{labels} ``."""
        label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{label_text}}} " if labels else f"{name} "

    def series(self, name: str, labels: dict, points: Iterable[tuple[float, float]]) -> None:
        """points: iterable of (minute_float, value)."""
        prefix = self.prefix(name, labels)
        timed = [(self.start + int(minute * 60), value) for minute, value in points]
        self.lines([(ts, f"{prefix}{value:.12g} {ts}\n") for ts, value in timed])

    def close(self) -> list[Path]:
        for out in self.files.values():
            out.write("# EOF\n")
            out.close()
        return [Path(out.name) for _, out in sorted(self.files.items())]
