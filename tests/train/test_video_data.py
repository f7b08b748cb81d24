"""Video folder / manifest data: skips logged and counted, buckets, crops, frame-rate resampling,
decoding in DataLoader workers with files that break after the scan."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from kinema.pixels import tensor_to_frames
from kinema.train.buckets import Bucket
from kinema.train.video_data import (
    SkipLog,
    VideoClips,
    VideoDataConfig,
    find_videos,
    resampled_count,
    scan,
    source_indices,
    video_loader,
)
from video_files import frame_indices, make_dataset, write_indexed


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("videos") / "clips")


def test_scan_buckets_good_files_and_logs_and_counts_every_skip(folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kinema.data"):
        result = scan(folder)
    buckets = {c.item.path.name: c.bucket for c in result.clips}
    assert buckets == {
        "landscape.mp4": Bucket(17, 64, 112),  # 160x96 is nearest 16:9; 60 frames at 24 fps = 20 at 8 fps
        "portrait.mp4": Bucket(17, 96, 64),  # 72x112 is nearest 2:3; 30 frames at 12 fps = 20 at 8 fps
        "ntsc.mp4": Bucket(9, 64, 64),  # 40 frames at 29.97 fps = 11 at 8 fps
    }
    assert result.skip_counts() == {"unreadable": 2, "too short": 1, "no caption": 1}
    reasons = {s.path.name: s.reason for s in result.skipped}
    assert reasons == {"corrupt.mp4": "unreadable", "truncated.mp4": "unreadable", "short.mp4": "too short",
                       "uncaptioned.mp4": "no caption"}
    logged = [r.getMessage() for r in caplog.records if r.name == "kinema.data"]
    assert len(logged) == 4 and any("corrupt.mp4: unreadable" in m for m in logged)
    assert any("short.mp4: too short (5 frames at 8 fps = 5 at 8 fps; need 9)" in m for m in logged)
    ntsc = next(c for c in result.clips if c.item.path.name == "ntsc.mp4")
    assert ntsc.info.fps == pytest.approx(30000 / 1001) and ntsc.info.frames == 40


def test_manifests_csv_and_jsonl_with_missing_files(folder: Path, tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text(f"path,caption\n{folder / 'landscape.mp4'},from the csv\n{folder / 'gone.mp4'},lost\n")
    items, missing = find_videos(csv)
    assert [(i.path.name, i.caption) for i in items] == [("landscape.mp4", "from the csv")]
    assert [(m.path.name, m.reason) for m in missing] == [("gone.mp4", "missing")]
    jsonl = folder.parent / "data.jsonl"  # relative paths are relative to the manifest
    jsonl.write_text(json.dumps({"video": "clips/portrait.mp4", "text": "from the jsonl"}) + "\n\n"
                     + json.dumps({"path": "clips/sub/ntsc.mp4"}) + "\n")
    items, missing = find_videos(jsonl)
    assert [(i.path.name, i.caption) for i in items] == [("portrait.mp4", "from the jsonl"), ("ntsc.mp4", "a square gray clip")]
    assert scan(jsonl).skip_counts() == {}
    bad = tmp_path / "bad.csv"
    bad.write_text("name,caption\nx.mp4,y\n")
    with pytest.raises(ValueError, match="column path or video or file"):
        find_videos(bad)
    with pytest.raises(ValueError, match="allowed manifests: .csv, .jsonl"):
        find_videos(folder / "landscape.txt")


def test_resampling_picks_the_nearest_source_frames() -> None:
    assert source_indices(5, 4, 24, 8) == [5, 8, 11, 14]
    assert source_indices(0, 5, 12, 8) == [0, 2, 3, 5, 6]  # 1.5 source frames per output frame
    assert source_indices(0, 5, 4, 8) == [0, 1, 1, 2, 2]  # slower source: frames repeat
    assert resampled_count(60, 24, 8) == 20 and resampled_count(30, 12, 8) == 20 and resampled_count(3, 4, 8) == 5


def test_crops_have_the_bucket_length_and_the_resampled_frames(folder: Path) -> None:
    result = scan(folder)
    dataset = VideoClips(result.clips, VideoDataConfig(seed=7))
    starts = set()
    for epoch in range(4):
        dataset.set_epoch(epoch)
        for index, clip in enumerate(result.clips):
            sample = dataset[index]
            b = clip.bucket
            assert tuple(sample.pixels.shape) == (3, b.frames, b.height, b.width)
            expected = source_indices(sample.start, b.frames, clip.info.fps, 8.0)
            assert expected[-1] < clip.info.frames
            assert frame_indices(tensor_to_frames(sample.pixels)) == expected
            if clip.item.path.name == "landscape.mp4":
                starts.add(sample.start)
                assert expected == [sample.start + 3 * j for j in range(17)]  # 24 fps -> 8 fps: every third
    assert len(starts) > 1  # random temporal crops move between epochs
    again = VideoClips(result.clips, VideoDataConfig(seed=7))
    again.set_epoch(3)
    assert [again.start(i) for i in range(3)] == [dataset.start(i) for i in range(3)]  # deterministic by seed


def test_center_crop_keeps_the_middle(tmp_path: Path) -> None:
    # A 128x64 (2:1) source into the 112x64 bucket: columns 8..119 survive, so a red left edge is cut.
    pixels = np.zeros((9, 64, 128, 3), dtype=np.uint8)
    pixels[:, :, :6] = (220, 40, 40)
    pixels[:, :, 6:] = (40, 80, 230)
    from kinema.video import Video

    Video(pixels, 8).write(tmp_path / "wide.mp4")
    (tmp_path / "wide.txt").write_text("blue")
    result = scan(tmp_path)
    assert result.clips[0].bucket == Bucket(9, 64, 112)
    frames = tensor_to_frames(VideoClips(result.clips)[0].pixels)
    assert np.abs(frames[:, :, :2].astype(int) - (40, 80, 230)).max() < 12


def test_loader_workers_skip_a_file_broken_after_the_scan(folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    work = tmp_path / "copy"
    write_indexed(work / "a.mp4", 40, 64, 64, 8)
    write_indexed(work / "b.mp4", 40, 64, 64, 8)
    write_indexed(work / "c.mp4", 40, 96, 64, 8)
    result = scan(work)
    (work / "b.mp4").write_bytes(b"\x00" * 100)  # broken between the scan and the epoch
    dataset = VideoClips(result.clips, VideoDataConfig())
    skips = SkipLog()
    seen = []
    with caplog.at_level(logging.WARNING, logger="kinema.data"):
        for batch in video_loader(dataset, token_budget=10_000, workers=2):
            skips.add(batch.skipped)
            seen += [p.name for p in batch.paths]
            if len(batch):
                assert batch.pixels.shape[0] == len(batch.captions)
    assert sorted(seen) == ["a.mp4", "c.mp4"]
    assert skips.counts == {"unreadable": 1}
    assert any("b.mp4: unreadable" in r.getMessage() for r in caplog.records)


def test_bad_config_is_named() -> None:
    with pytest.raises(ValueError, match="min_frames"):
        VideoDataConfig(min_frames=40, max_frames=33)
    with pytest.raises(ValueError, match="no duration between"):
        VideoDataConfig(min_frames=34, max_frames=40).table()
    with pytest.raises(FileNotFoundError, match="no dataset"):
        find_videos(Path("/nonexistent/videos"))
