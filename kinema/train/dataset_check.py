"""Validate a video dataset before training: what would be used, in which bucket, and what would be
skipped and why (the same scan training and `kinema data cache` run, so the answer is exact).

Contract: `check_dataset(source, config)` returns a `DatasetReport` whose `rows` list every file
(used or skipped, reason, bucket, source size / fps / frames, caption) and whose `ok` is True when
every listed file is usable and there is at least one. `to_json()` is what `kinema data check
--json` prints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kinema.train.video_data import Scan, VideoDataConfig, scan


@dataclass(frozen=True)
class Row:
    path: str
    status: str  # "use" or "skip"
    reason: str  # skip reason (kinema.train.video_data.SKIP_REASONS), "" when used
    detail: str
    bucket: str  # WxHxF, "" when skipped
    source: str  # "WxH, N frames at F fps", "" when unreadable
    caption: str


@dataclass
class DatasetReport:
    source: Path
    config: VideoDataConfig
    rows: list[Row]

    @property
    def used(self) -> list[Row]:
        return [r for r in self.rows if r.status == "use"]

    @property
    def skipped(self) -> list[Row]:
        return [r for r in self.rows if r.status == "skip"]

    @property
    def ok(self) -> bool:
        return bool(self.used) and not self.skipped

    def skip_counts(self) -> Counter[str]:
        return Counter(r.reason for r in self.skipped)

    def bucket_counts(self) -> Counter[str]:
        return Counter(r.bucket for r in self.used)

    def seconds(self) -> float:
        """Usable seconds of video at the model frame rate (what training can draw crops from)."""
        return sum(int(r.bucket.split("x")[2]) for r in self.used) / self.config.fps

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "ok": self.ok,
            "used": len(self.used),
            "skipped": len(self.skipped),
            "skip_reasons": dict(self.skip_counts()),
            "buckets": dict(sorted(self.bucket_counts().items())),
            "config": asdict(self.config),
            "files": [asdict(r) for r in self.rows],
        }


def report_from_scan(source: Path, config: VideoDataConfig, result: Scan) -> DatasetReport:
    rows = [Row(str(c.item.path), "use", "", "", c.bucket.name, f"{c.info.width}x{c.info.height}, {c.info.frames} frames at {c.info.fps:g} fps",
                c.item.caption) for c in result.clips]
    rows += [Row(str(s.path), "skip", s.reason, s.detail, "", "", "") for s in result.skipped]
    return DatasetReport(Path(source), config, sorted(rows, key=lambda r: r.path))


def check_dataset(source: Path | str, config: VideoDataConfig = VideoDataConfig(), progress: bool = False) -> DatasetReport:
    return report_from_scan(Path(source), config, scan(source, config, progress=progress))
