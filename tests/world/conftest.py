"""Let tests/world's test modules share basenames with others (tests/diffusion/test_sample.py).

pytest's default "prepend" import mode imports rootless test files by basename, so a second
`test_sample` clashes with the first one in sys.modules. Around collecting each file here, free the
basename: forget a same-named module from elsewhere before ours is imported, and ours once it is
collected (collectors keep their own module objects, so nothing is lost either way).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent.resolve()


def _forget(stem: str, ours: bool) -> None:
    module = sys.modules.get(stem)
    if module is None:
        return
    is_ours = Path(getattr(module, "__file__", "") or "").resolve().parent == _HERE
    if is_ours == ours:
        del sys.modules[stem]


def pytest_collect_file(file_path: Path, parent: Any) -> None:
    if file_path.name.startswith("test_") and file_path.suffix == ".py":
        _forget(file_path.stem, ours=False)


def pytest_collectreport(report: Any) -> None:
    path = Path(report.nodeid.split("::")[0])
    if path.name.startswith("test_") and path.suffix == ".py" and "::" not in report.nodeid:
        _forget(path.stem, ours=True)
