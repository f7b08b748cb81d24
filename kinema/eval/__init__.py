"""KinemaBench: score any video against its prompt from pixels alone.

Public API:
- `score_video(video, prompt) -> Score`: per-category scores in [0, 1] (None where the prompt makes
  a category uncheckable) and `Score.overall`; `video` is a `kinema.video.Video`, uint8 frames
  (T, H, W, 3) or a path; `prompt` is text, a `Scene` or a scene dict.
- `analyze(frames, fps) -> Analysis`: what the pixels show (detections, tracks, shots, camera).
- `CATEGORIES`: the category names, in report order.
- `load_suite(name, subset)`, `run_suite(suite, make_video)`, `calibrate(suite)`: the benchmark
  (kinema.eval.suite, kinema.eval.bench); `kinema.eval.report` renders results.

Modules: detect (pixels -> objects per frame), track (objects -> tracks), camera (cuts, pan, zoom),
analyze (all of it), expect (prompt -> scene and applicable categories), metrics and motion (one
function per category; interactions: causality), score (the entry point), suite, bench, report.
"""

from kinema.eval.analyze import Analysis, analyze
from kinema.eval.expect import CATEGORIES
from kinema.eval.score import Score, score_video

__all__ = ["CATEGORIES", "Analysis", "Score", "analyze", "score_video"]
