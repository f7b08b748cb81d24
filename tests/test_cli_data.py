"""`kinema data check` and `kinema data cache` on real MP4 folders."""

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kinema.cli import app

sys.path.insert(0, str(Path(__file__).parent / "train"))
from video_files import make_dataset, write_indexed  # noqa: E402

runner = CliRunner()


def said(result) -> str:  # type: ignore[no-untyped-def]
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("cli") / "clips")


def test_check_reports_used_and_skipped_files_with_reasons(videos: Path) -> None:
    result = runner.invoke(app, ["data", "check", str(videos)])
    assert result.exit_code == 1, result.output  # some files would be skipped
    assert "3 used, 4 skipped" in said(result)
    assert "would skip 4: no caption 1, too short 1, unreadable 2" in said(result)
    assert "112x64x17" in said(result) and "corrupt.mp4" in said(result)

    result = runner.invoke(app, ["data", "check", str(videos), "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["ok"] is False
    assert report["skip_reasons"] == {"unreadable": 2, "too short": 1, "no caption": 1}
    assert report["buckets"] == {"112x64x17": 1, "64x64x9": 1, "64x96x17": 1}
    files = {Path(f["path"]).name: f for f in report["files"]}
    assert files["short.mp4"]["reason"] == "too short" and files["landscape.mp4"]["bucket"] == "112x64x17"


def test_check_of_a_clean_folder_exits_0_and_bad_input_is_one_line(tmp_path: Path) -> None:
    write_indexed(tmp_path / "ok" / "a.mp4", 20, 64, 64, 8, "a clip")
    result = runner.invoke(app, ["data", "check", str(tmp_path / "ok"), "--max-frames", "17"])
    assert result.exit_code == 0, result.output
    assert "1 used, 0 skipped" in said(result) and "64x64x17" in said(result)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["data", "check", str(empty)])
    assert result.exit_code == 1 and "no videos found" in said(result)
    result = runner.invoke(app, ["data", "check", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no dataset at" in said(result) and "Traceback" not in said(result)
    result = runner.invoke(app, ["data", "check", str(tmp_path / "ok"), "--max-frames", "4"])
    assert result.exit_code == 2 and "min_frames" in said(result)


def test_cache_writes_bucket_shards_and_resumes(videos: Path, tiny_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "cache"
    args = ["data", "cache", str(videos), "-o", str(out), "--weights", str(tiny_weights), "--workers", "0", "--threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 shards written (3 clips)" in said(result) and "4 clips skipped" in said(result)
    assert "corrupt.mp4: unreadable" in said(result)  # each skip is logged
    assert sorted(p.stem for p in out.glob("shard_*.json")) == ["shard_112x64x17_00000", "shard_64x64x9_00000", "shard_64x96x17_00000"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "0 shards written" in said(result) and "3 already done" in said(result)
    result = runner.invoke(app, args[:-2] + ["--crops", "2"])
    assert result.exit_code == 2 and "other options" in said(result)
